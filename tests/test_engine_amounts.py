"""The grounded engine (issue 16), amounts a space derives from several columns: a margin summed per
order line with its product's cost, what a discount rate took off, averages of a summed measure, which
need what they are averaged over, and a filter named with its table's noun ("physical stores"). Each answer is executed and compared with hand-computed rows."""

from __future__ import annotations

import duckdb
from test_engine_grounded import answer_rows, bare_doc, refused

from chaos_llama.tools.backends.local import LocalGenie
from engine_helpers import join, space, with_column, with_instruction

ORDERS, LINES, PRODUCTS, STORES = "main.shop.orders", "main.shop.lines", "main.shop.products", "main.shop.stores"


def till_db() -> duckdb.DuckDBPyConnection:
    """Two stores, their orders, their lines (discount as a fraction) and the products' unit cost."""
    con = duckdb.connect()
    con.execute("CREATE TABLE stores(store_id INTEGER, store VARCHAR)")
    con.execute("INSERT INTO stores VALUES (1, 'North'), (2, 'South')")
    con.execute("CREATE TABLE orders(ord_id INTEGER, ord_dt DATE, store_id INTEGER)")
    con.execute("""INSERT INTO orders VALUES (1, '2024-01-05', 1), (2, '2024-01-20', 2), (3, '2024-02-03', 1),
                   (4, '2023-12-30', 2)""")
    con.execute("CREATE TABLE products(prod_id INTEGER, cost DOUBLE)")
    con.execute("INSERT INTO products VALUES (10, 2.0), (11, 5.0)")
    con.execute("CREATE TABLE lines(ord_id INTEGER, prod_id INTEGER, qty INTEGER, prc DOUBLE, disc DOUBLE)")
    con.execute("""INSERT INTO lines VALUES (1, 10, 2, 10.0, 0.0), (1, 11, 1, 20.0, 0.5), (2, 10, 3, 10.0, 0.1),
                   (3, 11, 2, 20.0, 0.0), (4, 10, 1, 10.0, 0.0)""")
    return con


def till(*measures: dict) -> dict:
    doc = bare_doc("stores", "orders", "lines", "products")
    doc = with_column(doc, LINES, "disc", synonyms=["discount"],
                      description=["Line discount as a fraction of the price (0.10 = 10% off)."])
    doc = with_column(doc, STORES, "store", enable_entity_matching=True)
    doc = with_column(doc, ORDERS, "ord_dt", synonyms=["order date", "date"], description=["Date the order was placed."])
    for j in (join(LINES, ORDERS, "`lines`.`ord_id` = `orders`.`ord_id`"),
              join(ORDERS, STORES, "`orders`.`store_id` = `stores`.`store_id`"),
              join(LINES, PRODUCTS, "`lines`.`prod_id` = `products`.`prod_id`")):
        doc = with_instruction(doc, "join_specs", j)
    for m in measures:
        doc = with_instruction(doc, "measures", m)
    return doc


REVENUE = {"id": "m1", "alias": "revenue", "display_name": "Revenue", "sql": ["SUM(lines.qty * lines.prc * (1 - lines.disc))"],
           "synonyms": ["sales"]}
MARGIN = {"id": "m2", "alias": "gross_margin", "display_name": "Gross margin",
          "sql": ["SUM(lines.qty * (lines.prc * (1 - lines.disc) - products.cost))"], "synonyms": ["margin"]}
DISCOUNTS = {"id": "m3", "alias": "discount_amount", "display_name": "Discount amount",
             "sql": ["SUM(lines.qty * lines.prc * lines.disc)"], "synonyms": ["markdowns"]}


def test_a_measure_multiplying_a_line_by_its_products_cost_is_summed_once_per_line():
    """The margin reads products.cost through each line's product: per line, not a product's rows
    repeated by the join (before, refused as a fan-out)."""
    con = till_db()
    # 2024 lines: 2*(10-2)=16, 1*(10-5)=5, 3*(9-2)=21, 2*(20-5)=30
    assert answer_rows(con, till(REVENUE, MARGIN), "gross margin in 2024") == [(72.0,)]
    assert sorted(answer_rows(con, till(REVENUE, MARGIN), "margin by store in 2024")) == [("North", 51.0), ("South", 21.0)]


def test_a_total_of_a_rate_is_the_spaces_amount_of_it_or_a_refusal():
    """"total discounts" sums what the discount took off where the space defines that amount (not
    "1 - disc" inside revenue); with no such measure, adding up fractions is refused, never summed."""
    con = till_db()
    # 2024 discounts: 1*20*0.5 = 10, 3*10*0.1 = 3
    assert answer_rows(con, till(REVENUE, DISCOUNTS), "total discounts in 2024") == [(13.0,)]
    assert sorted(answer_rows(con, till(REVENUE, DISCOUNTS), "total discount by store in 2024")) == [
        ("North", 10.0), ("South", 3.0)]
    g = refused(LocalGenie(con), till(REVENUE), "total discounts in 2024")
    assert "rate" in g["refused"] and "lines.disc" in g["refused"]
    assert answer_rows(con, till(REVENUE), "average discount in 2024") == [(0.15,)]  # the rate averaged over lines


def test_the_average_of_a_summed_measure_says_over_what_or_is_refused():
    """"average revenue by store" would be each store's total with "average" dropped: refused, naming
    what is missing; "average monthly revenue by store" is each store's mean of its monthly totals."""
    con = till_db()
    g = refused(LocalGenie(con), till(REVENUE), "average revenue by store")
    assert "what the average is taken over" in g["refused"]
    # North: Jan 20+10=30, Feb 40 -> 35; South: Jan 27 -> 27 (2024 only)
    assert sorted(answer_rows(con, till(REVENUE), "average monthly revenue by store in 2024")) == [
        ("North", 35.0), ("South", 27.0)]
    assert answer_rows(con, till(REVENUE), "average monthly revenue in 2024") == [(48.5,)]  # Jan 57, Feb 40


def test_a_filter_named_with_its_tables_noun_keeps_the_noun_for_the_ranked_rows():
    """"which physical store sold the most": the filter "physical stores" names the stores ranked, by sales
    (before, the whole phrase was the filter and the stores' own rows were counted, dated by nothing asked)."""
    con = till_db()
    con.execute("INSERT INTO stores VALUES (3, 'Web')")
    con.execute("INSERT INTO orders VALUES (5, '2024-03-01', 3)")
    con.execute("INSERT INTO lines VALUES (5, 11, 10, 20.0, 0.0)")  # the online store sells the most
    doc = with_column(till(REVENUE), STORES, "store_id", description=["Store key; store 3 is the online store."])
    con.execute("ALTER TABLE stores ADD COLUMN fmt VARCHAR")
    con.execute("UPDATE stores SET fmt = CASE WHEN store_id = 3 THEN 'Online' ELSE 'Outlet' END")
    doc = with_instruction(doc, "filters", {"id": "f1", "display_name": "physical stores", "sql": ["stores.fmt <> 'Online'"],
                                            "synonyms": ["brick-and-mortar stores"]})
    # 2024: North 30 + 40 = 70, South 27, Web 200
    assert answer_rows(con, doc, "which store sold the most in 2024") == [("Web", 200.0)]
    assert answer_rows(con, doc, "which physical store sold the most in 2024") == [("North", 70.0)]
    assert answer_rows(con, doc, "which brick-and-mortar store sold the most in 2024") == [("North", 70.0)]
    assert answer_rows(con, doc, "how many physical stores are there") == [(2,)]


def test_a_percentage_threshold_keeps_rows_by_their_computed_growth_or_share():
    """"grew revenue by more than 10%" keeps rows by their growth and "make up more than 20% of revenue" by
    their share (both refused before); "a share of revenue above 40%" was the revenue itself above 40."""
    from test_engine_grounded import shop

    from engine_helpers import shop_db

    con, doc = shop_db(), shop()
    # revenue by category, 2023 -> 2024: Gadgets 140 -> 95, Kids' Corner 30 -> 60, Toys 0 -> 15 (of 170 in 2024)
    got = answer_rows(con, doc, "which categories grew revenue by more than 10% from 2023 to 2024")
    assert [r[0] for r in got] == ["Kids' Corner"]
    assert answer_rows(con, doc, "fastest growing category by revenue from 2023 to 2024")[0][0] == "Kids' Corner"
    assert answer_rows(con, doc, "slowest growing category by revenue from 2023 to 2024")[0][0] == "Gadgets"
    got = answer_rows(con, doc, "which categories make up more than 20% of 2024 revenue")
    assert sorted(r[0] for r in got) == ["Gadgets", "Kids' Corner"]
    got = answer_rows(con, doc, "categories with a share of 2024 revenue above 40%")
    assert [r[0] for r in got] == ["Gadgets"]


def test_the_share_of_rows_on_weekdays_takes_the_weekday_as_the_part():
    """"share of 2024 orders placed on weekends": the weekend orders over all 2024 orders (before, refused:
    the weekdays were a filter on both, leaving no part)."""
    con = till_db()  # 2024 orders: 5 Jan (Friday), 20 Jan and 3 Feb (Saturdays)
    g = LocalGenie(con)

    def value(question: str) -> float:
        a = g.ask_sync(space(till(REVENUE)), question)
        assert a.status == "COMPLETED", (question, a.reason)
        return round(float(next(iter(a.result.to_pylist()[0].values()))), 2)

    assert value("share of 2024 orders placed on weekends") == 66.67
    assert value("what percent of 2024 revenue came on Saturdays") == round(100 * 67 / 97, 2)  # 27 + 40 of 97


def test_a_share_within_each_group_is_of_the_groups_total():
    """"each category's share of revenue within each region" was each category-region's share of all revenue
    (silently wrong); "each store's share of its region's sales" was refused."""
    from test_engine_grounded import shop

    from engine_helpers import CUSTOMERS_REGIONS, shop_db

    con, doc = shop_db(), with_instruction(shop(), "join_specs", CUSTOMERS_REGIONS)
    # Western Europe: Gadgets 170, Toys 10, Kids' Corner 90 (270); Eastern Europe: Gadgets 65, Toys 5 (70)
    want = {("Gadgets", "Western Europe"): 62.96, ("Toys", "Western Europe"): 3.7, ("Kids' Corner", "Western Europe"): 33.33,
            ("Gadgets", "Eastern Europe"): 92.86, ("Toys", "Eastern Europe"): 7.14}
    for q in ("each category's share of revenue within each region", "share of revenue of each category within its region"):
        got = {(r[0], r[1]): round(float(r[2]), 2) for r in answer_rows(con, doc, q)}
        assert got == want, q
    got = answer_rows(con, doc, "share of revenue by category")  # of all revenue: 235 of 340 for Gadgets
    assert {r[0]: round(float(r[1]), 2) for r in got}["Gadgets"] == round(100 * 235 / 340, 2)


def test_a_decline_keeps_or_ranks_rows_by_negative_growth():
    """"declining revenue" keeps the rows whose growth is below zero, "dropped by more than 10%" below -10%,
    "dropped the most" ranks the lowest growth first (all refused before: 'declining', 'dropped')."""
    from test_engine_grounded import shop

    from engine_helpers import shop_db

    con, doc = shop_db(), shop()  # Gadgets 140 -> 95 (-32%), Kids' Corner 30 -> 60, Toys 0 -> 15
    for q in ("Which categories had declining revenue from 2023 to 2024?",
              "which categories' revenue dropped by more than 10% from 2023 to 2024",
              "which category's revenue dropped the most from 2023 to 2024"):
        assert [r[0] for r in answer_rows(con, doc, q)] == ["Gadgets"], q
    assert answer_rows(con, doc, "which categories' revenue dropped by more than 40% from 2023 to 2024") == []
