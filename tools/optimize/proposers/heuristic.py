"""The offline, deterministic proposer: mine failing train questions and their gold SQL.

Only held-out accuracy counts, so it prefers edits that serve a *family* of questions over
memorizing one:

- **Parameterized example SQL** (trusted assets): a gold literal that stands for a value the
  question names becomes a `:parameter` (also when the question names it differently, e.g.
  "North America" for the code `AMER`, found through another column of the same table). Golds
  that are the same query up to such values form one family, served by one example whose usage
  guidance lists the family's phrasings.
- **Join specs** from the equalities gold queries join on, oriented many-to-one by key uniqueness.
- **Entity matching** on the columns whose values questions name (so values are recognized), and on
  low-cardinality text columns golds break results down by.
- **Measure snippets** for aggregates several golds return, named by the golds' alias, with the words
  questions of two or more families use for them as synonyms ("sales", "revenue").
- **Column synonyms** from "by <phrase>" / "per <phrase>" when the phrase maps to the column the
  gold groups by and the space does not know it yet.
- **Column descriptions**, where missing, for columns gold queries always filter to one value.

Edits already tried and rejected (from `history`) are not proposed again. Genie's limits on a
space (instructions, entity-matching columns) are respected before the change set is returned.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from ...generate.schema_link import CUE_WORDS
from ...generate.slots import periods
from ...generate.text import STOPWORDS, stem, words
from ...space.changes import (
    AddColumnSynonyms,
    AddExampleSql,
    AddJoinSpec,
    AddSnippet,
    ChangeSet,
    ParameterSpec,
    SetColumnDescription,
    SetColumnEntityMatching,
    UpdateExampleSql,
)
from ...space.model import Space, text
from ...space.validate import LIMITS
from ..model import Failure, TriedChange
from . import MAX_ENTITY_MATCHING_COLUMNS, TableData

NAME = "heuristic"
_CMP = (exp.EQ, exp.NEQ, exp.In)
_WRAP = (exp.Lower, exp.Upper, exp.Cast, exp.Paren, exp.Trim)
_GROUP_CUES = ("by", "per", "each")
_STOP = {"the", "a", "an", "of", "in", "for", "and", "or", "to", "with", "during", "on", "at", "from", "this",
         "that", "last", "year", "month", "quarter", "so", "far"}

Col = tuple[str, str]  # (table identifier, column)


@dataclass
class _Mined:
    failure: Failure
    sql: str  # gold as Databricks SQL, tables fully qualified
    param_sql: str  # with :parameters for the values the question names
    params: list[ParameterSpec]
    key: str  # family key: param_sql with every remaining literal abstracted
    joins: list[tuple[Col, Col]] = field(default_factory=list)
    entity: list[Col] = field(default_factory=list)
    constants: list[tuple[Col, str]] = field(default_factory=list)  # filters to one value the question does not name
    group_columns: list[Col] = field(default_factory=list)
    measures: list[tuple[str, str]] = field(default_factory=list)  # (aggregate SQL over table names, its alias)
    value_words: set[str] = field(default_factory=set)  # words of the values the question names
    context_terms: set[str] = field(default_factory=set)  # stemmed words of the tables and non-measure columns used


class HeuristicProposer:
    """`propose(space, failures, *, budget, history) -> ChangeSet`, offline and deterministic.

    Args:
        data: read access to the space's data (values, key uniqueness); without it, only edits
            that need no data evidence are proposed.
    """

    name = NAME

    def __init__(self, data: TableData | None = None, *, descriptions: bool = True):
        self.data = data
        self.descriptions = descriptions

    def identity(self) -> str:
        return f"{NAME}-1"

    # ------------------------------------------------------------------ proposing
    def propose(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> ChangeSet:
        mined = [m for m in (self.mine(space, f) for f in failures) if m is not None]
        rejected = {_edit_key(c) for h in history if not h.accepted for c in h.changes}
        s = space.serialized
        ranked: list[tuple[int, int, Any]] = []  # (priority, order, edit): lower first

        # 1. join specs: the only way the engine (and Genie) joins tables
        have_pairs = {frozenset((j.left.identifier.lower(), j.right.identifier.lower())) for j in s.joins}
        seen_pairs: set[frozenset[str]] = set()
        for m in mined:
            for a, b in m.joins:
                pair = frozenset((a[0].lower(), b[0].lower()))
                if a[0] == b[0] or pair in have_pairs or pair in seen_pairs:
                    continue
                seen_pairs.add(pair)
                ranked.append((0, len(ranked), self._join_spec(a, b)))

        # 2. entity matching on columns whose values questions name
        enabled = {(t.identifier.lower(), c.column_name.lower()) for t in s.tables for c in t.column_configs
                   if c.enable_entity_matching}
        room = MAX_ENTITY_MATCHING_COLUMNS - len(enabled)
        named = _unique(c for m in mined for c in m.entity)
        for col in _unique([*named, *self._breakdown_columns(mined)]):
            if (col[0].lower(), col[1].lower()) in enabled or room <= 0:
                continue
            room -= 1
            ranked.append((1 if col in named else 4, len(ranked),
                           SetColumnEntityMatching(table=col[0], column=col[1], enabled=True)))

        # 3. one parameterized example per family of failing questions (biggest families first)
        families: dict[str, list[_Mined]] = defaultdict(list)
        for m in mined:
            families[m.key].append(m)
        existing = self._example_keys(space)
        room = LIMITS["instructions"] - len(s.examples) - len(s.functions) - (1 if s.instructions.text_instructions else 0)
        for key, fam in sorted(families.items(), key=lambda kv: -len(kv[1])):
            phrasings = _unique(m.failure.question for m in fam)
            if key in existing:
                ex = existing[key]
                known = (text(ex.question) + "\n" + text(ex.usage_guidance)).lower()
                new = [q for q in phrasings if q.lower() not in known]
                if new:
                    guidance = _guidance(text(ex.usage_guidance), new)
                    ranked.append((2, len(ranked), UpdateExampleSql(id=ex.id, usage_guidance=guidance)))
                continue
            if room <= 0:
                continue
            room -= 1
            rep = fam[0]
            ranked.append((3 if len(fam) == 1 else 2, len(ranked), AddExampleSql(
                question=rep.failure.question, sql=rep.param_sql, parameters=rep.params or None,
                usage_guidance=_guidance("", phrasings[1:]) or None)))

        # 4. synonyms: "by <phrase>" naming the column the gold groups by
        for col, phrase in self._synonyms(space, mined):
            ranked.append((4, len(ranked), AddColumnSynonyms(table=col[0], column=col[1], synonyms=[phrase])))

        # 4b. measures: one snippet per aggregate the golds return, named by the golds' alias, with the
        # words the questions use for it as synonyms (so "sales" and "revenue" reach the same measure)
        for snippet in self._measure_snippets(space, mined):
            ranked.append((2, len(ranked), snippet))  # serve many families, like the family examples

        # 5. descriptions where missing, for columns gold queries pin to one value
        if self.descriptions:
            for col, values in self._pinned(mined).items():
                t = s.table(col[0])
                cfg = t.column(col[1]) if t else None
                if t is None or (cfg is not None and text(cfg.description).strip()):
                    continue
                if self.data is not None and col[1] not in self.data.columns(col[0]):
                    continue
                vals = ", ".join(f"'{v}'" for v in values)
                ranked.append((5, len(ranked), SetColumnDescription(
                    table=col[0], column=col[1],
                    description=f"{_spell(col[1])}. Business questions filter {col[1]} = {vals} unless asked otherwise.")))

        edits, seen = [], set()
        for _, _, edit in sorted(ranked, key=lambda r: (r[0], r[1])):
            k = _edit_key(edit.model_dump(exclude_none=True))
            if k in rejected or k in seen:
                continue
            seen.add(k)
            edits.append(edit)
        edits = edits[: max(0, budget)]
        kinds = sorted({e.op for e in edits})
        message = (f"heuristic: {len(edits)} edit(s) ({', '.join(kinds)}) from {len(mined)} failing train "
                   f"question(s) in {len(families)} famil{'y' if len(families) == 1 else 'ies'}") if edits else ""
        return ChangeSet(changes=edits, message=message)

    # ------------------------------------------------------------------ mining one gold query
    def mine(self, space: Space, failure: Failure) -> _Mined | None:
        """What one failing question's gold SQL teaches; None when it does not parse."""
        try:
            tree = sqlglot.parse_one(failure.gold_sql[0], read=failure.dialect)
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, IndexError):
            return None
        if tree is None:
            return None
        aliases = self._qualify_tables(space, tree)
        if not aliases:
            return None
        m = _Mined(failure=failure, sql="", param_sql="", params=[], key="")
        qwords = " " + " ".join(words(failure.question.replace("&", " and "))) + " "

        # joins: ON (and WHERE) equalities between columns of two tables
        conds: list[exp.Expression] = []
        for j in tree.find_all(exp.Join):
            if j.args.get("on") is not None:
                conds += _conjuncts(j.args["on"])
        for w in tree.find_all(exp.Where):
            conds += _conjuncts(w.this)
        for c in conds:
            if isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Column):
                a, b = self._column(c.this, aliases), self._column(c.expression, aliases)
                if a and b and a[0] != b[0]:
                    m.joins.append((a, b))
        m.sql = tree.sql("databricks")

        # periods: a date range or date part the question names becomes an INT parameter, so the
        # example refuses a question about another kind of period (fiscal vs calendar year)
        names: dict[str, int] = {}
        m.params += _period_params(tree, failure.question, names)

        # values: parameters for the ones the question names, constants for the rest
        for lit in list(tree.find_all(exp.Literal)):
            if not lit.is_string:
                continue
            parent = lit.parent
            while isinstance(parent, (exp.Tuple, exp.Paren, exp.Cast, exp.Lower, exp.Upper)):
                parent = parent.parent
            if not isinstance(parent, _CMP) or isinstance(lit.parent, exp.Cast):
                continue  # dates (CAST('2024-01-01' AS DATE)) are filled from the question's period
            target = parent.this
            while isinstance(target, _WRAP):
                target = target.this
            col = self._column(target, aliases) if isinstance(target, exp.Column) else None
            if col is None:
                continue
            value = lit.this
            named, via = self._named(col, value, qwords)
            if not named:
                if isinstance(parent, exp.EQ):
                    m.constants.append((col, value))
                continue
            m.entity.append(via or col)
            m.value_words |= set(words(value.replace("&", " and ")))
            if via is not None:
                m.value_words |= {w for v in self.data.lookup(col[0], col[1], value, via[1]) for w in words(v.replace("&", " and "))}
            pname = _param_name(re.sub(r"\W+", "_", col[1].lower()).strip("_") or "value", names)
            lit.replace(exp.Placeholder(this=pname))
            m.params.append(ParameterSpec(
                name=pname, type_hint="STRING",
                description=f"a {col[1]} value of {col[0].split('.')[-1]}, e.g. '{value}'"))
        for g in tree.find_all(exp.Group):
            for c in g.find_all(exp.Column):
                col = self._column(c, aliases)
                if col and col not in m.group_columns:
                    m.group_columns.append(col)
        m.measures = self._measures(tree, aliases)
        in_measure = {id(c) for proj in (tree.expressions if isinstance(tree, exp.Select) else [])
                      if proj.find(exp.AggFunc) for c in proj.find_all(exp.Column)}
        m.context_terms = {stem(w) for t in set(aliases.values()) for w in words(t.split(".")[-1])}
        m.context_terms |= {stem(w) for c in tree.find_all(exp.Column) if id(c) not in in_measure for w in words(c.name)}
        m.param_sql = tree.sql("databricks", pretty=True)
        m.key = _shape(tree)
        return m

    def _measures(self, tree: exp.Expression, aliases: dict[str, str]) -> list[tuple[str, str]]:
        """The aggregates the outer query returns, as snippet SQL over table names, with the gold's
        alias for them (`SUM(oi.qty) AS units_sold` -> ('SUM(order_items.qty)', 'units_sold'))."""
        if not isinstance(tree, exp.Select):
            return []
        out = []
        for proj in tree.expressions:
            node = proj.this if isinstance(proj, exp.Alias) else proj
            while isinstance(node, (exp.Round, exp.Cast, exp.Paren)):
                node = node.this
            if not node.find(exp.AggFunc) or not node.find(exp.Column) or not isinstance(proj, exp.Alias) \
                    or node.find(exp.Placeholder):
                continue  # a measure with a question's value in it is not a reusable measure
            node = node.copy()
            for c in list(node.find_all(exp.Column)):
                col = self._column(c, aliases)
                if col is None:
                    break
                c.replace(exp.column(col[1], table=col[0].split(".")[-1]))
            else:
                out.append((node.sql("databricks"), proj.alias))
        return out

    def _named(self, col: Col, value: str, qwords: str) -> tuple[bool, Col | None]:
        """Whether the question names `value` of `col`: literally, or as another column's value
        of the same rows ("North America" for regions.rgn_cd = 'AMER'); returns that column."""
        if _has_words(qwords, value):
            return True, None
        if self.data is None:
            return False, None
        for other in self.data.text_columns(col[0]):
            if other.lower() == col[1].lower():
                continue
            for v in self.data.values(col[0], other):
                if _has_words(qwords, v) and self.data.lookup(col[0], other, v, col[1]) == (value,):
                    return True, (col[0], other)
        return False, None

    def _qualify_tables(self, space: Space, tree: exp.Expression) -> dict[str, str]:
        """Rewrite table references to the space's identifiers; alias/name -> identifier."""
        aliases: dict[str, str] = {}
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        for t in list(tree.find_all(exp.Table)):
            if t.name.lower() in ctes or not isinstance(t.this, exp.Identifier):
                continue
            table = space.serialized.table(".".join(p for p in (t.catalog, t.db, t.name) if p)) or space.serialized.table(t.name)
            if table is None:
                continue
            parts = table.identifier.split(".")
            alias = t.alias
            aliases[t.name.lower()] = table.identifier
            if alias:
                aliases[alias.lower()] = table.identifier
            new = exp.to_table(table.identifier)
            if alias:
                new.set("alias", t.args.get("alias"))
            if len(parts) == 3:
                t.replace(new)
        return aliases

    def _column(self, c: exp.Column, aliases: dict[str, str]) -> Col | None:
        if c.table:
            ident = aliases.get(c.table.lower())
            return (ident, c.name) if ident else None
        tables = sorted(set(aliases.values()))
        if len(tables) == 1:
            return (tables[0], c.name)
        if self.data is not None:
            owners = [t for t in tables if c.name.lower() in (x.lower() for x in self.data.columns(t))]
            if len(owners) == 1:
                return (owners[0], c.name)
        return None

    # ------------------------------------------------------------------ edit builders
    def _join_spec(self, a: Col, b: Col) -> AddJoinSpec:
        """Many side on the left; relationship from key uniqueness in the data."""
        ua = self.data.is_unique(*a) if self.data else False
        ub = self.data.is_unique(*b) if self.data else True
        if ua and not ub:
            a, b, ua, ub = b, a, ub, ua
        rel = "ONE_TO_ONE" if ua and ub else "MANY_TO_ONE" if ub else "MANY_TO_MANY"
        ln, rn = a[0].split(".")[-1], b[0].split(".")[-1]
        return AddJoinSpec(left=a[0], right=b[0], condition=f"{ln}.{a[1]} = {rn}.{b[1]}", relationship=rel)

    @staticmethod
    def _example_keys(space: Space) -> dict[str, Any]:
        out = {}
        for ex in space.serialized.examples:
            try:
                tree = sqlglot.parse_one(text(ex.sql), read="databricks")
            except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
                continue
            out.setdefault(_shape(tree), ex)
        return out

    def _synonyms(self, space: Space, mined: list[_Mined]) -> list[tuple[Col, str]]:
        out: list[tuple[Col, str]] = []
        seen = set()
        for m in mined:
            cols = [c for c in m.group_columns if not _is_date_name(c[1])]
            if len(cols) != 1:
                continue  # ambiguous which column the phrase names
            col = cols[0]
            t = space.serialized.table(col[0])
            cfg = t.column(col[1]) if t else None
            known = set(words(col[1].replace("_", " "))) | set(words(col[0].split(".")[-1].replace("_", " ")))
            if cfg is not None:
                for syn in (cfg.synonyms if isinstance(cfg.synonyms, list) else [cfg.synonyms] if cfg.synonyms else []):
                    known |= set(words(syn))
                known |= set(words(text(cfg.description)))
            toks = words(m.failure.question)
            for i, w in enumerate(toks[:-1]):
                if w not in _GROUP_CUES:
                    continue
                phrase = []
                for nxt in toks[i + 1 : i + 3]:
                    if nxt in _STOP or nxt.isdigit():
                        break
                    phrase.append(nxt)
                if not phrase or set(phrase) <= known:
                    continue
                p = " ".join(phrase)
                if (col, p) not in seen and (self.data is None or col[1] in self.data.columns(col[0])):
                    seen.add((col, p))
                    out.append((col, p))
                break
        return out

    def _breakdown_columns(self, mined: list[_Mined]) -> list[Col]:
        """Text columns golds group by with few distinct values: questions name their values to say
        which groups to compare ("flagship, outlet and online stores"), so they need entity matching."""
        if self.data is None:
            return []
        out = []
        for col in _unique(c for m in mined for c in m.group_columns):
            if col[1] in self.data.text_columns(col[0]) and 0 < len(self.data.values(*col)) <= 50:
                out.append(col)
        return out

    def _measure_snippets(self, space: Space, mined: list[_Mined]) -> list[AddSnippet]:
        """Measure snippets for aggregates that two or more train questions return.

        A phrase (one or two words) becomes a synonym when questions of at least two families say it
        for this measure and at least 3 in 4 of the questions saying it return this measure; words
        naming the tables and the non-measure columns the gold uses, values, periods, breakdowns ("by
        region": the word after a group cue) and aggregation cues ("top", "total") are not measure words."""
        existing = {_norm_sql(text(sn.sql)) for sn in (space.serialized.snippets("measures") or [])}
        by_measure: dict[str, list[_Mined]] = defaultdict(list)
        sql_of: dict[str, tuple[str, str]] = {}
        phrases_of: dict[int, set[str]] = {}
        surface: dict[str, str] = {}
        for m in mined:
            for sql, alias in m.measures:
                k = _norm_sql(sql)
                if m not in by_measure[k]:
                    by_measure[k].append(m)
                sql_of.setdefault(k, (sql, alias))
            phrases_of[id(m)] = set()
            q = m.failure.question
            for p in periods(q):
                q = q[: p.span[0]] + " " * (p.span[1] - p.span[0]) + q[p.span[1]:]
            toks = words(q.replace("&", " and "))
            after_cue = {i + 1 for i, w in enumerate(toks) if w in _GROUP_CUES}
            keep = [(i, w) for i, w in enumerate(toks)
                    if w not in STOPWORDS and w not in _STOP and w not in CUE_WORDS and not w.isdigit()
                    and w not in m.value_words and stem(w) not in m.context_terms
                    and i not in after_cue]
            for j, (i, w) in enumerate(keep):
                phrases_of[id(m)].add(stem(w))
                surface.setdefault(stem(w), w)
                if j + 1 < len(keep) and keep[j + 1][0] == i + 1:
                    key = f"{stem(w)} {stem(keep[j + 1][1])}"
                    phrases_of[id(m)].add(key)
                    surface.setdefault(key, f"{w} {keep[j + 1][1]}")
        out = []
        for k, users in sorted(by_measure.items(), key=lambda kv: -len(kv[1])):
            sql, alias = sql_of[k]
            if len(users) < 2 or k in existing:
                continue
            ids = {id(m) for m in users}
            syns = []
            for phrase in sorted({p for m in users for p in phrases_of[id(m)]}):
                fams = {m.key for m in users if phrase in phrases_of[id(m)]}
                saying = [m for m in mined if phrase in phrases_of[id(m)]]
                if len(fams) >= 2 and sum(id(m) in ids for m in saying) / len(saying) >= 0.75:
                    syns.append(surface[phrase])
            name = _spell(alias)
            syns = [x for x in syns if x.lower() != name.lower()]
            if not syns and not set(words(alias)) - {"total", "value", "cnt", "count", "sum", "avg", "amount"}:
                continue  # nothing says what this aggregate is called
            out.append(AddSnippet(kind="measure", sql=sql, alias=re.sub(r"\W+", "_", alias.lower()), display_name=name,
                                  synonyms=syns or None))
        return out

    @staticmethod
    def _pinned(mined: list[_Mined]) -> dict[Col, list[str]]:
        """Columns that at least two families of gold queries filter to the same constant."""
        fams: dict[tuple[Col, str], set[str]] = defaultdict(set)
        for m in mined:
            for col, value in m.constants:
                fams[(col, value)].add(m.key)
        out: dict[Col, list[str]] = defaultdict(list)
        for (col, value), keys in sorted(fams.items()):
            if len(keys) >= 2:
                out[col].append(value)
        return dict(out)


# ---------------------------------------------------------------------- helpers
_PART_PARAMS = {exp.Year: ("year", "Calendar year."), exp.Quarter: ("quarter", "Calendar quarter 1 to 4."),
                exp.Month: ("month", "Calendar month 1 to 12.")}


def _param_name(base: str, names: dict[str, int]) -> str:
    names[base] = names.get(base, 0) + 1
    return base if names[base] == 1 else f"{base}_{names[base]}"


def _period_params(tree: exp.Expression, question: str, names: dict[str, int]) -> list[ParameterSpec]:
    """Rewrite period filters the question names into INT parameters (in place); return them.

    `YEAR(d) = 2024` / `QUARTER(d) = 4` / `MONTH(d) = 3` become `:year` / `:quarter` / `:month`, and a
    one-year date range `d >= '2024-02-01' AND d < '2025-02-01'` on a fiscal year the question names
    becomes `YEAR(ADD_MONTHS(d, -1)) = :fiscal_year` (the calendar form for a calendar year).
    """
    import datetime as dt

    found = periods(question)
    out: list[ParameterSpec] = []
    for eq in list(tree.find_all(exp.EQ)):
        part, lit = eq.this, eq.expression
        if not isinstance(lit, exp.Literal) or lit.is_string or type(part) not in _PART_PARAMS:
            continue
        try:
            v = int(lit.this)
        except ValueError:
            continue
        base, desc = _PART_PARAMS[type(part)]
        if isinstance(part.this, exp.AddMonths):
            continue  # already a fiscal expression
        named = any(
            (base == "year" and p.grain in ("year", "quarter", "month") and p.start.year == v)
            or (base == "quarter" and p.grain == "quarter" and (p.start.month + 2) // 3 == v)
            or (base == "month" and p.grain == "month" and p.start.month == v)
            for p in found)
        if not named:
            continue
        name = _param_name(base, names)
        lit.replace(exp.Placeholder(this=name))
        out.append(ParameterSpec(name=name, type_hint="INT", description=f"{desc} e.g. {v}"))

    def date_of(node: exp.Expression) -> dt.date | None:
        while isinstance(node, exp.Cast):
            node = node.this
        if isinstance(node, exp.Literal) and node.is_string:
            try:
                return dt.date.fromisoformat(node.this[:10])
            except ValueError:
                return None
        return None

    for where in list(tree.find_all(exp.Where)):
        conj = _conjuncts(where.this)
        lows = [(c, date_of(c.expression)) for c in conj if isinstance(c, exp.GTE) and isinstance(c.this, exp.Column)]
        highs = [(c, date_of(c.expression)) for c in conj if isinstance(c, exp.LT) and isinstance(c.this, exp.Column)]
        for lo, start in lows:
            hi, end = next(((h, e) for h, e in highs if h.this == lo.this and e is not None), (None, None))
            if start is None or hi is None or start.day != 1 or end != start.replace(year=start.year + 1):
                continue
            for p in found:
                if p.grain not in ("year", "fiscal_year"):
                    continue
                shift = (start.year - p.start.year) * 12 + (start.month - 1)
                fiscal = p.grain == "fiscal_year"
                if (not fiscal and shift != 0) or (fiscal and not -11 <= shift <= 11):
                    continue
                col = lo.this.copy()
                expr = exp.AddMonths(this=col, expression=exp.Literal.number(-shift)) if shift else col
                name = _param_name("fiscal_year" if fiscal else "year", names)
                lo.replace(exp.EQ(this=exp.Year(this=expr), expression=exp.Placeholder(this=name)))
                _drop_conjunct(hi)
                desc = (f"Fiscal year number (FY{p.start.year} = {p.start.year}); it starts on "
                        f"{start.strftime('%B')} 1 of year {p.start.year + (start.year - p.start.year)}."
                        if fiscal else f"Calendar year. e.g. {p.start.year}")
                out.append(ParameterSpec(name=name, type_hint="INT", description=desc))
                break
    return out


def _drop_conjunct(node: exp.Expression) -> None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if isinstance(parent, exp.And):
        other = parent.expression if parent.this is node else parent.this
        parent.replace(other)


def _conjuncts(e: exp.Expression) -> list[exp.Expression]:
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.And):
        return _conjuncts(e.this) + _conjuncts(e.expression)
    return [e]


def _shape(tree: exp.Expression) -> str:
    """The query with every literal abstracted: golds differing only in values share it."""
    t = tree.copy()
    for lit in list(t.find_all(exp.Literal)):
        lit.replace(exp.Placeholder())
    for ph in t.find_all(exp.Placeholder):
        ph.set("this", None)
    return t.sql("databricks").lower()


def _has_words(qwords: str, value: str) -> bool:
    w = " ".join(words(value.replace("&", " and ")))
    return bool(w) and f" {w} " in qwords


def _guidance(current: str, phrasings: list[str]) -> str:
    """Usage guidance listing the phrasings an example serves (merged with what is there)."""
    prefix = "Also asked as: "
    have = [p.strip() for p in current.removeprefix(prefix).split(" | ") if p.strip()] if current.startswith(prefix) else []
    rest = current if current and not current.startswith(prefix) else ""
    merged = have + [p for p in phrasings if p not in have]
    if not merged:
        return current
    return (rest + "\n" if rest else "") + prefix + " | ".join(merged)


def _norm_sql(sql: str) -> str:
    """An aggregate's SQL without table qualifiers, lower case (how the engine compares snippets)."""
    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return sql.lower()
    for c in tree.find_all(exp.Column):
        c.set("table", None)
    return tree.sql("databricks").lower()


def _spell(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _is_date_name(name: str) -> bool:
    return bool(re.search(r"(^|_)(dt|date|ts|time|day|month|year)($|_)", name.lower()))


def _unique(items) -> list:
    out, seen = [], set()
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _edit_key(edit: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in edit.items() if v is not None}, sort_keys=True, default=str)
