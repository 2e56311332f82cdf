"""Customer lifecycle: prospect → new → active → dormant → churned, at a date and month by month.

A *purchase* is an order that is not cancelled and has a ``customer_id`` (the same rule as
:mod:`~shopscope.customers.rfm`); all of a customer's purchases on one calendar
day are one *purchase day*. Everything is counted in whole calendar days: a customer who
last bought on 2024-02-29 has ``days_since = 1`` as of 2024-03-01, whatever the hour.

At a snapshot date ``as_of`` (purchases strictly before the start of that day count), with
windows ``new_days ≤ active_days < churn_days``, a customer is in exactly one stage:

============  ======  ===============================================================
stage         中文    rule
============  ======  ===============================================================
prospect      潜客    in ``customers`` with ``first_seen_at`` before ``as_of`` (or
                      null), and no purchase before ``as_of``
new           新客    first purchase day ≥ ``as_of − new_days`` (within the last
                      ``new_days`` days)
active        活跃    not new, last purchase day ≥ ``as_of − active_days``
dormant       沉睡    last purchase between ``active_days`` and ``churn_days`` days ago
                      (``active_days < days_since < churn_days``)
churned       流失    no purchase for ``churn_days`` days or more
============  ======  ===============================================================

The windows are chosen by the user (:class:`LifecycleWindows`) or derived from the shop's
own inter-purchase times (:func:`derive_windows`): the gaps in days between consecutive
purchase days of the same customer, pooled over all repeat buyers, give
``new_days = ⌈q(0.5)⌉`` (a first-time buyer is *new* until a typical repeat buyer would
have bought again), ``active_days = ⌈q(0.8)⌉`` and ``churn_days = ⌈q(0.95)⌉`` (or
``⌈multiple · active_days⌉``), each then raised if needed so that
``1 ≤ new_days ≤ active_days < churn_days``. The quantiles are the engine's exact
(linearly interpolated, ``quantile_cont`` on DuckDB) or approximate quantiles.

Everything runs in the engine: purchase days and their gaps come from window functions
(``lag``/``lead`` over each customer's days), monthly snapshots from a month spine joined
to each customer's purchase intervals. Python receives only the 3 quantiles, the 5 × 5
transition counts and the monthly rates.

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> rows = [
...     dict(order_id=oid, customer_id=cid, ordered_at=at, channel="web",
...          status="completed", gross_amount=10.0, discount_amount=0.0,
...          shipping_amount=0.0, net_amount=10.0, currency="EUR")
...     for oid, cid, at in [("o1", "a", dt.datetime(2024, 1, 2)),
...                          ("o2", "a", dt.datetime(2024, 2, 20)),
...                          ("o3", "b", dt.datetime(2023, 10, 1))]
... ]
>>> schema = get_table("orders").ibis_schema().to_pyarrow()
>>> _ = store.backend.create_table("orders", pa.Table.from_pylist(rows, schema=schema))
>>> w = LifecycleWindows(new_days=30, active_days=60, churn_days=120)
>>> out = stages_as_of(store, "2024-03-01", w).order_by("customer_id").execute()
>>> out[["customer_id", "stage", "days_since"]]
  customer_id    stage  days_since
0           a   active          10
1           b  churned         152
>>> STAGES["dormant"].label_zh
'沉睡'
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.core.periods import PeriodError, bound, data_span, parse_date
from shopscope.core.tables import TableSource
from shopscope.errors import ShopscopeError

__all__ = [
    "DEFAULT_WINDOWS",
    "STAGES",
    "DerivedWindows",
    "LifecycleError",
    "LifecycleWindows",
    "Stage",
    "TableSource",
    "derive_windows",
    "monthly_stages",
    "purchase_days",
    "reactivation_and_churn_rates",
    "stage_flows",
    "stages_as_of",
    "transition_matrix",
]

QuantileMethod = Literal["exact", "approx"]


class LifecycleError(ShopscopeError, ValueError):
    """Impossible lifecycle windows, a bad date or an unknown option."""




# --------------------------------------------------------------------------------------
# Stage registry
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One lifecycle stage with its display labels and its rule in one line."""

    key: str
    label_en: str
    label_zh: str
    rule: str


#: The stages in lifecycle order (the row and column order of transition matrices).
STAGES: Mapping[str, Stage] = MappingProxyType({
    s.key: s
    for s in (
        Stage("prospect", "Prospect", "潜客",
              "known customer (in customers, first_seen_at before as_of) who never bought"),
        Stage("new", "New", "新客",
              "first purchase within the last new_days days"),
        Stage("active", "Active", "活跃",
              "not new; last purchase within the last active_days days"),
        Stage("dormant", "Dormant", "沉睡",
              "last purchase more than active_days and fewer than churn_days days ago"),
        Stage("churned", "Churned", "流失",
              "no purchase for churn_days days or more"),
    )
})
_ORDER = tuple(STAGES)
# A day number beyond any real date (days since 1970), standing in for "no next purchase".
_FAR_FUTURE = 10_000_000


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LifecycleWindows:
    """The three windows of the lifecycle, in days.

    Parameters
    ----------
    new_days
        A buyer whose first purchase is at most this many days before ``as_of`` is *new*.
    active_days
        A buyer (not new) whose last purchase is at most this many days ago is *active*.
    churn_days
        A buyer whose last purchase is at least this many days ago has *churned*; between
        ``active_days`` and ``churn_days`` the buyer is *dormant*.

    Raises
    ------
    LifecycleError
        Unless ``1 ≤ new_days ≤ active_days < churn_days`` (whole numbers).

    Examples
    --------
    >>> LifecycleWindows(30, 90, 180)
    LifecycleWindows(new_days=30, active_days=90, churn_days=180)
    >>> LifecycleWindows(30, 90, 60)
    Traceback (most recent call last):
    ...
    shopscope.customers.lifecycle.LifecycleError: active_days (90) must be below churn_days (60)
    """

    new_days: int
    active_days: int
    churn_days: int

    def __post_init__(self) -> None:
        for name in ("new_days", "active_days", "churn_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LifecycleError(
                    f"{name} must be a whole number of days ≥ 1, got {value!r}",
                    hint="e.g. LifecycleWindows(new_days=30, active_days=90, churn_days=180)")
        if self.new_days > self.active_days:
            raise LifecycleError(
                f"new_days ({self.new_days}) must not exceed active_days ({self.active_days})",
                hint="a new customer has bought recently, so new_days ≤ active_days")
        if self.active_days >= self.churn_days:
            raise LifecycleError(
                f"active_days ({self.active_days}) must be below churn_days "
                f"({self.churn_days})",
                hint="dormant customers lie between the two windows")


#: Windows used when the shop has no repeat buyer to derive them from.
DEFAULT_WINDOWS = LifecycleWindows(new_days=30, active_days=90, churn_days=180)


@dataclass(frozen=True)
class DerivedWindows:
    """Windows derived from inter-purchase gaps, with what they were derived from.

    ``gaps`` is the number of gaps (consecutive purchase-day pairs) and ``repeat_buyers``
    the number of customers with two or more purchase days. ``quantiles`` maps each
    probability used to the raw quantile in days. ``code`` is ``"ok"``, or
    ``"no_repeat_buyers"`` when there was no gap and :data:`DEFAULT_WINDOWS` were used.
    """

    windows: LifecycleWindows
    gaps: int
    repeat_buyers: int
    quantiles: Mapping[float, float]
    code: Literal["ok", "no_repeat_buyers"] = "ok"


def _day(value: dt.date | str, name: str = "as_of") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, str):
        try:
            day = parse_date(value, name)
        except PeriodError:
            pass
        else:
            assert day is not None
            return day
    raise LifecycleError(f"{name}={value!r} is not a date", hint="write dates as YYYY-MM-DD")


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def purchase_days(tables: TableSource, before: dt.date | str | None = None) -> ir.Table:
    """One row per customer and purchase day, with its neighbours (window functions).

    Columns: ``customer_id, day, day_n`` (days since 1970-01-01), ``first_at, last_at``
    (first and last order time that day), ``gap`` (days since the previous purchase day,
    null for the first), ``next_day_n`` (the next purchase day, null for the last),
    ``first_day_n`` and ``first_order_at`` (the customer's first purchase).
    Only purchases before the start of ``before`` count when it is given.
    """
    o = tables.table("orders")
    keep = [o.status != "cancelled", o.customer_id.notnull()]
    if before is not None:
        keep.append(o.ordered_at < ibis.timestamp(_start_of(_day(before, "before"))))
    o = o.filter(*keep)
    days = o.group_by("customer_id", day=o.ordered_at.date()).aggregate(
        first_at=o.ordered_at.min(), last_at=o.ordered_at.max())
    days = days.mutate(day_n=days.day.epoch_days().cast("int64"))
    by_day = ibis.window(group_by="customer_id", order_by="day_n")
    everything = ibis.window(group_by="customer_id")
    return days.mutate(
        gap=days.day_n - days.day_n.lag().over(by_day),
        next_day_n=days.day_n.lead().over(by_day),
        first_day_n=days.day_n.min().over(everything),
        first_order_at=days.first_at.min().over(everything),
    )


def _ceil_days(value: float) -> int:
    # Round first so that 4.000000001 (float noise from interpolation) stays 4.
    return max(1, math.ceil(round(value, 6)))


def derive_windows(
    tables: TableSource,
    as_of: dt.date | str | None = None,
    *,
    new_quantile: float = 0.5,
    active_quantile: float = 0.8,
    churn_quantile: float = 0.95,
    churn_multiple: float | None = None,
    method: QuantileMethod = "exact",
) -> DerivedWindows:
    """Lifecycle windows from the shop's own inter-purchase times.

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` (a Store).
    as_of
        Only purchases before the start of this day count (all when None).
    new_quantile, active_quantile, churn_quantile
        Probabilities of the pooled gap distribution for the three windows
        (``0 < new ≤ active < churn < 1``).
    churn_multiple
        When given, ``churn_days = ⌈churn_multiple · active_days⌉`` instead of the
        ``churn_quantile`` (must be > 1).
    method
        ``"exact"``: the engine's exact, linearly interpolated quantile (``quantile_cont``
        on DuckDB, as numpy's default); ``"approx"``: the engine's approximate quantile,
        cheaper on very large data.

    Returns
    -------
    DerivedWindows
        ``new_days = max(1, ⌈q_new⌉)``, ``active_days = max(new_days, ⌈q_active⌉)``,
        ``churn_days = max(active_days + 1, ⌈q_churn⌉)``. The gaps are the differences
        in days between consecutive purchase days of a customer, each gap counted once,
        pooled over all repeat buyers (so frequent buyers weigh more). Without any gap,
        :data:`DEFAULT_WINDOWS` with ``code="no_repeat_buyers"``.

    Raises
    ------
    LifecycleError
        Probabilities out of order or outside (0, 1), ``churn_multiple ≤ 1``, an unknown
        ``method``.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> derive_windows(connect("duckdb://")).code
    'no_repeat_buyers'
    """
    if method not in ("exact", "approx"):
        raise LifecycleError(f"unknown method {method!r}", hint="use exact or approx")
    if not 0 < new_quantile <= active_quantile < churn_quantile < 1:
        raise LifecycleError(
            f"quantiles must satisfy 0 < new ≤ active < churn < 1, got {new_quantile}, "
            f"{active_quantile}, {churn_quantile}",
            hint="the defaults are 0.5, 0.8 and 0.95")
    if churn_multiple is not None and not churn_multiple > 1:
        raise LifecycleError(
            f"churn_multiple must be greater than 1, got {churn_multiple}",
            hint="e.g. 2 makes churn_days twice active_days")
    days = purchase_days(tables, as_of)
    gaps = days.filter(days.gap.notnull())
    probs = (new_quantile, active_quantile, churn_quantile)

    def q(p: float) -> ir.FloatingValue:
        return gaps.gap.quantile(p) if method == "exact" else gaps.gap.approx_quantile(p)

    row = gaps.aggregate(
        n=gaps.count(),
        buyers=gaps.customer_id.nunique(),
        **{f"q{i}": q(p).cast("float64") for i, p in enumerate(probs)},
    ).execute().iloc[0]
    n = int(row["n"])
    if n == 0:
        return DerivedWindows(DEFAULT_WINDOWS, 0, 0, {}, code="no_repeat_buyers")
    values = [float(row[f"q{i}"]) for i in range(3)]
    new_days = _ceil_days(values[0])
    active_days = max(new_days, _ceil_days(values[1]))
    churn = (_ceil_days(churn_multiple * active_days) if churn_multiple is not None
             else _ceil_days(values[2]))
    windows = LifecycleWindows(new_days, active_days, max(active_days + 1, churn))
    return DerivedWindows(windows, n, int(row["buyers"]), dict(zip(probs, values, strict=True)))


# --------------------------------------------------------------------------------------
# Stages at snapshot dates
# --------------------------------------------------------------------------------------
def _stage(since: ir.IntegerValue, since_first: ir.IntegerValue,
           w: LifecycleWindows) -> ir.StringValue:
    return ibis.cases(
        (since_first <= w.new_days, "new"),
        (since <= w.active_days, "active"),
        (since < w.churn_days, "dormant"),
        else_="churned",
    )


def _snapshots(tables: TableSource, spine: ir.Table, w: LifecycleWindows,
               last: dt.date) -> ir.Table:
    """Stage of every known customer at every ``as_of`` of ``spine`` (column ``as_of``,
    the latest being ``last``; later orders are not read).

    A purchase day ``d`` with next purchase day ``d'`` is the last purchase for every
    snapshot ``s`` with ``d < s ≤ d'``: joining purchase intervals to the spine gives each
    buyer exactly one row per snapshot after their first purchase day.
    """
    spine = spine.select("as_of", as_of_n=spine.as_of.epoch_days().cast("int64"))
    days = purchase_days(tables, last)
    # Two plain inequalities (no OR) so that engines can run a range join.
    buyers = days.join(
        spine,
        [days.day_n < spine.as_of_n, days.next_day_n.fill_null(_FAR_FUTURE) >= spine.as_of_n],
    )
    since = buyers.as_of_n - buyers.day_n
    buyer_rows = buyers.select(
        "as_of",
        "customer_id",
        stage=_stage(since, buyers.as_of_n - buyers.first_day_n, w),
        first_order_at=buyers.first_order_at,
        last_order_at=buyers.last_at,
        days_since=since,
    )
    firsts = days.group_by(_cid=days.customer_id).aggregate(_first_n=days.first_day_n.min())
    c = tables.table("customers")
    c = c.select("customer_id", _seen_n=c.first_seen_at.date().epoch_days().cast("int64"))
    at = spine.view()
    seen = c.join(at, c._seen_n.fill_null(-_FAR_FUTURE) < at.as_of_n)
    known = seen.left_join(firsts, seen.customer_id == firsts._cid)
    known = known.filter(known._first_n.isnull() | (known._first_n >= known.as_of_n))
    prospect_rows = known.select(
        "as_of",
        "customer_id",
        stage=ibis.literal("prospect"),
        first_order_at=ibis.null(buyer_rows.first_order_at.type()),
        last_order_at=ibis.null(buyer_rows.last_order_at.type()),
        days_since=ibis.null("int64"),
    )
    return buyer_rows.union(prospect_rows)


def stages_as_of(
    tables: TableSource,
    as_of: dt.date | str,
    windows: LifecycleWindows | None = None,
) -> ir.Table:
    """The lifecycle stage of every known customer at the start of ``as_of``.

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` (a Store).
    as_of
        Purchases strictly before this day count; customers first seen before it (or
        with no ``first_seen_at``) are known.
    windows
        The windows; derived with :func:`derive_windows` as of ``as_of`` when None.

    Returns
    -------
    ibis.Table
        ``customer_id, stage, first_order_at, last_order_at, days_since``: one row per
        customer known at ``as_of`` (buyers and prospects). ``days_since`` is the number of
        calendar days from the last purchase day to ``as_of`` (≥ 1), null for prospects.
    """
    day = _day(as_of)
    w = windows or derive_windows(tables, day).windows
    spine = ibis.memtable({"as_of": [day]}).select(as_of=ibis._.as_of.cast("date"))
    return _snapshots(tables, spine, w, day).drop("as_of")


def _month_starts(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    first, last = _day(start, "start").replace(day=1), _day(end, "end").replace(day=1)
    if last < first:
        raise LifecycleError(f"end {end!r} is before start {start!r}",
                             hint="pass start ≤ end")
    months = []
    while first <= last:
        months.append(first)
        first = (first + dt.timedelta(days=32)).replace(day=1)
    return months


def _month_range(tables: TableSource, start: dt.date | str,
                 end: dt.date | str) -> tuple[dt.date, dt.date]:
    """``start``/``end`` as dates, clamped to the first and last order (the snapshots
    outside hold no purchase to judge; 1900..2199 would be 3,600 snapshots of everyone)."""
    lo, hi = _day(start, "start"), _day(end, "end")
    if hi < lo:
        raise LifecycleError(f"end {end!r} is before start {start!r}", hint="pass start ≤ end")
    first, last = bound("month", lo, hi, data_span(tables, [("orders", "ordered_at")]))
    assert first is not None and last is not None
    return first, last


def monthly_stages(
    tables: TableSource,
    start: dt.date | str,
    end: dt.date | str,
    windows: LifecycleWindows | None = None,
) -> ir.Table:
    """The stage of every known customer at the first day of each month.

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` (a Store).
    start, end
        The snapshots are the first days of every month from ``start``'s month to
        ``end``'s month, both included.
    windows
        The windows; derived as of the last snapshot when None.

    Returns
    -------
    ibis.Table
        ``month, customer_id, stage, days_since``: for each month start, the stage as of
        that day (purchases before it count). A customer appears from the first snapshot
        after they are first seen (``first_seen_at``) or first buy, whichever is earlier,
        and in every later snapshot.
    """
    months = _month_starts(*_month_range(tables, start, end))
    w = windows or derive_windows(tables, months[-1]).windows
    spine = ibis.memtable({"as_of": months}).select(as_of=ibis._.as_of.cast("date"))
    snaps = _snapshots(tables, spine, w, months[-1])
    return snaps.select(month=snaps.as_of, customer_id=snaps.customer_id, stage=snaps.stage,
                        days_since=snaps.days_since)


def _moves(tables: TableSource, start: dt.date | str, end: dt.date | str,
           windows: LifecycleWindows | None) -> ir.Table:
    """``month, from_stage, to_stage, customers``: moves from each month start to the next."""
    snaps = monthly_stages(tables, start, end, windows)
    # A customer, once known, is in every later snapshot: lead() is the next month.
    nxt = snaps.stage.lead().over(ibis.window(group_by="customer_id", order_by="month"))
    pairs = snaps.mutate(to_stage=nxt).filter(ibis._.to_stage.notnull())
    return pairs.group_by("month", from_stage=pairs.stage, to_stage=pairs.to_stage).aggregate(
        customers=pairs.count())


def stage_flows(
    tables: TableSource,
    start: dt.date | str,
    end: dt.date | str,
    windows: LifecycleWindows | None = None,
) -> pd.DataFrame:
    """Customers moving between stages from each month start to the next, month by month.

    The per-month form of :func:`transition_matrix` (summing ``customers`` over ``month``
    by pair gives the matrix's counts); only pairs with customers are listed.

    Returns
    -------
    pandas.DataFrame
        ``month, from_stage, to_stage, customers`` (``month`` a date: the start of the
        month moved from), sorted by month, then stage keys.
    """
    out = _moves(tables, start, end, windows).execute()
    out["month"] = pd.to_datetime(out["month"]).dt.date
    out["customers"] = out["customers"].astype("int64")
    return out.sort_values(["month", "from_stage", "to_stage"]).reset_index(drop=True)


def transition_matrix(
    tables: TableSource,
    start: dt.date | str,
    end: dt.date | str,
    windows: LifecycleWindows | None = None,
) -> pd.DataFrame:
    """Customers moving between stages from one month start to the next, summed over months.

    Parameters
    ----------
    tables, start, end, windows
        As for :func:`monthly_stages`; the moves are from each snapshot to the next one.

    Returns
    -------
    pandas.DataFrame
        Long and complete (all 5 × 5 pairs, in :data:`STAGES` order): ``from_stage,
        to_stage, customers, share``, where ``customers`` counts (customer, month) pairs
        in ``from_stage`` at a month start and in ``to_stage`` at the next, and ``share``
        is ``customers`` over the row total of ``from_stage`` (NaN for an empty row).
        Customers who first appear at a later snapshot are not in the matrix (they had no
        stage before). ``.pivot(index="from_stage", columns="to_stage", values="share")``
        gives the square matrix.
    """
    counts = _moves(tables, start, end, windows).group_by("from_stage", "to_stage").aggregate(
        customers=ibis._.customers.sum()).execute()
    grid = pd.MultiIndex.from_product([_ORDER, _ORDER], names=["from_stage", "to_stage"])
    out = (counts.set_index(["from_stage", "to_stage"]).customers.reindex(grid, fill_value=0)
           .astype("int64").reset_index())
    totals = out.groupby("from_stage").customers.transform("sum")
    out["share"] = out.customers / totals.where(totals > 0)
    return out


def reactivation_and_churn_rates(
    tables: TableSource,
    start: dt.date | str,
    end: dt.date | str,
    windows: LifecycleWindows | None = None,
) -> pd.DataFrame:
    """Month-to-month churn and reactivation rates.

    For every month start ``m`` that has a next snapshot ``m+1`` (so all months of the
    range but the last):

    * ``active``: customers in the *active* stage at ``m``; ``lapsed``: those of them who
      are *dormant* or *churned* at ``m+1``; ``churn_rate = lapsed / active``;
    * ``inactive``: customers *dormant* or *churned* at ``m``; ``reactivated``: those of
      them who are *active* or *new* at ``m+1`` (i.e. who bought during month ``m``);
      ``reactivation_rate = reactivated / inactive``.

    *New* customers are not in the churn base (their moves are in
    :func:`transition_matrix`). A rate is NaN when its base is 0.

    Returns
    -------
    pandas.DataFrame
        ``month, active, lapsed, churn_rate, inactive, reactivated, reactivation_rate``,
        one row per month start with a following snapshot.
    """
    start, end = _month_range(tables, start, end)
    moves = _moves(tables, start, end, windows)
    was_active = moves.from_stage == "active"
    was_inactive = moves.from_stage.isin(["dormant", "churned"])
    per = moves.group_by("month").aggregate(
        active=moves.customers.sum(where=was_active),
        lapsed=moves.customers.sum(where=was_active & moves.to_stage.isin(["dormant",
                                                                           "churned"])),
        inactive=moves.customers.sum(where=was_inactive),
        reactivated=moves.customers.sum(where=was_inactive & moves.to_stage.isin(["active",
                                                                                  "new"])),
    ).execute()
    months = pd.DataFrame({"month": pd.to_datetime(_month_starts(start, end)[:-1])})
    per["month"] = pd.to_datetime(per["month"])
    out = months.merge(per, on="month", how="left")
    for col in ("active", "lapsed", "inactive", "reactivated"):
        out[col] = out[col].fillna(0).astype("int64")
    out["churn_rate"] = out.lapsed / out.active.where(out.active > 0)
    out["reactivation_rate"] = out.reactivated / out.inactive.where(out.inactive > 0)
    return out[["month", "active", "lapsed", "churn_rate", "inactive", "reactivated",
                "reactivation_rate"]]
