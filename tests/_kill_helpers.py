"""Shared by the load-commit tests: a synthetic canonical shop big enough that DuckDB
writes its largest table to the database file before the commit (more than one row
group of 122,880 rows), and a fingerprint of a store's whole state."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("customers", "products", "orders", "order_items", "returns", "_ingest_log",
          "_rejects")


def write_shop(folder: Path, *, orders: int, lines_per_order: int, seed: int = 7,
               first_order: int = 0) -> None:
    """customers, products, orders, order_items, returns as canonical Parquet files.
    Orders are numbered from ``first_order``: two shops with disjoint ranges are two
    different loads."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_cust, n_prod = 2_000, 300
    base = np.datetime64("2024-01-01T00:00:00", "us")
    cust = [f"C{i:05d}" for i in range(n_cust)]
    pq.write_table(pa.table({
        "customer_id": cust,
        "first_seen_at": pa.array(base + np.arange(n_cust).astype("timedelta64[m]")),
    }), folder / "customers.parquet")
    pq.write_table(pa.table({
        "product_id": [f"P{i:04d}" for i in range(n_prod)],
        "price": rng.integers(100, 5_000, n_prod) / 100.0,
    }), folder / "products.parquet")
    ids = np.arange(first_order, first_order + orders)
    order_ids = np.char.add("O", ids.astype(str))
    n_lines = orders * lines_per_order
    line_order = np.repeat(order_ids, lines_per_order)
    qty = rng.integers(1, 6, n_lines)
    price = rng.integers(50, 3_000, n_lines) / 100.0
    gross = (qty * price).reshape(orders, lines_per_order).sum(axis=1).round(2)
    when = base + ((ids % 100_000) * 7).astype("timedelta64[m]")
    pq.write_table(pa.table({
        "order_id": order_ids,
        "customer_id": [cust[i] for i in rng.integers(0, n_cust, orders)],
        "ordered_at": pa.array(when),
        "channel": ["web"] * orders, "status": ["completed"] * orders,
        "gross_amount": gross, "discount_amount": np.zeros(orders),
        "shipping_amount": np.zeros(orders), "net_amount": gross,
        "currency": ["GBP"] * orders,
    }), folder / "orders.parquet")
    pq.write_table(pa.table({
        "order_id": line_order,
        "line_no": np.tile(np.arange(1, lines_per_order + 1), orders),
        "product_id": [f"P{i:04d}" for i in rng.integers(0, n_prod, n_lines)],
        "quantity": qty, "unit_price": price, "discount_amount": np.zeros(n_lines),
    }), folder / "order_items.parquet")
    n_ret = orders // 10
    pq.write_table(pa.table({
        "return_id": np.char.add("R", ids[:n_ret].astype(str)),
        "order_id": order_ids[:n_ret], "kind": ["return"] * n_ret,
        "quantity": np.ones(n_ret, dtype=np.int64), "amount": np.full(n_ret, 1.5),
        "returned_at": pa.array(when[:n_ret] + np.timedelta64(1, "D")),
    }), folder / "returns.parquet")


def state(db: Path) -> dict[str, object]:
    """Row counts of every table, money sums and the orphan count, read with plain DuckDB
    after the store's recovery ran (the canonical columns only)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out: dict[str, object] = {t: con.sql(f"SELECT count(*) FROM {t}").fetchone()[0]
                                  for t in TABLES}
        out["items_amount"] = con.sql(
            "SELECT round(sum(quantity * unit_price), 2) FROM order_items").fetchone()[0]
        out["gross"] = con.sql("SELECT round(sum(gross_amount), 2) FROM orders").fetchone()[0]
        out["returned"] = con.sql("SELECT round(sum(amount), 2) FROM returns").fetchone()[0]
        out["orphan_items"] = con.sql(
            "SELECT count(*) FROM order_items i ANTI JOIN orders o USING (order_id)"
        ).fetchone()[0]
    finally:
        con.close()
    return out
