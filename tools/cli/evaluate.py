"""`chaos-llama eval`: evaluate a space on an eval set (local engine or a Genie space)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from ..errors import InvalidInput
from ..evaluate import bundled_example, evaluate, load_inputs, remote_inputs, run_inputs, tracked
from ..judges.custom import load_user_judges
from ..junit import junit_xml
from ..project import DEFAULT_JUDGES
from ..runner import new_run_id
from ..store import Store
from . import EXIT_FAIL, EXIT_OK, Interrupted
from ._common import (
    add_backend_args,
    add_common_args,
    add_llm_args,
    add_tracking_args,
    backend_from_args,
    console,
    print_scores,
    progress_bar,
    result_json,
    space_name,
    tracked_line,
    tracking_from_args,
)

HELP = "evaluate a space on an eval set"


def fraction(value: str) -> float:
    """A share between 0 and 1 (argparse type of --fail-under)."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, e.g. 0.8, got {value!r}") from None
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, e.g. 0.8 for 80%, got {value!r}")
    return x


def add_arguments(ev: argparse.ArgumentParser) -> None:
    src = ev.add_mutually_exclusive_group()
    src.add_argument("--space", help="space file (.yaml or .geniespace.json); with --backend databricks, pushed to Genie "
                     "before asking (default there: the version Genie holds)")
    src.add_argument("--example", help="a bundled example, e.g. retail: its space, eval set and data (no other file needed)")
    ev.add_argument("--example-space", choices=["sparse", "curated"], default="sparse",
                    help="with --example: which of its spaces to evaluate (default: sparse)")
    ev.add_argument("--evalset", help="eval set (.yaml, .csv, .jsonl); default with --backend databricks: the space's benchmarks")
    ev.add_argument("--data", nargs="+", help="data for the local engine: CSV/Parquet files or folders, .duckdb, or a PostgreSQL dump")
    ev.add_argument("--split", choices=["train", "val", "test"], help="evaluate one split only")
    ev.add_argument("--judges", help=f"comma-separated judge names; the first decides 'correct' (default: {','.join(DEFAULT_JUDGES)}, "
                                     "or the resumed run's)")
    ev.add_argument("--metrics", action="append", metavar="FILE", help="YAML metric file: each metric becomes a judge (repeatable)")
    ev.add_argument("--custom-judge", action="append", metavar="REF",
                    help="a Python judge, 'path/to/file.py:function' or 'pkg.module:function' (repeatable)")
    ev.add_argument("--llm-judges", action="append", metavar="FILE",
                    help="YAML file of LLM judge definitions (criteria, examples); name built-in ones in --judges: "
                         "answers_question, semantically_equivalent, follows_instructions")
    ev.add_argument("--judge-model", help="chat model for LLM judges: 'databricks:<serving endpoint>' (workspace auth, no other "
                                          "key) or a model name at --judge-base-url (else CHAOS_JUDGE_MODEL; without a model "
                                          "their verdicts stay pending)")
    ev.add_argument("--judge-base-url", help="the endpoint's base URL, e.g. http://localhost:8000/v1")
    ev.add_argument("--judge-api-key-env", help="name of the environment variable holding the endpoint's API key")
    ev.add_argument("--strategy", default="retrieval", choices=["retrieval", "llm"], help="local engine strategy (llm: --llm-model)")
    add_llm_args(ev, "the local engine's llm strategy")
    ev.add_argument("--no-cache", action="store_true", help="ask the backend even for unchanged versions")
    ev.add_argument("--resume", metavar="RUN_ID", help="finish a stopped or killed run: ask only the questions it has not "
                    "recorded, with its space version, eval set, split and judges (pass the same backend and --data)")
    ev.add_argument("--retry-errors", action="store_true", help="with --resume: ask the run's ERROR/TIMEOUT questions again")
    ev.add_argument("--fail-under", type=fraction, metavar="ACCURACY",
                    help="exit 1 when accuracy (right answers per scored answer, of --split or of the whole run) is below "
                         "this fraction, e.g. 0.8: a CI gate")
    ev.add_argument("--junit-xml", metavar="FILE", help="write the run as JUnit XML: a test case per question (wrong and "
                    "refused: failures; backend errors: errors; gold errors: skipped)")
    add_backend_args(ev)
    add_tracking_args(ev)
    add_common_args(ev)


def run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        if args.example:
            if args.evalset or args.data or args.backend == "databricks":
                raise InvalidInput("--example brings its own eval set and data for the local engine; drop --evalset/--data/--backend",
                                   field="example")
            ex = stack.enter_context(bundled_example(args.example))
            args.space = str(ex.sparse_space if args.example_space == "sparse" else ex.curated_space)
            args.evalset, args.data = str(ex.evalset), [str(ex.data)]
        return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    store = None
    resumed = run_inputs(args.workspace, args.resume) if args.resume else None
    if args.retry_errors and resumed is None:
        raise InvalidInput("--retry-errors needs --resume RUN_ID", field="retry_errors")
    if resumed is not None:
        # the run's own inputs, so it asks the same questions of the same version
        if args.space or args.evalset:
            raise InvalidInput("--resume uses the run's own space version and eval set; drop --space/--evalset",
                               field="space" if args.space else "evalset")
        space, evalset = resumed.space, resumed.evalset
        if args.split is None:
            args.split = resumed.split
        if args.backend == "databricks":
            store = Store.open(args.workspace)
        backend = backend_from_args(args, store)
    elif args.backend == "databricks":
        store = Store.open(args.workspace)  # keeps every version pulled from or pushed to Genie
        backend = backend_from_args(args, store)
        space, evalset = remote_inputs(backend, args.space, args.evalset, seed=args.seed)
    else:
        if not args.space or not args.evalset:
            raise InvalidInput("--space and --evalset are required with the local engine (or --example retail)",
                               field="space" if not args.space else "evalset")
        space, evalset = load_inputs(args.space, args.evalset, seed=args.seed)
        backend = backend_from_args(args)
    default = resumed.judges if resumed is not None else DEFAULT_JUDGES
    judges = [j.strip() for j in args.judges.split(",") if j.strip()] if args.judges else list(default)
    judges += [j for j in load_user_judges(args.metrics or [], args.custom_judge or [], args.llm_judges or []) if j not in judges]
    judge_model = None
    if args.judge_model:
        judge_model = {"model": args.judge_model, **({"base_url": args.judge_base_url} if args.judge_base_url else {}),
                       **({"api_key_env": args.judge_api_key_env} if args.judge_api_key_env else {})}
    tracking = tracking_from_args(args)
    run_id = args.resume or new_run_id()  # known before asking, so an interrupted run can be named
    bar, callback = progress_bar(f"evaluating {space_name(args.space, space.title)}")
    try:
        with bar:
            result = evaluate(
                space, evalset, backend,
                workspace=args.workspace, split=args.split, judges=judges,
                concurrency=args.concurrency, progress=callback, use_cache=not args.no_cache, judge_model=judge_model,
                run_id=run_id, retry_errors=args.retry_errors, tracking=tracking, experiment=args.experiment,
            )
    except KeyboardInterrupt:
        raise Interrupted(_kept(args.workspace, run_id)) from None
    finally:
        if store is not None:
            store.close()
    if args.junit_xml:
        out = Path(args.junit_xml)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(junit_xml(result, name=f"{space.title} — {evalset.name}"), encoding="utf-8")
    if args.json:
        print(json.dumps(result_json(result), indent=2))
    else:
        print_scores(f"{space.title} — {evalset.name}", result, console())
        line = tracked_line(tracked(args.workspace, result.run_id)) if tracking else None
        if line:
            print(line)
    return _gate(result, args.fail_under)


def _kept(workspace: str, run_id: str) -> str:
    """What an interrupted run left, and how to finish it."""
    with Store.open(workspace) as store:
        if store.get_run(run_id) is None:
            return "nothing was recorded"
        kept = len(store.result_statuses(run_id))
    return (f"run {run_id} kept {kept} answer(s); finish it with: chaos-llama eval --resume {run_id} --workspace {workspace} "
            "(and the same backend flags and --data)")


def _gate(result, fail_under: float | None) -> int:
    """--fail-under: exit 1 when accuracy is below the threshold (nothing scored is below any threshold)."""
    if fail_under is None:
        return EXIT_OK
    acc = result.score.accuracy
    if acc is not None and acc >= fail_under:
        return EXIT_OK
    shown = "nothing was scored" if acc is None else f"accuracy {acc:.1%} ({result.score.right}/{result.score.scored})"
    print(f"chaos-llama: {shown} is below --fail-under {fail_under:.1%}", file=sys.stderr)
    return EXIT_FAIL
