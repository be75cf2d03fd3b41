"""Execution judge: is the generated result set the same answer as (any) gold result set?

The judge around the comparison engine (`compare.py`, where the rules are): it decides per gold
whether row order counts (the gold orders its outer query and the question asks for an order:
top, rank, order, sorted, highest, lowest, first, last, ... or ``case.order_matters`` is True;
``case.order_matters=False`` always compares unordered), compares with each gold until one
matches (``details["matched_gold"]`` names it) and reports the closest otherwise. The numeric
tolerance in force is in every verdict (``details["tolerance"]``, and the rationale when numbers
needed rounding to agree). Answers without a result (no SQL, an error) are wrong without a
comparison; gold queries that failed are reported with them.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import JudgeError
from ..evalset import EvalCase
from ..results import Answer, GoldResult, Verdict
from ..space.model import Space
from .compare import ResultComparison, Tolerance, compare_results

NAME = "execution"
NEEDS = ("generated.result", "expected.result")
DESCRIPTION = "Generated result set equals a gold result set (order, column names and types normalized)."

# Words in a question that make the gold's ORDER BY part of the answer.
_ORDER_WORDS = re.compile(
    r"\b(top|rank(?:ed|ing|s)?|order(?:ed)?|sort(?:ed)?|highest|lowest|first(?!\s+name)|last(?!\s+name)"
    r"|ascending|descending|chronological(?:ly)?|alphabetical(?:ly)?)\b",
    re.IGNORECASE,
)


# ------------------------------------------------------------------ ordering
def gold_has_order_by(sql: str, dialect: str = "databricks") -> bool:
    """Whether the outermost query of `sql` has an ORDER BY."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # unparsable gold: fall back to text
        return bool(re.search(r"\border\s+by\b", sql, re.IGNORECASE))
    return tree is not None and tree.args.get("order") is not None


def order_matters(case: EvalCase | None, gold_sql: str, dialect: str = "databricks") -> bool:
    """Row order counts iff the gold orders its outer query and the question (or the case) asks for order."""
    if case is not None and case.order_matters is False:
        return False
    if not gold_has_order_by(gold_sql, dialect):
        return False
    if case is None:
        return True
    return bool(case.order_matters) or bool(_ORDER_WORDS.search(case.question or ""))


def _order_key_columns(sql: str, gold_names: list[str], dialect: str) -> list[int] | None:
    """Result column positions of the gold's ORDER BY keys (None if any key is not in the result)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:
        return None
    order = tree.args.get("order") if tree is not None else None
    if order is None or not isinstance(tree, exp.Select) or any(isinstance(s, exp.Star) for s in tree.expressions):
        return None
    selects = tree.expressions
    if len(selects) != len(gold_names):
        return None
    lower = [n.lower() for n in gold_names]
    keys: list[int] = []
    for o in order.expressions:
        e = o.this
        idx = None
        if isinstance(e, exp.Literal) and e.is_int:
            idx = int(e.name) - 1
        else:
            for k, s in enumerate(selects):
                inner = s.this if isinstance(s, exp.Alias) else s
                if inner == e:
                    idx = k
                    break
            if idx is None and isinstance(e, exp.Column) and not e.table and e.name.lower() in lower:
                idx = lower.index(e.name.lower())
        if idx is None or not 0 <= idx < len(gold_names):
            return None
        keys.append(idx)
    return keys


def output_rounding(sql: str | None, dialect: str = "databricks") -> dict[int, int]:
    """Result columns (by position) the outer query rounds, with the decimals: ``ROUND(x, d)``
    (``ROUND(x)``: 0) or a cast to ``DECIMAL(p, d)``, through casts and parentheses.

    >>> output_rounding("SELECT region, ROUND(AVG(amount), 2) AS avg_amount, CAST(x AS DECIMAL(10, 1)) FROM t")
    {1: 2, 2: 1}
    """
    import sqlglot
    from sqlglot import exp

    if not sql:
        return {}
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # noqa: BLE001 - an unparsable query simply states no rounding
        return {}
    if not isinstance(tree, exp.Select) or any(isinstance(s, exp.Star) for s in tree.expressions):
        return {}
    out: dict[int, int] = {}
    for k, e in enumerate(tree.expressions):
        e = e.this if isinstance(e, exp.Alias) else e
        while True:
            if isinstance(e, exp.Paren):
                e = e.this
            elif isinstance(e, exp.Cast) and e.to.is_type(*exp.DataType.REAL_TYPES) and e.to.this != exp.DataType.Type.DECIMAL:
                e = e.this  # ROUND(x, 2)::float is still rounded
            else:
                break
        places = None
        if isinstance(e, exp.Round):
            d = e.args.get("decimals")
            places = 0 if d is None else int(d.name) if isinstance(d, exp.Literal) and d.is_int else None
        elif isinstance(e, exp.Cast) and e.to.this == exp.DataType.Type.DECIMAL and len(e.to.expressions) == 2:
            scale = e.to.expressions[1]
            places = int(scale.name) if scale.name.isdigit() else None
        if places is not None and places >= 0:
            out[k] = places
    return out


# ------------------------------------------------------------------ the judge
def judge(
    case: EvalCase,
    *,
    generated: Answer,
    expected: list[GoldResult],
    space: Space | None = None,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
    precision: bool = True,
    decimals: int | None = None,
    allow_extra_columns: bool = True,
    ignore_duplicates: bool = False,
    order: bool | None = None,
    dialect: str = "databricks",
    **_: Any,
) -> Verdict:
    """True when the generated result equals any gold result.

    `order` forces ordered (True) or unordered (False) comparison; None decides per gold from its
    ORDER BY, the question and `case.order_matters`. Numbers compare by `rel_tol`, `abs_tol`,
    `precision` (at the less precise side's decimals) and `decimals` (see `compare.Tolerance`).
    """
    if rel_tol < 0 or abs_tol < 0:
        raise JudgeError(f"execution: tolerances must be >= 0, got rel_tol={rel_tol!r}, abs_tol={abs_tol!r}")
    tolerance = Tolerance(rel_tol=rel_tol, abs_tol=abs_tol, precision=precision, decimals=decimals)
    shown = {"tolerance": tolerance.model_dump()}
    golds = [(k, gr) for k, gr in enumerate(expected) if gr.result is not None]
    errors = [f"gold #{k}: {gr.error}" for k, gr in enumerate(expected) if gr.result is None and gr.error]
    if errors:
        shown["gold_errors"] = errors  # reported whatever the answer was, a refusal included
    early = answer_problem(generated)
    if early is not None or not golds:
        reason, why = early or ("GOLD_ERROR", "no gold result to compare with")
        if not golds:  # nothing to judge against: the gold is at fault, not (only) the answer
            return Verdict(judge=NAME, value=None, rationale=why + ("; " + "; ".join(errors) if errors else ""),
                           error="no gold query produced a result" + (f": {errors[0]}" if errors else ""),
                           details={"reason": reason, **shown})
        return Verdict(judge=NAME, value=False, rationale=why, details={"reason": reason, **shown})
    comparisons: list[tuple[int, ResultComparison]] = []
    generated_rounding = output_rounding(generated.sql) if precision else None  # answers are Databricks SQL
    for k, gr in golds:
        ordered = order if order is not None else order_matters(case, gr.sql, dialect)
        keys = _order_key_columns(gr.sql, gr.result.column_names, dialect) if ordered else None
        cmp = compare_results(
            gr.result, generated.result, ordered=ordered, order_keys=keys,
            column_alternatives=case.column_alternatives, allow_extra_columns=allow_extra_columns,
            ignore_duplicates=ignore_duplicates, tolerance=tolerance,
            gold_rounding=output_rounding(gr.sql, dialect) if precision else None,
            generated_rounding=generated_rounding,
        )
        comparisons.append((k, cmp))
        if cmp.equal:
            break
    k, best = next(((k, c) for k, c in comparisons if c.equal), None) or min(comparisons, key=lambda kc: _distance(kc[1]))
    details = {**best.summary(), **shown}
    details["matched_gold" if best.equal else "closest_gold"] = k
    if len(comparisons) > 1 or len(golds) > 1:
        details["golds"] = [{"gold": k2, "reason": c.reason} for k2, c in comparisons]
    rationale = (f"matches gold #{k}: {best.explanation}" if best.equal
                 else f"differs from gold #{k} ({best.reason}): {best.explanation}")
    return Verdict(judge=NAME, value=best.equal, rationale=rationale, details=details)


def answer_problem(generated: Answer) -> tuple[str, str] | None:
    """(reason code, rationale) when the generated answer has no usable result; None otherwise."""
    if generated.status == "NO_SQL" or (not generated.sql and generated.result is None):
        return "NO_SQL", f"no SQL was generated{': ' + generated.reason if generated.reason else ''}"
    if generated.error or generated.status not in ("COMPLETED",):
        msg = generated.error or generated.reason or generated.status
        return "SQL_ERROR", f"generated SQL did not produce a result ({generated.status}): {msg}"
    if generated.result is None:
        return "NO_RESULT", "the generated SQL has no result to compare (was it executed?)"
    return None


def _distance(c: ResultComparison) -> tuple[int, int]:
    """Sort key picking the 'closest' gold to report when none matches."""
    rank = {"WRONG_ORDER": 0, "DUPLICATES_DIFFER": 1, "SINGLE_CELL_DIFFERENCE": 1, "VALUES_DIFFER": 1}.get(c.reason, 2)
    return rank, (c.missing_row_count or 0) + (c.extra_row_count or 0) + 1000 * len(c.missing_columns)
