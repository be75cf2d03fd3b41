"""The reflective LLM proposer: a chat model (`tools/chat.py`: any OpenAI-compatible endpoint, or a
Databricks serving endpoint) reads the failure analyses, the current metadata and the history of
tried change sets with their val effect (GEPA / Self-Refine style) and answers a JSON change set.

The prompt is `prompts/propose_changes.md`. Tests replay recorded answers through
`httpx.MockTransport`, or serve them from the emulator's serving endpoint.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .... import prompts
from ...chat import Chat, ChatModel, json_objects
from ...errors import InvalidSpace
from ...space.changes import EDIT_TYPES, ChangeSet
from ...space.io import space_to_yaml
from ...space.model import Space
from ...space.validate import LIMITS
from ..model import Failure, TriedChange
from . import MAX_ENTITY_MATCHING_COLUMNS
from .levers import ungrounded

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
                      f"Generated: {f.generated_sql or '(none)'}\nAnalysis: {f.analysis or f.status}: {f.rationale or ''}"
                      + _grounding(f))
    more = len(failures) - MAX_FAILURES
    return "\n\n".join(blocks) + (f"\n\n({more} more not shown)" if more > 0 else "") if blocks else "(none)"


def _grounding(f: Failure) -> str:
    """The grounding trace's gist: which words matched nothing, which lever was missing, what did ground."""
    lines = []
    words = ungrounded(f)
    if words:
        lines.append("Ungrounded words: " + ", ".join(words))
    missing = ((f.details or {}).get("trace") or {}).get("missing") or []
    if missing:
        lines.append("Missing: " + "; ".join(f"{m.get('words') or '-'} ({m.get('kind')}{', ' + m['why'] if m.get('why') else ''})"
                                             for m in missing))
    lines += [f"Grounding: {g}" for g in (f.details or {}).get("grounding") or []][:3]
    return "".join("\n" + x for x in lines)


def _history(history: list[TriedChange]) -> str:
    if not history:
        return "(nothing tried yet)"
    return "\n".join(f"- epoch {h.epoch}: {'KEPT' if h.accepted else 'REVERTED'} — {h.message or '(no message)'}; "
                     f"val {h.val_fixed} fixed / {h.val_broken} broken (Δ {h.val_delta:+.1%}); {h.reason}; "
                     f"edits: {json.dumps(h.changes)[:600]}" for h in history)


class LLMProposer:
    """`propose(space, failures, *, budget, history) -> ChangeSet` from a chat model."""

    name = NAME

    def __init__(self, config: ChatModel | dict | str | None = None, *, client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None, **_: Any):
        self.chat = Chat(config, client=client, transport=transport)
        self.config = self.chat.model

    @property
    def usage(self) -> dict[str, int]:
        """Tokens spent so far (prompt, completion, total)."""
        return dict(self.chat.usage)

    def prompt(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> str:
        limits = (f"- at most {LIMITS['tables']} tables; at most {LIMITS['instructions']} instructions (each example SQL and "
                  f"SQL function counts one, all text instructions together one); at most "
                  f"{MAX_ENTITY_MATCHING_COLUMNS} columns with entity matching; a join spec's condition is equalities between its two tables "
                  f"(several joined by AND for a compound key)")
        return prompts.load("propose_changes").render(
            limits=limits, metadata=space_to_yaml(space), failures=_failures(failures), history=_history(history),
            budget=budget, ops=_ops())

    def propose(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> ChangeSet:
        completion = self.chat.complete([
            {"role": "system", "content": "You improve Genie space metadata. Reply with one JSON object."},
            {"role": "user", "content": self.prompt(space, failures, budget=budget, history=history)}])
        content = completion.text
        doc = next(iter(json_objects(content)), None)
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


__all__ = ["LLMProposer"]
