"""tools.data.loaders: every source kind loads, bad dumps name file and line, failed builds leave nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chaos_llama.tools.data.loaders import build_database, load_pg_dump
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
    # nextval defaults were dropped (sequences are not copied) and no FK/PK was created
    assert con.sql("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('FOREIGN KEY', 'PRIMARY KEY')").fetchall() == [(0,)]


def test_bad_dump_names_file_and_line_and_rolls_back() -> None:
    con = duckdb.connect()
    with pytest.raises(DataLoadError, match=r"bad_dump\.sql:17: COPY row has 3 fields, expected 2"):
        load_pg_dump(con, FIXTURES / "bad_dump.sql")
    assert _tables(con) == set()  # table `a`, created and filled before the error, is gone too


def test_unterminated_statement_is_reported(tmp_path: Path) -> None:
    dump = tmp_path / "broken.sql"
    dump.write_text("CREATE TABLE public.a (\n    id integer\n);\n\nINSERT INTO public.a (id) VALUES ('1);\n")
    with pytest.raises(DataLoadError, match=r"broken\.sql:5: unterminated ' quote"):
        build_database([dump])


def test_failed_build_leaves_no_database_file(tmp_path: Path) -> None:
    out = tmp_path / "out.duckdb"
    with pytest.raises(DataLoadError, match="bad_dump.sql:17"):
        build_database([FIXTURES / "customers.csv", FIXTURES / "bad_dump.sql"], path=out)
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
