"""Automated optimization: an epoch loop of evaluate → analyse → propose → validate → apply →
keep or revert, with pluggable proposers (`proposers/`), paired statistics (`tools/scoring.py`) and the
test split locked until one final scoring.

Imports are lazy so `chaos-llama --help` does not load the runner, judges or MLflow.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OptimizationResult", "optimize", "optimize_sync", "load_result"]


def __getattr__(name: str) -> Any:
    if name in ("optimize", "optimize_sync", "load_result"):
        from . import loop

        return getattr(loop, name)
    if name == "OptimizationResult":
        from .model import OptimizationResult

        return OptimizationResult
    raise AttributeError(name)
