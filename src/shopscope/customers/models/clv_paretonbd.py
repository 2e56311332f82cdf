"""Pareto/NBD: Poisson purchases while alive, exponential lifetimes, gamma heterogeneity.

A customer buys at rate ``lambda ~ Gamma(r, alpha)`` and dies at rate
``mu ~ Gamma(s, beta)`` (shapes ``r``, ``s``; rates ``alpha``, ``beta`` in units of the
summary's time).

The likelihood of ``(x, t_x, T)`` is

``L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [ (alpha+T)^-(r+x) (beta+T)^-s
+ s * (F(t_x) - F(T)) ]``, with ``F(tau) = int_tau^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du``

(Fader & Hardie 2005, "A note on deriving the Pareto/NBD model"). ``F`` is a Gauss
hypergeometric function; it is written with the larger of ``alpha`` and ``beta`` in front
(the usual "alpha >= beta" and "alpha < beta" cases), so that its argument lies in
``[0, 1)``, and after Euler's transformation it is the series
``G(b, c, z) = sum_k (b)_k / (c)_k z^k`` with positive terms that shrink at least as fast
as ``z^k``. Summing ``G`` directly also gives its derivatives in ``b``, ``c`` and ``z``,
which is what makes the gradient of the likelihood analytic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from shopscope.customers.models.clv_common import (
    ClvError,
    CountingModel,
    broadcast,
    group_rows,
    log1mexp,
    scalar_or_array,
    wdot,
)

__all__ = ["ParetoNBDModel", "hyp2f1_series"]

_MAX_TERMS = 200_000
# Rows whose series ratio z exceeds this use Gauss-Legendre quadrature instead (the series
# needs about 36 / (1 - z) terms).
_Z_SERIES = 0.9
_GL_T, _GL_W = np.polynomial.legendre.leggauss(48)


def hyp2f1_series(b: np.ndarray, c: np.ndarray, z: np.ndarray, *, derivatives: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``G = 2F1(1, b; c; z) = sum_k (b)_k/(c)_k z^k`` and its partial derivatives.

    For ``0 < b < c`` and ``0 <= z < 1`` every term is positive and the ratio of
    consecutive terms is below ``z``, so summing until the next term is negligible is
    accurate to rounding. Returns ``(G, dG/db, dG/dc, dG/dz)``.
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    n = b.size
    b, c, z = b.ravel(), c.ravel(), z.ravel()
    g = np.ones(n)
    gb, gc, gz = np.zeros(n), np.zeros(n), np.zeros(n)
    idx = np.arange(n)
    term = np.ones(n)
    sb, sc = np.zeros(n), np.zeros(n)
    bb, cc, zz = b.copy(), c.copy(), z.copy()
    for k in range(_MAX_TERMS):
        if idx.size == 0:
            break
        ratio = (bb + k) / (cc + k)
        if derivatives:
            gz[idx] += (k + 1) * term * ratio
            sb += 1.0 / (bb + k)
            sc += 1.0 / (cc + k)
        term = term * ratio * zz
        g[idx] += term
        if derivatives:
            gb[idx] += term * sb
            gc[idx] -= term * sc
        # the tail is below term * z / (1 - z) (and its derivatives below that times
        # (k + 2) and the log-sums); stop a row once that is under rounding.
        scale_ = (k + 2.0) * (1.0 + sb + sc) if derivatives else 1.0
        done = term * scale_ <= 1e-17 * g[idx] * (1.0 - zz)
        if k % 8 == 7 or done.all():
            keep = ~done
            if not keep.all():
                idx, term, bb, cc, zz = idx[keep], term[keep], bb[keep], cc[keep], zz[keep]
                sb, sc = sb[keep], sc[keep]
    return g, gb, gc, gz


@dataclass(frozen=True)
class _LogF:
    """``ln F(tau)`` for (x, tau) pairs and its derivatives in (r, alpha, s, beta)."""

    value: np.ndarray
    grad: np.ndarray  # shape (4, n)


def _log_f(r: float, alpha: float, s: float, beta: float, x: np.ndarray, tau: np.ndarray,
           *, derivatives: bool = True) -> _LogF:
    n_ = r + s + x
    la, lb = np.log(alpha + tau), np.log(beta + tau)
    value = np.empty_like(x)
    grad = np.zeros((4, x.size))
    first = alpha >= beta
    if first:
        # (alpha+u) in front: b' = r + x, z = (alpha - beta) / (alpha + tau)
        z = (alpha - beta) / (alpha + tau)
        g, gb, gc, gz = hyp2f1_series(r + x, n_ + 1.0, z, derivatives=derivatives)
        value[:] = -(r + x) * la - s * lb - np.log(n_) + np.log(g)
        if derivatives:
            grad[0] = -la - 1.0 / n_ + (gb + gc) / g
            grad[1] = -(r + x) / (alpha + tau) + gz / g * (beta + tau) / (alpha + tau) ** 2
            grad[2] = -lb - 1.0 / n_ + gc / g
            grad[3] = -s / (beta + tau) - gz / g / (alpha + tau)
    else:
        # (beta+u) in front: b' = s + 1, z = (beta - alpha) / (beta + tau)
        z = (beta - alpha) / (beta + tau)
        g, gb, gc, gz = hyp2f1_series(np.full_like(x, s + 1.0), n_ + 1.0, z,
                                      derivatives=derivatives)
        value[:] = -(s + 1.0) * lb - (r + x - 1.0) * la - np.log(n_) + np.log(g)
        if derivatives:
            grad[0] = -la - 1.0 / n_ + gc / g
            grad[1] = -(r + x - 1.0) / (alpha + tau) - gz / g / (beta + tau)
            grad[2] = -lb - 1.0 / n_ + (gb + gc) / g
            grad[3] = -(s + 1.0) / (beta + tau) + gz / g * (alpha + tau) / (beta + tau) ** 2
    return _LogF(value, grad)


@dataclass(frozen=True)
class _Prepared:
    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray
    # distinct (x, t_x) and (x, T) pairs: F is evaluated once per pair
    ptx: np.ndarray
    itx: np.ndarray
    pT: np.ndarray
    iT: np.ndarray
    wxsum: float


def _prepare(x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> _Prepared:
    ptx, itx, _ = group_rows(x, tx)
    pT, iT, _ = group_rows(x, T)
    return _Prepared(x=x, tx=tx, T=T, w=w, ptx=ptx, itx=itx, pT=pT, iT=iT,
                     wxsum=float(np.sum(w * x)))


def _log_integral(r: float, alpha: float, s: float, beta: float, x: np.ndarray,
                  lower: np.ndarray, upper: np.ndarray, *, derivatives: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """``ln D`` and its gradient by Gauss-Legendre quadrature, for rows the series is slow on.

    ``D = int_lower^upper (alpha+u)^-(r+x) (beta+u)^-(s+1) du`` (``lower < upper``). On
    ``y = ln(min(alpha, beta) + u)`` the log-integrand ``psi`` is concave with its bend at
    ``y = ln|alpha - beta|``, so the quadrature runs on the part of ``[lower, upper]``
    where ``psi`` is within 60 of its maximum (found by Newton steps, which approach a
    level of a concave function monotonically), split at the bend into two panels.
    """
    ka = r + x
    kb = np.full_like(x, s + 1.0)
    if alpha <= beta:
        small, k_small, k_big = alpha, ka, kb
    else:
        small, k_small, k_big = beta, kb, ka
    delta = abs(alpha - beta)
    ld = np.log(delta) if delta > 0 else -np.inf
    ya, yb = np.log(small + lower), np.log(small + upper)

    def psi(y: np.ndarray) -> np.ndarray:
        return -k_big * np.logaddexp(y, ld) + (1.0 - k_small) * y

    def dpsi(y: np.ndarray) -> np.ndarray:
        return -k_big * special.expit(y - ld) + (1.0 - k_small)

    q = (1.0 - k_small) / k_big
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.where(q <= 0, ya, np.where(q >= 1, yb, ld + special.logit(q)))
    peak = np.clip(peak, ya, yb)
    top = psi(peak)
    level = top - 60.0
    lo, hi = ya.copy(), yb.copy()
    for _ in range(100):
        g_hi, g_lo = psi(hi) - level, psi(lo) - level
        move_hi, move_lo = g_hi < -1e-9, g_lo < -1e-9
        if not (move_hi.any() or move_lo.any()):
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            hi = np.where(move_hi, hi - g_hi / dpsi(hi), hi)
            lo = np.where(move_lo, lo - g_lo / dpsi(lo), lo)
        hi, lo = np.clip(hi, peak, yb), np.clip(lo, ya, peak)
    knee = np.clip(ld, lo, hi)
    mids = np.concatenate([((lo + knee) / 2)[:, None] + ((knee - lo) / 2)[:, None] * _GL_T,
                           ((knee + hi) / 2)[:, None] + ((hi - knee) / 2)[:, None] * _GL_T], 1)
    weights = np.concatenate([((knee - lo) / 2)[:, None] * _GL_W,
                              ((hi - knee) / 2)[:, None] * _GL_W], 1)
    e = np.exp(psi_nodes(mids, k_big, k_small, ld) - top[:, None]) * weights
    total = e.sum(1)
    value = top + np.log(total)
    if not derivatives:
        return value, None
    l_other = np.logaddexp(mids, ld)  # ln(max(alpha, beta) + u)
    la, lb = (mids, l_other) if alpha <= beta else (l_other, mids)
    grad = np.stack([
        -(e * la).sum(1),
        -(e * np.exp(-la)).sum(1) * ka,
        -(e * lb).sum(1),
        -(e * np.exp(-lb)).sum(1) * (s + 1.0),
    ]) / total
    return value, grad


def psi_nodes(y: np.ndarray, k_big: np.ndarray, k_small: np.ndarray, ld: float) -> np.ndarray:
    """The log-integrand of :func:`_log_integral` at quadrature nodes (rows x nodes)."""
    return -k_big[:, None] * np.logaddexp(y, ld) + (1.0 - k_small)[:, None] * y


def _components(params: np.ndarray, d: _Prepared, *, derivatives: bool):
    """Per-row ``ln C``, ``ln E1`` (alive at T) and ``ln E2`` (died in (t_x, T)) + grads."""
    r, alpha, s, beta = (float(v) for v in params)
    x, tx, T = d.x, d.tx, d.T
    big, spread = max(alpha, beta), abs(alpha - beta)
    # the series for F(tau) converges like z^k with z = |alpha-beta| / (max + tau)
    quad_row = spread / (big + tx) > _Z_SERIES
    series_tx = spread / (big + tx[d.ptx]) <= _Z_SERIES
    series_T = spread / (big + T[d.pT]) <= _Z_SERIES
    n_tx, n_T = d.ptx.size, d.pT.size
    lf_tx_p, lf_T_p = np.full(n_tx, np.nan), np.full(n_T, np.nan)
    gf_tx_p, gf_T_p = np.zeros((4, n_tx)), np.zeros((4, n_T))
    if series_tx.any():
        f = _log_f(r, alpha, s, beta, x[d.ptx][series_tx], tx[d.ptx][series_tx],
                   derivatives=derivatives)
        lf_tx_p[series_tx], gf_tx_p[:, series_tx] = f.value, f.grad
    if series_T.any():
        f = _log_f(r, alpha, s, beta, x[d.pT][series_T], T[d.pT][series_T],
                   derivatives=derivatives)
        lf_T_p[series_T], gf_T_p[:, series_T] = f.value, f.grad
    lf_tx, lf_T = lf_tx_p[d.itx], lf_T_p[d.iT]
    la_T, lb_T = np.log(alpha + T), np.log(beta + T)
    lC = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    lE1 = -(r + x) * la_T - s * lb_T
    diff = np.minimum(np.where(quad_row, 0.0, lf_T - lf_tx), 0.0)
    with np.errstate(invalid="ignore"):
        lD = np.where(quad_row, -np.inf, lf_tx + log1mexp(diff))  # -inf when t_x == T
    dlD = np.zeros((4, x.size))
    if derivatives:
        rho = np.exp(diff)
        with np.errstate(divide="ignore", invalid="ignore"):
            dlD = (gf_tx_p[:, d.itx] - rho * gf_T_p[:, d.iT]) / (1.0 - rho)
    quad = quad_row & (tx < T)
    if quad.any():
        value, grad = _log_integral(r, alpha, s, beta, x[quad], tx[quad], T[quad],
                                    derivatives=derivatives)
        lD[quad] = value
        if derivatives:
            dlD[:, quad] = grad
    lE2 = np.log(s) + lD
    if not derivatives:
        return lC, lE1, lE2, None
    dlD[:, ~np.isfinite(lE2)] = 0.0
    dC = np.stack([
        special.digamma(r + x) - special.digamma(r) + np.log(alpha),
        np.full_like(x, r / alpha),
        np.full_like(x, np.log(beta)),
        np.full_like(x, s / beta),
    ])
    dE1 = np.stack([-la_T, -(r + x) / (alpha + T), -lb_T, -s / (beta + T)])
    dE2 = dlD
    dE2[2] += 1.0 / s
    return lC, lE1, lE2, (dC, dE1, dE2)


def _loglik(params: np.ndarray, d: _Prepared) -> tuple[float, np.ndarray]:
    lC, lE1, lE2, grads = _components(params, d, derivatives=True)
    assert grads is not None
    dC, dE1, dE2 = grads
    lse = np.logaddexp(lE1, lE2)
    alive = np.exp(lE1 - lse)
    ll = wdot(d.w, lC + lse)
    grad = dC + alive * dE1 + (1.0 - alive) * dE2
    return ll, np.einsum("ij,j->i", grad, d.w)


class ParetoNBDModel(CountingModel):
    """Pareto/NBD model of repeat purchases and unobserved dropout (Schmittlein et al. 1987).

    Parameters
    ----------
    penalizer, max_iter, tol
        As for :class:`~shopscope.customers.models.BetaGeoModel`.

    Attributes
    ----------
    params_ : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta`` (``alpha`` and ``beta`` in the summary's time
        unit).
    standard_errors_, covariance_, log_likelihood_, converged_, n_customers_

    Notes
    -----
    The hypergeometric term is summed as a series whose ratio of terms is below
    ``|alpha - beta| / (max(alpha, beta) + t_x)``; it needs many terms only when one of
    ``alpha``, ``beta`` is thousands of times the other, and it is evaluated once per
    distinct ``(frequency, recency)`` and ``(frequency, T)`` pair.

    References
    ----------
    .. [1] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting Your
       Customers: Who Are They and What Will They Do Next? *Management Science* 33(1).
    .. [2] Fader, P. S. & Hardie, B. G. S. (2005). A Note on Deriving the Pareto/NBD Model
       and Related Expressions. http://brucehardie.com/notes/009/ (likelihood, P(alive)
       and conditional expectation, eqs. 16-22).
    .. [3] Fader, Hardie & Lee (2005a), "Counting Your Customers" the Easy Way, Table 1
       (Pareto/NBD on the CDNOW sample: r=0.5533, alpha=10.578, s=0.6063, beta=11.669,
       log-likelihood -9594.98).

    Examples
    --------
    >>> from shopscope.customers.models import ParetoNBDModel, simulate_paretonbd
    >>> summary = simulate_paretonbd(5000, r=0.55, alpha=10.0, s=0.6, beta=12.0, T=39.0,
    ...                              seed=1)
    >>> model = ParetoNBDModel().fit(summary)
    >>> model.summary().round(2)  # doctest: +NORMALIZE_WHITESPACE
               estimate  std_error  lower_95  upper_95
    parameter
    r              0.57       0.04      0.50      0.65
    alpha         10.46       0.57      9.40     11.65
    s              0.43       0.07      0.32      0.58
    beta           6.94       2.34      3.58     13.44
    """

    _param_names = ("r", "alpha", "s", "beta")
    _time_params = ("alpha", "beta")

    def _prepare(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> Any:
        return _prepare(x, tx, T, w)

    def _loglik(self, params: np.ndarray, prepared: Any) -> tuple[float, np.ndarray]:
        return _loglik(params, prepared)

    def _start(self, prepared: Any) -> np.ndarray:
        d: _Prepared = prepared
        exposure = wdot(d.w, d.T)
        rate = d.wxsum / exposure if exposure > 0 else 1.0
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])

    # -- predictions ---------------------------------------------------------------------
    def _alive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        rep, inverse, _ = group_rows(x, tx, T)
        d = _prepare(x[rep], tx[rep], T[rep], np.ones(rep.size))
        _, lE1, lE2, _ = _components(np.array(self._p()), d, derivatives=False)
        return np.exp(lE1 - np.logaddexp(lE1, lE2))[inverse]

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """P(alive at the end of calibration | frequency, recency, T).

        Parameters
        ----------
        frequency, recency, T
            Scalars or arrays (broadcast together), in the units the model was fitted in.

        Returns
        -------
        float or numpy.ndarray
            ``1 / (1 + s (F(t_x) - F(T)) (alpha+T)^(r+x) (beta+T)^s)``.

        References
        ----------
        .. [1] Fader & Hardie (2005), A Note on Deriving the Pareto/NBD Model, eq. (18).
        """
        scalar, (x, tx, T_) = self._rfm(frequency, recency, T)
        return scalar_or_array(self._alive(x, tx, T_), scalar)

    def _cumulative(self, horizons: list[float], x: np.ndarray, tx: np.ndarray,
                    T: np.ndarray) -> list[np.ndarray]:
        r, alpha, s, beta = self._p()
        alive = self._alive(x, tx, T)
        front = (r + x) * (beta + T) / (alpha + T)
        out = []
        for t in horizons:
            # (1 - ((beta+T)/(beta+T+t))^(s-1)) / (s-1), continuous at s = 1
            lq = np.log1p(t / (beta + T))
            sm1 = s - 1.0
            frac = -np.expm1(-sm1 * lq) / sm1 if abs(sm1) > 1e-12 else lq
            out.append(front * frac * alive)
        return out

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """Expected purchases in the next ``t`` time units, given the customer's history.

        Parameters
        ----------
        t
            Length of the future period (scalar or one per customer).
        frequency, recency, T
            The customer's calibration summary.

        Returns
        -------
        float or numpy.ndarray
            ``(r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``
            times P(alive).

        References
        ----------
        .. [1] Fader & Hardie (2005), A Note on Deriving the Pareto/NBD Model, eq. (21).
        """
        scalar, (x, tx, T_, tt) = self._rfm(frequency, recency, T, t)
        if np.any(tt < 0) or not np.all(np.isfinite(tt)):
            raise ClvError("invalid_option", "t must be finite and >= 0",
                           hint="t is the length of the future period")
        r, alpha, s, beta = self._p()
        alive = self._alive(x, tx, T_)
        lq = np.log1p(tt / (beta + T_))
        sm1 = s - 1.0
        frac = -np.expm1(-sm1 * lq) / sm1 if abs(sm1) > 1e-12 else lq
        out = (r + x) * (beta + T_) / (alpha + T_) * frac * alive
        return scalar_or_array(out, scalar)

    def expected_purchases_new(self, t: Any) -> Any:
        """Expected purchases in ``(0, t]`` of a customer just acquired.

        Returns
        -------
        float or numpy.ndarray
            ``r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]`` (Schmittlein et al.
            1987; Fader & Hardie 2005, eq. 17).
        """
        r, alpha, s, beta = self._p()
        scalar, (tt,) = broadcast(t)
        lq = np.log1p(tt / beta)
        sm1 = s - 1.0
        frac = -np.expm1(-sm1 * lq) / sm1 if abs(sm1) > 1e-12 else lq
        return scalar_or_array(r * beta / alpha * frac, scalar)
