"""Attribution benchmark (issue 18, point 7): the workspace's journeys built from 10M
touches (sessions) of 1M customers, then every rule model and the order-1 Markov chain.
Target: ≤ 30 s on 2 cores, the path building in the engine.

    .venv/bin/python bench/attribution_bench.py                        # 1M customers, 10M sessions
    .venv/bin/python bench/attribution_bench.py --customers 100000 --sessions 1000000
    .venv/bin/python bench/attribution_bench.py --workspace DIR        # reuse a loaded workspace

The shop is generated here (numpy, seeded): each session belongs to a random customer at a
random time within a year, with one of eight channels (untagged sessions are ``direct``);
orders (one per customer on average) fall at random times, so a customer's sessions before
an order form a journey. Generation and the load are not timed. Timed, in this process:
the journeys in the engine (:func:`shopscope.marketing.journeys.journeys_expr`, one row per
distinct path back), the paths flattened into touches, and the models (first touch, last
touch, last non-direct, linear, time decay, position based, Markov order 1). No timing is
asserted anywhere; the numbers go to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CHANNELS = (("google", "cpc"), ("google", "organic"), ("newsletter", "email"),
            ("facebook", "paid_social"), ("douyin", "ocean_engine"), ("xiaohongshu", "juguang"),
            ("partner", "affiliate"), (None, None))
SHARES = (0.22, 0.2, 0.12, 0.12, 0.1, 0.06, 0.05, 0.13)
RULES = ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
         "position_based", "markov")


def generate(folder: Path, customers: int, sessions: int, seed: int) -> None:
    """events (one per session), orders and customers as Parquet in ``folder``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    year_us = 365 * 86_400 * 1_000_000
    t0 = np.datetime64("2024-01-01T00:00:00", "us")
    ids = np.char.add("c", np.arange(customers).astype(str))
    cust = rng.integers(0, customers, sessions)
    at = t0 + rng.integers(0, year_us, sessions).astype("timedelta64[us]")
    ch = rng.choice(len(CHANNELS), sessions, p=SHARES)
    src = np.array([c[0] for c in CHANNELS], dtype=object)[ch]
    med = np.array([c[1] for c in CHANNELS], dtype=object)[ch]
    pq.write_table(pa.table({
        "event_at": pa.array(at), "user_id": pa.array(ids[cust]),
        "anonymous_id": pa.nulls(sessions, pa.string()),
        "session_id": pa.array(np.char.add("s", np.arange(sessions).astype(str))),
        "event_type": pa.array(np.full(sessions, "view", dtype=object), pa.string()),
        "source": pa.array(src, pa.string()), "medium": pa.array(med, pa.string())}),
        folder / "events.parquet")
    n_orders = customers
    ocust = rng.integers(0, customers, n_orders)
    oat = t0 + rng.integers(0, year_us, n_orders).astype("timedelta64[us]")
    value = np.round(rng.lognormal(3.5, 0.8, n_orders), 2)
    pq.write_table(pa.table({
        "order_id": pa.array(np.char.add("o", np.arange(n_orders).astype(str))),
        "customer_id": pa.array(ids[ocust]), "ordered_at": pa.array(oat),
        "channel": pa.array(np.full(n_orders, "web", dtype=object), pa.string()),
        "status": pa.array(np.full(n_orders, "completed", dtype=object), pa.string()),
        "gross_amount": value, "discount_amount": np.zeros(n_orders),
        "shipping_amount": np.zeros(n_orders), "net_amount": value,
        "currency": pa.array(np.full(n_orders, "CNY", dtype=object), pa.string())}),
        folder / "orders.parquet")
    pq.write_table(pa.table({
        "customer_id": pa.array(ids),
        "first_seen_at": pa.array(np.full(customers, np.datetime64("2023-06-01", "us")))}),
        folder / "customers.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--sessions", type=int, default=10_000_000)
    ap.add_argument("--lookback-days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy", default="auto", help="asof | window | auto")
    ap.add_argument("--workspace", type=Path, help="an already loaded workspace")
    ap.add_argument("--keep", type=Path, help="generate and load into this folder, kept")
    args = ap.parse_args()

    from shopscope.ingest import ingest_file
    from shopscope.marketing import attribution as at
    from shopscope.marketing import journeys as jr
    from shopscope.marketing import service as svc
    from shopscope.store import Workspace

    scratch = None
    if args.workspace is None:
        if args.keep is None:
            scratch = tempfile.TemporaryDirectory(prefix="attr-bench-")
            root = Path(scratch.name)
        else:
            root = args.keep
        (root / "shop").mkdir()
        t = time.perf_counter()
        generate(root / "shop", args.customers, args.sessions, args.seed)
        print(f"generated in {time.perf_counter() - t:.1f} s (not timed)")
        t = time.perf_counter()
        ws = Workspace.create(root / "ws", currency="CNY")
        ingest_file(ws, root / "shop", preset="canonical")
        print(f"loaded in {time.perf_counter() - t:.1f} s (not timed)")
    else:
        ws = Workspace.open(args.workspace)
    store = ws.store
    t0 = time.perf_counter()
    frame = jr.journeys_expr(store, "channel", args.lookback_days,
                             strategy=args.strategy).execute()
    t1 = time.perf_counter()
    frame = frame[frame["path"] != ""]
    j = at.Journeys.from_paths([p.split(jr.SEP) for p in frame["path"]],
                               frame["conversions"].to_numpy(), frame["value"].to_numpy(),
                               frame["nulls"].to_numpy())
    t2 = time.perf_counter()
    out = svc.attribute(j, svc.AttributionParams(models=RULES))
    t3 = time.perf_counter()
    touches = int((j.lengths * (j.conversions + j.nulls)).sum())
    sessions = int(store.table("events").session_id.nunique().execute())
    customers = int(store.table("customers").count().execute())
    print(f"{sessions:,} sessions of {customers:,} customers, lookback "
          f"{args.lookback_days} days: {int((j.conversions + j.nulls).sum()):,} journeys with "
          f"{touches:,} touches, {j.n_paths:,} distinct paths")
    print(f"journeys in the engine  {t1 - t0:8.2f} s")
    print(f"paths into touches      {t2 - t1:8.2f} s")
    print(f"models ({', '.join(RULES)}) {t3 - t2:8.2f} s")
    print(f"total                   {t3 - t0:8.2f} s  (target <= 30 s; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"total conversions credited {out.total_conversions:,.0f}")
    ws.close()
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
