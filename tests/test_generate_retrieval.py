"""Example retrieval with slot filling: parameterized trusted assets and literal replacement."""

from __future__ import annotations

import datetime as dt

import pytest

from chaos_llama.tools.backends.local import LocalGenie
from chaos_llama.tools.errors import InvalidConfig
from chaos_llama.tools.generate import STRATEGIES, get_strategy
from chaos_llama.tools.generate.slots import ValueIndex, numbers, periods
from chaos_llama.tools.generate.text import TfIdf, stem, terms
from engine_helpers import (
    PRODUCTS,
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


def example(question: str, sql: str, parameters=None, usage=None) -> dict:
    e = {"question": [question], "sql": [sql]}
    if parameters:
        e["parameters"] = parameters
    if usage:
        e["usage_guidance"] = [usage]
    return e


def param(name: str, type_hint: str, default=None, description: str = "") -> dict:
    p = {"name": name, "type_hint": type_hint, "description": [description]}
    if default is not None:
        p["default_value"] = {"values": [default]}
    return p


BY_CATEGORY = example(
    "Total amount for a product category",
    "SELECT SUM(s.amt) AS total FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
    "WHERE p.cat_nm = :category",
    [param("category", "STRING", "Toys", "Product category")])
TOP_N = example(
    "Top N products by amount",
    "SELECT p.prod_nm, SUM(s.amt) AS total FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
    "GROUP BY p.prod_nm ORDER BY total DESC LIMIT :n",
    [param("n", "INT", "3", "How many products")])
IN_RANGE = example(
    "Sales amount between two dates",
    "SELECT SUM(amt) AS total FROM main.shop.sales WHERE sale_dt >= :start_date AND sale_dt < :end_date",
    [param("start_date", "DATE", None, "First day"), param("end_date", "DATE", None, "Day after the last day")])
IN_YEAR = example(
    "Number of sales in a calendar year",
    "SELECT COUNT(*) AS n FROM main.shop.sales WHERE YEAR(sale_dt) = :year",
    [param("year", "INT", "2023", "Calendar year")])


def curated(*examples) -> dict:
    doc = sparse_doc()
    for e in examples:
        doc = with_instruction(doc, "example_question_sqls", e)
    return doc


def ask(genie, doc, question):
    return genie.ask_sync(space(doc), question)


def test_string_parameter_filled_from_value_dictionary(genie):
    """`:category` is filled with the category the question names (case-insensitive), quoted safely."""
    doc = curated(BY_CATEGORY, TOP_N, IN_YEAR)
    a = ask(genie, doc, "What is the total amount for gadgets?")
    assert a.status == "COMPLETED", a
    assert a.details["slots"] == {"category": "Gadgets"} and "'Gadgets'" in a.sql
    assert rows(a.result) == [(235.0,)]
    a = ask(genie, doc, "total amount for the kids' corner category")
    assert a.details["slots"] == {"category": "Kids' Corner"} and rows(a.result) == [(90.0,)]


def test_string_parameter_default_when_question_names_none(genie):
    a = ask(genie, curated(BY_CATEGORY), "Total amount for a product category")
    assert a.status == "COMPLETED" and a.details["slots"] == {"category": "Toys (default)"}


def test_int_parameter_top_n(genie):
    doc = curated(BY_CATEGORY, TOP_N, IN_YEAR)
    for q, n in [("top 2 products by amount", 2), ("Show the top three products by amount", 3)]:
        a = ask(genie, doc, q)
        assert a.status == "COMPLETED" and a.details["slots"] == {"n": n} and a.row_count == n, a


def test_date_parameters_from_a_month_and_a_quarter(genie):
    doc = curated(IN_RANGE, IN_YEAR)
    a = ask(genie, doc, "Sales amount in March 2024")
    assert a.details["slots"] == {"start_date": "2024-03-01", "end_date": "2024-04-01"}, a.details
    assert rows(a.result) == [(95.0,)]
    a = ask(genie, doc, "sales amount in Q3 2024")
    assert a.details["slots"] == {"start_date": "2024-07-01", "end_date": "2024-10-01"}
    assert rows(a.result) == [(60.0,)]


def test_year_parameter(genie):
    a = ask(genie, curated(IN_RANGE, IN_YEAR), "How many sales were made in 2024?")
    assert a.details["source"] == "example" and a.details["slots"] == {"year": 2024}
    assert rows(a.result) == [(5,)]


def test_parameter_from_a_sibling_column(genie):
    """The question names a region by name; the parameter takes its code, looked up in the data."""
    doc = curated(example(
        "Amount sold in a region", "SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.customers c "
        "ON s.cust_id = c.cust_id JOIN main.shop.regions r ON r.rgn_cd = c.rgn_cd WHERE r.rgn_cd = :region",
        [param("region", "STRING", None, "Region code")]))
    doc = with_column(doc, "main.shop.regions", "rgn_nm", enable_entity_matching=True)
    a = ask(genie, doc, "Amount sold in Eastern Europe")
    assert a.status == "COMPLETED" and a.details["slots"] == {"region": "E"}, a
    assert rows(a.result) == [(70.0,)]


def test_literal_replacement_in_plain_example(genie):
    """A non-parameterized example: its category literal and year are replaced by the question's."""
    doc = curated(example("Total amount for Toys in 2023",
                          "SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id "
                          "WHERE p.cat_nm = 'Toys' AND YEAR(s.sale_dt) = 2023"))
    a = ask(genie, doc, "Total amount for Gadgets in 2024")
    assert a.status == "COMPLETED" and a.details["slots"] == {"Toys": "Gadgets", "2023": 2024}
    assert rows(a.result) == [(95.0,)]


def test_business_literal_kept_and_missing_slot_rejects_example(genie):
    """Literals the example question does not mention are rules and stay; an example whose slot the
    question cannot fill is not used (schema linking answers or the engine says why)."""
    ex = example("How many active customers bought in 2023?",
                 "SELECT COUNT(DISTINCT c.cust_id) FROM main.shop.customers c JOIN main.shop.sales s ON s.cust_id = c.cust_id "
                 "WHERE c.stat_cd = 'A' AND YEAR(s.sale_dt) = 2023")
    doc = with_instruction(curated(ex), "join_specs", SALES_CUSTOMERS)
    a = ask(genie, doc, "How many active customers bought in 2024?")
    assert "'A'" in a.sql and a.details["slots"] == {"2023": 2024}
    a = ask(genie, doc, "How many active customers bought something?")  # no year: the example does not fit
    assert a.details.get("source") != "example"
    assert any("2023" in (t["problem"] or "") for t in a.details["examples_tried"])


def test_unused_question_value_rejects_example(genie):
    """A value the example has no slot for means it answers another question."""
    doc = with_column(curated(IN_YEAR), PRODUCTS, "cat_nm", enable_entity_matching=True)
    a = ask(genie, doc, "Number of sales of gadgets in 2024")
    assert a.details.get("source") != "example"
    assert any("gadgets" in (t["problem"] or "") for t in a.details["examples_tried"])


def test_details_name_example_and_its_path(genie):
    a = ask(genie, curated(TOP_N, IN_YEAR), "top 2 products by amount")
    assert a.details["example"] == "Top N products by amount"
    assert a.details["grounding"]["example"] == "instructions.example_question_sqls[0]"


def test_example_does_not_answer_a_breakdown_it_does_not_make(genie):
    """'amount by category' is not the single-category example with its filter dropped."""
    doc = with_instruction(with_column(curated(BY_CATEGORY), PRODUCTS, "cat_nm", synonyms=["category"]),
                           "join_specs", SALES_PRODUCTS)
    a = ask(genie, doc, "total amount by category")
    assert a.details["source"] == "composed" and "GROUP BY" in a.sql, a
    assert sorted(rows(a.result)) == [("Gadgets", 235.0), ("Kids' Corner", 90.0), ("Toys", 15.0)]


def test_registry():
    assert set(STRATEGIES) == {"retrieval", "retrieval-legacy", "llm"}
    assert get_strategy("retrieval").name == "retrieval"
    with pytest.raises(InvalidConfig, match="Did you mean 'retrieval'"):
        get_strategy("retreival")


# ---- the small text/slot utilities
def test_text_utilities():
    assert terms("Total Sales per Region") == ["total", "sal", "region"]
    assert stem("categories") == stem("category")
    idx = TfIdf([["total", "sal"], ["count", "order"]])
    assert idx.rank(["count", "order"])[0][0] == 1


def test_periods_and_numbers():
    p = periods("orders in the third quarter of 2024 and March 2023, FY2025")
    assert [(x.grain, x.start) for x in p] == [("quarter", dt.date(2024, 7, 1)), ("month", dt.date(2023, 3, 1)),
                                               ("fiscal_year", dt.date(2025, 1, 1))]
    assert [n.value for n in numbers("top twenty of 1,500 items")] == [20, 1500]


def test_value_index_handles_ampersand_plural_and_prefix():
    idx = ValueIndex({("p", "cat"): ["Home & Kitchen", "Beauty & Personal Care", "Toy"]})
    found = [m.value for m in idx.find("home and kitchen, beauty products and toys")]
    assert found == ["Home & Kitchen", "Beauty & Personal Care", "Toy"]


def test_examples_tried_are_each_questions_own_when_questions_run_concurrently():
    """The example index is built once per space and shared; the examples a question tried (shown in its
    details) were kept on it, so a question answered at the same time could report, or clear, another's.
    Each question's details must be what it reports when asked alone."""
    from concurrent.futures import ThreadPoolExecutor

    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evaluate import bundled_example, load_inputs

    with bundled_example("retail") as ex:
        space, evalset = load_inputs(ex.curated_space, ex.evalset)
        genie = LocalGenie(build_database([ex.data]))
    questions = [c.question for c in evalset.cases if c.split == "train"][:40]
    alone = {q: genie.ask_sync(space, q).details.get("examples_tried") for q in questions}
    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            together = dict(zip(questions, pool.map(lambda q: genie.ask_sync(space, q).details.get("examples_tried"),
                                                    questions)))
        assert together == alone
