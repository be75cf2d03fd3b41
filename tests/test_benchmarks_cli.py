"""`chaos-llama benchmarks` against the Genie emulator: import/export of a space's benchmarks,
Genie's native evaluation stored and shown, and its verdicts compared with ours."""

from __future__ import annotations

import asyncio
import json

import pytest

from chaos_llama.tools.benchmarks import compare_native
from chaos_llama.tools.cli import main
from chaos_llama.tools.evalset import load_evalset, save_evalset
from chaos_llama.tools.runner import CaseRow, RunResult, RunSettings, build_run_result, run_eval
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, backend, emulator, retail_example


@pytest.fixture(scope="module")
def retail():
    return retail_example()


@pytest.fixture(autouse=True)
def _auth(monkeypatch):
    """The CLI authenticates like the databricks CLI: the emulator's token comes from the environment."""
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    for var in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)


def _cli(emu, ws, *argv: str) -> int:
    return main(["benchmarks", *argv, "--space-id", emu.space_id, "--host", emu.url, "--workspace", str(ws)])


def _subset(retail, n: int, start: int = 0):
    _, evalset, _ = retail
    return evalset.model_copy(update={"cases": evalset.cases[start:start + n]})


def test_export_then_import_round_trips(retail, tmp_path, capsys):
    """export writes the eval set into the space's benchmarks (merging, idempotent; --replace drops
    the others); import writes them back as an eval set with the same questions and gold SQL."""
    subset = _subset(retail, 6)
    save_evalset(subset, tmp_path / "mine.yaml")
    save_evalset(_subset(retail, 2, start=6), tmp_path / "two.yaml")
    with emulator(retail) as emu:
        assert _cli(emu, tmp_path / "ws", "export", str(tmp_path / "mine.yaml")) == 0
        assert _cli(emu, tmp_path / "ws", "export", str(tmp_path / "mine.yaml")) == 0  # same questions: updated in place
        assert len(emu.space.serialized.benchmarks.questions) == 6
        assert _cli(emu, tmp_path / "ws", "import", "--out", str(tmp_path / "bench.yaml")) == 0
        imported = load_evalset(tmp_path / "bench.yaml")
        assert _cli(emu, tmp_path / "ws", "export", str(tmp_path / "two.yaml")) == 0
        assert len(emu.space.serialized.benchmarks.questions) == 8  # merged
        assert _cli(emu, tmp_path / "ws", "export", str(tmp_path / "two.yaml"), "--replace") == 0
        assert len(emu.space.serialized.benchmarks.questions) == 2
    out = capsys.readouterr().out
    assert "wrote 6 benchmark questions" in out and "replaced" in out
    assert sorted((c.question, tuple(c.gold_sql)) for c in imported.cases) == \
        sorted((c.question, tuple(c.gold_sql)) for c in subset.cases)
    assert all(len(c.id) == 32 for c in imported.cases)  # Genie's benchmark question ids
    with Store(tmp_path / "ws" / "chaos.db") as store:  # every version pulled or pushed is kept
        assert len(store.list_space_versions()) >= 3


def test_space_without_benchmarks_exits_2(retail, tmp_path, capsys):
    """A space with no benchmark questions is bad input (exit 2) with a message saying what to do."""
    with emulator(retail) as emu:
        assert emu.space.serialized.benchmarks is None or not emu.space.serialized.benchmarks.questions
        assert _cli(emu, tmp_path, "import", "--out", str(tmp_path / "x.yaml")) == 2
        assert "has no benchmark questions" in capsys.readouterr().err
        assert _cli(emu, tmp_path, "run", "--wait") == 2
        err = capsys.readouterr().err
        assert "has no benchmark questions" in err and "benchmarks export" in err
        assert not emu.eval_runs  # nothing was started
    assert not (tmp_path / "x.yaml").exists()


def test_unknown_question_or_run_is_refused_before_starting(retail, tmp_path, capsys):
    with emulator(retail) as emu:
        save_evalset(_subset(retail, 3), tmp_path / "e.yaml")
        assert _cli(emu, tmp_path / "ws", "export", str(tmp_path / "e.yaml")) == 0
        ids = [q.id for q in emu.space.serialized.benchmarks.questions]
        assert _cli(emu, tmp_path / "ws", "run", "--questions", ids[0][:-1] + "x", "--wait") == 2
        assert f"Did you mean '{ids[0]}'" in capsys.readouterr().err
        assert _cli(emu, tmp_path / "ws", "run", "--run-id", "run-nope", "--wait") == 2
        assert "no run 'run-nope'" in capsys.readouterr().err
        assert not emu.eval_runs


def test_native_run_is_stored_shown_and_compared_with_ours(retail, tmp_path, capsys):
    """`run --wait --run-id R` stores Genie's assessments linked to our run R (by question text when
    our case ids are our own), reports GOOD/BAD/NEEDS_REVIEW with reason codes and the agreement with
    our primary judge; `show` prints the same from the store; R's result carries them per question."""
    ours_set = _subset(retail, 8)
    ws = tmp_path / "ws"
    save_evalset(ours_set, tmp_path / "ours.yaml")
    with emulator(retail) as emu:
        assert _cli(emu, ws, "export", str(tmp_path / "ours.yaml")) == 0
        with Store(ws / "chaos.db") as store:  # our own run of the same questions, same workspace
            b = backend(emu, store=store)
            ours = asyncio.run(run_eval(ours_set, b, b.get_space().space, RunSettings(judges=["execution"], concurrency=4), store=store))
        capsys.readouterr()
        assert _cli(emu, ws, "run", "--wait", "--poll", "0.05", "--run-id", ours.run_id, "--json") == 0
        report = json.loads(capsys.readouterr().out)
        assert _cli(emu, ws, "run", "--wait", "--poll", "0.05", "--run-id", ours.run_id) == 0  # the table form
        table = capsys.readouterr().out
    assert report["eval_run"]["status"] == "DONE" and report["eval_run"]["num_questions"] == 8
    rows = report["assessments"]
    assert len(rows) == 8 and {r["assessment"] for r in rows} <= {"GOOD", "BAD", "NEEDS_REVIEW"}
    assert sum(report["counts"].values()) == 8
    assert sorted(r["case_id"] for r in rows) == sorted(c.id for c in ours_set.cases)  # linked by question text
    for r in rows:
        if r["assessment"] == "BAD":
            assert r["reasons"], r
    # the comparison: same engine, same data -> Genie's GOOD/BAD is our execution judge's verdict
    cmp = report["comparison"]
    verdicts = {r.case_id: r.correct for r in ours.rows}
    decided = [r for r in rows if r["assessment"] in ("GOOD", "BAD")]
    expected_agree = sum(verdicts[r["case_id"]] is (r["assessment"] == "GOOD") for r in decided)
    assert cmp["compared"] == len(decided) > 0
    assert cmp["agree"] == expected_agree == cmp["compared"] and cmp["agreement"] == 1.0
    assert cmp["needs_review"] == 8 - len(decided) and cmp["unlinked"] == 0
    assert "agreement with run" in table and f"{cmp['agree']}/{cmp['compared']}" in table

    # show, from the store only (no --space-id: nothing is asked of Genie)
    eval_run_id = report["eval_run"]["eval_run_id"]
    assert main(["benchmarks", "show", eval_run_id, "--workspace", str(ws), "--run-id", ours.run_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["assessments"] == rows and shown["comparison"]["agree"] == cmp["agree"]
    # our run's result carries Genie's verdict per question (latest linked eval run)
    with Store(ws / "chaos.db") as store:
        result = build_run_result(store, ours.run_id)
    native = {r.case_id: r.native for r in result.rows}
    assert all(n is not None for n in native.values())
    (latest,) = {n.eval_run_id for n in native.values()}
    assert latest != eval_run_id  # the later (table-form) eval run wins
    by_case = {r["case_id"]: r for r in rows}
    assert sum(n.assessment == "GOOD" for n in native.values()) == sum(r["assessment"] == "GOOD" for r in by_case.values())
    assert "native" in json.loads(result.model_dump_json())["rows"][0]  # what `eval --json` prints


def test_run_without_wait_then_show_reads_it_from_genie(retail, tmp_path, capsys):
    ws = tmp_path / "ws"
    save_evalset(_subset(retail, 3), tmp_path / "e.yaml")
    with emulator(retail) as emu:
        assert _cli(emu, ws, "export", str(tmp_path / "e.yaml")) == 0
        capsys.readouterr()
        assert _cli(emu, ws, "run") == 0
        (eval_run_id,) = emu.eval_runs
        assert f"started eval run {eval_run_id}" in capsys.readouterr().out
        assert main(["benchmarks", "show", eval_run_id, "--workspace", str(ws)]) == 2  # not stored, no --space-id
        assert "pass --space-id" in capsys.readouterr().err
        asyncio.run(backend(emu).wait_eval_run(eval_run_id, timeout_s=60, poll_s=0.05))
        assert main(["benchmarks", "show", eval_run_id, "--json", "--space-id", emu.space_id, "--host", emu.url,
                     "--workspace", str(ws)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["assessments"]) == 3 and shown["comparison"] is None
    with Store(ws / "chaos.db") as store:
        assert len(store.get_native_assessments(eval_run_id=eval_run_id)) == 3  # fetched once, now stored


def test_compare_native_counts_disagreements():
    """The agreement count is not a tautology: a GOOD where our judge said wrong is a disagreement."""
    rows = [CaseRow(case_id=c, question=c, status="COMPLETED", correct=ok) for c, ok in
            (("a", True), ("b", False), ("c", True), ("d", None))]
    ours = RunResult(run_id="r", status="completed", evalset="e", evalset_hash="h", space_version="v", backend="x",
                     judges=["execution"], total=4, rows=rows)
    native = [{"case_id": "a", "assessment": "GOOD"}, {"case_id": "b", "assessment": "GOOD"},
              {"case_id": "c", "assessment": "NEEDS_REVIEW"}, {"case_id": "d", "assessment": "BAD"},
              {"case_id": "zz", "assessment": "BAD"}]
    cmp = compare_native(native, ours)
    assert (cmp.compared, cmp.agree, cmp.disagree, cmp.needs_review, cmp.unlinked) == (2, 1, ["b"], 1, 1)
    assert cmp.agreement == 0.5 and cmp.judge == "execution"
