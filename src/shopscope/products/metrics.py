"""Product and category performance, computed in the engine.

Every function takes ``tables`` (anything with ``.table(name)``) and a window ``[start,
stop)`` of naive datetimes (either end open) and returns an Ibis expression; only the
aggregates (one row per SKU or category) reach Python.

Money follows the KPI definitions (``docs/metrics.md``) line by line, so that the SKUs of a
range plus :func:`unattributed` add up to the shop's KPIs for that range:

* ``gmv`` = Σ quantity × unit_price over the lines of the orders placed in the window (all
  statuses), ``discounts`` = Σ line discounts;
* ``cancelled`` = gross of the lines of cancelled orders + cancellation credits issued in
  the window for the product; ``returned`` = return credits issued in the window for the
  product + gross of the lines of refunded orders;
* ``net_sales`` = gmv - discounts - cancelled - returned.

Value an order carries beyond its lines (no lines, lines without a product, an order-level
discount) and credits that name no product are the shop's but no SKU's: see
:func:`unattributed`.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopscope.core import periods
from shopscope.core.tables import TableSource

#: Label of a product without category.
UNKNOWN = "(unknown)"
#: Days after a SKU's launch whose sales count as its first sales.
FIRST_DAYS = 30

_SUMS = ("gmv", "discounts", "cancelled_lines", "refunded_lines", "cancellation_credits",
         "return_credits", "units", "orders", "buyers", "repeat_buyers", "returned_units",
         "views", "viewers", "carters", "purchasers")
_FLOATS = ("gmv", "discounts", "cancelled_lines", "refunded_lines", "cancellation_credits",
           "return_credits")


def _window(t: ir.Table, col: str, start: dt.datetime | None,
            stop: dt.datetime | None) -> ir.Table:
    conds = []
    if start is not None:
        conds.append(t[col] >= ibis.timestamp(start))
    if stop is not None:
        conds.append(t[col] < ibis.timestamp(stop))
    return t.filter(*conds) if conds else t


def _catalog(tables: TableSource) -> ir.Table:
    p = tables.table("products")
    return p.select(_pid=p.product_id, _category=p.category.fill_null(UNKNOWN))


def lines(tables: TableSource, start: dt.datetime | None,
          stop: dt.datetime | None) -> ir.Table:
    """The product lines of the orders placed in the window, with their order's time,
    customer and status and the product's category."""
    orders = _window(tables.table("orders"), "ordered_at", start, stop)
    heads = orders.select(_oid=orders.order_id, at=orders.ordered_at,
                          customer_id=orders.customer_id, status=orders.status)
    items = tables.table("order_items")
    items = items.filter(items.product_id.notnull())
    joined = items.join(heads, items.order_id == heads._oid)
    cat = _catalog(tables)
    joined = joined.left_join(cat, joined.product_id == cat._pid)
    return joined.select(
        order_id=joined.order_id, product_id=joined.product_id,
        category=joined._category.fill_null(UNKNOWN), at=joined.at,
        customer_id=joined.customer_id, status=joined.status, quantity=joined.quantity,
        gross=(joined.quantity * joined.unit_price).cast("float64"),
        discount=joined.discount_amount.cast("float64"))


def _key(level: str) -> str:
    return "product_id" if level == "product" else "category"


def _sales(tables: TableSource, level: str, start, stop) -> ir.Table:
    ln = lines(tables, start, stop)
    key = _key(level)
    cancelled = ln.status == "cancelled"
    # per key and customer first: buyers and repeat buyers are counted over customers
    pc = ln.group_by([key, "customer_id"]).agg(
        gmv=ln.gross.sum(), discounts=ln.discount.sum(),
        cancelled_lines=ln.gross.sum(where=cancelled),
        refunded_lines=ln.gross.sum(where=ln.status == "refunded"),
        units=ln.quantity.sum(), orders=ln.order_id.nunique(),
        valid_orders=ln.order_id.nunique(where=~cancelled))
    buyer = pc.customer_id.notnull() & (pc.valid_orders > 0)
    return pc.group_by(key).agg(
        gmv=pc.gmv.sum(), discounts=pc.discounts.sum(),
        cancelled_lines=pc.cancelled_lines.sum(), refunded_lines=pc.refunded_lines.sum(),
        units=pc.units.sum(), orders=pc.orders.sum(), buyers=pc.count(where=buyer),
        repeat_buyers=pc.count(where=buyer & (pc.valid_orders >= 2)))


def _credits(tables: TableSource, level: str, start, stop) -> ir.Table:
    r = _window(tables.table("returns"), "returned_at", start, stop)
    r = r.filter(r.product_id.notnull())
    cat = _catalog(tables)
    r = r.left_join(cat, r.product_id == cat._pid)
    r = r.mutate(category=r._category.fill_null(UNKNOWN))
    is_return = r.kind == "return"
    return r.group_by(_key(level)).agg(
        cancellation_credits=r.amount.sum(where=r.kind == "cancellation"),
        return_credits=r.amount.sum(where=is_return),
        returned_units=r.quantity.sum(where=is_return))


def _events(tables: TableSource, level: str, start, stop) -> ir.Table:
    e = _window(tables.table("events"), "event_at", start, stop)
    e = e.filter(e.product_id.notnull())
    cat = _catalog(tables)
    e = e.left_join(cat, e.product_id == cat._pid)
    e = e.mutate(category=e._category.coalesce(e.category).fill_null(UNKNOWN),
                 _visitor=e.user_id.coalesce(e.anonymous_id))
    kind = e.event_type
    return e.group_by(_key(level)).agg(
        views=e.count(where=kind == "view"),
        viewers=e._visitor.nunique(where=kind == "view"),
        carters=e._visitor.nunique(where=kind == "add_to_cart"),
        purchasers=e._visitor.nunique(where=kind == "purchase"))


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return (num / den.nullif(0)).cast("float64")


def performance(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
                level: str = "product") -> ir.Table:
    """One row per SKU (``level="product"``) or category that sold, was credited or was
    viewed in the window: sums, ratios, share of category and rank by GMV (1 = best).

    ``with_events`` parts are zero when the shop has no product events; the conversion
    ratios are then null.
    """
    key = _key(level)
    parts = [_sales(tables, level, start, stop), _credits(tables, level, start, stop),
             _events(tables, level, start, stop)]

    def conform(part: ir.Table) -> ir.Table:
        cols = {key: part[key]}
        for name in _SUMS:
            value = part[name] if name in part.columns else ibis.literal(0)
            cols[name] = value.cast("float64" if name in _FLOATS else "int64").fill_null(0)
        return part.select(**cols)

    stacked = ibis.union(*[conform(p) for p in parts], distinct=False)
    t = stacked.group_by(key).agg(**{n: stacked[n].sum() for n in _SUMS})
    cancelled = t.cancelled_lines + t.cancellation_credits
    returned = t.return_credits + t.refunded_lines
    t = t.mutate(
        cancelled=cancelled, returned=returned,
        net_sales=t.gmv - t.discounts - cancelled - returned,
        avg_price=_ratio(t.gmv, t.units), discount_rate=_ratio(t.discounts, t.gmv),
        repeat_share=_ratio(t.repeat_buyers, t.buyers),
        return_rate=_ratio(returned, t.gmv), returned_unit_rate=_ratio(t.returned_units, t.units),
        view_to_cart=_ratio(t.carters, t.viewers),
        view_to_purchase=_ratio(t.purchasers, t.viewers),
        rank=(ibis.rank().over(ibis.window(order_by=[ibis.desc(t.gmv)])) + 1).cast("int64"))
    if level == "product":
        p = tables.table("products")
        info = p.select(_pid=p.product_id, sku=p.sku, name=p.name,
                        category=p.category.fill_null(UNKNOWN), brand=p.brand)
        t = t.left_join(info, t.product_id == info._pid).drop("_pid")
        t = t.mutate(category=t.category.fill_null(UNKNOWN))
        w = ibis.window(group_by=t.category)
        t = t.mutate(share_of_category=_ratio(t.gmv, t.gmv.sum().over(w)))
    whole = ibis.window()
    t = t.mutate(share=_ratio(t.gmv, t.gmv.sum().over(whole)))
    # the long tail: cumulative share of GMV with the SKUs (categories) ranked by GMV
    ranked = ibis.window(order_by=[ibis.desc(t.gmv), t[key]], rows=(None, 0))
    return t.mutate(cum_share=_ratio(t.gmv.sum().over(ranked), t.gmv.sum().over(whole)))


def unattributed(tables: TableSource, start: dt.datetime | None,
                 stop: dt.datetime | None) -> ir.Table:
    """One row: the shop's order value and credits of the window that no SKU carries
    (orders minus their product lines; credits without a product)."""
    orders = _window(tables.table("orders"), "ordered_at", start, stop)
    head = orders.aggregate(
        gmv=orders.gross_amount.sum(), discounts=orders.discount_amount.sum(),
        cancelled_orders=orders.gross_amount.sum(where=orders.status == "cancelled"),
        refunded_orders=orders.gross_amount.sum(where=orders.status == "refunded"))
    ln = lines(tables, start, stop)
    on_lines = ln.aggregate(
        gmv=ln.gross.sum(), discounts=ln.discount.sum(),
        cancelled_orders=ln.gross.sum(where=ln.status == "cancelled"),
        refunded_orders=ln.gross.sum(where=ln.status == "refunded"))
    r = _window(tables.table("returns"), "returned_at", start, stop)
    r = r.filter(r.product_id.isnull())
    cr = r.aggregate(cancellation_credits=r.amount.sum(where=r.kind == "cancellation"),
                     return_credits=r.amount.sum(where=r.kind == "return"))
    h = head.cross_join(on_lines.rename(lambda c: f"l_{c}")).cross_join(cr)

    def z(v: ir.NumericValue) -> ir.NumericValue:
        return v.cast("float64").fill_null(0.0)

    gmv = z(h.gmv) - z(h.l_gmv)
    discounts = z(h.discounts) - z(h.l_discounts)
    cancelled = z(h.cancelled_orders) - z(h.l_cancelled_orders) + z(h.cancellation_credits)
    returned = z(h.refunded_orders) - z(h.l_refunded_orders) + z(h.return_credits)
    return h.select(gmv=gmv, discounts=discounts, cancelled=cancelled, returned=returned,
                    net_sales=gmv - discounts - cancelled - returned)


def return_reasons(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
                   level: str = "product", top: int = 3) -> ir.Table:
    """The ``top`` reasons of the returns (kind ``return``) issued in the window, per SKU or
    category, by count of returns (missing reason: ``None``)."""
    key = _key(level)
    r = _window(tables.table("returns"), "returned_at", start, stop)
    r = r.filter(r.product_id.notnull(), r.kind == "return")
    cat = _catalog(tables)
    r = r.left_join(cat, r.product_id == cat._pid)
    r = r.mutate(category=r._category.fill_null(UNKNOWN))
    g = r.group_by([key, "reason"]).agg(returns=r.count(), units=r.quantity.sum(),
                                         amount=r.amount.sum())
    w = ibis.window(group_by=g[key], order_by=[ibis.desc(g.returns), g.reason])
    g = g.mutate(_n=ibis.row_number().over(w))
    return g.filter(g._n < top).drop("_n")


def launches(tables: TableSource) -> ir.Table:
    """Each product's launch: ``launched_at`` when the catalogue has it, else its first
    order line ever."""
    items = tables.table("order_items")
    orders = tables.table("orders")
    first = items.join(orders, items.order_id == orders.order_id).group_by(
        _fp=items.product_id).agg(first_sold=orders.ordered_at.min())
    p = tables.table("products")
    j = p.left_join(first, p.product_id == first._fp)
    return j.select(product_id=j.product_id, launch=j.launched_at.coalesce(j.first_sold))


def new_products(tables: TableSource, start: dt.datetime | None,
                 stop: dt.datetime | None) -> ir.Table:
    """SKUs launched in the window with their sales of the first :data:`FIRST_DAYS` days
    (all statuses, as GMV; those days may run past the window)."""
    launch = launches(tables)
    launch = _window(launch.filter(launch.launch.notnull()), "launch", start, stop)
    ln = lines(tables, None, None)
    j = launch.left_join(ln, (launch.product_id == ln.product_id)
                         & (ln.at >= launch.launch)
                         & (ln.at < launch.launch + ibis.interval(days=FIRST_DAYS)))
    out = j.group_by([launch.product_id, launch.launch]).agg(
        first_gmv=j.gross.sum(), first_units=j.quantity.sum(),
        first_orders=j.order_id.nunique())
    p = tables.table("products")
    info = p.select(_pid=p.product_id, name=p.name, category=p.category.fill_null(UNKNOWN))
    out = out.left_join(info, out.product_id == info._pid).drop("_pid")
    return out.mutate(first_gmv=out.first_gmv.fill_null(0.0),
                      first_units=out.first_units.fill_null(0))


def in_stock_rows(tables: TableSource, start: dt.datetime | None,
                  stop: dt.datetime | None) -> ir.IntegerScalar:
    """Inventory rows in the window (动销率 counts in-stock SKUs when there are any)."""
    inv = tables.table("inventory")
    inv = inv.filter(*([inv.date >= start.date()] if start else []),
                     *([inv.date < stop.date()] if stop else []))
    return inv.count()


def sell_through(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
                 by_inventory: bool = False) -> ir.Table:
    """动销率: one row with ``listed`` (SKUs launched before the window ends, or never sold
    and without launch date; with ``by_inventory``, those in stock on some day of the
    window), ``sold`` (those of them with a unit on a non-cancelled order in the window)
    and ``rate`` = sold / listed."""
    launch = launches(tables)
    if stop is not None:
        launch = launch.filter(launch.launch.isnull() | (launch.launch < ibis.timestamp(stop)))
    if by_inventory:
        inv = tables.table("inventory")
        inv = inv.filter(inv.on_hand > 0, *([inv.date >= start.date()] if start else []),
                         *([inv.date < stop.date()] if stop else []))
        stocked = inv.select(_sid=inv.product_id).distinct()
        launch = launch.join(stocked, launch.product_id == stocked._sid)
    ln = lines(tables, start, stop)
    sold = ln.filter(ln.status != "cancelled").select(_sold=ln.product_id).distinct()
    base = launch.left_join(sold, launch.product_id == sold._sold)
    counted = base.aggregate(listed=base.count(), sold=base.count(where=base._sold.notnull()))
    return counted.mutate(rate=_ratio(counted.sold, counted.listed))


def trend(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
          grain: str, keys: list[str] | None = None, level: str = "product") -> ir.Table:
    """GMV, units and orders per period of ``grain`` for ``keys`` (all when None)."""
    ln = lines(tables, start, stop)
    key = _key(level)
    if keys is not None:
        ln = ln.filter(ln[key].isin(keys))
    ln = ln.mutate(period=periods.truncate(ln.at, grain))
    return ln.group_by([key, "period"]).agg(gmv=ln.gross.sum(), units=ln.quantity.sum(),
                                            orders=ln.order_id.nunique())


def buyers(tables: TableSource, product_id: str, start: dt.datetime | None,
           stop: dt.datetime | None) -> ir.Table:
    """The distinct customers (with an id) of the non-cancelled orders in the window that
    hold ``product_id``: who buys it, for their segments."""
    orders = _window(tables.table("orders"), "ordered_at", start, stop)
    orders = orders.filter((orders.status != "cancelled") & orders.customer_id.notnull())
    items = tables.table("order_items")
    mine = items.filter(items.product_id == product_id).select(_oid=items.order_id)
    got = orders.semi_join(mine, orders.order_id == mine._oid)
    return got.select("customer_id").distinct()
