"""What several commands share: console output, the progress bar, score tables and the backend flags."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..backends import Backend, open_backend
from ..errors import InvalidInput
from ..project import BackendConfig
from ..scoring import Score, split_category_scores
from ..store import DEFAULT_WORKSPACE, Store
from ..tracking import TrackedRun, tracking_uri


def console() -> Console:
    return Console(stderr=False, highlight=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    """'45s', '3m05s', '1h02m'."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class QuestionProgress:
    """Per-question progress with an ETA on stderr, for one or more evaluations in a row.

    On a terminal: a live bar per evaluation (questions done, elapsed, time left). Elsewhere (CI
    logs, a Databricks job): a line at each tenth of the questions, with the time left, at most
    every `quiet_s` seconds, so a long run against Genie's rate limit is never silent and a quick
    one prints nothing.
    """

    def __init__(self, console_: Console | None = None, *, quiet_s: float = 10.0):
        self.console = console_ or Console(stderr=True, highlight=False)
        self.quiet_s = quiet_s
        self.live = self.console.is_terminal
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("left"), TimeRemainingColumn(), console=self.console, transient=True) if self.live else None

    def __enter__(self) -> QuestionProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def say(self, message: str) -> None:
        """A phase line (above the bar on a terminal)."""
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def task(self, title: str):
        """A callback for the runner's `progress(done, total, case_id, status)` of one evaluation."""
        if self.bar is not None:
            tid = self.bar.add_task(title, total=None)

            def live(done: int, total: int, case_id: str | None = None, status: str | None = None) -> None:
                self.bar.update(tid, completed=done, total=total)
                if done >= total:
                    self.bar.remove_task(tid)

            return live
        started = time.monotonic()
        last = [started, -1]  # when the last line was printed, at which tenth

        def lines(done: int, total: int, case_id: str | None = None, status: str | None = None) -> None:
            now = time.monotonic()
            step = done * 10 // max(total, 1)
            finished = done >= total
            # a line per tenth of the questions, but quiet while a run is quick (the local engine, cached answers)
            if (step == last[1] and not finished) or (now - last[0] < self.quiet_s and not (finished and last[1] >= 0)):
                return
            last[:] = [now, step]
            elapsed = now - started
            left = f", about {_duration(elapsed / done * (total - done))} left" if 0 < done < total else ""
            self.say(f"{title}: {done}/{total} questions, {_duration(elapsed)} elapsed{left}")

        return lines


def progress_bar(title: str):
    """(context, callback) showing one evaluation's per-question progress with an ETA on stderr."""
    shown = QuestionProgress()
    return shown, shown.task(title)


def score_rows(result) -> list[tuple[str, str, Score]]:
    """(split, category, score) rows of a RunResult: per split its overall row first, then its categories."""
    return split_category_scores(result.rows, split=lambda r: r.split, category=lambda r: r.category)


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


def add_tracking_args(sp: argparse.ArgumentParser) -> None:
    """--tracking-uri, --experiment, --no-tracking: where the command's MLflow runs go (tools/tracking.py)."""
    sp.add_argument("--tracking-uri", help="MLflow tracking URI (default: $CHAOS_LLAMA_TRACKING, else $MLFLOW_TRACKING_URI, else "
                                           "sqlite:///<workspace>/mlflow.db; 'databricks' tracks to the workspace)")
    sp.add_argument("--experiment", help="MLflow experiment (default: chaos-llama/<space>)")
    sp.add_argument("--no-tracking", action="store_true", help="do not log to MLflow (also CHAOS_LLAMA_TRACKING=off)")


def tracking_from_args(args: argparse.Namespace) -> str | None:
    """The tracking URI the command line names, None for no tracking."""
    return tracking_uri(False if args.no_tracking else args.tracking_uri, args.workspace)


def tracked_line(tracked: TrackedRun | None) -> str | None:
    """Where to see a run in MLflow, in one line."""
    if tracked is None:
        return None
    if tracked.uri.startswith("sqlite:"):
        return (f"mlflow: run {tracked.run_id} in {tracked.uri} (view: mlflow ui --backend-store-uri {tracked.uri}, "
                f"then {tracked.link})")
    return f"mlflow: run {tracked.run_id}: {tracked.link}"


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
