"""The `chaos-llama` command line: a thin face over `chaos_llama.tools`.

Every command is a few lines around one library call. Heavy modules are imported inside the
command that needs them so `chaos-llama --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import ChaosLlamaError

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


# ---------------------------------------------------------------- output helpers
def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False, soft_wrap=True)


def _progress(total_hint: str):
    """A rich progress bar on stderr, fed by the runner's progress callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(f"[bold]{total_hint}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(total_hint, total=None)

    def callback(done: int, total: int, case_id: str | None = None, status: str | None = None) -> None:
        bar.update(task, completed=done, total=total)

    return bar, callback


def _score_rows(result) -> list[tuple[str, str, int, int, float]]:
    """(split, category, correct, total, accuracy) rows from a RunResult, overall rows first."""
    from collections import defaultdict

    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for q in result.rows:
        for key in ((q.split or "-", "ALL"), (q.split or "-", q.category or "-")):
            counts[key][1] += 1
            counts[key][0] += int(bool(q.correct))
    order = {"train": 0, "val": 1, "test": 2}
    rows = [(s, c, n[0], n[1], n[0] / n[1] if n[1] else 0.0) for (s, c), n in counts.items()]
    rows.sort(key=lambda r: (order.get(r[0], 9), r[1] != "ALL", r[1]))
    return rows


def _print_scores(title: str, result, console) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col, just in (("split", "left"), ("category", "left"), ("correct", "right"), ("accuracy", "right")):
        table.add_column(col, justify=just)
    for split, cat, ok, n, acc in _score_rows(result):
        style = "bold" if cat == "ALL" else None
        table.add_row(split, cat, f"{ok}/{n}", f"{acc:.0%}", style=style)
    console.print(table)
    errors = sum(1 for q in result.rows if q.status in ("ERROR", "TIMEOUT"))
    console.print(
        f"run [bold]{result.run_id}[/]: {result.correct}/{result.total} correct "
        f"({(result.accuracy or 0):.1%}); backend calls {result.backend_calls}, cache hits {result.cache_hits}, "
        f"errors {errors}"
    )


def _result_json(result) -> dict:
    return json.loads(result.model_dump_json())


# ---------------------------------------------------------------- commands
def backend_from_args(args: argparse.Namespace, store=None):
    """The backend the command line names (local engine or a Genie space)."""
    from .errors import InvalidInput

    if args.backend == "databricks":
        from .evaluate import open_databricks_backend

        return open_databricks_backend(args.space_id, profile=args.profile, host=args.host, warehouse_id=args.warehouse_id,
                                       rate_per_minute=args.rate or None, settle_s=args.settle, store=store)
    if not args.data:
        raise InvalidInput("--data is required for the local engine: CSV/Parquet files or folders, a .duckdb file, or a PostgreSQL dump",
                           field="data")
    from .evaluate import open_local_backend

    return open_local_backend(args.data, strategy=args.strategy)


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


def cmd_eval(args: argparse.Namespace) -> int:
    from .errors import InvalidInput
    from .evaluate import evaluate, load_inputs, remote_inputs

    store = None
    if args.backend == "databricks":
        from .store import Store

        Path(args.workspace).mkdir(parents=True, exist_ok=True)
        store = Store(Path(args.workspace) / "chaos.db")  # keeps every version pulled from or pushed to Genie
        backend = backend_from_args(args, store)
        space, evalset = remote_inputs(backend, args.space, args.evalset, seed=args.seed)
    else:
        if not args.space or not args.evalset:
            raise InvalidInput("--space and --evalset are required with the local engine", field="space" if not args.space else "evalset")
        space, evalset = load_inputs(args.space, args.evalset, seed=args.seed)
        backend = backend_from_args(args)
    from .judges.custom import load_user_judges

    judges = [j.strip() for j in args.judges.split(",") if j.strip()]
    judges += [j for j in load_user_judges(args.metrics or [], args.custom_judge or [], args.llm_judges or []) if j not in judges]
    judge_model = None
    if args.judge_model:
        judge_model = {"model": args.judge_model, **({"base_url": args.judge_base_url} if args.judge_base_url else {}),
                       **({"api_key_env": args.judge_api_key_env} if args.judge_api_key_env else {})}
    bar, callback = _progress(f"evaluating {Path(args.space).name if args.space else space.title}")
    try:
        with bar:
            result = evaluate(
                space, evalset, backend,
                workspace=args.workspace, split=args.split, judges=judges,
                concurrency=args.concurrency, progress=callback, use_cache=not args.no_cache, judge_model=judge_model,
            )
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps(_result_json(result), indent=2))
    else:
        _print_scores(f"{space.title} — {evalset.name}", result, _console())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Evaluate the bundled sparse and curated spaces offline and print the difference."""
    from .evaluate import bundled_example, evaluate, load_inputs, open_local_backend

    console = _console()
    outputs = {}
    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data], strategy="retrieval")
        for label, path in (("sparse", ex.sparse_space), ("curated", ex.curated_space)):
            space, evalset = load_inputs(path, ex.evalset, seed=args.seed)
            bar, callback = _progress(f"{label} space")
            with bar:
                outputs[label] = evaluate(
                    space, evalset, backend, workspace=args.workspace, progress=callback,
                    concurrency=args.concurrency,
                )
            if not args.json:
                _print_scores(f"{label} space: {space.title}", outputs[label], console)
    sparse, curated = outputs["sparse"], outputs["curated"]
    before = {r.case_id: bool(r.correct) for r in sparse.rows}
    fixed = sum(1 for r in curated.rows if r.correct and not before.get(r.case_id))
    broken = sum(1 for r in curated.rows if not r.correct and before.get(r.case_id))
    if args.json:
        print(json.dumps({"sparse": _result_json(sparse), "curated": _result_json(curated),
                          "fixed": fixed, "broken": broken}, indent=2))
    else:
        console.print(
            f"\n[bold]Metadata matters:[/] accuracy {(sparse.accuracy or 0):.0%} (sparse) → {(curated.accuracy or 0):.0%} "
            f"(curated); {fixed} questions fixed, {broken} broken by the curated metadata."
        )
    return EXIT_OK


def cmd_space(args: argparse.Namespace) -> int:
    from .space import io
    from .space.validate import validate_space

    space = io.load_space(args.path)
    if args.action == "validate":
        problems = validate_space(space)
        for p in problems:
            print(f"{args.path}: {p.severity}: {p.path}: {p.message}")
        errors = [p for p in problems if p.severity == "error"]
        print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
        return EXIT_BAD_INPUT if errors else EXIT_OK
    if args.action == "hash":
        print(io.space_hash(space))
    elif args.action == "show":
        print(io.space_to_yaml(space), end="")
    elif args.action == "export":
        out = Path(args.out or Path(args.path).with_suffix("").name + ".geniespace.json")
        io.save_space(space, out)
        print(f"wrote {out}")
    return EXIT_OK


def cmd_evalset(args: argparse.Namespace) -> int:
    from .evalset import assign_splits, load_evalset, split_counts

    if args.action == "import-defog":
        from .data.defog import load_defog_questions
        from .evalset import save_evalset

        evalset = load_defog_questions(args.path, db=args.db)
        out = Path(args.out or f"defog_{args.db or 'all'}.yaml")
        save_evalset(evalset, out)
        print(f"wrote {len(evalset.cases)} questions to {out}")
        return EXIT_OK
    if args.action == "freeze":
        from .evalset import balanced_splits, save_evalset

        evalset = balanced_splits(load_evalset(args.path), seed=args.seed)
        out = Path(args.out or args.path)
        save_evalset(evalset, out)
        print(f"wrote {len(evalset.cases)} questions with fixed, stratified splits to {out}")
    else:
        evalset = assign_splits(load_evalset(args.path), seed=args.seed)
    counts = split_counts(evalset, by_category=True)
    print(json.dumps({"name": evalset.name, "questions": len(evalset.cases), "splits": counts}, indent=2))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the MCP server (stdio by default; streamable HTTP or SSE on 127.0.0.1)."""
    from ..server.app import serve
    from ..server.config import load_config

    overrides = {k: v for k, v in (("workspace", args.workspace), ("space", args.space), ("evalset", args.evalset),
                                   ("data", args.data), ("example", args.example)) if v}
    serve(load_config(args.config, overrides=overrides), transport=args.transport, host=args.host, port=args.port)
    return EXIT_OK


# ---------------------------------------------------------------- parser
def _add_serve_parser(sub: "argparse._SubParsersAction") -> None:
    sv = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    sv.add_argument("--config", help="project file (default: ./chaos-llama.yaml or $CHAOS_LLAMA_CONFIG)")
    sv.add_argument("--transport", default="stdio", choices=["stdio", "http", "sse"])
    sv.add_argument("--host", default="127.0.0.1", help="HTTP/SSE bind address (default: 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8765)
    sv.add_argument("--workspace", help="folder for the store, history and budget ledger")
    sv.add_argument("--space", help="space file (overrides the project file)")
    sv.add_argument("--evalset", help="eval set file (overrides the project file)")
    sv.add_argument("--data", nargs="+", help="data for the local engine")
    sv.add_argument("--example", help="use a bundled example, e.g. retail")
    sv.set_defaults(func=cmd_serve)


def _serve_parser() -> argparse.ArgumentParser:
    """Only `serve`: the server must answer `initialize` fast, so no other command's module is imported."""
    p = argparse.ArgumentParser(prog="chaos-llama")
    _add_serve_parser(p.add_subparsers(dest="command", required=True))
    return p


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chaos-llama", description="Test and optimize Databricks AI/BI Genie spaces.")
    p.add_argument("--version", action="version", version=f"chaos-llama {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--workspace", default=".chaos-llama", help="folder holding the SQLite store (default: ./.chaos-llama)")
        sp.add_argument("--seed", type=int, default=0, help="train/val/test split seed")
        sp.add_argument("--concurrency", type=int, default=4)
        sp.add_argument("--json", action="store_true", help="print machine-readable JSON")

    demo = sub.add_parser("demo", help="evaluate the bundled sparse and curated example spaces offline")
    common(demo)
    demo.set_defaults(func=cmd_demo)

    ev = sub.add_parser("eval", help="evaluate a space on an eval set")
    ev.add_argument("--space", help="space file (.yaml or .geniespace.json); with --backend databricks, pushed to Genie "
                    "before asking (default there: the version Genie holds)")
    ev.add_argument("--evalset", help="eval set (.yaml, .csv, .jsonl); default with --backend databricks: the space's benchmarks")
    ev.add_argument("--data", nargs="+", help="data for the local engine: CSV/Parquet files or folders, .duckdb, or a PostgreSQL dump")
    ev.add_argument("--split", choices=["train", "val", "test"], help="evaluate one split only")
    ev.add_argument("--judges", default=",".join(("execution", "sql_equivalence", "sql_valid", "failure_analysis")),
                    help="comma-separated judge names; the first decides 'correct'")
    ev.add_argument("--metrics", action="append", metavar="FILE", help="YAML metric file: each metric becomes a judge (repeatable)")
    ev.add_argument("--custom-judge", action="append", metavar="REF",
                    help="a Python judge, 'path/to/file.py:function' or 'pkg.module:function' (repeatable)")
    ev.add_argument("--llm-judges", action="append", metavar="FILE",
                    help="YAML file of LLM judge definitions (criteria, examples); name built-in ones in --judges: "
                         "answers_question, semantically_equivalent, follows_instructions")
    ev.add_argument("--judge-model", help="model for LLM judges at an OpenAI-compatible endpoint (else CHAOS_JUDGE_MODEL; "
                                          "without a model their verdicts stay pending)")
    ev.add_argument("--judge-base-url", help="the endpoint's base URL, e.g. http://localhost:8000/v1")
    ev.add_argument("--judge-api-key-env", help="name of the environment variable holding the endpoint's API key")
    ev.add_argument("--strategy", default="retrieval", choices=["retrieval", "llm"])
    ev.add_argument("--no-cache", action="store_true", help="ask the backend even for unchanged versions")
    add_backend_args(ev)
    common(ev)
    ev.set_defaults(func=cmd_eval)

    sp = sub.add_parser("space", help="validate, show, hash or export a space file")
    sp.add_argument("action", choices=["validate", "show", "hash", "export"])
    sp.add_argument("path")
    sp.add_argument("--out", help="output path for export (.geniespace.json or .yaml)")
    sp.set_defaults(func=cmd_space)

    es = sub.add_parser("evalset", help="inspect an eval set, freeze stratified splits into it, or import the defog format")
    es.add_argument("action", choices=["info", "freeze", "import-defog"],
                    help="info: counts per split and category; freeze: write exactly stratified splits into the file "
                         "(--out to write elsewhere); import-defog: convert defog's CSV")
    es.add_argument("path")
    es.add_argument("--db", help="import-defog: one database only")
    es.add_argument("--out")
    es.add_argument("--seed", type=int, default=0)
    es.set_defaults(func=cmd_evalset)

    _add_serve_parser(sub)
    from .labels import add_label_parser  # light module: the store loads inside the command
    add_label_parser(sub)
    from .optimize.cli import add_optimize_parser  # light: the loop loads inside the command
    add_optimize_parser(sub)
    from .emulator import add_emulate_parser  # light module: engine and server load inside the command
    add_emulate_parser(sub)
    from .benchmarks_cli import add_benchmarks_parser  # light: backend and store load inside the command
    add_benchmarks_parser(sub)
    from .doctor import add_doctor_parser  # light: SDK and engine load inside the checks
    add_doctor_parser(sub)
    return p


def _is_bad_input(e: ChaosLlamaError) -> bool:
    """What the user named is wrong (a file, a field, a judge, a data source): exit 2, not 1."""
    from .errors import InvalidInput, SpaceNotFound

    return isinstance(e, (InvalidInput, SpaceNotFound))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = (_serve_parser() if argv[:1] == ["serve"] else build_parser()).parse_args(argv)
    try:
        return args.func(args)
    except ChaosLlamaError as e:
        print(f"chaos-llama: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT if _is_bad_input(e) else EXIT_FAIL
    except FileNotFoundError as e:
        print(f"chaos-llama: error: no such file: {e.filename}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
