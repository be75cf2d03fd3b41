"""The only path by which Chaos Llama executes SQL: read-only check, transpile to DuckDB, run.

Every query a backend, judge or loader-user runs goes through `execute`, which

1. parses the SQL (sqlglot, source dialect) and rejects anything but one read-only query
   (`check_read_only`);
2. transpiles it to DuckDB (`to_duckdb`), rewriting Unity Catalog table names through a
   `table_map` and fixing the known places where sqlglot's output silently changes meaning;
3. checks the DuckDB SQL again (defense in depth) and that every table it reads exists in the
   connection's catalog, so DuckDB's replacement scans (`FROM 'file.csv'`) can never fire;
4. runs it and returns an Arrow table, streaming at most `max_rows` rows.

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE orders AS SELECT 1 AS id")
>>> execute(con, "SELECT id FROM main.retail.orders", table_map={"main.retail.orders": "orders"}).num_rows
1
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from .errors import SQLExecutionError, UnsafeSQL, did_you_mean
from .pg import CANONICAL_UNITS, group_by_dependencies, interval_expr, parse_interval
from .space.model import Space

__all__ = ["check_read_only", "to_duckdb", "execute", "table_map_for"]

# Statement kinds that may be executed: queries only.
_QUERY_ROOTS = (exp.Query, exp.Values)

# Node types that write, change session state or reach outside the database. Checked on every
# node, not only the root, so a data-modifying CTE (`WITH x AS (DELETE ... RETURNING *)`) is caught.
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DDL", "DML", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Copy",
        "Command", "Set", "Pragma", "Attach", "Detach", "Use", "Install", "Transaction", "Commit",
        "Rollback", "LoadData", "Grant", "Revoke", "Refresh", "Cache", "Uncache", "Analyze",
        "Kill", "TruncateTable", "Export", "Summarize", "Describe", "Show",
    )
    if hasattr(exp, name)
)

# Functions that read or write files, reach the network, run nested SQL or change state.
_FORBIDDEN_FUNCTIONS = {
    "read_csv", "read_csv_auto", "read_tsv", "read_tsv_auto", "sniff_csv", "read_parquet",
    "parquet_scan", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
    "parquet_kv_metadata", "parquet_bloom_probe", "read_json", "read_json_auto", "read_json_objects",
    "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_text",
    "read_blob", "read_xlsx", "glob", "sqlite_scan", "sqlite_attach", "sqlite_query",
    "postgres_scan", "postgres_scan_pushdown", "postgres_attach", "postgres_query",
    "postgres_execute", "mysql_scan", "mysql_query", "mysql_execute", "iceberg_scan",
    "iceberg_metadata", "iceberg_snapshots", "delta_scan", "st_read", "st_read_meta", "odbc_scan",
    "query", "query_table", "load_aws_credentials", "getenv", "nextval", "setval", "currval",
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import", "lo_export",
    "dblink", "http_get", "http_post", "read_files", "read_file", "csv_scan", "json_scan",
    "arrow_scan", "pandas_scan", "checkpoint", "force_checkpoint", "export_database",
    "import_database", "duckdb_secrets", "which_secret", "enable_logging", "truncate_duckdb_logs",
}
_FORBIDDEN_PREFIXES = ("read_", "parquet_", "sqlite_", "postgres_", "mysql_", "iceberg_", "delta_", "http", "pg_read", "pg_ls")

# Table functions allowed in FROM: they generate rows and touch nothing.
_ALLOWED_TABLE_FUNCTIONS = {"range", "generate_series", "unnest", "explode", "generate_subscripts", "sequence"}

# A table name that names a file or URL (DuckDB replacement scans, Spark's parquet.`/path`).
_FILE_LIKE = re.compile(
    r"(://|[/\\~]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|gz|zst|xlsx|arrow|avro|db|duckdb|sqlite|sqlite3)$)",
    re.IGNORECASE,
)
_SPARK_FILE_FORMATS = {"parquet", "csv", "json", "orc", "delta", "text", "binaryfile", "avro", "iceberg"}

# Schemas that exist in DuckDB itself and are read-only views of its catalog.
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog"}

# Spark-family dialects whose DATE_ADD/DATE_SUB/ADD_MONTHS return DATE.
_SPARK_DIALECTS = {"databricks", "spark", "spark2", "hive"}
_POSTGRES_DIALECTS = {"postgres", "postgresql"}


class ChaosPostgres(Postgres):
    """PostgreSQL as sqlglot reads it, plus the TO_CHAR/TO_DATE month and day names sqlglot does
    not map (`to_date(m, 'Month')` otherwise reaches DuckDB's strptime as the literal 'Month')."""

    TIME_MAPPING = {
        **Postgres.TIME_MAPPING,
        "Month": "%B", "FMMonth": "%B", "Mon": "%b", "Day": "%A", "FMDay": "%A", "Dy": "%a",
    }

    class Parser(Postgres.Parser):
        def _parse_interval_span(self, this: exp.Expr, parse_function_unit: bool = True) -> exp.Interval:
            # sqlglot splits `INTERVAL '1 day 02:00'` on its first unit and keeps words it does not
            # know (`'15 min'` -> `'15' MIN`, 15 seconds in DuckDB): read the text as PostgreSQL does
            raw = this.name if this is not None and this.is_string else None
            node = super()._parse_interval_span(this, parse_function_unit=parse_function_unit)
            if raw is None or not isinstance(node, exp.Interval) or (node.args.get("unit") and node.this.name == raw):
                return node  # `INTERVAL '2' YEAR`: the unit is outside the string
            try:
                return interval_expr(parse_interval(raw))  # type: ignore[return-value]
            except ValueError:
                return node  # not an interval PostgreSQL reads either: DuckDB reports it


POSTGRES_READ = "chaospostgres"


def _read_dialect(dialect: str) -> str:
    return POSTGRES_READ if dialect.lower() in _POSTGRES_DIALECTS else dialect


# ---------------------------------------------------------------- parsing helpers
def _parse_one(sql: str, dialect: str) -> exp.Expr:
    """Parse exactly one statement; parse errors become SQLExecutionError, several statements UnsafeSQL."""
    if not isinstance(sql, str) or not sql.strip():
        raise SQLExecutionError(f"Empty SQL: {sql!r}")
    try:
        statements = [s for s in sqlglot.parse(sql, read=_read_dialect(dialect)) if s is not None]
    except SqlglotError as e:
        raise SQLExecutionError(f"SQL does not parse as {dialect}: {_first_line(e)}\nSQL: {sql}") from e
    except ValueError as e:  # unknown dialect
        raise SQLExecutionError(str(e)) from e
    if len(statements) != 1:
        raise UnsafeSQL(f"Expected exactly one SQL statement, got {len(statements)}: {_short(sql)}")
    return statements[0]


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _short(sql: str, n: int = 200) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= n else sql[: n - 3] + "..."


def _func_names(node: exp.Func) -> set[str]:
    """Every name a function node may be called by (typed sqlglot functions know several)."""
    if isinstance(node, exp.Anonymous):
        return {str(node.name).lower()}
    names = {type(node).__name__.lower()}
    try:
        names.update(n.lower() for n in node.sql_names())
    except Exception:  # pragma: no cover - sqlglot internals vary
        pass
    return names


def _is_forbidden_function(names: set[str]) -> bool:
    # "readcsv"/"readparquet" are sqlglot class names of typed file readers.
    return any(
        n in _FORBIDDEN_FUNCTIONS or n.startswith(_FORBIDDEN_PREFIXES) or n in {"readcsv", "readparquet", "readjson"}
        for n in names
    )


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _table_parts(table: exp.Table) -> list[str]:
    return [p.name for p in table.parts] if table.parts else []


def _check_tree(tree: exp.Expr, sql: str, dialect: str) -> None:
    if not isinstance(tree, _QUERY_ROOTS):
        kind = type(tree).__name__.upper()
        if isinstance(tree, exp.Command):
            kind = str(tree.this).upper()
        raise UnsafeSQL(f"Only read-only queries may run; got a {kind} statement: {_short(sql)}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafeSQL(f"Only read-only queries may run; found {type(node).__name__.upper()}: {_short(node.sql(dialect=dialect))}")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise UnsafeSQL(f"SELECT ... INTO writes a table and is not allowed: {_short(node.args['into'].sql(dialect=dialect))}")
        if isinstance(node, exp.Func) and _is_forbidden_function(_func_names(node)):
            raise UnsafeSQL(
                f"Function {_short(node.sql(dialect=dialect), 120)} reads or writes files, the network or "
                "database state and is not allowed"
            )
        if isinstance(node, exp.Table):
            target = node.this
            if isinstance(target, exp.Func):
                names = _func_names(target)
                if not names & _ALLOWED_TABLE_FUNCTIONS and not names & {"identifier"}:
                    raise UnsafeSQL(
                        f"Table function {_short(target.sql(dialect=dialect), 120)} is not allowed; only "
                        f"{', '.join(sorted(_ALLOWED_TABLE_FUNCTIONS))} may appear in FROM"
                    )
                continue
            parts = _table_parts(node)
            if any(_FILE_LIKE.search(p or "") for p in parts) or (
                len(parts) >= 2 and parts[-2].lower() in _SPARK_FILE_FORMATS and _FILE_LIKE.search(parts[-1])
            ):
                raise UnsafeSQL(f"Table name {node.sql(dialect=dialect)!s} looks like a file or URL; reading files is not allowed")


def check_read_only(sql: str, *, dialect: str = "databricks") -> None:
    """Raise UnsafeSQL unless `sql` is exactly one read-only query (SELECT / WITH / set operation / VALUES).

    Rejects DDL, DML, COPY, ATTACH, PRAGMA, SET, CALL, INSTALL/LOAD, EXPORT, SELECT ... INTO and
    functions that touch files, the network or sequences (read_csv, read_parquet, glob, sqlite_scan,
    nextval, ...). SQL that does not parse raises SQLExecutionError.

    >>> check_read_only("SELECT 1")
    >>> check_read_only("DROP TABLE t")
    Traceback (most recent call last):
    ...
    chaos_llama.tools.errors.UnsafeSQL: Only read-only queries may run; got a DROP statement: DROP TABLE t
    """
    _check_tree(_parse_one(sql, dialect), sql, dialect)


# ---------------------------------------------------------------- parameters
def _placeholder_name(node: exp.Placeholder) -> str | None:
    """`:name` -> name; Genie's `{{name}}` (nested widget placeholders) -> name; `?` -> None."""
    inner: Any = node.this
    while isinstance(inner, exp.Placeholder):
        inner = inner.this
    if inner is None:
        return None
    return inner.name if isinstance(inner, exp.Expr) else str(inner)


def _literal(value: Any, name: str) -> exp.Expr:
    """A SQL literal for a parameter value; never splices raw text into the query."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, _dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, _dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[_literal(v, name) for v in value])
    raise SQLExecutionError(f"Parameter '{name}' has unsupported type {type(value).__name__}: {value!r}")


def _bind_params(tree: exp.Expr, params: Mapping[str, Any] | None, sql: str) -> exp.Expr:
    lookup = {k.lower(): (k, v) for k, v in (params or {}).items()}
    unbound: list[str] = []
    for node in list(tree.find_all(exp.Placeholder)):
        if isinstance(node.parent, exp.Placeholder):
            continue  # the inner part of {{name}}; handled with its outer node
        name = _placeholder_name(node)
        if name is not None and name.lower() in lookup:
            node.replace(_literal(lookup[name.lower()][1], name))
        else:
            unbound.append("?" if name is None else name)
    if unbound:
        names = ", ".join(dict.fromkeys(unbound))
        hint = did_you_mean(unbound[0], [k for k, _ in lookup.values()]) if lookup else ""
        raise SQLExecutionError(
            f"SQL has unbound parameter(s) {names}: pass values with params={{...}} "
            f"(Genie ':name' / '{{{{name}}}}' markers cannot run as-is).{hint}\nSQL: {_short(sql)}"
        )
    return tree


# ---------------------------------------------------------------- table names
def _norm_map(table_map: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower().replace("`", "").replace('"', ""): v for k, v in (table_map or {}).items()}


def _lookup_table(parts: list[str], nmap: dict[str, str]) -> str | None:
    """Match a table reference against the map: full name, then schema.table, then bare name."""
    ref = ".".join(parts).lower()
    if ref in nmap:
        return nmap[ref]
    for n in (2, 1):
        if len(parts) < n:
            continue
        tail = ".".join(parts[-n:]).lower()
        hits = {v for k, v in nmap.items() if k == tail or k.endswith("." + tail)}
        if len(hits) == 1:
            return hits.pop()
        if len(parts) == n and hits:  # ambiguous bare/2-part name: refuse to guess
            raise SQLExecutionError(
                f"Table '{'.'.join(parts)}' is ambiguous; it matches {', '.join(sorted(k for k in nmap if k == tail or k.endswith('.' + tail)))}"
            )
    return None


def _rewrite_tables(tree: exp.Expr, table_map: Mapping[str, str] | None, dialect: str) -> exp.Expr:
    nmap = _norm_map(table_map)
    ctes = _cte_names(tree)
    renamed: dict[tuple[str, ...], str] = {}  # original qualifier parts -> alias columns should use
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Func):
            continue
        parts = _table_parts(table)
        if not parts or (len(parts) == 1 and parts[0].lower() in ctes):
            continue
        if parts[0].lower() in _SYSTEM_SCHEMAS or (len(parts) == 3 and parts[1].lower() in _SYSTEM_SCHEMAS):
            continue
        target = _lookup_table(parts, nmap) if nmap else None
        if target is None:
            if nmap and len(parts) > 1:
                raise SQLExecutionError(
                    f"Table '{'.'.join(parts)}' is not one of the space's tables."
                    + did_you_mean(".".join(parts).lower(), nmap.keys())
                )
            continue
        alias = table.alias
        new = exp.to_table(target, dialect="duckdb")
        new.set("alias", table.args.get("alias") or (exp.TableAlias(this=exp.to_identifier(parts[-1])) if new.name.lower() != parts[-1].lower() or len(new.parts) > 1 else None))
        for key in ("joins", "laterals", "pivots", "hints", "version", "sample", "partition", "when"):
            if table.args.get(key) is not None:
                new.set(key, table.args[key])
        table.replace(new)
        if not alias:
            renamed[tuple(p.lower() for p in parts)] = parts[-1]
    # Columns qualified with a multi-part table name (`retail.orders.id`) now point at the alias.
    if renamed:
        for col in tree.find_all(exp.Column):
            qual = [p.name.lower() for p in (col.args.get("catalog"), col.args.get("db"), col.args.get("table")) if p]
            if len(qual) >= 2:
                for full, alias in renamed.items():
                    if tuple(qual) == full[-len(qual):]:
                        col.set("catalog", None)
                        col.set("db", None)
                        col.set("table", exp.to_identifier(alias))
                        break
    return tree


def _resolve_identifier_clause(tree: exp.Expr, dialect: str) -> exp.Expr:
    """Databricks `IDENTIFIER('a.b.c')` -> the identifier itself (sqlglot passes it through verbatim)."""
    for node in list(tree.find_all(exp.Anonymous)):
        if str(node.name).upper() != "IDENTIFIER":
            continue
        args = node.expressions
        if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise SQLExecutionError(f"IDENTIFIER() needs one string literal (bind parameters first): {node.sql(dialect=dialect)}")
        name = args[0].this
        if isinstance(node.parent, exp.Table) and node.arg_key == "this":
            table = node.parent
            new = exp.to_table(name, dialect=dialect)
            for key, value in table.args.items():
                if key not in ("this", "db", "catalog") and value is not None:
                    new.set(key, value)
            table.replace(new)
        else:
            node.replace(exp.to_column(name, dialect=dialect))
    return tree


# ---------------------------------------------------------------- semantic fixes
def _fix_spark_dates(tree: exp.Expr) -> exp.Expr:
    """Databricks DATE_ADD/DATE_SUB/ADD_MONTHS return DATE; DuckDB's `date + INTERVAL` is a TIMESTAMP."""
    for node in list(tree.find_all(exp.TsOrDsAdd, exp.AddMonths)):
        if isinstance(node, exp.TsOrDsAdd) and node.return_type.this != exp.DataType.Type.DATE:
            continue
        if isinstance(node.parent, exp.Cast):
            continue
        node.replace(exp.cast(node.copy(), exp.DataType.Type.DATE))
    return tree


_SUNDAY_ONE = {"DOW", "DAYOFWEEK"}  # Databricks: Sunday = 1 ... Saturday = 7


def _fix_spark_weekdays(tree: exp.Expr) -> exp.Expr:
    """Databricks numbers DAYOFWEEK and EXTRACT(DOW ...) from Sunday = 1 and WEEKDAY from Monday = 0;
    DuckDB's DAYOFWEEK, DOW and WEEKDAY all count from Sunday = 0 (sqlglot passes them through)."""
    def plus(node: exp.Expr, n: int) -> exp.Expr:
        return exp.paren(exp.Add(this=node, expression=exp.Literal.number(n)))

    for node in list(tree.find_all(exp.DayOfWeek, exp.Extract, exp.Anonymous)):
        if isinstance(node, exp.DayOfWeek):
            node.replace(plus(node.copy(), 1))
        elif isinstance(node, exp.Extract) and node.this.name.upper() in _SUNDAY_ONE:
            node.replace(plus(node.copy(), 1))
        elif isinstance(node, exp.Anonymous):
            name, args = str(node.name).upper(), node.expressions
            if name == "DATE_PART" and len(args) == 2 and args[0].is_string and args[0].name.upper() in _SUNDAY_ONE:
                node.replace(plus(node.copy(), 1))
            elif name == "WEEKDAY" and len(args) == 1:  # Monday = 0 ... Sunday = 6
                node.replace(exp.paren(exp.Mod(this=plus(exp.DayOfWeek(this=args[0].copy()), 6),
                                               expression=exp.Literal.number(7))))
    return tree


def _fix_interval_units(tree: exp.Expr) -> exp.Expr:
    """Interval units as DuckDB reads them: `INTERVAL '15' MIN` is 15 seconds there, `MINUTE` is not."""
    for node in tree.find_all(exp.Interval):
        unit = node.args.get("unit")
        if isinstance(unit, exp.Var) and unit.name.upper() in CANONICAL_UNITS:
            unit.set("this", CANONICAL_UNITS[unit.name.upper()])
    return tree


def _fix_pg_interval_casts(tree: exp.Expr) -> exp.Expr:
    """`'1 day 02:00'::interval` as PostgreSQL reads the text (ISO 8601 and `ago` included)."""
    for cast in list(tree.find_all(exp.Cast)):
        if cast.to.this == exp.DataType.Type.INTERVAL and isinstance(cast.this, exp.Literal) and cast.this.is_string:
            try:
                cast.replace(interval_expr(parse_interval(cast.this.name)))
            except ValueError:
                pass  # DuckDB reports what PostgreSQL would reject too
    return tree


def _fix_time_format(tree: exp.Expr) -> exp.Expr:
    """DuckDB's strftime takes no TIME; PostgreSQL's to_char(time, ...) does. Anchor the time to a date."""
    # DuckDB cannot cast TIMESTAMPTZ (PostgreSQL's to_timestamp(epoch)) to TIME; go through TIMESTAMP.
    for cast in list(tree.find_all(exp.Cast)):
        if cast.to.this == exp.DataType.Type.TIME and (
            isinstance(cast.this, exp.UnixToTime)
            or (isinstance(cast.this, exp.Cast) and cast.this.to.this == exp.DataType.Type.TIMESTAMPTZ)
        ):
            cast.this.replace(exp.cast(cast.this.copy(), exp.DataType.Type.TIMESTAMP))
    for node in tree.find_all(exp.TimeToStr):
        arg = node.this
        if isinstance(arg, exp.Cast) and arg.to.this == exp.DataType.Type.TIME:
            arg.replace(exp.Add(this=exp.cast(exp.Literal.string("1970-01-01"), exp.DataType.Type.DATE), expression=arg.copy()))
    return tree


def _fix_integer_division(tree: exp.Expr, schema: Mapping[str, Mapping[str, str]]) -> exp.Expr:
    """PostgreSQL `int / int` truncates; DuckDB's `/` divides exactly. With column types known,
    divisions of two integers become DuckDB's truncating `//`."""

    divs = list(tree.find_all(exp.Div))
    if not divs:
        return tree
    try:
        typed = qualify(tree.copy(), schema=dict(schema), dialect="chaospostgres", validate_qualify_columns=False,
                        quote_identifiers=False, expand_stars=False)
        annotate_types(typed, schema=dict(schema), dialect="chaospostgres")
    except SqlglotError:
        return tree  # unresolvable names: DuckDB will report them when it runs
    typed_divs = list(typed.find_all(exp.Div))
    if len(typed_divs) != len(divs):  # qualify reshaped the query; do not guess
        return tree
    for div, tdiv in zip(divs, typed_divs):
        # sqlglot types EXTRACT as INT; PostgreSQL's EXTRACT returns numeric (exact division).
        if any(side.find(exp.Extract) for side in (tdiv.left, tdiv.right)):
            continue
        if tdiv.left.is_type(*exp.DataType.INTEGER_TYPES) and tdiv.right.is_type(*exp.DataType.INTEGER_TYPES):
            div.replace(exp.IntDiv(this=div.left.copy(), expression=div.right.copy()))
    return tree


# ---------------------------------------------------------------- public API
def to_duckdb(
    sql: str,
    *,
    dialect: str = "databricks",
    table_map: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    schema: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Transpile one query from `dialect` to DuckDB SQL.

    Table names with 2 or 3 parts are rewritten through `table_map` (space identifier -> DuckDB
    table; matched case-insensitively on the full name, schema.table or bare name) because DuckDB
    reserves `main`, Unity Catalog's default catalog. Parameter markers (`:name`, `{{name}}`) are
    replaced by literals from `params` or rejected. `schema` ({duckdb_table: {column: type}})
    lets PostgreSQL integer division keep its meaning (`execute` passes it).

    >>> to_duckdb("SELECT DATE_ADD(d, 1) FROM main.s.t", table_map={"main.s.t": "t"})
    'SELECT CAST(CAST(d AS DATE) + INTERVAL 1 DAY AS DATE) FROM t'
    """
    tree = _parse_one(sql, dialect)
    tree = _bind_params(tree, params, sql)
    tree = _resolve_identifier_clause(tree, dialect)
    tree = _rewrite_tables(tree, table_map, dialect)
    d = dialect.lower()
    if d in _SPARK_DIALECTS:
        tree = _fix_spark_weekdays(_fix_spark_dates(tree))
    if d in _POSTGRES_DIALECTS:
        tree = group_by_dependencies(_fix_pg_interval_casts(tree))
    if d in _POSTGRES_DIALECTS and schema:
        tree = _fix_integer_division(tree, schema)
    tree = _fix_interval_units(_fix_time_format(tree))
    try:
        return tree.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as e:
        raise SQLExecutionError(f"Cannot transpile {dialect} SQL to DuckDB: {_first_line(e)}\nSQL: {_short(sql)}") from e


def _catalog_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every name a query may use for an existing table or view on this connection."""
    rows = con.sql(
        "SELECT database_name, schema_name, table_name FROM duckdb_tables() "
        "UNION ALL SELECT database_name, schema_name, view_name FROM duckdb_views()"
    ).fetchall()
    current_db, current_schema = con.sql("SELECT current_database(), current_schema()").fetchall()[0]
    names: set[str] = set()
    for db, schema, name in rows:
        db, schema, name = db.lower(), schema.lower(), name.lower()
        names.update({f"{db}.{schema}.{name}", f"{schema}.{name}"})
        if schema == "main":
            names.add(f"{db}.{name}")
        if (db == current_db.lower() and schema == current_schema.lower()) or db == "temp":
            names.add(name)
        if schema in _SYSTEM_SCHEMAS or db == "system":
            names.add(name)
    return names


def _catalog_schema(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Column types of the current schema's tables, as sqlglot's optimizer takes them."""
    schema: dict[str, dict[str, str]] = {}
    rows = con.sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall()
    for table, column, dtype in rows:
        schema.setdefault(table, {})[column] = dtype
    return schema


def _user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal "
        "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
    ).fetchall()]


def _check_tables_exist(tree: exp.Expr, con: duckdb.DuckDBPyConnection, sql: str) -> None:
    # Defense in depth: an unknown table name could trigger a DuckDB replacement scan of a file.
    ctes = _cte_names(tree)
    known = None
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            continue
        parts = [p.lower() for p in _table_parts(table)]
        if not parts or (len(parts) == 1 and parts[0] in ctes):
            continue
        known = _catalog_names(con) if known is None else known
        ref = ".".join(parts)
        if ref not in known:
            raise SQLExecutionError(
                f"Table '{ref}' does not exist in the database." + did_you_mean(ref, _user_tables(con))
                + f"\nDuckDB SQL: {sql}"
            )


def execute(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    dialect: str = "databricks",
    table_map: Mapping[str, str] | None = None,
    max_rows: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Check, transpile and run one read-only query on `con`; return the result as Arrow.

    `max_rows` limits how many rows are fetched (the query itself is not changed, so ORDER BY,
    LIMIT and aggregates keep their meaning). Raises UnsafeSQL for anything but one read-only
    query and SQLExecutionError (with DuckDB's message and the DuckDB SQL) when it fails.
    """

    check_read_only(sql, dialect=dialect)
    schema = _catalog_schema(con) if dialect.lower() in _POSTGRES_DIALECTS and "/" in sql else None
    duck_sql = to_duckdb(sql, dialect=dialect, table_map=table_map, params=params, schema=schema)
    tree = _parse_one(duck_sql, "duckdb")
    _check_tree(tree, duck_sql, "duckdb")
    _check_tables_exist(tree, con, duck_sql)
    if max_rows is not None and max_rows < 0:
        raise SQLExecutionError(f"max_rows must be >= 0, got {max_rows}")
    try:
        rel = con.sql(duck_sql)
        if rel is None:  # pragma: no cover - only statements without results return None
            raise SQLExecutionError(f"Statement returned no result: {duck_sql}")
        if max_rows is None:
            return rel.to_arrow_table()
        # Stream and stop early: the query keeps its meaning (no LIMIT added), and closing the
        # reader releases the rest of the result so the connection stays usable.
        reader = rel.to_arrow_reader(max(1, min(max_rows, 131072)))
        try:
            batches, got = [], 0
            while got < max_rows:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                batches.append(batch)
                got += batch.num_rows
            return pa.Table.from_batches(batches, schema=reader.schema).slice(0, max_rows)
        finally:
            reader.close()
    except duckdb.Error as e:
        raise SQLExecutionError(f"DuckDB error: {_first_line(e)}\nDuckDB SQL: {duck_sql}") from e


def table_map_for(space: Space, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Map each space table identifier to the DuckDB table that holds it.

    Looks for `schema.table` first, then the bare table name. Raises SQLExecutionError naming a
    space table that has no DuckDB counterpart.
    """
    rows = con.sql(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    by_full = {f"{s}.{t}".lower(): (s, t) for s, t in rows}
    by_name: dict[str, list[tuple[str, str]]] = {}
    for s, t in rows:
        by_name.setdefault(t.lower(), []).append((s, t))

    def quote(s: str, t: str) -> str:
        ident = exp.to_identifier(t).sql("duckdb") if s.lower() == "main" else exp.table_(t, db=s).sql("duckdb")
        return ident

    out: dict[str, str] = {}
    for table in space.serialized.tables:
        parts = table.identifier.replace("`", "").split(".")
        key = ".".join(parts[-2:]).lower()
        if len(parts) >= 2 and key in by_full:
            out[table.identifier] = quote(*by_full[key])
            continue
        hits = by_name.get(parts[-1].lower(), [])
        main_hits = [h for h in hits if h[0].lower() == "main"]
        pick = main_hits or hits
        if len(pick) >= 1:
            out[table.identifier] = quote(*pick[0])
            continue
        raise SQLExecutionError(
            f"Space table '{table.identifier}' has no table in the DuckDB database."
            + did_you_mean(parts[-1], [t for _, t in rows])
        )
    return out
