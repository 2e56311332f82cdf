"""Frequentist statistics for A/B tests, computed on sufficient statistics.

The engine aggregates each variant of an experiment to a handful of numbers (units, sums,
sums of squares and cross-products); this module turns them into comparisons. Nothing here
sees a row, except :func:`bootstrap_mean_diff` (which needs one value per unit) and the
capping helpers, which state on arrays the rule that the engine applies in SQL.

Statistic objects are frozen and can be added (``a + b``) to pool days, segments or arms.

====================  =====================================================================
object                what it summarises (one variant)
====================  =====================================================================
:class:`ProportionStats`  a binary metric: ``n`` units, ``x`` of them with the outcome
:class:`MeanStats`    a per-unit metric: ``n``, ``sum``, ``sum_sq``
:class:`RatioStats`   a ratio of sums over units, e.g. AOV = revenue / orders: numerator
                      ``x`` and denominator ``y`` per unit, their sums, squares and product
:class:`CupedStats`   a per-unit metric ``y`` with a pre-period covariate ``x``
====================  =====================================================================

Every comparison returns a :class:`Comparison` (variant minus control). Data that are legal
but cannot be analysed (an empty arm, no variance) give a :class:`Comparison` whose
``error`` holds a stable code from :data:`ERROR_CODES` and whose inferential fields are NaN;
impossible inputs (a negative count, more successes than units, an unknown option) raise
:class:`~shopscope.errors.OptionError`. Formulas and references are in
``docs/experiments/stats.md``.

Examples
--------
>>> c, t = ProportionStats(n=1000, x=100), ProportionStats(n=1000, x=130)
>>> r = compare_proportions(c, t, metric="conversion")
>>> round(r.abs_lift, 3), round(r.p_value, 4)
(0.03, 0.0355)
>>> [round(v, 4) for v in r.abs_ci]
[0.002, 0.0581]
>>> compare_proportions(ProportionStats(0, 0), t).error
'empty'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
from scipy import special

from shopscope.errors import OptionError

__all__ = [
    "ERROR_CODES",
    "Comparison",
    "CupedStats",
    "MeanStats",
    "ProportionStats",
    "RatioStats",
    "SrmResult",
    "bootstrap_mean_diff",
    "cap_ratio_values",
    "cap_values",
    "compare_means",
    "compare_proportions",
    "compare_ratios",
    "cuped",
    "srm_check",
    "wilson_interval",
    "winsorize_limits",
]

Interval = Literal["newcombe", "wald"]
ThetaPooling = Literal["within", "total"]

#: Stable codes in :attr:`Comparison.error`.
ERROR_CODES: Mapping[str, str] = MappingProxyType(
    {
        "empty": "an arm has no units",
        "too_few_units": "an arm has fewer than 2 units, so its variance is undefined",
        "zero_variance": "the difference has no sampling variance (e.g. every unit equal)",
        "zero_denominator": "a ratio metric's denominator sums to zero in an arm",
    }
)


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------
def _count(value: object, name: str) -> int:
    """A non-negative whole number (numpy integers and integral floats accepted)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(
            f"{name} must be a whole number, got {value!r}", "pass a count of units"
        ) from None
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise OptionError(
            f"{name} must be a whole number >= 0, got {value!r}",
            "counts come from COUNT(*) / SUM(flag); check the aggregation",
        )
    return int(number)


def _finite(value: object, name: str) -> float:
    """A finite float."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise OptionError(
            f"{name} must be finite, got {value!r}", "drop or fill missing values before summing"
        )
    return number


def _check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise OptionError(f"alpha must be in (0, 1), got {alpha!r}", "use e.g. alpha=0.05")
    return float(alpha)


def _central_ss(n: int, total: float, total_sq: float, name: str) -> float:
    """Sum of squared deviations from the mean, ``Σ(v − v̄)²``, from raw sums.

    Rounding can make a true zero slightly negative; a clearly negative value means the
    sums do not belong together.
    """
    if n == 0:
        return 0.0
    ss = total_sq - total * total / n
    if ss < 0:
        if ss < -1e-9 * max(abs(total_sq), 1.0):
            raise OptionError(
                f"{name}: the sum of squares is smaller than sum²/n, which no data can give",
                "pass the sum of squared values, not the square of the sum",
            )
        ss = 0.0
    return ss


def _z(alpha: float) -> float:
    return float(special.ndtri(1.0 - alpha / 2.0))


def _p_normal(z: float) -> float:
    return float(2.0 * special.ndtr(-abs(z)))


def _p_t(t: float, df: float) -> float:
    return float(2.0 * special.stdtr(df, -abs(t)))


def _as_array(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise OptionError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise OptionError(
            f"{name} contains NaN or infinite values", "fill missing per-unit values with 0"
        )
    return arr


# --------------------------------------------------------------------------------------
# Sufficient statistics
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProportionStats:
    """One variant of a binary metric: ``n`` units, ``x`` of them with the outcome.

    Raises
    ------
    OptionError
        When ``n`` or ``x`` is negative or not whole, or ``x > n``.

    Examples
    --------
    >>> ProportionStats(n=10, x=3) + ProportionStats(n=30, x=5)
    ProportionStats(n=40, x=8)
    >>> ProportionStats(n=10, x=11)
    Traceback (most recent call last):
    ...
    shopscope.errors.OptionError: x (11) cannot exceed n (10)
    """

    n: int
    x: int

    def __post_init__(self) -> None:
        n, x = _count(self.n, "n"), _count(self.x, "x")
        if x > n:
            raise OptionError(
                f"x ({x}) cannot exceed n ({n})", "x counts units with the outcome among n units"
            )
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "x", x)

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return ProportionStats(self.n + other.n, self.x + other.x)

    @property
    def rate(self) -> float:
        """``x / n`` (NaN when there are no units)."""
        return self.x / self.n if self.n else math.nan

    @classmethod
    def from_values(cls, values: object) -> ProportionStats:
        """From one 0/1 (or boolean) value per unit."""
        arr = _as_array(values, "values")
        if not np.all((arr == 0) | (arr == 1)):
            raise OptionError("values of a binary metric must be 0 or 1")
        return cls(n=arr.size, x=int(arr.sum()))


@dataclass(frozen=True)
class MeanStats:
    """One variant of a per-unit metric: ``n`` units, ``sum`` and ``sum_sq`` of the values.

    Examples
    --------
    >>> s = MeanStats.from_values([1.0, 2.0, 6.0])
    >>> s.mean, s.var
    (3.0, 7.0)
    >>> (s + MeanStats(n=1, sum=3.0, sum_sq=9.0)).mean
    3.0
    """

    n: int
    sum: float
    sum_sq: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _count(self.n, "n"))
        object.__setattr__(self, "sum", _finite(self.sum, "sum"))
        object.__setattr__(self, "sum_sq", _finite(self.sum_sq, "sum_sq"))
        _central_ss(self.n, self.sum, self.sum_sq, "MeanStats")

    def __add__(self, other: MeanStats) -> MeanStats:
        return MeanStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float:
        """Mean per unit (NaN without units)."""
        return self.sum / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        """Sample variance (``ddof=1``; NaN with fewer than 2 units)."""
        if self.n < 2:
            return math.nan
        return _central_ss(self.n, self.sum, self.sum_sq, "MeanStats") / (self.n - 1)

    @classmethod
    def from_values(cls, values: object) -> MeanStats:
        """From one value per unit."""
        arr = _as_array(values, "values")
        return cls(n=arr.size, sum=float(arr.sum()), sum_sq=float(arr @ arr))


@dataclass(frozen=True)
class RatioStats:
    """One variant of a ratio metric ``Σx / Σy`` over units (delta method).

    ``x`` is the per-unit **numerator** and ``y`` the per-unit **denominator**: for AOV with
    customers as units, ``x`` = a customer's revenue and ``y`` = their number of orders; for
    revenue per session, ``y`` = their sessions.

    Examples
    --------
    >>> s = RatioStats.from_values(numerator=[30.0, 0.0, 50.0], denominator=[2, 0, 1])
    >>> s.ratio
    26.666666666666668
    """

    n: int
    sum_x: float
    sum_y: float
    sum_xx: float
    sum_yy: float
    sum_xy: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _count(self.n, "n"))
        for name in ("sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        _central_ss(self.n, self.sum_x, self.sum_xx, "RatioStats numerator")
        _central_ss(self.n, self.sum_y, self.sum_yy, "RatioStats denominator")

    def __add__(self, other: RatioStats) -> RatioStats:
        return RatioStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def ratio(self) -> float:
        """``Σx / Σy`` (NaN when ``Σy = 0``)."""
        return self.sum_x / self.sum_y if self.sum_y else math.nan

    @classmethod
    def from_values(cls, numerator: object, denominator: object) -> RatioStats:
        """From the numerator and denominator of each unit (same length, same order)."""
        x, y = _as_array(numerator, "numerator"), _as_array(denominator, "denominator")
        if x.shape != y.shape:
            raise OptionError("numerator and denominator must have one value per unit each")
        return cls(x.size, float(x.sum()), float(y.sum()), float(x @ x), float(y @ y), float(x @ y))


@dataclass(frozen=True)
class CupedStats:
    """One variant of a per-unit metric ``y`` with a pre-period covariate ``x`` (CUPED).

    ``x`` is usually the same metric in the weeks before the experiment (0 for units not
    seen then). Examples are in :func:`cuped`.
    """

    n: int
    sum_y: float
    sum_yy: float
    sum_x: float
    sum_xx: float
    sum_xy: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _count(self.n, "n"))
        for name in ("sum_y", "sum_yy", "sum_x", "sum_xx", "sum_xy"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        _central_ss(self.n, self.sum_y, self.sum_yy, "CupedStats metric")
        _central_ss(self.n, self.sum_x, self.sum_xx, "CupedStats covariate")

    def __add__(self, other: CupedStats) -> CupedStats:
        return CupedStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def metric(self) -> MeanStats:
        """The metric alone, without the covariate."""
        return MeanStats(self.n, self.sum_y, self.sum_yy)

    @classmethod
    def from_values(cls, y: object, x: object) -> CupedStats:
        """From the metric ``y`` and covariate ``x`` of each unit."""
        ya, xa = _as_array(y, "y"), _as_array(x, "x")
        if ya.shape != xa.shape:
            raise OptionError("y and x must have one value per unit each")
        return cls(
            ya.size, float(ya.sum()), float(ya @ ya), float(xa.sum()), float(xa @ xa),
            float(xa @ ya),
        )


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """One variant against the control on one metric.

    ``abs_lift`` is variant minus control; ``rel_lift`` is variant / control − 1 (``None``
    when the control value is not positive). Intervals are two-sided at level ``1 − alpha``.
    ``p_value`` tests "no difference". ``adjusted_p_value`` is filled in by
    :func:`shopscope.experiments.multiple.adjust`. ``extra`` holds method-specific numbers
    (test statistic, degrees of freedom, CUPED ``theta`` and ``variance_reduction``…).
    When ``error`` is set (a code from :data:`ERROR_CODES`) the inferential fields are NaN.
    """

    metric: str
    variant: str
    control: str
    control_value: float
    variant_value: float
    abs_lift: float
    abs_ci: tuple[float, float]
    rel_lift: float | None
    rel_ci: tuple[float, float] | None
    p_value: float
    method: str
    adjusted_p_value: float | None = None
    extra: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the (adjusted, when set) p-value is below ``alpha``."""
        p = self.p_value if self.adjusted_p_value is None else self.adjusted_p_value
        return self.error is None and p < alpha

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (NaN becomes ``None``)."""

        def clean(v: object) -> object:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, tuple):
                return [clean(u) for u in v]
            if isinstance(v, Mapping):
                return {k: clean(u) for k, u in v.items()}
            return v

        return {f.name: clean(getattr(self, f.name)) for f in fields(self)}


_NAN_CI = (math.nan, math.nan)


def _failed(
    code: str, method: str, names: tuple[str, str, str], c_value: float, t_value: float
) -> Comparison:
    metric, control, variant = names
    return Comparison(
        metric=metric, variant=variant, control=control, control_value=c_value,
        variant_value=t_value, abs_lift=t_value - c_value, abs_ci=_NAN_CI, rel_lift=None,
        rel_ci=None, p_value=math.nan, method=method, error=code,
    )


def _relative(
    c_value: float, t_value: float, var_c: float, var_t: float, z: float
) -> tuple[float | None, tuple[float, float] | None]:
    """Relative lift ``t/c − 1`` and its delta-method interval (Deng et al. 2018).

    ``var_c`` and ``var_t`` are the sampling variances of the two arm estimates, taken as
    independent: Var(t/c) ≈ var_t / c² + t² var_c / c⁴.
    """
    if not c_value > 0:
        return None, None
    rel = t_value / c_value - 1.0
    se = math.sqrt(var_t / c_value**2 + t_value**2 * var_c / c_value**4)
    return rel, (rel - z * se, rel + z * se)


# --------------------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------------------
def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``x / n``.

    Parameters
    ----------
    x, n
        Units with the outcome, and units.
    alpha
        1 − confidence level.

    Returns
    -------
    tuple of float
        ``(low, high)``, inside [0, 1]; ``(nan, nan)`` when ``n = 0``.

    Raises
    ------
    OptionError
        On a negative count, ``x > n`` or ``alpha`` outside (0, 1).

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *JASA* 22(158), 209–212.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(8, 40)]
    [0.105, 0.3476]
    """
    s = ProportionStats(n=n, x=x)
    alpha = _check_alpha(alpha)
    if s.n == 0:
        return _NAN_CI
    z = _z(alpha)
    z2 = z * z
    centre = (s.x + z2 / 2.0) / (s.n + z2)
    half = z / (s.n + z2) * math.sqrt(s.x * (s.n - s.x) / s.n + z2 / 4.0)
    return max(0.0, centre - half), min(1.0, centre + half)


def compare_proportions(
    c: ProportionStats,
    t: ProportionStats,
    *,
    alpha: float = 0.05,
    interval: Interval = "newcombe",
    metric: str = "metric",
    control_name: str = "control",
    variant_name: str = "treatment",
) -> Comparison:
    """Compare two proportions: pooled two-proportion z-test, Newcombe (or Wald) interval.

    The p-value uses the standard error under the null (pooled rate), which is what
    ``statsmodels.stats.proportion.proportions_ztest`` computes. The interval for the
    difference is Newcombe's hybrid score interval (method 10), built from each arm's
    Wilson interval: it stays inside [−1, 1] and keeps its coverage for rare outcomes where
    the Wald interval (``interval="wald"``) is too narrow. The relative lift interval is
    the delta method on the log of the risk ratio (Katz log interval), mapped back by
    ``exp(·) − 1``; it is ``None`` when either arm has no successes.

    Parameters
    ----------
    c, t
        Control and variant.
    alpha
        1 − confidence level of the intervals.
    interval
        ``"newcombe"`` (default) or ``"wald"`` (unpooled normal interval).
    metric, control_name, variant_name
        Labels copied into the result.

    Returns
    -------
    Comparison
        ``method`` is ``"z_pooled/newcombe"`` or ``"z_pooled/wald"``; ``extra`` has the z
        statistic ``z`` and each arm's Wilson interval (``control_low`` … ``variant_high``).
        ``error`` is ``"empty"`` when an arm has no units and ``"zero_variance"`` when the
        pooled rate is 0 or 1.

    Raises
    ------
    OptionError
        On an unknown ``interval`` or ``alpha`` outside (0, 1).

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. *Statistics in Medicine* 17, 873–890.
    Katz, D. et al. (1978). Obtaining confidence intervals for the risk ratio in cohort
    studies. *Biometrics* 34, 469–474.

    Examples
    --------
    >>> r = compare_proportions(ProportionStats(2000, 200), ProportionStats(2000, 240))
    >>> round(r.rel_lift, 3), [round(v, 3) for v in r.rel_ci]
    (0.2, [0.005, 0.433])
    """
    alpha = _check_alpha(alpha)
    if interval not in get_args(Interval):
        raise OptionError(
            f"unknown interval {interval!r}", f"use one of {', '.join(get_args(Interval))}"
        )
    method = f"z_pooled/{interval}"
    names = (metric, control_name, variant_name)
    if c.n == 0 or t.n == 0:
        return _failed("empty", method, names, c.rate, t.rate)
    pc, pt = c.rate, t.rate
    pooled = (c.x + t.x) / (c.n + t.n)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / c.n + 1.0 / t.n))
    if se0 == 0.0:
        return _failed("zero_variance", method, names, pc, pt)
    diff = pt - pc
    stat = diff / se0
    z = _z(alpha)
    lc, uc = wilson_interval(c.x, c.n, alpha)
    lt, ut = wilson_interval(t.x, t.n, alpha)
    if interval == "newcombe":
        ci = (
            diff - math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2),
            diff + math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2),
        )
    else:
        se = math.sqrt(pc * (1 - pc) / c.n + pt * (1 - pt) / t.n)
        ci = (diff - z * se, diff + z * se)
    rel: float | None = None
    rel_ci: tuple[float, float] | None = None
    if c.x > 0:
        rel = pt / pc - 1.0
        if t.x > 0:
            se_log = math.sqrt((1 - pt) / t.x + (1 - pc) / c.x)
            log_rr = math.log(pt / pc)
            rel_ci = (math.expm1(log_rr - z * se_log), math.expm1(log_rr + z * se_log))
    return Comparison(
        metric=metric, variant=variant_name, control=control_name, control_value=pc,
        variant_value=pt, abs_lift=diff, abs_ci=ci, rel_lift=rel, rel_ci=rel_ci,
        p_value=_p_normal(stat), method=method,
        extra={"z": stat, "control_low": lc, "control_high": uc, "variant_low": lt,
               "variant_high": ut},
    )


# --------------------------------------------------------------------------------------
# Means, ratios, CUPED
# --------------------------------------------------------------------------------------
def compare_means(
    c: MeanStats,
    t: MeanStats,
    *,
    alpha: float = 0.05,
    metric: str = "metric",
    control_name: str = "control",
    variant_name: str = "treatment",
) -> Comparison:
    """Compare two means with Welch's t-test (unequal variances).

    The difference's interval uses Student's t with Welch–Satterthwaite degrees of
    freedom, as ``scipy.stats.ttest_ind(equal_var=False)``. The relative lift interval is
    the delta method with a normal quantile (Deng et al. 2018); it is ``None`` when the
    control mean is not positive.

    Parameters
    ----------
    c, t
        Control and variant.
    alpha
        1 − confidence level.
    metric, control_name, variant_name
        Labels copied into the result.

    Returns
    -------
    Comparison
        ``method="welch_t"``; ``extra`` has ``t``, ``df`` and ``se``. ``error`` is
        ``"empty"``, ``"too_few_units"`` (an arm with one unit) or ``"zero_variance"``.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34, 28–35.

    Examples
    --------
    >>> c = MeanStats.from_values([10.0, 12.0, 9.0, 11.0])
    >>> t = MeanStats.from_values([12.0, 14.0, 11.0, 15.0, 13.0])
    >>> r = compare_means(c, t)
    >>> round(r.abs_lift, 2), round(r.extra["df"], 2), round(r.p_value, 4)
    (2.5, 6.98, 0.0349)
    """
    alpha = _check_alpha(alpha)
    return _welch(c, t, alpha, "welch_t", (metric, control_name, variant_name))


def _welch(
    c: MeanStats, t: MeanStats, alpha: float, method: str, names: tuple[str, str, str]
) -> Comparison:
    metric, control, variant = names
    if c.n == 0 or t.n == 0:
        return _failed("empty", method, names, c.mean, t.mean)
    if c.n < 2 or t.n < 2:
        return _failed("too_few_units", method, names, c.mean, t.mean)
    vc, vt = c.var / c.n, t.var / t.n
    se2 = vc + vt
    if se2 <= 0.0:
        return _failed("zero_variance", method, names, c.mean, t.mean)
    se = math.sqrt(se2)
    df = se2 * se2 / (vc * vc / (c.n - 1) + vt * vt / (t.n - 1))
    diff = t.mean - c.mean
    stat = diff / se
    q = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    rel, rel_ci = _relative(c.mean, t.mean, vc, vt, _z(alpha))
    return Comparison(
        metric=metric, variant=variant, control=control, control_value=c.mean,
        variant_value=t.mean, abs_lift=diff, abs_ci=(diff - q * se, diff + q * se),
        rel_lift=rel, rel_ci=rel_ci, p_value=_p_t(stat, df), method=method,
        extra={"t": stat, "df": df, "se": se},
    )


def _ratio_moments(s: RatioStats) -> tuple[float, float]:
    """The ratio and its delta-method sampling variance for one arm."""
    n = s.n
    mx, my = s.sum_x / n, s.sum_y / n
    vx = _central_ss(n, s.sum_x, s.sum_xx, "numerator") / (n - 1)
    vy = _central_ss(n, s.sum_y, s.sum_yy, "denominator") / (n - 1)
    cxy = (s.sum_xy - s.sum_x * s.sum_y / n) / (n - 1)
    r = mx / my
    var = (vx - 2.0 * r * cxy + r * r * vy) / (n * my * my)
    return r, max(var, 0.0)


def compare_ratios(
    c: RatioStats,
    t: RatioStats,
    *,
    alpha: float = 0.05,
    metric: str = "metric",
    control_name: str = "control",
    variant_name: str = "treatment",
) -> Comparison:
    """Compare ratio metrics ``Σx / Σy`` (AOV, revenue per session…) with the delta method.

    The randomisation unit (customer, visitor) is not the unit of the ratio's denominator
    (order, session), so orders of one customer are not independent; the delta method
    takes the unit-level covariance of numerator and denominator into account:
    ``Var(R) ≈ (s²_x − 2 R s_xy + R² s²_y) / (n ȳ²)`` per arm, with sample (co)variances.
    Difference and relative lift use normal quantiles.

    Returns
    -------
    Comparison
        ``method="delta_z"``; ``extra`` has ``z`` and ``se``. ``error`` is ``"empty"``,
        ``"too_few_units"``, ``"zero_denominator"`` or ``"zero_variance"``.

    References
    ----------
    Deng, A., Knoblich, U. & Lu, J. (2018). Applying the delta method in metric analytics:
    a practical guide with novel ideas. *KDD 2018*, 233–242.

    Examples
    --------
    >>> c = RatioStats.from_values([30.0, 60.0, 0.0, 45.0], [1, 2, 0, 1])
    >>> t = RatioStats.from_values([50.0, 40.0, 90.0, 20.0], [1, 1, 2, 1])
    >>> r = compare_ratios(c, t, metric="aov")
    >>> r.control_value, r.variant_value, r.abs_lift
    (33.75, 40.0, 6.25)
    """
    alpha = _check_alpha(alpha)
    method = "delta_z"
    names = (metric, control_name, variant_name)
    if c.n == 0 or t.n == 0:
        return _failed("empty", method, names, c.ratio, t.ratio)
    if c.sum_y == 0 or t.sum_y == 0:
        return _failed("zero_denominator", method, names, c.ratio, t.ratio)
    if c.n < 2 or t.n < 2:
        return _failed("too_few_units", method, names, c.ratio, t.ratio)
    rc, var_c = _ratio_moments(c)
    rt, var_t = _ratio_moments(t)
    se2 = var_c + var_t
    if se2 <= 0.0:
        return _failed("zero_variance", method, names, rc, rt)
    se = math.sqrt(se2)
    diff = rt - rc
    z = _z(alpha)
    rel, rel_ci = _relative(rc, rt, var_c, var_t, z)
    return Comparison(
        metric=metric, variant=variant_name, control=control_name, control_value=rc,
        variant_value=rt, abs_lift=diff, abs_ci=(diff - z * se, diff + z * se),
        rel_lift=rel, rel_ci=rel_ci, p_value=_p_normal(diff / se), method=method,
        extra={"z": diff / se, "se": se},
    )


def cuped(
    c: CupedStats,
    t: CupedStats,
    *,
    alpha: float = 0.05,
    theta_pooling: ThetaPooling = "within",
    metric: str = "metric",
    control_name: str = "control",
    variant_name: str = "treatment",
) -> Comparison:
    """Compare means after removing the part of the metric explained by a pre-period covariate.

    Each unit's metric becomes ``y − θ (x − x̄)``, with ``x̄`` the covariate's mean over
    both arms and one ``θ`` for both arms, then the adjusted means are compared with
    Welch's t (θ treated as known). Because ``x`` was measured before assignment, the
    adjustment does not bias the difference; it removes the share ρ² of the variance that
    the covariate explains.

    ``theta_pooling="within"`` (default) takes ``θ = Σ_arms S_xy / Σ_arms S_xx`` with
    deviations from each arm's own means: the estimate is then exactly the treatment
    coefficient of the regression ``y ~ 1 + treatment + (x − x̄)`` (common slope, OLS), and a
    treatment effect on ``y`` cannot leak into θ. ``"total"`` takes cov/var over all units
    ignoring arms, as in Deng et al. (2013); the two agree asymptotically.

    Returns
    -------
    Comparison
        ``method="cuped_welch_t"``; ``control_value``/``variant_value`` are the adjusted
        means; ``extra`` has ``theta``, ``variance_reduction`` (1 − adjusted variance of the
        difference / unadjusted variance), ``unadjusted_abs_lift``, ``unadjusted_se``,
        ``t``, ``df`` and ``se``. Error codes as :func:`compare_means`. A constant covariate
        gives ``θ = 0`` (no adjustment).

    References
    ----------
    Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data. *WSDM 2013*, 123–132.

    Examples
    --------
    >>> c = CupedStats.from_values(y=[10.0, 14.0, 9.0, 15.0], x=[9.0, 13.0, 9.0, 14.0])
    >>> t = CupedStats.from_values(y=[13.0, 16.0, 12.0, 18.0], x=[10.0, 13.0, 9.0, 15.0])
    >>> r = cuped(c, t)
    >>> round(r.extra["theta"], 4), round(r.abs_lift, 4), r.extra["variance_reduction"] > 0.9
    (1.0517, 2.2241, True)
    """
    alpha = _check_alpha(alpha)
    if theta_pooling not in get_args(ThetaPooling):
        raise OptionError(
            f"unknown theta_pooling {theta_pooling!r}",
            f"use one of {', '.join(get_args(ThetaPooling))}",
        )
    method = "cuped_welch_t"
    names = (metric, control_name, variant_name)
    if c.n == 0 or t.n == 0 or c.n < 2 or t.n < 2:
        return _welch(c.metric, t.metric, alpha, method, names)
    if theta_pooling == "within":
        sxy = sum(s.sum_xy - s.sum_x * s.sum_y / s.n for s in (c, t))
        sxx = sum(_central_ss(s.n, s.sum_x, s.sum_xx, "covariate") for s in (c, t))
    else:
        p = c + t
        sxy = p.sum_xy - p.sum_x * p.sum_y / p.n
        sxx = _central_ss(p.n, p.sum_x, p.sum_xx, "covariate")
    theta = sxy / sxx if sxx > 0 else 0.0
    x_bar = (c.sum_x + t.sum_x) / (c.n + t.n)
    adjusted = [_adjust(s, theta, x_bar) for s in (c, t)]
    out = _welch(adjusted[0], adjusted[1], alpha, method, names)
    raw_c, raw_t = c.metric, t.metric
    raw_se2 = raw_c.var / raw_c.n + raw_t.var / raw_t.n
    adj_se2 = out.extra.get("se", math.nan) ** 2
    extra = dict(out.extra)
    extra.update(
        theta=theta,
        unadjusted_abs_lift=raw_t.mean - raw_c.mean,
        unadjusted_se=math.sqrt(raw_se2),
        variance_reduction=1.0 - adj_se2 / raw_se2 if raw_se2 > 0 else math.nan,
    )
    return replace(out, extra=extra)


def _adjust(s: CupedStats, theta: float, x_bar: float) -> MeanStats:
    """Sums of ``y − θx + θx̄`` from the raw sums, without the units."""
    a = theta * x_bar
    total = s.sum_y - theta * s.sum_x + s.n * a
    total_sq = (
        s.sum_yy + theta * theta * s.sum_xx + s.n * a * a
        - 2.0 * theta * s.sum_xy + 2.0 * a * s.sum_y - 2.0 * a * theta * s.sum_x
    )
    # Rounding must not turn a tiny variance into an inconsistent MeanStats.
    total_sq = max(total_sq, total * total / s.n)
    return MeanStats(s.n, total, total_sq)


# --------------------------------------------------------------------------------------
# Sample ratio mismatch
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SrmResult:
    """Chi-square goodness-of-fit test of the observed split against the planned one.

    ``mismatch`` is true when ``p_value < threshold``: then the assignment or the logging is
    broken (bots, redirects, a variant that crashes) and no metric of the experiment can be
    trusted, however significant. ``message`` says so in one sentence.
    """

    statistic: float
    df: int
    p_value: float
    mismatch: bool
    message: str
    observed: Mapping[str, int]
    expected: Mapping[str, float]
    threshold: float
    error: str | None = None


def srm_check(
    counts: Mapping[str, int], expected: Mapping[str, float], *, threshold: float = 0.001
) -> SrmResult:
    """Sample-ratio-mismatch check: are the units split as planned?

    Parameters
    ----------
    counts
        Units assigned to each variant.
    expected
        Planned shares (any positive weights; normalised to sum to 1), same variants.
    threshold
        p-value below which the split is called a mismatch; 0.001 (not 0.05) because the
        check runs on every experiment and every refresh, and a false alarm stops a test.

    Returns
    -------
    SrmResult
        ``expected`` holds the expected counts. With no units at all, ``p_value`` is NaN,
        ``mismatch`` false and ``error="empty"``.

    Raises
    ------
    OptionError
        When the variants of ``counts`` and ``expected`` differ, fewer than two are given,
        a count is negative or a share is not positive.

    Examples
    --------
    >>> r = srm_check({"control": 5000, "treatment": 5400}, {"control": 0.5, "treatment": 0.5})
    >>> r.mismatch, round(r.p_value, 5)
    (True, 9e-05)
    """
    if set(counts) != set(expected):
        raise OptionError(
            f"variants differ: counts has {sorted(counts)}, expected has {sorted(expected)}",
            "give a planned share for every variant",
        )
    if len(counts) < 2:
        raise OptionError("an SRM check needs at least two variants")
    if not 0.0 < threshold < 1.0:
        raise OptionError(f"threshold must be in (0, 1), got {threshold!r}")
    names = list(counts)
    observed = {k: _count(counts[k], f"counts[{k!r}]") for k in names}
    weights = {k: _finite(expected[k], f"expected[{k!r}]") for k in names}
    if any(w <= 0 for w in weights.values()):
        raise OptionError("planned shares must be positive", "drop variants planned at 0%")
    total_w = sum(weights.values())
    total = sum(observed.values())
    exp_counts = {k: total * weights[k] / total_w for k in names}
    df = len(names) - 1
    if total == 0:
        return SrmResult(
            math.nan, df, math.nan, False, "No units assigned yet.", MappingProxyType(observed),
            MappingProxyType(exp_counts), threshold, "empty",
        )
    stat = sum((observed[k] - exp_counts[k]) ** 2 / exp_counts[k] for k in names)
    p = float(special.chdtrc(df, stat))
    mismatch = p < threshold
    split = ", ".join(
        f"{k} {observed[k]:,} ({observed[k] / total:.2%} vs {weights[k] / total_w:.2%} planned)"
        for k in names
    )
    if mismatch:
        message = (
            f"SAMPLE RATIO MISMATCH (p = {p:.2g} < {threshold:g}): {split}. The assignment or "
            "its logging is broken; do not trust any result of this experiment until the "
            "cause is found."
        )
    else:
        message = f"Split as planned (p = {p:.2g}): {split}."
    return SrmResult(
        stat, df, p, mismatch, message, MappingProxyType(observed),
        MappingProxyType(exp_counts), threshold,
    )


# --------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------
_CELLS_PER_CHUNK = 2_000_000  # resample indices held in memory at once (16 MB)


def _boot_means(
    values: np.ndarray, rng: np.random.Generator, n_boot: int, chunk: int
) -> np.ndarray:
    """Means of ``n_boot`` resamples with replacement, ``chunk`` resamples at a time.

    Draws are consumed in order, so the result does not depend on ``chunk``.
    """
    n = values.size
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n))
        out[start : start + rows] = values[idx].mean(axis=1)
    return out


def bootstrap_mean_diff(
    control: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    chunk_size: int | None = None,
    metric: str = "metric",
    control_name: str = "control",
    variant_name: str = "treatment",
) -> Comparison:
    """Difference of means with a percentile bootstrap interval (one value per unit).

    Each arm is resampled with replacement at its own size, ``n_boot`` times; the interval
    is the ``alpha/2`` and ``1 − alpha/2`` quantiles (linear interpolation) of the
    resampled differences, and of the resampled ratios − 1 for the relative lift. The
    p-value inverts the percentile interval: twice the smaller share of resampled
    differences on either side of 0, counted as ``(1 + k) / (1 + n_boot)`` so that it is
    never 0. Use it for skewed metrics on moderate samples; for large samples it agrees
    with :func:`compare_means`.

    Resamples are drawn ``chunk_size`` at a time (default: as many as fit in ~16 MB of
    indices) from one generator per arm, both spawned from ``seed``: the same seed gives
    the same result whatever the chunk size.

    Returns
    -------
    Comparison
        ``method="bootstrap_percentile"``; ``extra`` has ``n_boot`` and ``se`` (standard
        deviation of the resampled differences). ``error="empty"`` when an arm has no
        units, ``"zero_variance"`` when every unit in both arms has the same value.

    Raises
    ------
    OptionError
        On NaN/infinite values, ``n_boot < 1`` or a bad ``alpha``.

    References
    ----------
    Efron, B. & Tibshirani, R. (1993). *An Introduction to the Bootstrap*, ch. 13.

    Examples
    --------
    >>> r = bootstrap_mean_diff([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0], seed=1)
    >>> r.abs_lift, r.abs_ci[0] < 1.5 < r.abs_ci[1]
    (1.5, True)
    """
    alpha = _check_alpha(alpha)
    if int(n_boot) != n_boot or n_boot < 1:
        raise OptionError(f"n_boot must be a positive whole number, got {n_boot!r}")
    if chunk_size is not None and (int(chunk_size) != chunk_size or chunk_size < 1):
        raise OptionError(f"chunk_size must be a positive whole number, got {chunk_size!r}")
    xc, xt = _as_array(control, "control"), _as_array(treatment, "treatment")
    method = "bootstrap_percentile"
    names = (metric, control_name, variant_name)
    mc = float(xc.mean()) if xc.size else math.nan
    mt = float(xt.mean()) if xt.size else math.nan
    if xc.size == 0 or xt.size == 0:
        return _failed("empty", method, names, mc, mt)
    if np.ptp(xc) == 0 and np.ptp(xt) == 0:
        return _failed("zero_variance", method, names, mc, mt)
    n_boot = int(n_boot)
    chunk = int(chunk_size or max(1, _CELLS_PER_CHUNK // max(xc.size, xt.size)))
    rng_c, rng_t = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    bc = _boot_means(xc, rng_c, n_boot, chunk)
    bt = _boot_means(xt, rng_t, n_boot, chunk)
    diffs = bt - bc
    q = (alpha / 2.0, 1.0 - alpha / 2.0)
    lo, hi = (float(v) for v in np.quantile(diffs, q))
    below = (1 + int(np.count_nonzero(diffs <= 0))) / (1 + n_boot)
    above = (1 + int(np.count_nonzero(diffs >= 0))) / (1 + n_boot)
    rel: float | None = None
    rel_ci: tuple[float, float] | None = None
    if mc > 0 and np.all(bc > 0):
        rel = mt / mc - 1.0
        rlo, rhi = np.quantile(bt / bc - 1.0, q)
        rel_ci = (float(rlo), float(rhi))
    return Comparison(
        metric=metric, variant=variant_name, control=control_name, control_value=mc,
        variant_value=mt, abs_lift=mt - mc, abs_ci=(lo, hi), rel_lift=rel, rel_ci=rel_ci,
        p_value=min(1.0, 2.0 * min(below, above)), method=method,
        extra={"n_boot": float(n_boot), "se": float(diffs.std(ddof=1)) if n_boot > 1 else 0.0},
    )


# --------------------------------------------------------------------------------------
# Capping (winsorising)
# --------------------------------------------------------------------------------------
def winsorize_limits(
    values: Sequence[float] | np.ndarray,
    upper_quantile: float,
    *,
    lower_quantile: float | None = None,
) -> tuple[float, float]:
    """Caps for winsorising, from the **pooled** values of all arms.

    Quantiles are linearly interpolated (``numpy.quantile`` default), the same definition
    as DuckDB ``quantile_cont`` and Spark ``percentile``, so that the engine reproduces
    these caps exactly.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``low = -inf`` without ``lower_quantile``.

    Raises
    ------
    OptionError
        When a quantile is outside (0, 1], ``lower_quantile >= upper_quantile`` or there
        are no values.

    Examples
    --------
    >>> winsorize_limits([1.0, 2.0, 3.0, 4.0, 100.0], 0.75)
    (-inf, 4.0)
    """
    arr = _as_array(values, "values")
    if not 0.0 < upper_quantile <= 1.0:
        raise OptionError(
            f"upper_quantile must be in (0, 1], got {upper_quantile!r}", "use e.g. 0.99"
        )
    if lower_quantile is not None and not 0.0 <= lower_quantile < upper_quantile:
        raise OptionError(
            f"lower_quantile must be in [0, upper_quantile), got {lower_quantile!r}"
        )
    if arr.size == 0:
        raise OptionError("no values to compute caps from")
    hi = float(np.quantile(arr, upper_quantile))
    lo = -math.inf if lower_quantile is None else float(np.quantile(arr, lower_quantile))
    return lo, hi


def cap_values(
    values: Sequence[float] | np.ndarray,
    upper_quantile: float,
    *,
    lower_quantile: float | None = None,
) -> np.ndarray:
    """Winsorise the pooled per-unit values of **all arms together** at their quantiles.

    Pass every unit of the experiment (control and variants in one array) and split the
    result by arm afterwards. Every unit then goes through the same function
    ``v ↦ min(max(v, low), high)``, so both arms are compared on one well-defined metric.
    Caps computed per arm would transform each arm differently; then the capped
    difference can even have the opposite sign of both the raw difference and the pooled
    capped one (see ``docs/experiments/stats.md``). The input is not modified.

    Examples
    --------
    >>> cap_values([1.0, 2.0, 3.0, 4.0, 100.0], 0.75)
    array([1., 2., 3., 4., 4.])
    """
    lo, hi = winsorize_limits(values, upper_quantile, lower_quantile=lower_quantile)
    return np.clip(_as_array(values, "values"), lo, hi)


def cap_ratio_values(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    upper_quantile: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cap a ratio metric's per-unit numerator and denominator over the same units.

    Both arrays hold one value per unit of the experiment, all arms pooled, in the same
    order; each is capped at its own pooled quantile, and the pairs stay together, so
    :meth:`RatioStats.from_values` can be applied per arm afterwards.

    Examples
    --------
    >>> num, den = cap_ratio_values([10.0, 20.0, 30.0, 400.0], [1.0, 1.0, 2.0, 9.0], 0.75)
    >>> num.tolist(), den.tolist()
    ([10.0, 20.0, 30.0, 122.5], [1.0, 1.0, 2.0, 3.75])
    """
    x, y = _as_array(numerator, "numerator"), _as_array(denominator, "denominator")
    if x.shape != y.shape:
        raise OptionError(
            "numerator and denominator must be capped over the same units",
            "pass one value per unit for both, in the same order",
        )
    return cap_values(x, upper_quantile), cap_values(y, upper_quantile)
