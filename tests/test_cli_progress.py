"""Per-question progress with the time left: what `eval` and `optimize` show while Genie answers at 5 a minute."""

from __future__ import annotations

import io
import re

from rich.console import Console

from chaos_llama.tools.cli._common import QuestionProgress
from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
from chaos_llama.tools.optimize.loop import optimize
from chaos_llama.tools.optimize.model import OptimizeSettings
from chaos_llama.tools.store import Store
from optimize_helpers import small_evalset


def test_lines_off_a_terminal_say_how_long_is_left():
    """In a log (no terminal): a line per tenth of the questions, each with the time left, the last with the total."""
    out = io.StringIO()
    shown = QuestionProgress(Console(file=out, force_terminal=False, width=200), quiet_s=0)
    assert not shown.live
    callback = shown.task("epoch 2, candidate, train")
    for done in range(1, 44):
        callback(done, 43, f"q{done}", "COMPLETED")
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 + 1  # 10% .. 90% steps that 43 questions reach, and the end
    assert all(re.fullmatch(r"epoch 2, candidate, train: \d+/43 questions, \d+s elapsed, about \d+s left", x) for x in lines[:-1])
    assert re.fullmatch(r"epoch 2, candidate, train: 43/43 questions, \d+s elapsed", lines[-1])


def test_a_quick_run_prints_no_progress_lines():
    """Answers that come in under `quiet_s` (the local engine, a cached run) leave the log alone."""
    out = io.StringIO()
    callback = QuestionProgress(Console(file=out, force_terminal=False), quiet_s=3600).task("baseline, val")
    for done in range(1, 16):
        callback(done, 15)
    assert out.getvalue() == ""


def test_optimize_reports_every_evaluation_question_by_question(tmp_path):
    """Each evaluation of the loop gets its own progress, named for what it is, counted up to its size."""
    seen: dict[str, tuple[int, int]] = {}

    def questions(title: str):
        def progress(done: int, total: int, case_id: str, status: str) -> None:
            seen[title] = (done, total)
        return progress

    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data])
        space, full = load_inputs(ex.sparse_space, ex.templates)
    evalset = small_evalset(full)
    phases: list[str] = []
    with Store(tmp_path / "chaos.db") as store:
        result = optimize(space, evalset, backend, OptimizeSettings(max_epochs=1), store=store, progress=phases.append,
                          questions=questions)
    sizes = {s: len(evalset.split(s)) for s in ("train", "val", "test")}
    assert seen["baseline, train"] == (sizes["train"], sizes["train"]) and seen["baseline, val"] == (sizes["val"], sizes["val"])
    assert seen["final, test (scored once)"] == (sizes["test"], sizes["test"])
    if result.epochs and result.epochs[0].candidate_version:
        assert seen["epoch 1, candidate, train"] == (sizes["train"], sizes["train"])
    assert phases[0] == "baseline: evaluating train" and any(p.startswith("final:") for p in phases)
