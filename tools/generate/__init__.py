"""SQL-generation strategies of the local engine, one module each, listed in `STRATEGIES`.

- `retrieval` (default): offline and deterministic; grounds the question in the space's semantics and
  composes SQL through the join graph (`grounded.py`), or uses an example SQL that fits it whole.
- `retrieval-legacy`: the previous offline engine (closest example with slots, else simple schema
  linking), kept for comparison in `bench/engine_speed.py`.
- `llm`: a chat model (OpenAI-compatible endpoint or Databricks serving endpoint), prompted with all the space's metadata.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidConfig, did_you_mean
from .base import Generation, GenerationContext, Generator, space_key
from .grounded import GroundedGenerator
from .llm import LLMGenerator
from .retrieval import RetrievalGenerator

STRATEGIES: dict[str, type] = {
    "retrieval": GroundedGenerator,
    "retrieval-legacy": RetrievalGenerator,
    "llm": LLMGenerator,
}


def get_strategy(name: str, **options: Any) -> Generator:
    """A strategy instance by name; options go to its constructor (the llm strategy takes `config=`)."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise InvalidConfig(f"unknown generation strategy '{name}'." + did_you_mean(name, STRATEGIES), field="strategy") from None
    return cls(**options)


__all__ = ["STRATEGIES", "Generation", "GenerationContext", "Generator", "get_strategy", "space_key"]
