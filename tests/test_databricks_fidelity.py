"""Real Genie fidelity, through the unmodified databricks-sdk against the emulator: timeouts count
only Genie's answering time, Retry-After holds for queued starts, retryable Genie error types are
retried, every message status, long hangs and writes whose response is lost are survived, a
missing etag never makes an update unconditional, and the API surface a data flywheel needs
(create/trash space, conversations, messages, feedback) behaves like Genie's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from chaos_llama.tools.backends.databricks import IN_PROGRESS, RETRYABLE_ERROR_TYPES, TERMINAL, _RateSpacer
from chaos_llama.tools.emulator import PROGRESS
from chaos_llama.tools.errors import ApplyConflict, BackendError
from chaos_llama.tools.runner import RunSettings, run_eval
from chaos_llama.tools.space.io import space_hash, space_to_api_dict
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, backend, emulator, retail_example, with_instruction


@pytest.fixture(scope="module")
def retail():
    return retail_example()


def _subset(evalset, n: int):
    return evalset.model_copy(update={"name": f"{evalset.name}-{n}", "cases": evalset.cases[:n]})


def _sdk(emu, token: str = TOKEN):
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=emu.url, token=token)


# ---------------------------------------------------------------- timeouts and latency
async def test_queued_and_settling_questions_never_time_out_and_latency_is_genie_time(retail, tmp_path):
    """A push (settle wait) and a start queue far longer than the runner's timeout: every question
    is answered, none times out, and each recorded latency is Genie's answering time only,
    shorter than the time the question spent waiting for its turn."""
    space, evalset, _ = retail
    es = _subset(evalset, 6)
    with emulator(retail, latency=(0.0, 0.05)) as emu:
        b = backend(emu, warehouse_id=emu.warehouse_id, rate_per_minute=120, settle_s=1.0)  # starts 0.5 s apart
        changed = with_instruction(b.get_space().space, "Revenue means net revenue.")
        began = time.time()
        result = await run_eval(es, b, changed, RunSettings(judges=[], use_cache=False, concurrency=6, timeout_s=0.2, retries=0), store=Store(tmp_path / "chaos.db"))
        created = {m.content: m.created for m in emu.messages.values()}
        assert emu.stats["updates"] == 1  # the version was pushed, so its settle wait came first
    assert result.counts == {"COMPLETED": 6} or set(result.counts) <= {"COMPLETED", "NO_SQL"}
    waited = {r.question: created[r.question] - began for r in result.rows}
    assert max(waited.values()) > 3 * 0.2  # the queue really was longer than the timeout
    for r in result.rows:
        if waited[r.question] > 1.5:
            assert r.latency_s < waited[r.question], r  # latency excludes the queue and settle time


async def test_a_question_hanging_past_the_deadline_is_retried_then_recorded_as_timeout(retail, tmp_path):
    """Genie never finishing: the backend's own deadline (from the accepted start) ends the question
    as TIMEOUT; the runner asks again within `retries`; the row is a backend error, not wrong."""
    space, evalset, _ = retail
    es = _subset(evalset, 2)
    with emulator(retail) as emu:
        emu.force(es.cases[1].question, "NEVER")
        b = backend(emu, warehouse_id=emu.warehouse_id, question_timeout_s=0.3)
        result = await run_eval(es, b, b.get_space().space, RunSettings(use_cache=False, judges=["execution"], retries=1, timeout_s=0.01), store=Store(tmp_path / "chaos.db"))
        asked = [m.content for m in emu.messages.values()]
    rows = {r.case_id: r for r in result.rows}
    hung = rows[es.cases[1].id]
    assert hung.status == "TIMEOUT" and hung.attempts == 2 and asked.count(es.cases[1].question) == 2
    assert hung.correct is None and "gave up after 2 tries" in hung.error
    assert rows[es.cases[0].id].status in ("COMPLETED", "NO_SQL")


# ---------------------------------------------------------------- Retry-After
async def test_a_pause_set_while_a_start_waits_its_turn_is_waited_out():
    """The spacer re-checks before a start goes out: a Retry-After received while the start slept
    for its slot delays it to the end of that pause (fake clock, no real waiting)."""
    now = [0.0]
    spacer = None

    async def sleep(seconds: float) -> None:
        if now[0] == 0.0:
            spacer.pause(5.0)  # another question's 429 arrives while this one waits its turn
        now[0] += seconds

    spacer = _RateSpacer(60, clock=lambda: now[0], sleep=sleep)
    spacer.next_at = 1.0  # the previous start's slot
    await spacer.acquire()
    assert now[0] == pytest.approx(5.0)  # not 1.0: the pause set meanwhile was honoured
    assert spacer.next_at == pytest.approx(6.0)


async def test_every_start_waits_out_retry_after(retail, tmp_path):
    """With 30% of starts answered 429/503 carrying Retry-After, no start reaches Genie while a
    Retry-After it sent is in force (the emulator counts such early starts), and every question
    is still answered."""
    space, evalset, _ = retail
    es = _subset(evalset, 10)
    with emulator(retail, fault_rate=0.3, faults=["429", "503"], fault_routes=["start_conversation"], retry_after_s=1,
                  seed=3) as emu:
        b = backend(emu, warehouse_id=emu.warehouse_id, rate_per_minute=600)
        result = await run_eval(es, b, b.get_space().space, RunSettings(judges=[], use_cache=False, concurrency=4, retries=10, timeout_s=30), store=Store(tmp_path / "chaos.db"))
        stats = dict(emu.stats)
    assert stats["fault_429"] + stats["fault_503"] >= 3  # the pauses really happened
    assert stats.get("early_starts", 0) == 0
    assert set(result.counts) <= {"COMPLETED", "NO_SQL"}


# ---------------------------------------------------------------- Genie error types and statuses
@pytest.mark.parametrize("error_type", ["RETRYABLE_PROCESSING_EXCEPTION", "RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION",
                                        "CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION"])
async def test_retryable_genie_error_types_are_retried_not_scored(retail, tmp_path, error_type):
    """A message FAILED with a retryable type is asked again with backoff; still failing, it is a
    recorded ERROR (a backend error), never a wrong answer."""
    assert error_type in RETRYABLE_ERROR_TYPES
    space, evalset, _ = retail
    es = _subset(evalset, 1)
    with emulator(retail) as emu:
        emu.force(es.cases[0].question, "FAILED", error_type=error_type)
        b = backend(emu, warehouse_id=emu.warehouse_id, rate_limit_pause_s=0)
        result = await run_eval(es, b, b.get_space().space, RunSettings(judges=["execution"], use_cache=False, retries=2, backoff_base=0.01), store=Store(tmp_path / "chaos.db"))
        asked = emu.stats["conversations"]
    row = result.rows[0]
    assert asked == 3 and row.attempts == 3 and result.backend_calls == 3
    assert row.status == "ERROR" and error_type in row.error and "gave up after 3 tries" in row.error and row.correct is None


async def test_fatal_genie_error_types_are_recorded_once(retail):
    space, evalset, _ = retail
    with emulator(retail) as emu:
        emu.force(evalset.cases[0].question, "FAILED", error_type="SQL_EXECUTION_EXCEPTION")
        b = backend(emu)
        ans = await b.ask(b.get_space().space, evalset.cases[0].question)
        assert ans.status == "FAILED" and ans.details["error_type"] == "SQL_EXECUTION_EXCEPTION"
        assert emu.stats["conversations"] == 1


async def test_injected_retryable_failures_end_answered(retail, tmp_path):
    """`failed_retryable` faults on half the starts: with retries every question ends answered."""
    space, evalset, _ = retail
    es = _subset(evalset, 8)
    with emulator(retail, fault_rate=0.5, faults=["failed_retryable"], seed=3) as emu:
        b = backend(emu, warehouse_id=emu.warehouse_id, rate_limit_pause_s=0)
        result = await run_eval(es, b, b.get_space().space, RunSettings(judges=[], use_cache=False, retries=8, backoff_base=0.01), store=Store(tmp_path / "chaos.db"))
        failed = emu.stats["fault_failed_retryable"]
    assert failed >= 2 and set(result.counts) <= {"COMPLETED", "NO_SQL"}
    assert result.backend_calls == len(es.cases) + failed


@pytest.mark.parametrize("status", PROGRESS)
async def test_every_in_progress_status_is_polled_through(retail, status):
    """Each non-terminal Genie status (FILTERING_CONTEXT and PENDING_WAREHOUSE included) keeps the
    backend polling until its deadline; the answer names the status it was stuck in."""
    assert status in IN_PROGRESS
    space, evalset, _ = retail
    q = evalset.cases[0].question
    with emulator(retail) as emu:
        emu.force(q, status)
        b = backend(emu, question_timeout_s=0.2)
        ans = await b.ask(b.get_space().space, q)
    assert ans.status == "TIMEOUT" and f"last status {status}" in ans.reason and ans.details["statuses"] == [status]


async def test_a_message_goes_through_genie_statuses_to_a_terminal_one(retail):
    space, evalset, _ = retail
    with emulator(retail, latency=(0.3, 0.3)) as emu:
        b = backend(emu, poll_initial_s=0.01, poll_max_s=0.01)
        ans = await b.ask(b.get_space().space, evalset.cases[0].question)
    seen = ans.details["statuses"]
    assert seen[-1] in TERMINAL and len(seen) >= 3 and set(seen[:-1]) <= set(IN_PROGRESS)
    assert [s for s in IN_PROGRESS if s in seen] == seen[:-1]  # in Genie's order


# ---------------------------------------------------------------- hangs and lost responses
async def test_a_poll_hanging_past_the_http_timeout_is_retried_within_the_deadline(retail):
    space, evalset, _ = retail
    with emulator(retail, fault_rate=0.5, faults=["hang"], fault_routes=["get_message"], hang_s=3, seed=1) as emu:
        b = backend(emu, http_timeout_s=1, question_timeout_s=20)
        ans = await b.ask(b.get_space().space, evalset.cases[0].question)
        hangs = emu.stats["fault_hang"]
    assert hangs >= 1 and ans.status in ("COMPLETED", "NO_SQL")


async def test_a_start_hanging_past_the_http_timeout_is_a_retryable_error(retail):
    space, evalset, _ = retail
    with emulator(retail, fault_rate=1.0, faults=["hang"], fault_routes=["start_conversation"], hang_s=3) as emu:
        b = backend(emu, http_timeout_s=1)
        with pytest.raises(BackendError) as info:
            await b.ask(b.get_space().space, evalset.cases[0].question)
    assert info.value.retryable


async def test_a_start_that_landed_before_its_connection_dropped_is_not_asked_twice(retail):
    """write_drop on the start: Genie created the conversation but the response was lost; the
    backend finds it among the caller's conversations and waits for its answer."""
    space, evalset, _ = retail
    q = evalset.cases[0].question
    with emulator(retail, fault_rate=1.0, faults=["write_drop"], fault_routes=["start_conversation"]) as emu:
        b = backend(emu)
        ans = await b.ask(b.get_space().space, q)
        assert emu.stats["fault_write_drop"] == 1 and emu.stats["conversations"] == 1
        assert ans.status in ("COMPLETED", "NO_SQL") and ans.details["conversation_id"] in emu.conversations


def test_an_update_that_landed_before_its_connection_dropped_is_recognized(retail, tmp_path):
    """write_drop on the update: the retry meets a stale etag, the backend sees Genie already holds
    this version and carries on with the new etag."""
    with emulator(retail, fault_rate=1.0, faults=["write_drop"], fault_routes=["update_space"]) as emu:
        b = backend(emu, store=Store(tmp_path / "chaos.db"))
        snap = b.get_space()
        changed = with_instruction(snap.space, "Landed before the drop.")
        pushed = b.update_space(changed, snap.etag)
        assert space_hash(emu.space) == space_hash(changed) and emu.stats["updates"] == 1
        assert pushed.etag == emu.spaces[emu.space_id].etag


# ---------------------------------------------------------------- the etag guard
def test_a_missing_etag_in_an_update_response_is_read_again(retail):
    with emulator(retail, fault_rate=1.0, faults=["no_etag"], fault_routes=["update_space"]) as emu:
        b = backend(emu)
        snap = b.get_space()
        first = b.update_space(with_instruction(snap.space, "one"))
        assert emu.stats["fault_no_etag"] == 1 and first.etag == emu.spaces[emu.space_id].etag
        emu.edit_space(with_instruction(snap.space, "someone else"))
        with pytest.raises(ApplyConflict, match="changed by someone else"):  # still guarded
            b.update_space(with_instruction(snap.space, "two"))


def test_without_a_readable_etag_the_push_is_refused(retail, monkeypatch):
    """If the etag cannot be re-read (the space changed again, or the GET failed), the next update
    is refused before anything is sent rather than sent unconditionally."""
    with emulator(retail, fault_rate=1.0, faults=["no_etag"], fault_routes=["update_space"]) as emu:
        b = backend(emu)
        snap = b.get_space()
        monkeypatch.setattr(b, "_current_if_same", lambda space: None)
        b.update_space(with_instruction(snap.space, "one"))
        sent = emu.stats["route_update_space"]
        with pytest.raises(ApplyConflict, match="no etag guards"):
            b.update_space(with_instruction(snap.space, "two"))
        assert emu.stats["route_update_space"] == sent
        monkeypatch.undo()
        b.deploy(with_instruction(snap.space, "two"))  # deploy reads the space again, then pushes guarded
        assert emu.stats["route_update_space"] == sent + 1


def test_conflict_message_speaks_to_command_line_users(retail):
    with emulator(retail) as emu:
        b = backend(emu)
        snap = b.get_space()
        emu.edit_space(with_instruction(snap.space, "theirs"))
        with pytest.raises(ApplyConflict) as info:
            b.update_space(with_instruction(snap.space, "ours"), snap.etag)
    assert "get_space" not in str(info.value) and "re-run the command" in str(info.value)


def test_get_space_carries_the_etag_only_with_the_serialized_space(retail):
    with emulator(retail) as emu:
        w = _sdk(emu)
        assert w.genie.get_space(emu.space_id).etag is None
        assert w.genie.get_space(emu.space_id, include_serialized_space=True).etag == emu.spaces[emu.space_id].etag


# ---------------------------------------------------------------- spaces, conversations, feedback
def test_create_and_trash_a_space(retail):
    space, _, _ = retail
    with emulator(retail) as emu:
        w = _sdk(emu)
        body = space_to_api_dict(space)
        created = w.genie.create_space(emu.warehouse_id, body["serialized_space"], title="Copy of retail",
                                       description="a copy")
        assert created.space_id != emu.space_id and created.title == "Copy of retail" and created.etag
        got = w.genie.get_space(created.space_id, include_serialized_space=True)
        assert got.serialized_space and got.warehouse_id == emu.warehouse_id
        assert {s.space_id for s in w.genie.list_spaces().spaces} == {emu.space_id, created.space_id}
        w.genie.trash_space(created.space_id)
        from databricks.sdk.errors import NotFound

        with pytest.raises(NotFound, match="trash"):
            w.genie.get_space(created.space_id)
        assert [s.space_id for s in w.genie.list_spaces().spaces] == [emu.space_id]
        with pytest.raises(Exception, match="serialized_space"):
            w.genie.create_space(emu.warehouse_id, "")


def test_conversations_messages_and_feedback_as_genie_lists_them(retail):
    """Each user lists their own conversations (most recent activity first); a manager lists
    everyone's with include_all (newest created first), which a CAN RUN user may not; messages
    carry the feedback given to them."""
    from databricks.sdk.errors import PermissionDenied
    from databricks.sdk.service.dashboards import GenieFeedbackRating

    space, evalset, _ = retail
    q1, q2, q3 = (c.question for c in evalset.cases[:3])
    with emulator(retail) as emu:
        emu.add_user("dapi-analyst-0123456789", user_id=7)
        manager, analyst = _sdk(emu), _sdk(emu, "dapi-analyst-0123456789")
        a = manager.genie.start_conversation(emu.space_id, q1).response
        b = analyst.genie.start_conversation(emu.space_id, q2).response
        c = manager.genie.start_conversation(emu.space_id, q3).response
        manager.genie.create_message(emu.space_id, a.conversation_id, "And by month?")  # a is now the most recent

        own = manager.genie.list_conversations(emu.space_id)
        assert [x.conversation_id for x in own.conversations] == [a.conversation_id, c.conversation_id]
        assert own.conversations[0].title == q1[:255] and own.conversations[0].created_timestamp
        everyone = manager.genie.list_conversations(emu.space_id, include_all=True)
        assert [x.conversation_id for x in everyone.conversations] == [c.conversation_id, b.conversation_id, a.conversation_id]
        paged = manager.genie.list_conversations(emu.space_id, include_all=True, page_size=2)
        assert len(paged.conversations) == 2 and paged.next_page_token
        rest = manager.genie.list_conversations(emu.space_id, include_all=True, page_size=2, page_token=paged.next_page_token)
        assert [x.conversation_id for x in rest.conversations] == [a.conversation_id] and not rest.next_page_token
        assert [x.conversation_id for x in analyst.genie.list_conversations(emu.space_id).conversations] == [b.conversation_id]
        with pytest.raises(PermissionDenied, match="CAN MANAGE"):
            analyst.genie.list_conversations(emu.space_id, include_all=True)

        analyst.genie.send_message_feedback(emu.space_id, b.conversation_id, b.message_id, GenieFeedbackRating.NEGATIVE,
                                            comment="wrong region")
        msgs = manager.genie.list_conversation_messages(emu.space_id, b.conversation_id)  # a manager reads anyone's
        assert [m.content for m in msgs.messages] == [q2] and msgs.messages[0].user_id == 7
        assert msgs.messages[0].feedback.rating == GenieFeedbackRating.NEGATIVE and msgs.messages[0].feedback.comment == "wrong region"
        assert [m.content for m in manager.genie.list_conversation_messages(emu.space_id, a.conversation_id).messages] == [
            q1, "And by month?"]
        with pytest.raises(PermissionDenied):
            analyst.genie.list_conversation_messages(emu.space_id, a.conversation_id)
        got = manager.genie.get_message(emu.space_id, b.conversation_id, b.message_id)
        assert got.feedback.rating == GenieFeedbackRating.NEGATIVE
        from databricks.sdk.errors import BadRequest

        with pytest.raises(BadRequest, match="rating"):
            manager.api_client.do("POST", f"/api/2.0/genie/spaces/{emu.space_id}/conversations/{a.conversation_id}"
                                          f"/messages/{a.message_id}/feedback", body={"rating": "GREAT"})
        assert emu.stats["feedback"] == 1


# ---------------------------------------------------------------- unreachable hosts
def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("host", [f"http://127.0.0.1:{_closed_port()}", "https://chaos-llama-test.invalid"],
                         ids=["closed-port", "unresolvable"])
def test_an_unreachable_host_fails_fast_with_a_clear_error(tmp_path, host):
    """`chaos-llama eval` against a host nothing answers on exits 1 naming the host and the cause,
    without the SDK's minutes of retries (generous subprocess timeout; no timing assertion)."""
    env = {**os.environ, "DATABRICKS_TOKEN": TOKEN}
    env.pop("DATABRICKS_CONFIG_PROFILE", None)
    proc = subprocess.run([sys.executable, "-m", "chaos_llama.tools.cli", "eval", "--backend", "databricks",
                           "--space-id", "01ef0000000000000000000000000000", "--host", host,
                           "--workspace", str(tmp_path / "ws")], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "cannot reach the Databricks host" in proc.stderr and host.split("://")[1] in proc.stderr
    assert "does not resolve" in proc.stderr or "refused" in proc.stderr
