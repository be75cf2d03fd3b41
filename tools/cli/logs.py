"""`chaos-llama logs ...`: the data flywheel, from a Genie space's real traffic to eval cases.

    chaos-llama logs import --space-id ID [--profile P]        # from Genie (incremental, resumable)
    chaos-llama logs import traffic.jsonl [--space-id ID]      # from a file export
    chaos-llama logs fix-first --example retail                # failing clusters by traffic x failure rate, coverage
    chaos-llama logs clusters --space s.yaml --evalset e.yaml  # every cluster
    chaos-llama logs candidates ...                            # failure and regression candidates to review
    chaos-llama logs accept CANDIDATE --gold-sql "SELECT ..."  # into the eval set, family and split kept leak-free
    chaos-llama logs reject CANDIDATE --note "..."
    chaos-llama logs review --judge answers_question --judge-model databricks:<endpoint>   # an aligned LLM judge
    chaos-llama logs export --out traffic.jsonl | redact --redact all
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from rich.table import Table

from ..backends.databricks import DatabricksGenie
from ..chat import Chat
from ..errors import InvalidInput
from ..evalset import load_evalset
from ..evaluate import bundled_example, open_local_backend
from ..judges.llm import judge_runtime
from ..logs import ImportSettings, Redaction, export_logs, import_file, import_from_genie, redact_stored, traffic_space
from ..space.io import load_space
from ..store import DEFAULT_WORKSPACE, Store
from ..traffic import Flywheel, run_outcomes
from . import EXIT_OK
from ._common import console

HELP = "the data flywheel: import a Genie space's real traffic, cluster it, review candidates into the eval set"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", default=str(DEFAULT_WORKSPACE), help=f"folder holding the SQLite store (default: ./{DEFAULT_WORKSPACE})")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    acts = p.add_subparsers(dest="logs_action", required=True, metavar="ACTION")

    imp = acts.add_parser("import", help="import conversations, messages, SQL, statuses, errors and feedback (new ones only)")
    imp.add_argument("file", nargs="?", help="a file export (JSON/JSONL in Genie's JSON); default: the Genie space --space-id")
    imp.add_argument("--space-id", help="the Genie space (required from Genie; for a file, overrides the space ids it holds)")
    imp.add_argument("--profile", help="~/.databrickscfg profile (default: unified auth)")
    imp.add_argument("--host", help="workspace URL (default: from the profile or DATABRICKS_HOST)")
    imp.add_argument("--mine", action="store_true", help="only your own conversations (without CAN MANAGE on the space)")
    imp.add_argument("--revisit-days", type=float, default=7, help="re-read conversations this much older than the newest "
                                                                    "imported one, for follow-ups and late feedback (default 7)")
    imp.add_argument("--rate", type=float, default=None, metavar="CALLS_PER_MINUTE", help="space API calls (429s are always honoured)")
    imp.add_argument("--max-conversations", type=int, help="stop after reading this many; run again to continue")
    imp.add_argument("--no-comments", action="store_true", help="do not read the comments of rated messages")
    _redaction_args(imp)

    for name, text in (("fix-first", "failing clusters ranked by traffic x failure rate, coverage and accuracy on real traffic"),
                       ("clusters", "every cluster of the traffic: traffic, ratings, status mix, coverage, out-of-domain"),
                       ("candidates", "failure and regression candidates waiting for review"),
                       ("accept", "add a candidate to the eval set (a person's review)"),
                       ("reject", "record that a candidate is not an eval case"),
                       ("review", "let an LLM judge whose agreement with people is known review regression candidates")):
        sp = acts.add_parser(name, help=text)
        if name in ("accept", "reject"):
            sp.add_argument("candidate", help="candidate id (from `logs candidates`)")
        _space_args(sp)
        if name == "fix-first":
            sp.add_argument("--limit", type=int, default=10)
            sp.add_argument("--before", nargs="+", metavar="RUN", help="runs of the version before (e.g. its train, val, test runs)")
            sp.add_argument("--after", nargs="+", metavar="RUN", help="runs of the version after (accuracy on real traffic)")
            sp.add_argument("--evalset-before", help="the eval set before candidates joined (coverage before)")
        elif name == "clusters":
            sp.add_argument("--limit", type=int, default=30)
        elif name == "candidates":
            sp.add_argument("--kind", choices=["failure", "regression"])
            sp.add_argument("--state", choices=["pending", "approved", "accepted", "rejected", "all"], default="pending")
            sp.add_argument("--limit", type=int, default=20)
        elif name == "accept":
            gold = sp.add_mutually_exclusive_group()
            gold.add_argument("--gold-sql", help="the gold query (default for a regression candidate: Genie's SQL)")
            gold.add_argument("--gold-file", help="a file holding the gold query")
            gold.add_argument("--refusal", action="store_true", help="the right outcome is a refusal (the data cannot answer it)")
            sp.add_argument("--reason", help="why it must be refused (with --refusal)")
            sp.add_argument("--category", help="the case's category (default: its family's, else 'traffic')")
            sp.add_argument("--no-test", action="store_true", help="never place it in the test split")
            sp.add_argument("--note", default="")
            sp.add_argument("--reviewer", default=None, help="who reviewed (default: $USER)")
        elif name == "reject":
            sp.add_argument("--note", default="")
            sp.add_argument("--reviewer", default=None)
        else:
            sp.add_argument("--judge", default="answers_question", help="an LLM judge (default answers_question)")
            sp.add_argument("--judge-model", help="'databricks:<serving endpoint>' or a model at --judge-base-url "
                                                  "(default: CHAOS_JUDGE_MODEL)")
            sp.add_argument("--judge-base-url")
            sp.add_argument("--judge-api-key-env")
            sp.add_argument("--min-labels", type=int, default=20, help="labels the judge must have been compared on (default 20)")
            sp.add_argument("--min-kappa", type=float, default=0.6, help="Cohen's kappa the judge must reach (default 0.6)")
            sp.add_argument("--accept", action="store_true", help="also add every approved candidate to the eval set")

    ex = acts.add_parser("export", help="write the imported traffic as JSONL (Genie's JSON), e.g. for offline use")
    ex.add_argument("--out", required=True)
    ex.add_argument("--space-id", help="whose traffic (default: the only space imported)")
    red = acts.add_parser("redact", help="redact traffic already in the store (question text and comments)")
    red.add_argument("--space-id", help="whose traffic (default: the only space imported)")
    _redaction_args(red, default="all")


def _redaction_args(sp: argparse.ArgumentParser, default: str = "pii") -> None:
    sp.add_argument("--redact", choices=["none", "pii", "all"], default=default,
                    help=f"question text and comments: as typed, with e-mails and long numbers masked, or not kept (default {default})")
    sp.add_argument("--redact-pattern", action="append", default=[], metavar="REGEX", help="also mask this pattern (repeatable)")


def _space_args(sp: argparse.ArgumentParser) -> None:
    src = sp.add_mutually_exclusive_group()
    src.add_argument("--space", help="the space file (its metadata grounds questions)")
    src.add_argument("--example", help="a bundled example, e.g. retail (its curated space and eval set)")
    sp.add_argument("--evalset", help="the eval set file (accepted candidates are added to it)")
    sp.add_argument("--data", nargs="+", help="the data (CSV/Parquet, .duckdb, a PostgreSQL dump): its values ground questions, "
                                              "gold SQL is checked on it")
    sp.add_argument("--space-id", help="whose traffic (default: the only space imported)")
    sp.add_argument("--seed", type=int, default=0, help="train/val/test split seed")


def _redaction(args: argparse.Namespace) -> Redaction:
    return Redaction(mode=args.redact, patterns=args.redact_pattern)


def run(args: argparse.Namespace) -> int:
    with Store.open(args.workspace) as store:
        if args.logs_action == "import":
            return _import(args, store)
        if args.logs_action == "export":
            sid = traffic_space(store, args.space_id)
            n = export_logs(store, sid, args.out)
            print(f"{n} messages of space {sid} -> {args.out}")
            return EXIT_OK
        if args.logs_action == "redact":
            sid = traffic_space(store, args.space_id)
            print(f"{redact_stored(store, sid, _redaction(args))} messages of space {sid} redacted ({args.redact})")
            return EXIT_OK
        with _flywheel(args, store) as fw:
            return _ACTIONS[args.logs_action](args, fw)


def _import(args: argparse.Namespace, store: Store) -> int:
    if args.file:
        results = import_file(store, args.file, space_id=args.space_id, redaction=_redaction(args))
    else:
        if not args.space_id:
            raise InvalidInput("name the Genie space (--space-id), or give a file export to import", field="space_id")
        backend = DatabricksGenie(args.space_id, profile=args.profile, host=args.host, store=store)
        settings = ImportSettings(include_all=not args.mine, revisit_days=args.revisit_days, comments=not args.no_comments,
                                  redaction=_redaction(args), calls_per_minute=args.rate, max_conversations=args.max_conversations)
        results = [import_from_genie(store, backend, args.space_id, settings)]
    for r in results:
        print(r.model_dump_json(indent=2) if args.json else r.line())
    return EXIT_OK


@contextlib.contextmanager
def _flywheel(args: argparse.Namespace, store: Store):
    with contextlib.ExitStack() as stack:
        space_path, evalset_path, data = args.space, args.evalset, args.data
        if args.example:
            ex = stack.enter_context(bundled_example(args.example))
            space_path, data = ex.curated_space, data or [ex.data]
            evalset_path = evalset_path or ex.evalset
        if not space_path or not evalset_path:
            raise InvalidInput("name the space and the eval set (--space and --evalset, or --example retail)",
                               field="space" if not space_path else "evalset")
        backend = None
        if data:
            backend = open_local_backend(data)
        yield Flywheel(store, load_space(space_path), evalset_path, space_id=args.space_id, backend=backend, seed=args.seed)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _fix_first(args: argparse.Namespace, fw) -> int:
    report = fw.fix_first(limit=args.limit, before=run_outcomes(fw.store, args.before) if args.before else None,
                          after=run_outcomes(fw.store, args.after) if args.after else None,
                          evalset_before=load_evalset(args.evalset_before) if args.evalset_before else None)
    if args.json:
        print(report.model_dump_json(indent=2))
        return EXIT_OK
    out = console()
    table = Table(title=f"Fix these first: space {report.space_id}", title_justify="left")
    for col in report.COLUMNS:
        table.add_column(col, justify="right" if col in ("#", "impact", "traffic", "fails") else "left")
    for row in report.table():
        table.add_row(*row)
    out.print(table)
    out.print(report.summary())
    return EXIT_OK


def _clusters(args: argparse.Namespace, fw) -> int:
    rep = fw.report()
    if args.json:
        print(rep.model_dump_json(indent=2))
        return EXIT_OK
    out = console()
    table = Table(title=f"Traffic clusters: space {rep.space_id}", title_justify="left")
    for col in ("traffic", "users", "fails", "ratings", "status mix", "eval cases", "domain", "cluster", "family"):
        table.add_column(col, justify="right" if col in ("traffic", "users", "fails") else "left")
    for c in rep.clusters[:args.limit]:
        table.add_row(str(c.traffic), str(c.users), f"{c.failure_rate:.0%}", f"+{c.positive}/-{c.negative}",
                      " ".join(f"{k} {v}" for k, v in c.statuses.items()), ",".join(c.splits) if c.covered else "no",
                      "OUT" if c.out_of_domain else "in", c.label, c.family)
    out.print(table)
    out.print(f"{rep.messages} messages, {rep.distinct_questions} distinct questions, {len(rep.clusters)} clusters; coverage "
              f"{_pct(rep.coverage)}; out of domain {_pct(rep.out_of_domain_rate)}; logged success {_pct(rep.observed_success)}")
    return EXIT_OK


def _candidates(args: argparse.Namespace, fw) -> int:
    found = [c for c in fw.candidates() if (args.state == "all" or c.state == args.state) and (not args.kind or c.kind == args.kind)]
    if args.json:
        print(json.dumps([c.model_dump() for c in found[:args.limit]], indent=2))
        return EXIT_OK
    out = console()
    table = Table(title=f"Candidates ({len(found)} {args.state})", title_justify="left")
    for col in ("id", "kind", "msgs", "signals", "eval cases", "question", "SQL"):
        table.add_column(col, no_wrap=col == "id", max_width=60 if col == "SQL" else None)
    for c in found[:args.limit]:
        signals = " ".join(f"{k} {v}" for k, v in (("up", c.thumbs_up), ("down", c.thumbs_down), ("failed", c.failed),
                                                      ("refused", c.refused)) if v)
        table.add_row(c.candidate_id, c.kind + (" (out of domain)" if c.out_of_domain else ""), str(c.messages), signals,
                      ",".join(c.splits) if c.covered else "no", c.question, (c.sql or "").replace("\n", " ")[:80])
    out.print(table)
    out.print("accept one with `chaos-llama logs accept ID [--gold-sql SQL | --refusal]`, or reject it with `logs reject ID`")
    out.print(f"{len(found)} candidates ({args.state}); ids in full with --json")
    return EXIT_OK


def _accept(args: argparse.Namespace, fw) -> int:
    gold = Path(args.gold_file).read_text(encoding="utf-8") if args.gold_file else args.gold_sql
    done = fw.accept(args.candidate, gold_sql=gold, expect="refusal" if args.refusal else None, reason=args.reason,
                     category=args.category, note=args.note, reviewer=args.reviewer or os.environ.get("USER"),
                     splits=("train", "val") if args.no_test else ("train", "val", "test"))
    print(done.model_dump_json(indent=2) if args.json else
          f"added {done.case.id} to {done.evalset} (split {done.split}, family {done.family}); {done.cases} cases; "
          f"leakage {done.leakage['total']}")
    return EXIT_OK


def _reject(args: argparse.Namespace, fw) -> int:
    c = fw.reject(args.candidate, note=args.note, reviewer=args.reviewer or os.environ.get("USER"))
    print(c.model_dump_json(indent=2) if args.json else f"rejected {c.candidate_id}: {c.question}")
    return EXIT_OK


def _review(args: argparse.Namespace, fw) -> int:
    model = None
    if args.judge_model:
        model = Chat({"model": args.judge_model, **({"base_url": args.judge_base_url} if args.judge_base_url else {}),
                      **({"api_key_env": args.judge_api_key_env} if args.judge_api_key_env else {})})
    with contextlib.ExitStack() as stack:
        if model is not None:
            stack.enter_context(judge_runtime(store=fw.store, model=model))
        reviewed = fw.review_with_judge(args.judge, min_labels=args.min_labels, min_kappa=args.min_kappa)
    accepted = fw.accept_approved() if args.accept else []
    if args.json:
        print(json.dumps({"reviewed": [c.model_dump() for c in reviewed], "accepted": [a.model_dump() for a in accepted]}, indent=2))
    else:
        ok = sum(c.state == "approved" for c in reviewed)
        print(f"{len(reviewed)} regression candidates reviewed by {args.judge}: {ok} approved, {len(reviewed) - ok} rejected"
              + (f"; {len(accepted)} added to the eval set" if args.accept else ""), file=sys.stdout)
    return EXIT_OK


_ACTIONS = {"fix-first": _fix_first, "clusters": _clusters, "candidates": _candidates, "accept": _accept, "reject": _reject,
            "review": _review}
