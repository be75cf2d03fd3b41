"""Load PostgreSQL plain-text dumps (pg_dump, pg_dump --inserts, hand-written) into DuckDB, as PostgreSQL would.

What a dump may hold and how it loads:

- ``CREATE TABLE`` with PostgreSQL types translated (``SERIAL``/``BIGSERIAL``/``SMALLSERIAL``
  become integers backed by a sequence; identity columns likewise; domains become their base type;
  ``numeric`` without precision becomes DOUBLE, not DuckDB's rounding DECIMAL(18,3)); foreign
  keys, primary keys, unique and check constraints are dropped (the data is what it is, and a
  read-only copy enforces nothing); ``CREATE TYPE ... AS ENUM`` and views are created.
- Sequences: ``CREATE SEQUENCE`` (START, INCREMENT, MIN/MAXVALUE, CYCLE), ``nextval(...)``
  defaults (also set later by ``ALTER TABLE ... SET DEFAULT`` or ``ADD GENERATED ... AS
  IDENTITY``) and ``setval``, so rows inserted without their id get the ids PostgreSQL gives.
- Data: ``COPY ... FROM stdin`` blocks (through Arrow; arrays and ``bytea`` hex decoded) and
  ``INSERT ... VALUES`` (consecutive plain INSERTs into one table run as one statement).
  PostgreSQL expressions in INSERTs are translated (intervals read as PostgreSQL reads them);
  formatting functions on constants (``TO_CHAR(NOW() - INTERVAL '8 days', ...)``, ``TO_DATE``,
  ``TO_TIMESTAMP``, ``TO_NUMBER``) are computed with PostgreSQL's template patterns.
- Partitions (``ATTACH PARTITION``): the parent table also holds its partitions' rows, as a
  query on it in PostgreSQL returns them.
- Table and column comments (``COMMENT ON``) are kept: `chaos-llama init` makes them the
  descriptions of a new space.
- Everything else a read-only copy does not need (ownership, grants, indexes, functions,
  triggers, ...) is skipped.

A statement that still cannot load is a problem of the `DumpReport` (file and line, DuckDB's
message) and the rest loads; with ``strict=True`` it is a DataLoadError and nothing of the dump
stays. Row counts are checked: each table must hold as many rows as the dump's COPY rows and
INSERT tuples for it.
"""

from __future__ import annotations

import bisect
import datetime
import decimal
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from pydantic import BaseModel, Field
from sqlglot import exp
from sqlglot.errors import SqlglotError

from ..errors import DataLoadError
from ..pg import to_char, to_date, to_number, to_timestamp
from ..sql import POSTGRES_READ, ChaosPostgres

__all__ = ["DumpProblem", "DumpReport", "load_pg_dump"]


class DumpProblem(BaseModel):
    """A statement of a dump that did not load (or a table whose rows do not add up)."""

    line: int
    message: str


class DumpReport(BaseModel):
    """What a dump loaded: tables with their row counts, and every problem with its line."""

    source: str
    tables: dict[str, int] = Field(default_factory=dict)  # table as loaded ("orders", "sales.orders") -> rows
    dump_rows: dict[str, int | None] = Field(default_factory=dict)  # rows the dump holds (None: not countable)
    problems: list[DumpProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self) -> list[str]:
        """Each problem as ``file:line: message``."""
        return [f"{self.source}:{p.line}: {p.message}" for p in self.problems]



# ---------------------------------------------------------------- splitting
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



# ---------------------------------------------------------------- statements
# Statements that carry nothing a read-only copy of the data needs.
_SKIP = re.compile(
    r"""^\s*(SET|RESET|SELECT|ALTER|GRANT|REVOKE|COMMENT|SECURITY\s+LABEL|REFRESH|DROP|BEGIN|COMMIT|START\s+TRANSACTION|
        CREATE\s+(OR\s+REPLACE\s+)?((UNIQUE\s+)?INDEX|FUNCTION|PROCEDURE|(CONSTRAINT\s+)?TRIGGER|EVENT\s+TRIGGER|EXTENSION|
        AGGREGATE|OPERATOR|RULE|POLICY|PUBLICATION|SUBSCRIPTION|CAST|COLLATION|TEXT\s+SEARCH|CONVERSION|
        STATISTICS|SERVER|USER\s+MAPPING|FOREIGN|LANGUAGE|ACCESS\s+METHOD|ROLE|USER|DATABASE|TABLESPACE)\b)""",
    re.IGNORECASE | re.VERBOSE,
)
_NAME = r"(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?"
_CREATE_SCHEMA = re.compile(r"^\s*CREATE\s+SCHEMA\s+(IF\s+NOT\s+EXISTS\s+)?(?P<name>\"[^\"]+\"|\w+)", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(UNLOGGED\s+|TEMP\s+|TEMPORARY\s+)?TABLE\b", re.IGNORECASE)
_CREATE_TYPE = re.compile(r"^\s*CREATE\s+TYPE\b", re.IGNORECASE)
_CREATE_DOMAIN = re.compile(
    rf"^\s*CREATE\s+DOMAIN\s+(?P<name>{_NAME})\s+(?:AS\s+)?(?P<type>.+?)(?=\s+(?:CONSTRAINT|DEFAULT|NOT\s+NULL|NULL|CHECK|COLLATE)\b|\s*;)",
    re.IGNORECASE | re.DOTALL,
)
_CREATE_VIEW = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?(MATERIALIZED\s+)?VIEW\b", re.IGNORECASE)
_CREATE_SEQUENCE = re.compile(rf"^\s*CREATE\s+SEQUENCE\s+(IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})(?P<opts>.*?);?\s*$",
                              re.IGNORECASE | re.DOTALL)
_SEQ_OPTION = re.compile(r"\b(START(?:\s+WITH)?|INCREMENT(?:\s+BY)?|MINVALUE|MAXVALUE)\s+(-?\d+)|\b(NO\s+CYCLE|CYCLE)\b",
                         re.IGNORECASE)
_SET_DEFAULT = re.compile(
    rf"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>{_NAME})\s+ALTER\s+(?:COLUMN\s+)?(?P<col>\"[^\"]+\"|\w+)\s+SET\s+DEFAULT\s+"
    r"nextval\(\s*'(?P<seq>[^']+)'(?:::regclass)?\s*\)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_ADD_IDENTITY = re.compile(
    rf"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>{_NAME})\s+ALTER\s+(?:COLUMN\s+)?(?P<col>\"[^\"]+\"|\w+)\s+ADD\s+GENERATED\s+"
    r"(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\s*(?:\((?P<opts>.*)\))?\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_ATTACH_PARTITION = re.compile(
    rf"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<parent>{_NAME})\s+ATTACH\s+PARTITION\s+(?P<child>{_NAME})\b", re.IGNORECASE)
_COMMENT_ON = re.compile(
    r"^\s*COMMENT\s+ON\s+(?P<kind>TABLE|COLUMN|VIEW|MATERIALIZED\s+VIEW)\s+"
    r"(?P<name>(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+)){0,2})\s+IS\s+(?P<text>.+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)
_SETVAL = re.compile(r"^\s*SELECT\s+(?:pg_catalog\.)?setval\(\s*'(?P<seq>[^']+)'(?:::regclass)?\s*,\s*(?P<value>-?\d+)"
                     r"\s*(?:,\s*(?P<called>true|false)\s*)?\)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(rf"^\s*INSERT\s+INTO\s+(?P<table>{_NAME})", re.IGNORECASE)
_INSERT_PLAIN = re.compile(
    rf"^\s*INSERT\s+INTO\s+(?P<table>{_NAME})\s*(?P<cols>\([^)]*\))?\s*(?:OVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+)?VALUES\s*",
    re.IGNORECASE)
_OVERRIDING = re.compile(r"\bOVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+(?=VALUES\b)", re.IGNORECASE)
_COPY_HEAD = re.compile(
    rf"^\s*COPY\s+(?P<table>{_NAME})\s*(?:\((?P<cols>[^)]*)\))?\s+FROM\s+stdin\s*(?P<opts>.*?);\s*$",
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
    "SERIAL": exp.DataType.build("INT"),
    "BIGSERIAL": exp.DataType.build("BIGINT"),
    "SMALLSERIAL": exp.DataType.build("SMALLINT"),
}
_SERIALS = {"SERIAL", "BIGSERIAL", "SMALLSERIAL"}
_DROPPED_CONSTRAINTS = (exp.CollateColumnConstraint, exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint,
                        exp.CheckColumnConstraint)


class PgDump(ChaosPostgres):
    """PostgreSQL as a dump's INSERTs are read: formatting functions stay calls (their template
    kept verbatim) so the loader can compute them as PostgreSQL does."""

    class Parser(ChaosPostgres.Parser):
        FUNCTIONS = {k: v for k, v in ChaosPostgres.Parser.FUNCTIONS.items()
                     if k not in ("TO_CHAR", "TO_DATE", "TO_TIMESTAMP", "TO_NUMBER")}


_DUMP_READ = "pgdump"
_FORMATTERS = {"TO_CHAR": to_char, "TO_DATE": to_date, "TO_TIMESTAMP": to_timestamp, "TO_NUMBER": to_number}
_LITERAL = re.compile(r"'[^']*(?:''[^']*)*'")
_PG_ONLY = re.compile(r"[\w\]]\s*\(|::|\b(INTERVAL|CURRENT_\w+|NOW|DEFAULT)\b", re.IGNORECASE)
_BATCH = 500  # plain INSERT statements run as one


def _split_name(name: str) -> tuple[str | None, str]:
    parts = [p.strip('"') for p in re.findall(r'"[^"]+"|[^.]+', name)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[-1])


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _local_name(schema: str | None, table: str) -> str:
    """`public.t` -> `"t"`; other schemas keep their name so tables do not collide."""
    if schema is None or schema.lower() == "public":
        return _q(table)
    return f"{_q(schema)}.{_q(table)}"


def _display(schema: str | None, table: str) -> str:
    return table if schema is None or schema.lower() == "public" else f"{schema}.{table}"


def _seq_ref(name: str) -> str:
    """A sequence name as DuckDB's nextval/setval take it (`public.` dropped)."""
    schema, seq = _split_name(name)
    return seq if schema is None or schema.lower() == "public" else f"{schema}.{seq}"


def _nextval_sequence(default: exp.Expr) -> str | None:
    """The sequence a `DEFAULT nextval('name'::regclass)` draws from, if that is the default."""
    for fn in default.find_all(exp.Anonymous):
        if str(fn.name).lower() == "nextval":
            name = fn.find(exp.Literal)
            return name.name if name is not None and name.is_string else None
    return None


def _needs_transpile(insert_sql: str) -> bool:
    """Whether an INSERT's VALUES hold expressions (function calls, casts) PostgreSQL and DuckDB
    may disagree on; plain literal rows run as-is, which is much faster than transpiling."""
    values = re.split(r"\bVALUES\b", insert_sql, maxsplit=1, flags=re.IGNORECASE)
    body = _LITERAL.sub("''", values[-1]) if len(values) == 2 else insert_sql
    return bool(_PG_ONLY.search(body)) or len(values) != 2


def _count_tuples(values: str) -> int | None:
    """Row tuples in the text after VALUES; None when anything but tuples follows (ON CONFLICT,
    RETURNING), since then PostgreSQL may insert fewer rows than it lists."""
    i, n, count = 0, len(values), 0
    while True:
        while i < n and values[i].isspace():
            i += 1
        if i >= n or values[i] != "(":
            return None
        depth = 0
        while i < n:
            c = values[i]
            if c == "'":
                escaped = i > 0 and values[i - 1] in "eE"
                i += 1
                while i < n:
                    if escaped and values[i] == "\\":
                        i += 2
                        continue
                    if values[i] == "'":
                        if i + 1 < n and values[i + 1] == "'":
                            i += 2
                            continue
                        break
                    i += 1
            elif c == '"':
                i = values.find('"', i + 1)
                if i < 0:
                    return None
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    i += 1
                    break
            i += 1
        count += 1
        while i < n and values[i].isspace():
            i += 1
        if i >= n or values[i] == ";":
            return count if values[i:].strip(" \t\r\n;") == "" else None
        if values[i] != ",":
            return None
        i += 1


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


def _pg_array(text: str) -> list[Any]:
    """A PostgreSQL array literal (`{a,"b c",NULL}`, nested) as Python lists of strings."""
    pos = 0

    def parse() -> list[Any]:
        nonlocal pos
        if text[pos] != "{":
            raise ValueError(f"malformed array literal: {text!r}")
        pos += 1
        out: list[Any] = []
        while pos < len(text):
            c = text[pos]
            if c == "}":
                pos += 1
                return out
            if c == ",":
                pos += 1
                continue
            if c == "{":
                out.append(parse())
            elif c == '"':
                pos += 1
                buf = []
                while text[pos] != '"':
                    if text[pos] == "\\":
                        pos += 1
                    buf.append(text[pos])
                    pos += 1
                pos += 1
                out.append("".join(buf))
            else:
                end = pos
                while end < len(text) and text[end] not in ",}":
                    end += 1
                item = text[pos:end].strip()
                out.append(None if item.upper() == "NULL" else item)
                pos = end
        raise ValueError(f"malformed array literal: {text!r}")

    return parse()


class _Problem(Exception):
    """A statement that cannot load, at a line of its own (a COPY data row)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


@dataclass
class _Table:
    local: str  # the DuckDB name, quoted
    display: str  # "orders" or "sales.orders"
    line: int
    dump_rows: int | None = 0


class _Loader:
    """One dump's load: what it created so far, its sequences, and the problems met."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source: str, strict: bool):
        self.con, self.source, self.strict = con, source, strict
        self.enums: set[str] = set()
        self.domains: dict[str, exp.DataType] = {}
        self.sequences: dict[str, tuple[int, int]] = {}  # DuckDB sequence name (lowercase) -> (start, increment)
        self.tables: dict[str, _Table] = {}  # lowercase display name -> table
        self.partitions: list[tuple[str, str]] = []  # (parent, child) display names
        self.problems: list[DumpProblem] = []
        self._batch: tuple[str, str, list[str], list[int], list[int]] | None = None  # table, head, bodies, lines, rows

    def exec(self, sql: str) -> None:
        """Run one statement to the end (a SELECT setval's row included, so the connection is free)."""
        self.con.execute(sql).fetchall()

    # ---- problems
    def fail(self, line: int, message: str) -> None:
        if self.strict:
            raise DataLoadError(f"{self.source}:{line}: {message}")
        self.problems.append(DumpProblem(line=line, message=message))

    # ---- tables
    def table(self, name: str, line: int) -> _Table | None:
        schema, table = _split_name(name)
        t = self.tables.get(_display(schema, table).lower())
        if t is None:
            self.fail(line, f"table {_display(schema, table)!r} is not created by this dump (or its CREATE TABLE failed)")
        return t

    def add_rows(self, t: _Table, rows: int | None) -> None:
        t.dump_rows = None if rows is None or t.dump_rows is None else t.dump_rows + rows

    # ---- types
    def translate_type(self, dt: exp.DataType) -> exp.DataType:
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
            if name.lower() in self.domains:
                return self.translate_type(self.domains[name.lower()].copy())
            return exp.DataType.build(name, udt=True) if name.lower() in self.enums else exp.DataType.build("VARCHAR")
        for i, sub in enumerate(dt.expressions):
            if isinstance(sub, exp.DataType):
                dt.expressions[i] = self.translate_type(sub)
        return dt

    # ---- sequences
    def create_sequence(self, name: str, start: int = 1, increment: int = 1, extra: str = "") -> str:
        """Create the sequence (or move an existing one to `start`); returns its DuckDB name."""
        ref = _seq_ref(name)
        key = ref.lower()
        if key in self.sequences:  # created for a default before the dump's own CREATE SEQUENCE
            if self.sequences[key] != (start, increment):
                self.exec(f"SELECT setval({exp.Literal.string(ref).sql('duckdb')}, {start - increment})")
        else:
            schema, seq = _split_name(name)
            self.exec(f"CREATE SEQUENCE {_local_name(schema, seq)} START WITH {start} INCREMENT BY {increment}{extra}")
        self.sequences[key] = (start, increment)
        return ref

    def nextval_default(self, name: str) -> exp.Expr:
        ref = _seq_ref(name)
        if ref.lower() not in self.sequences:
            self.create_sequence(name)
        return exp.Anonymous(this="nextval", expressions=[exp.Literal.string(ref)])

    def create_sequence_statement(self, m: re.Match[str]) -> None:
        opts = {"START": 1, "INCREMENT": 1}
        extra = ""
        for om in _SEQ_OPTION.finditer(m.group("opts")):
            if om.group(1):
                word = om.group(1).split()[0].upper()
                if word in ("MINVALUE", "MAXVALUE"):
                    extra += f" {word} {int(om.group(2))}"
                else:
                    opts[word] = int(om.group(2))
            elif om.group(3).upper() == "CYCLE":
                extra += " CYCLE"
        if opts["INCREMENT"] < 0 and "START" not in m.group("opts").upper():
            opts["START"] = -1  # PostgreSQL: a descending sequence starts at -1
        self.create_sequence(m.group("name"), opts["START"], opts["INCREMENT"], extra)

    def set_default(self, table: str, column: str, seq: str, line: int) -> None:
        t = self.table(table, line)
        if t is None:
            return
        default = self.nextval_default(seq).sql("duckdb")
        self.exec(f"ALTER TABLE {t.local} ALTER COLUMN {_q(column.strip(chr(34)))} SET DEFAULT {default}")

    def identity_sequence(self, table: str, column: str, opts: str | None) -> str:
        """The sequence of an identity column: its options, named as PostgreSQL names it."""
        schema, name = _split_name(table)
        seq = f"{name}_{column.strip(chr(34))}_seq"
        if opts and (m := re.search(rf"SEQUENCE\s+NAME\s+({_NAME})", opts, re.IGNORECASE)):
            seq = m.group(1)
        elif schema:
            seq = f"{schema}.{seq}"
        start = re.search(r"START\s+(?:WITH\s+)?(-?\d+)", opts or "", re.IGNORECASE)
        inc = re.search(r"INCREMENT\s+(?:BY\s+)?(-?\d+)", opts or "", re.IGNORECASE)
        return self.create_sequence(seq, int(start.group(1)) if start else 1, int(inc.group(1)) if inc else 1)

    def setval(self, m: re.Match[str]) -> None:
        ref = _seq_ref(m.group("seq"))
        if ref.lower() not in self.sequences:
            raise DataLoadError(f"sequence {m.group('seq')!r} is not created by this dump")
        increment = self.sequences[ref.lower()][1]
        value = int(m.group("value"))
        if (m.group("called") or "true").lower() == "false":
            value -= increment  # the next nextval returns `value` itself
        self.exec(f"SELECT setval({exp.Literal.string(ref).sql('duckdb')}, {value})")

    # ---- CREATE TABLE
    def create_table(self, sql: str, line: int) -> None:
        tree = sqlglot.parse_one(sql, read=POSTGRES_READ)
        schema_node = tree.this
        table = schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
        schema = table.db or None if isinstance(table, exp.Table) else None
        name = table.name
        if isinstance(table, exp.Table) and table.db.lower() == "public":
            table.set("db", None)
        display = _display(schema, name)
        if display.lower() in self.tables:
            raise DataLoadError(f"{self.source}:{line}: table {display!r} is created twice in this dump")
        for node in list(tree.find_all(exp.ForeignKey, exp.Reference)):
            parent = node.parent
            (parent if isinstance(parent, (exp.Constraint, exp.ColumnConstraint)) else node).pop()
        defaults: list[exp.ColumnConstraint] = []  # translated plain defaults, dropped if DuckDB refuses them
        for col in tree.find_all(exp.ColumnDef):
            kind = col.args.get("kind")
            serial = isinstance(kind, exp.DataType) and (kind.this.name if hasattr(kind.this, "name") else "") in _SERIALS
            if isinstance(kind, exp.DataType):
                col.set("kind", self.translate_type(kind))
            sequence: str | None = None
            for c in list(col.args.get("constraints") or []):
                ck = c.args.get("kind")
                if isinstance(ck, exp.GeneratedAsIdentityColumnConstraint):
                    opts = " ".join(f"{k.upper()} {ck.args[k].sql()}" for k in ("start", "increment") if ck.args.get(k))
                    sequence = self.identity_sequence(_display(schema, name), col.name, opts)
                    c.pop()
                elif isinstance(ck, exp.DefaultColumnConstraint) and (seq := _nextval_sequence(ck)):
                    sequence = _seq_ref(seq)
                    self.nextval_default(seq)
                    c.pop()
                elif isinstance(ck, _DROPPED_CONSTRAINTS):
                    c.pop()
                elif isinstance(ck, exp.DefaultColumnConstraint):
                    defaults.append(c)
            if serial and sequence is None:
                sequence = self.create_sequence(f"{schema + '.' if schema else ''}{name}_{col.name}_seq")
            if sequence is not None:
                constraints = col.args.get("constraints") or []
                default = exp.DefaultColumnConstraint(this=exp.Anonymous(this="nextval", expressions=[exp.Literal.string(sequence)]))
                col.set("constraints", [exp.ColumnConstraint(kind=default), *constraints])
        # Table-level constraint clauses (PRIMARY KEY (...), UNIQUE, CHECK) are dropped too: the
        # dump's data is what it is, and a read-only copy needs no enforcement.
        if isinstance(schema_node, exp.Schema):
            for item in list(schema_node.expressions):
                if not isinstance(item, exp.ColumnDef):
                    item.pop()
        tree.set("properties", None)  # PARTITION BY, INHERITS, WITH (...): storage, not data
        try:
            self.exec(tree.sql("duckdb"))
        except duckdb.Error as e:
            if "already exists" in str(e):
                raise DataLoadError(f"{self.source}:{line}: {str(e).splitlines()[0]}") from e
            if not defaults:
                raise
            for c in defaults:  # e.g. DEFAULT ('now'::text)::date: keep the table, lose the default
                c.pop()
            self.exec(tree.sql("duckdb"))
            self.fail(line, f"column defaults of {display!r} dropped: {str(e).splitlines()[0]}")
        self.tables[display.lower()] = _Table(local=_local_name(schema, name), display=display, line=line)

    # ---- INSERT
    def insert(self, stmt: _Statement) -> None:
        sql = _OVERRIDING.sub("", stmt.sql)
        m = _INSERT.match(sql)
        assert m is not None
        t = self.table(m.group("table"), stmt.line)
        if t is None:
            return
        sql = sql[: m.start("table")] + t.local + sql[m.end("table"):]
        plain = _INSERT_PLAIN.match(sql)
        rows = _count_tuples(sql[plain.end():]) if plain else None
        if plain and rows is not None and not _needs_transpile(sql):
            self.queue(t, sql[: plain.end()], sql[plain.end():].rstrip().rstrip(";"), stmt.line, rows)
            return
        self.flush()
        self.add_rows(t, rows)
        self.run(stmt.line, self.translate_insert(sql), what=f"INSERT into {t.display}")

    def queue(self, t: _Table, head: str, body: str, line: int, rows: int) -> None:
        """Collect consecutive plain INSERTs with the same head; they run as one statement."""
        key = re.sub(r"\s+", " ", head.strip()).lower()
        if self._batch is not None and (self._batch[0] != key or len(self._batch[2]) >= _BATCH):
            self.flush()
        if self._batch is None:
            self._batch = (key, head, [], [], [])
        self._batch[2].append(body)
        self._batch[3].append(line)
        self._batch[4].append(rows)
        self.add_rows(t, rows)

    def flush(self) -> None:
        if self._batch is None:
            return
        _, head, bodies, lines, _ = self._batch
        self._batch = None
        if len(bodies) > 1:
            try:
                self.exec(head + ",\n".join(bodies))
                return
            except duckdb.Error:
                pass  # one at a time, to name the statement(s) that failed
        for line, body in zip(lines, bodies):
            self.run(line, head + body, what="INSERT")

    def translate_insert(self, sql: str) -> str:
        tree = sqlglot.parse_one(sql, read=_DUMP_READ)
        for node in reversed(list(tree.find_all(exp.Anonymous))):  # innermost calls first
            name = str(node.name).upper()
            if name not in _FORMATTERS:
                continue
            args = node.expressions
            if len(args) == 2 and isinstance(args[1], exp.Literal) and args[1].is_string and not args[0].find(exp.Column):
                node.replace(self.formatted(name, args[0], args[1].name))
            else:  # not a constant: let sqlglot translate the call
                node.replace(sqlglot.parse_one(f"SELECT {node.sql('postgres')}", read=POSTGRES_READ).expressions[0])
        return tree.sql("duckdb")

    def formatted(self, name: str, arg: exp.Expr, fmt: str) -> exp.Expr:
        """The value PostgreSQL computes for TO_CHAR/TO_DATE/TO_TIMESTAMP/TO_NUMBER(constant, fmt)."""
        value = self.con.sql(f"SELECT {arg.sql('duckdb')}").fetchall()[0][0]
        if name != "TO_CHAR" and value is not None and not isinstance(value, str):
            value = str(value)
        result = _FORMATTERS[name](value, fmt)
        if result is None:
            return exp.null()
        if isinstance(result, datetime.datetime):
            return exp.cast(exp.Literal.string(result.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
        if isinstance(result, datetime.date):
            return exp.cast(exp.Literal.string(result.isoformat()), exp.DataType.Type.DATE)
        if isinstance(result, decimal.Decimal):
            return exp.Literal.number(str(result))
        return exp.Literal.string(result)

    # ---- COPY
    def copy(self, stmt: _Statement) -> None:
        m = _COPY_HEAD.match(stmt.sql)
        if not m:
            raise DataLoadError(f"cannot read COPY header: {stmt.sql.strip()[:120]!r}")
        t = self.table(m.group("table"), stmt.line)
        if t is None:
            return
        self.add_rows(t, len(stmt.copy_rows or []))
        if m.group("opts").strip():
            raise DataLoadError(f"COPY options {m.group('opts').strip()!r} are not supported; expected pg_dump's default text format")
        types = {r[0].lower(): str(r[1]).upper() for r in self.con.sql(f"DESCRIBE {t.local}").fetchall()}
        if m.group("cols") is not None:
            cols = [c.strip().strip('"') for c in m.group("cols").split(",") if c.strip()]
        else:
            cols = [r[0] for r in self.con.sql(f"DESCRIBE {t.local}").fetchall()]
        columns: list[list[Any]] = [[] for _ in cols]
        for i, row in enumerate(stmt.copy_rows or []):
            fields = row.split("\t")
            if len(fields) != len(cols):
                raise _Problem(stmt.copy_line + i, f"COPY row has {len(fields)} fields, expected {len(cols)} "
                                                   f"({', '.join(cols)}) for table {t.display}; the block did not load")
            for j, f in enumerate(fields):
                columns[j].append(None if f == "\\N" else _unescape(f))
        arrays = []
        for name, values in zip(cols, columns):
            kind = types.get(name.lower(), "VARCHAR")
            if kind.endswith("[]"):
                arrays.append(pa.array([None if v is None else _pg_array(v) for v in values]))
            elif kind == "BLOB":
                arrays.append(pa.array([None if v is None else bytes.fromhex(v[2:]) if v.startswith("\\x") else v.encode()
                                        for v in values], pa.binary()))
            else:
                arrays.append(pa.array(values, pa.string()))
        arrow = pa.table({f"c{j}": a for j, a in enumerate(arrays)}) if arrays else pa.table({})
        view = f"__copy_{uuid.uuid4().hex[:8]}"
        self.con.register(view, arrow)
        try:
            self.exec(f"INSERT INTO {t.local} ({', '.join(_q(c) for c in cols)}) SELECT * FROM {view}")
        finally:
            self.con.unregister(view)

    # ---- the rest
    def create_view(self, sql: str) -> None:
        tree = sqlglot.parse_one(sql, read=POSTGRES_READ)
        if isinstance(tree, exp.Create):
            tree.set("kind", "VIEW")
            tree.set("properties", None)
        for t in tree.find_all(exp.Table):
            if t.db.lower() == "public":
                t.set("db", None)
        self.exec(tree.sql("duckdb"))

    def create_type(self, sql: str) -> None:
        tree = sqlglot.parse_one(sql, read=POSTGRES_READ)
        tbl = tree.find(exp.Table)
        if tbl is not None:
            tbl.set("db", None)
            self.enums.add(tbl.name.lower())
        self.exec(tree.sql("duckdb"))

    def comment(self, m: re.Match[str], line: int) -> None:
        """Table and column comments are kept: they become the descriptions of a new space."""
        parts = [p.strip('"') for p in re.findall(r'"[^"]+"|[^.]+', m.group("name"))]
        kind = m.group("kind").split()[-1].upper()
        column = parts.pop() if kind == "COLUMN" else None
        if kind == "VIEW" or not parts:
            return  # views are created as they are; their comments are not descriptions we use
        t = self.table(".".join(f'"{p}"' for p in parts), line)
        if t is not None:
            target = f"COLUMN {t.local}.{_q(column)}" if column else f"TABLE {t.local}"
            self.exec(f"COMMENT ON {target} IS {m.group('text')}")

    def create_domain(self, m: re.Match[str]) -> None:
        _, name = _split_name(m.group("name"))
        self.domains[name.lower()] = exp.DataType.build(m.group("type").strip(), dialect=POSTGRES_READ)

    def run(self, line: int, sql: str, *, what: str) -> None:
        try:
            self.exec(sql)
        except duckdb.Error as e:
            self.fail(line, f"{what} failed: {str(e).splitlines()[0]}")

    def statement(self, stmt: _Statement) -> None:
        sql = stmt.sql
        if stmt.copy_rows is not None:
            self.flush()
            self.copy(stmt)
            return
        if _INSERT.match(sql):
            self.insert(stmt)
            return
        self.flush()
        if m := _CREATE_SEQUENCE.match(sql):
            self.create_sequence_statement(m)
        elif m := _SET_DEFAULT.match(sql):
            self.set_default(m.group("table"), m.group("col"), m.group("seq"), stmt.line)
        elif m := _ADD_IDENTITY.match(sql):
            self.set_default(m.group("table"), m.group("col"),
                             self.identity_sequence(m.group("table"), m.group("col"), m.group("opts")), stmt.line)
        elif m := _ATTACH_PARTITION.match(sql):
            self.partitions.append((_display(*_split_name(m.group("parent"))), _display(*_split_name(m.group("child")))))
        elif m := _SETVAL.match(sql):
            self.setval(m)
        elif m := _COMMENT_ON.match(sql):
            self.comment(m, stmt.line)
        elif m := _CREATE_DOMAIN.match(sql):
            self.create_domain(m)
        elif _SKIP.match(sql):
            return
        elif m := _CREATE_SCHEMA.match(sql):
            name = m.group("name").strip('"')
            if name.lower() != "public":
                self.exec(f"CREATE SCHEMA IF NOT EXISTS {_q(name)}")
        elif _CREATE_TABLE.match(sql):
            self.create_table(sql, stmt.line)
        elif _CREATE_TYPE.match(sql):
            self.create_type(sql)
        elif _CREATE_VIEW.match(sql):
            self.create_view(sql)
        else:
            raise DataLoadError(f"unsupported statement in dump: {sql.strip()[:120]!r}")

    def finish(self) -> DumpReport:
        self.flush()
        for parent, child in self.partitions:  # a query on the parent returns its partitions' rows
            p, c = self.tables.get(parent.lower()), self.tables.get(child.lower())
            if p is not None and c is not None:
                self.run(c.line, f"INSERT INTO {p.local} BY NAME SELECT * FROM {c.local}", what=f"partition {c.display} of {p.display}")
                self.add_rows(p, c.dump_rows)
        report = DumpReport(source=self.source)
        for t in self.tables.values():
            loaded = self.con.sql(f"SELECT count(*) FROM {t.local}").fetchall()[0][0]
            report.tables[t.display] = loaded
            report.dump_rows[t.display] = t.dump_rows
            if t.dump_rows is not None and loaded != t.dump_rows:
                self.fail(t.line, f"table {t.display!r}: the dump holds {t.dump_rows:,} row(s), {loaded:,} loaded")
        report.problems = self.problems
        return report


def load_pg_dump(con: duckdb.DuckDBPyConnection, path: str | Path, *, strict: bool = False) -> DumpReport:
    """Load a PostgreSQL plain-text dump (pg_dump / pg_dump --inserts / hand-written) into `con`.

    A statement that cannot load becomes a problem of the returned report (file, line, DuckDB's
    message) and the rest loads. With `strict`, it raises DataLoadError instead and, the dump
    running in one transaction, nothing of it stays. Either way a dump whose text cannot be split
    into statements (an unterminated quote) or that creates no table is a DataLoadError, and so is
    a table that already exists (a clash with another source).
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataLoadError(f"{source}: cannot read dump: {e}") from e
    statements = list(_split_dump(text, source))  # split first: a broken dump loads nothing
    loader = _Loader(con, source, strict)
    if strict:
        con.execute("BEGIN TRANSACTION")
    try:
        for stmt in statements:
            try:
                loader.statement(stmt)
            except _Problem as e:
                loader.fail(e.line, e.message)
            except DataLoadError as e:
                if str(e).startswith(f"{source}:"):
                    raise
                loader.fail(stmt.line, str(e))
            except (duckdb.Error, SqlglotError, ValueError, TypeError) as e:
                loader.fail(stmt.line, f"{str(e).splitlines()[0]} in {stmt.sql.strip()[:120]!r}")
        report = loader.finish()
        if not report.tables:
            raise DataLoadError(f"{source}: no CREATE TABLE statements found; is this a PostgreSQL plain-text dump?")
        if strict:
            con.execute("COMMIT")
    except BaseException:
        if strict:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:  # pragma: no cover - transaction already aborted
                pass
        raise
    return report
