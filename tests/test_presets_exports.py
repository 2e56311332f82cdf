"""Export presets (Shopify, WooCommerce, Tmall 千牛, Douyin 抖店, Olist) on the fixtures in
tests/data/exports/, written from the vendors' published column lists.

Every expected total is worked out by hand from the fixture's rows, as the comments and
the arithmetic show; none is copied from shopscope's output.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shopscope.ingest.mapping import MappingError
from shopscope.ingest.presets.exports import EXPORTS, ingest_export, mapping_text
from shopscope.store import Workspace

DATA = Path(__file__).parent / "data" / "exports"


@pytest.fixture
def make_ws(tmp_path):
    opened = []

    def make(timezone: str = "UTC") -> Workspace:
        ws = Workspace.create(tmp_path / f"ws{len(opened)}", timezone=timezone)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture
def no_pandas_step(monkeypatch):
    """Reading, joining and reshaping happen in the engine: pandas' readers and joins fail."""
    def refuse(*args, **kwargs):
        raise AssertionError("a pandas step in ingestion")

    for name in ("read_csv", "read_excel", "read_table", "concat", "merge"):
        monkeypatch.setattr(pd, name, refuse)
    monkeypatch.setattr(pd.DataFrame, "merge", refuse)
    monkeypatch.setattr(pd.DataFrame, "groupby", refuse)


def _sum(expr) -> float:
    value = expr.sum().execute()
    return 0.0 if value is None or math.isnan(value) else round(float(value), 2)  # empty: NaN


def _totals(ws: Workspace) -> dict:
    store = ws.store
    orders, returns = store.table("orders"), store.table("returns")
    return {
        "orders": store.row_count("orders"),
        "items": store.row_count("order_items"),
        "units": int(_sum(store.table("order_items").quantity)),
        "gmv": _sum(orders.gross_amount),
        "returns": store.row_count("returns"),
        "returned": _sum(returns.amount),
        "customers": int(orders.customer_id.nunique().execute()),
    }


def _status(ws: Workspace) -> dict[str, str]:
    df = ws.store.table("orders").select("order_id", "status").execute()
    return dict(zip(df.order_id, df.status, strict=True))


def test_every_export_preset_ships_its_mapping():
    for name in EXPORTS:
        assert "[[source]]" in mapping_text(name)


def test_shopify_orders_export(make_ws, no_pandas_step):
    ws = make_ws("Europe/Berlin")
    results = ingest_export(ws, [DATA / "shopify" / "orders_export.csv"], preset="shopify")
    assert [r.rows_added.get("returns", 0) for r in results] == [0, 2]
    assert _totals(ws) == {
        "orders": 5,                   # #1001 … #1005
        "items": 2 + 1 + 1 + 1 + 2,    # #1001 and #1005 have two lines
        "units": 2 + 1 + 2 + 1 + 1 + 1 + 1,
        # Σ quantity × Lineitem price per order
        "gmv": round((2 * 45.00 + 20.00) + 2 * 32.00 + 20.00 + 32.00 + (45.00 + 3.00), 2),
        "returns": 2,                  # Refunded Amount on #1002 and #1005
        "returned": 32.00 + 48.00,
        "customers": 3,                # alice (#1001, #1003), bob, carol; #1004 is a guest
    }
    assert _status(ws) == {"#1001": "completed", "#1002": "completed", "#1003": "cancelled",
                           "#1004": "pending", "#1005": "completed"}
    order = ws.store.table("orders").filter(lambda t: t.order_id == "#1001").execute().iloc[0]
    assert (order.discount_amount, order.net_amount, order.coupon_code) == (11.0, 99.0,
                                                                            "WELCOME10")
    assert str(order.ordered_at) == "2024-03-05 14:22:10"  # +0100 in a Berlin workspace
    kinds = ws.store.table("returns").select("order_id", "kind").execute()
    # #1005 was cancelled (Cancelled at set): credited instead of delivered
    assert dict(zip(kinds.order_id, kinds.kind, strict=True)) == {
        "#1002": "return", "#1005": "cancellation"}
    # the gift wrap line has no SKU: it is an order line but not a product
    assert ws.store.row_count("products") == 3


def test_woocommerce_orders_export(make_ws, no_pandas_step):
    ws = make_ws("Europe/London")
    ingest_export(ws, [DATA / "woocommerce" / "orders-export.csv"], preset="woocommerce")
    assert _totals(ws) == {
        "orders": 5,
        "items": 7,
        "units": 2 + 1 + 3 + 1 + 2 + 1 + 2,
        "gmv": round((24.00 + 8.50) + 36.00 + 45.00 + 17.00 + (12.00 + 18.00), 2),
        "returns": 2,                  # item_refunded on items 504 and 507
        "returned": 45.00 + 9.00,
        # customer 12, customer 15, and guest 2002 known by its (lower-cased) e-mail
        "customers": 3,
    }
    orders = ws.store.table("orders").execute().set_index("order_id")
    assert orders.loc["2002", "customer_id"] == "tom@example.org"
    assert orders.loc["2002", "coupon_code"] == "spring10"
    assert orders.loc["2002", "discount_amount"] == pytest.approx(3.60)
    assert orders.loc["2002", "net_amount"] == pytest.approx(36.00 - 3.60)
    assert orders.loc["2004", "status"] == "cancelled"
    assert orders.loc["2003", "status"] == "completed"  # refunded: the credit is a return
    items = ws.store.table("order_items").execute()
    assert items.loc[items.order_id == "2002", "discount_amount"].item() == pytest.approx(3.60)
    returns = ws.store.table("returns").execute().set_index("return_id")
    assert returns.loc["2005-507", "quantity"] == 1 and returns.loc["2005-507", "amount"] == 9.0


def test_tmall_order_and_item_reports_gbk(make_ws, no_pandas_step):
    ws = make_ws("Asia/Shanghai")
    ingest_export(ws, [DATA / "tmall"], preset="tmall")
    n = "39588000123456789"
    assert _totals(ws) == {
        "orders": 5,
        "items": 2 + 1 + 2 + 1 + 1,
        "units": 2 + 1 + 1 + 1 + 1 + 1 + 2,
        # Σ 价格 × 购买数量 of each order's items in the item report
        "gmv": round((2 * 59.00 + 9.90) + 35.50 + (59.00 + 9.90) + 59.00 + 2 * 9.90, 2),
        "returns": 2,                  # 退款金额 on …02 (full) and …03 (partial)
        "returned": 35.50 + 9.90,
        "customers": 4,                # 小明_2024 (…01, …03), 王大锤, 李四, 赵六
    }
    orders = ws.store.table("orders").execute().set_index("order_id")
    # …01's item rows are written ="…" and still join: paid 115.00 for goods 127.90
    assert orders.loc[n + "01", "gross_amount"] == pytest.approx(127.90)
    assert orders.loc[n + "01", "discount_amount"] == pytest.approx(127.90 - 115.00)
    assert orders.loc[n + "01", "region"] == "浙江省"
    assert _status(ws) == {n + "01": "completed", n + "02": "completed",
                           n + "03": "completed", n + "04": "cancelled", n + "05": "pending"}
    returns = ws.store.table("returns").execute().set_index("order_id")
    assert returns.loc[n + "02", "kind"] == "cancellation"  # 交易关闭 after a full refund
    assert returns.loc[n + "02", "quantity"] == 1           # 宝贝总数量 of a full refund
    assert returns.loc[n + "03", "kind"] == "return"


def test_tmall_needs_both_reports(make_ws, tmp_path):
    ws = make_ws()
    from shopscope.errors import InputError

    with pytest.raises(InputError, match="one order report and one item report"):
        ingest_export(ws, [DATA / "tmall" / "ExportOrderList202411.csv"], preset="tmall")


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_douyin_order_export(make_ws, tmp_path, encoding, no_pandas_step):
    source = next((DATA / "douyin").glob("*.csv"))
    path = tmp_path / source.name
    path.write_text(source.read_text(encoding="gbk"), encoding=encoding)
    ws = make_ws("Asia/Shanghai")
    ingest_export(ws, [path], preset="douyin")
    p = "69179267688236437"
    assert _totals(ws) == {
        "orders": 5,
        "items": 7,
        "units": 2 + 1 + 1 + 1 + 3 + 1 + 2,
        "gmv": round((57.80 + 39.90) + 28.90 + 39.90 + 86.70 + (28.90 + 79.80), 2),
        "returns": 2,                  # 售后状态 退款成功 on sub-orders …62 and …72
        "returned": 28.90 + 39.90,
        "customers": 0,                # the buyer is masked: guest orders
    }
    assert _status(ws) == {p + "51": "completed", p + "61": "completed", p + "71": "completed",
                           p + "81": "cancelled", p + "91": "completed"}
    returns = ws.store.table("returns").execute().set_index("return_id")
    assert returns.loc[p + "62", "kind"] == "return"          # shipped, then refunded
    assert returns.loc[p + "72", "kind"] == "cancellation"    # refunded before shipping
    items = ws.store.table("order_items").execute().set_index(["order_id", "line_no"])
    assert items.loc[(p + "51", 1), "unit_price"] == pytest.approx(57.80 / 2)
    assert items.loc[(p + "51", 2), "discount_amount"] == pytest.approx(3.00 + 2.00)


def test_olist_marketplace_schema(make_ws, no_pandas_step):
    ws = make_ws("America/Sao_Paulo")
    results = ingest_export(ws, [DATA / "olist"], preset="olist")
    assert [r.source for r in results] == ["olist_orders_dataset.csv",
                                           "olist_order_items_dataset.csv"]
    assert _totals(ws) == {
        "orders": 6,
        "items": 8,
        "units": 8,                    # one row per unit
        # Σ price per order from the items file; o5 (unavailable) has no items
        "gmv": round(29.99 + (2 * 118.70 + 45.00) + 29.99 + 199.90 + 0 + (45.00 + 12.50), 2),
        "returns": 0,
        # customer_id is per order: o1 and o3 are both p-ana
        "customers": 5,
        "returned": 0.0,
    }
    orders = ws.store.table("orders").execute().set_index("order_id")
    assert orders.loc["o2", "shipping_amount"] == pytest.approx(2 * 22.76 + 10.50)
    assert orders.loc["o1", "customer_id"] == orders.loc["o3", "customer_id"] == "p-ana"
    assert orders.loc["o6", "region"] == "MG"
    # o1 paid 18.12 + 2.00 + 18.59 = 38.71 = goods + freight: no discount
    assert orders.loc["o1", "discount_amount"] == 0.0


def test_olist_folder_missing_a_file_names_it(make_ws, tmp_path):
    folder = tmp_path / "olist"
    shutil.copytree(DATA / "olist", folder)
    (folder / "olist_order_payments_dataset.csv").unlink()
    ws = make_ws()
    with pytest.raises(MappingError, match=r"join\[3\]\.file: no file matches") as info:
        ingest_export(ws, [folder], preset="olist")
    assert "line" in info.value.message
    assert ws.store.row_count("orders") == 0


def test_cli_ingest_with_an_export_preset(tmp_path):
    run = [sys.executable, "-m", "shopscope.cli"]
    init = subprocess.run([*run, "init", "ws"], cwd=tmp_path, capture_output=True,
                          timeout=300, check=False)
    assert init.returncode == 0
    export = DATA / "shopify" / "orders_export.csv"
    proc = subprocess.run([*run, "ingest", "shopify", str(export), "-w", "ws"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.replace("\n", " ")
    assert "orders +5" in out and "returns +2" in out
