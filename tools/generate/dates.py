"""Time in a question: explicit periods, ranges, grains, relative periods anchored to the data,
fiscal periods, month-of-year and period comparisons.

`find_time(tokens)` reads the question's tokens and returns `TimeSpec`s with the token positions
they cover; nothing here knows the date column or the data. `Calendar` turns a spec into a
half-open date range once the planner knows the anchor (the latest date in the data of the date
column it filters) and the fiscal calendar (declared in instructions or an expression snippet).

Understood shapes (case-insensitive; `<y>` is a four-digit year, FY years also `FY24`):
- periods: `<y>`, `Q3 <y>` / `<y> Q3` / `third quarter of <y>`, `March <y>`, `H1 <y>` / `first half
  of <y>`, `2024-03-15`, `FY<y>` / `fiscal <y>` / `fiscal year <y>`;
- to date: `YTD <y>`, `<y> YTD`, `<y> to date`, `so far in <y>`, `<y> so far`;
- relative (anchored to the data, so "today" is the day after its latest date): `last|previous|
  this|current year|quarter|month|week`, `the last N months`, `latest|most recent (full) month|
  quarter|year (we have data for)`, `last full calendar year (in the data)`;
- ranges: `between A and B`, `from A to B` (a range unless the question asks for growth), `since A`,
  `after A`, `before A`, `until|through A`;
- grains: `monthly`, `by|per|each|every month`, `month by month`, same for week, quarter, year, day;
  `fiscal quarter|year` as a grain;
- month of year without a year: `December`, `Dec`;
- comparisons: `YoY`, `year over year`, `MoM`, `month-over-month`, `QoQ`, `A vs B` of two periods.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS["sept"] = 9
# Month names alone mean a month of every year; "may" and "mar" are too often other words.
_FULL_MONTHS = {m.lower() for m in calendar.month_name if m} - {"may"}
_MONTH_ABBR = {"jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "last": 4}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20}
UNITS = {"year": "year", "years": "year", "yr": "year", "quarter": "quarter", "quarters": "quarter", "qtr": "quarter",
         "month": "month", "months": "month", "week": "week", "weeks": "week", "day": "day", "days": "day"}
GRAIN_ADJ = {"yearly": "year", "annual": "year", "annually": "year", "quarterly": "quarter", "monthly": "month",
             "weekly": "week", "daily": "day"}
GROWTH = {"yoy": "year", "mom": "month", "qoq": "quarter", "wow": "week"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class TimeSpec:
    """One time expression of a question.

    kind: period | relative | grain | month_of_year | range_from | range_to | compare
    """

    kind: str
    span: tuple[int, int]  # token positions [start, end)
    text: str
    start: dt.date | None = None  # period: first day
    end: dt.date | None = None  # period: day after the last
    grain: str | None = None  # year | quarter | month | week | day | half
    fiscal: bool = False  # a fiscal year/quarter: resolved through the calendar
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None
    to_date: bool = False  # clipped to the anchor (YTD)
    offset: int = 0  # relative: 0 this, -1 last/previous; latest: 0 with `latest`
    count: int = 1  # relative: how many periods ("last 3 months")
    latest: bool = False  # "the most recent quarter we have data for"
    full: bool = False  # "last full month": complete periods only
    month: int | None = None  # month_of_year
    weekday: str | None = None  # weekday: "Monday" (or "Saturday,Sunday" for a weekend)
    bound: str | None = None  # range ends: since/after/before/until/between/from
    parts: list[TimeSpec] = field(default_factory=list)  # compare: the two periods


# rank words that, right before a period word, rank the periods ("the best month", "our strongest quarter")
_PERIOD_RANKS = frozenset({"best", "worst", "busiest", "quietest", "slowest", "strongest", "weakest", "biggest",
                           "highest", "lowest", "peak", "record"})
_LIST_JOINS = ("vs", "versus", "and", "or", ",")
# words naming one part of a year, each kind listed on its own ("Q2 vs Q1 2025", never "Q2 vs H1 2025")
_LISTED_PARTS = (lambda x: x in MONTHS, lambda x: bool(re.fullmatch(r"q[1-4]", x)), lambda x: bool(re.fullmatch(r"h[12]", x)))


def _listed_before_year(w, i: int, is_part) -> tuple[list[int], int | None]:
    """Parts of a year listed before the one that carries the year ("Jan vs Feb 2025"): the positions of all
    but the last part, and that year (None where no year follows)."""
    if not is_part(w(i)) or w(i + 1) not in _LIST_JOINS:
        return [], None
    chain, k = [i], i + 1
    while w(k) in _LIST_JOINS and is_part(w(k + 1)):
        chain.append(k + 1)
        k += 2
    return chain[:-1], _year(w(k + (w(k) == "of")))


def _part_of_year(word: str, year: int) -> tuple[dt.date, dt.date, str]:
    """(start, end, grain) of a month name, `q1`..`q4` or `h1`/`h2` in `year`."""
    if word in MONTHS:
        s = dt.date(year, MONTHS[word], 1)
        return s, add_months(s, 1), "month"
    n = int(word[1])
    if word[0] == "q":
        s = dt.date(year, 3 * n - 2, 1)
        return s, add_months(s, 3), "quarter"
    s = dt.date(year, 1 if n == 1 else 7, 1)
    return s, add_months(s, 6), "half"


def add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return dt.date(d.year + y, m + 1, 1)


_HAD = frozenset({"had", "has", "have", "saw", "brought", "generated", "recorded", "produced", "got", "received",
                  "delivered", "showed"})


def _ranks_periods(w, k: int) -> bool:
    """After "which month": "had the most orders", "of 2024 had the highest revenue", "were the most customers
    signed up" -- the periods are ranked by what follows."""
    if w(k) == "of" and _year(w(k + 1)):
        k += 2
    if w(k) in _HAD:
        return True
    return w(k) in ("was", "were", "is") and any(w(j) in ("most", "fewest", "least", "highest", "lowest") or w(j) in _PERIOD_RANKS
                                         for j in (k + 1, k + 2))


def period_start(d: dt.date, grain: str) -> dt.date:
    if grain == "year":
        return dt.date(d.year, 1, 1)
    if grain == "half":
        return dt.date(d.year, 1 if d.month <= 6 else 7, 1)
    if grain == "quarter":
        return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if grain == "month":
        return dt.date(d.year, d.month, 1)
    if grain == "week":
        return d - dt.timedelta(days=d.weekday())
    return d


def period_next(d: dt.date, grain: str, n: int = 1) -> dt.date:
    if grain == "year":
        return dt.date(d.year + n, d.month, d.day)
    if grain == "half":
        return add_months(d, 6 * n)
    if grain == "quarter":
        return add_months(d, 3 * n)
    if grain == "month":
        return add_months(d, n)
    if grain == "week":
        return d + dt.timedelta(days=7 * n)
    return d + dt.timedelta(days=n)


_COMPARED = frozenset({"than", "exceeding", "exceeds", "least", "most", "exactly"})


def _compared_number(w, i: int) -> bool:
    """The year-like word at `i` is a number compared with ("longer than 2000", "a population over 2000"), not a
    year; "2024 over 2023" and "growth over 2023" compare periods."""
    if w(i - 1) in _COMPARED:
        return True
    return w(i - 1) in ("over", "above", "under", "below") and not _year(w(i - 2)) and w(i - 2) not in (
        "growth", "change", "increase", "decrease", "up", "down", "grew", "vs", "versus")


def _year(word: str) -> int | None:
    m = re.fullmatch(r"(19|20|21)\d\d", word)
    return int(word) if m else None


def _day_at(w, i: int) -> tuple[int, int] | None:
    """(day of month, index after it) where the words at `i` write one: "15", "15th" (tokenized "15" "th")."""
    if not re.fullmatch(r"\d{1,2}", w(i)) or not 1 <= int(w(i)) <= 31:
        return None
    return int(w(i)), i + 1 + (w(i + 1) in ("st", "nd", "rd", "th"))


def _date_at(w, i: int) -> tuple[int, int, int | None] | None:
    """(month, day, index of the year or None) of a day written "March 15[,] 2024" or "15[th] [of] March[,] 2024"
    starting at `i`; the year's index is where a year would follow (None when the word there is no year)."""
    if w(i) in MONTHS and (d := _day_at(w, i + 1)) is not None:
        month, (day, k) = MONTHS[w(i)], d
    elif (d := _day_at(w, i)) is not None:
        day, k = d
        k += w(k) == "of"
        if w(k) not in MONTHS:
            return None
        month, k = MONTHS[w(k)], k + 1
    else:
        return None
    k += w(k) == ","
    return month, day, (k if _year(w(k)) else None)


def _range_end(w, i: int) -> int | None:
    """Where the second day of a range starts after a day without a year at `i` ("March 15 to April 15 2024")."""
    k = _after_day(w, i)
    if w(k) in _RANGE_TO or w(k) == "-" or w(k) == "and" and w(i - 1) == "between":
        return k + 1
    return None


def _after_day(w, i: int) -> int:
    """The index after a day written without a year at `i` ("March 15", "15th of March")."""
    if w(i) in MONTHS:
        return _day_at(w, i + 1)[1]
    k = _day_at(w, i)[1]
    k += w(k) == "of"
    return k + 1


def _day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _fy(word: str) -> int | None:
    m = re.fullmatch(r"fy'?(\d{2}|\d{4})", word)
    if not m:
        return None
    y = int(m.group(1))
    return y + 2000 if y < 100 else y


def find_time(words: list[str]) -> list[TimeSpec]:
    """Time expressions in a question's lower-case word tokens, non-overlapping, in order.

    >>> [(t.kind, str(t.start), str(t.end)) for t in find_time("sales in q3 2024".split())]
    [('period', '2024-07-01', '2024-10-01')]
    >>> [(t.kind, t.grain, t.offset) for t in find_time("revenue last year by month".split())]
    [('relative', 'year', -1), ('grain', 'month', 0)]
    """
    out: list[TimeSpec] = []
    taken = [False] * len(words)
    n = len(words)

    def w(i: int) -> str:
        return words[i] if 0 <= i < n else ""

    def add(spec: TimeSpec) -> None:
        a, b = spec.span
        if any(taken[a:b]):
            return
        for k in range(a, b):
            taken[k] = True
        out.append(spec)

    def text_of(a: int, b: int) -> str:
        return " ".join(words[a:b])

    # ---- explicit periods, most specific first
    for i in range(n):
        y = _year(w(i + 1)) if w(i + 1) else None
        m = re.fullmatch(r"q([1-4])", w(i))
        if m and re.fullmatch(r"q[1-4]", w(i + 2)) and (w(i + 1) in _RANGE_TO or w(i + 1) == "and" and w(i - 1) == "between") \
                and _year(w(i + 3)):  # the first quarter of a range shares the year after the last: Q1 to Q2 2025
            s = dt.date(_year(w(i + 3)), 3 * int(m.group(1)) - 2, 1)
            add(TimeSpec("period", (i, i + 1), w(i), s, add_months(s, 3), "quarter"))
        if m and y:  # Q3 2024
            s = dt.date(y, 3 * int(m.group(1)) - 2, 1)
            add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), s, add_months(s, 3), "quarter"))
        m = re.fullmatch(r"h([12])", w(i))
        if m and w(i + 2) == "h2" and w(i + 1) in _RANGE_TO and _year(w(i + 3)):  # "from H1 to H2 2024": one year
            s = dt.date(_year(w(i + 3)), 1, 1)
            add(TimeSpec("period", (i, i + 1), w(i), s, add_months(s, 6), "half"))
        if m and y:
            s = dt.date(y, 1 if m.group(1) == "1" else 7, 1)
            add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), s, add_months(s, 6), "half"))
        if _year(w(i)) and re.fullmatch(r"q[1-4]|h[12]", w(i + 1)):  # 2024 Q3
            y0, p = _year(w(i)), w(i + 1)
            if p[0] == "q":
                s = dt.date(y0, 3 * int(p[1]) - 2, 1)
                add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), s, add_months(s, 3), "quarter"))
            else:
                s = dt.date(y0, 1 if p[1] == "1" else 7, 1)
                add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), s, add_months(s, 6), "half"))
        # third quarter of 2024 / first half of 2025
        if w(i) in _ORDINAL and w(i + 1) in ("quarter", "half"):
            j = i + 2 + (w(i + 2) == "of")
            yy = _year(w(j))
            if yy:
                if w(i + 1) == "quarter" and w(i) != "last":
                    s = dt.date(yy, 3 * _ORDINAL[w(i)] - 2, 1)
                    add(TimeSpec("period", (i, j + 1), text_of(i, j + 1), s, add_months(s, 3), "quarter"))
                elif w(i + 1) == "half" and w(i) in ("first", "second", "1st", "2nd", "last"):
                    s = dt.date(yy, 1 if w(i) in ("first", "1st") else 7, 1)
                    add(TimeSpec("period", (i, j + 1), text_of(i, j + 1), s, add_months(s, 6), "half"))
        # fiscal: FY24, FY2024, fiscal 2024, fiscal year 2024, fiscal Q1 2024
        fy = _fy(w(i))
        if fy is None and w(i) == "fy" and _year(w(i + 1)):
            fy = _year(w(i + 1))
            add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), grain="year", fiscal=True, fiscal_year=fy))
            continue
        if fy is not None and re.fullmatch(r"q[1-4]", w(i + 1)):  # FY2024 Q3
            add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), grain="quarter", fiscal=True, fiscal_year=fy,
                         fiscal_quarter=int(w(i + 1)[1])))
        if re.fullmatch(r"q[1-4]", w(i)) and _fy(w(i + 1)) is not None:  # Q3 FY2024
            add(TimeSpec("period", (i, i + 2), text_of(i, i + 2), grain="quarter", fiscal=True, fiscal_year=_fy(w(i + 1)),
                         fiscal_quarter=int(w(i)[1])))
        if fy is not None:
            add(TimeSpec("period", (i, i + 1), w(i), grain="year", fiscal=True, fiscal_year=fy))
        if w(i) == "fiscal":
            j = i + 1
            q = None
            if re.fullmatch(r"q[1-4]", w(j)):
                q, j = int(w(j)[1]), j + 1
            if w(j) == "year":
                j += 1
            yy = _year(w(j)) or _fy(w(j))
            if yy:
                add(TimeSpec("period", (i, j + 1), text_of(i, j + 1), grain="quarter" if q else "year", fiscal=True,
                             fiscal_year=yy, fiscal_quarter=q))
        # the first month of a range shares the year written after the last: between March and May 2024
        if w(i) in MONTHS and w(i + 2) in MONTHS and (w(i + 1) in _RANGE_TO or (w(i + 1) == "and" and w(i - 1) == "between")):
            yy = _year(w(i + 3 + (w(i + 3) == "of")))
            if yy:
                s = dt.date(yy, MONTHS[w(i)], 1)
                add(TimeSpec("period", (i, i + 1), w(i), s, add_months(s, 1), "month"))
        # months, quarters and halves listed before one year share it: "Jan vs Feb 2025", "March and May 2024",
        # "Jan, Feb, Mar 2025", "Q2 vs Q1 2025", "H1 and H2 2024"
        if w(i - 1) != "between":
            for is_part in _LISTED_PARTS:
                heads, yy = _listed_before_year(w, i, is_part)
                for c in heads if yy else ():
                    a, b, grain = _part_of_year(w(c), yy)
                    add(TimeSpec("period", (c, c + 1), w(c), a, b, grain))
        # the first week of January 2025: days 1-7 of the month (the week is never dropped)
        if w(i) in _ORDINAL and w(i + 1) == "week" and w(i + 2) == "of" and w(i + 3) in MONTHS and _year(w(i + 4)):
            yy, mm = _year(w(i + 4)), MONTHS[w(i + 3)]
            first = dt.date(yy, mm, 1)
            if w(i) == "last":
                s = add_months(first, 1) - dt.timedelta(days=7)
            else:
                s = first + dt.timedelta(days=7 * (_ORDINAL[w(i)] - 1))
            add(TimeSpec("period", (i, i + 5), text_of(i, i + 5), s, s + dt.timedelta(days=7), "week"))
        # days: March 15, 2024; 15th of March 2024; March 15 to April 15, 2024 (the first shares the last's year)
        if (d := _date_at(w, i)) is not None and not taken[i]:
            month, day, k = d
            end = (k + 1) if k is not None else None
            if k is None:
                j = _range_end(w, i)
                nxt = _date_at(w, j) if j is not None else None
                if nxt is not None and nxt[2] is not None:
                    k, end = nxt[2], _after_day(w, i)
            day0 = _day(_year(w(k)), month, day) if k is not None else None
            if day0 is not None and end is not None:
                a = i - 1 if w(i - 1) == "the" and w(i) not in MONTHS else i  # "since the 1st of March": "since" bounds it
                add(TimeSpec("period", (a, end), text_of(a, end), day0, day0 + dt.timedelta(days=1), "day"))
        # quarters and halves of a year written with "of": Q3 of 2024, H1 of 2025
        if re.fullmatch(r"q[1-4]|h[12]", w(i)) and w(i + 1) == "of" and _year(w(i + 2)):
            a, b, grain = _part_of_year(w(i), _year(w(i + 2)))
            add(TimeSpec("period", (i, i + 3), text_of(i, i + 3), a, b, grain))
        if re.fullmatch(r"q[1-4]", w(i)) and w(i + 1) == "of" and w(i + 2) == "fiscal":  # Q3 of fiscal 2024
            j = i + 3 + (w(i + 3) == "year")
            if _year(w(j)):
                add(TimeSpec("period", (i, j + 1), text_of(i, j + 1), grain="quarter", fiscal=True, fiscal_year=_year(w(j)),
                             fiscal_quarter=int(w(i)[1])))
        # months with a year: March 2024, Mar 2024, March of 2024
        if w(i) in MONTHS:
            j = i + 1 + (w(i + 1) == "of")
            yy = _year(w(j))
            if yy and (w(i) not in ("may", "mar") or j == i + 1):
                s = dt.date(yy, MONTHS[w(i)], 1)
                a = i - 2 if (w(i - 2), w(i - 1)) == ("month", "of") else i  # "the month of April 2021"
                add(TimeSpec("period", (a, j + 1), text_of(a, j + 1), s, add_months(s, 1), "month"))
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", w(i))
        if m:
            try:
                d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
            add(TimeSpec("period", (i, i + 1), w(i), d, d + dt.timedelta(days=1), "day"))
    # ---- to date: YTD 2025, 2025 YTD, 2025 to date, so far in 2025, 2025 so far, year to date
    for i in range(n):
        if w(i) in ("ytd",) or (w(i), w(i + 1), w(i + 2)) == ("year", "to", "date"):
            k = 1 if w(i) == "ytd" else 3
            if _year(w(i + k)):
                _add_year_to_date(add, i, i + k + 1, _year(w(i + k)), text_of(i, i + k + 1))
            elif _year(w(i - 1)):
                _add_year_to_date(add, i - 1, i + k, _year(w(i - 1)), text_of(i - 1, i + k))
            else:
                add(TimeSpec("relative", (i, i + k), text_of(i, i + k), grain="year", to_date=True))
        if (w(i), w(i + 1)) == ("to", "date") and _year(w(i - 1)):
            _add_year_to_date(add, i - 1, i + 2, _year(w(i - 1)), text_of(i - 1, i + 2))
        if (w(i), w(i + 1)) == ("so", "far"):
            j = i + 2 + (w(i + 2) in ("in", "this"))
            if _year(w(j)):
                _add_year_to_date(add, i, j + 1, _year(w(j)), text_of(i, j + 1))
            elif _year(w(i - 1)):
                _add_year_to_date(add, i - 1, i + 2, _year(w(i - 1)), text_of(i - 1, i + 2))
            elif w(j) in UNITS:
                add(TimeSpec("relative", (i, j + 1), text_of(i, j + 1), grain=UNITS[w(j)], to_date=True))
    # ---- relative periods anchored to the data
    for i in range(n):
        word = w(i)
        if word in ("last", "previous", "prior", "past", "this", "current", "latest", "recent", "most"):
            j = i + 1
            if word == "most":
                if w(j) != "recent":
                    continue
                j += 1
            latest = word in ("latest", "recent", "most")
            count = 1
            if w(j).isdigit() or w(j) in _NUMBER_WORDS:
                count = int(w(j)) if w(j).isdigit() else _NUMBER_WORDS[w(j)]
                j += 1
            full = False
            if w(j) in ("full", "complete", "completed", "whole"):
                full, j = True, j + 1
            fiscal = False
            if w(j) == "fiscal":
                fiscal, j = True, j + 1
            elif w(j) == "calendar":
                j += 1
            unit = UNITS.get(w(j))
            if unit is None:
                continue
            end = j + 1
            # "... we have data for", "... in the data", "... of data"
            tail = words[end:end + 6]
            for pat in (("we", "have", "data", "for"), ("we", "have", "data"), ("in", "the", "data"), ("of", "data"),
                        ("with", "data"), ("on", "record")):
                if tuple(tail[:len(pat)]) == pat:
                    end += len(pat)
                    latest = latest or word == "last"
                    break
            offset = 0 if (latest or word in ("this", "current")) else -1
            if word in ("last", "past") and count > 1:
                offset = 0  # "the last 3 months": the three latest periods
            add(TimeSpec("relative", (i, end), text_of(i, end), grain=unit, offset=offset, count=count,
                         latest=latest or (word in ("last", "past") and count > 1), full=full, fiscal=fiscal))
            # "for each of the last 3 months": one row per month of the range
            k = i - 1 - (w(i - 1) == "the")
            if count > 1 and w(k) == "of" and w(k - 1) in ("each", "every"):
                a = k - 1 - (w(k - 2) == "for")
                add(TimeSpec("grain", (a, i), text_of(a, i), grain=unit, fiscal=fiscal))
    # ---- years alone
    for i in range(n):
        y = _year(w(i))
        if y and not taken[i] and not _compared_number(w, i):  # "rivers longer than 2000": a number, not a year
            add(TimeSpec("period", (i, i + 1), w(i), dt.date(y, 1, 1), dt.date(y + 1, 1, 1), "year"))
    # ---- days of the week: "by day of the week" (a grain), "on Mondays" (a filter)
    for i in range(n):
        if taken[i]:
            continue
        weekday_word = w(i) in ("weekday", "weekdays") and (w(i - 1) in ("by", "per", "each", "every") or w(i - 1) in (
            "which", "what") and _ranks_periods(w, i + 1) or w(i - 1) in _PERIOD_RANKS)  # "which weekday had the most"
        if weekday_word or w(i) in ("day", "days") and w(i + 1) == "of" and w(i + 2 + (w(i + 2) == "the")) == "week":
            end = i + 1 if weekday_word else i + 3 + (w(i + 2) == "the")  # "by weekday": the day of the week
            a = i - 1 if w(i - 1) in ("by", "per", "each", "every") else i
            a = a - 1 if w(a) == "each" and w(a - 1) == "for" else a
            add(TimeSpec("grain", (a, end), text_of(a, end), grain="weekday"))
        elif w(i).rstrip("s") in WEEKDAYS:
            add(TimeSpec("weekday", (i, i + 1), w(i), weekday=w(i).rstrip("s").capitalize()))
        elif w(i) in ("weekend", "weekends"):  # "orders placed on weekends": Saturdays and Sundays
            add(TimeSpec("weekday", (i, i + 1), w(i), weekday="Saturday,Sunday"))
        elif w(i) in ("weekday", "weekdays") and w(i - 1) in ("on", "during", "over"):  # Monday to Friday
            add(TimeSpec("weekday", (i, i + 1), w(i), weekday="Monday,Tuesday,Wednesday,Thursday,Friday"))
    # ---- grains: monthly, by month, month by month, per quarter, each year, by fiscal quarter
    for i in range(n):
        if taken[i]:
            continue
        word = w(i)
        if word in GRAIN_ADJ:
            add(TimeSpec("grain", (i, i + 1), word, grain=GRAIN_ADJ[word]))
            continue
        if word in ("by", "per", "each", "every", "across", "over") or (word == "for" and w(i + 1) == "each"):
            j = i + 1 + (word == "for")
            fiscal = w(j) == "fiscal"
            j += fiscal
            if w(j) == "calendar":
                j += 1
            unit = UNITS.get(w(j))
            if unit and not (unit == "day" and word == "over"):
                end = j + 1
                if w(end) in ("by", "to", "over") and UNITS.get(w(end + 1)) == unit:
                    end += 2
                add(TimeSpec("grain", (i, end), text_of(i, end), grain=unit, fiscal=fiscal))
                continue
        unit = UNITS.get(word)
        if unit and w(i - 1) in ("and", "&") and w(i + 1) not in ("of", "by", "over", "on", "to") and any(
                w(j) in ("by", "per") for j in range(max(0, i - 6), i - 1)):
            add(TimeSpec("grain", (i - 1, i + 1), text_of(i - 1, i + 1), grain=unit))  # "by store format and year"
            continue
        if unit and unit != "week" and w(i - 1) in _PERIOD_RANKS:  # "our strongest quarter": one row per quarter, top one
            add(TimeSpec("grain", (i, i + 1), word, grain=unit))
            continue
        if unit and w(i - 1) in ("which", "what") and _ranks_periods(w, i + 1):
            add(TimeSpec("grain", (i, i + 1), word, grain=unit))  # "which year had the most orders": one row per year
            continue
        if unit and w(i + 1) in ("by", "to", "over", "on") and UNITS.get(w(i + 2)) == unit:  # month by month
            kind = "compare" if w(i + 1) in ("over", "on") else "grain"  # month over month: growth
            add(TimeSpec(kind, (i, i + 3), text_of(i, i + 3), grain=unit))
            continue
        if word == "fiscal" and UNITS.get(w(i + 1)) in ("quarter", "year", "month"):
            add(TimeSpec("grain", (i, i + 2), text_of(i, i + 2), grain=UNITS[w(i + 1)], fiscal=True))
    # ---- growth cues that name a grain: YoY, MoM, year over year, month-over-month
    for i in range(n):
        if taken[i]:
            continue
        if w(i) in GROWTH:
            add(TimeSpec("compare", (i, i + 1), w(i), grain=GROWTH[w(i)]))
        elif UNITS.get(w(i)) and w(i + 1) in ("over", "on") and UNITS.get(w(i + 2)) == UNITS.get(w(i)):
            add(TimeSpec("compare", (i, i + 3), text_of(i, i + 3), grain=UNITS[w(i)]))
    # ---- month of year without a year: "December revenue", "(Dec)"
    for i in range(n):
        if not taken[i] and (w(i) in _FULL_MONTHS or w(i) in _MONTH_ABBR):
            add(TimeSpec("month_of_year", (i, i + 1), w(i), month=MONTHS[w(i)], grain="month"))
    out.sort(key=lambda t: t.span[0])
    return _bounds(out, words)


def _add_year_to_date(add, a: int, b: int, year: int, txt: str) -> None:
    add(TimeSpec("period", (a, b), txt, dt.date(year, 1, 1), dt.date(year + 1, 1, 1), "year", to_date=True))


_RANGE_TO = ("to", "through", "thru", "until", "till")
_BOUND_WORDS = {"since": "since", "after": "after", "before": "before", "until": "until", "through": "until",
                "thru": "until", "till": "until", "between": "between", "from": "from"}


def _bounds(specs: list[TimeSpec], words: list[str]) -> list[TimeSpec]:
    """Mark range ends: `since A`, `before A`, `between A and B`, `from A to B`."""
    for k, s in enumerate(specs):
        if s.kind not in ("period", "relative"):
            continue
        a = s.span[0]
        prev = words[a - 1] if a > 0 else ""
        nxt = specs[k + 1] if k + 1 < len(specs) else None
        if (s.bound is None and prev not in _BOUND_WORDS and nxt is not None and nxt.kind == s.kind == "period"
                and nxt.span[0] == s.span[1] + 1 and words[s.span[1]] in _RANGE_TO):  # March through May 2024
            s.bound, nxt.bound = "from", "to"
            nxt.span = (nxt.span[0] - 1, nxt.span[1])
            nxt.text = f"{words[nxt.span[0]]} {nxt.text}"
            continue
        if prev in _BOUND_WORDS:
            s.bound = _BOUND_WORDS[prev]
            s.span = (a - 1, s.span[1])
            s.text = f"{prev} {s.text}"
            if s.bound in ("between", "from") and k + 1 < len(specs):
                nxt = specs[k + 1]
                b = nxt.span[0]
                if b >= 1 and words[b - 1] in ("and", "to", "through", "until", "till", "-") and b - 1 == s.span[1]:
                    nxt.bound = "to"
                    nxt.span = (b - 1, nxt.span[1])
                    nxt.text = f"{words[b - 1]} {nxt.text}"
            if s.bound == "from" and not (nxt is not None and nxt.bound == "to"):
                end = s.span[1]  # "publications from 2020": that year; "from 2020 onwards": since then
                if end < len(words) and words[end] in ("onwards", "onward", "forward", "on"):
                    s.bound, s.span, s.text = "since", (s.span[0], end + 1), f"{s.text} {words[end]}"
                else:
                    s.bound = None
    return specs


@dataclass
class Calendar:
    """The calendar a space declares: fiscal year start month and how fiscal years are named."""

    fiscal_start: int | None = None  # 1..12
    named_by: str = "start"  # FY N starts in year N ("start") or ends in year N ("end")

    def fiscal_year_range(self, fy: int) -> tuple[dt.date, dt.date] | None:
        if not self.fiscal_start:
            return None
        y = fy if self.named_by == "start" or self.fiscal_start == 1 else fy - 1
        s = dt.date(y, self.fiscal_start, 1)
        return s, add_months(s, 12)

    def fiscal_quarter_range(self, fy: int, q: int) -> tuple[dt.date, dt.date] | None:
        r = self.fiscal_year_range(fy)
        if r is None:
            return None
        s = add_months(r[0], 3 * (q - 1))
        return s, add_months(s, 3)

    def shift(self) -> int:
        """Months to subtract from a date so calendar year/quarter functions give fiscal ones."""
        if not self.fiscal_start:
            return 0
        return self.fiscal_start - 1 if self.named_by == "start" else self.fiscal_start - 13


def resolve(spec: TimeSpec, anchor: dt.date | None, cal: Calendar) -> tuple[dt.date, dt.date] | None:
    """The half-open date range of a period, relative period or to-date period; None if unknown.

    `anchor` is the latest date in the data: the data is current through that day.
    """
    if spec.kind == "period":
        if spec.fiscal:
            r = (cal.fiscal_quarter_range(spec.fiscal_year, spec.fiscal_quarter) if spec.fiscal_quarter
                 else cal.fiscal_year_range(spec.fiscal_year))
            if r is None:
                return None
            start, end = r
        else:
            start, end = spec.start, spec.end
        if spec.to_date and anchor is not None:
            if anchor < start:
                return start, start
            if anchor.year > start.year:  # YTD of an earlier year: up to the same day of the year
                try:
                    same = anchor.replace(year=start.year)
                except ValueError:
                    same = anchor.replace(year=start.year, day=28)
                end = min(end, same + dt.timedelta(days=1))
            else:
                end = min(end, anchor + dt.timedelta(days=1))
        return start, end
    if spec.kind != "relative" or anchor is None:
        return None
    grain = spec.grain or "year"
    today = anchor + dt.timedelta(days=1)  # the data is complete through its latest day
    if spec.fiscal and cal.fiscal_start and grain in ("year", "quarter"):
        shift = cal.shift()
        shifted = add_months(dt.date(today.year, today.month, 1), -shift)
        cur = add_months(period_start(shifted, grain), shift)
    else:
        cur = period_start(today if not spec.latest else anchor, grain)
    if spec.to_date:
        return cur, today
    if spec.latest:
        cur_start = period_start(anchor, grain)
        if spec.full and period_next(cur_start, grain) > today:
            cur_start = period_next(cur_start, grain, -1)
        start = period_next(cur_start, grain, -(spec.count - 1))
        return start, period_next(cur_start, grain)
    start = period_next(cur, grain, spec.offset - (spec.count - 1) if spec.offset < 0 else -(spec.count - 1))
    end = period_next(cur, grain, spec.offset + 1) if spec.offset < 0 else period_next(cur, grain)
    if spec.offset == 0 and not spec.full:
        end = min(end, today)
    return start, end
