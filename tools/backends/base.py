"""The backend interface: anything that holds a space and answers questions like Genie.

A backend is the local DuckDB engine (`local`) or a real Genie space (`databricks`); the runner,
judges and optimizer only see this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Literal, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ..space.model import Space

# Genie's message statuses we map every outcome to.
Status = Literal["COMPLETED", "FAILED", "NO_SQL", "CANCELLED", "QUERY_RESULT_EXPIRED", "TIMEOUT", "ERROR"]


class Answer(BaseModel):
    """What a backend answered to one question: generated SQL, its result, and status, like Genie.

    `result` is an Arrow table (typed for the local engine; strings for Genie, which returns values
    as strings). `sql` is Databricks SQL. A question without SQL has `status="NO_SQL"` and a `reason`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: Status
    sql: str | None = None
    description: str | None = None
    result: pa.Table | None = Field(default=None, exclude=True)
    row_count: int | None = None
    reason: str | None = None  # why no SQL / why it failed
    error: str | None = None
    backend: str | None = None
    latency_s: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)  # strategy trace: matched example, linked columns...


@runtime_checkable
class Backend(Protocol):
    """One interface for the local engine and Databricks Genie.

    Optional: `data_identity() -> str`, a stable id of the data queried; the runner keys the
    gold-result cache on it when present (else on `identity()`).

    Optional: `answer_deadline_s: float`, declared by a backend that times its own answering (a
    remote service with a queue before each question, like Genie). Its `ask` calls
    `question_accepted()` once the service accepted the question and returns a TIMEOUT answer by
    itself within `answer_deadline_s` after that; the runner then times only that span (never the
    queue, rate-limit or settle wait before it) and records the backend's own latency.
    """

    name: str

    def identity(self) -> str:
        """A stable id of the backend's answering behaviour, part of the result-cache key."""
        ...

    async def ask(self, space: Space, question: str) -> Answer:
        """Answer one question against `space` (no cross-question context)."""
        ...

    def execute(
        self, sql: str, *, max_rows: int | None = None, space: Space | None = None, dialect: str = "databricks"
    ) -> pa.Table:
        """Run read-only SQL (gold queries) against the space's tables and return the result."""
        ...


# The runner's hook for the current `ask`: set per call, inherited by the backend's coroutine.
_ACCEPTED: ContextVar[Callable[[], None] | None] = ContextVar("chaos_llama_question_accepted", default=None)


def question_accepted() -> None:
    """Tell the caller that the service accepted the question being asked: answering starts now.

    A backend that declares `answer_deadline_s` calls this from `ask` right after its start request
    succeeded; a no-op when nobody is timing the call.
    """
    hook = _ACCEPTED.get()
    if hook is not None:
        hook()
