"""Which metadata lever a failing question's ungrounded words ask for.

The offline engine's grounding trace (`Failure.details["trace"]`) names the words of a question
that matched nothing in the space. The gold SQL names the parts of the answer: measures (the
aggregates it returns), columns (what it groups or filters by), conditions (filters the question
does not spell as a value) and values. Across failures, a word that keeps appearing with one
part, and rarely without it, names that part (a Dice association, like word alignment in
machine translation): "turnover", "sales" and "takings" -> the net revenue measure, "channel" ->
`orders.sales_chnl`, "cancelled" -> `orders.stat_cd = 'X'`. A word right after a group cue ("by
channel", "each department") names a column. Consecutive ungrounded words form one phrase
("net sales", "loyalty tier").
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ...generate.text import STOPWORDS, stem, words
from ..model import Failure

Col = tuple[str, str]  # (table identifier, column)
GROUP_CUES = frozenset({"by", "per", "each", "across", "every"})
_RANKS = frozenset({"top", "bottom", "best", "worst", "most", "least", "biggest", "highest", "lowest", "largest",
                    "smallest", "rank", "ranked"})
_NOTHING_NAMED = re.compile(r"nothing named ((?:'[^']+'(?:, )?)+)")


@dataclass(frozen=True)
class Item:
    """A part of a gold answer a word can name."""

    kind: str  # measure | column | filter
    key: str  # identity: normalized SQL, or table.column
    sql: str = field(default="", compare=False)  # measure / filter SQL over table names
    col: Col | None = field(default=None, compare=False)  # column items; a filter's column
    alias: str = field(default="", compare=False)  # the gold's alias for a measure


@dataclass
class Unit:
    """An ungrounded word or phrase of one question."""

    key: str  # stemmed words joined by spaces
    surface: str
    after_cue: bool  # right after by/per/each: names a column
    run: int = 0  # which run of consecutive ungrounded words of its question it belongs to


def ungrounded(failure: Failure) -> list[str]:
    """The words of the question the engine could not ground (from the trace or its summary)."""
    details = failure.details or {}
    trace = details.get("trace") or {}
    if trace.get("ungrounded") is not None:
        return [w for x in trace["ungrounded"] for w in words(x)]
    for line in details.get("grounding") or []:
        m = _NOTHING_NAMED.search(line)
        if m:
            return [w for x in re.findall(r"'([^']+)'", m.group(1)) for w in words(x)]
    return []


def grounded_columns(failure: Failure) -> set[Col]:
    """Columns the engine already grounded some word of the question to (their names need no synonym)."""
    out = set()
    for span in ((failure.details or {}).get("trace") or {}).get("spans", []):
        m = re.search(r"tables\[([^\]]+)\]\.column_configs\[([^\]]+)\]", span.get("entry") or "")
        if m:
            out.add((m.group(1).lower(), m.group(2).lower()))
    return out


def spoken_columns(failure: Failure, columns: list[Col]) -> set[Col]:
    """Of `columns`, those whose name the question spells out in a span the engine recognized
    ("email opt-in" for `email_opt_in`), even where a refusal stopped it before choosing an entry."""
    spans = [" ".join(words(s.get("text") or "")) for s in ((failure.details or {}).get("trace") or {}).get("spans", [])]
    return {c for c in columns if any(" ".join(words(c[1])) in f" {s} " or " ".join(words(c[1])) == s for s in spans)}


def units(question: str, missing: list[str], skip: set[str]) -> list[Unit]:
    """Runs of consecutive ungrounded words, each one phrase ("loyalty members" names a condition;
    "loyalty" alone would also catch "loyalty tier")."""
    toks = words(question.replace("&", " and "))
    miss = {w.lower() for w in missing} - skip
    out: list[Unit] = []
    i = 0
    while i < len(toks):
        if toks[i] not in miss or toks[i] in STOPWORDS or toks[i].isdigit():
            i += 1
            continue
        j = i
        while j + 1 < len(toks) and toks[j + 1] in miss and toks[j + 1] not in STOPWORDS:
            j += 1
        # "by channel" names a column; "top 5 products by net sales" ranks by a measure
        cue = i > 0 and toks[i - 1] in GROUP_CUES and not _RANKS & set(toks[: i - 1])
        run = toks[i: j + 1]
        out.append(Unit(" ".join(stem(w) for w in run), " ".join(run), cue, i))
        i = j + 1
    return out


def associate(records: list[tuple[list[Unit], list[Item], set[Item]]], *,
              min_precision: float = 0.5) -> dict[str, tuple[Item, int, str]]:
    """unit key -> (the item it names, failures supporting it, its surface form).

    `records` are, per failure, its ungrounded units, the items of its gold and the items something
    else in the question already names (a column whose value it names). Units are decided strongest
    first (after a group cue, then the most frequent); a unit names the item it co-occurs with in
    the largest share of the failures that say it, not counting failures where a word outside its
    own phrase already named that item (so "holiday" in "holiday month sales" does not become a name
    of revenue once "sales" is). The share must reach `min_precision`; a unit said in one failure
    only must point to one item more clearly than to any other.
    """
    c_unit: Counter[str] = Counter()
    c_item: Counter[Item] = Counter()
    cue: dict[str, int] = defaultdict(int)
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    where: dict[str, list[tuple[int, int]]] = defaultdict(list)  # unit key -> (record, run)
    for r, (us, items, _) in enumerate(records):
        if not us:
            continue
        c_item.update(set(items))
        for u in us:
            surface[u.key][u.surface] += 1
            if (r, u.run) not in where[u.key]:
                if not any(rr == r for rr, _ in where[u.key]):
                    c_unit[u.key] += 1
                    cue[u.key] += u.after_cue
                where[u.key].append((r, u.run))
    claimed: list[dict[Item, set[int]]] = [{i: {-1} for i in pre} for _, _, pre in records]
    out: dict[str, tuple[Item, int, str]] = {}
    for k in sorted(c_unit, key=lambda k: (cue[k] * 2 < c_unit[k], -c_unit[k], k)):
        n = c_unit[k]
        free: Counter[Item] = Counter()  # failures where no other word named the item
        unclaimed: Counter[Item] = Counter()  # ... and nothing else in the question did either
        total: Counter[Item] = Counter()
        seen: set[tuple[int, Item]] = set()
        for r, run in where[k]:
            for i in set(records[r][1]):
                if (r, i) in seen:
                    continue
                seen.add((r, i))
                total[i] += 1
                others = claimed[r].get(i, set()) - {run}
                free[i] += not (others - {-1})
                unclaimed[i] += not others
        cands = list(total)
        if not cands:
            continue
        col_pref = cue[k] * 2 >= n
        rank = {i: (free[i], unclaimed[i], total[i], col_pref == (i.kind == "column")) for i in cands}
        item = max(cands, key=lambda i: (rank[i], 2 * total[i] / (n + c_item[i]), i.key))
        if free[item] / n < min_precision:
            continue
        if free[item] < 2 and sum(r == rank[item] for r in rank.values()) > 1:
            continue  # said once, and as likely to name another part: no evidence which
        out[k] = (item, free[item], surface[k].most_common(1)[0][0])
        for r, run in where[k]:
            if item in records[r][1]:
                claimed[r].setdefault(item, set()).add(run)
    return out


def near_duplicate(a: str, b: str) -> bool:
    """Whether `a` is a one-edit typo of `b` (the engine corrects those itself)."""
    if a == b or abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 4:
        return False
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                                          and a[diff[1]] == b[diff[0]])
    s, t = (a, b) if len(a) < len(b) else (b, a)
    return any(t[:k] + t[k + 1:] == s for k in range(len(t)))


__all__ = ["GROUP_CUES", "Item", "Unit", "associate", "grounded_columns", "near_duplicate", "spoken_columns", "ungrounded",
           "units"]
