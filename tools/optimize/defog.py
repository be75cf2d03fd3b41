"""Optimize the defog sql-eval databases offline: `python -m chaos_llama.tools.optimize.defog`.

One space per database (built from its column descriptions by `defog_space`), that database's
questions split 60/20/20 by family, exactly stratified (`balanced_splits`: 5 or 6 test questions per
database rather than 1 to 9), the heuristic proposer, and the offline retrieval engine. Gold SQL is PostgreSQL (cases tagged `dialect:postgres`), executed and
judged in that dialect. Prints baseline and optimized train/val/test accuracy per database.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "defog"


def run(defog_dir: Path, workspace: Path, *, dbs: list[str] | None = None, max_epochs: int = 5, seed: int = 0) -> list[dict]:
    from ..backends.local import LocalGenie
    from ..data.defog import defog_space, load_defog_questions
    from ..data.loaders import build_database
    from ..evalset import balanced_splits
    from ..store import Store
    from .loop import optimize
    from .model import OptimizeSettings

    csv = defog_dir / "questions_gen_postgres.csv"
    names = dbs or sorted(p.name for p in defog_dir.iterdir() if (p / f"{p.name}.sql").exists())
    rows = []
    for db in names:
        t0 = time.perf_counter()
        backend = LocalGenie(build_database([defog_dir / db / f"{db}.sql"]))
        space = defog_space(defog_dir / db)
        evalset = balanced_splits(load_defog_questions(csv, db=db), seed=seed)
        with Store(workspace / f"{db}.db") as store:
            r = optimize(space, evalset, backend, OptimizeSettings(max_epochs=max_epochs, seed=seed, workspace=workspace), store=store,
                         progress=lambda m, db=db: print(f"[{db}] {m}", file=sys.stderr, flush=True))
            # Reporting only, after the loop finished: the initial space's test score, never used to choose.
            from ..runner import RunSettings, run_eval_sync

            base_test = run_eval_sync(evalset, backend, space, RunSettings(split="test", judges=("execution",)), store=store).accuracy or 0.0
        best = next((e.candidate_scores for e in r.epochs if e.candidate_version == r.best_version and e.decision == "accepted"),
                    r.baseline)
        rows.append({
            "db": db, "questions": len(evalset.cases),
            "baseline": {**{s: r.baseline[s].accuracy for s in ("train", "val")}, "test": base_test},
            "optimized": {"train": best["train"].accuracy, "val": r.final.val.accuracy, "test": r.final.test.accuracy},
            "counts": {s: len(evalset.split(s)) for s in ("train", "val", "test")},
            "epochs": len(r.epochs), "accepted": len(r.accepted), "stopped": r.stopped_because,
            "seconds": round(time.perf_counter() - t0, 1),
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos_llama.tools.optimize.defog", description=__doc__.splitlines()[0])
    p.add_argument("--defog-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--workspace", type=Path, default=Path(".chaos-llama-defog"))
    p.add_argument("--db", nargs="*", help="databases (default: all)")
    p.add_argument("--max-epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rows = run(args.defog_dir, args.workspace, dbs=args.db, max_epochs=args.max_epochs, seed=args.seed)
    print("| db | questions (train/val/test) | baseline train/val/test | optimized train/val/test | epochs kept |")
    print("|---|---|---|---|---|")
    for r in rows:
        c = r["counts"]
        print(f"| {r['db']} | {r['questions']} ({c['train']}/{c['val']}/{c['test']}) | {r['baseline']['train']:.0%} / "
              f"{r['baseline']['val']:.0%} / {r['baseline']['test']:.0%} | {r['optimized']['train']:.0%} / "
              f"{r['optimized']['val']:.0%} / {r['optimized']['test']:.0%} | {r['accepted']}/{r['epochs']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
