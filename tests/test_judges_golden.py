"""Golden pairs (tests/fixtures/judges/execution_pairs.sql) for the execution and sql_equivalence judges.

Both queries of a pair run on a small DuckDB fixture database; the execution judge must call them
equivalent or different as the file says, and so must sql_equivalence where the pair is marked.
"""

from __future__ import annotations

import pytest

from chaos_llama.tools.evalset import EvalCase
from chaos_llama.tools.judges import execution, sql_equivalence
from judges_helpers import FIXTURES, answer, as_genie, fixture_db, golds, load_pairs, run

PAIRS = load_pairs(FIXTURES / "execution_pairs.sql")
EQUIV_PAIRS = [p for p in PAIRS if "sql_equivalence" in p.headers]


@pytest.fixture(scope="module")
def con():
    c = fixture_db()
    yield c
    c.close()


def _case(p) -> EvalCase:
    h = p.headers
    groups = [[c.strip() for c in g.split(",") if c.strip()] for g in h.get("column_alternatives", "").split("|")]
    om = h.get("order_matters")
    return EvalCase(
        id=p.title, question=h.get("question", p.title), gold_sql=p.gold,
        order_matters=None if om is None else om == "true",
        column_alternatives=[g for g in groups if g],
    )


def _opts(p) -> dict:
    out = {}
    for kv in filter(None, (s.strip() for s in p.headers.get("opts", "").split(","))):
        k, _, v = kv.partition("=")
        v = v.strip()
        out[k.strip()] = int(v) if v.lstrip("-").isdigit() else {"true": True, "false": False}.get(v, v)
    return out


def test_golden_file_is_big_enough():
    assert len(PAIRS) >= 30
    assert len({p.title for p in PAIRS}) == len(PAIRS), "titles must be unique"
    assert sum(p.expect for p in PAIRS) >= 10 and sum(not p.expect for p in PAIRS) >= 10


@pytest.mark.parametrize("pair", PAIRS, ids=[p.title for p in PAIRS])
def test_execution_golden(pair, con):
    """The execution judge's verdict on each golden pair matches the file (and its reason code when given)."""
    result = run(con, pair.generated)
    if pair.headers.get("genie") == "true":
        result = as_genie(result)
    v = execution.judge(_case(pair), generated=answer(pair.generated, result), expected=golds(con, pair.gold), **_opts(pair))
    assert v.value is pair.expect, f"line {pair.line}: {v.rationale}\n{v.details}"
    assert v.rationale and "reason" in v.details
    if "reason" in pair.headers:
        assert v.details["reason"] == pair.headers["reason"], v.rationale
    if pair.expect:
        assert "matched_gold" in v.details and "column_mapping" in v.details


@pytest.mark.parametrize("pair", EQUIV_PAIRS, ids=[p.title for p in EQUIV_PAIRS])
def test_sql_equivalence_golden(pair):
    """sql_equivalence agrees with the file on pairs marked for it (False = not shown equivalent)."""
    want = pair.headers["sql_equivalence"] == "equivalent"
    v = sql_equivalence.judge(_case(pair), generated=answer(pair.generated, None),
                              expected=[execution.GoldResult(sql=s) for s in pair.gold])
    assert v.value is want, f"line {pair.line}: {v.rationale}\n{v.details}"
