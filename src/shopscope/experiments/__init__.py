"""Experiments: A/B test analysis, planning and uplift targeting (docs/experiments/).

- :mod:`~shopscope.experiments.stats` — sufficient statistics and frequentist comparisons
  (proportions, means, ratios, CUPED, SRM, bootstrap, capping); :mod:`.multiple` — Holm, BH;
- :mod:`.sequential` — mSPRT always-valid p-values and confidence sequences;
  :mod:`.group_sequential` — Lan–DeMets alpha spending over planned looks;
- :mod:`.bayes` — chance to beat control, expected loss, credible intervals;
- :mod:`.planning` — sample size, MDE, power, duration;
- :mod:`.registry` and :mod:`.analysis` — saved definitions and their engine-side analysis;
  :mod:`.summary` — a test run elsewhere, from its per-variant summary table;
- :mod:`.uplift` — meta-learners and Qini/uplift curves (needs the ``uplift`` extra:
  scikit-learn), imported on first use so the base install stays lean.
"""

from shopscope.experiments.planning import (
    Plan,
    duration_days,
    mde_means,
    mde_proportions,
    sample_size_means,
    sample_size_proportions,
)
from shopscope.experiments.stats import (
    Comparison,
    CupedStats,
    MeanStats,
    ProportionStats,
    RatioStats,
    compare_means,
    compare_proportions,
    compare_ratios,
    cuped,
    srm_check,
)

__all__ = [
    "Comparison", "CupedStats", "MeanStats", "Plan", "ProportionStats", "RatioStats",
    "compare_means", "compare_proportions", "compare_ratios", "cuped", "duration_days",
    "mde_means", "mde_proportions", "sample_size_means", "sample_size_proportions",
    "srm_check",
]
