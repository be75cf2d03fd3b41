"""MCP server latency: p50/p99 of `space_get` and of a fully cached `eval_run`, and peak RSS.

Spawns `chaos-llama serve` (bundled retail example, a temporary workspace) over stdio with the
real SDK client, warms the answer cache with one `eval_run` on train, then times `--calls` calls
of `space_get` and of `eval_run` (split train; every answer cached, so 0 backend questions) and
reads the server's peak RSS (VmHWM in /proc/<pid>/status). Budgets are raised through
`CHAOS_LLAMA_BUDGET_*` variables so the server does not refuse the repeated runs. Start-up is
measured by `bench.mcp_startup` (reused by `bench.all`).

    python -m bench.mcp_latency [--calls 200] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table, median, percentile

SECTION = "## MCP tool latency"
BUDGETS = {"CHAOS_LLAMA_BUDGET_BACKEND_QUESTIONS": "1000000", "CHAOS_LLAMA_BUDGET_SQL_EXECUTIONS": "10000000",
           "CHAOS_LLAMA_BUDGET_WALL_CLOCK_S": "1000000", "CHAOS_LLAMA_BUDGET_LLM_TOKENS": "100000000"}


def _children() -> list[int]:
    me, out = os.getpid(), []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:
                out.append(int(d.name))
    return out


def _hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


async def measure(calls: int) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from bench.mcp_startup import chaos_llama_command

    exe, pre = chaos_llama_command()
    with tempfile.TemporaryDirectory() as tmp:
        before = set(_children())
        params = StdioServerParameters(command=exe, args=[*pre, "serve", "--workspace", str(Path(tmp) / "ws")], cwd=tmp,
                                       env={**os.environ, **BUDGETS})
        async with Client(params) as c:
            pids = [p for p in _children() if p not in before]
            t0 = time.perf_counter()
            first = await c.call_tool("eval_run", {"split": "train"})
            warm_s = time.perf_counter() - t0
            if first.is_error:
                raise RuntimeError(f"eval_run failed: {first.content}")
            status0 = (await c.call_tool("budget_status", {})).structured_content
            times: dict[str, list[float]] = {"space_get": [], "eval_run (cached, train)": []}
            for name, tool, args in (("space_get", "space_get", {}), ("eval_run (cached, train)", "eval_run", {"split": "train"})):
                for _ in range(calls):
                    t = time.perf_counter()
                    r = await c.call_tool(tool, args)
                    times[name].append(time.perf_counter() - t)
                    if r.is_error:
                        raise RuntimeError(f"{tool} failed: {r.content}")
            status1 = (await c.call_tool("budget_status", {})).structured_content
            hwm = max((_hwm_kb(p) or 0) for p in pids) if pids else None
    return {"calls": calls, "warm_eval_run_s": warm_s, "times": times, "peak_rss_mb": hwm / 1024 if hwm else None,
            "budget_before": status0, "budget_after": status1}


def run(calls: int = 200) -> dict[str, Any]:
    res = asyncio.run(measure(calls))
    res["latency"] = {k: {"p50_ms": median(v) * 1000, "p99_ms": percentile(v, 99) * 1000, "max_ms": max(v) * 1000}
                      for k, v in res["times"].items()}
    return res


def render(res: dict[str, Any]) -> str:
    rows = [(k, res["calls"], v["p50_ms"], v["p99_ms"], v["max_ms"]) for k, v in res["latency"].items()]
    return "\n".join([
        SECTION, "",
        "`chaos-llama serve` (bundled retail example) over stdio, real SDK client, calls in sequence. `eval_run` "
        "is timed after one warming run, so every answer is cached (0 backend questions); it still records a new "
        "run with every row and verdict, copying the built-in judges' verdicts from the verdict cache (keyed by "
        "judge code, case, space version, answer and gold contents) instead of judging again. "
        f"The warming run took {res['warm_eval_run_s']:.1f} s. Reproduce: `python -m bench.mcp_latency`.", "",
        md_table(["tool", "calls", "p50 (ms)", "p99 (ms)", "max (ms)"], rows), "",
        f"Peak RSS of the server process (VmHWM): **{res['peak_rss_mb']:.0f} MB**." if res["peak_rss_mb"] else
        "Peak RSS: not available (no /proc).",
        f"Backend questions spent before / after the {2 * res['calls']} timed calls: "
        f"{_spent(res['budget_before'])} / {_spent(res['budget_after'])} (SQL executions "
        f"{_spent(res['budget_before'], 'sql_executions')} / {_spent(res['budget_after'], 'sql_executions')}).",
        "", machine_line(), "",
    ])


def _spent(status: Any, kind: str = "backend_questions") -> Any:
    for line in (status or {}).get("lines", []):
        if line.get("kind") == kind:
            return int(line["spent"])
    return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(args.calls)
    res.pop("times", None) if not args.json else None
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
