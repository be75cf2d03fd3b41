"""MLflow tracking of optimizations: an experiment per space, a run per optimization, metrics per
epoch and split, params and artifacts (versions as YAML, diffs, per-question results, the report).

mlflow is imported only when a `Tracker` is created. The default tracking store is a SQLite file
in the workspace (`sqlite:///<workspace>/mlflow.db`); `databricks` (or `databricks://<profile>`)
tracks to a Databricks workspace, where experiment names are workspace paths (`/Shared/...`).
Values whose name looks like a secret are never logged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_SECRET = re.compile(r"(key|token|secret|password|credential|authorization)", re.IGNORECASE)


def default_tracking_uri(workspace: str | Path) -> str:
    """`sqlite:///<absolute workspace>/mlflow.db`."""
    return f"sqlite:///{Path(workspace).resolve() / 'mlflow.db'}"


def _clean(params: dict[str, Any]) -> dict[str, str]:
    """Params as MLflow strings (max 6000 chars), secret-looking names dropped."""
    return {k: str(v)[:6000] for k, v in params.items() if not _SECRET.search(k)}


class Tracker:
    """One MLflow run, driven through `MlflowClient` (no global active-run state)."""

    def __init__(self, uri: str, *, experiment: str, artifact_root: str | Path | None = None):
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        if uri.startswith("databricks") and not experiment.startswith("/"):
            experiment = f"/Shared/{experiment}"  # Databricks experiments are workspace paths
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
        else:
            location = None
            if artifact_root is not None and not uri.startswith("databricks"):
                # a local store would otherwise write artifacts to ./mlruns of whatever the cwd is
                location = Path(artifact_root).resolve().as_uri()
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        self.experiment = experiment
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


def run_metrics(uri: str, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Every metric of a run with its history as [(step, value)] (reads back what was logged)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    return {k: sorted((m.step, m.value) for m in client.get_metric_history(run_id, k)) for k in run.data.metrics}
