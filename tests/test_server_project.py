"""The project file's judge settings reach the MCP server's runs."""

from __future__ import annotations

from mcp import Client

from chaos_llama.server.app import build_app
from chaos_llama.tools.project import load_config


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


def test_llm_judge_settings_reach_the_copilot(tmp_path):
    """`llm_judges:` (relative to the file) registers LLM judges; `judge_model:` becomes the copilot's judge endpoint."""
    (tmp_path / "j.yaml").write_text("judges:\n  - name: mentions_year\n    criteria: true when the SQL filters a year\n")
    project = tmp_path / "chaos-llama.yaml"
    project.write_text("example: retail\nworkspace: ws\nllm_judges: [j.yaml]\n"
                       "judge_model: {base_url: 'http://127.0.0.1:9/v1', model: m, api_key_env: K}\n")
    from chaos_llama.server.app import Session

    session = Session(load_config(project, env={}))
    settings = session.copilot.settings
    assert "mentions_year" in settings.judges
    assert settings.judge_model == {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "K"}
    with session.copilot._judging() as rt:
        assert rt.model is not None and "127.0.0.1:9" in rt.model.identity()
