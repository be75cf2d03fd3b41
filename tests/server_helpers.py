"""Shared pieces of the MCP server tests: apps over the bundled example, wrapped backends, text of results."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from chaos_llama.server.app import build_app
from chaos_llama.tools.backends import Backend
from chaos_llama.tools.project import load_config

TEST_EVALSET = "templates"  # the bundled set these tests' expectations were written on (serve's default is realistic)


def _example_evalset_path() -> Path:
    from chaos_llama.tools.copilot import settings_for_example

    return settings_for_example(evalset=TEST_EVALSET).evalset


def make_app(workspace: Path, *, backend: Any = None, example_space: str = "sparse", **budgets: Any):
    over: dict[str, Any] = {"workspace": str(workspace), "example_space": example_space, "evalset": str(_example_evalset_path())}
    if budgets:
        over["budgets"] = budgets
    return build_app(load_config(env={}, overrides=over), backend=backend)


def example_backend():
    """The local engine over the bundled retail data (what `serve` uses by default)."""
    from chaos_llama.tools.copilot import settings_for_example
    from chaos_llama.tools.evaluate import open_local_backend

    return open_local_backend(settings_for_example().data)


def _example_evalset():
    from chaos_llama.tools.evalset import assign_splits, load_evalset

    return assign_splits(load_evalset(_example_evalset_path()), seed=0)


def held_out_cases():
    return _example_evalset().split("test")


def visible_cases():
    return [c for c in _example_evalset().cases if c.split in ("train", "val")]


class WrappedBackend(Backend):
    """A real backend with a twist on its answers; everything else is forwarded."""

    def __init__(self, inner: Any, tag: str):
        self.inner = inner
        self.name = inner.name
        self.tag = tag
        self.deterministic = inner.deterministic and tag.startswith("tokens")

    def data_identity(self) -> str:
        return self.inner.data_identity()

    def execute(self, sql: str, **kw: Any):
        return self.inner.execute(sql, **kw)

    def table_columns(self, space: Any) -> dict[str, list[str]]:
        return self.inner.table_columns(space)

    def identity(self) -> str:
        # Its own cache lineage: wrapped answers must never be served as the plain engine's.
        return f"{self.inner.identity()}+{self.tag}"

    def __getattr__(self, name: str) -> Any:  # execute, data_identity, ...
        return getattr(self.inner, name)

    async def ask(self, space: Any, question: str):
        return self.twist(question, await self.inner.ask(space, question))

    def twist(self, question: str, answer: Any) -> Any:  # pragma: no cover - overridden
        return answer


class FlakyBackend(WrappedBackend):
    """Genie-like nondeterminism: the n-th asking of a question gives up (NO_SQL) with probability `p`.

    The coin is seeded by (seed, question, n), so the pattern does not depend on the order in which
    concurrent asks complete and a test can recompute it with `flipped`.
    """

    def __init__(self, inner: Any, *, seed: int = 7, p: float = 0.35):
        super().__init__(inner, f"flaky{seed}")
        self.seed, self.p = seed, p
        self.asked: dict[str, int] = {}

    def flipped(self, question: str, n: int) -> bool:
        digest = hashlib.sha256(f"{self.seed}:{question}:{n}".encode()).hexdigest()
        return random.Random(digest).random() < self.p

    def twist(self, question: str, answer: Any) -> Any:
        n = self.asked.get(question, 0)
        self.asked[question] = n + 1
        if not self.flipped(question, n):
            return answer
        return answer.model_copy(update={"status": "NO_SQL", "sql": None, "result": None, "row_count": None,
                                         "reason": "flaky: gave up this time", "error": None})


class TokenBackend(WrappedBackend):
    """Reports LLM usage on every answer, as the llm strategy does (`details["usage"]["total_tokens"]`)."""

    uses_llm = True

    def __init__(self, inner: Any, tokens: int = 100):
        super().__init__(inner, f"tokens{tokens}")
        self.tokens = tokens
        self.calls = 0

    def twist(self, question: str, answer: Any) -> Any:
        self.calls += 1
        usage = {"prompt_tokens": self.tokens - 10, "completion_tokens": 10, "total_tokens": self.tokens}
        return answer.model_copy(update={"details": {**answer.details, "usage": usage}})


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def texts(result: Any) -> str:
    """Everything a tool result shows the assistant (structured strings unescaped)."""
    parts = [c.text for c in result.content if getattr(c, "text", None)]
    parts += list(_strings(result.structured_content))
    return "\n".join(parts)


_WARM: dict[str, Path] = {}


def warm_store(base: Path) -> Path:
    """A chaos.db whose caches hold the sparse example's train/val/test answers and gold results
    (built once per test process; copy it into a workspace to make runs cheap)."""
    if "db" not in _WARM:
        import asyncio

        from chaos_llama.tools.copilot import Copilot, settings_for_example

        ws = base / "warm-store"
        ws.mkdir(parents=True, exist_ok=True)
        cp = Copilot(settings_for_example(workspace=ws, evalset=TEST_EVALSET))

        async def fill():
            for split in ("train", "val", "test"):
                await cp._run_repeats(split, cp.head(), 1)

        asyncio.run(fill())
        cp.close()
        _WARM["db"] = ws / "chaos.db"
    return _WARM["db"]
