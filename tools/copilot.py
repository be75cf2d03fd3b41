"""The optimization copilot: the plain functions behind each MCP tool (and usable from Python).

A `Copilot` holds one project's session: the space's version history, the eval set with its
splits, the backend, the store, open previews and a budget ledger. Every method takes and
returns pydantic models and knows nothing about MCP. It keeps three promises by construction:

- budgets are reserved *before* anything is spent (`Ledger.reserve` raises BudgetExceeded);
- the test split is only ever scored by `eval_final_test`, which returns aggregates; no other
  method returns a test question, its gold SQL or its per-question result;
- history is append-only: apply and rollback add a revision, a failed apply adds nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from .errors import ApplyConflict, BudgetExceeded, ChaosLlamaError, InvalidConfig, InvalidInput, did_you_mean

TRAIN, VAL, TEST = "train", "val", "test"
COMPACT_OVER_CHARS = 30_000  # a space YAML bigger than this is summarized by space_get
MIN_CATEGORY_SIZE = 3  # test aggregates per category only for categories this big (no single-question leak)


# ---------------------------------------------------------------- budgets (protocol)
class Ledger(Protocol):
    def reserve(self, kind: str, n: float, note: str | None = None) -> None: ...
    def settle(self, kind: str, reserved: float, actual: float, note: str | None = None) -> None: ...
    def record(self, kind: str, actual: float, note: str | None = None) -> None: ...


class NoBudget:
    """A ledger that allows everything (library use without a server)."""

    def reserve(self, kind: str, n: float, note: str | None = None) -> None:
        return None

    def settle(self, kind: str, reserved: float, actual: float, note: str | None = None) -> None:
        return None

    def record(self, kind: str, actual: float, note: str | None = None) -> None:
        return None


# ---------------------------------------------------------------- settings and outputs
class CopilotSettings(BaseModel):
    space: Path | None = Field(None, description="space file; None with a Databricks backend: the version Genie holds")
    evalset: Path | None = Field(None, description="eval set file; None with a Databricks backend: the space's benchmarks")
    data: list[Path] = Field(default_factory=list)
    databricks: dict[str, Any] | None = Field(None, description="DatabricksGenie options (space_id, profile, host, warehouse_id, ...)")
    judge_model: dict[str, Any] | str | None = Field(
        None, description="chat model for LLM judges: 'databricks:<endpoint>' or {provider, model, base_url, api_key_env, ...}")
    strategy: str = "retrieval"
    llm: dict[str, Any] | str | None = Field(None, description="the llm strategy's chat model (same forms as judge_model)")
    judges: list[str] = Field(default_factory=lambda: ["execution", "failure_analysis"])
    split_seed: int = 0
    workspace: Path = Path(".chaos-llama")
    author: str = "assistant"
    final_test_judges: list[str] | None = None


class VersionInfo(BaseModel):
    revision: int = Field(description="history position; increases with every apply and rollback")
    version_id: str = Field(description="content hash of the space at this revision")
    parent_revision: int | None = None
    kind: Literal["initial", "apply", "rollback"]
    message: str | None = None
    author: str | None = None
    created_at: str


class TableSummary(BaseModel):
    identifier: str
    description: str | None = None
    columns_configured: int
    columns_described: int
    synonyms: int


class SpaceSummary(BaseModel):
    title: str
    tables: list[TableSummary]
    text_instructions: int
    example_sqls: int
    sql_functions: int
    join_specs: int
    snippets: int
    sample_questions: int


class SpaceView(BaseModel):
    revision: int
    version_id: str
    summary: SpaceSummary
    yaml: str | None = Field(None, description="the full space as YAML (omitted for big spaces unless asked)")
    compact: bool = False


class ProblemView(BaseModel):
    severity: str
    path: str
    message: str


class Proposal(BaseModel):
    preview_id: str | None = Field(description="pass to space_apply; None when the change set has errors")
    base_revision: int
    base_version: str
    new_version: str | None = None
    ok: bool
    changes: list[str] = Field(description="one line per edit")
    diff: str = Field(description="unified diff of the space YAML")
    problems: list[ProblemView] = Field(default_factory=list)


class ApplyResult(BaseModel):
    applied: bool
    version: VersionInfo | None = None
    note: str


class HistoryView(BaseModel):
    head: VersionInfo
    versions: list[VersionInfo]


class DiffView(BaseModel):
    a: VersionInfo
    b: VersionInfo
    diff: str


class TrainQuestion(BaseModel):
    id: str
    question: str
    category: str | None = None


class EvalSetInfo(BaseModel):
    name: str
    total: int
    splits: dict[str, int]
    by_category: dict[str, dict[str, int]]
    train_questions: list[TrainQuestion] = Field(description="train only; val and test texts are never shown")
    split_seed: int


class Score(BaseModel):
    correct: int
    total: int
    accuracy: float | None


class Stability(BaseModel):
    """One question asked `asked` times on the same version (Genie is nondeterministic)."""

    asked: int
    correct: int
    stable: bool = Field(description="the same verdict every time")


class TrainRow(BaseModel):
    case_id: str
    question: str
    category: str | None = None
    status: str
    correct: bool | None
    sql: str | None = None
    failure_category: str | None = None
    failure_summary: list[str] = Field(default_factory=list)
    stability: Stability | None = Field(None, description="when the question was asked more than once on this version")


class Comparison(BaseModel):
    """Paired, per question, against a baseline run of the same split on another version."""

    baseline_run: str
    baseline_revision: int | None = None
    fixed: int = Field(description="wrong before, right now")
    broken: int = Field(description="right before, wrong now")
    still_correct: int
    still_wrong: int
    fixed_ids: list[str] | None = Field(None, description="train runs only")
    broken_ids: list[str] | None = Field(None, description="train runs only")


class EvalRunView(BaseModel):
    run_id: str
    split: Literal["train", "val"]
    revision: int | None
    version_id: str
    overall: Score
    by_category: dict[str, Score]
    rows: list[TrainRow] | None = Field(None, description="per question, train only")
    repeats: int = Field(1, description="times each question was asked; overall, rows and comparison use the first")
    repeat_run_ids: list[str] = Field(default_factory=list, description="the runs of repeats 2..n")
    unstable: int = Field(0, description="questions whose verdict differed between repeats")
    comparison: Comparison | None = None
    backend_calls: int
    cache_hits: int


class ResultSample(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int | None = None


class MetadataItem(BaseModel):
    kind: str
    target: str
    text: str


class FailureDetail(BaseModel):
    case_id: str
    question: str
    category: str | None = None
    status: str
    generated_sql: str | None = None
    gold_sql: list[str]
    error: str | None = None
    failure_category: str | None = None
    analysis: dict[str, Any] = Field(default_factory=dict)
    generated_result: ResultSample | None = None
    gold_result: ResultSample | None = None
    relevant_metadata: list[MetadataItem] = Field(default_factory=list)


class FailuresView(BaseModel):
    run_id: str
    total_failing: int
    shown: int
    by_failure_category: dict[str, int]
    failures: list[FailureDetail]


class FinalTestView(BaseModel):
    revision: int
    version_id: str
    overall: Score
    by_category: dict[str, Score] = Field(description=f"only categories with at least {MIN_CATEGORY_SIZE} test questions")
    final_tests_left: float | None = None


class RunInfo(BaseModel):
    run_id: str
    split: str | None
    revision: int | None
    version_id: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    overall: Score | None = None
    judges: list[str] = Field(default_factory=list)
    counters: dict[str, Any] = Field(default_factory=dict)
    mlflow: str | None = Field(None, description="MLflow run, where tracking is configured")
    repeat_of: str | None = Field(None, description="the run this one repeats (eval_run repeats)")


class ReportView(BaseModel):
    markdown: str
    runs: list[RunInfo]
    optimizations: list[str] = Field(default_factory=list, description="ids of `chaos-llama optimize` runs in this workspace, newest first")


# ---------------------------------------------------------------- helpers
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _score(rows: list[Any]) -> Score:
    n = len(rows)
    ok = sum(1 for r in rows if r.correct is True)
    return Score(correct=ok, total=n, accuracy=(ok / n) if n else None)


def _by_category(rows: list[Any], min_size: int = 1) -> dict[str, Score]:
    groups: defaultdict[str, list[Any]] = defaultdict(list)
    for r in rows:
        groups[r.category or "uncategorized"].append(r)
    return {k: _score(v) for k, v in sorted(groups.items()) if len(v) >= min_size}


def _sample(table: Any, n: int = 5) -> ResultSample | None:
    if table is None:
        return None
    head = table.slice(0, n).to_pylist()
    cols = list(table.column_names)
    return ResultSample(columns=cols, rows=[[_jsonable(r.get(c)) for c in cols] for r in head], row_count=table.num_rows)


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


_HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    space_key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    parent_revision INTEGER,
    kind TEXT NOT NULL,
    message TEXT,
    author TEXT,
    diff TEXT,
    created_at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE IF NOT EXISTS copilot_runs (
    run_id TEXT PRIMARY KEY,
    space_key TEXT NOT NULL,
    split TEXT NOT NULL,
    revision INTEGER,
    version_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    repeat_of TEXT  -- a repeat (eval_run repeats=n) of this run: never a baseline
);
"""


class _History:
    """Append-only revisions of one space lineage (documents live in the Store, by content hash)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.con = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.con.row_factory = sqlite3.Row
        self.con.execute("PRAGMA busy_timeout=5000")
        self.con.executescript(_HISTORY_SCHEMA)
        # Workspaces made before repeats were recorded lack the column.
        if "repeat_of" not in {r[1] for r in self.con.execute("PRAGMA table_info(copilot_runs)")}:
            self.con.execute("ALTER TABLE copilot_runs ADD COLUMN repeat_of TEXT")

    def add(self, space_key: str, version_id: str, parent: int | None, kind: str, message: str | None, author: str | None, diff: str) -> VersionInfo:
        with self._lock:
            cur = self.con.execute(
                "INSERT INTO history (space_key, version_id, parent_revision, kind, message, author, diff, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (space_key, version_id, parent, kind, message, author, diff, _now()),
            )
            return self.get(space_key, int(cur.lastrowid))

    @staticmethod
    def _info(row: sqlite3.Row) -> VersionInfo:
        return VersionInfo(revision=row["revision"], version_id=row["version_id"], parent_revision=row["parent_revision"],
                           kind=row["kind"], message=row["message"], author=row["author"], created_at=row["created_at"])

    def all(self, space_key: str) -> list[VersionInfo]:
        with self._lock:
            rows = self.con.execute("SELECT * FROM history WHERE space_key=? ORDER BY revision", (space_key,)).fetchall()
        return [self._info(r) for r in rows]

    def get(self, space_key: str, revision: int) -> VersionInfo:
        with self._lock:
            row = self.con.execute("SELECT * FROM history WHERE space_key=? AND revision=?", (space_key, revision)).fetchone()
        if row is None:
            known = [str(v.revision) for v in self.all(space_key)]
            raise InvalidInput(f"no revision {revision!r}; known revisions: {', '.join(known) or 'none'}", field="version")
        return self._info(row)

    def add_run(self, run_id: str, space_key: str, split: str, revision: int | None, version_id: str, repeat_of: str | None = None) -> None:
        with self._lock:
            self.con.execute("INSERT OR REPLACE INTO copilot_runs (run_id, space_key, split, revision, version_id, created_at, repeat_of) "
                             "VALUES (?,?,?,?,?,?,?)", (run_id, space_key, split, revision, version_id, _now(), repeat_of))

    def runs(self, space_key: str) -> list[sqlite3.Row]:
        with self._lock:
            return self.con.execute("SELECT * FROM copilot_runs WHERE space_key=? ORDER BY created_at", (space_key,)).fetchall()

    def close(self) -> None:
        with self._lock:
            self.con.close()


# ---------------------------------------------------------------- the copilot
class Copilot:
    """One project's optimization session. Construction is cheap; everything loads on first use."""

    def __init__(self, settings: CopilotSettings, *, ledger: Ledger | None = None, backend: Any = None, author: str | None = None):
        self.settings = settings
        self.ledger: Ledger = ledger or NoBudget()
        self._backend = backend
        self._evalset = None
        self._store = None
        self._history: _History | None = None
        self._space_key: str | None = None
        self._previews: dict[str, tuple[int, Any, str, str]] = {}  # id -> (base revision, new space, message, diff)
        self._lock = threading.RLock()
        self._tokens_seen = [0, 0]  # LLM tokens, fresh answers: the per-question estimate for the token budget
        self._judge_chat: Any = None
        self.author = author or settings.author

    # ------------------------------------------------------------ lazy state
    @property
    def evalset(self):
        if self._evalset is None:
            from .evalset import assign_splits, load_evalset

            if self.settings.evalset is not None:
                evalset = load_evalset(self.settings.evalset)
            elif hasattr(self.backend, "import_benchmarks"):
                evalset = self.backend.import_benchmarks()
                if not evalset.cases:
                    raise InvalidConfig("the Genie space has no benchmark questions; name an eval set (config 'evalset')", field="evalset")
            else:
                raise InvalidConfig("no eval set configured (config 'evalset')", field="evalset")
            self._evalset = assign_splits(evalset, seed=self.settings.split_seed)
        return self._evalset

    def test_cases(self) -> list[Any]:
        return self.evalset.split(TEST)

    @property
    def store(self):
        if self._store is None:
            from .store import Store

            self._store = Store(Path(self.settings.workspace) / "chaos.db")
        return self._store

    @property
    def backend(self):
        if self._backend is None and self.settings.databricks is not None:
            from .evaluate import open_databricks_backend

            self._backend = open_databricks_backend(**self.settings.databricks, store=self.store)
        if self._backend is None:
            from .evaluate import open_local_backend

            if not self.settings.data:
                raise InvalidConfig("no data configured for the local engine (config 'data')", field="data")
            self._backend = open_local_backend(self.settings.data, strategy=self.settings.strategy, llm=self.settings.llm)
        return self._backend

    @property
    def history(self) -> _History:
        with self._lock:
            if self._history is None:
                self._history = _History(Path(self.settings.workspace) / "copilot.db")
                self._init_lineage()
            return self._history

    @property
    def space_key(self) -> str:
        self.history  # noqa: B018 - initializes the lineage
        assert self._space_key is not None
        return self._space_key

    def _init_lineage(self) -> None:
        from .space.io import load_space
        from .space.validate import ensure_valid

        if self.settings.space is not None:
            space, origin = load_space(self.settings.space), f"loaded from {Path(self.settings.space).name}"
        elif hasattr(self.backend, "get_space"):
            space = self.backend.get_space().space
            origin = f"pulled from Genie space {space.space_id}"
        else:
            raise InvalidConfig("no space configured (config 'space', or a Databricks backend with a space id)", field="space")
        ensure_valid(space)
        self._space_key = self.store.space_key_for(space)
        assert self._history is not None
        if not self._history.all(self._space_key):
            v = self.store.put_space_version(space, space_key=self._space_key, message="initial", author="config")
            self._history.add(self._space_key, v.version_id, None, "initial", origin, "config", "")

    def close(self) -> None:
        for obj in (self._history, self._store):
            if obj is not None:
                obj.close()

    # ------------------------------------------------------------ versions
    def head(self) -> VersionInfo:
        return self.history.all(self.space_key)[-1]

    def resolve_version(self, version: int | str | None) -> VersionInfo:
        """A revision number ('3', 'r3', 3) or a version id (prefix); None is the head."""
        if version is None or version == "":
            return self.head()
        versions = self.history.all(self.space_key)
        s = str(version).strip().lower().removeprefix("r")
        if s.isdigit():
            return self.history.get(self.space_key, int(s))
        hits = [v for v in versions if v.version_id.startswith(s)]
        if not hits:
            raise InvalidInput(
                f"unknown version {version!r}; give a revision number (1..{versions[-1].revision}) or a version id."
                + did_you_mean(s, [v.version_id for v in versions]), field="version")
        return hits[-1]

    def space_at(self, info: VersionInfo):
        return self.store.get_space_version(info.version_id, space_key=self.space_key).space

    # ------------------------------------------------------------ tools: space
    def space_get(self, full: bool | None = None) -> SpaceView:
        from .space.io import space_to_yaml

        head = self.head()
        space = self.space_at(head)
        text = space_to_yaml(space)
        compact = (len(text) > COMPACT_OVER_CHARS) if full is None else not full
        return SpaceView(revision=head.revision, version_id=head.version_id, summary=summarize(space),
                         yaml=None if compact else text, compact=compact)

    def space_propose(self, changes: list[Any], message: str = "") -> Proposal:
        """Validate a change set against the head; no side effects except remembering the preview."""
        from .space.changes import ChangeSet, apply_changes, diff_spaces
        from .space.io import space_hash
        from .space.validate import validate_space

        head = self.head()
        space = self.space_at(head)
        cs = ChangeSet.parse({"changes": [c if isinstance(c, dict) else c.model_dump(exclude_none=True) for c in changes], "message": message})
        if not cs.changes:
            raise InvalidInput("the change set is empty; give at least one edit", field="changes")
        lines = [c.describe() for c in cs.changes]
        try:
            new, _journal = apply_changes(space, cs)
        except InvalidInput as e:
            return Proposal(preview_id=None, base_revision=head.revision, base_version=head.version_id, ok=False, changes=lines,
                            diff="", problems=[ProblemView(severity="error", path=getattr(e, "field", None) or "changes", message=str(e))])
        problems = [ProblemView(severity=p.severity, path=p.path, message=p.message) for p in validate_space(new)]
        problems += self._check_examples(space, new)
        diff = diff_spaces(space, new)
        ok = not any(p.severity == "error" for p in problems) and bool(diff)
        if not diff:
            problems.append(ProblemView(severity="error", path="changes", message="the change set changes nothing"))
        preview_id = None
        if ok:
            preview_id = "p-" + uuid.uuid4().hex[:10]
            self._previews[preview_id] = (head.revision, new, cs.message or message, diff)
        return Proposal(preview_id=preview_id, base_revision=head.revision, base_version=head.version_id,
                        new_version=space_hash(new), ok=ok, changes=lines, diff=diff, problems=problems)

    def _check_examples(self, old, new) -> list[ProblemView]:
        """New or changed example SQL must run read-only on the data (costs SQL executions)."""
        from .space.model import text

        before = {(text(e.question), text(e.sql)) for e in old.serialized.examples}
        added = [(i, e) for i, e in enumerate(new.serialized.examples) if (text(e.question), text(e.sql)) not in before]
        out: list[ProblemView] = []
        if not added:
            return out
        self.ledger.reserve("sql_executions", len(added), note="check example SQL")
        for i, e in added:
            sql = text(e.sql)
            if e.parameters:  # parameterized trusted assets run with their defaults, else are only parsed
                sql = _bind_defaults(sql, e.parameters)
                if sql is None:
                    continue
            try:
                self.backend.execute(sql, max_rows=1, space=new)  # table names resolve through the proposed space
            except ChaosLlamaError as err:
                out.append(ProblemView(severity="error", path=f"instructions.example_question_sqls[{i}].sql", message=f"{type(err).__name__}: {err}"))
            except Exception as err:  # noqa: BLE001 - reported as a problem, not a crash
                out.append(ProblemView(severity="error", path=f"instructions.example_question_sqls[{i}].sql", message=f"does not run: {err}"))
        return out

    def space_apply(self, preview_id: str, message: str, *, confirmed: bool = True) -> ApplyResult:
        """Apply exactly a previewed change set as a new revision (refused if the head moved)."""
        if preview_id not in self._previews:
            raise InvalidInput(f"unknown preview id {preview_id!r}; call space_propose first.{did_you_mean(preview_id, self._previews)}", field="preview_id")
        if not message or not message.strip():
            raise InvalidInput("message must say why the change is made", field="message")
        if not confirmed:
            return ApplyResult(applied=False, note="not applied: the user declined")
        with self._lock:
            base, new, _msg, diff = self._previews[preview_id]
            head = self.head()
            if head.revision != base:
                raise ApplyConflict(f"preview {preview_id!r} was made on revision {base}, but the head is now revision {head.revision}; propose again")
            self.ledger.reserve("applies", 1, note=preview_id)
            info = self._commit(new, head, "apply", message, diff, note=preview_id)
            del self._previews[preview_id]
        return ApplyResult(applied=True, version=info, note=f"revision {info.revision} created")

    def _commit(self, space: Any, head: VersionInfo, kind: str, message: str, diff: str, note: str | None = None) -> VersionInfo:
        """Write a revision, or nothing: a failure refunds the reserved apply and adds no revision.

        The space document goes to the content-addressed store first; a revision exists only once
        its history row is written (one INSERT), so a crash in between leaves an unreferenced
        document, never a partial revision.
        """
        from .space.validate import ensure_valid

        try:
            ensure_valid(space)  # nothing is written for an invalid space
            # (a local engine not built yet has nothing to deploy: don't build it here)
            deploy = getattr(self.backend if self.settings.databricks else self._backend, "deploy", None)
            if deploy is not None:
                # A remote space (Genie) gets the revision before it is recorded: a refused push
                # (e.g. someone edited the space meanwhile) adds no revision.
                deploy(space)
            v = self.store.put_space_version(space, space_key=self.space_key, parent_id=head.version_id, message=message, author=self.author)
            return self.history.add(self.space_key, v.version_id, head.revision, kind, message, self.author, diff)
        except BaseException:
            self.ledger.settle("applies", 1, 0, note=f"{kind} failed: refund" + (f" ({note})" if note else ""))
            raise

    def space_history(self) -> HistoryView:
        versions = self.history.all(self.space_key)
        return HistoryView(head=versions[-1], versions=versions)

    def space_diff(self, a: int | str, b: int | str | None = None) -> DiffView:
        from .space.changes import diff_spaces

        va, vb = self.resolve_version(a), self.resolve_version(b)
        return DiffView(a=va, b=vb, diff=diff_spaces(self.space_at(va), self.space_at(vb), name=f"r{va.revision}..r{vb.revision}.yaml"))

    def space_rollback(self, version: int | str, message: str | None = None) -> VersionInfo:
        """A new revision whose content equals `version` (history is never rewritten)."""
        from .space.changes import diff_spaces

        with self._lock:
            target = self.resolve_version(version)
            head = self.head()
            if target.revision == head.revision:
                raise InvalidInput(f"revision {target.revision} is already the head", field="version")
            self.ledger.reserve("applies", 1, note=f"rollback to r{target.revision}")
            try:
                old = self.space_at(target)
                diff = diff_spaces(self.space_at(head), old)
            except BaseException:
                self.ledger.settle("applies", 1, 0, note="rollback failed: refund")
                raise
            return self._commit(old, head, "rollback", message or f"roll back to revision {target.revision}", diff)

    # ------------------------------------------------------------ tools: eval
    def evalset_info(self) -> EvalSetInfo:
        from .evalset import split_counts

        counts = split_counts(self.evalset, by_category=True)
        by_cat = counts.pop("by_category")
        return EvalSetInfo(
            name=self.evalset.name, total=len(self.evalset.cases), splits=counts, by_category=by_cat,
            train_questions=[TrainQuestion(id=c.id, question=c.question, category=c.category) for c in self.evalset.split(TRAIN)],
            split_seed=self.settings.split_seed,
        )

    def _plan_spend(self, space: Any, cases: list[Any], version_id: str, use_cache: bool) -> tuple[int, int]:
        """Exact backend questions and gold executions a run will need (cache hits cost nothing)."""
        from .store import answer_cache_key, gold_cache_key

        identity = self.backend.identity()
        asks = {c.question for c in cases if not use_cache or not self.store.has_cached_answer(answer_cache_key(version_id, c.question, identity))}
        fn = getattr(self.backend, "data_identity", None)
        data_id = str(fn() if callable(fn) else identity)
        golds = {s for c in cases for s in c.gold_sql if self.store.get_cached_gold(gold_cache_key(data_id, s)) is None}
        return len(asks), len(golds)

    async def _run(self, split: str, info: VersionInfo, *, judges: list[str] | None = None, use_cache: bool = True,
                   progress: Callable[[int, int, str], Awaitable[Any] | Any] | None = None, repeat_of: str | None = None):
        from .evalset import select_cases
        from .runner import run_eval

        space = self.space_at(info)
        cases = select_cases(self.evalset, split)
        asks, golds = self._plan_spend(space, cases, info.version_id, use_cache)
        # Refuse before spending: every kind is checked before any is taken.
        remaining = getattr(self.ledger, "remaining", None)
        tokens = self._token_estimate(asks)
        if callable(remaining):
            checks = [("backend_questions", asks), ("sql_executions", asks + golds), ("wall_clock_s", 0)]
            if tokens is not None:
                checks.append(("llm_tokens", tokens))
            for kind, n in checks:
                if remaining(kind) < n or (n == 0 and remaining(kind) <= 0):
                    self.ledger.reserve(kind, n)  # raises BudgetExceeded saying what is left
        self.ledger.reserve("backend_questions", asks, note=f"{split} r{info.revision}")
        self.ledger.reserve("sql_executions", asks + golds, note=f"{split} r{info.revision}")
        pending: list[Any] = []

        def on_progress(done: int, total: int, case_id: str, status_: str) -> None:
            if progress is not None:
                out = progress(done, total, f"{done}/{total} {split} questions")
                if asyncio.iscoroutine(out):
                    pending.append(asyncio.ensure_future(out))

        from .runner import new_run_id

        run_id = new_run_id()
        # The wall-clock budget holds during the run too: when it runs out the run stops (what was
        # recorded stays, resumable), the unasked questions are refunded and the call is refused.
        seconds_left = remaining("wall_clock_s") if callable(remaining) else None
        t0 = time.monotonic()
        try:
            with self._judging():  # LLM judges spend tokens from this ledger and cache in this store
                run = run_eval(self.evalset, self.backend, space, store=self.store, judges=judges or self.settings.judges,
                               split=split, use_cache=use_cache, progress=on_progress, space_key=self.space_key, run_id=run_id)
                result = await (asyncio.wait_for(run, seconds_left) if seconds_left is not None else run)
        except TimeoutError:
            fresh = sum(1 for r in self.store.get_results(run_id) if not r.from_cache)
            self.ledger.settle("backend_questions", asks, fresh, note=f"{run_id} stopped: wall clock")
            self.ledger.settle("sql_executions", asks + golds, fresh + golds, note=f"{run_id} stopped: wall clock")
            done = len(self.store.result_statuses(run_id))
            raise BudgetExceeded(f"the wall-clock budget ran out during the {split} run {run_id}: {done} of {len(cases)} "
                                 f"questions recorded and kept ({fresh} asked and charged); the rest was not asked") from None
        finally:
            self.ledger.record("wall_clock_s", time.monotonic() - t0, note=f"{split} run")
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        self.ledger.settle("backend_questions", asks, result.backend_calls, note=result.run_id)
        self.ledger.settle("sql_executions", asks + golds, result.backend_calls + result.gold_executions, note=result.run_id)
        tokens, answered = self._tokens(result.run_id)
        if tokens:
            self.ledger.record("llm_tokens", tokens, note=result.run_id)
        if answered:
            self._tokens_seen[0] += tokens
            self._tokens_seen[1] += answered
        self.history.add_run(result.run_id, self.space_key, split, info.revision, info.version_id, repeat_of)
        return result

    def _tokens(self, run_id: str) -> tuple[int, int]:
        """LLM tokens the run's fresh answers spent (`Answer.details["usage"]["total_tokens"]`, as the
        llm strategy reports them) and how many fresh answers there were."""
        total = answered = 0
        for r in self.store.get_results(run_id):
            if r.from_cache:
                continue
            answered += 1
            usage = (r.answer.get("details") or {}).get("usage") or {}
            total += int(usage.get("total_tokens") or 0)
        return total, answered

    def _token_estimate(self, asks: int) -> int | None:
        """Tokens `asks` fresh questions will likely spend, or None when the backend spends none.

        Token use is only known afterwards, so a run is refused when the budget is exhausted or
        when the per-question average seen so far says it would not fit.
        """
        uses_llm = self.settings.strategy == "llm" or getattr(self._backend, "strategy", None) == "llm" or self._tokens_seen[0] > 0
        if not uses_llm:
            return None
        per_question = self._tokens_seen[0] / self._tokens_seen[1] if self._tokens_seen[1] else 0.0
        return int(round(asks * per_question))

    async def eval_run(self, split: Literal["train", "val"], version: int | str | None = None, *, repeats: int = 1,
                       progress: Callable[[int, int, str], Awaitable[Any] | Any] | None = None) -> EvalRunView:
        """Evaluate train (per-question results) or val (aggregates only) on a version (default: head)."""
        if split not in (TRAIN, VAL):
            raise InvalidInput(f"split {split!r} cannot be run here; choose 'train' or 'val' (test is scored only by eval_final_test)", field="split")
        if not 1 <= repeats <= 5:
            raise InvalidInput(f"repeats must be 1..5, got {repeats!r}", field="repeats")
        info = self.resolve_version(version)
        results = [await self._run(split, info, progress=progress)]
        for _ in range(repeats - 1):  # fresh answers: a cached one would hide the nondeterminism
            results.append(await self._run(split, info, progress=progress, use_cache=False, repeat_of=results[0].run_id))
        result = results[0]
        asked: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for r in results:
            for row in r.rows:
                asked[row.case_id] += 1
                right[row.case_id] += int(row.correct is True)
        unstable = sum(1 for cid in asked if 0 < right[cid] < asked[cid])
        baseline = self._baseline(split, info, exclude={r.run_id for r in results})
        comparison = self._compare(baseline, result, with_ids=split == TRAIN) if baseline else None
        rows = None
        if split == TRAIN:
            rows = []
            for row in result.rows:
                fa = row.verdicts.get("failure_analysis")
                rows.append(TrainRow(
                    case_id=row.case_id, question=row.question, category=row.category, status=row.status, correct=row.correct,
                    sql=row.sql, failure_category=None if row.correct or fa is None else (str(fa.value) if fa.value is not None else None),
                    failure_summary=[] if row.correct or fa is None else [fa.rationale],
                    stability=Stability(asked=asked[row.case_id], correct=right[row.case_id],
                                        stable=right[row.case_id] in (0, asked[row.case_id])) if asked[row.case_id] > 1 else None,
                ))
        return EvalRunView(
            run_id=result.run_id, split=split, revision=info.revision, version_id=info.version_id,
            overall=_score(result.rows), by_category=_by_category(result.rows), rows=rows, repeats=repeats,
            repeat_run_ids=[r.run_id for r in results[1:]], unstable=unstable,
            comparison=comparison, backend_calls=sum(r.backend_calls for r in results), cache_hits=sum(r.cache_hits for r in results),
        )

    def _baseline(self, split: str, info: VersionInfo, exclude: set[str]) -> str | None:
        """The latest earlier run of this split on a different version."""
        for row in reversed(self.history.runs(self.space_key)):
            if row["split"] == split and row["version_id"] != info.version_id and row["run_id"] not in exclude and not row["repeat_of"]:
                return row["run_id"]
        return None

    def _compare(self, baseline_run: str, result: Any, *, with_ids: bool) -> Comparison:
        from .runner import build_run_result

        base = build_run_result(self.store, baseline_run)
        before = {r.case_id: r.correct is True for r in base.rows}
        fixed, broken, same_ok, same_bad = [], [], 0, 0
        for r in result.rows:
            if r.case_id not in before:
                continue
            now = r.correct is True
            if now and not before[r.case_id]:
                fixed.append(r.case_id)
            elif before[r.case_id] and not now:
                broken.append(r.case_id)
            elif now:
                same_ok += 1
            else:
                same_bad += 1
        rev = next((row["revision"] for row in self.history.runs(self.space_key) if row["run_id"] == baseline_run), None)
        return Comparison(baseline_run=baseline_run, baseline_revision=rev, fixed=len(fixed), broken=len(broken),
                          still_correct=same_ok, still_wrong=same_bad,
                          fixed_ids=fixed if with_ids else None, broken_ids=broken if with_ids else None)

    def _run_split(self, run_id: str) -> str | None:
        run = self.store.get_run(run_id)
        if run is None:
            known = [r["run_id"] for r in self.history.runs(self.space_key)]
            raise InvalidInput(f"no run {run_id!r}.{did_you_mean(run_id, known)}", field="run_id")
        return run.split

    def _train_only(self, run_id: str, what: str) -> None:
        split = self._run_split(run_id)
        if split != TRAIN:
            raise InvalidInput(
                f"{what} needs a train run; run {run_id!r} is on split {split or 'all'!r}, whose per-question results are not shown",
                field="run_id")

    def eval_failures(self, run_id: str, category: str | None = None, limit: int = 10) -> FailuresView:
        """Failing train questions with everything needed to hypothesize a metadata fix."""
        from .runner import build_run_result

        self._train_only(run_id, "eval_failures")
        if not 1 <= limit <= 100:
            raise InvalidInput(f"limit must be 1..100, got {limit!r}", field="limit")
        result = build_run_result(self.store, run_id, evalset=self.evalset)
        failing = [r for r in result.rows if r.correct is not True]
        fcats = Counter(str((r.verdicts.get("failure_analysis").value if r.verdicts.get("failure_analysis") else None) or r.status) for r in failing)
        if category is not None:
            cats = sorted({r.category or "uncategorized" for r in result.rows} | set(fcats))
            if category not in cats:
                raise InvalidInput(f"unknown category {category!r}.{did_you_mean(category, cats)}", field="category")
            failing = [r for r in failing if (r.category or "uncategorized") == category
                       or str((r.verdicts.get("failure_analysis").value if r.verdicts.get("failure_analysis") else None) or r.status) == category]
        run = self.store.get_run(run_id)
        space = self.store.get_space_version(run.space_version, space_key=run.space_key).space
        by_id = {c.id: c for c in self.evalset.cases}
        verdicts = self.store.get_verdicts(run_id)
        out = []
        for r in failing[:limit]:
            case = by_id[r.case_id]
            stored = self.store.get_result(run_id, r.case_id)
            fa = next((v for v in verdicts.get(r.case_id, []) if v.judge == "failure_analysis"), None)
            out.append(FailureDetail(
                case_id=r.case_id, question=r.question, category=r.category, status=r.status, generated_sql=r.sql,
                gold_sql=list(case.gold_sql), error=r.error,
                failure_category=str(fa.value) if fa and fa.value is not None else None,
                analysis={k: v for k, v in (fa.details if fa else {}).items() if v},
                generated_result=_sample(stored.result) if stored else None,
                gold_result=self._gold_sample(case.gold_sql[0]),
                relevant_metadata=relevant_metadata(space, [*(case.gold_sql), r.sql or ""]),
            ))
        return FailuresView(run_id=run_id, total_failing=len([r for r in result.rows if r.correct is not True]), shown=len(out),
                            by_failure_category=dict(fcats.most_common()), failures=out)

    def _gold_sample(self, sql: str) -> ResultSample | None:
        """The gold result from the cache the run filled (no new execution)."""
        from .store import gold_cache_key

        fn = getattr(self.backend, "data_identity", None)
        data_id = str(fn() if callable(fn) else self.backend.identity())
        gold = self.store.get_cached_gold(gold_cache_key(data_id, sql))
        return _sample(gold.result) if gold is not None else None

    def judge_run(self, run_id: str, judges: list[str]) -> EvalRunView:
        """Re-judge a stored run with other judges; the backend is not asked again."""
        from .runner import rejudge

        split = self._run_split(run_id)
        if split not in (TRAIN, VAL):
            raise InvalidInput(f"run {run_id!r} is on split {split or 'all'!r}; only train and val runs can be re-judged", field="run_id")
        if not judges:
            raise InvalidInput("give at least one judge", field="judges")
        from .judges import JUDGES

        for j in judges:
            if j not in JUDGES:
                raise InvalidInput(f"unknown judge {j!r}.{did_you_mean(j, JUDGES)}", field="judges")
        with self._judging():
            result = rejudge(run_id, judges, self.store, backend=self.backend)
        info = next((row for row in self.history.runs(self.space_key) if row["run_id"] == run_id), None)
        rows = None
        if split == TRAIN:
            rows = [TrainRow(case_id=r.case_id, question=r.question, category=r.category, status=r.status, correct=r.correct, sql=r.sql)
                    for r in result.rows]
        return EvalRunView(run_id=run_id, split=split, revision=info["revision"] if info else None, version_id=result.space_version,
                           overall=_score(result.rows), by_category=_by_category(result.rows), rows=rows,
                           backend_calls=0, cache_hits=0)

    # ------------------------------------------------------------ tools: LLM judges and human labels
    def _judging(self):
        from .chat import Chat
        from .judges.llm import judge_runtime

        if self._judge_chat is None and self.settings.judge_model:
            self._judge_chat = Chat(self.settings.judge_model)  # one client per session (and one auth setup)
        return judge_runtime(store=self.store, ledger=self.ledger, model=self._judge_chat)

    def judge_pending(self, run_id: str, judges: list[str] | None = None, limit: int = 10):
        """Train/val questions of a run still needing an LLM judge's verdict (never test questions)."""
        from .judges.llm_assist import pending

        return pending(self.store, run_id, judges, limit=limit)

    def judge_submit(self, run_id: str, verdicts: list[Any]):
        from .judges.llm_assist import Submission, submit

        return submit(self.store, run_id, [Submission.model_validate(v) if isinstance(v, dict) else v for v in verdicts],
                      source=self.author)

    def judge_sampling_request(self, run_id: str, judge: str, case_id: str | None = None):
        from .judges.llm_assist import sampling_request

        req = sampling_request(self.store, run_id, judge, case_id, gold_result=self._gold_table)
        remaining = getattr(self.ledger, "remaining", None)
        if req is not None and callable(remaining) and remaining("llm_tokens") < req.estimated_tokens:
            self.ledger.reserve("llm_tokens", req.estimated_tokens)  # raises BudgetExceeded saying what is left
        return req  # spend is recorded once the reply is in: resolvers may run again on a retry round

    def judge_record_sampled(self, request: Any, text: str, model: str | None = None):
        from .judges.llm_assist import record_sampled

        verdict = record_sampled(self.store, request, text, model=model)
        self.ledger.record("llm_tokens", verdict.details["usage"]["total_tokens"], note=f"sampled judge {request.judge}")
        return verdict

    def _gold_table(self, sql: str):
        from .store import gold_cache_key

        fn = getattr(self.backend, "data_identity", None)
        gold = self.store.get_cached_gold(gold_cache_key(str(fn() if callable(fn) else self.backend.identity()), sql))
        return gold.result if gold is not None else None

    def label_submit(self, run_id: str, case_id: str, judge: str, value: bool, note: str = "", labeler: str | None = None):
        """Record a person's verdict (test questions are refused here: the assistant never sees them)."""
        from .labels import record_label

        return record_label(self.store, run_id, case_id, judge, value, note=note, labeler=labeler, allow_test=False)

    def judge_alignment(self, judge: str):
        from .labels import alignment

        return alignment(self.store, judge, exclude_splits=(TEST,))

    async def eval_final_test(self, progress: Callable[[int, int, str], Awaitable[Any] | Any] | None = None) -> FinalTestView:
        """Score the head on the held-out test split: aggregates only, a few times per session."""
        info = self.head()
        self.ledger.reserve("final_tests", 1, note=f"r{info.revision}")
        try:
            result = await self._run(TEST, info, progress=progress, judges=self.settings.final_test_judges)
        except BudgetExceeded:
            # The run was refused before it asked anything: the final test was not used.
            self.ledger.settle("final_tests", 1, 0, note="refused: refund")
            raise
        left = getattr(self.ledger, "remaining", None)
        return FinalTestView(revision=info.revision, version_id=info.version_id, overall=_score(result.rows),
                             by_category=_by_category(result.rows, MIN_CATEGORY_SIZE),
                             final_tests_left=left("final_tests") if callable(left) else None)

    # ------------------------------------------------------------ tools: runs
    def run_info(self, run_id: str) -> RunInfo:
        from .runner import build_run_result

        split = self._run_split(run_id)
        run = self.store.get_run(run_id)
        result = build_run_result(self.store, run_id, evalset=self.evalset)
        rows = [r for r in result.rows if r.split in (TRAIN, VAL)] if split is None else result.rows
        row = next((r for r in self.history.runs(self.space_key) if r["run_id"] == run_id), None)
        counters = {k: v for k, v in run.summary.items() if k in ("backend_calls_total", "cache_hits_total", "gold_executions", "total")}
        return RunInfo(run_id=run_id, split=split, revision=row["revision"] if row else None, version_id=run.space_version,
                       status=run.status, started_at=run.started_at, finished_at=run.finished_at, overall=_score(rows),
                       judges=run.judges, counters=counters, mlflow=run.summary.get("mlflow_run_id"),
                       repeat_of=row["repeat_of"] if row else None)

    def runs(self) -> list[RunInfo]:
        return [self.run_info(r["run_id"]) for r in self.history.runs(self.space_key)]

    def optimizations(self) -> list[str]:
        from .optimize.state import list_states

        return [s.opt_id for s in list_states(self.store)]

    def report(self, run_ids: list[str] | None = None, optimization: str | None = None) -> ReportView:
        """A Markdown report of runs (default: all of this session's), paired flips between consecutive runs per split.

        With `optimization` (an id, or "latest"), the report of a `chaos-llama optimize` run kept
        in this workspace instead: scores per split, epochs, the changes kept.
        """
        known = self.optimizations()
        if optimization is not None:
            from .optimize.loop import load_result
            from .report import render_markdown

            if optimization == "latest":
                if not known:
                    raise InvalidInput(f"no optimization in {self.store.path}; run `chaos-llama optimize` first", field="optimization")
                optimization = known[0]
            return ReportView(markdown=render_markdown(load_result(self.store, optimization)), runs=[], optimizations=known)
        infos = [self.run_info(r) for r in run_ids] if run_ids else self.runs()
        lines = ["# Chaos Llama optimization report", "", f"Space lineage `{self.space_key}`, head revision {self.head().revision}.", "",
                 "| run | split | revision | correct | accuracy |", "|---|---|---|---|---|"]
        for i in infos:
            acc = f"{i.overall.accuracy:.1%}" if i.overall and i.overall.accuracy is not None else "-"
            lines.append(f"| {i.run_id} | {i.split or 'all'} | {i.revision if i.revision is not None else '-'} | "
                         f"{i.overall.correct if i.overall else '-'}/{i.overall.total if i.overall else '-'} | {acc} |")
        prev: dict[str, RunInfo] = {}
        flips = []
        for i in infos:
            if i.repeat_of:
                continue
            if i.split in (TRAIN, VAL) and i.split in prev and prev[i.split].version_id != i.version_id:
                from .runner import build_run_result

                c = self._compare(prev[i.split].run_id, build_run_result(self.store, i.run_id, evalset=self.evalset), with_ids=False)
                flips.append(f"- {i.split}: r{prev[i.split].revision} → r{i.revision}: {c.fixed} fixed, {c.broken} broken")
            if i.split in (TRAIN, VAL):
                prev[i.split] = i
        if flips:
            lines += ["", "## Paired changes", "", *flips]
        history = self.space_history()
        lines += ["", "## Space history", ""] + [f"- r{v.revision} ({v.kind}) {v.message or ''}" for v in history.versions]
        if known:
            lines += ["", "## Optimizations in this workspace", "", *(f"- `{o}` (report: optimization={o!r})" for o in known)]
        return ReportView(markdown="\n".join(lines) + "\n", runs=infos, optimizations=known)


# ---------------------------------------------------------------- pure helpers
def summarize(space: Any) -> SpaceSummary:
    from .space.model import text

    s = space.serialized
    tables = [TableSummary(identifier=t.identifier, description=text(t.description) or None,
                           columns_configured=len(t.column_configs),
                           columns_described=sum(1 for c in t.column_configs if text(c.description)),
                           synonyms=sum(len(c.synonyms or []) if isinstance(c.synonyms, list) else int(bool(c.synonyms)) for c in t.column_configs))
              for t in s.tables]
    snippets = s.instructions.sql_snippets
    n_snip = sum(len(getattr(snippets, k) or []) for k in ("filters", "expressions", "measures")) if snippets else 0
    return SpaceSummary(title=space.title, tables=tables, text_instructions=len(s.instructions.text_instructions),
                        example_sqls=len(s.examples), sql_functions=len(s.functions), join_specs=len(s.joins),
                        snippets=n_snip, sample_questions=len(s.config.sample_questions))


def relevant_metadata(space: Any, sqls: list[str]) -> list[MetadataItem]:
    """The metadata about the tables and columns these queries touch (what a fix would edit)."""
    import sqlglot
    from sqlglot import exp

    from .space.model import text

    tables: set[str] = set()
    columns: set[str] = set()
    owned: dict[str, set[str]] = defaultdict(set)  # table -> columns the SQL qualifies with it
    for sql in sqls:
        if not sql:
            continue
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except Exception:  # noqa: BLE001 - unparsable SQL just contributes nothing
            continue
        found = list(tree.find_all(exp.Table))
        tables |= {t.name.lower() for t in found}
        alias = {t.alias_or_name.lower(): t.name.lower() for t in found}
        only = next(iter({t.name.lower() for t in found})) if len({t.name.lower() for t in found}) == 1 else None
        for c in tree.find_all(exp.Column):
            columns.add(c.name.lower())
            owner = alias.get(c.table.lower()) if c.table else only
            if owner:
                owned[owner].add(c.name.lower())
    out: list[MetadataItem] = []
    s = space.serialized
    for t in s.tables:
        if t.name.lower() not in tables:
            continue
        out.append(MetadataItem(kind="table", target=t.identifier, text=text(t.description) or "(no description)"))
        configured = set()
        for c in t.column_configs:
            configured.add(c.column_name.lower())
            if c.column_name.lower() in columns:
                syn = c.synonyms if isinstance(c.synonyms, list) else ([c.synonyms] if c.synonyms else [])
                out.append(MetadataItem(kind="column", target=f"{t.name}.{c.column_name}",
                                        text=(text(c.description) or "(no description)") + (f"; synonyms: {', '.join(syn)}" if syn else "")))
        for col in sorted(owned.get(t.name.lower(), set()) - configured):  # what a fix could describe
            out.append(MetadataItem(kind="column", target=f"{t.name}.{col}", text="(no column config: no description, synonyms or entity matching)"))
    for j in s.joins:
        names = {j.left.identifier.split(".")[-1].lower(), j.right.identifier.split(".")[-1].lower()}
        if names & tables:
            out.append(MetadataItem(kind="join_spec", target=f"{j.left.identifier} ⋈ {j.right.identifier}", text=j.condition))
    for e in s.examples:
        if any(n in text(e.sql).lower() for n in tables):
            out.append(MetadataItem(kind="example_sql", target=e.id or "", text=text(e.question)))
    if s.instructions.text_instructions:
        out.append(MetadataItem(kind="text_instructions", target="space", text=s.instruction_text[:2000]))
    return out


def _bind_defaults(sql: str, parameters: list[Any]) -> str | None:
    """The SQL with `:name` replaced by each parameter's default, or None if one has no default."""
    import re

    for p in parameters:
        values = (p.default_value.values if p.default_value else None) or []
        if not values:
            return None
        v = values[0]
        lit = str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else "'" + str(v).replace("'", "''") + "'"
        sql = re.sub(rf":{re.escape(p.name)}\b", lit, sql)
    return sql


def settings_for_example(name: str = "retail", which: str = "sparse", **kw: Any) -> CopilotSettings:
    """Settings for a bundled example (its files are real paths in editable and regular installs)."""
    import importlib.resources

    root = Path(str(importlib.resources.files("chaos_llama.examples") / name))
    if not root.is_dir():
        raise InvalidConfig(f"no bundled example {name!r}", field="example")
    return CopilotSettings(space=root / f"space_{which}.yaml", evalset=root / "evalset.yaml", data=[root / "data"], **kw)


__all__ = [
    "Copilot", "CopilotSettings", "Ledger", "NoBudget", "settings_for_example", "summarize", "relevant_metadata",
    "SpaceView", "Proposal", "ApplyResult", "HistoryView", "DiffView", "VersionInfo", "EvalSetInfo", "EvalRunView",
    "FailuresView", "FinalTestView", "RunInfo", "ReportView",
]
