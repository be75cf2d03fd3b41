"""The workspace store: one SQLite file holding space versions, eval sets, runs, results, verdicts
and the answer/gold caches.

Space versions are append-only (triggers refuse UPDATE and DELETE) so every run can name the
exact space it was asked against and a revert is just another version. Results and verdicts are
written per question as it finishes, which is what lets a killed run resume.

One connection guarded by a lock: sqlite calls are short, so an asyncio runner may call the store
directly from the event loop without interleaving half-written transactions.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from .errors import ApplyConflict, BudgetExceeded, ChaosLlamaError, InvalidConfig, SpaceNotFound
from .evalset import EvalSet, evalset_hash
from .results import Answer, GoldResult, Verdict
from .space.io import space_hash
from .space.model import Space

SCHEMA_VERSION = 2  # 2: labels (human verdicts), llm_cache (judge calls), native_assessments (Genie eval runs), documents
DEFAULT_WORKSPACE = Path(".chaos-llama")
STORE_FILE = "chaos.db"  # the one database of a workspace: versions, runs, verdicts, caches
DEFAULT_PATH = DEFAULT_WORKSPACE / STORE_FILE
DEFAULT_MAX_ROWS = 10_000

RunStatus = Literal["running", "completed", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS space_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id TEXT NOT NULL,
    space_key TEXT NOT NULL,
    parent_id TEXT,
    message TEXT,
    author TEXT,
    created_at TEXT NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (space_key, version_id)
);
CREATE INDEX IF NOT EXISTS space_versions_id ON space_versions (version_id);
CREATE TRIGGER IF NOT EXISTS space_versions_no_update BEFORE UPDATE ON space_versions
BEGIN SELECT RAISE(ABORT, 'space_versions is append-only: versions cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS space_versions_no_delete BEFORE DELETE ON space_versions
BEGIN SELECT RAISE(ABORT, 'space_versions is append-only: versions cannot be deleted'); END;

CREATE TABLE IF NOT EXISTS evalsets (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    evalset_hash TEXT NOT NULL,
    split TEXT,
    space_key TEXT,
    space_version TEXT NOT NULL,
    backend TEXT NOT NULL,
    judges TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT NOT NULL DEFAULT '{}',
    config TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    case_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    sql TEXT,
    answer TEXT NOT NULL,
    result BLOB,
    result_rows INTEGER,
    result_truncated INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    latency_s REAL,
    from_cache INTEGER NOT NULL DEFAULT 0,
    cache_key TEXT,
    outcome TEXT,
    gold_error TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, case_id)
);

CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    case_id TEXT NOT NULL,
    judge TEXT NOT NULL,
    value TEXT,
    rationale TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, case_id, judge)
);

CREATE TABLE IF NOT EXISTS answer_cache (
    key TEXT PRIMARY KEY,
    answer TEXT NOT NULL,
    result BLOB,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    judge TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (0, 1)),
    note TEXT NOT NULL DEFAULT '',
    labeler TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_judge ON labels (judge, run_id, case_id);

CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    usage TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);

-- Genie's own benchmark assessments (native eval runs), kept beside our verdicts.
CREATE TABLE IF NOT EXISTS native_assessments (
    eval_run_id TEXT NOT NULL,
    result_id TEXT NOT NULL,
    space_id TEXT,
    run_id TEXT,
    case_id TEXT,
    benchmark_question_id TEXT,
    question TEXT,
    assessment TEXT,
    reasons TEXT NOT NULL DEFAULT '[]',
    manual_assessment INTEGER,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (eval_run_id, result_id)
);
CREATE INDEX IF NOT EXISTS native_assessments_run ON native_assessments (run_id, case_id);

-- Small JSON documents other parts keep in the workspace (e.g. an optimization's loop state).
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);

-- The revision lineage of each space (what the copilot applies and rolls back): append-only,
-- numbered per lineage; documents live in space_versions by content hash.
CREATE TABLE IF NOT EXISTS revisions (
    space_key TEXT NOT NULL,
    revision INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    parent_revision INTEGER,
    kind TEXT NOT NULL,
    message TEXT,
    author TEXT,
    diff TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (space_key, revision)
);
CREATE TRIGGER IF NOT EXISTS revisions_no_update BEFORE UPDATE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revisions_no_delete BEFORE DELETE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;

-- Validated change sets waiting to be applied, owned by the session that proposed them.
CREATE TABLE IF NOT EXISTS previews (
    preview_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    space_key TEXT NOT NULL,
    base_revision INTEGER NOT NULL,
    document TEXT NOT NULL,
    message TEXT,
    diff TEXT NOT NULL DEFAULT '',
    changes TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);

-- What the workspace's sessions spent per budget kind (limits come from the project file).
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    amount REAL NOT NULL,
    note TEXT,
    at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS gold_cache (
    key TEXT PRIMARY KEY,
    data_identity TEXT NOT NULL,
    sql TEXT NOT NULL,
    result BLOB,
    error TEXT,
    created_at TEXT NOT NULL
);

-- Real traffic of Genie spaces (the data flywheel, tools/logs.py): one row per message as imported
-- (question text already redacted as the import was told); the import cursor is a document.
CREATE TABLE IF NOT EXISTS log_messages (
    space_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    created_ms INTEGER,
    body TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (space_id, message_id)
);

-- Verdicts of deterministic judges keyed by everything they read (see verdict_cache_key): a
-- re-run of unchanged answers copies them instead of judging again. Added without a schema
-- bump: older stores simply gain the (empty) table.
CREATE TABLE IF NOT EXISTS verdict_cache (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    verdict TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


# Columns added after a table first shipped: (table, column, declaration).
_ADDED_COLUMNS = (("results", "outcome", "TEXT"), ("results", "gold_error", "TEXT"), ("runs", "revision", "INTEGER"),
                  ("runs", "repeat_of", "TEXT"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


# ---------------------------------------------------------------- hashing and Arrow bytes
def space_version_id(space: Space) -> str:
    """The content hash naming a space version."""
    return space_hash(space)


def normalize_question(question: str) -> str:
    """Whitespace-insensitive form of a question for cache keys (case kept: it can change meaning)."""
    return re.sub(r"\s+", " ", question).strip()


def answer_cache_key(space_version: str, question: str, backend_identity: str) -> str:
    return hashlib.sha256(_json([space_version, normalize_question(question), backend_identity]).encode()).hexdigest()


def gold_cache_key(data_identity: str, sql: str) -> str:
    return hashlib.sha256(_json([data_identity, sql.strip()]).encode()).hexdigest()


def verdict_cache_key(judge: str, judge_version: str, case: dict[str, Any], space_version: str,
                      answer_digest: str, gold_digests: list[str]) -> str:
    """The identity of one judging: judge and its code version, the case as written, the space
    version, and digests of the answer and gold results' *content* (not their cache keys: a
    cache entry can be replaced, its content digest cannot lie)."""
    return hashlib.sha256(_json([judge, judge_version, case, space_version, answer_digest, gold_digests]).encode()).hexdigest()


def table_to_bytes(table: pa.Table | None, max_rows: int | None = None) -> tuple[bytes | None, int | None, bool]:
    """Arrow IPC stream bytes of at most `max_rows` rows; returns (bytes, total rows, truncated)."""
    if table is None:
        return None, None, False
    total = table.num_rows
    truncated = max_rows is not None and total > max_rows
    if truncated:
        table = table.slice(0, max_rows)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes(), total, truncated


def bytes_to_table(data: bytes | None) -> pa.Table | None:
    if data is None:
        return None
    return pa.ipc.open_stream(pa.BufferReader(data)).read_all()


# ---------------------------------------------------------------- records
class SpaceVersion(BaseModel):
    """One immutable version of a space: content hash, lineage and the full document."""

    version_id: str
    space_key: str
    parent_id: str | None = None
    message: str | None = None
    author: str | None = None
    created_at: str
    document: dict[str, Any]

    @property
    def space(self) -> Space:
        return Space.from_serialized(self.document["serialized_space"], **self.document.get("envelope", {}))


class Run(BaseModel):
    run_id: str
    evalset_hash: str
    split: str | None = None
    space_key: str | None = None
    space_version: str
    backend: str
    judges: list[str] = Field(default_factory=list)
    status: RunStatus = "running"
    started_at: str = Field(default_factory=_now)
    finished_at: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    revision: int | None = None  # the lineage revision asked, for runs of the copilot
    repeat_of: str | None = None  # the run this one repeats (asked again to measure stability)


class Revision(BaseModel):
    """One position in a space's lineage: applies and rollbacks add revisions, nothing is rewritten."""

    space_key: str
    revision: int
    version_id: str
    parent_revision: int | None = None
    kind: Literal["initial", "apply", "rollback"]
    message: str | None = None
    author: str | None = None
    created_at: str
    diff: str = Field("", exclude=True)


class PreviewRecord(BaseModel):
    """A validated change set kept until applied (in the store, so it survives a restart)."""

    preview_id: str
    owner: str
    space_key: str
    base_revision: int
    document: dict[str, Any]
    message: str | None = None
    diff: str = ""
    changes: list[str] = Field(default_factory=list)
    created_at: str = Field(default_factory=_now)


class QuestionResult(BaseModel):
    """What one question got in one run. `result` holds at most the store's row cap."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str
    case_id: str
    attempt: int = 1  # backend tries it took (0 when served from cache)
    status: str
    sql: str | None = None
    answer: dict[str, Any] = Field(default_factory=dict)  # the Answer as JSON (without the table)
    result: pa.Table | None = Field(default=None, exclude=True)
    result_rows: int | None = None  # rows the answer had, even when fewer were stored
    result_truncated: bool = False
    error: str | None = None
    latency_s: float | None = None
    from_cache: bool = False
    cache_key: str | None = None
    outcome: str | None = None  # right / wrong / refused / error / gold_error, fixed when recorded (tools/scoring.py)
    gold_error: str | None = None  # why no gold query of the case ran
    created_at: str = Field(default_factory=_now)

    def to_answer(self) -> Answer:
        """The stored answer with its (possibly truncated) result table."""
        return Answer.model_validate(self.answer).model_copy(update={"result": self.result})


class Label(BaseModel):
    """A person's verdict on one judge's question in one run (labels are appended; the latest counts)."""

    run_id: str
    case_id: str
    judge: str
    value: bool
    note: str = ""
    labeler: str | None = None
    created_at: str = Field(default_factory=_now)


class StoreError(ChaosLlamaError):
    """The store file cannot be used (e.g. written by a newer Chaos Llama)."""


def _where(**equal: Any) -> tuple[str, tuple]:
    """` WHERE a=? AND b=?` for the filters that are not None (column names are ours, not user input)."""
    used = {k: v for k, v in equal.items() if v is not None}
    return (" WHERE " + " AND ".join(f"{k}=?" for k in used) if used else ""), tuple(used.values())


# ---------------------------------------------------------------- workspaces
def store_path(workspace: str | Path) -> Path:
    """The store file of a workspace folder."""
    return Path(workspace) / STORE_FILE


def export_workspace(workspace: str | Path, export_dir: str | Path) -> bool:
    """Copy the store (a consistent snapshot through SQLite's backup API) and the reports to `export_dir`.

    SQLite's locking is not safe on FUSE-mounted storage such as Unity Catalog volumes, so the
    database is only ever written there as a whole file, never opened in place. Returns whether
    there was a store to copy.
    """
    import shutil
    import tempfile

    workspace, export_dir = Path(workspace), Path(export_dir)
    if not store_path(workspace).exists():
        return False
    export_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / STORE_FILE
        src, dst = sqlite3.connect(store_path(workspace)), sqlite3.connect(snapshot)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        shutil.copyfile(snapshot, store_path(export_dir))
    if (workspace / "reports").is_dir():
        shutil.copytree(workspace / "reports", export_dir / "reports", dirs_exist_ok=True)
    return True


def restore_workspace(workspace: str | Path, export_dir: str | Path) -> bool:
    """Start from the durable copy when the (local) workspace is new, e.g. on a fresh job cluster."""
    import shutil

    workspace, export_dir = Path(workspace), Path(export_dir)
    if store_path(export_dir).exists() and not store_path(workspace).exists():
        workspace.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store_path(export_dir), store_path(workspace))
        return True
    return False


# ---------------------------------------------------------------- the store
class Store:
    """One SQLite file in a workspace folder (default ``./.chaos-llama/chaos.db``)."""

    @classmethod
    def open(cls, workspace: str | Path = DEFAULT_WORKSPACE) -> Store:
        """The store of a workspace folder (created if new)."""
        return cls(store_path(workspace))

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else DEFAULT_PATH
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0  # nested transactions (savepoints)
        # autocommit; explicit BEGIN where several statements must land together
        self._con = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        with self._lock:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA foreign_keys=ON")
            self._con.execute("PRAGMA busy_timeout=30000")  # other processes on the workspace wait, not fail
            self._migrate()

    def _migrate(self) -> None:
        has_meta = self._con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if has_meta:
            row = self._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema version {found} is newer than this Chaos Llama supports ({SCHEMA_VERSION}); upgrade chaos-llama")
        self._con.executescript(_SCHEMA)
        for table, column, decl in _ADDED_COLUMNS:  # stores made before a column existed gain it
            if column not in {r[1] for r in self._con.execute(f"PRAGMA table_info({table})")}:
                self._con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        self._con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        if str(self.path) != ":memory:":
            self._import_legacy_files()

    def _import_legacy_files(self) -> None:
        """Workspaces made before the history and the budget ledger moved into this file kept them in
        `copilot.db` and `ledger.db` beside it: copy them in once (the old files are left as they are)."""
        for name, copy in (("copilot.db", self._import_history), ("ledger.db", self._import_ledger)):
            old = self.path.parent / name
            flag = f"imported:{name}"
            if not old.exists() or self._con.execute("SELECT 1 FROM meta WHERE key=?", (flag,)).fetchone():
                continue
            src = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
            src.row_factory = sqlite3.Row
            try:
                self._con.execute("BEGIN IMMEDIATE")
                try:
                    copy(src)
                    self._con.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (flag, _now()))
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise
                self._con.execute("COMMIT")
            except sqlite3.Error as e:
                raise StoreError(f"{old}: cannot import the old {name} into {self.path.name}: {e}") from None
            finally:
                src.close()

    def _import_history(self, src: sqlite3.Connection) -> None:
        tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "history" in tables:
            self._con.executemany(
                "INSERT OR IGNORE INTO revisions (space_key, revision, version_id, parent_revision, kind, message, author, diff, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [(r["space_key"], r["revision"], r["version_id"], r["parent_revision"], r["kind"], r["message"], r["author"],
                  r["diff"] or "", r["created_at"]) for r in src.execute("SELECT * FROM history")])
        if "copilot_runs" in tables:
            cols = {r[1] for r in src.execute("PRAGMA table_info(copilot_runs)")}
            for r in src.execute("SELECT * FROM copilot_runs"):
                self._con.execute("UPDATE runs SET revision=?, repeat_of=? WHERE run_id=?",
                                  (r["revision"], r["repeat_of"] if "repeat_of" in cols else None, r["run_id"]))

    def _import_ledger(self, src: sqlite3.Connection) -> None:
        if src.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='ledger'").fetchone():
            self._con.executemany("INSERT INTO ledger (kind, amount, note, at) VALUES (?,?,?,?)",
                                  [(r["kind"], r["amount"], r["note"], r["at"]) for r in src.execute("SELECT * FROM ledger ORDER BY seq")])

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: other processes wait); nested, a savepoint inside it."""
        with self._lock:
            if self._con.in_transaction:  # e.g. a backend recording a pushed version inside add_revision
                self._depth += 1
                name = f"sp{self._depth}"
                self._con.execute(f"SAVEPOINT {name}")
                try:
                    yield self._con
                except BaseException:
                    self._con.execute(f"ROLLBACK TO {name}")
                    self._con.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._depth -= 1
                self._con.execute(f"RELEASE {name}")
                return
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return int(self._query("SELECT value FROM meta WHERE key='schema_version'")[0][0])

    # ------------------------------------------------------------ space versions
    @staticmethod
    def space_key_for(space: Space) -> str:
        """The lineage a space belongs to: its Genie id, else its title."""
        return space.space_id or re.sub(r"[^a-z0-9]+", "-", space.title.lower()).strip("-") or "space"

    def put_space_version(
        self,
        space: Space,
        *,
        space_key: str | None = None,
        parent_id: str | None = None,
        message: str | None = None,
        author: str | None = None,
    ) -> SpaceVersion:
        """Record `space` as a version (idempotent: the same content in the same lineage is one version).

        `parent_id` defaults to the lineage's latest version.
        """
        with self._tx() as con:
            return self._put_version(con, space, space_key or self.space_key_for(space), parent_id, message, author)

    def _put_version(self, con: sqlite3.Connection, space: Space, key: str, parent_id: str | None, message: str | None,
                     author: str | None) -> SpaceVersion:
        vid = space_version_id(space)
        row = con.execute("SELECT * FROM space_versions WHERE space_key=? AND version_id=?", (key, vid)).fetchone()
        if row is None:
            if parent_id is None:
                last = con.execute("SELECT version_id FROM space_versions WHERE space_key=? ORDER BY seq DESC LIMIT 1", (key,)).fetchone()
                parent_id = last[0] if last else None
            document = {
                "envelope": space.model_dump(mode="json", exclude={"serialized"}, exclude_none=True),
                "serialized_space": space.to_serialized(),
            }
            con.execute(
                "INSERT INTO space_versions (version_id, space_key, parent_id, message, author, created_at, document) VALUES (?,?,?,?,?,?,?)",
                (vid, key, parent_id, message, author, _now(), _json(document)),
            )
            row = con.execute("SELECT * FROM space_versions WHERE space_key=? AND version_id=?", (key, vid)).fetchone()
        return self._version(row)

    # ------------------------------------------------------------ revisions (the copilot's lineage)
    def add_revision(self, space: Space, *, space_key: str, expected_head: int | None, kind: str, message: str | None = None,
                     author: str | None = None, diff: str = "", before_commit: Callable[[], Any] | None = None) -> Revision:
        """Append a revision, or nothing: one transaction checks that the head is still
        `expected_head` (None: the lineage is new) and writes the document and the revision.

        `before_commit` runs inside the transaction after the head check (e.g. pushing the
        version to Genie): if it raises, nothing is written. Any number of processes sharing the
        store keep one linear history (SQLite's write lock serializes them).
        """
        with self._tx() as con:
            head = con.execute("SELECT MAX(revision) FROM revisions WHERE space_key=?", (space_key,)).fetchone()[0]
            if head != expected_head:
                raise ApplyConflict(f"the space's head is revision {head}, not {expected_head}: another session changed it; "
                                    "read the space again and propose on the new head")
            parent = con.execute("SELECT version_id FROM revisions WHERE space_key=? AND revision=?", (space_key, head)).fetchone()
            version = self._put_version(con, space, space_key, parent[0] if parent else None, message, author)
            if before_commit is not None:
                before_commit()
            n = (head or 0) + 1
            con.execute("INSERT INTO revisions (space_key, revision, version_id, parent_revision, kind, message, author, diff, created_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?)", (space_key, n, version.version_id, head, kind, message, author, diff, _now()))
            row = con.execute("SELECT * FROM revisions WHERE space_key=? AND revision=?", (space_key, n)).fetchone()
        return Revision.model_validate(dict(row))

    def revisions(self, space_key: str) -> list[Revision]:
        """A lineage's revisions, oldest first."""
        return [Revision.model_validate(dict(r)) for r in
                self._query("SELECT * FROM revisions WHERE space_key=? ORDER BY revision", (space_key,))]

    def revision(self, space_key: str, revision: int) -> Revision | None:
        rows = self._query("SELECT * FROM revisions WHERE space_key=? AND revision=?", (space_key, revision))
        return Revision.model_validate(dict(rows[0])) if rows else None

    def head(self, space_key: str) -> Revision | None:
        rows = self._query("SELECT * FROM revisions WHERE space_key=? ORDER BY revision DESC LIMIT 1", (space_key,))
        return Revision.model_validate(dict(rows[0])) if rows else None

    # ------------------------------------------------------------ previews
    def put_preview(self, preview: PreviewRecord) -> None:
        with self._lock:
            self._con.execute(
                "INSERT INTO previews (preview_id, owner, space_key, base_revision, document, message, diff, changes, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (preview.preview_id, preview.owner, preview.space_key, preview.base_revision, _json(preview.document),
                 preview.message, preview.diff, _json(preview.changes), preview.created_at))

    def get_preview(self, preview_id: str, *, owner: str) -> PreviewRecord | None:
        """A preview of `owner` (another session's preview is as unknown as a missing one)."""
        rows = self._query("SELECT * FROM previews WHERE preview_id=? AND owner=?", (preview_id, owner))
        if not rows:
            return None
        d = dict(rows[0])
        d["document"], d["changes"] = json.loads(d["document"]), json.loads(d["changes"])
        return PreviewRecord.model_validate(d)

    def preview_ids(self, *, owner: str) -> list[str]:
        return [r[0] for r in self._query("SELECT preview_id FROM previews WHERE owner=? ORDER BY created_at", (owner,))]

    def drop_preview(self, preview_id: str) -> None:
        with self._lock:
            self._con.execute("DELETE FROM previews WHERE preview_id=?", (preview_id,))

    # ------------------------------------------------------------ budget ledger
    def spent(self, kind: str) -> float:
        return float(self._query("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind=?", (kind,))[0][0])

    def reserve(self, kind: str, amount: float, *, limit: float, note: str | None = None) -> float:
        """Spend `amount` of `kind` if it fits under `limit` (one transaction: check and write
        together, across processes); returns what is left. Raises BudgetExceeded, spending nothing."""
        with self._tx() as con:
            spent = float(con.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind=?", (kind,)).fetchone()[0])
            left = limit - spent
            if amount > left + 1e-9 or (amount == 0 and left <= 0):
                raise BudgetExceeded(f"budget {kind!r} exhausted: asked for {amount:g}, {max(left, 0):g} of {limit:g} left. "
                                     "Nothing was spent.")
            if amount:
                con.execute("INSERT INTO ledger (kind, amount, note, at) VALUES (?,?,?,?)", (kind, amount, note, time.time()))
        return left - amount

    def spend(self, kind: str, amount: float, note: str | None = None) -> None:
        """Record spend that was not (or not wholly) reserved; a negative amount is a refund."""
        if amount:
            with self._lock:
                self._con.execute("INSERT INTO ledger (kind, amount, note, at) VALUES (?,?,?,?)", (kind, amount, note, time.time()))

    def ledger_entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        where, params = _where(kind=kind)
        return [dict(r) for r in self._query(f"SELECT * FROM ledger{where} ORDER BY seq", params)]

    @staticmethod
    def _version(row: sqlite3.Row) -> SpaceVersion:
        d = dict(row)
        d.pop("seq")
        d["document"] = json.loads(d["document"])
        return SpaceVersion.model_validate(d)

    def get_space_version(self, version_id: str, *, space_key: str | None = None) -> SpaceVersion:
        """A version by id or unique id prefix (at least 6 hex). Raises SpaceNotFound."""
        where, params = "version_id LIKE ?", [version_id.replace("%", "").replace("_", "") + "%"]
        if len(version_id) < 6:
            where, params = "version_id = ?", [version_id]
        if space_key:
            where += " AND space_key = ?"
            params.append(space_key)
        rows = self._query(f"SELECT * FROM space_versions WHERE {where} ORDER BY seq", tuple(params))
        ids = {r["version_id"] for r in rows}
        if not rows:
            known = [r[0] for r in self._query("SELECT version_id FROM space_versions ORDER BY seq DESC LIMIT 50")]
            hint = f" Known versions: {', '.join(k[:12] for k in known[:5])}." if known else " The store has no versions yet."
            raise SpaceNotFound(f"no space version {version_id!r}{' in ' + repr(space_key) if space_key else ''}.{hint}")
        if len(ids) > 1:
            raise SpaceNotFound(f"space version prefix {version_id!r} is ambiguous: {', '.join(sorted(i[:12] for i in ids))}")
        return self._version(rows[-1])

    def list_space_versions(self, space_key: str | None = None) -> list[SpaceVersion]:
        """Versions oldest first (one lineage, or all)."""
        if space_key:
            rows = self._query("SELECT * FROM space_versions WHERE space_key=? ORDER BY seq", (space_key,))
        else:
            rows = self._query("SELECT * FROM space_versions ORDER BY seq")
        return [self._version(r) for r in rows]

    def latest_space_version(self, space_key: str) -> SpaceVersion | None:
        rows = self._query("SELECT * FROM space_versions WHERE space_key=? ORDER BY seq DESC LIMIT 1", (space_key,))
        return self._version(rows[0]) if rows else None

    # ------------------------------------------------------------ eval sets
    def put_evalset(self, evalset: EvalSet) -> str:
        """Store an eval set by content hash (idempotent); returns the hash."""
        h = evalset_hash(evalset)
        with self._lock:
            self._con.execute(
                "INSERT OR IGNORE INTO evalsets (hash, name, document, created_at) VALUES (?,?,?,?)",
                (h, evalset.name, evalset.model_dump_json(), _now()),
            )
        return h

    def get_evalset(self, hash: str) -> EvalSet:
        rows = self._query("SELECT document FROM evalsets WHERE hash=?", (hash,))
        if not rows:
            raise InvalidConfig(f"no eval set with hash {hash!r} in {self.path}", field="evalset")
        return EvalSet.model_validate_json(rows[0][0])

    # ------------------------------------------------------------ runs
    def create_run(self, run: Run) -> Run:
        with self._lock:
            self._con.execute(
                "INSERT INTO runs (run_id, evalset_hash, split, space_key, space_version, backend, judges, status, started_at, finished_at,"
                " summary, config, revision, repeat_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.run_id, run.evalset_hash, run.split, run.space_key, run.space_version, run.backend, _json(run.judges),
                 run.status, run.started_at, run.finished_at, _json(run.summary), _json(run.config), run.revision, run.repeat_of),
            )
        return run

    @staticmethod
    def _run(row: sqlite3.Row) -> Run:
        d = dict(row)
        for k in ("judges", "summary", "config"):
            d[k] = json.loads(d[k])
        return Run.model_validate(d)

    def get_run(self, run_id: str) -> Run | None:
        rows = self._query("SELECT * FROM runs WHERE run_id=?", (run_id,))
        return self._run(rows[0]) if rows else None

    def list_runs(self, *, limit: int | None = None) -> list[Run]:
        """Runs newest first."""
        rows = self._query("SELECT * FROM runs ORDER BY started_at DESC, rowid DESC" + (f" LIMIT {int(limit)}" if limit else ""))
        return [self._run(r) for r in rows]

    def lineage_runs(self, space_key: str) -> list[Run]:
        """Runs asked against a revision of the lineage (the copilot's runs), oldest first."""
        rows = self._query("SELECT * FROM runs WHERE space_key=? AND revision IS NOT NULL ORDER BY started_at, rowid", (space_key,))
        return [self._run(r) for r in rows]

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        finished_at: str | None = None,
        summary: dict[str, Any] | None = None,
        judges: list[str] | None = None,
        clear_finished: bool = False,
        revision: int | None = None,
        repeat_of: str | None = None,
    ) -> Run:
        sets: list[str] = []
        params: list[Any] = []
        for col, value in (("status", status), ("finished_at", finished_at), ("revision", revision), ("repeat_of", repeat_of)):
            if value is not None:
                sets.append(f"{col}=?")
                params.append(value)
        if clear_finished:
            sets.append("finished_at=NULL")
        if summary is not None:
            sets.append("summary=?")
            params.append(_json(summary))
        if judges is not None:
            sets.append("judges=?")
            params.append(_json(judges))
        if sets:
            with self._lock:
                self._con.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id=?", (*params, run_id))
        run = self.get_run(run_id)
        if run is None:
            raise InvalidConfig(f"no run {run_id!r} in {self.path}", field="run_id")
        return run

    # ------------------------------------------------------------ results and verdicts
    def record_case(self, result: QuestionResult, verdicts: list[Verdict], *, max_rows: int = DEFAULT_MAX_ROWS) -> QuestionResult:
        """Write one question's result and verdicts together (a resumed run sees both or neither)."""
        data, total, truncated = table_to_bytes(result.result, max_rows)
        rows = result.result_rows if result.result_rows is not None else total
        with self._tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO results (run_id, case_id, attempt, status, sql, answer, result, result_rows, result_truncated,"
                " error, latency_s, from_cache, cache_key, outcome, gold_error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (result.run_id, result.case_id, result.attempt, result.status, result.sql, _json(result.answer), data, rows,
                 int(truncated or result.result_truncated), result.error, result.latency_s, int(result.from_cache), result.cache_key,
                 result.outcome, result.gold_error, result.created_at),
            )
            self._put_verdicts(con, result.run_id, result.case_id, verdicts)
        return result.model_copy(update={"result_rows": rows, "result_truncated": truncated or result.result_truncated})

    @staticmethod
    def _put_verdicts(con: sqlite3.Connection, run_id: str, case_id: str, verdicts: list[Verdict]) -> None:
        now = _now()
        con.executemany(
            "INSERT OR REPLACE INTO verdicts (run_id, case_id, judge, value, rationale, details, error, created_at) VALUES (?,?,?,?,?,?,?,?)",
            [(run_id, case_id, v.judge, _json(v.value), v.rationale, _json(v.details), v.error, now) for v in verdicts],
        )

    def record_cases(self, items: list[tuple[QuestionResult, list[Verdict]]], *, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        """`record_case` for several questions in one transaction (one commit, one fsync)."""
        if not items:
            return
        rows, verdicts = [], []
        for result, vs in items:
            data, total, truncated = table_to_bytes(result.result, max_rows)
            rows.append((result.run_id, result.case_id, result.attempt, result.status, result.sql, _json(result.answer), data,
                         result.result_rows if result.result_rows is not None else total,
                         int(truncated or result.result_truncated), result.error, result.latency_s, int(result.from_cache),
                         result.cache_key, result.outcome, result.gold_error, result.created_at))
            verdicts.append((result.run_id, result.case_id, vs))
        with self._tx() as con:
            con.executemany(
                "INSERT OR REPLACE INTO results (run_id, case_id, attempt, status, sql, answer, result, result_rows, result_truncated,"
                " error, latency_s, from_cache, cache_key, outcome, gold_error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            for run_id, case_id, vs in verdicts:
                self._put_verdicts(con, run_id, case_id, vs)

    def put_verdicts(self, run_id: str, case_id: str, verdicts: list[Verdict]) -> None:
        """Add or replace verdicts of one question (re-judging)."""
        with self._tx() as con:
            self._put_verdicts(con, run_id, case_id, verdicts)

    @staticmethod
    def _result(row: sqlite3.Row) -> QuestionResult:
        d = dict(row)
        d["answer"] = json.loads(d["answer"])
        d["result"] = bytes_to_table(d["result"])
        d["result_truncated"] = bool(d["result_truncated"])
        d["from_cache"] = bool(d["from_cache"])
        return QuestionResult.model_validate(d)

    def get_results(self, run_id: str) -> list[QuestionResult]:
        return [self._result(r) for r in self._query("SELECT * FROM results WHERE run_id=? ORDER BY rowid", (run_id,))]

    def get_result(self, run_id: str, case_id: str) -> QuestionResult | None:
        rows = self._query("SELECT * FROM results WHERE run_id=? AND case_id=?", (run_id, case_id))
        return self._result(rows[0]) if rows else None

    def recent_token_use(self, backend: str, *, limit: int = 50) -> tuple[int, int]:
        """(LLM tokens, answers) of the latest fresh answers of `backend`: a per-question estimate."""
        rows = self._query("SELECT r.answer FROM results r JOIN runs USING (run_id) WHERE runs.backend=? AND r.from_cache=0 "
                           "ORDER BY r.rowid DESC LIMIT ?", (backend, limit))
        tokens = sum(int(((json.loads(r[0]).get("details") or {}).get("usage") or {}).get("total_tokens") or 0) for r in rows)
        return tokens, len(rows)

    def result_statuses(self, run_id: str) -> dict[str, str]:
        """case id -> status of every question recorded in a run (cheap: no tables decoded)."""
        return {r[0]: r[1] for r in self._query("SELECT case_id, status FROM results WHERE run_id=?", (run_id,))}

    def get_verdicts(self, run_id: str) -> dict[str, list[Verdict]]:
        """case id -> verdicts, in judge-name order."""
        out: dict[str, list[Verdict]] = {}
        for r in self._query("SELECT * FROM verdicts WHERE run_id=? ORDER BY case_id, judge", (run_id,)):
            out.setdefault(r["case_id"], []).append(
                Verdict(judge=r["judge"], value=json.loads(r["value"]) if r["value"] is not None else None,
                        rationale=r["rationale"], details=json.loads(r["details"]), error=r["error"])
            )
        return out

    # ------------------------------------------------------------ Genie's native assessments
    def put_native_assessments(self, rows: list[dict[str, Any]]) -> int:
        """Store Genie eval-run assessments (dicts with eval_run_id, result_id, assessment, reasons, ...;
        optional run_id/case_id link them to one of our runs). Idempotent per (eval_run_id, result_id)."""
        now = _now()
        with self._tx() as con:
            con.executemany(
                "INSERT OR REPLACE INTO native_assessments (eval_run_id, result_id, space_id, run_id, case_id, benchmark_question_id,"
                " question, assessment, reasons, manual_assessment, document, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(r["eval_run_id"], r["result_id"], r.get("space_id"), r.get("run_id"), r.get("case_id"), r.get("benchmark_question_id"),
                  r.get("question"), r.get("assessment"), _json(list(r.get("reasons") or [])),
                  None if r.get("manual_assessment") is None else int(bool(r["manual_assessment"])), _json(r), now) for r in rows],
            )
        return len(rows)

    def get_native_assessments(self, *, eval_run_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        """Stored Genie assessments of one eval run, or linked to one of our runs (case id order)."""
        where, params = _where(eval_run_id=eval_run_id, run_id=run_id)
        sql = f"SELECT document FROM native_assessments{where} ORDER BY case_id, result_id"
        return [json.loads(r[0]) for r in self._query(sql, params)]

    def latest_native_assessments(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Per case id of one of our runs, Genie's most recently stored assessment linked to it."""
        rows = self._query("SELECT case_id, document FROM native_assessments WHERE run_id=? AND case_id IS NOT NULL"
                           " ORDER BY created_at, rowid", (run_id,))
        return {r[0]: json.loads(r[1]) for r in rows}  # later eval runs overwrite earlier ones

    # ------------------------------------------------------------ caches
    def has_cached_answer(self, key: str) -> bool:
        return bool(self._query("SELECT 1 FROM answer_cache WHERE key=?", (key,)))

    def get_cached_answer(self, key: str) -> Answer | None:
        rows = self._query("SELECT answer, result FROM answer_cache WHERE key=?", (key,))
        if not rows:
            return None
        return Answer.model_validate_json(rows[0][0]).model_copy(update={"result": bytes_to_table(rows[0][1])})

    def put_cached_answer(self, key: str, answer: Answer, *, max_rows: int | None = 1_000_000) -> bool:
        """Cache a full answer; answers over `max_rows` are not cached (a truncated copy would judge wrong)."""
        if answer.result is not None and max_rows is not None and answer.result.num_rows > max_rows:
            return False
        data, _, _ = table_to_bytes(answer.result)
        with self._lock:
            self._con.execute(
                "INSERT OR REPLACE INTO answer_cache (key, answer, result, created_at) VALUES (?,?,?,?)",
                (key, answer.model_dump_json(fallback=str), data, _now()),
            )
        return True

    def get_cached_gold(self, key: str) -> GoldResult | None:
        rows = self._query("SELECT sql, result, error FROM gold_cache WHERE key=?", (key,))
        if not rows:
            return None
        return GoldResult(sql=rows[0][0], result=bytes_to_table(rows[0][1]), error=rows[0][2])

    def put_cached_gold(self, key: str, data_identity: str, gold: GoldResult, *, max_rows: int | None = 1_000_000) -> bool:
        if gold.result is not None and max_rows is not None and gold.result.num_rows > max_rows:
            return False
        data, _, _ = table_to_bytes(gold.result)
        with self._lock:
            self._con.execute(
                "INSERT OR REPLACE INTO gold_cache (key, data_identity, sql, result, error, created_at) VALUES (?,?,?,?,?,?)",
                (key, data_identity, gold.sql, data, gold.error, _now()),
            )
        return True

    def get_cached_verdicts(self, keys: list[str]) -> dict[str, Verdict]:
        """Cached verdicts by `verdict_cache_key` (keys not cached are absent)."""
        out: dict[str, Verdict] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[start:start + 500]
            rows = self._query(f"SELECT key, verdict FROM verdict_cache WHERE key IN ({','.join('?' * len(chunk))})", tuple(chunk))
            out.update({r[0]: Verdict.model_validate_json(r[1]) for r in rows})
        return out

    def put_cached_verdicts(self, verdicts: dict[str, Verdict]) -> None:
        """Cache verdicts under their `verdict_cache_key`s (one transaction)."""
        if not verdicts:
            return
        now = _now()
        with self._tx() as con:
            con.executemany("INSERT OR REPLACE INTO verdict_cache (key, judge, verdict, created_at) VALUES (?,?,?,?)",
                            [(k, v.judge, v.model_dump_json(), now) for k, v in verdicts.items()])

    # ------------------------------------------------------------ documents
    def put_document(self, kind: str, key: str, body: str) -> None:
        """Keep (or replace) one JSON/text document under (kind, key)."""
        with self._tx() as con:
            con.execute("INSERT OR REPLACE INTO documents (kind, key, body, updated_at) VALUES (?,?,?,?)", (kind, key, body, _now()))

    def get_document(self, kind: str, key: str) -> str | None:
        rows = self._query("SELECT body FROM documents WHERE kind=? AND key=?", (kind, key))
        return rows[0][0] if rows else None

    def list_documents(self, kind: str) -> list[str]:
        """Every document of `kind`, most recently updated first."""
        return [r[0] for r in self._query("SELECT body FROM documents WHERE kind=? ORDER BY updated_at DESC, key", (kind,))]

    # ------------------------------------------------------------ real traffic (tools/logs.py)
    def put_log_messages(self, space_id: str, messages: list[dict[str, Any]], *,
                         document: tuple[str, str, str] | None = None) -> tuple[int, int]:
        """Add or update imported messages (dicts with message_id, conversation_id, created_ms) and, in
        the same transaction, one (kind, key, body) document such as the import cursor, so an import
        killed midway resumes exactly. Returns (new, changed) message counts."""
        new = changed = 0
        now = _now()
        with self._tx() as con:
            for m in messages:
                body = _json(m)
                row = con.execute("SELECT body FROM log_messages WHERE space_id=? AND message_id=?", (space_id, m["message_id"])).fetchone()
                if row is not None and row[0] == body:
                    continue
                new, changed = new + (row is None), changed + (row is not None)
                con.execute("INSERT OR REPLACE INTO log_messages (space_id, message_id, conversation_id, created_ms, body, imported_at)"
                            " VALUES (?,?,?,?,?,?)", (space_id, m["message_id"], m["conversation_id"], m.get("created_ms"), body, now))
            if document is not None:
                con.execute("INSERT OR REPLACE INTO documents (kind, key, body, updated_at) VALUES (?,?,?,?)", (*document, now))
        return new, changed

    def log_messages(self, space_id: str) -> list[dict[str, Any]]:
        """Every imported message of a space, oldest first."""
        rows = self._query("SELECT body FROM log_messages WHERE space_id=? ORDER BY created_ms, message_id", (space_id,))
        return [json.loads(r[0]) for r in rows]

    def log_spaces(self) -> dict[str, int]:
        """Space id -> imported messages, for every space with imported traffic."""
        return {r[0]: r[1] for r in self._query("SELECT space_id, COUNT(*) FROM log_messages GROUP BY space_id ORDER BY space_id")}

    # ------------------------------------------------------------ human labels
    def put_label(self, label: Label) -> Label:
        with self._lock:
            self._con.execute(
                "INSERT INTO labels (run_id, case_id, judge, value, note, labeler, created_at) VALUES (?,?,?,?,?,?,?)",
                (label.run_id, label.case_id, label.judge, int(label.value), label.note, label.labeler, label.created_at),
            )
        return label

    def get_labels(self, *, judge: str | None = None, run_id: str | None = None, latest: bool = True) -> list[Label]:
        """Labels oldest first; with `latest`, only the newest per (run, question, judge)."""
        where, params = _where(judge=judge, run_id=run_id)
        rows = [Label(run_id=r["run_id"], case_id=r["case_id"], judge=r["judge"], value=bool(r["value"]), note=r["note"],
                      labeler=r["labeler"], created_at=r["created_at"]) for r in self._query(f"SELECT * FROM labels{where} ORDER BY seq", params)]
        if not latest:
            return rows
        newest = {(l.run_id, l.case_id, l.judge): (i, l) for i, l in enumerate(rows)}
        return [l for _, l in sorted(newest.values(), key=lambda il: il[0])]

    # ------------------------------------------------------------ LLM call cache
    def get_llm_cache(self, key: str) -> dict[str, Any] | None:
        rows = self._query("SELECT model, response, usage FROM llm_cache WHERE key=?", (key,))
        if not rows:
            return None
        return {"model": rows[0][0], "response": rows[0][1], "usage": json.loads(rows[0][2])}

    def put_llm_cache(self, key: str, model: str, response: str, usage: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._con.execute(
                "INSERT OR REPLACE INTO llm_cache (key, model, response, usage, created_at) VALUES (?,?,?,?,?)",
                (key, model, response, _json(usage or {}), _now()),
            )

    def clear_caches(self) -> None:
        with self._lock:
            self._con.execute("DELETE FROM answer_cache")
            self._con.execute("DELETE FROM gold_cache")
            self._con.execute("DELETE FROM llm_cache")
            self._con.execute("DELETE FROM verdict_cache")
