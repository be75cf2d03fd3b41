"""The project file: which space, data, eval set, judges, split seed and budgets (read by the MCP server, `doctor` and the CLI).

A project file is YAML (``chaos-llama.yaml``)::

    space: spaces/sales.yaml          # or `example: retail` for the bundled example
    evalset: evals/sales.yaml
    data: [data/]                     # local engine: CSV/Parquet folders, .duckdb, PostgreSQL dump
    backend: {kind: local, strategy: retrieval}
    judges: [execution, failure_analysis]
    metrics: [evals/metrics.yaml]     # optional: YAML metrics, each added as a judge
    custom_judges: [evals/judges.py:uses_net_revenue]   # optional: Python judges
    llm_judges: [evals/llm_judges.yaml]   # optional: LLM judges (criteria + examples)
    judge_model: databricks:my-endpoint    # optional: a Databricks serving endpoint (workspace auth), or
                                           # {base_url: http://localhost:8000/v1, model: m, api_key_env: MY_KEY}
    split_seed: 0
    workspace: .chaos-llama
    budgets: {backend_questions: 500, applies: 20, final_tests: 1}
    tracking: true                    # MLflow: true (<workspace>/mlflow.db, the default), false, or a URI (databricks)

Relative paths are relative to the file. Precedence, lowest first: defaults, the file,
``CHAOS_LLAMA_*`` environment variables, command-line overrides. Kept free of heavy imports:
the server reads it before answering ``initialize``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidConfig, did_you_mean

ENV_PREFIX = "CHAOS_LLAMA_"
# The judges every surface uses unless told otherwise: the first decides right or wrong.
DEFAULT_JUDGES: tuple[str, ...] = ("execution", "failure_analysis")
DEFAULT_FILES = ("chaos-llama.yaml", "chaos-llama.yml")


class Budgets(BaseModel):
    """Session limits the server enforces; a call that would exceed one is refused before spending."""

    model_config = ConfigDict(extra="forbid")

    backend_questions: int = Field(2000, ge=0, description="questions asked of the backend (Genie)")
    sql_executions: int = Field(5000, ge=0, description="warehouse/SQL executions (gold queries, example checks)")
    llm_tokens: int = Field(500_000, ge=0, description="LLM tokens spent by the backend or judges")
    applies: int = Field(50, ge=0, description="space changes applied (rollbacks included)")
    final_tests: int = Field(1, ge=0, description="scorings of the held-out test split")
    wall_clock_s: float = Field(3600.0, ge=0, description="seconds spent inside spending tools")


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "databricks"] = "local"
    # local engine
    strategy: Literal["retrieval", "llm"] = "retrieval"
    # strategy=llm's chat model: 'databricks:<endpoint>' or {provider, model, base_url, api_key_env, ...} (tools/chat.py)
    llm: dict[str, Any] | str | None = None
    strict: bool = Field(False, description="a PostgreSQL dump statement in `data` that cannot load is fatal, not a warning")
    # databricks: auth resolves like the databricks CLI (profile, DATABRICKS_* env vars, OAuth);
    # a token never goes in this file.
    host: str | None = None
    profile: str | None = None
    space_id: str | None = None
    warehouse_id: str | None = Field(None, description="warehouse for gold SQL (default: the space's)")
    rate_per_minute: float | None = Field(5, description="question starts per minute (Genie API free tier: 5)")
    question_timeout_s: float = Field(120, gt=0)
    settle_s: float = Field(30, ge=0, description="wait after pushing a new version before asking it")


class ProjectConfig(BaseModel):
    """Everything `chaos-llama serve` needs to know about a project."""

    model_config = ConfigDict(extra="forbid")

    example: str | None = Field(None, description="use a bundled example (space, data, eval set), e.g. 'retail'")
    example_space: Literal["sparse", "curated"] = "sparse"
    space: Path | None = None
    evalset: Path | None = None
    data: list[Path] = Field(default_factory=list)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    judges: list[str] = Field(default_factory=lambda: list(DEFAULT_JUDGES))
    metrics: list[Path] = Field(default_factory=list, description="YAML metric files; every metric is added as a judge")
    custom_judges: list[str] = Field(default_factory=list, description="Python judges, 'file.py:function' or 'pkg.module:function'")
    llm_judges: list[Path] = Field(default_factory=list, description="YAML files of LLM judge definitions (criteria, examples)")
    judge_model: dict[str, Any] | str | None = Field(
        None, description="chat model for LLM judges: 'databricks:<endpoint>' (workspace auth) or {base_url, model, api_key_env}; "
                          "without it the assistant judges")
    split_seed: int = 0
    workspace: Path = Path(".chaos-llama")
    author: str = "assistant"
    budgets: Budgets = Field(default_factory=Budgets)
    tracking: str | bool | None = Field(None, description="MLflow tracking of every run: a tracking URI (e.g. databricks), true "
                                                          "(sqlite:///<workspace>/mlflow.db) or false; default on")
    source: str | None = Field(None, description="the file this came from")


_FIELDS = tuple(ProjectConfig.model_fields)
_PATH_FIELDS = ("space", "evalset", "workspace")


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """`CHAOS_LLAMA_SPACE=...`, `CHAOS_LLAMA_DATA=a:b`, `CHAOS_LLAMA_BUDGET_APPLIES=5`,
    `CHAOS_LLAMA_SPACE_ID=01ef...` (the Databricks backend), ...; empty values are ignored."""
    out: dict[str, Any] = {}
    budget_fields = tuple(Budgets.model_fields)
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        if value == "":  # an unset option of a plugin/bundle arrives as an empty string
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name.startswith("budget_"):
            b = name.removeprefix("budget_")
            if b not in budget_fields:
                raise InvalidConfig(f"unknown budget {b!r} in environment variable {key}.{did_you_mean(b, budget_fields)}", field=key)
            out.setdefault("budgets", {})[b] = value
        elif name == "backend":
            out.setdefault("backend", {})["kind"] = value
        elif name == "strategy":
            out.setdefault("backend", {})["strategy"] = value
        elif name in ("space_id", "warehouse_id", "profile", "host"):
            # a Genie space named in the environment means the Databricks backend
            backend = out.setdefault("backend", {})
            backend[name] = value
            if name == "space_id":
                backend.setdefault("kind", "databricks")
        elif name == "data":
            out["data"] = [p for p in value.split(os.pathsep) if p]
        elif name == "judges":
            out["judges"] = [j.strip() for j in value.split(",") if j.strip()]
        elif name == "seed":
            out["split_seed"] = value
        elif name in _FIELDS:
            out[name] = value
        else:
            raise InvalidConfig(f"unknown setting {key}.{did_you_mean(name, _FIELDS)}", field=key)
    return out


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if v is None:
            continue
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def find_config(start: Path | None = None) -> Path | None:
    """The project file in `start` (default: the current directory), if any."""
    start = start or Path.cwd()
    return next((start / n for n in DEFAULT_FILES if (start / n).is_file()), None)


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ProjectConfig:
    """Read the project file (if any), then apply `CHAOS_LLAMA_*` variables and `overrides`.

    `path` may be a folder (an editor's workspace folder): its project file if it has one, else
    no file, with the workspace in that folder. Without a file and without a space, the bundled
    `retail` example is used so that `chaos-llama serve` works out of the box.
    """
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG") or find_config()
    raw: dict[str, Any] = {}
    base = Path.cwd()
    source = None
    if path and Path(path).is_dir():
        folder = Path(path).resolve()
        path = find_config(folder)
        if path is None:  # a folder without a project file: the example, its state kept in the folder
            raw["workspace"] = str(folder / ProjectConfig.model_fields["workspace"].default)
    if path:
        import yaml

        p = Path(path)
        source = str(p)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidConfig(f"config file {source!r} does not exist", source=source) from None
        except yaml.YAMLError as e:
            line = getattr(getattr(e, "problem_mark", None), "line", None)
            raise InvalidConfig(f"not valid YAML: {e}", source=source, line=None if line is None else line + 1) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise InvalidConfig(f"expected a mapping of settings ({', '.join(_FIELDS)}), got {type(loaded).__name__}", source=source)
        raw = loaded or {}
        base = p.resolve().parent
        for key in raw:
            if key not in _FIELDS:
                raise InvalidConfig(f"unknown setting {key!r}.{did_you_mean(str(key), _FIELDS)}", source=source, field=str(key))
        # Paths in the file are relative to the file, not to where the server was started.
        for key in _PATH_FIELDS:
            if raw.get(key):
                raw[key] = str(base / Path(str(raw[key])).expanduser())
        for key in ("data", "metrics", "llm_judges"):
            if raw.get(key):
                items = raw[key] if isinstance(raw[key], list) else [raw[key]]
                raw[key] = [str(base / Path(str(d)).expanduser()) for d in items]
        if raw.get("custom_judges"):  # 'file.py:fn' refs are relative to the file too
            refs = raw["custom_judges"] if isinstance(raw["custom_judges"], list) else [raw["custom_judges"]]
            raw["custom_judges"] = [str(base / r) if str(r).split(":")[0].endswith(".py") else str(r) for r in refs]
    merged = _merge(_merge(raw, _env_overrides(env)), dict(overrides or {}))
    remote = isinstance(merged.get("backend"), Mapping) and merged["backend"].get("kind") == "databricks"
    if not merged.get("space") and not merged.get("example") and not remote:
        merged["example"] = "retail"  # a Genie space is its own starting point
    merged["source"] = source
    try:
        return ProjectConfig.model_validate(merged)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise InvalidConfig(f"{err['msg']} (got {err.get('input')!r})", source=source, field=field) from None
