"""What the server enforces whatever the assistant asks: budgets and the held-out test split.

- `BudgetLedger`: a persisted ledger (a small SQLite file in the workspace) of what the session
  spent. `reserve(kind, n)` refuses *before* spending, saying what is left; nothing here can
  raise a limit — limits come only from the project config.
- `HoldoutGuard`: the last line of defence for the test split. Tools never put test content in
  their outputs by construction; the guard additionally scrubs every outgoing result and error
  (as server middleware) of any test question text, gold SQL or test question id.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..tools.errors import BudgetExceeded, did_you_mean
from ..tools.project import Budgets

KINDS = tuple(Budgets.model_fields)


class BudgetLine(BaseModel):
    kind: str
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
    """Persisted spend per budget kind; a reservation that would exceed a limit is refused.

    >>> ledger = BudgetLedger(Budgets(applies=1), ":memory:")
    >>> ledger.reserve("applies", 1)
    >>> ledger.reserve("applies", 1)
    Traceback (most recent call last):
    ...
    chaos_llama.tools.errors.BudgetExceeded: budget 'applies' exhausted: asked for 1, 0 of 1 left. Nothing was spent.
    """

    def __init__(self, limits: Budgets, path: str | Path = ":memory:"):
        # A frozen copy: no caller can raise a limit through a shared object.
        self._limits = {k: float(v) for k, v in limits.model_dump().items()}
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA busy_timeout=5000")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "amount REAL NOT NULL, note TEXT, at REAL NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @property
    def limits(self) -> dict[str, float]:
        return dict(self._limits)

    def _check_kind(self, kind: str) -> None:
        if kind not in self._limits:
            raise ValueError(f"unknown budget kind {kind!r}.{did_you_mean(kind, KINDS)}")

    def spent(self, kind: str) -> float:
        self._check_kind(kind)
        with self._lock:
            row = self._con.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind=?", (kind,)).fetchone()
        return float(row[0])

    def remaining(self, kind: str) -> float:
        return max(0.0, self._limits[kind] - self.spent(kind))

    def reserve(self, kind: str, n: float, note: str | None = None) -> None:
        """Spend `n` of `kind` now, or raise BudgetExceeded (spending nothing) if it would not fit."""
        self._check_kind(kind)
        if n < 0:
            raise ValueError(f"cannot reserve a negative amount ({n!r}) of {kind!r}")
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                spent = float(self._con.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind=?", (kind,)).fetchone()[0])
                left = self._limits[kind] - spent
                if n > left or (n == 0 and left <= 0):
                    raise BudgetExceeded(
                        f"budget {kind!r} exhausted: asked for {_num(n)}, {_num(max(left, 0))} of {_num(self._limits[kind])} left. "
                        "Nothing was spent."
                    )
                if n:
                    self._con.execute("INSERT INTO ledger (kind, amount, note, at) VALUES (?,?,?,?)", (kind, n, note, time.time()))
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def settle(self, kind: str, reserved: float, actual: float, note: str | None = None) -> None:
        """Record what a reserved call really spent (a refund if less; retries may make it more)."""
        self._check_kind(kind)
        delta = actual - reserved
        if delta:
            with self._lock:
                self._con.execute("INSERT INTO ledger (kind, amount, note, at) VALUES (?,?,?,?)", (kind, delta, note, time.time()))

    def record(self, kind: str, actual: float, note: str | None = None) -> None:
        """Record spend that cannot be known in advance (LLM tokens, wall clock)."""
        self.settle(kind, 0, actual, note)

    def status(self) -> BudgetStatus:
        lines = []
        for kind in KINDS:
            spent = self.spent(kind)
            lines.append(BudgetLine(kind=kind, limit=self._limits[kind], spent=spent, remaining=max(0.0, self._limits[kind] - spent)))
        return BudgetStatus(lines=lines, ledger=self.path)


def _num(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------- holdout
WITHHELD = "[withheld: held-out test content]"


def _norm(text: str) -> str:
    # JSON-escaped text (a tool result's serialized content) must match too.
    text = text.replace("\\n", " ").replace("\\t", " ").replace('\\"', '"')
    return re.sub(r"\s+", " ", text).strip().lower()


class HoldoutGuard:
    """Finds and scrubs test-split content (question texts, gold SQL, ids) in anything outgoing.

    Matching is case- and whitespace-insensitive. A multi-line string loses only its matching
    lines; a string without line breaks is replaced as a whole.

    >>> g = HoldoutGuard(questions=["Revenue by store in 2024?"], ids=["t_17"])
    >>> g.scrub({"a": ["ok", "revenue  by store in 2024?"]})
    {'a': ['ok', '[withheld: held-out test content]']}
    """

    def __init__(self, *, questions: Iterable[str] = (), gold_sql: Iterable[str] = (), ids: Iterable[str] = ()):
        needles = {_norm(s) for s in (*questions, *gold_sql) if s and s.strip()}
        self.needles = sorted(needles, key=len, reverse=True)
        # Ids are short: matched as whole tokens so 'q_1' does not hit 'q_10'.
        self.id_pattern = re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(i) for i in sorted(set(ids), key=len, reverse=True)) + r")(?![\w-])"
        ) if ids else None
        self.hits = 0

    @classmethod
    def for_cases(cls, cases: Iterable[Any]) -> HoldoutGuard:
        cases = list(cases)
        return cls(
            questions=[c.question for c in cases],
            gold_sql=[s for c in cases for s in c.gold_sql],
            ids=[c.id for c in cases],
        )

    def leaks(self, text: str) -> bool:
        if not text:
            return False
        n = _norm(text)
        if any(needle in n for needle in self.needles):
            return True
        return bool(self.id_pattern and self.id_pattern.search(text))

    def scrub_text(self, text: str) -> str:
        if not self.leaks(text):
            return text
        self.hits += 1
        if "\n" in text:
            lines = text.split("\n")
            kept = [WITHHELD if self.leaks(line) else line for line in lines]
            out = "\n".join(kept)
            # A needle spanning several lines: withhold the whole text.
            return WITHHELD if self.leaks(out) else out
        return WITHHELD

    def scrub(self, value: Any) -> Any:
        """A copy of `value` (JSON-like data) with every leaking string withheld."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.scrub(v) for v in value)
        return value


class HoldoutMiddleware:
    """Server middleware: every response and error leaves through `HoldoutGuard.scrub`.

    `guard_for(ctx)` is called per request (ctx has `method` and `params`) so the guard can be
    built lazily (after the eval set loads) and not slow down `initialize`.
    """

    def __init__(self, guard_for):
        self.guard_for = guard_for

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        from mcp.shared.exceptions import MCPError

        guard: HoldoutGuard | None = self.guard_for(ctx)
        try:
            result = await call_next(ctx)
        except MCPError as e:
            data = e.error.data
            if guard is not None and (guard.leaks(e.error.message) or guard.leaks(json.dumps(data, default=str) if data is not None else "")):
                # Line by line: an invalid-params error keeps its other problems readable.
                message = guard.scrub_text(e.error.message)
                data = guard.scrub(data)
                if guard.leaks(message) or guard.leaks(json.dumps(data, default=str)):
                    message, data = WITHHELD, None
                raise MCPError(code=e.error.code, message=message, data=data) from None
            raise
        if guard is None or result is None:
            return result
        if isinstance(result, BaseModel):
            dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            scrubbed = guard.scrub(dumped)
            return result if scrubbed == dumped else type(result).model_validate(scrubbed)
        if isinstance(result, dict):
            return guard.scrub(result)
        return result


__all__ = ["BudgetLedger", "BudgetStatus", "BudgetLine", "HoldoutGuard", "HoldoutMiddleware", "WITHHELD", "KINDS"]
