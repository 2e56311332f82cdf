"""CLV on a shop's orders: one fit used by the CLI, the API, the pages and audiences.

:func:`fit_clv` computes the calibration summary in the engine, fits a purchase model
(BG/NBD or Pareto/NBD) and the Gamma-Gamma spend model, and records what it left out;
:func:`dropout_check` compares the fitted model's dropout with the lifecycle stages.

Two things real data need that the models alone do not do:

* **Non-positive spend.** The Gamma-Gamma model is for positive amounts, but a repeat
  customer's mean repeat spend can be 0 or less (free items, refunds booked as negative
  orders: CDNOW has a customer whose repeat purchases were all free CDs). Such customers
  are left out of the spend fit only, and counted (:func:`spend_fit_rows`,
  :attr:`ClvFit.spend_excluded`); they keep their row everywhere else and are valued at
  the spend model's conditional expectation like everyone.
* **Too little dropout.** On some shops the purchase model explains every gap by slow
  buyers and finds (almost) no dropout: BG/NBD's ``a`` near 0, Pareto/NBD's ``s`` near 0,
  every P(alive) near 1, while many buyers have not bought for longer than the shop's
  usual gaps. Its CLV then assumes nearly everyone keeps buying. :func:`dropout_check`
  flags this (see :data:`ALIVE_SHARE_LIMIT`, :data:`CHURNED_SHARE_LIMIT`) and reports
  the holdout error beside it, from a default split when the fit had no holdout.

Examples
--------
>>> import pandas as pd
>>> summary = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
...                         "frequency": [0, 2, 1, 3],
...                         "monetary_value": [0.0, 12.5, 0.0, -4.0]})
>>> rows, excluded = spend_fit_rows(summary)
>>> list(rows.customer_id), excluded
(['b'], 2)
>>> default_calibration_end(dt.date(2011, 1, 1), dt.date(2011, 3, 31))
datetime.date(2011, 3, 1)
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pandas as pd

from shopscope.core.tables import TableSource
from shopscope.customers.lifecycle import derive_windows, stages_as_of
from shopscope.customers.models import (
    BetaGeoModel,
    ClvError,
    ClvResult,
    GammaGammaModel,
    HoldoutResult,
    ParetoNBDModel,
    clv,
    holdout_table,
)
from shopscope.customers.summary import MonetarySource, customer_summary

__all__ = [
    "ALIVE_SHARE_LIMIT",
    "CHURNED_SHARE_LIMIT",
    "PURCHASE_MODELS",
    "SPEND_MEASURES",
    "ClvFit",
    "DropoutCheck",
    "PurchaseModel",
    "clv_columns",
    "default_calibration_end",
    "dropout_check",
    "fit_clv",
    "spend_fit_rows",
]

PurchaseModel = Literal["bgnbd", "pareto"]
PURCHASE_MODELS: tuple[str, ...] = get_args(PurchaseModel)
#: Spend measures a fit can use, with the order column each one averages.
SPEND_MEASURES: dict[str, str] = {
    "net": "net_amount, after discounts",
    "gross": "gross_amount, before discounts",
}

#: The model "found too little dropout" when its mean P(alive) is at least this ...
ALIVE_SHARE_LIMIT = 0.99
#: ... while at least this share of buyers are churned by the lifecycle rule. Churned means
#: no purchase for the 95th percentile of the shop's gaps, so about 5% of buyers who are
#: merely between purchases are past it too (more when slow buyers are common); twice that
#: is taken as a material disagreement with an "everyone is alive" model.
CHURNED_SHARE_LIMIT = 0.10


def spend_fit_rows(summary: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows the Gamma-Gamma model is fitted on, and how many repeat customers it skips.

    Repeat customers (``frequency > 0``) whose mean repeat spend (``monetary_value``) is
    positive; those with a spend of 0 or less (or missing) are the skipped count.
    """
    repeat = summary.frequency > 0
    positive = summary.monetary_value > 0  # False for NaN too
    return summary[repeat & positive], int((repeat & ~positive).sum())


def default_calibration_end(first: dt.date | None, last: dt.date) -> dt.date:
    """Hold out the last third of the order history (at least a week), so predictions
    can be compared with what happened; the whole history (no holdout) when it spans
    less than three weeks."""
    span = (last - first).days if first else 0
    if span < 21:
        return last
    return last - dt.timedelta(days=max(7, round(span / 3)))


@dataclass(frozen=True)
class ClvFit:
    """A purchase model and a spend model fitted on a shop's calibration summary (days).

    ``summary`` has every customer with a purchase up to ``calibration_end`` (and holdout
    columns when ``observation_end`` is set); ``spend_excluded`` counts the repeat
    customers left out of the spend fit because their mean repeat ``spend`` was <= 0.
    """

    summary: pd.DataFrame
    purchases: BetaGeoModel | ParetoNBDModel
    spend: GammaGammaModel
    calibration_end: dt.date
    observation_end: dt.date | None
    model: str
    spend_measure: str
    spend_excluded: int

    @property
    def repeat_customers(self) -> int:
        return int((self.summary.frequency > 0).sum())

    def holdout(self) -> HoldoutResult | None:
        """Predicted against actual holdout purchases (None without a holdout)."""
        if self.observation_end is None:
            return None
        return holdout_table(self.purchases, self.summary)


def _check_choice(name: str, value: str, allowed: dict[str, str] | tuple[str, ...]) -> None:
    if value not in allowed:
        listed = (", ".join(f"{k} ({v})" for k, v in allowed.items())
                  if isinstance(allowed, dict) else ", ".join(allowed))
        raise ClvError("invalid_option", f"unknown {name} {value!r}", hint=f"use one of: {listed}")


def fit_clv(
    tables: TableSource,
    calibration_end: dt.date,
    observation_end: dt.date | None = None,
    *,
    model: PurchaseModel = "bgnbd",
    spend: MonetarySource = "net",
) -> ClvFit:
    """Fit a purchase model and Gamma-Gamma on the orders up to ``calibration_end``.

    Parameters
    ----------
    tables
        A store (anything with ``.table("orders")``).
    calibration_end
        Last day of the calibration period (included).
    observation_end
        Last day of the holdout period, or None for no holdout.
    model
        ``"bgnbd"`` (BG/NBD) or ``"pareto"`` (Pareto/NBD).
    spend
        The spend measure averaged into ``monetary_value``: a key of
        :data:`SPEND_MEASURES` (``"net"`` or ``"gross"``).

    Raises
    ------
    ClvError
        An unknown option, no customer, or too few (positive-spend) repeat customers.
    """
    _check_choice("purchase model", model, PURCHASE_MODELS)
    _check_choice("spend measure", spend, SPEND_MEASURES)
    summary = customer_summary(tables, calibration_end, observation_end, time_unit="D",
                               monetary=spend).execute()
    if summary.empty:
        raise ClvError("empty", f"no customer bought on or before {calibration_end}",
                       hint="choose a later calibration end")
    rows, excluded = spend_fit_rows(summary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported with the parameters
        purchases = (BetaGeoModel() if model == "bgnbd" else ParetoNBDModel()).fit(summary)
        spend_model = GammaGammaModel().fit(rows)
    return ClvFit(summary, purchases, spend_model, calibration_end, observation_end, model,
                  spend, excluded)


@dataclass(frozen=True)
class DropoutCheck:
    """The fitted model's dropout against the lifecycle stages, with the holdout error.

    Attributes
    ----------
    too_little_dropout
        Mean P(alive) >= :data:`ALIVE_SHARE_LIMIT` while the lifecycle's churned share of
        buyers >= :data:`CHURNED_SHARE_LIMIT`: the model found too little dropout to judge
        who has left, and its CLV assumes nearly everyone keeps buying.
    mean_probability_alive, expected_alive, customers
        From the CLV result: mean and sum of P(alive) over the ``customers``.
    lifecycle_as_of, lifecycle_churned, lifecycle_buyers, lifecycle_churned_share
        Lifecycle stages (windows derived from the shop's gaps) at the start of the day
        after the calibration end: churned buyers, all buyers, and their ratio.
    churn_days
        The derived churn window (days without a purchase).
    holdout_error_pct
        ``100 (predicted - actual) / actual`` holdout purchases: of the fit itself when it
        had a holdout; else, when ``too_little_dropout``, of the same model refitted on
        :func:`default_calibration_end` of the history (None when the history is too short).
    holdout_calibration_end, holdout_observation_end
        The split that error comes from.
    """

    too_little_dropout: bool
    mean_probability_alive: float
    expected_alive: float
    customers: int
    lifecycle_as_of: dt.date
    lifecycle_churned: int
    lifecycle_buyers: int
    lifecycle_churned_share: float | None
    churn_days: int
    holdout_error_pct: float | None
    holdout_calibration_end: dt.date | None
    holdout_observation_end: dt.date | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Split = tuple[float | None, dt.date | None, dt.date | None]


def _default_split_error(tables: TableSource, fit: ClvFit) -> Split:
    """Holdout error of ``fit``'s purchase model refitted on the default split of the
    history up to its calibration end: ``(error %, split day, calibration end)``."""
    first = tables.table("orders").ordered_at.min().execute()
    split = default_calibration_end(pd.Timestamp(first).date(), fit.calibration_end)
    if split >= fit.calibration_end:  # under three weeks of history: nothing to hold out
        return None, None, None
    summary = customer_summary(tables, split, fit.calibration_end, time_unit="D").execute()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = type(fit.purchases)().fit(summary)
    except ClvError:  # too few repeat buyers before the split
        return None, None, None
    return holdout_table(model, summary).total_error_pct, split, fit.calibration_end


def dropout_check(tables: TableSource, fit: ClvFit, result: ClvResult,
                  holdout: HoldoutResult | None = None) -> DropoutCheck:
    """Compare ``fit``'s P(alive) with the lifecycle's churned buyers (see
    :class:`DropoutCheck`).

    ``result`` is :func:`~shopscope.customers.models.clv` of ``fit`` on its summary; ``holdout`` its
    :meth:`ClvFit.holdout` when already computed.
    """
    alive = result.data.probability_alive
    mean_alive = float(alive.mean())
    as_of = fit.calibration_end + dt.timedelta(days=1)
    windows = derive_windows(tables, as_of).windows
    stages = stages_as_of(tables, as_of, windows)
    counts = stages.group_by("stage").aggregate(n=stages.count()).execute()
    by_stage = dict(zip(counts.stage, counts.n.astype(int), strict=True))
    buyers = sum(n for s, n in by_stage.items() if s != "prospect")
    churned = int(by_stage.get("churned", 0))
    share = churned / buyers if buyers else None
    flagged = bool(mean_alive >= ALIVE_SHARE_LIMIT and share is not None
                   and share >= CHURNED_SHARE_LIMIT)
    if holdout is None and fit.observation_end is not None:
        holdout = fit.holdout()
    split: Split = (None, None, None)
    if holdout is not None:
        split = (holdout.total_error_pct, fit.calibration_end, fit.observation_end)
    elif flagged:
        split = _default_split_error(tables, fit)
    error = split[0]
    return DropoutCheck(
        too_little_dropout=flagged, mean_probability_alive=mean_alive,
        expected_alive=float(alive.sum()), customers=len(alive), lifecycle_as_of=as_of,
        lifecycle_churned=churned, lifecycle_buyers=int(buyers), lifecycle_churned_share=share,
        churn_days=int(windows.churn_days),
        holdout_error_pct=error if error is not None and math.isfinite(error) else None,
        holdout_calibration_end=split[1], holdout_observation_end=split[2],
    )


def clv_columns(tables: TableSource, as_of: dt.date | str,
                horizon_months: int = 12) -> pd.DataFrame | None:
    """Per-customer ``clv`` (revenue over ``horizon_months``, 10 %/yr discount), ``p_alive``
    and ``expected_purchases`` from BG/NBD + Gamma-Gamma fitted on orders before ``as_of``,
    for :func:`~shopscope.customers.audiences.build_profile`'s ``extra``; None when there
    is too little history to fit.

    The fit runs on the engine-computed summary (one row per buyer), so this is a small
    pandas frame even for large shops.
    """
    end = pd.Timestamp(str(as_of)).date() - dt.timedelta(days=1)
    try:
        fit = fit_clv(tables, end)
    except ClvError:
        return None
    data = clv(fit.purchases, fit.spend, fit.summary, horizon=horizon_months, time_unit="D").data
    return data[["customer_id", "clv", "probability_alive", "expected_purchases"]].rename(
        columns={"probability_alive": "p_alive"})
