"""`chaos-llama doctor`: is this machine and project ready to run the server?

Each check is a plain function returning a `Check` (ok / warn / fail / skip, what was found and,
when not ok, what to do). `run_doctor` runs them in order and returns a `DoctorReport`; the CLI
prints it and exits non-zero on a failure, and the MCP server exposes it as the read-only
`doctor` tool. Nothing here spends budget, writes to the store or prints a secret: Databricks
auth is reported by *method* (``auth_type``), and every message is scrubbed of token values.

Heavy libraries (databricks-sdk, mlflow) are imported only by the checks that need them;
mlflow is only looked up, never imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from .copilot import settings_for_example
from .errors import ChaosLlamaError
from .evalset import load_evalset
from .evaluate import load_inputs, open_local_backend
from .project import ProjectConfig, load_config
from .space.io import load_space
from .tracking import tracking_uri

Status = Literal["ok", "warn", "fail", "skip"]
MIN_PYTHON = (3, 11)
# Environment variables whose values are secrets: never shown, scrubbed from every message.
SECRET_ENV = ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_PASSWORD", "ARM_CLIENT_SECRET",
              "DATABRICKS_AZURE_CLIENT_SECRET", "OPENAI_API_KEY")


class Check(BaseModel):
    """One diagnostic: what was checked, how it went, what was found and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = Field(None, description="what to do when the status is warn or fail")


class DoctorReport(BaseModel):
    """Every check, in order; `ok` is False when any check failed (warnings do not fail)."""

    checks: list[Check]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failures(self) -> int:
        return sum(c.status == "fail" for c in self.checks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warnings(self) -> int:
        return sum(c.status == "warn" for c in self.checks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.failures == 0

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


def _scrub(text: str, secrets: list[str]) -> str:
    """Defense in depth: a secret never reaches the report, even if a server echoes it."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


def _secrets(env: Mapping[str, str], cfg: Any = None) -> list[str]:
    out = [env[k] for k in SECRET_ENV if env.get(k)]
    for attr in ("token", "client_secret", "password"):
        value = getattr(cfg, attr, None) if cfg is not None else None
        if isinstance(value, str) and value:
            out.append(value)
    return out


# ---------------------------------------------------------------- environment
def check_python() -> Check:
    v = sys.version_info
    found = f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if v[:2] < MIN_PYTHON:
        return Check(name="python", status="fail", detail=found,
                     fix=f"install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer and reinstall chaos-llama in it")
    return Check(name="python", status="ok", detail=found)


def check_packages(dist: str = "chaos-llama") -> Check:
    """The installed version of chaos-llama and of each dependency, against what it requires."""
    try:
        own = importlib.metadata.version(dist)
        requires = importlib.metadata.requires(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return Check(name="packages", status="fail", detail=f"{dist} is not installed as a package in {sys.executable}",
                     fix="python -m pip install -e . (from the repository) or pipx install git+<repository url>")
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging comes with mlflow and pip, but is not ours to require
        return Check(name="packages", status="ok", detail=f"{dist} {own} (install `packaging` to compare dependency versions)")

    found, missing, mismatched = [f"{dist} {own}"], [], []
    for line in requires:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra, e.g. [dev]
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        found.append(f"{req.name} {version}")
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            mismatched.append(f"{req.name} {version} (needs {req.specifier})")
    detail = ", ".join(found)
    if missing:
        return Check(name="packages", status="fail", detail=f"missing: {', '.join(missing)}; found {detail}",
                     fix=f"python -m pip install -e . (or pip install {' '.join(repr(m) for m in missing)})")
    if mismatched:
        return Check(name="packages", status="warn", detail=f"outside the required range: {', '.join(mismatched)}",
                     fix="python -m pip install -e . to install the required versions")
    return Check(name="packages", status="ok", detail=detail)


# ---------------------------------------------------------------- project
def check_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> tuple[Check, ProjectConfig | None]:
    """Load the project file exactly as `chaos-llama serve` would."""
    try:
        config = load_config(path, env=env, overrides=overrides)
    except ChaosLlamaError as e:
        where = getattr(e, "source", None) or "the environment (CHAOS_LLAMA_*)"
        field = getattr(e, "field", None)
        fix = f"edit {where}" + (f": field '{field}'" if field else "")
        return Check(name="config", status="fail", detail=str(e), fix=fix), None
    if config.source:
        what = f"{config.source}: backend {config.backend.kind}"
    elif config.example:
        what = f"no project file (./chaos-llama.yaml or $CHAOS_LLAMA_CONFIG): serving the bundled example {config.example!r}"
    else:
        what = f"no project file: backend {config.backend.kind} from the environment (CHAOS_LLAMA_*)"
    return Check(name="config", status="ok", detail=what), config


def _nearest_existing(path: Path) -> Path:
    p = path.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_workspace(config: ProjectConfig) -> Check:
    """The store, history and budget ledger go in the workspace folder: it must be writable."""
    ws = Path(config.workspace)
    target = ws if ws.exists() else _nearest_existing(ws)
    if ws.exists() and not ws.is_dir():
        return Check(name="workspace", status="fail", detail=f"{ws} exists and is not a folder",
                     fix="set `workspace:` in the project file to a folder")
    if not os.access(target, os.W_OK):
        return Check(name="workspace", status="fail", detail=f"{target} is not writable (workspace {ws})",
                     fix="set `workspace:` in the project file (or --workspace) to a writable folder")
    return Check(name="workspace", status="ok",
                 detail=f"{ws.resolve()}" + ("" if ws.exists() else " (created on first use)"))


def check_project(config: ProjectConfig) -> Check:
    """Load the space, the eval set and (local engine) build the data, as the server would on first use."""

    try:
        if config.space is None and config.backend.kind == "local":

            s = settings_for_example(config.example or "retail", config.example_space)
            space_path, evalset_path, data = s.space, s.evalset, config.data or s.data
            evalset_path = config.evalset or evalset_path
        else:
            space_path, evalset_path, data = config.space, config.evalset, config.data
        if config.backend.kind == "databricks":
            parts = []
            if evalset_path is not None:

                parts.append(f"eval set {evalset_path}: {len(load_evalset(evalset_path).cases)} questions")
            else:
                parts.append("eval set: the space's benchmark questions")
            if space_path is not None:

                parts.append(f"space file {space_path}: {load_space(space_path).title!r}")
            return Check(name="project", status="ok", detail="; ".join(parts))
        if evalset_path is None:
            return Check(name="project", status="fail", detail="the project names a space but no eval set",
                         fix="add `evalset:` to the project file")
        space, evalset = load_inputs(space_path, evalset_path, seed=config.split_seed)
        if not data:
            return Check(name="project", status="fail", detail="the local engine has no data to answer from",
                         fix="add `data:` (CSV/Parquet folders, a .duckdb file or a PostgreSQL dump) to the project file")
        engine = open_local_backend(data, strategy=config.backend.strategy, llm=config.backend.llm)
        tables = engine.con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0]
    except ChaosLlamaError as e:
        return Check(name="project", status="fail", detail=f"{type(e).__name__}: {e}",
                     fix="fix the file named above (see docs for the space and eval set formats)")
    except OSError as e:
        return Check(name="project", status="fail", detail=f"{e}", fix="check the paths in the project file")
    splits = {s: sum(1 for c in evalset.cases if c.split == s) for s in ("train", "val", "test")}
    return Check(name="project", status="ok",
                 detail=f"space {space.title!r} ({len(space.serialized.data_sources.tables)} tables), "
                        f"eval set {evalset.name!r} ({len(evalset.cases)} questions; train/val/test "
                        f"{splits['train']}/{splits['val']}/{splits['test']})"
                        f", {tables} DuckDB tables")


# ---------------------------------------------------------------- Databricks
def databricks_config(config: ProjectConfig, *, retry_timeout_s: int = 2, http_timeout_s: int = 10) -> Any:
    """The databricks-sdk `Config` the backend would use (short timeouts: a doctor must answer fast)."""
    from .backends.databricks import sdk_config

    b = config.backend
    return sdk_config(host=b.host, profile=b.profile, retry_timeout_s=retry_timeout_s, http_timeout_s=http_timeout_s)


def check_databricks_auth(config: ProjectConfig, env: Mapping[str, str] | None = None) -> tuple[Check, Any]:
    """Which unified-auth method resolves (pat, oauth-m2m, databricks-cli, azure-cli, ...), never its secret."""
    env = os.environ if env is None else env
    if config.backend.kind != "databricks":
        return Check(name="databricks_auth", status="skip", detail=f"backend is {config.backend.kind!r}"), None
    if importlib.util.find_spec("databricks.sdk") is None:
        return Check(name="databricks_auth", status="fail", detail="databricks-sdk is not installed",
                     fix="python -m pip install databricks-sdk"), None
    try:
        cfg = databricks_config(config)
        auth_type = cfg.auth_type
        cfg.authenticate()  # resolves the credentials provider (may read a profile or a cached OAuth token)
    except Exception as e:  # noqa: BLE001 - any SDK failure is a finding, not a crash
        profile = config.backend.profile or env.get("DATABRICKS_CONFIG_PROFILE")
        fix = (f"run `databricks auth login --profile {profile}`" if profile else
               "set backend.host and backend.profile in the project file and run `databricks auth login --host <workspace url>`, "
               "or set DATABRICKS_HOST and DATABRICKS_TOKEN")
        return Check(name="databricks_auth", status="fail", detail=_scrub(f"{type(e).__name__}: {e}", _secrets(env)),
                     fix=fix), None
    source = f"profile {cfg.profile!r}" if cfg.profile else "environment/arguments"
    return Check(name="databricks_auth", status="ok", detail=f"auth_type={auth_type} for {cfg.host} ({source})"), cfg


def check_genie_space(config: ProjectConfig, cfg: Any, env: Mapping[str, str] | None = None) -> tuple[Check, Any]:
    """Pull the space (needs CAN EDIT): proves the host, the credentials and the space id together."""
    env = os.environ if env is None else env
    b = config.backend
    if b.kind != "databricks":
        return Check(name="genie_space", status="skip", detail=f"backend is {b.kind!r}"), None
    if cfg is None:
        return Check(name="genie_space", status="skip", detail="Databricks auth did not resolve"), None
    if not b.space_id:
        return Check(name="genie_space", status="fail", detail="no Genie space id configured",
                     fix="set backend.space_id in the project file (the id in the space's URL: .../genie/rooms/<id>)"), None
    from databricks.sdk import WorkspaceClient

    from .backends.databricks import DatabricksGenie

    genie = DatabricksGenie(b.space_id, warehouse_id=b.warehouse_id, client=WorkspaceClient(config=cfg), rate_per_minute=None,
                            poll_initial_s=0.2, poll_max_s=0.5)  # a few quick retries, then report
    try:
        snap = genie.get_space()
    except ChaosLlamaError as e:
        return Check(name="genie_space", status="fail", detail=_scrub(str(e), _secrets(env, cfg)),
                     fix=f"check the credentials ({cfg.auth_type}), backend.space_id {b.space_id!r} and that you have CAN EDIT on the space at {cfg.host}"), None
    s = snap.space
    return Check(name="genie_space", status="ok",
                 detail=f"{s.title!r} ({b.space_id}) at {cfg.host}; warehouse {s.warehouse_id or '-'}"), genie


def check_warehouse(config: ProjectConfig, genie: Any, env: Mapping[str, str] | None = None) -> Check:
    """The SQL warehouse for gold SQL exists and is visible (its state is read; nothing is started)."""
    env = os.environ if env is None else env
    if config.backend.kind != "databricks":
        return Check(name="warehouse", status="skip", detail=f"backend is {config.backend.kind!r}")
    if genie is None:
        return Check(name="warehouse", status="skip", detail="the Genie space was not reached")
    warehouse_id = config.backend.warehouse_id or genie.warehouse_id
    if not warehouse_id:
        return Check(name="warehouse", status="fail", detail="neither the project nor the space names a SQL warehouse",
                     fix="set backend.warehouse_id in the project file")
    try:
        wh = genie.client.warehouses.get(warehouse_id)
    except Exception as e:  # noqa: BLE001
        msg = _scrub(f"{type(e).__name__}: {e}", _secrets(env, genie.client.config))
        return Check(name="warehouse", status="fail", detail=f"warehouse {warehouse_id}: {msg}",
                     fix="check backend.warehouse_id and that you have CAN USE on the warehouse")
    state = getattr(getattr(wh, "state", None), "value", None) or str(getattr(wh, "state", "") or "UNKNOWN")
    detail = f"{getattr(wh, 'name', None) or warehouse_id} ({warehouse_id}): {state}"
    if state in ("DELETED", "DELETING"):
        return Check(name="warehouse", status="fail", detail=detail, fix="point backend.warehouse_id at a live warehouse")
    if state != "RUNNING":
        return Check(name="warehouse", status="warn", detail=detail,
                     fix="the first gold query starts it (this can take minutes and costs compute)")
    return Check(name="warehouse", status="ok", detail=detail)


# ---------------------------------------------------------------- tracking
def _declared(*names: str, dist: str = "chaos-llama") -> str:
    """The requirements chaos-llama declares for `names`, quoted for a pip command line."""
    try:
        from packaging.requirements import Requirement

        reqs = {Requirement(r).name.lower(): r for r in importlib.metadata.requires(dist) or []}
    except (ImportError, importlib.metadata.PackageNotFoundError):
        reqs = {}
    return " ".join(repr(reqs.get(n, n)) for n in names)


def check_tracking(config: ProjectConfig, env: Mapping[str, str] | None = None) -> Check:
    """MLflow can be imported and its tracking store written (looked up, not imported: mlflow is slow to load)."""

    env = os.environ if env is None else env
    uri = tracking_uri(config.tracking, config.workspace, env=env)
    if uri is None:
        return Check(name="tracking", status="skip", detail="MLflow tracking is off (tracking: false or CHAOS_LLAMA_TRACKING=off): "
                                                            "runs are kept in the store only")
    if importlib.util.find_spec("mlflow") is None:
        return Check(name="tracking", status="warn", detail="mlflow is not installed: runs are kept in the store only",
                     fix=f"python -m pip install -e . (or pip install {_declared('mlflow-skinny', 'sqlalchemy', 'alembic')})")
    if uri.startswith("sqlite:"):
        missing = [m for m in ("sqlalchemy", "alembic") if importlib.util.find_spec(m) is None]
        if missing:
            return Check(name="tracking", status="warn", detail=f"{uri}: needs {', '.join(missing)} for a SQLite store",
                         fix=f"python -m pip install {_declared(*missing)}")
        db = Path(uri.split(":///", 1)[-1])
        if not os.access(_nearest_existing(db.parent), os.W_OK):
            return Check(name="tracking", status="fail", detail=f"{uri}: {db.parent} is not writable",
                         fix="set `tracking:` (or MLFLOW_TRACKING_URI) to another store, or point `workspace:` at a writable folder")
    elif uri.startswith("databricks"):
        return Check(name="tracking", status="ok", detail=f"{uri} (uses Databricks auth)")
    return Check(name="tracking", status="ok", detail=uri)


# ---------------------------------------------------------------- all together
def run_doctor(
    config_path: str | Path | None = None,
    *,
    config: ProjectConfig | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    project: bool = True,
) -> DoctorReport:
    """Run every check. With `config`, the file is not read again (the server passes its own).

    Args:
        project: also load the space, eval set and data (a few seconds on a big project).
    """
    env = os.environ if env is None else env
    checks = [check_python(), check_packages()]
    if config is None:
        c, config = check_config(config_path, env=env, overrides=overrides)
    else:
        c = Check(name="config", status="ok",
                  detail=f"{config.source or 'no project file: bundled example ' + repr(config.example)}: backend {config.backend.kind}")
    checks.append(c)
    if config is None:
        later = ("workspace", "project", "databricks_auth", "genie_space", "warehouse", "tracking")
        checks += [Check(name=n, status="skip", detail="the project file did not load") for n in later]
        return DoctorReport(checks=checks)
    steps: list[Callable[[], Check]] = [lambda: check_workspace(config)]
    if project:
        steps.append(lambda: check_project(config))
    checks += [s() for s in steps]
    auth, cfg = check_databricks_auth(config, env)
    space, genie = check_genie_space(config, cfg, env)
    checks += [auth, space, check_warehouse(config, genie, env), check_tracking(config, env)]
    return DoctorReport(checks=checks)


_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def format_report(report: DoctorReport) -> str:
    """Plain text, one line per check and an indented fix under each problem."""
    lines = []
    for c in report.checks:
        lines.append(f"[{_MARK[c.status]}] {c.name}: {c.detail}")
        if c.fix and c.status in ("warn", "fail"):
            lines.append(f"       fix: {c.fix}")
    verdict = "ready" if report.ok else "not ready"
    lines.append(f"{verdict}: {report.failures} failure(s), {report.warnings} warning(s)")
    return "\n".join(lines)


__all__ = ["Check", "DoctorReport", "run_doctor", "format_report", "check_python", "check_packages", "check_config",
           "check_workspace", "check_project", "check_databricks_auth", "check_genie_space", "check_warehouse",
           "check_tracking", "databricks_config"]
