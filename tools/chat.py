"""One chat-completions client for every LLM use: the `llm` SQL strategy, the `llm` proposer and the
LLM judges.

Two providers behind one call, `Chat(model).complete(messages)`:

- ``openai``: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, ...): `base_url`, `model`, and
  the API key read from the environment variable named `api_key_env`;
- ``databricks``: a Databricks model serving endpoint through the workspace's OpenAI-compatible
  path (``<host>/serving-endpoints/chat/completions``, `model` = the endpoint's name), with the host
  and credentials of databricks-sdk's unified auth (`profile`, `host`, ``DATABRICKS_*`` variables,
  OAuth), so a Databricks user needs no other key.

A model is named by a `ChatModel` (settings) or a string: ``"databricks:<endpoint>"`` or a plain
model name for the OpenAI-compatible endpoint::

    >>> ChatModel.of("databricks:my-llama").provider
    'databricks'

Transient failures (HTTP 429/5xx, timeouts, dropped connections) are retried `retries` times with
backoff (or the server's Retry-After), then raised as a retryable `BackendError`; token usage is
added up in `Chat.usage`. Tests inject an httpx transport answering recorded replies (or point the
``databricks`` provider at the project's emulator); no test calls a live model.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BackendError, InvalidConfig

PROVIDERS = ("openai", "databricks")
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


class ChatModel(BaseModel):
    """Where and how to call a chat model."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["openai", "databricks"] = "openai"
    model: str = Field("gpt-4o-mini", min_length=1, description="the model, or the Databricks serving endpoint's name")
    base_url: str | None = Field(None, description=f"openai: the endpoint (default {DEFAULT_BASE_URL}); databricks: "
                                                   "override of <host>/serving-endpoints")
    api_key_env: str | None = Field("OPENAI_API_KEY", description="openai: environment variable holding the API key")
    host: str | None = Field(None, description="databricks: workspace URL (default: unified auth)")
    profile: str | None = Field(None, description="databricks: ~/.databrickscfg profile (default: unified auth)")
    timeout: float = Field(60.0, gt=0)
    temperature: float = 0.0
    max_tokens: int | None = 1024
    retries: int = Field(2, ge=0, description="extra tries on HTTP 429/5xx, timeouts and dropped connections")

    @classmethod
    def of(cls, value: ChatModel | dict[str, Any] | str | None) -> ChatModel:
        """A ChatModel from settings, a dict, ``"databricks:<endpoint>"`` or a model name."""
        if isinstance(value, ChatModel):
            return value
        if value is None:
            return cls()
        if isinstance(value, str):
            value = {"model": value}
        if not isinstance(value, dict):
            raise InvalidConfig(f"a chat model is a name or a mapping (provider, model, ...), got {value!r}", field="model")
        data = dict(value)
        model = data.get("model")
        if isinstance(model, str) and model.startswith("databricks:"):
            data["model"], data["provider"] = model.removeprefix("databricks:"), data.get("provider", "databricks")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or "model"
            raise InvalidConfig(f"{err['msg']} (got {err.get('input')!r})", field=field) from None

    def label(self) -> str:
        """How the model is named in identities and messages (no secret in it)."""
        if self.provider == "databricks":
            where = self.base_url or self.host or (f"profile {self.profile}" if self.profile else "default workspace")
            return f"databricks:{self.model}@{where.rstrip('/')}"
        return f"{self.model}@{(self.base_url or DEFAULT_BASE_URL).rstrip('/')}"


class Completion(BaseModel):
    text: str
    model: str
    usage: dict[str, int] = Field(default_factory=dict)


class Chat:
    """Calls a `ChatModel`; `transport`/`client` are injectable (recorded replies in tests)."""

    def __init__(self, model: ChatModel | dict[str, Any] | str | None = None, *, transport: httpx.BaseTransport | None = None,
                 client: httpx.Client | None = None, retries: int | None = None,
                 sleep: Callable[[float], Any] = time.sleep, seed: int | None = None):
        self.model = ChatModel.of(model)
        self.retries = self.model.retries if retries is None else retries
        self._transport, self._client = transport, client
        self._sleep, self._rng = sleep, random.Random(seed)
        self.usage: Counter[str] = Counter()
        self.calls = 0

    def identity(self) -> str:
        """A stable name of the model and its sampling settings (a cache key part)."""
        m = self.model
        if m.provider == "openai":  # unchanged format: earlier cached judgments stay valid
            return f"openai:{m.model}@{(m.base_url or DEFAULT_BASE_URL).rstrip('/')},t={m.temperature}"
        return f"{m.label()},t={m.temperature}"

    # ------------------------------------------------------------ HTTP
    def http(self) -> httpx.Client:
        if self._client is None:
            m = self.model
            headers: dict[str, str] = {}
            auth = None
            if m.provider == "databricks":
                cfg = _databricks_config(m)
                base = m.base_url or f"{cfg.host.rstrip('/')}/serving-endpoints"
                auth = _SdkAuth(cfg)
            else:
                base = m.base_url or DEFAULT_BASE_URL
                key = os.environ.get(m.api_key_env) if m.api_key_env else None
                if key:
                    headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.Client(base_url=base.rstrip("/") + "/", headers=headers, auth=auth, timeout=m.timeout,
                                        transport=self._transport)
        return self._client

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                 temperature: float | None = None) -> Completion:
        """The model's reply to `messages` (OpenAI chat format), retried on transient failures.

        Raises BackendError: retryable (with `retry_after` when the server sent one) once the
        retries are spent on 429/5xx/timeouts; not retryable for other 4xx or a malformed body.
        """
        m = self.model
        body: dict[str, Any] = {"model": m.model, "messages": messages,
                                "temperature": m.temperature if temperature is None else temperature}
        tokens = max_tokens if max_tokens is not None else m.max_tokens
        if tokens:
            body["max_tokens"] = tokens
        where = m.label()
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                return self._once(body, where)
            except BackendError as e:
                if not e.retryable or attempt > self.retries:
                    raise
                delay = e.retry_after if e.retry_after is not None else 0.5 * 2 ** (attempt - 1) * (0.5 + self._rng.random())
                self._sleep(min(delay, 60.0))

    def _once(self, body: dict[str, Any], where: str) -> Completion:
        try:
            resp = self.http().post("chat/completions", json=body)
        except httpx.TimeoutException as e:
            raise BackendError(f"chat model {where} timed out: {e}", retryable=True) from None
        except httpx.HTTPError as e:
            raise BackendError(f"chat model {where} failed: {type(e).__name__}: {e}", retryable=True) from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise BackendError(f"chat model {where} answered HTTP {resp.status_code}: {resp.text[:200]}", retryable=True,
                               retry_after=_retry_after(resp.headers.get("retry-after")))
        if resp.status_code >= 400:
            raise BackendError(f"chat model {where} answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            payload = resp.json()
            content = payload["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise BackendError(f"chat model {where} returned an unexpected body ({type(e).__name__}): {resp.text[:200]!r}") from None
        usage = {k: int(v) for k, v in (payload.get("usage") or {}).items() if k in USAGE_KEYS and isinstance(v, int)}
        self.usage.update(usage)
        text = content if isinstance(content, str) else json.dumps(content)
        return Completion(text=text, model=payload.get("model") or self.model.model, usage=usage)


class _SdkAuth(httpx.Auth):
    """databricks-sdk's credentials on every request (it refreshes OAuth tokens itself)."""

    def __init__(self, config: Any):
        self.config = config

    def auth_flow(self, request: httpx.Request):
        request.headers.update(self.config.authenticate())
        yield request


def _databricks_config(m: ChatModel) -> Any:
    from .backends.databricks import sdk_config

    return sdk_config(host=m.host, profile=m.profile, http_timeout_s=m.timeout)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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


__all__ = ["PROVIDERS", "Chat", "ChatModel", "Completion", "json_objects"]
