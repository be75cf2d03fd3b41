"""Slot values found in a question: numbers, periods (years, quarters, months, dates) and entity values."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from .text import STOPWORDS, words

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
}
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS.pop("may", None)  # "may" is too often a verb; handled explicitly when followed by a year
_ORDINAL_Q = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}

_YEAR = r"(19\d\d|20\d\d|21\d\d)"
_MONTH_NAMES = "|".join(sorted([*MONTHS, "may"], key=len, reverse=True))


@dataclass(frozen=True)
class Number:
    value: int | float
    start: int
    end: int
    text: str

    @property
    def is_year(self) -> bool:
        return isinstance(self.value, int) and 1900 <= self.value <= 2199 and len(self.text) == 4


@dataclass(frozen=True)
class Period:
    """A calendar period named in a question; `end` is exclusive."""

    start: dt.date
    end: dt.date
    grain: str  # year | fiscal_year | quarter | month | day
    span: tuple[int, int]
    text: str

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)


def numbers(question: str) -> list[Number]:
    """Numbers in the question (digits or small number words), in order.

    >>> [n.value for n in numbers("top seven stores with over 1,200.5 units in 2024")]
    [7, 1200.5, 2024]
    """
    found = []
    for m in re.finditer(r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w-])", question):
        raw = m.group(0)
        value = float(raw.replace(",", "")) if m.group(2) else int(raw.replace(",", ""))
        found.append(Number(value, m.start(), m.end(), raw))
    for m in re.finditer(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", question, re.I):
        found.append(Number(NUMBER_WORDS[m.group(1).lower()], m.start(), m.end(), m.group(0)))
    return sorted(found, key=lambda n: n.start)


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return dt.date(d.year + y, m + 1, 1)


def periods(question: str) -> list[Period]:
    """Calendar periods named in the question, most specific first for overlapping text.

    >>> [(p.grain, str(p.start), str(p.end)) for p in periods("sales in Q3 2024")]
    [('quarter', '2024-07-01', '2024-10-01')]
    >>> [(p.grain, str(p.start)) for p in periods("orders in March 2024 vs 2023")]
    [('month', '2024-03-01'), ('year', '2023-01-01')]
    """
    found: list[Period] = []
    taken: list[tuple[int, int]] = []

    def add(p: Period) -> None:
        if not any(p.span[0] < e and s < p.span[1] for s, e in taken):
            found.append(p)
            taken.append(p.span)

    q = question
    for m in re.finditer(r"\b(\d{4})-(\d{2})-(\d{2})\b", q):
        try:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        add(Period(d, d + dt.timedelta(days=1), "day", m.span(), m.group(0)))
    for m in re.finditer(r"\b(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th) quarter)(?: of)?[ ,]*(?:fy)?'?" + _YEAR + r"\b", q, re.I):
        quarter = int(m.group(1)) if m.group(1) else _ORDINAL_Q[m.group(2).lower()]
        start = dt.date(int(m.group(3)), 3 * quarter - 2, 1)
        add(Period(start, _add_months(start, 3), "quarter", m.span(), m.group(0)))
    for m in re.finditer(r"\b" + _YEAR + r"[ -]?q([1-4])\b", q, re.I):
        start = dt.date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        add(Period(start, _add_months(start, 3), "quarter", m.span(), m.group(0)))
    for m in re.finditer(r"\b(" + _MONTH_NAMES + r")\.?(?: of)?[ ,]*" + _YEAR + r"\b", q, re.I):
        name = m.group(1).lower()
        start = dt.date(int(m.group(2)), 5 if name == "may" else MONTHS[name], 1)
        add(Period(start, _add_months(start, 1), "month", m.span(), m.group(0)))
    # Fiscal years: the calendar is the space's business (instructions); keep the number, mark the grain.
    for m in re.finditer(r"\b(?:fy\s?'?|fiscal(?: year)?\s+)" + _YEAR + r"\b", q, re.I):
        start = dt.date(int(m.group(1)), 1, 1)
        add(Period(start, dt.date(start.year + 1, 1, 1), "fiscal_year", m.span(), m.group(0)))
    for m in re.finditer(r"(?<![\w-])" + _YEAR + r"(?![\w-])", q):
        start = dt.date(int(m.group(1)), 1, 1)
        add(Period(start, dt.date(start.year + 1, 1, 1), "year", m.span(), m.group(0)))
    return sorted(found, key=lambda p: p.span[0])


@dataclass(frozen=True)
class ValueMatch:
    key: Hashable  # what the value belongs to, e.g. (table identifier, column)
    value: str  # the value as stored in the data
    span: tuple[int, int]  # word positions in the question
    text: str


def _value_words(value: str) -> tuple[str, ...]:
    # "Home & Kitchen" and "home and kitchen" are the same value
    return tuple(w for w in words(value.replace("&", " and ")))


class ValueIndex:
    """Exact (case- and punctuation-insensitive) lookup of data values inside a question.

    >>> idx = ValueIndex({("t", "region"): ["West", "East"], ("t", "city"): ["New York"]})
    >>> [(m.key[1], m.value) for m in idx.find("Sales in new york and the West?")]
    [('city', 'New York'), ('region', 'West')]
    """

    MAX_WORDS = 6

    def __init__(self, columns: dict[Hashable, Iterable[str]]):
        self._index: dict[tuple[str, ...], list[tuple[Hashable, str]]] = {}
        for key, values in columns.items():
            for value in values:
                w = _value_words(str(value))
                if not w or len(w) > self.MAX_WORDS:
                    continue
                # Values that are only stopwords or numbers would match everywhere.
                if all(x in STOPWORDS or x.isdigit() for x in w) or (len(w) == 1 and len(w[0]) < 2):
                    continue
                entries = self._index.setdefault(w, [])
                if (key, str(value)) not in entries:
                    entries.append((key, str(value)))
        # "beauty" -> "Beauty & Personal Care": a leading word (or two) naming exactly one value
        prefixes: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        for w in self._index:
            for n in range(1, len(w)):
                if w[n - 1] in STOPWORDS or len(w[0]) < 4:
                    continue
                prefixes.setdefault(w[:n], set()).add(w)
        self._prefix = {p: next(iter(full)) for p, full in prefixes.items() if len(full) == 1 and p not in self._index}
        self._singular: dict[tuple[str, ...], tuple[str, ...]] = {}
        for w in self._index:
            if w[-1].endswith("s") and len(w[-1]) > 3:
                continue
            self._singular.setdefault((*w[:-1], w[-1] + "s"), w)

    def __len__(self) -> int:
        return len(self._index)

    def find(self, question: str) -> list[ValueMatch]:
        """Longest non-overlapping value mentions, in question order; each lists every owner column."""
        toks = words(question.replace("&", " and "))
        out: list[ValueMatch] = []
        i = 0
        while i < len(toks):
            hit = None
            for n in range(min(self.MAX_WORDS, len(toks) - i), 0, -1):
                w = tuple(toks[i : i + n])
                w = w if w in self._index else self._singular.get(w, w)  # "Laptops" -> "Laptop"
                w = w if w in self._index else self._prefix.get(w, w)
                if w in self._index:
                    hit = (n, w)
                    break
            if hit:
                n, w = hit
                for key, value in self._index[w]:
                    out.append(ValueMatch(key, value, (i, i + n), " ".join(toks[i : i + n])))
                i += n
            else:
                i += 1
        return out
