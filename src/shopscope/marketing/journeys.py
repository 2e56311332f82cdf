"""Journeys from the workspace: each identified customer's sessions, cut at their orders,
aggregated into paths for the attribution models (:mod:`shopscope.marketing.attribution`).

A touch is a session of a known customer, labelled by its channel, source, medium or
campaign (the session's first event, as in the channel report:
:func:`shopscope.marketing.channels.sessions`); an untagged session (``(not set)``,
``(none)``) is the touch ``direct``. A journey is the touches after one order of the
customer up to and including the next order's time (a conversion, worth the order's net
amount), or after the last order (no conversion). Touches more than ``lookback_days``
before the journey's end (the order, or the last touch) are dropped; the bound is
included. Cancelled orders do not end a journey. An order with no touch in its window is
counted as unattributed: no model can credit it. Guest orders and anonymous sessions
(no customer id) are not journeys: they cannot be joined to each other.

Everything up to the per-path sums runs in the engine; only one row per distinct path comes
back. Paths carry no touch times, so time decay counts touches here.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopscope.core import periods as P
from shopscope.core.tables import TableSource
from shopscope.marketing import channels as ch

DIRECT = "direct"
#: Labels of sessions that came with no campaign tag: the touch ``direct``.
UNTAGGED = (ch.NOT_SET, "(none)", "(direct)")
#: Between the touches of a path in the engine (a channel name may hold " > ").
SEP = "\x1f"


def journeys_expr(tables: TableSource, by: str = "channel", lookback_days: int = 30,
                  start: dt.date | None = None, end: dt.date | None = None,
                  strategy: str = "auto", grain: str | None = None) -> ir.Table:
    """One row per distinct path: ``path`` (labels joined by :data:`SEP`; empty for the
    conversions with no touch), ``conversions``, ``value``, ``nulls``. ``start``..``end``
    (both included) select journeys by the day they end; ``grain``: also per ``period``
    (the first day of the day, week or month a journey ends in), one query for them all.

    ``strategy``: how each touch finds the order that ends its journey. ``asof``: an
    as-of join (the first order at or after the touch), DuckDB's; ``window``: a running
    count of orders over the customer's touches and orders sorted together, any engine;
    ``auto``: ``asof`` on DuckDB. Measured on 1M sessions (bench/attribution_bench.py):
    the sort of the window took most of the time. Both give the same paths, except when
    a customer has two orders at the very same time (the as-of join may give the touches
    to either; the window to the first by order id)."""
    if strategy == "auto":
        strategy = "asof" if getattr(tables, "engine", "") == "duckdb" else "window"
    if strategy == "asof":
        return _by_asof(tables, by, lookback_days, start, end, grain)
    return _by_window(tables, by, lookback_days, start, end, grain)


def _by_window(tables: TableSource, by: str, lookback_days: int, start: dt.date | None,
               end: dt.date | None, grain: str | None) -> ir.Table:
    t0 = _touches(tables, by)
    o = _orders(tables)
    touch = t0.select("cust", "at", kind=ibis.literal(0), label=t0.label,
                      value=ibis.null("float64"), sid=t0.sid)
    conv = o.select(cust=o._cust, at=o.oat, kind=ibis.literal(1),
                    label=ibis.null("string"), value=o.value, sid=o.oid)
    rows = ibis.union(touch, conv, distinct=False)
    # orders strictly before each row (a touch at an order's very time belongs to it)
    w = ibis.window(group_by=rows.cust, order_by=[rows.at, rows.kind, rows.sid],
                    preceding=None, following=0)
    rows = rows.mutate(j=rows.kind.sum().over(w) - rows.kind)
    g = rows.group_by(["cust", "j"]).agg(
        conv_at=rows.at.max(where=rows.kind == 1),
        value=rows.value.sum(where=rows.kind == 1),
        converted=rows.kind.max(),
        last_touch=rows.at.max(where=rows.kind == 0))
    g = g.mutate(end_at=g.conv_at.coalesce(g.last_touch))
    if start is not None:
        g = g.filter(g.end_at >= ibis.timestamp(dt.datetime.combine(start, dt.time())))
    if end is not None:
        stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        g = g.filter(g.end_at < ibis.timestamp(stop))
    t = rows.filter(rows.kind == 0)
    t = t.join(g, [t.cust == g.cust, t.j == g.j]).select(
        "cust", "j", "at", "label", "sid", "end_at")
    t = t.filter(t.at >= t.end_at - ibis.interval(days=lookback_days))
    paths = t.group_by(["cust", "j"]).agg(
        path=t.label.collect(order_by=[t.at, t.sid]).join(SEP))
    per = g.left_join(paths, [g.cust == paths.cust, g.j == paths.j]).select(
        path=paths.path.fill_null(""), converted=g.converted, value=g.value.fill_null(0.0),
        end_at=g.end_at)
    # a group with neither touches nor an order cannot occur; one with an order only is an
    # unattributed conversion (empty path); groups without conversion and touches: none
    return _per_path(per, grain)


def _per_path(per: ir.Table, grain: str | None) -> ir.Table:
    keys = ["path"]
    if grain is not None:
        per = per.mutate(period=P.truncate(per.end_at, grain))
        keys = ["period", "path"]
    return per.group_by(keys).agg(
        conversions=per.converted.sum(),
        value=per.value.sum(),
        nulls=(1 - per.converted).sum())


def _touches(tables: TableSource, by: str) -> ir.Table:
    s = ch.sessions(tables)
    if s is None:
        raise LookupError("journeys need events (sessions)")
    s = s.filter(s.customer_id.notnull())
    label = s[by]
    return s.select(cust=s.customer_id.cast("string"), at=s.at.cast("timestamp"),
                    label=ibis.ifelse(label.isin(UNTAGGED), DIRECT, label),
                    sid=s.session_id.cast("string"))


def _orders(tables: TableSource) -> ir.Table:
    """Orders that end a journey: not cancelled, of a known customer."""
    o = tables.table("orders")
    o = o.filter((o.status != "cancelled") & o.customer_id.notnull())
    return o.select(_cust=o.customer_id.cast("string"), oat=o.ordered_at.cast("timestamp"),
                    oid=o.order_id.cast("string"), value=o.net_amount.cast("float64"))


def _by_asof(tables: TableSource, by: str, lookback_days: int, start: dt.date | None,
             end: dt.date | None, grain: str | None) -> ir.Table:
    t = _touches(tables, by)
    o = _orders(tables)
    a = t.asof_join(o, on=t.at <= o.oat, predicates=t.cust == o._cust)
    a = a.select("cust", "at", "label", "sid", "oid", "oat")
    # a journey without an order ends at its last touch
    last = ibis.window(group_by=[a.cust, a.oid])
    a = a.mutate(end_at=a.oat.coalesce(a.at.max().over(last)))
    a = a.filter(a.at >= a.end_at - ibis.interval(days=lookback_days))
    if start is not None:
        a = a.filter(a.end_at >= ibis.timestamp(dt.datetime.combine(start, dt.time())))
        o = o.filter(o.oat >= ibis.timestamp(dt.datetime.combine(start, dt.time())))
    if end is not None:
        stop = ibis.timestamp(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
        a = a.filter(a.end_at < stop)
        o = o.filter(o.oat < stop)
    paths = a.group_by(["cust", "oid"]).agg(
        path=a.label.collect(order_by=[a.at, a.sid]).join(SEP), end_at=a.end_at.max())
    converted = o.left_join(paths, o.oid == paths.oid).select(
        path=paths.path.fill_null(""), converted=ibis.literal(1), value=o.value,
        end_at=o.oat)
    nulls = paths.filter(paths.oid.isnull()).select(
        "path", converted=ibis.literal(0), value=ibis.literal(0.0), end_at=paths.end_at)
    return _per_path(ibis.union(converted, nulls, distinct=False), grain)
