"""The product catalogue: prices, popularity, baskets and the marketplace demand truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopscope.synth import arrow as A
from shopscope.synth.params import SynthConfig

BRANDS = ("Northwind", "Acme", "Lumen", "Harbor", "Verde", "Kestrel", "Orbit", "Maple",
          "Summit", "Pebble", "Corvid", "Tidewater")
PRODUCT_WIDTH = 6


@dataclass(frozen=True)
class Catalog:
    """Products as arrays indexed by product number (``product_id = 'P' + 6 digits``)."""

    category: np.ndarray  # int, index into config.categories
    brand: np.ndarray  # int, index into BRANDS
    price: np.ndarray
    cost: np.ndarray
    launched_us: np.ndarray
    popularity: np.ndarray  # sums to 1; Zipf-like
    return_prob: np.ndarray
    occurrence_prob: np.ndarray  # marketplace Croston truth
    size_mean: np.ndarray  # marketplace: size = 1 + Poisson(size_mean - 1)
    lead_time_days: np.ndarray
    # popularity sampling overall (alias table) and within price bands
    _alias_prob: np.ndarray
    _alias: np.ndarray
    _by_price: np.ndarray
    _band_low: np.ndarray
    _band_cum: np.ndarray
    _band_lo_cum: np.ndarray
    _band_hi_cum: np.ndarray

    @property
    def size(self) -> int:
        return len(self.price)

    def sample_popular(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Products drawn by popularity (Walker's alias method: O(1) per draw)."""
        u = rng.random(n) * self.size
        col = u.astype(np.int64)
        return np.where(u - col < self._alias_prob[col], col, self._alias[col])

    def id_bytes(self) -> np.ndarray:
        """``product_id`` bytes of every product, one row each (gather rows by index)."""
        return A.id_bytes("P", np.arange(self.size), PRODUCT_WIDTH)

    def sample_near_price(self, rng: np.random.Generator, target: np.ndarray) -> np.ndarray:
        """Products by popularity among those in the price band of each ``target`` price."""
        band = np.clip(np.searchsorted(self._band_low, target, side="right") - 1,
                       0, len(self._band_low) - 1)
        lo, hi = self._band_lo_cum[band], self._band_hi_cum[band]
        u = lo + rng.random(len(target)) * (hi - lo)
        pos = np.searchsorted(self._band_cum, u, side="right")
        return self._by_price[np.minimum(pos, self.size - 1)]

    def table(self, schema: pa.Schema, config: SynthConfig) -> pa.Table:
        n = self.size
        num = np.arange(n)
        cat_names = [c.name for c in config.categories]
        names = pa.array([f"{BRANDS[b]} {cat_names[c]} {i:0{PRODUCT_WIDTH}d}"
                          for i, (b, c) in enumerate(zip(self.brand, self.category, strict=True))])
        return A.table(schema, {
            "product_id": A.ids("P", num, PRODUCT_WIDTH),
            "sku": A.ids("SKU-", num, PRODUCT_WIDTH),
            "name": names,
            "category": A.pick(cat_names, self.category),
            "brand": A.pick(BRANDS, self.brand),
            "price": self.price,
            "cost": self.cost,
            "launched_at": A.timestamps(self.launched_us),
        })


def make_catalog(rng: np.random.Generator, n: int, config: SynthConfig, start_us: int) -> Catalog:
    """Draw ``n`` products: category, brand, list price, cost, popularity and demand truth."""
    cats = config.categories
    weights = np.array([c.weight for c in cats])
    category = rng.choice(len(cats), size=n, p=weights / weights.sum())
    # each category sells four of the brands
    brand_sets = np.array([[(3 * k + j) % len(BRANDS) for j in range(4)] for k in range(len(cats))])
    brand = brand_sets[category, rng.integers(0, 4, n)]
    median = np.array([c.price_median for c in cats])[category]
    sigma = np.array([c.price_sigma for c in cats])[category]
    raw = median * np.exp(sigma * rng.standard_normal(n))
    price = np.maximum(np.floor(raw) + 0.99, 0.99)
    cost = np.round(price * rng.uniform(0.35, 0.65, n), 2)
    launched_us = start_us - (rng.random(n) * 3 * 365 * A.US_PER_DAY).astype(np.int64)
    launched_us -= launched_us % A.US_PER_DAY
    rank = rng.permutation(n) + 1
    popularity = rank.astype(float) ** -config.zipf_exponent
    popularity /= popularity.sum()
    return_prob = np.array([c.return_prob for c in cats])[category]
    beta_a, beta_b = config.marketplace_occurrence_beta
    occurrence = np.clip(rng.beta(beta_a, beta_b, n), 1e-4, 0.95)
    g_shape, g_scale = config.marketplace_size_gamma
    size_mean = 1.0 + rng.gamma(g_shape, g_scale, n)
    lead = np.asarray(config.lead_times)[rng.integers(0, len(config.lead_times), n)]

    alias_prob, alias = _alias_table(popularity)
    by_price = np.argsort(price, kind="stable")
    n_bands = int(np.clip(n // 20, 1, 50))
    edges = np.linspace(0, n, n_bands + 1).astype(int)
    band_cum = np.cumsum(popularity[by_price])
    band_cum_pad = np.concatenate([[0.0], band_cum])
    return Catalog(
        category=category, brand=brand, price=price, cost=cost, launched_us=launched_us,
        popularity=popularity, return_prob=return_prob, occurrence_prob=occurrence,
        size_mean=size_mean, lead_time_days=lead.astype(np.int64),
        _alias_prob=alias_prob, _alias=alias, _by_price=by_price,
        _band_low=price[by_price][edges[:-1]], _band_cum=band_cum,
        _band_lo_cum=band_cum_pad[edges[:-1]], _band_hi_cum=band_cum_pad[edges[1:]],
    )


def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for sampling an index with probability ``weights / sum``."""
    n = weights.size
    scaled = weights / weights.sum() * n
    prob = np.ones(n)
    alias = np.arange(n)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias


@dataclass(frozen=True)
class Baskets:
    """Order lines for a batch of orders, grouped by order (line order within order)."""

    n_lines: np.ndarray  # per order
    start: np.ndarray  # per order: index of its first line
    order: np.ndarray  # per line: order index in the batch
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    gross: np.ndarray  # per order: sum(quantity * unit_price)


def build_baskets(rng: np.random.Generator, catalog: Catalog, value: np.ndarray) -> Baskets:
    """Fill each order with lines whose total is the order's drawn value.

    Lines split the value by a flat Dirichlet; each line takes a popular product from the
    price band of its share and a quantity that brings it close to that share (a product
    drawn twice becomes one line). The order's
    unit prices are the list prices times one factor that makes the total equal the drawn
    value to the cent (a promotion or price change on the day); the factor is near 1.
    """
    n = len(value)
    n_lines = np.minimum(1 + rng.poisson(value / 40.0), 10).astype(np.int64)
    start = np.cumsum(n_lines) - n_lines
    order = np.repeat(np.arange(n), n_lines)
    w = rng.gamma(1.0, 1.0, len(order))
    w /= np.add.reduceat(w, start)[order] if n else 1.0
    share = value[order] * w
    qty0 = 1 + rng.poisson(0.2, len(order))
    product = catalog.sample_near_price(rng, share / qty0)
    quantity = np.maximum(1, np.rint(share / catalog.price[product])).astype(np.int64)
    # one line per product: a product drawn twice for an order is one line with both amounts
    srt = np.lexsort((product, order))
    order, product, quantity = order[srt], product[srt], quantity[srt]
    new_line = np.ones(order.size, bool)
    new_line[1:] = (order[1:] != order[:-1]) | (product[1:] != product[:-1])
    heads = np.flatnonzero(new_line)
    quantity = np.add.reduceat(quantity, heads) if heads.size else quantity
    order, product = order[heads], product[heads]
    n_lines = np.bincount(order, minlength=n).astype(np.int64)
    start = np.cumsum(n_lines) - n_lines
    list_price = catalog.price[product]
    list_total = np.add.reduceat(quantity * list_price, start) if n else np.zeros(0)
    factor = value / list_total
    unit_price = np.round(list_price * factor[order], 2)
    unit_price = np.maximum(unit_price, 0.01)
    gross = np.round(np.add.reduceat(quantity * unit_price, start), 2) if n else np.zeros(0)
    return Baskets(n_lines=n_lines, start=start, order=order, product=product,
                   quantity=quantity, unit_price=unit_price, gross=gross)


def marketplace_demand(
    rng: np.random.Generator, catalog: Catalog, days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Croston demand of the marketplace: ``(day, product, units)`` of each occurrence."""
    step = max(1, 4_000_000 // max(catalog.size, 1))  # bound memory for big catalogues
    days_out, products = [], []
    for d0 in range(0, days, step):
        occurs = rng.random((min(step, days - d0), catalog.size)) < catalog.occurrence_prob
        day, product = np.nonzero(occurs)
        days_out.append(day + d0)
        products.append(product)
    day = np.concatenate(days_out).astype(np.int64)
    product = np.concatenate(products).astype(np.int64)
    units = 1 + rng.poisson(catalog.size_mean[product] - 1.0)
    return day, product, units.astype(np.int64)
