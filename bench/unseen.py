"""Generalization on phrasings nothing was tuned to: `examples/retail/evalset_unseen.yaml`.

The retail example's never-tuned set (69 questions, 8 expecting a refusal) was written apart from
the engine, the proposers and the curated space, and none of them was ever changed while looking at
it. Scored here, with the grounded engine, for three spaces:

- the sparse space (tables only) and the hand-curated one;
- the space the heuristic optimize loop builds from the sparse one on the *realistic* eval set's
  train/val splits (`OptimizeSettings(max_epochs=5)`, what `chaos-llama optimize --example retail`
  runs), and, beside it, that loop's score on the realistic test split.

Right / wrong / refused as in `bench.engine_accuracy` (its `outcome`), overall and per category.

    python -m bench.unseen [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table
from bench.engine_accuracy import _optimized, _rwr, outcome

SECTION = "## Never-tuned phrasings (generalization)"


def _by_category(genie, space, cases) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "right": 0, "wrong": 0, "refused": 0})
    for c in cases:
        o = outcome(genie, space, c)
        for key in ("ALL", c.category or "-"):
            out[key][o] += 1
            out[key]["n"] += 1
    return dict(out)


def run(limit: int | None = None, optimize: bool = True) -> dict[str, Any]:
    from chaos_llama.tools.backends.local import LocalGenie
    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evaluate import bundled_example, load_inputs

    with bundled_example("retail") as ex, tempfile.TemporaryDirectory() as tmp:
        genie = LocalGenie(build_database([ex.data]), strategy="retrieval")
        sparse, realistic = load_inputs(ex.sparse_space, ex.evalset)
        curated, _ = load_inputs(ex.curated_space, ex.evalset)
        unseen = load_inputs(ex.curated_space, ex.unseen)[1].cases[:limit]
        spaces = {"sparse": sparse, "curated": curated}
        if optimize:
            spaces["optimized from sparse (realistic train/val)"] = _optimized(sparse, realistic, genie, Path(tmp))
        test = realistic.split("test")[:limit]
        rows = []
        for name, space in spaces.items():
            rows.append({"space": name, "unseen": _by_category(genie, space, unseen),
                         "realistic_test": _by_category(genie, space, test)["ALL"]})
    return {"rows": rows, "questions": len(unseen)}


def render(res: dict[str, Any]) -> str:
    cats = sorted({c for r in res["rows"] for c in r["unseen"] if c != "ALL"})
    lines = [SECTION, "",
             f"`examples/retail/evalset_unseen.yaml` ({res['questions']} questions) was never used to tune the engine, the "
             "proposers or the curated space. Right / wrong / refused (share, count in brackets) with the grounded engine; "
             "\"optimized from sparse\" is the space the heuristic optimize loop builds on the realistic set's train/val "
             "splits (5 epochs), shown beside its realistic test score. Reproduce: `python -m bench.unseen`.", ""]
    lines += [md_table(["space", "unseen: all", "realistic test"],
                       [(r["space"], _rwr(r["unseen"]["ALL"]), _rwr(r["realistic_test"])) for r in res["rows"]]), ""]
    lines += ["Per category of the unseen set:", ""]
    lines += [md_table(["category", *(r["space"] for r in res["rows"])],
                       [(c, *(_rwr(r["unseen"][c]) if c in r["unseen"] else "-" for r in res["rows"])) for c in cats]), ""]
    lines += [machine_line(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-optimize", action="store_true", help="skip the optimize loop (quick)")
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(optimize=not args.no_optimize)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
