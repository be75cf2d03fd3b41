"""Offline engine speed: time per question of the grounded engine against the previous engine.

On the bundled retail example (curated space, its default eval set), asks every question through
`LocalGenie.ask_sync` (generation + read-only execution on DuckDB) with the default strategy
(`retrieval`, the grounded composer) and the previous one (`retrieval-legacy`), both in this
process, each after one warming pass that builds its per-space indexes (timed separately as the
first question's cost). Reports p50 / p90 / max per question and the p50 ratio. Goal: p50 <= 50 ms.

    python -m bench.engine_speed [--repeats N] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table, percentile

SECTION = "## Offline engine speed"
STRATEGIES = ("retrieval", "retrieval-legacy")


def run(repeats: int = 3, limit: int | None = None) -> dict[str, Any]:
    from chaos_llama.tools.backends.local import LocalGenie
    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evaluate import bundled_example, load_inputs

    with bundled_example("retail") as ex:
        space, evalset = load_inputs(ex.curated_space, ex.evalset)
        con = build_database([ex.data])
    questions = [c.question for c in evalset.cases][:limit]
    out: dict[str, Any] = {"questions": len(questions), "repeats": repeats, "strategies": {}}
    for name in STRATEGIES:
        genie = LocalGenie(con, strategy=name)
        t0 = time.perf_counter()
        genie.ask_sync(space, questions[0])  # builds the per-space indexes
        first = time.perf_counter() - t0
        for q in questions:  # warm: every later ask reuses them
            genie.ask_sync(space, q)
        times, statuses = [], {}
        for _ in range(repeats):
            for q in questions:
                t0 = time.perf_counter()
                a = genie.ask_sync(space, q)
                times.append(time.perf_counter() - t0)
                statuses[a.status] = statuses.get(a.status, 0) + 1
        out["strategies"][name] = {
            "first_ms": first * 1000, "p50_ms": percentile(times, 50) * 1000, "p90_ms": percentile(times, 90) * 1000,
            "max_ms": max(times) * 1000, "statuses": {k: v // repeats for k, v in statuses.items()},
        }
    new, old = (out["strategies"][n]["p50_ms"] for n in STRATEGIES)
    out["p50_ratio"] = new / old if old else None
    return out


def render(res: dict[str, Any]) -> str:
    rows = [(name, f"{s['p50_ms']:.1f}", f"{s['p90_ms']:.1f}", f"{s['max_ms']:.0f}", f"{s['first_ms']:.0f}",
             ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())))
            for name, s in res["strategies"].items()]
    new = res["strategies"][STRATEGIES[0]]["p50_ms"]
    return "\n".join([
        SECTION, "",
        f"Time per question through `LocalGenie.ask_sync` (generation and read-only execution on DuckDB) on the "
        f"bundled retail example, curated space, its default eval set ({res['questions']} questions x "
        f"{res['repeats']} passes, after one warming pass). `retrieval` is the grounded engine; `retrieval-legacy` "
        "the previous engine, measured in the same process as the baseline. \"first\" is the first question, which "
        "builds the per-space indexes (lexicon, rules, examples). Reproduce: `python -m bench.engine_speed`.", "",
        md_table(["strategy", "p50 (ms)", "p90 (ms)", "max (ms)", "first (ms)", "answers"], rows), "",
        f"p50 of the grounded engine: **{new:.1f} ms** (goal <= 50 ms), **{res['p50_ratio']:.2f}x** the previous "
        "engine's p50 in the same run.", "", machine_line(), "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(args.repeats)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
