"""A scripted assistant optimizes the bundled example using only MCP tools, then scores test once."""

from mcp import Client

from chaos_llama.server.app import build_app
from chaos_llama.tools.copilot import settings_for_example
from chaos_llama.tools.project import load_config


async def test_scripted_session_improves_val_then_scores_test_once(tmp_path):
    """Evaluate -> read failures -> propose -> apply -> re-evaluate on val -> keep -> final test.

    The "assistant" only sees tool outputs: it turns failing train questions (whose gold SQL
    eval_failures shows) into example SQL, the lever Genie's retrieval uses for recurring questions.
    """
    # the template set: its val questions are siblings of train ones, so examples of failing train questions
    # help val (on the realistic set, held out per family, they do not: general levers are needed)
    app = build_app(load_config(env={}, overrides={"workspace": str(tmp_path), "evalset": str(settings_for_example(evalset="templates").evalset)}))
    async with Client(app) as c:
        async def tool(name, **args):
            r = await c.call_tool(name, args)
            assert not r.is_error, r.content[0].text
            return r.structured_content

        await tool("space_get")
        base_val = await tool("eval_run", split="val")
        train = await tool("eval_run", split="train")
        page = await tool("eval_failures", run_id=train["run_id"], limit=10)
        failures = page["failures"]
        while page["next_cursor"]:
            page = await tool("eval_failures", run_id=train["run_id"], limit=10, cursor=page["next_cursor"])
            failures += page["failures"]
        assert failures, "the sparse space should fail some train questions"
        edits = [{"op": "add_example_sql", "question": f["question"], "sql": f["gold_sql"][0]} for f in failures]
        proposal = await tool("space_propose", changes=edits, message="teach the recurring business questions")
        assert proposal["ok"], proposal["problems"]
        applied = await tool("space_apply", preview_id=proposal["preview_id"], message="add failing train questions as examples")
        assert applied["version"]["revision"] == 2

        val = await tool("eval_run", split="val")
        assert val["comparison"]["baseline_run"] == base_val["run_id"]
        assert val["overall"]["right"] > base_val["overall"]["right"], (base_val["overall"], val["overall"])
        assert val["comparison"]["fixed"] > val["comparison"]["broken"]
        assert val["comparison"]["fixed_ids"] is None  # val stays aggregate

        final = await tool("eval_final_test")
        assert final["revision"] == 2 and final["overall"]["total"] > 0 and "rows" not in final
        again = await c.call_tool("eval_final_test", {})
        assert again.is_error and "final_tests" in again.content[0].text
        report = await tool("report")
        assert "r1 → r2" in report["markdown"]
