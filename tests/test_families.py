"""Question families, leakage and family-grouped splits (tools/families.py, evalset freeze)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos_llama.tools.evalset import EvalCase, EvalSet, assign_splits, freeze_splits, load_evalset
from chaos_llama.tools.families import infer_families, leakage, normalize_sql

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "retail"


def case(cid: str, question: str, gold: str | None = None, **kw) -> EvalCase:
    if gold is None:
        return EvalCase(id=cid, question=question, expect="refusal", **kw)
    return EvalCase(id=cid, question=question, gold_sql=[gold], **kw)


# ---------------------------------------------------------------- inference on crafted pairs
@pytest.mark.parametrize("a, b", [
    # values, aliases, identifier case and formatting do not make a new family
    ("SELECT SUM(oi.qty) AS units FROM main.retail.order_items oi WHERE oi.prod_id = 1001",
     "select sum(qty)\nfrom main.retail.order_items\nwhere prod_id = 2002"),
    ("SELECT COUNT(*) FROM orders o WHERE YEAR(o.ord_dt) = 2023 AND o.stat_cd = 'C'",
     "SELECT count(*) AS n FROM ORDERS WHERE year(ord_dt) = 2024 AND stat_cd = 'R'"),
    ("SELECT store_nm FROM stores ORDER BY sq_ft DESC LIMIT 5", "SELECT s.store_nm FROM stores s ORDER BY s.sq_ft DESC LIMIT 10"),
])
def test_same_query_up_to_values_and_wording_is_one_family(a, b):
    assert normalize_sql(a) == normalize_sql(b)


@pytest.mark.parametrize("a, b", [
    ("SELECT SUM(qty) FROM order_items", "SELECT AVG(qty) FROM order_items"),  # another measure
    ("SELECT COUNT(*) FROM orders", "SELECT COUNT(*) FROM orders GROUP BY sales_chnl"),  # a breakdown
    ("SELECT DATE_TRUNC('month', ord_dt), COUNT(*) FROM orders GROUP BY 1",
     "SELECT DATE_TRUNC('quarter', ord_dt), COUNT(*) FROM orders GROUP BY 1"),  # another grain is another query
    ("SELECT COUNT(*) FROM orders WHERE stat_cd = 'C'", "SELECT COUNT(*) FROM returns WHERE ret_rsn = 'C'"),  # another table
])
def test_different_queries_are_different_families(a, b):
    assert normalize_sql(a) != normalize_sql(b)


def test_inferred_families_group_paraphrases_refusals_and_take_a_named_family():
    cases = [
        case("a", "Total revenue in 2023?", "SELECT SUM(x) FROM sales WHERE yr = 2023", family="revenue_year"),
        case("b", "How much did we sell in 2024?", "select sum(x) from sales where yr = 2024"),  # same SQL shape
        case("c", "Revenue by region", "SELECT region, SUM(x) FROM sales GROUP BY region"),
        case("d", "What is the NPS of our stores?"),  # refusals: grouped by the question
        case("e", "what is the nps of our stores"),
        case("f", "Employee headcount per store?"),
    ]
    fam = infer_families(cases)
    assert fam["a"] == fam["b"] == "revenue_year"  # the named family lends its name
    assert fam["c"] not in (fam["a"], fam["d"]) and fam["c"].startswith("sql:")
    assert fam["d"] == fam["e"] != fam["f"] and fam["d"].startswith("q:")
    # ids depend only on a case's own content: another order gives the same families
    assert infer_families(list(reversed(cases))) == fam


def test_leakage_names_families_across_splits_and_near_duplicate_questions():
    cases = [
        case("t1", "Revenue in 2023", "SELECT SUM(x) FROM s WHERE y = 2023", split="train"),
        case("v1", "Revenue in 2024", "SELECT SUM(x) FROM s WHERE y = 2024", split="test"),  # a sibling held out
        case("t2", "top five stores by revenue last year", "SELECT a FROM s ORDER BY b LIMIT 5", split="train"),
        case("v2", "top stores by revenue last year", "SELECT a, c FROM s ORDER BY b DESC", split="val"),  # near duplicate
    ]
    report = leakage(cases)
    assert [f.splits for f in report.families_across_splits] == [{"test": ["v1"], "train": ["t1"]}]
    assert [(d.a, d.b) for d in report.near_duplicates] == [("t2", "v2")]
    assert report.counts() == {"families": 3, "families_across_splits": 1, "near_duplicates_across_splits": 1}


# ---------------------------------------------------------------- grouped splits
def test_freeze_moves_only_what_leaked_and_says_so():
    """Families that agree keep their split; a leaked family moves wholly to its majority split."""
    cases = [
        case("a1", "Revenue in 2023", "SELECT SUM(x) FROM s WHERE y = 2023", split="train"),
        case("a2", "Revenue in 2024", "SELECT SUM(x) FROM s WHERE y = 2024", split="train"),
        case("a3", "Revenue in 2025", "SELECT SUM(x) FROM s WHERE y = 2025", split="test"),
        case("b1", "Orders per channel", "SELECT c, COUNT(*) FROM o GROUP BY c", split="val"),
    ]
    frozen, moved = freeze_splits(EvalSet(name="x", cases=cases))
    assert {c.id: c.split for c in frozen.cases} == {"a1": "train", "a2": "train", "a3": "train", "b1": "val"}
    assert [(m.case_id, m.was, m.now) for m in moved] == [("a3", "test", "train")]
    assert leakage(frozen.cases).total == 0


def _evalsets():
    """Random eval sets: families of 1-4 phrasings with shared SQL shapes, some fixed splits, categories."""
    family = st.tuples(st.integers(1, 4), st.sampled_from(["agg", "date", "join", "top_n"]),
                       st.lists(st.sampled_from([None, "train", "val", "test"]), min_size=4, max_size=4))

    @st.composite
    def build(draw):
        cases = []
        for f, (n, cat, splits) in enumerate(draw(st.lists(family, min_size=1, max_size=25))):
            for k in range(n):
                cases.append(EvalCase(id=f"f{f}_{k}", question=f"question {chr(97 + f % 26)}{f} variant {'xyz'[k % 3]}",
                                      gold_sql=[f"SELECT SUM(c{f}) FROM t{f} WHERE y = {2020 + k}"], category=cat, split=splits[k]))
        return EvalSet(name="random", cases=cases)

    return build()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_evalsets(), st.integers(0, 5))
def test_frozen_and_assigned_splits_never_split_a_family(evalset, seed):
    """Property: after freeze (and after the default assignment of new cases) no family spans two
    splits; freezing again moves nothing."""
    families = infer_families(evalset.cases)
    frozen = freeze_splits(evalset, seed=seed)[0]
    assert all(c.split in ("train", "val", "test") for c in frozen.cases)
    assert leakage(frozen.cases, families).families_across_splits == []
    again, moved = freeze_splits(frozen, seed=seed)
    assert moved == [] and again == frozen
    # the default assignment keeps families whole too (cases without a split join their family's)
    unsplit = EvalSet(name="u", cases=[c.model_copy(update={"split": None}) for c in evalset.cases])
    assert leakage(assign_splits(unsplit, seed=seed).cases, families).families_across_splits == []


def test_the_bundled_realistic_set_has_no_leakage_and_every_category_held_out():
    es = load_evalset(EXAMPLES / "evalset_realistic.yaml")
    report = leakage(es.cases)
    assert report.families_across_splits == [] and report.near_duplicates == []
    cats = {c.category for c in es.cases}
    for cat in cats:
        assert {c.split for c in es.cases if c.category == cat} == {"train", "val", "test"}, cat
