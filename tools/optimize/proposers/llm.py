"""The reflective LLM proposer: an OpenAI-compatible chat endpoint (OpenAI, Databricks model
serving, vLLM, Ollama) reads the failure analyses, the current metadata and the history of tried
change sets with their val effect (GEPA / Self-Refine style) and answers a JSON change set.

It reuses the llm generation strategy's `LLMConfig` and HTTP client; the prompt is
`prompts/propose_changes.md`. Tests replay recorded answers through `httpx.MockTransport`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .... import prompts
from ...errors import BackendError, InvalidSpace
from ...generate.llm import LLMConfig, LLMGenerator
from ...space.changes import EDIT_TYPES, ChangeSet
from ...space.io import space_to_yaml
from ...space.model import Space
from ...space.validate import LIMITS
from ..model import Failure, TriedChange
from . import MAX_ENTITY_MATCHING_COLUMNS

NAME = "llm"
MAX_FAILURES = 25  # failures shown in one prompt; the rest wait for the next epoch


def _ops() -> str:
    lines = []
    for t in EDIT_TYPES:
        fields = [f"{k}{'' if f.is_required() else '?'}" for k, f in t.model_fields.items() if k != "op"]
        lines.append(f"- {t.model_fields['op'].default}: {', '.join(fields)}")
    return "\n".join(lines)


def _failures(failures: list[Failure]) -> str:
    blocks = []
    for f in failures[:MAX_FAILURES]:
        blocks.append(f"### {f.case_id}: {f.question}\nGold SQL ({f.dialect}):\n{f.gold_sql[0]}\n"
                      f"Generated: {f.generated_sql or '(none)'}\nAnalysis: {f.analysis or f.status}: {f.rationale or ''}")
    more = len(failures) - MAX_FAILURES
    return "\n\n".join(blocks) + (f"\n\n({more} more not shown)" if more > 0 else "") if blocks else "(none)"


def _history(history: list[TriedChange]) -> str:
    if not history:
        return "(nothing tried yet)"
    return "\n".join(f"- epoch {h.epoch}: {'KEPT' if h.accepted else 'REVERTED'} — {h.message or '(no message)'}; "
                     f"val {h.val_fixed} fixed / {h.val_broken} broken (Δ {h.val_delta:+.1%}); {h.reason}; "
                     f"edits: {json.dumps(h.changes)[:600]}" for h in history)


class LLMProposer:
    """`propose(space, failures, *, budget, history) -> ChangeSet` from a chat model."""

    name = NAME

    def __init__(self, config: LLMConfig | dict | None = None, *, client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None, **_: Any):
        # The generation strategy's client: same config, auth from the env var, injectable transport.
        self._llm = LLMGenerator(config, client=client, transport=transport)
        self.config = self._llm.config
        self.usage: dict[str, int] = {}

    def prompt(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> str:
        limits = (f"- at most {LIMITS['tables']} tables; at most {LIMITS['instructions']} instructions (each example SQL and "
                  f"SQL function counts one, all text instructions together one); at most "
                  f"{MAX_ENTITY_MATCHING_COLUMNS} columns with entity matching; join specs are one equality each")
        return prompts.load("propose_changes").render(
            limits=limits, metadata=space_to_yaml(space), failures=_failures(failures), history=_history(history),
            budget=budget, ops=_ops())

    def propose(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> ChangeSet:
        body = self._llm.request_body(self.prompt(space, failures, budget=budget, history=history))
        body["messages"][0]["content"] = "You improve Genie space metadata. Reply with one JSON object."
        try:
            resp = self._llm.client().post("chat/completions", json=body)
        except httpx.HTTPError as e:
            raise BackendError(f"LLM proposer call to {self.config.base_url} failed: {e}", retryable=True) from e
        if resp.status_code >= 400:
            raise BackendError(f"LLM proposer endpoint answered HTTP {resp.status_code}: {resp.text[:200]}",
                               retryable=resp.status_code == 429 or resp.status_code >= 500)
        try:
            payload = resp.json()
            content = payload["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise BackendError(f"LLM proposer endpoint returned an unexpected body: {resp.text[:200]!r}") from e
        for k, v in (payload.get("usage") or {}).items():
            if isinstance(v, int):
                self.usage[k] = self.usage.get(k, 0) + v
        doc = _json_object(content)
        if doc is None:
            return ChangeSet(message="")  # nothing usable: the loop stops as "nothing to propose"
        try:
            changes = ChangeSet.parse(doc)
        except InvalidSpace:
            # keep the edits that parse: one malformed edit should not waste the others
            good = []
            for c in doc.get("changes") or []:
                try:
                    good.append(ChangeSet.parse({"changes": [c]}).changes[0])
                except InvalidSpace:
                    continue
            changes = ChangeSet(changes=good, message=str(doc.get("message") or ""))
        return ChangeSet(changes=changes.changes[:budget], message=changes.message or "llm proposal")


def _json_object(content: str) -> dict[str, Any] | None:
    content = (content or "").strip()
    candidates = [content]
    if "```" in content:
        inner = content.split("```", 2)[1]
        candidates.insert(0, inner.removeprefix("json").strip())
    start, end = content.find("{"), content.rfind("}")
    if start >= 0 and end > start:
        candidates.append(content[start : end + 1])
    for c in candidates:
        try:
            obj = json.loads(c)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


__all__ = ["LLMProposer"]
