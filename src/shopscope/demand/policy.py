"""Inventory policy formulas: pure functions of numbers (units and days as given).

``d`` is the mean demand per period and ``σ_d`` its standard deviation, ``L`` the lead time
and ``R`` the review period in the same periods, ``σ_L`` the lead time's standard deviation.
The cycle service level (CSL) is the probability of no stock-out in a replenishment cycle;
its safety factor is ``z = Φ⁻¹(CSL)``.
"""

from __future__ import annotations

import math

from scipy.stats import norm


def _check(name: str, value: float, *, positive: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "> 0" if positive else "≥ 0"
        raise ValueError(f"{name} = {value!r}: need a finite number {need}")
    return v


def safety_factor(service_level: float) -> float:
    """``z = Φ⁻¹(CSL)`` for a cycle service level strictly between 0 and 1."""
    csl = float(service_level)
    if not 0 < csl < 1:
        raise ValueError(f"service level {service_level!r}: need a share strictly between 0 "
                         "and 1 (0.95 for 95%)")
    return float(norm.ppf(csl))


def safety_stock(z: float, sigma_d: float, lead_time: float,
                 sigma_lead_time: float = 0.0, mean_demand: float = 0.0) -> float:
    """``z · σ_d · √L``; with a variable lead time (``σ_L`` > 0),
    ``z · √(L · σ_d² + d² · σ_L²)``."""
    s = _check("sigma_d", sigma_d)
    lt = _check("lead_time", lead_time)
    sl = _check("sigma_lead_time", sigma_lead_time)
    d = _check("mean_demand", mean_demand)
    if sl == 0:
        return z * s * math.sqrt(lt)
    return z * math.sqrt(lt * s * s + d * d * sl * sl)


def reorder_point(mean_demand: float, lead_time: float, safety: float) -> float:
    """``d · L + SS``: order when the inventory position falls to it."""
    return _check("mean_demand", mean_demand) * _check("lead_time", lead_time) + safety


def eoq(annual_demand: float, order_cost: float, holding_cost: float) -> float:
    """Economic order quantity ``√(2 D S / H)`` (D per year, S per order, H per unit and
    year)."""
    D = _check("annual_demand", annual_demand)
    S = _check("order_cost", order_cost)
    H = _check("holding_cost", holding_cost, positive=True)
    return math.sqrt(2 * D * S / H)


def order_up_to(mean_demand: float, review: float, lead_time: float, safety: float) -> float:
    """Periodic review: the level ``S = d · (R + L) + SS`` an order tops the inventory
    position up to (``safety`` taken over ``R + L``)."""
    d = _check("mean_demand", mean_demand)
    return d * (_check("review", review) + _check("lead_time", lead_time)) + safety


def order_quantity(need: float, moq: float = 0.0, pack: float = 1.0) -> float:
    """An order for ``need`` units made orderable: nothing when nothing is needed, else at
    least the minimum order quantity, rounded up to whole packs."""
    n = float(need)
    m = _check("moq", moq)
    p = _check("pack", pack, positive=True)
    if not math.isfinite(n) or n <= 0:
        return 0.0
    return math.ceil(max(n, m) / p - 1e-9) * p


def days_of_cover(on_hand: float, daily_demand: float) -> float:
    """How many days the stock lasts at the mean daily demand (∞ without demand; no stock,
    or negative stock, covers 0 days)."""
    d = _check("daily_demand", daily_demand)
    stock = max(float(on_hand), 0.0)
    if d == 0:
        return math.inf if stock > 0 else 0.0
    return stock / d
