"""Orchestration: draw the shop block by block and stream it to Parquet."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pyarrow as pa

from shopscope.schema import get_table
from shopscope.synth import arrow as A
from shopscope.synth.catalog import PRODUCT_WIDTH, Catalog, make_catalog, marketplace_demand
from shopscope.synth.customers import (
    TRUTH_SCHEMA,
    CustomerBlock,
    customers_table,
    simulate_customers,
    truth_table,
)
from shopscope.synth.events import (
    Sessions,
    anonymous_sessions,
    count_events,
    customer_sessions,
    events_table,
)
from shopscope.synth.funnel import AnonymousSessions, Traffic, make_traffic, simulate_anonymous
from shopscope.synth.inventory import EWMA_ALPHA, simulate_stock
from shopscope.synth.marketing import MarketingPlan, plan_marketing
from shopscope.synth.orders import (
    CANCELLED,
    OrderBatch,
    concat_drafts,
    coupon_names,
    customer_orders,
    finish_orders,
    guest_orders,
    marketplace_batch,
    marketplace_draft,
    order_tables,
)
from shopscope.synth.params import SynthConfig, SynthError
from shopscope.synth.truth import (
    ChannelTruth,
    DemandTruth,
    FunnelTruth,
    GroundTruth,
    InventoryTruth,
    StepProbs,
)

#: Customers drawn together with one random stream. Data depend on it, so it is fixed:
#: a run's first blocks are the same whatever the total number of customers.
BLOCK_CUSTOMERS = 4096
#: Sessions turned into events at once (bounds memory when anonymous traffic is large).
SESSION_CHUNK = 250_000
PILOT_CUSTOMERS = 8192
TABLES = ("products", "customers", "orders", "order_items", "returns", "events",
          "marketing_spend", "inventory")
LOCATIONS = ("warehouse", "marketplace_fc")
COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SynthResult:
    """What :func:`generate` wrote.

    Attributes
    ----------
    out_dir
        The folder holding the files.
    paths
        Canonical table name -> Parquet file, plus ``ground_truth`` and ``truth_customers``.
    rows
        Rows written per table (and ``truth_customers``).
    truth
        The ground truth, as written to ``ground_truth.json``.
    """

    out_dir: Path
    paths: Mapping[str, Path]
    rows: Mapping[str, int]
    truth: GroundTruth


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream for one purpose of one block."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _parse_start(start: str | dt.date) -> dt.date:
    if isinstance(start, dt.datetime):
        return start.date()
    if isinstance(start, dt.date):
        return start
    try:
        return dt.date.fromisoformat(str(start))
    except ValueError:
        raise SynthError(f"start {start!r} is not a date", hint="use YYYY-MM-DD") from None


def _split(total: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(size, total - lo)) for lo in range(0, total, size)]


def _anon_count(first: int, n: int, ratio: float) -> int:
    """Anonymous visitors of customers [first, first + n): prefix-stable rounding."""
    return math.floor((first + n) * ratio) - math.floor(first * ratio)


class _Shop:
    """Shared state of one run: parameters, catalogue, plan, counters."""

    def __init__(self, config: SynthConfig, seed: int, customers: int, start: dt.date, days: int,
                 products: int) -> None:
        self.config = config
        self.seed = seed
        self.customers = customers
        self.days = days
        self.start_day = (start - dt.date(1970, 1, 1)).days
        self.start_us = self.start_day * A.US_PER_DAY
        self.end_us = self.start_us + days * A.US_PER_DAY
        self.schemas = {name: get_table(name).ibis_schema().to_pyarrow() for name in TABLES}
        self.catalog: Catalog = make_catalog(_rng(seed, 0), products, config, self.start_us)
        self.plan: MarketingPlan = plan_marketing(_rng(seed, 1), config, customers,
                                                  self.start_day, days,
                                                  self.schemas["marketing_spend"])
        self.traffic: Traffic = make_traffic(config)

    def block(self, key: tuple[int, ...], first_customer: int, n: int, anon_visitors: int,
              first_visitor: int, first_order: int) -> _Block:
        """Customers, their orders and the anonymous visitors of one block."""
        cfg = self.config
        block = simulate_customers(_rng(self.seed, *key, 0), cfg, self.plan, first_customer, n,
                                   self.start_us, self.end_us)
        cdraft = customer_orders(_rng(self.seed, *key, 1), block, cfg, self.traffic)
        anon = simulate_anonymous(_rng(self.seed, *key, 2), cfg, self.traffic, first_visitor,
                                  anon_visitors, self.start_us, self.end_us)
        gdraft, guest_sess = guest_orders(_rng(self.seed, *key, 3), anon, cfg)
        batch = finish_orders(_rng(self.seed, *key, 4), concat_drafts(cdraft, gdraft),
                              self.catalog, cfg, first_order, self.end_us)
        return _Block(key, block, batch, cdraft.time_us.size, anon, guest_sess)

    def sessions(self, b: _Block, tracking: float) -> tuple[Sessions, Sessions]:
        """Tracked sessions of the block's customers and of its anonymous visitors."""
        known = customer_sessions(_rng(self.seed, *b.key, 5), b.customers, b.orders,
                                  b.n_customer_orders, tracking, self.traffic, self.config,
                                  self.start_us)
        others = anonymous_sessions(b.anonymous, b.guest_sessions, b.n_customer_orders, tracking)
        return known, others


@dataclass(frozen=True)
class _Block:
    key: tuple[int, ...]
    customers: CustomerBlock
    orders: OrderBatch  # customers' orders first, then guest orders
    n_customer_orders: int
    anonymous: AnonymousSessions
    guest_sessions: np.ndarray  # anonymous session of each guest order


def _size_events(shop: _Shop, n_events: int | None) -> tuple[float, float]:
    """Tracking fraction and anonymous visitors per customer that give ~``n_events``.

    A pilot block (its own random stream) measures events per customer and per anonymous
    visitor with everyone tracked. Fewer events than that: track a random share of visitors
    (consent). More: add anonymous visitors.
    """
    ratio = shop.config.anonymous_visitors_per_customer
    if n_events is None:
        return 1.0, ratio
    pilot_visitors = PILOT_CUSTOMERS * 4
    pilot = shop.block((9,), 0, PILOT_CUSTOMERS, pilot_visitors, 0, 0)
    known, others = shop.sessions(pilot, 1.0)
    rng = _rng(shop.seed, 9, 6)
    per_customer = count_events(rng, known, pilot.orders, shop.config) / PILOT_CUSTOMERS
    per_visitor = count_events(rng, others, pilot.orders, shop.config) / pilot_visitors
    natural = shop.customers * (per_customer + ratio * per_visitor)
    if n_events <= natural:
        return n_events / natural, ratio
    return 1.0, (n_events / shop.customers - per_customer) / per_visitor


def _inventory_tables(shop: _Shop, demand: dict[str, np.ndarray], restock: dict[str, np.ndarray],
                      schema: pa.Schema, rows_per_table: int):
    """Yield inventory tables day-chunk by day-chunk for both locations."""
    cat = shop.catalog
    n = cat.size
    cfg = shop.config
    for loc in LOCATIONS:
        on_hand, on_order = simulate_stock(demand[loc], restock[loc], cat.lead_time_days,
                                           cfg.service_z, cfg.review_cover_days)
        step = max(1, rows_per_table // n)
        pids = A.strings_from_bytes(cat.id_bytes())
        for d0 in range(0, shop.days, step):
            d1 = min(shop.days, d0 + step)
            k = d1 - d0
            yield A.table(schema, {
                "date": A.dates(np.repeat(shop.start_day + np.arange(d0, d1), n)),
                "product_id": A.pick(pids, np.tile(np.arange(n), k)),
                "location": A.pick([loc], np.zeros(k * n, np.int64)),
                "on_hand": on_hand[d0:d1].ravel(),
                "on_order": on_order[d0:d1].ravel(),
                "lead_time_days": np.tile(cat.lead_time_days, k),
            })


def _accumulate(shop: _Shop, batch: OrderBatch, demand: np.ndarray, restock: np.ndarray) -> None:
    """Add a batch's shipped and returned units to the (days, products) demand arrays."""
    b, d = batch.baskets, batch.draft
    n_prod = shop.catalog.size
    shipped = batch.status[b.order] != CANCELLED
    day = (d.time_us[b.order[shipped]] - shop.start_us) // A.US_PER_DAY
    flat = day * n_prod + b.product[shipped]
    demand += np.bincount(flat, weights=b.quantity[shipped],
                          minlength=demand.size).astype(np.int64).reshape(demand.shape)
    back = batch.ret_kind == 0
    rday = (batch.ret_us[back] - shop.start_us) // A.US_PER_DAY
    flat = rday * n_prod + b.product[batch.ret_line[back]]
    restock += np.bincount(flat, weights=batch.ret_quantity[back],
                           minlength=restock.size).astype(np.int64).reshape(restock.shape)


def _truth(shop: _Shop, tracking: float, anonymous: int) -> GroundTruth:
    cfg, cat = shop.config, shop.catalog
    tr = shop.traffic
    by_channel = {c.name: StepProbs(c.view_to_cart, cfg.funnel.cart_to_checkout,
                                    cfg.funnel.checkout_to_purchase) for c in cfg.channels}
    funnel = FunnelTruth(
        steps=("view", "add_to_cart", "checkout", "purchase"),
        traffic_share={c.name: c.traffic_share for c in cfg.channels},
        by_channel=by_channel,
        overall=StepProbs(float(tr.share @ tr.view_to_cart), cfg.funnel.cart_to_checkout,
                          cfg.funnel.checkout_to_purchase),
    )
    channels = tuple(
        ChannelTruth(
            name=c.name, acquisition_share=c.acquisition_share,
            acquisitions_per_unit_spend=c.acquisitions_per_unit_spend,
            base_acquisitions_per_day=float(shop.plan.base_per_day[i]), cac=c.cac,
            total_spend=round(float(shop.plan.spend[i].sum()), 2),
            expected_acquisitions=float(shop.plan.expected[i].sum()),
        )
        for i, c in enumerate(cfg.channels)
    )
    pids = [f"P{i:0{PRODUCT_WIDTH}d}" for i in range(cat.size)]
    names, rates = coupon_names(cfg)
    end = dt.date(1970, 1, 1) + dt.timedelta(days=shop.start_day + shop.days)
    return GroundTruth(
        seed=shop.seed,
        start=(dt.date(1970, 1, 1) + dt.timedelta(days=shop.start_day)).isoformat(),
        end=end.isoformat(), days=shop.days, currency=cfg.currency, customers=shop.customers,
        products=cat.size, anonymous_visitors=anonymous, tracking_fraction=tracking,
        prospect_share=cfg.prospect_share, bgnbd=cfg.bgnbd, gamma_gamma=cfg.gamma_gamma,
        funnel=funnel, channels=channels,
        demand=DemandTruth(location="marketplace_fc", product_id=tuple(pids),
                           occurrence_prob=tuple(float(x) for x in cat.occurrence_prob),
                           size_mean=tuple(float(x) for x in cat.size_mean)),
        inventory=InventoryTruth(
            locations={"warehouse": "web, app, store and guest orders; returns restocked",
                       "marketplace_fc": "marketplace orders"},
            lead_time_days=dict(zip(pids, (int(x) for x in cat.lead_time_days), strict=True)),
            service_z=cfg.service_z, review_cover_days=cfg.review_cover_days,
            ewma_alpha=EWMA_ALPHA),
        return_prob_by_category={c.name: c.return_prob for c in cfg.categories},
        cancel_prob=cfg.cancel_prob,
        sales_channel_probs=dict(cfg.sales_channels),
        coupon_rates=dict(zip(names, (float(r) for r in rates), strict=True)),
        welcome_coupon_prob=cfg.welcome_coupon_prob, promo_coupon_prob=cfg.promo_coupon_prob,
    )


def generate(
    out_dir: str | Path,
    *,
    customers: int = 10_000,
    seed: int = 0,
    start: str | dt.date = "2023-01-01",
    days: int = 730,
    events: bool = True,
    progress: Progress | None = None,
    n_events: int | None = None,
    products: int = 1000,
    config: SynthConfig | None = None,
    row_group_size: int = 1_000_000,
    compression: str = "zstd",
) -> SynthResult:
    """Generate a synthetic shop with known ground truth as canonical Parquet files.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed). Existing files of the same names are
        replaced only when the run succeeds.
    customers
        Known customers (buyers and prospects) acquired over the window.
    seed
        Seed of every random draw; the same arguments give identical tables.
    start, days
        First day (shop local time) and length of the window.
    events
        Whether to write ``events.parquet``. Orders do not depend on it.
    progress
        Called as ``progress(task, done, total)`` with ``task`` one of ``"customers"`` and
        ``"inventory"``.
    n_events
        Approximate number of events wanted. ``None``: every visitor is tracked and there
        are ``config.anonymous_visitors_per_customer`` anonymous visitors per customer.
        Fewer: only a random share of visitors is tracked (their orders still exist). More:
        extra anonymous visitors (and so extra guest orders).
    products
        Size of the catalogue.
    config
        Parameters of the shop (the ground truth); default :class:`SynthConfig`.
    row_group_size, compression
        Parquet layout.

    Returns
    -------
    SynthResult
        Paths, row counts and the ground truth (also in ``ground_truth.json``).

    Raises
    ------
    SynthError
        A size or parameter is impossible.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     res = generate(tmp, customers=200, days=60, products=50, seed=1)
    ...     sorted(res.paths)[:3], res.rows["customers"]
    (['customers', 'events', 'ground_truth'], 200)
    """
    cfg = config or SynthConfig()
    if customers < 1 or days < 1 or products < 1:
        raise SynthError(f"customers, days and products must be >= 1 (got {customers}, {days}, "
                         f"{products})", hint="ask for at least one of each")
    if n_events is not None and n_events < 0:
        raise SynthError(f"n_events must be >= 0, got {n_events}", hint="or leave it out")
    if row_group_size < 1:
        raise SynthError("row_group_size must be >= 1", hint="e.g. 1_000_000")
    if compression not in COMPRESSIONS:
        raise SynthError(f"unknown compression {compression!r}",
                         hint=f"use one of: {', '.join(COMPRESSIONS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shop = _Shop(cfg, seed, customers, _parse_start(start), days, products)
    tracking, ratio = (_size_events(shop, n_events) if events
                       else (1.0, cfg.anonymous_visitors_per_customer))
    report = progress or (lambda task, done, total: None)

    names = [t for t in TABLES if events or t != "events"]
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopscope-synth-writer")
    sinks: dict[str, A.ParquetSink] = {}
    try:
        for name in names:
            sinks[name] = A.ParquetSink(out / f"{name}.parquet", shop.schemas[name], executor,
                                        row_group_size=row_group_size, compression=compression)
        sinks["truth_customers"] = A.ParquetSink(out / "truth_customers.parquet", TRUTH_SCHEMA,
                                                 executor, row_group_size=row_group_size,
                                                 compression=compression)
        sinks["products"].write(shop.catalog.table(shop.schemas["products"], cfg))
        sinks["marketing_spend"].write(shop.plan.table)
        shape = (days, shop.catalog.size)
        demand = {loc: np.zeros(shape, np.int64) for loc in LOCATIONS}
        restock = {loc: np.zeros(shape, np.int64) for loc in LOCATIONS}

        # marketplace: Croston demand, one order per occurrence
        mday, mprod, munits = marketplace_demand(_rng(seed, 2), shop.catalog, days)
        mdraft = marketplace_draft(_rng(seed, 2, 1), mday, shop.start_us, cfg)
        mbatch = marketplace_batch(mdraft, mprod, munits, shop.catalog, 0)
        next_order, next_return, next_visitor, next_session = mbatch.size, 0, 0, 0
        for name, tbl in order_tables(mbatch, cfg, shop.traffic, shop.schemas, 0).items():
            sinks[name].write(tbl)
        np.add.at(demand["marketplace_fc"], (mday, mprod), munits)

        report("customers", 0, customers)
        for b, (first, n) in enumerate(_split(customers, BLOCK_CUSTOMERS)):
            n_anon = _anon_count(first, n, ratio)
            key = (3, b)
            drawn = shop.block(key, first, n, n_anon, next_visitor, next_order)
            block, batch = drawn.customers, drawn.orders
            for name, tbl in order_tables(batch, cfg, shop.traffic, shop.schemas,
                                          next_return).items():
                sinks[name].write(tbl)
            sinks["customers"].write(customers_table(block, cfg, shop.schemas["customers"]))
            sinks["truth_customers"].write(truth_table(block, cfg, tracking))
            _accumulate(shop, batch, demand["warehouse"], restock["warehouse"])
            if events:
                ev_rng = _rng(seed, *key, 6)
                for sess in shop.sessions(drawn, tracking):
                    for lo in range(0, sess.size, SESSION_CHUNK):
                        part = Sessions(**{f: getattr(sess, f)[lo:lo + SESSION_CHUNK]
                                           for f in Sessions.__dataclass_fields__})
                        sinks["events"].write(events_table(
                            ev_rng, part, batch, shop.catalog, cfg, shop.traffic,
                            next_session + lo, shop.schemas["events"]))
                    next_session += sess.size
            next_order += batch.size
            next_return += batch.ret_line.size
            next_visitor += n_anon
            report("customers", first + n, customers)

        inv_rows = 0
        total_inv = len(LOCATIONS) * days * shop.catalog.size
        for tbl in _inventory_tables(shop, demand, restock, shop.schemas["inventory"],
                                     row_group_size):
            sinks["inventory"].write(tbl)
            inv_rows += tbl.num_rows
            report("inventory", inv_rows, total_inv)

        rows = {name: sink.close() for name, sink in sinks.items()}
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise
    finally:
        executor.shutdown(wait=True)

    truth = _truth(shop, tracking, next_visitor)
    truth_path = out / "ground_truth.json"
    truth.write(truth_path.with_suffix(".json.partial"))
    shutil.move(truth_path.with_suffix(".json.partial"), truth_path)
    paths = {name: sink.path for name, sink in sinks.items()}
    paths["ground_truth"] = truth_path
    return SynthResult(out_dir=out, paths=MappingProxyType(dict(sorted(paths.items()))),
                       rows=MappingProxyType(rows), truth=truth)
