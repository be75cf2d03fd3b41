"""The Databricks Asset Bundle in examples/databricks: structure, the wheel it builds from this
repository, the job's command line, and the state copy that keeps SQLite off the volume.

The `databricks` CLI is not available offline, so `bundle validate` is not run here: the structure
is checked against the bundle schema's keys (artifacts.<name>.type/path/build/files, tasks'
environment_key, environments[].spec.dependencies) and the build command is run for real."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from chaos_llama.tools.cli import build_parser
from chaos_llama.tools.cli.optimize import run as cmd_optimize
from chaos_llama.tools.store import Store
from chaos_llama.tools.store import export_workspace as _export_state
from chaos_llama.tools.store import restore_workspace as _restore_state

BUNDLE = Path(__file__).resolve().parents[1] / "examples" / "databricks"


def _bundle() -> dict:
    return yaml.safe_load((BUNDLE / "databricks.yml").read_text(encoding="utf-8"))


def _wheel_artifact(doc: dict) -> tuple[str, dict]:
    (name, art), = [(n, a) for n, a in doc["artifacts"].items() if a.get("type") == "whl"]
    return name, art


def test_bundle_structure():
    doc = _bundle()
    assert doc["bundle"]["name"]
    assert {"space_id", "warehouse_id", "state_volume"} <= set(doc["variables"])
    assert doc["variables"]["state_volume"]["default"].startswith("/Volumes/")
    (job,) = doc["resources"]["jobs"].values()
    assert job["max_concurrent_runs"] == 1  # one writer of the state
    (task,) = job["tasks"]
    wheel = task["python_wheel_task"]
    assert wheel["package_name"] == "chaos-llama" and wheel["entry_point"] == "chaos-llama"
    assert "dev" in doc["targets"]
    used = set(re.findall(r"\$\{var\.(\w+)\}", (BUNDLE / "databricks.yml").read_text()))
    assert used <= set(doc["variables"]), f"undeclared variables: {used - set(doc['variables'])}"
    assert (BUNDLE / "evalset.yaml").exists()


def test_job_installs_the_wheel_built_from_this_repository():
    """chaos-llama is not on PyPI: the environment installs the artifact's wheel, not a PyPI name."""
    doc = _bundle()
    _, art = _wheel_artifact(doc)
    root = (BUNDLE / art.get("path", ".")).resolve()
    argv = shlex.split(art["build"])
    src = next(a for a in argv[argv.index("wheel") + 1:] if not a.startswith("-"))  # `pip wheel <src>`
    project = (root / src).resolve()
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert project == BUNDLE.parents[1] and re.search(r'^name = "chaos-llama"', pyproject, re.M)
    out = argv[argv.index("-w") + 1]
    (job,) = doc["resources"]["jobs"].values()
    (task,) = job["tasks"]
    envs = {e["environment_key"]: e for e in job["environments"]}
    deps = envs[task["environment_key"]]["spec"]["dependencies"]
    assert "chaos-llama" not in deps and not any(d.startswith("chaos-llama") for d in deps)
    (whl,) = [d for d in deps if d.endswith(".whl")]
    # the dependency and the artifact's declared files point at the build's output folder
    assert (BUNDLE / whl).resolve().parent == (root / out).resolve()
    assert all((root / f["source"]).resolve().parent == (root / out).resolve() for f in art["files"])
    assert (BUNDLE / ".gitignore").read_text().splitlines()[0] == "dist/"  # never synced or committed


def test_build_command_produces_the_cli_wheel(tmp_path):
    """The artifact's build command, run from the bundle root (output redirected to a temp folder),
    builds a wheel with the `chaos-llama` console script and this repository's modules."""
    _, art = _wheel_artifact(_bundle())
    argv = shlex.split(art["build"])
    assert argv[:4] == ["python", "-m", "pip", "wheel"]
    argv[argv.index("-w") + 1] = str(tmp_path)
    proc = subprocess.run([sys.executable, *argv[1:], "--quiet"], cwd=BUNDLE / art.get("path", "."),
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and ("setuptools" in proc.stderr and ("Could not find" in proc.stderr or "No matching" in proc.stderr)):
        pytest.skip(f"pip cannot fetch the build backend here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("chaos_llama-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "chaos-llama = chaos_llama.tools.cli:main" in z.read(entry).decode()
        assert "serve = chaos_llama.server.cli" in z.read(entry).decode()
    assert {"chaos_llama/tools/cli/__init__.py", "chaos_llama/tools/cli/optimize.py", "chaos_llama/tools/cli/benchmarks.py",
            "chaos_llama/server/cli.py"} <= names


def _params() -> list[str]:
    (job,) = _bundle()["resources"]["jobs"].values()
    return [str(p) for p in job["tasks"][0]["python_wheel_task"]["parameters"]]


def test_job_command_line_parses():
    """The job's parameters are a valid `chaos-llama optimize` command line for chaos-llama's own parser."""
    params = [re.sub(r"\$\{[^}]+\}", "X1", p) for p in _params()]
    params = [p if not p == "X1" or i == 0 or params[i - 1] not in ("--max-epochs", "--budget") else "5"
              for i, p in enumerate(params)]
    args = build_parser().parse_args(params)
    assert args.func is cmd_optimize
    assert args.backend == "databricks" and args.space_id == "X1" and args.tracking_uri == "databricks"
    assert args.max_epochs == 5 and args.budget == 5
    # SQLite on local disk, its durable copy on the volume
    raw = dict(zip(_params(), _params()[1:]))
    assert not raw["--workspace"].startswith("/Volumes/") and raw["--export-dir"].startswith("${var.state_volume}/")


def test_export_dir_keeps_a_consistent_copy_and_restores_it(tmp_path):
    """--export-dir: the store is copied whole (a backup snapshot, WAL included) with the reports,
    and restored into a new local workspace so a re-run resumes; an existing workspace is kept."""
    ws, vol = tmp_path / "local", tmp_path / "volume"
    with Store(ws / "chaos.db") as store:
        store.put_document("optimize_state", "opt-1", '{"epoch": 3}')
        (ws / "reports").mkdir()
        (ws / "reports" / "opt-1.best.yaml").write_text("title: best\n")
        _export_state(ws, vol)  # while the store is open: the snapshot still has the WAL's pages
    assert (vol / "reports" / "opt-1.best.yaml").read_text() == "title: best\n"
    fresh = tmp_path / "fresh"
    _restore_state(fresh, vol)
    with Store(fresh / "chaos.db") as store:
        assert store.get_document("optimize_state", "opt-1") == '{"epoch": 3}'
        store.put_document("optimize_state", "opt-1", '{"epoch": 4}')
    _restore_state(fresh, vol)  # the local store exists: not overwritten by the older copy
    with Store(fresh / "chaos.db") as store:
        assert store.get_document("optimize_state", "opt-1") == '{"epoch": 4}'
