"""core.periods: grains, period arithmetic and the one date range (hand-computed values)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from shopscope.core.periods import (
    GRAINS,
    MAX_PERIODS,
    DateRange,
    Day,
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


# -- one table of offsets and labels (hand-checked) ---------------------------------------
# (grain, a day, its period's start, the previous period, the same period a year ago, the
#  first day after it, its label). Weeks start on Monday: 2024-12-30 is the Monday of ISO
#  week 2025-W01, 2020-12-28 of 2020-W53 (a 53-week year); quarters start Jan/Apr/Jul/Oct.
OFFSETS = [
    ("day", D(2024, 3, 1), D(2024, 3, 1), D(2024, 2, 29), D(2023, 3, 1), D(2024, 3, 2),
     "2024-03-01"),
    ("week", D(2025, 1, 1), D(2024, 12, 30), D(2024, 12, 23), D(2024, 1, 1), D(2025, 1, 6),
     "2024-12-30"),
    ("week", D(2021, 1, 3), D(2020, 12, 28), D(2020, 12, 21), D(2019, 12, 30), D(2021, 1, 4),
     "2020-12-28"),
    ("month", D(2024, 3, 31), D(2024, 3, 1), D(2024, 2, 1), D(2023, 3, 1), D(2024, 4, 1),
     "2024-03"),
    ("month", D(2024, 1, 15), D(2024, 1, 1), D(2023, 12, 1), D(2023, 1, 1), D(2024, 2, 1),
     "2024-01"),
    ("quarter", D(2024, 2, 29), D(2024, 1, 1), D(2023, 10, 1), D(2023, 1, 1), D(2024, 4, 1),
     "2024-Q1"),
    ("quarter", D(2023, 12, 31), D(2023, 10, 1), D(2023, 7, 1), D(2022, 10, 1), D(2024, 1, 1),
     "2023-Q4"),
    ("year", D(2024, 7, 15), D(2024, 1, 1), D(2023, 1, 1), D(2023, 1, 1), D(2025, 1, 1),
     "2024"),
]


@pytest.mark.parametrize(("grain", "day", "start", "previous", "year_before", "after", "text"),
                         OFFSETS)
def test_offsets_and_labels(grain, day, start, previous, year_before, after, text):
    assert period_start(day, grain) == start
    assert shift(start, grain, -1) == previous
    assert year_ago(start, grain) == year_before
    assert period_end(start, grain) == after
    assert label(start, grain) == text
    if grain == "week":  # a week-ago year is 52 weeks: still a Monday
        assert year_before.weekday() == 0 and (start - year_before).days == 364


def test_every_grain_is_in_the_offset_table():
    assert {g for g, *_ in OFFSETS} == set(GRAINS)


def test_kpi_comparisons_use_the_offset_table():
    # The KPI table's 环比/同比 rows point at the periods of the table above.
    import pyarrow as pa

    from shopscope.kpis.queries import kpis
    from shopscope.schema import get_table
    from shopscope.store import connect

    store = connect("duckdb://")
    rows = [dict(order_id=f"o{i}", customer_id="c", ordered_at=dt.datetime(*d, 12),
                 channel="web", status="completed", gross_amount=g, discount_amount=0.0,
                 shipping_amount=0.0, net_amount=g, currency="GBP")
            for i, (d, g) in enumerate([((2023, 12, 26), 10.0), ((2024, 1, 1), 30.0),
                                        ((2024, 12, 30), 40.0), ((2025, 1, 2), 5.0)])]
    schema = get_table("orders").ibis_schema().to_pyarrow()
    store.backend.create_table("orders", pa.Table.from_pylist(rows, schema=schema))
    weeks = kpis(store, grain="week").data.query("metric == 'gmv'").set_index("period")
    # ISO 2025-W01 (Mon 2024-12-30 .. Sun 2025-01-05) holds 40 + 5; 52 weeks earlier is
    # the week of Mon 2024-01-01 (30); the previous week (2024-12-23) has no orders.
    w1 = weeks.loc[pd.Timestamp("2024-12-30")]
    assert (w1["value"], w1["yoy_value"]) == (45.0, 30.0) and pd.isna(w1["previous"])
    # and the week of 2024-01-01 follows the week of 2023-12-25 (10)
    assert weeks.loc[pd.Timestamp("2024-01-01"), "previous"] == 10.0


# -- one parser, the same inputs everywhere -----------------------------------------------
GOOD = [("2011-12-09", D(2011, 12, 9)), (" 2011-12-09 ", D(2011, 12, 9)),
        ("2011-12-09T12:50", D(2011, 12, 9)), ("2011-12-09 12:50:00", D(2011, 12, 9)),
        ("2024-02-29", D(2024, 2, 29))]
BAD = ["9/12/2011", "20111209", "2011-W49-5", "1323388800", "2011-12-09x", "2011-13-01",
       "2023-02-29", "9999-01-01", "", "yesterday"]


def _readers():
    """Every place a date arrives as text, each reduced to: the day, or an error."""
    from pydantic import TypeAdapter

    from shopscope.behaviour import service as behaviour
    from shopscope.cli import check_range
    from shopscope.customers.lifecycle import _day
    from shopscope.kpis import service as kpis
    from shopscope.ui.filters import ShopOptions, parse_filters

    api = TypeAdapter(Day)

    def page(v):
        f, problems = parse_filters({"start": v}, ShopOptions())
        if problems:
            raise ValueError(problems)
        return f.start

    def behaviour_page(v):
        from shopscope.behaviour.pages import Options
        from shopscope.ui.i18n import Translator

        opts = Options(Translator("en"), {"start": v})
        day = opts.date("start")
        if opts.messages:
            raise ValueError(opts.messages)
        return day

    def cli(v):
        check_range(v, None)
        return parse_date(v, "--start")

    return {
        "core": lambda v: parse_date(v, "start"),
        "api query": api.validate_python,
        "kpi service": lambda v: kpis.KpiParams.of(start=v).start,
        "behaviour service": lambda v: behaviour.TrendParams(start=v).start,
        "overview page": page,
        "behaviour page": behaviour_page,
        "cli": cli,
        "lifecycle": lambda v: _day(v, "as_of"),
    }


@pytest.mark.parametrize(("text", "day"), GOOD)
def test_one_parser_reads_the_same_day_everywhere(text, day):
    for where, read in _readers().items():
        assert read(text) == day, where


@pytest.mark.parametrize("text", BAD)
def test_one_parser_refuses_the_same_text_everywhere(text):
    for where, read in _readers().items():
        if text == "" and where.endswith("page"):
            continue  # an empty field is "not given" there
        with pytest.raises(ValueError):
            read(text)
        assert where


def test_partial_rule_is_one_function():
    # KPIs, the trends' TrendResult and the behaviour pages mark periods with core's rule.
    from importlib import import_module

    from shopscope.behaviour import service as behaviour
    from shopscope.core import periods
    from shopscope.kpis import queries, report, service

    trends = import_module("shopscope.behaviour.trends")  # the package exports trends()

    assert queries.is_partial is trends.is_partial is report.is_partial is periods.is_partial
    assert service.partial_periods is periods.partial_periods
    assert behaviour.core_partial is periods.partial_periods
    assert not hasattr(queries, "partial_periods") and not hasattr(trends, "partial_periods")
