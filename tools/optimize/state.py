"""The loop's state in the workspace store: one document per optimization, rewritten after every step.

It lives in the store's SQLite file, so a killed `chaos-llama optimize` finds it next time and
continues from the step it had reached.
"""

from __future__ import annotations

from ..store import Store
from .model import OptimizationState

KIND = "optimization"


def save_state(store: Store, state: OptimizationState) -> None:
    store.put_document(KIND, state.opt_id, state.model_dump_json())


def load_state(store: Store, opt_id: str) -> OptimizationState | None:
    body = store.get_document(KIND, opt_id)
    return OptimizationState.model_validate_json(body) if body else None


def list_states(store: Store) -> list[OptimizationState]:
    """Every optimization in the store, most recently updated first."""
    return [OptimizationState.model_validate_json(b) for b in store.list_documents(KIND)]
