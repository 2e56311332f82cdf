"""Bayesian comparisons of a variant with the control: chance to win, expected loss, intervals.

Proportions (:func:`beta_binomial`)
-----------------------------------
Each arm's rate has a ``Beta(a, b)`` prior (default ``Beta(1, 1)``, uniform) and, after
``x`` successes in ``n`` units, the posterior ``Beta(a + x, b + n - x)``. With ``C`` and
``T`` the control and variant posteriors (independent):

* chance to win ``P(T > C) = E_T[F_C(T)]``;
* expected loss of shipping the variant ``E[max(C - T, 0)]`` (and of keeping the control,
  ``E[max(T - C, 0)]``), using ``E[max(C - b, 0)] = m_C (1 - I_b(a_C + 1, b_C)) -
  b (1 - I_b(a_C, b_C))``;
* equal-tailed credible intervals of the absolute lift ``T - C`` and the relative lift
  ``T / C - 1``, by inverting ``P(T - C <= d) = E_T[1 - F_C(T - d)]`` and
  ``P(T / C - 1 <= r) = E_T[1 - F_C(T / (1 + r))]`` with Brent's method.

Every expectation is a one-dimensional integral computed exactly to quadrature precision
(adaptive Gauss–Kronrod, ``scipy.integrate.quad``), not by Monte Carlo. To stay accurate
when the posteriors are very concentrated (millions of units), the integral is written over
the *quantile* of the narrower posterior: ``E_T[g(T)] = ∫_0^1 g(Q_T(u)) du``, whose
integrand is smooth on (0, 1) whatever the sample size. The reported lift is the difference
(and ratio − 1) of the posterior means.

Means (:func:`normal_means`)
----------------------------
The normal approximation: the difference of the sample means ``d`` has likelihood
``N(delta, V)`` with ``V = s_c²/n_c + s_t²/n_t``. With a flat prior on ``delta`` (default)
the posterior is ``N(d, V)``; with a normal prior ``N(mu0, sd0²)`` on the absolute
difference it is the conjugate update (precision-weighted mean). Chance to win is
``Φ(m/s)``, the expected loss of shipping is ``s φ(m/s) - m Φ(-m/s)``, and the relative lift
``delta / mean_c`` gets a delta-method normal interval (uncertainty of the control mean
included).

References
----------
Evan Miller (2015), "Formulas for Bayesian A/B testing" (closed-form ``P(T > C)`` for
integer parameters; used as an independent check in the tests). Chris Stucchio (2015),
"Bayesian A/B testing at VWO" (expected loss as the decision criterion).

Examples
--------
>>> from shopscope.experiments.stats import ProportionStats
>>> r = beta_binomial(ProportionStats(n=1000, x=100), ProportionStats(n=1000, x=120))
>>> round(r.chance_to_win, 4), round(r.expected_loss, 5), r.prior
(0.9232, 0.00048, 'Beta(1, 1) on each arm rate')
>>> [round(v, 4) for v in r.abs_ci]
[-0.0075, 0.0475]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from scipy import integrate, optimize, special, stats

from shopscope.errors import OptionError
from shopscope.experiments.sequential import _json_value
from shopscope.experiments.stats import MeanStats, ProportionStats

__all__ = ["BayesResult", "beta_binomial", "normal_means"]

_NAN_CI = (math.nan, math.nan)
# Quadrature tolerances: far below anything reported (probabilities to 4 decimals).
_QUAD = {"epsabs": 1e-12, "epsrel": 1e-10, "limit": 200}


@dataclass(frozen=True)
class BayesResult:
    """Posterior comparison of a variant (``T``) with the control (``C``).

    Attributes
    ----------
    control_value, variant_value
        Posterior means of the two arms (rates or metric means).
    chance_to_win
        ``P(T > C)``.
    expected_loss
        ``E[max(C - T, 0)]``: what shipping the variant costs on average if it is worse.
    expected_loss_control
        ``E[max(T - C, 0)]``: what keeping the control costs if the variant is better.
    abs_lift, abs_ci
        ``variant_value - control_value`` and the equal-tailed credible interval of ``T - C``.
    rel_lift, rel_ci
        ``variant_value / control_value - 1`` and the credible interval of ``T / C - 1``
        (None when the control value is 0).
    ci_level
        Mass of the credible intervals (``1 - alpha``).
    prior
        The prior in words, e.g. ``"Beta(1, 1) on each arm rate"``.
    method
        ``"beta_binomial"`` or ``"normal_means"``.
    error
        ``"too_few_units"`` when a mean metric has fewer than 2 units in an arm, ``"zero_variance"``
        when both arms are constant; the numbers are then NaN.
    """

    control_value: float
    variant_value: float
    chance_to_win: float
    expected_loss: float
    expected_loss_control: float
    abs_lift: float
    abs_ci: tuple[float, float]
    rel_lift: float | None
    rel_ci: tuple[float, float] | None
    ci_level: float
    prior: str
    method: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (intervals as lists, NaN as ``None``)."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


# --------------------------------------------------------------------------------------
# Beta-Binomial
# --------------------------------------------------------------------------------------
class _Beta:
    """A Beta posterior with the few functions the integrals need (scipy.special, scalar)."""

    def __init__(self, a: float, b: float) -> None:
        self.a, self.b = a, b
        self.mean = a / (a + b)
        self.sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))

    def cdf(self, x: float) -> float:
        return special.betainc(self.a, self.b, min(max(x, 0.0), 1.0))

    def ppf(self, u: float) -> float:
        return special.betaincinv(self.a, self.b, u)

    def upper_partial_mean(self, x: float) -> float:
        """``E[max(X - x, 0)]``."""
        x = min(max(x, 0.0), 1.0)
        return self.mean * (1.0 - special.betainc(self.a + 1, self.b, x)) - x * (
            1.0 - special.betainc(self.a, self.b, x)
        )


def _expect(dist: _Beta, g) -> float:
    """``E[g(X)]`` for X ~ dist, integrated over the quantile u in (0, 1)."""
    with warnings.catch_warnings():
        # Far in a tail (bracketing an interval end) the integral is ~1e-20 and quad's
        # roundoff detector fires although the absolute error stays below epsabs.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value, _ = integrate.quad(lambda u: g(dist.ppf(u)), 0.0, 1.0, **_QUAD)
    return value


def beta_binomial(
    c: ProportionStats,
    t: ProportionStats,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    alpha: float = 0.05,
) -> BayesResult:
    """Beta-Binomial comparison of two conversion rates, computed by exact integration.

    Parameters
    ----------
    c, t
        Control and variant statistics (``n`` units, ``x`` with the outcome).
    prior
        ``(a, b)`` of the Beta prior put on each arm's rate; both positive. The default
        ``(1, 1)`` is uniform; ``(0.5, 0.5)`` is Jeffreys'.
    alpha
        The credible intervals hold ``1 - alpha`` of the posterior mass, in (0, 1).

    Returns
    -------
    BayesResult

    Raises
    ------
    OptionError
        ``x > n`` or negative counts, a non-positive prior parameter, ``alpha`` outside (0, 1).

    References
    ----------
    Evan Miller (2015), "Formulas for Bayesian A/B testing".
    """
    _check_alpha(alpha)
    a0, b0 = _check_prior(prior)
    for s, arm in ((c, "control"), (t, "variant")):
        if not (0 <= s.x <= s.n):
            raise OptionError(f"{arm}: need 0 <= x <= n, got n={s.n!r}, x={s.x!r}")
    pc = _Beta(a0 + c.x, b0 + c.n - c.x)
    pt = _Beta(a0 + t.x, b0 + t.n - t.x)

    # Integrate over the narrower posterior so that the integrand varies slowly.
    if pt.sd <= pc.sd:
        win = _expect(pt, pc.cdf)
        loss = _expect(pt, pc.upper_partial_mean)  # E[max(C - T, 0)]
    else:
        win = 1.0 - _expect(pc, pt.cdf)
        # E[max(C - T, 0)] = E_C[C F_T(C) - E[T; T < C]]
        loss = _expect(pc, lambda x: x - pt.mean + pt.upper_partial_mean(x))
    loss_control = loss + pt.mean - pc.mean
    narrow, wide, sign = (pt, pc, 1.0) if pt.sd <= pc.sd else (pc, pt, -1.0)

    def cdf_abs(d: float) -> float:  # P(T - C <= d)
        if sign > 0:  # over T: P(C >= T - d)
            return _expect(narrow, lambda x: 1.0 - wide.cdf(x - d))
        return _expect(narrow, lambda x: wide.cdf(x + d))  # over C: P(T <= C + d)

    def cdf_rel(r: float) -> float:  # P(T / C - 1 <= r)
        if sign > 0:
            return _expect(narrow, lambda x: 1.0 - wide.cdf(x / (1.0 + r)))
        return _expect(narrow, lambda x: wide.cdf(x * (1.0 + r)))

    level = 1.0 - alpha
    sd = math.hypot(pc.sd, pt.sd)
    abs_ci = _interval(cdf_abs, pt.mean - pc.mean, sd, alpha, lower=-1.0, upper=1.0)
    rel_guess_sd = sd / pc.mean
    rel_ci = _interval(
        cdf_rel, pt.mean / pc.mean - 1.0, rel_guess_sd, alpha, lower=-1.0, upper=math.inf
    )
    return BayesResult(
        control_value=pc.mean,
        variant_value=pt.mean,
        chance_to_win=_clip01(win),
        expected_loss=max(loss, 0.0),
        expected_loss_control=max(loss_control, 0.0),
        abs_lift=pt.mean - pc.mean,
        abs_ci=abs_ci,
        rel_lift=pt.mean / pc.mean - 1.0,
        rel_ci=rel_ci,
        ci_level=level,
        prior=f"Beta({_num(a0)}, {_num(b0)}) on each arm rate",
        method="beta_binomial",
    )


def _interval(
    cdf: Callable[[float], float], center: float, sd: float, alpha: float, *,
    lower: float, upper: float,
):
    """Equal-tailed interval of a distribution known by its CDF, on (lower, upper)."""
    out = []
    for q in (alpha / 2, 1 - alpha / 2):
        lo, hi = max(center - 12 * sd, lower), min(center + 12 * sd, upper)
        lo = lower + 1e-15 if lo <= lower else lo
        while cdf(lo) > q and lo > lower + 1e-12:  # widen until the root is bracketed
            lo = max(lower + 1e-15, center - 2 * (center - lo))
        while cdf(hi) < q:
            hi = center + 2 * (hi - center)
        out.append(optimize.brentq(lambda v, q=q: cdf(v) - q, lo, hi, xtol=1e-13, rtol=1e-12))
    return (float(out[0]), float(out[1]))


# --------------------------------------------------------------------------------------
# Normal approximation for means
# --------------------------------------------------------------------------------------
def normal_means(
    c: MeanStats,
    t: MeanStats,
    *,
    prior: tuple[float, float] | None = None,
    alpha: float = 0.05,
) -> BayesResult:
    """Normal-approximation Bayesian comparison of two means.

    Parameters
    ----------
    c, t
        Control and variant statistics (``n``, ``sum``, ``sum_sq``).
    prior
        ``(mean, sd)`` of a normal prior on the absolute difference ``delta`` (variant minus
        control, in metric units), e.g. ``(0.0, 5.0)``; None (default) is a flat prior, whose
        posterior is ``N(d, V)`` and whose chance to win equals one minus the one-sided
        z-test p-value.
    alpha
        The credible intervals hold ``1 - alpha`` of the posterior mass.

    Returns
    -------
    BayesResult

    Examples
    --------
    >>> from shopscope.experiments.stats import MeanStats
    >>> c = MeanStats(n=100, sum=1000.0, sum_sq=100 * 10.0**2 + 99 * 4.0)   # mean 10, var 4
    >>> t = MeanStats(n=100, sum=1050.0, sum_sq=100 * 10.5**2 + 99 * 4.0)   # mean 10.5, var 4
    >>> r = normal_means(c, t)
    >>> round(r.chance_to_win, 4), r.prior   # Phi(0.5 / sqrt(0.08))
    (0.9615, 'flat on the difference')
    """
    _check_alpha(alpha)
    for arm_stats, arm in ((c, "control"), (t, "variant")):
        if arm_stats.n < 0 or not (math.isfinite(arm_stats.sum)
                                   and math.isfinite(arm_stats.sum_sq)):
            raise OptionError(f"{arm}: need n >= 0 and finite sums, got n={arm_stats.n!r}")
    if prior is None:
        prior_text = "flat on the difference"
    else:
        mu0, sd0 = prior
        if not (math.isfinite(mu0) and sd0 > 0 and math.isfinite(sd0)):
            raise OptionError(
                f"prior must be (mean, sd) with a finite mean and a positive finite sd, "
                f"got {prior!r}",
                hint="or prior=None for a flat prior",
            )
        prior_text = f"N({_num(mu0)}, {_num(sd0)}^2) on the difference"
    if c.n < 2 or t.n < 2:
        return _failed_means("too_few_units", alpha, prior_text)
    mc, mt = c.sum / c.n, t.sum / t.n
    vc = max((c.sum_sq - c.sum * c.sum / c.n) / (c.n - 1), 0.0) / c.n
    vt = max((t.sum_sq - t.sum * t.sum / t.n) / (t.n - 1), 0.0) / t.n
    v = vc + vt
    if v <= 0:
        return _failed_means("zero_variance", alpha, prior_text)
    if prior is None:
        m, s2 = mt - mc, v
    else:
        precision = 1.0 / v + 1.0 / sd0**2
        m, s2 = (( mt - mc) / v + mu0 / sd0**2) / precision, 1.0 / precision
    s = math.sqrt(s2)
    z = stats.norm.ppf(1 - alpha / 2)
    win = float(stats.norm.cdf(m / s))
    loss = float(s * stats.norm.pdf(m / s) - m * stats.norm.cdf(-m / s))  # E[max(-delta, 0)]
    if mc != 0:
        # delta method for delta / mean_c, with Cov(delta, mean_c) = -Var(mean_c)
        rel = m / mc
        rel_sd = math.sqrt(max(s2 / mc**2 + m**2 * vc / mc**4 + 2 * m * vc / mc**3, 0.0))
        rel_ci: tuple[float, float] | None = (rel - z * rel_sd, rel + z * rel_sd)
        rel_lift: float | None = rel
    else:
        rel_ci = rel_lift = None
    return BayesResult(
        control_value=mc,
        variant_value=mc + m,
        chance_to_win=win,
        expected_loss=loss,
        expected_loss_control=loss + m,
        abs_lift=m,
        abs_ci=(float(m - z * s), float(m + z * s)),
        rel_lift=rel_lift,
        rel_ci=None if rel_ci is None else (float(rel_ci[0]), float(rel_ci[1])),
        ci_level=1.0 - alpha,
        prior=prior_text,
        method="normal_means",
    )


def _failed_means(code: str, alpha: float, prior_text: str) -> BayesResult:
    nan = math.nan
    return BayesResult(
        control_value=nan, variant_value=nan, chance_to_win=nan, expected_loss=nan,
        expected_loss_control=nan, abs_lift=nan, abs_ci=_NAN_CI, rel_lift=None, rel_ci=None,
        ci_level=1.0 - alpha, prior=prior_text, method="normal_means", error=code,
    )


def _check_alpha(alpha: float) -> None:
    if not (0.0 < alpha < 1.0):
        raise OptionError(f"alpha must be in (0, 1), got {alpha!r}", hint="e.g. alpha=0.05")


def _check_prior(prior: tuple[float, float]) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in prior)
    except (TypeError, ValueError):
        raise OptionError(f"prior must be a pair (a, b), got {prior!r}") from None
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise OptionError(
            f"prior (a, b) must both be positive and finite, got {prior!r}",
            hint="(1, 1) is uniform, (0.5, 0.5) Jeffreys'",
        )
    return a, b


def _clip01(p: float) -> float:
    return min(max(float(p), 0.0), 1.0)


def _num(v: float) -> str:
    return f"{v:g}"
