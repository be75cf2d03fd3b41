"""Human labels and judge alignment on a fixed labeled set (kappa computed by hand below)."""

from __future__ import annotations

import json

import pytest

from chaos_llama.tools.cli import main
from chaos_llama.tools.errors import InvalidInput
from chaos_llama.tools.evalset import EvalSet
from chaos_llama.tools.judges.base import Verdict
from chaos_llama.tools.judges.llm import few_shot_examples
from chaos_llama.tools.labels import alignment, cohen_kappa, record_label
from chaos_llama.tools.store import QuestionResult, Run, Store

JUDGE = "answers_question"
# (judge verdict, human label) for q0..q9:
# 4 both true, 1 judge true/person false, 2 judge false/person true, 3 both false.
PAIRS = [(True, True)] * 4 + [(True, False)] + [(False, True)] * 2 + [(False, False)] * 3
# Hand computation: p_o = 7/10 = 0.7; judge says true 5/10, person 6/10;
# p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
KAPPA = 0.4


def labeled_store(tmp_path) -> tuple[Store, str]:
    """A run of 12 questions: q0..q9 judged and labeled (PAIRS), q10 judge error, q11 in the test split."""
    store = Store(tmp_path / "chaos.db")
    cases = [{"id": f"q{i}", "question": f"Question number {i}?", "gold_sql": [f"SELECT {i}"], "split": "train"} for i in range(11)]
    cases.append({"id": "q11", "question": "A held-out question?", "gold_sql": ["SELECT 11"], "split": "test"})
    es = EvalSet.model_validate({"name": "fixed", "cases": cases})
    h = store.put_evalset(es)
    store.create_run(Run(run_id="run-a", evalset_hash=h, space_version="v1", backend="test", judges=[JUDGE]))
    for i in range(12):
        if i < 10:
            v = Verdict(judge=JUDGE, value=PAIRS[i][0], rationale=f"judge says {PAIRS[i][0]} for q{i}")
        elif i == 10:
            v = Verdict(judge=JUDGE, value=None, rationale="failed", error="MalformedJudgment: not JSON")
        else:
            v = Verdict(judge=JUDGE, value=True, rationale="fine")
        store.record_case(QuestionResult(run_id="run-a", case_id=f"q{i}", status="COMPLETED", sql=f"SELECT {i} AS n"), [v])
    for i, (_, human) in enumerate(PAIRS):
        record_label(store, "run-a", f"q{i}", JUDGE, human, note=f"person on q{i}", labeler="ana")
    record_label(store, "run-a", "q10", JUDGE, True)
    record_label(store, "run-a", "q11", JUDGE, False)
    return store, "run-a"


def test_cohen_kappa_by_hand():
    assert cohen_kappa(PAIRS) == pytest.approx(KAPPA)
    assert cohen_kappa([(True, True), (False, False)]) == pytest.approx(1.0)
    assert cohen_kappa([(True, True), (True, True)]) is None  # chance agreement is 1: undefined
    assert cohen_kappa([]) is None


def test_alignment_on_a_fixed_labeled_set(tmp_path):
    """Accuracy, kappa and confusion counts; a judge error is 'unjudged'; the test question is excluded on request."""
    store, _ = labeled_store(tmp_path)
    a = alignment(store, JUDGE, exclude_splits=("test",))
    assert (a.labeled, a.compared, a.unjudged, a.agree) == (11, 10, 1, 7)
    assert a.accuracy == pytest.approx(0.7) and a.kappa == pytest.approx(KAPPA)
    c = a.confusion
    assert (c.true_positive, c.false_positive, c.false_negative, c.true_negative) == (4, 1, 2, 3)
    assert {d.case_id for d in a.disagreements} == {"q4", "q5", "q6"}
    assert all("held-out" not in d.question for d in a.disagreements)
    # With the test question: q11 judge true vs person false is one more false positive.
    b = alignment(store, JUDGE)
    assert b.compared == 11 and b.confusion.false_positive == 2


def test_newer_label_replaces_older(tmp_path):
    store, run = labeled_store(tmp_path)
    record_label(store, run, "q4", JUDGE, True, note="changed my mind")  # now agrees with the judge
    a = alignment(store, JUDGE, exclude_splits=("test",))
    assert a.agree == 8 and a.confusion.false_positive == 0
    assert len(store.get_labels(judge=JUDGE, latest=False)) == 13 and len(store.get_labels(judge=JUDGE)) == 12
    assert store.get_labels(judge=JUDGE)[-1].note == "changed my mind"


def test_few_shot_prefers_disagreements_then_recent_and_never_test(tmp_path):
    store, run = labeled_store(tmp_path)
    shots = few_shot_examples(store, JUDGE, k=5)
    # disagreements (q4, q5, q6) first, newest first; then the newest agreeing labels (q10 has no verdict: counts as agreeing)
    assert [s.question for s in shots] == [f"Question number {i}?" for i in (6, 5, 4, 10, 9)]
    assert shots[0].result is True and shots[0].rationale == "person on q6" and shots[0].generated_sql == "SELECT 6 AS n"
    assert all("held-out" not in s.question for s in few_shot_examples(store, JUDGE, k=20))
    excluded = few_shot_examples(store, JUDGE, k=2, exclude_questions={"Question number 6?"})
    assert [s.question for s in excluded] == ["Question number 5?", "Question number 4?"]


def test_few_shot_labels_reach_the_judge_prompt(tmp_path):
    """A store in the judge runtime puts labeled cases into the prompt, excluding the case being judged."""
    import pyarrow as pa

    from chaos_llama.tools.backends.base import Answer
    from chaos_llama.tools.judges.llm import DEFINITIONS, JudgeRuntime, LLMJudge

    store, _ = labeled_store(tmp_path)
    judge = LLMJudge(DEFINITIONS[JUDGE], runtime=JudgeRuntime(store=store, few_shot=2))
    case = store.get_evalset(store.get_run("run-a").evalset_hash).cases[6]
    prompt = judge.prompt_for(case, Answer(status="COMPLETED", sql="SELECT 6", result=pa.table({"n": [6]})), [])
    assert "Examples judged by people" in prompt and "person on q5" in prompt and "person on q4" in prompt
    assert "person on q6" not in prompt


def test_record_label_errors_name_the_field(tmp_path):
    store, run = labeled_store(tmp_path)
    with pytest.raises(InvalidInput) as e:
        record_label(store, "run-b", "q1", JUDGE, True)
    assert e.value.field == "run_id" and "run-a" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        record_label(store, run, "q99", JUDGE, True)
    assert e.value.field == "case_id"
    with pytest.raises(InvalidInput) as e:
        record_label(store, run, "q1", "answers_questoin", True)
    assert e.value.field == "judge" and "answers_question" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        record_label(store, run, "q11", JUDGE, True, splits=("train",))
    assert e.value.field == "case_id" and "A held-out question?" not in str(e.value)


def test_cli_label_add_list_alignment(tmp_path, capsys):
    store, run = labeled_store(tmp_path)
    store.close()
    ws = ["--workspace", str(tmp_path)]
    assert main(["label", *ws, "add", "--run", run, "--case", "q4", "--judge", JUDGE, "--value", "yes", "--note", "fine after all"]) == 0
    assert "labeled q4" in capsys.readouterr().out
    assert main(["label", *ws, "--json", "list", "--judge", JUDGE]) == 0
    labels = json.loads(capsys.readouterr().out)
    assert len(labels) == 12 and labels[-1]["note"] == "fine after all"
    assert main(["label", *ws, "--json", "alignment", "--judge", JUDGE]) == 0
    a = json.loads(capsys.readouterr().out)
    assert a["compared"] == 11 and a["agree"] == 8
    assert main(["label", *ws, "alignment", "--judge", JUDGE]) == 0
    assert "Cohen's kappa" in capsys.readouterr().out
    assert main(["label", *ws, "add", "--run", run, "--case", "q1", "--judge", JUDGE, "--value", "maybe"]) == 2
    assert "maybe" in capsys.readouterr().err
