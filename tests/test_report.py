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
