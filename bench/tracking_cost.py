"""What MLflow tracking adds to `chaos-llama eval` (every evaluation is an MLflow run by default).

Runs `chaos-llama eval --example retail --split val` as a user does (a subprocess of the console
script) in pairs, untracked (`--no-tracking`) and tracked (the default SQLite store in the
workspace), each pair in its own fresh workspace: the first run of a workspace creates the store
(MLflow's schema migrations), the second reuses it (answers cached: the eval itself is quick, so
the logging shows). Reports medians of `--repeats` pairs and the tracked/untracked ratios, and
the time `tracking.log_run` takes per run once mlflow is loaded and the store open (what each
further evaluation of `optimize` or the MCP server adds).

    python -m bench.tracking_cost [--repeats 3] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table, median

SECTION = "## MLflow tracking cost"
COMMAND = ["eval", "--example", "retail", "--split", "val", "--json"]


def _eval(workspace: Path, tracked: bool) -> float:
    exe = shutil.which("chaos-llama", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env = {k: v for k, v in os.environ.items() if k not in ("CHAOS_LLAMA_TRACKING", "MLFLOW_TRACKING_URI")}
    argv = [exe, *COMMAND, "--workspace", str(workspace), *([] if tracked else ["--no-tracking"])]
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return seconds


def _in_process(n: int = 6) -> float:
    """Median seconds of `log_run` in one process after its first call (mlflow loaded, store open)."""
    from chaos_llama.tools.runner import build_run_result
    from chaos_llama.tools.store import Store
    from chaos_llama.tools.tracking import default_tracking_uri, log_run

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        _eval(ws, tracked=False)
        with Store.open(ws) as store:
            run = store.list_runs()[0]
            result = build_run_result(store, run.run_id)
            space = store.get_space_version(run.space_version, space_key=run.space_key).space
        took = []
        for _ in range(n):
            t0 = time.perf_counter()
            log_run(result, space, uri=default_tracking_uri(ws), experiment="bench", artifact_root=ws / "mlartifacts")
            took.append(time.perf_counter() - t0)
    return median(took[1:])


def run(repeats: int = 3) -> dict[str, Any]:
    times: dict[str, list[float]] = {k: [] for k in ("plain_first", "plain_second", "tracked_first", "tracked_second")}
    for _ in range(repeats):
        for tracked in (False, True):  # alternated, so drift on a shared machine hits both alike
            with tempfile.TemporaryDirectory() as tmp:
                ws = Path(tmp) / "ws"
                kind = "tracked" if tracked else "plain"
                times[f"{kind}_first"].append(_eval(ws, tracked))
                times[f"{kind}_second"].append(_eval(ws, tracked))
    med = {k: median(v) for k, v in times.items()}
    return {"repeats": repeats, "seconds": times, "median": med, "in_process_s": _in_process(),
            "ratio_first": med["tracked_first"] / med["plain_first"], "ratio_second": med["tracked_second"] / med["plain_second"],
            "added_first_s": med["tracked_first"] - med["plain_first"], "added_second_s": med["tracked_second"] - med["plain_second"]}


def render(res: dict[str, Any]) -> str:
    m = res["median"]
    rows = [("first run of a workspace (creates the MLflow store)", m["plain_first"], m["tracked_first"], res["ratio_first"],
             res["added_first_s"]),
            ("later run (store exists, answers cached)", m["plain_second"], m["tracked_second"], res["ratio_second"],
             res["added_second_s"])]
    return "\n".join([
        SECTION, "",
        "`chaos-llama eval --example retail --split val` (15 questions, local engine) run as a subprocess, untracked "
        "(`--no-tracking`) and tracked (the default `sqlite:///<workspace>/mlflow.db`), alternating, each pair in a fresh "
        f"workspace; medians of {res['repeats']} pairs, whole-process wall time (Python start-up included).", "",
        md_table(["run", "untracked s", "tracked s", "tracked / untracked", "added s"], rows), "",
        f"A tracked `chaos-llama eval` process pays for importing mlflow and opening its store (+{res['added_second_s']:.1f} s "
        f"with the store there), and creating the store once per workspace adds "
        f"{res['added_first_s'] - res['added_second_s']:+.1f} s more. Inside one process (`optimize`, the MCP server) each "
        f"further evaluation is logged in {res['in_process_s']:.2f} s (median of `tracking.log_run` after the first). "
        "`--no-tracking` or `CHAOS_LLAMA_TRACKING=off` skips it all; the test suite runs untracked.", "",
        f"{machine_line()} Command: `python -m bench.tracking_cost --repeats {res['repeats']} --write`.", ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(args.repeats)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
