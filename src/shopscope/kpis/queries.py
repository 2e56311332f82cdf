"""Shop KPIs by period and breakdown: GMV, net sales, orders, buyers, AOV, conversion, ….

Every metric is defined once, in :data:`METRICS` (labels in English and Chinese, unit,
formula) and in ``docs/metrics.md``. The computation is one engine-free Ibis expression
(:func:`kpi_expr`): orders, returns and events are each aggregated once per period (and
breakdown value), the three partial aggregates are stacked and summed, and the ratios are
taken last. Only that small aggregate reaches Python, where :func:`kpis` adds
period-over-period (环比) and year-over-year (同比) comparisons.

The functions here filter ``start <= t < end``: their ``end`` is the exclusive bound
(:attr:`shopscope.core.periods.DateRange.stop`). Users never see it: the KPI service, the
API, the CLI and the pages take ``end`` as the last day included and pass its ``stop``.

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> rows = [
...     dict(order_id=oid, customer_id=cid, ordered_at=dt.datetime(2024, m, 5),
...          channel="web", status="completed", gross_amount=g, discount_amount=0.0,
...          shipping_amount=0.0, net_amount=g, currency="GBP")
...     for oid, cid, m, g in [("o1", "c1", 1, 30.0), ("o2", "c1", 1, 10.0),
...                            ("o3", "c2", 2, 50.0)]
... ]
>>> schema = get_table("orders").ibis_schema().to_pyarrow()
>>> _ = store.backend.create_table("orders", pa.Table.from_pylist(rows, schema=schema))
>>> result = kpis(store, grain="month")
>>> result.wide()[["period", "gmv", "orders", "buyers", "aov", "repurchase_rate"]]
      period   gmv  orders  buyers   aov  repurchase_rate
0 2024-01-01  40.0     2.0     1.0  20.0              1.0
1 2024-02-01  50.0     1.0     1.0  50.0              0.0
>>> gmv = result.data.query("metric == 'gmv'")
>>> print(gmv[["period", "value", "previous", "pop_change"]].to_string(index=False))
    period  value  previous  pop_change
2024-01-01   40.0       NaN         NaN
2024-02-01   50.0      40.0        0.25
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.core.metrics import (
    BREAKDOWNS,
    METRICS,
    UNKNOWN,
    Breakdown,
    Change,
    Metric,
    metric_change,
    unit_change,
)
from shopscope.core.periods import (
    GRAINS,
    TRUNCATE_UNIT,
    DateRange,
    Grain,
    PeriodError,
    bound,
    data_span,
    is_partial,
    parse_date,
    period_start,
    shift,
    year_ago,
)
from shopscope.core.tables import TableSource
from shopscope.errors import OptionError

__all__ = [
    "BREAKDOWNS",
    "GRAINS",
    "METRICS",
    "UNKNOWN",
    "Breakdown",
    "Change",
    "Grain",
    "KpiOptionError",
    "KpiResult",
    "Metric",
    "TableSource",
    "kpi_expr",
    "kpis",
    "metric_change",
    "summary",
    "unit_change",
]


class KpiOptionError(OptionError):
    """An unknown grain or breakdown, or an impossible date range."""


# The additive partial aggregates every source contributes to (zero where it has none).
_FLOAT_PARTS = (
    "gmv",
    "discounts",
    "cancelled_orders_amount",
    "refunded_orders_amount",
    "cancellation_credits",
    "return_credits",
)
_INT_PARTS = (
    "orders",
    "units",
    "item_orders",
    "buyers",
    "new_buyers",
    "repeat_buyers",
    "pv",
    "uv",
    "event_buyers",
)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------
def _check_grain(grain: str) -> None:
    if grain not in GRAINS:
        raise KpiOptionError(
            f"unknown grain {grain!r}", hint=f"use one of: {', '.join(GRAINS)}"
        )


def _check_by(by: str | None) -> None:
    if by is not None and by not in BREAKDOWNS:
        raise KpiOptionError(
            f"unknown breakdown {by!r}", hint=f"use one of: {', '.join(BREAKDOWNS)} (or None)"
        )


def _as_datetime(value: dt.date | str | None, name: str) -> dt.datetime | None:
    """A date by the one parser (:func:`shopscope.core.periods.parse_date`), as midnight."""
    try:
        day = parse_date(value, name)
    except PeriodError as exc:
        raise KpiOptionError(exc.message, hint=exc.hint) from None
    return None if day is None else dt.datetime(day.year, day.month, day.day)


@dataclass(frozen=True)
class _Window:
    """Rows kept: ``start <= t < end``, plus whole earlier periods from ``history_from``.

    The history lets :func:`kpis` compare the first period with its predecessors without
    leaking the part of a period that lies before ``start`` into that period.
    """

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    history_from: dt.datetime | None = None
    history_to: dt.datetime | None = None

    def keep(self, ts: ir.TimestampValue) -> list[ir.BooleanValue]:
        conds = []
        if self.end is not None:
            conds.append(ts < ibis.timestamp(self.end))
        if self.start is not None:
            cond = ts >= ibis.timestamp(self.start)
            if self.history_from is not None and self.history_to is not None:
                cond |= (ts >= ibis.timestamp(self.history_from)) & (
                    ts < ibis.timestamp(self.history_to)
                )
            conds.append(cond)
        return conds


def _filter(t: ir.Table, ts: str, window: _Window) -> ir.Table:
    conds = window.keep(t[ts])
    return t.filter(*conds) if conds else t


# --------------------------------------------------------------------------------------
# The expression
# --------------------------------------------------------------------------------------
def _period(ts: ir.TimestampValue, grain: str) -> ir.DateValue:
    return ts.truncate(TRUNCATE_UNIT[grain]).date()


def _keys(grain: str | None, by: str | None) -> list[str]:
    return (["period"] if grain else []) + (["key"] if by else [])


def _label(value: ir.StringValue) -> ir.StringValue:
    return value.fill_null(UNKNOWN)


def _order_facts(tables: TableSource, by: str | None) -> ir.Table:
    """One row per order (per order and category for ``by="category"``).

    Columns: ``at, [key], customer_id, status, n, gross, discount, units`` (units null for an
    order without lines; ``n`` is 1 where the row counts as an order).

    By category, the value an order carries beyond its lines (an order without lines, an
    order-level discount, lines that do not add up to the order) goes to ``UNKNOWN`` with
    ``n = 0`` unless the order has no lines at all, so categories add up to the order totals.
    """
    orders = tables.table("orders")
    items = tables.table("order_items")
    if by == "category":
        products = tables.table("products").select(_pid="product_id", _category="category")
        heads = orders.select(
            _oid="order_id", at="ordered_at", customer_id="customer_id", status="status"
        )
        lines = items.left_join(products, items.product_id == products._pid).join(
            heads, items.order_id == heads._oid
        )
        by_category = lines.group_by(
            "order_id",
            "at",
            "customer_id",
            "status",
            key=_label(lines._category),
        ).agg(
            n=ibis.literal(1),
            gross=(lines.quantity * lines.unit_price).sum(),
            discount=lines.discount_amount.sum(),
            units=lines.quantity.sum(),
        ).drop("order_id")
        on_lines = items.group_by(_oid=items.order_id).agg(
            _gross=(items.quantity * items.unit_price).sum(),
            _discount=items.discount_amount.sum(),
        )
        o = orders.left_join(on_lines, orders.order_id == on_lines._oid)
        rest_gross = o.gross_amount - o._gross.fill_null(0.0)
        rest_discount = o.discount_amount - o._discount.fill_null(0.0)
        no_lines = o._oid.isnull()
        rest = o.filter(no_lines | (rest_gross.abs() > 1e-9) | (rest_discount.abs() > 1e-9))
        rest = rest.select(
            at=rest.ordered_at,
            key=ibis.literal(UNKNOWN),
            customer_id=rest.customer_id,
            status=rest.status,
            n=rest._oid.isnull().ifelse(1, 0),
            gross=rest.gross_amount - rest._gross.fill_null(0.0),
            discount=rest.discount_amount - rest._discount.fill_null(0.0),
            units=ibis.null("int64"),
        )
        return ibis.union(by_category, rest.cast(by_category.schema()), distinct=False)
    units = items.group_by(_oid=items.order_id).agg(units=items.quantity.sum())
    joined = orders.left_join(units, orders.order_id == units._oid)
    extra = {"key": _label(joined[by])} if by else {}
    return joined.select(
        at=joined.ordered_at,
        **extra,
        customer_id=joined.customer_id,
        status=joined.status,
        n=ibis.literal(1),
        gross=joined.gross_amount,
        discount=joined.discount_amount,
        units=joined.units,
    )


def _sales_part(
    tables: TableSource, grain: str | None, by: str | None, window: _Window
) -> ir.Table:
    """Order-side partial aggregates per period and key, via one row per customer."""
    facts = _filter(_order_facts(tables, by), "at", window)
    if grain:
        facts = facts.mutate(period=_period(facts.at, grain))
    keys = _keys(grain, by)
    cancelled = facts.status == "cancelled"
    per_customer = facts.group_by([*keys, "customer_id"]).agg(
        gmv=facts.gross.sum(),
        discounts=facts.discount.sum(),
        cancelled_orders_amount=facts.gross.sum(where=cancelled),
        refunded_orders_amount=facts.gross.sum(where=facts.status == "refunded"),
        orders=facts.n.sum(),
        valid_orders=facts.n.sum(where=~cancelled),
        units=facts.units.sum(),
        item_orders=facts.count(where=facts.units.notnull()),
    )
    # First non-cancelled order ever, over the whole history (not the window).
    orders = tables.table("orders")
    first = (
        orders.filter(orders.status != "cancelled", orders.customer_id.notnull())
        .group_by(_cid=orders.customer_id)
        .agg(first_at=orders.ordered_at.min())
    )
    pc = per_customer.left_join(first, per_customer.customer_id == first._cid).select(
        *per_customer.columns, "first_at"
    )
    if grain:
        is_new = _period(pc.first_at, grain) == pc.period
    elif window.start is not None:
        is_new = pc.first_at >= ibis.timestamp(window.start)
    else:
        is_new = pc.first_at.notnull()
    buyer = pc.customer_id.notnull() & (pc.valid_orders > 0)
    return pc.aggregate(
        by=keys,
        gmv=pc.gmv.sum(),
        discounts=pc.discounts.sum(),
        cancelled_orders_amount=pc.cancelled_orders_amount.sum(),
        refunded_orders_amount=pc.refunded_orders_amount.sum(),
        orders=pc.orders.sum(),
        units=pc.units.sum(),
        item_orders=pc.item_orders.sum(),
        buyers=pc.count(where=buyer),
        new_buyers=pc.count(where=buyer & is_new),
        repeat_buyers=pc.count(where=buyer & (pc.valid_orders >= 2)),
    )


def _credits_part(
    tables: TableSource, grain: str | None, by: str | None, window: _Window
) -> ir.Table:
    """Return and cancellation credits per period (by returned_at) and key."""
    returns = _filter(tables.table("returns"), "returned_at", window)
    if by == "category":
        products = tables.table("products").select(_pid="product_id", _key="category")
        returns = returns.left_join(products, returns.product_id == products._pid).select(
            *returns.columns, "_key"
        )
    elif by:
        # Through the credit's order first; a credit whose order is not in the data (a
        # cancellation note with its own number) keeps its own value, else its customer's.
        orders = tables.table("orders")
        heads = orders.select(_oid=orders.order_id, _okey=orders[by])
        returns = returns.left_join(heads, returns.order_id == heads._oid).select(
            *returns.columns, "_okey"
        )
        customers = tables.table("customers")
        if by in customers.columns:
            people = customers.select(_cid=customers.customer_id, _ckey=customers[by])
            returns = returns.left_join(people, returns.customer_id == people._cid).select(
                *returns.columns, "_ckey"
            )
        fallbacks = [returns[c] for c in (by, "_ckey") if c in returns.columns]
        returns = returns.mutate(_key=returns._okey.coalesce(*fallbacks))
    groups = {}
    if grain:
        groups["period"] = _period(returns.returned_at, grain)
    if by:
        groups["key"] = _label(returns._key)
    return returns.aggregate(
        by=[v.name(k) for k, v in groups.items()],
        cancellation_credits=returns.amount.sum(where=returns.kind == "cancellation"),
        return_credits=returns.amount.sum(where=returns.kind == "return"),
    )


def _events_part(
    tables: TableSource, grain: str | None, by: str | None, window: _Window
) -> ir.Table:
    """PV, UV and purchasing visitors per period (by event_at) and key."""
    events = _filter(tables.table("events"), "event_at", window)
    visitor = events.user_id.coalesce(events.anonymous_id)
    groups = {}
    if grain:
        groups["period"] = _period(events.event_at, grain)
    if by:
        groups["key"] = _label(events[by])
    return events.aggregate(
        by=[v.name(k) for k, v in groups.items()],
        pv=events.count(where=events.event_type == "view"),
        uv=visitor.nunique(),
        event_buyers=visitor.nunique(where=events.event_type == "purchase"),
    )


def _conform(part: ir.Table, keys: list[str]) -> ir.Table:
    """Give a partial aggregate every part column, zero where the source has none."""
    cols: dict[str, ir.Value] = {k: part[k] for k in keys}
    for name in _FLOAT_PARTS:
        value = part[name] if name in part.columns else ibis.literal(0.0)
        cols[name] = value.cast("float64").fill_null(0.0)
    for name in _INT_PARTS:
        value = part[name] if name in part.columns else ibis.literal(0)
        cols[name] = value.cast("int64").fill_null(0)
    return part.select(**cols)


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    # nullif keeps engines in ANSI mode (Spark) from raising on a zero denominator.
    return (num / den.nullif(0)).cast("float64")


def _kpi_table(
    tables: TableSource, grain: str | None, by: str | None, window: _Window
) -> ir.Table:
    keys = _keys(grain, by)
    parts = [_sales_part(tables, grain, by, window), _credits_part(tables, grain, by, window)]
    with_events = by in (None, "channel", "category")
    if with_events:
        parts.append(_events_part(tables, grain, by, window))
    stacked = ibis.union(*[_conform(p, keys) for p in parts], distinct=False)
    t = stacked.aggregate(
        by=keys,
        **{c: stacked[c].sum() for c in (*_FLOAT_PARTS, *_INT_PARTS)},
    )
    # An aggregate without keys over no rows gives one row of nulls: make those zeros.
    t = t.mutate(
        **{c: t[c].fill_null(0.0) for c in _FLOAT_PARTS},
        **{c: t[c].fill_null(0) for c in _INT_PARTS},
    )
    cancelled = t.cancelled_orders_amount + t.cancellation_credits
    returned = t.return_credits + t.refunded_orders_amount
    net = t.gmv - t.discounts - cancelled - returned
    no_int = ibis.null().cast("int64")
    values: dict[str, ir.Value] = {
        "gmv": t.gmv,
        "discounts": t.discounts,
        "cancelled_amount": cancelled,
        "returned_amount": returned,
        "net_sales": net,
        "orders": t.orders,
        "units": t.units,
        "buyers": t.buyers,
        "new_buyers": t.new_buyers,
        "returning_buyers": t.buyers - t.new_buyers,
        "aov": _ratio(t.gmv, t.orders),
        "units_per_order": _ratio(t.units, t.item_orders),
        "repurchase_rate": _ratio(t.repeat_buyers, t.buyers),
        "cancellation_rate": _ratio(cancelled, t.gmv),
        "return_rate": _ratio(returned, t.gmv),
        "arpu": _ratio(net, t.buyers),
        "pv": t.pv if with_events else no_int,
        "uv": t.uv if with_events else no_int,
        "event_buyers": t.event_buyers if with_events else no_int,
        "conversion_rate": (
            _ratio(t.event_buyers, t.uv) if with_events else ibis.null().cast("float64")
        ),
    }
    assert tuple(values) == tuple(METRICS)
    head = {"period": t.period} if grain else {}
    if by:
        head[by] = t.key
    out = t.select(**head, **values)
    return out.order_by(list(head)) if head else out


def kpi_expr(
    tables: TableSource,
    grain: Grain = "month",
    by: Breakdown | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> ir.Table:
    """Every metric of :data:`METRICS` per period (and breakdown value), as an Ibis table.

    Orders are placed in a period by ``ordered_at``, returns by ``returned_at`` and events
    by ``event_at``. Only periods with at least one order, credit or event get a row.

    Parameters
    ----------
    tables
        Anything with ``.table(name) -> ibis.Table``, such as a Store.
    grain
        ``"day"``, ``"week"`` (weeks start on Monday), ``"month"``, ``"quarter"`` or
        ``"year"``.
    by
        Optional breakdown: ``"channel"`` (orders.channel, events.channel), ``"country"``
        or ``"region"`` (ship-to, from orders; event metrics are null), ``"category"``
        (line level through order_items → products; events.category). Missing values show
        as ``"(unknown)"``.
    start, end
        Keep rows whose own time is in ``[start, end)``; dates or ``"YYYY-MM-DD"``.

    Returns
    -------
    ibis.Table
        ``period`` (date: start of the period), the ``by`` column if given, then one
        column per metric, ordered by period and breakdown value.

    Raises
    ------
    KpiOptionError
        For an unknown grain or breakdown, an unreadable date, or ``start >= end``.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> expr = kpi_expr(connect("duckdb://"), grain="week", by="channel")
    >>> expr.columns[:4]
    ('period', 'channel', 'gmv', 'discounts')
    >>> expr.count().execute()
    0
    """
    window, _ = _window(grain, by, start, end, history=False)
    return _kpi_table(tables, grain, by, window)


def check_options(
    grain: str | None, by: str | None, start: dt.date | str | None, end: dt.date | str | None
) -> tuple[dt.date | None, dt.date | None]:
    """Check a grain, a breakdown and a range ``[start, end)`` as :func:`kpis` does (same
    errors, same messages) and return the range as dates.

    >>> check_options("month", None, "2011-03-01", dt.date(2011, 6, 1))
    (datetime.date(2011, 3, 1), datetime.date(2011, 6, 1))
    """
    window, _ = _window(grain, by, start, end, history=False)
    return (window.start.date() if window.start else None,
            window.end.date() if window.end else None)


def _window(
    grain: str | None, by: str | None, start: object, end: object, *, history: bool
) -> tuple[_Window, dt.datetime | None]:
    if grain is not None:
        _check_grain(grain)
    _check_by(by)
    lo = _as_datetime(start, "start")  # type: ignore[arg-type]
    hi = _as_datetime(end, "end")  # type: ignore[arg-type]
    if lo is not None and hi is not None and lo >= hi:
        raise KpiOptionError(
            f"start {lo:%Y-%m-%d} is not before end {hi:%Y-%m-%d}",
            hint="the range is [start, end): start inclusive, end exclusive",
        )
    if not history or lo is None or grain is None:
        return _Window(lo, hi), None
    day = period_start(lo.date(), grain)
    first, earliest = (dt.datetime.combine(d, dt.time()) for d in (day, year_ago(day, grain)))
    return _Window(lo, hi, history_from=earliest, history_to=first), first


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class KpiResult:
    """KPIs in long form with period-over-period and year-over-year comparisons.

    Attributes
    ----------
    grain, by, start, end
        The parameters the result was computed with.
    data
        One row per period, breakdown value and metric: ``period`` (datetime64, start of
        the period), the ``by`` column if any, ``metric``, ``value``, ``previous`` (the
        previous period's value, 环比), ``pop_change`` (relative change against it),
        ``yoy_value`` (the same period one year earlier, 52 weeks for weeks, 同比) and
        ``yoy_change``. Comparisons are null when the earlier period has no row or its
        value is null or zero.
    """

    grain: Grain
    by: Breakdown | None
    start: dt.date | None
    end: dt.date | None
    data: pd.DataFrame

    @property
    def keys(self) -> list[str]:
        """The identifying columns: ``period`` and the breakdown column if any."""
        return ["period"] + ([self.by] if self.by else [])

    def wide(self) -> pd.DataFrame:
        """One row per period (and breakdown value), one column per metric value.

        Examples
        --------
        >>> from shopscope.store import connect
        >>> list(kpis(connect("duckdb://")).wide().columns[:3])
        ['period', 'gmv', 'discounts']
        """
        if self.data.empty:
            return pd.DataFrame(columns=[*self.keys, *METRICS])
        wide = self.data.pivot(index=self.keys, columns="metric", values="value")
        wide = wide.reindex(columns=list(METRICS)).reset_index()
        wide.columns.name = None
        return wide


def _bound_periods(tables: TableSource, grain: str, window: _Window) -> None:
    """Refuse a range the grain would cut into too many periods (see core.periods)."""
    span = data_span(tables, [("orders", "ordered_at"), ("returns", "returned_at"),
                              ("events", "event_at")])
    bound(grain, window.start.date() if window.start else None,
          window.end.date() if window.end else None, span, end_exclusive=True)


def _relative_change(value: pd.Series, base: pd.Series) -> pd.Series:
    base = base.where(base != 0)
    return (value - base) / base.abs()


def kpis(
    tables: TableSource,
    grain: Grain = "month",
    by: Breakdown | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> KpiResult:
    """KPIs per period with 环比 (period over period) and 同比 (year over year).

    The earlier values are matched by period arithmetic (the previous month is the period
    minus one month, the previous week minus 7 days; a year earlier is minus one year, or
    52 weeks for weeks), so a period with no data is a gap, never a shifted neighbour. The
    periods before ``start`` that the comparisons need are read as whole periods.

    Parameters
    ----------
    tables, grain, by, start, end
        As for :func:`kpi_expr`.

    Returns
    -------
    KpiResult
        Long table of values and comparisons; ``.wide()`` pivots metrics into columns.

    Raises
    ------
    KpiOptionError
        As for :func:`kpi_expr`.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> kpis(connect("duckdb://"), grain="quarter").data.empty
    True
    """
    window, first = _window(grain, by, start, end, history=True)
    _bound_periods(tables, grain, window)
    frame = _kpi_table(tables, grain, by, window).execute()
    keys = ["period"] + ([by] if by else [])
    metrics = list(METRICS)
    frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[ns]")
    frame[metrics] = frame[metrics].astype("float64")
    long = frame.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="value")
    rest = [*keys[1:], "metric"]
    base = long.rename(columns={"period": "_then", "value": "_earlier"})
    for target, earlier, change in (
        ("previous", lambda p: shift(p, grain, -1), "pop_change"),
        ("yoy_value", lambda p: year_ago(p, grain), "yoy_change"),
    ):
        # The earlier period by the one offset table (core.periods), once per period.
        then = long["period"].map({p: pd.Timestamp(earlier(p.date()))
                                   for p in long["period"].unique()}).astype("datetime64[ns]")
        matched = (
            long[rest].assign(_then=then).merge(base, on=["_then", *rest], how="left")
        )
        long[target] = matched["_earlier"].to_numpy()
        long[change] = _relative_change(long["value"], long[target])
    if first is not None:
        long = long[long["period"] >= pd.Timestamp(first)]
    order = {m: i for i, m in enumerate(metrics)}
    long = long.sort_values(
        [*keys, "metric"], key=lambda s: s.map(order) if s.name == "metric" else s
    ).reset_index(drop=True)
    return KpiResult(
        grain=grain,
        by=by,
        start=window.start.date() if window.start else None,
        end=window.end.date() if window.end else None,
        data=long,
    )


def summary(
    tables: TableSource,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> dict[str, float | None]:
    """Every metric over the whole range ``[start, end)`` as one record.

    Distinct counts (buyers, visitors) are distinct over the whole range, so they are not
    the sum of the monthly values. New buyers are those whose first non-cancelled order
    ever is on or after ``start`` (all buyers when ``start`` is None).

    Parameters
    ----------
    tables
        Anything with ``.table(name) -> ibis.Table``.
    start, end
        Optional range, dates or ``"YYYY-MM-DD"``; start inclusive, end exclusive.

    Returns
    -------
    dict
        Metric name → value; ratios are None when their denominator is zero.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> result = summary(connect("duckdb://"), start="2024-01-01")
    >>> result["gmv"], result["orders"], result["aov"]
    (0.0, 0.0, None)
    """
    window, _ = _window(None, None, start, end, history=False)
    frame = _kpi_table(tables, None, None, window).execute()
    row = frame.iloc[0]
    return {m: (None if pd.isna(row[m]) else float(row[m])) for m in METRICS}


# --------------------------------------------------------------------------------------
# Presentation rules shared by the CLI, the report and the dashboard
# --------------------------------------------------------------------------------------
def data_last_at(tables: TableSource) -> dt.datetime | None:
    """The newest order, credit or event time: where the data end."""
    newest = []
    for name, col in (("orders", "ordered_at"), ("returns", "returned_at"),
                      ("events", "event_at")):
        value = tables.table(name)[col].max().execute()
        if value is not None and not pd.isna(value):
            newest.append(pd.Timestamp(value).to_pydatetime())
    return max(newest) if newest else None


def mark_partial(frame: pd.DataFrame, grain: str, last: dt.datetime | None,
                 range_: DateRange | None = None) -> pd.DataFrame:
    """``frame`` with a boolean ``partial`` column (the one rule,
    :func:`shopscope.core.periods.is_partial`), last so that the columns before it stay
    where exports always had them."""
    flags = [is_partial(pd.Timestamp(p).date(), grain, last, range_) for p in frame["period"]]
    out = frame.copy()
    out["partial"] = pd.array(flags, dtype=bool)
    return out
