"""What PostgreSQL makes of some SQL, where DuckDB (or sqlglot on the way) reads it otherwise.

- `parse_interval`: PostgreSQL's interval input (``'15 min'``, ``'2 hours 30 mins'``,
  ``'1 day 02:03:04'``, ``'@ 3 days ago'``, ``'1-2'``, ``'P1Y2M'``). sqlglot keeps unit words it
  does not know (``INTERVAL '15' MIN``), which DuckDB then reads as 15 *seconds* named ``min``;
  `sql.py` reads PostgreSQL interval literals through this function and `interval_expr` instead.
- `to_char`, `to_date`, `to_timestamp`, `to_number`: PostgreSQL's formatting functions with its
  template patterns (``YYYY``, ``Mon``, ``HH24``, ``FM``, ``9G999D99``, ...). A dump's INSERT
  may call them on constants; the loader computes the value here, as PostgreSQL would have.
- `group_by_dependencies`: PostgreSQL lets a query select a table's other columns when it groups
  by the table's primary key (functional dependency); DuckDB wants them in the GROUP BY, where
  (the dependency holding) they change no group.

>>> parse_interval("2 hours 30 mins")
Interval(months=0, days=0, microseconds=9000000000)
>>> to_char(datetime.datetime(2024, 3, 5, 14, 7, 9), "YYYY-MM-DD HH24:MI:SS Dy")
'2024-03-05 14:07:09 Tue'
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from typing import Any, NamedTuple

from sqlglot import exp

__all__ = ["Interval", "group_by_dependencies", "interval_expr", "parse_interval", "to_char", "to_date", "to_number",
           "to_timestamp"]

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND


class Interval(NamedTuple):
    """A PostgreSQL interval: months, days and microseconds are kept apart (a month is not 30 days)."""

    months: int = 0
    days: int = 0
    microseconds: int = 0


# ---------------------------------------------------------------- intervals
# Unit words and abbreviations PostgreSQL accepts (datetime.c's deltatktbl), singular and plural.
_UNITS: dict[str, tuple[str, float]] = {}
for _names, _unit, _size in (
    (("microsecond", "microseconds", "microsecon", "us", "usec", "usecs", "useconds"), "us", 1),
    (("millisecond", "milliseconds", "millisecon", "ms", "msec", "msecs", "mseconds"), "us", 1_000),
    (("second", "seconds", "s", "sec", "secs"), "us", _US_PER_SECOND),
    (("minute", "minutes", "m", "min", "mins"), "us", 60 * _US_PER_SECOND),
    (("hour", "hours", "h", "hr", "hrs"), "us", 3_600 * _US_PER_SECOND),
    (("day", "days", "d"), "days", 1),
    (("week", "weeks", "w"), "days", 7),
    (("month", "months", "mon", "mons"), "months", 1),
    (("year", "years", "y", "yr", "yrs"), "months", 12),
    (("decade", "decades", "dec", "decs"), "months", 120),
    (("century", "centuries", "c", "cent"), "months", 1_200),
    (("millennium", "millennia", "mil", "mils", "millenniums"), "months", 12_000),
):
    for _n in _names:
        _UNITS[_n] = (_unit, _size)

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_TOKEN = re.compile(
    rf"(?P<time>[+-]?\d+:\d+(?::\d+(?:\.\d*)?)?)"  # hh:mm[:ss[.f]]
    rf"|(?P<ym>[+-]?\d+-\d+)(?![\d:])"  # SQL-standard years-months
    rf"|(?P<num>{_NUMBER})\s*(?P<unit>[a-z]+)?"
    r"|(?P<ago>ago)\b|(?P<at>@)",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<Y>[\d.]+)Y)?(?:(?P<M>[\d.]+)M)?(?:(?P<W>[\d.]+)W)?(?:(?P<D>[\d.]+)D)?"
    r"(?:T(?:(?P<h>[\d.]+)H)?(?:(?P<mi>[\d.]+)M)?(?:(?P<s>[\d.]+)S)?)?$",
    re.IGNORECASE,
)


class _Acc:
    """Adds interval parts the way PostgreSQL does: fractional months spill into days (30 a
    month), fractional days into time (24 hours a day)."""

    def __init__(self) -> None:
        self.months, self.days, self.us = 0, 0, 0.0

    def add(self, value: float, unit: str, size: float) -> None:
        v = value * size
        if unit == "months":
            whole = math.trunc(v)
            self.months += whole
            self.add((v - whole) * 30, "days", 1)
        elif unit == "days":
            whole = math.trunc(v)
            self.days += whole
            self.us += (v - whole) * _US_PER_DAY
        else:
            self.us += v

    def result(self, negate: bool = False) -> Interval:
        sign = -1 if negate else 1
        return Interval(sign * self.months, sign * self.days, sign * int(round(self.us)))


def parse_interval(text: str) -> Interval:
    """PostgreSQL's reading of an interval literal; ValueError when PostgreSQL would reject it.

    >>> parse_interval("15 min"), parse_interval("1 mon"), parse_interval("@ 1 day 02:00 ago")
    (Interval(months=0, days=0, microseconds=900000000), Interval(months=1, days=0, microseconds=0), Interval(months=0, days=-1, microseconds=-7200000000))
    """
    s = text.strip()
    if not s:
        raise ValueError("empty interval")
    acc = _Acc()
    iso = _ISO.match(s)
    if iso and s.upper() != "P":
        for key, unit, size in (("Y", "months", 12), ("M", "months", 1), ("W", "days", 7), ("D", "days", 1),
                                ("h", "us", 3_600 * _US_PER_SECOND), ("mi", "us", 60 * _US_PER_SECOND),
                                ("s", "us", _US_PER_SECOND)):
            if iso.group(key):
                acc.add(float(iso.group(key)), unit, size)
        return acc.result(negate=iso.group("sign") == "-")
    pos, ago, seen = 0, False, False
    while pos < len(s):
        if s[pos].isspace() or s[pos] == ",":
            pos += 1
            continue
        m = _TOKEN.match(s, pos)
        if m is None or ago:
            raise ValueError(f"invalid input syntax for type interval: {text!r}")
        pos = m.end()
        if m.group("at"):
            continue
        if m.group("ago"):
            ago = True
            continue
        seen = True
        if m.group("time"):
            neg = m.group("time").startswith("-")
            parts = m.group("time").lstrip("+-").split(":")
            hours, minutes = int(parts[0]), int(parts[1])
            seconds = float(parts[2]) if len(parts) > 2 else 0.0
            us = (hours * 3600 + minutes * 60 + seconds) * _US_PER_SECOND
            acc.add(-us if neg else us, "us", 1)
        elif m.group("ym"):
            neg = m.group("ym").startswith("-")
            years, months = (int(x) for x in m.group("ym").lstrip("+-").split("-"))
            acc.add(-(years * 12 + months) if neg else years * 12 + months, "months", 1)
        else:
            value, word = float(m.group("num")), (m.group("unit") or "").lower()
            if not word:  # a bare number is seconds, as in PostgreSQL; days before a time field
                follows = _TOKEN.match(s, pos + len(s[pos:]) - len(s[pos:].lstrip()))
                acc.add(value, *(("days", 1) if follows and follows.group("time") else ("us", _US_PER_SECOND)))
                continue
            if word not in _UNITS:
                raise ValueError(f"invalid input syntax for type interval: {text!r} (unknown unit {word!r})")
            acc.add(value, *_UNITS[word])
    if not seen:
        raise ValueError(f"invalid input syntax for type interval: {text!r}")
    return acc.result(negate=ago)


_US_UNITS = (("HOUR", 3_600 * _US_PER_SECOND), ("MINUTE", 60 * _US_PER_SECOND), ("SECOND", _US_PER_SECOND),
             ("MILLISECOND", 1_000), ("MICROSECOND", 1))


def interval_expr(iv: Interval) -> exp.Expr:
    """`iv` as sqlglot interval literals in units every dialect reads alike (a sum in parentheses
    when it has several parts).

    >>> interval_expr(parse_interval("1 day 02:30")).sql("duckdb")
    "(INTERVAL '1' DAY + INTERVAL '150' MINUTE)"
    """
    parts: list[exp.Expr] = []

    def part(value: int, unit: str) -> None:
        parts.append(exp.Interval(this=exp.Literal.string(str(value)), unit=exp.var(unit)))

    if iv.months:
        part(*((iv.months // 12, "YEAR") if iv.months % 12 == 0 else (iv.months, "MONTH")))
    if iv.days:
        part(iv.days, "DAY")
    if iv.microseconds:
        unit, size = next((u, k) for u, k in _US_UNITS if iv.microseconds % k == 0)
        part(iv.microseconds // size, unit)
    if not parts:
        part(0, "SECOND")
    if len(parts) == 1:
        return parts[0]
    total = parts[0]
    for p in parts[1:]:
        total = exp.Add(this=total, expression=p)
    return exp.Paren(this=total)


# Unit names PostgreSQL and Spark accept for `INTERVAL 'n' unit` -> the one DuckDB reads alike.
CANONICAL_UNITS = {name.upper(): unit for name, unit in (
    ("us", "MICROSECOND"), ("usec", "MICROSECOND"), ("usecs", "MICROSECOND"), ("microseconds", "MICROSECOND"),
    ("ms", "MILLISECOND"), ("msec", "MILLISECOND"), ("msecs", "MILLISECOND"), ("milliseconds", "MILLISECOND"),
    ("s", "SECOND"), ("sec", "SECOND"), ("secs", "SECOND"), ("seconds", "SECOND"),
    ("m", "MINUTE"), ("min", "MINUTE"), ("mins", "MINUTE"), ("minutes", "MINUTE"),
    ("h", "HOUR"), ("hr", "HOUR"), ("hrs", "HOUR"), ("hours", "HOUR"),
    ("d", "DAY"), ("days", "DAY"), ("w", "WEEK"), ("weeks", "WEEK"),
    ("mon", "MONTH"), ("mons", "MONTH"), ("months", "MONTH"),
    ("y", "YEAR"), ("yr", "YEAR"), ("yrs", "YEAR"), ("years", "YEAR"),
)}


# ---------------------------------------------------------------- template patterns
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ROMAN_MONTHS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]

# Date/time template patterns (formatting.c's DCH_keywords). Text patterns exist in upper,
# capitalized and lower spelling (the case of the output follows); the others in upper and lower.
_TEXT_PATTERNS = ("MONTH", "MON", "DAY", "DY", "RM", "AM", "PM", "A.M.", "P.M.", "BC", "AD", "B.C.", "A.D.", "TZ")
_PLAIN_PATTERNS = ("HH24", "HH12", "HH", "MI", "SSSSS", "SSSS", "SS", "MS", "US", "FF1", "FF2", "FF3", "FF4", "FF5",
                   "FF6", "Y,YYY", "YYYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "I", "IDDD", "ID", "IW", "DDD", "DD",
                   "D", "WW", "W", "CC", "J", "Q", "MM", "TZH", "TZM", "OF")
_DATE_KEYWORDS = sorted(
    {k for p in _TEXT_PATTERNS for k in (p, p.capitalize(), p.lower())}
    | {k for p in _PLAIN_PATTERNS for k in (p, p.lower())},
    key=len, reverse=True,
)


def _tokens(fmt: str, keywords: list[str]) -> list[tuple[str, str, bool, bool]]:
    """Split a template into (kind, text, fill_mode, th_suffix): kind "kw" (pattern) or "lit".

    Longest keyword first at each position; ``FM``/``TM``/``FX`` prefixes and ``TH``/``th``
    suffixes are read around a keyword; double-quoted text and backslash escapes are literal."""
    out: list[tuple[str, str, bool, bool]] = []
    i, n = 0, len(fmt)
    while i < n:
        fm = False
        while fmt.startswith(("FM", "fm", "TM", "tm", "FX", "fx"), i):
            fm = fm or fmt[i:i + 2].upper() == "FM"
            i += 2
        if i >= n:
            break
        if fmt[i] == '"':
            j = i + 1
            buf = []
            while j < n and fmt[j] != '"':
                if fmt[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(fmt[j])
                j += 1
            out.append(("lit", "".join(buf), False, False))
            i = j + 1
            continue
        if fmt[i] == "\\" and i + 1 < n:
            out.append(("lit", fmt[i + 1], False, False))
            i += 2
            continue
        kw = next((k for k in keywords if fmt.startswith(k, i)), None)
        if kw is None:
            out.append(("lit", fmt[i], False, False))
            i += 1
            continue
        i += len(kw)
        th = fmt.startswith(("TH", "th"), i)
        if th:
            th_text = fmt[i:i + 2]
            i += 2
            out.append(("kw", kw, fm, False))
            out.append(("th", th_text, fm, True))
            continue
        out.append(("kw", kw, fm, False))
    return out


def _ordinal(n: int, upper: bool) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return suffix.upper() if upper else suffix


def _cased(word: str, pattern: str) -> str:
    if pattern.isupper():
        return word.upper()
    if pattern.islower():
        return word.lower()
    return word


def _as_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, datetime.time):
        return datetime.datetime(2000, 1, 1, value.hour, value.minute, value.second, value.microsecond, value.tzinfo)
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value.strip())
    raise TypeError(f"to_char: cannot format {type(value).__name__} {value!r} as a date or time")


def _date_field(kw: str, t: datetime.datetime, fm: bool) -> str:
    up = kw.upper()
    iso_year, iso_week, iso_day = t.isocalendar()

    def num(v: int, width: int) -> str:
        return str(v) if fm else f"{v:0{width}d}" if v >= 0 else f"-{-v:0{width}d}"

    if up in ("HH", "HH12"):
        return num((t.hour % 12) or 12, 2)
    if up == "HH24":
        return num(t.hour, 2)
    if up == "MI":
        return num(t.minute, 2)
    if up == "SS":
        return num(t.second, 2)
    if up in ("SSSS", "SSSSS"):
        return str(t.hour * 3600 + t.minute * 60 + t.second)
    if up == "MS":
        return num(t.microsecond // 1000, 3)
    if up == "US":
        return num(t.microsecond, 6)
    if up.startswith("FF"):
        digits = int(up[2])
        return f"{t.microsecond:06d}"[:digits]
    if up in ("AM", "PM", "A.M.", "P.M."):
        word = ("AM" if t.hour < 12 else "PM") if "." not in up else ("A.M." if t.hour < 12 else "P.M.")
        return word if kw.isupper() else word.lower()
    if up in ("BC", "AD", "B.C.", "A.D."):
        word = "AD" if "." not in up else "A.D."
        return word if kw.isupper() else word.lower()
    if up == "Y,YYY":
        return f"{t.year // 1000},{t.year % 1000:03d}"
    if up == "YYYY":
        return num(t.year, 4)
    if up in ("YYY", "YY", "Y"):
        return f"{t.year % 10 ** len(up):0{len(up)}d}"
    if up == "IYYY":
        return num(iso_year, 4)
    if up in ("IYY", "IY", "I"):
        return f"{iso_year % 10 ** len(up):0{len(up)}d}"
    if up == "MONTH":
        word = _cased(_MONTHS[t.month - 1], kw)
        return word if fm else word.ljust(9)
    if up == "MON":
        return _cased(_MONTHS[t.month - 1][:3], kw)
    if up == "MM":
        return num(t.month, 2)
    if up == "DAY":
        word = _cased(_DAYS[(t.weekday() + 1) % 7], kw)
        return word if fm else word.ljust(9)
    if up == "DY":
        return _cased(_DAYS[(t.weekday() + 1) % 7][:3], kw)
    if up == "DDD":
        return num(t.timetuple().tm_yday, 3)
    if up == "IDDD":
        return num((iso_week - 1) * 7 + iso_day, 3)
    if up == "DD":
        return num(t.day, 2)
    if up == "D":
        return str((t.weekday() + 1) % 7 + 1)  # Sunday = 1
    if up == "ID":
        return str(iso_day)  # Monday = 1
    if up == "W":
        return str((t.day - 1) // 7 + 1)
    if up == "WW":
        return num((t.timetuple().tm_yday - 1) // 7 + 1, 2)
    if up == "IW":
        return num(iso_week, 2)
    if up == "CC":
        return num((t.year - 1) // 100 + 1 if t.year > 0 else t.year // 100 - 1, 2)
    if up == "J":
        return str(t.toordinal() + 1_721_425)
    if up == "Q":
        return str((t.month - 1) // 3 + 1)
    if up == "RM":
        word = _ROMAN_MONTHS[t.month - 1]
        word = word if kw.isupper() else word.lower()
        return word if fm else word.ljust(4)
    if up in ("TZ", "OF", "TZH", "TZM"):
        off = t.utcoffset() or datetime.timedelta(0)
        minutes = int(off.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        hh, mm = divmod(abs(minutes), 60)
        if up == "TZH":
            return f"{sign}{hh:02d}"
        if up == "TZM":
            return f"{mm:02d}"
        if up == "OF":
            return f"{sign}{hh:02d}" + (f":{mm:02d}" if mm else "")
        name = t.tzname() or ""
        return name if kw.isupper() else name.lower()
    raise ValueError(f"unsupported template pattern {kw!r}")  # pragma: no cover - every keyword is handled


def _format_datetime(value: Any, fmt: str) -> str:
    t = _as_datetime(value)
    out: list[str] = []
    last_number: int | None = None
    for kind, text, fm, _ in _tokens(fmt, _DATE_KEYWORDS):
        if kind == "lit":
            out.append(text)
        elif kind == "th":
            if last_number is not None:
                out.append(_ordinal(last_number, text == "TH"))
        else:
            piece = _date_field(text, t, fm)
            out.append(piece)
            last_number = int(piece) if piece.strip().lstrip("-").isdigit() else None
    return "".join(out)


# ---------------------------------------------------------------- numbers
_NUM_KEYWORDS = sorted(["9", "0", ".", ",", "D", "G", "S", "MI", "PL", "SG", "PR", "V", "EEEE", "L", "RN", "rn",
                        "mi", "pl", "sg", "pr", "v", "eeee", "l", "d", "g", "s"], key=len, reverse=True)


def _roman(n: int) -> str:
    if not 1 <= n <= 3999:
        return "#" * 15
    out = []
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                       (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _format_number(value: Any, fmt: str) -> str:
    toks = _tokens(fmt, _NUM_KEYWORDS)
    fm = any(f for _, _, f, _ in toks)
    kws = [t[1].upper() for t in toks if t[0] == "kw"]
    x = decimal.Decimal(str(value)) if not isinstance(value, decimal.Decimal) else value
    if "RN" in kws:
        r = _roman(int(x.to_integral_value(rounding=decimal.ROUND_HALF_UP)))
        r = r if any(t[1] == "RN" for t in toks if t[0] == "kw") else r.lower()
        return r if fm else r.rjust(15)
    negative = x < 0
    x = abs(x)
    # digit positions before and after the decimal point; V shifts digits instead of printing a point
    pre = post = shift = 0
    seen_point = seen_v = False
    zero_from: int | None = None  # first integer position printed even when zero
    last_zero_post = 0  # fraction digits always printed (up to the last '0')
    for kind, text, _, _ in toks:
        if kind != "kw":
            continue
        up = text.upper()
        if up in ("9", "0"):
            if seen_v:  # digits after V are integer positions of the value times 10^n
                shift += 1
                pre += 1
            elif seen_point:
                post += 1
                if up == "0":
                    last_zero_post = post
            else:
                pre += 1
                if up == "0" and zero_from is None:
                    zero_from = pre
        elif up in (".", "D"):
            seen_point = True
        elif up == "V":
            seen_v = True
    if "EEEE" in kws:
        digits = max(post, 0)
        mantissa, _, exponent = f"{float(x):.{digits}e}".partition("e")
        body = f"{mantissa}e{int(exponent):+03d}"
        return ("-" if negative else " " if not fm else "") + body
    x = x * (10 ** shift)
    q = decimal.Decimal(1).scaleb(-post)
    x = x.quantize(q, rounding=decimal.ROUND_HALF_UP)
    int_digits, _, frac_digits = format(x, "f").partition(".")
    int_digits = int_digits.lstrip("0")
    frac_digits = (frac_digits + "0" * post)[:post]
    overflow = len(int_digits) > pre
    explicit_sign = any(k in kws for k in ("S", "MI", "PL", "SG", "PR"))
    # integer part, right-aligned in its positions
    int_out: list[str] = []  # per integer position: a digit or "" (blank)
    for p in range(1, pre + 1):
        k = p - (pre - len(int_digits))  # 1-based index into int_digits, <= 0 before the number
        if overflow:
            int_out.append("#")
        elif k >= 1:
            int_out.append(int_digits[k - 1])
        elif zero_from is not None and p >= zero_from:
            int_out.append("0")
        else:
            int_out.append("")
    if not int_digits and not overflow and not post and pre and zero_from is None:
        int_out[-1] = "0"  # zero with only 9s still prints one digit
    if fm and post:
        keep = max(last_zero_post, len(frac_digits.rstrip("0")))
        frac_digits = frac_digits[:keep]
    frac_out = list("#" * post if overflow else frac_digits)
    out: list[str] = []
    printed = False  # a digit (not a blank) was printed, for group separators and the sign
    pos = 0
    sign_done = explicit_sign
    frac_i = 0

    def implicit_sign() -> None:
        nonlocal sign_done
        if not sign_done:
            out.append("-" if negative else ("" if fm else " "))
            sign_done = True

    for kind, text, _, _ in toks:
        if kind == "lit":
            out.append(text)
            continue
        if kind == "th":
            if not negative:
                out.append(_ordinal(int(int_digits or "0"), text == "TH"))
            continue
        up = text.upper()
        if up in ("9", "0") and not (seen_point and pos >= pre) and pos < pre:
            d = int_out[pos]
            pos += 1
            if d == "":
                if not fm:
                    out.append(" ")
                continue
            implicit_sign()
            out.append(d)
            printed = True
        elif up in ("9", "0"):  # fraction or V-shifted digits (already in int_digits)
            if frac_i < len(frac_out):
                out.append(frac_out[frac_i])
            frac_i += 1
        elif up in (".", "D"):
            implicit_sign()
            out.append(".")
        elif up in (",", "G"):
            if printed:
                out.append(",")
            elif not fm:
                out.append(" ")
        elif up == "S":
            out.append("-" if negative else "+")
        elif up == "MI":
            out.append("-" if negative else ("" if fm else " "))
        elif up == "PL":
            out.append("+" if not negative else ("" if fm else " "))
        elif up == "SG":
            out.append("-" if negative else "+")
        elif up == "PR":
            if negative:
                out.insert(0, "<")
                out.append(">")
            elif not fm:
                out.insert(0, " ")
                out.append(" ")
        elif up == "L":
            out.append("$" if fm else "$".rjust(1))
    implicit_sign()  # a template with no digit before the end still shows the sign
    text = "".join(out)
    return text.lstrip() if fm else text


def to_char(value: Any, fmt: str) -> str | None:
    """PostgreSQL's ``to_char(value, fmt)`` for dates, times, timestamps and numbers (NULL: None).

    >>> to_char(datetime.date(2024, 1, 7), "FMMonth FMDDth, YYYY (Day)")
    'January 7th, 2024 (Sunday   )'
    >>> to_char(1485.5, "9G999D99"), to_char(-0.1, "FM90.99")
    (' 1,485.50', '-0.1')
    """
    if value is None or fmt is None:
        return None
    if isinstance(value, bool):
        raise TypeError("to_char: cannot format a boolean")
    if isinstance(value, (int, float, decimal.Decimal)):
        return _format_number(value, fmt)
    return _format_datetime(value, fmt)


# ---------------------------------------------------------------- parsing
_FIELD_RES = {
    "YYYY": r"[+-]?\d{1,6}", "Y,YYY": r"\d{1,3},\d{3}", "YYY": r"\d{1,3}", "YY": r"\d{1,2}", "Y": r"\d",
    "IYYY": r"\d{1,4}", "MM": r"\d{1,2}", "DD": r"\d{1,2}", "DDD": r"\d{1,3}", "HH24": r"\d{1,2}", "HH12": r"\d{1,2}",
    "HH": r"\d{1,2}", "MI": r"\d{1,2}", "SS": r"\d{1,2}", "MS": r"\d{1,3}", "US": r"\d{1,6}", "SSSS": r"\d{1,5}",
    "SSSSS": r"\d{1,5}", "J": r"\d+", "D": r"\d", "ID": r"\d", "Q": r"\d", "CC": r"\d{1,2}",
    "FF1": r"\d", "FF2": r"\d{1,2}", "FF3": r"\d{1,3}", "FF4": r"\d{1,4}", "FF5": r"\d{1,5}", "FF6": r"\d{1,6}",
}


_WIDTHS = {"YYYY": 4, "IYYY": 4, "MM": 2, "DD": 2, "DDD": 3, "HH24": 2, "HH12": 2, "HH": 2, "MI": 2, "SS": 2,
           "MS": 3, "US": 6}


def _parse_datetime(text: str, fmt: str) -> datetime.datetime:
    """PostgreSQL's to_timestamp(text, fmt) reading: patterns take their digits, blanks and
    separators in the template skip blanks and separators in the text."""
    s = text
    pos = 0
    year: int | None = None
    month, day, hour, minute, second, micro, doy = 1, 1, 0, 0, 0, 0, None
    pm: bool | None = None
    tokens = _tokens(fmt, _DATE_KEYWORDS)
    for index, (kind, kw, _, _) in enumerate(tokens):
        if kind == "th":
            m = re.compile(r"(st|nd|rd|th)", re.IGNORECASE).match(s, pos)
            pos = m.end() if m else pos
            continue
        if kind == "lit":
            if kw.isspace():
                while pos < len(s) and s[pos].isspace():
                    pos += 1
            elif pos < len(s) and (s[pos] == kw or not s[pos].isalnum()):
                pos += 1
            continue
        while pos < len(s) and s[pos].isspace():
            pos += 1
        up = kw.upper()
        if up in ("MONTH", "MON", "DAY", "DY"):
            names = _MONTHS if up.startswith("MON") else _DAYS
            for idx, name in enumerate(names):
                cand = name if up in ("MONTH", "DAY") else name[:3]
                if s[pos:pos + len(cand)].lower() == cand.lower():
                    pos += len(cand)
                    if up.startswith("MON"):
                        month = idx + 1
                    break
            else:
                raise ValueError(f"invalid value {s[pos:pos + 9]!r} for {kw!r}")
            continue
        if up in ("AM", "PM", "A.M.", "P.M."):
            word = s[pos:pos + len(up)].upper()
            pm = word.startswith("P")
            pos += len(up)
            continue
        if up in ("BC", "AD", "B.C.", "A.D.", "TZ", "TZH", "TZM", "OF"):
            m = re.compile(r"[+-]?\w+(?::\d\d)?|[A-Za-z.]+").match(s, pos)
            pos = m.end() if m else pos
            continue
        pattern = _FIELD_RES.get(up)
        if pattern is None:
            raise ValueError(f"template pattern {kw!r} is not supported when parsing")
        if index + 1 < len(tokens) and tokens[index + 1][0] == "kw" and up in _WIDTHS:
            pattern = rf"\d{{1,{_WIDTHS[up]}}}"  # fields run together (YYYYMMDD): each takes its width
        m = re.compile(pattern).match(s, pos)
        if m is None:
            raise ValueError(f"invalid value {s[pos:pos + 6]!r} for {kw!r} in {text!r}")
        pos = m.end()
        v = m.group().replace(",", "")
        n = int(v)
        if up in ("YYYY", "Y,YYY", "IYYY"):
            year = n
        elif up in ("YYY", "YY", "Y"):
            # PostgreSQL picks the year nearest 2020 with those last digits
            year = n + (2000 if len(v) <= 2 and n < 70 else 1900 if len(v) <= 2 else 2000 if n < 100 else 1000)
        elif up == "MM":
            month = n
        elif up == "DD":
            day = n
        elif up == "DDD":
            doy = n
        elif up in ("HH24", "HH12", "HH"):
            hour = n
        elif up == "MI":
            minute = n
        elif up == "SS":
            second = n
        elif up == "MS":
            micro = int(v.ljust(3, "0")) * 1000
        elif up == "US" or up.startswith("FF"):
            micro = int(v.ljust(6, "0")[:6])
        elif up in ("SSSS", "SSSSS"):
            hour, rest = divmod(n, 3600)
            minute, second = divmod(rest, 60)
        elif up == "J":
            d = datetime.date.fromordinal(n - 1_721_425)
            year, month, day = d.year, d.month, d.day
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)
    year = 1 if year is None else year
    if doy is not None:
        base = datetime.date(year, 1, 1) + datetime.timedelta(days=doy - 1)
        month, day = base.month, base.day
    return datetime.datetime(year, month, day, hour, minute, second, micro)


def to_timestamp(text: str | None, fmt: str | None) -> datetime.datetime | None:
    """PostgreSQL's ``to_timestamp(text, fmt)`` (without time zone; NULL: None).

    >>> to_timestamp("05 Dec 2000 4:07 PM", "DD Mon YYYY HH12:MI AM")
    datetime.datetime(2000, 12, 5, 16, 7)
    """
    if text is None or fmt is None:
        return None
    return _parse_datetime(text, fmt)


def to_date(text: str | None, fmt: str | None) -> datetime.date | None:
    """PostgreSQL's ``to_date(text, fmt)`` (NULL: None).

    >>> to_date("2024/03/05", "YYYY/MM/DD")
    datetime.date(2024, 3, 5)
    """
    t = to_timestamp(text, fmt)
    return None if t is None else t.date()


def to_number(text: str | None, fmt: str | None) -> decimal.Decimal | None:
    """PostgreSQL's ``to_number(text, fmt)``: the digits and decimal point the template reads,
    negative for a minus sign or angle brackets (NULL: None).

    >>> to_number("12,454.8-", "99G999D9S")
    Decimal('-12454.8')
    """
    if text is None or fmt is None:
        return None
    negative = "-" in text or ("<" in text and ">" in text)
    body = re.sub(r"[^0-9.]", "", text)
    after_v = fmt.upper().split("V", 1)[1] if "V" in fmt.upper() else ""
    value = decimal.Decimal(body or "0").scaleb(-sum(c in "90" for c in after_v))
    return -value if negative else value


# ---------------------------------------------------------------- GROUP BY and functional dependency
_PRUNE = (exp.AggFunc, exp.Filter, exp.WithinGroup, exp.Subquery, exp.Select)


def group_by_dependencies(tree: exp.Expr) -> exp.Expr:
    """Add to each GROUP BY the plain columns its SELECT, HAVING and ORDER BY use outside
    aggregates and outside the grouped expressions (PostgreSQL accepts them when they depend on
    a grouped primary key; grouping by them too changes no group). In place; returns `tree`.

    >>> import sqlglot
    >>> group_by_dependencies(sqlglot.parse_one("SELECT c.id, c.name, COUNT(*) AS n FROM c GROUP BY c.id ORDER BY n")).sql()
    'SELECT c.id, c.name, COUNT(*) AS n FROM c GROUP BY c.id, c.name ORDER BY n'
    """
    for select in list(tree.find_all(exp.Select)):
        group = select.args.get("group")
        if group is None or not group.expressions or any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "all")):
            continue
        aliases = {s.alias.lower(): s.this for s in select.expressions if isinstance(s, exp.Alias)}
        keys: list[exp.Expr] = []
        for key in group.expressions:
            if isinstance(key, exp.Literal) and key.is_int and 0 < int(key.name) <= len(select.expressions):
                item = select.expressions[int(key.name) - 1]
                key = item.this if isinstance(item, exp.Alias) else item
            elif isinstance(key, exp.Column) and not key.table and key.name.lower() in aliases:
                key = aliases[key.name.lower()]
            keys.append(key)
        key_columns = {(k.table.lower(), k.name.lower()) for k in keys if isinstance(k, exp.Column)}
        key_names = {name for _, name in key_columns}

        def grouped(col: exp.Column) -> bool:
            table, name = col.table.lower(), col.name.lower()
            return (table, name) in key_columns or (name in key_names and (not table or ("", name) in key_columns))

        missing: list[exp.Column] = []

        def visit(node: exp.Expr, in_order: bool) -> None:
            if any(node == k for k in keys) or isinstance(node, _PRUNE):
                return
            if isinstance(node, exp.Column):
                if isinstance(node.this, exp.Star) or grouped(node) or any(node == m for m in missing):
                    return
                if in_order and not node.table and node.name.lower() in aliases:
                    return  # an output column named in HAVING / ORDER BY
                missing.append(node)
                return
            for child in node.iter_expressions():
                visit(child, in_order)

        for item in select.expressions:
            visit(item.this if isinstance(item, exp.Alias) else item, False)
        for clause in ("having", "order", "qualify"):
            if select.args.get(clause) is not None:
                visit(select.args[clause], True)
        for col in missing:
            group.append("expressions", col.copy())
    return tree
