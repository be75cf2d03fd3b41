"""The package as pip sees it: every library the code imports is declared, and the wheel builds
without a deprecation warning, holding the code, the prompts and the bundled examples."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Imported only inside a guard that works without it (doctor compares versions when it is there).
OPTIONAL = {"packaging"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_norm(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in project["dependencies"]}


def _imports() -> dict[str, str]:
    """Top-level modules imported by the package's code (not tests, not bench) -> a file importing it."""
    found: dict[str, str] = {}
    for folder in ("tools", "server", "prompts", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return {m: f for m, f in found.items() if m not in sys.stdlib_module_names and m != "chaos_llama"}


def test_every_imported_library_is_declared():
    """A module the code imports comes from a distribution named in [project.dependencies] (numpy, requests...),
    or ships with one that is (mcp_types with mcp)."""
    declared = _declared()
    owners = importlib.metadata.packages_distributions()
    ships_with = {_norm(d) for dist in declared for d in [dist] + _requirements_of(dist)}
    missing = {}
    for module, where in _imports().items():
        if module in OPTIONAL:
            continue
        dists = {_norm(d) for d in owners.get(module, [])}
        assert dists, f"{module} (imported by {where}) is not installed"
        if not dists & declared and not (dists & ships_with and _same_release(dists, declared)):
            missing[module] = (where, sorted(dists))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def _requirements_of(dist: str) -> list[str]:
    try:
        return [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in importlib.metadata.requires(dist) or []]
    except importlib.metadata.PackageNotFoundError:
        return []


def _same_release(dists: set[str], declared: set[str]) -> bool:
    """A distribution released in lockstep with a declared one (the mcp SDK's mcp-types)."""
    return any(d.startswith(f"{p}-") and importlib.metadata.version(d) == importlib.metadata.version(p)
               for d in dists for p in declared if _installed(p))


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def test_wheel_builds_without_deprecation_warnings(tmp_path):
    """The PEP 517 build (setuptools, offline) warns about nothing deprecated (the license is an SPDX string) and
    the wheel holds the modules, the prompts, the bundled example data and the license expression."""
    import setuptools
    from packaging.version import Version

    if Version(setuptools.__version__) < Version("77"):
        pytest.skip(f"setuptools {setuptools.__version__} here; the build needs >= 77 (pip install -e '.[dev]')")
    src, out = tmp_path / "src", tmp_path / "dist"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "venv", ".chaos-llama", "build", "*.egg-info",
                                                             "__pycache__", "node_modules", "*.db", "*.duckdb"))
    out.mkdir()
    done = subprocess.run([sys.executable, "-W", "always", "-c",
                           f"import setuptools.build_meta as b; print(b.build_wheel({str(out)!r}))"],
                          cwd=src, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    noisy = [line for line in log.splitlines() if re.search(r"(?i:deprecat)|SetuptoolsWarning|_Warning:|\bWarning:", line)]
    assert not noisy, noisy
    wheel = out / done.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"chaos_llama/tools/junit.py", "chaos_llama/prompts/optimize_space.md", "chaos_llama/examples/retail/evalset_templates.yaml",
            "chaos_llama/examples/ci/genie-eval.yml"} <= names
    assert any(n.startswith("chaos_llama/examples/retail/data/") for n in names)
    assert "License-Expression: Apache-2.0" in meta and re.search(r"^Requires-Dist: numpy", meta, re.M)
