"""The offline, deterministic proposer: general levers from failing train questions, their gold SQL
and the engine's grounding trace.

Only held-out accuracy counts (the loop measures on family-held-out splits), so it proposes the
levers Genie reads for every question, and an example SQL only for a shape no lever expresses:

- **Words -> measures, filters, column synonyms.** The trace names the words of a question that
  grounded to nothing; the gold names the parts of the answer (the aggregates it returns, the
  columns it groups or filters by, the conditions the question does not spell as a value). A word
  names the part it co-occurs with across failures (`levers.associate`): "turnover", "takings" ->
  a *Net revenue* measure snippet; "channel" -> a synonym of `orders.sales_chnl`; "cancelled" -> a
  filter snippet `orders.stat_cd = 'X'`. A share of rows (`100.0 * COUNT(x) / COUNT(*)`) is a
  condition to name, not a measure: the engine composes shares itself.
- **Business rules** as text instructions the engine (and Genie) read: a condition the golds apply
  in 3 of 4 uses of a measure, or of counting a table's rows, across two or more families ("Net
  revenue is computed only over rows where orders.stat_cd = 'C'."); a condition on a column the
  measure itself reads is folded into the measure's SQL. Also the fiscal calendar the golds use
  and the rounding they apply.
- **Value dictionaries** (entity matching) on the columns whose values questions name, then on the
  categorical text columns of the tables the failing golds read.
- **Join specs** from the equalities gold queries join on, oriented many-to-one by key uniqueness.
- **Example SQL** (parameterized: a gold literal the question names becomes a `:parameter`, also
  when named differently, "North America" for `AMER`) only for a family of two or more failures
  whose words taught nothing: every word grounded, yet the answer was wrong or refused.

Edits that serve more failures come first. Edits already tried and rejected (from `history`) are not
proposed again. Genie's limits on a space (instructions, entity-matching columns) are respected.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from ...generate.schema_link import CUE_WORDS
from ...generate.slots import periods
from ...generate.text import stem, words
from ...space.changes import (
    AddColumnSynonyms,
    AddExampleSql,
    AddJoinSpec,
    AddSnippet,
    AddTextInstruction,
    ChangeSet,
    ParameterSpec,
    SetColumnEntityMatching,
    UpdateExampleSql,
    UpdateSnippet,
)
from ...space.model import Space, text
from ...space.validate import LIMITS
from ..model import Failure, TriedChange
from . import MAX_ENTITY_MATCHING_COLUMNS, TableData
from .levers import Item, associate, grounded_columns, near_duplicate, spoken_columns, ungrounded, units

NAME = "heuristic"
_CMP = (exp.EQ, exp.NEQ, exp.In, exp.Like, exp.ILike)
_WRAP = (exp.Lower, exp.Upper, exp.Cast, exp.Paren, exp.Trim)

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
    group_columns: list[Col] = field(default_factory=list)
    measures: list[tuple[str, str]] = field(default_factory=list)  # (aggregate SQL over table names, its alias)
    value_words: set[str] = field(default_factory=set)  # words of the values the question names
    conditions: list[Item] = field(default_factory=list)  # WHERE conditions the question does not spell as a value
    counted: list[str] = field(default_factory=list)  # tables whose rows the gold counts
    tables: list[str] = field(default_factory=list)  # tables the gold reads
    rounded: int | None = None  # decimals the gold rounds its aggregates to
    fiscal_shift: int | None = None  # YEAR(ADD_MONTHS(d, k)): the gold's fiscal calendar


class HeuristicProposer:
    """`propose(space, failures, *, budget, history) -> ChangeSet`, offline and deterministic.

    Args:
        data: read access to the space's data (values, key uniqueness); without it, only edits
            that need no data evidence are proposed.
    """

    name = NAME

    def __init__(self, data: TableData | None = None):
        self.data = data
        self._folded: dict[str, str] = {}  # measure key -> its SQL with rule conditions folded in

    def identity(self) -> str:
        return f"{NAME}-2"

    # ------------------------------------------------------------------ proposing
    def propose(self, space: Space, failures: list[Failure], *, budget: int, history: list[TriedChange]) -> ChangeSet:
        mined = [m for m in (self.mine(space, f) for f in failures) if m is not None]
        rejected = {_edit_key(c) for h in history if not h.accepted for c in h.changes}
        s = space.serialized
        ranked: list[tuple[int, int, int, Any]] = []  # (priority, -failures it serves, order, edit): lower first

        def add(priority: int, support: int, edit: Any) -> None:
            ranked.append((priority, -support, len(ranked), edit))

        # 1. join specs: the only way the engine (and Genie) joins tables
        have_pairs = {frozenset((j.left.identifier.lower(), j.right.identifier.lower())) for j in s.joins}
        pairs: dict[frozenset[str], tuple[Col, Col]] = {}
        pair_uses: Counter[frozenset[str]] = Counter()
        for m in mined:
            for a, b in _unique(m.joins):
                pair = frozenset((a[0].lower(), b[0].lower()))
                if a[0] != b[0] and pair not in have_pairs:
                    pairs.setdefault(pair, (a, b))
                    pair_uses[pair] += 1
        for pair, (a, b) in pairs.items():
            spec = self._join_spec(a, b)
            if spec.relationship == "MANY_TO_MANY" and self.data is not None:
                continue  # no side identifies its rows (lake and river by country): a question's join, not a relationship
            add(0, pair_uses[pair], spec)

        # 2. value dictionaries: entity matching on the columns whose values questions name
        enabled = {(t.identifier.lower(), c.column_name.lower()) for t in s.tables for c in t.column_configs
                   if c.enable_entity_matching}
        room = MAX_ENTITY_MATCHING_COLUMNS - len(enabled)
        named = Counter(c for m in mined for c in _unique(m.entity))
        for col in _unique([*named, *self._breakdown_columns(mined), *self._same_domain(space, list(named))]):
            if (col[0].lower(), col[1].lower()) in enabled or room <= 0 or self._free_text(col):
                continue
            room -= 1
            add(1 if col in named else 3, named.get(col, 0),
                SetColumnEntityMatching(table=col[0], column=col[1], enabled=True))

        # 3. the words that did not ground, each to the measure, column or condition of the gold it names;
        # a condition the golds apply wherever a measure is used is a rule, not something words name
        pairs = self._rule_pairs(space, mined)
        lever_edits, served = self._word_levers(space, mined, pairs)
        for priority, support, edit in lever_edits:
            add(priority, support, edit)

        # 4. business rules, the fiscal calendar and rounding the golds apply, as text instructions
        rules = self._rules(space, mined, pairs, lever_edits)
        if rules:
            add(1, len(mined), AddTextInstruction(content="\n".join(rules)))

        # 5. example SQL only for a shape no lever expresses: failures with no ungrounded word left to
        # teach (every word grounded, yet the answer is wrong or refused), one example per family
        families: dict[str, list[_Mined]] = defaultdict(list)
        for m in mined:
            families[m.key].append(m)
        existing = self._example_keys(space)
        room = LIMITS["instructions"] - len(s.examples) - len(s.functions) - (1 if s.instructions.text_instructions or rules else 0)
        for key, fam in sorted(families.items(), key=lambda kv: -len(kv[1])):
            taught = sum(id(m) in served for m in fam)
            if taught == len(fam) and len(fam) < 2:
                continue  # its words taught a lever, and one question is no shape worth an example
            phrasings = _unique(m.failure.question for m in fam)
            if key in existing:
                ex = existing[key]
                known = (text(ex.question) + "\n" + text(ex.usage_guidance)).lower()
                new = [q for q in phrasings if q.lower() not in known]
                if new:
                    add(4, len(fam), UpdateExampleSql(id=ex.id, usage_guidance=_guidance(text(ex.usage_guidance), new)))
                continue
            if room <= 0:
                continue
            room -= 1
            rep = fam[0]
            # last: a family whose words taught levers gets its example only if the budget has room
            add(6 if taught else 4 if len(fam) > 1 else 5, len(fam), AddExampleSql(question=rep.failure.question, sql=rep.param_sql, parameters=rep.params or None,
                                           usage_guidance=_guidance("", phrasings[1:]) or None))

        edits, seen = [], set()
        for *_, edit in sorted(ranked, key=lambda r: r[:3]):
            k = _edit_key(edit.model_dump(exclude_none=True))
            if k in rejected or k in seen:
                continue
            seen.add(k)
            edits.append(edit)
        edits = edits[: max(0, budget)]
        kinds = sorted({e.op for e in edits})
        message = (f"heuristic: {len(edits)} edit(s) ({', '.join(kinds)}) from {len(mined)} failing train "
                   f"question(s); {len(served)} taught by their ungrounded words") if edits else ""
        return ChangeSet(changes=edits, message=message)

    def _same_domain(self, space: Space, cols: list[Col]) -> list[Col]:
        """Columns of other tables with the same name that share values with a column questions name by value
        (`state.country_name` beside `city.country_name`): a value named later may be either table's, and only a
        dictionary on both lets the engine tell which table the question means."""
        if self.data is None:
            return []
        out = []
        for table, column in cols:
            mine = set(self.data.values(table, column))
            for t in space.serialized.tables:
                if t.identifier.lower() == table.lower():
                    continue
                for other in self.data.text_columns(t.identifier):
                    if other.lower() == column.lower() and mine & set(self.data.values(t.identifier, other)):
                        out.append((t.identifier, other))
        return out

    # ------------------------------------------------------------------ words -> levers
    @staticmethod
    def _items(m: _Mined, ruled: set[Item] = frozenset()) -> list[Item]:
        """The parts of one gold answer a word of its question can name."""
        items = [Item("measure", _norm_sql(sql), sql=sql, alias=alias) for sql, alias in m.measures]
        done = grounded_columns(m.failure)
        for col in _unique([*(c for c in m.group_columns if not _is_date_name(c[1])), *m.entity]):
            if (col[0].lower(), col[1].lower()) not in done:
                items.append(Item("column", f"{col[0]}.{col[1]}".lower(), col=col))
        return items + [c for c in m.conditions if c not in ruled]

    def _word_levers(self, space: Space, mined: list[_Mined], pairs: list[tuple[Item | str, Item]]
                     ) -> tuple[list[tuple[int, int, Any]], set[int]]:
        """Measures, filters and column synonyms named by the words questions use that did not ground.

        A rule condition on a column the measure itself reads (return rate over completed and returned
        orders) is folded into the measure's SQL: a rule there would be overridden by the measure's own SQL.

        Returns (priority, failures served, edit) triples and the ids of the mined failures whose words taught something.
        """
        ruled = {c for _, c in pairs}
        folds: dict[Item, list[Item]] = defaultdict(list)
        for subject, cond in pairs:
            if isinstance(subject, Item) and cond.col[1].lower() in subject.sql.lower():
                folds[subject].append(cond)
        records = []
        # a word that names a table of the space ("users") is that table: never a synonym of something else
        tables = {stem(w) for t in space.serialized.tables for w in words(t.identifier.split(".")[-1])}
        for m in mined:
            own = {w for w in words(m.failure.question) if stem(w) in tables}
            us = units(m.failure.question, ungrounded(m.failure), m.value_words | _OPERATOR_WORDS | own)
            # named by something else in the question: a column by its value, a condition by its grounded column
            done = grounded_columns(m.failure)
            done |= {(c[0].lower(), c[1].lower()) for c in spoken_columns(m.failure, [c.col for c in m.conditions])}
            pre = {Item("column", f"{c[0]}.{c[1]}".lower(), col=c) for c in m.entity}
            pre |= {c for c in m.conditions if (c.col[0].lower(), c.col[1].lower()) in done}
            records.append((us, self._items(m, ruled), pre))
        named = associate(records)
        by_item: dict[Item, list[tuple[str, int]]] = defaultdict(list)
        for key, (item, support, surface) in sorted(named.items(), key=lambda kv: -kv[1][1]):
            if any(near_duplicate(surface, other) for other, _ in by_item[item]):
                continue  # a typo of a word already taken: the engine corrects it
            by_item[item].append((surface, support))
        served = {id(m) for m, (us, _, _) in zip(mined, records) if any(u.key in named for u in us)}
        uses = Counter(i for m in mined for i in set(self._items(m)) if i.kind == "measure")

        out: list[tuple[int, int, Any]] = []
        existing = {_norm_sql(text(sn.sql)): sn for sn in space.serialized.snippets("measures")}
        existing_f = {_norm_sql(text(sn.sql)): sn for sn in space.serialized.snippets("filters")}
        measure_items = sorted(_unique([*by_item, *(i for i, n in uses.items() if n >= 2)]),
                               key=lambda i: -(uses[i] + sum(n for _, n in by_item.get(i, []))))
        names_taken = {(text(sn.display_name) or sn.alias or "").lower() for sn in existing.values()}
        for item in measure_items:
            if item.kind != "measure":
                continue
            # a verb's participle names no measure ("publications presented in conferences": how rows relate)
            syns = [w for w, _ in by_item.get(item, []) if not _participle_word(w)]
            support = sum(n for _, n in by_item.get(item, [])) or uses[item]
            if item.key in existing:
                sn = existing[item.key]
                have = {x.lower() for x in _as_list(sn.synonyms)} | {(sn.display_name or "").lower()}
                new = [w for w in syns if w.lower() not in have]
                if new and sn.id:
                    out.append((1, support, UpdateSnippet(id=sn.id, synonyms=_as_list(sn.synonyms) + new)))
                continue
            name = self._measure_name(item, syns)
            tables = {stem(w) for t in space.serialized.tables for w in words(t.name)}
            if name is not None and {stem(w) for w in words(name)} <= tables:
                name = syns[0].capitalize() if syns else None  # "Customers" would shadow counting the table
            if name is None or name.lower() in names_taken:
                continue
            names_taken.add(name.lower())
            syns = [w for w in syns if w.lower() != name.lower()]
            sql = item.sql
            for cond in folds.get(item, []):
                sql = _fold(sql, cond.sql)
            self._folded[item.key] = sql
            out.append((1, support, AddSnippet(kind="measure", sql=sql, alias=re.sub(r"\W+", "_", name.lower()),
                                               display_name=name, synonyms=syns or None)))
        for item, said in by_item.items():
            syns = [w for w, _ in said]
            support = sum(n for _, n in said)
            if item.kind == "column":
                if self.data is None or item.col[1] in self.data.columns(item.col[0]):
                    out.append((2, support, AddColumnSynonyms(table=item.col[0], column=item.col[1], synonyms=syns)))
            elif item.kind == "filter" and item.key not in existing_f:
                table = item.col[0].split(".")[-1].replace("_", " ")
                name = syns[0] if set(words(table)) & set(words(syns[0])) else f"{syns[0]} {table}"
                out.append((2, support, AddSnippet(kind="filter", sql=item.sql, display_name=name,
                                                   synonyms=[w for w in syns if w != name] or None)))
        return out, served

    @staticmethod
    def _measure_name(item: Item, syns: list[str]) -> str | None:
        """The gold's alias for the measure, unless it says nothing ("total", "cnt"): then the word questions use."""
        if set(words(item.alias)) - {"total", "value", "cnt", "count", "sum", "avg", "amount", "n", "x"}:
            return _spell(re.sub(r"_(pct|percent|amt|cnt|num)$", "", item.alias.lower()))
        return syns[0].capitalize() if syns else None

    @staticmethod
    def _rule_pairs(space: Space, mined: list[_Mined]) -> list[tuple[Item | str, Item]]:
        """(measure item or counted table, condition): the condition is in at least 3 in 4 of the golds using
        the measure (or counting the table's rows), in two or more families: a business rule."""
        subjects: dict[Item | str, list[_Mined]] = defaultdict(list)
        for m in mined:
            for sql, alias in m.measures:
                subjects[Item("measure", _norm_sql(sql), sql=sql, alias=alias)].append(m)
            for t in m.counted:
                subjects[t].append(m)
        found: dict[Item | str, list[tuple[Item, int]]] = {}
        for subject, ms in subjects.items():
            conds = Counter(c for m in ms for c in set(m.conditions))
            found[subject] = [(cond, len({m.key for m in ms if cond in m.conditions})) for cond, n in conds.items()
                              if n >= 2 and n / len(ms) >= 0.75 and re.search(r"=|\bIN\b", cond.sql)
                              and not re.search(r"\bNOT\b|<>|!=", cond.sql, re.I)]
        # a rule shows in two or more families of one subject; then it also holds for the other subjects
        # its condition always comes with (units sold, asked in one family, counts completed orders too)
        general = {cond for conds in found.values() for cond, fams in conds if fams >= 2}
        # a condition on a column the measure itself reads, in every gold using it, belongs to the measure
        own = {(subject, cond) for subject, conds in found.items() for cond, _ in conds
               if isinstance(subject, Item) and cond.col[1].lower() in subject.sql.lower()
               and all(cond in m.conditions for m in subjects[subject])}
        return [(subject, cond) for subject, conds in found.items() for cond, _ in conds
                if cond in general or (subject, cond) in own]

    def _rules(self, space: Space, mined: list[_Mined], pairs: list[tuple[Item | str, Item]],
               levers: list[tuple[int, int, Any]]) -> list[str]:
        """Sentences the engine (and Genie) read as rules: each rule pair, the fiscal calendar, rounding."""
        have = space.serialized.instruction_text.lower()
        names = {_norm_sql(text(sn.sql)): text(sn.display_name) or sn.alias
                 for sn in space.serialized.snippets("measures")}
        names |= {_norm_sql(e.sql): e.display_name for _, _, e in levers if isinstance(e, AddSnippet) and e.kind == "measure"}
        names |= {k: names[_norm_sql(v)] for k, v in self._folded.items() if _norm_sql(v) in names}
        out = []
        for subject, cond in pairs:
            if cond.sql.lower() in have:
                continue  # stated already
            if isinstance(subject, str):
                out.append(f"Counts of {subject.split('.')[-1].replace('_', ' ')} are computed only over rows where {cond.sql}.")
            elif subject.key in names and cond.col[1].lower() not in subject.sql.lower():
                out.append(f"{names[subject.key]} is computed only over rows where {cond.sql}.")
        shifts = Counter(m.fiscal_shift for m in mined if m.fiscal_shift)
        if shifts and "fiscal" not in have:
            k = shifts.most_common(1)[0][0]
            month = _MONTHS[(-k) % 12]
            out.append(f"Fiscal years start on {month} 1; fiscal year = YEAR(ADD_MONTHS(date, {k})).")
        digits = Counter(m.rounded for m in mined if m.measures and not all(s.upper().startswith("COUNT") for s, _ in m.measures))
        total = sum(digits.values())
        if total >= 2 and "decimal" not in have:
            d, n = digits.most_common(1)[0]
            if d is not None and n / total >= 0.75:
                out.append(f"Amounts, rates and shares are rounded to {d} decimals.")
        return out

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

        # values: parameters for the ones the question names
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
            value = lit.this.strip("%") if isinstance(parent, (exp.Like, exp.ILike)) else lit.this
            if not value:
                continue
            named, via = self._named(col, value, qwords)
            if not named:
                continue  # a constant the question does not name: a condition (`_conditions`), not a parameter
            m.entity.append(via or col)
            m.value_words |= set(words(value.replace("&", " and ")))
            if via is not None:
                m.value_words |= {w for v in self.data.lookup(col[0], col[1], value, via[1]) for w in words(v.replace("&", " and "))}
            pname = _param_name(re.sub(r"\W+", "_", col[1].lower()).strip("_") or "value", names)
            param: exp.Expression = exp.Placeholder(this=pname)
            if isinstance(parent.this, (exp.Lower, exp.Upper)):  # LOWER(name) LIKE '%rhine%': the value folded too
                param = type(parent.this)(this=param)
            if isinstance(parent, (exp.Like, exp.ILike)):  # '%Michigan%' stays a containment: '%' || :p || '%'
                if lit.this.endswith("%"):
                    param = exp.DPipe(this=param, expression=exp.Literal.string("%"))
                if lit.this.startswith("%"):
                    param = exp.DPipe(this=exp.Literal.string("%"), expression=param)
            lit.replace(param)
            m.params.append(ParameterSpec(
                name=pname, type_hint="STRING",
                description=f"a {col[1]} value of {col[0].split('.')[-1]}, e.g. '{value}'"))
        for g in tree.find_all(exp.Group):
            for c in g.find_all(exp.Column):
                col = self._column(c, aliases)
                if col and col not in m.group_columns:
                    m.group_columns.append(col)
        m.tables = sorted(set(aliases.values()))
        m.measures = self._measures(tree, aliases)
        m.conditions = self._conditions(tree, aliases)
        m.counted = self._counted(tree, aliases)
        for r in tree.find_all(exp.Round):
            d = r.args.get("decimals")
            if r.find(exp.AggFunc) and isinstance(d, exp.Literal) and not d.is_string:
                m.rounded = int(d.this)
        for am in tree.find_all(exp.AddMonths):
            e = am.expression
            if isinstance(am.parent, (exp.Year, exp.Quarter)) and isinstance(e, (exp.Literal, exp.Neg)):
                try:
                    m.fiscal_shift = int(e.sql())
                except ValueError:
                    pass
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
                    or node.find(exp.Placeholder) or node.find(exp.Window):
                continue  # a measure with a question's value in it is not a reusable measure
            if _share_of_rows(node) is not None:
                continue  # a share of rows with a condition: the engine composes it from the condition's name
            sql = self._over_tables(node, aliases)
            if sql:
                out.append((sql, proj.alias))
        return out

    def _over_tables(self, node: exp.Expression, aliases: dict[str, str]) -> str | None:
        """`node` as SQL with its columns qualified by table name (how snippets are written); None if a column is unresolved."""
        node = node.copy()
        for c in list(node.find_all(exp.Column)):
            col = self._column(c, aliases)
            if col is None or (self.data is not None and col[1] not in self.data.columns(col[0])):
                return None  # a CTE's column, or a name the data does not have
            c.replace(exp.column(col[1], table=col[0].split(".")[-1]))
        return node.sql("databricks")

    def _conditions(self, tree: exp.Expression, aliases: dict[str, str]) -> list[Item]:
        """WHERE conditions on one non-date column with no value the question names (`orders.stat_cd = 'C'`,
        `customers.lylty_tier IS NOT NULL`): filters and business rules, not parameters."""
        out = []
        for proj in tree.expressions if isinstance(tree, exp.Select) else []:
            cond = _share_of_rows(proj)
            col = self._column(cond.find(exp.Column), aliases) if cond is not None else None
            sql = self._over_tables(cond, aliases) if col else None
            if sql:
                out.append(Item("filter", _norm_sql(sql), sql=sql, col=col))
        for where in tree.find_all(exp.Where):
            for c in _conjuncts(where.this):
                cols = list(c.find_all(exp.Column))
                if (c.find(exp.Placeholder) or c.find(exp.Select) or len({x.name.lower() for x in cols}) != 1
                        or isinstance(c, exp.EQ) and isinstance(c.expression, exp.Column)
                        or any(_is_date_name(x.name) for x in cols) or c.find(exp.Year, exp.Month, exp.Quarter)):
                    continue
                if any(lit.is_string and re.match(r"\d{4}-\d\d", lit.this) for lit in c.find_all(exp.Literal)):
                    continue
                col = self._column(cols[0], aliases)
                sql = self._over_tables(c, aliases)
                if col and sql:
                    item = Item("filter", _norm_sql(sql), sql=sql, col=col)
                    if item not in out:
                        out.append(item)
        return out

    def _counted(self, tree: exp.Expression, aliases: dict[str, str]) -> list[str]:
        """Tables whose rows the outer query counts (`COUNT(*)`, `COUNT(DISTINCT key)` over its FROM table)."""
        frm = tree.args.get("from_") or tree.args.get("from") if isinstance(tree, exp.Select) else None
        src = frm.this if frm is not None else None
        if not isinstance(src, exp.Table):
            return []
        table = aliases.get((src.alias or src.name).lower())
        counts = []
        for proj in tree.expressions:
            node = proj.this if isinstance(proj, exp.Alias) else proj
            while isinstance(node, (exp.Round, exp.Cast, exp.Paren)):
                node = node.this
            if isinstance(node, exp.Count) and isinstance(node.this, exp.Star):
                counts.append(node)
        return [table] if table and counts else []

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
        """Many side on the left; relationship from key uniqueness in the data. A pair table's columns
        (domain_conference: did, cid; only ids) are never unique ends, however few rows it has: it is the
        many side of both its relationships, and a third table joined to its id column is many-to-many."""
        ua = self.data.is_unique(*a) and not self._pair_table(a[0]) if self.data else False
        ub = self.data.is_unique(*b) and not self._pair_table(b[0]) if self.data else True
        if ua and not ub:
            a, b, ua, ub = b, a, ub, ua
        rel = "ONE_TO_ONE" if ua and ub else "MANY_TO_ONE" if ub else "MANY_TO_MANY"
        ln, rn = a[0].split(".")[-1], b[0].split(".")[-1]
        return AddJoinSpec(left=a[0], right=b[0], condition=f"{ln}.{a[1]} = {rn}.{b[1]}", relationship=rel)

    def _pair_table(self, table: str) -> bool:
        cols = self.data.columns(table) if self.data else ()
        return len(cols) >= 2 and all(c.lower() == "id" or c.lower().endswith(("id", "_key")) for c in cols)

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

    def _free_text(self, col: Col) -> bool:
        """Sentences, not names (a review's text): a value dictionary there would turn common words of
        questions ("average") into values; Genie advises against entity matching on such columns."""
        if col[1].lower() in _PROSE_COLUMNS:
            return True
        if self.data is None or col[1] not in self.data.text_columns(col[0]):
            return False
        values = [str(v).strip() for v in self.data.values(*col)][:200]
        if not values:
            return False
        sentences = sum(v[-1:] in ".!?" for v in values if v) / len(values)
        return sentences >= 0.5 or sum(len(v.split()) for v in values) / len(values) >= 4

    def _breakdown_columns(self, mined: list[_Mined]) -> list[Col]:
        """Categorical text columns (2 to 50 distinct values) of the tables the failing golds read, those
        golds group by first: questions name their values ("corporate customers", "flagship, outlet and
        online stores", "returned as defective"), so they need a value dictionary (Genie's own advice)."""
        if self.data is None:
            return []
        grouped = _unique(c for m in mined for c in m.group_columns)
        tables = _unique(t for m in mined for t in m.tables)
        out = []
        for col in _unique([*grouped, *((t, c) for t in tables for c in self.data.text_columns(t))]):
            if col[1] in self.data.text_columns(col[0]) and 2 <= len(self.data.values(*col)) <= 50:
                out.append(col)
        return out


# ---------------------------------------------------------------------- helpers
# words the engine reads as operators (rate, share, growth, top, ...): never names of data
_OPERATOR_WORDS = frozenset(CUE_WORDS | {"rate", "rates", "ratio", "growth", "change", "percent", "percentage", "pct",
                                          "share", "average", "avg", "number", "count", "total", "how"}
                            # number words and words about the answer's form name no data: never a synonym
                            | {"hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "dozen",
                               "answer", "return", "match", "matching", "string", "strings", "exactly", "exact", "integer",
                               "decimal", "decimals", "format", "convert", "round", "rounded", "output"}
                            # words of a text pattern ("names that start with the letter J") name no data either
                            | {"start", "starts", "starting", "begin", "begins", "beginning", "end", "ends", "ending",
                               "contain", "contains", "containing", "letter", "letters", "character", "characters",
                               "word", "words", "prefix", "suffix", "substring"}
                            # generic nouns of relation ("not part of any organization")
                            | {"part", "parts", "piece", "pieces"})
_PROSE_COLUMNS = frozenset({"text", "comment", "comments", "description", "body", "message", "note", "notes",
                            "abstract", "content", "review_text", "summary", "remarks"})
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_PART_PARAMS = {exp.Year: ("year", "Calendar year."), exp.Quarter: ("quarter", "Calendar quarter 1 to 4."),
                exp.Month: ("month", "Calendar month 1 to 12.")}


def _participle_word(phrase: str) -> bool:
    """A single past participle ("presented", "published"): it says what happened to rows, naming no measure."""
    ws = phrase.lower().split()
    return len(ws) == 1 and len(ws[0]) > 4 and ws[0].endswith("ed")


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


def _fold(measure: str, condition: str) -> str:
    """`measure` computed only over rows where `condition` holds, inside its aggregates.

    >>> _fold("100.0 * COUNT_IF(o.s = 'R') / COUNT(*)", "o.s IN ('C', 'R')")
    "100.0 * COUNT_IF(o.s = 'R' AND o.s IN ('C', 'R')) / COUNT_IF(o.s IN ('C', 'R'))"
    """
    tree = sqlglot.parse_one(measure, read="databricks")
    cond = sqlglot.parse_one(condition, read="databricks")
    for agg in list(tree.find_all(exp.Count, exp.CountIf, exp.Sum, exp.Avg)):
        if isinstance(agg, exp.Count) and isinstance(agg.this, exp.Star):
            agg.replace(exp.CountIf(this=cond.copy()))
        elif isinstance(agg, exp.CountIf):
            agg.set("this", exp.and_(agg.this.copy(), cond.copy()))
        elif isinstance(agg.this, exp.Distinct):
            agg.this.set("expressions", [exp.Case(ifs=[exp.If(this=cond.copy(), true=e.copy())])
                                         for e in agg.this.expressions])
        else:
            agg.set("this", exp.Case(ifs=[exp.If(this=cond.copy(), true=agg.this.copy())]))
    return tree.sql("databricks")


def _share_of_rows(node: exp.Expression) -> exp.Expression | None:
    """The condition of a share of rows, `100.0 * COUNT(x) / COUNT(*)` -> `x IS NOT NULL`, or
    `COUNT_IF(c) / COUNT(*)` -> `c`; None for any other expression."""
    node = node.this if isinstance(node, exp.Alias) else node
    while isinstance(node, (exp.Round, exp.Cast, exp.Paren)):
        node = node.this
    if not isinstance(node, exp.Div) or not (isinstance(node.expression, exp.Count) and isinstance(node.expression.this, exp.Star)):
        return None
    num = node.this
    if isinstance(num, exp.Mul):
        num = num.expression if isinstance(num.this, exp.Literal) else num.this
    if isinstance(num, exp.Count) and isinstance(num.this, exp.Column):
        return exp.Not(this=exp.Is(this=num.this.copy(), expression=exp.Null()))
    if isinstance(num, exp.CountIf):
        return num.this.copy()
    return None


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value] if value else []


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
