"""Compose Databricks SQL from a plan through the join graph (MetricFlow's idea: measures x
dimensions x filters, joined along declared relationships).

- **Joins**: the tables a plan needs are connected by the cheapest tree over join specs (then
  inferred keys), rooted where the fewest joins multiply rows; equally cheap trees through different
  tables are an ambiguity and refused. Walking a one-to-many edge makes a plain COUNT a
  COUNT(DISTINCT key) and refuses sums over the duplicated table.
- **Time**: periods become half-open ranges on one date column (the one named, else the root's,
  else the nearest along many-to-one joins), relative periods are anchored to that column's latest
  date, fiscal periods go through the space's calendar, grains are DATE_TRUNC / YEAR / fiscal
  expressions (an expression snippet wins where it says the same).
- **Shapes** (see `plan.Plan.shape`) render as one SELECT, or a CTE where a window or a second
  aggregation level is needed.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import heapq
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from .dates import WEEKDAYS, Calendar, TimeSpec, period_next, resolve
from .lexicon import Edge, Entry, Lexicon, quote
from .plan import Cond, Dim, Measure, Plan, Refusal, _literal
from .rules import Rule, Rules


@dataclass
class Joins:
    root: str
    edges: list[tuple[Edge, str]] = field(default_factory=list)  # (edge, table it adds), in join order
    fanout: bool = False

    def tables(self) -> list[str]:
        return [self.root] + [t for _, t in self.edges]


def join_tree(lex: Lexicon, needed: set[str], prefer: list[str]) -> Joins:
    """The cheapest join tree covering `needed` (fewest row-multiplying edges, then fewest joins)."""
    if not needed:
        raise Refusal("the question names no table")
    best: tuple | None = None
    candidates = list(dict.fromkeys([*prefer, *sorted(needed), *sorted(lex.columns)]))
    for root in candidates:
        tree = _tree_from(lex, root, needed)
        if tree is None:
            continue
        joins, ambiguous = tree
        cost = (sum(e.fans_out(_from(e, t)) for e, t in joins), len(joins), root not in needed,
                candidates.index(root))
        if best is None or cost < best[0]:
            best = (cost, root, joins, ambiguous)
    if best is None:
        names = ", ".join(sorted(t.split(".")[-1] for t in needed))
        raise Refusal(f"no join spec connects the tables {names}",
                      missing=[{"kind": "join", "tables": sorted(needed)}])
    cost, root, joins, ambiguous = best
    if ambiguous:
        raise Refusal(f"the tables can be joined in more than one way ({ambiguous}); a join spec would decide",
                      missing=[{"kind": "join", "tables": sorted(needed), "why": ambiguous}])
    return Joins(root, joins, fanout=cost[0] > 0)


def _from(edge: Edge, added: str) -> str:
    return edge.other(added)


def _tree_from(lex: Lexicon, root: str, needed: set[str]):
    """Dijkstra from `root` with cost (fan-outs, hops); None if some needed table is unreachable."""
    dist: dict[str, tuple[int, int]] = {root: (0, 0)}
    via: dict[str, tuple[Edge, str]] = {}
    ties: dict[str, bool] = {}
    heap = [(0, 0, root)]
    adj: dict[str, list[Edge]] = {}
    for e in lex.edges:
        adj.setdefault(e.left, []).append(e)
        adj.setdefault(e.right, []).append(e)
    while heap:
        f, h, t = heapq.heappop(heap)
        if (f, h) > dist.get(t, (10 ** 9, 0)):
            continue
        for e in adj.get(t, []):
            o = e.other(t)
            c = (f + e.fans_out(t), h + 1)
            if o not in dist or c < dist[o]:
                dist[o], via[o] = c, (e, t)
                ties[o] = False
                heapq.heappush(heap, (c[0], c[1], o))
            elif c == dist[o] and via[o][1] != t:
                ties[o] = True
    if any(t not in dist for t in needed):
        return None
    joins: list[tuple[Edge, str]] = []
    added = {root}
    ambiguous = ""
    for t in sorted(needed, key=lambda x: dist[x]):
        chain = []
        x = t
        while x not in added:
            e, prev = via[x]
            if ties.get(x) and not ambiguous:
                ambiguous = f"to reach {x.split('.')[-1]}"
            chain.append((e, x))
            x = prev
        for e, x in reversed(chain):
            joins.append((e, x))
            added.add(x)
    return joins, ambiguous



def _period_label(a: dt.date, b: dt.date) -> str:
    """A column suffix naming a period: 2024, 2025_q1, 2024_h2, 2024_03, or its first day.

    >>> [_period_label(dt.date(2024, 1, 1), dt.date(2025, 1, 1)), _period_label(dt.date(2025, 4, 1), dt.date(2025, 7, 1))]
    ['2024', '2025_q2']
    """
    months = (b.year - a.year) * 12 + b.month - a.month
    if a.day == 1 and b.day == 1:
        if months == 12 and a.month == 1:
            return str(a.year)
        if months == 6 and a.month in (1, 7):
            return f"{a.year}_h{1 if a.month == 1 else 2}"
        if months == 3 and a.month % 3 == 1:
            return f"{a.year}_q{(a.month + 2) // 3}"
        if months == 1:
            return f"{a.year}_{a.month:02d}"
    return a.isoformat().replace("-", "_")


class Composer:
    """Render one plan as Databricks SQL."""

    def __init__(self, lex: Lexicon, rules: Rules, plan: Plan):
        self.lex, self.rules, self.p = lex, rules, plan
        self.cal: Calendar = rules.calendar
        self.trace: dict = {"joins": [], "time": [], "notes": list(plan.notes)}
        self._month_col: Entry | None = None  # a month-name column months are grouped by (see _month_names)
        self._absent_dated: str | None = None  # "stores with no orders in 2025": the period dates the absent rows

    # ------------------------------------------------------------------ public
    def sql(self) -> str:
        p = self.p
        if p.shape == "ratio_of_tables":  # two separate counts: no join between the tables
            return self._render_ratio_of_tables()
        self._weekday_column()
        needs_date = bool(p.times or p.grains or p.avg_grain or p.months_of_year or p.weekdays or p.share_weekdays
                          or p.growth or p.growth_grain or
                          any(d.kind == "time" for d in p.dims) or p.ratio_periods())
        measure_tables = [t for m in p.measures for t in _tables(m)]
        if p.shape in ("share_of",):
            related = {c.tables[0] for c in p.share_part if c.kind == "related"}
        else:
            related = set()
        related |= {c.tables[0] for c in p.conds if c.kind == "not_related"}
        needed = p.tables() - related
        prefer = list(dict.fromkeys(measure_tables))
        self.joins = join_tree(self.lex, needed, prefer)
        absent = [c.tables[0] for c in p.conds if c.kind == "not_related"]
        named_dates = [c for c in p.list_columns if c.ctype == "date" and c.table not in absent]  # "signed up in 2024"
        if (needs_date and p.date is None and len(absent) == 1 and p.times and not (p.grains or p.growth or p.growth_grain)
                and not named_dates
                and len(self.lex.date_columns(absent[0])) == 1 and not any(d.kind == "time" for d in p.dims)):
            p.date = self.lex.date_columns(absent[0])[0]
            self._absent_dated = absent[0]
            self.trace["notes"].append(f"the period applies to the {absent[0].split('.')[-1]} rows that must not exist")
        if needs_date and p.date is None and len(named_dates) == 1:
            p.date = named_dates[0]  # "customers who signed up in 2024 but never ordered": the date the words name
        if needs_date and p.date is None:
            p.date = self._date_column()
            if self._is_dimension_table(p.date.table):
                raise Refusal(f"the question's period would apply to {p.date.label}, the date of a "
                              f"{p.date.table.split('.')[-1]} row, which the question does not name",
                              missing=[{"kind": "synonym", "candidates": [p.date.path], "why": "which date"}])
            if p.date.table not in self.joins.tables():
                self.joins = join_tree(self.lex, needed | {p.date.table}, prefer)
        self._month_names()
        self._event_rules()
        self._check_duplication()
        self.trace["joins"] = [e.path for e, _ in self.joins.edges]
        self.trace["root"] = self.joins.root
        kinds = {k for k, _, _ in p.derived_cmp}
        if kinds - {p.shape}:  # a threshold on the growth or share only the growth or share shape computes
            raise Refusal(f"the {' and '.join(sorted(kinds))} compared with a percentage is not what this question computes",
                          missing=[{"kind": "example", "why": "threshold on a computed percentage"}])
        if p.share_within and (p.shape != "share" or self._share_of_top(self.groups()[0])):
            raise Refusal("a share within each group is composed only for a plain breakdown",
                          missing=[{"kind": "example", "why": "share within a group"}])
        render = getattr(self, f"_render_{p.shape}")
        return render()

    # ------------------------------------------------------------------ pieces
    def from_clause(self) -> str:
        j = self.joins
        parts = [f"{self.lex.tables[j.root].label} AS {self.lex.aliases[j.root]}"]
        for e, t in j.edges:
            kind = "LEFT JOIN" if self.p.null_group and not self._filtered(t) else "JOIN"
            parts.append(f"{kind} {self.lex.tables[t].label} AS {self.lex.aliases[t]} ON {e.on}")
        return "\n".join(parts)

    def _filtered(self, table: str) -> bool:
        return any(table in c.tables for c in self.p.conds)

    def where(self, extra: list[str] = ()) -> list[str]:
        p = self.p
        out = list(dict.fromkeys(c.sql for c in p.conds if c.sql))  # "loyalty program members": one condition
        times = self.time_conditions(p.times)
        inner = times + self._rules_of(self._absent_dated) if self._absent_dated else []
        out += [f"NOT ({self._has_related(p.measures[0] if p.measures else None, c.tables[0], wide=True, inner=inner)})"
                for c in p.conds if c.kind == "not_related"]
        if not self._absent_dated:
            out += times
        for d, t in p.dated_times:
            out += self.time_conditions([t], d)
        if p.weekdays:
            days = ", ".join(f"'{d}'" for d in sorted(set(p.weekdays)))
            out.append(f"DATE_FORMAT({self.col(p.date)}, 'EEEE') " + (f"= {days}" if len(set(p.weekdays)) == 1 else f"IN ({days})"))
        if p.months_of_year:
            if self._year_column():
                raise Refusal(f"{p.date.label} holds years, not months", missing=[{"kind": "column", "why": "date column"}])
            col = self.col(p.date)
            ms = ", ".join(str(m) for m in sorted(set(p.months_of_year)))
            out.append(f"MONTH({col}) = {ms}" if len(p.months_of_year) == 1 else f"MONTH({col}) IN ({ms})")
        for c in p.compares:
            if isinstance(c.target, Entry):
                if c.against_row is not None:
                    t, v = self.lex.tables[c.target.table], c.against_row
                    out.append(f"{self.col(c.target)} {c.op} (SELECT {quote(c.target.column)} FROM {t.label} "
                               f"WHERE {quote(v.column)} = {_literal(v.value)})")
                elif c.against_average:
                    t = self.lex.tables[c.target.table]
                    out.append(f"{self.col(c.target)} {c.op} (SELECT AVG({quote(c.target.column)}) FROM {t.label})")
                else:
                    out.append(f"{self.col(c.target)} {c.op} {_num(c.value)}")
        return out + list(extra)

    def time_conditions(self, specs, date: Entry | None = None) -> list[str]:
        out = []
        if not specs:
            return out
        date = date or self.p.date
        col = self.col(date)
        anchor = self._anchor()
        ranges = []
        for t in specs:
            r = resolve(t, anchor, self.cal)
            if r is None:
                if t.fiscal:
                    raise Refusal(f"'{t.text}' is a fiscal period but the space declares no fiscal calendar",
                                  words=[t.text], missing=[{"kind": "instruction", "why": "fiscal year start"}])
                raise Refusal(f"'{t.text}' needs a date to anchor to; {date.label} has no data")
            ranges.append((t, r))
            self.trace["time"].append({"text": t.text, "column": date.path, "from": str(r[0]), "to": str(r[1])})
        plain = [(t, r) for t, r in ranges if t.bound is None]
        bounded = [(t, r) for t, r in ranges if t.bound is not None]
        merged = sorted({r for _, r in plain})
        inner = [r for t, r in plain if t.kind == "relative" and all(o[0] <= r[0] and r[1] <= o[1] for o in merged)]
        if len(merged) > 1 and inner:  # "year to date revenue for 2025": the part of 2025 to date
            merged = [inner[0]]
        if len(merged) > 1:
            if all(a[1] <= b[0] for a, b in zip(merged, merged[1:])):
                out.append("(" + " OR ".join(f"({col} >= {self.date_lit(a, date)} AND {col} < {self.date_lit(b, date)})"
                                             for a, b in merged) + ")")
                self._union_periods = merged
            else:
                raise Refusal("the question names overlapping periods: " + ", ".join(t.text for t, _ in plain))
        elif merged:
            a, b = merged[0]
            out.append(f"{col} >= {self.date_lit(a, date)} AND {col} < {self.date_lit(b, date)}")
        lo = hi = None
        for t, (a, b) in bounded:
            if t.bound in ("since", "between", "from"):
                lo = a
            elif t.bound == "after":
                lo = b
            elif t.bound == "before":
                hi = a
            elif t.bound in ("until", "to"):
                hi = b
        if lo is not None:
            out.append(f"{col} >= {self.date_lit(lo, date)}")
        if hi is not None:
            out.append(f"{col} < {self.date_lit(hi, date)}")
        return out

    def date_lit(self, d: dt.date, date: Entry | None = None) -> str:
        """A period bound as a literal of the date column; on a column of year numbers only whole years fit."""
        date = date or self.p.date
        if date is None or date.ctype != "number":
            return _date(d)
        if (d.month, d.day) != (1, 1):
            raise Refusal(f"{date.label} holds years, and the question's period is not a whole number of years",
                          missing=[{"kind": "column", "why": "date column"}])
        return str(d.year)

    def col(self, e: Entry) -> str:
        return self.lex.sql_of(e)

    def measure_sql(self, m: Measure) -> str:
        if m.per is not None:  # one value per grouped row: its MAX is that value
            return f"{self._measure_sql(m)} / NULLIF(MAX({self.col(m.per)}), 0)"
        return self._measure_sql(m)

    def _measure_sql(self, m: Measure) -> str:
        if m.kind == "snippet":
            return m.entry.sql
        if m.kind == "agg" and m.agg == "RANGE":  # "the difference between the highest and lowest altitude"
            return f"MAX({self.col(m.entry)}) - MIN({self.col(m.entry)})"
        if m.kind == "agg":
            return f"{m.agg}({self.col(m.entry)})"
        if m.kind == "count_distinct":
            return f"COUNT(DISTINCT {self.col(m.entry)})"
        t = m.entry.table
        if t == self.joins.root and not self.joins.fanout:
            return "COUNT(*)"
        key = self.lex.key_column(t)
        if key is None:
            raise Refusal(f"counting {t.split('.')[-1]} through a join needs a unique key column, and none is known",
                          missing=[{"kind": "column", "table": t, "why": "unique key"}])
        return f"COUNT(DISTINCT {self.col(key)})"

    def measure_name(self, m: Measure) -> str:
        if m.name:
            return _ident(m.name)
        if m.per is not None:
            return _ident(f"{self.measure_name(Measure(m.kind, m.entry, m.agg))} per {m.per.column}")
        if m.kind == "snippet":
            base = m.entry.label
        elif m.kind == "count":
            base = f"{m.entry.table.split('.')[-1]} count"
        elif m.kind == "count_distinct":
            base = f"distinct {m.entry.column}"
        else:
            base = f"{_AGG_WORDS[m.agg]} {m.entry.column}"
        return _ident(base)

    def rounded(self, sql: str, m: Measure | None = None, always: bool = False) -> str:
        d = self.rules.round_digits
        if d is None or (m is not None and _is_count(self.measure_sql(m)) and not always):
            return sql
        if m is not None and m.kind == "agg" and not always and self.lex.is_fraction(m.entry):
            return sql  # a column described as a fraction (0.10 = 10% off): two decimals would erase it
        if m is not None and m.kind == "agg" and m.entry is not None and m.entry.ctype == "date":
            return sql  # "when was our first order": a date is not rounded
        if re.match(r"(?is)^\s*round\s*\(", sql):
            return sql
        return f"ROUND({sql}, {d})"

    def dim_select(self, d: Dim) -> tuple[list[str], list[str], str]:
        """(select items, group-by expressions, order expression) of a dimension."""
        if d.kind == "entity":
            label = self.lex.label_column(d.entry.table)
            key = self.lex.key_column(d.entry.table)
            if label is not None and key is not None and not self.lex.own_key(key, d.entry.table):
                key = None  # category(business_id, category_name): "each category" is each name, not each row
            show = label or key
            if show is None:
                raise Refusal(f"{d.entry.label} has no name or key column to show",
                              missing=[{"kind": "column", "table": d.entry.table}])
            group = [self.col(key)] if key is not None and key is not show else []
            return [self.col(show)], group + [self.col(show)], self.col(show)
        if d.kind == "expression":
            alias = _ident(d.entry.label)
            return [f"{d.entry.sql} AS {alias}"], [d.entry.sql], d.entry.sql
        if d.kind == "time":
            expr, alias = self.grain_expr(d)
            if d.grain == "month" and not d.fiscal and self._month_col is not None:
                return [f"{expr} AS {alias}"], [expr], self._calendar_order(self._month_col)
            return [f"{expr} AS {alias}"], [expr], expr
        return [self.col(d.entry)], [self.col(d.entry)], self.col(d.entry)

    def grain_expr(self, d: Dim) -> tuple[str, str]:
        if d.grain == "month" and not d.fiscal and self._month_col is not None:
            return self.col(self._month_col), _ident(self._month_col.column)
        col = self.col(d.entry if d.entry is not None and d.entry.ctype == "date" else self.p.date)
        if self._year_column() and not (d.entry is not None and d.entry.ctype == "date"):
            if d.grain != "year" or d.fiscal:
                raise Refusal(f"{self.p.date.label} holds years; the question asks for {'fiscal ' if d.fiscal else ''}{d.grain}s",
                              missing=[{"kind": "column", "why": "date column"}])
            return col, _ident(self.p.date.column)
        if d.fiscal:
            snippet = self._fiscal_snippet(d.grain)
            if snippet is not None:
                return snippet.sql, _ident(snippet.label)
            shift = self.cal.shift()
            if not self.cal.fiscal_start:
                raise Refusal(f"'{d.span.text if d.span else 'fiscal'}' needs the space's fiscal calendar",
                              missing=[{"kind": "instruction", "why": "fiscal year start"}])
            fn = {"year": "YEAR", "quarter": "QUARTER", "month": "MONTH"}[d.grain]
            return f"{fn}(ADD_MONTHS({col}, {-shift}))", f"fiscal_{d.grain}"
        if d.grain == "weekday":
            return f"DATE_FORMAT({col}, 'EEEE')", "weekday"
        if d.grain == "year":
            return f"YEAR({col})", "year"
        if d.grain in ("quarter", "month", "week"):
            return f"DATE_TRUNC('{d.grain.upper()}', {col})", d.grain
        return f"DATE_TRUNC('DAY', {col})", "day"

    def _fiscal_snippet(self, grain: str) -> Entry | None:
        for e in self.lex.entries:
            if e.kind == "expression" and "fiscal" in e.label.lower() and grain in e.label.lower() and \
                    self.p.date is not None and self.p.date.column.lower() in e.sql.lower() and \
                    self.lex.aliases[self.p.date.table] in e.sql:
                return e
        return None

    def groups(self) -> tuple[list[str], list[str], list[str]]:
        """Select items, group-by and time-order expressions of all dimensions and grains."""
        sel, grp, order = [], [], []
        dims = list(self.p.dims)
        grains = list(self.p.grains)
        fiscal_q = [g for g in grains if g.fiscal and g.grain == "quarter"]
        single_fy = [t for t in self.p.times if t.fiscal and t.fiscal_quarter is None]
        if fiscal_q and len(single_fy) != 1:
            grains.insert(0, Dim("time", None, None, grain="year", fiscal=True))
        if len({t.start.year for t in self.p.times if t.start} ) > 1 and self.p.shape == "plain" and not grains and \
                getattr(self, "_union_periods", None) is not None:
            grains.append(Dim("time", None, None, grain="year"))
        for d in dims + grains:
            s, g, o = self.dim_select(d)
            sel += s
            grp += g
            if d.kind == "time":
                order.append(o)
        return sel, grp, order

    # ------------------------------------------------------------------ choices
    def _date_column(self) -> Entry:
        """The date column periods apply to: the root's own, else the nearest along many-to-one joins;
        where no date column is reachable, a column of year numbers (`paper.year`) the same way."""
        try:
            return self._nearest_date(self.lex.date_columns)
        except Refusal as first:
            if first.missing != [{"kind": "join", "why": "date column"}]:
                raise
            try:
                return self._nearest_date(self.lex.year_columns)
            except Refusal:
                raise first from None

    def _year_column(self) -> bool:
        return self.p.date is not None and self.p.date.ctype == "number"

    def _nearest_date(self, columns) -> Entry:
        root = self.joins.root
        seen, frontier = {root}, [root]
        while frontier:
            found = []
            for t in frontier:
                cols = columns(t)
                if len(cols) == 1:
                    found.append(cols[0])
                elif len(cols) > 1:
                    named = [c for c in cols if ("date",) in self._phrases_of(c)]
                    if len(named) == 1:
                        found.append(named[0])
                    else:
                        raise Refusal(f"{t.split('.')[-1]} has several date columns "
                                      f"({', '.join(c.column for c in cols)}); the question does not say which",
                                      words=[], missing=[{"kind": "synonym", "candidates": [c.path for c in cols],
                                                          "why": "which date"}])
            if len(found) > 1:
                # the space calls one of them "date"; else an event table's date beats a dimension's
                named = [c for c in found if ("date",) in self._phrases_of(c)]
                events = [c for c in found if self._is_event_table(c.table)]
                found = named if len(named) == 1 else events if len(events) == 1 else found
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise Refusal("the question's period could apply to " + ", ".join(c.label for c in found),
                              missing=[{"kind": "synonym", "candidates": [c.path for c in found], "why": "which date"}])
            nxt = []
            for t in frontier:
                for e in self.lex.edges:
                    if t in (e.left, e.right) and not e.fans_out(t) and e.other(t) not in seen:
                        seen.add(e.other(t))
                        nxt.append(e.other(t))
            frontier = nxt
        raise Refusal("the question names a period, but no date column is reachable from "
                      f"{root.split('.')[-1]} through many-to-one joins",
                      missing=[{"kind": "join", "why": "date column"}])

    def _is_dimension_table(self, table: str) -> bool:
        """Only ever on the one side of relationships (products, customers): its dates describe the entity."""
        one = any((e.right == table and e.many_to_one) or (e.left == table and e.many_to_one is False)
                  for e in self.lex.edges if not e.one_to_one)
        return one and not self._is_event_table(table)

    def _is_event_table(self, table: str) -> bool:
        """A table on the many side of some relationship (orders, not products)."""
        return any((e.left == table and e.many_to_one) or (e.right == table and e.many_to_one is False)
                   for e in self.lex.edges if not e.one_to_one)

    def _phrases_of(self, e: Entry) -> set[tuple[str, ...]]:
        return {k for k, items in self.lex.phrases.items() if any(p.entry is e for p in items)}

    def _anchor(self) -> dt.date | None:
        st = self.lex.stats(self.p.date.table, self.p.date.column) if self.lex.stats else None
        if st is None or st.max is None:
            return None
        v = st.max
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v)[:10])
        except ValueError:
            return None

    def _calendar_order(self, col: Entry) -> str:
        """How to order a column: a column of month names in calendar order, anything else by its values."""
        sql = self.col(col)
        if self.lex.numeric_text(col):  # "4421" above "978"
            return f"TRY_CAST({sql} AS DOUBLE)"
        months = [m for m in calendar.month_name if m]
        if col not in self.lex.columns_of_names([col.table], set(months)):
            return sql
        return f"CASE TRIM({sql}) " + " ".join(f"WHEN '{m}' THEN {k}" for k, m in enumerate(months, 1)) + " END"

    def _month_names(self) -> None:
        """Where dates are stored as a year number and a month name (defog's review.year, review.month):
        "in April 2021" is year = 2021 AND month = 'April', "each month of 2021" groups by the month name."""
        p = self.p
        if not self._year_column():
            return
        months = [m for m in calendar.month_name if m]
        monthly = [t for t in p.times if t.kind == "period" and t.grain == "month" and t.bound is None and not t.fiscal
                   and t.start is not None]
        grains = [d for d in p.grains if d.grain == "month" and not d.fiscal]
        if not (monthly or grains or p.months_of_year):
            return
        found = self.lex.columns_of_names([p.date.table], set(months))
        if len(found) != 1:
            return
        mcol = found[0]
        named = sorted({months[t.start.month - 1] for t in monthly} | {months[m - 1] for m in p.months_of_year},
                       key=months.index)
        for t in monthly:  # the month's year stays a period of the year column
            p.times[p.times.index(t)] = TimeSpec("period", t.span, t.text, dt.date(t.start.year, 1, 1),
                                                 dt.date(t.start.year + 1, 1, 1), "year")
        if named:
            lits = ", ".join(f"'{m}'" for m in named)
            p.conds.append(Cond(f"{self.col(mcol)} = {lits}" if len(named) == 1 else f"{self.col(mcol)} IN ({lits})",
                                (mcol.table,), ((mcol.table, mcol.column.lower()),), f"{mcol.label} = {', '.join(named)}",
                                mcol.path, kind="value"))
            p.months_of_year = []
        if grains and (p.growth_grain or p.avg_grain):
            raise Refusal(f"months here are names in {mcol.label}; the offline engine does not order them for a growth",
                          missing=[{"kind": "example", "why": "month names"}])
        self._month_col = mcol if grains else None  # "each month of 2021": grouped by the name, in calendar order
        self.trace["notes"].append(f"months read from {mcol.label} beside the year column {p.date.label}")

    def _weekday_column(self) -> None:
        """A text column of weekday names ("Monday") in the question's tables serves "by day of the week" and
        "on Mondays" without a date column (checkin.day); else they read a date column's weekday."""
        p = self.p
        if not (p.weekdays or any(d.grain == "weekday" for d in p.grains)):
            return
        found = self.lex.columns_of_names(p.tables(), {d.capitalize() for d in WEEKDAYS})
        if len(found) != 1:
            return
        col = found[0]
        for d in [d for d in p.grains if d.grain == "weekday"]:
            p.grains.remove(d)
            p.dims.append(Dim("column", col, d.span))
        if p.weekdays:
            days = sorted(set(p.weekdays))
            lits = ", ".join(f"'{d}'" for d in days)
            p.conds.append(Cond(f"{self.col(col)} = {lits}" if len(days) == 1 else f"{self.col(col)} IN ({lits})",
                                (col.table,), ((col.table, col.column.lower()),), f"{col.label} = {', '.join(days)}",
                                col.path, kind="value"))
            p.weekdays = []

    def _event_rules(self) -> None:
        """Rows counted through an event table the answer joins ("unique customers per region in 2024":
        customers through their orders) are counted over the events the space counts: the rule of the
        space's count of those events (order counts mean completed orders) applies, unless the question
        constrains or groups by the rule's columns itself."""
        p = self.p
        joined = set(self.joins.tables())
        explicit = {c for cond in [*p.conds, *p.share_part] for c in cond.columns}
        explicit |= {(d.entry.table, d.entry.column.lower()) for d in [*p.dims, *([p.entity] if p.entity else [])]
                     if d.entry is not None and d.entry.kind == "column"}
        for m in p.measures:
            if m.kind not in ("count", "count_distinct") or m.entry is None:
                continue
            for e in self.lex.edges:
                if e.one_to_one or m.entry.table not in (e.left, e.right):
                    continue
                event = e.other(m.entry.table)
                many = e.left if e.many_to_one else e.right if e.many_to_one is False else None
                if many != event or event not in joined:
                    continue
                for entry, r in self._count_rules(event):
                    if set(r.columns) & explicit or any(c.sql == r.condition for c in p.conds):
                        continue
                    p.conds.append(Cond(r.condition, r.tables, r.columns,
                                        f"rule for {entry.label}: {r.condition} ({m.label} counted through "
                                        f"{event.split('.')[-1]})", r.filter.path if r.filter is not None else r.source,
                                        kind="rule"))

    def _check_duplication(self) -> None:
        """Sums over a table whose rows a join repeats would count them several times: refuse."""
        j = self.joins
        dup = {t for t in j.tables() if t != j.root} | ({j.root} if j.fanout else set())
        dup -= self._bridged()
        if not dup:
            return
        compared = [c.target for c in self.p.compares if isinstance(c.target, Measure)]
        seen: set[int] = set()
        for m in [*self.p.measures, *compared]:
            if id(m) in seen:
                continue
            seen.add(id(m))
            if m.kind in ("count", "count_distinct"):
                continue
            sql = self.measure_sql(m)
            try:
                tree = sqlglot.parse_one(sql, read="databricks")
            except sqlglot.errors.ParseError:
                continue
            once = self._count_rows_once(tree, dup, m) if m.kind == "snippet" else None
            if once is not None:
                tree = once
                old, m = m, Measure("snippet", dataclasses.replace(m.entry, sql=tree.sql("databricks")),
                                    m.agg, m.span, m.assumed, m.name or m.entry.label)
                # the measure shown and the threshold it is held to (HAVING) are the same corrected measure
                self.p.measures = [m if x is old else x for x in self.p.measures]
                for c in self.p.compares:
                    if c.target is old:
                        c.target = m
            ratio = bool(tree.find(exp.Div))
            for agg in tree.find_all(exp.Sum, exp.Avg):
                cols = {self.lex.resolve_table(c.table) for c in agg.find_all(exp.Column)}
                bad = cols & dup
                # a row-level product with the root's own columns (qty * products.unit_cost) is per root row
                per_row = j.root in cols and j.root not in dup
                if bad and not ratio and not per_row:
                    t = sorted(bad)[0].split(".")[-1]
                    raise Refusal(f"{m.label} sums {t} rows, which the joins this question needs would repeat "
                                  f"(joined through {j.root.split('.')[-1]})",
                                  missing=[{"kind": "join", "why": "fan-out"}])
                if bad:
                    self.trace["notes"].append(f"{m.label} is computed over {j.root.split('.')[-1]} rows")

    def _bridged(self) -> set[str]:
        """A root that pairs two tables (domain_publication: domain x publication), grouped by one of them:
        within each group the other's rows appear once, so they are not repeated there."""
        j, p = self.joins, self.p
        if j.fanout or len(j.tables()) != 3 or not all(c.is_key for c in self.lex.columns.get(j.root, [])):
            return set()  # only a pure pair table (its columns all keys), or an order could have two lines
        direct = [e.other(j.root) for e, _ in j.edges if j.root in (e.left, e.right) and not e.fans_out(j.root)]
        grouped = {d.entry.table for d in [*p.dims, *([p.entity] if p.entity else [])]
                   if d.kind == "entity" and d.entry is not None}  # each group one row of the grouped table
        if len(direct) != 2 or len(set(direct) & grouped) != 1:
            return set()
        return {t for t in direct if t not in grouped}

    def _count_rows_once(self, tree: exp.Expression, dup: set[str], m: Measure) -> exp.Expression | None:
        """COUNT_IF or COUNT(col) over rows a join repeats (return rate by category: each order once per line)
        counts each row once: COUNT(DISTINCT CASE WHEN cond THEN key END); with no key known: refused."""
        changed = False
        for node in list(tree.find_all(exp.CountIf, exp.Count)):
            if isinstance(node, exp.Count) and isinstance(node.this, (exp.Distinct, exp.Star)):
                continue
            tables = {self.lex.resolve_table(c.table) for c in node.find_all(exp.Column)}
            bad = sorted(t for t in tables & dup if t)
            if not bad:
                continue
            key = self.lex.key_column(bad[0])
            if key is None:
                raise Refusal(f"{m.label} counts {bad[0].split('.')[-1]} rows, which the joins this question needs "
                              f"would repeat", missing=[{"kind": "join", "why": "fan-out"}])
            cond = node.this.copy() if isinstance(node, exp.CountIf) else exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null()))
            case = exp.Case(ifs=[exp.If(this=cond, true=sqlglot.parse_one(self.col(key), read="databricks"))])
            new = exp.Count(this=exp.Distinct(expressions=[case]))
            if node is tree:
                tree = new
            else:
                node.replace(new)
            changed = True
        if not changed:
            return None
        self.trace["notes"].append(f"{m.label} counts each {sorted(dup)[0].split('.')[-1]} row once (the joins repeat them)")
        return tree

    # ------------------------------------------------------------------ shapes
    def _select(self, items: list[str], where: list[str], group: list[str], having: list[str] = (),
                order: list[str] = (), limit: int | None = None, frm: str | None = None) -> str:
        sql = "SELECT " + ", ".join(items) + "\nFROM " + (frm or self.from_clause())
        if where:
            sql += "\nWHERE " + " AND ".join(f"({w})" if " OR " in w.upper() and not w.startswith("(") else w
                                             for w in where)
        if group:
            sql += "\nGROUP BY " + ", ".join(dict.fromkeys(group))
        if having:
            sql += "\nHAVING " + " AND ".join(having)
        if order:
            sql += "\nORDER BY " + ", ".join(order)
        if limit is not None:
            sql += f"\nLIMIT {limit}" + (f" OFFSET {self.p.offset}" if self.p.offset and limit == self.p.limit else "")
        return sql

    def _limit_clause(self) -> str:
        if not self.p.limit:
            return ""
        return f"\nLIMIT {self.p.limit}" + (f" OFFSET {self.p.offset}" if self.p.offset else "")

    def _having(self) -> list[str]:
        out = []
        for c in self.p.compares:
            if isinstance(c.target, Measure) and not c.against_average and not c.against_total:
                out.append(f"{self.measure_sql(c.target)} {c.op} {_num(c.value)}")
        return out

    def _measure_items(self) -> list[tuple[str, str]]:
        return [(self.rounded(self.measure_sql(m), m), self.measure_name(m)) for m in self.p.measures]

    def _order(self, time_order: list[str], items: list[tuple[str, str]]) -> list[str]:
        p = self.p
        if p.order_by is not None and p.shape != "list":
            measured = next((n for m, (_, n) in zip(p.measures, items) if m.kind == "agg" and m.entry is p.order_by), None)
            if measured is not None:  # "ordered by the number of references": the aggregated column, by its name
                return [f"{measured} {p.order_by_dir or p.order or 'DESC'}"]
            return [f"{self._calendar_order(p.order_by)} {p.order_by_dir or 'ASC'}"]
        if p.order and items:
            return [f"{items[0][1]} {p.order}"]
        if time_order:
            return time_order
        if (p.dims or p.entity) and items and self.rules.order:
            return [f"{items[0][1]} {self.rules.order}"]
        return []

    def _render_plain(self) -> str:
        p = self.p
        sel, grp, torder = self._breakdown()
        items = self._measure_items()
        total_cmp = [c for c in p.compares if isinstance(c.target, Measure) and c.against_total]
        if total_cmp:
            if not grp:
                raise Refusal("comparing with the overall value needs rows to compare (a breakdown or the rows to list)",
                              missing=[{"kind": "dimension", "why": "rows compared with the overall value"}])
            inner = self._select(sel + [f"{e} AS {n}" for e, n in items], self.where(), grp, self._having())
            c = total_cmp[0]
            v = self.measure_name(c.target)
            whole = self._select([f"{self.measure_sql(c.target)} AS v"], self.where(), [])
            order = self._order([], items)
            return (f"WITH g AS (\n{inner}\n),\nt AS (\n{whole}\n)\nSELECT g.* FROM g, t WHERE g.{v} {c.op} t.v"
                    + (f"\nORDER BY {', '.join(order)}" if order else "") + self._limit_clause())
        avg_cmp = [c for c in p.compares if isinstance(c.target, Measure) and c.against_average]
        if avg_cmp:
            inner = self._select(sel + [f"{e} AS {n}" for e, n in items], self.where(), grp, self._having())
            c = avg_cmp[0]
            v = self.measure_name(c.target)
            if not any(n == v for _, n in items):
                raise Refusal("comparing with the average needs the compared measure in the answer")
            if not grp:  # one total is its own average: nothing is compared
                raise Refusal(f"'{c.target.label}' compared with its average needs rows to compare (a breakdown "
                              f"or the rows to list)", missing=[{"kind": "example", "why": "comparison with the average"}])
            order = self._order([], items)
            return (f"WITH g AS (\n{inner}\n)\nSELECT * FROM g WHERE {v} {c.op} (SELECT AVG({v}) FROM g)"
                    + (f"\nORDER BY {', '.join(order)}" if order else "") + self._limit_clause())
        if p.cumulative:  # a running total along the time grain, per other breakdown
            inner = self._select(sel + [f"{self.measure_sql(p.measures[0])} AS v"], self.where(), grp, self._having())
            names = [_alias_of(x) for x in sel]
            tname = next((n for x, n in zip(sel, names) if x.startswith(("DATE_TRUNC", "YEAR", "QUARTER", "MONTH"))), None)
            if tname is None:
                raise Refusal("a running total needs a time grain to run along", missing=[{"kind": "dimension", "why": "time"}])
            parts = [n for n in names if n != tname]
            over = f"OVER ({'PARTITION BY ' + ', '.join(parts) + ' ' if parts else ''}ORDER BY {tname})"
            name = _ident(f"cumulative {self.measure_name(p.measures[0])}")
            return (f"WITH t AS (\n{inner}\n)\nSELECT {', '.join(names)}, {self.rounded(f'SUM(v) {over}', p.measures[0])} AS {name}"
                    f"\nFROM t\nORDER BY {', '.join(parts + [tname])}")
        order = self._order(torder, items)
        having = self._having()
        if having and not (grp if sel else []):  # a threshold on one total row filters nothing it means
            raise Refusal("the question compares a measure with a number but names no rows to compare (which "
                          "rows must have more or less?)", missing=[{"kind": "dimension", "why": "rows compared"}])
        return self._select(sel + [f"{e} AS {n}" for e, n in items], self.where(), grp if sel else [],
                            having, order, p.limit)

    def _render_list(self) -> str:
        p = self.p
        ent = p.entity
        lost = [c for c in p.compares if c.against_average and isinstance(c.target, Measure)]
        if lost:  # a listing has no per-row total to hold against the average: never dropped silently
            raise Refusal(f"'{lost[0].target.label}' compared with its average has no reading over the listed rows",
                          missing=[{"kind": "example", "why": "comparison with the average"}])
        if ent.kind == "entity":
            s, g, _ = self.dim_select(ent)
            items = s
            # rows reached through a table with several rows per entity (a course's offerings): each once
            distinct = ent.entry.table != self.joins.root
            if distinct:
                items = list(dict.fromkeys([*s, *g]))
        else:
            items, distinct = [self.col(ent.entry)], True
        for c in p.list_columns:
            if self.col(c) not in items:
                items.append(self.col(c))
        shown = []  # "the capital of each state": the listing shows each state beside its capital
        for d in p.dims:
            if d.entry is None or d.kind not in ("column", "entity") or d.span is None or d.span.role != "dimension":
                raise Refusal(f"the question breaks the listed rows down by {d.entry.label if d.entry else 'a period'}, "
                              f"which a listing of {ent.entry.label if ent.entry is not None else 'rows'} does not show",
                              missing=[{"kind": "example", "why": "breakdown of a listing"}])
            shown += [x for x in self.dim_select(d)[0] if x not in items and x not in shown]
        items = shown + items
        if p.ratio_expr is not None:
            items.append(f"{self.rounded(p.ratio_expr.sql, always=True)} AS {_ident(p.ratio_expr.label)}")
        if p.order_by is not None and self.col(p.order_by) not in items:
            items.append(self.col(p.order_by))
        order = [f"{self._calendar_order(p.order_by)} {p.order_by_dir or p.order or 'DESC'}"
                 + (" NULLS LAST" if p.limit is not None and p.order_by.nullable else "")] if p.order_by is not None else []
        if not order and p.order == "ASC" and ent.kind in ("entity", "column"):
            order = [items[0] + " ASC"]
        having = self._having()
        if having:  # "which businesses have more than 2 reviews": rows grouped, kept by the threshold (shown)
            group = list(dict.fromkeys([*(self.dim_select(ent)[1] if ent.kind == "entity" else items[:1]),
                                        *[i for i in items if " AS " not in i]]))
            shown = [f"{self.rounded(self.measure_sql(c.target), c.target)} AS {self.measure_name(c.target)}"
                     for c in p.compares if isinstance(c.target, Measure) and not c.against_average and not c.against_total]
            return self._select(items + shown, self.where(), group, having, order, p.limit)
        sql = self._select(items, self.where(), [], [], order, p.limit)
        return sql.replace("SELECT ", "SELECT DISTINCT ", 1) if distinct else sql

    def _breakdown(self) -> tuple[list[str], list[str], list[str]]:
        """`groups()` with the ranked / listed entity first."""
        sel, grp, torder = self.groups()
        if self.p.entity is not None:
            s, g, _ = self.dim_select(self.p.entity)
            sel, grp = s + sel, g + grp
        return sel, grp, torder

    def _render_share(self) -> str:
        p = self.p
        sel, grp, torder = self._breakdown()
        m = p.measures[0]
        raw = self.measure_sql(m)
        scale = "100.0 * " if self.rules.percent_scale == 100 else ""
        if self._share_of_top(sel):  # "what share of revenue came from our top 10 customers": one number
            inner = self._select(sel + [f"{raw} AS v"], self.where(), grp, self._having())
            top = self.rounded(f"{scale}SUM(CASE WHEN rk <= {p.limit} THEN v ELSE 0 END) / SUM(v)", always=True)
            return (f"WITH e AS (\n{inner}\n),\nr AS (SELECT v, ROW_NUMBER() OVER (ORDER BY v {p.order or 'DESC'}) AS rk FROM e)"
                    f"\nSELECT {top} AS {_ident(f'top {p.limit} share' + ('_pct' if scale else ''))}\nFROM r")
        within = [g for d in p.share_within for g in self.dim_select(d)[1]]  # "within each region"
        over = f"PARTITION BY {', '.join(within)}" if within else ""
        share = self.rounded(f"{scale}{raw} / SUM({raw}) OVER ({over})", always=True)
        name = _ident(f"{self.measure_name(m)} share" + ("_pct" if scale else ""))
        items = [f"{share} AS {name}", f"{self.rounded(raw, m)} AS {self.measure_name(m)}"]
        order = [f"{name} {p.order}"] if p.order else torder or [f"{name} DESC"]
        kept = [f"{name} {op} {_num(v / 100 if not scale else v)}" for k, op, v in p.derived_cmp if k == "share"]
        if not kept:
            return self._select(sel + items, self.where(), grp, self._having(), order, p.limit)
        # "categories that make up more than 20% of sales": the shares kept, after they are computed
        inner = self._select(sel + items, self.where(), grp, self._having())
        return (f"SELECT *\nFROM (\n{inner}\n) t\nWHERE {' AND '.join(kept)}\nORDER BY {order[0]}"
                + self._limit_clause())

    def _share_of_top(self, sel: list[str]) -> bool:
        """The share asked is the one the top N rows make together: "came from our top 10 customers"."""
        p = self.p
        return bool(p.share_of_top and p.limit and p.entity is not None and sel)

    def _render_ratio(self) -> str:
        """The measure over part A of the rows divided by the measure over part B (all rows if B names none)."""
        p = self.p
        sel, grp, torder = self._breakdown()
        raw = self.measure_sql(p.measures[0])
        a_conds, b_conds, a_times, b_times = p.ratio

        def part(conds, times) -> str:
            where = [c.sql for c in conds] + self.time_conditions(times)
            return filtered(raw, " AND ".join(f"({w})" for w in where)) if where else raw

        num, den = part(a_conds, a_times), part(b_conds, b_times)
        item = f"{self.rounded(f'CAST({num} AS DOUBLE) / NULLIF({den}, 0)', always=True)} AS ratio"
        return self._select(sel + [item], self.where(), grp, self._having(), torder, p.limit)

    def _render_difference(self) -> str:
        """The measure over part A minus the measure over part B ("how much more ... than ...")."""
        p = self.p
        sel, grp, torder = self._breakdown()
        raw = self.measure_sql(p.measures[0])
        (a,), (b,), _, _ = p.ratio
        item = f"{self.rounded(f'{filtered(raw, a.sql)} - {filtered(raw, b.sql)}', p.measures[0])} AS difference"
        return self._select(sel + [item], self.where(), grp, self._having(), torder, p.limit)

    def _render_ratio_of_tables(self) -> str:
        """Each table's rows counted on its own (no join between them), one over the other."""
        counts = []
        for m in self.p.measures:
            t = self.lex.tables[m.entry.tables[0] if m.kind == "snippet" else m.entry.table]
            alias = self.lex.aliases[t.table]
            sql = m.entry.sql if m.kind == "snippet" else "COUNT(*)"
            counts.append(f"(SELECT {sql} FROM {t.label} AS {alias})")
        return f"SELECT {self.rounded(f'CAST({counts[0]} AS DOUBLE) / NULLIF({counts[1]}, 0)', always=True)} AS ratio"

    def _render_share_of(self) -> str:
        p = self.p
        sel, grp, torder = self._breakdown()
        m = p.measures[0]
        raw = self.measure_sql(m)
        conds = []
        for c in p.share_part:
            if c.kind == "related":
                conds.append(self._has_related(m, c.tables[0]))
            elif c.kind == "weekday":
                days = ", ".join(f"'{d}'" for d in sorted(set(p.share_weekdays)))
                conds.append(f"DATE_FORMAT({self.col(p.date)}, 'EEEE') IN ({days})")
            else:
                conds.append(c.sql)
        part = filtered(raw, " AND ".join(conds))
        scale = "100.0 * " if self.rules.percent_scale == 100 else ""
        name = _ident(f"{' '.join(c.label for c in p.share_part)} share" + (" pct" if scale else ""))
        item = f"{self.rounded(f'{scale}{part} / ({raw})', always=True)} AS {name}"
        order = [f"{name} {p.order}"] if p.order else torder
        return self._select(sel + [item], self.where(), grp, self._having(), order, p.limit)

    def _count_rules(self, table: str) -> list[tuple[Entry, Rule]]:
        """(entry, rule) of the rules for counting `table`'s rows: the table's own, and those of the space's
        count measures over it (order counts mean completed orders)."""
        counts = [x for x in self.lex.entries if x.kind == "measure" and x.is_count and x.tables == (table,)]
        return [(entry, r) for entry in [self.lex.tables[table], *counts] for r in self.rules.for_entry(entry)]

    def _rules_of(self, table: str) -> list[str]:
        """The conditions of the rules for counting `table`'s rows."""
        return list(dict.fromkeys(r.condition for _, r in self._count_rules(table)))

    def _has_related(self, m: Measure | None, table: str, wide: bool = False, inner: list[str] = ()) -> str:
        """The condition that a row of the measured table has a `table` row; `wide`: of any joined table.
        Where no join spec relates them directly, the rows are reached through the tables between
        ("products never ordered": products -> order_items -> orders)."""
        base = (set(_tables(m)) if m is not None else set()) or {self.joins.root}
        if wide:
            base |= set(self.joins.tables())
        for e in self.lex.edges:
            if table in (e.left, e.right) and e.other(table) in base:
                t = self.lex.tables[table]
                where = " AND ".join([e.on, *inner])
                if e.fans_out(e.other(table)) or inner:  # returns -> orders: "orders with a return" is an EXISTS
                    return f"EXISTS (SELECT 1 FROM {t.label} AS {self.lex.aliases[table]} WHERE {where})"
                tree = sqlglot.parse_one(e.on, read="databricks")
                own = [c for c in tree.find_all(exp.Column) if self.lex.resolve_table(c.table) != table]
                key = self.lex.key_column(e.other(table))
                if len(own) == 1 and not (key is not None and own[0].name.lower() == key.column.lower()):
                    return f"{own[0].sql('databricks')} IS NOT NULL"  # orders.promo_id: a promotion applied
                return f"EXISTS (SELECT 1 FROM {t.label} AS {self.lex.aliases[table]} WHERE {where})"
        path = self._path_to(base, table)
        if path:
            first, *rest = path  # first touches the outer rows; the others join inward to `table`
            near = first.other(next(iter({first.left, first.right} & base)))
            frm = f"{self.lex.tables[near].label} AS {self.lex.aliases[near]}"
            seen = {near}
            for e in rest:
                t = e.other(next(x for x in (e.left, e.right) if x in seen))
                frm += f" JOIN {self.lex.tables[t].label} AS {self.lex.aliases[t]} ON {e.on}"
                seen.add(t)
            return f"EXISTS (SELECT 1 FROM {frm} WHERE {' AND '.join([first.on, *inner])})"
        raise Refusal(f"no join spec relates {table.split('.')[-1]} to the rows counted",
                      missing=[{"kind": "join", "tables": [table]}])

    def _path_to(self, base: set[str], table: str) -> list:
        """The shortest chain of join edges from a table of `base` to `table` (first edge touches base)."""
        frontier, prev = [table], {table: None}
        while frontier:
            nxt = []
            for t in frontier:
                for e in self.lex.edges:
                    if t in (e.left, e.right) and e.other(t) not in prev:
                        prev[e.other(t)] = (e, t)
                        if e.other(t) in base:
                            out, x = [], e.other(t)
                            while prev[x] is not None:
                                edge, x = prev[x]
                                out.append(edge)
                            return out
                        nxt.append(e.other(t))
            frontier = nxt
        return []

    def _render_growth(self) -> str:
        p = self.p
        sel, grp, _ = self._breakdown()
        m = p.measures[0]
        raw = self.measure_sql(m)
        anchor = self._anchor()
        periods = [resolve(t, anchor, self.cal) for t in p.growth]
        if any(r is None for r in periods):
            raise Refusal("a period of the comparison cannot be resolved", missing=[{"kind": "instruction"}])
        if len(periods) == 1:
            a, b = periods[0]
            grain = p.growth_grain or p.growth[0].grain or "year"
            periods = [(period_next(a, grain, -1), period_next(b, grain, -1) if grain != "half" else a), (a, b)]
        (a0, b0), (a1, b1) = sorted(periods)
        col = self.col(p.date)
        base = filtered(raw, f"{col} >= {self.date_lit(a0)} AND {col} < {self.date_lit(b0)}")
        cur = filtered(raw, f"{col} >= {self.date_lit(a1)} AND {col} < {self.date_lit(b1)}")
        scale = "100.0 * " if self.rules.percent_scale == 100 else ""
        name = self.measure_name(m)
        la, lb = _period_label(a0, b0), _period_label(a1, b1)
        items = [f"{self.rounded(base, m)} AS {name}_{la}", f"{self.rounded(cur, m)} AS {name}_{lb}",
                 f"{self.rounded(f'{scale}({cur} - {base}) / ({base})', always=True)} AS growth_pct"]
        where = self.where([f"{col} >= {self.date_lit(min(a0, a1))} AND {col} < {self.date_lit(max(b0, b1))}"])
        self.trace["time"].append({"compare": [str(a0), str(b0), str(a1), str(b1)], "column": p.date.path})
        order = [f"growth_pct {p.order}"] if p.order else []
        growth = f"{scale}({cur} - {base}) / ({base})"
        kept = [f"{growth} {op} {_num(v / 100 if not scale else v)}" for k, op, v in p.derived_cmp if k == "growth"]
        return self._select(sel + items, where, grp, self._having() + kept, order, p.limit)

    def _render_lag_growth(self) -> str:
        p = self.p
        if p.entity is not None and not any(d.entry is p.entity.entry for d in p.dims):
            raise Refusal(f"growth period over period ranked by {p.entity.entry.label if p.entity.entry else 'rows'} "
                          "is not composed here", missing=[{"kind": "example", "why": "ranked period-over-period growth"}])
        grain = p.growth_grain
        if not any(g.grain == grain for g in p.grains):
            p.grains.append(Dim("time", None, None, grain=grain))
        sel, grp, torder = self.groups()
        m = p.measures[0]
        names = [_alias_of(s) for s in sel]
        tname = next(n for s, n in zip(sel, names) if any(s.startswith(x) for x in ("DATE_TRUNC", "YEAR", "QUARTER")))
        parts = [n for n in names if n != tname]
        fine = next((g.grain for g in p.grains if g.grain != grain), None)
        within = None
        if grain == "year" and fine in ("quarter", "month", "week"):
            # "year-over-year growth by quarter": each quarter against the same quarter a year before
            if p.times:
                raise Refusal(f"year-over-year growth by {fine} within the period named needs the year before it too; "
                              f"ask without the period, or for both years",
                              missing=[{"kind": "example", "why": f"year-over-year growth by {fine} in one period"}])
            year = next(n for s_, n in zip(sel, names) if s_.startswith("YEAR"))
            parts = [n for n in parts if n != year]
            within = f"{ {'quarter': 'QUARTER', 'month': 'MONTH', 'week': 'WEEKOFYEAR'}[fine]}({tname})"
        inner = self._select(sel + [f"{self.measure_sql(m)} AS v"], self.where(), grp)
        keys = parts + ([within] if within else [])
        over = f"OVER ({'PARTITION BY ' + ', '.join(keys) + ' ' if keys else ''}ORDER BY {tname})"
        scale = "100.0 * " if self.rules.percent_scale == 100 else ""
        growth = self.rounded(f"{scale}(v - LAG(v) {over}) / LAG(v) {over}", always=True)
        return (f"WITH t AS (\n{inner}\n)\nSELECT {', '.join(names)}, {self.rounded('v', m)} AS {self.measure_name(m)}, "
                f"{growth} AS growth_pct\nFROM t\nORDER BY {', '.join(parts + [tname])}")

    def _render_avg_of_periods(self) -> str:
        p = self.p
        m = p.measures[0]
        sel, grp, _ = self.groups()  # "average monthly revenue by region": the mean of each region's months
        expr, _ = self.grain_expr(p.avg_grain)
        inner = self._select(sel + [f"{expr} AS period", f"{self.measure_sql(m)} AS v"], self.where(), grp + [expr],
                             self._having())
        name = _ident(f"avg {self.measure_name(m)} per {p.avg_grain.grain}")
        self.trace["time"].append({"averaged_over": p.avg_grain.grain})
        names = [_alias_of(x) for x in sel]
        avg = self.rounded("AVG(v)", m, always=True)
        outer = f"SELECT {', '.join(names + [f'{avg} AS {name}'])}\nFROM (\n{inner}\n) t"
        return outer + (f"\nGROUP BY {', '.join(names)}\nORDER BY {', '.join(names)}" if names else "")

    def _render_avg_of_groups(self) -> str:
        p = self.p
        sel, grp, torder = self.groups()
        ent = p.entity
        if ent.kind == "entity":
            key = self.lex.key_column(ent.entry.table) or self.lex.label_column(ent.entry.table)
            if key is None:
                raise Refusal(f"{ent.entry.label} has no key to average over")
            keys, per = [self.col(key)], ent.entry.table.split(".")[-1]
        else:  # "across regions": the groups of a column or expression
            _, keys, _ = self.dim_select(ent)
            per = ent.entry.column if ent.kind == "column" else ent.entry.label
        m = p.measures[0]
        raw = self.measure_sql(m)
        tree = sqlglot.parse_one(raw, read="databricks")
        if isinstance(tree, exp.Round):  # "average return rate across stores": each store's rate unrounded, then averaged
            raw = tree.this.sql("databricks")
        inner = self._select(sel + [f"{keys[0]} AS entity_key", f"{raw} AS v"], self.where(), grp + keys, self._having())
        names = [_alias_of(s) for s in sel]
        name = _ident(f"avg {self.measure_name(m)} per {per}")
        avg = self.rounded("AVG(v)", always=True)
        outer = f"SELECT {', '.join(names + [f'{avg} AS {name}'])}\nFROM (\n{inner}\n) t"
        if names:
            outer += f"\nGROUP BY {', '.join(names)}"
        if p.order:
            outer += f"\nORDER BY {name} {p.order}"
        elif torder:
            outer += f"\nORDER BY {', '.join(names)}"
        return outer

    def _render_top_per_group(self) -> str:
        p = self.p
        sel, grp, _ = self.groups()
        s, g, _ = self.dim_select(p.entity)
        m = p.measures[0]
        raw = self.measure_sql(m)
        parts = ", ".join(grp)
        inner = self._select(sel + s + [f"{raw} AS v", f"ROW_NUMBER() OVER (PARTITION BY {parts} ORDER BY {raw} "
                                                        f"{p.order or 'DESC'}) AS rn"],
                             self.where(), grp + g, self._having())
        names = [_alias_of(x) for x in sel + s]
        if p.rank_all and p.limit is None:  # "rank stores by revenue within each region": all of them, ranked
            return (f"WITH ranked AS (\n{inner}\n)\nSELECT {', '.join(names)}, {self.rounded('v', m)} AS "
                    f"{self.measure_name(m)}, rn AS rank\nFROM ranked\nORDER BY {', '.join(names[:len(sel)])}, rn")
        kept = f"rn = {p.offset + 1}" if p.offset else f"rn <= {p.limit or 1}"  # "the second largest city in each ..."
        return (f"WITH ranked AS (\n{inner}\n)\nSELECT {', '.join(names)}, {self.rounded('v', m)} AS "
                f"{self.measure_name(m)}\nFROM ranked\nWHERE {kept}\nORDER BY {', '.join(names[:len(sel)])}, "
                f"v {p.order or 'DESC'}")

    def _render_count_having(self) -> str:
        p = self.p
        sel, grp, _ = self.groups()
        key = self.lex.key_column(p.entity.entry.table)
        if key is None:
            raise Refusal(f"{p.entity.entry.label} has no unique key to count")
        avg = [c for c in p.compares if isinstance(c.target, Measure) and c.against_average]
        extra = [f"{self.measure_sql(avg[0].target)} AS v"] if avg else []
        inner = self._select(sel + [f"{self.col(key)} AS entity_key", *extra], self.where(), grp + [self.col(key)],
                             self._having())
        names = [_alias_of(s) for s in sel]
        name = _ident(f"{p.entity.entry.table.split('.')[-1]} count")
        if avg:  # "how many customers spent more than the average customer": against the mean of their values
            if names:
                raise Refusal("comparing with the average within a breakdown is not composed here",
                              missing=[{"kind": "example", "why": "average per group"}])
            return (f"WITH t AS (\n{inner}\n)\nSELECT COUNT(*) AS {name}\nFROM t\n"
                    f"WHERE v {avg[0].op} (SELECT AVG(v) FROM t)")
        out = f"SELECT {', '.join(names + [f'COUNT(*) AS {name}'])}\nFROM (\n{inner}\n) t"
        if names:
            out += f"\nGROUP BY {', '.join(names)}"
        return out


# ---------------------------------------------------------------------- helpers
_AGG_WORDS = {"SUM": "total", "AVG": "avg", "MAX": "max", "MIN": "min", "MEDIAN": "median", "RANGE": "range of"}


def filtered(measure_sql: str, condition: str) -> str:
    """The measure over the rows where `condition` holds: each aggregate's input is masked.

    >>> filtered("SUM(t.x) / COUNT(DISTINCT t.id)", "t.y = 1")
    'SUM(CASE WHEN t.y = 1 THEN t.x END) / COUNT(DISTINCT CASE WHEN t.y = 1 THEN t.id END)'
    """
    if not condition:
        return measure_sql
    tree = sqlglot.parse_one(measure_sql, read="databricks")
    cond = sqlglot.parse_one(condition, read="databricks")
    for agg in list(tree.find_all(exp.AggFunc)):
        if isinstance(agg, exp.CountIf):
            agg.set("this", exp.and_(agg.this.copy(), cond.copy()))
            continue
        arg = agg.this
        if isinstance(arg, exp.Distinct):
            inner = arg.expressions[0]
            inner.replace(exp.Case(ifs=[exp.If(this=cond.copy(), true=inner.copy())]))
        elif isinstance(arg, exp.Star) or arg is None:
            agg.set("this", exp.Case(ifs=[exp.If(this=cond.copy(), true=exp.Literal.number(1))]))
        else:
            arg.replace(exp.Case(ifs=[exp.If(this=cond.copy(), true=arg.copy())]))
    return tree.sql("databricks")


def _tables(m: Measure) -> tuple[str, ...]:
    if m.entry is None:
        return ()
    return m.entry.tables if m.kind == "snippet" else (m.entry.table,)


def _is_count(sql: str) -> bool:
    return bool(re.fullmatch(r"(?is)\s*count\s*\((?:[^()]|\([^()]*\))*\)\s*", sql))


def _date(d: dt.date) -> str:
    return f"DATE'{d.isoformat()}'"


def _num(v: float) -> str:
    return str(int(v)) if v == int(v) else repr(v)


def _ident(text: str) -> str:
    s = re.sub(r"\W+", "_", text.lower()).strip("_")[:60] or "value"
    return s if not s[0].isdigit() else f"v_{s}"


def _alias_of(item: str) -> str:
    m = re.search(r"\s+AS\s+(\w+)\s*$", item, re.I)
    if m:
        return m.group(1)
    return item.split(".")[-1].strip("`")
