"""Load data sources into DuckDB: CSV/Parquet files or folders, DuckDB files, PostgreSQL dumps.

`build_database` is all-or-nothing: with a `path` it builds into a temporary file next to it
and moves it into place only when every source loaded, so a failed build leaves no partial
database behind; in memory, a failure simply drops the connection.

A single `.duckdb` source with no `path` is opened directly, read-only (no copy: it may be
large, and read-only is what evaluation needs). With other sources or a `path`, its tables are
copied from a read-only ATTACH.

`load_pg_dump` reads pg_dump's plain-text format: CREATE TABLE (types translated to DuckDB),
INSERT statements and `COPY ... FROM stdin` blocks (loaded through Arrow, not row by row).
Ownership, privileges, comments, sequences, indexes and constraints are dropped: evaluation
only reads the data, and pg_dump adds foreign keys after the data that DuckDB could not add.
"""

from __future__ import annotations

import bisect
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from ..errors import DataLoadError, DataNotFound
from ..sql import POSTGRES_READ

__all__ = ["build_database", "load_pg_dump", "DATA_EXTENSIONS"]

# Longest first, so `orders.csv.gz` becomes table `orders`.
_CSV_EXT = (".csv.gz", ".tsv.gz", ".csv.zst", ".csv", ".tsv", ".txt")
_PARQUET_EXT = (".parquet", ".pq")
_DUCKDB_EXT = (".duckdb", ".ddb", ".db")
DATA_EXTENSIONS = _CSV_EXT + _PARQUET_EXT


# ---------------------------------------------------------------- build_database
def build_database(sources: list[str | Path] | str | Path, path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Load every source into one DuckDB database and return a connection to it.

    Args:
        sources: CSV/TSV or Parquet files (table = file stem), folders of them, `.duckdb`
            files, or PostgreSQL plain-text dumps (`.sql`).
        path: where to write the database; in memory when None. An existing file at `path` is
            replaced only after the new database loaded completely.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    srcs = [Path(s).expanduser() for s in sources]
    if not srcs:
        raise DataLoadError("No data sources given; expected CSV/Parquet files or folders, a .duckdb file or a .sql dump")
    for s in srcs:
        if not s.exists():
            raise DataNotFound(f"Data source not found: {s}")
    target = Path(path).expanduser() if path is not None else None
    if target is not None and any(s.resolve() == target.resolve() for s in srcs if target.exists()):
        raise DataLoadError(f"Output database {target} is also a source; choose another path")

    if target is None and len(srcs) == 1 and srcs[0].is_file() and srcs[0].suffix.lower() in _DUCKDB_EXT:
        try:
            return duckdb.connect(str(srcs[0]), read_only=True)
        except duckdb.Error as e:
            raise DataLoadError(f"{srcs[0]}: cannot open DuckDB file: {e}") from e

    if target is None:
        con = duckdb.connect()
        try:
            _load_all(con, srcs)
        except BaseException:
            con.close()
            raise
        return con

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    con = duckdb.connect(str(tmp))
    try:
        _load_all(con, srcs)
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, target)
    except BaseException:
        con.close()
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    return duckdb.connect(str(target))


def _load_all(con: duckdb.DuckDBPyConnection, srcs: list[Path]) -> None:
    loaded: dict[str, Path] = {}  # table name (lowercase) -> where it came from
    for src in srcs:
        if src.is_dir():
            files = sorted(f for f in src.iterdir() if f.is_file() and _is_data_file(f))
            if not files:
                raise DataLoadError(f"{src}: folder holds no CSV/TSV/Parquet files")
            for f in files:
                _load_file(con, f, loaded)
        else:
            _load_file(con, src, loaded)


def _is_data_file(f: Path) -> bool:
    return f.name.lower().endswith(DATA_EXTENSIONS)


def _stem(f: Path) -> str:
    name = f.name
    for ext in DATA_EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return f.stem


def _claim(loaded: dict[str, Path], table: str, src: Path) -> None:
    key = table.lower()
    if key in loaded:
        raise DataLoadError(f"{src}: table '{table}' already loaded from {loaded[key]}; rename one of the files")
    loaded[key] = src


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _load_file(con: duckdb.DuckDBPyConnection, f: Path, loaded: dict[str, Path]) -> None:
    lname = f.name.lower()
    try:
        if lname.endswith(_CSV_EXT):
            table = _stem(f)
            _claim(loaded, table, f)
            con.read_csv(str(f)).create(_q(table))
        elif lname.endswith(_PARQUET_EXT):
            table = _stem(f)
            _claim(loaded, table, f)
            con.read_parquet(str(f)).create(_q(table))
        elif lname.endswith(_DUCKDB_EXT):
            _copy_duckdb(con, f, loaded)
        elif lname.endswith(".sql"):
            for table in load_pg_dump(con, f):
                _claim(loaded, table, f)
        else:
            raise DataLoadError(
                f"{f}: unsupported data source; expected .csv/.tsv, .parquet, .duckdb or a PostgreSQL dump .sql"
            )
    except duckdb.Error as e:
        raise DataLoadError(f"{f}: {str(e).splitlines()[0]}") from e


def _copy_duckdb(con: duckdb.DuckDBPyConnection, f: Path, loaded: dict[str, Path]) -> None:
    alias = f"src_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH {exp.Literal.string(str(f)).sql('duckdb')} AS {alias} (READ_ONLY)")
    try:
        rows = con.sql(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db ORDER BY 1, 2", params={"db": alias}
        ).fetchall()
        if not rows:
            raise DataLoadError(f"{f}: DuckDB file holds no tables")
        for schema, table in rows:
            _claim(loaded, table if schema == "main" else f"{schema}.{table}", f)
            if schema != "main":
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
            con.execute(f"CREATE TABLE {_q(schema)}.{_q(table)} AS SELECT * FROM {alias}.{_q(schema)}.{_q(table)}")
    finally:
        con.execute(f"DETACH {alias}")


# ---------------------------------------------------------------- PostgreSQL dumps
@dataclass
class _Statement:
    line: int  # 1-based line where the statement starts
    sql: str
    copy_rows: list[str] | None = None  # data lines of a COPY ... FROM stdin block
    copy_line: int = 0  # line of the first data row


_SCAN = re.compile(r"'|\"|\$(?:[A-Za-z_]\w*)?\$|--|/\*|;")
_COPY_STDIN = re.compile(r"^\s*COPY\s+.+\s+FROM\s+stdin", re.IGNORECASE | re.DOTALL)


def _split_dump(text: str, source: str) -> Iterator[_Statement]:
    """Split pg_dump text into statements, honouring quotes, dollar quotes and comments, and
    attach the data rows of each `COPY ... FROM stdin` block."""
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    pos, n = 0, len(text)
    while pos < n:
        # Between statements: skip blanks, comments and psql meta-commands (\connect, \restrict).
        m = re.compile(r"\s+").match(text, pos)
        if m:
            pos = m.end()
            continue
        if text.startswith("--", pos) or text.startswith("\\", pos):
            end = text.find("\n", pos)
            pos = n if end < 0 else end + 1
            continue
        start = pos
        while True:
            m = _SCAN.search(text, pos)
            if m is None:
                raise DataLoadError(f"{source}:{line_of(start)}: statement not terminated by ';': {text[start:start + 80]!r}")
            tok, pos = m.group(), m.end()
            if tok == ";":
                break
            if tok == "'":
                escaped = m.start() > 0 and text[m.start() - 1] in "eE" and (m.start() < 2 or not (text[m.start() - 2].isalnum() or text[m.start() - 2] == "_"))
                close = re.compile(r"(?:[^'\\]|\\.|'')*'" if escaped else r"[^']*(?:''[^']*)*'", re.DOTALL).match(text, pos)
            elif tok == '"':
                close = re.compile(r'[^"]*(?:""[^"]*)*"').match(text, pos)
            elif tok == "--":
                end = text.find("\n", pos)
                pos = n if end < 0 else end + 1
                continue
            elif tok == "/*":
                end = text.find("*/", pos)
                close = None if end < 0 else re.compile(r".*?\*/", re.DOTALL).match(text, pos)
            else:  # dollar quote $tag$ ... $tag$
                end = text.find(tok, pos)
                close = None if end < 0 else re.compile(re.escape(tok), re.DOTALL).search(text, pos)
            if close is None:
                raise DataLoadError(f"{source}:{line_of(m.start())}: unterminated {tok} quote or comment")
            pos = close.end()
        stmt = _Statement(line_of(start), text[start:pos])
        if _COPY_STDIN.match(stmt.sql):
            nl = text.find("\n", pos)
            data_start = n if nl < 0 else nl + 1
            end = data_start
            rows: list[str] = []
            while True:
                if end >= n:
                    raise DataLoadError(f"{source}:{stmt.line}: COPY data not terminated by a '\\.' line")
                nl = text.find("\n", end)
                line = text[end: n if nl < 0 else nl]
                end = n if nl < 0 else nl + 1
                if line.rstrip("\r") == "\\.":
                    break
                rows.append(line[:-1] if line.endswith("\r") else line)
            stmt.copy_rows, stmt.copy_line = rows, line_of(data_start)
            pos = end
        yield stmt


# Statements that carry nothing a read-only copy of the data needs.
_SKIP = re.compile(
    r"""^\s*(SET|RESET|SELECT|ALTER|GRANT|REVOKE|COMMENT|SECURITY\s+LABEL|REFRESH|
        CREATE\s+(OR\s+REPLACE\s+)?(SEQUENCE|(UNIQUE\s+)?INDEX|FUNCTION|PROCEDURE|TRIGGER|EVENT\s+TRIGGER|EXTENSION|
        AGGREGATE|OPERATOR|RULE|POLICY|PUBLICATION|SUBSCRIPTION|CAST|COLLATION|TEXT\s+SEARCH|CONVERSION|
        STATISTICS|SERVER|USER\s+MAPPING|FOREIGN|LANGUAGE|ACCESS\s+METHOD|DOMAIN)\b)""",
    re.IGNORECASE | re.VERBOSE,
)
_CREATE_SCHEMA = re.compile(r"^\s*CREATE\s+SCHEMA\s+(IF\s+NOT\s+EXISTS\s+)?(?P<name>\"[^\"]+\"|\w+)", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(UNLOGGED\s+)?TABLE\b", re.IGNORECASE)
_CREATE_TYPE = re.compile(r"^\s*CREATE\s+TYPE\b", re.IGNORECASE)
_CREATE_VIEW = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?(MATERIALIZED\s+)?VIEW\b", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(?P<table>(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)", re.IGNORECASE)
_COPY_HEAD = re.compile(
    r"^\s*COPY\s+(?P<table>(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)\s*(?:\((?P<cols>[^)]*)\))?\s+FROM\s+stdin\s*(?P<opts>.*?);\s*$",
    re.IGNORECASE | re.DOTALL,
)

# PostgreSQL types DuckDB lacks -> the closest DuckDB type.
_TYPE_MAP = {
    "JSONB": exp.DataType.build("JSON"),
    "MONEY": exp.DataType.build("DECIMAL(19, 4)"),
    "INET": exp.DataType.build("VARCHAR"),
    "CIDR": exp.DataType.build("VARCHAR"),
    "MACADDR": exp.DataType.build("VARCHAR"),
    "XML": exp.DataType.build("VARCHAR"),
    "TSVECTOR": exp.DataType.build("VARCHAR"),
    "TSQUERY": exp.DataType.build("VARCHAR"),
    "BPCHAR": exp.DataType.build("VARCHAR"),
    "GEOMETRY": exp.DataType.build("VARCHAR"),
    "GEOGRAPHY": exp.DataType.build("VARCHAR"),
    "POINT": exp.DataType.build("VARCHAR"),
    "OBJECT_IDENTIFIER": exp.DataType.build("BIGINT"),
    "ROWVERSION": exp.DataType.build("BIGINT"),
}


def _split_name(name: str) -> tuple[str | None, str]:
    parts = [p.strip('"') for p in re.findall(r'"[^"]+"|[^.]+', name)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[-1])


def _local_name(schema: str | None, table: str) -> str:
    """`public.t` -> `"t"`; other schemas keep their name so tables do not collide."""
    if schema is None or schema.lower() == "public":
        return _q(table)
    return f"{_q(schema)}.{_q(table)}"


def _translate_type(dt: exp.DataType, enums: set[str]) -> exp.DataType:
    kind = dt.this.name if hasattr(dt.this, "name") else str(dt.this)
    if kind in _TYPE_MAP:
        return _TYPE_MAP[kind].copy()
    if kind in ("DECIMAL", "BIGDECIMAL") and not dt.expressions:
        # Unconstrained `numeric` is arbitrary precision; DuckDB's bare DECIMAL is (18,3) and
        # would silently round, so use DOUBLE.
        return exp.DataType.build("DOUBLE")
    if kind == "USERDEFINED":
        kind_node = dt.args.get("kind")
        name = kind_node.name if isinstance(kind_node, exp.Expr) else str(kind_node or "").split(".")[-1].strip('"')
        return exp.DataType.build(name, udt=True) if name.lower() in enums else exp.DataType.build("VARCHAR")
    for i, sub in enumerate(dt.expressions):
        if isinstance(sub, exp.DataType):
            dt.expressions[i] = _translate_type(sub, enums)
    return dt


def _translate_create_table(sql: str, enums: set[str]) -> str:
    tree = sqlglot.parse_one(sql, read=POSTGRES_READ)
    schema_node = tree.this
    table = schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
    if isinstance(table, exp.Table) and table.db.lower() == "public":
        table.set("db", None)
    for node in list(tree.find_all(exp.ForeignKey, exp.Reference)):
        parent = node.parent
        (parent if isinstance(parent, (exp.Constraint, exp.ColumnConstraint)) else node).pop()
    for col in tree.find_all(exp.ColumnDef):
        kind = col.args.get("kind")
        if isinstance(kind, exp.DataType):
            col.set("kind", _translate_type(kind, enums))
        for c in list(col.args.get("constraints") or []):
            ck = c.args.get("kind")
            drop = isinstance(ck, (exp.GeneratedAsIdentityColumnConstraint, exp.CollateColumnConstraint))
            if isinstance(ck, exp.DefaultColumnConstraint) and "nextval" in ck.sql("postgres").lower():
                drop = True  # sequences are not copied; the data already holds the values
            if drop:
                c.pop()
    # Table-level constraint clauses (PRIMARY KEY (...), UNIQUE, CHECK) are dropped too: the
    # dump's data is what it is, and a read-only copy needs no enforcement.
    if isinstance(schema_node, exp.Schema):
        for item in list(schema_node.expressions):
            if not isinstance(item, exp.ColumnDef):
                item.pop()
    for key in ("properties",):
        if tree.args.get(key) is not None:
            tree.set(key, None)
    return tree.sql("duckdb")


_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(field: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 8))
        if m.group(2):
            return chr(int(m.group(2), 16))
        c = m.group(3)
        return _SIMPLE_ESCAPES.get(c, c)

    return _ESCAPE.sub(sub, field) if "\\" in field else field


def _load_copy(con: duckdb.DuckDBPyConnection, stmt: _Statement, source: str) -> str:
    m = _COPY_HEAD.match(stmt.sql)
    if not m:
        raise DataLoadError(f"{source}:{stmt.line}: cannot read COPY header: {stmt.sql.strip()[:120]!r}")
    if m.group("opts").strip():
        raise DataLoadError(
            f"{source}:{stmt.line}: COPY options {m.group('opts').strip()!r} are not supported; "
            "expected pg_dump's default text format"
        )
    schema, table = _split_name(m.group("table"))
    target = _local_name(schema, table)
    if m.group("cols") is not None:
        cols = [c.strip().strip('"') for c in m.group("cols").split(",") if c.strip()]
    else:
        cols = con.sql(f"SELECT * FROM {target} LIMIT 0").columns
    columns: list[list[str | None]] = [[] for _ in cols]
    for i, row in enumerate(stmt.copy_rows or []):
        fields = row.split("\t")
        if len(fields) != len(cols):
            raise DataLoadError(
                f"{source}:{stmt.copy_line + i}: COPY row has {len(fields)} fields, expected {len(cols)} "
                f"({', '.join(cols)}) for table {table}"
            )
        for j, f in enumerate(fields):
            columns[j].append(None if f == "\\N" else _unescape(f))
    arrow = pa.table({f"c{j}": pa.array(col, pa.string()) for j, col in enumerate(columns)})
    view = f"__copy_{uuid.uuid4().hex[:8]}"
    con.register(view, arrow)
    try:
        con.execute(f"INSERT INTO {target} ({', '.join(_q(c) for c in cols)}) SELECT * FROM {view}")
    except duckdb.Error as e:
        raise DataLoadError(f"{source}:{stmt.copy_line}: COPY into {table} failed: {str(e).splitlines()[0]}") from e
    finally:
        con.unregister(view)
    return table


_LITERAL = re.compile(r"'[^']*(?:''[^']*)*'")
_PG_ONLY = re.compile(r"[\w\]]\s*\(|::|\b(INTERVAL|CURRENT_\w+|NOW)\b", re.IGNORECASE)


def _needs_transpile(insert_sql: str) -> bool:
    """Whether an INSERT's VALUES hold expressions (function calls, casts) PostgreSQL and DuckDB
    may disagree on; plain literal rows run as-is, which is much faster than transpiling."""
    values = re.split(r"\bVALUES\b", insert_sql, maxsplit=1, flags=re.IGNORECASE)
    body = _LITERAL.sub("''", values[-1]) if len(values) == 2 else insert_sql
    return bool(_PG_ONLY.search(body))


def _insert_to_duckdb(insert_sql: str) -> str:
    return sqlglot.parse_one(insert_sql, read=POSTGRES_READ).sql("duckdb")


def load_pg_dump(con: duckdb.DuckDBPyConnection, path: str | Path) -> list[str]:
    """Load a PostgreSQL plain-text dump (pg_dump / pg_dump --inserts) into `con`.

    Runs in one transaction: on error nothing of the dump stays loaded, and the DataLoadError
    names the file and the line of the failing statement. Returns the tables created.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataLoadError(f"{source}: cannot read dump: {e}") from e
    enums: set[str] = set()
    created: list[str] = []
    con.execute("BEGIN TRANSACTION")
    try:
        for stmt in _split_dump(text, source):
            sql = stmt.sql
            try:
                if stmt.copy_rows is not None:
                    _load_copy(con, stmt, source)
                elif m := _INSERT.match(sql):
                    schema, table = _split_name(m.group("table"))
                    sql = sql[: m.start("table")] + _local_name(schema, table) + sql[m.end("table"):]
                    con.execute(_insert_to_duckdb(sql) if _needs_transpile(sql) else sql)
                elif _SKIP.match(sql):
                    continue
                elif m := _CREATE_SCHEMA.match(sql):
                    name = m.group("name").strip('"')
                    if name.lower() != "public":
                        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(name)}")
                elif _CREATE_TABLE.match(sql):
                    duck = _translate_create_table(sql, enums)
                    con.execute(duck)
                    created.append(sqlglot.parse_one(duck, read="duckdb").find(exp.Table).name)
                elif _CREATE_TYPE.match(sql):
                    tree = sqlglot.parse_one(sql, read=POSTGRES_READ)
                    tbl = tree.find(exp.Table)
                    if tbl is not None:
                        tbl.set("db", None)
                        enums.add(tbl.name.lower())
                    con.execute(tree.sql("duckdb"))
                elif _CREATE_VIEW.match(sql):
                    tree = sqlglot.parse_one(sql, read=POSTGRES_READ)
                    if isinstance(tree, exp.Create):
                        tree.set("kind", "VIEW")
                        tree.set("properties", None)
                    for t in tree.find_all(exp.Table):
                        if t.db.lower() == "public":
                            t.set("db", None)
                    con.execute(tree.sql("duckdb"))
                else:
                    raise DataLoadError(f"{source}:{stmt.line}: unsupported statement in dump: {sql.strip()[:120]!r}")
            except DataLoadError:
                raise
            except (duckdb.Error, SqlglotError) as e:
                raise DataLoadError(f"{source}:{stmt.line}: {str(e).splitlines()[0]} in {sql.strip()[:120]!r}") from e
        if not created:
            raise DataLoadError(f"{source}: no CREATE TABLE statements found; is this a PostgreSQL plain-text dump?")
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # pragma: no cover - transaction already aborted
            pass
        raise
    return created
