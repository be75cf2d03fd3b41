"""What a space offers to ground a question in: one `Entry` per measure, filter, dimension
expression, column, table and data value, indexed by the phrases that name it.

Everything comes from the space's metadata and the data behind it, never from a list of known
tables: column names (snake_case / camelCase split, warehouse abbreviations expanded, the table's
own name dropped: `orders.ord_dt` is also "date"), column synonyms and descriptions, snippet
display names, aliases and synonyms, table names, the distinct values of columns with entity
matching (the value dictionary), value aliases written in column descriptions and instructions
(`AMER (North America)`, `'C' = completed`, `'Europe' is EMEA`), and join specs. Each entry
carries its path in the space (`instructions.sql_snippets.measures[2]`,
`data_sources.tables[main.retail.orders].column_configs[ord_dt]`) so an answer can say which
metadata it used and a proposer can see which was missing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from ..space.model import Space, Table, text
from .base import GenerationContext
from .text import ABBREVIATIONS, STOPWORDS, stem, words

# Words of a column name that say what kind of value it holds, not what it is about.
_NAME_WORDS = {"name", "nm", "code", "cd", "label", "title", "desc", "description", "txt", "text"}
_DATE_WORDS = {"date", "dt", "time", "timestamp", "ts", "day", "at", "on"}
_TABLE_NOISE = {"dim", "fact", "fct", "tbl", "vw", "v", "stg", "raw", "tmp", "dwh"}
_LABEL_NAMES = ("name", "title", "label", "full_name", "display_name", "description")
# Question words that are abbreviations in warehouse names too (beyond text.ABBREVIATIONS, which the
# previous engine shares): common column-name abbreviations, not any one dataset's. Beyond this table,
# a column-name word written as a consonant skeleton ("lylty", "shpmnt") names the question word it
# abbreviates (`Lexicon.abbreviated`).
_MORE_ABBREVIATIONS = {
    "promo": "promotion", "promos": "promotion", "qtr": "quarter", "fy": "fiscal",
    "seg": "segment", "fmt": "format", "stat": "status", "rsn": "reason", "chnl": "channel",
    "ctry": "country", "grp": "group", "lvl": "level", "src": "source", "pmt": "payment",
    "bal": "balance", "wt": "weight", "hrs": "hours", "rev": "revenue", "val": "value",
    # British spellings match the American ones ("loyalty programme" / "program")
    "programme": "program", "programmes": "program", "catalogue": "catalog", "catalogues": "catalog",
    "colour": "color", "colours": "color", "centre": "center", "centres": "center", "favourite": "favorite",
    "organisation": "organization", "organisations": "organization", "licence": "license", "metre": "meter",
    # irregular plurals the light stemmer leaves alone ("square foot" / "square feet")
    "feet": "foot", "children": "child", "women": "woman", "men": "man", "metres": "meter",
    "behaviour": "behavior", "labour": "labor", "neighbourhood": "neighborhood", "neighbourhoods": "neighborhood",
}


def norm(word: str) -> str:
    """The matching form of one lower-case word: light stem, doubled final consonant undone.

    >>> [norm(w) for w in ["cancelled", "canceled", "Orders", "promo"]]
    ['cancel', 'cancel', 'order', 'promotion']
    """
    w = word.lower()
    if w not in _MORE_ABBREVIATIONS and w not in ABBREVIATIONS and len(w) > 2 and w.endswith("s") and (
            w[:-1] in _MORE_ABBREVIATIONS or w[:-1] in ABBREVIATIONS):
        w = w[:-1]  # "ords", "yrs": plurals of abbreviations
    w = _MORE_ABBREVIATIONS.get(w, w)
    s = stem(w)
    if len(s) > 4 and s[-1] == s[-2] and s[-1] not in "aeiousz":
        s = s[:-1]
    return s


def norms(value: str) -> tuple[str, ...]:
    """Matching forms of the words of a name or phrase ("Home & Kitchen" -> ('home', 'and', 'kitchen'))."""
    return tuple(norm(w) for w in words(value.replace("&", " and ")))


def content(phrase: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w for w in phrase if w not in _STOP_NORMS)


_STOP_NORMS = {norm(w) for w in STOPWORDS}


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def column_kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("INTERVAL"):
        return "text"
    if "DATE" in t or "TIMESTAMP" in t:
        return "date"
    if any(x in t for x in ("INT", "DEC", "DOUBLE", "FLOAT", "REAL", "NUMERIC")):
        return "number"
    if "BOOL" in t:
        return "bool"
    return "text"


def _looks_like_key(name: str) -> bool:
    n = name.lower()
    return n == "id" or n.endswith(("_id", "_key", "_sk", "_fk", "_pk")) or (n.endswith("id") and n[:-2].endswith("_"))


def quote(name: str) -> str:
    return exp.to_identifier(name).sql("databricks")


@dataclass(eq=False)
class Entry:
    """One thing a phrase can ground to."""

    kind: str  # measure | filter | expression | column | table | value
    path: str  # where it lives in the space
    label: str  # how answers name it
    table: str | None = None  # owning table (columns, values) or the first table a snippet reads
    column: str | None = None  # column name (columns, values)
    sql: str = ""  # snippet SQL with table references rewritten to the engine's aliases
    tables: tuple[str, ...] = ()  # tables the SQL reads
    ctype: str = ""  # number | date | text | bool
    value: str | None = None  # data value (values)
    is_key: bool = False
    instruction: str = ""  # snippet instruction (rules are read from it)
    nullable: bool = False

    def __repr__(self) -> str:
        return f"<{self.kind} {self.label}>"

    @property
    def is_count(self) -> bool:
        return self.kind == "measure" and bool(re.match(r"(?is)^\s*count\s*\(", self.sql))


@dataclass
class Edge:
    """A join between two tables: from a join spec, or inferred from keys when no spec connects them."""

    left: str
    right: str
    on: str  # condition over the engine's aliases
    many_to_one: bool | None  # left -> right is many-to-one (True), one-to-many (False), unknown (None)
    path: str  # instructions.join_specs[i] or "inferred:<left col>=<right col>"
    spec_type: str | None = None  # LEFT for a spec whose comment asks to keep unmatched rows
    one_to_one: bool = False

    def other(self, table: str) -> str:
        return self.right if table == self.left else self.left

    def fans_out(self, start: str) -> bool:
        """Whether walking this edge from `start` multiplies rows (one-to-many or unknown)."""
        if self.one_to_one:
            return False
        if self.many_to_one is None:
            return True
        return self.many_to_one != (start == self.left)


@dataclass
class Phrase:
    entry: Entry
    via: str  # name | synonym | display_name | alias | value | value_alias | description
    surface: tuple[str, ...] = ()  # raw words that must appear as written (values starting with a stopword)
    acronym: bool = False  # only when written in capitals ("US", not "us")


@dataclass
class Lexicon:
    """The grounding targets of one space over one database."""

    space: Space
    entries: list[Entry] = field(default_factory=list)
    phrases: dict[tuple[str, ...], list[Phrase]] = field(default_factory=lambda: defaultdict(list))
    columns: dict[str, list[Entry]] = field(default_factory=dict)  # table -> its non-excluded columns
    tables: dict[str, Entry] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # table identifier -> SQL alias
    edges: list[Edge] = field(default_factory=list)
    desc_words: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    heads: list[tuple[tuple[str, ...], Entry]] = field(default_factory=list)  # a described name's last word
    values: dict[tuple[str, str, str], Entry] = field(default_factory=dict)  # (table, column, value) -> entry
    vocabulary: set[str] = field(default_factory=set)  # every word of every phrase (typo correction)
    max_phrase: int = 1
    stats: object = None  # ctx.stats, for anchoring dates and key uniqueness
    values_of: object = None  # ctx.values, for values a question quotes
    names: set[str] = field(default_factory=set)  # table-name words abbreviations expand to
    list_columns: set[tuple[str, str]] = field(default_factory=set)  # (table, column) holding comma-separated lists
    name_words: set[str] = field(default_factory=set)  # words of column-name phrases (skeleton abbreviations)
    # "density of state": a column's name turned around its table's noun; it names the column no better than the
    # column word alone, so it never outranks a longer name of it ("population density of states")
    turned: set[tuple[str, ...]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)  # metadata the engine could not read
    _aggregates: dict | None = field(default=None, repr=False)

    def finish(self) -> None:
        """Recompute the vocabulary and longest phrase after phrases were added."""
        for key in self.phrases:
            self.vocabulary.update(key)
            self.max_phrase = max(self.max_phrase, len(key))

    # ------------------------------------------------------------------ lookups
    def column(self, table: str, name: str) -> Entry | None:
        lname = name.lower()
        return next((c for c in self.columns.get(table, []) if c.column.lower() == lname), None)

    def aggregate_measures(self) -> dict[tuple[str, str, str], Entry]:
        """Measure snippets that are one aggregate of one column: (SUM, table, column) -> the measure."""
        if self._aggregates is None:
            out: dict[tuple[str, str, str], Entry] = {}
            for e in self.entries:
                if e.kind != "measure" or not e.sql:
                    continue
                try:
                    tree = sqlglot.parse_one(e.sql, read="databricks")
                except sqlglot.errors.ParseError:
                    continue
                agg = {exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX"}.get(type(tree))
                if agg and isinstance(tree.this, exp.Column):
                    table = self.resolve_table(tree.this.table) if tree.this.table else None
                    if table is not None:
                        out.setdefault((agg, table, tree.this.name.lower()), e)
            self._aggregates = out
        return self._aggregates

    def resolve_table(self, ref: str) -> str | None:
        ref = ref.strip("`").lower()
        for ident, alias in self.aliases.items():
            if ref in (ident.lower(), alias.lower(), ident.lower().split(".")[-1]):
                return ident
        return None

    def is_fraction(self, col: Entry) -> bool:
        """A column its description calls a fraction ("as a fraction (0.10 = 10% off)")."""
        return any(e is col for w in (norm("fraction"), norm("fractions")) for e in self.desc_words.get(w, ()))

    def columns_of_names(self, tables, names: set[str]) -> list[Entry]:
        """Text columns of `tables` whose values (spaces trimmed) are all among `names`, at least two of them:
        a column of weekday or month names."""
        if self.values_of is None:
            return []
        out = []
        for t in tables:
            for c in self.columns.get(t, []):
                vals = {str(v).strip() for v in self.values_of(t, c.column)} if c.ctype == "text" else set()
                if len(vals) > 1 and vals <= names:
                    out.append(c)
        return out

    def numeric_text(self, col: Entry) -> bool:
        """A text column whose values are all numbers ("4421", "-86"): ordered by their value, not as text."""
        if col.ctype != "text" or self.values_of is None:
            return False
        vals = [str(v).strip() for v in self.values_of(col.table, col.column) if v is not None]
        return len(vals) > 1 and all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in vals)

    def label_column(self, table: str, named: bool = False) -> Entry | None:
        """The column naming a row of `table` (a text name/title column), else None. Unless `named`, a
        unique text column (a region's code) serves when no column is a name."""
        cols = self.columns.get(table, [])
        labels = {norm(n) for n in _LABEL_NAMES} | {norm("nm")}
        tname = set(norms(table.split(".")[-1]))
        # `store_nm` names a store; `brand_nm` in products or `street_name` in location name something else
        names = [c for c in cols if c.ctype == "text" and not c.is_key and set(self.words_of(c)) & labels
                 and set(self.words_of(c)) - labels <= tname]
        if names:
            return names[0]
        if named:
            return None
        # no name column: a unique text column names the rows (a region's code)
        unique = [c for c in cols if c.ctype == "text" and not c.is_key and self.unique(table, c.column)]
        return unique[0] if unique else None

    def abbreviated(self, word: str) -> str | None:
        """The column-name word that abbreviates the question word `word` as a consonant skeleton
        (`lylty` for "loyalty", `shpmnt` for "shipment"), when exactly one does; else None.

        Warehouse names drop vowels; a name word with no vowel after its first letter is hardly an
        English word, so reading it as the question word whose letters it keeps in order (same
        first letter, at least half as long) is what a reader of the schema would do.

        >>> lex = Lexicon(space=None, name_words={"lylty", "tier", "rgn"})
        >>> lex.abbreviated("loyalty"), lex.abbreviated("registration"), lex.abbreviated("tiers")
        ('lylty', None, None)
        """
        if len(word) < 4 or not word.isalpha():
            return None
        hits = [v for v in self.name_words if is_skeleton_of(v, word)]
        return hits[0] if len(hits) == 1 else None

    def words_of(self, col: Entry) -> tuple[str, ...]:
        """A column's name words with abbreviations of the space's table names expanded (rgn -> region)."""
        return tuple(expand(w, self.names) for w in norms(col.column))

    def key_column(self, table: str) -> Entry | None:
        """The column identifying a row: a unique key-like column, else the first key-like one."""
        cols = [c for c in self.columns.get(table, []) if c.is_key]
        tname = set(norms(table.split(".")[-1]))
        for c in cols:
            if self.unique(table, c.column) and (c.column.lower() == "id" or set(norms(c.column)) - {"id", "key"} <= tname):
                return c
        for c in cols:
            if self.unique(table, c.column):
                return c
        return None

    def own_key(self, col: Entry, table: str) -> bool:
        """Whether a key column identifies `table`'s own rows (`id`, `cust_id` in customers), not another
        table's (`business_id` in category, unique there only because each business has one category)."""
        return _key_of(self, col, table) or not any(_names_table(col.column, t) for t in self.columns if t != table)

    def unique(self, table: str, column: str) -> bool:
        st = self.stats(table, column) if self.stats else None
        return bool(st and st.rows and st.distinct == st.rows and not st.nulls)

    def date_columns(self, table: str) -> list[Entry]:
        return [c for c in self.columns.get(table, []) if c.ctype == "date"]

    def year_columns(self, table: str) -> list[Entry]:
        """Integer columns of calendar years (`paper.year`, `pub_year`): named "year", values 1000-2999."""
        out = []
        for c in self.columns.get(table, []):
            if c.ctype != "number" or c.is_key or norms(c.column)[-1:] != ("year",):
                continue
            st = self.stats(table, c.column) if self.stats else None
            lo, hi = (getattr(st, "min", None), getattr(st, "max", None)) if st is not None else (None, None)
            if isinstance(lo, int) and isinstance(hi, int) and 1000 <= lo <= hi <= 2999:
                out.append(c)
        return out

    def sql_of(self, entry: Entry) -> str:
        """A column reference `alias.column`."""
        return f"{self.aliases[entry.table]}.{quote(entry.column)}"


# ---------------------------------------------------------------------- building
def build_lexicon(space: Space, ctx: GenerationContext) -> Lexicon:
    """All grounding targets of `space` over the data behind `ctx`."""
    lex = Lexicon(space=space, stats=ctx.stats, values_of=ctx.values)
    doc = space.serialized
    used: set[str] = set()
    for t in doc.tables:
        alias = re.sub(r"\W", "_", t.name.lower()) or "t"
        while alias in used:
            alias += "_2"
        used.add(alias)
        lex.aliases[t.identifier] = alias
    lex.names = _abbreviations(doc.tables)
    for t in doc.tables:
        _add_table(lex, t, ctx)
    for kind in ("measures", "filters", "expressions"):
        for i, sn in enumerate(doc.snippets(kind)):
            _add_snippet(lex, kind, i, sn)
    for head, te in lex.heads:
        if head not in lex.phrases:
            _add_phrase(lex, head, te, "description")
    _add_joins(lex)
    _mark_glued_keys(lex)
    _infer_joins(lex)
    lex.finish()
    return lex


def _mark_glued_keys(lex: Lexicon) -> None:
    """Key columns named without a separator: `paperid` (a table `paper` + id, also `citedpaperid`), or
    `pid` in `publication` (the table's initial + id, unique in that table, and the same name elsewhere)."""
    words = {w for t in lex.columns for w in [*_table_words_of(t), *t.split(".")[-1].lower().split("_")] if len(w) >= 3}
    for t, cols in lex.columns.items():
        for c in cols:
            n = c.column.lower()
            if c.is_key or not n.endswith("id") or c.ctype not in ("number", "text"):
                continue
            stem = n[:-2]
            if any(stem.endswith(w) for w in words):
                c.is_key = True
            elif len(stem) == 1 and t.split(".")[-1].lower().startswith(stem) and lex.unique(t, c.column):
                for cs in lex.columns.values():  # the key and every column of that name referencing it
                    for o in cs:
                        if o.column.lower() == n:
                            o.is_key = True


def _abbreviations(tables: list[Table]) -> set[str]:
    """Table-name words a column-name word may abbreviate."""
    return {w for t in tables for w in _table_words(t) if len(w) > 3}


def expand(word: str, names: set[str]) -> str:
    """`rgn` -> region, `ret` -> return when the word abbreviates exactly one table-name word of the
    space (same first letter, its letters in order, at least half as long); else the word itself.

    >>> expand("rgn", {"region", "return"}), expand("ret", {"region", "return"}), expand("re", {"region"})
    ('region', 'return', 're')
    """
    if word in names or len(word) < 3:
        return word
    hits = [n for n in names if n[0] == word[0] and len(n) > len(word) and 2 * len(word) >= len(n) and
            _subsequence(word, n)]
    return hits[0] if len(hits) == 1 else word


def is_skeleton_of(short: str, word: str) -> bool:
    """Whether `short` is a consonant-skeleton abbreviation of `word`: same first letter, no vowel
    after it (y counts as a consonant), its letters in order in `word`, at least half as long.

    >>> is_skeleton_of("fmt", "format"), is_skeleton_of("chnl", "channel"), is_skeleton_of("rgn", "registration")
    (True, True, False)
    """
    return (3 <= len(short) < len(word) and short[0] == word[0] and 2 * len(short) >= len(word)
            and not set(short[1:]) & set("aeiou") and short.isalpha() and _subsequence(short, word))


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _table_words_of(identifier: str) -> list[str]:
    return [w for w in norms(identifier.split(".")[-1]) if w not in _TABLE_NOISE]


def _described_as(description: str) -> tuple[str, ...] | None:
    """The name a table's description opens with, as in "Order lines: one row per ..." (one to three words)."""
    m = re.match(r"\s*([A-Za-z][A-Za-z ]{1,40}?)\s*:\s", description or "")
    if m is None or len(m.group(1).split()) > 3:
        return None
    return norms(m.group(1)) or None


_DESCRIBED_NAME = re.compile(r"^\s*(?:the|a|an)\s+([a-z][a-z ]{2,40}?)\s+of\s+(?:the|a|an|each)\s", re.I)


def _described_name(description: str, own: tuple[str, ...]) -> tuple[str, ...] | None:
    """The longer name a column description opens with: "The population density of the state ..." for
    `density` (two or three words ending in a word of the column's own name, adding at least one)."""
    m = _DESCRIBED_NAME.match(description or "")
    if m is None:
        return None
    phrase = norms(m.group(1))
    if not 2 <= len(phrase) <= 3 or phrase[-1] not in own or set(phrase) <= set(own):
        return None
    return phrase


def _table_words(t: Table) -> list[str]:
    return [w for w in norms(t.name) if w not in _TABLE_NOISE]


def _add_phrase(lex: Lexicon, phrase: tuple[str, ...], entry: Entry, via: str, surface: tuple[str, ...] = ()) -> None:
    phrase = tuple(w for w in phrase if w)
    if not phrase or all(w in _STOP_NORMS for w in phrase):
        return
    items = lex.phrases[phrase]
    if not any(p.entry is entry for p in items):
        items.append(Phrase(entry, via, surface))


def _add_table(lex: Lexicon, t: Table, ctx: GenerationContext) -> None:
    ident = t.identifier
    tpath = f"data_sources.tables[{ident}]"
    tw = _table_words(t)
    te = Entry("table", tpath, ident, table=ident)
    lex.tables[ident] = te
    lex.entries.append(te)
    if tw:
        _add_phrase(lex, tuple(tw), te, "name")
    label = _described_as(text(t.description))
    if label and label != tuple(tw):  # "Order lines: one row per product in an order" -> "order lines"
        _add_phrase(lex, label, te, "description")
        if len(label) == 2:
            lex.heads.append((label[-1:], te))  # "lines" alone, if nothing else is called so (see build)
    for w in set(_description_words(text(t.description))):
        lex.desc_words[w].append(te)
    cols = ctx.columns(ident) or [(c.column_name, "VARCHAR") for c in t.column_configs]
    lex.columns[ident] = []
    for cname, ctype in cols:
        cfg = t.column(cname)
        if cfg is not None and cfg.exclude:
            continue  # excluded columns are invisible to the engine
        kind = column_kind(ctype)
        st = ctx.stats(ident, cname)
        col = Entry("column", f"{tpath}.column_configs[{cname}]", f"{ident.split('.')[-1]}.{cname}", table=ident,
                    column=cname, ctype=kind, is_key=_looks_like_key(cname), nullable=bool(st and st.nulls))
        lex.columns[ident].append(col)
        lex.entries.append(col)
        others = {tuple(_table_words(o)) for o in lex.space.serialized.tables if o is not t}
        for phrase in _column_phrases(cname, tw, kind, lex.names):
            if phrase in others and phrase != norms(cname):
                continue  # flight.airline_flight is not "airline": that names the airline table
            _add_phrase(lex, phrase, col, "name")
            lex.name_words.update(phrase)
            if len(phrase) == 2:
                _add_phrase(lex, (phrase[1], "of", phrase[0]), col, "name")  # food type -> type of food
                if phrase[0] in tw:
                    lex.turned.add((phrase[1], "of", phrase[0]))
            if len(phrase) == 2 and phrase[1] == "number" and kind == "number" and (phrase[0],) not in others:
                _add_phrase(lex, phrase[:1], col, "name")  # reference_num: "how many references" counts them
        for syn in _as_list(cfg.synonyms if cfg else None):
            for phrase in _with_date_stripped(norms(syn), kind):
                if phrase != tuple(tw) or phrase == norms(syn):  # "order date" is not "order"
                    _add_phrase(lex, phrase, col, "synonym")
                if tw and not set(tw) & set(phrase):
                    _add_phrase(lex, tuple(tw) + phrase, col, "synonym")  # status -> "customer status"
        desc = text(cfg.description) if cfg else ""
        for w in set(_description_words(desc)):
            lex.desc_words[w].append(col)
        if kind == "number" and not col.is_key:  # "the most populous cities": ranked by population
            for w in norms(cname):
                for adj in _ADJECTIVES.get(w, ()):
                    _add_phrase(lex, norms(adj), col, "name")
        named = _described_name(desc, norms(cname))
        if named:  # "The population density of the state": "population density" names `density`
            _add_phrase(lex, named, col, "description")
        if cfg is not None and cfg.enable_entity_matching and kind == "text":
            add_values(lex, col, ctx.values(ident, cname))
        _add_flag(lex, col, ctx, [norms(x) for x in _as_list(cfg.synonyms if cfg else None)])
        if desc:
            _add_null_meaning(lex, col, desc, [norms(cname), *[norms(x) for x in _as_list(cfg.synonyms if cfg else None)]])
        if desc and (kind == "text" or kind == "number" and not col.is_key):
            _add_described_values(lex, col, desc, ctx)
        if kind == "text" and _is_country_code(cname, desc):
            _add_country_names(lex, col, ctx)
        elif kind == "text" and norm("state") in norms(cname):
            _add_state_names(lex, col, ctx)


_TRUE = ("1", "true", "t", "y", "yes")
_FALSE = ("0", "false", "f", "n", "no")


def _add_flag(lex: Lexicon, col: Entry, ctx: GenerationContext, synonyms: list[tuple[str, ...]] = ()) -> None:
    """`is_open`, `has_exams`: a yes/no column; the words after is/has ("open", "exams") name its yes value,
    so "open businesses" and "courses with exams" filter on it. Any other yes/no column (`email_opt_in`
    holding 'Y'/'N'): its name and synonyms, and their runs of two or more words ("opt in"), name the yes
    value, so "customers who opted in" filters on it."""
    ws = norms(col.column)
    if col.is_key or col.ctype not in ("text", "bool", "number"):
        return
    values = [str(v) for v in ctx.values(col.table, col.column)]
    low = {v.lower() for v in values}
    yes = [v for v in values if v.lower() in _TRUE]
    if len(yes) != 1 or not low <= set(_TRUE) | set(_FALSE) or len(low) < 2:
        return
    if len(ws) >= 2 and ws[0] in ("is", "ha", "has"):
        _add_value(lex, col, yes[0], ws[1:], "flag")
        return
    for phrase in [ws, *synonyms]:
        for a in range(len(phrase)):
            for b in range(a + 2, len(phrase) + 1):
                _add_value(lex, col, yes[0], phrase[a:b], "flag")


_NULL_WHEN_NOT = re.compile(r"\bNULL\s+(?:when|if)\s+(?:the\s+\w+\s+)?(?:is|was|has)\s+not\s+(?:a|an)\s+([A-Za-z]+)", re.I)


_OF_A_KIND_NULL_FOR = re.compile(r"\b(?:of|for)\s+an?\s+([A-Za-z]+)\s+([A-Za-z]+)[^;.]*[;.]\s*NULL\s+(?:for|when)\b", re.I)


def _add_null_meaning(lex: Lexicon, col: Entry, desc: str, names: list[tuple[str, ...]]) -> None:
    """A description that says what NULL means ("NULL when the customer is not a member") names the rows
    with a value: "members" and "loyalty members" filter on the column being set. "City of a physical
    store; NULL for the online stores": "physical stores" are the stores with a city."""
    k = _OF_A_KIND_NULL_FOR.search(desc)
    if k is not None and norm(k.group(2)) in [w for w in norms(col.table.split(".")[-1]) if w not in _TABLE_NOISE]:
        kind = norm(k.group(1))
        sql = f"{lex.aliases[col.table]}.{quote(col.column)} IS NOT NULL"
        entry = Entry("filter", col.path, f"{k.group(1).lower()} {k.group(2).lower()}s", table=col.table, sql=sql,
                      tables=(col.table,))
        lex.entries.append(entry)
        _add_phrase(lex, (kind,), entry, "description")  # the noun after it still names the table
    m = _NULL_WHEN_NOT.search(desc)
    if m is None:
        return
    word = norm(m.group(1))
    sql = f"{lex.aliases[col.table]}.{quote(col.column)} IS NOT NULL"
    entry = Entry("filter", col.path, f"{m.group(1).lower()}s", table=col.table, sql=sql, tables=(col.table,))
    lex.entries.append(entry)
    _add_phrase(lex, (word,), entry, "description")
    for phrase in names:
        first = [w for w in phrase if w not in _STOP_NORMS][:1]
        if first and first[0] != word:
            _add_phrase(lex, (first[0], word), entry, "description")
            if word == norm("member"):  # "in the loyalty program": the members of it
                for noun in _MEMBERSHIP_NOUNS:
                    _add_phrase(lex, (first[0], norm(noun)), entry, "description")


# Adjectives that name a number column by its noun ("most populous" ranks by population).
_ADJECTIVES = {norm("population"): ("populous", "populated"), norm("density"): ("dense", "densely populated"),
               norm("length"): ("lengthy",), norm("altitude"): ("elevated",)}
_MEMBERSHIP_NOUNS = ("program", "programme", "programs", "programmes", "club", "scheme", "membership")


def _column_phrases(cname: str, table_words: list[str], kind: str, names: set[str]) -> list[tuple[str, ...]]:
    """Phrases naming a column: its words (abbreviations of table names expanded), without the
    table's own name, without `name`/`code`."""
    full = tuple(expand(w, names) for w in norms(cname))
    out = [full]
    bare = tuple(w for w in full if w not in table_words)
    if bare and bare != full:
        out.append(bare)
    if bare and table_words and not set(table_words) <= set(full):
        out.append(tuple(table_words) + bare)  # products.cat_nm -> "product category"
    for p in list(out):
        core = tuple(w for w in p if norm(w) not in {norm(x) for x in _NAME_WORDS})
        if core and core != p and kind == "text":
            out.append(core)  # cat_nm -> "category"
    counts = {norm("number"), norm("count")}
    for p in list(out):  # citation_num: "citation number" is also the "citation count"
        if kind == "number" and len(p) > 1 and p[-1] in counts:
            out.extend(p[:-1] + (c,) for c in counts if c != p[-1])
    result = []
    for p in out:
        result.extend(_with_date_stripped(p, kind))
    # a date column named after its own table (`orders.ord_dt` -> "order") would shadow the table
    return [p for p in dict.fromkeys(result) if p and p != tuple(table_words)]


def _with_date_stripped(phrase: tuple[str, ...], kind: str) -> list[tuple[str, ...]]:
    """`signup date` also names a date column as "signup" (what happened on it)."""
    if kind != "date":
        return [phrase]
    stripped = tuple(w for w in phrase if w not in {norm(x) for x in _DATE_WORDS})
    return [phrase] + ([stripped] if stripped and stripped != phrase else [])


def _description_words(desc: str) -> list[str]:
    return [norm(w) for w in words(desc) if w not in STOPWORDS and len(w) > 2 and not w.isdigit()]


def _value_phrase(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    raw = tuple(words(value.replace("&", " and ")))
    surface = raw if raw and raw[0] in STOPWORDS else ()
    return tuple(norm(w) for w in raw), surface


def add_values(lex: Lexicon, col: Entry, values: Iterable[str], via: str = "value") -> None:
    """Index `values` of `col` as value entries (the value dictionary), with unique leading words."""
    firsts: dict[str, list[str]] = defaultdict(list)
    values = [str(v) for v in values]
    if len(values) >= 3 and sum(bool(re.search(r",\S|, ", v)) for v in values) >= 0.8 * len(values):
        # "Moscow,Samara,Kazan": a list per row; each item names the rows whose list holds it
        lex.list_columns.add((col.table, col.column))
        items = {i.strip() for v in values for i in v.split(",") if i.strip()}
        for item in sorted(items - set(values)):
            phrase, surface = _value_phrase(item)
            if phrase and len(phrase) <= 8 and not all(w in _STOP_NORMS or w.isdigit() for w in phrase):
                _add_value(lex, col, item, phrase, "list_item", surface)
    for v in values:
        phrase, surface = _value_phrase(str(v))
        if not phrase or len(phrase) > 8 or all(w in _STOP_NORMS or w.isdigit() for w in phrase):
            continue
        if len(phrase) == 1 and len(phrase[0]) < 2:
            continue
        _add_value(lex, col, str(v), phrase, via, surface)
        if len(phrase) > 1 and len(phrase[0]) >= 4 and phrase[0] not in _STOP_NORMS and not re.search(r",\S", str(v)):
            # not a list of values ("Moscow,Samara,Kazan"): its first item names none of the rows alone
            firsts[phrase[0]].append(str(v))
    # "beauty" -> 'Beauty & Personal Care': a leading word that starts exactly one value of the column
    for w, vs in firsts.items():
        if len(vs) == 1 and (w,) not in lex.phrases:
            _add_value(lex, col, vs[0], (w,), "value_prefix")


def _add_value(lex: Lexicon, col: Entry, value: str, phrase: tuple[str, ...], via: str, surface=()) -> None:
    key = (col.table, col.column, value)
    entry = lex.values.get(key)
    if entry is None:
        entry = Entry("value", col.path, f"{col.label} = '{value}'", table=col.table, column=col.column,
                      ctype=col.ctype, value=value)
        lex.values[key] = entry
        lex.entries.append(entry)
    _add_phrase(lex, phrase, entry, via, surface)


def value_entry(lex: Lexicon, col: Entry, value: str) -> Entry:
    """The value entry of `col` = `value` (created on demand)."""
    phrase, surface = _value_phrase(value)
    _add_value(lex, col, value, phrase or (value.lower(),), "value", surface)
    return lex.values[(col.table, col.column, value)]


# `AMER (North America), EMEA (Europe, Middle East & Africa)` and `'C' = completed, 'R' = returned`
_CODE_PAREN = re.compile(r"'?\b([A-Z][A-Z0-9_-]{0,11})\b'?\s*\(([^()]{2,60})\)")
_CODE_EQ = re.compile(r"'([^']{1,12})'\s*(?:=|:|means|for)\s*([A-Za-z][A-Za-z &/-]{1,40})")
_NUMBER_CODE = re.compile(r"(?<![\w.])(-?\d{1,3})\s*(?:=|:|means|for)\s*([A-Za-z][A-Za-z -]{1,30}?)(?=[,;).]|\s+(?:and|or)\b|$)")


def _add_described_values(lex: Lexicon, col: Entry, desc: str, ctx: GenerationContext) -> None:
    """Value aliases a column description declares for codes that really are values of the column."""
    if col.ctype == "number":  # "(1 for open, 0 for closed)": the codes of a flag or status number
        pairs = [(m.group(1), m.group(2)) for m in _NUMBER_CODE.finditer(desc)]
    else:
        pairs = [(m.group(1), m.group(2)) for m in _CODE_PAREN.finditer(desc)]
        pairs += [(m.group(1), m.group(2)) for m in _CODE_EQ.finditer(desc)]
    if not pairs:
        return
    values = {v.lower(): v for v in ctx.values(col.table, col.column)}
    for code, meaning in pairs:
        v = values.get(code.lower())
        if v is None:
            continue
        for part in re.split(r",|;|\bor\b", meaning):
            phrase, surface = _value_phrase(part.strip(" .'\"e.g"))
            if phrase and not all(w in _STOP_NORMS for w in phrase):
                _add_value(lex, col, v, phrase, "value_alias", surface)
        _add_value(lex, col, v, *_value_phrase(v)[:1], "value")


# ISO 3166-1 alpha-2 codes and the names people use for them (world knowledge, like a model's).
COUNTRIES = {
    "AR": ["Argentina"], "AT": ["Austria"], "AU": ["Australia"], "BE": ["Belgium"], "BR": ["Brazil"],
    "CA": ["Canada"], "CH": ["Switzerland"], "CL": ["Chile"], "CN": ["China"], "CO": ["Colombia"],
    "CZ": ["Czechia", "Czech Republic"], "DE": ["Germany"], "DK": ["Denmark"], "EG": ["Egypt"], "ES": ["Spain"],
    "FI": ["Finland"], "FR": ["France"], "GB": ["United Kingdom", "UK", "Great Britain", "Britain"], "GR": ["Greece"],
    "HK": ["Hong Kong"], "HU": ["Hungary"], "ID": ["Indonesia"], "IE": ["Ireland"], "IL": ["Israel"], "IN": ["India"],
    "IT": ["Italy"], "JP": ["Japan"], "KE": ["Kenya"], "KR": ["South Korea", "Korea"], "MA": ["Morocco"],
    "MX": ["Mexico"], "MY": ["Malaysia"], "NG": ["Nigeria"], "NL": ["Netherlands", "Holland"], "NO": ["Norway"],
    "NZ": ["New Zealand"], "PE": ["Peru"], "PH": ["Philippines"], "PL": ["Poland"], "PT": ["Portugal"],
    "RO": ["Romania"], "SA": ["Saudi Arabia"], "SE": ["Sweden"], "SG": ["Singapore"], "TH": ["Thailand"],
    "TR": ["Turkey", "Turkiye"], "TW": ["Taiwan"], "AE": ["United Arab Emirates", "UAE"], "UA": ["Ukraine"],
    "US": ["United States", "USA", "United States of America"], "VN": ["Vietnam"], "ZA": ["South Africa"],
}
# What people of a country are called ("Canadian customers", "German stores").
DEMONYMS = {
    "AR": "Argentinian", "AT": "Austrian", "AU": "Australian", "BE": "Belgian", "BR": "Brazilian", "CA": "Canadian",
    "CH": "Swiss", "CL": "Chilean", "CN": "Chinese", "CO": "Colombian", "DE": "German", "DK": "Danish", "EG": "Egyptian",
    "ES": "Spanish", "FI": "Finnish", "FR": "French", "GB": "British", "GR": "Greek", "IE": "Irish", "IL": "Israeli",
    "IN": "Indian", "IT": "Italian", "JP": "Japanese", "KR": "Korean", "MX": "Mexican", "NL": "Dutch", "NO": "Norwegian",
    "NZ": "New Zealand", "PE": "Peruvian", "PH": "Filipino", "PL": "Polish", "PT": "Portuguese", "SE": "Swedish",
    "SG": "Singaporean", "TH": "Thai", "TR": "Turkish", "AE": "Emirati", "UA": "Ukrainian", "US": "American",
    "VN": "Vietnamese", "ZA": "South African",
}


def _is_country_code(name: str, desc: str) -> bool:
    """A column of country codes: its description says so (ISO 3166, country code) or its name does."""
    d = desc.lower()
    return "iso 3166" in d or "country code" in d or set(norms(name)) >= {norm("country"), norm("code")} or \
        set(norms(name)) >= {norm("country"), norm("cd")}


def _add_country_names(lex: Lexicon, col: Entry, ctx: GenerationContext) -> None:
    """Country names (and the codes themselves, in capitals) for the ISO codes the column holds."""
    for v in ctx.values(col.table, col.column):
        names = COUNTRIES.get(str(v).upper())
        if not names:
            continue
        for n in [*names, *([DEMONYMS[str(v).upper()]] if str(v).upper() in DEMONYMS else [])]:
            phrase, surface = _value_phrase(n)
            _add_value(lex, col, v, phrase, "country", surface)
        entry = lex.values[(col.table, col.column, v)]
        items = lex.phrases[(str(v).lower(),)]
        if not any(p.entry is entry for p in items):
            items.append(Phrase(entry, "value", acronym=True))


US_STATES = dict(zip(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA "
    "RI SC SD TN TX UT VT VA WA WV WI WY DC".split(),
    ["Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida", "Georgia",
     "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland",
     "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
     "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma",
     "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont",
     "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming", "District of Columbia"]))


def _add_state_names(lex: Lexicon, col: Entry, ctx: GenerationContext) -> None:
    """US state names for a `state` column that holds only two-letter postal codes ("California" -> 'CA')."""
    values = [str(v) for v in ctx.values(col.table, col.column)]
    if not values or not all(v in US_STATES for v in values):
        return
    for v in values:
        phrase, surface = _value_phrase(US_STATES[v])
        _add_value(lex, col, v, phrase, "state", surface)


def _add_snippet(lex: Lexicon, kind: str, i: int, sn) -> None:
    sql = text(sn.sql).strip()
    if not sql:
        return
    path = f"instructions.sql_snippets.{kind}[{i}]"
    name = sn.display_name or sn.alias or f"{kind[:-1]} {i}"
    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except sqlglot.errors.ParseError as e:
        lex.problems.append(f"{path}: SQL does not parse ({str(e).splitlines()[0]})")
        return
    tables = _qualify(lex, tree)
    if tables is None:
        lex.problems.append(f"{path}: a column of '{sql}' is in no table of the space (or in several)")
        return
    entry = Entry(kind[:-1], path, name, table=tables[0] if tables else None, sql=tree.sql("databricks"),
                  tables=tuple(tables), ctype="number" if kind == "measures" else "",
                  instruction=text(sn.instruction))
    lex.entries.append(entry)
    own = {w for t in tables for w in _table_words_of(t)}
    for n in [sn.display_name, sn.alias and sn.alias.replace("_", " "), *_as_list(sn.synonyms)]:
        if n:
            via = "synonym" if n not in (sn.display_name, sn.alias) else "display_name"
            phrase = norms(n)
            _add_phrase(lex, phrase, entry, via)
            # "cancelled orders" on the orders table is also "orders ... cancelled"
            if kind == "filters" and len(phrase) > 1 and phrase[-1] in own:
                _add_phrase(lex, phrase[:-1], entry, via)


def _qualify(lex: Lexicon, tree: exp.Expression) -> list[str] | None:
    """Rewrite column qualifiers to the engine's aliases; the tables read, or None if a column is unresolvable."""
    tables: list[str] = []
    for col in tree.find_all(exp.Column):
        qual = ".".join(p for p in (col.catalog, col.db, col.table) if p)
        ident = lex.resolve_table(qual) if qual else None
        if ident is None:
            owners = [t for t, cols in lex.columns.items() if any(c.column.lower() == col.name.lower() for c in cols)]
            if len(owners) != 1:
                return None
            ident = owners[0]
        col.set("table", exp.to_identifier(lex.aliases[ident]))
        col.set("db", None)
        col.set("catalog", None)
        if ident not in tables:
            tables.append(ident)
    return tables


def alias_join_columns(cond: exp.Expression, names: dict[str, str], aliases: dict[str, str]) -> None:
    """Point each column of a join condition at its table's alias (`names`: any spelling of a table
    -> its identifier; `aliases`: identifier -> alias), in place."""
    for col in cond.find_all(exp.Column):
        qual = ".".join(p for p in (col.catalog, col.db, col.table) if p).lower()
        owner = names.get(qual) or names.get(col.table.lower())
        if owner:
            col.set("table", exp.to_identifier(aliases[owner]))
            col.set("db", None)
            col.set("catalog", None)


def _add_joins(lex: Lexicon) -> None:
    for i, spec in enumerate(lex.space.serialized.joins):
        left, right = lex.resolve_table(spec.left.identifier), lex.resolve_table(spec.right.identifier)
        if not left or not right or left == right or not spec.condition:
            continue
        names = {}
        for side, ident in ((spec.left, left), (spec.right, right)):
            for n in (side.alias, side.identifier, side.identifier.split(".")[-1]):
                if n:
                    names[n.lower()] = ident
        try:
            cond = sqlglot.parse_one(spec.condition, read="databricks")
        except sqlglot.errors.ParseError:
            lex.problems.append(f"instructions.join_specs[{i}]: condition does not parse")
            continue
        alias_join_columns(cond, names, lex.aliases)
        rel = (spec.relationship or "").upper()
        m2o = True if rel == "MANY_TO_ONE" else False if rel == "ONE_TO_MANY" else None
        one = rel == "ONE_TO_ONE"
        if one:
            m2o = True
        if m2o is None:
            m2o = _direction_from_keys(lex, cond, left, right)
        keep = "left join" in (text(spec.comment) + text(spec.instruction)).lower()
        lex.edges.append(Edge(left, right, cond.sql("databricks"), m2o, f"instructions.join_specs[{i}]",
                              "LEFT" if keep else None, one_to_one=one))


def _direction_from_keys(lex: Lexicon, cond: exp.Expression, left: str, right: str) -> bool | None:
    eqs = list(cond.find_all(exp.EQ))
    if len(eqs) != 1 or not all(isinstance(s, exp.Column) for s in (eqs[0].this, eqs[0].expression)):
        return None
    a, b = eqs[0].this, eqs[0].expression
    la, ra = lex.aliases[left], lex.aliases[right]
    cols = {a.table: a.name, b.table: b.name}
    if la not in cols or ra not in cols:
        return None
    if lex.unique(right, cols[ra]):
        return True
    if lex.unique(left, cols[la]):
        return False
    return None


def _infer_joins(lex: Lexicon) -> None:
    """Key inference between tables no join spec connects: `a.x = b.x` (or `a.b_id = b.id`) where
    the `b` side is unique in the data. A column named for `b`'s key (`ord_id` for orders) links
    first; other shared unique columns (`city_name`) only link tables nothing links yet, so two
    tables that both reference a third (`order_items`, `returns` -> `orders`) are not joined to each other."""
    comp = {t: i for i, t in enumerate(lex.columns)}
    for e in lex.edges:
        _union(comp, e.left, e.right)
    found = []  # (tier, a, ca, b, cb, one_to_one): a.ca many-to-one b.cb
    tables = list(lex.columns)
    for i, a in enumerate(tables):
        for b in tables[i + 1:]:
            if comp[a] == comp[b] and any({e.left, e.right} == {a, b} for e in lex.edges):
                continue
            pairs = []
            for ca in lex.columns[a]:
                for cb in lex.columns[b]:
                    if ca.ctype != cb.ctype or ca.ctype in ("date", "bool"):
                        continue
                    same = ca.column.lower() == cb.column.lower() and (ca.is_key or cb.is_key or _is_ref_name(ca.column))
                    a_ref = cb.column.lower() == "id" and _names_table(ca.column, b)
                    b_ref = ca.column.lower() == "id" and _names_table(cb.column, a)
                    if not (same or a_ref or b_ref):
                        continue
                    ua, ub = lex.unique(a, ca.column), lex.unique(b, cb.column)
                    named = a_ref or b_ref
                    # the one side's column must identify its rows (its key or its name column), not merely
                    # happen to be unique in small data (city.state_name is not what a city is)
                    ua = ua and (ca.is_key or named or _key_of(lex, ca, a) or lex.label_column(a) is ca)
                    ub = ub and (cb.is_key or named or _key_of(lex, cb, b) or lex.label_column(b) is cb)
                    if ub and (not ua or _key_of(lex, cb, b) or not _key_of(lex, ca, a)):
                        pairs.append((a, ca, b, cb, ua, named))
                    elif ua:
                        pairs.append((b, cb, a, ca, ub, named))
            if len(pairs) == 1:
                x, cx, y, cy, one, named = pairs[0]
                found.append((0 if named or _key_of(lex, cy, y) else 1, x, cx, y, cy, one))
    for tier, x, cx, y, cy, one in sorted(found, key=lambda f: f[0]):
        if tier == 1 and comp[x] == comp[y] and not one:
            continue  # (a one-to-one link never repeats rows: it is kept, so no path has to fan out)
        _union(comp, x, y)
        lex.edges.append(Edge(x, y, f"{lex.sql_of(cx)} = {lex.sql_of(cy)}", True, f"inferred:{cx.label}={cy.label}",
                              one_to_one=one))


_KEY_WORDS = frozenset(norm(w) for w in ("id", "key", "code", "cd", "no", "number", "name", "nm"))


def _key_of(lex: Lexicon, col: Entry, table: str) -> bool:
    """Whether a column is named as its table's key: `id`, or `ord_id` in orders."""
    words = [expand(w, lex.names) for w in norms(col.column)]
    core = [w for w in words if w not in _KEY_WORDS]
    return col.column.lower() == "id" or (bool(core) and set(core) <= set(_table_words_of(table)) and len(core) < len(words)) \
        or _glued_key_of(col.column, table)


def _glued_key_of(column: str, table: str) -> bool:
    """`paperid` in `paper`, `pid` in `publication`: the table's name or initial glued to "id"."""
    n, t = column.lower(), table.split(".")[-1].lower()
    if not n.endswith("id") or len(n) < 3 or "_" in t:
        return False
    stem = n[:-2]
    return stem == t or norm(stem) == norm(t) or (len(stem) == 1 and t.startswith(stem))


def _union(comp: dict[str, int], a: str, b: str) -> None:
    old, new = comp[b], comp[a]
    for t, c in comp.items():
        if c == old:
            comp[t] = new


def _is_ref_name(name: str) -> bool:
    n = name.lower()
    return n.endswith(("_name", "_nm", "_code", "_cd"))


def _names_table(column: str, table: str) -> bool:
    """`restaurant_id` names the table `restaurant` (or `restaurants`)."""
    c = column.lower()
    t = table.split(".")[-1].lower()
    return c.endswith(("_id", "id")) and norm(c.removesuffix("_id").removesuffix("id").rstrip("_")) == norm(t)
