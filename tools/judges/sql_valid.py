"""SQL-validity judge: the generated SQL parses, is one read-only statement, and references only
tables and columns that exist in the space.

Tables match a space table by 3-part identifier or by bare name (case-insensitive); CTE names,
derived-table aliases and table functions are not tables. Columns are checked only against tables
whose `column_configs` list columns: a qualified column (`o.amount`) against its table; an
unqualified one against the scope's tables (it passes if any of them has it, or if it names a
SELECT alias). Without a space only parsing and read-only-ness are checked.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from ..errors import ChaosLlamaError, UnsafeSQL, did_you_mean
from ..evalset import EvalCase
from ..results import Answer
from ..space.model import Space
from ..sql import check_read_only
from ._sqlshape import SQLParseError, parse_one
from .base import GoldResult, Verdict

NAME = "sql_valid"
NEEDS = ("generated.sql",)
DESCRIPTION = "Generated SQL parses, is a single read-only statement and references only the space's tables and columns."


def check_references(tree, space: Space) -> tuple[list[str], list[str]]:
    """(unknown tables, unknown columns) of a parsed query against the space, with suggestions."""

    tables = space.serialized.tables
    table_names = [t.identifier for t in tables]
    unknown_tables: list[str] = []
    unknown_columns: list[str] = []
    try:
        scopes = traverse_scope(tree)
    except Exception:  # sqlglot cannot build scopes for some exotic statements: check tables only
        scopes = []
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}

    def lookup(t: exp.Table):
        ref = ".".join(p.name for p in t.parts)
        if len(t.parts) >= 2:
            want = ref.lower()
            return next((s for s in tables if s.identifier.lower() == want
                         or s.identifier.lower().endswith("." + want)), None)
        return space.serialized.table(t.name)

    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier) or (len(t.parts) == 1 and t.name.lower() in ctes):
            continue
        if lookup(t) is None:
            ref = ".".join(p.name for p in t.parts)
            msg = f"table {ref!r} is not in the space." + did_you_mean(ref, table_names + [s.name for s in tables])
            if msg not in unknown_tables:
                unknown_tables.append(msg)

    for scope in scopes:
        sources: dict[str, Any] = {}
        opaque = False  # a source whose columns we cannot know (derived table, unknown table, no configs)
        for alias, src in scope.sources.items():
            if isinstance(src, exp.Table):
                st = lookup(src)
                sources[alias.lower()] = st if st is not None and st.column_configs else None
                opaque |= sources[alias.lower()] is None
            else:
                sources[alias.lower()] = None
                opaque = True
        select_aliases = {s.alias.lower() for s in getattr(scope.expression, "expressions", []) if isinstance(s, exp.Alias)}
        for col in scope.columns:
            if isinstance(col.this, exp.Star):
                continue
            name = col.name.lower()
            if col.table:
                st = sources.get(col.table.lower())
                if st is not None and st.column(name) is None:
                    _add_column(unknown_columns, f"{col.table}.{col.name}", st)
            else:
                known = [s for s in sources.values() if s is not None]
                if any(s.column(name) for s in known) or name in select_aliases or opaque or not known:
                    continue
                _add_column(unknown_columns, col.name, known[0] if len(known) == 1 else None, known)
    return unknown_tables, unknown_columns


def _add_column(out: list[str], ref: str, table, known=None) -> None:
    tables = [table] if table is not None else (known or [])
    options = [c.column_name for t in tables for c in t.column_configs]
    where = tables[0].identifier if len(tables) == 1 else ", ".join(t.identifier for t in tables)
    msg = f"column {ref!r} is not in {where}." + did_you_mean(ref.split(".")[-1], options)
    if msg not in out:
        out.append(msg)


def judge(
    case: EvalCase,
    *,
    generated: Answer,
    expected: list[GoldResult],
    space: Space | None = None,
    dialect: str = "databricks",
    **_: Any,
) -> Verdict:
    """True when the generated SQL is valid, read-only and uses only the space's tables/columns."""
    sql = generated.sql
    if not sql or not sql.strip():
        return Verdict(judge=NAME, value=False, rationale="no SQL was generated", details={"reason": "NO_SQL"})
    try:
        tree = parse_one(sql, dialect)
    except SQLParseError as e:
        return Verdict(judge=NAME, value=False, rationale=f"SQL does not parse ({dialect}): {e}",
                       details={"reason": "PARSE_ERROR", "error": str(e)})
    # Imported lazily: the SQL module belongs to the data layer and may import heavier pieces.

    try:
        check_read_only(sql, dialect=dialect)
    except UnsafeSQL as e:
        return Verdict(judge=NAME, value=False, rationale=f"not a single read-only statement: {e}",
                       details={"reason": "UNSAFE_SQL", "error": str(e)})
    except ChaosLlamaError as e:  # check_read_only's own parse failure
        return Verdict(judge=NAME, value=False, rationale=f"SQL does not parse ({dialect}): {e}",
                       details={"reason": "PARSE_ERROR", "error": str(e)})
    if space is None:
        return Verdict(judge=NAME, value=True, rationale="parses and is read-only (no space given: references not checked)",
                       details={"reason": "VALID", "references_checked": False})
    unknown_tables, unknown_columns = check_references(tree, space)
    details = {"unknown_tables": unknown_tables, "unknown_columns": unknown_columns, "references_checked": True}
    if unknown_tables or unknown_columns:
        details["reason"] = "UNKNOWN_TABLE" if unknown_tables else "UNKNOWN_COLUMN"
        return Verdict(judge=NAME, value=False, rationale="; ".join(unknown_tables + unknown_columns), details=details)
    details["reason"] = "VALID"
    return Verdict(judge=NAME, value=True, rationale="parses, is read-only and references only the space's tables and columns",
                   details=details)
