"""The heuristic proposer teaches the engine general levers from each failure's grounding trace.

One test per lever (a failure's ungrounded words + its gold SQL -> the edit), then generalization:
edits learned from the realistic eval set's train families fix val families they never saw.
"""

from __future__ import annotations

import pytest

from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
from chaos_llama.tools.optimize.model import Failure
from chaos_llama.tools.optimize.proposers import TableData
from chaos_llama.tools.optimize.proposers.heuristic import HeuristicProposer
from chaos_llama.tools.optimize.proposers.levers import Item, Unit, associate, near_duplicate, ungrounded, units
from chaos_llama.tools.space.changes import apply_changes

REVENUE = ("SELECT ROUND(SUM(oi.qty * oi.unit_prc * (1 - oi.disc_pct)), 2) AS net_revenue FROM main.retail.orders o "
           "JOIN main.retail.order_items oi ON oi.ord_id = o.ord_id WHERE o.stat_cd = 'C' AND YEAR(o.ord_dt) = {year}")


@pytest.fixture(scope="module")
def retail():
    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data])
        space, evalset = load_inputs(ex.sparse_space, ex.root / "evalset_realistic.yaml")
    return space, evalset, backend


def _fail(question: str, gold: str, ungrounded_words: list[str] | None = None, case_id: str | None = None) -> Failure:
    trace = {"ungrounded": ungrounded_words, "refused": "ungrounded"} if ungrounded_words else {}
    return Failure(case_id=case_id or question, question=question, gold_sql=[gold],
                   outcome="refused" if ungrounded_words else "wrong", details={"trace": trace} if trace else {})


def _propose(space, backend, failures):
    data = TableData(backend, space)
    cs = HeuristicProposer(data).propose(space, failures, budget=60, history=[])
    by_op: dict[str, list] = {}
    for e in cs.changes:
        by_op.setdefault(e.op, []).append(e)
    return cs, by_op, data


def _bare(con, *tables: str):
    """A space of bare `main.shop` tables over `con` (as a defog space starts) and the local engine on it."""
    from chaos_llama.tools.backends.local import LocalGenie
    from chaos_llama.tools.space.model import Space
    space = Space.from_serialized({"version": 1, "data_sources": {"tables": [
        {"identifier": f"main.shop.{t}"} for t in tables]}}, title="bare")
    return space, LocalGenie(con)


def test_measure_snippet_named_by_the_words_that_did_not_ground(retail):
    """'turnover' and 'takings' did not ground; both golds return the same aggregate -> one measure
    snippet with both as synonyms, and the condition every gold applies with it becomes a rule."""
    space, _, backend = retail
    fails = [_fail("whats our turnover for 2023", REVENUE.format(year=2023), ["turnover"]),
             _fail("Total takings in 2024?", REVENUE.format(year=2024), ["takings"]),
             _fail("sales by channel 2024", REVENUE.format(year=2024).replace("SELECT", "SELECT o.sales_chnl,")
                   + " GROUP BY o.sales_chnl", ["sales", "channel"])]
    cs, by_op, data = _propose(space, backend, fails)
    (measure,) = [e for e in by_op["add_snippet"] if e.kind == "measure"]
    assert measure.display_name == "Net revenue" and {"turnover", "takings", "sales"} <= set(measure.synonyms)
    (syn,) = by_op["add_column_synonyms"]
    assert (syn.column, syn.synonyms) == ("sales_chnl", ["channel"])
    (rule,) = by_op["add_text_instruction"]
    assert "Net revenue is computed only over rows where orders.stat_cd = 'C'" in rule.content
    assert "rounded to 2 decimals" in rule.content
    # the words taught levers: an example for their family comes only after every lever, if the budget has room
    ops = [e.op for e in cs.changes]
    assert "add_example_sql" not in ops[: ops.index("add_text_instruction") + 1]
    assert all(op == "add_example_sql" for op in ops[ops.index("add_example_sql"):])
    new, _ = apply_changes(space, cs, columns=data.all_columns())
    a = backend.ask_sync(new, "turnover by channel in 2023")  # a new combination of the learned words
    assert a.status == "COMPLETED" and "stat_cd = 'C'" in a.sql and "sales_chnl" in a.sql


def test_filter_snippet_for_a_condition_the_question_names_in_words(retail):
    """'cancelled' names stat_cd = 'X' (the question says no value): a filter snippet named for it."""
    space, _, backend = retail
    gold = ("SELECT COUNT(*) AS cancelled_orders FROM main.retail.orders o WHERE o.stat_cd = 'X' "
            "AND o.sales_chnl = '{ch}' AND YEAR(o.ord_dt) = {y}")
    fails = [_fail("How many web orders were cancelled in 2024?", gold.format(ch="Web", y=2024), ["web", "cancelled"]),
             _fail("cancelled marketplace orders 2023", gold.format(ch="Marketplace", y=2023), ["cancelled", "marketplace"])]
    cs, by_op, data = _propose(space, backend, fails)
    (filt,) = [e for e in by_op["add_snippet"] if e.kind == "filter"]
    assert filt.sql == "orders.stat_cd = 'X'" and filt.display_name == "cancelled orders"
    # the channel values the questions name -> a value dictionary on the channel column, first; then the
    # other categorical columns of the tables the golds read (2 to 50 distinct values)
    entity = [e.column for e in by_op["set_column_entity_matching"]]
    assert entity[0] == "sales_chnl" and set(entity) == {"sales_chnl", "stat_cd"}
    new, _ = apply_changes(space, cs, columns=data.all_columns())
    a = backend.ask_sync(new, "how many in-store orders were cancelled in 2025?")
    assert a.status == "COMPLETED" and "'X'" in a.sql and "'In-Store'" in a.sql


def test_join_specs_from_gold_joins(retail):
    space, _, backend = retail
    gold = ("SELECT r.rgn_cd, COUNT(*) AS returns FROM main.retail.returns rt JOIN main.retail.orders o "
            "ON o.ord_id = rt.ord_id JOIN main.retail.stores s ON s.store_id = o.store_id "
            "JOIN main.retail.regions r ON r.rgn_id = s.rgn_id GROUP BY r.rgn_cd")
    _, by_op, _ = _propose(space, backend, [_fail("returns per region", gold)])
    joins = {(j.left.split(".")[-1], j.right.split(".")[-1], j.relationship) for j in by_op["add_join_spec"]}
    assert joins == {("orders", "returns", "ONE_TO_ONE"), ("orders", "stores", "MANY_TO_ONE"),
                     ("stores", "regions", "MANY_TO_ONE")}


def test_rule_for_counts_of_a_table_across_families(retail):
    """Golds of two families count orders only where stat_cd = 'C' -> 'Counts of orders' rule the engine reads."""
    space, _, backend = retail
    fails = [_fail("How many orders did we get in 2024?",
                   "SELECT COUNT(*) AS n FROM main.retail.orders o WHERE o.stat_cd = 'C' AND YEAR(o.ord_dt) = 2024"),
             _fail("orders per channel",
                   "SELECT o.sales_chnl, COUNT(*) AS n FROM main.retail.orders o WHERE o.stat_cd = 'C' GROUP BY o.sales_chnl")]
    cs, by_op, data = _propose(space, backend, fails)
    (rule,) = by_op["add_text_instruction"]
    assert rule.content == "Counts of orders are computed only over rows where orders.stat_cd = 'C'."
    new, _ = apply_changes(space, cs, columns=data.all_columns())
    a = backend.ask_sync(new, "how many orders in 2023?")
    assert a.status == "COMPLETED" and "stat_cd = 'C'" in a.sql
    # one family alone is not a rule: it may be that family's own filter
    _, by_op, _ = _propose(space, backend, fails[:1])
    assert "add_text_instruction" not in by_op


def test_fiscal_calendar_becomes_an_instruction(retail):
    space, _, backend = retail
    gold = ("SELECT QUARTER(ADD_MONTHS(o.ord_dt, -1)) AS fq, COUNT(*) AS n FROM main.retail.orders o "
            "WHERE YEAR(ADD_MONTHS(o.ord_dt, -1)) = {y} GROUP BY 1")
    _, by_op, _ = _propose(space, backend, [_fail("orders by fiscal quarter FY24", gold.format(y=2024))])
    (ins,) = by_op["add_text_instruction"]
    assert "Fiscal years start on February 1" in ins.content


def test_example_only_for_a_shape_no_lever_expresses(retail):
    """Every word grounded, yet the answer wrong: a shape no lever expresses -> one example SQL for the
    family, ranked after the levers."""
    space, _, backend = retail
    gold = ("SELECT c.cust_nm, COUNT(*) AS n FROM main.retail.orders o JOIN main.retail.customers c "
            "ON c.cust_id = o.cust_id WHERE o.stat_cd = 'C' GROUP BY c.cust_id, c.cust_nm ORDER BY n DESC LIMIT {k}")
    two = [_fail("Which 3 customers placed the most orders?", gold.format(k=3)),
           _fail("top 5 customers by order count", gold.format(k=5))]
    cs, by_op, _ = _propose(space, backend, two)
    (example,) = by_op["add_example_sql"]
    assert cs.changes[-1] is example and "LIMIT 3" in example.sql and two[1].question in example.usage_guidance
    # (a failure whose words taught a lever gets none: see the measure snippet test)


def test_word_association():
    """A word names the part it co-occurs with most; a word outside the phrase that already named
    the part blocks it ('holiday' in 'holiday month sales'); typos are the engine's job."""
    rev, chnl = Item("measure", "rev"), Item("column", "chnl")
    recs = [(units("sales by channel", ["sales", "channel"], set()), [rev, chnl], set()),
            (units("turnover per channel", ["turnover", "channel"], set()), [rev, chnl], set()),
            (units("sales in 2024", ["sales"], set()), [rev], set()),
            (units("holiday month sales", ["holiday", "sales"], set()), [rev], set())]
    named = associate(recs)
    assert named["sal"][0] == rev and named["channel"][0] == chnl and named["turnover"][0] == rev
    assert "holiday" not in named
    assert near_duplicate("revenu", "revenue") and not near_duplicate("sales", "scale")
    # a run of ungrounded words is one phrase: "loyalty" alone would also catch "loyalty tier"
    assert [u.surface for u in units("net sales by loyalty tier", ["net", "sales", "loyalty", "tier"], set())] == [
        "net sales", "loyalty tier"]
    assert isinstance(units("x by y", ["y"], set())[0], Unit)
    # the trace's words, or failing that the failure analysis summary's
    f = Failure(case_id="x", question="q", gold_sql=["SELECT 1"],
                details={"grounding": ["refused: the space has nothing named 'takings', 'net sales'"]})
    assert ungrounded(f) == ["takings", "net", "sales"]


def test_train_levers_fix_val_families_they_never_saw(retail):
    """Generalization on the retail data: the proposer sees only the realistic set's failing TRAIN
    questions (with the engine's real grounding traces); its edits answer VAL families right that
    no train question belongs to, and add few wrong answers."""
    space, evalset, backend = retail

    def outcomes(sp, cases):
        from bench.engine_accuracy import outcome
        return {c.id: outcome(backend, sp, c) for c in cases}

    train, val = evalset.split("train"), evalset.split("val")
    assert not {c.family for c in train} & {c.family for c in val}  # family-held-out splits
    fails = []
    for c in train:
        a = backend.ask_sync(space, c.question)
        if not c.expects_refusal and outcomes(space, [c])[c.id] != "right":
            fails.append(Failure(case_id=c.id, question=c.question, gold_sql=c.gold_sql,
                                 details={"trace": (a.details or {}).get("grounding") or {}}))
    cs, by_op, data = _propose(space, backend, fails)
    assert not any(c.question in str(cs.model_dump()) for c in val)
    before, after = outcomes(space, val), outcomes(apply_changes(space, cs, columns=data.all_columns())[0], val)
    right = lambda o: sum(v == "right" for v in o.values())  # noqa: E731
    wrong = lambda o: sum(v == "wrong" for v in o.values())  # noqa: E731
    fixed_families = {c.family for c in val if before[c.id] != "right" and after[c.id] == "right"}
    assert right(after) >= right(before) + 8 and len(fixed_families) >= 5, (right(before), right(after))
    assert wrong(after) - wrong(before) <= 0.15 * len(val)
    # the levers did it: measure snippets, rules and synonyms, not examples of train questions
    assert {"add_snippet", "add_text_instruction", "add_column_synonyms"} <= set(by_op)


def test_loop_on_the_realistic_set_generalizes(retail, tmp_path):
    """The loop end to end on the realistic eval set (family-held-out splits), from the sparse space:
    the first epoch's levers are kept, and the test split (families the proposer never saw) rises from
    near nothing with few wrong answers (issue 16's bar is >= 50% right with <= 15% wrong; the measured
    figure is in docs/BENCHMARKS.md)."""
    from chaos_llama.tools.optimize.loop import optimize
    from chaos_llama.tools.optimize.model import OptimizeSettings
    from chaos_llama.tools.store import Store

    space, evalset, backend = retail
    with Store(tmp_path / "chaos.db") as store:
        r = optimize(space, evalset, backend, OptimizeSettings(max_epochs=2, workspace=tmp_path), store=store)
    assert r.epochs[0].decision == "accepted", r.epochs[0].reason
    assert r.baseline["val"].accuracy < 0.2  # the engine reads the sparse space's column names only
    test = r.final.test
    assert test.right >= 0.4 * test.total and test.wrong <= 0.15 * test.total, test
    assert r.final.val.right >= 0.45 * r.final.val.total
    best = r.best_space_yaml
    assert "measures:" in best and "computed only over rows where" in best  # levers, not memorized questions


def test_llm_proposer_sees_the_trace_and_its_levers_generalize(retail):
    """The llm proposer's prompt asks for general levers first and carries each failure's grounding
    trace (the ungrounded words); a reply of levers (replayed, never a live model) answers val
    families the prompt never showed."""
    import json
    from pathlib import Path

    import httpx

    from chaos_llama.tools.optimize.proposers import get_proposer

    space, evalset, backend = retail
    canned = json.loads((Path(__file__).parent / "fixtures" / "llm_propose_levers.json").read_text())["reply"]
    prompts = []

    def handler(request: httpx.Request) -> httpx.Response:
        prompts.append(json.loads(request.content)["messages"][1]["content"])
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(canned)}}]})

    fails = []
    for c in evalset.split("train"):
        a = backend.ask_sync(space, c.question)
        if a.status != "COMPLETED" and not c.expects_refusal:
            fails.append(Failure(case_id=c.id, question=c.question, gold_sql=c.gold_sql, outcome="refused",
                                 details={"trace": (a.details or {}).get("grounding") or {}}))
    prop = get_proposer("llm", config={"base_url": "http://llm.test/v1", "model": "m", "api_key_env": None},
                        transport=httpx.MockTransport(handler))
    cs = prop.propose(space, fails, budget=40, history=[])
    (prompt,) = prompts
    assert "GENERAL LEVERS FIRST" in prompt and "an example SQL only for a query shape no lever" in prompt
    assert "Ungrounded words: turnover" in prompt and "Missing: turnover" in prompt
    assert not any(c.question in prompt for c in evalset.split("val") + evalset.split("test"))
    new, _ = apply_changes(space, cs, columns=TableData(backend, space).all_columns())
    from bench.engine_accuracy import score

    before, after = score(backend, space, evalset.split("val")), score(backend, new, evalset.split("val"))
    assert after["right"] >= before["right"] + 5 and after["wrong"] <= 0.15 * after["n"], (before, after)


def test_no_lever_memorizes_a_value_a_number_word_or_a_many_to_many_join(retail):
    """A value the gold matches with LIKE ("%Dallas%") is a value to look up (a value dictionary on its
    column), never a filter named after the value's word; number words and words about the answer's form
    ("thousand", "strings") teach nothing; a join on columns that identify neither side's rows is the
    question's own, not a join spec."""
    space, _, backend = retail
    fails = [
        _fail("How many stores are in the city of Dallas?",
              "SELECT COUNT(*) FROM main.retail.stores s WHERE s.city ILIKE '%Dallas%'", ["dallas"]),
        _fail("Which stores have fewer than twenty thousand square feet? Match strings exactly",
              "SELECT s.store_nm FROM main.retail.stores s WHERE s.sq_ft < 20000", ["thousand", "strings"]),
        _fail("customers in countries that have a store",
              "SELECT COUNT(*) FROM main.retail.customers c JOIN main.retail.stores s ON s.country_cd = c.country_cd",
              ["countries"]),
    ]
    cs, by_op, _ = _propose(space, backend, fails)
    taught = {w.lower() for e in cs.changes for w in (getattr(e, "synonyms", None) or [])}
    assert not taught & {"dallas", "thousand", "strings"}, cs.changes
    assert not [e for e in by_op.get("add_snippet", []) if "Dallas" in e.sql], by_op.get("add_snippet")
    assert any(e.table == "main.retail.stores" and e.column == "city" for e in by_op["set_column_entity_matching"])
    assert not [j for j in by_op.get("add_join_spec", []) if "country_cd" in j.condition], by_op.get("add_join_spec")


def test_an_example_from_a_like_gold_keeps_the_containment(retail):
    """A gold that matches '%Dallas%' becomes an example whose parameter keeps the wildcards around it,
    so the example still means "contains", not "equals"."""
    space, _, backend = retail
    gold = "SELECT COUNT(*) FROM main.retail.stores s WHERE s.city ILIKE '%{c}%'"
    fails = [_fail(f"How many stores are in the city of {c}?", gold.format(c=c), [c.lower()]) for c in ("Dallas", "Chicago")]
    cs, by_op, data = _propose(space, backend, fails)
    (example,) = by_op["add_example_sql"]
    assert "'%' || :city || '%'" in example.sql, example.sql
    # the example transfers to another city, still as a containment
    new, _ = apply_changes(space, cs, columns=data.all_columns())
    a = backend.ask_sync(new, "How many stores are in the city of Seattle?")
    assert a.status == "COMPLETED" and "'%' || 'Seattle' || '%'" in a.sql, (a.reason, a.sql)


def test_an_example_from_a_case_folded_gold_folds_its_parameter(retail):
    """LOWER(city) LIKE '%dallas%' becomes LOWER(city) LIKE '%' || LOWER(:city) || '%': the value a
    question names ("Seattle") is folded the same way, or the example would match nothing."""
    space, _, backend = retail
    gold = "SELECT COUNT(*) FROM main.retail.stores s WHERE LOWER(s.city) LIKE '%{c}%'"
    fails = [_fail(f"How many stores are in the city of {c}?", gold.format(c=c.lower()), [c.lower()]) for c in ("Dallas", "Chicago")]
    cs, by_op, data = _propose(space, backend, fails)
    (example,) = by_op["add_example_sql"]
    assert "LOWER(:city)" in example.sql, example.sql
    new, _ = apply_changes(space, cs, columns=data.all_columns())
    a = backend.ask_sync(new, "How many stores are in the city of Seattle?")
    assert a.status == "COMPLETED", a.reason
    assert list(backend.execute(a.sql, space=new).to_pylist()[0].values()) == [1], a.sql  # Seattle Pike Street


def test_words_of_a_text_pattern_are_never_taught_as_synonyms(retail):
    space, _, backend = retail
    fails = [_fail(f"How many stores have names that start with the letter {c}?",
                   f"SELECT COUNT(*) FROM main.retail.stores s WHERE s.store_nm LIKE '{c}%'", ["start", "letter"])
             for c in ("L", "S")]
    cs, _, _ = _propose(space, backend, fails)
    taught = {w.lower() for e in cs.changes for w in (getattr(e, "synonyms", None) or [])}
    assert not taught & {"start", "letter"}, cs.changes


def test_a_participle_is_never_taught_as_a_measure_name(retail):
    """"ratio of orders presented in stores to orders placed online": the participle says how rows relate,
    it names no measure (defog's academic space learned a "Ratio" measure called "presented")."""
    space, _, backend = retail
    gold = ("SELECT CAST(COUNT(DISTINCT CASE WHEN o.sales_chnl = 'In-Store' THEN o.ord_id END) AS DOUBLE) / "
            "NULLIF(COUNT(DISTINCT CASE WHEN o.sales_chnl <> 'In-Store' THEN o.ord_id END), 0) AS ratio "
            "FROM main.retail.orders o WHERE YEAR(o.ord_dt) = {y}")
    fails = [_fail(f"ratio of orders presented in stores to orders placed online in {y}", gold.format(y=y), ["presented"])
             for y in (2023, 2024)]
    cs, _, _ = _propose(space, backend, fails)
    taught = {w.lower() for e in cs.changes for w in (getattr(e, "synonyms", None) or [])}
    names = {(getattr(e, "display_name", None) or "").lower() for e in cs.changes}
    assert "presented" not in taught | names, cs.changes


def test_a_table_word_is_never_taught_as_a_synonym_of_something_else(retail):
    """"which customers ... and how many orders": when "customers" is left unused by a refusal, it still
    names the customers table; defog yelp learned "users" as a synonym of a review count."""
    space, _, backend = retail
    gold = ("SELECT c.cust_nm, COUNT(*) AS orders FROM main.retail.orders o JOIN main.retail.customers c ON c.cust_id = o.cust_id "
            "WHERE o.stat_cd = 'C' AND YEAR(o.ord_dt) = {y} GROUP BY c.cust_nm")
    fails = [_fail(f"which customers ordered in {y} and how many orders did they place", gold.format(y=y), ["customers"])
             for y in (2023, 2024)]
    cs, _, _ = _propose(space, backend, fails)
    taught = {w.lower() for e in cs.changes for w in (getattr(e, "synonyms", None) or [])}
    assert "customers" not in taught, cs.changes


def test_no_value_dictionary_on_a_column_of_sentences(retail):
    """Review texts ("Average diner.") are prose: a value dictionary would read "average" as a review's text."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE review(rid INTEGER, shop VARCHAR, rating DOUBLE, text VARCHAR, mood VARCHAR)")
    con.execute("INSERT INTO review VALUES (1, 'A', 4.5, 'Great pizza!', 'happy'), (2, 'B', 2.0, 'Average diner.', 'meh'),"
                " (3, 'A', 4.0, 'Loved it.', 'happy')")
    space, backend = _bare(con, "review")
    fails = [_fail("how many reviews said Average diner.", "SELECT COUNT(*) FROM main.shop.review WHERE text = 'Average diner.'"),
             _fail("how many happy reviews", "SELECT COUNT(*) FROM main.shop.review WHERE mood = 'happy'")]
    cs, by_op, _ = _propose(space, backend, fails)
    matched = {e.column for e in by_op.get("set_column_entity_matching", [])}
    assert "text" not in matched and "mood" in matched, cs.changes


def test_a_pair_tables_columns_are_never_the_unique_end_of_a_join_spec():
    """defog academic: domain_conference (did, cid) has one row per domain in the data, so did looked unique;
    the proposer declared domain -> domain_conference ONE_TO_ONE and publication -> domain_conference
    MANY_TO_ONE, a second, cheaper path from publications to domains that turned a val answer wrong."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE domain(did INTEGER, name VARCHAR)")
    con.execute("INSERT INTO domain VALUES (1, 'AI'), (2, 'Bio')")
    con.execute("CREATE TABLE domain_conference(did INTEGER, cid INTEGER)")
    con.execute("INSERT INTO domain_conference VALUES (1, 10), (2, 20)")
    con.execute("CREATE TABLE publication(pid INTEGER, cid INTEGER, title VARCHAR)")
    con.execute("INSERT INTO publication VALUES (1, 10, 'A'), (2, 10, 'B'), (3, 20, 'C')")
    space, backend = _bare(con, "domain", "domain_conference", "publication")
    gold = ("SELECT d.name, COUNT(*) FROM main.shop.publication p JOIN main.shop.domain_conference dc ON p.cid = dc.cid "
            "JOIN main.shop.domain d ON d.did = dc.did GROUP BY d.name")
    cs, by_op, _ = _propose(space, backend, [_fail("publications per conference domain", gold, ["conference"])])
    specs = {(e.left.split(".")[-1], e.right.split(".")[-1]): e.relationship for e in by_op.get("add_join_spec", [])}
    assert specs.get(("domain_conference", "domain")) == "MANY_TO_ONE", specs
    assert not any("ONE_TO_ONE" == r for r in specs.values()), specs
    assert ("publication", "domain_conference") not in specs, specs  # cid repeats in a pair table: many-to-many


def test_a_value_dictionary_also_covers_the_same_named_columns_sharing_its_values():
    """defog geography: a failure named "United States" as a city's country; the dictionary went on
    city.country_name only, and "the population of the United States to the population of California" then
    read both values on the cities (a val answer turned wrong). The same-named columns of other tables that hold
    those values get one too; a same-named column with none of them does not."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE city(city_name VARCHAR, population INTEGER, country_name VARCHAR)")
    con.execute("INSERT INTO city VALUES ('Houston', 2000, 'United States'), ('Lyon', 500, 'France')")
    con.execute("CREATE TABLE state(state_name VARCHAR, population INTEGER, country_name VARCHAR)")
    con.execute("INSERT INTO state VALUES ('Texas', 3000, 'United States')")
    con.execute("CREATE TABLE team(team_name VARCHAR, country_name VARCHAR)")
    con.execute("INSERT INTO team VALUES ('Reds', 'Narnia')")
    space, backend = _bare(con, "city", "state", "team")
    fails = [_fail("cities in the United States", "SELECT city_name FROM main.shop.city WHERE country_name = 'United States'",
                   ["united", "states"])]
    cs, by_op, _ = _propose(space, backend, fails)
    matched = {(e.table.split(".")[-1], e.column) for e in by_op.get("set_column_entity_matching", [])}
    assert {("city", "country_name"), ("state", "country_name")} <= matched, cs.changes
    assert ("team", "country_name") not in matched
