"""Reports of an optimization: a self-contained HTML page and a Markdown summary.

The HTML holds everything inline (CSS and SVG, no script, no external asset), so it opens from
an MLflow artifact, a CI upload or an e-mail. Both show only aggregates for val and test: the
per-question lists (remaining failures) are train questions, so the test split stays unseen.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from .optimize.model import OptimizationResult, SplitScore
from .scoring import Score
from .tracking import run_link

if TYPE_CHECKING:  # the traffic section is rendered from its fields only
    from .traffic import FixFirst

_COLORS = {"train": "#4c78a8", "val": "#f58518", "test": "#54a24b"}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _acc(score: Score | None) -> float | None:
    """Accuracy, None where nothing was measured (never drawn as 0%)."""
    return score.accuracy if score is not None else None


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut before escaping so no entity is ever cut in half."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rates(score: SplitScore | None) -> str:
    """'60% right, 15% wrong, 25% refused' (the wrong-answer rate beside accuracy)."""
    if score is None or not score.scored:
        return "-"
    return f"{_pct(score.accuracy)} right, {_pct(score.wrong_rate)} wrong, {_pct(score.refusal_rate)} refused"


def _series(result: OptimizationResult) -> dict[str, list[tuple[int, float]]]:
    """Accuracy of the kept version after each epoch, per split (test only at the end)."""
    out: dict[str, list[tuple[int, float]]] = {"train": [], "val": []}
    current = dict(result.baseline)

    def put(split: str, epoch: int, score: Score | None) -> None:
        acc = _acc(score)
        if acc is not None:  # a split not scored is a gap, not a 0% point
            out.setdefault(split, []).append((epoch, acc))

    for s in ("train", "val"):
        put(s, 0, current.get(s))
    for e in result.epochs:
        if e.decision == "accepted":
            current = e.candidate_scores
        for s in ("train", "val"):
            put(s, e.epoch, current.get(s))
    if result.final:
        put("test", len(result.epochs), result.final.test)
    return {k: v for k, v in out.items() if v}


def accuracy_svg(result: OptimizationResult, width: int = 560, height: int = 260) -> str:
    """Inline SVG line plot: accuracy per epoch per split."""
    series = _series(result)
    n = max([1] + [x for pts in series.values() for x, _ in pts])
    left, right, top, bottom = 48, 90, 16, 36
    pw, ph = width - left - right, height - top - bottom

    def xy(x: float, y: float) -> tuple[float, float]:
        return left + pw * x / n, top + ph * (1 - y)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="accuracy per epoch" class="plot">']
    for i in range(0, 11, 2):
        _, y = xy(0, i / 10)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{i * 10}%</text>')
    for e in range(n + 1):
        x, _ = xy(e, 0)
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11">{e}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" font-size="11">epoch</text>')
    for k, (split, pts) in enumerate(series.items()):
        color = _COLORS[split]
        coords = [xy(x, y) for x, y in pts]
        if len(coords) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (x, y), (_, v) in zip(coords, pts):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{split} {_pct(v)}</title></circle>')
        ly = top + 14 + 18 * k
        parts.append(f'<rect x="{left + pw + 12}" y="{ly - 9}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + pw + 26}" y="{ly}" font-size="12">{split}</text>')
    parts.append("</svg>")
    return "".join(parts)


def category_bars_svg(before: SplitScore | None, after: SplitScore | None, label: str, width: int = 560) -> str:
    """Horizontal bars per category: baseline (grey) and best version; only what was measured is drawn."""
    cats = sorted(set((before.by_category if before else {}) | (after.by_category if after else {})))
    if not cats:
        return ""
    row, left, label_w = 22, 200, 120  # the value label has its own column: never clipped by the SVG's edge
    height = 20 + row * len(cats)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(label)} accuracy per category" class="bars">']
    bw = width - left - label_w - 8
    for i, c in enumerate(cats):
        y = 10 + i * row
        b = _acc(before.by_category.get(c) if before else None)
        a = _acc(after.by_category.get(c) if after else None)
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" font-size="12"><title>{html.escape(c)}</title>'
                     f'{html.escape(_clip(c, 26))}</text>')
        if b is not None:
            parts.append(f'<rect x="{left}" y="{y}" width="{bw * b:.1f}" height="7" fill="#bbb"><title>baseline {_pct(b)}</title></rect>')
        if a is not None:
            parts.append(f'<rect x="{left}" y="{y + 8}" width="{bw * a:.1f}" height="7" fill="{_COLORS.get(label, "#4c78a8")}">'
                         f'<title>best {_pct(a)}</title></rect>')
        value = " → ".join(_pct(v) for v in (b, a) if v is not None) if before is not None else _pct(a)
        parts.append(f'<text x="{left + bw + 6}" y="{y + 13}" font-size="11">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def best_scores(result: OptimizationResult) -> dict[str, SplitScore]:
    """The best version's scores per split (its own epoch's runs; the baseline's when nothing was kept)."""
    best = dict(result.baseline)
    for e in result.epochs:
        if e.decision == "accepted" and e.candidate_version == result.best_version:
            best = e.candidate_scores
    return best


def _summary_rows(result: OptimizationResult) -> list[tuple[str, str, str]]:
    best = best_scores(result)
    rows = [(s, _rates(result.baseline.get(s)), _rates(best.get(s))) for s in ("train", "val")]
    rows.append(("test", "locked", _rates(result.final.test if result.final else None)))
    return rows


def _mlflow(result: OptimizationResult) -> tuple[str, str] | None:
    """(link, where) of the optimization's MLflow run, if it was tracked."""
    if not (result.tracking_run_id and result.tracking_uri):
        return None
    link = run_link(result.tracking_uri, result.tracking_experiment_id or "", result.tracking_run_id)
    where = result.tracking_uri
    if where.startswith("sqlite:"):
        where += f" (open with `mlflow ui --backend-store-uri {where}`)"
    return link, where


def _flips(ids: list[str]) -> str:
    return ", ".join(f"`{q}`" for q in ids) if ids else "none"


def render_markdown(result: OptimizationResult, traffic: FixFirst | None = None) -> str:
    """A Markdown summary (what the MCP `report` tool returns): scores, epochs, changes kept; with
    `traffic`, what real traffic says (coverage, accuracy on it, the clusters to fix first)."""
    f = result.final
    lines = [f"# Optimization `{result.opt_id}` of {result.space_title}", "",
             f"Proposer `{result.proposer}`, {len(result.epochs)} epoch(s), {result.backend_calls} backend questions; "
             f"stopped: {result.stopped_because or result.status}.", "",
             "| split | baseline | best version |", "|---|---|---|"]
    lines += [f"| {s} | {b} | {a} |" for s, b, a in _summary_rows(result)]
    if f and f.val_test_gap is not None:
        lines += ["", f"Best version `{result.best_version[:12]}`: val {_rates(f.val)}; test {_rates(f.test)} (scored once); "
                      f"val–test accuracy gap {f.val_test_gap:+.1%}."]
    lines += ["", "## Epochs", "", "| epoch | decision | train | val | fixed | broken | newly wrong | p | change |",
              "|---|---|---|---|---|---|---|---|---|"]
    for e in result.epochs:
        tr, va = e.candidate_scores.get("train"), e.candidate_scores.get("val")
        lines.append(f"| {e.epoch} | {e.decision} | {_rates(tr)} | {_rates(va)} | "
                     f"{len(e.train_fixed) + len(e.val_fixed)} | {len(e.train_broken) + len(e.val_broken)} | {e.new_wrong} | "
                     f"{'-' if e.p_value is None else f'{e.p_value:.3g}'} | {e.message or e.reason} |")
    tried = [e for e in result.epochs if e.candidate_scores]
    if tried:
        lines += ["", "## Fixed and broken, per epoch", "",
                  "Train questions by id; val as counts (val selects the best version, so its questions stay out of sight)."]
        for e in tried:
            lines.append(f"- epoch {e.epoch} ({e.decision}): train fixed {_flips(e.train_fixed)}; train broken "
                         f"{_flips(e.train_broken)}; val {len(e.val_fixed)} fixed, {len(e.val_broken)} broken")
    tracked = _mlflow(result)
    if tracked:
        lines += ["", f"MLflow run: {tracked[0]} in {tracked[1]}"]
    if result.remaining_failures:
        lines += ["", f"## Remaining train failures ({len(result.remaining_failures)})", ""]
        lines += [f"- `{x.case_id}` {x.outcome}, {x.analysis or x.status}: {x.question}" for x in result.remaining_failures[:20]]
    if traffic is not None:
        lines += ["", "## Real traffic: fix these first", "", traffic.summary() + ".", "",
                  "| " + " | ".join(traffic.COLUMNS) + " |", "|" + "---|" * len(traffic.COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in traffic.table()]
    return "\n".join(lines) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:980px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}.accepted{color:#1a7f37;font-weight:600}.rejected,.invalid{color:#b42318;font-weight:600}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:12px;max-height:28rem}
.add{color:#1a7f37}.del{color:#b42318}details{margin:.4rem 0}code{font-size:12px}
"""


def _diff_html(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        cls = "add" if line.startswith("+") and not line.startswith("+++") else \
              "del" if line.startswith("-") and not line.startswith("---") else ""
        out.append(f'<span class="{cls}">{html.escape(line)}</span>' if cls else html.escape(line))
    return "<pre>" + "\n".join(out) + "</pre>"


def _ids_html(ids: list[str], questions: dict[str, str]) -> str:
    """Question ids, each with its question as a tooltip where known; '-' for none."""
    if not ids:
        return "-"
    return ", ".join(f'<code title="{html.escape(questions[q])}">{html.escape(q)}</code>' if q in questions
                     else f"<code>{html.escape(q)}</code>" for q in ids)


def traffic_html(traffic: FixFirst) -> str:
    """The "real traffic" section: coverage and accuracy on real traffic before and after, and the
    failing clusters ranked by traffic x failure rate."""
    e = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in row) + "</tr>" for row in traffic.table())
    before, after = traffic.accuracy_before, traffic.accuracy_after
    return (f"<h2>Real traffic: fix these first</h2><p>{e(traffic.summary())}.</p>"
            "<table><tr><th></th><th>before</th><th>after</th></tr>"
            f"<tr><td>eval-set coverage of traffic</td><td>{_pct(traffic.coverage_before if traffic.coverage_before is not None else traffic.coverage)}</td>"
            f"<td>{_pct(traffic.coverage)}</td></tr>"
            f"<tr><td>accuracy on real traffic (traffic-weighted, covered clusters)</td><td>{_pct(before)}</td><td>{_pct(after)}</td></tr></table>"
            + ("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in traffic.COLUMNS) + f"</tr>{rows}</table>"
               if rows else "<p>No failing cluster.</p>")
            + (f"<p>{traffic.withheld} failing cluster(s) of held-out families not shown.</p>" if traffic.withheld else ""))


def render_html(result: OptimizationResult, questions: dict[str, str] | None = None, traffic: FixFirst | None = None) -> str:
    """A self-contained HTML report: plot, per-category bars, accepted/rejected changes with diffs and the
    train questions each fixed or broke (`questions`: id -> text, shown on hover), remaining failures; with
    `traffic`, a section on real traffic (`traffic_html`)."""
    e = html.escape
    questions = {**{f.case_id: f.question for f in result.remaining_failures}, **(questions or {})}
    best = best_scores(result)
    body = [f"<h1>Optimization of {e(result.space_title)}</h1>",
            f"<p>Run <code>{e(result.opt_id)}</code>, proposer <code>{e(result.proposer)}</code>, "
            f"{len(result.epochs)} epoch(s), {result.backend_calls} backend questions. Stopped: "
            f"{e(result.stopped_because or result.status)}.</p>",
            "<h2>Accuracy, wrong answers and refusals</h2><table><tr><th>split</th><th>baseline</th><th>best version</th></tr>"]
    body += [f"<tr><td>{s}</td><td>{b}</td><td>{a}</td></tr>" for s, b, a in _summary_rows(result)]
    body.append("</table>")
    if result.final and result.final.val_test_gap is not None:
        body.append(f"<p>Best version <code>{e(result.best_version[:12])}</code> chosen by val; test scored once: "
                    f"val–test gap <b>{result.final.val_test_gap:+.1%}</b>.</p>")
    tracked = _mlflow(result)
    if tracked:
        body.append(f'<p>MLflow run <a href="{e(tracked[0])}"><code>{e(result.tracking_run_id or "")}</code></a> in '
                    f"<code>{e(tracked[1])}</code>; every evaluation is one of its child runs.</p>")
    body.append(accuracy_svg(result))
    body.append("<h2>Per category</h2>")
    for s in ("train", "val"):
        bars = category_bars_svg(result.baseline.get(s), best.get(s), s)
        if bars:
            body.append(f"<h3>{s}</h3>{bars}")
    if result.final and result.final.test:
        bars = category_bars_svg(None, result.final.test, "test")
        if bars:
            body.append(f"<h3>test (best version only)</h3>{bars}")
    body.append("<h2>Changes</h2>")
    for ep in result.epochs:
        edits = "".join(f"<li><code>{e(str(c.get('op')))}</code> "
                        f"{e(_clip(', '.join(f'{k}={v}' for k, v in c.items() if k != 'op'), 400))}</li>" for c in ep.changes)
        flips = ""
        if ep.candidate_scores:
            flips = ("<table><tr><th></th><th>fixed</th><th>broken</th></tr>"
                     f"<tr><td>train</td><td>{_ids_html(ep.train_fixed, questions)}</td><td>{_ids_html(ep.train_broken, questions)}</td></tr>"
                     f"<tr><td>val</td><td>{len(ep.val_fixed)}</td><td>{len(ep.val_broken)}</td></tr></table>")
        body.append(f'<details{" open" if ep.decision == "accepted" else ""}><summary>Epoch {ep.epoch}: '
                    f'<span class="{ep.decision}">{ep.decision}</span> — {e(ep.message or ep.reason)}</summary>'
                    f"<p>{e(ep.reason)}</p>{flips}<ul>{edits}</ul>{_diff_html(ep.diff) if ep.diff else ''}</details>")
    body.append(f"<h2>Remaining train failures ({len(result.remaining_failures)})</h2>")
    if result.remaining_failures:
        body.append("<table><tr><th>id</th><th>question</th><th>analysis</th><th>why</th></tr>")
        body += [f"<tr><td><code>{e(f.case_id)}</code></td><td>{e(f.question)}</td><td>{e(f.analysis or f.status)}</td>"
                 f"<td>{e((f.rationale or '')[:300])}</td></tr>" for f in result.remaining_failures]
        body.append("</table>")
    else:
        body.append("<p>None.</p>")
    if traffic is not None:
        body.append(traffic_html(traffic))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Chaos Llama — {e(result.space_title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(result: OptimizationResult, path: str | Path, questions: dict[str, str] | None = None,
                 traffic: FixFirst | None = None) -> Path:
    """Write the HTML report (and the Markdown summary next to it); `questions`: train question texts by id;
    `traffic`: the real-traffic section (`traffic_html`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, questions, traffic), encoding="utf-8")
    path.with_suffix(".md").write_text(render_markdown(result, traffic), encoding="utf-8")
    return path
