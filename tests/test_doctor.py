"""`chaos-llama doctor`: what it finds on good and broken setups, from the library, the CLI and the MCP tool.

Databricks checks run the unmodified databricks-sdk against the project's Genie emulator on
127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from mcp import Client

from chaos_llama.tools.cli import main
from chaos_llama.tools.doctor import DoctorReport, run_doctor
from chaos_llama.tools.emulator import Emulator
from databricks_helpers import TOKEN, retail_example
from server_helpers import make_app

WRONG_TOKEN = "dapi-WRONG-5ecret-feedfacecafe0123"


@pytest.fixture(scope="module")
def genie():
    space, _, engine = retail_example()
    emu = Emulator(space, engine, token=TOKEN).start()
    yield emu
    emu.stop()


@pytest.fixture
def no_databricks_env(monkeypatch, tmp_path):
    """No ambient Databricks credentials: no ~/.databrickscfg, no DATABRICKS_* variables."""
    import os

    for key in list(os.environ):
        if key.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chaos-llama.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def databricks_project(tmp_path: Path, host: str, space_id: str) -> Path:
    return project(tmp_path, f"example: retail\nworkspace: ws\nbackend: {{kind: databricks, host: '{host}', space_id: '{space_id}'}}\n")


def statuses(report: DoctorReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: connections are refused


# ---------------------------------------------------------------- local projects
def test_good_local_project_is_ready(tmp_path, no_databricks_env, capsys):
    """The bundled example loads (space, eval set, DuckDB data); Databricks checks are skipped; exit 0."""
    path = project(tmp_path, "example: retail\nworkspace: ws\n")
    report = run_doctor(path, env={})
    s = statuses(report)
    assert report.ok and report.failures == 0
    assert s == {"python": "ok", "packages": "ok", "config": "ok", "workspace": "ok", "project": "ok",
                 "databricks_auth": "skip", "genie_space": "skip", "warehouse": "skip", "tracking": "ok"}
    assert str(path) in report.check("config").detail
    assert "questions" in report.check("project").detail and "DuckDB tables" in report.check("project").detail
    assert str(tmp_path / "ws") in report.check("tracking").detail  # the default SQLite store lives in the workspace
    assert not (tmp_path / "ws").exists()  # the doctor looks; it does not create

    assert main(["doctor", "--config", str(path), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "[ok  ] config" in out and "ready: 0 failure(s)" in out


@pytest.mark.parametrize("text, field", [
    ("example: retail\nbudgets: {applies: -1}\n", "budgets.applies"),
    ("example: retail\nbackend: {kind: databrix}\n", "backend.kind"),
    ("example: retail\nevalsett: evals.yaml\n", "evalsett"),
])
def test_broken_project_file_names_the_field_and_exits_2(tmp_path, no_databricks_env, capsys, text, field):
    """A bad setting fails the `config` check naming file and field; later checks are skipped; exit code 2."""
    path = project(tmp_path, text)
    report = run_doctor(path, env={})
    config = report.check("config")
    assert not report.ok and config.status == "fail"
    assert str(path) in config.detail and field in config.detail and field in (config.fix or "")
    assert {statuses(report)[n] for n in ("workspace", "project", "databricks_auth", "tracking")} == {"skip"}

    assert main(["doctor", "--config", str(path)]) == 2
    out = capsys.readouterr().out
    assert "[FAIL] config" in out and field in out and "not ready: 1 failure(s)" in out


def test_unknown_setting_suggests_the_closest(tmp_path, no_databricks_env):
    report = run_doctor(project(tmp_path, "example: retail\nevalsett: x.yaml\n"), env={})
    assert "did you mean 'evalset'" in report.check("config").detail.lower()


def test_yaml_syntax_error_names_the_line(tmp_path, no_databricks_env):
    report = run_doctor(project(tmp_path, "example: retail\nbudgets: [unclosed\n"), env={})
    assert report.check("config").status == "fail"
    assert f"{tmp_path / 'chaos-llama.yaml'}:" in report.check("config").detail


def test_missing_eval_set_file_fails_the_project_check(tmp_path, no_databricks_env):
    """The file parses, but the eval set it names does not exist: `project` fails and names the file."""
    from chaos_llama.tools.copilot import settings_for_example

    space = settings_for_example().space
    path = project(tmp_path, f"space: '{space}'\nevalset: missing.yaml\ndata: [data/]\nworkspace: ws\n")
    report = run_doctor(path, env={})
    assert report.check("config").status == "ok"
    assert report.check("project").status == "fail" and "missing.yaml" in report.check("project").detail
    assert main(["doctor", "--config", str(path)]) == 1


# ---------------------------------------------------------------- Databricks (emulator)
def test_databricks_project_reaches_space_and_warehouse(tmp_path, no_databricks_env, monkeypatch, genie, capsys):
    """PAT auth resolves (method reported, secret not); the space is pulled and the warehouse is RUNNING."""
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    path = databricks_project(tmp_path, genie.url, genie.space_id)
    report = run_doctor(path, project=False)
    s = statuses(report)
    assert report.ok, report.model_dump_json(indent=2)
    assert (s["databricks_auth"], s["genie_space"], s["warehouse"]) == ("ok", "ok", "ok")
    assert "auth_type=pat" in report.check("databricks_auth").detail
    assert genie.space_id in report.check("genie_space").detail and "Retail" in report.check("genie_space").detail
    assert "RUNNING" in report.check("warehouse").detail
    assert TOKEN not in report.model_dump_json()

    assert main(["doctor", "--config", str(path), "--quick", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["ok"] is True and TOKEN not in out


def test_bad_token_fails_without_leaking_it(tmp_path, no_databricks_env, monkeypatch, genie, capsys):
    """A rejected token fails `genie_space` with the HTTP reason; the token never appears, in the report or the CLI."""
    monkeypatch.setenv("DATABRICKS_TOKEN", WRONG_TOKEN)
    path = databricks_project(tmp_path, genie.url, genie.space_id)
    report = run_doctor(path, project=False)
    space = report.check("genie_space")
    assert space.status == "fail" and "403" in space.detail and space.fix
    assert report.check("warehouse").status == "skip"
    assert WRONG_TOKEN not in report.model_dump_json()

    assert main(["doctor", "--config", str(path), "--quick"]) == 1
    captured = capsys.readouterr()
    assert WRONG_TOKEN not in captured.out + captured.err and "[FAIL] genie_space" in captured.out


def test_unknown_space_and_warehouse_are_failures(tmp_path, no_databricks_env, monkeypatch, genie):
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    report = run_doctor(databricks_project(tmp_path, genie.url, "no-such-space"), project=False)
    assert report.check("genie_space").status == "fail" and "no-such-space" in report.check("genie_space").detail

    path = project(tmp_path, f"example: retail\nworkspace: ws\nbackend: {{kind: databricks, host: '{genie.url}', "
                             f"space_id: '{genie.space_id}', warehouse_id: nope}}\n")
    report = run_doctor(path, project=False)
    assert report.check("genie_space").status == "ok"
    assert report.check("warehouse").status == "fail" and "nope" in report.check("warehouse").detail


def test_unreachable_host_is_a_failure(tmp_path, no_databricks_env, monkeypatch):
    """Connection refused: a failure naming the host, after the SDK's short retry budget (no hang)."""
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    host = f"http://127.0.0.1:{closed_port()}"
    report = run_doctor(databricks_project(tmp_path, host, "abc"), project=False)
    space = report.check("genie_space")
    assert space.status == "fail" and host in (space.fix or "") and TOKEN not in report.model_dump_json()


def test_no_credentials_says_how_to_log_in(tmp_path, no_databricks_env):
    path = project(tmp_path, "example: retail\nworkspace: ws\nbackend: {kind: databricks, space_id: abc}\n")
    report = run_doctor(path, project=False)
    auth = report.check("databricks_auth")
    assert auth.status == "fail" and "databricks auth login" in (auth.fix or "")
    assert report.check("genie_space").status == "skip"


def test_missing_space_id_is_named(tmp_path, no_databricks_env, monkeypatch, genie):
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    path = project(tmp_path, f"example: retail\nworkspace: ws\nbackend: {{kind: databricks, host: '{genie.url}'}}\n")
    space = run_doctor(path, project=False).check("genie_space")
    assert space.status == "fail" and "backend.space_id" in (space.fix or "")


# ---------------------------------------------------------------- MCP tool
async def test_doctor_tool_is_read_only_and_spends_nothing(tmp_path, no_databricks_env):
    """Over the SDK client: `doctor` is annotated read-only, returns the structured report, and no budget moves."""
    async with Client(make_app(tmp_path)) as c:
        tool = next(t for t in (await c.list_tools()).tools if t.name == "doctor")
        assert tool.annotations.read_only_hint and not tool.annotations.destructive_hint
        before = (await c.call_tool("budget_status", {})).structured_content
        result = await c.call_tool("doctor", {"project": True})
        after = (await c.call_tool("budget_status", {})).structured_content
    report = DoctorReport.model_validate(result.structured_content)
    assert report.ok and report.check("project").status == "ok" and report.check("databricks_auth").status == "skip"
    assert before == after


async def test_doctor_answers_when_the_project_cannot_load(tmp_path, no_databricks_env):
    """A project whose eval set is missing: the tools are still listed and `doctor` says what is
    wrong, while a tool that needs the project fails naming the file."""
    from chaos_llama.server.app import build_app
    from chaos_llama.tools.copilot import settings_for_example
    from chaos_llama.tools.project import load_config

    path = project(tmp_path, f"space: '{settings_for_example().space}'\nevalset: missing.yaml\ndata: [data/]\nworkspace: ws\n")
    async with Client(build_app(load_config(path, env={}))) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"doctor", "eval_run"} <= names
        result = await c.call_tool("doctor", {"project": True})
        report = DoctorReport.model_validate(result.structured_content)
        assert report.check("project").status == "fail" and "missing.yaml" in report.check("project").detail
        with pytest.raises(Exception, match="missing.yaml"):
            r = await c.call_tool("eval_run", {"split": "train"})
            raise AssertionError(r.content[0].text if r.is_error else "no error")


def test_tracking_fixes_name_only_what_the_package_declares(tmp_path, no_databricks_env, monkeypatch):
    """Without mlflow the fix installs the package's own declared requirements (never an extra that does not
    exist); with tracking off the check is skipped, saying so."""
    import importlib.util
    import re
    import tomllib
    from pathlib import Path

    from chaos_llama.tools.doctor import check_tracking
    from chaos_llama.tools.project import load_config

    config = load_config(project(tmp_path, "example: retail\nworkspace: ws\n"), env={})
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    check = check_tracking(config, env={})
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(pyproject.get("optional-dependencies", {}))
    assert check.status == "warn" and "'mlflow-skinny" in check.fix and ">=3.10" in check.fix
    assert all(e in extras for e in re.findall(r"\.\[(\w+)\]", check.fix)), check.fix
    off = check_tracking(config.model_copy(update={"tracking": False}), env={})
    assert off.status == "skip" and "off" in off.detail
