"""Re-evaluation cost: backend questions for re-running an unchanged space and a one-line change.

On the bundled retail example (curated space, embedded engine), counts the backend calls the
runner makes for: a first run, a second run of the unchanged version, and a run after a one-line
edit (one synonym added to one column). The baseline is a runner without the answer cache
(`use_cache=False`), which asks every question every time.

    python -m bench.reeval_cost [--split NAME] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table

SECTION = "## Re-evaluation cost"


def one_line_change(space: Any) -> Any:
    """The space with one synonym added to the first configured column (a one-line YAML edit)."""
    s = space.model_copy(deep=True)
    for table in s.serialized.tables:
        for col in table.column_configs:
            syn = col.synonyms if isinstance(col.synonyms, list) else ([col.synonyms] if col.synonyms else [])
            col.synonyms = [*syn, "bench synonym"]
            return s
    raise RuntimeError("the space has no column config to edit")


def run(split: str | None = None) -> dict[str, Any]:
    from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend
    from chaos_llama.tools.runner import RunSettings, run_eval
    from chaos_llama.tools.store import Store

    with bundled_example("retail") as ex:
        space, evalset = load_inputs(ex.curated_space, ex.evalset)
        engine = open_local_backend([ex.data])
    changed = one_line_change(space)
    steps = [("first run", space), ("unchanged re-run", space), ("after a one-line change", changed)]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for use_cache in (True, False):
            store = Store(Path(tmp) / f"cache-{use_cache}.db")
            for name, sp in steps:
                res = asyncio.run(run_eval(evalset, engine, sp, RunSettings(split=split, use_cache=use_cache, judges=["execution"]), store=store))
                out.append({"step": name, "cache": use_cache, "questions": len(res.rows),
                            "backend_calls": res.backend_calls, "cache_hits": res.cache_hits, "accuracy": res.accuracy})
    return {"split": split, "steps": out}


def render(res: dict[str, Any]) -> str:
    by = {(s["step"], s["cache"]): s for s in res["steps"]}
    rows = []
    for step in ("first run", "unchanged re-run", "after a one-line change"):
        a, b = by[(step, True)], by[(step, False)]
        rows.append((step, a["questions"], a["backend_calls"], b["backend_calls"], a["accuracy"]))
    unchanged = by[("unchanged re-run", True)]["backend_calls"]
    changed = by[("after a one-line change", True)]["backend_calls"]
    return "\n".join([
        SECTION, "",
        "Backend questions asked by the runner on the bundled retail example (curated space, embedded engine), "
        "with the answer cache (keyed by space version, question and backend) and without it (the baseline). "
        "The change adds one synonym to one column. Reproduce: `python -m bench.reeval_cost`.", "",
        md_table(["run", "questions", "backend calls (cache)", "backend calls (no cache)", "accuracy"], rows), "",
        f"An unchanged version costs **{unchanged}** backend calls (goal 0). After a one-line change the cache "
        f"saves nothing (**{changed}** calls): answers are cached per space version, and any metadata edit can "
        "change any answer, so every question is asked again. Asking only the questions an edit can affect would "
        "need a per-question dependency model of the metadata, which the runner does not have.",
        "", machine_line(), "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default=None, help="only this split (default: all questions)")
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(args.split)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
