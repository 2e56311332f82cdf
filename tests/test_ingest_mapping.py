"""Mapping files (TOML) on hand-made exports that no preset covers (tests/data/mapping/).

Every expected value is worked out by hand from the rows in the data files, as the
comments show; none is copied from shopscope's output.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from shopscope.errors import ValidationFailed
from shopscope.ingest.mapping import MappingError, ingest_mapping, load_mapping
from shopscope.store import Workspace

DATA = Path(__file__).parent / "data" / "mapping"
EXAMPLES = Path(__file__).parents[1] / "examples" / "mappings"
TABLES = ("orders", "order_items", "products", "customers")


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


def _rows(ws: Workspace, table: str, key: str) -> dict:
    df = ws.store.table(table).execute()
    return {rec[key]: rec for rec in df.to_dict("records")}


def _counts(ws: Workspace) -> dict[str, int]:
    return {t: ws.store.row_count(t) for t in TABLES}


def _copy(tmp_path: Path, mapping: str, *files: str, **replace: str) -> Path:
    """The mapping and its files in a scratch folder, with text in the mapping replaced."""
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for name in files:
        shutil.copy(DATA / name, folder / name)
    text = (DATA / mapping).read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = folder / mapping
    path.write_text(text, encoding="utf-8")
    return path


# -- Shopify-style orders export ---------------------------------------------------------------
# shopify_orders.csv, 9 lines of 5 orders; Created at carries the shop's offset, and the
# workspace is in Europe/London (GMT until 2024-03-31 01:00 UTC, BST = UTC+1 after):
#   #1001 alice 2024-03-05 14:22:10 +0100 = 13:22:10 UTC = 13:22:10 GMT; paid
#         2 × LS-01 45.00 + 1 × TB-02 20.00 → gross 110.00; Discount Amount 11.00
#         (WELCOME10) → net 99.00 (= its Subtotal); Shipping 4.90; DE / BE
#         (status, money and address only on the first line)
#   #1002 bob   2024-03-31 00:30:00 +0100 = 03-30 23:30 UTC = 2024-03-30 23:30:00 GMT;
#         refunded; 1 × LS-01 45.00 → gross 45, discount 0.00, net 45; shipping 4.90; FR
#   #1003 alice 2024-04-02 18:30:00 +0200 = 16:30 UTC = 17:30:00 BST; paid;
#         1 × WS-03 30.00 + 2 × TB-02 20.00 + 1 × gift wrap 2.50 (no SKU)
#         → gross 72.50; discount 7.25 (SPRING) → net 65.25 (= Subtotal); shipping 0
#   #1004 guest 2024-04-10 08:00:00 +0200 = 06:00 UTC = 07:00:00 BST; pending;
#         1 × WS-03 32.00 → gross 32, discount empty → 0, net 32; shipping 4.90; AT
#   #1005 carol 2024-04-11 23:45:00 +0200 = 21:45 UTC = 22:45:00 BST; voided → cancelled;
#         LS-01 45.00 + TB-02 20.00 → gross 65, net 65; GB / ENG
# Σ gross = 110 + 45 + 72.5 + 32 + 65 = 324.50; Σ net = 99 + 45 + 65.25 + 32 + 65 = 306.25


def test_shopify_orders_export(make_ws):
    ws = make_ws("Europe/London")
    (result,) = ingest_mapping(ws, DATA / "shopify.toml")
    assert result.source == "shopify_orders.csv"
    assert _counts(ws) == {"orders": 5, "order_items": 9, "products": 3, "customers": 3}
    orders = _rows(ws, "orders", "order_id")
    o = orders["#1001"]
    assert o["customer_id"] == "alice@example.com"
    assert o["ordered_at"] == datetime(2024, 3, 5, 13, 22, 10)
    assert (o["status"], o["channel"], o["currency"]) == ("completed", "shopify", "EUR")
    assert (o["gross_amount"], o["discount_amount"], o["net_amount"]) == pytest.approx(
        (110.0, 11.0, 99.0))
    assert o["shipping_amount"] == pytest.approx(4.90)
    assert (o["coupon_code"], o["country"], o["region"]) == ("WELCOME10", "DE", "BE")
    assert orders["#1002"]["ordered_at"] == datetime(2024, 3, 30, 23, 30)  # GMT, day before
    assert orders["#1002"]["status"] == "refunded"
    assert orders["#1003"]["ordered_at"] == datetime(2024, 4, 2, 17, 30)  # BST
    assert (orders["#1003"]["gross_amount"], orders["#1003"]["net_amount"]) == pytest.approx(
        (72.5, 65.25))
    assert pd.isna(orders["#1004"]["customer_id"])  # guest
    assert orders["#1004"]["ordered_at"] == datetime(2024, 4, 10, 7, 0)
    assert orders["#1004"]["discount_amount"] == 0.0  # empty cell
    assert orders["#1005"]["status"] == "cancelled"
    assert orders["#1005"]["ordered_at"] == datetime(2024, 4, 11, 22, 45)
    table = ws.store.table("orders")
    assert table.gross_amount.sum().execute() == pytest.approx(324.5)
    assert table.net_amount.sum().execute() == pytest.approx(306.25)

    items = ws.store.table("order_items").execute()
    lines_1003 = items[items.order_id == "#1003"].sort_values("line_no")
    assert list(lines_1003.line_no) == [1, 2, 3]
    assert list(lines_1003.quantity) == [1, 2, 1]
    assert list(lines_1003.unit_price) == pytest.approx([30.0, 20.0, 2.5])
    assert pd.isna(lines_1003.product_id.iloc[2])  # gift wrap has no SKU
    assert items.quantity.sum() == 11  # 2+1 + 1 + 1+2+1 + 1 + 1+1

    products = _rows(ws, "products", "product_id")
    assert set(products) == {"LS-01", "TB-02", "WS-03"}
    assert products["LS-01"]["name"] == "Linen Shirt"
    assert products["WS-03"]["price"] == pytest.approx(32.0)  # latest sale (#1004), not 30
    customers = _rows(ws, "customers", "customer_id")
    alice = customers["alice@example.com"]
    assert alice["first_seen_at"] == datetime(2024, 3, 5, 13, 22, 10)  # first of 2 orders
    assert (alice["country"], alice["region"], alice["signup_channel"]) == ("DE", "BE",
                                                                             "shopify")
    assert alice["email"] == "alice@example.com"
    assert customers["bob@example.com"]["first_seen_at"] == datetime(2024, 3, 30, 23, 30)
    assert customers["carol@example.com"]["region"] == "ENG"


# -- Tmall / Taobao export, GBK ----------------------------------------------------------------
# tmall_orders.csv (GBK), 7 lines of 5 orders, China time, workspace in Asia/Shanghai.
# discount = gross + shipping − paid (买家实际支付金额 includes postage), 0 when unpaid:
#   …901 小明_2024 2024/11/11 00:03:15 交易成功: 2 × 59.00 + 1 × 9.90 = 127.90; paid 115.00
#        → discount 12.90, net 115.00; 浙江省
#   …902 lily88   2024/11/11 00:15:02 交易关闭: 59.00; postage 6.00; paid 0 → discount 0,
#        net 59.00; 上海
#   …903 小明_2024 2024/11/12 20:48:00 卖家已发货，等待买家确认: 3 × 35.50 = 106.50; postage
#        10.00; paid ￥110.00 → discount 106.50 + 10 − 110 = 6.50, net 100.00
#   …904 王大锤    2024/11/13 09:00:00 交易成功 (id written ="…"): 35.50 + 2 × 9.90 = 55.30;
#        paid 50.30 → discount 5.00, net 50.30; 广东省
#   …905 lily88   2024/11/14 13:30:00 等待买家付款: 55.00; paid 0 → discount 0, net 55.00
# Σ gross 403.70, Σ discount 24.40, Σ shipping 16.00, Σ net 379.30


def test_tmall_gbk_export(make_ws):
    raw = (DATA / "tmall_orders.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really GBK
    ws = make_ws("Asia/Shanghai")
    (result,) = ingest_mapping(ws, DATA / "tmall.toml")
    assert _counts(ws) == {"orders": 5, "order_items": 7, "products": 3, "customers": 3}
    orders = _rows(ws, "orders", "order_id")
    assert set(orders) == {f"395880001234567890{i}" for i in range(1, 6)}
    a = orders["3958800012345678901"]
    assert a["ordered_at"] == datetime(2024, 11, 11, 0, 3, 15)
    assert (a["status"], a["channel"], a["currency"]) == ("completed", "tmall", "CNY")
    assert (a["gross_amount"], a["discount_amount"], a["net_amount"]) == pytest.approx(
        (127.9, 12.9, 115.0))
    assert (a["customer_id"], a["country"], a["region"]) == ("小明_2024", "CN", "浙江省")
    b = orders["3958800012345678902"]
    assert b["status"] == "cancelled"
    assert (b["gross_amount"], b["discount_amount"], b["shipping_amount"], b["net_amount"]) == \
        pytest.approx((59.0, 0.0, 6.0, 59.0))
    assert b["region"] == "上海"
    c = orders["3958800012345678903"]
    assert c["status"] == "pending"
    assert (c["discount_amount"], c["net_amount"]) == pytest.approx((6.5, 100.0))
    d = orders["3958800012345678904"]
    assert (d["gross_amount"], d["discount_amount"], d["net_amount"]) == pytest.approx(
        (55.3, 5.0, 50.3))
    assert orders["3958800012345678905"]["status"] == "pending"
    t = ws.store.table("orders")
    sums = t.aggregate(g=t.gross_amount.sum(), d=t.discount_amount.sum(),
                       s=t.shipping_amount.sum(), n=t.net_amount.sum()).execute().iloc[0]
    assert tuple(sums) == pytest.approx((403.7, 24.4, 16.0, 379.3))
    products = _rows(ws, "products", "product_id")
    assert products["BWB-500"]["name"] == "保温杯 500ml"
    assert products["BWB-500"]["price"] == pytest.approx(55.0)  # latest sale, 11-14
    assert products["CYG-01"]["price"] == pytest.approx(35.5)
    customers = _rows(ws, "customers", "customer_id")
    assert customers["lily88"]["first_seen_at"] == datetime(2024, 11, 11, 0, 15, 2)
    assert customers["王大锤"]["region"] == "广东省"
    assert any("gb18030" in n for n in result.report.notes)


# -- The same export as an Excel workbook ------------------------------------------------------
# Sheet 订单 with a title line above the header; real date cells and one date as text;
# numbers as number cells, one paid amount as text "￥50.30"; the workspace is in UTC, so
# China time (UTC+8) moves back 8 hours:
#   …901 2024-11-11 00:03:15 +08 → 2024-11-10 16:03:15; 127.90 / 12.90 / 115.00
#   …904 2024/11/13 09:00:00 +08 → 2024-11-13 01:00:00; 55.30 / 5.00 / 50.30

XLSX_HEADER = ["订单编号", "买家会员名", "订单创建时间", "订单付款时间", "订单状态", "宝贝标题",
               "商家编码", "宝贝数量", "单价", "买家应付邮费", "买家实际支付金额", "收货地址"]


def _tmall_workbook(path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "订单"
    sheet.append(["淘宝订单导出 2024年11月"])
    sheet.append(XLSX_HEADER)
    created, paid = datetime(2024, 11, 11, 0, 3, 15), datetime(2024, 11, 11, 0, 3, 40)
    addr_a, addr_d = "浙江省 杭州市 西湖区 文三路100号", "广东省 深圳市 南山区 科技园"
    sheet.append(["3958800012345678901", "小明_2024", created, paid, "交易成功", "保温杯 500ml",
                  "BWB-500", 2, 59.0, 0, 115.0, addr_a])
    sheet.append(["3958800012345678901", "小明_2024", created, paid, "交易成功", "杯套 蓝色",
                  "BT-BLUE", 1, 9.9, 0, 115.0, addr_a])
    sheet.append(["3958800012345678904", "王大锤", "2024/11/13 09:00:00", None, "交易成功",
                  "茶叶罐", "CYG-01", 1, 35.5, 0, "￥50.30", addr_d])
    sheet.append(["3958800012345678904", "王大锤", "2024/11/13 09:00:00", None, "交易成功",
                  "杯套 蓝色", "BT-BLUE", 2, 9.9, 0, "￥50.30", addr_d])
    book.save(path)


def test_tmall_excel_workbook(make_ws, tmp_path):
    mapping = _copy(tmp_path, "tmall_xlsx.toml")
    _tmall_workbook(mapping.parent / "tmall_orders.xlsx")
    ws = make_ws("UTC")
    ingest_mapping(ws, mapping)
    assert _counts(ws) == {"orders": 2, "order_items": 4, "products": 3, "customers": 2}
    orders = _rows(ws, "orders", "order_id")
    a, d = orders["3958800012345678901"], orders["3958800012345678904"]
    assert a["ordered_at"] == datetime(2024, 11, 10, 16, 3, 15)
    assert d["ordered_at"] == datetime(2024, 11, 13, 1, 0)
    assert (a["gross_amount"], a["discount_amount"], a["net_amount"]) == pytest.approx(
        (127.9, 12.9, 115.0))
    assert (d["gross_amount"], d["discount_amount"], d["net_amount"]) == pytest.approx(
        (55.3, 5.0, 50.3))
    customers = _rows(ws, "customers", "customer_id")
    assert customers["小明_2024"]["first_seen_at"] == datetime(2024, 11, 10, 16, 3, 15)


# -- Two files straight into canonical tables: decimal commas, Berlin time ---------------------
# eu_customers.csv / eu_orders.csv, semicolons; the workspace is in UTC, Berlin is UTC+1 in
# January and UTC+2 in July:
#   K-001 since 02.01.2024 09:15 → 2024-01-02 08:15; K-002 10.01.2024 18:40 → 17:40
#   B-1 K-001 15.01.2024 10:00 → 09:00; "1.234,50 €" − 34,50 → 1234.50 / 34.50 / 1200.00
#   B-2 K-002 15.07.2024 10:00 → 08:00; storniert; "19,99 €", Rabatt empty → 0, Versand 4,95
#   B-3 guest 20.07.2024 12:30 → 10:30; offen; 5,00


def test_two_files_decimal_commas_and_a_named_time_zone(make_ws):
    ws = make_ws("UTC")
    results = ingest_mapping(ws, DATA / "eu_shop.toml")
    assert [r.source for r in results] == ["eu_customers.csv", "eu_orders.csv"]  # parents first
    customers = _rows(ws, "customers", "customer_id")
    assert customers["K-001"]["first_seen_at"] == datetime(2024, 1, 2, 8, 15)
    assert customers["K-002"]["first_seen_at"] == datetime(2024, 1, 10, 17, 40)
    assert customers["K-001"]["email"] == "anna@example.de"
    orders = _rows(ws, "orders", "order_id")
    b1, b2, b3 = orders["B-1"], orders["B-2"], orders["B-3"]
    assert b1["ordered_at"] == datetime(2024, 1, 15, 9, 0)
    assert (b1["gross_amount"], b1["discount_amount"], b1["net_amount"]) == pytest.approx(
        (1234.5, 34.5, 1200.0))
    assert b2["ordered_at"] == datetime(2024, 7, 15, 8, 0)  # summer time
    assert (b2["status"], b2["gross_amount"], b2["discount_amount"], b2["shipping_amount"]) \
        == ("cancelled", pytest.approx(19.99), 0.0, pytest.approx(4.95))
    assert b3["ordered_at"] == datetime(2024, 7, 20, 10, 30)
    assert pd.isna(b3["customer_id"]) and b3["status"] == "pending"
    assert set(ws.store.table("orders").currency.execute()) == {"EUR"}
    assert ws.store.row_count("customers") == 2  # from the file only, none derived


def test_unknown_customer_is_reported_against_the_stored_customers(make_ws, tmp_path):
    ws = make_ws("UTC")
    ingest_mapping(ws, DATA / "eu_shop.toml")
    mapping = _copy(tmp_path, "eu_shop.toml", "eu_customers.csv")
    (mapping.parent / "eu_orders.csv").write_text(
        "Bestellnummer;Kunde;Datum;Status;Warenwert;Rabatt;Versand\n"
        "B-4;K-001;01.08.2024 10:00;bezahlt;10,00;;\n"
        "B-5;K-999;01.08.2024 11:00;bezahlt;12,00;;\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        ingest_mapping(ws, mapping)
    (problem,) = info.value.report.problems
    assert (problem.source, problem.row, problem.column, problem.value) == (
        "eu_orders.csv", 2, "Kunde", "K-999")
    assert problem.reason == "unknown customers.customer_id"
    assert ws.store.row_count("orders") == 3  # B-4 not loaded either


# -- Bad mapping files -------------------------------------------------------------------------

LINES = (
    '\n[[source]]\nfile = "x.csv"\ntable = "order_lines"\n'
    'columns = { order_id = "Name", ordered_at = "Created", status = "Status", '
    'quantity = "Qty", unit_price = "Price" }\n'
    'constants = { channel = "web" }\n'
)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ('nmae = "shop"\n' + LINES, "bad.toml: nmae: unknown key 'nmae'", "name, timezone"),
        (LINES + 'encodng = "gbk"\n', "bad.toml: source[1].encodng: unknown key", "encoding"),
        (LINES.replace('"order_lines"', '"order"'), "source[1].table: unknown table 'order'",
         "order_lines"),
        (LINES + 'extract = { quantiy = "(\\\\d+)" }\n', ("source[1].extract.quantiy: 'quantiy' "
         "is not mapped"), "mapped columns: order_id"),
        (LINES.replace("quantity =", "quantiy ="), ("source[1].columns.quantiy: table "
         "order_lines has no column 'quantiy'"), "did you mean 'quantity'"),
        (LINES + 'dates = { ordered_at = "%d %b %Y" }\n',
         "source[1].dates.ordered_at: unknown code %b in '%d %b %Y'", "%Y %y %m %d"),
        (LINES + 'dates = { ordered_at = "%H:%M" }\n', "needs a year, month and day", None),
        (LINES + 'dates = { status = "%Y-%m-%d" }\n',
         "source[1].dates.status: 'status' is not a date column", "ordered_at"),
        (LINES.replace('status = "Status", ', ""),
         "source[1].columns: no value for required column 'status' of order_lines",
         "[source.constants]"),
        (LINES.replace('status = "Status", ', "").replace('channel = "web"',
                                                          'channel = "web", status = "done"'),
         "source[1].constants.status: 'done' is not allowed", "completed, pending"),
        (LINES.replace('"web"', "true"),
         "source[1].constants.channel: must be a string or a number (got True)", None),
        (LINES.replace('"web"', '"web", quantity = 1'),
         "source[1].constants.quantity: 'quantity' is both mapped and constant", None),
        (LINES + '[source.values.status]\npaid = "complete"\n',
         "source[1].values.status: 'paid' maps to 'complete', which is not allowed",
         "completed, pending, cancelled, refunded"),
        (LINES + '[source.values.channel]\nonline = "web"\n',
         "source[1].values.channel: 'channel' is not mapped", None),
        ('timezone = "Mars/Olympus"\n' + LINES, "bad.toml: timezone: unknown time zone",
         "IANA"),
        (LINES + 'extract = { order_id = "\\\\d+" }\n',
         "source[1].extract.order_id: the pattern", "parentheses"),
        (LINES + 'skip_rows = -1\n', "source[1].skip_rows:", None),
        (LINES + 'encoding = "klingon"\n', "source[1].encoding: unknown encoding 'klingon'",
         "gbk"),
        ('name = "shop"\n', "bad.toml: source: required key missing", None),
        (LINES + "[[source]\n", "bad.toml: not valid TOML", None),
        (LINES + '[[source]]\nfile = "o.csv"\ntable = "orders"\ncolumns = { order_id = "Id", '
         'ordered_at = "At", status = "S", gross_amount = "G" }\nconstants = { channel = "x" }\n',
         "source[2].table: orders and order items already come from order_lines", None),
        (('[derive]\ncustomers = true\n[[source]]\nfile = "c.csv"\ntable = "customers"\n'
         'columns = { customer_id = "Id" }\n'), "derive.customers: customers come from a source",
         None),
    ],
)
def test_bad_mapping_files_name_the_key(tmp_path, text, message, hint):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert isinstance(info.value, ValueError)
    assert message in info.value.message
    if hint:
        assert hint in (info.value.hint or "")


def test_mapping_that_does_not_fit_its_file(make_ws, tmp_path):
    ws = make_ws()
    mapping = _copy(tmp_path, "shopify.toml", "shopify_orders.csv",
                    **{'"Lineitem quantity"': '"Lineitem qty"'})
    with pytest.raises(MappingError) as info:
        ingest_mapping(ws, mapping)
    assert info.value.message == ("shopify_orders.csv: column 'Lineitem qty' not found "
                                  "(mapped in shopify.toml source[1].columns.quantity, line 26)")
    assert "did you mean 'Lineitem quantity'" in info.value.hint
    missing = _copy(tmp_path, "shopify.toml", **{"shopify_orders.csv": "nowhere.csv"})
    with pytest.raises(MappingError, match=r"shopify.toml: source\[1\].file: no file matches"):
        ingest_mapping(ws, missing)
    assert _counts(ws) == dict.fromkeys(TABLES, 0)


# -- Bad rows ----------------------------------------------------------------------------------
# shopify_bad.csv: row 2 (#2001, second line) quantity "two"; row 4 (#2003) month 13;
# row 5 (#2004) status "chargeback", which the value map does not know. Good: #2002 (row 3)
# and #2005 (rows 6, 7); #2001's good first line (row 1) stays out with its order.


def test_bad_rows_rejected_with_file_row_column_value_reason(make_ws, tmp_path):
    ws = make_ws("Europe/Berlin")
    mapping = _copy(tmp_path, "shopify.toml", "shopify_bad.csv",
                    **{"shopify_orders.csv": "shopify_bad.csv"})
    with pytest.raises(ValidationFailed) as info:
        ingest_mapping(ws, mapping)
    report = info.value.report
    found = {(p.source, p.row, p.column, p.value, p.reason) for p in report.problems}
    assert found == {
        ("shopify_bad.csv", 2, "Lineitem quantity", "two", "cannot parse as a whole number"),
        ("shopify_bad.csv", 4, "Created at", "2024-13-01 10:00:00 +0200",
         "cannot parse as a date and time (expected %Y-%m-%d %H:%M:%S %z)"),
        ("shopify_bad.csv", 5, "Financial Status", "chargeback",
         "must be one of completed, pending, cancelled, refunded"),
    }
    assert str(report.problems[0]) == ("shopify_bad.csv, row 2, column Lineitem quantity: "
                                       "'two': cannot parse as a whole number")
    assert _counts(ws) == dict.fromkeys(TABLES, 0)
    assert ws.store.row_count("_rejects") == 0


def test_bad_rows_quarantined_keep_their_whole_order_out(make_ws, tmp_path):
    # The whole-order rule is now the quarantine_orders policy (per line: test_ingest_rows.py)
    ws = make_ws("Europe/Berlin")
    mapping = _copy(tmp_path, "shopify.toml", "shopify_bad.csv",
                    **{"shopify_orders.csv": "shopify_bad.csv"})
    (result,) = ingest_mapping(ws, mapping, policy="quarantine_orders")
    # #2002: 1 line; #2005: 2 lines (30.00 + 45.00 = 75.00)
    assert _counts(ws) == {"orders": 2, "order_items": 3, "products": 3, "customers": 2}
    orders = _rows(ws, "orders", "order_id")
    assert set(orders) == {"#2002", "#2005"}
    assert orders["#2005"]["gross_amount"] == pytest.approx(75.0)
    assert orders["#2005"]["ordered_at"] == datetime(2024, 5, 6, 16, 0)  # +0200 = Berlin
    rejects = ws.store.table("_rejects").order_by("row").execute()
    assert list(rejects.row) == [1, 2, 4, 5]
    assert rejects.reason.iloc[0] == "another line of this order was rejected"
    assert list(rejects.column) == ["Name", "Lineitem quantity", "Created at",
                                    "Financial Status"]
    assert result.rows_rejected["order_items"] == 4


# -- Idempotency -------------------------------------------------------------------------------


def test_loading_twice_adds_nothing(make_ws):
    ws = make_ws("Europe/London")
    ingest_mapping(ws, DATA / "shopify.toml")
    before = _counts(ws)
    (again,) = ingest_mapping(ws, DATA / "shopify.toml")
    assert again.skipped
    (forced,) = ingest_mapping(ws, DATA / "shopify.toml", force=True)
    assert not forced.skipped
    assert sum(forced.rows_added.values()) == 0
    assert _counts(ws) == before


def test_overlapping_exports_matched_by_a_pattern(make_ws, tmp_path):
    # Two weekly exports: #1001–#1003 (6 lines) and #1003–#1005 (6 lines); #1003 is in both.
    lines = (DATA / "shopify_orders.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    mapping = _copy(tmp_path, "shopify.toml",
                    **{'file = "shopify_orders.csv"': 'file = "exports/orders_*.csv"'})
    (mapping.parent / "exports").mkdir()
    (mapping.parent / "exports" / "orders_w10.csv").write_text(header + "".join(body[:6]))
    (mapping.parent / "exports" / "orders_w14.csv").write_text(header + "".join(body[3:]))
    ws = make_ws("Europe/London")
    first, second = ingest_mapping(ws, mapping)
    assert (first.source, second.source) == ("exports/orders_w10.csv", "exports/orders_w14.csv")
    assert first.rows_added["orders"] == 3 and second.rows_added["orders"] == 2
    assert first.rows_added["order_items"] == 6 and second.rows_added["order_items"] == 3
    assert _counts(ws) == {"orders": 5, "order_items": 9, "products": 3, "customers": 3}


# -- Parquet, events, unix times ---------------------------------------------------------------


def test_parquet_events_with_typed_and_unix_columns(make_ws, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # 1700000000 = 2023-11-14 22:13:20 UTC = 2023-11-15 06:13:20 in Shanghai (UTC+8)
    pq.write_table(pa.table({
        "ts": pa.array([1_700_000_000, 1_700_000_060, 1_700_003_600], pa.int64()),
        "uid": pa.array([7, 7, 8], pa.int64()),
        "item": ["A", "B", "A"],
        "cat": ["cups", "tea", "cups"],
        "action": ["clk", "cart", "clk"],
    }), tmp_path / "events.parquet")
    (tmp_path / "ev.toml").write_text('''
[[source]]
file = "events.parquet"
table = "events"
[source.columns]
event_at = "ts"
user_id = "uid"
product_id = "item"
category = "cat"
event_type = "action"
[source.dates]
event_at = "unix"
[source.values.event_type]
clk = "view"
cart = "add_to_cart"
[source.constants]
channel = "app"
''', encoding="utf-8")
    ws = make_ws("Asia/Shanghai")
    ingest_mapping(ws, tmp_path / "ev.toml")
    events = ws.store.table("events").order_by("event_at").execute()
    assert list(events.event_type) == ["view", "add_to_cart", "view"]
    assert events.event_at.iloc[0] == datetime(2023, 11, 15, 6, 13, 20)
    assert events.event_at.iloc[2] == datetime(2023, 11, 15, 7, 13, 20)
    assert list(events.user_id) == ["7", "7", "8"]
    customers = _rows(ws, "customers", "customer_id")
    assert customers["7"]["first_seen_at"] == datetime(2023, 11, 15, 6, 13, 20)
    assert _rows(ws, "products", "product_id")["B"]["category"] == "tea"


# -- The examples in docs/ingest.md ------------------------------------------------------------


@pytest.mark.parametrize(("example", "tested"), [("shopify.toml", "shopify.toml"),
                                                 ("tmall.toml", "tmall.toml"),
                                                 ("tmall.toml", "tmall_xlsx.toml")])
def test_examples_are_the_tested_mappings(example, tested):
    shown, used = load_mapping(EXAMPLES / example), load_mapping(DATA / tested)
    ignore = {"file", "sheet", "skip_rows", "encoding"}  # where the example's files live
    assert shown.model_dump(exclude={"sources"}) == used.model_dump(exclude={"sources"})
    assert [s.model_dump(exclude=ignore) for s in shown.sources] == \
        [s.model_dump(exclude=ignore) for s in used.sources]


@pytest.mark.parametrize("example", ["shopify.toml", "tmall.toml"])
def test_docs_show_the_examples_in_full(example):
    docs = (Path(__file__).parents[1] / "docs" / "ingest.md").read_text(encoding="utf-8")
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    assert f"```toml\n{text}```" in docs


def test_reloading_rows_with_a_null_key_part_adds_nothing(make_ws, tmp_path):
    # marketing_spend's key is (date, channel, campaign_id); these rows have no campaign.
    (tmp_path / "spend.csv").write_text("day;channel;spend\n02/01/2024;google;12,50\n"
                                        "03/01/2024;meta;7\n", encoding="utf-8")
    (tmp_path / "spend.toml").write_text(
        '[[source]]\nfile = "spend.csv"\ntable = "marketing_spend"\ndecimal = ","\n'
        'columns = { date = "day", channel = "channel", spend = "spend" }\n'
        'dates = { date = "%d/%m/%Y" }\n', encoding="utf-8")
    ws = make_ws()
    ingest_mapping(ws, tmp_path / "spend.toml")
    (again,) = ingest_mapping(ws, tmp_path / "spend.toml", force=True)
    assert again.rows_added == {"marketing_spend": 0}
    spend = ws.store.table("marketing_spend").order_by("date").execute()
    assert list(spend.spend) == pytest.approx([12.5, 7.0])
    assert list(spend.date.astype(str)) == ["2024-01-02", "2024-01-03"]
