"""mSPRT always-valid p-values and confidence sequences (``shopscope.experiments.sequential``).

Outside authorities: the mixture likelihood ratio is checked against direct numerical
integration of the normal likelihood ratio over the N(0, tau2) mixing density (Johari et
al. 2017, eq. for the mSPRT statistic), the interval against the two-sided normal-mixture
boundary written as in Howard et al. 2021 (sum S and intrinsic time). The error-rate claims
are checked by seeded simulations of 2,000 A/A and A/B tests peeked daily for 28 days; the
sufficient statistics of the simulations are computed with numpy, the peek statistics with
the module's own ``running``.

No engine is involved: these functions take the small per-variant statistics the engine
aggregates (see ``analysis.py``), so there is no DuckDB/Spark variant of this suite.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from shopscope.errors import OptionError
from shopscope.experiments.sequential import (
    DEFAULT_RELATIVE_EFFECT,
    always_valid_p,
    confidence_sequence,
    msprt_means,
    msprt_proportions,
    optimal_tau2,
    running,
    tau2_from_mde,
)
from shopscope.experiments.stats import MeanStats, ProportionStats

N_SIMS, DAYS = 2000, 28


# -- the statistic against its definition ---------------------------------------------------
@pytest.mark.parametrize(
    ("d", "v", "tau2"), [(0.01, 1.039e-5, 1e-4), (0.0, 2e-5, 1e-5), (-0.3, 0.01, 0.5),
                         (2.0, 1.0, 0.2), (0.004, 2e-6, 4e-6)]
)
def test_mixture_likelihood_ratio_equals_numerical_integral_johari_2017(d, v, tau2):
    # Lambda = ∫ N(d; theta, V) / N(d; 0, V) dN(theta; 0, tau2), integrated by quadrature.
    sd, tau = math.sqrt(v), math.sqrt(tau2)

    def integrand(theta):
        return math.exp((d * theta - theta**2 / 2) / v) * stats.norm.pdf(theta, 0, tau)

    lo, hi = min(0, d) - 12 * (tau + sd), max(0, d) + 12 * (tau + sd)
    lam, _ = integrate.quad(integrand, lo, hi, points=[0.0, d], limit=400, epsrel=1e-12)
    assert always_valid_p(d, v, tau2) == pytest.approx(min(1.0, 1.0 / lam), rel=1e-8)


@pytest.mark.parametrize(("d", "v", "tau2", "alpha"),
                         [(0.01, 1e-5, 1e-4, 0.05), (-1.0, 0.3, 2.0, 0.1), (0.0, 1.0, 1.0, 0.01)])
def test_confidence_sequence_is_howard_2021_normal_mixture_boundary(d, v, tau2, alpha):
    # Howard et al. (2021): with intrinsic time I = 1/V, S = d·I and rho = 1/tau2, the
    # two-sided normal-mixture boundary is
    #     |S - theta·I| <= sqrt((I + rho) log((I + rho) / (rho alpha²))).
    info, rho = 1.0 / v, 1.0 / tau2
    half = math.sqrt((info + rho) * math.log((info + rho) / (rho * alpha**2))) / info
    lo, hi = confidence_sequence(d, v, tau2, alpha)
    assert lo == pytest.approx(d - half, rel=1e-12, abs=1e-15)
    assert hi == pytest.approx(d + half, rel=1e-12, abs=1e-15)
    # ... and at the boundary the mixture test of theta = hi is exactly at level alpha.
    assert always_valid_p(d - hi, v, tau2) == pytest.approx(alpha, rel=1e-9)


def test_rejection_and_interval_agree_at_every_peek():
    rng = np.random.default_rng(7)
    d = rng.normal(0, 0.01, 5000)
    v = rng.uniform(1e-6, 1e-4, 5000)
    p = always_valid_p(d, v, 2.5e-5)
    lo, hi = confidence_sequence(d, v, 2.5e-5, 0.05)
    outside = (lo > 0) | (hi < 0)
    assert np.array_equal(p < 0.05, outside)
    assert 50 < outside.sum() < 4950  # both outcomes occur


def test_hand_computed_proportions_peek():
    # control 500/10,000 = 5%, variant 600/10,000 = 6%, d = 0.01
    # V = .05·.95/1e4 + .06·.94/1e4 = 4.75e-6 + 5.64e-6 = 1.039e-5; tau2 = 1e-4
    # Lambda = sqrt(1.039e-5 / 1.1039e-4) · exp(1e-4 · 1e-4 / (2 · 1.039e-5 · 1.1039e-4))
    #        = 0.306792 · exp(4.35939) = 0.306792 · 78.2199 = 23.997  ->  p = 0.04167
    # half-width² = 1.039e-5 · 1.1039e-4 / 1e-4 · (2 ln 20 + ln(1.1039e-4 / 1.039e-5))
    #             = 1.146952e-5 · (5.991465 + 2.363283) = 9.5826e-5 -> half = 0.0097890
    r = msprt_proportions(ProportionStats(10_000, 500), ProportionStats(10_000, 600), tau2=1e-4)
    assert r.estimate == pytest.approx(0.01)
    assert r.variance == pytest.approx(1.039e-5)
    assert r.p_value == pytest.approx(0.04167, abs=2e-5)
    assert r.ci == pytest.approx((0.01 - 0.009789, 0.01 + 0.009789), abs=2e-6)
    assert r.stop and r.method == "msprt_proportions" and r.error is None
    assert json.loads(json.dumps(r.to_dict()))["ci"] == pytest.approx(list(r.ci))


def test_hand_computed_means_peek_and_default_tau2():
    # control: values 8, 10, 12 -> mean 10, var 4; variant: 9, 12, 15 -> mean 12, var 9
    # V = 4/3 + 9/3 = 13/3; default tau2 = (0.1 · 10)² = 1
    c, t = MeanStats.from_values([8.0, 10.0, 12.0]), MeanStats.from_values([9.0, 12.0, 15.0])
    r = msprt_means(c, t)
    assert r.tau2 == pytest.approx((DEFAULT_RELATIVE_EFFECT * 10) ** 2) == pytest.approx(1.0)
    assert r.variance == pytest.approx(13 / 3)
    v = 13 / 3
    lam = math.sqrt(v / (v + 1)) * math.exp(4 / (2 * v * (v + 1)))  # 0.90139 · 1.09062
    assert r.p_value == pytest.approx(min(1, 1 / lam))
    assert not r.stop


def test_default_tau2_for_proportions_is_ten_percent_of_control_rate():
    r = msprt_proportions(ProportionStats(2000, 100), ProportionStats(2000, 90))
    assert r.tau2 == pytest.approx(0.005**2)
    # a control without outcomes takes the pooled rate: 10 / 4000 = 0.0025
    r0 = msprt_proportions(ProportionStats(2000, 0), ProportionStats(2000, 10))
    assert r0.tau2 == pytest.approx(0.00025**2)


def test_optimal_tau2_minimises_the_width_at_the_planned_variance():
    tau2 = optimal_tau2(3e-5, alpha=0.05)
    r = tau2 / 3e-5
    assert r == pytest.approx(2 * math.log(20) + math.log1p(r), rel=1e-10)

    def width(t2):
        return np.subtract(*confidence_sequence(0.0, 3e-5, t2, 0.05)[::-1])

    assert width(tau2) < width(tau2 * 0.9) and width(tau2) < width(tau2 * 1.1)
    # tuned to an MDE: tau ≈ mde (ratio 8.21 / 2.8016² = 1.046)
    assert tau2_from_mde(0.02) == pytest.approx(1.0463 * 0.02**2, rel=1e-4)


# -- running paths ------------------------------------------------------------------------
def test_running_path_is_monotone_and_stops_once():
    # variant converts at 6% against 5%, 1,000 units per arm per day for 20 days
    rng = np.random.default_rng(3)
    xc = rng.binomial(1000, 0.05, 20).cumsum()
    xt = rng.binomial(1000, 0.06, 20).cumsum()
    peeks = [(ProportionStats(1000 * (k + 1), int(xc[k])),
              ProportionStats(1000 * (k + 1), int(xt[k]))) for k in range(20)]
    path = running(peeks, tau2=1e-4)
    p = np.array(path.p_values)
    assert np.all(np.diff(p) <= 0)
    lo = np.array([ci[0] for ci in path.cis])
    hi = np.array([ci[1] for ci in path.cis])
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) <= 0)
    # each entry is the running min of the single-peek p-values
    raw = [msprt_proportions(c, t, tau2=1e-4).p_value for c, t in peeks]
    assert p == pytest.approx(np.minimum.accumulate(raw))
    if path.stop_index is not None:
        assert p[path.stop_index] < 0.05 and np.all(p[: path.stop_index] >= 0.05)
        assert lo[path.stop_index] > 0
    d = path.to_dict()
    assert json.loads(json.dumps(d))["stop_index"] == path.stop_index
    assert len(d["cis"]) == 20


def test_running_default_tau2_comes_from_the_last_peek():
    peeks = [(ProportionStats(100, 4), ProportionStats(100, 5)),
             (ProportionStats(400, 20), ProportionStats(400, 22))]
    assert running(peeks).tau2 == pytest.approx((0.1 * 20 / 400) ** 2)


@pytest.mark.parametrize(
    "peeks",
    [
        [],
        [(ProportionStats(100, 5), ProportionStats(100, 5)),
         (ProportionStats(90, 5), ProportionStats(200, 9))],  # units decrease
        [(ProportionStats(100, 5), MeanStats(100, 5.0, 9.0))],  # mixed kinds
    ],
)
def test_running_rejects_bad_paths(peeks):
    with pytest.raises(OptionError):
        running(peeks)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"alpha": 0.0}, r"alpha must be in \(0, 1\)"), ({"alpha": 1.5}, r"alpha must be in"),
     ({"tau2": 0.0}, r"tau2 must be a positive"), ({"tau2": -1.0}, r"tau2 must be a positive"),
     ({"tau2": math.inf}, r"tau2 must be a positive")],
)
def test_bad_options_raise_option_error(kwargs, match):
    with pytest.raises(OptionError, match=match):
        msprt_proportions(ProportionStats(100, 5), ProportionStats(100, 6), **kwargs)


def test_cells_that_cannot_be_tested_carry_a_code():
    empty = msprt_proportions(ProportionStats(0, 0), ProportionStats(100, 6))
    zero = msprt_proportions(ProportionStats(100, 0), ProportionStats(100, 0), tau2=1e-4)
    no_scale = msprt_proportions(ProportionStats(100, 0), ProportionStats(100, 0))
    few = msprt_means(MeanStats.from_values([1.0]), MeanStats.from_values([1.0, 2.0]))
    flat = msprt_means(MeanStats.from_values([2.0, 2.0]), MeanStats.from_values([2.0, 2.0]))
    for r, code in [(empty, "empty"), (zero, "zero_variance"), (no_scale, "no_scale"),
                    (few, "too_few_units"), (flat, "zero_variance")]:
        assert r.error == code
        assert r.p_value == 1.0 and not r.stop and all(math.isnan(v) for v in r.ci)
        assert json.loads(json.dumps(r.to_dict(), allow_nan=False))["ci"] == [None, None]


# -- simulations: peeking daily ------------------------------------------------------------
def _simulate_proportions(seed, p_c, p_t, per_day=1000):
    """Cumulative (n, x_c, x_t) of N_SIMS tests over DAYS days.

    1,000 units per arm a day at 5% conversion: the default tau (10% of 5% = 0.5 points) is
    then close to the MDE of a 28-day plan, i.e. the test is tuned as the docs recommend.
    """
    rng = np.random.default_rng(seed)
    xc = rng.binomial(per_day, p_c, (N_SIMS, DAYS)).cumsum(axis=1)
    xt = rng.binomial(per_day, p_t, (N_SIMS, DAYS)).cumsum(axis=1)
    return per_day * np.arange(1, DAYS + 1), xc, xt


def _proportion_paths(n, xc, xt, tau2=None):
    return [
        running([(ProportionStats(int(n[k]), int(xc[s, k])),
                  ProportionStats(int(n[k]), int(xt[s, k]))) for k in range(DAYS)], tau2=tau2)
        for s in range(N_SIMS)
    ]


def _naive_z_p(n, xc, xt):
    """Pooled two-proportion z-test p-values at every peek (what a dashboard shows)."""
    pooled = (xc + xt) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    z = (xt - xc) / n / np.where(se > 0, se, np.inf)
    return 2 * stats.norm.sf(np.abs(z))


def _stopped(paths):
    return np.mean([p.stop_index is not None for p in paths])


def _covered(paths, truth):
    # the last interval of a path is the intersection of all: covering there = at every peek
    return np.mean([p.cis[-1][0] <= truth <= p.cis[-1][1] for p in paths])


@pytest.fixture(scope="module")
def aa_proportions():
    n, xc, xt = _simulate_proportions(2026, 0.05, 0.05)
    return n, xc, xt, _proportion_paths(n, xc, xt)


def test_aa_peeking_daily_keeps_the_false_positive_rate(aa_proportions):
    n, xc, xt, paths = aa_proportions
    naive_p = _naive_z_p(n, xc, xt)
    # One look at the end is a valid 5% test; stopping at the first of 28 daily looks is not.
    assert 0.035 < (naive_p[:, -1] < 0.05).mean() < 0.065
    assert (naive_p < 0.05).any(axis=1).mean() > 0.15
    # mSPRT: at most 5%. Ville's bound holds for continuous monitoring over an unbounded
    # horizon, so 28 daily looks use only part of it (about 1% here); > 0.4% shows the
    # test is not degenerate.
    assert 0.004 < _stopped(paths) <= 0.05


def test_aa_confidence_sequence_covers_zero_at_every_peek(aa_proportions):
    *_, paths = aa_proportions
    assert _covered(paths, 0.0) >= 0.95


def test_ab_confidence_sequence_covers_the_true_effect_uniformly_over_peeks():
    p_c, p_t = 0.05, 0.055  # +10% relative, 0.5 points
    n, xc, xt = _simulate_proportions(11, p_c, p_t)
    paths = _proportion_paths(n, xc, xt)
    fixed_power = (_naive_z_p(n, xc, xt)[:, -1] < 0.05).mean()  # one look at 28,000 per arm
    assert _covered(paths, p_t - p_c) >= 0.95
    # not vacuous: the sequential test finds the effect often, though less often than a
    # single fixed-horizon look (about 75% here): the price of being allowed to peek
    assert 0.3 < _stopped(paths) < fixed_power


def _simulate_spend(seed, lift, per_day=100, buy=0.5, sigma=0.6):
    """Daily cumulative MeanStats pairs of zero-inflated log-normal spend, N_SIMS tests.

    Spend = Bernoulli(buy) · LogNormal(3, sigma): mean 0.5·e^3.18 = 12.02, variance
    0.5·e^6.72 − 12.02² = 269.9; V after 28 days = 2 · 269.9 / 2,800 = 0.193 and the default
    tau2 = (0.1 · 12.02)² = 1.44, so tau2 / V ≈ 7.5, near the optimum 8.2.
    """
    rng = np.random.default_rng(seed)
    sums = np.zeros((2, N_SIMS, DAYS))
    sqs = np.zeros((2, N_SIMS, DAYS))
    for k in range(DAYS):
        spend = rng.binomial(1, buy, (2, N_SIMS, per_day)) * rng.lognormal(
            3.0, sigma, (2, N_SIMS, per_day))
        spend[1] *= 1 + lift
        sums[:, :, k] = spend.sum(axis=2)
        sqs[:, :, k] = (spend**2).sum(axis=2)
    sums, sqs = sums.cumsum(axis=2), sqs.cumsum(axis=2)
    n = per_day * np.arange(1, DAYS + 1)
    return [
        [(MeanStats(int(n[k]), sums[0, s, k], sqs[0, s, k]),
          MeanStats(int(n[k]), sums[1, s, k], sqs[1, s, k])) for k in range(DAYS)]
        for s in range(N_SIMS)
    ]


def test_aa_means_peeking_daily_keeps_the_false_positive_rate():
    paths = [running(peeks) for peeks in _simulate_spend(5, 0.0)]
    assert 0.004 < _stopped(paths) <= 0.05
    assert _covered(paths, 0.0) >= 0.95


def test_ab_means_confidence_sequence_covers_the_true_effect():
    lift = 0.10
    mean_spend = 0.5 * math.exp(3.0 + 0.6**2 / 2)  # E[Bernoulli(.5) · LogNormal(3, .6)] = 12.02
    paths = [running(peeks) for peeks in _simulate_spend(6, lift)]
    assert _covered(paths, lift * mean_spend) >= 0.95
    assert _stopped(paths) > 0.3
