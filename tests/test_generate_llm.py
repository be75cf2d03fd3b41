"""The llm strategy, replayed: recorded chat-completions responses keyed by the request's question
(httpx.MockTransport, never a live model). Asserts on the recorded request bodies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from chaos_llama import prompts
from chaos_llama.tools.backends.local import LocalGenie
from chaos_llama.tools.errors import BackendError, InvalidConfig
from chaos_llama.tools.generate.llm import parse_reply
from engine_helpers import PRODUCTS, SALES, SALES_PRODUCTS, rows, shop_db, space, sparse_doc, with_column, with_instruction

REPLIES = json.loads((Path(__file__).parent / "fixtures" / "engine_llm_replies.json").read_text())


class Replay:
    """A MockTransport handler: answers from REPLIES by the question in the prompt; keeps requests."""

    def __init__(self, status: int = 200, headers: dict | None = None):
        self.requests: list[dict] = []
        self.status, self.headers = status, headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append({"url": str(request.url), "headers": dict(request.headers), "body": body})
        if self.status != 200:
            return httpx.Response(self.status, headers=self.headers, json={"error": {"message": "slow down"}})
        question = body["messages"][-1]["content"].rsplit("## Question\n", 1)[1].strip()
        return httpx.Response(200, json=REPLIES[question])


def curated_doc() -> dict:
    doc = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue", "turnover"], description=["Net amount in EUR."])
    doc = with_column(doc, SALES, "amt_legacy", exclude=True)
    doc = with_column(doc, PRODUCTS, "cat_nm", enable_entity_matching=True, synonyms=["category"])
    doc = with_instruction(doc, "join_specs", SALES_PRODUCTS)
    doc = with_instruction(doc, "text_instructions", {"content": ["Revenue always means SUM(amt). Round money to 2 decimals."]})
    doc = with_instruction(doc, "measures", {"alias": "units", "display_name": "Units sold", "sql": ["SUM(sales.qty)"]})
    doc = with_instruction(doc, "example_question_sqls", {
        "question": ["Revenue for a category"],
        "sql": ["SELECT SUM(s.amt) FROM main.shop.sales s JOIN main.shop.products p ON s.prod_id = p.prod_id ",
                "WHERE p.cat_nm = :category"],
        "parameters": [{"name": "category", "type_hint": "STRING", "default_value": {"values": ["Toys"]}}]})
    return doc


def genie(replay: Replay, **cfg) -> LocalGenie:
    config = {"base_url": "https://llm.example/v1", "model": "gpt-4o-mini", "api_key_env": "CHAOS_TEST_KEY", **cfg}
    return LocalGenie(shop_db(), strategy="llm", llm=config, transport=httpx.MockTransport(replay))


def test_prompt_carries_all_metadata_and_answer_executes(monkeypatch):
    """The prompt has instructions, synonyms, descriptions, entity values, joins, snippets and
    examples; excluded columns are hidden; temperature 0; the SQL in the reply is executed."""
    monkeypatch.setenv("CHAOS_TEST_KEY", "sk-test")
    replay = Replay()
    g = genie(replay)
    answer = asyncio.run(g.ask(space(curated_doc()), "What is the total revenue for toys?"))
    assert answer.status == "COMPLETED" and rows(answer.result) == [(15.0,)]
    req = replay.requests[0]
    assert req["url"] == "https://llm.example/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
    prompt = body["messages"][-1]["content"]
    for expected in ["Revenue always means SUM(amt)", "Synonyms: revenue, turnover", "Net amount in EUR.",
                     "'Gadgets'", "main.shop.sales JOIN main.shop.products ON", "Units sold", "SUM(sales.qty)",
                     "Revenue for a category", "WHERE p.cat_nm = :category", "Parameter :category (STRING)",
                     "main.shop.customers", "What is the total revenue for toys?"]:
        assert expected in prompt, expected
    assert "amt_legacy" not in prompt
    assert answer.details["usage"] == {"prompt_tokens": 812, "completion_tokens": 41, "total_tokens": 853}
    assert answer.details["explanation"] == "Sum of amt for the Toys category."


def test_fenced_sql_reply():
    answer = genie(Replay()).ask_sync(space(sparse_doc()), "How many sales were there?")
    assert answer.status == "COMPLETED" and rows(answer.result) == [(8,)]


def test_model_declines_is_no_sql_with_its_reason():
    answer = genie(Replay()).ask_sync(space(sparse_doc()), "What is the weather in Paris?")
    assert answer.status == "NO_SQL" and answer.reason == "The tables hold no weather data."
    assert answer.details["usage"]["total_tokens"] == 809


def test_reply_without_sql_is_no_sql():
    answer = genie(Replay()).ask_sync(space(sparse_doc()), "Tell me a joke")
    assert answer.status == "NO_SQL" and "contains no SQL" in answer.reason


def test_bad_sql_is_failed_with_error():
    answer = genie(Replay()).ask_sync(space(sparse_doc()), "Which column is broken?")
    assert answer.status == "FAILED" and "no_such_column" in answer.error and answer.sql


def test_write_sql_is_never_executed():
    g = genie(Replay())
    answer = g.ask_sync(space(sparse_doc()), "Delete everything")
    assert answer.status == "FAILED" and answer.error
    assert g.execute("SELECT COUNT(*) FROM main.shop.sales", space=space(sparse_doc())).column(0)[0].as_py() == 8


def test_malformed_body_is_error_answer():
    answer = genie(Replay()).ask_sync(space(sparse_doc()), "Garbled body please")
    assert answer.status == "ERROR" and "unexpected body" in answer.reason


def test_rate_limit_is_retryable_backend_error():
    replay = Replay(status=429, headers={"retry-after": "2"})
    with pytest.raises(BackendError) as info:
        genie(replay).ask_sync(space(sparse_doc()), "How many sales were there?")
    assert info.value.retryable and info.value.retry_after == 2.0


def test_identity_names_model_and_prompt():
    ident = genie(Replay()).identity()
    assert "llm-1(gpt-4o-mini@https://llm.example/v1" in ident and "prompt=" in ident


@pytest.mark.parametrize("reply, sql", [
    ('```json\n{"sql": "SELECT 1"}\n```', "SELECT 1"),
    ("SELECT 2;", "SELECT 2"),
    ('{"sql": ""}', None),
    ("I cannot help.", None),
])
def test_parse_reply(reply, sql):
    assert parse_reply(reply)[0] == sql


def test_prompt_template_declares_its_fields():
    t = prompts.load("sql_generation")
    assert set(t.fields) == {"schema", "joins", "snippets", "functions", "instructions", "examples", "question"}
    with pytest.raises(InvalidConfig, match="needs field"):
        t.render(question="x")
    with pytest.raises(InvalidConfig, match="no prompt named"):
        prompts.load("sql_generaton")
