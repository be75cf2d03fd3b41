"""failure_analysis: one primary category per crafted pair, and concrete sentences in details."""

from __future__ import annotations

import pyarrow as pa
import pytest

from chaos_llama.tools.evalset import EvalCase
from chaos_llama.tools.judges import failure_analysis
from chaos_llama.tools.judges.base import GoldResult
from judges_helpers import answer, fixture_db, run


@pytest.fixture(scope="module")
def con():
    c = fixture_db()
    yield c
    c.close()


def _fa(con, gold: str, gen: str | None, *, question="q", execute=True, **answer_kw):
    case = EvalCase(id="q", question=question, gold_sql=[gold])
    expected = [GoldResult(sql=gold, result=run(con, gold) if execute else None)]
    result = run(con, gen) if (execute and gen and not answer_kw) else None
    return failure_analysis.judge(case, generated=answer(gen, result, **answer_kw), expected=expected)


CASES = [
    ("correct", "SELECT name FROM customers WHERE region = 'EMEA'",
     "SELECT c.name FROM customers c WHERE c.region = 'EMEA'", "CORRECT", None),
    ("wrong literal", "SELECT name FROM customers WHERE region = 'EMEA'",
     "SELECT name FROM customers WHERE region = 'AMER'", "MISSING_OR_INCORRECT_FILTER",
     "gold filters customers.region = 'EMEA'; generated filters customers.region = 'AMER' instead"),
    ("dropped filter", "SELECT name FROM customers WHERE region = 'EMEA' AND vip",
     "SELECT name FROM customers WHERE vip", "MISSING_OR_INCORRECT_FILTER",
     "gold filters customers.region = 'EMEA'; generated has no filter on customers.region"),
    ("sum vs avg", "SELECT customer_id, SUM(amount) FROM orders GROUP BY customer_id",
     "SELECT customer_id, AVG(amount) FROM orders GROUP BY customer_id", "WRONG_AGGREGATION",
     "gold aggregates SUM(orders.amount); generated uses AVG(orders.amount) instead"),
    ("missing join", "SELECT c.region, SUM(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.region",
     "SELECT customer_id, SUM(amount) FROM orders GROUP BY customer_id", "MISSING_JOIN",
     "gold uses table customers; generated does not"),
    ("wrong table", "SELECT code FROM regions",
     "SELECT DISTINCT region FROM customers", "WRONG_TABLE", "gold uses table regions; generated does not"),
    ("grouping", "SELECT region, COUNT(*) FROM customers GROUP BY region",
     "SELECT region, vip, COUNT(*) FROM customers GROUP BY region, vip", "WRONG_GROUPING",
     "generated groups by customers.vip, which gold does not"),
    ("limit", "SELECT id, amount FROM orders ORDER BY amount DESC LIMIT 3",
     "SELECT id, amount FROM orders ORDER BY amount DESC LIMIT 5", "WRONG_ORDERING_OR_LIMIT", "gold LIMIT 3; generated LIMIT 5"),
    ("dates", "SELECT id FROM orders WHERE order_date >= DATE '2024-03-01'",
     "SELECT id FROM orders WHERE order_date >= DATE '2024-02-01'", "WRONG_DATE_HANDLING", "2024-03-01"),
    ("columns", "SELECT name, region FROM customers",
     "SELECT name, signup FROM customers", "WRONG_COLUMNS", "gold selects customers.region; generated does not"),
]


@pytest.mark.parametrize(("title", "gold", "gen", "category", "sentence"), CASES, ids=[c[0] for c in CASES])
def test_categories(con, title, gold, gen, category, sentence):
    verdict = _fa(con, gold, gen)
    assert verdict.value == category, verdict.rationale
    if sentence:
        flat = [s for k, lines in verdict.details.items() if isinstance(lines, list) for s in lines if isinstance(s, str)]
        assert any(sentence in s for s in flat), flat
    for aspect in ("tables", "joins", "columns", "filters", "literals", "aggregations", "group_by", "order_limit", "dates"):
        assert isinstance(verdict.details[aspect], list)


def test_result_level_categories(con):
    """With no SQL-level difference found, the result comparison names the failure."""
    gold = "SELECT id FROM orders"
    v = _fa(con, gold, "SELECT id FROM orders WHERE id < 0")
    assert v.value == "MISSING_OR_INCORRECT_FILTER"  # structure first
    assert v.details["result_reason"] == "EMPTY_RESULT"
    assert any("generated returns 0 row(s)" in s for s in v.details["result"])
    # same SQL shape, different data: only the result tells
    case = EvalCase(id="q", question="q", gold_sql=[gold])
    gen = answer("SELECT id FROM orders", pa.table({"id": [10, 11]}))
    v = failure_analysis.judge(case, generated=gen, expected=[GoldResult(sql=gold, result=run(con, gold))])
    assert v.value == "RESULT_MISSING_ROWS"


def test_no_sql_and_sql_error(con):
    assert _fa(con, "SELECT 1", None, status="NO_SQL", reason="ambiguous").value == "NO_SQL"
    v = _fa(con, "SELECT 1", "SELECT nope FROM t", status="FAILED", error="Binder Error")
    assert v.value == "SQL_ERROR" and "Binder Error" in v.rationale
    v = _fa(con, "SELECT 1", "SELECT * FROM (", execute=False)
    assert v.value == "SQL_ERROR"


def test_without_results_uses_sql_only(con):
    v = _fa(con, "SELECT name FROM customers WHERE region = 'EMEA'", "SELECT customers.name FROM customers WHERE 'EMEA' = region",
            execute=False)
    assert v.value == "CORRECT"
    v = _fa(con, "SELECT name FROM customers WHERE region = 'EMEA'", "SELECT name FROM customers", execute=False)
    assert v.value == "MISSING_OR_INCORRECT_FILTER"
    assert "result" not in v.details or not v.details["result"]
