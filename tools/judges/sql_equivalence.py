"""SQL-equivalence judge: are gold and generated SQL the same query once canonicalized (no execution)?

Conservative: True means "shown equivalent"; False means "not shown equivalent", never "different".
Both sides are canonicalized the same way, with sqlglot, in this order:

1. parse in the dialect (databricks by default); drop catalog/schema from table references
   (`main.retail.orders` = `orders`);
2. `qualify` with a schema built from the space's column_configs when a space is given (columns
   get their table, `*` expands) and identifier case normalized per dialect;
3. table aliases renamed to the table name (`orders o` = `orders`), numbered when a table
   appears twice in one scope;
4. the outer SELECT's output aliases dropped (result column names do not change the answer)
   after substituting them where ORDER BY refers to them;
5. `simplify`, then: AND/OR operands flattened and sorted; operands of `=`, `<>`/`!=`, `+`, `*`
   sorted; `a > b` written `b < a` (and `>=`); IN-lists sorted; `COUNT(1)`/`COUNT(<literal>)`
   = `COUNT(*)`; explicit `ASC` dropped; in a scope reading one table, `t.col` = `col`;
6. inner joins: when every join of a SELECT is an inner join with ON, the joined tables are
   sorted and the ON conditions moved into WHERE (safe for inner joins only; outer joins,
   USING and LATERAL keep their order).

Not handled (answers False): derived-table / CTE name differences, GROUP BY vs DISTINCT,
subquery vs join rewrites, differing unqualified vs qualified columns without a space.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.optimizer.simplify import simplify

from ..evalset import EvalCase
from ..results import Answer
from ..space.model import Space
from ._sqlshape import SQLParseError, parse_one, space_schema, strip_table_qualifiers
from .base import GoldResult, Verdict

NAME = "sql_equivalence"
NEEDS = ("generated.sql", "expected.sql")
DESCRIPTION = "Generated SQL is the gold SQL up to aliases, case, predicate/join order (sqlglot canonical form)."


def canonical_sql(sql: str, *, dialect: str = "databricks", space: Space | None = None) -> str:
    """The canonical form of `sql` used for comparison (raises SQLParseError)."""

    tree = strip_table_qualifiers(parse_one(sql, dialect))
    schema = space_schema(space)
    try:
        tree = qualify(tree, schema=schema or None, dialect=dialect, validate_qualify_columns=False,
                       quote_identifiers=False)
    except OptimizeError:
        # e.g. ambiguous or unknown columns: fall back to identifier normalization only

        tree = normalize_identifiers(strip_table_qualifiers(parse_one(sql, dialect)), dialect=dialect)
    _rename_table_aliases(tree)
    _drop_outer_aliases(tree)
    try:
        tree = simplify(tree, dialect=dialect)
    except Exception:  # simplify is best effort; canonical ordering below still applies
        pass
    _reorder_inner_joins(tree)
    tree = _canon_bottom_up(tree)
    return tree.sql(dialect=dialect, normalize_functions="upper")


def _rename_table_aliases(tree) -> None:
    for scope in traverse_scope(tree):
        seen: dict[str, int] = {}
        renames: dict[str, str] = {}
        for alias, source in scope.sources.items():
            if not isinstance(source, exp.Table):
                continue
            name = source.name.lower()
            k = seen.get(name, 0)
            seen[name] = k + 1
            new = name if k == 0 else f"{name}_{k + 1}"
            renames[alias.lower()] = new
            source.set("alias", exp.TableAlias(this=exp.to_identifier(new)))
        single = len(scope.sources) == 1
        for col in scope.columns:
            t = col.table.lower()
            if single and t:
                col.set("table", None)  # `t.a` = `a` when the scope reads one source
            elif t in renames:
                col.set("table", exp.to_identifier(renames[t]))


def _drop_outer_aliases(tree) -> None:
    selects = [tree] if isinstance(tree, exp.Select) else []
    if isinstance(tree, exp.SetOperation):
        selects = [s for s in (tree.left, tree.right) if isinstance(s, exp.Select)]
    for sel in selects:
        aliases = {s.alias.lower(): s.this for s in sel.expressions if isinstance(s, exp.Alias)}
        order = sel.args.get("order")
        if order is not None:
            for o in order.expressions:
                e = o.this
                if isinstance(e, exp.Column) and not e.table and e.name.lower() in aliases:
                    o.set("this", aliases[e.name.lower()].copy())
        sel.set("expressions", [s.this if isinstance(s, exp.Alias) else s for s in sel.expressions])


def _reorder_inner_joins(tree) -> None:
    for sel in list(tree.find_all(exp.Select)):
        joins = sel.args.get("joins") or []
        frm = sel.args.get("from_") or sel.args.get("from")
        if not joins or frm is None:
            continue
        if not all(_is_plain_inner(j) for j in joins):
            continue
        tables = [frm.this] + [j.this for j in joins]
        conds = [j.args["on"] for j in joins if j.args.get("on") is not None]
        tables.sort(key=lambda t: t.sql())
        frm.set("this", tables[0])
        sel.set("joins", [exp.Join(this=t, kind="CROSS") for t in tables[1:]])
        where = sel.args.get("where")
        parts = ([where.this] if where is not None else []) + conds
        if parts:
            sel.set("where", exp.Where(this=exp.and_(*parts)))


def _is_plain_inner(j) -> bool:
    if j.args.get("using") or j.args.get("side") or j.args.get("method"):
        return False
    kind = (j.args.get("kind") or "").upper()
    if kind not in ("", "INNER", "CROSS"):
        return False

    return not isinstance(j.this, exp.Lateral) and not isinstance(j.this, exp.Unnest)


def _canon_bottom_up(tree):
    """Apply `_canon_node` children-first, so a rebuilt parent sorts already-canonical children."""
    nodes = list(tree.walk(bfs=False))
    for node in reversed(nodes):
        new = _canon_node(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _flatten(node, cls) -> list:
    if isinstance(node, cls):
        return _flatten(node.left, cls) + _flatten(node.right, cls)
    if node.__class__.__name__ == "Paren" and isinstance(node.this, cls):
        return _flatten(node.this, cls)
    return [node]


def _canon_node(node):
    if isinstance(node, (exp.And, exp.Or)):
        flat = [p.this if isinstance(p, exp.Paren) and isinstance(p.this, exp.Connector) else p
                for p in _flatten(node, type(node))]
        # duplicates dropped (a AND a = a); operands wrapped consistently, then sorted by text
        items = sorted({exp.paren(p) if isinstance(p, exp.Connector) else p for p in flat}, key=lambda p: p.sql())
        return exp.and_(*items, wrap=False) if isinstance(node, exp.And) else exp.or_(*items, wrap=False)
    if isinstance(node, (exp.EQ, exp.NEQ, exp.Add, exp.Mul, exp.NullSafeEQ)):
        a, b = node.left, node.right
        if a.sql() > b.sql():
            return type(node)(this=b.copy(), expression=a.copy())
    if isinstance(node, exp.GT):
        return exp.LT(this=node.right.copy(), expression=node.left.copy())
    if isinstance(node, exp.GTE):
        return exp.LTE(this=node.right.copy(), expression=node.left.copy())
    if isinstance(node, exp.In) and node.expressions:
        node.set("expressions", sorted(node.expressions, key=lambda e: e.sql()))
    if isinstance(node, exp.Ordered) and node.args.get("desc") is False:
        node.set("desc", None)  # explicit ASC is the default
    if isinstance(node, exp.Count):
        arg = node.this
        if isinstance(arg, exp.Literal) or (isinstance(arg, exp.Star)):
            return exp.Count(this=exp.Star())
    return node


def judge(
    case: EvalCase,
    *,
    generated: Answer,
    expected: list[GoldResult],
    space: Space | None = None,
    dialect: str = "databricks",
    **_: Any,
) -> Verdict:
    """True when the generated SQL canonicalizes to the same query as any gold SQL."""
    if not generated.sql:
        return Verdict(judge=NAME, value=False, rationale="no SQL was generated", details={"reason": "NO_SQL"})
    try:
        gen = canonical_sql(generated.sql, dialect=dialect, space=space)
    except SQLParseError as e:
        return Verdict(judge=NAME, value=False, rationale=f"generated SQL does not parse ({dialect}): {e}",
                       details={"reason": "PARSE_ERROR"})
    golds: list[dict[str, Any]] = []
    for k, gr in enumerate(expected):
        try:
            canon = canonical_sql(gr.sql, dialect=dialect, space=space)
        except SQLParseError as e:
            golds.append({"gold": k, "error": str(e)})
            continue
        golds.append({"gold": k, "canonical": canon})
        if canon == gen:
            return Verdict(judge=NAME, value=True, rationale=f"same canonical SQL as gold #{k}",
                           details={"matched_gold": k, "canonical": gen})
    if not any("canonical" in g for g in golds):
        return Verdict(judge=NAME, value=None, rationale="no gold SQL parses",
                       error=f"gold SQL does not parse ({dialect}): {golds[0]['error'] if golds else 'none given'}",
                       details={"golds": golds})
    return Verdict(judge=NAME, value=False,
                   rationale="not shown equivalent: canonical forms differ (the results may still be equal)",
                   details={"generated_canonical": gen, "golds": golds})
