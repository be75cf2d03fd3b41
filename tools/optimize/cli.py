"""`chaos-llama optimize`: the optimization loop as a command (locally or as a Databricks job)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_optimize_parser(sub) -> argparse.ArgumentParser:
    """Register the `optimize` subcommand on the CLI's subparsers."""
    op = sub.add_parser("optimize", help="optimize a space automatically (train), select by val, score test once")
    from ..cli import add_backend_args

    src = op.add_mutually_exclusive_group()
    src.add_argument("--space", help="space file (.yaml or .geniespace.json); default with --backend databricks: the version Genie holds")
    src.add_argument("--example", help="a bundled example, e.g. retail (its sparse space, data and eval set)")
    op.add_argument("--evalset", help="eval set (.yaml, .csv, .jsonl); default: the example's, or the Genie space's benchmarks")
    op.add_argument("--data", nargs="+", help="data for the local engine: CSV/Parquet files or folders, .duckdb, or a PostgreSQL dump")
    add_backend_args(op)
    op.add_argument("--strategy", default="retrieval", choices=["retrieval", "llm"], help="local engine strategy")
    op.add_argument("--proposer", default="heuristic", help="heuristic (offline) or llm")
    op.add_argument("--max-epochs", type=int, default=5)
    op.add_argument("--patience", type=int, default=2, help="stop after this many epochs without a val gain")
    op.add_argument("--budget", type=int, help="most backend questions to ask, the final test included")
    op.add_argument("--max-changes", type=int, default=40, help="most edits per change set")
    op.add_argument("--alpha", type=float, default=0.05, help="sign-test significance level for keeping a change")
    op.add_argument("--reasks", type=int, help="re-asks of flipped questions (default: 0 if deterministic, else 2)")
    op.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite:///<workspace>/mlflow.db; 'databricks' on Databricks)")
    op.add_argument("--experiment", help="MLflow experiment (default: chaos-llama/<space>)")
    op.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    op.add_argument("--report", help="write the HTML report here (default: <workspace>/reports/<id>.html)")
    op.add_argument("--llm-base-url", help="OpenAI-compatible endpoint for --proposer llm")
    op.add_argument("--llm-model", help="model for --proposer llm")
    op.add_argument("--workspace", default=".chaos-llama", help="folder holding the store (default: ./.chaos-llama)")
    op.add_argument("--seed", type=int, default=0, help="train/val/test split seed")
    op.add_argument("--concurrency", type=int, default=4)
    op.add_argument("--json", action="store_true", help="print the result as JSON")
    op.add_argument("--export-dir", help="durable copy of the run (e.g. a /Volumes/... path): the store is restored from here "
                                         "at start when the workspace has none, and the store and reports are copied here at "
                                         "the end, also when the run fails (keeps SQLite itself on local disk)")
    op.set_defaults(func=cmd_optimize)
    return op


def _restore_state(workspace: Path, export_dir: Path) -> None:
    """Resume from the durable copy when the (local) workspace is new, e.g. on a fresh job cluster."""
    import shutil

    if (export_dir / "chaos.db").exists() and not (workspace / "chaos.db").exists():
        workspace.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(export_dir / "chaos.db", workspace / "chaos.db")


def _export_state(workspace: Path, export_dir: Path) -> None:
    """Copy the store (a consistent snapshot through SQLite's backup API) and the reports to `export_dir`.

    SQLite's locking is not safe on FUSE-mounted storage such as Unity Catalog volumes, so the
    database is only ever written there as a whole file, never opened in place.
    """
    import shutil
    import sqlite3
    import tempfile

    if not (workspace / "chaos.db").exists():
        return
    export_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "chaos.db"
        src, dst = sqlite3.connect(workspace / "chaos.db"), sqlite3.connect(snapshot)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        shutil.copyfile(snapshot, export_dir / "chaos.db")
    if (workspace / "reports").is_dir():
        shutil.copytree(workspace / "reports", export_dir / "reports", dirs_exist_ok=True)


def cmd_optimize(args: argparse.Namespace) -> int:
    export_dir = Path(args.export_dir) if getattr(args, "export_dir", None) else None
    if export_dir is None:
        return _optimize(args)
    _restore_state(Path(args.workspace), export_dir)
    try:
        return _optimize(args)
    finally:
        _export_state(Path(args.workspace), export_dir)
        print(f"state and reports copied to {export_dir}", file=sys.stderr, flush=True)


def _optimize(args: argparse.Namespace) -> int:
    import contextlib

    from ..cli import backend_from_args
    from ..errors import InvalidInput
    from ..evaluate import bundled_example, load_inputs, remote_inputs
    from ..report import render_markdown, write_report
    from ..store import Store
    from .loop import optimize

    with contextlib.ExitStack() as stack:
        space_path, evalset_path, data = args.space, args.evalset, args.data
        if args.example:
            ex = stack.enter_context(bundled_example(args.example))
            space_path, evalset_path, data = ex.sparse_space, evalset_path or ex.evalset, data or [ex.data]
        workspace = Path(args.workspace)
        store = stack.enter_context(Store(workspace / "chaos.db"))
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
        tracking = False if args.no_tracking else (args.tracking_uri or True)
        options = {}
        if args.proposer == "llm":
            options["config"] = {k: v for k, v in (("base_url", args.llm_base_url), ("model", args.llm_model)) if v}
        result = optimize(
            space, evalset, backend, store=store, proposer=args.proposer, max_epochs=args.max_epochs,
            patience=args.patience, budget=args.budget, seed=args.seed, workspace=workspace, tracking=tracking,
            experiment=args.experiment, alpha=args.alpha, max_changes=args.max_changes, reasks=args.reasks,
            concurrency=args.concurrency, proposer_options=options,
            progress=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
        report = write_report(result, args.report or workspace / "reports" / f"{result.opt_id}.html")
        best = workspace / "reports" / f"{result.opt_id}.best.yaml"
        best.write_text(result.best_space_yaml, encoding="utf-8")
        if args.json:
            print(result.model_dump_json(indent=2, exclude={"best_space_yaml"}))
        else:
            print(render_markdown(result))
            print(f"report: {report}\nbest space: {best}")
    return 0
