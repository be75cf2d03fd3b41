"""Importing a Genie space's real traffic through the unmodified databricks-sdk against the emulator:
every user's conversations, messages, SQL, statuses, errors, feedback and comments; incremental,
resumable, through rate limits; and the emulator's own conversation, feedback and comment routes."""

from __future__ import annotations

import pytest
from databricks.sdk.service.dashboards import GenieFeedbackRating

from chaos_llama.examples.retail.traffic import START_MS, generate
from chaos_llama.tools.errors import BackendError
from chaos_llama.tools.logs import ImportSettings, Redaction, import_from_genie, stored_messages
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, backend, emulator, retail_example

DAY = 86_400_000


@pytest.fixture(scope="module")
def retail():
    return retail_example()


@pytest.fixture(scope="module")
def month(retail):
    """Thirty conversations of generated traffic on the curated space (about 40 messages)."""
    space, _, engine = retail
    return generate(space, engine, conversations=30, seed=3)


@pytest.fixture(scope="module")
def busy(retail):
    """A busier month (150 conversations) for the statistics of the generator."""
    space, _, engine = retail
    return generate(space, engine, conversations=150, seed=7)


def _late(month, days: int):
    """The same kind of traffic, `days` later (new conversation and message ids)."""
    out = []
    for c in month.conversations[:5]:
        msgs = [{**m, "message_id": m["message_id"][::-1], "conversation_id": c["conversation_id"][::-1],
                 "created_timestamp": m["created_timestamp"] + days * DAY} for m in c["messages"]]
        out.append({**c, "conversation_id": c["conversation_id"][::-1], "created_timestamp": c["created_timestamp"] + days * DAY,
                    "messages": msgs})
    return out


def test_import_reads_every_users_traffic_then_only_what_is_new(retail, month):
    """First import: everything. Again: nothing new (only the revisit window is re-read). New conversations
    and a thumbs-down given later through the SDK: exactly those."""
    with emulator(retail) as emu:
        emu.load_conversations(month.conversations)
        genie = backend(emu)
        store = Store(":memory:")
        first = import_from_genie(store, genie, emu.space_id)
        n = len(month.messages)
        assert (first.conversations_read, first.messages_new, first.messages_changed, first.complete) == (30, n, 0, True)
        assert first.rated == sum(1 for m in month.messages if m.get("feedback"))
        got = {m.message_id: m for m in stored_messages(store, emu.space_id)}
        for m in month.messages:  # SQL, status, rating and user as Genie served them
            rec = got[m["message_id"]]
            query = next((a["query"]["query"] for a in m.get("attachments", []) if "query" in a), None)
            assert (rec.sql, rec.rating, rec.user_id, rec.created_ms) == (query, (m.get("feedback") or {}).get("rating"), m["user_id"],
                                                                         m["created_timestamp"])
            assert rec.status == ("NO_SQL" if m["status"] == "COMPLETED" and not query else m["status"])
        assert len({m.user_id for m in got.values()}) > 3  # include_all: every user's, not the caller's

        again = import_from_genie(store, genie, emu.space_id, ImportSettings(revisit_days=2))
        assert (again.messages_new, again.messages_changed) == (0, 0)
        assert again.conversations_read < 30 and again.cursor_ms == first.cursor_ms

        emu.load_conversations(_late(month, 40))
        newest = max(emu.conversations.values(), key=lambda c: c.created)
        mid = next(m for m in emu.messages.values() if m.conversation_id == newest.conversation_id).message_id
        genie.client.genie.send_message_feedback(emu.space_id, newest.conversation_id, mid, GenieFeedbackRating.NEGATIVE,
                                                 comment="wrong year, ask ops@shop.example")
        late = import_from_genie(store, genie, emu.space_id, ImportSettings(revisit_days=2))
        added = sum(len(c["messages"]) for c in _late(month, 40))
        assert late.messages_new == added and late.messages_changed == 0
        rec = next(m for m in stored_messages(store, emu.space_id) if m.message_id == mid)
        assert rec.rating == "NEGATIVE" and rec.comments == ["wrong year, ask [email]"]  # the comment, read and redacted
        assert late.cursor_ms > first.cursor_ms
        # the user changes their mind on a message already imported (in the revisit window): changed, not new
        genie.client.genie.send_message_feedback(emu.space_id, newest.conversation_id, mid, GenieFeedbackRating.POSITIVE)
        changed = import_from_genie(store, genie, emu.space_id, ImportSettings(revisit_days=2))
        assert (changed.messages_new, changed.messages_changed) == (0, 1)
        assert next(m for m in stored_messages(store, emu.space_id) if m.message_id == mid).rating == "POSITIVE"


def test_a_killed_import_resumes_where_it_stopped(retail, month):
    """`max_conversations` stops a pass like a kill would; the next import finishes it without re-reading."""
    with emulator(retail) as emu:
        emu.load_conversations(month.conversations)
        genie = backend(emu)
        store = Store(":memory:")
        part = import_from_genie(store, genie, emu.space_id, ImportSettings(max_conversations=12))
        assert (part.conversations_read, part.complete, part.resumed) == (12, False, False)
        polls = emu.stats["route_list_messages"]
        rest = import_from_genie(store, genie, emu.space_id)
        assert rest.resumed and rest.complete and rest.conversations_skipped == 12 and rest.conversations_read == 18
        assert emu.stats["route_list_messages"] - polls == 18  # no conversation read twice
        assert part.messages_new + rest.messages_new == len(month.messages)


def test_rate_limits_and_transient_errors_are_waited_out(retail, month):
    """429 (with Retry-After), 503 and 500 on the listing routes: retried, the import completes."""
    with emulator(retail, fault_rate=0.3, faults=("429", "503", "500"), retry_after_s=0,
                  fault_routes=("list_conversations", "list_messages", "list_message_comments")) as emu:
        emu.load_conversations(month.conversations)
        store = Store(":memory:")
        done = import_from_genie(store, backend(emu), emu.space_id, ImportSettings(calls_per_minute=6000))
        assert done.complete and done.messages_new == len(month.messages)
        assert sum(emu.stats[f"fault_{k}"] for k in ("429", "503", "500")) > 0


def test_every_users_traffic_needs_can_manage(retail, month):
    with emulator(retail) as emu:
        emu.load_conversations(month.conversations)
        emu.add_user("dapi-viewer-0123456789", user_id=month.messages[0]["user_id"])
        viewer = backend(emu, token="dapi-viewer-0123456789")
        with pytest.raises(BackendError, match="CAN MANAGE"):
            import_from_genie(Store(":memory:"), viewer, emu.space_id)
        own = import_from_genie(Store(":memory:"), viewer, emu.space_id, ImportSettings(include_all=False))
        assert 0 < own.messages_new < len(month.messages)


def test_question_text_is_redacted_on_the_way_in(retail, month):
    with emulator(retail) as emu:
        emu.load_conversations(month.conversations)
        store = Store(":memory:")
        import_from_genie(store, backend(emu), emu.space_id, ImportSettings(redaction=Redaction(mode="all")))
        stored = stored_messages(store, emu.space_id)
        assert stored and all(m.question.startswith("[redacted ") for m in stored)
        texts = {m["content"] for m in month.messages}
        assert not any(t in repr(store.log_messages(emu.space_id)) for t in texts)


def test_emulator_comments_and_feedback_through_the_sdk(retail):
    """Live questions, feedback with a comment and message comments: as Genie serves them."""
    with emulator(retail) as emu:
        w = backend(emu).client
        started = w.genie.start_conversation_and_wait(emu.space_id, "What was total net revenue in 2024?")
        conv, mid = started.conversation_id, started.message_id
        w.genie.send_message_feedback(emu.space_id, conv, mid, GenieFeedbackRating.POSITIVE, comment="matches finance")
        w.genie.create_message_comment(emu.space_id, conv, mid, "shared with the team")
        comments = w.genie.list_message_comments(emu.space_id, conv, mid).comments
        assert [c.content for c in comments] == ["matches finance", "shared with the team"]
        assert [c.content for c in w.genie.list_conversation_comments(emu.space_id, conv).comments] == ["matches finance",
                                                                                                      "shared with the team"]
        msg = w.genie.list_conversation_messages(emu.space_id, conv).messages[0]
        assert msg.feedback.rating == GenieFeedbackRating.POSITIVE and msg.feedback.comment == "matches finance"
        store = Store(":memory:")
        import_from_genie(store, backend(emu), emu.space_id)
        rec = stored_messages(store, emu.space_id)[0]
        assert rec.sql and rec.rating == "POSITIVE" and rec.comments == ["matches finance", "shared with the team"]
        assert TOKEN not in repr(rec)


def test_generated_traffic_is_deterministic_and_realistic(retail, month, busy):
    """Same seed, same month; repeats, typos, out-of-domain questions, ratings that follow correctness."""
    space, _, engine = retail
    again = generate(space, engine, conversations=30, seed=3)
    assert again.conversations == month.conversations
    assert generate(space, engine, conversations=30, seed=4).conversations != month.conversations
    big = busy
    msgs = big.messages
    texts = [m["content"] for m in msgs]
    assert len(set(texts)) < 0.8 * len(texts)  # repeats
    truth = [big.truth[m["message_id"]] for m in msgs]
    assert 0.03 < sum(t.template is None for t in truth) / len(msgs) < 0.2  # out of domain
    assert 0.03 < sum(t.typo for t in truth) / len(msgs) < 0.3  # typos
    # ratings follow correctness: right answers get more thumbs-up, answers that are not right (wrong or refused) more thumbs-down
    rated = [(t.outcome == "right", (m.get("feedback") or {}).get("rating")) for t, m in zip(truth, msgs) if t.template]
    assert {ok for ok, _ in rated} == {True, False}
    up = {ok: sum(r == "POSITIVE" for o, r in rated if o == ok) / sum(o == ok for o, _ in rated) for ok in (True, False)}
    down = {ok: sum(r == "NEGATIVE" for o, r in rated if o == ok) / sum(o == ok for o, _ in rated) for ok in (True, False)}
    assert up[True] > up[False] and down[False] > down[True]
    assert all(m["created_timestamp"] >= START_MS for m in msgs)
    assert {t.outcome for t in truth} >= {"right", "refused"}


def test_generated_traffic_never_asks_the_unseen_eval_set(busy):
    """The never-tuned eval set stays unseen: no generated question is one of its questions."""
    from chaos_llama.tools.evalset import load_evalset
    from chaos_llama.tools.evaluate import bundled_example

    with bundled_example("retail") as ex:
        unseen = {c.question.strip().lower().rstrip("?") for c in load_evalset(ex.root / "evalset_unseen.yaml").cases}
    asked = {m["content"].strip().lower().rstrip("?") for m in busy.messages}
    assert not asked & unseen
