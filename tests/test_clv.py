"""CLV models (BG/NBD, Pareto/NBD, Gamma-Gamma) and the engine-computed customer summary.

Outside authorities, named in each test:

* Fader, Hardie & Lee (2005a), "Counting Your Customers" the Easy Way, Marketing Science
  24(2): BG/NBD and Pareto/NBD estimates on the 2,357-customer CDNOW sample with a
  39-week calibration period (their section 4 and Table 1 / the technical notes).
* Fader, Hardie & Lee (2005b), RFM and CLV, JMR 42(4), and Fader & Hardie (2013), "The
  Gamma-Gamma Model of Monetary Value": Gamma-Gamma estimates on the same data.
* Hardie's CDNOW calibration summary (as shipped with ``lifetimes``): 946 repeat buyers,
  2,457 repeat transactions.
* ``lifetimes`` 0.11.3 (Davidson-Pilon), run offline on the same summary, as a second
  implementation of the conditional expectations.
* Brute-force numerical integration (scipy.integrate) of the models' definitions, which
  checks every closed form without using it, and central finite differences, which check
  the analytic gradients.
* The synthetic shop's ground truth (``shopscope.synth``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import integrate, special

from shopscope.customers import SummaryOptionError, customer_summary
from shopscope.customers.models import (
    BetaGeoModel,
    ClvError,
    GammaGammaModel,
    NotFittedError,
    ParetoNBDModel,
    clv,
    clv_bgnbd,
    clv_gammagamma,
    clv_paretonbd,
    holdout_table,
    simulate_bgnbd,
    simulate_paretonbd,
    simulate_spend,
)
from shopscope.customers.models.clv_paretonbd import hyp2f1_series
from shopscope.errors import ShopscopeError
from shopscope.schema import get_table
from shopscope.store import connect
from tests.conftest import shared_file

# Published estimates (FHL 2005a; Fader & Hardie 2013 for Gamma-Gamma).
FHL_BGNBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7930, "b": 2.4262}
FHL_BGNBD_LL = -9582.43
FHL_PARETO = {"r": 0.5533, "alpha": 10.578, "s": 0.6063, "beta": 11.669}
FHL_PARETO_LL = -9594.98
FHL_GAMMA_GAMMA = {"p": 6.2496, "q": 3.7442, "gamma": 15.443}
RTOL_PAPER = 1e-3  # 0.1%

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _orders_store(rows: list[tuple]) -> object:
    store = connect("duckdb://")
    records = [
        dict(order_id=oid, customer_id=cid, ordered_at=at, channel=channel, status=status,
             gross_amount=gross, discount_amount=gross - net, shipping_amount=0.0,
             net_amount=net, currency="EUR")
        for oid, cid, at, channel, status, gross, net in rows
    ]
    schema = get_table("orders").ibis_schema().to_pyarrow()
    store.backend.create_table("orders", pa.Table.from_pylist(records, schema=schema))
    return store


def _gamma_sub(shape: float, rate: float):
    """Gamma(shape, rate) density after u = lam**shape (removes the singularity at 0)."""
    norm = rate**shape / (shape * special.gamma(shape))

    def lam_and_weight(u: float) -> tuple[float, float]:
        lam = u ** (1.0 / shape)
        return lam, norm * math.exp(-rate * lam)

    return lam_and_weight


def _beta_sub(a: float, b: float):
    """Beta(a, b) density after v = p**a (b > 1 assumed, so no singularity at 1)."""
    norm = 1.0 / (a * special.beta(a, b))

    def p_and_weight(v: float) -> tuple[float, float]:
        p = v ** (1.0 / a)
        return p, norm * (1.0 - p) ** (b - 1.0)

    return p_and_weight


def _dblquad(f, upper_u: float, upper_v: float) -> float:
    value, _ = integrate.dblquad(f, 0.0, upper_v, 0.0, upper_u, epsabs=0.0, epsrel=1e-11)
    return value


def _bgnbd_brute(params, x, tx, T, what: str, t: float = 0.0) -> float:
    """BG/NBD quantities by integrating over lambda and p (FHL 2005a, eqs. 1-5)."""
    r, alpha, a, b = params
    g, h = _gamma_sub(r, alpha), _beta_sub(a, b)
    umax = (60.0 / alpha) ** r

    def alive_part(lam: float, p: float) -> float:
        return (1 - p) ** x * lam**x * math.exp(-lam * T)

    def lik(lam: float, p: float) -> float:
        dead = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * tx) if x > 0 else 0.0
        return alive_part(lam, p) + dead

    def integrand(fn):
        def inner(u: float, v: float) -> float:
            lam, wl = g(u)
            p, wp = h(v)
            return fn(lam, p) * wl * wp
        return inner

    L = _dblquad(integrand(lik), umax, 1.0)
    if what == "likelihood":
        return L
    if what == "alive":
        return _dblquad(integrand(alive_part), umax, 1.0) / L
    if what == "expected":
        return _dblquad(integrand(lambda lam, p: alive_part(lam, p) / p
                                  * -math.expm1(-lam * p * t)), umax, 1.0) / L
    raise ValueError(what)


def _pareto_brute(params, x, tx, T, what: str, t: float = 0.0) -> float:
    """Pareto/NBD quantities by integrating over lambda and mu (Schmittlein et al. 1987)."""
    r, alpha, s, beta = params
    g, k = _gamma_sub(r, alpha), _gamma_sub(s, beta)
    umax, vmax = (80.0 / alpha) ** r, (80.0 / beta) ** s

    def alive_part(lam: float, mu: float) -> float:
        return lam**x * math.exp(-(lam + mu) * T)

    def lik(lam: float, mu: float) -> float:
        died = lam**x * mu / (lam + mu) * (math.exp(-(lam + mu) * tx) - math.exp(-(lam + mu) * T))
        return alive_part(lam, mu) + died

    def integrand(fn):
        def inner(u: float, v: float) -> float:
            lam, wl = g(u)
            mu, wm = k(v)
            return fn(lam, mu) * wl * wm
        return inner

    L = _dblquad(integrand(lik), umax, vmax)
    if what == "likelihood":
        return L
    if what == "alive":
        return _dblquad(integrand(alive_part), umax, vmax) / L
    if what == "expected":
        return _dblquad(integrand(lambda lam, mu: alive_part(lam, mu) * lam / mu
                                  * -math.expm1(-mu * t)), umax, vmax) / L
    raise ValueError(what)


def _with_params(cls, names, values, data):
    """A fitted model whose parameters are then set to ``values`` (for closed-form checks)."""
    model = cls().fit(data)
    model._fit_state = dataclasses.replace(model._fit_state,
                                           params=dict(zip(names, values, strict=True)))
    return model


def _single_loglik(module, params, *cols) -> float:
    arrays = [np.atleast_1d(np.asarray(c, dtype=float)) for c in cols]
    prepared = module._prepare(*arrays, np.ones(arrays[0].size))
    return module._loglik(np.asarray(params, dtype=float), prepared)[0]


# --------------------------------------------------------------------------------------
# customer_summary
# --------------------------------------------------------------------------------------
D = dt.datetime
SMALL_SHOP = [
    # order, customer, time, channel, status, gross, net
    ("o1", "c1", D(2024, 1, 1, 9), "web", "completed", 12.0, 10.0),
    ("o2", "c1", D(2024, 1, 1, 17), "app", "completed", 5.0, 5.0),  # same day as o1
    ("o3", "c1", D(2024, 1, 8, 12), "web", "completed", 33.0, 30.0),
    ("o4", "c1", D(2024, 1, 10, 12), "web", "cancelled", 99.0, 99.0),
    ("o5", "c1", D(2024, 1, 22, 12), "web", "refunded", 50.0, 40.0),  # holdout
    ("o6", "c2", D(2024, 1, 3, 12), "store", "completed", 20.0, 20.0),
    ("o7", "c2", D(2024, 2, 1, 12), "web", "completed", 25.0, 25.0),  # holdout
    ("o8", None, D(2024, 1, 2, 12), "marketplace", "completed", 7.0, 7.0),  # no customer
    ("o9", "c3", D(2024, 1, 14, 23), "web", "completed", 8.0, 8.0),  # last calibration day
    ("o10", "c4", D(2024, 1, 15, 0), "web", "completed", 9.0, 9.0),  # first after it
    ("o11", "c5", D(2023, 12, 20, 12), "web", "completed", 4.0, 4.0),  # before min_date
    ("o12", "c5", D(2024, 1, 5, 12), "web", "completed", 6.0, 6.0),
]


def test_summary_small_shop_counted_by_hand():
    store = _orders_store(SMALL_SHOP)
    df = customer_summary(store, "2024-01-14", "2024-02-11").execute().set_index("customer_id")
    assert list(df.index) == ["c1", "c2", "c3", "c5"]  # c4 starts after calibration
    c1 = df.loc["c1"]
    # purchase days Jan 1 (10 + 5), Jan 8 (30); the cancelled order does not count
    assert (c1.frequency, c1.recency, c1["T"]) == (1, 7.0, 13.0)
    assert c1.monetary_value == 30.0
    assert (c1.frequency_holdout, c1.monetary_value_holdout, c1.duration_holdout) == (1, 40.0,
                                                                                       28.0)
    assert (df.loc["c3", "T"], df.loc["c3", "frequency"]) == (0.0, 0)
    c5 = df.loc["c5"]
    assert (c5.frequency, c5.recency, c5["T"], c5.monetary_value) == (1, 16.0, 25.0, 6.0)
    assert df.loc["c2", "monetary_value"] == 0.0 and df.loc["c2", "frequency_holdout"] == 1


def test_summary_options_change_what_counts():
    store = _orders_store(SMALL_SHOP)
    weeks = customer_summary(store, "2024-01-14", time_unit="W").execute().set_index(
        "customer_id")
    assert weeks.loc["c1", "recency"] == pytest.approx(1.0)
    assert weeks.loc["c1", "T"] == pytest.approx(13 / 7)
    assert "frequency_holdout" not in weeks.columns

    every = customer_summary(store, "2024-01-14", same_day_once=False, monetary="gross",
                             include_cancelled=True).execute().set_index("customer_id")
    c1 = every.loc["c1"]
    # orders o2, o3, o4 are repeats; times between timestamps; T to the end of Jan 14
    assert c1.frequency == 3
    assert c1.recency == pytest.approx(9 + 3 / 24)
    assert c1["T"] == pytest.approx(14 - 9 / 24)
    assert c1.monetary_value == pytest.approx((5 + 33 + 99) / 3)

    instant = customer_summary(store, D(2024, 1, 14, 12), same_day_once=False).execute()
    assert "c3" not in set(instant.customer_id)  # c3 bought at 23:00, after the instant

    cohort = customer_summary(store, "2024-01-14", min_date="2024-01-01").execute()
    assert "c5" not in set(cohort.customer_id)  # first purchase in December


def test_summary_rejects_bad_options():
    store = _orders_store(SMALL_SHOP)
    for kwargs in ({"time_unit": "M"}, {"monetary": "list_price"}):
        with pytest.raises(SummaryOptionError) as err:
            customer_summary(store, "2024-01-14", **kwargs)
        assert isinstance(err.value, ValueError) and err.value.hint
    with pytest.raises(SummaryOptionError, match="after calibration_end"):
        customer_summary(store, "2024-01-14", "2024-01-01")
    with pytest.raises(SummaryOptionError, match="not a date"):
        customer_summary(store, "next tuesday")
    for day in ("9999-12-31", dt.date(1, 1, 1)):  # beyond what a timestamp holds
        with pytest.raises(SummaryOptionError, match="outside the dates") as err:
            customer_summary(store, day)
        assert "2262-04-10" in err.value.hint


def test_summary_of_empty_orders_is_empty():
    store = connect("duckdb://")
    df = customer_summary(store, "2024-01-14", "2024-02-01").execute()
    assert len(df) == 0 and "frequency_holdout" in df.columns


# --------------------------------------------------------------------------------------
# CDNOW: Fader, Hardie & Lee (2005)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    """The CDNOW sample's calibration/holdout summary, computed by the engine (weeks)."""
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("cdnow", "CDNOW_sample.txt.gz")
    ws = Workspace.create(tmp_path_factory.mktemp("cdnow") / "ws")
    try:
        ingest_file(ws, path, preset="cdnow")
        summary = customer_summary(ws.store, CAL_END, OBS_END, time_unit="W").execute()
    finally:
        ws.close()
    return path, summary


def test_cdnow_summary_matches_hardie_counts_and_a_pandas_recount(cdnow):
    """Hardie's CDNOW calibration summary: 2,357 customers, 946 repeaters, 2,457 repeats."""
    path, summary = cdnow
    assert len(summary) == 2357
    assert int((summary.frequency > 0).sum()) == 946
    assert int(summary.frequency.sum()) == 2457
    assert summary["T"].max() == pytest.approx(272 / 7)  # first purchase on 1 January
    # an independent recount of every column with pandas from the raw file
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["cid", "sid", "date", "n", "v"],
                      dtype={"cid": str, "sid": str, "date": str})
    raw["day"] = pd.to_datetime(raw.date, format="%Y%m%d")
    days = raw.groupby(["cid", "day"], as_index=False).v.sum()
    cal = days[days.day <= CAL_END]
    hold = days[(days.day > CAL_END) & (days.day <= OBS_END)]
    first = cal.groupby("cid").day.min().rename("first")
    cal = cal.join(first, on="cid")
    rep = cal[cal.day > cal["first"]]
    ref = pd.DataFrame({
        "frequency": rep.groupby("cid").size(),
        "recency": (cal.groupby("cid").day.max() - first).dt.days / 7,
        "T": (pd.Timestamp(CAL_END) - first).dt.days / 7,
        "monetary_value": rep.groupby("cid").v.mean(),
        "frequency_holdout": hold.groupby("cid").size(),
    }).reindex(first.index).fillna(0.0)
    got = summary.set_index("customer_id").loc[ref.index]
    for col in ref.columns:
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float),
                                   rtol=1e-12, atol=1e-9, err_msg=col)
    assert int(summary.frequency_holdout.sum()) == 1882
    assert (summary.duration_holdout == 39.0).all()


def test_bgnbd_reproduces_fader_hardie_lee_2005_cdnow(cdnow):
    """FHL (2005a): r=0.2426, alpha=4.4136, a=0.7930, b=2.4262, LL=-9582.43."""
    model = BetaGeoModel().fit(cdnow[1])
    for name, value in FHL_BGNBD.items():
        assert model.params_[name] == pytest.approx(value, rel=RTOL_PAPER), name
    assert model.log_likelihood_ == pytest.approx(FHL_BGNBD_LL, abs=0.01)
    assert model.converged_ and model.n_customers_ == 2357
    se = model.standard_errors_
    assert all(0 < se[n] < model.params_[n] for n in FHL_BGNBD)


def test_paretonbd_reproduces_fader_hardie_lee_2005_cdnow(cdnow):
    """FHL (2005a), Pareto/NBD: r=0.5533, alpha=10.578, s=0.6063, beta=11.669, LL=-9594.98."""
    model = ParetoNBDModel().fit(cdnow[1])
    for name, value in FHL_PARETO.items():
        assert model.params_[name] == pytest.approx(value, rel=RTOL_PAPER), name
    assert model.log_likelihood_ == pytest.approx(FHL_PARETO_LL, abs=0.01)
    assert model.converged_


def test_gammagamma_reproduces_fader_hardie_lee_2005b_cdnow(cdnow):
    """FHL (2005b) / Fader & Hardie (2013): p=6.2496, q=3.7442, gamma=15.443 on the 946
    repeat buyers' mean repeat-purchase value (same-day orders summed, first excluded)."""
    model = GammaGammaModel().fit(cdnow[1])
    assert model.n_customers_ == 946
    for name, value in FHL_GAMMA_GAMMA.items():
        assert model.params_[name] == pytest.approx(value, rel=RTOL_PAPER), name
    # the population mean spend p*gamma/(q-1) implied by the published estimates
    assert model.mean_value_ == pytest.approx(6.2496 * 15.443 / 2.7442, rel=RTOL_PAPER)


def test_cdnow_holdout_fhl_2005_conditional_expectations(cdnow):
    """FHL (2005a) Figure 4 set-up: 39-week holdout, 1997-10-01..1998-06-30.

    The totals are checked against ``lifetimes`` 0.11.3 on the same summary (BG/NBD
    conditional expectation 1653.41 of 1,882 actual repeat-purchase days) and the bins
    against the actual counts of the holdout period.
    """
    summary = cdnow[1]
    bg = holdout_table(BetaGeoModel().fit(summary), summary)
    assert bg.actual_total == 1882
    assert bg.predicted_total == pytest.approx(1653.4087, abs=0.05)
    assert bg.total_error_pct == pytest.approx(100 * (1653.4087 / 1882 - 1), abs=0.01)
    table = bg.table
    assert list(table.label) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table.customers.sum() == 2357 and table.customers.iloc[0] == 1411
    assert table.actual_total.sum() == 1882
    # the model tracks the rise of holdout purchases with calibration frequency
    assert np.all(np.diff(table.predicted.to_numpy()) > 0)
    np.testing.assert_allclose(table.predicted, table.actual, atol=0.4)
    pareto = holdout_table(ParetoNBDModel().fit(summary), summary)
    assert abs(pareto.total_error_pct) < 15 and abs(bg.total_error_pct) < 15
    assert pareto.mae == pytest.approx(
        np.mean(np.abs(ParetoNBDModel().fit(summary).expected_purchases(
            39.0, summary.frequency, summary.recency, summary["T"])
            - summary.frequency_holdout)))


def test_cdnow_unconditional_expectation_matches_lifetimes(cdnow):
    """E[X(39)] of a new CDNOW customer: 1.19501 (lifetimes 0.11.3, FHL 2005a eq. 9)."""
    model = BetaGeoModel().fit(cdnow[1])
    assert model.expected_purchases_new(39.0) == pytest.approx(1.1950100, rel=1e-5)


# --------------------------------------------------------------------------------------
# closed forms against brute-force integration
# --------------------------------------------------------------------------------------
BG_PARAMS = (0.2426, 4.4136, 0.7930, 2.4262)
PARETO_ALPHA_BIG = (0.5533, 10.578, 0.6063, 4.2)  # alpha > beta
PARETO_BETA_BIG = (0.5533, 10.578, 0.6063, 11.669)  # alpha < beta (CDNOW)
CUSTOMERS = [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 29.43, 32.0),
             (15, 10.0, 35.0)]


@pytest.mark.parametrize("x,tx,T", CUSTOMERS)
def test_bgnbd_closed_forms_match_integration_fhl_2005(x, tx, T):
    """FHL (2005a) eq. 6 (likelihood), A4 (P(alive)) and 10 (E[Y(t)]) vs their integrals."""
    ll = _single_loglik(clv_bgnbd, BG_PARAMS, [x], [tx], [T])
    assert ll == pytest.approx(math.log(_bgnbd_brute(BG_PARAMS, x, tx, T, "likelihood")),
                               abs=1e-7)
    model = _with_params(BetaGeoModel, ("r", "alpha", "a", "b"), BG_PARAMS,
                         simulate_bgnbd(300, r=0.3, alpha=4, a=0.8, b=2.5, T=39, seed=0))
    assert model.probability_alive(x, tx, T) == pytest.approx(
        _bgnbd_brute(BG_PARAMS, x, tx, T, "alive"), rel=1e-7)
    assert model.expected_purchases(39.0, x, tx, T) == pytest.approx(
        _bgnbd_brute(BG_PARAMS, x, tx, T, "expected", t=39.0), rel=1e-6)


@pytest.mark.parametrize("params", [PARETO_ALPHA_BIG, PARETO_BETA_BIG])
@pytest.mark.parametrize("x,tx,T", CUSTOMERS[:4])
def test_paretonbd_closed_forms_match_integration(params, x, tx, T):
    """Schmittlein et al. (1987) / Fader & Hardie (2005 note) vs the double integral."""
    ll = _single_loglik(clv_paretonbd, params, [x], [tx], [T])
    assert ll == pytest.approx(math.log(_pareto_brute(params, x, tx, T, "likelihood")),
                               abs=1e-7)
    model = _with_params(ParetoNBDModel, ("r", "alpha", "s", "beta"), params,
                         simulate_paretonbd(300, r=0.5, alpha=10, s=0.6, beta=11, T=39, seed=0))
    assert model.probability_alive(x, tx, T) == pytest.approx(
        _pareto_brute(params, x, tx, T, "alive"), rel=1e-7)
    assert model.expected_purchases(39.0, x, tx, T) == pytest.approx(
        _pareto_brute(params, x, tx, T, "expected", t=39.0), rel=1e-6)


@pytest.mark.parametrize("params", [PARETO_ALPHA_BIG, PARETO_BETA_BIG])
def test_paretonbd_likelihood_matches_hypergeometric_closed_form(params):
    """The alpha>=beta / alpha<beta closed form with scipy's hyp2f1 (Fader & Hardie 2005)."""
    r, alpha, s, beta = params
    for x, tx, T in CUSTOMERS:
        if alpha >= beta:
            big, arg2 = alpha, s + 1
        else:
            big, arg2 = beta, r + x
        n = r + s + x

        def a0(tau: float, big=big, arg2=arg2, n=n) -> float:
            z = abs(alpha - beta) / (big + tau)
            return special.hyp2f1(n, arg2, n + 1, z) / (big + tau) ** n

        lik = special.gamma(r + x) * alpha**r * beta**s / special.gamma(r) * (
            1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / n * (a0(tx) - a0(T)))
        assert _single_loglik(clv_paretonbd, params, [x], [tx], [T]) == pytest.approx(
            math.log(lik), abs=1e-10)


@pytest.mark.parametrize("x,m", [(1, 12.5), (3, 40.0), (10, 22.0)])
def test_gammagamma_density_matches_integration_colombo_jiang(x, m):
    """The mean of x Gamma(p, nu) values, integrated over nu ~ Gamma(q, gamma)."""
    p, q, gamma = 6.2496, 3.7442, 15.443
    dens, _ = integrate.quad(
        lambda nu: np.exp(
            special.xlogy(p * x, x * nu) + special.xlogy(p * x - 1, m) - x * nu * m
            - special.gammaln(p * x)
            + special.xlogy(q, gamma) + special.xlogy(q - 1, nu) - gamma * nu
            - special.gammaln(q)),
        0, np.inf, epsabs=0, epsrel=1e-12, limit=200)
    assert _single_loglik(clv_gammagamma, (p, q, gamma), [x], [m]) == pytest.approx(
        math.log(dens), abs=1e-8)


def test_bgnbd_unconditional_expectation_matches_integration():
    """FHL (2005a) eq. 9: E[X(t)] = E over (lambda, p) of (1 - exp(-lambda p t)) / p."""
    r, alpha, a, b = BG_PARAMS
    g, h = _gamma_sub(r, alpha), _beta_sub(a, b)

    def f(u: float, v: float) -> float:
        lam, wl = g(u)
        p, wp = h(v)
        return -math.expm1(-lam * p * 39.0) / p * wl * wp

    model = _with_params(BetaGeoModel, ("r", "alpha", "a", "b"), BG_PARAMS,
                         simulate_bgnbd(300, r=0.3, alpha=4, a=0.8, b=2.5, T=39, seed=0))
    assert model.expected_purchases_new(39.0) == pytest.approx(
        _dblquad(f, (60 / alpha) ** r, 1.0), rel=1e-7)
    assert model.expected_purchases_new(0.0) == 0.0


def test_hyp2f1_series_matches_scipy_and_finite_differences():
    b = np.array([0.3, 1.6, 12.0, 40.0])
    c = b + np.array([0.7, 2.0, 1.1, 30.0])
    z = np.array([0.0, 0.5, 0.9, 0.99])
    g, gb, gc, gz = hyp2f1_series(b, c, z)
    np.testing.assert_allclose(g, special.hyp2f1(1.0, b, c, z), rtol=1e-12)
    h = 1e-6
    for got, args in ((gb, lambda e: (b + e, c, z)), (gc, lambda e: (b, c + e, z)),
                      (gz, lambda e: (b, c, z + e))):
        fd = (special.hyp2f1(1.0, *args(h)) - special.hyp2f1(1.0, *args(-h))) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("params", [(0.5533, 10.578, 0.6063, 11.669),
                                    (0.6, 12.0, 1.3, 0.05), (0.3, 0.02, 2.0, 900.0),
                                    (3.0, 1.0, 0.2, 1.0)])
def test_paretonbd_quadrature_path_agrees_with_series_and_integration(params):
    """Rows with |alpha-beta| / (max(alpha, beta) + t_x) > 0.9 use Gauss-Legendre quadrature
    instead of the hypergeometric series: both, and scipy's adaptive quad, must agree."""
    r, alpha, s, beta = params
    x = np.array([0.0, 1.0, 4.0, 30.0, 2.0])
    lower = np.array([0.0, 1.7, 20.0, 29.0, 5.0])
    upper = np.array([38.9, 38.9, 38.9, 32.0, 5.5])
    value, grad = clv_paretonbd._log_integral(r, alpha, s, beta, x, lower, upper)
    for i in range(x.size):
        ref, _ = integrate.quad(
            lambda u, i=i: (alpha + u) ** -(r + x[i]) * (beta + u) ** -(s + 1),
            lower[i], upper[i], epsabs=0, epsrel=1e-12, limit=200)
        assert value[i] == pytest.approx(math.log(ref), abs=1e-9)
        if abs(alpha - beta) / (max(alpha, beta) + lower[i]) > 0.995:
            continue  # the series would need more than 200,000 terms
        f_lo = clv_paretonbd._log_f(r, alpha, s, beta, x[i:i + 1], lower[i:i + 1])
        f_hi = clv_paretonbd._log_f(r, alpha, s, beta, x[i:i + 1], upper[i:i + 1])
        series = f_lo.value[0] + math.log(-math.expm1(f_hi.value[0] - f_lo.value[0]))
        assert value[i] == pytest.approx(series, abs=1e-9)
        rho = math.exp(f_hi.value[0] - f_lo.value[0])
        series_grad = (f_lo.grad[:, 0] - rho * f_hi.grad[:, 0]) / (1 - rho)
        np.testing.assert_allclose(grad[:, i], series_grad, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------------------
# analytic gradients against finite differences
# --------------------------------------------------------------------------------------
def _rfm_rows(seed: int = 3):
    df = simulate_bgnbd(400, r=0.4, alpha=3.0, a=0.9, b=2.0,
                        T=np.random.default_rng(seed).uniform(5, 40, 400), seed=seed)
    return df.frequency.to_numpy(float), df.recency.to_numpy(float), df["T"].to_numpy(float)


@pytest.mark.parametrize("module,params,kind", [
    (clv_bgnbd, (0.2426, 4.4136, 0.7930, 2.4262), "rfm"),
    (clv_bgnbd, (1.5, 0.7, 3.0, 0.9), "rfm"),
    (clv_paretonbd, PARETO_BETA_BIG, "rfm"),
    (clv_paretonbd, PARETO_ALPHA_BIG, "rfm"),
    (clv_paretonbd, (2.0, 1.0, 0.3, 40.0), "rfm"),  # mostly the quadrature path
    (clv_paretonbd, (0.6, 12.0, 1.3, 0.05), "rfm"),
    (clv_gammagamma, (6.2496, 3.7442, 15.443), "spend"),
    (clv_gammagamma, (0.8, 1.5, 2.0), "spend"),
])
def test_analytic_gradient_matches_finite_differences(module, params, kind):
    x, tx, T = _rfm_rows()
    if kind == "rfm":
        w = np.random.default_rng(0).integers(1, 4, x.size).astype(float)
        prepared = module._prepare(x, tx, T, w)
    else:
        pos = x > 0
        m = simulate_spend(x[pos], p=6, q=4, gamma=15, seed=1)
        prepared = module._prepare(x[pos], m, np.ones(pos.sum()))
    theta = np.asarray(params, dtype=float)
    _, grad = module._loglik(theta, prepared)
    fd = np.empty_like(theta)
    for j in range(theta.size):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        fd[j] = (module._loglik(up, prepared)[0] - module._loglik(down, prepared)[0]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=2e-6, atol=1e-6 * np.abs(fd).max())


def test_bgnbd_likelihood_same_through_distinct_values_or_row_order():
    """Mostly-distinct times are used in row order, repeated ones through an index."""
    x, tx, T = _rfm_rows()
    theta = np.array([0.4, 3.0, 0.9, 2.0])
    direct = clv_bgnbd._prepare(x, tx, T, np.ones(x.size))
    indexed = clv_bgnbd._prepare(np.tile(x, 3), np.tile(tx, 3), np.tile(T, 3),
                                 np.ones(3 * x.size))
    assert direct.iT is None and indexed.iT is not None
    ll1, g1 = clv_bgnbd._loglik(theta, direct)
    ll3, g3 = clv_bgnbd._loglik(theta, indexed)
    assert ll3 == pytest.approx(3 * ll1, rel=1e-12)
    np.testing.assert_allclose(g3, 3 * g1, rtol=1e-10)


# --------------------------------------------------------------------------------------
# grouping, the estimator contract and errors
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,simulate,params", [
    (BetaGeoModel, simulate_bgnbd, {"r": 0.3, "alpha": 5, "a": 0.8, "b": 2.5}),
    (ParetoNBDModel, simulate_paretonbd, {"r": 0.5, "alpha": 8, "s": 0.6, "beta": 10}),
])
def test_grouped_weights_give_the_same_fit_as_repeated_rows(cls, simulate, params):
    base = simulate(600, **params, T=30.0, seed=4)
    base[["recency", "T"]] = base[["recency", "T"]].round(0)
    counts = np.random.default_rng(2).integers(1, 5, len(base))
    repeated = base.loc[base.index.repeat(counts)]
    a = cls().fit(repeated)
    b = cls().fit(base, weights=counts)
    assert a.n_distinct_ < len(base)  # identical rows were grouped
    for name in a.params_:
        assert a.params_[name] == pytest.approx(b.params_[name], rel=1e-6)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


MODELS = [
    (BetaGeoModel, lambda: simulate_bgnbd(800, r=0.3, alpha=5, a=0.8, b=2.5, T=30.0, seed=5)),
    (ParetoNBDModel, lambda: simulate_paretonbd(800, r=0.5, alpha=8, s=0.6, beta=10, T=30.0,
                                                seed=5)),
    (GammaGammaModel, lambda: pd.DataFrame({
        "frequency": (f := np.arange(800) % 6),
        "monetary_value": simulate_spend(f, p=6, q=4, gamma=15, seed=5)})),
]


@pytest.mark.parametrize("cls,make", MODELS)
def test_estimator_contract(cls, make):
    """scikit-learn's contract (STYLE.md principle 4), one helper for every model."""
    model = cls(penalizer=0.0, max_iter=500)
    assert vars(model) == {"penalizer": 0.0, "max_iter": 500, "tol": 1e-7}
    assert model.get_params() == vars(model)
    with pytest.raises(NotFittedError) as err:
        _ = model.params_
    assert isinstance(err.value, AttributeError) and isinstance(err.value, ValueError)
    assert not hasattr(model, "log_likelihood_")
    data = make()
    before = data.copy()
    assert model.fit(data) is model
    pd.testing.assert_frame_equal(data, before)  # the caller's frame is not touched
    first = dict(model.params_)
    model.fit(data)
    assert dict(model.params_) == first  # fitting twice = fitting once
    if cls is GammaGammaModel:
        model.conditional_expected_value(data.frequency, data.monetary_value)
    else:
        model.expected_purchases(10.0, data.frequency, data.recency, data["T"])
        model.probability_alive(data.frequency, data.recency, data["T"])
    assert dict(model.params_) == first  # predicting never refits
    assert set(model.summary().columns) == {"estimate", "std_error", "lower_95", "upper_95"}


@pytest.mark.parametrize("cls,make", MODELS[:2])
def test_expected_purchases_takes_one_horizon_per_customer(cls, make):
    data = make().head(50)
    model = cls().fit(make())
    t = np.linspace(0.0, 60.0, 50)
    together = model.expected_purchases(t, data.frequency, data.recency, data["T"])
    one_by_one = [model.expected_purchases(float(ti), f, r, T) for ti, f, r, T in
                  zip(t, data.frequency, data.recency, data["T"], strict=True)]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12)
    assert together[0] == 0.0 and np.all(np.diff(model.expected_purchases_new(t)) > 0)


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_purchase_models_fail_loudly_and_degrade_politely(cls):
    empty = pd.DataFrame({"frequency": [], "recency": [], "T": []})
    cases = [
        (empty, "empty"),
        (pd.DataFrame({"frequency": [0] * 50 + [1] * 3, "recency": [0.0] * 50 + [2.0] * 3,
                       "T": 10.0}), "too_few_repeaters"),
        (pd.DataFrame({"frequency": [1], "recency": [12.0], "T": [10.0]}), "invalid_summary"),
        (pd.DataFrame({"frequency": [1.5], "recency": [1.0], "T": [10.0]}), "invalid_summary"),
        (pd.DataFrame({"frequency": [0], "recency": [3.0], "T": [10.0]}), "invalid_summary"),
        (pd.DataFrame({"frequency": [1], "T": [10.0]}), "missing_column"),
    ]
    for data, code in cases:
        with pytest.raises(ClvError) as err:
            cls().fit(data)
        assert err.value.code == code, code
        assert isinstance(err.value, ValueError) and isinstance(err.value, ShopscopeError)
        assert err.value.hint
    with pytest.raises(ClvError, match="penalizer"):
        cls(penalizer=-1).fit(MODELS[0][1]())


def test_gammagamma_rejects_non_positive_spend():
    data = pd.DataFrame({"frequency": np.arange(40) % 4 + 1, "monetary_value": 10.0})
    data.loc[3, "monetary_value"] = 0.0
    with pytest.raises(ClvError, match="monetary_value <= 0") as err:
        GammaGammaModel().fit(data)
    assert "spend_fit_rows" in err.value.hint


# --------------------------------------------------------------------------------------
# clv()
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    summary = simulate_bgnbd(4000, r=0.5, alpha=20.0, a=0.9, b=3.0,
                             T=np.random.default_rng(0).uniform(30, 365, 4000), seed=6)
    summary["monetary_value"] = simulate_spend(summary.frequency, p=6, q=4, gamma=15, seed=7)
    summary.insert(0, "customer_id", [f"c{i}" for i in range(len(summary))])
    return summary, BetaGeoModel().fit(summary), GammaGammaModel().fit(summary)


def test_clv_without_discounting_is_value_times_expected_purchases(fitted):
    summary, bg, gg = fitted
    res = clv(bg, gg, summary, horizon=6, margin=0.25, discount_rate=0.0, time_unit="D")
    months = 6 * 365.25 / 12
    expected = bg.expected_purchases(months, summary.frequency, summary.recency, summary["T"])
    value = gg.conditional_expected_value(summary.frequency, summary.monetary_value)
    np.testing.assert_allclose(res.data.clv, 0.25 * value * expected, rtol=1e-10)
    assert list(res.data.customer_id[:2]) == ["c0", "c1"]
    assert res.total == pytest.approx(float(np.sum(0.25 * value * expected)))


def test_clv_discounts_each_month(fitted):
    summary, bg, gg = fitted
    x, tx, T = summary.frequency, summary.recency, summary["T"]
    m = 365.25 / 12
    res = clv(bg, gg, summary, horizon=2, discount_rate=0.01, rate_period="month")
    first = bg.expected_purchases(m, x, tx, T)
    second = bg.expected_purchases(2 * m, x, tx, T) - first
    value = gg.conditional_expected_value(x, summary.monetary_value)
    np.testing.assert_allclose(res.data.clv, value * (first / 1.01 + second / 1.01**2),
                               rtol=1e-10)
    yearly = clv(bg, gg, summary, horizon=2, discount_rate=1.01**12 - 1)
    np.testing.assert_allclose(yearly.data.clv, res.data.clv, rtol=1e-10)
    assert yearly.monthly_discount_rate == pytest.approx(0.01)
    weeks = summary.assign(recency=tx / 7, T=T / 7)
    bg_w = BetaGeoModel().fit(weeks)
    in_weeks = clv(bg_w, gg, weeks, horizon=2, discount_rate=0.01, rate_period="month",
                   time_unit="W")
    np.testing.assert_allclose(in_weeks.data.clv, res.data.clv, rtol=1e-5)


def test_clv_rejects_bad_options(fitted):
    summary, bg, gg = fitted
    for kwargs in ({"horizon": 0}, {"margin": -1.0}, {"time_unit": "M"},
                   {"rate_period": "week"}, {"discount_rate": -2.0}):
        with pytest.raises(ClvError) as err:
            clv(bg, gg, summary, **kwargs)
        assert err.value.code == "invalid_option"
    with pytest.raises(NotFittedError):
        clv(BetaGeoModel(), gg, summary)
    with pytest.raises(ClvError, match="GammaGammaModel"):
        clv(bg, bg, summary)


# --------------------------------------------------------------------------------------
# ground truth: the synthetic shop and the simulators
# --------------------------------------------------------------------------------------
def test_synthetic_shop_bgnbd_and_gamma_gamma_truth_recovered(tmp_path):
    """shopscope.synth's truth (docs/synth.md): every order of a known customer, any status
    or channel, is a BG/NBD purchase in continuous time (days) from first_seen_at; the
    value is gross_amount, Gamma-Gamma. Marketplace and guest orders have no customer."""
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from shopscope.synth import generate

    res = generate(tmp_path / "shop", customers=20_000, seed=7, events=False)
    folder = tmp_path / "load"
    folder.mkdir()
    for table in ("customers", "orders"):  # the tables the summary reads
        shutil.copy(Path(res.paths[table]), folder)
    ws = Workspace.create(tmp_path / "ws")
    try:
        ingest_file(ws, folder, preset="canonical")
        end = dt.datetime.fromisoformat(res.truth.end)
        expr = customer_summary(ws.store, end, same_day_once=False, include_cancelled=True,
                                monetary="gross")
        summary = expr.execute()
        from_engine = BetaGeoModel().fit(expr)  # the Ibis expression itself is accepted
    finally:
        ws.close()
    buyers = round(20_000 * (1 - res.truth.prospect_share))
    assert abs(len(summary) - buyers) < 4 * math.sqrt(buyers)
    bg, gg = BetaGeoModel().fit(summary), GammaGammaModel().fit(summary)
    for name, value in bg.params_.items():
        assert from_engine.params_[name] == pytest.approx(value, rel=1e-9)
    for model, truth in ((bg, res.truth.bgnbd), (gg, res.truth.gamma_gamma)):
        for name, estimate in model.params_.items():
            se = model.standard_errors_[name]
            assert abs(estimate - getattr(truth, name)) < 3 * se, (name, estimate, se)
    # P(alive) is calibrated against the customers' true state at the end
    truth = pd.read_parquet(res.paths["truth_customers"],
                            columns=["customer_id", "repeat_orders", "alive_at_end"])
    alive = summary.merge(truth, on="customer_id")
    assert len(alive) == len(summary)
    # the engine's frequency is the generator's count of repeat orders, customer by customer
    assert (alive.frequency == alive.repeat_orders).all()
    p = bg.probability_alive(alive.frequency, alive.recency, alive["T"])
    sd = math.sqrt(float(np.sum(p * (1 - p))))
    assert abs(p.sum() - alive.alive_at_end.sum()) < 4 * sd


def test_paretonbd_recovers_simulated_truth():
    truth = {"r": 0.55, "alpha": 10.0, "s": 0.6, "beta": 12.0}
    data = simulate_paretonbd(20_000, **truth, T=np.random.default_rng(8).uniform(20, 60, 20_000),
                              seed=8)
    model = ParetoNBDModel().fit(data)
    for name, value in truth.items():
        assert abs(model.params_[name] - value) < 3 * model.standard_errors_[name], name


def test_simulated_holdout_is_predicted_without_bias():
    """Conditional expectations summed over customers vs the simulated holdout purchases."""
    data = simulate_bgnbd(20_000, r=0.3, alpha=5.0, a=0.8, b=2.5,
                          T=np.random.default_rng(9).uniform(20, 40, 20_000), seed=9,
                          holdout=40.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BetaGeoModel().fit(data)
    res = holdout_table(model, data)
    assert abs(res.total_error_pct) < 5
    assert res.table.customers.sum() == 20_000


@pytest.mark.parametrize("x,tx,T", CUSTOMERS[:4])
def test_bgnbd_expected_purchases_with_a_concentrated_dropout_distribution(x, tx, T):
    """Huge a and b (a degenerate but legal fit on short histories) made the 2F1 series
    return NaN or -inf. With p ~ Beta(a, b) a point mass at p0 = a/(a+b), E[Y(t)] / P(alive)
    tends to (1 - ((alpha+T)/(alpha+T+p0 t))^(r+x)) / p0 (derived by hand from
    E[Y(t) | lambda, p] = (1 - exp(-lambda p t)) / p and the Gamma posterior of lambda)."""
    r, alpha, t = 0.39, 15.8, 365.0
    for a, b in [(5.2e7, 4.8e7), (5.2e5, 4.8e5)]:
        model = _with_params(BetaGeoModel, ("r", "alpha", "a", "b"), (r, alpha, a, b),
                             simulate_bgnbd(300, r=0.3, alpha=4, a=0.8, b=2.5, T=39, seed=0))
        p0 = a / (a + b)
        limit = (1 - ((alpha + T) / (alpha + T + p0 * t)) ** (r + x)) / p0
        expected = model.expected_purchases(t, x, tx, T)
        assert math.isfinite(expected)
        assert expected / model.probability_alive(x, tx, T) == pytest.approx(
            limit, rel=1e-5 if a > 1e7 else 1e-3)
    # where the series still works, the integral agrees with it
    a, b = 78.0, 72.0
    series = _with_params(BetaGeoModel, ("r", "alpha", "a", "b"), (r, alpha, a, b),
                          simulate_bgnbd(300, r=0.3, alpha=4, a=0.8, b=2.5, T=39, seed=0))
    bracket = series._bracket(np.array([t]), np.array([float(x)]), np.array([float(T)]))
    integral = clv_bgnbd._bracket_concentrated(np.array([t]), np.array([float(x)]),
                                               np.array([float(T)]), r, alpha, a, b)
    assert integral[0] == pytest.approx(bracket[0], rel=2e-5)


# --------------------------------------------------------------------------------------
# CLV on a shop's orders: fit_clv, spend_fit_rows, dropout_check
# --------------------------------------------------------------------------------------
def raw_cdnow_nonpositive_repeat_spenders(path: Path) -> set[str]:
    """Customers of the raw CDNOW master file whose repeat purchase days (every day after
    the first, a day's rows summed) are worth 0 or less in total: pandas, not the engine."""
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    days = raw.groupby(["customer_id", "date"], as_index=False).dollar_value.sum()
    days = days.sort_values(["customer_id", "date"])
    repeat = days[days.groupby("customer_id").cumcount() > 0]
    spend = repeat.groupby("customer_id").dollar_value.sum()
    return set(spend.index[spend <= 0])


@pytest.fixture(scope="module")
def cdnow_master(tmp_path_factory):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("cdnow", "CDNOW_master.txt.gz")
    ws = Workspace.create(tmp_path_factory.mktemp("cdnow-master") / "ws", currency="USD")
    ingest_file(ws, path, preset="cdnow")
    yield path, ws
    ws.close()


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory):
    """The bundled Online Retail slice (the demo's data), ingested as the demo does."""
    from shopscope.cli import demo_data_path
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path_factory.mktemp("demo-shop") / "ws", currency="GBP")
    ingest_file(ws, demo_data_path(), preset="online_retail")
    yield ws
    ws.close()


def test_spend_fit_rows_leaves_out_and_counts_non_positive_spend():
    from shopscope.customers.clv import spend_fit_rows

    summary = pd.DataFrame({"customer_id": list("abcdef"), "frequency": [0, 1, 2, 3, 1, 4],
                            "monetary_value": [0.0, 5.0, 0.0, -2.0, np.nan, 7.5]})
    rows, excluded = spend_fit_rows(summary)
    assert list(rows.customer_id) == ["b", "f"]  # one-time buyer "a" is not a repeat buyer
    assert excluded == 3  # c (0), d (negative), e (missing)


def test_fit_clv_on_cdnow_master_leaves_out_free_repeat_buyers(cdnow_master):
    """CDNOW master has a repeat buyer whose repeat CDs were free: Gamma-Gamma alone
    refuses the summary; the shop-level fit leaves that buyer out and counts them."""
    from shopscope.customers.clv import dropout_check, fit_clv

    path, ws = cdnow_master
    expected = raw_cdnow_nonpositive_repeat_spenders(path)
    assert len(expected) == 1
    fit = fit_clv(ws.store, dt.date(1998, 6, 30))
    assert fit.spend_excluded == len(expected)
    assert fit.spend.n_customers_ == fit.repeat_customers - len(expected)
    with pytest.raises(ClvError, match="monetary_value <= 0"):
        GammaGammaModel().fit(fit.summary)
    # the buyer keeps a CLV row, valued with the spend model's conditional expectation
    result = clv(fit.purchases, fit.spend, fit.summary, time_unit="D")
    row = result.data[result.data.customer_id.isin(expected)]
    assert len(row) == 1 and np.isfinite(row.clv).all() and (row.clv >= 0).all()
    # this model has real dropout: no warning
    check = dropout_check(ws.store, fit, result)
    assert check.too_little_dropout is False
    assert check.mean_probability_alive < 0.9 and check.lifecycle_churned_share > 0.5
    gross = fit_clv(ws.store, dt.date(1998, 6, 30), spend="gross")  # CDNOW: gross == net
    assert gross.spend_measure == "gross" and gross.spend_excluded == len(expected)
    with pytest.raises(ClvError, match="unknown spend measure") as err:
        fit_clv(ws.store, dt.date(1998, 6, 30), spend="list")  # type: ignore[arg-type]
    assert "net" in err.value.hint and "gross" in err.value.hint


def test_dropout_check_limits_on_cdnow_lifecycle(cdnow_master):
    """The rule itself: mean P(alive) >= 0.99 with >= 10% of buyers churned is flagged."""
    from shopscope.customers.clv import (
        ALIVE_SHARE_LIMIT,
        CHURNED_SHARE_LIMIT,
        dropout_check,
        fit_clv,
    )
    from shopscope.customers.lifecycle import derive_windows, stages_as_of
    from shopscope.customers.models import ClvResult

    _, ws = cdnow_master
    fit = fit_clv(ws.store, dt.date(1998, 6, 30))
    n = len(fit.summary)
    stages = stages_as_of(ws.store, "1998-07-01", derive_windows(ws.store, "1998-07-01").windows)
    churned = int((stages.stage.execute() == "churned").sum())
    for p_alive, flagged in ((ALIVE_SHARE_LIMIT, True), (ALIVE_SHARE_LIMIT - 0.001, False)):
        data = pd.DataFrame({"probability_alive": np.full(n, p_alive)})
        check = dropout_check(ws.store, fit, ClvResult(data, 12, 1.0, 0.0, "D"))
        assert check.lifecycle_churned == churned and check.lifecycle_buyers == n
        assert check.lifecycle_churned_share >= CHURNED_SHARE_LIMIT
        assert check.too_little_dropout is flagged


def test_dropout_check_flags_the_demo_shop_with_a_default_split_holdout(demo_shop):
    """Demo: BG/NBD finds a ~ 0 (everyone alive) while lifecycle has many churned; with no
    holdout of its own the check refits on the default split (last third held out)."""
    from shopscope.customers.clv import dropout_check, fit_clv

    fit = fit_clv(demo_shop.store, dt.date(2011, 12, 9))
    assert fit.observation_end is None and fit.purchases.params_["a"] < 0.05
    result = clv(fit.purchases, fit.spend, fit.summary, time_unit="D")
    check = dropout_check(demo_shop.store, fit, result)
    assert check.too_little_dropout is True
    assert check.mean_probability_alive >= 0.99 and check.lifecycle_churned_share >= 0.10
    assert check.lifecycle_churned > 100
    # 2010-12-01 .. 2011-12-09 is 373 days: a third is 124 days, so the split is 2011-08-07
    assert check.holdout_calibration_end == dt.date(2011, 8, 7)
    assert check.holdout_observation_end == dt.date(2011, 12, 9)
    # the holdout's actual purchases, counted with pandas from the orders: purchase days in
    # the holdout of customers who first bought by the split
    orders = demo_shop.store.table("orders").execute()
    orders = orders[orders.customer_id.notna() & (orders.status != "cancelled")]
    days = orders.assign(day=orders.ordered_at.dt.normalize())[["customer_id", "day"]]
    days = days.drop_duplicates()
    first = days.groupby("customer_id").day.transform("min")
    split, end = pd.Timestamp("2011-08-07"), pd.Timestamp("2011-12-09")
    actual = int(((first <= split) & (days.day > split) & (days.day <= end)).sum())
    held = customer_summary(demo_shop.store, "2011-08-07", "2011-12-09", time_unit="D").execute()
    assert int(held.frequency_holdout.sum()) == actual
    refit = BetaGeoModel().fit(held)
    predicted = float(refit.expected_purchases(held.duration_holdout, held.frequency,
                                               held.recency, held["T"]).sum())
    assert check.holdout_error_pct == pytest.approx(100 * (predicted - actual) / actual)
    # with a holdout of its own, the fit's own error is reported
    own = fit_clv(demo_shop.store, dt.date(2011, 9, 30), dt.date(2011, 12, 9))
    own_check = dropout_check(demo_shop.store, own,
                              clv(own.purchases, own.spend, own.summary, time_unit="D"))
    assert own_check.too_little_dropout is True
    assert own_check.holdout_calibration_end == dt.date(2011, 9, 30)
    assert own_check.holdout_error_pct == pytest.approx(own.holdout().total_error_pct)
