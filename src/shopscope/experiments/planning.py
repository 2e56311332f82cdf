"""Experiment planning: sample size, minimum detectable effect (MDE), power and duration.

Every variant is compared with the control, all arms get the same number of units ``n``
(an equal split), and the test of each comparison is two-sided (default) or one-sided in
the direction of the effect. With ``variants = k > 2`` arms there are ``k - 1`` comparisons
with the control; with ``correction="bonferroni"`` (default) each is run at
``alpha / (k - 1)``, which keeps the chance of any false positive at most ``alpha``
(Holm's procedure at analysis time is never less powerful, so the plan is safe for it).

Power
-----
For a difference ``delta`` between the arms, with critical value ``c = z(1 - a/2)``
(two-sided) or ``z(1 - a)`` (one-sided) at the per-comparison level ``a``:

``power = Φ((|delta| √n - c σ0) / σ1) + Φ((-|delta| √n - c σ0) / σ1)``

(the second term — rejecting in the wrong direction — only for two-sided tests, as in
statsmodels). ``σ0`` and ``σ1`` are the per-unit standard deviations of the difference under
the null and the alternative:

=====================  =======================================  ==============================
method                 effect and σ                             same as
=====================  =======================================  ==============================
``"unpooled"``         ``delta = p2 - p1``,                     statsmodels ``NormalIndPower``
(proportions,          ``σ0² = σ1² = p1 q1 + p2 q2``            with ``effect_size =
default)                                                        delta / √((p1q1 + p2q2)/2)``
``"pooled"``           ``σ0² = 2 p̄ q̄`` (p̄ = (p1+p2)/2),        statsmodels
(proportions)          ``σ1² = p1 q1 + p2 q2``                  ``power_proportions_2indep``
``"arcsine"``          ``delta = h = 2 asin√p2 - 2 asin√p1``    ``NormalIndPower`` with
(proportions)          (Cohen's h), ``σ0² = σ1² = 2``           ``proportion_effectsize``
``test="z"`` (means)   ``σ0² = σ1² = 2 sd²``                    ``NormalIndPower``, d = δ/sd
=====================  =======================================  ==============================

``test="t"`` (means, default) is the exact power of the two-sample t-test with equal
variances: noncentral t with ``2n - 2`` degrees of freedom and noncentrality
``|delta| / (sd √(2/n))``, as statsmodels ``TTestIndPower``.

The sample size is the (continuous) root ``n_exact`` of ``power(n) = target``, found with
Brent's method (so the two-sided far tail is included, unlike the textbook closed form
``(z(1-a/2) + z(power))² σ² / delta²``, which it matches to a fraction of a unit), and
``n_per_variant = ceil(n_exact)``, at least 2. The MDE is the smallest *increase* that
reaches the target power (for proportions the MDE of a decrease differs slightly because
the variance depends on the rate).

Examples
--------
Baseline conversion 10%, detect +10% relative (10% → 11%) at 5% two-sided with 80% power:
``(1.95996 + 0.84162)² × (0.1·0.9 + 0.11·0.89) / 0.01² = 7.84888 × 0.1879 / 0.0001
≈ 14,748.0``, so 14,749 per arm.

>>> plan = sample_size_proportions(0.10, 0.10)
>>> plan.n_per_variant, plan.total
(14749, 29498)
>>> duration_days(plan.n_per_variant, daily_traffic=2000, variants=2)
15
>>> round(mde_proportions(14749, 0.10).mde_rel, 4)
0.1
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from scipy import optimize, stats

from shopscope.errors import OptionError

__all__ = [
    "Alternative",
    "Plan",
    "duration_days",
    "mde_means",
    "mde_proportions",
    "power_means",
    "power_proportions",
    "sample_size_means",
    "sample_size_proportions",
]

Alternative = Literal["two-sided", "one-sided"]
ProportionMethod = Literal["unpooled", "pooled", "arcsine"]
MeanTest = Literal["t", "z"]
Correction = Literal["bonferroni"]

_MIN_N = 2.0  # a variance needs two units per arm
#: longest duration worth a plan (100 years); beyond it the traffic is surely mistyped
_MAX_DAYS = 36_500
_MAX_N = 1e13
#: most units per arm the solvers handle (public: the API skips trade-off points beyond it)
MAX_UNITS = _MAX_N


@dataclass(frozen=True)
class Plan:
    """A sample-size or MDE plan for one metric.

    Attributes
    ----------
    metric
        ``"proportion"`` or ``"mean"``.
    n_per_variant
        Units needed in each arm (``ceil(n_exact)``, at least 2).
    n_exact
        The continuous solution of ``power(n) = power`` (or the ``n`` given for an MDE).
    variants
        Number of arms, control included.
    total
        ``n_per_variant * variants``.
    mde_abs, mde_rel
        The effect planned for: absolute (proportion points or metric units) and relative to
        the baseline (None for a mean metric planned without a baseline mean).
    baseline
        Control rate (proportions) or mean (means; None if not given).
    sd
        Per-unit standard deviation (means), None for proportions.
    alpha, alpha_per_comparison
        Family level and the level of each variant-vs-control test after the correction.
    power
        Target power of each comparison.
    alternative
        ``"two-sided"`` or ``"one-sided"``.
    method
        ``"unpooled"``, ``"pooled"`` or ``"arcsine"`` (proportions), ``"t"`` or ``"z"`` (means).
    """

    metric: str
    n_per_variant: int
    n_exact: float
    variants: int
    total: int
    mde_abs: float
    mde_rel: float | None
    baseline: float | None
    sd: float | None
    alpha: float
    alpha_per_comparison: float
    power: float
    alternative: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


# --------------------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------------------
def power_proportions(
    n_per_variant: float,
    baseline: float,
    mde: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    variants: int = 2,
    alternative: Alternative = "two-sided",
    correction: Correction | None = "bonferroni",
    method: ProportionMethod = "unpooled",
) -> float:
    """Power of each variant-vs-control comparison of a conversion rate.

    Parameters
    ----------
    n_per_variant
        Units per arm (> 1; may be fractional).
    baseline
        Control rate ``p1``, in (0, 1).
    mde
        Effect: relative (``p2 = p1 (1 + mde)``, default) or absolute (``p2 = p1 + mde``)
        with ``relative=False``; nonzero, and ``p2`` must lie in (0, 1).
    alpha, variants, alternative, correction, method
        See the module notes and :func:`sample_size_proportions`.

    Returns
    -------
    float

    Examples
    --------
    >>> round(power_proportions(14749, 0.10, 0.10), 3)
    0.8
    """
    a = _alpha_per_comparison(alpha, variants, correction)
    _check_choice(alternative, Alternative, "alternative")
    _check_choice(method, ProportionMethod, "method")
    p1, p2 = _rates(baseline, mde, relative)
    _check_n(n_per_variant)
    return _z_power(n_per_variant, *_proportion_terms(p1, p2, method), a, alternative)


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    alternative: Alternative = "two-sided",
    correction: Correction | None = "bonferroni",
    method: ProportionMethod = "unpooled",
) -> Plan:
    """Units per variant to detect a change of a conversion rate.

    Parameters
    ----------
    baseline
        Control rate, in (0, 1).
    mde
        Minimum detectable effect: relative to the baseline (default; 0.1 = +10%) or, with
        ``relative=False``, absolute (0.01 = +1 point). Nonzero; the variant rate must stay
        in (0, 1).
    relative
        How ``mde`` is expressed.
    alpha
        Family-wise significance level, in (0, 1).
    power
        Target power of each comparison, in (alpha per comparison, 1).
    variants
        Number of arms including the control, at least 2.
    alternative
        ``"two-sided"`` (default) or ``"one-sided"`` (in the direction of ``mde``).
    correction
        ``"bonferroni"`` (default: ``alpha / (variants - 1)`` per comparison) or None.
    method
        ``"unpooled"`` (default), ``"pooled"`` or ``"arcsine"``; see the module notes.

    Returns
    -------
    Plan

    Raises
    ------
    OptionError
        Any argument outside its range (the message names the range).
    """
    a = _alpha_per_comparison(alpha, variants, correction)
    _check_power(power, a)
    _check_choice(alternative, Alternative, "alternative")
    _check_choice(method, ProportionMethod, "method")
    p1, p2 = _rates(baseline, mde, relative)
    terms = _proportion_terms(p1, p2, method)
    n = _solve_n(lambda n: _z_power(n, *terms, a, alternative), power)
    return _plan("proportion", n, variants, p2 - p1, (p2 - p1) / p1, p1, None, alpha, a,
                 power, alternative, method)


def mde_proportions(
    n_per_variant: float,
    baseline: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    alternative: Alternative = "two-sided",
    correction: Correction | None = "bonferroni",
    method: ProportionMethod = "unpooled",
) -> Plan:
    """Smallest increase of a conversion rate detectable with ``n_per_variant`` units per arm.

    Returns a :class:`Plan` whose ``mde_abs`` (points) and ``mde_rel`` (relative to the
    baseline) are the solution; other parameters as in :func:`sample_size_proportions`.

    Raises
    ------
    OptionError
        Bad arguments, or no increase up to a rate of 1 reaches the power.
    """
    a = _alpha_per_comparison(alpha, variants, correction)
    _check_power(power, a)
    _check_choice(alternative, Alternative, "alternative")
    _check_choice(method, ProportionMethod, "method")
    _check_rate(baseline, "baseline")
    _check_n(n_per_variant)
    p1 = baseline

    def power_at(delta: float) -> float:
        return _z_power(n_per_variant, *_proportion_terms(p1, p1 + delta, method), a,
                        alternative)

    top = 1.0 - p1 - 1e-12
    if power_at(top) < power:
        raise OptionError(
            f"{n_per_variant!r} units per variant cannot reach power {power} for any "
            f"increase of a {baseline} baseline",
            hint="add units, lower the power or raise alpha",
        )
    delta = optimize.brentq(lambda d: power_at(d) - power, 1e-15, top, xtol=1e-15, rtol=1e-14)
    return _plan("proportion", n_per_variant, variants, delta, delta / p1, p1, None, alpha, a,
                 power, alternative, method, given_n=True)


# --------------------------------------------------------------------------------------
# Means
# --------------------------------------------------------------------------------------
def power_means(
    n_per_variant: float,
    sd: float,
    mde: float,
    *,
    relative: bool = False,
    mean: float | None = None,
    alpha: float = 0.05,
    variants: int = 2,
    alternative: Alternative = "two-sided",
    correction: Correction | None = "bonferroni",
    test: MeanTest = "t",
) -> float:
    """Power of each variant-vs-control comparison of a mean (e.g. spend per customer).

    Parameters
    ----------
    n_per_variant
        Units per arm (> 1).
    sd
        Per-unit standard deviation, the same in both arms (> 0).
    mde
        Effect in metric units, or relative to ``mean`` with ``relative=True``.
    mean
        Control mean; needed when ``relative=True``.
    test
        ``"t"`` (default, two-sample t-test, noncentral t) or ``"z"`` (normal approximation).

    Examples
    --------
    >>> round(power_means(64, 1.0, 0.5), 4)   # Cohen's d = 0.5: the classic 64 per group
    0.8015
    """
    a = _alpha_per_comparison(alpha, variants, correction)
    _check_choice(alternative, Alternative, "alternative")
    _check_choice(test, MeanTest, "test")
    delta = _mean_delta(sd, mde, relative, mean)
    _check_n(n_per_variant)
    return _mean_power(n_per_variant, delta / sd, a, alternative, test)


def sample_size_means(
    sd: float,
    mde: float,
    *,
    relative: bool = False,
    mean: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    alternative: Alternative = "two-sided",
    correction: Correction | None = "bonferroni",
    test: MeanTest = "t",
) -> Plan:
    """Units per variant to detect a change ``mde`` of a mean with per-unit sd ``sd``.

    Parameters are those of :func:`power_means` and :func:`sample_size_proportions`.

    Examples
    --------
    >>> plan = sample_size_means(40.0, 5.0, mean=50.0)   # spend: sd 40, detect +5 (10%)
    >>> plan.n_per_variant, round(plan.mde_rel, 2)
    (1006, 0.1)
    """
    a = _alpha_per_comparison(alpha, variants, correction)
    _check_power(power, a)
    _check_choice(alternative, Alternative, "alternative")
    _check_choice(test, MeanTest, "test")
    delta = _mean_delta(sd, mde, relative, mean)
    n = _solve_n(lambda n: _mean_power(n, delta / sd, a, alternative, test), power)
    rel = delta / mean if mean else None
    return _plan("mean", n, variants, delta, rel, mean, sd, alpha, a, power, alternative, test)


def mde_means(
    n_per_variant: float,
    sd: float,
    *,
    mean: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    alternative: Alternative = "two-sided",
    correction: Correction | None = "bonferroni",
    test: MeanTest = "t",
) -> Plan:
    """Smallest change of a mean detectable with ``n_per_variant`` units per arm.

    ``mde_rel`` is filled when the control ``mean`` is given.
    """
    a = _alpha_per_comparison(alpha, variants, correction)
    _check_power(power, a)
    _check_choice(alternative, Alternative, "alternative")
    _check_choice(test, MeanTest, "test")
    _check_positive(sd, "sd")
    _check_n(n_per_variant)
    if mean is not None and not math.isfinite(mean):
        raise OptionError(f"mean must be finite, got {mean!r}")

    def gap(d: float) -> float:
        return _mean_power(n_per_variant, d, a, alternative, test) - power

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
    d = optimize.brentq(gap, 0.0, hi, xtol=1e-15, rtol=1e-14)
    delta = d * sd
    rel = delta / mean if mean else None
    return _plan("mean", n_per_variant, variants, delta, rel, mean, sd, alpha, a, power,
                 alternative, test, given_n=True)


# --------------------------------------------------------------------------------------
# Duration
# --------------------------------------------------------------------------------------
def duration_days(
    n_per_variant: int, daily_traffic: float, variants: int = 2, share: float = 1.0
) -> int:
    """Whole days until every arm has ``n_per_variant`` units.

    ``daily_traffic`` new eligible units a day, of which ``share`` (in (0, 1]) enter the
    experiment, split equally over ``variants`` arms: ``ceil(n · variants / (traffic ·
    share))``. Round up to whole weeks yourself if weekly cycles matter.

    Examples
    --------
    >>> duration_days(14749, daily_traffic=5000, variants=3, share=0.5)
    18
    """
    _check_variants(variants)
    _check_positive(daily_traffic, "daily_traffic")
    if not (0.0 < share <= 1.0):
        raise OptionError(f"share must be in (0, 1], got {share!r}")
    if not (n_per_variant >= 1 and math.isfinite(n_per_variant)):
        raise OptionError(f"n_per_variant must be >= 1, got {n_per_variant!r}")
    days = n_per_variant * variants / (daily_traffic * share)
    if not days <= _MAX_DAYS:  # also inf/nan: a subnormal traffic overflows the division
        raise OptionError(
            f"at {daily_traffic:g} units a day ({share:g} in the test) the test would need "
            f"more than {_MAX_DAYS:,} days ({_MAX_DAYS // 365} years)",
            hint="check daily_traffic: eligible units per day, e.g. 2000")
    # a hair below whole numbers must not add a day; at least one day
    return max(1, math.ceil(days - 1e-9))


# --------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------
def _proportion_terms(p1: float, p2: float, method: str) -> tuple[float, float, float]:
    """(|effect|, σ0, σ1) per unit for a method (see the module table)."""
    var1 = p1 * (1 - p1) + p2 * (1 - p2)
    if method == "unpooled":
        return abs(p2 - p1), math.sqrt(var1), math.sqrt(var1)
    if method == "pooled":
        pbar = (p1 + p2) / 2
        return abs(p2 - p1), math.sqrt(2 * pbar * (1 - pbar)), math.sqrt(var1)
    h = 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))
    return abs(h), math.sqrt(2.0), math.sqrt(2.0)


def _z_power(n: float, effect: float, sd0: float, sd1: float, a: float, alternative: str) -> float:
    """Normal-approximation power (both tails when two-sided)."""
    two = alternative == "two-sided"
    crit = stats.norm.isf(a / 2 if two else a)
    root = math.sqrt(n)
    power = stats.norm.cdf((effect * root - crit * sd0) / sd1)
    if two:
        power += stats.norm.cdf((-effect * root - crit * sd0) / sd1)
    return float(power)


def _mean_power(n: float, d: float, a: float, alternative: str, test: str) -> float:
    """Power for standardized effect ``d`` (= delta / sd)."""
    if test == "z":
        return _z_power(n, abs(d), math.sqrt(2.0), math.sqrt(2.0), a, alternative)
    two = alternative == "two-sided"
    df = 2 * n - 2
    nc = abs(d) * math.sqrt(n / 2)
    crit = stats.t.isf(a / 2 if two else a, df)
    power = stats.nct.sf(crit, df, nc)
    if math.isnan(power):
        # scipy's noncentral t gives NaN for enormous effects (nc ~ 1e9); there T ≈ Z + nc
        # far above any critical value, and the normal approximation is exact enough
        power = stats.norm.sf(crit - nc)
    if two:
        wrong_way = stats.nct.cdf(-crit, df, nc)
        # scipy's nctdtr gives NaN deep in the lower tail (nc >= ~8); there the probability
        # is below P(Z < -nc) = Φ(-8) ≈ 6e-16, since T < 0 needs Z < -nc.
        power += 0.0 if math.isnan(wrong_way) else wrong_way
    return float(power)


def _solve_n(power_of: Callable[[float], float], target: float) -> float:
    """Smallest n in [2, 1e13] with power_of(n) = target (power increases with n)."""
    if power_of(_MIN_N) >= target:
        return _MIN_N
    hi = 1e3
    while power_of(hi) < target:
        if hi >= _MAX_N:
            raise OptionError(
                "the effect is too small to detect with any realistic sample (over 1e13 "
                "units per variant)",
                hint="plan for a larger minimum detectable effect",
            )
        hi = min(hi * 10, _MAX_N)
    return float(optimize.brentq(lambda n: power_of(n) - target, _MIN_N, hi,
                                 xtol=1e-10, rtol=1e-15))


def _plan(
    metric: str, n: float, variants: int, mde_abs: float, mde_rel: float | None,
    baseline: float | None, sd: float | None, alpha: float, a: float, power: float,
    alternative: str, method: str, *, given_n: bool = False,
) -> Plan:
    n_int = max(math.ceil(n - (0 if given_n else 1e-9)), int(_MIN_N))
    return Plan(
        metric=metric, n_per_variant=n_int, n_exact=float(n), variants=variants,
        total=n_int * variants, mde_abs=float(mde_abs),
        # a subnormal baseline makes the relative effect overflow: undefined, not infinite
        mde_rel=None if mde_rel is None or not math.isfinite(mde_rel) else float(mde_rel),
        baseline=baseline, sd=sd,
        alpha=alpha, alpha_per_comparison=a, power=power, alternative=alternative,
        method=method,
    )


def _alpha_per_comparison(alpha: float, variants: int, correction: str | None) -> float:
    if not (0.0 < alpha < 1.0):
        raise OptionError(f"alpha must be in (0, 1), got {alpha!r}", hint="e.g. alpha=0.05")
    _check_variants(variants)
    if correction is None:
        return alpha
    _check_choice(correction, Correction, "correction")
    return alpha / (variants - 1)


def _check_variants(variants: int) -> None:
    if isinstance(variants, bool) or not isinstance(variants, int) or variants < 2:
        raise OptionError(
            f"variants must be an integer >= 2 (control included), got {variants!r}"
        )


def _check_power(power: float, a: float) -> None:
    if not (a < power < 1.0):
        raise OptionError(
            f"power must be in ({a:g}, 1) (above the per-comparison alpha), got {power!r}",
            hint="e.g. power=0.8",
        )


def _check_choice(value: str, options: Any, name: str) -> None:
    accepted = get_args(options)
    if value not in accepted:
        raise OptionError(
            f"unknown {name} {value!r}; accepted: {', '.join(map(repr, accepted))}"
        )


def _check_rate(p: float, name: str) -> None:
    if not (0.0 < p < 1.0):
        raise OptionError(f"{name} must be a rate in (0, 1), got {p!r}")


def _check_positive(v: float, name: str) -> None:
    if not (v > 0 and math.isfinite(v)):
        raise OptionError(f"{name} must be a positive finite number, got {v!r}")


def _check_n(n: float) -> None:
    if not (n > 1 and math.isfinite(n)):
        raise OptionError(f"n_per_variant must be > 1, got {n!r}")
    if n > _MAX_N:  # the solvers' range; beyond it their brackets do not hold
        raise OptionError(f"n_per_variant must be at most {_MAX_N:g}, got {n!r}")


def _rates(baseline: float, mde: float, relative: bool) -> tuple[float, float]:
    _check_rate(baseline, "baseline")
    if not (mde != 0 and math.isfinite(mde)):
        raise OptionError(f"mde must be a nonzero finite number, got {mde!r}")
    p2 = baseline * (1 + mde) if relative else baseline + mde
    if not (0.0 < p2 < 1.0):
        kind = "relative" if relative else "absolute"
        raise OptionError(
            f"a {kind} mde of {mde!r} on a baseline of {baseline!r} gives a variant rate of "
            f"{p2!r}, outside (0, 1)",
            hint="relative=True: p2 = baseline * (1 + mde); relative=False: p2 = baseline + mde",
        )
    return baseline, p2


def _mean_delta(sd: float, mde: float, relative: bool, mean: float | None) -> float:
    _check_positive(sd, "sd")
    if not (mde != 0 and math.isfinite(mde)):
        raise OptionError(f"mde must be a nonzero finite number, got {mde!r}")
    if mean is not None and not math.isfinite(mean):
        raise OptionError(f"mean must be finite, got {mean!r}")
    if not relative:
        return abs(mde)
    if not mean:
        raise OptionError(
            "a relative mde needs the control mean: pass mean=... (nonzero)",
            hint="or give the mde in metric units with relative=False",
        )
    delta = abs(mde * mean)
    if not 0 < delta < math.inf:  # 1e300 x 1e300, or a subnormal product
        raise OptionError(f"a relative mde of {mde:g} on a mean of {mean:g} is not a usable "
                          "effect", hint="give the mde in metric units with relative=False")
    return delta
