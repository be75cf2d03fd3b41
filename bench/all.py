"""Run every benchmark and rewrite its section of docs/BENCHMARKS.md: `python -m bench.all`.

    python -m bench.all [--quick] [--only judge_large,reeval_cost] [--no-write]

`--quick` uses small sizes (a smoke run, minutes less; its figures are not the published ones).
"""

from __future__ import annotations

import argparse
import importlib
import time

from bench import mcp_startup

ORDER = ["mcp_startup", "mcp_latency", "context_budget", "judge_large", "reeval_cost", "throughput", "optimize_efficiency", "dump_load",
         "tracking_cost", "traffic_clustering", "engine_speed", "engine_accuracy", "unseen"]
QUICK = {"mcp_startup": ["-n", "3"], "mcp_latency": ["--calls", "20"], "judge_large": ["--rows", "100000"],
         "reeval_cost": ["--split", "train"], "throughput": ["--questions", "60", "--rate", "600", "--naive-questions", "5"],
         "optimize_efficiency": ["--dbs", "", "--max-epochs", "2"], "dump_load": ["--rows", "5000", "--repeats", "1"],
         "tracking_cost": ["--repeats", "1"], "traffic_clustering": ["--questions", "500"], "engine_speed": ["--repeats", "1"],
         "engine_accuracy": ["--no-defog", "--no-optimize"], "unseen": ["--no-optimize"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or ORDER
    status = 0
    for name in names:
        t0 = time.perf_counter()
        extra = QUICK.get(name, []) if args.quick else []
        if name == "mcp_startup":
            status |= mcp_startup.main([*extra, *(["--no-write"] if args.no_write else [])])
        else:
            status |= importlib.import_module(f"bench.{name}").main([*extra, *([] if args.no_write else ["--write"])])
        print(f"[bench.all] {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
