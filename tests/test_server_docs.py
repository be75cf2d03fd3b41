"""The README's MCP section matches the live server (tools, resources, prompts listed through the SDK Client)."""

import json
import re
from pathlib import Path

import pytest
import yaml
from mcp import Client

from chaos_llama.tools.project import ProjectConfig
from server_helpers import make_app

README = Path(__file__).resolve().parents[1] / "README.md"


def mcp_section() -> str:
    text = README.read_text(encoding="utf-8")
    start, end = text.find("<!-- mcp:start -->"), text.find("<!-- mcp:end -->")
    assert 0 <= start < end, "README lacks the <!-- mcp:start --> ... <!-- mcp:end --> section"
    return text[start:end]


def table_after(section: str, header: str) -> dict[str, list[str]]:
    """First-column name (without backticks) -> the other cells, for the table whose header row starts with `header`."""
    lines = section.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = {}
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


@pytest.fixture
async def live(tmp_path):
    async with Client(make_app(tmp_path)) as c:
        tools = (await c.list_tools()).tools
        resources = [str(r.uri) for r in (await c.list_resources()).resources]
        templates = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
        prompts = (await c.list_prompts()).prompts
    return tools, resources + templates, prompts


async def test_tool_table_matches_the_live_tool_list(live):
    """Every registered tool has a description and a README row; no row names a tool that does not exist;
    the kind column agrees with the tool's annotations."""
    tools, _, _ = live
    rows = table_after(mcp_section(), "tool")
    for t in tools:
        assert t.description and t.description.strip(), f"{t.name} has no description"
        assert t.name in rows, f"tool {t.name} is missing from the README table"
        what, kind = rows[t.name]
        assert what
        a = t.annotations
        expected = ("destructive" if a.destructive_hint else "read-only" if a.read_only_hint else
                    "spends budget" if a.open_world_hint else "writes records")
        assert kind == expected, (t.name, kind, expected)
    assert set(rows) == {t.name for t in tools}, f"README rows without a tool: {set(rows) - {t.name for t in tools}}"


async def test_resource_and_prompt_tables_match_the_server(live):
    """Listed resources (and templates) and prompts are exactly those the server registers, each described."""
    _, uris, prompts = live
    section = mcp_section()
    assert set(table_after(section, "resource")) == set(uris)
    rows = table_after(section, "prompt")
    assert set(rows) == {p.name for p in prompts}
    assert all(p.description for p in prompts)


def test_config_snippets_are_valid():
    """The YAML project file parses as a ProjectConfig; the JSON client snippets parse and run `serve`."""
    section = mcp_section()
    yaml_blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    cfg = ProjectConfig.model_validate(yaml.safe_load(yaml_blocks[0]))
    assert cfg.budgets.final_tests == 1 and cfg.space is not None
    for block in re.findall(r"```json\n(.*?)```", section, re.S):
        servers = json.loads(block)
        entry = (servers.get("mcpServers") or servers.get("servers"))["chaos-llama"]
        assert entry["command"] == "chaos-llama" and entry["args"][0] == "serve"
    assert "claude mcp add chaos-llama -- chaos-llama serve --config" in section
    assert "claude_desktop_config.json" in section and ".vscode/mcp.json" in section
