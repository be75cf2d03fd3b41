"""Fault tolerance of the Databricks backend + runner against the emulator: an eval of 100
questions under 20% injected faults completes with every question accounted for exactly once, and
a run whose process is killed resumes without asking finished questions again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from chaos_llama.tools.runner import RunSettings, run_eval
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, backend, emulator, retail_example

ALLOWED = {"COMPLETED", "NO_SQL", "FAILED", "ERROR", "TIMEOUT"}


async def test_100_questions_under_20_percent_faults(tmp_path):
    """Every question answered or recorded as an error with its cause; none lost or counted twice:
    each runner `ask` is exactly one question start the server saw (the SDK retries nothing
    behind our back), and each started conversation belongs to exactly one recorded question."""
    retail = retail_example()
    space, evalset, _ = retail
    cases = [c.model_copy(update={"id": f"q{i:03d}"}) for i, c in zip(range(100), evalset.cases * 3)]
    big = evalset.model_copy(update={"name": "faults-100", "cases": cases})
    store = Store(tmp_path / "chaos.db")
    faults = ["429", "500", "503", "drop", "slow", "failed"]
    with emulator(retail, fault_rate=0.2, faults=faults, latency=(0.0, 0.02), retry_after_s=0, slow_s=0.05, seed=7) as emu:
        b = backend(emu, warehouse_id=emu.warehouse_id)
        snap = b.get_space()
        result = await run_eval(big, b, snap.space, RunSettings(concurrency=8, retries=6, backoff_base=0.01, timeout_s=60, use_cache=False, seed=1, judges=[]), store=store)  # judging is not under test here; keeps the file fast
        stats = dict(emu.stats)
    assert result.total == 100 and result.resumed == 0
    assert sum(result.counts.values()) == 100 and "PENDING" not in result.counts
    assert set(result.counts) <= ALLOWED
    for row in result.rows:
        if row.status in ("ERROR", "TIMEOUT", "FAILED"):
            assert row.error, row  # recorded with its cause
    stored = store.get_results(result.run_id)
    assert sorted(r.case_id for r in stored) == [c.id for c in cases]  # each exactly once
    # accounting: one runner call == one question start the server received
    assert result.backend_calls == stats["route_start_conversation"]
    conversations = [r.answer.get("details", {}).get("conversation_id") for r in stored]
    started = [c for c in conversations if c]
    assert len(started) == len(set(started)) == stats["conversations"]  # no question asked twice
    # the faults really happened, and most questions still got Genie's answer
    for kind in faults:
        assert stats[f"fault_{kind}"] > 0, kind
    assert result.counts.get("COMPLETED", 0) + result.counts.get("NO_SQL", 0) >= 80
    assert result.backend_calls > 100  # retries happened and were counted


_CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from chaos_llama.tools.runner import RunSettings, run_eval
    from chaos_llama.tools.store import Store
    from databricks_helpers import backend, retail_example

    class Emu:  # what `backend()` needs of the emulator
        url, space_id = sys.argv[2], sys.argv[3]

    space, evalset, _ = retail_example()
    b = backend(Emu, token=os.environ["DATABRICKS_TOKEN"], warehouse_id=sys.argv[5])
    snap = b.get_space()

    def progress(done, total, case_id, status):
        if done == int(sys.argv[6]):
            os.kill(os.getpid(), signal.SIGKILL)  # die mid-run, like a killed process

    asyncio.run(run_eval(evalset, b, snap.space, RunSettings(run_id="run-killed", concurrency=4, use_cache=False, judges=[]),
                         store=Store(sys.argv[4]), progress=progress))
""")


async def test_killed_run_resumes_without_asking_finished_questions(tmp_path):
    retail = retail_example()
    space, evalset, _ = retail
    assert len({c.question for c in evalset.cases}) == len(evalset.cases)  # questions identify cases below
    db, kill_at = tmp_path / "chaos.db", 15
    with emulator(retail) as emu:
        env = {**os.environ, "DATABRICKS_TOKEN": TOKEN}
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(__file__).parent), emu.url, emu.space_id, str(db), emu.warehouse_id, str(kill_at)],
            env=env, capture_output=True, text=True, timeout=300)
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        store = Store(db)
        done_before = store.result_statuses("run-killed")
        assert len(done_before) == kill_at
        asked_before = [m.content for m in emu.messages.values()]

        b = backend(emu, warehouse_id=emu.warehouse_id)
        snap = b.get_space()
        result = await run_eval(evalset, b, snap.space, RunSettings(run_id="run-killed", concurrency=4, use_cache=False, judges=[]), store=store)
        asked_after = [m.content for m in list(emu.messages.values())[len(asked_before):]]
    by_id = {c.id: c for c in evalset.cases}
    finished = {by_id[cid].question for cid in done_before}
    assert not finished & set(asked_after)  # completed questions were not asked again
    assert result.resumed == kill_at and result.backend_calls == len(asked_after) == len(evalset.cases) - kill_at
    assert result.total == len(evalset.cases) and "PENDING" not in result.counts
    assert store.get_run("run-killed").status == "completed"
    assert sorted(store.result_statuses("run-killed")) == sorted(by_id)
