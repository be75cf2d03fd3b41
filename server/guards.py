"""What the server enforces whatever the assistant asks: budgets and the held-out test split.

- `BudgetLedger`: what the workspace's sessions spent, kept in the store (one table of the one
  SQLite file). `reserve(kind, n)` refuses *before* spending, saying what is left; nothing here
  can raise a limit: limits come only from the project config.
- `HoldoutGuard`: a safety net for the test split. Tools never build an output from a test case
  (the copilot works on train and val only, and a test id or question is as unknown as a missing
  one), so the guard should never fire. It checks every outgoing result and error for a test
  question, a line of test gold SQL or a test id that the request did not itself contain (an
  echo of the assistant's own input is left alone: scrubbing it would tell a test string from
  any other) and withholds what it finds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..tools.errors import BudgetExceeded, did_you_mean
from ..tools.project import Budgets

if TYPE_CHECKING:  # the store loads pyarrow: not before the first tool call
    from ..tools.store import Store

KINDS = tuple(Budgets.model_fields)


# What one unit of each budget is (shown by budget_status).
UNITS = {
    "backend_questions": "questions asked of the backend (cached answers are free; retries count)",
    "sql_executions": "SQL statements run on the data: gold queries, generated SQL, example checks",
    "llm_tokens": "LLM tokens spent by the backend or LLM judges",
    "applies": "revisions written (applies and rollbacks)",
    "final_tests": "scorings of the held-out test split",
    "wall_clock_s": "seconds spent inside spending tools (each call holds a slice while it runs)",
}


class BudgetLine(BaseModel):
    kind: str
    unit: str
    limit: float
    spent: float
    remaining: float


class BudgetStatus(BaseModel):
    """What the session may still spend, per kind."""

    lines: list[BudgetLine]
    ledger: str

    def remaining(self, kind: str) -> float:
        return next(l.remaining for l in self.lines if l.kind == kind)


class BudgetLedger:
    """Spend per budget kind, kept in the workspace store's `ledger` table; a reservation that would
    exceed a limit is refused, spending nothing.

    Check and write are one transaction on the store (`Store.reserve`), so several server
    processes on one workspace share one ledger that never passes a limit.

    >>> from chaos_llama.tools.store import Store
    >>> ledger = BudgetLedger(Budgets(applies=1), Store(":memory:"))
    >>> ledger.reserve("applies", 1)
    >>> ledger.reserve("applies", 1)
    Traceback (most recent call last):
    ...
    chaos_llama.tools.errors.BudgetExceeded: budget 'applies' exhausted: asked for 1, 0 of 1 left. Nothing was spent.
    """

    def __init__(self, limits: Budgets, store: Store):
        # A frozen copy: no caller can raise a limit through a shared object.
        self._limits = {k: float(v) for k, v in limits.model_dump().items()}
        self.store = store

    @property
    def limits(self) -> dict[str, float]:
        return dict(self._limits)

    def _check_kind(self, kind: str) -> None:
        if kind not in self._limits:
            raise ValueError(f"unknown budget kind {kind!r}.{did_you_mean(kind, KINDS)}")

    def spent(self, kind: str) -> float:
        self._check_kind(kind)
        return self.store.spent(kind)

    def remaining(self, kind: str) -> float:
        return max(0.0, self._limits[kind] - self.spent(kind))

    def reserve(self, kind: str, n: float, note: str | None = None) -> None:
        """Spend `n` of `kind` now, or raise BudgetExceeded (spending nothing) if it would not fit."""
        self._check_kind(kind)
        if n < 0:
            raise ValueError(f"cannot reserve a negative amount ({n!r}) of {kind!r}")
        self.store.reserve(kind, n, limit=self._limits[kind], note=note)

    def try_reserve(self, kind: str, n: float, note: str | None = None) -> bool:
        """`reserve`, answering False instead of raising when it does not fit."""
        try:
            self.reserve(kind, n, note)
        except BudgetExceeded:
            return False
        return True

    def settle(self, kind: str, reserved: float, actual: float, note: str | None = None) -> None:
        """Record what a reserved call really spent: a refund when less."""
        self._check_kind(kind)
        self.store.spend(kind, actual - reserved, note)

    def record(self, kind: str, actual: float, note: str | None = None) -> None:
        """Record spend that cannot be known in advance (LLM tokens a reply used)."""
        self.settle(kind, 0, actual, note)

    def status(self) -> BudgetStatus:
        lines = []
        for kind in KINDS:
            spent = self.spent(kind)
            lines.append(BudgetLine(kind=kind, unit=UNITS[kind], limit=self._limits[kind], spent=spent,
                                    remaining=max(0.0, self._limits[kind] - spent)))
        return BudgetStatus(lines=lines, ledger=str(self.store.path))


def _num(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------- holdout
WITHHELD = "[withheld]"
MIN_LINE = 20  # shorter gold lines ('FROM orders o', 'GROUP BY 1') identify nothing


def _norm(text: str) -> str:
    # JSON-escaped text (a tool result's serialized content) must match too.
    text = text.replace("\\n", " ").replace("\\t", " ").replace('\\"', '"')
    return re.sub(r"\s+", " ", text).strip().lower()


class HoldoutGuard:
    """Finds and withholds test-split content (question texts, gold SQL lines, ids) in anything outgoing.

    Matching is case- and whitespace-insensitive. Only what identifies a test case counts: a gold
    line that a visible (train/val) gold also has, or an id that is also a visible id, is not
    secret. `allowed` strings (the request's own input) are never withheld.

    >>> g = HoldoutGuard(questions=["Revenue by store in 2024?"], ids=["t_17"])
    >>> g.scrub({"a": ["ok", "revenue  by store in 2024?"]})
    {'a': ['ok', '[withheld]']}
    >>> g.scrub({"a": "revenue by store in 2024?"}, allowed="Revenue by store in 2024?")
    {'a': 'revenue by store in 2024?'}
    """

    def __init__(self, *, questions: Iterable[str] = (), gold_sql: Iterable[str] = (), ids: Iterable[str] = (),
                 visible_sql: Iterable[str] = (), visible_ids: Iterable[str] = ()):
        seen = "\n".join(_norm(sql) for sql in visible_sql)  # a line that any visible gold also holds is no secret
        lines = {_norm(line) for sql in gold_sql for line in sql.splitlines()}
        needles = {_norm(q) for q in questions if q and q.strip()} | {l for l in lines if len(l) >= MIN_LINE and l not in seen}
        self.needles = sorted(needles, key=len, reverse=True)
        self.ids = sorted(set(ids) - set(visible_ids), key=len, reverse=True)
        self.hits = 0

    @classmethod
    def for_cases(cls, test: Iterable[Any], visible: Iterable[Any] = ()) -> HoldoutGuard:
        test, visible = list(test), list(visible)
        return cls(questions=[c.question for c in test], gold_sql=[s for c in test for s in c.gold_sql], ids=[c.id for c in test],
                   visible_sql=[s for c in visible for s in c.gold_sql], visible_ids=[c.id for c in visible])

    def _active(self, allowed: str) -> tuple[list[str], re.Pattern | None]:
        a = _norm(allowed) if allowed else ""
        needles = [n for n in self.needles if n not in a]
        ids = [i for i in self.ids if i not in allowed]
        # Ids are short: matched as whole tokens so 'q_1' does not hit 'q_10'.
        pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(i) for i in ids) + r")(?![\w-])") if ids else None
        return needles, pattern

    def leaks(self, text: str, allowed: str = "") -> bool:
        if not text:
            return False
        needles, pattern = self._active(allowed)
        n = _norm(text)
        return any(needle in n for needle in needles) or bool(pattern and pattern.search(text))

    def scrub_text(self, text: str, allowed: str = "") -> str:
        if not self.leaks(text, allowed):
            return text
        self.hits += 1
        if "\n" in text:
            out = "\n".join(WITHHELD if self.leaks(line, allowed) else line for line in text.split("\n"))
            return WITHHELD if self.leaks(out, allowed) else out  # a needle spanning several lines
        return WITHHELD

    def scrub(self, value: Any, allowed: str = "") -> Any:
        """A copy of `value` (JSON-like data) with every leaking string withheld."""
        if isinstance(value, str):
            return self.scrub_text(value, allowed)
        if isinstance(value, dict):
            return {k: self.scrub(v, allowed) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, allowed) for v in value]
        if isinstance(value, tuple):
            return tuple(self.scrub(v, allowed) for v in value)
        return value


class HoldoutMiddleware:
    """Server middleware: every response and error leaves through `HoldoutGuard.scrub`, with the
    request's own parameters allowed (an echo is never withheld).

    `guard_for(ctx)` is called per request (ctx has `method` and `params`) so the guard can be
    built lazily (after the eval set loads) and not slow down `initialize`.
    """

    def __init__(self, guard_for):
        self.guard_for = guard_for

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        from mcp.shared.exceptions import MCPError

        guard: HoldoutGuard | None = self.guard_for(ctx)
        allowed = json.dumps(ctx.params, default=str, ensure_ascii=False) if getattr(ctx, "params", None) else ""
        allowed = allowed.replace("\\n", "\n")
        try:
            result = await call_next(ctx)
        except MCPError as e:
            data = e.error.data
            if guard is not None and (guard.leaks(e.error.message, allowed)
                                      or guard.leaks(json.dumps(data, default=str) if data is not None else "", allowed)):
                message, data = guard.scrub_text(e.error.message, allowed), guard.scrub(data, allowed)
                raise MCPError(code=e.error.code, message=message, data=data) from None
            raise
        if guard is None or result is None:
            return result
        if isinstance(result, BaseModel):
            dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            scrubbed = guard.scrub(dumped, allowed)
            return result if scrubbed == dumped else type(result).model_validate(scrubbed)
        if isinstance(result, dict):
            return guard.scrub(result, allowed)
        return result


__all__ = ["BudgetLedger", "BudgetStatus", "BudgetLine", "HoldoutGuard", "HoldoutMiddleware", "WITHHELD", "KINDS"]
