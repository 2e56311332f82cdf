"""Row-level ingest rules (issue 15, point 6): per-line quarantine, zero quantities, empty
rows, the day/month order, and plausibility rules on every batch. Fixtures are built here;
expected values are computed in the test from the fixture, not read back from the code."""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import ibis
import pytest

from shopscope.errors import InputError, ValidationFailed
from shopscope.ingest import ingest_file
from shopscope.ingest.load import Batch, load_batches
from shopscope.ingest.mapping import ingest_mapping
from shopscope.ingest.readers import ReadOptions
from shopscope.store import Workspace
from tests.conftest import shared_file

DATA = Path(__file__).parent / "data" / "mapping"
RETAIL_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")


def _ws(tmp_path: Path, tz: str = "Europe/London") -> Workspace:
    return Workspace.create(tmp_path / "ws", timezone=tz, currency="EUR")


def _rejects(ws: Workspace):
    return ws.store.table("_rejects").order_by(["row", "column"]).execute()


# -- per-line quarantine ------------------------------------------------------------------


def test_quarantine_keeps_an_orders_good_lines_and_flags_the_order(tmp_path):
    ws = _ws(tmp_path, "Europe/Berlin")
    text = (DATA / "shopify.toml").read_text().replace("shopify_orders.csv", "shopify_bad.csv")
    (tmp_path / "m.toml").write_text(text)
    (tmp_path / "shopify_bad.csv").write_bytes((DATA / "shopify_bad.csv").read_bytes())
    (result,) = ingest_mapping(ws, tmp_path / "m.toml", policy="quarantine")
    orders = ws.store.table("orders").execute().set_index("order_id")
    # #2001 has a good first line (1 x 45.00) and a bad second one ('two'): it loads with
    # the good line; #2003 and #2004 have one line each, both bad.
    assert set(orders.index) == {"#2001", "#2002", "#2005"}
    assert orders.loc["#2001", "gross_amount"] == pytest.approx(45.0)
    items = ws.store.table("order_items").execute()
    assert sorted(items.order_id) == ["#2001", "#2002", "#2005", "#2005"]
    rejects = _rejects(ws)
    flagged = rejects[rejects.reason == "order loaded without its rejected line(s)"]
    assert list(flagged.value) == ["#2001"] and list(flagged.row) == [1]
    faults = rejects[rejects.reason != "order loaded without its rejected line(s)"]
    assert list(faults.row) == [2, 4, 5]
    assert result.rows_rejected["order_items"] == 3  # the flag is not a rejected row


def _retail_mapping(folder: Path, csv_name: str, extra: str = "") -> Path:
    (folder / "retail.toml").write_text(f'''
[[source]]
file = "{csv_name}"
table = "order_lines"
{extra}
[source.columns]
order_id = "InvoiceNo"
product_id = "StockCode"
quantity = "Quantity"
unit_price = "UnitPrice"
ordered_at = "InvoiceDate"
customer_id = "CustomerID"
country = "Country"
[source.dates]
ordered_at = "%Y-%m-%d %H:%M:%S"
[source.constants]
channel = "online"
status = "completed"
''')
    return folder / "retail.toml"


def _expected_units(rows: list[dict], whole_orders: bool) -> tuple[int, int]:
    """Units and orders a per-line (or whole-order) quarantine should load, by the rules:
    a whole, positive quantity, a price >= 0, and the invoice's first good line's date,
    customer and country."""
    def own_ok(r: dict) -> bool:
        try:
            q, p = float(r["Quantity"]), float(r["UnitPrice"])
        except ValueError:
            return False
        return q == int(q) and q > 0 and p >= 0

    first: dict[str, dict] = {}
    for r in rows:
        if own_ok(r):
            first.setdefault(r["InvoiceNo"], r)
    good, bad_orders = [], set()
    for r in rows:
        head = first.get(r["InvoiceNo"])
        same = head is not None and all(
            not r[c] or not head[c] or r[c] == head[c]
            for c in ("InvoiceDate", "CustomerID", "Country"))
        if own_ok(r) and same:
            good.append(r)
        else:
            bad_orders.add(r["InvoiceNo"])
    if whole_orders:
        good = [r for r in good if r["InvoiceNo"] not in bad_orders]
    return sum(int(float(r["Quantity"])) for r in good), len({r["InvoiceNo"] for r in good})


def test_real_online_retail_slice_loses_no_good_line_under_quarantine(tmp_path):
    with gzip.open(shared_file("online_retail", "online_retail.csv.gz"), "rt") as fh:
        lines = [next(fh) for _ in range(4001)]
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    # Break one line of three multi-line invoices, as an export cut would.
    sizes = defaultdict(int)
    for r in rows:
        sizes[r["InvoiceNo"]] += 1
    broken = [i for i, r in enumerate(rows) if sizes[r["InvoiceNo"]] >= 5][::400][:3]
    for i in broken:
        rows[i]["Quantity"] = "n/a"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (tmp_path / "slice.csv").write_text(out.getvalue())
    mapping = _retail_mapping(tmp_path, "slice.csv")

    per_line_units, per_line_orders = _expected_units(rows, whole_orders=False)
    whole_units, _ = _expected_units(rows, whole_orders=True)
    assert per_line_units > whole_units  # the units the old rule dropped

    ws = _ws(tmp_path)
    ingest_mapping(ws, mapping, policy="quarantine")
    items = ws.store.table("order_items")
    assert int(items.quantity.sum().execute()) == per_line_units
    assert ws.store.row_count("orders") == per_line_orders
    ws.close()

    old = Workspace.create(tmp_path / "old", timezone="Europe/London", currency="EUR")
    ingest_mapping(old, mapping, policy="quarantine_orders")
    assert int(old.store.table("order_items").quantity.sum().execute()) == whole_units
    old.close()


def test_zero_quantity_lines_load_when_the_mapping_allows_them(tmp_path):
    (tmp_path / "z.csv").write_text(
        RETAIL_HEADER
        + "1,A,x,2,2024-01-05 10:00:00,3.0,7,DE\n"
        + "1,B,sample,0,2024-01-05 10:00:00,0.0,7,DE\n")
    ws = _ws(tmp_path)
    with pytest.raises(ValidationFailed) as info:
        ingest_mapping(ws, _retail_mapping(tmp_path, "z.csv"))
    assert [(p.row, p.column, p.reason) for p in info.value.report.problems] == [
        (2, "Quantity", "must be > 0")]
    ingest_mapping(ws, _retail_mapping(tmp_path, "z.csv", "allow_zero_quantity = true"))
    assert sorted(ws.store.table("order_items").quantity.execute()) == [0, 2]
    assert ws.store.table("orders").gross_amount.execute().tolist() == [6.0]  # 2 x 3 + 0


# -- empty rows ---------------------------------------------------------------------------


def test_excel_empty_rows_are_skipped_and_counted_once(tmp_path):
    (tmp_path / "orders.csv").write_text(
        "Order,Day,Total\nA1,2024-05-01,10\n,,\nA2,2024-05-02,12\n,,\n,,\n")
    (tmp_path / "o.toml").write_text('''
[[source]]
file = "orders.csv"
table = "orders"
constants = { channel = "web", status = "completed" }
[source.columns]
order_id = "Order"
ordered_at = "Day"
gross_amount = "Total"
''')
    ws = _ws(tmp_path)
    (result,) = ingest_mapping(ws, tmp_path / "o.toml")  # reject policy: no problem at all
    assert result.report.n_problems == 0
    assert "3 empty row(s) skipped (every cell empty)" in result.report.notes
    assert ws.store.row_count("orders") == 2


# -- day / month order --------------------------------------------------------------------


def _dmy_file(path: Path, days: list[tuple[int, int]]) -> list[datetime]:
    lines, dates = [], []
    for i, (day, month) in enumerate(days):
        lines.append(f"{500 + i},A,x,1,{day:02d}/{month:02d}/2011 09:30,1.0,1{i},UK\n")
        dates.append(datetime(2011, month, day, 9, 30))
    path.write_text(RETAIL_HEADER + "".join(lines))
    return dates


def test_ambiguous_day_month_is_refused_with_the_count_then_read_as_chosen(tmp_path):
    days = [(3, 4), (11, 2), (5, 5), (1, 12), (7, 8)]
    path = tmp_path / "dmy.csv"
    dates = _dmy_file(path, days)
    differ = sum(1 for d, m in days if d != m)  # 5 May reads the same either way
    ws = _ws(tmp_path)
    with pytest.raises(InputError, match=f"{differ} of {len(days)} value") as info:
        ingest_file(ws, path, preset="online_retail")
    assert "dmy.csv" in info.value.message and "--date-order" in info.value.hint
    ingest_file(ws, path, preset="online_retail", read_options=ReadOptions(date_order="dmy"))
    got = ws.store.table("orders").order_by("order_id").ordered_at.execute().tolist()
    assert got == dates


def test_a_day_above_12_decides_the_order_for_the_whole_column(tmp_path):
    # Before: 03/04 read as 4 March (month first) next to 25/04 read as 25 April.
    days = [(3, 4), (25, 4), (11, 2), (13, 1)]
    path = tmp_path / "dmy.csv"
    dates = _dmy_file(path, days)
    ws = _ws(tmp_path)
    result = ingest_file(ws, path, preset="online_retail")
    got = ws.store.table("orders").order_by("order_id").ordered_at.execute().tolist()
    assert got == dates
    assert any("day/month" in n for n in result.report.notes)


# -- plausibility on every batch ----------------------------------------------------------


def test_absurd_values_and_conflicting_invoices_are_rejects_not_crashes(tmp_path):
    rows = [
        "1,A,x,2,2010-12-01 08:26:00,2.5,17850.0,UK",       # 1 good
        "2,A,x,Infinity,2010-12-01 08:26:00,2.5,17850.0,UK",  # 2 crashed (exit 70) before
        "3,A,x,1e20,2010-12-01 08:26:00,1e308,17850.0,UK",   # 3 both absurd
        "4,A,x,1,0001-12-01 08:26:00,NaN,17850.0,UK",        # 4 year 1, NaN price
        "5,A,x,9.2e18,2010-12-01 08:26:00,1,17850.0,UK",     # 5
        "6,A,x,1,2010-12-01 08:26:00,Infinity,17850.0,UK",   # 6
        "7,A,x,1,2010-12-01 08:26:00,1,17850.0,UK",          # 7
        "7,B,y,1,2011-03-01 08:26:00,1,17851.0,FR",          # 8 other customer/country/date
        "8,A,bad\x01text,1,2010-12-01 08:26:00,1,17850.0,UK",  # 9 control character
    ]
    path = tmp_path / "odd.csv"
    path.write_text(RETAIL_HEADER + "\n".join(rows) + "\n")
    ws = _ws(tmp_path)
    with pytest.raises(ValidationFailed) as info:
        ingest_file(ws, path, preset="online_retail")
    found = {(p.row, p.column, p.reason) for p in info.value.report.problems}
    assert found == {
        (2, "Quantity", "not a finite number"),
        (3, "Quantity", "larger than 1e+07"),
        (3, "UnitPrice", "larger than 1e+12"),
        (4, "InvoiceDate", "date out of range (1970-01-01 .. "
         + info.value.report.problems[3].reason.split(".. ")[1]),
        (4, "UnitPrice", "not a finite number"),
        (5, "Quantity", "larger than 1e+07"),
        (6, "UnitPrice", "not a finite number"),
        # invoice 7: two customers, two countries, three months apart: which is right
        # cannot be told, so neither line is merged into an order
        *((row, column, "the order's lines disagree on this value")
          for row in (7, 8) for column in ("CustomerID", "Country", "InvoiceDate")),
        (9, "Description", "contains control characters"),
    }
    ingest_file(ws, path, preset="online_retail", policy="quarantine")
    assert sorted(ws.store.table("orders").order_id.execute()) == ["1"]
    assert ws.store.table("customers").customer_id.execute().tolist() == ["17850"]


def test_derived_batches_are_checked_too(tmp_path):
    ws = _ws(tmp_path)
    orders = ibis.memtable({
        "order_id": ["a", "b"], "customer_id": [None, None],
        "ordered_at": [datetime(2024, 1, 1), datetime(9999, 1, 1)],
        "channel": ["web", "web"], "status": ["completed", "completed"],
        "gross_amount": [1.0, 2.0], "discount_amount": [0.0, 0.0],
        "shipping_amount": [0.0, 0.0], "net_amount": [1.0, 2.0], "currency": ["EUR", "EUR"],
    })
    ws.store.ensure_tables()
    with pytest.raises(ValidationFailed) as info:
        load_batches(ws.store, [Batch("orders", orders, derived=True)], source="derived",
                     fingerprint="x", preset="test")
    assert [(p.column, p.value) for p in info.value.report.problems] == [
        ("ordered_at", "9999-01-01 00:00:00")]


def test_the_date_window_is_set_in_the_mapping(tmp_path):
    (tmp_path / "orders.csv").write_text("Order,Day,Total\nA1,1995-06-01,10\nA2,2024-05-02,12\n")
    body = '''
[[source]]
file = "orders.csv"
table = "orders"
constants = { channel = "web", status = "completed" }
[source.columns]
order_id = "Order"
ordered_at = "Day"
gross_amount = "Total"
'''
    (tmp_path / "narrow.toml").write_text("date_window = [2000-01-01, 2030-12-31]\n" + body)
    (tmp_path / "default.toml").write_text(body)
    ws = _ws(tmp_path)
    with pytest.raises(ValidationFailed) as info:
        ingest_mapping(ws, tmp_path / "narrow.toml")
    assert [(p.row, p.reason) for p in info.value.report.problems] == [
        (1, "date out of range (2000-01-01 .. 2030-12-31)")]
    ingest_mapping(ws, tmp_path / "default.toml")  # 1995 is within 1970 .. a year ahead
    assert ws.store.row_count("orders") == 2
