"""MLflow tracking: every evaluation is an MLflow run (CLI `eval`, MCP `eval_run` and `eval_final_test`,
each evaluation of `optimize` as a child of the optimization's run) with its scores per split and
category, the space version as an artifact and a link back from the stored run; nothing secret is
logged, MLflow's INFO lines stay off the console, and the newest full mlflow's server reads the store.

Creating an MLflow store takes seconds, so the suite runs untracked (tests/conftest.py) and these
tests turn tracking on where they check it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mcp import Client

from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
from chaos_llama.tools.optimize.loop import optimize
from chaos_llama.tools.optimize.model import OptimizeSettings
from chaos_llama.tools.space.io import load_space
from chaos_llama.tools.store import Store, space_version_id
from chaos_llama.tools.tracking import default_tracking_uri, run_metrics, tracking_uri
from optimize_helpers import small_evalset

BIN = Path(sys.executable).parent


def test_mlflow_holds_the_runs_metrics(tmp_path, monkeypatch):
    """Read back through MlflowClient: per-epoch train/val accuracy, final test accuracy, params and
    the report artifact; a secret in the environment never reaches MLflow."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-log-me")
    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data])
        space, full = load_inputs(ex.sparse_space, ex.templates)
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

    # every evaluation of the loop is a child run, linked from the stored run; the test split as aggregates only
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.tracking_run_id}'")
    with Store(tmp_path / "chaos.db") as store:
        stored = [r for r in store.list_runs() if r.run_id.startswith(result.opt_id)]
    assert stored and sorted(c.info.run_id for c in children) == sorted(r.summary["mlflow_run_id"] for r in stored)
    by_name = {c.info.run_name: c for c in children}
    final = by_name[next(r.run_id for r in stored if r.split == "test")]
    assert final.data.metrics["test/accuracy"] == result.final.test.accuracy
    assert "results.jsonl" not in {a.path for a in client.list_artifacts(final.info.run_id)}
    base = by_name[result.baseline["train"].run_id]
    assert base.data.tags["chaos_llama.source"] == "optimize"
    assert "results.jsonl" in {a.path for a in client.list_artifacts(base.info.run_id)}


def test_an_unusable_tracking_store_is_a_clear_error_before_any_question(tmp_path):
    """A tracking URI that cannot be used stops the optimization up front, naming the fix."""
    from chaos_llama.tools.errors import InvalidConfig
    from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
    from chaos_llama.tools.optimize.loop import optimize
    from chaos_llama.tools.optimize.model import OptimizeSettings
    from chaos_llama.tools.store import Store
    from optimize_helpers import RecordingBackend, small_evalset

    with bundled_example("retail") as ex:
        space, full = load_inputs(ex.sparse_space, ex.templates)
        backend = RecordingBackend(open_local_backend([ex.data]))
    with Store(tmp_path / "chaos.db") as store, pytest.raises(InvalidConfig, match="--no-tracking"):
        optimize(space, small_evalset(full), backend, OptimizeSettings(workspace=tmp_path, tracking="nosuchscheme://tracking"),
                 store=store)
    assert backend.asked == []


# ---------------------------------------------------------------- where runs go
def test_tracking_setting_resolution(tmp_path):
    """A setting beats $CHAOS_LLAMA_TRACKING, which beats the default (on); on means $MLFLOW_TRACKING_URI or the workspace."""
    ws = tmp_path / "ws"
    assert tracking_uri(None, ws, env={}) == default_tracking_uri(ws) == f"sqlite:///{ws.resolve()}/mlflow.db"
    assert tracking_uri(None, ws, env={"CHAOS_LLAMA_TRACKING": "off"}) is None
    assert tracking_uri(True, ws, env={"CHAOS_LLAMA_TRACKING": "off"}) == default_tracking_uri(ws)
    assert tracking_uri("databricks", ws, env={"MLFLOW_TRACKING_URI": "http://x"}) == "databricks"
    assert tracking_uri("on", ws, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}) == "http://127.0.0.1:5000"
    assert tracking_uri(False, ws, env={}) is None and tracking_uri("false", ws, env={}) is None


# ---------------------------------------------------------------- chaos-llama eval, as a user runs it
@pytest.fixture(scope="module")
def tracked_eval(tmp_path_factory):
    """`chaos-llama eval --example retail --split val` with tracking left at its default, in a subprocess."""
    ws = tmp_path_factory.mktemp("tracked") / "ws"
    env = {k: v for k, v in os.environ.items() if k not in ("CHAOS_LLAMA_TRACKING", "MLFLOW_TRACKING_URI")}
    done = subprocess.run([str(BIN / "chaos-llama"), "eval", "--example", "retail", "--split", "val", "--workspace", str(ws),
                           "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return ws, json.loads(done.stdout), done.stderr


def test_eval_is_an_mlflow_run_linked_from_the_store(tracked_eval):
    """Scores per split and category, params, the space version (YAML) and per-question outcomes; the
    stored run names the MLflow run; MLflow's INFO lines (database migrations) never reach the console."""
    from mlflow.tracking import MlflowClient

    ws, result, err = tracked_eval
    assert "INFO" not in err and "alembic" not in err.lower() and "Creating initial MLflow database" not in err
    with Store.open(ws) as store:
        summary = store.get_run(result["run_id"]).summary
        space = store.get_space_version(result["space_version"]).space
    uri = default_tracking_uri(ws)
    assert summary["mlflow_uri"] == uri
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(summary["mlflow_run_id"])
    m = run.data.metrics
    assert run.info.status == "FINISHED" and run.info.run_name == result["run_id"]
    assert m["accuracy"] == m["val/accuracy"] == result["score"]["accuracy"]
    assert (m["right"], m["wrong"], m["refused"]) == (result["score"]["right"], result["score"]["wrong"], result["score"]["refused"])
    for cat, sc in result["by_category"].items():
        assert m[f"val/by_category/{cat}/right"] == sc["right"] and m[f"val/by_category/{cat}/refused"] == sc["refused"]
    assert run.data.params["split"] == "val" and run.data.params["space_version"] == result["space_version"]
    assert run.data.tags["chaos_llama.source"] == "cli" and run.data.tags["chaos_llama.run_id"] == result["run_id"]
    assert client.get_experiment(run.info.experiment_id).name == "chaos-llama/retail-sales-sparse"
    yaml_path = client.download_artifacts(run.info.run_id, f"space/{result['space_version'][:12]}.yaml", str(ws))
    assert space_version_id(load_space(yaml_path)) == result["space_version"] and space.title in Path(yaml_path).read_text()
    rows = Path(client.download_artifacts(run.info.run_id, "results.jsonl", str(ws))).read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(r)["case_id"] for r in rows) == sorted(r["case_id"] for r in result["rows"])
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(ws.resolve())  # artifacts stay in the workspace


async def test_mcp_eval_run_and_final_test_are_mlflow_runs(tmp_path):
    """With `tracking: true` in the project, eval_run's run is in MLflow and run_log links it; the final test
    is logged as aggregates only (no per-question artifact)."""
    from mlflow.tracking import MlflowClient

    from chaos_llama.server.app import build_app
    from chaos_llama.tools.project import load_config

    ws = tmp_path / "ws"
    app = build_app(load_config(env={}, overrides={"workspace": str(ws), "tracking": True}))
    async with Client(app) as c:
        val = (await c.call_tool("eval_run", {"split": "val"})).structured_content
        info = (await c.call_tool("run_log", {"run_id": val["run_id"]})).structured_content
        final = (await c.call_tool("eval_final_test", {})).structured_content
    assert info["mlflow"]
    client = MlflowClient(tracking_uri=default_tracking_uri(ws))
    run = client.get_run(info["mlflow"])
    assert run.data.tags["chaos_llama.source"] == "mcp" and run.data.metrics["val/accuracy"] == val["overall"]["accuracy"]
    (test_run,) = client.search_runs([run.info.experiment_id], filter_string="params.split = 'test'")
    assert test_run.data.metrics["test/accuracy"] == final["overall"]["accuracy"]
    assert "results.jsonl" not in {a.path for a in client.list_artifacts(test_run.info.run_id)}


# ---------------------------------------------------------------- the MLflow UI a user would install
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None) -> dict | str:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    return json.loads(text) if r.headers.get_content_type() == "application/json" else text


@pytest.mark.skipif(not os.environ.get("CHAOS_LLAMA_MLFLOW_SERVER"),
                    reason="full mlflow (~860 MB, with the UI) is not installed here: set CHAOS_LLAMA_MLFLOW_SERVER to its "
                           "`mlflow` command, e.g. from `python -m venv /tmp/mlflow && /tmp/mlflow/bin/pip install mlflow`")
def test_full_mlflow_ui_reads_the_tracking_store(tracked_eval):
    """`mlflow server` of a full mlflow install (another venv, the newest that installs) opens the SQLite store
    this package writes, without a schema upgrade: its UI page loads and its REST API (what the UI calls)
    returns the experiment, the run with its metrics, and the space version artifact."""
    ws, result, _ = tracked_eval
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([os.environ["CHAOS_LLAMA_MLFLOW_SERVER"], "server", "--backend-store-uri", default_tracking_uri(ws),
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180  # a guard against a server that never comes up, not a measurement
        while True:
            assert server.poll() is None, server.stdout.read()[-3000:]
            try:
                if _get(f"{base}/health") == "OK":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        assert "<html" in _get(f"{base}/").lower()  # the UI itself
        exps = _get(f"{base}/ajax-api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]
        exp = next(e for e in exps if e["name"] == "chaos-llama/retail-sales-sparse")
        runs = _get(f"{base}/ajax-api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
        run = next(r for r in runs if r["info"]["run_name"] == result["run_id"])
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        assert metrics["val/accuracy"] == result["score"]["accuracy"]
        files = _get(f"{base}/ajax-api/2.0/mlflow/artifacts/list?run_id={run['info']['run_id']}&path=space")["files"]
        assert files and files[0]["path"].endswith(".yaml")
        text = _get(f"{base}/get-artifact?path={files[0]['path']}&run_uuid={run['info']['run_id']}")
        assert "serialized_space" in text
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers: the group this test started
        server.wait(timeout=60)
