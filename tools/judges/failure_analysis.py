"""Failure analysis: a structured gold-vs-generated diff and one primary failure category.

The value is a category string. Genie's own benchmark reason codes are used where they fit
(EMPTY_RESULT, RESULT_MISSING_ROWS, RESULT_EXTRA_ROWS, RESULT_MISSING_COLUMNS, RESULT_EXTRA_COLUMNS,
SINGLE_CELL_DIFFERENCE, COLUMN_TYPE_DIFFERENCE, MISSING_OR_INCORRECT_FILTER, MISSING_JOIN,
WRONG_AGGREGATION), plus our own: CORRECT, NO_SQL, SQL_ERROR, WRONG_TABLE, WRONG_GROUPING,
WRONG_ORDERING_OR_LIMIT, WRONG_DATE_HANDLING, WRONG_COLUMNS, RESULT_ROWS_DIFFER, DUPLICATES_DIFFER,
VALUES_DIFFER, UNDETERMINED.

Precedence: NO_SQL, SQL_ERROR, CORRECT (results equal, or canonical SQL equal when no results),
then the first structural difference in the order WRONG_TABLE, MISSING_JOIN, WRONG_AGGREGATION,
WRONG_DATE_HANDLING, MISSING_OR_INCORRECT_FILTER, WRONG_GROUPING, WRONG_ORDERING_OR_LIMIT,
WRONG_COLUMNS (metadata fixes aim at these), then the result-level code.

`details` holds lists of concrete sentences per aspect (tables, joins, columns, filters,
literals, aggregations, group_by, order_limit, dates, distinct, result) for an assistant deciding
which metadata (instructions, examples, join specs, column descriptions) to change, and, for the
offline engine's answers, `grounding`: a few lines saying which words matched which metadata entry
(or which were missing), from `Answer.details["grounding"]`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from ..evalset import EvalCase
from ..generate.trace import summarize
from ..results import Answer
from ..space.model import Space
from . import execution, sql_equivalence
from ._sqlshape import SQLParseError, parse_one, space_schema, strip_table_qualifiers
from .base import GoldResult, Verdict
from .sql_equivalence import _canon_bottom_up

NAME = "failure_analysis"
NEEDS = ("generated.sql", "expected.sql")
DESCRIPTION = "Structured gold-vs-generated SQL/result diff with a primary failure category."

_DATE_FUNC = re.compile(r"date|time|year|month|day|week|quarter|extract|interval|hour|minute|now", re.IGNORECASE)
_DATE_LITERAL = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_ASPECTS = ("tables", "joins", "columns", "filters", "literals", "aggregations", "group_by", "order_limit",
            "dates", "distinct", "result")


class Pred(BaseModel):
    key: str  # canonical text, for matching
    text: str  # as written (aliases resolved), for people
    columns: list[str]
    is_date: bool = False


class SQLFacts(BaseModel):
    """What a query does, with table aliases resolved to table names."""

    tables: list[str] = Field(default_factory=list)
    joins: dict[str, str] = Field(default_factory=dict)  # canonical edge -> display
    select: dict[str, str] = Field(default_factory=dict)  # canonical -> display
    filters: list[Pred] = Field(default_factory=list)
    literals: list[str] = Field(default_factory=list)
    aggregations: dict[str, str] = Field(default_factory=dict)  # canonical -> display
    group_by: dict[str, str] = Field(default_factory=dict)
    order_by: list[str] = Field(default_factory=list)
    limit: str | None = None
    date_functions: dict[str, str] = Field(default_factory=dict)
    distinct: bool = False


def sql_facts(sql: str, *, dialect: str = "databricks", space: Space | None = None) -> SQLFacts:
    """Extract the comparable facts of one query (raises SQLParseError)."""
    from sqlglot import exp
    from sqlglot.errors import OptimizeError
    from sqlglot.optimizer.qualify import qualify


    tree = strip_table_qualifiers(parse_one(sql, dialect))
    try:
        tree = qualify(tree, schema=space_schema(space) or None, dialect=dialect, validate_qualify_columns=False,
                       quote_identifiers=False, expand_stars=False)
    except OptimizeError:
        from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

        tree = normalize_identifiers(strip_table_qualifiers(parse_one(sql, dialect)), dialect=dialect)
    _resolve_aliases(tree)

    def canon(e) -> str:
        return _canon_bottom_up(e.copy()).sql(dialect=dialect)

    def show(e) -> str:
        return e.sql(dialect=dialect)

    f = SQLFacts()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    f.tables = sorted({t.name.lower() for t in tree.find_all(exp.Table)
                       if isinstance(t.this, exp.Identifier) and t.name.lower() not in ctes})
    outer = tree if isinstance(tree, exp.Select) else next(iter(tree.find_all(exp.Select)), None)

    # joins: ON equalities and WHERE equalities between columns of two different tables
    join_eqs = []
    for j in tree.find_all(exp.Join):
        on = j.args.get("on")
        if on is not None:
            join_eqs += [c for c in _conjuncts(on) if _is_col_eq(c)]
        for u in j.args.get("using") or []:
            left = j.parent.args.get("from_") or j.parent.args.get("from")
            lt = left.this.name.lower() if left is not None and isinstance(left.this, exp.Table) else "?"
            f.joins[f"{lt}.{u.name} = {j.this.name.lower()}.{u.name}"] = f"{lt} JOIN {j.this.name.lower()} USING ({u.name})"
    for sel in tree.find_all(exp.Select):
        where = sel.args.get("where")
        for c in _conjuncts(where.this) if where is not None else []:
            if _is_col_eq(c):
                join_eqs.append(c)
            else:
                f.filters.append(_pred(c, canon, show))
        having = sel.args.get("having")
        for c in _conjuncts(having.this) if having is not None else []:
            f.filters.append(_pred(c, canon, show))
    for c in join_eqs:
        f.joins[canon(c)] = show(c)

    if outer is not None:
        sel_exprs = [s.this if isinstance(s, exp.Alias) else s for s in outer.expressions]
        f.select = {canon(e): show(e) for e in sel_exprs}
        f.distinct = outer.args.get("distinct") is not None
        group = outer.args.get("group")
        for g in group.expressions if group is not None else []:
            if isinstance(g, exp.Literal) and g.is_int and 0 < int(g.name) <= len(sel_exprs):
                g = sel_exprs[int(g.name) - 1]
            f.group_by[canon(g)] = show(g)
        order = tree.args.get("order")
        aliases = {s.alias.lower(): s.this for s in outer.expressions if isinstance(s, exp.Alias)}
        for o in order.expressions if order is not None else []:
            e = o.this
            if isinstance(e, exp.Literal) and e.is_int and 0 < int(e.name) <= len(sel_exprs):
                e = sel_exprs[int(e.name) - 1]
            elif isinstance(e, exp.Column) and not e.table and e.name.lower() in aliases:
                e = aliases[e.name.lower()]
            f.order_by.append(canon(e) + (" DESC" if o.args.get("desc") else " ASC"))
        limit = tree.args.get("limit")
        if limit is not None and limit.expression is not None:
            f.limit = show(limit.expression)
    for a in tree.find_all(exp.AggFunc):
        f.aggregations.setdefault(canon(a), show(a))
    for node in tree.walk():
        if isinstance(node, exp.Func) and not isinstance(node, exp.AggFunc):
            fname = node.name if isinstance(node, exp.Anonymous) else type(node).__name__
            if _DATE_FUNC.search(fname) or isinstance(node, exp.Interval):
                f.date_functions.setdefault(canon(node), show(node))
        elif isinstance(node, exp.Interval):
            f.date_functions.setdefault(canon(node), show(node))
    f.literals = sorted({show(lit) for lit in tree.find_all(exp.Literal)
                         if not (lit.is_int and isinstance(lit.parent, (exp.Limit, exp.Ordered, exp.Group)))})
    return f


def _resolve_aliases(tree) -> None:
    """Write every column as `table.column` with the real table name (aliases resolved)."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    try:
        scopes = traverse_scope(tree)
    except Exception:
        return
    for scope in scopes:
        names = {a.lower(): (s.name.lower() if isinstance(s, exp.Table) else a.lower()) for a, s in scope.sources.items()}
        only = next(iter(names.values())) if len(names) == 1 else None
        for col in scope.columns:
            t = col.table.lower()
            if t in names:
                col.set("table", exp.to_identifier(names[t]))
            elif not t and only and isinstance(next(iter(scope.sources.values())), exp.Table):
                col.set("table", exp.to_identifier(only))
    for t in tree.find_all(exp.Table):
        t.set("alias", None)


def _conjuncts(e) -> list:
    from sqlglot import exp

    if isinstance(e, exp.Paren):
        return _conjuncts(e.this)
    if isinstance(e, exp.And):
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _is_col_eq(e) -> bool:
    from sqlglot import exp

    return (isinstance(e, exp.EQ) and isinstance(e.left, exp.Column) and isinstance(e.right, exp.Column)
            and e.left.table.lower() != e.right.table.lower())


def _pred(e, canon, show) -> Pred:
    from sqlglot import exp

    cols = sorted({c.sql().lower() for c in e.find_all(exp.Column)})
    is_date = any(
        isinstance(n, exp.Interval)
        or (isinstance(n, exp.Func) and _DATE_FUNC.search(n.name if isinstance(n, exp.Anonymous) else type(n).__name__))
        or (isinstance(n, exp.Literal) and n.is_string and _DATE_LITERAL.match(n.name))
        for n in e.walk()
    )
    return Pred(key=canon(e), text=show(e), columns=cols, is_date=bool(is_date))


# ------------------------------------------------------------------ the diff
def diff_facts(gold: SQLFacts, gen: SQLFacts) -> dict[str, list[str]]:
    """Concrete sentences per aspect; empty lists where gold and generated agree."""
    d: dict[str, list[str]] = {a: [] for a in _ASPECTS}
    for t in gold.tables:
        if t not in gen.tables:
            d["tables"].append(f"gold uses table {t}; generated does not")
    for t in gen.tables:
        if t not in gold.tables:
            d["tables"].append(f"generated uses table {t}, which gold does not")
    for k, txt in gold.joins.items():
        if k not in gen.joins:
            d["joins"].append(f"gold joins on {txt}; generated has no such join condition")
    for k, txt in gen.joins.items():
        if k not in gold.joins:
            d["joins"].append(f"generated joins on {txt}, which gold does not")

    gen_keys = {p.key for p in gen.filters}
    mentioned: set[str] = set()
    for p in gold.filters:
        if p.key in gen_keys:
            continue
        alts = [q for q in gen.filters if q.key not in {x.key for x in gold.filters} and set(q.columns) & set(p.columns)]
        if alts:
            mentioned |= {q.key for q in alts}
            d["filters"].append(f"gold filters {p.text}; generated filters {' AND '.join(q.text for q in alts)} instead")
        elif p.columns:
            d["filters"].append(f"gold filters {p.text}; generated has no filter on {', '.join(p.columns)}")
        else:
            d["filters"].append(f"gold filters {p.text}; generated does not")
    gold_keys = {p.key for p in gold.filters}
    for q in gen.filters:
        if q.key not in gold_keys and q.key not in mentioned:
            d["filters"].append(f"generated filters {q.text}, which gold does not")

    for lit in gold.literals:
        if lit not in gen.literals:
            d["literals"].append(f"gold uses literal {lit}; generated does not")
    for lit in gen.literals:
        if lit not in gold.literals:
            d["literals"].append(f"generated uses literal {lit}, which gold does not")

    _agg_diff(gold, gen, d["aggregations"])
    for k, txt in gold.select.items():
        if k not in gen.select:
            d["columns"].append(f"gold selects {txt}; generated does not")
    for k, txt in gen.select.items():
        if k not in gold.select:
            d["columns"].append(f"generated also selects {txt}")
    for k, txt in gold.group_by.items():
        if k not in gen.group_by:
            d["group_by"].append(f"gold groups by {txt}; generated does not")
    for k, txt in gen.group_by.items():
        if k not in gold.group_by:
            d["group_by"].append(f"generated groups by {txt}, which gold does not")
    if gold.order_by != gen.order_by:
        g = ", ".join(gold.order_by) or "nothing"
        n = ", ".join(gen.order_by) or "nothing"
        d["order_limit"].append(f"gold orders by {g}; generated orders by {n}")
    if gold.limit != gen.limit:
        d["order_limit"].append(f"gold LIMIT {gold.limit or 'none'}; generated LIMIT {gen.limit or 'none'}")
    for k, txt in gold.date_functions.items():
        if k not in gen.date_functions:
            d["dates"].append(f"gold uses {txt}; generated does not")
    for k, txt in gen.date_functions.items():
        if k not in gold.date_functions:
            d["dates"].append(f"generated uses {txt}, which gold does not")
    for p in gold.filters:
        if p.is_date and p.key not in gen_keys:
            d["dates"].append(f"gold date filter {p.text} is missing or different in generated")
    for q in gen.filters:
        if q.is_date and q.key not in gold_keys:
            d["dates"].append(f"generated date filter {q.text} differs from gold")
    if gold.distinct != gen.distinct:
        d["distinct"].append(f"gold {'uses' if gold.distinct else 'does not use'} SELECT DISTINCT; "
                             f"generated {'does' if gen.distinct else 'does not'}")
    return d


def _agg_diff(gold: SQLFacts, gen: SQLFacts, out: list[str]) -> None:
    def arg(k: str) -> str:
        m = re.match(r"^\w+\((.*)\)$", k, re.S)
        return m.group(1) if m else k

    gen_extra = {k: v for k, v in gen.aggregations.items() if k not in gold.aggregations}
    for k, txt in gold.aggregations.items():
        if k in gen.aggregations:
            continue
        same_arg = [v for k2, v in gen_extra.items() if arg(k2) == arg(k)]
        if same_arg:
            out.append(f"gold aggregates {txt}; generated uses {', '.join(same_arg)} instead")
            for k2 in [k2 for k2, v in gen_extra.items() if v in same_arg]:
                gen_extra.pop(k2)
        else:
            out.append(f"gold aggregates {txt}; generated does not")
    for txt in gen_extra.values():
        out.append(f"generated aggregates {txt}, which gold does not")


def _category(d: dict[str, list[str]], gold: SQLFacts, gen: SQLFacts) -> str | None:
    missing_tables = [t for t in gold.tables if t not in gen.tables]
    extra_tables = [t for t in gen.tables if t not in gold.tables]
    if missing_tables and extra_tables:
        return "WRONG_TABLE"
    if missing_tables or any(k not in gen.joins for k in gold.joins):
        return "MISSING_JOIN"
    if extra_tables:
        return "WRONG_TABLE"
    if d["aggregations"]:
        return "WRONG_AGGREGATION"
    if d["dates"]:
        return "WRONG_DATE_HANDLING"
    if d["filters"]:
        return "MISSING_OR_INCORRECT_FILTER"
    if d["group_by"]:
        return "WRONG_GROUPING"
    if d["order_limit"]:
        return "WRONG_ORDERING_OR_LIMIT"
    if any(s.startswith("gold selects") for s in d["columns"]) or d["distinct"]:
        return "WRONG_COLUMNS"
    return None


def judge(
    case: EvalCase,
    *,
    generated: Answer,
    expected: list[GoldResult],
    space: Space | None = None,
    dialect: str = "databricks",
    execution_verdict: Verdict | None = None,
    **opts: Any,
) -> Verdict:
    """The primary failure category (or CORRECT) and a structured diff against the closest gold."""

    trace = (generated.details or {}).get("grounding")  # what the offline engine read
    grounding = summarize(trace)
    if generated.status == "NO_SQL" or not generated.sql:
        why = generated.reason or "the backend returned no SQL"
        return Verdict(judge=NAME, value="NO_SQL", rationale=f"no SQL was generated: {why}",
                       details={"summary": [f"no SQL was generated: {why}"], "grounding": grounding,
                                **({"trace": trace} if trace else {})})
    if generated.error or generated.status != "COMPLETED":
        msg = generated.error or generated.reason or generated.status
        return Verdict(judge=NAME, value="SQL_ERROR", rationale=f"the generated SQL failed: {msg}",
                       details={"summary": [f"the generated SQL failed ({generated.status}): {msg}"],
                                "generated_sql": generated.sql})
    try:
        gen_facts = sql_facts(generated.sql, dialect=dialect, space=space)
    except SQLParseError as e:
        return Verdict(judge=NAME, value="SQL_ERROR", rationale=f"the generated SQL does not parse: {e}",
                       details={"summary": [f"generated SQL does not parse ({dialect}): {e}"]})

    # result-level comparison first: it decides CORRECT and which gold is closest
    result_v = execution_verdict
    if result_v is None and generated.result is not None and any(g.result is not None for g in expected):
        exec_opts = {k: v for k, v in opts.items() if k in ("rel_tol", "abs_tol", "precision", "decimals", "allow_extra_columns",
                                                              "ignore_duplicates", "order")}
        result_v = execution.judge(case, generated=generated, expected=expected, space=space, dialect=dialect, **exec_opts)
    gold_idx = None
    if result_v is not None and result_v.value is not None:
        gold_idx = result_v.details.get("matched_gold", result_v.details.get("closest_gold"))

    diffs: list[tuple[int, int, dict[str, list[str]], SQLFacts]] = []
    parse_errors = []
    for k, gr in enumerate(expected):
        try:
            gf = sql_facts(gr.sql, dialect=dialect, space=space)
        except SQLParseError as e:
            parse_errors.append(f"gold #{k} does not parse: {e}")
            continue
        d = diff_facts(gf, gen_facts)
        diffs.append((k, sum(len(v) for v in d.values()), d, gf))
    if not diffs:
        return Verdict(judge=NAME, value=None, rationale="no gold SQL to compare with",
                       error="; ".join(parse_errors) or "no gold SQL given", details={})
    chosen = next((x for x in diffs if x[0] == gold_idx), None) or min(diffs, key=lambda x: x[1])
    k, _, d, gold_facts = chosen
    details: dict[str, Any] = dict(d)
    details["gold"] = k
    if result_v is not None and result_v.value is not None:
        rd = result_v.details
        details["result"] = _result_sentences(rd)
        details["result_reason"] = rd.get("reason")

    if result_v is not None and result_v.value is True:
        category = "CORRECT"
        rationale = f"results match gold #{k}" + ("; SQL differs in: " + ", ".join(a for a in _ASPECTS[:-1] if d[a])
                                                   if any(d[a] for a in _ASPECTS[:-1]) else "")
    else:
        structural = _category(d, gold_facts, gen_facts)
        same_sql = False
        if structural is None and result_v is None:
            v = sql_equivalence.judge(case, generated=generated, expected=[expected[k]], space=space, dialect=dialect)
            same_sql = v.value is True
        if same_sql:
            category, rationale = "CORRECT", f"same canonical SQL as gold #{k} (no results to compare)"
        elif structural is not None:
            category = structural
            rationale = f"{structural}: " + "; ".join(_first_sentences(d, structural))
        elif result_v is not None and result_v.value is False:
            reason = result_v.details.get("reason", "RESULT_ROWS_DIFFER")
            category = "WRONG_ORDERING_OR_LIMIT" if reason == "WRONG_ORDER" else reason
            rationale = f"{category}: {result_v.rationale}"
        else:
            category, rationale = "UNDETERMINED", "no structural SQL difference found and no results to compare"
    details["summary"] = [rationale]
    details["grounding"] = grounding
    if trace:
        details["trace"] = trace  # the structured trace: proposers read which words grounded to what
    return Verdict(judge=NAME, value=category, rationale=rationale, details=details)


def _first_sentences(d: dict[str, list[str]], category: str) -> list[str]:
    aspect = {"WRONG_TABLE": "tables", "MISSING_JOIN": "joins", "WRONG_AGGREGATION": "aggregations",
              "WRONG_DATE_HANDLING": "dates", "MISSING_OR_INCORRECT_FILTER": "filters", "WRONG_GROUPING": "group_by",
              "WRONG_ORDERING_OR_LIMIT": "order_limit", "WRONG_COLUMNS": "columns"}[category]
    lines = d[aspect] or d["tables"]
    if category == "MISSING_JOIN" and not d["joins"]:
        lines = d["tables"]
    if category == "WRONG_COLUMNS" and not lines:
        lines = d["distinct"]
    return lines[:3]


def _result_sentences(rd: dict[str, Any]) -> list[str]:
    out = []
    if "gold_rows" in rd:
        out.append(f"gold returns {rd['gold_rows']} row(s) x {len(rd.get('gold_columns', []))} column(s) "
                   f"{rd.get('gold_columns')}; generated returns {rd['generated_rows']} row(s) x "
                   f"{len(rd.get('generated_columns', []))} column(s) {rd.get('generated_columns')}")
    if rd.get("reason"):
        out.append(f"result comparison: {rd['reason']}: {rd.get('explanation', '')}".rstrip(": "))
    for label, key in (("gold row missing from generated", "missing_rows"), ("generated row not in gold", "extra_rows")):
        for r in rd.get(key) or []:
            out.append(f"{label}: {r}")
    if rd.get("missing_columns"):
        out.append(f"gold column(s) with no match in generated: {rd['missing_columns']}")
    return out
