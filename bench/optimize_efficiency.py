"""Optimization efficiency: held-out accuracy gained per backend question spent, per proposer.

Runs the optimizer (`tools/optimize/`) offline on the bundled retail example (from the sparse
space) and on defog databases (`--dbs`, default two of the seven to stay within minutes), with
the embedded retrieval engine, and reports baseline vs optimized val/test accuracy and the
backend questions the loop spent (`OptimizationResult.backend_calls`).

Proposers: `heuristic`. The `llm` proposer is excluded: it needs a chat model, and the project
has no recorded replay of its requests for these spaces, so it cannot run offline here.

    python -m bench.optimize_efficiency [--dbs restaurants,geography] [--max-epochs 3] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import ROOT, add_common_args, finish, machine_line, md_table

SECTION = "## Optimization efficiency"
DEFOG = ROOT.parent / "shared" / "datasets" / "defog"


def _row(name: str, r: Any, base_test: float | None, seconds: float) -> dict[str, Any]:
    return {"dataset": name, "proposer": r.proposer, "backend_calls": r.backend_calls,
            "val_before": r.baseline["val"].accuracy if "val" in r.baseline else None,
            "val_after": r.final.val.accuracy if r.final else None, "test_before": base_test,
            "test_after": r.final.test.accuracy if r.final else None, "epochs": len(r.epochs),
            "accepted": len(r.accepted), "seconds": seconds}


def run(dbs: list[str], max_epochs: int = 3, seed: int = 0) -> dict[str, Any]:
    from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
    from chaos_llama.tools.optimize.loop import optimize
    from chaos_llama.tools.optimize.model import OptimizeSettings
    from chaos_llama.tools.runner import RunSettings, run_eval_sync
    from chaos_llama.tools.store import Store

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        with bundled_example("retail") as ex:
            space, evalset = load_inputs(ex.sparse_space, ex.evalset, seed=seed)
            backend = open_local_backend([ex.data])
        t0 = time.perf_counter()
        with Store(ws / "retail.db") as store:
            r = optimize(space, evalset, backend, OptimizeSettings(max_epochs=max_epochs, seed=seed, workspace=ws / "retail"),
                         store=store)
            base = run_eval_sync(evalset, backend, space, RunSettings(split="test", judges=("execution",)), store=store).accuracy
        rows.append(_row("retail (sparse space)", r, base, time.perf_counter() - t0))
        if dbs and (DEFOG / "questions_gen_postgres.csv").is_file():
            from chaos_llama.tools.backends.local import LocalGenie
            from chaos_llama.tools.data.defog import defog_space, load_defog_questions
            from chaos_llama.tools.data.loaders import build_database
            from chaos_llama.tools.evalset import balanced_splits

            for db in dbs:
                t0 = time.perf_counter()
                backend = LocalGenie(build_database([DEFOG / db / f"{db}.sql"]))
                space = defog_space(DEFOG / db)
                evalset = balanced_splits(load_defog_questions(DEFOG / "questions_gen_postgres.csv", db=db), seed=seed)
                with Store(ws / f"{db}.db") as store:
                    r = optimize(space, evalset, backend, OptimizeSettings(max_epochs=max_epochs, seed=seed, workspace=ws / db),
                                 store=store)
                    base = run_eval_sync(evalset, backend, space, RunSettings(split="test", judges=("execution",)), store=store).accuracy
                rows.append(_row(f"defog {db}", r, base, time.perf_counter() - t0))
    return {"max_epochs": max_epochs, "seed": seed, "rows": rows,
            "excluded": {"llm": "needs a chat model; no recorded replay for these spaces, so it cannot run offline"}}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def render(res: dict[str, Any]) -> str:
    rows = []
    for r in res["rows"]:
        gain = (r["test_after"] or 0) - (r["test_before"] or 0)
        per100 = gain * 100 / r["backend_calls"] * 100 if r["backend_calls"] else 0.0
        rows.append((r["dataset"], r["proposer"], r["backend_calls"], f"{_pct(r['val_before'])} → {_pct(r['val_after'])}",
                     f"{_pct(r['test_before'])} → {_pct(r['test_after'])}", f"{per100:+.1f}", f"{r['accepted']}/{r['epochs']}",
                     f"{r['seconds']:.0f}"))
    return "\n".join([
        SECTION, "",
        f"Offline (retrieval engine, no LLM), seed {res['seed']}, at most {res['max_epochs']} epochs. Backend questions "
        "are everything the loop asked (train, val, re-asks and the final test); test before is scored after the loop "
        "for this table only. Reproduce: `python -m bench.optimize_efficiency`.", "",
        md_table(["dataset", "proposer", "backend questions", "val before → after", "test before → after",
                  "test points per 100 questions", "epochs kept", "time (s)"], rows), "",
        "Excluded: the `llm` proposer — " + res["excluded"]["llm"] + ".",
        "", machine_line(), "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbs", default="restaurants,geography", help="defog databases, comma-separated ('' for none)")
    ap.add_argument("--max-epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run([d for d in args.dbs.split(",") if d], args.max_epochs, args.seed)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
