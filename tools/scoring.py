"""Outcomes, scores and paired comparisons: the one place where answers become numbers.

Every answer to an eval case gets exactly one outcome:

- ``right``: SQL whose result the primary judge accepts, or a refusal where a refusal was expected;
- ``wrong``: SQL whose result does not match (a *confident* wrong answer), or any SQL where the
  right outcome was a refusal;
- ``refused``: no SQL (Genie's NO_SQL, a clarification or a text answer) where an answer was expected;
- ``error``: the backend failed (an error, a timeout, a cancelled or expired message) or the primary
  judge gave no verdict;
- ``gold_error``: none of the case's gold queries runs. Never counted against the space: it is left
  out of every rate and of every paired comparison.

A `Score` counts outcomes; accuracy, the wrong-answer rate and the refusal rate are shares of the
*scored* answers (all but gold errors and questions not asked yet). A refusal is not a wrong
answer: a space that says "I can't answer that" is better than one that answers confidently and
wrongly, so optimization objectives charge a wrong answer more than a refusal (`utility`).

The CLI, the MCP copilot, the optimizer, the reports and MLflow all read these functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, Field, computed_field

Outcome = Literal["right", "wrong", "refused", "error", "gold_error"]
OUTCOMES: tuple[Outcome, ...] = ("right", "wrong", "refused", "error", "gold_error")

# Statuses meaning the backend produced no usable answer (not the space's fault, not a refusal).
ERROR_STATUSES = ("ERROR", "TIMEOUT", "CANCELLED", "QUERY_RESULT_EXPIRED")
NOT_ASKED = "PENDING"
DEFAULT_WRONG_COST = 1.0  # a wrong answer costs what a right answer earns


def classify(*, expect: str, status: str, sql: str | None, primary: bool | float | str | None,
             gold_error: bool = False) -> Outcome | None:
    """The outcome of one answer; None when the question was not asked yet.

    Args:
        expect: the case's expected outcome, ``answer`` or ``refusal``.
        status: the answer's status (Genie's, or ERROR/TIMEOUT from the runner).
        sql: the generated SQL, if any.
        primary: the primary judge's verdict value on the answer.
        gold_error: every gold query of the case failed to run.

    >>> classify(expect="answer", status="COMPLETED", sql="SELECT 1", primary=True)
    'right'
    >>> classify(expect="answer", status="NO_SQL", sql=None, primary=False)
    'refused'
    >>> classify(expect="refusal", status="COMPLETED", sql="SELECT 1", primary=None)
    'wrong'
    >>> classify(expect="answer", status="TIMEOUT", sql=None, primary=None)
    'error'
    """
    if status == NOT_ASKED:
        return None
    if expect == "answer" and gold_error:
        return "gold_error"
    if status in ERROR_STATUSES or (status == "FAILED" and not sql):
        return "error"
    if not sql:  # NO_SQL, or a completed message with text only (a clarification)
        return "right" if expect == "refusal" else "refused"
    if expect == "refusal":
        return "wrong"
    if primary is True:
        return "right"
    if primary is False:
        return "wrong"
    return "error"  # the primary judge failed or is still pending


class Score(BaseModel):
    """Outcome counts of a set of answers, with the rates that matter beside accuracy."""

    total: int = 0
    right: int = 0
    wrong: int = 0
    refused: int = 0
    error: int = 0
    gold_error: int = 0
    pending: int = 0  # not asked yet (a run in progress or stopped)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scored(self) -> int:
        """Answers that count: all but gold errors and questions not asked."""
        return self.total - self.gold_error - self.pending

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        return self.right / self.scored if self.scored else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wrong_rate(self) -> float | None:
        """Confident wrong answers per scored answer."""
        return self.wrong / self.scored if self.scored else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.scored if self.scored else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_rate(self) -> float | None:
        return self.error / self.scored if self.scored else None

    def utility(self, wrong_cost: float = DEFAULT_WRONG_COST) -> float | None:
        """Mean per-answer utility: +1 right, 0 refused or error, -`wrong_cost` wrong."""
        return (self.right - wrong_cost * self.wrong) / self.scored if self.scored else None

    def line(self) -> str:
        """One human line: '12/20 right (60%), 3 wrong (15%), 5 refused (25%)'."""
        if not self.scored:
            return f"nothing scored ({self.total} questions)"
        parts = [f"{self.right}/{self.scored} right ({self.accuracy:.0%})", f"{self.wrong} wrong ({self.wrong_rate:.0%})",
                 f"{self.refused} refused ({self.refusal_rate:.0%})"]
        if self.error:
            parts.append(f"{self.error} errors")
        if self.gold_error:
            parts.append(f"{self.gold_error} gold errors not counted")
        if self.pending:
            parts.append(f"{self.pending} not asked")
        return ", ".join(parts)


class HasOutcome(Protocol):
    outcome: Outcome | None


def score(items: Iterable[HasOutcome | Outcome | None]) -> Score:
    """Count outcomes (of rows carrying `.outcome`, or of outcome values; None is not asked)."""
    counts: dict[str, int] = defaultdict(int)
    total = 0
    for item in items:
        total += 1
        o = item if item is None or isinstance(item, str) else item.outcome
        counts[o or "pending"] += 1
    return Score(total=total, **counts)


def breakdown(rows: Iterable[HasOutcome], key: Callable[[HasOutcome], str | None], *, default: str = "uncategorized",
              min_size: int = 1) -> dict[str, Score]:
    """A `Score` per group (e.g. per split or category), groups sorted, small groups left out."""
    groups: dict[str, list[HasOutcome]] = defaultdict(list)
    for r in rows:
        groups[key(r) or default].append(r)
    return {k: score(v) for k, v in sorted(groups.items()) if len(v) >= min_size}


SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def split_category_scores(rows: Iterable[HasOutcome], *, split: Callable[[HasOutcome], str | None],
                          category: Callable[[HasOutcome], str | None]) -> list[tuple[str, str, Score]]:
    """(split, category, score) per split in train, val, test order: the split's overall row
    (category ``ALL``) first, then one row per category ("-" for rows without a split or category)."""
    by_split: dict[str, list[HasOutcome]] = defaultdict(list)
    for r in rows:
        by_split[split(r) or "-"].append(r)
    out: list[tuple[str, str, Score]] = []
    for s in sorted(by_split, key=lambda s: (SPLIT_ORDER.get(s, 9), s)):
        out.append((s, "ALL", score(by_split[s])))
        out += [(s, cat, sc) for cat, sc in breakdown(by_split[s], category, default="-").items()]
    return out


# ---------------------------------------------------------------- paired comparison
def utility(outcome: Outcome | None, wrong_cost: float = DEFAULT_WRONG_COST) -> float | None:
    """A single answer's utility: +1 right, 0 refused or error, -`wrong_cost` wrong; None when it does not count."""
    if outcome is None or outcome == "gold_error":
        return None
    return 1.0 if outcome == "right" else -wrong_cost if outcome == "wrong" else 0.0


def sign_test(better: int, worse: int) -> float:
    """Exact one-sided sign test: P(X >= better) for X ~ Binomial(better + worse, 1/2).

    It is McNemar's exact test on the discordant pairs: how likely this many improvements against
    this many regressions would be if the change did nothing.

    >>> round(sign_test(5, 0), 4)
    0.0312
    >>> sign_test(0, 0)
    1.0
    >>> round(sign_test(6, 2), 4)
    0.1445
    """
    n = better + worse
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(better, n + 1)) / 2**n


class Paired(BaseModel):
    """Two versions compared question by question over the questions both scored.

    `fixed`/`broken` follow *right*; `improved`/`worsened` follow utility (so right -> refused is
    worse, wrong -> refused is better); `new_wrong`/`fewer_wrong` follow confident wrong answers.
    """

    fixed: list[str] = Field(default_factory=list)  # not right before, right after
    broken: list[str] = Field(default_factory=list)  # right before, not right after
    improved: list[str] = Field(default_factory=list)
    worsened: list[str] = Field(default_factory=list)
    new_wrong: list[str] = Field(default_factory=list)  # not wrong before, wrong after
    fewer_wrong: list[str] = Field(default_factory=list)  # wrong before, not wrong after
    unchanged: int = 0
    still_right: int = 0
    still_not_right: int = 0
    wrong_cost: float = DEFAULT_WRONG_COST
    utility_gain: float = 0.0  # net utility gained over the compared questions

    @computed_field  # type: ignore[prop-decorator]
    @property
    def p_value(self) -> float:
        """Sign test of improvements against regressions in utility."""
        return sign_test(len(self.improved), len(self.worsened))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wrong_p_value(self) -> float:
        """Sign test that the change *added* wrong answers (small: more wrong answers than noise explains)."""
        return sign_test(len(self.new_wrong), len(self.fewer_wrong))

    @property
    def net(self) -> int:
        return len(self.fixed) - len(self.broken)


def compare(before: Mapping[str, Outcome | None], after: Mapping[str, Outcome | None], *,
            wrong_cost: float = DEFAULT_WRONG_COST) -> Paired:
    """Pair two runs' outcomes over the questions both scored (gold errors and unasked left out).

    >>> c = compare({"a": "refused", "b": "right", "c": "wrong"}, {"a": "wrong", "b": "right", "c": "right"})
    >>> (c.fixed, c.broken, c.new_wrong, c.improved, c.worsened)
    (['c'], [], ['a'], ['c'], ['a'])
    """
    p = Paired(wrong_cost=wrong_cost)
    gained = 0.0
    for qid in sorted(set(before) & set(after)):
        b, a = before[qid], after[qid]
        ub, ua = utility(b, wrong_cost), utility(a, wrong_cost)
        if ub is None or ua is None:
            continue
        gained += ua - ub
        if a == "right" and b != "right":
            p.fixed.append(qid)
        elif b == "right" and a != "right":
            p.broken.append(qid)
        elif a == "right":
            p.still_right += 1
        else:
            p.still_not_right += 1
        if ua > ub:
            p.improved.append(qid)
        elif ua < ub:
            p.worsened.append(qid)
        else:
            p.unchanged += 1
        if a == "wrong" and b != "wrong":
            p.new_wrong.append(qid)
        elif b == "wrong" and a != "wrong":
            p.fewer_wrong.append(qid)
    p.utility_gain = gained
    return p


__all__ = [
    "DEFAULT_WRONG_COST", "ERROR_STATUSES", "OUTCOMES", "Outcome", "Paired", "Score", "breakdown", "classify", "compare",
    "score", "sign_test", "split_category_scores", "utility",
]
