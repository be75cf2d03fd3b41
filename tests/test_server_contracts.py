"""The server's guarantees against a curious assistant, repeated runs and two clients on one workspace:
no membership oracle for test questions, budgets that hold under random call sequences, one linear
history across processes, bounded outputs, strict inputs and authenticated HTTP off loopback."""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from server_helpers import held_out_cases, make_app, texts, visible_cases, warm_store
from test_server_guarantees import leaks, secrets_of

EXE = shutil.which("chaos-llama", path=str(Path(sys.executable).parent)) or "chaos-llama"
INSTRUCTION = {"op": "add_text_instruction", "content": "Completed orders have stat_cd = 'C'."}


@pytest.fixture
def workspace(tmp_path, tmp_path_factory):
    shutil.copy(warm_store(tmp_path_factory.getbasetemp()), tmp_path / "chaos.db")
    return tmp_path


async def _answer(c, name: str, args: dict) -> str:
    try:
        return texts(await c.call_tool(name, args))
    except MCPError as e:
        return f"{e.error.code} {e.error.message} {json.dumps(e.error.data)}"


def _mask(text: str, probe: str) -> str:
    """A response with the probed string, random ids, hashes, times and spelling-dependent suggestions masked."""
    text = text.replace(json.dumps(probe)[1:-1], "<probe>").replace(probe, "<probe>")
    for k in range(len(probe) - 1, 29, -1):  # an echo cut short keeps a prefix of the probe
        for form in (probe[:k], json.dumps(probe)[1:k + 1]):
            if form + "…" in text:
                text = text.replace(form + "…", "<probe>…")
    for line in probe.splitlines():  # a multi-line probe echoed line by line (e.g. in the space's YAML)
        if len(line.strip()) >= 8:
            for form in (line.strip(), json.dumps(line.strip())[1:-1], json.dumps(json.dumps(line.strip())[1:-1])[1:-1]):
                text = text.replace(form, "<probe line>")
    for line in probe.splitlines():  # an echo cut short inside a line keeps a prefix of that line
        line = line.strip()
        for k in range(len(line) - 1, 0, -1):
            for sep in ("\n", "\\n"):
                text = text.replace(sep + line[:k] + "…", sep + "<probe line>…")
    text = re.sub(r"\(\d+ characters\)", "(N characters)", text)
    text = re.sub(r"p-[0-9a-f]{32}", "<preview>", text)
    text = re.sub(r"\b[0-9a-f]{12,64}\b", "<hash>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", "<time>", text)
    text = re.sub(r"run-\d{8}-\d{6}-[0-9a-f]{6}", "<run>", text)
    return re.sub(r" (Did you mean [^.?]*\?|Valid options: [^.]*\.)", "", text)


# ---------------------------------------------------------------- no oracle
async def test_a_test_id_or_question_gets_the_same_answer_as_one_that_does_not_exist(workspace):
    """Every tool that takes a string answers a test id, test question or test gold exactly as it answers
    a made-up one of the same kind (once the probed string itself is masked): nothing tells them apart."""
    test = held_out_cases()[:3]
    async with Client(make_app(workspace)) as c:
        train = (await c.call_tool("eval_run", {"split": "train"})).structured_content["run_id"]
        calls = [
            ("eval_failures", lambda p: {"run_id": p}),
            ("eval_failures", lambda p: {"run_id": train, "category": p}),
            ("run_log", lambda p: {"run_id": p}),
            ("report", lambda p: {"run_ids": [p]}),
            ("space_diff", lambda p: {"a": p}),
            ("space_rollback", lambda p: {"version": p}),
            ("space_apply", lambda p: {"preview_id": p, "message": "m"}),
            ("judge_run", lambda p: {"run_id": p, "judges": ["execution"]}),
            ("judge_pending", lambda p: {"run_id": p}),
            ("label_submit", lambda p: {"run_id": train, "case_id": p, "judge": "execution", "value": True}),
            ("judge_submit", lambda p: {"run_id": train, "verdicts": [{"case_id": p, "judge": "answers_question", "value": True,
                                                                      "rationale": "r"}]}),
            ("judge_sample", lambda p: {"run_id": train, "judge": "answers_question", "case_id": p}),
            ("space_propose", lambda p: {"changes": [{"op": "add_text_instruction", "content": p}], "message": p}),
        ]
        checked = 0
        for case in test:
            # an absent probe of the same kind and length: the same text with its letters rotated (rot13)
            pairs = [(secret, codecs.encode(secret, "rot13")) for secret in (case.id, case.question, case.gold_sql[0])]
            for secret, absent in pairs:
                for name, build in calls:
                    a = _mask(await _answer(c, name, build(secret)), secret)
                    b = _mask(await _answer(c, name, build(absent)), absent)
                    assert a == b, (name, secret[:60], a[:600], b[:600])
                    checked += 1
    assert checked == len(test) * 3 * len(calls)


# ---------------------------------------------------------------- random sequences under small budgets
_CALL = st.one_of(
    st.tuples(st.just("eval_run"), st.fixed_dictionaries({"split": st.sampled_from(["train", "val"]), "repeats": st.integers(1, 3)})),
    st.tuples(st.just("propose_apply"), st.integers(0, 3)),
    st.tuples(st.just("space_rollback"), st.fixed_dictionaries({"version": st.sampled_from(["1", "2"])})),
    st.tuples(st.just("eval_final_test"), st.just({})),
    st.tuples(st.just("judge_run"), st.just({})),
    st.tuples(st.just("eval_failures"), st.just({})),
)
_BUDGETS = st.fixed_dictionaries({
    "backend_questions": st.integers(0, 120), "sql_executions": st.integers(0, 200), "applies": st.integers(0, 3),
    "final_tests": st.integers(0, 2), "wall_clock_s": st.sampled_from([0.0, 0.5, 30.0, 600.0]),
})


@settings(max_examples=12, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(budgets=_BUDGETS, calls=st.lists(_CALL, min_size=3, max_size=9))
def test_random_call_sequences_never_overspend_or_leak(tmp_path_factory, budgets, calls):
    """Property: whatever the assistant calls, in whatever order, under whatever small budgets, the
    ledger never passes a limit, and no output holds test content its own request did not carry."""
    ws = tmp_path_factory.mktemp("prop")
    shutil.copy(warm_store(tmp_path_factory.getbasetemp()), ws / "chaos.db")
    texts_, ids = secrets_of(held_out_cases(), visible_cases())

    async def play() -> None:
        async with Client(make_app(ws, **budgets)) as c:
            runs: list[str] = []
            for k, (name, args) in enumerate(calls):
                if name == "propose_apply":
                    change = {"op": "add_text_instruction", "content": f"Rule {k}: revenue means net revenue ({args})."}
                    out = await _answer(c, "space_propose", {"changes": [change]})
                    pid = re.search(r"p-[0-9a-f]{32}", out)
                    given_ = json.dumps(change)
                    if pid:
                        out += await _answer(c, "space_apply", {"preview_id": pid.group(0), "message": "rule"})
                elif name == "judge_run":
                    given_ = ""
                    out = await _answer(c, name, {"run_id": runs[-1], "judges": ["sql_valid", "execution"]}) if runs else ""
                elif name == "eval_failures":
                    given_ = ""
                    out = await _answer(c, name, {"run_id": runs[-1]}) if runs else ""
                else:
                    given_ = json.dumps(args)
                    out = await _answer(c, name, args)
                    found = re.search(r'"run_id": "(run-[^"]+)"', out)
                    if name == "eval_run" and found:
                        runs.append(found.group(1))
                assert [x for x in leaks(given_, out, texts_, ids)] == [], name
                lines = (await c.call_tool("budget_status", {})).structured_content["lines"]
                for line in lines:
                    assert line["spent"] <= line["limit"] + 1e-6, (name, line)

    asyncio.run(play())


# ---------------------------------------------------------------- two processes, one workspace
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(workspace: Path, *extra: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([EXE, "serve", "--transport", "http", "--port", str(port), "--workspace", str(workspace), *extra],
                            cwd=workspace, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}/mcp"
    for _ in range(300):  # readiness poll, not a timing assertion
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(url, timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("server did not start")


async def test_two_serve_processes_on_one_workspace_keep_one_linear_history_and_one_ledger(workspace):
    """Claude Desktop and Claude Code on one project: two real server processes race applies. Every
    apply either lands on the head it was made on or is refused; the history stays linear; the applies
    budget holds across both processes."""
    env = {"CHAOS_LLAMA_BUDGET_APPLIES": "5"}
    (p1, url1), (p2, url2) = _serve(workspace, env=env), _serve(workspace, env=env)
    try:
        async with Client(url1) as a, Client(url2) as b:
            applied = refused = 0
            for round_ in range(6):
                props = [(await c.call_tool("space_propose", {"changes": [{"op": "add_text_instruction",
                                                                          "content": f"Rule {round_}.{k} for revenue."}]})).structured_content
                         for k, c in enumerate((a, b))]
                results = await asyncio.gather(*(c.call_tool("space_apply", {"preview_id": p["preview_id"], "message": f"r{round_}"})
                                                 for c, p in zip((a, b), props)))
                for r in results:
                    if r.is_error:
                        refused += 1
                        assert re.search(r"ApplyConflict|applies", texts(r)), texts(r)
                    else:
                        applied += 1
            hist = (await a.call_tool("space_history", {})).structured_content["versions"]
            status = {l["kind"]: l for l in (await b.call_tool("budget_status", {})).structured_content["lines"]}
    finally:
        for p in (p1, p2):
            p.terminate()
            p.wait(timeout=20)
    assert applied + refused == 12 and 1 <= applied <= 5
    assert [v["revision"] for v in hist] == list(range(1, applied + 2))
    assert all(v["parent_revision"] == v["revision"] - 1 for v in hist[1:])  # linear: each on the one before
    assert status["applies"]["spent"] == applied <= status["applies"]["limit"]


# ---------------------------------------------------------------- bounded outputs and strict inputs
async def test_outputs_are_bounded_and_inputs_strictly_typed(workspace):
    """A 1 MB argument comes back cut short, never whole; booleans and integers are not coerced from strings."""
    huge = "x" * 1_000_000
    async with Client(make_app(workspace)) as c:
        for name, args in (("run_log", {"run_id": huge}), ("space_diff", {"a": huge}),
                           ("space_propose", {"changes": [{"op": "add_text_instruction", "content": huge}], "message": huge})):
            out = await _answer(c, name, args)
            assert len(out) < 60_000, (name, len(out))
        for name, args, field in (("space_get", {"full": "yes"}, "full"), ("eval_failures", {"run_id": "r", "limit": "3"}, "limit"),
                                  ("eval_run", {"split": "train", "repeats": "2"}, "repeats")):
            with pytest.raises(MCPError) as e:
                await c.call_tool(name, args)
            assert e.value.error.data["field"] == field


# ---------------------------------------------------------------- HTTP off loopback
def test_binding_beyond_loopback_needs_a_token(tmp_path):
    proc = subprocess.run([EXE, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(_free_port()),
                           "--workspace", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--auth-token" in proc.stderr and "CHAOS_LLAMA_AUTH_TOKEN" in proc.stderr


async def test_a_token_is_required_on_every_request_and_host_checks_stay_on(tmp_path):
    token = "s3cret-" + "a" * 24
    proc, url = _serve(tmp_path, "--auth-token", token)
    try:
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        assert httpx.post(url, json=body, headers=headers).status_code == 401
        assert httpx.post(url, json=body, headers={**headers, "Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(url, json=body, headers={**headers, "Authorization": f"Bearer {token}",
                                                   "Host": "evil.example:80"}).status_code in (400, 421)
        authed = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with Client(streamable_http_client(url, http_client=authed)) as c:
            assert "budget_status" in {t.name for t in (await c.list_tools()).tools}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_column_edits_work_on_any_real_column_and_previews_belong_to_their_session(tmp_path):
    """The sparse space configures no column: describing one, or giving it synonyms, makes its column config
    (a column the data does not have is refused by name). A preview is applied only by the HTTP session
    that proposed it: to another it is as unknown as a made-up id. (Stateless HTTP has no sessions: there
    the unguessable preview id, returned only to the proposer, is the capability.)"""
    proc, url = _serve(tmp_path)
    try:
        async with Client(url, mode="legacy") as a, Client(url, mode="legacy") as b:
            edits = [{"op": "set_column_description", "table": "main.retail.orders", "column": "ord_dt", "description": "Order date."},
                     {"op": "add_column_synonyms", "table": "main.retail.orders", "column": "stat_cd", "synonyms": ["status"]}]
            prop = (await a.call_tool("space_propose", {"changes": edits})).structured_content
            assert prop["ok"] and prop["preview_id"] and "Order date." in prop["diff"], prop["problems"]
            bad = (await a.call_tool("space_propose", {"changes": [{**edits[0], "column": "ord_dte"}]})).structured_content
            assert not bad["ok"] and "ord_dte" in json.dumps(bad["problems"])
            theirs = await _answer(b, "space_apply", {"preview_id": prop["preview_id"], "message": "m"})
            made_up_id = "p-" + "0123456789abcdef" * 2
            made_up = await _answer(b, "space_apply", {"preview_id": made_up_id, "message": "m"})
            assert _mask(theirs, prop["preview_id"]) == _mask(made_up, made_up_id) and "unknown preview id" in theirs
            assert len(prop["preview_id"]) == 34  # 128 random bits
            ok = (await a.call_tool("space_apply", {"preview_id": prop["preview_id"], "message": "describe ord_dt"})).structured_content
            assert ok["applied"] and ok["version"]["revision"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_tool_definitions_and_default_results_fit_an_assistants_context(workspace):
    """Every tool definition re-enters the context on every turn: tools/list stays under 16 KB. A tool's
    default result stays under 10,000 characters (pages and cursors carry the rest); the text is one
    compact copy of the structured content."""
    async with Client(make_app(workspace)) as c:
        tools = (await c.list_tools()).tools
        listed = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], separators=(",", ":"))
        assert len(listed) <= 16 * 1024 and all(t.output_schema is None for t in tools)
        train = (await c.call_tool("eval_run", {"split": "train"})).structured_content["run_id"]
        for name, args in (("space_get", {}), ("evalset_info", {}), ("eval_run", {"split": "train"}), ("eval_run", {"split": "val"}),
                           ("eval_failures", {"run_id": train}), ("data_schema", {}), ("report", {}), ("space_history", {}),
                           ("judge_pending", {"run_id": train}), ("budget_status", {})):
            r = await c.call_tool(name, args)
            text = r.content[0].text
            assert not r.is_error and len(text) <= 10_000, (name, len(text))
            assert json.loads(text) == r.structured_content  # one compact copy, no indentation
        # a page and its cursor give the rest, never more than asked
        info = (await c.call_tool("evalset_info", {"limit": 10})).structured_content
        seen = [q["id"] for q in info["train_questions"]]
        while info["next_cursor"]:
            info = (await c.call_tool("evalset_info", {"limit": 10, "cursor": info["next_cursor"]})).structured_content
            seen += [q["id"] for q in info["train_questions"]]
        assert len(seen) == len(set(seen)) == info["splits"]["train"]
        space = (await c.call_tool("space_get", {"section": "tables"})).structured_content
        assert space["section"] == "tables" and "identifier" in space["yaml"]
