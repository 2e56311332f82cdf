"""core.periods: grains, period arithmetic and the one date range (hand-computed values)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from shopscope.core.periods import (
    GRAINS,
    MAX_PERIODS,
    DateRange,
    PeriodError,
    check_grain,
    is_partial,
    label,
    parse_date,
    period_end,
    period_start,
    shift,
    year_ago,
)
from shopscope.errors import OptionError

D = dt.date


@pytest.mark.parametrize(("day", "grain", "start"), [
    (D(2024, 2, 29), "day", D(2024, 2, 29)),
    (D(2024, 2, 29), "week", D(2024, 2, 26)),   # a Thursday; Monday the 26th
    (D(2024, 3, 3), "week", D(2024, 2, 26)),    # a Sunday belongs to the week before
    (D(2024, 2, 29), "month", D(2024, 2, 1)),
    (D(2024, 12, 31), "quarter", D(2024, 10, 1)),
    (D(2024, 4, 1), "quarter", D(2024, 4, 1)),
    (D(2024, 7, 15), "year", D(2024, 1, 1)),
])
def test_period_start(day, grain, start):
    assert period_start(day, grain) == start


def test_period_start_matches_pandas_periods():
    # An independent calendar: pandas' Period (weeks ending on Sunday = starting Monday).
    freq = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}
    for day in pd.date_range("2023-12-20", "2025-01-10", freq="D"):
        for grain in GRAINS:
            expected = day.to_period(freq[grain]).start_time.date()
            assert period_start(day.date(), grain) == expected, (day, grain)


@pytest.mark.parametrize(("start", "grain", "n", "expected"), [
    (D(2024, 1, 31), "month", 1, D(2024, 2, 29)),   # clipped to the month's last day
    (D(2023, 11, 1), "quarter", 1, D(2024, 2, 1)),
    (D(2024, 1, 1), "year", -1, D(2023, 1, 1)),
    (D(2024, 1, 1), "week", -1, D(2023, 12, 25)),
    (D(2024, 3, 1), "day", -1, D(2024, 2, 29)),
    (D(2024, 12, 1), "month", 1, D(2025, 1, 1)),
])
def test_shift(start, grain, n, expected):
    assert shift(start, grain, n) == expected


def test_period_end_and_year_ago():
    assert period_end(D(2011, 10, 1), "quarter") == D(2012, 1, 1)
    assert period_end(D(2011, 12, 9), "day") == D(2011, 12, 10)
    assert year_ago(D(2011, 12, 5), "week") == D(2010, 12, 6)  # 364 days: still a Monday
    assert year_ago(D(2012, 2, 1), "month") == D(2011, 2, 1)


def test_labels():
    assert label(D(2011, 12, 5), "week") == "2011-12-05"
    assert label(D(2011, 4, 1), "quarter") == "2011-Q2"
    assert label(D(2011, 12, 1), "month") == "2011-12"


def test_parse_date_and_errors_name_the_parameter():
    assert parse_date(dt.datetime(2011, 12, 9, 23, 59), "end") == D(2011, 12, 9)
    with pytest.raises(PeriodError, match="start='31/12/2011' is not a date"):
        parse_date("31/12/2011", "start")
    with pytest.raises(PeriodError, match="end=9999-01-01 is out of range"):
        parse_date("9999-01-01", "end")
    with pytest.raises(OptionError):  # the project's option error: exit code and 422
        check_grain("fortnight")
    with pytest.raises(ValueError, match="grain must be one of day, week, month"):
        check_grain("hour", ("day", "week", "month"))


def test_range_both_ends_included():
    r = DateRange.parse("2011-12-01", "2011-12-09")
    assert (r.start, r.end, r.stop) == (D(2011, 12, 1), D(2011, 12, 9), D(2011, 12, 10))
    assert DateRange.from_stop("2011-12-01", "2011-12-10") == r
    assert DateRange.parse("2011-12-09", "2011-12-09").count("day") == 1
    with pytest.raises(PeriodError, match="start 2011-12-09 is after end 2011-12-01"):
        DateRange.parse("2011-12-09", "2011-12-01")
    with pytest.raises(PeriodError, match="not before end"):
        DateRange.from_stop("2011-12-01", "2011-12-01")


@pytest.mark.parametrize(("start", "end", "grain", "n"), [
    ("2011-01-01", "2011-12-31", "day", 365),
    ("2011-01-01", "2011-12-31", "week", 53),   # Mon 2010-12-27 .. Mon 2011-12-26
    ("2011-01-31", "2011-03-01", "month", 3),
    ("2011-03-31", "2011-04-01", "quarter", 2),
    ("2010-06-01", "2011-06-01", "year", 2),
])
def test_count(start, end, grain, n):
    assert DateRange.parse(start, end).count(grain) == n


def test_span_limit_and_clamp():
    wide = DateRange.parse("1900-01-01", "2199-12-31")  # 300 * 365 + 73 leap days
    with pytest.raises(PeriodError, match=r"gives 109,573 periods, more than the limit of 3,660"):
        wide.check_span("day")
    wide.check_span("year")  # 300 periods: fine
    data = wide.clamp(D(2010, 12, 1), D(2011, 12, 9))
    assert data == DateRange(D(2010, 12, 1), D(2011, 12, 9))
    data.check_span("day")
    assert DateRange(None, D(2011, 1, 1)).clamp(D(2010, 12, 1), D(2011, 12, 9)) == \
        DateRange(D(2010, 12, 1), D(2011, 1, 1))
    assert MAX_PERIODS >= 366 * 10


def test_partial_periods():
    last = pd.Timestamp("2011-12-09 12:50")
    assert is_partial(D(2011, 12, 1), "month", last)
    assert not is_partial(D(2011, 11, 1), "month", last)
    assert not is_partial(D(2011, 12, 9), "day", last)
    assert not is_partial(D(2011, 11, 1), "month", pd.NaT)
    r = DateRange.parse("2011-11-15", "2011-11-30")
    assert is_partial(D(2011, 11, 1), "month", None, r)       # starts inside the month
    assert not is_partial(D(2011, 12, 1), "month", None, DateRange.parse(None, "2011-12-31"))
