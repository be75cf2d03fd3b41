"""Backends: one module each, one registry line each.

`open_backend(config, data=..., store=...)` is the one place a backend is built from settings
(`tools.project.BackendConfig`); each module in `BACKENDS` exposes `from_config(config, *, data,
store)`. Modules load on first use, so importing this package stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidConfig, did_you_mean
from .base import Backend

if TYPE_CHECKING:
    from ..project import BackendConfig
    from ..store import Store

# kind -> module (relative to this package) exposing `from_config`
BACKENDS: dict[str, str] = {
    "local": ".local",
    "databricks": ".databricks",
}


def open_backend(config: BackendConfig, *, data: Sequence[str | Path] = (), store: Store | None = None) -> Backend:
    """The backend `config` names: the local engine over `data`, or a Genie space.

    With `store`, a remote backend keeps there every version it pulls or pushes.
    """
    if config.kind not in BACKENDS:
        raise InvalidConfig(f"unknown backend {config.kind!r}.{did_you_mean(config.kind, BACKENDS)}", field="backend")
    module = importlib.import_module(BACKENDS[config.kind], __name__)
    return module.from_config(config, data=list(data), store=store)


def __getattr__(name: str) -> Any:
    """`LocalGenie` and `DatabricksGenie` by name, imported on first use."""
    if name == "LocalGenie":
        from .local import LocalGenie

        return LocalGenie
    if name == "DatabricksGenie":
        from .databricks import DatabricksGenie

        return DatabricksGenie
    raise AttributeError(name)


__all__ = ["BACKENDS", "Backend", "open_backend"]
