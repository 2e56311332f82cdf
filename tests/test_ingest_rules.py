"""Validation, policies, atomicity, idempotency and readers, on small files made here."""

from __future__ import annotations

import gzip

import pytest

from shopscope.errors import InputError, ValidationFailed
from shopscope.ingest import ingest_file
from shopscope.ingest.readers import ReadOptions, detect_encoding, read_text

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
GOOD = (
    "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
    "536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
    "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
)
BAD = (
    "536367,84879,BIRD,abc,2010-12-01 08:34:00,1.69,13047.0,United Kingdom\n"  # row 4
    "536368,22960,JAM,6,2010-13-45 09:00:00,4.25,13047.0,United Kingdom\n"  # row 5
    "536369,21756,HOME,3,2010-12-01 08:35:00,-5.95,13047.0,United Kingdom\n"  # row 6
)


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_reject_policy_names_file_row_column_value_reason_and_loads_nothing(workspace, tmp_path):
    path = _write(tmp_path / "bad.csv", HEADER + GOOD + BAD)
    with pytest.raises(ValidationFailed) as info:
        ingest_file(workspace, path, preset="online_retail")
    found = {(p.source, p.row, p.column, p.value) for p in info.value.report.problems}
    assert ("bad.csv", 4, "Quantity", "abc") in found
    assert ("bad.csv", 5, "InvoiceDate", "2010-13-45 09:00:00") in found
    assert ("bad.csv", 6, "UnitPrice", "-5.95") in found
    reasons = {p.row: p.reason for p in info.value.report.problems}
    assert "whole number" in reasons[4] and "date" in reasons[5] and "negative" in reasons[6]
    assert "bad.csv, row 4, column Quantity: 'abc'" in str(info.value.report.problems[0])
    for table in ("orders", "order_items", "customers", "products", "_rejects"):
        assert workspace.store.row_count(table) == 0, table


def test_quarantine_policy_loads_good_rows_and_keeps_bad_ones_with_reasons(workspace, tmp_path):
    path = _write(tmp_path / "bad.csv", HEADER + GOOD + BAD)
    result = ingest_file(workspace, path, preset="online_retail", policy="quarantine")
    assert workspace.store.row_count("order_items") == 3
    assert workspace.store.row_count("orders") == 2
    rejects = workspace.store.table("_rejects").order_by("row").execute()
    assert list(rejects.row) == [4, 5, 6]
    assert list(rejects.column) == ["Quantity", "InvoiceDate", "UnitPrice"]
    assert rejects.reason.str.len().min() > 5
    assert result.rows_rejected["order_items"] == 3


def test_same_file_twice_adds_nothing_and_new_dates_append(workspace, tmp_path):
    first = _write(tmp_path / "day1.csv", HEADER + GOOD)
    ingest_file(workspace, first, preset="online_retail")
    again = ingest_file(workspace, first, preset="online_retail")
    assert again.skipped
    forced = ingest_file(workspace, first, preset="online_retail", force=True)
    assert sum(forced.rows_added.values()) == 0
    assert workspace.store.row_count("order_items") == 3
    later = GOOD.splitlines(keepends=True)[2] + (
        "536400,22633,HAND WARMER,2,2010-12-02 10:00:00,1.85,17850.0,United Kingdom\n"
    )
    second = _write(tmp_path / "day2.csv", HEADER + later)  # overlaps 536366, adds 536400
    result = ingest_file(workspace, second, preset="online_retail")
    assert result.rows_added["orders"] == 1
    assert workspace.store.row_count("orders") == 3
    assert workspace.store.row_count("order_items") == 4
    assert workspace.store.row_count("customers") == 1


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_midway_leaves_store_as_it_was(workspace, tmp_path, monkeypatch, exc):
    ingest_file(workspace, _write(tmp_path / "a.csv", HEADER + GOOD), preset="online_retail")
    before = {t: workspace.store.row_count(t) for t in ("orders", "order_items", "customers")}
    store = workspace.store
    real_insert = store.insert
    calls = []

    def failing_insert(name, expr):
        calls.append(name)
        if name == "orders":  # after customers and products were written
            raise exc
        real_insert(name, expr)

    monkeypatch.setattr(store, "insert", failing_insert)
    extra = "536500,22633,HAND WARMER,2,2010-12-05 10:00:00,1.85,12345.0,France\n"
    with pytest.raises(type(exc)):
        ingest_file(workspace, _write(tmp_path / "b.csv", HEADER + extra), preset="online_retail")
    monkeypatch.setattr(store, "insert", real_insert)
    assert "customers" in calls  # the failure really happened mid-load
    after = {t: workspace.store.row_count(t) for t in before}
    assert after == before
    assert workspace.store.row_count("_ingest_log") == 5  # only the first load's entries


def test_encodings_and_delimiters_are_detected(tmp_path):
    text = "订单号;金额;城市\nA1;12,5;上海\nA2;3;北京\n"
    gbk = _write(tmp_path / "gbk.csv", text, "gbk")
    assert detect_encoding(gbk) == "gb18030"
    t = read_text(gbk)
    assert t.columns == ["订单号", "金额", "城市"] and t.delimiter == ";"
    assert t.data.column("城市").to_pylist() == ["上海", "北京"]
    bom = _write(tmp_path / "bom.csv", "\ufeffa,b\n1,é\n")
    t = read_text(bom)
    assert t.encoding == "utf-8-sig" and t.columns == ["a", "b"]
    latin = _write(tmp_path / "latin.csv", "a\tb\n1\t£5\n", "latin-1")
    t = read_text(latin)
    assert t.encoding == "latin-1" and t.delimiter == "\t"
    assert t.data.column("b").to_pylist() == ["£5"]
    gz = tmp_path / "x.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("a|b\n1|2\n3|4\n")
    t = read_text(gz)
    assert t.delimiter == "|" and t.data.column("_row").to_pylist() == [1, 2]
    forced = read_text(gbk, ReadOptions(encoding="gbk", delimiter=";"))
    assert forced.data.num_rows == 2


def test_reader_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_text(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_text(_write(tmp_path / "a.csv", "a\n1\n"), ReadOptions(encoding="klingon"))
    # A ragged row is no longer a refused file: it is a row with its reason (see
    # tests/test_ingest_files.py), so only an unreadable file raises here.
    ragged = read_text(_write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5\n"))
    assert ragged.data.column("_malformed").to_pylist() == [None, "row has 3 field(s), expected 2"]
