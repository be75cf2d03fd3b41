"""The judge contract: `judge(case, *, generated, expected, **opts) -> Verdict`."""

from __future__ import annotations

from typing import Any, Protocol

from ..evalset import EvalCase
from ..results import Answer, GoldResult, Verdict
from ..space.model import Space


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
