"""How much of an assistant's context a full optimization session costs: `python -m bench.context_budget`.

Plays a scripted session against `chaos-llama serve` (the bundled retail example, over stdio with
the real SDK client): tools/list, space_get, evalset_info, data_schema, eval_run train and val,
eval_failures, ask, space_propose, space_diff, space_apply, eval_run train again (with its paired
comparison), compare_runs, eval_final_test and report. It counts the characters the assistant
reads and writes per call (the request's arguments and the result's text content, which is what
a client shows the model; the structured copy is for programs) and reports tokens as
characters / 4. Budget: tools/list <= 16 KB, each result <= 10,000 characters by default and never
over 50,000, the whole session <= 40k tokens of tool I/O.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table

SECTION = "## Assistant context budget"
LIMITS = {"tools_list": 16 * 1024, "result": 10_000, "result_max": 50_000, "session_tokens": 40_000}
EDIT = {"op": "add_column_synonyms", "table": "main.retail.orders", "column": "stat_cd", "synonyms": ["status", "order status"]}


async def session(workspace: Path) -> list[dict[str, Any]]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    exe = shutil.which("chaos-llama", path=str(Path(sys.executable).parent)) or "chaos-llama"
    params = StdioServerParameters(command=exe, args=["serve", "--workspace", str(workspace)], cwd=str(workspace))
    calls: list[dict[str, Any]] = []
    async with Client(params) as c:
        tools = (await c.list_tools()).tools
        listed = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], separators=(",", ":"))
        calls.append({"step": "tools/list", "args": 0, "result": len(listed)})

        async def call(name: str, args: dict[str, Any]) -> Any:
            r = await c.call_tool(name, args)
            text = "".join(getattr(b, "text", "") for b in r.content)
            calls.append({"step": name + (f"({args.get('split')})" if "split" in args else ""),
                          "args": len(json.dumps(args)), "result": len(text), "error": r.is_error})
            return r

        await call("space_get", {})
        await call("evalset_info", {})
        await call("data_schema", {"table": "orders"})
        train = (await call("eval_run", {"split": "train"})).structured_content["run_id"]
        val = (await call("eval_run", {"split": "val"})).structured_content["run_id"]
        await call("eval_failures", {"run_id": train})
        await call("ask", {"question": "How many completed orders were placed in 2024?"})
        prop = await call("space_propose", {"changes": [EDIT], "message": "status is what users call stat_cd"})
        await call("space_diff", {"a": "1", "b": "1"})
        pid = re.search(r"p-[0-9a-f]{32}", "".join(getattr(b, "text", "") for b in prop.content)).group(0)
        await call("space_apply", {"preview_id": pid, "message": "synonyms for the order status"})
        train2 = (await call("eval_run", {"split": "train"})).structured_content["run_id"]
        await call("eval_run", {"split": "val"})
        await call("compare_runs", {"a": train, "b": train2})
        await call("eval_final_test", {})
        await call("report", {})
        del val
    return calls


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        calls = asyncio.run(session(Path(tmp)))
    total = sum(c["args"] + c["result"] for c in calls)
    results = [c["result"] for c in calls if c["step"] != "tools/list"]
    return {"calls": calls, "tools_list": calls[0]["result"], "largest_result": max(results), "session_chars": total,
            "session_tokens": total // 4, "errors": [c["step"] for c in calls if c.get("error")]}


def render(res: dict[str, Any]) -> str:
    rows = [(c["step"], c["args"], c["result"], (c["args"] + c["result"]) // 4) for c in res["calls"]]
    ok = (res["tools_list"] <= LIMITS["tools_list"] and res["largest_result"] <= LIMITS["result"]
          and res["session_tokens"] <= LIMITS["session_tokens"] and not res["errors"])
    return "\n".join([
        SECTION, "",
        "A full scripted optimization session on the bundled example over stdio (real SDK client), counting what the "
        "assistant reads and writes: each request's arguments and each result's text (tokens = characters / 4). "
        "Reproduce: `python -m bench.context_budget`.", "",
        md_table(["step", "request chars", "result chars", "tokens"], rows), "",
        f"tools/list: **{res['tools_list']:,} characters** (budget {LIMITS['tools_list']:,}); largest result "
        f"**{res['largest_result']:,}** (budget {LIMITS['result']:,} by default, never over {LIMITS['result_max']:,}); "
        f"whole session **{res['session_tokens']:,} tokens** of tool I/O (budget {LIMITS['session_tokens']:,}). "
        + ("Within budget." if ok else f"OVER BUDGET (errors: {res['errors']})."), "",
        machine_line(), "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run()
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
