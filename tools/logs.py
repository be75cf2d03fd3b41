"""Real traffic in the store: a Genie space's conversations, messages, SQL, statuses, errors and feedback.

This is where the data flywheel starts (`tools/traffic.py` turns the traffic into clusters, failure
and regression candidates and a "fix these first" list). Two sources give the same records:

- **Genie**, through the backend's databricks-sdk calls (`list_conversations` with ``include_all``,
  which needs CAN MANAGE; `list_conversation_messages`; `list_message_comments` for rated messages).
  Every call goes through the backend's retries (429 and 503 wait out Retry-After, transient errors
  are retried); ``calls_per_minute`` spaces them further.
- **A file export**: JSON or JSONL in Genie's own JSON, one conversation per line with its
  ``messages`` (what `chaos-llama logs export` writes and the emulator loads), or one message per line.

Incremental: the cursor (the newest conversation's creation time imported) lives in the store. The
next import lists conversations newest first and reads only those created after the cursor minus
``revisit_days`` (a conversation younger than that may have gained follow-up questions or late
thumbs); messages are upserted and counted as new or changed, so nothing is imported twice.
Resumable: each conversation's messages and the pass's progress are written in one transaction; an
import killed midway (or stopped by ``max_conversations``) continues its pass where it stopped.

Question text and comments are user data: they are redacted on the way in as told (``pii``, the
default, masks e-mail addresses, long numbers such as phone or card numbers, and the user's own
patterns; ``all`` keeps no text at all) and written only to the store. Nothing here sends them
anywhere; clustering and grounding run locally on the store's copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .backends.base import Backend
from .errors import InvalidInput, did_you_mean
from .store import Store

CURSOR = "logs_cursor"  # document kind of the import cursor (key: the space id)
DAY_MS = 86_400_000
# Genie's terminal statuses plus NO_SQL: a completed message that holds no query (a text answer or a clarification).
LogStatus = Literal["COMPLETED", "NO_SQL", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED", "IN_PROGRESS"]
_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"}


# ---------------------------------------------------------------- records
class LoggedMessage(BaseModel):
    """One user question asked of a Genie space and what happened to it."""

    space_id: str
    conversation_id: str
    message_id: str
    user_id: int | None = None
    question: str = Field(description="the question as the user typed it, redacted as the import was told")
    status: LogStatus
    sql: str | None = Field(None, description="the SQL Genie generated, if any")
    error: str | None = None
    error_type: str | None = None
    rating: Literal["POSITIVE", "NEGATIVE"] | None = None
    comments: list[str] = Field(default_factory=list, description="the feedback comment and comments on the message")
    created_ms: int | None = None
    updated_ms: int | None = None
    redacted: bool = False
    source: str = "genie"


class Redaction(BaseModel):
    """How question text and comments are kept: ``none`` as typed, ``pii`` (default) with e-mail addresses,
    long numbers and `patterns` masked, ``all``: no text at all (a digest keeps repeats recognizable)."""

    mode: Literal["none", "pii", "all"] = "pii"
    patterns: list[str] = Field(default_factory=list, description="more regular expressions to mask")

    def apply(self, text: str) -> tuple[str, bool]:
        """The text as it may be stored, and whether anything was masked.

        >>> Redaction().apply("orders of jane.doe@example.com, tel +1 415 555 0100, in 2024")
        ('orders of [email], tel [number], in 2024', True)
        """
        if self.mode == "none" or not text:
            return text, False
        if self.mode == "all":
            return f"[redacted {hashlib.sha256(text.strip().lower().encode()).hexdigest()[:8]}]", True
        out = _EMAIL.sub("[email]", text)
        out = _NUMBER.sub(lambda m: m.group(0) if _is_dates(m.group(0)) else "[number]", out)
        for p in self.patterns:
            try:
                out = re.sub(p, "[redacted]", out, flags=re.IGNORECASE)
            except re.error as e:
                raise InvalidInput(f"redaction pattern {p!r} is not a regular expression: {e}", field="redact_pattern") from None
        return out, out != text


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{6,}\d(?![\w.])")


def _is_dates(run: str) -> bool:
    """A run of digits that is years or dates ('2023-01-01', '2023 2024'), not a phone or card number."""
    groups = re.findall(r"\d+", run)
    return sum(map(len, groups)) < 9 or all((len(g) == 4 and g[:2] in ("19", "20")) or len(g) <= 2 for g in groups)


class ImportSettings(BaseModel):
    """How `import_from_genie` reads a space's traffic."""

    include_all: bool = Field(True, description="every user's conversations (needs CAN MANAGE); False: the caller's own")
    revisit_days: float = Field(7, ge=0, description="re-read conversations this much older than the newest imported one")
    comments: bool = Field(True, description="read the comments of rated messages (one call each)")
    redaction: Redaction = Field(default_factory=Redaction)
    calls_per_minute: float | None = Field(None, gt=0, description="space API calls to at most this rate (429s are always honoured)")
    max_conversations: int | None = Field(None, ge=1, description="stop after reading this many; the next import resumes")


class ImportResult(BaseModel):
    """What one import did."""

    space_id: str
    source: str
    conversations_listed: int = 0
    conversations_read: int = 0
    conversations_skipped: int = Field(0, description="already read in this (resumed) pass")
    messages_new: int = 0
    messages_changed: int = Field(0, description="messages seen before whose status, SQL, feedback or comments changed")
    messages_total: int = Field(0, description="messages of this space in the store after the import")
    rated: int = Field(0, description="messages read with a thumbs-up or thumbs-down")
    redacted: int = Field(0, description="messages read whose text had something masked")
    calls: int = Field(0, description="API calls made")
    resumed: bool = False
    complete: bool = True
    cursor_ms: int | None = Field(None, description="creation time of the newest conversation imported")

    def line(self) -> str:
        state = "complete" if self.complete else "partial (run again to continue)"
        return (f"{self.source}: {self.conversations_read} conversations read ({self.conversations_skipped} already imported in "
                f"this pass), {self.messages_new} new and {self.messages_changed} changed messages, {self.rated} rated, "
                f"{self.redacted} redacted; {self.messages_total} messages of space {self.space_id} in the store; {state}")


# ---------------------------------------------------------------- Genie JSON -> records
def message_record(d: dict[str, Any], *, space_id: str, source: str, redaction: Redaction,
                   comments: Iterable[dict[str, Any]] = ()) -> LoggedMessage:
    """A Genie message (its JSON: content, status, attachments, error, feedback) as a stored record."""
    status = str(d.get("status") or "")
    query = next((a["query"] for a in d.get("attachments") or [] if isinstance(a, dict) and a.get("query")), None)
    sql = (query.get("query") or None) if isinstance(query, dict) else None
    if status == "COMPLETED" and not sql:
        status = "NO_SQL"
    elif status not in _TERMINAL:
        status = "IN_PROGRESS"
    error = d.get("error") or {}
    feedback = d.get("feedback") or {}
    rating = feedback.get("rating") if feedback.get("rating") in ("POSITIVE", "NEGATIVE") else None
    texts = [feedback.get("comment")] + [c.get("content") for c in comments]
    question, masked = redaction.apply(str(d.get("content") or ""))
    kept: list[str] = []
    for t in texts:
        if isinstance(t, str) and t.strip():
            t, m = redaction.apply(t)
            masked |= m
            if t not in kept:
                kept.append(t)
    return LoggedMessage(
        space_id=space_id, conversation_id=str(d.get("conversation_id") or ""), message_id=str(d.get("message_id") or d.get("id") or ""),
        user_id=d.get("user_id"), question=question, status=status, sql=sql, error=error.get("error"), error_type=error.get("type"),
        rating=rating, comments=kept, created_ms=d.get("created_timestamp"), updated_ms=d.get("last_updated_timestamp"),
        redacted=masked, source=source)


def genie_json(m: LoggedMessage) -> dict[str, Any]:
    """A stored record back as Genie's message JSON (what `export_logs` writes; `message_record` reads it back)."""
    out: dict[str, Any] = {"space_id": m.space_id, "conversation_id": m.conversation_id, "message_id": m.message_id,
                           "content": m.question, "status": "COMPLETED" if m.status in ("NO_SQL", "IN_PROGRESS") else m.status,
                           "created_timestamp": m.created_ms, "last_updated_timestamp": m.updated_ms, "user_id": m.user_id}
    if m.status == "IN_PROGRESS":
        out["status"] = "SUBMITTED"
    if m.sql:
        out["attachments"] = [{"attachment_id": f"q-{m.message_id}", "query": {"query": m.sql}}]
    elif m.status == "NO_SQL":
        out["attachments"] = [{"attachment_id": f"t-{m.message_id}", "text": {"content": "Genie answered without SQL"}}]
    if m.error or m.error_type:
        out["error"] = {"error": m.error, "type": m.error_type}
    if m.rating:
        out["feedback"] = {"rating": m.rating}
    if m.comments:
        out["comments"] = [{"content": c, "user_id": m.user_id} for c in m.comments]
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------- import from Genie
class _Pacer:
    def __init__(self, per_minute: float | None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next_at = 0.0
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        wait = self.next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.next_at = time.monotonic() + self.interval


def _cursor(store: Store, space_id: str) -> dict[str, Any]:
    body = store.get_document(CURSOR, space_id)
    return json.loads(body) if body else {"high_water_ms": None, "pass": None}


def import_from_genie(store: Store, backend: Backend, space_id: str, settings: ImportSettings | None = None) -> ImportResult:
    """Import what is new in a Genie space's traffic since the last import (see the module docstring).

    Args:
        backend: a backend that keeps conversations (`DatabricksGenie`, also against the emulator).
        space_id: the Genie space (the store keys traffic by it).
    """
    settings = settings or ImportSettings()
    pace = _Pacer(settings.calls_per_minute)
    cursor = _cursor(store, space_id)
    result = ImportResult(space_id=space_id, source="genie", resumed=cursor.get("pass") is not None)
    state = cursor.get("pass") or {"floor_ms": None if cursor.get("high_water_ms") is None else
                                   int(cursor["high_water_ms"] - settings.revisit_days * DAY_MS),
                                   "top_ms": cursor.get("high_water_ms"), "done": []}
    done = set(state["done"])
    token: str | None = None
    while True:
        pace()
        page, token = backend.list_conversations(include_all=settings.include_all, page_token=token)
        result.conversations_listed += len(page)
        below = 0
        for conv in page:
            cid, created = conv.get("conversation_id"), conv.get("created_timestamp")
            if state["floor_ms"] is not None and created is not None and created < state["floor_ms"]:
                below += 1
                continue
            if cid in done:
                result.conversations_skipped += 1
                continue
            records = [m.model_dump() for m in _read_conversation(backend, space_id, cid, settings, pace)]
            done.add(cid)
            state["done"] = sorted(done)
            state["top_ms"] = max(filter(None, (state["top_ms"], created)), default=None)
            # the messages and the pass's progress land together: a kill never loses or repeats a conversation
            new, changed = store.put_log_messages(space_id, records, document=(CURSOR, space_id, json.dumps({**cursor, "pass": state})))
            result.messages_new += new
            result.messages_changed += changed
            result.conversations_read += 1
            result.rated += sum(1 for r in records if r["rating"])
            result.redacted += sum(1 for r in records if r["redacted"])
            if settings.max_conversations and result.conversations_read >= settings.max_conversations:
                result.complete = False
                break
        if not result.complete or not token or (page and below == len(page)):
            break
    if result.complete:  # the pass is over: the cursor moves, the next import starts a new pass
        store.put_document(CURSOR, space_id, json.dumps({"high_water_ms": state["top_ms"], "pass": None}))
    result.cursor_ms = state["top_ms"]
    result.calls = pace.calls
    result.messages_total = store.log_spaces().get(space_id, 0)
    return result


def _read_conversation(backend: Backend, space_id: str, conversation_id: str, settings: ImportSettings,
                       pace: _Pacer) -> list[LoggedMessage]:
    out: list[LoggedMessage] = []
    token: str | None = None
    while True:
        pace()
        messages, token = backend.list_conversation_messages(conversation_id, page_token=token)
        for m in messages:
            comments: list[dict[str, Any]] = []
            if settings.comments and (m.get("feedback") or {}).get("rating") in ("POSITIVE", "NEGATIVE"):
                pace()
                comments = backend.list_message_comments(conversation_id, m.get("message_id") or m.get("id"))
            out.append(message_record({**m, "conversation_id": m.get("conversation_id") or conversation_id}, space_id=space_id,
                                      source="genie", redaction=settings.redaction, comments=comments))
        if not token:
            return out


# ---------------------------------------------------------------- file exports
def read_export(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, conversation) pairs of a file export: JSONL of conversations or of messages, or a JSON
    document (a list, or ``{"conversations": [...]}``). Messages of one conversation are gathered."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput("no such file: expected a JSON/JSONL export of Genie conversations", source=str(path), field="file")
    text = path.read_text(encoding="utf-8")
    items: list[tuple[int, Any]]
    stripped = text.lstrip()
    if stripped.startswith("[") or path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"not valid JSON: {e.msg}", source=str(path), line=e.lineno) from None
        doc = doc.get("conversations", [doc]) if isinstance(doc, dict) else doc
        if not isinstance(doc, list):
            raise InvalidInput("expected a list of conversations or messages", source=str(path))
        items = [(1, x) for x in doc]
    else:
        items = []
        for no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((no, json.loads(line)))
            except json.JSONDecodeError as e:
                raise InvalidInput(f"not valid JSON: {e.msg}", source=str(path), line=no) from None
    loose: dict[str, tuple[int, dict[str, Any]]] = {}
    for no, item in items:
        if not isinstance(item, dict):
            raise InvalidInput(f"expected a conversation or a message object, got {type(item).__name__}", source=str(path), line=no)
        if "messages" in item:
            if not isinstance(item["messages"], list):
                raise InvalidInput("field 'messages' must be a list of Genie messages", source=str(path), line=no, field="messages")
            yield no, item
        elif "content" in item and (item.get("message_id") or item.get("id")):
            cid = item.get("conversation_id")
            if not cid:
                raise InvalidInput("a message needs its conversation_id", source=str(path), line=no, field="conversation_id")
            loose.setdefault(cid, (no, {"conversation_id": cid, "space_id": item.get("space_id"), "messages": []}))[1]["messages"].append(item)
        else:
            raise InvalidInput("expected a conversation (with 'messages') or a Genie message (with 'message_id' and 'content')",
                               source=str(path), line=no)
    yield from loose.values()


def import_file(store: Store, path: str | Path, *, space_id: str | None = None, redaction: Redaction | None = None) -> list[ImportResult]:
    """Import a file export (see `read_export`); one result per space it holds. Messages already in the
    store are only updated when something changed, so importing a file twice adds nothing."""
    redaction = redaction or Redaction()
    by_space: dict[str, list[LoggedMessage]] = {}
    conversations: dict[str, set[str]] = {}
    source = f"file:{Path(path).name}"
    for no, conv in read_export(path):
        for m in conv["messages"]:
            sid = space_id or m.get("space_id") or conv.get("space_id")
            if not sid:
                raise InvalidInput("no space_id on the conversation or its messages; name the space (--space-id)",
                                   source=str(path), line=no, field="space_id")
            if not isinstance(m, dict) or not (m.get("message_id") or m.get("id")):
                raise InvalidInput("a message needs its message_id", source=str(path), line=no, field="message_id")
            m = {**m, "conversation_id": m.get("conversation_id") or conv.get("conversation_id"),
                 "user_id": m.get("user_id", conv.get("user_id"))}
            if not m["conversation_id"]:
                raise InvalidInput("a conversation needs its conversation_id", source=str(path), line=no, field="conversation_id")
            by_space.setdefault(sid, []).append(message_record(m, space_id=sid, source=source, redaction=redaction,
                                                               comments=m.get("comments") or []))
            conversations.setdefault(sid, set()).add(m["conversation_id"])
    out = []
    for sid, records in by_space.items():
        new, changed = store.put_log_messages(sid, [r.model_dump() for r in records])
        out.append(ImportResult(space_id=sid, source=source, conversations_listed=len(conversations[sid]),
                                conversations_read=len(conversations[sid]), messages_new=new, messages_changed=changed,
                                messages_total=store.log_spaces().get(sid, 0), rated=sum(1 for r in records if r.rating),
                                redacted=sum(1 for r in records if r.redacted)))
    if not out:
        raise InvalidInput("the file holds no messages", source=str(path))
    return out


def stored_messages(store: Store, space_id: str) -> list[LoggedMessage]:
    """Every imported message of a space, oldest first."""
    return [LoggedMessage.model_validate(d) for d in store.log_messages(space_id)]


def export_conversations(store: Store, space_id: str) -> list[dict[str, Any]]:
    """The stored traffic of a space as conversations in the export format (Genie's JSON)."""
    convs: dict[str, dict[str, Any]] = {}
    for m in stored_messages(store, space_id):
        c = convs.setdefault(m.conversation_id, {"conversation_id": m.conversation_id, "space_id": space_id, "title": m.question[:255],
                                                 "created_timestamp": m.created_ms, "user_id": m.user_id, "messages": []})
        c["messages"].append(genie_json(m))
    return list(convs.values())


def export_logs(store: Store, space_id: str, path: str | Path) -> int:
    """Write a space's stored traffic as JSONL (one conversation per line); returns the number of messages."""
    convs = export_conversations(store, space_id)
    Path(path).write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in convs), encoding="utf-8")
    return sum(len(c["messages"]) for c in convs)


def redact_stored(store: Store, space_id: str, redaction: Redaction) -> int:
    """Apply a (stricter) redaction to traffic already in the store; returns how many messages changed."""
    changed = []
    for m in stored_messages(store, space_id):
        question, masked = redaction.apply(m.question)
        comments = [redaction.apply(c)[0] for c in m.comments]
        if question != m.question or comments != m.comments:
            changed.append(m.model_copy(update={"question": question, "comments": comments, "redacted": True}).model_dump())
    store.put_log_messages(space_id, changed)
    return len(changed)


def traffic_space(store: Store, space_id: str | None = None) -> str:
    """The space whose traffic to use: `space_id`, or the only space with imported traffic."""
    spaces = store.log_spaces()
    if space_id:
        if space_id not in spaces:
            raise InvalidInput(f"no imported traffic for space {space_id!r}.{did_you_mean(space_id, spaces)}", field="space_id")
        return space_id
    if len(spaces) == 1:
        return next(iter(spaces))
    if not spaces:
        raise InvalidInput("no traffic imported yet: run `chaos-llama logs import` (from Genie or a file export) first", field="space_id")
    raise InvalidInput(f"traffic of {len(spaces)} spaces is imported ({', '.join(spaces)}); name one", field="space_id")


__all__ = ["ImportResult", "ImportSettings", "LoggedMessage", "Redaction", "export_conversations", "export_logs", "genie_json",
           "import_file", "import_from_genie", "message_record", "read_export", "redact_stored", "stored_messages", "traffic_space"]
