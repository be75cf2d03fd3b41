"""Schema linking: map question phrases to the space's tables, columns, snippets and values, then
write simple SQL (aggregate, filter, group-by, top-N, date filters) from the links.

Everything here reads the space's metadata, so editing the space changes what it can answer:
column names (snake_case/abbreviations split), column descriptions and synonyms, snippet display
names and synonyms, entity values (only columns with `enable_entity_matching`), join specs (the
only way two tables are ever joined) and `exclude` (excluded columns are never linked or used).
Free-text instructions are prose; this offline linker does not read them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from ..space.model import Space, text
from .base import Generation, GenerationContext
from .lexicon import _looks_like_key, alias_join_columns, column_kind
from .slots import Period, ValueIndex, ValueMatch, numbers, periods
from .text import STOPWORDS, stem, terms, words

LINK_THRESHOLD = 0.67
DESC_WEIGHT = 0.7
# Table-name decorations that say nothing about the entity.
_TABLE_NOISE = {"dim", "fact", "fct", "tbl", "vw", "v", "stg", "raw", "tmp", "dwh"}
_LABEL_NAMES = ("name", "title", "label", "full_name", "display_name", "description")
_GRAINS = {"year": "YEAR", "yearly": "YEAR", "annual": "YEAR", "annually": "YEAR", "quarter": "QUARTER",
           "quarterly": "QUARTER", "month": "MONTH", "monthly": "MONTH", "week": "WEEK", "weekly": "WEEK",
           "day": "DAY", "daily": "DAY", "date": "DAY"}

# Role cues, as raw lower-case word sequences (longest tried first).
_COUNT_CUES = [("how", "many"), ("number", "of"), ("count", "of"), ("count",), ("counts",)]
_AGG_CUES = {("sum", "of"): "sum", ("total",): "sum", ("sum",): "sum", ("overall",): "sum",
             ("average",): "avg", ("avg",): "avg", ("mean",): "avg", ("maximum",): "max", ("max",): "max",
             ("minimum",): "min", ("min",): "min"}
_RANK_CUES = {"highest": "DESC", "most": "DESC", "largest": "DESC", "biggest": "DESC", "greatest": "DESC",
              "best": "DESC", "top": "DESC", "lowest": "ASC", "least": "ASC", "fewest": "ASC",
              "smallest": "ASC", "worst": "ASC", "bottom": "ASC"}
_GROUP_CUES = [("for", "each"), ("for", "every"), ("broken", "down", "by"), ("grouped", "by"), ("split", "by"),
               ("by",), ("per",), ("each",), ("across",)]
_SUBJECT_CUES = {"which", "what", "list", "show", "name", "find", "give", "display"}
_DISTINCT_CUES = {"distinct", "unique", "different"}
# Words that say how to aggregate or rank, never what is measured (proposers leave them out of synonyms).
CUE_WORDS = frozenset({w for seq in [*_AGG_CUES, *_COUNT_CUES, *_GROUP_CUES] for w in seq} | set(_RANK_CUES)
                      | _DISTINCT_CUES | {"much", "many", "rank", "ranked", "compare", "share", "percent", "percentage"})
_CMP = [(("more", "than"), ">"), (("greater", "than"), ">"), (("over",), ">"), (("above",), ">"),
        (("exceeding",), ">"), (("at", "least"), ">="), (("less", "than"), "<"), (("fewer", "than"), "<"),
        (("under",), "<"), (("below",), "<"), (("at", "most"), "<=")]


# ---------------------------------------------------------------- the index of link targets
@dataclass(eq=False)
class Target:
    """Something a phrase can link to."""

    kind: str  # column | table | measure | filter | expression
    name: str  # column name, table name or snippet alias
    table: str | None = None  # owning table identifier (columns)
    sql: str = ""  # snippet SQL
    ctype: str = "text"  # number | date | text | bool (columns; snippets: measure -> number)
    phrases: list[frozenset[str]] = field(default_factory=list)
    desc: frozenset[str] = frozenset()
    tables: tuple[str, ...] = ()  # tables a snippet references
    entity: bool = False
    is_key: bool = False
    instruction_terms: tuple[str, ...] = ()  # snippets: stemmed instruction text, in order
    display_terms: tuple[str, ...] = ()  # snippets: stemmed display name, in order

    @property
    def label(self) -> str:
        if self.kind == "column":
            return f"{self.table}.{self.name}"
        if self.kind == "table":
            return self.table or self.name
        return f"{self.kind}:{self.name}"


def _guess_type(name: str) -> str:
    n = name.lower()
    if any(x in n for x in ("date", "time", "_at", "_on")):
        return "DATE"
    if any(x in n for x in ("amount", "amt", "price", "qty", "quantity", "count", "total", "cost", "revenue")):
        return "DOUBLE"
    return "VARCHAR"


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def quote_ident(name: str) -> str:
    return exp.to_identifier(name).sql("databricks")


def sql_literal(value) -> str:
    """A safely quoted Databricks literal.

    >>> sql_literal("O'Brien"), sql_literal(7), sql_literal(dt.date(2024, 3, 1))
    ("'O\\\\'Brien'", '7', "DATE '2024-03-01'")
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return exp.Literal.string(str(value)).sql("databricks")


class SchemaIndex:
    """Link targets of one space over one database, plus the join graph from join specs."""

    def __init__(self, space: Space, ctx: GenerationContext):
        doc = space.serialized
        self.space = space
        self.key = ""  # cache key set by the owner (space hash + data fingerprint)
        self.targets: list[Target] = []
        self.columns: dict[str, list[Target]] = {}  # table identifier -> non-excluded columns
        self.excluded: dict[str, set[str]] = {}
        self.aliases: dict[str, str] = {}  # table identifier -> SQL alias
        self.table_targets: dict[str, Target] = {}
        used_aliases: set[str] = set()
        for t in doc.tables:
            alias = re.sub(r"\W", "_", t.name.lower()) or "t"
            while alias in used_aliases:
                alias += "_2"
            used_aliases.add(alias)
            self.aliases[t.identifier] = alias
            name_terms = [x for x in terms(t.name) if x not in _TABLE_NOISE]
            tt = Target("table", t.name, table=t.identifier, phrases=[frozenset(name_terms)] if name_terms else [],
                        desc=frozenset(terms(text(t.description))))
            self.table_targets[t.identifier] = tt
            self.targets.append(tt)
            cols = ctx.columns(t.identifier) or [(c.column_name, _guess_type(c.column_name)) for c in t.column_configs]
            self.excluded[t.identifier] = set()
            self.columns[t.identifier] = []
            for cname, ctype in cols:
                cfg = t.column(cname)
                if cfg is not None and cfg.exclude:
                    self.excluded[t.identifier].add(cname.lower())
                    continue  # excluded columns are invisible to the engine
                cterms = terms(cname)
                phrases = {frozenset(cterms)} if cterms else set()
                stripped = [x for x in cterms if x not in name_terms]
                if stripped and len(stripped) < len(cterms):
                    phrases.add(frozenset(stripped))  # orders.order_date -> "date"
                if stripped and name_terms and not set(name_terms) <= set(cterms):
                    phrases.add(frozenset(name_terms + stripped))  # products.category -> "product category"
                for syn in _as_list(cfg.synonyms if cfg else None):
                    if terms(syn):
                        phrases.add(frozenset(terms(syn)))
                col = Target("column", cname, table=t.identifier, ctype=column_kind(ctype), phrases=list(phrases),
                             desc=frozenset(terms(text(cfg.description))) if cfg else frozenset(),
                             entity=bool(cfg and cfg.enable_entity_matching), is_key=_looks_like_key(cname))
                self.columns[t.identifier].append(col)
                self.targets.append(col)
        for kind in ("measures", "filters", "expressions"):
            for sn in doc.snippets(kind):
                sql = text(sn.sql).strip()
                if not sql:
                    continue
                names = [sn.display_name, sn.alias, *_as_list(sn.synonyms)]
                phrases = [frozenset(terms(n)) for n in names if n and terms(n)]
                alias = re.sub(r"\W+", "_", (sn.alias or sn.display_name or kind[:-1]).lower()).strip("_") or kind[:-1]
                self.targets.append(Target(kind[:-1], alias, sql=sql, ctype="number" if kind == "measures" else "text",
                                           phrases=phrases, desc=frozenset(terms(text(sn.instruction) + " " + text(sn.comment))),
                                           tables=tuple(self._tables_of(sql)),
                                           instruction_terms=tuple(terms(text(sn.instruction))),
                                           display_terms=tuple(terms(sn.display_name or sn.alias or ""))))
        # Description terms used by many columns ("the", "of the order") do not identify a column.
        df: dict[str, int] = {}
        for tg in self.targets:
            for x in tg.desc:
                df[x] = df.get(x, 0) + 1
        limit = max(3, len(self.targets) // 4)
        self._common_desc = {x for x, c in df.items() if c > limit}
        self.joins = self._join_graph()
        self.values = self._entity_index(ctx)

    # ---- helpers over the space
    def _tables_of(self, sql: str) -> list[str]:
        """Tables a snippet's SQL references (by qualifier, else by unique column name)."""
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except sqlglot.errors.ParseError:
            return []
        found: list[str] = []
        for col in tree.find_all(exp.Column):
            ident = self.resolve_table(col.table) if col.table else None
            if ident is None:
                owners = [t for t, cols in self.columns.items() if any(c.name.lower() == col.name.lower() for c in cols)]
                ident = owners[0] if len(owners) == 1 else None
            if ident and ident not in found:
                found.append(ident)
        return found

    def resolve_table(self, ref: str) -> str | None:
        ref = ref.strip("`").lower()
        for ident, alias in self.aliases.items():
            if ref in (ident.lower(), alias, ident.lower().split(".")[-1]):
                return ident
        return None

    def _join_graph(self) -> dict[str, list[tuple[str, str]]]:
        """table -> [(neighbour, ON condition rewritten to our aliases)], from join specs only."""
        graph: dict[str, list[tuple[str, str]]] = {}
        for spec in self.space.serialized.joins:
            left = self.resolve_table(spec.left.identifier)
            right = self.resolve_table(spec.right.identifier)
            if not left or not right or left == right or not spec.condition:
                continue
            names = {
                (spec.left.alias or "").lower(): left, spec.left.identifier.lower(): left,
                spec.left.identifier.lower().split(".")[-1]: left,
                (spec.right.alias or "").lower(): right, spec.right.identifier.lower(): right,
                spec.right.identifier.lower().split(".")[-1]: right,
            }
            try:
                cond = sqlglot.parse_one(spec.condition, read="databricks")
            except sqlglot.errors.ParseError:
                continue
            alias_join_columns(cond, names, self.aliases)
            on = cond.sql("databricks")
            graph.setdefault(left, []).append((right, on))
            graph.setdefault(right, []).append((left, on))
        return graph

    @property
    def dimension_tables(self) -> set[str]:
        """Tables only ever on the 'one' side of declared many-to-one join specs (customers, products)."""
        many, one = set(), set()
        for spec in self.space.serialized.joins:
            left, right = self.resolve_table(spec.left.identifier), self.resolve_table(spec.right.identifier)
            rel = (spec.relationship or "").upper()
            if rel == "MANY_TO_ONE":
                many.add(left), one.add(right)
            elif rel == "ONE_TO_MANY":
                many.add(right), one.add(left)
        return one - many

    @property
    def entity_columns(self) -> list[tuple[str, str]]:
        """(table, column) of every entity-matching text column."""
        return [(ident, c.name) for ident, tcols in self.columns.items() for c in tcols if c.entity and c.ctype == "text"]

    def _entity_index(self, ctx: GenerationContext) -> ValueIndex:
        cols = {}
        for ident, tcols in self.columns.items():
            for c in tcols:
                if c.entity and c.ctype == "text":
                    cols[(ident, c.name)] = ctx.values(ident, c.name)
        return ValueIndex(cols)

    def column(self, table: str, name: str) -> Target | None:
        return next((c for c in self.columns.get(table, []) if c.name.lower() == name.lower()), None)

    def label_column(self, table: str) -> Target | None:
        """The column naming a row of `table` (name/title), else its key."""
        cols = self.columns.get(table, [])
        labels = {stem(n) for n in _LABEL_NAMES}
        named = [c for c in cols if c.ctype == "text" and not c.is_key and set(terms(c.name)) & labels]
        if named:
            # prefer `name` / `<table>_name` over e.g. `brand_name`
            tname = {stem(w) for w in words(table.split(".")[-1])} | set(terms(table.split(".")[-1]))
            return min(named, key=lambda c: (not set(terms(c.name)) - labels <= tname, cols.index(c)))
        keys = [c for c in cols if c.is_key]
        return keys[0] if keys else (cols[0] if cols else None)

    def date_columns(self, table: str) -> list[Target]:
        return [c for c in self.columns.get(table, []) if c.ctype == "date"]

    # ---- linking
    def link(self, gram: list[str]) -> tuple[float, list[Target]]:
        """Best targets for one phrase (stemmed terms): (score, ties)."""
        q = frozenset(gram)
        best, ties = 0.0, []
        for tg in self.targets:
            s = 0.0
            for p in tg.phrases:
                if q == p:
                    s = 1.0
                    break
                if q < p:
                    s = max(s, 0.5 + 0.5 * len(q) / len(p))
            useful = q - self._common_desc
            if s < DESC_WEIGHT and tg.desc and useful and useful == q and q <= tg.desc:
                s = DESC_WEIGHT
            if s > best + 1e-9:
                best, ties = s, [tg]
            elif s > 0 and abs(s - best) < 1e-9:
                ties.append(tg)
        return best, ties

    def path(self, start: str, goal: str) -> list[tuple[str, str, str]] | None:
        """Shortest join path start -> goal as [(from, to, ON)], via join specs only."""
        if start == goal:
            return []
        prev: dict[str, tuple[str, str]] = {start: ("", "")}
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            for nxt, on in self.joins.get(cur, []):
                if nxt not in prev:
                    prev[nxt] = (cur, on)
                    if nxt == goal:
                        steps = []
                        node = goal
                        while node != start:
                            p, cond = prev[node]
                            steps.append((p, node, cond))
                            node = p
                        return steps[::-1]
                    queue.append(nxt)
        return None


# ---------------------------------------------------------------- question parsing
@dataclass
class Mention:
    role: str  # measure | count | group | subject | rank | plain
    targets: list[Target]
    score: float
    span: tuple[int, int]
    text: str
    agg: str | None = None
    rank: str | None = None
    distinct: bool = False


@dataclass
class Parse:
    mentions: list[Mention] = field(default_factory=list)
    grains: list[str] = field(default_factory=list)
    rank: str | None = None
    top_n: int | None = None
    count: bool = False
    period: Period | None = None
    values: list[ValueMatch] = field(default_factory=list)
    comparisons: list[tuple[str, float, int]] = field(default_factory=list)  # (op, value, word pos)
    unlinked: list[str] = field(default_factory=list)
    counted_unlinked: list[str] = field(default_factory=list)  # unlinked words right after a count cue


def _match(toks: list[str], i: int, seqs: Iterable[tuple[str, ...]]) -> tuple[str, ...] | None:
    for s in sorted(seqs, key=len, reverse=True):
        if tuple(toks[i : i + len(s)]) == s:
            return s
    return None


def _word_spans(question: str) -> list[tuple[str, int, int]]:
    out = []
    # same word positions as ValueIndex.find, which reads "&" as "and"
    for m in re.finditer(r"[A-Za-z0-9]+|&", question):
        if m.group(0) == "&":
            out.append(("and", m.start(), m.end()))
            continue
        for w in words(m.group(0)):
            out.append((w, m.start(), m.end()))
    return out


def parse_question(index: SchemaIndex, question: str) -> Parse:
    """Roles and links of the question's phrases."""
    spans = _word_spans(question)
    toks = [w for w, _, _ in spans]
    p = Parse()
    slot = [False] * len(toks)
    found_periods = periods(question)
    if found_periods:
        p.period = found_periods[0]
        for k, (_, s, e) in enumerate(spans):
            if any(ps.span[0] <= s and e <= ps.span[1] for ps in found_periods):
                slot[k] = True
    p.values = [vm for vm in index.values.find(question) if not _inside_schema_phrase(index, toks, vm.span)]
    for vm in p.values:
        for k in range(*vm.span):
            slot[k] = True
    nums = {n.start: n for n in numbers(question)}
    num_at = {}
    for k, (_, s, _e) in enumerate(spans):
        if s in nums and not slot[k]:
            num_at[k] = nums[s]

    pending: dict = {}
    i = 0
    while i < len(toks):
        w = toks[i]
        if slot[i]:
            i += 1
            continue
        if i in num_at:
            n = num_at[i].value
            prev = toks[i - 1] if i else ""
            cmp = next((op for seq, op in _CMP if tuple(toks[max(0, i - len(seq)) : i]) == seq), None)
            if cmp:
                p.comparisons.append((cmp, float(n), i))
            elif prev in _RANK_CUES or (i + 1 < len(toks) and toks[i + 1] in _RANK_CUES) or p.top_n is None and prev in ("",) + tuple(_SUBJECT_CUES):
                if isinstance(n, int) and n < 1000:
                    p.top_n = n
                    p.rank = p.rank or _RANK_CUES.get(prev, _RANK_CUES.get(toks[i + 1] if i + 1 < len(toks) else "", "DESC"))
                    pending = {"role": "subject"}
            i += 1
            continue
        # a phrase linking to the schema (cue words only start a phrase when the match is exact)
        hit = None
        if w not in STOPWORDS:
            j = i
            while j < len(toks) and not slot[j] and toks[j] not in STOPWORDS and j not in num_at and j - i < 4:
                j += 1
            for n in range(j - i, 0, -1):
                gram = [stem(x) for x in toks[i : i + n]]
                score, ties = index.link(gram)
                is_cue = _is_cue(toks, i)
                if score >= LINK_THRESHOLD and (not is_cue or score >= 0.999 and n > 1 or (score >= 0.999 and not _pure_cue(w))):
                    hit = (n, score, ties)
                    break
        if hit:
            n, score, ties = hit
            role = pending.get("role", "plain")
            if role == "by_measure":
                role = "measure"
            if role == "group" and ties and all(t.kind in ("measure",) for t in ties):
                role = "measure"
            p.mentions.append(Mention(role, ties, score, (i, i + n), " ".join(toks[i : i + n]), agg=pending.get("agg"),
                                      rank=pending.get("rank"), distinct=pending.get("distinct", False)))
            keep_group = role == "group"
            pending = {}
            if keep_group and i + n < len(toks) and toks[i + n] == "and":
                pending = {"role": "group"}
                i += 1
            i += n
            continue
        # cues
        seq = _match(toks, i, _COUNT_CUES)
        if seq:
            pending = {"role": "count", "distinct": pending.get("distinct", False)}
            p.count = True
            i += len(seq)
            continue
        seq = _match(toks, i, _AGG_CUES)
        if seq:
            pending = {**pending, "role": "measure", "agg": _AGG_CUES[seq]}
            i += len(seq)
            continue
        if w in _RANK_CUES and not (w == "most" and i + 1 < len(toks) and toks[i + 1] in ("recent", "recently")):
            p.rank = p.rank or _RANK_CUES[w]
            keep_subject = pending.get("role") == "subject"  # "the three best performing stores"
            pending = {**pending, "role": "measure", "rank": _RANK_CUES[w]}
            if keep_subject or (i + 1 < len(toks) and i + 1 in num_at):
                pending["role"] = "subject"
            i += 1
            continue
        if w in _DISTINCT_CUES:
            pending = {**pending, "distinct": True}
            i += 1
            continue
        if _match(toks, i, [("in", "terms", "of")]):
            pending = {"role": "by_measure"}
            i += 3
            continue
        seq = _match(toks, i, _GROUP_CUES)
        if seq:
            measured = any(m.role in ("measure", "count") or _is_measure(m) for m in p.mentions)
            subject = any(m.role == "subject" for m in p.mentions)
            if p.rank and subject and not measured and seq == ("by",):
                pending = {"role": "by_measure"}
            else:
                pending = {"role": "group"}
            i += len(seq)
            continue
        if w in _GRAINS and (pending.get("role") == "group" or w.endswith("ly")):
            p.grains.append(_GRAINS[w])
            pending = {}
            i += 1
            continue
        if w in _SUBJECT_CUES and not pending:
            pending = {"role": "subject"}
        elif w not in STOPWORDS and not _is_cue(toks, i):
            p.unlinked.append(w)
            if pending.get("role") == "count":
                p.counted_unlinked.append(w)  # "how many employees ...": what to count is unknown
        i += 1
    return p


def _inside_schema_phrase(index: SchemaIndex, toks: list[str], span: tuple[int, int]) -> bool:
    """'loyalty level' names a column: its first word is not the value 'Loyalty' of another column."""
    for a, b in ((span[0] - 1, span[1]), (span[0], span[1] + 1)):
        if a < 0 or b > len(toks) or any(t in STOPWORDS for t in toks[a:b]):
            continue
        score, _ = index.link([stem(x) for x in toks[a:b]])
        if score >= 0.999:
            return True
    return False


def _lists_rows(p: Parse, m: Mention) -> bool:
    """'list products with price over 5': a numeric column that only qualifies listed rows."""
    return any(x.role == "subject" and any(t.kind == "table" for t in x.targets) for x in p.mentions) \
        and not (p.rank or p.grains) and any(pos >= m.span[1] for _, _, pos in p.comparisons)


def _pure_cue(w: str) -> bool:
    return w in _RANK_CUES or (w,) in _AGG_CUES or w in ("count", "number", "how", "by", "per", "each")


def _is_cue(toks: list[str], i: int) -> bool:
    return bool(_match(toks, i, _COUNT_CUES) or _match(toks, i, _AGG_CUES) or toks[i] in _RANK_CUES
                or toks[i] in _DISTINCT_CUES or _match(toks, i, _GROUP_CUES))


def _is_measure(m: Mention) -> bool:
    return any(t.kind == "measure" or (t.kind == "column" and t.ctype == "number" and not t.is_key) for t in m.targets)


# ---------------------------------------------------------------- SQL building
class _Unanswerable(Exception):
    pass


@dataclass
class _Query:
    index: SchemaIndex
    base: str | None = None
    tables: list[str] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    limit: int | None = None
    joins: list[tuple[str, str, str]] = field(default_factory=list)

    def need(self, table: str) -> None:
        if table not in self.tables:
            self.tables.append(table)

    def col(self, c: Target) -> str:
        self.need(c.table)
        return f"{self.index.aliases[c.table]}.{quote_ident(c.name)}"

    def snippet(self, t: Target) -> str:
        """Snippet SQL with its table qualifiers rewritten to our aliases."""
        for tb in t.tables:
            self.need(tb)
        try:
            tree = sqlglot.parse_one(t.sql, read="databricks")
        except sqlglot.errors.ParseError as e:
            raise _Unanswerable(f"snippet '{t.name}' does not parse: {e}") from e
        for col in tree.find_all(exp.Column):
            if col.table:
                owner = self.index.resolve_table(".".join(p for p in (col.catalog, col.db, col.table) if p)) \
                    or self.index.resolve_table(col.table)
            else:
                owner = t.tables[0] if len(t.tables) == 1 else None
            if owner:
                col.set("table", exp.to_identifier(self.index.aliases[owner]))
                col.set("db", None)
                col.set("catalog", None)
        return tree.sql("databricks")

    def render(self) -> str:
        if not self.base:
            raise _Unanswerable("no table is linked")
        order = [self.base] + [t for t in self.tables if t != self.base]
        seen = {self.base}
        joins = []
        for t in order[1:]:
            if t in seen:
                continue
            # connect t to the nearest already-joined table
            best = None
            for s in list(seen):
                path = self.index.path(s, t)
                if path is not None and (best is None or len(path) < len(best)):
                    best = path
            if best is None:
                raise _Unanswerable(
                    f"no join spec connects {self.base} and {t} (needed for this question); "
                    f"multi-table questions can only use declared join specs")
            for a, b, on in best:
                if b not in seen:
                    joins.append((a, b, on))
                    seen.add(b)
        self.joins = joins
        a = self.index.aliases
        sql = f"SELECT {', '.join(self.select)} FROM {self.base} AS {a[self.base]}"
        for _, b, on in joins:
            sql += f" JOIN {b} AS {a[b]} ON {on}"
        if self.where:
            sql += " WHERE " + " AND ".join(self.where)
        if self.group:
            sql += " GROUP BY " + ", ".join(self.group)
        if self.order:
            sql += " ORDER BY " + ", ".join(self.order)
        if self.limit is not None:
            sql += f" LIMIT {self.limit}"
        return sqlglot.transpile(sql, read="databricks", write="databricks")[0]


def _pick(targets: list[Target], prefer_tables: list[str], index: SchemaIndex, kinds: tuple[str, ...] | None = None) -> Target | None:
    cands = [t for t in targets if kinds is None or t.kind in kinds]
    if not cands:
        return None

    def cost(t: Target) -> tuple:
        owner = t.table or (t.tables[0] if t.tables else None)
        if owner is None or not prefer_tables:
            dist = 0
        else:
            dists = [len(p) for p in (index.path(b, owner) for b in prefer_tables) if p is not None]
            dist = min(dists) if dists else 99
        return (dist, t.is_key, cands.index(t))

    return min(cands, key=cost)


def _contains_seq(hay: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def _agg_sql(agg: str, expr: str) -> str:
    return f"{agg.upper()}({expr})"


def _alias(*parts: str) -> str:
    return re.sub(r"\W+", "_", "_".join(p for p in parts if p).lower()).strip("_")[:60] or "value"


class SchemaLinker:
    """Write SQL for simple question shapes from schema links; sql=None with a reason otherwise."""

    def generate(self, index: SchemaIndex, question: str) -> Generation:
        p = parse_question(index, question)
        details = {
            "links": [{"text": m.text, "role": m.role, "targets": [t.label for t in m.targets], "score": round(m.score, 2)}
                      for m in p.mentions],
            "values": [{"text": v.text, "column": f"{v.key[0]}.{v.key[1]}", "value": v.value} for v in p.values],
            "period": p.period.text if p.period else None,
            "unlinked": p.unlinked,
        }
        try:
            q = self._build(index, p)
            sql = q.render()
        except _Unanswerable as e:
            return Generation(sql=None, reason=str(e), details=details)
        details["joins"] = [f"{a} -> {b} ON {on}" for a, b, on in q.joins]
        return Generation(sql=sql, details=details)

    def _build(self, index: SchemaIndex, p: Parse) -> _Query:
        q = _Query(index)
        mentions = list(p.mentions)
        filters = [m for m in mentions if any(t.kind == "filter" for t in m.targets)]
        mentions = [m for m in mentions if m not in filters]

        # 1. what is measured
        measure: tuple[str, str, Target] | None = None  # (sql expr, alias, target)
        measure_m = next((m for m in mentions if m.role == "measure" and _is_measure(m)), None)
        count_m = next((m for m in mentions if m.role == "count"), None)
        if measure_m is None and count_m is None:
            measure_m = next((m for m in mentions if m.role in ("plain", "subject", "group") and
                              all(t.kind == "measure" or (t.kind == "column" and t.ctype == "number" and not t.is_key)
                                  for t in m.targets) and not _lists_rows(p, m)), None)
        rank_count = None
        if measure_m is None and count_m is None and p.rank:
            # "which store has the most orders": rank by a count of the mentioned table
            rank_count = next((m for m in mentions if m.role == "measure" and any(t.kind == "table" for t in m.targets)), None)
        subject_m = next((m for m in mentions if m.role == "subject" and m is not measure_m and
                          not (_is_measure(m) and m.role != "subject")), None)
        groups = [m for m in mentions if m is not measure_m and (m.role == "group" or (
            m.role == "plain" and m.targets and all(t.kind == "expression" for t in m.targets)))]
        prefer: list[str] = []
        if measure_m:
            t = _pick(measure_m.targets, [], index, ("measure", "column"))
            if t.kind == "measure":
                expr = q.snippet(t)
                measure = (expr, t.name, t)
                q.base = t.tables[0] if t.tables else None
                # "Combine with the completed orders filter": a measure's instruction may name filters
                for f in index.targets:
                    if f.kind == "filter" and f.phrases and t.instruction_terms and any(
                            ph and _contains_seq(t.instruction_terms, f.display_terms) for ph in f.phrases[:1]):
                        if not any(f in m.targets for m in filters):
                            q.where.append(q.snippet(f))
            else:
                agg = measure_m.agg or ("sum" if (p.rank or groups or p.grains or subject_m) else None)
                if agg is None:
                    agg = "sum"
                q.base = t.table
                measure = (_agg_sql(agg, q.col(t)), _alias({"sum": "total", "avg": "avg", "max": "max", "min": "min"}[agg], t.name), t)
        elif count_m and p.counted_unlinked:
            raise _Unanswerable(f"no table or column matches what to count ('{p.counted_unlinked[0]}')")
        elif count_m or rank_count:
            m = count_m or rank_count
            t = _pick(m.targets, [], index, ("table", "column", "filter"))
            if t is None:
                t = m.targets[0]
            measures = [x for x in m.targets if x.kind == "measure"]
            if t.kind == "column" and t is index.label_column(t.table):
                t = index.table_targets[t.table]  # "how many accounts" counts customers, not names
            if measures or (t.kind == "column" and t.ctype == "number" and not t.is_key):
                # "how many units": a quantity is summed, not counted
                if measures:
                    t = measures[0]
                    measure = (q.snippet(t), t.name, t)
                    q.base = t.tables[0] if t.tables else None
                else:
                    q.base = t.table
                    measure = (_agg_sql("sum", q.col(t)), _alias("total", t.name), t)
            elif t.kind == "table":
                q.base = t.table
                measure = ("COUNT(*)", _alias(t.name, "count"), t)
            elif t.kind == "column":
                q.base = t.table
                measure = (f"COUNT(DISTINCT {q.col(t)})", _alias(t.name, "count"), t)
        elif p.count and any(m.role == "count" for m in filters):
            # "how many active customers": count the rows of the filter snippet's table
            f = next(m for m in filters if m.role == "count")
            t = _pick(f.targets, [], index, ("filter",))
            if t.tables:
                q.base = t.tables[0]
                measure = ("COUNT(*)", _alias(index.aliases[q.base], "count"), t)
        elif p.count and p.values and not mentions:
            # "count consumers at the bronze level": count rows of the named values' table
            q.base = p.values[0].key[0]
            measure = ("COUNT(*)", _alias(index.aliases[q.base], "count"), index.table_targets[q.base])
        elif p.count:
            # "how many X" where X did not link: say so instead of guessing
            raise _Unanswerable(f"no table or column matches what to count (unlinked words: {', '.join(p.unlinked) or 'none'})")
        if measure is None and (p.rank or any(m.agg for m in mentions) or p.unlinked and not mentions):
            what = ", ".join(p.unlinked) or "the measure"
            raise _Unanswerable(f"no column or measure matches '{what}'")
        if q.base:
            prefer = [q.base]

        # 2. entity values, filter snippets, date filters, comparisons
        by_col: dict[tuple[str, str], list[str]] = {}
        for vm in p.values:
            owners = [x for x in p.values if x.span == vm.span]
            cand = [index.column(*x.key) for x in owners]
            best = _pick([c for c in cand if c], prefer or q.tables, index)
            if best is not None and best.table == vm.key[0] and best.name == vm.key[1]:
                by_col.setdefault(vm.key, [])
                if vm.value not in by_col[vm.key]:
                    by_col[vm.key].append(vm.value)
        for (tbl, cname), vals in by_col.items():
            c = index.column(tbl, cname)
            expr = q.col(c)
            q.where.append(f"{expr} = {sql_literal(vals[0])}" if len(vals) == 1
                           else f"{expr} IN ({', '.join(sql_literal(v) for v in vals)})")
            if q.base is None:
                q.base = tbl
        for m in filters:
            t = _pick(m.targets, prefer, index, ("filter",))
            q.where.append(q.snippet(t))
            if q.base is None and t.tables:
                q.base = t.tables[0]

        # 3. grouping / subject
        group_exprs: list[tuple[str, str]] = []
        for m in groups + ([subject_m] if subject_m and (measure or p.rank) else []):
            if m is None:
                continue
            if m.role == "subject" and any(g is m for g in groups):
                continue
            t = _pick(m.targets, prefer, index, ("column", "expression", "table"))
            if t is None:
                continue
            if measure and t is measure[2]:
                continue
            if t.kind == "table":
                if measure and avg_per_row(measure, t):
                    continue  # "average amount per order": the order is the row, not a group
                if measure and measure[2].kind == "table" and t.table == measure[2].table:
                    continue
                lc = index.label_column(t.table)
                if lc is None:
                    continue
                group_exprs.append((q.col(lc), quote_ident(lc.name)))
            elif t.kind == "expression":
                group_exprs.append((q.snippet(t), quote_ident(t.name)))
            else:
                group_exprs.append((q.col(t), quote_ident(t.name)))
            if q.base is None:
                q.base = t.table or (t.tables[0] if t.tables else None)
        date_col = None
        if p.grains or p.period:
            date_col = self._date_column(index, q, p)
        for g in p.grains:
            if date_col is None:
                raise _Unanswerable(f"no date column to group by {g.lower()}")
            group_exprs.append((f"DATE_TRUNC('{g}', {q.col(date_col)})", g.lower()))
        if p.period:
            if date_col is None:
                raise _Unanswerable(f"no date column for '{p.period.text}'")
            if p.period.grain == "fiscal_year":
                # the fiscal calendar is the space's business (instructions, examples), not a column
                raise _Unanswerable(f"'{p.period.text}' is a fiscal period; no example SQL fits it")
            c = q.col(date_col)
            q.where.append(f"{c} >= {sql_literal(p.period.start)} AND {c} < {sql_literal(p.period.end)}")
        for op, value, pos in p.comparisons:
            before = [m for m in p.mentions if m.span[1] <= pos and _is_measure(m)]
            target = None
            if before:
                target = _pick(before[-1].targets, prefer, index, ("column",))
            if target is None and measure and measure[2].kind == "column":
                target = measure[2]
            if target is None:
                continue
            v = int(value) if value == int(value) else value
            if measure and target is measure[2] and (groups or subject_m) and measure[2].kind == "column":
                q.where.append(f"__HAVING__{measure[0]} {op} {v}")  # compares the aggregate per group
            else:
                q.where.append(f"{q.col(target)} {op} {v}")

        # 4. shape
        having = [w[len("__HAVING__"):] for w in q.where if w.startswith("__HAVING__")]
        q.where = [w for w in q.where if not w.startswith("__HAVING__")]
        if measure:
            q.select = [f"{e} AS {a}" for e, a in group_exprs] + [f"{measure[0]} AS {quote_ident(measure[1])}"]
            if group_exprs:
                q.group = [e for e, _ in group_exprs]
            if having:
                q.where.append("__HAVING__")
            if p.rank and (group_exprs or p.top_n):
                q.order = [f"{quote_ident(measure[1])} {p.rank}"]
                q.limit = p.top_n or (1 if not [m for m in groups] else None)
                if not group_exprs and measure[2].kind == "column":
                    # ranking rows of one table by a column: no aggregate
                    c = measure[2]
                    lc = index.label_column(c.table)
                    q.select = ([f"{q.col(lc)}"] if lc and lc is not c else []) + [q.col(c)]
                    q.order = [f"{q.col(c)} {p.rank}"]
            elif p.grains:
                q.order = [e for e, _ in group_exprs if e.startswith("DATE_TRUNC")]
        elif subject_m or q.base:
            t = _pick(subject_m.targets, prefer, index) if subject_m else None
            if t is not None and t.kind == "table":
                q.base = q.base or t.table
                lc = index.label_column(t.table)
                q.select = [q.col(lc)] if lc else ["*"]
            elif t is not None and t.kind == "column":
                q.base = q.base or t.table
                q.select = [f"DISTINCT {q.col(t)}"]
            elif q.where:
                tb = q.base
                lc = index.label_column(tb)
                q.select = [q.col(lc)] if lc else ["*"]
            else:
                raise _Unanswerable("no measure, count or filter could be linked")
            if q.base is None:
                raise _Unanswerable("no table is linked")
        else:
            raise _Unanswerable("nothing in the question links to the space's tables or columns")
        if having:
            q.where.remove("__HAVING__")
            q.group = q.group or [e for e, _ in group_exprs]
            return _HavingQuery.wrap(q, having)
        return q

    def _date_column(self, index: SchemaIndex, q: _Query, p: Parse) -> Target | None:
        """The mentioned date column, else the nearest date column to the base table via joins."""
        mentioned = [t for m in p.mentions for t in m.targets if t.kind == "column" and t.ctype == "date"]
        if mentioned:
            return _pick(mentioned, [q.base] if q.base else [], index)
        if q.base is None:
            for tb in index.columns:
                cols = index.date_columns(tb)
                if cols:
                    q.base = tb
                    return cols[0]
            return None
        best = None
        for tb in index.columns:
            cols = index.date_columns(tb)
            path = index.path(q.base, tb)
            if not cols or path is None:
                continue
            # Entity tables' own dates (store opened, product launched) are rarely what a period means
            # for a measure of another table; the nearest table on the join path is.
            key = (len(path), tb in index.dimension_tables, tb not in q.tables)
            if best is None or key < best[0]:
                named = [c for c in cols if "date" in c.name.lower() or "time" in c.name.lower() or "dt" in terms(c.name)]
                best = (key, (named or cols)[0])
        return best[1] if best else None


def avg_per_row(measure: tuple[str, str, Target], t: Target) -> bool:
    return measure[0].startswith("AVG(") and measure[2].table == t.table


class _HavingQuery(_Query):
    having: list[str]

    @classmethod
    def wrap(cls, q: _Query, having: list[str]) -> _HavingQuery:
        h = cls(q.index, q.base, q.tables, q.select, q.where, q.group, q.order, q.limit)
        h.having = having
        return h

    def render(self) -> str:
        sql = super().render()
        tree = sqlglot.parse_one(sql, read="databricks")
        tree = tree.having(" AND ".join(self.having), dialect="databricks", copy=False)
        return tree.sql("databricks")
