"""Synthetic A/A and A/B experiments on the synthetic shop's customers, with known effects.

The customers are drawn from the same generative model as :func:`shopscope.synth.generate`
(docs/synth.md), with the parameters of a :class:`~shopscope.synth.params.SynthConfig`:
a share ``prospect_share`` never buys; a buyer orders at rate ``λ ~ Gamma(r, rate α)`` per
day (BG/NBD) and each order is worth ``z ~ Gamma(p, rate ν)``, ``ν ~ Gamma(q, rate γ)``
per customer (Gamma-Gamma). Dropout is left out: over an experiment of a few weeks the
customers are taken to be alive (the truth below is exact for the process simulated).

An experiment enrols each customer at a time ``u`` uniform over the first ``enroll_days``
days of a ``days``-day window and assigns them at random to a variant. A treated customer
orders at rate ``λ·(1 + lift_rate)`` and spends ``z·(1 + lift_spend)`` per order, from
enrolment to the end of the window; before the start (the CUPED pre-period of
``pre_days`` days) everyone orders at rate ``λ`` unchanged, so the pre-period is correlated
with the outcome through ``λ`` and ``ν`` exactly as in a real shop. A/A: both lifts 0.

The true values per variant follow in closed form, with ``b = 1 − prospect_share``, the
exposure ``e = days − u`` (uniform on ``[days − enroll_days, days]``), rate multiplier
``m`` and spend multiplier ``s``:

* conversion (at least one order): ``b·(1 − E_e[(α/(α + m·e))^r])`` — the Gamma
  mixture's Laplace transform, integrated over ``e`` analytically;
* orders per unit ``b·(r/α)·m·E[e]``; revenue per unit ``b·(r/α)·m·E[e]·s·pγ/(q − 1)``;
* AOV = revenue / orders = ``s·pγ/(q − 1)`` (``λ`` and ``ν`` are independent).

:func:`experiment_tables` writes canonical ``experiments``, ``orders`` and ``customers``
frames (for the engine-side analysis); :func:`simulate_many` draws thousands of
experiments at once and returns per-experiment sufficient statistics directly (for the
coverage and false-positive simulations), including the cumulative daily conversion counts
a daily-peeking sequential test needs.

Examples
--------
>>> sim = experiment_tables(200, start="2024-03-01", days=14, lift_rate=0.2, seed=1)
>>> sorted(sim.experiments.variant.unique())
['control', 'treatment']
>>> round(sim.truth.rel_effect("revenue_per_unit"), 6)
0.2
>>> many = simulate_many(50, 400, days=14, seed=0)
>>> many.conversions.shape, many.n.shape
((50, 2), (50, 2))
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopscope.synth.params import SynthConfig, SynthError

__all__ = [
    "ExperimentTruth",
    "ManyExperiments",
    "SyntheticExperiment",
    "experiment_tables",
    "simulate_many",
    "true_values",
]

METRICS = ("conversion", "orders_per_unit", "revenue_per_unit", "aov")


@dataclass(frozen=True)
class ExperimentTruth:
    """True per-unit values of each metric per variant (see the module docstring).

    ``values[metric][variant]`` for the metrics ``conversion``, ``orders_per_unit``,
    ``revenue_per_unit`` and ``aov``; ``lift_rate`` and ``lift_spend`` are the treatment's
    multiplicative effects (0 in an A/A test).
    """

    variants: tuple[str, ...]
    lift_rate: float
    lift_spend: float
    days: int
    enroll_days: float
    values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def abs_effect(self, metric: str) -> float:
        """Treatment minus control."""
        v = self.values[metric]
        return v[self.variants[1]] - v[self.variants[0]]

    def rel_effect(self, metric: str) -> float:
        """Treatment / control − 1."""
        v = self.values[metric]
        return v[self.variants[1]] / v[self.variants[0]] - 1


def _mean_survival(r: float, alpha: float, m: float, days: float, enroll: float) -> float:
    """E over exposure e ~ U[days − enroll, days] of (α / (α + m·e))^r."""
    lo, hi = days - enroll, days
    if enroll <= 0:
        return (alpha / (alpha + m * hi)) ** r
    if abs(r - 1) < 1e-12:
        return alpha / (m * enroll) * math.log((alpha + m * hi) / (alpha + m * lo))
    return (alpha ** r / (m * enroll * (1 - r))
            * ((alpha + m * hi) ** (1 - r) - (alpha + m * lo) ** (1 - r)))


def true_values(config: SynthConfig, m: float, s: float, days: float,
                enroll_days: float) -> dict[str, float]:
    """True conversion, orders and revenue per unit and AOV for rate and spend multipliers
    ``m`` and ``s`` (closed forms of the module docstring)."""
    bg, gg = config.bgnbd, config.gamma_gamma
    buyers = 1 - config.prospect_share
    mean_exposure = days - enroll_days / 2
    orders = buyers * bg.r / bg.alpha * m * mean_exposure
    aov = s * gg.mean_order_value
    return {
        "conversion": buyers * (1 - _mean_survival(bg.r, bg.alpha, m, days, enroll_days)),
        "orders_per_unit": orders,
        "revenue_per_unit": orders * aov,
        "aov": aov,
    }


def _truth(config: SynthConfig, variants: tuple[str, str], lift_rate: float, lift_spend: float,
           days: int, enroll_days: float) -> ExperimentTruth:
    control = true_values(config, 1.0, 1.0, days, enroll_days)
    treated = true_values(config, 1 + lift_rate, 1 + lift_spend, days, enroll_days)
    values = {k: {variants[0]: control[k], variants[1]: treated[k]} for k in METRICS}
    return ExperimentTruth(variants=variants, lift_rate=lift_rate, lift_spend=lift_spend,
                           days=days, enroll_days=enroll_days, values=values)


def _check(days: int, enroll_days: float | None, lift_rate: float, lift_spend: float,
           share: float) -> float:
    if days < 1:
        raise SynthError(f"days must be >= 1, got {days!r}",
                         hint="an experiment runs a day or more")
    enroll = float(days if enroll_days is None else enroll_days)
    if not 0 <= enroll <= days:
        raise SynthError(f"enroll_days must be in [0, days={days}], got {enroll_days!r}",
                         hint="0 enrols everyone at the start")
    if lift_rate <= -1 or lift_spend <= -1:
        raise SynthError(f"lifts must be > -1, got rate {lift_rate!r}, spend {lift_spend!r}",
                         hint="a lift is relative: 0.1 = +10 %")
    if not 0 < share < 1:
        raise SynthError(f"treatment share must be in (0, 1), got {share!r}",
                         hint="0.5 is an even split")
    return enroll


@dataclass(frozen=True)
class SyntheticExperiment:
    """Canonical frames of one synthetic experiment and its truth.

    ``experiments`` (experiment_id, unit_id, variant, assigned_at), ``orders`` (the units'
    orders in the pre-period and the window, all ``completed``), ``customers`` (the units,
    with ``signup_channel``), and per-unit latent ``units`` (``lam``, ``nu``, ``prospect``)
    for checks.
    """

    experiment_id: str
    start: dt.date
    end: dt.date
    experiments: pd.DataFrame
    orders: pd.DataFrame
    customers: pd.DataFrame
    units: pd.DataFrame
    truth: ExperimentTruth


def _orders(rng: np.random.Generator, owner_rate: np.ndarray, t_from: np.ndarray,
            t_to: np.ndarray, nu: np.ndarray, spend: np.ndarray,
            p_shape: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson orders at ``owner_rate`` over [t_from, t_to) days: (owner, time, value)."""
    span = np.maximum(t_to - t_from, 0.0)
    k = rng.poisson(owner_rate * span)
    owner = np.repeat(np.arange(len(k)), k)
    time = t_from[owner] + rng.random(owner.size) * span[owner]
    value = rng.gamma(p_shape, 1.0 / nu[owner]) * spend[owner]
    return owner, time, value


def experiment_tables(
    n_units: int,
    *,
    start: dt.date | str = "2024-03-01",
    days: int = 14,
    pre_days: int = 28,
    enroll_days: float | None = None,
    lift_rate: float = 0.0,
    lift_spend: float = 0.0,
    treatment_share: float = 0.5,
    variants: tuple[str, str] = ("control", "treatment"),
    experiment_id: str = "synthetic",
    config: SynthConfig | None = None,
    seed: int = 0,
) -> SyntheticExperiment:
    """One experiment on ``n_units`` synthetic customers, as canonical frames.

    Parameters
    ----------
    n_units
        Customers enrolled.
    start, days
        First day of the window and its length (the window ends on ``start + days − 1``).
    pre_days
        Days of history before ``start`` (the CUPED pre-period), drawn without effect.
    enroll_days
        Customers are enrolled uniformly over the first ``enroll_days`` days (all of the
        window when None; 0 = everyone at the start).
    lift_rate, lift_spend
        Relative effects of the treatment on the purchase rate and on the order value.
    treatment_share
        Probability of being assigned to the treatment (a planned split; a deliberately
        broken one is made by analysing with another expected split).
    variants
        Names of the control and the treatment.
    config
        The synthetic shop's parameters (defaults when None).
    seed
        Seed of the random generator; the same seed gives the same frames.

    Returns
    -------
    SyntheticExperiment
        The frames and the :class:`ExperimentTruth`.

    Raises
    ------
    SynthError
        Impossible lengths, lifts or shares.
    """
    cfg = config or SynthConfig()
    enroll = _check(days, enroll_days, lift_rate, lift_spend, treatment_share)
    rng = np.random.default_rng(seed)
    start_day = dt.date.fromisoformat(start) if isinstance(start, str) else start
    origin = pd.Timestamp(start_day)
    bg, gg = cfg.bgnbd, cfg.gamma_gamma
    n = int(n_units)

    prospect = rng.random(n) < cfg.prospect_share
    lam = np.where(prospect, 0.0, rng.gamma(bg.r, 1.0 / bg.alpha, n))
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    treated = rng.random(n) < treatment_share
    u = rng.random(n) * enroll
    rate_mult = np.where(treated, 1 + lift_rate, 1.0)
    spend_mult = np.where(treated, 1 + lift_spend, 1.0)

    pre_owner, pre_t, pre_v = _orders(rng, lam, np.full(n, -float(pre_days)), np.zeros(n), nu,
                                      np.ones(n), gg.p)
    post_owner, post_t, post_v = _orders(rng, lam * rate_mult, u, np.full(n, float(days)), nu,
                                         spend_mult, gg.p)
    owner = np.concatenate([pre_owner, post_owner])
    when = np.concatenate([pre_t, post_t])
    value = np.round(np.concatenate([pre_v, post_v]), 2)
    srt = np.lexsort((when, owner))
    owner, when, value = owner[srt], when[srt], value[srt]

    ids = np.array([f"C{i:09d}" for i in range(n)], dtype=object)
    us_per_day = 86_400_000_000
    ts = origin + pd.to_timedelta((when * us_per_day).astype(np.int64), unit="us")
    names = [c for c, _ in cfg.sales_channels]
    probs = np.array([p for _, p in cfg.sales_channels])
    channel = np.array(names, dtype=object)[
        np.minimum(np.searchsorted(np.cumsum(probs), rng.random(owner.size), side="right"),
                   len(names) - 1)]
    orders = pd.DataFrame({
        "order_id": [f"X{i:010d}" for i in range(owner.size)],
        "customer_id": ids[owner],
        "ordered_at": ts,
        "channel": channel,
        "status": "completed",
        "gross_amount": value,
        "discount_amount": 0.0,
        "shipping_amount": 0.0,
        "net_amount": value,
        "currency": "GBP",
    })
    assigned = origin + pd.to_timedelta((u * us_per_day).astype(np.int64), unit="us")
    experiments = pd.DataFrame({
        "experiment_id": experiment_id,
        "unit_id": ids,
        "variant": np.where(treated, variants[1], variants[0]).astype(object),
        "assigned_at": assigned,
    })
    acq = np.array([c.acquisition_share for c in cfg.channels])
    acq_channel = np.array([c.name for c in cfg.channels], dtype=object)[
        np.minimum(np.searchsorted(np.cumsum(acq) / acq.sum(), rng.random(n), side="right"),
                   len(acq) - 1)]
    first_seen = origin - pd.to_timedelta(pre_days + 1 + rng.integers(0, 365, n), unit="D")
    customers = pd.DataFrame({"customer_id": ids, "first_seen_at": first_seen,
                              "signup_channel": acq_channel})
    units = pd.DataFrame({"unit_id": ids, "treated": treated, "prospect": prospect,
                          "lam": lam, "nu": nu, "enrolled_day": u})
    return SyntheticExperiment(
        experiment_id=experiment_id, start=start_day,
        end=start_day + dt.timedelta(days=days - 1),
        experiments=experiments, orders=orders, customers=customers, units=units,
        truth=_truth(cfg, variants, lift_rate, lift_spend, days, enroll))


@dataclass(frozen=True)
class ManyExperiments:
    """Sufficient statistics of ``K`` simulated experiments (arm 0 = control, 1 = treatment).

    Arrays of shape ``(K, 2)``: ``n`` units, ``conversions`` (units with an order),
    ``revenue_sum`` / ``revenue_sum_sq`` (per-unit revenue), ``orders_sum`` /
    ``orders_sum_sq`` and ``cross_sum`` (Σ revenue·orders, for the AOV ratio), and the
    pre-period covariate ``pre_revenue_sum`` / ``pre_revenue_sum_sq`` /
    ``pre_cross_sum`` (Σ revenue·pre-revenue). With ``daily``: ``daily_n`` and
    ``daily_conversions`` of shape ``(K, 2, days)``, cumulative to the end of each day.
    """

    n: np.ndarray
    conversions: np.ndarray
    revenue_sum: np.ndarray
    revenue_sum_sq: np.ndarray
    orders_sum: np.ndarray
    orders_sum_sq: np.ndarray
    cross_sum: np.ndarray
    pre_revenue_sum: np.ndarray
    pre_revenue_sum_sq: np.ndarray
    pre_cross_sum: np.ndarray
    daily_n: np.ndarray | None
    daily_conversions: np.ndarray | None
    truth: ExperimentTruth

    @property
    def size(self) -> int:
        return self.n.shape[0]


def simulate_many(
    n_experiments: int,
    n_per_arm: int,
    *,
    days: int = 14,
    pre_days: int = 28,
    enroll_days: float | None = None,
    lift_rate: float = 0.0,
    lift_spend: float = 0.0,
    daily: bool = False,
    config: SynthConfig | None = None,
    seed: int = 0,
    chunk_units: int = 2_000_000,
) -> ManyExperiments:
    """``n_experiments`` independent experiments with ``n_per_arm`` units per arm, drawn
    vectorised (the same process as :func:`experiment_tables`, without writing rows).

    A unit's first order comes ``Exponential(λ·m)`` days after enrolment (it converts when
    that is inside the window, and the daily counts use the same time), then ``Poisson``
    more orders over the rest of the window, so ``K ~ Poisson(λ·m·e)`` in all; its revenue,
    a sum of ``K`` Gamma(p, rate ν) values, is one ``Gamma(K·p, rate ν)`` draw. Experiments are
    drawn in chunks of about ``chunk_units`` units to bound memory.

    Raises
    ------
    SynthError
        Impossible sizes, lengths or lifts.
    """
    cfg = config or SynthConfig()
    enroll = _check(days, enroll_days, lift_rate, lift_spend, 0.5)
    if n_experiments < 1 or n_per_arm < 2:
        raise SynthError(f"need n_experiments >= 1 and n_per_arm >= 2, got {n_experiments!r}, "
                         f"{n_per_arm!r}", hint="e.g. simulate_many(2000, 1000)")
    rng = np.random.default_rng(seed)
    bg, gg = cfg.bgnbd, cfg.gamma_gamma
    per = max(1, chunk_units // (2 * n_per_arm))
    keys = ("conversions", "revenue_sum", "revenue_sum_sq", "orders_sum", "orders_sum_sq",
            "cross_sum", "pre_revenue_sum", "pre_revenue_sum_sq", "pre_cross_sum")
    out: dict[str, list[np.ndarray]] = {k: [] for k in (*keys, "daily_n", "daily_conv")}
    mult = np.array([1.0, 1 + lift_rate])
    spend = np.array([1.0, 1 + lift_spend])
    for first in range(0, n_experiments, per):
        k = min(per, n_experiments - first)
        shape = (k, 2, n_per_arm)
        lam = rng.gamma(bg.r, 1.0 / bg.alpha, shape)
        lam[rng.random(shape) < cfg.prospect_share] = 0.0
        nu = rng.gamma(gg.q, 1.0 / gg.gamma, shape)
        u = rng.random(shape) * enroll
        rate = lam * mult[None, :, None]
        exposure = days - u
        # first order after an Exponential(rate) wait; the rest of a Poisson process after
        # its first arrival is again Poisson over the remaining time (memorylessness)
        wait = rng.exponential(1.0, shape) / np.maximum(rate, 1e-300)
        has = wait < exposure
        n_orders = np.where(has, 1 + rng.poisson(np.where(has, rate * (exposure - wait), 0.0)),
                            0)
        revenue = np.zeros(shape)
        revenue[has] = rng.gamma(n_orders[has] * gg.p, 1.0 / nu[has])
        revenue *= spend[None, :, None]
        pre_n = rng.poisson(lam * pre_days)
        pre = np.zeros(shape)
        pre_has = pre_n > 0
        pre[pre_has] = rng.gamma(pre_n[pre_has] * gg.p, 1.0 / nu[pre_has])
        orders = n_orders.astype(float)
        out["conversions"].append(has.sum(axis=2))
        out["revenue_sum"].append(revenue.sum(axis=2))
        out["revenue_sum_sq"].append((revenue ** 2).sum(axis=2))
        out["orders_sum"].append(orders.sum(axis=2))
        out["orders_sum_sq"].append((orders ** 2).sum(axis=2))
        out["cross_sum"].append((revenue * orders).sum(axis=2))
        out["pre_revenue_sum"].append(pre.sum(axis=2))
        out["pre_revenue_sum_sq"].append((pre ** 2).sum(axis=2))
        out["pre_cross_sum"].append((revenue * pre).sum(axis=2))
        if daily:
            first_at = u + wait
            cell = (np.arange(k)[:, None, None] * 2 + np.arange(2)[None, :, None])
            day_in = np.minimum(np.floor(u).astype(np.int64), days - 1)
            conv_day = np.floor(first_at)
            conv_ok = conv_day < days
            size = k * 2 * days
            n_new = np.bincount((cell * days + day_in).ravel(), minlength=size)
            conv_idx = (cell * days + np.where(conv_ok, conv_day, 0).astype(np.int64))[conv_ok]
            c_new = np.bincount(conv_idx.ravel(), minlength=size)
            out["daily_n"].append(np.cumsum(n_new.reshape(k, 2, days), axis=2))
            out["daily_conv"].append(np.cumsum(c_new.reshape(k, 2, days), axis=2))
    stats = {key: np.concatenate(out[key]) for key in keys}
    return ManyExperiments(
        n=np.full((n_experiments, 2), n_per_arm, dtype=np.int64),
        daily_n=np.concatenate(out["daily_n"]) if daily else None,
        daily_conversions=np.concatenate(out["daily_conv"]) if daily else None,
        truth=_truth(cfg, ("control", "treatment"), lift_rate, lift_spend, days, enroll),
        **stats,
    )
