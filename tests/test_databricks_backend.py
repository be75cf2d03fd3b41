"""The Databricks backend driven through the unmodified databricks-sdk against the Genie emulator
on 127.0.0.1: space get/update with etags, every terminal message status, result fallbacks, gold
SQL through the Statement Execution API, rate limits, auth, and secrets staying secret."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from chaos_llama.tools.errors import ApplyConflict, BackendError, SQLExecutionError, UnsafeSQL
from chaos_llama.tools.space.io import space_hash
from chaos_llama.tools.space.model import TextInstruction
from chaos_llama.tools.store import Store
from databricks_helpers import TOKEN, backend, emulator, retail_example, with_instruction


@pytest.fixture(scope="module")
def retail():
    return retail_example()


def test_get_update_round_trip_keeps_every_version(retail, tmp_path):
    """A pulled space equals the served one; an update with its etag lands, returns a new etag, and
    both versions are kept in the store."""
    store = Store(tmp_path / "chaos.db")
    with emulator(retail) as emu:
        b = backend(emu, store=store)
        snap = b.get_space()
        assert space_hash(snap.space) == space_hash(emu.space)
        assert snap.etag == emu.spaces[emu.space_id].etag and snap.space.space_id == emu.space_id
        changed = with_instruction(snap.space, "Revenue always means net revenue after discounts.")
        pushed = b.update_space(changed, snap.etag)
        assert pushed.etag and pushed.etag != snap.etag
        assert space_hash(emu.space) == space_hash(changed)
        again = b.get_space()
        assert space_hash(again.space) == space_hash(changed) and again.etag == pushed.etag
    messages = [v.message for v in store.list_space_versions(emu.space_id)]
    assert any(m.startswith("pulled") for m in messages) and any(m.startswith("pushed") for m in messages)
    assert {v.version_id for v in store.list_space_versions(emu.space_id)} == {space_hash(snap.space), space_hash(changed)}


def test_concurrent_edit_is_refused_and_the_change_kept(retail, tmp_path):
    """An edit between get and update: ApplyConflict, the other edit survives, ours is in the store."""
    store = Store(tmp_path / "chaos.db")
    with emulator(retail) as emu:
        b = backend(emu, store=store)
        snap = b.get_space()
        theirs = with_instruction(snap.space, "Someone else's instruction.")
        emu.edit_space(theirs)
        ours = with_instruction(snap.space, "Our instruction.")
        with pytest.raises(ApplyConflict, match="nothing was overwritten") as info:
            b.update_space(ours, snap.etag)
        assert space_hash(emu.space) == space_hash(theirs)  # not overwritten
        assert info.value.space is ours
        kept = store.get_space_version(info.value.version_id)
        assert kept.message.startswith("NOT APPLIED") and space_hash(kept.space) == space_hash(ours)
        assert emu.stats["etag_conflicts"] == 1


def test_injected_etag_fault_is_a_conflict(retail):
    with emulator(retail, fault_rate=1.0, faults=["etag"]) as emu:
        b = backend(emu)
        snap = b.get_space()
        with pytest.raises(ApplyConflict):
            b.update_space(with_instruction(snap.space, "x"), snap.etag)


def test_update_validates_before_sending(retail):
    from chaos_llama.tools.errors import InvalidSpace

    with emulator(retail) as emu:
        b = backend(emu)
        snap = b.get_space()
        bad = snap.space.model_copy(deep=True)
        bad.serialized.instructions.text_instructions.append(TextInstruction(id="not-hex", content=["x"]))
        with pytest.raises(InvalidSpace):
            b.update_space(bad, snap.etag)
        assert emu.stats["route_update_space"] == 0


def test_list_spaces(retail):
    with emulator(retail) as emu:
        spaces = backend(emu).list_spaces()
    assert [(s.space_id, s.title) for s in spaces] == [(emu.space_id, emu.space.title)]


# ---------------------------------------------------------------- asking
@pytest.mark.parametrize(
    "forced, status",
    [("COMPLETED", "COMPLETED"), ("FAILED", "FAILED"), ("CANCELLED", "CANCELLED"), ("NO_SQL", "NO_SQL"),
     ("NO_STATEMENT_ID", "COMPLETED"), ("NEVER", "TIMEOUT")],
)
async def test_every_terminal_status_maps_to_an_answer(retail, forced, status):
    space, evalset, engine = retail
    question = evalset.cases[0].question
    with emulator(retail) as emu:
        emu.force(question, forced)
        b = backend(emu, question_timeout_s=0.5 if forced == "NEVER" else 30)
        answer = await b.ask(space, question)
    assert answer.status == status
    assert answer.details["conversation_id"] and answer.details["message_id"]
    if status == "COMPLETED":
        local = engine.ask_sync(space, question)
        assert answer.sql == local.sql
        assert answer.result.column_names == local.result.column_names
        assert answer.row_count == local.result.num_rows
        assert all(pa.types.is_string(t) for t in answer.result.schema.types)  # Genie returns strings
        source = "attachment" if forced == "NO_STATEMENT_ID" else "statement"
        assert answer.details["result_source"] == source
    if status == "FAILED":
        assert answer.error and "Injected" in answer.error
    if status == "NO_SQL":
        assert answer.sql is None and answer.reason
    if status == "TIMEOUT":
        assert "ASKING_AI" in answer.reason


@pytest.mark.parametrize("rerun", [False, True])
async def test_query_result_expired(retail, rerun):
    space, evalset, _ = retail
    question = evalset.cases[1].question
    with emulator(retail) as emu:
        emu.force(question, "QUERY_RESULT_EXPIRED")
        answer = await backend(emu, rerun_expired=rerun).ask(space, question)
    if rerun:
        assert answer.status == "COMPLETED" and answer.details["rerun"] is True and answer.result.num_rows > 0
    else:
        assert answer.status == "QUERY_RESULT_EXPIRED" and answer.sql and answer.result is None


async def test_injected_message_failure(retail):
    space, evalset, _ = retail
    with emulator(retail, fault_rate=1.0, faults=["failed"]) as emu:
        answer = await backend(emu).ask(space, evalset.cases[0].question)
    assert answer.status == "FAILED" and "Injected" in answer.error


async def test_results_are_read_across_chunks(retail):
    """A multi-row answer read in 2-row chunks equals the engine's result, as strings."""
    space, evalset, engine = retail
    case = next(c for c in evalset.cases if (r := engine.ask_sync(space, c.question)).result is not None and r.result.num_rows >= 5)
    with emulator(retail, chunk_rows=2) as emu:
        answer = await backend(emu).ask(space, case.question)
    local = engine.ask_sync(space, case.question).result
    expected = pa.table({n: pc.cast(local[n], pa.string()) for n in local.column_names})
    assert answer.result.equals(expected)


async def test_question_start_errors_are_retryable_with_retry_after(retail):
    """Genie's per-minute limit answers 429; the backend reports it retryable with Retry-After."""
    space, evalset, _ = retail
    with emulator(retail, rate_per_minute=2) as emu:
        b = backend(emu)
        for case in evalset.cases[:2]:
            assert (await b.ask(space, case.question)).status == "COMPLETED"
        with pytest.raises(BackendError) as info:
            await b.ask(space, evalset.cases[2].question)
    assert info.value.retryable and info.value.retry_after >= 1
    assert "429" in str(info.value)
    assert emu.stats["rate_limited"] == 1 and emu.stats["conversations"] == 2


@pytest.mark.parametrize("fault", ["500", "503", "drop"])
async def test_transient_start_failures_are_retryable(retail, fault):
    space, evalset, _ = retail
    with emulator(retail, fault_rate=1.0, faults=[fault]) as emu:
        with pytest.raises(BackendError) as info:
            await backend(emu).ask(space, evalset.cases[0].question)
    assert info.value.retryable
    assert emu.stats["route_start_conversation"] == 1  # the SDK did not retry behind our back


async def test_asking_a_space_that_is_not_deployed_is_refused(retail):
    space, evalset, _ = retail
    with emulator(retail) as emu:
        b = backend(emu)
        b.get_space()
        with pytest.raises(BackendError, match="not the version deployed") as info:
            await b.ask(with_instruction(space, "local only"), evalset.cases[0].question)
    assert not info.value.retryable and emu.stats["conversations"] == 0


# ---------------------------------------------------------------- gold SQL
def test_gold_sql_through_statement_execution(retail):
    space, evalset, engine = retail
    gold = next(c.gold_sql[0] for c in evalset.cases if engine.execute(c.gold_sql[0], space=space).num_rows >= 3)
    with emulator(retail, chunk_rows=2) as emu:
        b = backend(emu, warehouse_id=emu.warehouse_id)
        table = b.execute(gold)
        limited = b.execute(gold, max_rows=2)
        with pytest.raises(UnsafeSQL):
            b.execute("DELETE FROM main.retail.orders")
        with pytest.raises(SQLExecutionError):
            b.execute("SELECT no_such_column FROM main.retail.orders")
        statements = emu.stats["statements"]
    local = engine.execute(gold, space=space)
    assert table.column_names == local.column_names and table.num_rows == local.num_rows
    assert table.column(0).to_pylist() == pc.cast(local.column(0), pa.string()).to_pylist()
    assert limited.num_rows == 2
    assert statements == 3  # the DELETE never left the process


def test_gold_sql_needs_a_warehouse(retail):
    from chaos_llama.tools.errors import InvalidConfig

    with emulator(retail) as emu:
        with pytest.raises(InvalidConfig, match="warehouse"):
            backend(emu).execute("SELECT 1")


# ---------------------------------------------------------------- auth and secrets
def test_requests_without_a_token_are_rejected(retail):
    with emulator(retail) as emu:
        url = f"{emu.url}/api/2.0/genie/spaces"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url, timeout=10)
        req = urllib.request.Request(url, headers={"Authorization": "Bearer wrong"})
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(req, timeout=10)
    assert missing.value.code == 401 and wrong.value.code == 403


def test_wrong_token_is_a_clear_non_retryable_error(retail):
    with emulator(retail) as emu:
        b = backend(emu, token="dapi-WRONG-token-value-0000")
        with pytest.raises(BackendError) as info:
            b.get_space()
    assert not info.value.retryable and "403" in str(info.value)
    assert "dapi-WRONG-token-value-0000" not in str(info.value)


async def test_token_never_appears_in_logs_store_identity_or_errors(retail, tmp_path, caplog):
    from chaos_llama.tools.runner import RunSettings, run_eval

    space, evalset, _ = retail
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "chaos.db"
    store = Store(db)
    texts: list[str] = []
    with emulator(retail, fault_rate=0.3, faults=["429", "500", "drop", "failed"], retry_after_s=0) as emu:
        b = backend(emu, store=store, warehouse_id=emu.warehouse_id)
        snap = b.get_space()
        small = evalset.model_copy(update={"cases": evalset.cases[:8]})
        result = await run_eval(small, b, snap.space, RunSettings(concurrency=4, retries=4, backoff_base=0.01, timeout_s=60), store=store)
        texts += [b.identity(), b.data_identity(), repr(b)] + [r.error or "" for r in result.rows]
        for fn in (lambda: b.execute("SELECT nope FROM main.retail.orders"), lambda: backend(emu, token="x" + TOKEN).get_space()):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                texts.append(str(e))
    store.close()
    texts.append(caplog.text)
    assert caplog.text  # the SDK did log at DEBUG
    assert not [t for t in texts if TOKEN in t]
    for path in tmp_path.iterdir():
        assert TOKEN.encode() not in path.read_bytes(), path


def test_emulate_command_is_registered():
    from chaos_llama.tools.cli import build_parser

    args = build_parser().parse_args(["emulate", "--space", "s.yaml", "--data", "d", "--latency", "0.1-0.5",
                                      "--faults", "429,drop", "--fault-rate", "0.2", "--rate-per-minute", "5"])
    assert args.latency == (0.1, 0.5) and args.faults == "429,drop" and args.rate_per_minute == 5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["emulate", "--space", "s.yaml", "--data", "d", "--latency", "2-1"])


def test_bad_emulator_options_name_the_closest_fault(retail):
    from chaos_llama.tools.emulator import Emulator
    from chaos_llama.tools.errors import InvalidConfig

    space, _, engine = retail
    with pytest.raises(InvalidConfig, match="Did you mean 'drop'"):
        Emulator(space, engine, faults=["dorp"])


# ---------------------------------------------------------------- runs deploy the version they score
async def test_a_run_deploys_its_version_and_a_cached_rerun_touches_nothing(retail, tmp_path):
    """run_eval pushes the evaluated version before the first fresh question (answers then come
    from it), keeps the version Genie held, and a fully cached re-run neither pushes nor asks."""
    from chaos_llama.tools.evaluate import bundled_example
    from chaos_llama.tools.runner import RunSettings, run_eval
    from chaos_llama.tools.space.io import load_space

    curated, evalset, _ = retail
    with bundled_example("retail") as ex:
        sparse = load_space(ex.sparse_space)
    small = evalset.model_copy(update={"cases": evalset.cases[:6]})
    store = Store(tmp_path / "chaos.db")
    with emulator(retail) as emu:
        b = backend(emu, store=store, warehouse_id=emu.warehouse_id)
        first = await run_eval(small, b, sparse, RunSettings(judges=["execution"]), store=store)
        assert emu.stats["updates"] == 1 and space_hash(emu.space) == space_hash(sparse)
        asked = emu.stats["conversations"]
        again = await run_eval(small, b, sparse, RunSettings(judges=["execution"]), store=store)
        assert emu.stats["updates"] == 1 and emu.stats["conversations"] == asked and again.cache_hits == 6
        back = await run_eval(small, b, curated, RunSettings(judges=["execution"]), store=store)
        assert emu.stats["updates"] == 2 and space_hash(emu.space) == space_hash(curated)
    assert first.accuracy < back.accuracy  # the answers came from the version that was pushed
    kept = {v.version_id for v in store.list_space_versions(emu.space_id)}
    assert space_hash(curated) in kept and space_hash(sparse) in kept
