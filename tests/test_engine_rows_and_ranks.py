"""The grounded engine (issue 16), fourth batch of development questions: which rows a question names
("Corporate customers", "members who ordered", "products never ordered"), what a ranking is over
("the store with the most orders", "the largest store") and what it must not invent ("value of
cancelled orders" is not their number). Each answer is executed and compared with hand-computed rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from test_engine_grounded import answer_rows, bare_doc, bare_joined, shop

from chaos_llama.tools.backends.local import LocalGenie
from engine_helpers import CUSTOMERS, CUSTOMERS_REGIONS, SALES, join, shop_db, space, with_column, with_instruction

ORDERS = "main.shop.orders"
ORDER_CUSTOMERS = join(ORDERS, CUSTOMERS, "`orders`.`cust_id` = `customers`.`cust_id`")


def sales_snippet(sql: str) -> dict:
    """The measure a curated space calls sales: what "best selling" ranks by."""
    return {"id": "ms", "alias": "net_sales", "display_name": "Net sales", "sql": [f"SUM({sql})"], "synonyms": ["sales"]}


def club_db() -> duckdb.DuckDBPyConnection:
    """Customers with a loyalty tier (NULL: not a member) and their orders; customer 3 ordered only in 2023."""
    con = duckdb.connect()
    con.execute("CREATE TABLE customers(cust_id INTEGER, cust_nm VARCHAR, tier VARCHAR)")
    con.execute("INSERT INTO customers VALUES (1, 'Ada', 'Gold'), (2, 'Bo', NULL), (3, 'Cy', 'Silver'), (4, 'Di', 'Gold'),"
                " (5, 'Ed', NULL)")
    con.execute("CREATE TABLE orders(ord_id INTEGER, cust_id INTEGER, ord_dt DATE, stat_cd VARCHAR)")
    con.execute("""INSERT INTO orders VALUES (1, 1, '2024-02-01', 'C'), (2, 1, '2024-03-01', 'C'), (3, 2, '2024-05-01', 'C'),
                   (4, 3, '2023-06-01', 'C'), (5, 4, '2024-07-01', 'C'), (6, 5, '2024-08-01', 'X')""")
    return con


def club() -> dict:
    doc = with_column(bare_doc("customers", "orders"), CUSTOMERS, "tier", synonyms=["loyalty tier"], enable_entity_matching=True,
                      description=["Loyalty tier; NULL when the customer is not a member."])
    doc = with_instruction(doc, "join_specs", ORDER_CUSTOMERS)
    return with_instruction(doc, "filters", {"id": "f1", "display_name": "completed orders", "sql": ["orders.stat_cd = 'C'"],
                                             "synonyms": ["completed"]})


def test_a_value_before_its_tables_noun_names_which_rows_not_a_breakdown():
    """"how much did Corporate customers spend": the segment filters the customers; before, "customers"
    followed by the measure was read as a breakdown by customer name."""
    con = shop_db()
    con.execute("ALTER TABLE customers ADD COLUMN seg VARCHAR")
    con.execute("UPDATE customers SET seg = CASE WHEN cust_id IN (1, 2) THEN 'Corporate' ELSE 'Consumer' END")
    doc = with_column(shop(), CUSTOMERS, "seg", synonyms=["segment"], enable_entity_matching=True)
    doc = with_column(doc, SALES, "amt", synonyms=["revenue", "sales", "spend"])
    assert answer_rows(con, doc, "how much did Corporate customers spend in 2024") == [(75.0,)]  # sales 4 and 7
    assert answer_rows(con, doc, "how much did Corporate segment customers spend in 2024") == [(75.0,)]
    assert sorted(answer_rows(con, doc, "how much did each customer spend in 2024")) == [
        ("Ada", 70.0), ("Bo", 5.0), ("Cy", 10.0), ("Di", 25.0), ("Ed", 60.0)]


def test_customers_who_ordered_are_counted_once_and_dated_by_their_orders():
    """"how many customers ordered in 2024" counts customers with a 2024 order (4), not the orders (5);
    "Gold members ordered" counts the members the tier names, not their orders."""
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "how many customers ordered in 2024") == [(4,)]
    assert answer_rows(con, doc, "how many customers have ordered in 2024") == [(4,)]
    assert answer_rows(con, doc, "how many loyalty members ordered in 2024") == [(2,)]  # Ada and Di
    assert answer_rows(con, doc, "how many Gold members ordered in 2024") == [(2,)]


def test_rows_that_must_not_exist_are_reached_through_the_tables_between_and_dated_by_their_own_date():
    """"products never ordered" goes products -> sales lines -> orders; "customers with no orders in
    2024" applies the period to the orders that must not exist, not to the customers."""
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "which customers have never placed an order") == []
    assert answer_rows(con, doc, "how many customers had no orders in 2024") == [(1,)]  # Cy ordered only in 2023
    assert answer_rows(con, doc, "which customers had no orders in 2024") == [("Cy",)]
    con.execute("CREATE TABLE products(prod_id INTEGER, prod_nm VARCHAR)")
    con.execute("INSERT INTO products VALUES (10, 'Widget'), (11, 'Gizmo'), (12, 'Kite')")
    con.execute("CREATE TABLE order_lines(ord_id INTEGER, prod_id INTEGER, qty INTEGER)")
    con.execute("INSERT INTO order_lines VALUES (1, 10, 1), (2, 10, 2), (4, 11, 1)")
    doc["data_sources"]["tables"] += [{"identifier": "main.shop.products"}, {"identifier": "main.shop.order_lines"}]
    doc = with_instruction(doc, "join_specs", join("main.shop.order_lines", ORDERS, "`order_lines`.`ord_id` = `orders`.`ord_id`"))
    doc = with_instruction(doc, "join_specs", join("main.shop.order_lines", "main.shop.products",
                                                   "`order_lines`.`prod_id` = `products`.`prod_id`"))
    assert answer_rows(con, doc, "which products have never been ordered") == [("Kite",)]
    assert answer_rows(con, doc, "how many products have never been ordered") == [(1,)]


def test_the_noun_before_with_the_most_is_what_is_ranked():
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "the customer with the most orders in 2024") == [("Ada", 2)]


def test_a_singular_ranking_fills_an_examples_limit_with_one():
    """An example "Top N customers by revenue" answers "which customer spent the most" with its top row;
    a plural ranking without a number shows every row, ranked."""
    con = shop_db()
    doc = with_instruction(shop(), "example_question_sqls", {
        "id": "e1", "question": ["Top N customers by revenue"],
        "sql": ["SELECT c.cust_nm, SUM(s.amt) AS revenue FROM main.shop.sales s JOIN main.shop.customers c "
                "ON c.cust_id = s.cust_id GROUP BY c.cust_nm ORDER BY revenue DESC LIMIT :n"],
        "parameters": [{"name": "n", "type_hint": "INT"}]})
    g = LocalGenie(con)
    top = g.ask_sync(space(doc), "top customer by revenue")
    assert top.status == "COMPLETED" and top.details["grounding"].get("example"), top.reason
    assert con.execute(top.sql.replace("main.shop.", "")).fetchall() == [("Ada", 170.0)]
    assert len(answer_rows(con, doc, "top customers by revenue")) == 5


def test_an_average_of_a_column_per_its_own_row_is_the_plain_average():
    """"average list price per product": each product row is one already; no breakdown by product."""
    con = shop_db()
    doc = with_column(shop(), "main.shop.products", "list_prc", synonyms=["list price"])
    assert answer_rows(con, doc, "average list price per product") == [(5.75,)]
    assert sorted(answer_rows(con, doc, "average list price per category")) == [("Gadgets", 7.0), ("Kids' Corner", 7.0),
                                                                                  ("Toys", 2.0)]


def test_largest_ranks_by_the_rows_own_size_column_and_puts_unknown_sizes_last():
    """"the largest store" ranks by the column the space calls store size, not by sales; a store without
    a size (an online store) is never the smallest."""
    con = duckdb.connect()
    con.execute("CREATE TABLE stores(store_id INTEGER, store_nm VARCHAR, city VARCHAR, sq_ft INTEGER)")
    con.execute("INSERT INTO stores VALUES (1, 'Central', 'Oslo', 900), (2, 'Harbour', 'Bergen', 2500), (3, 'Web', NULL, NULL)")
    doc = with_column(bare_doc("stores"), "main.shop.stores", "sq_ft", synonyms=["store size"])
    assert answer_rows(con, doc, "what is our largest store") == [("Harbour", 2500)]
    assert answer_rows(con, doc, "the smallest store") == [("Central", 900)]
    assert [r[0] for r in answer_rows(con, doc, "in which city is our largest store")] == ["Bergen"]
    a = LocalGenie(con).ask_sync(space(bare_doc("stores")), "what is our largest store")
    assert a.status == "NO_SQL", a.sql  # no size column is named, and nothing else to rank by


def test_the_value_of_rows_is_never_answered_with_their_number():
    con, doc = club_db(), club()
    a = LocalGenie(con).ask_sync(space(doc), "value of completed orders in 2024")
    assert a.status == "NO_SQL" and "value" in a.reason, a.sql
    assert answer_rows(con, doc, "completed orders in 2024") == [(4,)]


@pytest.mark.parametrize("question, expected", [("how many orders were placed on weekends in 2024", [(1,)]),
                                                ("how many orders on Saturdays", [(0,)])])
def test_weekends_are_saturdays_and_sundays(question, expected):
    con, doc = club_db(), club()  # 2024-03-01 is a Friday, 2024-08-01 a Thursday, 2024-02-01 a Thursday...
    con.execute("INSERT INTO orders VALUES (7, 2, '2024-06-02', 'C')")  # a Sunday
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), question)
    assert a.status == "COMPLETED", a.reason
    assert [tuple(r.values()) for r in g.execute(a.sql, space=space(doc)).to_pylist()] == expected


# ---------------------------------------------------------------- batch 7: rates, thresholds per row, periods
def stores_db() -> tuple[duckdb.DuckDBPyConnection, dict]:
    con = duckdb.connect()
    con.execute("CREATE TABLE stores(store_id INTEGER, store_nm VARCHAR, sq_ft INTEGER)")
    con.execute("INSERT INTO stores VALUES (1, 'Central', 1000), (2, 'Harbour', 2000), (3, 'Web', NULL)")
    con.execute("CREATE TABLE orders(ord_id INTEGER, store_id INTEGER, ord_dt DATE, amt DOUBLE, units INTEGER)")
    con.execute("""INSERT INTO orders VALUES (1, 1, '2024-01-05', 300, 2), (2, 1, '2024-02-06', 200, 7), (3, 2, '2024-03-07', 1000, 9),
                   (4, 3, '2024-04-08', 50, 1), (5, 2, '2025-02-01', 400, 3), (6, 1, '2025-03-01', 100, 1)""")
    doc = with_column(bare_doc("stores", "orders"), "main.shop.stores", "sq_ft", synonyms=["square feet", "store size"])
    doc = with_column(doc, ORDERS, "amt", synonyms=["revenue", "sales"])
    doc = with_column(doc, ORDERS, "units", synonyms=["units"])
    doc = with_instruction(doc, "join_specs", join(ORDERS, "main.shop.stores", "`orders`.`store_id` = `stores`.`store_id`"))
    doc = with_instruction(doc, "text_instructions", {"content": ["Data covers orders from 2024-01-01 to 2025-03-31."]})
    return con, doc


def test_a_measure_per_a_quantity_column_is_a_rate_per_row_of_that_column():
    """"revenue per square foot by store" divides each store's revenue by its size (stores without a
    size have no rate); "square foot" matches the synonym "square feet"; without "by store" it is refused,
    since the column has one value per store."""
    con, doc = stores_db()
    assert sorted(answer_rows(con, doc, "revenue per square foot by store in 2024")) == [("Central", 0.5), ("Harbour", 0.5)]
    assert answer_rows(con, doc, "which store had the highest revenue per square foot in 2025") == [("Harbour", 0.2)]
    a = LocalGenie(con).ask_sync(space(doc), "revenue per square foot in 2024")
    assert a.status == "NO_SQL" and "by stores" in a.reason, a.sql


def test_how_many_rows_have_a_measure_over_a_threshold_counts_those_rows():
    """"how many stores had more than 400 in revenue in 2024" counts the stores whose 2024 revenue is over
    400 (Central 500, Harbour 1000), also where the space defines the count of stores as a measure; before,
    the threshold was applied to single orders (only order 3 is over 400)."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", {"id": "m2", "alias": "store_count", "display_name": "Store count",
                                             "sql": ["COUNT(DISTINCT stores.store_id)"], "synonyms": ["number of stores"]})
    assert answer_rows(con, doc, "how many stores had more than 400 in revenue in 2024") == [(2,)]
    # the orders named: each order is compared (only Harbour has a 2024 order over 400)
    assert answer_rows(con, doc, "how many stores had orders with revenue over 400 in 2024") == [(1,)]


def test_year_to_date_with_its_year_is_that_year_up_to_the_data():
    con, doc = stores_db()
    assert answer_rows(con, doc, "year to date revenue for 2025") == [(500.0,)]
    assert answer_rows(con, doc, "revenue year to date") == [(500.0,)]


def test_ranks_by_time_or_length_never_default_to_the_sales_measure():
    """"which store is the oldest" has nothing to rank by here; it was answered with the top store by sales."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "net_revenue", "display_name": "Net revenue",
                                             "sql": ["SUM(orders.amt)"], "synonyms": ["net revenue", "sales"]})
    a = LocalGenie(con).ask_sync(space(doc), "which store is the oldest")
    assert a.status == "NO_SQL", a.sql
    assert answer_rows(con, doc, "top store by revenue") == [("Harbour", 1400.0)]


def test_a_quantity_column_beside_a_measure_with_vs_is_summed_not_a_breakdown():
    """"total units vs revenue in 2024": two totals; before, the units column became a breakdown."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "net_revenue", "display_name": "Net revenue",
                                             "sql": ["SUM(orders.amt)"], "synonyms": ["net revenue"]})
    assert sorted(answer_rows(con, doc, "units vs net revenue in 2024")[0]) == [19, 1550.0]


# ---------------------------------------------------------------- defog-style: shared names, lookups, NULL groups
def geo() -> tuple[duckdb.DuckDBPyConnection, dict]:
    """Columns and values several tables share (state_name, area, country_name), as in defog geography."""
    con = duckdb.connect()
    con.execute("CREATE TABLE state(state_name VARCHAR, population BIGINT, area DOUBLE, country_name VARCHAR, capital VARCHAR,"
                " density DOUBLE)")
    con.execute("INSERT INTO state VALUES ('Ohio', 90, 11, 'United States', 'Columbus', 8.2), ('Texas', 50, 5, 'United States',"
                " 'Austin', 10.0), ('Ontario', 80, 8, 'Canada', 'Toronto', 10.0)")
    con.execute("CREATE TABLE lake(lake_name VARCHAR, area DOUBLE, country_name VARCHAR, state_name VARCHAR)")
    con.execute("INSERT INTO lake VALUES ('Erie', 200, 'United States', 'Ohio'), ('Huron', 300, 'United States', 'Ohio'),"
                " ('Victoria', 800, 'Tanzania', NULL), ('Malawi', 700, 'Tanzania', NULL), ('Baikal', 900, 'Russia', NULL)")
    con.execute("CREATE TABLE river(river_name VARCHAR, length BIGINT, country_name VARCHAR)")
    con.execute("INSERT INTO river VALUES ('Rhine', 900, 'Germany'), ('Danube', 700, 'Germany'), ('Nile', 1000, 'Egypt')")
    doc = bare_doc("state", "lake", "river")
    for t, cols in (("state", ("state_name", "country_name")), ("lake", ("state_name", "country_name")),
                    ("river", ("country_name",))):
        for c in cols:
            doc = with_column(doc, f"main.shop.{t}", c, enable_entity_matching=True)
    return con, with_column(doc, "main.shop.state", "density", description=["The population density of the state"])


def test_a_value_several_tables_hold_belongs_to_the_table_of_the_column_asked_for():
    """"Ohio" is a state_name of state and of lake: "the population density of Ohio" and "the capital of
    Texas" read it from state, the table whose column is asked for, and list that column for those rows."""
    con, doc = geo()
    assert answer_rows(con, doc, "What is the population density of Ohio?") == [("Ohio", 8.2)]
    assert answer_rows(con, doc, "What is the capital of Texas?") == [("Texas", "Austin")]
    assert answer_rows(con, doc, "what is the population of Ohio") == [(90,)]


def test_a_column_several_tables_have_belongs_to_the_table_the_question_names_by_its_noun():
    """"area" is lake.area and state.area; "the states" decides, though "United States" is a value of both."""
    con, doc = geo()
    assert answer_rows(con, doc, "What is the total area of the states in the United States?") == [(16.0,)]


@pytest.mark.parametrize("question, expected", [
    ("What is the longest river in Germany?", [("Rhine", 900)]),
    ("which lake is the largest", [("Baikal", 900.0)]),
    ("the shortest river", [("Danube", 700)]),
])
def test_length_and_size_ranks_order_by_the_rows_length_or_area(question, expected):
    con, doc = geo()
    assert answer_rows(con, doc, question) == expected


def test_a_ranking_of_a_columns_values_never_answers_null():
    """Three lakes have no state: "which state has the most lakes" is Ohio (2), not NULL (3)."""
    con, doc = geo()
    assert answer_rows(con, doc, "Which state has the most lakes?") == [("Ohio", 2)]


def test_an_example_that_lists_rows_does_not_answer_a_total():
    """An example "Get the cities in the United States and their population" (as the optimizer writes it for
    defog geography) must not answer "the total population of all cities in the United States" with the list."""
    con, doc = geo()
    con.execute("CREATE TABLE city(city_name VARCHAR, population BIGINT, country_name VARCHAR, state_name VARCHAR)")
    con.execute("INSERT INTO city VALUES ('Toledo', 30, 'United States', 'Ohio'), ('Austin', 40, 'United States', 'Texas'),"
                " ('Toronto', 70, 'Canada', 'Ontario')")
    doc["data_sources"]["tables"].append({"identifier": "main.shop.city", "column_configs": [
        {"column_name": "country_name", "enable_entity_matching": True}]})
    doc = with_instruction(doc, "example_question_sqls", {
        "id": "e1", "question": ["Get the cities in the United States and their population"],
        "sql": ["SELECT city_name, population FROM main.shop.city WHERE country_name ILIKE '%' || :country_name || '%'"],
        "parameters": [{"name": "country_name", "type_hint": "STRING",
                        "description": ["a country_name value of city, e.g. 'United States'"]}]})
    assert answer_rows(con, doc, "What is the total population of all cities in the United States?") == [(70,)]
    assert sorted(answer_rows(con, doc, "Get the cities in Canada and their population")) == [("Toronto", 70)]


def test_the_number_of_a_count_column_of_rows_is_its_sum():
    """"the total number of citations of publications in 2020" sums citation_num; "citations" was read as a
    breakdown of a count of publications."""
    con = duckdb.connect()
    con.execute("CREATE TABLE publication(pid INTEGER, title VARCHAR, citation_num INTEGER, year INTEGER)")
    con.execute("INSERT INTO publication VALUES (1, 'A', 4, 2020), (2, 'B', 2, 2020), (3, 'C', 9, 2021)")
    doc = with_column(bare_doc("publication"), "main.shop.publication", "citation_num",
                      description=["The number of citations the publication received"])
    assert answer_rows(con, doc, "What is the total number of citations of publications in 2020?") == [(6,)]
    # reference_num: "references" names it ("number" is what _num abbreviates); "across all" is no breakdown
    con.execute("ALTER TABLE publication ADD COLUMN reference_num INTEGER")
    con.execute("UPDATE publication SET reference_num = pid * 10")
    assert answer_rows(con, doc, "What is the total number of references across all publications in 2020?") == [(30,)]


def academic_db() -> tuple[duckdb.DuckDBPyConnection, dict]:
    """defog academic's shape: publications, a pure pair table to domains, and a cite table whose column
    `cited` shares its word with reference_num's description."""
    con = duckdb.connect()
    con.execute("CREATE TABLE publication(pid INTEGER, title VARCHAR, reference_num INTEGER, year INTEGER)")
    con.execute("INSERT INTO publication VALUES (1, 'A', 10, 2020), (2, 'B', 20, 2020), (3, 'C', 60, 2021)")
    con.execute("CREATE TABLE domain(did INTEGER, name VARCHAR)")
    con.execute("INSERT INTO domain VALUES (1, 'AI'), (2, 'Bio')")
    con.execute("CREATE TABLE domain_publication(did INTEGER, pid INTEGER)")
    con.execute("INSERT INTO domain_publication VALUES (1, 1), (1, 3), (2, 1), (2, 2)")
    con.execute("CREATE TABLE cite(cited INTEGER, citing INTEGER)")
    con.execute("INSERT INTO cite VALUES (1, 2)")
    doc = bare_doc("publication", "domain", "domain_publication", "cite")
    doc = with_column(doc, "main.shop.publication", "reference_num",
                      description=["The number of references cited by the publication"])
    doc = with_column(doc, "main.shop.publication", "year", description=["The year of publication"])
    doc = with_column(doc, "main.shop.cite", "cited", description=["ID of the publication being cited"])
    doc = with_instruction(doc, "join_specs", join("main.shop.domain_publication", "main.shop.publication",
                                                   "`domain_publication`.`pid` = `publication`.`pid`"))
    doc = with_instruction(doc, "join_specs", join("main.shop.domain_publication", "main.shop.domain",
                                                   "`domain_publication`.`did` = `domain`.`did`"))
    return con, doc


def test_an_average_through_a_pair_table_is_per_group_of_the_grouped_table():
    """domain_publication pairs domains and publications: per domain each publication appears once, so the
    average of reference_num per domain is sound (AI: 10 and 60, Bio: 10 and 20); "cited", a word of
    reference_num's description, is context, not the cite table's column."""
    con, doc = academic_db()
    assert sorted(answer_rows(con, doc, "What is the average number of references cited by publications in each domain name?")) \
        == [("AI", 35.0), ("Bio", 15.0)]


def test_order_lines_are_no_pair_table_an_order_can_repeat_within_a_group():
    """A table with columns of its own (qty) is no pair table: an order with two lines in one category would
    count twice, so a sum of an order column per category stays refused."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders(ord_id INTEGER, ship_fee DOUBLE)")
    con.execute("CREATE TABLE products(prod_id INTEGER, cat_nm VARCHAR)")
    con.execute("CREATE TABLE lines(ord_id INTEGER, prod_id INTEGER, qty INTEGER)")
    doc = bare_doc("orders", "products", "lines")
    doc = with_instruction(doc, "join_specs", join("main.shop.lines", "main.shop.orders", "`lines`.`ord_id` = `orders`.`ord_id`"))
    doc = with_instruction(doc, "join_specs", join("main.shop.lines", "main.shop.products", "`lines`.`prod_id` = `products`.`prod_id`"))
    a = LocalGenie(con).ask_sync(space(doc), "total ship fee per product")
    assert a.status == "NO_SQL" and "repeat" in a.reason, a.sql


def test_the_rows_own_verb_and_ordering_by_an_aggregated_column():
    """"publications published in each year": the publications' own verb; "ordered by the number of
    references" orders by the aggregated column's name (a raw column there was a SQL error)."""
    con, doc = academic_db()
    assert answer_rows(con, doc, "What is the total number of publications published in each year?") == [(2020, 2), (2021, 1)]
    assert answer_rows(con, doc, "How many publications were published in 2020?") == [(2,)]
    got = answer_rows(con, doc, "What are the top 2 titles of the publications that have the highest number of references "
                                "cited, ordered by the number of references cited in descending order?")
    assert [r[0] for r in got] == ["C", "B"]


def test_a_description_saying_which_rows_have_no_value_names_the_others_by_its_adjective():
    """"City of a physical store; NULL for the online stores": "physical stores" are the stores with a city,
    in counts and as filters of a ranking per group; "order volume" is the number of orders."""
    con, doc = stores_db()
    con.execute("ALTER TABLE stores ADD COLUMN city VARCHAR")
    con.execute("UPDATE stores SET city = CASE WHEN store_id = 3 THEN NULL ELSE 'Oslo' END")
    doc["data_sources"]["tables"][0]["column_configs"].append(
        {"column_name": "city", "description": ["City of a physical store; NULL for the online stores."]})
    assert answer_rows(con, doc, "how many physical stores do we have") == [(2,)]
    assert answer_rows(con, doc, "revenue from physical stores in 2024") == [(1500.0,)]
    doc = with_instruction(doc, "measures", {"id": "m3", "alias": "units", "display_name": "Units sold",
                                             "sql": ["SUM(orders.units)"], "synonyms": ["volume"]})
    assert answer_rows(con, doc, "order volume 2024") == [(4,)]


def test_a_measure_per_entity_broken_down_is_the_average_per_entity():
    """"revenue per order by store": each store's average order (Central: 300, 200 and 100 in 2024-25)."""
    con, doc = stores_db()
    got = dict(answer_rows(con, doc, "revenue per order by store"))
    assert got == {"Central": 200.0, "Harbour": 700.0, "Web": 50.0}


@pytest.mark.parametrize("question, expected", [
    ("weakest store by revenue in 2024", [("Web", 50.0)]),
    ("how much revenue did we shift in 2025", [(500.0,)]),
])
def test_colloquial_rank_and_sales_words(question, expected):
    con, doc = stores_db()
    assert answer_rows(con, doc, question) == expected


def test_a_dash_between_words_separates_clauses_like_a_comma():
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "gold members - how many have we got") == [(2,)]


def promo_db() -> tuple[duckdb.DuckDBPyConnection, dict]:
    """Promotions grant a discount percent; order lines carry their own discount (the space's "discount")."""
    con, doc = club_db(), club()
    con.execute("CREATE TABLE promotions(promo_id INTEGER, promo_nm VARCHAR, disc_pct DOUBLE)")
    con.execute("INSERT INTO promotions VALUES (1, 'Spring', 0.1), (2, 'Black Friday', 0.3)")
    con.execute("CREATE TABLE lines(ord_id INTEGER, promo_id INTEGER, amt DOUBLE, disc_pct DOUBLE)")
    con.execute("INSERT INTO lines VALUES (1, 1, 100, 0.05), (2, 2, 900, 0.5), (3, NULL, 40, 0.0)")
    doc["data_sources"]["tables"] += [{"identifier": "main.shop.promotions"}, {"identifier": "main.shop.lines", "column_configs": [
        {"column_name": "disc_pct", "synonyms": ["discount"]}, {"column_name": "amt", "synonyms": ["revenue", "sales"]}]}]
    doc = with_instruction(doc, "join_specs", join("main.shop.lines", "main.shop.promotions", "`lines`.`promo_id` = `promotions`.`promo_id`"))
    return con, doc


def test_a_rank_or_average_over_a_tables_rows_reads_that_tables_own_column():
    """"which promotion had the biggest discount" ranks promotions by their disc_pct ("discount percent"),
    not by sales (the word "discount", the order lines' synonym, was dropped as context)."""
    con, doc = promo_db()
    assert answer_rows(con, doc, "which promotion had the biggest discount") == [("Black Friday", 0.3)]
    assert answer_rows(con, doc, "average discount of our promotions") == [(0.2,)]


def test_busy_ranks_count_events_and_a_singular_period_is_the_top_one():
    con, doc = club_db(), club()  # 2024: Feb 1 (Thu), Mar 1 (Fri), May 1 (Wed), Jul 1 (Mon), Aug 1 (Thu)
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), "busiest day of the week for orders in 2024")
    assert a.status == "COMPLETED", a.reason
    assert [tuple(r.values()) for r in g.execute(a.sql, space=space(doc)).to_pylist()] == [("Thursday", 2)]


def test_months_listed_before_one_year_share_it():
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "orders in Feb and Mar 2024") == [(2,)]
    assert [r[1] for r in answer_rows(con, doc, "Feb vs Mar 2024 orders")] == [1, 1]


def test_a_catalogs_rows_named_alone_are_listed_and_worth_compares_the_sales():
    """"products launched after June 2024" lists them (it counted); "orders worth more than 100" compares
    each order's sales."""
    con = duckdb.connect()
    con.execute("CREATE TABLE products(prod_id INTEGER, prod_nm VARCHAR, launch_dt DATE)")
    con.execute("INSERT INTO products VALUES (1, 'Kite', '2024-03-01'), (2, 'Yo-yo', '2024-09-01')")
    con.execute("CREATE TABLE orders(ord_id INTEGER, prod_id INTEGER, amt DOUBLE)")
    con.execute("INSERT INTO orders VALUES (1, 1, 50), (2, 2, 150), (3, 2, 250)")
    doc = bare_doc("products", "orders")
    doc = with_instruction(doc, "join_specs", join(ORDERS, "main.shop.products", "`orders`.`prod_id` = `products`.`prod_id`"))
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "sales", "display_name": "Sales", "sql": ["SUM(orders.amt)"],
                                             "synonyms": ["revenue"]})
    assert answer_rows(con, doc, "products launched after June 2024") == [("Yo-yo",)]
    assert answer_rows(con, doc, "how many products launched in 2024") == [(2,)]
    assert answer_rows(con, doc, "how many orders were worth more than 100") == [(2,)]


def test_times_words_ranks_by_date_and_by_price_within_each_group():
    """"more than once" is a number of orders; "opened most recently" ranks by the opening date; "the most
    expensive product in each category" is the top price within each category."""
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "how many customers ordered more than once in 2024") == [(1,)]  # Ada
    con.execute("CREATE TABLE products(prod_id INTEGER, prod_nm VARCHAR, cat_nm VARCHAR, list_price DOUBLE, launch_dt DATE)")
    con.execute("INSERT INTO products VALUES (1, 'Kite', 'Toys', 7, '2023-01-01'), (2, 'Yo-yo', 'Toys', 2, '2024-05-01'),"
                " (3, 'Lamp', 'Home', 30, '2022-02-02')")
    pdoc = with_column(bare_doc("products"), "main.shop.products", "list_price", synonyms=["price"])
    pdoc = with_column(pdoc, "main.shop.products", "cat_nm", synonyms=["category"])
    pdoc = with_column(pdoc, "main.shop.products", "launch_dt", synonyms=["launch date"])
    assert answer_rows(con, pdoc, "which product launched most recently") == [("Yo-yo", dt.date(2024, 5, 1))]
    assert sorted(answer_rows(con, pdoc, "most expensive product in each category")) == [("Home", "Lamp", 30.0),
                                                                                       ("Toys", "Kite", 7.0)]


def test_numeric_codes_a_description_declares_and_averages_over_the_rows_named_after_of():
    """is_open "(1 for open, 0 for closed)": "closed" is is_open = 0 (it was read as SUM(is_open), so the
    ratio of open to closed businesses divided by the open ones); "the average rating of businesses"
    averages each business's average; a one-word review text never takes the word "average"."""
    con = duckdb.connect()
    con.execute("CREATE TABLE business(business_id VARCHAR, name VARCHAR, is_open BIGINT)")
    con.execute("INSERT INTO business VALUES ('a', 'A', 1), ('b', 'B', 1), ('c', 'C', 0), ('d', 'D', 1)")
    con.execute("CREATE TABLE review(rid INTEGER, business_id VARCHAR, rating DOUBLE, text VARCHAR)")
    con.execute("INSERT INTO review VALUES (1, 'a', 5, 'Average'), (2, 'a', 3, 'Great'), (3, 'b', 1, 'Bad')")
    doc = with_column(bare_doc("business", "review"), "main.shop.business", "is_open",
                      description=["Whether the business is open or closed (1 for open, 0 for closed)"])
    doc = with_column(doc, "main.shop.review", "text", enable_entity_matching=True)
    doc = with_instruction(doc, "join_specs", join("main.shop.review", "main.shop.business",
                                                   "`review`.`business_id` = `business`.`business_id`"))
    assert answer_rows(con, doc, "how many closed businesses are there") == [(1,)]
    assert answer_rows(con, doc, "What is the ratio of open businesses to closed businesses?") == [(3.0,)]
    assert answer_rows(con, doc, "What is the average rating of businesses?") == [(2.5,)]  # (4 + 1) / 2
    assert answer_rows(con, doc, "average rating of reviews") == [(3.0,)]


# ---------------------------------------------------------------- multi-step shapes (dev batch 10)
def test_multi_step_shapes_overall_comparison_difference_running_total_and_top_share():
    """"stores with revenue above the overall revenue per order"... four shapes on the stores data:
    a measure per row against its value over all rows, "how much more ... than", a running total along a
    time grain, and the share the top N rows make together; "more ... than" with one side missing is refused."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "aov", "display_name": "Average order value",
                                             "sql": ["SUM(orders.amt) / COUNT(DISTINCT orders.ord_id)"], "synonyms": ["AOV"]})
    doc = with_column(doc, "main.shop.stores", "store_nm", enable_entity_matching=True, synonyms=["store"])
    # AOV: Central 200, Harbour 700, Web 50; overall 2050 / 6 = 341.67
    assert answer_rows(con, doc, "stores with an AOV above the overall AOV") == [("Harbour", 700.0)]
    assert answer_rows(con, doc, "how much more revenue did Harbour make than Central in 2024") == [(500.0,)]
    a = LocalGenie(con).ask_sync(space(doc), "how much more revenue did Harbour make in 2024 than in 2025")
    assert a.status == "NO_SQL" and "than" in a.reason, a.sql
    got = answer_rows(con, doc, "cumulative revenue by month in 2024")
    assert [r[-1] for r in got] == [300.0, 500.0, 1500.0, 1550.0]
    got = answer_rows(con, doc, "what share of revenue came from our top 1 store")  # Harbour: 1400 of 2050
    assert len(got) == 1 and got[0][0] == pytest.approx(68.29, abs=0.01)


def test_a_breakdown_through_a_value_and_country_demonyms():
    """"revenue for each US store": by store, among the US ones (the value had swallowed the breakdown);
    "Canadian customers" are those with country code CA."""
    con, doc = stores_db()
    con.execute("ALTER TABLE stores ADD COLUMN country_cd VARCHAR")
    con.execute("UPDATE stores SET country_cd = CASE WHEN store_id = 2 THEN 'CA' ELSE 'US' END")
    doc["data_sources"]["tables"][0]["column_configs"].append(
        {"column_name": "country_cd", "description": ["ISO 3166-1 alpha-2 country code of the store"]})
    assert sorted(answer_rows(con, doc, "2024 revenue for each US store")) == [("Central", 500.0), ("Web", 50.0)]
    assert answer_rows(con, doc, "how many Canadian stores") == [(1,)]


def test_rows_compared_with_the_average_row_counted_or_listed():
    """"how many customers spent more than the average customer": the customers whose total beats the mean
    total (the comparison had been read as the customer count against its own average); "which stores had
    fewer orders than the average store": each store's orders against the mean."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", {"id": "m1", "alias": "net_revenue", "display_name": "Net revenue",
                                             "sql": ["SUM(orders.amt)"], "synonyms": ["spend", "revenue"]})
    # 2024 revenue per store: Central 500, Harbour 1000, Web 50; mean 516.67
    assert answer_rows(con, doc, "how many stores made more revenue than the average store in 2024") == [(1,)]
    assert sorted(r[0] for r in answer_rows(con, doc, "which stores had fewer orders than the average store in 2024")) == [
        "Harbour", "Web"]  # orders: Central 2, Harbour 1, Web 1; mean 1.33


def test_hyphenated_names_and_the_most_rows_per_period():
    """"check-ins" names the table `checkin` (hyphenated words are one where only the joined word names
    something; "in-store" stays two); "which day of the week has the most check-ins" sums its counts per day."""
    con = duckdb.connect()
    con.execute("CREATE TABLE checkin(cid INTEGER, business_id VARCHAR, count INTEGER, day VARCHAR)")
    con.execute("INSERT INTO checkin VALUES (1, 'a', 10, 'Monday'), (2, 'b', 20, 'Tuesday'), (3, 'a', 15, 'Monday')")
    doc = bare_doc("checkin")
    assert answer_rows(con, doc, "Which day of the week has the most check-ins?") == [("Monday", 25)]
    assert answer_rows(con, doc, "total check-ins on Tuesdays") == [(20,)]


def test_everyday_names_of_academic_rows():
    """"papers" are the publications (world knowledge, like country names), when nothing in the space is
    called paper and only one table is called publication; a space with a paper table keeps its own."""
    con, doc = academic_db()
    assert answer_rows(con, doc, "how many papers were published in 2020") == [(2,)]
    con.execute("CREATE TABLE paper(paper_id INTEGER, title VARCHAR)")
    con.execute("INSERT INTO paper VALUES (1, 'X')")
    doc["data_sources"]["tables"].append({"identifier": "main.shop.paper"})
    assert answer_rows(con, doc, "how many papers are there") == [(1,)]


def test_which_values_have_more_than_n_rows_group_the_counted_tables_own_column():
    """"Which countries have more than one river?": country_name of river, not of another table with one."""
    con, doc = geo()
    assert answer_rows(con, doc, "Which countries have more than one river?") == [("Germany", 2)]


def test_having_any_value_and_the_value_of_rows():
    """"customers who have a loyalty tier" are those with one (an example "customers at a given tier" filled
    its default 'Gold'); "biggest order value" is refused, never the number of orders."""
    con, doc = club_db(), club()
    assert answer_rows(con, doc, "how many customers have a loyalty tier") == [(3,)]
    doc = with_instruction(doc, "example_question_sqls", {
        "id": "e1", "question": ["Number of customers at a given loyalty tier"],
        "sql": ["SELECT COUNT(*) FROM main.shop.customers c WHERE c.tier = :tier"],
        "parameters": [{"name": "tier", "type_hint": "STRING", "default_value": {"values": ["Gold"]}}]})
    assert answer_rows(con, doc, "how many customers have a loyalty tier") == [(3,)]
    a = LocalGenie(con).ask_sync(space(doc), "the most order value by customer")
    assert a.status == "NO_SQL" and "value" in a.reason, a.sql


def test_median_of_a_column_and_a_filler_verb():
    con, doc = stores_db()  # 2024 order amounts 300, 200, 1000, 50
    assert answer_rows(con, doc, "median revenue in 2024") == [(250.0,)]
    assert answer_rows(con, doc, "total revenue collected in 2025") == [(500.0,)]


def test_verbs_of_motion_are_filler():
    """"how many rivers flow through each country": the optimizer had taught "flow" as the name of a measure."""
    con, doc = geo()
    assert sorted(answer_rows(con, doc, "How many rivers flow through each country?")) == [("Egypt", 1), ("Germany", 2)]


@pytest.mark.parametrize("question, expected", [
    ("top store by revenue each year", [(2024, "Harbour", 1000.0), (2025, "Harbour", 400.0)]),
    ("worst selling store in each year", [(2024, "Web", 50.0), (2025, "Central", 100.0)]),
])
def test_a_rank_with_each_period_ranks_within_every_period(question, expected):
    """"top store by revenue each year" is the top store of every year; before, one row over all years
    (Harbour's 2024) was answered. "worst selling" names the sales measure: the stores are ranked, not
    counted per year."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", sales_snippet("orders.amt"))
    assert sorted((r[0].year if hasattr(r[0], "year") else r[0], *r[1:]) for r in answer_rows(con, doc, question)) == expected


def test_the_period_right_after_a_rank_is_ranked_within_each_larger_period():
    """"the best month for sales in each year", with the space's month expression: March 2024 (1000) and
    February 2025 (400); before, one month over both years was answered."""
    con, doc = stores_db()
    doc = with_instruction(doc, "expressions", {"id": "e1", "alias": "order_month", "display_name": "Order month",
                                                "sql": ["DATE_TRUNC('MONTH', orders.ord_dt)"], "synonyms": ["month"]})
    rows = answer_rows(con, doc, "the best month for sales in each year")
    assert sorted((r[0], r[1].month, r[2]) for r in rows) == [(2024, 3, 1000.0), (2025, 2, 400.0)]


def test_best_selling_rows_per_group_are_ranked_by_sales_not_counted():
    """"best selling product in each category" ranks products by sales within each category; before, the
    products were counted per category and the categories ranked."""
    con, doc = shop_db(), with_instruction(shop(), "measures", sales_snippet("sales.amt"))
    rows = answer_rows(con, doc, "best selling product in each category")
    assert sorted(r[:2] for r in rows) == [("Gadgets", "Widget"), ("Kids' Corner", "Kite"), ("Toys", "Yo-yo")]


def test_the_average_named_by_the_listed_groups_own_word_and_rows_listed_with_more_than_average():
    """"which categories beat the average category revenue in 2024": 2024 sales are Gadgets 95, Kids' Corner
    60, Toys 15 (mean 56.67); "stores with fewer orders than the average store" lists the stores without a
    "which" (orders per store in 2024: Central 2, Harbour 1, Web 1)."""
    con, doc = shop_db(), shop()
    assert sorted(r[0] for r in answer_rows(con, doc, "which categories beat the average category revenue in 2024")) == [
        "Gadgets", "Kids' Corner"]
    con, doc = stores_db()
    assert sorted(r[0] for r in answer_rows(con, doc, "stores with fewer orders than the average store in 2024")) == [
        "Harbour", "Web"]


def test_the_part_named_right_before_share_and_a_null_group_named_with_too():
    """"Western Europe's share of 2024 sales": 140 of 170 (the possessive's part was refused as unnamed);
    "Gold members' share of orders" keeps both words in the part; "showing non-members too" asks for the
    NULL tier as its own group."""
    con = shop_db()
    doc = with_instruction(shop(), "join_specs", CUSTOMERS_REGIONS)
    assert answer_rows(con, doc, "Western Europe's share of 2024 sales") == [(pytest.approx(100 * 140 / 170),)]
    con, doc = club_db(), club()
    orders = {"id": "m1", "alias": "orders", "display_name": "Orders", "sql": ["COUNT(DISTINCT orders.ord_id)"],
              "synonyms": ["orders"]}
    # orders 1, 2 (Ada, Gold), 3 (Bo), 4 (Cy, Silver), 5 (Di, Gold), 6 (Ed): "Gold members'" is one part; before,
    # "members" was the part and "Gold" filtered every row (100%)
    assert answer_rows(con, with_instruction(doc, "measures", orders), "Gold members' share of orders") == [(50.0,)]
    assert sorted(answer_rows(con, doc, "customers per loyalty tier, showing non-members too"), key=str) == [
        ("Gold", 2), ("Silver", 1), (None, 2)]


def test_rows_named_then_their_own_date_verb_are_listed():
    """"stores that opened after 2020" and "which stores opened after 2020" list the stores by their opening
    date; before, the first counted them and the second was refused. "how many" still counts."""
    con, doc = stores_db()
    con.execute("ALTER TABLE stores ADD COLUMN open_dt DATE")
    con.execute("UPDATE stores SET open_dt = CASE store_id WHEN 1 THEN DATE '2019-05-01' WHEN 2 THEN DATE '2022-03-01'"
                " ELSE DATE '2023-09-01' END")
    con.execute("CREATE TABLE regions(rgn_id INTEGER, rgn_nm VARCHAR)")  # stores are then no catalog: they refer on
    con.execute("ALTER TABLE stores ADD COLUMN rgn_id INTEGER")
    doc["data_sources"]["tables"].append({"identifier": "main.shop.regions"})
    doc = with_instruction(doc, "join_specs", join("main.shop.stores", "main.shop.regions", "`stores`.`rgn_id` = `regions`.`rgn_id`"))
    for q in ("stores that opened after 2020", "which stores opened after 2020"):
        assert sorted(r[0] for r in answer_rows(con, doc, q)) == ["Harbour", "Web"], q
    assert answer_rows(con, doc, "how many stores opened after 2020") == [(2,)]


def test_unique_rows_in_a_period_are_those_the_one_dated_table_refers_to():
    """"unique customers in 2024" counts the customers with a 2024 order (Ada, Bo, Di, Ed), not customers
    dated by their own signup date, which was refused as unnamed."""
    con, doc = club_db(), club()
    con.execute("ALTER TABLE customers ADD COLUMN signup_dt DATE")
    con.execute("UPDATE customers SET signup_dt = DATE '2022-01-01'")
    assert answer_rows(con, doc, "unique customers in 2024") == [(4,)]
    assert answer_rows(con, doc, "number of distinct customers in 2023") == [(1,)]


def aov_doc(doc: dict) -> dict:
    return with_instruction(doc, "measures", {"id": "ma", "alias": "aov", "display_name": "Average order value",
                                              "sql": ["SUM(orders.amt) / COUNT(DISTINCT orders.ord_id)"], "synonyms": ["AOV"]})


def test_the_growth_of_a_ratio_measure_divides_by_the_whole_base():
    """AOV 2024 = 1550 / 4 = 387.5, 2025 = 500 / 2 = 250: -35.48%. Before, the base's division was not
    parenthesized (`/ SUM(...) / COUNT(...)`) and the growth came out as 0."""
    con, doc = stores_db()
    rows = answer_rows(con, aov_doc(doc), "how did AOV change from 2024 to 2025 in %")
    assert rows[0][-1] == pytest.approx(100 * (250 - 387.5) / 387.5, abs=0.01)


def test_the_company_average_is_the_measure_over_all_rows_not_the_mean_of_the_rows():
    """Store A: ten orders of 100, B: one of 1000, C: one of 200. The company AOV is 2200 / 12 = 183.33 (C is
    above it); the mean of the stores' AOVs is 433.33 (C is below it)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE stores(store_id INTEGER, store_nm VARCHAR)")
    con.execute("INSERT INTO stores VALUES (1, 'A'), (2, 'B'), (3, 'C')")
    con.execute("CREATE TABLE orders(ord_id INTEGER, store_id INTEGER, amt DOUBLE)")
    con.execute("INSERT INTO orders SELECT i, 1, 100 FROM range(10) t(i)")
    con.execute("INSERT INTO orders VALUES (10, 2, 1000), (11, 3, 200)")
    doc = bare_joined("stores", "orders", "store_id")
    doc = aov_doc(doc)
    assert sorted(r[0] for r in answer_rows(con, doc, "stores with an AOV above the company average")) == ["B", "C"]
    assert sorted(r[0] for r in answer_rows(con, doc, "stores with an AOV above the average")) == ["B"]


def test_an_average_across_a_columns_groups_is_the_mean_of_the_group_totals():
    """"average sales across categories": Gadgets 235, Kids' Corner 90, Toys 15, mean 113.33; "per category"
    stays each category's figure."""
    con, doc = shop_db(), shop()
    assert answer_rows(con, doc, "average sales across categories") == [(pytest.approx(340 / 3, abs=0.01),)]
    assert len(answer_rows(con, doc, "average sales per category")) == 3


def test_rows_kept_by_a_threshold_written_after_them_and_n_or_more():
    """"stores with more than 1 order in 2024" lists Central (2 orders), as "which stores ..." does; "2 or
    more" is at least 2 (it was refused as "'or more' is not followed by a number")."""
    con, doc = stores_db()
    for q in ("stores with more than 1 orders in 2024", "stores with 2 or more orders in 2024"):
        assert [(r[0], r[-1]) for r in answer_rows(con, doc, q)] == [("Central", 2)], q
    assert answer_rows(con, doc, "how many stores had 2 or more orders in 2024") == [(1,)]


def test_growth_of_a_nouns_count_a_split_by_a_column_and_a_null_group_after_with():
    """"order growth by year" where the space counts orders (4 in 2024, 2 in 2025: -50%); "category split
    of sales in 2024" breaks the sales down by category; "... with non-members as a separate group" keeps
    the NULL tier (the clause had swallowed the whole question)."""
    con, doc = stores_db()
    doc = with_instruction(doc, "measures", {"id": "mo", "alias": "orders", "display_name": "Order count",
                                             "sql": ["COUNT(DISTINCT orders.ord_id)"], "synonyms": ["number of orders"]})
    rows = answer_rows(con, doc, "order growth by year")
    assert rows[-1][-1] == pytest.approx(-50.0)
    con = shop_db()
    assert sorted(answer_rows(con, shop(), "category split of sales in 2024")) == [
        ("Gadgets", 95.0), ("Kids' Corner", 60.0), ("Toys", 15.0)]
    con, doc = club_db(), club()
    assert sorted(answer_rows(con, doc, "customers per loyalty tier with non-members as a separate group"), key=str) == [
        ("Gold", 2), ("Silver", 1), (None, 2)]


def test_rows_sharing_a_value_are_refused_not_grouped_without_it():
    """"categories with more than one product with the same name": the shared name was dropped and the
    products counted per category."""
    con, doc = shop_db(), shop()
    a = LocalGenie(con).ask_sync(space(doc), "categories with more than one product with the same name")
    assert a.status == "NO_SQL" and "same" in a.reason, a.sql


def returns_db() -> tuple[duckdb.DuckDBPyConnection, dict]:
    """Orders (R: returned) and their returns, with a reason and a refund; the space calls returned orders
    "returns" and "refunded orders", as the curated retail space does."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders(ord_id INTEGER, ord_dt DATE, stat_cd VARCHAR, amt DOUBLE)")
    con.execute("INSERT INTO orders VALUES (1, '2024-01-02', 'R', 900), (2, '2024-02-03', 'R', 300), (3, '2024-03-04', 'R', 50),"
                " (4, '2024-04-05', 'C', 70), (5, '2023-05-06', 'R', 20)")
    con.execute("CREATE TABLE returns(ret_id INTEGER, ord_id INTEGER, ret_dt DATE, ret_rsn VARCHAR, refund_amt DOUBLE)")
    con.execute("INSERT INTO returns VALUES (1, 1, '2024-01-09', 'Damaged', 900), (2, 2, '2024-02-09', 'Damaged', 300),"
                " (3, 3, '2024-03-09', 'Late', 50), (4, 5, '2023-05-09', 'Late', 20)")
    doc = with_column(bare_doc("orders", "returns"), "main.shop.returns", "ret_rsn", synonyms=["reason"])
    doc = with_column(doc, "main.shop.returns", "refund_amt", synonyms=["refund"])
    doc = with_instruction(doc, "join_specs", join("main.shop.returns", ORDERS, "`returns`.`ord_id` = `orders`.`ord_id`"))
    doc = with_instruction(doc, "filters", {"id": "fr", "display_name": "returned orders", "sql": ["orders.stat_cd = 'R'"],
                                            "synonyms": ["returns", "refunded orders"]})
    doc = with_instruction(doc, "measures", {"id": "mr", "alias": "return_rate", "display_name": "Return rate",
                                             "sql": ["100.0 * COUNT_IF(orders.stat_cd = 'R') / COUNT(*)"],
                                             "synonyms": ["return rate"]})
    return con, doc


def test_the_share_of_a_periods_returned_rows_across_reasons_is_their_split():
    """"what share of 2024 returns were due to each reason": how the 2024 returns split across reasons
    (2 of 3 damaged), not the return rate per reason, which the year between "share of" and "returns" had
    turned it into."""
    con, doc = returns_db()
    rows = answer_rows(con, doc, "what share of 2024 returns were due to each reason")
    assert sorted((r[0], round(r[1], 2)) for r in rows) == [("Damaged", 66.67), ("Late", 33.33)]


def test_a_refund_ranked_or_compared_is_the_amount_and_which_returns_are_the_returns_rows():
    """"which return had the biggest refund" ranks the returns by their refund (the words had read as
    "returned orders" twice and counted them); "returns w/ a refund over $500" compares the amount."""
    con, doc = returns_db()
    assert answer_rows(con, doc, "which return had the biggest refund") == [(1, 900.0)]
    assert answer_rows(con, doc, "how many returns w/ a refund over $100") == [(2,)]


def test_the_latest_or_first_row_by_its_tables_one_date():
    """"date of the most recent return" is the last return date; "when was our first order" the first order
    date (not rounded); "the most recent return" is that row. Before, the returns were counted."""
    con, doc = returns_db()
    assert answer_rows(con, doc, "date of the most recent return") == [(dt.date(2024, 3, 9),)]
    assert answer_rows(con, doc, "when was our first order") == [(dt.date(2023, 5, 6),)]
    assert answer_rows(con, doc, "the most recent return") == [(3, dt.date(2024, 3, 9))]


def test_with_vs_without_and_one_amount_as_a_percent_of_another_are_refused():
    """Both were answered silently wrong: "with vs without a promotion" as the orders without one, grouped by
    order; "refunds as % of sales" as the return rate."""
    con, doc = returns_db()
    doc = with_column(doc, ORDERS, "amt", synonyms=["sales"])
    a = LocalGenie(con).ask_sync(space(doc), "average amt for returns with vs without a refund")
    assert a.status == "NO_SQL" and "with vs without" in a.reason, a.sql
    doc = with_instruction(doc, "measures", {"id": "ms", "alias": "sales", "display_name": "Sales", "sql": ["SUM(orders.amt)"],
                                             "synonyms": ["sales"]})
    a = LocalGenie(con).ask_sync(space(doc), "refunds as % of sales in 2024")
    assert a.status == "NO_SQL" and "divides one amount by another" in a.reason, a.sql


def test_a_period_word_right_after_a_rank_is_ranked():
    """"what was our strongest quarter for sales in 2024": Q1 (1500 against 50); "the best month for sales in 2024":
    March. Before, the period word was skipped as a time word and the year's total answered."""
    con, doc = stores_db()
    rows = answer_rows(con, doc, "what was our strongest quarter for sales in 2024")
    assert [(r[0].month, r[1]) for r in rows] == [(1, 1500.0)]
    assert [(r[0].month, r[1]) for r in answer_rows(con, doc, "best month for sales in 2024")] == [(3, 1000.0)]


def test_year_over_year_growth_for_one_year_compares_it_with_the_year_before():
    """"yoy sales growth for 2025": 2025 (500) against 2024 (1550), -67.74%; before, a LAG over the years
    inside 2025 alone left no base (NULL). "rank stores by yoy sales growth" keeps the stores (they had been
    dropped); a ranked month-over-month growth is refused, not dropped."""
    con, doc = stores_db()
    assert answer_rows(con, doc, "yoy sales growth for 2025")[0][-1] == pytest.approx(100 * (500 - 1550) / 1550, abs=0.01)
    rows = answer_rows(con, doc, "rank stores by yoy sales growth for 2025")
    assert [(r[0], r[-1]) for r in rows][:2] == [("Harbour", -60.0), ("Central", -80.0)]
    a = LocalGenie(con).ask_sync(space(doc), "which store had the highest MoM sales growth in 2025")
    assert a.status == "NO_SQL", a.sql


def test_account_for_names_a_share_and_column_values_kept_by_a_threshold():
    """"what % of sales does each category account for" is each category's share ("account" had matched a
    name column); "categories with more than 1 product" keeps the categories with two or more."""
    con, doc = shop_db(), shop()
    rows = dict((r[0], r[1]) for r in answer_rows(con, doc, "what % of sales does each category account for"))
    assert rows["Gadgets"] == pytest.approx(100 * 235 / 340, abs=0.01)
    assert answer_rows(con, doc, "categories with more than 1 product") == [("Gadgets", 2)]


# ---------------------------------------------------------------- defog-style, batch 9: ratios of named rows, empty and absent
def test_a_ratio_of_one_column_for_two_named_rows_divides_their_values():
    """"the ratio of the length of the Rhine to the length of the Danube" is 900 / 700; it was answered as
    each river's length over itself (1.0 per river). "the area of Texas to the area of Ohio" reads the
    states' own area (5 / 11): "Ohio" also names the state of two lakes, but a state_name of state is the
    state itself."""
    con, doc = geo()
    doc = with_column(doc, "main.shop.river", "river_name", enable_entity_matching=True)
    assert answer_rows(con, doc, "What is the ratio of the length of the Rhine to the length of the Danube?") \
        == [(pytest.approx(900 / 700),)]
    assert answer_rows(con, doc, "What is the ratio of the area of Texas to the area of Ohio?") == [(pytest.approx(5 / 11),)]


def test_an_instruction_to_return_columns_is_no_returns_table():
    """"...? Return the state name and density": "return" opening a later sentence asks to show columns."""
    con, doc = geo()
    assert sorted(answer_rows(con, doc, "What is the population density of each state? Return state name and density")) \
        == [("Ohio", 8.2), ("Ontario", 10.0), ("Texas", 10.0)]


def people_db() -> tuple[duckdb.DuckDBPyConnection, dict]:
    """defog academic's authors and organizations: one author without an organization, one without a homepage;
    organization 3 has no authors."""
    con = duckdb.connect()
    con.execute("CREATE TABLE organization(oid INTEGER, name VARCHAR, homepage VARCHAR)")
    con.execute("INSERT INTO organization VALUES (1, 'Org A', 'a.org'), (2, 'Org B', NULL), (3, 'Org C', 'c.org')")
    con.execute("CREATE TABLE author(aid INTEGER, name VARCHAR, homepage VARCHAR, oid INTEGER)")
    con.execute("INSERT INTO author VALUES (1, 'Ada', 'ada.me', 1), (2, 'Bo', NULL, 1), (3, 'Cy', 'cy.me', 2),"
                " (4, 'Di', 'di.me', NULL)")
    doc = bare_joined("organization", "author", "oid")
    return con, doc


@pytest.mark.parametrize("question, expected", [
    ("Which authors have no homepage?", [("Bo",)]),
    ("How many authors have no homepage?", [(1,)]),
    ("Which authors are not part of any organization?", [("Di",)]),
    ("Which organizations do not have any authors?", [("Org C",)]),
    ("Which authors do not have a homepage?", [("Bo",)]),  # the "not" was dropped: every author was listed
])
def test_no_value_of_a_column_and_no_related_rows_after_not_any(question, expected):
    """"no homepage": the text column is empty (it was refused: 'no' negates something); "not part of any
    organization", "do not have any authors": no related row ("part" was ungrounded, "do" read as a sales verb)."""
    con, doc = people_db()
    assert answer_rows(con, doc, question) == expected


def test_which_values_have_rows_of_one_or_several_tables():
    """"Which countries have lakes" lists the countries once (it listed every lake with its country);
    "both lakes and rivers": the countries in both tables (lake and river have no join of their own)."""
    con, doc = geo()
    con.execute("INSERT INTO river VALUES ('Volga', 800, 'Russia')")
    assert sorted(answer_rows(con, doc, "Which countries have lakes?")) == [("Russia",), ("Tanzania",), ("United States",)]
    assert answer_rows(con, doc, "Which countries have both lakes and rivers?") == [("Russia",)]


def test_a_value_keeps_its_first_word_from_a_column_named_with_its_table():
    """"the area of Lake Superior": "area of lake" (lake.area named with its table) took the word "lake" and
    left "superior" ungrounded; "Get the lakes in Tanzania and their area" lists them (it summed the area);
    "Match strings exactly" says how to compare names ("match" was read as a typo of March)."""
    con, doc = geo()
    con.execute("INSERT INTO lake VALUES ('Lake Superior', 1000, 'United States', NULL)")
    doc = with_column(doc, "main.shop.lake", "lake_name", enable_entity_matching=True)
    assert answer_rows(con, doc, "What is the area of Lake Superior?") == [(1000.0,)]
    assert answer_rows(con, doc, "What is the ratio of the area of Lake Superior to the area of 'Erie'? Match strings exactly") \
        == [(5.0,)]
    assert sorted(answer_rows(con, doc, "Get the lakes in Tanzania and their area")) == [("Malawi", 700.0), ("Victoria", 800.0)]


def test_rows_never_sold_and_a_columns_values_among_rows_sold():
    """A new Top (14) in a new category: "which products have never been sold" lists the Top
    (no sale refers to it; 'never' was ungrounded); "how many categories did we sell in 2024" counts the
    categories of 2024's sales (it answered the units sold); the rows of a column named as never sold are not
    composed ("which categories have never sold": every product unsold, not one)."""
    con, doc = shop_db(), shop()
    con.execute("INSERT INTO products VALUES (14, 'Top', 'Spinners', 3.0)")
    doc.setdefault("instructions", {})["sql_snippets"] = {
        "measures": [{"id": "m1", "alias": "units_sold", "display_name": "Units sold", "sql": ["SUM(sales.qty)"]}]}
    assert answer_rows(con, doc, "which products have never been sold") == [("Top",)]
    assert answer_rows(con, doc, "how many products were never sold") == [(1,)]
    assert answer_rows(con, doc, "how many categories did we sell in 2024") == [(3,)]
    a = LocalGenie(con).ask_sync(space(doc), "which categories have never sold anything")
    assert a.status == "NO_SQL", a.sql


def test_rows_related_to_both_values_are_kept_by_their_distinct_count():
    """"customers who bought both Gadgets and Toys": only Bo bought from each (it was refused, 'it would read
    either'); counted, 1. "which customers bought ..." does not show each sale's key beside the customer. With no
    rows listed or counted, "both" is still refused."""
    con, doc = shop_db(), shop()
    rows = answer_rows(con, doc, "which customers bought both Gadgets and Toys")
    assert [r[0] for r in rows] == ["Bo"]
    assert answer_rows(con, doc, "how many customers bought both Gadgets and Toys") == [(1,)]
    a = LocalGenie(con).ask_sync(space(doc), "revenue from both Gadgets and Toys")
    assert a.status == "NO_SQL" and "both" in a.reason


def test_rows_in_values_another_table_holds_too():
    """"per country in countries with a lake": the rivers of countries that have a lake (lake and river share
    only a country name, no join; it was refused as 'no join spec connects the tables')."""
    con, doc = geo()
    con.execute("INSERT INTO river VALUES ('Volga', 800, 'Russia')")
    assert answer_rows(con, doc, "What is the average length of rivers per country in countries with a lake?") \
        == [("Russia", 800.0)]
    assert answer_rows(con, doc, "How many rivers are there in countries with a lake?") == [(1,)]


def test_top_n_with_the_fewest_ranks_from_the_fewest():
    """"the top 2 publications with the fewest citations": B (2) and A (4); "top" had set the order to
    descending while "fewest" took the minimum, answering the two most cited."""
    con = duckdb.connect()
    con.execute("CREATE TABLE publication(pid INTEGER, title VARCHAR, citation_num INTEGER)")
    con.execute("INSERT INTO publication VALUES (1, 'A', 4), (2, 'B', 2), (3, 'C', 9)")
    doc = with_column(bare_doc("publication"), "main.shop.publication", "citation_num",
                      description=["The number of citations the publication received"])
    rows = answer_rows(con, doc, "What are the top 2 publications with the fewest citations?")
    assert [r[0] for r in rows] == ["B", "A"]


def test_a_unit_between_the_number_and_what_it_measures():
    """"more than 10 square kilometers of area": the states' area over 10 (Ohio, 11); the unit words had hidden
    what was compared ('area' was left unused)."""
    con, doc = geo()
    assert [r[0] for r in answer_rows(con, doc, "Which states have more than 10 square kilometers of area?")] == ["Ohio"]


def test_a_value_written_after_its_columns_name_and_of():
    """"in the city of New York": the column named, then the value as the data spells it, with no value dictionary
    (it was read as the state code NY through the state names the engine knows, leaving "city" unused);
    "offered by the department of Mathematics" is that department, not a breakdown by department, and
    "courses offered" is the courses, not the table course_offering ("offered" matched "offering" by its stem);
    "tips posted in the year 2021" are dated by the tips' year, not the reviews'."""
    con = duckdb.connect()
    con.execute("CREATE TABLE business(business_id VARCHAR, name VARCHAR, city VARCHAR, state VARCHAR)")
    con.execute("INSERT INTO business VALUES ('a', 'Joe', 'New York', 'NY'), ('b', 'Ann', 'Albany', 'NY'), ('c', 'Bo', 'Austin', 'TX')")
    assert answer_rows(con, bare_doc("business"), "How many businesses are in the city of New York?") == [(1,)]
    assert answer_rows(con, bare_doc("business"), "How many businesses are in the state of New York?") == [(2,)]
    assert answer_rows(con, bare_doc("business"), "How many businesses named Joe are there?") == [(1,)]  # a table's name column
    con.execute("CREATE TABLE course(course_id INTEGER, name VARCHAR, department VARCHAR)")
    con.execute("INSERT INTO course VALUES (1, 'Calculus', 'Mathematics'), (2, 'Databases', 'Computer Science')")
    con.execute("CREATE TABLE course_offering(offering_id INTEGER, course_id INTEGER, semester INTEGER)")
    con.execute("INSERT INTO course_offering VALUES (10, 1, 1), (11, 1, 2), (12, 2, 1)")
    doc = bare_joined("course", "course_offering", "course_id")
    rows = answer_rows(con, doc, "What are the names of all the courses offered by the department of Mathematics?")
    assert [r[0] for r in rows] == ["Calculus"]
    con.execute("CREATE TABLE tip(tip_id INTEGER, business_id VARCHAR, year INTEGER)")
    con.execute("INSERT INTO tip VALUES (1, 'a', 2021), (2, 'b', 2022)")
    con.execute("CREATE TABLE review(rid INTEGER, business_id VARCHAR, year INTEGER)")
    con.execute("INSERT INTO review VALUES (1, 'a', 2021), (2, 'a', 2021)")
    assert answer_rows(con, bare_doc("business", "tip", "review"), "How many tips were posted in the year 2021?") == [(1,)]


def test_a_ratio_of_one_measure_for_a_country_and_a_state():
    """"the population of the United States to the population of Ohio": both parts read the states (Ohio names a
    state; the US had been ambiguous between cities and states), and "of Ohio" is the second part's own
    condition, not one for both parts: 140 / 90."""
    con, doc = geo()
    con.execute("CREATE TABLE city(city_name VARCHAR, population BIGINT, country_name VARCHAR)")
    con.execute("INSERT INTO city VALUES ('Toledo', 30, 'United States'), ('Toronto', 70, 'Canada')")
    doc["data_sources"]["tables"].append({"identifier": "main.shop.city", "column_configs": [
        {"column_name": "country_name", "enable_entity_matching": True}]})
    assert answer_rows(con, doc, "What is the ratio of the population of the United States to the population of Ohio?") \
        == [(pytest.approx(140 / 90),)]


def test_a_list_value_is_not_named_by_its_first_item_and_ordered_by_is_ascending():
    """river.traverse holds lists ("Moscow,Samara,Kazan"): "Moscow" is no value of it (it was read as the whole
    list, answering with it); "ordered by area" without a direction is ascending, as SQL orders."""
    con, doc = geo()
    con.execute("ALTER TABLE river ADD COLUMN traverse VARCHAR")
    con.execute("UPDATE river SET traverse = CASE river_name WHEN 'Rhine' THEN 'Basel,Cologne' ELSE 'Vienna,Budapest' END")
    doc = with_column(doc, "main.shop.river", "traverse", enable_entity_matching=True)
    a = LocalGenie(con).ask_sync(space(doc), "Which rivers traverse Basel?")
    assert a.status == "NO_SQL", a.sql
    rows = answer_rows(con, doc, "List the lakes in Tanzania ordered by area")
    assert [r[0] for r in rows] == ["Malawi", "Victoria"]


def test_rows_compared_with_a_named_rows_own_value():
    """"Which lakes are larger than Erie?": larger than that lake's area (200), not the lake Erie itself (it was
    refused: 'larger than' is not followed by a number)."""
    con, doc = geo()
    doc = with_column(doc, "main.shop.lake", "lake_name", enable_entity_matching=True)
    rows = answer_rows(con, doc, "Which lakes are larger than Erie?")
    assert sorted(r[0] for r in rows) == ["Baikal", "Huron", "Malawi", "Victoria"]
    assert answer_rows(con, doc, "How many lakes are larger than Huron?") == [(3,)]


def test_a_period_beside_a_named_date_dates_those_rows_not_the_absent_ones():
    """"customers who signed up in 2024 but never ordered": 2024 is the signup year, and no order at all may
    exist (before, "but" was refused; without it the period moved to the orders that must not exist)."""
    con, doc = club_db(), with_column(club(), CUSTOMERS, "signup_dt", synonyms=["signed up"])
    con.execute("ALTER TABLE customers ADD COLUMN signup_dt DATE")
    con.execute("UPDATE customers SET signup_dt = CASE WHEN cust_id IN (3, 5) THEN DATE '2024-04-01' ELSE DATE '2023-01-01' END")
    con.execute("INSERT INTO customers VALUES (6, 'Flo', NULL, DATE '2024-09-09')")  # signed up in 2024, no order
    assert [r[0] for r in answer_rows(con, doc, "customers who signed up in 2024 but never ordered")] == ["Flo"]
    assert answer_rows(con, doc, "how many customers signed up in 2024 but have never placed an order") == [(1,)]


@pytest.mark.parametrize("question, days", [("orders per weekday in 2024", 4), ("orders on weekdays in 2024", None)])
def test_weekday_is_a_grain_after_by_and_monday_to_friday_after_on(question, days):
    con, doc = club_db(), club()
    g = LocalGenie(con)
    a = g.ask_sync(space(doc), question)
    assert a.status == "COMPLETED", a.reason
    got = [tuple(r.values()) for r in g.execute(a.sql, space=space(doc)).to_pylist()]
    if days is None:  # 2024 orders: Thu 1 Feb, Fri 1 Mar, Wed 1 May, Mon 1 Jul, Thu 1 Aug: all weekdays
        assert got == [(5,)]
    else:
        assert len(got) == days  # Thursday, Friday, Wednesday, Monday


def test_rows_named_with_their_date_are_the_rows_ranked():
    """"which products launched in 2024 sold best": "products launched" names the launch date and the products
    ranked (before, the products were dropped and one total was ordered); a ranking left with nothing to rank
    is refused."""
    from engine_helpers import PRODUCTS, SALES_PRODUCTS, shop_db

    con = shop_db()
    con.execute("ALTER TABLE products ADD COLUMN launch_dt DATE")
    con.execute("UPDATE products SET launch_dt = CASE WHEN prod_id = 10 THEN DATE '2023-03-01' ELSE DATE '2024-02-01' END")
    doc = with_instruction(with_instruction(bare_doc("products", "sales"), "join_specs", SALES_PRODUCTS),
                           "measures", sales_snippet("sales.amt"))
    doc = with_column(doc, PRODUCTS, "launch_dt", synonyms=["launched", "product launched"])
    # all-time sales: Widget 125 (launched 2023), Gizmo 110, Kite 90, Yo-yo 15
    assert answer_rows(con, doc, "which products launched in 2024 sold best") == [("Gizmo", 110.0), ("Kite", 90.0), ("Yo-yo", 15.0)]
    assert answer_rows(con, doc, "which product launched in 2024 sold the most") == [("Gizmo", 110.0)]


@pytest.mark.parametrize("question", ["how did 2024 sales compare to 2023", "sales for each of 2023 and 2024",
                                      "compare sales in 2023 and 2024"])
def test_periods_to_compare_are_one_row_each_not_summed(question):
    """"sales for each of 2023 and 2024": one row per year (before, one total over both years was answered:
    the comparison asked for was silently lost); "combined" still sums them."""
    con = shop_db()
    doc = with_column(shop(), SALES, "amt", synonyms=["revenue", "sales"])
    assert sorted(answer_rows(con, doc, question)) == [(2023, 170.0), (2024, 170.0)]
    assert answer_rows(con, doc, "sales in 2023 and 2024 combined") == [(340.0,)]


def test_a_number_of_the_newest_rows_ranks_them_by_their_one_date():
    """"the 3 most recent sales": that many rows, newest first, by the table's one date column (before,
    "what are the 2 latest sales" counted all sales and kept the first 2 counts: one number, silently
    wrong). Without a number, how many is not said: still refused."""
    con = shop_db()
    doc = shop()
    assert answer_rows(con, doc, "the 3 most recent sales") == [
        (7, dt.date(2024, 11, 11)), (6, dt.date(2024, 8, 30)), (5, dt.date(2024, 3, 20))]
    assert answer_rows(con, doc, "what are the 2 latest sales") == [(7, dt.date(2024, 11, 11)), (6, dt.date(2024, 8, 30))]
    assert answer_rows(con, doc, "show the 2 earliest sales") == [(1, dt.date(2023, 2, 10)), (2, dt.date(2023, 7, 3))]
    assert LocalGenie(con).ask_sync(space(doc), "the newest sales").status == "NO_SQL"


def test_rows_named_after_a_value_of_a_table_beyond_them_join_the_measure_to_it():
    """"what share of sales came from Western Europe customers": the value is the regions', the customers
    are the rows that join the sales to the regions (before, "customers" was left unused and the question
    refused)."""
    con = shop_db()
    doc = with_instruction(shop(), "join_specs", CUSTOMERS_REGIONS)
    # Western Europe customers 1, 3, 5: sales 1, 3, 4, 6, 8 = 100 + 10 + 70 + 60 + 30 = 270 of 340
    assert answer_rows(con, doc, "what share of sales came from Western Europe customers") == [(pytest.approx(79.41, abs=0.01),)]
    assert answer_rows(con, doc, "sales of Western Europe customers in 2024") == [(140.0,)]


def status_filters() -> dict:
    """Two named filters on one status column: active (A) and inactive (I) customers."""
    doc = shop()
    for i, (name, code) in enumerate((("active customers", "A"), ("inactive customers", "I"))):
        doc = with_instruction(doc, "filters", {"id": f"f{i}", "display_name": name, "sql": [f"customers.stat_cd = '{code}'"],
                                                "synonyms": [name.split()[0]]})
    return doc


@pytest.mark.parametrize("question", ["what is the ratio of active customers to inactive customers",
                                      "what's the ratio of active to inactive customers"])
def test_a_ratio_of_two_named_filters_counts_the_rows_they_name(question):
    """Each part is a filter whose name holds the rows' noun; before, "active to inactive customers" (the noun
    named once, after both parts) took the two filters as one condition and refused it as contradictory.
    Active: Ada, Bo, Ed; inactive: Cy, Di."""
    assert answer_rows(shop_db(), status_filters(), question) == [(1.5,)]


def test_two_named_filters_versus_each_other_are_one_group_each():
    """"how many customers are active vs inactive": a row per filter, each counting the rows it keeps
    (before: refused as two filters that cannot both hold)."""
    rows = answer_rows(shop_db(), status_filters(), "how many customers are active vs inactive")
    assert sorted(rows) == [("active customers", 3), ("inactive customers", 2)]


def test_a_share_of_rows_with_either_of_two_values_is_one_part_not_a_breakdown():
    """"what percentage of products are in the Gadgets or Toys category": one share of the products with
    either value (before, "what" with two values read as a breakdown by category and then refused)."""
    assert answer_rows(shop_db(), shop(), "what percentage of products are in the Gadgets or Toys category") == [(75.0,)]
