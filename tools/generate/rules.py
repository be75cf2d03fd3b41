"""Business rules a space states in prose or on its snippets, read into structured form.

Genie's text instructions are free prose; the offline engine reads the common rule shapes below
and ignores the rest (a structured lever — a snippet — wins where both say the same thing):

- **measure rules**: a measure's snippet instruction naming a filter snippet ("Combine with the
  completed orders filter"); a filter's instruction naming measures ("Apply to every revenue and
  order-count question"); a sentence whose subject names measures (or counts of a table) and whose
  body gives an SQL condition or names a filter snippet ("Revenue, sales and turnover mean net
  revenue ... over orders with stat_cd = 'C'", "Order counts mean completed orders"). The rule
  applies wherever the measure is used, unless the question filters the same column itself
  ("cancelled orders") or the measure's own SQL already constrains that column;
- **measure definitions**: such a sentence whose body holds an aggregate SQL expression defines a
  measure named by the subject when no snippet does;
- **fiscal calendar**: "fiscal year(s) start(s) on February 1", "fiscal year N runs from February 1
  of year N", "FY2024 = 2024-02-01 to 2025-01-31", or an expression snippet `YEAR(ADD_MONTHS(d, -1))`
  named fiscal;
- **rounding**: "rounded to two decimals" (applied to every non-count result);
- **percentages**: "as percentages (0-100)" (default) or "as a fraction (0-1)";
- **value aliases**: "'North America' is AMER", "'C' for completed", "`X` means `Y`" where the value
  is one of a column's values;
- **default ordering**: "sort/order results by the measure descending" (or ascending).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from ..space.model import text
from .dates import MONTHS, Calendar
from .lexicon import Entry, Lexicon, Phrase, _add_value, _qualify, _value_phrase, norms

_NUMBERS = {"zero": 0, "no": 0, "one": 1, "two": 2, "three": 3, "four": 4}
_NEGATION = re.compile(r"\b(not|never|no|exclud\w*|except|without|other than)\b", re.I)
_CONDITION = re.compile(
    r"(?<![\w.])((?:\w+\.)?\w+)\s*(=|<>|!=|\bIN\b|\bNOT IN\b)\s*('(?:[^']|'')*'|\([^()]*\)|-?\d+(?:\.\d+)?)", re.I)
_AGGREGATE = re.compile(r"\b(SUM|COUNT|AVG|MIN|MAX|COUNT_IF)\s*\(", re.I)


@dataclass
class Rule:
    """Whenever `applies_to` (a measure, or a table whose rows are counted) is used, `condition` holds."""

    applies_to: Entry
    condition: str  # SQL over the engine's aliases
    columns: tuple[tuple[str, str], ...]  # (table, lower-case column) the condition constrains
    tables: tuple[str, ...]
    source: str  # where the rule is written
    filter: Entry | None = None  # the filter snippet saying the same, when there is one


@dataclass
class Rules:
    calendar: Calendar = field(default_factory=Calendar)
    calendar_source: str | None = None
    round_digits: int | None = None
    round_source: str | None = None
    percent_scale: int = 100
    order: str | None = None  # DESC | ASC: default ordering of breakdowns by their measure
    order_source: str | None = None
    measure_rules: list[Rule] = field(default_factory=list)
    definitions: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was understood, for the trace

    def for_entry(self, entry: Entry) -> list[Rule]:
        return [r for r in self.measure_rules if r.applies_to is entry]


def sentences(value: str) -> list[str]:
    out = []
    for line in value.splitlines():
        for s in re.split(r"(?<=[.;])\s+(?=[A-Z'\"(])", line):
            if s.strip():
                out.append(s.strip())
    return out


def read_rules(lex: Lexicon, match) -> Rules:
    """The rules of `lex`'s space. `match(words) -> [(start, end, entries)]` finds phrases in text."""
    rules = Rules()
    doc = lex.space.serialized
    filters = [e for e in lex.entries if e.kind == "filter"]
    # snippet instructions
    for e in lex.entries:
        if e.kind == "measure" and e.instruction and not _NEGATION.search(e.instruction):
            for f in _named_filters(e.instruction, filters):
                _add_rule(lex, rules, e, f.sql, f"{e.path}.instruction", f)
        if e.kind == "filter" and e.instruction and not _NEGATION.search(e.instruction):
            for m in _subjects(lex, e.instruction, match):
                _add_rule(lex, rules, m, e.sql, f"{e.path}.instruction", e)
    for i, ti in enumerate(doc.instructions.text_instructions):
        body = text(ti.content)
        path = f"instructions.text_instructions[{i}]"
        for s in sentences(body):
            _read_sentence(lex, rules, s, path, filters, match)
        _read_calendar(rules, body, path)
        _read_rounding(rules, body, path)
        _read_aliases(lex, body, path)
    for e in lex.entries:
        if e.kind == "expression" and rules.calendar.fiscal_start is None and "fiscal" in e.label.lower():
            m = re.search(r"ADD_MONTHS\s*\(\s*[\w.`]+\s*,\s*(-?\d+)\s*\)", e.sql, re.I)
            if m:
                k = int(m.group(1))
                rules.calendar = Calendar(fiscal_start=(1 - k) % 12 or 12 if k <= 0 else 13 - k,
                                          named_by="start" if k <= 0 else "end")
                rules.calendar_source = e.path
    if rules.calendar.fiscal_start:
        rules.notes.append(f"fiscal year starts in {_month_name(rules.calendar.fiscal_start)} "
                           f"(FY named by the year it {'starts' if rules.calendar.named_by == 'start' else 'ends'} in; "
                           f"{rules.calendar_source})")
    if rules.round_digits is not None:
        rules.notes.append(f"results rounded to {rules.round_digits} decimals ({rules.round_source})")
    return rules


def _month_name(m: int) -> str:
    return next(k for k, v in MONTHS.items() if v == m and len(k) > 3).capitalize()


def _named_filters(sentence: str, filters: list[Entry]) -> list[Entry]:
    """Filter snippets a sentence names by display name (longest names first)."""
    low = " " + " ".join(norms(sentence)) + " "
    out = []
    for f in sorted(filters, key=lambda f: -len(f.label)):
        if f" {' '.join(norms(f.label))} " in low:
            out.append(f)
            low = low.replace(f" {' '.join(norms(f.label))} ", " ")
    return out


def _subjects(lex: Lexicon, sentence: str, match) -> list[Entry]:
    """Measures (or counted tables) a phrase names: "revenue and order-count" -> [net revenue, completed orders]."""
    ws = list(norms(sentence))
    found: list[Entry] = []
    counted = any(w in ("count", "number") for w in ws)
    for _, _, entries in match(ws):
        ms = [e for e in entries if e.kind == "measure"]
        if ms:
            found.extend(m for m in ms if m not in found)
        elif counted:
            found.extend(t for t in entries if t.kind == "table" and t not in found)
    return found


_SUBJECT_SPLIT = re.compile(r"\s(?:all\s+)?(?:means?|=|are|is|counts?\s+as)\s|:\s|\s=\s", re.I)


def _read_sentence(lex: Lexicon, rules: Rules, s: str, path: str, filters: list[Entry], match) -> None:
    m = _SUBJECT_SPLIT.search(s)
    if not m:
        return
    subject, body = s[: m.start()], s[m.end():]
    targets = _subjects(lex, subject, match)
    if not targets:
        return
    agg = _aggregate_sql(body)
    if agg and not [t for t in targets if t.kind == "measure"]:
        _define_measure(lex, rules, subject, agg, path)
        return
    if _NEGATION.search(body):
        return
    conds = [c for c in _CONDITION.finditer(body) if not _inside_aggregate(body, c.start())]
    for t in targets:
        for c in conds:
            _add_rule(lex, rules, t, c.group(0), path)
        if not conds:
            for f in _named_filters(body, filters):
                _add_rule(lex, rules, t, f.sql, path, f)


def _inside_aggregate(body: str, pos: int) -> bool:
    depth = 0
    for ch in body[:pos]:
        depth += ch == "("
        depth -= ch == ")"
    return depth > 0


def _aggregate_sql(body: str) -> str | None:
    m = _AGGREGATE.search(body)
    if not m:
        return None
    depth, i = 0, m.end() - 1
    for j in range(i, len(body)):
        depth += body[j] == "("
        depth -= body[j] == ")"
        if depth == 0:
            sql = body[m.start(): j + 1]
            # a ratio of aggregates continues: "SUM(x) / COUNT(DISTINCT y)"
            rest = re.match(r"\s*([-+*/])\s*", body[j + 1:])
            if rest:
                tail = _aggregate_sql(body[j + 1 + rest.end():])
                if tail and body[j + 1 + rest.end():].lstrip().upper().startswith(tail[:3].upper()):
                    sql = f"{sql} {rest.group(1)} {tail}"
            return sql
    return None


def _parsed(lex: Lexicon, sql: str) -> tuple[exp.Expression, list[str]] | None:
    """SQL parsed with its columns on the engine's aliases, and the tables it reads; None if unreadable."""
    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except sqlglot.errors.ParseError:
        return None
    tables = _qualify(lex, tree)
    return (tree, tables) if tables else None


def _define_measure(lex: Lexicon, rules: Rules, subject: str, sql: str, path: str) -> None:
    parsed = _parsed(lex, sql)
    if parsed is None:
        return
    tree, tables = parsed
    names = [n.strip() for n in re.split(r",|\band\b|\bor\b|\(|\)", subject) if n.strip()]
    entry = Entry("measure", path, names[0] if names else subject.strip(), table=tables[0], sql=tree.sql("databricks"),
                  tables=tuple(tables), ctype="number")
    lex.entries.append(entry)
    for n in names:
        phrase = norms(n)
        if phrase:
            lex.phrases[phrase].append(Phrase(entry, "instruction"))
    rules.definitions.append(entry)
    rules.notes.append(f"measure '{entry.label}' = {entry.sql} ({path})")


def _add_rule(lex: Lexicon, rules: Rules, target: Entry, condition: str, source: str, filt: Entry | None = None) -> None:
    parsed = _parsed(lex, condition)
    if parsed is None:
        return
    tree, tables = parsed
    cols = tuple(sorted({(lex.resolve_table(c.table) or "", c.name.lower()) for c in tree.find_all(exp.Column)}))
    sql = tree.sql("databricks")
    if target.kind == "measure":
        own = {(lex.resolve_table(c.table) or "", c.name.lower())
               for c in sqlglot.parse_one(target.sql, read="databricks").find_all(exp.Column)}
        if set(cols) & own:
            return  # the measure's own SQL decides that column (a return rate reads every status)
    if filt is None:
        filt = next((f for f in lex.entries if f.kind == "filter" and _same_sql(f.sql, sql)), None)
    if any(r.applies_to is target and _same_sql(r.condition, sql) for r in rules.measure_rules):
        return
    rules.measure_rules.append(Rule(target, sql, cols, tuple(tables), source, filt))
    rules.notes.append(f"'{target.label}' only where {sql} ({source})")


def _same_sql(a: str, b: str) -> bool:
    try:
        return sqlglot.parse_one(a, read="databricks") == sqlglot.parse_one(b, read="databricks")
    except sqlglot.errors.ParseError:
        return a.strip().lower() == b.strip().lower()


_FISCAL_START = re.compile(r"fiscal\s+years?\s+(?:starts?|begins?)\s+(?:on\s+|in\s+)?(?:the\s+)?(?:1st\s+of\s+)?([A-Za-z]+)", re.I)
_FISCAL_RUNS = re.compile(r"fiscal\s+year\s+N\s+runs\s+from\s+([A-Za-z]+)\s+\d+\s+of\s+year\s+N(\s*-\s*1)?", re.I)
_FY_EQ = re.compile(r"FY\s?(\d{4})\s*(?:=|is|runs from|:)\s*(\d{4})-(\d{2})-\d{2}", re.I)
_FY_EXPR = re.compile(r"fiscal\s+year\s*=\s*YEAR\s*\(\s*ADD_MONTHS\s*\([^,]+,\s*(-?\d+)\s*\)\s*\)", re.I)


def _read_calendar(rules: Rules, body: str, path: str) -> None:
    if rules.calendar.fiscal_start and rules.calendar_source and "sql_snippets" in rules.calendar_source:
        return
    start, named = None, "start"
    m = _FY_EQ.search(body)
    if m:
        start = int(m.group(3))
        named = "start" if int(m.group(1)) == int(m.group(2)) else "end"
    m2 = _FISCAL_RUNS.search(body)
    if start is None and m2 and m2.group(1).lower() in MONTHS:
        start, named = MONTHS[m2.group(1).lower()], "end" if m2.group(2) else "start"
    m3 = _FY_EXPR.search(body)
    if start is None and m3:
        k = int(m3.group(1))
        start, named = (1 - k) % 12 or 12, "start" if k <= 0 else "end"
    m4 = _FISCAL_START.search(body)
    if start is None and m4 and m4.group(1).lower() in MONTHS:
        start = MONTHS[m4.group(1).lower()]
    if start:
        rules.calendar = Calendar(fiscal_start=start, named_by=named)
        rules.calendar_source = path


_ROUND = re.compile(r"round(?:ed|ing)?\s+(?:to\s+)?(\w+)\s+decimal", re.I)
_FRACTION = re.compile(r"\bas\s+(?:a\s+)?fractions?\b|\(0\s*-\s*1\)", re.I)


def _read_rounding(rules: Rules, body: str, path: str) -> None:
    m = _ROUND.search(body)
    if m and rules.round_digits is None:
        w = m.group(1).lower()
        digits = int(w) if w.isdigit() else _NUMBERS.get(w)
        if digits is not None:
            rules.round_digits, rules.round_source = digits, path
    if _FRACTION.search(body):
        rules.percent_scale = 1
    m = re.search(r"\b(?:sort|order)\w*\s+(?:\w+\s+){0,4}?by\s+(?:the\s+)?(?:measure|value|amount|metric)\w*\s+"
                  r"(desc\w*|asc\w*|highest first|largest first|lowest first)", body, re.I)
    if m and rules.order is None:
        rules.order = "ASC" if m.group(1).lower().startswith(("asc", "lowest")) else "DESC"
        rules.order_source = path


_ALIAS = re.compile(r"['\"]([^'\"]{2,40})['\"]\s+(?:is|means|=)\s+"  # 'North America' is
                    r"['\"]?([A-Za-z0-9][\w&-]*(?: [A-Za-z0-9][\w&-]*){0,4}?)['\"]?(?=[.,;)]|\s+and\b|$)")  # AMER
_CODE_FOR = re.compile(r"'([^']{1,12})'\s+(?:for|=|means)\s+([A-Za-z][A-Za-z -]{1,30}?)(?=[,.;)]|\s+and\b|$)")


def _read_aliases(lex: Lexicon, body: str, path: str) -> None:
    """`'North America' is AMER`, `'C' for completed`: the phrase names that value of a column."""
    pairs = [(m.group(1), m.group(2)) for m in _ALIAS.finditer(body)]
    pairs += [(m.group(2), m.group(1)) for m in _CODE_FOR.finditer(body)]
    if not pairs:
        return
    owners: dict[str, list[tuple[Entry, str]]] = {}
    for (table, column, value), e in list(lex.values.items()):
        owners.setdefault(value.lower(), []).append((lex.column(table, column), value))
    for phrase_text, value in pairs:
        cols = owners.get(value.lower(), [])
        for col, v in cols:
            if col is None:
                continue
            phrase, surface = _value_phrase(phrase_text)
            if phrase:
                _add_value(lex, col, v, phrase, "value_alias", surface)


def inherit_rules(lex: Lexicon, rules: Rules) -> None:
    """A measure built from another (average order value = net revenue / orders) keeps its rules."""
    from sqlglot import exp as _exp

    measures = [e for e in lex.entries if e.kind == "measure"]
    trees = {id(e): sqlglot.parse_one(e.sql, read="databricks") for e in measures}
    for m in measures:
        for n in measures:
            if n is m or not rules.for_entry(n):
                continue
            want = trees[id(n)]
            if not any(node == want for node in trees[id(m)].find_all(type(want))) or want == trees[id(m)]:
                continue
            own = {(lex.resolve_table(c.table) or "", c.name.lower()) for c in trees[id(m)].find_all(_exp.Column)}
            for r in rules.for_entry(n):
                if any(x.columns == r.columns for x in rules.for_entry(m)) or set(r.columns) & own:
                    continue
                rules.measure_rules.append(Rule(m, r.condition, r.columns, r.tables, r.source, r.filter))
