"""The Databricks Asset Bundle in examples/databricks: structure, and the job's command line parses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chaos_llama.tools.cli import build_parser
from chaos_llama.tools.optimize.cli import cmd_optimize

BUNDLE = Path(__file__).resolve().parents[1] / "examples" / "databricks"


def _bundle() -> dict:
    return yaml.safe_load((BUNDLE / "databricks.yml").read_text(encoding="utf-8"))


def test_bundle_structure():
    doc = _bundle()
    assert doc["bundle"]["name"]
    assert {"space_id", "warehouse_id"} <= set(doc["variables"])
    (job,) = doc["resources"]["jobs"].values()
    (task,) = job["tasks"]
    wheel = task["python_wheel_task"]
    assert wheel["package_name"] == "chaos-llama" and wheel["entry_point"] == "chaos-llama"
    envs = {e["environment_key"]: e for e in job["environments"]}
    assert "chaos-llama" in envs[task["environment_key"]]["spec"]["dependencies"]
    assert "dev" in doc["targets"]
    used = set(re.findall(r"\$\{var\.(\w+)\}", (BUNDLE / "databricks.yml").read_text()))
    assert used <= set(doc["variables"]), f"undeclared variables: {used - set(doc['variables'])}"
    assert (BUNDLE / "evalset.yaml").exists()


def test_job_command_line_parses():
    """The job's parameters are a valid `chaos-llama optimize` command line for chaos-llama's own parser."""
    (job,) = _bundle()["resources"]["jobs"].values()
    params = [re.sub(r"\$\{[^}]+\}", "X1", str(p)) for p in job["tasks"][0]["python_wheel_task"]["parameters"]]
    params = [p if not p == "X1" or i == 0 or params[i - 1] not in ("--max-epochs", "--budget") else "5"
              for i, p in enumerate(params)]
    args = build_parser().parse_args(params)
    assert args.func is cmd_optimize
    assert args.backend == "databricks" and args.space_id == "X1" and args.tracking_uri == "databricks"
    assert args.max_epochs == 5 and args.budget == 5
