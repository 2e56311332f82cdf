"""Group-sequential tests with Lan–DeMets alpha spending.

The mSPRT of :mod:`shopscope.experiments.sequential` stays valid however often one looks,
which is why it is conservative for a plan of daily peeks: over 28 looks its false positive
rate is about 1%, not 5%. When the experiment has a planned sample size, a group-sequential
design does better: it decides in advance how much of ``alpha`` may be *spent* by each
fraction of the planned information, and sets the critical value of every look so that the
chance of a first crossing there, under the null, is exactly that share. Over all looks it
spends exactly ``alpha``, so the false positive rate of "stop at the first crossing" is
``alpha`` (5%), not less, for any number of looks taken at any times.

Spending functions
------------------
With ``t`` the information fraction (units at the look over the planned units), the two
Lan & DeMets (1983) functions are

* O'Brien–Fleming type: ``α(t) = 2 − 2Φ(z_{1−α/2} / √t)``: almost nothing early, nearly
  the whole ``α`` at the end, so the last look's critical value is close to the fixed-sample
  one (2.03 instead of 1.96 with 5 looks) and the power is nearly that of a fixed test;
* Pocock type: ``α(t) = α ln(1 + (e − 1) t)``: about even critical values, so large effects
  stop early, at the cost of a larger final critical value (less power at the planned n).

A two-sided test at level ``alpha`` is two one-sided tests at ``alpha / 2``: each side spends
``spending(t, alpha / 2)`` (the convention of DeMets & Lan 1994, R ``gsDesign`` test.type=2
and ``ldbounds``). For the O'Brien–Fleming type this is *not* the same as halving
``spending(t, alpha)``; it is the convention of the published tables.

Critical values
---------------
Write ``B(t) = Z(t) √t`` for the score process on the information scale: under the null it
is a Brownian motion, with independent normal increments ``N(0, t_k − t_{k−1})`` between
looks. The sub-density of ``B(t_k)`` on the paths that have not crossed by look ``k`` follows
from the previous one by a convolution (Armitage, McPherson & Rowe 1969; Jennison & Turnbull
2000, ch. 19):

    f_k(b) = ∫_{C_{k−1}} f_{k−1}(u) φ((b − u) / s_k) / s_k du,   s_k² = t_k − t_{k−1}

(``C_{k−1}`` the continuation region of the previous look)

and the chance of a first crossing at look ``k`` with critical value ``c`` is
``∫ f_{k−1}(u) P(|u + N(0, s_k²)| ≥ c √t_k) du``. The integrals are done by Simpson's rule
on a grid over the continuation region with spacing ``s / 8`` (``s`` the smaller of the
increments into and out of the look), truncated at ``±8.5`` standard deviations of
``B(t_k)``; each ``c_k`` is the root of "crossing probability = spending increment" (Brent's
method). Sixty daily looks take about 25 ms; the boundaries agree with Genz's
multivariate normal integration and with Monte Carlo (``tests/test_exp_group_sequential.py``).

Unplanned looks and over-running
--------------------------------
Only the fractions of the looks actually taken enter the computation, so extra or missed
peeks are fine. The spending is evaluated at ``min(t, 1)``, while the correlation between
looks uses the real ``t``: once the planned information is reached the whole ``alpha`` is
spent, and any later look has critical value ``inf`` (it can no longer reject).

References
----------
Armitage, P., McPherson, C. K. & Rowe, B. C. (1969). Repeated significance tests on
accumulating data. JRSS A 132(2), 235–244.

Lan, K. K. G. & DeMets, D. L. (1983). Discrete sequential boundaries for clinical trials.
Biometrika 70(3), 659–663.

DeMets, D. L. & Lan, K. K. G. (1994). Interim analysis: the alpha spending function
approach. Statistics in Medicine 13, 1341–1352.

Jennison, C. & Turnbull, B. W. (2000). *Group Sequential Methods with Applications to
Clinical Trials*, ch. 7 (error spending) and ch. 19 (numerical computations).

Examples
--------
O'Brien–Fleming-type spending, 5 equally spaced looks, two-sided 5% (DeMets & Lan 1994;
R ``gsDesign`` with ``sfLDOF``, test.type=2, alpha=0.025):

>>> [round(float(c), 3) for c in boundaries([0.2, 0.4, 0.6, 0.8, 1.0])]
[4.877, 3.357, 2.68, 2.29, 2.031]
>>> [round(float(c), 3) for c in boundaries([0.2, 0.4, 0.6, 0.8, 1.0], kind="pocock")]
[2.438, 2.427, 2.41, 2.397, 2.386]
>>> round(float(spending(1.0, 0.05)), 6), round(float(spending(0.5, 0.05, "pocock")), 5)
(0.05, 0.03101)
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal, get_args

import numpy as np
from scipy import optimize, special

from shopscope.errors import OptionError
from shopscope.experiments.stats import MeanStats, ProportionStats

__all__ = [
    "GroupSequentialResult",
    "SpendingKind",
    "boundaries",
    "group_sequential_means",
    "group_sequential_proportions",
    "spending",
]

SpendingKind = Literal["obrien_fleming", "pocock"]

_GRID_PER_SD = 8  # Simpson grid points per sd of the narrowest adjacent increment
_TAIL_SD = 8.5  # B(t) is truncated at ±8.5 sd: the mass beyond is < 2e-17
_MAX_POINTS = 4001  # grid cap; only reached for looks < ~0.1% of the information apart
_FAR = 40.0  # increments of 40 sd are never crossed (ndtr(-40) == 0 in double precision)


# --------------------------------------------------------------------------------------
# Spending and boundaries
# --------------------------------------------------------------------------------------
def spending(t, alpha: float = 0.05, kind: SpendingKind = "obrien_fleming"):
    """Lan–DeMets alpha-spending function: the ``alpha`` that may be spent by fraction ``t``.

    Parameters
    ----------
    t
        Information fraction(s), ``>= 0``; values above 1 count as 1 (all spent).
    alpha
        Level being spent, in (0, 1). For a two-sided test :func:`boundaries` calls this
        with ``alpha / 2`` for each side.
    kind
        ``"obrien_fleming"``: ``2 − 2Φ(z_{1−α/2} / √t)``; ``"pocock"``:
        ``α ln(1 + (e − 1) t)``.

    Returns
    -------
    float or numpy.ndarray
        Cumulative alpha spent; 0 at ``t = 0``, ``alpha`` at ``t >= 1``, increasing.

    Raises
    ------
    OptionError
        An unknown ``kind``, ``alpha`` outside (0, 1), or a negative or non-finite ``t``.

    References
    ----------
    Lan, K. K. G. & DeMets, D. L. (1983). Biometrika 70(3), 659–663.

    Examples
    --------
    >>> round(float(spending(0.25, 0.05)), 7)  # 2 · (1 − Φ(1.959964 / 0.5))
    8.86e-05
    >>> round(float(spending(0.25, 0.05, kind="pocock")), 6)  # 0.05 · ln(1 + 1.718282 / 4)
    0.017869
    """
    _check_alpha(alpha)
    _check_kind(kind)
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise OptionError(
            f"information fractions must be finite and >= 0, got {t!r}",
            "t is the units at the look divided by the planned units",
        )
    tc = np.minimum(arr, 1.0)
    if kind == "obrien_fleming":
        z = special.ndtri(1.0 - alpha / 2.0)
        with np.errstate(divide="ignore"):
            out = np.where(tc > 0, 2.0 * special.ndtr(-z / np.sqrt(tc)), 0.0)
        out = np.where(tc >= 1.0, alpha, out)  # exactly alpha at the end, no rounding
    else:
        out = alpha * np.log1p((math.e - 1.0) * tc)
        out = np.where(tc >= 1.0, alpha, out)
    return out if np.ndim(out) else float(out)


def boundaries(
    information_fractions: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    kind: SpendingKind = "obrien_fleming",
    two_sided: bool = True,
) -> np.ndarray:
    """Critical values of ``Z`` at each look of a Lan–DeMets group-sequential test.

    Reject at look ``k`` when ``|Z_k| >= c_k`` (two-sided) or ``Z_k >= c_k`` (one-sided),
    where ``Z_k`` is the usual fixed-sample z statistic computed on the data so far. Under
    the null, the chance that the first crossing happens at look ``k`` equals the alpha
    the spending function releases between ``t_{k−1}`` and ``t_k``, so the chance of ever
    crossing is exactly ``alpha`` once ``t`` reaches 1.

    Parameters
    ----------
    information_fractions
        Fractions ``t_k`` of the planned information at each look, strictly increasing and
        positive; values above 1 (over-running the plan) are allowed, see the module notes.
    alpha
        Overall level, in (0, 1). Two-sided tests spend ``alpha / 2`` on each side.
    kind
        ``"obrien_fleming"`` (default) or ``"pocock"`` (see :func:`spending`).
    two_sided
        Symmetric two-sided boundaries (default) or one upper boundary.

    Returns
    -------
    numpy.ndarray
        ``c_k`` per look; ``inf`` for a look with nothing left to spend.

    Raises
    ------
    OptionError
        No looks, fractions not positive, not finite or not strictly increasing, a bad
        ``alpha`` or ``kind``.

    References
    ----------
    Armitage, McPherson & Rowe (1969); Jennison & Turnbull (2000), ch. 19.

    Examples
    --------
    >>> boundaries([1.0]).round(4)  # one look: the fixed-sample z_{0.975}
    array([1.96])
    >>> boundaries([0.5, 1.0], two_sided=False).round(3)
    array([2.538, 1.662])
    """
    _check_alpha(alpha)
    _check_kind(kind)
    t = np.asarray(information_fractions, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise OptionError(
            f"need a non-empty list of information fractions, got {information_fractions!r}"
        )
    if not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise OptionError(
            f"information fractions must be positive, finite and strictly increasing, got "
            f"{t.tolist()}",
            "pass units at each look / planned units, one value per look in time order",
        )
    return np.array(_boundaries(tuple(t.tolist()), float(alpha), kind, bool(two_sided)))


@lru_cache(maxsize=256)
def _boundaries(
    t: tuple[float, ...], alpha: float, kind: SpendingKind, two_sided: bool
) -> tuple[float, ...]:
    """Boundaries by recursive numerical integration (cached: dashboards recompute often)."""
    tt = np.asarray(t)
    sides = 2.0 if two_sided else 1.0
    cum = sides * spending(tt, alpha / sides, kind)
    target = np.diff(cum, prepend=0.0)
    inc_sd = np.sqrt(np.diff(tt, prepend=0.0))
    nodes, mass = np.zeros(1), np.ones(1)  # B(0) = 0: a point mass
    out = []
    for k, (s, goal) in enumerate(zip(inc_sd, target, strict=True)):
        root_t = math.sqrt(tt[k])
        a = _critical_score(nodes, mass, s, goal, two_sided)
        out.append(a / root_t)
        if k + 1 == len(tt):
            break
        lim = _TAIL_SD * root_t
        hi = min(a, lim)
        lo = -hi if two_sided else -lim
        h = min(s, inc_sd[k + 1]) / _GRID_PER_SD
        if hi <= lo:  # nothing continues (cannot happen with alpha < 1; kept for safety)
            nodes, mass = np.zeros(1), np.zeros(1)
            continue
        intervals = min(max(2 * math.ceil((hi - lo) / (2 * h)), 4), _MAX_POINTS - 1)
        new_nodes = np.linspace(lo, hi, intervals + 1)
        weights = np.full(intervals + 1, 2.0)
        weights[1::2] = 4.0
        weights[0] = weights[-1] = 1.0
        weights *= (hi - lo) / intervals / 3.0
        kernel = np.exp(-0.5 * ((new_nodes[:, None] - nodes[None, :]) / s) ** 2)
        density = kernel @ mass / (s * math.sqrt(2.0 * math.pi))
        nodes, mass = new_nodes, weights * density
    return tuple(float(c) for c in out)


def _crossing(a: float, nodes: np.ndarray, mass: np.ndarray, s: float, two_sided: bool):
    """Chance to cross ``±a`` (or ``+a``) at the next look from the continuing paths."""
    up = special.ndtr((nodes - a) / s)
    if two_sided:
        up = up + special.ndtr((-a - nodes) / s)
    return float(mass @ up)


def _critical_score(
    nodes: np.ndarray, mass: np.ndarray, s: float, goal: float, two_sided: bool
) -> float:
    """The score boundary ``a`` whose crossing probability equals ``goal``."""
    far = float(np.max(np.abs(nodes))) + _FAR * s
    if goal <= _crossing(far, nodes, mass, s, two_sided):  # nothing (left) to spend
        return math.inf
    near = 0.0 if two_sided else -far
    if _crossing(near, nodes, mass, s, two_sided) <= goal:  # spend everything that is left
        return near
    return float(
        optimize.brentq(
            lambda a: _crossing(a, nodes, mass, s, two_sided) - goal,
            near, far, xtol=1e-12, rtol=1e-12,
        )
    )


# --------------------------------------------------------------------------------------
# Tests on sufficient statistics
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupSequentialResult:
    """A group-sequential comparison of a variant with the control over its looks.

    Attributes
    ----------
    estimates
        Observed difference at each look, variant minus control.
    z
        z statistic at each look (difference over its plug-in standard error; NaN for a
        look that cannot be evaluated).
    information_fractions
        Harmonic mean of the two arms' units over ``planned_n_per_arm`` (equal to
        ``n / planned_n`` for an equal split); may exceed 1 after the planned end.
    boundaries
        Critical value of each look; ``inf`` once all alpha is spent, NaN for a look that is
        not evaluated (see ``errors``).
    crossed
        ``|z| >= boundary`` (two-sided) or ``z >= boundary`` (one-sided), per look.
    spent_alpha
        Cumulative alpha spent up to and including each look (both sides together).
    stop_index
        First look that crossed (stop there and reject the null), None if none did.
    alpha, kind, two_sided, planned_n_per_arm
        The design.
    method
        ``"group_sequential_proportions"`` or ``"group_sequential_means"``.
    errors
        Per look: None, or a stable code for a look that is skipped (it spends nothing and
        cannot cross): ``"empty"`` (an arm without units), ``"too_few_units"`` (fewer than 2
        units in an arm of a mean metric), ``"zero_variance"`` (both arms constant) or
        ``"no_new_information"`` (no more units than at the previous evaluated look).
    """

    estimates: tuple[float, ...]
    z: tuple[float, ...]
    information_fractions: tuple[float, ...]
    boundaries: tuple[float, ...]
    crossed: tuple[bool, ...]
    spent_alpha: tuple[float, ...]
    stop_index: int | None
    alpha: float
    kind: str
    two_sided: bool
    planned_n_per_arm: float
    method: str
    errors: tuple[str | None, ...]

    @property
    def stop(self) -> bool:
        """True when some look crossed its boundary."""
        return self.stop_index is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists, NaN and infinities as ``None``)."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


def group_sequential_proportions(
    peeks: Sequence[tuple[ProportionStats, ProportionStats]],
    *,
    planned_n_per_arm: float,
    alpha: float = 0.05,
    kind: SpendingKind = "obrien_fleming",
    two_sided: bool = True,
    information: Sequence[float] | None = None,
) -> GroupSequentialResult:
    """Group-sequential test of two conversion rates over cumulative peeks.

    Parameters
    ----------
    peeks
        ``[(control, variant), ...]`` in time order, each the *cumulative*
        :class:`ProportionStats` up to that look (e.g. one pair per day).
    planned_n_per_arm
        Units per arm the experiment was planned for (e.g.
        ``sample_size_proportions(...).n_per_variant``); it sets the information fractions.
    alpha, kind, two_sided
        The design; see :func:`boundaries`. One-sided tests reject only when the variant
        is better.
    information
        The information fraction of each look, when units are not the right measure: an
        outcome that accrues over a window (converted by day k) gains information with the
        outcomes, not with the units (the caller then passes e.g. conversions so far over
        the planned conversions). Default: the units as below.

    Returns
    -------
    GroupSequentialResult
        ``z = (p_t − p_c) / sqrt(p_c q_c / n_c + p_t q_t / n_t)`` per look (the unpooled
        Wald statistic of the fixed-sample test), the boundaries and the first crossing.

    Raises
    ------
    OptionError
        No peeks, something other than :class:`ProportionStats`, units that decrease
        between peeks, a non-positive ``planned_n_per_arm``, a bad ``alpha`` or ``kind``.

    Examples
    --------
    >>> from shopscope.experiments.stats import ProportionStats as P
    >>> peeks = [(P(1000, 50), P(1000, 90)), (P(2000, 100), P(2000, 170))]
    >>> r = group_sequential_proportions(peeks, planned_n_per_arm=4000)
    >>> [round(v, 3) for v in r.z], [round(v, 3) for v in r.boundaries], r.stop_index
    ([3.516, 4.422], [4.333, 2.963], 1)
    """
    _check_peeks(peeks, ProportionStats)
    stats_: list[tuple[float, float, str | None]] = []
    for c, t in peeks:
        if c.n == 0 or t.n == 0:
            stats_.append((math.nan, math.nan, "empty"))
            continue
        pc, pt = c.x / c.n, t.x / t.n
        variance = pc * (1.0 - pc) / c.n + pt * (1.0 - pt) / t.n
        stats_.append((pt - pc, variance, None))
    return _sequence(peeks, stats_, planned_n_per_arm, alpha, kind, two_sided,
                     "group_sequential_proportions", information)


def group_sequential_means(
    peeks: Sequence[tuple[MeanStats, MeanStats]],
    *,
    planned_n_per_arm: float,
    alpha: float = 0.05,
    kind: SpendingKind = "obrien_fleming",
    two_sided: bool = True,
    information: Sequence[float] | None = None,
) -> GroupSequentialResult:
    """Group-sequential test of two means (revenue per visitor, items per order...).

    As :func:`group_sequential_proportions`, with the Welch-type statistic
    ``z = (m_t − m_c) / sqrt(s_c² / n_c + s_t² / n_t)`` (sample variances, ``ddof=1``) of
    :class:`MeanStats` peeks.

    Examples
    --------
    >>> from shopscope.experiments.stats import MeanStats
    >>> c, t = MeanStats.from_values([8.0, 10.0, 12.0]), MeanStats.from_values([9.0, 12.0, 15.0])
    >>> r = group_sequential_means([(c, t)], planned_n_per_arm=3)
    >>> round(r.z[0], 4), round(r.boundaries[0], 3), r.stop  # 2 / sqrt(4/3 + 9/3)
    (0.9608, 1.96, False)
    """
    _check_peeks(peeks, MeanStats)
    stats_: list[tuple[float, float, str | None]] = []
    for c, t in peeks:
        if c.n == 0 or t.n == 0:
            stats_.append((math.nan, math.nan, "empty"))
        elif c.n < 2 or t.n < 2:
            stats_.append((t.sum / t.n - c.sum / c.n, math.nan, "too_few_units"))
        else:
            variance = _sample_var(c) / c.n + _sample_var(t) / t.n
            stats_.append((t.sum / t.n - c.sum / c.n, variance, None))
    return _sequence(peeks, stats_, planned_n_per_arm, alpha, kind, two_sided,
                     "group_sequential_means", information)


def _sequence(
    peeks: Sequence[tuple[Any, Any]],
    stats_: list[tuple[float, float, str | None]],
    planned_n_per_arm: float,
    alpha: float,
    kind: SpendingKind,
    two_sided: bool,
    method: str,
    information: Sequence[float] | None = None,
) -> GroupSequentialResult:
    """Boundaries over the evaluable looks, then the z statistics against them."""
    _check_alpha(alpha)
    _check_kind(kind)
    if not (isinstance(planned_n_per_arm, numbers.Real)
            and math.isfinite(planned_n_per_arm)
            and planned_n_per_arm > 0):
        raise OptionError(
            f"planned_n_per_arm must be a positive number, got {planned_n_per_arm!r}",
            "use the n per variant of the plan, e.g. sample_size_proportions(...).n_per_variant",
        )
    if information is not None:
        fractions = [float(v) for v in information]
        if len(fractions) != len(peeks) or not all(
                math.isfinite(v) and v >= 0 for v in fractions):
            raise OptionError(f"information must give one finite fraction >= 0 per look "
                              f"({len(peeks)}), got {information!r}")
    else:
        fractions = [
            2.0 * c.n * t.n / (c.n + t.n) / planned_n_per_arm if c.n and t.n else 0.0
            for c, t in peeks
        ]
    errors: list[str | None] = []
    used: list[int] = []
    for k, (_, variance, err) in enumerate(stats_):
        if err is None and not variance > 0:
            err = "zero_variance"
        if err is None and used and fractions[k] <= fractions[used[-1]]:
            err = "no_new_information"
        errors.append(err)
        if err is None:
            used.append(k)
    sides = 2.0 if two_sided else 1.0
    crit = (
        _boundaries(tuple(fractions[k] for k in used), float(alpha), kind, bool(two_sided))
        if used else ()
    )
    bounds = [math.nan] * len(peeks)
    for k, c in zip(used, crit, strict=True):
        bounds[k] = c
    zs, crossed, spent = [], [], []
    spent_so_far = 0.0
    for k, (est, variance, _) in enumerate(stats_):
        z = est / math.sqrt(variance) if errors[k] is None else math.nan
        if errors[k] is None:
            spent_so_far = sides * float(spending(fractions[k], alpha / sides, kind))
        zs.append(float(z))
        stat = abs(z) if two_sided else z
        crossed.append(bool(errors[k] is None and stat >= bounds[k]))
        spent.append(spent_so_far)
    stop = next((k for k, hit in enumerate(crossed) if hit), None)
    return GroupSequentialResult(
        estimates=tuple(float(s[0]) for s in stats_),
        z=tuple(zs),
        information_fractions=tuple(fractions),
        boundaries=tuple(bounds),
        crossed=tuple(crossed),
        spent_alpha=tuple(spent),
        stop_index=stop,
        alpha=float(alpha),
        kind=kind,
        two_sided=bool(two_sided),
        planned_n_per_arm=float(planned_n_per_arm),
        method=method,
        errors=tuple(errors),
    )


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _check_peeks(peeks: Sequence[tuple[Any, Any]], cls: type) -> None:
    """Non-empty, all of ``cls``, units never decreasing."""
    if not peeks:
        raise OptionError("need at least one (control, variant) peek")
    for pair in peeks:
        if len(pair) != 2 or not all(isinstance(s, cls) for s in pair):
            raise OptionError(
                f"every peek must be a (control, variant) pair of {cls.__name__}, got {pair!r}",
                "pass the cumulative statistics of one metric",
            )
    for arm in (0, 1):
        ns = [pair[arm].n for pair in peeks]
        if any(b < a for a, b in itertools.pairwise(ns)):
            raise OptionError(
                f"peeks must be cumulative, but the units of arm {arm} decrease: {ns}",
                "accumulate the daily statistics (stats of day 1, days 1-2, ...)",
            )


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, numbers.Real) and 0.0 < alpha < 1.0):
        raise OptionError(f"alpha must be in (0, 1), got {alpha!r}", "e.g. alpha=0.05")


def _check_kind(kind: str) -> None:
    if kind not in get_args(SpendingKind):
        raise OptionError(
            f"unknown spending kind {kind!r}",
            f"use one of {', '.join(get_args(SpendingKind))}",
        )


def _sample_var(s: MeanStats) -> float:
    """Sample variance (ddof=1) from n, sum and sum of squares, never negative."""
    return max((s.sum_sq - s.sum * s.sum / s.n) / (s.n - 1), 0.0)


def _json_value(v: Any) -> Any:
    """NaN and infinities to None, tuples to lists (JSON has neither)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple | list):
        return [_json_value(u) for u in v]
    return v

