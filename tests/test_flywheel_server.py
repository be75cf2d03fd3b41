"""The data flywheel through the MCP server (real SDK Client, in-process) and the command line.

The project: the curated retail space in production, its own (family-frozen) eval set file, the
bundled data, and a month of real traffic as a file export.
"""

from __future__ import annotations

import json
import shutil

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from chaos_llama.examples.retail.traffic import generate
from chaos_llama.server.app import build_app
from chaos_llama.tools.cli import main
from chaos_llama.tools.evalset import assign_splits, freeze_splits, load_evalset, save_evalset
from chaos_llama.tools.families import leakage
from chaos_llama.tools.project import load_config
from databricks_helpers import retail_example
from server_helpers import texts

MAX_OUTPUT = 10_000


@pytest.fixture(scope="module")
def month():
    space, _, engine = retail_example()
    return generate(space, engine, conversations=60, seed=11)


@pytest.fixture
def project(tmp_path, month):
    from chaos_llama.tools.evaluate import bundled_example

    with bundled_example("retail") as ex:
        shutil.copy(ex.curated_space, tmp_path / "space.yaml")
        save_evalset(freeze_splits(load_evalset(ex.evalset))[0], tmp_path / "evals.yaml")
        data = ex.data
    month.write_jsonl(tmp_path / "traffic.jsonl")
    return {"space": str(tmp_path / "space.yaml"), "evalset": str(tmp_path / "evals.yaml"), "data": [str(data)],
            "workspace": str(tmp_path / "ws")}


def _app(project):
    return build_app(load_config(env={}, overrides=project))


async def test_the_copilot_starts_from_what_fails_in_real_traffic(project, month, tmp_path):
    """Before any import the prompt says how to bring traffic in; after, it starts from what fails most.
    traffic_fix_first ranks failing clusters and never shows a val/test family's questions; a person's
    review through logs_review puts a candidate in the train split of the eval set file, leakage 0."""
    app = _app(project)
    async with Client(app) as c:
        prompt = await c.get_prompt("optimize_space", {"goal": "fewer wrong answers"})
        assert "No real traffic is imported" in prompt.messages[0].content.text
        with pytest.raises(MCPError) as e:  # the local engine keeps no conversations
            await c.call_tool("logs_import", {})
        assert "file export" in e.value.error.message
        imported = (await c.call_tool("logs_import", {"file": str(tmp_path / "traffic.jsonl")})).structured_content
        assert imported["imported"][0]["messages_new"] == len(month.messages)
        prompt = (await c.get_prompt("optimize_space", {"goal": "fewer wrong answers"})).messages[0].content.text
        assert "what fails most in real traffic" in prompt and "traffic_fix_first" in prompt

        result = await c.call_tool("traffic_fix_first", {})
        view = result.structured_content
        assert len(texts(result)) < MAX_OUTPUT
        assert view["fix_first"] and 0 < view["coverage"] < 1
        impacts = [x["failures"] for x in view["fix_first"]]
        assert impacts == sorted(impacts, reverse=True)
        assert all(not set(x["eval_splits"]) & {"val", "test"} for x in view["fix_first"])
        held_out = [c_ for c_ in app.session.copilot.evalset.cases if c_.split in ("val", "test")]
        shown = texts(result).lower()
        assert not any(c_.question.lower() in shown for c_ in held_out)

        assert len(texts(await c.call_tool("logs_candidates", {}))) < MAX_OUTPUT  # the default page fits a context
        listed = await c.call_tool("logs_candidates", {"kind": "failure", "limit": 20})
        items = listed.structured_content["items"]
        target = next(i for i in items if not i["eval_splits"] and not i["out_of_domain"])
        truth = {m["content"]: month.truth[m["message_id"]] for m in month.messages}
        gold = truth[target["question"]].gold_sql
        with pytest.raises(MCPError) as e:
            await c.call_tool("logs_review", {"candidate_id": target["candidate_id"], "decision": "accept"})
        assert e.value.error.data["field"] == "gold_sql"
        done = (await c.call_tool("logs_review", {"candidate_id": target["candidate_id"], "decision": "accept", "gold_sql": gold,
                                                  "note": "checked with finance"})).structured_content
        assert done["split"] == "train" and done["leakage"]["total"] == 0
        es = assign_splits(load_evalset(project["evalset"]))
        added = next(c_ for c_ in es.cases if c_.id == done["case_id"])
        assert added.split == "train" and added.gold_sql == [gold] and leakage(es.cases).total == 0
        info = (await c.call_tool("evalset_info", {})).structured_content
        assert (info["total"], info["splits"]["train"]) == (len(es.cases), sum(c_.split == "train" for c_ in es.cases))
        rejected = next(i for i in items if i["candidate_id"] != target["candidate_id"])
        await c.call_tool("logs_review", {"candidate_id": rejected["candidate_id"], "decision": "reject", "note": "noise"})
        left = (await c.call_tool("logs_candidates", {"kind": "failure", "limit": 20})).structured_content["items"]
        assert {i["candidate_id"] for i in left}.isdisjoint({target["candidate_id"], rejected["candidate_id"]})


async def test_the_bundled_example_is_never_written(tmp_path, month):
    """Serving the bundled example: traffic can be read, but accepting needs the project's own eval set file."""
    month.write_jsonl(tmp_path / "t.jsonl")
    app = build_app(load_config(env={}, overrides={"workspace": str(tmp_path / "ws"), "example_space": "curated"}))
    async with Client(app) as c:
        await c.call_tool("logs_import", {"file": str(tmp_path / "t.jsonl")})
        item = (await c.call_tool("logs_candidates", {"kind": "failure"})).structured_content["items"][0]
        with pytest.raises(MCPError) as e:
            await c.call_tool("logs_review", {"candidate_id": item["candidate_id"], "decision": "accept", "refusal": True})
        assert "read-only" in e.value.error.message


def test_the_command_line_runs_the_loop(project, month, tmp_path, capsys):
    """import -> fix-first -> candidates -> accept, with exit 2 and the field named on bad input."""
    ws = ["logs", "--workspace", project["workspace"]]
    args = ["--space", project["space"], "--evalset", project["evalset"], "--data", *project["data"]]
    assert main([*ws, "import", str(tmp_path / "traffic.jsonl")]) == 0
    assert f"{len(month.messages)} new" in capsys.readouterr().out
    assert main([*ws, "import", str(tmp_path / "traffic.jsonl")]) == 0
    assert "0 new and 0 changed" in capsys.readouterr().out
    assert main([*ws, "--json", "fix-first", *args]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["top"] and report["messages"] == len(month.messages)
    assert main([*ws, "fix-first", *args]) == 0
    assert "Fix these first" in capsys.readouterr().out
    assert main([*ws, "--json", "candidates", *args, "--kind", "failure"]) == 0
    cands = json.loads(capsys.readouterr().out)
    target = next(x for x in cands if not x["covered"] and not x["out_of_domain"])
    assert main([*ws, "accept", target["candidate_id"], *args]) == 2
    assert "gold_sql" in capsys.readouterr().err
    gold = {m["content"]: month.truth[m["message_id"]] for m in month.messages}[target["question"]].gold_sql
    (tmp_path / "gold.sql").write_text(gold)
    assert main([*ws, "accept", target["candidate_id"], *args, "--gold-file", str(tmp_path / "gold.sql"), "--no-test"]) == 0
    assert "added log_" in capsys.readouterr().out
    assert main([*ws, "review", *args, "--judge", "answers_question"]) == 2  # no labels: its alignment is unknown
    assert "0 labeled answers" in capsys.readouterr().err
    assert main([*ws, "clusters", *args]) == 0
    assert "Traffic clusters" in capsys.readouterr().out
    assert main([*ws, "export", "--out", str(tmp_path / "again.jsonl")]) == 0
    assert main([*ws, "redact", "--redact", "all"]) == 0
    assert f"{len(month.messages)} messages of space {month.space_id} redacted (all)" in capsys.readouterr().out
    assert main([*ws, "import", str(tmp_path / "missing.jsonl")]) == 2
    assert main([*ws, "import"]) == 2
    assert "space_id" in capsys.readouterr().err


async def test_held_out_questions_asked_by_real_users_never_reach_the_assistant(project, tmp_path):
    """Users asked the val and test questions word for word, and Genie answered with their gold SQL:
    the flywheel tools and the prompt show none of it (structurally: the holdout guard never acts)."""
    from chaos_llama.server.guards import WITHHELD

    es = assign_splits(load_evalset(project["evalset"]))
    held = [c for c in es.cases if c.split in ("val", "test")]
    convs = [{"conversation_id": f"h{i}", "space_id": "prod", "created_timestamp": 1_750_000_000_000 + i, "user_id": 5,
              "messages": [{"message_id": f"hm{i}", "content": c.question, "status": "COMPLETED", "user_id": 5,
                            "created_timestamp": 1_750_000_000_000 + i,
                            "attachments": [{"query": {"query": c.gold_sql[0]}}] if c.gold_sql else [{"text": {"content": "no"}}],
                            "feedback": {"rating": "NEGATIVE" if i % 2 else "POSITIVE"}}]}
             for i, c in enumerate(held)]
    (tmp_path / "held.jsonl").write_text("".join(json.dumps(c) + "\n" for c in convs))
    app = _app(project)
    async with Client(app) as c:
        await c.call_tool("logs_import", {"file": str(tmp_path / "held.jsonl")})
        fix = await c.call_tool("traffic_fix_first", {"limit": 30})
        outputs = [texts(fix)]
        for kind in ("failure", "regression"):
            outputs.append(texts(await c.call_tool("logs_candidates", {"kind": kind, "limit": 20})))
        outputs.append((await c.get_prompt("optimize_space", {})).messages[0].content.text)
        assert fix.structured_content["withheld"] > 0 and fix.structured_content["fix_first"] == []
    blob = " ".join(outputs).lower()
    assert WITHHELD.lower() not in blob
    for case in held:
        assert case.question.lower() not in blob and case.id.lower() not in blob
        assert all(line.strip().lower() not in blob for g in case.gold_sql for line in g.splitlines() if len(line.strip()) >= 20)


async def test_the_copilot_imports_from_its_genie_space(tmp_path, month, monkeypatch):
    """A Databricks project: logs_import reads the space's conversations through the SDK (the emulator
    holds a month of them); the space pulled from Genie grounds and clusters them."""
    from chaos_llama.tools.copilot import settings_for_example
    from databricks_helpers import TOKEN, emulator

    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    for var in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    with emulator(retail_example()) as emu:
        emu.load_conversations(month.conversations)
        backend = {"kind": "databricks", "host": emu.url, "space_id": emu.space_id, "warehouse_id": emu.warehouse_id,
                   "rate_per_minute": 0, "settle_s": 0, "question_timeout_s": 30}
        over = {"workspace": str(tmp_path / "ws"), "evalset": str(settings_for_example().evalset), "backend": backend}
        async with Client(build_app(load_config(env={}, overrides=over))) as c:
            got = (await c.call_tool("logs_import", {})).structured_content["imported"][0]
            assert (got["space_id"], got["source"], got["messages_new"], got["complete"]) == (emu.space_id, "genie", len(month.messages), True)
            again = (await c.call_tool("logs_import", {})).structured_content["imported"][0]
            assert again["messages_new"] == 0
            view = (await c.call_tool("traffic_fix_first", {})).structured_content
            assert view["fix_first"] and view["coverage"] is not None
        assert emu.stats["route_list_conversations"] >= 2 and emu.stats["route_start_conversation"] == 0  # nothing was asked
