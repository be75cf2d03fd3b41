"""`chaos-llama label add|list|alignment`: people's verdicts, and how well a judge agrees with them."""

from __future__ import annotations

import argparse
import json
import os

from ..labels import alignment, parse_bool, record_label
from ..store import DEFAULT_WORKSPACE, Store
from . import EXIT_OK

HELP = "record human verdicts and measure judge agreement with them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", default=str(DEFAULT_WORKSPACE), help=f"folder holding the SQLite store (default: ./{DEFAULT_WORKSPACE})")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    acts = p.add_subparsers(dest="label_action", required=True)
    add = acts.add_parser("add", help="record a person's verdict on one question of a run")
    add.add_argument("--run", required=True, help="run id")
    add.add_argument("--case", required=True, help="question id")
    add.add_argument("--judge", required=True, help="judge name, e.g. answers_question")
    add.add_argument("--value", required=True, help="true/false (also yes/no, correct/incorrect)")
    add.add_argument("--note", default="", help="why (shown to the judge as a few-shot rationale)")
    add.add_argument("--labeler", default=None, help="who labeled (default: $USER)")
    ls = acts.add_parser("list", help="list the latest labels")
    ls.add_argument("--judge")
    ls.add_argument("--run")
    al = acts.add_parser("alignment", help="agreement of a judge with the labels: accuracy, Cohen's kappa, confusion")
    al.add_argument("--judge", required=True)


def run(args: argparse.Namespace) -> int:
    with Store.open(args.workspace) as store:
        if args.label_action == "add":
            label = record_label(store, args.run, args.case, args.judge, parse_bool(args.value), note=args.note,
                                 labeler=args.labeler or os.environ.get("USER"))
            print(label.model_dump_json() if args.json else
                  f"labeled {label.case_id} in {label.run_id} for {label.judge}: {str(label.value).lower()} ({label.created_at})")
        elif args.label_action == "list":
            labels = store.get_labels(judge=args.judge, run_id=args.run)
            if args.json:
                print(json.dumps([l.model_dump() for l in labels], indent=2))
            for l in labels if not args.json else []:
                print(f"{l.created_at}  {l.run_id}  {l.case_id}  {l.judge}  {str(l.value).lower()}  {l.note}")
        else:
            a = alignment(store, args.judge)
            if args.json:
                print(a.model_dump_json(indent=2))
            else:
                acc = f"{a.accuracy:.1%}" if a.accuracy is not None else "-"
                kappa = f"{a.kappa:.3f}" if a.kappa is not None else "undefined"
                c = a.confusion
                print(f"judge {a.judge}: {a.compared} compared of {a.labeled} labels ({a.unjudged} without a verdict)")
                print(f"accuracy {acc}, Cohen's kappa {kappa}")
                print(f"judge true/person true {c.true_positive}, judge true/person false {c.false_positive}, "
                      f"judge false/person true {c.false_negative}, judge false/person false {c.true_negative}")
    return EXIT_OK
