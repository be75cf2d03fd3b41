"""Every outcome (right, wrong, refused, error, gold_error) reaches every surface: the CLI table and
--json, MLflow, the MCP eval_run and report, and the HTML report; each shows accuracy with the
wrong-answer and refusal rates, per split and category."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from chaos_llama.server.app import build_app
from chaos_llama.tools.backends import Backend
from chaos_llama.tools.errors import BackendError
from chaos_llama.tools.evaluate import bundled_example, open_local_backend
from chaos_llama.tools.project import load_config
from chaos_llama.tools.results import Answer

GOOD = "SELECT COUNT(*) AS n FROM main.retail.orders WHERE stat_cd = 'C'"
# one question per outcome, all in train (the per-question surfaces show train) plus one in val
EVALSET = f"""name: outcomes
questions:
- id: right_one
  question: How many completed orders are there?
  gold_sql: "{GOOD}"
  category: count
  split: train
- id: wrong_one
  question: How many completed orders are there in total?
  gold_sql: SELECT 42 AS n
  category: count
  split: train
- id: refused_one
  question: What was the weather like on our busiest day?
  gold_sql: "{GOOD}"
  category: weather
  split: train
- id: error_one
  question: How many completed orders were there, please?
  gold_sql: "{GOOD}"
  category: count
  split: train
- id: gold_error_one
  question: How many returns are there?
  gold_sql: SELECT COUNT(*) FROM main.retail.retruns
  category: returns
  split: train
- id: refusal_right
  question: What is the NPS of our stores?
  expect: refusal
  reason: no survey data
  category: weather
  split: val
"""
EXPECTED = {"right_one": "right", "wrong_one": "wrong", "refused_one": "refused", "error_one": "error",
            "gold_error_one": "gold_error", "refusal_right": "right"}


class Scripted(Backend):
    """The retail data with scripted answers: each question gets a fixed SQL, no SQL, or a backend failure."""

    ANSWERS = {"How many completed orders are there?": GOOD, "How many completed orders are there in total?": GOOD,
               "What was the weather like on our busiest day?": None, "How many returns are there?": GOOD,
               "What is the NPS of our stores?": None}

    def __init__(self, inner: Backend):
        self.inner, self.name, self.deterministic = inner, "scripted", True

    def identity(self) -> str:
        return "scripted-outcomes"

    def data_identity(self) -> str:
        return self.inner.data_identity()

    async def ask(self, space, question):
        if question not in self.ANSWERS:
            raise BackendError("the service is down")
        sql = self.ANSWERS[question]
        if sql is None:
            return Answer(status="NO_SQL", reason="nothing in the space answers it", backend=self.name)
        table = self.inner.execute(sql, space=space)
        return Answer(status="COMPLETED", sql=sql, result=table, row_count=table.num_rows, backend=self.name)

    def execute(self, sql, **kw):
        return self.inner.execute(sql, **kw)

    def table_columns(self, space):
        return self.inner.table_columns(space)


@pytest.fixture
def files(tmp_path):
    path = tmp_path / "outcomes.yaml"
    path.write_text(EVALSET)
    return path


def test_cli_table_json_and_mlflow_show_every_outcome(files, tmp_path):
    """What `chaos-llama eval` prints (its --json and its table) carries every outcome and the rates per
    split and category, names the gold errors; MLflow holds the same rates per split and category."""
    from rich.console import Console

    from chaos_llama.tools.cli._common import print_scores, result_json
    from chaos_llama.tools.evaluate import evaluate, load_inputs
    from chaos_llama.tools.store import Store
    from chaos_llama.tools.tracking import run_metrics, track_run

    with bundled_example("retail") as ex:
        space, evalset = load_inputs(ex.curated_space, files)
        backend = Scripted(open_local_backend([ex.data]))
        result = evaluate(space, evalset, backend, workspace=tmp_path / "ws")
    out = json.loads(json.dumps(result_json(result)))
    assert {r["case_id"]: r["outcome"] for r in out["rows"]} == EXPECTED
    score = out["score"]
    assert {k: score[k] for k in ("right", "wrong", "refused", "error", "gold_error")} == \
           {"right": 2, "wrong": 1, "refused": 1, "error": 1, "gold_error": 1}
    assert score["scored"] == 5 and score["accuracy"] == 0.4 and score["wrong_rate"] == 0.2 and score["refusal_rate"] == 0.2
    assert {"accuracy", "wrong_rate", "refusal_rate"} <= set(out["by_split"]["train"]) and \
           out["by_category"]["count"]["wrong_rate"] == pytest.approx(1 / 3)
    console = Console(record=True, width=160)
    print_scores("outcomes", result, console)
    table = console.export_text()
    for word in ("right", "accuracy", "wrong", "refused", "errors", "weather", "val"):
        assert word in table, word
    assert "1 gold errors" in table
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with Store.open(tmp_path / "ws") as store:
        tracked = track_run(store, result, space, uri=uri)
    metrics = run_metrics(uri, tracked.run_id)
    for key in ("accuracy", "wrong_rate", "refusal_rate", "gold_error", "error", "train/accuracy", "train/wrong_rate",
                "train/refusal_rate", "train/by_category/count/wrong_rate", "val/by_category/weather/accuracy"):
        assert key in metrics, key


async def test_mcp_eval_run_and_report_show_every_outcome(files, tmp_path):
    """MCP eval_run: the overall and per-category scores count all five outcomes (with the rates), the
    rows name each outcome; report's table has right, wrong and refused per run."""
    with bundled_example("retail") as ex:
        config = load_config(env={}, overrides={"workspace": str(tmp_path / "ws"), "space": str(ex.curated_space),
                                                "evalset": str(files), "data": [str(ex.data)], "tracking": "off"})
        backend = Scripted(open_local_backend([ex.data]))
        async with Client(build_app(config, backend=backend)) as c:
            train = (await c.call_tool("eval_run", {"split": "train", "rows": "all"})).structured_content
            val = (await c.call_tool("eval_run", {"split": "val"})).structured_content
            report = (await c.call_tool("report", {})).structured_content["markdown"]
    assert {r["case_id"]: r["outcome"] for r in train["rows"]} == {k: v for k, v in EXPECTED.items() if k != "refusal_right"}
    overall = train["overall"]
    assert {k: overall[k] for k in ("right", "wrong", "refused", "error", "gold_error")} == \
           {"right": 1, "wrong": 1, "refused": 1, "error": 1, "gold_error": 1}
    assert overall["scored"] == 4 and overall["accuracy"] == 0.25 and overall["wrong_rate"] == 0.25 and overall["refusal_rate"] == 0.25
    assert train["by_category"]["weather"]["refused"] == 1 and train["by_category"]["returns"]["gold_error"] == 1
    assert val["overall"]["right"] == 1 and val["rows"] is None  # val: aggregates only
    assert "| right | wrong | refused | accuracy |" in report and "| 1/4 | 1 | 1 | 25% |" in report


def test_html_report_shows_rates_beside_accuracy():
    from chaos_llama.tools.optimize.model import OptimizationResult, SplitScore
    from chaos_llama.tools.report import render_html

    sc = SplitScore(total=10, right=5, wrong=3, refused=2, run_id="r")
    result = OptimizationResult(opt_id="o", space_title="s", proposer="heuristic", status="completed", initial_version="a" * 12,
                                best_version="a" * 12, baseline={"train": sc, "val": sc})
    page = render_html(result)
    assert "50.0% right, 30.0% wrong, 20.0% refused" in page
