"""Execution judge beyond the golden pairs: large results, answers without results, gold errors, details."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from chaos_llama.tools.errors import JudgeError
from chaos_llama.tools.evalset import EvalCase
from chaos_llama.tools.judges import execution
from chaos_llama.tools.judges.base import GoldResult
from chaos_llama.tools.judges.compare import compare_results
from chaos_llama.tools.judges.execution import order_matters
from judges_helpers import answer, as_genie

N = 200_000


@pytest.fixture(scope="module")
def big() -> pa.Table:
    rng = np.random.default_rng(42)
    return pa.table({
        "id": np.arange(N),
        "grp": rng.integers(0, 50, N),
        "x": rng.normal(size=N) * 1e3,
        "y": rng.random(N),
        "label": pa.array([f"L{i % 997}" for i in range(N)]),
        "day": pa.array(np.datetime64("2024-01-01") + rng.integers(0, 365, N).astype("timedelta64[D]")),
    })


def _case(question="How many?", **kw) -> EvalCase:
    return EvalCase(id="q", question=question, gold_sql=["SELECT 1"], **kw)


def test_large_equal_and_reordered(big):
    """200k x 6: a permuted copy is equal unordered and not equal when order matters."""
    perm = big.take(np.random.default_rng(1).permutation(N))
    assert compare_results(big, perm).equal
    ordered = compare_results(big, perm, ordered=True)
    assert not ordered.equal and ordered.reason == "WRONG_ORDER"
    assert compare_results(big, big, ordered=True).equal


def test_large_columns_renamed_and_shuffled(big):
    shuffled = big.select(["day", "label", "y", "x", "grp", "id"]).rename_columns(list("abcdef"))
    cmp = compare_results(big, shuffled)
    assert cmp.equal
    assert cmp.column_mapping == {"id": "f", "grp": "e", "x": "d", "y": "c", "label": "b", "day": "a"}


def test_large_one_value_changed(big):
    x = big.column("x").to_numpy().copy()
    x[123_456] += 1.0
    changed = big.set_column(2, "x", pa.array(x))
    cmp = compare_results(big, changed)
    assert not cmp.equal
    assert cmp.reason == "SINGLE_CELL_DIFFERENCE"
    assert cmp.missing_row_count == 1 and cmp.extra_row_count == 1
    assert cmp.missing_rows[0]["id"] == 123_456


def test_large_float_noise(big):
    rng = np.random.default_rng(7)
    noisy = big.set_column(2, "x", pa.array(big.column("x").to_numpy() * (1 + rng.normal(size=N) * 1e-9)))
    noisy = noisy.set_column(3, "y", pa.array(big.column("y").to_numpy() + rng.normal(size=N) * 1e-12))
    assert compare_results(big, noisy.take(rng.permutation(N))).equal
    too_noisy = big.set_column(2, "x", pa.array(big.column("x").to_numpy() * (1 + 1e-3)))
    assert not compare_results(big, too_noisy).equal


def test_large_dropped_rows(big):
    cmp = compare_results(big, big.slice(0, N - 3))
    assert not cmp.equal and cmp.reason == "RESULT_MISSING_ROWS" and cmp.missing_row_count == 3
    assert len(cmp.missing_rows) == 3


def test_genie_strings_large():
    """Genie's all-string answers of a typed gold compare equal (numbers, scientific notation, dates)."""
    rng = np.random.default_rng(3)
    n = 20_000
    gold = pa.table({"k": np.arange(n), "v": rng.random(n) * 1e9, "d": pa.array(
        np.datetime64("2024-01-01") + rng.integers(0, 30, n).astype("timedelta64[D]"))})
    genie = as_genie(gold)
    assert any("E" in s for s in genie.column("v").to_pylist()), "fixture should exercise scientific notation"
    assert compare_results(gold, genie).equal


def test_no_sql_and_errors_are_false_not_raised():
    gold = [GoldResult(sql="SELECT 1", result=pa.table({"a": [1]}))]
    v = execution.judge(_case(), generated=answer(None, None, status="NO_SQL", reason="clarification needed"),
                        expected=gold)
    assert v.value is False and v.details["reason"] == "NO_SQL" and "clarification" in v.rationale
    v = execution.judge(_case(), generated=answer("SELECT x", None, status="FAILED", error="column x not found"),
                        expected=gold)
    assert v.value is False and v.details["reason"] == "SQL_ERROR" and "column x" in v.rationale


def test_gold_errors_are_reported_with_an_answer_that_has_no_result():
    """A refusal (NO_SQL) or a failed answer still shows which gold queries failed; with no gold
    result at all there is nothing to judge against (value None, the gold error named)."""
    failed = GoldResult(sql="SELECT nope", error="Binder Error: nope")
    ok = GoldResult(sql="SELECT 1", result=pa.table({"a": [1]}))
    refusal = answer(None, None, status="NO_SQL", reason="cannot answer")
    v = execution.judge(_case(), generated=refusal, expected=[failed])
    assert v.value is None and "nope" in v.error and "nope" in v.rationale
    assert v.details["gold_errors"] == ["gold #0: Binder Error: nope"] and v.details["reason"] == "NO_SQL"
    v = execution.judge(_case(), generated=refusal, expected=[failed, ok])
    assert v.value is False and v.details["gold_errors"] == ["gold #0: Binder Error: nope"]


def test_gold_errors_give_no_value():
    v = execution.judge(_case(), generated=answer("SELECT 1", pa.table({"a": [1]})),
                        expected=[GoldResult(sql="SELECT nope", error="Binder Error: nope")])
    assert v.value is None and "nope" in v.error


def test_bad_tolerance_is_a_config_error():
    with pytest.raises(JudgeError, match="tolerances"):
        execution.judge(_case(), generated=answer("SELECT 1", pa.table({"a": [1]})),
                        expected=[GoldResult(sql="SELECT 1", result=pa.table({"a": [1]}))], rel_tol=-1)


def test_ignore_duplicates_option():
    gold = pa.table({"a": [1, 1, 2]})
    gen = pa.table({"a": [1, 2]})
    assert compare_results(gold, gen).reason == "DUPLICATES_DIFFER"
    assert compare_results(gold, gen, ignore_duplicates=True).equal


def test_extra_columns_can_be_refused():
    gold = pa.table({"a": [1, 2]})
    gen = pa.table({"a": [1, 2], "b": ["x", "y"]})
    assert compare_results(gold, gen).equal
    cmp = compare_results(gold, gen, allow_extra_columns=False)
    assert not cmp.equal and cmp.reason == "RESULT_EXTRA_COLUMNS" and cmp.extra_columns == ["b"]


def test_column_type_difference():
    gold = pa.table({"d": pa.array([dt.date(2024, 1, 1)] * 2)})
    gen = pa.table({"d": ["soon", "later"]})
    cmp = compare_results(gold, gen)
    assert cmp.reason == "COLUMN_TYPE_DIFFERENCE" and "d" in cmp.column_types


@pytest.mark.parametrize(
    ("question", "flag", "sql", "want"),
    [
        ("What are the top 3 products?", None, "SELECT a FROM t ORDER BY a DESC LIMIT 3", True),
        ("List products ranked by sales", None, "SELECT a FROM t ORDER BY a", True),
        ("List products", None, "SELECT a FROM t ORDER BY a", False),
        ("List products", True, "SELECT a FROM t ORDER BY a", True),
        ("What are the top 3 products?", False, "SELECT a FROM t ORDER BY a", False),
        ("What are the top 3 products?", True, "SELECT a FROM t", False),
        ("Show each customer's first name", None, "SELECT a FROM t ORDER BY a", False),
        ("Which was the first order?", None, "WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a", True),
        ("Highest paid", None, "SELECT a FROM (SELECT a FROM t ORDER BY a) s", False),
    ],
)
def test_order_matters(question, flag, sql, want):
    assert order_matters(_case(question, order_matters=flag), sql) is want


def test_multiple_golds_name_the_match():
    golds = [GoldResult(sql="SELECT 1", result=pa.table({"a": [1]})),
             GoldResult(sql="SELECT 2", error="boom"),
             GoldResult(sql="SELECT 3", result=pa.table({"a": [3]}))]
    v = execution.judge(_case(), generated=answer("SELECT 3", pa.table({"z": ["3"]})), expected=golds)
    assert v.value is True and v.details["matched_gold"] == 2
    v = execution.judge(_case(), generated=answer("SELECT 4", pa.table({"z": [4]})), expected=golds)
    assert v.value is False and v.details["closest_gold"] in (0, 2)
    assert v.details["reason"] == "SINGLE_CELL_DIFFERENCE"


# ---------------------------------------------------------------- numeric tolerance
def _judge_numbers(gold_sql: str, gold: list, gen_sql: str, gen: list, **opts):
    return execution.judge(_case(), generated=answer(gen_sql, pa.table({"v": gen})),
                           expected=[GoldResult(sql=gold_sql, result=pa.table({"avg": gold}))], **opts)


def test_rounded_answer_equals_unrounded_gold_and_the_verdict_says_why():
    """The issue's pair: ROUND(x, 2) = 1765.88 answers a gold 1765.875 (they agree at the answer's
    precision); the tolerance in force is in the details and the rounding in the rationale."""
    v = _judge_numbers("SELECT AVG(x) FROM t", [1765.875], "SELECT ROUND(AVG(x), 2) FROM t", [1765.88])
    assert v.value is True, v.rationale
    assert v.details["rounded_columns"] == {"avg": 2} and "'avg' at 2 decimals" in v.rationale
    assert v.details["tolerance"] == {"rel_tol": 1e-6, "abs_tol": 1e-9, "precision": True, "decimals": None}
    off = _judge_numbers("SELECT AVG(x) FROM t", [1765.875], "SELECT ROUND(AVG(x), 2) FROM t", [1765.89])
    assert off.value is False and "tolerance" in off.details
    strict = _judge_numbers("SELECT AVG(x) FROM t", [1765.875], "SELECT ROUND(AVG(x), 2) FROM t", [1765.88],
                            precision=False)
    assert strict.value is False and strict.details["tolerance"]["precision"] is False


def test_digits_alone_do_not_make_a_value_rounded():
    """3.3 (a sum that happens to have one decimal) and 3.31 differ; so do 2.4 and a truncated 2."""
    assert _judge_numbers("SELECT SUM(p) FROM t", [3.3], "SELECT SUM(p) + 0.01 FROM t", [3.31]).value is False
    assert _judge_numbers("SELECT AVG(p) FROM t", [2.4], "SELECT SUM(p) // COUNT(*) FROM t", [2]).value is False
    assert _judge_numbers("SELECT AVG(p) FROM t", [2.4], "SELECT ROUND(AVG(p)) FROM t", [2.0]).value is True


def test_rounding_on_both_sides_compares_at_the_fewer_decimals():
    gold_sql = "SELECT ROUND(AVG(x), 3) FROM t"
    assert _judge_numbers(gold_sql, [12.346], "SELECT ROUND(AVG(x), 2) FROM t", [12.35]).value is True
    assert _judge_numbers(gold_sql, [12.344], "SELECT ROUND(AVG(x), 2) FROM t", [12.35]).value is False
    # same precision: no rounding slack at all
    assert _judge_numbers(gold_sql, [12.346], "SELECT ROUND(AVG(x), 3) FROM t", [12.347]).value is False


def test_rounding_holds_on_genie_strings_and_large_results(monkeypatch):
    """Genie sends numbers as text, and results above LARGE_ROWS take other paths: same verdicts."""
    from chaos_llama.tools.judges import compare

    rng = np.random.default_rng(3)
    x = rng.random(500) * 1000
    gold = pa.table({"k": np.arange(500), "avg": x})
    gen = pa.table({"k": np.arange(500), "v": np.round(x, 2)}).take(rng.permutation(500))
    rounding = execution.output_rounding("SELECT k, ROUND(v, 2) AS v FROM t")
    for table in (gen, as_genie(gen)):
        assert compare_results(gold, table, generated_rounding=rounding).equal
        assert not compare_results(gold, table).equal  # without the SQL's rounding, no slack
    monkeypatch.setattr(compare, "LARGE_ROWS", 50)
    cmp = compare_results(gold, gen, generated_rounding=rounding)
    assert cmp.equal and cmp.rounded_columns == {"avg": 2}
