"""Verdict reuse in the runner and batched recording in the store.

A cached re-run copies the verdicts of deterministic (built-in) judges instead of judging again,
but only when everything the judge reads is unchanged: the judges' code, the case as written,
the space version, and the *content* of the answer and of the gold results.
"""

from __future__ import annotations

import asyncio
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from chaos_llama.tools import runner
from chaos_llama.tools.backends.base import Answer, Backend
from chaos_llama.tools.evalset import EvalCase, EvalSet
from chaos_llama.tools.judges.base import Verdict
from chaos_llama.tools.runner import RunSettings, run_eval
from chaos_llama.tools.space.model import Space
from chaos_llama.tools.store import QuestionResult, Store, answer_cache_key

GOLDS = ["SELECT region, SUM(amount) AS revenue FROM orders GROUP BY region",
         "SELECT COUNT(*) AS n FROM orders", "SELECT MAX(amount) AS m FROM orders"]


class PerfBackend(Backend):
    """Answers 'question i: <sql>' with the SQL; counts asks."""

    name = "perf"

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (1, 'east', 10.0), (2, 'west', 20.5), (3, 'east', 1.0)) t(id, region, amount)")
        self.asks = 0

    def identity(self) -> str:
        return "perf:v1"

    async def ask(self, space: Space, question: str) -> Answer:
        self.asks += 1
        sql = question.split(": ", 1)[1]
        t = self.con.sql(sql).to_arrow_table()
        return Answer(status="COMPLETED", sql=sql, result=t, row_count=t.num_rows, backend=self.name)

    def execute(self, sql: str, *, max_rows: int | None = None, space: Any = None, dialect: str = "databricks") -> pa.Table:
        return self.con.sql(sql).to_arrow_table()


def _evalset(golds: list[str] | None = None) -> EvalSet:
    golds = golds or GOLDS
    return EvalSet(name="perf", cases=[EvalCase(id=f"q{i}", question=f"question {i}: {GOLDS[i]}", gold_sql=[g])
                                       for i, g in enumerate(golds)])


def _space(text: str = "Revenue is SUM(amount).") -> Space:
    return Space.from_serialized({"version": 2, "instructions": {"text_instructions": [{"id": "1" * 32, "content": [text]}]}},
                                 title="Perf", space_id="perf-1")


@pytest.fixture
def judged(monkeypatch):
    """Counts judge invocations by (judge, case id)."""
    calls: list[tuple[str, str]] = []
    real = runner._judge_one

    def counting(name, fn, case, answer, golds, space):
        calls.append((name, case.id))
        return real(name, fn, case, answer, golds, space)

    monkeypatch.setattr(runner, "_judge_one", counting)
    return calls


def _run(store: Store, backend: PerfBackend, evalset: EvalSet | None = None, space: Space | None = None, **kw: Any):
    return asyncio.run(run_eval(evalset or _evalset(), backend, space or _space(), RunSettings(**kw), store=store))


def test_cached_rerun_reuses_verdicts_and_still_records_a_full_run(tmp_path, judged):
    """The second run asks nothing and judges nothing, yet is a new run with every row and verdict."""
    store, backend = Store(tmp_path / "s.db"), PerfBackend()
    first = _run(store, backend)
    assert len(judged) == 3 * 2 and backend.asks == 3
    judged.clear()
    second = _run(store, backend)
    assert judged == [] and backend.asks == 3
    assert second.run_id != first.run_id and second.backend_calls == 0 and second.cache_hits == 3
    assert second.accuracy == first.accuracy == 1.0
    v1, v2 = store.get_verdicts(first.run_id), store.get_verdicts(second.run_id)
    assert {c: [(v.judge, v.value, v.rationale) for v in vs] for c, vs in v1.items()} == \
        {c: [(v.judge, v.value, v.rationale) for v in vs] for c, vs in v2.items()}
    assert [r.case_id for r in store.get_results(second.run_id)] and all(r.from_cache for r in store.get_results(second.run_id))


def test_changed_gold_sql_rejudges_only_that_case(tmp_path, judged):
    store, backend = Store(tmp_path / "s.db"), PerfBackend()
    _run(store, backend)
    judged.clear()
    golds = list(GOLDS)
    golds[1] = "SELECT COUNT(*) + 1 AS n FROM orders"  # a different gold: the old verdict must not be reused
    res = _run(store, backend, _evalset(golds))
    assert sorted({c for _, c in judged}) == ["q1"]
    assert {r.case_id: r.correct for r in res.rows} == {"q0": True, "q1": False, "q2": True}


def test_changed_judge_code_rejudges_everything(tmp_path, judged, monkeypatch):
    store, backend = Store(tmp_path / "s.db"), PerfBackend()
    _run(store, backend)
    judged.clear()
    monkeypatch.setattr(runner, "judges_code_version", lambda: "another-version")
    _run(store, backend)
    assert len(judged) == 6


def test_replaced_cached_answer_is_judged_again(tmp_path, judged):
    """Verdicts are keyed by the answer's content, not its cache key: a replaced cache entry
    (same space version and question) never reuses the old verdict."""
    store, backend, space = Store(tmp_path / "s.db"), PerfBackend(), _space()
    _run(store, backend, space=space)
    judged.clear()
    version = store.put_space_version(space).version_id
    key = answer_cache_key(version, _evalset().cases[2].question, backend.identity())
    wrong = pa.table({"m": [99.0]})
    store.put_cached_answer(key, Answer(status="COMPLETED", sql="SELECT 99.0 AS m", result=wrong, row_count=1, backend="perf"))
    res = _run(store, backend, space=space)
    assert {c for _, c in judged} == {"q2"}
    assert {r.case_id: r.correct for r in res.rows}["q2"] is False


def test_new_space_version_asks_and_judges_again(tmp_path, judged):
    store, backend = Store(tmp_path / "s.db"), PerfBackend()
    _run(store, backend)
    judged.clear()
    _run(store, backend, space=_space("Revenue is the sum of amount."))
    assert backend.asks == 6 and len(judged) == 6


def test_custom_judges_and_uncached_runs_always_judge(tmp_path, judged):
    """Only registry built-ins are reused; a callable judge (may read anything) runs every time,
    and use_cache=False judges everything afresh."""
    store, backend = Store(tmp_path / "s.db"), PerfBackend()

    def always(case, *, generated, expected, **_):
        return Verdict(judge="always", value=True, rationale="ok")

    judges = ["execution", ("always", always)]
    _run(store, backend, judges=judges)
    judged.clear()
    _run(store, backend, judges=judges)
    assert sorted(judged) == [("always", "q0"), ("always", "q1"), ("always", "q2")]
    judged.clear()
    _run(store, backend, judges=judges, use_cache=False)
    assert len(judged) == 6


def test_failed_verdicts_are_not_cached(tmp_path, judged):
    """A verdict with an error (here: the gold query fails) may be judged differently next time."""
    store, backend = Store(tmp_path / "s.db"), PerfBackend()
    evalset = _evalset([GOLDS[0], "SELECT nope FROM orders", GOLDS[2]])
    _run(store, backend, evalset, judges=["execution"])
    judged.clear()
    _run(store, backend, evalset, judges=["execution"])
    assert judged == [("execution", "q1")]


def test_verdict_cache_round_trip_and_clear(tmp_path):
    store = Store(tmp_path / "s.db")
    ok = Verdict(judge="execution", value=True, rationale="same", details={"n": 1})
    store.put_cached_verdicts({"k1": ok})
    assert store.get_cached_verdicts(["k1", "k2"]) == {"k1": ok}
    store.clear_caches()
    assert store.get_cached_verdicts(["k1"]) == {}


def test_record_cases_writes_rows_and_verdicts_in_one_batch(tmp_path):
    store = Store(tmp_path / "s.db")
    from chaos_llama.tools.store import Run

    store.create_run(Run(run_id="r1", evalset_hash="e", space_version="v", backend="b", judges=["j"]))
    items = [(QuestionResult(run_id="r1", case_id=f"q{i}", status="COMPLETED", sql="SELECT 1", result=pa.table({"x": [i]}),
                             from_cache=True), [Verdict(judge="j", value=i % 2 == 0, rationale=f"r{i}")]) for i in range(3)]
    store.record_cases(items)
    got = store.get_results("r1")
    assert [r.case_id for r in got] == ["q0", "q1", "q2"] and got[1].result.to_pydict() == {"x": [1]} and got[1].result_rows == 1
    assert {c: vs[0].value for c, vs in store.get_verdicts("r1").items()} == {"q0": True, "q1": False, "q2": True}
