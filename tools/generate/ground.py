"""Parse a question into grounded spans: each phrase that names data matched to the space's
entries (whole words or phrases only, typo-tolerant), time expressions, numbers, and the operator
words that say how to compose them (ThoughtSpot-style keywords: top, by, per, share of, growth,
more than, vs ...).

A word is *data-naming* unless it is a stopword, an operator word, a time word, a number or one
of the few generic words in `FILLER` (verbs like "placed", "did"); every data-naming word must be
grounded or the question is refused with those words named (`Grounding.ungrounded`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import GRAIN_ADJ, GROWTH, MONTHS, UNITS, TimeSpec, find_time
from .lexicon import _STOP_NORMS, Entry, Lexicon, Phrase, norm
from .text import STOPWORDS

# Operator words, matched on lower-case surface words (longest first). (words) -> (cue, argument)
CUES: dict[tuple[str, ...], tuple[str, str | None]] = {}


def _cue(kind: str, *phrases: str, arg: str | None = None) -> None:
    for p in phrases:
        CUES[tuple(p.split())] = (kind, arg)


_cue("count", "how many", "number of", "no of", "count of", "count", "counts", "total number of", "tally of",
     "how often")
_cue("amount", "how much")
_cue("distinct", "unique", "distinct", "different")
_cue("agg", "total", "sum of", "sum", "in total", "combined", arg="SUM")
_cue("agg", "average", "avg", "mean", "typical", arg="AVG")
_cue("agg", "maximum", "max", arg="MAX")
_cue("agg", "minimum", "min", arg="MIN")
_cue("agg", "median", arg="MEDIAN")
_cue("rank", "top", "best", "highest", "most", "largest", "biggest", "greatest", "leading", "best selling",
     "best performing", "longest", "tallest", "oldest", "latest", "most popular", "rank", "top selling", "strongest", "busiest",
     "highest selling", "top performing", "highest performing", "highest rated", "top rated", "best rated", "fastest",
     arg="DESC")
_cue("rank", "bottom", "worst", "lowest", "least", "fewest", "smallest", "worst selling", "worst performing",
     "shortest", "least popular", "cheapest", "least expensive", "lowest selling", "least selling",
     "lowest performing", "weakest", "poorest", "quietest", "lowest rated", "worst rated", "slowest", arg="ASC")
_cue("rank", "most expensive", "priciest", arg="DESC")
_cue("rank", "most recently", "newest", "most recent", arg="DESC")  # by a date: "which store opened most recently"
_cue("rank", "earliest", "least recently", arg="ASC")
_cue("frequent", "common", "frequent", "frequently", "often", "popular")
_cue("group", "by", "per", "each", "for each", "every", "broken down by", "split by", "grouped by", "breakdown by",
     "across", "in each", "for every", "within each", "break down by", "split")
_cue("breakdown", "breakdown", "breakdowns", "compare", "comparison")
_cue("verb", "account for", "accounts for", "accounted for", "make up", "makes up", "made up")  # of a share
_cue("versus", "vs", "versus", "compared to", "compared with", "against")
_cue("share", "share of", "share", "percentage of", "percentage", "percent of", "percent", "proportion of",
     "proportion", "mix", "fraction of", "fraction", "contribution", "rate", "rates", "in percent", "as a percentage")
_cue("ratio", "ratio of", "ratio", "divided by")
_cue("growth", "growth", "grow", "grew", "grown", "grows", "growing", "change", "changed", "increase", "increased",
     "growth rate")
_cue("growth", "declining", "declined", "decline", "decrease", "decreased", "decreasing", "drop", "dropped",
     "fell", "shrank", "shrink", "shrinking", arg="down")  # "stores with declining revenue": growth below zero
_cue("cumulative", "cumulative", "cumulatively", "running total", "running total of", "running sum", "cumulated")
_cue("cmp", "more than", "greater than", "over", "above", "exceeding", "exceeds", "higher than", "bigger than",
     "larger than", "in excess of", "beat", "beats", "exceed", "exceeded", "outperform", "outperformed",
     "outperforms", "surpass", "surpassed", "surpasses", "longer than", "taller than", arg=">")
_cue("cmp", "at least", "no less than", "or more", arg=">=")
_cue("cmp", "less than", "fewer than", "under", "below", "lower than", "smaller than", "shorter than", arg="<")
_cue("cmp", "at most", "no more than", "or less", "or fewer", arg="<=")
_cue("cmp", "exactly", "equal to", arg="=")
_cue("order", "ordered by", "order by", "sorted by", "sort by", "ranked by", "in order of", "order the results by",
     "sort the results by", "order results by", "sort results by", "order them by", "sort them by", arg=None)
_cue("order", "in descending order", "descending order", arg="DESC")
_cue("order", "in ascending order", "ascending order", arg="ASC")
_HIGH = ("highest", "largest", "most", "biggest", "longest", "tallest", "best", "greatest", "newest", "latest", "deepest")
_LOW = ("lowest", "smallest", "least", "fewest", "shortest", "worst", "oldest", "earliest", "shallowest")
# "from most to fewest", "largest to smallest": the first word says the direction
_cue("order", "ascending", "lowest first", "smallest first", "alphabetical", "alphabetically", "in alphabetical order",
     "chronologically", "in chronological order",
     *[f"{f}{a} to {b}" for f in ("from ", "") for a in _LOW for b in _HIGH], arg="ASC")
_cue("order", "descending", "highest first", "largest first",
     *[f"{f}{a} to {b}" for f in ("from ", "") for a in _HIGH for b in _LOW], arg="DESC")
_cue("which", "which", "what", "who", "whose", "list", "show", "name the", "give me", "find", "display", "return the", "get the",
     "return all")
_cue("not", "not", "no", "excluding", "exclude", "except", "without", "other than", "apart from", "non", "outside")
_cue("pattern", "starts with", "starting with", "start with", "begins with", "beginning with", "ends with",
     "ending with", "end with", "contains", "containing", "contain", "like", "matching", "includes the word")
_cue("all", "including", "include", "incl", "own group", "their own group", "its own group", "as a group",
     "separate group", "own category", "own bucket", "as well", "too")
_cue("and", "and", "or", "&", "plus")
CUE_MAX = max(len(k) for k in CUES)
_NOUN_BEFORE = frozenset({"per", "each", "every", "an", "a", "the", "of", "by", "one", "each", "any", "this", "that",
                          # "biggest order by revenue": a rank word before the noun "order"
                          "biggest", "largest", "smallest", "highest", "lowest", "single", "top", "latest", "first",
                          "last", "average", "typical", "mean", "median", "max", "min", "maximum", "minimum"})

# Words that name no data: generic verbs, pronouns and question padding. A word here is never
# required to ground; it can still ground when it names something ("date" in "order date").
FILLER = frozenset("""
please thanks thank our we us i me you your my mine whats what's wanna want need needs like look looking
did do does done doing have has had having get gets got getting saw was were is are be been being am
there here tell see know let lets let's show give find display list name names
break broken down split compare compared comparison terms respectively overall value values
figure figures number numbers info information detail details data dataset table tables record records row rows
currently current ever lifetime all any so far to date ie eg etc i.e e.g via also just only really exactly roughly about
approximately around place placed placing process processed processing buy buys bought purchase purchased
purchases use used using uses apply applied come comes came coming go went happen happened perform performed performance
contribute contributed contributing belong belongs based located sit sits stand stands ranked ranking
live lives living reside resides residing
result results time period periods many much can could would should will shall may might new
serve serves served serving offer offers offered offering database ordered sorted arranged
meter meters metre metres kilometer kilometers kilometre kilometres km mile miles feet foot ft square sq
dollar dollars usd eur euro euros drive drives driving drove trend trends trending develop developed evolve evolved
granted given gave away named called titled recorded logged because due written wrote posted created occurred occur occurs issued
vary varies varied differ differs differed corresponding correspond either he she his her answer integer
carry carries carried carrying run runs ran running provide provides provided write collected flow flows flowing
book booked look something anything everything anyone someone somebody anybody stuff things thing gear
one ones them those these that this they their it its ones but single
""".split())
# Verbs that mean "sell": they name the space's sales measure when nothing else in the question is measured.
SALES_VERBS = frozenset("sell sells sold selling make makes made earn earns earned generate generates generated "
                        "bring brought move moved moves moving shift shifted shifting take took do did worth pay pays paid".split())
SALES_WORDS = ("sales", "revenue", "sale")
# Nouns that mean sales in business English; they name the space's one sales measure, if it has one.
SALES_NOUNS = frozenset({"takings", "proceeds"})
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "fifty": 50, "hundred": 100,
                 "single": 1}
# "the second longest river": a place in a ranking
ORDINALS = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_EXTREME_WORDS = frozenset({"max", "maximum", "biggest", "largest", "highest", "most", "min", "minimum", "smallest",
                            "lowest", "top", "best", "worst"})
_SCALE_WORDS = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_TIME_WORDS = (set(MONTHS) | set(UNITS) | set(GRAIN_ADJ) | set(GROWTH) |
               {"fiscal", "calendar", "ytd", "quarter", "half", "recent", "latest", "previous", "prior", "past",
                "last", "this", "since", "until", "before", "after", "between", "from", "through", "full", "whole",
                "complete", "first", "second", "third", "fourth", "far"})


@dataclass
class Token:
    i: int
    raw: str  # lower-case surface word ("%" becomes "percent")
    start: int  # character offsets in the question
    end: int
    kind: str = "word"  # word | number | punct
    value: float | None = None
    money: bool = False
    fixed_from: str | None = None  # the typo this token corrects
    acronym: bool = False  # written in capitals ("US", "SMB"): never a stopword

    @property
    def norm(self) -> str:
        return norm(self.raw)

    @property
    def plural(self) -> bool:
        """Written as a plural noun ("stores", "customers"; the typo it corrects counts)."""
        raw = self.fixed_from or self.raw
        return raw.endswith("s") and norm(raw) != raw


_TOKEN = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})|(?P<num>\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?(?:k|m|bn|million|thousand)\b)?%?)"
                    r"|(?P<word>[a-z][a-z0-9]*(?:'[a-z]+)?)|(?P<punct>[,;:()?!%&#$/]|>=|<=|[<>]=?|(?<=\s)[-–—](?=\s))")
_SYMBOLS = {">": ("greater", "than"), ">=": ("at", "least"), "<": ("less", "than"), "<=": ("at", "most")}
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9}


_TIMES = {"once": 1, "twice": 2, "thrice": 3}


_HOW_TO_MATCH = re.compile(r"\bmatch(?:ing)?\s+(?:the\s+)?(?:strings?|names?|values?|text)\s+exactly\b")


def tokenize(question: str) -> list[Token]:
    """Lower-case tokens with character spans; numbers parsed ("$5,000", "10k"), "aren't" -> are not.

    >>> [(t.raw, t.value) for t in tokenize("Customers who spent over $10k aren't many")]
    [('customers', None), ('who', None), ('spent', None), ('over', None), ('10k', 10000.0), ('are', None), ('not', None), ('many', None)]
    """
    q = question.lower().replace("’", "'").replace("‘", "'")
    # "... Match strings exactly": how to compare names (the engine compares them exactly), no data
    q = _HOW_TO_MATCH.sub(lambda m: " " * len(m.group(0)), q)
    q = re.sub(r"\b(i\.e\.|e\.g\.|etc\.|vs\.)", lambda m: " " * len(m.group(0)) if m.group(0) != "vs." else "vs ", q)
    out: list[Token] = []
    for m in _TOKEN.finditer(q):
        s, e = m.span()
        if m.group("date"):
            out.append(Token(len(out), m.group(0), s, e))
        elif m.group("num"):
            raw = m.group("num")
            money = raw.startswith("$") or (out and out[-1].raw == "$")
            body = raw.lstrip("$").rstrip("%")
            scale = 1.0
            sm = re.search(r"\s?(k|m|bn|million|thousand)$", body)
            if sm:
                scale, body = _SCALE[sm.group(1)], body[: sm.start()]
            try:
                value = float(body.replace(",", "")) * scale
            except ValueError:
                continue
            if out and out[-1].raw == "$":
                out.pop()
            out.append(Token(len(out), raw.lstrip("$").strip(), s, e, "number", value, bool(money)))
            if raw.endswith("%"):
                out.append(Token(len(out), "percent", e - 1, e))
        elif m.group("word"):
            w = m.group("word")
            if w.endswith("n't"):
                base = {"won": "will", "can": "can", "ain": "is"}.get(w[:-3], w[:-3])
                out.append(Token(len(out), base, s, e - 3))
                out.append(Token(len(out), "not", e - 3, e))
                continue
            if "'" in w:
                w = w.split("'")[0]
            out.append(Token(len(out), w, s, e))
        else:
            p = m.group("punct")
            if p in _SYMBOLS:  # "rating > 4.5": the words the symbol stands for
                for w in _SYMBOLS[p]:
                    out.append(Token(len(out), w, s, e))
            elif p == "%":
                out.append(Token(len(out), "percent", s, e))
            elif p == "&":
                out.append(Token(len(out), "and", s, e))
            elif p == "#":
                out.append(Token(len(out), "number", s, e))
                if not (len(q) > e and q[e:].lstrip().startswith("of")):
                    out.append(Token(len(out), "of", s, e))
            else:
                out.append(Token(len(out), p, s, e, "punct"))
    for t in out:
        surface = question[t.start:t.end]
        if t.kind == "word" and len(surface) >= 2 and surface.isupper() and surface.isalpha():
            t.acronym = True
        if t.kind == "word" and t.raw in _NUMBER_WORDS and not (
                t.raw == "single" and any(x.raw in _EXTREME_WORDS for x in out[:t.i])):
            t.kind, t.value = "number", float(_NUMBER_WORDS[t.raw])  # not "the max single order value": one order
    short: list[Token] = []
    for t in out:  # "w/" is "with", "w/o" is "without"
        if t.raw == "/" and short and short[-1].raw == "w" and question[short[-1].end:t.start] == "":
            short[-1].raw, short[-1].end = "with", t.end
            continue
        if t.raw == "o" and short and short[-1].raw == "with" and question[short[-1].end - 1:short[-1].end] == "/" \
                and short[-1].end == t.start:
            short[-1].raw, short[-1].end = "without", t.end
            continue
        short.append(t)
    out = short
    merged: list[Token] = []
    for t in out:  # "a hundred thousand", "two million": a number times the scale words after it
        prev = merged[-1] if merged else None
        if prev is not None and prev.kind == "number" and prev.value is not None and t.raw in _SCALE_WORDS \
                and not prev.money and question[prev.end:t.start].strip() == "":
            prev.value, prev.end = prev.value * _SCALE_WORDS[t.raw], t.end
            continue
        if t.kind == "word" and t.raw in _SCALE_WORDS and prev is not None and prev.raw == "a":
            t.kind, t.value = "number", float(_SCALE_WORDS[t.raw])  # "more than a million"
        merged.append(t)
    out = merged
    for k, t in enumerate(out):  # "...? Return state name and density": an instruction, not the returns
        if t.raw == "return" and k > 0 and out[k - 1].kind == "punct" and out[k - 1].raw in (".", "?", "!", ";", ":"):
            t.raw = "show"
    for k, t in enumerate(out):  # "more than once", "at least twice": a number of times
        if t.kind == "word" and t.raw in _TIMES and k > 0 and out[k - 1].raw in ("than", "least", "most", "over", "under"):
            t.kind, t.value = "number", float(_TIMES[t.raw])
    for k, t in enumerate(out):
        t.i = k
    return out


# ---------------------------------------------------------------------- typo correction
def _damerau1(a: str, b: str) -> bool:
    """Whether a and b are one insertion, deletion, substitution or adjacent transposition apart."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [k for k in range(la) if a[k] != b[k]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    k = 0
    while k < len(a) and a[k] == b[k]:
        k += 1
    return a[k:] == b[k + 1:]


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (edits and adjacent transpositions)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _substitution(a: str, b: str) -> bool:
    """`a` and `b` differ in exactly one letter at the same place: in a four-letter word that is
    mostly another English word ("beat", "best"), not a typo."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


class Speller:
    """Corrects a word to the one vocabulary word it is a typo of (same first letter, one edit;
    two for words of 9+ letters), or leaves it alone when none or several fit."""

    def __init__(self, vocabulary: set[str]):
        self.vocabulary = {w for w in vocabulary if len(w) >= 3 and not w.isdigit()}
        self._by_first: dict[str, list[str]] = {}
        for w in self.vocabulary:
            self._by_first.setdefault(w[0], []).append(w)

    def correct(self, word: str) -> str | None:
        if len(word) < 4 or word in self.vocabulary or not word[0].isalpha():
            return None
        far = len(word) >= 9
        hits = [v for v in self._by_first.get(word[0], ()) if abs(len(v) - len(word)) <= (2 if far else 1)
                and (_damerau1(word, v) or (far and _distance(word, v) <= 2))
                and not (len(word) == 4 and _substitution(word, v))]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            ones = [v for v in hits if _damerau1(word, v)]
            return ones[0] if len(ones) == 1 else None
        return None


# English words one or two letters from a cue word, never its typo ("difference" is not "different", "charge"
# is not "change")
_NOT_TYPOS = frozenset({"difference", "differences", "differently", "charge", "charges", "charged", "main", "mark", "marks",
                        "match", "matches", "matching", "took", "gross", "loading", "meant", "mind", "mine", "none",
                        "noun", "promotion", "promotions", "shape", "step", "steps", "tool", "while", "desc"})
# Operator and time words a typo may stand for (never filler: a typo must not hide a data word).
SURFACE_SPELLER_WORDS = frozenset(({k[0] for k in CUES if len(k) == 1} | _TIME_WORDS) - STOPWORDS - FILLER)
_SURFACE = None
_CUE_WORDS = frozenset(w for k in CUES for w in k)


def surface_speller() -> Speller:
    global _SURFACE
    if _SURFACE is None:
        _SURFACE = Speller(set(SURFACE_SPELLER_WORDS))
    return _SURFACE


# ---------------------------------------------------------------------- spans
@dataclass
class Span:
    """A grounded part of the question."""

    start: int  # token positions [start, end)
    end: int
    text: str
    kind: str  # entity | time | number | cue
    phrases: list[Phrase] = field(default_factory=list)  # entity: candidates
    cue: str | None = None
    arg: str | None = None
    time: TimeSpec | None = None
    value: float | None = None
    money: bool = False
    fuzzy: bool = False  # matched through a typo correction
    # set by the planner
    role: str | None = None
    chosen: Entry | None = None
    rejected: list[tuple[Entry, str]] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        return [p.entry for p in self.phrases]

    def of(self, *kinds: str) -> list[Entry]:
        return [p.entry for p in self.phrases if p.entry.kind in kinds]


@dataclass
class Grounding:
    question: str
    tokens: list[Token]
    spans: list[Span]
    ungrounded: list[Token]  # data-naming words nothing matched
    soft: list[Token]  # sales verbs ("sell", "make")
    corrections: dict[str, str] = field(default_factory=dict)

    def any_value(self, s: Span) -> bool:
        """"customers who have a loyalty tier", "with any promotion": any value of what `s` names, not one."""
        before = [t.raw for t in self.tokens[max(0, s.start - 2):s.start]]
        return len(before) == 2 and before[0] in ("have", "has", "with", "had") and before[1] in ("a", "an", "any")

    def words(self, a: int, b: int) -> str:
        return " ".join(t.raw for t in self.tokens[a:b])

    def surface(self, a: int, b: int) -> str:
        if a >= b:
            return ""
        return self.question[self.tokens[a].start: self.tokens[b - 1].end]

    def before(self, span: Span, skip: frozenset[str] = frozenset()) -> Span | None:
        """The span just before `span`, skipping stopwords, filler and `skip` words between them."""
        return self.before_token(span.start, skip)

    def before_token(self, k: int, skip: frozenset[str] = frozenset()) -> Span | None:
        """The span just before token `k`, a word no span holds ("between", "with"; see `before`)."""
        return self._neighbour(k - 1, -1, skip)

    def after(self, span: Span, skip: frozenset[str] = frozenset()) -> Span | None:
        """The span just after `span` (see `before`)."""
        return self._neighbour(span.end, 1, skip)

    def _neighbour(self, k: int, step: int, skip: frozenset[str]) -> Span | None:
        while 0 <= k < len(self.tokens):
            s = self.span_at(k)
            if s is not None:
                return s
            t = self.tokens[k]
            if t.kind == "punct" or not (t.raw in STOPWORDS or t.raw in FILLER or t.raw in skip):
                return None
            k += step
        return None

    def span_at(self, k: int) -> Span | None:
        for s in self.spans:
            if s.start <= k < s.end:
                return s
        return None


def _completes_phrase(lex: Lexicon, tokens: list[Token], k: int, word: str) -> bool:
    """Whether `word` in place of token k forms a two-word phrase of the lexicon with a neighbour."""
    before = tokens[k - 1].norm if k > 0 and tokens[k - 1].kind == "word" else None
    after = tokens[k + 1].norm if k + 1 < len(tokens) and tokens[k + 1].kind == "word" else None
    return (before is not None and (before, word) in lex.phrases) or (after is not None and (word, after) in lex.phrases)


def _join_hyphenated(lex: Lexicon, question: str, tokens: list[Token]) -> list[Token]:
    """"check-ins" is the table `checkin`: two words joined by a hyphen are one when only the joined word
    names something ("in-store", a value's own two words, stays two)."""
    out: list[Token] = []
    for t in tokens:
        prev = out[-1] if out else None
        if (prev is not None and t.kind == "word" and prev.kind == "word" and prev.end + 1 == t.start
                and question[prev.end] == "-" and (norm(prev.raw + t.raw),) in lex.phrases
                and (prev.norm, t.norm) not in lex.phrases):
            out[-1] = Token(prev.i, prev.raw + t.raw, prev.start, t.end)
            continue
        out.append(t)
    for k, t in enumerate(out):
        t.i = k
    return out


_SPLIT_COMPARATIVE = re.compile(r"\b(larger|bigger|higher|greater|smaller|lower|longer|shorter|taller|more|less|fewer)"
                                r"\s+((?:[A-Za-z]+\s+){0,2}?[A-Za-z]+)\s+than\b"
                                r"(?!\s+(?:the\s+|an?\s+|our\s+)?(?:average|overall|mean|typical|company|total|median|\$|\d))", re.I)


def _comparative_next_to_than(question: str) -> str:
    """"cities with a larger population than Houston" reads as "a population larger than Houston": the
    comparative moves beside "than", after the noun it compares."""
    def move(m: re.Match) -> str:
        if m.group(2).lower() in ("or", "and", "the", "a", "an"):
            return m.group(0)
        return f"{m.group(2)} {m.group(1)} than"
    return _SPLIT_COMPARATIVE.sub(move, question)


def ground(lex: Lexicon, speller: Speller, question: str) -> Grounding:
    question = _comparative_next_to_than(question)
    tokens = _times_as_rows(lex, _join_hyphenated(lex, question, tokenize(question)))
    corrections: dict[str, str] = {}
    known = _CUE_WORDS | _TIME_WORDS | FILLER | SALES_VERBS | _NOT_TYPOS
    for k, t in enumerate(tokens):
        if t.kind != "word" or t.raw in STOPWORDS or t.raw in known:
            continue
        if t.norm in lex.vocabulary:
            # a known word ("loyalty", also a value) still reads as a skeleton column word when it
            # completes that column's phrase with its neighbour ("loyalty tier" -> `lylty_tier`)
            v = lex.abbreviated(t.norm)
            if v and _completes_phrase(lex, tokens, k, v):
                corrections[t.raw] = v
                t.fixed_from, t.raw = t.raw, v
            continue
        on_surface = surface_speller().correct(t.raw)
        in_data = speller.correct(t.norm)
        if on_surface and in_data and norm(on_surface) == in_data:
            in_data = None  # the same word either way: keep its surface form ("average")
        if on_surface is None and in_data is None and len(t.raw) >= 4:  # "slaes": a swap the stem hides ("sla")
            swaps = {t.raw[:i] + t.raw[i + 1] + t.raw[i] + t.raw[i + 2:] for i in range(1, len(t.raw) - 1)}
            fits = {norm(w) for w in swaps if norm(w) in lex.vocabulary}
            in_data = fits.pop() if len(fits) == 1 else None
        if on_surface is None and in_data is None:
            in_data = lex.abbreviated(t.norm)  # "format" for the column `fmt`
        if (on_surface is None) == (in_data is None):
            continue  # no typo, or it could be either
        fixed = on_surface or in_data
        corrections[t.raw] = fixed
        t.fixed_from, t.raw = t.raw, fixed
    words = [t.raw for t in tokens]
    spans: list[Span] = []
    taken = [False] * len(tokens)

    def take(s: Span) -> bool:
        if any(taken[s.start:s.end]):
            return False
        for k in range(s.start, s.end):
            taken[k] = True
        spans.append(s)
        return True

    matches = _filter_before_noun(lex, _values_not_swallowed(match_phrases(lex, tokens), tokens), tokens)
    for s in _quoted_values(lex, question, tokens, matches) + _named_values(lex, question, tokens, matches):
        take(s)
    times = find_time(words)
    # a data value that contains a period ("Winter Clearance 2025") is the value, not the period
    for a, b, phrases, fuzzy in sorted(matches, key=lambda m: m[0] - m[1]):
        if b - a >= 2 and any(a <= ts.span[0] and ts.span[1] <= b for ts in times):
            take(Span(a, b, " ".join(words[a:b]), "entity", phrases=phrases, fuzzy=fuzzy))
    # then dates and periods claim their words
    for ts in times:
        take(Span(ts.span[0], ts.span[1], " ".join(words[ts.span[0]:ts.span[1]]), "time", time=ts))
    # then the longest phrases, data and operator words competing on length
    cands: list[tuple[int, int, int, Span]] = []  # (-length, priority, start, span)
    for a, b, phrases, fuzzy in matches:
        weak = all(p.via == "value_prefix" for p in phrases)  # "change" is an operator before 'Changed mind'
        # a one-word value of free data ("Average" as a review's text) never takes an operator word
        weak = weak or (b - a == 1 and all(p.entry.kind == "value" for p in phrases) and (words[a],) in CUES
                        and CUES[(words[a],)][0] in ("agg", "rank", "share", "growth", "count", "frequent"))
        turned = tuple(t.norm for t in tokens[a:b]) in lex.turned  # "density of states" competes as "density"
        cands.append((-(1 if turned else b - a), 3 if weak else 1 if fuzzy else 0, a,
                      Span(a, b, " ".join(words[a:b]), "entity", phrases=phrases, fuzzy=fuzzy)))
    for a in range(len(tokens)):
        for n in range(min(CUE_MAX, len(tokens) - a), 0, -1):
            key = tuple(words[a:a + n])
            if key in CUES:
                kind, arg = CUES[key]
                if kind == "order" and key[0] in ("order", "sort") and a > 0 and words[a - 1] in _NOUN_BEFORE:
                    continue  # "units per order by channel": the noun "order", then "by"
                if key == ("no",) and (a + 1 >= len(tokens) or tokens[a + 1].kind != "word"):
                    continue  # "no. of days": the abbreviation of number
                # a single operator word loses to a data phrase of the same length ("total" naming a column)
                cands.append((-n, 2 if n == 1 else 0, a, Span(a, a + n, " ".join(key), "cue", cue=kind, arg=arg)))
                break
    for t in tokens:
        if t.kind == "number":
            cands.append((-1, -1, t.i, Span(t.i, t.i + 1, t.raw, "number", value=t.value, money=t.money)))
    for _, _, _, s in sorted(cands, key=lambda c: (c[0], c[1], c[2])):
        take(s)
    _common_columns(lex, tokens, spans, taken)
    _from_descriptions(lex, tokens, spans, taken)
    _sales_nouns(lex, tokens, spans, taken)
    _common_nouns(lex, tokens, spans, taken)
    spans.sort(key=lambda s: s.start)
    _absorb_modifiers(lex, tokens, spans, taken)
    ungrounded, soft = [], []
    for t in tokens:
        if taken[t.i] or t.kind == "punct":
            continue
        if t.raw in ("do", "did") and t.i + 1 < len(tokens) and tokens[t.i + 1].raw == "not":
            continue  # "organizations that do not have any authors": an auxiliary, not "what did we do in sales"
        if t.raw == "base" and any(s.end == t.i and s.kind == "entity" and any(e.kind == "table" for e in s.entries)
                                   for s in spans):
            continue  # "our customer base": the customers
        if t.raw in _JOINED and _next_names_filter(tokens, spans, t.i):
            continue  # "enrolled in the loyalty program": being among the rows a filter names
        if t.raw in SALES_VERBS and not t.acronym:
            soft.append(t)
        elif not t.acronym and (t.raw in STOPWORDS or t.raw in FILLER or t.raw in _TIME_WORDS):
            continue
        else:
            ungrounded.append(t)
    return Grounding(question, tokens, spans, ungrounded, soft, corrections)


_QUOTED = re.compile(r'"([^"]{1,80})"|“([^”]{1,80})”|(?:(?<=\s)|^)\'([^\']{2,80})\'(?=[\s?.,!;:)]|$)')
_BEFORE_QUOTE = frozenset({"named", "called", "titled", "the", "a", "an", "with", "name", "title", "of", "is", "as"})


def _quoted_values(lex: Lexicon, question: str, tokens: list[Token], matches) -> list[Span]:
    """A value the question quotes after naming its column or table (the keyphrase "Machine Learning",
    a journal named "Nature"): a filter on that column (a table's name column) when exactly one of its
    values is the quoted text ignoring case, spelled as the data spells it. Nothing is added to the lexicon."""
    out = []
    for m in _QUOTED.finditer(question):
        literal = next(g for g in m.groups() if g is not None).strip()
        inside = [t for t in tokens if t.start >= m.start() and t.end <= m.end()]
        if not literal or not inside:
            continue
        k = inside[0].i - 1
        while k >= 0 and tokens[k].raw in _BEFORE_QUOTE:
            k -= 1
        col = _named_column(lex, [ph for a, b, phrases, _ in matches if b == k + 1 for ph in phrases])
        span = _data_value(lex, col, literal, inside, "quoted") if col is not None else None
        if span is not None:  # else not a value of the column (perhaps part of one: "with 'IEEE' in its name")
            out.append(span)
    return out


def _named_values(lex: Lexicon, question: str, tokens: list[Token], matches) -> list[Span]:
    """A value written in capitals right after its column's or table's name and "of", "named" or "called"
    (the city of New York, the department of Mathematics, a user named Sarah Williams): a filter on that
    column (a table's name column) when exactly one of its values is those words ignoring case, also where
    the column has no value dictionary, as a model reading the question would write it. The longest such
    run of words wins. Nothing is added to the lexicon."""
    out = []
    for a, b, phrases, _ in matches:
        if b >= len(tokens) or tokens[b].raw not in ("of", "named", "called"):
            continue
        col = _named_column(lex, phrases)
        if col is None:
            continue
        run = []
        for t in tokens[b + 1:b + 6]:
            if t.kind != "word" or not question[t.start:t.end][:1].isupper() or t.raw in _TIME_WORDS:
                break  # "the month of April 2021": a period, read as one
            run.append(t)
        for n in range(len(run), 0, -1):
            span = _data_value(lex, col, question[run[0].start:run[n - 1].end], run[:n], "named")
            if span is not None:
                out.append(span)
                break
    return out


def _named_column(lex: Lexicon, phrases: list[Phrase]) -> Entry | None:
    """The one text column the phrases name (a table names its name column), else None."""
    cols = []
    for ph in phrases:
        e = ph.entry
        if e.kind == "table":
            label = lex.label_column(e.table)
            if label is not None:
                cols.append(label)
        elif e.kind == "column" and e.ctype == "text":
            cols.append(e)
    cols = list({c.path: c for c in cols}.values())
    return cols[0] if len(cols) == 1 else None


def _data_value(lex: Lexicon, col: Entry, literal: str, toks: list[Token], via: str) -> Span | None:
    """A span over `toks` naming the value of `col` that `literal` spells ignoring case, when exactly one
    value of the column does (the value as the data spells it)."""
    values = lex.values_of(col.table, col.column) if lex.values_of else []
    same = [v for v in values if str(v).lower() == literal.lower()]
    if len(same) != 1:
        return None
    value = str(same[0])
    entry = Entry("value", col.path, f"{col.label} = '{value}'", table=col.table, column=col.column,
                  ctype=col.ctype, value=value)
    return Span(toks[0].i, toks[-1].i + 1, " ".join(t.raw for t in toks), "entity", phrases=[Phrase(entry, via)])


def sales_measure(lex: Lexicon) -> Entry | None:
    """The one measure the space calls sales or revenue (a name or synonym containing the word)."""
    words = {norm(w) for w in SALES_WORDS}
    named = {id(p.entry): p.entry for key, items in lex.phrases.items() if set(key) & words
             for p in items if p.entry.kind == "measure"}
    return next(iter(named.values())) if len(named) == 1 else None


def _sales_nouns(lex: Lexicon, tokens: list[Token], spans: list[Span], taken: list[bool]) -> None:
    """"takings" names the space's sales measure when it has exactly one."""
    for t in tokens:
        if not taken[t.i] and t.raw in SALES_NOUNS:
            m = sales_measure(lex)
            if m is not None:
                taken[t.i] = True
                spans.append(Span(t.i, t.i + 1, t.raw, "entity", phrases=[Phrase(m, "business synonym")]))


# Everyday names of the rows business tables hold, and the name a schema usually gives them. A word
# here grounds only when nothing in the space names it and the usual name names exactly one table.
# A noun that also says what the rows did ("buyers": customers who bought) is not here.
COMMON_NOUNS = {
    "client": ("customer",), "shopper": ("customer",), "patron": ("customer",),  # not "buyer": it also says they bought
    "shop": ("store",), "storefront": ("store",), "branch": ("store",),
    "article": ("product", "publication"), "merchandise": ("product",), "good": ("product",),
    "territory": ("region",),
    "paper": ("publication",), "researcher": ("author",), "institution": ("organization",),
    "university": ("organization",), "venue": ("conference",), "professor": ("instructor",),
    "teacher": ("instructor",), "class": ("course",), "reviewer": ("user",), "town": ("city",), "peak": ("mountain",),
}


# Everyday words for a numeric column and the name a schema usually gives it ("people" -> population); like
# COMMON_NOUNS, only where nothing in the space names the word.
COMMON_COLUMN_NOUNS = {norm(k): v for k, v in {"people": "population", "inhabitants": "population",
                                                 "residents": "population"}.items()}


def _common_columns(lex: Lexicon, tokens: list[Token], spans: list[Span], taken: list[bool]) -> None:
    """"states with fewer than 100,000 people": the population columns (the question's table picks one)."""
    for t in tokens:
        usual = COMMON_COLUMN_NOUNS.get(t.norm) if t.kind == "word" else None
        if usual is None or any(p.via != "description" for p in lex.phrases.get((t.norm,), ())) or (
                t.i + 1 < len(tokens) and tokens[t.i + 1].raw == "per"):
            continue  # a name or synonym says what the word means; "people per km²" is a density's unit
        cols = [p for p in lex.phrases.get((norm(usual),), ()) if p.entry.kind == "column" and p.entry.ctype == "number"]
        named = {p.entry.table for x in tokens for p in lex.phrases.get((x.norm,), ()) if p.entry.kind == "table"}
        cols = [p for p in cols if p.entry.table in named] or cols  # "states with ... people": the states' population
        if not cols:
            continue
        mine = [Phrase(p.entry, "common noun") for p in cols]
        held = next((s for s in spans if s.start == t.i and s.end == t.i + 1 and s.kind == "entity"), None)
        if held is not None:
            held.phrases = mine  # "people": the population, not the density a description says is "people per km²"
        elif not taken[t.i]:
            taken[t.i] = True
            spans.append(Span(t.i, t.i + 1, t.raw, "entity", phrases=mine))


def _common_nouns(lex: Lexicon, tokens: list[Token], spans: list[Span], taken: list[bool]) -> None:
    """"clients" names the customers table when the space has one and nothing called "client"."""
    for t in tokens:
        usual = COMMON_NOUNS.get(t.norm) if not taken[t.i] and t.kind == "word" else None
        k = t.i - 1 - (t.i > 1 and tokens[t.i - 1].kind == "number")
        if t.norm == "seller" and not taken[t.i] and k >= 0 and tokens[k].raw in ("best", "top", "worst", "bottom"):
            usual = ("product",)  # "best sellers", "top 10 sellers": the products that sell best
        if usual is None or (t.norm,) in lex.phrases:
            continue
        tables = {id(p.entry): p.entry for u in usual for p in lex.phrases.get((norm(u),), ()) if p.entry.kind == "table"}
        if len(tables) == 1:
            taken[t.i] = True
            spans.append(Span(t.i, t.i + 1, t.raw, "entity", phrases=[Phrase(next(iter(tables.values())), "common noun")]))


def _from_descriptions(lex: Lexicon, tokens: list[Token], spans: list[Span], taken: list[bool]) -> None:
    """A word no name matches may name the one numeric column whose description uses it
    ("turnover" -> amt, described as "Net turnover of the sale")."""
    for t in tokens:
        if taken[t.i] or t.kind != "word" or len(t.raw) < 4 or t.raw in STOPWORDS or t.raw in FILLER or \
                t.raw in SALES_VERBS or t.raw in _CUE_WORDS or t.raw in _TIME_WORDS:
            continue
        hits = lex.desc_words.get(t.norm, [])
        cols = [e for e in hits if e.kind == "column" and e.ctype == "number" and not e.is_key]
        if len(hits) == 1 and len(cols) == 1:
            taken[t.i] = True
            spans.append(Span(t.i, t.i + 1, t.raw, "entity", phrases=[Phrase(cols[0], "description")]))


def _absorb_modifiers(lex: Lexicon, tokens: list[Token], spans: list[Span], taken: list[bool]) -> None:
    """A word next to an entity span that belongs to another name of the same entry joins the span
    ("net" in "net spend" when the measure is also called "Net revenue")."""
    names: dict[int, set[str]] = {}
    for key, items in lex.phrases.items():
        for p in items:
            names.setdefault(id(p.entry), set()).update(key)
    for s in spans:
        if s.kind != "entity":
            continue
        words = set().union(*(names.get(id(e), set()) for e in s.entries)) - _STOP_NORMS
        for k in (s.start - 1, s.end):
            if 0 <= k < len(tokens) and not taken[k] and tokens[k].kind == "word" and tokens[k].norm in words:
                taken[k] = True
                s.start, s.end = min(s.start, k), max(s.end, k + 1)
                s.text = " ".join(t.raw for t in tokens[s.start:s.end])
        # a flag's other name words after "to": "opted in to marketing emails" (email_opt_in, "marketing opt-in")
        k = s.end
        if any(p.via == "flag" for p in s.phrases) and k + 1 < len(tokens) and tokens[k].raw == "to":
            j = k + 1
            while j < len(tokens) and not taken[j] and tokens[j].kind == "word" and tokens[j].norm in words:
                j += 1
            if j > k + 1:
                for i in range(k, j):
                    taken[i] = True
                s.end = j
                s.text = " ".join(t.raw for t in tokens[s.start:s.end])


def _values_not_swallowed(matches, tokens: list[Token]):
    """"the area of Lake Superior": the value 'Lake Superior' keeps its first word, which the longer phrase
    "area of lake" (a column named with its table) would take, leaving "superior" ungrounded. A phrase that
    ends inside a value running on past it is dropped where its words before the value are a phrase too."""
    spans = {(a, b) for a, b, _, _ in matches}
    values = [(a, b) for a, b, phrases, _ in matches if all(p.entry.kind == "value" for p in phrases)]
    drop = set()
    for a, b, phrases, _ in matches:
        if any(p.entry.kind == "value" for p in phrases):
            continue
        for c, d in values:
            if a < c < b < d:
                k = c
                while k > a and tokens[k - 1].raw in ("of", "the", "in", "for"):
                    k -= 1
                if (a, k) in spans:
                    drop.add((a, b))
    return [m for m in matches if (m[0], m[1]) not in drop]


_JOINED = frozenset({"enrolled", "enroled", "joined", "registered", "subscribed", "signed"})


def _next_names_filter(tokens: list[Token], spans: list[Span], i: int) -> bool:
    """Whether the words after token `i` (past "in", "to", "up", "for", "the") open a span naming a filter."""
    k = i + 1
    while k < len(tokens) and tokens[k].raw in ("in", "into", "to", "up", "for", "the", "our", "a"):
        k += 1
    return any(s.start == k and s.kind == "entity" and any(e.kind == "filter" for e in s.entries) for s in spans)


def _filter_before_noun(lex: Lexicon, matches, tokens: list[Token]):
    """"which physical store sold the most": a filter named with its table's noun ("physical stores") keeps
    the noun for the rows it names; the filter takes the words before it, as "physical" alone would."""
    spans = {(a, b): phrases for a, b, phrases, _ in matches}
    out = []
    for a, b, phrases, fuzzy in matches:
        tables = {p.entry.tables for p in phrases}
        before = spans.get((a, b - 1))
        if before is not None and (any(p.entry.kind == "table" for p in before)
                                   or not {id(p.entry) for p in phrases} <= {id(p.entry) for p in before}):
            out.append((a, b, phrases, fuzzy))  # "returned orders": "returned" alone also names the returns table
            continue
        noun = lex.phrases.get((tokens[b - 1].norm,), ())
        if b - a >= 2 and all(p.entry.kind == "filter" for p in phrases) and len(tables) == 1 \
                and len(t := next(iter(tables))) == 1 and any(q.entry.kind == "table" and q.entry.table == t[0] for q in noun) \
                and all(q.entry.kind in ("table", "column") and q.entry.table == t[0] and q.entry.ctype != "number"
                        for q in noun):  # not "cancelled sales", where "sales" also names an amount
            if before is None:  # else "physical" alone already names the filter
                out.append((a, b - 1, phrases, fuzzy))
            continue
        out.append((a, b, phrases, fuzzy))
    return out


def _participle_for_noun(p: Phrase, toks: list[Token]) -> bool:
    """"courses offered by the department" is not the table course_offering: a past participle of the question
    matched a table name's "-ing" noun only through the stem."""
    if p.entry.kind != "table" or len(toks) < 2:
        return False
    name = p.entry.table.split(".")[-1].lower().replace("_", " ").split()
    return toks[-1].raw.endswith("ed") and bool(name) and name[-1].endswith("ing")


def _times_as_rows(lex: Lexicon, tokens: list[Token]) -> list[Token]:
    """"customers who ordered more than 5 times": "times" counts the rows of the table the verb names (orders)."""
    for k, t in enumerate(tokens):
        if t.raw != "times" or k == 0 or tokens[k - 1].kind != "number":
            continue
        for v in reversed(tokens[:k - 1]):
            stem = v.raw[:-2] if v.raw.endswith("ed") else None
            hits = [p for p in lex.phrases.get((norm(stem),), ()) if p.entry.kind == "table"] if stem else []
            if len({p.entry.table for p in hits}) == 1:
                t.fixed_from, t.raw = t.raw, stem + "s"
                break
    return tokens


def match_phrases(lex: Lexicon, tokens: list[Token]) -> list[tuple[int, int, list[Phrase], bool]]:
    """Every (start, end, phrases, fuzzy) where whole question words spell a phrase of the lexicon."""
    out = []
    n = len(tokens)
    norms_ = [t.norm if t.kind != "punct" else None for t in tokens]
    for a in range(n):
        if norms_[a] is None:
            continue
        for b in range(min(n, a + lex.max_phrase), a, -1):
            key = tuple(norms_[a:b])
            if None in key:
                continue
            hits = [p for p in lex.phrases.get(key, ()) if (not p.surface or tuple(t.raw for t in tokens[a:b]) == p.surface)
                    and (not p.acronym or all(t.acronym for t in tokens[a:b])) and not _participle_for_noun(p, tokens[a:b])]
            if hits:
                out.append((a, b, hits, any(t.fixed_from for t in tokens[a:b])))
        # "turn over" -> turnover, "sign up" -> signup
        if a + 1 < n and norms_[a + 1] is not None and tokens[a].kind == tokens[a + 1].kind == "word":
            joined = (norm(tokens[a].norm + tokens[a + 1].raw),)
            if joined not in lex.phrases:
                joined = (norm(tokens[a].raw + tokens[a + 1].raw),)
            if joined in lex.phrases and joined != (norms_[a],):  # "active vs" is not "activvs" stemmed to "activ"
                out.append((a, a + 2, list(lex.phrases[joined]), False))
    return out


def phrase_finder(lex: Lexicon):
    """`match(words)` over plain word lists (instructions), for the rule reader."""
    def match(ws: list[str]) -> list[tuple[int, int, list[Entry]]]:
        toks = [Token(i, w, 0, 0) for i, w in enumerate(ws)]
        found = sorted(match_phrases(lex, toks), key=lambda m: (-(m[1] - m[0]), m[0]))
        taken = [False] * len(ws)
        out = []
        for a, b, phrases, _ in found:
            if any(taken[a:b]):
                continue
            for k in range(a, b):
                taken[k] = True
            out.append((a, b, [p.entry for p in phrases]))
        return out
    return match
