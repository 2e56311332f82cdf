"""Draw customer summaries from the CLV models (for tests, benchmarks and what-ifs).

Each function draws the latent rates of ``n`` customers, runs the purchase (or spend)
process exactly and returns the summary a real shop's data would give, without
generating individual purchases: given ``K`` purchases in ``(0, L]`` the time of the
``k``-th one is ``L`` times a ``Beta(k, K - k + 1)`` order statistic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_paretonbd", "simulate_spend"]


def _T(T: Any, n: int) -> np.ndarray:
    out = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(out < 0) or not np.all(np.isfinite(out)):
        raise ValueError("T must be finite and >= 0")
    return out


def simulate_bgnbd(n: int, *, r: float, alpha: float, a: float, b: float, T: Any,
                   seed: int | np.random.Generator | None = None,
                   holdout: float | None = None) -> pd.DataFrame:
    """Summaries of ``n`` customers drawn from the BG/NBD model.

    Parameters
    ----------
    n
        Number of customers.
    r, alpha, a, b
        BG/NBD parameters (``alpha`` in the unit of ``T``).
    T
        Time from each customer's first purchase to the end of calibration (scalar or
        ``n`` values).
    seed
        Seed or generator.
    holdout
        If given, also ``frequency_holdout``: purchases in the next ``holdout`` time
        units (``duration_holdout``), continuing the same process.

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (and the holdout columns), plus the latent
        ``lam`` (purchase rate), ``p`` (dropout probability) and ``alive`` (at ``T``).

    Examples
    --------
    >>> df = simulate_bgnbd(1000, r=0.25, alpha=4.0, a=0.8, b=2.5, T=39.0, seed=0)
    >>> bool((df.recency <= df["T"]).all()) and int(df.frequency.min()) == 0
    True
    """
    rng = np.random.default_rng(seed)
    Tv = _T(T, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-300, 1.0)
    span = Tv + (holdout or 0.0)
    k = rng.poisson(lam * span)
    j = rng.geometric(p)  # dropout right after the j-th repeat purchase
    made = np.minimum(k, j)
    # times of the first `made` of k uniform arrivals on (0, span]: only the count in
    # (0, T] and the last one in it matter.
    k_cal = rng.binomial(k, np.divide(Tv, span, out=np.zeros(n), where=span > 0))
    x = np.minimum(k_cal, made)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = Tv[pos] * rng.beta(x[pos], k_cal[pos] - x[pos] + 1)
    out = {"frequency": x, "recency": tx, "T": Tv}
    if holdout is not None:
        out["frequency_holdout"] = made - x
        out["duration_holdout"] = np.full(n, float(holdout))
    out.update(lam=lam, p=p, alive=k_cal < j)
    return pd.DataFrame(out)


def simulate_paretonbd(n: int, *, r: float, alpha: float, s: float, beta: float, T: Any,
                       seed: int | np.random.Generator | None = None,
                       holdout: float | None = None) -> pd.DataFrame:
    """Summaries of ``n`` customers drawn from the Pareto/NBD model.

    Parameters
    ----------
    n, T, seed, holdout
        As for :func:`simulate_bgnbd`.
    r, alpha, s, beta
        Pareto/NBD parameters (``alpha``, ``beta`` in the unit of ``T``).

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (and holdout columns), plus the latent ``lam``,
        ``mu`` and ``alive`` (at ``T``).
    """
    rng = np.random.default_rng(seed)
    Tv = _T(T, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    life = rng.exponential(1.0 / mu)
    active = np.minimum(life, Tv)
    x = rng.poisson(lam * active)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = active[pos] * rng.beta(x[pos], 1.0)  # the last of x uniforms
    out = {"frequency": x, "recency": tx, "T": Tv}
    if holdout is not None:
        more = np.clip(np.minimum(life, Tv + holdout) - Tv, 0.0, None)
        out["frequency_holdout"] = rng.poisson(lam * more)
        out["duration_holdout"] = np.full(n, float(holdout))
    out.update(lam=lam, mu=mu, alive=life > Tv)
    return pd.DataFrame(out)


def simulate_spend(frequency: Any, *, p: float, q: float, gamma: float,
                   seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Mean value of each customer's ``frequency`` purchases under the Gamma-Gamma model.

    The mean of ``x`` independent ``Gamma(p, nu)`` values is ``Gamma(p x, x nu)``; 0 for
    customers without purchases.

    Examples
    --------
    >>> m = simulate_spend([0, 1, 5], p=6.0, q=4.0, gamma=15.0, seed=0)
    >>> m[0] == 0.0 and bool((m[1:] > 0).all())
    True
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, x.shape)
    safe = np.maximum(x, 1.0)
    m = rng.gamma(p * safe, 1.0 / (safe * nu))
    return np.where(x > 0, m, 0.0)
