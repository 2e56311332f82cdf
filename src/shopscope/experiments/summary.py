"""Analyse an experiment from a summary table: one row per variant (and metric) with the
sufficient statistics, for tests run elsewhere (an e-mail tool, an ad platform) whose
unit-level data never reaches the workspace.

Columns: ``variant``, optional ``metric`` (default ``"metric"``), ``n`` (units), and either
``conversions`` (a rate) or ``sum`` and ``sum_sq`` (a mean: the per-unit values' sum and sum
of squares). The first variant in the table (or ``control``) is the control. Each metric's
variants are compared with the control (two-proportion z-test with Newcombe interval, or
Welch), p-values adjusted across variants (Holm or BH), with the SRM check of the first
metric's ``n`` against an equal (or given) split and Beta-Binomial chance to win for rates.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from shopscope.errors import OptionError
from shopscope.experiments.bayes import beta_binomial
from shopscope.experiments.multiple import adjust
from shopscope.experiments.stats import (
    MeanStats,
    ProportionStats,
    SrmResult,
    compare_means,
    compare_proportions,
    srm_check,
)


def analyze_summary(frame: pd.DataFrame, *, control: str | None = None,
                    split: Mapping[str, float] | None = None, alpha: float = 0.05,
                    correction: str = "holm") -> tuple[SrmResult, pd.DataFrame]:
    """(SRM check, one row per metric × variant: ``kind`` (rate or mean), values, lift with
    intervals, p, adjusted p, chance to win for rates).

    Examples
    --------
    >>> table = pd.DataFrame({"variant": ["A", "B"], "n": [1000, 1000],
    ...                       "conversions": [100, 130]})
    >>> srm, out = analyze_summary(table)
    >>> round(float(out.loc[0, "abs_lift"]), 3), bool(out.loc[0, "p_value"] < 0.05)
    (0.03, True)
    """
    need = {"variant", "n"}
    missing = need - set(frame.columns)
    if missing:
        raise OptionError(f"summary table lacks column(s) {', '.join(sorted(missing))}",
                          hint="columns: variant, [metric], n, conversions | sum, sum_sq")
    rate = "conversions" in frame.columns
    if not rate and not {"sum", "sum_sq"} <= set(frame.columns):
        raise OptionError("summary table needs conversions (a rate) or sum and sum_sq "
                          "(a mean)")
    frame = frame.copy()
    if "metric" not in frame.columns:
        frame["metric"] = "metric"
    variants = list(dict.fromkeys(frame["variant"].astype(str)))
    control = control or variants[0]
    if control not in variants:
        raise OptionError(f"control {control!r} is not a variant of the table "
                          f"({', '.join(variants)})")
    first = frame[frame.metric == frame.metric.iloc[0]]
    counts = {str(v): int(n) for v, n in zip(first.variant, first.n, strict=True)}
    srm = srm_check(counts, split or {v: 1 / len(counts) for v in counts})
    rows, comparisons = [], []
    for metric, part in frame.groupby("metric", sort=False):
        by = {str(r.variant): r for r in part.itertuples(index=False)}
        if control not in by:
            raise OptionError(f"metric {metric!r} has no row for the control {control!r}")

        def stats(r):
            return (ProportionStats(int(r.n), int(r.conversions)) if rate
                    else MeanStats(int(r.n), float(r.sum), float(r.sum_sq)))

        for variant, r in by.items():
            if variant == control:
                continue
            c, t = stats(by[control]), stats(r)
            comp = (compare_proportions(c, t, alpha=alpha, metric=str(metric),
                                        control_name=control, variant_name=variant)
                    if rate else
                    compare_means(c, t, alpha=alpha, metric=str(metric),
                                  control_name=control, variant_name=variant))
            comparisons.append(comp)
            rows.append(beta_binomial(c, t).chance_to_win if rate else None)
    adjusted = adjust(comparisons, correction, family="metric")  # type: ignore[arg-type]
    out = pd.DataFrame([{
        "metric": c.metric, "kind": "rate" if rate else "mean", "variant": c.variant,
        "control_value": c.control_value,
        "variant_value": c.variant_value, "abs_lift": c.abs_lift, "abs_low": c.abs_ci[0],
        "abs_high": c.abs_ci[1], "rel_lift": c.rel_lift,
        "rel_low": c.rel_ci[0] if c.rel_ci else None,
        "rel_high": c.rel_ci[1] if c.rel_ci else None, "p_value": c.p_value,
        "adjusted_p": c.adjusted_p_value, "chance_to_win": win, "method": c.method,
        "error": c.error} for c, win in zip(adjusted, rows, strict=True)])
    return srm, out
