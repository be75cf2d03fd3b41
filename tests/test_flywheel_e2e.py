"""The whole data flywheel offline: a month of real traffic on the curated retail space, served by the
Genie emulator and imported through the unmodified databricks-sdk -> clusters -> candidates -> a
person's review into the eval set -> optimize -> coverage of real traffic and accuracy on it go up."""

from __future__ import annotations

from collections import Counter

import pytest

from chaos_llama.examples.retail.traffic import generate
from chaos_llama.tools.evalset import EvalCase, assign_splits, freeze_splits, load_evalset, save_evalset
from chaos_llama.tools.families import leakage
from chaos_llama.tools.judges import get_judge
from chaos_llama.tools.logs import import_from_genie
from chaos_llama.tools.optimize.loop import optimize
from chaos_llama.tools.optimize.model import OptimizeSettings
from chaos_llama.tools.report import best_scores, render_html, render_markdown
from chaos_llama.tools.results import GoldResult
from chaos_llama.tools.space.io import space_from_yaml
from chaos_llama.tools.store import Store
from chaos_llama.tools.traffic import Flywheel, run_outcomes, traffic_for
from databricks_helpers import backend, emulator, retail_example


def _replay_accuracy(space, engine, questions: dict[str, str]) -> float:
    """Share of the distinct real questions (with the gold a person would write) the space answers right."""
    spec = get_judge("execution")
    judge = getattr(spec, "fn", spec)
    right = 0
    for q, gold in questions.items():
        answer = engine.ask_sync(space, q)
        if answer.sql:
            expected = [GoldResult(sql=gold, result=engine.execute(gold, space=space))]
            right += judge(EvalCase(id="q", question=q, gold_sql=[gold]), generated=answer, expected=expected, space=space).value is True
    return right / len(questions)


def test_real_traffic_drives_the_next_improvement(tmp_path):
    space, evalset, engine = retail_example()
    # 200 conversations: the engine answers more of the traffic on its own each round, and an epoch is kept
    # only when a sign test over train+val finds it significant (5 of 5 fixed at alpha 0.05); 130 left 4
    month = generate(space, engine, conversations=200, seed=7)
    truth = {m["content"]: month.truth[m["message_id"]] for m in month.messages}

    # import: every user's conversations, through the SDK, from the emulator hosting the space
    store = Store.open(tmp_path / "ws")
    with emulator((space, evalset, engine)) as emu:
        emu.load_conversations(month.conversations)
        imported = import_from_genie(store, backend(emu), emu.space_id)
    assert imported.complete and imported.messages_new == len(month.messages)

    # clusters against the eval set (family-frozen copy: leakage 0)
    path = tmp_path / "evals.yaml"
    save_evalset(freeze_splits(evalset)[0], path)
    before_set = load_evalset(path)
    fw = Flywheel(store, space, path, backend=engine)
    report = fw.report()
    assert 0.3 < report.coverage < 0.9 and report.out_of_domain > 0
    top = fw.fix_first(limit=5).top
    assert top and not top[0].covered  # what fails most is what no eval case covers

    # a person reviews the candidates (the generator's gold stands in for what they would write)
    decided = Counter()
    for c in fw.candidates():
        t = truth[c.question]
        if t.template is None:
            fw.accept(c.candidate_id, expect="refusal", reason="not about the business data")
            decided["refusal"] += 1
        elif c.covered:
            continue  # the eval set already has this family
        elif c.kind == "failure" or t.outcome != "right":
            if t.outcome == "right" and c.kind == "regression":
                continue
            fw.accept(c.candidate_id, gold_sql=t.gold_sql, reviewer="ana")
            decided["failure"] += 1
        else:
            fw.accept(c.candidate_id)  # Genie's SQL, rated up and right: the provisional gold stands
            decided["regression"] += 1
    assert decided["failure"] >= 5 and decided["refusal"] >= 1
    grown = assign_splits(load_evalset(path))
    assert len(grown.cases) == len(before_set.cases) + sum(decided.values())
    assert leakage(grown.cases).total == 0
    after_report = Flywheel(store, space, path, backend=engine).report()
    assert after_report.coverage > report.coverage + 0.2

    # optimize on the grown eval set, from the space users have today
    result = optimize(space, grown, engine, OptimizeSettings(max_epochs=2, patience=1, tracking=None), store=store)
    assert result.accepted, result.stopped_because

    # accuracy on real traffic: traffic-weighted over covered clusters, baseline vs the best version
    ff = traffic_for(store, space, grown, before=[s.run_id for s in result.baseline.values()],
                     after=[s.run_id for s in best_scores(result).values()], backend=engine)
    assert ff.accuracy_after > ff.accuracy_before
    # ... and replayed: the distinct in-domain questions users asked, answered by each version
    asked = {q: t.gold_sql for q, t in truth.items() if t.template}
    best = space_from_yaml(result.best_space_yaml)
    assert _replay_accuracy(best, engine, asked) > _replay_accuracy(space, engine, asked)

    # the report shows it: coverage and accuracy on real traffic, what to fix first
    ff = Flywheel(store, space, grown, backend=engine).fix_first(before=run_outcomes(store, [s.run_id for s in result.baseline.values()]),
                                                                 after=run_outcomes(store, [s.run_id for s in best_scores(result).values()]),
                                                                 evalset_before=before_set)
    assert ff.coverage_before == pytest.approx(report.coverage) and ff.coverage > ff.coverage_before
    page = render_html(result, traffic=ff)
    assert "Real traffic: fix these first" in page and "accuracy on real traffic" in page
    assert "Real traffic: fix these first" in render_markdown(result, ff)
