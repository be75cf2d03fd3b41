"""The LLM strategy: a chat model (any OpenAI-compatible endpoint, or a Databricks serving
endpoint; see `tools/chat.py`), prompted with ALL the space's metadata.

The prompt (`prompts/sql_generation.md`) carries tables with column types, descriptions and
synonyms (excluded columns hidden), sample values of entity-matching columns, join specs,
snippets, SQL functions, text instructions and example question/SQL pairs. The reply is parsed
for SQL (a JSON object `{"sql": ...}` or a ```sql fence). Tests inject an `httpx.MockTransport`.
"""

from __future__ import annotations

import hashlib
import re

import httpx

from ... import prompts
from ..chat import Chat, ChatModel, json_objects
from ..errors import InvalidConfig
from ..space.model import Space, text
from .base import Generation, GenerationContext

VERSION = "llm-1"
SAMPLE_VALUES = 20
SYSTEM = "You write Databricks SQL for a Genie space. Reply in the requested JSON format."


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def render_schema(space: Space, ctx: GenerationContext) -> str:
    out = []
    for t in space.serialized.tables:
        desc = text(t.description).strip()
        out.append(f"### {t.identifier}" + (f" -- {desc}" if desc else ""))
        cols = ctx.columns(t.identifier) or [(c.column_name, "") for c in t.column_configs]
        for name, ctype in cols:
            cfg = t.column(name)
            if cfg is not None and cfg.exclude:
                continue  # excluded columns are hidden from the model, as in Genie
            line = f"- {name}" + (f" ({ctype})" if ctype else "")
            if cfg is not None:
                d = text(cfg.description).strip()
                if d:
                    line += f": {d}"
                syn = _as_list(cfg.synonyms)
                if syn:
                    line += f" Synonyms: {', '.join(syn)}."
                if cfg.enable_entity_matching:
                    values = ctx.values(t.identifier, name)[:SAMPLE_VALUES]
                    if values:
                        line += f" Values include: {', '.join(repr(v) for v in values)}."
            out.append(line)
        out.append("")
    return "\n".join(out).strip() or "(no tables)"


def render_joins(space: Space) -> str:
    lines = []
    for j in space.serialized.joins:
        rel = f" ({j.relationship.lower().replace('_', '-')})" if j.relationship else ""
        note = text(j.instruction or j.comment).strip()
        lines.append(f"- {j.left.identifier} JOIN {j.right.identifier} ON {j.condition}{rel}" + (f" -- {note}" if note else ""))
    return "\n".join(lines) or "(none declared)"


def render_snippets(space: Space) -> str:
    lines = []
    for kind in ("measures", "filters", "expressions"):
        for s in space.serialized.snippets(kind):
            name = s.display_name or s.alias or kind[:-1]
            syn = _as_list(s.synonyms)
            extra = text(s.instruction).strip()
            lines.append(f"- {kind[:-1]} \"{name}\": {text(s.sql)}" + (f" (synonyms: {', '.join(syn)})" if syn else "")
                         + (f" -- {extra}" if extra else ""))
    return "\n".join(lines) or "(none)"


def render_functions(space: Space) -> str:
    return "\n".join(f"- {f.identifier}" + (f": {text(f.description)}" if text(f.description) else "")
                     for f in space.serialized.functions) or "(none)"


def render_examples(space: Space) -> str:
    blocks = []
    for e in space.serialized.examples:
        b = f"Question: {text(e.question)}\n"
        if text(e.usage_guidance).strip():
            b += f"When to use: {text(e.usage_guidance).strip()}\n"
        for p in e.parameters or []:
            default = p.default_value.values if p.default_value else []
            b += f"Parameter :{p.name} ({p.type_hint or 'STRING'})" + (f" default {default}" if default else "") \
                 + (f" -- {text(p.description)}" if text(p.description) else "") + "\n"
        b += f"```sql\n{text(e.sql).strip()}\n```"
        blocks.append(b)
    return "\n\n".join(blocks) or "(none)"


def build_prompt(space: Space, question: str, ctx: GenerationContext) -> str:
    """The full prompt for one question."""
    return prompts.load("sql_generation").render(
        schema=render_schema(space, ctx),
        joins=render_joins(space),
        snippets=render_snippets(space),
        functions=render_functions(space),
        instructions=space.serialized.instruction_text.strip() or "(none)",
        examples=render_examples(space),
        question=question,
    )


_FENCE = re.compile(r"```(?:sql|SQL)?\s*\n?(.*?)```", re.S)


def parse_reply(content: str) -> tuple[str | None, str | None]:
    """(sql, explanation) from a model reply: a JSON object, a ```sql fence, or bare SQL.

    >>> parse_reply('{"sql": "SELECT 1", "explanation": "one"}')
    ('SELECT 1', 'one')
    >>> parse_reply("Here:\\n```sql\\nSELECT 2\\n```")
    ('SELECT 2', None)
    """
    content = (content or "").strip()
    for obj in json_objects(content):
        if "sql" in obj:
            sql = obj.get("sql")
            expl = obj.get("explanation") or obj.get("reason")
            return ((sql.strip() or None) if isinstance(sql, str) else None), (str(expl) if expl else None)
    m = _FENCE.search(content)
    if m and m.group(1).strip():
        return m.group(1).strip(), None
    if re.match(r"(?is)^\s*(select|with)\b", content):
        return content.rstrip(";").strip(), None
    return None, None


class LLMGenerator:
    """SQL from a chat model; `client` (or `transport`) is injectable for tests."""

    name = "llm"

    def __init__(self, config: ChatModel | dict | str | None = None, *, client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None):
        # Retries have one owner: a 429 goes back to the runner, which retries the question and counts it.
        self.chat = Chat(config, client=client, transport=transport, retries=0)
        self.config = self.chat.model

    def identity(self) -> str:
        prompt = prompts.load("sql_generation").body
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        return f"{VERSION}({self.config.label()},t={self.config.temperature},prompt={digest})"

    def generate(self, space: Space, question: str, ctx: GenerationContext) -> Generation:
        if not self.config.model:
            raise InvalidConfig("llm strategy needs a model name", field="model")
        completion = self.chat.complete([{"role": "system", "content": SYSTEM},
                                         {"role": "user", "content": build_prompt(space, question, ctx)}])
        details = {"strategy": self.name, "model": completion.model, "usage": completion.usage}
        sql, explanation = parse_reply(completion.text)
        if sql is None:
            reason = explanation or f"the model's reply contains no SQL: {completion.text[:200]!r}"
            return Generation(sql=None, reason=reason, details=details)
        details["explanation"] = explanation
        return Generation(sql=sql, details=details)
