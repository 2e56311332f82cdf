"""Channel and campaign reports: sessions, customers, orders, sales and spend per period and
touch (channel, source, medium, campaign), with ratios and 环比/同比.

Everything per row is computed in the engine (:func:`report_expr`); only the aggregate
(periods x breakdown rows) comes back, where the ratios and comparisons are added
(:func:`add_ratios`, :func:`compare`).

The touch of a session is its first event's source, medium and campaign. The channel of a
touch is the ``marketing_spend`` channel of its campaign; a campaign without spend rows
leaves the touch's medium as channel; neither gives ``(not set)``.

The touch of an order: its own ``campaign_id`` when it has one (channel from the spend rows
of that campaign; source and medium from the last session before the order when that
session carries the same campaign), else the last session of the same customer that
started at or before the order. A guest order, or one with no earlier session, is
``(not set)``: still counted in the totals.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.core import periods as P
from shopscope.core.tables import TableSource

DIMENSIONS = ("channel", "source", "medium", "campaign")
NOT_SET = "(not set)"
#: Additive measures (returning customers is a distinct count: it does not add up over a
#: breakdown, a customer can return through two channels).
COUNTS = ("sessions", "new_customers", "returning_customers", "acquired", "orders", "clicks",
          "impressions")
MONEY = ("gmv", "net_sales", "spend")
MEASURES = (*COUNTS, *MONEY)
RATIOS = {  # name: (numerator, denominator)
    "cpc": ("spend", "clicks"),
    "cpa": ("spend", "orders"),
    "cac": ("spend", "new_customers"),
    "cac_acquired": ("spend", "acquired"),
    "roas": ("gmv", "spend"),
    "roas_net": ("net_sales", "spend"),
    "conversion": ("orders", "sessions"),
}
_LIVE = ("completed", "pending")  # statuses whose value stays with the shop


def _has(tables: TableSource, name: str) -> bool:
    has = getattr(tables, "has_table", None)
    return True if has is None else bool(has(name))


def _text(value: ir.StringValue) -> ir.StringValue:
    """Empty or null -> ``(not set)``."""
    v = value.cast("string").strip()
    return ibis.ifelse(v.isnull() | (v == ""), NOT_SET, v)


def _campaign_channel(tables: TableSource) -> ir.Table | None:
    """Campaign -> spend channel (the alphabetically first when a campaign has several)."""
    if not _has(tables, "marketing_spend"):
        return None
    s = tables.table("marketing_spend")
    s = s.filter(s.campaign_id.notnull() & (s.campaign_id.strip() != ""))
    return s.group_by(_camp=s.campaign_id.strip()).agg(_spend_channel=s.channel.min())


def sessions(tables: TableSource, stop: dt.date | None = None,
             touch: bool = True) -> ir.Table | None:
    """One row per session: ``session_id, at, customer_id, channel, source, medium,
    campaign`` (events without a session id are not sessions); ``touch=False``: only
    ``session_id, at`` (what totals need, much cheaper on many events)."""
    if not _has(tables, "events"):
        return None
    e = tables.table("events")
    e = e.filter(e.session_id.notnull())
    if stop is not None:
        e = e.filter(e.event_at < ibis.timestamp(stop))
    if not touch:
        return e.group_by("session_id").agg(at=e.event_at.min())
    s = e.group_by("session_id").agg(
        at=e.event_at.min(), customer_id=e.user_id.max(),
        source=e.source.argmin(e.event_at), medium=e.medium.argmin(e.event_at),
        campaign=e.campaign.argmin(e.event_at))
    s = s.mutate(source=_text(s.source), medium=_text(s.medium), campaign=_text(s.campaign))
    camps = _campaign_channel(tables)
    if camps is None:
        return s.mutate(channel=s.medium)
    j = s.left_join(camps, s.campaign == camps._camp)
    return j.select("session_id", "at", "customer_id", "source", "medium", "campaign",
                    channel=j._spend_channel.coalesce(j.medium))


def order_touches(tables: TableSource, stop: dt.date | None = None,
                  touch: bool = True, sess: ir.Table | None = None) -> ir.Table:
    """Orders with their touch (the rule in the module docstring; ``touch=False``: all
    ``(not set)``, for totals), ``is_new`` (the customer's first order that was not
    cancelled, over all history) and ``net`` (net amount of a completed or pending order
    less its credited returns). ``sess``: the :func:`sessions` table when the caller has
    it (one expression, so the engine can compute it once)."""
    o = tables.table("orders")
    if stop is not None:
        o = o.filter(o.ordered_at < ibis.timestamp(stop))
    live = o.status.isin(_LIVE)
    o = o.mutate(_camp=o.campaign_id.cast("string").strip())
    # first order ever: the earliest not cancelled order of each customer (over all time,
    # so a customer who bought before the report starts is returning)
    everything = tables.table("orders")
    firsts = everything.filter((everything.status != "cancelled")
                               & everything.customer_id.notnull())
    w = ibis.window(group_by=firsts.customer_id, order_by=[firsts.ordered_at, firsts.order_id])
    firsts = firsts.mutate(_rn=ibis.row_number().over(w))
    firsts = firsts.filter(firsts._rn == 0).select(_first_id=firsts.order_id)
    o = o.left_join(firsts, o.order_id == firsts._first_id).select(
        *o.columns, is_new=firsts._first_id.notnull())
    if _has(tables, "returns"):
        r = tables.table("returns")
        credits = r.group_by(_rid=r.order_id).agg(_credit=r.amount.sum())
        o = o.left_join(credits, o.order_id == credits._rid).select(
            *o.columns, _credit=credits._credit.fill_null(0.0))
    else:
        o = o.mutate(_credit=ibis.literal(0.0))
    o = o.mutate(net=ibis.ifelse(live, o.net_amount - o._credit, 0.0),
                 orders_n=ibis.ifelse(o.status != "cancelled", 1, 0))
    if not touch:
        return o.mutate(**dict.fromkeys(DIMENSIONS, ibis.literal(NOT_SET)))
    s = sess if sess is not None else sessions(tables, stop)
    if s is None:
        last = None
    else:
        s = s.rename(_s_at="at", _s_cust="customer_id", _s_ch="channel", _s_src="source",
                     _s_med="medium", _s_camp="campaign")
        pairs = o.select(_oid="order_id", _cust="customer_id", _oat="ordered_at")
        pairs = pairs.filter(pairs._cust.notnull())
        s = s.filter(s._s_cust.notnull())  # anonymous sessions cannot precede an order
        j = pairs.join(s, (pairs._cust == s._s_cust) & (s._s_at <= pairs._oat))
        w2 = ibis.window(group_by=j._oid, order_by=[ibis.desc(j._s_at), ibis.desc(j.session_id)])
        j = j.mutate(_rn=ibis.row_number().over(w2))
        last = j.filter(j._rn == 0).select("_oid", "_s_ch", "_s_src", "_s_med", "_s_camp")
    if last is None:
        o = o.mutate(_s_ch=ibis.null("string"), _s_src=ibis.null("string"),
                     _s_med=ibis.null("string"), _s_camp=ibis.null("string"))
    else:
        o = o.left_join(last, o.order_id == last._oid).select(
            *o.columns, "_s_ch", "_s_src", "_s_med", "_s_camp")
    camps = _campaign_channel(tables)
    if camps is None:
        o = o.mutate(_spend_channel=ibis.null("string"))
    else:
        o = o.left_join(camps, o._camp == camps._camp).select(*o.columns, "_spend_channel")
    own = o._camp.notnull() & (o._camp != "")
    same = own & (o._s_camp == o._camp)
    return o.mutate(
        campaign=ibis.ifelse(own, o._camp, o._s_camp.fill_null(NOT_SET)),
        channel=ibis.ifelse(own, o._spend_channel.coalesce(ibis.ifelse(same, o._s_ch, NOT_SET)),
                            o._s_ch.fill_null(NOT_SET)),
        source=ibis.ifelse(own, ibis.ifelse(same, o._s_src, NOT_SET), o._s_src.fill_null(NOT_SET)),
        medium=ibis.ifelse(own, ibis.ifelse(same, o._s_med, NOT_SET), o._s_med.fill_null(NOT_SET)),
    )


def _zero(t: ir.Table, **given: ir.Value) -> ir.Table:
    """``t`` with every measure, the ones not given set to 0 (so the parts stack)."""
    cols = {}
    for m in MEASURES:
        default = ibis.literal(0.0) if m in MONEY else ibis.literal(0, "int64")
        cols[m] = given.get(m, default).cast("float64" if m in MONEY else "int64")
    return t.select(*[t[c] for c in ("period", *DIMENSIONS)], **cols)


def report_expr(tables: TableSource, first: dt.date, stop: dt.date, grain: str,
                by: tuple[str, ...]) -> ir.Table:
    """Sums per period (first day, ``date``) and ``by`` over ``first`` <= day < ``stop``:
    one engine query; a touch missing from one source still gets its row (spend of a
    campaign no order or session carries is kept, never dropped)."""
    lo, hi = ibis.timestamp(first), ibis.timestamp(stop)
    parts = []
    touch = bool(by)  # totals need no touch: skip the sessions' touches and the join
    all_sessions = s = sessions(tables, stop, touch)
    if s is not None:
        s = s.filter(s.at >= lo).mutate(period=P.truncate(s.at, grain))
        if not touch:
            s = s.mutate(**dict.fromkeys(DIMENSIONS, ibis.literal(NOT_SET)))
        parts.append(_zero(s, sessions=ibis.literal(1, "int64")))
    o = order_touches(tables, stop, touch, all_sessions if touch else None)
    o = o.filter(o.ordered_at >= lo).mutate(period=P.truncate(o.ordered_at, grain))
    live = o.status != "cancelled"
    parts.append(_zero(o, orders=o.orders_n, gmv=o.gross_amount, net_sales=o.net,
                       new_customers=ibis.ifelse(o.is_new, 1, 0)))
    if _has(tables, "marketing_spend"):
        sp = tables.table("marketing_spend")
        at = sp.date.cast("timestamp")
        sp = sp.filter((at >= lo) & (at < hi))
        sp = sp.mutate(period=P.truncate(sp.date.cast("timestamp"), grain),
                       channel=_text(sp.channel), campaign=_text(sp.campaign_id),
                       source=ibis.literal(NOT_SET), medium=ibis.literal(NOT_SET))
        parts.append(_zero(sp, spend=sp.spend, clicks=sp.clicks.fill_null(0),
                           impressions=sp.impressions.fill_null(0)))
    if _has(tables, "customers"):
        # acquisitions as the shop records them: first seen in the period, by signup
        # channel (the customers table has no source, medium or campaign)
        c = tables.table("customers")
        c = c.filter((c.first_seen_at >= lo) & (c.first_seen_at < hi))
        c = c.mutate(period=P.truncate(c.first_seen_at, grain), channel=_text(c.signup_channel),
                     source=ibis.literal(NOT_SET), medium=ibis.literal(NOT_SET),
                     campaign=ibis.literal(NOT_SET))
        parts.append(_zero(c, acquired=ibis.literal(1, "int64")))
    stacked = ibis.union(*parts, distinct=False)
    keys = ["period", *by]
    sums = stacked.group_by(keys).agg(**{m: stacked[m].sum() for m in MEASURES
                                         if m != "returning_customers"})
    # returning customers: distinct customers with a not cancelled, not first order
    ret = o.filter(live & ~o.is_new & o.customer_id.notnull())
    ret = ret.group_by(keys).agg(returning_customers=ret.customer_id.nunique())
    j = sums.left_join(ret, [sums[k] == ret[k] for k in keys])
    return j.select(*[sums[k] for k in keys], *[sums[m] for m in MEASURES
                                                  if m != "returning_customers"],
                    returning_customers=j.returning_customers.fill_null(0))


def add_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """CPC, CPA, CAC, ROAS (gross and net), conversion from the sums; NaN on a zero
    denominator (undefined, not zero)."""
    out = frame.copy()
    for name, (num, den) in RATIOS.items():
        d = out[den].astype(float)
        out[name] = out[num].astype(float) / d.where(d != 0)
    return out


def reference(period: dt.date, grain: str, compare: str) -> dt.date:
    """The period a period is compared with: the one before (环比) or a year before (同比)."""
    return P.shift(period, grain, -1) if compare == "previous" else P.year_ago(period, grain)


def compare(frame: pd.DataFrame, base: pd.DataFrame, grain: str, compare: str,
            by: tuple[str, ...]) -> pd.DataFrame:
    """For each measure and ratio ``m``: ``m_ref`` (its value in the reference period, 0 for
    a sum when the touch had no row then) and ``m_change`` = m / m_ref - 1 (NaN when the
    reference is 0 or undefined)."""
    names = [*MEASURES, *RATIOS]
    ref = base[["period", *by, *MEASURES]].rename(columns={"period": "_ref"})
    out = frame.copy()
    # object dtype also when empty: a float key does not merge with the dates of ``ref``
    out["_ref"] = pd.Series([reference(p, grain, compare) for p in out["period"]],
                            index=out.index, dtype=object)
    ref = add_ratios(ref)
    ref["_ref"] = ref["_ref"].astype(object)
    out = out.merge(ref.rename(columns={m: f"{m}_ref" for m in names}), how="left",
                    on=["_ref", *by])
    for m in names:
        if m in MEASURES:
            out[f"{m}_ref"] = out[f"{m}_ref"].fillna(0)
        r = out[f"{m}_ref"].astype(float)
        out[f"{m}_change"] = out[m].astype(float) / r.where(r != 0) - 1
    return out.drop(columns="_ref")


def clean(value: object) -> float | None:
    """A number for JSON: None for null, NaN and ±inf."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
