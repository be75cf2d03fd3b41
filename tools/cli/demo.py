"""`chaos-llama demo`: the bundled example's sparse and curated spaces, evaluated offline side by side."""

from __future__ import annotations

import argparse
import json

from ..evaluate import bundled_example, evaluate, load_inputs, open_local_backend
from . import EXIT_OK
from ._common import add_common_args, console, print_scores, progress_bar, result_json

HELP = "evaluate the bundled sparse and curated example spaces offline"
SETS = ("realistic", "templates", "unseen")


def add_arguments(sp: argparse.ArgumentParser) -> None:
    add_common_args(sp)
    sp.add_argument("--set", choices=SETS, default="realistic",
                    help="which bundled eval set: realistic (default; phrased as business users ask), templates (few phrasings "
                         "per question family) or unseen (phrasings nothing was tuned to)")


def run(args: argparse.Namespace) -> int:
    out = console()
    outputs = {}
    with bundled_example("retail") as ex:
        backend = open_local_backend([ex.data], strategy="retrieval")
        for label, path in (("sparse", ex.sparse_space), ("curated", ex.curated_space)):
            space, evalset = load_inputs(path, {"realistic": ex.evalset, "templates": ex.templates, "unseen": ex.unseen}[args.set],
                                         seed=args.seed)
            bar, callback = progress_bar(f"{label} space")
            with bar:
                outputs[label] = evaluate(space, evalset, backend, workspace=args.workspace, progress=callback,
                                          concurrency=args.concurrency)
            if not args.json:
                print_scores(f"{label} space: {space.title}", outputs[label], out)
    sparse, curated = outputs["sparse"], outputs["curated"]
    before = {r.case_id: bool(r.correct) for r in sparse.rows}
    fixed = sum(1 for r in curated.rows if r.correct and not before.get(r.case_id))
    broken = sum(1 for r in curated.rows if not r.correct and before.get(r.case_id))
    if args.json:
        print(json.dumps({"sparse": result_json(sparse), "curated": result_json(curated), "fixed": fixed, "broken": broken}, indent=2))
    else:
        out.print(
            f"\n[bold]Metadata matters[/] ({args.set} eval set): right {(sparse.accuracy or 0):.0%}, wrong {sparse.score.wrong_rate or 0:.0%} "
            f"(sparse) → right {(curated.accuracy or 0):.0%}, wrong {curated.score.wrong_rate or 0:.0%} (curated); "
            f"{fixed} questions fixed, {broken} broken by the curated metadata."
        )
    return EXIT_OK
