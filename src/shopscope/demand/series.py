"""Demand series per SKU (or category), per day or week, computed in the engine.

Units and money are netted by the KPI rules (``docs/metrics.md``, ``kpis.queries``), line by
line as the products area does:

* ``units`` = Σ quantity on the lines of the orders placed in the period (all statuses);
* ``cancelled_units`` = units of the lines of cancelled orders (by ``ordered_at``) + units of
  cancellation credits (``returns.kind = 'cancellation'``, by ``returned_at``);
* ``returned_units`` = units of return credits (by ``returned_at``) + units of the lines of
  refunded orders (by ``ordered_at``);
* ``net_units`` = units - cancelled_units - returned_units (can be negative on a day with
  credits and no sales); ``demand`` = max(net_units, 0), what the models are fitted on;
* ``net_sales`` = gross - discounts - cancelled - returned, the products area's net sales.

Every series is zero-filled over the range (a calendar of periods is cross-joined with the
series keys in the engine). A SKU whose stock (``inventory.on_hand`` summed over locations)
is 0 or less on a day is out of stock that day: ``stockout_days`` counts those days in the
period and ``censored`` marks the period (zero sales there are lost sales, not zero
demand). Days without an inventory row are not known to be out of stock.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopscope.core import periods

#: Label of a product without category, an order without channel.
UNKNOWN = "(unknown)"
SERIES_GRAINS = ("day", "week")

_SUMS = ("units", "cancelled_units", "returned_units", "gross", "discounts", "cancelled",
         "returned")


def _window(t: ir.Table, col: str, start: dt.datetime, stop: dt.datetime) -> ir.Table:
    return t.filter(t[col] >= ibis.timestamp(start), t[col] < ibis.timestamp(stop))


def _catalog(tables) -> ir.Table:
    p = tables.table("products")
    return p.select(_pid=p.product_id, _category=p.category.fill_null(UNKNOWN))


def _keys(level: str, by_channel: bool) -> list[str]:
    return (["product_id"] if level == "sku" else ["category"]) + (
        ["channel"] if by_channel else [])


def _sales(tables, start: dt.datetime, stop: dt.datetime, grain: str) -> ir.Table:
    orders = _window(tables.table("orders"), "ordered_at", start, stop)
    heads = orders.select(_oid=orders.order_id, _at=orders.ordered_at,
                          _channel=orders.channel.fill_null(UNKNOWN), _status=orders.status)
    items = tables.table("order_items")
    items = items.filter(items.product_id.notnull())
    j = items.join(heads, items.order_id == heads._oid)
    gross = (j.quantity * j.unit_price).cast("float64")
    q = j.quantity.cast("int64")
    zero_i = ibis.literal(0, "int64")
    zero_f = ibis.literal(0.0, "float64")
    cancelled = j._status == "cancelled"
    refunded = j._status == "refunded"
    return j.select(
        product_id=j.product_id, channel=j._channel,
        period=periods.truncate(j._at, grain),
        units=q, cancelled_units=cancelled.ifelse(q, zero_i),
        returned_units=refunded.ifelse(q, zero_i),
        gross=gross, discounts=j.discount_amount.cast("float64"),
        cancelled=cancelled.ifelse(gross, zero_f), returned=refunded.ifelse(gross, zero_f))


def _credits(tables, start: dt.datetime, stop: dt.datetime, grain: str) -> ir.Table:
    r = _window(tables.table("returns"), "returned_at", start, stop)
    r = r.filter(r.product_id.notnull())
    # the credit's channel through its order first, else its own (the KPI rule)
    o = tables.table("orders").select(_oid="order_id", _ochannel="channel")
    r = r.left_join(o, r.order_id == o._oid)
    q = r.quantity.cast("int64")
    amount = r.amount.cast("float64")
    zero_i = ibis.literal(0, "int64")
    zero_f = ibis.literal(0.0, "float64")
    is_cancel = r.kind == "cancellation"
    return r.select(
        product_id=r.product_id,
        channel=r._ochannel.coalesce(r.channel).fill_null(UNKNOWN),
        period=periods.truncate(r.returned_at, grain),
        units=zero_i, cancelled_units=is_cancel.ifelse(q, zero_i),
        returned_units=is_cancel.ifelse(zero_i, q), gross=zero_f, discounts=zero_f,
        cancelled=is_cancel.ifelse(amount, zero_f), returned=is_cancel.ifelse(zero_f, amount))


def calendar(start: dt.date, end: dt.date, grain: str) -> list[dt.date]:
    """The first day of every period of ``grain`` from ``start``'s to ``end``'s."""
    out = []
    p = periods.period_start(start, grain)
    while p <= end:
        out.append(p)
        p = periods.shift(p, grain)
    return out


def stockouts(tables, start: dt.date, end: dt.date, grain: str) -> ir.Table:
    """Per SKU and period: ``stockout_days``, the days whose stock summed over locations is
    0 or less (negative stock, a booking error, counts as none)."""
    inv = tables.table("inventory")
    inv = inv.filter(inv.date >= start, inv.date <= end)
    daily = inv.group_by([inv.product_id, inv.date]).agg(on_hand=inv.on_hand.sum())
    return daily.group_by(
        _sid=daily.product_id,
        _speriod=periods.truncate(daily.date.cast("timestamp"), grain)).agg(
        stockout_days=daily.count(where=daily.on_hand <= 0))


def demand_series(tables, start: dt.date, end: dt.date, grain: str = "day",
                  level: str = "sku", by_channel: bool = False,
                  skus: list[str] | None = None) -> ir.Table:
    """One row per series and period from ``start``'s period to ``end``'s (both days
    included), zero-filled: the netted units and money above, ``demand``,
    ``stockout_days`` and ``censored``. ``level``: ``sku`` or ``category``; ``by_channel``
    splits each series by the order's channel; ``skus`` keeps only those SKUs."""
    grain = periods.check_grain(grain, SERIES_GRAINS)
    first = dt.datetime(start.year, start.month, start.day)
    stop = dt.datetime(end.year, end.month, end.day) + dt.timedelta(days=1)
    facts = ibis.union(_sales(tables, first, stop, grain), _credits(tables, first, stop, grain),
                       distinct=False)
    if skus is not None:
        facts = facts.filter(facts.product_id.isin(list(skus)))
    cat = _catalog(tables)
    facts = facts.left_join(cat, facts.product_id == cat._pid)
    facts = facts.mutate(category=facts._category.fill_null(UNKNOWN))
    keys = _keys(level, by_channel)
    agg = facts.group_by([*keys, "period"]).agg(**{c: facts[c].sum() for c in _SUMS})
    # zero-fill: every series key crossed with every period of the range
    series = agg.select(*keys).distinct()
    cal = ibis.memtable({"period": calendar(start, end, grain)}).mutate(
        period=ibis._.period.cast("date"))
    grid = series.cross_join(cal)
    full = grid.left_join(agg, [*[grid[k] == agg[k] for k in keys],
                                grid.period == agg.period])
    full = full.select(*[grid[k] for k in keys], grid.period,
                       **{c: full[c].fill_null(0) for c in _SUMS})
    out = stockouts(tables, start, end, grain)
    if level == "sku":
        full = full.left_join(out, [full.product_id == out._sid, full.period == out._speriod])
        days = full.stockout_days.fill_null(0)
    else:
        # a category's period counts the SKU-days out of stock among its SKUs
        sku_cat = out.left_join(cat, out._sid == cat._pid)
        by_cat = sku_cat.group_by(_scat=sku_cat._category.fill_null(UNKNOWN),
                                  _cperiod=sku_cat._speriod).agg(
            stockout_days=sku_cat.stockout_days.sum())
        full = full.left_join(by_cat, [full.category == by_cat._scat,
                                       full.period == by_cat._cperiod])
        days = full.stockout_days.fill_null(0)
    full = full.select(*keys, "period", *_SUMS, stockout_days=days.cast("int64"))
    net_units = full.units - full.cancelled_units - full.returned_units
    return full.select(
        *keys, "period",
        units=full.units.cast("int64"), cancelled_units=full.cancelled_units.cast("int64"),
        returned_units=full.returned_units.cast("int64"), net_units=net_units.cast("int64"),
        demand=ibis.greatest(net_units, 0).cast("int64"),
        net_sales=(full.gross - full.discounts - full.cancelled - full.returned).cast(
            "float64"),
        stockout_days=full.stockout_days, censored=full.stockout_days > 0)


def series_stats(series: ir.Table, keys: list[str]) -> ir.Table:
    """Per series, over its periods that are not censored: ``periods``, ``total`` demand,
    ``mean``, population ``std``, ``nonzero`` periods and the ``size_mean``/``size_std``
    (population) of the non-zero demands, and ``revenue`` (net sales over every period)."""
    kept = series.censored == False  # noqa: E712 (an Ibis expression, not a Python bool)
    d = series.demand.cast("float64")
    nz = kept & (series.demand > 0)
    return series.group_by(keys).agg(
        periods=series.count(where=kept), total=d.sum(where=kept), mean=d.mean(where=kept),
        std=d.std(how="pop", where=kept), nonzero=series.count(where=nz),
        size_mean=d.mean(where=nz), size_std=d.std(how="pop", where=nz),
        revenue=series.net_sales.sum())
