"""A real Genie space as a backend, through the official databricks-sdk.

`DatabricksGenie` asks each question in a new conversation (no cross-question context), polls
the message with backoff up to a per-question deadline, and reads the query attachment and its
result. Gold SQL runs on the space's SQL warehouse through the Statement Execution API. The space
itself is pulled and pushed with its etag, so a concurrent edit is refused rather than overwritten.

Retries have one owner. The SDK would silently retry 429/503 and dropped connections for up to
`retry_timeout_seconds` (blocking a thread, invisible to budgets); we give its Config a clock
whose `sleep` stops that retry, surface the error as `BackendError(retryable=..., retry_after=...)`
and let the caller decide: polls (idempotent GETs) are retried here until the question's
deadline; a failed *question start* goes back to the runner, which retries it and counts it.

Timing: a question waits for its turn (settle time after a push, the per-minute start spacing,
any Retry-After in force) *before* its start goes out; its deadline and its recorded latency
count only Genie's answering, from the accepted start to a terminal status (`answer_deadline_s`
tells the runner so, `question_accepted` marks the moment).

databricks-sdk is imported lazily: nothing here loads it until a client is needed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field

from ..errors import (
    ApplyConflict,
    BackendError,
    ChaosLlamaError,
    InvalidConfig,
    SpaceNotFound,
    SQLExecutionError,
)
from ..evalset import EvalSet, evalset_from_benchmarks
from ..results import Answer
from ..space.io import normalize, space_from_geniespace_json, space_hash
from ..space.model import BenchmarkAnswer, BenchmarkQuestion, Benchmarks, Space, text
from ..space.validate import ensure_valid
from ..sql import check_read_only
from .base import Backend, question_accepted

log = logging.getLogger(__name__)

# Genie's documented throughput: 5 questions/minute/workspace on the API free tier (20 in the UI).
DEFAULT_RATE_PER_MINUTE = 5
DEFAULT_SETTLE_S = 30.0  # a space takes tens of seconds to settle after an update
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED")
# Every non-terminal message status of the Genie API, in the order a message goes through them.
IN_PROGRESS = ("SUBMITTED", "FETCHING_METADATA", "FILTERING_CONTEXT", "ASKING_AI", "PENDING_WAREHOUSE", "EXECUTING_QUERY")
NATIVE_DONE = ("DONE", "EVALUATION_FAILED", "EVALUATION_TIMEOUT", "EVALUATION_CANCELLED")
# FAILED messages whose error type says Genie itself was overloaded or timed out: asking again
# may succeed, so they are retried with backoff like HTTP 429/503 instead of scored as wrong.
RATE_LIMIT_ERROR_TYPES = ("RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION", "RATE_LIMIT_EXCEEDED_SPECIFIED_WAIT_EXCEPTION")
RETRYABLE_ERROR_TYPES = RATE_LIMIT_ERROR_TYPES + (
    "RETRYABLE_PROCESSING_EXCEPTION",
    "CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION",
    "CHAT_COMPLETION_NETWORK_EXCEPTION",
    "GENERIC_CHAT_COMPLETION_SERVICE_EXCEPTION",
    "COULD_NOT_GET_MODEL_DEPLOYMENTS_EXCEPTION",
    "REPLY_PROCESS_TIMEOUT_EXCEPTION",
    "DESCRIBE_QUERY_TIMEOUT",
    "INTERNAL_CATALOG_ASSET_CREATION_ONGOING_EXCEPTION",
)
# How long a connection attempt may take before the host has answered once (then: http_timeout_s).
CONNECT_TIMEOUT_S = 5.0


# ---------------------------------------------------------------- records
class SpaceSnapshot(BaseModel):
    """A space as read from (or written to) Genie, with the etag that guards the next update."""

    space: Space
    etag: str | None = None
    update_time: str | None = None
    version_id: str | None = None  # the local store's copy, when a store is attached


class SpaceSummary(BaseModel):
    space_id: str
    title: str | None = None
    description: str | None = None
    warehouse_id: str | None = None
    parent_path: str | None = None


class NativeEvalRun(BaseModel):
    """A Genie benchmark evaluation run (Genie's own judge)."""

    eval_run_id: str
    status: str | None = None
    num_questions: int | None = None
    num_done: int | None = None
    num_correct: int | None = None
    num_needs_review: int | None = None
    created_timestamp: int | None = None

    @property
    def done(self) -> bool:
        return self.status in NATIVE_DONE


class NativeAssessment(BaseModel):
    """Genie's assessment of one benchmark question: GOOD / BAD / NEEDS_REVIEW and its reason codes."""

    eval_run_id: str
    result_id: str
    benchmark_question_id: str | None = None
    question: str | None = None
    assessment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    manual_assessment: bool | None = None
    generated: list[str] = Field(default_factory=list)  # Genie's responses (SQL or text)
    expected: list[str] = Field(default_factory=list)
    status: str | None = None


# ---------------------------------------------------------------- SDK plumbing
class _StopSDKRetry(Exception):
    """Raised from the SDK's retry sleep: the error it was about to retry is in `__context__`."""


def _no_retry_clock() -> Any:
    from databricks.sdk.clock import RealClock

    class NoRetryClock(RealClock):
        def sleep(self, seconds: float) -> None:
            raise _StopSDKRetry(seconds)

    return NoRetryClock()


def sdk_config(*, host: str | None = None, token: str | None = None, profile: str | None = None,
               retry_timeout_s: float = 30, http_timeout_s: float = 60) -> Any:
    """A databricks-sdk `Config` (unified auth: arguments, DATABRICKS_* variables, a profile, OAuth)
    whose retries are ours: the SDK's silent retries stop at once (`_no_retry_clock`) and a host
    that never answered fails fast (`_reachability_adapter`). `retry_timeout_s` only bounds the
    SDK's start-up host probe. Bad auth settings raise InvalidConfig, the token scrubbed."""
    try:
        from databricks.sdk.core import Config
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise InvalidConfig(f"Databricks needs databricks-sdk ({e}); pip install databricks-sdk") from None
    kwargs: dict[str, Any] = {k: v for k, v in (("host", host), ("token", token), ("profile", profile)) if v}
    kwargs.update(retry_timeout_seconds=max(1, int(retry_timeout_s)), http_timeout_seconds=max(1, int(http_timeout_s)))
    # Newest first: an older SDK without an option keeps its own behaviour for it.
    attempts = ({"clock": _no_retry_clock(), "http_adapter": _reachability_adapter(CONNECT_TIMEOUT_S)}, {"clock": _no_retry_clock()}, {})
    for extra in attempts:
        try:
            return Config(**extra, **kwargs)
        except TypeError:
            continue
        except ValueError as e:
            message = str(e).replace(token, "***") if token else str(e)
            raise InvalidConfig(f"cannot configure Databricks auth: {message}", field="profile" if profile else "host") from None
    raise AssertionError("unreachable: the last attempt passes no optional argument")


class _NoResponse(BackendError):
    """No HTTP response came back (connection dropped, read timed out): the request may have landed."""


class HostUnreachable(Exception):
    """The workspace host cannot be reached at all: its name does not resolve or nothing answers."""


def _reachability_adapter(connect_timeout_s: float) -> Any:
    """A requests transport adapter that fails fast on a host that was never reached.

    Until the host has answered once, a failure to *connect* (the name does not resolve, the
    connection is refused, the connect times out) means a wrong or unreachable host, not a glitch:
    it is raised as `HostUnreachable`, which the SDK does not retry, and remembered for a short
    while, so the SDK's start-up probe and the first call fail in seconds instead of minutes.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    class ReachabilityAdapter(HTTPAdapter):
        def __init__(self) -> None:
            super().__init__(pool_connections=20, pool_maxsize=20, pool_block=True)  # the SDK's own pool settings
            self.reached = False
            self.unreachable: tuple[float, str] | None = None

        def send(self, request: Any, **kwargs: Any) -> Any:
            if self.reached:
                return super().send(request, **kwargs)
            if self.unreachable is not None and time.monotonic() - self.unreachable[0] < 30:
                raise HostUnreachable(self.unreachable[1])
            timeout = kwargs.get("timeout")
            if isinstance(timeout, (int, float)):
                kwargs["timeout"] = (min(connect_timeout_s, timeout), timeout)
            try:
                response = super().send(request, **kwargs)
            except requests.ConnectionError as e:
                reason = e.args[0].reason if e.args and isinstance(e.args[0], MaxRetryError) else None
                if not isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
                    raise
                host = request.url.split("://", 1)[-1].split("/", 1)[0]
                # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first
                why = _connect_failure(reason) if isinstance(reason, NewConnectionError) else "the connection timed out"
                self.unreachable = (time.monotonic(), f"cannot reach the Databricks host {host!r}: {why}")
                raise HostUnreachable(self.unreachable[1]) from None
            self.reached, self.unreachable = True, None
            return response

    return ReachabilityAdapter()


def _connect_failure(reason: BaseException) -> str:
    text = str(reason)
    if "NameResolution" in type(reason).__name__ or "resolve" in text.lower():
        return "the host name does not resolve (check the host / DATABRICKS_HOST)"
    if "refused" in text.lower():
        return "the connection was refused (nothing listens there; check the host and port)"
    return text.split(": ", 1)[-1][:200]


class _RateSpacer:
    """Spaces question starts evenly at `rate_per_minute`; a Retry-After pushes every later start back.

    A start that waited for its turn checks again before going out: a pause set while it slept
    (another question's 429) is waited out too. `clock` and `sleep` are injectable for tests.
    """

    def __init__(self, rate_per_minute: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep):
        self.interval = 60.0 / rate_per_minute if rate_per_minute else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0
        self._locks: dict[int, asyncio.Lock] = {}

    async def acquire(self) -> None:
        if not self.interval and self.next_at <= self.clock():
            return
        lock = self._locks.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
        async with lock:
            while (wait := self.next_at - self.clock()) > 0:
                await self.sleep(wait)
            self.next_at = self.clock() + self.interval

    def pause(self, seconds: float) -> None:
        self.next_at = max(self.next_at, self.clock() + seconds)


# ---------------------------------------------------------------- the backend
class DatabricksGenie(Backend):
    """A Genie space in a Databricks workspace.

    Args:
        space_id: the Genie space to ask and edit.
        profile, host, token: databricks-sdk unified auth (env vars, ~/.databrickscfg profile,
            OAuth, ...); all optional. The token is never logged, stored or put in messages.
        warehouse_id: SQL warehouse for gold SQL (default: the space's own warehouse).
        rate_per_minute: question starts per minute (Genie's API free tier allows 5); None: no limit.
        question_timeout_s: per-question deadline for Genie to answer, from its accepted start to a
            terminal status (not the SDK's 20 minutes); waiting for a turn is never counted.
        poll_initial_s, poll_max_s: message polling backoff (doubles from initial to max).
        settle_s: wait after `update_space` before asking the new version.
        statement_timeout_s: deadline for a gold query on the warehouse.
        max_rows: row limit for gold results fetched with the Statement Execution API.
        retry_timeout_s: the SDK's retry budget for its start-up host probe (its other retries are
            ours; only used when `client` is not given).
        rate_limit_pause_s: how long every start waits after Genie answered a message with a
            RATE_LIMIT_EXCEEDED_* error (it carries no Retry-After).
        rerun_expired: re-run a QUERY_RESULT_EXPIRED query (execute-query) instead of recording it.
        client: a ready `WorkspaceClient` (tests, or custom auth); its retry settings are kept.
        store: a `Store` keeping a local copy of every version pulled or pushed.
    """

    name = "databricks"
    remote = True  # answers from the version Genie holds: deploy() pushes ours first

    def __init__(
        self,
        space_id: str,
        *,
        profile: str | None = None,
        host: str | None = None,
        token: str | None = None,
        warehouse_id: str | None = None,
        rate_per_minute: float | None = DEFAULT_RATE_PER_MINUTE,
        question_timeout_s: float = 120,
        poll_initial_s: float = 1,
        poll_max_s: float = 10,
        settle_s: float = DEFAULT_SETTLE_S,
        statement_timeout_s: float = 120,
        max_rows: int | None = 100_000,
        retry_timeout_s: int = 30,
        http_timeout_s: float = 60,
        rerun_expired: bool = True,
        rate_limit_pause_s: float = 10.0,
        client: Any = None,
        store: Any = None,
    ):
        if not space_id or not isinstance(space_id, str):
            raise InvalidConfig(f"space_id must be a Genie space id, got {space_id!r}", field="space_id")
        if question_timeout_s <= 0 or poll_initial_s <= 0 or poll_max_s < poll_initial_s:
            raise InvalidConfig("need question_timeout_s > 0 and 0 < poll_initial_s <= poll_max_s", field="question_timeout_s")
        self.space_id = space_id
        self.profile, self._host = profile, host
        self.__token = token  # name-mangled, kept out of repr and pydantic dumps
        self.warehouse_id = warehouse_id
        self.rate_per_minute = rate_per_minute
        self.question_timeout_s, self.poll_initial_s, self.poll_max_s = question_timeout_s, poll_initial_s, poll_max_s
        self.settle_s, self.statement_timeout_s, self.max_rows = settle_s, statement_timeout_s, max_rows
        self.retry_timeout_s, self.http_timeout_s = retry_timeout_s, http_timeout_s
        self.rerun_expired = rerun_expired
        self.rate_limit_pause_s = rate_limit_pause_s
        self.store = store
        self._client = client
        self._spacer = _RateSpacer(rate_per_minute)
        self._etag: str | None = None
        self._deployed_hash: str | None = None
        self._settled_at = 0.0
        self._conversations: set[str] = set()  # started by this backend (a recovered start is never adopted twice)

    def __repr__(self) -> str:
        return f"DatabricksGenie(space_id={self.space_id!r}, host={self.host!r})"

    # ------------------------------------------------------------ client and errors
    @property
    def client(self) -> Any:
        """The `WorkspaceClient` (created on first use)."""
        if self._client is None:
            from databricks.sdk import WorkspaceClient

            cfg = sdk_config(host=self._host, token=self.__token, profile=self.profile, retry_timeout_s=self.retry_timeout_s,
                             http_timeout_s=self.http_timeout_s)
            self._client = WorkspaceClient(config=cfg)
        return self._client

    @property
    def host(self) -> str | None:
        if self._client is not None:
            return getattr(getattr(self._client, "config", None), "host", None) or self._host
        return self._host

    def _secrets(self) -> list[str]:
        out = [self.__token] if self.__token else []
        cfg = getattr(self._client, "config", None)
        for attr in ("token", "client_secret", "password"):
            value = getattr(cfg, attr, None) if cfg is not None else None
            if isinstance(value, str) and value:
                out.append(value)
        return [s for s in out if len(s) >= 4]

    def _scrub(self, message: str) -> str:
        """Defense in depth: a secret never leaves in a message, even if a server echoes it."""
        for secret in self._secrets():
            message = message.replace(secret, "***")
        return message

    def _error(self, e: BaseException, what: str) -> ChaosLlamaError:
        """An SDK/network exception as a BackendError saying whether a retry may help."""
        if isinstance(e, ChaosLlamaError):
            return e
        if isinstance(e, _StopSDKRetry) and e.__context__ is not None:
            e = e.__context__
        if isinstance(e, HostUnreachable):
            return BackendError(f"{what}: {self._scrub(str(e))}", retryable=False)
        status = _http_status(e)
        retry_after = getattr(e, "retry_after_secs", None)
        kind = type(e).__name__
        if status == 429 or kind in ("TooManyRequests", "ResourceExhausted", "RequestLimitExceeded"):
            retryable = True
        elif status is not None:
            retryable = status >= 500 or status == 408
        else:  # connection refused/reset/dropped, read timeouts
            retryable = _is_network_error(e)
        msg = self._scrub(str(e) or kind)
        cls = _NoResponse if status is None and retryable else BackendError
        return cls(f"{what}: {kind}{f' (HTTP {status})' if status else ''}: {msg}", retryable=retryable,
                   retry_after=float(retry_after) if retry_after is not None else None)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - mapped to our exception tree
            raise self._error(e, what) from None

    async def _acall(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._call, what, fn, *args, **kwargs)

    async def _acall_retrying(self, what: str, deadline: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """An idempotent call, retried on transient errors until `deadline` (monotonic)."""
        delay = self.poll_initial_s
        while True:
            try:
                return await self._acall(what, fn, *args, **kwargs)
            except BackendError as e:
                remaining = deadline - time.monotonic()
                if not e.retryable or remaining <= 0:
                    raise
                wait = e.retry_after if e.retry_after is not None else delay
                if e.retry_after is not None:
                    self._spacer.pause(e.retry_after)
                await asyncio.sleep(min(wait, remaining))
                delay = min(delay * 2, self.poll_max_s)

    # ------------------------------------------------------------ Backend protocol
    def identity(self) -> str:
        return f"databricks/genie/{_host_label(self.host)}/{self.space_id}"

    def data_identity(self) -> str:
        return f"databricks/warehouse/{_host_label(self.host)}/{self.warehouse_id or self.space_id}"

    @property
    def answer_deadline_s(self) -> float:
        """The longest `ask` takes once Genie accepted the question: the deadline plus one HTTP
        call running over it (the runner's safety net counts from the acceptance)."""
        return self.question_timeout_s + 2 * self.http_timeout_s

    async def ask(self, space: Space, question: str) -> Answer:
        """Ask `question` in a new conversation and wait (to the deadline) for Genie's answer.

        Waits for its turn first (settle time, start spacing, any Retry-After), then the deadline
        and the latency count from the accepted start. Raises BackendError only when the question
        could not be *started* (a retry does not ask twice), or when Genie failed it with an error
        type a new try may fix (`RETRYABLE_ERROR_TYPES`); everything else becomes the Answer's status.
        """
        self._check_space(space)
        await self.wait_settled()
        await self._spacer.acquire()
        genie = self.client.genie
        t0, sent_at = time.perf_counter(), time.time()
        try:
            waiter = await self._acall("start conversation", genie.start_conversation, space_id=self.space_id, content=question)
            conv, mid = waiter.response.conversation_id, waiter.response.message_id
        except BackendError as e:
            if e.retry_after is not None:
                self._spacer.pause(e.retry_after)
            found = await self._recover_start(question, sent_at) if isinstance(e, _NoResponse) else None
            if found is None:
                raise
            conv, mid = found
        self._conversations.add(conv)
        question_accepted()
        deadline = time.monotonic() + self.question_timeout_s
        details: dict[str, Any] = {"conversation_id": conv, "message_id": mid}

        def answer(status: str, **kw: Any) -> Answer:
            return Answer(status=status, backend=self.name, latency_s=time.perf_counter() - t0, details=details, **kw)

        delay, status, msg, seen = self.poll_initial_s, None, None, []
        while True:
            try:
                msg = await self._acall_retrying("poll message", deadline, genie.get_message, space_id=self.space_id,
                                                 conversation_id=conv, message_id=mid)
            except BackendError as e:
                if e.retryable:  # the deadline passed while retrying
                    return answer("TIMEOUT", reason=f"no answer within {self.question_timeout_s:g}s", error=str(e))
                return answer("ERROR", reason="polling the message failed", error=str(e))
            status = _enum(msg.status)
            if not seen or seen[-1] != status:
                seen.append(status)
            details.update(genie_status=status, statuses=list(seen))
            if status in TERMINAL:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return answer("TIMEOUT", reason=f"Genie did not finish within {self.question_timeout_s:g}s (last status {status})",
                              error=f"timeout in status {status}")
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, self.poll_max_s)

        query_att = next((a for a in (msg.attachments or []) if a.query is not None), None)
        text_att = next((a for a in (msg.attachments or []) if a.text is not None), None)
        sql = query_att.query.query if query_att else None
        description = (query_att.query.description if query_att else None) or (text_att.text.content if text_att else None)
        if query_att:
            details.update(attachment_id=query_att.attachment_id, statement_id=query_att.query.statement_id)
        error = msg.error.error if msg.error is not None else None
        if status == "CANCELLED":
            return answer("CANCELLED", sql=sql, description=description, reason="the message was cancelled", error=error)
        if status == "FAILED":
            etype = _enum(msg.error.type) if msg.error is not None else None
            details["error_type"] = etype
            if etype in RETRYABLE_ERROR_TYPES:
                if etype in RATE_LIMIT_ERROR_TYPES:
                    self._spacer.pause(self.rate_limit_pause_s)
                raise BackendError(f"Genie failed the question with {etype} (conversation {conv}): {self._scrub(error or '')}",
                                   retryable=True)
            return answer("FAILED", sql=sql, description=description, reason="Genie failed to answer", error=self._scrub(error or "FAILED"))
        if query_att is None:
            return answer("NO_SQL", description=description, reason=(text_att.text.content if text_att else None) or "Genie answered without SQL")
        if status == "QUERY_RESULT_EXPIRED":
            if not self.rerun_expired:
                return answer("QUERY_RESULT_EXPIRED", sql=sql, description=description, reason="the query result expired")
            try:
                res = await self._acall_retrying("re-run expired query", deadline, genie.execute_message_attachment_query,
                                                 space_id=self.space_id, conversation_id=conv, message_id=mid,
                                                 attachment_id=query_att.attachment_id)
                table, truncated = await self._statement_table(res.statement_response, deadline)
            except ChaosLlamaError as e:
                return answer("QUERY_RESULT_EXPIRED", sql=sql, description=description, reason="the query result expired and re-running it failed", error=str(e))
            details.update(rerun=True, result_source="execute-query", is_truncated=truncated)
            return answer("COMPLETED", sql=sql, description=description, result=table, row_count=table.num_rows)
        try:
            table, truncated, source = await self._query_result(conv, mid, query_att, deadline)
        except ChaosLlamaError as e:
            return answer("FAILED", sql=sql, description=description, reason="the query result could not be read", error=str(e))
        details.update(result_source=source, is_truncated=truncated)
        return answer("COMPLETED", sql=sql, description=description, result=table, row_count=table.num_rows)

    async def _recover_start(self, question: str, sent_at: float) -> tuple[str, str] | None:
        """After a start with no response (dropped connection, read timeout), find the conversation it
        may have created, so the question is not asked twice: our own conversations, newest first,
        one titled with the question, created since the start was sent and not already ours."""
        since_ms = int((sent_at - 60) * 1000)  # tolerate a server clock a minute behind ours
        title = question[:255]
        deadline = time.monotonic() + min(30.0, self.question_timeout_s)
        try:
            res = await self._acall_retrying("list conversations", deadline, self.client.genie.list_conversations,
                                             self.space_id, page_size=50)
            match = next((c for c in res.conversations or []
                          if c.title == title and c.conversation_id not in self._conversations
                          and (c.created_timestamp or 0) >= since_ms), None)
            if match is None:
                return None
            msgs = await self._acall_retrying("list messages", deadline, self.client.genie.list_conversation_messages,
                                              self.space_id, match.conversation_id, page_size=10)
        except BackendError as e:
            log.info("could not look for a start that may have landed (%s)", e)
            return None
        first = next((m for m in msgs.messages or [] if m.content == question), None)
        if first is None:
            return None
        log.info("recovered conversation %s for a start whose response was lost", match.conversation_id)
        return match.conversation_id, first.message_id

    async def _query_result(self, conv: str, mid: str, att: Any, deadline: float) -> tuple[pa.Table, bool, str]:
        """The result of a query attachment: by statement id when there is one, else the
        documented Genie result endpoints (attachment, then message level)."""
        genie = self.client.genie
        if att.query.statement_id:
            try:
                stmt = await self._acall_retrying("get statement", deadline, self.client.statement_execution.get_statement,
                                                  att.query.statement_id)
                table, truncated = await self._statement_table(stmt, deadline)
                return table, truncated, "statement"
            except BackendError as e:
                if e.retryable:
                    raise
                log.info("statement %s not readable (%s); using the Genie result endpoint", att.query.statement_id, e)
        try:
            res = await self._acall_retrying("get attachment query result", deadline, genie.get_message_attachment_query_result,
                                             space_id=self.space_id, conversation_id=conv, message_id=mid,
                                             attachment_id=att.attachment_id)
            source = "attachment"
        except BackendError as e:
            if e.retryable:
                raise
            res = await self._acall_retrying("get message query result", deadline, genie.get_message_query_result,
                                             space_id=self.space_id, conversation_id=conv, message_id=mid)
            source = "message"
        table, truncated = await self._statement_table(res.statement_response, deadline)
        return table, truncated, source

    async def _statement_table(self, stmt: Any, deadline: float) -> tuple[pa.Table, bool]:
        return await asyncio.to_thread(self._statement_table_sync, stmt, deadline)

    def _statement_table_sync(self, stmt: Any, deadline: float) -> tuple[pa.Table, bool]:
        """A StatementResponse (first chunk inline) as an Arrow table of strings, remaining chunks fetched."""
        if stmt is None:
            raise SQLExecutionError("the response holds no statement result")
        state = _enum(stmt.status.state) if stmt.status is not None else None
        if state != "SUCCEEDED":
            err = stmt.status.error.message if (stmt.status is not None and stmt.status.error is not None) else None
            raise SQLExecutionError(f"statement {stmt.statement_id or ''} is {state}{': ' + self._scrub(err) if err else ''}")
        names = [c.name for c in (stmt.manifest.schema.columns or [])] if stmt.manifest and stmt.manifest.schema else []
        rows: list[list[Any]] = []
        chunk = stmt.result
        while chunk is not None:
            rows.extend(chunk.data_array or [])
            if chunk.next_chunk_index is None or (self.max_rows is not None and len(rows) >= self.max_rows):
                break
            if time.monotonic() > deadline:
                raise BackendError("reading result chunks took past the deadline", retryable=False)
            chunk = self._sync_retrying("get result chunk", self.client.statement_execution.get_statement_result_chunk_n,
                                        stmt.statement_id, chunk.next_chunk_index)
        truncated = bool(stmt.manifest and stmt.manifest.truncated)
        if self.max_rows is not None and len(rows) > self.max_rows:
            rows, truncated = rows[: self.max_rows], True
        return _strings_table(names, rows), truncated

    def _sync_retrying(self, what: str, fn: Callable[..., Any], *args: Any, tries: int = 4, **kwargs: Any) -> Any:
        """An idempotent call retried a few times on transient errors (for synchronous callers)."""
        delay = self.poll_initial_s
        for attempt in range(1, tries + 1):
            try:
                return self._call(what, fn, *args, **kwargs)
            except BackendError as e:
                if not e.retryable or attempt == tries:
                    raise
                time.sleep(min(e.retry_after if e.retry_after is not None else delay, 30))
                delay = min(delay * 2, self.poll_max_s)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ gold SQL
    def execute(self, sql: str, *, max_rows: int | None = None, space: Space | None = None, dialect: str = "databricks") -> pa.Table:
        """Run read-only SQL on the SQL warehouse (Statement Execution API). Values come back as
        strings, as Databricks returns them; columns keep their names."""

        check_read_only(sql, dialect=dialect)  # before anything reaches the warehouse
        if dialect != "databricks":
            import sqlglot

            sql = sqlglot.transpile(sql, read=dialect, write="databricks")[0]
        warehouse = self.warehouse_id or (space.warehouse_id if space is not None else None)
        if not warehouse:
            raise InvalidConfig("no SQL warehouse to run gold SQL on: pass warehouse_id (--warehouse-id on the command line), or read the space first",
                                field="warehouse_id")
        limit = max_rows if max_rows is not None else self.max_rows
        from databricks.sdk.service.sql import Disposition, ExecuteStatementRequestOnWaitTimeout, Format

        api = self.client.statement_execution
        deadline = time.monotonic() + self.statement_timeout_s
        wait = int(max(5, min(50, self.statement_timeout_s)))  # the API accepts 5..50 seconds
        stmt = self._sync_retrying(
            "execute statement", api.execute_statement, statement=sql, warehouse_id=warehouse, wait_timeout=f"{wait}s",
            on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE, row_limit=limit,
            format=Format.JSON_ARRAY, disposition=Disposition.INLINE,
        )
        delay = 1.0
        while stmt.status is not None and _enum(stmt.status.state) in ("PENDING", "RUNNING"):
            if time.monotonic() > deadline:
                try:
                    api.cancel_execution(stmt.statement_id)
                except Exception:  # noqa: BLE001 - best effort; the timeout is what we report
                    pass
                raise SQLExecutionError(f"statement did not finish within {self.statement_timeout_s:g}s (cancelled)")
            time.sleep(delay)
            delay = min(delay * 2, 10)
            stmt = self._sync_retrying("get statement", api.get_statement, stmt.statement_id)
        table, _ = self._statement_table_sync(stmt, deadline)
        return table

    # ------------------------------------------------------------ spaces
    def list_spaces(self) -> list[SpaceSummary]:
        """Every Genie space visible to the caller."""
        out: list[SpaceSummary] = []
        token = None
        while True:
            res = self._sync_retrying("list spaces", self.client.genie.list_spaces, page_token=token)
            for s in res.spaces or []:
                out.append(SpaceSummary(space_id=s.space_id, title=s.title, description=s.description,
                                        warehouse_id=s.warehouse_id, parent_path=s.parent_path))
            token = res.next_page_token
            if not token:
                return out

    def get_space(self) -> SpaceSnapshot:
        """Pull the space (with its serialized document and etag); a copy goes to the store."""

        try:
            res = self._sync_retrying("get space", self.client.genie.get_space, self.space_id, include_serialized_space=True)
        except BackendError as e:
            if "404" in str(e) or "NotFound" in str(e) or "DoesNotExist" in str(e):
                raise SpaceNotFound(f"no Genie space {self.space_id!r} at {self.host}: {e}") from None
            raise
        if not res.serialized_space:
            raise BackendError(f"Genie space {self.space_id!r} came back without serialized_space (need CAN EDIT on the space)")
        envelope = {k: getattr(res, k) for k in ("title", "description", "warehouse_id", "parent_path") if getattr(res, k, None) is not None}
        space = space_from_geniespace_json(json.dumps({**envelope, "space_id": res.space_id or self.space_id,
                                                       "serialized_space": res.serialized_space}),
                                           source=f"Genie space {self.space_id}")
        self._etag, self._deployed_hash = res.etag, space_hash(space)
        if self.warehouse_id is None:
            self.warehouse_id = space.warehouse_id
        vid = self._keep(space, f"pulled from Genie (etag {res.etag})")
        return SpaceSnapshot(space=space, etag=res.etag, update_time=_str(res.update_time), version_id=vid)

    def update_space(self, space: Space, etag: str | None = None, *, validate: bool = True, message: str | None = None) -> SpaceSnapshot:
        """Push `space` as the new version, guarded by `etag` (default: the last one pulled/pushed).

        Raises ApplyConflict when the space changed since that etag: nothing is overwritten and
        `space` is kept in the store (the exception's `version_id`) and on the exception (`space`).
        """

        if validate:

            ensure_valid(space)
        etag = etag if etag is not None else self._etag
        if etag is None:
            # Without an etag Genie applies the update unconditionally: someone's edit could be lost unseen.
            raise ApplyConflict(f"no etag guards an update of Genie space {self.space_id!r} (it was not read, or Genie's last "
                                f"response carried none and re-reading it failed); nothing was sent. Read the space again, "
                                f"then update.")
        body = {"serialized_space": json.dumps(space.to_serialized(), ensure_ascii=False), "etag": etag, "title": space.title}
        if space.description is not None:
            body["description"] = space.description
        try:
            res = self._sync_retrying("update space", self.client.genie.update_space, self.space_id, **body)
        except BackendError as e:
            if not _is_conflict(e):
                raise
            current = self._current_if_same(space)  # a retried update whose first try had landed
            if current is None:
                kept = self._keep(space, f"NOT APPLIED: Genie space changed since etag {etag}")
                where = f"; your version is kept in the store as {kept[:12]}" if kept else ""
                err = ApplyConflict(
                    f"Genie space {self.space_id!r} was changed by someone else since it was read (etag {etag!r}); "
                    f"nothing was overwritten{where}. Read the current version again (re-run the command, or restart "
                    f"the MCP session), re-apply your change and push it.")
                err.space, err.version_id = space, kept  # type: ignore[attr-defined]
                raise err from None
            res = current
        self._etag, self._deployed_hash = res.etag, space_hash(space)
        if not res.etag:
            # The guard must not vanish: re-read the etag, and only if the space is still ours.
            current = self._current_if_same(space)
            self._etag = current.etag if current is not None else None
            if current is None:
                self._deployed_hash = None  # unknown now: the next deploy pulls before pushing
                log.warning("Genie's update response for space %s carried no etag and re-reading it failed; "
                            "the next update is refused until the space is read again", self.space_id)
        self._settled_at = time.monotonic() + self.settle_s
        vid = self._keep(space, message or f"pushed to Genie (etag {self._etag})")
        return SpaceSnapshot(space=space, etag=self._etag, update_time=_str(getattr(res, "update_time", None)), version_id=vid)

    def deploy(self, space: Space) -> SpaceSnapshot | None:
        """Make `space` the version Genie answers from: push it unless Genie already holds it.

        The runner calls this before asking the first uncached question of a run, so results are
        always recorded against the version that produced them. The version Genie held before is
        kept in the store (pulled on first use), so a push never loses it.
        """

        if self._deployed_hash is None:
            self.get_space()
        if self._deployed_hash == space_hash(space):
            return None
        return self.update_space(space, message="deployed for evaluation")

    def _current_if_same(self, space: Space) -> Any:

        try:
            res = self._sync_retrying("get space", self.client.genie.get_space, self.space_id, include_serialized_space=True)
            remote = space_from_geniespace_json(json.dumps({"title": res.title, "description": res.description,
                                                            "serialized_space": res.serialized_space or "{}"}))
        except ChaosLlamaError:
            return None
        return res if space_hash(remote) == space_hash(space) else None

    def _keep(self, space: Space, message: str) -> str | None:
        if self.store is None:
            return None
        key = self.store.space_key_for(space.model_copy(update={"space_id": self.space_id}))
        return self.store.put_space_version(space, space_key=key, message=message, author="databricks").version_id

    def _check_space(self, space: Space) -> None:
        """Results are recorded against `space`: refuse when Genie holds a different version."""
        if self._deployed_hash is None:
            return

        if space_hash(space) != self._deployed_hash:
            raise BackendError(
                f"the space to evaluate ({space_hash(space)}) is not the version deployed to Genie space "
                f"{self.space_id!r} ({self._deployed_hash}); push it first (an evaluation run does that itself)", retryable=False)

    async def wait_settled(self) -> None:
        """Wait out the settle time after the last update (Genie rebuilds its context)."""
        wait = self._settled_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    # ------------------------------------------------------------ real traffic (the data flywheel, tools/logs.py)
    def list_conversations(self, *, include_all: bool = True, page_token: str | None = None,
                           page_size: int = 100) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the space's conversations, newest first (every user's with `include_all`, which
        needs CAN MANAGE), as Genie's JSON; and the next page's token. Transient errors and 429s are
        retried here (Retry-After honoured)."""
        kw: dict[str, Any] = {"page_size": page_size, **({"include_all": True} if include_all else {}),
                              **({"page_token": page_token} if page_token else {})}
        try:
            res = self._sync_retrying("list conversations", self.client.genie.list_conversations, self.space_id, tries=8, **kw)
        except BackendError as e:
            if include_all and ("403" in str(e) or "PermissionDenied" in str(e)):
                raise BackendError(f"{e}. Listing every user's conversations needs CAN MANAGE on Genie space "
                                   f"{self.space_id!r}; without it, import only your own (--mine)") from None
            raise
        return [c.as_dict() for c in res.conversations or []], res.next_page_token

    def list_conversation_messages(self, conversation_id: str, *, page_token: str | None = None,
                                   page_size: int = 100) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a conversation's messages as Genie's message JSON (content, status, SQL attachment, error, feedback)."""
        kw: dict[str, Any] = {"page_size": page_size, **({"page_token": page_token} if page_token else {})}
        res = self._sync_retrying("list messages", self.client.genie.list_conversation_messages, self.space_id, conversation_id,
                                  tries=8, **kw)
        return [m.as_dict() for m in res.messages or []], res.next_page_token

    def list_message_comments(self, conversation_id: str, message_id: str) -> list[dict[str, Any]]:
        """Every comment on one message (a feedback comment is one too), as Genie's JSON."""
        out: list[dict[str, Any]] = []
        token = None
        while True:
            kw = {"page_token": token} if token else {}
            res = self._sync_retrying("list comments", self.client.genie.list_message_comments, self.space_id, conversation_id,
                                      message_id, tries=8, **kw)
            out += [c.as_dict() for c in res.comments or []]
            token = res.next_page_token
            if not token:
                return out

    # ------------------------------------------------------------ benchmarks
    def import_benchmarks(self, *, name: str | None = None) -> EvalSet:
        """The space's benchmark questions as an eval set (case ids = benchmark question ids)."""

        return evalset_from_benchmarks(self.get_space().space, name=name)

    def export_benchmarks(self, evalset: EvalSet, *, replace: bool = False) -> SpaceSnapshot:
        """Write `evalset` into the space's benchmarks (pull, edit, push with the etag)."""
        snap = self.get_space()
        return self.update_space(evalset_to_benchmarks(snap.space, evalset, replace=replace), snap.etag,
                                 message=f"benchmarks from eval set {evalset.name!r}")

    # ------------------------------------------------------------ native eval runs
    def _eval_api(self, method: str, http: str, path: str, *, body: Any = None, query: Any = None, **kwargs: Any) -> Any:
        """Genie's eval-run API: the SDK method when this SDK has it, else the REST path directly."""
        fn = getattr(self.client.genie, method, None)
        if fn is not None:
            return self._sync_retrying(method, fn, self.space_id, **kwargs)
        return self._sync_retrying(method, self.client.api_client.do, http, path, body=body, query=query)

    def start_eval_run(self, question_ids: list[str] | None = None) -> NativeEvalRun:
        """Start Genie's own benchmark evaluation (all benchmark questions by default)."""
        kw = {"benchmark_question_ids": question_ids} if question_ids else {}
        res = self._eval_api("genie_create_eval_run", "POST", f"/api/2.0/genie/spaces/{self.space_id}/eval-runs",
                             body=kw or {}, **kw)
        return _native_run(res)

    def get_eval_run(self, eval_run_id: str) -> NativeEvalRun:
        res = self._eval_api("genie_get_eval_run", "GET", f"/api/2.0/genie/spaces/{self.space_id}/eval-runs/{eval_run_id}",
                             eval_run_id=eval_run_id)
        return _native_run(res)

    def list_eval_runs(self) -> list[NativeEvalRun]:
        res = self._eval_api("genie_list_eval_runs", "GET", f"/api/2.0/genie/spaces/{self.space_id}/eval-runs")
        runs = res.get("eval_runs") if isinstance(res, dict) else res.eval_runs
        return [_native_run(r) for r in runs or []]

    async def wait_eval_run(self, eval_run_id: str, *, timeout_s: float = 1800, poll_s: float | None = None) -> NativeEvalRun:
        """Poll an eval run until it is done (or `timeout_s` passes; then its last state is returned)."""
        deadline, delay = time.monotonic() + timeout_s, poll_s or self.poll_initial_s
        while True:
            run = await asyncio.to_thread(self.get_eval_run, eval_run_id)
            if run.done or time.monotonic() >= deadline:
                return run
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, poll_s or self.poll_max_s)

    def eval_run_assessments(self, eval_run_id: str) -> list[NativeAssessment]:
        """Every result of an eval run with Genie's assessment and reason codes."""
        out: list[NativeAssessment] = []
        token = None
        base = f"/api/2.0/genie/spaces/{self.space_id}/eval-runs/{eval_run_id}/results"
        while True:
            kw = {"page_token": token} if token else {}
            res = self._eval_api("genie_list_eval_results", "GET", base, query=kw or None, eval_run_id=eval_run_id, **kw)
            results = res.get("eval_results") if isinstance(res, dict) else res.eval_results
            for r in results or []:
                rid = _get(r, "result_id")
                d = self._eval_api("genie_get_eval_result_details", "GET", f"{base}/{rid}", eval_run_id=eval_run_id, result_id=rid)
                out.append(NativeAssessment(
                    eval_run_id=eval_run_id, result_id=rid, benchmark_question_id=_get(r, "benchmark_question_id"),
                    question=_get(r, "question"), status=_enum(_get(r, "status")), assessment=_enum(_get(d, "assessment")),
                    reasons=[_enum(x) for x in (_get(d, "assessment_reasons") or [])],
                    manual_assessment=_get(d, "manual_assessment"),
                    generated=[_get(x, "response") or "" for x in (_get(d, "actual_response") or [])],
                    expected=[_get(x, "response") or "" for x in (_get(d, "expected_response") or [])],
                ))
            token = res.get("next_page_token") if isinstance(res, dict) else res.next_page_token
            if not token:
                return out

    def store_eval_run(self, store: Any, eval_run_id: str, *, run_id: str | None = None) -> list[NativeAssessment]:
        """Read an eval run's assessments and store them beside our verdicts (linked to `run_id`
        by benchmark question id = case id, when the eval set came from `import_benchmarks`)."""
        assessments = self.eval_run_assessments(eval_run_id)
        store.put_native_assessments(
            [a.model_dump() | {"space_id": self.space_id, "run_id": run_id, "case_id": a.benchmark_question_id} for a in assessments])
        return assessments


# ---------------------------------------------------------------- helpers
def evalset_to_benchmarks(space: Space, evalset: EvalSet, *, replace: bool = False) -> Space:
    """A copy of `space` whose benchmarks hold `evalset`'s questions (each gold SQL an answer).

    Questions already there (same text) are updated in place; `replace=True` drops the others.
    Ids of new questions are derived from their content, so exporting twice changes nothing.
    """

    doc = space.serialized.model_copy(deep=True)
    existing = list(doc.benchmarks.questions) if doc.benchmarks else []
    by_text = {text(q.question).strip(): q for q in existing}
    kept: list[BenchmarkQuestion] = [] if replace else list(existing)
    for case in evalset.cases:
        answers = [BenchmarkAnswer(format="SQL", content=[sql]) for sql in case.gold_sql]
        q = by_text.get(case.question.strip())
        if q is not None and not replace:
            q.answer = answers
        else:
            kept.append(BenchmarkQuestion(question=[case.question], answer=answers))
    doc.benchmarks = Benchmarks(questions=kept)
    return normalize(space.model_copy(update={"serialized": doc}))


def _strings_table(names: list[str], rows: list[list[Any]]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [()] * len(names)
    arrays = [pa.array(list(c), type=pa.string()) for c in cols]
    return pa.Table.from_arrays(arrays, names=names) if names else pa.table({})


def _enum(value: Any) -> Any:
    return getattr(value, "value", value)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value.ToJsonString() if hasattr(value, "ToJsonString") else str(value)


def _native_run(res: Any) -> NativeEvalRun:
    return NativeEvalRun(eval_run_id=_get(res, "eval_run_id"), status=_enum(_get(res, "eval_run_status")),
                         num_questions=_get(res, "num_questions"), num_done=_get(res, "num_done"),
                         num_correct=_get(res, "num_correct"), num_needs_review=_get(res, "num_needs_review"),
                         created_timestamp=_get(res, "created_timestamp"))


def _host_label(host: str | None) -> str:
    if not host:
        return "default"
    return host.split("://", 1)[-1].rstrip("/")


def _http_status(e: BaseException) -> int | None:
    status = getattr(e, "status_code", None)
    if isinstance(status, int):
        return status
    names = {"BadRequest": 400, "Unauthenticated": 401, "PermissionDenied": 403, "NotFound": 404, "ResourceConflict": 409,
             "TooManyRequests": 429, "InternalError": 500, "NotImplemented": 501, "TemporarilyUnavailable": 503,
             "DeadlineExceeded": 504}
    for cls in type(e).__mro__:
        if cls.__name__ in names:
            return names[cls.__name__]
    return None


def _is_network_error(e: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover
        return isinstance(e, (ConnectionError, TimeoutError))
    return isinstance(e, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError))


def _is_conflict(e: BackendError) -> bool:
    text = str(e)
    return any(s in text for s in ("HTTP 409", "HTTP 412", "ResourceConflict", "Aborted", "etag", "RESOURCE_CONFLICT"))


def from_config(config: Any, *, data: list[Any], store: Any = None) -> DatabricksGenie:
    """A Genie space in a Databricks workspace; auth resolves like the databricks CLI (`profile`,
    DATABRICKS_* environment variables, OAuth). With `store`, every version pulled or pushed is kept."""
    if not config.space_id:
        raise InvalidConfig("the databricks backend needs a Genie space id (--space-id, or backend.space_id in the project file)",
                            field="space_id")
    return DatabricksGenie(config.space_id, profile=config.profile, host=config.host, warehouse_id=config.warehouse_id,
                           rate_per_minute=config.rate_per_minute or None, question_timeout_s=config.question_timeout_s,
                           settle_s=config.settle_s, store=store)
