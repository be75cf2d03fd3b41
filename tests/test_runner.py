"""The runner: caching, retries, timeouts, error recording, resume, rate limiting, judging.

Every test drives a scripted backend over a real DuckDB database; time is faked wherever the
runner would wait (backoff, rate limit), so nothing here asserts on wall-clock durations.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from chaos_llama.tools.backends.base import Answer, Backend
from chaos_llama.tools.errors import BackendError, InvalidConfig
from chaos_llama.tools.evalset import EvalCase, EvalSet, assign_splits
from chaos_llama.tools.judges.base import GoldResult, Verdict
from chaos_llama.tools.runner import RateLimiter, RunSettings, build_run_result, rejudge, run_eval, run_eval_sync
from chaos_llama.tools.space.model import Space
from chaos_llama.tools.store import Store

ORDERS = """
CREATE TABLE orders AS SELECT * FROM (VALUES
    (1, 'ann', 'east', 10.0), (2, 'bob', 'west', 20.0), (3, 'ann', 'east', 5.5),
    (4, 'cid', 'north', 7.0), (5, 'bob', 'west', 1.0), (6, 'dee', 'south', 12.0)
) AS t(id, customer, region, amount)
"""


def _case(i: int, gold: str, **kw: Any) -> EvalCase:
    return EvalCase(id=f"q{i}", question=f"question {i}: {gold}", gold_sql=[gold], **kw)


GOLDS = [
    "SELECT COUNT(*) AS n FROM orders",
    "SELECT region, SUM(amount) AS revenue FROM orders GROUP BY region",
    "SELECT customer FROM orders GROUP BY customer ORDER BY SUM(amount) DESC LIMIT 1",
    "SELECT MAX(amount) AS m FROM orders",
    "SELECT COUNT(DISTINCT customer) AS c FROM orders",
    "SELECT AVG(amount) AS a FROM orders",
]


def _evalset(n: int = 6) -> EvalSet:
    return EvalSet(name="retail", cases=[_case(i, GOLDS[i % len(GOLDS)], category=("agg" if i % 2 else "count")) for i in range(n)])


def _space(instruction: str = "Revenue is SUM(amount).") -> Space:
    return Space.from_serialized(
        {"version": 2, "instructions": {"text_instructions": [{"id": "1" * 32, "content": [instruction]}]}},
        title="Retail", space_id="space-1",
    )


class ScriptedBackend(Backend):
    """A Backend over DuckDB that answers a question with the SQL after its ': ', and can be
    scripted per question to raise, hang or answer wrongly. Counts every call."""

    name = "scripted"

    def __init__(self, con: duckdb.DuckDBPyConnection, *, tag: str = "v1"):
        self.con, self.tag = con, tag
        self.calls: Counter[str] = Counter()
        self.executed: list[str] = []
        self.script: defaultdict[str, list[Any]] = defaultdict(list)  # question id -> actions, consumed in order
        self.entered: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.gate: dict[str, asyncio.Event] = {}
        self.start_times: list[float] = []
        self.clock = None

    def identity(self) -> str:
        return f"scripted:{self.tag}"

    async def ask(self, space: Space, question: str) -> Answer:
        qid = question.split(":")[0].removeprefix("question ")
        qid = f"q{qid}"
        self.calls[qid] += 1
        if self.clock is not None:
            self.start_times.append(self.clock())
        self.entered[qid].set()
        if qid in self.gate:
            await self.gate[qid].wait()
        action = self.script[qid].pop(0) if self.script[qid] else "ok"
        if isinstance(action, BaseException):
            raise action
        if action == "hang":
            await asyncio.sleep(3600)
        if action == "not_an_answer":
            return "SELECT 1"  # type: ignore[return-value]
        sql = question.split(": ", 1)[1] if action == "ok" else "SELECT 42 AS wrong"
        await asyncio.sleep(0)  # yield like a real backend would
        table = self.con.sql(sql).to_arrow_table()
        return Answer(status="COMPLETED", sql=sql, result=table, row_count=table.num_rows, backend=self.name)

    def execute(self, sql: str, *, max_rows: int | None = None, space: Any = None, dialect: str = "databricks") -> pa.Table:
        self.executed.append(sql)
        return self.con.sql(sql).to_arrow_table()


def rows_match(case: EvalCase, *, generated: Answer, expected: list[GoldResult], space: Space | None = None, **opts: Any) -> Verdict:
    """Test judge: same rows as any gold (unordered)."""
    got = sorted(map(str, generated.result.to_pylist())) if generated.result is not None else None
    for g in expected:
        if g.result is not None and got == sorted(map(str, g.result.to_pylist())):
            return Verdict(judge="rows", value=True, rationale="same rows")
    return Verdict(judge="rows", value=False, rationale="different rows", details={"gold_errors": [g.error for g in expected if g.error]})


JUDGES = [("rows", rows_match)]


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(ORDERS)
    yield c
    c.close()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "chaos.db")
    yield s
    s.close()


# ---------------------------------------------------------------- caching
async def test_unchanged_version_is_served_from_cache_with_zero_backend_calls(con, store):
    backend, es = ScriptedBackend(con), _evalset()
    first = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES), store=store)
    assert first.backend_calls == 6 and first.cache_hits == 0 and first.accuracy == 1.0
    assert sum(backend.calls.values()) == 6

    second = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES), store=store)
    assert second.run_id != first.run_id
    assert sum(backend.calls.values()) == 6 and second.backend_calls == 0
    assert second.cache_hits == 6 and all(r.from_cache for r in second.rows)
    assert second.accuracy == 1.0 and [r.sql for r in second.rows] == [r.sql for r in first.rows]
    assert second.gold_executions == 0  # gold results come from the gold cache too


async def test_changed_space_or_backend_asks_again(con, store):
    backend, es = ScriptedBackend(con), _evalset()
    await run_eval(es, backend, _space(), RunSettings(judges=JUDGES), store=store)
    changed = await run_eval(es, backend, _space("Revenue excludes refunds."), RunSettings(judges=JUDGES), store=store)
    assert changed.backend_calls == 6 and changed.cache_hits == 0
    assert sum(backend.calls.values()) == 12
    other = ScriptedBackend(con, tag="v2")  # another backend identity is another cache entry
    assert (await run_eval(es, other, _space(), RunSettings(judges=JUDGES), store=store)).backend_calls == 6
    no_cache = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, use_cache=False), store=store)
    assert no_cache.backend_calls == 6


async def test_each_distinct_gold_executes_once(con, store):
    backend = ScriptedBackend(con)
    es = _evalset(12)  # 12 questions over 6 distinct golds
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES), store=store)
    assert sorted(backend.executed) == sorted(GOLDS) and res.gold_executions == 6


async def test_same_question_twice_is_asked_once(con, store):
    backend = ScriptedBackend(con)
    case = _case(0, GOLDS[0])
    es = EvalSet(name="dup", cases=[case, case.model_copy(update={"id": "q0-again"})])
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, concurrency=2), store=store)
    assert backend.calls["q0"] == 1 and res.cache_hits == 1 and res.total == 2


# ---------------------------------------------------------------- failures
async def test_failures_are_recorded_with_cause_and_never_dropped(con, store):
    backend, es = ScriptedBackend(con), _evalset()
    backend.script["q1"] = [RuntimeError("socket closed")]
    backend.script["q2"] = [BackendError("space not found", retryable=False)]
    backend.script["q3"] = ["not_an_answer"]
    backend.script["q4"] = ["wrong"]
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, use_cache=False), store=store)
    rows = {r.case_id: r for r in res.rows}
    assert res.total == 6 and len(store.get_results(res.run_id)) == 6 and res.status == "completed"
    assert rows["q1"].status == "ERROR" and "RuntimeError: socket closed" in rows["q1"].error
    assert rows["q2"].status == "ERROR" and "space not found" in rows["q2"].error and backend.calls["q2"] == 1
    assert rows["q3"].status == "ERROR" and "expected an Answer" in rows["q3"].error
    assert rows["q4"].status == "COMPLETED" and rows["q4"].correct is False
    assert rows["q0"].correct and rows["q5"].correct
    assert res.counts == {"COMPLETED": 3, "ERROR": 3} and res.correct == 2 and res.accuracy == pytest.approx(2 / 6)
    # a backend error is not a wrong answer: nothing was judged (accuracy still counts it as not correct)
    assert all(r.correct is None for r in (rows["q1"], rows["q2"], rows["q3"]))


async def test_failed_answers_are_not_cached(con, store):
    backend, es = ScriptedBackend(con), _evalset()
    backend.script["q1"] = [RuntimeError("flaky")]
    await run_eval(es, backend, _space(), RunSettings(judges=JUDGES), store=store)
    again = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES), store=store)
    assert again.backend_calls == 1 and {r.case_id: r.status for r in again.rows}["q1"] == "COMPLETED"


async def test_retryable_errors_are_retried_with_backoff_then_succeed(con, store):
    backend, es, clock = ScriptedBackend(con), _evalset(3), FakeClock()
    backend.script["q0"] = [BackendError("429", retryable=True), BackendError("429", retryable=True, retry_after=7.0)]
    backend.script["q1"] = [BackendError("503", retryable=True)] * 5
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, retries=2, backoff_base=1.0, seed=1, use_cache=False), store=store, sleep=clock.sleep, clock=clock)
    rows = {r.case_id: r for r in res.rows}
    assert backend.calls["q0"] == 3 and rows["q0"].status == "COMPLETED" and rows["q0"].attempts == 3 and rows["q0"].correct
    assert backend.calls["q1"] == 3 and rows["q1"].status == "ERROR" and "gave up after 3 tries" in rows["q1"].error
    assert res.backend_calls == 7
    # jittered exponential: try n waits base * 2**(n-1) * [0.5, 1.5); retry_after wins when given
    assert 7.0 in clock.sleeps
    jittered = [s for s in clock.sleeps if s != 7.0]
    assert len(jittered) == 3 and all(0.5 <= s < 1.5 or 1.0 <= s < 3.0 for s in jittered)
    assert any(1.0 <= s < 3.0 for s in jittered)  # the second backoff of q1 is doubled


async def test_timeouts_are_retried_then_recorded_as_errors_and_the_run_continues(con, store):
    """A question that times out is asked again within `retries`; still timing out, it is recorded
    as TIMEOUT (a backend error, not a wrong answer) and the other questions are unaffected."""
    backend, es = ScriptedBackend(con), _evalset(4)
    backend.script["q2"] = ["hang", "hang", "hang"]
    backend.script["q3"] = ["hang"]  # times out once, then answers
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, timeout_s=0.05, retries=2, use_cache=False), store=store)
    rows = {r.case_id: r for r in res.rows}
    assert rows["q2"].status == "TIMEOUT" and "no answer within 0.05s" in rows["q2"].error and "gave up after 3 tries" in rows["q2"].error
    assert backend.calls["q2"] == 3 and rows["q2"].attempts == 3 and rows["q2"].correct is None
    assert rows["q3"].status == "COMPLETED" and rows["q3"].attempts == 2 and rows["q3"].correct
    assert [rows[i].status for i in ("q0", "q1")] == ["COMPLETED"] * 2
    assert res.backend_calls == 4 + 3


class QueuedBackend(ScriptedBackend):
    """A backend that times its own answering, like Genie: it waits in its own queue (gated here)
    before the service accepts the question, then reports a latency of its own."""

    answer_deadline_s = 0.05

    def __init__(self, con, **kw):
        super().__init__(con, **kw)
        self.queue: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.accepted: list[str] = []

    async def ask(self, space, question):
        from chaos_llama.tools.backends.base import question_accepted

        qid = "q" + question.split(":")[0].removeprefix("question ")
        await self.queue[qid].wait()  # the rate-limit queue / settle time: not Genie's answering time
        question_accepted()
        self.accepted.append(qid)
        answer = await super().ask(space, question)
        return answer.model_copy(update={"latency_s": 1.25})  # Genie's answering time, as the backend measured it


async def test_queue_time_never_counts_against_the_timeout_nor_the_latency(con, store):
    """A backend declaring `answer_deadline_s` is timed from the question's acceptance: a question
    that waits in the backend's queue far longer than the timeout is answered, not timed out, and
    its recorded latency is the backend's own (Genie's answering time)."""
    backend, es = QueuedBackend(con), _evalset(3)

    async def release_in_turn():
        for qid in ("q0", "q1", "q2"):
            await asyncio.sleep(0.2)  # each waits four times the timeout in the queue
            backend.queue[qid].set()

    releaser = asyncio.ensure_future(release_in_turn())
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, timeout_s=0.05, retries=0, use_cache=False, concurrency=3), store=store)
    await releaser
    assert [r.status for r in res.rows] == ["COMPLETED"] * 3 and backend.accepted == ["q0", "q1", "q2"]
    assert [r.latency_s for r in res.rows] == [1.25] * 3


async def test_a_backend_hanging_after_acceptance_times_out_at_its_deadline(con, store):
    """After acceptance the safety net holds (max of the runner's timeout and the backend's
    deadline); the timed-out question is retried, then recorded as TIMEOUT."""
    backend, es = QueuedBackend(con), _evalset(2)
    for qid in ("q0", "q1"):
        backend.queue[qid].set()
    backend.script["q1"] = ["hang", "hang"]
    res = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, timeout_s=0.01, retries=1, use_cache=False), store=store)
    rows = {r.case_id: r for r in res.rows}
    assert rows["q0"].status == "COMPLETED"
    assert rows["q1"].status == "TIMEOUT" and "of the question being accepted" in rows["q1"].error
    assert rows["q1"].attempts == 2 and backend.accepted.count("q1") == 2 and rows["q1"].correct is None


async def test_judge_failure_becomes_a_verdict_error(con, store):
    def broken(case, *, generated, expected, space=None, **opts):
        if case.id == "q1":
            raise ValueError("cannot compare")
        return Verdict(judge="broken", value=True, rationale="ok")

    res = await run_eval(_evalset(3), ScriptedBackend(con), _space(), RunSettings(judges=[("broken", broken), *JUDGES]), store=store)
    rows = {r.case_id: r for r in res.rows}
    v = rows["q1"].verdicts["broken"]
    assert v.value is None and v.error == "ValueError: cannot compare"
    # a primary judge that fails gives no verdict: an error outcome, not a wrong answer
    assert rows["q1"].outcome == "error" and rows["q1"].correct is None and rows["q1"].verdicts["rows"].value is True
    assert rows["q0"].correct and res.judges == ["broken", "rows"]


async def test_gold_errors_reach_the_judges(con, store):
    es = EvalSet(name="bad gold", cases=[_case(0, GOLDS[0]).model_copy(update={"gold_sql": ["SELECT nope FROM orders"]})])
    res = await run_eval(es, ScriptedBackend(con), _space(), RunSettings(judges=JUDGES), store=store)
    details = store.get_verdicts(res.run_id)["q0"][0].details
    assert "nope" in details["gold_errors"][0]
    # a gold that does not run is the eval set's error, never counted against the space
    assert res.rows[0].outcome == "gold_error" and res.rows[0].correct is None and "nope" in res.rows[0].gold_error
    assert res.score.gold_error == 1 and res.score.scored == 0 and res.accuracy is None


# ---------------------------------------------------------------- resume
async def test_resume_after_kill_asks_only_the_rest(con, store):
    es = _evalset(8)
    backend = ScriptedBackend(con)
    backend.gate["q5"] = asyncio.Event()  # never set: q5 blocks until the run is killed
    task = asyncio.create_task(run_eval(es, backend, _space(), RunSettings(judges=JUDGES, run_id="r-kill", concurrency=2, use_cache=False), store=store))
    await backend.entered["q5"].wait()
    for _ in range(20):  # let the other worker drain what it can
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    done_before = set(store.result_statuses("r-kill"))
    assert store.get_run("r-kill").status == "failed" and "q5" not in done_before and len(done_before) >= 4
    first_calls = Counter(backend.calls)

    backend2 = ScriptedBackend(con)  # same identity, fresh call counter
    ticks: list[tuple[int, int, str, str]] = []
    res = await run_eval(es, backend2, _space(), RunSettings(judges=JUDGES, run_id="r-kill", concurrency=2, use_cache=False), store=store, progress=lambda *a: ticks.append(a))
    assert not (set(backend2.calls) & done_before)  # completed questions are not asked again
    assert set(backend2.calls) == {c.id for c in es.cases} - done_before
    assert res.resumed == len(done_before) and res.backend_calls == 8 - len(done_before)
    assert sorted(r.case_id for r in store.get_results("r-kill")) == sorted(c.id for c in es.cases)  # each exactly once
    assert res.status == "completed" and res.total == 8 and res.accuracy == 1.0
    assert [t[0] for t in ticks] == list(range(len(done_before) + 1, 9)) and all(t[1] == 8 for t in ticks)
    assert store.get_run("r-kill").summary["backend_calls_total"] == sum(first_calls.values()) + res.backend_calls


async def test_resume_can_retry_errors_and_refuses_a_different_space(con, store):
    backend, es = ScriptedBackend(con), _evalset(3)
    backend.script["q1"] = [RuntimeError("flaky")]
    await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, run_id="r1"), store=store)
    same = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, run_id="r1"), store=store)
    assert same.backend_calls == 0 and same.counts == {"COMPLETED": 2, "ERROR": 1}
    fixed = await run_eval(es, backend, _space(), RunSettings(judges=JUDGES, run_id="r1", retry_errors=True), store=store)
    assert fixed.backend_calls == 1 and fixed.counts == {"COMPLETED": 3}
    with pytest.raises(InvalidConfig, match="space version"):
        await run_eval(es, backend, _space("other"), RunSettings(judges=JUDGES, run_id="r1"), store=store)


# ---------------------------------------------------------------- rate limiting
async def test_rate_limiter_bounds_starts_per_window():
    clock = FakeClock()
    limiter = RateLimiter(6, clock=clock, sleep=clock.sleep)  # one start per 10 s
    starts = await asyncio.gather(*(limiter.acquire() for _ in range(10)))
    assert sorted(starts) == pytest.approx([10.0 * i for i in range(10)])
    burst = RateLimiter(60, burst=5, clock=FakeClock(), sleep=FakeClock().sleep)
    assert [await burst.acquire() for _ in range(5)] == [0.0] * 5  # a full bucket starts at once


async def test_run_respects_rate_limit_under_concurrency(con, store):
    clock = FakeClock()
    backend = ScriptedBackend(con)
    backend.clock = clock
    res = await run_eval(_evalset(9), backend, _space(), RunSettings(judges=JUDGES, concurrency=4, rate_per_minute=30, use_cache=False), store=store, clock=clock, sleep=clock.sleep)
    assert res.backend_calls == 9
    # the k-th call starts no earlier than k * 60/rate (fake time; a start is recorded when the
    # backend sees it, which can only be later than the limiter's grant)
    assert len(backend.start_times) == 9
    assert all(t >= 2.0 * k - 1e-9 for k, t in enumerate(backend.start_times))
    assert clock.sleeps == [2.0] * 8  # the limiter waited exactly one interval per call after the first


# ---------------------------------------------------------------- splits, rejudge, sync
async def test_split_selection_and_accuracy_breakdowns(con, store):
    es = assign_splits(_evalset(30), seed=0)
    res = await run_eval(es, ScriptedBackend(con), _space(), RunSettings(judges=JUDGES, split="val"), store=store)
    assert res.total == len(es.split("val")) and {r.split for r in res.rows} == {"val"}
    assert res.accuracy_by_split == {"val": 1.0} and set(res.accuracy_by_category) <= {"agg", "count"}
    with pytest.raises(InvalidConfig, match="assign_splits"):
        await run_eval(_evalset(3), ScriptedBackend(con), _space(), RunSettings(judges=JUDGES, split="test"), store=store)
    with pytest.raises(InvalidConfig, match="Did you mean 'test'"):
        await run_eval(es, ScriptedBackend(con), _space(), RunSettings(judges=JUDGES, split="tset"), store=store)


async def test_rejudge_uses_stored_answers_without_asking(con, store):
    backend, es = ScriptedBackend(con), _evalset(4)
    backend.script["q2"] = ["wrong"]
    plain = await run_eval(es, backend, _space(), RunSettings(judges=(), use_cache=False), store=store)
    assert plain.accuracy is None and all(r.correct is None for r in plain.rows)
    calls = sum(backend.calls.values())
    judged = rejudge(plain.run_id, JUDGES, store, backend, _space())
    assert sum(backend.calls.values()) == calls
    # the original run keeps what it recorded; the re-judged run is new and linked
    assert judged.run_id != plain.run_id and judged.rejudge_of == plain.run_id
    assert build_run_result(store, plain.run_id).accuracy is None
    assert judged.accuracy == 0.75 and {r.case_id for r in judged.failures()} == {"q2"}
    assert judged.judges == ["rows"] and build_run_result(store, plain.run_id).judges == []
    # the space defaults to the stored version the run was asked against
    assert rejudge(plain.run_id, JUDGES, store, backend).accuracy == 0.75


def test_sync_wrapper(con, tmp_path):
    with Store(tmp_path / "s.db") as store:
        res = run_eval_sync(_evalset(2), ScriptedBackend(con), _space(), RunSettings(judges=JUDGES), store=store)
        assert res.accuracy == 1.0 and isinstance(ScriptedBackend(con), Backend)


def test_unknown_registry_judge_fails_before_asking(con, tmp_path):
    pytest.importorskip("chaos_llama.tools.judges", reason="judge registry not importable")
    from chaos_llama.tools import judges

    if not hasattr(judges, "get_judge"):
        pytest.skip("judge registry has no get_judge yet")
    backend = ScriptedBackend(con)
    with Store(tmp_path / "s.db") as store, pytest.raises(Exception, match="exection|execution"):
        run_eval_sync(_evalset(2), backend, _space(), RunSettings(judges=("exection",)), store=store)
    assert sum(backend.calls.values()) == 0


async def test_registry_execution_judge(con, store):
    """With the real `execution` judge: right answers are correct, a wrong one is not."""
    pytest.importorskip("chaos_llama.tools.judges", reason="judge registry not importable")
    from chaos_llama.tools import judges

    if not hasattr(judges, "get_judge"):
        pytest.skip("judge registry has no get_judge yet")
    backend, es = ScriptedBackend(con), _evalset(6)
    backend.script["q3"] = ["wrong"]
    res = await run_eval(es, backend, _space(), RunSettings(judges=("execution",)), store=store)
    rows = {r.case_id: r for r in res.rows}
    assert res.judges == ["execution"] and rows["q3"].correct is False
    assert all(rows[f"q{i}"].correct for i in (0, 1, 2, 4, 5))
    assert res.accuracy == pytest.approx(5 / 6)


async def test_default_judges_run_end_to_end(con, store):
    """The default judges (execution first, then failure_analysis) judge and explain each answer."""
    from chaos_llama.tools import judges

    if not hasattr(judges, "get_judge"):
        pytest.skip("judge registry has no get_judge yet")
    backend, es = ScriptedBackend(con), _evalset(3)
    backend.script["q1"] = ["wrong"]
    backend.script["q2"] = [RuntimeError("boom")]
    res = await run_eval(es, backend, _space(), store=store)
    rows = {r.case_id: r for r in res.rows}
    assert res.judges == ["execution", "failure_analysis"]
    assert rows["q0"].correct and rows["q0"].verdicts["failure_analysis"].value == "CORRECT"
    assert rows["q1"].correct is False and rows["q1"].verdicts["failure_analysis"].value not in (None, "CORRECT")
    assert rows["q2"].status == "ERROR" and rows["q2"].correct is None  # a backend error, not a wrong answer
    assert all(v.error is None for r in res.rows for v in r.verdicts.values())
