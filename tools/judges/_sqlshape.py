"""SQL helpers shared by the SQL judges: parsing, the space's schema, alias resolution."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from ..space.model import Space

if TYPE_CHECKING:
    from sqlglot import exp



class SQLParseError(ValueError):
    """The SQL does not parse (in the given dialect) or holds no statement."""


def parse_one(sql: str, dialect: str = "databricks") -> exp.Expression:
    """Parse exactly one statement; raise SQLParseError with sqlglot's message otherwise."""

    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except (ParseError, TokenError) as e:
        raise SQLParseError(str(e).splitlines()[0]) from None
    if not trees:
        raise SQLParseError("no SQL statement")
    if len(trees) > 1:
        raise SQLParseError(f"{len(trees)} statements; expected one")
    return trees[0]


def space_schema(space: Space | None) -> dict[str, dict[str, str]]:
    """{table name: {column: type}} for tables whose columns the space lists (lower-case names)."""
    if space is None:
        return {}
    out: dict[str, dict[str, str]] = {}
    for t in space.serialized.tables:
        if t.column_configs:
            out[t.name.lower()] = {c.column_name.lower(): "STRING" for c in t.column_configs}
    return out


def cte_names(tree: exp.Expression) -> set[str]:
    return {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}


def real_tables(tree: exp.Expression) -> list[exp.Table]:
    """Table references that are not CTEs or table functions."""

    ctes = cte_names(tree)
    out = []
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            continue  # table-valued function, e.g. range(10)
        if not t.args.get("db") and t.name.lower() in ctes:
            continue
        out.append(t)
    return out


def strip_table_qualifiers(tree: exp.Expression) -> exp.Expression:
    """Drop catalog/schema from table references so `main.retail.orders` and `orders` compare equal."""
    for t in real_tables(tree):
        t.set("catalog", None)
        t.set("db", None)
    return tree


def alias_map(tree: exp.Expression) -> dict[str, str]:
    """{alias or name (lower): table name (lower)} over the whole query (last binding wins)."""
    out: dict[str, str] = {}
    for t in real_tables(tree):
        out[t.alias_or_name.lower()] = t.name.lower()
        out[t.name.lower()] = t.name.lower()
    return out
