"""The LLM strategy: any OpenAI-compatible chat-completions endpoint, prompted with ALL the space's metadata.

The prompt (`prompts/sql_generation.md`) carries tables with column types, descriptions and
synonyms (excluded columns hidden), sample values of entity-matching columns, join specs,
snippets, SQL functions, text instructions and example question/SQL pairs. The reply is parsed
for SQL (a JSON object `{"sql": ...}` or a ```sql fence). Tests inject an `httpx.MockTransport`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import httpx
from pydantic import BaseModel

from ... import prompts
from ..errors import BackendError, InvalidConfig
from ..space.model import Space, text
from .base import Generation, GenerationContext

VERSION = "llm-1"
SAMPLE_VALUES = 20


class LLMConfig(BaseModel):
    """Where and how to call the model. The API key is read from the env var named `api_key_env`."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout: float = 60.0
    temperature: float = 0.0
    max_tokens: int | None = 1024


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


def json_objects(text: str) -> list[dict]:
    """The JSON objects a model reply may hold, most likely first: a ```json fence, the whole
    reply, the outermost {...} inside prose."""
    content = (text or "").strip()
    candidates = [content]
    m = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", content, re.S)
    if m:
        candidates.insert(0, m.group(1))
    brace = re.search(r"\{.*\}", content, re.S)
    if brace:
        candidates.append(brace.group(0))
    out = []
    for c in candidates:
        try:
            obj = json.loads(c)
        except (json.JSONDecodeError, TypeError):
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


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
    """SQL from an OpenAI-compatible chat model; `client` (or `transport`) is injectable for tests."""

    name = "llm"

    def __init__(self, config: LLMConfig | dict | None = None, *, client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.config = config if isinstance(config, LLMConfig) else LLMConfig.model_validate(config or {})
        self._client = client
        self._transport = transport

    def identity(self) -> str:
        prompt = prompts.load("sql_generation").body
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        return f"{VERSION}({self.config.model}@{self.config.base_url},t={self.config.temperature},prompt={digest})"

    def client(self) -> httpx.Client:
        if self._client is None:
            headers = {}
            if self.config.api_key_env:
                key = os.environ.get(self.config.api_key_env)
                if key:
                    headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.Client(base_url=self.config.base_url.rstrip("/") + "/", headers=headers,
                                        timeout=self.config.timeout, transport=self._transport)
        return self._client

    def request_body(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "temperature": self.config.temperature,
            "messages": [
                {"role": "system", "content": "You write Databricks SQL for a Genie space. Reply in the requested JSON format."},
                {"role": "user", "content": prompt},
            ],
        }
        if self.config.max_tokens:
            body["max_tokens"] = self.config.max_tokens
        return body

    def generate(self, space: Space, question: str, ctx: GenerationContext) -> Generation:
        if not self.config.model:
            raise InvalidConfig("llm strategy needs a model name", field="model")
        body = self.request_body(build_prompt(space, question, ctx))
        try:
            resp = self.client().post("chat/completions", json=body)
        except httpx.TimeoutException as e:
            raise BackendError(f"LLM call to {self.config.base_url} timed out: {e}", retryable=True) from e
        except httpx.HTTPError as e:
            raise BackendError(f"LLM call to {self.config.base_url} failed: {e}", retryable=True) from e
        if resp.status_code == 429 or resp.status_code >= 500:
            retry_after = resp.headers.get("retry-after")
            raise BackendError(f"LLM endpoint answered HTTP {resp.status_code}: {resp.text[:200]}", retryable=True,
                               retry_after=float(retry_after) if retry_after and retry_after.replace(".", "").isdigit() else None)
        if resp.status_code >= 400:
            raise BackendError(f"LLM endpoint answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            payload = resp.json()
            content = payload["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise BackendError(f"LLM endpoint returned an unexpected body ({type(e).__name__}): {resp.text[:200]!r}") from e
        usage = payload.get("usage") or {}
        details = {"strategy": self.name, "model": payload.get("model", self.config.model),
                   "usage": {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens") if k in usage}}
        sql, explanation = parse_reply(content if isinstance(content, str) else "")
        if sql is None:
            reason = explanation or f"the model's reply contains no SQL: {str(content)[:200]!r}"
            return Generation(sql=None, reason=reason, details=details)
        details["explanation"] = explanation
        return Generation(sql=sql, details=details)
