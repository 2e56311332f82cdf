"""Bayesian comparisons (``shopscope.experiments.bayes``).

Outside authorities: Evan Miller's closed-form sum for ``P(T > C)`` between two Beta
posteriors with integer parameters ("Formulas for Bayesian A/B testing", 2015), seeded
Monte Carlo draws from the posteriors (issue 6, item 5: within 0.5 percentage points),
scipy's Welch t statistic for the flat-prior normal comparison, direct quadrature for the
normal expected loss, and the conjugate normal update worked by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from shopscope.errors import OptionError
from shopscope.experiments.bayes import beta_binomial, normal_means
from shopscope.experiments.stats import MeanStats, ProportionStats

CASES = [  # (n_c, x_c, n_t, x_t): balanced, unbalanced, tiny, huge, variant worse
    (1000, 100, 1000, 120),
    (50, 3, 20_000, 1_300),
    (20_000, 1_300, 40, 2),
    (10, 0, 10, 1),
    (400_000, 20_000, 400_000, 20_300),
    (5_000, 260, 5_000, 231),
]


def _evan_miller(a_c, b_c, a_t, b_t):
    """P(T > C), T ~ Beta(a_t, b_t), C ~ Beta(a_c, b_c), a_t an integer (Evan Miller 2015)."""
    i = np.arange(int(a_t))
    log_terms = (special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i)
                 - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c))
    return float(np.exp(log_terms).sum())


@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), [c for c in CASES if c[3] < 5000])
def test_chance_to_win_equals_evan_miller_closed_form(nc, xc, nt, xt):
    r = beta_binomial(ProportionStats(nc, xc), ProportionStats(nt, xt))
    expected = _evan_miller(1 + xc, 1 + nc - xc, 1 + xt, 1 + nt - xt)
    assert r.chance_to_win == pytest.approx(expected, abs=1e-9)


@pytest.fixture(scope="module")
def monte_carlo():
    """400,000 posterior draws per arm and case (seeded); Monte Carlo SE <= 0.08 points."""
    rng = np.random.default_rng(20261123)
    out = {}
    for nc, xc, nt, xt in CASES:
        c = rng.beta(1 + xc, 1 + nc - xc, 400_000)
        t = rng.beta(1 + xt, 1 + nt - xt, 400_000)
        out[(nc, xc, nt, xt)] = (c, t)
    return out


@pytest.mark.parametrize("case", CASES)
def test_beta_binomial_matches_independent_monte_carlo(case, monte_carlo):
    c, t = monte_carlo[case]
    nc, xc, nt, xt = case
    r = beta_binomial(ProportionStats(nc, xc), ProportionStats(nt, xt))
    # issue 6, item 5: chance to win within 0.5 percentage points
    assert abs(r.chance_to_win - (t > c).mean()) < 0.005
    # expected losses: MC mean of max(C - T, 0), relative error of a few MC SEs
    for got, draws in [(r.expected_loss, np.maximum(c - t, 0)),
                       (r.expected_loss_control, np.maximum(t - c, 0))]:
        se = draws.std() / math.sqrt(draws.size)
        assert abs(got - draws.mean()) < 5 * se + 1e-12
    # credible intervals: MC quantiles, within 3% of the lift's posterior sd
    sd_abs, sd_rel = (t - c).std(), (t / c - 1).std()
    assert r.abs_ci == pytest.approx(tuple(np.quantile(t - c, [0.025, 0.975])), abs=0.03 * sd_abs)
    assert r.rel_ci == pytest.approx(tuple(np.quantile(t / c - 1, [0.025, 0.975])),
                                     abs=0.03 * sd_rel)


def test_hand_computed_posterior_means_and_lifts():
    # Beta(1 + 100, 1 + 900): mean 101/1002; Beta(1 + 120, 1 + 880): mean 121/1002
    r = beta_binomial(ProportionStats(1000, 100), ProportionStats(1000, 120))
    assert r.control_value == pytest.approx(101 / 1002)
    assert r.variant_value == pytest.approx(121 / 1002)
    assert r.abs_lift == pytest.approx(20 / 1002)
    assert r.rel_lift == pytest.approx(121 / 101 - 1)
    # E[max(T - C, 0)] - E[max(C - T, 0)] = E[T - C]
    assert r.expected_loss_control - r.expected_loss == pytest.approx(20 / 1002, abs=1e-12)
    assert r.abs_ci[0] < r.abs_lift < r.abs_ci[1]
    assert r.prior == "Beta(1, 1) on each arm rate" and r.ci_level == 0.95
    assert json.loads(json.dumps(r.to_dict()))["abs_ci"] == pytest.approx(list(r.abs_ci))


def test_swapping_arms_mirrors_the_result():
    a, b = ProportionStats(3000, 150), ProportionStats(2500, 140)
    r, s = beta_binomial(a, b), beta_binomial(b, a)
    assert r.chance_to_win + s.chance_to_win == pytest.approx(1.0, abs=1e-10)
    assert r.expected_loss == pytest.approx(s.expected_loss_control, abs=1e-12)
    assert r.abs_ci == pytest.approx((-s.abs_ci[1], -s.abs_ci[0]), abs=1e-9)


def test_identical_arms_are_a_coin_flip():
    r = beta_binomial(ProportionStats(777, 31), ProportionStats(777, 31))
    assert r.chance_to_win == pytest.approx(0.5, abs=1e-10)
    assert r.expected_loss == pytest.approx(r.expected_loss_control, abs=1e-12)


def test_jeffreys_prior_is_used_and_stated():
    # with no data the posterior is the prior: two independent Beta(0.5, 0.5) rates
    r = beta_binomial(ProportionStats(0, 0), ProportionStats(0, 0), prior=(0.5, 0.5))
    assert r.prior == "Beta(0.5, 0.5) on each arm rate"
    assert r.control_value == pytest.approx(0.5) and r.chance_to_win == pytest.approx(0.5)
    # E|C - T| for two arcsine variables: E[(C-T)^2] = 2 Var = 2 · 1/8; here just symmetry
    assert r.expected_loss == pytest.approx(r.expected_loss_control, abs=1e-10)
    # a stronger prior pulls both posterior means toward its mean 0.2
    s = beta_binomial(ProportionStats(10, 5), ProportionStats(10, 5), prior=(20, 80))
    assert s.control_value == pytest.approx(25 / 110)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"prior": (0, 1)}, r"positive and finite"), ({"prior": (1, -2)}, r"positive"),
     ({"prior": "flat"}, r"pair"), ({"alpha": 1.0}, r"alpha must be in \(0, 1\)")],
)
def test_bad_beta_options_raise(kwargs, match):
    with pytest.raises(OptionError, match=match):
        beta_binomial(ProportionStats(10, 1), ProportionStats(10, 2), **kwargs)


# -- means ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spend():
    rng = np.random.default_rng(99)
    c = rng.gamma(2.0, 20.0, 800)
    t = rng.gamma(2.0, 22.0, 650)
    return c, t


def test_flat_prior_chance_to_win_is_welch_statistic_scipy(spend):
    c, t = spend
    r = normal_means(MeanStats.from_values(c), MeanStats.from_values(t))
    welch = stats.ttest_ind(t, c, equal_var=False).statistic  # (mean_t - mean_c) / sqrt(V)
    assert r.chance_to_win == pytest.approx(stats.norm.cdf(welch), abs=1e-12)
    se = math.sqrt(c.var(ddof=1) / c.size + t.var(ddof=1) / t.size)
    diff = t.mean() - c.mean()
    assert r.abs_lift == pytest.approx(diff, rel=1e-12)
    assert r.abs_ci == pytest.approx((diff - 1.959964 * se, diff + 1.959964 * se), rel=1e-6)
    assert r.prior == "flat on the difference"


def test_normal_expected_loss_equals_quadrature(spend):
    c, t = spend
    r = normal_means(MeanStats.from_values(c), MeanStats.from_values(t), prior=(0.0, 5.0))
    m, s = r.abs_lift, (r.abs_ci[1] - r.abs_ci[0]) / (2 * stats.norm.ppf(0.975))
    loss, _ = integrate.quad(lambda d: max(-d, 0.0) * stats.norm.pdf(d, m, s), m - 12 * s,
                             m + 12 * s, points=[0.0], epsabs=1e-13)
    gain, _ = integrate.quad(lambda d: max(d, 0.0) * stats.norm.pdf(d, m, s), m - 12 * s,
                             m + 12 * s, points=[0.0], epsabs=1e-13)
    assert r.expected_loss == pytest.approx(loss, abs=1e-9)
    assert r.expected_loss_control == pytest.approx(gain, abs=1e-9)


def test_normal_prior_conjugate_update_by_hand():
    # control mean 10 (var 4, n 100), variant mean 10.5 (var 4, n 100): d = 0.5, V = 0.08
    c = MeanStats(100, 1000.0, 100 * 10.0**2 + 99 * 4.0)
    t = MeanStats(100, 1050.0, 100 * 10.5**2 + 99 * 4.0)
    # prior N(0, 0.2²): precision 1/0.08 + 1/0.04 = 12.5 + 25 = 37.5
    # posterior mean 0.5 · 12.5 / 37.5 = 0.166667, sd sqrt(1/37.5) = 0.163299
    r = normal_means(c, t, prior=(0.0, 0.2))
    assert r.abs_lift == pytest.approx(1 / 6)
    assert r.chance_to_win == pytest.approx(stats.norm.cdf((1 / 6) / math.sqrt(1 / 37.5)))
    assert r.chance_to_win == pytest.approx(0.8463, abs=1e-4)  # Φ(1.0206)
    assert r.prior == "N(0, 0.2^2) on the difference"
    # relative lift: 0.16667 / 10, delta-method sd sqrt(s²/100 + m²·0.04/10⁴ + 2m·0.04/10³)
    rel_sd = math.sqrt(1 / 37.5 / 100 + (1 / 6) ** 2 * 0.04 / 1e4 + 2 * (1 / 6) * 0.04 / 1e3)
    assert r.rel_lift == pytest.approx(1 / 60)
    assert r.rel_ci == pytest.approx((1 / 60 - 1.959964 * rel_sd, 1 / 60 + 1.959964 * rel_sd),
                                     rel=1e-6)


def test_normal_means_cells_that_cannot_be_computed():
    few = normal_means(MeanStats.from_values([1.0]), MeanStats.from_values([1.0, 3.0]))
    flat = normal_means(MeanStats.from_values([2.0, 2.0]), MeanStats.from_values([5.0, 5.0]))
    assert few.error == "too_few_units" and math.isnan(few.chance_to_win)
    assert flat.error == "zero_variance" and math.isnan(flat.abs_ci[0])
    assert flat.to_dict()["abs_ci"] == [None, None]  # NaN is not JSON: None


@pytest.mark.parametrize("prior", [(0.0, 0.0), (0.0, -1.0), (math.nan, 1.0)])
def test_bad_normal_prior_raises(prior):
    with pytest.raises(OptionError, match=r"prior must be \(mean, sd\)"):
        normal_means(MeanStats(10, 10.0, 20.0), MeanStats(10, 12.0, 30.0), prior=prior)
