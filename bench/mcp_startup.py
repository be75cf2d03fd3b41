"""MCP start-up: time from spawning a stdio server to its `initialize` answer.

Spawns a minimal one-tool MCPServer and `chaos-llama serve` alternately N times over stdio (the
SDK's stdio client), reports the median time to the `initialize` answer and the ratio, and writes
the table to docs/BENCHMARKS.md, section "MCP start-up". "Fast" means within 1.2x of the minimal
server measured in the same run: the absolute time is mostly Python and the SDK importing.

    python -m bench.mcp_startup [-n 7] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BENCHMARKS.md"
SECTION = "## MCP start-up"
THRESHOLD = 1.2

MINIMAL_SERVER = '''
from mcp.server.mcpserver import MCPServer

app = MCPServer("minimal")


@app.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


app.run("stdio")
'''


async def time_initialize(command: str, args: list[str], cwd: str) -> float:
    """Seconds from spawning the server to its `initialize` answer (the client's handshake)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=command, args=args, cwd=cwd, env={**os.environ})
    t0 = time.perf_counter()
    async with Client(params):
        elapsed = time.perf_counter() - t0
    return elapsed


def chaos_llama_command() -> tuple[str, list[str]]:
    exe = shutil.which("chaos-llama", path=str(Path(sys.executable).parent))
    if exe:
        return exe, []
    return sys.executable, ["-m", "chaos_llama.tools.cli"]


async def measure(n: int) -> dict[str, list[float]]:
    tmp = Path(tempfile.mkdtemp(prefix="mcp-startup-"))
    minimal = tmp / "minimal_server.py"
    minimal.write_text(MINIMAL_SERVER, encoding="utf-8")
    exe, pre = chaos_llama_command()
    runs: dict[str, list[float]] = {"minimal": [], "chaos-llama": []}
    await time_initialize(sys.executable, [str(minimal)], str(tmp))  # warm the OS file cache once
    for i in range(n):
        order = [("minimal", sys.executable, [str(minimal)]),
                 ("chaos-llama", exe, [*pre, "serve", "--workspace", str(tmp / "ws")])]
        if i % 2:
            order.reverse()  # alternate who goes first
        for name, cmd, args in order:
            runs[name].append(await time_initialize(cmd, args, str(tmp)))
    shutil.rmtree(tmp, ignore_errors=True)
    return runs


def table(runs: dict[str, list[float]]) -> tuple[str, float]:
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["chaos-llama"] / med["minimal"]
    n = len(runs["minimal"])
    lines = [
        SECTION,
        "",
        f"Time from spawning the server over stdio to its `initialize` answer (SDK stdio client), median of {n} "
        "alternating runs. Target: within "
        f"{THRESHOLD}x of a minimal one-tool MCPServer measured in the same run. Reproduce: `python -m bench.mcp_startup`.",
        "",
        "| server | median (s) | min (s) | max (s) |",
        "|---|---|---|---|",
    ]
    for k, v in runs.items():
        lines.append(f"| {k} | {med[k]:.3f} | {min(v):.3f} | {max(v):.3f} |")
    verdict = "fast" if ratio <= THRESHOLD else "SLOW"
    lines += ["", f"Ratio chaos-llama / minimal: **{ratio:.2f}x** ({verdict}). "
              f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs.", ""]
    return "\n".join(lines), ratio


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=7, help="runs per server (default 7)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    runs = asyncio.run(measure(args.n))
    text, ratio = table(runs)
    print(text)
    if not args.no_write:
        from bench._common import write_section

        write_section(SECTION, text, DOC)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0 if ratio <= THRESHOLD else 1


if __name__ == "__main__":
    raise SystemExit(main())
