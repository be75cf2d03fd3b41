"""The grounding trace every offline answer carries in `Answer.details["grounding"]`, and a
few-line summary of it for failure analysis and `eval_failures`.

The trace is small and JSON-able: `spans` (each grounded part of the question: its text, the role
it plays — measure, counted, dimension, entity, filter, date, context, time, limit, ... —, the
metadata entry it matched by its path in the space, how it matched, and rejected candidates),
`shape`, `rules` and `joins` used (paths), `time` ranges, `date_column`, `notes` (assumptions),
`corrections` (typos), or for a refusal `refused`, `ungrounded` words and `missing` (what kind of
lever — measure, dimension, value, synonym, join, instruction, example — was missing or ambiguous),
or for an example answer `example` and its `slots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .ground import Grounding
from .plan import Plan, Refusal

if TYPE_CHECKING:  # pragma: no cover
    from .compose import Composer
    from .rules import Rules

def _span_items(g: Grounding) -> list[dict]:
    out = []
    for s in g.spans:
        if s.kind == "entity":
            item = {"text": g.surface(s.start, s.end), "kind": s.role or "unused"}
            if s.chosen is not None:
                via = next((p.via for p in s.phrases if p.entry is s.chosen), None)
                item.update(entry=s.chosen.path, name=s.chosen.label, via=via)
                if s.chosen.kind == "value":
                    item["value"] = s.chosen.value
            if s.rejected:
                item["rejected"] = [{"entry": e.path, "name": e.label, "reason": why} for e, why in s.rejected]
            out.append(item)
        elif s.kind == "time":
            out.append({"text": g.surface(s.start, s.end), "kind": "time", "time": s.time.kind,
                        **({"grain": s.time.grain} if s.time.grain else {})})
        elif s.kind == "number" and s.role:
            out.append({"text": g.surface(s.start, s.end), "kind": s.role, "value": s.value})
        elif s.kind == "cue" and s.role and s.role not in ("which", "filler", "and"):
            out.append({"text": g.surface(s.start, s.end), "kind": s.role})
    return out


def answer_trace(g: Grounding, plan: Plan, composer: Composer, rules: Rules) -> dict:
    trace: dict[str, Any] = {"spans": _span_items(g), "shape": plan.shape}
    ruled = [{"sql": c.sql, "entry": c.path} for c in plan.conds if c.kind == "rule"]
    if ruled:
        trace["rules"] = ruled
    if composer.trace["joins"]:
        trace["joins"] = composer.trace["joins"]
    if composer.trace["time"]:
        trace["time"] = composer.trace["time"]
    if plan.date is not None:
        trace["date_column"] = plan.date.path
    notes = composer.trace["notes"] + [m.assumed for m in plan.measures if m.assumed]
    if notes:
        trace["notes"] = notes
    if rules.round_digits is not None:
        trace["rounding"] = rules.round_source
    if g.corrections:
        trace["corrections"] = g.corrections
    return trace


def refusal_trace(g: Grounding, r: Refusal, tried: list[dict] | None = None) -> dict:
    trace: dict[str, Any] = {"spans": _span_items(g), "refused": r.reason}
    if r.words:
        trace["ungrounded"] = r.words
    if r.missing:
        trace["missing"] = r.missing
    if g.corrections:
        trace["corrections"] = g.corrections
    if tried:
        trace["examples_tried"] = tried[:3]
    return trace


def summarize(grounding: dict[str, Any] | None, limit: int = 4) -> list[str]:
    """At most `limit` lines saying what an answer grounded on (or why it refused).

    >>> for line in summarize({"spans": [{"text": "turnover", "kind": "measure", "name": "Net revenue",
    ...     "entry": "instructions.sql_snippets.measures[0]"}, {"text": "2023", "kind": "time"}],
    ...     "rules": [{"sql": "orders.stat_cd = 'C'", "entry": "instructions.sql_snippets.filters[0]"}]}):
    ...     print(line)
    grounded: 'turnover' -> measure Net revenue [instructions.sql_snippets.measures[0]]; '2023' -> time
    rules: orders.stat_cd = 'C' [instructions.sql_snippets.filters[0]]
    """
    if not grounding:
        return []
    lines = []
    parts = []
    for s in grounding.get("spans", []):
        if s.get("kind") in ("group", "which", "unit", "amount", "agg", "versus", "order", "frequent", "not"):
            continue
        what = s.get("name") or ""
        ref = f" [{s['entry']}]" if s.get("entry") else ""
        parts.append(f"'{s['text']}' -> {s['kind']}" + (f" {what}{ref}" if what else ""))
    if parts:
        lines.append("grounded: " + "; ".join(parts))
    if grounding.get("example"):
        slots = grounding.get("slots", {}).get("filled", {})
        lines.append(f"example {grounding['example']}" + (" with " + ", ".join(f"{k}={v}" for k, v in slots.items())
                                                          if slots else ""))
    if grounding.get("rules"):
        lines.append("rules: " + "; ".join(f"{r['sql']} [{r['entry']}]" for r in grounding["rules"]))
    if grounding.get("refused"):
        miss = ", ".join(f"{m.get('words', '')} ({m['kind']})".strip() for m in grounding.get("missing", []))
        lines.append(f"refused: {grounding['refused']}" + (f"; missing: {miss}" if miss else ""))
    elif grounding.get("joins"):
        lines.append("joins: " + ", ".join(grounding["joins"]))
    return lines[:limit]
