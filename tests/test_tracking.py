"""MLflow tracking of an optimization: metrics per epoch and split, params, artifacts, no secrets."""

from __future__ import annotations

import pytest

from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
from chaos_llama.tools.optimize.loop import optimize
from chaos_llama.tools.optimize.model import OptimizeSettings
from chaos_llama.tools.store import Store
from chaos_llama.tools.tracking import default_tracking_uri, run_metrics
from optimize_helpers import small_evalset


def test_mlflow_holds_the_runs_metrics(tmp_path, monkeypatch):
    """Read back through MlflowClient: per-epoch train/val accuracy, final test accuracy, params and
    the report artifact; a secret in the environment never reaches MLflow."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-log-me")
    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data])
        space, full = load_inputs(ex.sparse_space, ex.evalset)
    with Store(tmp_path / "chaos.db") as store:
        result = optimize(space, small_evalset(full), backend, OptimizeSettings(max_epochs=2, workspace=tmp_path, tracking=True), store=store)
    uri = default_tracking_uri(tmp_path)
    assert result.tracking_uri == uri and result.tracking_run_id
    metrics = run_metrics(uri, result.tracking_run_id)
    assert [step for step, _ in metrics["train_accuracy"]][0] == 0 and metrics["train_accuracy"][0][1] == 0.0
    assert metrics["val_accuracy"][-1][1] == result.final.val.accuracy
    assert metrics["final_test_accuracy"] == [(len(result.epochs), result.final.test.accuracy)]
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(result.tracking_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["proposer"] == "heuristic" and run.data.params["seed"] == "0"
    assert client.get_experiment(run.info.experiment_id).name == "chaos-llama/retail-sales-sparse"
    names = {a.path for a in client.list_artifacts(result.tracking_run_id)}
    assert {"report", "versions", "diffs", "results"} <= names
    assert "sk-do-not-log-me" not in str(run.data.params) + str(run.data.tags)
    html_path = client.download_artifacts(result.tracking_run_id, "report/report.html", str(tmp_path))
    assert "<svg" in open(html_path, encoding="utf-8").read()


def test_an_unusable_tracking_store_is_a_clear_error_before_any_question(tmp_path):
    """A tracking URI that cannot be used stops the optimization up front, naming the fix."""
    from chaos_llama.tools.errors import InvalidConfig
    from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
    from chaos_llama.tools.optimize.loop import optimize
    from chaos_llama.tools.optimize.model import OptimizeSettings
    from chaos_llama.tools.store import Store
    from optimize_helpers import RecordingBackend, small_evalset

    with bundled_example("retail") as ex:
        space, full = load_inputs(ex.sparse_space, ex.evalset)
        backend = RecordingBackend(open_local_backend([ex.data]))
    with Store(tmp_path / "chaos.db") as store, pytest.raises(InvalidConfig, match="--no-tracking"):
        optimize(space, small_evalset(full), backend, OptimizeSettings(workspace=tmp_path, tracking="nosuchscheme://tracking"),
                 store=store)
    assert backend.asked == []
