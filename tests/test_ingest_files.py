"""File-level ingest problems (issue 15, point 6): rows the parser cannot split are rejects
with their row number; unreadable files name the file with a real hint; exit 70 is only
for bugs. Every fixture is built here."""

from __future__ import annotations

import codecs
import gzip
import sys
from pathlib import Path

import duckdb
import pytest

from shopscope.errors import InputError, ValidationFailed
from shopscope.ingest import ingest_file
from shopscope.ingest.readers import read_text
from shopscope.store import Workspace

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
LINES = [
    "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n",
    "536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n",
    "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n",
]


def _ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws", timezone="Europe/London", currency="GBP")


# -- rows the parser cannot split ---------------------------------------------------------


def test_cut_short_last_line_is_a_reject_with_its_row_not_a_refused_file(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text(HEADER + "".join(LINES) + "536367,84879,BIRD,3,2010-12-0")
    ws = _ws(tmp_path)
    with pytest.raises(ValidationFailed) as info:  # reject: named with its row
        ingest_file(ws, path, preset="online_retail")
    (problem,) = info.value.report.problems
    assert (problem.row, problem.value, problem.reason) == (
        4, "536367,84879,BIRD,3,2010-12-0", "row has 5 field(s), expected 8")
    result = ingest_file(ws, path, preset="online_retail", policy="quarantine")
    assert result.rows_added["order_items"] == 3
    assert ws.store.table("_rejects").row.execute().tolist() == [4]


def test_ragged_and_broken_quote_rows_keep_their_numbers(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(
        HEADER + LINES[0]
        + "536370,22,X,1,2010-12-01 09:00:00,1.0,17850.0,United Kingdom,extra\n"  # row 2
        + LINES[1]                                                                # row 3
        + '536371,"BROKEN,1,2010-12-01 09:00:00,1.0,17850.0,United Kingdom\n'      # row 4
        + LINES[2])
    table = read_text(path)
    rows = table.data.column("_row").to_pylist()
    why = dict(zip(rows, table.data.column("_malformed").to_pylist(), strict=True))
    assert why[2] == "row has 9 field(s), expected 8"
    # An unclosed quote runs to the end of the file: the row says how far.
    assert why[4] == "unclosed quote: the row runs on over 1 more line(s)"
    assert why[1] is None and why[3] is None
    assert table.data.filter(table.data.column("_row").to_numpy() == 3).column(
        "StockCode").to_pylist() == ["71053"]
    last = tmp_path / "last.csv"
    last.write_text("a,b,c\n1,2,3\n4,\"5,6\n")  # the quote opened on the last line
    assert read_text(last).data.column("_malformed").to_pylist() == [
        None, "unclosed quote: the row runs on over 0 more line(s)"]


# -- encodings, compression, line endings -------------------------------------------------


def test_gzip_named_csv_is_read_by_its_magic_bytes(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(gzip.compress((HEADER + "".join(LINES)).encode()))
    assert read_text(path).data.column("StockCode").to_pylist() == ["85123A", "71053", "22633"]


def test_corrupt_gzip_names_the_file_with_a_hint(tmp_path):
    whole = gzip.compress((HEADER + "".join(LINES) * 2000).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError) as info:
        read_text(path)
    assert "cut.csv.gz" in info.value.message and "gzip" in info.value.message
    assert "gzip -t" in info.value.hint


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_decoded_not_read_as_latin1(tmp_path, codec):
    path = tmp_path / "u16.csv"
    text = "Name,City\nZoë,Zürich\n王,上海\n"
    data = text.encode(codec)
    assert codec != "utf-16" or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    path.write_bytes(data)
    table = read_text(path)
    assert table.columns == ["Name", "City"]
    assert table.data.column("City").to_pylist() == ["Zürich", "上海"]


def test_cr_only_line_endings_load(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes((HEADER + "".join(LINES)).replace("\n", "\r").encode())
    ws = _ws(tmp_path)
    result = ingest_file(ws, path, preset="online_retail")
    assert result.rows_added["order_items"] == 3


# -- header and workbook ------------------------------------------------------------------


def test_a_duplicated_column_is_named(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text(HEADER.replace("\n", ",Quantity\n")
                    + "".join(ln.replace("\n", ",9\n") for ln in LINES))
    table = read_text(path)
    assert table.duplicates == {"Quantity": [4, 9]}
    assert any("'Quantity' appears 2 times" in n for n in table.notes)
    with pytest.raises(InputError) as info:
        ingest_file(_ws(tmp_path), path, preset="online_retail")
    assert "column 'Quantity' appears 2 times" in info.value.message
    assert "columns 4, 9" in info.value.message


def test_a_second_data_sheet_is_named_not_dropped_silently(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders"
    for row in [HEADER.strip().split(","), *[ln.strip().split(",") for ln in LINES]]:
        sheet.append(row)
    other = book.create_sheet("Returns")
    other.append(["InvoiceNo", "Quantity"])
    other.append(["C536379", "-1"])
    book.create_sheet("Empty")
    book.save(tmp_path / "book.xlsx")
    table = read_text(tmp_path / "book.xlsx")
    assert table.data.num_rows == 3
    notes = [n for n in table.notes if "sheet" in n]
    assert len(notes) == 1 and "'Returns'" in notes[0] and "not read" in notes[0]


# -- the disk fills up while loading ------------------------------------------------------


def test_full_disk_names_the_file_and_is_not_an_internal_error(tmp_path, monkeypatch, capsys):
    from shopscope import cli
    from shopscope.store import Store

    path = tmp_path / "day.csv"
    path.write_text(HEADER + "".join(LINES))
    _ws(tmp_path).close()

    def full(self, name, expr):  # the engine's error on a full disk
        raise duckdb.IOException('IO Error: Could not write file "shop.duckdb": '
                                 "No space left on device")

    monkeypatch.setattr(Store, "insert", full)
    monkeypatch.setattr(sys, "argv", ["shopscope", "ingest", "online_retail", str(path),
                                      "-w", str(tmp_path / "ws")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "day.csv" in err and "no space left" in err and "internal error" not in err


def test_a_ragged_whitespace_row_is_a_reject_and_does_not_reshape_the_file(tmp_path):
    path = tmp_path / "cdnow.txt"
    path.write_text("00001 19970101 1 11.77\n"
                    "00002 19970112 1 12.00\n"
                    "00002 19970112 5 77.00 oops\n"   # row 3: one field too many
                    "00003 19970102 2 20.76\n")
    ws = _ws(tmp_path)
    result = ingest_file(ws, path, preset="cdnow", policy="quarantine")
    assert result.rows_added["orders"] == 3
    rejects = ws.store.table("_rejects").execute()
    assert rejects[["row", "reason"]].values.tolist() == [[3, "row has 5 field(s), expected 4"]]
