"""Funnels: how many visitors (or journeys) get from step 1 to step k within a time window.

The definitions are written out with examples in ``docs/funnels.md``; in short:

* A *unit* is a visitor (``mode="user"``) or a journey (``mode="order"``: a visitor's
  timeline cut after every event of the last step, so each purchase is one conversion).
  With ``same_product=True`` the unit is further split by ``product_id``.
* Events of a unit are put in one total order: time, then the funnel position of the event
  (at the same timestamp an event of an earlier step comes first), then tie keys that make
  the order deterministic. An event is used for at most one step.
* **sequential**: a unit reaches step k if some step-1 event at ``t1`` is followed by events
  of steps 2..k, each after the previous one, the last at or before ``t1 + window``
  (inclusive); the level is the best over *all* step-1 events, not only the first.
* **any**: a unit reaches step k if events of each of steps 1..k all lie within some
  interval of length ``window``, in whatever order.

How it runs. Everything is window functions over the events filtered to the funnel's
steps, sorted per unit by the total order, then one ``GROUP BY`` per unit and one for the
result; there is no self-join on events. For the sequential order a forward dynamic
programme is exact: ``S_2(r)`` is the time of the latest step-1 event before row ``r``;
``S_k(r)`` is the largest ``S_{k-1}`` among the step-(k-1) rows before ``r``, i.e. the
latest start from which a chain of steps 1..k-1 ends before ``r``. A step-k row ``r``
completes step k iff ``event_at(r) <= S_k(r) + window`` (the latest start leaves the most
room, and every intermediate event lies between the start and ``r``). That is one running
``max`` per step, ``O(steps · n log n)`` in the engine. The any order keeps, per row, the
latest time of each step up to that row (one window pass). In the common case (sequential,
no breakdown, step 1 of its own type) the step-1 events skip the sorts altogether
(:func:`_start_join`; in order mode also :func:`_with_start_journeys`). Which of these
strategies runs is decided once per funnel by :func:`_choose` (see "The planner" below).

Examples
--------
>>> import pandas as pd, pyarrow as pa
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> rows = [("a", "2024-01-01 10:00", "view"), ("a", "2024-01-01 10:05", "add_to_cart"),
...         ("a", "2024-01-01 10:20", "purchase"), ("b", "2024-01-01 11:00", "view"),
...         ("b", "2024-01-03 11:00", "add_to_cart")]
>>> schema = get_table("events").ibis_schema().to_pyarrow()
>>> data = pa.Table.from_pylist(
...     [dict(user_id=u, event_at=pd.Timestamp(at).to_pydatetime(), event_type=e)
...      for u, at, e in rows], schema=schema)
>>> _ = store.backend.create_table("events", data)
>>> result = funnel(store, ["view", "add_to_cart", "purchase"], window="1d")
>>> result.steps[["step", "name", "count", "conversion_from_previous", "dropped"]]
   step         name  count  conversion_from_previous  dropped
0     1         view      2                       NaN        0
1     2  add_to_cart      1                       0.5        1
2     3     purchase      1                       1.0        0
>>> float(result.steps["median_seconds"].iloc[2])
1200.0
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.behaviour.common import (
    EVENT_COLUMNS,
    Step,
    as_step,
    in_range,
    parse_date,
    period,
    property_value,
    visitor,
)
from shopscope.core.periods import bound, data_span
from shopscope.core.tables import TableSource
from shopscope.errors import FunnelOptionError, OptionError
from shopscope.schema.tables import get_table
from shopscope.store.execute import execute, stored

__all__ = [
    "QUANTILES",
    "UNKNOWN",
    "FunnelOptions",
    "FunnelResult",
    "funnel",
    "funnel_dropped",
    "funnel_expr",
    "funnel_trend",
    "parse_window",
]

Order = Literal["sequential", "any"]
Mode = Literal["user", "order"]

#: Quantiles of the time to convert reported per step (``p25_seconds`` … ``p90_seconds``).
QUANTILES = (0.25, 0.5, 0.75, 0.9)
_QUANTILE_COLUMNS = {0.25: "p25_seconds", 0.5: "median_seconds", 0.75: "p75_seconds",
                     0.9: "p90_seconds"}
#: Label of a missing breakdown value.
UNKNOWN = "(unknown)"
#: Lower edges (seconds) of the time-to-convert histogram; bins past the window are dropped.
_HIST_EDGES = (0, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
               2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CUSTOMER = "customer."
_KEEP = ("_v", "event_at", "user_id", "product_id", "_by", "_val")


# --------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------
def parse_window(text: str | dt.timedelta) -> dt.timedelta:
    """A conversion window: ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` or a timedelta.

    Parameters
    ----------
    text
        A positive number followed by a unit (s, m, h, d, w), or a positive ``timedelta``.

    Returns
    -------
    datetime.timedelta

    Raises
    ------
    FunnelOptionError
        For anything else (no unit, zero or negative, unknown unit).

    Examples
    --------
    >>> parse_window("30m")
    datetime.timedelta(seconds=1800)
    >>> parse_window("7d").days
    7
    >>> parse_window("1 year")
    Traceback (most recent call last):
    ...
    shopscope.errors.FunnelOptionError: window must look like 30m, 24h or 7d, not '1 year'
    """
    if isinstance(text, dt.timedelta):
        delta = text
    elif isinstance(text, str) and (m := _WINDOW.match(text)):
        delta = dt.timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()])
    else:
        raise FunnelOptionError(code="window_format", args={"window": repr(text)},
                                hint="a number and a unit: s, m, h, d or w")
    if delta <= dt.timedelta(0):
        raise FunnelOptionError(code="window_positive", args={"window": repr(text)},
                                hint="e.g. 30m or 1d")
    return delta


@dataclass(frozen=True)
class FunnelOptions:
    """The options a funnel was computed with (as given, after validation)."""

    steps: tuple[str, ...]
    window_seconds: float
    order: Order
    same_product: bool
    mode: Mode
    start: str | None
    end: str | None
    by: str | None


@dataclass(frozen=True)
class _Plan:
    steps: tuple[Step, ...]
    window: dt.timedelta
    order: Order
    same_product: bool
    mode: Mode
    start: Any
    end: Any
    by: str | None

    @property
    def n(self) -> int:
        return len(self.steps)

    def options(self) -> FunnelOptions:
        return FunnelOptions(
            steps=tuple(s.name for s in self.steps),
            window_seconds=self.window.total_seconds(), order=self.order,
            same_product=self.same_product, mode=self.mode,
            start=None if self.start is None else str(self.start),
            end=None if self.end is None else str(self.end), by=self.by)


def _plan(steps: Sequence[Step | str], window: str | dt.timedelta, order: str,
          same_product: bool, mode: str, start: Any, end: Any, by: str | None) -> _Plan:
    with _as_funnel_option():
        return _checked_plan(steps, window, order, same_product, mode, start, end, by)


@contextmanager
def _as_funnel_option() -> Iterator[None]:
    """Errors of the shared parsers (steps, property names, dates, grains) re-raised as
    :class:`FunnelOptionError`, with the same message and hint: one class, one exit code
    and one HTTP status for every bad funnel option."""
    try:
        yield
    except FunnelOptionError:
        raise
    except OptionError as exc:
        raise FunnelOptionError(exc.message, hint=exc.hint, code=getattr(exc, "code", None),
                                args=exc.code_args) from exc  # the code keeps it translated


def _checked_plan(steps: Sequence[Step | str], window: str | dt.timedelta, order: str,
                  same_product: bool, mode: str, start: Any, end: Any,
                  by: str | None) -> _Plan:
    if isinstance(steps, (str, Step)):
        raise FunnelOptionError(f"steps must be a list of steps, not {steps!r}",
                                hint='e.g. ["view", "add_to_cart", "purchase"]')
    parsed = tuple(as_step(s) for s in steps)
    if len(parsed) < 2:
        raise FunnelOptionError(code="funnel_few_steps", hint="add the step to convert to",
                                args={"n": len(parsed), "steps": [s.name for s in parsed]})
    parsed = _numbered(parsed)
    if order not in get_args(Order):
        raise FunnelOptionError(
            f"order must be one of {', '.join(get_args(Order))}, not {order!r}")
    if mode not in get_args(Mode):
        raise FunnelOptionError(f"mode must be one of {', '.join(get_args(Mode))}, not {mode!r}")
    if by is not None:
        _check_by(by)
    # checked here, not first when the query is built: the error is then a funnel option's
    for what, value in (("start", start), ("end", end)):
        if value is not None:
            parse_date(value, what)
    return _Plan(parsed, parse_window(window), order,  # type: ignore[arg-type]
                 bool(same_product), mode, start, end, by)  # type: ignore[arg-type]


def _numbered(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """A name given to more than one step gets ``#1``, ``#2`` … (``purchase #2`` is the
    second purchase), so that tables and charts keep the steps apart."""
    names = [s.name for s in steps]
    seen: dict[str, int] = {}
    out = []
    for step, name in zip(steps, names, strict=True):
        if names.count(name) > 1:
            seen[name] = seen.get(name, 0) + 1
            step = replace(step, label=f"{name} #{seen[name]}")
        out.append(step)
    return tuple(out)


def _check_by(by: str) -> None:
    if by.startswith(_CUSTOMER):
        name = by[len(_CUSTOMER):]
        spec = get_table("customers")
        if name not in spec.names or name == "customer_id":
            raise FunnelOptionError(
                code="customer_column_unknown", args={"by": repr(by)},
                hint="customers columns: " + ", ".join(f"customer.{c}" for c in spec.names
                                                        if c != "customer_id"))
    elif by not in EVENT_COLUMNS:
        # any other name is a property key; property_value validates its spelling
        property_value(ibis.table(get_table("events").ibis_schema(), name="e"), by)


# --------------------------------------------------------------------------------------
# The unit table: one row per visitor or journey with its level
# --------------------------------------------------------------------------------------
def _step_events(source: TableSource, plan: _Plan, with_user: bool,
                 steps: Sequence[Step] | None = None) -> ir.Table:
    """Events of the funnel's steps (or of some ``steps``) with their step flags
    ``_m1…_mN`` and unit keys."""
    t = in_range(source.table("events"), plan.start, plan.end)
    types = sorted({s.event_type for s in (plan.steps if steps is None else steps)})
    t = t.filter(t.event_type.isin(types) if len(types) > 1 else t.event_type == types[0])
    # as "visitor is not null", tested on the columns: cheaper than building the coalesce
    t = t.filter(t.user_id.notnull() | t.anonymous_id.notnull())
    # carry only what later stages use: every column goes through the window sorts
    cols: dict[str, ir.Value] = {"_v": visitor(t), "event_at": t.event_at}
    if with_user:
        cols["user_id"] = t.user_id
    if plan.same_product or plan.mode == "order":
        cols |= {"product_id": t.product_id, "properties": t.properties}
    flags = {f"_m{k}": s.matches(t) for k, s in enumerate(plan.steps, 1)}
    if plan.by is not None and not plan.by.startswith(_CUSTOMER):
        # only step-1 events give the breakdown; null elsewhere also keeps the sort key small
        cols["_by"] = ibis.ifelse(flags["_m1"], property_value(t, plan.by), ibis.null("string"))
    t = t.select(**cols, **flags)
    if any(s.where for s in plan.steps):
        any_flag = _flags_or(t, plan.n)
        t = t.filter(any_flag)
    return t


def _flags_or(t: ir.Table, n: int, first: int = 1) -> ir.BooleanValue:
    """Row matches at least one of steps ``first``..N."""
    out = t[f"_m{first}"]
    for k in range(first + 1, n + 1):
        out = out | t[f"_m{k}"]
    return out


def _by_product(source: TableSource, t: ir.Table, plan: _Plan) -> ir.Table:
    """Give events without a product (purchases) the products of their order.

    A purchase event names its order in ``properties`` (``order_id``) and usually carries no
    ``product_id``; it then stands for each product of the order (``order_items``), with the
    line's net value (``quantity * unit_price - discount_amount``) as its value.
    """
    items = source.table("order_items")
    lines = (items.filter(items.product_id.notnull())
             .group_by(_oid=items.order_id, _pid=items.product_id)
             .aggregate(_line_value=(items.quantity * items.unit_price
                                     - items.discount_amount).sum()))
    known = t.filter(t.product_id.notnull()).mutate(_line_value=ibis.null("float64"))
    rest = t.filter(t.product_id.isnull())
    rest = rest.mutate(_order=property_value(rest, "order_id"))
    rest = rest.filter(rest._order.notnull())
    joined = rest.join(lines, rest._order == lines._oid)
    joined = joined.select(*[c for c in t.columns if c != "product_id"],
                           product_id=joined._pid, _line_value=joined._line_value)
    # the two sides may differ in nullability only (orders' ordered_at is NOT NULL when the
    # events are orders): one nullable schema for the union
    types = {c: known[c].type().copy(nullable=True) for c in known.columns}
    return known.select(**{c: known[c].cast(d) for c, d in types.items()}).union(
        joined.select(**{c: joined[c].cast(d) for c, d in types.items()}))


def _with_values(source: TableSource, t: ir.Table, plan: _Plan, *,
                 last_step: bool = True) -> ir.Table:
    """Add ``_val``: the order's net value on last-step events that name an order, else the
    ``price`` or ``value`` property, else the product's list price. ``last_step=False``:
    ``t`` holds no last-step event (no order to look up)."""
    # the regular expressions run only on rows that have properties (CASE is lazy)
    has = t.properties.notnull()
    price = property_value(t, "price").try_cast("float64")
    value = property_value(t, "value").try_cast("float64")
    t = t.mutate(_own=ibis.ifelse(has, ibis.coalesce(price, value), ibis.null("float64")))
    products = source.table("products").select(_pid="product_id", _list_price="price")
    t = t.left_join(products, t.product_id == products._pid).drop("_pid")
    if not last_step:
        return t.mutate(_val=ibis.coalesce(t._own, t._list_price).cast("float64"))
    t = t.mutate(_order=ibis.ifelse(has & t[f"_m{plan.n}"], property_value(t, "order_id"),
                                    ibis.null("string")))
    last = t[f"_m{plan.n}"]
    if plan.same_product:
        order_value = t._line_value
    else:
        orders = source.table("orders").select(_oid="order_id", _net="net_amount")
        t = t.left_join(orders, t._order == orders._oid).drop("_oid")
        order_value = t._net
    val = ibis.ifelse(last, ibis.coalesce(order_value, t._own, t._list_price),
                      ibis.coalesce(t._own, t._list_price))
    return t.mutate(_val=val.cast("float64"))


# --------------------------------------------------------------------------------------
# The planner: which strategy computes the unit table
# --------------------------------------------------------------------------------------
# A funnel is computed in stages, and the options decide once, in :func:`_choose`, which
# function runs each stage:
#
# 1. rows: the funnel's events ready for the window passes (:class:`_Rows`).
#    :func:`_rows_start_join` when the step-1 events can stay out of the sorts, else
#    :func:`_rows_sorted`.
# 2. chain: per event row, the highest step it completes. :func:`_chain_sequential` (the
#    forward programme; order mode cuts journeys at last-step events by a boundary column)
#    or :func:`_chain_any` (latest time of each step; order mode partitions by journey).
# 3. one row per unit (:func:`_per_unit`), then, with the start join, the units whose
#    step-1 events never met the window passes: :func:`_add_start_levels` (user mode) or
#    :func:`_add_start_journeys` (order mode).
# 4. finishing steps, each for one option: :func:`_best_product` (same product, user
#    mode), :func:`_text_ids` (sorted rows number the visitors), :func:`_customer_breakdown`.
#
# The generated SQL of every strategy is kept in tests/snapshots/funnels/ (its shape is
# what the funnels' speed depends on).


@dataclass(frozen=True)
class _Rows:
    """The funnel's events as the window passes read them.

    ``t`` holds the unit keys, ``event_at``, step flags ``_m1…_mN`` and ``_key`` (the tie
    key, :func:`_keyed`); ``unit`` names the unit's key columns, ``keys`` the total order's
    sort columns. ``starts``: the step-1 events kept apart by the start join (``_t1``, in
    order mode ``_val1``). ``ids``: the visitor numbers used in place of ``_v`` (``_id``,
    ``_v``) when the rows are sorted.
    """

    t: ir.Table
    unit: list[str]
    keys: list[str]
    starts: ir.Table | None = None
    ids: ir.Table | None = None


@dataclass(frozen=True)
class _Run:
    """What the steps after the chain may need: the chain's row table ``t`` among them."""

    source: TableSource
    plan: _Plan
    rows: _Rows
    t: ir.Table
    with_user: bool


Finish = Callable[[ir.Table, _Run], ir.Table]


@dataclass(frozen=True)
class _Strategy:
    """The functions that compute one funnel's unit table (see :func:`_choose`)."""

    rows: Callable[[TableSource, _Plan, bool], _Rows]
    chain: Callable[[_Rows, _Plan], tuple[ir.Table, list[str]]]
    complete: Finish | None
    finish: tuple[Finish, ...]

    def names(self) -> tuple[str, ...]:
        """The chosen functions' names in the order they run (for tests and debugging)."""
        steps = [self.rows, self.chain, *([self.complete] if self.complete else []),
                 *self.finish]
        return tuple(f.__name__ for f in steps)


def _customer_column(plan: _Plan) -> str | None:
    """The customers column of a ``customer.<column>`` breakdown, else None."""
    if plan.by is not None and plan.by.startswith(_CUSTOMER):
        return plan.by[len(_CUSTOMER):]
    return None


def _choose(plan: _Plan) -> _Strategy:
    """Pick the strategy for ``plan``: the only place that reads the options' flags."""
    # exact when no event matches both step 1 and step 2; worth it when step-1 events
    # (usually views) then drop out of the window passes altogether. A breakdown needs the
    # first step-1 event of each unit, which only the sorted rows tell.
    start_join = (plan.order == "sequential" and plan.by is None
                  and plan.steps[0].event_type not in {s.event_type for s in plan.steps[1:]})
    complete: Finish | None = None
    if start_join:
        complete = _add_start_journeys if plan.mode == "order" else _add_start_levels
    finish: list[Finish] = []
    if plan.same_product and plan.mode == "user":
        finish.append(_best_product)
    if not start_join:
        finish.append(_text_ids)
    if _customer_column(plan) is not None:
        finish.append(_customer_breakdown)
    return _Strategy(rows=_rows_start_join if start_join else _rows_sorted,
                     chain=_chain_sequential if plan.order == "sequential" else _chain_any,
                     complete=complete, finish=tuple(finish))


def _units(source: TableSource, plan: _Plan, *, with_user: bool = False) -> ir.Table:
    """One row per unit: ``_level`` (0..N), ``_dur{k}`` (seconds, fastest chain), ``_val{k}``
    (order mode), ``_byv``, ``_first`` (first step-1 time), ``user_id`` (``with_user``)."""
    strategy = _choose(plan)
    rows = strategy.rows(source, plan, with_user or _customer_column(plan) is not None)
    t, group = strategy.chain(rows, plan)
    units = _per_unit(t, group, plan, with_user)
    run = _Run(source, plan, rows, t, with_user)
    if strategy.complete is not None:
        units = strategy.complete(units, run)
    units = units.filter(units._level >= 1)
    for step in strategy.finish:
        units = step(units, run)
    return units


# -- stage 1: rows ------------------------------------------------------------------------
def _events(source: TableSource, plan: _Plan, with_user: bool,
            steps: Sequence[Step] | None = None) -> ir.Table:
    """:func:`_step_events`, per product of the order with ``same_product``."""
    t = _step_events(source, plan, with_user, steps)
    return _by_product(source, t, plan) if plan.same_product else t


def _lean(t: ir.Table, *more: str) -> ir.Table:
    """Only the columns later stages read: every column goes through the window sorts."""
    return t.select(*[c for c in t.columns if c in _KEEP or c in more or c.startswith("_m")])


def _unit_keys(plan: _Plan) -> list[str]:
    return ["_v"] + (["product_id"] if plan.same_product else [])


def _sort_keys(t: ir.Table, plan: _Plan) -> list[str]:
    """The total order after the unit: time, tie key, then columns that make rows tied on
    all of those alike (breakdown value, order-mode value)."""
    keys = ["event_at", "_key"]
    if "_by" in t.columns:
        keys.append("_by")
    if plan.mode == "order":
        keys.append("_val")
    return keys


def _rows_start_join(source: TableSource, plan: _Plan, with_user: bool) -> _Rows:
    """Rows of steps 2..N with ``_s2`` from a hash join on the step-1 events
    (:func:`_start_join`); the step-1 events are ``starts``. Sequential order, no
    breakdown, and step 1 of an event type no later step has."""
    n = plan.n
    # step-1 rows stay apart from the start: they only meet the others in hash joins, and
    # both halves remain plain scans that the engine need not store (each scan reads only
    # its own event types)
    step1 = _events(source, plan, with_user, plan.steps[:1])
    step1_rows = step1.filter(step1._m1)
    t = _events(source, plan, with_user, plan.steps[1:])  # no step-1 event: other types
    if "properties" in t.columns and plan.mode != "order":
        t = _lean(t)
    first_rows = _lean(step1_rows) if "properties" in step1_rows.columns else step1_rows
    unit = _unit_keys(plan)
    # the window passes now run over the events of steps 2..N only; they hold every
    # last-step event, so journey numbers and _b come out the same
    t, starts = _start_join(_keyed(t, n), _keyed(first_rows, n), plan, unit, with_user)
    if plan.mode == "order":
        # values after the join, which then reads no properties
        t = _lean(_with_values(source, t, plan), "_key", "_s2")
        # a step-1 event needs its value only when first in its journey
        # (_with_start_journeys); looked up there, not in the step-1 join
        valued = _with_values(source, step1_rows, plan, last_step=False)
        starts = valued.select(*unit, *(["user_id"] if with_user else []),
                               _t1=valued.event_at, _val1=valued._val)
    return _Rows(t, unit, _sort_keys(t, plan), starts=starts)


def _rows_sorted(source: TableSource, plan: _Plan, with_user: bool) -> _Rows:
    """All the funnel's events, visitors numbered: every window pass sorts them all."""
    t = _events(source, plan, with_user)
    if plan.mode == "order":
        t = _with_values(source, t, plan)
    if "properties" in t.columns:
        t = _lean(t)
    t = _keyed(t, plan.n)
    # partition by a number, not the visitor's text id (cheaper to sort and to carry);
    # mapped back on the unit rows (_text_ids)
    ids = t.select("_v").distinct()
    ids = ids.mutate(_id=ibis.row_number())
    t = t.join(ids, "_v")
    t = t.select(*[t[c] if c != "_v" else t._id.name("_v") for c in t.columns if c != "_id"])
    return _Rows(t, _unit_keys(plan), _sort_keys(t, plan), ids=ids)


# -- stage 2: chains ----------------------------------------------------------------------
def _win(t: ir.Table, unit: Sequence[str], keys: Sequence[str],
         rows: tuple[int | None, int]):
    return ibis.window(group_by=[t[c] for c in unit], order_by=[t[k] for k in keys], rows=rows)


def _window_interval(plan: _Plan) -> ir.IntervalValue:
    window = ibis.interval(seconds=int(plan.window.total_seconds()))
    micro = plan.window - dt.timedelta(seconds=int(plan.window.total_seconds()))
    if micro:
        window = window + ibis.interval(microseconds=micro // dt.timedelta(microseconds=1))
    return window


def _journey_number(t: ir.Table, unit: Sequence[str], keys: Sequence[str],
                    n: int) -> ir.IntegerValue:
    """How many last-step events come strictly before the row in its unit."""
    last_step = t[f"_m{n}"].cast("int64")
    return ibis.coalesce(last_step.sum().over(_win(t, unit, keys, (None, -1))), 0)


def _first_rank(t: ir.Table, plan: _Plan, upto: Any) -> dict[str, ir.Value]:
    """``_rn``, the row's rank in its unit, when a per-unit "first row" is looked up
    (order-mode values, a breakdown)."""
    if plan.mode == "order" or plan.by is not None:
        return {"_rn": ibis.row_number().over(upto)}
    return {}


def _row_levels(t: ir.Table, plan: _Plan, valid: dict[int, ir.BooleanValue],
                dur: dict[int, ir.Value], values: dict[int, ir.Value]) -> ir.Table:
    """Per row: ``_lev`` (highest step completed there), ``_ok{k}``, ``_d{k}`` (seconds from
    the chain's start, if valid) and ``_rv{k}`` (order mode: the value at step k)."""
    level = ibis.literal(0, "int64")
    for k in range(1, plan.n + 1):
        level = ibis.ifelse(valid[k], k, level)
    cols: dict[str, ir.Value] = {"_lev": level}
    for k in range(1, plan.n + 1):
        cols[f"_ok{k}"] = valid[k]
        cols[f"_d{k}"] = ibis.ifelse(valid[k], dur[k], ibis.null("int64"))
        if values:
            cols[f"_rv{k}"] = values[k]
    return t.mutate(**cols)


def _chain_sequential(rows: _Rows, plan: _Plan) -> tuple[ir.Table, list[str]]:
    """Steps in the given order: the forward programme (module docstring).

    ``_s{k}`` is the latest start of a chain of steps 1..k-1 before the row; a step-k row
    completes step k iff it lies within the window of that start. Starts ``_s2`` come from
    the rows (start join) or from the first pass here.

    Order mode finds journeys without partitioning by journey: with ``_b`` the time of the
    last last-step row before row ``r``, a chain start lies in ``r``'s journey iff its time
    is after ``_b`` (at one timestamp a step-1 event sorts before any other event, so a
    start at ``_b`` itself belongs to the earlier journey). The running ``max`` of the
    starts picks a start in the same journey whenever there is one, so only the final
    check changes and the journey number ``_seg`` is a column of the first pass instead of
    a pass of its own. Returns the rows and the unit's keys (with ``_seg``).
    """
    t, unit, keys, n = rows.t, rows.unit, rows.keys, plan.n
    before = _win(t, unit, keys, (None, -1))
    first = _first_rank(t, plan, _win(t, unit, keys, (None, 0)))
    journeys = plan.mode == "order"
    if journeys:
        first |= {"_seg": _journey_number(t, unit, keys, n),
                  "_b": t.event_at.max(where=t[f"_m{n}"]).over(before)}
    # the first start not given by the rows shares the first pass
    k0 = 3 if "_s2" in t.columns else 2
    if k0 <= n:
        prev = t.event_at if k0 == 2 else t[f"_s{k0 - 1}"]
        first[f"_s{k0}"] = prev.max(where=t[f"_m{k0 - 1}"]).over(before)
    if first:
        t = t.mutate(**first)
    for k in range(k0 + 1, n + 1):
        t = t.mutate(**{f"_s{k}": t[f"_s{k - 1}"].max(where=t[f"_m{k - 1}"]).over(
            _win(t, unit, keys, (None, -1)))})
    window = _window_interval(plan)
    secs = t.event_at.epoch_seconds().floor()
    valid: dict[int, ir.BooleanValue] = {1: t._m1}
    dur: dict[int, ir.Value] = {1: ibis.literal(0, "int64")}
    for k in range(2, n + 1):
        s = t[f"_s{k}"]
        valid[k] = t[f"_m{k}"] & s.notnull() & (t.event_at <= s + window)
        if journeys:
            valid[k] = valid[k] & (t._b.isnull() | (s > t._b))
        dur[k] = (secs - s.epoch_seconds().floor()).cast("int64")
    values = dict.fromkeys(range(1, n + 1), t._val) if plan.mode == "order" else {}
    t = _row_levels(t, plan, valid, dur, values)
    return t, [*unit, "_seg"] if journeys else list(unit)


def _chain_any(rows: _Rows, plan: _Plan) -> tuple[ir.Table, list[str]]:
    """Steps in any order: per row the latest time ``_l{k}`` of each step up to it; the row
    completes step k when steps 1..k all have a time and the earliest of those is within
    the window. Order mode partitions by journey (``_seg``, a pass of its own)."""
    t, unit, keys, n = rows.t, list(rows.unit), rows.keys, plan.n
    if plan.mode == "order":
        t = t.mutate(_seg=_journey_number(t, unit, keys, n))
        unit = [*unit, "_seg"]
    upto = _win(t, unit, keys, (None, 0))
    last = {f"_l{k}": t.event_at.max(where=t[f"_m{k}"]).over(upto) for k in range(1, n + 1)}
    if plan.mode == "order":
        last |= {f"_lv{k}": t._val.max(where=t[f"_m{k}"]).over(upto) for k in range(1, n + 1)}
    t = t.mutate(**_first_rank(t, plan, upto), **last)
    window = _window_interval(plan)
    secs = t.event_at.epoch_seconds().floor()
    valid: dict[int, ir.BooleanValue] = {}
    dur: dict[int, ir.Value] = {}
    for k in range(1, n + 1):
        lows = [t[f"_l{j}"] for j in range(1, k + 1)]
        low = lows[0] if k == 1 else ibis.least(*lows)
        present = lows[0].notnull()
        for x in lows[1:]:
            present = present & x.notnull()
        valid[k] = present & (low + window >= t.event_at)
        dur[k] = (secs - low.epoch_seconds().floor()).cast("int64")
    values = {k: t[f"_lv{k}"] for k in range(1, n + 1)} if plan.mode == "order" else {}
    return _row_levels(t, plan, valid, dur, values), unit


# -- stage 3: units -----------------------------------------------------------------------
def _per_unit(t: ir.Table, group: list[str], plan: _Plan, with_user: bool) -> ir.Table:
    """One row per unit of the chain's rows: the best level, the fastest time per step,
    the values of the first row completing each step, the first step-1 event's breakdown."""
    aggs: dict[str, ir.Value] = {"_level": t._lev.max(),
                                 "_first": t.event_at.min(where=t._m1)}
    if with_user:
        aggs["user_id"] = t.user_id.max()
    for k in range(1, plan.n + 1):
        aggs[f"_dur{k}"] = t[f"_d{k}"].min()
        if plan.mode == "order":
            aggs[f"_val{k}"] = t[f"_rv{k}"].argmin(t._rn, where=t[f"_ok{k}"])
    if "_by" in t.columns:
        aggs["_byv"] = t._by.argmin(t._rn, where=t._m1)
    if _customer_column(plan) is not None:
        aggs["_uid1"] = t.user_id.argmin(t._rn, where=t._m1)
    return t.group_by(group).aggregate(**aggs)


def _add_start_levels(units: ir.Table, run: _Run) -> ir.Table:
    """Start join, user mode: units whose step-1 events never reach the window passes
    (no later step at all) are at level 1; merged with the window pass's units."""
    starts, unit, n, with_user = run.rows.starts, run.rows.unit, run.plan.n, run.with_user
    assert starts is not None  # the start join keeps them (the planner's strategy)
    ones: dict[str, ir.Value] = {
        "_level": ibis.literal(1, "int64"), "_first": starts._t1.min(),
        **({"user_id": starts.user_id.max()} if with_user else {}),
        "_dur1": ibis.literal(0, "int64"),
        **{f"_dur{k}": ibis.null("int64") for k in range(2, n + 1)}}
    ones_t = starts.group_by(unit).aggregate(**ones)
    types = units.schema()
    both = units.select(*ones_t.columns).union(
        ones_t.select(**{c: ones_t[c].cast(types[c]) for c in ones_t.columns}))
    return both.group_by(unit).aggregate(
        _level=both._level.max(), _first=both._first.min(),
        **({"user_id": both.user_id.max()} if with_user else {}),
        **{f"_dur{k}": both[f"_dur{k}"].min() for k in range(1, n + 1)})


def _add_start_journeys(units: ir.Table, run: _Run) -> ir.Table:
    """Start join, order mode: the step-1 events join their journeys
    (:func:`_with_start_journeys`)."""
    return _with_start_journeys(units, run.t, run.rows.starts, run.plan, run.rows.unit,
                                run.with_user)


# -- stage 4: finishing steps -------------------------------------------------------------
def _best_product(units: ir.Table, run: _Run) -> ir.Table:
    """Same product, user mode counts visitors: the best of the visitor's products, and the
    breakdown of the product chain that started first."""
    n = run.plan.n
    again: dict[str, ir.Value] = {
        "_level": units._level.max(), "_first": units._first.min(),
        **{f"_dur{k}": units[f"_dur{k}"].min() for k in range(1, n + 1)}}
    for name in ("user_id", "_byv", "_uid1"):
        if name in units.columns:
            again[name] = units[name].argmin(units._first)
    return units.group_by("_v").aggregate(**again)


def _text_ids(units: ir.Table, run: _Run) -> ir.Table:
    """Sorted rows: the visitor numbers back to the visitors' ids."""
    assert run.rows.ids is not None  # sorted rows carry their visitor numbers
    back = run.rows.ids.select(_vid="_id", _vtext="_v")
    units = units.join(back, units._v == back._vid)
    return units.select(*[units[c] if c != "_v" else units._vtext.name("_v")
                          for c in units.columns if c not in ("_vid", "_vtext")])


def _customer_breakdown(units: ir.Table, run: _Run) -> ir.Table:
    """``by="customer.<column>"``: ``_byv`` is that column of the customer of the unit's
    first step-1 event (null when not a known customer)."""
    customers = run.source.table("customers")
    column = _customer_column(run.plan)
    cust = customers.select(_cid=customers.customer_id, _cval=customers[column].cast("string"))
    units = units.left_join(cust, units._uid1 == cust._cid)
    return units.select(*[c for c in units.columns if c not in ("_cid", "_cval")],
                        _byv=units._cval)


def _keyed(t: ir.Table, n: int) -> ir.Table:
    """Add ``_key``: the first step matched, then the set matched (the total order's tie key)."""
    rank = ibis.cases(*[(t[f"_m{k}"], k) for k in range(1, n + 1)], else_=n + 1)
    mask = sum((t[f"_m{k}"].cast("int64") * (1 << (k - 1)) for k in range(1, n + 1)),
               ibis.literal(0, "int64"))
    return t.mutate(_key=rank.cast("int64") * (1 << n) + mask)


def _start_join(later: ir.Table, first: ir.Table, plan: _Plan, unit: list[str],
                with_user: bool) -> tuple[ir.Table, ir.Table]:
    """``_s2`` without sorting the step-1 events: a hash join instead of a window pass.

    Step-1 events (usually views, most of the data) matter to later steps only through
    ``S_2``, the latest step-1 event before each step-2 event; one further back than the
    window is useless. So the step-2 events are joined to the step-1 events of the same
    unit in their own and the previous time bucket (bucket width = the window, so every
    start within the window is found), and only the events of steps 2..N go on to the
    window passes. Exact when no event can match both step 1 and step 2 (different event
    types), so that "before" never has to tell apart two identical events; the caller
    checks that. ``later`` are the events of steps 2..N, ``first`` those of step 1.
    Returns the events of steps 2..N with ``_s2``, and the step-1 events.
    """
    starts = first.select(*unit, *(["user_id"] if with_user else []), _t1=first.event_at,
                          _b1=_bucket(first.event_at, plan))
    later = later.filter(_flags_or(later, plan.n, first=2))
    # few rows (carts, purchases) used twice: stored once rather than scanned twice
    later = stored(later.mutate(_bk=_bucket(later.event_at, plan)), "later_steps")
    q = later.filter(later._m2).select(*unit, "event_at", "_key", "_bk").distinct()
    q = q.mutate(_bj=q._bk).union(q.mutate(_bj=q._bk - 1))
    # "before" in the total order: at one timestamp a step-1 event sorts before the others
    # (its key, first step matched, is the smallest). No window test per pair: S_2 is the
    # latest start before the event, as in the slow path's window pass, and the validity
    # test applies the window to it; a start before the previous bucket is outside anyway.
    j = starts.join(q, [*unit, q._bj == starts._b1, starts._t1 <= q.event_at])
    s2 = j.group_by([*unit, "event_at", "_key"]).aggregate(_s2=j._t1.max())
    joined = later.left_join(s2, [*unit, "event_at", "_key"])
    cols = [c for c in later.columns if c != "_bk"]
    return joined.select(*cols, _s2=joined._s2), starts


def _bucket(ts: ir.TimestampValue, plan: _Plan) -> ir.IntegerValue:
    """Number of the window-wide time bucket ``ts`` falls in (buckets start at the epoch)."""
    width = max(1, math.ceil(plan.window.total_seconds()))
    # floor(floor(s) / w) = floor(s / w) for a whole w; one rounding less per step-1 event
    return (ts.epoch_seconds() / width).floor().cast("int64")


def _with_start_journeys(units: ir.Table, t: ir.Table, starts: ir.Table, plan: _Plan,
                         unit: list[str], with_user: bool) -> ir.Table:
    """Order mode with :func:`_start_join`: give the step-1 events their journeys by a join.

    ``units`` are the journeys of the window pass over steps 2..N (``t``, which holds every
    last-step event ``p`` with its journey number ``_seg`` and ``_b``, the time of the
    last-step event before it). A step-1 event at ``t1`` belongs to journey ``j`` = the
    number of last-step events before ``t1`` (at one timestamp the step-1 event sorts
    first): the journey of the first last-step event at or after ``t1``, or the open
    journey after the last one. So the journeys are intervals ``(_b, p]`` and ``(last, ∞)``
    of the unit's timeline, a few per purchasing unit; each step-1 event is matched to
    the one interval holding it in a single hash join on the unit (built on the intervals,
    which are few; units without a last-step event match none and are journey 0), and one
    ``GROUP BY`` gives each journey its first step-1 event. No step-1 event is sorted.
    The journey's first step-1 event gives ``_first`` and ``_val1`` (the smallest value at
    that time, as the total order does: the minimum of (time, value) pairs), and the
    window pass's journeys of level >= 2 are joined on. ``starts`` carry ``_val1``, their
    values. Returns one row per journey with step-1 events, as the slow path does.
    """
    n = plan.n
    p = t.filter(t[f"_m{n}"])
    # open ends as far-off times, not nulls: a join condition "lo IS NULL OR lo < t1" is
    # no comparison, and DuckDB then runs a nested-loop join instead of a hash join
    # (minutes instead of seconds at 100M events)
    ts_type = p.event_at.type()
    never_before = ibis.literal(dt.datetime(1, 1, 1), ts_type)
    never_after = ibis.literal(dt.datetime(9999, 12, 31), ts_type)
    spans = p.select(*unit, _lo=ibis.coalesce(p._b, never_before), _hi=p.event_at, _j=p._seg)
    tails = p.group_by(unit).aggregate(_lo=p.event_at.max(), _j=p._seg.max() + 1)
    spans = spans.union(tails.select(*unit, "_lo", _hi=never_after, _j="_j"))
    uid = (lambda x: {"user_id": x.user_id.max()}) if with_user else (lambda x: {})
    # the step-1 events are written first: the hash table is built on the intervals
    j = starts.left_join(spans, [*[starts[c] == spans[c] for c in unit],
                                 spans._lo < starts._t1, starts._t1 <= spans._hi])
    # no value sorts last, as min() skips nulls: infinity stands in for it in the pair
    inf = ibis.literal(math.inf, "float64")
    both = j.select(*unit, _j=ibis.coalesce(j._j, 0),
                    _tv=ibis.struct({"t": j._t1, "v": ibis.coalesce(j._val1, inf)}),
                    **({"user_id": j.user_id} if with_user else {}))
    ones = both.group_by([*unit, "_j"]).aggregate(_tv=both._tv.min(), **uid(both))
    ones = ones.mutate(_first=ones._tv["t"], _v1=ones._tv["v"].nullif(inf)).drop("_tv")
    more = units.filter(units._level >= 2)
    m = ones.left_join(more, [*[ones[c] == more[c] for c in unit], ones._j == more._seg])
    cols: dict[str, ir.Value] = {c: m[c] for c in unit}
    cols |= {"_seg": m._j, "_level": ibis.coalesce(m._level, 1), "_first": m._first}
    if with_user:
        cols["user_id"] = m.user_id
    for k in range(1, n + 1):
        cols[f"_dur{k}"] = ibis.literal(0, "int64") if k == 1 else m[f"_dur{k}"]
        cols[f"_val{k}"] = m._v1 if k == 1 else m[f"_val{k}"]
    return m.select(**cols)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
def _bins(window_seconds: float) -> list[tuple[float, float]]:
    lows = [e for e in _HIST_EDGES if e < window_seconds]
    return [(lo, hi) for lo, hi in zip(lows, [*lows[1:], window_seconds], strict=True)]


def _label(value: ir.Value) -> ir.StringValue:
    return ibis.coalesce(value.cast("string"), ibis.literal(UNKNOWN))


def funnel_expr(source: TableSource, steps: Sequence[Step | str], *,
                window: str | dt.timedelta = "1d", order: Order = "sequential",
                same_product: bool = False, mode: Mode = "user", start: Any = None,
                end: Any = None, by: str | None = None) -> ir.Table:
    """The funnel as one engine-side aggregate (the query :func:`funnel` executes).

    One row per breakdown value (one row without ``by``) with ``c{k}`` (units reaching step
    k), quantiles ``q{k}_{p}`` of the seconds from step 1 to step k, ``v{k}`` (value at step
    k) and ``lost{k}`` (value of units that reached k-1 but not k) in order mode, and
    ``h{i}`` (units reaching the last step whose time to convert falls in histogram bin i).
    Parameters and errors as for :func:`funnel`.
    """
    plan = _plan(steps, window, order, same_product, mode, start, end, by)
    return _aggregate(source, plan)


def _aggregate(source: TableSource, plan: _Plan, *, quantiles: bool = True,
               keys: Sequence[str] = ()) -> ir.Table:
    units = _units(source, plan)
    n = plan.n
    group = list(keys)
    if plan.by is not None:
        units = units.mutate(by=_label(units._byv))
        group.append("by")
    aggs: dict[str, ir.Value] = {}
    for k in range(1, n + 1):
        reached = units._level >= k
        aggs[f"c{k}"] = reached.cast("int64").sum()
        if quantiles:
            for q in QUANTILES:
                aggs[f"q{k}_{int(q * 100)}"] = units[f"_dur{k}"].quantile(q)
        if plan.mode == "order":
            aggs[f"v{k}"] = units[f"_val{k}"].sum(where=reached)
            if k > 1:
                aggs[f"lost{k}"] = units[f"_val{k - 1}"].sum(where=units._level == k - 1)
    if quantiles:
        done = units[f"_dur{n}"]
        for i, (lo, hi) in enumerate(_bins(plan.window.total_seconds())):
            inside = (done >= lo) & ((done < hi) if i < len(_bins(plan.window.total_seconds())) - 1
                                     else (done <= hi))
            aggs[f"h{i}"] = inside.cast("int64").sum(where=units._level >= n)
    if group:
        return units.group_by(group).aggregate(**aggs)
    return units.aggregate(**aggs)


def _step_rows(frame: pd.DataFrame, plan: _Plan, keys: Sequence[str]) -> pd.DataFrame:
    """Wide aggregate → one row per (keys, step)."""
    n = plan.n
    names = [s.name for s in plan.steps]
    out = []
    for _, row in frame.iterrows() if len(frame) else []:
        first = float(row["c1"] or 0)
        for k in range(1, n + 1):
            count = int(row[f"c{k}"] or 0)
            prev = int(row[f"c{k - 1}"] or 0) if k > 1 else None
            rec: dict[str, Any] = {key: row[key] for key in keys}
            rec |= {
                "step": k, "name": names[k - 1], "count": count,
                "conversion_from_previous": (count / prev) if prev else float("nan"),
                "conversion_overall": (count / first) if first else float("nan"),
                "dropped": (prev - count) if prev is not None else 0,
            }
            for q in QUANTILES:
                col = f"q{k}_{int(q * 100)}"
                if col in row:
                    rec[_QUANTILE_COLUMNS[q]] = _float(row[col])
            if plan.mode == "order":
                # null only when units are there but none has a known value
                rec["value"] = _float(row[f"v{k}"]) if count else 0.0
                rec["value_lost"] = (_float(row[f"lost{k}"]) if k > 1 and rec["dropped"]
                                     else 0.0)
            out.append(rec)
    columns = [*keys, "step", "name", "count", "conversion_from_previous",
               "conversion_overall", "dropped"]
    columns += [_QUANTILE_COLUMNS[q] for q in QUANTILES if f"q1_{int(q * 100)}" in frame]
    if plan.mode == "order":
        columns += ["value", "value_lost"]
    steps = pd.DataFrame(out, columns=columns)
    steps["step"] = steps["step"].astype("int64")
    steps["count"] = steps["count"].astype("int64")
    steps["dropped"] = steps["dropped"].astype("int64")
    return steps


def _float(value: Any) -> float:
    return float("nan") if value is None or pd.isna(value) else float(value)


def _empty_row(plan: _Plan) -> pd.DataFrame:
    return pd.DataFrame([{f"c{k}": 0 for k in range(1, plan.n + 1)}])


@dataclass(frozen=True, eq=False)
class FunnelResult:
    """A funnel's step table, time-to-convert histogram and the options used.

    Attributes
    ----------
    steps
        One row per step (and per breakdown value, in column ``by``, when a breakdown was
        asked for): ``step`` (1-based), ``name``, ``count`` (units reaching the step),
        ``conversion_from_previous`` and ``conversion_overall`` (null when the base is 0),
        ``dropped`` (units that reached the previous step but not this one), the time from
        step 1 to this step over the units reaching it (``p25_seconds``,
        ``median_seconds``, ``p75_seconds``, ``p90_seconds``), and in order mode
        ``value`` (value of the journeys at this step) and ``value_lost`` (value at the
        previous step of the journeys that stopped there).
    time_to_convert
        Histogram of the time from step 1 to the last step over all converted units:
        ``lower_seconds`` (inclusive), ``upper_seconds`` (exclusive; the last bin ends at
        the window, inclusive), ``count`` and ``share``.
    options
        The options the funnel was computed with.
    """

    steps: pd.DataFrame
    time_to_convert: pd.DataFrame
    options: FunnelOptions

    def to_frame(self) -> pd.DataFrame:
        """The step table (a copy)."""
        return self.steps.copy()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: options, steps and histogram (NaN → None)."""
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            clean = df.astype(object).where(df.notna(), None)
            return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                    for r in clean.to_dict(orient="records")]
        return {"options": asdict(self.options), "steps": records(self.steps),
                "time_to_convert": records(self.time_to_convert)}


def funnel(source: TableSource, steps: Sequence[Step | str], *,
           window: str | dt.timedelta = "1d", order: Order = "sequential",
           same_product: bool = False, mode: Mode = "user", start: Any = None,
           end: Any = None, by: str | None = None) -> FunnelResult:
    """Conversion through ordered steps within a time window.

    Parameters
    ----------
    source
        Anything with ``.table(name)`` (a :class:`~shopscope.store.Store`).
    steps
        At least two :class:`Step` or step strings (``"view:category=toys"``).
    window
        Longest time from a step-1 event to the last step used (inclusive): ``"30m"``,
        ``"24h"``, ``"7d"`` or a ``timedelta``.
    order
        ``"sequential"``: steps in the given order; ``"any"``: steps 1..k all within one
        window, in any order.
    same_product
        Keep each chain within one ``product_id``; purchase events without a product stand
        for each product of their order (``order_items``).
    mode
        ``"user"``: count visitors; ``"order"``: count journeys (a visitor's timeline cut
        after each last-step event) and add values.
    start, end
        Only events on these dates (both inclusive, either optional).
    by
        Breakdown: an ``events`` column or a ``properties`` key of the unit's first step-1
        event, or ``customer.<column>`` of its customer.

    Returns
    -------
    FunnelResult

    Raises
    ------
    FunnelOptionError
        Fewer than two steps, an unknown event type, order, mode, window or breakdown, or
        a date that is not one. It is an :class:`~shopscope.errors.OptionError` and a
        ``ValueError``, as are all bad funnel options.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> empty = funnel(connect("duckdb://"), ["view", "purchase"])
    >>> empty.steps[["step", "count", "conversion_from_previous"]]
       step  count  conversion_from_previous
    0     1      0                       NaN
    1     2      0                       NaN
    """
    plan = _plan(steps, window, order, same_product, mode, start, end, by)
    frame = execute(_aggregate(source, plan), written_join_sides=True)
    keys = ["by"] if by is not None else []
    if not keys and len(frame) == 0:
        frame = _empty_row(plan)
    if keys:
        frame = frame.sort_values(keys).reset_index(drop=True)
    table = _step_rows(frame, plan, keys)
    bins = _bins(plan.window.total_seconds())
    counts = [int(frame[f"h{i}"].fillna(0).sum()) if f"h{i}" in frame else 0
              for i in range(len(bins))]
    total = sum(counts)
    hist = pd.DataFrame({
        "lower_seconds": [float(lo) for lo, _ in bins],
        "upper_seconds": [float(hi) for _, hi in bins],
        "count": pd.Series(counts, dtype="int64"),
        "share": [c / total if total else float("nan") for c in counts],
    })
    return FunnelResult(steps=table, time_to_convert=hist, options=plan.options())


def funnel_trend(source: TableSource, steps: Sequence[Step | str], *, grain: str = "day",
                 **options: Any) -> pd.DataFrame:
    """Step counts and conversion per period of the unit's first step-1 event.

    Parameters
    ----------
    source, steps, **options
        As for :func:`funnel` (``window``, ``order``, ``same_product``, ``mode``,
        ``start``, ``end``, ``by``).
    grain
        ``"day"``, ``"week"`` (Mondays) or ``"month"``.

    Returns
    -------
    pandas.DataFrame
        One row per period (and ``by`` value) and step: ``period``, ``step``, ``name``,
        ``count``, ``conversion_from_previous``, ``conversion_overall``, ``dropped``.

    Raises
    ------
    FunnelOptionError
        As for :func:`funnel`, or an unknown grain.
    """
    plan = _plan(steps, options.pop("window", "1d"), options.pop("order", "sequential"),
                 options.pop("same_product", False), options.pop("mode", "user"),
                 options.pop("start", None), options.pop("end", None), options.pop("by", None))
    if options:
        raise FunnelOptionError(f"unknown funnel option(s): {', '.join(sorted(options))}")
    with _as_funnel_option():
        period(ibis.literal(dt.datetime(2024, 1, 1)), grain)  # validates the grain
        bound(grain, None if plan.start is None else parse_date(plan.start, "start"),
              None if plan.end is None else parse_date(plan.end, "end"),
              data_span(source, [("events", "event_at")]), clamp=False)
    frame = execute(_aggregate_trend(source, plan, grain), written_join_sides=True)
    keys = ["period"] + (["by"] if plan.by is not None else [])
    frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[ns]")
    frame = frame.sort_values(keys).reset_index(drop=True)
    return _step_rows(frame, plan, keys)


def _aggregate_trend(source: TableSource, plan: _Plan, grain: str) -> ir.Table:
    units = _units(source, plan)
    units = units.mutate(period=period(units._first, grain))
    group = ["period"]
    if plan.by is not None:
        units = units.mutate(by=_label(units._byv))
        group.append("by")
    aggs: dict[str, ir.Value] = {}
    for k in range(1, plan.n + 1):
        reached = units._level >= k
        aggs[f"c{k}"] = reached.cast("int64").sum()
        if plan.mode == "order":  # values per period too, as in funnel()
            aggs[f"v{k}"] = units[f"_val{k}"].sum(where=reached)
            if k > 1:
                aggs[f"lost{k}"] = units[f"_val{k - 1}"].sum(where=units._level == k - 1)
    return units.group_by(group).aggregate(**aggs)


def funnel_dropped(source: TableSource, steps: Sequence[Step | str], at_step: int,
                   **options: Any) -> ir.Table:
    """The visitors who reached step ``at_step - 1`` but not step ``at_step`` (an audience).

    In order mode, the visitors with at least one journey that stopped there.

    Parameters
    ----------
    source, steps, **options
        As for :func:`funnel`.
    at_step
        The step they did not reach, 2..N.

    Returns
    -------
    ibis.Table
        Columns ``visitor`` and ``user_id`` (the customer id when the visitor is known),
        one row per visitor.

    Raises
    ------
    FunnelOptionError
        As for :func:`funnel`, or ``at_step`` outside 2..N.
    """
    plan = _plan(steps, options.pop("window", "1d"), options.pop("order", "sequential"),
                 options.pop("same_product", False), options.pop("mode", "user"),
                 options.pop("start", None), options.pop("end", None), options.pop("by", None))
    if options:
        raise FunnelOptionError(f"unknown funnel option(s): {', '.join(sorted(options))}")
    if isinstance(at_step, bool) or not isinstance(at_step, int) or not 2 <= at_step <= plan.n:
        raise FunnelOptionError(
            f"at_step must be a step number from 2 to {plan.n}, not {at_step!r}",
            hint="the step the audience did not reach")
    units = _units(source, plan, with_user=True)
    stopped = units.filter(units._level == at_step - 1)
    return stopped.group_by(visitor=stopped._v).aggregate(user_id=stopped.user_id.max())
