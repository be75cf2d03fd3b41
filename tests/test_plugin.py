"""Chaos Llama as a plugin for coding assistants: the Claude Code plugin and marketplace, the Claude
Desktop bundle (MCPB) and the VS Code / Cursor configs all start the same `chaos-llama serve`, each
from a file only its client reads: options (`${user_config.*}`) only where the plugin or the bundle
substitutes them, one definition per client, and the editor configs start as checked in.

The official validators (`claude plugin validate --strict`, `mcpb validate`, `mcpb pack`) run from
npm packages installed once into ~/.cache/chaos-llama-npm (override: $CHAOS_LLAMA_NPM_PREFIX);
those tests skip, saying why, when npm or the registry is unavailable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NPM_PACKAGES = ("@anthropic-ai/claude-code@2.1.197", "@anthropic-ai/mcpb@2.1.2")
PLACEHOLDER = re.compile(r"\$\{user_config\.([^}]+)\}")


def load(rel: str) -> dict:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def frontmatter(path: Path) -> dict:
    import yaml

    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path} has no YAML frontmatter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def resolve_claude_code(value: str, options: dict[str, str]) -> str:
    """Substitute as Claude Code does: ${CLAUDE_PLUGIN_ROOT}, then ${user_config.KEY} (unset optional keys: their default)."""
    value = value.replace("${CLAUDE_PLUGIN_ROOT}", str(ROOT))
    return PLACEHOLDER.sub(lambda m: options[m.group(1)], value)


# ---------------------------------------------------------------- manifests
def test_plugin_manifest_matches_the_package():
    """plugin.json names the package's version and license; userConfig keys are identifiers with a title and description."""
    plugin, project = load(".claude-plugin/plugin.json"), pyproject()["project"]
    assert plugin["name"] == "chaos-llama" and plugin["version"] == project["version"]
    assert plugin["license"] == project["license"] and plugin["description"] and plugin["author"]["name"]
    for key, option in plugin["userConfig"].items():
        assert re.fullmatch(r"[A-Za-z_]\w*", key)
        assert option["title"] and option["description"] and option["type"] in ("string", "file", "directory")
        assert not option.get("sensitive"), "secrets stay in the Databricks profile, never in plugin settings"


def test_marketplace_lists_this_repository_as_the_plugin():
    market, plugin = load(".claude-plugin/marketplace.json"), load(".claude-plugin/plugin.json")
    (entry,) = market["plugins"]
    assert entry["name"] == plugin["name"] and entry["version"] == plugin["version"]
    assert (ROOT / entry["source"] / ".claude-plugin" / "plugin.json").is_file()
    assert market["owner"]["name"]


def test_every_user_option_reaches_the_server_and_every_placeholder_is_declared():
    """Each ${user_config.X} in the plugin's server definition (and the MCPB manifest) is a declared option, and each option is used."""
    plugin, manifest = load(".claude-plugin/plugin.json"), load("manifest.json")
    for where, server, options in (("plugin.json", plugin["mcpServers"], plugin["userConfig"]),
                                   ("manifest.json", manifest["server"], manifest["user_config"])):
        used = set(PLACEHOLDER.findall(json.dumps(server)))
        assert used == set(options), (where, used, set(options))


# Which client reads which file: a file with the server for a client that does not substitute
# ${user_config.*} must not carry one, and no client may see the server twice.
READERS = {
    ".claude-plugin/plugin.json": "the Claude Code plugin (substitutes ${user_config.*})",
    "manifest.json": "the Claude Desktop bundle (substitutes ${user_config.*})",
    ".vscode/mcp.json": "VS Code (workspace)",
    ".cursor/mcp.json": "Cursor (project)",
}


def test_placeholders_only_where_the_plugin_or_bundle_reads_them():
    """No repository-level .mcp.json: Claude Code's project scope, VS Code's workspace discovery and the
    plugin (whose root is this repository) would all read it, so the server would be defined twice, and
    read as a project config its ${user_config.*} would reach the server unsubstituted."""
    assert not (ROOT / ".mcp.json").exists()
    for rel in READERS:
        text = (ROOT / rel).read_text(encoding="utf-8")
        if "user_config" not in READERS[rel]:
            assert "${user_config" not in text, rel
    for rel in (".vscode/mcp.json", ".cursor/mcp.json"):
        assert len(next(iter(load(rel).values()))) == 1, f"{rel}: one definition of the server"


def command_lines() -> dict[str, list[str]]:
    """The command line each client config runs, launcher prefixes (uv run --project <bundle>) removed."""
    out = {}
    for rel, key in ((".claude-plugin/plugin.json", "mcpServers"), (".vscode/mcp.json", "servers"), (".cursor/mcp.json", "mcpServers")):
        entry = load(rel)[key]["chaos-llama"]
        out[rel] = [entry["command"], *entry["args"]]
    mcp_config = load("manifest.json")["server"]["mcp_config"]
    argv = [mcp_config["command"], *mcp_config["args"]]
    assert argv[:4] == ["uv", "run", "--project", "${__dirname}"], argv  # the bundle's own source, built by uv
    out["manifest.json"] = argv[4:]
    return out


def test_every_client_starts_the_same_console_script():
    """Claude Code, Claude Desktop, VS Code and Cursor all run `chaos-llama serve`, the console script of pyproject."""
    scripts = pyproject()["project"]["scripts"]
    assert scripts["chaos-llama"] == "chaos_llama.tools.cli:main"
    for rel, argv in command_lines().items():
        assert argv[:2] == ["chaos-llama", "serve"], (rel, argv)
    assert load(".vscode/mcp.json")["servers"]["chaos-llama"]["type"] == "stdio"


def test_commands_and_skill_name_only_real_tools():
    """Slash commands and the skill have frontmatter, and every `tool_name` they mention is a tool of the server."""
    from chaos_llama.server.app import build_app, ensure_registered
    from chaos_llama.tools.project import load_config

    app = ensure_registered(build_app(load_config(env={}, overrides={"workspace": "unused"})))
    tools = {t.name for t in app._tool_manager.list_tools()}
    prompts = {"optimize_space", "analyze_failures"}
    commands = sorted((ROOT / "commands").glob("*.md"))
    assert {p.stem for p in commands} >= {"evaluate", "optimize", "report", "doctor"}
    skill = ROOT / "skills" / "genie-space-optimization" / "SKILL.md"
    meta = frontmatter(skill)
    assert meta["name"] == skill.parent.name and len(meta["description"]) > 40
    for path in [*commands, skill]:
        if path != skill:
            assert frontmatter(path)["description"]
        named = set(re.findall(r"`([a-z]+_[a-z_]+|report|doctor)(?:\(|`)", path.read_text(encoding="utf-8")))
        unknown = named - tools - prompts - {"backend_questions", "run_ids", "preview_id", "chaos_llama", "answers_question",
                                             "semantically_equivalent", "space_id", "warehouse_id"}
        assert not unknown, f"{path.name} names tools the server does not have: {unknown}"


# ---------------------------------------------------------------- the plugin's server, as Claude Code starts it
async def test_plugin_server_definition_starts_the_server(tmp_path):
    """The plugin's server (plugin.json), resolved as Claude Code resolves it (user options substituted, `chaos-llama`
    from PATH), answers `initialize`, lists the tools, and the chosen project file reaches the server through the environment."""
    project = tmp_path / "project" / "chaos-llama.yaml"
    project.parent.mkdir()
    project.write_text("example: retail\nworkspace: ws\n", encoding="utf-8")
    plugin = load(".claude-plugin/plugin.json")
    options = {k: o.get("default", "") for k, o in plugin["userConfig"].items()} | {"config_file": str(project)}
    server = plugin["mcpServers"]["chaos-llama"]
    env = {k: resolve_claude_code(v, options) for k, v in server.get("env", {}).items()}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHAOS_LLAMA_", "DATABRICKS_"))}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"  # where `pip install` put the console script
    command = shutil.which(resolve_claude_code(server["command"], options), path=base["PATH"])
    assert command, "chaos-llama is not on PATH: python -m pip install -e ."
    params = StdioServerParameters(command=command, args=[resolve_claude_code(a, options) for a in server["args"]],
                                   env=base | env, cwd=str(tmp_path))
    async with Client(params) as c:
        assert c.server_info.name == "chaos-llama"
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"doctor", "space_get", "eval_run", "space_propose", "space_apply", "eval_final_test"} <= names
        report = (await c.call_tool("doctor", {"project": False})).structured_content
    assert report["ok"] and str(project) in next(ch for ch in report["checks"] if ch["name"] == "config")["detail"]
    assert (project.parent / "ws").is_dir()  # the project's workspace, relative to the file, not to the cwd


# ---------------------------------------------------------------- the editors' configs, as checked in
def clean_env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHAOS_LLAMA_", "DATABRICKS_"))}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
    return base


async def doctor_through(rel: str, key: str, folder: Path, cwd: Path) -> dict:
    """Start the server as the editor would for workspace `folder` (${workspaceFolder} substituted, the
    process started elsewhere: editors do not promise a working directory) and run `doctor`."""
    entry = load(rel)[key]["chaos-llama"]
    args = [a.replace("${workspaceFolder}", str(folder)) for a in entry["args"]]
    assert "${" not in " ".join(args), f"{rel}: a variable the editor does not substitute"
    env = clean_env()
    command = shutil.which(entry["command"], path=env["PATH"])
    async with Client(StdioServerParameters(command=command, args=args, env=env, cwd=str(cwd))) as c:
        return (await c.call_tool("doctor", {"project": False})).structured_content


@pytest.mark.parametrize("rel, key", [(".vscode/mcp.json", "servers"), (".cursor/mcp.json", "mcpServers")])
async def test_editor_config_starts_in_any_folder(tmp_path, rel, key):
    """Opened on a folder without a project file, the checked-in VS Code / Cursor config starts the server on the
    bundled example, keeping its state in that folder; a folder with chaos-llama.yaml gets that project."""
    folder, elsewhere = tmp_path / "some project", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    report = await doctor_through(rel, key, folder, elsewhere)
    checks = {ch["name"]: ch for ch in report["checks"]}
    assert report["ok"] and "bundled example 'retail'" in checks["config"]["detail"]
    assert str(folder / ".chaos-llama") in checks["workspace"]["detail"]

    (folder / "chaos-llama.yaml").write_text("example: retail\nworkspace: state\n", encoding="utf-8")
    report = await doctor_through(rel, key, folder, elsewhere)
    checks = {ch["name"]: ch for ch in report["checks"]}
    assert report["ok"] and str(folder / "chaos-llama.yaml") in checks["config"]["detail"]
    assert (folder / "state").is_dir() and not (elsewhere / ".chaos-llama").exists()


# ---------------------------------------------------------------- official validators (npm)
@pytest.fixture(scope="session")
def npm_bin() -> Path:
    """node_modules/.bin holding `claude` and `mcpb`, installed once outside the repository."""
    prefix = Path(os.environ.get("CHAOS_LLAMA_NPM_PREFIX", Path.home() / ".cache" / "chaos-llama-npm"))
    bin_dir = prefix / "node_modules" / ".bin"
    if not ((bin_dir / "claude").exists() and (bin_dir / "mcpb").exists()):
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot run the Claude Code and MCPB validators")
        prefix.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *NPM_PACKAGES],
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install of the validators timed out (offline?)")
        if done.returncode != 0 or not (bin_dir / "claude").exists():
            pytest.skip(f"npm install of {' '.join(NPM_PACKAGES)} failed (offline?): {done.stderr[-500:]}")
    return bin_dir


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    # No update checks or telemetry: the validators work offline.
    env = os.environ | {"DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "NO_COLOR": "1"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, **kw)


def test_claude_plugin_validate_strict(npm_bin):
    """`claude plugin validate --strict` accepts the marketplace (the directory) and the plugin with its commands and skill."""
    for target in (ROOT, ROOT / ".claude-plugin" / "plugin.json"):
        done = run([str(npm_bin / "claude"), "plugin", "validate", str(target), "--strict"])
        out = done.stdout + done.stderr
        assert done.returncode == 0 and "Validation passed" in out and "warning" not in out.lower(), out


def test_mcpb_validate_and_pack(npm_bin, tmp_path):
    """`mcpb validate` accepts manifest.json; `mcpb pack` makes a bundle with the package source and nothing else."""
    done = run([str(npm_bin / "mcpb"), "validate", str(ROOT / "manifest.json")])
    assert done.returncode == 0 and "passes" in done.stdout, done.stdout + done.stderr
    bundle = tmp_path / "chaos-llama.mcpb"
    done = run([str(npm_bin / "mcpb"), "pack", str(ROOT), str(bundle)])
    assert done.returncode == 0 and bundle.is_file(), done.stdout + done.stderr
    names = zipfile.ZipFile(bundle).namelist()
    for needed in ("manifest.json", "pyproject.toml", "README.md", "server/app.py", "tools/cli/__init__.py", "server/cli.py", "prompts/optimize_space.md",
                   "examples/retail/evalset_templates.yaml"):
        assert needed in names, needed
    leaked = [n for n in names if n.split("/")[0] in ("tests", "bench", ".git", ".venv", ".chaos-llama", "node_modules")
              or "__pycache__" in n or n.endswith((".db", ".duckdb"))]
    assert not leaked, leaked
