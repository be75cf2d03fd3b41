"""tools.data.loaders: every source kind loads, bad dumps name file and line, failed builds leave nothing."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chaos_llama.tools.data.loaders import DataLoadWarning, build_database, load_pg_dump
from chaos_llama.tools.errors import DataLoadError

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}


def _write_parquet(path: Path) -> Path:
    pq.write_table(pa.table({"sku": ["a", "b"], "price": [1.25, 3.0]}), path)
    return path


def test_csv_file_table_named_by_stem() -> None:
    con = build_database([FIXTURES / "customers.csv"])
    assert _tables(con) == {"customers"}
    assert con.sql("SELECT name, amount FROM customers ORDER BY id").fetchall() == [("ann", 1.5), ("bob", 2.5), ("cy, jr", None)]


def test_parquet_file(tmp_path: Path) -> None:
    con = build_database([_write_parquet(tmp_path / "products.parquet")])
    assert con.sql("SELECT sum(price) FROM products").fetchall() == [(4.25,)]


def test_folder_of_files(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text((FIXTURES / "customers.csv").read_text())
    _write_parquet(folder / "products.parquet")
    (folder / "README.md").write_text("not data")
    con = build_database([folder])
    assert _tables(con) == {"customers", "products"}


def test_duplicate_table_names_rejected(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("id\n1\n")
    with pytest.raises(DataLoadError, match="table 'customers' already loaded"):
        build_database([FIXTURES / "customers.csv", tmp_path / "customers.csv"])


def test_duckdb_file_alone_opens_read_only(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as c:
        c.execute("CREATE TABLE t AS SELECT 42 AS x")
    con = build_database([db])
    assert con.sql("SELECT x FROM t").fetchall() == [(42,)]
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE y (a INT)")  # opened read-only, never modified
    con.close()


def test_duckdb_file_copied_with_other_sources(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as c:
        c.execute("CREATE TABLE t AS SELECT 42 AS x")
        c.execute("CREATE SCHEMA s")
        c.execute("CREATE TABLE s.u AS SELECT 7 AS y")
    con = build_database([db, FIXTURES / "customers.csv"])
    assert con.sql("SELECT x FROM t").fetchall() == [(42,)]
    assert con.sql("SELECT y FROM s.u").fetchall() == [(7,)]
    assert "customers" in _tables(con)
    assert [r[0] for r in con.sql("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall()] == ["memory"]


def test_pg_dump_loads_types_escapes_and_inserts() -> None:
    con = build_database([FIXTURES / "shop_dump.sql"])
    assert _tables(con) == {"customers", "orders"}
    rows = con.sql("SELECT id, notes, signup, balance, vip, feeling FROM customers ORDER BY id").fetchall()
    assert rows[0][1] == "tab\there" and rows[0][3] == pytest.approx(10.123456)  # numeric -> DOUBLE, no rounding
    assert rows[1][1:] == ("line\nbreak; and \\ backslash", None, None, False, "sad")
    assert rows[2][1] == "semi; colon 'quoted'"
    types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'customers'").fetchall())
    assert types["meta"] == "JSON" and types["ip"] == "VARCHAR" and types["balance"] == "DOUBLE"
    notes = con.sql("SELECT note FROM orders ORDER BY order_id").fetchall()
    assert notes == [("first; order",), ("it's fine",), ("escaped ' quote",)]
    # sequences back the nextval defaults; no FK/PK was created
    defaults = dict(con.sql("SELECT column_name, column_default FROM duckdb_columns() WHERE column_default LIKE 'nextval%'").fetchall())
    assert defaults == {"id": "nextval('customers_id_seq')", "order_id": "nextval('orders_id_seq')"}
    assert con.sql("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('FOREIGN KEY', 'PRIMARY KEY')").fetchall() == [(0,)]


def test_bad_dump_strict_names_file_and_line_and_rolls_back() -> None:
    con = duckdb.connect()
    with pytest.raises(DataLoadError, match=r"bad_dump\.sql:17: COPY row has 3 fields, expected 2"):
        load_pg_dump(con, FIXTURES / "bad_dump.sql", strict=True)
    assert _tables(con) == set()  # table `a`, created and filled before the error, is gone too


def test_bad_dump_reports_the_statement_and_loads_the_rest() -> None:
    """Without --strict a statement that cannot load is a problem with file and line (and a
    warning from build_database), and the row-count check names the table it left short."""
    con = duckdb.connect()
    report = load_pg_dump(con, FIXTURES / "bad_dump.sql")
    assert report.tables == {"a": 2, "b": 0} and report.dump_rows == {"a": 2, "b": 2}
    assert [(p.line, p.message.split(";")[0]) for p in report.problems] == [
        (17, "COPY row has 3 fields, expected 2 (id, label) for table b"), (10, "table 'b': the dump holds 2 row(s), 0 loaded")]
    assert report.messages()[0].startswith(f"{FIXTURES / 'bad_dump.sql'}:17: ")
    reports: list = []
    with pytest.warns(DataLoadWarning, match=r"bad_dump\.sql:17: COPY row"):
        built = build_database([FIXTURES / "bad_dump.sql"], reports=reports)
    assert built.sql("SELECT count(*) FROM a").fetchall() == [(2,)] and reports[0].problems == report.problems


def test_unterminated_statement_is_reported(tmp_path: Path) -> None:
    dump = tmp_path / "broken.sql"
    dump.write_text("CREATE TABLE public.a (\n    id integer\n);\n\nINSERT INTO public.a (id) VALUES ('1);\n")
    with pytest.raises(DataLoadError, match=r"broken\.sql:5: unterminated ' quote"):
        build_database([dump])


def test_failed_build_leaves_no_database_file(tmp_path: Path) -> None:
    out = tmp_path / "out.duckdb"
    with pytest.raises(DataLoadError, match="bad_dump.sql:17"):
        build_database([FIXTURES / "customers.csv", FIXTURES / "bad_dump.sql"], path=out, strict=True)
    assert list(tmp_path.iterdir()) == []


def test_build_to_path_then_reopen(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "out.duckdb"
    con = build_database([_write_parquet(tmp_path / "products.parquet"), FIXTURES / "shop_dump.sql"], path=out)
    con.close()
    assert [p.name for p in out.parent.iterdir()] == ["out.duckdb"]
    with duckdb.connect(str(out), read_only=True) as c:
        assert c.sql("SELECT count(*) FROM orders").fetchall() == [(3,)]


def test_table_clash_between_sources_names_file_and_line() -> None:
    with pytest.raises(DataLoadError, match=r"shop_dump\.sql:15: .*customers.*already exists"):
        build_database([FIXTURES / "customers.csv", FIXTURES / "shop_dump.sql"])


def test_missing_and_unsupported_sources(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match="not found"):
        build_database([tmp_path / "nope.csv"])
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataLoadError, match="unsupported data source"):
        build_database([tmp_path / "x.xlsx"])
    with pytest.raises(DataLoadError, match="No data sources"):
        build_database([])


# ---------------------------------------------------------------- PostgreSQL constructs
def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.sql(sql).fetchall()


def test_handwritten_script_loads_as_postgres_would() -> None:
    """SERIAL/BIGSERIAL/SMALLSERIAL keys come from their sequences, a sequence's START/INCREMENT
    and setval are kept, identity columns number from their START, OVERRIDING SYSTEM VALUE keeps
    the given id, domains and enums type their columns, another schema keeps its name."""
    con = duckdb.connect()
    report = load_pg_dump(con, FIXTURES / "pg_handwritten.sql")
    assert report.tables == {"people": 5, "big_ids": 2, "small_ids": 2, "tickets": 5, "badges": 3, "formatted": 1,
                             "sales.orders": 2}
    assert _rows(con, "SELECT id, name FROM people ORDER BY id") == [(1, "Ann"), (2, "Bob"), (3, "Cy"), (4, "Di"), (51, "Fay")]
    assert _rows(con, "SELECT id FROM big_ids ORDER BY id") == [(1,), (2,)]
    assert _rows(con, "SELECT id, label FROM small_ids ORDER BY id") == [(1, "x"), (7, "copied")]
    assert _rows(con, "SELECT ticket_no FROM tickets ORDER BY ticket_no") == [(100,), (110,), (120,), (130,), (140,)]
    assert _rows(con, "SELECT id, code FROM badges ORDER BY id") == [(5, "gold"), (6, "silver"), (42, "special")]
    assert _rows(con, "SELECT id, total FROM sales.orders ORDER BY id") == [(1, decimal.Decimal("10.50")), (2, decimal.Decimal("20.25"))]
    types = dict(_rows(con, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'people'"))
    assert types == {"id": "INTEGER", "name": "VARCHAR", "feeling": "ENUM('happy', 'sad', 'meh')", "born": "INTEGER"}
    assert dict(_rows(con, "SELECT table_name, data_type FROM information_schema.columns WHERE column_name = 'id' "
                           "AND table_name IN ('big_ids', 'small_ids')")) == {"big_ids": "BIGINT", "small_ids": "SMALLINT"}


def test_interval_literals_mean_what_postgres_means() -> None:
    """'15 min' is minutes (not seconds), '1 mon' a calendar month, and time parts are kept."""
    con = duckdb.connect()
    load_pg_dump(con, FIXTURES / "pg_handwritten.sql")
    due = [r[0] for r in _rows(con, "SELECT due FROM tickets ORDER BY ticket_no")]
    assert due == [dt.datetime(2024, 1, 31, 10, 15), dt.datetime(2024, 1, 31, 12, 0), dt.datetime(2024, 2, 3, 10, 0),
                   dt.datetime(2024, 2, 29, 10, 0), dt.datetime(2025, 4, 3, 14, 5, 6)]


def test_formatting_functions_are_computed_as_postgres_does() -> None:
    """TO_CHAR/TO_DATE/TO_TIMESTAMP/TO_NUMBER in an INSERT: the value PostgreSQL stores, also for
    the issue's MySQL-style template (only Y, d and i are PostgreSQL patterns in it)."""
    con = duckdb.connect()
    load_pg_dump(con, FIXTURES / "pg_handwritten.sql")
    stamp, legacy, amount_text, day, at, amount = _rows(con, 'SELECT stamp, legacy_key, amount_text, day, "at", amount FROM formatted')[0]
    assert stamp == "Tuesday, 05 Mar 2024 14:07"
    when = dt.datetime.now() - dt.timedelta(days=8)
    assert re.fullmatch(r"%\d%m%[1-7] %H:%\d:%s", legacy) and legacy[1] == str(when.year)[-1]
    assert (amount_text, day, at, amount) == (" 1,485.50", dt.date(2000, 12, 5), dt.datetime(2024, 3, 5, 14, 7), -12454.8)


def test_unloadable_statement_is_reported_with_its_line_and_the_row_count_gap() -> None:
    con = duckdb.connect()
    report = load_pg_dump(con, FIXTURES / "pg_handwritten.sql")
    assert [(p.line, p.message) for p in report.problems] == [
        (75, "INSERT into people failed: Catalog Error: Scalar Function with name quote_ident does not exist!"),
        (11, "table 'people': the dump holds 6 row(s), 5 loaded"),
    ]
    with pytest.raises(DataLoadError, match=r"pg_handwritten\.sql:75: INSERT into people failed"):
        load_pg_dump(duckdb.connect(), FIXTURES / "pg_handwritten.sql", strict=True)


def test_pg_dump_identity_sequences_partitions_arrays_and_bytea() -> None:
    """pg_dump's own layout: identity and sequence defaults set by ALTER TABLE after the table,
    setval after the data (new rows continue from it), a partition's rows visible in its parent,
    text[] and bytea COPY fields decoded."""
    con = duckdb.connect()
    report = load_pg_dump(con, FIXTURES / "pg_dump_identity.sql", strict=True)
    assert report.ok and report.tables == {"films": 3, "rentals": 2, "rentals_2024": 2}
    films = _rows(con, "SELECT film_id, features, poster, length FROM films ORDER BY film_id")
    assert films[0] == (1, ["Trailers", "Deleted Scenes"], bytes.fromhex("0123ab"), dt.timedelta(hours=1, minutes=57))
    assert films[1][1:3] == ([], None) and films[2][1:3] == (None, b"")
    assert _rows(con, "SELECT rental_id, film_id FROM rentals ORDER BY 1") == [(1, 1), (2, 3)]
    con.execute("INSERT INTO films (title) VALUES ('next')")
    con.execute("INSERT INTO rentals_2024 (film_id, rented) VALUES (1, DATE '2024-05-01')")
    assert _rows(con, "SELECT max(film_id) FROM films") == [(4,)]
    assert _rows(con, "SELECT max(rental_id) FROM rentals_2024") == [(3,)]


def test_many_single_row_inserts_load_as_one_batch_and_bad_rows_are_still_named(tmp_path: Path) -> None:
    """pg_dump --inserts writes one INSERT per row: they run together, and a bad one among them
    is still reported on its own line."""
    lines = ["CREATE TABLE public.t (id integer, v text);"]
    lines += [f"INSERT INTO public.t VALUES ({i}, 'v{i}');" for i in range(1, 1201)]
    lines[600] = "INSERT INTO public.t VALUES ('not a number', 'x');"
    dump = tmp_path / "inserts.sql"
    dump.write_text("\n".join(lines) + "\n")
    con = duckdb.connect()
    report = load_pg_dump(con, dump)
    assert report.tables == {"t": 1199} and report.dump_rows == {"t": 1200}
    assert [p.line for p in report.problems] == [601, 1]
    assert "Could not convert string 'not a number'" in report.problems[0].message
