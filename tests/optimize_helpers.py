"""Shared pieces of the optimizer tests: a small retail eval set, a recording backend, proposers."""

from __future__ import annotations

from typing import Any

from chaos_llama.tools.backends import Backend
from chaos_llama.tools.evalset import EvalSet
from chaos_llama.tools.optimize.model import Failure, TriedChange
from chaos_llama.tools.space.changes import ChangeSet
from chaos_llama.tools.space.io import space_hash
from chaos_llama.tools.space.model import Space

FAMILIES = ("revenue_by_category_region", "quarterly_orders_region", "customers_segment_tier", "top_products_category")


def small_evalset(full: EvalSet) -> EvalSet:
    """Four question families of the retail set; per family 2 train, 1 val, the rest test (fixed splits)."""
    cases, seen = [], {}
    for c in full.cases:
        fam = next((t for t in c.tags if t in FAMILIES), None)
        if fam is None:
            continue
        k = seen[fam] = seen.get(fam, 0) + 1
        cases.append(c.model_copy(update={"split": "train" if k <= 2 else "val" if k == 3 else "test"}))
    return EvalSet(name="retail-small", cases=cases)


class RecordingBackend(Backend):
    """Wraps a backend and records every question asked, with the hash of the space it was asked against."""

    def __init__(self, inner: Any):
        self.inner, self.asked = inner, []
        self.name = inner.name
        self.deterministic, self.remote, self.uses_llm = inner.deterministic, inner.remote, inner.uses_llm

    def table_columns(self, space: Space) -> dict[str, list[str]]:
        return self.inner.table_columns(space)

    def identity(self) -> str:
        return self.inner.identity()

    def data_identity(self) -> str:
        return self.inner.data_identity()

    async def ask(self, space: Space, question: str):
        self.asked.append((question, space_hash(space)))
        return await self.inner.ask(space, question)

    def execute(self, sql: str, **kw: Any):
        return self.inner.execute(sql, **kw)


class SpyProposer:
    """Delegates to `inner` and records every failure it was shown; `then` replaces later proposals."""

    def __init__(self, inner: Any, then: Any = None, after: int = 1):
        self.inner, self.then, self.after = inner, then, after
        self.name = getattr(inner, "name", "spy")
        self.calls: list[list[Failure]] = []
        self.histories: list[list[TriedChange]] = []

    def propose(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> ChangeSet:
        self.calls.append(list(failures))
        self.histories.append(list(history))
        if self.then is not None and len(self.calls) > self.after:
            return self.then(space)
        return self.inner.propose(space, failures, budget=budget, history=history)
