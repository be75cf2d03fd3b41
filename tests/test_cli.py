"""The command line through `main()`: the demo, bad input that names the file, and `eval` against a
Genie space (the project's emulator on 127.0.0.1, the real databricks-sdk client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos_llama.tools.cli import main
from chaos_llama.tools.evaluate import bundled_example
from databricks_helpers import TOKEN, emulator, retail_example

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "retail"


@pytest.fixture(scope="module")
def retail():
    return retail_example()


def test_demo_shows_metadata_matters(tmp_path, capsys):
    assert main(["demo", "--workspace", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    sparse, curated = out["sparse"], out["curated"]
    assert sparse["total"] == curated["total"] == 171  # the realistic set is the default
    assert (sparse["accuracy"] or 0) < 0.3 < 0.7 < curated["accuracy"]
    assert curated["score"]["wrong"] < 0.1 * curated["total"]
    assert out["fixed"] > 80 and out["broken"] == 0


def test_demo_reports_on_the_never_tuned_set(tmp_path, capsys):
    assert main(["demo", "--set", "unseen", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "unseen eval set" in out and "69/69" not in out and "wrong" in out


def test_a_bad_eval_set_exits_2_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "evals.yaml"
    bad.write_text("name: x\nquestions:\n- id: a\n  question: How many orders?\n  gold_sql: SELECT 1\n- id: b\n  gold_sql: SELECT 2\n")
    with bundled_example("retail") as ex:
        code = main(["eval", "--space", str(ex.curated_space), "--evalset", str(bad), "--data", str(ex.data),
                     "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 2
    assert "evals.yaml" in err and "question" in err


def test_a_bad_space_file_exits_2_naming_it(tmp_path, capsys):
    bad = tmp_path / "space.yaml"
    bad.write_text("title: t\nserialized_space:\n  version: 2\n  data_sources:\n    tables: [{identifier: 42}]\n  nonsense: [\n")
    with bundled_example("retail") as ex:
        code = main(["eval", "--space", str(bad), "--evalset", str(ex.templates), "--data", str(ex.data),
                     "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 2 and "space.yaml" in err


def test_the_local_engine_needs_data(tmp_path, capsys):
    with bundled_example("retail") as ex:
        code = main(["eval", "--space", str(ex.curated_space), "--evalset", str(ex.templates), "--workspace", str(tmp_path)])
    assert code == 2 and "--data" in capsys.readouterr().err


def test_databricks_backend_needs_a_space_id(tmp_path, capsys):
    code = main(["eval", "--backend", "databricks", "--workspace", str(tmp_path)])
    assert code == 2 and "space id" in capsys.readouterr().err


def test_eval_against_a_genie_space_matches_the_local_engine(retail, tmp_path, capsys, monkeypatch):
    """`chaos-llama eval --backend databricks` on the emulator (which answers with the local engine)
    scores the val split exactly as the local engine does; the space is pulled from Genie."""
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    for var in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    with bundled_example("retail") as ex, emulator(retail) as emu:
        assert main(["eval", "--space", str(ex.curated_space), "--evalset", str(ex.templates), "--data", str(ex.data),
                     "--split", "val", "--judges", "execution", "--workspace", str(tmp_path / "local"), "--json"]) == 0
        local = json.loads(capsys.readouterr().out)
        code = main(["eval", "--backend", "databricks", "--host", emu.url, "--space-id", emu.space_id,
                     "--warehouse-id", emu.warehouse_id, "--rate", "0", "--evalset", str(ex.templates), "--split", "val",
                     "--judges", "execution", "--workspace", str(tmp_path / "remote"), "--json"])
        remote = json.loads(capsys.readouterr().out)
        assert code == 0
        assert emu.stats["updates"] == 0  # the version Genie held was evaluated, nothing pushed
        assert emu.stats["conversations"] == remote["total"] == local["total"] > 0
    assert remote["correct"] == local["correct"]
    assert {r["case_id"]: r["correct"] for r in remote["rows"]} == {r["case_id"]: r["correct"] for r in local["rows"]}


def test_eval_with_yaml_metrics_and_a_python_judge(tmp_path, capsys):
    """User judges named on the command line are registered and scored beside the built-ins."""
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text("- {name: has_group_by, type: sql_contains, pattern: 'GROUP BY', expect: true}\n")
    judges = tmp_path / "my_judges.py"
    judges.write_text("def returns_rows(case, *, generated, expected):\n"
                      "    return generated.result is not None and generated.result.num_rows > 0\n")
    with bundled_example("retail") as ex:
        code = main(["eval", "--space", str(ex.curated_space), "--evalset", str(ex.templates), "--data", str(ex.data),
                     "--split", "val", "--judges", "execution", "--metrics", str(metrics),
                     "--custom-judge", f"{judges}:returns_rows", "--workspace", str(tmp_path / "ws"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    verdicts = [r["verdicts"] for r in out["rows"]]
    assert all({"execution", "has_group_by", "returns_rows"} <= set(v) for v in verdicts)
    grouped = [r for r in out["rows"] if "GROUP BY" in (r["sql"] or "").upper()]
    assert grouped and all(r["verdicts"]["has_group_by"]["value"] is True for r in grouped)
    assert any(r["verdicts"]["has_group_by"]["value"] is False for r in out["rows"])


def test_a_missing_metric_file_exits_2_naming_it(tmp_path, capsys):
    with bundled_example("retail") as ex:
        code = main(["eval", "--space", str(ex.curated_space), "--evalset", str(ex.templates), "--data", str(ex.data),
                     "--metrics", str(tmp_path / "nope.yaml"), "--workspace", str(tmp_path)])
    assert code == 2 and "nope.yaml" in capsys.readouterr().err


def test_evalset_freeze_writes_family_grouped_stratified_splits(tmp_path, capsys):
    """freeze deals families (never single questions) to splits, stratified by category; an eval set whose
    families leaked across splits is repaired by moving whole families, and every move is said."""
    import yaml

    src = EXAMPLES / "evalset_realistic.yaml"
    doc = yaml.safe_load(src.read_text())
    for q in doc["questions"]:
        q.pop("split", None)
    unsplit = tmp_path / "unsplit.yaml"
    unsplit.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "frozen.yaml"
    assert main(["evalset", "freeze", str(unsplit), "--out", str(out)]) == 0
    assert "no split moved" in capsys.readouterr().out
    assert main(["evalset", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["leakage"]["families_across_splits"] == 0 and info["splits"]["unassigned"] == 0
    assert all(c["val"] >= 1 and c["test"] >= 1 for c in info["splits"]["by_category"].values())
    assert info["expected_refusals"] >= 10
    # the template set's test questions are siblings of train ones: freeze moves whole families and says so
    with bundled_example("retail") as ex:
        assert main(["evalset", "check", str(ex.templates)]) == 2
        printed = capsys.readouterr().out
        assert "spans splits" in printed
        assert main(["evalset", "freeze", str(ex.templates), "--out", str(tmp_path / "templates.yaml")]) == 0
    moves = [line for line in capsys.readouterr().out.splitlines() if line.startswith("moved ")]
    assert moves and all("spanned splits" in m for m in moves)
    assert main(["evalset", "check", str(tmp_path / "templates.yaml")]) == 0


def test_evalset_check_runs_every_gold_and_exits_2_on_a_broken_one(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nquestions:\n- id: ok\n  question: How many orders?\n  gold_sql: SELECT COUNT(*) FROM main.retail.orders\n"
                   "- id: typo\n  question: How many returns?\n  gold_sql:\n  - SELECT COUNT(*) FROM main.retail.returns\n"
                   "  - SELECT COUNT(*) FROM main.retail.retruns\n")
    with bundled_example("retail") as ex:
        code = main(["evalset", "check", str(bad), "--data", str(ex.data), "--space", str(ex.sparse_space)])
    out = capsys.readouterr().out
    assert code == 2 and "typo: gold_sql[1] does not run" in out and "retruns" in out and "3 gold queries run, 1 failed" in out


@pytest.mark.parametrize("change, fragment", [
    ({"--space": "/no/such/space.yaml"}, "space.yaml"),
    ({"--data": "/no/such/data"}, "/no/such/data"),
    ({"--judges": "exection"}, "Did you mean 'execution'"),
])
def test_naming_something_that_does_not_exist_exits_2(tmp_path, capsys, change, fragment):
    with bundled_example("retail") as ex:
        args = {"--space": str(ex.curated_space), "--evalset": str(ex.templates), "--data": str(ex.data), **change}
        code = main(["eval", *[x for kv in args.items() for x in kv], "--workspace", str(tmp_path)])
    assert code == 2 and fragment in capsys.readouterr().err


class _JudgeEndpoint:
    """A chat-completions endpoint on 127.0.0.1 that judges 'true' when the prompt's generated SQL
    mentions GROUP BY (a rule we can check), counting requests and the bearer key it saw."""

    def __init__(self):
        import http.server
        import threading

        outer = self
        self.requests, self.keys = 0, set()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                outer.keys.add(self.headers.get("Authorization"))
                prompt = "\n".join(m["content"] for m in body["messages"])
                verdict = "GROUP BY" in prompt.split("Generated SQL", 1)[-1].upper()
                reply = {"choices": [{"message": {"role": "assistant", "content": json.dumps(
                    {"result": verdict, "rationale": "rule"})}}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_llm_judges_from_a_file_answered_by_a_configured_model(tmp_path, capsys, monkeypatch):
    """--llm-judges registers YAML judge definitions and --judge-model/--judge-base-url answer them;
    a second run of the same answers is served from the store's judge cache."""
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-local-test")
    defs = tmp_path / "llm_judges.yaml"
    defs.write_text("judges:\n  - name: groups_rows\n    description: the answer groups rows\n"
                    "    criteria: Answer true when the generated SQL groups rows.\n")
    endpoint = _JudgeEndpoint()
    try:
        with bundled_example("retail") as ex:
            args = ["eval", "--space", str(ex.curated_space), "--evalset", str(ex.templates), "--data", str(ex.data),
                    "--split", "val", "--judges", "execution", "--llm-judges", str(defs), "--judge-model", "local-judge",
                    "--judge-base-url", endpoint.url, "--judge-api-key-env", "MY_JUDGE_KEY",
                    "--workspace", str(tmp_path / "ws"), "--json"]
            assert main(args) == 0
            first = json.loads(capsys.readouterr().out)
            asked = endpoint.requests
            assert main(args + ["--no-cache"]) == 0
            capsys.readouterr()
    finally:
        endpoint.close()
    verdicts = {r["case_id"]: (r["verdicts"]["groups_rows"]["value"], r["sql"] or "") for r in first["rows"]}
    answered = {k: v for k, v in verdicts.items() if v[1]}
    assert answered and all(value == ("GROUP BY" in sql.upper()) for value, sql in answered.values())
    assert 0 < asked <= len(first["rows"]) and endpoint.requests == asked  # re-run: judged from the cache
    assert endpoint.keys == {"Bearer sk-local-test"}


_KILLED_CHILD = """
import os, signal, sys
from chaos_llama.tools.evaluate import bundled_example, evaluate, load_inputs, open_local_backend

with bundled_example("retail") as ex:
    space, evalset = load_inputs(ex.curated_space, ex.templates)
    backend = open_local_backend([ex.data])

def progress(done, total, case_id=None, status=None):
    if done == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-run: the run stays 'running' in the store

evaluate(space, evalset, backend, workspace=sys.argv[1], judges=["execution"], concurrency=1, progress=progress,
         use_cache=False, run_id="run-killed")
"""


def test_eval_resume_finishes_a_killed_run(tmp_path, capsys):
    """`chaos-llama eval --resume RUN_ID` asks only what the killed run had not recorded, with its
    own space version, eval set and judges, and leaves the run completed."""
    import signal
    import subprocess
    import sys

    from chaos_llama.tools.store import Store

    ws, kill_at = tmp_path / "ws", 9
    child = subprocess.run([sys.executable, "-c", _KILLED_CHILD, str(ws), str(kill_at)], capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    with Store.open(ws) as store:
        assert store.get_run("run-killed").status == "running" and len(store.result_statuses("run-killed")) == kill_at
    with bundled_example("retail") as ex:
        code = main(["eval", "--resume", "run-kiled", "--data", str(ex.data), "--workspace", str(ws)])
        assert code == 2 and "Did you mean 'run-killed'" in capsys.readouterr().err
        code = main(["eval", "--resume", "run-killed", "--data", str(ex.data), "--workspace", str(ws), "--json", "--no-cache"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["run_id"] == "run-killed" and out["status"] == "completed"
    assert out["resumed"] == kill_at and out["backend_calls"] == out["total"] - kill_at == 71 - kill_at
    assert out["judges"] == ["execution"] and "PENDING" not in out["counts"]
    with Store.open(ws) as store:
        assert store.get_run("run-killed").status == "completed" and len(store.result_statuses("run-killed")) == 71


def test_eval_resume_refuses_other_inputs(tmp_path, capsys):
    with bundled_example("retail") as ex:
        assert main(["eval", "--space", str(ex.curated_space), "--evalset", str(ex.templates), "--data", str(ex.data),
                     "--split", "val", "--judges", "execution", "--workspace", str(tmp_path), "--json"]) == 0
        run_id = json.loads(capsys.readouterr().out)["run_id"]
        code = main(["eval", "--resume", run_id, "--space", str(ex.sparse_space), "--data", str(ex.data), "--workspace", str(tmp_path)])
        assert code == 2 and "--resume uses the run's own space version" in capsys.readouterr().err
        code = main(["eval", "--resume", run_id, "--judges", "sql_valid", "--data", str(ex.data), "--workspace", str(tmp_path)])
        assert code == 2 and "its judges were ['execution']" in capsys.readouterr().err
        assert main(["eval", "--retry-errors", "--data", str(ex.data), "--workspace", str(tmp_path)]) == 2

def test_output_into_a_closed_pipe_is_quiet(monkeypatch, capsys):
    """`chaos-llama evalset info ... | head`: when the reader has gone, the command ends quietly
    (status 0, no BrokenPipe traceback) and the interpreter's last flush cannot fail either."""
    import io
    import os
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head) has exited
    pipe = io.TextIOWrapper(io.FileIO(write_end, "w"), write_through=True)
    monkeypatch.setattr(sys, "stdout", pipe)
    with bundled_example("retail") as ex:
        code = main(["evalset", "info", str(ex.templates)])
    assert code == 0
    pipe.write("after\n")  # stdout now points at devnull: writing and flushing succeed
    pipe.flush()
    monkeypatch.undo()
    pipe.close()
    assert "Traceback" not in capsys.readouterr().err


def test_dump_problems_are_warnings_naming_file_and_line(tmp_path, capsys):
    """A statement of a PostgreSQL dump that does not load is printed as a warning with its file
    and line; the command goes on with the rest of the data."""
    from pathlib import Path

    dump = Path(__file__).parent / "fixtures" / "data" / "bad_dump.sql"
    space = tmp_path / "space.yaml"
    space.write_text("title: t\nserialized_space:\n  version: 2\n  data_sources:\n    tables:\n      - identifier: main.s.a\n")
    evals = tmp_path / "e.yaml"
    evals.write_text("name: e\nquestions:\n  - id: q\n    question: How many a?\n    gold_sql: SELECT COUNT(*) FROM main.s.a\n")
    code = main(["eval", "--space", str(space), "--evalset", str(evals), "--data", str(dump), "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "chaos-llama: warning: " in err and "bad_dump.sql:17: COPY row has 3 fields" in err
    code = main(["eval", "--space", str(space), "--evalset", str(evals), "--data", str(dump), "--strict",
                 "--workspace", str(tmp_path / "ws")])
    assert code == 1 and "chaos-llama: error: " in capsys.readouterr().err  # --strict: the dump is refused
