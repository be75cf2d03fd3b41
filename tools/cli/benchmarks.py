"""`chaos-llama benchmarks`: a Genie space's own benchmarks and evaluation, from the command line.

    chaos-llama benchmarks import --space-id 01ef... --out evals.yaml      # space benchmarks -> eval set
    chaos-llama benchmarks export evals.yaml --space-id 01ef... [--replace] # eval set -> space benchmarks
    chaos-llama benchmarks run --space-id 01ef... --wait [--run-id R]      # Genie's native evaluation
    chaos-llama benchmarks show EVAL_RUN_ID [--run-id R]                    # a stored native eval run

Each command is a few lines around `DatabricksGenie` (tools/backends/databricks.py). Genie's
GOOD / BAD / NEEDS_REVIEW assessments go to the store beside our verdicts; with `--run-id` they are
linked to one of our runs question by question, and the agreement between the two is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from ..backends.databricks import NativeAssessment
from ..benchmarks import DECIDED, compare_native, link_cases
from ..errors import InvalidConfig, InvalidEvalSet, did_you_mean
from ..evalset import evalset_from_benchmarks, load_evalset, save_evalset
from ..evaluate import open_databricks_backend
from ..runner import build_run_result
from ..store import DEFAULT_WORKSPACE, Store
from . import EXIT_FAIL, EXIT_OK

HELP = "a Genie space's benchmarks: import/export them, run Genie's own evaluation"


# ---------------------------------------------------------------- commands
def _store(args: argparse.Namespace) -> Store:
    return Store.open(args.workspace)


def _backend(args: argparse.Namespace, store: Any):
    """The Genie space the flags name; `store` keeps every version pulled or pushed."""

    # no questions are asked through the conversation API here, so no rate limit or settle wait
    return open_databricks_backend(args.space_id, profile=args.profile, host=args.host, warehouse_id=args.warehouse_id,
                                   rate_per_minute=None, settle_s=0, store=store)


def _no_benchmarks(space_id: str):

    return InvalidEvalSet(f"Genie space {space_id!r} has no benchmark questions with a SQL answer; add some in the Genie UI "
                          "or with `chaos-llama benchmarks export evals.yaml`", field="benchmarks")


def _check_run(store: Any, run_id: str | None) -> Any:
    """Our run `run_id` (fail before anything is started when it does not exist)."""
    if run_id is None:
        return None

    run = store.get_run(run_id)
    if run is None:
        known = [r.run_id for r in store.list_runs(limit=200)]
        raise InvalidConfig(f"no run {run_id!r} in the store.{did_you_mean(run_id, known)}", field="run-id")
    return run


def _store_assessments(store: Any, backend: Any, eval_run_id: str, run: Any) -> list[dict[str, Any]]:
    """Read a finished eval run's assessments and store them, linked to our `run` when given."""
    assessments = backend.eval_run_assessments(eval_run_id)
    links = link_cases(assessments, store.get_evalset(run.evalset_hash)) if run is not None else {}
    store.put_native_assessments([
        a.model_dump() | {"space_id": backend.space_id, "run_id": run.run_id if run else None,
                          "case_id": links.get(a.benchmark_question_id, a.benchmark_question_id)}
        for a in assessments])
    return store.get_native_assessments(eval_run_id=eval_run_id)


def cmd_import(args: argparse.Namespace) -> int:

    with _store(args) as store:
        backend = _backend(args, store)
        space = backend.get_space().space
    evalset = evalset_from_benchmarks(space)
    if not evalset.cases:
        raise _no_benchmarks(backend.space_id)
    total = len(space.serialized.benchmarks.questions) if space.serialized.benchmarks else 0
    out = save_evalset(evalset, args.out)
    skipped = total - len(evalset.cases)
    print(f"wrote {len(evalset.cases)} benchmark questions of Genie space {backend.space_id} to {out}"
          + (f" ({skipped} without a SQL answer skipped)" if skipped else ""))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    evalset = load_evalset(args.path)
    if not evalset.cases:
        raise InvalidEvalSet("the eval set has no questions; nothing to export", source=str(args.path))
    with _store(args) as store:
        backend = _backend(args, store)
        snap = backend.export_benchmarks(evalset, replace=args.replace)  # pull, edit, push with the etag
    bench = snap.space.serialized.benchmarks
    print(f"exported {len(evalset.cases)} questions to the benchmarks of Genie space {backend.space_id} "
          f"({len(bench.questions) if bench else 0} now; {'replaced' if args.replace else 'merged'}; etag {snap.etag})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:

    with _store(args) as store:
        backend = _backend(args, store)
        run = _check_run(store, args.run_id)
        space = backend.get_space().space
        known = [q.id for q in (space.serialized.benchmarks.questions if space.serialized.benchmarks else []) if q.id]
        if not known:
            raise _no_benchmarks(backend.space_id)
        ids = [q.strip() for q in args.questions.split(",") if q.strip()] if args.questions else None
        for q in ids or []:
            if q not in known:
                raise InvalidConfig(f"no benchmark question {q!r} in Genie space {backend.space_id!r}.{did_you_mean(q, known)}",
                                    field="questions")
        started = backend.start_eval_run(ids)
        if not args.wait:
            print(f"started eval run {started.eval_run_id} on {started.num_questions or len(ids or known)} benchmark questions; "
                  f"`chaos-llama benchmarks show {started.eval_run_id} --space-id {backend.space_id}` reads it when done")
            return EXIT_OK
        native = asyncio.run(backend.wait_eval_run(started.eval_run_id, timeout_s=args.timeout, poll_s=args.poll))
        if not native.done:
            print(f"eval run {native.eval_run_id} still {native.status} after {args.timeout:g}s "
                  f"({native.num_done or 0}/{native.num_questions or '?'} done); read it later with "
                  f"`chaos-llama benchmarks show {native.eval_run_id} --space-id {backend.space_id}`")
            return EXIT_FAIL
        rows = _store_assessments(store, backend, native.eval_run_id, run)
        _report(args, native.model_dump(), rows, store, run)
    return EXIT_OK if native.status == "DONE" else EXIT_FAIL


def cmd_show(args: argparse.Namespace) -> int:

    with _store(args) as store:
        run = _check_run(store, args.run_id)
        rows = store.get_native_assessments(eval_run_id=args.eval_run_id)
        info: dict[str, Any] = {"eval_run_id": args.eval_run_id, "status": "DONE" if rows else None}
        if not rows:
            if not args.space_id:
                raise InvalidConfig(f"no eval run {args.eval_run_id!r} in the store; pass --space-id to read it from Genie",
                                    field="eval_run_id")
            backend = _backend(args, store)
            native = backend.get_eval_run(args.eval_run_id)
            info = native.model_dump()
            if not native.done:
                print(f"eval run {native.eval_run_id} is {native.status}: {native.num_done or 0}/{native.num_questions or '?'} done")
                return EXIT_OK
            rows = _store_assessments(store, backend, native.eval_run_id, run)
        elif run is not None and not any(r.get("run_id") == run.run_id for r in rows):
            # stored unlinked (or linked to another run): link for this view only

            links = link_cases([NativeAssessment.model_validate(r) for r in rows], store.get_evalset(run.evalset_hash))
            rows = [r | {"case_id": links.get(r.get("benchmark_question_id"), r.get("case_id"))} for r in rows]
        _report(args, info, rows, store, run)
    return EXIT_OK


def _report(args: argparse.Namespace, run_info: dict[str, Any], rows: list[dict[str, Any]], store: Any, run: Any) -> None:
    """Print the assessments (and the agreement with our run) as a table or JSON."""
    counts = Counter(r.get("assessment") or "NONE" for r in rows)
    comparison = ours = None
    if run is not None:

        ours = build_run_result(store, run.run_id)
        comparison = compare_native(rows, ours)
    if args.json:
        keep = ("eval_run_id", "result_id", "benchmark_question_id", "case_id", "run_id", "question", "assessment",
                "reasons", "manual_assessment", "generated", "expected")
        print(json.dumps({"eval_run": run_info, "counts": dict(counts), "assessments": [{k: r.get(k) for k in keep} for r in rows],
                          "comparison": comparison.model_dump() | {"agreement": comparison.agreement} if comparison else None},
                         indent=2, default=str))
        return
    console = Console(highlight=False, soft_wrap=True)
    verdicts = {r.case_id: r.correct for r in ours.rows} if ours else {}
    table = Table(title=f"Genie eval run {run_info.get('eval_run_id')}", title_justify="left")
    for col in ("question", "Genie", "reasons") + (("ours", "agree") if ours else ()):
        table.add_column(col)
    style = {"GOOD": "green", "BAD": "red", "NEEDS_REVIEW": "yellow"}
    for r in rows:
        a = r.get("assessment") or "-"
        cells = [_short(r.get("question") or r.get("benchmark_question_id") or "", 60), f"[{style.get(a, 'white')}]{a}[/]",
                 ", ".join(r.get("reasons") or []) or "-"]
        if ours:
            mine = verdicts.get(r.get("case_id"))
            cells.append("-" if mine is None else ("correct" if mine else "wrong"))
            cells.append("-" if mine is None or a not in DECIDED else ("yes" if mine is (a == "GOOD") else "[bold red]NO[/]"))
        table.add_row(*cells)
    console.print(table)
    console.print("Genie: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("GOOD", "BAD", "NEEDS_REVIEW"))
                  + f" of {len(rows)} (status {run_info.get('status')})")
    if comparison:
        pct = f" ({comparison.agreement:.0%})" if comparison.agreement is not None else ""
        console.print(f"agreement with run {comparison.run_id} (judge {comparison.judge}): {comparison.agree}/{comparison.compared}"
                      f"{pct} questions both decided; {comparison.needs_review} NEEDS_REVIEW, {comparison.unlinked} not in the run"
                      + (f"; disagree: {', '.join(comparison.disagree)}" if comparison.disagree else ""))


def _short(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def run(args: argparse.Namespace) -> int:
    return {"import": cmd_import, "export": cmd_export, "run": cmd_run, "show": cmd_show}[args.action](args)


# ---------------------------------------------------------------- parser
def _space_args(sp: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The Databricks flags of `add_backend_args` that address a space (no question rate: none are asked)."""
    sp.add_argument("--space-id", required=required, help="Genie space id")
    sp.add_argument("--profile", help="~/.databrickscfg profile (default: unified auth)")
    sp.add_argument("--host", help="workspace URL (default: from the profile or DATABRICKS_HOST)")
    sp.add_argument("--warehouse-id", help="SQL warehouse (default: the space's)")
    sp.add_argument("--workspace", default=str(DEFAULT_WORKSPACE), help=f"folder holding the SQLite store (default: ./{DEFAULT_WORKSPACE})")


def add_arguments(bp: argparse.ArgumentParser) -> None:
    acts = bp.add_subparsers(dest="action", required=True)

    im = acts.add_parser("import", help="write the space's benchmark questions to an eval set file")
    im.add_argument("--out", required=True, help="eval set file to write (.yaml, .csv or .jsonl)")
    _space_args(im)

    ex = acts.add_parser("export", help="write an eval set into the space's benchmarks (guarded by the etag)")
    ex.add_argument("path", help="eval set file (.yaml, .csv or .jsonl)")
    ex.add_argument("--replace", action="store_true", help="drop benchmark questions not in the eval set (default: merge)")
    _space_args(ex)

    rn = acts.add_parser("run", help="start Genie's own evaluation of the benchmarks; with --wait, store and show its assessments")
    rn.add_argument("--questions", help="comma-separated benchmark question ids (default: all)")
    rn.add_argument("--run-id", help="link the assessments to this run of ours (same questions) and report the agreement")
    rn.add_argument("--wait", action="store_true", help="wait for the eval run, store its assessments and print them")
    rn.add_argument("--timeout", type=float, default=1800, help="most seconds to wait (default 1800)")
    rn.add_argument("--poll", type=float, default=5, help="seconds between status checks (default 5)")
    rn.add_argument("--json", action="store_true", help="print machine-readable JSON")
    _space_args(rn)

    sh = acts.add_parser("show", help="a stored eval run's assessments (read from Genie first when --space-id is given and it is not stored)")
    sh.add_argument("eval_run_id")
    sh.add_argument("--run-id", help="compare with this run of ours")
    sh.add_argument("--json", action="store_true", help="print machine-readable JSON")
    _space_args(sh, required=False)

