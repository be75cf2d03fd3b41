"""Offline engine accuracy with its wrong-answer rate: right / wrong / refused per split.

A *wrong* answer is SQL whose result differs from every gold (execution judge), or any SQL for a
question that expects a refusal; *refused* is NO_SQL. Measured for the grounded engine
(`retrieval`) and the previous one (`retrieval-legacy`) in the same run:

- the bundled retail example's default eval set (and any `--evalset`), curated and sparse spaces,
  and the space the heuristic optimize loop builds from the sparse one (its train/val splits);
- `bench/retail_phrasings.yaml`, a second set of phrasings written for the engine and never used
  to tune it, and `bench/retail_phrasings_levers.yaml`, a third written for the proposers and never
  used to tune them;
- the seven defog databases (`--defog-dir`): every question on the space built from the column
  descriptions, then the heuristic optimize loop (60/20/20 split, seed 0) with train and test
  before and after.

    python -m bench.engine_accuracy [--evalset PATH ...] [--defog-dir DIR] [--no-defog] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench._common import ROOT, add_common_args, finish, machine_line, md_table

SECTION = "## Offline engine accuracy"
PHRASINGS = ROOT / "bench" / "retail_phrasings.yaml"
PHRASINGS_LEVERS = ROOT / "bench" / "retail_phrasings_levers.yaml"  # written by the proposer work, scored only
DEFOG = ROOT.parent / "shared" / "datasets" / "defog"
STRATEGIES = ("retrieval", "retrieval-legacy")


def outcome(genie, space, case, dialect: str = "databricks") -> str:
    """right | wrong | refused for one question, judged like an eval run."""
    from chaos_llama.tools.judges import execution
    from chaos_llama.tools.judges.base import GoldResult

    a = genie.ask_sync(space, case.question)
    if a.status != "COMPLETED":
        return "right" if case.expects_refusal else "refused"
    if case.expects_refusal:
        return "wrong"
    golds = []
    for g in case.gold_sql:
        try:
            golds.append(GoldResult(sql=g, result=genie.execute(g, space=space, dialect=dialect)))
        except Exception as e:  # a gold that does not run on this engine is reported, not fatal
            golds.append(GoldResult(sql=g, error=str(e)))
    v = execution.judge(case, generated=a, expected=golds, dialect=dialect)
    return "right" if v.value else "wrong"


def score(genie, space, cases, dialect: str = "databricks") -> dict[str, int]:
    out = {"n": 0, "right": 0, "wrong": 0, "refused": 0}
    for c in cases:
        out[outcome(genie, space, c, dialect)] += 1
        out["n"] += 1
    return out


def _optimized(space, evalset, backend, workspace: Path):
    from chaos_llama.tools.optimize.loop import optimize
    from chaos_llama.tools.optimize.model import OptimizeSettings
    from chaos_llama.tools.space.io import space_from_yaml
    from chaos_llama.tools.store import Store

    with Store(workspace / "opt.db") as store:
        r = optimize(space, evalset, backend, OptimizeSettings(max_epochs=5, workspace=workspace), store=store)
    return space_from_yaml(r.best_space_yaml)


def run_retail(evalsets: list[Path], optimize: bool = True, limit: int | None = None) -> list[dict[str, Any]]:
    from chaos_llama.tools.backends.local import LocalGenie
    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evaluate import bundled_example, load_inputs

    rows = []
    with bundled_example("retail") as ex, tempfile.TemporaryDirectory() as tmp:
        con = build_database([ex.data])
        paths = [ex.evalset, *evalsets]
        for path in paths:
            spaces = {}
            for which, sp in (("curated", ex.curated_space), ("sparse", ex.sparse_space)):
                spaces[which], evalset = load_inputs(sp, path)
            phrasings = load_inputs(ex.curated_space, PHRASINGS)[1]
            phrasings_levers = load_inputs(ex.curated_space, PHRASINGS_LEVERS)[1]
            for strategy in STRATEGIES:
                genie = LocalGenie(con, strategy=strategy)
                chosen = dict(spaces)
                if optimize:
                    ws = Path(tmp) / f"{Path(path).stem}-{strategy}"
                    ws.mkdir()
                    chosen["optimized from sparse"] = _optimized(spaces["sparse"], evalset, genie, ws)
                for which, space in chosen.items():
                    by_split = {s: score(genie, space, evalset.split(s)[:limit]) for s in ("train", "val", "test")}
                    rows.append({"evalset": Path(path).name, "space": which, "strategy": strategy, **{
                        f"{s}": v for s, v in by_split.items()}, "phrasings": score(genie, space, phrasings.cases[:limit]),
                        "phrasings_levers": score(genie, space, phrasings_levers.cases[:limit])})
    return rows


def run_defog(defog_dir: Path) -> list[dict[str, Any]]:
    from chaos_llama.tools.backends.local import LocalGenie
    from chaos_llama.tools.data.defog import defog_space, load_defog_questions
    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evalset import balanced_splits

    rows = []
    csv = defog_dir / "questions_gen_postgres.csv"
    for db in sorted(p.name for p in defog_dir.iterdir() if (p / f"{p.name}.sql").exists()):
        con = build_database([defog_dir / db / f"{db}.sql"])
        space = defog_space(defog_dir / db)
        evalset = balanced_splits(load_defog_questions(csv, db=db), seed=0)
        for strategy in STRATEGIES:
            genie = LocalGenie(con, strategy=strategy)
            ws = Path(tempfile.mkdtemp())
            try:
                best = _optimized(space, evalset, genie, ws)
            finally:
                shutil.rmtree(ws, ignore_errors=True)
            row = {"db": db, "strategy": strategy, "all": score(genie, space, evalset.cases, "postgres")}
            for s in ("train", "test"):
                row[f"{s}_before"] = score(genie, space, evalset.split(s), "postgres")
                row[f"{s}_after"] = score(genie, best, evalset.split(s), "postgres")
            rows.append(row)
    return rows


def run(evalsets: list[Path] = (), defog_dir: Path | None = DEFOG, optimize: bool = True,
        limit: int | None = None) -> dict[str, Any]:
    res = {"retail": run_retail(list(evalsets), optimize, limit)}
    if defog_dir is not None and defog_dir.exists():
        res["defog"] = run_defog(defog_dir)
    return res


def _rwr(s: dict[str, int]) -> str:
    n = s["n"] or 1
    return f"{s['right'] / n:.0%} / {s['wrong'] / n:.0%} / {s['refused'] / n:.0%} ({s['n']})"


def render(res: dict[str, Any]) -> str:
    lines = [SECTION, "",
             "Right / wrong / refused (share of questions, count in brackets). Wrong = SQL whose result differs from "
             "every gold (execution judge), or SQL for a question that expects a refusal; refused = NO_SQL. "
             "`retrieval` is the grounded engine, `retrieval-legacy` the previous engine, both in this run. "
             "\"optimized from sparse\" is the space the heuristic optimize loop (5 epochs) builds from the sparse "
             "space on the eval set's train/val splits; its test split is held out. `retail_phrasings` "
             "(`bench/retail_phrasings.yaml`, 40 questions) was written for the engine and never used to tune it; "
             "`retail_phrasings_levers` (`bench/retail_phrasings_levers.yaml`, 16 questions) was written for the "
             "proposers and never used to tune them. "
             "Reproduce: `python -m bench.engine_accuracy` (add `--evalset PATH` for another retail eval set).", ""]
    rows = [(r["evalset"], r["space"], r["strategy"], _rwr(r["train"]), _rwr(r["val"]), _rwr(r["test"]),
             _rwr(r["phrasings"]), _rwr(r["phrasings_levers"]) if "phrasings_levers" in r else "-") for r in res["retail"]]
    lines += [md_table(["eval set", "space", "strategy", "train", "val", "test", "retail_phrasings",
                        "retail_phrasings_levers"], rows), ""]
    if res.get("defog"):
        lines += ["defog sql-eval databases: every question on the space built from the column descriptions, then "
                  "the heuristic optimize loop (60/20/20 by family, exactly stratified, seed 0): train and test before -> after.", ""]
        drows = [(r["db"], r["strategy"], _rwr(r["all"]),
                  f"{_rwr(r['train_before'])} -> {_rwr(r['train_after'])}",
                  f"{_rwr(r['test_before'])} -> {_rwr(r['test_after'])}") for r in res["defog"]]
        lines += [md_table(["db", "strategy", "all questions", "train before -> after", "test before -> after"],
                           drows), ""]
        for strategy in STRATEGIES:
            rs = [r for r in res["defog"] if r["strategy"] == strategy]
            wrong = sum(r["all"]["wrong"] for r in rs)
            rise = [r["db"] for r in rs if r["test_after"]["wrong"] > r["test_before"]["wrong"]]
            lines.append(f"- `{strategy}`: {sum(r['all']['right'] for r in rs)} right and {wrong} wrong of "
                         f"{sum(r['all']['n'] for r in rs)}; test wrong answers rose on: {', '.join(rise) or 'none'}.")
        lines.append("")
    lines += [machine_line(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evalset", type=Path, action="append", default=[], help="another retail eval set (YAML)")
    ap.add_argument("--defog-dir", type=Path, default=DEFOG)
    ap.add_argument("--no-defog", action="store_true")
    ap.add_argument("--no-optimize", action="store_true", help="skip the optimize loops (quick)")
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(args.evalset, None if args.no_defog else args.defog_dir, optimize=not args.no_optimize)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
