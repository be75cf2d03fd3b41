"""What several commands share: console output, the progress bar, score tables and the backend flags."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..backends import Backend, open_backend
from ..errors import InvalidInput
from ..project import BackendConfig
from ..scoring import Score, breakdown, score
from ..store import DEFAULT_WORKSPACE, Store


def console() -> Console:
    return Console(stderr=False, highlight=False, soft_wrap=True)


def progress_bar(title: str):
    """A rich progress bar on stderr, fed by the runner's progress callback."""
    bar = Progress(TextColumn(f"[bold]{title}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task(title, total=None)

    def callback(done: int, total: int, case_id: str | None = None, status: str | None = None) -> None:
        bar.update(task, completed=done, total=total)

    return bar, callback


def score_rows(result) -> list[tuple[str, str, Score]]:
    """(split, category, score) rows of a RunResult: per split its overall row first, then its categories."""
    rows: list[tuple[str, str, Score]] = []
    order = {"train": 0, "val": 1, "test": 2}
    splits = sorted({r.split or "-" for r in result.rows}, key=lambda s: (order.get(s, 9), s))
    for split in splits:
        mine = [r for r in result.rows if (r.split or "-") == split]
        rows.append((split, "ALL", score(mine)))
        rows += [(split, cat, sc) for cat, sc in breakdown(mine, lambda r: r.category, default="-").items()]
    return rows


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def print_scores(title: str, result, out: Console) -> None:
    """Accuracy with the wrong-answer and refusal rates beside it, per split and category."""
    table = Table(title=title, title_justify="left")
    for col, just in (("split", "left"), ("category", "left"), ("right", "right"), ("accuracy", "right"),
                      ("wrong", "right"), ("refused", "right"), ("errors", "right")):
        table.add_column(col, justify=just)
    for split, cat, sc in score_rows(result):
        table.add_row(split, cat, f"{sc.right}/{sc.scored}", _pct(sc.accuracy), f"{sc.wrong} ({_pct(sc.wrong_rate)})",
                      f"{sc.refused} ({_pct(sc.refusal_rate)})", str(sc.error), style="bold" if cat == "ALL" else None)
    out.print(table)
    sc = result.score
    gold = f"; [bold red]{sc.gold_error} gold errors[/] (not counted: fix the eval set, see `chaos-llama evalset check`)" \
        if sc.gold_error else "; 0 gold errors"
    out.print(f"run [bold]{result.run_id}[/]: {sc.line()}; backend calls {result.backend_calls}, cache hits {result.cache_hits}, "
              f"errors {sc.error}{gold}")


def result_json(result) -> dict:
    return json.loads(result.model_dump_json())


def add_common_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--workspace", default=str(DEFAULT_WORKSPACE), help=f"folder holding the SQLite store (default: ./{DEFAULT_WORKSPACE})")
    sp.add_argument("--seed", type=int, default=0, help="train/val/test split seed")
    sp.add_argument("--concurrency", type=int, default=4)
    sp.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_backend_args(sp: argparse.ArgumentParser) -> None:
    """--backend and the Databricks options (shared by eval and optimize)."""
    sp.add_argument("--backend", default="local", choices=["local", "databricks"],
                    help="local: the embedded engine over --data; databricks: a Genie space (--space-id)")
    sp.add_argument("--space-id", help="Genie space id (databricks backend)")
    sp.add_argument("--profile", help="~/.databrickscfg profile (databricks backend; default: unified auth)")
    sp.add_argument("--host", help="workspace URL (databricks backend; default: from the profile or DATABRICKS_HOST)")
    sp.add_argument("--warehouse-id", help="SQL warehouse for gold SQL (databricks backend; default: the space's)")
    sp.add_argument("--rate", type=float, default=5, help="Genie question starts per minute (databricks; 0: no limit; default 5)")
    sp.add_argument("--settle", type=float, default=30, metavar="SECONDS",
                    help="wait after pushing a version before asking it (databricks; Genie rebuilds its context; default 30)")
    sp.add_argument("--question-timeout", type=float, default=120, metavar="SECONDS",
                    help="how long Genie may take to answer one question, from its accepted start (databricks; waiting "
                         "for a turn is not counted; a question timing out is asked again, then recorded as an error; default 120)")
    sp.add_argument("--strict", action="store_true",
                    help="a PostgreSQL dump statement in --data that cannot load is fatal (default: a warning naming "
                         "file and line; the rest loads)")


def add_llm_args(sp: argparse.ArgumentParser, what: str) -> None:
    """--llm-model and its endpoint options: the chat model of `what` (tools/chat.py)."""
    sp.add_argument("--llm-model", help=f"chat model for {what}: 'databricks:<serving endpoint>' (workspace auth, no other key) "
                                        "or a model name at --llm-base-url")
    sp.add_argument("--llm-base-url", help="OpenAI-compatible endpoint for --llm-model, e.g. http://localhost:8000/v1")
    sp.add_argument("--llm-api-key-env", help="name of the environment variable holding that endpoint's API key")


def llm_model_from_args(args: argparse.Namespace) -> dict | None:
    """The chat model --llm-model and its options name (None without --llm-model)."""
    if not getattr(args, "llm_model", None):
        return None
    return {"model": args.llm_model, **({"base_url": args.llm_base_url} if args.llm_base_url else {}),
            **({"api_key_env": args.llm_api_key_env} if args.llm_api_key_env else {})}


def backend_config(args: argparse.Namespace) -> BackendConfig:
    """The backend settings the command line names (local engine or a Genie space)."""
    if args.backend == "databricks":
        return BackendConfig(kind="databricks", space_id=args.space_id, profile=args.profile, host=args.host,
                             warehouse_id=args.warehouse_id, rate_per_minute=args.rate or None, settle_s=args.settle,
                             question_timeout_s=args.question_timeout)
    return BackendConfig(kind="local", strategy=args.strategy, strict=args.strict,
                         llm=llm_model_from_args(args) if args.strategy == "llm" else None)


def backend_from_args(args: argparse.Namespace, store: Store | None = None) -> Backend:
    """The backend the command line names; with `store`, a Genie backend keeps there every version it pulls or pushes."""
    if args.backend != "databricks" and not args.data:
        raise InvalidInput("--data is required for the local engine: CSV/Parquet files or folders, a .duckdb file, or a PostgreSQL dump",
                           field="data")
    return open_backend(backend_config(args), data=args.data or (), store=store)


def space_name(path: str | Path | None, fallback: str) -> str:
    return Path(path).name if path else fallback
