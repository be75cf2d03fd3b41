"""Exceptions raised by Chaos Llama.

Every error derives from one root so callers (CLI, MCP server) can map them in one place::

    ChaosLlamaError
    ├── InvalidInput              bad user input; names the file, line/row or field
    │   ├── InvalidEvalSet        an eval-set file (YAML/CSV/JSONL/defog CSV)
    │   ├── InvalidSpace          a space document or YAML that does not parse or validate
    │   └── InvalidConfig         a project/config file or CLI option
    ├── SpaceNotFound             no such space / version
    ├── DataLoadError             a data source (CSV, Parquet, DuckDB file, PostgreSQL dump) failed to load
    ├── UnsafeSQL                 SQL that is not a single read-only statement
    ├── SQLExecutionError         SQL that failed to transpile or execute
    ├── BackendError              a backend failed answering; `retryable` says whether to retry
    ├── JudgeError                a judge failed or lacks a field it needs
    ├── ApplyConflict             the space changed underneath an update (etag mismatch)
    └── BudgetExceeded            a call would exceed a budget

Not errors: ``DataLoadWarning`` (a UserWarning) names a statement of a PostgreSQL dump that
did not load while the rest did; ``TrackingWarning`` says that a run could not be logged to
MLflow (the run itself is kept in the store). The command line prints both as
``chaos-llama: warning: ...``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ChaosLlamaError(Exception):
    """Root of all Chaos Llama errors."""


class InvalidInput(ChaosLlamaError, ValueError):
    """User input that cannot be used. The message names where (file, line, field) and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None, field: str | None = None):
        self.source, self.line, self.field = source, line, field
        where = ":".join(str(p) for p in (source, line) if p is not None)
        prefix = f"{where}: " if where else ""
        if field and f"'{field}'" not in message:
            prefix += f"field '{field}': "
        super().__init__(prefix + message)


class InvalidEvalSet(InvalidInput):
    """An eval-set file is malformed."""


class InvalidSpace(InvalidInput):
    """A space document is malformed or violates Genie's rules."""


class InvalidConfig(InvalidInput):
    """A configuration file or option is malformed."""


class SpaceNotFound(ChaosLlamaError, LookupError):
    """No such space or version."""


class DataLoadError(ChaosLlamaError):
    """A data source failed to load."""


class DataLoadWarning(UserWarning):
    """A statement of a PostgreSQL dump that did not load (the rest did); names file and line."""


class TrackingWarning(UserWarning):
    """A run was evaluated and stored but could not be logged to MLflow; names the tracking URI and why."""


class DataNotFound(DataLoadError, InvalidInput):
    """A data source the user named does not exist."""


class UnsafeSQL(ChaosLlamaError):
    """SQL that is not a single read-only statement; it is never executed."""


class SQLExecutionError(ChaosLlamaError):
    """SQL that failed to transpile or execute."""


class BackendError(ChaosLlamaError):
    """A backend failed to answer. `retryable` tells the runner whether another try may succeed."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.retryable, self.retry_after = retryable, retry_after


class JudgeError(ChaosLlamaError):
    """A judge failed, or lacks a field it needs."""


class UnknownJudge(JudgeError, InvalidInput):
    """A judge name or reference (`file.py:function`) that names no judge."""


class ApplyConflict(ChaosLlamaError):
    """The space changed since it was read; nothing was overwritten."""


class BudgetExceeded(ChaosLlamaError):
    """A call would exceed a budget; nothing was spent."""


MAX_OPTIONS_SHOWN = 12  # an error listing every eval case id would flood an assistant's context


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """Suggest the closest valid option, sqlglot-style.

    >>> did_you_mean("exection", ["execution", "sql_valid"])
    " Did you mean 'execution'?"
    """
    options = list(options)
    close = difflib.get_close_matches(value, options, n=1)
    if close:
        return f" Did you mean '{close[0]}'?"
    if not options:
        return ""
    shown = sorted(options)[:MAX_OPTIONS_SHOWN]
    more = f" and {len(options) - len(shown)} more" if len(options) > len(shown) else ""
    return f" Valid options: {', '.join(shown)}{more}."
