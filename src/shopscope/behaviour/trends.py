"""Traffic trends: PV, UV, DAU/WAU/MAU, stickiness and events per visitor, by period.

The engine reduces the events once, to one row per (day, breakdown value, visitor) with the
number of events, and aggregates that to four small tables: per period of the grain, per
day, per ISO week and per calendar month (the last three only for the metrics that need
them). Only those aggregates reach Python, where the per-day averages, the ratios and the
comparison with a second range are taken. Every definition, with a worked example, is in
``docs/retention.md``.

=====================  ====================================================================
metric                 definition for a period P (and breakdown value)
=====================  ====================================================================
pv                     events in P (only those matching ``event`` when given)
uv                     distinct visitors with an event in P
dau                    mean over the days of P of that day's distinct visitors
wau                    mean over the days of P of the distinct visitors of the ISO week
                       (Monday–Sunday) holding the day
mau                    mean over the days of P of the distinct visitors of the calendar
                       month holding the day
stickiness             dau / mau (null when mau is 0)
events_per_visitor     pv / uv (null when uv is 0)
=====================  ====================================================================

So at ``grain="day"`` the three actives are exactly "distinct visitors in the day / ISO
week / calendar month containing the day", and at ``grain="month"`` stickiness is "mean
daily actives / monthly actives". The days of P are those inside the analysed range
(``start``..``end``, or the first..last day with data when not given); a day without
events counts as 0 actives. Weeks and months cut by the range count only their days inside
it.

Examples
--------
>>> import pyarrow as pa
>>> import datetime as dt
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> rows = [dict(event_at=dt.datetime(2024, 1, d, h), user_id=u, event_type=e)
...         for d, h, u, e in [(1, 9, "a", "view"), (1, 10, "a", "view"),
...                            (1, 11, "b", "purchase"), (2, 9, "a", "view")]]
>>> schema = get_table("events").ibis_schema().to_pyarrow()
>>> _ = store.backend.create_table("events", pa.Table.from_pylist(rows, schema=schema))
>>> result = trends(store, metrics=("pv", "uv", "mau", "stickiness"))
>>> result.wide()
      period   pv   uv  mau  stickiness
0 2024-01-01  3.0  2.0  2.0         1.0
1 2024-01-02  1.0  1.0  2.0         0.5
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.behaviour.common import (
    Step,
    as_step,
    in_range,
    period,
    property_value,
    visitor,
)
from shopscope.core.metrics import UNKNOWN
from shopscope.core.periods import (
    FINE_GRAINS,
    DateRange,
    FineGrain,
    bound,
    data_span,
    is_partial,
    period_end,
    period_start,
)
from shopscope.core.periods import check_grain as _check_grain
from shopscope.core.tables import TableSource
from shopscope.errors import OptionError
from shopscope.privacy import PII_COLUMNS
from shopscope.schema import get_table

__all__ = ["TREND_METRICS", "TrendMetric", "TrendResult", "trends"]

Grain = FineGrain
TrendMetric = Literal["pv", "uv", "dau", "wau", "mau", "stickiness", "events_per_visitor"]
#: Every metric :func:`trends` can compute, in display order.
TREND_METRICS: tuple[str, ...] = get_args(TrendMetric)

CUSTOMER_PREFIX = "customer."
_ACTIVES = {"dau": "day", "wau": "week", "mau": "month"}


# --------------------------------------------------------------------------------------
# Options shared with retention
# --------------------------------------------------------------------------------------
def check_grain(grain: str) -> None:
    """Raise OptionError for a grain other than day, week or month."""
    _check_grain(grain, FINE_GRAINS)


def check_range(start: object, end: object) -> tuple[dt.date | None, dt.date | None]:
    """Parse ``start``/``end`` (both days included) and refuse ``start > end``."""
    days = DateRange.parse(start, end)  # type: ignore[arg-type]
    return days.start, days.end


def check_by(by: str | None) -> None:
    """A breakdown is an events column, a property key, or ``customer.<column>``."""
    if by is None or not by.startswith(CUSTOMER_PREFIX):
        return
    column = by[len(CUSTOMER_PREFIX):]
    allowed = [c for c in get_table("customers").names
               if c not in PII_COLUMNS and c != "customer_id"]
    if column not in allowed:
        raise OptionError(f"cannot break down by {by!r}",
                          hint=f"customer columns allowed: {', '.join(allowed)} "
                          "(personal data such as e-mail is not a breakdown)")


def label(value: ir.Value) -> ir.StringValue:
    """A breakdown value as a string, ``(unknown)`` when missing."""
    return value.cast("string").fill_null(UNKNOWN)


def attach_customer(source: TableSource, t: ir.Table, uid: str, by: str) -> ir.Table:
    """Add ``key`` = the customer's ``by`` column, joining ``customers`` on column ``uid``.

    Callers reduce the events to one row per visitor (and day) first, so the join runs on
    the small table; the visitor is the customer exactly when the events had a user id.
    """
    customers = source.table("customers")
    column = by[len(CUSTOMER_PREFIX):]
    lookup = customers.select(_cid=customers.customer_id, _cval=customers[column])
    joined = t.left_join(lookup, t[uid] == lookup._cid)
    return joined.select(*[c for c in t.columns if c != uid], key=label(joined._cval))


def event_key(t: ir.Table, by: str) -> ir.StringValue:
    """The breakdown value of each event (an events column or a property)."""
    return label(property_value(t, by))


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as ISO strings, NaN as None."""
    out = []
    for rec in frame.to_dict("records"):
        row = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float | type(pd.NaT)) and pd.isna(v)):
                v = None
            elif isinstance(v, pd.Timestamp | dt.date):
                v = v.date().isoformat() if isinstance(v, pd.Timestamp) else v.isoformat()
            elif hasattr(v, "item"):
                v = v.item()
            row[k] = v
        out.append(row)
    return out


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TrendResult:
    """Trend metrics in long form.

    Attributes
    ----------
    metrics, grain, by, event, start, end, compare
        The options used; ``start``/``end`` are the first and last day analysed (from the
        data when not given), ``event`` the name of the event filter or None.
    data
        One row per period, breakdown value and metric: ``period`` (datetime64, first day
        of the period), the ``by`` column if any, ``metric``, ``value``, and ``offset``
        (0 for the first period of the range). With ``compare``: ``compare_period`` (the
        period at the same offset in the second range), ``compare_value``, ``delta``
        (value − compare_value) and ``delta_pct`` (delta / |compare_value|, null when
        compare_value is 0 or missing).
    """

    metrics: tuple[str, ...]
    grain: Grain
    by: str | None
    event: str | None
    start: dt.date | None
    end: dt.date | None
    compare: tuple[dt.date, dt.date] | None
    data: pd.DataFrame
    #: Period starts the data (their last day) or the range cover only in part, by the one
    #: rule of every area (:func:`shopscope.core.periods.is_partial`).
    partial: tuple[dt.date, ...] = ()

    @property
    def keys(self) -> list[str]:
        return ["period"] + ([self.by] if self.by else [])

    def wide(self, value: str = "value") -> pd.DataFrame:
        """One row per period (and breakdown value), one column per metric.

        ``value`` picks the column spread out: ``"value"`` (default), ``"compare_value"``,
        ``"delta"`` or ``"delta_pct"``.
        """
        if self.data.empty:
            return pd.DataFrame(columns=[*self.keys, *self.metrics])
        wide = self.data.pivot(index=self.keys, columns="metric", values=value)
        wide = wide.reindex(columns=list(self.metrics)).reset_index()
        wide.columns.name = None
        return wide

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API; each row says whether its period is partial."""
        marked = {p.isoformat() for p in self.partial}
        return {
            "metrics": list(self.metrics),
            "grain": self.grain,
            "by": self.by,
            "event": self.event,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "compare": [d.isoformat() for d in self.compare] if self.compare else None,
            "rows": [{**row, "partial": row["period"] in marked}
                     for row in to_records(self.data)],
        }

    def mark_partial(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (with a ``period`` column) with a boolean ``partial`` column last."""
        out = frame.copy()
        out["partial"] = pd.array([pd.Timestamp(p).date() in self.partial
                                   for p in out["period"]], dtype=bool)
        return out


# --------------------------------------------------------------------------------------
# Computation
# --------------------------------------------------------------------------------------
def _daily(source: TableSource, lo: dt.date | None, hi: dt.date | None, step: Step | None,
           by: str | None) -> ir.Table:
    """One row per (day, [key], visitor) with ``n`` = its events in range."""
    t = in_range(source.table("events"), lo, hi)
    if step is not None:
        t = t.filter(step.matches(t))
    groups: dict[str, ir.Value] = {"day": period(t.event_at, "day"), "v": visitor(t)}
    if by is None:
        return t.group_by(**groups).agg(n=t.count())
    if by.startswith(CUSTOMER_PREFIX):
        daily = t.group_by(**groups).agg(n=t.count(), _uid=t.user_id.max())
        return attach_customer(source, daily, "_uid", by)
    return t.group_by(**groups, key=event_key(t, by)).agg(n=t.count())


def _levels(daily: ir.Table, grain: str, by: str | None, metrics: Sequence[str]) -> ir.Table:
    """The small aggregates, stacked: ``level, p, [key], pv, actives``."""
    keys = ["key"] if by else []
    levels = {"period": grain}
    if any(m in metrics for m in ("dau", "wau", "mau", "stickiness")):
        levels.update(day="day", week="week", month="month")
    parts = []
    for level, g in levels.items():
        p = daily.day if g == "day" else period(daily.day, g)
        part = daily.group_by(*keys, p=p).agg(
            pv=daily.n.sum().cast("int64"), actives=daily.v.nunique().cast("int64"))
        parts.append(part.mutate(level=ibis.literal(level)))
    return ibis.union(*parts, distinct=False)


def _spine(first: dt.date, last: dt.date, grain: str) -> list[dt.date]:
    """The starts of the periods from ``first`` to ``last``."""
    spine, p = [], period_start(first, grain)
    while p <= last:
        spine.append(p)
        p = period_end(p, grain)
    return spine


def _key_frame(per: pd.DataFrame) -> pd.DataFrame:
    """The breakdown keys seen, as text even when none was (an empty range)."""
    return pd.DataFrame({"key": pd.Series(sorted(per["key"].unique()), dtype=str)})


def _frame(source: TableSource, metrics: Sequence[str], grain: str, lo: dt.date | None,
           hi: dt.date | None, step: Step | None,
           by: str | None) -> tuple[pd.DataFrame, dt.date | None, dt.date | None]:
    """Wide metrics per period (and key) with ``offset``, plus the first and last day."""
    keys = ["key"] if by else []
    agg = _levels(_daily(source, lo, hi, step, by), grain, by, metrics).execute()
    agg["p"] = pd.to_datetime(agg["p"]).dt.date
    if by:
        agg["key"] = agg["key"].astype(str)
    by_level = {name: g.drop(columns="level") for name, g in agg.groupby("level")}
    per = by_level.get("period", agg.iloc[:0])
    if per.empty and (lo is None or hi is None):
        return pd.DataFrame(columns=["period", *keys, "offset", *metrics]), lo, hi
    # Without start/end the range is the first..last day with data (a day-level table
    # exists only when a per-day metric is asked for; the spine needs only periods).
    seen = by_level.get("day", per)["p"]
    first = lo or seen.min()
    last = hi or seen.max()
    # Every period of the range (and every key seen), so a quiet period shows as 0.
    spine = _spine(first, last, grain)
    grid = pd.DataFrame({"period": spine, "offset": range(len(spine))})
    if by:
        grid = grid.merge(_key_frame(per), how="cross")
    out = grid.merge(per.rename(columns={"p": "period"}), on=["period", *keys], how="left")
    out[["pv", "uv"]] = out[["pv", "actives"]].fillna(0).astype("float64").to_numpy()
    # per-day metrics asked for: also over a range without a single event (then all 0)
    if any(m in metrics for m in (*_ACTIVES, "stickiness")):
        days = pd.DataFrame({"day": pd.date_range(first, last, freq="D").date})
        days["period"] = [period_start(d, grain) for d in days["day"]]
        if by:
            days = days.merge(_key_frame(per), how="cross")
        for metric, g in _ACTIVES.items():
            days["p"] = [period_start(d, g) for d in days["day"]]
            level = by_level.get(g, agg.iloc[:0])[["p", *keys, "actives"]]
            days[metric] = days.merge(level, on=["p", *keys], how="left")["actives"].fillna(0)
        means = days.groupby(["period", *keys], as_index=False)[list(_ACTIVES)].mean()
        out = out.merge(means, on=["period", *keys], how="left")
        out["stickiness"] = out["dau"] / out["mau"].where(out["mau"] > 0)
    out["events_per_visitor"] = out["pv"] / out["uv"].where(out["uv"] > 0)
    out["period"] = pd.to_datetime(out["period"])
    return out[["period", *keys, "offset", *metrics]], first, last


def _long(wide: pd.DataFrame, keys: list[str], metrics: Sequence[str]) -> pd.DataFrame:
    long = wide.melt(id_vars=["period", *keys, "offset"], value_vars=list(metrics),
                     var_name="metric", value_name="value")
    long["value"] = long["value"].astype("float64")
    return long


def _check_metrics(metrics: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    unknown = [m for m in metrics if m not in TREND_METRICS]
    if unknown or not metrics:
        raise OptionError(f"unknown trend metric(s): {', '.join(map(repr, unknown)) or 'none'}",
                          hint=f"choose from: {', '.join(TREND_METRICS)}")
    return tuple(dict.fromkeys(metrics))


def trends(
    source: TableSource,
    *,
    metrics: Sequence[TrendMetric] = ("pv", "uv"),
    grain: Grain = "day",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    event: Step | str | None = None,
    by: str | None = None,
    compare: tuple[dt.date | str, dt.date | str] | None = None,
) -> TrendResult:
    """PV, UV, active visitors, stickiness and events per visitor for each period.

    Parameters
    ----------
    source
        Anything with ``.table(name)``, such as a Store; reads ``events`` (and
        ``customers`` for a ``customer.<column>`` breakdown).
    metrics
        Any of :data:`TREND_METRICS` (see the module docstring for their definitions).
    grain
        ``"day"``, ``"week"`` (Monday to Sunday) or ``"month"``.
    start, end
        Inclusive dates; missing means from the first / to the last day with data.
    event
        Count only events matching this step (``"view"``, ``"view:category=toys"`` or a
        :class:`Step`); every metric is then about those events and their visitors.
    by
        Breakdown: an events column (``"event_type"``, ``"channel"`` …), a key of the
        ``properties`` JSON, or ``"customer.<column>"`` (the visitor's customer record,
        joined on user id; ``(unknown)`` for anonymous visitors). Missing values show as
        ``(unknown)``.
    compare
        ``(start2, end2)``: compute the same metrics over a second range and align its
        periods with the first by offset (first period with first period, …).

    Returns
    -------
    TrendResult
        ``data`` in long form, ``.wide()`` for one column per metric.

    Raises
    ------
    OptionError
        For an unknown metric or grain, a bad date, ``start > end``, a bad ``event``
        step, a ``by`` that is neither a column nor a property name, or a ``compare``
        that is not two ordered dates.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> trends(connect("duckdb://"), metrics=["uv", "dau"], grain="week").data.empty
    True
    >>> trends(connect("duckdb://"), metrics=["visits"])
    Traceback (most recent call last):
    ...
    shopscope.errors.OptionError: unknown trend metric(s): 'visits'
    """
    checked = _check_metrics(metrics)
    check_grain(grain)
    check_by(by)
    lo, hi = check_range(start, end)
    # A range far beyond the data would build a spine of empty periods: clamp, then cap.
    span = data_span(source, [("events", "event_at")])
    lo, hi = bound(grain, lo, hi, span)
    step = None if event is None else as_step(event)
    keys = [by] if by else []
    wide, first, last = _frame(source, checked, grain, lo, hi, step, by)
    wide = wide.rename(columns={"key": by}) if by else wide
    data = _long(wide, keys, checked)
    window2 = None
    if compare is not None:
        if isinstance(compare, str) or len(compare) != 2:
            raise OptionError(f"compare must be (start, end), not {compare!r}",
                              hint='e.g. compare=("2024-01-01", "2024-01-31")')
        c_lo, c_hi = check_range(*compare)
        assert c_lo is not None and c_hi is not None
        # Offsets align the two ranges from their starts: check only, never move them.
        bound(grain, c_lo, c_hi, span, clamp=False)
        window2 = (c_lo, c_hi)
        other, _, _ = _frame(source, checked, grain, c_lo, c_hi, step, by)
        other = _long(other.rename(columns={"key": by}) if by else other, keys, checked)
        # the compared range's periods, also those without any event
        periods = dict(enumerate(_spine(c_lo, c_hi, grain)))
        other = other.drop(columns="period").rename(columns={"value": "compare_value"})
        data = data.merge(other, on=["offset", *keys, "metric"], how="left")
        data.insert(data.columns.get_loc("offset") + 1, "compare_period",
                    pd.to_datetime(data["offset"].map(periods)))
        if by:
            # A key seen in only one range compares with zero activity in the other.
            fill = data["metric"].isin(("pv", "uv", "dau", "wau", "mau"))
            fill &= data["compare_period"].notna() & data["compare_value"].isna()
            data.loc[fill, "compare_value"] = 0.0
        data["delta"] = data["value"] - data["compare_value"]
        base = data["compare_value"].where(data["compare_value"] != 0)
        data["delta_pct"] = data["delta"] / base.abs()
    order = {m: i for i, m in enumerate(checked)}
    data = data.sort_values(
        ["period", *keys, "metric"], key=lambda s: s.map(order) if s.name == "metric" else s
    ).reset_index(drop=True)
    # The range as given (clamped): a period is partial when the data end or the range cuts
    # it, the same rule for a plain trend and a breakdown.
    last_day = span[1] if span else None
    partial = tuple(sorted(
        p for p in {pd.Timestamp(v).date() for v in data["period"]}
        if is_partial(p, grain, last_day, DateRange(lo, hi))))
    return TrendResult(metrics=checked, grain=grain, by=by,
                       event=None if step is None else step.name,
                       start=first, end=last, compare=window2, data=data, partial=partial)
