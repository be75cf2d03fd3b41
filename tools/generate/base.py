"""The SQL-generation contract of the local engine: `generate(space, question, ctx) -> Generation`.

A strategy is one module exposing a class that satisfies `Generator`; `STRATEGIES` in
`chaos_llama.tools.generate` lists them. The context gives strategies read access to the data
(column types, distinct values) without handing them the DuckDB connection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from ..space.model import Space


class Generation(BaseModel):
    """What a strategy produced: Databricks SQL, or `sql=None` with a `reason` naming what was missing."""

    sql: str | None = None
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


ColumnsFn = Callable[[str], list[tuple[str, str]]]
ValuesFn = Callable[[str, str], list[str]]


def _no_columns(identifier: str) -> list[tuple[str, str]]:
    return []


def _no_values(identifier: str, column: str) -> list[str]:
    return []


def _no_lookup(identifier: str, column: str, value: str, target: str) -> list[str]:
    return []


@dataclass(frozen=True)
class ColumnStats:
    """What the data says about one column: row count, distinct non-null values, NULLs, min and max."""

    rows: int
    distinct: int
    nulls: int
    min: Any = None
    max: Any = None


def _no_stats(identifier: str, column: str) -> ColumnStats | None:
    return None


@dataclass
class GenerationContext:
    """Read access to the data behind a space.

    Attributes:
        columns: table identifier (`main.retail.orders`) -> [(column name, DuckDB type)], in table order.
        values: (table identifier, column) -> distinct non-null values as strings (bounded).
        lookup: (table identifier, column, value, other column) -> distinct values of the other
            column in the rows where column = value (translates "North America" to its code "AMER").
        stats: (table identifier, column) -> `ColumnStats` (keys are unique where distinct == rows;
            relative dates are anchored to a date column's max), or None when unknown.
        space_key: a hash of the space, so per-space indexes can be cached.
    """

    columns: ColumnsFn = _no_columns
    values: ValuesFn = _no_values
    lookup: Callable[[str, str, str, str], list[str]] = _no_lookup
    stats: Callable[[str, str], ColumnStats | None] = _no_stats
    space_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """A SQL-generation strategy."""

    name: str

    def identity(self) -> str:
        """Stable id of the strategy's behaviour (version + settings), part of the backend identity."""
        ...

    def generate(self, space: Space, question: str, ctx: GenerationContext) -> Generation:
        """Databricks SQL answering `question` against `space`, or sql=None with a reason."""
        ...


def space_key(space: Space) -> str:
    """A short content hash of the space document (ids included), for caching per-space indexes."""
    doc = json.dumps(space.to_serialized(), sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]
