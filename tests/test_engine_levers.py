"""The local engine is sensitive to the space's metadata: each lever turns a wrong/unanswered
question into a correct one. One test per lever; each asserts the before AND the after."""

from __future__ import annotations

import pytest

from chaos_llama.tools.backends.base import Backend
from chaos_llama.tools.backends.local import LocalGenie
from engine_helpers import (
    CUSTOMERS,
    CUSTOMERS_REGIONS,
    PRODUCTS,
    SALES,
    SALES_CUSTOMERS,
    SALES_PRODUCTS,
    rows,
    shop_db,
    space,
    sparse_doc,
    with_column,
    with_instruction,
)


@pytest.fixture(scope="module")
def genie() -> LocalGenie:
    return LocalGenie(shop_db())


def gold(genie: LocalGenie, sql: str, doc) -> list[tuple]:
    return rows(genie.execute(sql, space=space(doc)))


def correct(genie: LocalGenie, doc, question: str, gold_sql: str) -> bool:
    answer = genie.ask_sync(space(doc), question)
    return answer.status == "COMPLETED" and rows(answer.result) == gold(genie, gold_sql, doc)


def test_local_genie_is_a_backend(genie):
    """LocalGenie satisfies the Backend protocol and its identity is stable and names the strategy."""
    assert isinstance(genie, Backend)
    assert genie.identity() == LocalGenie(shop_db()).identity()
    assert "retrieval" in genie.identity()


def test_synonym_lever(genie):
    """'revenue' names no column until the column `amt` gets the synonym 'revenue'."""
    q, g = "What is the total revenue?", "SELECT SUM(amt) FROM main.shop.sales"
    before = genie.ask_sync(space(sparse_doc()), q)
    assert before.status == "NO_SQL" and "revenue" in before.reason
    doc = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue", "sales"])
    assert correct(genie, doc, q, g)


def test_description_lever(genie):
    """A column description is read too: 'turnover' links through it."""
    q, g = "total turnover", "SELECT SUM(amt) FROM main.shop.sales"
    assert genie.ask_sync(space(sparse_doc()), q).status == "NO_SQL"
    doc = with_column(sparse_doc(), SALES, "amt", description=["Net turnover of the sale in EUR."])
    assert correct(genie, doc, q, g)


def test_join_spec_lever(genie):
    """Join specs first, key inference second: without a spec the join is inferred from the keys
    (and the grounding says so); a join spec replaces the inference."""
    base = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue"])
    base = with_column(base, PRODUCTS, "cat_nm", synonyms=["category"])
    q = "total revenue by category"
    g = "SELECT p.cat_nm, SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id GROUP BY 1"
    before = genie.ask_sync(space(base), q)
    assert before.status == "COMPLETED" and rows(before.result) == gold(genie, g, base)
    assert before.details["grounding"]["joins"] == ["inferred:sales.prod_id=products.prod_id"]
    doc = with_instruction(base, "join_specs", SALES_PRODUCTS)
    after = genie.ask_sync(space(doc), q)
    assert after.status == "COMPLETED" and rows(after.result) == gold(genie, g, doc)
    assert after.details["grounding"]["joins"] == ["instructions.join_specs[0]"], after.details


def test_tables_no_key_links_are_refused():
    """Two tables that neither a join spec nor a shared key links: NO_SQL naming the join spec lever."""
    con = shop_db()
    con.execute("CREATE TABLE targets(cat_label VARCHAR, goal DOUBLE)")
    con.execute("INSERT INTO targets VALUES ('Gadgets', 100), ('Toys', 50)")
    doc = sparse_doc()
    doc["data_sources"]["tables"].append({"identifier": "main.shop.targets"})
    doc = with_column(doc, SALES, "amt", synonyms=["revenue"])
    a = LocalGenie(con).ask_sync(space(doc), "total revenue by cat label")
    assert a.status == "NO_SQL" and "join spec" in a.reason, a


def test_entity_matching_lever(genie):
    """A data value in the question is only recognised on columns with entity matching."""
    base = with_instruction(with_column(sparse_doc(), SALES, "amt", synonyms=["revenue"]), "join_specs", SALES_PRODUCTS)
    q = "What is the total revenue for toys?"
    g = ("SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
         "WHERE p.cat_nm = 'Toys'")
    before = genie.ask_sync(space(base), q)
    assert before.status == "NO_SQL" and "toys" in before.reason  # never answered for all categories
    doc = with_column(base, PRODUCTS, "cat_nm", enable_entity_matching=True)
    assert correct(genie, doc, q, g)
    spans = genie.ask_sync(space(doc), q).details["grounding"]["spans"]
    assert any(s.get("value") == "Toys" and s["kind"] == "filter" for s in spans), spans


def test_example_sql_lever(genie):
    """A business rule (active = stat_cd 'A') is learnt from an example SQL, with its year slot refilled."""
    q = "How many active customers bought something in 2024?"
    g = ("SELECT COUNT(DISTINCT c.cust_id) FROM main.shop.customers c JOIN main.shop.sales s ON s.cust_id = c.cust_id "
         "WHERE c.stat_cd = 'A' AND YEAR(s.sale_dt) = 2024")
    base = with_instruction(sparse_doc(), "join_specs", SALES_CUSTOMERS)
    assert not correct(genie, base, q, g)
    doc = with_instruction(base, "example_question_sqls", {
        "question": ["How many active customers bought something in 2023?"],
        "sql": ["SELECT COUNT(DISTINCT c.cust_id) AS active_buyers FROM main.shop.customers c ",
                "JOIN main.shop.sales s ON s.cust_id = c.cust_id WHERE c.stat_cd = 'A' AND YEAR(s.sale_dt) = 2023"]})
    answer = genie.ask_sync(space(doc), q)
    assert answer.status == "COMPLETED" and rows(answer.result) == gold(genie, g, doc)
    assert answer.details["source"] == "example" and answer.details["slots"] == {"2023": 2024}


def test_measure_snippet_lever(genie):
    """A measure snippet defines 'units sold'; with it the question is answered with its SQL."""
    q = "units sold by product"
    g = "SELECT p.prod_nm, SUM(s.qty) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id GROUP BY 1"
    base = with_instruction(sparse_doc(), "join_specs", SALES_PRODUCTS)
    assert not correct(genie, base, q, g)
    doc = with_instruction(base, "measures", {"alias": "units_sold", "display_name": "Units sold",
                                              "sql": ["SUM(sales.qty)"], "synonyms": ["units"]})
    assert correct(genie, doc, q, g)


def test_filter_snippet_lever(genie):
    """A filter snippet named in the question is applied."""
    q = "How many active customers are there?"
    g = "SELECT COUNT(*) FROM main.shop.customers WHERE stat_cd = 'A'"
    assert not correct(genie, sparse_doc(), q, g)
    doc = with_instruction(sparse_doc(), "filters", {"display_name": "active customers", "sql": ["customers.stat_cd = 'A'"],
                                                     "synonyms": ["active"]})
    assert correct(genie, doc, q, g)


def test_excluded_column_is_never_used(genie):
    """`exclude: true` hides a column: not linked even when its name matches best, never in SQL."""
    base = with_column(sparse_doc(), SALES, "amt", synonyms=["amount"])
    q = "total amount"
    # 'amount' also names amt_legacy ("amt legacy" -> amount legacy); the synonym on amt is exact
    doc = with_column(base, SALES, "amt_legacy", exclude=True)
    answer = genie.ask_sync(space(doc), q)
    assert answer.status == "COMPLETED" and "amt_legacy" not in answer.sql
    only_legacy = with_column(sparse_doc(), SALES, "amt", exclude=True)
    only_legacy = with_column(only_legacy, SALES, "amt_legacy", exclude=True)
    answer = genie.ask_sync(space(only_legacy), "total amt")
    assert answer.status == "NO_SQL" and "amt" in answer.reason


def test_excluded_column_not_used_for_entity_values(genie):
    """An excluded column's values are not matched even with entity matching switched on: the value
    is left ungrounded and named, never silently dropped."""
    doc = with_column(with_column(sparse_doc(), SALES, "amt", synonyms=["revenue"]), PRODUCTS, "cat_nm",
                      enable_entity_matching=True, exclude=True)
    doc = with_instruction(doc, "join_specs", SALES_PRODUCTS)
    answer = genie.ask_sync(space(doc), "total revenue for toys")
    assert answer.status == "NO_SQL" and answer.sql is None
    assert answer.details["grounding"]["ungrounded"] == ["toys"]


def test_honest_no_sql_names_what_is_missing(genie):
    """Nothing matches: sql=None and a reason naming the missing terms; the grounding lists them
    with the kind of lever a proposer could add."""
    doc = with_instruction(sparse_doc(), "example_question_sqls", {
        "question": ["How many customers are there?"], "sql": ["SELECT COUNT(*) FROM main.shop.customers"]})
    answer = genie.ask_sync(space(doc), "What is the average profit margin?")
    assert answer.status == "NO_SQL" and answer.sql is None
    assert "profit" in answer.reason and "margin" in answer.reason
    grounding = answer.details["grounding"]
    assert grounding["ungrounded"] == ["profit", "margin"]
    assert {m["words"] for m in grounding["missing"]} == {"profit", "margin"}


def test_entity_value_through_join_chain(genie):
    """Region names live in `regions`; two declared joins reach them from sales."""
    doc = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue"])
    doc = with_column(doc, "main.shop.regions", "rgn_nm", enable_entity_matching=True)
    for j in (SALES_CUSTOMERS, CUSTOMERS_REGIONS):
        doc = with_instruction(doc, "join_specs", j)
    g = ("SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.customers c ON s.cust_id = c.cust_id "
         "JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd WHERE r.rgn_nm = 'Western Europe'")
    assert correct(genie, doc, "revenue in western europe", g)
    assert CUSTOMERS in genie.ask_sync(space(doc), "revenue in western europe").sql


def test_schema_link_shapes(genie):
    """Simple shapes from schema links alone: count with date filter, top-N, group by month."""
    doc = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue"])
    doc = with_instruction(doc, "join_specs", SALES_PRODUCTS)
    cases = {
        "How many sales in March 2024?": "SELECT COUNT(*) FROM main.shop.sales WHERE sale_dt BETWEEN '2024-03-01' AND '2024-03-31'",
        "How many sales were there in Q1 2024?": "SELECT COUNT(*) FROM main.shop.sales WHERE YEAR(sale_dt) = 2024 AND QUARTER(sale_dt) = 1",
        "top 2 products by revenue": "SELECT p.prod_nm, SUM(s.amt) r FROM main.shop.sales s JOIN main.shop.products p "
                                     "ON s.prod_id = p.prod_id GROUP BY 1 ORDER BY r DESC LIMIT 2",
        "average revenue in 2023": "SELECT AVG(amt) FROM main.shop.sales WHERE YEAR(sale_dt) = 2023",
        "maximum qty": "SELECT MAX(qty) FROM main.shop.sales",
    }
    for q, g in cases.items():
        assert correct(genie, doc, q, g), (q, genie.ask_sync(space(doc), q))
