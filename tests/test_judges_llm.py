"""LLM judges, replayed: recorded model answers keyed by (judge, question) through httpx.MockTransport.

Runs go through the real runner and the embedded engine on the bundled retail example.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from chaos_llama.server.guards import BudgetLedger
from chaos_llama.tools.backends.base import Answer
from chaos_llama.tools.errors import InvalidConfig
from chaos_llama.tools.evalset import EvalSet, assign_splits, load_evalset
from chaos_llama.tools.judges import JUDGES, get_judge
from chaos_llama.tools.judges.base import GoldResult
from chaos_llama.tools.judges.llm import (
    DEFINITIONS,
    JudgeRuntime,
    LLMJudge,
    MalformedJudgment,
    judge_runtime,
    load_judge_file,
    parse_judgment,
)
from chaos_llama.tools.project import Budgets
from chaos_llama.tools.runner import RunSettings, rejudge, run_eval_sync
from chaos_llama.tools.store import Store
from llm_judge_helpers import FIXTURES, Replay, replay_model

FIVE = ["revenue_year_2023", "revenue_year_2024", "revenue_year_2025", "orders_by_channel_year_2023", "orders_by_channel_year_2024"]


@pytest.fixture(scope="module")
def retail():
    from chaos_llama.tools.copilot import settings_for_example
    from chaos_llama.tools.evaluate import open_local_backend
    from chaos_llama.tools.space.io import load_space

    s = settings_for_example(which="curated", evalset="templates")
    es = assign_splits(load_evalset(s.evalset), seed=0)
    return {"backend": open_local_backend(s.data), "space": load_space(s.space), "evalset": es}


def subset(es: EvalSet, ids: list[str]) -> EvalSet:
    return EvalSet(name="retail-llm", cases=[c for c in es.cases if c.id in ids], source=es.source)


def test_builtin_llm_judges_are_registered_with_their_needs():
    """The three LLM judges are in the registry like any other judge; each has its own prompt file."""
    for name in ("answers_question", "semantically_equivalent", "follows_instructions"):
        spec = get_judge(name)
        assert isinstance(spec.fn, LLMJudge) and spec.description.startswith("LLM:")
        assert DEFINITIONS[name].prompt == f"judge_{name}"
    assert "expected.sql" in JUDGES["semantically_equivalent"].needs and "space" in JUDGES["follows_instructions"].needs


def test_run_records_verdicts_and_malformed_replies_as_judge_errors(tmp_path, retail):
    """Valid replies become verdicts with rationale and usage; a reply that is not JSON, or misses
    `rationale`, becomes a recorded judge error; the run completes with every question recorded."""
    replay = Replay()
    ledger = BudgetLedger(Budgets(llm_tokens=100_000), Store(":memory:"))
    store = Store(tmp_path / "chaos.db")
    with judge_runtime(model=replay_model(replay), store=store, ledger=ledger):
        result = run_eval_sync(subset(retail["evalset"], FIVE), retail["backend"], retail["space"], RunSettings(judges=["answers_question", "execution"], concurrency=2), store=store)
    assert result.status == "completed" and result.total == 5 and len(replay.requests) == 5
    v = {cid: vs[0] for cid, vs in store.get_verdicts(result.run_id).items() for vs in [[x for x in vs if x.judge == "answers_question"]]}
    assert v["revenue_year_2023"].value is True and "net revenue" in v["revenue_year_2023"].rationale
    assert v["revenue_year_2023"].details["usage"]["total_tokens"] == 640 and v["revenue_year_2023"].details["cached"] is False
    assert v["revenue_year_2024"].value is False and "instead of summing" in v["revenue_year_2024"].rationale
    assert v["revenue_year_2025"].value is None and "not JSON" in v["revenue_year_2025"].error
    assert v["revenue_year_2025"].details["raw"] == "The query looks right to me."
    assert v["orders_by_channel_year_2023"].value is None and "rationale" in v["orders_by_channel_year_2023"].error
    assert v["orders_by_channel_year_2024"].value is True  # fenced JSON with "yes"
    rows = {r.case_id: r for r in result.rows}
    # a malformed reply is no verdict: the outcome is an error, not a wrong answer
    assert rows["revenue_year_2023"].correct is True and rows["revenue_year_2025"].outcome == "error"
    assert rows["revenue_year_2025"].correct is None
    # every call was charged: recorded usage, including the malformed replies
    assert ledger.spent("llm_tokens") == 640 + 664 + 614 + 639 + 659
    body = replay.requests[0]
    assert body["temperature"] == 0 and body["messages"][0]["role"] == "system" and "rationale" in body["messages"][0]["content"]


def test_identical_calls_are_cached_and_cost_nothing(tmp_path, retail):
    """Re-judging the same answers with the same model and prompt makes zero HTTP calls and spends no tokens;
    malformed replies are not cached (they are asked again)."""
    store = Store(tmp_path / "chaos.db")
    first = Replay()
    with judge_runtime(model=replay_model(first), store=store):
        run = run_eval_sync(subset(retail["evalset"], FIVE[:2]), retail["backend"], retail["space"], RunSettings(judges=["answers_question"]), store=store)
    assert len(first.requests) == 2
    again = Replay()
    ledger = BudgetLedger(Budgets(llm_tokens=1), Store(":memory:"))
    with judge_runtime(model=replay_model(again), store=store, ledger=ledger):
        result = rejudge(run.run_id, ["answers_question"], store)
    assert again.requests == [] and ledger.spent("llm_tokens") == 0
    verdicts = [v for vs in store.get_verdicts(result.run_id).values() for v in vs]
    assert result.rejudge_of == run.run_id and all(v.details["cached"] is True and v.details["usage"]["total_tokens"] == 0 for v in verdicts)
    assert sorted(r.correct for r in result.rows) == [False, True]


def test_malformed_reply_is_not_cached(tmp_path, retail):
    store = Store(tmp_path / "chaos.db")
    for expected_calls in (1, 1):
        replay = Replay()
        with judge_runtime(model=replay_model(replay), store=store):
            run_eval_sync(subset(retail["evalset"], ["revenue_year_2025"]), retail["backend"], retail["space"], RunSettings(judges=["answers_question"], use_cache=False), store=store)
        assert len(replay.requests) == expected_calls


def test_token_budget_refuses_before_calling(tmp_path, retail):
    """With too little llm_tokens budget the judge is not called: a recorded error, nothing spent."""
    replay = Replay()
    ledger = BudgetLedger(Budgets(llm_tokens=50), Store(":memory:"))
    store = Store(tmp_path / "chaos.db")
    with judge_runtime(model=replay_model(replay), store=store, ledger=ledger):
        result = run_eval_sync(subset(retail["evalset"], FIVE[:1]), retail["backend"], retail["space"], RunSettings(judges=["answers_question"]), store=store)
    v = store.get_verdicts(result.run_id)["revenue_year_2023"][0]
    assert replay.requests == [] and v.value is None and "llm_tokens" in v.error and ledger.spent("llm_tokens") == 0


def test_without_a_model_verdicts_are_pending_and_no_sql_is_decided_by_rule(tmp_path):
    """No model configured: the verdict waits for judge_submit. No SQL: False without asking anyone."""
    judge = LLMJudge(DEFINITIONS["answers_question"], runtime=JudgeRuntime())
    case = EvalSet.model_validate({"name": "x", "cases": [{"id": "a", "question": "Revenue?", "gold_sql": ["SELECT 1"]}]}).cases[0]
    v = judge(case, generated=Answer(status="COMPLETED", sql="SELECT 1", result=pa.table({"x": [1]})), expected=[])
    assert v.value is None and v.error.startswith("pending") and v.details["source"] == "pending"
    v = judge(case, generated=Answer(status="NO_SQL", reason="no table holds revenue"), expected=[])
    assert v.value is False and "no table holds revenue" in v.rationale


def test_prompts_carry_gold_instructions_and_results(retail):
    """semantically_equivalent sees gold SQL and both results; follows_instructions sees the space's instructions."""
    replay = Replay()
    case = next(c for c in retail["evalset"].cases if c.id == "revenue_year_2023")
    answer = retail["backend"].ask_sync(retail["space"], case.question)
    gold = GoldResult(sql=case.gold_sql[0], result=retail["backend"].execute(case.gold_sql[0], space=retail["space"]))
    rt = JudgeRuntime(model=replay_model(replay))
    se = LLMJudge(DEFINITIONS["semantically_equivalent"], runtime=rt)(case, generated=answer, expected=[gold], space=retail["space"])
    fi = LLMJudge(DEFINITIONS["follows_instructions"], runtime=rt)(case, generated=answer, expected=[gold], space=retail["space"])
    assert se.value is True and fi.value is True
    p_se, p_fi = replay.prompts()
    assert case.gold_sql[0] in p_se and "Gold result (sample)" in p_se and answer.sql in p_se and "(1 row)" in p_se
    assert "stat_cd is 'C' for completed" in p_fi and "Gold SQL" not in p_fi


def test_custom_judge_from_yaml(tmp_path, retail):
    """A YAML judge (criteria + examples) is registered by name and prompted with both."""
    specs = load_judge_file(FIXTURES / "custom_judges.yaml")
    assert [s.name for s in specs] == ["completed_only"] and get_judge("completed_only").fn is specs[0].fn
    replay = Replay()
    store = Store(tmp_path / "chaos.db")
    with judge_runtime(model=replay_model(replay), store=store):
        result = run_eval_sync(subset(retail["evalset"], FIVE[:1]), retail["backend"], retail["space"], RunSettings(judges=["completed_only"]), store=store)
    assert result.rows[0].correct is True
    prompt = replay.prompts()[0]
    assert "status code 'C' (completed)" in prompt and "Revenue in May 2024?" in prompt and '"result": false' in prompt


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"judges": [{"name": "x"}]}, "judges[0].criteria"),
        ({"judges": [{"name": "x", "criteria": "c", "critera": "typo"}]}, "judges[0].critera"),
        ({"judges": [{"name": "answers_question", "criteria": "c"}]}, "judges[0].name"),
        ({"judges": [{"name": "x", "criteria": "c", "examples": [{"question": "q", "result": "maybe"}]}]}, "judges[0].examples[0]"),
        ([], "judges"),
    ],
)
def test_invalid_judge_file_names_the_field(tmp_path, doc, field):
    import yaml

    path = tmp_path / "judges.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InvalidConfig) as info:
        load_judge_file(path, register=False)
    assert info.value.field == field and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"result": false, "rationale": "wrong year"}', (False, "wrong year")),
        ('Sure.\n{"result": "PASS", "rationale": "ok"}', (True, "ok")),
        ('```\n{"rationale": "r", "result": true}\n```', (True, "r")),
    ],
)
def test_parse_judgment(text, expected):
    assert parse_judgment(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("yes", "not JSON"), ('{"result": true}', "rationale"), ('{"result": "maybe", "rationale": "r"}', "'maybe'"), ("[true]", "not JSON")],
)
def test_parse_judgment_rejects_malformed(text, message):
    with pytest.raises(MalformedJudgment, match=message):
        parse_judgment(text)
