"""Assistant-as-judge, MCP sampling and human labels through the real SDK Client, in-process.

The project is the bundled retail example (curated space) with `answers_question` as a second judge and no judge
model configured, so its verdicts wait for the assistant.
"""

from __future__ import annotations

import re

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CreateMessageResult, TextContent

from chaos_llama.server.app import build_app
from chaos_llama.tools.project import load_config

JUDGES = ["execution", "answers_question"]


def make_app(workspace, **budgets):
    # the curated space: the offline engine answers its questions with SQL (the sparse space refuses them)
    over = {"workspace": str(workspace), "judges": JUDGES, "example_space": "curated"}
    if budgets:
        over["budgets"] = budgets
    return build_app(load_config(env={}, overrides=over))


async def all_splits_run(app) -> tuple[str, list]:
    """A run over every split (as a library user could make): judge_pending must still hide its test questions."""
    from chaos_llama.tools.runner import RunSettings, run_eval

    cp = app.session.copilot
    result = await run_eval(cp.evalset, cp.backend, cp.space_at(cp.head()), RunSettings(judges=JUDGES, space_key=cp.space_key), store=cp.store)
    cp.store.update_run(result.run_id, revision=cp.head().revision)  # as if the session had made it
    return result.run_id, cp.test_cases()


def _text(result) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "text", None))


async def test_judge_pending_never_lists_test_questions_and_submit_records(tmp_path):
    """judge_pending lists train items with their context; never a val or test question, id or gold SQL,
    even for a run over all splits; a test run is unknown; judge_submit records verdicts."""
    app = make_app(tmp_path)
    async with Client(app) as c:
        all_run, test_cases = await all_splits_run(app)
        with pytest.raises(MCPError) as err:  # a run holding test questions is not the assistant's to read
            await c.call_tool("judge_pending", {"run_id": all_run, "limit": 100})
        assert "no run" in err.value.error.message
        run_id = (await c.call_tool("eval_run", {"split": "train"})).structured_content["run_id"]
        view = (await c.call_tool("judge_pending", {"run_id": run_id, "limit": 40})).structured_content
        assert view["total_pending"] > 0 and view["rubrics"]["answers_question"]
        item = view["items"][0]
        assert item["question"] and item["generated_sql"] and item["gold_sql"] and "|" in item["result_sample"]
        assert {i["split"] for i in view["items"]} == {"train"}
        blob = " ".join(str(v) for i in view["items"] for v in i.values()).lower()
        for case in test_cases:
            assert case.question.lower() not in blob and not re.search(rf"(?<![\w-]){re.escape(case.id.lower())}(?![\w-])", blob)
            assert all(g.lower() not in blob for g in case.gold_sql)
        total = view["total_pending"]
        sub = await c.call_tool("judge_submit", {"run_id": run_id, "verdicts": [
            {"case_id": item["case_id"], "judge": "answers_question", "value": True, "rationale": "answers it"}]})
        assert sub.structured_content == {"run_id": run_id, "recorded": 1, "pending_left": total - 1}
        v = next(v for v in app.session.copilot.store.get_verdicts(run_id)[item["case_id"]] if v.judge == "answers_question")
        assert v.value is True and v.details["source"] == "assistant"
        # a test question is as unknown as one that does not exist: the same answer, no oracle
        answers = []
        for probe in (test_cases[0].id, "no_such_case_here"):
            with pytest.raises(MCPError) as err:
                await c.call_tool("judge_submit", {"run_id": run_id, "verdicts": [
                    {"case_id": probe, "judge": "answers_question", "value": True, "rationale": "x"}]})
            answers.append(err.value.error.message.replace(probe, "<probe>"))
        # (a suggestion depends on the spelling of the probe, and only ever names a visible question)
        assert all(t.id not in a for a in answers for t in test_cases)
        assert [a.split(" Did you mean")[0].split(" Valid options")[0] for a in answers][0] == \
               [a.split(" Did you mean")[0].split(" Valid options")[0] for a in answers][1]
        assert "no question" in answers[0]
        with pytest.raises(MCPError) as err:  # deterministic judges are not the assistant's to overwrite
            await c.call_tool("judge_submit", {"run_id": run_id, "verdicts": [
                {"case_id": item["case_id"], "judge": "execution", "value": True, "rationale": "x"}]})
        assert "not an LLM judge" in err.value.error.message and "answers_question" in err.value.error.message
        final = await c.call_tool("eval_final_test", {})
        assert not final.is_error
        test_run = next(r for r in app.session.copilot.lineage_runs() if r.split == "test").run_id
        with pytest.raises(MCPError) as err:
            await c.call_tool("judge_pending", {"run_id": test_run})
        assert "no run" in err.value.error.message


async def test_labels_and_alignment_over_mcp(tmp_path):
    """label_submit records a person's verdict; judge_alignment compares it with the judge's verdicts."""
    app = make_app(tmp_path)
    async with Client(app) as c:
        train = (await c.call_tool("eval_run", {"split": "train"})).structured_content
        # the answered questions await the judge (eval_run's rows list the failing ones)
        rows = (await c.call_tool("judge_pending", {"run_id": train["run_id"], "limit": 4})).structured_content["items"]
        await c.call_tool("judge_submit", {"run_id": train["run_id"], "verdicts": [
            {"case_id": r["case_id"], "judge": "answers_question", "value": v, "rationale": "assistant"}
            for r, v in zip(rows, [True, True, False, False])]})
        for r, human in zip(rows, [True, False, False, True]):
            lab = await c.call_tool("label_submit", {"run_id": train["run_id"], "case_id": r["case_id"], "judge": "answers_question",
                                                     "value": human, "note": "checked by hand", "labeler": "ana"})
            assert lab.structured_content["created_at"] and lab.structured_content["labeler"] == "ana"
        a = (await c.call_tool("judge_alignment", {"judge": "answers_question"})).structured_content
        # 2 of 4 agree; both sides say true half the time, so chance agreement is 0.5 and kappa 0
        assert a["compared"] == 4 and a["accuracy"] == 0.5 and a["kappa"] == 0.0
        assert a["confusion"] == {"true_positive": 1, "false_positive": 1, "false_negative": 1, "true_negative": 1}
        with pytest.raises(MCPError) as err:
            await c.call_tool("label_submit", {"run_id": train["run_id"], "case_id": rows[0]["case_id"], "judge": "answer_question", "value": True})
        assert "answers_question" in err.value.error.message


async def test_judge_sample_uses_the_clients_model_and_counts_tokens(tmp_path):
    """With sampling, the client's model answers the judge prompt; the verdict is recorded and tokens charged.
    Without sampling, the tool says to use judge_pending/judge_submit."""
    prompts = []

    async def sampling(ctx, params):
        prompts.append(params)
        return CreateMessageResult(role="assistant", model="client-model",
                                   content=TextContent(type="text", text='{"result": false, "rationale": "wrong year"}'))

    app = make_app(tmp_path)
    async with Client(app, sampling_callback=sampling) as c:
        train = (await c.call_tool("eval_run", {"split": "train"})).structured_content
        before = (await c.call_tool("judge_pending", {"run_id": train["run_id"]})).structured_content
        spent0 = app.session.ledger.spent("llm_tokens")
        r = await c.call_tool("judge_sample", {"run_id": train["run_id"], "judge": "answers_question"})
        assert not r.is_error, _text(r)
        out = r.structured_content
        assert out["value"] is False and out["rationale"] == "wrong year" and out["case_id"] == before["items"][0]["case_id"]
        assert out["pending_left"] == before["total_pending"] - 1
        assert len(prompts) == 1 and before["items"][0]["question"] in prompts[0].messages[0].content.text
        assert app.session.ledger.spent("llm_tokens") > spent0
    async with Client(make_app(tmp_path)) as c:
        r = await c.call_tool("judge_sample", {"run_id": train["run_id"], "judge": "answers_question"})
        assert r.is_error and "judge_pending" in _text(r)
