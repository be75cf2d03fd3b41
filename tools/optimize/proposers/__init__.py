"""Proposers: one module each, one registry line each.

A proposer reads the failing TRAIN questions and returns a `ChangeSet` (DSPy's
`compile(student, trainset)` shape, with GEPA-style text feedback in `history`)::

    propose(space, failures, *, budget, history) -> ChangeSet

`budget` is the most edits one change set may hold; `history` lists the change sets tried in
earlier epochs with their effect. A proposer never sees val or test questions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ...errors import InvalidConfig, did_you_mean
from ...space.changes import ChangeSet
from ...space.model import Space
from ..model import Failure, TriedChange

# Genie's documented limit on columns with entity matching ("value dictionaries") per space.
MAX_ENTITY_MATCHING_COLUMNS = 120


@runtime_checkable
class Proposer(Protocol):
    name: str

    def propose(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> ChangeSet:
        """A change set of at most `budget` edits meant to fix (families of) the failures."""
        ...


class TableData:
    """Read access to the data behind a space, through the backend's read-only `execute`.

    Proposers use it to check that a gold literal is a real value, to translate a value the
    question names ("North America") to the code the gold filters on ("AMER"), and to orient
    join specs by key uniqueness. Results are cached: the data does not change during a run.
    """

    def __init__(self, backend: Any, space: Space, *, max_values: int = 1000):
        self.backend, self.space, self.max_values = backend, space, max_values

    def _run(self, sql: str) -> list[tuple]:
        try:
            try:
                table = self.backend.execute(sql, space=self.space)
            except TypeError:  # a backend whose execute takes no space
                table = self.backend.execute(sql)
        except Exception:  # noqa: BLE001 - missing data means "no evidence", not a crashed proposal
            return []
        cols = table.column_names
        data = table.to_pydict()
        return list(zip(*(data[c] for c in cols))) if cols else []

    def _schema(self, table: str):
        try:
            return self.backend.execute(f"SELECT * FROM {table} LIMIT 0", space=self.space).schema
        except TypeError:
            return self.backend.execute(f"SELECT * FROM {table} LIMIT 0").schema

    @functools.lru_cache(maxsize=512)
    def columns(self, table: str) -> tuple[str, ...]:
        try:
            return tuple(self._schema(table).names)
        except Exception:  # noqa: BLE001 - a table the data lacks has no columns to offer
            return ()

    @functools.lru_cache(maxsize=512)
    def text_columns(self, table: str) -> tuple[str, ...]:
        import pyarrow.types as pat

        try:
            schema = self._schema(table)
        except Exception:  # noqa: BLE001
            return ()
        return tuple(f.name for f in schema if pat.is_string(f.type) or pat.is_large_string(f.type))

    @functools.lru_cache(maxsize=4096)
    def values(self, table: str, column: str) -> tuple[str, ...]:
        col = _q(column)
        return tuple(str(r[0]) for r in self._run(
            f"SELECT CAST({col} AS STRING) AS v FROM {table} WHERE {col} IS NOT NULL "
            f"GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT {self.max_values}"))

    @functools.lru_cache(maxsize=4096)
    def lookup(self, table: str, column: str, value: str, other: str) -> tuple[str, ...]:
        """Distinct values of `other` where `column` = `value`."""
        lit = "'" + value.replace("'", "''") + "'"
        return tuple(str(r[0]) for r in self._run(
            f"SELECT DISTINCT CAST({_q(other)} AS STRING) AS v FROM {table} "
            f"WHERE CAST({_q(column)} AS STRING) = {lit} AND {_q(other)} IS NOT NULL LIMIT 3"))

    @functools.lru_cache(maxsize=1024)
    def is_unique(self, table: str, column: str) -> bool:
        rows = self._run(f"SELECT COUNT({_q(column)}) AS n, COUNT(DISTINCT {_q(column)}) AS d FROM {table}")
        return bool(rows) and rows[0][0] == rows[0][1] and rows[0][0] > 0

    def all_columns(self) -> dict[str, list[str]]:
        """table identifier -> its columns in the data: `apply_changes(columns=...)` creates column configs from it."""
        return {t.identifier: list(self.columns(t.identifier)) for t in self.space.serialized.tables}


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _heuristic(**options: Any) -> Proposer:
    from .heuristic import HeuristicProposer

    return HeuristicProposer(**options)


def _llm(**options: Any) -> Proposer:
    from .llm import LLMProposer

    return LLMProposer(**options)


PROPOSERS: dict[str, Callable[..., Proposer]] = {
    "heuristic": _heuristic,
    "llm": _llm,
}


def get_proposer(name: str, **options: Any) -> Proposer:
    """Build the registered proposer `name` with its options (e.g. `data=TableData(...)`)."""
    try:
        factory = PROPOSERS[name]
    except KeyError:
        raise InvalidConfig(f"unknown proposer {name!r}.{did_you_mean(name, PROPOSERS)}", field="proposer") from None
    return factory(**options)


__all__ = ["MAX_ENTITY_MATCHING_COLUMNS", "PROPOSERS", "Proposer", "TableData", "get_proposer"]
