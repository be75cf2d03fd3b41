"""From grounded spans to a query plan: measures x dimensions x filters, plus the shape that
composes them (breakdown, top-N overall or per group, share of total, growth, average of per-group
values, count of entities over a threshold, a list of rows).

Each entity span gets one role (measure, counted, dimension, ranked entity, filter, date, context)
from the operator words around it. A span that gets no role, a number that is not used, or a word
nothing grounds makes the plan a `Refusal` naming them: nothing the question says is dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from .dates import UNITS, TimeSpec, add_months
from .ground import FILLER, ORDINALS, SALES_VERBS, SALES_WORDS, Grounding, Span, sales_measure
from .lexicon import Edge, Entry, Lexicon, Phrase, norm, norms, quote
from .rules import Rules

# units written between a number and what it measures ("more than 10000 square kilometers of area")
_UNIT_WORDS = frozenset("square sq km kilometer kilometers kilometre kilometres meter meters metre metres mile miles "
                        "feet foot ft dollars dollar usd eur euro euros".split())
_PERIOD_NOUNS = frozenset({"month", "months", "season", "seasons", "quarter", "quarters", "week", "weeks", "period",
                           "periods", "day", "days"})
_RELATIVE = frozenset({"with", "that", "which", "who", "having", "where", "used", "using", "use", "had", "have",
                       "has", "got", "get", "were", "was", "are", "is", "did", "placed", "applied", "made", "in", "on",
                       "from", "for", "of", "at", "through", "via", "contain", "contains", "containing"})


_PASSIVE = frozenset({"were", "was", "got", "get", "gets", "been", "be", "are", "is"})
# irregular past participles ("reviews written", "courses taught"); regular ones end in -ed
_PARTICIPLES = frozenset("""written taught held given taken bought paid sent spent built won seen known shown grown
drawn worn chosen driven flown begun run sung kept left lost met sold told thought brought caught found""".split())
_PAST = frozenset("wrote took gave made held ran saw chose drove flew began".split())


_SELL_VERBS = frozenset({"sell", "sells", "sold", "selling"})
_UNIT_NOUNS = frozenset({"items", "pieces"})  # "how many items did we sell": units, never distinct products
_PRICE_RANKS = frozenset({"cheapest", "least expensive", "most expensive", "priciest"})
# rank words that name what rows are ranked by, where the ranked rows have a column called so
_RANKED_BY = {"largest": ("size", "area", "population"), "biggest": ("size", "area", "population"),
              "smallest": ("size", "area", "population"),
              "longest": ("length",), "shortest": ("length",), "tallest": ("height", "altitude", "elevation"),
              "highest": ("height", "altitude", "elevation"), "lowest": ("height", "altitude", "elevation"),
              **{f"{w} rated": ("rating", "stars", "score") for w in ("highest", "top", "best", "lowest", "worst")}}
# comparatives that name what rows are compared by, like _RANKED_BY
_COMPARED_BY = {"longer than": ("length",), "shorter than": ("length",), "taller than": ("height", "altitude", "elevation"),
                "higher than": ("height", "altitude", "elevation"), "lower than": ("height", "altitude", "elevation"),
                "larger than": ("size", "area", "population"), "bigger than": ("size", "area", "population"),
                "smaller than": ("size", "area", "population")}
_NOT_SALES_RANKS = frozenset({"longest", "shortest", "tallest", "oldest", "latest", "busiest", "quietest", "newest",
                              "earliest", "most recently", "least recently", "most recent", "highest rated", "top rated", "best rated",
                              "lowest rated", "worst rated"})
_DATE_RANKS = frozenset({"oldest", "latest", "newest", "earliest", "most recently", "least recently", "most recent"})
_PATTERN_QUOTED = re.compile(r'"([^"]{1,80})"|“([^”]{1,80})”|\'([^\']{1,80})\'')  # the letters of a text pattern
_IN_ITS_NAME = re.compile(r'\b(?:with|having)\s+["“\']([^"”\']{1,80})["”\']\s+in\s+(?:its|their|the)\s+(\w+)', re.I)
_OVERALL_WORDS = frozenset({"company", "companywide", "overall", "global", "business", "total", "the", "our"})
_BUSY_RANKS = frozenset({"busiest", "quietest"})  # by the number of events, never by sales
_SOLD_STEMS = frozenset(norm(w) for w in ("sold",))


def _parts_named_before(p: Plan, r: Span, to: int) -> bool:
    """Whether a value or filter of the question sits between "ratio of" and "to" (the ratio's first part)."""
    return any(c.span is not None and r.end <= c.span.start < to for c in p.conds if c.kind in ("value", "filter"))


def _participle(word: str) -> bool:
    """"published", "written": a verb form a description or a relationship may name."""
    return word.endswith("ed") or word in _PARTICIPLES
_MUST_USE = frozenset({"ratio", "share", "growth", "distinct", "rank", "cmp", "count", "frequent", "order", "versus",
                       "amount", "cumulative"})
_RATE_WORDS = frozenset(norm(w) for w in ("rate", "share", "percentage", "ratio"))


class Refusal(Exception):
    """The question cannot be answered honestly; `missing` says what a proposer could add."""

    def __init__(self, reason: str, *, words: list[str] | None = None, missing: list[dict] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.words = words or []
        self.missing = missing or []


@dataclass
class Measure:
    kind: str  # snippet | agg | count | count_distinct
    entry: Entry | None  # measure snippet, aggregated column, counted table, or counted column
    agg: str | None = None  # SUM | AVG | MIN | MAX (agg)
    span: Span | None = None
    assumed: str | None = None  # why an aggregation was assumed
    name: str | None = None  # output column name, when not the entry's
    per: Entry | None = None  # "revenue per square foot by store": divided by this column of the grouped rows

    @property
    def table(self) -> str | None:
        return self.entry.table if self.entry else None

    @property
    def label(self) -> str:
        e = self.entry
        if self.kind == "snippet":
            return e.label
        if self.kind == "count":
            return f"count of {e.table.split('.')[-1]}"
        if self.kind == "count_distinct":
            return f"distinct {e.label}"
        return f"{self.agg.lower()} of {e.label}"


@dataclass
class Cond:
    sql: str
    tables: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (table, lower-case column) it constrains
    label: str
    path: str | None = None
    span: Span | None = None
    kind: str = "filter"  # filter | value | time | compare | rule | related | not_related


@dataclass
class Dim:
    kind: str  # column | expression | entity | time
    entry: Entry | None
    span: Span | None = None
    grain: str | None = None  # time dims
    fiscal: bool = False
    values: list[str] = field(default_factory=list)  # vs-lists


@dataclass
class Compare:
    op: str
    value: float
    target: Measure | Entry  # a measure (HAVING) or a numeric column (WHERE)
    span: Span | None = None
    against_average: bool = False
    against_total: bool = False  # "regions with an AOV above the overall AOV": the measure over all rows
    against_row: Entry | None = None  # "lakes larger than Lake Erie": the value of the row this value names


@dataclass
class Plan:
    measures: list[Measure] = field(default_factory=list)
    dims: list[Dim] = field(default_factory=list)
    conds: list[Cond] = field(default_factory=list)
    compares: list[Compare] = field(default_factory=list)
    times: list[TimeSpec] = field(default_factory=list)  # period filters
    grains: list[Dim] = field(default_factory=list)
    months_of_year: list[int] = field(default_factory=list)
    weekdays: list[str] = field(default_factory=list)  # "on Mondays"
    share_weekdays: list[str] = field(default_factory=list)  # "share of orders placed on weekends": the part
    share_within: list[Dim] = field(default_factory=list)  # "share of revenue within each region": of the group's total
    date: Entry | None = None  # the date column periods and grains apply to (None: decided by the composer)
    # "2024 revenue from customers who signed up in 2023": a period that dates the rows of another table, on the
    # date column its words name
    dated_times: list[tuple[Entry, TimeSpec]] = field(default_factory=list)
    entity: Dim | None = None  # ranked / listed / averaged-over / counted-with-threshold entity
    order: str | None = None  # DESC | ASC (by the first measure)
    order_by: Entry | None = None  # a column to order rows by ("order the results by the region name")
    order_by_dir: str | None = None
    limit: int | None = None
    # plain | list | share | share_of | ratio | ratio_of_tables | growth | avg_of_groups | top_per_group | count_having
    shape: str = "plain"
    share_part: list[Cond] = field(default_factory=list)
    ratio: tuple[list[Cond], list[Cond], list[TimeSpec], list[TimeSpec]] | None = None  # (A, B conds; A, B periods)
    ratio_expr: Entry | None = None  # a per-row ratio of two columns, listed with the rows
    growth: list[TimeSpec] = field(default_factory=list)  # [base, current] periods
    growth_grain: str | None = None  # LAG over a time grain
    avg_grain: Dim | None = None  # "average monthly revenue": the periods an average is taken over
    cumulative: bool = False  # "cumulative revenue by month": a running total over the time grain
    rank_all: bool = False  # "rank stores by revenue within each region": every row, with its rank
    offset: int = 0  # "the second longest river": the rows ranked before it are skipped
    share_of_top: bool = False  # "share of revenue from our top 10 customers": the top rows' share together
    list_columns: list[Entry] = field(default_factory=list)
    related: list[str] = field(default_factory=list)  # tables the rows must have a match in
    notes: list[str] = field(default_factory=list)
    null_group: bool = False
    # "grew by more than 10%", "make up more than 20% of sales": (growth | share, op, percent) on the computed value
    derived_cmp: list[tuple[str, str, float]] = field(default_factory=list)

    def ratio_periods(self) -> list[TimeSpec]:
        """The periods of a ratio's two parts ("papers in 2020 to all papers")."""
        return self.ratio[2] + self.ratio[3] if self.ratio else []

    def tables(self) -> set[str]:
        out: set[str] = set()
        for m in self.measures:
            if m.entry is not None:
                out.update(m.entry.tables if m.kind == "snippet" else (m.entry.table,))
        for d in [*self.dims, *self.grains, *([self.entity] if self.entity else [])]:
            if d.entry is not None:
                out.update(d.entry.tables if d.kind == "expression" else (d.entry.table,))
        for c in [*self.conds, *self.share_part, *(self.ratio[0] + self.ratio[1] if self.ratio else [])]:
            out.update(c.tables)
        out.update(d.table for d, _ in self.dated_times)
        for c in self.compares:
            if isinstance(c.target, Entry):
                out.add(c.target.table)
            elif c.target.entry is not None:
                out.update(_measure_tables(c.target))
        for e in self.list_columns:
            out.add(e.table)
        if self.order_by is not None:
            out.add(self.order_by.table)
        out.update(self.related)
        if self.date is not None:
            out.add(self.date.table)
        return {t for t in out if t}


class Planner:
    """Interpret one grounded question against one space (see the module docstring)."""

    def __init__(self, lex: Lexicon, rules: Rules, g: Grounding):
        self.lex, self.rules, self.g = lex, rules, g
        self.p = Plan()
        self.used_numbers: set[int] = set()
        self.rules_of: list[Entry] = []  # measures whose rules apply though they are not measured (rows sold)
        self._both: tuple[Entry, list[str]] | None = None  # "in both ML and DS": the column and its values
        self.sold_at: set[int] = set()  # token positions of sales verbs already read as the sales measure
        self._avg_count: Span | None = None  # "average number of ...": what the average is of
        self._pattern_spans: list[tuple[Span, Entry]] = []  # the columns text patterns filter
        self._avg_intent = False  # an average is asked without the word ("revenue per order by region")
        self._avg_of_measure: tuple[Span, Span] | None = None  # "average net revenue": the word and the measure
        self._count_by_frequency = False  # "most common reasons": ranked by how often rows occur
        self._bare_list = False  # a catalog's rows named alone are listed ("products launched after June")
        self._compared_than = False  # "more orders than the average store" was read as a comparison

    # ------------------------------------------------------------------ helpers
    def cues(self, kind: str) -> list[Span]:
        return [s for s in self.g.spans if s.kind == "cue" and s.cue == kind]

    def has(self, kind: str) -> bool:
        return bool(self.cues(kind))

    def entities(self) -> list[Span]:
        return [s for s in self.g.spans if s.kind == "entity"]

    def unassigned(self) -> list[Span]:
        return [s for s in self.entities() if s.role is None]

    def assign(self, s: Span, role: str, entry: Entry | None) -> None:
        s.role, s.chosen = role, entry
        if entry is not None:
            s.rejected = [(e, f"'{s.text}' read as {role} {entry.label}") for e in s.entries if e is not entry][:4]

    def prev(self, s: Span, skip: frozenset[str] = frozenset()) -> Span | None:
        return self.g.before(s, skip)

    def next(self, s: Span, skip: frozenset[str] = frozenset()) -> Span | None:
        return self.g.after(s, skip)

    def plural(self, s: Span) -> bool:
        return self._plural_word(s.end - 1)

    def _plural_word(self, k: int) -> bool:
        return self.g.tokens[k].plural

    # ------------------------------------------------------------------ the plan
    def plan(self) -> Plan:
        self._named_with_text()
        for c in self.cues("verb"):  # "what % of revenue does each region account for": the share says it all
            if self.has("share"):
                c.role = "verb"
        for c in self.cues("pattern"):
            if c.text in ("contains", "containing", "contain") and self._contains_rows(c):
                c.role = "verb"  # "which states contain the most lakes": they have them
                continue
            if not self._pattern(c):
                raise Refusal(f"the question asks for a text pattern ('{c.text}') but does not say which text column "
                              f"and which letters; add an example SQL that does", words=[c.text],
                              missing=[{"kind": "example", "words": c.text, "why": "text pattern"}])
        self._null_group_clause()
        try:
            self._time()
            self._values_and_filters()
            self._filter_versus_rest()
            self._measures()
            self._named_aggregates()
            self._dimensions()
            self._comparisons()
            self._ordering()
            self._shape()
            self._new_rows()
            self._context()
            self._bought()
            self._which_dated_rows()
            self._period_of_counted()
            self._rules()
            self._counted_limit()
            self._ranked_values_known()
            for s, e in self._pattern_spans:
                if not s.role:
                    self.assign(s, "filter", e)
        except Refusal:
            self._check_grounded()  # words nothing grounds are the first thing to say
            raise
        self._check()
        return self.p

    def _contains_rows(self, c: Span) -> bool:
        """"contain the most lakes", "containing lakes": a table's rows follow, not a quoted text or letters."""
        if all(t.kind == "punct" for t in self.g.tokens[c.end:]):
            return True  # "how many lakes does each state contain"
        x = self.next(c, frozenset({"the", "a", "an", "any", "some"}))
        if x is not None and x.kind == "cue" and x.cue in ("rank", "count"):
            x = self.next(x, frozenset({"the"}))
        return x is not None and x.kind == "entity" and bool(x.of("table")) and self.plural(x) \
            and not _PATTERN_QUOTED.search(self.g.question[self.g.tokens[c.start].start:])

    # ---- 0. text patterns: "journals whose names start with the letter "J"", "products containing 'pro'"
    def _pattern(self, c: Span) -> bool:
        """A LIKE condition on the text column named just before the cue, with the literal just after it (quoted,
        or one word after "the letter" / "the word"); False where either is missing."""
        toks, q = self.g.tokens, self.g.question
        k = c.end
        while k < len(toks) and toks[k].raw in ("the", "a", "letter", "letters", "word", "string", "text", "prefix", "suffix") \
                and not any(m.start() < toks[k].start < m.end() for m in _PATTERN_QUOTED.finditer(q)):  # "A" quoted
            k += 1
        if k >= len(toks) or toks[k].kind == "punct":
            return False
        quoted = next((m for m in _PATTERN_QUOTED.finditer(q) if m.start() <= toks[k].start < m.end()), None)
        if quoted is not None:
            literal = next(x for x in quoted.groups() if x is not None)
            used = [t for t in toks if quoted.start() <= t.start < quoted.end()]
        else:
            literal, used = q[toks[k].start:toks[k].end], [toks[k]]
        if not literal.strip() or "%" in literal or any(self.g.span_at(t.i) is not None for t in used):
            return False
        col = self._pattern_column(c)
        if col is None:
            return False
        col_span, entry = col
        b = c.start - 1
        negated = b >= 0 and toks[b].raw in ("not", "don't", "dont", "doesn't", "doesnt", "never")
        fill = toks[c.end:k]  # "the letter"
        text = c.text
        pat = f"%{literal}" if text.startswith("end") else f"{literal}%" if text.startswith(("start", "begin")) \
            else f"%{literal}%"
        sql = _ilike(self.lex.sql_of(entry), pat, negated)
        c.role = "pattern"
        self._pattern_spans.append((col_span, entry))  # "restaurant names start with": still what is listed
        self.p.conds.append(Cond(sql, (entry.table,), ((entry.table, entry.column.lower()),),
                                 f"{entry.label} {'not ' if negated else ''}{text} {literal}", entry.path, col_span))
        self.g.ungrounded = [t for t in self.g.ungrounded if t not in used and t not in fill and not (negated and t.i == b)]
        if negated:  # "do not start with": no sales verb
            self.g.soft = [t for t in self.g.soft if t.i != b - 1]
        return True

    def _named_with_text(self) -> None:
        """"the journal with "IEEE Transactions" in its name": the name column of the rows named before "with"
        contains the quoted text."""
        toks, q = self.g.tokens, self.g.question
        for m in _IN_ITS_NAME.finditer(q):
            inside = [t for t in toks if m.start(1) <= t.start < m.end(1)]
            word = [t for t in toks if m.start(2) <= t.start < m.end(2)]
            k = next((t.i for t in toks if t.start >= m.start()), None)
            if not inside or not word or k is None or "%" in m.group(1) or any(
                    (v := self.g.span_at(t.i)) is not None and v.kind != "entity" for t in inside):
                continue
            rows = self.g.before_token(k, frozenset({"the", "a", "an"}))
            if rows is None or rows.kind != "entity" or not rows.of("table"):
                continue
            t = rows.of("table")[0].table
            said = self.g.span_at(word[0].i)
            cols = [c for c in (said.of("column") if said is not None else []) if c.table == t and c.ctype == "text"]
            col = cols[0] if len(cols) == 1 else self.lex.label_column(t) if word[0].raw in ("name", "names", "title", "titles") \
                else None
            if col is None:
                continue
            self.p.conds.append(Cond(_ilike(self.lex.sql_of(col), f"%{m.group(1)}%"), (t,), ((t, col.column.lower()),),
                                     f"{col.label} contains {m.group(1)}", col.path, said))
            if said is not None:
                self._pattern_spans.append((said, col))
            for x in inside:  # "with "Nature" in its name": contains, not equals
                if (v := self.g.span_at(x.i)) is not None:
                    v.role = "pattern"
            said_here = {x.i for x in toks if m.start() <= x.start < m.end()}  # the quote and "with ... in its"
            self.g.ungrounded = [x for x in self.g.ungrounded if x.i not in said_here or x in word]

    def _pattern_column(self, c: Span) -> tuple[Span, Entry] | None:
        """The text column a pattern applies to: the column named before the cue ("names start with"), of the
        table named before it ("journals whose names"), or the label column of a table named right before it."""
        s = self.prev(c, frozenset({"with", "that", "is", "are", "s", "the", "its", "their", "do", "does", "dont", "doesnt"}))
        if s is not None and s.kind == "cue" and s.cue == "not":  # "names do not start with"
            s.role = "not"
            s = self.prev(s, frozenset({"do", "does", "did"}))
        if s is not None and s.kind == "cue" and s.cue == "which":  # "whose", "which"
            s = self.prev(s)
        if s is None or s.kind != "entity":
            return None
        texts = [e for e in s.of("column") if e.ctype == "text"]
        before = self.prev(s, frozenset({"with", "that", "the", "of"}))
        if before is not None and before.kind == "cue" and before.cue == "which":
            before = self.prev(before)
        if len(texts) > 1 and before is not None and before.kind == "entity" and before.of("table"):
            texts = [e for e in texts if e.table == before.of("table")[0].table]
        if len(texts) == 1:
            return s, texts[0]
        if not texts and s.of("table") and (label := self.lex.label_column(s.of("table")[0].table)) is not None:
            return s, label
        return None

    # ---- 0. "including customers who aren't members", "show ... as their own group"
    def _null_group_clause(self) -> None:
        marks = self.cues("all")
        if not marks:
            return
        toks = self.g.tokens
        for m in marks:
            a = m.start
            while a > 0 and toks[a - 1].kind != "punct":
                a -= 1
            b = m.end
            while b < len(toks) and toks[b].kind != "punct":
                b += 1
            if m.text in ("including", "include", "incl"):
                a = m.start  # the clause starts at "including"
            else:  # "AOV by tier with non-members as a separate group": from the last "with" / "showing" before
                a = max([a] + [k for k in range(a, m.start) if toks[k].raw in ("with", "showing", "show")])
            self._clause = (a, b)
            self.p.null_group = True
            for s in self.g.spans:
                if a <= s.start and s.end <= b and s.kind in ("entity", "cue") and s is not m:
                    if s.kind == "entity" and s.of("column", "expression") and any(
                            e.nullable for e in s.of("column")):
                        continue  # "loyalty tier" inside the clause still names the dimension
                    s.role = "null_group"
            self.g.ungrounded = [t for t in self.g.ungrounded if not a <= t.i < b]
            m.role = "null_group"

    # ---- 1. time
    def _time(self) -> None:
        p = self.p
        for s in self.g.spans:
            if s.kind != "time" or s.role:
                continue
            t = s.time
            s.role = "time"
            if t.kind == "grain":
                p.grains.append(Dim("time", None, s, grain=t.grain, fiscal=t.fiscal))
            elif t.kind == "month_of_year":
                p.months_of_year.append(t.month)
            elif t.kind == "weekday":
                p.weekdays.extend(t.weekday.split(","))
            elif t.kind == "compare":
                p.growth_grain = t.grain
            else:
                p.times.append(t)
        self._dated_apart()
        for t in p.times:  # "in March and May 2024": a month of the year outside a shorter period never holds
            if p.months_of_year and t.kind == "period" and t.start and t.end and t.bound is None \
                    and add_months(t.start, 12) > t.end:
                months = {add_months(t.start, k).month for k in range(12) if add_months(t.start, k) < t.end}
                if not months & set(p.months_of_year):
                    raise Refusal(f"'{t.text}' and the month named beside it cannot both hold; ask for one period, "
                                  f"or a range ('between March and May 2024')", words=[t.text])

    def _dated_apart(self) -> None:
        """"2024 revenue from customers who signed up in 2023": the period right after the words naming another
        table's date ("signed up": customers.signup_dt) dates those rows; the periods named before them date what
        is measured. Before, both years were read on the signup date (either year)."""
        p, toks = self.p, self.g.tokens
        if len(p.times) < 2:
            return
        for s in self.entities():
            dates = [c for c in s.of("column") if c.ctype == "date"]
            end = s.end
            if not dates and len(s.of("table")) == 1 and end < len(toks) and _participle(toks[end].raw) \
                    and not self.g.tokens[end].kind == "punct":  # "orders placed in 2023": the orders' own date
                dates, end = self.lex.date_columns(s.of("table")[0].table), end + 1
            if s.role or len(dates) != 1 or s.of("measure", "filter", "value"):
                continue
            k = end + (end < len(toks) and toks[end].raw in ("in", "during", "on"))
            t = next((t for t in p.times if t.span[0] in (end, k)), None)
            if t is None or not all(o is t or o.span[1] <= s.start for o in p.times):
                continue
            p.times.remove(t)
            p.dated_times.append((dates[0], t))
            self.assign(s, "date", dates[0])
            p.notes.append(f"'{t.text}' dates {dates[0].label} ('{s.text}'); the other periods date what is measured")
            return

    # ---- 2. values, filter snippets, negation
    def _values_and_filters(self) -> None:
        p = self.p
        by_col: dict[tuple[str, str], list[tuple[Span, Entry, bool]]] = {}
        for s in self.entities():
            if s.role:
                continue
            negated = self._negated(s)
            filters, values = s.of("filter"), s.of("value")
            if _numeric(s) is not None and (self.has("amount") or any(c.arg in ("SUM", "AVG") for c in self.cues("agg"))
                                            or self._amounts_named(s)):
                continue  # "how much have we refunded", "refunds by store": the refund amount, not refunded orders
            cue = self.prev(s, frozenset({"the"}))
            if (cue is not None and cue.kind == "cue" and cue.cue == "cmp" and values and not filters
                    and (cue.text in _COMPARED_BY or self._column_before(cue) is not None)
                    and any(self._names_row(v) for v in values)):
                continue  # "lakes larger than Lake Erie": compared with that lake's area (see _comparisons)
            if s.end < len(self.g.tokens) and self.g.tokens[s.end].raw in _PERIOD_NOUNS and not filters:
                continue  # "holiday month (Dec)": the word describes the month, not a promotion type to filter by
            before, after = self.prev(s, frozenset({"the"})), self.next(s)
            if filters and _numeric(s) is not None and (before is not None and before.kind == "cue" and before.cue == "rank"
                                                        or after is not None and after.kind == "cue" and after.cue == "cmp"):
                continue  # "the biggest refund", "a refund over $500": the refund amount, not refunded orders
            if negated and s.of("table") and s.start > 0 and self.g.tokens[s.start - 1].raw == "any":
                continue  # "stores that don't have any returns": no returns rows at all (see _context), not non-returned orders
            if filters and not self._counted_here(s) and not self._prefers_table(s):
                f = filters[0]
                self.assign(s, "filter", f)
                if negated:
                    negated.role = "not"
                sql = f"NOT ({f.sql})" if negated else f.sql
                p.conds.append(Cond(sql, f.tables, _columns_of(self.lex, f.sql), ("not " if negated else "") + f.label,
                                    f.path, s))
            elif values and not (s.of("measure") or (s.of("table") and (self._counted_here(s) or self._prefers_table(s)))):
                v = self._pick_value(s, values)
                self.assign(s, "filter", v)
                if negated:
                    negated.role = "not"
                by_col.setdefault((v.table, v.column), []).append((s, v, bool(negated)))
        for (table, column), items in by_col.items():
            col = self.lex.column(table, column)
            ref = self.lex.sql_of(col)
            vals = list(dict.fromkeys(v.value for _, v, _ in items))
            neg = {n for _, _, n in items}
            if len(neg) > 1:
                raise Refusal(f"the question both asks for and excludes values of {col.label}")
            first = min(s.start for s, _, _ in items)
            if len(vals) > 1 and any(t.raw == "both" for t in self.g.tokens[max(0, first - 4):first]):
                # "authors with publications in both ML and DS": the rows related to every value, kept by
                # HAVING COUNT(DISTINCT column) = n (only for rows listed or counted, see _check)
                self._both = (col, vals)
                self.rules_of.append(self._count_measure(self.lex.tables[table], None).entry)  # counted as the space counts them
                p.compares.append(Compare("=", float(len(vals)), Measure("count_distinct", col, span=items[0][0],
                                          name=f"number of {col.column} values", assumed=f"rows with each of {', '.join(vals)}")))
                for t in self.g.tokens[max(0, first - 4):first]:
                    if t.raw == "both":
                        self.g.ungrounded = [u for u in self.g.ungrounded if u.i != t.i]
            lits = ", ".join(_literal(v) for v in vals)
            sql = f"{ref} = {lits}" if len(vals) == 1 else f"{ref} IN ({lits})"
            if neg == {True}:
                sql = f"{ref} <> {lits}" if len(vals) == 1 else f"{ref} NOT IN ({lits})"
            if (table, column) in self.lex.list_columns:  # "rivers that traverse Moscow": an item of each row's list
                held = " OR ".join(f"',' || REPLACE({ref}, ', ', ',') || ',' LIKE {_literal(f'%,{v},%')}" for v in vals)
                sql = f"NOT ({held})" if neg == {True} else held if len(vals) == 1 else f"({held})"
            p.conds.append(Cond(sql, (table,), ((table, column.lower()),), f"{col.label} = {', '.join(vals)}",
                                col.path, items[0][0], kind="value"))

    def _amounts_named(self, s: Span) -> bool:
        """"refunds by store": a plural naming an amount column by its own name or synonym, in a question that
        counts nothing and names no other measure, is that amount."""
        if not self.plural(s) or self.cues("count") or self.has("frequent") or self.has("distinct"):
            return False
        if not any(p.via in ("name", "synonym") and p.entry.kind == "column" and p.entry.ctype == "number" for p in s.phrases):
            return False
        return not any(x is not s and (x.of("measure") or _numeric(x) is not None) for x in self.entities())

    def _negated(self, s: Span) -> Span | None:
        """The "not" before a value or filter span; its role is set by the caller that uses it (a span read
        as no filter leaves "not" to be refused, never dropped: "authors who do not have a homepage")."""
        prev = self.prev(s, frozenset({"the", "a", "an", "any"}))
        if prev is not None and prev.kind == "cue" and prev.cue == "not" and not prev.role and prev.text != "no":
            # not "no": "products with no returns" means none of their rows, not their rows that are not
            # returns; only a related table is read that way (an anti-join), else "no" is refused
            return prev
        return None

    def _pick_value(self, s: Span, values: list[Entry]) -> Entry:
        """The column a value belongs to: the only one, the one named next to it ("the Gold tier"), the
        one of a table the question names; else the value is ambiguous and the answer a refusal."""
        if len({(v.table, v.column) for v in values}) == 1:
            return values[0]
        near = [n for n in (self.prev(s, frozenset({"based", "located", "of"})), self.next(s)) if n is not None]
        for n in near:
            if n.kind == "entity":
                for v in values:
                    if any(c.kind == "column" and c.table == v.table and c.column == v.column for c in n.entries):
                        return v
        named = {e.table for x in self.entities() if x is not s for e in x.entries if e.kind in ("table", "measure")}
        named |= {t for x in self.entities() if x is not s for e in x.of("measure") for t in e.tables}
        mine = [v for v in values if v.table in named]
        if len({(v.table, v.column) for v in mine}) == 1:
            return mine[0]
        kept = {next(iter(ts)) for x in self.entities() if x is not s  # "Platinum members in the UK": the members'
                if len(ts := {e.table for e in x.of("filter", "value") if e.table}) == 1}
        mine = [v for v in values if v.table in kept]
        if len({(v.table, v.column) for v in mine}) == 1:
            return mine[0]
        own = {next(iter(ts)) for x in self.entities() if x is not s
               if len(ts := {e.table for e in x.of("column")}) == 1}  # "population density of Ohio": state.density
        mine = [v for v in values if v.table in own]
        if len({(v.table, v.column) for v in mine}) == 1:
            return mine[0]
        beside = {e.table for x in self.entities() if x is not s for e in x.of("value") if self._names_row(e)}
        mine = [v for v in values if v.table in beside]  # "the United States to California": of the states
        if len({(v.table, v.column) for v in mine}) == 1:
            return mine[0]
        others = [{e.table for e in x.of("column")} for x in self.entities() if x is not s and x.of("column")]
        mine = [v for v in values if others and all(v.table in ts for ts in others)]
        if len({(v.table, v.column) for v in mine}) == 1:  # "population of Ohio": the one table with both
            return mine[0]
        rows = [v for v in values if self._names_row(v)]
        if len({(v.table, v.column) for v in rows}) == 1:  # "the area of Ohio": a state, not the lakes in it
            return rows[0]
        direct = [v for v in values if any(p.entry is v and p.via == "value" for p in s.phrases)]
        if len({(v.table, v.column) for v in direct}) == 1:
            return direct[0]
        tables = {e.table for x in self.entities() if x is not s for e in x.of("table")}
        same = [c for t in sorted(tables) for c in self.lex.columns.get(t, []) if c.ctype == "text"
                and {c.column.lower()} == {v.column.lower() for v in values}]
        if len(same) == 1 and len({v.value for v in values}) == 1 and not any(v.table in tables for v in values):
            # "the mountains in China": China is a country the other tables hold; the mountains' own country column
            c = same[0]
            return Entry("value", c.path, f"{c.label} = '{values[0].value}'", table=c.table, column=c.column,
                         ctype=c.ctype, value=values[0].value)
        raise Refusal(f"'{s.text}' is a value of " + " and of ".join(sorted({f"{v.label.split(' =')[0]}" for v in values}))
                      + "; the question does not say which", words=[s.text],
                      missing=[{"kind": "ambiguous", "words": s.text, "candidates": sorted({v.path for v in values})}])

    def _value_named_after(self, s: Span) -> Entry | None:
        """The value filtered right after the column `s` names and "of" ("the city of New York"), else None."""
        x = self.next(s, frozenset({"of"}))
        if (x is None or x.role != "filter" or x.chosen is None or x.chosen.kind != "value"
                or s.end >= len(self.g.tokens) or self.g.tokens[s.end].raw != "of"):
            return None
        v = x.chosen
        return v if any(c.table == v.table and c.column == v.column for c in s.of("column")) else None

    def _names_row(self, v: Entry) -> bool:
        """The value is a row's own name ("Ohio" of state.state_name, "Nile" of river.river_name), not a
        reference to another table's row (lake.state_name)."""
        label = self.lex.label_column(v.table, named=True)
        return label is not None and label.column.lower() == v.column.lower()

    def _counted_here(self, s: Span) -> bool:
        """The span is what a count / rank asks about ("how many returns", "returns per month")."""
        prev = self.prev(s, frozenset({"the", "of"}))
        nxt = self.next(s)
        if prev is not None and prev.kind == "cue" and prev.cue in ("count", "distinct"):
            return True
        if nxt is not None and nxt.kind == "cue" and nxt.cue == "count":
            return True
        return False

    def _prefers_table(self, s: Span) -> bool:
        """'returns' is the returns table, not the 'returned orders' filter, when nothing else it
        could qualify is named and it is what the question counts or breaks down."""
        tables = s.of("table")
        if not tables or not s.of("filter"):
            return False
        f = s.of("filter")[0]
        others = [x for x in self.entities() if x is not s and any(t.kind == "table" and t.table in f.tables
                                                                   for t in x.entries)]
        if others:
            return False
        k = self._word_before_rows(s)
        if k >= 0 and self.g.tokens[k].raw in ("without", "no", "never") and any(
                x.of("table") for x in self.entities() if x is not s and x.start < s.start):
            return True  # "stores with no returns": stores no returns row refers to, not their orders that were not returned
        nxt = self.next(s)
        counted = self._counted_here(s) or (nxt is not None and nxt.kind in ("time",) and nxt.time.kind == "grain")
        prev = self.prev(s)
        grain_before = prev is not None and prev.kind == "time" and prev.time.kind == "grain"
        listed = prev is not None and prev.kind == "cue" and prev.cue == "which"  # "which return(s) had ..."
        # "which region had the most returns": the returns rows, counted and ranked
        ranked = prev is not None and prev.kind == "cue" and prev.cue == "rank" and prev.end == s.start and self.plural(s)
        # "which month is the busiest for returns": the periods are ranked by the returns, nothing else is measured
        ranked = ranked or (self.plural(s) and any(x.kind == "time" and x.time.kind == "grain" for x in self.g.spans)
                            and (self.has("rank") or self.has("which"))
                            and not any(x.of("measure", "table") for x in self.entities() if x is not s))
        return counted or grain_before or listed or ranked or self.has("count") and not any(
            x.of("table") for x in self.entities() if x is not s)

    # ---- 3. measures
    def _named_aggregates(self) -> None:
        """The sum of a column the space defines as a measure ("total quantity" where "Units sold" is
        SUM(order_items.qty)) is that measure, with the rules the space states for it (completed orders)."""
        named = self.lex.aggregate_measures()
        for i, m in enumerate(self.p.measures):
            if m.kind == "agg" and m.entry is not None and m.entry.kind == "column":
                snippet = named.get((m.agg, m.entry.table, (m.entry.column or "").lower()))
                if snippet is not None:
                    self.p.measures[i] = Measure("snippet", snippet, span=m.span,
                                                 assumed=f"{m.agg}({m.entry.label}) is the measure {snippet.label}")
                    if m.span is not None and m.span.chosen is m.entry:
                        m.span.chosen = snippet

    def _passive_agent(self, by: Span, s: Span) -> bool:
        """"citations received by publications": after a participle, "by" names the rows whose own column
        is measured, not a breakdown (each row would be its own group); they are the context."""
        k = by.start - 1
        if k < 0 or not self.g.tokens[k].raw.endswith("ed") or s.role is not None:
            return False
        tables = {e.table for e in s.of("table")}
        measured = {m.entry.table for m in self.p.measures if m.kind == "agg" and m.entry is not None}
        if tables & measured:
            by.role = "filler"
            self.assign(s, "context", self.lex.tables[next(iter(tables & measured))])
            return True
        return False

    def _number_near_free(self, r: Span) -> bool:
        """No number next to a rank word ("the 3 lowest ratings" lists rows)."""
        return not any(x is not None and x.kind == "number" for x in (self.next(r), self.prev(r)))

    def _rank_by_column(self) -> bool:
        """A ranking "by" a numeric column of a table the question names ("top 5 products by list price",
        "stores ranked by square feet") orders those rows by the column; no measure is assumed."""
        tables = {e.table for s in self.entities() if s.role is None for e in s.of("table")}
        for c in self.cues("group"):
            if c.role or c.text != "by":
                continue
            nxt = self.next(c, frozenset({"the", "their", "its"}))
            if nxt is None or nxt.kind != "entity" or nxt.role is not None or nxt.of("measure", "table"):
                continue
            cols = [e for e in nxt.of("column") if e.ctype == "number" and not e.is_key and e.table in tables]
            if len(cols) == 1:
                c.role = "order"
                self.assign(nxt, "ordering", cols[0])
                self.p.order_by = cols[0]
                return True
        return False

    def _ranked_by_many(self, ent: Dim) -> bool:
        """"which author has the most citations": each author has many publications, each with its own citation count;
        ranking the authors by one of them would pick the author of the single most cited publication. "most" /
        "fewest" of a quantity is its sum per ranked row (a breakdown by the author, ordered); any other rank word
        over many values per row is refused."""
        p, col = self.p, self.p.order_by
        if ent.kind != "entity" or ent.entry is None or col is None or col.table == ent.entry.table \
                or not self._fans_out_path(ent.entry.table, col.table):
            return False
        rank = next((r for r in self.cues("rank") if r.role == "rank" or not r.role), None)
        span = next((x for x in self.entities() if x.chosen is col), None)
        if rank is None or rank.text not in ("most", "fewest", "least") or not additive(col) or span is None:
            raise Refusal(f"each {ent.entry.label.split('.')[-1]} has many {col.label} values; the question does not say "
                          f"how they combine to rank them (a sum, an average, the largest)", words=[rank.text] if rank else [],
                          missing=[{"kind": "measure", "why": "ranked by many values per row"}])
        self.assign(span, "measure", col)
        p.list_columns = [c for c in p.list_columns if c is not col]
        p.measures = [Measure("agg", col, "SUM", span, assumed=f"'{rank.text} {span.text}': the sum per "
                                                              f"{ent.entry.label.split('.')[-1]}")]
        p.dims.append(ent)
        p.entity, p.order_by, p.order_by_dir, p.shape = None, None, None, "plain"
        return True

    def _fans_out_path(self, start: str, end: str) -> bool:
        """Whether joining `start`'s rows to `end`'s, along the shortest chain of join edges, gives a row many."""
        prev: dict[str, tuple[str, object] | None] = {start: None}
        frontier = [start]
        while frontier and end not in prev:
            nxt = []
            for t in frontier:
                for e in self.lex.edges:
                    if t in (e.left, e.right) and e.other(t) not in prev:
                        prev[e.other(t)] = (t, e)
                        nxt.append(e.other(t))
            frontier = nxt
        if end not in prev:
            return False
        t = end
        while prev[t] is not None:
            frm, e = prev[t]
            if e.fans_out(frm):
                return True
            t = frm
        return False

    def _describes(self, table: str, head: Span) -> bool:
        """Whether the noun of `table` before `head` can describe it: a column of that table ("customer segment") or
        a table joined to it ("business category"), not a column of an unrelated table ("store type": promo_type)."""
        return any(c.table == table for c in head.of("column")) or any(
            t.table != table and any({e.left, e.right} == {t.table, table} for e in self.lex.edges) for t in head.of("table"))

    def _listing(self) -> list[Span]:
        """The words asking for rows ("which", "list", "what store"); a bare "what" asks for a value ("what were
        total returns in Q2")."""
        return [c for c in self.cues("which") if c.text != "what" or (self.next(c) is not None and self.next(c).kind == "entity")]

    def _rank_by_own_column(self) -> bool:
        """"which promotion had the biggest discount": the rank word before a number the ranked rows have
        themselves (promotions.disc_pct), not a measure of their orders."""
        tables = {e.table for s in self.entities() if s.role is None for e in s.of("table")}
        if not self._listing():
            return False  # "what is the lowest rating of any review": the value itself, not the rows
        for r in self.cues("rank"):
            if r.text in _DATE_RANKS and not r.role:  # "which store opened most recently": by the date named
                dated = [x for x in self.entities() if x.role is None and not x.of("measure")
                         and [c for c in x.of("column") if c.ctype == "date"]]
                cols = [c for x in dated for c in x.of("column") if c.ctype == "date" and (c.table in tables or not tables)]
                if len(dated) == 1 and len(cols) == 1:
                    r.role = "rank"
                    self.assign(dated[0], "ordering", cols[0])
                    self.p.order_by = cols[0]
                    self.p.order_by_dir = "ASC" if r.text in ("oldest", "earliest", "least recently") else "DESC"
                    if not tables:  # "store opened": the noun is inside the date's own name
                        self.p.entity = Dim("entity", self.lex.tables[cols[0].table], dated[0])
                    return True
            nxt = self.next(r, frozenset({"the", "their", "its"}))
            if r.role or nxt is None or nxt.kind != "entity" or nxt.role is not None or nxt.of("measure", "table"):
                continue
            cols = [e for e in nxt.of("column") if e.ctype == "number" and not e.is_key and e.table in tables]
            if not cols:  # "discount" names promotions.disc_pct ("discount percent") by its first word
                cols = self._named_by_first_words(nxt, tables)
            if len(cols) == 1:
                r.role = "rank"
                self.assign(nxt, "ordering", cols[0])
                self.p.order_by = cols[0]
                self.p.order_by_dir = r.arg
                return True
        return False

    def _date_extreme(self) -> bool:
        """"the latest order", "date of the most recent return", "when was our first order": rows ranked by their
        table's one date column - the row itself, or its date where the question asks for the date."""
        toks = self.g.tokens
        for k, t in enumerate(toks):
            r = self.g.span_at(k)
            if r is not None and r.kind == "cue" and r.cue == "rank" and r.text in _DATE_RANKS and not r.role:
                word, s = r.text, self.next(r, frozenset({"the", "our"}))
            elif t.raw in ("first", "last") and r is None and k + 1 < len(toks) and toks[0].raw == "when":
                word, s = ("earliest" if t.raw == "first" else "latest"), self.g.span_at(k + 1)
            else:
                continue
            if s is None or s.kind != "entity" or s.role not in (None, "filter") or not s.of("table"):
                continue
            many = None  # "the five newest stores": that many rows; "the newest stores" alone says not how many
            if self.plural(s):
                many = self.prev(r) if r is not None and toks[0].raw != "when" else None
                if not self._limit_number(many) or many.role:
                    continue
            table = s.of("table")[0]
            if s.role == "filter":  # "the most recent return": the returns table's rows, not returned orders
                self.p.conds = [c for c in self.p.conds if c.span is not s]
                s.role = None
            dates = self.lex.date_columns(table.table)
            if len(dates) != 1:
                continue
            if many is not None:
                self.used_numbers.add(many.start)
                many.role = "limit"
            col, desc = dates[0], word not in ("oldest", "earliest", "least recently")
            if r is not None:
                r.role = "rank"
            self.g.ungrounded = [x for x in self.g.ungrounded if x.i != k]
            named = [x for x in self.entities() if x.end <= s.start and x.kind == "entity" and not x.role
                     and [c for c in x.of("column") if c.ctype == "date"] and not x.of("table", "measure")]
            if toks[0].raw == "when" or named:  # "date of the most recent return": the date itself
                for x in named:
                    self.assign(x, "shown", col)
                self.assign(s, "context", table)
                self.p.measures.append(Measure("agg", col, "MAX" if desc else "MIN", s,
                                               assumed=f"'{word} {s.text}' read as the {'last' if desc else 'first'} {col.label}"))
            else:  # "the latest order": that row, with its date
                self.assign(s, "entity", table)
                self.p.entity = Dim("entity", table, s)
                self.p.order_by, self.p.order_by_dir = col, "DESC" if desc else "ASC"
                self.p.limit = int(many.value) if many is not None else 1
                self.p.list_columns.append(col)
                self._bare_list = True
            return True
        return False

    def _catalog(self, table: str) -> bool:
        """A table only ever on the one side of relationships (products, stores), never an event table."""
        edges = [e for e in self.lex.edges if table in (e.left, e.right) and not e.one_to_one]
        return bool(edges) and not any((e.left == table and e.many_to_one) or (e.right == table and e.many_to_one is False)
                                       for e in edges)

    def _kept_by_threshold(self, s: Span) -> bool:
        """"stores with over 400 orders in 2024": rows that open the question, kept by a comparison right after
        "with" / "that" / "who" (listed, not counted)."""
        k = s.end
        if s.start != 0 or s.role or not s.of("table") or k >= len(self.g.tokens) or \
                self.g.tokens[k].raw not in ("with", "that", "who", "which", "having"):
            return False
        c = next((c for c in self.cues("cmp") if c.start > k), None)
        measured = {i for m in self.p.measures if m.span is not None for i in range(m.span.start, m.span.end)}
        return c is not None and all(t.raw in _RELATIVE or t.raw in ("sold", "placed", "made", "bought", "had")
                                     or k + i in measured for i, t in enumerate(self.g.tokens[k:c.start]))

    def _dated_by_next(self, s: Span) -> tuple[Span, Entry] | None:
        """"stores that opened after 2020": named rows that open the question, then a verb naming their own date
        column (and a period): the rows are listed, dated by that column."""
        p = self.p
        if s.start != 0 or s.role is not None or not s.of("table") or not self.plural(s) or not p.times or (
                p.grains or self.has("group") or self.has("count")):
            return None
        t = s.of("table")[0].table
        nxt = self.next(s)
        if nxt is None or nxt.kind != "entity" or nxt.role is not None or any(
                tok.raw not in ("that", "which", "who") for tok in self.g.tokens[s.end:nxt.start]):
            return None
        dates = [c for c in nxt.of("column") if c.ctype == "date" and c.table == t]
        if len(dates) != 1 or self.lex.label_column(t) is None:
            return None
        return nxt, dates[0]

    def _named_by_first_words(self, s: Span, tables: set[str]) -> list[Entry]:
        """Numeric columns of `tables` whose name starts with the words of `s` ("discount" -> "discount percent")."""
        said = norms(s.text)
        return list({id(ph.entry): ph.entry for words, items in self.lex.phrases.items()
                     if len(words) > len(said) and words[:len(said)] == said for ph in items
                     if ph.via == "name" and ph.entry.kind == "column" and ph.entry.ctype == "number"
                     and not ph.entry.is_key and ph.entry.table in tables}.values())

    def _new_rows(self) -> None:
        """"new customers in 2023": the period dates the rows themselves, by their table's one date column."""
        p = self.p
        if p.date is not None or not (p.times or p.grains):
            return
        toks = self.g.tokens
        for s in self.entities():
            tables = [e for e in s.entries if e.kind == "table"]
            if s.role in ("counted", "entity") and tables and s.start > 0 and toks[s.start - 1].raw in ("new", "newly"):
                cols = self.lex.date_columns(tables[0].table)
                if len(cols) == 1:
                    p.date = cols[0]
                    p.notes.append(f"'new' {s.text}: dated by {cols[0].label}")
                    # "how many new customers did we acquire": the verb of new rows says nothing more
                    self.g.ungrounded = [t for t in self.g.ungrounded if t.raw not in _GAINED]
                return

    def _measures(self) -> None:
        p = self.p
        if self._spread():
            return
        # measure snippets (and the measure a "total"/"average" cue names)
        for s in self.entities():
            if s.role:
                continue
            ms = s.of("measure")
            if ms and not self._counted_table_here(s):
                m = ms[0]
                self.assign(s, "measure", m)
                if not any(x.entry is m for x in p.measures):
                    p.measures.append(Measure("snippet", m, span=s))
        # counts: "how many X", "number of X", "X count"
        for c in self.cues("count"):
            if c.role:
                continue
            target = self._count_target(c)
            c.role = "count"
            if target is None:
                continue
            s, entry, distinct = target
            if self._sold(s, entry, distinct):
                continue
            if s.role in ("filter", "context"):
                table = self.lex.tables[entry.tables[0]] if entry.kind == "filter" else self.lex.tables[entry.table]
                p.measures.append(self._count_measure(table, s))
                continue
            if s.role == "measure":
                continue  # already measured
            if entry.kind == "filter":  # "how many active customers": the rows the filter keeps
                self.assign(s, "filter", entry)
                p.conds.append(Cond(entry.sql, entry.tables, _columns_of(self.lex, entry.sql), entry.label, entry.path, s))
                p.measures.append(self._count_measure(self.lex.tables[entry.tables[0]], s))
                continue
            self.assign(s, "counted", entry)
            if entry.kind == "table":
                self._adjective_filters(s, entry.table)
            if entry.kind == "measure":
                if not any(x.entry is entry for x in p.measures):
                    p.measures.append(Measure("snippet", entry, span=s))
            elif entry.kind == "table":
                p.measures.append(self._count_measure(entry, s))
            elif entry.kind == "column" and entry.ctype == "number" and not entry.is_key and not distinct:
                if len({c.table for c in _numeric_columns(s)}) > 1:  # "how many people live in Texas": the state's
                    entry = self._measured_column(s) or entry
                    s.chosen = entry
                p.measures.append(Measure("agg", entry, "SUM", s, assumed="a count of a quantity is its sum"))
            elif entry.kind == "column" and entry.ctype == "date" and (p.times or p.grains) and p.date in (None, entry):
                # "how many products launched in 2024": the rows, dated by the column the words name
                p.measures.append(self._count_measure(self.lex.tables[entry.table], s))
                p.date = entry
            else:
                p.measures.append(Measure("count_distinct", entry, span=s))
        for c in self.cues("distinct"):
            if c.role:
                continue
            s = self.next(c)
            if s is not None and s.kind == "entity" and not s.role and s.of("table", "column"):
                c.role = "distinct"
                t = (s.of("table") or [self.lex.tables[s.of("column")[0].table]])[0]
                col = s.of("column")[0] if s.of("column") and not s.of("table") else None
                if col is not None and not (col.is_key or self.lex.label_column(col.table) is col):
                    self.assign(s, "counted", col)
                    p.measures.append(Measure("count_distinct", col, span=s))
                else:
                    self.assign(s, "counted", t)
                    p.measures.append(self._count_measure(t, s))
        # "total X", "average X", "max X" of a numeric column
        for c in self.cues("agg"):
            if c.role:
                continue
            before = self.prev(c)
            if c.arg == "AVG" and before is not None and before.kind == "cue" and before.cue == "cmp":
                continue  # "beat the average revenue": compared with the average, read by the comparison step
            s = self.next(c, frozenset({"the", "of", "our", "per"}))
            if s is not None and s.kind == "entity" and not s.role and s.of("table") and not s.of("column", "measure"):
                col = self.next(s)  # "average line discount": the table's own numeric column, not "per line"
                if col is not None and col.kind == "entity" and not col.role and (m := self._measured_column(col)) is not None \
                        and m.table == s.of("table")[0].table and not self.plural(s):
                    self.assign(s, "context", s.of("table")[0])
                    s = col
            if s is not None and s.kind == "cue" and s.cue == "count":  # "total number of"
                c.role = "agg"
                if c.arg == "AVG":  # "average number of orders per customer": an average, not a total
                    self._avg_count = c
                continue
            if s is not None and s.kind == "entity" and s.role == "measure":
                c.role = "agg"
                if c.arg == "AVG" and s.chosen is not None:
                    self._avg_intent = True
                    self._avg_of_measure = (c, s)
                continue
            if s is not None and s.kind == "entity" and not s.role:
                col = self._measured_column(s)
                if col is not None:
                    if c.arg == "SUM" and self._rate_column(col):
                        amount = self._amount_of_rate(col)
                        if amount is not None:  # "total discounts": the space's measure of what the rate took off
                            self.assign(s, "measure", amount)
                            c.role = "agg"
                            p.measures.append(Measure("snippet", amount, span=s,
                                                      assumed=f"'{c.text} {s.text}' read as {amount.label}"))
                            continue
                        raise Refusal(f"'{c.text} {s.text}' would add up {col.label}, a rate (a fraction or percentage "
                                      f"of something else); the space has no amount for it",
                                      words=[s.text], missing=[{"kind": "measure", "words": s.text}])
                    self.assign(s, "measure", col)
                    c.role = "agg"
                    p.measures.append(Measure("agg", col, c.arg, s))
                    v = self.next(s)
                    other = self.next(v) if v is not None and v.kind == "cue" and v.cue == "versus" else None
                    if other is not None and other.kind == "entity" and not other.role \
                            and (col2 := self._measured_column(other)) is not None and col2 is not col:
                        # "average selling price vs list price": the same aggregate of both, side by side
                        self.assign(other, "measure", col2)
                        v.role = "versus"
                        p.measures.append(Measure("agg", col2, c.arg, other))
                    continue
                if c.arg == "AVG" and s.of("table"):
                    continue  # "average per customer" is read by the shape step
            if c.arg == "SUM":
                c.role = "agg"  # "total" alone adds nothing
        # "how much" + numeric column, or a numeric column being broken down
        for s in self.entities():
            if s.role or not p.measures == [] and not self.has("amount"):
                continue
            if _numeric(s) is None or self._compared_column(s):
                continue
            if self.g.tokens[s.end - 1].raw.endswith("ed") and not self.has("amount"):
                continue  # "orders shipped to Canada": a verb, not the shipping fee summed
            if self._listed_beside_names(s):
                self._bare_list = True  # "names and lengths of rivers in Germany": the rows, listed
                continue
            col = self._measured_column(s)
            by = self.prev(s)
            ranked_by = by is not None and by.kind == "cue" and by.cue == "group" and self.has("rank") and not any(
                x.of("table") and x.of("table")[0].table == col.table for x in self.entities() if x is not s)
            implied = (self.p.grains or self._grouped_later(s) or p.conds or p.times or p.months_of_year or p.weekdays
                       or ranked_by) and additive(col)
            if self.has("amount") or self.has("share") or implied:
                self.assign(s, "measure", col)
                p.measures.append(Measure("agg", col, "SUM", s, assumed="amounts are summed"))
                for a in self.cues("amount"):
                    a.role = "amount"
        # "top 5 products by list price": a ranking by a number the ranked rows have, not by a measure
        if not p.measures and self.has("rank") and (self._rank_by_column() or self._rank_by_own_column()):
            return
        # "what is the lowest rating any review has given": the extreme value itself, not a list of rows
        # (unlike "which review has the lowest rating", "what store has ...")
        if not p.measures and not self._listing():
            for r in self.cues("rank"):
                s = self.next(r, frozenset({"the"}))
                noun = self.next(s) if s is not None else None  # "the most populous state": a state, ranked
                if (r.role is None and s is not None and s.kind == "entity" and s.role is None and not s.of("table", "measure")
                        and _numeric(s) is not None and self._number_near_free(r)
                        and not (noun is not None and noun.start == s.end and noun.kind == "entity" and noun.of("table"))):
                    col = self._measured_column(s)
                    r.role = "agg"
                    self.assign(s, "measure", col)
                    p.measures.append(Measure("agg", col, "MAX" if r.arg == "DESC" else "MIN", s))
                    break
        if not p.measures and self._date_extreme():
            return
        # "most orders", "most common reasons": a rank over a count of rows
        if not p.measures:
            for r in self.cues("rank"):
                if r.text.split()[-1] in ("selling", "performing"):
                    continue  # "best selling product in each region": the products are ranked, by sales
                s = self.next(r, frozenset({"the", "number", "of"}))
                if s is not None and s.kind == "cue" and s.cue == "frequent":
                    s.role = "frequent"
                    self._count_by_frequency = True
                    x = self.next(s)  # "the most common return reasons in 2024": the returns counted per reason
                    cols = [c for c in x.of("column") if c.ctype == "text" and not c.is_key] \
                        if x is not None and x.kind == "entity" and not x.role and not x.of("table", "measure") else []
                    if len({c.table for c in cols}) == 1:
                        t = self.lex.tables[cols[0].table]
                        p.measures.append(self._count_measure(t, None))
                        p.measures[-1].assumed = f"'{s.text}' ranks by the number of {t.label.split('.')[-1]} rows"
                    break
                dates = [c for c in s.of("column") if c.ctype == "date"] if s is not None and s.kind == "entity" else []
                if len(dates) == 1 and s.role is None and p.grains and p.date is None \
                        and set(norms(dates[0].table.split(".")[-1])) & set(norms(s.text)):
                    # "which year were the most stores opened": the stores, counted by the year they opened
                    self.assign(s, "date", dates[0])
                    p.date = dates[0]
                    p.measures.append(self._count_measure(self.lex.tables[dates[0].table], s))
                    break
                if s is not None and s.kind == "entity" and not s.role and s.of("table") and not s.of("measure") \
                        and not self._column_rank():
                    rest = [x for x in self.entities() if x is not s and not x.role]
                    if rest or p.grains:  # "which store has the most orders": the store is the entity, orders are counted
                        t = s.of("table")[0]
                        self.assign(s, "counted", t)
                        p.measures.append(self._count_measure(t, s))
                        break
        # "most returned item", "returned most often": a rank over the rows a filter names
        if not p.measures and (self.has("rank") or self.has("frequent")):
            ranked = {e.table for x in self.entities() if not x.role for e in x.of("table", "column")}
            # "which physical store sold the most": a filter on the ranked rows themselves counts nothing
            filt = [c for c in p.conds if c.kind == "filter" and not set(c.tables) <= ranked]
            # "which channel had the most cancellations": the filter's rows right after the rank word are counted,
            # though the channel is a column of those same rows
            filt = filt or [c for c in p.conds if c.kind == "filter" and c.span is not None and self.plural(c.span)
                            and (r := self.prev(c.span)) is not None and r.kind == "cue" and r.cue == "rank"
                            and r.end == c.span.start]
            if filt:
                t = self.lex.tables[filt[0].tables[0]]
                p.measures.append(self._count_measure(t, None))
                p.measures[-1].assumed = f"ranked by the number of {t.label.split('.')[-1]} rows"
                for f in self.cues("frequent"):
                    f.role = "frequent"
            elif (done := self._event_rank()) is not None:
                p.measures.append(self._count_measure(done, None))
                p.measures[-1].assumed = f"ranked by the number of {done.label.split('.')[-1]} rows"
                for f in self.cues("frequent"):
                    f.role = "frequent"
        if not p.measures:  # "order growth": a table's noun right before "growth" is the number of its rows, where
            for g in self.cues("growth"):  # the space defines how they are counted (as "percentage change in orders")
                s = self.prev(g)
                after = self.next(g)  # "the biggest increase in orders": the noun after "in"
                if not (s is not None and s.kind == "entity" and s.end == g.start) and after is not None \
                        and after.start == g.end + 1 \
                        and self.g.tokens[g.end].raw in ("in", "of"):
                    s = after
                if s is not None and s.kind == "entity" and (s.end == g.start or s is after) and s.role is None \
                        and s.of("table") and not s.of("measure", "filter", "value"):
                    t = s.of("table")[0]
                    m = self._count_measure(t, s)
                    if m.kind == "snippet":
                        self.assign(s, "counted", t)
                        p.measures.append(m)
                    break
        # a bare noun with a period, breakdown or filter: "orders at the X store in 2025", "returns per month"
        pct_units = [c for c in self.cues("share") if c.text in ("percent", "in percent", "percentage") and self.has("growth")]
        if not p.measures and not self.has("rank") and not self._listing() and not [
                c for c in self.cues("share") if c not in pct_units] and not (
                self.has("amount") or self.g.soft):
            for s in self.entities():
                dates = [c for c in s.of("column") if c.ctype == "date"]
                listed = (s.start == 0 and self.plural(s) or self._plural_word(s.start)) and s.role is None and \
                    not (p.grains or self.has("group") or self.has("count")) and len({c.table for c in dates}) == 1 and \
                    s.start == 0 and self._catalog(dates[0].table) if dates else False
                if listed:  # "products launched after June 2024": the products, listed, dated by their launch
                    self.assign(s, "date", dates[0])
                    p.date = dates[0]
                    p.entity = Dim("entity", self.lex.tables[dates[0].table], s)
                    self._bare_list = True
                    break
                if (d := self._dated_by_next(s)) is not None:  # "stores that opened after 2020": listed
                    self.assign(d[0], "date", d[1])
                    self.assign(s, "entity", self.lex.tables[d[1].table])
                    p.date = d[1]
                    p.entity = Dim("entity", self.lex.tables[d[1].table], s)
                    self._bare_list = True
                    break
                if s.role is None and dates and (self.plural(s) or self._plural_word(s.start)) \
                        and not s.of("table", "measure", "filter"):  # "signups per month", "stores opened per year"
                    # "registrations", "signups": events dated by the column; count them
                    self.assign(s, "date", dates[0])
                    p.date = dates[0]
                    p.measures.append(self._count_measure(self.lex.tables[dates[0].table], s))
                    p.measures[-1].assumed = f"'{s.text}' counts {dates[0].table.split('.')[-1]} rows by {dates[0].column}"
                    break
                if s.role in (None, "filter") and (s.of("table") or s.of("filter")) and self.plural(s) and (
                        p.times or p.grains or self.has("group") or p.conds or p.weekdays or p.months_of_year) \
                        and not self._kept_by_threshold(s):
                    t = s.of("table")[0] if s.of("table") else self.lex.tables[s.of("filter")[0].tables[0]]
                    if s.role is None and s.of("table") and not (p.grains or self.has("group") or self.has("count")) \
                            and (self._catalog(t.table) or self._lacking_after(s)) and s.start == 0:
                        self._bare_list = True  # "stores in Germany": the stores, listed
                        break
                    k = s.start - 1
                    while k >= 0:  # past "of the" and the filter words naming these rows ("value of completed orders")
                        f = next((x for x in self.entities() if x.end == k + 1 and x.of("filter")), None)
                        if self.g.tokens[k].raw not in ("of", "the", "all", "our") and f is None:
                            break
                        k = k - 1 if f is None else f.start - 1
                    if k >= 0 and self.g.tokens[k].raw in ("value", "values", "worth"):
                        raise Refusal(f"'{self.g.tokens[k].raw} of {s.text}' asks what they are worth, and the question "
                                      f"names no measure of it (their number is not their value)",
                                      words=[self.g.tokens[k].raw],
                                      missing=[{"kind": "measure", "words": f"{self.g.tokens[k].raw} of {s.text}"}])
                    m = self._count_measure(t, s)
                    if pct_units and m.kind != "snippet":
                        continue  # "percentage change in orders": only where the space defines how they are counted
                    if s.role is None:
                        self.assign(s, "counted", t)
                    p.measures.append(m)
                    p.measures[-1].assumed = f"'{s.text}' alone is read as their number"
                    break
        ranked = self._column_rank()
        if not p.measures and ranked and [c for c in self.cues("group") if c.text in ("each", "in each", "per", "for each", "every")]:
            r, word = ranked  # "most expensive product in each category": the top price within each group
            s = self.next(r, frozenset({"the", "our"}))
            col = self._rank_column(s.of("table")[0].table if s is not None and s.of("table") else None, word)
            if col is not None:
                p.measures.append(Measure("agg", col, "MAX" if r.arg == "DESC" else "MIN", None,
                                          assumed=f"'{r.text}' ranks by {col.label}"))
        busy = [r for r in self.cues("rank") if r.text in _BUSY_RANKS]
        if not p.measures and busy:  # "busiest day of the week for orders": the most orders
            ranked = {id(self.next(r, frozenset({"the", "our"}))) for r in busy}  # "quietest store": the ranked rows
            named = [x for x in self.entities() if x.role is None and x.of("table") and not x.of("measure")
                     and id(x) not in ranked]
            counts = [e for e in self.lex.entries if e.kind == "measure" and e.is_count and len(e.tables) == 1]
            if named:
                t = named[0].of("table")[0]
                self.assign(named[0], "counted", t)
                p.measures.append(self._count_measure(t, named[0]))
            elif len(counts) == 1:
                p.measures.append(Measure("snippet", counts[0], assumed=f"'{busy[0].text}' read as {counts[0].label}"))
        # sales verbs ("how much did X make", "what did we sell") name the sales measure
        if not p.measures and (self.g.soft or [r for r in self.cues("rank") if r.text not in _NOT_SALES_RANKS]) \
                and not self._column_rank() and not self._count_by_frequency \
                and not (self.g.soft and self._never_before(self.g.soft[0].i) is not None):  # "not sold": none sold
            sales = self._sales_measure()
            if sales is not None and (self.has("amount") or self.has("rank") or self.has("group") or p.times):
                why = self.g.soft[0].raw if self.g.soft else self.cues("rank")[0].text
                p.measures.append(Measure("snippet", sales, assumed=f"'{why}' read as {sales.label}"))
                self.sold_at = {t.i for t in self.g.soft}  # "which X made less than 50k": compared below
                for a in self.cues("amount"):
                    a.role = "amount"
                self.g.soft = []
        for a in self.cues("amount"):
            if p.measures:
                a.role = "amount"

    def _event_rank(self) -> Entry | None:
        """"products that get returned most often", "the most returned products": a rank whose verb is
        a table's name as a participle ranks the other entity by how many of that table's rows it has
        (the ranking measure is the one the question names, not the space's default measure)."""
        tables = [s for s in self.entities() if not s.role and s.of("table") and not s.of("measure", "filter", "value")]
        done = [s for s in tables if self.g.tokens[s.end - 1].raw.endswith("ed") and s.end - s.start == 1]
        others = [s for s in self.entities() if s not in done and not s.role]
        if len(done) != 1 or not others:
            return None
        t = done[0].of("table")[0]
        self.assign(done[0], "counted", t)
        return t

    def _counted_table_here(self, s: Span) -> bool:
        return bool(s.of("table")) and self._counted_here(s) and not s.of("measure")[0].is_count

    def _which_table(self) -> tuple[Entry, Span] | None:
        """The table a leading "which"/"list" names ("which customers ..."), and its span, if any."""
        for w in self.cues("which"):
            nx = self.next(w, frozenset({"the", "our", "all"}))
            if nx is not None and nx.kind == "entity" and nx.of("table") and not nx.of("measure"):
                return nx.of("table")[0], nx
        return None

    def _counted_limit(self) -> None:
        """"the 5 countries with the most customers": a ranking's size written before the ranked rows."""
        p = self.p
        if p.limit is not None or not p.order or not [r for r in self.cues("rank") if r.role == "rank"]:
            return
        for d in [*([p.entity] if p.entity else []), *p.dims]:
            n = self.prev(d.span) if d.span is not None else None
            if n is not None and n.kind == "number" and n.role is None and n.start not in self.used_numbers \
                    and float(n.value).is_integer() and 0 < n.value < 1000 and not n.money:
                self.used_numbers.add(n.start)
                n.role = "limit"
                p.limit = int(n.value)
                return

    def _summed_per_counted_row(self, col: Entry) -> Measure | None:
        """The sum of a quantity column per counted row, where each counted row has many rows of the
        column's table (stores -> orders); None where a row-level comparison is meant."""
        counted = [m for m in self.p.measures if m.kind == "count" or m.kind == "snippet" and m.entry.is_count
                   and len(m.entry.tables) == 1]
        if not counted or not additive(col):
            return None
        t = counted[0].entry.table if counted[0].kind == "count" else counted[0].entry.tables[0]
        if t == col.table or not any({e.left, e.right} == {t, col.table} and e.fans_out(t) for e in self.lex.edges):
            return None
        if any(col.table in {x.table for x in s.of("table")} for s in self.entities()):
            return None  # "customers with orders over 500 in revenue": the orders are compared one by one
        return Measure("agg", col, "SUM", assumed=f"'{col.label}' of each {t.split('.')[-1]} row summed")

    def _ranked_values_known(self) -> None:
        """"which state has the most lakes": a ranking of a column's values never answers with NULL (lakes
        with no state are no state), unless the question keeps NULL as its own group."""
        p = self.p
        d = p.entity
        if (d is not None and d.kind == "column" and d.entry is not None and d.entry.nullable and p.order
                and not p.null_group and p.shape in ("plain", "list", "top_per_group")):
            p.conds.append(Cond(f"{self.lex.sql_of(d.entry)} IS NOT NULL", (d.entry.table,),
                                ((d.entry.table, d.entry.column.lower()),), f"{d.entry.label} is known"))

    def _column_rank(self) -> tuple[Span, str] | None:
        """"cheapest", "most expensive" rank by price; "largest", "longest", "tallest", ... by the ranked rows'
        own size, area, length or height column where they have one ("the largest store": by store size, not by
        sales; "the longest river": by its length)."""
        for r in self.cues("rank"):
            if r.text in _PRICE_RANKS:
                return r, "price"
            s = self.next(r, frozenset({"the", "our"}))
            if s is None or s.kind != "entity" or not s.of("table") or s.start > r.end + 1:
                # "which lake is the largest (in the United States)": the noun before
                s = self.prev(r, frozenset({"the", "is", "are", "was", "were"}))
            if s is None or s.kind != "entity" or not s.of("table") or s.of("measure"):
                continue
            for word in _RANKED_BY.get(r.text, ()):
                if self._rank_column(s.of("table")[0].table, word, own=True) is not None:
                    return r, word
        return None

    def _rank_column(self, table: str | None, word: str, own: bool = False) -> Entry | None:
        """The one numeric column named or called `word` (the ranked rows' own first; only theirs if `own`)."""
        w = norm(word)
        cols = [ph.entry for words, items in self.lex.phrases.items() if w in words for ph in items
                if ph.entry.kind == "column" and ph.entry.ctype == "number" and ph.via in ("name", "synonym")]
        cols = list(dict.fromkeys(cols))
        mine = [c for c in cols if c.table == table]
        group = mine if mine or own else cols
        return group[0] if len(group) == 1 else None

    def _listed_after(self, s: Span) -> Span | None:
        """The unassigned entity joined to `s` by "and" or a comma alone ("region and channel")."""
        toks, k = self.g.tokens, s.end
        while k < len(toks) and toks[k].raw in ("and", ",", "the") and (
                self.g.span_at(k) is None or self.g.span_at(k).kind == "cue" and toks[k].raw == "and"):
            k += 1
        between = {t.raw for t in toks[s.end:k]}
        x = self.g.span_at(k) if k < len(toks) else None
        if x is None or x.kind != "entity" or x.role or not between & {"and", ","}:
            return None
        return x

    def _sold(self, s: Span, entry: Entry, distinct: bool) -> bool:
        """"how many headphones did we sell", "how many different products were sold": counting what was sold
        counts the sales, not the catalog. The space's one measure (or numeric column) named or described as
        sold, on a table that refers to the counted one, is the quantity; with "different" or "distinct", the
        referring key is counted once per value. Only when the question has a selling verb and nothing else
        is measured."""
        sold = [t for t in self.g.soft if t.raw in _SELL_VERBS]
        if not sold or self.p.measures or self._never_before(sold[0].i) is not None:
            return False  # "how many products were never sold": the products (see _never_sold)
        distinct = distinct or any(c.role == "distinct" and c.end <= s.start for c in self.cues("distinct"))
        # "how many (different) brands sold electronics": the values of a column of the counted rows, among those sold
        values = entry.kind == "column" and not (entry.is_key or self.lex.label_column(entry.table) is entry)
        if values and entry.ctype != "text":
            return False
        if entry.kind == "table":
            counted = entry.table
        elif entry.kind in ("filter",) and len(entry.tables) == 1:
            counted = entry.tables[0]
        elif entry.kind in ("value", "column"):
            counted = entry.table
        else:
            return False
        found = self._sales_of(counted)
        if found is None:
            return False  # no units sold measure, or its rows do not refer to the counted rows
        units, sales, edge = found
        if values:
            m = Measure("count_distinct", entry, span=s, assumed=f"'{s.text}' counted once each among the rows sold")
            self.rules_of.append(units)
            self.p.related.append(sales)
        elif distinct:
            ref = [self.lex.column(t, c) for t, c in _columns_of(self.lex, edge.on) if t == sales]
            if len(ref) != 1 or ref[0] is None:
                return False
            m = Measure("count_distinct", ref[0], span=s, assumed=f"'{s.text}' counted once each among the rows sold")
            self.rules_of.append(units)  # sold as the space counts sales (completed orders only)
        elif (entry.kind == "table" or s.of("table")) and s.text.lower() not in _UNIT_NOUNS:
            t = counted.split(".")[-1]
            raise Refusal(f"'how many {s.text} ... {sold[0].raw}' could be {units.label} or the number of different "
                          f"{t}; ask for units or for different {t}", words=[s.text],
                          missing=[{"kind": "instruction", "words": s.text, "why": "units or distinct rows"}])
        elif units.kind == "measure":
            m = Measure("snippet", units, span=s, assumed=f"'how many {s.text} ... {sold[0].raw}' read as {units.label}")
        else:
            m = Measure("agg", units, "SUM", s, assumed=f"'how many {s.text} ... {sold[0].raw}' read as the sum of {units.label}")
        if s.role is None:
            self.assign(s, "context", entry)
        self.p.measures.append(m)
        self.g.soft = [t for t in self.g.soft if t not in sold]
        return True

    def _sales_of(self, table: str) -> tuple[Entry, str, Edge] | None:
        """The units sold measure (see `_units_sold`), its one table, and the edge by which that table's rows
        refer to `table`'s (many to one), else None."""
        units = self._units_sold()
        utables = (units.tables if units.kind == "measure" else (units.table,)) if units is not None else ()
        if len(utables) != 1 or utables[0] == table:
            return None
        edge = next((e for e in self.lex.edges if {e.left, e.right} == {utables[0], table} and not e.one_to_one
                     and e.many_to_one is (e.left == utables[0])), None)
        return (units, utables[0], edge) if edge is not None else None

    def _units_sold(self) -> Entry | None:
        """The one measure named "... sold" (units sold), else the one numeric column named or described so."""
        def named(kinds, vias):
            out = []
            for words, items in self.lex.phrases.items():
                if not set(words) & _SOLD_STEMS:
                    continue
                out += [ph.entry for ph in items if ph.entry.kind in kinds and ph.via in vias and ph.entry not in out]
            return out
        ms = [e for e in named(("measure",), ("name", "synonym", "display_name", "alias")) if not e.sql or "SUM(" in e.sql.upper()]
        if len(ms) == 1:
            return ms[0]
        cols = [e for e in named(("column",), ("name", "synonym", "description")) if e.ctype == "number" and not e.is_key]
        if not ms and len(cols) == 1:
            return cols[0]
        if not ms and not cols:
            cols = [e for e in {id(e): e for w in _SOLD_STEMS for e in self.lex.desc_words.get(w, [])}.values()
                    if e.kind == "column" and e.ctype == "number" and not e.is_key]
            return cols[0] if len(cols) == 1 else None
        return None

    def _count_target(self, c: Span) -> tuple[Span, Entry, bool] | None:
        distinct = False
        nxt = self.next(c, frozenset({"the", "of", "our", "all"}))
        skipped = []
        while nxt is not None and (nxt.kind == "cue" and nxt.cue == "distinct" or nxt.kind == "entity"
                                   and (nxt.role == "filter" or not nxt.role and not nxt.of("table", "measure")
                                        and self._before_table(nxt) and not self._counted_values(nxt))
                                   and self._is_adjective(nxt)):
            if nxt.kind == "cue":
                distinct, nxt.role = True, "distinct"
            else:
                skipped.append(nxt)
            nxt = self.next(nxt, frozenset({"the", "of"}))
        if c.text in ("count", "counts") and (nxt is None or nxt.kind != "entity"):
            nxt = self.prev(c)  # "order count", "SKU count"
            while nxt is not None and nxt.kind == "time":
                nxt = self.prev(nxt)
        if nxt is None and not skipped:  # "customers who signed up in 2024 - how many?": the rows named first
            nxt = next((s for s in self.entities() if s.end <= c.start and s.role is None and s.of("table")), None)
            if nxt is None:  # "gold tier members with email opt-in, how many?": the rows a plural filter names
                nxt = next((s for s in self.entities() if s.end <= c.start and s.role == "filter" and s.chosen is not None
                            and s.chosen.kind == "filter" and len(s.chosen.tables) == 1 and self.plural(s)), None)
        if nxt is None or nxt.kind != "entity":
            if skipped:  # "number of completed orders": the filter names the rows counted
                s = skipped[-1]
                return s, s.chosen, distinct
            if nxt is None:
                raise Refusal(f"'{c.text}' is not followed by anything the space knows how to count",
                              words=[w.raw for w in self.g.ungrounded[:3]],
                              missing=[{"kind": "table", "words": " ".join(w.raw for w in self.g.ungrounded[:3]),
                                        "why": "what to count"}])
            return None
        if nxt.role == "measure":
            return nxt, nxt.chosen, distinct  # "how many units": the units measure itself
        rows = skipped[-1] if skipped else None
        kept = (rows.chosen if rows.role == "filter" else (rows.of("filter") or [None])[0]) if rows else None
        if (kept is not None and kept.kind == "filter" and len(kept.tables) == 1 and self.plural(rows)
                and not self.plural(nxt) and nxt.of("table") and kept.tables[0] not in {t.table for t in nxt.of("table")}):
            return rows, kept, distinct  # "how many Platinum members ordered": the members, not the orders
        if nxt.kind == "entity" and not nxt.role and skipped and any(
                c.kind == "column" and any(f.chosen is not None and f.chosen.kind == "value" and f.chosen.table == c.table
                                           and f.chosen.column == c.column for f in skipped) for c in nxt.entries):
            self.assign(nxt, "context", nxt.of("column")[0])  # "bronze loyalty level": the value's own column
            nxt = None
        if nxt is None and skipped:
            s = skipped[0]
            return s, s.chosen, distinct
        if nxt.role == "filter":
            return nxt, nxt.chosen, distinct
        tables, measures, cols = nxt.of("table"), [m for m in nxt.of("measure") if m.is_count], nxt.of("column")
        if measures:
            return nxt, measures[0], distinct
        if tables and (rel := self._relation_verb(nxt, tables[0])) is not None:
            verb, col = rel  # "how many states border Texas": the bordering states, a relation table's column
            self.assign(nxt, "context", tables[0])
            other = next(x for x in self.lex.columns[col.table] if x is not col)
            for i, cond in enumerate(self.p.conds):  # "Texas" is the state bordered: the other column's value
                if cond.kind == "value" and cond.columns == ((col.table, col.column.lower()),) and cond.span is not None \
                        and cond.span.chosen is not None and cond.span.chosen.kind == "value":
                    v = cond.span.chosen.value
                    self.p.conds[i] = Cond(f"{self.lex.sql_of(other)} = {_literal(v)}", (other.table,),
                                           ((other.table, other.column.lower()),), f"{other.label} = {v}", other.path,
                                           cond.span, kind="value")
            return verb, col, True
        if tables and not distinct:
            return nxt, tables[0], distinct
        if cols:
            after = self.next(nxt)
            own = [c for c in cols if after is not None and len(after.of("table")) == 1
                   and c.table == after.of("table")[0].table]
            col = own[0] if own and self._counted_values(nxt) else cols[0]  # "countries have rivers": the rivers' own
            label = self.lex.label_column(col.table)
            if label is col or col.is_key:
                return nxt, self.lex.tables[col.table], False  # "how many (unique) accounts" counts customers
            return nxt, col, distinct
        if tables:
            return nxt, tables[0], False
        filters = nxt.of("filter")
        if filters:
            return nxt, filters[0], distinct
        return None

    def _relation_verb(self, noun: Span, table: Entry) -> tuple[Span, Entry] | None:
        """"states border Texas": a relation table of two text columns (border_info: state_name, border), one
        joined to the noun's table; the other, named right after the noun as its verb, holds the related rows."""
        verb = self.next(noun)
        toks = self.g.tokens
        if verb is not None and verb.kind == "entity" and verb.role == "filter" and verb.start == noun.end + 1 \
                and toks[noun.end].raw in ("does", "do", "did"):  # "how many states does Texas border"
            noun, verb = verb, self.next(verb)
        if verb is None or verb.start != noun.end or verb.kind != "entity" or verb.role \
                or verb.of("table", "measure", "filter", "value"):
            return None
        cols = [c for c in verb.of("column") if c.ctype == "text" and not c.is_key and c.table != table.table
                and len(own := self.lex.columns.get(c.table, [])) == 2 and all(x.ctype == "text" for x in own)
                and any(table.table in (e.left, e.right) and c.table in (e.left, e.right)
                        and dict(_columns_of(self.lex, e.on)).get(c.table) != c.column.lower() for e in self.lex.edges)]
        return (verb, cols[0]) if len(cols) == 1 else None

    def _before_table(self, s: Span) -> bool:
        nxt = self.next(s)
        if s.end < len(self.g.tokens) and self.g.tokens[s.end].raw in ("of", "for", "per"):
            return False  # "citations of publications": what is counted, then whose
        return nxt is not None and nxt.kind == "entity" and bool(nxt.of("table"))

    def _counted_values(self, s: Span) -> bool:
        """"how many countries have rivers": a plural column word with a verb before the rows named next is what is
        counted (its distinct values among those rows), not a word describing them (before, the rivers were
        counted per country)."""
        nxt = self.next(s)
        return self.plural(s) and nxt is not None and nxt.start > s.end and s.of("column") and any(
            self.g.tokens[k].raw in ("have", "has", "had", "with", "contain", "contains") for k in range(s.end, nxt.start))

    def _is_adjective(self, s: Span) -> bool:
        nxt = self.next(s)
        return nxt is not None and nxt.kind == "entity"

    def _count_measure(self, table: Entry, span: Span | None) -> Measure:
        """A count of `table`'s rows: the space's count measure for it when there is one (its rules apply)."""
        key = self.lex.key_column(table.table)
        for e in self.lex.entries:
            if e.is_count and e.tables == (table.table,) and (
                    "count(*)" in e.sql.lower().replace(" ", "") or key is not None and
                    key.column.lower() in e.sql.lower() and "distinct" in e.sql.lower()):
                return Measure("snippet", e, span=span, assumed=f"counting {table.label} is {e.label}",
                               name=f"{table.table.split('.')[-1]} count")
        tallies = [c for c in self.lex.columns.get(table.table, []) if c.ctype == "number" and not c.is_key
                   and c.column.lower() in ("count", "cnt", "counts")]
        if len(tallies) == 1:  # checkin(business_id, day, count): each row already counts its events
            return Measure("agg", tallies[0], "SUM", span, assumed=f"each {table.label.split('.')[-1]} row holds a "
                                                                   f"count ({tallies[0].column}); they are summed")
        return Measure("count", table, span=span)

    def _sales_measure(self) -> Entry | None:
        """The measure the space calls sales or revenue."""
        for w in SALES_WORDS:
            for ph in self.lex.phrases.get((norm(w),), ()):
                if ph.entry.kind == "measure":
                    return ph.entry
        return sales_measure(self.lex)

    def _compared_column(self, s: Span) -> bool:
        nxt = self.next(s)
        prev = self.prev(s)
        return (nxt is not None and nxt.kind == "cue" and nxt.cue == "cmp") or (
            prev is not None and prev.kind == "number" and self.prev(prev) is not None
            and self.prev(prev).kind == "cue" and self.prev(prev).cue == "cmp")

    def _spread(self) -> bool:
        """"the difference in altitude between the highest and lowest mountains": MAX - MIN of the one numeric column
        named (before, 'difference' was read as 'different': distinct altitudes counted per mountain)."""
        toks = self.g.tokens
        at = [k for k, t in enumerate(toks) if (t.fixed_from or t.raw) in ("difference", "gap", "spread")]
        ranks = [r for r in self.cues("rank") if not r.role and at and r.start > at[0]]
        hi = next((r for r in ranks if r.arg == "DESC"), None)
        lo = next((r for r in ranks if r.arg == "ASC"), None)
        if hi is None or lo is None or abs(hi.start - lo.start) > 4 or not any(
                toks[k].raw == "and" for k in range(min(hi.end, lo.end), max(hi.start, lo.start))):
            return False
        cols = [(x, c) for x in self.entities() if not x.role and x.start > at[0] and _numeric(x) is not None
                and (c := self._measured_column(x)) is not None]
        if len({c for _, c in cols}) != 1:
            return False
        for x, c in cols:
            self.assign(x, "measure", c)
        for r in (hi, lo):
            r.role = "agg"
        for x in self.g.spans:
            if x.kind == "cue" and x.start <= at[0] < x.end:
                x.role = "spread"
        self.g.ungrounded = [t for t in self.g.ungrounded if t.i != at[0]]  # "gap", "spread": no cue of their own
        self.p.measures.append(Measure("agg", cols[0][1], "RANGE", cols[0][0],
                                       assumed="the difference between the highest and the lowest value"))
        return True

    def _listed_beside_names(self, s: Span) -> bool:
        """"the names and lengths of the rivers in Egypt", "the rivers and their lengths": each row's own value,
        listed beside its name, not a total over the rows."""
        if self.has("amount") or any(c.arg == "SUM" for c in self.cues("agg")):
            return False
        toks = self.g.tokens
        a, b = s.start - 1, s.end
        col = self._measured_column(s)
        if a >= 0 and toks[a].raw == "their" and col is not None and any(
                x.end <= a and x.of("table") and x.of("table")[0].table == col.table and self.plural(x) for x in self.entities()):
            return True  # "the rivers in Germany and their lengths"
        near = [k for k in (a - 1, b + 1) if 0 <= k < len(toks) and (k == a - 1 and toks[a].raw in ("and", "&")
                                                                    or k == b + 1 and b < len(toks) and toks[b].raw in ("and", "&"))]
        return any(toks[k].raw in ("name", "names") or any(
            x.start <= k < x.end and x.of("table") and self._plural_word(x.end - 1) for x in self.entities()) for k in near)

    def _grouped_later(self, s: Span) -> bool:
        return any(x.kind == "cue" and x.cue == "group" and x.start > s.start for x in self.g.spans) or bool(
            self.cues("versus"))

    # ---- 4. dimensions and the entity
    def _dimensions(self) -> None:
        p = self.p
        seen = []
        for m in list(p.measures):  # "how many restaurants ... by the number of restaurants": one measure
            key = (m.kind, id(m.entry), m.agg)
            if key in seen:
                p.measures.remove(m)
            seen.append(key)
        for c in self.cues("group"):
            if c.text == "across" and c.end < len(self.g.tokens) and self.g.tokens[c.end].raw in ("all", "every"):
                s = self.next(c, frozenset({"all", "every", "the", "our"}))
                if s is not None and s.kind == "entity" and not s.role and s.of("table"):
                    self.assign(s, "context", s.of("table")[0])
                continue  # "across all publications": the total over them, not one row each
            if c.text == "split" and (b := self.prev(c)) is not None and b.end == c.start and b.kind == "entity" \
                    and not b.role and (dim := self._dim_of(b)) is not None and dim.kind != "entity":
                c.role = "group"  # "channel split of sales": broken down by the channel
                self._add_dim(dim, b)
                continue
            s = self.next(c, frozenset({"the", "our", "a", "an"}))
            if s is None or s.kind != "entity":
                continue
            while s.role == "filter" and s.chosen is not None and s.chosen.kind == "value":
                after = self.next(s)  # "for each US store": the stores, among the US ones
                if after is None or after.kind != "entity" or after.start != s.end or after.role:
                    break
                s = after
            after = self.next(s)
            if not s.role and s.of("table") and not self.plural(s) and after is not None and after.kind == "entity" \
                    and after.start == s.end and not after.role and after.of("table", "column") \
                    and not after.of("measure", "value", "filter") and self._describes(s.of("table")[0].table, after):
                self.assign(s, "context", s.of("table")[0])  # "each business category": the categories, of businesses
                s = after
            if s.role == "measure" or (not s.role and s.of("measure") and not s.of("column", "table", "expression")):
                c.role = "order_by_measure"  # "top 5 products by revenue"
                continue
            if s.role != "dimension":
                if s.role:
                    continue
                if self._passive_agent(c, s):
                    continue
                if c.text == "by" and self._value_named_after(s) is not None:
                    continue  # "offered by the department of Mathematics": that department, not a breakdown
                dim = self._dim_of(s)
                if dim is None:
                    continue
                c.role = "group"
                if c.text == "per" and dim.kind == "entity" and p.measures and all(
                        m.kind == "agg" and m.agg == "AVG" and m.entry.table == dim.entry.table for m in p.measures):
                    self.assign(s, "context", dim.entry)  # "average shipping fee per order": each row is one already
                    continue
                if c.text == "per" and dim.kind == "column" and dim.entry.ctype == "number" and not dim.entry.is_key \
                        and len(p.measures) == 1:
                    self.assign(s, "per", dim.entry)  # "revenue per square foot": a rate, not a breakdown
                    p.measures[0].per = dim.entry
                    continue
                self._add_dim(dim, s)
            while (s := self._listed_after(s)) is not None:  # "by region and channel", "by brand, category"
                dim = self._dim_of(s)
                if dim is None or dim.kind == "time":
                    break
                self._add_dim(dim, s)
        # "which X has the most ...", "top 5 X", "3 biggest X", "best X in each Y"
        for r in [*self.cues("rank"), *self.cues("which")]:
            if r.role == "agg":
                continue  # "the lowest rating": read as MIN, nothing is ranked
            s = self.next(r, frozenset({"the", "our", "single", "most", "frequent", "common", "popular"}))
            noun_value = None  # "the 20 biggest-spending consumers": a plural value names its table's rows
            while s is not None and (s.kind == "number" or s.kind == "cue" and s.cue in ("rank", "frequent") or
                                     s.kind == "cue" and s.cue == "growth" and r.cue == "rank" or  # "fastest growing X"
                                     s.kind == "entity" and (s.role == "filter" or s.role in ("measure", "counted") and r.cue == "rank")):
                if s.kind == "entity" and s.role == "filter" and s.chosen.kind == "value" and self.plural(s):
                    noun_value = s
                s = self.next(s, frozenset({"the", "our"}))
            if (s is None or s.kind != "entity") and noun_value is not None and r.cue == "rank" and p.entity is None:
                p.entity = Dim("entity", self.lex.tables[noun_value.chosen.table], noun_value)
                continue
            if r.cue == "rank" and p.entity is None and (ranked := self._ranked_with(r)) is not None:
                s = ranked  # "the store with the most orders": the rows named before "with"
            if s is None or s.kind != "entity" or s.role:
                continue
            if r.cue == "which" and not (p.measures or self.has("rank") or self.has("count")):
                continue
            if r.cue == "which" and not (self.has("rank") or self._frequency()) and self.has("count"):
                continue  # "which ... how many": counted elsewhere
            dim = self._dim_of(s)
            if dim is None or dim.kind == "time" or dim.kind == "column" and dim.entry.ctype == "number":
                continue  # "the highest ratings" is what rows are ranked by
            s.role = "entity"
            s.chosen = dim.entry
            p.entity = dim
        first = self.entities()[0] if self.entities() else None
        if p.entity is None and p.measures and first is not None and self._kept_by_threshold(first):
            dim = self._dim_of(first)  # "stores with over 400 orders in 2024": those stores, listed
            if dim is not None and dim.kind == "entity":
                first.role, first.chosen = "entity", dim.entry
                p.entity = dim
        # several values of one column listed ("flagship, standard and online stores"): break down by it
        by_col: dict = {}
        for c in p.conds:
            if c.kind == "value" and len(c.columns) == 1 and " IN (" in c.sql and not (
                    self._both is not None and (self._both[0].table, self._both[0].column.lower()) == c.columns[0]):
                by_col[c.columns[0]] = c  # not "both A and B": the rows with each, not a breakdown
        # "what % of customers are Gold or Platinum": one part; "what is the combined population of Texas and California":
        # one total (the words "total", "combined" or "sum" before the values)
        summed = any(c.arg == "SUM" and c.text in ("total", "combined", "sum of", "sum", "in total") and
                     c.start < min((x.span.start for x in by_col.values() if x.span is not None), default=0)
                     for c in self.cues("agg"))
        listing = self.has("which") and not self.cues("share") and not (summed and not self._listing())
        if by_col and (self.has("breakdown") or self.has("group") or self.cues("versus") or listing):
            for (table, column), c in by_col.items():
                col = self.lex.column(table, column)
                if not any(d.entry is col for d in p.dims):
                    self._add_dim(Dim("column", col, c.span), None)
                for x in self.entities():
                    if x.role is None and any(e.kind == "table" and e.table == table for e in x.entries):
                        self.assign(x, "context", self.lex.tables[table])
                for b in self.cues("breakdown"):
                    b.role = "group"
        # values listed with "vs" or "each": break down by their column
        for c in [*self.cues("versus")]:
            items = [x for x in (self.prev(c), self.next(c)) if x is not None and x.kind == "entity"]
            for x in items:
                col = self._column_of_value_span(x)
                if col is not None and x.role is None and col.ctype == "number" and not col.is_key and additive(col) \
                        and any(y.role == "measure" for y in items if y is not x):
                    self.assign(x, "measure", col)  # "gross merchandise value vs net revenue": two totals
                    p.measures.insert(0, Measure("agg", col, "SUM", x, assumed="a quantity beside a measure is its sum"))
                    c.role = "versus"
                    continue
                if col is not None:
                    c.role = "versus"
                    if not any(d.entry is col for d in p.dims):
                        self._add_dim(Dim("column", col, x), None)
        for s in self.entities():
            if s.role or s.of("value", "measure", "filter"):
                continue
            nxt = self.next(s)
            if nxt is None:
                continue
            if (nxt.kind == "entity" and nxt.role == "measure") or (
                    nxt.kind == "cue" and nxt.cue in ("share", "breakdown")):
                if self._qualified_rows(s):
                    continue  # "how much did Corporate customers spend": the value names which rows, not a breakdown
                if (nxt.kind == "entity" and nxt.text.lower() in ("volume", "volumes") and s.end == nxt.start
                        and s.of("table") and not self.plural(s)):
                    t = s.of("table")[0]  # "order volume": the number of orders, not the units measure
                    p.measures = [m for m in p.measures if m.span is not nxt]
                    self.assign(s, "counted", t)
                    self.assign(nxt, "context", t)
                    p.measures.append(self._count_measure(t, s))
                    continue
                dim = self._dim_of(s)
                if dim is not None and dim.kind == "entity" and self.lex.label_column(dim.entry.table) is None:
                    continue  # "order volume" is not a breakdown by order id
                if dim is not None and dim.kind != "time":
                    self._add_dim(dim, s)
                    if nxt.kind == "cue" and nxt.cue == "breakdown":
                        nxt.role = "group"
        if self.cues("group") and not p.dims and not p.entity:
            each = [c for c in self.cues("group") if c.text in ("each", "every") and not c.role]
            vals = [c for c in p.conds if c.kind == "value"]
            if each and len(vals) == 1:  # "outlets, flagships and online stores each"
                col = self.lex.column(*vals[0].columns[0])
                self._add_dim(Dim("column", col, vals[0].span), None)
                each[0].role = "group"
        # a vs-list names the column's values; a filter to all of them is only kept when they are a subset
        for d in p.dims:
            if d.kind == "column":
                mine = [c for c in p.conds if c.kind == "value" and c.columns == ((d.entry.table, d.entry.column.lower()),)]
                mentions = [x for x in self.entities() if x.role is None and d.entry in x.entries]
                for x in mentions:
                    self.assign(x, "dimension", d.entry)
                if mine and mentions and self._all_values(d.entry, mine):
                    for c in mine:
                        p.conds.remove(c)

    def _ranked_with(self, r: Span) -> Span | None:
        """"the store with the most orders": an unassigned noun right before "with (the)" a ranking."""
        k = r.start
        if k > 0 and self.g.tokens[k - 1].raw == "the":
            k -= 1
        if k == 0 or self.g.tokens[k - 1].raw != "with":
            return None
        s = self.prev(r, frozenset({"with", "the"}))
        if s is None or s.kind != "entity" or s.role or s.end != k - 1 or s.of("measure") or self.plural(s):
            return None
        return s

    def _adjective_filters(self, s: Span, table: str) -> None:
        """"how many physical stores": a filter word of the counted table right before its noun keeps its rows."""
        b = self.prev(s)
        while b is not None and b.kind == "entity" and b.role is None and b.end == s.start:
            fs = [e for e in b.of("filter") if e.tables == (table,)]
            if not fs:
                return
            self.assign(b, "filter", fs[0])
            self.p.conds.append(Cond(fs[0].sql, fs[0].tables, _columns_of(self.lex, fs[0].sql), fs[0].label, fs[0].path, b))
            s, b = b, self.prev(b)

    def _qualified_rows(self, s: Span) -> bool:
        """A table noun right after a value of that table ("Gold tier customers"): the rows it names."""
        tables = {t.table for t in s.of("table")}
        if not tables:
            return False
        cur, b = s, self.prev(s)
        while (b is not None and b.end == cur.start and b.kind == "entity" and b.role in (None, "context")
               and any(e.kind == "column" and e.table in tables for e in b.entries)):
            cur, b = b, self.prev(b)  # "Gold tier customers": the column's name between value and noun
        return (b is not None and b.end == cur.start and b.kind == "entity" and b.role == "filter"
                and b.chosen is not None and b.chosen.kind == "value" and b.chosen.table in tables)

    def _add_dim(self, dim: Dim, s: Span | None) -> None:
        if s is not None:
            self.assign(s, "dimension", dim.entry)
        if not any(d.entry is dim.entry and d.grain == dim.grain for d in self.p.dims):
            self.p.dims.append(dim)

    def _dim_of(self, s: Span) -> Dim | None:
        """What to break down by for a span: an expression, a column (synonyms first), a table's label."""
        exprs = s.of("expression")
        cols = s.of("column")
        tables = s.of("table")
        by_via = {id(p.entry): p.via for p in s.phrases}
        near = self._measure_tables()
        # a column of the measured table first ("mountains in each country": mountain.country_name)
        said = set(norms(s.text))  # "course ID": course.course_id before area.course_id
        # then a column of a table the question names ("customers ... by country": the customers' country)
        named = {t for x in self.entities() if x is not s and x.role and x.chosen is not None
                 for t in ((x.chosen.table,) if x.chosen.kind in ("table", "column", "value") else x.chosen.tables)}
        named |= {t.table for x in self.entities() if x is not s and not x.role for t in x.of("table")}  # "lakes"
        cols = sorted(cols, key=lambda c: (c.table not in near, c.table not in named, c.ctype == "number" and not c.is_key,
                                           by_via[id(c)] != "synonym", not set(norms(c.table.split(".")[-1])) <= said,
                                           c.is_key, self.lex.label_column(c.table) is c))
        if exprs:
            return Dim("expression", exprs[0], s)
        if cols and (by_via[id(cols[0])] == "synonym" or not tables or cols[0].table in near and
                     all(t.table not in near for t in tables)):
            c = cols[0]
            if c.ctype == "date":
                if not set(s.text.lower().split()) & _DAY_WORDS and by_via[id(c)] != "name":
                    return None  # "units per transaction": "transaction" (of "transaction date") is no day grain
                return Dim("time", c, s, grain="day")
            if self.lex.label_column(c.table) is c or c.is_key:
                return Dim("entity", self.lex.tables[c.table], s)
            return Dim("column", c, s)
        if tables:
            own = self._own_label_column(tables[0].table, near)
            if own is not None:
                return Dim("column", own, s)
            return Dim("entity", tables[0], s)
        return None

    def _own_label_column(self, table: str, near: set[str]) -> Entry | None:
        """"lakes in each state", where lake.state_name joins state.state_name, state's name column: the
        measured rows' own column already holds each state's name, so they are grouped by it (no join that
        would drop rows whose state the other table lacks)."""
        label = self.lex.label_column(table)
        if label is None:
            return None
        for e in self.lex.edges:
            if table not in (e.left, e.right) or e.other(table) not in near:
                continue
            sides = dict(_columns_of(self.lex, e.on))  # table -> its column in the join condition
            if len(sides) == 2 and sides.get(table) == label.column.lower():
                other = e.other(table)
                return self.lex.column(other, sides.get(other, ""))
        return None

    def _measure_tables(self) -> set[str]:
        out: set[str] = set()
        for m in self.p.measures:
            out.update(_measure_tables(m))
        return out

    def _column_of_value_span(self, s: Span) -> Entry | None:
        if s.role == "filter" and s.chosen is not None and s.chosen.kind == "value":
            return self.lex.column(s.chosen.table, s.chosen.column)
        cols = s.of("column")
        return cols[0] if cols and not s.role else None

    def _overall_measure(self, c: Span, nxt: Span) -> Measure | None:
        """"above the overall AOV", "below the total return rate": a measure the answer also shows per row,
        named again after the comparison word, is compared with its value over all rows."""
        if nxt.kind != "entity" or nxt.role not in ("measure", None):
            return None
        m = next((m for m in self.p.measures if m.span is not None and m.span is not nxt and m.entry is not None
                  and m.entry in nxt.entries), None)
        if m is None:
            return None
        self.assign(nxt, "measure", m.entry)
        self.p.measures = [x for x in self.p.measures if x.span is not nxt]
        return m

    def _frequency(self) -> bool:
        return bool(self.cues("frequent")) or self._count_by_frequency

    def _more_than_average(self) -> None:
        """"stores with more orders than the average store": the amount between "more" and "than" per row
        against its average over the rows ("fewer" / "less": below it)."""
        found = self._more_than()
        if found is None:
            return
        more, k = found
        avg = next((s for s in self.cues("agg") if s.arg == "AVG" and s.start in (k + 1, k + 2) and not s.role), None)
        if avg is None:
            return
        amount = [s for s in self.entities() if more < s.start < k]
        if len(amount) != 1:
            return
        a = amount[0]
        m = next((x for x in self.p.measures if x.span is a), None)
        if m is None and a.role in (None, "counted") and a.of("table"):
            m = self._count_measure(a.of("table")[0], a)
            self.p.measures.append(m)
            self.assign(a, "counted", a.of("table")[0])
        if m is None:
            return
        avg.role = "compare"
        after = self.next(avg, frozenset({"the"}))
        if after is not None and after.kind == "entity" and not after.role and after.of("table"):
            self.assign(after, "context", after.of("table")[0])  # "the average store": the rows averaged over
        self.p.compares.append(Compare(">" if self.g.tokens[more].raw == "more" else "<", 0.0, m, avg, against_average=True))
        self._compared_than = True
        self.g.ungrounded = [t for t in self.g.ungrounded if t.i != more]  # "fewer" says which way
        for w in self.cues("which"):  # "which customers placed more orders than ...": those customers, listed
            s = self.next(w)
            if self.p.entity is None and s is not None and s.kind == "entity" and not s.role and s.of("table"):
                self.assign(s, "entity", s.of("table")[0])
                self.p.entity = Dim("entity", s.of("table")[0], s)
        if self.p.entity is None and after is not None and after.role == "context" and not self.has("count"):
            t = after.of("table")[0]  # "stores with fewer orders than the average store": those stores, listed
            rows = [s for s in self.entities() if s.start < more and s is not a and s.of("table")
                    and s.of("table")[0].table == t.table and s.role in (None, "counted")]
            if rows:
                s = rows[0]
                self.p.measures = [x for x in self.p.measures if x.span is not s]
                s.role = None
                self.assign(s, "entity", t)
                self.p.entity = Dim("entity", t, s)

    def _between_numbers(self) -> None:
        """"cities with a population between 100000 and 1000000": the numeric column before "between" within
        both numbers, ends included (as SQL's BETWEEN)."""
        toks = self.g.tokens
        for k, t in enumerate(toks[:-3]):
            a, b = self.g.span_at(k + 1), self.g.span_at(k + 3)
            if t.raw != "between" or toks[k + 2].raw != "and" or a is None or b is None or a.kind != "number" \
                    or b.kind != "number" or a.role or b.role:
                continue
            col = self.g.before_token(k, frozenset({"a", "an", "the", "of", "with", "is", "are"}))
            cols = _numeric_columns(col) if col is not None and col.kind == "entity" and col.role in (None, "compared") else []
            listed = self._listed_tables()
            cols = [c for c in cols if c.table in listed] or cols
            if not cols:
                continue
            self.assign(col, "compared", cols[0])
            for n, op in ((a, ">="), (b, "<=")):
                n.role = "compare"
                self.used_numbers.add(n.start)
                self.p.compares.append(Compare(op, n.value, cols[0], n))
            self.g.ungrounded = [x for x in self.g.ungrounded if x.i not in (k, k + 2)]

    def _column_before(self, c: Span) -> Span | None:
        """The unassigned number-column span right before a comparison word ("population" in "a population
        larger than Houston")."""
        b = self.prev(c)
        if b is None or b.kind != "entity" or b.role or b.end != c.start or _numeric(b) is None:
            return None
        return b

    def _compared_by(self, c: Span, after: Span | None, before: Span | None) -> Entry | None:
        """"rivers longer than 600 meters": a comparative naming no column compares the rows' own length (size,
        height), where the rows have one such column."""
        if c.text not in _COMPARED_BY or any(x is not None and x.kind == "entity" and _numeric(x) is not None
                                              for x in (after, before)):
            return None
        tables = self._listed_tables() or {x.of("table")[0].table for x in self.entities() if x.of("table")}
        cols = [col for t in sorted(tables) for w in _COMPARED_BY[c.text]
                if (col := self._rank_column(t, w, own=True)) is not None]
        return cols[0] if len(cols) == 1 else None

    def _listed_tables(self) -> set[str]:
        """The tables of the rows the question lists ("which customers ..."), whose own count is never what
        their rows are compared by."""
        which = self._which_table()
        return {d.entry.table for d in [self.p.entity] if d is not None and d.entry is not None} | (
            {which[0].table} if which else set())

    def _company_average(self, c: Span) -> Measure | None:
        """"stores with an AOV above the company average": the measure named before the comparison, against its
        value over all rows (the company's, the overall one), not the average of the rows' values."""
        avg = self.next(c, _OVERALL_WORDS)
        if avg is None or avg.kind != "cue" or avg.cue != "agg" or avg.arg != "AVG":
            return None
        said = [t for t in self.g.tokens[c.end:avg.start] if t.raw in _OVERALL_WORDS and t.raw not in ("the", "our")]
        before = self.prev(c, frozenset({"a", "an", "of", "with", "that", "have", "has", "had"}))
        m = next((m for m in self.p.measures if before is not None and m.span is before), None)
        if not said or m is None:
            return None
        avg.role = "compare"
        self.g.ungrounded = [t for t in self.g.ungrounded if t not in said]
        return m

    def _more_than(self) -> tuple[int, int] | None:
        """(position of "more" / "less" / "fewer", position of "than") in "more orders than ...", not in the
        comparison cue "more than"."""
        toks = [t.raw for t in self.g.tokens]
        if "than" not in toks:
            return None
        k = toks.index("than")
        more = [i for i in range(k) if toks[i] in ("more", "less", "fewer") and toks[i + 1] != "than"]
        return (more[0], k) if more else None

    # ---- 5. comparisons: "more than 5 orders", "rating above 4", "spent over $5,000"
    def _comparisons(self) -> None:
        p = self.p
        self._more_than_average()
        self._between_numbers()
        for c in self.cues("cmp"):
            postfix = c.text in ("or more", "or less", "or fewer")  # "3 or more orders": the number comes first
            num = self.prev(c) if postfix else self.next(c)
            if postfix and (num is None or num.kind != "number" or num.end != c.start):
                raise Refusal(f"'{c.text}' does not follow a number", words=[c.text])
            avg = None
            if num is not None and num.kind == "cue" and num.cue == "agg" and num.arg == "AVG":
                avg, num = num, None
            if num is None and not postfix and (whole := self._company_average(c)) is not None:
                c.role = "cmp"  # "an AOV above the company average": each row's against all rows'
                p.compares.append(Compare(c.arg or ">", 0.0, whole, c, against_total=True))
                continue
            if num is None and avg is None:
                if c.text == "over" or c.text == "under":
                    c.role = "filler"
                    continue
                raise Refusal(f"'{c.text}' is not followed by a number", words=[c.text])
            if num is not None and num.kind == "entity" and not num.role:
                rows = [v for v in num.of("value") if self._names_row(v)]
                col = self._compared_by(c, None, self.prev(c, frozenset({"a", "an", "of", "with", "that", "are", "is"}))) \
                    if c.text in _COMPARED_BY else None
                named = self._column_before(c)  # "a population larger than Houston": that city's population
                if col is None and named is not None and len(rows) == 1:
                    col = next((x for x in _numeric_columns(named) if x.table == rows[0].table), None)
                    if col is not None:
                        self.assign(named, "compared", col)
                if len(rows) == 1 and col is not None and col.table == rows[0].table:
                    c.role = "cmp"  # "which lakes are larger than Lake Erie": than that lake's area
                    self.assign(num, "compare", rows[0])
                    p.compares.append(Compare(c.arg or ">", 0.0, col, c, against_row=rows[0]))
                    continue
            if num is not None and num.kind != "number":
                whole = self._overall_measure(c, num)
                if whole is not None:  # "an AOV above the overall AOV": each row's against all rows'
                    c.role = "cmp"
                    p.compares.append(Compare(c.arg or ">", 0.0, whole, c, against_total=True))
                    continue
                if c.text in ("over", "under"):
                    c.role = "filler"  # "over time", "under the brand"
                    continue
                raise Refusal(f"'{c.text}' is not followed by a number", words=[c.text])
            c.role = "cmp"
            unit = self.next(num) if num is not None else None
            percent = unit is not None and unit.kind == "cue" and unit.cue == "share" and unit.start == num.end \
                and unit.text in ("percent", "per cent", "pct", "%", "percent of")
            if percent:
                unit.role = "unit"  # "a discount above 20%": the number's unit, not a share to compute
            if num is not None:
                self.used_numbers.add(num.start)
                num.role = "compare"
            else:
                avg.role = "compare"
            # target: the thing after the number ("5 orders", "$5,000 net spend") or before the cue ("rating above 4")
            lead = c if postfix else (num or avg)
            after = self.next(lead, frozenset({"in", "of"}))
            if after is not None and any(t.raw not in ("in", "of", "the", "a", "an", "our") and t.raw not in _UNIT_WORDS
                                         for t in self.g.tokens[lead.end:after.start]):
                after = None  # "rating above 4 to restaurants ...": the next noun is not what is compared
            ent_table = p.entity.entry.table if p.entity is not None and p.entity.entry is not None else None
            if avg is not None and after is not None and after.kind == "entity" and (
                    not after.role or after.role == "dimension" and ent_table is not None):
                named = after.of("table") or [self.lex.tables[c.table] for c in after.of("column")
                                              if self.lex.label_column(c.table) is c] or (
                    [p.entity.entry] if p.entity is not None and p.entity.entry in after.entries else [])  # "category"
                then = self.next(after)  # "the average store revenue": the average over stores of the revenue
                if named and then is not None and then.kind == "entity" and (
                        then.role == "measure" or not then.role and (then.of("measure") or _numeric(then) is not None)) and (
                        after.role is None or named[0].table == ent_table):
                    p.dims = [d for d in p.dims if d.span is not after]
                    after.role = None
                    self.assign(after, "context", named[0])
                    after = then
            if (avg is not None and after is not None and after.kind == "entity" and not after.role and after.of("table")
                    and not after.of("measure") and p.measures and (all(m.kind == "count" for m in p.measures) or any(
                        m.kind != "count" and m.span is not None and m.span.end <= c.start for m in p.measures))):
                # "how many customers spent more than the average customer": the customers are averaged over,
                # what is compared is the amount the verb names
                self.assign(after, "context", after.of("table")[0])
                after = None
            before = self.prev(c, frozenset({"a", "an", "of", "with", "that", "have", "has", "had"}))
            target = self._compared_by(c, after, before)
            for s in (after, before) if target is None else ():
                if s is None or s.kind != "entity":
                    continue
                if s.role == "measure" or s.role == "counted" and s is after and s.of("table") and \
                        s.of("table")[0].table not in self._listed_tables():  # "over 400 orders": their count
                    target = next((m for m in p.measures if m.span is s), None)
                elif s.role == "filter" and s.chosen is not None and s.chosen.kind == "filter":
                    counts = [m for m in s.of("measure") if m.is_count]
                    target = (Measure("snippet", counts[0], span=s) if counts
                              else self._count_measure(self.lex.tables[s.chosen.tables[0]], s))
                elif not s.role and s.of("measure"):
                    m = Measure("snippet", s.of("measure")[0], span=s)
                    self.assign(s, "measure", m.entry)
                    target = m
                elif not s.role and s.of("table"):
                    t = s.of("table")[0]
                    self.assign(s, "counted", t)
                    target = self._count_measure(t, s)
                elif (not s.role or s.role == "measure") and _numeric(s) is not None:
                    listed = self._listed_tables()  # "states with an area larger than 5000": the states' area
                    owner = self._owner_before(s)  # "states with a city with a population over 1 million"
                    target = next((c for c in _numeric_columns(s) if c.table == owner), None) or next(
                        (c for c in _numeric_columns(s) if c.table in listed), _numeric(s))
                    which = self._which_table() if p.entity is None else None
                    ent = p.entity.entry if p.entity is not None else which[0] if which else None
                    if avg is not None and ent is not None and ent.table != target.table and s.role is None:
                        if which is not None and which[1].role is None:
                            self.assign(which[1], "entity", ent)
                            p.entity = Dim("entity", ent, which[1])
                        # "which customers had revenue above the average": each customer's total against the
                        # average customer's, not single sales rows against the average sale
                        m = next((x for x in p.measures if x.entry is target), None) or Measure(
                            "agg", target, "SUM", s, assumed=f"'{s.text}' of each {ent.table.split('.')[-1]} row summed")
                        if m not in p.measures:
                            p.measures.append(m)
                        self.assign(s, "measure", target)
                        target = m
                    elif avg is None and s.role is None and (per := self._summed_per_counted_row(target)) is not None:
                        # "how many stores had more than 400 in revenue": each store's total, not single orders
                        p.measures.append(per)
                        self.assign(s, "measure", target)
                        target = per
                    else:
                        self.assign(s, "compared", target)
                if target is not None:
                    break
            if target is None and self.sold_at & set(range(c.start - 3, c.start)):
                target = next((m for m in p.measures if m.assumed), None)  # the sales measure the verb named
            derived = "growth" if self.has("growth") else "share" if [
                x for x in self.cues("share") if x is not unit] or (percent and unit.text.endswith(" of")) else None
            amount = isinstance(target, Measure) and additive_measure(target) or isinstance(target, Entry) and not (
                self._rate_column(target) if target.kind == "column" else False)
            if (target is None or amount) and percent and derived is not None and num is not None:
                # "regions that grew sales by more than 10%", "a share of revenue above 15%": the growth or share
                # computed per row is compared, never the amount itself with a percentage
                p.derived_cmp.append((derived, c.arg or ">", num.value))
                if derived == "share" and unit.text.endswith(" of"):
                    unit.role = None  # "more than 20% of 2024 sales": also the share asked
                if isinstance(target, Measure) and target not in p.measures and target.span is not None:
                    target.span.role = None
                elif isinstance(target, Entry) and s is not None and s.role == "compared":
                    s.role, s.chosen = None, None  # the amount is what the share is taken of
                    if not p.measures:
                        self.assign(s, "measure", target)
                        p.measures.append(Measure("agg", target, "SUM", s, assumed="amounts are summed"))
                continue
            if target is None:
                soft = [t for t in self.g.soft if t.i in range(c.start - 3, c.start)]
                sales = self._sales_measure() if soft else None
                if sales is not None:
                    target = Measure("snippet", sales, assumed=f"'{soft[0].raw}' read as {sales.label}")
                    self.g.soft = [t for t in self.g.soft if t not in soft]
                else:
                    raise Refusal(f"nothing the space knows is compared with '{c.text} {num.text if num else 'average'}'",
                                  missing=[{"kind": "measure", "why": f"compared with {num.text if num else 'average'}"}])
            op = c.arg or ">"
            value = num.value if num is not None else 0.0
            if percent and isinstance(target, Entry) and self.lex.is_fraction(target):
                value = value / 100  # disc_pct holds 0.10 for 10%
            p.compares.append(Compare(op, value, target, c, against_average=avg is not None))
        for num in [s for s in self.g.spans if s.kind == "number" and s.role is None and s.start not in self.used_numbers]:
            k = num.start  # "reviews with a rating of 5": a numeric column's value
            if k < 2 or self.g.tokens[k - 1].raw != "of":
                continue
            col = self.g.span_at(k - 2)
            target = _numeric(col) if col is not None and col.kind == "entity" and col.role in (None, "compared") else None
            if target is None or num.money:
                continue
            self.assign(col, "compared", target)
            num.role = "compare"
            self.used_numbers.add(num.start)
            p.compares.append(Compare("=", num.value, target, num))

    # ---- 6. ordering and limits
    def _which_dated_rows(self) -> None:
        """"which products launched in 2024 sold best": the words naming the launch date also name the products
        ranked (their table's noun is in them); before, the products were dropped and one total ordered."""
        p = self.p
        if not (p.order and p.measures and p.entity is None and not p.dims and not p.grains and p.shape == "plain"):
            return
        for w in self.cues("which"):
            x = self.next(w, frozenset({"the", "our"}))
            if x is not None and x.role == "date" and x.chosen is not None and x.chosen.kind == "column" \
                    and set(norms(x.chosen.table.split(".")[-1])) & set(norms(x.text)):
                p.entity = Dim("entity", self.lex.tables[x.chosen.table], x)
                plural = any(self._plural_word(k) for k in range(x.start, x.end))  # "products launched"
                if p.limit is None and not plural and any(self._number_near_free(r) for r in self.cues("rank")):
                    p.limit = 1
                return

    def _period_of_counted(self) -> None:
        """"which month of 2024 had the most returns": the space's "Order month" truncates the orders' date, but
        the returns counted are dated by their own column; the month is theirs (a grain on that date), as in
        "returns per month". Before, the returns were grouped by their orders' month."""
        p, d = self.p, self.p.entity
        if d is None or d.kind != "expression" or p.date is not None or not p.measures \
                or any(m.kind != "count" or m.entry is None for m in p.measures):
            return
        trunc = re.fullmatch(r"DATE_TRUNC\('(\w+)',\s*(\w+)\.`?\w+`?\)", d.entry.sql.strip(), re.I)
        counted = {m.entry.table for m in p.measures}
        if trunc is None or len(counted) != 1:
            return
        table = counted.pop()
        if self.lex.aliases[table] == trunc.group(2) or len(self.lex.date_columns(table)) != 1:
            return
        p.entity = None
        p.grains.append(Dim("time", None, d.span, grain=trunc.group(1).lower()))
        p.notes.append(f"'{d.span.text}' read as the month of the {table.split('.')[-1]} date, the rows counted")

    def _ordering(self) -> None:
        p = self.p
        ranks = [r for r in self.cues("rank") if r.role != "agg"]
        # "the top 2 publications with the fewest citations": "top" counts, the superlative read as the
        # aggregate (MIN) says the direction
        least = {r.arg for r in self.cues("rank") if r.role == "agg"}
        for r in ranks:
            r.role = "rank"
            nxt = self.next(r)
            if nxt is not None and nxt.kind == "cue" and nxt.cue == "frequent":
                nxt.role = "frequent"  # "most frequent customer by number of orders"
            p.order = least.pop() if r.text == "top" and len(least) == 1 else r.arg
            n = self._number_near(r)
            if n is not None:
                p.limit = int(n.value)
            p.rank_all = r.text in ("rank", "ranking", "ranked") and p.limit is None
            k = r.start - 1  # "the second longest river": one row, after the one ranked first
            if k >= 0 and self.g.tokens[k].raw in ORDINALS and p.limit in (None, 1):
                p.offset, p.limit = ORDINALS[self.g.tokens[k].raw] - 1, 1
        if ranks and p.limit is None:
            which = self.cues("which")
            for w in which:
                n = self.next(w)
                if n is not None and n.kind == "number" and n.start not in self.used_numbers:
                    self.used_numbers.add(n.start)
                    n.role = "limit"
                    p.limit = int(n.value)
            if p.limit is None and p.entity is not None and p.entity.span is not None and not self.plural(p.entity.span):
                p.limit = 1  # "which brand moved the most units", "the most frequent customer"
            if p.limit is None and p.entity is None and len(p.grains) == 1 and not p.dims:
                g = p.grains[0].span  # "the busiest day of the week": the one top period
                if g is not None and any(self.next(r, frozenset({"the"})) is g for r in [*ranks, *self.cues("which")]) \
                        and not self._plural_word(g.start):
                    p.limit = 1
        for o in self.cues("order"):
            o.role = "order"
            nxt = self.next(o, frozenset({"the", "their", "its"}))
            if o.arg is None and nxt is not None and nxt.kind == "entity" and nxt.role in (None, "dimension", "entity") \
                    and nxt.of("column"):
                named = {e.table for x in self.entities() if x is not nxt for e in x.of("table")}
                col = next((d.entry for d in [*p.dims, *([p.entity] if p.entity else [])]
                            if d.entry is not None and d.entry in nxt.entries), None) or next(
                    (c for c in nxt.of("column") if c.table in named), nxt.of("column")[0])  # "states ... by area": theirs
                if nxt.role is None:
                    self.assign(nxt, "ordering", col)
                p.order_by = col
                after = self.next(nxt)
                if after is not None and after.kind == "cue" and after.cue == "order" and after.arg:
                    p.order_by_dir = after.arg
                elif p.order is None:
                    p.order_by_dir = "ASC"  # "states ordered by area": as SQL orders, unless a direction is said
                continue
            if o.arg:
                if p.order_by is not None:
                    p.order_by_dir = o.arg
                else:
                    p.order = o.arg
            elif p.order is None:
                p.order = "ASC"  # "ordered by area": as SQL orders, ascending, unless a direction is said

    def _limit_number(self, s: Span | None) -> bool:
        """A whole number not used yet, small enough to be how many rows are asked for."""
        return s is not None and s.kind == "number" and s.start not in self.used_numbers and s.value == int(s.value) \
            and 0 < s.value < 10000

    def _kept_by_column(self) -> list[Compare]:
        """The comparisons of a row's own column with a number ("a population over 1 million")."""
        return [c for c in self.p.compares if isinstance(c.target, Entry) and c.against_row is None and not c.against_average]

    def _part_kept(self, c: Compare) -> Cond:
        """The comparison of a row's own column, taken out of the WHERE clause as the part of a share."""
        self.p.compares.remove(c)
        col = c.target
        value = int(c.value) if float(c.value).is_integer() else c.value
        return Cond(f"{self.lex.sql_of(col)} {c.op} {value}", (col.table,), ((col.table, col.column.lower()),),
                    f"{col.column} {c.op} {value}", col.path, c.span)

    def _number_near(self, r: Span) -> Span | None:
        for s in (self.next(r), self.prev(r)):
            if self._limit_number(s):
                self.used_numbers.add(s.start)
                s.role = "limit"
                return s
        return None

    # ---- 7. the shape that composes measures, dimensions and filters
    def _shape(self) -> None:
        p = self.p
        if self._ratio() or self._difference():
            return
        for c in self.cues("cumulative"):  # "cumulative revenue by month": summed up period by period
            if len(p.measures) == 1 and len(p.grains) == 1 and additive_measure(p.measures[0]):
                c.role = "cumulative"
                p.cumulative = True
        share = [c for c in self.cues("share") if not c.role]
        growth = [c for c in self.cues("growth") if not c.role]
        if share and (growth or p.growth_grain) and all(c.text in ("percent", "in percent", "percentage")
                                                       for c in share):
            for c in share:
                c.role = "unit"  # "growth in percent", "% change"
            share = []
        for c in share:  # "refunds as a percentage of revenue": one quantity over another, not a rate of rows
            as_ = c.text.startswith("as a") or c.start > 0 and self.g.tokens[c.start - 1].raw == "as"  # "as % of"
            whole = self.next(c, frozenset({"of"})) if as_ else None
            part = self.prev(c, frozenset({"as"}))
            if whole is not None and whole.kind == "entity" and whole.role == "measure" and part is not None \
                    and part.kind == "entity" and part.role != "measure":
                raise Refusal(f"'{self.g.surface(part.start, whole.end)}' divides one amount by another; the offline "
                              f"engine reads '{part.text}' as {part.chosen.label if part.chosen else 'no measure'}, "
                              f"not an amount", words=[part.text],
                              missing=[{"kind": "measure", "words": part.text, "why": "ratio of two measures"}])
        if share:
            for c in share:
                c.role = "share"
            if not p.measures:
                self._measure_for_share()
            parts = self._share_parts()
            # "share of returns by reason": how the returns split across reasons, not a return rate per reason
            spread = bool(p.dims or p.entity) and len(parts) == 1 and parts[0].kind == "filter" and any(
                c.text in ("share of", "percentage of", "percent of", "proportion of", "fraction of")
                and parts[0].span is not None and self._next_past_periods(c) is parts[0].span for c in share)
            rate = None if spread else self._rate_measure(parts)
            if spread:
                part = parts[0]
                p.conds.append(part)
                if not p.measures:
                    p.measures = [self._count_measure(self.lex.tables[part.tables[0]], part.span)]
                parts = []
            if rate is None and any(c.text in ("rate", "rates") for c in share) and not [
                    c for c in parts if c.kind in ("filter", "value")]:
                raise Refusal("the question asks for a rate but the space defines no measure or filter for it",
                              words=[c.text for c in share],
                              missing=[{"kind": "measure", "words": self.g.surface(share[0].start - 1, share[0].end),
                                        "why": "rate"}])
            if rate is not None:  # the space defines this share: "Return rate (%)"
                p.measures = [Measure("snippet", rate, assumed=f"the share of {parts[0].label} is {rate.label}")]
                for c in parts:
                    if c.span is not None:
                        c.span.role, c.span.chosen = "measure", rate
                parts = []
                p.shape = "plain"
            elif parts and len(kept := self._kept_by_column()) == 1 and kept[0].span is not None and all(
                    c.span is not None and c.span.start < kept[0].span.start and c.kind in ("filter", "value") for c in parts):
                # "what percentage of lakes in the United States have an area over 1000": the value names the whole
                # (kept as a filter), the comparison after it the part
                p.conds.extend(parts)
                p.share_part = [self._part_kept(kept[0])]
                p.shape = "share_of"
            elif parts:
                p.shape = "share_of"
                p.share_part = parts
            elif rate is None and p.weekdays and not p.dims and p.entity is None:
                # "share of 2024 orders placed on weekends": the weekday rows are the part, the year's rows the whole
                p.shape = "share_of"
                p.share_part = [Cond("", (), (), "on " + " and ".join(sorted(set(p.weekdays))), kind="weekday")]
                p.share_weekdays, p.weekdays = p.weekdays, []
            elif rate is None and not p.dims and p.entity is None and len(kept := self._kept_by_column()) == 1:
                # "the proportion of cities with a population over 1 million": the rows the comparison keeps, of all
                p.share_part = [self._part_kept(kept[0])]
                p.shape = "share_of"
            elif rate is None:
                self._share_within()
                if not p.dims and p.entity is None:
                    raise Refusal("the question asks for a share but names neither a breakdown nor the part to take "
                                  "the share of", missing=[{"kind": "dimension", "why": "share of what"}])
                p.shape = "share"
                words = " ".join(t.raw for t in self.g.tokens)
                if p.entity is not None and p.limit and re.search(r"\b(came|come|comes|coming)\s+from\b|\bfrom\s+(our|the)\s+top\b", words):
                    p.share_of_top = True  # "what share of revenue came from our top 10 customers": one number
        if growth or p.growth_grain:
            for c in growth:
                c.role = "growth"
            periods = [t for t in p.times if t.bound in (None, "from", "to", "between")]  # "between H1 2024 and H1 2025"
            for v in self.cues("versus"):
                if len(periods) == 2:
                    v.role = "versus"  # "2024 vs 2023"
            if len(periods) == 2:
                p.growth = sorted(periods, key=lambda t: (t.start or dt.date.min))
                p.times = [t for t in p.times if t not in periods]
                p.shape = "growth"
                if [c for c in growth if c.arg == "down"]:
                    self._declined()
            elif len(periods) == 1 and p.growth_grain and periods[0].grain == p.growth_grain and not p.grains:
                p.growth = [periods[0]]  # "YoY growth for 2024": 2024 against 2023, not years within 2024
                p.times.remove(periods[0])
                p.shape = "growth"
            elif p.growth_grain or p.grains:
                p.growth_grain = p.growth_grain or p.grains[0].grain
                p.shape = "lag_growth"
            elif len(periods) == 1:
                p.growth = [periods[0]]  # "YoY growth in 2024": against the period before
                p.times.remove(periods[0])
                p.shape = "growth"
            else:
                raise Refusal("the question asks for growth but names no periods or time grain to compare",
                              missing=[{"kind": "time", "why": "growth needs two periods or a grain"}])
        elif len([t for t in p.times if t.bound is None]) >= 2 and (self.cues("versus") or self._periods_apart()):
            # "2024 vs 2023", "Q1 vs Q2 2025" without growth: each period on its own row (periods of one
            # grain; mixed grains or fiscal periods have no one breakdown that shows them apart: refused)
            plain = [t for t in p.times if t.bound is None]
            grains = {t.grain for t in plain}
            if len(grains) == 1 and next(iter(grains)) in ("year", "quarter", "month") and not any(t.fiscal for t in plain) \
                    and len({t.start for t in plain}) == len(plain) and not p.grains:
                for v in [*self.cues("versus"), *self._periods_apart()]:
                    v.role = v.role or "versus"
                p.grains.append(Dim("time", None, None, grain=next(iter(grains))))  # one row per period named
        # "the average rating of businesses": each business's average rating, averaged over the businesses
        for m in p.measures:
            ent = self._averaged_over(m) if m.kind == "agg" and m.agg == "AVG" and p.shape == "plain" and not p.dims else None
            if ent is not None:
                p.entity = ent
                p.shape = "avg_of_groups"
        # "average revenue per customer": the average of per-customer sums
        for i, m in enumerate(p.measures):
            if m.kind == "agg" and m.agg == "AVG" and p.shape == "plain" and additive(m.entry) and not self._own_rows_after(m):
                ent = self._per_entity(exclude=m.entry.table)
                if ent is not None:
                    p.measures[i] = Measure("agg", m.entry, "SUM", m.span, assumed="averaged over per-entity sums")
                    p.entity = ent
                    p.shape = "avg_of_groups"
        # average of per-entity values: "average return rate across stores", "avg spend per customer"
        avg_count = self._avg_count
        if p.shape == "plain" and len(p.dims) >= 2 and p.measures and not any(
                m.kind in ("count", "count_distinct") or m.kind == "snippet" and m.entry.is_count for m in p.measures):
            for c in self.cues("group"):  # "revenue per order by region": per order, averaged within each region
                x = self.next(c, frozenset({"the", "our"}))
                if c.text == "per" and x is not None and x.role == "dimension" and any(
                        d.span is x and d.kind == "entity" for d in p.dims):
                    self._avg_intent = True
        avg = [c for c in self.cues("agg") if c.arg == "AVG" and not c.role or self._avg_intent]
        if (avg or avg_count or self._avg_intent) and p.measures and p.shape == "plain":
            ent = self._per_entity()
            m0 = p.measures[0]
            if ent is None and avg_count is None and len(p.grains) == 1 and len(p.measures) == 1 \
                    and (m0.kind != "agg" or m0.agg in ("AVG", "SUM") and additive(m0.entry)):
                # "average monthly revenue", "average revenue per month": the mean of the per-month totals
                if m0.kind == "agg":
                    p.measures[0] = Measure("agg", m0.entry, "SUM", m0.span, assumed="summed per period, then averaged")
                p.avg_grain = p.grains.pop()
                p.shape = "avg_of_periods"
                for c in self.cues("agg"):
                    if c.arg == "AVG":
                        c.role = "agg"
            elif ent is not None:
                p.entity = ent
                p.shape = "avg_of_groups"
                for c in self.cues("agg"):
                    if c.arg == "AVG":
                        c.role = "agg"
            elif avg_count is not None:
                m = p.measures[0]
                if m.kind == "agg" and m.agg == "SUM":  # "average number of likes": of a quantity column
                    p.measures[0] = Measure("agg", m.entry, "AVG", m.span, assumed="the average of a quantity")
                else:
                    raise Refusal(f"'{avg_count.text} number of' needs what the average is taken over "
                                  "(per customer, per month, ...)", words=[avg_count.text],
                                  missing=[{"kind": "dimension", "why": "average over what"}])
        if self._avg_of_measure is not None and p.shape == "plain":
            c, s = self._avg_of_measure  # "average net revenue by region": a total would drop "average"
            if any(m.span is s and additive_measure(m) for m in p.measures):
                raise Refusal(f"'{c.text} {s.text}' needs what the average is taken over (per order, per month, "
                              "per customer, ...)", words=[c.text],
                              missing=[{"kind": "dimension", "why": "average over what"}])
        # the ranked rows named again as a breakdown ("which neighbourhoods ..., how many in each neighbourhood")
        if p.entity is not None and p.entity.entry is not None:
            p.dims = [d for d in p.dims if not (d.entry is p.entity.entry or d.kind == "entity" and d.entry is not None
                                                and d.entry.table == p.entity.entry.table)]
        # top N per group: a ranked entity and a breakdown
        if p.entity is not None and p.dims and p.order and p.shape == "plain":
            p.shape = "top_per_group"
        if p.order and p.shape == "plain" and p.measures and (p.dims or p.grains):
            self._ranked_within_periods()
        # how many entities have a measure over a threshold
        if p.compares and self.has("count") and p.shape == "plain":
            counted = [m for m in p.measures if m.kind in ("count", "count_distinct") or m.kind == "snippet" and
                       m.entry.is_count]
            having = [c for c in p.compares if isinstance(c.target, Measure)]
            if having and counted:
                ent = counted[0]
                rows = ent.entry if ent.kind == "count" else self.lex.tables[ent.entry.tables[0]] if (
                    ent.kind == "snippet" and len(ent.entry.tables) == 1) else None  # "how many orders had ..."
                own = rows is not None and self.lex.key_column(rows.table) is not None and not any(
                    h.against_average or h.target is ent for h in having)  # each order's own total
                if rows is not None and (rows.table not in [t for h in having for t in _measure_tables(h.target)] or own):
                    p.entity = Dim("entity", rows, ent.span)
                    p.measures.remove(ent)
                    p.shape = "count_having"
        # a list of rows: "which lakes have the largest area", "names of restaurants in ..."
        if not p.measures and p.shape == "plain":
            self._list_shape()

    def _each(self, s: Span | None) -> bool:
        """"each year", "per month", "in every region": a breakdown the rows are ranked within."""
        if s is None:
            return False
        if s.text.split()[0] in ("each", "every", "per"):
            return True
        g = self.prev(s, frozenset({"the"}))
        return g is not None and g.kind == "cue" and g.cue == "group" and g.text != "by"

    def _ranked_within_periods(self) -> None:
        """"top store by revenue each year", "the best month for sales in each year": a rank within each
        period, never one row over all of them."""
        p = self.p
        if p.entity is None:  # "the best month ... in each year": the period right after the rank is ranked
            for r in self.cues("rank"):
                s = self.next(r, frozenset({"the"}))
                hit = [d for d in p.dims + p.grains if s is not None and d.span is s]
                if hit and [d for d in p.dims + p.grains if d is not hit[0] and self._each(d.span)]:
                    p.entity = hit[0]
                    p.dims = [d for d in p.dims if d is not hit[0]]
                    p.grains = [d for d in p.grains if d is not hit[0]]
                break
        if p.entity is not None and (p.dims or p.grains):
            p.shape = "top_per_group"

    def _ratio(self) -> bool:
        """"ratio of restaurants rated above 4 to restaurants rated below 4 in New York", "ratio of papers
        published in 2020 to the total number of papers": one measure (a count of the rows named first,
        unless the question measures something) over two parts of the rows, A / B. Conditions between
        "ratio of" and "to" make part A; after "to", those on a column A also constrains make part B and
        the others hold for both (as do conditions before "ratio of"); no condition after "to": all rows."""
        p = self.p
        r = next((c for c in self.cues("ratio") if not c.role), None)
        if r is None:
            return False
        toks = self.g.tokens
        in_time = {i for t in p.times for i in range(*t.span)}
        to = next((t.i for t in toks if t.i >= r.end and t.raw == "to" and t.i not in in_time), None)
        if to is None:  # "the ratio of population per area for each state": one column over the other
            per = next((t.i for t in toks if t.i >= r.end and t.raw in ("per", "over") and t.i not in in_time), None)
            return per is not None and self._ratio_of_columns(r, per)
        tables = [s for s in self.entities() if s.start >= r.end and s.of("table") and s.role in (None, "counted", "entity", "context")]
        a_ent = next((s for s in tables if s.start < to), None)
        b_ent = next((s for s in tables if s.start > to), None)
        measured = [m for m in p.measures if m.span is not None and r.end <= m.span.start < to]
        if a_ent is None and self._ratio_of_columns(r, to):
            return True
        if a_ent is None and not measured and b_ent is not None and [
                c for c in p.conds if c.span is not None and r.end <= c.span.start < to]:
            a_ent = b_ent  # "ratio of returned to completed orders": the rows named once, after both parts
        named_rows = None  # "ratio of returned orders to completed orders": filters that name their rows
        if a_ent is None and b_ent is None and not measured:
            sides = [{t for c in p.conds if c.kind == "filter" and c.span is not None and lo <= c.span.start < hi
                      for t in c.tables} for lo, hi in ((r.end, to), (to, len(toks)))]
            if sides[0] and sides[0] == sides[1] and len(sides[0]) == 1:
                named_rows = self.lex.tables[next(iter(sides[0]))]
        if a_ent is None and not measured and _parts_named_before(p, r, to):
            # "ratio of web to in-store revenue": the measure named once, after both parts
            measured = [m for m in p.measures if m.span is not None and m.span.start > to][:1]
        if a_ent is None and not measured and named_rows is None:
            return False
        table = a_ent.of("table")[0] if a_ent is not None else named_rows
        if table is not None and b_ent is not None and b_ent.of("table")[0].table != table.table:
            return self._ratio_of_tables(r, a_ent, b_ent)
        if [c for c in p.compares if not isinstance(c.target, Entry)]:
            raise Refusal("the question asks for a ratio of rows that meet a threshold on a measure, which the offline "
                          "engine does not compose", words=[r.text], missing=[{"kind": "example", "why": "ratio with HAVING"}])

        def where(pos: int) -> str:
            return "before" if pos < r.start else "a" if pos < to else "b"

        parts: dict[str, list[Cond]] = {"before": [], "a": [], "b": []}
        for c in self._split_values(p.conds):
            parts[where(c.span.start if c.span is not None else -1)].append(c)
        for c in p.compares:  # column comparisons: "with rating > 4.5"
            col = c.target
            cond = Cond(f"{self.lex.sql_of(col)} {c.op} {_literal(c.value)}", (col.table,), ((col.table, col.column.lower()),),
                        f"{col.label} {c.op} {c.value:g}", col.path, c.span, kind="compare")
            parts[where(c.span.start)].append(cond)
        times = {"before": [], "a": [], "b": []}
        for t in p.times:
            times[where(t.span[0])].append(t)
        a_cols = {col for c in parts["a"] for col in c.columns}
        own_b = [c for c in parts["b"] if set(c.columns) & a_cols]
        shared_b = [c for c in parts["b"] if not set(c.columns) & a_cols]
        named_again = [x for x in self.entities() if x.start > to and x.role is None and _numeric(x) is not None and any(
            m.span is not None and m.span.start < to and _numeric(m.span) in x.entries for m in measured)]
        if parts["a"] and named_again:  # "the population of the US to the population of California": B's own
            whose = self.next(named_again[0], frozenset({"of", "the", "for"}))
            own_b += [c for c in shared_b if c.span is not None and c.span is whose]
            shared_b = [c for c in shared_b if c not in own_b]
        a_times, b_times = times["a"], (times["b"] if times["a"] else [])
        if not parts["a"] and not a_times:
            raise Refusal("the question asks for a ratio but names no condition for its first part",
                          words=[r.text], missing=[{"kind": "filter", "why": "ratio of what"}])
        r.role = "ratio"
        if table is not None and a_ent is not None:
            self.assign(a_ent, "counted", table)
            if b_ent is not None:
                self.assign(b_ent, "counted", table)
        for c in self.cues("count"):
            c.role = c.role or "count"
        p.conds = parts["before"] + shared_b
        p.compares = []
        p.times = times["before"] + ([] if times["a"] else times["b"])
        p.ratio = (parts["a"], own_b, a_times, b_times)
        split = {col for c in parts["a"] + own_b for col in c.columns}  # "Mississippi ... to ... Rhine": the
        p.dims = [d for d in p.dims if d.entry is None or d.entry.kind != "column"  # parts, not a breakdown
                  or (d.entry.table, d.entry.column.lower()) not in split]
        named = [m for m in p.measures if m.kind != "count" and not (m.kind == "snippet" and m.entry.is_count)]
        p.measures = (measured or named)[:1] or [self._count_measure(table, a_ent)]
        m = p.measures[0]
        for s in self.entities():  # "revenue in 2024 to revenue in 2023": the same measure named again for B
            if s.role is None and s.start > to and m.entry is not None and m.entry in s.entries:
                self.assign(s, "measure", m.entry)
        p.shape = "ratio"
        return True

    def _periods_apart(self) -> list[Span]:
        """Cues that ask for named periods apart rather than summed: "how did 2024 revenue compare to 2023",
        "a comparison of Q1 and Q2", "revenue for each of 2023 and 2024"."""
        apart = [c for c in self.cues("breakdown") if c.text in ("compare", "comparison")]
        for c in self.cues("group"):
            nxt = self.g.tokens[c.end] if c.end < len(self.g.tokens) else None
            if c.text in ("each", "for each") and nxt is not None and nxt.raw == "of":
                apart.append(c)  # "for each of 2023 and 2024"
        return apart

    def _all_values(self, col: Entry, conds: list[Cond]) -> bool:
        """Whether value conditions on `col` name every value it has ("Gold, Silver, Bronze and Platinum tier":
        no filter needed); a subset ("Gold tier compared to Bronze") keeps its filter. True where the values
        are unknown."""
        if self.lex.values_of is None:
            return True
        have = {str(v) for v in self.lex.values_of(col.table, col.column) if v is not None}
        named = {str(x.span.chosen.value) for x in conds if x.span is not None and x.span.chosen is not None
                 and x.span.chosen.kind == "value"}
        return not have or have <= named

    def _relation_table(self, table: str) -> bool:
        """A table of two text columns relating rows to rows (border_info: state_name, border)."""
        own = self.lex.columns.get(table, [])
        return len(own) == 2 and all(x.ctype == "text" for x in own)

    def _owner_after(self, s: Span) -> str | None:
        """The table named right after column span `s` by "of (the)" ("population of the state")."""
        toks, k = self.g.tokens, s.end
        if k >= len(toks) or toks[k].raw != "of":
            return None
        k += 1
        while k < len(toks) and toks[k].raw in ("the", "its", "their", "each"):
            k += 1
        x = self.g.span_at(k) if k < len(toks) else None
        return x.of("table")[0].table if x is not None and x.kind == "entity" and x.of("table") else None

    def _owner_before(self, s: Span) -> str | None:
        """The table of the noun just before "with a" / "whose" and the column span `s` ("a city with a
        population": the city's), which owns the column more than the rows listed do."""
        toks, k = self.g.tokens, s.start - 1
        while k >= 0 and toks[k].raw in ("a", "an", "the", "its", "their"):
            k -= 1
        if k < 1 or toks[k].raw not in ("with", "whose", "having"):
            return None
        x = self.g.span_at(k - 1)
        if x is None or x.kind != "entity" or not x.of("table"):
            return None
        return x.of("table")[0].table

    def _superlative_column(self, ent: Dim) -> None:
        """"which state has the highest elevation": the superlative is the first word of the column's own name
        (highlow.highest_elevation), so no rank cue is left; one row is asked for ("which state"), ranked by that
        column. Before, every state was listed with its value."""
        p = self.p
        if p.order or p.limit is not None or p.conds or p.compares or ent.span is None or self.plural(ent.span) \
                or not self.cues("which"):
            return
        for s in self.entities():
            first = self.g.tokens[s.start].raw
            if s.role == "shown" and first in _SUPERLATIVE_WORDS and s.chosen in p.list_columns \
                    and (s.chosen.ctype == "number" or self.lex.numeric_text(s.chosen)):
                p.order_by, p.order_by_dir, p.order, p.limit = s.chosen, _SUPERLATIVE_WORDS[first], _SUPERLATIVE_WORDS[first], 1
                return

    def _between_tables(self, s: Span, tables: set[str]) -> bool:
        """`s` names a table the question's tables are joined through, right after a value that filters them
        ("revenue from online orders": orders join the revenue's lines to the online stores)."""
        prev = self.prev(s)
        if prev is None or prev.end != s.start or prev.role != "filter" or len(tables) < 2:
            return False
        from .compose import join_tree  # compose builds on plan: imported when first needed
        try:
            joined = join_tree(self.lex, tables, []).tables()
        except Refusal:
            return False
        return s.of("table")[0].table in joined

    def _filter_versus_rest(self) -> None:
        """"revenue from loyalty members vs non-members": the rows a filter keeps against all the others, one
        group each (CASE WHEN), not both filters at once."""
        p = self.p
        for v in self.cues("versus"):
            a, b = self.prev(v), self.next(v)
            neg = b if b is not None and b.kind == "cue" and b.cue == "not" and b.text in ("non", "not") else None
            b = self.next(neg) if neg is not None else b
            fa = a.chosen if a is not None and a.role == "filter" else (a.of("filter") or [None])[0] if a is not None \
                and not a.role and a.kind == "entity" else None
            fb = b.chosen if b is not None and b.role == "filter" else (b.of("filter") or [None])[0] if b is not None \
                and not b.role and b.kind == "entity" else None
            if neg is None and fa is not None and fb is not None and fa is not fb and fa.kind == fb.kind == "filter" \
                    and fa.sql and fb.sql and set(fa.tables) == set(fb.tables):
                self._two_filters_apart(v, a, b, fa, fb)  # "orders returned vs completed": one group each
                return
            if neg is None or fa is None or fa is not fb or fa.kind != "filter" or not fa.sql:
                continue
            f = fa
            p.conds = [c for c in p.conds if c.span not in (a, b)]
            self.assign(a, "filter", f)
            label = self.g.surface(a.start, a.end)
            expr = Entry("expression", f.path, f"{label} or not", table=f.table,
                         sql=f"CASE WHEN {f.sql} THEN {_literal(label)} ELSE {_literal('non-' + b.text)} END",
                         tables=f.tables)
            p.dims.append(Dim("expression", expr, a))
            v.role, neg.role = "versus", "not"
            b.role, b.chosen = "dimension", f
            return

    def _two_filters_apart(self, v: Span, a: Span, b: Span, fa: Entry, fb: Entry) -> None:
        """Two named filters either side of "vs": the rows each keeps, one group each (CASE WHEN), kept to
        the rows of either - never both filters at once, which no row meets."""
        p = self.p
        p.conds = [c for c in p.conds if c.span not in (a, b)]
        la, lb = fa.label, fb.label
        expr = Entry("expression", fa.path, f"{la} vs {lb}", table=fa.table,
                     sql=f"CASE WHEN {fa.sql} THEN {_literal(la)} WHEN {fb.sql} THEN {_literal(lb)} END", tables=fa.tables)
        cols = tuple(dict.fromkeys([*_columns_of(self.lex, fa.sql), *_columns_of(self.lex, fb.sql)]))
        p.conds.append(Cond(f"(({fa.sql}) OR ({fb.sql}))", tuple(fa.tables), cols, f"{la} or {lb}", fa.path, a))
        p.dims.append(Dim("expression", expr, a))
        self.assign(a, "filter", fa)
        self.assign(b, "filter", fb)
        v.role = "versus"

    def _declined(self) -> None:
        """"stores with declining revenue": the ones whose growth is below zero; "dropped by more than 10%":
        growth below -10%; "declined the most": the lowest growth first."""
        p = self.p
        flip = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
        p.derived_cmp = [(k, flip.get(op, op), -v) if k == "growth" else (k, op, v) for k, op, v in p.derived_cmp]
        if p.order:
            p.order = "ASC" if p.order == "DESC" else "DESC"
        elif not p.derived_cmp and (p.dims or p.entity):
            p.derived_cmp.append(("growth", "<", 0.0))

    def _share_within(self) -> None:
        """"each category's share of revenue within each region", "each store's share of its region's sales":
        the share is of the group's total (PARTITION BY the group), not of the grand total."""
        p, toks = self.p, self.g.tokens
        for s in self.entities():
            k = s.start - 1
            while k >= 0 and toks[k].raw in ("each", "the", "every"):
                k -= 1
            if k < 0 or toks[k].raw not in ("within", "its", "their"):
                continue
            dim = next((d for d in p.dims if d.span is s), None)
            if dim is None and not s.role:
                dim = self._dim_of(s)
                if dim is None or dim.kind == "time":
                    continue
                self._add_dim(dim, s)
            if dim is not None and dim not in p.share_within:
                p.share_within.append(dim)
        if p.share_within and len(p.dims) + (p.entity is not None) < 2:
            raise Refusal("a share within each group needs another breakdown to split the group by",
                          missing=[{"kind": "dimension", "why": "share within a group"}])

    def _rate_column(self, col: Entry) -> bool:
        """A column holding a rate of something else (disc_pct: "as a fraction (0.10 = 10% off)"): its sum means nothing."""
        return self.lex.is_fraction(col) or bool(set(norms(col.column)) & _RATE_NAMES)

    def _amount_of_rate(self, col: Entry) -> Entry | None:
        """The one additive measure that sums an amount computed with a rate column (Discount amount:
        SUM(qty * unit_prc * disc_pct) for disc_pct), if the space has exactly one."""
        found = []
        for e in self.lex.entries:
            if e.kind != "measure" or not e.sql:
                continue
            sql = e.sql.upper().replace(" ", "")
            if not sql.startswith("SUM(") or "/" in sql:
                continue
            try:
                tree = sqlglot.parse_one(e.sql, read="databricks")
            except sqlglot.errors.ParseError:
                continue
            if any(c.name.lower() == col.column.lower() and self.lex.resolve_table(c.table) == col.table
                   and _factor_of_sum(c) for c in tree.find_all(exp.Column)):
                found.append(e)  # the rate multiplies the summed amount (not "1 - rate": what is left after it)
        return found[0] if len(found) == 1 else None

    def _measured_column(self, s: Span) -> Entry | None:
        """The numeric column a span measures. Where columns of several tables share the name ("population"
        of city and of state), the table another word of the question names decides; else it is ambiguous
        and the answer a refusal naming the candidates, never one picked by the order of the schema."""
        cols = _numeric_columns(s)
        whose = self.next(s, frozenset({"the", "our", "all", "their"}))
        if (whose is not None and s.end < len(self.g.tokens) and self.g.tokens[s.end].raw == "of" and whose.kind == "entity"
                and whose.of("table") and not whose.role and cols and all(c.table != whose.of("table")[0].table for c in cols)):
            own = self._named_by_first_words(s, {whose.of("table")[0].table})
            if len(own) == 1:  # "average discount of our promotions": promotions.disc_pct, not the order lines'
                self.assign(whose, "context", whose.of("table")[0])
                return own[0]
        if len({c.table for c in cols}) <= 1:
            return cols[0] if cols else None
        if whose is not None and whose.start == s.end and whose.kind == "entity" and whose.of("table"):
            mine = [c for c in cols if c.table == whose.of("table")[0].table]
            if len(mine) == 1:  # "the most populous city in each state": the city's population, the noun it describes
                return mine[0]
        nouns: set[str] = set()  # tables named by their own nouns ("the states") decide before values do
        rows: set[str] = set()  # then values naming a row of their table ("the area of Ohio": a state's)
        named: set[str] = set()
        for x in self.entities():
            if x is s:
                continue
            nouns.update(e.table for e in x.entries if e.kind == "table")
            rows.update(e.table for e in x.entries if e.kind == "value" and self._names_row(e))
            named.update(e.table for e in x.entries if e.kind in ("table", "value"))
            own = {e.table for e in x.entries if e.kind == "column"}
            if len(own) == 1:  # a column only one table has ("capital" of state)
                nouns.update(own)
                named.update(own)
        for tables in (nouns, rows, named):
            mentioned = [c for c in cols if c.table in tables]
            if len({c.table for c in mentioned}) == 1:
                return mentioned[0]
        labels = ", ".join(c.label for c in cols[:4])
        raise Refusal(f"'{s.text}' could be {labels}; the question does not say which", words=[s.text],
                      missing=[{"kind": "ambiguous", "words": s.text, "candidates": [c.path for c in cols]}])

    def _difference(self) -> bool:
        """"how much more revenue did the web make than in-store": the measure for the value before "than"
        minus the measure for the value after it. Two values of one column, one on each side."""
        found = None if self._compared_than else self._more_than() or self._difference_between()
        if found is None:
            return False
        more, k = found
        word = self.g.tokens[more].raw
        p = self.p
        values = self._split_values([c for c in p.conds if c.kind == "value"])
        a = [c for c in values if c.span is not None and c.span.end <= k]
        b = [c for c in values if c.span is not None and c.span.start > k]
        if word.startswith("difference") and len(a) == 1:  # "between Web and In-Store": not a breakdown by channel
            p.dims = [d for d in p.dims if not (d.kind == "column" and d.entry is not None
                                                and ((d.entry.table, d.entry.column.lower()),) == a[0].columns)]
        if (len(p.measures) != 1 or p.dims or p.entity is not None or len(a) != 1 or len(b) != 1
                or a[0].columns != b[0].columns):  # nothing this reading can subtract: never a silent total
            raise Refusal(f"'{word} ... {self.g.tokens[k].raw}' compares two amounts, and this reading of the question "
                          f"does not name one value on each side", words=[word, self.g.tokens[k].raw],
                          missing=[{"kind": "example", "why": "difference of two values"}])
        p.conds = [c for c in p.conds if not (c.kind == "value" and c.columns == a[0].columns)]
        p.ratio = ([a[0]], [b[0]], [], [])
        p.shape = "difference"
        p.notes.append(f"'{word} ... {self.g.tokens[k].raw}': {a[0].label} minus {b[0].label}")
        self.g.ungrounded = [t for t in self.g.ungrounded if t.i != more]  # "difference" says what is computed
        return True

    def _difference_between(self) -> tuple[int, int] | None:
        """(position of "difference", position of "and") in "the difference between the population of Texas and
        California": the value before "and" minus the value after it."""
        if any(m.agg == "RANGE" for m in self.p.measures):
            return None  # "the difference between the highest and lowest altitude": read as the spread
        toks = [t.raw for t in self.g.tokens]
        at = [i for i, w in enumerate(toks) if w in ("difference", "differences") and toks[i + 1:i + 2] in (["between"], ["in"])]
        if not at:
            return None
        ands = [j for j in range(at[0] + 2, len(toks)) if toks[j] == "and"]
        return (at[0], ands[0]) if len(ands) == 1 else None

    def _split_values(self, conds: list[Cond]) -> list[Cond]:
        """Value conditions one per value span ("web revenue to in-store revenue": two parts, not one IN)."""
        out = []
        for c in conds:
            spans = [s for s in self.entities() if c.kind == "value" and s.role == "filter" and s.chosen is not None
                     and s.chosen.kind == "value" and ((s.chosen.table, s.chosen.column.lower()),) == c.columns]
            if len(spans) < 2 or " NOT IN " in c.sql or "<>" in c.sql:
                out.append(c)
                continue
            col = self.lex.column(spans[0].chosen.table, spans[0].chosen.column)
            for s in spans:
                out.append(Cond(f"{self.lex.sql_of(col)} = {_literal(s.chosen.value)}", c.tables, c.columns,
                                f"{col.label} = {s.chosen.value}", c.path, s, kind="value"))
        return out

    def _ratio_of_columns(self, r: Span, to: int) -> bool:
        """"ratio of helpfulness scores to clarity scores for each course": one numeric column over another of
        the same rows, per row (each row of the breakdown is one row of the table), or its average per group
        when asked ("the average ratio of cruising speed to payload by manufacturer")."""
        p = self.p
        spans = [s for s in self.entities() if s.start >= r.end and _numeric(s) is not None]
        a = next((s for s in spans if s.start < to), None)
        b = next((s for s in spans if s.start > to), None)
        if a is None or b is None:
            return False
        # the two columns of one table: the table of the breakdown when both have a column there
        per = {d.entry.table for d in [*p.dims, *([p.entity] if p.entity else [])] if d.entry is not None}
        shared = [t for t in dict.fromkeys(c.table for c in _numeric_columns(a)) if t in {c.table for c in _numeric_columns(b)}]
        table = next((t for t in shared if t in per), shared[0] if shared else None)
        if table is None:
            return False
        ca = next(c for c in _numeric_columns(a) if c.table == table)
        cb = next(c for c in _numeric_columns(b) if c.table == table)
        if ca.column == cb.column:
            return False  # "the length of the Volga to the length of the Danube": one measure over two parts of the rows
        avg = [c for c in self.cues("agg") if c.arg == "AVG" and c.end <= r.start]
        keys = [d for d in p.dims if d.entry is not None and d.kind in ("column", "entity") and d.entry.table == ca.table]
        rows = p.entity is not None or (keys and all(d.kind == "entity" or self.lex.unique(d.entry.table, d.entry.column)
                                                     for d in keys))
        if not avg and not rows:
            return False
        r.role = "ratio"
        for c in avg:
            c.role = "agg"
        for s, col in ((a, ca), (b, cb)):
            s.role, s.chosen = "measure", col
        p.measures = [m for m in p.measures if m.span not in (a, b)]
        expr = f"CAST({self.lex.sql_of(ca)} AS DOUBLE) / NULLIF({self.lex.sql_of(cb)}, 0)"
        name = f"{ca.column} to {cb.column} ratio"
        if avg:
            entry = Entry("measure", ca.path, name, table=ca.table, sql=f"AVG({expr})", tables=(ca.table,))
            p.measures = [Measure("snippet", entry, span=a, name=name)]
            return True
        entry = Entry("expression", ca.path, name, table=ca.table, sql=expr, tables=(ca.table,))
        p.measures = []
        p.list_columns = [d.entry for d in keys if d.kind == "column"] if p.entity is None else []
        p.entity = p.entity or keys[0]
        key = self.lex.key_column(p.entity.entry.table) if p.entity.kind == "entity" else None
        if key is not None and p.entity.span is not None and "id" in norms(p.entity.span.text):
            p.list_columns.insert(0, key)  # "for each course ID": the key itself is shown
        p.dims = [d for d in p.dims if d not in keys]
        p.ratio_expr = entry
        p.shape = "list"
        return True

    def _ratio_of_tables(self, r: Span, a: Span, b: Span) -> bool:
        """"ratio of publications to authors": the number of rows of one table over another's, nothing else
        asked (no condition, period or breakdown: which rows of each it would apply to is not said)."""
        p = self.p
        if p.conds or p.compares or p.times or p.grains or p.dims or p.entity is not None:
            raise Refusal("the question asks for the ratio of two tables' rows with conditions or a breakdown, "
                          "which the offline engine does not compose", words=[r.text],
                          missing=[{"kind": "example", "why": "ratio of two tables"}])
        ta, tb = a.of("table")[0], b.of("table")[0]
        r.role = "ratio"
        self.assign(a, "counted", ta)
        self.assign(b, "counted", tb)
        for c in self.cues("count"):
            c.role = c.role or "count"
        p.measures = [self._count_measure(ta, a), self._count_measure(tb, b)]
        p.shape = "ratio_of_tables"
        return True

    def _measure_for_share(self) -> None:
        """'What percentage of orders used a promotion': the share of a table's rows."""
        p = self.p
        for s in self.entities():
            if not s.role and s.of("table"):
                t = s.of("table")[0]
                self.assign(s, "counted", t)
                p.measures.append(self._count_measure(t, s))
                return
        for c in p.conds:
            if c.kind in ("filter", "value"):
                p.measures.append(self._count_measure(self.lex.tables[c.tables[0]], None))
                return

    def _share_parts(self) -> list[Cond]:
        """The conditions naming the part ("cancelled", "with a promotion") in a share of rows."""
        p = self.p
        if not p.measures:
            return []
        parts: list[Cond] = []
        m = p.measures[0]
        anchor = m.span.start if m.span is not None else 0
        for c in list(p.conds):
            if c.kind in ("filter", "value") and c.span is not None and (c.span.start > anchor or m.span is None):
                parts.append(c)
                p.conds.remove(c)
        if parts:
            return parts
        for c in list(p.conds):  # "share of cancelled orders per channel": the filter before the noun
            if c.kind == "filter" and m.kind in ("count", "snippet"):
                parts.append(c)
                p.conds.remove(c)
        # "EMEA's share of 2024 sales", "Platinum members' share": the part named right before "share", with
        # the values that qualify it
        ends = {c.span.start for c in parts if c.span is not None} or {c.start for c in self.cues("share")}
        while near := [c for c in p.conds if c.kind in ("filter", "value") and c.span is not None and c.span.end in ends]:
            for c in near:
                parts.append(c)
                p.conds.remove(c)
            ends = {c.span.start for c in near}
        if parts:
            return parts
        for d, t in p.dated_times:  # "% of 2024 revenue from customers who signed up in 2024": those customers' part
            if t.kind == "period" and t.start and t.end and not t.fiscal and t.bound is None:
                p.dated_times.remove((d, t))
                col = self.lex.sql_of(d)
                return [Cond(f"{col} >= DATE'{t.start}' AND {col} < DATE'{t.end}'", (d.table,), ((d.table, d.column.lower()),),
                             f"{d.label} in {t.text}", d.path, None, kind="time")]
        # "orders with a promotion": a related table mentioned after the counted rows
        for s in self.entities():
            if s.role or not s.of("table"):
                continue
            k = s.start - 1
            while k >= 0 and self.g.tokens[k].raw in ("a", "an", "the", "any"):
                k -= 1
            if k < 0 or self.g.tokens[k].raw not in _RELATIVE:
                continue
            t = s.of("table")[0]
            if t.table == m.table:
                continue
            self.assign(s, "related", self.lex.tables[t.table])
            parts.append(Cond("", (t.table,), (), f"has a {t.table.split('.')[-1]}", self.lex.tables[t.table].path, s,
                              kind="related"))
            return parts
        return []

    def _next_past_periods(self, s: Span) -> Span | None:
        """The next span, past periods ("share of 2024 returns": the returns)."""
        x = self.next(s)
        while x is not None and x.kind == "time":
            x = self.next(x)
        return x

    def _rate_measure(self, parts: list[Cond]) -> Entry | None:
        """A measure snippet named like the part plus 'rate' ("returned orders" -> "Return rate")."""
        if len(parts) != 1 or parts[0].kind != "filter":
            return None
        table_words = set(norms(parts[0].tables[0].split(".")[-1]))
        words = set(norms(parts[0].label)) - table_words
        for e in self.lex.entries:
            name = set(norms(e.label))
            if e.kind == "measure" and name & _RATE_WORDS and words and words <= name:
                return e
        return None

    def _own_rows_after(self, m: Measure) -> bool:
        """"average citation count of publications per journal": the column's own rows are named after "of", so
        the average is over them (per journal a breakdown), not over per-journal totals."""
        s = m.span
        if s is None or s.end >= len(self.g.tokens) or self.g.tokens[s.end].raw != "of":
            return False
        e = self.next(s, frozenset({"of", "the", "all", "our"}))
        return e is not None and e.kind == "entity" and bool(e.of("table")) and e.of("table")[0].table == m.entry.table

    def _averaged_over(self, m: Measure) -> Dim | None:
        """"average rating of businesses": the plural rows after "of" whose many rows hold the column
        (reviews of a business) are what the average is taken over."""
        s = m.span
        if s is None or s.end >= len(self.g.tokens) or self.g.tokens[s.end].raw != "of":
            return None
        e = self.next(s, frozenset({"of", "the", "all", "our"}))
        if e is None or e.kind != "entity" or e.role not in (None, "context") or not e.of("table") or not self.plural(e):
            return None
        t = e.of("table")[0]
        if t.table == m.entry.table or not any({x.left, x.right} == {t.table, m.entry.table} and x.fans_out(t.table)
                                                for x in self.lex.edges):
            return None
        self.assign(e, "entity", t)
        return Dim("entity", t, e)

    def _per_entity(self, exclude: str | None = None) -> Dim | None:
        """The entity after 'per' / 'across' / 'per-' that an average is taken over."""
        p = self.p
        if p.entity is not None:
            return p.entity if p.entity.entry.table != exclude else None
        for c in self.cues("group"):
            s = self.next(c, frozenset({"the", "our", "all"}))
            if s is None or s.kind != "entity":
                continue
            if c.text in ("per", "across", "for each", "each") and s.role in (None, "dimension"):
                dim = self._dim_of(s)
                # "average return rate across regions": over a column's groups too, but only after "across"
                # ("average return rate per region" is each region's rate)
                if dim is None or dim.entry is None or dim.entry.table == exclude or dim.kind != "entity" and not (
                        c.text == "across" and dim.kind in ("column", "expression") and self.plural(s)):
                    continue
                if s.role == "dimension":
                    p.dims = [d for d in p.dims if d.span is not s]
                s.role, s.chosen = "entity", dim.entry
                c.role = "group"
                return dim
        for c in self.cues("agg"):  # "average store revenue", "avg customer spend": one row's name before the measure
            s = self.next(c, frozenset({"the", "our"}))
            if c.arg != "AVG" or c.role or s is None or s.kind != "entity" or s.role not in (None, "dimension") \
                    or self.plural(s):
                continue
            after = self.next(s)
            if after is None or not any(m.span is after for m in p.measures):
                continue
            dim = self._dim_of(s)
            if dim is None or dim.kind != "entity" or dim.entry is None or dim.entry.table == exclude:
                continue
            p.dims = [d for d in p.dims if d.span is not s]
            s.role, s.chosen = "entity", dim.entry
            return dim
        return None

    def _opens_with_compared_rows(self) -> bool:
        """"customers with more than 10 orders", "mountains taller than 5000 meters", "brands with fewer than 5
        products": the rows (or a text column's values) the question opens with, kept by a comparison, are listed."""
        p = self.p
        first = self.entities()[0] if self.entities() else None
        if first is None or first.start != 0 or first.role or not self.plural(first):
            return False
        having = any(isinstance(c.target, Measure) for c in p.compares)
        if first.of("table"):
            return having or bool(p.compares) and self.lex.label_column(first.of("table")[0].table) is not None
        return having and any(c.ctype == "text" for c in first.of("column"))

    def _values_having_rows(self) -> Dim | None:
        """"Which countries have lakes", "which countries have both lakes and rivers": the values of a text
        column the tables named after "have" share (lake.country_name), those that appear in every one."""
        for w in self.cues("which"):
            s = self.next(w, frozenset({"the", "all"}))
            if s is None or s.kind != "entity" or s.role or s.of("table") or not self.plural(s):
                continue
            k = s.end
            if k >= len(self.g.tokens) or self.g.tokens[k].raw not in ("have", "has", "with"):
                continue
            rows: list[tuple[Span, Entry]] = []
            for x in self.entities():
                if x.start <= k or x.role:
                    continue
                between = {t.raw for t in self.g.tokens[k + 1:x.start]} - {"both", "a", "an", "any", "some", "and", "at", "least", "one"}
                if between or not x.of("table") or x.of("value", "filter", "measure"):
                    break
                t = x.of("table")[0]
                col = next((c for c in s.of("column") if c.table == t.table and c.ctype == "text"), None)
                if col is None:
                    break
                rows.append((x, col))
                k = x.end
            if not rows or k != len(self.g.tokens) and self.g.tokens[k].kind != "punct":
                continue
            first = rows[0][1]
            self.assign(s, "entity", first)
            for x, col in rows:
                self.assign(x, "context", self.lex.tables[col.table])
            for x, col in rows[1:]:  # "both lakes and rivers": values the other tables hold too
                t = self.lex.tables[col.table]
                self.p.conds.append(Cond(f"{self.lex.sql_of(first)} IN (SELECT {quote(col.column)} FROM {t.label})",
                                         (first.table,), ((first.table, first.column.lower()),),
                                         f"{first.label} also in {col.table.split('.')[-1]}", col.path, x, kind="filter"))
            return Dim("column", first, s)
        return None

    def _looked_up(self, values: list[Cond]) -> bool:
        """"What is the capital of Texas?": one column of the rows a value names ("what is/are the X of V")."""
        toks = [t.raw for t in self.g.tokens]
        if len(toks) < 4 or toks[0] not in ("what", "whats") or not values or len({t for c in values for t in c.tables}) != 1:
            return False
        k = 1 if toks[0] == "whats" else 2 if toks[1] in ("is", "are", "was", "were", "s") else 0
        if not k:
            return False
        cols = [x for x in self.entities() if not x.role and x.of("column")]
        first_value = min(c.span.start for c in values if c.span is not None) if any(c.span for c in values) else None
        return (len(cols) >= 1 and first_value is not None and all(x.end <= first_value for x in cols)
                and all(x.end < len(toks) and toks[x.end] in ("of", "for", "in") for x in cols[-1:]))

    def _list_shape(self) -> None:
        p = self.p
        values = [c for c in p.conds if c.kind == "value"]
        lookup = self._looked_up(values)
        kept = self._opens_with_compared_rows() or bool(self.entities()) and self._lacking_after(self.entities()[0])
        if not (self.cues("which") or self.has("rank") or self.has("order") or lookup or self._bare_list or kept):
            return  # rows are listed only when asked for ("which", "list", "show", a ranking, a catalog's rows named)
        ent = p.entity
        if ent is None:
            ent = self._values_having_rows()
        if ent is None:
            for s in self.entities():
                if not s.role and s.of("table"):
                    ent = Dim("entity", s.of("table")[0], s)
                    s.role, s.chosen = "entity", ent.entry
                    break
        if ent is None and not lookup:  # "which restaurant names start with 'The'", "list the titles of ..."
            for w in self.cues("which"):
                s = self.next(w, frozenset({"the", "all", "our"}))
                texts = [c for c in s.of("column") if c.ctype == "text"] if s is not None and s.kind == "entity" \
                    and not s.role and not s.of("table") else []
                if len(texts) == 1:
                    after = self.next(s)
                    if after is not None and after.role == "filter" and after.chosen is not None and after.chosen.kind == "value" \
                            and (after.chosen.table, after.chosen.column) == (texts[0].table, texts[0].column):
                        # "which rivers traverse Moscow": the rows whose column holds the value, not the column itself
                        self.assign(s, "entity", self.lex.tables[texts[0].table])
                        ent = Dim("entity", self.lex.tables[texts[0].table], s)
                        break
                    self.assign(s, "entity", texts[0])
                    ent = Dim("column", texts[0], s)
                    break
        if ent is None and p.times and p.date is None:  # "which stores opened after 2020": those stores, by their opening
            for s in self.entities():
                dates = [c for c in s.of("column") if c.ctype == "date"]
                if not s.role and len(dates) == 1 and s.start > 0 and self._plural_word(s.start) \
                        and self.lex.label_column(dates[0].table) is not None:
                    self.assign(s, "date", dates[0])
                    p.date = dates[0]
                    ent = Dim("entity", self.lex.tables[dates[0].table], s)
                    break
        if ent is None:
            if p.dims and p.grains == []:
                ent = p.dims.pop(0)  # "which cities have restaurants": the distinct values
            elif lookup:
                ent = Dim("entity", self.lex.tables[values[0].tables[0]], None)  # the rows the values name
            elif any(isinstance(c.target, Measure) for c in p.compares):
                # "which brands have more than 10 products": the values of a column, kept by a threshold
                s = next((x for x in self.entities() if x.role is None and [c for c in x.of("column") if c.ctype == "text"]), None)
                if s is None:
                    return
                near = {t for c in p.compares if isinstance(c.target, Measure) for t in _measure_tables(c.target)}
                texts = [c for c in s.of("column") if c.ctype == "text"]
                col = next((c for c in texts if c.table in near), texts[0])  # "countries with more than one river"
                self.assign(s, "entity", col)
                ent = Dim("column", col, s)
            else:
                return
        p.entity = ent
        p.shape = "list"
        for s in self.entities():  # other columns named: shown ("names and areas of the lakes")
            if not s.role and s.of("column") and not self._absent_rows(s) and not self._describes_used(s) \
                    and not self._empty_column(s):
                owner = self._owner_after(s)  # "the population of the state they are in": the state's
                cols = [c for c in s.of("column") if ent.entry is None or c.table == ent.entry.table] or [
                    c for c in s.of("column") if c.table == owner] or s.of("column")
                if ent.kind == "entity" and ent.entry is not None and all(c.is_key and c.table != ent.entry.table for c in cols):
                    # "which customers ordered ...", "customers with orders": rows that have one, not each order's key
                    self.assign(s, "related", self.lex.tables[cols[0].table])
                    p.related.append(cols[0].table)
                    continue
                self.assign(s, "shown", cols[0])
                p.list_columns.append(cols[0])
        for c in p.compares:  # "products with a list price above $100": the price is shown beside each product
            col = c.target
            if isinstance(col, Entry) and col.kind == "column" and col not in p.list_columns \
                    and (ent.entry is None or col.table == ent.entry.table) and col is not ent.entry:
                p.list_columns.append(col)
        if p.order and not p.order_by and any("alphabetic" in c.text for c in self.cues("order")):
            texts = [c for c in p.list_columns if c.ctype == "text"]
            if texts and ent.kind != "entity":
                p.order_by = texts[0]
            return  # alphabetically: by the listed names (the entity's label column comes first)
        self._superlative_column(ent)
        ranked = self._column_rank()
        if p.order and not p.order_by and not ranked and ent.entry is not None and not [
                c for c in p.list_columns if c.ctype == "number"]:
            for c in self.cues("order"):  # "lakes from largest to smallest": by their area, as "the largest lake"
                first = c.text.removeprefix("from ").split()[0]
                cols = [x for w in _RANKED_BY.get(first, ()) if (x := self._rank_column(ent.entry.table, w, own=True))]
                if cols:
                    p.list_columns.append(cols[0])
                    break
        if p.order and not p.order_by and ranked and not [c for c in p.list_columns if c.ctype == "number"]:
            r, word = ranked
            col = self._rank_column(ent.entry.table if ent.entry is not None else None, word)
            if col is None:
                raise Refusal(f"'{r.text}' ranks by {word}, and the space names no one {word} column",
                              words=[r.text], missing=[{"kind": "synonym", "words": word}])
            p.list_columns.append(col)  # "the 3 cheapest products": by their price
        if p.order and not p.order_by:
            cols = [c for c in p.list_columns if c.ctype == "number"] or [
                c.target for c in p.compares if isinstance(c.target, Entry)]
            if cols:
                p.order_by = cols[0]
            else:
                raise Refusal("the question ranks rows but names no column to rank them by",
                              missing=[{"kind": "measure", "why": "what to rank by"}])
        if p.order_by is not None and self.cues("rank") and self._ranked_by_many(ent):
            return
        if p.order and p.limit is None and ent.span is not None and not self.plural(ent.span) and any(
                r.role == "rank" and self._number_near_free(r) and self.next(r, frozenset({"the"})) is not None
                and self.next(r, frozenset({"the"})).end <= ent.span.start for r in self.cues("rank")):
            p.limit = 1  # "what is the most populous state": the one state
    # ---- 8. context mentions: "Verdance products", "the London Oxford Street store", "web orders"
    def _context(self) -> None:
        self._never_sold()
        tables = self.p.tables()
        for s in self.entities():
            if s.role:
                continue
            periods = self.p.times or self.p.grains or self.p.ratio_periods()
            dated = [c for c in s.of("column") if c.ctype == "date" or periods and
                     c in self.lex.year_columns(c.table)]  # "in the year 2020": a column of years
            dated.sort(key=lambda c: c.table not in tables)  # "tips posted in the year 2021": the tips' year
            after_group = s.start > 0 and self.g.tokens[s.start - 1].raw in ("per", "by", "each", "every")
            if dated and not s.of("measure") and not (after_group and not set(s.text.lower().split()) & _DAY_WORDS):
                d = dated[0]  # not "units per transaction": a breakdown word, not the date of the rows
                if self.p.date is None or self.p.date is d:
                    self.p.date = d
                    self.assign(s, "date", d)
                    continue
            toks = self.g.tokens
            if s.end < len(toks) and toks[s.end].raw in _PERIOD_NOUNS and (self.p.months_of_year or self.p.times) \
                    and s.of("value") and any(t.kind == "time" and t.start > s.end for t in self.g.spans):
                self.assign(s, "context", s.of("value")[0])  # "holiday month (Dec)": December, described
                continue
            k = self._word_before_rows(s)
            if self._empty_column(s) and (self.p.measures or self.p.shape == "list"):
                col = next(c for c in s.of("column") if c.table in tables and c.ctype == "text")
                self.assign(s, "filter", col)
                self.p.conds.append(Cond(f"{self.lex.sql_of(col)} IS NULL", (col.table,), ((col.table, col.column.lower()),),
                                         f"{col.label} is empty", col.path, s))
                for c in self.cues("not"):
                    if c.start == k:
                        c.role = "not"
                continue
            if ((self.p.measures or self.p.shape == "list") and s.of("table") and not s.of("measure")
                    and k >= 0 and self.g.tokens[k].raw in ("without", "no", "never", "not") and s.of("table")[0].table not in tables):
                t = s.of("table")[0]  # "orders without a promotion", "with no return": rows that have none
                self.assign(s, "related", t)
                self.p.conds.append(Cond("", (t.table,), (), f"has no {t.table.split('.')[-1]}", t.path, s,
                                         kind="not_related"))
                for c in self.cues("not"):
                    if c.start == k:
                        c.role = "not"
                self.g.ungrounded = [t for t in self.g.ungrounded if not k <= t.i < s.start]  # "never", "not part of any"
                continue
            if k >= 0 and self.g.tokens[k].raw == "and" and (b := next((x for x in self.entities() if x.end == k), None)) \
                    is not None and b.role == "related":  # "... mountains and lakes": related like the rows before
                k = self._word_before_rows(b)
            if k >= 1 and self.g.tokens[k].raw == "both" and self.g.tokens[k - 1].raw in _RELATIVE:
                k -= 1  # "which states have both mountains and lakes"
            if ((self.p.measures or self.p.shape == "list") and s.of("table") and not s.of("measure", "filter", "value")
                    and k >= 0 and self.g.tokens[k].raw in _RELATIVE and s.of("table")[0].table not in tables):
                t = s.of("table")[0]  # "qty of returns", "sales with a promotion": rows that have one
                if self._shared_values(s, k, t, tables):
                    continue
                self.assign(s, "related", t)
                self.p.related.append(t.table)
                continue
            if self._acted(s, tables) or self._has_any(s):
                continue
            same = [e for e in s.entries if e.kind in ("table", "column") and e.table in tables]
            if not same and s.of("table") and self._between_tables(s, tables):
                same = s.of("table")[:1]  # "revenue from online orders": the orders join revenue to the stores
            if same:
                e = next((x for x in same if x.kind == "table"), same[0])
                # a column mentioned without a value, breakdown or measure is context only if it is its
                # table's name or key ("the London store"), or the column a value of the question belongs to
                if e.kind == "column" and not (self.lex.label_column(e.table) is e or any(
                        c.kind == "value" and c.columns == ((e.table, e.column.lower()),)
                        for c in [*self.p.conds, *self.p.share_part])):
                    continue
                self.assign(s, "context", e)

        self._distinct_in_period()
        if self.p.measures and self.p.shape in ("plain", "share", "growth"):
            for s in self.entities():
                if s.role or s.of("value", "measure", "filter") or not s.of("column", "expression") or not self.plural(s):
                    continue
                dim = self._dim_of(s)
                if dim is not None and dim.kind in ("column", "expression"):
                    self._add_dim(dim, s)
                    self.p.notes.append(f"'{s.text}' read as a breakdown")

    def _distinct_in_period(self) -> None:
        """"unique customers by month in 2025": rows counted once each are counted among the one dated table
        that refers to them (the customers who ordered), never dated by their own column (the signup date),
        which the question does not name."""
        p = self.p
        if p.date is not None or p.related or not (p.times or p.grains):
            return
        for c in self.cues("distinct"):
            s = self.next(c)
            if s is None or s.role != "counted" or not s.of("table") or s.start != c.end:
                continue
            t = s.of("table")[0].table
            events = {e.other(t) for e in self.lex.edges if not e.one_to_one and (
                e.right == t and e.many_to_one or e.left == t and e.many_to_one is False)}
            dated = [(e, self.lex.date_columns(e)) for e in sorted(events)]
            dated = [(e, d[0]) for e, d in dated if len(d) == 1]
            if len(dated) != 1:
                return
            c.role = "distinct"
            p.related.append(dated[0][0])
            p.date = dated[0][1]
            p.notes.append(f"'{c.text} {s.text}' counts the {t.split('.')[-1]} rows that have "
                           f"{dated[0][0].split('.')[-1]} rows in the period")
            return

    def _has_any(self, s: Span) -> bool:
        """"customers who have a loyalty tier": rows where the (nullable) column is set."""
        cols = [c for c in s.of("column") if c.nullable]
        if len(cols) != 1 or s.of("table", "value") or not self.g.any_value(s):
            return False
        c = cols[0]
        self.assign(s, "filter", c)
        self.p.conds.append(Cond(f"{self.lex.sql_of(c)} IS NOT NULL", (c.table,), ((c.table, c.column.lower()),),
                                 f"{c.label} is set", c.path, s))
        return True

    def _shared_values(self, s: Span, k: int, t: Entry, tables: set[str]) -> bool:
        """"average length of rivers per country in countries with a lake": the rows whose column value the other
        table holds too (river.country_name IN (SELECT country_name FROM lake)), where no join relates the
        tables (lakes and rivers only share a country name)."""
        x = next((e for e in self.entities() if e.end == k and e is not s), None)
        if x is None or x.of("table", "measure", "filter", "value") or self.g.tokens[k].raw not in ("with", "having", "that"):
            return False
        other = next((c for c in x.of("column") if c.table == t.table and c.ctype == "text"), None)
        mine = [c for c in x.of("column") if c.table in tables and c.ctype == "text"]
        if other is None or len({c.table for c in mine}) != 1:
            return False
        if any({e.left, e.right} & {t.table} and {e.left, e.right} & tables for e in self.lex.edges):
            return False  # a join relates them: rows that have one ("stores with a return")
        col = mine[0]
        if x.role is None:
            self.assign(x, "filter", col)
        self.assign(s, "context", t)
        self.p.conds.append(Cond(f"{self.lex.sql_of(col)} IN (SELECT {quote(other.column)} FROM {t.label})",
                                 (col.table,), ((col.table, col.column.lower()),),
                                 f"{col.label} also in {t.table.split('.')[-1]}", other.path, s))
        return True

    def _never_before(self, i: int) -> int | None:
        """Where "never" (or "not") stands before the verb at `i` ("never been sold", "were not sold"), else None."""
        k = i - 1
        while k >= 0 and self.g.tokens[k].raw in ("been", "be", "was", "were", "got", "get", "ever", "have", "has"):
            k -= 1
        return k if k >= 0 and self.g.tokens[k].raw in ("never", "not") else None

    def _never_sold(self) -> None:
        """"which products have never been sold": the rows no sales row refers to (the units sold measure's
        table), whatever the state of those sales; a column's values ("which brands never sold") are not read."""
        p = self.p
        sold = next((t for t in self.g.soft if t.raw in _SELL_VERBS), None)
        if p.entity is not None and p.entity.entry is not None:
            if p.entity.entry.kind != "table":
                return  # "which brands have never sold": no product of the brand sold, not one product unsold
            table = p.entity.entry.table
        elif len(p.measures) == 1 and (p.measures[0].kind == "count" or p.measures[0].entry is not None
                                       and p.measures[0].entry.is_count and len(p.measures[0].entry.tables) == 1):
            m = p.measures[0]
            table = m.entry.table if m.kind == "count" else m.entry.tables[0]
        else:
            return
        if sold is None:
            return
        k = self._never_before(sold.i)
        if k is None:
            return
        found = self._sales_of(table)
        if found is None:
            return
        units, sales, _ = found
        if p.times and not self.lex.date_columns(sales):  # "not sold in June 2025": no sale in an order of June 2025
            dated = {e.other(sales) for e in self.lex.edges if sales in (e.left, e.right) and e.other(sales) != table
                     and len(self.lex.date_columns(e.other(sales))) == 1}
            if len(dated) == 1:
                sales = dated.pop()
        p.conds.append(Cond("", (sales,), (), f"never sold ({units.label})", units.path, None, kind="not_related"))
        self.g.soft = [t for t in self.g.soft if t is not sold]
        self.g.ungrounded = [t for t in self.g.ungrounded if t.i != k]
        for c in self.cues("not"):  # "which products were not sold in June 2025"
            if c.start == k:
                c.role = "not"

    def _word_before_rows(self, s: Span) -> int:
        """Where the word that relates the rows of `s` stands ("with a", "without any", "never placed an")."""
        k = s.start - 1
        while k >= 0 and self.g.tokens[k].raw in ("a", "an", "the", "any", "some"):
            k -= 1
        if k >= 1 and self.g.tokens[k - 1].raw == "never" and self.g.tokens[k].raw in FILLER | SALES_VERBS:
            k -= 1  # "never placed an order"
        elif k >= 1 and self.g.tokens[k].raw in ("have", "has", "had") and self.g.tokens[k - 1].raw == "not":
            k -= 1  # "authors who do not have a homepage", "stores that don't have returns"
        elif s.start >= 1 and self.g.tokens[s.start - 1].raw == "any":
            # "not part of any organization", "have not placed any orders": the "not" before "any"
            words_between = set()
            for j in range(s.start - 2, max(-1, s.start - 6), -1):
                t = self.g.tokens[j]
                if t.raw == "not":
                    if not any(x.kind == "entity" and x.start <= j < x.end or x.kind == "entity" and j < x.start < s.start
                               for x in self.g.spans):
                        return j
                    break
                if t.kind != "word" or t.raw in words_between:
                    break
                words_between.add(t.raw)
        return k

    def _empty_column(self, s: Span) -> bool:
        """"authors with no homepage": a text column of the rows asked about, left empty."""
        if s.of("table", "measure", "filter", "value"):
            return False
        k = self._word_before_rows(s)
        tables = self.p.tables() | ({self.p.entity.entry.table} if self.p.entity and self.p.entity.entry else set())
        return (k >= 0 and self.g.tokens[k].raw in ("without", "no", "not")
                and any(c.table in tables and c.ctype == "text" for c in s.of("column")))

    def _lacking_after(self, s: Span) -> bool:
        """"stores with no returns", "customers without orders": the plural rows that open the question, followed by
        another table's rows that must not exist (listed, like "customers who never ordered")."""
        if s.start != 0 or s.role is not None or not s.of("table") or not self.plural(s) \
                or self.lex.label_column(s.of("table")[0].table) is None:  # rows with names to list
            return False
        nxt = next((x for x in self.entities() if x.start >= s.end), None)
        words = {"with", "without", "no", "never", "not", "that", "who", "have", "has", "had", "any", "a", "an", "do",
                 "does", "did"}
        return nxt is not None and self._absent_rows(nxt) and nxt.of("table")[0].table != s.of("table")[0].table \
            and all(t.raw in words for t in self.g.tokens[s.end:nxt.start])

    def _absent_rows(self, s: Span) -> bool:
        """"never ordered", "with no returns": rows of another table that must not exist."""
        k = self._word_before_rows(s)
        return bool(s.of("table")) and k >= 0 and self.g.tokens[k].raw in ("without", "no", "never", "not")

    def _bought(self) -> None:
        """"how many customers bought something in 2024": a buying verb after the counted rows relates them to the one
        table of dated rows that refers to them (orders), which the period dates, as "customers ordered" does."""
        p = self.p
        if p.date is not None or not (p.times or p.grains) or p.related or len(p.measures) != 1 or p.measures[0].kind != "count":
            return
        table = p.measures[0].entry.table
        s = next((x for x in self.entities() if x.role == "counted" and x.chosen is p.measures[0].entry), None)
        if s is None:
            return
        k = s.end
        while k < len(self.g.tokens) and self.g.tokens[k].raw in ("who", "that", "have", "has", "actually", "ever", "all"):
            k += 1
        if k >= len(self.g.tokens) or self.g.tokens[k].raw not in _BUY_VERBS:
            return
        rows = {e.other(table) for e in self.lex.edges if table in (e.left, e.right) and e.fans_out(table)
                and len(self.lex.date_columns(e.other(table))) == 1}
        if len(rows) != 1:
            return
        t = rows.pop()
        p.related.append(t)
        p.date = self.lex.date_columns(t)[0]
        p.notes.append(f"'{self.g.tokens[k].raw}': {table.split('.')[-1]} that have {t.split('.')[-1]} in the period")
        if k + 1 < len(self.g.tokens) and self.g.tokens[k + 1].raw in ("something", "anything"):
            self.g.ungrounded = [u for u in self.g.ungrounded if u.i != k + 1]

    def _acted(self, s: Span, tables: set[str]) -> bool:
        """A table named by a verb after the counted rows ("how many customers ordered in 2024"): the rows
        that have one, and the period dates that table's rows."""
        ts = s.of("table")
        if (not ts or s.end - s.start != 1 or s.of("measure", "filter", "value") or not self.p.measures
                or not self.g.tokens[s.start].raw.endswith("ed") or ts[0].table in tables):
            return False
        k = s.start
        while k > 0 and self.g.tokens[k - 1].raw in ("have", "has", "who", "that", "actually", "ever"):
            k -= 1
        b = self.prev(s)
        if b is None or b.end != k or b.role not in ("counted", "filter"):
            return False
        t = ts[0]
        self.assign(s, "related", t)
        self.p.related.append(t.table)
        dates = self.lex.date_columns(t.table)
        if (self.p.times or self.p.grains) and self.p.date is None and len(dates) == 1:
            self.p.date = dates[0]
        return True

    # ---- 9. business rules
    def _rules(self) -> None:
        p = self.p
        explicit = {c for cond in [*p.conds, *p.share_part, *(p.ratio[0] + p.ratio[1] if p.ratio else [])] for c in cond.columns}
        grouped = {(d.entry.table, d.entry.column.lower()) for d in [*p.dims, *([p.entity] if p.entity else [])]
                   if d.entry is not None and d.entry.kind == "column"}
        explicit |= grouped  # "orders by status": every status is shown, none is fixed by a rule
        happened = self._happened_to()
        seen = []
        targets: list[Entry] = []
        for m in [*p.measures, *[c.target for c in p.compares if isinstance(c.target, Measure)]]:
            if m.kind == "snippet":
                targets.append(m.entry)
            elif m.kind == "count":
                targets.append(m.entry)  # the counted table
        targets += self.rules_of
        if p.shape == "avg_of_groups" and p.entity is not None and p.entity.entry is not None:
            # "average items per order": an average over the orders the space counts (completed orders only)
            targets.append(self._count_measure(self.lex.tables[p.entity.entry.table], None).entry)
        for t in targets:
            for r in self.rules.for_entry(t):
                if any(r.condition == s for s in seen):
                    continue
                seen.append(r.condition)
                if set(r.columns) & explicit:
                    p.notes.append(f"rule '{r.condition}' for {t.label} not applied: the question filters "
                                   f"{', '.join(c for _, c in set(r.columns) & explicit)} itself")
                    continue
                if happened is not None and t.kind == "table" and {tb for tb, _ in r.columns} == {t.table}:
                    p.notes.append(f"rule '{r.condition}' for {t.label} not applied: the question states what "
                                   f"happened to the rows itself ('{happened.text}')")
                    continue
                path = r.filter.path if r.filter is not None else r.source
                p.conds.append(Cond(r.condition, r.tables, r.columns, f"rule for {t.label}: {r.condition}", path,
                                    kind="rule"))

    def _happened_to(self) -> Span | None:
        """A passive participle naming another table ("orders were returned", "items got refunded"): the
        question itself says which state the counted rows are in, so a rule fixing their state (counts
        of orders are completed orders) does not apply, as when the question filters the column itself."""
        for s in self.entities():
            k = s.start
            if (s.role in ("related", "context") and s.end - k == 1 and s.of("table") and k > 0
                    and self.g.tokens[k].raw.endswith("ed") and self.g.tokens[k - 1].raw in _PASSIVE):
                return s
        return None

    # ---- 10. nothing dropped
    def _described_verbs(self) -> None:
        """A verb the description of a column the answer uses says ("papers published per year", where
        paper.year is "The year the paper was published") describes that column: it is grounded to it as
        context, not refused. Only participles, only numeric, date and key columns (a text column's
        description names its values: "'X' = cancelled"), and only columns the answer already uses, so the
        word adds nothing the answer leaves out."""
        g = self.g
        loose = [s for s in self.entities() if s.role is None and s.phrases and all(p.via == "description" for p in s.phrases)]
        named = [s for s in self.entities() if s.role is None and s.end - s.start == 1 and s not in loose
                 and _participle(g.tokens[s.start].fixed_from or g.tokens[s.start].raw)]
        if not g.ungrounded and not loose and not named:
            return
        used = self._used_columns()
        p = self.p
        dated = bool(p.times or p.grains or p.ratio_periods()) and p.date is None

        def fits(col: Entry) -> bool:
            if (col.table, col.column.lower()) in used:
                return True
            # "papers published in 2020": the period's date column, when the description names it so
            if dated and col.table in p.tables() and (col.ctype == "date" or col in self.lex.year_columns(col.table)):
                p.date = col
                return True
            return False

        for s in loose:  # a word only a description uses, naming a column the answer reads anyway
            col = s.phrases[0].entry
            if col.kind == "column" and _participle(s.text) and fits(col):
                s.role, s.chosen = "context", col
        for s in named:  # "references cited by publications": reference_num is "references cited by the publication"
            cols = [e for e in self.lex.desc_words.get(norm(g.tokens[s.start].raw), []) if e.kind == "column"
                    and (e.ctype in ("number", "date") or e.is_key) and (e.table, e.column.lower()) in used]
            if len(cols) == 1:
                s.role, s.chosen = "context", cols[0]
        keep = []
        for t in g.ungrounded:
            raw = t.fixed_from or t.raw
            col = None
            if not t.acronym and _participle(raw) and len(raw) > 3:
                cols = [e for e in self.lex.desc_words.get(norm(raw), []) if e.kind == "column"
                        and (e.ctype in ("number", "date") or e.is_key) and (e.table, e.column.lower()) in used]
                if not cols and dated:
                    cols = [e for e in self.lex.desc_words.get(norm(raw), []) if e.kind == "column" and e.table in
                            p.tables() and (e.ctype == "date" or e in self.lex.year_columns(e.table))]
                    if len(cols) == 1:
                        p.date = cols[0]
                col = cols[0] if len(cols) == 1 else None
            if col is None and self._relating(t, raw):
                continue
            if col is None and not t.acronym and _participle(raw) and len(raw) > 5:
                own = [self.lex.tables[x] for x in p.tables() if any(
                    len(w) >= 5 and w[:5] == raw[:5] for w in norms(x.split(".")[-1]))]
                if len(own) == 1:  # "publications published in each year": the rows' own verb, dating them
                    s = Span(t.i, t.i + 1, t.raw, "entity", phrases=[Phrase(own[0], "name")], role="context",
                             chosen=own[0])
                    g.spans.append(s)
                    dates = self.lex.date_columns(own[0].table) or self.lex.year_columns(own[0].table)
                    if dated and len(dates) == 1:
                        p.date = dates[0]
                    continue
            if col is None:
                keep.append(t)
                continue
            s = Span(t.i, t.i + 1, t.raw, "entity", phrases=[Phrase(col, "description")], role="context", chosen=col)
            g.spans.append(s)
        if len(keep) != len(g.ungrounded):
            g.spans.sort(key=lambda s: s.start)
            g.ungrounded = keep

    def _relating(self, t, raw: str) -> bool:
        """A verb between two tables the answer joins ("authors who have published papers", "papers
        associated with each dataset") names how their rows relate: the join path the answer takes. It is
        grounded to that relationship when the nearest mentions on both sides are different tables the
        answer uses (the composer refuses where more than one path could join them)."""
        if t.acronym or not (_participle(raw) or raw in _PAST):
            return False
        tables = self.p.tables()

        def table_of(s: Span) -> str | None:
            e = s.chosen
            if e is None:
                return None
            ts = e.tables if e.kind in ("measure", "filter", "expression") else (e.table,)
            return ts[0] if len(ts) == 1 and ts[0] in tables else None

        before = [s for s in self.entities() if s.end <= t.i and s.role and table_of(s)]
        after = [s for s in self.entities() if s.start > t.i and s.role and table_of(s)]
        if not before or not after:
            return False
        left, right = table_of(before[-1]), table_of(after[0])
        if left == right:
            return False
        span = Span(t.i, t.i + 1, t.raw, "cue", cue="relation")
        span.role = "relation"
        self.g.spans.append(span)
        self.p.notes.append(f"'{t.raw}' read as the relationship between {left.split('.')[-1]} and {right.split('.')[-1]}")
        return True

    def _describes_used(self, s: Span) -> bool:
        """A participle the description of a column the answer reads uses ("references cited": reference_num is
        "The number of references cited by the publication"): it describes that column, names no other."""
        t = self.g.tokens[s.start]
        if s.end - s.start != 1 or not _participle(t.fixed_from or t.raw):
            return False
        used = self._used_columns()
        return any(e.kind == "column" and (e.table, e.column.lower()) in used for e in self.lex.desc_words.get(norm(t.raw), []))

    def _used_columns(self) -> set[tuple[str, str]]:
        """(table, lower-case column) of every column the plan reads."""
        p = self.p
        entries: list[Entry] = []
        for m in [*p.measures, *[c.target for c in p.compares if isinstance(c.target, Measure)]]:
            if m.entry is not None:
                entries.append(m.entry)
        entries += [d.entry for d in [*p.dims, *p.grains, *([p.entity] if p.entity else [])] if d.entry is not None]
        entries += [c.target for c in p.compares if isinstance(c.target, Entry)]
        entries += [e for e in (p.date, p.order_by) if e is not None] + list(p.list_columns)
        out = {(e.table, e.column.lower()) for e in entries if e.kind in ("column", "value") and e.column}
        for e in entries:
            if e.kind in ("measure", "expression", "filter") and e.sql:
                out.update(_columns_of(self.lex, e.sql))
        for c in [*p.conds, *p.share_part]:
            out.update(c.columns)
        return out

    def _check_grounded(self) -> None:
        g = self.g
        if g.ungrounded:
            words = [t.fixed_from or t.raw for t in g.ungrounded]
            raise Refusal(f"the space has nothing named {', '.join(repr(w) for w in words)}",
                          words=words, missing=[self._missing(t) for t in g.ungrounded])

    def _check(self) -> None:
        p, g = self.p, self.g
        if self._both is not None and not (p.shape in ("list", "count_having") and p.entity is not None):
            col, vals = self._both
            raise Refusal(f"'both {' and '.join(vals)}' asks for rows related to each of the values of {col.label}, "
                          f"and the question lists or counts no rows to keep (it would read either)", words=["both"],
                          missing=[{"kind": "example", "words": "both", "why": "rows with every value"}])
        self._described_verbs()
        self._check_grounded()
        raw = [t.raw for t in g.tokens]
        ent = p.entity.entry if p.entity is not None and p.entity.kind == "entity" else None
        fixed = [c for c in p.conds if c.kind == "value" and " IN (" not in c.sql and len(c.columns) == 1  # one row named
                 and (lab := self.lex.label_column(c.columns[0][0])) is not None and c.columns[0][1] == lab.column.lower()
                 and not self._relation_table(c.columns[0][0])]
        named = [c for c in fixed if ent is not None and c.columns[0][0] == ent.table and c.span is not None
                 and all(ph.via == "value" for ph in c.span.phrases)]  # the whole name ("London" may be a city too)
        if p.order and p.limit and named:  # "the smallest state that borders Texas": Texas alone was ranked
            raise Refusal(f"the question ranks {ent.label} but names one of them ({named[0].label}): the rows "
                          f"ranked are others related to it, which the offline engine does not compose",
                          words=[named[0].span.text] if named[0].span is not None else [],
                          missing=[{"kind": "example", "why": "rows ranked beside a named row"}])
        related = [c for c in p.list_columns if self._relation_table(c.table)] if p.shape == "list" else []
        if related and fixed:
            t = fixed[0].columns[0][0]
            others = [c for c in [*p.list_columns, *([ent] if ent is not None else [])]
                      if not self._relation_table(c.table) and not (c.table == t and (c.kind == "table" or c is self.lex.label_column(t)))]
            if others:  # "the capitals of the states that border Texas" (Texas's capital), "mountains in states
                # bordering California" (California's mountains): the rows related to the named one are not joined back
                raise Refusal(f"'{others[0].label}' would describe {fixed[0].label}, not the rows related to it "
                              f"({related[0].label}), which the offline engine does not join back",
                              words=[fixed[0].span.text] if fixed[0].span is not None else [],
                              missing=[{"kind": "example", "why": "columns of related rows"}])
        own = [r for r in self.cues("rank") if r.start > 0 and g.tokens[r.start - 1].raw in ("their", "its")]
        if own and p.shape != "top_per_group":  # "states whose capital is also their largest city": each one's own
            raise Refusal(f"'{g.tokens[own[0].start - 1].raw} {own[0].text}' ranks within each row's own group, which "
                          f"this reading of the question does not do", words=[own[0].text],
                          missing=[{"kind": "example", "why": "ranking within each row's group"}])
        dated_part = [c for c in p.share_part if c.kind == "related" and p.date is not None and p.date.table in c.tables]
        if p.shape == "share_of" and dated_part:  # "% of 2024 revenue from customers who signed up in 2024"
            raise Refusal(f"the part of the share is {dated_part[0].label} dated by {p.date.label}, which the offline "
                          f"engine does not compose beside the whole's own dates", words=[dated_part[0].span.text],
                          missing=[{"kind": "example", "why": "share with a dated part"}])
        every = [d for d in p.grains if d.span is not None and d.span.start > 0 and p.shape == "list"
                 and g.tokens[d.span.start - 1].raw in ("in", "during", "for")
                 and g.tokens[d.span.start].raw in ("every", "each")]
        if every:  # "customers who ordered in every quarter of 2024": rows with one in each period, not in any
            raise Refusal(f"'in {every[0].span.text}' keeps rows with one in each period, which the offline engine "
                          f"does not compose", words=[every[0].span.text],
                          missing=[{"kind": "example", "why": "rows present in every period"}])
        for k in range(len(raw) - 2):  # "orders with vs without a promotion": two groups, never one of them
            if raw[k] == "with" and raw[k + 1] in ("vs", "versus", "or", "and", "compared") and "without" in raw[k + 2:k + 4]:
                raise Refusal("'with vs without' compares the rows that have something with those that do not, which "
                              "the offline engine does not compose", words=["with", "without"],
                              missing=[{"kind": "example", "why": "with vs without"}])
        for t in g.tokens:  # "restaurants with the same name": rows grouped by a shared value, never composed here
            x = g.span_at(t.i + 1) if t.raw == "same" and t.i + 1 < len(g.tokens) else None
            if x is not None and x.kind == "entity" and x.start == t.i + 1 and x.of("column"):
                raise Refusal(f"'same {x.text}' asks for rows that share a value, which the offline engine does not "
                              f"compose", words=["same", x.text], missing=[{"kind": "example", "why": "rows sharing a value"}])
        # two filter snippets that cannot both hold
        snips = [c for c in p.conds if c.kind == "filter"]
        for i, a in enumerate(snips):
            for b in snips[i + 1:]:
                if set(a.columns) & set(b.columns) and _exclusive(a.sql, b.sql):
                    raise Refusal(f"the filters '{a.label}' and '{b.label}' cannot both hold "
                                  f"(both constrain {', '.join(c for _, c in set(a.columns) & set(b.columns))})")
        for m in p.measures:  # "biggest order value": the orders' value, never their number
            if m.kind == "count" or m.kind == "snippet" and m.entry.is_count:
                s = m.span
                if s is not None and s.end < len(g.tokens) and g.tokens[s.end].raw in ("value", "values", "worth", "amount",
                                                                                      "amounts", "size", "sizes"):
                    w = g.tokens[s.end].raw
                    raise Refusal(f"'{s.text} {w}' asks what the rows are worth, and the question names no measure of "
                                  f"it (their number is not their {w})", words=[w],
                                  missing=[{"kind": "measure", "words": f"{s.text} {w}"}])
        for m in p.measures:  # "revenue per square foot" is one value per row of the column's table
            if m.per is not None:
                grouped = {d.entry.table for d in [*p.dims, *([p.entity] if p.entity else [])]
                           if d.kind == "entity" and d.entry is not None}
                if m.per.table not in grouped or p.shape not in ("plain", "list"):
                    t = m.per.table.split(".")[-1]
                    raise Refusal(f"'{m.label} per {m.per.column}' divides by {m.per.label}, which has one value per "
                                  f"{t} row; ask for it by {t}", words=[m.per.column],
                                  missing=[{"kind": "example", "words": f"per {m.per.column}", "why": "rate per column"}])
                p.conds.append(Cond(f"{self.lex.sql_of(m.per)} IS NOT NULL", (m.per.table,),
                                    ((m.per.table, m.per.column.lower()),), f"{m.per.label} is known"))
        # an operator word nothing used would be silently dropped: "ratio of ... to ...", "distinct", "average"
        for c in g.spans:
            if c.kind == "cue" and not c.role and (c.cue in _MUST_USE or c.cue == "agg" and c.arg != "SUM"):
                raise Refusal(f"the question asks for '{c.text}', which this reading of it does not use",
                              words=[c.text], missing=[{"kind": "example", "words": c.text, "why": "unsupported shape"}])
        for s in g.spans:
            if s.kind == "number" and s.role is None and s.start not in self.used_numbers:
                raise Refusal(f"the number '{s.text}' is not used by any part of the answer", words=[s.text])
        loose = [s for s in self.entities() if s.role is None]
        if loose:  # "... Give both city names and the population": a column the answer already shows
            used = self._used_columns()
            for s in loose:
                if (v := self._value_named_after(s)) is not None:
                    self.assign(s, "context", v)  # "in the city of New York": the column the value is of
                    continue
                if p.months_of_year and norms(s.text) in (("month",), (norm("months"),)) and s.entries:
                    self.assign(s, "context", s.entries[0])  # "holiday month (Dec)": the month named beside it
                    continue
                cols = [c for c in s.of("column") if (c.table, c.column.lower()) in used]
                if cols and not s.of("value", "filter", "measure"):
                    self.assign(s, "context", cols[0])
            loose = [s for s in loose if s.role is None]
        if loose:
            s = loose[0]
            kinds = ", ".join(sorted({e.kind + " " + e.label for e in s.entries})[:3])
            raise Refusal(f"'{s.text}' names {kinds}, but the question does not say how it is used "
                          f"(not a measure, breakdown or filter here)", words=[s.text],
                          missing=[{"kind": "ambiguous", "words": s.text, "candidates": [e.path for e in s.entries]}])
        shown = [x for x in self.entities() if x.role == "entity" and x.chosen is not None and x.chosen.kind == "column"]
        if p.entity is not None and shown:  # "states whose capital is also their largest city": two rows asked for
            used = self._used_columns()
            for x in shown:
                if x is not p.entity.span and x.chosen is not p.entity.entry \
                        and (x.chosen.table, x.chosen.column.lower()) not in used:
                    raise Refusal(f"'{x.text}' names rows the answer would not show ({x.chosen.label}); the question "
                                  f"asks for two things at once", words=[x.text],
                                  missing=[{"kind": "example", "words": x.text, "why": "rows asked for twice"}])
        if p.limit is None and p.shape == "list" and p.entity is not None:
            for r in self.cues("rank"):  # "states that border the state with the largest area": one row, then others
                one = self._ranked_with(r) if r.role else None
                if one is None:
                    k = r.start - (2 if r.start >= 2 and g.tokens[r.start - 1].raw == "the" else 1)
                    one = g.span_at(k - 1) if k >= 1 and g.tokens[k].raw == "with" else None
                if one is not None and one.kind == "entity" and not self.plural(one) and one is not p.entity.span:
                    raise Refusal(f"'{one.text} with the {r.text} ...' names one row by a ranking inside a list of "
                                  f"other rows, which the offline engine does not compose", words=[r.text],
                                  missing=[{"kind": "example", "words": r.text, "why": "row named by a ranking"}])
        for t in g.tokens:  # "customers who ordered both in 2023 and 2024": in each period, never in either
            if t.raw == "both" and self._both is None and len(p.times) >= 2 and any(
                    x.kind == "time" and t.i < x.start <= t.i + 2 for x in g.spans):
                raise Refusal("'both' asks for rows in each of the periods, which the offline engine does not compose "
                              "(it would count rows in either)", words=["both"],
                              missing=[{"kind": "example", "words": "both", "why": "rows in every period"}])
        for t in g.tokens:  # a period word no part of the answer reads: "orders in the week of Black Friday 2024"
            # (the week was dropped), "revenue by channel and quarter"; "year" alone is often only a word ("a year")
            if t.raw in UNITS and g.span_at(t.i) is None and (
                    UNITS[t.raw] != "year" or t.i > 0 and g.tokens[t.i - 1].raw in ("and", "&")):
                raise Refusal(f"'{t.raw}' names a period this reading of the question does not use (which {t.raw}?)",
                              words=[t.raw], missing=[{"kind": "time", "words": t.raw, "why": "unused period word"}])
        if p.shape == "plain" and p.order and p.measures and not (p.dims or p.entity or p.grains) and [
                w for w in self.cues("which") if w.text != "what"]:  # a ranking of one total: the rows were lost
            raise Refusal("the question ranks rows, but this reading of it names none to rank (it would order a "
                          "single total)", missing=[{"kind": "dimension", "why": "what is ranked"}])
        for w in self.cues("which"):  # "which users ... and how many reviews": the users must be shown
            nx = self.next(w, frozenset({"the", "our", "all"}))
            if nx is not None and nx.kind == "entity" and nx.role in ("related", "context") and nx.of("table") \
                    and p.entity is None and not p.dims and not p.grains and p.shape != "list":
                raise Refusal(f"'{w.text} {nx.text}' asks for the {nx.text} themselves, which this reading of the "
                              f"question does not list", words=[nx.text])
        unhandled = [c for c in self.cues("not") if not c.role]
        if unhandled:
            raise Refusal(f"'{unhandled[0].text}' negates something the offline engine cannot exclude",
                          words=[unhandled[0].text])
        if not p.measures and p.shape != "list" and p.shape != "count_having":
            what = [s.text for s in self.entities()]
            raise Refusal("nothing in the question is measured, counted or listed" +
                          (f" ({', '.join(what)} name only filters or breakdowns)" if what else ""),
                          missing=[{"kind": "measure", "why": "nothing to measure"}])
        if g.soft and not p.measures:
            raise Refusal(f"'{g.soft[0].raw}' needs a sales measure the space does not define",
                          words=[g.soft[0].raw], missing=[{"kind": "measure", "words": g.soft[0].raw}])

    def _missing(self, t) -> dict:
        """What the ungrounded word most likely was, from the operator word before it (for proposers)."""
        k = t.i - 1
        toks = self.g.tokens
        while k >= 0 and toks[k].raw in ("the", "a", "an", "our", "of"):
            k -= 1
        prev = toks[k].raw if k >= 0 else ""
        kind = "dimension" if prev in ("by", "per", "each", "across") else "measure" if prev in (
            "total", "average", "sum", "much") else "table" if prev in ("many", "count") else "value" if (
            (t.fixed_from or t.raw)[:1].isupper() or self.g.question[t.start:t.start + 1].isupper()) else "term"
        return {"kind": kind, "words": t.fixed_from or t.raw}


# ---------------------------------------------------------------------- helpers
_NON_ADDITIVE = frozenset(norm(w) for w in (
    "rate", "rating", "price", "prc", "pct", "percent", "percentage", "score", "age", "avg", "average", "ratio",
    "density", "lat", "latitude", "lon", "lng", "longitude", "year", "rank", "level", "tier", "discount", "margin"))


def additive_measure(m: Measure) -> bool:
    """A measure whose values add up over periods: a count, a sum, a sum snippet (not a rate or an average)."""
    if m.kind in ("count", "count_distinct"):
        return m.kind == "count"
    if m.kind == "agg":
        return m.agg == "SUM"
    sql = (m.entry.sql or "").upper().replace(" ", "")
    return sql.startswith(("SUM(", "COUNT(")) and "/" not in sql


def _factor_of_sum(node: exp.Expression) -> bool:
    """Whether only products and parentheses stand between `node` and the SUM around it."""
    parent = node.parent
    while isinstance(parent, (exp.Mul, exp.Paren)):
        parent = parent.parent
    return isinstance(parent, exp.Sum)


_RATE_NAMES = frozenset(norm(w) for w in ("rate", "pct", "percent", "percentage", "ratio"))


def additive(col: Entry) -> bool:
    """Whether summing a column means something (amounts, quantities), judged by its name."""
    return not set(norms(col.column)) & _NON_ADDITIVE


def _numeric_columns(s: Span) -> list[Entry]:
    return [c for c in s.of("column") if c.ctype == "number" and not c.is_key]


def _numeric(s: Span) -> Entry | None:
    cols = _numeric_columns(s)
    return cols[0] if cols else None


def _measure_tables(m: Measure) -> tuple[str, ...]:
    if m.entry is None:
        return ()
    return m.entry.tables if m.kind == "snippet" else (m.entry.table,)


def _ilike(column_sql: str, pattern: str, negated: bool = False) -> str:
    """`column ILIKE 'pattern'`, the pattern quoted as every literal is (`_literal`)."""
    return f"{column_sql} {'NOT ' if negated else ''}ILIKE {_literal(pattern)}"


def _literal(value) -> str:
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _columns_of(lex: Lexicon, sql: str) -> tuple[tuple[str, str], ...]:
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except sqlglot.errors.ParseError:
        return ()
    return tuple(sorted({(lex.resolve_table(c.table) or "", c.name.lower()) for c in tree.find_all(exp.Column)}))


_GAINED = frozenset({"acquire", "acquired", "gain", "gained", "win", "won", "attract", "attracted", "onboard",
                     "onboarded", "add", "added", "bring", "brought"})
_BUY_VERBS = frozenset({"bought", "buy", "buys", "purchased", "purchase", "shopped", "shop"})
_DAY_WORDS = frozenset({"date", "dates", "day", "days", "daily", "dt"})
_SUPERLATIVE_WORDS = {"highest": "DESC", "largest": "DESC", "biggest": "DESC", "longest": "DESC", "greatest": "DESC",
                      "lowest": "ASC", "smallest": "ASC", "shortest": "ASC", "least": "ASC"}


def _exclusive(a: str, b: str) -> bool:
    """Two equality filters on the same column with different values cannot both hold."""
    import re

    ma = re.fullmatch(r"\s*([\w.`]+)\s*=\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*", a)
    mb = re.fullmatch(r"\s*([\w.`]+)\s*=\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*", b)
    return bool(ma and mb and ma.group(1).lower() == mb.group(1).lower() and ma.group(2) != mb.group(2))
