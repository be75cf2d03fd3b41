"""Databricks model serving as the LLM: one chat client (`tools/chat.py`) used by the llm strategy,
the llm proposer and the LLM judges, reaching a serving endpoint through the workspace's
OpenAI-compatible path with databricks-sdk's unified auth (no other key). The serving endpoint is
the Genie emulator's, answering deterministic replies; no test calls a live model."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from chaos_llama.tools.backends.local import LocalGenie
from chaos_llama.tools.chat import Chat, ChatModel
from chaos_llama.tools.cli import main
from chaos_llama.tools.errors import BackendError, InvalidConfig
from chaos_llama.tools.evaluate import bundled_example, evaluate
from chaos_llama.tools.optimize.model import Failure
from chaos_llama.tools.optimize.proposers import get_proposer
from chaos_llama.tools.runner import RunSettings, run_eval
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, emulator, retail_example


@pytest.fixture(scope="module")
def retail():
    return retail_example()


@pytest.fixture
def workspace_auth(monkeypatch):
    """Unified auth from the environment, as a Databricks user has it; the host is set per test."""
    for var in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)

    def at(emu) -> None:
        monkeypatch.setenv("DATABRICKS_HOST", emu.url)

    return at


def _question(messages: list[dict]) -> str:
    return messages[-1]["content"].rsplit("## Question\n", 1)[1].strip()


def test_model_names_and_settings():
    m = ChatModel.of("databricks:my-llama")
    assert (m.provider, m.model) == ("databricks", "my-llama") and m.label() == "databricks:my-llama@default workspace"
    assert ChatModel.of({"model": "databricks:ep", "profile": "prod"}).label() == "databricks:ep@profile prod"
    assert ChatModel.of("gpt-4o-mini").provider == "openai"
    assert Chat({"model": "m", "base_url": "http://x/v1/"}).identity() == "openai:m@http://x/v1,t=0.0"  # judge caches stay valid
    with pytest.raises(InvalidConfig, match="provider"):
        ChatModel.of({"provider": "bedrock", "model": "m"})
    with pytest.raises(InvalidConfig, match="base_ur"):
        ChatModel.of({"model": "m", "base_ur": "http://x"})


def test_a_serving_endpoint_answers_with_the_workspace_token(retail, workspace_auth):
    """The databricks provider posts to <host>/serving-endpoints/chat/completions with the SDK's
    credentials (the emulator checks the Bearer token); usage is added up; an unknown endpoint is a
    clear, non-retryable error."""
    with emulator(retail) as emu:
        workspace_auth(emu)
        emu.add_serving_endpoint("echo", lambda messages: f"you said: {messages[-1]['content']}")
        chat = Chat("databricks:echo")
        out = chat.complete([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])
        assert out.text == "you said: hello" and out.model == "echo"
        assert out.usage["total_tokens"] == chat.usage["total_tokens"] > 0 and emu.stats["serving_calls"] == 1
        with pytest.raises(BackendError, match="'nope' does not exist") as info:
            Chat("databricks:nope").complete([{"role": "user", "content": "hi"}])
        assert not info.value.retryable


def test_transient_failures_are_retried_with_retry_after(retail, workspace_auth):
    slept: list[float] = []
    with emulator(retail, fault_rate=1.0, faults=["429"], fault_routes=["serving_chat"], retry_after_s=3) as emu:
        workspace_auth(emu)
        emu.add_serving_endpoint("echo", lambda messages: "ok")
        chat = Chat({"model": "databricks:echo", "retries": 2}, sleep=slept.append)
        with pytest.raises(BackendError) as info:
            chat.complete([{"role": "user", "content": "hi"}])
        emu.fault_rate = 0.0
        assert chat.complete([{"role": "user", "content": "hi"}]).text == "ok"
    assert info.value.retryable and info.value.retry_after == 3.0 and slept == [3.0, 3.0] and chat.calls == 4


async def test_the_llm_strategy_on_a_serving_endpoint(retail, workspace_auth, tmp_path):
    """The local engine's llm strategy writes SQL with a Databricks serving endpoint: answers execute,
    the execution judge accepts them, and the tokens are recorded per answer."""
    space, evalset, engine = retail
    cases = evalset.model_copy(update={"cases": evalset.cases[:4]})
    gold = {c.question: c.gold_sql[0] for c in cases.cases}
    with emulator(retail) as emu:
        workspace_auth(emu)
        emu.add_serving_endpoint("sql-writer", lambda messages: json.dumps({"sql": gold[_question(messages)]}))
        llm = LocalGenie(engine.con, strategy="llm", llm="databricks:sql-writer")
        assert llm.identity().startswith("local/v1/llm-1(databricks:sql-writer@")
        result = await run_eval(cases, llm, space, RunSettings(judges=["execution"], use_cache=False), store=Store(tmp_path / "chaos.db"))
        calls = emu.stats["serving_calls"]
    assert result.correct == 4 and calls == 4
    stored = Store(tmp_path / "chaos.db").get_results(result.run_id)
    assert all(r.answer["details"]["usage"]["total_tokens"] > 0 and r.answer["details"]["model"] == "sql-writer" for r in stored)


def test_the_llm_proposer_on_a_serving_endpoint(retail, workspace_auth):
    from test_optimize_proposers import RECORDED

    space, evalset, _ = retail
    prompts: list[str] = []

    def reply(messages):
        prompts.append(messages[-1]["content"])
        return "```json\n" + json.dumps(RECORDED) + "\n```"

    with emulator(retail) as emu:
        workspace_auth(emu)
        emu.add_serving_endpoint("proposer", reply)
        prop = get_proposer("llm", config="databricks:proposer")
        c = evalset.split("train")[0]
        cs = prop.propose(space, [Failure(case_id=c.id, question=c.question, gold_sql=c.gold_sql)], budget=10, history=[])
    assert [e.op for e in cs.changes] == ["add_join_spec", "add_column_synonyms"]
    assert c.question in prompts[0] and prop.usage["total_tokens"] > 0


def test_llm_judges_on_a_serving_endpoint(retail, workspace_auth, tmp_path):
    """`judge_model: databricks:<endpoint>`: the LLM judge's verdicts come from the serving endpoint."""
    space, evalset, engine = retail
    cases = evalset.model_copy(update={"cases": evalset.cases[:3]})
    with emulator(retail) as emu:
        workspace_auth(emu)
        emu.add_serving_endpoint("judge", lambda messages: json.dumps({"result": True, "rationale": "answers it"}))
        result = evaluate(space, cases, engine, workspace=tmp_path, judges=["execution", "answers_question"],
                          use_cache=False, judge_model="databricks:judge")
        calls = emu.stats["serving_calls"]
    judged = [r.verdicts["answers_question"] for r in result.rows if r.sql]
    assert judged and calls == len(judged) and all(v.value is True and v.rationale == "answers it" for v in judged)


def test_eval_command_with_a_databricks_judge_model(retail, workspace_auth, tmp_path, capsys):
    with emulator(retail) as emu:
        workspace_auth(emu)
        emu.add_serving_endpoint("judge", lambda messages: json.dumps({"result": False, "rationale": "not quite"}))
        with bundled_example("retail") as ex:
            code = main(["eval", "--space", str(ex.curated_space), "--evalset", str(ex.evalset), "--data", str(ex.data),
                         "--split", "test", "--judges", "execution,answers_question", "--judge-model", "databricks:judge",
                         "--workspace", str(tmp_path), "--json", "--no-cache"])
        calls = emu.stats["serving_calls"]
    out = json.loads(capsys.readouterr().out)
    verdicts = [r["verdicts"]["answers_question"] for r in out["rows"] if r["sql"]]
    assert code == 0 and calls == len(verdicts) > 0 and all(v["value"] is False and v["rationale"] == "not quite" for v in verdicts)


def test_the_openai_compatible_provider_is_unchanged():
    """An OpenAI-compatible endpoint gets the key from the named environment variable, as before."""
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization"), json.loads(request.content)))
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}], "usage": {"total_tokens": 3}})

    import os

    os.environ["CHAOS_TEST_CHAT_KEY"] = "sk-test-key"
    try:
        chat = Chat({"model": "m", "base_url": "https://llm.example/v1", "api_key_env": "CHAOS_TEST_CHAT_KEY", "max_tokens": 7},
                    transport=httpx.MockTransport(handler))
        assert chat.complete([{"role": "user", "content": "x"}]).text == "hi"
    finally:
        del os.environ["CHAOS_TEST_CHAT_KEY"]
    url, auth, body = seen[0]
    assert url == "https://llm.example/v1/chat/completions" and auth == "Bearer sk-test-key"
    assert body == {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.0, "max_tokens": 7}
    assert re.fullmatch(r"openai:m@https://llm\.example/v1,t=0\.0", chat.identity())
