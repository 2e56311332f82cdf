"""Marketing spend and the acquisitions it causes.

Expected new customers of channel ``c`` on day ``d`` are

    mu[c, d] = base[c] * season[d]          (unpaid channels)
    mu[c, d] = base[c] + spend[c, d] / cac[c]   (paid channels)

so ``1 / cac`` is the true effect of one unit of spend (rounding spend to cents aside).
Spend is drawn first, scaled so that ``sum(mu) == customers``; each customer's (channel,
day) is then a draw from ``mu / sum(mu)``. The draw probabilities do not depend on the
number of customers, so a small shop is the first blocks of a bigger one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopscope.synth import arrow as A
from shopscope.synth.params import SynthConfig

# share of the day's activity by hour, local time (quiet at night, peaks at lunch and evening)
HOUR_WEIGHTS = np.array([
    0.8, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.8, 2.8, 3.6, 4.4, 5.0,
    5.6, 5.4, 5.0, 4.8, 4.8, 5.0, 5.6, 6.4, 7.0, 6.6, 4.8, 2.6,
])
HOUR_CUM = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
WEEKDAY_FACTOR = np.array([1.0, 1.0, 0.98, 0.98, 0.95, 1.02, 1.07])  # Monday first


def time_of_day_us(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds after midnight, following :data:`HOUR_WEIGHTS`."""
    hour = np.minimum(np.searchsorted(HOUR_CUM, rng.random(n), side="right"), 23)
    return hour * 3_600_000_000 + (rng.random(n) * 3_600_000_000).astype(np.int64)


def weekday(epoch_days: np.ndarray) -> np.ndarray:
    """Monday = 0 for days since 1970-01-01 (a Thursday)."""
    return (epoch_days + 3) % 7


def season(epoch_days: np.ndarray) -> np.ndarray:
    """Yearly swing peaking in early December times the weekday pattern; mean 1."""
    doy = (epoch_days.astype(float) - 335.0) % 365.25  # day 335 = 1 December
    s = (1 + 0.2 * np.cos(2 * np.pi * doy / 365.25)) * WEEKDAY_FACTOR[weekday(epoch_days)]
    return s / s.mean()


@dataclass(frozen=True)
class MarketingPlan:
    """Daily spend and expected acquisitions per channel; draws customers' acquisitions."""

    expected: np.ndarray  # (channels, days) expected acquisitions, sums to customers
    spend: np.ndarray  # (channels, days) channel spend (sum of its campaigns' rows)
    base_per_day: np.ndarray  # (channels,) acquisitions not driven by spend (paid channels)
    table: pa.Table
    _cum: np.ndarray

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(channel, day)`` of ``n`` new customers."""
        cell = np.minimum(np.searchsorted(self._cum, rng.random(n), side="right"),
                          self._cum.size - 1)
        days = self.expected.shape[1]
        return cell // days, cell % days


def plan_marketing(
    rng: np.random.Generator,
    config: SynthConfig,
    customers: int,
    start_day: int,
    days: int,
    schema: pa.Schema,
) -> MarketingPlan:
    """Draw daily spend, impressions and clicks per campaign and the acquisition intensity."""
    epoch_days = start_day + np.arange(days)
    seas = season(epoch_days)
    # the shape of the plan is drawn per customer, then scaled: the draw probabilities are
    # the same for every size of shop, so a shop's first customers do not depend on its size
    unit = 1.0 / days
    n_ch = len(config.channels)
    shape = np.zeros((n_ch, days))
    spend = np.zeros((n_ch, days))
    base = np.zeros(n_ch)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("day", "channel", "campaign", "spend", "imp", "clk")}
    campaign_names: list[str] = []
    # daily spend pattern of every paid channel first: the draws after it (impressions,
    # clicks) depend on the shop's size and must not shift these
    pattern: dict[int, np.ndarray] = {}
    for c, ch in enumerate(config.channels):
        if ch.cac is None and ch.budget_per_customer == 0:
            continue
        g = WEEKDAY_FACTOR[weekday(epoch_days)] * np.exp(0.3 * rng.standard_normal(days))
        if ch.flighted:
            on = rng.random(days // 28 + 1) < 0.7
            on[rng.integers(0, on.size)] = True
            g = g * np.repeat(on, 28)[:days]
        pattern[c] = g / g.mean()
    for c, ch in enumerate(config.channels):
        if c not in pattern:
            shape[c] = ch.acquisition_share * unit * seas
            continue
        g = pattern[c]
        if ch.cac is not None:
            base[c] = ch.base_share * ch.acquisition_share * unit
            unit_budget = (1 - ch.base_share) * ch.acquisition_share * unit * ch.cac
            shape[c] = base[c] + unit_budget * g / ch.cac
        else:
            unit_budget = ch.budget_per_customer * unit
        campaigns = ch.campaigns or ()
        weights = np.array([k.weight for k in campaigns]) if campaigns else np.array([1.0])
        weights = weights / weights.sum()
        for k, w in enumerate(weights):
            cspend = np.round(customers * unit_budget * g * w, 2)
            spend[c] += cspend
            live = cspend > 0
            imp = np.rint(cspend / ch.cpm * 1000 * np.exp(0.1 * rng.standard_normal(days)))
            imp = imp.astype(np.int64)
            clk = rng.binomial(imp, ch.ctr)
            campaign_names.append(campaigns[k].campaign_id if campaigns else "")
            rows["day"].append(epoch_days[live])
            rows["channel"].append(np.full(live.sum(), c))
            camp = len(campaign_names) - 1 if campaigns else -1
            rows["campaign"].append(np.full(live.sum(), camp))
            rows["spend"].append(cspend[live])
            rows["imp"].append(imp[live])
            rows["clk"].append(clk[live])
    probs = shape.ravel() / shape.sum()
    cat = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in rows.items()}
    order = np.lexsort((cat["campaign"], cat["channel"], cat["day"]))
    tbl = A.table(schema, {
        "date": A.dates(cat["day"][order]),
        "channel": A.pick([c.name for c in config.channels], cat["channel"][order]),
        "campaign_id": A.pick(campaign_names, cat["campaign"][order]),
        "spend": cat["spend"][order].astype(float),
        "impressions": cat["imp"][order].astype(np.int64),
        "clicks": cat["clk"][order].astype(np.int64),
    })
    return MarketingPlan(expected=shape * customers / shape.sum(), spend=spend,
                         base_per_day=base * customers, table=tbl, _cum=np.cumsum(probs))
