"""The embedded Genie engine: answers questions against a space over a DuckDB database, offline.

`LocalGenie` generates Databricks SQL with a strategy from `chaos_llama.tools.generate`
(`retrieval` by default: deterministic, no model), runs it read-only through
`chaos_llama.tools.sql.execute` and returns a Genie-like `Answer` (COMPLETED / NO_SQL / FAILED /
ERROR). The answer depends on the space's metadata, which is what makes offline optimization
meaningful.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..data.loaders import build_database
from ..errors import BackendError, ChaosLlamaError, DataLoadError, InvalidConfig, SQLExecutionError, UnsafeSQL
from ..generate import GenerationContext, get_strategy, space_key
from ..generate.base import ColumnStats
from ..results import Answer
from ..space.model import Space
from ..sql import execute, table_map_for
from .base import Backend

ENGINE_VERSION = "1"
MAX_ENTITY_VALUES = 1000  # per column, most frequent first; Genie also bounds its value dictionaries


class LocalGenie(Backend):
    """The offline Genie engine over DuckDB.

    Args:
        con_or_path: an open DuckDB connection, or the path of a .duckdb file (opened read-only).
        strategy: a name from `chaos_llama.tools.generate.STRATEGIES`.
        llm: the llm strategy's chat model (`ChatModel`, a dict, or 'databricks:<endpoint>'; see tools/chat.py).
        generator_options: extra constructor options for the strategy (e.g. `transport=` in tests).
    """

    def __init__(self, con_or_path: Any, *, strategy: str = "retrieval", llm: Any = None, name: str = "local",
                 max_rows: int | None = None, **generator_options: Any):
        import duckdb

        if isinstance(con_or_path, (str, Path)):
            path = Path(con_or_path)
            if not path.exists():
                raise DataLoadError(f"DuckDB file '{path}' does not exist")
            con_or_path = duckdb.connect(str(path), read_only=True)
        self.con = con_or_path
        self.name = name
        self.strategy = strategy
        self.uses_llm = strategy == "llm"
        self.deterministic = not self.uses_llm  # the offline strategies answer the same way every time
        self.max_rows = max_rows
        if strategy == "llm":
            generator_options.setdefault("config", llm)
        self.generator = get_strategy(strategy, **generator_options)
        # One DuckDB connection is not safe for concurrent use; every query goes through this lock.
        self._lock = threading.RLock()
        self._columns: dict[str, list[tuple[str, str]]] = {}
        self._values: dict[tuple[str, str, str], list[str]] = {}
        self._stats: dict[tuple[str, str], ColumnStats | None] = {}
        self._contexts: dict[str, tuple[GenerationContext, dict[str, str]]] = {}
        self._table_map: dict[str, str] | None = None
        self._fingerprint = self._data_fingerprint()

    # ---- Backend
    def identity(self) -> str:
        return f"local/v{ENGINE_VERSION}/{self.generator.identity()}/data={self._fingerprint}"

    async def ask(self, space: Space, question: str) -> Answer:
        return await asyncio.to_thread(self.ask_sync, space, question)

    def ask_sync(self, space: Space, question: str) -> Answer:
        """`ask` without the event loop (blocking)."""
        started = time.perf_counter()

        def answer(status: str, **kw: Any) -> Answer:
            return Answer(status=status, backend=self.name, latency_s=time.perf_counter() - started, **kw)

        try:
            ctx, table_map = self.context(space)
        except SQLExecutionError as e:
            return answer("ERROR", reason=f"the space does not match the data: {e}", error=str(e))
        try:
            gen = self.generator.generate(space, question, ctx)
        except BackendError as e:
            if e.retryable:
                raise  # the runner retries
            return answer("ERROR", reason=str(e), error=str(e), details={"strategy": self.strategy})
        details = {"strategy": self.strategy, **gen.details}
        if not gen.sql:
            return answer("NO_SQL", reason=gen.reason or "no SQL generated", details=details)
        try:
            with self._lock:
                result = _execute(self.con, gen.sql, table_map=table_map, max_rows=self.max_rows)
        except (UnsafeSQL, SQLExecutionError) as e:
            return answer("FAILED", sql=gen.sql, error=str(e), reason="the generated SQL failed", details=details)
        return answer("COMPLETED", sql=gen.sql, result=result, row_count=result.num_rows, details=details)

    def data_identity(self) -> str:
        """Tables, columns and row counts of the DuckDB database: the gold-result cache key."""
        return f"duckdb:{self._fingerprint}"

    def execute(self, sql: str, *, max_rows: int | None = None, space: Space | None = None,
                dialect: str = "databricks") -> pa.Table:
        """Run read-only SQL (gold queries); table names resolve through `space` (or the last
        space asked about)."""
        table_map = self.context(space)[1] if space is not None else self._table_map
        with self._lock:
            return _execute(self.con, sql, table_map=table_map, max_rows=max_rows, dialect=dialect)

    # ---- data access for strategies
    def context(self, space: Space) -> tuple[GenerationContext, dict[str, str]]:
        """The generation context and table map of a space (cached per space content)."""
        key = space_key(space)
        if key not in self._contexts:

            with self._lock:
                table_map = table_map_for(space, self.con)
            ctx = GenerationContext(
                columns=lambda ident, tm=table_map: self._table_columns(tm, ident),
                values=lambda ident, col, tm=table_map, k=key: self._distinct_values(tm, ident, col, k),
                lookup=lambda ident, col, value, other, tm=table_map: self._lookup(tm, ident, col, value, other),
                stats=lambda ident, col, tm=table_map: self._column_stats(tm, ident, col),
                space_key=f"{key}:{self._fingerprint}",
            )
            if len(self._contexts) > 64:
                self._contexts.pop(next(iter(self._contexts)))
            self._contexts[key] = (ctx, table_map)
        ctx, table_map = self._contexts[key]
        self._table_map = table_map
        return ctx, table_map

    def _table_columns(self, table_map: dict[str, str], ident: str) -> list[tuple[str, str]]:
        duck = table_map.get(ident)
        if duck is None:
            return []
        if duck not in self._columns:
            with self._lock:
                rows = self.con.execute(f"DESCRIBE SELECT * FROM {duck}").fetchall()
            self._columns[duck] = [(r[0], str(r[1])) for r in rows]
        return self._columns[duck]

    def _distinct_values(self, table_map: dict[str, str], ident: str, column: str, key: str) -> list[str]:
        cache_key = (key, ident, column.lower())
        if cache_key not in self._values:
            duck = table_map.get(ident)
            names = {c.lower(): c for c, _ in self._table_columns(table_map, ident)}
            if duck is None or column.lower() not in names:
                self._values[cache_key] = []
            else:
                col = '"' + names[column.lower()].replace('"', '""') + '"'
                with self._lock:
                    rows = self.con.execute(
                        f"SELECT CAST({col} AS VARCHAR) FROM {duck} WHERE {col} IS NOT NULL "
                        f"GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT {MAX_ENTITY_VALUES}").fetchall()
                self._values[cache_key] = [r[0] for r in rows]
        return self._values[cache_key]

    def _column_stats(self, table_map: dict[str, str], ident: str, column: str) -> ColumnStats | None:
        duck = table_map.get(ident)
        names = {c.lower(): c for c, _ in self._table_columns(table_map, ident)}
        if duck is None or column.lower() not in names:
            return None
        key = (duck, column.lower())
        if key not in self._stats:
            col = '"' + names[column.lower()].replace('"', '""') + '"'
            with self._lock:
                rows, distinct, nulls, lo, hi = self.con.execute(
                    f"SELECT COUNT(*), COUNT(DISTINCT {col}), COUNT(*) - COUNT({col}), MIN({col}), MAX({col}) "
                    f"FROM {duck}").fetchall()[0]
            self._stats[key] = ColumnStats(rows=rows, distinct=distinct, nulls=nulls, min=lo, max=hi)
        return self._stats[key]

    def _lookup(self, table_map: dict[str, str], ident: str, column: str, value: str, other: str) -> list[str]:
        duck = table_map.get(ident)
        names = {c.lower(): c for c, _ in self._table_columns(table_map, ident)}
        if duck is None or column.lower() not in names or other.lower() not in names:
            return []
        a = '"' + names[column.lower()].replace('"', '""') + '"'
        b = '"' + names[other.lower()].replace('"', '""') + '"'
        with self._lock:
            rows = self.con.execute(
                f"SELECT DISTINCT CAST({b} AS VARCHAR) FROM {duck} WHERE CAST({a} AS VARCHAR) = ? AND {b} IS NOT NULL "
                f"ORDER BY 1 LIMIT 3", [value]).fetchall()
        return [r[0] for r in rows]

    def _data_fingerprint(self) -> str:
        """Tables, columns and row counts: changes when the data does, stable across runs."""
        with self._lock:
            rows = self.con.execute(
                "SELECT schema_name, table_name, estimated_size, column_count FROM duckdb_tables() "
                "WHERE database_name = current_database() ORDER BY 1, 2").fetchall()
            cols = self.con.execute(
                "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = current_database() ORDER BY 1, 2, ordinal_position").fetchall()
            counts = []
            for schema, table, _, _ in rows:
                q = f'SELECT COUNT(*) FROM "{schema}"."{table}"'
                counts.append(self.con.execute(q).fetchall()[0][0])
        raw = repr((rows and [(r[0], r[1], r[3]) for r in rows], cols, counts))
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _execute(con, sql: str, *, table_map: dict[str, str] | None, max_rows: int | None,
             dialect: str = "databricks") -> pa.Table:

    try:
        return execute(con, sql, dialect=dialect, table_map=table_map, max_rows=max_rows)
    except ChaosLlamaError:
        raise
    except Exception as e:  # a bug below must not crash a run; it becomes a failed answer
        raise SQLExecutionError(f"{type(e).__name__}: {e}") from e


def from_config(config: Any, *, data: list[Any], store: Any = None) -> LocalGenie:
    """The embedded engine over a DuckDB database built from `data` (CSV/Parquet, .duckdb, PostgreSQL dump)."""

    if not data:
        raise InvalidConfig("no data for the local engine: name CSV/Parquet files or folders, a .duckdb file or a PostgreSQL "
                            "dump (--data, or 'data' in the project file)", field="data")
    return LocalGenie(build_database(list(data), strict=config.strict), strategy=config.strategy, llm=config.llm)
