"""The optimization copilot: one project's session over the same functions `optimize` uses.

A `Copilot` holds a space's revision lineage, the eval set with its splits, the backend and the
store; it spends through a budget ledger and shows only what the assistant may see. Scoring,
paired comparison and failure extraction are the shared ones (`scoring`, `failures`); the
lineage, the previews and the ledger live in the workspace's one store. The MCP server turns
what these methods return into small views (`server/views.py`).

Three promises hold by construction:

- every spend is reserved *before* it happens (questions, SQL executions, LLM tokens, wall clock,
  applies), for the whole call: a refused call spends nothing;
- the test split is only ever scored by `final_test`, whose result the server shows as
  aggregates; every other method works on the *visible* cases (train and val) and treats a test
  question exactly like one that does not exist;
- history is append-only and linear: an apply or rollback adds a revision only if the head is
  still the one it was made on, checked and written in one transaction (any number of
  processes may share the workspace).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from .backends import Backend, open_backend
from .chat import Chat
from .errors import ApplyConflict, BudgetExceeded, ChaosLlamaError, InvalidConfig, InvalidInput, did_you_mean
from .evalset import EvalCase, EvalSet, assign_splits, load_evalset, select_cases
from .failures import Failure, extract_failures
from .families import Leakage, leakage
from .judges import JUDGES
from .judges.llm import judge_runtime
from .judges.llm_assist import PendingView, SamplingRequest, Submission, SubmitResult, pending, record_sampled, sampling_request, submit
from .labels import Alignment, alignment, record_label
from .optimize.loop import load_result
from .optimize.model import OptimizationResult
from .optimize.state import list_states
from .project import DEFAULT_JUDGES, BackendConfig
from .runner import RunResult, RunSettings, build_run_result, new_run_id, rejudge, run_eval
from .scoring import Paired, compare
from .space.changes import ChangeSet, apply_changes, diff_spaces
from .space.io import load_space, space_hash
from .space.model import Space, text
from .space.validate import ensure_valid, validate_space
from .store import PreviewRecord, Revision, Run, Store, answer_cache_key, gold_cache_key
from .tracking import track_run, tracking_uri

TRAIN, VAL, TEST = "train", "val", "test"
VISIBLE = (TRAIN, VAL)  # splits the assistant works with; per-question content only for train
Progress = Callable[[int, int, str], Awaitable[Any] | Any]


# ---------------------------------------------------------------- budgets (protocol)
class Ledger(Protocol):
    def reserve(self, kind: str, n: float, note: str | None = None) -> None: ...
    def settle(self, kind: str, reserved: float, actual: float, note: str | None = None) -> None: ...
    def record(self, kind: str, actual: float, note: str | None = None) -> None: ...
    def remaining(self, kind: str) -> float: ...
    def try_reserve(self, kind: str, n: float, note: str | None = None) -> bool: ...


class NoBudget:
    """A ledger that allows everything (library use without a server)."""

    def reserve(self, kind: str, n: float, note: str | None = None) -> None:
        return None

    def settle(self, kind: str, reserved: float, actual: float, note: str | None = None) -> None:
        return None

    def record(self, kind: str, actual: float, note: str | None = None) -> None:
        return None

    def remaining(self, kind: str) -> float:
        return float("inf")

    def try_reserve(self, kind: str, n: float, note: str | None = None) -> bool:
        return True


# ---------------------------------------------------------------- settings and results
class CopilotSettings(BaseModel):
    space: Path | None = Field(None, description="space file; None with a Databricks backend: the version Genie holds")
    evalset: Path | None = Field(None, description="eval set file; None with a Databricks backend: the space's benchmarks")
    data: list[Path] = Field(default_factory=list)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    judge_model: dict[str, Any] | str | None = Field(
        None, description="chat model for LLM judges: 'databricks:<endpoint>' or {provider, model, base_url, api_key_env, ...}")
    judges: list[str] = Field(default_factory=lambda: list(DEFAULT_JUDGES))
    split_seed: int = 0
    workspace: Path = Path(".chaos-llama")
    author: str = "assistant"
    final_test_judges: list[str] | None = None
    tracking: str | bool | None = Field(None, description="MLflow: a tracking URI, true (the workspace's sqlite:///.../mlflow.db), "
                                                          "false (off); None: $CHAOS_LLAMA_TRACKING, else on (tools/tracking.py)")


class Problem(BaseModel):
    severity: str
    path: str
    message: str


class Preview(BaseModel):
    """A validated change set: its diff, problems and, when it can be applied, a preview id."""

    preview_id: str | None = Field(description="pass to space_apply; None when the change set has errors")
    base_revision: int
    base_version: str
    new_version: str | None = None
    ok: bool
    changes: list[str] = Field(description="one line per edit")
    diff: str = Field(description="unified diff of the space YAML")
    problems: list[Problem] = Field(default_factory=list)


class EvalRuns(BaseModel):
    """A split evaluated on one revision (asked `len(results)` times) and compared with the last other revision's run."""

    revision: Revision
    split: str
    results: list[RunResult]
    baseline: Run | None = None
    comparison: Paired | None = None
    asked: dict[str, int] = Field(default_factory=dict)  # per question: times asked
    right: dict[str, int] = Field(default_factory=dict)  # per question: times right

    @property
    def first(self) -> RunResult:
        return self.results[0]

    @property
    def unstable(self) -> int:
        return sum(1 for q, n in self.asked.items() if 0 < self.right.get(q, 0) < n)


class FinalTest(BaseModel):
    revision: Revision
    result: RunResult


class ColumnInfo(BaseModel):
    name: str
    type: str
    distinct: int | None = None  # with a table's detail
    nulls: int | None = None
    top_values: list[str] | None = Field(None, description="most frequent values (at most 8), with a table's detail")


class TableInfo(BaseModel):
    identifier: str
    rows: int | None = None
    columns: list[ColumnInfo]


class AskResult(BaseModel):
    """One question answered against one version, with how the backend got there."""

    revision: int
    version_id: str
    question: str
    status: str
    sql: str | None = None
    reason: str | None = None
    error: str | None = None
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list, description="the result's first rows")
    row_count: int | None = None
    trace: dict[str, Any] = Field(default_factory=dict, description="the backend's grounding trace: what matched, what was "
                                                                    "rejected and why (the offline engine; Genie gives its description)")


# ---------------------------------------------------------------- the copilot
class Copilot:
    """One project's optimization session. Construction is cheap; everything loads on first use."""

    def __init__(self, settings: CopilotSettings, *, ledger: Ledger | None = None, backend: Backend | None = None,
                 author: str | None = None):
        self.settings = settings
        self.ledger: Ledger = ledger or NoBudget()
        self._backend = backend
        self._evalset: EvalSet | None = None
        self._leakage: Leakage | None = None
        self._store: Store | None = None
        self._space_key: str | None = None
        self._lock = threading.RLock()
        self._seconds_seen = [0.0, 0]  # wall-clock seconds of fresh asks, fresh asks: the per-question estimate
        self._retries_reserved = 0  # backend questions reserved for retries during the current call
        self._judge_chat: Chat | None = None
        self.author = author or settings.author

    # ------------------------------------------------------------ lazy state
    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.settings.workspace)
        return self._store

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self.settings.backend, data=self.settings.data, store=self.store)
        return self._backend

    @property
    def evalset(self) -> EvalSet:
        if self._evalset is None:
            if self.settings.evalset is not None:
                evalset = load_evalset(self.settings.evalset)
            elif self.backend.remote:
                evalset = self.backend.import_benchmarks()
                if not evalset.cases:
                    raise InvalidConfig("the Genie space has no benchmark questions; name an eval set (config 'evalset')", field="evalset")
            else:
                raise InvalidConfig("no eval set configured (config 'evalset')", field="evalset")
            self._evalset = assign_splits(evalset, seed=self.settings.split_seed)
        return self._evalset

    def leakage(self) -> Leakage:
        """Families and near-duplicate questions spanning splits (inferred once per session)."""
        if self._leakage is None:
            self._leakage = leakage(self.evalset.cases)
        return self._leakage

    def reload_evalset(self) -> EvalSet:
        """Read the eval set again (after cases were added to its file, e.g. from real traffic)."""
        self._evalset = None
        self._leakage = None
        return self.evalset

    def test_cases(self) -> list[EvalCase]:
        return self.evalset.split(TEST)

    def visible_cases(self, splits: Sequence[str] = VISIBLE) -> list[EvalCase]:
        return [c for c in self.evalset.cases if c.split in splits]

    @property
    def space_key(self) -> str:
        with self._lock:
            if self._space_key is None:
                self._init_lineage()
            assert self._space_key is not None
            return self._space_key

    def _init_lineage(self) -> None:
        if self.settings.space is not None:
            space, origin = load_space(self.settings.space), f"loaded from {Path(self.settings.space).name}"
        elif self.backend.remote:
            space = self.backend.get_space().space
            origin = f"pulled from Genie space {space.space_id}"
        else:
            raise InvalidConfig("no space configured (config 'space', or a Databricks backend with a space id)", field="space")
        ensure_valid(space)
        key = self.store.space_key_for(space)
        if self.store.head(key) is None:
            try:
                self.store.add_revision(space, space_key=key, expected_head=None, kind="initial", message=origin, author="config")
            except ApplyConflict:
                pass  # another process made the lineage first: its initial revision is ours too
        self._space_key = key

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # ------------------------------------------------------------ versions
    def head(self) -> Revision:
        head = self.store.head(self.space_key)
        assert head is not None
        return head

    def resolve_version(self, version: int | str | None) -> Revision:
        """A revision number ('3', 'r3', 3) or a version id (prefix); None is the head."""
        if version is None or version == "":
            return self.head()
        s = str(version).strip().lower().removeprefix("r")
        revisions = self.store.revisions(self.space_key)
        if s.isdigit():
            found = self.store.revision(self.space_key, int(s))
            if found is None:
                raise InvalidInput(f"no revision {_quote(version)}; revisions are 1..{revisions[-1].revision}", field="version")
            return found
        hits = [r for r in revisions if r.version_id.startswith(s)] if len(s) >= 4 else []
        if not hits:
            raise InvalidInput(f"unknown version {_quote(version)}; give a revision number (1..{revisions[-1].revision}) or a "
                               "version id (at least 4 characters)." + did_you_mean(s, [r.version_id for r in revisions]),
                               field="version")
        return hits[-1]

    def space_at(self, revision: Revision) -> Space:
        return self.store.get_space_version(revision.version_id, space_key=self.space_key).space

    def visible_space(self, space: Space) -> Space:
        """The space as the assistant may see it: benchmark questions of the test split removed
        (a Genie space whose benchmarks hold the eval set would otherwise show its test gold SQL)."""
        bench = space.serialized.benchmarks
        if bench is None or not bench.questions:
            return space
        hidden_ids = {c.id for c in self.test_cases()}
        hidden_q = {_norm(c.question) for c in self.test_cases()}
        kept = [q for q in bench.questions if q.id not in hidden_ids and _norm(text(q.question)) not in hidden_q]
        if len(kept) == len(bench.questions):
            return space
        copy = space.model_copy(deep=True)
        copy.serialized.benchmarks.questions = kept
        return copy

    def history(self) -> list[Revision]:
        return self.store.revisions(self.space_key)

    def diff(self, a: int | str, b: int | str | None = None) -> tuple[Revision, Revision, str]:
        ra, rb = self.resolve_version(a), self.resolve_version(b)
        diff = diff_spaces(self.visible_space(self.space_at(ra)), self.visible_space(self.space_at(rb)),
                           name=f"r{ra.revision}..r{rb.revision}.yaml")
        return ra, rb, diff

    # ------------------------------------------------------------ changes
    def propose(self, changes: list[Any], message: str = "", *, owner: str = "local") -> Preview:
        """Validate a change set against the head; nothing changes but a stored preview."""
        head = self.head()
        space = self.space_at(head)
        cs = ChangeSet.parse({"changes": [c if isinstance(c, dict) else c.model_dump(exclude_none=True) for c in changes],
                              "message": message})
        if not cs.changes:
            raise InvalidInput("the change set is empty; give at least one edit", field="changes")
        lines = [c.describe() for c in cs.changes]
        try:
            new, _journal = apply_changes(space, cs, columns=self.backend.table_columns(space))
        except InvalidInput as e:
            return Preview(preview_id=None, base_revision=head.revision, base_version=head.version_id, ok=False, changes=lines,
                           diff="", problems=[Problem(severity="error", path=e.field or "changes", message=str(e))])
        problems = [Problem(severity=p.severity, path=p.path, message=p.message) for p in validate_space(new)]
        problems += self._check_examples(space, new)
        diff = diff_spaces(self.visible_space(space), self.visible_space(new))
        if not diff:
            problems.append(Problem(severity="error", path="changes", message="the change set changes nothing"))
        ok = not any(p.severity == "error" for p in problems)
        preview_id = None
        if ok:
            preview_id = "p-" + secrets.token_hex(16)  # unguessable: holding the id is what allows applying it
            self.store.put_preview(PreviewRecord(preview_id=preview_id, owner=owner, space_key=self.space_key,
                                                 base_revision=head.revision, document=_document(new),
                                                 message=cs.message or message, diff=diff, changes=lines))
        return Preview(preview_id=preview_id, base_revision=head.revision, base_version=head.version_id,
                       new_version=space_hash(new), ok=ok, changes=lines, diff=diff, problems=problems)

    def _check_examples(self, old: Space, new: Space) -> list[Problem]:
        """New or changed example SQL must run read-only on the data (costs SQL executions)."""
        before = {(text(e.question), text(e.sql)) for e in old.serialized.examples}
        added = [(i, e) for i, e in enumerate(new.serialized.examples) if (text(e.question), text(e.sql)) not in before]
        out: list[Problem] = []
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
            except Exception as err:  # noqa: BLE001 - reported as a problem, not a crash
                kind = type(err).__name__ if isinstance(err, ChaosLlamaError) else "does not run"
                out.append(Problem(severity="error", path=f"instructions.example_question_sqls[{i}].sql", message=f"{kind}: {err}"))
        return out

    def apply(self, preview_id: str, message: str, *, owner: str = "local", confirmed: bool = True) -> Revision | None:
        """Apply exactly a previewed change set as a new revision (refused if the head moved); None if the user declined."""
        record = self.store.get_preview(preview_id, owner=owner)
        if record is None or record.space_key != self.space_key:  # (no suggestions: preview ids are capabilities)
            raise InvalidInput(f"unknown preview id {_quote(preview_id)}; call space_propose first", field="preview_id")
        if not message or not message.strip():
            raise InvalidInput("message must say why the change is made", field="message")
        if not confirmed:
            return None
        new = Space.from_serialized(record.document["serialized_space"], **record.document.get("envelope", {}))
        head = self.head()
        if head.revision != record.base_revision:
            raise ApplyConflict(f"preview {preview_id!r} was made on revision {record.base_revision}, but the head is now "
                                f"revision {head.revision}; propose again")
        revision = self._commit(new, record.base_revision, "apply", message, record.diff, note=preview_id)
        self.store.drop_preview(preview_id)
        return revision

    def rollback(self, version: int | str, message: str | None = None) -> Revision:
        """A new revision whose content equals `version` (history is never rewritten)."""
        target = self.resolve_version(version)
        head = self.head()
        if target.revision == head.revision:
            raise InvalidInput(f"revision {target.revision} is already the head", field="version")
        old = self.space_at(target)
        diff = diff_spaces(self.visible_space(self.space_at(head)), self.visible_space(old))
        return self._commit(old, head.revision, "rollback", message or f"roll back to revision {target.revision}", diff)

    def _commit(self, space: Space, base: int, kind: str, message: str, diff: str, note: str | None = None) -> Revision:
        """Write a revision, or nothing: the apply is reserved first and refunded if nothing is written.

        A remote space (Genie) gets the revision inside the store's transaction, after the head
        check: a refused push (someone edited the space meanwhile) adds no revision, and two
        sessions can never both write on the same head.
        """
        ensure_valid(space)  # nothing is written (or spent) for an invalid space
        self.ledger.reserve("applies", 1, note=note or kind)
        deploy = (lambda: self.backend.deploy(space)) if self._remote() else None
        try:
            return self.store.add_revision(space, space_key=self.space_key, expected_head=base, kind=kind, message=message,
                                           author=self.author, diff=diff, before_commit=deploy)
        except BaseException:
            self.ledger.settle("applies", 1, 0, note=f"{kind} not written: refund" + (f" ({note})" if note else ""))
            raise

    def _remote(self) -> bool:
        # a local engine not built yet has nothing to deploy: don't build it here
        return self.settings.backend.kind != "local" or (self._backend is not None and self._backend.remote)

    # ------------------------------------------------------------ evaluation
    def _plan(self, cases: list[EvalCase], version_id: str, use_cache: bool) -> tuple[int, int]:
        """Exact backend questions and gold executions a run will need (cache hits cost nothing)."""
        identity = self.backend.identity()
        asks = {c.question for c in cases if not use_cache or not self.store.has_cached_answer(answer_cache_key(version_id, c.question, identity))}
        data_id = self.backend.data_identity()
        golds = {s for c in cases for s in c.gold_sql if self.store.get_cached_gold(gold_cache_key(data_id, s)) is None}
        return len(asks), len(golds)

    def _token_estimate(self, asks: int) -> int | None:
        """Tokens `asks` fresh questions will likely spend, from this backend's latest answers in the
        store; None when the backend spends none. Token use is only known afterwards, so a run is
        refused when the budget is exhausted or when the average says it would not fit."""
        if not self.backend.uses_llm:
            return None
        tokens, answers = self.store.recent_token_use(self.backend.identity())
        return int(round(asks * tokens / answers)) if answers else 0

    def _seconds_estimate(self, asks: int, golds: int) -> float:
        """A generous wall-clock reservation for a run: what the asks took so far, times three, at least 30 s."""
        per_ask = self._seconds_seen[0] / self._seconds_seen[1] if self._seconds_seen[1] else 2.0
        return max(30.0, 3 * (asks * per_ask + golds * 0.5))

    def _reserve_all(self, plan: dict[str, float], note: str) -> None:
        """Reserve every kind of a call's spend, or none: the first that does not fit refuses the call."""
        for kind, n in plan.items():
            if self.ledger.remaining(kind) < n or (n == 0 and self.ledger.remaining(kind) <= 0):
                self.ledger.reserve(kind, n, note=note)  # raises BudgetExceeded saying what is left, nothing spent
        taken: list[tuple[str, float]] = []
        try:
            for kind, n in plan.items():
                self.ledger.reserve(kind, n, note=note)
                taken.append((kind, n))
        except BudgetExceeded:  # another session took what was left meanwhile
            for kind, n in taken:
                self.ledger.settle(kind, n, 0, note=f"{note}: refused, refund")
            raise

    async def evaluate(self, split: str, version: int | str | None = None, *, repeats: int = 1, judges: list[str] | None = None,
                       progress: Progress | None = None) -> EvalRuns:
        """Evaluate a version (default: the head) on train or val, `repeats` times (fresh answers after the first)."""
        if split not in VISIBLE:
            raise InvalidInput(f"split {_quote(split)} cannot be run here; choose 'train' or 'val' (test is scored only by "
                               "eval_final_test)", field="split")
        if not 1 <= repeats <= 5:
            raise InvalidInput(f"repeats must be 1..5, got {repeats!r}", field="repeats")
        revision = self.resolve_version(version)
        results = await self._run_repeats(split, revision, repeats, judges=judges, progress=progress)
        asked: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for r in results:
            for row in r.rows:
                asked[row.case_id] += 1
                right[row.case_id] += int(row.outcome == "right")
        baseline = self.baseline(split, revision, exclude={r.run_id for r in results})
        comparison = self.compare_runs(baseline.run_id, results[0].run_id) if baseline else None
        return EvalRuns(revision=revision, split=split, results=results, baseline=baseline, comparison=comparison,
                        asked=dict(asked), right=dict(right))

    async def _run_repeats(self, split: str, revision: Revision, repeats: int, *, judges: list[str] | None = None,
                           progress: Progress | None = None) -> list[RunResult]:
        """Run a split `repeats` times with the whole spend reserved first; settle each run to what it used."""
        cases = select_cases(self.evalset, split)
        asks, golds = self._plan(cases, revision.version_id, True)
        asks += (repeats - 1) * len({c.question for c in cases})  # repeats ask fresh: a cached answer hides nondeterminism
        tokens = self._token_estimate(asks)
        seconds = self._seconds_estimate(asks, golds)
        note = f"{split} r{revision.revision}" + (f" x{repeats}" if repeats > 1 else "")
        plan = {"backend_questions": asks, "sql_executions": asks + golds, "wall_clock_s": 0.0}
        if tokens is not None:
            plan["llm_tokens"] = tokens
        self._reserve_all(plan, note)
        seconds = min(seconds, self.ledger.remaining("wall_clock_s"))
        self.ledger.reserve("wall_clock_s", seconds, note=note)  # this call's slice: concurrent calls share what is left
        self._retries_reserved = 0
        started = time.monotonic()
        used = {"backend_questions": 0.0, "sql_executions": 0.0, "llm_tokens": 0.0}
        results: list[RunResult] = []
        try:
            for k in range(repeats):
                left = seconds - (time.monotonic() - started)
                try:
                    result = await self._run(split, revision, judges=judges, use_cache=k == 0, progress=progress,
                                             repeat_of=results[0].run_id if results else None, seconds=left)
                except BudgetExceeded as e:
                    done = f"; finished runs: {', '.join(r.run_id for r in results)}" if results else ""
                    raise BudgetExceeded(f"{e}{done}") from None
                finally:
                    for kind, n in self._last_spend.items():
                        used[kind] += n
                results.append(result)
        finally:
            elapsed = time.monotonic() - started
            # a call is stopped at the end of its slice: what cleaning up after the stop takes is not charged
            self.ledger.settle("wall_clock_s", seconds, min(elapsed, seconds), note=note)
            extra = self._retries_reserved
            self.ledger.settle("backend_questions", asks + extra, used["backend_questions"], note=note)
            self.ledger.settle("sql_executions", asks + golds + extra, used["sql_executions"], note=note)
            if tokens is not None or used["llm_tokens"]:
                self.ledger.settle("llm_tokens", tokens or 0, used["llm_tokens"], note=note)
        uri = tracking_uri(self.settings.tracking, self.settings.workspace)
        if uri:  # after the budgeted part: logging is not the assistant's spend; the test split as aggregates only
            for r in results:
                await asyncio.to_thread(track_run, self.store, r, self.visible_space(self.space_at(revision)), uri=uri,
                                        source="mcp", questions=split != TEST)
        return results

    async def _run(self, split: str, revision: Revision, *, judges: list[str] | None = None, use_cache: bool = True,
                   progress: Progress | None = None, repeat_of: str | None = None, seconds: float | None = None) -> RunResult:
        """One run; `seconds` bounds it (the run stops there, keeps what it recorded and is charged for what it asked)."""
        space = self.space_at(revision)
        cases = select_cases(self.evalset, split)
        self._last_spend: dict[str, float] = {}
        pending_progress: list[Any] = []

        def on_progress(done: int, total: int, case_id: str, status_: str) -> None:
            if progress is not None:
                out = progress(done, total, f"{done}/{total} {split} questions")
                if asyncio.iscoroutine(out):
                    pending_progress.append(asyncio.ensure_future(out))

        run_id = new_run_id()
        t0 = time.monotonic()
        try:
            with self._judging():  # LLM judges spend tokens from this ledger and cache in this store
                settings = RunSettings(judges=judges or self.settings.judges, split=split, use_cache=use_cache,
                                       space_key=self.space_key, run_id=run_id)
                run = run_eval(self.evalset, self.backend, space, settings, store=self.store, progress=on_progress,
                               another_try=self._another_try)
                result = await (asyncio.wait_for(run, max(seconds, 0.001)) if seconds is not None else run)
        except TimeoutError:
            fresh = [r for r in self.store.get_results(run_id) if not r.from_cache]
            self._last_spend = {"backend_questions": len(fresh), "sql_executions": len(fresh)}
            recorded = len(self.store.result_statuses(run_id))
            raise BudgetExceeded(f"the wall-clock budget ran out during the {split} run {run_id}: {recorded} of {len(cases)} "
                                 f"questions recorded and kept ({len(fresh)} asked and charged); the rest was not asked") from None
        finally:
            if pending_progress:
                await asyncio.gather(*pending_progress, return_exceptions=True)
        tokens, answered = self._tokens(result.run_id)
        self._last_spend = {"backend_questions": result.backend_calls,
                            "sql_executions": result.backend_calls + result.gold_executions, "llm_tokens": tokens}
        if answered:
            self._seconds_seen[0] += time.monotonic() - t0
            self._seconds_seen[1] += result.backend_calls or answered
        self.store.update_run(result.run_id, revision=revision.revision, repeat_of=repeat_of)
        return result

    def _another_try(self) -> bool:
        """A retry asks the backend again: it runs only if one more question (and its SQL) fits the budget."""
        if not self.ledger.try_reserve("backend_questions", 1, note="retry"):
            return False
        if not self.ledger.try_reserve("sql_executions", 1, note="retry"):
            self.ledger.settle("backend_questions", 1, 0, note="retry refused: refund")
            return False
        self._retries_reserved += 1
        return True

    def _tokens(self, run_id: str) -> tuple[int, int]:
        """LLM tokens the run's fresh answers spent (`Answer.details["usage"]["total_tokens"]`) and how many there were."""
        total = answered = 0
        for r in self.store.get_results(run_id):
            if r.from_cache:
                continue
            answered += 1
            usage = (r.answer.get("details") or {}).get("usage") or {}
            total += int(usage.get("total_tokens") or 0)
        return total, answered

    def baseline(self, split: str, revision: Revision, exclude: set[str] = frozenset()) -> Run | None:  # type: ignore[assignment]
        """The latest earlier run of this split on another version (what a new run is compared with)."""
        for run in reversed(self.store.lineage_runs(self.space_key)):
            if (run.split == split and run.space_version != revision.version_id and run.run_id not in exclude
                    and not run.repeat_of and not run.config.get("rejudge_of")):
                return run
        return None

    def lineage_run(self, run_id: str, *, splits: Sequence[str] = (*VISIBLE, TEST)) -> Run:
        """A run of this lineage on one of `splits` (any other id is as unknown as a missing one)."""
        runs = {r.run_id: r for r in self.store.lineage_runs(self.space_key)}
        run = runs.get(run_id)
        if run is None or run.split not in splits:
            known = [r for r, v in runs.items() if v.split in splits]
            raise InvalidInput(f"no run {_quote(run_id)}.{did_you_mean(str(run_id), known)}", field="run_id")
        return run

    def result(self, run_id: str) -> RunResult:
        return build_run_result(self.store, run_id, evalset=self.evalset)

    def compare_runs(self, a: str, b: str) -> Paired:
        """Per question, run `b` against run `a` (train or val runs of one split)."""
        ra, rb = self.lineage_run(a, splits=VISIBLE), self.lineage_run(b, splits=VISIBLE)
        if ra.split != rb.split:
            raise InvalidInput(f"runs {a!r} ({ra.split}) and {b!r} ({rb.split}) are on different splits", field="b")
        before, after = self.result(a), self.result(b)
        return compare({r.case_id: r.outcome for r in before.rows}, {r.case_id: r.outcome for r in after.rows})

    def failures(self, run_id: str, *, category: str | None = None) -> tuple[RunResult, list[Failure]]:
        """A train run's failing questions (wrong or refused), optionally of one question or failure category."""
        run = self.lineage_run(run_id, splits=VISIBLE)
        if run.split != TRAIN:
            raise InvalidInput(f"eval_failures needs a train run; run {run_id!r} is on split {run.split!r}, whose "
                               "per-question results are not shown", field="run_id")
        result = self.result(run_id)
        failing = extract_failures(result, self.evalset, self.store, split=TRAIN)
        if category is not None:
            cats = sorted({r.category or "uncategorized" for r in result.rows} | {f.analysis or f.outcome for f in failing})
            if category not in cats:
                raise InvalidInput(f"unknown category {_quote(category)}.{did_you_mean(category, cats)}", field="category")
            failing = [f for f in failing if (f.category or "uncategorized") == category or (f.analysis or f.outcome) == category]
        return result, failing

    def rejudge(self, run_id: str, judges: list[str]) -> RunResult:
        """Judge a train or val run's stored answers again as a new run linked to it (the backend is not asked)."""
        run = self.lineage_run(run_id, splits=VISIBLE)
        if not judges:
            raise InvalidInput("give at least one judge", field="judges")
        for j in judges:
            if j not in JUDGES:
                raise InvalidInput(f"unknown judge {_quote(j)}.{did_you_mean(j, JUDGES)}", field="judges")
        with self._judging():
            result = rejudge(run_id, judges, self.store, backend=self.backend)
        self.store.update_run(result.run_id, revision=run.revision)
        return result

    async def final_test(self, progress: Progress | None = None) -> FinalTest:
        """Score the head on the held-out test split (the server shows aggregates only)."""
        revision = self.head()
        self.ledger.reserve("final_tests", 1, note=f"r{revision.revision}")
        try:
            results = await self._run_repeats(TEST, revision, 1, judges=self.settings.final_test_judges, progress=progress)
        except BudgetExceeded:
            # refused before anything was asked: the final test was not used
            self.ledger.settle("final_tests", 1, 0, note="refused: refund")
            raise
        return FinalTest(revision=revision, result=results[0])

    def lineage_runs(self) -> list[Run]:
        return self.store.lineage_runs(self.space_key)

    def optimizations(self) -> list[str]:
        return [s.opt_id for s in list_states(self.store)]

    def optimization(self, opt_id: str) -> OptimizationResult:
        known = self.optimizations()
        if opt_id == "latest":
            if not known:
                raise InvalidInput(f"no optimization in {self.store.path}; run `chaos-llama optimize` first", field="optimization")
            opt_id = known[0]
        if opt_id not in known:
            raise InvalidInput(f"no optimization {_quote(opt_id)}.{did_you_mean(opt_id, known)}", field="optimization")
        return load_result(self.store, opt_id)

    def gold_result(self, sql: str) -> Any:
        """A gold query's result from the cache the runs filled (no new execution), or None."""
        gold = self.store.get_cached_gold(gold_cache_key(self.backend.data_identity(), sql))
        return gold.result if gold is not None else None

    # ------------------------------------------------------------ the data and one question
    def schema(self, table: str | None = None, version: int | str | None = None) -> list[TableInfo]:
        """The space's tables as the data holds them: columns and types, row counts; with `table`, that
        table's distinct counts, nulls and most frequent values per column. Spends SQL executions."""
        space = self.space_at(self.resolve_version(version))
        tables = [t.identifier for t in space.serialized.tables]
        if table is not None:
            picked = [t for t in tables if table.lower() in (t.lower(), t.split(".")[-1].lower())]
            if not picked:
                raise InvalidInput(f"no table {_quote(table)} in the space.{did_you_mean(table, tables)}", field="table")
            tables = picked
        self.ledger.reserve("sql_executions", len(tables), note="schema")
        out = []
        for ident in tables:
            head = self.backend.execute(f"SELECT COUNT(*) AS n FROM {ident}", space=space)
            types = self.backend.execute(f"SELECT * FROM {ident} LIMIT 0", space=space).schema
            columns = [ColumnInfo(name=f.name, type=str(f.type)) for f in types]
            if table is not None:
                self.ledger.reserve("sql_executions", 2 * len(columns), note=f"schema {ident}")
                for col in columns:
                    q = '`' + col.name.replace('`', '``') + '`'
                    stats = self.backend.execute(f"SELECT COUNT(DISTINCT {q}) AS d, COUNT(*) - COUNT({q}) AS n FROM {ident}",
                                                 space=space).to_pylist()[0]
                    top = self.backend.execute(f"SELECT CAST({q} AS STRING) AS v, COUNT(*) AS c FROM {ident} WHERE {q} IS NOT NULL "
                                               f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8", space=space).to_pylist()
                    col.distinct, col.nulls, col.top_values = stats["d"], stats["n"], [str(r["v"])[:80] for r in top]
            out.append(TableInfo(identifier=ident, rows=head.to_pylist()[0]["n"], columns=columns))
        return out

    async def ask(self, question: str, version: int | str | None = None) -> AskResult:
        """Answer one question against a version (default: the head): the SQL, its first rows and the
        backend's trace. Charged as one backend question and one SQL execution; nothing is recorded
        as a run."""
        if not question.strip():
            raise InvalidInput("question is empty", field="question")
        revision = self.resolve_version(version)
        space = self.space_at(revision)
        self._reserve_all({"backend_questions": 1, "sql_executions": 1}, note="ask")
        if self.backend.remote:
            await asyncio.to_thread(self.backend.deploy, space)
        answer = await self.backend.ask(space, question)
        table = answer.result
        rows = table.slice(0, 10).to_pylist() if table is not None else []
        cols = list(table.column_names) if table is not None else []
        return AskResult(revision=revision.revision, version_id=revision.version_id, question=question, status=answer.status,
                         sql=answer.sql, reason=answer.reason, error=answer.error, columns=cols,
                         rows=[[_jsonable(r.get(c)) for c in cols] for r in rows], row_count=answer.row_count,
                         trace={k: v for k, v in answer.details.items() if k not in ("usage",)})

    # ------------------------------------------------------------ LLM judges and human labels (train questions only)
    def _judging(self):
        if self._judge_chat is None and self.settings.judge_model:
            self._judge_chat = Chat(self.settings.judge_model)  # one client per session (and one auth setup)
        return judge_runtime(store=self.store, ledger=self.ledger, model=self._judge_chat)

    def judge_pending(self, run_id: str, judges: list[str] | None = None, limit: int = 5) -> PendingView:
        self.lineage_run(run_id, splits=(TRAIN,))
        return pending(self.store, run_id, judges, limit=limit, splits=(TRAIN,))

    def judge_submit(self, run_id: str, verdicts: list[Any]) -> SubmitResult:
        self.lineage_run(run_id, splits=(TRAIN,))
        return submit(self.store, run_id, [Submission.model_validate(v) if isinstance(v, dict) else v for v in verdicts],
                      source=self.author, splits=(TRAIN,))

    def judge_sampling_request(self, run_id: str, judge: str, case_id: str | None = None) -> SamplingRequest | None:
        self.lineage_run(run_id, splits=(TRAIN,))
        req = sampling_request(self.store, run_id, judge, case_id, gold_result=self.gold_result, splits=(TRAIN,))
        if req is not None and self.ledger.remaining("llm_tokens") < req.estimated_tokens:
            self.ledger.reserve("llm_tokens", req.estimated_tokens)  # raises BudgetExceeded saying what is left
        return req  # spend is recorded once the reply is in: resolvers may run again on a retry round

    def judge_record_sampled(self, request: SamplingRequest, text_: str, model: str | None = None):
        verdict = record_sampled(self.store, request, text_, model=model)
        self.ledger.record("llm_tokens", verdict.details["usage"]["total_tokens"], note=f"sampled judge {request.judge}")
        return verdict

    def label_submit(self, run_id: str, case_id: str, judge: str, value: bool, note: str = "", labeler: str | None = None):
        """Record a person's verdict on a train question (other questions are unknown here)."""
        self.lineage_run(run_id, splits=(TRAIN,))
        return record_label(self.store, run_id, case_id, judge, value, note=note, labeler=labeler, splits=(TRAIN,))

    def judge_alignment(self, judge: str) -> Alignment:
        return alignment(self.store, judge, exclude_splits=(TEST,))


# ---------------------------------------------------------------- helpers
def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def _quote(value: Any, limit: int = 80) -> str:
    """`repr` of user input, cut to `limit` characters (an echo never outgrows the input's first line)."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + f"…' ({len(str(value))} characters)"


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return str(v)[:200]


def _document(space: Space) -> dict[str, Any]:
    return {"envelope": space.model_dump(mode="json", exclude={"serialized"}, exclude_none=True),
            "serialized_space": space.to_serialized()}


def _bind_defaults(sql: str, parameters: list[Any]) -> str | None:
    """The SQL with `:name` replaced by each parameter's default, or None if one has no default."""
    for p in parameters:
        values = (p.default_value.values if p.default_value else None) or []
        if not values:
            return None
        v = values[0]
        lit = str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else "'" + str(v).replace("'", "''") + "'"
        sql = re.sub(rf":{re.escape(p.name)}\b", lit, sql)
    return sql


def settings_for_example(name: str = "retail", which: str = "sparse", evalset: str = "realistic", **kw: Any) -> CopilotSettings:
    """Settings for a bundled example (its files are real paths in editable and regular installs);
    `evalset`: which of its eval sets (realistic, templates or unseen: `evalset_<name>.yaml`)."""
    import importlib.resources

    root = Path(str(importlib.resources.files("chaos_llama.examples") / name))
    if not root.is_dir():
        raise InvalidConfig(f"no bundled example {name!r}", field="example")
    path = root / f"evalset_{evalset}.yaml"
    if not path.is_file():
        raise InvalidConfig(f"the bundled example {name!r} has no eval set {evalset!r} (expected {path.name})", field="evalset")
    return CopilotSettings(space=root / f"space_{which}.yaml", evalset=path, data=[root / "data"], **kw)


__all__ = ["AskResult", "ColumnInfo", "Copilot", "CopilotSettings", "EvalRuns", "FinalTest", "TableInfo", "Ledger", "NoBudget", "Preview", "Problem", "settings_for_example"]
