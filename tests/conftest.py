"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

# Every evaluation is tracked in MLflow by default; creating an MLflow store takes seconds, so tests
# (and the subprocesses they start) track only where they say so (tests/test_tracking.py).
os.environ.setdefault("CHAOS_LLAMA_TRACKING", "off")

DEFOG_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "defog"


# ---- Data helper: defog databases loaded once per session (tools.data.loaders)
@pytest.fixture(scope="session")
def defog_con() -> Iterator[Callable[[str], duckdb.DuckDBPyConnection]]:
    """Factory: `defog_con("academic")` -> a DuckDB connection holding that defog dump (cached).

    Skips the test when the shared defog data is absent. Treat the connection as read-only: it
    is shared by every test in the session.
    """
    from chaos_llama.tools.data.loaders import build_database

    cache: dict[str, duckdb.DuckDBPyConnection] = {}

    def get(name: str) -> duckdb.DuckDBPyConnection:
        dump = DEFOG_DIR / name / f"{name}.sql"
        if not dump.exists():
            pytest.skip(f"defog data not found at {dump}")
        if name not in cache:
            cache[name] = build_database([dump])
        return cache[name]

    yield get
    for con in cache.values():
        con.close()
