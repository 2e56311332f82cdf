"""The CLV report the API and the dashboard show: fitted parameters, totals, a histogram
of the customers' CLV, predicted against actual holdout purchases, and the dropout check
(:class:`~shopscope.customers.clv.DropoutCheck`, the one definition of that block)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from shopscope.customers.clv import ClvFit, DropoutCheck
from shopscope.customers.models import ClvResult, HoldoutResult

HISTOGRAM_BINS = 20


def finite(v: object) -> float | None:
    """``v`` as a float, None when missing, NaN or infinite."""
    if v is None:
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class HistogramBin(BaseModel):
    lo: float
    hi: float
    customers: int
    open_ended: bool = False


class HoldoutRow(_Frozen):
    frequency: int
    label: str
    customers: int
    actual: float | None
    predicted: float | None


class HoldoutOut(_Frozen):
    observation_end: dt.date
    actual_total: float
    predicted_total: float
    total_error_pct: float | None
    mae: float
    rows: list[HoldoutRow]


class ClvReport(_Frozen):
    """The CLV report of the API and the dashboard: parameters, totals, a histogram of
    the customers' CLV, the holdout fit and the dropout check."""

    calibration_end: dt.date
    horizon_months: int
    margin: float
    discount_rate: float
    spend: str
    spend_excluded: int
    params: dict[str, dict[str, float]]
    log_likelihood: dict[str, float]
    converged: dict[str, bool]
    totals: dict[str, float]
    histogram: list[HistogramBin]
    holdout: HoldoutOut | None
    dropout: DropoutCheck


def histogram(values: np.ndarray) -> list[HistogramBin]:
    """Equal-width bins from 0 to the 99th percentile; the last bin is open-ended."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    lo = float(min(0.0, values.min()))
    hi = float(np.quantile(values, 0.99))
    if hi <= lo:
        hi = float(values.max()) if values.max() > lo else lo + 1.0
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
    out = [HistogramBin(lo=float(a), hi=float(b), customers=int(n))
           for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)]
    if (values > hi).any():
        out[-1].open_ended = True
    return out


def build_report(fit: ClvFit, value: ClvResult, holdout: HoldoutResult | None,
                 check: DropoutCheck, *, horizon_months: int, margin: float,
                 discount_rate: float) -> ClvReport:
    """The report of a fit, its valuation (:func:`~shopscope.customers.models.clv`), its
    holdout (None without one) and its :func:`~shopscope.customers.clv.dropout_check`."""
    data = value.data
    purchases, spend = fit.purchases, fit.spend
    values = data.clv.to_numpy(dtype=float)
    totals = {
        "customers": float(len(data)),
        "repeat_customers": float(fit.repeat_customers),
        "total_clv": value.total,
        "mean_clv": float(np.mean(values)),
        "median_clv": float(np.median(values)),
        "expected_purchases": float(data.expected_purchases.sum()),
        "expected_alive": float(data.probability_alive.sum()),
    }
    out = None
    h = holdout
    if h is not None:
        assert fit.observation_end is not None  # a holdout has an end
        out = HoldoutOut(
            observation_end=fit.observation_end, actual_total=h.actual_total,
            predicted_total=h.predicted_total, total_error_pct=finite(h.total_error_pct),
            mae=h.mae,
            rows=[HoldoutRow(frequency=int(r["frequency"]), label=str(r["label"]),
                             customers=int(r["customers"]), actual=finite(r["actual"]),
                             predicted=finite(r["predicted"]))
                  for r in h.table.to_dict("records")])
    return ClvReport(
        calibration_end=fit.calibration_end, horizon_months=horizon_months,
        margin=margin, discount_rate=discount_rate, spend=fit.spend_measure,
        spend_excluded=fit.spend_excluded,
        params={"bgnbd": dict(purchases.params_), "gamma_gamma": dict(spend.params_)},
        log_likelihood={"bgnbd": purchases.log_likelihood_,
                        "gamma_gamma": spend.log_likelihood_},
        converged={"bgnbd": bool(purchases.converged_), "gamma_gamma": bool(spend.converged_)},
        totals=totals, histogram=histogram(values), holdout=out, dropout=check,
    )
