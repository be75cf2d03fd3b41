"""Example SQL as templates: used only when its meaning and parameters fit the whole question.

Each example's phrasings (its question and every usage-guidance line or `|` item) are grounded
like a question. Its SQL is read for *slots*: Genie parameters (`:category`), string literals the
example's own phrasing names ('Electronics'), years, dates and LIMITs its phrasing names. An
example fits a question when

- they name the same things: every entity the question names (measure, column, table, filter) is
  named by the phrasing and vice versa, a value stands where the example has a slot for its
  column, words the space does not know appear in the phrasing (examples teach vocabulary);
- they ask the same way: count, rank direction, share, growth, average / max / min, distinct,
  time grains and month-of-year are the same;
- every value, period and number of the question fills a slot (another value of the same column,
  or of a sibling column translated through the data: "North America" -> 'AMER'); a slot the
  question does not fill takes its default only when the parameter's description or the usage
  guidance documents it, else its plain AND-ed WHERE condition is dropped, else the example does
  not fit.

So an example transfers to other values of its parameters, and never answers a question that asks
for something it does not do.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from ..space.model import ExampleSql, Parameter, text
from .base import GenerationContext
from .dates import TimeSpec, resolve
from .ground import ORDINALS, Grounding, Span, Speller, ground, tokenize
from .lexicon import Entry, Lexicon, add_values, norm, norms
from .rules import Rules

_SIGNIFICANT_CUES = ("count", "rank", "share", "growth", "agg", "distinct", "frequent", "ratio", "cmp", "not", "pattern",
                     "cumulative")
_DEFAULT_DOC = re.compile(r"\b(default|defaults|by default|unless (?:specified|given|stated|asked)|if not (?:specified|given))\b",
                          re.I)
# Words example phrasings use to describe a parameter rather than data ("Top N products in a given year").
_PARAM_WORDS = frozenset(norm(w) for w in ("n", "x", "given", "particular", "specific", "certain", "selected", "chosen",
                                            "calendar", "some", "named", "parameter", "value"))
_INDEFINITE = frozenset({"a", "an", "one", "given", "particular", "specific", "certain", "some", "any"})
_LABEL = re.compile(r"^\s*[A-Za-z][\w ]{0,30}:\s*")


@dataclass
class Slot:
    kind: str  # value | year | quarter | month | start | end | fiscal_year | limit
    node: exp.Expression  # the placeholder or literal in the parsed SQL
    column: Entry | None = None  # the column compared with (value slots; the date column for time slots)
    param: Parameter | None = None
    literal: str | None = None  # for literal slots: the value as written
    op: str | None = None  # GTE / GT / LT / LTE for date bounds

    @property
    def name(self) -> str:
        return self.param.name if self.param is not None else str(self.literal)


@dataclass
class Template:
    example: ExampleSql
    index: int
    sql: str
    slots: list[Slot]
    texts: list[str]  # the question and usage-guidance phrasings
    phrasings: list[Grounding]
    tree: exp.Expression
    tables: set[str] = field(default_factory=set)
    groups: set[tuple[str, str]] = field(default_factory=set)  # (table, column) the SQL breaks down by

    @property
    def path(self) -> str:
        return f"instructions.example_question_sqls[{self.index}]"


@dataclass
class Fit:
    sql: str
    question: str
    example_id: str | None
    slots: dict
    trace: dict


class ExampleIndex:
    """The space's example SQL, parsed and grounded once per space."""

    def __init__(self, lex: Lexicon, rules: Rules, ctx: GenerationContext | None = None):
        self.lex, self.rules = lex, rules
        self.speller: Speller | None = None
        self.templates: list[Template] = []
        for i, ex in enumerate(lex.space.serialized.examples):
            t = self._template(i, ex)
            if t is not None:
                self.templates.append(t)
        _learn_rules(self)
        # a parameter compared with a column makes that column's values known, as entity matching does
        if ctx is not None:
            for t in self.templates:
                for sl in t.slots:
                    if sl.kind == "value" and sl.column is not None and sl.column.ctype == "text":
                        add_values(lex, sl.column, ctx.values(sl.column.table, sl.column.column), via="example_slot")

    def _template(self, i: int, ex: ExampleSql) -> Template | None:
        sql = text(ex.sql).strip()
        if not sql:
            return None
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except sqlglot.errors.ParseError:
            self.lex.problems.append(f"instructions.example_question_sqls[{i}]: SQL does not parse")
            return None
        aliases = table_aliases(self.lex, tree)
        texts = [t for t in [text(ex.question)] + _phrasings(text(ex.usage_guidance)) if t.strip()]
        said = " ".join(" ".join(w.raw for w in tokenize(t)) for t in texts)
        slots = _slots(self.lex, tree, aliases, ex, said)
        return Template(ex, i, sql, slots, texts, [], tree, set(aliases.values()), _group_columns(self.lex, tree, aliases))

    def ground_phrasings(self, speller: Speller) -> None:
        """Ground every example's phrasings (after the lexicon is complete)."""
        self.speller = speller
        for t in self.templates:
            t.phrasings = [ground(self.lex, speller, q) for q in t.texts]


def group_expressions(tree: exp.Expression) -> list[exp.Expression]:
    """GROUP BY expressions with ordinals (`GROUP BY 1`) and select aliases resolved."""
    out = []
    for sel in tree.find_all(exp.Select):
        group = sel.args.get("group")
        if not group:
            continue
        proj = sel.expressions
        by_alias = {p.alias.lower(): p.this for p in proj if isinstance(p, exp.Alias)}
        for g in group.expressions:
            if isinstance(g, exp.Literal) and not g.is_string and g.this.isdigit() and 0 < int(g.this) <= len(proj):
                p = proj[int(g.this) - 1]
                g = p.this if isinstance(p, exp.Alias) else p
            elif isinstance(g, exp.Column) and not g.table and g.name.lower() in by_alias:
                g = by_alias[g.name.lower()]
            out.append(g)
    return out


def _group_columns(lex: Lexicon, tree: exp.Expression, aliases: dict[str, str]) -> set[tuple[str, str]]:
    """Columns of the non-time GROUP BY expressions."""
    out = set()
    for g in group_expressions(tree):
        if isinstance(g, (exp.Year, exp.Quarter, exp.Month, exp.DateTrunc, exp.TimestampTrunc)) or g.find(exp.AddMonths):
            continue
        for c in g.find_all(exp.Column):
            col = _column(lex, c, aliases)
            if col is not None:
                out.add((col.table, col.column.lower()))
    return out


def bare_sql(node: exp.Expression) -> str:
    """Lower-case SQL of `node` with table qualifiers dropped (to compare expressions across aliases)."""
    c = node.copy()
    for col in c.find_all(exp.Column):
        col.set("table", None)
        col.set("db", None)
        col.set("catalog", None)
    return c.sql("databricks").lower()


def _learn_rules(index: ExampleIndex) -> None:
    """Rules the examples agree on: a constant condition every example computing a measure (or
    counting a table) applies, when two or more do (all net revenue examples keep `stat_cd = 'C'`);
    a rounding every example applies. Stated rules win: nothing learnt on a column a rule names."""
    lex, rules = index.lex, index.rules
    from .rules import Rule

    targets: list[tuple[Entry, str | None]] = [(e, bare_sql(sqlglot.parse_one(e.sql, read="databricks")))
                                               for e in lex.entries if e.kind == "measure"]
    targets += [(t, None) for t in lex.tables.values()]
    for entry, bare in targets:
        uses = []
        for t in index.templates:
            if bare is not None:
                if not any(bare_sql(n) == bare for n in t.tree.find_all(exp.AggFunc, exp.Div)):
                    continue
            elif not _counts_table(t, entry.table):
                continue
            uses.append(t)
        if len(uses) < 2:
            continue
        common = None
        for t in uses:
            conds = _constant_conditions(lex, t)
            common = conds if common is None else {k: v for k, v in common.items() if k in conds}
        stated = {c for r in rules.measure_rules if r.applies_to is entry for c in r.columns}
        own = set()
        if bare is not None:
            own = {(lex.resolve_table(c.table) or "", c.name.lower())
                   for c in sqlglot.parse_one(entry.sql, read="databricks").find_all(exp.Column)}
        for key, (sql, cols, tables) in (common or {}).items():
            if set(cols) & (stated | own):
                continue
            rules.measure_rules.append(Rule(entry, sql, cols, tables, ", ".join(t.path for t in uses)))
            rules.notes.append(f"'{entry.label}' only where {sql} (every example computing it says so)")
    if not rules.calendar.fiscal_start:  # the fiscal calendar an example's fiscal-year parameter uses
        for t in index.templates:
            for sl in t.slots:
                if sl.kind == "fiscal_year":
                    shift = sl.node.parent.find(exp.AddMonths) if sl.node.parent is not None else None
                    cmp = sl.node.parent
                    while cmp is not None and shift is None:
                        shift = cmp.find(exp.AddMonths)
                        cmp = cmp.parent if shift is None else cmp
                    k = shift.expression if shift is not None else None
                    if isinstance(k, exp.Neg):
                        k = -int(k.this.this)
                    elif isinstance(k, exp.Literal):
                        k = int(k.this)
                    if isinstance(k, int):
                        from .dates import Calendar

                        rules.calendar = Calendar(fiscal_start=(1 - k) % 12 or 12 if k <= 0 else 13 - k,
                                                  named_by="start" if k <= 0 else "end")
                        rules.calendar_source = t.path
    digits = {_rounding(t) for t in index.templates}
    digits.discard(None)
    if rules.round_digits is None and len(digits) == 1 and sum(_rounding(t) is not None for t in index.templates) >= 2:
        rules.round_digits, rules.round_source = digits.pop(), "instructions.example_question_sqls"


def _counts_table(t: Template, table: str) -> bool:
    """The example counts rows of one table: `COUNT(*) FROM t` alone."""
    sel = t.tree if isinstance(t.tree, exp.Select) else None
    return (sel is not None and t.tables == {table} and any(isinstance(p.unalias(), exp.Count) for p in sel.expressions)
            and not sel.args.get("group"))


def _constant_conditions(lex: Lexicon, t: Template) -> dict[str, tuple[str, tuple, tuple]]:
    """The example's AND-ed WHERE conditions with no slot in them, rewritten to the engine's aliases."""
    slot_ids = {id(s.node) for s in t.slots}
    where = t.tree.args.get("where") if isinstance(t.tree, exp.Select) else None
    if where is None:
        return {}
    out = {}
    aliases = table_aliases(lex, t.tree)
    for c in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if any(id(n) in slot_ids for n in c.walk()) or c.find(exp.Placeholder) or c.find(exp.Select):
            continue
        cc = c.copy()
        cols, tables = [], []
        ok = True
        for col in cc.find_all(exp.Column):
            ident = aliases.get(col.table.lower()) if col.table else None
            entry = _column(lex, col, aliases) if ident is None else lex.column(ident, col.name)
            if entry is None:
                ok = False
                break
            col.set("table", exp.to_identifier(lex.aliases[entry.table]))
            cols.append((entry.table, entry.column.lower()))
            tables.append(entry.table)
        if ok and cols:
            sql = cc.sql("databricks")
            out[sql] = (sql, tuple(sorted(set(cols))), tuple(dict.fromkeys(tables)))
    return out


def _rounding(t: Template) -> int | None:
    sel = t.tree if isinstance(t.tree, exp.Select) else None
    if sel is None:
        return None
    for p in sel.expressions:
        node = p.unalias()
        if isinstance(node, exp.Round) and node.find(exp.AggFunc) and node.args.get("decimals") is not None:
            d = node.args["decimals"]
            if isinstance(d, exp.Literal) and d.this.isdigit():
                return int(d.this)
    return None


def _phrasings(guidance: str) -> list[str]:
    """The items of usage guidance: its lines and `|`-separated items, a leading "Label:" dropped."""
    out = []
    for line in guidance.splitlines():
        for item in line.split("|"):
            item = _LABEL.sub("", item, count=1).strip()
            if item:
                out.append(item)
    return out


def table_aliases(lex: Lexicon, tree: exp.Expression) -> dict[str, str]:
    """SQL alias/name -> space table identifier, for the tables an example SQL reads."""
    out: dict[str, str] = {}
    for t in tree.find_all(exp.Table):
        ident = lex.resolve_table(".".join(p for p in (t.catalog, t.db, t.name) if p)) or lex.resolve_table(t.name)
        if ident:
            out[t.name.lower()] = ident
            if t.alias:
                out[t.alias.lower()] = ident
    return out


def _column(lex: Lexicon, node: exp.Expression, aliases: dict[str, str]) -> Entry | None:
    while isinstance(node, (exp.Lower, exp.Upper, exp.Cast, exp.Paren, exp.Trim)):
        node = node.this
    if not isinstance(node, exp.Column):
        return None
    if node.table:
        ident = aliases.get(node.table.lower())
        return lex.column(ident, node.name) if ident else None
    owners = [t for t in set(aliases.values()) if lex.column(t, node.name) is not None]
    return lex.column(owners[0], node.name) if len(owners) == 1 else None


def _slots(lex: Lexicon, tree: exp.Expression, aliases: dict[str, str], ex: ExampleSql, said: str) -> list[Slot]:
    params = {p.name.lower(): p for p in ex.parameters or []}
    out: list[Slot] = []
    said_words = f" {said} "
    for node in list(tree.find_all(exp.Placeholder, exp.Literal)):
        if isinstance(node, exp.Placeholder) and isinstance(node.parent, exp.Placeholder):
            continue
        param = None
        if isinstance(node, exp.Placeholder):
            name = node.name if isinstance(node.this, str) else (node.this.name if node.this is not None else "")
            inner = node.this
            while isinstance(inner, exp.Placeholder):
                inner = inner.this
            name = inner.name if isinstance(inner, exp.Expression) else str(inner or name)
            param = params.get(name.lower()) or Parameter(name=name)
        elif isinstance(node, exp.Literal):
            value = node.this
            if not str(value).strip("%"):
                continue  # the wildcards of '%' || :name || '%'
            # a literal is a slot only when the example's phrasing says it ("in 2023", "Electronics")
            if " ".join(norms(str(value))) and f" {' '.join(w for w in re.findall(r'[a-z0-9]+', str(value).lower()))} " \
                    not in said_words:
                continue
        parent = node.parent
        if isinstance(parent, exp.Limit):
            out.append(Slot("limit", node, param=param, literal=None if param else node.this))
            continue
        cmp = parent
        while isinstance(cmp, (exp.Cast, exp.Paren, exp.Tuple, exp.DPipe)):  # DPipe: ILIKE '%' || :name || '%'
            cmp = cmp.parent
        if not isinstance(cmp, (exp.EQ, exp.NEQ, exp.In, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)):
            continue
        other = cmp.this if cmp.this is not parent and cmp.this is not node else cmp.expression
        if isinstance(cmp, exp.In):
            other = cmp.this
        fn = type(other).__name__.upper() if isinstance(other, (exp.Year, exp.Quarter, exp.Month)) else None
        base = other.this if fn else other
        fiscal = False
        if isinstance(base, (exp.AddMonths, exp.Anonymous)) or base.find(exp.AddMonths):
            fiscal = True
            base = base.this if isinstance(base, exp.AddMonths) else base.find(exp.Column)
        col = _column(lex, base, aliases) if base is not None else None
        hint = (param.type_hint or "").upper() if param else ""
        pname = (param.name.lower() if param else "") + " " + text(param.description).lower() if param else ""
        if fn == "YEAR":
            kind = "fiscal_year" if fiscal or "fiscal" in pname else "year"
        elif fn in ("QUARTER", "MONTH"):
            kind = ("fiscal_" if fiscal else "") + fn.lower()
        elif col is not None and col.ctype == "date" or "DATE" in hint or "TIMESTAMP" in hint:
            kind = "start" if isinstance(cmp, (exp.GTE, exp.GT)) else "end" if isinstance(cmp, (exp.LT, exp.LTE)) else None
            if kind is None:
                continue
        elif col is not None:
            kind = "value"
        else:
            continue
        if isinstance(node, exp.Literal) and kind in ("year", "fiscal_year") and not (node.this.isdigit()):
            continue
        out.append(Slot(kind, node, column=col, param=param, literal=None if param else node.this,
                        op=type(cmp).__name__.upper()))
    return out


# ---------------------------------------------------------------------- matching
def match_example(index: ExampleIndex, q: Grounding, ctx: GenerationContext, plan=None,
                  tried: list[dict] | None = None) -> Fit | None:
    """The best example that fits the whole question, with its slots filled; None if none fits.

    `plan` (the composer's reading of the question, when it has one) decides what the question
    breaks down by; the example's GROUP BY must be the same. The examples tried and why they did not
    fit go to `tried`, the caller's own list: one index serves questions answered concurrently."""
    tried = [] if tried is None else tried
    if not index.templates:
        return None
    dims = _plan_groups(index.lex, plan) if plan is not None else None
    best = None
    for t in index.templates:
        if dims is not None and not _same_groups(dims, t.groups):
            tried.append({"example": t.path, "question": text(t.example.question),
                          "problem": "breaks results down differently"})
            continue
        for ph in t.phrasings:
            why = _same_meaning(index.lex, t, ph, q)
            if why:
                continue
            filled = _fill(index, t, q, ctx)
            if isinstance(filled, str):
                tried.append({"example": t.path, "question": text(t.example.question), "problem": filled})
                break
            sql, slots, trace = filled
            score = (sum(1 for v in slots.values() if "(default)" not in str(v)), -len(t.slots))
            if best is None or score > best[0]:
                best = (score, Fit(sql, text(t.example.question), t.example.id, slots, {
                    "example": t.path, "phrasing": ph.question, "slots": trace}))
            break
        else:
            continue
    if best is None:
        return None
    fit = best[1]
    fit.trace = {"spans": _spans(q), **fit.trace}
    return fit


def _plan_groups(lex: Lexicon, plan) -> list[set[tuple[str, str]]]:
    """Each non-time breakdown of a plan as the columns that would express it."""
    out = []
    for d in [*plan.dims, *([plan.entity] if plan.entity is not None and plan.shape != "list" else [])]:
        if d.kind == "column":
            out.append({(d.entry.table, d.entry.column.lower())})
        elif d.kind == "entity":
            out.append({(d.entry.table, c.column.lower()) for c in lex.columns.get(d.entry.table, [])
                        if c.is_key or c is lex.label_column(d.entry.table)})
        elif d.kind == "expression":
            out.append({(t, "") for t in d.entry.tables})
    return out


def _same_groups(dims: list[set[tuple[str, str]]], groups: set[tuple[str, str]]) -> bool:
    for d in dims:
        if not any(g in d or (g[0], "") in d for g in groups):
            return False
    for g in groups:
        if not any(g in d or (g[0], "") in d for d in dims):
            return False
    return True


def _spans(g: Grounding) -> list[dict]:
    out = []
    for s in g.spans:
        if s.kind == "entity":
            e = s.entries[0] if s.entries else None
            out.append({"text": g.surface(s.start, s.end), "kind": "example_term",
                        **({"entry": e.path, "name": e.label} if e else {})})
        elif s.kind == "time":
            out.append({"text": g.surface(s.start, s.end), "kind": "time"})
    return out


def _concepts(g: Grounding, slot_columns: set[tuple[str, str]]) -> tuple[list[frozenset], set, set, set]:
    """(entity spans as candidate-entry sets, cue signature, grains, unknown words) of a grounding;
    values and mentions of slot columns are left out (they are the slots)."""
    ents = []
    for s in g.spans:
        if s.kind != "entity":
            continue
        if s.of("value"):
            continue
        prev = g.before(s, frozenset({"the", "a", "an", "our"}))
        grouped = prev is not None and prev.kind == "cue" and prev.cue == "group"
        cols = {(e.table, e.column.lower()) for e in s.of("column")}
        names = {c for _, c in cols}
        tables = {e.table for e in s.of("table")}
        slot_names = {c for _, c in slot_columns}
        slot_tables = {t for t, _ in slot_columns}
        indefinite = s.start > 0 and g.tokens[s.start - 1].raw in _INDEFINITE
        if (cols & slot_columns or names & slot_names or tables & slot_tables and indefinite) and not s.of("measure") \
                and not grouped:
            continue  # "a category", "one region": the slot's own column (or its table, "in a region")
        ents.append(frozenset(id(e) for e in s.entries) | ({"by"} if grouped else set()))
    cues = set()
    for s in g.spans:
        if s.kind == "cue" and s.cue in _SIGNIFICANT_CUES:
            if s.cue == "agg" and s.arg == "SUM":
                continue
            cues.add((s.cue, s.arg if s.cue in ("rank", "agg") else None))
    if any(c[0] == "frequent" for c in cues):
        cues.discard(("frequent", None))
    grains = {(s.time.grain, s.time.fiscal) for s in g.spans if s.kind == "time" and s.time.kind == "grain"}
    grains |= {("compare", s.time.grain) for s in g.spans if s.kind == "time" and s.time.kind == "compare"}
    grains |= {("month_of_year", None) for s in g.spans if s.kind == "time" and s.time.kind == "month_of_year"}
    grains |= {("weekday", s.time.weekday) for s in g.spans if s.kind == "time" and s.time.kind == "weekday"}
    unknown = {norm(t.raw) for t in g.ungrounded if len(t.raw) > 1}
    return ents, cues, grains, unknown


def _ordinal_rank(g: Grounding) -> bool:
    """"the second longest river": an ordinal right before a rank word."""
    return any(s.kind == "cue" and s.cue == "rank" and s.start > 0 and g.tokens[s.start - 1].raw in ORDINALS
               for s in g.spans)


def _same_meaning(lex: Lexicon, t: Template, ph: Grounding, q: Grounding) -> str | None:
    slot_cols = {(s.column.table, s.column.column.lower()) for s in t.slots if s.column is not None}
    e_ents, e_cues, e_grains, e_unknown = _concepts(ph, slot_cols)
    q_ents, q_cues, q_grains, q_unknown = _concepts(q, slot_cols)
    def same(a: frozenset, b: frozenset) -> bool:  # a shared entry, both breakdowns or neither
        return bool((a - {"by"}) & (b - {"by"})) and (("by" in a) == ("by" in b))

    for a in q_ents:
        if not any(same(a, b) for b in e_ents):
            return "the question names something the example does not"
    for b in e_ents:
        if not any(same(a, b) for a in q_ents):
            return "the example names something the question does not"
    if e_cues != q_cues:
        return "the question asks differently (count, rank, share, growth, average)"
    if _ordinal_rank(q) != _ordinal_rank(ph):
        return "the question asks for one place in a ranking (second, third), the example for the top"
    if any(s.kind == "cue" and s.cue == "agg" for s in q.spans) and t.tree.find(exp.AggFunc) is None:
        return "the question asks for a total; the example lists rows"
    if e_grains != q_grains:
        return "different time grain"
    if q_unknown - e_unknown:
        return "the question's words " + ", ".join(sorted(q_unknown - e_unknown)) + " are not in the example"
    if e_unknown - q_unknown - _PARAM_WORDS:
        return "the example's words " + ", ".join(sorted(e_unknown - q_unknown)) + " are not in the question"
    return None


def _fill(index: ExampleIndex, t: Template, q: Grounding, ctx: GenerationContext):
    """(sql, slots, trace) with the question's values, periods and numbers in the slots; or a problem."""
    lex = index.lex
    # the slots are nodes of the template's tree; fill a copy, located by walk order
    order = {id(n): k for k, n in enumerate(t.tree.walk())}
    tree = t.tree.copy()
    nodes = list(tree.walk())
    slots = [(s, nodes[order[id(s.node)]]) for s in t.slots]
    values = [s for s in q.spans if s.kind == "entity" and s.of("value")]
    periods = [s.time for s in q.spans if s.kind == "time" and s.time.kind in ("period", "relative")]
    numbers = [s for s in q.spans if s.kind == "number"]
    filled: dict[str, object] = {}
    trace: dict[str, object] = {}
    used_values: set[int] = set()
    # values
    for s, node in slots:
        if s.kind != "value":
            continue
        v = _value_for(lex, s, values, used_values, ctx)
        if v is not None:
            node.replace(exp.Literal.string(v))
            filled[s.name] = v
    if len(used_values) < len(values):
        left = [x.text for k, x in enumerate(values) if k not in used_values]
        return f"the example has no slot for {', '.join(repr(w) for w in left)}"
    # periods
    if periods:
        r = _fill_periods(index, t, slots, periods, filled)
        if r:
            return r
    # numbers: LIMIT slots
    limit_slots = [(s, n) for s, n in slots if s.kind == "limit"]
    nums = [n for n in numbers if n.value == int(n.value) and 0 < n.value < 10000]
    if len(numbers) > len(nums) or len(nums) > len(limit_slots):
        extra = [n for n in numbers if n not in nums] or nums[len(limit_slots):]
        return f"the example has no slot for the number {extra[0].text}"
    for (s, node), n in zip(limit_slots, nums):
        node.replace(exp.Literal.number(int(n.value)))
        filled[s.name] = int(n.value)
    if not nums and len(limit_slots) == 1 and _one_ranked(q):
        s, node = limit_slots[0]  # "which store had the highest revenue": the top one
        node.replace(exp.Literal.number(1))
        filled[s.name] = 1
    # unfilled slots: documented default, else drop a plain AND-ed WHERE condition
    # "for a product category": one value asked for, the documented default may stand in; "how many segments" asks
    # about many (the plural), never one default
    named = {(e.table, e.column.lower()) for sp in q.spans if sp.kind == "entity" and not sp.of("value")
             and not q.tokens[sp.end - 1].plural for e in sp.of("column")}
    many = {(e.table, e.column.lower()) for sp in q.spans if sp.kind == "entity" and not sp.of("value")
            and q.tokens[sp.end - 1].plural for e in sp.of("column")} - named
    existence = {(e.table, e.column.lower()) for sp in q.spans if sp.kind == "entity" and not sp.of("value")
                 and q.any_value(sp) for e in sp.of("column")}
    for s, node in slots:
        if s.column is not None and (s.column.table, s.column.column.lower()) in existence and s.name not in filled:
            return f"the question asks for rows with any {s.column.label}, the example for one value"
        if s.name in filled or node.parent is None and s.kind != "limit":
            continue
        if s.column is not None and (s.column.table, s.column.column.lower()) in many:
            return f"the question asks about {s.column.label} values in the plural, the example for one value"
        asked = s.column is not None and (s.column.table, s.column.column.lower()) in named  # "for a product category"
        if s.param is not None and s.param.default_value and s.param.default_value.values and (
                asked or _documented(s, t.example)):
            v = s.param.default_value.values[0]
            node.replace(_literal(v, s))
            filled[s.name] = f"{v} (default)"
            continue
        if s.param is None and s.kind != "limit":
            if s.kind in ("year", "start", "end", "quarter", "month", "fiscal_year"):
                return f"the example is about the period {s.literal}, the question names none"
            return f"the example is about {s.literal}, the question does not say"
        dropped = _drop(node)
        if not dropped:
            return f"the example needs :{s.name}, which the question does not give"
        trace.setdefault("dropped", []).append(s.name)
    sql = tree.sql("databricks")
    sql = re.sub(r"\s+LIMIT\s+NULL\b", "", sql)
    trace["filled"] = {k: str(v) for k, v in filled.items()}
    return sql, filled, trace


def _one_ranked(q: Grounding) -> bool:
    """A ranking whose rows are named in the singular ("top store", "which brand sold the most")."""
    if not any(s.kind == "cue" and s.cue in ("rank", "which") for s in q.spans):
        return False
    nouns = [s for s in q.spans if s.kind == "entity" and s.of("table") and not s.of("value", "measure")]
    return bool(nouns) and not any(q.tokens[s.end - 1].plural for s in nouns)


def _value_for(lex: Lexicon, s: Slot, values: list[Span], used: set[int], ctx: GenerationContext) -> str | None:
    for k, span in enumerate(values):
        if k in used:
            continue
        for v in span.of("value"):
            if v.table == s.column.table and v.column.lower() == s.column.column.lower():
                used.add(k)
                return v.value
    for k, span in enumerate(values):
        if k in used:
            continue
        for v in span.of("value"):
            if v.table == s.column.table:
                # a name of the same thing ("North America" for 'AMER'): one value each way
                found = ctx.lookup(v.table, v.column, v.value, s.column.column)
                if len(found) == 1 and ctx.lookup(v.table, s.column.column, found[0], v.column) == [v.value]:
                    used.add(k)
                    return found[0]
    return None


def _fill_periods(index: ExampleIndex, t: Template, slots, periods: list[TimeSpec], filled: dict) -> str | None:
    lex = index.lex
    date_col = next((s.column for s, _ in slots if s.column is not None and s.column.ctype == "date"), None)
    anchor = None
    if date_col is not None and lex.stats:
        st = lex.stats(date_col.table, date_col.column)
        if st is not None and st.max is not None:
            v = st.max
            anchor = v.date() if isinstance(v, dt.datetime) else v if isinstance(v, dt.date) else None
    by_kind = {}
    for s, node in slots:
        if s.kind in ("year", "quarter", "month", "start", "end", "fiscal_year", "fiscal_quarter"):
            by_kind.setdefault(s.kind, []).append((s, node))
    if len(periods) > 1:
        years = by_kind.get("year", [])
        if len(years) == len(periods) and all(p.kind == "period" and p.grain == "year" and not p.fiscal for p in periods):
            for (s, node), p in zip(years, periods):
                node.replace(exp.Literal.number(p.start.year))
                filled[s.name] = p.start.year
            return None
        return "the question names several periods"
    p = periods[0]
    if p.fiscal and p.kind == "period":
        fy = by_kind.get("fiscal_year")
        if not fy or p.fiscal_quarter:
            return f"'{p.text}' is a fiscal period and the example has no fiscal-year slot"
        for s, node in fy:
            node.replace(exp.Literal.number(p.fiscal_year))
            filled[s.name] = p.fiscal_year
        return None
    r = resolve(p, anchor, index.rules.calendar)
    if r is None:
        return f"'{p.text}' cannot be resolved to dates"
    start, end = r
    if p.fiscal:
        return f"'{p.text}' is a relative fiscal period"
    if "start" in by_kind and "end" in by_kind:
        for s, node in by_kind["start"]:
            node.replace(_date_node(start, s))
            filled[s.name] = start.isoformat()
        for s, node in by_kind["end"]:
            last = end - dt.timedelta(days=1) if s.op == "LTE" else end
            node.replace(_date_node(last, s))
            filled[s.name] = last.isoformat()
        return None
    whole_year = start.month == 1 and start.day == 1 and (end == dt.date(start.year + 1, 1, 1) or (
        p.to_date and anchor is not None and end == anchor + dt.timedelta(days=1) and anchor.year == start.year))
    quarter = start.day == 1 and start.month % 3 == 1 and end == _months(start, 3)
    month = start.day == 1 and end == _months(start, 1)
    need = set()
    if whole_year:
        need = {"year"}
    elif quarter:
        need = {"year", "quarter"}
    elif month:
        need = {"year", "month"}
    else:
        return f"the example has no date-range slot for '{p.text}'"
    have = {k for k in by_kind if k in ("year", "quarter", "month")}
    if have != need:
        return f"the example's period slots ({', '.join(sorted(have)) or 'none'}) do not fit '{p.text}'"
    for s, node in by_kind.get("year", []):
        node.replace(exp.Literal.number(start.year))
        filled[s.name] = start.year
    for s, node in by_kind.get("quarter", []):
        node.replace(exp.Literal.number((start.month - 1) // 3 + 1))
        filled[s.name] = (start.month - 1) // 3 + 1
    for s, node in by_kind.get("month", []):
        node.replace(exp.Literal.number(start.month))
        filled[s.name] = start.month
    return None


def _months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def _date_node(d: dt.date, s: Slot) -> exp.Expression:
    return exp.cast(exp.Literal.string(d.isoformat()), "DATE")


def _literal(value, s: Slot) -> exp.Expression:
    hint = (s.param.type_hint or "").upper() if s.param else ""
    if "INT" in hint or s.kind in ("limit", "year", "quarter", "month", "fiscal_year"):
        try:
            return exp.Literal.number(int(value))
        except (TypeError, ValueError):
            pass
    if ("DATE" in hint or s.kind in ("start", "end")) and isinstance(value, str):
        try:
            return _date_node(dt.date.fromisoformat(value[:10]), s)
        except ValueError:
            pass
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _documented(s: Slot, ex: ExampleSql) -> bool:
    """The parameter description, or usage guidance naming the parameter, says its default applies."""
    if _DEFAULT_DOC.search(text(s.param.description)):
        return True
    guidance = text(ex.usage_guidance)
    return bool(_DEFAULT_DOC.search(guidance)) and s.param.name.lower() in guidance.lower()


def _drop(node: exp.Expression) -> bool:
    """Remove the plain AND-ed WHERE condition (or LIMIT) a slot sits in; False if it is not one."""
    parent = node.parent
    if isinstance(parent, exp.Limit):
        parent.pop()
        return True
    cmp = parent
    while isinstance(cmp, (exp.Cast, exp.Paren, exp.Tuple, exp.Lower, exp.Upper)):
        cmp = cmp.parent
    if not isinstance(cmp, (exp.EQ, exp.In, exp.Like, exp.ILike, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        return False
    if isinstance(cmp, exp.In) and len(cmp.expressions) > 1:
        return False  # IN (:name, :name_2): the other values are part of the same condition
    up = cmp.parent
    while isinstance(up, (exp.And, exp.Paren)):
        up = up.parent
    if not isinstance(up, exp.Where):
        return False
    if up.find_ancestor(exp.Subquery, exp.In, exp.Exists) is not None or up.parent is None or up.parent.parent is not None:
        return False  # a condition inside a subquery shapes what the outer query counts: never dropped
    if cmp.parent is up:
        up.pop()
    else:
        cmp.replace(exp.true())
        for b in list(up.find_all(exp.Boolean)):
            par = b.parent
            if b.this is True and isinstance(par, exp.And):
                par.replace(par.expression if par.this is b else par.this)
    return True
