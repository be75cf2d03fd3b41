"""Replayed judge model: recorded chat-completions replies keyed by (judge, question), never a live LLM."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llm_judges"
REPLIES = json.loads((FIXTURES / "replies.json").read_text())

_JUDGE_MARKERS = {
    "answers a business user's question": "answers_question",
    'reference ("gold") query': "semantically_equivalent",
    "followed the instructions": "follows_instructions",
}


def request_key(body: dict) -> str:
    """'judge|question' for a recorded request (the judge is told by its prompt's opening)."""
    prompt = body["messages"][-1]["content"]
    custom = re.match(r'You are the judge "([^"]+)"', prompt)
    judge = custom.group(1) if custom else next(j for marker, j in _JUDGE_MARKERS.items() if marker in prompt.split("\n", 1)[0])
    question = re.search(r"## The case to judge\nQuestion: (.*)\n", prompt).group(1)
    return f"{judge}|{question}"


class Replay:
    """A MockTransport handler answering from REPLIES; keeps every request body it saw."""

    def __init__(self, replies: dict | None = None):
        self.replies = REPLIES if replies is None else replies
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        key = request_key(body)
        if key not in self.replies:
            return httpx.Response(500, json={"error": f"no recorded reply for {key!r}"})
        return httpx.Response(200, json=self.replies[key])

    def prompts(self) -> list[str]:
        return [b["messages"][-1]["content"] for b in self.requests]


def replay_model(replay: Replay):
    from chaos_llama.tools.chat import Chat

    return Chat({"base_url": "https://judge.example/v1", "model": "judge-model", "api_key_env": None, "retries": 0},
                transport=httpx.MockTransport(replay))
