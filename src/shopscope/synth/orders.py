"""Orders, their lines, discounts, statuses, cancellations and returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopscope.schema.tables import ORDER_STATUSES
from shopscope.synth import arrow as A
from shopscope.synth.catalog import PRODUCT_WIDTH, Baskets, Catalog, build_baskets
from shopscope.synth.customers import CUSTOMER_WIDTH, CustomerBlock, campaign_table
from shopscope.synth.funnel import PURCHASE, AnonymousSessions, Traffic
from shopscope.synth.marketing import time_of_day_us
from shopscope.synth.params import SynthConfig

ORDER_CHANNELS = ("web", "app", "store", "marketplace")
WEB, APP, STORE, MARKETPLACE = range(4)
COMPLETED, PENDING, CANCELLED, REFUNDED = (ORDER_STATUSES.index(s) for s in
                                           ("completed", "pending", "cancelled", "refunded"))
ORDER_WIDTH = 11
RETURN_WIDTH = 11
RETURN_REASONS = ("wrong size", "damaged", "not as described", "changed mind", "arrived late")
RETURN_REASON_P = np.array([0.3, 0.15, 0.2, 0.25, 0.1])
CANCEL_REASONS = ("customer request", "payment failed", "out of stock")
CANCEL_REASON_P = np.array([0.6, 0.25, 0.15])
WELCOME = "WELCOME10"


@dataclass(frozen=True)
class OrderDraft:
    """Orders before their lines: who, when, where and how much (the drawn value)."""

    customer: np.ndarray  # global customer number, -1 for a guest
    cust_local: np.ndarray  # index into the customer block, -1 for a guest
    time_us: np.ndarray
    channel: np.ndarray  # index into ORDER_CHANNELS
    store: np.ndarray  # index into config.stores, -1 if not a store order
    source: np.ndarray  # traffic source of the converting session, -1 for store orders
    region: np.ndarray
    first: np.ndarray  # bool: the customer's first order
    value: np.ndarray  # drawn order value (gross merchandise amount)


def customer_orders(
    rng: np.random.Generator, block: CustomerBlock, config: SynthConfig, traffic: Traffic
) -> OrderDraft:
    """Attributes of every purchase of a customer block (values by Gamma-Gamma)."""
    cust = block.tx_customer
    n = cust.size
    value = rng.gamma(config.gamma_gamma.p, 1.0 / block.nu[cust])
    names = [name for name, _ in config.sales_channels]
    probs = np.array([p for _, p in config.sales_channels])
    pick = np.minimum(np.searchsorted(np.cumsum(probs), rng.random(n), side="right"),
                      len(names) - 1)
    channel = np.array([ORDER_CHANNELS.index(x) for x in names])[pick]
    store = np.where(channel == STORE, rng.integers(0, len(config.stores), n), -1)
    conv_channel = traffic.channel(rng, n, traffic.share * traffic.conversion)
    source = np.where(channel == STORE, -1, traffic.source(rng, conv_channel))
    return OrderDraft(customer=block.number[cust], cust_local=cust, time_us=block.tx_us,
                      channel=channel, store=store, source=source,
                      region=block.region[cust], first=block.tx_first, value=value)


def guest_orders(
    rng: np.random.Generator, anon: AnonymousSessions, config: SynthConfig
) -> tuple[OrderDraft, np.ndarray]:
    """Guest orders of anonymous converting sessions, and those sessions' indices."""
    sess = np.flatnonzero(anon.depth == PURCHASE)
    sess = sess[np.argsort(anon.order_us[sess], kind="stable")]
    n = sess.size
    gg = config.gamma_gamma
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    reg_w = np.array([w for *_, w in config.regions])
    region = np.minimum(np.searchsorted(np.cumsum(reg_w) / reg_w.sum(), rng.random(n),
                                        side="right"), len(reg_w) - 1)
    draft = OrderDraft(
        customer=np.full(n, -1, np.int64), cust_local=np.full(n, -1, np.int64),
        time_us=anon.order_us[sess], channel=anon.platform[sess].astype(np.int64),
        store=np.full(n, -1, np.int64), source=anon.source[sess], region=region,
        first=np.zeros(n, bool), value=rng.gamma(gg.p, 1.0 / nu),
    )
    return draft, sess


def concat_drafts(*drafts: OrderDraft) -> OrderDraft:
    return OrderDraft(**{f: np.concatenate([getattr(d, f) for d in drafts])
                         for f in OrderDraft.__dataclass_fields__})


@dataclass(frozen=True)
class OrderBatch:
    """Finished orders of a block with lines and credits."""

    number: np.ndarray
    draft: OrderDraft
    baskets: Baskets
    coupon: np.ndarray  # index into coupon names, -1 if none
    line_discount: np.ndarray
    discount: np.ndarray
    shipping: np.ndarray
    net: np.ndarray
    status: np.ndarray
    # credits (returns and cancellations), one row per affected line
    ret_line: np.ndarray
    ret_kind: np.ndarray  # 0 return, 1 cancellation
    ret_quantity: np.ndarray
    ret_amount: np.ndarray
    ret_reason: np.ndarray  # index into RETURN_REASONS + CANCEL_REASONS
    ret_us: np.ndarray

    @property
    def size(self) -> int:
        return self.number.size


def coupon_names(config: SynthConfig) -> tuple[list[str], np.ndarray]:
    names = [WELCOME] + [c for c, _ in config.coupons]
    rates = np.array([0.10] + [r for _, r in config.coupons])
    return names, rates


def finish_orders(
    rng: np.random.Generator,
    draft: OrderDraft,
    catalog: Catalog,
    config: SynthConfig,
    first_number: int,
    end_us: int,
) -> OrderBatch:
    """Lines, coupons, shipping, status and credits for drafted orders."""
    n = draft.time_us.size
    baskets = build_baskets(rng, catalog, draft.value)
    line_order = baskets.order
    names, rates = coupon_names(config)
    promo = rng.random(n) < config.promo_coupon_prob
    welcome = draft.first & (rng.random(n) < config.welcome_coupon_prob)
    coupon = np.where(welcome, 0, np.where(promo, 1 + rng.integers(0, len(names) - 1, n), -1))
    rate = np.where(coupon >= 0, rates[np.maximum(coupon, 0)], 0.0)
    line_gross = baskets.quantity * baskets.unit_price
    line_discount = np.round(line_gross * rate[line_order], 2)
    discount = np.round(np.add.reduceat(line_discount, baskets.start), 2) if n else np.zeros(0)
    net = np.round(baskets.gross - discount, 2)
    online = (draft.channel == WEB) | (draft.channel == APP)
    shipping = np.where(online & (net < config.free_shipping_over), config.shipping_fee, 0.0)

    # status: recent orders may be pending; older ones may be cancelled
    age_days = (end_us - draft.time_us) / A.US_PER_DAY
    status = np.full(n, COMPLETED, np.int64)
    status[(age_days < config.pending_days) & (rng.random(n) < config.pending_prob)] = PENDING
    cancel = (status == COMPLETED) & (age_days > 1.0) & (rng.random(n) < config.cancel_prob)
    status[cancel] = CANCELLED

    # cancellations credit every line shortly after the order
    c_lines = np.flatnonzero(cancel[line_order])
    c_us = draft.time_us[line_order[c_lines]] + (
        rng.exponential(3 * 3600, c_lines.size) * A.US_PER_SECOND).astype(np.int64)
    c_us = np.minimum(c_us, end_us - 1)
    c_net = np.round(line_gross[c_lines] - line_discount[c_lines], 2)
    c_reason = len(RETURN_REASONS) + np.searchsorted(
        np.cumsum(CANCEL_REASON_P), rng.random(c_lines.size) * CANCEL_REASON_P.sum(), side="right")

    # returns of completed orders: per line, by category; only those before the end
    done = status[line_order] == COMPLETED
    hit = done & (rng.random(line_order.size) < catalog.return_prob[baskets.product])
    r_lines = np.flatnonzero(hit)
    qty = baskets.quantity[r_lines]
    r_qty = np.where(qty > 1, 1 + rng.binomial(np.maximum(qty - 1, 0), 0.5), qty)
    r_us = draft.time_us[line_order[r_lines]] + (
        (1 + rng.gamma(2.0, 4.0, r_lines.size)) * A.US_PER_DAY).astype(np.int64)
    r_reason = np.searchsorted(np.cumsum(RETURN_REASON_P),
                               rng.random(r_lines.size) * RETURN_REASON_P.sum(), side="right")
    happened = r_us < end_us
    r_lines, r_qty, r_us, r_reason = (x[happened] for x in (r_lines, r_qty, r_us, r_reason))
    unit_net = baskets.unit_price[r_lines] - line_discount[r_lines] / baskets.quantity[r_lines]
    r_amount = np.round(r_qty * unit_net, 2)
    # an order whose every unit came back is refunded
    full = np.zeros(line_order.size, bool)
    full[r_lines] = r_qty == baskets.quantity[r_lines]
    back = np.add.reduceat(full.astype(np.int64), baskets.start) if n else np.zeros(0, np.int64)
    all_back = back == baskets.n_lines
    status[(status == COMPLETED) & all_back] = REFUNDED

    order_of = np.concatenate([c_lines, r_lines])
    srt = np.argsort(order_of, kind="stable")
    return OrderBatch(
        number=first_number + np.arange(n, dtype=np.int64), draft=draft, baskets=baskets,
        coupon=coupon, line_discount=line_discount, discount=discount, shipping=shipping,
        net=net, status=status,
        ret_line=order_of[srt],
        ret_kind=np.concatenate([np.ones(c_lines.size, np.int64),
                                 np.zeros(r_lines.size, np.int64)])[srt],
        ret_quantity=np.concatenate([baskets.quantity[c_lines], r_qty])[srt].astype(np.int64),
        ret_amount=np.concatenate([c_net, r_amount])[srt],
        ret_reason=np.concatenate([c_reason, r_reason])[srt],
        ret_us=np.concatenate([c_us, r_us])[srt],
    )


def marketplace_draft(
    rng: np.random.Generator, day: np.ndarray, start_us: int, config: SynthConfig
) -> OrderDraft:
    """One marketplace order per demand occurrence (product lines are set by the caller)."""
    n = day.size
    reg_w = np.array([w for *_, w in config.regions])
    region = np.minimum(np.searchsorted(np.cumsum(reg_w) / reg_w.sum(), rng.random(n),
                                        side="right"), len(reg_w) - 1)
    t = start_us + day * A.US_PER_DAY + time_of_day_us(rng, n)
    return OrderDraft(
        customer=np.full(n, -1, np.int64), cust_local=np.full(n, -1, np.int64), time_us=t,
        channel=np.full(n, MARKETPLACE, np.int64), store=np.full(n, -1, np.int64),
        source=np.full(n, -1, np.int64), region=region, first=np.zeros(n, bool),
        value=np.zeros(n),
    )


def marketplace_batch(
    draft: OrderDraft, product: np.ndarray, units: np.ndarray, catalog: Catalog, first_number: int
) -> OrderBatch:
    """Single-line marketplace orders at list price; no coupons, credits or shipping."""
    n = product.size
    price = catalog.price[product]
    gross = np.round(units * price, 2)
    empty_i = np.zeros(0, np.int64)
    baskets = Baskets(n_lines=np.ones(n, np.int64), start=np.arange(n), order=np.arange(n),
                      product=product, quantity=units, unit_price=price, gross=gross)
    return OrderBatch(
        number=first_number + np.arange(n, dtype=np.int64), draft=draft, baskets=baskets,
        coupon=np.full(n, -1, np.int64), line_discount=np.zeros(n), discount=np.zeros(n),
        shipping=np.zeros(n), net=gross, status=np.full(n, COMPLETED, np.int64),
        ret_line=empty_i, ret_kind=empty_i, ret_quantity=empty_i, ret_amount=np.zeros(0),
        ret_reason=empty_i, ret_us=empty_i,
    )


def order_tables(
    batch: OrderBatch, config: SynthConfig, traffic: Traffic, schemas: dict[str, pa.Schema],
    first_return: int,
) -> dict[str, pa.Table]:
    """The ``orders``, ``order_items`` and ``returns`` rows of a batch."""
    d, b = batch.draft, batch.baskets
    n = batch.size
    guest = d.customer < 0
    order_ids = A.id_bytes("O", batch.number, ORDER_WIDTH)
    cust_ids = A.id_bytes("C", np.maximum(d.customer, 0), CUSTOMER_WIDTH)
    campaigns, _, _ = campaign_table(config)
    campaign = np.where(d.source >= 0, traffic.src_campaign[np.maximum(d.source, 0)], -1)
    names, _ = coupon_names(config)
    orders = A.table(schemas["orders"], {
        "order_id": A.strings_from_bytes(order_ids),
        "customer_id": A.strings_from_bytes(cust_ids, ~guest),
        "ordered_at": A.timestamps(d.time_us),
        "channel": A.pick(ORDER_CHANNELS, d.channel),
        "store_id": A.pick(config.stores, d.store),
        "status": A.pick(ORDER_STATUSES, batch.status),
        "gross_amount": b.gross,
        "discount_amount": batch.discount,
        "shipping_amount": batch.shipping,
        "net_amount": batch.net,
        "currency": A.pick([config.currency], np.zeros(n, np.int64)),
        "coupon_code": A.pick(names, batch.coupon),
        "campaign_id": A.pick(campaigns, campaign),
        "country": A.pick([c for c, _, _ in config.regions], d.region),
        "region": A.pick([r for _, r, _ in config.regions], d.region),
    })
    line_no = np.arange(b.order.size) - b.start[b.order] + 1
    items = A.table(schemas["order_items"], {
        "order_id": A.strings_from_bytes(order_ids[b.order]),
        "line_no": line_no.astype(np.int64),
        "product_id": A.ids("P", b.product, PRODUCT_WIDTH),
        "quantity": b.quantity,
        "unit_price": b.unit_price,
        "discount_amount": batch.line_discount,
    })
    r_order = b.order[batch.ret_line]
    returns = A.table(schemas["returns"], {
        "return_id": A.ids("R", first_return + np.arange(batch.ret_line.size), RETURN_WIDTH),
        "order_id": A.strings_from_bytes(order_ids[r_order]),
        "customer_id": A.strings_from_bytes(cust_ids[r_order], ~guest[r_order]),
        "product_id": A.ids("P", b.product[batch.ret_line], PRODUCT_WIDTH),
        "kind": A.pick(("return", "cancellation"), batch.ret_kind),
        "quantity": batch.ret_quantity,
        "amount": batch.ret_amount,
        "reason": A.pick(RETURN_REASONS + CANCEL_REASONS, batch.ret_reason),
        "returned_at": A.timestamps(batch.ret_us),
        "channel": A.pick(ORDER_CHANNELS, d.channel[r_order]),
        "country": A.pick([c for c, _, _ in config.regions], d.region[r_order]),
        "region": A.pick([r for _, r, _ in config.regions], d.region[r_order]),
    })
    return {"orders": orders, "order_items": items, "returns": returns}
