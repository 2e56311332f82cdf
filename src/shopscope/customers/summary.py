"""Per-customer RFM summaries for the CLV models, computed in the engine.

:func:`customer_summary` turns the ``orders`` table into one row per customer with the
sufficient statistics of the buy-till-you-die models (BG/NBD, Pareto/NBD) and of the
Gamma-Gamma spend model: ``frequency`` (repeat purchases), ``recency`` (first to last
purchase), ``T`` (first purchase to the end of the calibration period) and
``monetary_value`` (mean value of the repeat purchases), plus the holdout counts used to
check a model's predictions. Everything is one Ibis expression; only the summary (one row
per customer) ever reaches Python.

Conventions (the ones of Fader, Hardie & Lee 2005a on CDNOW, and of ``lifetimes``):

* a purchase is an order that is not cancelled and has a ``customer_id`` (guest and
  marketplace orders without a customer are not part of any customer's process);
* with ``same_day_once=True`` (default) all of a customer's orders on one calendar day are
  one purchase worth their summed value, and times are whole days between calendar
  dates; with ``same_day_once=False`` every order counts and times are measured between
  order timestamps (to the second);
* the first purchase is not a repeat purchase: ``frequency`` counts the purchases after it
  and ``monetary_value`` averages only them (0 when there are none), as in the
  Gamma-Gamma model of Fader, Hardie & Lee (2005b);
* only customers whose first purchase falls in the calibration period (and on or after
  ``min_date``) have a row.

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> rows = [
...     dict(order_id=oid, customer_id=cid, ordered_at=at, channel="web", status=status,
...          gross_amount=g, discount_amount=0.0, shipping_amount=0.0, net_amount=g,
...          currency="EUR")
...     for oid, cid, at, status, g in [
...         ("o1", "c1", dt.datetime(2024, 1, 1, 9), "completed", 10.0),
...         ("o2", "c1", dt.datetime(2024, 1, 1, 17), "completed", 5.0),   # same day
...         ("o3", "c1", dt.datetime(2024, 1, 8, 12), "completed", 30.0),
...         ("o4", "c1", dt.datetime(2024, 1, 15, 12), "cancelled", 99.0),  # ignored
...         ("o5", "c1", dt.datetime(2024, 1, 22, 12), "completed", 50.0),
...         ("o6", "c2", dt.datetime(2024, 1, 3, 12), "completed", 20.0),
...         ("o7", "c2", dt.datetime(2024, 2, 1, 12), "completed", 25.0),  # holdout
...     ]
... ]
>>> schema = get_table("orders").ibis_schema().to_pyarrow()
>>> _ = store.backend.create_table("orders", pa.Table.from_pylist(rows, schema=schema))
>>> expr = customer_summary(store, "2024-01-14", "2024-02-11", time_unit="W")
>>> df = expr.execute()
>>> print(df[["customer_id", "frequency", "recency", "T", "monetary_value"]].round(3))
  customer_id  frequency  recency      T  monetary_value
0          c1          1      1.0  1.857            30.0
1          c2          0      0.0  1.571             0.0
>>> print(df[["customer_id", "frequency_holdout", "monetary_value_holdout",
...           "duration_holdout"]])
  customer_id  frequency_holdout  monetary_value_holdout  duration_holdout
0          c1                  1                    50.0               4.0
1          c2                  1                    25.0               4.0

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005a). "Counting Your Customers" the
   Easy Way: An Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275-284.
.. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using Iso-Value
   Curves for Customer Base Analysis. *Journal of Marketing Research* 42(4), 415-430.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeAlias, get_args

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from shopscope.core.tables import TableSource
from shopscope.errors import ShopscopeError

__all__ = [
    "HOLDOUT_COLUMNS",
    "SUMMARY_COLUMNS",
    "SummaryOptionError",
    "TimeUnit",
    "customer_summary",
]

TimeUnit = Literal["D", "W"]
MonetarySource = Literal["net", "gross"]
DateLike: TypeAlias = str | dt.date | dt.datetime | pd.Timestamp | np.datetime64

#: Columns of every summary, in order (``customer_id`` first).
SUMMARY_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary_value")
#: Columns added when an ``observation_end`` is given.
HOLDOUT_COLUMNS: tuple[str, ...] = (
    "frequency_holdout",
    "monetary_value_holdout",
    "duration_holdout",
)

_SECONDS_PER_UNIT = {"D": 86_400.0, "W": 7 * 86_400.0}
_EARLIEST = pd.Timestamp("1678-01-01")
_LATEST = pd.Timestamp("2262-04-10")
_VALUE_COLUMN = {"net": "net_amount", "gross": "gross_amount"}


class SummaryOptionError(ShopscopeError, ValueError):
    """An unknown option or an impossible period for :func:`customer_summary`."""




def _is_date_only(value: DateLike) -> bool:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return True
    if isinstance(value, str):
        return "T" not in value.strip() and ":" not in value and " " not in value.strip()
    if isinstance(value, np.datetime64):
        return np.datetime_data(value.dtype)[0] in ("D", "W", "M", "Y")
    return False


def _boundary(name: str, value: DateLike, *, day_mode: bool) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(exclusive end instant of the period, the instant T is measured to)."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise SummaryOptionError(
            f"{name}={value!r} is not a date or timestamp",
            hint="pass a date such as '1997-09-30', a datetime.date or a datetime.datetime",
        ) from exc
    if ts is pd.NaT or pd.isna(ts):
        raise SummaryOptionError(f"{name} is missing", hint="pass a date such as '1997-09-30'")
    if not _EARLIEST <= ts <= _LATEST:  # the day after must be a timestamp too
        raise SummaryOptionError(
            f"{name} {value} is outside the dates timestamps can hold",
            hint=f"pass a date between {_EARLIEST.date()} and {_LATEST.date()}",
        )
    if ts.tzinfo is not None:
        raise SummaryOptionError(
            f"{name}={value!r} has a time zone; stored timestamps are naive shop-local times",
            hint="pass a naive date or datetime in the workspace's time zone",
        )
    if day_mode or _is_date_only(value):
        day = ts.normalize()
        end = day + pd.Timedelta(days=1)
        # Day mode measures between calendar dates (a purchase on day d is "at" d);
        # otherwise a date means the end of that day.
        return end, (day if day_mode else end)
    return ts, ts


def _literal_seconds(ts: pd.Timestamp) -> ir.IntegerValue:
    return ibis.literal(ts.to_pydatetime(), type="timestamp").epoch_seconds().cast("int64")


def customer_summary(
    tables: TableSource,
    calibration_end: DateLike,
    observation_end: DateLike | None = None,
    *,
    time_unit: TimeUnit = "D",
    min_date: DateLike | None = None,
    monetary: MonetarySource = "net",
    same_day_once: bool = True,
    include_cancelled: bool = False,
) -> ir.Table:
    """One row per customer: frequency, recency, T, monetary value (and holdout counts).

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` returning the canonical ``orders`` table (a
        :class:`~shopscope.store.Store`).
    calibration_end
        End of the calibration period. A date (``"1997-09-30"``) includes that whole
        day; a datetime is an instant and the period is the orders *before* it.
    observation_end
        End of the holdout period ``(calibration_end, observation_end]``, read like
        ``calibration_end``. When given, the summary also has ``frequency_holdout``
        (purchases in the holdout), ``monetary_value_holdout`` (their mean value, 0 when
        none) and ``duration_holdout`` (the holdout's length in ``time_unit``).
    time_unit
        ``"D"`` (days) or ``"W"`` (weeks of 7 days) for ``recency``, ``T`` and
        ``duration_holdout``; floats in both cases.
    min_date
        Keep only customers whose first purchase is on or after this date (a cohort
        start). Their earlier purchases still decide which purchase is the first, so a
        customer active before ``min_date`` is left out rather than counted as new.
    monetary
        ``"net"`` (``net_amount``, after discounts; default) or ``"gross"``
        (``gross_amount``).
    same_day_once
        Count all of a customer's orders on one calendar day as one purchase (summing
        their value) and measure times between calendar dates, as Fader, Hardie & Lee
        did on CDNOW. ``False`` counts every order and measures between timestamps.
    include_cancelled
        Also count cancelled orders as purchases (e.g. when the purchase process of
        interest is the placing of orders, whatever became of them).

    Returns
    -------
    ibis.Table
        Columns :data:`SUMMARY_COLUMNS` (+ :data:`HOLDOUT_COLUMNS`): ``customer_id``,
        ``frequency`` (int64, repeat purchases in the calibration period), ``recency``
        (first to last purchase), ``T`` (first purchase to ``calibration_end``),
        ``monetary_value`` (mean value of the repeat purchases, 0 when ``frequency`` is
        0). Ordered by ``customer_id``.

    Raises
    ------
    SummaryOptionError
        An unknown ``time_unit`` or ``monetary``, an unreadable date, or an
        ``observation_end`` not after ``calibration_end``.

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005a), "Counting Your Customers" the Easy Way, section 4
       (the CDNOW calibration summary).
    .. [2] Fader, Hardie & Lee (2005b), RFM and CLV: Using Iso-Value Curves, section on
       the spend model (average value of repeat transactions).
    """
    if time_unit not in _SECONDS_PER_UNIT:
        raise SummaryOptionError(
            f"unknown time_unit {time_unit!r}", hint=f"use one of {get_args(TimeUnit)}"
        )
    if monetary not in _VALUE_COLUMN:
        raise SummaryOptionError(
            f"unknown monetary {monetary!r}", hint=f"use one of {get_args(MonetarySource)}"
        )
    day_mode = bool(same_day_once)
    cal_stop, cal_at = _boundary("calibration_end", calibration_end, day_mode=day_mode)
    obs_stop = obs_at = None
    if observation_end is not None:
        obs_stop, obs_at = _boundary("observation_end", observation_end, day_mode=day_mode)
        if obs_stop <= cal_stop:
            raise SummaryOptionError(
                f"observation_end ({observation_end}) must be after calibration_end "
                f"({calibration_end})",
                hint="the holdout period is (calibration_end, observation_end]",
            )
    unit = _SECONDS_PER_UNIT[time_unit]

    orders = tables.table("orders")
    stop = obs_stop if obs_stop is not None else cal_stop
    keep = [orders.customer_id.notnull(), orders.ordered_at < stop.to_pydatetime()]
    if not include_cancelled:
        keep.append(orders.status != "cancelled")
    orders = orders.filter(*keep)
    value = orders[_VALUE_COLUMN[monetary]].cast("float64")
    if day_mode:
        purchases = orders.group_by(
            customer_id=orders.customer_id, at=orders.ordered_at.truncate("D")
        ).aggregate(value=value.sum())
    else:
        purchases = orders.select(customer_id=orders.customer_id, at=orders.ordered_at,
                                  value=value)
    purchases = purchases.mutate(sec=purchases.at.epoch_seconds().cast("int64"))

    cal = purchases.filter(purchases.at < cal_stop.to_pydatetime())
    per = cal.group_by("customer_id").aggregate(
        n=cal.count(),
        first=cal.sec.min(),
        last=cal.sec.max(),
        total=cal.value.sum(),
        first_value=cal.value.argmin(cal.sec),
    )
    if min_date is not None:
        _, start = _boundary("min_date", min_date, day_mode=True)  # the day's midnight
        per = per.filter(per.first >= _literal_seconds(start))
    frequency = (per.n - 1).cast("int64")
    summary = per.select(
        customer_id=per.customer_id,
        frequency=frequency,
        recency=(per["last"] - per["first"]).cast("float64") / unit,
        T=(_literal_seconds(cal_at) - per["first"]).cast("float64") / unit,
        monetary_value=(frequency > 0).ifelse(
            (per.total - per.first_value) / frequency.cast("float64"), 0.0
        ),
    )
    if obs_stop is None:
        return summary.order_by("customer_id")

    hold = purchases.filter(purchases.at >= cal_stop.to_pydatetime())
    hold = hold.group_by(hid="customer_id").aggregate(hn=hold.count(), hv=hold.value.sum())
    joined = summary.left_join(hold, summary.customer_id == hold.hid)
    hn = joined.hn.fill_null(0).cast("int64")
    duration = (obs_at - cal_at).total_seconds() / unit
    out = joined.select(
        *SUMMARY_COLUMNS,
        frequency_holdout=hn,
        monetary_value_holdout=(hn > 0).ifelse(joined.hv / hn.cast("float64"), 0.0),
        duration_holdout=ibis.literal(duration, type="float64"),
    )
    return out.order_by("customer_id")
