"""Models fitted on aggregates computed by the engine (scikit-learn style estimators).

Configuration goes in the constructor, ``fit(data)`` returns the model, fitted state ends
in ``_``, and predictions never refit.

* CLV and churn: :class:`BetaGeoModel`, :class:`ParetoNBDModel`, :class:`GammaGammaModel`,
  :func:`clv`, :func:`holdout_table` (see :mod:`shopscope.customers.models.clv`).
"""

from shopscope.customers.models.clv import (
    MIN_REPEATERS,
    BetaGeoModel,
    ClvConvergenceWarning,
    ClvError,
    ClvResult,
    GammaGammaModel,
    HoldoutResult,
    NotFittedError,
    ParetoNBDModel,
    clv,
    holdout_table,
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
