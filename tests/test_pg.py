"""tools.pg: PostgreSQL's interval input and formatting functions, checked against the examples
in PostgreSQL's documentation (to_char tables) and hand-worked cases."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from chaos_llama.tools.pg import Interval, parse_interval, to_char, to_date, to_number, to_timestamp

# PostgreSQL documentation, "Data Type Formatting Functions", to_char examples for numbers.
NUMBER_EXAMPLES = [
    (-0.1, "99.99", "  -.10"), (-0.1, "FM9.99", "-.1"), (-0.1, "FM90.99", "-0.1"), (0.1, "0.9", " 0.1"),
    (12, "9990999.9", "    0012.0"), (12, "FM9990999.9", "0012."), (485, "999", " 485"), (-485, "999", "-485"),
    (485, "9 9 9", " 4 8 5"), (1485, "9,999", " 1,485"), (1485, "9G999", " 1,485"), (148.5, "999.999", " 148.500"),
    (148.5, "FM999.999", "148.5"), (148.5, "FM999.990", "148.500"), (148.5, "999D999", " 148.500"),
    (3148.5, "9G999D999", " 3,148.500"), (-485, "999S", "485-"), (-485, "999MI", "485-"), (485, "999MI", "485 "),
    (485, "FM999MI", "485"), (485, "PL999", "+485"), (485, "SG999", "+485"), (-485, "SG999", "-485"),
    (-485, "9SG99", "4-85"), (-485, "999PR", "<485>"), (485, "RN", "        CDLXXXV"), (485, "FMRN", "CDLXXXV"),
    (5.2, "FMRN", "V"), (482, "999th", " 482nd"), (485, '"Good number:"999', "Good number: 485"),
    (485.8, '"Pre:"999" Post:" .999', "Pre: 485 Post: .800"), (12, "99V999", " 12000"), (12.4, "99V999", " 12400"),
    (12.45, "99V9", " 125"), (0.0004859, "9.99EEEE", " 4.86e-04"), (decimal.Decimal("1765.875"), "FM9999.99", "1765.88"),
]


@pytest.mark.parametrize(("value", "fmt", "want"), NUMBER_EXAMPLES, ids=[f"{v}|{f}" for v, f, _ in NUMBER_EXAMPLES])
def test_to_char_numbers_as_documented(value, fmt, want):
    assert to_char(value, fmt) == want


T = dt.datetime(2024, 1, 7, 5, 3, 9, 123456)  # a Sunday


@pytest.mark.parametrize(("fmt", "want"), [
    ("YYYY-MM-DD HH24:MI:SS", "2024-01-07 05:03:09"),
    ("Day, DD  HH12:MI:SS", "Sunday   , 07  05:03:09"),  # text patterns pad to 9 without FM
    ("FMDay, FMDD  HH12:MI:SS AM", "Sunday, 7  05:03:09 AM"),
    ("HH24:MI:SS.MS US FF3", "05:03:09.123 123456 123"),
    ("Mon/MON/mon/FMMonth", "Jan/JAN/jan/January"),
    ("Q WW IW D ID DDD J", "1 01 01 1 7 007 2460317"),
    ("YY YYY Y,YYY CC", "24 024 2,024 21"),
    ("DDth DDTH FMDDth", "07th 07TH 7th"),
    ('"Year" YYYY \\Q', "Year 2024 Q"),
    ("am A.M. pm", "am A.M. am"),
    # the INSERT: MySQL-style % codes are not PostgreSQL patterns; Y, d and i are (last digit
    # of the year, day of the week, last digit of the ISO year), the rest is literal text
    ("%Y%m%d %H:%i:%s", "%4%m%1 %H:%4:%s"),
])
def test_to_char_dates(fmt, want):
    assert to_char(T, fmt) == want


def test_to_char_dates_times_and_nulls():
    assert to_char(dt.date(2024, 2, 29), "FMMonth FMDDth") == "February 29th"
    assert to_char(dt.time(23, 5), "HH12:MI PM") == "11:05 PM"
    assert to_char(None, "YYYY") is None and to_char(T, None) is None
    with pytest.raises(TypeError):
        to_char(True, "9")


@pytest.mark.parametrize(("text", "fmt", "want"), [
    ("05 Dec 2000", "DD Mon YYYY", dt.datetime(2000, 12, 5)),
    ("20240305 1407", "YYYYMMDD HH24MI", dt.datetime(2024, 3, 5, 14, 7)),
    ("2024-03-05 02:07:09.25 PM", "YYYY-MM-DD HH12:MI:SS.US AM", dt.datetime(2024, 3, 5, 14, 7, 9, 250000)),
    ("March 5th, 2024", "Month DDth, YYYY", dt.datetime(2024, 3, 5)),
    ("2024 065", "YYYY DDD", dt.datetime(2024, 3, 5)),
])
def test_to_timestamp(text, fmt, want):
    assert to_timestamp(text, fmt) == want
    assert to_date(text, fmt) == want.date()


def test_to_number():
    assert to_number("12,454.8-", "99G999D9S") == decimal.Decimal("-12454.8")
    assert to_number("<12>", "99PR") == -12
    assert to_number("125", "99V9") == decimal.Decimal("12.5")
    assert to_number(None, "9") is None


@pytest.mark.parametrize(("text", "want"), [
    ("15 min", Interval(0, 0, 15 * 60 * 10**6)), ("2 hours", Interval(0, 0, 2 * 3600 * 10**6)),
    ("3 days", Interval(0, 3, 0)), ("1 mon", Interval(1, 0, 0)), ("1 year 2 mons", Interval(14, 0, 0)),
    ("1 day 02:03:04", Interval(0, 1, 7384 * 10**6)), ("1 02:00", Interval(0, 1, 7200 * 10**6)),
    ("@ 1 day ago", Interval(0, -1, 0)), ("-2 weeks", Interval(0, -14, 0)), ("1.5 days", Interval(0, 1, 12 * 3600 * 10**6)),
    ("1-2", Interval(14, 0, 0)), ("30", Interval(0, 0, 30 * 10**6)), ("P1Y2M3DT4H", Interval(14, 3, 4 * 3600 * 10**6)),
    ("10 secs 5 ms", Interval(0, 0, 10_005_000)), ("2 decades", Interval(240, 0, 0)), ("1 m", Interval(0, 0, 60 * 10**6)),
])
def test_parse_interval(text, want):
    assert parse_interval(text) == want


@pytest.mark.parametrize("text", ["", "abc", "15 mim", "1 day ago 2", "ago"])
def test_parse_interval_rejects_what_postgres_rejects(text):
    with pytest.raises(ValueError):
        parse_interval(text)
