"""validate_space names every problem by JSON path, quotes the bad value and says what was expected."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos_llama.tools.errors import InvalidConfig, InvalidSpace
from chaos_llama.tools.space.io import load_space
from chaos_llama.tools.space.model import SerializedSpace, Space
from chaos_llama.tools.space.validate import LIMITS, Problem, ensure_valid, quote, validate_space

FIXTURES = Path(__file__).parent / "fixtures" / "spaces"
RETAIL = json.loads((FIXTURES / "retail.json").read_text())


def space_of(doc: dict, title: str = "Retail") -> Space:
    return Space.from_serialized(doc, title=title)


def idx(items: list[dict], **match) -> int:
    return next(i for i, x in enumerate(items) if all(x.get(k) == v for k, v in match.items()))


def join_to(doc: dict, alias: str) -> dict:
    return next(j for j in doc["instructions"]["join_specs"] if j["right"]["alias"] == alias and j["left"]["alias"] == "orders")


def example(doc: dict, start: str) -> dict:
    return next(e for e in doc["instructions"]["example_question_sqls"] if e["question"][0].startswith(start))


def ex_path(start: str) -> str:
    i = next(i for i, e in enumerate(RETAIL["instructions"]["example_question_sqls"]) if e["question"][0].startswith(start))
    return f"instructions.example_question_sqls[{i}]"


J_CUST = f"instructions.join_specs[{idx(RETAIL['instructions']['join_specs'], id=join_to(RETAIL, 'customers')['id'])}]"
T_CUST = "data_sources.tables[0]"  # customers sorts first


# title, mutation of a copy of the retail document, expected path, message fragment, severity
CASES: list[tuple[str, Callable[[dict], None], str, str, str]] = [
    ("plain string text field",
     lambda d: d["data_sources"]["tables"][0].__setitem__("description", "Customers."),
     f"{T_CUST}.description", "expected an array of strings, got the plain string 'Customers.'", "error"),
    ("plain string synonyms",
     lambda d: d["data_sources"]["tables"][0]["column_configs"][2].__setitem__("synonyms", "tier"),
     f"{T_CUST}.column_configs[2].synonyms", "array of strings", "error"),
    ("plain string join sql",
     lambda d: join_to(d, "customers").__setitem__("sql", "orders.customer_id = customers.customer_id"),
     f"{J_CUST}.sql", "plain string", "error"),
    ("id not 32 lowercase hex",
     lambda d: d["instructions"]["sql_functions"][0].__setitem__("id", "FN-1"),
     "instructions.sql_functions[0].id", "id 'FN-1' is not 32 lowercase hex", "error"),
    ("uppercase hex id",
     lambda d: d["config"]["sample_questions"][0].__setitem__("id", d["config"]["sample_questions"][0]["id"].upper()),
     "config.sample_questions[0].id", "not 32 lowercase hex", "error"),
    ("missing id",
     lambda d: d["instructions"]["text_instructions"][0].pop("id"),
     "instructions.text_instructions[0].id", "missing id", "error"),
    ("duplicate id",
     lambda d: d["instructions"]["sql_snippets"]["measures"][1].__setitem__("id", d["instructions"]["sql_snippets"]["measures"][0]["id"]),
     "instructions.sql_snippets.measures[1].id", "duplicate id", "error"),
    ("question id shared by sample and benchmark question",
     lambda d: d["benchmarks"]["questions"][0].__setitem__("id", d["config"]["sample_questions"][0]["id"]),
     "benchmarks.questions[0].id", "unique across both", "error"),
    ("join condition with OR",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id = customers.customer_id OR orders.region = customers.region"),
     f"{J_CUST}.sql", "uses OR", "error"),
    ("compound join condition with a part that compares one side only",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id = customers.customer_id AND orders.a = orders.b"),
     f"{J_CUST}.sql", "'orders.a = orders.b' in join condition", "error"),
    ("join condition references an unknown alias",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id = custs.customer_id"),
     f"{J_CUST}.sql", "'custs' is neither the left alias 'orders' nor the right alias 'customers'", "error"),
    ("join condition with unqualified column",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id = customer_id"),
     f"{J_CUST}.sql", "is not qualified", "error"),
    ("join condition that is not an equality",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id > customers.customer_id"),
     f"{J_CUST}.sql", "is not an equality", "error"),
    ("join condition comparing one table with itself",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id = orders.store_id"),
     f"{J_CUST}.sql", "one on each side", "error"),
    ("join condition that does not parse",
     lambda d: join_to(d, "customers")["sql"].__setitem__(0, "orders.customer_id = "),
     f"{J_CUST}.sql", "does not parse", "error"),
    ("unknown relationship marker",
     lambda d: join_to(d, "customers")["sql"].__setitem__(1, "--rt=FROM_RELATIONSHIP_TYPE_MANY_TO_ON--"),
     f"{J_CUST}.sql", "unknown relationship type 'MANY_TO_ON'. Did you mean 'MANY_TO_ONE'?", "error"),
    ("missing relationship marker",
     lambda d: join_to(d, "customers")["sql"].pop(1),
     f"{J_CUST}.sql", "marker", "warning"),
    ("join on a table outside the space",
     lambda d: join_to(d, "customers")["right"].__setitem__("identifier", "main.retail.customer"),
     f"{J_CUST}.right.identifier", "Did you mean 'main.retail.customers'?", "error"),
    ("example SQL that does not parse",
     lambda d: example(d, "How many customers")["sql"].__setitem__(0, "SELEC loyalty_tier, COUNT(*) AS customers\n"),
     f"{ex_path('How many customers')}.sql", "does not parse", "error"),
    ("example SQL with two statements",
     lambda d: example(d, "How many customers")["sql"].append("; SELECT 2"),
     f"{ex_path('How many customers')}.sql", "holds 2 statements; expected exactly one", "error"),
    ("example SQL using an undeclared parameter",
     lambda d: example(d, "Top N")["parameters"].pop(1),
     f"{ex_path('Top N')}.sql", "uses :top_n but no parameter", "warning"),
    ("declared parameter never used",
     lambda d: example(d, "Top N")["parameters"].append({"name": "region", "type_hint": "STRING"}),
     f"{ex_path('Top N')}.parameters[2].name", "never uses :region", "warning"),
    ("unknown parameter type",
     lambda d: example(d, "Top N")["parameters"][1].__setitem__("type_hint", "INTEGR"),
     f"{ex_path('Top N')}.parameters[1].type_hint", "unknown type_hint 'INTEGR'", "warning"),
    ("empty example question",
     lambda d: example(d, "Top N").__setitem__("question", [""]),
     f"{ex_path('Top N')}.question", "question is empty", "error"),
    ("v1 column field in a v2 space",
     lambda d: d["data_sources"]["tables"][0]["column_configs"][2].__setitem__("get_example_values", True),
     f"{T_CUST}.column_configs[2].get_example_values", "use 'enable_format_assistance'", "error"),
    ("v1 build_value_dictionary field",
     lambda d: d["data_sources"]["tables"][0]["column_configs"][2].__setitem__("build_value_dictionary", True),
     f"{T_CUST}.column_configs[2].build_value_dictionary", "use 'enable_entity_matching'", "error"),
    ("duplicate column config",
     lambda d: d["data_sources"]["tables"][0]["column_configs"].insert(1, {"column_name": "Customer_ID"}),
     f"{T_CUST}.column_configs[1].column_name", "duplicate column 'Customer_ID'", "error"),
    ("entity matching without format assistance",
     lambda d: d["data_sources"]["tables"][0]["column_configs"][2].__setitem__("enable_format_assistance", False),
     f"{T_CUST}.column_configs[2].enable_entity_matching", "requires format assistance", "error"),
    ("table identifier not three-part",
     lambda d: d["data_sources"]["tables"][0].__setitem__("identifier", "retail.customers"),
     f"{T_CUST}.identifier", "expected 'catalog.schema.table'", "error"),
    ("duplicate table",
     lambda d: d["data_sources"]["tables"].insert(1, {"identifier": "main.retail.customers"}),
     "data_sources.tables[1].identifier", "duplicate identifier", "error"),
    ("SQL function identifier not three-part",
     lambda d: d["instructions"]["sql_functions"][0].__setitem__("identifier", "fiscal_quarter"),
     "instructions.sql_functions[0].identifier", "catalog.schema.function", "error"),
    ("version 1",
     lambda d: d.__setitem__("version", 1),
     "version", "expected 2", "error"),
    ("filter written with WHERE",
     lambda d: d["instructions"]["sql_snippets"]["filters"][0].__setitem__("sql", ["WHERE " + d["instructions"]["sql_snippets"]["filters"][0]["sql"][0]]),
     "instructions.sql_snippets.filters[0].sql", "starts with WHERE", "error"),
    ("filter without display name",
     lambda d: d["instructions"]["sql_snippets"]["filters"][0].pop("display_name"),
     "instructions.sql_snippets.filters[0].display_name", "needs a display_name", "error"),
    ("measure without alias",
     lambda d: d["instructions"]["sql_snippets"]["measures"][0].pop("alias"),
     "instructions.sql_snippets.measures[0].alias", "needs an alias", "error"),
    ("snippet that does not parse",
     lambda d: d["instructions"]["sql_snippets"]["expressions"][0].__setitem__("sql", ["date_trunc('MONTH', orders.order_date"]),
     "instructions.sql_snippets.expressions[0].sql", "does not parse", "error"),
    ("snippet with a bare column",
     lambda d: d["instructions"]["sql_snippets"]["measures"][1].__setitem__("sql", ["COUNT(DISTINCT order_id)"]),
     "instructions.sql_snippets.measures[1].sql", "not table-qualified", "warning"),
    ("benchmark answer that does not parse",
     lambda d: d["benchmarks"]["questions"][0]["answer"][0].__setitem__("content", ["SELECT FROM WHERE"]),
     "benchmarks.questions[0].answer[0].content", "does not parse", "warning"),
    ("several text instructions",
     lambda d: d["instructions"]["text_instructions"].append({"id": "f" * 32, "content": ["More.\n"]}),
     "instructions.text_instructions", "general-instructions block", "warning"),
    ("no data sources",
     lambda d: (d["data_sources"].__setitem__("tables", []), d["data_sources"].pop("metric_views"), d["instructions"].pop("join_specs")),
     "data_sources.tables", "needs at least one", "error"),
    ("string over the character limit",
     lambda d: d["instructions"]["text_instructions"][0]["content"].append("x" * (LIMITS["string_chars"] + 1)),
     "instructions.text_instructions[0].content[3]", "at most 25,000 allowed", "error"),
    ("array over the item limit (unknown field too)",
     lambda d: d.__setitem__("future_list", list(range(LIMITS["array_items"] + 1))),
     "future_list", "at most 10,000 allowed", "error"),
]


@pytest.mark.parametrize("title, mutate, path, fragment, severity", CASES, ids=[c[0] for c in CASES])
def test_rule_reports_path_and_expectation(title, mutate, path, fragment, severity):
    """Each rule fires on a one-spot change to a valid document, naming the exact JSON path."""
    doc = copy.deepcopy(RETAIL)
    mutate(doc)
    problems = validate_space(space_of(doc))
    hits = [p for p in problems if p.path == path and fragment in p.message]
    assert hits, f"no problem at {path} with {fragment!r}; got:\n" + "\n".join(map(str, problems))
    assert hits[0].severity == severity


@pytest.mark.parametrize("name", ["retail.json", "hr.json", "bikes_handwritten.yaml"])
def test_fixtures_are_valid(name):
    assert validate_space(load_space(FIXTURES / name)) == []


def test_parameters_in_example_sql_are_allowed():
    """Genie's `:name` parameters parse (databricks dialect) and count as used."""
    doc = copy.deepcopy(RETAIL)
    problems = validate_space(space_of(doc))
    assert not [p for p in problems if "example_question_sqls" in p.path]
    assert ":top_n" in "".join(example(doc, "Top N")["sql"])


@pytest.mark.parametrize("limit, value, path", [
    ("tables", 5, "data_sources"),
    ("instructions", 4, "instructions"),
    ("benchmark_questions", 2, "benchmarks.questions"),
    ("text_instructions", 0, "instructions.text_instructions"),
    ("knowledge_snippets", 1, "knowledge_store"),
])
def test_space_limits_are_overridable(limit, value, path):
    """Defaults (30 tables, 100 instructions, 500 benchmarks) pass; a lower caller limit is enforced."""
    space = space_of(copy.deepcopy(RETAIL))
    assert not [p for p in validate_space(space) if p.path == path]
    problems = validate_space(space, limits={limit: value})
    assert [p for p in problems if p.path == path and f"{value}" in p.message]


def test_instruction_count_follows_documented_rule():
    """Each example SQL and SQL function counts 1; the whole text-instruction block counts 1 (3 + 1 + 1 = 5)."""
    space = space_of(copy.deepcopy(RETAIL))
    assert not [p for p in validate_space(space, limits={"instructions": 5}) if p.path == "instructions"]
    hit = [p for p in validate_space(space, limits={"instructions": 4}) if p.path == "instructions"]
    assert hit and hit[0].message.startswith("5 instructions")


def test_knowledge_snippets_count_described_tables_joins_and_sql_expressions():
    from chaos_llama.tools.space.validate import knowledge_snippets

    space = space_of(copy.deepcopy(RETAIL))
    s = space.serialized
    snippets = s.instructions.sql_snippets
    expected = (sum(1 for t in s.tables if t.description) + len(s.joins)
                + sum(len(getattr(snippets, k) or []) for k in ("filters", "expressions", "measures")))
    assert knowledge_snippets(s) == expected > 1
    hit = [p for p in validate_space(space, limits={"knowledge_snippets": expected - 1}) if p.path == "knowledge_store"]
    assert hit and hit[0].message.startswith(f"{expected} knowledge-store snippets")
    assert not [p for p in validate_space(space, limits={"knowledge_snippets": expected}) if p.path == "knowledge_store"]


def test_unknown_limit_name_is_rejected_with_suggestion():
    with pytest.raises(InvalidConfig, match="Did you mean 'tables'"):
        validate_space(space_of(RETAIL), limits={"table": 3})


def test_all_problems_are_collected_not_just_the_first():
    doc = copy.deepcopy(RETAIL)
    doc["data_sources"]["tables"][0]["description"] = "plain"
    doc["instructions"]["sql_functions"][0]["id"] = "bad"
    join_to(doc, "stores")["sql"][0] = "orders.store_id = stores.store_id OR orders.x = stores.y"
    paths = {p.path for p in validate_space(space_of(doc)) if p.severity == "error"}
    assert {f"{T_CUST}.description", "instructions.sql_functions[0].id"} <= paths
    assert any(p.startswith("instructions.join_specs[") and p.endswith(".sql") for p in paths)


def test_empty_title_is_reported():
    assert [p for p in validate_space(space_of(RETAIL, title=" ")) if p.path == "title"]


def test_serialized_space_can_be_validated_without_envelope():
    assert validate_space(SerializedSpace.model_validate(RETAIL)) == []


def test_ensure_valid_raises_listing_every_error():
    doc = copy.deepcopy(RETAIL)
    doc["data_sources"]["tables"][0]["description"] = "plain"
    doc["version"] = 3
    with pytest.raises(InvalidSpace) as info:
        ensure_valid(space_of(doc), source="retail.yaml")
    msg = str(info.value)
    assert msg.startswith("retail.yaml: space has 2 errors")
    assert f"{T_CUST}.description" in msg and "version" in msg
    assert len(info.value.problems) >= 2


def test_ensure_valid_returns_warnings_without_raising():
    doc = copy.deepcopy(RETAIL)
    join_to(doc, "customers")["sql"].pop(1)
    warnings = ensure_valid(space_of(doc))
    assert warnings and all(p.severity == "warning" for p in warnings)


def test_single_error_names_the_field():
    doc = copy.deepcopy(RETAIL)
    doc["version"] = 1
    with pytest.raises(InvalidSpace) as info:
        ensure_valid(space_of(doc))
    assert info.value.field == "version"


def test_bad_values_are_quoted_and_truncated():
    long_condition = "orders.customer_id = customers.customer_id AND " + "orders.x = customers.y AND " * 20 + "1 = 1"
    doc = copy.deepcopy(RETAIL)
    join_to(doc, "customers")["sql"][0] = long_condition
    msg = next(p.message for p in validate_space(space_of(doc)) if "'1 = 1' in join condition" in p.message)
    assert "'orders.customer_id = customers.customer_id AND" in msg and "…'" in msg
    assert len(msg) < 250
    assert quote("abc") == "'abc'" and quote("a\nb") == "'a\\nb'" and quote("x" * 100, 10) == "'xxxxxxxxxx…'"


def test_problem_is_a_frozen_pydantic_model():
    p = Problem(path="version", message="bad")
    assert p.severity == "error" and str(p) == "error: version: bad"
    assert Problem.model_validate_json(p.model_dump_json()) == p
    with pytest.raises(Exception):
        p.path = "other"  # type: ignore[misc]


def test_what_genie_exports_is_accepted():
    """A compound join key (as Genie exports it, backquoted) and collections in any order are valid."""
    doc = copy.deepcopy(RETAIL)
    join_to(doc, "customers")["sql"][0] = "`orders`.`customer_id` = `customers`.`customer_id` AND `customers`.`region` = `orders`.`region`"
    doc["instructions"]["example_question_sqls"].reverse()
    doc["data_sources"]["tables"].reverse()
    doc["data_sources"]["tables"][0]["column_configs"].reverse()
    doc["config"]["sample_questions"].reverse()
    assert validate_space(space_of(doc)) == []


@pytest.mark.parametrize("path, value, expected", [
    (("data_sources", "tables", 0, "column_configs", 0, "exclude"), "yes", "valid boolean"),
    (("data_sources", "tables", 0, "column_configs", 0, "enable_entity_matching"), 1, "valid boolean"),
    (("version",), "2", "valid integer"),
    (("data_sources", "tables", 0, "identifier"), 7, "valid string"),
])
def test_types_are_strict_and_the_field_is_named(path, value, expected):
    """No silent coercion (it would be written back changed): the error names the field and value."""
    from chaos_llama.tools.space.io import space_from_geniespace_json

    doc = copy.deepcopy(RETAIL)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InvalidSpace) as info:
        space_from_geniespace_json(json.dumps(doc), source="export.json")
    where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")
    assert where in str(info.value) and expected in str(info.value) and repr(value) in str(info.value)
