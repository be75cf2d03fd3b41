"""Eval-set formats, error messages, splits and benchmark import."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chaos_llama.tools.errors import InvalidConfig, InvalidEvalSet
from chaos_llama.tools.evalset import (
    EvalCase,
    EvalSet,
    assign_splits,
    balanced_splits,
    evalset_from_benchmarks,
    evalset_hash,
    load_evalset,
    save_evalset,
    select_cases,
    split_counts,
)
from chaos_llama.tools.space.model import Space

FIXTURES = Path(__file__).parent / "fixtures" / "evalsets"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- formats
@pytest.mark.parametrize("name", ["retail.yaml", "retail.csv", "retail.jsonl"])
def test_each_format_loads_the_same_questions(name):
    """YAML, CSV and JSONL describe the same three questions with the same fields."""
    es = load_evalset(FIXTURES / name)
    assert [c.id for c in es.cases] == ["n_orders", "revenue_by_region", "top_customer"]
    n, rev, top = es.cases
    assert n.question == "How many orders are there?"
    assert n.gold_sql == ["SELECT COUNT(*) AS n FROM orders"]
    assert n.category == "count" and n.split is None
    assert rev.split == "test"
    assert rev.gold_sql[0] == "SELECT region, SUM(amount) AS revenue FROM orders GROUP BY region"
    assert top.order_matters is True
    assert es.source.endswith(name)


def test_yaml_multiple_golds_and_metadata():
    es = load_evalset(FIXTURES / "retail.yaml")
    assert es.name == "retail" and es.description.startswith("Small retail")
    rev = es.cases[1]
    assert len(rev.gold_sql) == 2 and rev.gold_sql[1] == "SELECT region, SUM(amount)\nFROM orders\nGROUP BY 1"
    assert rev.tags == ["revenue", "region"]
    assert es.cases[2].notes == "ties are unlikely in the fixture data"


def test_csv_gold_list_forms_and_tags():
    """A CSV cell holds several golds as a JSON list or separated by a `;;` line; tags split on ; or ,."""
    es = load_evalset(FIXTURES / "retail.csv")
    assert len(es.cases[1].gold_sql) == 2
    top = es.cases[2]
    assert top.gold_sql == [
        "SELECT customer FROM orders\nGROUP BY customer ORDER BY SUM(amount) DESC LIMIT 1",
        "SELECT customer FROM orders GROUP BY 1 ORDER BY SUM(amount) DESC LIMIT 1",
    ]
    assert es.cases[1].tags == ["revenue", "region"]
    assert es.name == "retail"


def test_bare_list_yaml_derives_stable_ids_and_split_aliases():
    es = load_evalset(FIXTURES / "bare_list.yaml")
    assert es.name == "bare_list"
    assert all(c.id.startswith("q_") and len(c.id) == 10 for c in es.cases)
    assert load_evalset(FIXTURES / "bare_list.yaml").cases[0].id == es.cases[0].id
    assert es.cases[1].split == "val"  # "validation" is an alias


@pytest.mark.parametrize("suffix", [".yaml", ".csv", ".jsonl"])
def test_save_then_load_round_trips(tmp_path, suffix):
    es = load_evalset(FIXTURES / "retail.yaml")
    es = assign_splits(es, seed=3)
    es.cases[0].column_alternatives = [["customer", "customer_id"]]
    es.cases[1].fields = {"full_instructions": "Revenue is net.\nExclude returns.", "k_shot_prompt": "Q: ...; A: ..."}
    out = save_evalset(es, tmp_path / f"copy{suffix}")
    back = load_evalset(out)
    assert [c.model_dump() for c in back.cases] == [c.model_dump() for c in es.cases]


def test_hash_of_cases_without_extra_fields_is_unchanged():
    """Cases that do not use `fields` hash as before it existed (stored runs stay comparable)."""
    es = load_evalset(FIXTURES / "retail.yaml")
    assert evalset_hash(es) == "4604cc6d03e2b0e527de624977a42e1a54cffefcc6cc37e4c61c4431b2b78a11"
    with_fields = es.model_copy(deep=True)
    with_fields.cases[0].fields = {"source": "sheet 2"}
    assert evalset_hash(with_fields) != evalset_hash(es)


def test_fields_must_map_names_to_text(tmp_path):
    bad = tmp_path / "e.yaml"
    bad.write_text("questions:\n  - question: q\n    gold_sql: SELECT 1\n    fields: [a, b]\n")
    with pytest.raises(InvalidEvalSet, match="field 'fields' is \\['a', 'b'\\]; expected a mapping of names to text"):
        load_evalset(bad)


def test_hash_depends_on_content_not_source(tmp_path):
    es = load_evalset(FIXTURES / "retail.yaml")
    assert evalset_hash(es) == evalset_hash(es.model_copy(update={"source": "elsewhere"}))
    changed = es.model_copy(deep=True)
    changed.cases[0].gold_sql = ["SELECT 2"]
    assert evalset_hash(changed) != evalset_hash(es)


# ---------------------------------------------------------------- errors
def test_empty_gold_names_file_line_question_and_field():
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(FIXTURES / "invalid_empty_gold.yaml")
    e = ei.value
    assert e.line == 8 and e.field == "gold_sql"
    assert "invalid_empty_gold.yaml:8: question 'rev_q3': field 'gold_sql' is empty; expected a SQL string or a list of them" in str(e)


def test_unknown_split_in_csv_suggests_closest():
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(FIXTURES / "invalid_split.csv")
    msg = str(ei.value)
    assert "invalid_split.csv:3:" in msg and "'tset'" in msg and "Did you mean 'test'?" in msg
    assert ei.value.field == "split" and ei.value.line == 3


def test_duplicate_ids_name_both_lines():
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(FIXTURES / "invalid_duplicate.jsonl")
    assert ei.value.line == 3 and ei.value.field == "id"
    assert "duplicate question id 'a'" in str(ei.value) and "first at line 1" in str(ei.value)


BAD_YAML_CASES = [
    # (file text, expected line, field, fragment)
    ("questions:\n  - id: a\n    question: q\n    gold_sq: SELECT 1\n", 4, "gold_sq", "Did you mean 'gold_sql'?"),
    ("questions:\n  - id: a\n    question: q\n", 2, "gold_sql", "is missing"),
    ("questions:\n  - id: a\n    question: ''\n    gold_sql: SELECT 1\n", 3, "question", "expected the question text"),
    ("questions:\n  - id: a\n    question: q\n    gold_sql: {a: 1}\n", 4, "gold_sql", "expected a SQL string or a list"),
    ("questions:\n  - id: a\n    question: q\n    gold_sql: SELECT 1\n    order_matters: maybe\n", 5, "order_matters", "expected true or false"),
    ("questions:\n  - id: a\n    question: q\n    gold_sql: SELECT 1\n    tags: {x: 1}\n", 5, "tags", "expected a list of strings"),
    ("questions:\n  - just a string\n", 2, None, "expected a mapping of fields"),
    ("name: x\nquestion:\n  - id: a\n", 2, "question", "Did you mean 'questions'?"),
    ("name: x\nquestions: 3\n", 2, "questions", "expected a list of questions"),
    ("questions:\n  - id: a\n    question: [unclosed\n", 4, None, "not valid YAML"),
    ("", 1, "questions", "file is empty"),
]


@pytest.mark.parametrize("text,line,field,fragment", BAD_YAML_CASES)
def test_invalid_yaml_names_line_and_field(tmp_path, text, line, field, fragment):
    p = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(p)
    assert ei.value.source.endswith("bad.yaml")
    assert ei.value.line == line, str(ei.value)
    assert ei.value.field == field
    assert fragment in str(ei.value)
    assert str(ei.value).startswith(f"{p}:{line}:")


BAD_CSV_CASES = [
    ("id,question,gold\na,q,SELECT 1\n", 1, "gold", "Did you mean 'gold_sql'?"),
    ("id,question\na,q\n", 1, "gold_sql", "lacks the column 'gold_sql'"),
    ("id,question,gold_sql\na,q,SELECT 1\nb,q2\n", 3, None, "row has 2 cells; the header has 3"),
    ("id,question,gold_sql\na,q,SELECT 1\nb,q2,\n", 3, "gold_sql", "row 3 (question 'b'): field 'gold_sql' is missing"),
    ("id,question,gold_sql,order_matters\na,q,SELECT 1,perhaps\n", 2, "order_matters", "'perhaps'"),
    ('id,question,gold_sql\na,"multi\nline",SELECT 1\nb,q,"[1, 2]"\n', 4, "gold_sql", "[1, 2]"),
    ("db_name,query,question\nx,SELECT 1,q\n", 1, None, "load_defog_questions"),
    ("", 1, None, "file is empty"),
]


@pytest.mark.parametrize("text,line,field,fragment", BAD_CSV_CASES)
def test_invalid_csv_names_row_and_field(tmp_path, text, line, field, fragment):
    p = _write(tmp_path, "bad.csv", text)
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(p)
    assert ei.value.line == line, str(ei.value)
    assert ei.value.field == field
    assert fragment in str(ei.value)


BAD_JSONL_CASES = [
    ('{"id": "a", "question": "q", "gold_sql": "SELECT 1"}\n{"id": "b", "question": "q"\n', 2, None, "not valid JSON"),
    ('{"id": "a", "question": "q", "gold_sql": "SELECT 1"}\n["a"]\n', 2, None, "expected a mapping"),
    ('{"id": "a", "question": "q", "gold_sql": []}\n', 1, "gold_sql", "is empty"),
    ('{"id": "a", "question": "q", "gold_sql": "SELECT 1", "split": "tst"}\n', 1, "split", "Did you mean 'test'?"),
]


@pytest.mark.parametrize("text,line,field,fragment", BAD_JSONL_CASES)
def test_invalid_jsonl_names_line_and_field(tmp_path, text, line, field, fragment):
    p = _write(tmp_path, "bad.jsonl", text)
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(p)
    assert ei.value.line == line, str(ei.value)
    assert ei.value.field == field
    assert fragment in str(ei.value)


def test_all_problems_reported_and_nothing_half_loaded(tmp_path):
    """A file with one bad question among good ones loads nothing, and every problem is listed."""
    good = "".join(f"  - id: q{i}\n    question: question {i}\n    gold_sql: SELECT {i}\n" for i in range(5))
    text = "questions:\n" + good + "  - id: bad1\n    question: x\n    gold_sql: ''\n  - id: bad2\n    question: y\n    split: tain\n    gold_sql: SELECT 1\n"
    p = _write(tmp_path, "mixed.yaml", text)
    with pytest.raises(InvalidEvalSet) as ei:
        load_evalset(p)
    msg = str(ei.value)
    assert "question 'bad1': field 'gold_sql' is empty" in msg
    assert "1 more problem(s)" in msg and "Did you mean 'train'?" in msg
    assert f"{p}:19:" in msg and f"{p}:22:" in msg  # bad1 gold line, bad2's split line


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(InvalidEvalSet, match="unknown eval-set format '.txt'"):
        load_evalset(_write(tmp_path, "x.txt", "hi"))
    with pytest.raises(InvalidEvalSet, match="file not found"):
        load_evalset(tmp_path / "nope.yaml")
    with pytest.raises(InvalidEvalSet, match="no questions found"):
        load_evalset(_write(tmp_path, "empty.jsonl", "\n\n"))


# ---------------------------------------------------------------- splits
def _word(i: str) -> str:
    """A made-up word per id, so every case is its own family (questions and golds differ in shape, not just values)."""
    h = hashlib.sha256(i.encode()).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in h[:8])


def _cases(ids, category=lambda i: None):
    return [EvalCase(id=i, question=f"how many {_word(i)} rows", gold_sql=[f"SELECT COUNT(*) FROM t_{_word(i)}"], category=category(i))
            for i in ids]


def test_splits_are_stable_when_questions_are_added_or_removed():
    base = EvalSet(name="s", cases=_cases([f"q{i}" for i in range(200)]))
    before = {c.id: c.split for c in assign_splits(base, seed=7).cases}
    grown = EvalSet(name="s", cases=_cases([f"new{i}" for i in range(150)]) + base.cases)
    after_grow = {c.id: c.split for c in assign_splits(grown, seed=7).cases}
    shrunk = EvalSet(name="s", cases=base.cases[::3])
    after_shrink = {c.id: c.split for c in assign_splits(shrunk, seed=7).cases}
    assert all(after_grow[i] == before[i] for i in before)
    assert all(after_shrink[i] == before[i] for i in after_shrink)
    # seeded: another seed gives another assignment, the same seed the same one
    other = {c.id: c.split for c in assign_splits(base, seed=8).cases}
    assert other != before
    assert {c.id: c.split for c in assign_splits(base, seed=7).cases} == before


def test_split_proportions_and_stratification_on_1000_items():
    cats = ["count", "agg", "rank", "join"]
    es = EvalSet(name="big", cases=_cases([f"case-{i}" for i in range(1000)], lambda i: cats[int(i.split("-")[1]) % 4]))
    counts = split_counts(assign_splits(es, seed=0, ratios=(0.6, 0.2, 0.2)), by_category=True)
    # binomial sd for n=1000, p=.2 is ~13; 4.5 sd tolerances keep this deterministic test meaningful
    assert abs(counts["train"] - 600) <= 70 and abs(counts["val"] - 200) <= 60 and abs(counts["test"] - 200) <= 60
    assert counts["unassigned"] == 0
    for cat in cats:  # each category is split in the same ratios (n=250 each)
        c = counts["by_category"][cat]
        assert abs(c["train"] / 250 - 0.6) < 0.15 and abs(c["test"] / 250 - 0.2) < 0.12


def test_fixed_splits_are_kept_and_ratios_checked():
    es = load_evalset(FIXTURES / "retail.yaml")
    out = assign_splits(es, seed=1, ratios=(0, 1, 0))
    assert [c.split for c in out.cases] == ["val", "test", "val"]  # the file's 'test' stays
    assert es.cases[0].split is None  # the input is not mutated
    with pytest.raises(InvalidConfig, match="summing to 1"):
        assign_splits(es, ratios=(0.5, 0.2, 0.2))
    assert split_counts(out) == {"train": 0, "val": 2, "test": 1, "unassigned": 0}


def test_balanced_splits_are_exact_per_category_and_frozen_splits_stay_put(tmp_path):
    """Every category is cut within one question of the ratios (small ones still get val and test);
    splits already fixed count towards the targets; once written, adding questions moves nothing."""
    sizes = {"count": 3, "agg": 7, "rank": 11, "join": 40}
    names = [f"{cat}-{i}" for cat, n in sizes.items() for i in range(n)]
    es = EvalSet(name="b", cases=_cases(names, lambda i: i.split("-")[0]))
    es.cases[0] = es.cases[0].model_copy(update={"split": "test"})  # fixed by hand in the file
    out = balanced_splits(es, seed=3)
    assert out.cases[0].split == "test"
    counts = split_counts(out, by_category=True)["by_category"]
    for cat, n in sizes.items():
        c = counts[cat]
        assert c["unassigned"] == 0 and c["val"] >= 1 and c["test"] >= 1
        if n >= 7:
            assert all(abs(c[s] - r * n) <= 1 for s, r in (("train", 0.6), ("val", 0.2), ("test", 0.2)))
    assert counts["count"]["test"] == 1  # the fixed test question counted; no second one added
    assert balanced_splits(es, seed=3) == out and balanced_splits(es, seed=4) != out
    # frozen into the file, the splits are data: new questions get theirs, old ones keep theirs
    path = save_evalset(out, tmp_path / "frozen.yaml")
    frozen = load_evalset(path)
    grown = EvalSet(name="b", cases=frozen.cases + _cases([f"join-new{i}" for i in range(9)], lambda i: "join"))
    after = {c.id: c.split for c in balanced_splits(grown, seed=3).cases}
    assert all(after[c.id] == c.split for c in out.cases)


def test_select_cases_checks_split_name():
    es = assign_splits(load_evalset(FIXTURES / "retail.yaml"))
    assert {c.id for c in select_cases(es, "test")} >= {"revenue_by_region"}
    with pytest.raises(InvalidConfig, match="Did you mean 'train'"):
        select_cases(es, "trian")


# ---------------------------------------------------------------- benchmarks
def test_benchmarks_import():
    doc = {
        "version": 2,
        "benchmarks": {
            "questions": [
                {"id": "b1", "question": ["How many ", "orders?"], "answer": [{"format": "SQL", "content": ["SELECT COUNT(*) ", "FROM orders"]}]},
                {"id": "b2", "question": ["Revenue?"], "answer": [{"format": "SQL", "content": ["SELECT SUM(amount) FROM orders"]}, {"format": "SQL", "content": ["SELECT SUM(o.amount) FROM orders o"]}]},
                {"id": "b3", "question": ["No SQL answer"], "answer": []},
            ]
        },
    }
    space = Space.from_serialized(doc, title="Retail", space_id="01ef")
    es = evalset_from_benchmarks(space)
    assert es.name == "Retail benchmarks" and es.source == "space:01ef"
    assert [c.id for c in es.cases] == ["b1", "b2"]
    assert es.cases[0].question == "How many orders?" and es.cases[0].gold_sql == ["SELECT COUNT(*) FROM orders"]
    assert len(es.cases[1].gold_sql) == 2
    assert evalset_from_benchmarks(Space()).cases == []
