"""Periods and date ranges, once for every area: grains, the period a day falls in, the
previous and year-ago period, partial periods, one date parser and one range type.

The convention: a :class:`DateRange` is ``start`` to ``end``, **both days included** (an
operator's "1 to 31 March"); :attr:`DateRange.stop` is the first day after it, the
exclusive bound the queries filter with (``start <= t < stop``).

>>> r = DateRange.parse("2011-12-01", "2011-12-31")
>>> r.stop, r.count("week")
(datetime.date(2012, 1, 1), 5)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, get_args

from pydantic import BeforeValidator, ValidationInfo

from shopscope.errors import OptionError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from shopscope.core.tables import TableSource

Grain = Literal["day", "week", "month", "quarter", "year"]
#: Every grain, shortest first.
GRAINS: tuple[str, ...] = get_args(Grain)
#: The grains of the event analyses (trends, funnels, retention, cohorts): activity per
#: quarter or year says little about behaviour, so those take the three shortest.
FineGrain = Literal["day", "week", "month"]
FINE_GRAINS: tuple[str, ...] = get_args(FineGrain)
#: Ibis truncation units (weeks start on Monday).
TRUNCATE_UNIT = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}

#: Dates outside this span are refused at every edge (the store ignores rows outside it).
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
#: The most periods one request may produce (ten years of days).
MAX_PERIODS = 3660


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]|$)")


class PeriodError(OptionError):
    """An unknown grain, an unreadable or out-of-range date, or an inverted range."""


def check_grain(grain: str, allowed: tuple[str, ...] = GRAINS, name: str = "grain") -> str:
    """``grain`` if it is one of ``allowed``; :class:`PeriodError` listing them otherwise.

    >>> check_grain("week")
    'week'
    """
    if grain not in allowed:
        raise PeriodError(f"{name} must be one of {', '.join(allowed)}, not {grain!r}",
                          hint=f'e.g. {name}="{allowed[min(1, len(allowed) - 1)]}" '
                          "(weeks start on Monday)")
    return grain


def parse_date(value: dt.date | str | None, name: str) -> dt.date | None:
    """A date from a date, a datetime or ``YYYY-MM-DD`` text, optionally followed by a time
    (``2011-12-09T12:50``: the day is kept); None stays None. The one date parser of every
    area, adapter and page. Within :data:`MIN_DATE` .. :data:`MAX_DATE`;
    :class:`PeriodError` naming ``name`` otherwise.

    >>> parse_date("2011-12-09", "end"), parse_date(" 2011-12-09 12:50:00", "end")
    (datetime.date(2011, 12, 9), datetime.date(2011, 12, 9))
    >>> parse_date(None, "end") is None
    True
    >>> parse_date("9/12/2011", "end")
    Traceback (most recent call last):
    ...
    shopscope.core.periods.PeriodError: end='9/12/2011' is not a date
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        text = str(value).strip()
        try:
            if not _ISO_DAY.match(text):  # not the other ISO forms (20111209, 2011-W49-5)
                raise ValueError(text)
            # a time after the day (an exported timestamp) is allowed and dropped
            day = (dt.date.fromisoformat(text) if len(text) == 10
                   else dt.datetime.fromisoformat(text).date())
        except ValueError:
            raise PeriodError(f"{name}={value!r} is not a date",
                              hint="write dates as YYYY-MM-DD") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise PeriodError(f"{name}={day.isoformat()} is out of range",
                          hint=f"use a date between {MIN_DATE} and {MAX_DATE}")
    return day


def _validate_day(value: object, info: ValidationInfo) -> object:
    return parse_date(value, info.field_name or "date") if isinstance(value, str) else value


#: A date parameter (API query, service parameters) read by :func:`parse_date`, so an API
#: URL, a CLI option and a page link accept the same text (pydantic alone would take a
#: Unix time such as ``1323388800`` and refuse ``2011-12-09T12:50``).
Day = Annotated[dt.date, BeforeValidator(_validate_day)]


def truncate(ts: ir.TimestampValue, grain: str) -> ir.DateValue:
    """The engine expression for the first day of the period ``ts`` falls in."""
    return ts.truncate(TRUNCATE_UNIT[check_grain(grain)]).cast("date")


def period_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the period ``day`` falls in (weeks start on Monday).

    >>> period_start(dt.date(2011, 12, 9), "week"), period_start(dt.date(2011, 12, 9), "quarter")
    (datetime.date(2011, 12, 5), datetime.date(2011, 10, 1))
    """
    check_grain(grain)
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    month = 1 if grain == "year" else (day.month - 1) // _MONTHS[grain] * _MONTHS[grain] + 1
    return dt.date(day.year, month, 1)


def shift(start: dt.date, grain: str, n: int = 1) -> dt.date:
    """The start of the period ``n`` periods after the one starting on ``start``.

    >>> shift(dt.date(2011, 12, 1), "month"), shift(dt.date(2011, 1, 3), "week", -1)
    (datetime.date(2012, 1, 1), datetime.date(2010, 12, 27))
    """
    check_grain(grain)
    if grain == "day":
        return start + dt.timedelta(days=n)
    if grain == "week":
        return start + dt.timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n * _MONTHS[grain]
    year, month = divmod(months, 12)
    last = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1))
    return dt.date(year, month + 1, min(start.day, last.day))


def period_end(start: dt.date, grain: str) -> dt.date:
    """The first day after the period that starts on ``start``.

    >>> period_end(dt.date(2011, 12, 1), "month"), period_end(dt.date(2011, 12, 5), "week")
    (datetime.date(2012, 1, 1), datetime.date(2011, 12, 12))
    """
    return shift(start, grain, 1)


def year_ago(start: dt.date, grain: str) -> dt.date:
    """The same period a year earlier (同比): 52 weeks for weeks, so a Monday stays a Monday.

    >>> year_ago(dt.date(2011, 12, 5), "week"), year_ago(dt.date(2011, 12, 1), "month")
    (datetime.date(2010, 12, 6), datetime.date(2010, 12, 1))
    """
    return shift(start, grain, -52) if grain == "week" else shift(start, "year", -1)


def label(start: dt.date, grain: str) -> str:
    """A period's language-neutral label: ``2011-12-05`` for days and weeks (the Monday),
    ``2011-12``, ``2011-Q4``, ``2011``.

    >>> [label(dt.date(2011, 10, 1), g) for g in ("month", "quarter", "year")]
    ['2011-10', '2011-Q4', '2011']
    """
    check_grain(grain)
    if grain in ("day", "week"):
        return start.isoformat()
    if grain == "month":
        return f"{start:%Y-%m}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


@dataclass(frozen=True)
class DateRange:
    """Days ``start`` to ``end``, both included; either may be open (None)."""

    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise PeriodError(
                f"start {self.start} is after end {self.end}",
                hint="the range is start to end, both days included; swap them")

    @classmethod
    def parse(cls, start: dt.date | str | None, end: dt.date | str | None) -> DateRange:
        """A range from two dates or ``YYYY-MM-DD`` strings (see :func:`parse_date`)."""
        return cls(parse_date(start, "start"), parse_date(end, "end"))

    @classmethod
    def from_stop(cls, start: dt.date | str | None, stop: dt.date | str | None) -> DateRange:
        """A range from an exclusive upper bound (``start <= day < stop``)."""
        first, after = parse_date(start, "start"), parse_date(stop, "end")
        if first and after and first >= after:
            raise PeriodError(f"start {first} is not before end {after}",
                              hint="this end is exclusive: the range is [start, end)")
        return cls(first, after - dt.timedelta(days=1) if after else None)

    @property
    def stop(self) -> dt.date | None:
        """The first day after the range: queries keep ``start <= t < stop``."""
        return self.end + dt.timedelta(days=1) if self.end else None

    def clamp(self, first: dt.date | None, last: dt.date | None) -> DateRange:
        """The range cut to the data's own days (``first`` .. ``last``) where it reaches
        beyond them; open ends take the data's."""
        start = max(filter(None, (self.start, first)), default=None)
        end = min(filter(None, (self.end, last)), default=None)
        if start and end and start > end:  # no overlap: keep an empty one-day range
            end = start
        return DateRange(start, end)

    def count(self, grain: str) -> int:
        """How many ``grain`` periods the range touches (0 when an end is open)."""
        if self.start is None or self.end is None:
            return 0
        first, last = period_start(self.start, grain), period_start(self.end, grain)
        if grain == "day":
            return (last - first).days + 1
        if grain == "week":
            return (last - first).days // 7 + 1
        months = (last.year - first.year) * 12 + last.month - first.month
        return months // _MONTHS[grain] + 1

    def check_span(self, grain: str, limit: int = MAX_PERIODS) -> None:
        """:class:`PeriodError` when the range holds more than ``limit`` periods."""
        n = self.count(grain)
        if n > limit:
            assert self.start is not None and self.end is not None
            days = (self.end - self.start).days + 1
            raise PeriodError(
                f"grain={grain} over {days:,} days gives {n:,} periods, "
                f"more than the limit of {limit:,}",
                hint="use a coarser grain (week or month) or a shorter range (start/end)")


def is_partial(period: dt.date, grain: str, last: dt.date | dt.datetime | None,
               range_: DateRange | None = None) -> bool:
    """True when the data do not cover the whole period: the data's last day (``last``)
    ends before the period does, or the range cuts it at either end.

    The demo's Online Retail ends on 2011-12-09, so December 2011 is partial and November
    is not:

    >>> last = dt.datetime(2011, 12, 9, 12, 50)
    >>> is_partial(dt.date(2011, 12, 1), "month", last), is_partial(dt.date(2011, 11, 1),
    ...                                                             "month", last)
    (True, False)
    >>> is_partial(dt.date(2011, 11, 1), "month", None, DateRange.parse(None, "2011-11-29"))
    True
    """
    stop = period_end(period, grain)
    if last is not None and last == last:  # NaT (no data) never equals itself
        day = last.date() if isinstance(last, dt.datetime) else last
        if day + dt.timedelta(days=1) < stop:
            return True
    if range_ is not None:
        if range_.stop is not None and range_.stop < stop:
            return True
        if range_.start is not None and range_.start > period:
            return True
    return False


def partial_periods(periods: Iterable[dt.date], grain: str, last: dt.date | dt.datetime | None,
                    range_: DateRange | None = None) -> set[dt.date]:
    """The ``periods`` that :func:`is_partial` marks: one rule for the KPIs, the trends
    and every table that flags a period cut short.

    >>> months = [dt.date(2011, 11, 1), dt.date(2011, 12, 1)]
    >>> sorted(partial_periods(months, "month", dt.date(2011, 12, 31),
    ...                        DateRange.parse("2011-11-02", None)))
    [datetime.date(2011, 11, 1)]
    """
    return {p for p in periods if is_partial(p, grain, last, range_)}


def latest_full(periods: list[dt.date], grain: str, last: dt.date | dt.datetime | None,
                range_: DateRange | None = None) -> dt.date:
    """The last of ``periods`` (sorted) that neither the data's end (``last``) nor the
    range's ``end`` cuts short (a range ``start`` inside the first period does not count:
    that period still ends where it should); the last period when every one is cut.

    >>> months = [dt.date(2011, 11, 1), dt.date(2011, 12, 1)]
    >>> latest_full(months, "month", dt.date(2011, 12, 9))
    datetime.date(2011, 11, 1)
    >>> latest_full(months, "month", None, DateRange.parse(None, "2011-12-31"))
    datetime.date(2011, 12, 1)
    """
    tail = DateRange(None, range_.end) if range_ is not None else None
    for p in reversed(periods):
        if not is_partial(p, grain, last, tail):
            return p
    return periods[-1]


def count_periods(first: dt.date, last: dt.date, grain: str) -> int:
    """The periods of ``grain`` touched by the days ``first``..``last`` (both included; 0
    when ``last`` is before ``first``)."""
    return 0 if last < first else DateRange(first, last).count(grain)


def whole_periods(first: dt.date, last: dt.date, grain: str) -> tuple[dt.date, dt.date]:
    """``first``/``last`` widened to the first and last day of their periods.

    >>> whole_periods(dt.date(2011, 1, 3), dt.date(2011, 2, 1), "month")
    (datetime.date(2011, 1, 1), datetime.date(2011, 2, 28))
    """
    return (period_start(first, grain),
            period_end(period_start(last, grain), grain) - dt.timedelta(days=1))


def data_span(source: TableSource,
              columns: Iterable[tuple[str, str]]) -> tuple[dt.date, dt.date] | None:
    """The first and last day with data over ``(table, time column)`` pairs, or None."""
    import pandas as pd

    lows, highs = [], []
    for name, col in columns:
        t = source.table(name)
        row = t.aggregate(lo=t[col].min(), hi=t[col].max()).execute().iloc[0]
        if row["lo"] is not None and not pd.isna(row["lo"]):
            lows.append(pd.Timestamp(row["lo"]).date())
            highs.append(pd.Timestamp(row["hi"]).date())
    return (min(lows), max(highs)) if lows else None


def bound(grain: str, start: dt.date | None, end: dt.date | None,
          span: tuple[dt.date, dt.date] | None, *, clamp: bool = True,
          end_exclusive: bool = False) -> tuple[dt.date | None, dt.date | None]:
    """``start``/``end`` clamped to ``span`` (the data's first and last day, widened to
    whole periods of ``grain``: the periods outside hold nothing, the edge periods keep all
    their days), then checked against :data:`MAX_PERIODS`, so one request cannot make the
    server build a spine of 100,000 days.

    ``end_exclusive`` says ``end`` is the first day after the range; the returned end keeps
    that meaning. A range that misses the data entirely is left as it is (and counted as
    given). ``clamp=False`` only checks (for a range whose first period must stay where the
    user put it, such as a comparison range).

    >>> bound("month", dt.date(1900, 1, 1), dt.date(2199, 12, 31),
    ...       (dt.date(2011, 1, 3), dt.date(2011, 2, 1)))
    (datetime.date(2011, 1, 1), datetime.date(2011, 2, 28))
    >>> bound("day", dt.date(2000, 1, 1), dt.date(2019, 12, 31), None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopscope.core.periods.PeriodError: grain=day over 7,305 days gives 7,305 periods, ...

    Raises
    ------
    PeriodError
        When the range holds more than :data:`MAX_PERIODS` periods of ``grain``.
    """
    check_grain(grain)
    last_in = None if end is None else end - dt.timedelta(days=1) if end_exclusive else end
    lo, hi = start, last_in
    if span is not None:
        first, last = whole_periods(*span, grain)
        overlaps = (lo is None or lo <= last) and (hi is None or hi >= first)
        if overlaps and clamp:
            lo = first if lo is None or lo < first else lo
            hi = last if hi is None or hi > last else hi
        elif overlaps:
            lo = first if lo is None else lo
            hi = last if hi is None else hi
    if lo is not None and hi is not None and lo <= hi:
        DateRange(lo, hi).check_span(grain)
    if not clamp:
        return start, end
    out_end = None if end is None else hi
    if out_end is not None and end_exclusive:
        out_end = out_end + dt.timedelta(days=1)
    return (None if start is None else lo), out_end
