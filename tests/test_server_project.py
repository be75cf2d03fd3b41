"""The project file's judge settings reach the MCP server's runs."""

from __future__ import annotations

from mcp import Client

from chaos_llama.server.app import build_app
from chaos_llama.server.config import load_config


async def test_project_metrics_and_python_judges_score_every_run(tmp_path):
    """`metrics:` and `custom_judges:` in the project file (paths relative to it) become judges of eval_run."""
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "metrics.yaml").write_text("- {name: has_limit, type: sql_contains, pattern: LIMIT, expect: true}\n")
    (tmp_path / "evals" / "judges.py").write_text("def answered(case, *, generated):\n    return generated.status == 'COMPLETED'\n")
    project = tmp_path / "chaos-llama.yaml"
    project.write_text("example: retail\nexample_space: curated\nworkspace: ws\nmetrics: [evals/metrics.yaml]\n"
                       "custom_judges: ['evals/judges.py:answered']\n")
    async with Client(build_app(load_config(project, env={}))) as c:
        run = (await c.call_tool("eval_run", {"split": "val"})).structured_content
        info = (await c.call_tool("run_log", {"run_id": run["run_id"]})).structured_content
    assert info["judges"] == ["execution", "failure_analysis", "has_limit", "answered"]
