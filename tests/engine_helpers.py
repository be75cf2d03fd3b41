"""A tiny shop database and space builders shared by the engine and generation tests."""

from __future__ import annotations

import copy
from typing import Any

import duckdb

from chaos_llama.tools.space.model import Space


def shop_db() -> duckdb.DuckDBPyConnection:
    """Four tables with terse names and coded values, like a real warehouse."""
    con = duckdb.connect()
    con.execute("CREATE TABLE regions(rgn_cd VARCHAR, rgn_nm VARCHAR)")
    con.execute("INSERT INTO regions VALUES ('W', 'Western Europe'), ('E', 'Eastern Europe')")
    con.execute("CREATE TABLE customers(cust_id INTEGER, cust_nm VARCHAR, rgn_cd VARCHAR, stat_cd VARCHAR)")
    con.execute("""INSERT INTO customers VALUES (1, 'Ada', 'W', 'A'), (2, 'Bo', 'E', 'A'), (3, 'Cy', 'W', 'I'),
                   (4, 'Di', 'E', 'I'), (5, 'Ed', 'W', 'A')""")
    con.execute("CREATE TABLE products(prod_id INTEGER, prod_nm VARCHAR, cat_nm VARCHAR, list_prc DOUBLE)")
    con.execute("""INSERT INTO products VALUES (10, 'Widget', 'Gadgets', 5.0), (11, 'Gizmo', 'Gadgets', 9.0),
                   (12, 'Yo-yo', 'Toys', 2.0), (13, 'Kite', 'Kids'' Corner', 7.0)""")
    con.execute("CREATE TABLE sales(sale_id INTEGER, sale_dt DATE, cust_id INTEGER, prod_id INTEGER, amt DOUBLE, "
                "amt_legacy DOUBLE, qty INTEGER)")
    rows = [
        (1, "2023-02-10", 1, 10, 100.0, 1.0, 2), (2, "2023-07-03", 2, 11, 40.0, 1.0, 1),
        (3, "2024-01-15", 3, 12, 10.0, 1.0, 5), (4, "2024-03-08", 1, 11, 70.0, 1.0, 3),
        (5, "2024-03-20", 4, 10, 25.0, 1.0, 1), (6, "2024-08-30", 5, 13, 60.0, 1.0, 4),
        (7, "2024-11-11", 2, 12, 5.0, 1.0, 2), (8, "2023-12-24", 5, 13, 30.0, 1.0, 1),
    ]
    con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con


SALES = "main.shop.sales"
CUSTOMERS = "main.shop.customers"
PRODUCTS = "main.shop.products"
REGIONS = "main.shop.regions"


def join(left: str, right: str, cond: str) -> dict[str, Any]:
    l_alias, r_alias = left.split(".")[-1], right.split(".")[-1]
    return {"left": {"identifier": left, "alias": l_alias}, "right": {"identifier": right, "alias": r_alias},
            "sql": [cond, "--rt=FROM_RELATIONSHIP_TYPE_MANY_TO_ONE--"]}


SALES_PRODUCTS = join(SALES, PRODUCTS, "`sales`.`prod_id` = `products`.`prod_id`")
SALES_CUSTOMERS = join(SALES, CUSTOMERS, "`sales`.`cust_id` = `customers`.`cust_id`")
CUSTOMERS_REGIONS = join(CUSTOMERS, REGIONS, "`customers`.`rgn_cd` = `regions`.`rgn_cd`")


def sparse_doc() -> dict[str, Any]:
    """Tables only: what a space looks like before anyone curates it."""
    return {"version": 2, "data_sources": {"tables": [{"identifier": t} for t in (CUSTOMERS, PRODUCTS, REGIONS, SALES)]},
            "instructions": {"text_instructions": [], "example_question_sqls": []}}


def space(doc: dict[str, Any]) -> Space:
    return Space.from_serialized(copy.deepcopy(doc), title="shop")


def with_column(doc: dict[str, Any], table: str, column: str, **config: Any) -> dict[str, Any]:
    """A copy of `doc` with one column config added or updated."""
    doc = copy.deepcopy(doc)
    t = next(t for t in doc["data_sources"]["tables"] if t["identifier"] == table)
    cols = t.setdefault("column_configs", [])
    c = next((c for c in cols if c["column_name"] == column), None)
    if c is None:
        c = {"column_name": column}
        cols.append(c)
    c.update(config)
    return doc


def with_instruction(doc: dict[str, Any], key: str, item: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    ins = doc.setdefault("instructions", {})
    if key in ("measures", "filters", "expressions"):
        ins.setdefault("sql_snippets", {}).setdefault(key, []).append(item)
    else:
        ins.setdefault(key, []).append(item)
    return doc


def rows(table) -> list[tuple]:
    """Sorted rows of an Arrow table, floats rounded, for order-insensitive comparisons."""
    out = []
    for r in table.to_pylist():
        out.append(tuple(round(v, 4) if isinstance(v, float) else v for v in r.values()))
    return sorted(out, key=repr)
