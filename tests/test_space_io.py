"""Spaces survive YAML, .geniespace.json and API JSON unchanged; the content hash is stable; bad files are named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from chaos_llama.tools.errors import InvalidSpace, SpaceNotFound
from chaos_llama.tools.space.io import (
    load_space,
    normalize,
    save_space,
    space_from_geniespace_json,
    space_from_yaml,
    space_hash,
    space_to_api_dict,
    space_to_geniespace_json,
    space_to_yaml,
)
from chaos_llama.tools.space.model import Space
from chaos_llama.tools.space.validate import ID_PATTERN, validate_space

FIXTURES = Path(__file__).parent / "fixtures" / "spaces"
JSON_FIXTURES = ["retail.json", "hr.json"]
HANDWRITTEN = FIXTURES / "bikes_handwritten.yaml"


def fixture_space(name: str) -> Space:
    doc = json.loads((FIXTURES / name).read_text())
    return Space.from_serialized(doc, title=f"{name} space", description="Fixture\nwith two lines", warehouse_id="wh-1")


# --------------------------------------------------------------------------- YAML
@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_yaml_round_trip_is_exact(name):
    """space_from_yaml(space_to_yaml(s)) gives the same envelope and a byte-identical serialized document."""
    space = fixture_space(name)
    again = space_from_yaml(space_to_yaml(space))
    assert json.dumps(again.to_serialized()) == json.dumps(space.to_serialized())
    assert (again.title, again.description, again.warehouse_id) == (space.title, space.description, space.warehouse_id)
    assert space_to_yaml(again) == space_to_yaml(space)


def test_yaml_form_is_the_agreed_readable_shape():
    """Top keys title, description, warehouse_id, serialized_space; Genie key order; text stays arrays; `|` blocks."""
    text = space_to_yaml(fixture_space("retail.json"))
    data = yaml.safe_load(text)
    assert list(data) == ["title", "description", "warehouse_id", "serialized_space"]
    assert list(data["serialized_space"])[:4] == ["version", "config", "data_sources", "instructions"]
    assert "description: |-\n  Fixture\n  with two lines" in text
    assert '- "SELECT\\n"' in text  # a one-line SQL segment stays on one line
    table = data["serialized_space"]["data_sources"]["tables"][0]
    assert isinstance(table["description"], list)
    bikes = space_to_yaml(load_space(HANDWRITTEN))
    assert "- |\n            One row per order.\n            Amounts are in EUR" in bikes  # multi-line segment: a block
    assert "&" not in text.split("serialized_space")[0] and "*id" not in text  # no anchors/aliases
    assert max(len(line) for line in text.splitlines()) > 100  # long lines are never folded


TRICKY = [
    "a\nb\n", "  leading spaces\n", "trailing spaces  \nx", "\n\nblank lines\n\n", "tab\there\n", "unicode é 中文\n",
    "#not a comment\n", "- not a list\n", "'quoted'\n", "   ", "yes", "no", "on", "2024-01-01", "0123", "1e3", "null",
    "~", ": colon", "\r\nwindows", "x" * 300 + " y" * 200, "a  b   c", "",
]


def test_yaml_round_trips_tricky_strings():
    doc = {"version": 2, "data_sources": {"tables": [{"identifier": "c.s.t", "description": TRICKY}]}}
    space = Space.from_serialized(doc, title="yes")
    again = space_from_yaml(space_to_yaml(space))
    assert again.to_serialized()["data_sources"]["tables"][0]["description"] == TRICKY
    assert again.title == "yes"


def test_yaml_keeps_dates_and_numbers_as_written():
    """Hand-written YAML values such as 2025-01-01 stay strings (Genie values are JSON, not YAML timestamps)."""
    text = HANDWRITTEN.read_text().replace('default_value: {values: ["2024"]}', "default_value: {values: [2024-01-01]}")
    space = space_from_yaml(text)
    ex = next(e for e in space.serialized.examples if e.parameters)
    assert ex.parameters[0].default_value.values == ["2024-01-01"]


def test_yaml_with_missing_ids_gets_the_same_ids_every_load():
    first, second = load_space(HANDWRITTEN), load_space(HANDWRITTEN)
    assert first.to_serialized() == second.to_serialized()
    doc = first.to_serialized()
    ids = [x["id"] for x in doc["instructions"]["example_question_sqls"]] + [q["id"] for q in doc["benchmarks"]["questions"]]
    assert all(ID_PATTERN.match(i) for i in ids)
    assert validate_space(first) == []
    # the order written is kept (Genie accepts any order; `normalize` sorts only when asked)
    assert [t["identifier"] for t in doc["data_sources"]["tables"]] == ["shop.sales.stores", "shop.sales.orders"]
    assert [t["identifier"] for t in normalize(first).to_serialized()["data_sources"]["tables"]] == [
        "shop.sales.orders", "shop.sales.stores"]
    assert list(doc["instructions"]["join_specs"][0])[0] == "id"  # a filled id comes first


def test_yaml_keeps_the_order_it_read_so_a_pulled_space_hashes_the_same():
    """A space as Genie exports it (collections not sorted) hashes the same after a trip through
    YAML, so re-evaluating a pulled space never pushes it again."""
    doc = fixture_space("retail.json").to_serialized()
    doc["benchmarks"] = {"questions": [
        {"id": "f" * 32, "question": ["Second benchmark"], "answer": [{"format": "SQL", "content": ["SELECT 2"]}]},
        {"id": "a" * 32, "question": ["First benchmark"], "answer": [{"format": "SQL", "content": ["SELECT 1"]}]}]}
    doc["data_sources"]["tables"].reverse()
    doc["instructions"]["example_question_sqls"].reverse()
    pulled = space_from_geniespace_json(json.dumps({"title": "Pulled", "serialized_space": json.dumps(doc)}))
    again = space_from_yaml(space_to_yaml(pulled))
    assert again.to_serialized() == pulled.to_serialized() and space_hash(again) == space_hash(pulled)
    assert [p.severity for p in validate_space(again)] == []  # Genie's own export is valid as it is


def test_filled_ids_depend_on_content_only():
    text = HANDWRITTEN.read_text()
    a = load_space(HANDWRITTEN).to_serialized()
    b = space_from_yaml(text.replace("# A space written by hand", "# reformatted\n# A space written by hand"))
    assert a == b.to_serialized()
    changed = space_from_yaml(text.replace("Average order value]", "Mean order value]")).to_serialized()
    before = {e["question"][0]: e["id"] for e in a["instructions"]["example_question_sqls"]}
    after = {e["question"][0]: e["id"] for e in changed["instructions"]["example_question_sqls"]}
    assert after["Revenue per store in a year"] == before["Revenue per store in a year"]
    assert after["Mean order value"] != before["Average order value"]


def test_normalize_gives_identical_items_distinct_ids_and_is_idempotent():
    doc = {"version": 2, "data_sources": {"tables": [{"identifier": "c.s.t"}]},
           "instructions": {"text_instructions": [{"content": ["Same.\n"]}, {"content": ["Same.\n"]}]}}
    once = normalize(Space.from_serialized(doc))
    ids = [t["id"] for t in once.to_serialized()["instructions"]["text_instructions"]]
    assert len(set(ids)) == 2 and ids == sorted(ids)
    assert normalize(once).to_serialized() == once.to_serialized()


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_normalize_leaves_a_valid_genie_document_unchanged(name):
    space = fixture_space(name)
    assert json.dumps(normalize(space).to_serialized()) == json.dumps(space.to_serialized())


# --------------------------------------------------------------------------- YAML errors
def test_yaml_syntax_error_names_file_and_line():
    text = "title: x\nserialized_space:\n  version: 2\n  config: [unclosed\n  data_sources: {}\n"
    with pytest.raises(InvalidSpace) as info:
        space_from_yaml(text, source="spaces/x.yaml")
    assert info.value.source == "spaces/x.yaml" and info.value.line in (4, 5)
    assert str(info.value).startswith(f"spaces/x.yaml:{info.value.line}: invalid YAML")


def test_yaml_duplicate_key_is_an_error_with_line():
    text = "title: a\ntitle: b\nserialized_space: {version: 2}\n"
    with pytest.raises(InvalidSpace, match=r"duplicate key 'title' \(first at line 1\)") as info:
        space_from_yaml(text, source="x.yaml")
    assert info.value.line == 2


def test_yaml_without_serialized_space_suggests_the_key():
    with pytest.raises(InvalidSpace, match="missing 'serialized_space'.*Did you mean 'serialized_spaces'"):
        space_from_yaml("title: x\nserialized_spaces: {version: 2}\n", source="x.yaml")


def test_yaml_that_is_not_a_mapping():
    with pytest.raises(InvalidSpace, match="expected a mapping"):
        space_from_yaml("- a\n- b\n")


def test_yaml_schema_error_names_path_and_line():
    """A table without identifier: the message gives the JSON path and the YAML line of that table."""
    text = (
        "title: x\n"
        "serialized_space:\n"
        "  version: 2\n"
        "  data_sources:\n"
        "    tables:\n"
        "      - identifier: c.s.a\n"
        "      - description: [no identifier here]\n"
    )
    with pytest.raises(InvalidSpace) as info:
        space_from_yaml(text, source="x.yaml")
    assert info.value.line == 7
    assert "serialized_space.data_sources.tables[1].identifier (line 7): Field required" in str(info.value)
    assert info.value.field == "serialized_space.data_sources.tables[1].identifier"


def test_yaml_type_error_reports_the_value():
    text = "title: x\nserialized_space:\n  version: 2\n  data_sources:\n    tables:\n      - identifier: c.s.a\n        description: 5\n"
    with pytest.raises(InvalidSpace) as info:
        space_from_yaml(text, source="x.yaml")
    assert info.value.line == 7 and "tables[0].description" in str(info.value) and "got 5" in str(info.value)


def test_yaml_serialized_space_may_be_a_json_string():
    doc = json.loads((FIXTURES / "hr.json").read_text())
    text = yaml.safe_dump({"title": "HR", "serialized_space": json.dumps(doc)})
    assert space_from_yaml(text).to_serialized() == doc


# --------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_geniespace_json_round_trip_is_byte_identical(name):
    """The fixture files are .geniespace.json bodies: parse then write gives the same text."""
    text = (FIXTURES / name).read_text()
    assert space_to_geniespace_json(space_from_geniespace_json(text)) == text


def test_geniespace_json_errors_name_line_and_path():
    with pytest.raises(InvalidSpace) as info:
        space_from_geniespace_json('{\n  "version": 2,\n  "config": {,}\n}', source="a.geniespace.json")
    assert info.value.line == 3 and str(info.value).startswith("a.geniespace.json:3: not valid JSON")
    with pytest.raises(InvalidSpace, match="expected a JSON object"):
        space_from_geniespace_json("[1, 2]")
    with pytest.raises(InvalidSpace, match=r"instructions.join_specs\[0\].left"):
        space_from_geniespace_json(json.dumps({"version": 2, "instructions": {"join_specs": [{"right": {"identifier": "a.b.c"}}]}}))


def test_api_json_object_round_trips():
    """A GenieSpace API object (serialized_space as a JSON string, etag etc.) loads and saves losslessly."""
    space = fixture_space("hr.json")
    api = space_to_api_dict(space)
    assert isinstance(api["serialized_space"], str) and api["title"] == space.title
    api.update(space_id="01ef", etag="e1", update_time="2025-01-01T00:00:00Z")
    again = space_from_geniespace_json(json.dumps(api))
    assert again.to_serialized() == space.to_serialized()
    assert (again.space_id, again.model_extra["etag"]) == ("01ef", "e1")


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("filename", ["s.yaml", "s.yml", "s.geniespace.json", "s.json", "deep/dir/s.yaml"])
def test_save_then_load_each_format(tmp_path, filename):
    space = fixture_space("retail.json")
    path = save_space(space, tmp_path / filename)
    again = load_space(path)
    assert json.dumps(again.to_serialized()) == json.dumps(space.to_serialized())
    if filename.endswith(".geniespace.json"):
        assert again.title == "s"  # the bundle YAML holds the title; the file name stands in
        assert json.loads(path.read_text()) == space.to_serialized()
    else:
        assert (again.title, again.description, again.warehouse_id) == (space.title, space.description, space.warehouse_id)
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_load_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(SpaceNotFound, match="no space file"):
        load_space(tmp_path / "nope.yaml")
    (tmp_path / "s.txt").write_text("x")
    with pytest.raises(InvalidSpace, match="expected one of .yaml"):
        load_space(tmp_path / "s.txt")
    with pytest.raises(InvalidSpace, match="unsupported space file type"):
        save_space(fixture_space("hr.json"), tmp_path / "s.toml")


def test_load_errors_carry_the_file_name(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("title: x\nserialized_space:\n  version: [\n")
    with pytest.raises(InvalidSpace) as info:
        load_space(path)
    assert info.value.source == str(path) and info.value.line


# --------------------------------------------------------------------------- hash
def test_hash_is_16_hex_and_ignores_key_order():
    space = fixture_space("retail.json")
    h = space_hash(space)
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    shuffled = json.loads(json.dumps(space.to_serialized(), sort_keys=True))
    assert space_hash(Space.from_serialized(shuffled, title=space.title, description=space.description)) == h


def test_hash_ignores_yaml_formatting():
    base = load_space(HANDWRITTEN)
    data = yaml.safe_load(HANDWRITTEN.read_text())
    flow = yaml.safe_dump(data, default_flow_style=True, width=60)  # same content, different layout
    assert space_hash(space_from_yaml(flow)) == space_hash(base)
    assert space_hash(space_from_yaml(space_to_yaml(base))) == space_hash(base)


def test_hash_ignores_ids_etag_and_placement_but_not_title():
    space = fixture_space("hr.json")
    h = space_hash(space)
    moved = space.model_copy(update={"space_id": "x1", "warehouse_id": "other", "parent_path": "/Users/a"})
    assert space_hash(moved) == h
    assert space_hash(space.model_copy(update={"title": "Other"})) != h
    assert space_hash(space.model_copy(update={"description": None})) != h


def test_hash_changes_when_one_synonym_changes():
    doc = json.loads((FIXTURES / "retail.json").read_text())
    h = space_hash(Space.from_serialized(doc))
    doc["data_sources"]["tables"][0]["column_configs"][2]["synonyms"][0] = "tiers"
    assert space_hash(Space.from_serialized(doc)) != h


def test_space_built_in_code_round_trips_through_yaml():
    """A space assembled in code (as importers do) keeps its sections through YAML; ids get filled on load."""
    from chaos_llama.tools.space.model import ColumnConfig, DataSources, ExampleSql, Instructions, SerializedSpace, Table

    space = Space(title="Built", serialized=SerializedSpace(
        data_sources=DataSources(tables=[Table(identifier="c.s.t", column_configs=[ColumnConfig(column_name="a", description=["A."])])]),
        instructions=Instructions(example_question_sqls=[ExampleSql(question=["How many?"], sql=["SELECT COUNT(*) FROM c.s.t"])]),
    ))
    again = space_from_yaml(space_to_yaml(space))
    doc = again.to_serialized()
    assert list(doc) == ["version", "config", "data_sources", "instructions"]
    assert doc["data_sources"] == space.to_serialized()["data_sources"]
    ex = doc["instructions"]["example_question_sqls"][0]
    assert ID_PATTERN.match(ex["id"]) and ex["sql"] == ["SELECT COUNT(*) FROM c.s.t"]
    assert validate_space(again) == []
