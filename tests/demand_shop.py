"""A tiny hand-built shop for the demand tests: every number in ``test_demand.py`` is worked
out by hand from the rows below (two weeks, Monday 2024-03-04 to Sunday 2024-03-17).

Products A (toys), B (books), C (toys).

=====  ==========  =======  =========  ==================================
order  ordered_at  channel  status     lines (product qty x price, disc)
=====  ==========  =======  =========  ==================================
o1     03-04       web      completed  A 2x10
o2     03-05       app      completed  A 1x10; B 4x5
o3     03-06       web      cancelled  A 3x10
o4     03-08       web      refunded   B 2x5
o5     03-11       web      completed  A 2x10 disc 2
o6     03-13       app      completed  C 1x100
=====  ==========  =======  =========  ==================================

Credits: r1 return of o1/A, 1 unit, 10.00 on 03-12; r2 cancellation credit on o2/B, 1 unit,
5.00 on 03-05.

Inventory: A on 03-14 0 at w1 and 0 at w2 (out of stock), on 03-15 0 at w1 and 2 at w2 (in
stock); B on 03-16 -1 at w1 (negative: out of stock); C on 03-10 and 03-17 5 at w1 (the
data's last day).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shopscope.schema import TABLES, get_table

D = dt.date
PRODUCTS = [{"product_id": p, "name": p, "category": c, "price": 10.0}
            for p, c in (("A", "toys"), ("B", "books"), ("C", "toys"))]
_ORDERS = [("o1", "03-04", "web", "completed"), ("o2", "03-05", "app", "completed"),
           ("o3", "03-06", "web", "cancelled"), ("o4", "03-08", "web", "refunded"),
           ("o5", "03-11", "web", "completed"), ("o6", "03-13", "app", "completed")]
_ITEMS = [("o1", 1, "A", 2, 10.0, 0.0), ("o2", 1, "A", 1, 10.0, 0.0),
          ("o2", 2, "B", 4, 5.0, 0.0), ("o3", 1, "A", 3, 10.0, 0.0),
          ("o4", 1, "B", 2, 5.0, 0.0), ("o5", 1, "A", 2, 10.0, 2.0),
          ("o6", 1, "C", 1, 100.0, 0.0)]


def _gross(order: str) -> tuple[float, float]:
    lines = [i for i in _ITEMS if i[0] == order]
    return sum(q * p for *_, q, p, _d in lines), sum(i[5] for i in lines)


ROWS = {
    "products": PRODUCTS,
    "orders": [{"order_id": o, "customer_id": None,
                "ordered_at": dt.datetime.fromisoformat(f"2024-{d} 10:00"), "channel": ch,
                "status": st, "gross_amount": _gross(o)[0], "discount_amount": _gross(o)[1],
                "shipping_amount": 0.0, "net_amount": _gross(o)[0] - _gross(o)[1],
                "currency": "GBP"} for o, d, ch, st in _ORDERS],
    "order_items": [{"order_id": o, "line_no": n, "product_id": p, "quantity": q,
                     "unit_price": u, "discount_amount": d} for o, n, p, q, u, d in _ITEMS],
    "returns": [
        {"return_id": "r1", "order_id": "o1", "product_id": "A", "kind": "return",
         "quantity": 1, "amount": 10.0, "returned_at": dt.datetime(2024, 3, 12, 9)},
        {"return_id": "r2", "order_id": "o2", "product_id": "B", "kind": "cancellation",
         "quantity": 1, "amount": 5.0, "returned_at": dt.datetime(2024, 3, 5, 15)}],
    "inventory": [
        {"date": D(2024, 3, 14), "product_id": "A", "location": "w1", "on_hand": 0},
        {"date": D(2024, 3, 14), "product_id": "A", "location": "w2", "on_hand": 0},
        {"date": D(2024, 3, 15), "product_id": "A", "location": "w1", "on_hand": 0},
        {"date": D(2024, 3, 15), "product_id": "A", "location": "w2", "on_hand": 2},
        {"date": D(2024, 3, 16), "product_id": "B", "location": "w1", "on_hand": -1},
        {"date": D(2024, 3, 10), "product_id": "C", "location": "w1", "on_hand": 5},
        {"date": D(2024, 3, 17), "product_id": "C", "location": "w1", "on_hand": 5}],
}


def load(store, folder: Path, rows: dict[str, list[dict]] | None = None) -> None:
    """Every canonical table as Parquet in ``folder``, read by the engine (empty ones too)."""
    rows = ROWS if rows is None else rows
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        data = pa.Table.from_pylist(rows.get(name, []),
                                    schema=get_table(name).ibis_schema().to_pyarrow())
        path = folder / f"{name}.parquet"
        pq.write_table(data, path)
        store.backend.read_parquet(str(path), table_name=name)


def workspace(root: Path, rows: dict[str, list[dict]], admin: str | None = "ada"):
    """A GBP workspace in ``root / "ws"`` holding ``rows`` (written as canonical Parquet to
    ``root / "shop"`` and ingested as a user would), with an ``admin`` user."""
    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from tests.test_web import PASSWORD

    folder = root / "shop"
    folder.mkdir()
    for name, data in rows.items():
        pq.write_table(pa.Table.from_pylist(data, schema=get_table(name).ibis_schema()
                                            .to_pyarrow()), folder / f"{name}.parquet")
    w = Workspace.create(root / "ws", currency="GBP")
    ingest_file(w, folder, preset="canonical")
    if admin:
        UserStore(w.path).add(admin, PASSWORD, "admin")
    return w
