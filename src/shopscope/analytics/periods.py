"""How many periods a grain may cut a date range into: one rule for API, pages and CLI.

A range reaching far beyond the data (``start=1900-01-01&end=2199-12-31``) is first
clamped to the data's own first and last day, widened to whole periods of the grain (the
periods outside hold nothing; the edge periods keep all their days). What is
left may still be cut into at most :data:`MAX_PERIODS` periods (ten years of days); more is
refused with an :class:`~shopscope.errors.OptionError` naming the grain, the count and the
limit, so one request cannot make the server build a spine of 100,000 days.

>>> import datetime as dt
>>> count_periods(dt.date(2011, 1, 1), dt.date(2011, 12, 31), "week")
53
>>> bound("day", dt.date(1900, 1, 1), dt.date(2199, 12, 31),
...       (dt.date(2011, 1, 3), dt.date(2011, 2, 1)))
(datetime.date(2011, 1, 3), datetime.date(2011, 2, 1))
>>> bound("month", dt.date(1900, 1, 1), dt.date(2199, 12, 31),
...       (dt.date(2011, 1, 3), dt.date(2011, 2, 1)))
(datetime.date(2011, 1, 1), datetime.date(2011, 2, 28))
>>> bound("day", dt.date(2000, 1, 1), dt.date(2019, 12, 31), None)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shopscope.errors.OptionError: grain=day over 7,305 days gives 7,305 periods, more than ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from shopscope.analytics.base import TableSource
from shopscope.errors import OptionError

__all__ = ["MAX_PERIODS", "bound", "count_periods", "data_span"]

#: The most periods one request may produce (ten years of days, 300 years of months).
MAX_PERIODS = 3660

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def count_periods(first: dt.date, last: dt.date, grain: str) -> int:
    """The periods of ``grain`` touched by the days ``first``..``last`` (both included)."""
    if last < first:
        return 0
    if grain == "day":
        return (last - first).days + 1
    if grain == "week":
        monday = first - dt.timedelta(days=first.weekday())
        return (last - monday).days // 7 + 1
    step = _MONTHS.get(grain)
    if step is None:  # the callers check their grain; an unknown one counts as days
        return (last - first).days + 1
    a = first.year * 12 + (first.month - 1)
    b = last.year * 12 + (last.month - 1)
    return b // step - a // step + 1


def _whole_periods(first: dt.date, last: dt.date, grain: str) -> tuple[dt.date, dt.date]:
    """``first``/``last`` widened to the start and end of their periods: clamping keeps whole
    periods, so a period's averages over its days in range are those of the full range."""
    if grain == "week":
        lo = first - dt.timedelta(days=first.weekday())
        return lo, last + dt.timedelta(days=6 - last.weekday())
    step = _MONTHS.get(grain)
    if step is None:
        return first, last
    lo = dt.date(first.year, (first.month - 1) // step * step + 1, 1)
    n = last.year * 12 + (last.month - 1) // step * step + step  # months to the next start
    return lo, dt.date(n // 12, n % 12 + 1, 1) - dt.timedelta(days=1)


def data_span(source: TableSource,
              columns: Iterable[tuple[str, str]]) -> tuple[dt.date, dt.date] | None:
    """The first and last day with data over ``(table, time column)`` pairs, or None."""
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
    """``start``/``end`` clamped to ``span`` (the data's first and last day), then checked.

    ``end_exclusive`` says ``end`` is the first day after the range (KPIs' ``[start,
    end)``); the returned end keeps that meaning. A range that misses the data entirely is
    left as it is (and counted as given). ``clamp=False`` only checks (for a range whose
    first period must stay where the user put it, such as a comparison range).

    Raises
    ------
    OptionError
        When the range holds more than :data:`MAX_PERIODS` periods of ``grain``.
    """
    last_in = None if end is None else end - dt.timedelta(days=1) if end_exclusive else end
    lo, hi = start, last_in
    if span is not None:
        first, last = _whole_periods(*span, grain)
        overlaps = (lo is None or lo <= last) and (hi is None or hi >= first)
        if overlaps and clamp:
            lo = first if lo is None or lo < first else lo
            hi = last if hi is None or hi > last else hi
        elif overlaps:
            lo = first if lo is None else lo
            hi = last if hi is None else hi
    if lo is not None and hi is not None:
        n = count_periods(lo, hi, grain)
        if n > MAX_PERIODS:
            days = (hi - lo).days + 1
            raise OptionError(
                f"grain={grain} over {days:,} days gives {n:,} periods, "
                f"more than the limit of {MAX_PERIODS:,}",
                hint="use a coarser grain (week or month) or a shorter range (start/end)")
    if not clamp:
        return start, end
    out_end = None if end is None else hi
    if out_end is not None and end_exclusive:
        out_end = out_end + dt.timedelta(days=1)
    out_start = None if start is None else lo
    return out_start, out_end
