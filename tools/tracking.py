"""MLflow tracking: every evaluation is an MLflow run, and an optimization is a parent run whose
evaluations are its children.

One path for every face: `track_run` logs a stored run (`chaos-llama eval`, the MCP `eval_run`
and `eval_final_test`, each evaluation of `optimize`) with its scores per split and category
(right, wrong, refused, error, gold_error counts and the rates of `tools/scoring.py`), the space
version as YAML, per-question outcomes, and writes the MLflow run id back into the run's summary
(`run_log` shows it). `Tracker` drives the optimization's parent run (metrics per epoch, the
report, diffs).

Where runs go (`tracking_uri`): a setting (a URI; true for the default; false or "off" for
nowhere), else ``$CHAOS_LLAMA_TRACKING``, else on. On without a URI means
``$MLFLOW_TRACKING_URI``, else a SQLite file in the workspace (``sqlite:///<workspace>/mlflow.db``,
artifacts in ``<workspace>/mlartifacts``); ``databricks`` (or ``databricks://<profile>``) tracks
to a Databricks workspace, where experiment names are workspace paths (``/Shared/...``).

mlflow is imported only when something is logged, and its INFO lines (database migrations)
are kept off the console. Values whose name looks like a secret are never logged. A run that
cannot be logged stays in the store; a `TrackingWarning` says why.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import TrackingWarning
from .scoring import Score, split_category_scores
from .space.io import space_to_yaml

if TYPE_CHECKING:
    from .runner import RunResult
    from .space.model import Space
    from .store import Store

ENV = "CHAOS_LLAMA_TRACKING"
_OFF = frozenset({"", "0", "false", "off", "no", "none"})
_ON = frozenset({"1", "true", "on", "yes"})
_SECRET = re.compile(r"(key|token|secret|password|credential|authorization)", re.IGNORECASE)
_SCORE_FIELDS = ("right", "wrong", "refused", "error", "gold_error", "scored", "accuracy", "wrong_rate", "refusal_rate")


def default_tracking_uri(workspace: str | Path) -> str:
    """`sqlite:///<absolute workspace>/mlflow.db`."""
    return f"sqlite:///{Path(workspace).resolve() / 'mlflow.db'}"


def tracking_uri(setting: str | bool | None, workspace: str | Path, *, env: Mapping[str, str] | None = None) -> str | None:
    """The tracking URI a setting names, or None for no tracking (see the module docstring).

    >>> tracking_uri(False, "ws", env={}) is None
    True
    >>> tracking_uri("databricks", "ws", env={})
    'databricks'
    >>> tracking_uri(None, "ws", env={"CHAOS_LLAMA_TRACKING": "off"}) is None
    True
    >>> tracking_uri(None, "ws", env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})
    'http://127.0.0.1:5000'
    """
    env = os.environ if env is None else env
    if setting is None:
        setting = env.get(ENV, True)
    if isinstance(setting, str):
        word = setting.strip()
        if word.lower() in _OFF:
            return None
        if word.lower() not in _ON:
            return word
        setting = True
    if not setting:
        return None
    return env.get("MLFLOW_TRACKING_URI") or default_tracking_uri(workspace)


def _clean(params: Mapping[str, Any]) -> dict[str, str]:
    """Params as MLflow strings (max 6000 chars), secret-looking names dropped."""
    return {k: str(v)[:6000] for k, v in params.items() if not _SECRET.search(k)}


def _quiet() -> None:
    """mlflow logs its database migrations at INFO on the console: keep them to warnings."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    _quiet()
    return MlflowClient(tracking_uri=uri)


def _experiment(client: Any, uri: str, name: str, artifact_root: str | Path | None) -> tuple[str, str]:
    """(id, name) of experiment `name`, created if missing (a local store keeps artifacts under `artifact_root`)."""
    if uri.startswith("databricks") and not name.startswith("/"):
        name = f"/Shared/{name}"  # Databricks experiments are workspace paths
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id, name
    location = None
    if artifact_root is not None and not uri.startswith("databricks"):
        # a local store would otherwise write artifacts to ./mlruns of whatever the cwd is
        location = Path(artifact_root).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location), name


def run_link(uri: str, experiment_id: str, run_id: str) -> str:
    """Where the MLflow UI shows a run: the server's page for an http(s) URI; for a local store, the
    page of `mlflow ui --backend-store-uri <uri>` (default port); for Databricks, the workspace path."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{page}"
    if uri.startswith("databricks"):
        return f"/ml/experiments/{experiment_id}/runs/{run_id}"
    return f"http://127.0.0.1:5000/{page}"


class Tracker:
    """One MLflow run, driven through `MlflowClient` (no global active-run state): an optimization's parent run."""

    def __init__(self, uri: str, *, experiment: str, artifact_root: str | Path | None = None):
        self.uri = uri
        self.client = _client(uri)
        self.experiment_id, self.experiment = _experiment(self.client, uri, experiment, artifact_root)
        self.run_id: str | None = None

    def start(self, *, run_name: str, params: dict[str, Any], tags: dict[str, str] | None = None,
              run_id: str | None = None) -> str:
        """Create the run, or reopen `run_id` (a resumed optimization keeps its MLflow run)."""
        if run_id:
            self.run_id = run_id
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=_clean(tags or {}))
        self.run_id = run.info.run_id
        for k, v in _clean(params).items():
            self.client.log_param(self.run_id, k, v)
        return self.run_id

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        for k, v in metrics.items():
            if v is not None and not _SECRET.search(k):
                self.client.log_metric(self.run_id, k, float(v), step=step)

    def log_text(self, text: str, path: str) -> None:
        self.client.log_text(self.run_id, text, path)

    def finish(self, status: str = "FINISHED") -> None:
        if self.run_id:
            self.client.set_terminated(self.run_id, status=status)


# ---------------------------------------------------------------- one evaluation, one run
class TrackedRun(BaseModel):
    """Where an evaluation was logged."""

    uri: str
    experiment_id: str
    run_id: str

    @property
    def link(self) -> str:
        return run_link(self.uri, self.experiment_id, self.run_id)


def tracked_run(summary: Mapping[str, Any]) -> TrackedRun | None:
    """Where a stored run was logged, read from its summary (None: not logged)."""
    if not summary.get("mlflow_run_id") or not summary.get("mlflow_uri"):
        return None
    return TrackedRun(uri=summary["mlflow_uri"], experiment_id=str(summary.get("mlflow_experiment_id") or ""),
                      run_id=summary["mlflow_run_id"])


def _key(text: str) -> str:
    """A metric-name part MLflow accepts (letters, digits, _ - . space and /)."""
    return re.sub(r"[^\w\-. ]", "_", text).strip() or "_"


def score_metrics(result: RunResult) -> dict[str, float]:
    """A run's scores as MLflow metrics: overall (``accuracy``, ``right``...), per split
    (``train/accuracy``) and per split and category (``train/by_category/<category>/accuracy``)."""
    out: dict[str, float] = {}

    def put(prefix: str, sc: Score) -> None:
        for field in _SCORE_FIELDS:
            value = getattr(sc, field)
            if value is not None:
                out[f"{prefix}{field}"] = float(value)

    put("", result.score)
    for split, category, sc in split_category_scores(result.rows, split=lambda r: r.split, category=lambda r: r.category):
        put(f"{_key(split)}/" if category == "ALL" else f"{_key(split)}/by_category/{_key(category)}/", sc)
    return out


def _millis(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError:
        return None


def log_run(result: RunResult, space: Space, *, uri: str, experiment: str, artifact_root: str | Path | None = None,
            parent_run_id: str | None = None, source: str = "cli", questions: bool = True) -> TrackedRun:
    """Log one evaluation as an MLflow run: params, scores per split and category, the space
    version (YAML), per-question outcomes (unless `questions` is False) and the score as JSON."""
    from mlflow.entities import Metric, Param

    client = _client(uri)
    experiment_id, _ = _experiment(client, uri, experiment, artifact_root)
    tags = {"chaos_llama.run_id": result.run_id, "chaos_llama.source": source, "chaos_llama.space_version": result.space_version,
            "chaos_llama.split": result.split or "all"}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, run_name=result.run_id, start_time=_millis(result.started_at), tags=tags)
    mlflow_run = run.info.run_id
    params = _clean({"evalset": result.evalset, "evalset_hash": result.evalset_hash, "split": result.split or "all",
                     "judges": ",".join(result.judges), "backend": result.backend, "space_title": space.title,
                     "space_version": result.space_version, "questions": result.total})
    when = _millis(result.finished_at) or _millis(result.started_at) or 0
    metrics = [Metric(k, v, when, 0) for k, v in score_metrics(result).items()]
    metrics += [Metric(k, float(getattr(result, k)), when, 0) for k in ("backend_calls", "cache_hits", "gold_executions")]
    for i in range(0, max(len(metrics), 1), 1000):  # MLflow takes at most 1000 metrics per batch
        client.log_batch(mlflow_run, metrics=metrics[i:i + 1000], params=[Param(k, v) for k, v in params.items()] if i == 0 else [])
    client.log_text(mlflow_run, space_to_yaml(space), f"space/{result.space_version[:12]}.yaml")
    client.log_text(mlflow_run, result.model_dump_json(indent=2, include={"run_id", "status", "evalset", "split", "judges",
                                                                          "score", "by_split", "by_category"}), "score.json")
    if questions:
        rows = [{"case_id": r.case_id, "split": r.split, "category": r.category, "outcome": r.outcome, "status": r.status,
                 "question": r.question, "sql": r.sql, "error": r.error} for r in result.rows]
        client.log_text(mlflow_run, "\n".join(json.dumps(r) for r in rows) + "\n", "results.jsonl")
    client.set_terminated(mlflow_run, status="FINISHED" if result.status == "completed" else "FAILED",
                          end_time=_millis(result.finished_at))
    return TrackedRun(uri=uri, experiment_id=experiment_id, run_id=mlflow_run)


def track_run(store: Store, result: RunResult, space: Space, *, uri: str, experiment: str | None = None,
              parent_run_id: str | None = None, source: str = "cli", questions: bool = True) -> TrackedRun | None:
    """Log a stored run to MLflow once and write the link into its summary (`mlflow_run_id`, shown
    by `run_log`). A run already logged to `uri` is not logged again (a resumed optimization asks
    for it twice). On failure the run stays in the store and a `TrackingWarning` says why."""
    run = store.get_run(result.run_id)
    if run is None:
        raise LookupError(f"run {result.run_id!r} is not in {store.path}")
    logged = tracked_run(run.summary)
    if logged is not None and logged.uri == uri:
        return logged
    root = Path(store.path).parent
    try:
        tracked = log_run(result, space, uri=uri, experiment=experiment or f"chaos-llama/{run.space_key or 'space'}",
                          artifact_root=root / "mlartifacts", parent_run_id=parent_run_id, source=source, questions=questions)
    except Exception as e:  # noqa: BLE001 - tracking must never lose an evaluation
        warnings.warn(TrackingWarning(f"run {result.run_id} is kept in the store but was not logged to MLflow at {uri}: "
                                      f"{type(e).__name__}: {e}"), stacklevel=2)
        return None
    latest = store.get_run(result.run_id) or run
    store.update_run(result.run_id, summary={**latest.summary, "mlflow_run_id": tracked.run_id,
                                             "mlflow_experiment_id": tracked.experiment_id, "mlflow_uri": uri})
    return tracked


def run_metrics(uri: str, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Every metric of a run with its history as [(step, value)] (reads back what was logged)."""
    client = _client(uri)
    run = client.get_run(run_id)
    return {k: sorted((m.step, m.value) for m in client.get_metric_history(run_id, k)) for k in run.data.metrics}
