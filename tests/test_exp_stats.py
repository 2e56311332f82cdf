"""Experiment statistics (issue 6, items 1 and 5): checked against outside authorities.

Oracles, named in the test names: statsmodels (Wilson, Newcombe, z-tests, log risk-ratio
interval, Holm/BH), scipy (Welch t, chi-square), numpy least squares (CUPED = OLS with a
common slope), a matrix-form delta method, hand calculations, and seeded vectorised Monte
Carlo for coverage and false-positive rates. This module needs no engine: the statistics
work on small sufficient-statistic objects, so there is no DuckDB/Spark parametrisation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sps

from shopscope.errors import OptionError
from shopscope.experiments.multiple import adjust, benjamini_hochberg, holm
from shopscope.experiments.stats import (
    ERROR_CODES,
    Comparison,
    CupedStats,
    MeanStats,
    ProportionStats,
    RatioStats,
    bootstrap_mean_diff,
    cap_ratio_values,
    cap_values,
    compare_means,
    compare_proportions,
    compare_ratios,
    cuped,
    srm_check,
    wilson_interval,
    winsorize_limits,
)

smp = pytest.importorskip("statsmodels.stats.proportion")
smm = pytest.importorskip("statsmodels.stats.multitest")

TOL = 1e-9
PROPORTION_CASES = [(1000, 100, 1000, 130), (250, 3, 300, 11), (5000, 2510, 4800, 2350),
                    (40, 39, 45, 45), (120, 0, 130, 4)]


def close(a: float, b: float, tol: float = TOL) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


# --------------------------------------------------------------------------------------
# Sufficient statistics and input validation
# --------------------------------------------------------------------------------------
def test_stats_pool_by_addition_like_concatenated_units():
    rng = np.random.default_rng(3)
    a, b = rng.normal(5, 2, 40), rng.normal(7, 3, 25)
    pooled = MeanStats.from_values(a) + MeanStats.from_values(b)
    both = np.concatenate([a, b])
    assert pooled.n == 65
    assert close(pooled.mean, both.mean())
    assert close(pooled.var, both.var(ddof=1))
    ra = RatioStats.from_values(a, a**2) + RatioStats.from_values(b, b**2)
    assert close(ra.ratio, both.sum() / (both**2).sum())
    ca = CupedStats.from_values(a, a + 1) + CupedStats.from_values(b, b + 1)
    assert ca.n == 65
    assert close(ca.sum_xy, float(both @ (both + 1)))
    assert ProportionStats(10, 3) + ProportionStats(5, 5) == ProportionStats(15, 8)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ProportionStats(n=-1, x=0),
        lambda: ProportionStats(n=10, x=11),
        lambda: ProportionStats(n=10, x=-2),
        lambda: ProportionStats(n=10.5, x=2),
        lambda: MeanStats(n=-3, sum=1.0, sum_sq=1.0),
        lambda: MeanStats(n=3, sum=math.nan, sum_sq=1.0),
        lambda: MeanStats(n=2, sum=10.0, sum_sq=1.0),  # Σv² < (Σv)²/n: impossible
        lambda: RatioStats(n=-1, sum_x=0, sum_y=0, sum_xx=0, sum_yy=0, sum_xy=0),
        lambda: CupedStats(n=2, sum_y=0, sum_yy=0, sum_x=10, sum_xx=1, sum_xy=0),
        lambda: wilson_interval(5, 4),
        lambda: compare_proportions(ProportionStats(10, 1), ProportionStats(10, 2), alpha=1.5),
        lambda: compare_proportions(ProportionStats(10, 1), ProportionStats(10, 2),
                                    interval="exact"),
        lambda: cuped(CupedStats.from_values([1, 2], [1, 2]),
                      CupedStats.from_values([1, 2], [1, 2]), theta_pooling="arm"),
        lambda: bootstrap_mean_diff([1.0, math.nan], [1.0, 2.0]),
        lambda: bootstrap_mean_diff([1.0, 2.0], [1.0, 2.0], n_boot=0),
        lambda: srm_check({"a": 10, "b": 12}, {"a": 0.5, "c": 0.5}),
        lambda: srm_check({"a": 10, "b": -1}, {"a": 0.5, "b": 0.5}),
        lambda: srm_check({"a": 10}, {"a": 1.0}),
        lambda: cap_values([1.0, 2.0], 1.5),
        lambda: cap_ratio_values([1.0, 2.0], [1.0], 0.9),
        lambda: holm([0.1, 1.2]),
        lambda: adjust([], "bonferroni"),
    ],
)
def test_impossible_inputs_raise_option_error(build):
    with pytest.raises(OptionError) as info:
        build()
    assert isinstance(info.value, ValueError)


def test_legal_but_unanalysable_cells_carry_error_codes_not_exceptions():
    empty, full = ProportionStats(0, 0), ProportionStats(100, 10)
    cells = {
        "empty": [
            compare_proportions(empty, full),
            compare_means(MeanStats(0, 0.0, 0.0), MeanStats.from_values([1.0, 2.0])),
            compare_ratios(RatioStats.from_values([], []), RatioStats.from_values([1, 2], [1, 1])),
            bootstrap_mean_diff([], [1.0, 2.0]),
            cuped(CupedStats.from_values([], []), CupedStats.from_values([1, 2], [3, 4])),
        ],
        "zero_variance": [
            compare_proportions(ProportionStats(50, 0), ProportionStats(60, 0)),
            compare_proportions(ProportionStats(50, 50), ProportionStats(60, 60)),
            compare_means(MeanStats.from_values([3.0] * 5), MeanStats.from_values([3.0] * 4)),
            compare_ratios(RatioStats.from_values([2, 4], [1, 2]),
                           RatioStats.from_values([3, 6], [1, 2])),
            bootstrap_mean_diff([2.0, 2.0], [5.0, 5.0, 5.0]),
        ],
        "too_few_units": [
            compare_means(MeanStats.from_values([1.0]), MeanStats.from_values([1.0, 2.0])),
        ],
        "zero_denominator": [
            compare_ratios(RatioStats.from_values([0, 0], [0, 0]),
                           RatioStats.from_values([1, 2], [1, 1])),
        ],
    }
    for code, results in cells.items():
        assert code in ERROR_CODES
        for r in results:
            assert r.error == code, (code, r)
            assert math.isnan(r.p_value)
            assert all(math.isnan(v) for v in r.abs_ci)
            assert not r.significant()
            assert r.to_dict()["p_value"] is None
    # The point estimate is still reported when it exists.
    r = compare_means(MeanStats.from_values([3.0] * 5), MeanStats.from_values([3.0] * 4))
    assert r.abs_lift == 0.0
    assert r.control_value == 3.0


# --------------------------------------------------------------------------------------
# Proportions: statsmodels as the oracle
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize(("x", "n"), [(0, 20), (1, 20), (8, 40), (130, 1000), (40, 40)])
def test_wilson_interval_matches_statsmodels_wilson(x, n, alpha):
    lo, hi = wilson_interval(x, n, alpha)
    slo, shi = smp.proportion_confint(x, n, alpha=alpha, method="wilson")
    assert close(lo, slo)
    assert close(hi, shi)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels, x = 0 or n
@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), PROPORTION_CASES)
def test_proportions_match_statsmodels_ztest_newcombe_and_log_ratio(nc, xc, nt, xt):
    r = compare_proportions(ProportionStats(nc, xc), ProportionStats(nt, xt), alpha=0.05)
    z, p = smp.proportions_ztest([xt, xc], [nt, nc])
    assert close(r.extra["z"], z)
    assert close(r.p_value, p)
    score = smp.test_proportions_2indep(xt, nt, xc, nc, method="score", compare="diff",
                                        correction=False)
    assert close(r.p_value, score.pvalue)
    lo, hi = smp.confint_proportions_2indep(xt, nt, xc, nc, method="newcomb", compare="diff")
    assert close(r.abs_ci[0], lo)
    assert close(r.abs_ci[1], hi)
    assert close(r.abs_lift, xt / nt - xc / nc)
    if xc > 0 and xt > 0:
        rlo, rhi = smp.confint_proportions_2indep(xt, nt, xc, nc, method="log", compare="ratio")
        assert close(r.rel_ci[0] + 1, rlo)
        assert close(r.rel_ci[1] + 1, rhi)
        assert close(r.rel_lift, (xt / nt) / (xc / nc) - 1)
    elif xc == 0:
        assert r.rel_lift is None
        assert r.rel_ci is None


@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), PROPORTION_CASES[:3])
def test_wald_interval_matches_statsmodels_wald(nc, xc, nt, xt):
    r = compare_proportions(ProportionStats(nc, xc), ProportionStats(nt, xt), alpha=0.1,
                            interval="wald")
    lo, hi = smp.confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff",
                                            alpha=0.1)
    assert close(r.abs_ci[0], lo)
    assert close(r.abs_ci[1], hi)
    assert r.method == "z_pooled/wald"


# --------------------------------------------------------------------------------------
# Means (Welch), ratios (delta method), CUPED (OLS)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy_ttest_ind_unequal_var(seed):
    rng = np.random.default_rng(seed)
    a = rng.gamma(2.0, 10.0, 57)
    b = rng.gamma(2.0, 12.0, 83) + 1.0
    r = compare_means(MeanStats.from_values(a), MeanStats.from_values(b), alpha=0.1)
    ref = sps.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert close(r.extra["t"], ref.statistic)
    assert close(r.p_value, ref.pvalue)
    assert close(r.extra["df"], ref.df)
    assert close(r.abs_ci[0], ci.low)
    assert close(r.abs_ci[1], ci.high)
    # Relative lift: delta method by hand, Var(b̄/ā) ≈ s²_b/(n_b ā²) + b̄² s²_a/(n_a ā⁴).
    ma, mb = a.mean(), b.mean()
    se = math.sqrt(b.var(ddof=1) / b.size / ma**2 + mb**2 * a.var(ddof=1) / a.size / ma**4)
    zq = sps.norm.ppf(0.95)
    assert close(r.rel_lift, mb / ma - 1)
    assert close(r.rel_ci[0], mb / ma - 1 - zq * se)
    assert close(r.rel_ci[1], mb / ma - 1 + zq * se)


def _delta_var_matrix(num: np.ndarray, den: np.ndarray) -> float:
    """Delta method in matrix form: gradient of x̄/ȳ times the covariance of the means."""
    cov = np.cov(np.vstack([num, den])) / num.size
    grad = np.array([1 / den.mean(), -num.mean() / den.mean() ** 2])
    return float(grad @ cov @ grad)


def test_ratio_delta_method_matches_matrix_form():
    rng = np.random.default_rng(11)
    orders_c, orders_t = rng.poisson(1.3, 300), rng.poisson(1.4, 280)
    rev_c = rng.gamma(np.maximum(orders_c, 1e-12) * 2.0, 20.0) * (orders_c > 0)
    rev_t = rng.gamma(np.maximum(orders_t, 1e-12) * 2.0, 22.0) * (orders_t > 0)
    r = compare_ratios(RatioStats.from_values(rev_c, orders_c),
                       RatioStats.from_values(rev_t, orders_t), metric="aov")
    vc, vt = _delta_var_matrix(rev_c, orders_c), _delta_var_matrix(rev_t, orders_t)
    rc, rt = rev_c.sum() / orders_c.sum(), rev_t.sum() / orders_t.sum()
    assert close(r.control_value, rc)
    assert close(r.variant_value, rt)
    assert close(r.extra["se"], math.sqrt(vc + vt))
    assert close(r.p_value, 2 * sps.norm.sf(abs(rt - rc) / math.sqrt(vc + vt)))
    se_rel = math.sqrt(vt / rc**2 + rt**2 * vc / rc**4)
    assert close(r.rel_ci[1] - r.rel_lift, sps.norm.ppf(0.975) * se_rel)


def test_ratio_with_unit_denominator_is_the_mean_with_a_normal_interval():
    rng = np.random.default_rng(5)
    a, b = rng.normal(10, 3, 200), rng.normal(10.5, 3, 210)
    r = compare_ratios(RatioStats.from_values(a, np.ones_like(a)),
                       RatioStats.from_values(b, np.ones_like(b)))
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert close(r.extra["se"], se)
    assert close(r.abs_lift, b.mean() - a.mean())


def _cuped_arrays(seed: int, n_c: int = 400, n_t: int = 380, effect: float = 0.8):
    rng = np.random.default_rng(seed)
    xc, xt = rng.gamma(3.0, 4.0, n_c), rng.gamma(3.0, 4.0, n_t)
    yc = 0.9 * xc + rng.normal(0, 4, n_c)
    yt = 0.9 * xt + rng.normal(0, 4, n_t) + effect
    return xc, yc, xt, yt


@pytest.mark.parametrize("seed", [0, 7])
def test_cuped_equals_ols_treatment_coefficient_with_common_slope(seed):
    xc, yc, xt, yt = _cuped_arrays(seed)
    r = cuped(CupedStats.from_values(yc, xc), CupedStats.from_values(yt, xt))
    x, y = np.concatenate([xc, xt]), np.concatenate([yc, yt])
    treat = np.r_[np.zeros(xc.size), np.ones(xt.size)]
    design = np.column_stack([np.ones_like(x), treat, x - x.mean()])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert close(r.abs_lift, coef[1])
    assert close(r.extra["theta"], coef[2])
    # Adjusted means are the OLS fitted values at x = x̄.
    assert close(r.control_value, coef[0])
    assert close(r.variant_value, coef[0] + coef[1])


def test_cuped_inference_is_welch_on_adjusted_units_and_reports_variance_reduction():
    xc, yc, xt, yt = _cuped_arrays(3)
    r = cuped(CupedStats.from_values(yc, xc), CupedStats.from_values(yt, xt))
    theta, xbar = r.extra["theta"], np.concatenate([xc, xt]).mean()
    ac, at = yc - theta * (xc - xbar), yt - theta * (xt - xbar)
    ref = sps.ttest_ind(at, ac, equal_var=False)
    ci = ref.confidence_interval()
    assert close(r.p_value, ref.pvalue)
    assert close(r.abs_ci[0], ci.low)
    assert close(r.abs_ci[1], ci.high)
    raw = yc.var(ddof=1) / yc.size + yt.var(ddof=1) / yt.size
    adj = ac.var(ddof=1) / ac.size + at.var(ddof=1) / at.size
    assert close(r.extra["variance_reduction"], 1 - adj / raw)
    # ρ² of the pooled within-arm correlation is what CUPED removes, approximately.
    rho = np.corrcoef(np.r_[xc - xc.mean(), xt - xt.mean()], np.r_[yc - yc.mean(), yt - yt.mean()])
    assert abs(r.extra["variance_reduction"] - rho[0, 1] ** 2) < 0.02
    assert r.extra["variance_reduction"] > 0.5
    assert close(r.extra["unadjusted_abs_lift"], yt.mean() - yc.mean())


def test_cuped_total_pooling_uses_covariance_over_all_units():
    xc, yc, xt, yt = _cuped_arrays(4, effect=5.0)
    x, y = np.concatenate([xc, xt]), np.concatenate([yc, yt])
    r = cuped(CupedStats.from_values(yc, xc), CupedStats.from_values(yt, xt),
              theta_pooling="total")
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    assert close(r.extra["theta"], theta)
    assert close(r.abs_lift, (yt.mean() - yc.mean()) - theta * (xt.mean() - xc.mean()))


def test_cuped_with_constant_covariate_is_plain_welch():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 50), rng.normal(0.3, 1, 60)
    r = cuped(CupedStats.from_values(a, np.zeros(50)), CupedStats.from_values(b, np.zeros(60)))
    plain = compare_means(MeanStats.from_values(a), MeanStats.from_values(b))
    assert r.extra["theta"] == 0.0
    assert close(r.p_value, plain.p_value)
    assert close(r.extra["variance_reduction"], 0.0)


# --------------------------------------------------------------------------------------
# SRM
# --------------------------------------------------------------------------------------
def test_srm_matches_scipy_chisquare_with_unequal_split():
    counts = {"control": 5210, "b": 2480, "c": 2310}
    r = srm_check(counts, {"control": 2, "b": 1, "c": 1})
    ref = sps.chisquare([5210, 2480, 2310], f_exp=[5000, 2500, 2500])
    assert close(r.statistic, ref.statistic)
    assert close(r.p_value, ref.pvalue)
    assert r.df == 2
    assert r.mismatch
    assert "SAMPLE RATIO MISMATCH" in r.message
    ok = srm_check({"control": 5020, "b": 4980}, {"control": 0.5, "b": 0.5})
    assert not ok.mismatch
    assert ok.p_value > 0.5
    assert srm_check({"a": 0, "b": 0}, {"a": 1, "b": 1}).error == "empty"


# --------------------------------------------------------------------------------------
# Multiple comparisons: statsmodels multipletests
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_holm_and_bh_match_statsmodels_multipletests(seed):
    rng = np.random.default_rng(seed)
    p = np.r_[rng.uniform(0, 0.06, 6), rng.uniform(0, 1, 5), [0.02, 0.02]]  # with ties
    assert np.allclose(holm(p), smm.multipletests(p, method="holm")[1], atol=1e-12, rtol=0)
    assert np.allclose(benjamini_hochberg(p), smm.multipletests(p, method="fdr_bh")[1],
                       atol=1e-12, rtol=0)


def test_nan_p_values_are_left_out_of_the_family():
    # Hand calculation: family {0.01, 0.04}: Holm 0.02, 0.04; BH 0.02, 0.04.
    assert holm([0.04, math.nan, 0.01])[::2] == pytest.approx([0.04, 0.02])
    assert math.isnan(holm([0.04, math.nan, 0.01])[1])
    assert benjamini_hochberg([0.04, math.nan, 0.01])[::2] == pytest.approx([0.04, 0.02])
    assert holm([]) == []


def _comp(metric: str, variant: str, p: float, error: str | None = None) -> Comparison:
    return Comparison(metric, variant, "control", 0.0, 0.0, 0.0, (0.0, 0.0), None, None, p,
                      "test", error=error)


def test_adjust_fills_adjusted_p_per_family_and_skips_error_cells():
    comps = [_comp("conv", "b", 0.01), _comp("conv", "c", 0.04), _comp("aov", "b", 0.03),
             _comp("aov", "c", math.nan, error="zero_variance")]
    every = adjust(comps, "holm")
    assert [c.adjusted_p_value for c in every] == pytest.approx([0.03, 0.06, 0.06, None])
    per_metric = adjust(comps, "bh", family="metric")
    # conv: BH of {0.01, 0.04} = {0.02, 0.04}; aov: a family of one keeps 0.03.
    assert [c.adjusted_p_value for c in per_metric[:3]] == pytest.approx([0.02, 0.04, 0.03])
    assert per_metric[3].adjusted_p_value is None
    assert comps[0].adjusted_p_value is None  # inputs untouched


# --------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------
def _loop_bootstrap(c: np.ndarray, t: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Reference: one resample at a time, same generators."""
    rng_c, rng_t = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    mc = [c[rng_c.integers(0, c.size, size=c.size)].mean() for _ in range(n_boot)]
    mt = [t[rng_t.integers(0, t.size, size=t.size)].mean() for _ in range(n_boot)]
    return np.array(mt) - np.array(mc)


def test_bootstrap_equals_a_plain_loop_and_is_reproducible_by_seed():
    rng = np.random.default_rng(8)
    c, t = rng.lognormal(3, 1, 90), rng.lognormal(3.2, 1, 70)
    r = bootstrap_mean_diff(c, t, n_boot=500, seed=42, chunk_size=64)
    diffs = _loop_bootstrap(c, t, 500, 42)
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    assert close(r.abs_ci[0], lo)
    assert close(r.abs_ci[1], hi)
    below, above = (1 + (diffs <= 0).sum()) / 501, (1 + (diffs >= 0).sum()) / 501
    assert close(r.p_value, min(1.0, 2 * min(below, above)))
    again = bootstrap_mean_diff(c, t, n_boot=500, seed=42, chunk_size=7)
    assert again == r  # chunking does not change the draws
    other = bootstrap_mean_diff(c, t, n_boot=500, seed=43)
    assert other.abs_ci != r.abs_ci


def test_bootstrap_agrees_with_welch_on_a_large_sample():
    rng = np.random.default_rng(9)
    c, t = rng.normal(20, 5, 3000), rng.normal(20.4, 5, 3000)
    b = bootstrap_mean_diff(c, t, n_boot=2000, seed=1)
    w = compare_means(MeanStats.from_values(c), MeanStats.from_values(t))
    width = w.abs_ci[1] - w.abs_ci[0]
    assert abs(b.abs_ci[0] - w.abs_ci[0]) < 0.05 * width
    assert abs(b.abs_ci[1] - w.abs_ci[1]) < 0.05 * width
    assert abs(b.extra["se"] - w.extra["se"]) < 0.05 * w.extra["se"]


# --------------------------------------------------------------------------------------
# Capping
# --------------------------------------------------------------------------------------
def test_caps_come_from_the_pooled_linear_quantile():
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    # Linear interpolation: position 0.9 * 4 = 3.6 → 4 + 0.6 * 96 = 61.6.
    assert winsorize_limits(values, 0.9) == (-math.inf, pytest.approx(61.6))
    assert cap_values(values, 0.9).tolist() == pytest.approx([1, 2, 3, 4, 61.6])
    assert cap_values(values, 0.9, lower_quantile=0.25).tolist() == pytest.approx(
        [2, 2, 3, 4, 61.6])
    assert values[-1] == 100.0  # input untouched


def test_pooled_caps_keep_the_sign_where_per_arm_caps_flip_it_means():
    # Control: 90 units at 0 and 10 at 100 (mean 10). Treatment: 96 at 9 and 4 at 80
    # (mean 11.84): raw effect +1.84.
    c = np.r_[np.zeros(90), np.full(10, 100.0)]
    t = np.r_[np.full(96, 9.0), np.full(4, 80.0)]
    # Per-arm 95% caps (hand): control 100 (no change, mean 10); treatment 9 (mean 9) → −1.
    per_arm = np.minimum(t, 9.0).mean() - np.minimum(c, 100.0).mean()
    assert np.quantile(t, 0.95) == 9.0
    assert np.quantile(c, 0.95) == 100.0
    assert per_arm == pytest.approx(-1.0)
    # Pooled cap (hand): position 0.95 * 199 = 189.05 between 80 and 100 → 81.
    capped = cap_values(np.r_[c, t], 0.95)
    cc, ct = capped[:100], capped[100:]
    assert cc.max() == pytest.approx(81.0)
    assert ct.mean() - cc.mean() == pytest.approx(11.84 - 8.1)
    assert np.sign(ct.mean() - cc.mean()) == np.sign(t.mean() - c.mean()) == 1


def test_pooled_caps_keep_the_sign_where_per_arm_caps_flip_it_ratio_aov():
    # AOV = revenue / orders per customer. Control: 16 × (20, 1 order), 4 × (300, 3);
    # treatment: 18 × (40, 1), 2 × (400, 3). Raw AOV 1520/28 vs 1520/24: treatment higher.
    rev_c, ord_c = np.r_[np.full(16, 20.0), np.full(4, 300.0)], np.r_[np.ones(16), np.full(4, 3.0)]
    rev_t, ord_t = np.r_[np.full(18, 40.0), np.full(2, 400.0)], np.r_[np.ones(18), np.full(2, 3.0)]
    raw = compare_ratios(RatioStats.from_values(rev_c, ord_c), RatioStats.from_values(rev_t, ord_t))
    assert raw.abs_lift == pytest.approx(1520 / 24 - 1520 / 28)
    # Per-arm 90% caps (hand, position 17.1 of 20): control (300, 3) changes nothing;
    # treatment (76, 1.2) → AOV (18·40 + 2·76) / (18 + 2·1.2) = 872 / 20.4 < 1520 / 28.
    per_arm = 872 / 20.4 - 1520 / 28
    assert per_arm < 0
    assert np.quantile(rev_t, 0.9) == pytest.approx(76.0)
    assert np.quantile(ord_t, 0.9) == pytest.approx(1.2)
    # Pooled 90% caps (hand, position 35.1 of 40): revenue 300, orders 3 → treatment
    # AOV (18·40 + 2·300) / 24 = 55 > 1520/28: the sign is kept.
    num, den = cap_ratio_values(np.r_[rev_c, rev_t], np.r_[ord_c, ord_t], 0.9)
    capped = compare_ratios(RatioStats.from_values(num[:20], den[:20]),
                            RatioStats.from_values(num[20:], den[20:]))
    assert capped.variant_value == pytest.approx(55.0)
    assert capped.control_value == pytest.approx(1520 / 28)
    assert np.sign(capped.abs_lift) == np.sign(raw.abs_lift) == 1


def test_pooled_caps_never_reverse_a_stochastic_ordering():
    # When every quantile of the treatment is at least the control's, the common monotone
    # map v ↦ min(v, cap) keeps that ordering, so the capped effect keeps its sign.
    rng = np.random.default_rng(12)
    for _ in range(300):
        n = int(rng.integers(5, 40))
        c = np.sort(rng.lognormal(2, 1.5, n))
        t = c + rng.exponential(1.0, n) * (rng.random(n) < 0.5)
        q = float(rng.uniform(0.5, 0.99))
        capped = cap_values(np.r_[c, t], q)
        assert capped[n:].mean() >= capped[:n].mean() - 1e-12


# --------------------------------------------------------------------------------------
# Coverage and false positives (issue 6 item 5), seeded vectorised Monte Carlo
# --------------------------------------------------------------------------------------
SIMS = 10_000  # binomial SE of a 95% coverage estimate: 0.22 points


def _rate(hits: list[bool]) -> float:
    return float(np.mean(hits))


def test_proportions_cover_95_percent_and_aa_false_positives_near_5_percent():
    rng = np.random.default_rng(2026)
    n, pc, pt = 3000, 0.10, 0.115
    xc, xt = rng.binomial(n, pc, SIMS), rng.binomial(n, pt, SIMS)
    ac, at = rng.binomial(n, pc, SIMS), rng.binomial(n, pc, SIMS)
    cover_abs, cover_rel, cover_wald, false_pos = [], [], [], []
    for i in range(SIMS):
        r = compare_proportions(ProportionStats(n, xc[i]), ProportionStats(n, xt[i]))
        cover_abs.append(r.abs_ci[0] <= pt - pc <= r.abs_ci[1])
        cover_rel.append(r.rel_ci[0] <= pt / pc - 1 <= r.rel_ci[1])
        w = compare_proportions(ProportionStats(n, xc[i]), ProportionStats(n, xt[i]),
                                interval="wald")
        cover_wald.append(w.abs_ci[0] <= pt - pc <= w.abs_ci[1])
        false_pos.append(compare_proportions(ProportionStats(n, ac[i]),
                                             ProportionStats(n, at[i])).p_value < 0.05)
    for hits in (cover_abs, cover_rel, cover_wald):
        assert 0.94 <= _rate(hits) <= 0.96
    assert 0.04 <= _rate(false_pos) <= 0.06


def test_means_cover_95_percent_and_aa_false_positives_near_5_percent():
    # Skewed per-unit values (exponential, like spend), unequal arm sizes and variances.
    rng = np.random.default_rng(7)
    nc, nt, mc, mt = 400, 300, 10.0, 11.5
    yc, yt = rng.exponential(mc, (SIMS, nc)), rng.exponential(mt, (SIMS, nt))
    aa = rng.exponential(mc, (SIMS, nt))
    sums = [(v.sum(1), (v * v).sum(1)) for v in (yc, yt, aa)]
    cover_abs, cover_rel, false_pos = [], [], []
    for i in range(SIMS):
        c = MeanStats(nc, sums[0][0][i], sums[0][1][i])
        r = compare_means(c, MeanStats(nt, sums[1][0][i], sums[1][1][i]))
        cover_abs.append(r.abs_ci[0] <= mt - mc <= r.abs_ci[1])
        cover_rel.append(r.rel_ci[0] <= mt / mc - 1 <= r.rel_ci[1])
        false_pos.append(compare_means(c, MeanStats(nt, sums[2][0][i], sums[2][1][i])).p_value
                         < 0.05)
    for hits in (cover_abs, cover_rel):
        assert 0.94 <= _rate(hits) <= 0.96
    assert 0.04 <= _rate(false_pos) <= 0.06


def test_ratio_and_cuped_intervals_cover_95_percent():
    # AOV: orders ~ Poisson(1.2) per customer, each order Gamma(2, scale); treatment raises
    # the order value by 10%. True AOV = 2·scale. CUPED: y = x + noise + effect.
    rng = np.random.default_rng(99)
    sims, n = 4000, 300
    cover_ratio, cover_cuped, reductions = [], [], []
    oc, ot = rng.poisson(1.2, (sims, n)), rng.poisson(1.2, (sims, n))
    rc = rng.gamma(np.maximum(oc, 1e-12) * 2.0, 15.0) * (oc > 0)
    rt = rng.gamma(np.maximum(ot, 1e-12) * 2.0, 16.5) * (ot > 0)
    xc, xt = rng.normal(50, 10, (sims, n)), rng.normal(50, 10, (sims, n))
    yc = xc + rng.normal(0, 5, (sims, n))
    yt = xt + rng.normal(0, 5, (sims, n)) + 1.0

    def ratio_stats(num, den, i):
        return RatioStats(n, num[i].sum(), den[i].sum(), num[i] @ num[i], den[i] @ den[i],
                          num[i] @ den[i])

    for i in range(sims):
        r = compare_ratios(ratio_stats(rc, oc, i), ratio_stats(rt, ot, i))
        cover_ratio.append(r.abs_ci[0] <= 3.0 <= r.abs_ci[1])
        k = cuped(CupedStats.from_values(yc[i], xc[i]), CupedStats.from_values(yt[i], xt[i]))
        cover_cuped.append(k.abs_ci[0] <= 1.0 <= k.abs_ci[1])
        reductions.append(k.extra["variance_reduction"])
    # 4,000 runs: SE 0.34 points; the band is ±1.5 points around 95%.
    assert 0.935 <= _rate(cover_ratio) <= 0.965
    assert 0.935 <= _rate(cover_cuped) <= 0.965
    # ρ² = 100 / 125 = 0.8 of the variance is explained by the covariate.
    assert abs(np.mean(reductions) - 0.8) < 0.01
