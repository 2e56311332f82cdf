"""What every area and the interface share about shop metrics: the KPI registry
(:data:`METRICS`: labels, unit, formula), the breakdowns, the label of a missing breakdown
value and the one rule for expressing a change (points for rates, percent otherwise).

The KPI area computes these metrics (:mod:`shopscope.kpis.queries`); the CLI formats, the
translator and the pages read their definitions from here, so the interface needs no area.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

import pandas as pd

__all__ = ["BREAKDOWNS", "METRICS", "UNKNOWN", "Breakdown", "Change", "Metric", "Unit",
           "metric_change", "unit_change"]

Breakdown = Literal["channel", "country", "region", "category"]
Unit = Literal["currency", "count", "number", "ratio"]
BREAKDOWNS: tuple[str, ...] = get_args(Breakdown)

#: Label of a missing breakdown value (an order without country, a product without category).
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class Metric:
    """The definition of one KPI, shared by the engine, the dashboard, the CLI and the docs.

    Parameters
    ----------
    name
        Column name in :func:`shopscope.kpis.queries.kpi_expr` and value of ``metric`` in
        :class:`shopscope.kpis.queries.KpiResult`.
    label_en, label_zh
        Display labels.
    unit
        ``"currency"`` (order currency), ``"count"``, ``"number"`` (a plain quotient such as
        units per order) or ``"ratio"`` (a fraction, 0.25 = 25%).
    formula
        The formula in one line, as written in ``docs/metrics.md``.
    doc
        What counts and what does not.
    ratio
        True when the metric is a quotient: it is null when its denominator is zero and it
        cannot be summed across periods or breakdown values.
    higher_is_better
        Direction of a good change, for colouring dashboards.
    """

    name: str
    label_en: str
    label_zh: str
    unit: Unit
    formula: str
    doc: str
    ratio: bool = False
    higher_is_better: bool = True


def _m(*args: object, **kwargs: object) -> tuple[str, Metric]:
    metric = Metric(*args, **kwargs)  # type: ignore[arg-type]
    return metric.name, metric


#: Every KPI by name, in display order.
METRICS: Mapping[str, Metric] = MappingProxyType(
    dict(
        [
            _m("gmv", "GMV", "成交总额 (GMV)", "currency",
               "Σ orders.gross_amount",
               "Merchandise value of the orders placed in the period (by ordered_at), all "
               "statuses: orders later cancelled or refunded still count. Shipping excluded."),
            _m("discounts", "Discounts", "优惠金额", "currency",
               "Σ orders.discount_amount",
               "Discounts granted on the orders placed in the period.",
               higher_is_better=False),
            _m("cancelled_amount", "Cancelled amount", "取消金额", "currency",
               "Σ gross_amount [status = cancelled] + Σ returns.amount [kind = cancellation]",
               "Gross value of orders placed in the period whose status is 'cancelled', plus "
               "cancellation credits issued in the period (by returned_at).",
               higher_is_better=False),
            _m("returned_amount", "Returned amount", "退货金额", "currency",
               "Σ returns.amount [kind = return] + Σ gross_amount [status = refunded]",
               "Return credits issued in the period (by returned_at), plus the gross value of "
               "orders placed in the period whose status is 'refunded'.",
               higher_is_better=False),
            _m("net_sales", "Net sales", "净销售额", "currency",
               "gmv - discounts - cancelled_amount - returned_amount",
               "What the shop keeps from the period's sales. Can be negative in a period "
               "with little selling and many credits."),
            _m("orders", "Orders", "订单数", "count",
               "count(orders)",
               "Orders placed in the period, all statuses. With the category breakdown: "
               "distinct orders with at least one line in the category."),
            _m("units", "Units", "销售件数", "count",
               "Σ order_items.quantity",
               "Units on the lines of the orders placed in the period (all statuses)."),
            _m("buyers", "Buyers", "买家数", "count",
               "count distinct customer_id [status ≠ cancelled]",
               "Identified customers with at least one order in the period that was not "
               "cancelled. Guest orders (customer_id null) cannot be told apart, so they "
               "count in gmv and orders but not as buyers."),
            _m("new_buyers", "New buyers", "新买家数", "count",
               "count distinct buyers whose first non-cancelled order ever is in the period",
               "Buyers whose first-ever non-cancelled order (over the whole history, not "
               "only the range asked for, in any channel or category) falls in the period."),
            _m("returning_buyers", "Returning buyers", "老买家数", "count",
               "buyers - new_buyers",
               "Buyers who had bought before the period."),
            _m("aov", "Average order value", "客单价", "currency",
               "gmv / orders",
               "Average gross value per order placed (all statuses). Null without orders.",
               ratio=True),
            _m("units_per_order", "Units per order", "连带率", "number",
               "units / orders with items",
               "Units per order, over the orders of the period that have item lines. Null "
               "when no order has lines.",
               ratio=True),
            _m("repurchase_rate", "Repurchase rate", "复购率", "ratio",
               "buyers with ≥ 2 non-cancelled orders in the period / buyers",
               "Share of the period's buyers who placed two or more non-cancelled orders in "
               "that same period (and breakdown value). Null without buyers.",
               ratio=True),
            _m("cancellation_rate", "Cancellation rate", "取消率", "ratio",
               "cancelled_amount / gmv",
               "Cancelled value as a share of GMV. Null when gmv is 0.",
               ratio=True, higher_is_better=False),
            _m("return_rate", "Return rate", "退货率", "ratio",
               "returned_amount / gmv",
               "Returned and refunded value as a share of GMV. Null when gmv is 0.",
               ratio=True, higher_is_better=False),
            _m("arpu", "ARPU (per buyer)", "ARPU (每买家净销售额)", "currency",
               "net_sales / buyers",
               "Net sales per paying (identified) buyer, not per visitor; guest sales are in "
               "the numerator but guests are not in the denominator. Null without buyers.",
               ratio=True),
            _m("pv", "Page views", "浏览量 (PV)", "count",
               "count(events) [event_type = view]",
               "View events in the period (by event_at)."),
            _m("uv", "Unique visitors", "访客数 (UV)", "count",
               "count distinct coalesce(user_id, anonymous_id)",
               "Distinct visitors with any event in the period; a visitor is the user id "
               "when known, else the anonymous id."),
            _m("event_buyers", "Purchasing visitors", "下单访客数", "count",
               "count distinct visitor [event_type = purchase]",
               "Distinct visitors with a purchase event in the period."),
            _m("conversion_rate", "Conversion rate", "转化率", "ratio",
               "event_buyers / uv",
               "Share of visitors who purchased, from behaviour events. Null when there are "
               "no events.",
               ratio=True),
        ]
    )
)


@dataclass(frozen=True)
class Change:
    """How a metric moved against an earlier value.

    ``unit`` is ``"pp"`` for rates (``value`` is the difference in percentage points: 0.020
    → 0.032 is +1.2 pp) and ``"relative"`` for amounts and counts (``value`` is the
    relative change: 0.1 is +10%).
    """

    value: float
    unit: Literal["pp", "relative"]

    def text(self) -> str:
        """``▲1.2 pp``, ``▼10.0%`` or ``＝``.

        >>> Change(1.25, "pp").text(), Change(-0.1, "relative").text(), Change(0.0, "pp").text()
        ('▲1.2 pp', '▼10.0%', '＝')
        """
        if self.value == 0:
            return "＝"
        arrow = "▲" if self.value > 0 else "▼"
        size = abs(self.value)
        return f"{arrow}{size:,.1f} pp" if self.unit == "pp" else f"{arrow}{size:,.1%}"


def metric_change(metric: str, value: float | None, earlier: float | None) -> Change | None:
    """The one rule for expressing a change of ``metric``: percentage points for rates
    (``unit == "ratio"``: a relative change of a small rate reads as ▲10,027.6%), relative
    change for amounts, counts and quotients in money (AOV). None when there is nothing to
    compare with (or, for a relative change, the earlier value is zero).

    >>> metric_change("cancellation_rate", 0.032, 0.020)
    Change(value=1.2, unit='pp')
    >>> metric_change("gmv", 110.0, 100.0).text(), metric_change("orders", 5.0, 0.0)
    ('▲10.0%', None)
    """
    return unit_change(METRICS[metric].unit, value, earlier)


def unit_change(unit: str, value: float | None, earlier: float | None) -> Change | None:
    """:func:`metric_change` for a metric's unit (``"ratio"`` moves in points)."""
    if value is None or earlier is None or pd.isna(value) or pd.isna(earlier):
        return None
    if unit == "ratio":
        return Change(round((float(value) - float(earlier)) * 100, 10), "pp")
    if earlier == 0:
        return None
    return Change((float(value) - float(earlier)) / abs(float(earlier)), "relative")
