"""The serialized_space model is lossless: parsed documents come back exactly, built ones are complete."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from chaos_llama.tools.errors import InvalidInput
from chaos_llama.tools.space import model as model_module
from chaos_llama.tools.space.model import (
    ExampleSql,
    JoinSpec,
    SerializedSpace,
    Space,
    Table,
    TextInstruction,
    text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "spaces"
DOCS = ["retail.json", "hr.json"]


def load_doc(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("name", DOCS)
def test_parsed_document_round_trips_as_dict(name):
    """model_validate(doc).to_doc() == doc for Genie documents, unknown fields included."""
    doc = load_doc(name)
    assert SerializedSpace.model_validate(doc).to_doc() == doc


@pytest.mark.parametrize("name", DOCS)
def test_serialized_space_string_round_trips_byte_for_byte(name):
    """The API's serialized_space string form comes back identical, key order included."""
    doc = load_doc(name)
    as_string = json.dumps(doc)
    space = Space.from_serialized(as_string, title="t")
    assert json.dumps(space.to_serialized()) == as_string
    compact = json.dumps(doc, separators=(",", ":"))
    assert json.dumps(Space.from_serialized(compact).to_serialized(), separators=(",", ":")) == compact


def test_unknown_fields_kept_at_every_level():
    """Fields this model does not know survive at top level, in config, tables, columns, joins, examples, benchmarks."""
    out = Space.from_serialized(load_doc("retail.json")).to_serialized()
    assert out["experimental_agent_settings"] == {"mode": "agent", "max_steps": 6}
    assert out["config"]["ui_theme_hint"] == "compact"
    tables = {t["identifier"]: t for t in out["data_sources"]["tables"]}
    assert tables["main.retail.orders"]["row_filter_applied"] is False
    tier = next(c for c in tables["main.retail.customers"]["column_configs"] if c["column_name"] == "loyalty_tier")
    assert tier["value_dictionary"]["status"] == "READY"
    assert any(j.get("join_hint", {}).get("source") == "uc_foreign_key" for j in out["instructions"]["join_specs"])
    assert any(e.get("certified") is True for e in out["instructions"]["example_question_sqls"])
    assert any(q.get("review_state") == "APPROVED" for q in out["benchmarks"]["questions"])


def test_unknown_key_order_preserved_with_extras_between_known_keys():
    doc = {"zeta": 1, "version": 2, "data_sources": {"tables": [{"x_future": True, "identifier": "a.b.c"}]}, "alpha": [1]}
    assert list(SerializedSpace.model_validate(doc).to_doc()) == ["zeta", "version", "data_sources", "alpha"]
    assert json.dumps(SerializedSpace.model_validate(doc).to_doc()) == json.dumps(doc)


def test_space_built_in_code_emits_required_top_level_keys():
    """A Space built in code (not parsed) still serializes version, config, data_sources and instructions."""
    doc = Space(title="New").to_serialized()
    assert doc == {"version": 2, "config": {}, "data_sources": {}, "instructions": {}}
    built = SerializedSpace(data_sources={"tables": [Table(identifier="c.s.t")]})
    assert list(built.to_doc()) == ["version", "config", "data_sources", "instructions"]
    assert built.to_doc()["data_sources"] == {"tables": [{"identifier": "c.s.t"}]}


def test_parsed_document_without_sections_does_not_gain_them():
    assert SerializedSpace.model_validate({"version": 2}).to_doc() == {"version": 2}
    assert Space.model_validate({"serialized": {"version": 2}}).to_serialized() == {"version": 2}


def test_appending_to_default_list_is_emitted():
    """Code that appends to a list absent from the parsed input must not be silently dropped."""
    s = SerializedSpace.model_validate({"version": 2})
    s.instructions.text_instructions.append(TextInstruction(id="a" * 32, content=["Be brief.\n"]))
    assert s.to_doc() == {"version": 2, "instructions": {"text_instructions": [{"id": "a" * 32, "content": ["Be brief.\n"]}]}}


def test_new_id_goes_first_in_a_parsed_item():
    ex = ExampleSql.model_validate({"question": ["q"], "sql": ["SELECT 1"], "x_future": 1})
    ex.id = "b" * 32
    assert list(ex.to_doc()) == ["id", "question", "sql", "x_future"]


def test_space_json_dump_round_trips_losslessly():
    """Space.model_dump_json() stores the lossless document, so stores and caches can rely on it."""
    doc = load_doc("retail.json")
    space = Space.from_serialized(doc, title="Retail", warehouse_id="w1", etag="abc")
    again = Space.model_validate_json(space.model_dump_json())
    assert json.dumps(again.to_serialized()) == json.dumps(doc)
    assert (again.title, again.warehouse_id, again.model_extra) == ("Retail", "w1", {"etag": "abc"})


def test_equality_ignores_key_order_but_not_content():
    doc = load_doc("hr.json")
    reordered = json.loads(json.dumps(doc, sort_keys=True))
    assert SerializedSpace.model_validate(doc) == SerializedSpace.model_validate(reordered)
    reordered["data_sources"]["tables"][0]["column_configs"][0]["synonyms"].append("unit")
    assert SerializedSpace.model_validate(doc) != SerializedSpace.model_validate(reordered)


def test_helpers_read_the_document():
    s = Space.from_serialized(load_doc("retail.json")).serialized
    assert s.table("orders").identifier == "main.retail.orders"
    assert s.table("main.retail.Stores").name == "stores"
    assert s.table("nope") is None
    assert s.table("customers").column("LOYALTY_TIER").synonyms[0] == "tier"
    assert len(s.examples) == 3 and len(s.joins) == 4 and len(s.functions) == 1
    assert sorted(x.alias for x in s.snippets("measures")) == ["order_count", "revenue"]
    with pytest.raises(InvalidInput, match="Did you mean 'filters'"):
        s.snippets("filter")
    assert "fiscal year starts on February 1st" in s.instruction_text
    join = next(j for j in s.joins if j.right.alias == "customers")
    assert join.condition == "`orders`.`customer_id` = `customers`.`customer_id`"
    assert join.relationship == "MANY_TO_ONE"
    assert JoinSpec.model_validate({"left": {"identifier": "a.b.c"}, "right": {"identifier": "a.b.d"}, "sql": ["a.x = d.y"]}).relationship is None
    bench = s.benchmarks.questions[0]
    assert bench.gold_sql and bench.gold_sql[0].startswith("SELECT")
    assert text(["SELECT 1\n", "FROM t"]) == "SELECT 1\nFROM t" and text(None) == "" and text("x") == "x"


def test_metric_view_column_configs_are_modelled():
    s = SerializedSpace.model_validate({"version": 2, "data_sources": {"metric_views": [
        {"identifier": "c.s.mv", "column_configs": [{"column_name": "region", "synonyms": ["area"]}]}]}})
    assert s.data_sources.metric_views[0].column_configs[0].synonyms == ["area"]


def test_doctests_of_the_space_modules():
    from chaos_llama.tools.space import changes, validate

    for module in (model_module, validate, changes):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
