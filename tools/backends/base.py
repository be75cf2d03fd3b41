"""The backend contract: anything that holds a space and answers questions like Genie.

A backend is the local DuckDB engine (`local`) or a real Genie space (`databricks`); the runner,
judges and optimizer only see this contract. Every backend subclasses `Backend`: the required
methods raise until implemented, and each optional power is declared here with its default, so
callers never probe with `getattr`:

- `deterministic`: asking twice gives the same answer (the optimizer then skips re-asking flips);
- `remote`: the backend answers from its own copy of the space, which `deploy` replaces;
- `uses_llm`: answers spend LLM tokens (reported as `Answer.details["usage"]`);
- `answer_deadline_s`: a backend that times its own answering (a remote service with a queue
  before each question, like Genie) declares its deadline; its `ask` calls `question_accepted()`
  once the service accepted the question and returns a TIMEOUT answer by itself within the
  deadline after that. The runner then times only that span (never the queue, rate-limit or settle
  wait before it) and records the backend's own latency;
- `data_identity()`: what gold results depend on (the data, not the answering strategy);
- `get_space()` / `import_benchmarks()`: the space and the benchmark questions the backend holds;
- `list_conversations()` / `list_conversation_messages()` / `list_message_comments()`: the space's
  real traffic, as Genie's JSON (the data flywheel, `tools/logs.py`);
- `table_columns(space)`: the real columns of the space's tables (so a column config can be made).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import ChaosLlamaError
from ..results import Answer
from ..space.model import Space

if TYPE_CHECKING:  # only for annotations: the eval set is not needed to answer questions
    from ..evalset import EvalSet


class Backend:
    """One interface for the local engine and Databricks Genie."""

    name: str = "backend"
    deterministic: bool = False
    remote: bool = False
    uses_llm: bool = False
    answer_deadline_s: float | None = None  # None: the runner's own timeout bounds the whole ask

    def identity(self) -> str:
        """A stable id of the backend's answering behaviour, part of the result-cache key."""
        raise NotImplementedError

    def data_identity(self) -> str:
        """A stable id of the data queried: the gold-result cache key (default: `identity()`)."""
        return self.identity()

    async def ask(self, space: Space, question: str) -> Answer:
        """Answer one question against `space` (no cross-question context)."""
        raise NotImplementedError

    def execute(self, sql: str, *, max_rows: int | None = None, space: Space | None = None,
                dialect: str = "databricks") -> pa.Table:
        """Run read-only SQL (gold queries) against the space's tables and return the result."""
        raise NotImplementedError

    def deploy(self, space: Space) -> Any:
        """Make `space` the version the backend answers from (a remote backend pushes it)."""
        return None

    def get_space(self) -> Any:
        """The space the backend holds (`remote` backends); a local engine holds none."""
        raise ChaosLlamaError(f"the {self.name} backend holds no space of its own; name a space file")

    def import_benchmarks(self) -> EvalSet:
        """The benchmark questions of the space the backend holds, as an eval set."""
        raise ChaosLlamaError(f"the {self.name} backend holds no benchmarks; name an eval set file")

    def list_conversations(self, *, include_all: bool = True, page_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the space's conversations (Genie's JSON), newest first, and the next page's token."""
        raise ChaosLlamaError(f"the {self.name} backend keeps no conversations; import a file export instead")

    def list_conversation_messages(self, conversation_id: str, *, page_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a conversation's messages (Genie's message JSON: content, status, SQL, error, feedback)."""
        raise ChaosLlamaError(f"the {self.name} backend keeps no conversations; import a file export instead")

    def list_message_comments(self, conversation_id: str, message_id: str) -> list[dict[str, Any]]:
        """Every comment on one message (Genie's JSON)."""
        raise ChaosLlamaError(f"the {self.name} backend keeps no conversations; import a file export instead")

    def table_columns(self, space: Space) -> dict[str, list[str]]:
        """The columns of each table of `space` (identifier -> names), read through `execute`."""
        out: dict[str, list[str]] = {}
        for t in space.serialized.tables:
            try:
                out[t.identifier] = list(self.execute(f"SELECT * FROM {t.identifier} LIMIT 0", space=space).column_names)
            except Exception:  # noqa: BLE001 - a table the data lacks has no columns to offer
                out[t.identifier] = []
        return out

    def close(self) -> None:
        """Release connections (optional)."""
        return None


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
