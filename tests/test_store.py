"""The SQLite store: append-only space versions, round trips of every record, caches."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pytest

from chaos_llama.tools.backends.base import Answer
from chaos_llama.tools.errors import SpaceNotFound
from chaos_llama.tools.evalset import EvalCase, EvalSet, evalset_hash
from chaos_llama.tools.judges.base import GoldResult, Verdict
from chaos_llama.tools.space.model import Space
from chaos_llama.tools.store import (
    SCHEMA_VERSION,
    QuestionResult,
    Run,
    Store,
    StoreError,
    answer_cache_key,
    bytes_to_table,
    gold_cache_key,
    space_version_id,
    table_to_bytes,
)


def _space(title="Retail", instruction="Revenue means SUM(amount).") -> Space:
    return Space.from_serialized(
        {
            "version": 2,
            "data_sources": {"tables": [{"identifier": "main.retail.orders", "column_configs": [{"column_name": "amount"}]}]},
            "instructions": {"text_instructions": [{"id": "a" * 32, "content": [instruction]}]},
        },
        title=title,
        space_id="01abc",
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ws" / "chaos.db")
    yield s
    s.close()


def test_creates_file_with_wal_and_schema_version(tmp_path):
    s = Store(tmp_path / "a" / "b" / "chaos.db")
    assert (tmp_path / "a" / "b" / "chaos.db").exists()
    assert s.schema_version == SCHEMA_VERSION
    assert s._query("PRAGMA journal_mode")[0][0] == "wal"
    s.close()
    Store(tmp_path / "a" / "b" / "chaos.db").close()  # reopening an existing store works


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "chaos.db"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 999 is newer"):
        Store(path)


def test_space_versions_round_trip_and_lineage(store):
    v1 = store.put_space_version(_space(), message="initial", author="me")
    assert v1.version_id == space_version_id(_space()) and v1.parent_id is None and v1.space_key == "01abc"
    again = store.put_space_version(_space())
    assert again.version_id == v1.version_id and len(store.list_space_versions("01abc")) == 1  # idempotent
    v2 = store.put_space_version(_space(instruction="Revenue excludes refunds."), message="tweak")
    assert v2.version_id != v1.version_id and v2.parent_id == v1.version_id
    loaded = store.get_space_version(v1.version_id)
    assert loaded.space.to_serialized() == _space().to_serialized()
    assert loaded.space.title == "Retail" and loaded.space.space_id == "01abc"
    assert store.get_space_version(v2.version_id[:10]).version_id == v2.version_id  # by prefix
    assert store.latest_space_version("01abc").version_id == v2.version_id
    assert [v.message for v in store.list_space_versions()] == ["initial", "tweak"]
    with pytest.raises(SpaceNotFound, match="no space version 'ffffff'"):
        store.get_space_version("ffffff")


def test_space_versions_are_append_only(store):
    v = store.put_space_version(_space())
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._con.execute("UPDATE space_versions SET message='rewritten' WHERE version_id=?", (v.version_id,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._con.execute("DELETE FROM space_versions")
    assert store.get_space_version(v.version_id).message is None


def test_evalset_round_trip(store):
    es = EvalSet(name="e", cases=[EvalCase(id="a", question="q?", gold_sql=["SELECT 1", "SELECT 1.0"], split="test", tags=["t"])])
    h = store.put_evalset(es)
    assert h == evalset_hash(es) and store.put_evalset(es) == h
    assert store.get_evalset(h) == es


def test_runs_results_and_verdicts_round_trip(store):
    run = store.create_run(Run(run_id="r1", evalset_hash="e" * 64, space_version="v" * 64, backend="test:1", judges=["execution"], config={"concurrency": 2}))
    assert store.get_run("r1") == run and store.get_run("nope") is None
    table = pa.table({"region": ["east", "west", "north"], "revenue": [1.5, 2.0, None]})
    answer = Answer(status="COMPLETED", sql="SELECT 1", result=table, row_count=3, details={"matched": "ex1"})
    res = QuestionResult(run_id="r1", case_id="a", attempt=2, status="COMPLETED", sql=answer.sql, answer=answer.model_dump(mode="json"), result=table, latency_s=0.25)
    verdict = Verdict(judge="execution", value=True, rationale="same rows", details={"matched_gold": 0})
    broken = Verdict(judge="llm", value=None, rationale="failed", error="boom")
    store.record_case(res, [verdict, broken], max_rows=2)  # cap: 2 of 3 rows stored
    back = store.get_result("r1", "a")
    assert back.result.num_rows == 2 and back.result_rows == 3 and back.result_truncated
    assert back.result.to_pylist() == table.slice(0, 2).to_pylist()
    assert back.to_answer().details == {"matched": "ex1"} and back.to_answer().result.num_rows == 2
    assert back.attempt == 2 and back.latency_s == 0.25 and not back.from_cache
    assert store.get_verdicts("r1") == {"a": [verdict, broken]}
    assert store.result_statuses("r1") == {"a": "COMPLETED"}
    # re-judging replaces a verdict in place
    store.put_verdicts("r1", "a", [verdict.model_copy(update={"value": False})])
    assert store.get_verdicts("r1")["a"][0].value is False
    done = store.update_run("r1", status="completed", finished_at="2026-01-01T00:00:00+00:00", summary={"accuracy": 1.0})
    assert done.status == "completed" and done.summary == {"accuracy": 1.0}
    assert [r.run_id for r in store.list_runs()] == ["r1"]


def test_record_case_is_atomic(store):
    """A result and its verdicts land together: a failing verdict write leaves no result behind."""
    store.create_run(Run(run_id="r1", evalset_hash="e", space_version="v", backend="b"))
    res = QuestionResult(run_id="r1", case_id="a", status="COMPLETED")
    bad = Verdict.model_construct(judge=None, value=True, rationale="x", details={}, error=None)  # NULL judge violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.record_case(res, [bad])
    assert store.get_result("r1", "a") is None


def test_answer_and_gold_caches(store):
    k = answer_cache_key("v1", "  How many\norders? ", "local:retrieval")
    assert k == answer_cache_key("v1", "How many orders?", "local:retrieval")
    assert k != answer_cache_key("v2", "How many orders?", "local:retrieval")
    assert k != answer_cache_key("v1", "How many orders?", "local:llm")
    assert store.get_cached_answer(k) is None
    t = pa.table({"n": pa.array([7], pa.int64())})
    assert store.put_cached_answer(k, Answer(status="COMPLETED", sql="SELECT 7", result=t))
    hit = store.get_cached_answer(k)
    assert hit.sql == "SELECT 7" and hit.result.equals(t)
    assert not store.put_cached_answer("big", Answer(status="COMPLETED", result=pa.table({"x": list(range(5))})), max_rows=4)

    g = gold_cache_key("duckdb:abc", "SELECT 7")
    store.put_cached_gold(g, "duckdb:abc", GoldResult(sql="SELECT 7", result=t))
    store.put_cached_gold(gold_cache_key("duckdb:abc", "SELECT x"), "duckdb:abc", GoldResult(sql="SELECT x", error="no column x"))
    assert store.get_cached_gold(g).result.equals(t)
    assert store.get_cached_gold(gold_cache_key("duckdb:abc", "SELECT x")).error == "no column x"
    store.clear_caches()
    assert store.get_cached_answer(k) is None and store.get_cached_gold(g) is None


def test_arrow_bytes_round_trip_types():
    import datetime
    import decimal

    t = pa.table({
        "d": pa.array([datetime.date(2024, 1, 2)]),
        "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5)]),
        "dec": pa.array([decimal.Decimal("1.25")]),
        "s": ["x"],
    })
    data, total, truncated = table_to_bytes(t)
    assert total == 1 and not truncated and bytes_to_table(data).equals(t)
    assert table_to_bytes(None) == (None, None, False)
