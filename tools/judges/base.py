"""The judge contract: `judge(case, *, generated, expected, **opts) -> Verdict`."""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ..backends.base import Answer
from ..evalset import EvalCase
from ..space.model import Space


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


class Judge(Protocol):
    """A judge module exposes `NAME`, `NEEDS` (fields it requires) and `judge`."""

    def __call__(
        self,
        case: EvalCase,
        *,
        generated: Answer,
        expected: list[GoldResult],
        space: Space | None = None,
        **opts: Any,
    ) -> Verdict: ...
