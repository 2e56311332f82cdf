"""Presets on the real raw files (../shared/data) and on the other shapes of the same formats.

Expected values come from the data sets' published facts (MANIFEST.md) or from an
independent pandas computation on the raw file, never from shopscope's own output.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from shopscope.errors import SchemaError
from shopscope.ingest import ingest_file
from tests.conftest import shared_file

NON_MERCH = {"POST", "DOT", "C2", "D", "M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"}


def _counts(ws, table):
    return ws.store.row_count(table)


@pytest.fixture(scope="module")
def retail_raw():
    path = shared_file("online_retail", "online_retail.csv.gz")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return path, df


@pytest.mark.realdata
def test_online_retail_full_file_against_pandas(workspace, retail_raw):
    path, df = retail_raw
    result = ingest_file(workspace, path, preset="online_retail")
    # Independent reading of the same rules with pandas.
    qty = df.Quantity.astype(int)
    price = df.UnitPrice.astype(float)
    code = df.StockCode.str.strip()
    merch = ~code.str.upper().isin(NON_MERCH) & ~code.str.match(r"(?i)^gift_\d+_\d+$")
    cancel = df.InvoiceNo.str.startswith("C")
    sales = merch & ~cancel & (qty > 0)
    assert len(df) == 541_909  # published row count
    assert _counts(workspace, "order_items") == int(sales.sum())
    assert _counts(workspace, "orders") == df.loc[sales, "InvoiceNo"].nunique()
    assert _counts(workspace, "returns") == int((merch & (cancel | (qty < 0))).sum())
    assert _counts(workspace, "products") == code[merch].nunique()
    gross = workspace.store.table("orders").gross_amount.sum().execute()
    assert gross == pytest.approx(float((qty[sales] * price[sales]).sum()), rel=1e-9)
    guests = workspace.store.table("orders")
    n_guest_orders = guests.filter(guests.customer_id.isnull()).count().execute()
    assert n_guest_orders == df.loc[sales & (df.CustomerID == ""), "InvoiceNo"].nunique()
    # The 5,268 exact duplicate rows published for this file are reported.
    assert any("5,268 exact duplicate" in n for n in result.report.notes)
    # CustomerID "17850.0" is stored as "17850".
    ids = workspace.store.table("customers").customer_id
    assert ids.contains(".").sum().execute() == 0
    assert "17850" in set(workspace.store.table("customers").customer_id.execute())


def _write_retail_ii(path: Path, rows: list[list[str]], header: list[str]) -> Path:
    df = pd.DataFrame(rows, columns=header)
    df.to_csv(path, index=False)
    return path


RETAIL_II_HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                    "Customer ID", "Country"]
RETAIL_II_ROWS = [
    ["489434", "85048", "15CM CHRISTMAS GLASS BALL", "12", "12/1/2009 7:45", "6.95", "13085",
     "United Kingdom"],
    ["489434", "79323P", "PINK CHERRY LIGHTS", "12", "12/1/2009 7:45", "6.75", "13085",
     "United Kingdom"],
    ["489434", "POST", "POSTAGE", "1", "12/1/2009 7:45", "18.00", "13085", "United Kingdom"],
    ["489435", "22350", "CAT BOWL", "12", "12/13/2009 17:03", "2.55", "", "France"],
    ["C489449", "22087", "PAPER BUNTING", "-12", "12/14/2009 10:33", "2.95", "16321.0",
     "Australia"],
]


def test_online_retail_ii_shape_and_uci_dates(workspace, tmp_path):
    path = _write_retail_ii(tmp_path / "retail_ii.csv", RETAIL_II_ROWS, RETAIL_II_HEADER)
    ingest_file(workspace, path, preset="online_retail")
    orders = workspace.store.table("orders").order_by("order_id").execute()
    assert list(orders.order_id) == ["489434", "489435"]
    first = orders.iloc[0]
    assert first.ordered_at == datetime(2009, 12, 1, 7, 45)
    assert first.gross_amount == pytest.approx(12 * 6.95 + 12 * 6.75)
    assert first.shipping_amount == pytest.approx(18.0)
    assert first.customer_id == "13085"
    second = orders.iloc[1]
    assert second.ordered_at == datetime(2009, 12, 13, 17, 3)
    assert pd.isna(second.customer_id)  # guest order
    ret = workspace.store.table("returns").execute().iloc[0]
    assert (ret.kind, ret.quantity, ret.customer_id) == ("cancellation", 12, "16321")
    assert ret.amount == pytest.approx(12 * 2.95)
    assert "POST" not in set(workspace.store.table("products").product_id.execute())


def test_online_retail_from_excel(workspace, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                  "CustomerID", "Country"])
    sheet.append([536365, "85123A", "WHITE HANGING HEART", 6, datetime(2010, 12, 1, 8, 26), 2.55,
                  17850, "United Kingdom"])
    sheet.append([536366, "22633", "HAND WARMER", 6, datetime(2010, 12, 1, 8, 28), 1.85, 17850.0,
                  "United Kingdom"])
    book.save(tmp_path / "retail.xlsx")
    ingest_file(workspace, tmp_path / "retail.xlsx", preset="online_retail")
    orders = workspace.store.table("orders").order_by("order_id").execute()
    assert list(orders.order_id) == ["536365", "536366"]
    assert list(orders.customer_id) == ["17850", "17850"]
    assert orders.gross_amount.sum() == pytest.approx(6 * 2.55 + 6 * 1.85)
    assert orders.ordered_at.iloc[1] == datetime(2010, 12, 1, 8, 28)


def test_online_retail_missing_column_is_named(workspace, tmp_path):
    header = [h for h in RETAIL_II_HEADER if h != "Price"]
    rows = [r[:5] + r[6:] for r in RETAIL_II_ROWS]
    path = _write_retail_ii(tmp_path / "no_price.csv", rows, header)
    with pytest.raises(SchemaError, match="no_price.csv: missing required column for unit_price"):
        ingest_file(workspace, path, preset="online_retail")
    assert workspace.store.row_count("orders") == 0


@pytest.mark.realdata
def test_cdnow_master_and_sample(workspace, tmp_path):
    master = shared_file("cdnow", "CDNOW_master.txt.gz")
    ingest_file(workspace, master, preset="cdnow")
    assert _counts(workspace, "orders") == 69_659  # published rows
    assert _counts(workspace, "customers") == 23_570  # published customers
    orders = workspace.store.table("orders")
    assert orders.ordered_at.min().execute() == datetime(1997, 1, 1)
    assert orders.ordered_at.max().execute() == datetime(1998, 6, 30)
    raw = pd.read_csv(master, sep=r"\s+", skiprows=1, header=None, dtype=str,
                      names=["id", "date", "cds", "value"])
    assert orders.gross_amount.sum().execute() == pytest.approx(raw.value.astype(float).sum())
    items = workspace.store.table("order_items")
    assert items.quantity.sum().execute() == raw.cds.astype(int).sum()
    # ids keep their zero padding
    assert "00001" in set(workspace.store.table("customers").customer_id.execute())

    from shopscope.store import Workspace

    ws2 = Workspace.create(tmp_path / "sample")
    ingest_file(ws2, shared_file("cdnow", "CDNOW_sample.txt.gz"), preset="cdnow")
    assert ws2.store.row_count("orders") == 6_919
    assert ws2.store.row_count("customers") == 2_357
    assert ws2.store.row_count("identities") == 2_357
    ws2.close()


@pytest.mark.realdata
def test_taobao_user_behavior(tmp_path):
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path / "tb", timezone="Asia/Shanghai")
    ingest_file(ws, shared_file("taobao_userbehavior", "UserBehavior_prefix.csv.gz"),
                preset="taobao")
    events = ws.store.table("events")
    counts = dict(events.event_type.value_counts().execute().values.tolist())
    # Published for this sample: pv 75,693 / cart 4,494 / fav 2,351 / buy 1,749.
    assert counts == {"view": 75_693, "add_to_cart": 4_494, "favorite": 2_351, "purchase": 1_749}
    assert ws.store.row_count("customers") == 814
    # First line: 1,2268318,2520377,pv,1511544070 -> 2017-11-24 17:21:10 UTC = 01:21:10 +08:00
    first = events.filter((events.user_id == "1") & (events.product_id == "2268318"))
    assert first.event_at.min().execute() == datetime(2017, 11, 25, 1, 21, 10)
    ws.close()


def test_taobao_unknown_behaviour_is_rejected_with_row(workspace, tmp_path):
    path = tmp_path / "ub.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("1,10,100,pv,1511544070\n1,11,100,like,1511544071\n2,10,100,buy,notatime\n")
    from shopscope.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        ingest_file(workspace, path, preset="taobao")
    problems = {(p.row, p.column, p.value) for p in info.value.report.problems}
    assert (2, "event_type", "like") in problems
    assert (3, "event_at", "notatime") in problems
    assert workspace.store.row_count("events") == 0
