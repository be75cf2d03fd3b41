"""Shared plumbing of the benchmarks: machine facts, Markdown tables, `--json`, and the doc writer.

Every benchmark measures its baseline in the same process and run as the thing it compares, on
the same machine, so its claims are ratios rather than absolute timings from elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BENCHMARKS.md"


def machine() -> dict[str, Any]:
    """What a figure was measured on (printed under every table)."""
    return {"python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count()}


def machine_line() -> str:
    m = machine()
    return f"Python {m['python']}, {m['system']}, {m['cpus']} CPUs."


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); exact on the measured samples, no interpolation."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def add_common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    ap.add_argument("--write", action="store_true", help="replace this benchmark's section of docs/BENCHMARKS.md")


def finish(args: argparse.Namespace, result: dict[str, Any], section: str, text: str) -> None:
    """Print the section, write JSON and (with --write) the doc section."""
    print(text, flush=True)
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps({**result, "machine": machine()}, indent=2, default=str), encoding="utf-8")
    if getattr(args, "write", False):
        write_section(section, text)
        print(f"wrote {DOC.relative_to(ROOT)} ({section})", file=sys.stderr)


def write_section(section: str, text: str, path: Path = DOC) -> None:
    """Replace (or append) one `## ` section; the other sections of the file are left as they are."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(section))
        new = old[:start] + text.rstrip("\n") + "\n" + ("\n" + old[nxt + 1:] if nxt >= 0 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
