"""The benchmarks run end to end in a tiny mode and report what they claim: structure and verdicts,
never timings (those are machine-dependent and published in docs/BENCHMARKS.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench` lives at the repository root, beside the package folders

from bench import dump_load, engine_accuracy, engine_speed, judge_large, reeval_cost, throughput, traffic_clustering, unseen  # noqa: E402


def test_judge_large_verdicts_match_construction_and_baseline():
    """Every pair gets the verdict it was built to have, from the judge and from the pandas baseline."""
    res = judge_large.run(rows=20_000, repeats=1)
    assert [p["pair"] for p in res["pairs"]] == list(judge_large.EXPECTED)
    for p in res["pairs"]:
        assert p["judge"] is p["expected"], p
        assert p["baseline"] is p["expected"], p
    assert res["judge_correct"] and not res["disagree"]
    assert "| equal |" in judge_large.render(res)


def test_judge_large_baseline_does_not_call_an_empty_result_a_match():
    """defog sql-eval calls a 0-row result an exact match for a 1-row gold; the pandas baseline
    here must not (it checks the shape before comparing), nor may the judge."""
    import pandas as pd

    from chaos_llama.tools.judges.compare import compare_results

    gold = pd.DataFrame({"n": [3]})
    empty = gold.iloc[0:0]
    assert judge_large.baseline_compare(gold, empty) is False
    assert judge_large.baseline_compare(empty, gold) is False
    assert judge_large.baseline_compare(empty, empty.copy()) is True
    assert judge_large.judge_compare(pa.Table.from_pandas(gold), pa.Table.from_pandas(empty)) is False
    assert compare_results(pa.Table.from_pandas(gold), pa.Table.from_pandas(empty)).reason == "EMPTY_RESULT"


def test_judge_large_path_above_the_large_threshold_agrees():
    """Above LARGE_ROWS the judge takes its statistics/hash shortcuts; verdicts stay as constructed."""
    from chaos_llama.tools.judges.compare import LARGE_ROWS, compare_results

    gold, pairs = judge_large.make_pairs(LARGE_ROWS + 5_000, seed=1)
    for name, gen in pairs.items():
        cmp = compare_results(gold, gen)
        assert cmp.equal is judge_large.EXPECTED[name], (name, cmp.reason)
    changed = compare_results(gold, pairs["one_value_changed"])
    assert changed.reason == "SINGLE_CELL_DIFFERENCE" and changed.missing_row_count == 1


def test_reeval_cost_unchanged_version_costs_nothing():
    res = reeval_cost.run(split="val")
    by = {(s["step"], s["cache"]): s for s in res["steps"]}
    n = by[("first run", True)]["questions"]
    assert by[("unchanged re-run", True)]["backend_calls"] == 0
    assert by[("unchanged re-run", False)]["backend_calls"] == n
    assert by[("after a one-line change", True)]["backend_calls"] == n


def test_throughput_runner_and_naive_loop_answer_through_the_emulator():
    pytest.importorskip("databricks.sdk")
    res = throughput.run(n=8, rate=600, naive_n=2, concurrency=8, latency="0.05-0.1")
    assert res["runner"]["questions"] == 8 and res["runner"]["backend_calls"] == 8
    assert res["naive"]["questions"] == 2 and res["naive"]["completed"] == 2
    assert res["fraction_of_limit"] > 0 and res["ratio_vs_naive"] > 0
    assert "fraction of limit" in throughput.render(res)


def test_mcp_latency_cached_eval_runs_spend_no_backend_questions():
    """Timed eval_runs after the warming one are answered from the cache: 0 more backend questions."""
    from bench import mcp_latency

    res = mcp_latency.run(calls=3)
    assert set(res["latency"]) == {"space_get", "eval_run (cached, train)"}
    assert mcp_latency._spent(res["budget_after"]) == mcp_latency._spent(res["budget_before"])
    assert res["peak_rss_mb"] is None or res["peak_rss_mb"] > 0


def test_dump_load_both_modes_load_every_row():
    res = dump_load.run(rows=1200, repeats=1)
    assert res["batched"]["batch"] > 1 and res["one_by_one"]["batch"] == 1 and res["ratio"] > 0
    assert "| batched |" in dump_load.render(res)


def test_tracking_cost_logs_a_stored_run_in_process():
    """The in-process figure of bench.tracking_cost logs real runs (a positive duration, no error)."""
    from bench.tracking_cost import _in_process

    assert _in_process(n=2) > 0


def test_traffic_clustering_finds_the_same_families_as_all_pairs():
    """The prefix-filtered family inference and the all-pairs baseline agree on every question."""
    res = traffic_clustering.run(300)
    assert res["same_families"] and res["questions"] == 300 and 0 < res["clusters"] <= 300
    assert "same families" in traffic_clustering.render(res)


def test_engine_speed_times_both_engines_on_the_same_questions():
    res = engine_speed.run(repeats=1, limit=4)
    assert res["questions"] == 4 and set(res["strategies"]) == set(engine_speed.STRATEGIES)
    for s in res["strategies"].values():
        assert 0 < s["p50_ms"] <= s["max_ms"] and sum(s["statuses"].values()) == 4
    assert res["p50_ratio"] > 0 and "p50 (ms)" in engine_speed.render(res)


def test_engine_accuracy_counts_right_wrong_and_refused():
    """Every question lands in exactly one of right / wrong / refused, per split, for both engines."""
    res = engine_accuracy.run(defog_dir=None, optimize=False, limit=3)
    rows = res["retail"]
    assert {(r["space"], r["strategy"]) for r in rows} == {(s, e) for s in ("curated", "sparse")
                                                         for e in engine_accuracy.STRATEGIES}
    for r in rows:
        for part in ("train", "val", "test", "phrasings", "phrasings_levers"):
            assert r[part]["right"] + r[part]["wrong"] + r[part]["refused"] == r[part]["n"] == 3
    assert "retail_phrasings" in engine_accuracy.render(res) and "retail_phrasings_levers" in engine_accuracy.render(res)


def test_unseen_scores_every_space_on_the_never_tuned_set_by_category():
    res = unseen.run(limit=6, optimize=False)
    assert [r["space"] for r in res["rows"]] == ["sparse", "curated"] and res["questions"] == 6
    for r in res["rows"]:
        total = r["unseen"]["ALL"]
        assert total["n"] == 6 == total["right"] + total["wrong"] + total["refused"]
        assert sum(v["n"] for k, v in r["unseen"].items() if k != "ALL") == 6
    text = unseen.render(res)
    assert text.startswith(unseen.SECTION) and "python -m bench.unseen" in text


def test_the_development_phrasings_load_and_every_gold_answers():
    """bench/retail_dev.yaml (the engine's development set): loads as an eval set, every gold runs on the
    bundled data and answers with rows, and its refusals are marked as such."""
    from chaos_llama.tools.backends.local import LocalGenie
    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evaluate import bundled_example, load_inputs

    with bundled_example("retail") as ex:
        space, dev = load_inputs(ex.curated_space, ROOT / "bench" / "retail_dev.yaml")
        genie = LocalGenie(build_database([ex.data]))
    assert len(dev.cases) >= 80 and len({c.id for c in dev.cases}) == len(dev.cases)
    for case in dev.cases:
        if case.expects_refusal:
            assert not case.gold_sql, case.id
            continue
        for sql in case.gold_sql:
            assert genie.execute(sql, space=space).num_rows >= 1, case.id
