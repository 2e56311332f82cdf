"""Cohort LTV and payback by acquisition channel or campaign, as Ibis expressions (the
engine does the work; only the per-cohort rows come back).

Rules (docs/marketing.md, "Cohort LTV and payback"):

- A customer is acquired at their first order that was not cancelled; the cohort is the
  calendar month of that order.
- Acquisition channel: ``customers.signup_channel`` when given; else the landing source of
  the session that led to the first order (the last session of the customer at or before
  the first order; its first event's ``source``, else its ``channel``); else the first
  order's ``channel``. Campaign: the session's ``campaign``, else the first order's
  ``campaign_id``. Nothing known: ``(unknown)`` / ``(none)``.
- Net revenue: ``net_amount`` of completed and pending orders at their order time, minus
  every credit (``returns.amount``) on those orders, or on no known order, at its credit
  time. Cancelled and refunded orders (and credits on them) count nothing.
- LTV at h days: net revenue per customer in ``[first order, first order + h days)``. A
  cohort has a value at h only when every customer of it had h days before the data ends
  (the day after the last order): ``start of the next month + h days <= data end``;
  otherwise null, never a partial number.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopscope.core.tables import TableSource

UNKNOWN_CHANNEL = "(unknown)"
NO_CAMPAIGN = "(none)"
DAY_S = 86_400
#: Orders that count as sales (cancelled and refunded ones do not).
COUNTED = ("completed", "pending")


def _blank_null(v: ir.StringValue) -> ir.StringValue:
    s = v.strip()
    return (s == "").ifelse(ibis.null("string"), s)


def _first(value: ir.StringValue, at: ir.TimestampValue) -> ir.StringValue:
    """``value`` at the earliest ``at``, null when it is null there: arg_min skips null
    values on some engines, so nulls go in as '' and come out as null."""
    return _blank_null(value.fill_null("").argmin(at))


def first_orders(tables: TableSource) -> ir.Table:
    """One row per customer: ``customer_id``, ``first_at``, the first order's ``order_channel``
    and ``order_campaign`` (of the earliest non-cancelled order)."""
    o = tables.table("orders")
    o = o.filter(o.customer_id.notnull(), o.status != "cancelled")
    # aggregates, not a window over all orders: much cheaper in the engine
    return o.group_by(customer_id=o.customer_id).agg(
        first_at=o.ordered_at.min(),
        order_channel=_first(o.channel, o.ordered_at),
        order_campaign=_first(o.campaign_id, o.ordered_at))


def _landing(tables: TableSource, firsts: ir.Table) -> ir.Table:
    """Per customer, the landing source/channel and campaign of the last session at or
    before the first order."""
    e = tables.table("events")
    mine = e.filter(e.user_id.notnull(), e.session_id.notnull())
    j = mine.join(firsts, mine.user_id == firsts.customer_id).filter(
        lambda t: t.event_at <= t.first_at)
    last = j.group_by(_cid=j.customer_id).agg(_sid=j.session_id.argmax(j.event_at))
    # the session's first event, whoever it was logged as (pre-login events count)
    s = e.filter(e.session_id.notnull())
    s = s.join(last, s.session_id == last._sid)
    touch = ibis.coalesce(_blank_null(s.source), _blank_null(s.channel))
    return s.group_by("_cid").agg(session_channel=_first(touch, s.event_at),
                                  session_campaign=_first(s.campaign, s.event_at))


def acquisitions(tables: TableSource, by: str = "channel") -> ir.Table:
    """One row per buying customer: ``customer_id``, ``first_at``, ``cohort`` (month start,
    date) and ``key`` (acquisition channel or campaign, see the module rules)."""
    if by not in ("channel", "campaign"):
        raise ValueError(f"by must be channel or campaign, not {by!r}")
    f = first_orders(tables)
    c = tables.table("customers")
    c = c.select(_ccid=c.customer_id, signup=_blank_null(c.signup_channel))
    f = f.left_join(c, f.customer_id == c._ccid).drop("_ccid")
    # sessions are only looked up for whom the signup channel does not decide (a big
    # events table is then not scanned for every buyer)
    need = f if by == "campaign" else f.filter(f.signup.isnull())
    land = _landing(tables, need.select("customer_id", "first_at"))
    j = f.left_join(land, f.customer_id == land._cid)
    if by == "channel":
        key = ibis.coalesce(j.signup, j.session_channel, j.order_channel,
                            ibis.literal(UNKNOWN_CHANNEL))
    else:
        key = ibis.coalesce(j.session_campaign, j.order_campaign, ibis.literal(NO_CAMPAIGN))
    return j.select(customer_id=j.customer_id, first_at=j.first_at,
                    cohort=j.first_at.truncate("M").date(), key=key)


def net_revenue(tables: TableSource) -> ir.Table:
    """Signed revenue rows ``customer_id, at, amount``: counted orders (+) and credits (-)."""
    o = tables.table("orders")
    sales = o.filter(o.customer_id.notnull(), o.status.isin(COUNTED)).select(
        customer_id=o.customer_id, at=o.ordered_at, amount=o.net_amount.cast("float64"))
    r = tables.table("returns")
    oo = o.select(_oid=o.order_id, _ocid=o.customer_id, _status=o.status)
    rj = r.left_join(oo, r.order_id == oo._oid)
    rj = rj.filter(rj._oid.isnull() | rj._status.isin(COUNTED))
    credits = rj.select(customer_id=ibis.coalesce(rj._ocid, rj.customer_id),
                        at=rj.returned_at, amount=-rj.amount.cast("float64"))
    credits = credits.filter(credits.customer_id.notnull())
    schema = ibis.schema({"customer_id": "string", "at": "timestamp", "amount": "float64"})
    return ibis.union(sales.cast(schema), credits.cast(schema), distinct=False)


def data_end(tables: TableSource) -> dt.datetime | None:
    """The day after the last order (exclusive end of what the data covers); None without
    orders. Run once and passed on as a literal: as a scalar subquery it would be scanned
    for every horizon."""
    o = tables.table("orders")
    last = o.ordered_at.max().to_pyarrow().as_py()
    if last is None:
        return None
    return dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())


def customer_values(tables: TableSource, acq: ir.Table, horizons: tuple[int, ...],
                    months: int = 12) -> ir.Table:
    """Per customer: ``v_{h}`` net revenue in the first h days and ``m_{k}`` in the first
    30·k days (k = 1..months); completeness is decided per cohort by :func:`cohort_ltv`."""
    rev = net_revenue(tables)
    rev = rev.select(_rcid=rev.customer_id, at=rev.at, amount=rev.amount)
    # one left join, grouped by the acquisition columns: ``acq`` (the events scan) is used
    # once in the plan, not once per side of a join back
    j = acq.left_join(rev, acq.customer_id == rev._rcid)
    age = j.at.epoch_seconds() - j.first_at.epoch_seconds()
    j = j.mutate(_age=age)
    aggs = {f"v_{h}": j.amount.sum(where=(j._age >= 0) & (j._age < h * DAY_S))
            for h in horizons}
    aggs.update({f"m_{k}": j.amount.sum(where=(j._age >= 0) & (j._age < 30 * k * DAY_S))
                 for k in range(1, months + 1)})
    per = j.group_by(list(acq.columns)).agg(**aggs)
    return per.mutate(**{c: per[c].fill_null(0.0) for c in aggs})


def spend_by_month(tables: TableSource, by: str = "channel") -> ir.Table:
    """``key, cohort, spend``: marketing spend per channel (or campaign id) and month."""
    s = tables.table("marketing_spend")
    key = s.channel if by == "channel" else ibis.coalesce(_blank_null(s.campaign_id),
                                                          ibis.literal(NO_CAMPAIGN))
    return s.group_by(key=key, cohort=s.date.truncate("M")).agg(
        spend=s.spend.cast("float64").sum())


def cohort_ltv(tables: TableSource, by: str = "channel", start: dt.date | None = None,
               end: dt.date | None = None, horizons: tuple[int, ...] = (7, 30, 90, 180, 365),
               months: int = 12, end_of_data: dt.datetime | None = None) -> ir.Table:
    """One row per (key, cohort month): ``customers``, ``ltv_{h}`` (null for a cohort too
    young for h days), ``curve_{k}`` (cumulative net revenue per customer in the first 30·k
    days, null when too young), ``spend`` (0 without spend rows) and ``cac`` (null without
    spend). ``start``/``end`` pick cohorts by the day of the first order (both included)."""
    acq = acquisitions(tables, by)
    if start is not None:
        acq = acq.filter(acq.first_at >= ibis.timestamp(dt.datetime.combine(start, dt.time())))
    if end is not None:
        stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        acq = acq.filter(acq.first_at < ibis.timestamp(stop))
    vals = customer_values(tables, acq, horizons, months)
    g = vals.group_by(["key", "cohort"]).agg(
        customers=vals.count(),
        **{f"_v_{h}": vals[f"v_{h}"].sum() for h in horizons},
        **{f"_m_{k}": vals[f"m_{k}"].sum() for k in range(1, months + 1)},
    )
    end_ts = ibis.timestamp(end_of_data or data_end(tables) or dt.datetime(1900, 1, 1))
    next_month = g.cohort.cast("timestamp") + ibis.interval(months=1)

    def per_customer(total: ir.NumericValue, days: int) -> ir.FloatingValue:
        ok = (next_month + ibis.interval(days=days)) <= end_ts
        return ok.ifelse(total / g.customers, ibis.null("float64"))

    g = g.mutate(
        **{f"ltv_{h}": per_customer(g[f"_v_{h}"], h) for h in horizons},
        **{f"curve_{k}": per_customer(g[f"_m_{k}"], 30 * k) for k in range(1, months + 1)},
    )
    sp = spend_by_month(tables, by)
    sp = sp.select(_k=sp.key, _c=sp.cohort.cast("date"), _spend=sp.spend)
    j = g.left_join(sp, (g.key == sp._k) & (g.cohort == sp._c))
    spend = j._spend.fill_null(0.0)
    cols = ["key", "cohort", "customers", *[f"ltv_{h}" for h in horizons],
            *[f"curve_{k}" for k in range(1, months + 1)]]
    return j.select(*cols, spend=spend,
                    cac=(spend > 0).ifelse(spend / j.customers, ibis.null("float64"))
                    ).order_by(["key", "cohort"])
