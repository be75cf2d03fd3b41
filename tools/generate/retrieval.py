"""The offline strategy: reuse the closest example SQL with its slots filled, else schema linking.

1. Retrieval: TF-IDF cosine between the question and each example's question + usage guidance,
   with slot values (numbers, periods, data values) left out so "West in 2023" and "East in 2024"
   read as the same question. An example is used only when it fits the question:
   - every schema concept the question names firmly (table, column, synonym, snippet) is used by
     the example SQL, a breakdown the question asks for is the example's GROUP BY and a breakdown
     the example makes is asked for, a count is answered by a COUNT;
   - every value, period and number of the question fills a slot (parameters `:name`, string
     literals the example question mentions, LIMIT numbers, years/dates), and a year slot never
     swallows a quarter or month;
   - a parameter the question says nothing about takes its default only when the question names
     its column or the example documents the default; otherwise its filter is dropped when it is a
     plain AND-ed WHERE condition, else the example does not fit;
   - relative periods, text patterns and negation ("last year", "starts with", "excluding") need an
     example that says the same.
   Filled slots raise the score only on top of that schema evidence, never on their own.
2. Otherwise `SchemaLinker` writes SQL for simple shapes from the space's column names,
   descriptions, synonyms, snippets, entity values and join specs (not for the cues above).
3. Otherwise sql=None with a reason naming what was missing.

Free-text instructions are prose this strategy cannot read; it ignores them (the llm strategy reads them).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from ..space.model import ExampleSql, Parameter, Space, text
from .base import Generation, GenerationContext
from .examples import _phrasings, bare_sql, group_expressions, table_aliases
from .schema_link import Parse, SchemaIndex, SchemaLinker, Target, _is_measure, parse_question
from .slots import Number, Period, ValueIndex, numbers, periods
from .text import TfIdf, stem, terms, words

VERSION = "retrieval-2"


@dataclass
class _Slot:
    kind: str  # param | string | limit | year | date
    node: exp.Expression
    column: tuple[str, str] | None = None  # (table identifier, column) compared to
    param: Parameter | None = None
    op: str | None = None  # comparison class name, for date params


@dataclass
class _Fit:
    sql: str | None
    filled: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    coverage: float = 0.0  # share of the example's slots filled from the question
    concept: float = 0.0  # link strength of the schema concepts the question names (0: it names none)
    unexplained: list[str] = field(default_factory=list)  # question words neither linked nor in the example
    dropped: int = 0  # filters removed because the question does not ask for them


@dataclass
class _Concepts:
    """What an example SQL is about: the schema things it uses and how it breaks results down."""

    tables: set[str] = field(default_factory=set)
    columns: set[tuple[str, str]] = field(default_factory=set)  # (table, lower-case column)
    snippets: set[str] = field(default_factory=set)  # snippet targets whose SQL the example contains
    text_terms: frozenset[str] = frozenset()  # terms of the example question and usage guidance
    group_cols: set[tuple[str, str]] = field(default_factory=set)  # (table, lower-case column)
    group_grains: set[str] = field(default_factory=set)  # YEAR / QUARTER / MONTH / ... of date groups
    group_snippets: set[str] = field(default_factory=set)
    entity_groups: set[str] = field(default_factory=set)  # tables whose rows are the groups (by key or name)
    counts: bool = False  # a result column is a COUNT
    measures: list[tuple[str, frozenset[str]]] = field(default_factory=list)  # (phrase, target labels) the example question measures


# Ways of asking for the same aggregate, read as one term so "how many" meets "number of".
_INTENT = [(re.compile(r"\b(how many|number of|count of|counts?)\b", re.I), " count "),
           # a time grain however it is said: "monthly", "month by month", "per month"
           (re.compile(r"\b(month by month|monthly|months)\b", re.I), " month "),
           (re.compile(r"\b(quarter by quarter|quarterly|quarters)\b", re.I), " quarter "),
           (re.compile(r"\b(year by year|year over year|yearly|annual|annually|years)\b", re.I), " year "),
           (re.compile(r"\b(weekly|weeks)\b", re.I), " week "),
           (re.compile(r"\b(daily|days)\b", re.I), " day "),
           (re.compile(r"\b(average|avg|mean)\b", re.I), " average "),
           (re.compile(r"\b(top|best|highest|biggest|largest|most)\b", re.I), " top ")]


def _strip_slot_words(question: str, extra_values: list[str] = ()) -> list[str]:
    """Question terms without numbers, periods and the given values (the slot contents)."""
    q = question
    for p in periods(q):
        q = q[: p.span[0]] + " " * (p.span[1] - p.span[0]) + q[p.span[1]:]
    for n in numbers(q):
        q = q[: n.start] + " " * (n.end - n.start) + q[n.end:]
    for pattern, canonical in _INTENT:
        q = pattern.sub(canonical, q)
    toks = words(q)
    for v in sorted(extra_values, key=lambda v: -len(words(v))):
        vw = words(v)
        if not vw:
            continue
        i = 0
        while i + len(vw) <= len(toks):
            if toks[i : i + len(vw)] == vw:
                del toks[i : i + len(vw)]
            else:
                i += 1
    return terms(" ".join(toks))


def _literal_strings(sql: str) -> list[str]:
    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except sqlglot.errors.ParseError:
        return []
    return [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string]


class RetrievalGenerator:
    """Offline, deterministic SQL generation from the space's examples and schema metadata."""

    name = "retrieval"

    def __init__(self, *, threshold: float = 0.45, fallback_threshold: float = 0.35):
        self.threshold = threshold
        self.fallback_threshold = fallback_threshold
        self._indexes: dict[str, SchemaIndex] = {}
        self._prepared: dict[tuple, Any] = {}
        self._ranking: dict[str, tuple[list[ExampleSql], TfIdf]] = {}
        self._tree_lock = threading.Lock()
        self._value_indexes: dict[tuple, ValueIndex] = {}
        self.linker = SchemaLinker()

    def identity(self) -> str:
        return f"{VERSION}(t={self.threshold},f={self.fallback_threshold})"

    def _values(self, ctx: GenerationContext, columns: list[tuple[str, str]]) -> ValueIndex:
        key = (ctx.space_key, tuple(sorted(columns)))
        if not ctx.space_key or key not in self._value_indexes:
            if len(self._value_indexes) > 256:
                self._value_indexes.clear()
            idx = ValueIndex({c: ctx.values(*c) for c in columns})
            if not ctx.space_key:
                return idx
            self._value_indexes[key] = idx
        return self._value_indexes[key]

    def index(self, space: Space, ctx: GenerationContext) -> SchemaIndex:
        key = ctx.space_key
        if not key or key not in self._indexes:
            idx = SchemaIndex(space, ctx)
            idx.key = key
            if key:
                if len(self._indexes) > 32:
                    self._indexes.pop(next(iter(self._indexes)))
                self._indexes[key] = idx
            return idx
        return self._indexes[key]

    # ---- the strategy
    def generate(self, space: Space, question: str, ctx: GenerationContext) -> Generation:
        index = self.index(space, ctx)
        ranked = self.rank_examples(space, index, question)
        parse = parse_question(index, question)
        details: dict[str, Any] = {"strategy": self.name}
        tried, fits = [], []
        for ex, sim in ranked:
            fit = self.fit(space, index, ex, question, ctx, parse, similarity=sim)
            score = _score(sim, fit) if fit.sql else sim
            if sim >= 0.1 or fit.coverage > 0 or fit.concept > 0:
                tried.append({"example": text(ex.question), "similarity": round(sim, 3), "score": round(score, 3),
                              "problem": fit.problem})
            if fit.sql:
                fits.append((score, sim, ex, fit))
        tried.sort(key=lambda t: -t["score"])
        tried = tried[:5]
        fits.sort(key=lambda f: (-round(f[0], 6), f[3].dropped))  # on a tie, the example needing fewer changes
        if fits and fits[0][0] >= self.threshold:
            score, sim, ex, fit = fits[0]
            details.update(source="example", example=text(ex.question), example_id=ex.id, score=round(score, 3),
                           similarity=round(sim, 3), slots=fit.filled, examples_tried=tried)
            return Generation(sql=fit.sql, details=details)
        cues = unsupported_cues(question)
        if cues:
            # schema linking cannot express these; an answer ignoring them would be wrong
            linked = Generation(sql=None, reason=f"the question asks for '{cues[0]}', which needs an example "
                                                 f"SQL that does the same (none fits)")
        else:
            linked = self.linker.generate(index, question)
        details.update(linked.details)
        details["examples_tried"] = tried
        if linked.sql:
            details["source"] = "schema_link"
            return Generation(sql=linked.sql, details=details)
        # A weaker example as a last resort: only one that fits the question's concepts and slots.
        if fits and fits[0][0] >= self.fallback_threshold and fits[0][3].concept >= 0.5:
            score, sim, ex, fit = fits[0]
            details.update(source="example", example=text(ex.question), example_id=ex.id, score=round(score, 3),
                           similarity=round(sim, 3), slots=fit.filled)
            return Generation(sql=fit.sql, details=details)
        why = [linked.reason or "schema linking found nothing"]
        if not ranked:
            why.append("the space has no example SQL")
        elif not fits:
            best = tried[0] if tried else None
            why.append(f"no example fits (closest '{best['example']}': {best['problem']})" if best
                       else "no example question is similar")
        else:
            score, _, ex, fit = fits[0]
            if score >= self.fallback_threshold:
                # similar enough for a last resort, but the schema does not back it up
                why.append(f"the closest example '{text(ex.question)}' (score {score:.2f}) is not used as a last "
                           f"resort: " + (f"the question's words {', '.join(repr(w) for w in fit.unexplained[:3])} "
                                          f"are in neither the schema nor the example" if fit.unexplained else
                                          "the question names too little of the schema it uses"))
            else:
                why.append(f"no example question is similar (best {score:.2f} < {self.fallback_threshold:.2f}: "
                           f"'{text(ex.question)}')")
        details["source"] = None
        return Generation(sql=None, reason="; ".join(why), details=details)

    def rank_examples(self, space: Space, index: SchemaIndex, question: str) -> list[tuple[ExampleSql, float]]:
        """Examples by TF-IDF cosine of question (+ usage guidance), slot contents left out.

        An example's score is its best of: the question and guidance as one text, or any single
        phrasing (the question, or one line / `|`-separated item of the guidance), so an example
        serving a family of phrasings is as close to each of them as an example written for it."""
        key = index.key
        if not key or key not in self._ranking:
            examples = [e for e in space.serialized.examples if text(e.sql).strip()]
            docs, phrasings = [], []
            for e in examples:
                lits = _literal_strings(text(e.sql))
                segs = [text(e.question)] + _phrasings(text(e.usage_guidance))
                # the values an example's own phrasings name are slot contents too ("APAC" for :rgn_cd)
                stripped = [_strip_slot_words(q, lits + [v.value for v in index.values.find(q)]) for q in segs]
                docs.append([t for seg in stripped for t in seg])
                phrasings.append([seg for seg in stripped if seg])
            tfidf = TfIdf(docs)
            entry = (examples, tfidf, [[tfidf.vector(seg) for seg in segs] for segs in phrasings])
            if not key:
                return self._rank(entry, index, question)
            if len(self._ranking) > 32:
                self._ranking.pop(next(iter(self._ranking)))
            self._ranking[key] = entry
        return self._rank(self._ranking[key], index, question)

    @staticmethod
    def _rank(entry, index: SchemaIndex, question: str) -> list[tuple[ExampleSql, float]]:
        examples, tfidf, seg_vectors = entry
        if not examples:
            return []
        qvals = [v.value for v in index.values.find(question)]
        q = _strip_slot_words(question, qvals)
        qv = tfidf.vector(q)
        scored = []
        for i, s in tfidf.rank(q):
            best = max([s] + [TfIdf.cosine(qv, v) for v in seg_vectors[i]])
            scored.append((examples[i], best))
        return sorted(scored, key=lambda p: -p[1])

    # ---- slot filling
    def _prepare(self, ex: ExampleSql, index: SchemaIndex, ctx: GenerationContext):
        """The parsed example and its slots; question-independent, so cached per space.

        The cached tree is shared: `fit` only mutates it under `_tree_lock` and restores it."""
        key = (ctx.space_key, ex.id, text(ex.question), text(ex.sql))
        if ctx.space_key and key in self._prepared:
            return self._prepared[key]
        sql = text(ex.sql)
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except sqlglot.errors.ParseError as e:
            return str(e).splitlines()[0]
        aliases = _table_aliases(tree, index)
        ex_q = text(ex.question)
        ex_words = " ".join(words(ex_q.replace("&", " and ")))
        ex_periods = periods(ex_q)
        ex_numbers = [n for n in numbers(ex_q) if not any(p.span[0] <= n.start < p.span[1] for p in ex_periods)]
        params = {p.name.lower(): p for p in (ex.parameters or [])}
        slots: list[_Slot] = []
        for node in tree.find_all(exp.Placeholder):
            pname = (node.name or "").lower()
            slots.append(_Slot("param", node, _compared_column(node, aliases, index), params.get(pname),
                               type(node.parent).__name__))
        for lit in list(tree.find_all(exp.Literal)):
            if lit.is_string:
                col = _compared_column(lit, aliases, index)
                value = lit.this
                if _is_date_string(value) and any(_date_in_period(value, p) for p in ex_periods):
                    slots.append(_Slot("date", lit))
                elif col and words(value) and _has_words(ex_words, value):
                    slots.append(_Slot("string", lit, col))
            else:
                try:
                    v = int(lit.this)
                except ValueError:
                    continue
                if isinstance(lit.parent, exp.Limit) and any(n.value == v for n in ex_numbers):
                    slots.append(_Slot("limit", lit))
                elif any(p.start.year == v for p in ex_periods) and 1900 <= v <= 2199:
                    slots.append(_Slot("year", lit))
        group_cols = {c for g in tree.find_all(exp.Group) for c in _columns_of(g, aliases)}
        concepts = _concepts(tree, aliases, index, ex, group_cols)
        # what the example's own question measures ("units" in "How many units ... did we sell"), when its SQL does
        concepts.measures = [(m.text, frozenset(t.label for t in m.targets))
                             for m in parse_question(index, ex_q).mentions
                             if _is_measure(m) and any(_covers(concepts, t, index) for t in m.targets)]
        prep = (tree, slots, group_cols, ex_words, ex_periods, ex_numbers, concepts)
        if ctx.space_key:
            if len(self._prepared) > 1024:
                self._prepared.clear()
            self._prepared[key] = prep
        return prep

    def fit(self, space: Space, index: SchemaIndex, ex: ExampleSql, question: str, ctx: GenerationContext,
            parse: Parse | None = None, similarity: float = 0.0) -> _Fit:
        """The example's SQL with its slots filled from the question, or the reason it does not fit."""
        sql = text(ex.sql)
        prep = self._prepare(ex, index, ctx)
        if isinstance(prep, str):
            return _Fit(None, problem=f"example SQL does not parse: {prep}")
        tree, slots, group_cols, ex_words, ex_periods, ex_numbers, concepts = prep
        parse = parse if parse is not None else parse_question(index, question)

        # The question's cues the example must also carry ("excluding", "last year", "starts with").
        ex_text = f"{text(ex.question)} {text(ex.usage_guidance)}".lower()
        for cue in unsupported_cues(question):
            lead = "" if cue.startswith("n'") else r"(?<!\w)"  # "n't" ends a word
            if not re.search(lead + re.escape(cue) + r"(?!\w)", ex_text):
                return _Fit(None, problem=f"the question says '{cue}' and the example does not")
        # Every schema concept the question names firmly (an exact name or synonym) must be in the
        # example SQL, or it answers another question; loose links (part of a name, a description
        # word) only count when the example uses them.
        mentions, loose = [], 0
        for m in parse.mentions:
            if not m.targets:
                continue
            if any(_covers(concepts, t, index) for t in m.targets):
                mentions.append(m)
            elif m.score >= 0.999:
                return _Fit(None, problem=f"the example SQL does not use '{m.text}' ({m.targets[0].label})")
            else:
                loose += 1
        # The example's question names the measure its SQL computes; a question naming nothing of the
        # schema at all may ask for another one ("How much did we sell?" is not "How many units did we
        # sell?"), unless it is one of the example's own phrasings (values aside).
        if not any(m.targets for m in parse.mentions) and similarity < 0.9 and concepts.measures:
            return _Fit(None, problem=f"the example measures '{concepts.measures[0][0]}' and the question names no measure")
        for m in mentions:
            if m.role == "group" and not any(_groups_by(concepts, t) for t in m.targets):
                return _Fit(None, problem=f"the example SQL is not broken down by '{m.text}'")
        measured = any(_is_measure(m) for m in mentions)
        counted = [m for m in mentions if m.role == "count" and not _is_measure(m)]
        if counted and not measured and not concepts.counts:
            return _Fit(None, problem=f"the question counts '{counted[0].text}'; the example SQL does not count")
        for g in parse.grains:
            if g not in concepts.group_grains:
                return _Fit(None, problem=f"the example SQL is not broken down by {g.lower()}")
        if group_cols and not self._group_asked(index, parse, concepts):
            what = ", ".join(sorted(c for _, c in group_cols))
            return _Fit(None, problem=f"the example breaks the answer down by {what}; the question does not ask for that")

        # Values the question names: of the slot columns, their entity-matching siblings, and any
        # entity-matching column of the space.
        q_periods = periods(question)
        q_numbers = [n for n in numbers(question) if not any(p.span[0] <= n.start < p.span[1] for p in q_periods)]
        slot_cols = {s.column for s in slots if s.column and s.kind in ("param", "string")}
        columns = set(slot_cols)
        for table, _ in slot_cols:
            for c in index.columns.get(table, []):
                if c.entity and c.ctype == "text":
                    columns.add((table, c.name))
        columns.update(index.entity_columns)
        matches = self._values(ctx, list(columns)).find(question)
        spans = sorted({m.span for m in matches})
        used_spans: set[tuple[int, int]] = set()
        used_numbers: set[int] = set()
        period_used = False
        period_parts: set[str] = set()  # which part of the question's period the slots consumed
        filled: dict[str, Any] = {}
        from_question = 0
        replacements: list[tuple[exp.Expression, exp.Expression]] = []
        qwords = " ".join(words(question.replace("&", " and ")))

        for s in slots:
            if s.kind == "param":
                value, note = self._param_value(s, matches, used_spans, q_numbers, used_numbers, q_periods, ctx)
                pname = s.node.name
                if value is None:
                    # Nothing in the question for it: the default only when the question names the
                    # parameter's column or the example documents that the default applies; else
                    # the filter is dropped when the SQL allows it; else the example does not fit.
                    default = _param_default(s)
                    if default is not None and (_param_mentioned(s, parse) or _default_documented(s, ex)):
                        value = default
                        filled[pname] = f"{value} (default)"
                    else:
                        dropped = _droppable(s.node, parse)
                        if dropped is None:
                            return _Fit(None, problem=f"parameter :{pname} could not be filled from the question{note}")
                        filled[pname] = "(not asked: filter dropped)"
                        if not any(old is dropped[0] for old, _ in replacements):
                            replacements.append(dropped)
                        continue
                else:
                    from_question += 1
                    filled[pname] = value.isoformat() if isinstance(value, dt.date) else value
                if isinstance(value, Period):
                    value = value.start
                if note == "period":
                    period_used = True
                    period_parts.update(_period_part(s))
                replacements.append((s.node, _literal_node(value)))
            elif s.kind == "string":
                old = s.node.this
                if _has_words(qwords, old):
                    filled[old] = old
                    for m in matches:
                        if m.value == old:
                            used_spans.add(m.span)
                    from_question += 1
                    continue
                value = _take_value(matches, used_spans, s.column, ctx)
                if value is None:
                    return _Fit(None, problem=f"the question names no value of {s.column[1]} to replace '{old}'")
                from_question += 1
                filled[old] = value
                replacements.append((s.node, exp.Literal.string(value)))
            elif s.kind == "limit":
                n = next((i for i, x in enumerate(q_numbers) if i not in used_numbers and isinstance(x.value, int)), None)
                if n is None:
                    return _Fit(None, problem=f"the question gives no number for LIMIT {s.node.this}")
                used_numbers.add(n)
                from_question += 1
                filled[f"LIMIT {s.node.this}"] = q_numbers[n].value
                replacements.append((s.node, exp.Literal.number(q_numbers[n].value)))
            elif s.kind in ("year", "date"):
                if not q_periods:
                    return _Fit(None, problem=f"the question names no period to replace {s.node.sql('databricks')}")
                old_p, new_p = ex_periods[0], q_periods[0]
                if s.kind == "year":
                    new = new_p.start.year + (int(s.node.this) - old_p.start.year)
                    replacements.append((s.node, exp.Literal.number(new)))
                    filled[s.node.this] = new
                    period_parts.add("year")
                else:
                    if new_p.grain != old_p.grain and old_p.grain != "year":
                        return _Fit(None, problem=f"period '{new_p.text}' is not a {old_p.grain} like '{old_p.text}'")
                    new = _shift_date(s.node.this, old_p, new_p)
                    if new is None:
                        return _Fit(None, problem=f"cannot map date '{s.node.this}' to '{new_p.text}'")
                    replacements.append((s.node, exp.Literal.string(new)))
                    filled[s.node.this] = new
                    period_parts.add("all")
                from_question += 1
                period_used = True

        # Every value the question names must be used, or this example answers another question.
        sql_lower = sql.lower()
        for span in spans:
            if span in used_spans:
                continue
            here = [m for m in matches if m.span == span]
            if any(m.key in group_cols or _value_in_sql(m.value, sql_lower) or _has_words(ex_words, m.value)
                   for m in here):
                continue
            return _Fit(None, problem=f"the example has no slot for '{here[0].text}'")
        if q_periods and not period_used and not any(p.text.lower() == ep.text.lower() for p in q_periods for ep in ex_periods):
            return _Fit(None, problem=f"the example has no slot for the period '{q_periods[0].text}'")
        if q_periods and period_used and not _period_consumed(q_periods[0], period_parts):
            # a year slot filled from "Q1 2024" would silently answer for the whole of 2024
            return _Fit(None, problem=f"the example only takes the year of '{q_periods[0].text}'")
        spare = [n for i, n in enumerate(q_numbers) if i not in used_numbers and not any(n.value == e.value for e in ex_numbers)]
        if spare:
            return _Fit(None, problem=f"the example has no slot for the number {spare[0].text}")
        named = len(spans) + len(q_periods[:1]) + len(q_numbers)
        # dropped filters are a generalization the question asked for, not a gap in the fit
        dropped = sum(1 for v in filled.values() if "dropped" in str(v))
        kept = len(slots) - dropped
        coverage = from_question / max(kept, named) if (kept or named) else 0.0
        with self._tree_lock:  # the cached tree is shared between threads: fill, render, restore
            for old, new in replacements:
                old.replace(new)
            try:
                out = tree.sql("databricks")
            finally:
                for old, new in reversed(replacements):
                    new.replace(old)
        if any("dropped" in str(v) for v in filled.values()):
            out = _without_dropped(out)
        # How strongly the question's named concepts link (all are in the example SQL by now); words
        # that link to nothing and that the example does not say either weaken it ("profit margin").
        unexplained = [w for w in parse.unlinked if stem(w) not in concepts.text_terms]
        # Once the question's measure (or count) is identified, a stray word is mostly a verb ("booked");
        # without one, it may be the very thing asked for.
        named_measure = measured or any(m.role == "count" for m in mentions)
        penalty = (0.25 if named_measure else 1.0) * len(unexplained) + 0.5 * loose
        concept = sum(m.score for m in mentions) / (len(mentions) + penalty) if mentions else 0.0
        return _Fit(out, filled, coverage=coverage, concept=concept, unexplained=unexplained, dropped=dropped)

    @staticmethod
    def _group_asked(index: SchemaIndex, parse: Parse, concepts: _Concepts) -> bool:
        """Whether the question asks for the example's breakdown: it names a grouped column (or the
        entity whose rows are grouped), a time grain the example groups by, or several values of a
        grouped column ("flagship, standard and outlet stores")."""
        for m in parse.mentions:
            for t in m.targets:
                if _groups_by(concepts, t):
                    return True
                if t.kind == "table" and concepts.entity_groups & {t.table}:
                    return True
        if parse.grains and set(parse.grains) & concepts.group_grains:
            return True
        per_col: dict[tuple[str, str], int] = {}
        for v in parse.values:
            if v.key in concepts.group_cols:
                per_col[v.key] = per_col.get(v.key, 0) + 1
            # "the 20 biggest-spending consumers": a ranked question about rows of a grouped entity
            if (parse.rank or parse.top_n) and v.key[0] in concepts.entity_groups:
                return True
        return any(n >= 2 for n in per_col.values())

    def _param_value(self, s: _Slot, matches, used_spans, q_numbers: list[Number], used_numbers, q_periods, ctx):
        """(value, note) for a parameter from the question; value None when the question has none."""
        p = s.param
        hint = (p.type_hint or "").upper() if p else ""
        pname = (s.node.name or "").lower()
        desc = f"{pname} {text(p.description) if p else ''}".lower()
        if "DATE" in hint or "TIMESTAMP" in hint or any(w in pname for w in ("date", "start", "end", "from", "until")):
            if q_periods:
                per = q_periods[0]
                if any(w in pname for w in ("end", "until", "to_", "last", "max")):
                    return (per.end if s.op in ("LT",) else per.last_day), "period"
                return per.start, "period"
            return None, " (no date in the question)"
        if hint in ("INT", "INTEGER", "BIGINT", "LONG", "NUMBER", "DECIMAL", "DOUBLE", "FLOAT") or isinstance(s.node.parent, exp.Limit):
            if "year" in desc:
                # a fiscal year fills only a fiscal-year parameter, and a calendar year only a calendar one
                if q_periods and (q_periods[0].grain == "fiscal_year") == ("fiscal" in desc):
                    return q_periods[0].start.year, "period"
                return None, " (no fiscal year in the question)" if "fiscal" in desc else " (no year in the question)"
            if "quarter" in desc:
                if q_periods and q_periods[0].grain == "quarter":
                    return (q_periods[0].start.month + 2) // 3, "period"
                return None, " (no quarter in the question)"
            if "month" in desc:
                if q_periods and q_periods[0].grain == "month":
                    return q_periods[0].start.month, "period"
                return None, " (no month in the question)"
            n = next((i for i, x in enumerate(q_numbers) if i not in used_numbers and not x.is_year), None)
            if n is not None:
                used_numbers.add(n)
                return q_numbers[n].value, ""
            return None, " (no number in the question)"
        value = _take_value(matches, used_spans, s.column, ctx)
        if value is not None:
            return value, ""
        return None, (f" (no value of {s.column[1]} in the question)" if s.column else " (no value in the question)")


def _score(sim: float, fit: _Fit) -> float:
    """Text similarity, raised only by schema evidence: the concepts the question names are all in
    the example SQL (`concept`); filled slots add a little on top of that, never on their own."""
    if fit.concept <= 0:
        return sim
    return max(sim, 0.4 * sim + 0.4 * fit.concept + 0.2 * fit.coverage)


def _param_default(s: _Slot):
    p = s.param
    if not p or not p.default_value or not p.default_value.values:
        return None
    return _default(p.default_value.values[0], (p.type_hint or "").upper())


def _default(value, hint: str):
    if value is None:
        return None
    if "INT" in hint:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if "DATE" in hint and isinstance(value, str) and _is_date_string(value):
        return dt.date.fromisoformat(value[:10])
    return value


def _take_value(matches, used_spans: set, column, ctx: GenerationContext) -> str | None:
    """A value of `column` named in the question (first unused mention); a value of a sibling
    column of the same table is translated through the data ("North America" -> "AMER")."""
    if column is None:
        return None
    for m in matches:
        if m.span not in used_spans and m.key == column:
            used_spans.add(m.span)
            return m.value
    for m in matches:
        if m.span not in used_spans and m.key[0] == column[0] and m.key != column:
            found = ctx.lookup(column[0], m.key[1], m.value, column[1])
            if len(found) == 1:
                used_spans.add(m.span)
                return found[0]
    return None


def _columns_of(node: exp.Expression, aliases: dict[str, str], index: SchemaIndex | None = None) -> set[tuple[str, str]]:
    out = set()
    tables = set(aliases.values())
    for c in node.find_all(exp.Column):
        ident = aliases.get(c.table.lower()) if c.table else (next(iter(tables)) if len(tables) == 1 else None)
        if ident is None and not c.table and index is not None:
            owners = [t for t in tables if index.column(t, c.name) is not None]
            ident = owners[0] if len(owners) == 1 else None
        if ident:
            out.add((ident, c.name))
    return out


def _literal_node(value) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


def _table_aliases(tree: exp.Expression, index: SchemaIndex) -> dict[str, str]:
    """SQL alias/name -> space table identifier, for the tables an example SQL reads."""
    return table_aliases(index, tree)


def _compared_column(node: exp.Expression, aliases: dict[str, str], index: SchemaIndex) -> tuple[str, str] | None:
    """The (table, column) a literal or placeholder is compared with, e.g. `s.region = 'West'`."""
    parent = node.parent
    while isinstance(parent, (exp.Tuple, exp.Paren, exp.Cast, exp.Lower, exp.Upper)):
        parent = parent.parent
    if not isinstance(parent, (exp.EQ, exp.NEQ, exp.In, exp.Like, exp.ILike, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)):
        return None
    target = parent.this
    while isinstance(target, (exp.Lower, exp.Upper, exp.Cast, exp.Paren, exp.Trim)):
        target = target.this
    if not isinstance(target, exp.Column):
        if isinstance(parent, (exp.EQ, exp.NEQ)) and isinstance(parent.expression, exp.Column):
            target = parent.expression
        else:
            return None
    name = target.name
    if target.table:
        ident = aliases.get(target.table.lower())
        return (ident, name) if ident else None
    owners = [t for t in set(aliases.values()) if index.column(t, name) is not None]
    if not owners:
        # the column may be excluded from the space; look it up in the raw table list
        owners = [t for t in set(aliases.values())]
    return (owners[0], name) if len(owners) == 1 else None


def _is_date_string(value: str) -> bool:
    try:
        dt.date.fromisoformat(value[:10])
        return len(value) >= 10
    except ValueError:
        return False


def _date_in_period(value: str, p: Period) -> bool:
    d = dt.date.fromisoformat(value[:10])
    return p.start <= d <= p.end


def _shift_date(value: str, old: Period, new: Period) -> str | None:
    d = dt.date.fromisoformat(value[:10])
    if d == old.start:
        out = new.start
    elif d == old.end:
        out = new.end
    elif d == old.last_day:
        out = new.last_day
    elif old.grain == new.grain == "year" or old.grain == "year":
        try:
            out = d.replace(year=new.start.year + (d.year - old.start.year))
        except ValueError:
            return None
    else:
        return None
    return out.isoformat() + value[10:]


def _value_in_sql(value: str, sql: str) -> bool:
    """Whether `value` appears as a string literal in `sql`."""
    return ("'" + value.lower().replace("'", "''") + "'") in sql.lower()


def _has_words(haystack_words: str, value: str) -> bool:
    """Whether the words of `value` appear as whole words in a space-joined word string."""
    w = " ".join(words(value.replace("&", " and ")))
    return bool(w) and f" {w} " in f" {haystack_words} "


# ---------------------------------------------------------------- honesty checks
# Question cues neither the examples' slots nor schema linking can express; an answer that ignored
# them would be confidently wrong, so they need an example that says the same thing.
_UNSUPPORTED = [
    re.compile(r"\b(?:last|this|next|previous|past|prior|current|coming)\s+(?:\d+\s+|few\s+)?"
               r"(?:fiscal\s+)?(?:years?|quarters?|months?|weeks?|days?)\b"),
    re.compile(r"\b(?:ytd|mtd|qtd|year[- ]to[- ]date|yesterday|today|recently|ago)\b"),
    re.compile(r"\b(?:starts?|starting|begins?|beginning|ends?|ending)\s+with\b"),
    re.compile(r"\b(?:contains?|containing|matching)\b"),
    re.compile(r"\b(?:not|never|excluding|exclude|except|without|other than|besides|non)\b|n't\b"),
]


def unsupported_cues(question: str) -> list[str]:
    """Phrases asking for relative periods, text patterns or negation, e.g. 'last year'.

    >>> unsupported_cues("Revenue last year, excluding Electronics")
    ['last year', 'excluding']
    """
    q = question.lower().replace("’", "'")
    found = [(m.start(), m.group(0).strip()) for pat in _UNSUPPORTED for m in pat.finditer(q)]
    return [c for _, c in sorted(found)]


def _grain_of(node: exp.Expression) -> str | None:
    if isinstance(node, (exp.Year, exp.Quarter, exp.Month, exp.Week, exp.Day)):
        return type(node).__name__.upper()
    unit = node.args.get("unit")
    if unit is not None and isinstance(node, (exp.DateTrunc, exp.TimestampTrunc, exp.DatetimeTrunc, exp.TimeTrunc)):
        name = unit.name if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier)) else unit.sql()
        return name.strip("'").upper() or None
    return None


def _concepts(tree: exp.Expression, aliases: dict[str, str], index: SchemaIndex, ex: ExampleSql,
              group_cols: set[tuple[str, str]]) -> _Concepts:
    c = _Concepts(tables=set(aliases.values()))
    c.columns = {(t, n.lower()) for t, n in _columns_of(tree, aliases, index)}
    c.text_terms = frozenset(terms(f"{text(ex.question)} {text(ex.usage_guidance)}"))
    groups = group_expressions(tree)
    for g in groups:
        for t, n in _columns_of(g, aliases, index):
            group_cols.add((t, n))  # ordinals resolved: the value check uses them too
            c.group_cols.add((t, n.lower()))
        grain = _grain_of(g)
        if grain:
            c.group_grains.add(grain)
    for t, n in c.group_cols:
        col = index.column(t, n)
        label = index.label_column(t)
        if (col is not None and col.is_key) or (label is not None and label.name.lower() == n):
            c.entity_groups.add(t)
    for sel in tree.find_all(exp.Select):
        for proj in sel.expressions:
            node = proj.this if isinstance(proj, exp.Alias) else proj
            while isinstance(node, (exp.Round, exp.Cast, exp.Paren)):
                node = node.this
            c.counts = c.counts or isinstance(node, exp.Count)
    group_sql = {bare_sql(g) for g in groups}
    by_type: dict[type, list[str]] = {}
    for node in tree.walk():
        by_type.setdefault(type(node), []).append(node)
    for t in index.targets:
        if t.kind not in ("measure", "filter", "expression"):
            continue
        try:
            snip = sqlglot.parse_one(t.sql, read="databricks")
        except sqlglot.errors.ParseError:
            continue
        want = bare_sql(snip)
        if any(bare_sql(n) == want for n in by_type.get(type(snip), [])):
            c.snippets.add(t.name)
            if want in group_sql:
                c.group_snippets.add(t.name)
    return c


def _covers(c: _Concepts, t: Target, index: SchemaIndex) -> bool:
    """Whether the example SQL uses the schema thing a question phrase links to."""
    if t.kind == "table":
        return t.table in c.tables
    if t.kind == "column":
        if (t.table, t.name.lower()) in c.columns:
            return True
        label = index.label_column(t.table)  # "items" names products (prod_nm), as the linker reads it
        return label is t and t.table in c.tables
    # snippets: the example contains the snippet's SQL, or its author names it ("Return rate of ...")
    return t.name in c.snippets or bool(t.display_terms and set(t.display_terms) <= c.text_terms)


def _groups_by(c: _Concepts, t: Target) -> bool:
    if t.kind == "column":
        return (t.table, t.name.lower()) in c.group_cols
    if t.kind == "table":
        return t.table in c.entity_groups
    return t.name in c.group_snippets


def _param_mentioned(s: _Slot, parse: Parse) -> bool:
    """The question names the parameter's column without a value ("for a product category")."""
    if s.column is None:
        return False
    return any(t.kind == "column" and t.table == s.column[0] and t.name.lower() == s.column[1].lower()
               for m in parse.mentions for t in m.targets)


_DEFAULT_DOC = re.compile(r"\b(default|defaults|by default|unless (?:specified|given|stated|asked)|if not (?:specified|given))\b")


def _default_documented(s: _Slot, ex: ExampleSql) -> bool:
    """The parameter description, or usage guidance naming the parameter, says its default applies."""
    p = s.param
    if p is None:
        return False
    if _DEFAULT_DOC.search(text(p.description).lower()):
        return True
    guidance = text(ex.usage_guidance).lower()
    return bool(_DEFAULT_DOC.search(guidance)) and p.name.lower() in guidance


_NO_LIMIT = 987654321987654  # marks a LIMIT to remove after rendering


def _droppable(node: exp.Expression, parse: Parse) -> tuple[exp.Expression, exp.Expression] | None:
    """(node to replace, marker) removing the filter a parameter sits in, when that filter is a plain
    AND-ed condition of a WHERE clause (or a LIMIT the question does not ask for); else None."""
    parent = node.parent
    if isinstance(parent, exp.Limit):
        return None if (parse.rank or parse.top_n) else (node, exp.Literal.number(_NO_LIMIT))
    cmp = parent
    while isinstance(cmp, (exp.Cast, exp.Paren, exp.Tuple, exp.Lower, exp.Upper)):
        cmp = cmp.parent
    if not isinstance(cmp, (exp.EQ, exp.In, exp.Like, exp.ILike, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)):
        return None
    up = cmp.parent
    while isinstance(up, (exp.And, exp.Paren)):
        up = up.parent
    if not isinstance(up, exp.Where):
        return None
    return cmp, exp.true()


def _without_dropped(sql: str) -> str:
    """Remove the TRUE conjuncts and LIMIT markers left by dropped filters."""
    tree = sqlglot.parse_one(sql, read="databricks")
    changed = True
    while changed:
        changed = False
        for b in list(tree.find_all(exp.Boolean)):
            parent = b.parent
            if b.this is True and isinstance(parent, exp.And):
                other = parent.expression if parent.this is b else parent.this
                parent.replace(other)
                changed = True
                break
            if b.this is True and isinstance(parent, exp.Where):
                parent.pop()
                changed = True
                break
    for lim in list(tree.find_all(exp.Limit)):
        if isinstance(lim.expression, exp.Literal) and lim.expression.this == str(_NO_LIMIT):
            lim.pop()
    return tree.sql("databricks")


def _period_part(s: _Slot) -> set[str]:
    p = s.param
    pname = (s.node.name or "").lower()
    desc = f"{pname} {text(p.description) if p else ''}".lower()
    hint = (p.type_hint or "").upper() if p else ""
    if "DATE" in hint or "TIMESTAMP" in hint or "fiscal" in desc:
        return {"all"}
    for part in ("quarter", "month", "year"):
        if part in desc:
            return {part}
    return {"all"}


def _period_consumed(p: Period, parts: set[str]) -> bool:
    if "all" in parts:
        return True
    need = {"year": {"year"}, "quarter": {"year", "quarter"}, "month": {"year", "month"}}.get(p.grain)
    return need is not None and need <= parts
