"""The MCP server on a Databricks project: the copilot pulls the space from Genie, evaluates through
Genie, pushes every applied revision (etag-guarded), and refuses an apply that would overwrite
someone else's edit without recording a revision. The real SDK client talks to the real
databricks-sdk through the project's Genie emulator on 127.0.0.1."""

from __future__ import annotations

import pytest
from mcp import Client

from chaos_llama.server.app import build_app
from chaos_llama.tools.copilot import settings_for_example
from chaos_llama.tools.project import load_config
from chaos_llama.tools.space.io import space_hash
from chaos_llama.tools.space.model import TextInstruction
from databricks_helpers import TOKEN, emulator, retail_example


@pytest.fixture(scope="module")
def retail():
    return retail_example()


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    for var in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)


def _app(emu, workspace):
    backend = {"kind": "databricks", "host": emu.url, "space_id": emu.space_id, "warehouse_id": emu.warehouse_id,
               "rate_per_minute": 0, "settle_s": 0, "question_timeout_s": 30}
    over = {"workspace": str(workspace), "evalset": str(settings_for_example().evalset), "backend": backend}
    return build_app(load_config(env={}, overrides=over))


async def test_copilot_round_trip_through_genie(retail, tmp_path, token):
    with emulator(retail) as emu:
        async with Client(_app(emu, tmp_path)) as c:
            got = (await c.call_tool("space_get", {})).structured_content
            assert got["version_id"] == space_hash(emu.space) and got["revision"] == 1
            before = (await c.call_tool("eval_run", {"split": "val"})).structured_content
            assert emu.stats["updates"] == 0 and emu.stats["conversations"] == before["overall"]["total"] > 0

            prop = (await c.call_tool("space_propose", {"changes": [
                {"op": "add_text_instruction", "content": "Revenue means net revenue of completed orders."}]})).structured_content
            applied = await c.call_tool("space_apply", {"preview_id": prop["preview_id"], "message": "revenue rule"})
            assert not applied.is_error
            head = applied.structured_content["version"]
            assert emu.stats["updates"] == 1 and space_hash(emu.space) == head["version_id"]  # Genie holds the head

            await c.call_tool("eval_run", {"split": "val"})
            assert emu.stats["updates"] == 1  # already deployed: nothing pushed again

            back = (await c.call_tool("space_rollback", {"version": "1"})).structured_content
            assert space_hash(emu.space) == back["version_id"] == got["version_id"] and emu.stats["updates"] == 2


async def test_apply_over_someone_elses_edit_is_refused_and_records_nothing(retail, tmp_path, token):
    with emulator(retail) as emu:
        async with Client(_app(emu, tmp_path)) as c:
            await c.call_tool("space_get", {})
            # someone edits the space in the Genie UI meanwhile
            theirs = emu.space.serialized.model_copy(deep=True)
            theirs.instructions.text_instructions.append(TextInstruction(id="e" * 32, content=["Edited in the UI."]))
            emu.edit_space(emu.space.model_copy(update={"serialized": theirs}))
            their_hash = space_hash(emu.space)

            prop = (await c.call_tool("space_propose", {"changes": [
                {"op": "add_text_instruction", "content": "Ours."}]})).structured_content
            r = await c.call_tool("space_apply", {"preview_id": prop["preview_id"], "message": "ours"})
            assert r.is_error and "changed by someone else" in r.content[0].text
            hist = (await c.call_tool("space_history", {})).structured_content
            assert [v["revision"] for v in hist["versions"]] == [1]
            assert space_hash(emu.space) == their_hash  # their edit survived
            budget = (await c.call_tool("budget_status", {})).structured_content
            applies = next(line for line in budget["lines"] if line["kind"] == "applies")
            assert applies["spent"] == 0  # the refused apply was refunded

