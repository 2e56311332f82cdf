"""Daily stock per product and location under a reorder-point policy.

Each day: receive what arrives, ship the day's demand (stock may go negative: a backorder),
put returned units back, update an exponentially weighted estimate of daily demand
(mean ``m``, variance ``v``), and if the inventory position (on hand + on order) is at or
below the reorder point ``s = m L + z sqrt(v L)``, order up to ``S = s + m * cover``; the
order arrives ``L`` (the product's lead time) days later.
"""

from __future__ import annotations

import numpy as np

EWMA_ALPHA = 0.1
WARM_DAYS = 28


def simulate_stock(
    demand: np.ndarray, restock: np.ndarray, lead: np.ndarray, service_z: float, cover_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(on_hand, on_order)`` at the end of each day, both ``(days, products)`` int64.

    ``demand`` and ``restock`` are units shipped and returned per day and product. The
    demand estimate starts from the mean and variance of the first :data:`WARM_DAYS` days.
    """
    days, n = demand.shape
    warm = demand[: min(WARM_DAYS, days)].astype(float)
    mean, var = warm.mean(axis=0), warm.var(axis=0)
    lead = lead.astype(np.int64)
    arrivals = np.zeros((days + int(lead.max()) + 1, n), np.int64)
    cols = np.arange(n)

    def order_up_to(m: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = m * lead + service_z * np.sqrt(v * lead)
        return s, s + m * cover_days

    _, top = order_up_to(mean, var)
    stock = np.ceil(top).astype(np.int64)
    outstanding = np.zeros(n, np.int64)
    on_hand = np.empty((days, n), np.int64)
    on_order = np.empty((days, n), np.int64)
    for d in range(days):
        stock += arrivals[d] - demand[d] + restock[d]
        outstanding -= arrivals[d]
        mean = (1 - EWMA_ALPHA) * mean + EWMA_ALPHA * demand[d]
        var = (1 - EWMA_ALPHA) * var + EWMA_ALPHA * (demand[d] - mean) ** 2
        reorder, top = order_up_to(mean, var)
        position = stock + outstanding
        qty = np.where(position <= reorder, np.ceil(top - position), 0).astype(np.int64)
        qty = np.maximum(qty, 0)
        arrivals[d + lead, cols] += qty
        outstanding += qty
        on_hand[d] = stock
        on_order[d] = outstanding
    return on_hand, on_order
