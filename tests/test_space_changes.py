"""Edits are explicit records; applying journals what they replaced so revert is exact; bad edits are named."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos_llama.tools.errors import ApplyConflict, InvalidSpace
from chaos_llama.tools.space.changes import (
    EDIT_TYPES,
    OPS,
    AddBenchmarkQuestion,
    AddColumnSynonyms,
    AddExampleSql,
    AddJoinSpec,
    AddSampleQuestion,
    AddSnippet,
    AddSqlFunction,
    AddTextInstruction,
    ChangeSet,
    Journal,
    ParameterSpec,
    RemoveBenchmarkQuestion,
    RemoveColumnSynonyms,
    RemoveExampleSql,
    RemoveJoinSpec,
    RemoveSampleQuestion,
    RemoveSnippet,
    RemoveSqlFunction,
    RemoveTextInstruction,
    SetColumnDescription,
    SetColumnEntityMatching,
    SetColumnExclude,
    SetColumnSynonyms,
    SetTableDescription,
    SetTextInstruction,
    UpdateBenchmarkQuestion,
    UpdateExampleSql,
    UpdateJoinSpec,
    UpdateSampleQuestion,
    UpdateSnippet,
    UpdateSqlFunction,
    apply_changes,
    diff_spaces,
    parse_edit,
    revert,
    segments,
)
from chaos_llama.tools.space.model import Space
from chaos_llama.tools.space.validate import validate_space

FIXTURES = Path(__file__).parent / "fixtures" / "spaces"
RETAIL_DOC = json.loads((FIXTURES / "retail.json").read_text())
HR_DOC = json.loads((FIXTURES / "hr.json").read_text())
INS = RETAIL_DOC["instructions"]
TEXT_ID = INS["text_instructions"][0]["id"]
EX_ID = next(e["id"] for e in INS["example_question_sqls"] if e["question"][0].startswith("Top N"))
FN_ID = INS["sql_functions"][0]["id"]
JOIN_ID = INS["join_specs"][0]["id"]
FILTER_ID = INS["sql_snippets"]["filters"][0]["id"]
MEASURE_ID = INS["sql_snippets"]["measures"][1]["id"]
BENCH_ID = RETAIL_DOC["benchmarks"]["questions"][1]["id"]
SAMPLE_ID = (RETAIL_DOC.get("config") or {}).get("sample_questions", [{}])[0].get("id")


def retail() -> Space:
    return Space.from_serialized(copy.deepcopy(RETAIL_DOC), title="Retail", description="Retail sales")


def hr() -> Space:
    return Space.from_serialized(copy.deepcopy(HR_DOC), title="HR")


def col(doc: dict, table: str, column: str) -> dict:
    t = next(t for t in doc["data_sources"]["tables"] if t["identifier"].endswith("." + table))
    return next(c for c in t["column_configs"] if c["column_name"] == column)


def by_id(items: list[dict], ident: str) -> dict | None:
    return next((x for x in items if x.get("id") == ident), None)


def ids_sorted(items: list[dict]) -> bool:
    return [x["id"] for x in items] == sorted(x["id"] for x in items)


# title, space factory, edit, check on the new serialized document
CASES: list[tuple[str, Callable[[], Space], object, Callable[[dict], bool]]] = [
    ("set text instruction by id", retail, SetTextInstruction(id=TEXT_ID, content="Revenue excludes tax.\nUse USD."),
     lambda d: d["instructions"]["text_instructions"][0]["content"] == ["Revenue excludes tax.\n", "Use USD."]),
    ("set the only text instruction", retail, SetTextInstruction(content="Only this."),
     lambda d: d["instructions"]["text_instructions"][0]["content"] == ["Only this."]),
    ("set text instruction when there is none", lambda: Space.from_serialized({"version": 2, "data_sources": {"tables": [{"identifier": "a.b.c"}]}}),
     SetTextInstruction(content="Be precise."),
     lambda d: d["instructions"]["text_instructions"][0]["content"] == ["Be precise."]),
    ("add text instruction", retail, AddTextInstruction(content="Weeks start on Monday.\n"),
     lambda d: len(d["instructions"]["text_instructions"]) == 2 and ids_sorted(d["instructions"]["text_instructions"])),
    ("remove text instruction", retail, RemoveTextInstruction(id=TEXT_ID),
     lambda d: d["instructions"]["text_instructions"] == []),
    ("set table description", retail, SetTableDescription(table="stores", description="One row per physical store."),
     lambda d: d["data_sources"]["tables"][4]["description"] == ["One row per physical store."]),
    ("drop table description", retail, SetTableDescription(table="main.retail.orders", description=None),
     lambda d: "description" not in d["data_sources"]["tables"][2]),
    ("set column description", retail, SetColumnDescription(table="orders", column="store_id", description="FK to stores."),
     lambda d: col(d, "orders", "store_id")["description"] == ["FK to stores."]),
    ("drop column description", retail, SetColumnDescription(table="orders", column="status", description=None),
     lambda d: "description" not in col(d, "orders", "status")),
    ("add column synonyms", retail, AddColumnSynonyms(table="customers", column="LOYALTY_TIER", synonyms=["membership", "Tier"]),
     lambda d: col(d, "customers", "loyalty_tier")["synonyms"] == ["tier", "membership level", "status level", "membership"]),
    ("add synonyms to a column without any", retail, AddColumnSynonyms(table="orders", column="store_id", synonyms=["shop"]),
     lambda d: col(d, "orders", "store_id")["synonyms"] == ["shop"]),
    ("remove column synonyms", retail, RemoveColumnSynonyms(table="customers", column="loyalty_tier", synonyms=["TIER"]),
     lambda d: col(d, "customers", "loyalty_tier")["synonyms"] == ["membership level", "status level"]),
    ("set column exclude", retail, SetColumnExclude(table="customers", column="email", exclude=False),
     lambda d: col(d, "customers", "email")["exclude"] is False),
    ("enable entity matching also enables format assistance", retail,
     SetColumnEntityMatching(table="customers", column="email", enabled=True),
     lambda d: col(d, "customers", "email")["enable_entity_matching"] is True and col(d, "customers", "email")["enable_format_assistance"] is True),
    ("disable entity matching", retail, SetColumnEntityMatching(table="stores", column="region", enabled=False),
     lambda d: col(d, "stores", "region")["enable_entity_matching"] is False and col(d, "stores", "region")["enable_format_assistance"] is True),
    ("add example SQL with parameters and usage guidance", retail,
     AddExampleSql(question="Orders per status for a store", sql="SELECT status, COUNT(*) AS n\nFROM main.retail.orders\nWHERE store_id = :store\nGROUP BY status",
                   usage_guidance="Use for status breakdowns of one store.",
                   parameters=[ParameterSpec(name="store", type_hint="INT", description="Store id", default_values=["1"])]),
     lambda d: any(e["question"] == ["Orders per status for a store"] and e["sql"][-1] == "GROUP BY status"
                   and e["parameters"][0] == {"name": "store", "type_hint": "INT", "description": ["Store id"], "default_value": {"values": ["1"]}}
                   for e in d["instructions"]["example_question_sqls"]) and ids_sorted(d["instructions"]["example_question_sqls"])),
    ("update example SQL", retail, UpdateExampleSql(id=EX_ID, sql="SELECT p.product_name FROM main.retail.products p WHERE p.category = :category LIMIT :top_n",
                                                    usage_guidance="Top-N by units."),
     lambda d: by_id(d["instructions"]["example_question_sqls"], EX_ID)["usage_guidance"] == ["Top-N by units."]),
    ("update example SQL removing parameters", retail,
     UpdateExampleSql(id=EX_ID, sql="SELECT 1", parameters=[]),
     lambda d: "parameters" not in by_id(d["instructions"]["example_question_sqls"], EX_ID)),
    ("remove example SQL", retail, RemoveExampleSql(id=EX_ID),
     lambda d: by_id(d["instructions"]["example_question_sqls"], EX_ID) is None and len(d["instructions"]["example_question_sqls"]) == 2),
    ("add SQL function", retail, AddSqlFunction(identifier="main.retail.net_amount", description="Amount without VAT."),
     lambda d: any(f["identifier"] == "main.retail.net_amount" and f["description"] == "Amount without VAT." for f in d["instructions"]["sql_functions"])),
    ("add SQL function to a space without any", hr, AddSqlFunction(identifier="hr_prod.people.tenure_years"),
     lambda d: d["instructions"]["sql_functions"][0]["identifier"] == "hr_prod.people.tenure_years"),
    ("remove SQL function by identifier", retail, RemoveSqlFunction(ref="main.retail.fiscal_quarter"),
     lambda d: d["instructions"]["sql_functions"] == []),
    ("remove SQL function by id", retail, RemoveSqlFunction(ref=FN_ID),
     lambda d: d["instructions"]["sql_functions"] == []),
    ("add join spec", retail, AddJoinSpec(left="stores", right="products", condition="stores.store_id = p.store_id",
                                          right_alias="p", relationship="ONE_TO_MANY", comment="Made up for the test."),
     lambda d: any(j["sql"] == ["stores.store_id = p.store_id", "--rt=FROM_RELATIONSHIP_TYPE_ONE_TO_MANY--"]
                   and j["left"] == {"identifier": "main.retail.stores", "alias": "stores"} and j["right"]["alias"] == "p"
                   for j in d["instructions"]["join_specs"])),
    ("remove join spec", retail, RemoveJoinSpec(id=JOIN_ID), lambda d: by_id(d["instructions"]["join_specs"], JOIN_ID) is None),
    ("add filter snippet", retail, AddSnippet(kind="filter", sql="orders.status = 'RETURNED'", display_name="returned orders", synonyms=["returns"]),
     lambda d: any(f["display_name"] == "returned orders" for f in d["instructions"]["sql_snippets"]["filters"])),
    ("add expression snippet", retail, AddSnippet(kind="expression", sql="year(orders.order_date)", alias="order_year"),
     lambda d: len(d["instructions"]["sql_snippets"]["expressions"]) == 2),
    ("add measure snippet to a space without snippets", hr,
     AddSnippet(kind="measure", sql="COUNT(DISTINCT employees.employee_id)", alias="headcount", instruction="Current staff only."),
     lambda d: d["instructions"]["sql_snippets"]["measures"][0]["alias"] == "headcount"),
    ("remove snippet without kind", retail, RemoveSnippet(id=MEASURE_ID),
     lambda d: by_id(d["instructions"]["sql_snippets"]["measures"], MEASURE_ID) is None),
    ("remove snippet with kind", retail, RemoveSnippet(id=FILTER_ID, kind="filter"),
     lambda d: by_id(d["instructions"]["sql_snippets"]["filters"], FILTER_ID) is None),
    ("add benchmark question", retail, AddBenchmarkQuestion(question="How many stores are in EMEA?",
                                                            sql="SELECT COUNT(*)\nFROM main.retail.stores\nWHERE region = 'EMEA'"),
     lambda d: any(q["answer"][0]["content"] == ["SELECT COUNT(*)\n", "FROM main.retail.stores\n", "WHERE region = 'EMEA'"]
                   for q in d["benchmarks"]["questions"])),
    ("add benchmark question to a space without benchmarks", hr, AddBenchmarkQuestion(question="Headcount?"),
     lambda d: d["benchmarks"]["questions"][0]["question"] == ["Headcount?"]),
    ("remove benchmark question", retail, RemoveBenchmarkQuestion(id=BENCH_ID),
     lambda d: by_id(d["benchmarks"]["questions"], BENCH_ID) is None),
    ("update benchmark question", retail, UpdateBenchmarkQuestion(id=BENCH_ID, question="Stores in EMEA?", sql="SELECT 2"),
     lambda d: by_id(d["benchmarks"]["questions"], BENCH_ID)["question"] == ["Stores in EMEA?"]
     and by_id(d["benchmarks"]["questions"], BENCH_ID)["answer"] == [{"format": "SQL", "content": ["SELECT 2"]}]),
    ("set column synonyms", retail, SetColumnSynonyms(table="customers", column="loyalty_tier", synonyms=["tier", "level", "tier"]),
     lambda d: col(d, "customers", "loyalty_tier")["synonyms"] == ["tier", "level"]),
    ("set no column synonyms", retail, SetColumnSynonyms(table="customers", column="loyalty_tier", synonyms=[]),
     lambda d: "synonyms" not in col(d, "customers", "loyalty_tier")),
    ("update SQL function", retail, UpdateSqlFunction(ref="main.retail.fiscal_quarter", description="The fiscal quarter of a date."),
     lambda d: d["instructions"]["sql_functions"][0]["description"] == "The fiscal quarter of a date."),
    ("update join spec", retail, UpdateJoinSpec(id=JOIN_ID, relationship="ONE_TO_ONE", comment="One per order."),
     lambda d: by_id(d["instructions"]["join_specs"], JOIN_ID)["sql"][-1] == "--rt=FROM_RELATIONSHIP_TYPE_ONE_TO_ONE--"
     and by_id(d["instructions"]["join_specs"], JOIN_ID)["comment"] == ["One per order."]),
    ("update snippet", retail, UpdateSnippet(id=MEASURE_ID, synonyms=["takings"], instruction="Completed orders only."),
     lambda d: by_id(d["instructions"]["sql_snippets"]["measures"], MEASURE_ID)["synonyms"] == ["takings"]
     and by_id(d["instructions"]["sql_snippets"]["measures"], MEASURE_ID)["instruction"] == ["Completed orders only."]),
    ("add sample question", hr, AddSampleQuestion(question="Who joined last month?"),
     lambda d: ["Who joined last month?"] in [q["question"] for q in d["config"]["sample_questions"]]),
]
if SAMPLE_ID:
    CASES += [
        ("update sample question", retail, UpdateSampleQuestion(id=SAMPLE_ID, question="Revenue by store?"),
         lambda d: by_id(d["config"]["sample_questions"], SAMPLE_ID)["question"] == ["Revenue by store?"]),
        ("remove sample question", retail, RemoveSampleQuestion(id=SAMPLE_ID),
         lambda d: by_id(d["config"]["sample_questions"], SAMPLE_ID) is None),
    ]


def test_every_edit_type_is_covered():
    assert {type(c[2]) for c in CASES} == set(EDIT_TYPES)


@pytest.mark.parametrize("title, make, edit, check", CASES, ids=[c[0] for c in CASES])
def test_apply_then_revert_is_exact(title, make, edit, check):
    """Each edit does what it says, leaves the input untouched, and revert restores the exact document."""
    space = make()
    original = json.dumps(space.to_serialized())
    new, journal = apply_changes(space, ChangeSet(changes=[edit], message=title))
    assert json.dumps(space.to_serialized()) == original, "input was mutated"
    after = new.to_serialized()
    assert check(after), json.dumps(after, indent=1)[:3000]
    assert json.dumps(after) != original
    assert not [p for p in validate_space(new) if p.severity == "error" and p not in validate_space(space)]
    restored = revert(new, journal)
    assert json.dumps(restored.to_serialized()) == original
    assert (restored.title, restored.description) == (space.title, space.description)


def test_many_edits_on_the_same_items_revert_exactly():
    space = retail()
    # every retail edit in sequence, except those whose target an earlier edit already removed
    changes = [case[2] for case in CASES if case[1] is retail and not case[2].op.startswith("update_")
               and case[0] not in ("remove SQL function by id", "set the only text instruction", "set no column synonyms")]
    changes.append(RemoveSqlFunction(ref="main.retail.net_amount"))
    new, journal = apply_changes(space, ChangeSet(changes=changes, message="all at once"))
    assert len({e.edit for e in journal.entries}) == len(changes)
    assert json.dumps(revert(new, journal).to_serialized()) == json.dumps(space.to_serialized())


def test_journal_and_changeset_round_trip_through_json():
    """Both cross the MCP boundary as JSON; a deserialized journal still reverts exactly."""
    space = retail()
    cs = ChangeSet(changes=[c[2] for c in CASES[:12]], message="tidy")
    wire = cs.model_dump_json()
    assert json.loads(wire)["changes"][0]["op"] == "set_text_instruction"
    assert ChangeSet.parse(wire) == cs and ChangeSet.model_validate_json(wire) == cs
    new, journal = apply_changes(space, cs)
    journal2 = Journal.model_validate_json(journal.model_dump_json())
    assert journal2 == journal and journal.message == "tidy"
    assert json.dumps(revert(new, journal2).to_serialized()) == json.dumps(space.to_serialized())


def test_parse_edit_from_assistant_json():
    edit = parse_edit('{"op": "add_column_synonyms", "table": "orders", "column": "status", "synonyms": ["state"]}')
    assert isinstance(edit, AddColumnSynonyms) and edit.synonyms == ["state"]
    with pytest.raises(InvalidSpace, match="unknown edit op 'add_synonym'. Did you mean 'add_column_synonyms'?"):
        parse_edit({"op": "add_synonym"})
    with pytest.raises(InvalidSpace, match="invalid edit: column: Field required"):
        parse_edit({"op": "add_column_synonyms", "table": "orders", "synonyms": ["x"]})
    with pytest.raises(InvalidSpace, match="extra_field"):
        parse_edit({"op": "remove_join_spec", "id": "a" * 32, "extra_field": 1})


def test_changeset_parse_names_the_failing_edit():
    with pytest.raises(InvalidSpace) as info:
        ChangeSet.parse({"changes": [{"op": "remove_join_spec", "id": JOIN_ID}, {"op": "set_column_exclud"}]})
    assert info.value.field == "changes[1].op" and "Did you mean 'set_column_exclude'" in str(info.value)
    with pytest.raises(InvalidSpace, match=r"changes\[0\]\.synonyms"):
        ChangeSet.parse({"changes": [{"op": "add_column_synonyms", "table": "t", "column": "c", "synonyms": "x"}]})


def test_edits_are_frozen():
    edit = SetColumnExclude(table="orders", column="status", exclude=True)
    with pytest.raises(Exception):
        edit.exclude = False  # type: ignore[misc]
    assert edit.describe() == "set_column_exclude table='orders', column='status', exclude=True"
    assert all(op for op in OPS) and len(set(OPS)) == len(OPS) == 28


# --------------------------------------------------------------------------- bad edits
BAD = [
    ("missing table", SetTableDescription(table="ordrs", description="x"), "changes[1].table", "Did you mean 'orders'?"),
    ("missing column", SetColumnDescription(table="orders", column="stauts", description="x"), "changes[1].column", "Did you mean 'status'?"),
    ("missing column for synonyms", AddColumnSynonyms(table="customers", column="tier", synonyms=["x"]), "changes[1].column", "no column config"),
    ("missing synonym", RemoveColumnSynonyms(table="customers", column="loyalty_tier", synonyms=["teir"]), "changes[1].synonyms", "Did you mean 'tier'?"),
    ("missing example id", RemoveExampleSql(id=EX_ID[:-1] + "0"), "changes[1].id", f"Did you mean '{EX_ID}'?"),
    ("missing text instruction", SetTextInstruction(id="0" * 32, content="x"), "changes[1].id", "no item with id"),
    ("missing join id", RemoveJoinSpec(id="f" * 32), "changes[1].id", "no item with id"),
    ("missing snippet id", RemoveSnippet(id="e" * 32, kind="measure"), "changes[1].id", "no measure with id"),
    ("missing benchmark id", RemoveBenchmarkQuestion(id="d" * 32), "changes[1].id", "no item with id"),
    ("missing SQL function", RemoveSqlFunction(ref="main.retail.fiscal_qtr"), "changes[1].ref", "Did you mean 'main.retail.fiscal_quarter'?"),
    ("join on a table outside the space", AddJoinSpec(left="orders", right="suppliers", condition="orders.a = suppliers.b"),
     "changes[1].right", "not in the space"),
    ("join with OR", AddJoinSpec(left="orders", right="stores", condition="orders.store_id = stores.store_id OR orders.x = stores.y"),
     "changes[1].condition", "uses OR"),
    ("join with wrong alias", AddJoinSpec(left="orders", right="stores", condition="orders.store_id = store.store_id"),
     "changes[1].condition", "Did you mean 'stores'?"),
    ("example SQL that does not parse", AddExampleSql(question="q", sql="SELEC 1"), "changes[1].sql", "does not parse"),
    ("example with empty question", AddExampleSql(question=" ", sql="SELECT 1"), "changes[1].question", "question is empty"),
    ("update example to bad SQL", UpdateExampleSql(id=EX_ID, sql="SELECT FROM"), "changes[1].sql", "does not parse"),
    ("update with nothing", UpdateExampleSql(id=EX_ID), "changes[1].op", "nothing to update"),
    ("filter without display name", AddSnippet(kind="filter", sql="orders.status = 'X'"), "changes[1].display_name", "display_name"),
    ("measure without alias", AddSnippet(kind="measure", sql="SUM(orders.x)"), "changes[1].alias", "needs an alias"),
    ("benchmark SQL that does not parse", AddBenchmarkQuestion(question="q", sql="SELECT * FROM"), "changes[1].sql", "does not parse"),
    ("id that is not hex", AddTextInstruction(content="x", id="not-an-id"), "changes[1].id", "32 lowercase hex"),
    ("id already used", AddTextInstruction(content="x", id=TEXT_ID), "changes[1].id", "already used"),
    ("benchmark id used by a sample question", AddBenchmarkQuestion(question="q", id=RETAIL_DOC["config"]["sample_questions"][0]["id"]),
     "changes[1].id", "already used"),
    ("function already present", AddSqlFunction(identifier="main.retail.fiscal_quarter"), "changes[1].identifier", "already in the space"),
    ("function name not three-part", AddSqlFunction(identifier="fiscal"), "changes[1].identifier", "three-part"),
]


@pytest.mark.parametrize("title, edit, field, fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_edit_is_named_by_index_and_field(title, edit, field, fragment):
    """The second edit fails: the error names changes[1] and its field, and the input is untouched."""
    space = retail()
    before = json.dumps(space.to_serialized())
    first = AddColumnSynonyms(table="orders", column="status", synonyms=["state"])
    with pytest.raises(InvalidSpace) as info:
        apply_changes(space, ChangeSet(changes=[first, edit]))
    assert info.value.field == field
    assert fragment in str(info.value) and f"edit 1 ({edit.op})" in str(info.value)
    assert json.dumps(space.to_serialized()) == before


def test_ambiguous_table_name_asks_for_full_identifier():
    doc = copy.deepcopy(HR_DOC)
    doc["data_sources"]["tables"].append({"identifier": "hr_test.people.employees"})
    with pytest.raises(InvalidSpace, match="ambiguous"):
        apply_changes(Space.from_serialized(doc), ChangeSet(changes=[SetTableDescription(table="employees", description="x")]))
    new, _ = apply_changes(Space.from_serialized(doc), ChangeSet(changes=[SetTableDescription(table="hr_test.people.employees", description="x")]))
    assert new.to_serialized()["data_sources"]["tables"][-1]["description"] == ["x"]


def test_several_text_instructions_need_an_id():
    space, _ = apply_changes(retail(), ChangeSet(changes=[AddTextInstruction(content="Second.")]))
    with pytest.raises(InvalidSpace, match="say which one by id"):
        apply_changes(space, ChangeSet(changes=[SetTextInstruction(content="x")]))


def test_check_false_allows_content_genie_would_reject():
    bad = AddJoinSpec(left="orders", right="stores", condition="orders.a = stores.b OR orders.c = stores.d")
    new, _ = apply_changes(retail(), ChangeSet(changes=[bad]), check=False)
    assert any("compound" in p.message for p in validate_space(new))


def test_new_ids_are_deterministic():
    edit = AddExampleSql(question="Stores per region", sql="SELECT region, COUNT(*) FROM main.retail.stores GROUP BY region")
    a, _ = apply_changes(retail(), ChangeSet(changes=[edit]))
    b, _ = apply_changes(retail(), ChangeSet(changes=[edit]))
    assert a.to_serialized() == b.to_serialized()
    twice, _ = apply_changes(retail(), ChangeSet(changes=[edit, edit]))
    added = [e for e in twice.serialized.examples if e.question == ["Stores per region"]]
    assert len({e.id for e in added}) == 2


def test_revert_refuses_a_space_that_changed_since():
    new, journal = apply_changes(retail(), ChangeSet(changes=[SetColumnExclude(table="orders", column="status", exclude=True)]))
    changed, _ = apply_changes(new, ChangeSet(changes=[SetColumnExclude(table="orders", column="store_id", exclude=True)]))
    with pytest.raises(ApplyConflict, match="changed since"):
        revert(changed, journal)


def test_diff_spaces_is_a_unified_yaml_diff():
    space = retail()
    new, _ = apply_changes(space, ChangeSet(changes=[AddColumnSynonyms(table="customers", column="loyalty_tier", synonyms=["membership"])]))
    diff = diff_spaces(space, new)
    assert diff.startswith("--- a/space.yaml\n+++ b/space.yaml\n@@")
    assert "+              - membership\n" in diff
    assert [line for line in diff.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))] == [
        "+              - membership"]
    assert diff_spaces(space, retail()) == ""
    assert diff_spaces(space, new, name="retail.yaml").startswith("--- a/retail.yaml")


def test_segments_split_like_genie():
    assert segments("SELECT 1\nFROM t\n") == ["SELECT 1\n", "FROM t\n"]
    assert segments("one line") == ["one line"]
    assert segments("") == [] and segments(None) == []


def test_column_edit_creates_a_config_only_for_a_real_column():
    """With the data's columns given, a column the space lists no config for gets one (sorted, exact revert); a typo is named."""
    space = retail()
    columns = {"customers": ["customer_id", "loyalty_tier", "region", "tier_since"]}
    cs = ChangeSet(changes=[AddColumnSynonyms(table="customers", column="TIER_SINCE", synonyms=["member since"])])
    new, journal = apply_changes(space, cs, columns=columns)
    table = new.serialized.table("customers")
    names = [c.column_name for c in table.column_configs]
    assert "tier_since" in names and names == sorted(names)
    assert table.column("tier_since").synonyms == ["member since"]
    assert json.dumps(revert(new, journal).to_serialized()) == json.dumps(space.to_serialized())
    bad = ChangeSet(changes=[SetColumnDescription(table="customers", column="tier_snce", description="x")])
    with pytest.raises(InvalidSpace, match="Did you mean 'tier_since'"):
        apply_changes(space, bad, columns=columns)
