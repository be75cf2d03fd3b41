"""Paired statistics for keep-or-revert decisions: compare two versions question by question.

An aggregate accuracy delta mixes questions that got fixed with questions that broke, and on a
nondeterministic backend part of both is noise. The decision therefore looks only at the
questions that *flipped* (discordant pairs) and asks how likely that many fixes against that
many breaks would be if the change did nothing: the exact one-sided sign test, which is
McNemar's exact test for paired binary outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, Field


class PairedComparison(BaseModel):
    """Questions fixed and broken going from a base version to a candidate, and the sign test."""

    fixed: list[str] = Field(default_factory=list)  # wrong before, right after
    broken: list[str] = Field(default_factory=list)  # right before, wrong after
    unchanged: int = 0
    p_value: float = 1.0  # one-sided: P(at least this many fixes | no effect)

    @property
    def net(self) -> int:
        return len(self.fixed) - len(self.broken)


def sign_test(fixed: int, broken: int) -> float:
    """Exact one-sided sign test: P(X >= fixed) for X ~ Binomial(fixed + broken, 1/2).

    >>> round(sign_test(5, 0), 4)
    0.0312
    >>> sign_test(0, 0)
    1.0
    >>> round(sign_test(6, 2), 4)
    0.1445
    """
    n = fixed + broken
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(fixed, n + 1))
    return tail / 2**n


def compare(before: Mapping[str, bool | None], after: Mapping[str, bool | None]) -> PairedComparison:
    """Pair two runs' per-question correctness (None counts as wrong) over the questions both hold.

    >>> c = compare({"a": False, "b": True, "c": False}, {"a": True, "b": True, "c": True})
    >>> (c.fixed, c.broken, c.unchanged)
    (['a', 'c'], [], 1)
    """
    fixed, broken, same = [], [], 0
    for qid in sorted(set(before) & set(after)):
        b, a = bool(before[qid]), bool(after[qid])
        if a and not b:
            fixed.append(qid)
        elif b and not a:
            broken.append(qid)
        else:
            same += 1
    return PairedComparison(fixed=fixed, broken=broken, unchanged=same, p_value=sign_test(len(fixed), len(broken)))
