"""Behaviour events: the sessions behind orders and anonymous browsing, event by event.

A session is laid out as ``[search] view+ [add_to_cart+ [remove_from_cart]] [checkout
[purchase]]``. A converting session views and carts each product of its order, and its
``purchase`` event is at the order's time and names the order in ``properties``. Everything
is vectorised over all events of a block: no per-event Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopscope.schema.tables import EVENT_TYPES
from shopscope.synth import arrow as A
from shopscope.synth.catalog import Catalog
from shopscope.synth.customers import CUSTOMER_WIDTH, CustomerBlock, campaign_table
from shopscope.synth.funnel import CART, CHECKOUT, PURCHASE, AnonymousSessions, Traffic
from shopscope.synth.orders import APP, ORDER_WIDTH, WEB, OrderBatch
from shopscope.synth.params import SynthConfig

DEVICE_WIDTH = 12
SESSION_WIDTH = 12
ANON_DEVICE_OFFSET = 500_000_000_000  # anonymous visitors' device numbers start here
T_SEARCH, T_VIEW, T_CART, T_REMOVE, T_CHECKOUT, T_PURCHASE = (
    EVENT_TYPES.index(t) for t in
    ("search", "view", "add_to_cart", "remove_from_cart", "checkout", "purchase"))
_RUN_TYPES = np.array([T_SEARCH, T_VIEW, T_CART, T_REMOVE, T_CHECKOUT, T_PURCHASE], np.int8)


@dataclass(frozen=True)
class Sessions:
    device: np.ndarray  # device number -> anonymous_id
    user: np.ndarray  # customer number, -1 for anonymous visitors
    first_seen_us: np.ndarray  # user_id is set on events from this time on
    platform: np.ndarray  # 0 web, 1 app
    source: np.ndarray
    depth: np.ndarray
    order: np.ndarray  # index into the block's OrderBatch, -1 unless converting
    anchor_us: np.ndarray  # session start, or the purchase time when anchor_end
    anchor_end: np.ndarray

    @property
    def size(self) -> int:
        return self.device.size


def _cat_sessions(*parts: Sessions) -> Sessions:
    return Sessions(**{f: np.concatenate([getattr(s, f) for s in parts])
                       for f in Sessions.__dataclass_fields__})


def customer_sessions(
    rng: np.random.Generator,
    block: CustomerBlock,
    batch: OrderBatch,
    n_customer_orders: int,
    tracking: float,
    traffic: Traffic,
    config: SynthConfig,
    start_us: int,
) -> Sessions:
    """Converting sessions of tracked customers' web/app orders and the failed sessions
    before each of them (``Geometric(P) - 1``, spread since the previous order)."""
    d = batch.draft
    n = n_customer_orders
    cust, t = d.cust_local[:n], d.time_us[:n]
    same = np.zeros(n, bool)
    same[1:] = cust[1:] == cust[:-1]
    prev = np.concatenate([[start_us], t[:-1]]) if n else t
    lo = np.where(same, np.maximum(prev, t - 30 * A.US_PER_DAY),
                  t - 14 * A.US_PER_DAY)
    lo = np.maximum(lo, start_us)
    online = (d.channel[:n] == WEB) | (d.channel[:n] == APP)
    idx = np.flatnonzero(online & (block.tracked_u[cust] < tracking))
    k = idx.size
    conv = Sessions(
        device=block.number[cust[idx]], user=block.number[cust[idx]],
        first_seen_us=block.first_seen_us[cust[idx]], platform=d.channel[idx].astype(np.int8),
        source=d.source[idx], depth=np.full(k, PURCHASE, np.int8), order=idx,
        anchor_us=t[idx], anchor_end=np.ones(k, bool),
    )
    fails = rng.geometric(traffic.mean_conversion, k) - 1
    owner = np.repeat(idx, fails)
    m = owner.size
    channel = traffic.channel(rng, m, traffic.share * (1 - traffic.conversion))
    begin = lo[owner] + (rng.random(m) * (t[owner] - lo[owner])).astype(np.int64)
    failed = Sessions(
        device=block.number[cust[owner]], user=block.number[cust[owner]],
        first_seen_us=block.first_seen_us[cust[owner]],
        platform=(rng.random(m) < config.app_share).astype(np.int8),
        source=traffic.source(rng, channel), depth=traffic.depth_failed(rng, channel),
        order=np.full(m, -1, np.int64), anchor_us=begin, anchor_end=np.zeros(m, bool),
    )
    return _cat_sessions(failed, conv)


def anonymous_sessions(
    anon: AnonymousSessions, guest_sessions: np.ndarray, first_guest_order: int, tracking: float
) -> Sessions:
    """Tracked anonymous sessions; converting ones point at their guest orders."""
    order = np.full(anon.visitor.size, -1, np.int64)
    order[guest_sessions] = first_guest_order + np.arange(guest_sessions.size)
    keep = np.flatnonzero(anon.tracked_u < tracking)
    converting = order[keep] >= 0
    return Sessions(
        device=ANON_DEVICE_OFFSET + anon.visitor[keep], user=np.full(keep.size, -1, np.int64),
        first_seen_us=np.zeros(keep.size, np.int64), platform=anon.platform[keep],
        source=anon.source[keep], depth=anon.depth[keep], order=order[keep],
        anchor_us=np.where(converting, anon.order_us[keep], anon.start_us[keep]),
        anchor_end=converting,
    )


@dataclass(frozen=True)
class _Layout:
    search: np.ndarray
    views: np.ndarray
    carts: np.ndarray
    remove: np.ndarray
    checkout: np.ndarray
    purchase: np.ndarray
    lines: np.ndarray  # order lines of converting sessions, else 0

    @property
    def n_events(self) -> np.ndarray:
        return self.search + self.views + self.carts + self.remove + self.checkout + self.purchase


def _layout(
    rng: np.random.Generator, s: Sessions, batch: OrderBatch, config: SynthConfig
) -> _Layout:
    f = config.funnel
    n = s.size
    converting = s.order >= 0
    lines = np.where(converting, batch.baskets.n_lines[np.maximum(s.order, 0)], 0)
    search = (rng.random(n) < f.search_prob).astype(np.int64)
    views = np.where(converting, lines, 1) + rng.poisson(f.extra_views_mean, n)
    carts = np.where(converting, lines,
                     np.where(s.depth >= CART, 1 + rng.poisson(f.extra_carts_mean, n), 0))
    remove = ((s.depth == CART) & (rng.random(n) < f.remove_prob)).astype(np.int64)
    return _Layout(search=search, views=views, carts=carts, remove=remove,
                   checkout=(s.depth >= CHECKOUT).astype(np.int64),
                   purchase=(s.depth == PURCHASE).astype(np.int64), lines=lines)


def count_events(
    rng: np.random.Generator, s: Sessions, batch: OrderBatch, config: SynthConfig
) -> int:
    """How many events these sessions make (for sizing a run)."""
    return int(_layout(rng, s, batch, config).n_events.sum())


def events_table(
    rng: np.random.Generator,
    s: Sessions,
    batch: OrderBatch,
    catalog: Catalog,
    config: SynthConfig,
    traffic: Traffic,
    first_session: int,
    schema: pa.Schema,
) -> pa.Table:
    """Every event of the sessions, as canonical ``events`` rows."""
    lay = _layout(rng, s, batch, config)
    n_ev = lay.n_events
    total = int(n_ev.sum())
    # one run per (session, event type) in layout order; repeat turns runs into events
    runs = np.stack([lay.search, lay.views, lay.carts, lay.remove, lay.checkout, lay.purchase],
                    axis=1).ravel()
    etype = np.repeat(np.tile(_RUN_TYPES, s.size), runs)
    run_start = np.cumsum(runs) - runs
    j = np.arange(total) - np.repeat(run_start, runs)  # index within its run
    sess = np.repeat(np.arange(s.size), n_ev)
    ev_start = np.cumsum(n_ev) - n_ev
    view_start = run_start[1::6]  # first view event of each session
    cart_start = run_start[2::6]

    # products: converting sessions view and cart their order's lines first
    product = np.full(total, -1, np.int64)
    line_start = batch.baskets.start[np.maximum(s.order, 0)]
    for code in (T_VIEW, T_CART):
        ev = np.flatnonzero(etype == code)
        es = sess[ev]
        own = j[ev] < lay.lines[es]
        product[ev[own]] = batch.baskets.product[line_start[es[own]] + j[ev[own]]]
        other = ev[~own]
        if code == T_VIEW:
            product[other] = catalog.sample_popular(rng, other.size)
        else:  # an abandoned cart holds one of the products viewed in the session
            so = sess[other]
            pick_view = (rng.random(other.size) * lay.views[so]).astype(np.int64)
            product[other] = product[view_start[so] + pick_view]
    rem = np.flatnonzero(etype == T_REMOVE)
    product[rem] = product[cart_start[sess[rem]]]

    # times: exponential gaps within a session; converting sessions end at the order
    gap = (rng.exponential(config.funnel.seconds_between_events, total)
           * A.US_PER_SECOND).astype(np.int64)
    gap[ev_start] = 0
    cum = np.cumsum(gap)
    offset = cum - cum[ev_start][sess]
    duration = offset[ev_start + n_ev - 1] if total else np.zeros(0, np.int64)
    begin = np.where(s.anchor_end, s.anchor_us - duration, s.anchor_us)
    event_at = begin[sess] + offset

    known = (s.user[sess] >= 0) & (event_at >= s.first_seen_us[sess])
    user_ids = A.id_bytes("C", np.maximum(s.user, 0), CUSTOMER_WIDTH)
    session_ids = A.id_bytes("S", first_session + np.arange(s.size), SESSION_WIDTH)
    devices = A.id_bytes("D", s.device, DEVICE_WIDTH)

    purchase = np.flatnonzero(etype == T_PURCHASE)
    p_order = s.order[sess[purchase]]
    props = pc.binary_join_element_wise(
        '{"order_id":"', A.strings_from_bytes(A.id_bytes("O", batch.number[p_order], ORDER_WIDTH)),
        '","revenue":', pc.cast(pa.array(batch.net[p_order]), pa.string()), "}", "",
    )
    prop_idx = np.full(total, -1, np.int64)
    prop_idx[purchase] = np.arange(purchase.size)

    source = s.source[sess]
    src_channel = traffic.src_channel[source]
    campaigns, _, _ = campaign_table(config)
    cat_names = [c.name for c in config.categories]
    has_product = product >= 0
    product_ids = A.strings_from_bytes(catalog.id_bytes())
    return A.table(schema, {
        "event_at": A.timestamps(event_at),
        "user_id": A.strings_from_bytes(user_ids[sess], known),
        "anonymous_id": A.strings_from_bytes(devices[sess]),
        "session_id": A.strings_from_bytes(session_ids[sess]),
        "event_type": A.pick(EVENT_TYPES, etype.astype(np.int32)),
        "product_id": A.pick(product_ids, product),
        "category": A.pick(cat_names, np.where(has_product,
                                               catalog.category[np.maximum(product, 0)], -1)),
        "channel": A.pick(("web", "app"), s.platform[sess].astype(np.int64)),
        "source": A.pick([c.source for c in config.channels], src_channel),
        "medium": A.pick([c.medium for c in config.channels], src_channel),
        "campaign": A.pick(campaigns, traffic.src_campaign[source]),
        "properties": A.pick(props, prop_idx, dense=True),
    })
