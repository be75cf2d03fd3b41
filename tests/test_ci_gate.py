"""A CI gate: `chaos-llama eval --fail-under X --junit-xml F`, and the GitHub Actions workflow of
`examples/ci/` run exactly as written against the Genie emulator (the real databricks-sdk client on
127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from chaos_llama.tools.cli import main
from chaos_llama.tools.evalset import save_evalset
from chaos_llama.tools.evaluate import bundled_example, load_inputs
from chaos_llama.tools.junit import junit_xml
from chaos_llama.tools.runner import CaseRow, RunResult, VerdictSummary
from chaos_llama.tools.scoring import score
from databricks_helpers import TOKEN, emulator, retail_example

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "genie-eval.yml"
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- --fail-under
def test_fail_under_gates_on_accuracy(tmp_path, capsys):
    """Below the threshold: exit 1 and one line saying by how much; at or above: exit 0."""
    ws = str(tmp_path / "ws")
    assert main(["eval", "--example", "retail", "--split", "val", "--workspace", ws, "--fail-under", "0.8", "--json"]) == 1
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["score"]["accuracy"] < 0.8
    assert f"accuracy {result['score']['accuracy']:.1%}" in out.err and "below --fail-under 80.0%" in out.err

    assert main(["eval", "--example", "retail", "--example-space", "curated", "--split", "val", "--workspace", ws,
                 "--fail-under", "0.8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"]["accuracy"] >= 0.8


@pytest.mark.parametrize("value", ["80", "-0.1", "most"])
def test_fail_under_takes_a_fraction(value, capsys):
    """80 (a percentage) is refused with the form expected, before anything runs."""
    with pytest.raises(SystemExit) as e:
        main(["eval", "--example", "retail", "--fail-under", value])
    assert e.value.code == 2 and "expected a fraction between 0 and 1" in capsys.readouterr().err


# ---------------------------------------------------------------- JUnit XML
def _row(case_id: str, outcome: str | None, *, split: str = "val", status: str = "COMPLETED", sql: str | None = "SELECT 1",
         **kw) -> CaseRow:
    return CaseRow(case_id=case_id, question=f"question {case_id} <&>", split=split, category="cat", status=status,
                   outcome=outcome, sql=sql, **kw)


def test_junit_maps_every_outcome():
    """right passes; wrong and refused fail; backend errors are errors; gold errors and unasked questions are skipped;
    counts per suite and overall add up; text XML cannot hold is replaced, not written."""
    rows = [
        _row("r1", "right", latency_s=1.5),
        _row("w1", "wrong", verdicts={"execution": VerdictSummary(value=False, rationale="differs from gold #0\x00")}),
        _row("n1", "refused", status="NO_SQL", sql=None,
             verdicts={"execution": VerdictSummary(value=False, rationale="no column matches 'sell'")}),
        _row("e1", "error", status="TIMEOUT", sql=None, error="no answer within 120s"),
        _row("g1", "gold_error", gold_error="Catalog Error: no table x"),
        _row("p1", None, status="PENDING", sql=None),
        _row("t1", "right", split="test"),
    ]
    result = RunResult(run_id="run-x", status="completed", evalset="es", evalset_hash="h", space_version="v" * 16, backend="b",
                       judges=["execution"], total=len(rows), rows=rows, score=score(rows), started_at="2026-01-01T00:00:00+00:00")
    root = ET.fromstring(junit_xml(result, name="gate"))
    assert root.tag == "testsuites" and root.get("tests") == "7"
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("2", "1", "2")
    val, test = root.findall("testsuite")
    assert val.get("name") == "gate / val" and test.get("name") == "gate / test" and val.get("tests") == "6"
    props = {p.get("name"): p.get("value") for p in val.find("properties")}
    assert props["accuracy"] == str(1 / 4) and props["run_id"] == "run-x" and props["judge"] == "execution"
    cases = {c.get("name").split(":")[0]: c for c in val.findall("testcase")}
    assert cases["r1"].get("time") == "1.500" and len(cases["r1"]) == 1  # passed: only its SQL as output
    assert cases["w1"].find("failure").get("type") == "wrong" and "differs from gold #0?" in cases["w1"].find("failure").get("message")
    assert cases["n1"].find("failure").get("type") == "refused" and "no column matches 'sell'" in cases["n1"].find("failure").get("message")
    assert cases["e1"].find("error").get("type") == "TIMEOUT" and "120s" in cases["e1"].find("error").get("message")
    assert "no table x" in cases["g1"].find("skipped").get("message") and cases["p1"].find("skipped").get("message") == "not asked"
    assert cases["r1"].get("classname") == "chaos-llama.val.cat" and cases["r1"].get("name") == "r1: question r1 <&>"


def test_cli_writes_one_case_per_question(tmp_path):
    """The file `--junit-xml` writes agrees with the run's score, question for question."""
    out, ws = tmp_path / "reports" / "eval.xml", str(tmp_path / "ws")
    assert main(["eval", "--example", "retail", "--workspace", ws, "--junit-xml", str(out)]) == 0
    root = ET.parse(out).getroot()
    with bundled_example("retail") as ex:
        _, evalset = load_inputs(ex.sparse_space, ex.evalset)
    names = {c.get("name").split(":")[0] for c in root.iter("testcase")}
    assert names == {c.id for c in evalset.cases}
    assert [s.get("name").rsplit(" / ", 1)[1] for s in root.findall("testsuite")] == ["train", "val", "test"]
    passed = [c for c in root.iter("testcase") if not len(c.findall("failure") + c.findall("error") + c.findall("skipped"))]
    assert int(root.get("failures")) + len(passed) + int(root.get("errors")) + int(root.get("skipped")) == len(evalset.cases)


# ---------------------------------------------------------------- the example workflow
def _eval_step() -> tuple[dict, dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["evaluate"]
    step = next(s for s in job["steps"] if "chaos-llama eval" in s.get("run", ""))
    return job, step


def test_workflow_is_a_complete_github_actions_job():
    """Triggers, permissions, one run at a time, the results kept and published even when the gate fails."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert {"pull_request", "push", "schedule", "workflow_dispatch"} <= set(workflow[True])  # YAML 1.1 reads `on` as True
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job, step = _eval_step()
    assert "--fail-under" in step["run"] and "--junit-xml" in step["run"]
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/checkout@") for u in uses) and any(u.startswith("actions/setup-python@") for u in uses)
    after = job["steps"][job["steps"].index(step) + 1:]
    assert after and all(s.get("if") == "always()" for s in after)
    assert {"DATABRICKS_HOST", "DATABRICKS_TOKEN", "GENIE_SPACE_ID"} <= set(job["env"])
    assert "${{ secrets.DATABRICKS_TOKEN }}" == job["env"]["DATABRICKS_TOKEN"]  # a secret, never a literal


def _run_workflow_step(tmp_path: Path, emu, evalset) -> subprocess.CompletedProcess:
    """The eval step's shell command, as the runner would run it (bash -e), with the job's environment
    pointed at the emulator: DATABRICKS_HOST, the token, the space, no rate limit, no MLflow."""
    job, step = _eval_step()
    save_evalset(evalset, tmp_path / "evals" / "genie.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "CHAOS_LLAMA_"))}
    env.update({k: str(v) for k, v in job["env"].items() if "${{" not in str(v)})
    env.update(DATABRICKS_HOST=emu.url, DATABRICKS_TOKEN=TOKEN, GENIE_SPACE_ID=emu.space_id, GENIE_QUESTIONS_PER_MINUTE="0",
               CHAOS_LLAMA_TRACKING="off", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_workflow_gate_passes_and_fails_against_the_emulator(tmp_path):
    """The curated space clears 80% (exit 0), the sparse one does not (exit 1); both leave a JUnit file."""
    curated, evalset, engine = retail_example()
    questions = evalset.model_copy(update={"cases": evalset.split("val")})  # a repository's eval set, kept small
    with bundled_example("retail") as ex:
        sparse, _ = load_inputs(ex.sparse_space, ex.evalset)
    for space, code in ((curated, 0), (sparse, 1)):
        work = tmp_path / f"repo-{code}"
        work.mkdir()
        with emulator((space, evalset, engine)) as emu:
            done = _run_workflow_step(work, emu, questions)
        assert done.returncode == code, done.stderr[-2000:]
        xml = ET.parse(work / "reports" / "genie-eval.xml").getroot()
        assert int(xml.get("tests")) == len(questions.cases)
        if code:
            assert "below --fail-under 80.0%" in done.stderr
        assert "Traceback" not in done.stderr
