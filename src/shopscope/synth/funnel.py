"""Traffic sources and the session funnel (view -> add_to_cart -> checkout -> purchase).

Sessions are independent draws: a session arrives through channel ``c`` with probability
``traffic_share[c]`` and goes view -> cart with ``view_to_cart[c]``, cart -> checkout with
``cart_to_checkout`` and checkout -> purchase with ``checkout_to_purchase``. Known
customers' orders are generated first (BG/NBD); the sessions that led to an order are then
drawn backwards: a converting session (channel ``~ share * conv``) preceded by
``Geometric(P) - 1`` sessions that did not convert (channel ``~ share * (1 - conv)``, depth
given that). Anonymous visitors' sessions are drawn forwards and a purchase is a guest
order. Both describe the same sequence of independent sessions, so the step conversion
rates in ``events`` estimate the configured probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopscope.synth import arrow as A
from shopscope.synth.marketing import time_of_day_us
from shopscope.synth.params import SynthConfig

VIEW, CART, CHECKOUT, PURCHASE = 0, 1, 2, 3


@dataclass(frozen=True)
class Traffic:
    """Channel shares and step probabilities, plus the flat list of traffic sources.

    A *source* is a (channel, campaign) pair; channels without campaigns have one source
    with campaign -1.
    """

    share: np.ndarray  # (C,)
    view_to_cart: np.ndarray  # (C,)
    cart_to_checkout: float
    checkout_to_purchase: float
    src_channel: np.ndarray  # (S,)
    src_campaign: np.ndarray  # (S,) index into the flat campaign list, -1 if none
    _src_cum: np.ndarray  # channel + cumulative within-channel weight

    @property
    def conversion(self) -> np.ndarray:
        """Probability that a session of each channel ends in a purchase."""
        return self.view_to_cart * self.cart_to_checkout * self.checkout_to_purchase

    @property
    def mean_conversion(self) -> float:
        return float(self.share @ self.conversion)

    def channel(self, rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
        cum = np.cumsum(weights) / weights.sum()
        return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)

    def source(self, rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self._src_cum, channel + rng.random(channel.size), side="right")
        return np.minimum(pos, self.src_channel.size - 1)

    def depth_forward(self, rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
        """How far each session gets, drawn step by step."""
        u = rng.random((3, channel.size))
        cart = u[0] < self.view_to_cart[channel]
        checkout = cart & (u[1] < self.cart_to_checkout)
        purchase = checkout & (u[2] < self.checkout_to_purchase)
        return (cart.astype(np.int8) + checkout + purchase).astype(np.int8)

    def depth_failed(self, rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
        """Depth of sessions known not to have converted."""
        p1, p2, p3 = self.view_to_cart[channel], self.cart_to_checkout, self.checkout_to_purchase
        stop_view = 1 - p1
        stop_cart = p1 * (1 - p2)
        stop_checkout = p1 * p2 * (1 - p3)
        total = stop_view + stop_cart + stop_checkout
        u = rng.random(channel.size) * total
        return ((u >= stop_view).astype(np.int8) + (u >= stop_view + stop_cart)).astype(np.int8)


def make_traffic(config: SynthConfig) -> Traffic:
    src_channel, src_campaign, cum = [], [], []
    flat = 0
    for c, ch in enumerate(config.channels):
        if ch.campaigns:
            total = sum(k.weight for k in ch.campaigns)
            acc = 0.0
            for k in ch.campaigns:
                acc += k.weight / total
                src_channel.append(c)
                src_campaign.append(flat)
                cum.append(c + min(acc, 1.0))
                flat += 1
            cum[-1] = c + 1.0
        else:
            src_channel.append(c)
            src_campaign.append(-1)
            cum.append(c + 1.0)
    cum_arr = np.array(cum)
    cum_arr[-1] = np.inf  # channel + u never escapes the last bucket
    return Traffic(
        share=np.array([c.traffic_share for c in config.channels]),
        view_to_cart=np.array([c.view_to_cart for c in config.channels]),
        cart_to_checkout=config.funnel.cart_to_checkout,
        checkout_to_purchase=config.funnel.checkout_to_purchase,
        src_channel=np.array(src_channel, dtype=np.int64),
        src_campaign=np.array(src_campaign, dtype=np.int64),
        _src_cum=cum_arr,
    )


@dataclass(frozen=True)
class AnonymousSessions:
    """Sessions of visitors who never sign up; converting ones become guest orders."""

    visitor: np.ndarray  # global anonymous visitor number
    tracked_u: np.ndarray  # per session (the visitor's uniform)
    start_us: np.ndarray  # nominal start; a converting session ends at its order time
    platform: np.ndarray  # 0 web, 1 app
    source: np.ndarray
    depth: np.ndarray
    order_us: np.ndarray  # per session; meaningful where depth == PURCHASE


def simulate_anonymous(
    rng: np.random.Generator,
    config: SynthConfig,
    traffic: Traffic,
    first_visitor: int,
    n_visitors: int,
    start_us: int,
    end_us: int,
) -> AnonymousSessions:
    """Sessions of ``n_visitors`` anonymous visitors: 1 + Poisson sessions, the first
    uniform over the window, the next ones an exponential number of days later."""
    days = (end_us - start_us) // A.US_PER_DAY
    n_sess = 1 + rng.poisson(config.anonymous_sessions_mean, n_visitors)
    visitor_u = rng.random(n_visitors)
    owner = np.repeat(np.arange(n_visitors), n_sess)
    first = start_us + rng.integers(0, days, n_visitors) * A.US_PER_DAY
    first = first + time_of_day_us(rng, n_visitors)
    gaps = (rng.exponential(config.anonymous_revisit_days, owner.size) * A.US_PER_DAY)
    starts_at = np.cumsum(n_sess) - n_sess
    is_first = np.zeros(owner.size, bool)
    is_first[starts_at] = True
    gaps = np.where(is_first, 0, gaps.astype(np.int64))
    cum = np.cumsum(gaps)
    t = first[owner] + cum - cum[starts_at][owner]
    keep = t < end_us
    owner, t = owner[keep], t[keep]
    channel = traffic.channel(rng, owner.size, traffic.share)
    source = traffic.source(rng, channel)
    platform = (rng.random(owner.size) < config.app_share).astype(np.int8)
    depth = traffic.depth_forward(rng, channel)
    duration = (rng.gamma(3.0, 120.0, owner.size) * A.US_PER_SECOND).astype(np.int64)
    order_us = np.minimum(t + duration, end_us - 1)
    return AnonymousSessions(
        visitor=first_visitor + owner, tracked_u=visitor_u[owner], start_us=t,
        platform=platform, source=source, depth=depth, order_us=order_us,
    )
