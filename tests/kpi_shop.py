"""A tiny hand-built shop for the KPI tests: every number in ``test_kpis.py`` is worked out
by hand from the rows below.

Customers c1..c4 and one guest; channels web/app; countries GB/FR; products P1 (toys) and
P2 (books). Orders in Jan, Feb and Apr 2024 (March is a gap), Jan and Feb 2025 (for 同比).

======  ========  ================  =======  =========  =====  ====  =======  ======
order   customer  ordered_at        channel  status     gross  disc  country  region
======  ========  ================  =======  =========  =====  ====  =======  ======
o01     c1        2024-01-05 10:00  web      completed    100    10  GB       London
o02     c2        2024-01-10 12:00  app      completed     50     0  FR       Paris
o03     c1        2024-01-20 09:00  web      cancelled     30     0  GB       London
o04     (guest)   2024-01-25 18:00  app      completed     40     5  GB       (null)
o05     c2        2024-01-28 20:00  web      pending       25     0  FR       Paris
o06     c1        2024-02-03 11:00  web      completed     60     0  GB       London
o07     c3        2024-02-14 15:00  web      refunded      80     8  FR       Paris
o08     c4        2024-02-20 16:00  app      cancelled     25     0  GB       London
o09     c2        2024-04-02 10:00  app      completed     70     0  FR       Paris   (no lines)
o10     c3        2025-01-15 10:00  web      completed    120    20  GB       London
o11     c4        2025-01-20 10:00  app      completed     45     0  GB       London
o12     c1        2025-02-10 10:00  web      completed     90     0  GB       London
======  ========  ================  =======  =========  =====  ====  =======  ======

Lines (product, quantity x unit price, line discount): o01 P1 2x40 d10 + P2 1x20;
o02 P2 1x50; o03 P1 1x30; o04 P1 2x20 d5; o05 P2 1x25; o06 P2 3x20; o07 P1 1x80 d8;
o08 P2 1x25; o10 P1 3x40 d20; o11 P2 1x45; o12 P1 2x45. Each order's lines add up to its
gross and discount.

Returns: r1 return of o01/P1, 35.00 on 2024-01-28; r2 cancellation credit on o02/P2,
10.00 on 2024-01-30.

Events: see ``EVENTS`` (13 rows, none in March 2024).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shopscope.schema import get_table


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


PRODUCTS = [
    {"product_id": "P1", "sku": "TOY-1", "name": "Robot", "category": "toys", "price": 40.0},
    {"product_id": "P2", "sku": "BK-1", "name": "Novel", "category": "books", "price": 20.0},
]

_ORDERS = [
    # order, customer, ordered_at, channel, status, gross, discount, country, region
    ("o01", "c1", "2024-01-05 10:00", "web", "completed", 100.0, 10.0, "GB", "London"),
    ("o02", "c2", "2024-01-10 12:00", "app", "completed", 50.0, 0.0, "FR", "Paris"),
    ("o03", "c1", "2024-01-20 09:00", "web", "cancelled", 30.0, 0.0, "GB", "London"),
    ("o04", None, "2024-01-25 18:00", "app", "completed", 40.0, 5.0, "GB", None),
    ("o05", "c2", "2024-01-28 20:00", "web", "pending", 25.0, 0.0, "FR", "Paris"),
    ("o06", "c1", "2024-02-03 11:00", "web", "completed", 60.0, 0.0, "GB", "London"),
    ("o07", "c3", "2024-02-14 15:00", "web", "refunded", 80.0, 8.0, "FR", "Paris"),
    ("o08", "c4", "2024-02-20 16:00", "app", "cancelled", 25.0, 0.0, "GB", "London"),
    ("o09", "c2", "2024-04-02 10:00", "app", "completed", 70.0, 0.0, "FR", "Paris"),
    ("o10", "c3", "2025-01-15 10:00", "web", "completed", 120.0, 20.0, "GB", "London"),
    ("o11", "c4", "2025-01-20 10:00", "app", "completed", 45.0, 0.0, "GB", "London"),
    ("o12", "c1", "2025-02-10 10:00", "web", "completed", 90.0, 0.0, "GB", "London"),
]
ORDERS = [
    {
        "order_id": o,
        "customer_id": c,
        "ordered_at": _t(at),
        "channel": ch,
        "status": st,
        "gross_amount": g,
        "discount_amount": d,
        "shipping_amount": 0.0,
        "net_amount": g - d,
        "currency": "GBP",
        "country": co,
        "region": re,
    }
    for o, c, at, ch, st, g, d, co, re in _ORDERS
]

_ITEMS = [
    # order, line, product, quantity, unit price, line discount
    ("o01", 1, "P1", 2, 40.0, 10.0),
    ("o01", 2, "P2", 1, 20.0, 0.0),
    ("o02", 1, "P2", 1, 50.0, 0.0),
    ("o03", 1, "P1", 1, 30.0, 0.0),
    ("o04", 1, "P1", 2, 20.0, 5.0),
    ("o05", 1, "P2", 1, 25.0, 0.0),
    ("o06", 1, "P2", 3, 20.0, 0.0),
    ("o07", 1, "P1", 1, 80.0, 8.0),
    ("o08", 1, "P2", 1, 25.0, 0.0),
    ("o10", 1, "P1", 3, 40.0, 20.0),
    ("o11", 1, "P2", 1, 45.0, 0.0),
    ("o12", 1, "P1", 2, 45.0, 0.0),
]
ORDER_ITEMS = [
    {
        "order_id": o,
        "line_no": n,
        "product_id": p,
        "quantity": q,
        "unit_price": u,
        "discount_amount": d,
    }
    for o, n, p, q, u, d in _ITEMS
]

RETURNS = [
    {"return_id": "r1", "order_id": "o01", "customer_id": "c1", "product_id": "P1",
     "kind": "return", "quantity": 1, "amount": 35.0, "reason": "broken",
     "returned_at": _t("2024-01-28 12:00")},
    {"return_id": "r2", "order_id": "o02", "customer_id": "c2", "product_id": "P2",
     "kind": "cancellation", "quantity": 1, "amount": 10.0, "reason": None,
     "returned_at": _t("2024-01-30 09:00")},
]

_EVENTS = [
    # event_at, user_id, anonymous_id, event_type, channel, category
    ("2024-01-05 09:00", "c1", "a1", "view", "web", "toys"),
    ("2024-01-05 09:05", "c1", "a1", "view", "web", "books"),
    ("2024-01-05 09:10", "c1", "a1", "purchase", "web", "toys"),
    ("2024-01-09 14:00", None, "a2", "view", "app", "toys"),
    ("2024-01-10 11:50", "c2", "a3", "view", "app", "books"),
    ("2024-01-10 11:55", "c2", "a3", "add_to_cart", "app", "books"),
    ("2024-01-10 12:00", "c2", "a3", "purchase", "app", "books"),
    ("2024-01-22 08:00", None, "a4", "view", "web", None),
    ("2024-01-25 18:00", None, "a5", "purchase", "app", "toys"),
    ("2024-02-03 10:55", "c1", None, "view", "web", "books"),
    ("2024-02-03 11:00", "c1", None, "purchase", "web", "books"),
    ("2024-02-14 14:00", None, "a6", "view", "web", "toys"),
    ("2025-01-15 09:00", "c3", None, "view", "web", "toys"),
]
EVENTS = [
    {"event_at": _t(at), "user_id": u, "anonymous_id": a, "event_type": et, "channel": ch,
     "category": cat}
    for at, u, a, et, ch, cat in _EVENTS
]

ROWS = {
    "products": PRODUCTS,
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "returns": RETURNS,
    "events": EVENTS,
}


def arrow_tables() -> dict[str, pa.Table]:
    """The shop as Arrow tables with the canonical schemas (missing columns are null)."""
    return {
        name: pa.Table.from_pylist(rows, schema=get_table(name).ibis_schema().to_pyarrow())
        for name, rows in ROWS.items()
    }


def load(store, folder: Path) -> None:
    """Make the shop's tables visible in ``store`` under their canonical names.

    The tables are written to Parquet in ``folder`` and read back by the engine, which works
    the same way on every engine. Two shortcuts do not: Spark's ``create_table`` writes into
    ``./spark-warehouse``, and an Ibis memtable reaches Spark through pandas, where (with
    pandas 3 and ibis 12) a null string arrives as the string ``'NaN'``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in arrow_tables().items():
        path = folder / f"{name}.parquet"
        pq.write_table(data, path)
        store.backend.read_parquet(str(path), table_name=name)
