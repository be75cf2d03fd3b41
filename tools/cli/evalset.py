"""`chaos-llama evalset info|check|freeze|import-defog`: an eval set's splits and families, its gold
checks and leakage, frozen family-grouped splits, the defog import."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..backends import open_backend
from ..data.defog import load_defog_questions
from ..evalset import assign_splits, freeze_splits, load_evalset, save_evalset, split_counts
from ..families import infer_families, leakage
from ..project import BackendConfig
from ..runner import check_golds
from ..space.io import load_space
from . import EXIT_BAD_INPUT, EXIT_OK

HELP = "inspect an eval set (splits, families, leakage), check its gold SQL, freeze family-grouped splits, import defog"


def add_arguments(es: argparse.ArgumentParser) -> None:
    es.add_argument("action", choices=["info", "check", "freeze", "import-defog"],
                    help="info: counts per split and category, families and leakage; check: run every gold query "
                         "(with --data) and list leakage, exit 2 on any problem; freeze: write family-grouped, "
                         "stratified splits into the file (--out to write elsewhere); import-defog: convert defog's "
                         "CSV (questions_gen_postgres.csv, or idk.csv as expected refusals)")
    es.add_argument("path")
    es.add_argument("--data", nargs="+", help="check: data to run the gold SQL on (CSV/Parquet, .duckdb, PostgreSQL dump)")
    es.add_argument("--space", help="check: the space whose tables the gold SQL names (default: the tables as written)")
    es.add_argument("--db", help="import-defog: one database only")
    es.add_argument("--out")
    es.add_argument("--seed", type=int, default=0)
    es.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    if args.action == "import-defog":
        evalset = load_defog_questions(args.path, db=args.db)
        out = Path(args.out or f"defog_{args.db or 'all'}.yaml")
        save_evalset(evalset, out)
        refusals = sum(1 for c in evalset.cases if c.expects_refusal)
        print(f"wrote {len(evalset.cases)} questions to {out}" + (f" ({refusals} expected refusals)" if refusals else ""))
        return EXIT_OK
    if args.action == "freeze":
        frozen, moved = freeze_splits(load_evalset(args.path), seed=args.seed)
        out = Path(args.out or args.path)
        save_evalset(frozen, out)
        print(f"wrote {len(frozen.cases)} questions with family-grouped, stratified splits to {out}")
        for m in moved:
            print(f"moved {m.case_id} from {m.was} to {m.now}: its family {m.family} spanned splits")
        if not moved:
            print("no split moved: no family spanned splits")
        return EXIT_OK
    evalset = load_evalset(args.path)
    families = infer_families(evalset.cases)
    report = leakage(assign_splits(evalset, seed=args.seed).cases, families)
    if args.action == "info":
        evalset = assign_splits(evalset, seed=args.seed)
        counts = split_counts(evalset, by_category=True)
        info = {"name": evalset.name, "questions": len(evalset.cases),
                "expected_refusals": sum(1 for c in evalset.cases if c.expects_refusal), "splits": counts,
                "leakage": report.counts()}
        print(json.dumps(info, indent=2))
        return EXIT_OK
    # check
    golds = []
    if args.data:
        space = load_space(args.space) if args.space else None
        backend = open_backend(BackendConfig(kind="local"), data=args.data)
        golds = check_golds(evalset, backend, space)
    if args.json:
        print(json.dumps({"gold_errors": [g.model_dump() for g in golds], "leakage": report.model_dump(),
                          "checked_golds": sum(len(c.gold_sql) for c in evalset.cases) if args.data else 0}, indent=2))
    else:
        for g in golds:
            print(f"{args.path}: {g.case_id}: gold_sql[{g.alternative}] does not run: {g.error}")
        for f in report.families_across_splits:
            print(f"{args.path}: family {f.family} spans splits: " + "; ".join(f"{s}: {', '.join(ids)}" for s, ids in f.splits.items()))
        for d in report.near_duplicates:
            print(f"{args.path}: near-duplicate questions across splits: {d.a} ({d.split_a}) ~ {d.b} ({d.split_b}), "
                  f"similarity {d.similarity:.2f}")
        checked = f"{sum(len(c.gold_sql) for c in evalset.cases)} gold queries run, {len(golds)} failed; " if args.data else \
            "gold queries not run (give --data); "
        print(f"{checked}{len(report.families_across_splits)} families across splits, {len(report.near_duplicates)} "
              "near-duplicate questions across splits")
    return EXIT_BAD_INPUT if golds or report.total else EXIT_OK
