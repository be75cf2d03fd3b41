"""The server's guarantees, attacked: every budget kind, holdout over every tool with generated inputs,
append-only history, and an apply that fails half-way."""

import json
import re
import shutil
import sqlite3

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from chaos_llama.server.guards import WITHHELD
from chaos_llama.tools.space.changes import EDIT_TYPES
from server_helpers import TokenBackend, example_backend, held_out_cases, make_app, texts, visible_cases, warm_store

INSTRUCTION = {"op": "add_text_instruction", "content": "Completed orders have stat_cd = 'C'."}


@pytest.fixture
def workspace(tmp_path, tmp_path_factory):
    shutil.copy(warm_store(tmp_path_factory.getbasetemp()), tmp_path / "chaos.db")
    return tmp_path


async def status(c) -> dict:
    return {l["kind"]: l for l in (await c.call_tool("budget_status", {})).structured_content["lines"]}


async def runs(c) -> list:
    return json.loads((await c.read_resource("chaos-llama://runs")).contents[0].text)


# ------------------------------------------------------------------ budgets
async def test_sql_execution_budget_refuses_runs_and_example_checks_before_spending(tmp_path):
    """A run needing more SQL executions than are left is refused with what is left; so is a proposal
    whose new example SQL would have to be executed. Nothing is spent, no run or preview is made."""
    async with Client(make_app(tmp_path, sql_executions=3)) as c:
        before = await status(c)
        r = await c.call_tool("eval_run", {"split": "val"})
        assert r.is_error and "sql_executions" in texts(r) and "3 of 3 left" in texts(r) and "Nothing was spent" in texts(r)
        assert await runs(c) == [] and await status(c) == before
        edits = [{"op": "add_example_sql", "question": f"How many orders in store {i}?",
                  "sql": f"SELECT COUNT(*) FROM main.retail.orders WHERE store_id = {i}"} for i in range(4)]
        r = await c.call_tool("space_propose", {"changes": edits})
        assert r.is_error and "sql_executions" in texts(r) and "asked for 4" in texts(r)
        assert await status(c) == before


async def test_llm_token_budget_counts_answer_usage_and_refuses_a_run_that_would_not_fit(tmp_path):
    """Tokens are counted from `Answer.details["usage"]["total_tokens"]` of fresh answers; the next run is
    refused before asking when the per-question average says it would not fit, or when tokens are gone."""
    backend = TokenBackend(example_backend(), tokens=100)
    async with Client(make_app(tmp_path, backend=backend, llm_tokens=100 * 20)) as c:
        val = (await c.call_tool("eval_run", {"split": "val"})).structured_content
        n_val = val["overall"]["total"]
        assert n_val < 20 and backend.calls == n_val
        spent = (await status(c))["llm_tokens"]
        assert spent["spent"] == 100 * n_val and spent["remaining"] == 100 * (20 - n_val)
        # A cached re-run asks nothing and costs no tokens.
        again = (await c.call_tool("eval_run", {"split": "val"})).structured_content
        assert again["backend_calls"] == 0 and (await status(c))["llm_tokens"]["spent"] == 100 * n_val
        calls = backend.calls
        r = await c.call_tool("eval_run", {"split": "train"})  # 41 questions x 100 tokens > what is left
        assert r.is_error and "llm_tokens" in texts(r) and f"{100 * (20 - n_val)} of 2000 left" in texts(r)
        assert backend.calls == calls and (await status(c))["llm_tokens"]["spent"] == 100 * n_val
    async with Client(make_app(tmp_path, backend=backend, llm_tokens=0)) as c:
        r = await c.call_tool("eval_run", {"split": "val", "repeats": 2})
        assert r.is_error and "llm_tokens" in texts(r) and backend.calls == calls


async def test_wall_clock_budget_stops_spending_tools_once_used_up(tmp_path):
    """Wall clock is recorded per spending call; a run that uses it up is stopped there, and then
    runs are refused (a zero budget allows none)."""
    async with Client(make_app(tmp_path, wall_clock_s=0)) as c:
        r = await c.call_tool("eval_run", {"split": "val"})
        assert r.is_error and "wall_clock_s" in texts(r) and await runs(c) == []
    async with Client(make_app(tmp_path / "b", wall_clock_s=0.001)) as c:
        r = await c.call_tool("eval_run", {"split": "val"})  # allowed to start (time was left), stopped when it ran out
        assert r.is_error and "wall-clock budget ran out" in texts(r)
        assert (await status(c))["wall_clock_s"]["remaining"] == 0
        r = await c.call_tool("eval_run", {"split": "train"})
        assert r.is_error and "wall_clock_s" in texts(r)
        r = await c.call_tool("eval_final_test", {})
        assert r.is_error and "wall_clock_s" in texts(r) and (await status(c))["final_tests"]["spent"] == 0


async def test_no_tool_can_raise_a_budget_and_the_ledger_survives_a_restart(workspace):
    """No tool takes a budget argument; limits come from the project config alone, and spend is
    persisted: a new server on the same workspace starts from what was spent."""
    async with Client(make_app(workspace, applies=2)) as c:
        tools = (await c.list_tools()).tools
        for t in tools:
            for name in t.input_schema.get("properties", {}):
                assert not re.search(r"budget|quota|allow", name), (t.name, name)
        for args in ({"applies": 100}, {"budgets": {"applies": 100}}):
            with pytest.raises(MCPError):
                await c.call_tool("budget_status", args)
        p = (await c.call_tool("space_propose", {"changes": [INSTRUCTION]})).structured_content
        await c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": "m"})
        assert (await status(c))["applies"]["remaining"] == 1
    async with Client(make_app(workspace, applies=2)) as c:
        line = (await status(c))["applies"]
        assert (line["limit"], line["spent"], line["remaining"]) == (2, 1, 1)
        await c.call_tool("space_rollback", {"version": "1"})
        r = await c.call_tool("space_rollback", {"version": "2"})
        assert r.is_error and "applies" in texts(r)


# ------------------------------------------------------------------ history
async def test_an_apply_that_fails_half_way_leaves_no_revision_and_refunds(workspace, monkeypatch):
    """If writing the revision fails after the document is stored, there is no new revision, the head and
    the applies budget are unchanged, and the same preview applies cleanly afterwards."""
    app = make_app(workspace)
    async with Client(app) as c:
        before = (await c.call_tool("space_history", {})).structured_content
        p = (await c.call_tool("space_propose", {"changes": [INSTRUCTION]})).structured_content
        store = app.session.copilot.store
        real_put = store._put_version

        def crash(*a, **kw):
            real_put(*a, **kw)  # the document is written inside the transaction, then the disk fails
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store, "_put_version", crash)
        r = await c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": "m"})
        assert r.is_error
        assert (await c.call_tool("space_history", {})).structured_content == before
        assert (await status(c))["applies"]["spent"] == 0
        with pytest.raises(MCPError, match="already the head"):  # the failed apply did not move the head
            await c.call_tool("space_rollback", {"version": "1", "message": "x"})
        monkeypatch.setattr(store, "_put_version", real_put)
        ok = (await c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": "m"})).structured_content
        assert ok["applied"] and ok["version"]["revision"] == 2 and ok["version"]["parent_revision"] == 1
        assert (await status(c))["applies"]["spent"] == 1
        # A preview applies once: a replay is refused and adds nothing.
        with pytest.raises(MCPError):
            await c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": "again"})
        hist = (await c.call_tool("space_history", {})).structured_content
        assert [v["revision"] for v in hist["versions"]] == [1, 2]
    con = sqlite3.connect(workspace / "chaos.db")
    for sql in ("UPDATE revisions SET version_id = 'x' WHERE revision = 1", "DELETE FROM revisions WHERE revision = 2"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)


# ------------------------------------------------------------------ holdout
def _fill(schema: dict, node: dict, secret: str, defs: dict, *, wrong_types: bool):
    """An argument value for `node` carrying `secret` wherever the schema (or a wrong type) lets it."""
    if "$ref" in node:
        return _fill(schema, defs[node["$ref"].rsplit("/", 1)[-1]], secret, defs, wrong_types=wrong_types)
    if "anyOf" in node:
        branch = next((b for b in node["anyOf"] if b.get("type") != "null"), node["anyOf"][0])
        return _fill(schema, branch, secret, defs, wrong_types=wrong_types)
    if "discriminator" in node:
        return None  # edits are generated per variant below
    kind = node.get("type")
    if kind == "string":
        return node["enum"][0] if "enum" in node and not wrong_types else secret
    if kind == "array":
        return [_fill(schema, node.get("items", {}), secret, defs, wrong_types=wrong_types)]
    if kind == "object":
        return {k: _fill(schema, v, secret, defs, wrong_types=wrong_types) for k, v in node.get("properties", {}).items()}
    return secret if wrong_types else node.get("default", 1)


def generated_calls(tools, secrets):
    """(tool, arguments) pairs: every string slot holds a secret; then every slot holds one (wrong types);
    every edit variant of space_propose with secrets in its fields; secrets as argument names."""
    for t in tools:
        schema = t.input_schema
        defs = schema.get("$defs", {})
        props = schema.get("properties", {})
        for secret in secrets:
            for wrong in (False, True):
                args = {k: _fill(schema, v, secret, defs, wrong_types=wrong) for k, v in props.items()}
                if t.name == "space_propose":
                    # the advertised schema lists the ops in words; every op's full schema is the server's own
                    for edit_type in EDIT_TYPES:
                        variant = edit_type.model_json_schema()
                        edit = {k: _fill(variant, v, secret, variant.get("$defs", {}), wrong_types=wrong)
                                for k, v in variant["properties"].items()}
                        edit["op"] = edit_type.model_fields["op"].default
                        yield t.name, {"changes": [edit], "message": secret}
                    continue
                yield t.name, args
            yield t.name, {secret: 1}
        yield secrets[0], {}


def _norm(s: str) -> str:
    return " ".join(s.lower().replace("\\n", " ").replace('\\"', '"').split())


def secrets_of(cases, visible) -> tuple[list[str], list[str]]:
    """What identifies the test split: its questions, its gold lines no visible gold holds, its ids."""
    seen = "\n".join(_norm(s) for c in visible for s in c.gold_sql)
    lines = [l for c in cases for s in c.gold_sql for l in s.splitlines() if len(l.strip()) >= 20 and _norm(l) not in seen]
    return [c.question for c in cases] + lines, [c.id for c in cases]


def leaks(given: str, out: str, texts_: list[str], ids: list[str]) -> list[str]:
    """Secrets in an output that its request did not carry itself."""
    g, o = _norm(given), _norm(out)
    found = [s for s in texts_ if _norm(s) in o and _norm(s) not in g]
    return found + [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i.lower())}(?![\w-])", o) and i.lower() not in g]


async def test_holdout_never_leaks_through_generated_inputs_to_every_tool(workspace):
    """Arguments generated from each tool's input schema carry test questions, gold SQL and test ids in
    every slot (valid and wrongly typed, as argument names and tool names); no result, error message or
    error data contains test content that its own request did not carry."""
    cases = held_out_cases()
    picked = cases[:2]
    probes = [c.question for c in picked] + [c.gold_sql[0] for c in picked] + [c.id for c in picked]
    texts_, ids = secrets_of(cases, visible_cases())
    seen: list[tuple[str, str]] = []
    async with Client(make_app(workspace)) as c:
        await c.call_tool("eval_run", {"split": "train"})
        assert not (await c.call_tool("eval_final_test", {})).is_error
        tools = (await c.list_tools()).tools
        calls = list(generated_calls(tools, probes))
        assert len({name for name, _ in calls}) == len(tools) + 1
        for name, args in calls:
            given = json.dumps({"name": name, "args": args})
            try:
                seen.append((given, texts(await c.call_tool(name, args))))
            except MCPError as e:
                seen.append((given, f"{e.error.message} {json.dumps(e.error.data)}"))
        for case in picked:
            uri = f"chaos-llama://runs/{case.id}"
            try:
                seen.append((uri, (await c.read_resource(uri)).contents[0].text))
            except MCPError as e:
                seen.append((uri, f"{e.error.message} {json.dumps(e.error.data)}"))
            seen.append((case.question, json.dumps((await c.get_prompt("analyze_failures", {"run_id": case.question})).model_dump(mode="json"))))
            seen.append((case.gold_sql[0], json.dumps((await c.get_prompt("optimize_space", {"goal": case.gold_sql[0]})).model_dump(mode="json"))))
    assert "invalid arguments for tool" in _norm(" ".join(o for _, o in seen))  # the invalid-params path was exercised
    assert [x for g, o in seen for x in leaks(g, o, texts_, ids)] == []
    assert WITHHELD.lower() not in _norm(" ".join(o for _, o in seen))  # structural: the safety net never acted


async def test_wall_clock_budget_stops_a_run_midway_and_charges_only_what_was_asked(tmp_path):
    """A run longer than the wall-clock budget left is stopped when it runs out: the call is
    refused with what was recorded, and only the questions actually asked are charged."""
    import asyncio

    from mcp import Client

    from server_helpers import WrappedBackend, example_backend, make_app

    class Slow(WrappedBackend):
        async def ask(self, space, question):
            await asyncio.sleep(0.25)
            return await self.inner.ask(space, question)

    async with Client(make_app(tmp_path, backend=Slow(example_backend(), "slow"), wall_clock_s=2.0)) as c:
        r = await c.call_tool("eval_run", {"split": "train"})
        assert r.is_error and "wall-clock budget ran out" in r.content[0].text
        lines = {l["kind"]: l for l in (await c.call_tool("budget_status", {})).structured_content["lines"]}
        again = await c.call_tool("eval_run", {"split": "val"})
    asked = lines["backend_questions"]["spent"]
    assert 0 < asked < 41  # stopped midway through the 41-question train split, charged for what it asked
    assert lines["wall_clock_s"]["remaining"] == 0
    assert again.is_error and "wall_clock_s" in again.content[0].text  # nothing more runs
