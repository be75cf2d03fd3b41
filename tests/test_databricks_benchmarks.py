"""Genie benchmarks through the Databricks backend: export an eval set as the space's benchmark
questions, import them back, run Genie's native evaluation and store its GOOD/BAD/NEEDS_REVIEW
assessments and reason codes beside our own verdicts."""

from __future__ import annotations

import pytest

from chaos_llama.tools.backends.databricks import evalset_to_benchmarks
from chaos_llama.tools.runner import RunSettings, run_eval
from chaos_llama.tools.space.io import space_hash
from chaos_llama.tools.store import Store
from databricks_helpers import backend, emulator, retail_example

SCORE_REASONS = {
    "EMPTY_RESULT", "RESULT_MISSING_ROWS", "RESULT_EXTRA_ROWS", "RESULT_MISSING_COLUMNS", "RESULT_EXTRA_COLUMNS",
    "SINGLE_CELL_DIFFERENCE", "EMPTY_GOOD_SQL", "COLUMN_TYPE_DIFFERENCE",
}


@pytest.fixture(scope="module")
def retail():
    return retail_example()


def test_export_then_import_round_trips_questions_and_gold_sql(retail):
    space, evalset, _ = retail
    subset = evalset.model_copy(update={"cases": evalset.cases[:10]})
    with emulator(retail) as emu:
        b = backend(emu)
        first = b.export_benchmarks(subset)
        again = b.export_benchmarks(subset)  # idempotent: same questions are updated, not duplicated
        imported = b.import_benchmarks()
    assert space_hash(first.space) == space_hash(again.space)
    assert len(emu.space.serialized.benchmarks.questions) == 10
    assert sorted((c.question, tuple(c.gold_sql)) for c in imported.cases) == \
        sorted((c.question, tuple(c.gold_sql)) for c in subset.cases)
    assert all(len(c.id) == 32 for c in imported.cases)  # benchmark question ids


def test_export_replace_drops_other_questions(retail):
    space, evalset, _ = retail
    a = evalset.model_copy(update={"cases": evalset.cases[:3]})
    b_ = evalset.model_copy(update={"cases": evalset.cases[3:5]})
    merged = evalset_to_benchmarks(evalset_to_benchmarks(space, a), b_)
    replaced = evalset_to_benchmarks(evalset_to_benchmarks(space, a), b_, replace=True)
    assert len(merged.serialized.benchmarks.questions) == 5
    assert len(replaced.serialized.benchmarks.questions) == 2


async def test_native_eval_run_assessments_are_stored_beside_our_verdicts(retail, tmp_path):
    space, evalset, _ = retail
    subset = evalset.model_copy(update={"cases": evalset.cases[:8]})
    store = Store(tmp_path / "chaos.db")
    with emulator(retail) as emu:
        b = backend(emu, warehouse_id=emu.warehouse_id, store=store)
        snap = b.export_benchmarks(subset)
        bench = b.import_benchmarks()
        ours = await run_eval(bench, b, snap.space, RunSettings(judges=["execution"], concurrency=4), store=store)
        started = b.start_eval_run()
        assert started.num_questions == 8
        run = await b.wait_eval_run(started.eval_run_id, timeout_s=120, poll_s=0.05)
        assert [r.eval_run_id for r in b.list_eval_runs()] == [started.eval_run_id]
        assessments = b.store_eval_run(store, started.eval_run_id, run_id=ours.run_id)
    assert run.done and run.status == "DONE" and run.num_done == 8
    assert len(assessments) == 8
    assert {a.assessment for a in assessments} <= {"GOOD", "BAD", "NEEDS_REVIEW"}
    assert run.num_correct == sum(a.assessment == "GOOD" for a in assessments)
    for a in assessments:
        if a.assessment == "BAD":
            assert a.reasons and all(r in SCORE_REASONS or r.startswith("LLM_JUDGE_") for r in a.reasons)
        assert a.expected and a.question
    stored = store.get_native_assessments(run_id=ours.run_id)
    assert sorted(s["case_id"] for s in stored) == sorted(c.id for c in bench.cases)
    # both views line up per question: Genie's GOOD is our execution judge's True (same engine, same data)
    verdicts = {row.case_id: row.correct for row in ours.rows}
    for s in stored:
        if s["assessment"] in ("GOOD", "BAD"):
            assert verdicts[s["case_id"]] is (s["assessment"] == "GOOD"), s
