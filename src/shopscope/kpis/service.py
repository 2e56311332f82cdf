"""The KPI area's service: the one entry point of the API, the overview page, the report and
the CLI.

Each function takes a context (:class:`shopscope.core.service.Context`) and typed
parameters and returns a frozen result; results are cached under a key derived from the
parameters here, so the API, the page and the report share them. Loose input (CLI strings,
query values) becomes parameters through ``XParams.of(...)``, which raises the errors users
know (:class:`~shopscope.kpis.queries.KpiOptionError`, :class:`UnknownMetricError`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from shopscope.core.periods import DateRange, Day, PeriodError, latest_full, partial_periods
from shopscope.core.service import Context, Params
from shopscope.errors import OptionError, ShopscopeError
from shopscope.kpis import queries as q
from shopscope.kpis.queries import METRICS, Breakdown, Grain, KpiResult
from shopscope.ui.filters import ShopOptions

__all__ = [
    "CARD_METRICS",
    "TREND_METRICS",
    "EndChangedError",
    "KpiParams",
    "KpiSummary",
    "KpiTable",
    "Overview",
    "OverviewParams",
    "SummaryParams",
    "UnknownMetricError",
    "check_metrics",
    "data_end",
    "kpi_table",
    "last_day",
    "overview",
    "shop_options",
    "summary",
]

#: The overview's cards and trend lines (conversion only when the shop has events).
CARD_METRICS = ("gmv", "net_sales", "orders", "buyers", "aov", "repurchase_rate",
                "conversion_rate", "cancellation_rate", "return_rate")
TREND_METRICS = ("gmv", "net_sales", "orders", "buyers", "aov", "repurchase_rate",
                 "cancellation_rate", "return_rate", "conversion_rate")
#: Breakdown values shown one by one before the rest are summed into one row.
TOP = 12


class UnknownMetricError(ShopscopeError):
    """A metric name that :data:`~shopscope.kpis.queries.METRICS` does not define.

    Not a ``ValueError``: the CLI exits with code 1 and the API answers 422
    ``unknown_metric``, as they always did.
    """

    code = "unknown_metric"


class EndChangedError(OptionError):
    """A KPI request (API or CLI) whose ``end`` does not say which meaning it has.

    KPIs read ``end`` as the first day *after* the range until the periods were made one
    model; now it is the last day included, as everywhere. So that no one silently gets one
    more day, a KPI request with ``end`` says ``end_inclusive`` true or false while the
    transition lasts (docs/api.md, "Dates and periods"). Exit code 2, API 422
    ``end_changed``.
    """

    code = "end_changed"


def last_day(end: dt.date | str | None, end_inclusive: bool | None, *, where: str,
             names: tuple[str, str, str] = ("end", "end_inclusive=true",
                                            "end_inclusive=false")) -> dt.date | None:
    """``end`` as the last day included: as given when ``end_inclusive``, the day before
    when not (the old exclusive meaning); :class:`EndChangedError` when it was not said.

    ``where`` and ``names`` (the end parameter, its two confirmations) word the message for
    the API or the CLI.

    >>> last_day("2011-02-01", False, where="on /api/kpis")
    datetime.date(2011, 1, 31)
    >>> last_day("2011-02-01", None, where="on /api/kpis")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopscope.kpis.service.EndChangedError: end=2011-02-01 is ambiguous: ...
    """
    day = _range(None, end).end
    if day is None:
        return None
    before = day - dt.timedelta(days=1)
    if end_inclusive is None:
        name, yes, no = names
        raise EndChangedError(
            f"{name}={day} is ambiguous: {where} {name} is now the last day included (it was "
            f"the first day after the range, which meant up to {before})",
            hint=f"add {yes} to include {day}, or {no} to keep the old meaning (the same as "
            f"{name}={before} with {yes})")
    return day if end_inclusive else before


def check_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if every one is a metric, else :class:`UnknownMetricError` naming the others."""
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise UnknownMetricError(f"unknown metric(s): {', '.join(unknown)}",
                                 hint=f"metrics are: {', '.join(METRICS)}")
    return tuple(names)


def _range(start: dt.date | str | None, end: dt.date | str | None) -> DateRange:
    """The days ``start`` to ``end``, both included (the one convention of every area:
    :class:`~shopscope.core.periods.DateRange`); the KPI errors users know otherwise."""
    try:
        return DateRange.parse(start, end)
    except PeriodError as exc:
        raise q.KpiOptionError(exc.message, hint=exc.hint) from None


class _Ranged(Params):
    """Parameters with a range of days ``start`` to ``end``, **both included**."""

    start: Day | None = None
    end: Day | None = None

    @property
    def dates(self) -> DateRange:
        return DateRange(self.start, self.end)


# -- the KPI table -----------------------------------------------------------------------
class KpiParams(_Ranged):
    """A KPI table: ``grain``, optional breakdown ``by``, the days ``start`` to ``end``
    (both included) and the metrics to keep (all when None, in the order given)."""

    grain: Grain = "month"
    by: Breakdown | None = None
    metrics: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> KpiParams:
        if self.metrics is not None:
            check_metrics(self.metrics)
        q.check_options(self.grain, self.by, None, None)
        _range(self.start, self.end)
        return self

    @classmethod
    def of(cls, *, grain: str = "month", by: str | None = None,
           start: dt.date | str | None = None, end: dt.date | str | None = None,
           metrics: Sequence[str] | None = None) -> KpiParams:
        """Parameters from loose input, checked in the order users know: metrics, then
        grain, breakdown and dates. An empty metric list means every metric."""
        if metrics is not None:
            check_metrics(metrics)
        q.check_options(grain, by, None, None)
        days = _range(start, end)
        return cls(grain=grain, by=by, start=days.start, end=days.end,  # type: ignore[arg-type]
                   metrics=tuple(metrics) or None if metrics is not None else None)


@dataclass(frozen=True, eq=False)
class KpiTable:
    """KPIs per period (and breakdown value) with 环比/同比 for :class:`KpiParams`.

    ``result`` holds every metric (:class:`~shopscope.kpis.queries.KpiResult`); ``data``
    is its long table narrowed to the asked metrics.
    """

    params: KpiParams
    result: KpiResult
    data: pd.DataFrame

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.params.metrics or tuple(METRICS)

    @property
    def keys(self) -> list[str]:
        return self.result.keys

    def wide(self) -> pd.DataFrame:
        """One row per period (and breakdown value), one column per asked metric."""
        return self.result.wide()[[*self.keys, *self.metrics]]


def kpi_table(ctx: Context, params: KpiParams) -> KpiTable:
    """The KPI table; every metric is computed and cached once per period, breakdown and
    range, and narrowed to ``params.metrics`` afterwards."""
    whole = params.model_copy(update={"metrics": None})
    result = ctx.cached(("kpis.kpi_table", whole.cache_key()),
                        lambda: q.kpis(ctx.store, grain=params.grain, by=params.by,
                                       start=params.start, end=params.dates.stop))
    data = result.data
    if params.metrics is not None:
        data = data[data.metric.isin(params.metrics)]
    return KpiTable(params=params, result=result, data=data)


# -- the whole-range summary -------------------------------------------------------------
class SummaryParams(_Ranged):
    """Every metric over the days ``start`` to ``end`` (both included)."""

    @model_validator(mode="after")
    def _check(self) -> SummaryParams:
        _range(self.start, self.end)
        return self

    @classmethod
    def of(cls, *, start: dt.date | str | None = None,
           end: dt.date | str | None = None) -> SummaryParams:
        days = _range(start, end)
        return cls(start=days.start, end=days.end)


class _SummaryBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    def get(self, metric: str) -> float | None:
        return getattr(self, metric)

    def values(self) -> dict[str, float | None]:
        """Metric name → value, in the order of ``METRICS``."""
        return {m: getattr(self, m) for m in METRICS}


def _summary_fields() -> dict[str, Any]:
    return {name: (float | None, Field(description=f"{m.label_en}: {m.formula}"))
            for name, m in METRICS.items()}


#: Every metric over a range, one field per metric of ``METRICS`` (built from it, so a new
#: metric is in the summary and its API schema at once). Ratios are None when their
#: denominator is zero.
KpiSummary = create_model("KpiSummary", __base__=_SummaryBase, **_summary_fields())


def summary(ctx: Context, params: SummaryParams) -> _SummaryBase:
    """Every metric over the range (distinct counts are distinct over the whole range)."""
    return ctx.cached(("kpis.summary", params.cache_key()),
                      lambda: KpiSummary(**q.summary(ctx.store, start=params.start,
                                                     end=params.dates.stop)))


# -- where the data end, what the filters offer ------------------------------------------
def data_end(ctx: Context) -> dt.datetime | None:
    """The newest order, credit or event time (periods after it are partial)."""
    return ctx.cached(("kpis.data_end",), lambda: q.data_last_at(ctx.store))


def _shop_options(store: Any) -> ShopOptions:
    orders = store.table("orders")
    channels = orders.filter(orders.channel.notnull()).select("channel").distinct()
    products = store.table("products")
    categories = products.filter(products.category.notnull()).select("category").distinct()
    span = orders.aggregate(lo=orders.ordered_at.min(), hi=orders.ordered_at.max()).execute()
    lo, hi = span["lo"].iloc[0], span["hi"].iloc[0]
    return ShopOptions(
        channels=tuple(sorted(str(c) for c in channels.execute()["channel"])),
        categories=tuple(sorted(str(c) for c in categories.execute()["category"])),
        first=None if pd.isna(lo) else pd.Timestamp(lo).date(),
        last=None if pd.isna(hi) else pd.Timestamp(hi).date(),
        has_events=store.row_count("events") > 0,
    )


def shop_options(ctx: Context) -> ShopOptions:
    """Channels, categories and the order date range, for the overview's filters."""
    return ctx.cached(("kpis.shop_options",), lambda: _shop_options(ctx.store))


# -- the overview ------------------------------------------------------------------------
class OverviewParams(_Ranged):
    """An overview: ``grain``, the breakdown chart's ``by``, the days ``start`` to ``end``
    (both included), an optional channel or category ``segment`` and the cards' ``period``
    (default: the latest period the data cover to its end)."""

    grain: Grain = "month"
    by: Breakdown = "country"
    segment: tuple[Literal["channel", "category"], str] | None = None
    period: dt.date | None = None


@dataclass(frozen=True)
class Card:
    """A metric's value in the cards' period and the values it is compared with."""

    value: float | None
    previous: float | None
    yoy_value: float | None


@dataclass(frozen=True)
class BreakdownRow:
    """Net sales of one breakdown value over the range (``key`` None: the rest, summed
    over ``others`` values); ``share`` of the total net sales."""

    key: str | None
    gmv: float
    net_sales: float
    orders: float
    share: float | None
    others: int = 0


@dataclass(frozen=True, eq=False)
class Overview:
    """The numbers of the overview page, before any formatting.

    ``periods`` are those with data (``partial`` ones cut short by the data or the
    range); ``cards`` hold ``card_metrics`` in ``card_period``; ``totals`` the whole range
    (None for a segment); ``series`` one value per period for each of ``TREND_METRICS``;
    ``breakdown`` net sales by ``params.by``.
    """

    params: OverviewParams
    options: ShopOptions
    periods: tuple[dt.date, ...] = ()
    partial: frozenset[dt.date] = frozenset()
    with_events: bool = False
    card_metrics: tuple[str, ...] = ()
    card_period: dt.date | None = None
    cards: Mapping[str, Card] = field(default_factory=lambda: MappingProxyType({}))
    totals: Mapping[str, float | None] | None = None
    series: Mapping[str, tuple[float | None, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    breakdown: tuple[BreakdownRow, ...] = ()


def _value(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type]


def _breakdown(ctx: Context, params: OverviewParams) -> tuple[BreakdownRow, ...]:
    """Net sales per breakdown value: the TOP largest, every negative value (credits beyond
    sales must stay visible), and one row for the rest, so the rows add up to the total."""
    by = params.by
    wide = kpi_table(ctx, KpiParams(grain="year", by=by, start=params.start,
                                    end=params.end)).result.wide()
    if wide.empty:
        return ()
    sums = wide.groupby(by, as_index=False)[["gmv", "net_sales", "orders"]].sum()
    total = float(sums["net_sales"].sum())
    sums = sums.sort_values(["net_sales", by], ascending=[False, True])
    negative = sums["net_sales"] < 0
    shown = pd.concat([sums[~negative].head(TOP), sums[negative]])
    rest = sums.drop(shown.index)
    rows = [BreakdownRow(key=str(r[by]), gmv=float(r["gmv"]), net_sales=float(r["net_sales"]),
                         orders=float(r["orders"]),
                         share=r["net_sales"] / total if total else None)
            for r in shown.to_dict("records")]
    if len(rest):
        net = float(rest["net_sales"].sum())
        rows.append(BreakdownRow(key=None, others=len(rest), gmv=float(rest["gmv"].sum()),
                                 net_sales=net, orders=float(rest["orders"].sum()),
                                 share=net / total if total else None))
    return tuple(rows)


def _overview(ctx: Context, params: OverviewParams) -> Overview:
    options = shop_options(ctx)
    segment = params.segment
    frame = kpi_table(ctx, KpiParams(grain=params.grain, by=segment[0] if segment else None,
                                     start=params.start, end=params.end)).data
    if segment is not None:
        frame = frame[frame[segment[0]] == segment[1]]
    periods = sorted(pd.Timestamp(p).date() for p in frame["period"].unique())
    partial = frozenset(partial_periods(periods, params.grain, options.last, params.dates))
    if not periods:
        return Overview(params=params, options=options, partial=partial)
    wide = frame.pivot(index="period", columns="metric", values="value")
    with_events = bool(options.has_events and "uv" in wide and wide["uv"].fillna(0).sum() > 0)
    shown = tuple(m for m in CARD_METRICS if with_events or m != "conversion_rate")
    period = (params.period if params.period in periods
              else latest_full(periods, params.grain, options.last, params.dates))
    rows = frame[frame["period"] == pd.Timestamp(period)].set_index("metric")
    cards = {m: Card(*(_value(rows.loc[m, col]) if m in rows.index else None
                       for col in ("value", "previous", "yoy_value")))
             for m in shown}
    totals = None
    if segment is None:
        whole = summary(ctx, SummaryParams(start=params.start, end=params.end))
        totals = MappingProxyType({m: whole.get(m) for m in shown})
    index = [pd.Timestamp(p) for p in periods]
    series = {m: tuple(_value(v) for v in wide.reindex(index)[m].tolist()) if m in wide
              else (None,) * len(index) for m in TREND_METRICS}
    return Overview(params=params, options=options, periods=tuple(periods), partial=partial,
                    with_events=with_events, card_metrics=shown, card_period=period,
                    cards=MappingProxyType(cards), totals=totals,
                    series=MappingProxyType(series), breakdown=_breakdown(ctx, params))


def overview(ctx: Context, params: OverviewParams) -> Overview:
    """The overview's cards, totals, trends and breakdown, from :func:`kpi_table` and
    :func:`summary` (the same cached results the API and the report use)."""
    return ctx.cached(("kpis.overview", params.cache_key()), lambda: _overview(ctx, params))
