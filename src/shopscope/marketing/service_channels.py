"""The channel report service: :func:`channel_report` (typed params in, frozen result out,
cached under the params' key). The range is widened to whole periods (a week report from a
Wednesday starts on the Monday), so a period and its reference are comparable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from shopscope.core import periods as P
from shopscope.core.periods import DateRange, Day, data_span
from shopscope.core.service import Context, Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.errors import ShopscopeError
from shopscope.marketing import channels as ch

Grain = Literal["day", "week", "month"]
Dimension = Literal["channel", "source", "medium", "campaign"]
Compare = Literal["none", "previous", "year"]


class NoData(ShopscopeError, LookupError):
    """No orders, sessions or spend to report on."""

    exit_code = 1


class ChannelParams(Params):
    """The report over ``start``..``end`` (both included; None: the data's first or last
    day), per ``grain`` and breakdown ``by`` (any subset of the dimensions, in order given;
    empty: totals), compared with the previous period or the same period a year before."""

    start: Day | None = None
    end: Day | None = None
    grain: Grain = "month"
    by: tuple[Dimension, ...] = Field(("channel",), max_length=4)
    compare: Compare = "none"

    @model_validator(mode="after")
    def _check(self) -> ChannelParams:
        DateRange(self.start, self.end)  # start after end: PeriodError
        if len(set(self.by)) != len(self.by):
            raise ValueError("a dimension is listed twice in by")
        return self


@dataclass(frozen=True, eq=False)
class ChannelReport:
    """``frame``: one row per period and breakdown (``period``, the ``by`` columns, the
    sums :data:`~shopscope.marketing.channels.MEASURES`, the ratios, and with a
    comparison ``<m>_ref`` and ``<m>_change`` for each); ``totals``: the same per period
    without breakdown. ``start``/``end``: the whole periods covered."""

    params: ChannelParams
    start: dt.date
    end: dt.date
    frame: pd.DataFrame
    totals: pd.DataFrame


def _span(ctx: Context) -> tuple[dt.date, dt.date] | None:
    cols = [("orders", "ordered_at")]
    if ctx.store.has_table("marketing_spend"):
        cols.append(("marketing_spend", "date"))
    return data_span(ctx.store, cols)


def _run(ctx: Context, params: ChannelParams, by: tuple[str, ...], first: dt.date,
         stop: dt.date, start: dt.date) -> pd.DataFrame:
    frame = ch.report_expr(ctx.store, first, stop, params.grain, by).execute()
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    for m in ch.COUNTS:
        frame[m] = frame[m].fillna(0).astype("int64")
    for m in ch.MONEY:
        frame[m] = frame[m].fillna(0.0).astype(float)
    frame = ch.add_ratios(frame)
    base = frame
    frame = frame[frame["period"] >= start]
    if params.compare != "none":
        frame = ch.compare(frame, base, params.grain, params.compare, by)
    return frame.sort_values(["period", *by], kind="stable").reset_index(drop=True)


def channel_report(ctx: Context, params: ChannelParams) -> ChannelReport:
    """Sessions, new and returning customers, orders, GMV, net sales, spend, clicks,
    impressions and their ratios per period and breakdown (rules in
    :mod:`shopscope.marketing.channels` and docs/marketing.md)."""

    def compute() -> ChannelReport:
        span = _span(ctx)
        if span is None:
            raise NoData("no orders or marketing spend in the workspace",
                         hint="load orders (and marketing_spend) first")
        start = P.period_start(params.start or span[0], params.grain)
        last = params.end or span[1]
        stop = P.period_end(P.period_start(last, params.grain), params.grain)
        DateRange(start, stop - dt.timedelta(days=1)).check_span(params.grain)
        first = start
        if params.compare != "none":
            first = ch.reference(start, params.grain, params.compare)
        frame = _run(ctx, params, params.by, first, stop, start)
        totals = _run(ctx, params, (), first, stop, start)
        return ChannelReport(params=params, start=start, end=stop - dt.timedelta(days=1),
                             frame=frame, totals=totals)

    return ctx.cached(("marketing.channels", params.cache_key()), compute)
