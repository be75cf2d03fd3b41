"""Ctrl-C: `eval` and `optimize` stop with one line (no traceback) and exit 130, and what was answered
stays in the store: `eval --resume` finishes the run, `optimize` continues when run again.

The commands run as a user runs them (a subprocess of the console script) against the Genie
emulator, slowed by the client's own rate limit so the interrupt lands mid-run; SIGINT is sent
once the store holds the first answer (no timing is asserted).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos_llama.tools.cli import EXIT_INTERRUPTED, main
from chaos_llama.tools.evaluate import bundled_example
from chaos_llama.tools.optimize.state import list_states
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, emulator, retail_example

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")


def _answers(db: Path) -> int:
    """Answers recorded in the store so far (0 before it exists)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT count(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is still being created
        return 0


def _interrupt_after_first_answer(argv: list[str], ws: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "CHAOS_LLAMA_"))}
    env.update(DATABRICKS_TOKEN=TOKEN, CHAOS_LLAMA_TRACKING="off", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.Popen([str(BIN / "chaos-llama"), *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180  # a guard against a hang, not a measurement
        while _answers(ws / "chaos.db") < 1:
            assert proc.poll() is None, f"ended before the interrupt: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "no answer recorded"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _one_line(err: str) -> str:
    """The command's own messages (progress lines aside): exactly one, and no traceback."""
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "CancelledError" not in err, err[-3000:]
    said = [line for line in err.splitlines() if line.startswith("chaos-llama:")]
    assert len(said) == 1, err[-3000:]
    return said[0]


def test_ctrl_c_stops_eval_with_one_line_and_resume_finishes_it(tmp_path, monkeypatch):
    """The interrupted run keeps its answers and says how to finish; `--resume` asks only the rest."""
    for var in [v for v in os.environ if v.startswith("DATABRICKS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    space, evalset, engine = retail_example()
    ws = tmp_path / "ws"
    with bundled_example("retail") as ex, emulator((space, evalset, engine)) as emu:
        common = ["--backend", "databricks", "--space-id", emu.space_id, "--host", emu.url, "--workspace", str(ws),
                  "--split", "val", "--no-tracking"]
        done = _interrupt_after_first_answer(["eval", "--evalset", str(ex.templates), "--rate", "20", *common], ws)
        assert done.returncode == EXIT_INTERRUPTED
        line = _one_line(done.stderr)
        assert line.startswith("chaos-llama: interrupted: run run-") and "chaos-llama eval --resume run-" in line
        run_id = line.split("run ", 1)[1].split()[0]
        with Store.open(ws) as store:
            run = store.get_run(run_id)
            kept = len(store.result_statuses(run_id))
        assert run.status == "failed" and 1 <= kept < len(evalset.split("val"))
        assert f"kept {kept} answer(s)" in line

        assert main(["eval", "--resume", run_id, "--rate", "0", *common]) == 0
        with Store.open(ws) as store:
            assert store.get_run(run_id).status == "completed"
            assert len(store.result_statuses(run_id)) == len(evalset.split("val"))


def test_ctrl_c_stops_optimize_with_one_line_keeping_its_state(tmp_path):
    """The optimization's state and the answers of its first evaluation stay in the store for the next run."""
    space, evalset, engine = retail_example()
    ws = tmp_path / "ws"
    with bundled_example("retail") as ex, emulator((space, evalset, engine)) as emu:
        argv = ["optimize", "--backend", "databricks", "--space-id", emu.space_id, "--host", emu.url, "--workspace", str(ws),
                "--evalset", str(ex.templates), "--rate", "20", "--settle", "0", "--no-tracking"]
        done = _interrupt_after_first_answer(argv, ws)
    assert done.returncode == EXIT_INTERRUPTED
    assert "run the same command again to continue" in _one_line(done.stderr)
    with Store.open(ws) as store:
        (state,) = list_states(store)
        assert state.status == "running" and state.phase == "baseline"
        runs = store.list_runs()
        assert runs and runs[0].run_id.startswith(state.opt_id) and len(store.result_statuses(runs[0].run_id)) >= 1
