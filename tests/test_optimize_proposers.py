"""Proposers: the heuristic mines general edits from gold SQL; the llm proposer replays recorded answers."""

from __future__ import annotations

import json

import httpx
import pytest

from chaos_llama.tools.errors import InvalidConfig
from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
from chaos_llama.tools.optimize.model import Failure, TriedChange
from chaos_llama.tools.optimize.proposers import PROPOSERS, TableData, get_proposer
from chaos_llama.tools.optimize.proposers.heuristic import HeuristicProposer
from chaos_llama.tools.optimize.proposers.llm import LLMProposer
from chaos_llama.tools.space.changes import apply_changes


@pytest.fixture(scope="module")
def retail():
    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data])
        space, evalset = load_inputs(ex.sparse_space, ex.templates)
    return space, evalset, backend


def _failure(evalset, case_id: str) -> Failure:
    c = next(c for c in evalset.cases if c.id == case_id)
    return Failure(case_id=c.id, question=c.question, gold_sql=c.gold_sql)


def test_registry():
    assert set(PROPOSERS) == {"heuristic", "llm"}
    with pytest.raises(InvalidConfig, match="Did you mean 'heuristic'"):
        get_proposer("heuristc")


def test_heuristic_parameterizes_values_the_question_names(retail):
    """'North America' in the question stands for rgn_cd = 'AMER' in the gold: a :rgn_cd parameter, entity
    matching on the region name, join specs oriented many-to-one; one example serves the whole family."""
    space, evalset, backend = retail
    data = TableData(backend, space)
    fails = [_failure(evalset, "revenue_by_category_region_amer"), _failure(evalset, "revenue_by_category_region_emea")]
    cs = HeuristicProposer(data).propose(space, fails, budget=50, history=[])
    by_op: dict[str, list] = {}
    for e in cs.changes:
        by_op.setdefault(e.op, []).append(e)
    (example,) = by_op["add_example_sql"]  # one family -> one example
    assert ":rgn_cd" in example.sql and "'AMER'" not in example.sql
    assert [p.name for p in example.parameters] == ["rgn_cd"]
    assert fails[1].question in example.usage_guidance
    entity = {(e.table.split(".")[-1], e.column) for e in by_op["set_column_entity_matching"]}
    assert ("regions", "rgn_nm") in entity
    joins = {(j.left.split(".")[-1], j.right.split(".")[-1], j.relationship) for j in by_op["add_join_spec"]}
    assert ("stores", "regions", "MANY_TO_ONE") in joins and ("order_items", "orders", "MANY_TO_ONE") in joins
    new, _ = apply_changes(space, cs, columns=data.all_columns())
    answer = backend.ask_sync(new, "What are sales by category in Latin America?")  # a held-out sibling
    assert answer.status == "COMPLETED" and "'LATAM'" in answer.sql


def test_heuristic_rewrites_fiscal_year_ranges(retail):
    """A one-year date range on a fiscal year the question names becomes YEAR(ADD_MONTHS(d, -1)) = :fiscal_year
    (in an example, made for a shape two or more failing questions share)."""
    space, evalset, backend = retail
    fys = [c for c in evalset.cases if "fiscal" in (c.id or "") or "FY" in c.question]
    cs = HeuristicProposer(TableData(backend, space)).propose(space, [_failure(evalset, c.id) for c in fys], budget=50,
                                                              history=[])
    examples = [e for e in cs.changes if e.op == "add_example_sql" and ":fiscal_year" in e.sql]
    assert examples and all("ADD_MONTHS" in e.sql for e in examples)
    assert examples[0].parameters[0].type_hint == "INT"


def test_heuristic_skips_rejected_edits_and_respects_budget(retail):
    space, evalset, backend = retail
    prop = HeuristicProposer(TableData(backend, space))
    fails = [_failure(evalset, c.id) for c in evalset.split("train")[:10]]
    first = prop.propose(space, fails, budget=5, history=[])
    assert len(first.changes) == 5
    tried = TriedChange(epoch=1, message="x", changes=[c.model_dump(exclude_none=True) for c in first.changes],
                        accepted=False, reason="rejected")
    again = prop.propose(space, fails, budget=100, history=[tried])
    dumped = [c.model_dump(exclude_none=True) for c in again.changes]
    assert not any(c in dumped for c in tried.changes)


RECORDED = {
    "message": "Teach the tier synonym and the region join",
    "changes": [
        {"op": "add_join_spec", "left": "main.retail.stores", "right": "main.retail.regions",
         "condition": "stores.rgn_id = regions.rgn_id"},
        {"op": "add_column_synonyms", "table": "customers", "column": "lylty_tier", "synonyms": ["membership"]},
        {"op": "no_such_op", "x": 1},
    ],
}


def test_llm_proposer_replays_a_recorded_answer(retail):
    """The request carries failures, metadata, history with val effect and Genie's limits; malformed edits are dropped."""
    space, evalset, backend = retail
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"message": {"content": "```json\n" + json.dumps(RECORDED) + "\n```"}}],
                                         "usage": {"total_tokens": 1234}})

    prop = get_proposer("llm", config={"base_url": "http://llm.test/v1", "model": "m", "api_key_env": None},
                        transport=httpx.MockTransport(handler))
    assert isinstance(prop, LLMProposer)
    history = [TriedChange(epoch=1, message="added examples", changes=[{"op": "add_example_sql"}], accepted=False,
                           reason="val lost more than it gained", val_fixed=0, val_broken=2, val_delta=-0.1)]
    fail = _failure(evalset, evalset.split("train")[0].id)
    cs = prop.propose(space, [fail], budget=10, history=history)
    assert [c.op for c in cs.changes] == ["add_join_spec", "add_column_synonyms"]
    prompt = seen[0]["messages"][1]["content"]
    assert fail.question in prompt and fail.gold_sql[0].strip()[:40] in prompt
    assert "REVERTED" in prompt and "val 0 fixed / 2 broken" in prompt and "at most 30 tables" in prompt
    assert not any(c.question in prompt for c in evalset.split("test") + evalset.split("val"))
    assert prop.usage["total_tokens"] == 1234
    new, _ = apply_changes(space, cs, columns=TableData(backend, space).all_columns())
    assert new.serialized.joins and new.serialized.table("customers").column("lylty_tier").synonyms == ["membership"]
