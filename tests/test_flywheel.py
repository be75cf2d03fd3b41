"""The data flywheel's parts: redaction, Genie JSON records, file exports, grounding, clusters,
candidates and accepting them into the eval set (tools/logs.py, tools/traffic.py). Offline; the
import through the SDK against the emulator is in test_flywheel_genie.py, the whole loop in
test_flywheel_e2e.py."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos_llama.tools.errors import InvalidInput
from chaos_llama.tools.evalset import EvalCase, EvalSet, assign_splits, freeze_splits, load_evalset, save_evalset
from chaos_llama.tools.families import leakage, similar_pairs, similarity
from chaos_llama.tools.logs import (
    LoggedMessage,
    Redaction,
    export_logs,
    genie_json,
    import_file,
    message_record,
    read_export,
    redact_stored,
    stored_messages,
    traffic_space,
)
from chaos_llama.tools.store import Store
from chaos_llama.tools.traffic import Domain, Flywheel, analyze, candidates, intent, traffic_accuracy
from databricks_helpers import retail_example

SPACE_ID = "s-1"
REVENUE = ("SELECT ROUND(SUM(oi.qty * oi.unit_prc * (1 - oi.disc_pct)), 2) AS net_revenue\nFROM main.retail.orders o\n"
           "JOIN main.retail.order_items oi ON oi.ord_id = o.ord_id\nWHERE o.stat_cd = 'C' AND YEAR(o.ord_dt) = {y}")
STORES = ("SELECT COUNT(*) AS stores FROM main.retail.stores s JOIN main.retail.regions r ON r.rgn_id = s.rgn_id "
          "WHERE r.rgn_cd = '{c}'")
WRONG = "SELECT COUNT(*) AS completed_orders FROM main.retail.orders o WHERE o.stat_cd = 'C'"


def msg(i: int, question: str, *, status: str = "COMPLETED", sql: str | None = None, rating: str | None = None,
        user: int = 1, comments: tuple[str, ...] = ()) -> LoggedMessage:
    return LoggedMessage(space_id=SPACE_ID, conversation_id=f"c{i}", message_id=f"m{i}", user_id=user, question=question,
                         status=status, sql=sql, rating=rating, comments=list(comments), created_ms=1_700_000_000_000 + i)


def traffic() -> list[LoggedMessage]:
    """A small hand-made month: revenue per year (covered by the eval set), stores per region (not
    covered, answered wrongly and rated down), two out-of-domain questions."""
    out = []
    for i, y in enumerate((2023, 2024, 2024, 2025)):
        out.append(msg(i, f"What was total net revenue in {y}?", sql=REVENUE.format(y=y), rating="POSITIVE" if i == 0 else None, user=i))
    out.append(msg(4, "revenue for 2024", sql=REVENUE.format(y=2024), user=3))
    for i, (q, c) in enumerate((("How many stores do we have in EMEA?", "EMEA"), ("number of stores in APAC", "APAC"),
                                ("store count in LATAM", "LATAM"), ("How many stores do we have in AMER?", "AMER"))):
        out.append(msg(10 + i, q, sql=WRONG, rating="NEGATIVE" if i < 2 else None, user=5 + i,
                       comments=("wrong, mail me at jane@shop.example",) if i == 0 else ()))
    out.append(msg(20, "new customer signups in 2025", status="NO_SQL", user=2))
    out.append(msg(21, "new customer signups in 2024", status="NO_SQL", rating="NEGATIVE", user=2))
    out.append(msg(30, "What's the weather forecast for tomorrow?", status="NO_SQL", user=9))
    out.append(msg(31, "how do i reset my password", status="NO_SQL", user=9))
    out.append(msg(32, "how do i reset my password", status="NO_SQL", user=8))
    return out


@pytest.fixture(scope="module")
def retail():
    return retail_example()


@pytest.fixture
def frozen(tmp_path, retail):
    """A copy of the bundled eval set with family-grouped splits written in (leakage 0)."""
    _, evalset, _ = retail
    path = tmp_path / "evals.yaml"
    save_evalset(freeze_splits(evalset)[0], path)
    assert leakage(load_evalset(path).cases).total == 0
    return path


# ---------------------------------------------------------------- redaction and records
def test_pii_redaction_masks_contacts_and_long_numbers_but_not_years_or_dates():
    r = Redaction()
    assert r.apply("orders of jane.doe@example.com in 2024")[0] == "orders of [email] in 2024"
    assert r.apply("call +44 20 7946 0958 about card 4111 1111 1111 1111")[0] == "call [number] about card [number]"
    for kept in ("revenue 2023 2024 2025", "orders between 2023-01-01 and 2024-06-30", "top 10 stores"):
        assert r.apply(kept) == (kept, False)
    assert Redaction(mode="none").apply("a@b.co") == ("a@b.co", False)
    text, masked = Redaction(mode="all").apply("Revenue of ACME?")
    assert masked and "ACME" not in text and text == Redaction(mode="all").apply("revenue of acme?")[0]  # repeats stay recognizable
    assert Redaction(patterns=[r"project \w+"]).apply("status of Project Falcon")[0] == "status of [redacted]"
    with pytest.raises(InvalidInput, match="redact_pattern"):
        Redaction(patterns=["("]).apply("x")


def test_a_genie_message_becomes_a_record():
    """Status NO_SQL when a completed message holds no query; error, rating and comments kept; text redacted."""
    base = {"space_id": "s", "conversation_id": "c", "message_id": "m", "content": "Sales for bob@x.io?", "user_id": 7,
            "created_timestamp": 5, "last_updated_timestamp": 9}
    text_only = message_record({**base, "status": "COMPLETED", "attachments": [{"text": {"content": "I cannot"}}]},
                               space_id="s", source="genie", redaction=Redaction())
    assert (text_only.status, text_only.sql, text_only.question, text_only.redacted) == ("NO_SQL", None, "Sales for [email]?", True)
    failed = message_record({**base, "status": "FAILED", "error": {"error": "boom", "type": "SQL_EXECUTION_EXCEPTION"},
                             "feedback": {"rating": "NEGATIVE", "comment": "broken"}}, space_id="s", source="genie",
                            redaction=Redaction(), comments=[{"content": "broken"}, {"content": "still broken"}])
    assert (failed.status, failed.error, failed.error_type, failed.rating) == ("FAILED", "boom", "SQL_EXECUTION_EXCEPTION", "NEGATIVE")
    assert failed.comments == ["broken", "still broken"]
    answered = message_record({**base, "status": "COMPLETED", "attachments": [{"query": {"query": "SELECT 1"}}],
                               "feedback": {"rating": "NONE"}}, space_id="s", source="genie", redaction=Redaction(mode="none"))
    assert (answered.status, answered.sql, answered.rating, answered.created_ms, answered.updated_ms) == ("COMPLETED", "SELECT 1", None, 5, 9)
    pending = message_record({**base, "status": "EXECUTING_QUERY"}, space_id="s", source="genie", redaction=Redaction())
    assert pending.status == "IN_PROGRESS"


def test_export_and_import_round_trip(tmp_path):
    """What `logs export` writes, `logs import` reads back as the same records; importing twice adds nothing."""
    store = Store(tmp_path / "a.db")
    store.put_log_messages(SPACE_ID, [m.model_dump() for m in traffic()])
    n = export_logs(store, SPACE_ID, tmp_path / "t.jsonl")
    assert n == len(traffic())
    other = Store(tmp_path / "b.db")
    first = import_file(other, tmp_path / "t.jsonl", redaction=Redaction(mode="none"))[0]
    assert (first.messages_new, first.messages_changed, first.messages_total) == (n, 0, n)
    strip = {"source", "redacted"}
    assert [m.model_dump(exclude=strip) for m in stored_messages(other, SPACE_ID)] == \
        [m.model_dump(exclude=strip) for m in stored_messages(store, SPACE_ID)]
    again = import_file(other, tmp_path / "t.jsonl", redaction=Redaction(mode="none"))[0]
    assert (again.messages_new, again.messages_changed) == (0, 0)
    assert genie_json(stored_messages(other, SPACE_ID)[0])["content"] == traffic()[0].question


def test_file_exports_of_messages_per_line_and_json_documents(tmp_path):
    lines = [{"space_id": "s", "conversation_id": "c1", "message_id": f"m{i}", "content": f"q{i}", "status": "COMPLETED"} for i in range(3)]
    (tmp_path / "flat.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert [len(c["messages"]) for _, c in read_export(tmp_path / "flat.jsonl")] == [3]
    (tmp_path / "doc.json").write_text(json.dumps({"conversations": [{"conversation_id": "c1", "messages": lines}]}))
    assert import_file(Store(":memory:"), tmp_path / "doc.json")[0].messages_new == 3


@pytest.mark.parametrize("content, line, field", [
    ('{"conversation_id": "c", "messages": []}\n{not json', 2, None),
    ('{"space_id": "s", "message_id": "m", "content": "q"}', 1, "conversation_id"),
    ('{"conversation_id": "c", "messages": [{"message_id": "m", "content": "q"}]}', 1, "space_id"),
    ('{"conversation_id": "c", "messages": "no"}', 1, "messages"),
    ('[1, 2]', 1, None),
])
def test_bad_exports_name_file_line_and_field(tmp_path, content, line, field):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidInput) as e:
        import_file(Store(":memory:"), path)
    assert f"bad.jsonl:{line}" in str(e.value)
    if field:
        assert e.value.field == field


def test_redacting_what_is_stored_and_choosing_the_space(tmp_path):
    store = Store(tmp_path / "s.db")
    with pytest.raises(InvalidInput, match="no traffic imported"):
        traffic_space(store)
    store.put_log_messages(SPACE_ID, [m.model_dump() for m in traffic()])
    assert traffic_space(store) == SPACE_ID
    assert redact_stored(store, SPACE_ID, Redaction(mode="all")) == len(traffic())
    assert all(m.question.startswith("[redacted ") and "jane" not in " ".join(m.comments) for m in stored_messages(store, SPACE_ID))
    store.put_log_messages("s-2", [traffic()[0].model_copy(update={"space_id": "s-2"}).model_dump()])
    with pytest.raises(InvalidInput, match="2 spaces"):
        traffic_space(store)
    with pytest.raises(InvalidInput, match="Did you mean 's-"):
        traffic_space(store, "s-3")


# ---------------------------------------------------------------- grounding and clusters
def test_questions_ground_to_the_space_or_are_out_of_domain(retail):
    space, evalset, _ = retail
    d = Domain(space, evalset=evalset)
    for q in ("How many stores do we have in EMEA?", "revnue by categroy", "Top 5 customers by spend", "units sold for Voltix"):
        assert d.grounding(q), q
    for q in ("What's the weather forecast for tomorrow?", "how do i reset my password", "Who won the world cup in 2022?",
              "translate good morning into spanish", "What's the best pizza place nearby?"):
        assert d.grounding(q) == [], q
    assert d.correct("revnue by categroy") == "revenue by category"
    assert d.correct("the weather tomorrow") == "the weather tomorrow"  # a real word is not a typo of a domain word
    assert d.mask_values("Electronics sales in EMEA") == d.mask_values("Apparel sales in APAC")
    assert intent("How many stores do we have in") == intent("number of stores in") == intent("store count in")


def test_clusters_group_paraphrases_and_values_and_rank_failures(retail):
    space, evalset, _ = retail
    rep = analyze(traffic(), space, assign_splits(evalset))
    revenue = next(c for c in rep.clusters if c.traffic == 5)
    assert revenue.covered and revenue.questions == 4 and revenue.failures == 0 and revenue.positive == 1
    stores = next(c for c in rep.clusters if "stores" in c.label.lower() or "store" in c.label.lower())
    # four phrasings and four regions, one wrong SQL that must not pull in unrelated questions
    assert (stores.traffic, stores.questions, stores.covered, stores.failures, stores.negative) == (4, 4, False, 2, 2)
    assert stores.statuses == {"COMPLETED": 4}
    signups = next(c for c in rep.clusters if "signups" in c.label)
    assert (signups.traffic, signups.failures, signups.statuses) == (2, 2, {"NO_SQL": 2})
    ood = [c for c in rep.clusters if c.out_of_domain]
    assert {c.label for c in ood} == {"What's the weather forecast for tomorrow?", "how do i reset my password"}
    assert all(c.failures == 0 for c in ood)  # refusing them is right
    assert rep.out_of_domain == 3 and rep.out_of_domain_rate == pytest.approx(3 / 14)
    assert rep.coverage == pytest.approx(5 / 14) and rep.in_domain_coverage == pytest.approx(5 / 11)
    assert rep.observed_success == pytest.approx(1 - 4 / 11)
    # equal impact (2 failing messages each): more traffic first
    assert [c.label for c in rep.fix_first()] == [stores.label, signups.label]
    assert [c.label for c in rep.fix_first(1)] == [stores.label]


def test_wrong_sql_does_not_merge_unrelated_questions(retail):
    """Genie answered both questions with the same wrong SQL; only a trusted shape (an eval gold, a thumbs-up) joins families."""
    space, evalset, _ = retail
    rep = analyze([msg(1, "store count in EMEA", sql=WRONG), msg(2, "Top 3 brands by returns", sql=WRONG)], space, assign_splits(evalset))
    assert len(rep.clusters) == 2


def test_traffic_accuracy_weights_covered_clusters_by_traffic(retail):
    space, evalset, _ = retail
    es = assign_splits(evalset)
    rep = analyze(traffic(), space, es)
    revenue = next(c for c in rep.clusters if c.covered)
    half = {cid: ("right" if i % 2 == 0 else "wrong") for i, cid in enumerate(revenue.eval_cases)}
    expected = sum(o == "right" for o in half.values()) / len(half)
    assert traffic_accuracy(rep, half) == pytest.approx(expected)
    assert traffic_accuracy(rep, {}) is None


# ---------------------------------------------------------------- candidates and review
def test_candidates_from_thumbs_failures_and_refusals(retail):
    space, evalset, _ = retail
    found = {c.question: c for c in candidates(traffic(), space, assign_splits(evalset), space_id=SPACE_ID)}
    liked = found["What was total net revenue in 2023?"]
    assert (liked.kind, liked.sql, liked.covered, liked.thumbs_up) == ("regression", REVENUE.format(y=2023), True, 1)
    assert found["How many stores do we have in EMEA?"].kind == "failure"
    assert found["How many stores do we have in EMEA?"].comments == ["wrong, mail me at jane@shop.example"]
    assert found["new customer signups in 2025"].kind == "failure" and found["new customer signups in 2025"].refused == 1
    assert found["how do i reset my password"].out_of_domain and found["how do i reset my password"].messages == 2
    assert "store count in LATAM" not in found  # answered, not rated: no signal either way
    ids = [c.candidate_id for c in found.values()]
    assert len(set(ids)) == len(ids) and ids == [c.candidate_id for c in candidates(traffic(), space, evalset, space_id=SPACE_ID)
                                                 if c.question in found]


def _flywheel(tmp_path, frozen, retail, messages=None) -> Flywheel:
    space, _, engine = retail
    store = Store(tmp_path / "ws.db")
    store.put_log_messages(SPACE_ID, [m.model_dump() for m in messages or traffic()])
    return Flywheel(store, space, frozen, backend=engine)


def _find(fw: Flywheel, question: str):
    return next(c for c in fw.candidates() if c.question == question)


def test_accepting_keeps_families_together_and_leakage_at_zero(tmp_path, frozen, retail):
    fw = _flywheel(tmp_path, frozen, retail)
    text_before = frozen.read_text()
    before = fw.report().coverage
    liked = _find(fw, "What was total net revenue in 2023?")
    family_split = {fw.evalset.cases[[c.id for c in fw.evalset.cases].index(i)].split for i in fw.report().clusters[0].eval_cases}
    done = fw.accept(liked.candidate_id)  # a regression candidate: Genie's SQL is the gold
    assert done.case.gold_sql == [liked.sql] and {done.split} == family_split and done.family == liked.family
    failing = _find(fw, "How many stores do we have in EMEA?")
    with pytest.raises(InvalidInput) as e:
        fw.accept(failing.candidate_id)
    assert e.value.field == "gold_sql"
    new = fw.accept(failing.candidate_id, gold_sql=STORES.format(c="EMEA"), category="counts", reviewer="ana")
    sibling = fw.accept(_find(fw, "number of stores in APAC").candidate_id, gold_sql=STORES.format(c="APAC"))
    assert sibling.split == new.split and sibling.family == new.family  # one family, one split
    refusal = fw.accept(_find(fw, "how do i reset my password").candidate_id, reason="not about the data")
    assert refusal.case.expect == "refusal" and refusal.case.gold_sql == []
    es = load_evalset(frozen)
    assert leakage(es.cases).total == 0 and new.leakage["total"] == 0
    assert frozen.read_text().startswith(text_before)  # appended: the file's comments and layout stay
    assert {c.id for c in es.cases} >= {done.case.id, new.case.id, sibling.case.id, refusal.case.id}
    assert fw.report().coverage > before
    with pytest.raises(InvalidInput, match="already in the eval set"):
        fw.accept(failing.candidate_id, gold_sql=STORES.format(c="EMEA"))
    states = {c.candidate_id: c.state for c in Flywheel(fw.store, fw.space, frozen).candidates()}
    assert states[failing.candidate_id] == "accepted"  # reviews live in the store


def test_the_copilots_accept_uses_train_only_and_bad_gold_is_refused(tmp_path, frozen, retail):
    fw = _flywheel(tmp_path, frozen, retail)
    c = _find(fw, "new customer signups in 2025")
    with pytest.raises(InvalidInput, match="does not run"):
        fw.accept(c.candidate_id, gold_sql="SELECT COUNT(*) FROM main.retail.no_such_table")
    with pytest.raises(Exception, match="read-only|single"):
        fw.accept(c.candidate_id, gold_sql="DELETE FROM main.retail.customers")
    done = fw.accept(c.candidate_id, gold_sql="SELECT COUNT(*) AS customers FROM main.retail.customers c WHERE YEAR(c.signup_dt) = 2025",
                     splits=("train",))
    assert done.split == "train"
    liked = _find(fw, "What was total net revenue in 2023?")
    assert len(liked.splits) == 1  # the frozen family lives in one split; a case of it may go nowhere else
    with pytest.raises(InvalidInput, match="cannot take it"):
        fw.accept(liked.candidate_id, splits=[s for s in ("train", "val", "test") if s not in liked.splits])


def test_rejected_candidates_stay_rejected(tmp_path, frozen, retail):
    fw = _flywheel(tmp_path, frozen, retail)
    c = _find(fw, "number of stores in APAC")
    fw.reject(c.candidate_id, note="duplicate of another", reviewer="ana")
    again = Flywheel(fw.store, fw.space, frozen)
    got = next(x for x in again.candidates() if x.candidate_id == c.candidate_id)
    assert got.state == "rejected" and got.review.note == "duplicate of another" and got.review.reviewer == "ana"
    with pytest.raises(InvalidInput, match="Did you mean"):
        again.find(c.candidate_id[:-1] + "x")


def test_jsonl_and_csv_eval_sets_gain_the_case_too(tmp_path, retail):
    space, evalset, engine = retail
    small = EvalSet(name="small", cases=[EvalCase(id="r1", question="What was total net revenue in 2023?",
                                                  gold_sql=[REVENUE.format(y=2023)], split="train")])
    for name in ("e.jsonl", "e.csv"):
        path = tmp_path / name
        save_evalset(small, path)
        store = Store(tmp_path / f"{name}.db")
        store.put_log_messages(SPACE_ID, [m.model_dump() for m in traffic()])
        fw = Flywheel(store, space, path)
        fw.accept(_find(fw, "How many stores do we have in EMEA?").candidate_id, gold_sql=STORES.format(c="EMEA"))
        assert [c.id for c in load_evalset(path).cases][0] == "r1" and len(load_evalset(path).cases) == 2


def test_the_bundled_evalset_is_never_written(tmp_path, retail):
    """Reading the bundled example is fine; the fixture's copy is what gets written."""
    space, _, _ = retail
    from chaos_llama.tools.evaluate import bundled_example

    with bundled_example("retail") as ex:
        original = ex.evalset.read_text()
        copy = tmp_path / "copy.yaml"
        shutil.copy(ex.evalset, copy)
    store = Store(tmp_path / "x.db")
    store.put_log_messages(SPACE_ID, [m.model_dump() for m in traffic()])
    Flywheel(store, space, copy).accept(_find(Flywheel(store, space, copy), "new customer signups in 2024").candidate_id,
                                        expect="refusal")
    with bundled_example("retail") as ex:
        assert ex.evalset.read_text() == original


# ---------------------------------------------------------------- review by an LLM judge of known alignment
def _labeled(store: Store, n: int, agree: int) -> None:
    """n labeled answers of answers_question, the judge agreeing with the person on `agree` of them."""
    from chaos_llama.tools.judges.base import Verdict
    from chaos_llama.tools.labels import record_label
    from chaos_llama.tools.store import QuestionResult, Run

    cases = [{"id": f"q{i}", "question": f"Labeled question {i}?", "gold_sql": [f"SELECT {i}"], "split": "train"} for i in range(n)]
    h = store.put_evalset(EvalSet.model_validate({"name": "labeled", "cases": cases}))
    store.create_run(Run(run_id="run-l", evalset_hash=h, space_version="v", backend="test", judges=["answers_question"]))
    for i in range(n):
        judge_says = i % 2 == 0
        store.record_case(QuestionResult(run_id="run-l", case_id=f"q{i}", status="COMPLETED", sql=f"SELECT {i}"),
                          [Verdict(judge="answers_question", value=judge_says, rationale="r")])
        record_label(store, "run-l", f"q{i}", "answers_question", judge_says if i < agree else not judge_says)


def test_an_aligned_llm_judge_reviews_regression_candidates(tmp_path, frozen, retail):
    """Only a judge whose agreement with people is known reviews; its approvals join the eval set,
    its rejections do not. Replies are recorded (keyed by judge and question), never a live LLM."""
    from chaos_llama.tools.judges.llm import judge_runtime
    from llm_judge_helpers import Replay, replay_model

    liked = [msg(1, "What was total net revenue in 2023?", sql=REVENUE.format(y=2023), rating="POSITIVE"),
             msg(2, "How many stores are in EMEA?", sql=WRONG, rating="POSITIVE")]
    fw = _flywheel(tmp_path, frozen, retail, liked)
    reply = {"choices": [{"message": {"role": "assistant", "content": ""}}], "usage": {"total_tokens": 50}, "model": "judge"}

    def answer(ok: bool, why: str) -> dict:
        return {**reply, "choices": [{"message": {"role": "assistant", "content": json.dumps({"result": ok, "rationale": why})}}]}

    replay = Replay({"answers_question|What was total net revenue in 2023?": answer(True, "net revenue of completed 2023 orders"),
                     "answers_question|How many stores are in EMEA?": answer(False, "counts orders, not stores")})
    with judge_runtime(store=fw.store, model=replay_model(replay)):
        with pytest.raises(InvalidInput, match="0 labeled answers"):
            fw.review_with_judge()
        _labeled(fw.store, 20, agree=11)  # kappa about 0.1: agreement barely beyond chance
        with pytest.raises(InvalidInput, match="kappa 0.1"):
            fw.review_with_judge()
        _labeled_store = Store(tmp_path / "aligned.db")
        _labeled_store.put_log_messages(SPACE_ID, [m.model_dump() for m in liked])
        _labeled(_labeled_store, 20, agree=20)
        aligned = Flywheel(_labeled_store, fw.space, frozen, backend=fw.backend)
    with judge_runtime(store=aligned.store, model=replay_model(replay)):
        reviewed = {c.question: c for c in aligned.review_with_judge()}
    assert reviewed["What was total net revenue in 2023?"].state == "approved"
    assert reviewed["How many stores are in EMEA?"].state == "rejected"
    assert reviewed["What was total net revenue in 2023?"].review.judge_kappa == pytest.approx(1.0)
    assert len(replay.requests) == 2
    done = aligned.accept_approved()
    assert [d.case.question for d in done] == ["What was total net revenue in 2023?"]
    assert "How many stores are in EMEA?" not in {c.question for c in load_evalset(frozen).cases}


# ---------------------------------------------------------------- clustering at scale

@settings(max_examples=300, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from("abcdefghij"), max_size=7), max_size=25),
       st.sampled_from([0.0, 0.3, 0.5, 0.75, 0.9, 1.0]) | st.floats(0.01, 1.0))
def test_prefix_filtered_pairs_are_exactly_all_similar_pairs(sets, threshold):
    """Family inference compares only questions sharing a rare word; it must find exactly the pairs
    comparing all of them finds, in the same order."""
    brute = [(i, j, similarity(sets[i], sets[j])) for i in range(len(sets)) for j in range(i + 1, len(sets))
             if similarity(sets[i], sets[j]) >= threshold]
    assert similar_pairs(sets, threshold) == brute
