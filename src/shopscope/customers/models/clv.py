"""Customer lifetime value: purchase models, a spend model, CLV and holdout checks.

The models are fitted on per-customer summaries that the engine computes
(:func:`shopscope.customers.customer_summary`):

* :class:`BetaGeoModel` (BG/NBD) and :class:`ParetoNBDModel` (Pareto/NBD) for how many
  purchases a customer will make and whether they are still "alive";
* :class:`GammaGammaModel` for how much a purchase is worth;
* :func:`clv` combines one of each into a discounted expected margin per customer;
* :func:`holdout_table` compares a purchase model's predictions with what the customers
  did in a holdout period (calibration frequency 0, 1, …, 7+).

Examples
--------
A simulated shop of 3,000 customers observed for 52 weeks:

>>> from shopscope.customers.models import (BetaGeoModel, GammaGammaModel, clv, simulate_bgnbd,
...                               simulate_spend)
>>> summary = simulate_bgnbd(3000, r=0.5, alpha=5.0, a=1.0, b=3.0, T=52.0, seed=1)
>>> summary["monetary_value"] = simulate_spend(summary.frequency, p=6, q=4, gamma=15, seed=2)
>>> bg = BetaGeoModel().fit(summary)
>>> gg = GammaGammaModel().fit(summary)
>>> result = clv(bg, gg, summary, horizon=12, margin=0.3, discount_rate=0.1, time_unit="W")
>>> list(result.data.columns)
['probability_alive', 'expected_purchases', 'expected_value', 'clv']
>>> bool((result.data.clv >= 0).all()) and result.total > 0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from shopscope.customers.models.clv_bgnbd import BetaGeoModel
from shopscope.customers.models.clv_common import (
    MIN_REPEATERS,
    RFM_COLUMNS,
    ClvConvergenceWarning,
    ClvError,
    CountingModel,
    NotFittedError,
    as_columns,
    check_rfm,
)
from shopscope.customers.models.clv_gammagamma import GammaGammaModel
from shopscope.customers.models.clv_paretonbd import ParetoNBDModel
from shopscope.customers.models.clv_simulate import (
    simulate_bgnbd,
    simulate_paretonbd,
    simulate_spend,
)

__all__ = [
    "MIN_REPEATERS",
    "BetaGeoModel",
    "ClvConvergenceWarning",
    "ClvError",
    "ClvResult",
    "GammaGammaModel",
    "HoldoutResult",
    "NotFittedError",
    "ParetoNBDModel",
    "clv",
    "holdout_table",
    "simulate_bgnbd",
    "simulate_paretonbd",
    "simulate_spend",
]

TimeUnit = Literal["D", "W"]
RatePeriod = Literal["year", "month"]

#: Length of a month in each time unit (a Julian year / 12).
DAYS_PER_MONTH = 365.25 / 12
_MONTH = {"D": DAYS_PER_MONTH, "W": DAYS_PER_MONTH / 7}


def _table(summary: Any, names: tuple[str, ...]) -> tuple[dict[str, np.ndarray], Any]:
    """Float columns ``names`` and the customer ids (if any), reading an Ibis table once."""
    if hasattr(summary, "to_pyarrow") and hasattr(summary, "select"):
        cols = [c for c in ("customer_id", *names) if c in summary.columns]
        summary = summary.select(*cols).to_pyarrow()
    ids = None
    if hasattr(summary, "column_names") and "customer_id" in summary.column_names:
        ids = summary.column("customer_id").to_numpy(zero_copy_only=False)
    elif isinstance(summary, pd.DataFrame) and "customer_id" in summary.columns:
        ids = summary["customer_id"].to_numpy()
    return as_columns(summary, names), ids


def _option(ok: bool, message: str, hint: str) -> None:
    if not ok:
        raise ClvError("invalid_option", message, hint=hint)


@dataclass(frozen=True)
class ClvResult:
    """Expected value of each customer over a horizon.

    Attributes
    ----------
    data
        One row per customer (in the order of the summary; ``customer_id`` first when
        the summary had it): ``probability_alive``, ``expected_purchases`` (undiscounted,
        over the horizon), ``expected_value`` (per purchase, from the spend model) and
        ``clv`` (discounted expected margin over the horizon).
    horizon_months, margin, monthly_discount_rate, time_unit
        The settings used.
    """

    data: pd.DataFrame
    horizon_months: int
    margin: float
    monthly_discount_rate: float
    time_unit: TimeUnit

    @property
    def total(self) -> float:
        """Sum of the customers' CLV."""
        return float(self.data["clv"].sum())


def clv(
    transactions: BetaGeoModel | ParetoNBDModel,
    spend: GammaGammaModel,
    summary: Any,
    *,
    horizon: int = 12,
    margin: float = 1.0,
    discount_rate: float = 0.10,
    rate_period: RatePeriod = "year",
    time_unit: TimeUnit = "D",
) -> ClvResult:
    """Discounted expected margin of each customer over the next ``horizon`` months.

    The expected number of purchases in each month, from the purchase model conditional
    on the customer's history, is multiplied by the expected value of a purchase from
    the spend model and by ``margin``, discounted to today at the end of its month, and
    summed: ``CLV = margin E[M] sum_i (E[Y(i m)] - E[Y((i-1) m)]) / (1+d)^i`` with ``m``
    one month and ``d`` the monthly rate (the approach of ``lifetimes``'
    ``customer_lifetime_value``).

    Parameters
    ----------
    transactions
        A fitted :class:`BetaGeoModel` or :class:`ParetoNBDModel`.
    spend
        A fitted :class:`GammaGammaModel`.
    summary
        Columns ``frequency``, ``recency``, ``T``, ``monetary_value`` (and optionally
        ``customer_id``), in the time unit the purchase model was fitted in.
    horizon
        Months ahead (a month is 365.25/12 days).
    margin
        Share of a purchase's value that is profit (1 gives expected revenue).
    discount_rate
        Discount rate per ``rate_period``; 0 for no discounting.
    rate_period
        ``"year"`` (an annual rate, converted to the equivalent monthly one) or
        ``"month"``.
    time_unit
        Unit of ``recency`` and ``T`` and of the purchase model: ``"D"`` or ``"W"``.

    Returns
    -------
    ClvResult

    Raises
    ------
    ClvError
        An unfitted model, an invalid summary or option.

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005b), RFM and CLV: Using Iso-Value Curves.
    .. [2] Davidson-Pilon, C. lifetimes, ``utils._customer_lifetime_value``.
    """
    _option(isinstance(horizon, int | np.integer) and horizon > 0,
            f"horizon must be a positive number of months, got {horizon!r}", "e.g. 12")
    _option(isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0,
            f"margin must be a number >= 0, got {margin!r}", "e.g. 0.3 for a 30% margin")
    _option(isinstance(discount_rate, int | float) and math.isfinite(discount_rate)
            and discount_rate > -1, f"discount_rate must be > -1, got {discount_rate!r}",
            "e.g. 0.1 (10% a year)")
    _option(rate_period in get_args(RatePeriod), f"unknown rate_period {rate_period!r}",
            f"use one of {get_args(RatePeriod)}")
    _option(time_unit in _MONTH, f"unknown time_unit {time_unit!r}",
            f"use one of {get_args(TimeUnit)}, the unit the model was fitted in")
    _option(isinstance(transactions, CountingModel),
            f"transactions must be a BetaGeoModel or ParetoNBDModel, not "
            f"{type(transactions).__name__}", "fit one on the calibration summary")
    _option(isinstance(spend, GammaGammaModel),
            f"spend must be a GammaGammaModel, not {type(spend).__name__}",
            "fit one on the repeat customers' frequency and monetary_value")
    transactions._state()
    spend._state()
    cols, ids = _table(summary, (*RFM_COLUMNS, "monetary_value"))
    x, tx, T, m = cols["frequency"], cols["recency"], cols["T"], cols["monetary_value"]
    check_rfm(x, tx, T, fitting=False)
    monthly = (1.0 + discount_rate) ** (1.0 / 12.0) - 1.0 if rate_period == "year" \
        else float(discount_rate)
    month = _MONTH[time_unit]
    cumulative = transactions._cumulative([i * month for i in range(horizon + 1)], x, tx, T)
    discounted = np.zeros_like(x)
    for i in range(1, horizon + 1):
        discounted += (cumulative[i] - cumulative[i - 1]) / (1.0 + monthly) ** i
    value = spend.conditional_expected_value(x, m)
    data = {
        "probability_alive": transactions.probability_alive(x, tx, T),
        "expected_purchases": cumulative[-1],
        "expected_value": value,
        "clv": margin * value * discounted,
    }
    frame = pd.DataFrame(data)
    if ids is not None:
        frame.insert(0, "customer_id", ids)
    return ClvResult(frame, int(horizon), float(margin), float(monthly), time_unit)


@dataclass(frozen=True)
class HoldoutResult:
    """A purchase model's predictions against the holdout period, by calibration frequency.

    Attributes
    ----------
    table
        One row per calibration frequency ``0, 1, …, max_frequency`` (the last one
        meaning "or more", ``label`` ``"7+"``): ``customers``, ``actual`` and
        ``predicted`` (mean purchases per customer in the holdout), ``actual_total``,
        ``predicted_total``.
    actual_total, predicted_total
        Holdout purchases of all customers, observed and expected.
    total_error_pct
        ``100 (predicted_total - actual_total) / actual_total``.
    mae
        Mean absolute error of the per-customer predictions.
    bin_mae
        Mean over the frequency bins of ``|predicted - actual|`` (bins weighted equally,
        as when reading the conditional-expectation plot of FHL 2005a, Figure 4).
    """

    table: pd.DataFrame
    actual_total: float
    predicted_total: float
    total_error_pct: float
    mae: float
    bin_mae: float


def holdout_table(model: BetaGeoModel | ParetoNBDModel, summary: Any, *,
                  max_frequency: int = 7) -> HoldoutResult:
    """Compare expected and actual holdout purchases, by calibration frequency.

    Parameters
    ----------
    model
        A fitted purchase model.
    summary
        A calibration/holdout summary: ``frequency``, ``recency``, ``T``,
        ``frequency_holdout`` and ``duration_holdout`` (``customer_summary`` with an
        ``observation_end``).
    max_frequency
        The last bin holds every customer with at least this many repeat purchases.

    Returns
    -------
    HoldoutResult

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005a), Figure 4 (conditional expectations on CDNOW).
    """
    _option(isinstance(max_frequency, int) and max_frequency >= 1,
            f"max_frequency must be an int >= 1, got {max_frequency!r}", "e.g. 7")
    names = (*RFM_COLUMNS, "frequency_holdout", "duration_holdout")
    cols, _ = _table(summary, names)
    x, tx, T = cols["frequency"], cols["recency"], cols["T"]
    actual, duration = cols["frequency_holdout"], cols["duration_holdout"]
    if x.size == 0:
        raise ClvError("empty", "no customers in the summary",
                       hint="check the calibration period and the filters of customer_summary")
    predicted = model.expected_purchases(duration, x, tx, T)
    bins = np.minimum(x, max_frequency).astype(np.int64)
    frame = pd.DataFrame({"frequency": bins, "actual": actual, "predicted": predicted})
    grouped = frame.groupby("frequency").agg(
        customers=("actual", "size"), actual_total=("actual", "sum"),
        predicted_total=("predicted", "sum"))
    grouped = grouped.reindex(range(max_frequency + 1), fill_value=0)
    grouped["actual"] = grouped.actual_total / grouped.customers.where(grouped.customers > 0)
    grouped["predicted"] = grouped.predicted_total / grouped.customers.where(grouped.customers > 0)
    grouped = grouped.reset_index()
    grouped.insert(1, "label", [str(k) for k in grouped.frequency[:-1]] + [f"{max_frequency}+"])
    table = grouped[["frequency", "label", "customers", "actual", "predicted", "actual_total",
                     "predicted_total"]]
    actual_total, predicted_total = float(actual.sum()), float(predicted.sum())
    error = 100.0 * (predicted_total - actual_total) / actual_total if actual_total else math.nan
    return HoldoutResult(
        table=table,
        actual_total=actual_total,
        predicted_total=predicted_total,
        total_error_pct=float(error),
        mae=float(np.mean(np.abs(predicted - actual))),
        bin_mae=float(np.nanmean(np.abs(table.predicted - table.actual))),
    )
