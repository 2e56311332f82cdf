"""Multiple-comparison corrections for experiments with several variants or metrics.

With three variants against one control, each tested at 5%, the chance that at least one
"wins" by luck is about 14%. :func:`holm` keeps the family-wise error rate (the chance of
any false positive) at ``alpha``; :func:`benjamini_hochberg` keeps the expected share of
false positives among the declared winners (false discovery rate) at ``alpha`` and gives
more power when many comparisons are run. Both return adjusted p-values, to be compared
with the unadjusted ``alpha``.

Missing p-values (NaN, e.g. a cell with an error code) are left out of the family and stay
NaN.

Examples
--------
>>> holm([0.01, 0.04, 0.03])
[0.03, 0.06, 0.06]
>>> benjamini_hochberg([0.01, 0.04, 0.03])
[0.03, 0.04, 0.04]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal, get_args

import numpy as np

from shopscope.errors import OptionError
from shopscope.experiments.stats import Comparison

__all__ = ["Method", "adjust", "benjamini_hochberg", "holm"]

Method = Literal["holm", "bh"]
Family = Literal["all", "metric"]


def _valid(p_values: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """The p-values as an array and the mask of the ones that take part (not NaN)."""
    p = np.asarray(list(p_values), dtype=float)
    if p.ndim != 1:
        raise OptionError("p_values must be a flat sequence of numbers")
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        bad = p[ok][(p[ok] < 0) | (p[ok] > 1)][0]
        raise OptionError(f"p-values must be in [0, 1], got {bad!r}")
    return p, ok


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate).

    With the ``m`` p-values sorted ascending, ``p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j))``.
    Uniformly more powerful than Bonferroni, valid under any dependence.

    Parameters
    ----------
    p_values
        Unadjusted p-values, in any order (NaN entries are skipped).

    Returns
    -------
    list of float
        Adjusted p-values in the input order.

    Raises
    ------
    OptionError
        When a p-value is outside [0, 1].

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics* 6, 65–70.

    Examples
    --------
    >>> holm([0.02, float("nan"), 0.5])
    [0.04, nan, 0.5]
    """
    p, ok = _valid(p_values)
    out = np.full(p.shape, math.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        steps = (m - np.arange(m)) * q[order]
        adjusted = np.minimum(1.0, np.maximum.accumulate(steps))
        result = np.empty(m)
        result[order] = adjusted
        out[ok] = result
    return out.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg step-up adjusted p-values (false discovery rate).

    With the ``m`` p-values sorted ascending, ``p̃_(i) = min_{j ≥ i} min(1, m p_(j) / j)``.
    Controls the FDR for independent or positively dependent tests (comparisons of several
    variants with one shared control are positively dependent).

    Parameters
    ----------
    p_values
        Unadjusted p-values, in any order (NaN entries are skipped).

    Returns
    -------
    list of float
        Adjusted p-values in the input order.

    Raises
    ------
    OptionError
        When a p-value is outside [0, 1].

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a practical
    and powerful approach to multiple testing. *JRSS B* 57(1), 289–300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.02, 0.03, 0.5])
    [0.04, 0.04, 0.04, 0.5]
    """
    p, ok = _valid(p_values)
    out = np.full(p.shape, math.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        steps = q[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum(1.0, np.minimum.accumulate(steps[::-1])[::-1])
        result = np.empty(m)
        result[order] = adjusted
        out[ok] = result
    return out.tolist()


_ADJUSTERS = {"holm": holm, "bh": benjamini_hochberg}


def adjust(
    comparisons: Sequence[Comparison], method: Method = "holm", *, family: Family = "all"
) -> list[Comparison]:
    """Fill ``adjusted_p_value`` of each comparison.

    Parameters
    ----------
    comparisons
        The comparisons of one experiment (not modified; new objects are returned).
    method
        ``"holm"`` (family-wise error rate) or ``"bh"`` (false discovery rate).
    family
        ``"all"``: one family of all comparisons given; ``"metric"``: one family per metric
        (variants against the control on the same metric).

    Returns
    -------
    list of Comparison
        Same order. Comparisons with an ``error`` or a NaN p-value keep
        ``adjusted_p_value=None`` and do not count towards the family size.

    Raises
    ------
    OptionError
        On an unknown ``method`` or ``family``.

    Examples
    --------
    >>> from shopscope.experiments.stats import ProportionStats, compare_proportions
    >>> c = ProportionStats(1000, 100)
    >>> rs = [compare_proportions(c, ProportionStats(1000, x), variant_name=v)
    ...       for v, x in [("b", 130), ("c", 104)]]
    >>> [round(r.adjusted_p_value, 4) for r in adjust(rs, "holm")]
    [0.071, 0.7676]
    """
    if method not in _ADJUSTERS:
        raise OptionError(f"unknown method {method!r}", f"use one of {', '.join(get_args(Method))}")
    if family not in get_args(Family):
        raise OptionError(f"unknown family {family!r}", f"use one of {', '.join(get_args(Family))}")
    groups: dict[object, list[int]] = {}
    for i, comp in enumerate(comparisons):
        if comp.error is None and not math.isnan(comp.p_value):
            key = comp.metric if family == "metric" else None
            groups.setdefault(key, []).append(i)
    adjusted: dict[int, float] = {}
    for members in groups.values():
        values = _ADJUSTERS[method]([comparisons[i].p_value for i in members])
        adjusted.update(zip(members, values, strict=True))
    return [
        replace(comp, adjusted_p_value=adjusted.get(i)) for i, comp in enumerate(comparisons)
    ]
