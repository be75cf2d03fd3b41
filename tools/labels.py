"""Human labels and how well each judge agrees with them.

A label is a person's verdict (true/false, with an optional note) on one judge's question in one
run, kept in the store with a timestamp; a newer label on the same (run, question, judge)
replaces the older one for every figure here, while the store keeps both.

`alignment` compares a judge's recorded verdicts with the labels: accuracy, Cohen's kappa and
the confusion counts, treating the person as ground truth. `judges.llm.few_shot_examples` turns labeled
cases into examples for the judge's prompt, preferring cases where the judge disagreed with the
person and then the most recent, and never a test-split question.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from .errors import InvalidInput, did_you_mean
from .judges import JUDGES
from .judges.llm import labeled_cases
from .store import Label, Store

TEST = "test"


class Confusion(BaseModel):
    """Judge verdict vs the person's label ("true positive": both say correct)."""

    true_positive: int = 0  # judge true, person true
    false_positive: int = 0  # judge true, person false
    false_negative: int = 0  # judge false, person true
    true_negative: int = 0  # judge false, person false


class Disagreement(BaseModel):
    run_id: str
    case_id: str
    question: str
    judge_value: bool
    human_value: bool
    judge_rationale: str
    note: str = ""


class Alignment(BaseModel):
    """Agreement of one judge with human labels."""

    judge: str
    labeled: int = Field(description="labels for this judge")
    compared: int = Field(description="labels with a true/false verdict of the judge to compare to")
    unjudged: int = Field(0, description="labels whose question has no usable verdict of this judge (missing, pending or error)")
    agree: int = 0
    accuracy: float | None = None
    kappa: float | None = Field(None, description="Cohen's kappa; None when undefined (both sides always gave the same answer)")
    confusion: Confusion = Field(default_factory=Confusion)
    disagreements: list[Disagreement] = Field(default_factory=list)


def cohen_kappa(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of (judge, person) pairs: agreement beyond chance, 1 = perfect, 0 = chance.

    >>> round(cohen_kappa([(True, True), (True, False), (False, False), (False, False)]), 3)
    0.5
    """
    pairs = list(pairs)
    n = len(pairs)
    if not n:
        return None
    po = sum(a == b for a, b in pairs) / n
    pa = sum(a for a, _ in pairs) / n
    pb = sum(b for _, b in pairs) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if pe >= 1:
        return None
    return (po - pe) / (1 - pe)


# ---------------------------------------------------------------- recording
def _cases(store: Store, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        known = [r.run_id for r in store.list_runs(limit=200)]
        raise InvalidInput(f"no run {run_id!r}.{did_you_mean(run_id, known)}", field="run_id")
    return {c.id: c for c in store.get_evalset(run.evalset_hash).cases}


def record_label(
    store: Store,
    run_id: str,
    case_id: str,
    judge: str,
    value: bool,
    *,
    note: str = "",
    labeler: str | None = None,
    splits: Sequence[str] | None = None,
) -> Label:
    """Record a person's verdict for (run, question, judge); the question must have been answered in the run.

    With `splits`, a question of another split is as unknown as one the run does not hold (the
    MCP copilot labels train questions only; a person at the command line may label any).
    """
    if not isinstance(value, bool):
        raise InvalidInput(f"value must be true or false, got {value!r}", field="value")
    cases = _cases(store, run_id)
    answered = [c for c in store.result_statuses(run_id) if splits is None or getattr(cases.get(c), "split", None) in splits]
    if case_id not in answered:
        shown = case_id if len(case_id) <= 80 else case_id[:79] + "…"
        raise InvalidInput(f"question {shown!r} has no answer in run {run_id!r}.{did_you_mean(case_id, answered)}", field="case_id")
    run = store.get_run(run_id)
    known = set(JUDGES) | set(run.judges if run else [])
    if judge not in known:
        raise InvalidInput(f"unknown judge {judge!r}.{did_you_mean(judge, known)}", field="judge")
    return store.put_label(Label(run_id=run_id, case_id=case_id, judge=judge, value=value, note=note, labeler=labeler))


def parse_bool(text: str) -> bool:
    """'true'/'yes'/'1'/'correct'/'pass' or 'false'/'no'/'0'/'incorrect'/'fail'."""
    t = str(text).strip().lower()
    if t in ("true", "yes", "y", "1", "correct", "pass", "ok"):
        return True
    if t in ("false", "no", "n", "0", "incorrect", "fail", "wrong"):
        return False
    raise InvalidInput(f"expected true or false, got {text!r}", field="value")


# ---------------------------------------------------------------- alignment
def alignment(store: Store, judge: str, *, exclude_splits: tuple[str, ...] = (), max_disagreements: int = 20) -> Alignment:
    """How well `judge`'s verdicts agree with the latest human labels (the person is ground truth)."""
    rows = labeled_cases(store, judge, exclude_splits=exclude_splits)
    pairs: list[tuple[bool, bool]] = []
    confusion = Confusion()
    disagreements: list[Disagreement] = []
    unjudged = 0
    for label, case, verdict in rows:
        if verdict is None or not isinstance(verdict.value, bool):
            unjudged += 1
            continue
        j, h = verdict.value, label.value
        pairs.append((j, h))
        field = {(True, True): "true_positive", (True, False): "false_positive",
                 (False, True): "false_negative", (False, False): "true_negative"}[(j, h)]
        setattr(confusion, field, getattr(confusion, field) + 1)
        if j != h:
            disagreements.append(Disagreement(run_id=label.run_id, case_id=label.case_id, question=case.question, judge_value=j,
                                              human_value=h, judge_rationale=verdict.rationale, note=label.note))
    agree = sum(a == b for a, b in pairs)
    return Alignment(
        judge=judge, labeled=len(rows), compared=len(pairs), unjudged=unjudged, agree=agree,
        accuracy=agree / len(pairs) if pairs else None, kappa=cohen_kappa(pairs), confusion=confusion,
        disagreements=list(reversed(disagreements))[:max_disagreements],  # newest first
    )


__all__ = ["Alignment", "Confusion", "Disagreement", "alignment", "cohen_kappa",
           "parse_bool", "record_label"]
