"""Gamma-Gamma model of the value of a customer's purchases.

Each purchase of a customer is worth ``z ~ Gamma(p, nu)`` (shape ``p``, rate ``nu``); the
customer's ``nu ~ Gamma(q, gamma)`` varies across customers, so the expected value of a
customer's purchases is ``p gamma / (q - 1)`` before seeing any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from shopscope.customers.models.clv_common import (
    ClvError,
    FittedMixin,
    as_columns,
    broadcast,
    check_options,
    check_repeaters,
    check_weights,
    factorize,
    finish_fit,
    group_rows,
    maximize,
    scalar_or_array,
    wdot,
)

__all__ = ["GammaGammaModel"]

_COLUMNS = ("frequency", "monetary_value")


@dataclass(frozen=True)
class _Prepared:
    xv: np.ndarray  # distinct x
    wx: np.ndarray  # weight per distinct x
    mx: np.ndarray  # m * x per row
    w: np.ndarray
    wxr: np.ndarray  # w * x per row
    wsum: float
    wxlxm: float  # sum of w * x * (ln x + ln m)
    wlm: float  # sum of w * ln m


def _prepare(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> _Prepared:
    xv, ix = factorize(x)
    lm = np.log(m)
    return _Prepared(
        xv=xv, wx=np.bincount(ix, weights=w, minlength=xv.size), mx=m * x, w=w, wxr=w * x,
        wsum=float(w.sum()), wxlxm=wdot(w, x * (np.log(x) + lm)),
        wlm=wdot(w, lm),
    )


def _loglik(params: np.ndarray, d: _Prepared) -> tuple[float, np.ndarray]:
    """Weighted log-density of the mean purchase value and its gradient in (p, q, gamma).

    ``ln f(m | x) = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln m + px ln x
    - (px+q) ln(gamma + m x)`` (the mean of ``x`` Gamma(p, nu) values is Gamma(px, x nu)).
    """
    p, q, gamma = (float(v) for v in params)
    px = p * d.xv
    denom = gamma + d.mx
    lgm = np.log(denom)
    inv = 1.0 / denom
    s_w_lgm, s_wx_lgm = wdot(d.w, lgm), wdot(d.wxr, lgm)
    s_w_inv, s_wx_inv = wdot(d.w, inv), wdot(d.wxr, inv)
    lgamma, wsum = math.log(gamma), d.wsum
    ll = (wdot(d.wx, special.gammaln(px + q) - special.gammaln(px))
          - wsum * special.gammaln(q) + q * lgamma * wsum + p * d.wxlxm - d.wlm
          - p * s_wx_lgm - q * s_w_lgm)
    dpq = special.digamma(px + q)
    dp = wdot(d.wx, d.xv * (dpq - special.digamma(px))) + d.wxlxm - s_wx_lgm
    dq = wdot(d.wx, dpq) - wsum * special.digamma(q) + lgamma * wsum - s_w_lgm
    dgamma = q / gamma * wsum - p * s_wx_inv - q * s_w_inv
    return ll, np.array([dp, dq, dgamma])


class GammaGammaModel(FittedMixin):
    """Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005b).

    It is fitted on the customers with at least one repeat purchase, from their number of
    repeat purchases (``frequency``) and the mean value of those purchases
    (``monetary_value``); rows with ``frequency == 0`` are ignored. The model assumes
    that the value of a customer's purchases does not depend on how often they buy.

    Parameters
    ----------
    penalizer, max_iter, tol
        As for :class:`~shopscope.customers.models.BetaGeoModel`.

    Attributes
    ----------
    params_ : Mapping[str, float]
        ``p``, ``q``, ``gamma`` (``gamma`` in currency units).
    standard_errors_, covariance_, log_likelihood_, converged_, n_customers_

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using
       Iso-Value Curves for Customer Base Analysis. *Journal of Marketing Research* 42(4),
       415-430.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
       http://brucehardie.com/notes/025/ (CDNOW: p=6.25, q=3.74, gamma=15.44).
    .. [3] Colombo, R. & Jiang, W. (1999). A stochastic RFM model. *Journal of Interactive
       Marketing* 13(3), 2-12.

    Examples
    --------
    >>> import numpy as np
    >>> from shopscope.customers.models import GammaGammaModel
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(1, 6, 500)
    >>> nu = rng.gamma(4.0, 1 / 20.0, 500)
    >>> m = rng.gamma(6.0 * x, 1 / (x * nu))  # mean of x Gamma(6, nu) values
    >>> model = GammaGammaModel().fit({"frequency": x, "monetary_value": m})
    >>> round(model.conditional_expected_value(frequency=0, monetary_value=0.0), 1) > 0
    True
    """

    _param_names = ("p", "q", "gamma")

    def __init__(self, *, penalizer: float = 0.0, max_iter: int = 1000, tol: float = 1e-7) -> None:
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.tol = tol

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to the constructor."""
        return {"penalizer": self.penalizer, "max_iter": self.max_iter, "tol": self.tol}

    def fit(self, data: Any, *, weights: Any = None) -> GammaGammaModel:
        """Maximum-likelihood fit on ``frequency`` and ``monetary_value``; returns ``self``.

        Parameters
        ----------
        data
            Columns ``frequency`` and ``monetary_value`` (DataFrame, Ibis/Arrow table,
            mapping, or a sequence of the two arrays).
        weights
            Optional count of customers per row.

        Raises
        ------
        ClvError
            No or too few repeat customers, or a repeat customer whose mean value is not
            positive (the model is for positive amounts).
        """
        check_options(self.penalizer, self.max_iter, self.tol)
        cols = as_columns(data, _COLUMNS)
        x, m = cols["frequency"], cols["monetary_value"]
        if x.shape != m.shape:
            raise ClvError("invalid_summary", "frequency and monetary_value differ in length",
                           hint="pass one value of each per customer")
        w = check_weights(weights, x.size)
        if x.size == 0:
            raise ClvError("empty", "no customers to fit the model on",
                           hint="check the calibration period and the filters of customer_summary")
        bad = ~np.isfinite(x) | ~np.isfinite(m) | (x < 0) | (x != np.round(x))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ClvError("invalid_summary",
                           f"{int(bad.sum())} row(s) have a non-finite value or a negative or "
                           f"fractional frequency (first at {i}: frequency={x[i]!r}, "
                           f"monetary_value={m[i]!r})",
                           hint="frequency counts repeat purchases; monetary_value is their mean")
        rep = x > 0
        if w is not None:
            rep &= w > 0
        check_repeaters(x[rep], None if w is None else w[rep])
        nonpos = rep & (m <= 0)
        if nonpos.any():
            raise ClvError(
                "invalid_summary",
                f"{int(nonpos.sum())} repeat customer(s) have monetary_value <= 0",
                hint="the Gamma-Gamma model needs positive amounts: fit it on the rows "
                "shopscope.customers.clv.spend_fit_rows keeps (it counts the others)",
            )
        xr, mr = x[rep], m[rep]
        first, inverse, counts = group_rows(xr, mr)
        cw = counts.astype(float) if w is None else np.bincount(inverse, weights=w[rep],
                                                                 minlength=first.size)
        xu, mu = xr[first], mr[first]
        total_w = float(cw.sum())
        # Amounts are divided by their mean so that gamma starts near 1; the log-density
        # of the original amounts differs by -ln(scale) per customer.
        scale = float(np.average(mu, weights=cw))
        d = _prepare(xu, mu / scale, cw)
        scale_vec = np.array([1.0, 1.0, scale])
        penalizer = float(self.penalizer)

        def total(theta: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            ll, grad = _loglik(params, d)
            return -ll, -grad * params

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            ll, grad = _loglik(params, d)
            natural = params * scale_vec
            value = -ll / total_w + penalizer * float(np.sum(natural**2))
            if not np.isfinite(value):
                return np.inf, np.zeros_like(theta)
            return value, -grad * params / total_w + 2.0 * penalizer * natural**2

        # Method-of-moments flavoured start: mean value p*gamma/(q-1) = 1 after scaling.
        theta0 = np.log(np.array([2.0, 3.0, 1.0]))
        theta, _, converged, n_iter, message = maximize(
            objective, theta0, max_iter=self.max_iter, tol=self.tol)
        ll = -total(theta)[0] - total_w * math.log(scale)
        self._fit_state = finish_fit(
            self._param_names, total, theta, ll, lambda p: p * scale_vec, converged, n_iter,
            message, type(self).__name__, total_w, xu.size)
        return self

    @property
    def mean_value_(self) -> float:
        """Expected value of a purchase of a new customer, ``p gamma / (q - 1)`` (inf if q<=1)."""
        p, q, gamma = self._p()
        return p * gamma / (q - 1.0) if q > 1 else math.inf

    def conditional_expected_value(self, frequency: Any, monetary_value: Any) -> Any:
        """Expected value of a customer's future purchases, given their repeat purchases.

        Parameters
        ----------
        frequency, monetary_value
            Number of repeat purchases and their mean value (ignored when frequency is 0).

        Returns
        -------
        float or numpy.ndarray
            ``(gamma + x m) p / (p x + q - 1)``: a weighted mean of the population mean
            ``p gamma / (q - 1)`` and the customer's own mean ``m`` (the population mean
            for customers without repeat purchases).

        References
        ----------
        .. [1] Fader, Hardie & Lee (2005b), eq. (5); Fader & Hardie (2013), eq. (3).
        """
        p, q, gamma = self._p()
        scalar, (x, m) = broadcast(frequency, monetary_value)
        if np.any(x < 0) or not np.all(np.isfinite(x)):
            raise ClvError("invalid_summary", "frequency must be finite and >= 0",
                           hint="frequency counts repeat purchases")
        m = np.where(x > 0, m, 0.0)
        return scalar_or_array((gamma + x * m) * p / (p * x + q - 1.0), scalar)
