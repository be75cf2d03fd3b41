"""`chaos-llama optimize`: the optimization loop as a command (locally or as a Databricks job)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..errors import InvalidInput
from ..evaluate import bundled_example, load_inputs, remote_inputs
from ..optimize.loop import optimize, train_questions
from ..optimize.model import OptimizeSettings
from ..report import best_scores, render_markdown, write_report
from ..store import Store, export_workspace, restore_workspace
from ..tracking import TrackedRun
from ..traffic import traffic_for
from . import EXIT_OK, Interrupted
from ._common import (
    QuestionProgress,
    add_backend_args,
    add_llm_args,
    add_tracking_args,
    backend_from_args,
    llm_model_from_args,
    tracked_line,
    tracking_from_args,
)

HELP = "optimize a space automatically (train), select by val, score test once"


def add_arguments(op: argparse.ArgumentParser) -> None:
    src = op.add_mutually_exclusive_group()
    src.add_argument("--space", help="space file (.yaml or .geniespace.json); default with --backend databricks: the version Genie holds")
    src.add_argument("--example", help="a bundled example, e.g. retail (its sparse space, data and eval set)")
    op.add_argument("--evalset", help="eval set (.yaml, .csv, .jsonl); default: the example's, or the Genie space's benchmarks")
    op.add_argument("--data", nargs="+", help="data for the local engine: CSV/Parquet files or folders, .duckdb, or a PostgreSQL dump")
    add_backend_args(op)
    op.add_argument("--strategy", default="retrieval", choices=["retrieval", "llm"], help="local engine strategy (llm: --llm-model)")
    op.add_argument("--proposer", default="heuristic", help="heuristic (offline) or llm (--llm-model)")
    op.add_argument("--max-epochs", type=int, default=5)
    op.add_argument("--patience", type=int, default=2, help="stop after this many epochs without a val gain")
    op.add_argument("--budget", type=int, help="most backend questions to ask, the final test included")
    op.add_argument("--max-changes", type=int, default=40, help="most edits per change set")
    op.add_argument("--alpha", type=float, default=0.05, help="sign-test significance level for keeping a change")
    op.add_argument("--wrong-cost", type=float, default=1.0,
                    help="what a confident wrong answer costs against a right answer's +1 (a refusal costs 0; default 1)")
    op.add_argument("--reasks", type=int, help="re-asks of flipped questions (default: 0 if deterministic, else 2)")
    add_tracking_args(op)
    op.add_argument("--report", help="write the HTML report here (default: <workspace>/reports/<id>.html)")
    add_llm_args(op, "--proposer llm and --strategy llm")
    op.add_argument("--workspace", default=".chaos-llama", help="folder holding the store (default: ./.chaos-llama)")
    op.add_argument("--seed", type=int, default=0, help="train/val/test split seed")
    op.add_argument("--concurrency", type=int, default=4)
    op.add_argument("--json", action="store_true", help="print the result as JSON")
    op.add_argument("--export-dir", help="durable copy of the run (e.g. a /Volumes/... path): the store is restored from here "
                                         "at start when the workspace has none, and the store and reports are copied here at "
                                         "the end, also when the run fails (keeps SQLite itself on local disk)")


def run(args: argparse.Namespace) -> int:
    export_dir = Path(args.export_dir) if args.export_dir else None
    if export_dir is None:
        return _optimize(args)
    restore_workspace(args.workspace, export_dir)
    try:
        return _optimize(args)
    finally:
        export_workspace(args.workspace, export_dir)
        print(f"state and reports copied to {export_dir}", file=sys.stderr, flush=True)


def _optimize(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        space_path, evalset_path, data = args.space, args.evalset, args.data
        if args.example:
            ex = stack.enter_context(bundled_example(args.example))
            space_path, evalset_path, data = ex.sparse_space, evalset_path or ex.evalset, data or [ex.data]
        workspace = Path(args.workspace)
        store = stack.enter_context(Store.open(workspace))
        args.data = data
        if args.backend == "databricks":
            backend = backend_from_args(args, store)
            space, evalset = remote_inputs(backend, space_path, evalset_path, seed=args.seed)
        else:
            if not space_path or not evalset_path:
                raise InvalidInput("the local engine needs --example, or --space with --evalset and --data",
                                   field="space" if not space_path else "evalset")
            space, evalset = load_inputs(space_path, evalset_path, seed=args.seed)
            backend = backend_from_args(args)
        settings = OptimizeSettings(
            proposer=args.proposer, max_epochs=args.max_epochs, patience=args.patience, budget=args.budget, seed=args.seed,
            alpha=args.alpha, wrong_cost=args.wrong_cost, max_changes=args.max_changes, reasks=args.reasks,
            concurrency=args.concurrency, workspace=workspace, experiment=args.experiment,
            tracking=tracking_from_args(args),
            proposer_options={"config": llm_model_from_args(args)} if args.proposer == "llm" else {},
        )
        with QuestionProgress() as shown:
            try:
                result = optimize(space, evalset, backend, settings, store=store, progress=shown.say, questions=shown.task)
            except KeyboardInterrupt:
                raise Interrupted("every answer so far is kept in the store; run the same command again to continue where "
                                  "it stopped") from None
        # what real traffic says, when it was imported (`chaos-llama logs import`): in the local report only
        traffic = traffic_for(store, space, evalset, before=[s.run_id for s in result.baseline.values() if s.run_id],
                              after=[s.run_id for s in best_scores(result).values() if s.run_id], seed=args.seed)
        report = write_report(result, args.report or workspace / "reports" / f"{result.opt_id}.html", train_questions(evalset),
                              traffic)
        best = workspace / "reports" / f"{result.opt_id}.best.yaml"
        best.write_text(result.best_space_yaml, encoding="utf-8")
        if args.json:
            print(result.model_dump_json(indent=2, exclude={"best_space_yaml"}))
        else:
            print(render_markdown(result, traffic))
            print(f"report: {report}\nbest space: {best}")
            if result.tracking_run_id and result.tracking_uri:
                print(tracked_line(TrackedRun(uri=result.tracking_uri, experiment_id=result.tracking_experiment_id or "",
                                              run_id=result.tracking_run_id)))
    return EXIT_OK
