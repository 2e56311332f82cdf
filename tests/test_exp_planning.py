"""Experiment planning (``shopscope.experiments.planning``).

Outside authorities: statsmodels (``NormalIndPower``, ``TTestIndPower``,
``tt_ind_solve_power``, ``proportion_effectsize``, ``power_proportions_2indep``) wherever
it computes the same formula — powers equal within 1e-9 and our sample sizes and MDEs put
statsmodels' power exactly on target — and the textbook sample-size arithmetic by hand.
"""

from __future__ import annotations

import json
import math

import pytest

from shopscope.errors import OptionError
from shopscope.experiments.planning import (
    duration_days,
    mde_means,
    mde_proportions,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)

sm_power = pytest.importorskip("statsmodels.stats.power")
sm_prop = pytest.importorskip("statsmodels.stats.proportion")
NormalIndPower, TTestIndPower = sm_power.NormalIndPower, sm_power.TTestIndPower
SM_ALT = {"two-sided": "two-sided", "one-sided": "larger"}


def _unpooled_es(p1, p2):
    """Standardized effect that makes NormalIndPower compute the unpooled z power."""
    return (p2 - p1) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)


# -- hand-computed -------------------------------------------------------------------------
def test_classic_ten_percent_baseline_by_hand():
    # p1 = 0.10, p2 = 0.11 (+10% relative), alpha 0.05 two-sided, power 0.8, unpooled:
    # n = (z_.975 + z_.8)² (p1 q1 + p2 q2) / delta²
    #   = (1.959964 + 0.841621)² × (0.09 + 0.0979) / 0.0001
    #   = 7.848879 × 0.1879 / 0.0001 = 14,748.0  ->  14,749 per arm, 29,498 in total
    plan = sample_size_proportions(0.10, 0.10)
    assert plan.n_exact == pytest.approx(14748.0, abs=0.05)
    assert plan.n_per_variant == 14749 and plan.total == 29498
    assert plan.mde_abs == pytest.approx(0.01) and plan.mde_rel == pytest.approx(0.10)
    assert plan.alpha_per_comparison == 0.05 and plan.method == "unpooled"
    # the same plan stated as an absolute MDE of one point
    assert sample_size_proportions(0.10, 0.01, relative=False).n_per_variant == 14749
    # pooled variance under the null (Evan Miller's calculator): p̄ = 0.105
    # (1.959964 √(2·0.105·0.895) + 0.841621 √0.1879)² / 0.0001
    # = (1.959964 × 0.433532 + 0.841621 × 0.433474)² / 1e-4 = (0.849707 + 0.364821)² / 1e-4
    # = 14,750.8  ->  14,751
    assert sample_size_proportions(0.10, 0.10, method="pooled").n_per_variant == 14751
    assert json.loads(json.dumps(plan.to_dict()))["n_per_variant"] == 14749


def test_enormous_effect_needs_the_minimum_sample():
    # found by the API fuzzer: sd 0.8 and an effect of 2.4e9 (3e9 standard deviations) made
    # scipy's noncentral t return NaN and the solver stop; any sample detects it, so the
    # plan is the smallest one (two units per arm)
    plan = sample_size_means(0.8, 2429600400.0, alpha=0.5, alternative="two-sided")
    assert plan.n_per_variant == 2
    assert power_means(2, 0.8, 2429600400.0, alpha=0.5) == pytest.approx(1.0)


def test_means_by_hand_with_bonferroni():
    # sd 40, detect +5, 3 variants -> 2 comparisons at 0.025 each, z test:
    # n ≈ 2 × 40² × (z_.9875 + z_.8)² / 25 = 2 × 1600 × (2.241403 + 0.841621)² / 25
    #   = 128 × 9.505037 = 1,216.6 (the two-sided far tail is negligible) -> 1,217
    plan = sample_size_means(40.0, 5.0, variants=3, test="z")
    assert plan.alpha_per_comparison == pytest.approx(0.025)
    assert plan.n_exact == pytest.approx(1216.6, abs=0.1)
    assert plan.n_per_variant == 1217 and plan.total == 3 * 1217
    # without the correction it is the two-arm plan: 128 × (1.959964 + 0.841621)² = 1004.7
    assert sample_size_means(40.0, 5.0, variants=3, test="z", correction=None).n_per_variant == 1005


def test_duration_by_hand():
    # 14,749 per arm × 2 arms / (2,000 a day × 100%) = 14.7 -> 15 days
    assert duration_days(14749, 2000) == 15
    # 3 arms, half the traffic: 14,749 × 3 / 1,000 = 44.2 -> 45 days
    assert duration_days(14749, 2000, variants=3, share=0.5) == 45
    assert duration_days(1000, 500, variants=2) == 4  # exactly 4.0 days, no extra day


# -- statsmodels ----------------------------------------------------------------------------
@pytest.mark.parametrize("alternative", ["two-sided", "one-sided"])
@pytest.mark.parametrize(("p1", "rel", "variants"), [(0.10, 0.10, 2), (0.03, 0.2, 4),
                                                     (0.5, -0.05, 3)])
def test_proportions_unpooled_equals_statsmodels_normal_ind_power(p1, rel, variants, alternative):
    p2 = p1 * (1 + rel)
    a = 0.05 / (variants - 1)
    es = abs(_unpooled_es(p1, p2))
    kw = {"variants": variants, "alternative": alternative}
    for n in (500.0, 4321.5, 20000.0):
        ours = power_proportions(n, p1, rel, **kw)
        theirs = NormalIndPower().power(es, n, a, ratio=1, alternative=SM_ALT[alternative])
        assert ours == pytest.approx(theirs, abs=1e-9)
    plan = sample_size_proportions(p1, rel, power=0.9, **kw)
    theirs_n = NormalIndPower().solve_power(es, alpha=a, power=0.9, ratio=1,
                                            alternative=SM_ALT[alternative])
    assert plan.n_exact == pytest.approx(theirs_n, rel=1e-9)
    assert NormalIndPower().power(es, plan.n_exact, a, alternative=SM_ALT[alternative]) == (
        pytest.approx(0.9, abs=1e-9))


@pytest.mark.parametrize(("p1", "p2"), [(0.10, 0.11), (0.2, 0.15), (0.01, 0.013)])
def test_proportions_arcsine_equals_statsmodels_cohens_h(p1, p2):
    h = sm_prop.proportion_effectsize(p2, p1)  # 2 asin √p2 − 2 asin √p1
    plan = sample_size_proportions(p1, p2 - p1, relative=False, method="arcsine")
    assert plan.n_exact == pytest.approx(
        NormalIndPower().solve_power(abs(h), alpha=0.05, power=0.8, ratio=1), rel=1e-9)
    assert power_proportions(3000, p1, p2 - p1, relative=False, method="arcsine") == (
        pytest.approx(NormalIndPower().power(abs(h), 3000, 0.05), abs=1e-9))


@pytest.mark.parametrize("alternative", ["two-sided", "one-sided"])
def test_proportions_pooled_equals_statsmodels_power_proportions_2indep(alternative):
    for n in (2000, 14751, 60000):
        theirs = sm_prop.power_proportions_2indep(0.01, 0.10, n, alpha=0.05,
                                                  alternative=SM_ALT[alternative],
                                                  return_results=False)
        ours = power_proportions(n, 0.10, 0.01, relative=False, method="pooled",
                                 alternative=alternative)
        assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize(("d", "power", "variants", "alternative"),
                         [(0.125, 0.8, 2, "two-sided"), (0.3, 0.9, 4, "one-sided"),
                          (0.8, 0.8, 2, "two-sided"), (0.05, 0.95, 3, "two-sided")])
def test_means_t_equals_statsmodels_ttest_ind_power(d, power, variants, alternative):
    a = 0.05 / (variants - 1)
    sd = 12.0
    plan = sample_size_means(sd, d * sd, power=power, variants=variants, alternative=alternative)
    alt = SM_ALT[alternative]
    # statsmodels' own root is good to ~1e-9 relative; its power at ours is on target
    assert plan.n_exact == pytest.approx(
        sm_power.tt_ind_solve_power(d, alpha=a, power=power, ratio=1, alternative=alt),
        rel=1e-8)
    assert TTestIndPower().power(d, plan.n_exact, a, alternative=alt) == pytest.approx(
        power, abs=1e-9)
    for n in (5.0, 64.0, 1000.0):
        assert power_means(n, sd, d * sd, variants=variants, alternative=alternative) == (
            pytest.approx(TTestIndPower().power(d, n, a, alternative=alt), abs=1e-9))


def test_cohen_classic_64_per_group():
    # Cohen (1988): d = 0.5, alpha 0.05 two-sided, power 0.8 -> 64 per group (t test)
    assert sample_size_means(1.0, 0.5).n_per_variant == 64


def test_means_z_equals_statsmodels_normal_ind_power():
    plan = sample_size_means(2.0, 0.3, test="z")
    assert plan.n_exact == pytest.approx(NormalIndPower().solve_power(0.15, alpha=0.05,
                                                                      power=0.8), rel=1e-9)


def test_mde_puts_statsmodels_power_on_target():
    # statsmodels solves effect sizes with fsolve (tolerance ~1e-4), so compare powers
    plan = mde_means(5000, 2.0, mean=40.0, test="z")
    assert NormalIndPower().power(plan.mde_abs / 2.0, 5000, 0.05) == pytest.approx(0.8, abs=1e-9)
    assert plan.mde_rel == pytest.approx(plan.mde_abs / 40.0)
    t_plan = mde_means(200, 3.0, variants=3, alternative="one-sided")
    assert TTestIndPower().power(t_plan.mde_abs / 3.0, 200, 0.025, alternative="larger") == (
        pytest.approx(0.8, abs=1e-9))
    assert t_plan.mde_rel is None
    p_plan = mde_proportions(14749, 0.10)
    es = _unpooled_es(0.10, 0.10 + p_plan.mde_abs)
    assert NormalIndPower().power(es, 14749, 0.05) == pytest.approx(0.8, abs=1e-9)
    assert p_plan.mde_rel == pytest.approx(0.10, abs=1e-4)  # the hand case, inverted
    h_plan = mde_proportions(3000, 0.2, method="arcsine")
    h = sm_prop.proportion_effectsize(0.2 + h_plan.mde_abs, 0.2)
    assert NormalIndPower().power(h, 3000, 0.05) == pytest.approx(0.8, abs=1e-9)


def test_plans_round_trip():
    plan = sample_size_proportions(0.04, 0.15, variants=3, power=0.85)
    back = power_proportions(plan.n_per_variant, 0.04, 0.15, variants=3)
    assert back >= 0.85 and power_proportions(plan.n_per_variant - 1, 0.04, 0.15, variants=3) < 0.85
    mde = mde_proportions(plan.n_exact, 0.04, variants=3, power=0.85)
    assert mde.mde_rel == pytest.approx(0.15, rel=1e-9)


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sample_size_proportions(1.2, 0.1), r"baseline must be a rate in \(0, 1\)"),
        (lambda: sample_size_proportions(0.1, 0.0), r"mde must be a nonzero"),
        (lambda: sample_size_proportions(0.6, 1.0), r"outside \(0, 1\)"),
        (lambda: sample_size_proportions(0.1, 0.1, alpha=0.0), r"alpha must be in \(0, 1\)"),
        (lambda: sample_size_proportions(0.1, 0.1, power=1.0), r"power must be in \(0.05, 1\)"),
        (lambda: sample_size_proportions(0.1, 0.1, variants=1), r"variants must be an integer"),
        (lambda: sample_size_proportions(0.1, 0.1, method="exact"), r"accepted: 'unpooled'"),
        (lambda: sample_size_proportions(0.1, 0.1, alternative="larger"), r"accepted: 'two-sided'"),
        (lambda: sample_size_proportions(0.1, 0.1, correction="holm"), r"accepted: 'bonferroni'"),
        (lambda: sample_size_means(0.0, 1.0), r"sd must be a positive"),
        (lambda: sample_size_means(1.0, 0.1, relative=True), r"needs the control mean"),
        (lambda: sample_size_means(1.0, 1.0, test="welch"), r"accepted: 't', 'z'"),
        (lambda: power_means(1, 1.0, 0.5), r"n_per_variant must be > 1"),
        (lambda: mde_proportions(20, 0.5, power=0.999), r"cannot reach power"),
        (lambda: duration_days(100, 0), r"daily_traffic must be a positive"),
        (lambda: duration_days(100, 10, share=1.5), r"share must be in \(0, 1\]"),
        (lambda: sample_size_proportions(0.1, 1e-9), r"too small to detect"),
    ],
)
def test_bad_input_raises_option_error_with_the_range(call, match):
    with pytest.raises(OptionError, match=match):
        call()
