"""A wire-compatible Genie emulator: the subset of Databricks' REST API the Databricks backend uses,
served on 127.0.0.1 and answered by the embedded engine (`LocalGenie`) over a space file.

It exists so the Databricks backend is tested with the *unmodified* databricks-sdk client, and so
users can rehearse a run against "Genie" (latency, rate limits, failures) without a workspace::

    chaos-llama emulate --space space.yaml --data data/ --port 8080 --faults 429,500,drop --fault-rate 0.2

Served (shapes from the SDK's `service/dashboards.py` and `service/sql.py` dataclasses):

- ``GET /.well-known/databricks-config`` (unauthenticated; the SDK probes it on start-up)
- ``GET|POST /api/2.0/genie/spaces``, ``GET|PATCH|DELETE /api/2.0/genie/spaces/{id}`` (list, create,
  get with ``include_serialized_space`` and its ``etag``, update guarded by ``etag``, trash)
- ``GET /api/2.0/sql/warehouses/{id}`` (the warehouse is always RUNNING)
- ``POST .../start-conversation``, ``POST .../conversations/{c}/messages``, ``GET .../messages/{m}``,
  every message status (SUBMITTED, FETCHING_METADATA, FILTERING_CONTEXT, ASKING_AI,
  PENDING_WAREHOUSE, EXECUTING_QUERY, then COMPLETED / FAILED with an error type / CANCELLED /
  QUERY_RESULT_EXPIRED)
- ``GET .../conversations`` (the caller's own, most recent activity first; every user's with
  ``include_all``, which needs CAN MANAGE), ``GET .../conversations/{c}/messages``,
  ``POST .../messages/{m}/feedback`` (rating POSITIVE / NEGATIVE / NONE and a comment, which is also
  kept as a message comment), ``POST|GET .../messages/{m}/comments``, ``GET .../conversations/{c}/list-comments``
- ``GET .../attachments/{a}/query-result``, ``.../query-result/{a}``, ``.../messages/{m}/query-result``,
  ``POST .../attachments/{a}/execute-query``
- ``POST|GET|LIST .../eval-runs``, ``.../eval-runs/{r}/results[/{id}]`` (benchmark evaluations)
- ``POST /api/2.0/sql/statements``, ``GET /api/2.0/sql/statements/{id}[/result/chunks/{n}]``
- ``POST /serving-endpoints/chat/completions`` (model serving's OpenAI-compatible path; `model` names
  an endpoint added with `add_serving_endpoint`, answered with deterministic or recorded replies)
- ``GET /api/2.1/unity-catalog/tables[/{full_name}]``: the space's tables as Unity Catalog
  describes them (columns, types, comments), for `chaos-llama init --unity-catalog`

Past traffic (conversations, messages with their SQL, status, error, feedback and comments, at their
own timestamps and users) is loaded with `load_conversations` from the export format of `tools/logs.py`,
so the data flywheel (`chaos-llama logs import`) runs offline through the unmodified SDK.

Faults (each request draws once from a seeded RNG with probability `fault_rate`, among the kinds
that apply to it): ``429`` (with Retry-After), ``500``, ``503``, ``drop`` (connection closed with
no response), ``slow`` (response delayed), ``hang`` (response held `hang_s`, longer than a client's
HTTP timeout, and then processed), ``write_drop`` (a write lands, then the connection drops),
``failed`` (the message ends FAILED with a fatal error type), ``failed_retryable`` (FAILED with a
type such as RETRYABLE_PROCESSING_EXCEPTION that a new try may fix), ``etag`` (a simulated
concurrent edit just before an update), ``no_etag`` (an update's response carries no etag). A
per-minute question limit like Genie's answers 429 beyond it. Every request needs
``Authorization: Bearer <token>`` of a known user (`add_user`; the default token manages the space).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .backends.base import Answer
from .errors import ChaosLlamaError, InvalidConfig, did_you_mean
from .evalset import EvalCase
from .judges import get_judge
from .judges.base import GoldResult
from .space.io import space_from_geniespace_json
from .space.model import Space, text

FAULT_KINDS = ("429", "500", "503", "drop", "slow", "hang", "write_drop", "failed", "failed_retryable", "etag", "no_etag")
# A message's non-terminal statuses, in the order Genie goes through them.
PROGRESS = ("SUBMITTED", "FETCHING_METADATA", "FILTERING_CONTEXT", "ASKING_AI", "PENDING_WAREHOUSE", "EXECUTING_QUERY")
# Outcomes a test can force for one question (see `Emulator.force`); a PROGRESS status never ends.
FORCED_OUTCOMES = ("COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED", "NO_STATEMENT_ID", "NO_SQL", "NEVER") + PROGRESS
# Message error types (the SDK's MessageErrorType): the fatal one the `failed` fault uses, and the
# ones the `failed_retryable` fault draws from (Genie overloaded or timed out).
FATAL_ERROR_TYPE = "GENERIC_CHAT_COMPLETION_EXCEPTION"
RETRYABLE_ERROR_TYPES = ("RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION", "RETRYABLE_PROCESSING_EXCEPTION",
                         "CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION", "CHAT_COMPLETION_NETWORK_EXCEPTION")
FEEDBACK_RATINGS = ("POSITIVE", "NEGATIVE", "NONE")
_WRITES = ("start_conversation", "create_message", "update_space", "create_space", "trash_space", "send_feedback",
           "create_comment", "create_eval_run", "execute_statement")
DEFAULT_TOKEN = "dapi-emulator"


class _HTTPError(Exception):
    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error_code, self.message, self.headers = status, error_code, message, headers or {}


class _Drop(Exception):
    """Close the connection without answering."""


@dataclass
class _Message:
    space_id: str
    conversation_id: str
    message_id: str
    content: str
    created: float
    ready_at: float
    user_id: int = 1
    forced: str | None = None
    error_type: str | None = None  # the message ends FAILED with this type (a fault or a forced outcome)
    feedback: dict[str, Any] | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    error_text: str | None = None  # a loaded message's recorded error (else one is made up from the type)
    updated: float | None = None  # a loaded message's last update (else: now)
    answer: Any = None  # the engine's Answer once computed
    statement_id: str | None = None
    rerun_statement_id: str | None = None
    attachment_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    text_attachment_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class _Conversation:
    space_id: str
    conversation_id: str
    user_id: int
    title: str
    created: float
    updated: float


@dataclass
class _User:
    user_id: int
    manage: bool  # CAN MANAGE on every space (needed for include_all and others' conversations)


@dataclass
class _SpaceState:
    space: Space
    etag: str
    created: float
    updated: float
    revision: int = 1


def _etag(space_id: str, revision: int) -> str:
    return hashlib.sha256(f"{space_id}:{revision}".encode()).hexdigest()[:16]


def _ts(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Emulator:
    """The emulator's state and HTTP server. `start()` serves from a background thread (tests);
    `serve_forever()` serves in the foreground (the CLI).

    Args:
        space: the space served (its `space_id` is kept, else one is made up).
        engine: a `LocalGenie` over the space's data.
        latency: (min, max) seconds before a message completes.
        rate_per_minute: questions (new messages, eval runs) accepted per minute; None: unlimited.
        fault_rate: probability that a request gets one of `faults`.
        fault_routes: only requests to these routes (handler names, e.g. "get_message") draw faults.
        retry_after_s: the Retry-After of injected 429/503 (whole seconds, as Databricks sends).
        slow_s: delay of a `slow` response.
        hang_s: how long a `hang` holds its response (beyond the SDK's 60 s HTTP timeout by default).
        chunk_rows: rows per statement result chunk (exercise chunk fetching with a small value).

    `stats["early_starts"]` counts question starts that arrived while a Retry-After this emulator
    sent (more than half a second earlier, so the client had heard of it) was still in force.
    """

    def __init__(
        self,
        space: Space,
        engine: Any,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: tuple[float, float] = (0.0, 0.0),
        rate_per_minute: float | None = None,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] | list[str] = FAULT_KINDS,
        fault_routes: tuple[str, ...] | list[str] | None = None,
        retry_after_s: int = 1,
        slow_s: float = 0.3,
        hang_s: float = 90.0,
        seed: int = 0,
        warehouse_id: str | None = None,
        chunk_rows: int = 1000,
    ):
        unknown = [f for f in faults if f not in FAULT_KINDS]
        if unknown:
            raise InvalidConfig(f"unknown fault {unknown[0]!r}.{did_you_mean(unknown[0], FAULT_KINDS)}", field="faults")
        if not 0 <= fault_rate <= 1:
            raise InvalidConfig(f"fault_rate must be between 0 and 1, got {fault_rate!r}", field="fault_rate")
        if latency[0] < 0 or latency[1] < latency[0]:
            raise InvalidConfig(f"latency must be 'min-max' seconds with 0 <= min <= max, got {latency!r}", field="latency")
        self.engine = engine
        self.token = token
        self.users: dict[str, _User] = {token: _User(user_id=1, manage=True)}
        self.host, self.port = host, port
        self.latency = latency
        self.rate_per_minute = rate_per_minute
        self.fault_rate, self.faults = fault_rate, tuple(faults)
        self.fault_routes = tuple(fault_routes) if fault_routes is not None else None
        routes = sorted({name for _, _, name in self._ROUTES})
        for r in self.fault_routes or ():
            if r not in routes:
                raise InvalidConfig(f"unknown route {r!r}.{did_you_mean(r, routes)}", field="fault_routes")
        self.retry_after_s, self.slow_s, self.hang_s = retry_after_s, slow_s, hang_s
        self.warehouse_id = warehouse_id or space.warehouse_id or "emulator-warehouse"
        self.chunk_rows = max(1, chunk_rows)
        self.rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        now = time.time()
        space_id = space.space_id or uuid.uuid5(uuid.NAMESPACE_URL, f"chaos-llama:{space.title}").hex
        space = space.model_copy(update={"space_id": space_id, "warehouse_id": self.warehouse_id})
        self.spaces: dict[str, _SpaceState] = {space_id: _SpaceState(space, _etag(space_id, 1), now, now)}
        self.space_id = space_id
        self.messages: dict[str, _Message] = {}
        self.conversations: dict[str, _Conversation] = {}
        self.trashed: dict[str, _SpaceState] = {}
        self.serving: dict[str, Any] = {}  # endpoint name -> reply(messages) -> str
        self.statements: dict[str, dict[str, Any]] = {}
        self.eval_runs: dict[str, dict[str, Any]] = {}
        self.forced: dict[str, tuple[str, str | None]] = {}
        self.stats: collections.Counter[str] = collections.Counter()
        self._questions: collections.deque[float] = collections.deque()
        self._retry_windows: collections.deque[tuple[float, float]] = collections.deque()  # (sent at, until)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------ control (tests, CLI)
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def force(self, question: str, outcome: str, *, error_type: str | None = None) -> None:
        """Make every message whose content is `question` end with `outcome` (one of FORCED_OUTCOMES;
        a PROGRESS status or NEVER: stays in it). A FAILED message carries `error_type`
        (default: a fatal GENERIC_CHAT_COMPLETION_EXCEPTION)."""
        if outcome not in FORCED_OUTCOMES:
            raise InvalidConfig(f"unknown outcome {outcome!r}.{did_you_mean(outcome, FORCED_OUTCOMES)}", field="outcome")
        self.forced[question] = (outcome, error_type)

    def add_serving_endpoint(self, name: str, reply: Any) -> None:
        """Serve a model serving endpoint: `reply` is a function of the chat messages returning the
        reply text, or a dict of recorded replies keyed by the last message's content."""
        self.serving[name] = reply if callable(reply) else (lambda messages, _r=dict(reply): _r[messages[-1]["content"]])

    def add_user(self, token: str, *, user_id: int, manage: bool = False) -> None:
        """Accept `token` as another user: CAN RUN (own conversations only), or CAN MANAGE with `manage`."""
        self.users[token] = _User(user_id=user_id, manage=manage)

    def edit_space(self, space: Space | None = None, space_id: str | None = None) -> str:
        """Simulate someone editing the space in the UI (new etag); returns the new etag."""
        state = self.spaces[space_id or self.space_id]
        if space is not None:
            state.space = space.model_copy(update={"space_id": state.space.space_id, "warehouse_id": state.space.warehouse_id})
        state.revision += 1
        state.updated = time.time()
        state.etag = _etag(state.space.space_id or "", state.revision)
        return state.etag

    @property
    def space(self) -> Space:
        return self.spaces[self.space_id].space

    def start(self) -> Emulator:
        """Serve from a daemon thread; returns once the port is bound."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="genie-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the Genie emulator did not start within 30s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def serve_forever(self, on_ready: Any = None) -> None:
        self._on_ready = on_ready
        asyncio.run(self._main())

    _stop_event: asyncio.Event | None = None
    _on_ready: Any = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        if self._on_ready:
            self._on_ready(self)
        try:
            await self._stop_event.wait()
        finally:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            for t in list(self._tasks):
                t.cancel()

    # ------------------------------------------------------------ HTTP
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                try:
                    status, payload, extra = await self._dispatch(method, target, headers, body)
                except _Drop:
                    writer.transport.abort()
                    return
                except _HTTPError as e:
                    status, payload, extra = e.status, {"error_code": e.error_code, "message": e.message}, e.headers
                except Exception as e:  # noqa: BLE001 - an emulator bug answers 500, like a real server
                    status, payload, extra = 500, {"error_code": "INTERNAL_ERROR", "message": f"{type(e).__name__}: {e}"}, {}
                data = json.dumps(payload).encode()
                reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                          409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
                          503: "Service Unavailable"}.get(status, "Status")
                head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(data)}"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:  # shutting down: end quietly, the client sees a closed connection
            pass
        finally:
            self._writers.discard(writer)
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    def _draw_fault(self, kinds: tuple[str, ...]) -> str | None:
        enabled = [k for k in self.faults if k in kinds]
        if not enabled or self.fault_rate <= 0:
            return None
        with self._rng_lock:
            if self.rng.random() >= self.fault_rate:
                return None
            return self.rng.choice(enabled)

    def _rate_limited(self) -> None:
        """Genie's per-minute question limit: 429 beyond it, Retry-After until a slot frees."""
        if not self.rate_per_minute:
            return
        now = time.monotonic()
        while self._questions and now - self._questions[0] >= 60:
            self._questions.popleft()
        if len(self._questions) >= self.rate_per_minute:
            wait = max(1, math.ceil(60 - (now - self._questions[0])))
            self.stats["rate_limited"] += 1
            raise _HTTPError(429, "RESOURCE_EXHAUSTED", f"Question limit of {self.rate_per_minute:g} per minute reached",
                             {"Retry-After": str(wait)})
        self._questions.append(now)

    async def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        path, query = parts.path.rstrip("/"), {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.stats["requests"] += 1
        if path == "/.well-known/databricks-config":
            return 200, {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "1234567890"}, {}
        auth = headers.get("authorization", "")
        if not auth:
            raise _HTTPError(401, "UNAUTHENTICATED", "Missing authorization header: use a Bearer token")
        user = self.users.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if user is None:
            raise _HTTPError(403, "PERMISSION_DENIED", "Invalid access token")
        try:
            data = json.loads(body) if body else {}
        except json.JSONDecodeError as e:
            raise _HTTPError(400, "MALFORMED_REQUEST", f"request body is not JSON: {e.msg}") from None
        route, params = self._route(method, path)
        self.stats[f"route_{route}"] += 1  # counted before any fault: what clients actually sent
        question = route in ("start_conversation", "create_message")
        if question:
            self._check_early_start()
        try:
            return 200, await self._serve(route, params, query, data, user, question), {}
        except _HTTPError as e:
            if question and "Retry-After" in e.headers:
                now = time.monotonic()
                self._retry_windows.append((now, now + float(e.headers["Retry-After"])))
            raise

    async def _serve(self, route: str, params: dict[str, str], query: dict[str, str], data: dict[str, Any], user: _User,
                     question: bool) -> Any:
        kinds = ("429", "500", "503", "drop", "slow", "hang")
        if route in _WRITES:
            kinds += ("write_drop",)
        if question:
            kinds += ("failed", "failed_retryable")
        if route == "update_space":
            kinds += ("etag", "no_etag")
        fault = self._draw_fault(kinds) if self.fault_routes is None or route in self.fault_routes else None
        if fault:
            self.stats[f"fault_{fault}"] += 1
            if question:
                self.stats["question_faults"] += fault in ("429", "500", "503", "drop")
        if fault == "drop":
            raise _Drop()
        if fault in ("429", "503"):
            code = "RESOURCE_EXHAUSTED" if fault == "429" else "TEMPORARILY_UNAVAILABLE"
            raise _HTTPError(int(fault), code, "Injected fault: please retry later", {"Retry-After": str(self.retry_after_s)})
        if fault == "500":
            raise _HTTPError(500, "INTERNAL_ERROR", "Injected fault: internal error")
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
        if fault == "hang":
            await asyncio.sleep(self.hang_s)  # the client gave up long ago; the request is still processed
        if fault == "etag":
            self.edit_space(space_id=params.get("space_id"))
        error_type = None
        if fault == "failed":
            error_type = FATAL_ERROR_TYPE
        elif fault == "failed_retryable":
            with self._rng_lock:
                error_type = self.rng.choice(RETRYABLE_ERROR_TYPES)
        handler = getattr(self, f"_h_{route}")
        out = await handler(params=params, query=query, data=data, user=user, error_type=error_type)
        if fault == "write_drop":
            raise _Drop()  # it landed; the client never hears so
        if fault == "no_etag":
            out.pop("etag", None)
        return out

    def _check_early_start(self) -> None:
        now = time.monotonic()
        while self._retry_windows and self._retry_windows[0][1] <= now:
            self._retry_windows.popleft()
        if any(sent + 0.5 <= now < until for sent, until in self._retry_windows):
            self.stats["early_starts"] += 1

    _SPACE = r"/api/2\.0/genie/spaces/(?P<space_id>[^/]+)"
    _MESSAGE = _SPACE + r"/conversations/(?P<conversation_id>[^/]+)/messages/(?P<message_id>[^/]+)"
    _CONVERSATION = _SPACE + r"/conversations/(?P<conversation_id>[^/]+)"
    _ROUTES = [
        ("GET", r"/api/2\.0/genie/spaces", "list_spaces"),
        ("POST", r"/api/2\.0/genie/spaces", "create_space"),
        ("GET", _SPACE, "get_space"),
        ("PATCH", _SPACE, "update_space"),
        ("DELETE", _SPACE, "trash_space"),
        ("POST", _SPACE + "/start-conversation", "start_conversation"),
        ("GET", _SPACE + "/conversations", "list_conversations"),
        ("POST", _CONVERSATION + "/messages", "create_message"),
        ("GET", _CONVERSATION + "/messages", "list_messages"),
        ("GET", _MESSAGE, "get_message"),
        ("POST", _MESSAGE + "/feedback", "send_feedback"),
        ("POST", _MESSAGE + "/comments", "create_comment"),
        ("GET", _MESSAGE + "/comments", "list_message_comments"),
        ("GET", _CONVERSATION + "/list-comments", "list_conversation_comments"),
        ("GET", _MESSAGE + r"/attachments/(?P<attachment_id>[^/]+)/query-result", "attachment_query_result"),
        ("GET", _MESSAGE + r"/query-result/(?P<attachment_id>[^/]+)", "attachment_query_result"),
        ("GET", _MESSAGE + "/query-result", "message_query_result"),
        ("POST", _MESSAGE + r"/attachments/(?P<attachment_id>[^/]+)/execute-query", "execute_attachment_query"),
        ("POST", _SPACE + "/eval-runs", "create_eval_run"),
        ("GET", _SPACE + "/eval-runs", "list_eval_runs"),
        ("GET", _SPACE + r"/eval-runs/(?P<eval_run_id>[^/]+)", "get_eval_run"),
        ("GET", _SPACE + r"/eval-runs/(?P<eval_run_id>[^/]+)/results", "list_eval_results"),
        ("GET", _SPACE + r"/eval-runs/(?P<eval_run_id>[^/]+)/results/(?P<result_id>[^/]+)", "get_eval_result"),
        ("POST", r"/api/2\.0/sql/statements", "execute_statement"),
        ("GET", r"/api/2\.0/sql/statements/(?P<statement_id>[^/]+)", "get_statement"),
        ("GET", r"/api/2\.0/sql/statements/(?P<statement_id>[^/]+)/result/chunks/(?P<chunk>\d+)", "get_chunk"),
        ("GET", r"/api/2\.0/sql/warehouses/(?P<warehouse_id>[^/]+)", "get_warehouse"),
        ("POST", r"/serving-endpoints/chat/completions", "serving_chat"),
    ]

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        for m, pattern, name in self._ROUTES + self._UC_ROUTES:
            match = re.fullmatch(pattern, path)
            if match and m == method:
                return name, match.groupdict()
        raise _HTTPError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    # ------------------------------------------------------------ spaces
    def _state(self, space_id: str) -> _SpaceState:
        if space_id not in self.spaces:
            where = " (it is in the trash)" if space_id in self.trashed else ""
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Genie space {space_id!r} does not exist{where}")
        return self.spaces[space_id]

    def _space_json(self, st: _SpaceState, serialized: bool, *, etag: bool | None = None) -> dict[str, Any]:
        """A GenieSpace; the etag comes with the serialized space (as Genie documents it) or `etag=True`."""
        s = st.space
        out = {"space_id": s.space_id, "title": s.title, "warehouse_id": s.warehouse_id,
               "create_time": _ts(st.created), "update_time": _ts(st.updated)}
        if serialized if etag is None else etag:
            out["etag"] = st.etag
        if s.description is not None:
            out["description"] = s.description
        if s.parent_path:
            out["parent_path"] = s.parent_path
        if serialized:
            out["serialized_space"] = json.dumps(s.to_serialized())
        return out

    async def _h_list_spaces(self, query: dict[str, str], **_: Any) -> dict[str, Any]:
        page, token = _page(sorted(self.spaces), query)
        out: dict[str, Any] = {"spaces": [self._space_json(self.spaces[i], False) for i in page]}
        if token:
            out["next_page_token"] = token
        return out

    async def _h_get_space(self, params: dict[str, str], query: dict[str, str], **_: Any) -> dict[str, Any]:
        return self._space_json(self._state(params["space_id"]), query.get("include_serialized_space", "").lower() == "true")

    async def _h_update_space(self, params: dict[str, str], data: dict[str, Any], **_: Any) -> dict[str, Any]:

        st = self._state(params["space_id"])
        if data.get("etag") is not None and data["etag"] != st.etag:
            self.stats["etag_conflicts"] += 1
            raise _HTTPError(409, "RESOURCE_CONFLICT",
                             f"The Genie space was modified since it was read (etag {data['etag']!r} is stale)")
        new = st.space
        if "serialized_space" in data:
            try:
                new = space_from_geniespace_json(json.dumps({"serialized_space": data["serialized_space"]}))
            except ChaosLlamaError as e:
                raise _HTTPError(400, "INVALID_PARAMETER_VALUE", f"Invalid serialized_space: {e}") from None
            new = new.model_copy(update={k: getattr(st.space, k) for k in ("title", "description", "space_id", "warehouse_id", "parent_path")})
        updates = {k: data[k] for k in ("title", "description", "warehouse_id", "parent_path") if data.get(k) is not None}
        new = new.model_copy(update=updates)
        self.stats["updates"] += 1
        self.edit_space(new, space_id=params["space_id"])
        return self._space_json(st, False, etag=True)

    async def _h_create_space(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:

        for key in ("warehouse_id", "serialized_space"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise _HTTPError(400, "INVALID_PARAMETER_VALUE", f"Field '{key}' is required")
        try:
            space = space_from_geniespace_json(json.dumps({"serialized_space": data["serialized_space"]}))
        except ChaosLlamaError as e:
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", f"Invalid serialized_space: {e}") from None
        space_id = uuid.uuid4().hex
        envelope = {"title": data.get("title") or "New space", "space_id": space_id, "warehouse_id": data["warehouse_id"],
                    **{k: data[k] for k in ("description", "parent_path") if data.get(k) is not None}}
        now = time.time()
        st = _SpaceState(space.model_copy(update=envelope), _etag(space_id, 1), now, now)
        self.spaces[space_id] = st
        self.stats["spaces_created"] += 1
        return self._space_json(st, False, etag=True)

    async def _h_trash_space(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        self.trashed[params["space_id"]] = self.spaces.pop(self._state(params["space_id"]).space.space_id or params["space_id"])
        return {}

    # ------------------------------------------------------------ conversations
    async def _h_start_conversation(self, params: dict[str, str], data: dict[str, Any], user: _User,
                                    error_type: str | None = None, **_: Any) -> dict[str, Any]:
        self._state(params["space_id"])
        self._content(data)
        self._rate_limited()
        now = time.time()
        conv = _Conversation(params["space_id"], uuid.uuid4().hex, user.user_id, data["content"][:255], now, now)
        self.conversations[conv.conversation_id] = conv
        msg = self._new_message(conv, data, error_type)
        self.stats["conversations"] += 1
        return {"conversation_id": conv.conversation_id, "message_id": msg.message_id,
                "conversation": self._conversation_json(conv), "message": self._message_json(msg)}

    async def _h_create_message(self, params: dict[str, str], data: dict[str, Any], user: _User,
                                error_type: str | None = None, **_: Any) -> dict[str, Any]:
        conv = self._conversation(params, user)
        self._content(data)
        self._rate_limited()
        return self._message_json(self._new_message(conv, data, error_type))

    def _conversation(self, params: dict[str, str], user: _User) -> _Conversation:
        self._state(params["space_id"])
        conv = self.conversations.get(params["conversation_id"])
        if conv is None or conv.space_id != params["space_id"]:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Conversation {params['conversation_id']!r} does not exist")
        if conv.user_id != user.user_id and not user.manage:
            raise _HTTPError(403, "PERMISSION_DENIED", "Another user's conversation needs CAN MANAGE on the space")
        return conv

    def _conversation_json(self, conv: _Conversation) -> dict[str, Any]:
        return {"space_id": conv.space_id, "conversation_id": conv.conversation_id, "id": conv.conversation_id,
                "title": conv.title, "created_timestamp": int(conv.created * 1000),
                "last_updated_timestamp": int(conv.updated * 1000), "user_id": conv.user_id}

    @staticmethod
    def _content(data: dict[str, Any]) -> str:
        content = data.get("content")
        if not isinstance(content, str) or not content.strip():
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", "Field 'content' is required")
        return content

    def _new_message(self, conv: _Conversation, data: dict[str, Any], error_type: str | None) -> _Message:
        content = data["content"]
        now = time.time()
        conv.updated = now
        with self._rng_lock:
            delay = self.rng.uniform(*self.latency) if self.latency[1] > 0 else 0.0
        forced, forced_type = self.forced.get(content, (None, None))
        if forced == "FAILED":
            error_type = forced_type or FATAL_ERROR_TYPE
        msg = _Message(conv.space_id, conv.conversation_id, uuid.uuid4().hex, content, now, now + delay,
                       user_id=conv.user_id, forced=forced, error_type=error_type)
        self.messages[msg.message_id] = msg
        self.stats["messages"] += 1
        if msg.forced not in ("FAILED", "CANCELLED", "NEVER", *PROGRESS) and error_type is None:
            task = asyncio.get_running_loop().create_task(self._answer(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return msg

    async def _h_list_conversations(self, params: dict[str, str], query: dict[str, str], user: _User, **_: Any) -> dict[str, Any]:
        """The caller's conversations by most recent activity; with include_all (CAN MANAGE), everyone's, newest first."""
        self._state(params["space_id"])
        convs = [c for c in self.conversations.values() if c.space_id == params["space_id"]]
        if query.get("include_all", "").lower() == "true":
            if not user.manage:
                raise _HTTPError(403, "PERMISSION_DENIED", "include_all needs CAN MANAGE on the Genie space")
            convs.sort(key=lambda c: c.created, reverse=True)
        else:
            convs = sorted((c for c in convs if c.user_id == user.user_id), key=lambda c: c.updated, reverse=True)
        page, token = _page(convs, query)
        out: dict[str, Any] = {"conversations": [{"conversation_id": c.conversation_id, "title": c.title,
                                                  "created_timestamp": int(c.created * 1000), "agent_type": "CHAT"}
                                                 for c in page]}
        if token:
            out["next_page_token"] = token
        return out

    async def _h_list_messages(self, params: dict[str, str], query: dict[str, str], user: _User, **_: Any) -> dict[str, Any]:
        conv = self._conversation(params, user)
        msgs = sorted((m for m in self.messages.values() if m.conversation_id == conv.conversation_id), key=lambda m: m.created)
        page, token = _page(msgs, query)
        out: dict[str, Any] = {"messages": [self._message_json(m) for m in page]}
        if token:
            out["next_page_token"] = token
        return out

    async def _h_send_feedback(self, params: dict[str, str], data: dict[str, Any], user: _User, **_: Any) -> dict[str, Any]:
        self._conversation(params, user)
        msg = self._get_message(params)
        rating = data.get("rating")
        if rating not in FEEDBACK_RATINGS:
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", f"rating must be one of {', '.join(FEEDBACK_RATINGS)}, got {rating!r}")
        comment = data.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", "comment must be a string")
        msg.feedback = {"rating": rating, **({"comment": comment} if comment else {})}
        if comment:  # Genie keeps a feedback comment as a comment on the message too
            self._add_comment(msg, comment, user.user_id, time.time())
        self.stats["feedback"] += 1
        return {}

    # ------------------------------------------------------------ comments
    @staticmethod
    def _add_comment(msg: _Message, content: str, user_id: int, at: float) -> dict[str, Any]:
        comment = {"space_id": msg.space_id, "conversation_id": msg.conversation_id, "message_id": msg.message_id,
                   "message_comment_id": uuid.uuid4().hex, "content": content, "created_timestamp": int(at * 1000),
                   "user_id": user_id}
        msg.comments.append(comment)
        return comment

    async def _h_create_comment(self, params: dict[str, str], data: dict[str, Any], user: _User, **_: Any) -> dict[str, Any]:
        self._conversation(params, user)
        content = self._content(data)
        return dict(self._add_comment(self._get_message(params), content, user.user_id, time.time()))

    async def _h_list_message_comments(self, params: dict[str, str], query: dict[str, str], user: _User, **_: Any) -> dict[str, Any]:
        self._conversation(params, user)
        page, token = _page(self._get_message(params).comments, query)
        return {"comments": [dict(c) for c in page], **({"next_page_token": token} if token else {})}

    async def _h_list_conversation_comments(self, params: dict[str, str], query: dict[str, str], user: _User,
                                            **_: Any) -> dict[str, Any]:
        conv = self._conversation(params, user)
        msgs = sorted((m for m in self.messages.values() if m.conversation_id == conv.conversation_id), key=lambda m: m.created)
        page, token = _page([c for m in msgs for c in m.comments], query)
        return {"comments": [dict(c) for c in page], **({"next_page_token": token} if token else {})}

    # ------------------------------------------------------------ past traffic
    def load_conversations(self, conversations: Any, *, space_id: str | None = None) -> int:
        """Serve past traffic: conversations in the export format of `tools/logs.py` (each with its
        `messages`, Genie's message JSON plus `comments`), at their own timestamps and users, as
        Genie recorded them (nothing is asked again). Returns the number of messages loaded."""

        space_id = space_id or self.space_id
        self._state(space_id)
        n = 0
        for c in conversations:
            msgs = list(c.get("messages") or [])
            created = (c.get("created_timestamp") or (msgs[0].get("created_timestamp") if msgs else 0) or 0) / 1000
            user_id = int(c.get("user_id") or (msgs[0].get("user_id") if msgs else 1) or 1)
            conv = _Conversation(space_id, c.get("conversation_id") or uuid.uuid4().hex, user_id,
                                 (c.get("title") or (msgs[0].get("content") if msgs else "") or "")[:255], created, created)
            self.conversations[conv.conversation_id] = conv
            for m in msgs:
                at = (m.get("created_timestamp") or 0) / 1000 or created
                query = next((a["query"] for a in m.get("attachments") or [] if a.get("query")), None)
                note = next((a["text"].get("content") for a in m.get("attachments") or [] if a.get("text")), None)
                status, error = m.get("status") or "COMPLETED", m.get("error") or {}
                answer = Answer(status="COMPLETED" if query else "NO_SQL", sql=query.get("query") if query else None,
                                description=query.get("description") if query else None, reason=note)
                msg = _Message(space_id, conv.conversation_id, m.get("message_id") or uuid.uuid4().hex, m.get("content") or "",
                               at, at, user_id=int(m.get("user_id") or user_id), answer=answer,
                               forced="CANCELLED" if status == "CANCELLED" else None,
                               error_type=(error.get("type") or "SQL_EXECUTION_EXCEPTION") if status == "FAILED" else None,
                               error_text=error.get("error"), feedback=dict(m["feedback"]) if m.get("feedback") else None,
                               updated=(m.get("last_updated_timestamp") or 0) / 1000 or at)
                for cm in m.get("comments") or []:
                    self._add_comment(msg, cm.get("content") or "", int(cm.get("user_id") or msg.user_id),
                                      (cm.get("created_timestamp") or 0) / 1000 or at)
                self.messages[msg.message_id] = msg
                conv.updated = max(conv.updated, msg.updated or at)
                n += 1
        self.stats["loaded_messages"] += n
        return n

    async def _answer(self, msg: _Message) -> None:
        space = self.spaces[msg.space_id].space
        try:
            answer = await asyncio.to_thread(self.engine.ask_sync, space, msg.content)
        except Exception as e:  # noqa: BLE001 - becomes a FAILED message

            answer = Answer(status="ERROR", error=f"{type(e).__name__}: {e}", reason="engine failure")
        if answer.status == "COMPLETED" and answer.result is not None:
            msg.statement_id = self._put_statement(answer.result, None)
        msg.answer = answer

    def _get_message(self, params: dict[str, str]) -> _Message:
        msg = self.messages.get(params["message_id"])
        if msg is None or msg.conversation_id != params["conversation_id"] or msg.space_id != params["space_id"]:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Message {params['message_id']!r} does not exist")
        return msg

    def _status(self, msg: _Message) -> str:
        now = time.time()
        if msg.forced == "NEVER":
            return "ASKING_AI"
        if msg.forced in PROGRESS:
            return msg.forced
        if msg.forced == "CANCELLED":
            return "CANCELLED"
        if msg.error_type is not None:
            return "FAILED"
        if msg.answer is None or now < msg.ready_at:
            span = max(msg.ready_at - msg.created, 1e-9)
            return PROGRESS[min(len(PROGRESS) - 1, int((now - msg.created) / span * len(PROGRESS)))]
        if msg.forced == "QUERY_RESULT_EXPIRED" and msg.rerun_statement_id is None:
            return "QUERY_RESULT_EXPIRED"
        if msg.answer.status in ("FAILED", "ERROR"):
            return "FAILED"
        return "COMPLETED"

    def _message_json(self, msg: _Message) -> dict[str, Any]:
        status = self._status(msg)
        out: dict[str, Any] = {
            "space_id": msg.space_id, "conversation_id": msg.conversation_id, "message_id": msg.message_id,
            "id": msg.message_id, "content": msg.content, "status": status, "user_id": msg.user_id,
            "created_timestamp": int(msg.created * 1000), "last_updated_timestamp": int((msg.updated or time.time()) * 1000),
        }
        if status == "FAILED":
            err = msg.error_text or (f"Injected fault: Genie failed to answer ({msg.error_type})" if msg.error_type else (
                (msg.answer.error or msg.answer.reason) if msg.answer else "failed"))
            out["error"] = {"error": err, "type": msg.error_type or "SQL_EXECUTION_EXCEPTION"}
        if msg.feedback is not None:
            out["feedback"] = dict(msg.feedback)
        answer = msg.answer
        if status in ("COMPLETED", "FAILED", "QUERY_RESULT_EXPIRED") and answer is not None:
            atts = []
            if answer.sql:
                statement_id = msg.rerun_statement_id or msg.statement_id
                rows = self.statements[statement_id]["table"].num_rows if statement_id else None
                query: dict[str, Any] = {"id": msg.attachment_id, "query": answer.sql, "title": msg.content[:80],
                                         "description": answer.description or f"Answer to: {msg.content}"}
                if statement_id and msg.forced != "NO_STATEMENT_ID":
                    query["statement_id"] = statement_id
                if rows is not None:
                    query["query_result_metadata"] = {"row_count": rows, "is_truncated": False}
                atts.append({"attachment_id": msg.attachment_id, "query": query})
            if not answer.sql or msg.forced == "NO_SQL":
                atts = [{"attachment_id": msg.text_attachment_id,
                         "text": {"id": msg.text_attachment_id, "content": answer.reason or "I could not answer that with the data in this space."}}]
            out["attachments"] = atts
        return out

    async def _h_get_message(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        self.stats["polls"] += 1
        return self._message_json(self._get_message(params))

    def _query_attachment(self, params: dict[str, str]) -> _Message:
        msg = self._get_message(params)
        if msg.answer is None or not msg.answer.sql or self._status(msg) not in ("COMPLETED", "QUERY_RESULT_EXPIRED", "FAILED"):
            raise _HTTPError(400, "INVALID_STATE", "The message has no query result")
        if params.get("attachment_id") and params["attachment_id"] != msg.attachment_id:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Attachment {params['attachment_id']!r} does not exist")
        return msg

    async def _h_attachment_query_result(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        msg = self._query_attachment(params)
        if self._status(msg) == "QUERY_RESULT_EXPIRED":
            raise _HTTPError(400, "INVALID_STATE", "The query result has expired; re-run it with execute-query")
        sid = msg.rerun_statement_id or msg.statement_id
        if sid is None:
            return {"statement_response": {"status": {"state": "FAILED", "error": {"message": msg.answer.error or "failed"}}}}
        self.stats["attachment_results"] += 1
        return {"statement_response": self._statement_json(sid, with_result=True)}

    async def _h_message_query_result(self, params: dict[str, str], **kw: Any) -> dict[str, Any]:
        return await self._h_attachment_query_result(params={**params, "attachment_id": ""}, **kw)

    async def _h_execute_attachment_query(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        msg = self._query_attachment(params)
        space = self.spaces[msg.space_id].space
        table = await asyncio.to_thread(self.engine.execute, msg.answer.sql, space=space)
        msg.rerun_statement_id = self._put_statement(table, None)
        return {"statement_response": self._statement_json(msg.rerun_statement_id, with_result=True)}

    # ------------------------------------------------------------ statements
    def _put_statement(self, table: Any, row_limit: int | None, error: str | None = None) -> str:
        sid = uuid.uuid4().hex
        truncated = False
        if table is not None and row_limit is not None and table.num_rows > row_limit:
            table, truncated = table.slice(0, row_limit), True
        self.statements[sid] = {"table": table, "truncated": truncated, "error": error}
        return sid

    def _chunk(self, sid: str, index: int) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self.statements[sid]["table"]
        start = index * self.chunk_rows
        part = table.slice(start, self.chunk_rows)
        cols = []
        for col in part.columns:
            # Databricks returns every value as a string (JSON_ARRAY format), NULL as null
            cols.append((pc.cast(col, pa.string()) if not pa.types.is_string(col.type) else col).to_pylist())
        rows = [list(r) for r in zip(*cols)] if cols else []
        out: dict[str, Any] = {"chunk_index": index, "row_offset": start, "row_count": part.num_rows, "data_array": rows}
        if start + self.chunk_rows < table.num_rows:
            out["next_chunk_index"] = index + 1
            out["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{sid}/result/chunks/{index + 1}"
        return out

    def _statement_json(self, sid: str, *, with_result: bool) -> dict[str, Any]:
        st = self.statements.get(sid)
        if st is None:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {sid!r} does not exist")
        if st["error"]:
            return {"statement_id": sid, "status": {"state": "FAILED", "error": {"error_code": "BAD_REQUEST", "message": st["error"]}}}
        table = st["table"]
        n_chunks = max(1, math.ceil(table.num_rows / self.chunk_rows))
        columns = [{"name": f.name, "position": i, "type_name": _type_name(f.type), "type_text": _type_name(f.type)}
                   for i, f in enumerate(table.schema)]
        manifest = {"format": "JSON_ARRAY", "schema": {"column_count": len(columns), "columns": columns},
                    "total_chunk_count": n_chunks, "total_row_count": table.num_rows, "truncated": st["truncated"],
                    "chunks": [{"chunk_index": i, "row_offset": i * self.chunk_rows,
                                "row_count": min(self.chunk_rows, table.num_rows - i * self.chunk_rows)} for i in range(n_chunks)]}
        out = {"statement_id": sid, "status": {"state": "SUCCEEDED"}, "manifest": manifest}
        if with_result:
            out["result"] = self._chunk(sid, 0)
        return out

    async def _h_execute_statement(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:

        statement = data.get("statement")
        if not isinstance(statement, str) or not statement.strip():
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", "Field 'statement' is required")
        if data.get("warehouse_id") != self.warehouse_id:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {data.get('warehouse_id')!r} does not exist")
        if (data.get("format") or "JSON_ARRAY") != "JSON_ARRAY" or (data.get("disposition") or "INLINE") != "INLINE":
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", "The emulator serves format=JSON_ARRAY, disposition=INLINE only")
        self.stats["statements"] += 1
        try:
            table = await asyncio.to_thread(self.engine.execute, statement, space=self.space)
            sid = self._put_statement(table, data.get("row_limit"))
        except ChaosLlamaError as e:
            sid = self._put_statement(None, None, error=str(e))
        return self._statement_json(sid, with_result=True)

    async def _h_get_warehouse(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        if params["warehouse_id"] != self.warehouse_id:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {params['warehouse_id']!r} does not exist")
        return {"id": self.warehouse_id, "name": "Emulated warehouse", "state": "RUNNING", "warehouse_type": "PRO"}

    async def _h_get_statement(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        return self._statement_json(params["statement_id"], with_result=True)

    async def _h_get_chunk(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        sid, index = params["statement_id"], int(params["chunk"])
        self._statement_json(sid, with_result=False)  # 404 for unknown statements
        return self._chunk(sid, index)

    # ------------------------------------------------------------ model serving
    async def _h_serving_chat(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """A chat completion from a served endpoint, in the OpenAI format model serving answers with."""
        name, messages = data.get("model"), data.get("messages")
        if not isinstance(name, str) or not name:
            raise _HTTPError(400, "BAD_REQUEST", "Field 'model' (the serving endpoint's name) is required")
        if name not in self.serving:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist.")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and "content" in m for m in messages):
            raise _HTTPError(400, "BAD_REQUEST", "Field 'messages' must be a non-empty list of {role, content}")
        try:
            text = await asyncio.to_thread(self.serving[name], messages)
        except KeyError as e:
            raise _HTTPError(400, "BAD_REQUEST", f"the emulator has no recorded reply for this request ({e})") from None
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
        completion_tokens = len(text) // 4 + 1
        self.stats["serving_calls"] += 1
        self.stats["serving_tokens"] += prompt_tokens + completion_tokens
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()), "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    # ------------------------------------------------------------ benchmark evaluations
    async def _h_create_eval_run(self, params: dict[str, str], data: dict[str, Any], **_: Any) -> dict[str, Any]:
        st = self._state(params["space_id"])
        bench = st.space.serialized.benchmarks
        questions = {q.id: q for q in (bench.questions if bench else []) if q.id}
        wanted = data.get("benchmark_question_ids") or list(questions)
        missing = [q for q in wanted if q not in questions]
        if missing:
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", f"Benchmark question {missing[0]!r} does not exist in this space")
        self._rate_limited()
        rid = uuid.uuid4().hex
        now = int(time.time() * 1000)
        run = {"eval_run_id": rid, "space_id": params["space_id"], "eval_run_status": "RUNNING", "created_timestamp": now,
               "last_updated_timestamp": now, "num_questions": len(wanted), "num_done": 0, "num_correct": 0,
               "num_needs_review": 0, "run_by_user": 1, "results": {}}
        self.eval_runs[rid] = run
        task = asyncio.get_running_loop().create_task(self._run_eval(run, st.space, [questions[q] for q in wanted]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _public_run(run)

    async def _run_eval(self, run: dict[str, Any], space: Space, questions: list[Any]) -> None:
        try:
            for bq in questions:
                result = await asyncio.to_thread(self._assess, space, bq)
                result["space_id"] = run["space_id"]
                run["results"][result["result_id"]] = result
                run["num_done"] += 1
                run["num_correct"] += result["assessment"] == "GOOD"
                run["num_needs_review"] += result["assessment"] == "NEEDS_REVIEW"
                run["last_updated_timestamp"] = int(time.time() * 1000)
            run["eval_run_status"] = "DONE"
        except Exception:  # noqa: BLE001 - recorded as the run's status
            run["eval_run_status"] = "EVALUATION_FAILED"

    def _assess(self, space: Space, bq: Any) -> dict[str, Any]:
        """Answer one benchmark question and assess it like Genie: GOOD/BAD/NEEDS_REVIEW + reasons."""

        question, golds = text(bq.question), bq.gold_sql
        answer = self.engine.ask_sync(space, question)
        expected = []
        for sql in golds:
            try:
                expected.append(GoldResult(sql=sql, result=self.engine.execute(sql, space=space)))
            except Exception as e:  # noqa: BLE001
                expected.append(GoldResult(sql=sql, error=str(e)))
        reasons: list[str] = []
        if not golds or all(g.error for g in expected) or not answer.sql:
            assessment = "NEEDS_REVIEW"
        else:
            case = EvalCase(id=bq.id or "q", question=question, gold_sql=golds)
            verdict = _judge_fn(get_judge("execution"))(case, generated=answer, expected=expected, space=space)
            assessment = "GOOD" if verdict.value is True else "BAD"
            if assessment == "BAD":
                fa = _judge_fn(get_judge("failure_analysis"))(case, generated=answer, expected=expected, space=space)
                for code in (verdict.details.get("reason"), fa.value, fa.details.get("result_reason")):
                    mapped = _score_reason(code)
                    if mapped and mapped not in reasons:
                        reasons.append(mapped)
                reasons = reasons or ["LLM_JUDGE_OTHER"]
        rid = uuid.uuid4().hex
        expected_resp = [{"response": g, "response_type": "SQL"} for g in golds]
        actual_resp = [{"response": answer.sql, "response_type": "SQL"}] if answer.sql else [
            {"response": answer.reason or "no answer", "response_type": "TEXT"}]
        return {"result_id": rid, "benchmark_question_id": bq.id, "question": question,
                "benchmark_answer": golds[0] if golds else None, "status": "DONE", "created_by_user": 1,
                "assessment": assessment, "assessment_reasons": reasons, "manual_assessment": False,
                "actual_response": actual_resp, "expected_response": expected_resp}

    def _run(self, params: dict[str, str]) -> dict[str, Any]:
        run = self.eval_runs.get(params["eval_run_id"])
        if run is None or run["space_id"] != params["space_id"]:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Eval run {params['eval_run_id']!r} does not exist")
        return run

    async def _h_get_eval_run(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        return _public_run(self._run(params))

    async def _h_list_eval_runs(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        runs = [r for r in self.eval_runs.values() if r["space_id"] == params["space_id"]]
        return {"eval_runs": [_public_run(r) for r in runs]}

    async def _h_list_eval_results(self, params: dict[str, str], query: dict[str, str], **_: Any) -> dict[str, Any]:
        page, token = _page(list(self._run(params)["results"].values()), query, default_size=50)
        keys = ("result_id", "space_id", "benchmark_question_id", "question", "benchmark_answer", "status", "created_by_user")
        out: dict[str, Any] = {"eval_results": [{k: r[k] for k in keys} for r in page]}
        if token:
            out["next_page_token"] = token
        return out

    async def _h_get_eval_result(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        run = self._run(params)
        r = run["results"].get(params["result_id"])
        if r is None:
            raise _HTTPError(404, "RESOURCE_DOES_NOT_EXIST", f"Eval result {params['result_id']!r} does not exist")
        keys = ("result_id", "space_id", "benchmark_question_id", "assessment", "assessment_reasons", "manual_assessment",
                "actual_response", "expected_response")
        return {**{k: r[k] for k in keys}, "eval_run_status": run["eval_run_status"]}


    # ------------------------------------------------------------ Unity Catalog tables
    # The tables of the served space as Unity Catalog's Tables API describes them: full name = the
    # space identifier, columns and types from the DuckDB table behind it, comments from DuckDB's
    # COMMENT ON (else the space's descriptions). Self-contained: only `_route` knows about it.
    _UC_ROUTES = [
        ("GET", r"/api/2\.1/unity-catalog/tables", "uc_list_tables"),
        ("GET", r"/api/2\.1/unity-catalog/tables/(?P<full_name>[^/]+)", "uc_get_table"),
    ]

    def _uc_tables(self) -> dict[str, dict[str, Any]]:
        space = self.space
        table_map = self.engine.context(space)[1]
        out: dict[str, dict[str, Any]] = {}
        for table in space.serialized.data_sources.tables:
            duck = table_map.get(table.identifier)
            if duck is None:
                continue
            catalog, schema, name = table.identifier.split(".")
            out[table.identifier.lower()] = _uc_table_info(self.engine.con, duck, catalog, schema, name, table)
        return out

    async def _h_uc_list_tables(self, query: dict[str, str], **_: Any) -> dict[str, Any]:
        catalog, schema = query.get("catalog_name"), query.get("schema_name")
        if not catalog or not schema:
            raise _HTTPError(400, "INVALID_PARAMETER_VALUE", "catalog_name and schema_name are required")
        tables = [t for t in (await asyncio.to_thread(self._uc_tables)).values()
                  if t["catalog_name"].lower() == catalog.lower() and t["schema_name"].lower() == schema.lower()]
        if not tables:
            raise _HTTPError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{catalog}.{schema}' does not exist.")
        size = int(query.get("max_results") or 50) or 50
        start = int(query.get("page_token") or 0)
        out: dict[str, Any] = {"tables": tables[start:start + size]}
        if start + size < len(tables):
            out["next_page_token"] = str(start + size)
        return out

    async def _h_uc_get_table(self, params: dict[str, str], **_: Any) -> dict[str, Any]:
        from urllib.parse import unquote

        full_name = unquote(params["full_name"])
        table = (await asyncio.to_thread(self._uc_tables)).get(full_name.lower())
        if table is None:
            raise _HTTPError(404, "TABLE_DOES_NOT_EXIST", f"Table '{full_name}' does not exist.")
        return table


def _page(items: list[Any], query: dict[str, str], default_size: int = 100) -> tuple[list[Any], str | None]:
    """One page of `items` by the API's page_size / page_token (an offset, opaque to clients)."""
    try:
        size, start = int(query.get("page_size") or default_size), int(query.get("page_token") or 0)
    except ValueError:
        raise _HTTPError(400, "INVALID_PARAMETER_VALUE", "page_size and page_token must come from the API") from None
    size = max(1, size)
    return items[start:start + size], (str(start + size) if start + size < len(items) else None)


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("results", "space_id")}


def _judge_fn(spec: Any) -> Any:
    return getattr(spec, "fn", spec)


_SCORE_REASONS = {
    "EMPTY_RESULT", "RESULT_MISSING_ROWS", "RESULT_EXTRA_ROWS", "RESULT_MISSING_COLUMNS", "RESULT_EXTRA_COLUMNS",
    "SINGLE_CELL_DIFFERENCE", "EMPTY_GOOD_SQL", "COLUMN_TYPE_DIFFERENCE",
}
_LLM_REASONS = {
    "MISSING_OR_INCORRECT_FILTER": "LLM_JUDGE_MISSING_OR_INCORRECT_FILTER",
    "MISSING_FILTER": "LLM_JUDGE_MISSING_OR_INCORRECT_FILTER",
    "WRONG_FILTER": "LLM_JUDGE_MISSING_OR_INCORRECT_FILTER",
    "MISSING_JOIN": "LLM_JUDGE_MISSING_OR_INCORRECT_JOIN",
    "WRONG_JOIN": "LLM_JUDGE_MISSING_OR_INCORRECT_JOIN",
    "WRONG_AGGREGATION": "LLM_JUDGE_MISSING_OR_INCORRECT_AGGREGATION",
    "WRONG_GROUPING": "LLM_JUDGE_MISSING_OR_INCORRECT_AGGREGATION",
    "WRONG_COLUMNS": "LLM_JUDGE_INCORRECT_TABLE_OR_FIELD_USAGE",
    "WRONG_TABLE": "LLM_JUDGE_INCORRECT_TABLE_OR_FIELD_USAGE",
    "WRONG_ORDERING_OR_LIMIT": "LLM_JUDGE_FORMATTING_ERROR",
}


def _score_reason(code: Any) -> str | None:
    """Our failure categories in Genie's ScoreReason vocabulary (None when there is no equivalent)."""
    if not isinstance(code, str):
        return None
    code = code.upper()
    if code in _SCORE_REASONS:
        return code
    return _LLM_REASONS.get(code)


def _type_name(t: Any) -> str:
    import pyarrow as pa

    checks = ((pa.types.is_boolean, "BOOLEAN"), (pa.types.is_int8, "BYTE"), (pa.types.is_int16, "SHORT"),
              (pa.types.is_int32, "INT"), (pa.types.is_integer, "LONG"), (pa.types.is_float32, "FLOAT"),
              (pa.types.is_floating, "DOUBLE"), (pa.types.is_decimal, "DECIMAL"), (pa.types.is_date, "DATE"),
              (pa.types.is_timestamp, "TIMESTAMP"), (pa.types.is_string, "STRING"), (pa.types.is_large_string, "STRING"),
              (pa.types.is_binary, "BINARY"))
    return next((name for check, name in checks if check(t)), "STRING")


_UC_TYPES = (("BOOLEAN", "BOOLEAN", "boolean"), ("TINYINT", "BYTE", "tinyint"), ("SMALLINT", "SHORT", "smallint"),
             ("INTEGER", "INT", "int"), ("BIGINT", "LONG", "bigint"), ("HUGEINT", "DECIMAL", "decimal(38,0)"),
             ("FLOAT", "FLOAT", "float"), ("DOUBLE", "DOUBLE", "double"), ("DATE", "DATE", "date"),
             ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "timestamp"), ("TIMESTAMP", "TIMESTAMP_NTZ", "timestamp_ntz"),
             ("BLOB", "BINARY", "binary"), ("INTERVAL", "INTERVAL", "interval"))


def _uc_type(duck_type: str) -> tuple[str, str]:
    """A DuckDB column type as Unity Catalog's (type_name, type_text)."""
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return "DECIMAL", t.lower().replace(" ", "")
    if t.endswith("[]"):
        return "ARRAY", f"array<{_uc_type(duck_type[:-2])[1]}>"
    return next(((name, text) for duck, name, text in _UC_TYPES if t == duck), ("STRING", "string"))


def _uc_table_info(con: Any, duck: str, catalog: str, schema: str, name: str, table: Any) -> dict[str, Any]:
    """One TableInfo (the Tables API's shape) for the DuckDB table `duck` behind a space table."""
    from sqlglot import exp

    ref = exp.to_table(duck, dialect="duckdb")
    duck_schema = ref.db or "main"
    rows = con.execute(
        "SELECT c.column_name, c.data_type, c.comment, t.comment FROM duckdb_columns() c JOIN duckdb_tables() t "
        "USING (database_name, schema_name, table_name) WHERE c.database_name = current_database() "
        "AND c.schema_name = ? AND c.table_name = ? ORDER BY c.column_index", [duck_schema, ref.name]).fetchall()
    described = {c.column_name.lower(): text(c.description) for c in table.column_configs if c.description}
    columns = []
    for i, (col, dtype, comment, _) in enumerate(rows):
        type_name, type_text = _uc_type(str(dtype))
        info = {"name": col, "type_name": type_name, "type_text": type_text, "position": i, "nullable": True}
        if comment or described.get(col.lower()):
            info["comment"] = comment or described[col.lower()]
        columns.append(info)
    out = {"name": name, "catalog_name": catalog, "schema_name": schema, "full_name": f"{catalog}.{schema}.{name}",
           "table_type": "MANAGED", "data_source_format": "DELTA", "columns": columns}
    comment = (rows[0][3] if rows else None) or text(table.description)
    if comment:
        out["comment"] = comment
    return out
