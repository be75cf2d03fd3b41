"""Run an eval set against a backend: asks concurrently under a rate limit, retries transient
failures, caches answers per space version, judges each answer and records it as it finishes.

A question that fails is a recorded ERROR/TIMEOUT result with its cause, never a crashed run
(DSPy's `Evaluate` does the same with `failure_score`). Because every finished question is in
the store before the next progress tick, a killed run resumes with `run_eval(..., run_id=X)`
and asks only what is missing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy
import pyarrow
import sqlglot
from pydantic import BaseModel, ConfigDict, Field

from . import judges as judges_package
from .backends.base import _ACCEPTED, Answer, Backend
from .errors import BackendError, InvalidConfig, JudgeError, did_you_mean
from .evalset import EvalCase, EvalSet, select_cases
from .families import case_dialect
from .judges import BUILTIN_JUDGES, JUDGES, get_judge
from .project import DEFAULT_JUDGES
from .results import GoldResult, Verdict
from .scoring import Outcome, Score, breakdown, classify, score
from .space.model import Space
from .store import (
    DEFAULT_MAX_ROWS,
    QuestionResult,
    Run,
    Store,
    _now,
    answer_cache_key,
    gold_cache_key,
    table_to_bytes,
    verdict_cache_key,
)

# statuses the runner itself assigns when no usable answer came back; resumable with retry_errors
FAILED_STATUSES = ("ERROR", "TIMEOUT")
# only answers that are the backend's considered reply are cached; failures may be transient
CACHEABLE_STATUSES = ("COMPLETED", "NO_SQL")
# cached answers are recorded in batches of this many (one transaction each)
RECORD_BATCH = 64

JudgeFn = Callable[..., Verdict]
Progress = Callable[[int, int, str, str], Any]


# ---------------------------------------------------------------- results
class VerdictSummary(BaseModel):
    value: bool | float | str | None
    rationale: str
    error: str | None = None


class NativeVerdict(BaseModel):
    """Genie's assessment of the question in its own benchmark evaluation (`chaos-llama benchmarks run --run-id`)."""

    eval_run_id: str
    assessment: str | None = None  # GOOD / BAD / NEEDS_REVIEW
    reasons: list[str] = Field(default_factory=list)


class CaseRow(BaseModel):
    """One question's outcome in a run."""

    case_id: str
    question: str
    split: str | None = None
    category: str | None = None
    family: str | None = None
    expect: str = "answer"
    status: str  # Answer status, ERROR/TIMEOUT from the runner, PENDING if not asked yet
    outcome: Outcome | None = None  # right / wrong / refused / error / gold_error (tools/scoring.py); None: not asked
    # outcome == right; None where nothing the space did was judged: a gold error, a backend error
    # (ERROR/TIMEOUT: no answer, which is not a wrong answer), a question not asked, a run without judges
    correct: bool | None = None
    gold_error: str | None = None
    sql: str | None = None
    from_cache: bool = False
    attempts: int = 0
    latency_s: float | None = None
    error: str | None = None
    verdicts: dict[str, VerdictSummary] = Field(default_factory=dict)
    native: NativeVerdict | None = None  # Genie's own assessment, when a benchmark eval run is linked to this run


class RunResult(BaseModel):
    """A run's outcome: counts, accuracy (by the first judge) overall, per split and per category."""

    run_id: str
    status: str
    evalset: str
    evalset_hash: str
    space_version: str
    backend: str
    split: str | None = None
    judges: list[str] = Field(default_factory=list)
    total: int
    counts: dict[str, int] = Field(default_factory=dict)  # by status
    score: Score = Field(default_factory=Score)  # outcomes: right, wrong, refused, error, gold_error and their rates
    by_split: dict[str, Score] = Field(default_factory=dict)
    by_category: dict[str, Score] = Field(default_factory=dict)
    correct: int = 0
    accuracy: float | None = None  # right / scored (gold errors and unasked questions left out)
    accuracy_by_split: dict[str, float | None] = Field(default_factory=dict)
    accuracy_by_category: dict[str, float | None] = Field(default_factory=dict)
    rows: list[CaseRow] = Field(default_factory=list)
    backend_calls: int = 0  # `ask` calls made by this invocation (retries included)
    cache_hits: int = 0  # answers served from the answer cache by this invocation
    gold_executions: int = 0  # gold queries executed (not cached) by this invocation
    resumed: int = 0  # questions already recorded in this run and skipped
    rejudge_of: str | None = None  # the run whose answers this one judged again
    started_at: str | None = None
    finished_at: str | None = None

    def failures(self) -> list[CaseRow]:
        """Questions answered wrongly or refused where an answer was expected (what metadata can fix);
        gold errors and backend errors are not the space's failures."""
        return [r for r in self.rows if r.outcome in ("wrong", "refused")]

    @property
    def gold_errors(self) -> list[CaseRow]:
        return [r for r in self.rows if r.outcome == "gold_error"]


# ---------------------------------------------------------------- rate limiting
class RateLimiter:
    """Token bucket bounding how many calls may *start* per minute.

    `clock` and `sleep` are injectable so tests can drive time instead of waiting for it.
    With `burst=1` starts are spaced evenly, which is what Genie's per-workspace limit wants.
    """

    def __init__(
        self,
        rate_per_minute: float,
        *,
        burst: float = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        if rate_per_minute <= 0:
            raise InvalidConfig(f"rate_per_minute must be positive, got {rate_per_minute!r}", field="rate_per_minute")
        self.rate = rate_per_minute / 60.0
        self.burst = max(1.0, float(burst))
        self.clock, self.sleep = clock, sleep
        self.tokens = self.burst
        self.updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait for a token; returns the clock time at which the call may start."""
        async with self._lock:  # one waiter at a time keeps starts in FIFO order
            while True:
                now = self.clock()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return now
                await self.sleep((1 - self.tokens) / self.rate)


# ---------------------------------------------------------------- judges and golds
def resolve_judges(judges: Iterable[str | JudgeFn | tuple[str, JudgeFn]]) -> list[tuple[str, JudgeFn]]:
    """Turn judge names (from the registry), callables or (name, callable) pairs into (name, fn).

    Unknown names fail here, before any question is asked.
    """
    out: list[tuple[str, JudgeFn]] = []
    for j in judges:
        if isinstance(j, str):
            out.append((j, _registry_judge(j)))
        elif isinstance(j, tuple) and len(j) == 2 and isinstance(j[0], str) and callable(j[1]):
            out.append((j[0], j[1]))
        elif callable(j):
            out.append((getattr(j, "NAME", None) or getattr(j, "__name__", type(j).__name__), j))
        else:
            raise InvalidConfig(f"judge {j!r} is not a judge name, a callable or a (name, callable) pair", field="judges")
    names = [n for n, _ in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InvalidConfig(f"judge {dup!r} is listed twice", field="judges")
    return out


def _registry_judge(name: str) -> JudgeFn:
    return get_judge(name).fn


def _judge_one(name: str, fn: JudgeFn, case: EvalCase, answer: Answer, golds: list[GoldResult], space: Space | None) -> Verdict:
    """Run one judge; its failure becomes a Verdict with `error` so the run goes on."""
    dialect = case_dialect(case)
    try:
        verdict = fn(case, generated=answer, expected=golds, space=space, **({"dialect": dialect} if dialect else {}))
        if not isinstance(verdict, Verdict):
            raise JudgeError(f"judge returned {type(verdict).__name__}, expected a Verdict")
    except Exception as e:  # noqa: BLE001 - a judge must never take the run down
        return Verdict(judge=name, value=None, rationale=f"judge {name!r} failed", error=f"{type(e).__name__}: {e}")
    return verdict if verdict.judge == name else verdict.model_copy(update={"judge": name})


@functools.cache
def judges_code_version() -> str:
    """A digest of the built-in judges' code and the libraries they compute with: any change to
    either makes every cached verdict stale."""
    h = hashlib.sha256(repr((duckdb.__version__, numpy.__version__, pyarrow.__version__, sqlglot.__version__)).encode())
    root = Path(judges_package.__file__).parent
    for f in sorted([*root.glob("*.py"), root.parent / "sql.py"]):
        if f.exists():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _cacheable_judge(name: str, fn: JudgeFn) -> bool:
    """Only the registry's built-in judges are known to be pure functions of what the verdict key
    covers; custom and LLM judges (which may spend tokens or read other state) always run."""
    spec = JUDGES.get(name)
    return name in BUILTIN_JUDGES and spec is not None and spec.fn is fn


def _needs_gold(name: str, fn: JudgeFn) -> bool:
    """Whether a judge compares with the gold (declared by registered judges; a callable is assumed to)."""
    spec = JUDGES.get(name)
    if spec is None or spec.fn is not fn:
        return True
    return any(f.startswith("expected.") for f in spec.needs)


def _no_gold_verdict(name: str) -> Verdict:
    return Verdict(judge=name, value=None, rationale="the case expects a refusal: there is no gold to compare with",
                   details={"reason": "EXPECTS_REFUSAL"})


def gold_failure(case: EvalCase, expected: list[GoldResult]) -> str | None:
    """Why none of a case's gold queries ran (then the case is a gold error), or None."""
    if case.expects_refusal or not expected or any(g.error is None for g in expected):
        return None
    return "; ".join(dict.fromkeys(g.error or "" for g in expected))[:2000]


def content_digest(sql: str | None, table: Any, extra: Any = None) -> str:
    """sha256 of an answer's or gold's content (Arrow IPC bytes of the full result, plus text)."""
    data, _, _ = table_to_bytes(table)
    h = hashlib.sha256(repr((sql, extra)).encode())
    h.update(data or b"")
    return h.hexdigest()


def _answer_digest(answer: Answer) -> str:
    return content_digest(answer.sql, answer.result, answer.model_dump_json(exclude={"result"}, fallback=str))


def _data_identity(backend: Backend) -> str:
    """What gold results depend on: the data, not the answering strategy."""
    return str(backend.data_identity())


def _execute_gold(backend: Backend, sql: str, space: Space | None, dialect: str | None = None) -> Any:
    """`backend.execute(sql)` with the space (the local engine resolves table names through it; it
    may not have seen any space yet when every answer came from the cache) and the gold's dialect."""
    return backend.execute(sql, space=space, **({"dialect": dialect} if dialect else {}))


class _Golds:
    """Executes each distinct gold SQL once, through the store's gold cache."""

    def __init__(self, backend: Backend | None, store: Store, *, use_cache: bool = True):
        self.backend, self.store, self.use_cache = backend, store, use_cache
        self.identity = _data_identity(backend) if backend is not None else None
        self.memo: dict[str, GoldResult] = {}
        self.digests: dict[str, str] = {}
        self.executions = 0

    def digest(self, gold: GoldResult) -> str:
        """Content digest of a gold result (memoized per gold object of this run)."""
        k = id(gold)
        if k not in self.digests:
            self.digests[k] = content_digest(gold.sql, gold.result, gold.error)
        return self.digests[k]

    def get(self, sql: str, space: Space | None = None, dialect: str | None = None) -> GoldResult:
        memo_key = f"--dialect={dialect}\n{sql}" if dialect else sql  # the same text may run differently
        if memo_key in self.memo:
            return self.memo[memo_key]
        key = gold_cache_key(self.identity or "", memo_key) if self.identity is not None else None
        gold = self.store.get_cached_gold(key) if (self.use_cache and key) else None
        if gold is None:
            if self.backend is None:
                gold = GoldResult(sql=sql, error="no backend given to execute the gold SQL")
            else:
                self.executions += 1
                try:
                    gold = GoldResult(sql=sql, result=_execute_gold(self.backend, sql, space, dialect))
                except Exception as e:  # noqa: BLE001 - recorded on the GoldResult for the judges
                    gold = GoldResult(sql=sql, error=f"{type(e).__name__}: {e}")
                if key:
                    self.store.put_cached_gold(key, self.identity or "", gold)
        self.memo[memo_key] = gold
        return gold


class GoldProblem(BaseModel):
    """A gold query (one alternative of a case) that does not run."""

    case_id: str
    alternative: int  # 0-based index into the case's gold_sql
    error: str


def check_golds(evalset: EvalSet, backend: Backend, space: Space | None = None) -> list[GoldProblem]:
    """Run every gold query of every case (each alternative once) and list those that fail."""
    problems: list[GoldProblem] = []
    for case in evalset.cases:
        for k, sql in enumerate(case.gold_sql):
            try:
                _execute_gold(backend, sql, space, case_dialect(case))
            except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the check
                problems.append(GoldProblem(case_id=case.id, alternative=k, error=f"{type(e).__name__}: {e}"))
    return problems


# ---------------------------------------------------------------- running
def new_run_id() -> str:
    return f"run-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


class RunSettings(BaseModel):
    """How one evaluation runs: which questions, which judges, how the backend is asked."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    judges: list[Any] = Field(default_factory=lambda: list(DEFAULT_JUDGES),
                              description="judge names (or callables, or (name, callable) pairs); the first is primary")
    split: str | None = None
    run_id: str | None = Field(None, description="resume this run if it exists (questions already recorded are not asked "
                                                 "again; with retry_errors its ERROR/TIMEOUT questions are); else its id")
    concurrency: int = Field(4, ge=1)
    rate_per_minute: float | None = Field(None, description="token-bucket bound on backend call starts")
    retries: int = Field(3, ge=0, description="extra tries for a retryable BackendError (jittered exponential backoff from "
                                              "backoff_base seconds, or the error's retry_after) and for a TIMEOUT answer")
    backoff_base: float = 0.5
    timeout_s: float = Field(60, description="per-question timeout; for a backend declaring answer_deadline_s it counts from the "
                                             "question's acceptance and is at least that deadline (see timed_ask)")
    use_cache: bool = Field(True, description="serve answers cached for (space version, question, backend identity)")
    retry_errors: bool = False
    space_key: str | None = None
    max_rows_stored: int = DEFAULT_MAX_ROWS
    seed: int | None = None


async def run_eval(
    evalset: EvalSet,
    backend: Backend,
    space: Space,
    settings: RunSettings | None = None,
    *,
    store: Store,
    progress: Progress | None = None,
    another_try: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> RunResult:
    """Ask every question of `evalset` (or one `settings.split`) against `space`, judge and record them.

    A question that fails is retried up to `settings.retries` times and then recorded as a backend
    error (ERROR/TIMEOUT), never a crashed run.

    Args:
        progress: called as `progress(done, total, case_id, status)` after each question.
        another_try: asked before each retry; False gives the question up (a caller's budget).
        clock, sleep: injectable time for deterministic tests (`settings.seed` seeds the jitter).
    """
    settings = settings or RunSettings()
    judges, split, run_id, concurrency = settings.judges, settings.split, settings.run_id, settings.concurrency
    rate_per_minute, retries, backoff_base, timeout_s = settings.rate_per_minute, settings.retries, settings.backoff_base, settings.timeout_s
    use_cache, retry_errors, space_key, max_rows_stored = settings.use_cache, settings.retry_errors, settings.space_key, settings.max_rows_stored
    seed = settings.seed
    judge_fns = resolve_judges(judges)
    judge_names = [n for n, _ in judge_fns]
    cases = select_cases(evalset, split)
    if split is not None and not cases:
        assigned = sorted({c.split for c in evalset.cases if c.split})
        hint = "no question has a split; call assign_splits first" if not assigned else f"splits present: {', '.join(assigned)}"
        raise InvalidConfig(f"no question in split {split!r} of eval set {evalset.name!r} ({hint})", field="split")

    version = store.put_space_version(space, space_key=space_key)
    es_hash = store.put_evalset(evalset)
    identity = backend.identity()
    config = {
        "concurrency": concurrency, "rate_per_minute": rate_per_minute, "retries": retries,
        "backoff_base": backoff_base, "timeout_s": timeout_s, "use_cache": use_cache,
    }

    run = store.get_run(run_id) if run_id else None
    if run is not None:
        _check_resumable(run, es_hash=es_hash, version=version.version_id, split=split, identity=identity, judges=judge_names)
        store.update_run(run.run_id, status="running", clear_finished=True)
    else:
        run = store.create_run(Run(
            run_id=run_id or new_run_id(), evalset_hash=es_hash, split=split, space_key=version.space_key,
            space_version=version.version_id, backend=identity, judges=judge_names, config=config,
        ))
    run_id = run.run_id

    recorded = store.result_statuses(run_id)
    skip = {cid for cid, status in recorded.items() if not (retry_errors and status in FAILED_STATUSES)}
    todo = [c for c in cases if c.id not in skip]
    total, done = len(cases), len(cases) - len(todo)

    limiter = RateLimiter(rate_per_minute, clock=clock, sleep=sleep) if rate_per_minute else None
    golds = _Golds(backend, store)  # gold results depend on the data alone: a fresh run (no answer cache) reuses them too
    sem = asyncio.Semaphore(concurrency)
    key_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
    rng = random.Random(seed)
    stats = Counter()
    cacheable = {name for name, fn in judge_fns if use_cache and _cacheable_judge(name, fn)}
    needs_gold = {name for name, fn in judge_fns if _needs_gold(name, fn)}
    judge_version = judges_code_version() if cacheable else ""
    pending: list[tuple[QuestionResult, list[Verdict], str]] = []  # recorded in batches: cache hits only

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        batch = list(pending)
        pending.clear()
        store.record_cases([(r, v) for r, v, _ in batch], max_rows=max_rows_stored)
        for r, _, status in batch:
            done += 1
            _progress(r.case_id, status)

    def _progress(case_id: str, status: str) -> None:
        if progress is not None:
            try:
                progress(done, total, case_id, status)
            except Exception as e:  # noqa: BLE001 - a display problem must not stop the run
                warnings.warn(f"progress callback failed: {e}", stacklevel=2)

    async def judge_all(case: EvalCase, answer: Answer, expected: list[GoldResult]) -> list[Verdict]:
        """Verdicts of every judge; deterministic judges' verdicts are reused when everything they
        read (judge code, case, space version, answer and gold contents) was judged before."""
        keys: dict[str, str] = {}
        if cacheable:
            case_doc = case.model_dump(mode="json")
            a_digest = _answer_digest(answer)
            g_digests = [golds.digest(g) for g in expected]
            keys = {name: verdict_cache_key(name, judge_version, case_doc, version.version_id, a_digest, g_digests)
                    for name in cacheable}
        hits = store.get_cached_verdicts(list(keys.values())) if keys else {}
        by_name = {name: hits[k] for name, k in keys.items() if k in hits}
        if case.expects_refusal:  # nothing to compare with: the outcome follows from whether SQL came back
            by_name.update({name: _no_gold_verdict(name) for name, _ in judge_fns if name in needs_gold})
        todo_judges = [(name, fn) for name, fn in judge_fns if name not in by_name]
        if todo_judges:
            # judges are CPU/DuckDB work: a worker thread lets them overlap other questions' asks
            fresh = await asyncio.to_thread(
                lambda: {name: _judge_one(name, fn, case, answer, expected, space) for name, fn in todo_judges})
            by_name.update(fresh)
            # a judge that failed may succeed next time: only real verdicts are kept
            store.put_cached_verdicts({keys[n]: v for n, v in fresh.items() if n in keys and v.error is None})
        stats["verdicts_reused"] += len(judge_fns) - len(todo_judges)
        return [by_name[name] for name, _ in judge_fns]

    async def ask(case: EvalCase) -> tuple[Answer, int]:
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1 and another_try is not None and not another_try():
                return _failed("ERROR", f"gave up after {attempt - 1} tries: no budget left for another", backend,
                               time.perf_counter()), attempt - 1
            if limiter:
                await limiter.acquire()
            stats["backend_calls"] += 1
            t0 = time.perf_counter()
            try:
                answer = await timed_ask(backend, space, case.question, timeout_s)
            except BackendError as e:
                if e.retryable and attempt <= retries:
                    delay = e.retry_after if e.retry_after is not None else backoff_base * 2 ** (attempt - 1) * (0.5 + rng.random())
                    await sleep(delay)
                    continue
                gave_up = f" (gave up after {attempt} tries)" if e.retryable else ""
                return _failed("ERROR", f"BackendError: {e}{gave_up}", backend, t0), attempt
            except Exception as e:  # noqa: BLE001 - recorded as the question's cause
                return _failed("ERROR", f"{type(e).__name__}: {e}", backend, t0), attempt
            if not isinstance(answer, Answer):
                return _failed("ERROR", f"backend returned {type(answer).__name__}, expected an Answer", backend, t0), attempt
            if answer.status == "TIMEOUT":
                # A slow answer is the service's failure, not a wrong answer: ask again while tries are left.
                if attempt <= retries:
                    stats["timeouts_retried"] += 1
                    continue
                if attempt > 1:
                    answer = answer.model_copy(update={"error": f"{answer.error or answer.reason} (gave up after {attempt} tries)"})
            if answer.latency_s is None:
                answer = answer.model_copy(update={"latency_s": time.perf_counter() - t0})
            return answer, attempt

    async def one(case: EvalCase) -> None:
        nonlocal done
        async with sem:
            key = answer_cache_key(version.version_id, case.question, identity)
            async with key_locks[key]:  # the same question twice in a set is asked once
                cached = store.get_cached_answer(key) if use_cache else None
                if cached is not None:
                    answer, attempts, from_cache = cached, 0, True
                    stats["cache_hits"] += 1
                else:
                    answer, attempts = await ask(case)
                    from_cache = False
                    if use_cache and answer.status in CACHEABLE_STATUSES:
                        store.put_cached_answer(key, answer)
            # the gold runs whatever the answer: a gold that fails is the eval set's error, never the space's
            expected = [golds.get(sql, space, case_dialect(case)) for sql in case.gold_sql]
            verdicts = await judge_all(case, answer, expected)
            gold_error = gold_failure(case, expected)
            result = QuestionResult(
                run_id=run_id, case_id=case.id, attempt=attempts, status=answer.status, sql=answer.sql,
                answer=answer.model_dump(mode="json", fallback=str), result=answer.result,
                result_rows=answer.row_count if answer.row_count is not None else (answer.result.num_rows if answer.result is not None else None),
                error=answer.error, latency_s=answer.latency_s, from_cache=from_cache, cache_key=key,
                outcome=classify(expect=case.expect, status=answer.status, sql=answer.sql, gold_error=gold_error is not None,
                                 primary=verdicts[0].value) if verdicts else None,
                gold_error=gold_error,
            )
            if from_cache:
                # a cached answer costs nothing to redo, so it may wait for its batch's commit
                pending.append((result, verdicts, answer.status))
                if len(pending) >= RECORD_BATCH:
                    flush()
                return
            flush()  # keep recording order: earlier cache hits first
            store.record_case(result, verdicts, max_rows=max_rows_stored)
            done += 1
            _progress(case.id, answer.status)

    # A remote backend (Genie) answers from the version it holds: put `space` there before any
    # fresh question is asked; a run served wholly from the cache touches nothing.
    if backend.remote and todo and (not use_cache or any(
            not store.has_cached_answer(answer_cache_key(version.version_id, c.question, identity)) for c in todo)):
        try:
            await asyncio.to_thread(backend.deploy, space)
        except BaseException as e:
            store.update_run(run_id, status="failed", finished_at=_now(), summary={**run.summary, "error": f"deploy: {e}"})
            raise

    try:
        async with asyncio.TaskGroup() as tg:
            for case in todo:
                tg.create_task(one(case))
        flush()
    except BaseException as e:
        try:
            flush()  # what was answered and judged is kept for a resume
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            pass
        # cancelled or crashed: mark it, keep everything recorded so far for a resume
        reason = "cancelled" if isinstance(e, asyncio.CancelledError) else f"{type(e).__name__}: {e}"
        summary = {**run.summary, "error": reason, **_totals(run.summary, stats)}
        store.update_run(run_id, status="failed", finished_at=_now(), summary=summary)
        raise

    result = build_run_result(store, run_id, evalset=evalset)
    result = result.model_copy(update={
        "backend_calls": stats["backend_calls"], "cache_hits": stats["cache_hits"],
        "gold_executions": golds.executions, "resumed": len(cases) - len(todo),
    })
    finished = _now()
    kept = {k: v for k, v in run.summary.items() if k.startswith("mlflow_")}  # a run asked again stays linked to its MLflow run
    store.update_run(run_id, status="completed", finished_at=finished, summary={**kept, **_summary(result), **_totals(run.summary, stats)})
    return result.model_copy(update={"status": "completed", "finished_at": finished})


async def timed_ask(backend: Backend, space: Space, question: str, timeout_s: float) -> Answer:
    """`backend.ask` under a timeout that counts only the backend's answering time.

    A backend that declares `answer_deadline_s` queues its own starts (rate limit, Retry-After,
    settle time) and says when the service accepted the question (`question_accepted`): the
    timeout, at least that deadline, starts there, so a queued question never times out. Other
    backends are timed from the call.
    """
    deadline = backend.answer_deadline_s
    if deadline is None:
        t0 = time.perf_counter()
        try:
            return await asyncio.wait_for(backend.ask(space, question), timeout_s)
        except TimeoutError:
            return _failed("TIMEOUT", f"no answer within {timeout_s:g}s", backend, t0)
    accepted = asyncio.Event()
    token = _ACCEPTED.set(accepted.set)
    try:
        task = asyncio.ensure_future(backend.ask(space, question))  # the task inherits the hook
    finally:
        _ACCEPTED.reset(token)
    started = asyncio.ensure_future(accepted.wait())
    try:
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        limit = max(timeout_s, float(deadline))
        t0 = time.perf_counter()
        try:
            return await asyncio.wait_for(task, limit)
        except TimeoutError:
            return _failed("TIMEOUT", f"no answer within {limit:g}s of the question being accepted", backend, t0)
    except BaseException:
        task.cancel()
        raise
    finally:
        started.cancel()


def _failed(status: str, error: str, backend: Backend, t0: float) -> Answer:
    return Answer(status=status, error=error, reason=error, backend=backend.name, latency_s=time.perf_counter() - t0)


def _totals(previous: dict[str, Any], stats: Counter) -> dict[str, int]:
    """Cumulative counters across invocations of one run (a resumed run adds to them)."""
    return {
        "backend_calls_total": int(previous.get("backend_calls_total", 0)) + stats["backend_calls"],
        "cache_hits_total": int(previous.get("cache_hits_total", 0)) + stats["cache_hits"],
    }


def _check_resumable(run: Run, *, es_hash: str, version: str, split: str | None, identity: str, judges: list[str]) -> None:
    """A resumed run must ask the same questions of the same space the same way."""
    diffs = [
        (what, old, new)
        for what, old, new in (
            ("eval set", run.evalset_hash[:12], es_hash[:12]),
            ("space version", run.space_version[:12], version[:12]),
            ("split", run.split, split),
            ("backend", run.backend, identity),
            ("judges", run.judges, judges),
        )
        if old != new
    ]
    if diffs:
        what, old, new = diffs[0]
        raise InvalidConfig(
            f"cannot resume run {run.run_id!r}: its {what} {'were' if what == 'judges' else 'was'} {old!r}, now {new!r}. "
            "Start a new run instead (without --resume / run_id); to change judges, re-judge the stored answers.",
            field="run_id",
        )


def _summary(result: RunResult) -> dict[str, Any]:
    return result.model_dump(include={"total", "counts", "correct", "accuracy", "accuracy_by_split", "accuracy_by_category",
                                      "backend_calls", "cache_hits", "gold_executions", "resumed", "score"})


def row_outcome(case: EvalCase, res: QuestionResult | None, primary: Verdict | None) -> Outcome | None:
    """A stored question's outcome: the one fixed when it was recorded (runs made before outcomes
    were recorded: classified now from the stored answer and verdict)."""
    if res is None:
        return None
    if res.outcome is not None:
        return res.outcome  # type: ignore[return-value]
    gold_error = primary is not None and (primary.details or {}).get("reason") == "GOLD_ERROR"
    return classify(expect=case.expect, status=res.status, sql=res.sql, primary=primary.value if primary else None,
                    gold_error=gold_error)


def build_run_result(store: Store, run_id: str, *, evalset: EvalSet | None = None) -> RunResult:
    """Assemble a run's result from the store (questions not yet recorded are PENDING)."""
    run = store.get_run(run_id)
    if run is None:
        known = [r.run_id for r in store.list_runs(limit=200)]
        raise InvalidConfig(f"no run {run_id!r}.{did_you_mean(run_id, known)}", field="run_id")
    evalset = evalset or store.get_evalset(run.evalset_hash)
    cases = select_cases(evalset, run.split)
    results = {r.case_id: r for r in store.get_results(run_id)}
    verdicts = store.get_verdicts(run_id)
    native = store.latest_native_assessments(run_id)
    primary = run.judges[0] if run.judges else None
    rows: list[CaseRow] = []
    for case in cases:
        res = results.get(case.id)
        vs = {v.judge: v for v in verdicts.get(case.id, [])}
        outcome = row_outcome(case, res, vs.get(primary) if primary else None) if primary is not None else None
        rows.append(CaseRow(
            case_id=case.id, question=case.question, split=case.split, category=case.category, family=case.family,
            expect=case.expect, status=res.status if res else "PENDING", outcome=outcome,
            correct=None if outcome in (None, "gold_error", "error") else outcome == "right",
            gold_error=res.gold_error if res else None,
            sql=res.sql if res else None, from_cache=res.from_cache if res else False,
            attempts=res.attempt if res else 0, latency_s=res.latency_s if res else None,
            error=res.error if res else None,
            verdicts={n: VerdictSummary(value=v.value, rationale=v.rationale, error=v.error) for n, v in vs.items()},
            native=NativeVerdict.model_validate(native[case.id]) if case.id in native else None,
        ))
    overall = score(rows)
    by_split = breakdown(rows, lambda r: r.split, default="unassigned")
    by_cat = breakdown(rows, lambda r: r.category)
    return RunResult(
        run_id=run.run_id, status=run.status, evalset=evalset.name, evalset_hash=run.evalset_hash,
        space_version=run.space_version, backend=run.backend, split=run.split, judges=run.judges,
        total=len(rows), counts=dict(Counter(r.status for r in rows)), correct=overall.right,
        score=overall, by_split=by_split, by_category=by_cat,
        accuracy=overall.accuracy if primary else None,
        accuracy_by_split={k: v.accuracy for k, v in by_split.items()} if primary else {},
        accuracy_by_category={k: v.accuracy for k, v in by_cat.items()} if primary else {},
        rows=rows, started_at=run.started_at, finished_at=run.finished_at, rejudge_of=run.config.get("rejudge_of"),
    )


def rejudge(
    run_id: str,
    judges: Sequence[str | JudgeFn | tuple[str, JudgeFn]],
    store: Store,
    backend: Backend | None = None,
    space: Space | None = None,
) -> RunResult:
    """Judge a run's stored answers again (no backend `ask`) as a NEW run linked to it.

    A recorded run's verdicts and score never change: the re-judged run copies the answers, runs
    `judges` (the first becomes primary; the original's other verdicts are carried over) and
    records its own outcomes, with `rejudge_of` naming the original. `space` defaults to the
    version the run was asked against; `backend` only executes gold SQL not in the gold cache.
    """
    judge_fns = resolve_judges(judges)
    run = store.get_run(run_id)
    if run is None:
        raise InvalidConfig(f"no run {run_id!r}.{did_you_mean(run_id, [r.run_id for r in store.list_runs(limit=200)])}", field="run_id")
    evalset = store.get_evalset(run.evalset_hash)
    space = space or store.get_space_version(run.space_version, space_key=run.space_key).space
    golds = _Golds(backend, store)
    by_id = {c.id: c for c in evalset.cases}
    names = [n for n, _ in judge_fns]
    new = store.create_run(Run(
        run_id=new_run_id(), evalset_hash=run.evalset_hash, split=run.split, space_key=run.space_key,
        space_version=run.space_version, backend=run.backend, judges=names + [j for j in run.judges if j not in names],
        config={**run.config, "rejudge_of": run.run_id},
    ))
    old_verdicts = store.get_verdicts(run_id)
    items: list[tuple[QuestionResult, list[Verdict]]] = []
    for res in store.get_results(run_id):
        case = by_id.get(res.case_id)
        if case is None:
            continue
        answer = res.to_answer()
        truncated = res.result_truncated
        if truncated and res.cache_key:  # judge the full answer when the cache still has it
            full = store.get_cached_answer(res.cache_key)
            if full is not None and full.result is not None:
                answer, truncated = full, False
        expected = [golds.get(sql, space, case_dialect(case)) for sql in case.gold_sql]
        if truncated:
            verdicts = [
                Verdict(judge=name, value=None, rationale="stored result was truncated; re-run the question to judge it",
                        error=f"result truncated at {answer.result.num_rows if answer.result is not None else 0} of {res.result_rows} rows")
                for name, _ in judge_fns
            ]
        elif case.expects_refusal:
            verdicts = [_no_gold_verdict(name) if _needs_gold(name, fn) else _judge_one(name, fn, case, answer, expected, space)
                        for name, fn in judge_fns]
        else:
            verdicts = [_judge_one(name, fn, case, answer, expected, space) for name, fn in judge_fns]
        verdicts += [v for v in old_verdicts.get(res.case_id, []) if v.judge not in names]
        # without a backend, golds missing from the cache cannot run: keep what the run recorded
        gold_error = gold_failure(case, expected) if backend is not None else res.gold_error
        items.append((res.model_copy(update={
            "run_id": new.run_id, "gold_error": gold_error,
            "outcome": classify(expect=case.expect, status=res.status, sql=res.sql, primary=verdicts[0].value,
                                gold_error=gold_error is not None),
        }), verdicts))
    store.record_cases(items)
    result = build_run_result(store, new.run_id, evalset=evalset)
    result = result.model_copy(update={"gold_executions": golds.executions})
    finished = _now()
    store.update_run(new.run_id, status=run.status if run.status != "running" else "failed", finished_at=finished,
                     summary={**_summary(result), "rejudge_of": run.run_id})
    return result.model_copy(update={"status": run.status, "finished_at": finished, "rejudge_of": run.run_id})


def run_eval_sync(evalset: EvalSet, backend: Backend, space: Space, settings: RunSettings | None = None, **kwargs: Any) -> RunResult:
    """`run_eval` for synchronous callers (the CLI)."""
    return asyncio.run(run_eval(evalset, backend, space, settings, **kwargs))
