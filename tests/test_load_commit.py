"""One load is all or nothing across its files and tables, says what it loaded, and
recognises a file by its whole content (issue 15, point 6).

Expected values are counted by hand from the rows each test writes.
"""

from __future__ import annotations

import pytest

from shopscope.errors import ValidationFailed
from shopscope.ingest import ingest_file, ingest_files
from shopscope.ingest.load import content_fingerprint, total_added
from shopscope.ingest.mapping import ingest_mapping
from shopscope.store import Workspace
from shopscope.store.engine import INGEST_LOG, LOAD_COLUMN, LOADS

LINE = "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

MAPPING = """
[[source]]
file = "customers.csv"
table = "customers"
[source.columns]
customer_id = "Id"
first_seen_at = "Since"

[[source]]
file = "lines.csv"
table = "order_lines"
constants = { channel = "web", status = "completed" }
[source.columns]
order_id = "Order"
customer_id = "Customer"
ordered_at = "Day"
product_id = "Item"
quantity = "Qty"
unit_price = "Price"
"""


@pytest.fixture
def ws(tmp_path):
    with Workspace.create(tmp_path / "ws") as w:
        yield w


def _write(folder, lines: str) -> None:
    (folder / "customers.csv").write_text("Id,Since\nA,2024-05-01\nB,2024-05-02\n")
    (folder / "lines.csv").write_text("Order,Customer,Day,Item,Qty,Price\n" + lines)
    (folder / "shop.toml").write_text(MAPPING)


def test_a_refused_source_leaves_none_of_the_mapping(ws, tmp_path):
    # the customers file is fine; the second line of the lines file has no date
    _write(tmp_path, "O1,A,2024-05-03,TEA,2,3.5\nO2,B,,CUP,1,8\n")
    with pytest.raises(ValidationFailed) as err:
        ingest_mapping(ws, tmp_path / "shop.toml")
    assert "nor anything of the other 1 file(s) of this load" in err.value.message
    # before: the customers file was committed although the message said nothing was
    assert ws.store.row_count("customers") == 0
    assert ws.store.row_count(INGEST_LOG) == 0
    # the load's id was forgotten with it: nothing for recovery to do
    assert ws.store.backend.raw_sql(f"SELECT count(*) FROM {LOADS}").fetchone()[0] == 0


def test_a_mapping_commits_as_one_load_and_says_what_it_added(ws, tmp_path):
    _write(tmp_path, "O1,A,2024-05-03,TEA,2,3.5\nO1,A,2024-05-03,CUP,1,8\n"
                     "O2,B,2024-05-04,TEA,1,3.5\n")
    results = ingest_mapping(ws, tmp_path / "shop.toml")
    # 2 customers; 2 orders (O1, O2) with 3 lines; 2 products (TEA, CUP)
    assert total_added(results) == {"customers": 2, "products": 2, "orders": 2,
                                    "order_items": 3}
    log = ws.store.backend.raw_sql(
        f'SELECT DISTINCT "{LOAD_COLUMN}" FROM {INGEST_LOG}').fetchall()
    assert len(log) == 1  # one commit record for both files
    # the bookkeeping column never shows in the tables analyses read
    assert LOAD_COLUMN not in ws.store.table("orders").columns
    assert LOAD_COLUMN not in ws.store.table(INGEST_LOG).columns


def test_ingest_files_is_one_load(ws, tmp_path):
    good = tmp_path / "a.csv"
    good.write_text(HEADER + LINE)
    bad = tmp_path / "b.csv"
    bad.write_text(HEADER + "536366,22633,HAND WARMER,six,2010-12-01 08:28:00,1.85,17850,"
                   "United Kingdom\n")
    with pytest.raises(ValidationFailed):
        ingest_files(ws, [good, bad], preset="online_retail")
    assert ws.store.row_count("orders") == 0  # before: a.csv's order was committed
    results = ingest_files(ws, [good], preset="online_retail")
    assert results[0].rows_added["orders"] == 1


def test_header_only_file_logs_nothing(ws, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    result = ingest_file(ws, empty, preset="online_retail")
    assert result.empty
    assert "nothing to load: the file has no data rows" in result.report.notes
    assert ws.store.row_count(INGEST_LOG) == 0  # before: five "loaded +0" rows


def test_same_size_file_changed_in_the_middle_is_read_again(ws, tmp_path):
    # 12,000 customers of ~190 bytes: 2.3 MB, more than the first and last MiB
    pad = "x" * 170
    rows = [f"C{i:05d},2024-05-01,{pad}" for i in range(12_000)]
    (tmp_path / "customers.csv").write_text("Id,Since,Note\n" + "\n".join(rows) + "\n")
    (tmp_path / "shop.toml").write_text(
        '[[source]]\nfile = "customers.csv"\ntable = "customers"\n'
        '[source.columns]\ncustomer_id = "Id"\nfirst_seen_at = "Since"\n')
    assert ingest_mapping(ws, tmp_path / "shop.toml")[0].rows_added == {"customers": 12_000}
    assert ingest_mapping(ws, tmp_path / "shop.toml")[0].skipped  # same content
    text = (tmp_path / "customers.csv").read_text()
    middle = text.index("C06000,")
    changed = text[:middle] + "X" + text[middle + 1:]  # C06000 -> X06000, same size
    (tmp_path / "customers.csv").write_text(changed)
    again = ingest_mapping(ws, tmp_path / "shop.toml")[0]
    assert not again.skipped and again.rows_added == {"customers": 1}


def test_content_fingerprint_is_every_byte(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    data = bytearray(b"0123456789" * 500_000)
    a.write_bytes(data)
    data[2_500_000] = ord("x")
    b.write_bytes(data)
    assert content_fingerprint(a) != content_fingerprint(b)
    b.write_bytes(a.read_bytes())
    assert content_fingerprint(a) == content_fingerprint(b)


def test_recovery_on_open_removes_a_load_without_its_commit_record(tmp_path):
    # What DuckDB may bring back after kill -9 in a commit: a load's order lines, without
    # its orders and without its _ingest_log rows.
    good = tmp_path / "a.csv"
    good.write_text(HEADER + LINE)
    with Workspace.create(tmp_path / "ws") as ws:
        ingest_file(ws, good, preset="online_retail")
        store = ws.store
        torn = store._begin_load()
        store.backend.raw_sql(
            f"INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, "
            f"discount_amount, {LOAD_COLUMN}) VALUES ('X1', 1, 'P', 1, 2.0, 0, {torn}), "
            f"('X1', 2, 'P', 1, 2.0, 0, {torn})").fetchall()
        assert store.row_count("order_items") == 3
    with Workspace.open(tmp_path / "ws") as ws:
        # the committed load stays whole; the torn one is gone, and so is its id
        assert ws.store.row_count("order_items") == 1
        assert ws.store.row_count("orders") == 1
        assert ws.store.recover() == []
        # a load that writes nothing (the file is already loaded) leaves no id behind
        assert ingest_files(ws, [good], preset="online_retail")[0].skipped
        assert ws.store.backend.raw_sql(f"SELECT count(*) FROM {LOADS}").fetchone()[0] == 1
