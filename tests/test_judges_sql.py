"""sql_valid and sql_equivalence on crafted queries against a small space."""

from __future__ import annotations

import pytest

from chaos_llama.tools.evalset import EvalCase
from chaos_llama.tools.judges import sql_equivalence, sql_valid
from chaos_llama.tools.judges.base import GoldResult
from chaos_llama.tools.space.model import ColumnConfig, Space, Table
from judges_helpers import answer


def _space() -> Space:
    cols = {
        "main.retail.customers": ["id", "name", "region", "vip", "signup"],
        "main.retail.orders": ["id", "customer_id", "amount", "price", "qty", "order_date", "status"],
        "main.retail.regions": [],  # columns unknown: not checked
    }
    space = Space(title="retail")
    space.serialized.data_sources.tables = [
        Table(identifier=t, column_configs=[ColumnConfig(column_name=c) for c in cs]) for t, cs in cols.items()
    ]
    return space


CASE = EvalCase(id="q", question="q", gold_sql=["SELECT 1"])


def _valid(sql, space=None, **kw):
    return sql_valid.judge(CASE, generated=answer(sql, None), expected=[], space=space, **kw)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name FROM customers",
        "SELECT c.name, o.amount FROM main.retail.customers c JOIN main.retail.orders o ON o.customer_id = c.id",
        "SELECT `Name` FROM retail.customers WHERE Region = 'EMEA'",
        "WITH big AS (SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY customer_id) "
        "SELECT b.total, c.name FROM big b JOIN customers c ON c.id = b.customer_id ORDER BY total DESC",
        "SELECT region, COUNT(*) AS n FROM customers GROUP BY region HAVING n > 1 ORDER BY n",
        "SELECT r.anything FROM regions r",
        "SELECT s.x FROM (SELECT id AS x FROM orders) s",
        "SELECT * FROM customers",
    ],
)
def test_valid_queries(sql):
    v = _valid(sql, _space())
    assert v.value is True, v.rationale


@pytest.mark.parametrize(
    ("sql", "reason", "fragment"),
    [
        ("SELECT name FROM customer", "UNKNOWN_TABLE", "Did you mean"),
        ("SELECT nme FROM customers", "UNKNOWN_COLUMN", "Did you mean 'name'"),
        ("SELECT c.amount FROM customers c", "UNKNOWN_COLUMN", "'c.amount'"),
        ("SELECT x FROM main.sales.customers", "UNKNOWN_TABLE", "main.sales.customers"),
        ("DELETE FROM customers", "UNSAFE_SQL", ""),
        ("SELECT 1; SELECT 2", "PARSE_ERROR", "statements"),
        ("SELEC name FROM", "PARSE_ERROR", ""),
    ],
)
def test_invalid_queries(sql, reason, fragment):
    v = _valid(sql, _space())
    assert v.value is False
    assert v.details["reason"] == reason, v.rationale
    assert fragment in v.rationale


def test_valid_without_space_and_without_sql():
    v = _valid("SELECT whatever FROM anywhere")
    assert v.value is True and v.details["references_checked"] is False
    v = _valid(None)
    assert v.value is False and v.details["reason"] == "NO_SQL"


def _equiv(gold, gen, space=None, **kw):
    return sql_equivalence.judge(CASE, generated=answer(gen, None), expected=[GoldResult(sql=g) for g in gold],
                                 space=space, **kw).value


def test_equivalence_uses_space_schema_to_qualify():
    gold = ["SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.qty > 1"]
    gen = "SELECT name, amount FROM orders JOIN customers ON customer_id = customers.id WHERE qty > 1"
    assert _equiv(gold, gen, _space()) is True
    assert _equiv(gold, gen) is False  # without a schema the unqualified columns cannot be placed


def test_equivalence_is_conservative():
    assert _equiv(["SELECT a FROM t LEFT JOIN u ON t.id = u.id"], "SELECT a FROM u LEFT JOIN t ON t.id = u.id") is False
    assert _equiv(["SELECT (a + b) * c FROM t"], "SELECT a + b * c FROM t") is False
    assert _equiv(["SELECT DISTINCT a FROM t"], "SELECT a FROM t GROUP BY a") is False


def test_equivalence_any_gold_and_errors():
    assert _equiv(["SELECT 1 FROM t", "SELECT x FROM t WHERE y = 2"], "SELECT x FROM t WHERE 2 = y") is True
    v = sql_equivalence.judge(CASE, generated=answer("SELECT * FROM (", None), expected=[GoldResult(sql="SELECT 1")])
    assert v.value is False and v.details["reason"] == "PARSE_ERROR"
    v = sql_equivalence.judge(CASE, generated=answer(None, None, status="NO_SQL"), expected=[GoldResult(sql="SELECT 1")])
    assert v.value is False
    v = sql_equivalence.judge(CASE, generated=answer("SELECT 1", None), expected=[GoldResult(sql="SELECT * FROM (")])
    assert v.value is None and v.error


def test_equivalence_in_postgres_dialect():
    gold = ["SELECT name FROM customers WHERE name ILIKE '%a%' AND id::text = '1'"]
    gen = "SELECT customers.name FROM customers WHERE CAST(id AS TEXT) = '1' AND name ILIKE '%a%'"
    assert _equiv(gold, gen, dialect="postgres") is True
