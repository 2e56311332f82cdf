"""Known customers: acquisition, where they live, and their BG/NBD purchase times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopscope.synth import arrow as A
from shopscope.synth.marketing import MarketingPlan, time_of_day_us
from shopscope.synth.params import SynthConfig

CUSTOMER_WIDTH = 9


@dataclass(frozen=True)
class CustomerBlock:
    """A block of customers (sorted by acquisition time) and their purchase times."""

    number: np.ndarray  # global customer number -> customer_id 'C' + 9 digits
    first_seen_us: np.ndarray
    channel: np.ndarray  # acquisition channel index
    campaign: np.ndarray  # acquisition campaign index into ``campaign_names``, -1 if none
    region: np.ndarray  # index into config.regions
    prospect: np.ndarray  # bool: never buys
    tracked_u: np.ndarray  # uniform: tracked when below the tracking fraction
    lam: np.ndarray  # purchase rate per day while alive
    p: np.ndarray  # dropout probability after each repeat purchase
    nu: np.ndarray  # Gamma-Gamma scale of order values
    repeats: np.ndarray  # repeat purchases made in the window
    alive: np.ndarray  # bool: still alive at the end of the window (buyers)
    # transactions, sorted by (customer, time); first = the purchase at acquisition
    tx_customer: np.ndarray  # index into the block
    tx_us: np.ndarray
    tx_first: np.ndarray

    @property
    def size(self) -> int:
        return len(self.number)


def campaign_table(config: SynthConfig) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Flat list of campaigns with their channel and within-channel weight."""
    names, channel, weight = [], [], []
    for c, ch in enumerate(config.channels):
        total = sum(k.weight for k in ch.campaigns)
        for k in ch.campaigns:
            names.append(k.campaign_id)
            channel.append(c)
            weight.append(k.weight / total)
    return names, np.array(channel, dtype=np.int64), np.array(weight)


def _pick_campaign(
    rng: np.random.Generator, config: SynthConfig, channel: np.ndarray
) -> np.ndarray:
    """A campaign of each row's channel (by weight), or -1 for channels without campaigns."""
    _, camp_channel, camp_weight = campaign_table(config)
    out = np.full(len(channel), -1, dtype=np.int64)
    u = rng.random(len(channel))
    for c in np.unique(camp_channel):
        rows = channel == c
        idx = np.flatnonzero(camp_channel == c)
        cum = np.cumsum(camp_weight[idx])
        out[rows] = idx[np.minimum(np.searchsorted(cum, u[rows] * cum[-1], side="right"),
                                   len(idx) - 1)]
    return out


def simulate_customers(
    rng: np.random.Generator,
    config: SynthConfig,
    plan: MarketingPlan,
    first_number: int,
    n: int,
    start_us: int,
    end_us: int,
) -> CustomerBlock:
    """Acquire ``n`` customers and run the BG/NBD process from acquisition to ``end_us``.

    The first purchase is at acquisition. After it, purchases arrive as a Poisson process
    with rate ``lam`` until dropout; dropout happens right after the ``J``-th repeat purchase,
    ``J ~ Geometric(p)``. Given the ``K ~ Poisson(lam * T)`` arrivals in the window, the
    repeat purchases are the first ``min(K, J)`` of ``K`` sorted uniform times.
    """
    channel, day = plan.draw(rng, n)
    first_seen = start_us + day * A.US_PER_DAY + time_of_day_us(rng, n)
    order = np.argsort(first_seen, kind="stable")
    channel, first_seen = channel[order], first_seen[order]
    campaign = _pick_campaign(rng, config, channel)
    reg_w = np.array([w for *_, w in config.regions])
    region = np.minimum(np.searchsorted(np.cumsum(reg_w) / reg_w.sum(), rng.random(n),
                                        side="right"), len(reg_w) - 1)
    prospect = rng.random(n) < config.prospect_share
    tracked_u = rng.random(n)
    bg, gg = config.bgnbd, config.gamma_gamma
    lam = rng.gamma(bg.r, 1.0 / bg.alpha, n)
    p = np.clip(rng.beta(bg.a, bg.b, n), 1e-12, 1.0)
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    t_days = (end_us - first_seen) / A.US_PER_DAY
    k = rng.poisson(lam * t_days)
    k[prospect] = 0
    j = rng.geometric(p)
    repeats = np.minimum(k, j)
    alive = (k < j) & ~prospect

    owner = np.repeat(np.arange(n), k)
    u = rng.random(owner.size)
    srt = np.lexsort((u, owner))
    owner, u = owner[srt], u[srt]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
    keep = rank < repeats[owner]
    owner, u = owner[keep], u[keep]
    repeat_us = first_seen[owner] + (u * t_days[owner] * A.US_PER_DAY).astype(np.int64)

    buyers = np.flatnonzero(~prospect)
    tx_customer = np.concatenate([buyers, owner])
    tx_us = np.concatenate([first_seen[buyers], repeat_us])
    tx_first = np.concatenate([np.ones(buyers.size, bool), np.zeros(owner.size, bool)])
    srt = np.lexsort((tx_us, tx_customer))
    return CustomerBlock(
        number=first_number + np.arange(n, dtype=np.int64), first_seen_us=first_seen,
        channel=channel, campaign=campaign, region=region, prospect=prospect,
        tracked_u=tracked_u, lam=lam, p=p, nu=nu, repeats=repeats, alive=alive,
        tx_customer=tx_customer[srt], tx_us=tx_us[srt], tx_first=tx_first[srt],
    )


def customers_table(block: CustomerBlock, config: SynthConfig, schema: pa.Schema) -> pa.Table:
    """The canonical ``customers`` rows of a block."""
    names, _, _ = campaign_table(config)
    attrs = [f'{{"acquisition_campaign":"{c}"}}' for c in names]
    n_orders = np.where(block.prospect, 0, 1 + block.repeats)
    tier = np.where(n_orders == 0, -1, np.where(n_orders >= 6, 2, np.where(n_orders >= 3, 1, 0)))
    cid = A.id_bytes("C", block.number, CUSTOMER_WIDTH)
    email = A.strings_from_bytes(
        np.concatenate([np.frombuffer(b"c", np.uint8)[None, :].repeat(block.size, 0),
                        cid[:, 1:],
                        np.frombuffer(b"@example.com", np.uint8)[None, :].repeat(block.size, 0)],
                       axis=1))
    null = pa.nulls(block.size, pa.string())
    return A.table(schema, {
        "customer_id": A.strings_from_bytes(cid),
        "first_seen_at": A.timestamps(block.first_seen_us),
        "signup_channel": A.pick([c.name for c in config.channels], block.channel),
        "region": A.pick([r for _, r, _ in config.regions], block.region),
        "country": A.pick([c for c, _, _ in config.regions], block.region),
        "member_tier": A.pick(["bronze", "silver", "gold"], tier),
        "email": email,
        "phone": null,
        "name": null,
        "attributes": A.pick(attrs, block.campaign),
    })


TRUTH_SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("prospect", pa.bool_()),
    ("lambda_per_day", pa.float64()),
    ("dropout_p", pa.float64()),
    ("nu", pa.float64()),
    ("expected_order_value", pa.float64()),
    ("repeat_orders", pa.int64()),
    ("alive_at_end", pa.bool_()),
    ("tracked", pa.bool_()),
])


def truth_table(block: CustomerBlock, config: SynthConfig, tracking: float) -> pa.Table:
    """Per-customer latent truth (``truth_customers.parquet``)."""
    return A.table(TRUTH_SCHEMA, {
        "customer_id": A.ids("C", block.number, CUSTOMER_WIDTH),
        "prospect": block.prospect,
        "lambda_per_day": block.lam,
        "dropout_p": block.p,
        "nu": block.nu,
        "expected_order_value": config.gamma_gamma.p / block.nu,
        "repeat_orders": block.repeats.astype(np.int64),
        "alive_at_end": block.alive,
        "tracked": (block.tracked_u < tracking) & ~block.prospect,
    })
