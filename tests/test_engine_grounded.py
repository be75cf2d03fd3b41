"""The grounded offline engine (issue 16): every word that names data is grounded or the answer is
a refusal naming it; SQL is composed from measures x dimensions x filters through the join graph;
rules stated in the space apply; each answer carries its grounding. Each test checks results
against hand-written gold SQL executed on the same data."""

from __future__ import annotations

import datetime as dt
import doctest

import duckdb
import pytest

from chaos_llama.tools.backends.local import LocalGenie
from chaos_llama.tools.evalset import EvalCase
from chaos_llama.tools.generate import compose, dates, ground, lexicon, trace
from chaos_llama.tools.generate.dates import Calendar, find_time, resolve
from chaos_llama.tools.judges import execution
from chaos_llama.tools.judges.base import GoldResult
from engine_helpers import (
    CUSTOMERS,
    CUSTOMERS_REGIONS,
    PRODUCTS,
    SALES,
    SALES_CUSTOMERS,
    SALES_PRODUCTS,
    join,
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


def shop() -> dict:
    """The shop with the levers a curated space would have: synonyms, entity matching, joins."""
    doc = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue", "sales"])
    doc = with_column(doc, PRODUCTS, "cat_nm", synonyms=["category"], enable_entity_matching=True)
    doc = with_column(doc, CUSTOMERS, "stat_cd", synonyms=["status"])
    doc = with_column(doc, "main.shop.regions", "rgn_nm", enable_entity_matching=True, synonyms=["region"])
    for j in (SALES_PRODUCTS, SALES_CUSTOMERS):
        doc = with_instruction(doc, "join_specs", j)
    return doc


def same(genie: LocalGenie, doc: dict, question: str, gold: str) -> None:
    """The answer's result equals the gold's, judged like an eval run (extra columns allowed)."""
    a = genie.ask_sync(space(doc), question)
    assert a.status == "COMPLETED", (question, a.reason, a.details.get("grounding"))
    expected = [GoldResult(sql=gold, result=genie.execute(gold, space=space(doc)))]
    v = execution.judge(EvalCase(id="q", question=question, gold_sql=[gold]), generated=a, expected=expected)
    assert v.value, (question, a.sql, v.rationale)


def refused(genie: LocalGenie, doc: dict, question: str) -> dict:
    a = genie.ask_sync(space(doc), question)
    assert a.status == "NO_SQL" and a.sql is None, (question, a.sql)
    return a.details["grounding"]


# ---------------------------------------------------------------- composition
SHAPES = [
    ("total revenue by category",
     "SELECT p.cat_nm, SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id GROUP BY 1"),
    ("revenue for gadgets in 2024",
     "SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
     "WHERE p.cat_nm = 'Gadgets' AND YEAR(s.sale_dt) = 2024"),
    ("revenue excluding toys",
     "SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id WHERE p.cat_nm <> 'Toys'"),
    ("how many customers are in each region",
     "SELECT r.rgn_nm, COUNT(*) FROM main.shop.customers c JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd GROUP BY 1"),
    ("What share of revenue does each category make?",
     "SELECT p.cat_nm, 100.0 * SUM(s.amt) / SUM(SUM(s.amt)) OVER () FROM main.shop.sales s "
     "JOIN main.shop.products p ON s.prod_id = p.prod_id GROUP BY 1"),
    ("revenue growth by category from 2023 to 2024",
     "SELECT p.cat_nm, 100.0 * (SUM(CASE WHEN YEAR(s.sale_dt) = 2024 THEN s.amt END) - "
     "SUM(CASE WHEN YEAR(s.sale_dt) = 2023 THEN s.amt END)) / SUM(CASE WHEN YEAR(s.sale_dt) = 2023 THEN s.amt END) "
     "FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
     "WHERE YEAR(s.sale_dt) IN (2023, 2024) GROUP BY 1"),
    ("How many customers placed more than 1 sale?",
     "SELECT COUNT(*) FROM (SELECT s.cust_id FROM main.shop.sales s GROUP BY 1 HAVING COUNT(*) > 1) t"),
    ("top 1 product in each category by revenue",
     "WITH r AS (SELECT p.cat_nm, p.prod_nm, SUM(s.amt) v, ROW_NUMBER() OVER (PARTITION BY p.cat_nm "
     "ORDER BY SUM(s.amt) DESC) rn FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
     "GROUP BY 1, 2) SELECT cat_nm, prod_nm, v FROM r WHERE rn = 1"),
    ("Which products have a list prc above average?",
     "SELECT prod_nm FROM main.shop.products WHERE list_prc > (SELECT AVG(list_prc) FROM main.shop.products)"),
    ("average revenue per customer by region",
     "SELECT rgn_nm, AVG(v) FROM (SELECT c.cust_id, r.rgn_nm, SUM(s.amt) v FROM main.shop.sales s "
     "JOIN main.shop.customers c ON s.cust_id = c.cust_id JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd "
     "GROUP BY 1, 2) t GROUP BY 1"),
    ("monthly revenue in 2024",
     "SELECT DATE_TRUNC('MONTH', sale_dt), SUM(amt) FROM main.shop.sales WHERE YEAR(sale_dt) = 2024 GROUP BY 1"),
]


@pytest.mark.parametrize(("question", "gold"), SHAPES, ids=[q for q, _ in SHAPES])
def test_composed_shapes(genie, question, gold):
    """Breakdowns, filters, negation, counts through joins, share, growth, HAVING, per-group top-N,
    comparison with the average, average of per-entity values, time grains."""
    same(genie, shop(), question, gold)


def test_relative_periods_are_anchored_to_the_data(genie):
    """The data ends 2024-11-11: 'last year' is 2023 and 'the latest month' November 2024, whatever today is."""
    same(genie, shop(), "revenue last year", "SELECT SUM(amt) FROM main.shop.sales WHERE YEAR(sale_dt) = 2023")
    same(genie, shop(), "revenue in the latest month we have data for",
         "SELECT SUM(amt) FROM main.shop.sales WHERE sale_dt >= DATE'2024-11-01' AND sale_dt < DATE'2024-12-01'")


# ---------------------------------------------------------------- honesty
def test_ungrounded_words_are_named_with_the_missing_lever(genie):
    g = refused(genie, shop(), "total revenue by sales rep")
    assert g["ungrounded"] == ["rep"]
    assert g["missing"] == [{"kind": "term", "words": "rep"}]
    g = refused(genie, shop(), "revenue by warehouse")
    assert g["missing"][0] == {"kind": "dimension", "words": "warehouse"}


def test_values_match_whole_words_only():
    """A value made of common words ('In Store') never fires on a fragment ('stores in 2024')."""
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN chnl VARCHAR")
    con.execute("UPDATE sales SET chnl = CASE WHEN sale_id % 2 = 0 THEN 'In Store' ELSE 'Web' END")
    doc = with_column(shop(), SALES, "chnl", enable_entity_matching=True, synonyms=["channel"])
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), "revenue by category in 2024")
    assert a.status == "COMPLETED" and "chnl" not in a.sql
    a = g.ask_sync(space(doc), "in store revenue")
    assert a.status == "COMPLETED" and "'In Store'" in a.sql


def test_typos_are_corrected_and_reported(genie):
    a = genie.ask_sync(space(shop()), "reveneu by categroy")
    assert a.status == "COMPLETED"
    assert a.details["grounding"]["corrections"] == {"reveneu": "revenu", "categroy": "category"}


def test_filters_that_cannot_both_hold_are_refused(genie):
    doc = with_instruction(shop(), "filters", {"display_name": "active customers", "sql": ["customers.stat_cd = 'A'"]})
    doc = with_instruction(doc, "filters", {"display_name": "inactive customers", "sql": ["customers.stat_cd = 'I'"]})
    a = genie.ask_sync(space(doc), "how many active customers are inactive customers")
    assert a.status == "NO_SQL" and "cannot both hold" in a.reason


def test_unused_operator_words_and_numbers_refuse(genie):
    # a ratio of rows that meet a threshold on a measure is not composed: refused, naming it
    assert "ratio" in refused(genie, shop(), "ratio of customers with more than 2 sales to customers with 1 sale")["refused"]
    assert "starts with" in refused(genie, shop(), "customers whose name starts with A")["refused"]


def test_sums_over_repeated_rows_are_refused():
    """list_prc lives on products; summing it per customer would count a product once per sale."""
    g = LocalGenie(shop_db())
    doc = with_column(shop(), PRODUCTS, "list_prc", synonyms=["list price"])
    a = g.ask_sync(space(doc), "total list price by customer status")
    assert a.status == "NO_SQL" and "repeat" in a.reason, a


# ---------------------------------------------------------------- rules stated in the space
def test_measure_rule_from_a_snippet_instruction_applies_unless_the_question_filters_the_column(genie):
    doc = with_instruction(shop(), "filters", {"display_name": "active customers", "sql": ["customers.stat_cd = 'A'"]})
    doc = with_instruction(doc, "filters", {"display_name": "inactive customers", "sql": ["customers.stat_cd = 'I'"]})
    doc = with_instruction(doc, "measures", {"display_name": "Active revenue", "sql": ["SUM(sales.amt)"],
                                             "instruction": ["Combine with the active customers filter."]})
    base = ("SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.customers c ON s.cust_id = c.cust_id "
            "WHERE c.stat_cd = '{}'")
    same(genie, doc, "active revenue", base.format("A"))
    a = genie.ask_sync(space(doc), "active revenue")
    assert a.details["grounding"]["rules"] == [{"sql": "customers.stat_cd = 'A'", "entry": "instructions.sql_snippets.filters[0]"}]
    same(genie, doc, "active revenue of inactive customers", base.format("I"))


def test_text_instruction_rules_take_effect(genie):
    """A fiscal year start and rounding stated in prose change the SQL."""
    doc = with_instruction(shop(), "text_instructions", {"content": [
        "Our fiscal year starts on April 1 (FY2024 = 2024-04-01 to 2025-03-31). Amounts are rounded to one decimal."]})
    same(genie, doc, "revenue in FY2023",
         "SELECT ROUND(SUM(amt), 1) FROM main.shop.sales WHERE sale_dt >= DATE'2023-04-01' AND sale_dt < DATE'2024-04-01'")
    assert "fiscal" in refused(genie, shop(), "revenue in FY2023")["refused"]


def test_value_alias_from_an_instruction(genie):
    doc = with_instruction(shop(), "text_instructions", {"content": ["'the West' is Western Europe."]})
    same(genie, doc, "revenue in the west",
         "SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.customers c ON s.cust_id = c.cust_id "
         "JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd WHERE r.rgn_nm = 'Western Europe'")


# ---------------------------------------------------------------- the grounding trace
def test_grounding_names_the_metadata_each_word_matched(genie):
    a = genie.ask_sync(space(shop()), "revenue for gadgets by region")
    g = a.details["grounding"]
    spans = {s["text"]: s for s in g["spans"]}
    assert spans["revenue"]["entry"] == "data_sources.tables[main.shop.sales].column_configs[amt]"
    assert spans["gadgets"] == {**spans["gadgets"], "kind": "filter", "value": "Gadgets",
                                "entry": "data_sources.tables[main.shop.products].column_configs[cat_nm]"}
    assert spans["region"]["kind"] == "dimension"
    assert g["joins"] == ["instructions.join_specs[0]", "instructions.join_specs[1]", "inferred:customers.rgn_cd=regions.rgn_cd"] \
        or set(g["joins"]) == {"instructions.join_specs[0]", "instructions.join_specs[1]",
                               "inferred:customers.rgn_cd=regions.rgn_cd"}
    lines = trace.summarize(g)
    assert lines[0].startswith("grounded: 'revenue' -> measure") and len(lines) <= 4


def test_failure_analysis_shows_the_grounding(genie):
    from chaos_llama.tools.evalset import EvalCase
    from chaos_llama.tools.judges import failure_analysis

    a = genie.ask_sync(space(shop()), "revenue by warehouse")
    v = failure_analysis.judge(EvalCase(id="q", question="revenue by warehouse", gold_sql=["SELECT 1"]), generated=a,
                               expected=[])
    assert v.value == "NO_SQL" and any("warehouse" in line for line in v.details["grounding"])


# ---------------------------------------------------------------- units
def test_time_expressions():
    anchor, cal = dt.date(2025, 6, 30), Calendar(fiscal_start=2)
    spans = {t.text: resolve(t, anchor, cal) for t in find_time(
        "q3 2024 vs h1 2025 , the last full calendar year in the data , fy24 , 2025 ytd".split())}
    assert spans == {"q3 2024": (dt.date(2024, 7, 1), dt.date(2024, 10, 1)),
                     "h1 2025": (dt.date(2025, 1, 1), dt.date(2025, 7, 1)),
                     "last full calendar year in the data": (dt.date(2024, 1, 1), dt.date(2025, 1, 1)),
                     "fy24": (dt.date(2024, 2, 1), dt.date(2025, 2, 1)),
                     "2025 ytd": (dt.date(2025, 1, 1), dt.date(2025, 7, 1))}
    kinds = [(t.kind, t.grain) for t in find_time("month over month revenue by quarter in december".split())]
    assert kinds == [("compare", "month"), ("grain", "quarter"), ("month_of_year", "month")]


@pytest.mark.parametrize("text, expected", [
    ("march 15 , 2024", [("march 15 , 2024", None, "2024-03-15", "2024-03-16")]),
    ("the 4 th of july 2024", [("the 4 th of july 2024", None, "2024-07-04", "2024-07-05")]),
    ("between march 15 and april 15 2024", [("between march 15", "between", "2024-03-15", "2024-03-16"),
                                            ("and april 15 2024", "to", "2024-04-15", "2024-04-16")]),
    ("since the 1 st of march 2025", [("since the 1 st of march 2025", "since", "2025-03-01", "2025-03-02")]),
    ("q3 of 2024", [("q3 of 2024", None, "2024-07-01", "2024-10-01")]),
    ("top 15 products in march 2024", [("march 2024", None, "2024-03-01", "2024-04-01")]),
])
def test_days_written_out_and_quarters_of_a_year(text, expected):
    """Days written with a month name (before, only ISO dates were days: "orders on March 15, 2024" left "15"
    unused and "since the 1st of March 2025" was not read as a date at all); the first day of a range shares
    the last one's year; "Q3 of 2024" is the quarter."""
    got = [(t.text, t.bound, str(t.start), str(t.end)) for t in find_time(text.split())]
    assert got == expected
    con, doc = shop_db(), shop()
    assert answer_rows(con, doc, "total sales on March 8, 2024") == [(70.0,)]
    assert answer_rows(con, doc, "total sales since the 1st of August 2024") == [(65.0,)]
    fiscal = find_time("q3 of fiscal 2024".split())[0]
    assert resolve(fiscal, dt.date(2025, 6, 30), Calendar(fiscal_start=2)) == (dt.date(2024, 8, 1), dt.date(2024, 11, 1))


def test_doctests_of_the_engine_modules():
    for module in (compose, dates, ground, lexicon, trace):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_key_inference_links_a_tables_key_not_siblings():
    """order lines and returns both reference orders; they are joined through orders, never to each other."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders(ord_id INTEGER, amt DOUBLE)")
    con.execute("INSERT INTO orders VALUES (1, 10), (2, 20), (3, 30)")
    con.execute("CREATE TABLE lines(ord_id INTEGER, qty INTEGER)")
    con.execute("INSERT INTO lines VALUES (1, 1), (1, 2), (2, 5)")
    con.execute("CREATE TABLE returns(ret_id INTEGER, ord_id INTEGER, refund DOUBLE)")
    con.execute("INSERT INTO returns VALUES (7, 2, 4.0)")
    doc = {"version": 2, "data_sources": {"tables": [{"identifier": f"main.s.{t}"} for t in ("lines", "orders", "returns")]},
           "instructions": {"text_instructions": [], "example_question_sqls": []}}
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), "total qty of returns")
    assert a.status == "COMPLETED" and rows(a.result) == [(5,)], a.sql
    assert set(a.details["grounding"]["joins"]) == {"inferred:lines.ord_id=orders.ord_id",
                                                    "inferred:returns.ord_id=orders.ord_id"}


def test_a_value_of_two_columns_is_refused_unless_the_question_says_which():
    """Country names ground to ISO codes a column holds; 'DE' is both a customer's and a store's
    country, so the question must name which (never the first column silently)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE customers(cust_id INTEGER, country_cd VARCHAR)")
    con.execute("INSERT INTO customers VALUES (1, 'DE'), (2, 'US'), (3, 'DE')")
    con.execute("CREATE TABLE stores(store_id INTEGER, country_cd VARCHAR)")
    con.execute("INSERT INTO stores VALUES (10, 'DE'), (11, 'US')")
    con.execute("CREATE TABLE sales(sale_id INTEGER, cust_id INTEGER, store_id INTEGER, amt DOUBLE)")
    con.execute("INSERT INTO sales VALUES (1, 1, 11, 5.0), (2, 2, 10, 7.0), (3, 3, 11, 9.0)")
    cc = {"column_name": "country_cd", "description": ["ISO 3166-1 alpha-2 country code"]}
    doc = {"version": 2, "data_sources": {"tables": [
        {"identifier": "main.s.customers", "column_configs": [cc]}, {"identifier": "main.s.sales"},
        {"identifier": "main.s.stores", "column_configs": [cc]}]},
        "instructions": {"text_instructions": [], "example_question_sqls": []}}
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), "total amt in Germany")
    assert a.status == "NO_SQL" and "does not say which" in a.reason
    a = g.ask_sync(space(doc), "How many customers are based in Germany?")
    assert a.status == "COMPLETED" and rows(a.result) == [(2,)], a.sql
    a = g.ask_sync(space(doc), "total amt of stores in Germany")
    assert a.status == "COMPLETED" and rows(a.result) == [(7.0,)], a.sql
    a = g.ask_sync(space(doc), "How many customers are in the US?")  # "US" in capitals is the code, not "us"
    assert a.status == "COMPLETED" and rows(a.result) == [(1,)], a.sql


def test_abbreviated_column_names_ground_the_words_they_abbreviate():
    """Column names are read like a person reads a schema: `cust_seg` is "segment" (the common
    abbreviation table), `lylty_tier` is "loyalty tier" (a consonant skeleton keeps the word's
    letters in order), also when "loyalty" is a value elsewhere; a skeleton too short for the word
    ("lylty" is not "lottery") names nothing."""
    con = shop_db()
    con.execute("ALTER TABLE customers ADD COLUMN cust_seg VARCHAR")
    con.execute("ALTER TABLE customers ADD COLUMN lylty_tier VARCHAR")
    con.execute("UPDATE customers SET cust_seg = CASE WHEN cust_id % 2 = 0 THEN 'Retail' ELSE 'Corporate' END, "
                "lylty_tier = CASE WHEN cust_id % 3 = 0 THEN 'Gold' ELSE 'Silver' END")
    con.execute("INSERT INTO products VALUES (99, 'Card', 'Loyalty', 1.0)")
    g = LocalGenie(con)
    doc = shop()
    for question, column in (("how many customers in each segment", "cust_seg"),
                             ("number of customers by loyalty tier", "lylty_tier")):
        a = g.ask_sync(space(doc), question)
        assert a.status == "COMPLETED", (question, a.details.get("grounding"))
        expected = con.execute(f"SELECT {column}, COUNT(*) FROM customers GROUP BY 1 ORDER BY 1").fetchall()
        assert sorted(con.execute(a.sql.replace("main.shop.", "")).fetchall()) == expected, a.sql
    a = g.ask_sync(space(doc), "number of customers by lottery tier")
    assert a.status == "NO_SQL" and "lottery" in a.details["grounding"]["ungrounded"]


def test_consonant_skeletons():
    assert lexicon.is_skeleton_of("fmt", "format") and lexicon.is_skeleton_of("lylty", "loyalty")
    assert not lexicon.is_skeleton_of("seg", "segment")  # a vowel: a prefix, which only the table expands
    assert not lexicon.is_skeleton_of("rgn", "registration")  # too short for the word
    assert not lexicon.is_skeleton_of("fmt", "fragment")  # in order, but too short for the word


def test_a_rank_named_by_a_tables_participle_counts_that_tables_rows():
    """"Which 2 products get refunded most often?" ranks products by their number of refunds (the
    table the participle names), not by the space's sales measure; so does "the most refunded products"."""
    con = shop_db()
    con.execute("CREATE TABLE refunds(refund_id INTEGER, sale_id INTEGER)")
    con.execute("INSERT INTO refunds VALUES (1, 3), (2, 7), (3, 2)")
    doc = shop()
    doc["data_sources"]["tables"].append({"identifier": "main.shop.refunds"})
    g = LocalGenie(con)
    gold = ("SELECT p.prod_nm, COUNT(*) AS n FROM refunds r JOIN sales s ON s.sale_id = r.sale_id "
            "JOIN products p ON p.prod_id = s.prod_id GROUP BY 1 ORDER BY n DESC LIMIT 2")
    for question in ("Which 2 products get refunded most often?", "the 2 most refunded products"):
        a = g.ask_sync(space(doc), question)
        assert a.status == "COMPLETED", (question, a.details.get("grounding"))
        got = con.execute(a.sql.replace("main.shop.", "")).fetchall()
        assert [r[:2] for r in got] == con.execute(gold).fetchall() == [("Yo-yo", 2), ("Gizmo", 1)], a.sql


def test_a_rule_fixing_the_counted_rows_state_yields_to_a_passive_participle():
    """"Counts of sales are completed sales" holds for "how many sales in 2024", but "how many sales
    were refunded in 2024" states the rows' state itself (a passive participle naming the refunds
    table), so the rule does not apply, as when the question filters the status column."""
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN stat_cd VARCHAR")
    con.execute("UPDATE sales SET stat_cd = CASE WHEN sale_id IN (2, 3, 7) THEN 'R' ELSE 'C' END")
    con.execute("CREATE TABLE refunds(refund_id INTEGER, sale_id INTEGER)")
    con.execute("INSERT INTO refunds VALUES (1, 3), (2, 7), (3, 2)")
    doc = with_instruction(sparse_doc(), "text_instructions",
                           {"content": ["Counts of sales are computed only over rows where sales.stat_cd = 'C'."]})
    doc["data_sources"]["tables"].append({"identifier": "main.shop.refunds"})
    g = LocalGenie(con)
    for question, expected in (("How many sales were refunded in 2024?", 2), ("how many sales in 2024", 3)):
        a = g.ask_sync(space(doc), question)
        assert a.status == "COMPLETED", (question, a.details.get("grounding"))
        assert con.execute(a.sql.replace("main.shop.", "")).fetchall() == [(expected,)], a.sql


# ---------------------------------------------------------------- development phrasings (bench/retail_dev.yaml)
def bare_doc(*tables: str) -> dict:
    """A space of bare tables (no descriptions, synonyms or join specs), as a defog space starts."""
    return {"version": 1, "data_sources": {"tables": [{"identifier": f"main.shop.{t}"} for t in tables]}}


def bare_joined(parent: str, child: str, key: str) -> dict:
    """Two bare tables and the join spec by which each `child` row refers to its `parent` row on `key`."""
    return with_instruction(bare_doc(parent, child), "join_specs",
                            join(f"main.shop.{child}", f"main.shop.{parent}", f"`{child}`.`{key}` = `{parent}`.`{key}`"))


def plus_joined(doc: dict, table: str, child: str, parent: str, key: str) -> dict:
    """`doc` with bare `table` added and the join spec by which each `child` row refers to its `parent` row on `key`
    (`table` is one of the two)."""
    doc["data_sources"]["tables"].append({"identifier": f"main.shop.{table}"})
    return with_instruction(doc, "join_specs",
                            join(f"main.shop.{child}", f"main.shop.{parent}", f"`{child}`.`{key}` = `{parent}`.`{key}`"))


def answer_rows(con: duckdb.DuckDBPyConnection, doc: dict, question: str) -> list[tuple]:
    """The rows of the engine's answer to `question` on `con`; the engine must answer."""
    a = LocalGenie(con).ask_sync(space(doc), question)
    assert a.status == "COMPLETED", (question, a.reason)
    return con.execute(a.sql.replace("main.shop.", "")).fetchall()
def test_the_sum_of_a_column_the_space_defines_as_a_measure_keeps_that_measures_rule():
    """"total quantity sold in 2024" sums sales.qty, which the space defines as "Units sold"; the rule
    the space states for that measure (only completed sales) applies, as when it is named."""
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN stat_cd VARCHAR")
    con.execute("UPDATE sales SET stat_cd = CASE WHEN sale_id IN (4, 6) THEN 'X' ELSE 'C' END")
    doc = shop()
    doc.setdefault("instructions", {})["sql_snippets"] = {
        "measures": [{"id": "m1", "alias": "units_sold", "display_name": "Units sold", "sql": ["SUM(sales.qty)"]}]}
    doc = with_instruction(doc, "text_instructions",
                           {"content": ["Units sold mean units of completed sales only: sales.stat_cd = 'C'."]})
    g = LocalGenie(con)
    gold = "SELECT SUM(qty) FROM sales WHERE stat_cd = 'C' AND YEAR(sale_dt) = 2024"
    for question in ("total quantity sold in 2024", "units sold in 2024"):
        a = g.ask_sync(space(doc), question)
        assert a.status == "COMPLETED", (question, a.reason)
        assert con.execute(a.sql.replace("main.shop.", "")).fetchall() == con.execute(gold).fetchall() == [(8,)], a.sql


def test_rank_lists_the_entity_by_the_measure(genie):
    """"rank ... by revenue" ranks the named rows; it is not dropped into one total."""
    same(genie, shop(), "rank the customers by revenue",
         "SELECT c.cust_nm, SUM(s.amt) AS r FROM main.shop.sales s JOIN main.shop.customers c ON c.cust_id = s.cust_id "
         "GROUP BY c.cust_id, c.cust_nm ORDER BY r DESC")


def test_a_four_letter_word_is_not_read_as_another_word_one_letter_away(genie):
    """"bent" is a word, not a typo of "best": the question is refused, naming it, rather than ranked."""
    g = refused(genie, shop(), "which customers bent the average revenue")
    assert "bent" in g["ungrounded"] and "corrections" not in g


def test_everyday_names_of_customers_ground_to_the_customers_table(genie):
    same(genie, shop(), "how many clients do we have", "SELECT COUNT(*) FROM main.shop.customers")
    same(genie, shop(), "number of shoppers per region",
         "SELECT r.rgn_nm, COUNT(*) FROM main.shop.customers c JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd GROUP BY 1")
    # not a noun that also says what the rows did: "buyers" are customers who bought
    assert "buyers" in refused(genie, shop(), "how many buyers do we have")["ungrounded"]


def test_rows_counted_by_the_date_column_their_words_name():
    """"how many customers joined in 2024": the customers counted, dated by `joined_dt`, not a count of dates."""
    con = shop_db()
    con.execute("ALTER TABLE customers ADD COLUMN joined_dt DATE")
    con.execute("UPDATE customers SET joined_dt = CASE WHEN cust_id <= 2 THEN DATE '2023-05-01' ELSE DATE '2024-02-01' END")
    assert answer_rows(con, shop(), "how many customers joined in 2024") == [(3,)]


def test_a_column_of_year_numbers_serves_periods_and_year_grains_but_not_months():
    """Without a date column, `papers.year` (integers) holds periods of whole years and the year grain;
    months or a period shorter than a year are refused, not approximated."""
    con = duckdb.connect()
    con.execute("CREATE TABLE papers(paper_id INTEGER, title VARCHAR, year INTEGER)")
    con.execute("INSERT INTO papers VALUES (1, 'b', 2019), (2, 'a', 2020), (3, 'c', 2020), (4, 'd', 2021)")
    doc = {"version": 1, "data_sources": {"tables": [{"identifier": "main.shop.papers", "column_configs": [
        {"column_name": "year", "description": ["The year the paper was published."]}]}]}}
    g = LocalGenie(con)
    assert answer_rows(con, doc, "How many papers were published in 2020?") == [(2,)]
    assert answer_rows(con, doc, "number of papers per year") == [(2019, 1), (2020, 2), (2021, 1)]
    assert [r[0] for r in answer_rows(con, doc, "What are the titles of the papers published in 2020, ordered alphabetically?")] \
        == ["a", "c"]
    for question in ("papers by month", "How many papers in March 2020?"):
        assert g.ask_sync(space(doc), question).status == "NO_SQL", question


def test_a_participle_grounds_by_description_only_to_a_column_the_answer_uses():
    """'published' is in paper.year's description: grounded when the answer uses paper.year, still
    refused where it would be the only mention of what the answer leaves out."""
    con = duckdb.connect()
    con.execute("CREATE TABLE papers(paper_id INTEGER, title VARCHAR, year INTEGER, cites INTEGER)")
    con.execute("INSERT INTO papers VALUES (1, 'b', 2019, 3), (2, 'a', 2020, 4)")
    doc = {"version": 1, "data_sources": {"tables": [{"identifier": "main.shop.papers", "column_configs": [
        {"column_name": "year", "description": ["The year the paper was published."]}]}]}}
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), "How many papers were published in 2020?")
    assert a.status == "COMPLETED", a.reason
    span = next(s for s in a.details["grounding"]["spans"] if s["text"] == "published")
    assert span["via"] == "description" and span["kind"] in ("context", "date") and span["name"] == "papers.year", span
    a = g.ask_sync(space(doc), "total cites of papers published")
    assert a.status == "NO_SQL" and "published" in a.details["grounding"]["ungrounded"], a.sql


def test_two_years_side_by_side_give_one_row_per_year(genie):
    same(genie, shop(), "revenue 2023 vs 2024",
         "SELECT YEAR(s.sale_dt), SUM(s.amt) FROM main.shop.sales s WHERE YEAR(s.sale_dt) IN (2023, 2024) GROUP BY 1")
    # two quarters: a row per quarter; a year against a quarter has no one breakdown: refused, not summed
    same(genie, shop(), "revenue Q1 2024 vs Q3 2024",
         "SELECT DATE_TRUNC('QUARTER', s.sale_dt), SUM(s.amt) FROM main.shop.sales s WHERE s.sale_dt >= DATE '2024-01-01' "
         "AND s.sale_dt < DATE '2024-10-01' AND QUARTER(s.sale_dt) IN (1, 3) GROUP BY 1")
    assert refused(genie, shop(), "revenue 2023 vs Q1 2024")["refused"]


def test_new_rows_in_a_period_are_dated_by_their_own_date_column():
    con = shop_db()
    con.execute("ALTER TABLE customers ADD COLUMN signup_dt DATE")
    con.execute("UPDATE customers SET signup_dt = CASE WHEN cust_id <= 3 THEN DATE '2023-05-01' ELSE DATE '2024-02-01' END")
    assert answer_rows(con, shop(), "new customers in 2023") == [(3,)]


def test_a_ranking_by_a_number_the_rows_have_orders_the_rows(genie):
    """"top 2 products by list price" lists products by their price; no sales measure is assumed."""
    same(genie, shop(), "top 2 products by list price",
         "SELECT prod_nm, list_prc FROM main.shop.products ORDER BY list_prc DESC LIMIT 2")
    same(genie, shop(), "the 2 lowest products by list price",
         "SELECT prod_nm, list_prc FROM main.shop.products ORDER BY list_prc ASC LIMIT 2")


def test_rows_without_a_related_row_are_an_anti_join(genie):
    """"customers with no sales", "never made a purchase": none of their rows, not rows that are not sales."""
    con = shop_db()
    con.execute("INSERT INTO customers VALUES (6, 'Flo', 'W', 'A')")
    g = LocalGenie(con)
    for question in ("how many customers without a sale", "how many customers have never made a sale"):
        a = g.ask_sync(space(shop()), question)
        assert a.status == "COMPLETED", (question, a.reason)
        assert con.execute(a.sql.replace("main.shop.", "")).fetchall() == [(1,)], a.sql
    # "no" before a value is not read as a row-level NOT ("products with no returns" would list products
    # that have some other row): refused
    assert "'no'" in refused(genie, shop(), "which products have no gadgets")["refused"]


def test_best_sellers_are_the_products_that_sell_best(genie):
    same(genie, shop(), "top 2 best sellers by revenue",
         "SELECT p.prod_nm, SUM(s.amt) r FROM main.shop.sales s JOIN main.shop.products p ON p.prod_id = s.prod_id "
         "GROUP BY p.prod_id, p.prod_nm ORDER BY r DESC LIMIT 2")
    assert "sellers" in refused(genie, shop(), "how many sellers are there")["ungrounded"]


def _papers_db() -> duckdb.DuckDBPyConnection:
    """A scholarly schema with keys glued to their table's name (`paperid`, `authorid`) and a bridge table."""
    con = duckdb.connect()
    con.execute("CREATE TABLE paper(paperid INTEGER, title VARCHAR, year INTEGER)")
    con.execute("INSERT INTO paper VALUES (1, 'a', 2019), (2, 'b', 2020), (3, 'c', 2020)")
    con.execute("CREATE TABLE author(authorid INTEGER, authorname VARCHAR)")
    con.execute("INSERT INTO author VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cid')")
    con.execute("CREATE TABLE writes(paperid INTEGER, authorid INTEGER)")
    con.execute("INSERT INTO writes VALUES (1, 1), (2, 1), (3, 1), (1, 2), (2, 2), (3, 3)")
    return con


def _papers_doc() -> dict:
    return bare_doc("paper", "author", "writes")


def test_keys_glued_to_the_table_name_are_inferred_and_a_verb_between_two_tables_is_their_relationship():
    """`writes.paperid` -> `paper.paperid` and `writes.authorid` -> `author.authorid` are inferred (no join
    specs); "authors who have published more than 2 papers" counts through the bridge, and "published"
    names that relationship (shown in the trace), not a refusal."""
    con = _papers_db()
    g = LocalGenie(con)
    a = g.ask_sync(space(_papers_doc()), "How many authors have published more than 2 papers?")
    assert a.status == "COMPLETED", a.reason
    assert con.execute(a.sql.replace("main.shop.", "")).fetchall() == [(1,)], a.sql
    assert {"text": "published", "kind": "relation"} in a.details["grounding"]["spans"]
    # a verb with no second table to relate to is still refused
    a = g.ask_sync(space(_papers_doc()), "How many authors have published?")
    assert a.status == "NO_SQL", a.sql


def test_a_one_to_one_link_is_kept_so_a_join_does_not_go_through_a_table_that_repeats_rows():
    """state and highlow are one-to-one on state_name; border_info repeats state names. Joining state and
    highlow must not pass through border_info (it would repeat each state once per border)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE state(state_name VARCHAR, density DOUBLE)")
    con.execute("INSERT INTO state VALUES ('ohio', 1.0), ('iowa', 2.0)")
    con.execute("CREATE TABLE border_info(state_name VARCHAR, border VARCHAR)")
    con.execute("INSERT INTO border_info VALUES ('ohio', 'iowa'), ('ohio', 'utah'), ('iowa', 'ohio')")
    con.execute("CREATE TABLE highlow(state_name VARCHAR, highest_point VARCHAR)")
    con.execute("INSERT INTO highlow VALUES ('ohio', 'hill'), ('iowa', 'mound')")
    doc = bare_doc("border_info", "highlow", "state")
    a = LocalGenie(con).ask_sync(space(doc), "What is the highest point and the density of each state?")
    assert a.status == "COMPLETED", a.reason
    assert "border_info" not in a.sql, a.sql
    assert sorted(con.execute(a.sql.replace("main.shop.", "")).fetchall()) == [('iowa', 'mound', 2.0), ('ohio', 'hill', 1.0)], a.sql


def test_a_quoted_value_after_its_column_or_table_is_a_filter_spelled_as_the_data_spells_it():
    con = _papers_db()
    con.execute("CREATE TABLE journal(journalid INTEGER, journalname VARCHAR)")
    con.execute("INSERT INTO journal VALUES (1, 'Nature'), (2, 'Science')")
    con.execute("ALTER TABLE paper ADD COLUMN journalid INTEGER")
    con.execute("UPDATE paper SET journalid = CASE WHEN paperid = 3 THEN 2 ELSE 1 END")
    doc = bare_doc("paper", "author", "writes", "journal")
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), 'How many papers were published in the journal "nature" in the year 2020?')
    assert a.status == "COMPLETED", a.reason
    assert "'Nature'" in a.sql and con.execute(a.sql.replace("main.shop.", "")).fetchall() == [(1,)], a.sql
    # quoted text that is no value of the column (only part of one) is not made an equality filter: "with
    # "Nat" in its name" is a contains pattern (test_engine_words), and quoted alone it is refused
    a = g.ask_sync(space(doc), 'How many papers were published in the journal with "Nat" in its name?')
    assert "'Nature'" not in a.sql and "ILIKE '%Nat%'" in a.sql, a.sql
    a = g.ask_sync(space(doc), 'How many papers were published in the journal "Nat"?')
    assert a.status == "NO_SQL", a.sql


# ---------------------------------------------------------------- ratios ("ratios of measures", issue #16)
def test_a_ratio_of_two_parts_of_the_same_rows(genie):
    """A / B over parts of one table: conditions between "ratio of" and "to" make A, after "to" B; a
    condition after "to" on a column A does not constrain holds for both; nothing after "to": all rows."""
    ratio = "SELECT CAST(COUNT(CASE WHEN {a} THEN 1 END) AS DOUBLE) / NULLIF(COUNT(CASE WHEN {b} THEN 1 END), 0) FROM main.shop.products"
    same(genie, shop(), "What is the ratio of products with list price > 6 to products with list price < 6?",
         ratio.format(a="list_prc > 6", b="list_prc < 6"))
    same(genie, shop(), "ratio of products with a list price above 4 to the total number of products",
         "SELECT CAST(COUNT(CASE WHEN list_prc > 4 THEN 1 END) AS DOUBLE) / COUNT(*) FROM main.shop.products")
    same(genie, shop(), "ratio of products with a list price above 4 to products with a list price below 4 in gadgets",
         ratio.format(a="list_prc > 4", b="list_prc < 4") + " WHERE cat_nm = 'Gadgets'")
    # two values of one column are two parts, not one IN list
    same(genie, shop(), "ratio of gadgets revenue to toys revenue",
         "SELECT SUM(CASE WHEN p.cat_nm = 'Gadgets' THEN s.amt END) / SUM(CASE WHEN p.cat_nm = 'Toys' THEN s.amt END) "
         "FROM main.shop.sales s JOIN main.shop.products p ON p.prod_id = s.prod_id")
    # two periods of the same rows
    same(genie, shop(), "ratio of revenue in 2024 to revenue in 2023",
         "SELECT SUM(CASE WHEN YEAR(sale_dt) = 2024 THEN amt END) / SUM(CASE WHEN YEAR(sale_dt) = 2023 THEN amt END) FROM main.shop.sales")


def test_a_ratio_of_two_tables_counts_each_on_its_own(genie):
    same(genie, shop(), "ratio of products to customers",
         "SELECT CAST((SELECT COUNT(*) FROM main.shop.products) AS DOUBLE) / (SELECT COUNT(*) FROM main.shop.customers)")
    # with a breakdown it is not said which rows of each table it applies to: refused
    assert refused(genie, shop(), "ratio of products to customers by region")["refused"]


def test_a_ratio_of_two_columns_per_row():
    con = duckdb.connect()
    con.execute("CREATE TABLE course(course_id INTEGER, name VARCHAR, helpfulness_score DOUBLE, clarity_score DOUBLE)")
    con.execute("INSERT INTO course VALUES (1, 'a', 4, 2), (2, 'b', 3, 0), (3, 'c', 1, 4)")
    doc = {"version": 1, "data_sources": {"tables": [{"identifier": "main.shop.course"}]}}
    a = LocalGenie(con).ask_sync(space(doc), "What is the ratio of helpfulness scores to clarity scores for each course ID?")
    assert a.status == "COMPLETED", a.reason
    got = {r[1]: r[-1] for r in con.execute(a.sql.replace("main.shop.", "")).fetchall()}
    assert got == {1: 2.0, 2: None, 3: 0.25}, a.sql


def test_comparison_symbols_read_as_words(genie):
    same(genie, shop(), "which products have a list price > 6", "SELECT prod_nm FROM main.shop.products WHERE list_prc > 6")
    same(genie, shop(), "how many products with list price <= 5",
         "SELECT COUNT(*) FROM main.shop.products WHERE list_prc <= 5")


def test_yes_no_columns_named_is_or_has_filter_on_yes():
    con = duckdb.connect()
    con.execute("CREATE TABLE business(business_id VARCHAR, name VARCHAR, is_open INTEGER)")
    con.execute("INSERT INTO business VALUES ('a', 'A', 1), ('b', 'B', 0), ('c', 'C', 1)")
    con.execute("CREATE TABLE checkin(cid INTEGER, business_id VARCHAR, count INTEGER, day VARCHAR)")
    con.execute("INSERT INTO checkin VALUES (1, 'a', 10, 'Monday'), (2, 'a', 5, 'Tuesday'), (3, 'b', 7, 'Monday')")
    doc = bare_doc("business", "checkin")
    assert answer_rows(con, doc, "How many businesses are open?") == [(2,)]
    # a table whose rows hold counts: the number of check-ins is their sum, not the number of rows
    assert sorted(r[-1] for r in answer_rows(con, doc, "What is the total number of check-ins for each business?")) == [7, 15]


def test_rows_listed_through_a_table_with_several_rows_each_are_listed_once():
    """Courses with a final exam, decided on their offerings (several per course): each course once."""
    con = duckdb.connect()
    con.execute("CREATE TABLE course(course_id INTEGER, name VARCHAR)")
    con.execute("INSERT INTO course VALUES (1, 'Algebra'), (2, 'Biology')")
    con.execute("CREATE TABLE course_offering(offering_id INTEGER, course_id INTEGER, has_final_exam BOOLEAN)")
    con.execute("INSERT INTO course_offering VALUES (1, 1, true), (2, 1, true), (3, 2, false)")
    doc = bare_doc("course", "course_offering")
    assert [r[0] for r in answer_rows(con, doc, "Which courses have a final exam?")] == ["Algebra"]


def test_a_measure_named_in_several_tables_is_decided_by_the_question_or_refused():
    """"population" is city.population and state.population: "in cities" decides; nothing deciding it is
    a refusal naming both, never the first in schema order."""
    con = duckdb.connect()
    con.execute("CREATE TABLE city(city_name VARCHAR, population INTEGER, country_name VARCHAR)")
    con.execute("INSERT INTO city VALUES ('a', 10, 'X'), ('b', 20, 'X')")
    con.execute("CREATE TABLE state(state_name VARCHAR, population INTEGER, country_name VARCHAR)")
    con.execute("INSERT INTO state VALUES ('s', 100, 'X')")
    doc = bare_doc("city", "state")
    g = LocalGenie(con)
    assert answer_rows(con, doc, "What is the total population in cities by country?") == [("X", 30)]
    a = g.ask_sync(space(doc), "What is the total population of each country?")
    assert a.status == "NO_SQL" and "city.population" in a.reason and "state.population" in a.reason, a.sql


def test_defog_style_shapes_on_a_reviews_schema():
    """Written for the engine on a yelp-like schema: "average number of X per Y" is an average (not a total
    per row), "which X have more than N Y" keeps the threshold, "each category" of a tagging table groups
    by the name, and "lakes in each state" groups by the rows' own state column."""
    con = duckdb.connect()
    con.execute("CREATE TABLE business(business_id VARCHAR, name VARCHAR)")
    con.execute("INSERT INTO business VALUES ('a', 'A'), ('b', 'B'), ('c', 'C')")
    con.execute("CREATE TABLE review(rid INTEGER, business_id VARCHAR, rating DOUBLE)")
    con.execute("INSERT INTO review VALUES (1, 'a', 4), (2, 'a', 5), (3, 'a', 3), (4, 'b', 2)")
    con.execute("CREATE TABLE tip(tip_id INTEGER, business_id VARCHAR, likes INTEGER)")
    con.execute("INSERT INTO tip VALUES (1, 'a', 2), (2, 'a', 4), (3, 'b', 6)")
    con.execute("CREATE TABLE category(id INTEGER, business_id VARCHAR, category_name VARCHAR)")
    con.execute("INSERT INTO category VALUES (1, 'a', 'Pizza'), (2, 'b', 'Cafe'), (1, 'c', 'Pizza')")
    doc = bare_doc("business", "review", "tip", "category")

    def rows(q):
        return sorted(answer_rows(con, doc, q))

    assert rows("What is the average number of likes per tip?") == [(4.0,)]
    assert [r[0] for r in rows("Which businesses have more than 2 reviews?")] == ["A"]
    assert rows("How many businesses are there in each category?") == [("Cafe", 1), ("Pizza", 2)]
    # "what is the lowest rating": the value, not a list of reviews; "which review has ...": the row
    assert rows("What is the lowest rating of any review?") == [(2.0,)]
    assert rows("Which review has the lowest rating?") == [(4, 2.0)]


def test_a_count_if_measure_over_rows_a_join_repeats_counts_each_row_once():
    """Returned orders by product category: each order appears once per line in the join; COUNT_IF would
    count an order once per line, so it becomes a distinct count of the order key."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders(ord_id INTEGER, stat_cd VARCHAR)")
    con.execute("INSERT INTO orders VALUES (1, 'R'), (2, 'C'), (3, 'R')")
    con.execute("CREATE TABLE products(prod_id INTEGER, cat_nm VARCHAR)")
    con.execute("INSERT INTO products VALUES (10, 'Gadgets'), (11, 'Toys'), (12, 'Toys')")
    con.execute("CREATE TABLE lines(ord_id INTEGER, line_no INTEGER, prod_id INTEGER)")
    con.execute("INSERT INTO lines VALUES (1, 1, 10), (1, 2, 10), (1, 3, 11), (2, 1, 10), (3, 1, 11)")
    doc = {"version": 1, "data_sources": {"tables": [{"identifier": f"main.shop.{t}"} for t in ("orders", "products", "lines")]},
           "instructions": {"sql_snippets": {"measures": [{"id": "m1", "alias": "returned", "display_name": "Returned orders",
                                                           "sql": ["COUNT_IF(orders.stat_cd = 'R')"]}]}}}
    assert dict(answer_rows(con, doc, "returned orders by product category")) == {"Gadgets": 1, "Toys": 2}
    # the threshold on it counts the same way (order 1 has two Gadgets lines: once, so Gadgets is not kept)
    assert answer_rows(con, doc, "product categories with more than 1 returned orders") == [("Toys", 2)]


def test_how_many_at_the_end_and_thresholds_on_a_column(genie):
    doc = shop()
    same(genie, doc, "customers in Western Europe - how many?",
         "SELECT COUNT(*) FROM main.shop.customers c JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd WHERE r.rgn_nm = 'Western Europe'")
    same(genie, doc, "which categories have more than 1 product",
         "SELECT cat_nm, COUNT(*) FROM main.shop.products GROUP BY cat_nm HAVING COUNT(*) > 1")
    # "how many products did we sell in 2024" could be units or distinct products, dated by the sale: refused
    assert refused(genie, doc, "how many products did we sell in 2024")["refused"]


# ---------------------------------------------------------------- second development batch (bench/retail_dev.yaml, dev4)
def test_a_month_range_shares_the_year_written_after_it(genie):
    gold = "SELECT SUM(amt) FROM main.shop.sales WHERE sale_dt >= DATE '2024-03-01' AND sale_dt < DATE '2024-06-01'"
    for q in ("revenue between March and May 2024", "revenue from March to May 2024", "revenue March through May 2024"):
        same(genie, shop(), q, gold)
    # months listed before one year share it: both months (it was an empty answer, then a refusal)
    same(genie, shop(), "revenue in March and May 2024",
         "SELECT SUM(amt) FROM main.shop.sales WHERE MONTH(sale_dt) IN (3, 5) AND YEAR(sale_dt) = 2024")
    # a month of the year beside a period it lies outside, not listed with it, never holds: refused
    g = refused(genie, shop(), "revenue in March for 2024 Q2")
    assert "cannot both hold" in g["refused"]


def test_how_many_of_a_kind_were_sold_counts_units_or_distinct_rows_never_the_catalog():
    """With a measure named "units sold", "how many gadgets did we sell" is that measure over the gadgets
    sold, dated by the sale; "how many different products were sold" counts the products the sales refer
    to; "how many products did we sell" could be either and is refused."""
    doc = with_column(shop(), PRODUCTS, "cat_nm", synonyms=["category"], enable_entity_matching=True)
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "units_sold", "display_name": "Units sold",
                                             "sql": ["SUM(sales.qty)"]})
    doc["instructions"]["join_specs"] = [SALES_PRODUCTS, SALES_CUSTOMERS]
    con = shop_db()
    con.execute("ALTER TABLE products ADD COLUMN launch_dt DATE")
    con.execute("UPDATE products SET launch_dt = DATE '2020-01-01'")
    g = LocalGenie(con)
    assert answer_rows(con, doc, "how many gadgets did we sell in 2024") == [(4,)]  # sales 4 (3) and 5 (1)
    assert answer_rows(con, doc, "how many different products were sold in 2024") == [(4,)]
    a = g.ask_sync(space(doc), "how many products did we sell in 2024")
    assert a.status == "NO_SQL" and "different products" in a.reason, a.sql


def test_breakdowns_joined_by_and_and_a_rule_never_fixes_a_column_the_answer_groups_by():
    con = shop_db()
    doc = shop()
    assert sorted(answer_rows(con, doc, "revenue by region and category")) == sorted(con.execute(
        "SELECT r.rgn_nm, p.cat_nm, SUM(s.amt) FROM sales s JOIN customers c ON c.cust_id = s.cust_id "
        "JOIN regions r ON r.rgn_cd = c.rgn_cd JOIN products p ON p.prod_id = s.prod_id GROUP BY 1, 2").fetchall())
    ruled = with_instruction(doc, "filters", {"id": "f1", "display_name": "active customers",
                                              "sql": ["customers.stat_cd = 'A'"], "instruction": ["Apply to every customer count."]})
    ruled = with_instruction(ruled, "text_instructions", {"content": ["Customer counts mean active customers: customers.stat_cd = 'A'."]})
    assert sorted(answer_rows(con, ruled, "number of customers by region and status")) == [
        ("Eastern Europe", "A", 1), ("Eastern Europe", "I", 1), ("Western Europe", "A", 2), ("Western Europe", "I", 1)]


def test_a_listing_shows_the_column_it_compares(genie):
    a = genie.ask_sync(space(shop()), "list products with a list prc above 6")
    assert a.status == "COMPLETED", a.reason
    assert set(genie.execute(a.sql, space=space(shop())).column_names) >= {"prod_nm", "list_prc"}


def test_beating_the_average_compares_each_rows_total_with_the_average_total(genie):
    """"which customers beat the average revenue": each customer's total against the average customer's
    total (Ada 170 and Ed 90 against 68), not single sales against the average sale."""
    gold = ("WITH t AS (SELECT c.cust_nm, SUM(s.amt) AS v FROM main.shop.sales s JOIN main.shop.customers c "
            "ON c.cust_id = s.cust_id GROUP BY c.cust_id, c.cust_nm) SELECT cust_nm, v FROM t WHERE v > (SELECT AVG(v) FROM t)")
    for q in ("which customers beat the average revenue", "which customers had revenue above the average",
              "which customers exceeded the average customer revenue"):
        same(genie, shop(), q, gold)
    # one total against its own average compares nothing: refused, never an empty answer
    assert "needs rows to compare" in refused(genie, shop(), "which customers exceeded the average customer count")["refused"]


def test_cheapest_and_most_expensive_rank_by_the_price_column(genie):
    doc = with_column(shop(), PRODUCTS, "list_prc", synonyms=["price", "list price"])
    same(genie, doc, "the 2 cheapest products", "SELECT prod_nm, list_prc FROM main.shop.products ORDER BY list_prc LIMIT 2")
    same(genie, doc, "most expensive product", "SELECT prod_nm, list_prc FROM main.shop.products ORDER BY list_prc DESC LIMIT 1")
    same(genie, shop(), "the 2 cheapest products",  # list_prc: "prc" reads as price
         "SELECT prod_nm, list_prc FROM main.shop.products ORDER BY list_prc LIMIT 2")
    # no column called price: refused, never ranked by the sales measure
    g = refused(genie, with_column(shop(), PRODUCTS, "list_prc", exclude=True), "the 2 cheapest products")
    assert "price" in g["refused"]


def test_a_table_description_that_opens_with_a_name_grounds_that_name():
    """"Sale lines: one row per ..." lets "lines" name the table; "average line qty" is the table's own
    column averaged, not an average per line."""
    con = shop_db()
    doc = shop()
    next(t for t in doc["data_sources"]["tables"] if t["identifier"] == SALES)["description"] = [
        "Sale lines: one row per product sold."]
    assert answer_rows(con, doc, "how many sale lines had a qty above 2") == [(3,)]
    assert answer_rows(con, doc, "average line qty") == con.execute("SELECT AVG(qty) FROM sales").fetchall()
    # a longer name lends no single word: "Points of sale: ..." does not make "sales" name the table
    doc = shop()
    next(t for t in doc["data_sources"]["tables"] if t["identifier"] == CUSTOMERS)["description"] = [
        "Points of sale: the buyers."]
    lex = lexicon.build_lexicon(space(doc), LocalGenie(con).context(space(doc))[0])
    assert not any(p.entry.table == CUSTOMERS for p in lex.phrases.get((lexicon.norm("sale"),), []))
    assert any(p.entry.table == CUSTOMERS for p in lex.phrases.get(lexicon.norms("points of sale"), []))


def test_a_fraction_column_is_not_rounded_to_money_precision():
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN disc_pct DOUBLE")
    con.execute("UPDATE sales SET disc_pct = sale_id / 1000.0")
    doc = with_column(shop(), SALES, "disc_pct", description=["Discount as a fraction of the price (0.10 = 10% off)."],
                      synonyms=["discount"])
    doc = with_instruction(doc, "text_instructions", {"content": ["Money is rounded to two decimals."]})
    assert answer_rows(con, doc, "average discount") == [(0.0045,)]


def test_a_selling_verb_before_a_threshold_compares_the_sales_measure(genie):
    doc = with_instruction(shop(), "measures", {"id": "m1", "alias": "revenue", "display_name": "Revenue",
                                                "sql": ["SUM(sales.amt)"]})
    same(genie, doc, "which categories made more than 100 in 2024",
         "SELECT p.cat_nm, SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON p.prod_id = s.prod_id "
         "WHERE YEAR(s.sale_dt) = 2024 GROUP BY 1 HAVING SUM(s.amt) > 100")


def test_rows_named_with_a_date_participle_are_counted_per_period():
    con = shop_db()
    con.execute("ALTER TABLE products ADD COLUMN launch_dt DATE")
    con.execute("UPDATE products SET launch_dt = CASE WHEN prod_id < 12 THEN DATE '2023-04-01' ELSE DATE '2024-06-01' END")
    doc = with_column(shop(), PRODUCTS, "launch_dt", description=["Date the product launched."],
                      synonyms=["products launched"])
    assert sorted(answer_rows(con, doc, "products launched per year")) == [(2023, 2), (2024, 2)]


def test_a_ranking_size_written_before_the_ranked_rows(genie):
    same(genie, shop(), "the 2 categories with the most products",
         "SELECT cat_nm, COUNT(*) AS n FROM main.shop.products GROUP BY 1 ORDER BY n DESC LIMIT 2")


def test_british_spellings_match_american_names():
    assert lexicon.norm("programme") == lexicon.norm("program") and lexicon.norm("catalogue") == lexicon.norm("catalog")


def test_a_percent_compared_with_a_fraction_column_is_divided_by_100():
    """"a discount above 20%" on a column described as a fraction (0.10 = 10% off) is disc_pct > 0.2; the
    percent sign is the number's unit, not a share to compute."""
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN disc_pct DOUBLE")
    con.execute("UPDATE sales SET disc_pct = sale_id / 20.0")  # 0.05 .. 0.40
    doc = with_column(shop(), SALES, "disc_pct", description=["Discount as a fraction of the price (0.10 = 10% off)."],
                      synonyms=["discount"])
    assert answer_rows(con, doc, "how many sales had a discount above 20%") == [(4,)]  # sales 5..8


def test_a_yes_no_column_is_named_by_its_words_and_synonyms():
    """`email_opt_in` holding 'Y'/'N', with the synonym "marketing opt-in": "customers who opted in to
    marketing emails" keeps the 'Y' rows; "opted in" is a run of its name's words."""
    con = shop_db()
    con.execute("ALTER TABLE customers ADD COLUMN email_opt_in VARCHAR")
    con.execute("UPDATE customers SET email_opt_in = CASE WHEN cust_id IN (1, 4) THEN 'Y' ELSE 'N' END")
    doc = with_column(shop(), CUSTOMERS, "email_opt_in", synonyms=["marketing opt-in"])
    assert answer_rows(con, doc, "how many customers opted in to marketing emails") == [(2,)]
    assert answer_rows(con, doc, "how many customers have email opt-in") == [(2,)]


def test_a_description_saying_what_null_means_names_the_rows_with_a_value():
    """"Loyalty tier; NULL when the customer is not a member": "loyalty members" are the rows with a tier,
    in counts, shares, negations and trailing "how many"."""
    con = shop_db()
    con.execute("ALTER TABLE customers ADD COLUMN tier VARCHAR")
    con.execute("UPDATE customers SET tier = CASE WHEN cust_id IN (1, 2, 5) THEN 'Gold' WHEN cust_id = 3 THEN 'Silver' END")
    doc = with_column(shop(), CUSTOMERS, "tier", synonyms=["loyalty tier"], enable_entity_matching=True,
                      description=["Loyalty tier; NULL when the customer is not a member."])
    assert answer_rows(con, doc, "how many loyalty members do we have") == [(4,)]
    assert answer_rows(con, doc, "what share of customers are loyalty members") == [(80.0,)]
    assert answer_rows(con, doc, "how many customers are not loyalty members") == [(1,)]
    assert answer_rows(con, doc, "gold tier members, how many?") == [(3,)]


def test_items_sold_are_units():
    doc = with_instruction(with_column(shop(), PRODUCTS, "prod_nm", synonyms=["item"]), "measures",
                           {"id": "m1", "alias": "units_sold", "display_name": "Units sold", "sql": ["SUM(sales.qty)"]})
    doc["instructions"]["join_specs"] = [SALES_PRODUCTS, SALES_CUSTOMERS]
    assert answer_rows(shop_db(), doc, "how many items did we sell in 2023") == [(4,)]  # sales 1, 2, 8


def test_a_numeric_columns_value_after_of_is_an_equality(genie):
    same(genie, shop(), "list sales with a qty of 2", "SELECT sale_id, qty FROM main.shop.sales WHERE qty = 2")
    same(genie, shop(), "how many sales had a qty of 2", "SELECT COUNT(*) FROM main.shop.sales WHERE qty = 2")


# ---------------------------------------------------------------- third development batch (bench/retail_dev.yaml, dev5)
def test_the_share_of_a_filtered_part_by_a_breakdown_is_how_it_splits():
    """"share of cancelled sales by region": how cancellations split across regions (shares add to 100),
    not a cancellation rate per region; "X as a percentage of revenue" with X not an amount is refused."""
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN stat_cd VARCHAR")
    con.execute("UPDATE sales SET stat_cd = CASE WHEN sale_id IN (2, 3, 7) THEN 'X' ELSE 'C' END")
    doc = with_instruction(shop(), "filters", {"id": "f1", "display_name": "cancelled sales", "sql": ["sales.stat_cd = 'X'"]})
    doc["instructions"]["join_specs"] = [SALES_PRODUCTS, SALES_CUSTOMERS,
                                         CUSTOMERS_REGIONS]
    got = {r[0]: r[1] for r in answer_rows(con, doc, "share of cancelled sales by region")}
    # cancelled: sale 2 (Bo, E), 3 (Cy, W), 7 (Bo, E)
    assert got == pytest.approx({"Eastern Europe": 66.67, "Western Europe": 33.33}, abs=0.01)
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "revenue", "display_name": "Revenue", "sql": ["SUM(sales.amt)"]})
    a = LocalGenie(con).ask_sync(space(doc), "cancelled sales as a percentage of revenue")
    assert a.status == "NO_SQL" and "divides one amount by another" in a.reason, a.sql


def test_each_of_the_last_n_months_is_one_row_per_month_and_past_n_spans_n_periods():
    con = shop_db()
    doc = shop()
    assert answer_rows(con, doc, "revenue for each of the last 3 months") == con.execute(
        "SELECT DATE_TRUNC('month', sale_dt) m, SUM(amt) FROM sales WHERE sale_dt >= DATE '2024-09-01' "
        "AND sale_dt < DATE '2024-12-01' GROUP BY 1 ORDER BY 1").fetchall()  # the data ends in November 2024
    same_total = con.execute("SELECT SUM(amt) FROM sales WHERE sale_dt >= DATE '2024-06-01' AND sale_dt < DATE '2024-12-01'").fetchall()
    assert answer_rows(con, doc, "revenue in the past 2 quarters") == answer_rows(con, doc, "revenue in the last 2 quarters") == same_total


def test_an_average_over_periods_is_the_mean_of_the_period_totals(genie):
    gold = ("SELECT AVG(v) FROM (SELECT DATE_TRUNC('month', sale_dt) m, SUM(amt) v FROM main.shop.sales "
            "WHERE YEAR(sale_dt) = 2024 GROUP BY 1) t")
    same(genie, shop(), "average monthly revenue in 2024", gold)
    # with revenue a measure, "average revenue per month" is the same mean (on a bare column it stays the
    # average sale of each month)
    doc = with_instruction(shop(), "measures", {"id": "m1", "alias": "revenue", "display_name": "Revenue", "sql": ["SUM(sales.amt)"]})
    same(genie, doc, "average revenue per month in 2024", gold)


def test_which_rows_that_the_answer_does_not_list_are_refused():
    """"which customers bought gadgets and how many sales were there": a total alone would drop the customers."""
    doc = with_column(shop(), PRODUCTS, "cat_nm", synonyms=["category"], enable_entity_matching=True)
    a = LocalGenie(shop_db()).ask_sync(space(doc), "which customers have sales of Gadgets and how many sales are there")
    assert a.status == "NO_SQL" and "'which customers' asks for the customers themselves" in a.reason, a.sql


def test_rows_counted_through_events_keep_the_rule_of_the_event_count():
    """"unique customers per region in 2024": customers counted through their sales, so the space's rule
    for counting sales (completed only) applies; grouping by the status itself lifts it."""
    con = shop_db()
    con.execute("ALTER TABLE sales ADD COLUMN stat_cd VARCHAR")
    con.execute("UPDATE sales SET stat_cd = CASE WHEN sale_id IN (5, 7) THEN 'X' ELSE 'C' END")
    doc = with_instruction(shop(), "filters", {"id": "f1", "display_name": "completed sales", "sql": ["sales.stat_cd = 'C'"],
                                               "instruction": ["Apply to every sales count."]})
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "sales_count", "display_name": "Sales count",
                                             "sql": ["COUNT(DISTINCT sales.sale_id)"]})
    doc["instructions"]["join_specs"] = [SALES_PRODUCTS, SALES_CUSTOMERS, CUSTOMERS_REGIONS]
    # 2024 sales: 3 (Cy, W), 4 (Ada, W), 5 (Di, E, cancelled), 6 (Ed, W), 7 (Bo, E, cancelled)
    assert sorted(answer_rows(con, doc, "number of distinct customers per category in 2024")) == [
        ("Gadgets", 1), ("Kids' Corner", 1), ("Toys", 1)]


def test_fiscal_quarters_written_after_or_before_the_fiscal_year():
    cal = Calendar(fiscal_start=2)
    for q in ("revenue in FY2024 Q3", "revenue in Q3 FY2024"):
        (t,) = [s for s in find_time(q.lower().split()) if s.kind == "period"]
        assert (t.fiscal, t.fiscal_year, t.fiscal_quarter) == (True, 2024, 3)
        assert resolve(t, None, cal) == (dt.date(2024, 8, 1), dt.date(2024, 11, 1))


def test_a_ratio_names_its_measure_once_after_both_parts_and_divided_by_is_never_dropped(genie):
    doc = with_column(shop(), PRODUCTS, "cat_nm", synonyms=["category"], enable_entity_matching=True)
    same(genie, doc, "ratio of Gadgets to Toys revenue",
         "SELECT SUM(CASE WHEN p.cat_nm = 'Gadgets' THEN s.amt END) / SUM(CASE WHEN p.cat_nm = 'Toys' THEN s.amt END) "
         "FROM main.shop.sales s JOIN main.shop.products p ON p.prod_id = s.prod_id")
    assert "divided by" in refused(genie, doc, "Gadgets revenue divided by Toys revenue")["refused"]


def test_quarter_ranges_share_the_year_and_growth_between_quarters_names_each_quarter(genie):
    (a, b) = [t for t in find_time("revenue from q1 to q3 2024".split()) if t.kind == "period"]
    assert (a.start, a.bound, b.end, b.bound) == (dt.date(2024, 1, 1), "from", dt.date(2024, 10, 1), "to")
    a = genie.ask_sync(space(shop()), "how did revenue change from Q1 to Q2 2024")
    assert a.status == "COMPLETED", a.reason
    cols = genie.execute(a.sql, space=space(shop())).column_names
    assert len(set(cols)) == len(cols) and any(c.endswith("2024_q1") for c in cols) and any(c.endswith("2024_q2") for c in cols)


def test_selling_superlatives_rank_by_the_sales_measure():
    doc = with_instruction(shop(), "measures", {"id": "m1", "alias": "revenue", "display_name": "Revenue", "sql": ["SUM(sales.amt)"]})
    doc = with_column(doc, PRODUCTS, "cat_nm", synonyms=["category"])
    doc["instructions"]["join_specs"] = [SALES_PRODUCTS, SALES_CUSTOMERS]
    assert answer_rows(shop_db(), doc, "the lowest selling category") == [("Toys", 15.0)]
    assert answer_rows(shop_db(), doc, "top selling category") == [("Gadgets", 235.0)]


def test_a_listing_broken_down_by_two_values_is_refused_not_read_as_either(genie):
    """Listing every customer (the filter dropped for a breakdown the listing cannot show) or either category
    would be confidently wrong. ("both Gadgets and Toys" is the intersection: see
    test_rows_related_to_both_values_are_kept_by_their_distinct_count.)"""
    doc = with_column(shop(), PRODUCTS, "cat_nm", synonyms=["category"], enable_entity_matching=True)
    assert "does not show" in refused(genie, doc, "which customers bought from the category Gadgets and the category Toys")["refused"]


def test_days_of_the_week_read_a_weekday_column_or_the_dates_weekday():
    con = shop_db()
    doc = shop()
    g = LocalGenie(con)

    def executed(question: str) -> list[tuple]:  # Databricks SQL (DATE_FORMAT), run as an eval run would
        a = g.ask_sync(space(doc), question)
        assert a.status == "COMPLETED", (question, a.reason)
        return [tuple(r.values()) for r in g.execute(a.sql, space=space(doc)).to_pylist()]

    assert executed("revenue on Mondays") == [(55.0,)]  # 2023-07-03, 2024-01-15, 2024-11-11
    assert dict(executed("revenue by day of the week")) == {"Friday": 230.0, "Monday": 55.0, "Wednesday": 25.0, "Sunday": 30.0}
    # a table that records the weekday by name (defog's checkin.day) is grouped and filtered on it
    con.execute("CREATE TABLE visits(visit_id INTEGER, day VARCHAR, cnt INTEGER)")
    con.execute("INSERT INTO visits VALUES (1, 'Monday', 3), (2, 'Tuesday', 4), (3, 'Monday', 5)")
    bare = bare_doc("visits")
    assert sorted(answer_rows(con, bare, "total cnt per day of the week")) == [("Monday", 8), ("Tuesday", 4)]
    assert answer_rows(con, bare, "total cnt on Mondays") == [(8,)]


def test_us_state_names_name_a_state_column_of_postal_codes():
    con = duckdb.connect()
    con.execute("CREATE TABLE shops(shop_id INTEGER, state VARCHAR)")
    con.execute("INSERT INTO shops VALUES (1, 'CA'), (2, 'NY'), (3, 'CA')")
    assert answer_rows(con, bare_doc("shops"), "how many shops are in California") == [(2,)]


def test_percentage_change_of_a_bare_noun_needs_the_space_to_define_its_count():
    """"percentage change in sales between 2023 and 2024" counts the sales only where the space says how
    sales are counted (a count measure, with its rules); on bare tables it stays refused."""
    con = shop_db()
    doc = with_instruction(sparse_doc(), "measures", {"id": "m1", "alias": "sales_count", "display_name": "Sales count",
                                                      "sql": ["COUNT(DISTINCT sales.sale_id)"]})
    got = answer_rows(con, doc, "percentage change in sales between 2023 and 2024")  # 3 sales in 2023, 5 in 2024
    assert got and got[0][-1] == pytest.approx(66.67, abs=0.01), got
    a = LocalGenie(con).ask_sync(space(bare_doc("sales")), "percentage change in sales between 2023 and 2024")
    assert a.status == "NO_SQL", a.sql


def test_a_year_number_beside_a_month_name_serves_months_in_calendar_order():
    """Dates kept as year = 2021 and month = 'April' (defog's review table, names padded with spaces):
    "in April 2021" filters both, "each month of 2021" groups by the name in calendar order."""
    con = duckdb.connect()
    con.execute("CREATE TABLE reviews(review_id INTEGER, year INTEGER, month VARCHAR)")
    con.execute("INSERT INTO reviews VALUES (1, 2021, 'April'), (2, 2021, 'March    '), (3, 2021, 'April'), (4, 2022, 'April'),"
                " (5, 2021, 'January')")
    doc = bare_doc("reviews")
    assert answer_rows(con, doc, "how many reviews were written in April 2021") == [(2,)]
    assert answer_rows(con, doc, "how many reviews in the month of April 2021") == [(2,)]
    assert answer_rows(con, doc, "number of reviews in each month of 2021, ordered by the month") == [
        ("January", 1), ("March    ", 1), ("April", 2)]


def test_a_description_opening_with_a_longer_name_grounds_it_and_a_repeated_column_is_context():
    """"The population density of the state" names `density` as "population density"; "... Give the
    names and the density." mentions a column the answer already shows: context, not a refusal."""
    con = duckdb.connect()
    con.execute("CREATE TABLE state(state_name VARCHAR, population BIGINT, density DOUBLE)")
    con.execute("INSERT INTO state VALUES ('A', 10, 5.0), ('B', 20, 1.0), ('C', 30, 9.0)")
    doc = {"version": 1, "data_sources": {"tables": [{"identifier": "main.shop.state", "column_configs": [
        {"column_name": "density", "description": ["The population density of the state in people per square kilometer"]}]}]}}
    assert answer_rows(con, doc, "which state has the highest population density") == [("C", 9.0)]
    assert answer_rows(con, doc, "top 2 states by population density. Give the names and the density.") == [
        ("C", 9.0), ("A", 5.0)]


def test_words_about_how_to_present_or_compare_are_filler(genie):
    same(genie, shop(), "how does revenue vary by category",
         "SELECT p.cat_nm, SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON p.prod_id = s.prod_id GROUP BY 1")
    same(genie, shop(), "total revenue in 2023, give the answer as an integer",
         "SELECT SUM(amt) FROM main.shop.sales WHERE YEAR(sale_dt) = 2023")
