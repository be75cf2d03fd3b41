"""`chaos-llama evalset info|freeze|import-defog`: an eval set's splits, frozen splits, defog import."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.defog import load_defog_questions
from ..evalset import assign_splits, balanced_splits, load_evalset, save_evalset, split_counts
from . import EXIT_OK

HELP = "inspect an eval set, freeze stratified splits into it, or import the defog format"


def add_arguments(es: argparse.ArgumentParser) -> None:
    es.add_argument("action", choices=["info", "freeze", "import-defog"],
                    help="info: counts per split and category; freeze: write exactly stratified splits into the file "
                         "(--out to write elsewhere); import-defog: convert defog's CSV")
    es.add_argument("path")
    es.add_argument("--db", help="import-defog: one database only")
    es.add_argument("--out")
    es.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    if args.action == "import-defog":
        evalset = load_defog_questions(args.path, db=args.db)
        out = Path(args.out or f"defog_{args.db or 'all'}.yaml")
        save_evalset(evalset, out)
        print(f"wrote {len(evalset.cases)} questions to {out}")
        return EXIT_OK
    if args.action == "freeze":
        evalset = balanced_splits(load_evalset(args.path), seed=args.seed)
        out = Path(args.out or args.path)
        save_evalset(evalset, out)
        print(f"wrote {len(evalset.cases)} questions with fixed, stratified splits to {out}")
    else:
        evalset = assign_splits(load_evalset(args.path), seed=args.seed)
    counts = split_counts(evalset, by_category=True)
    print(json.dumps({"name": evalset.name, "questions": len(evalset.cases), "splits": counts}, indent=2))
    return EXIT_OK
