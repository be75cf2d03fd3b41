"""Question families, leakage between splits and family-grouped splits.

A *family* is the same query up to wording and values ("revenue in 2023" and "how much did we
sell in 2024?"). A held-out score means something only when no family spans train and test:
otherwise it measures how well the space remembers a sibling, not whether it generalizes.

A case names its family (`family:`) or one is inferred:

- its gold SQL normalized with sqlglot (literals become placeholders; column aliases, table
  aliases, identifier case and formatting made canonical): cases whose golds normalize alike are
  one family, and one with a named family lends them its name;
- its question: near-identical questions (after numbers and quoted values are removed) are one
  family too, which is how expected refusals (no gold) and paraphrases with differently written
  golds are grouped.

Inferred ids (`sql:<hash>`, `q:<hash>`) depend only on the case's own content, so they are stable
as other questions come and go (unless a new question bridges two families).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from pydantic import BaseModel, Field


class EvalCase(Protocol):
    """What this module reads of an eval case (`evalset.EvalCase` has it; evalset imports this module)."""

    id: str
    question: str
    gold_sql: list[str]
    family: str | None
    category: str | None
    split: str | None
    tags: list[str]

SPLITS = ("train", "val", "test")
SAME_QUESTION = 0.9  # word-set similarity above which two questions are one family
NEAR_DUPLICATE = 0.75  # ... above which two questions in different splits are reported as leakage
_DATE_PARTS = {"year", "quarter", "month", "week", "day", "hour", "minute", "yyyy", "mm", "dd"}
_STOP = {"the", "a", "an", "of", "for", "in", "on", "by", "to", "and", "or", "is", "are", "was", "were", "what", "which",
         "how", "me", "show", "give", "list", "tell", "our", "we", "did", "do", "does", "please", "with", "per", "each"}


# ---------------------------------------------------------------- normalization
@functools.lru_cache(maxsize=16_384)  # pure, and parsing dominates: family inference runs on every split and leakage check
def normalize_sql(sql: str, dialect: str | None = None) -> str | None:
    """A canonical form of a query's shape, or None when it does not parse.

    >>> normalize_sql("SELECT SUM(x) AS total FROM t o WHERE o.y = 2023") == normalize_sql("select sum(X) from T where y=2024")
    True
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect or "databricks")
    except Exception:  # noqa: BLE001 - an unparsable gold simply has no SQL family
        return None
    if tree is None:
        return None
    tables = list(tree.find_all(exp.Table))
    aliases = {t.alias_or_name.lower(): t.name.lower() for t in tables}
    single = len({t.name.lower() for t in tables}) == 1  # one table: qualifiers say nothing
    for col in list(tree.find_all(exp.Column)):
        table = "" if single else aliases.get(col.table.lower(), col.table.lower())
        col.set("table", exp.to_identifier(table) if table else None)
        col.set("this", exp.to_identifier(col.name.lower()))
    for t in tables:
        t.set("alias", None)

    def canon(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal):
            # a date part ('month' in DATE_TRUNC) is the query's shape, not a value
            return node if node.is_string and node.this.lower() in _DATE_PARTS else exp.Placeholder()
        if isinstance(node, exp.Alias):
            return node.this
        if isinstance(node, exp.Table):
            return exp.table_(node.name.lower())
        return node

    try:
        out = tree.transform(canon, copy=True)
        return out.sql(dialect="duckdb", normalize=True, comments=False)
    except Exception:  # noqa: BLE001
        return None


def question_words(question: str) -> frozenset[str]:
    """The words of a question that carry its shape: numbers, quoted values and filler removed."""
    q = re.sub(r"'[^']*'|\"[^\"]*\"", " ", question.lower())
    q = re.sub(r"\d+(?:[.,]\d+)?%?", " ", q)
    return frozenset(w for w in re.findall(r"[a-z][a-z0-9&_-]*", q) if w not in _STOP)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two word sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def similar_pairs(sets: Sequence[frozenset[str]], threshold: float) -> list[tuple[int, int, float]]:
    """Every index pair (i < j, in order) whose `similarity` is at least `threshold`, with it.

    The same pairs as comparing all of them, without doing so: two sets that similar must share a
    word among the rarest few of each (prefix filtering, Bayardo et al., "Scaling up all pairs
    similarity search", WWW 2007), so only sets sharing such a word are compared. What was
    quadratic in the number of questions grows about linearly for real traffic.

    >>> similar_pairs([frozenset("ab"), frozenset("xy"), frozenset("ab"), frozenset()], 0.9)
    [(0, 2, 1.0)]
    """
    if threshold <= 0:
        return [(i, j, similarity(sets[i], sets[j])) for i in range(len(sets)) for j in range(i + 1, len(sets))]
    freq = Counter(w for s in sets for w in s)
    index: dict[str, list[int]] = defaultdict(list)  # word -> earlier sets with it among their rarest words
    empty: list[int] = []
    out: list[tuple[int, int, float]] = []
    for i, s in enumerate(sets):
        if not s:
            empty.append(i)  # two empty sets are alike (1.0); an empty set is like nothing else
            continue
        overlap = max(1, math.ceil(threshold * len(s) - 1e-9))  # words a similar set must share with s
        seen: set[int] = set()
        for w in sorted(s, key=lambda w: (freq[w], w))[:len(s) - overlap + 1]:
            seen.update(index[w])
            index[w].append(i)
        out += [(j, i, sim) for j in seen if (sim := similarity(sets[j], s)) >= threshold]
    out += [(a, b, 1.0) for k, a in enumerate(empty) for b in empty[k + 1:]]
    return sorted(out)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# ---------------------------------------------------------------- inference
class _Union:
    def __init__(self, items: Iterable[str]):
        self.parent = {i: i for i in items}

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def case_dialect(case: EvalCase) -> str | None:
    return next((t.split(":", 1)[1] for t in case.tags if t.startswith("dialect:")), None)


def infer_families(cases: Sequence[EvalCase]) -> dict[str, str]:
    """Case id -> family: the named family, else one inferred from normalized gold SQL and the question."""
    union = _Union(c.id for c in cases)
    by_sql: dict[str, str] = {}
    by_named: dict[str, str] = {}
    own: dict[str, str] = {}
    for c in cases:
        keys = [k for k in (normalize_sql(g, case_dialect(c)) for g in c.gold_sql) if k]
        own[c.id] = f"sql:{_digest(keys[0])}" if keys else f"q:{_digest(' '.join(sorted(question_words(c.question))))}"
        for k in keys:
            if k in by_sql:
                union.join(c.id, by_sql[k])
            else:
                by_sql[k] = c.id
        if c.family:
            if c.family in by_named:
                union.join(c.id, by_named[c.family])
            else:
                by_named[c.family] = c.id
    ids = [c.id for c in cases]
    for i, j, _ in similar_pairs([question_words(c.question) for c in cases], SAME_QUESTION):
        union.join(ids[i], ids[j])
    groups: dict[str, list[EvalCase]] = defaultdict(list)
    for c in cases:
        groups[union.find(c.id)].append(c)
    out: dict[str, str] = {}
    for members in groups.values():
        named = sorted({c.family for c in members if c.family})
        name = named[0] if named else min(own[c.id] for c in members)
        for c in members:
            # a named family keeps its name even where it joins another: two names never merge silently
            out[c.id] = c.family or name
    return out


# ---------------------------------------------------------------- leakage
class FamilySpread(BaseModel):
    family: str
    splits: dict[str, list[str]] = Field(description="split -> case ids")


class NearDuplicate(BaseModel):
    a: str
    b: str
    split_a: str
    split_b: str
    similarity: float


class Leakage(BaseModel):
    """What ties held-out questions to train questions."""

    families: int = 0
    families_across_splits: list[FamilySpread] = Field(default_factory=list)
    near_duplicates: list[NearDuplicate] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.families_across_splits) + len(self.near_duplicates)

    def counts(self) -> dict[str, int]:
        """Aggregates only (what may be shown without naming held-out questions)."""
        return {"families": self.families, "families_across_splits": len(self.families_across_splits),
                "near_duplicates_across_splits": len(self.near_duplicates)}


def leakage(cases: Sequence[EvalCase], families: dict[str, str] | None = None) -> Leakage:
    """Families whose members sit in more than one split, and near-duplicate questions across splits."""
    families = families or infer_families(cases)
    members: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for c in cases:
        if c.split:
            members[families[c.id]][c.split].append(c.id)
    spread = [FamilySpread(family=f, splits={s: ids for s, ids in sorted(by.items())})
              for f, by in sorted(members.items()) if len(by) > 1]
    dups = []
    placed = [c for c in cases if c.split]
    for i, j, sim in similar_pairs([question_words(c.question) for c in placed], NEAR_DUPLICATE):
        a, b = placed[i], placed[j]
        if a.split != b.split and families[a.id] != families[b.id]:
            dups.append(NearDuplicate(a=a.id, b=b.id, split_a=a.split, split_b=b.split, similarity=round(sim, 3)))
    return Leakage(families=len(set(families.values())), families_across_splits=spread, near_duplicates=dups)


# ---------------------------------------------------------------- grouped splits
def unit(seed: int | str, key: str) -> float:
    """A uniform number in [0, 1) from (seed, key) alone, so it never depends on other questions."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Moved(BaseModel):
    case_id: str
    family: str
    was: str
    now: str


def grouped_splits(cases: Sequence[EvalCase], *, seed: int | str = 0, ratios: Sequence[float] = (0.6, 0.2, 0.2),
                   families: dict[str, str] | None = None) -> tuple[dict[str, str], list[Moved]]:
    """Case id -> split, keeping every family in one split, stratified by category.

    Families whose members already agree keep their split; a family that leaked (members in
    several splits) moves wholly to the split most of its members are in (the fewest moves; a tie
    goes to the held-out side, so nothing that was held out becomes train), and every move is
    reported. Families without a split are dealt per category in a seeded order, each to the
    split furthest below its share of the category's questions; a category of three or more
    families gets at least one in val and one in test.
    """
    families = families or infer_families(cases)
    by_family: dict[str, list[EvalCase]] = defaultdict(list)
    for c in cases:
        by_family[families[c.id]].append(c)
    chosen: dict[str, str] = {}
    moved: list[Moved] = []
    free: dict[str, list[str]] = defaultdict(list)  # category -> families without a split
    have: dict[str, Counter] = defaultdict(Counter)  # category -> questions per split already placed
    size = {f: len(m) for f, m in by_family.items()}
    category = {f: Counter(c.category or "" for c in m).most_common(1)[0][0] for f, m in by_family.items()}
    for fam, members in by_family.items():
        fixed = Counter(c.split for c in members if c.split)
        if not fixed:
            free[category[fam]].append(fam)
            continue
        top = max(fixed.values())
        split = max((s for s in SPLITS if fixed[s] == top), key=SPLITS.index)  # ties: the most held-out split
        for c in members:
            if c.split and c.split != split:
                moved.append(Moved(case_id=c.id, family=fam, was=c.split, now=split))
            chosen[c.id] = split
        have[category[fam]][split] += len(members)
    for cat, fams in free.items():
        fams.sort(key=lambda f: unit(seed, f))
        total = sum(size[f] for f in fams) + sum(have[cat].values())
        placed = Counter(have[cat])
        n_families = len(fams) + len({families[c] for c in chosen if category[families[c]] == cat})
        for i, fam in enumerate(fams):
            left = len(fams) - i
            need = [s for s in ("val", "test") if ratios[SPLITS.index(s)] > 0 and not placed[s]]
            if n_families >= 3 and need and left <= len(need):
                split = need[0]  # the last families of a category fill an empty held-out split
            else:
                split = max(SPLITS, key=lambda s: (ratios[SPLITS.index(s)] * total - placed[s], -SPLITS.index(s)))
            placed[split] += size[fam]
            for c in by_family[fam]:
                chosen[c.id] = split
    return chosen, moved


__all__ = ["FamilySpread", "Leakage", "Moved", "NearDuplicate", "grouped_splits", "infer_families", "leakage", "normalize_sql",
           "question_words", "similar_pairs", "similarity", "unit"]
