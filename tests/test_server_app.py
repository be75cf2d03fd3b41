"""The MCP server through the real SDK client: every tool, resources, prompts and the guarantees.

The bundled retail example is the project. A session-wide warm store (answers and gold results
cached for the starting revision) is copied into each test's workspace so tests stay fast; tests
about budgets use a cold workspace, where every question costs.
"""

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ElicitResult

from chaos_llama.server.app import build_app
from chaos_llama.server.guards import WITHHELD
from chaos_llama.tools.project import load_config
from server_helpers import texts, visible_cases
from server_helpers import warm_store as shared_warm_store

ALL_TOOLS = {
    "space_get", "space_propose", "space_apply", "space_history", "space_diff", "space_rollback", "evalset_info",
    "eval_run", "eval_failures", "judge_run", "eval_final_test", "budget_status", "run_log", "report",
    "judge_pending", "judge_submit", "judge_sample", "label_submit", "judge_alignment",
    "logs_import", "traffic_fix_first", "logs_candidates", "logs_review",
}
INSTRUCTION = {"op": "add_text_instruction", "content": "Completed orders have stat_cd = 'C'."}


def make_app(workspace: Path, **budgets):
    over = {"workspace": str(workspace)}
    if budgets:
        over["budgets"] = budgets
    return build_app(load_config(env={}, overrides=over))


@pytest.fixture(scope="session")
def warm_store(tmp_path_factory):
    """A chaos.db whose caches hold the starting space's train/val/test answers and gold results."""
    return shared_warm_store(tmp_path_factory.mktemp("warm"))


@pytest.fixture
def workspace(tmp_path, warm_store):
    shutil.copy(warm_store, tmp_path / "chaos.db")
    return tmp_path


def held_out_cases():
    from chaos_llama.tools.copilot import settings_for_example
    from chaos_llama.tools.evalset import assign_splits, load_evalset

    es = assign_splits(load_evalset(settings_for_example().evalset), seed=0)
    return es.split("test")


async def test_tools_are_listed_with_descriptions_schemas_and_annotations(workspace):
    """Every tool has a description and read-only/destructive annotations; no output schema (every definition
    re-enters the assistant's context on every turn; results are structured anyway)."""
    async with Client(make_app(workspace)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert ALL_TOOLS <= set(tools)  # the copilot's core; test_server_docs.py checks the full list against the README
    for t in tools.values():
        assert t.description and len(t.description) > 20, t.name
        assert t.output_schema is None, t.name
        assert t.annotations is not None and t.annotations.read_only_hint is not None, t.name
    for name in ("space_get", "space_propose", "space_history", "space_diff", "evalset_info", "eval_failures", "budget_status"):
        assert tools[name].annotations.read_only_hint is True
    for name in ("space_apply", "space_rollback"):
        assert tools[name].annotations.destructive_hint is True
    props = tools["eval_run"].input_schema["properties"]
    assert props["split"]["enum"] == ["train", "val"] and props["split"]["description"]
    assert "changes" in tools["space_propose"].input_schema["properties"]


async def test_every_tool_resource_and_prompt_in_process(workspace):
    """Each tool answers with structured output over the real SDK client; progress is reported."""
    progress = []

    async def on_progress(p, total, message):
        progress.append((p, total, message))

    async with Client(make_app(workspace)) as c:
        space = (await c.call_tool("space_get", {"full": True})).structured_content
        assert space["revision"] == 1 and "serialized_space" in space["yaml"]
        info = (await c.call_tool("evalset_info", {})).structured_content
        assert info["splits"]["train"] > len(info["train_questions"]) == 30 and info["next_cursor"] == "30"
        assert info["leakage"]["families"] > 0
        train = (await c.call_tool("eval_run", {"split": "train", "rows": "all", "limit": 200}, progress_callback=on_progress)).structured_content
        assert len(train["rows"]) == train["rows_matching"] == info["splits"]["train"] and progress and progress[-1][0] == progress[-1][1]
        val = (await c.call_tool("eval_run", {"split": "val"})).structured_content
        assert val["rows"] is None and val["overall"]["total"] == info["splits"]["val"]
        fails = (await c.call_tool("eval_failures", {"run_id": train["run_id"], "limit": 3})).structured_content
        assert fails["shown"] == 3 and fails["failures"][0]["gold_sql"] and fails["failures"][0]["relevant_metadata"]
        rej = await c.call_tool("judge_run", {"run_id": train["run_id"], "judges": ["sql_valid", "execution"]})
        # re-judging never rewrites a recorded run: a new run, linked to the original
        assert not rej.is_error and rej.structured_content["run_id"] != train["run_id"]
        assert rej.structured_content["rejudge_of"] == train["run_id"]
        prop = (await c.call_tool("space_propose", {"changes": [INSTRUCTION], "message": "status codes"})).structured_content
        assert prop["ok"] and "+" in prop["diff"] and prop["preview_id"]
        applied = (await c.call_tool("space_apply", {"preview_id": prop["preview_id"], "message": "document status codes"})).structured_content
        assert applied["applied"] and applied["version"]["revision"] == 2
        diff = (await c.call_tool("space_diff", {"a": "1", "b": "2"})).structured_content
        assert "stat_cd = 'C'" in diff["diff"]
        rolled = (await c.call_tool("space_rollback", {"version": "1"})).structured_content
        assert rolled["revision"] == 3 and rolled["version_id"] == space["version_id"]
        hist = (await c.call_tool("space_history", {})).structured_content
        assert [v["kind"] for v in hist["versions"]] == ["initial", "apply", "rollback"]
        log = (await c.call_tool("run_log", {"run_id": train["run_id"]})).structured_content
        assert log["split"] == "train" and log["overall"]["total"] == info["splits"]["train"]
        rep = (await c.call_tool("report", {})).structured_content
        assert train["run_id"] in rep["markdown"] and "Space history" in rep["markdown"]
        final = (await c.call_tool("eval_final_test", {})).structured_content
        assert final["overall"]["total"] == info["splits"]["test"] and final["final_tests_left"] == 0
        budget = (await c.call_tool("budget_status", {})).structured_content
        assert {l["kind"] for l in budget["lines"]} >= {"backend_questions", "applies", "final_tests"}

        res = await c.read_resource("chaos-llama://space/current")
        assert "serialized_space" in res.contents[0].text
        res = await c.read_resource(f"chaos-llama://runs/{train['run_id']}")
        assert json.loads(res.contents[0].text)["run_id"] == train["run_id"]
        runs = json.loads((await c.read_resource("chaos-llama://runs")).contents[0].text)
        assert len(runs) >= 3
        prompts = {p.name for p in (await c.list_prompts()).prompts}
        assert prompts == {"optimize_space", "analyze_failures"}
        p = await c.get_prompt("analyze_failures", {"run_id": train["run_id"]})
        assert train["run_id"] in p.messages[0].content.text


async def test_budget_is_refused_before_spending(tmp_path):
    """A run that would exceed a budget is refused with what is left, and nothing is spent or recorded."""
    async with Client(make_app(tmp_path, backend_questions=5)) as c:
        before = (await c.call_tool("budget_status", {})).structured_content
        r = await c.call_tool("eval_run", {"split": "train"})
        assert r.is_error and "backend_questions" in texts(r) and "5 of 5 left" in texts(r)
        after = (await c.call_tool("budget_status", {})).structured_content
        assert before["lines"] == after["lines"]
        runs = json.loads((await c.read_resource("chaos-llama://runs")).contents[0].text)
        assert runs == []


async def test_applies_and_final_tests_cannot_exceed_their_budget(workspace):
    """The second apply with applies=1 is refused and leaves history unchanged; final test runs once."""
    async with Client(make_app(workspace, applies=1, final_tests=1)) as c:
        p1 = (await c.call_tool("space_propose", {"changes": [INSTRUCTION]})).structured_content
        assert not (await c.call_tool("space_apply", {"preview_id": p1["preview_id"], "message": "one"})).is_error
        p2 = (await c.call_tool("space_propose", {"changes": [{"op": "add_text_instruction", "content": "Returned orders: 'R'."}]})).structured_content
        r = await c.call_tool("space_apply", {"preview_id": p2["preview_id"], "message": "two"})
        assert r.is_error and "applies" in texts(r)
        r = await c.call_tool("space_rollback", {"version": "1"})
        assert r.is_error and "applies" in texts(r)
        hist = (await c.call_tool("space_history", {})).structured_content
        assert len(hist["versions"]) == 2
        assert not (await c.call_tool("eval_final_test", {})).is_error
        r = await c.call_tool("eval_final_test", {})
        assert r.is_error and "final_tests" in texts(r)


async def test_history_is_append_only_and_failed_apply_leaves_nothing(workspace):
    """A stale preview is refused (no partial version); rollback adds a revision equal to the old one."""
    async with Client(make_app(workspace)) as c:
        a = (await c.call_tool("space_propose", {"changes": [INSTRUCTION]})).structured_content
        b = (await c.call_tool("space_propose", {"changes": [{"op": "add_text_instruction", "content": "X"}]})).structured_content
        assert not (await c.call_tool("space_apply", {"preview_id": a["preview_id"], "message": "a"})).is_error
        r = await c.call_tool("space_apply", {"preview_id": b["preview_id"], "message": "b"})
        assert r.is_error and "ApplyConflict" in texts(r)
        bad = (await c.call_tool("space_propose", {"changes": [{"op": "set_column_description", "table": "orders", "column": "no_such_col", "description": "x"}]})).structured_content
        assert not bad["ok"] and bad["preview_id"] is None and "no_such_col" in json.dumps(bad["problems"])
        hist = (await c.call_tool("space_history", {})).structured_content
        assert [v["revision"] for v in hist["versions"]] == [1, 2]
        first = hist["versions"][0]
        back = (await c.call_tool("space_rollback", {"version": "1"})).structured_content
        assert back["revision"] == 3 and back["version_id"] == first["version_id"] and back["kind"] == "rollback"
        space = (await c.call_tool("space_get", {})).structured_content
        assert space["version_id"] == first["version_id"]
    # the history is a table of the workspace's one store, and the database itself refuses rewrites
    assert {p.name for p in workspace.iterdir()} & {"copilot.db", "ledger.db"} == set()
    con = sqlite3.connect(workspace / "chaos.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE revisions SET message='x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM revisions")


async def test_invalid_arguments_name_field_value_and_options(workspace):
    """Bad arguments come back as invalid-params errors naming the field, the value and valid options."""
    async with Client(make_app(workspace)) as c:
        run = (await c.call_tool("eval_run", {"split": "val"})).structured_content["run_id"]
        with pytest.raises(MCPError) as e:
            await c.call_tool("eval_failures", {"run_id": "run-nope"})
        assert e.value.error.code == INVALID_PARAMS and "run-nope" in str(e.value) and e.value.error.data["field"] == "run_id"
        with pytest.raises(MCPError) as e:
            await c.call_tool("eval_failures", {"run_id": run})
        assert "train run" in str(e.value)
        with pytest.raises(MCPError) as e:
            await c.call_tool("space_diff", {"a": "99"})
        assert e.value.error.data["field"] == "version" and "revisions are 1..1" in str(e.value)
        with pytest.raises(MCPError) as e:
            await c.call_tool("space_apply", {"preview_id": "p-missing", "message": "m"})
        assert e.value.error.data["field"] == "preview_id"
        with pytest.raises(MCPError) as e:
            await c.call_tool("judge_run", {"run_id": run, "judges": ["exection"]})
        assert "Did you mean 'execution'" in str(e.value)
        # Arguments that fail the input schema are invalid params too (see test_server_errors.py).
        with pytest.raises(MCPError) as e:
            await c.call_tool("eval_run", {"split": "test"})
        assert e.value.error.code == INVALID_PARAMS and e.value.error.data["field"] == "split" and "'train' or 'val'" in str(e.value)
        with pytest.raises(MCPError) as e:
            await c.call_tool("space_propose", {"changes": [{"op": "add_txt_instruction", "content": "x"}]})
        assert "add_txt_instruction" in str(e.value) and "Did you mean 'add_text_instruction'" in str(e.value)


async def test_apply_asks_for_confirmation_when_the_client_can_elicit(workspace):
    """With elicitation, a declined confirmation applies nothing; an accepted one applies."""
    answers = iter([{"confirm": False}, {"confirm": True}])
    asked = []

    async def elicit(ctx, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content=next(answers))

    async with Client(make_app(workspace), elicitation_callback=elicit) as c:
        p = (await c.call_tool("space_propose", {"changes": [INSTRUCTION]})).structured_content
        r = (await c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": "m"})).structured_content
        assert r["applied"] is False and asked
        r = (await c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": "m"})).structured_content
        assert r["applied"] is True and r["version"]["revision"] == 2


async def test_holdout_never_leaks_through_any_tool_resource_or_error(workspace):
    """No output, resource, prompt or error contains a test question, a line of its gold SQL or its
    id that the request did not carry itself, even when the inputs are built from the test
    questions (an echo of the assistant's own input is its own text, not a leak)."""
    cases = held_out_cases()
    visible = "\n".join(" ".join(s.lower().split()) for c in visible_cases() for s in c.gold_sql)
    secrets = [c.question for c in cases] + [line for c in cases for s in c.gold_sql for line in s.splitlines()
                                              if len(line.strip()) >= 20 and " ".join(line.lower().split()) not in visible]
    ids = [c.id for c in cases]
    seen: list[tuple[str, str]] = []  # (input, output)
    async with Client(make_app(workspace)) as c:

        async def call(name, args):
            try:
                out = texts(await c.call_tool(name, args))
            except MCPError as e:
                out = f"{e} {e.error.data}"
            seen.append((json.dumps(args), out))

        train = (await c.call_tool("eval_run", {"split": "train"})).structured_content["run_id"]
        await call("eval_run", {"split": "val"})
        final = await c.call_tool("eval_final_test", {})
        seen.append(("", texts(final)))
        test_run = next(r for r in json.loads((await c.read_resource("chaos-llama://runs")).contents[0].text) if r["split"] == "test")["run_id"]
        for case in cases[:4]:
            q, gold = case.question, case.gold_sql[0]
            await call("space_propose", {"changes": [{"op": "add_example_sql", "question": q, "sql": gold}], "message": q})
            await call("space_propose", {"changes": [{"op": "add_text_instruction", "content": gold}]})
            await call("eval_failures", {"run_id": train, "category": q})
            await call("eval_failures", {"run_id": case.id})
            await call("eval_failures", {"run_id": test_run})
            await call("judge_run", {"run_id": test_run, "judges": ["execution"]})
            await call("space_diff", {"a": q})
            await call("space_rollback", {"version": case.id})
            await call("run_log", {"run_id": q})
            await call("report", {"run_ids": [q]})
            await call("space_apply", {"preview_id": q, "message": gold})
        for name in ("space_get", "space_history", "evalset_info", "budget_status", "report"):
            await call(name, {})
        await call("run_log", {"run_id": test_run})
        await call("eval_failures", {"run_id": train, "limit": 50})
        for uri in ("chaos-llama://space/current", "chaos-llama://space/history", "chaos-llama://runs", f"chaos-llama://runs/{test_run}"):
            seen.append(("", (await c.read_resource(uri)).contents[0].text))
        seen.append(("", (await c.get_prompt("analyze_failures", {"run_id": train})).messages[0].content.text))

    def norm(s: str) -> str:
        return " ".join(s.lower().replace("\\n", " ").split())

    leaked = []
    for given, out in seen:
        g, o = norm(given), norm(out)
        leaked += [s for s in secrets if norm(s) in o and norm(s) not in g]
        leaked += [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i.lower())}(?![\w-])", o) and i.lower() not in g]
    assert leaked == []
    assert WITHHELD.lower() not in norm(" ".join(o for _, o in seen))  # structural: the safety net never had to act


async def test_example_sql_is_checked_against_the_proposed_space_in_a_fresh_session(tmp_path):
    """The first call of a session proposes an example SQL: it runs (on the space's tables), and a
    broken one is reported with its path."""
    async with Client(make_app(tmp_path)) as c:
        good = (await c.call_tool("space_propose", {"changes": [{"op": "add_example_sql", "question": "How many orders are there?",
                                                               "sql": "SELECT COUNT(*) AS n FROM main.retail.orders"}]})).structured_content
        bad = (await c.call_tool("space_propose", {"changes": [{"op": "add_example_sql", "question": "How many widgets?",
                                                              "sql": "SELECT COUNT(*) FROM main.retail.widgets"}]})).structured_content
    assert good["ok"] and good["preview_id"], good["problems"]
    assert not bad["ok"] and "example_question_sqls" in bad["problems"][0]["path"] and "widgets" in bad["problems"][0]["message"]
