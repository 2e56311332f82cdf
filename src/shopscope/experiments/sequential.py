"""Sequential tests: always-valid p-values and confidence sequences (normal-mixture mSPRT).

A fixed-horizon z-test is valid once, at the sample size it was planned for. Looking at it
every day and stopping at the first ``p < 0.05`` raises the false positive rate far above
5% (about 20% for a month of daily peeks). The mixture sequential probability ratio test
(mSPRT) gives a p-value that stays valid however often and whenever one looks, and a
confidence *sequence*: intervals that cover the true effect at every peek at once with
probability ``1 - alpha``.

The method
----------
Let ``d`` be the observed difference (variant minus control) of two means or proportions
and ``V`` its variance (``var_c / n_c + var_t / n_t``, each arm's variance estimated from
the data: plug-in, as in Johari et al. 2017). Under the normal approximation
``d ~ N(theta, V)``. Mixing the likelihood ratio of ``theta`` against 0 over a normal
prior ``theta ~ N(0, tau2)`` gives

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 * d**2 / (2 * V * (V + tau2)))

which is a nonnegative martingale under ``theta = 0``; by Ville's inequality
``P(sup Lambda >= 1/alpha) <= alpha``. Hence

* the always-valid p-value is ``min(1, 1 / Lambda)``, made non-increasing over peeks by a
  running minimum (:func:`running`);
* the confidence sequence is the set of ``theta`` the test would not reject,

      d ± sqrt(V * (V + tau2) / tau2 * (2 * log(1 / alpha) + log((V + tau2) / V)))

  (the two-sided normal-mixture boundary of Howard et al. 2021 with ``rho = 1 / tau2``),
  intersected over peeks. At any single peek ``p < alpha`` exactly when 0 is outside the
  interval, so the stopping rule and the interval never disagree.

Choosing ``tau2``
-----------------
``tau2`` is the variance of the mixing distribution, on the scale of the difference
(squared proportion points or squared metric units). The boundary is narrowest where
``tau2 / V = r`` with ``r = 2 log(1/alpha) + log(1 + r)`` (``r ≈ 8.21`` at alpha = 0.05;
:func:`optimal_tau2`). At the sample size planned for a minimum detectable effect ``mde``
(80% power, two-sided 5%), ``V = mde**2 / (1.96 + 0.84)**2``, so the optimal ``tau2`` is
about ``1.05 * mde**2``: **tau is the effect one expects to detect** — Johari et al.'s advice.
:func:`tau2_from_mde` computes it exactly. When no ``tau2`` is given the default is
``(0.10 * |control value|)**2``: the test is tuned to a 10% relative lift, a typical planned
MDE for conversion and spend metrics in a shop. A smaller ``tau2`` favours small effects
and late decisions, a larger one large effects and early decisions; validity holds for every
fixed ``tau2`` — but ``tau2`` must be fixed before looking, not tuned on the result.

The plug-in variance makes the guarantee asymptotic: with very few units or outcomes on the
first days the normal approximation is rough. Simulations in ``tests/test_exp_sequential.py``
(2,000 A/A tests peeked daily for 28 days) give a false positive rate well under 5%; the
bound is conservative because it holds for continuous monitoring, not just daily peeks.

References
----------
Johari, R., Koomen, P., Pekelis, L. & Walsh, D. (2017). Peeking at A/B tests: why it matters,
and what to do about it. KDD '17. (Johari, Pekelis & Walsh, "Always valid inference",
arXiv:1512.04922.)

Howard, S. R., Ramdas, A., McAuliffe, J. & Sekhon, J. (2021). Time-uniform, nonparametric,
nonasymptotic confidence sequences. Annals of Statistics 49(2).

Examples
--------
>>> from shopscope.experiments.stats import ProportionStats as P
>>> r = msprt_proportions(P(n=10_000, x=500), P(n=10_000, x=600), tau2=0.01**2)
>>> round(r.estimate, 4), round(r.p_value, 4), r.stop
(0.01, 0.0417, True)
>>> [round(v, 4) for v in r.ci]
[0.0002, 0.0198]
>>> path = running([(P(1000, 50), P(1000, 52)), (P(2000, 100), P(2000, 99))])
>>> path.p_values == (1.0, 1.0), path.stop_index
(True, None)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import optimize, stats

from shopscope.errors import OptionError
from shopscope.experiments.stats import MeanStats, ProportionStats

__all__ = [
    "DEFAULT_RELATIVE_EFFECT",
    "SequentialPath",
    "SequentialResult",
    "always_valid_p",
    "confidence_sequence",
    "msprt_means",
    "msprt_proportions",
    "optimal_tau2",
    "running",
    "tau2_from_mde",
]

#: Relative lift the default ``tau2`` is tuned to: ``tau = 0.10 * |control value|``.
DEFAULT_RELATIVE_EFFECT = 0.10

_NAN_CI = (math.nan, math.nan)


@dataclass(frozen=True)
class SequentialResult:
    """One peek of an mSPRT comparison of a variant with the control.

    Attributes
    ----------
    estimate
        Observed difference, variant minus control (proportion points or metric units).
    p_value
        Always-valid p-value at this peek (not yet the running minimum; see :func:`running`).
    ci
        Confidence-sequence interval for the difference at this peek.
    stop
        True when ``p_value < alpha``: the null of no difference may be rejected now.
    tau2
        Mixture variance used (see the module notes on how it is chosen).
    alpha
        Level of the test and of the confidence sequence.
    variance
        Plug-in variance of ``estimate``.
    method
        ``"msprt_proportions"`` or ``"msprt_means"``.
    error
        Stable code when the peek cannot be evaluated: ``"empty"`` (an arm has no units),
        ``"too_few_units"`` (fewer than 2 units in an arm of a mean metric), ``"zero_variance"``
        (both arms constant) or ``"no_scale"`` (default ``tau2`` with a control value of 0).
        Then ``p_value`` is 1, ``ci`` is NaN and ``stop`` is False.
    """

    estimate: float
    p_value: float
    ci: tuple[float, float]
    stop: bool
    tau2: float
    alpha: float
    variance: float
    method: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (intervals as lists, NaN and infinities as ``None``)."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class SequentialPath:
    """The always-valid p-values and confidence sequence over a series of peeks.

    ``p_values[k]`` is the running minimum of the peek p-values up to peek ``k`` (never
    increases), ``cis[k]`` the intersection of the intervals up to ``k`` (never widens).
    ``stop_index`` is the first peek with ``p_values[k] < alpha`` (None if none).
    """

    estimates: tuple[float, ...]
    p_values: tuple[float, ...]
    cis: tuple[tuple[float, float], ...]
    stop_index: int | None
    tau2: float
    alpha: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists, NaN and infinities as ``None``)."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


# --------------------------------------------------------------------------------------
# Vectorised core (numpy arrays or floats)
# --------------------------------------------------------------------------------------
def _log_mixture_lr(estimate, variance, tau2):
    """log Lambda of the normal-mixture likelihood ratio against theta = 0."""
    return 0.5 * np.log(variance / (variance + tau2)) + tau2 * estimate**2 / (
        2.0 * variance * (variance + tau2)
    )


def always_valid_p(estimate, variance, tau2):
    """Always-valid p-value ``min(1, 1/Lambda)`` of one peek, elementwise.

    Parameters
    ----------
    estimate
        Observed difference(s) ``d``.
    variance
        Variance(s) ``V`` of ``d`` (positive).
    tau2
        Mixture variance (positive).

    Returns
    -------
    float or numpy.ndarray
        The p-value(s); take a running minimum over peeks for a monotone path.

    Examples
    --------
    >>> always_valid_p(0.0, 1.0, 1.0)  # no evidence at all
    1.0
    >>> round(always_valid_p(3.0, 1.0, 1.0), 4)  # 1 / (sqrt(1/2) * exp(9/4))
    0.1491
    """
    log_lr = _log_mixture_lr(np.asarray(estimate, float), np.asarray(variance, float), tau2)
    p = np.exp(-np.maximum(log_lr, 0.0))
    return p if np.ndim(p) else float(p)


def confidence_sequence(estimate, variance, tau2, alpha=0.05):
    """Normal-mixture confidence-sequence interval of one peek, elementwise.

    Returns ``(lower, upper)`` with half-width
    ``sqrt(V (V + tau2) / tau2 * (2 log(1/alpha) + log((V + tau2) / V)))``.

    Examples
    --------
    >>> lo, hi = confidence_sequence(0.0, 1.0, 1.0, alpha=0.05)
    >>> round(hi, 4) == round(math.sqrt(2 * (2 * math.log(20) + math.log(2))), 4)
    True
    """
    estimate = np.asarray(estimate, float)
    variance = np.asarray(variance, float)
    half = np.sqrt(
        variance * (variance + tau2) / tau2
        * (2.0 * math.log(1.0 / alpha) + np.log((variance + tau2) / variance))
    )
    lo, hi = estimate - half, estimate + half
    if np.ndim(lo):
        return lo, hi
    return float(lo), float(hi)


def optimal_tau2(variance: float, alpha: float = 0.05) -> float:
    """The ``tau2`` whose confidence sequence is narrowest when ``Var(d) = variance``.

    The half-width squared over ``V`` is ``(1 + 1/r) (2 log(1/alpha) + log(1 + r))`` with
    ``r = tau2 / V``; it is smallest where ``r = 2 log(1/alpha) + log(1 + r)``.

    Examples
    --------
    >>> round(optimal_tau2(1.0), 3)
    8.212
    """
    _check_alpha(alpha)
    if not (variance > 0 and math.isfinite(variance)):
        raise OptionError(f"variance must be a positive finite number, got {variance!r}")
    two_l = 2.0 * math.log(1.0 / alpha)
    r = optimize.brentq(lambda r: r - two_l - math.log1p(r), 1e-9, 1e6, xtol=1e-14)
    return float(r * variance)


def tau2_from_mde(mde: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """``tau2`` tuned to detect an absolute effect ``mde`` (variant minus control).

    Takes ``V = (mde / (z_{1-alpha/2} + z_power))**2``, the variance of the difference at
    the fixed-horizon sample size planned for ``mde``, and returns :func:`optimal_tau2`.

    Examples
    --------
    >>> round(tau2_from_mde(0.01) / 0.01**2, 3)
    1.046
    """
    _check_alpha(alpha)
    if not (0.0 < power < 1.0):
        raise OptionError(f"power must be in (0, 1), got {power!r}")
    if not (mde != 0 and math.isfinite(mde)):
        raise OptionError(f"mde must be a nonzero finite number, got {mde!r}")
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    return optimal_tau2((mde / z) ** 2, alpha)


# --------------------------------------------------------------------------------------
# Comparisons on sufficient statistics
# --------------------------------------------------------------------------------------
def msprt_proportions(
    c: ProportionStats, t: ProportionStats, *, tau2: float | None = None, alpha: float = 0.05
) -> SequentialResult:
    """mSPRT for the difference of two proportions ``x_t/n_t - x_c/n_c``.

    Parameters
    ----------
    c, t
        Control and variant statistics (``n`` units, ``x`` with the outcome), cumulative
        up to the peek.
    tau2
        Mixture variance in squared proportion points; default
        ``(0.10 * control rate)**2`` (the pooled rate when the control has no outcome yet).
    alpha
        Level, in (0, 1).

    Returns
    -------
    SequentialResult

    Raises
    ------
    OptionError
        Counts that are negative or ``x > n``, ``alpha`` outside (0, 1), ``tau2 <= 0``.
    """
    _check_alpha(alpha)
    _check_proportion(c, "control")
    _check_proportion(t, "variant")
    method = "msprt_proportions"
    if c.n == 0 or t.n == 0:
        return _failed("empty", tau2, alpha, method)
    pc, pt = c.x / c.n, t.x / t.n
    variance = pc * (1 - pc) / c.n + pt * (1 - pt) / t.n
    scale = pc if pc > 0 else (c.x + t.x) / (c.n + t.n)
    return _peek(pt - pc, variance, scale, tau2, alpha, method)


def msprt_means(
    c: MeanStats, t: MeanStats, *, tau2: float | None = None, alpha: float = 0.05
) -> SequentialResult:
    """mSPRT for the difference of two means (Welch-type plug-in variance).

    Parameters
    ----------
    c, t
        Control and variant statistics (``n``, ``sum``, ``sum_sq``), cumulative to the peek.
    tau2
        Mixture variance in squared metric units; default ``(0.10 * |control mean|)**2``.
    alpha
        Level, in (0, 1).

    Returns
    -------
    SequentialResult
    """
    _check_alpha(alpha)
    _check_mean(c, "control")
    _check_mean(t, "variant")
    method = "msprt_means"
    if c.n == 0 or t.n == 0:
        return _failed("empty", tau2, alpha, method)
    if c.n < 2 or t.n < 2:
        return _failed("too_few_units", tau2, alpha, method)
    mc, mt = c.sum / c.n, t.sum / t.n
    variance = _sample_var(c) / c.n + _sample_var(t) / t.n
    return _peek(mt - mc, variance, abs(mc), tau2, alpha, method)


def running(
    peeks: Sequence[tuple[Any, Any]], *, tau2: float | None = None, alpha: float = 0.05
) -> SequentialPath:
    """The always-valid p-value path and confidence sequence over cumulative peeks.

    Parameters
    ----------
    peeks
        ``[(control, variant), ...]`` in time order, each pair the *cumulative* statistics
        up to that peek (e.g. one per day), all :class:`ProportionStats` or all
        :class:`MeanStats`.
    tau2
        Mixture variance, fixed for the whole path. Default: the rule of
        :func:`msprt_proportions` / :func:`msprt_means` applied to the *last* peek's control
        value (a nuisance scale, not the effect; pass ``tau2`` to pre-register it).
    alpha
        Level, in (0, 1).

    Returns
    -------
    SequentialPath
        Running-minimum p-values, intersected intervals and the first peek to stop at.

    Raises
    ------
    OptionError
        No peeks, mixed statistic kinds, or counts that decrease between peeks.
    """
    _check_alpha(alpha)
    if not peeks:
        raise OptionError("running() needs at least one (control, variant) peek")
    kinds = {_kind(pair[0]) for pair in peeks} | {_kind(pair[1]) for pair in peeks}
    if len(kinds) != 1:
        raise OptionError(
            "running() needs every peek to be ProportionStats or every peek MeanStats",
            hint="pass the cumulative statistics of one metric",
        )
    compare = msprt_proportions if kinds == {"proportion"} else msprt_means
    for arm in (0, 1):
        ns = [pair[arm].n for pair in peeks]
        if any(b < a for a, b in itertools.pairwise(ns)):
            raise OptionError(
                f"running() needs cumulative statistics, but the units of arm {arm} "
                f"decrease between peeks: {ns}",
                hint="accumulate the daily statistics (stats of day 1, days 1-2, ...)",
            )
    if tau2 is None:
        tau2 = compare(*peeks[-1], alpha=alpha).tau2  # NaN when the last peek has no scale
    if math.isnan(tau2):
        results = [_failed("no_scale", None, alpha, compare.__name__) for _ in peeks]
    else:
        results = [compare(c, t, tau2=tau2, alpha=alpha) for c, t in peeks]
    p_values, cis = [], []
    best_p, lo, hi = 1.0, -math.inf, math.inf
    for r in results:
        best_p = min(best_p, r.p_value)
        if r.error is None:
            lo, hi = max(lo, r.ci[0]), min(hi, r.ci[1])
        p_values.append(best_p)
        cis.append((lo, hi))
    stop = next((k for k, p in enumerate(p_values) if p < alpha), None)
    return SequentialPath(
        estimates=tuple(r.estimate for r in results),
        p_values=tuple(p_values),
        cis=tuple(cis),
        stop_index=stop,
        tau2=tau2,
        alpha=alpha,
        method=compare.__name__,
    )


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _peek(
    estimate: float, variance: float, scale: float, tau2: float | None, alpha: float, method: str
) -> SequentialResult:
    """Evaluate one peek, choosing the default tau2 from ``scale`` when none is given."""
    if tau2 is None:
        tau2 = (DEFAULT_RELATIVE_EFFECT * scale) ** 2
        if tau2 == 0:
            return _failed("no_scale", None, alpha, method, estimate)
    else:
        _check_tau2(tau2)
    if not variance > 0:
        return _failed("zero_variance", tau2, alpha, method, estimate)
    p = always_valid_p(estimate, variance, tau2)
    ci = confidence_sequence(estimate, variance, tau2, alpha)
    return SequentialResult(
        estimate=float(estimate), p_value=p, ci=ci, stop=p < alpha, tau2=float(tau2),
        alpha=alpha, variance=float(variance), method=method,
    )


def _failed(
    code: str, tau2: float | None, alpha: float, method: str, estimate: float = math.nan
) -> SequentialResult:
    """A peek that cannot be evaluated: p = 1, no interval, never stop."""
    if tau2 is not None:
        _check_tau2(tau2)
    return SequentialResult(
        estimate=float(estimate), p_value=1.0, ci=_NAN_CI, stop=False,
        tau2=math.nan if tau2 is None else float(tau2), alpha=alpha, variance=math.nan,
        method=method, error=code,
    )


def _json_value(v: Any) -> Any:
    """NaN and infinities to None, tuples to lists (JSON has neither)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple | list):
        return [_json_value(u) for u in v]
    return v


def _sample_var(s: Any) -> float:
    """Sample variance (ddof=1) from n, sum and sum of squares, never negative."""
    return max((s.sum_sq - s.sum * s.sum / s.n) / (s.n - 1), 0.0)


def _kind(s: Any) -> str:
    if isinstance(s, ProportionStats):
        return "proportion"
    if isinstance(s, MeanStats):
        return "mean"
    raise OptionError(f"expected ProportionStats or MeanStats, got {type(s).__name__}")


def _check_alpha(alpha: float) -> None:
    if not (0.0 < alpha < 1.0):
        raise OptionError(f"alpha must be in (0, 1), got {alpha!r}", hint="e.g. alpha=0.05")


def _check_tau2(tau2: float) -> None:
    if not (tau2 > 0 and math.isfinite(tau2)):
        raise OptionError(
            f"tau2 must be a positive finite number, got {tau2!r}",
            hint="tau is about the effect you expect to detect: tau2_from_mde(mde)",
        )


def _check_proportion(s: Any, arm: str) -> None:
    if not (0 <= s.x <= s.n):
        raise OptionError(f"{arm}: need 0 <= x <= n, got n={s.n!r}, x={s.x!r}")


def _check_mean(s: Any, arm: str) -> None:
    if s.n < 0 or not (math.isfinite(s.sum) and math.isfinite(s.sum_sq)) or s.sum_sq < 0:
        raise OptionError(
            f"{arm}: need n >= 0 and finite sum, sum_sq >= 0; got n={s.n!r}, "
            f"sum={s.sum!r}, sum_sq={s.sum_sq!r}"
        )
