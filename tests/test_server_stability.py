"""Genie is nondeterministic: per-question stability over repeats, and paired comparisons between versions."""

from collections import Counter

from mcp import Client

from server_helpers import FlakyBackend, example_backend, make_app


async def test_repeats_report_per_question_stability_and_pairs_versions_per_question(tmp_path):
    """With a backend that gives up at random (seeded), `eval_run(repeats=3)` reports for each train
    question how often it was right; a question counts as unstable exactly when its verdicts differ.
    A later run on another version is compared question by question, with flips counted each way."""
    flaky = FlakyBackend(example_backend(), seed=7, p=0.35)
    async with Client(make_app(tmp_path, backend=flaky, example_space="curated")) as c:
        schema = {t.name: t for t in (await c.list_tools()).tools}["eval_run"].input_schema["properties"]["repeats"]
        assert schema["minimum"] == 1 and schema["maximum"] == 5 and "stability" in schema["description"]

        first = (await c.call_tool("eval_run", {"split": "train", "repeats": 3, "rows": "all", "limit": 200})).structured_content
        assert first["repeats"] == 3 and len(first["repeat_run_ids"]) == 2 and first["run_id"] not in first["repeat_run_ids"]
        rows = first["rows"]
        dup = {q for q, n in Counter(r["question"] for r in rows).items() if n > 1}
        checked = 0
        for r in rows:
            st = r["stability"]
            assert st["asked"] == 3 and 0 <= st["right"] <= 3
            assert st["stable"] == (st["right"] in (0, 3))
            if r["question"] in dup:
                continue
            kept = [not flaky.flipped(r["question"], n) for n in range(3)]
            # Flips only ever make an answer wrong, so a question right at least once is right every time it was kept.
            if st["right"]:
                assert st["right"] == sum(kept), r
                assert r["correct"] == kept[0]
                checked += 1
        assert checked >= 8  # of 12 train questions: the offline engine refuses 3 honestly (issue 16)
        unstable = sum(1 for r in rows if not r["stability"]["stable"])
        assert first["unstable"] == unstable > 0
        assert first["backend_calls"] == 3 * len(rows)  # repeats after the first bypass the cache

        # Val shows stability only as a count: no per-question rows.
        val = (await c.call_tool("eval_run", {"split": "val", "repeats": 2})).structured_content
        assert val["rows"] is None and val["repeats"] == 2 and val["unstable"] >= 0

        # A change the retrieval engine ignores: every difference between the versions is noise,
        # and the comparison pairs the two runs question by question.
        prop = (await c.call_tool("space_propose", {"changes": [{"op": "add_text_instruction", "content": "Amounts are in EUR."}]})).structured_content
        await c.call_tool("space_apply", {"preview_id": prop["preview_id"], "message": "currency note"})
        second = (await c.call_tool("eval_run", {"split": "train", "rows": "all", "limit": 200})).structured_content
        cmp = second["comparison"]
        assert cmp["baseline_run"] == first["run_id"] and cmp["baseline_revision"] == 1
        before = {r["case_id"]: r["correct"] is True for r in rows}
        after = {r["case_id"]: r["correct"] is True for r in second["rows"]}
        fixed = sorted(k for k in after if after[k] and not before[k])
        broken = sorted(k for k in after if before[k] and not after[k])
        assert sorted(cmp["fixed_ids"]) == fixed and sorted(cmp["broken_ids"]) == broken
        assert (cmp["fixed"], cmp["broken"]) == (len(fixed), len(broken))
        assert cmp["fixed"] > 0 and cmp["broken"] > 0  # noise flips both ways
        assert cmp["still_right"] + cmp["still_not_right"] + cmp["fixed"] + cmp["broken"] == len(rows)
