"""Customer tags: category preference, price band, discount sensitivity, channel, purchase cycle.

:func:`customer_tags` is one engine-side expression with one row per buyer as of a date.
Purchases are the orders that are not cancelled and have a ``customer_id``, placed before
the start of ``as_of`` (as in :mod:`~shopscope.customers.rfm`).

============================  ==================================================================
column                        definition
============================  ==================================================================
``preferred_category``        category with the highest net line value (``quantity ·
                              unit_price − line discount`` over ``order_items`` joined to
                              ``products``); ties go to the alphabetically first category;
                              lines without a category are ignored; null without any
``category_share``            that category's share of the customer's categorised net value
``avg_unit_price``            ``Σ quantity · unit_price / Σ quantity`` over the customer's lines
``price_band``                ``low`` below the shop's ``price_quantiles[0]`` quantile of line
                              unit prices (every line of every purchase counts once),
                              ``high`` above its ``price_quantiles[1]`` quantile, else
                              ``mid``; null without lines
``discount_share``            share of the customer's purchases with ``discount_amount > 0``
                              or a non-blank ``coupon_code``
``discount_sensitivity``      ``low`` below ``discount_thresholds[0]``, ``high`` at or above
                              ``discount_thresholds[1]``, else ``medium``
``main_channel``              channel of the most purchases; ties go to the alphabetically
                              first channel
``typical_interval_days``     median gap in days between consecutive purchase days (several
                              orders on one day are one purchase day); null for one-time
                              buyers
``last_purchase_date``        the last purchase day
``expected_next_purchase``    ``last_purchase_date + ⌈typical_interval_days⌉`` days
``days_to_next_purchase``     ``expected_next_purchase − as_of`` in days (negative: overdue)
============================  ==================================================================

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> rows = [
...     dict(order_id=oid, customer_id="c1", ordered_at=at, channel=ch,
...          status="completed", gross_amount=10.0, discount_amount=d,
...          shipping_amount=0.0, net_amount=10.0 - d, currency="EUR")
...     for oid, at, ch, d in [("o1", dt.datetime(2024, 1, 1), "app", 0.0),
...                            ("o2", dt.datetime(2024, 1, 11), "web", 2.0),
...                            ("o3", dt.datetime(2024, 1, 31), "web", 0.0)]
... ]
>>> schema = get_table("orders").ibis_schema().to_pyarrow()
>>> _ = store.backend.create_table("orders", pa.Table.from_pylist(rows, schema=schema))
>>> tags = customer_tags(store, "2024-02-10").execute()
>>> tags[["main_channel", "discount_sensitivity", "typical_interval_days"]]
  main_channel discount_sensitivity  typical_interval_days
0          web               medium                   15.0
>>> str(tags.expected_next_purchase[0].date()), int(tags.days_to_next_purchase[0])
('2024-02-15', 5)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import ibis
import ibis.expr.types as ir

from shopscope.core.tables import TableSource
from shopscope.customers.lifecycle import _day, _start_of, purchase_days
from shopscope.errors import ShopscopeError

__all__ = ["TAGS", "Tag", "TagOptionError", "customer_tags"]


class TagOptionError(ShopscopeError, ValueError):
    """Impossible quantiles or thresholds for :func:`customer_tags`."""


@dataclass(frozen=True)
class Tag:
    """One tag column with its labels; ``values`` are ``(value, label_en, label_zh)`` for
    the categorical tags with a fixed set of values."""

    name: str
    label_en: str
    label_zh: str
    values: tuple[tuple[str, str, str], ...] = ()


#: The tag columns of :func:`customer_tags` with English and Chinese labels.
TAGS: Mapping[str, Tag] = MappingProxyType({
    t.name: t
    for t in (
        Tag("preferred_category", "Preferred category", "偏好品类"),
        Tag("category_share", "Share of preferred category", "偏好品类占比"),
        Tag("avg_unit_price", "Average unit price", "平均单价"),
        Tag("price_band", "Price band", "价格带",
            (("low", "Low", "低价"), ("mid", "Mid", "中价"), ("high", "High", "高价"))),
        Tag("discount_share", "Share of discounted orders", "优惠订单占比"),
        Tag("discount_sensitivity", "Discount sensitivity", "优惠敏感度",
            (("low", "Low", "低"), ("medium", "Medium", "中"), ("high", "High", "高"))),
        Tag("main_channel", "Main channel", "主要渠道"),
        Tag("typical_interval_days", "Typical purchase interval (days)", "购买周期 (天)"),
        Tag("last_purchase_date", "Last purchase", "最近购买日"),
        Tag("expected_next_purchase", "Expected next purchase", "预计下次购买日"),
        Tag("days_to_next_purchase", "Days to expected next purchase", "距预计下次购买 (天)"),
    )
})


def _top(t: ir.Table, key: str, score: ir.NumericValue) -> ir.Table:
    """The row with the highest ``score`` per customer; ties to the smallest ``key``."""
    rank = ibis.row_number().over(
        ibis.window(group_by="customer_id", order_by=[score.desc(), t[key].asc()]))
    return t.mutate(_rank=rank).filter(ibis._._rank == 0).drop("_rank")


def customer_tags(
    tables: TableSource,
    as_of: dt.date | str,
    *,
    price_quantiles: tuple[float, float] = (1 / 3, 2 / 3),
    discount_thresholds: tuple[float, float] = (0.25, 0.5),
) -> ir.Table:
    """Descriptive tags of every buyer with a purchase before ``as_of`` (see the module).

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` (a Store); reads orders, order_items and products.
    as_of
        Purchases strictly before the start of this day count.
    price_quantiles
        The two probabilities whose quantiles of line unit prices split low/mid/high.
    discount_thresholds
        The two shares of discounted purchases splitting low/medium/high sensitivity.

    Returns
    -------
    ibis.Table
        ``customer_id`` and the columns of :data:`TAGS`, one row per buyer.

    Raises
    ------
    TagOptionError
        Unless ``0 < price_quantiles[0] < price_quantiles[1] < 1`` and
        ``0 < discount_thresholds[0] < discount_thresholds[1] ≤ 1``.
    """
    lo_q, hi_q = price_quantiles
    if not 0 < lo_q < hi_q < 1:
        raise TagOptionError(
            f"price_quantiles must be two increasing probabilities in (0, 1), got "
            f"{price_quantiles}", hint="e.g. (1/3, 2/3) for terciles")
    lo_d, hi_d = discount_thresholds
    if not 0 < lo_d < hi_d <= 1:
        raise TagOptionError(
            f"discount_thresholds must be two increasing shares in (0, 1], got "
            f"{discount_thresholds}", hint="e.g. (0.25, 0.5)")
    day = _day(as_of)
    end = ibis.timestamp(_start_of(day))
    o = tables.table("orders")
    o = o.filter(o.status != "cancelled", o.customer_id.notnull(), o.ordered_at < end)

    # Discounts and channel: one row per purchase (order).
    coupon = o.coupon_code.notnull() & (o.coupon_code.strip().length() > 0)
    discounted = ((o.discount_amount > 0) | coupon).cast("int64")
    disc = o.group_by("customer_id").aggregate(discount_share=discounted.mean())
    per_channel = o.group_by("customer_id", "channel").aggregate(n=o.count())
    channel = _top(per_channel, "channel", per_channel.n).select(
        "customer_id", main_channel="channel")

    # Lines of the purchases, with their category.
    items = tables.table("order_items")
    heads = o.select(_oid="order_id", customer_id="customer_id")
    products = tables.table("products").select(_pid="product_id", category="category")
    lines = items.join(heads, items.order_id == heads._oid).left_join(
        products, items.product_id == products._pid)
    lines = lines.select(
        "customer_id", "category", "quantity", "unit_price",
        net=lines.quantity * lines.unit_price - lines.discount_amount)
    cuts = lines.aggregate(_lo=lines.unit_price.quantile(lo_q).cast("float64"),
                           _hi=lines.unit_price.quantile(hi_q).cast("float64"))
    price = lines.group_by("customer_id").aggregate(
        avg_unit_price=(lines.quantity * lines.unit_price).sum() / lines.quantity.sum())
    price = price.cross_join(cuts)
    price = price.select(
        "customer_id",
        "avg_unit_price",
        price_band=ibis.cases(
            (price.avg_unit_price < price._lo, "low"),
            (price.avg_unit_price > price._hi, "high"),
            else_="mid"),
    )
    cat = lines.filter(lines.category.notnull())
    per_cat = cat.group_by("customer_id", "category").aggregate(value=cat.net.sum())
    per_cat = per_cat.mutate(
        category_share=per_cat.value / per_cat.value.sum().over(group_by="customer_id"))
    category = _top(per_cat, "category", per_cat.value).select(
        "customer_id", preferred_category="category", category_share="category_share")

    # Purchase cycle from purchase days (lag over each customer's days).
    days = purchase_days(tables, day)
    cycle = days.group_by("customer_id").aggregate(
        typical_interval_days=days.gap.median().cast("float64"),
        _last_n=days.day_n.max(),
        last_purchase_date=days.day.max(),
    )
    step = cycle.typical_interval_days.ceil().cast("int64")
    cycle = cycle.mutate(
        expected_next_purchase=(cycle.last_purchase_date + step.as_interval("D")).cast("date"),
        days_to_next_purchase=cycle._last_n + step - ibis.date(day).epoch_days(),
    ).drop("_last_n")

    out = (cycle.left_join(category, "customer_id").left_join(price, "customer_id")
           .left_join(disc, "customer_id").left_join(channel, "customer_id"))
    sensitivity = ibis.cases(
        (out.discount_share < lo_d, "low"),
        (out.discount_share < hi_d, "medium"),
        else_="high",
    )
    return out.select(
        "customer_id",
        "preferred_category",
        "category_share",
        "avg_unit_price",
        "price_band",
        "discount_share",
        discount_sensitivity=sensitivity,
        main_channel="main_channel",
        typical_interval_days="typical_interval_days",
        last_purchase_date="last_purchase_date",
        expected_next_purchase="expected_next_purchase",
        days_to_next_purchase=out.days_to_next_purchase.cast("int64"),
    )
