"""The records every layer passes around: a backend's `Answer`, an executed gold query
(`GoldResult`) and a judge's `Verdict`.

They live on the ground floor so that judges, the store and the scoring need neither a backend
nor the engine: the path of a question reads straight down (eval set -> runner -> backend ->
judges -> store) with no module reaching back up.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

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


class Verdict(BaseModel):
    """A judge's answer. `value` is True/False for binary judges, a number or label otherwise."""

    judge: str
    value: bool | float | str | None
    rationale: str
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None  # the judge itself failed (value is None then)


class GoldResult(BaseModel):
    """One acceptable gold query and its executed result (or the error executing it)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    sql: str
    result: pa.Table | None = Field(default=None, exclude=True)
    error: str | None = None
