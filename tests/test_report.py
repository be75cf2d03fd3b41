"""The HTML report is self-contained and well formed; the Markdown summary has the scores; neither shows test questions."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from chaos_llama.tools.optimize.model import EpochRecord, Failure, FinalScore, OptimizationResult, SplitScore
from chaos_llama.tools.report import render_html, render_markdown, write_report
from chaos_llama.tools.scoring import Score


def _counts(acc: float, n: int) -> dict:
    right = round(acc * n)
    return {"total": n, "right": right, "wrong": (n - right) // 2, "refused": n - right - (n - right) // 2}


def _score(acc: float, n: int = 10, **cats: float) -> SplitScore:
    return SplitScore(**_counts(acc, n), by_category={k: Score(**_counts(v, n)) for k, v in (cats or {"aggregation": acc}).items()})


def _result() -> OptimizationResult:
    return OptimizationResult(
        opt_id="opt-123", space_title="Retail <sparse>", proposer="heuristic", status="completed",
        stopped_because="no failing train question left", initial_version="a" * 16, best_version="b" * 16,
        baseline={"train": _score(0.1, joins=0.0), "val": _score(0.0, joins=0.0)},
        epochs=[
            EpochRecord(epoch=1, base_version="a" * 16, candidate_version="b" * 16, message="add join specs",
                        changes=[{"op": "add_join_spec", "left": "orders", "right": "stores"}],
                        diff="--- a/space.yaml\n+++ b/space.yaml\n+  join_specs: []\n-  old: x\n",
                        candidate_scores={"train": _score(0.9, joins=1.0), "val": _score(0.8, joins=0.8)},
                        train_fixed=["t1", "t2"], val_fixed=["v1"], p_value=0.01, decision="accepted", reason="3 fixed"),
            EpochRecord(epoch=2, base_version="b" * 16, candidate_version="c" * 16, message="drop examples",
                        changes=[{"op": "remove_example_sql", "id": "f" * 32}], diff="-x\n",
                        candidate_scores={"train": _score(0.2), "val": _score(0.1)},
                        train_broken=["t1"], p_value=1.0, decision="rejected", reason="no net gain; reverted"),
        ],
        final=FinalScore(version="b" * 16, val=_score(0.8), test=_score(0.7, by_test=0.7), val_test_gap=0.1),
        backend_calls=42,
        remaining_failures=[Failure(case_id="t9", question="Which <store> sold most?", gold_sql=["SELECT 1"],
                                    analysis="MISSING_JOIN", rationale="gold joins stores")],
    )


class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "circle", "polyline"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.errors, self.external = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v and "://" in v:
                self.external.append(v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_html_report_renders_self_contained(tmp_path):
    """Plot, per-category bars, accepted/rejected changes with diffs, remaining failures; balanced tags; nothing external."""
    page = render_html(_result())
    checker = _Checker()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []
    assert checker.external == [] and "<script" not in page
    assert page.count("<svg") >= 3 and "<polyline" in page  # accuracy plot + category bars
    assert 'class="accepted"' in page and 'class="rejected"' in page
    assert '<span class="add">+  join_specs: []</span>' in page
    assert "Retail &lt;sparse&gt;" in page and "Which &lt;store&gt; sold most?" in page  # escaped
    assert "+10.0%" in page  # val-test gap
    out = write_report(_result(), tmp_path / "r" / "report.html")
    assert out.read_text(encoding="utf-8") == page and out.with_suffix(".md").exists()


def test_markdown_summary():
    md = render_markdown(_result())
    # accuracy always comes with the wrong-answer and refusal rates
    assert "| train | 10.0% right, 40.0% wrong, 50.0% refused | 90.0% right, 0.0% wrong, 10.0% refused |" in md
    assert "| test | locked | 70.0% right, 10.0% wrong, 20.0% refused |" in md
    assert "| 2 | rejected |" in md and "val–test accuracy gap +10.0%" in md
    assert "`t9` wrong, MISSING_JOIN" in md


def _chromium() -> str | None:
    import shutil

    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None)


def test_report_renders_in_headless_chromium(tmp_path):
    """A real browser lays the page out: the plot and bars are drawn (the screenshot has ink in
    them) and the DOM it built holds the tables and every SVG. Skipped where no Chromium is
    installed (Debian: apt-get install chromium)."""
    import subprocess

    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium/chrome on PATH (Debian: apt-get install chromium) - the HTML parser test above still runs")
    out = write_report(_result(), tmp_path / "report.html")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == render_html(_result()).count("<svg") and "<polyline" in dom.stdout
    assert "Which &lt;store&gt; sold most?" in dom.stdout
    sizes = {}
    for name, url in (("report", out.as_uri()), ("blank", "about:blank")):
        shot = tmp_path / f"{name}.png"
        run = subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,1400", url], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", run.stderr[-2000:]
        sizes[name] = shot.stat().st_size
    # a painted page (text, axes, bars) compresses far worse than an empty one of the same size
    assert sizes["report"] > 5 * sizes["blank"], sizes


# ---------------------------------------------------------------- what is drawn is what was measured
def _svgs(page: str) -> list[str]:
    return [p.split("</svg>", 1)[0] for p in page.split("<svg")[1:]]


def test_no_fabricated_baselines():
    """The test split is scored once, by the best version: its bars have no baseline bar and no 'x → y' label,
    and a split with nothing scored is no 0% point in the plot."""
    from chaos_llama.tools.report import _series, category_bars_svg

    result = _result()
    test_bars = category_bars_svg(None, result.final.test, "test")
    assert "baseline" not in test_bars and "→" not in test_bars and ">70.0%<" in test_bars
    val_bars = category_bars_svg(result.baseline["val"], _score(0.8, joins=0.8), "val")
    assert "<title>baseline 0.0%</title>" in val_bars and "0.0% → 80.0%" in val_bars  # a measured 0% is drawn
    unscored = result.model_copy(update={"baseline": {"train": result.baseline["train"], "val": SplitScore(total=10, pending=10)}})
    series = _series(unscored)
    assert [x for x, _ in series["val"]] == [1, 2] and series["train"][0] == (0, 0.1)  # no val point before it was scored
    assert series["test"] == [(2, 0.7)]


def test_bar_labels_stay_inside_the_picture():
    """The value label has its own column: its right end (11px text, at most 0.62em a character) is inside the SVG
    whatever the bar's length; long category names are cut (whole name on hover), never drawn past the left edge."""
    import re

    from chaos_llama.tools.report import category_bars_svg

    long_name = "a_category_name_far_longer_than_the_label_column_allows"
    after = _score(1.0, **{long_name: 1.0, "short": 0.05})
    svg = category_bars_svg(_score(0.95, **{long_name: 0.95, "short": 0.0}), after, "val")
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    for x, label in re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="11">([^<]*)</text>', svg):
        assert float(x) + len(label) * 11 * 0.62 <= width, (x, label)
    names = re.findall(r'text-anchor="end" font-size="12"><title>([^<]*)</title>([^<]*)</text>', svg)
    assert (long_name, long_name[:25] + "…") in names and all(len(shown) * 12 * 0.62 <= 194 for _, shown in names)


def test_escaped_text_is_never_cut_into_an_entity():
    """Long change values are cut before escaping: no '&#x27;nam'-style half entity is ever written."""
    import re

    value = "it's " * 200 + "<end>"
    result = _result()
    result.epochs[0].changes = [{"op": "add_text_instruction", "content": value}]
    page = render_html(result)
    assert not re.search(r"&(#x?[0-9a-fA-F]*|[a-zA-Z]*)(?=[^;#\w])", page.replace("&nbsp;", "")), "a cut entity"
    item = re.search(r"<li><code>add_text_instruction</code> ([^<]*)</li>", page).group(1)
    assert item.endswith("…") and "&#x27;" in item


def test_fixed_and_broken_per_epoch_and_the_mlflow_link():
    """Each tried epoch lists the train questions it fixed and broke (question text on hover) and val as counts;
    the MLflow run is linked in both renderings."""
    result = _result().model_copy(update={"tracking_run_id": "abc123", "tracking_uri": "sqlite:////tmp/ws/mlflow.db",
                                          "tracking_experiment_id": "7"})
    md = render_markdown(result)
    assert "- epoch 1 (accepted): train fixed `t1`, `t2`; train broken none; val 1 fixed, 0 broken" in md
    assert "- epoch 2 (rejected): train fixed none; train broken `t1`; val 0 fixed, 0 broken" in md
    assert "`v1`" not in md  # val questions stay aggregates
    assert "http://127.0.0.1:5000/#/experiments/7/runs/abc123" in md and "mlflow ui --backend-store-uri sqlite:////tmp/ws/mlflow.db" in md
    page = render_html(result, {"t1": "Which <store> sold most in 2024?", "v1": "never shown"})
    assert '<code title="Which &lt;store&gt; sold most in 2024?">t1</code>' in page and "never shown" not in page
    assert '<a href="http://127.0.0.1:5000/#/experiments/7/runs/abc123"><code>abc123</code></a>' in page
    checker = _Checker()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []
