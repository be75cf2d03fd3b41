"""A Genie space's own benchmark evaluation beside ours: link Genie's assessments to our cases
and count where Genie's GOOD/BAD agrees with our primary judge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .store import normalize_question

DECIDED = ("GOOD", "BAD")  # NEEDS_REVIEW is Genie saying it could not decide


class NativeComparison(BaseModel):
    """Genie's native verdicts beside our primary judge's, on the questions both decided."""

    run_id: str
    judge: str | None = None
    compared: int = 0  # questions Genie marked GOOD/BAD and our run judged
    agree: int = 0
    disagree: list[str] = Field(default_factory=list)  # case ids
    needs_review: int = 0  # Genie could not decide
    unlinked: int = 0  # assessments with no question of our run

    @property
    def agreement(self) -> float | None:
        return self.agree / self.compared if self.compared else None


def link_cases(assessments: list[Any], evalset: Any) -> dict[str, str]:
    """Benchmark question id -> our case id: the same id (eval sets from `benchmarks import`),
    else the same question text (eval sets exported with `benchmarks export`)."""
    ids = {c.id for c in evalset.cases}
    by_text = {normalize_question(c.question): c.id for c in evalset.cases}
    out: dict[str, str] = {}
    for a in assessments:
        bq = a.benchmark_question_id
        if bq in ids:
            out[bq] = bq
        elif a.question and normalize_question(a.question) in by_text:
            out[bq] = by_text[normalize_question(a.question)]
    return out


def compare_native(native: list[dict[str, Any]], ours: Any) -> NativeComparison:
    """Count where Genie's GOOD/BAD matches our primary judge's verdict on the same question."""
    rows = {r.case_id: r for r in ours.rows}
    cmp = NativeComparison(run_id=ours.run_id, judge=ours.judges[0] if ours.judges else None)
    for a in native:
        row = rows.get(a.get("case_id"))
        if row is None:
            cmp.unlinked += 1
        elif a.get("assessment") not in DECIDED:
            cmp.needs_review += 1
        elif row.correct is not None:
            cmp.compared += 1
            if row.correct is (a["assessment"] == "GOOD"):
                cmp.agree += 1
            else:
                cmp.disagree.append(row.case_id)
    return cmp
