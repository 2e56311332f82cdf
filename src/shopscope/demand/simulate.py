"""Replay an inventory policy day by day over real (or generated) demand, lost sales.

Pure numpy over an ``(SKUs, days)`` demand matrix, vectorised over SKUs. Each day, for
every SKU at once:

1. demand is served from stock: ``sold = min(on_hand, demand)``, the rest is lost;
2. on a review day (every day when ``review`` is 0, else every ``review`` days from the
   first) a SKU whose inventory position (on hand + on order) is at or below its
   ``reorder`` level and below its ``target`` orders ``target − position``, made orderable
   (MOQ, whole packs); (s, Q) is ``reorder = s, target = s + Q``, (R, S) is
   ``reorder = target = S``;
3. orders due today arrive (an order placed on day t with lead time L arrives at the end
   of day t + L, so the demand of L days falls between order and arrival).

A **cycle** is the span between two receipts of a SKU; a cycle is short (a stock-out) if
a sale was lost in it. Achieved cycle service level = cycles without a lost sale / cycles
(the span before the first receipt is left out: its stock is the arbitrary start).
Fill rate = units sold / units demanded. Stock-out days: days with a lost sale. Average
inventory: mean stock at the end of the day; turns per year = sold / average inventory ×
365 / days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Replay:
    """Per SKU: ``demand``, ``sold``, ``lost`` units, ``cycles``, ``short_cycles``,
    ``stockout_days``, ``avg_inventory``, ``orders`` (arrays of length SKUs), ``days``."""

    demand: np.ndarray
    sold: np.ndarray
    lost: np.ndarray
    cycles: np.ndarray
    short_cycles: np.ndarray
    stockout_days: np.ndarray
    avg_inventory: np.ndarray
    orders: np.ndarray
    days: int


def _vec(x, n: int, name: str, *, integer: bool = False) -> np.ndarray:
    a = np.broadcast_to(np.asarray(x, dtype="float64"), (n,)).copy()
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name}: need finite numbers ≥ 0")
    return np.round(a).astype("int64") if integer else a


def replay(demand: np.ndarray, *, reorder, target, lead, start, review: int = 0,
           moq=0.0, pack=1.0) -> Replay:
    """Replay the policy over ``demand`` (SKUs × days, units ≥ 0); ``reorder``, ``target``,
    ``lead`` (whole days), ``start`` (stock on hand before the first day), ``moq`` and
    ``pack`` per SKU or one for all; ``review``: 0 for continuous review, else days between
    reviews."""
    dem = np.asarray(demand, dtype="float64")
    if dem.ndim != 2 or not np.all(np.isfinite(dem)) or np.any(dem < 0):
        raise ValueError("demand: need a SKUs × days matrix of finite units ≥ 0")
    n, days = dem.shape
    s = _vec(reorder, n, "reorder")
    big_s = _vec(target, n, "target")
    lt = _vec(lead, n, "lead", integer=True)
    m = _vec(moq, n, "moq")
    p = _vec(pack, n, "pack")
    if np.any(p <= 0):
        raise ValueError("pack: need numbers > 0")
    on_hand = _vec(start, n, "start")
    rows = np.arange(n)
    due = np.zeros((n, days + int(lt.max(initial=0)) + 1))  # units arriving per day
    sold_t = np.zeros(n)
    lost_t = np.zeros(n)
    out_days = np.zeros(n, dtype="int64")
    inv_sum = np.zeros(n)
    orders = np.zeros(n, dtype="int64")
    cycles = np.zeros(n, dtype="int64")
    short = np.zeros(n, dtype="int64")
    received_once = np.zeros(n, dtype=bool)
    lost_in_cycle = np.zeros(n, dtype=bool)
    for t in range(days):
        d = dem[:, t]
        sold = np.minimum(on_hand, d)
        lost = d - sold
        on_hand -= sold
        sold_t += sold
        lost_t += lost
        out_days += lost > 0
        lost_in_cycle |= lost > 0
        if review == 0 or t % review == 0:
            position = on_hand + due[:, t:].sum(axis=1)
            need = np.where((position <= s) & (position < big_s), big_s - position, 0.0)
            qty = np.where(need > 0, np.ceil(np.maximum(need, m) / p - 1e-9) * p, 0.0)
            ordered = qty > 0
            orders += ordered
            due[rows[ordered], t + lt[ordered]] += qty[ordered]
        arrive = due[:, t]
        got = arrive > 0
        on_hand += arrive
        cycles += got & received_once
        short += got & received_once & lost_in_cycle
        lost_in_cycle &= ~got
        received_once |= got
        inv_sum += on_hand
    return Replay(demand=dem.sum(axis=1), sold=sold_t, lost=lost_t, cycles=cycles,
                  short_cycles=short, stockout_days=out_days, avg_inventory=inv_sum / days,
                  orders=orders, days=days)


def _ratio(num, den):
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def per_sku(r: Replay) -> pd.DataFrame:
    """One row per SKU: ``demand``, ``sold``, ``lost``, ``fill_rate``, ``cycles``,
    ``csl`` (cycles without a lost sale / cycles), ``stockout_days``, ``avg_inventory``,
    ``turns`` (per year), ``orders``; a rate without a base (no demand, no cycle) is
    missing (None), not 0."""
    frame = pd.DataFrame({
        "demand": r.demand, "sold": r.sold, "lost": r.lost,
        "fill_rate": _ratio(r.sold, r.demand), "cycles": r.cycles,
        "csl": 1 - _ratio(r.short_cycles, r.cycles), "stockout_days": r.stockout_days,
        "avg_inventory": r.avg_inventory,
        "turns": _ratio(r.sold, r.avg_inventory) * 365 / r.days, "orders": r.orders})
    return frame.astype({"fill_rate": "object", "csl": "object", "turns": "object"}).where(
        frame.notna(), None)


def total(r: Replay) -> dict[str, float | int | None]:
    """The same over all SKUs (fill rate and CSL pooled: units and cycles summed)."""
    def num(x) -> float | None:
        x = float(x)
        return x if np.isfinite(x) else None

    inv = float(r.avg_inventory.sum())
    return {"skus": len(r.demand), "demand": float(r.demand.sum()),
            "sold": float(r.sold.sum()), "lost": float(r.lost.sum()),
            "fill_rate": num(_ratio(r.sold.sum(), r.demand.sum())),
            "cycles": int(r.cycles.sum()),
            "csl": num(1 - _ratio(r.short_cycles.sum(), r.cycles.sum())),
            "stockout_days": int(r.stockout_days.sum()), "avg_inventory": inv,
            "turns": num(_ratio(r.sold.sum(), inv) * 365 / r.days),
            "orders": int(r.orders.sum())}
