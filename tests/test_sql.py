"""tools.sql: the read-only gate, the DuckDB transpile (and its known pitfalls) and execution."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from chaos_llama.tools.errors import SQLExecutionError, UnsafeSQL
from chaos_llama.tools.space.model import DataSources, SerializedSpace, Space, Table
from chaos_llama.tools.sql import check_read_only, execute, table_map_for, to_duckdb

TABLE_MAP = {"main.retail.orders": "orders", "main.retail.customers": "customers"}
GOLDEN = Path(__file__).parent / "fixtures" / "data" / "transpile_databricks.sql"
GOLDEN_PG = Path(__file__).parent / "fixtures" / "data" / "transpile_postgres.sql"


def _golden_cases(path: Path = GOLDEN) -> list[tuple[str, str, str, str | None]]:
    cases, lines = [], [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("--")]
    for i, line in enumerate(lines):
        if line.startswith("# title:"):
            same = lines[i + 3].removeprefix("# same as:").strip() if i + 3 < len(lines) and lines[i + 3].startswith("# same as:") else None
            cases.append((line.removeprefix("# title:").strip(), lines[i + 1], lines[i + 2], same))
    return cases


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(
        "CREATE TABLE orders AS SELECT range::INT AS id, range::INT % 3 AS cid, DATE '2024-01-31' + range::INT AS d, "
        "range * 1.5 AS amount FROM range(10)"
    )
    c.execute("CREATE TABLE customers AS SELECT * FROM (VALUES (0, 'ann'), (1, 'bob'), (2, 'cy')) v(id, name)")
    return c


# ---------------------------------------------------------------- read-only gate
@pytest.mark.parametrize(
    "sql, needle",
    [
        ("DROP TABLE orders", "DROP"),
        ("CREATE TABLE x AS SELECT 1", "CREATE"),
        ("INSERT INTO orders VALUES (1)", "INSERT"),
        ("UPDATE orders SET id = 1", "UPDATE"),
        ("DELETE FROM orders", "DELETE"),
        ("MERGE INTO orders USING customers ON orders.id = customers.id WHEN MATCHED THEN DELETE", "MERGE"),
        ("SELECT 1; DROP TABLE orders", "exactly one"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELECT * INTO t2 FROM orders", "INTO"),
    ],
)
def test_rejects_writes_and_batches(sql: str, needle: str) -> None:
    """Anything but a single query is UnsafeSQL, and the message says what was found."""
    with pytest.raises(UnsafeSQL, match=needle):
        check_read_only(sql)


@pytest.mark.parametrize(
    "sql, needle",
    [
        ("COPY orders TO 'out.csv'", "COPY"),
        ("ATTACH 'x.db' AS x", "ATTACH"),
        ("PRAGMA table_info('orders')", "PRAGMA"),
        ("SET memory_limit = '1GB'", "SET"),
        ("CALL pragma_version()", "CALL"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("DETACH x", "DETACH"),
        ("USE x", "USE"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv|READ_CSV"),
        ("SELECT * FROM read_csv_auto('x.csv')", "READ_CSV_AUTO"),
        ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "READ_PARQUET"),
        ("SELECT * FROM read_json_auto('x.json')", "READ_JSON"),
        ("SELECT * FROM glob('/etc/*')", "GLOB"),
        ("SELECT read_text('/etc/passwd')", "READ_TEXT"),
        ("SELECT * FROM read_blob('x')", "READ_BLOB"),
        ("SELECT * FROM sqlite_scan('x.db', 't')", "SQLITE_SCAN"),
        ("SELECT * FROM postgres_scan('host=x', 'public', 't')", "POSTGRES_SCAN"),
        ("SELECT * FROM query('DROP TABLE orders')", "QUERY"),
        ("SELECT * FROM 'data.csv'", "file or URL"),
        ("SELECT * FROM 'https://example.com/x.parquet'", "file or URL"),
        ("SELECT nextval('seq')", "NEXTVAL"),
    ],
)
def test_rejects_side_effects_in_duckdb(sql: str, needle: str) -> None:
    """Statements and functions that touch files, the network, extensions or state are rejected."""
    with pytest.raises(UnsafeSQL, match=needle):
        check_read_only(sql, dialect="duckdb")


def test_rejects_spark_file_paths() -> None:
    """Databricks' path-as-table syntax would read files."""
    with pytest.raises(UnsafeSQL, match="file or URL"):
        check_read_only("SELECT * FROM parquet.`/tmp/data`")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
        "SELECT 1 UNION ALL SELECT 2",
        "VALUES (1), (2)",
        "SELECT * FROM range(3)",
        "SELECT 'DROP TABLE x; COPY' AS s",
    ],
)
def test_accepts_queries(sql: str) -> None:
    check_read_only(sql, dialect="duckdb")


def test_parse_error_is_execution_error() -> None:
    with pytest.raises(SQLExecutionError, match="does not parse"):
        check_read_only("SELEC 1 FROM")


# ---------------------------------------------------------------- transpile
@pytest.mark.parametrize("title, source, expected, same", _golden_cases(), ids=[c[0] for c in _golden_cases()])
def test_golden_transpile(title: str, source: str, expected: str, same: str | None, con: duckdb.DuckDBPyConnection) -> None:
    """Each golden pair transpiles exactly, and the DuckDB side runs."""
    assert to_duckdb(source, table_map=TABLE_MAP) == expected
    con.sql(expected).fetchall()


@pytest.mark.parametrize("title, source, expected, same", _golden_cases(GOLDEN_PG), ids=[c[0] for c in _golden_cases(GOLDEN_PG)])
def test_golden_transpile_postgres(title: str, source: str, expected: str, same: str | None,
                                   con: duckdb.DuckDBPyConnection) -> None:
    """PostgreSQL golds (defog's) translate exactly; the translation runs in DuckDB and, where a
    hand-written DuckDB query says what PostgreSQL returns, gives that result."""
    assert to_duckdb(source, dialect="postgres", table_map=TABLE_MAP) == expected
    got = con.sql(expected).fetchall()
    if same is not None:
        assert got == con.sql(same).fetchall()


def test_functional_dependency_gold_fails_in_duckdb_without_the_rewrite(con: duckdb.DuckDBPyConnection) -> None:
    """The rewrite is needed: DuckDB itself rejects PostgreSQL's functional-dependency GROUP BY."""
    source = "SELECT c.id, c.name, COUNT(o.id) AS n FROM customers c JOIN orders o ON o.cid = c.id GROUP BY c.id"
    with pytest.raises(duckdb.BinderException, match="GROUP BY"):
        con.sql(source).fetchall()
    assert execute(con, source, dialect="postgres").num_rows == 3


def test_date_add_result_is_a_date(con: duckdb.DuckDBPyConnection) -> None:
    """Databricks DATE_ADD returns DATE; plain sqlglot output would return TIMESTAMP in DuckDB."""
    out = execute(con, "SELECT DATE_ADD(d, 1) AS a, DATE_SUB(d, 1) AS b, ADD_MONTHS(d, 1) AS c FROM main.retail.orders WHERE id = 0",
                  table_map=TABLE_MAP)
    assert all(f.type == pa.date32() for f in out.schema)
    assert out.to_pylist() == [{"a": dt.date(2024, 2, 1), "b": dt.date(2024, 1, 30), "c": dt.date(2024, 2, 29)}]


def test_spark_weekday_numbers_keep_their_meaning(con: duckdb.DuckDBPyConnection) -> None:
    """Databricks counts DAYOFWEEK and DOW from Sunday = 1 and WEEKDAY from Monday = 0; DuckDB counts
    all three from Sunday = 0, and plain sqlglot output passes them through unchanged."""
    sql = ("SELECT DAYOFWEEK(d) AS a, EXTRACT(DOW FROM d) AS b, DATE_PART('dayofweek', d) AS c, WEEKDAY(d) AS w, "
           "DATE_FORMAT(d, 'EEEE') AS name FROM main.retail.orders WHERE id IN (0, 1, 6) ORDER BY id")
    assert sqlglot.transpile("SELECT DAYOFWEEK(d)", read="databricks", write="duckdb")[0] == "SELECT DAYOFWEEK(CAST(d AS DATE))"
    out = execute(con, sql, table_map=TABLE_MAP).to_pylist()
    # 2024-01-31 is a Wednesday, 2024-02-01 a Thursday, 2024-02-06 a Tuesday (Databricks' own numbers)
    assert [(r["a"], r["b"], r["c"], r["w"], r["name"]) for r in out] == [
        (4, 4, 4, 2, "Wednesday"), (5, 5, 5, 3, "Thursday"), (3, 3, 3, 1, "Tuesday")]


def test_identifier_clause_runs(con: duckdb.DuckDBPyConnection) -> None:
    out = execute(con, "SELECT IDENTIFIER('id') FROM IDENTIFIER('main.retail.orders') WHERE id < 2 ORDER BY id", table_map=TABLE_MAP)
    assert out.column(0).to_pylist() == [0, 1]


def test_main_catalog_rewrite_runs(con: duckdb.DuckDBPyConnection) -> None:
    """`main` is reserved in DuckDB; three-part Unity Catalog names are mapped to DuckDB tables."""
    sql = ("SELECT c.name, COUNT(*) AS n FROM main.retail.orders JOIN main.retail.customers c "
           "ON main.retail.orders.cid = c.id GROUP BY c.name ORDER BY c.name")
    out = execute(con, sql, table_map=TABLE_MAP)
    assert out.to_pydict() == {"name": ["ann", "bob", "cy"], "n": [4, 3, 3]}


def test_unknown_space_table_suggests(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(SQLExecutionError, match="Did you mean 'main.retail.orders'"):
        to_duckdb("SELECT * FROM main.retail.ordrs", table_map=TABLE_MAP)


@pytest.mark.parametrize("sql", ["SELECT * FROM orders WHERE id = :id", "SELECT * FROM orders WHERE id = {{id}}"])
def test_unbound_parameters_are_rejected(sql: str, con: duckdb.DuckDBPyConnection) -> None:
    """Genie parameter markers never reach DuckDB unbound (`{{id}}` would silently become `$?`)."""
    with pytest.raises(SQLExecutionError, match="unbound parameter.*id"):
        execute(con, sql)


@pytest.mark.parametrize("sql", ["SELECT id FROM orders WHERE d >= :day AND cid = :cid", "SELECT id FROM orders WHERE d >= {{day}} AND cid = {{cid}}"])
def test_parameters_bind_as_literals(sql: str, con: duckdb.DuckDBPyConnection) -> None:
    out = execute(con, sql + " ORDER BY id", params={"day": dt.date(2024, 2, 5), "cid": 1})
    assert out.column("id").to_pylist() == [7]


def test_parameter_values_cannot_inject(con: duckdb.DuckDBPyConnection) -> None:
    out = execute(con, "SELECT * FROM customers WHERE name = :n", params={"n": "x' OR '1'='1"})
    assert out.num_rows == 0
    sql = to_duckdb("SELECT :n AS s", params={"n": "it's; DROP TABLE t"})
    assert sql == "SELECT 'it''s; DROP TABLE t' AS s"


# ---------------------------------------------------------------- execute
def test_max_rows_limits_fetch_not_meaning(con: duckdb.DuckDBPyConnection) -> None:
    """max_rows truncates what is fetched; ORDER BY still applies and the connection stays usable."""
    out = execute(con, "SELECT id FROM orders ORDER BY id DESC", max_rows=3)
    assert out.column("id").to_pylist() == [9, 8, 7]
    assert execute(con, "SELECT COUNT(*) AS n FROM orders", max_rows=0).num_rows == 0
    assert execute(con, "SELECT COUNT(*) AS n FROM orders").column("n").to_pylist() == [10]
    big = execute(con, "SELECT * FROM range(300000)", max_rows=200001)
    assert big.num_rows == 200001


def test_execute_returns_arrow(con: duckdb.DuckDBPyConnection) -> None:
    out = execute(con, "SELECT id, amount FROM orders WHERE id = 2")
    assert isinstance(out, pa.Table) and out.to_pylist() == [{"id": 2, "amount": 3.0}]


def test_execution_error_has_duckdb_message_and_sql(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(SQLExecutionError) as err:
        execute(con, "SELECT no_such_column FROM orders")
    assert "no_such_column" in str(err.value) and "DuckDB SQL: SELECT no_such_column FROM orders" in str(err.value)


def test_unknown_table_never_reaches_a_replacement_scan(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Defense in depth: a table name DuckDB would resolve to a file is refused before running."""
    (tmp_path / "secret.csv").write_text("a\n1\n")
    with pytest.raises(SQLExecutionError, match="does not exist.*Did you mean 'orders'"):
        execute(con, "SELECT * FROM ordrs")
    with pytest.raises((UnsafeSQL, SQLExecutionError)):
        execute(con, f'SELECT * FROM "{tmp_path / "secret.csv"}"', dialect="duckdb")


def test_writes_rejected_by_execute(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UnsafeSQL):
        execute(con, "DELETE FROM orders")
    assert execute(con, "SELECT COUNT(*) AS n FROM orders").column("n").to_pylist() == [10]


def test_postgres_integer_division_truncates() -> None:
    """PostgreSQL int/int truncates; DuckDB's `/` would not. Float operands divide exactly."""
    c = duckdb.connect()
    c.execute("CREATE TABLE t AS SELECT 7::BIGINT AS a, 2::BIGINT AS b, 7.0::DOUBLE AS f")
    out = execute(c, "SELECT a / b AS i, f / b AS x, CAST(a AS FLOAT) / b AS y, -a / b AS n FROM t", dialect="postgres")
    assert out.to_pylist() == [{"i": 3, "x": 3.5, "y": 3.5, "n": -3}]


def test_postgres_month_names_and_time_formatting() -> None:
    c = duckdb.connect()
    c.execute("CREATE TABLE r AS SELECT 'March' AS month, 1200 AS secs")
    out = execute(c, "SELECT EXTRACT(MONTH FROM to_date(month, 'Month')) AS m, "
                     "to_char(to_timestamp(secs)::TIME, 'HH24:MI') AS t FROM r", dialect="postgres")
    assert out.to_pylist() == [{"m": 3, "t": "00:20"}]


def test_table_map_for_space(con: duckdb.DuckDBPyConnection) -> None:
    space = Space(serialized=SerializedSpace(data_sources=DataSources(tables=[
        Table(identifier="main.retail.orders"), Table(identifier="main.retail.customers")])))
    assert table_map_for(space, con) == {"main.retail.orders": "orders", "main.retail.customers": "customers"}
    missing = Space(serialized=SerializedSpace(data_sources=DataSources(tables=[Table(identifier="main.retail.ordrs")])))
    with pytest.raises(SQLExecutionError, match="main.retail.ordrs.*Did you mean 'orders'"):
        table_map_for(missing, con)


def test_table_map_for_prefers_schema_match() -> None:
    c = duckdb.connect()
    c.execute("CREATE SCHEMA retail")
    c.execute("CREATE TABLE retail.orders AS SELECT 1 AS id")
    c.execute("CREATE TABLE orders AS SELECT 2 AS id")
    space = Space(serialized=SerializedSpace(data_sources=DataSources(tables=[Table(identifier="main.retail.orders")])))
    tm = table_map_for(space, c)
    assert tm == {"main.retail.orders": "retail.orders"}
    assert execute(c, "SELECT id FROM main.retail.orders", table_map=tm).column("id").to_pylist() == [1]


def test_doctests() -> None:
    """The examples in the docstrings of the data modules are true."""
    import doctest

    from chaos_llama.tools import pg, sql
    from chaos_llama.tools.data import defog, loaders
    from chaos_llama.tools.judges import compare, execution

    for module in (sql, pg, loaders, defog, compare, execution):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
