"""Overlapping and re-cut exports load each fact once, and an order's total agrees with
its items however its lines are split across files (issue 15, point 6).

Slices of the real Online Retail file: rows 1 to about 20,000 (cut inside an invoice) then
15,001-30,000 (overlapping), or then the rest to 30,000 (the invoice split at the cut).
Expected values come from pandas on the raw rows 1-30,000, following the preset's
documented rules (merchandise lines only; credits are C invoices and negative quantities).
"""

from __future__ import annotations

import gzip
import re
import shutil

import pandas as pd
import pytest

from shopscope.ingest import ingest_file
from shopscope.ingest.presets.online_retail import (
    DISCOUNT_CODES,
    FEE_CODES,
    NON_MERCH_PATTERN,
    SHIPPING_CODES,
)
from shopscope.store import Workspace
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def rows():
    with gzip.open(shared_file("online_retail", "online_retail.csv.gz"), "rt",
                   encoding="utf-8") as fh:
        header = fh.readline()
        lines = [fh.readline() for _ in range(30_000)]
    return header, lines


def _cut(lines: list[str]) -> int:
    """The first row from 20,000 on that splits an invoice in two."""
    return next(i for i in range(20_000, 30_000)
                if lines[i - 1].split(",")[0] == lines[i].split(",")[0])


@pytest.fixture(scope="module")
def expected(rows):
    header, lines = rows
    import io

    df = pd.read_csv(io.StringIO(header + "".join(lines)), dtype={"InvoiceNo": str,
                                                                    "StockCode": str})
    code = df.StockCode.str.strip().str.upper()
    non_merch = (code.isin([*SHIPPING_CODES, *DISCOUNT_CODES, *FEE_CODES])
                 | df.StockCode.str.strip().str.match(re.compile(NON_MERCH_PATTERN[4:-2],
                                                                  re.I)))
    merch = df[~non_merch & (df.Quantity != 0)]
    cancel = merch.InvoiceNo.str.startswith("C")
    credits = merch[cancel | (merch.Quantity < 0)]
    sales = merch[~cancel & (merch.Quantity > 0)]
    gross = (sales.Quantity * sales.UnitPrice).groupby(sales.InvoiceNo).sum()
    return {"returns": len(credits), "returned": (credits.Quantity * credits.UnitPrice).abs().sum(),
            "items": len(sales), "gross": gross}


def _write(path, header, lines):
    path.write_text(header + "".join(lines), encoding="utf-8")
    return path


def _state(ws: Workspace) -> dict:
    store = ws.store
    orders = store.table("orders").execute().set_index("order_id").gross_amount
    items = store.table("order_items").execute()
    sums = (items.quantity * items.unit_price).groupby(items.order_id).sum()
    returns = store.table("returns").execute()
    return {"returns": len(returns), "returned": returns.amount.sum(), "items": len(items),
            "gross": orders, "item_sums": sums}


@pytest.fixture(scope="module")
def first_load(rows, tmp_path_factory):
    header, lines = rows
    folder = tmp_path_factory.mktemp("natural")
    with Workspace.create(folder / "ws") as ws:
        ingest_file(ws, _write(folder / "a.csv", header, lines[:_cut(lines)]),
                    preset="online_retail")
    return folder


@pytest.mark.realdata
@pytest.mark.parametrize("second", ["overlapping", "split"])
def test_recut_exports_load_each_fact_once(first_load, rows, expected, tmp_path, second):
    header, lines = rows
    shutil.copytree(first_load / "ws", tmp_path / "ws")
    cut = _cut(lines)
    start = 15_000 if second == "overlapping" else cut
    part = _write(tmp_path / "b.csv", header, lines[start:30_000])
    with Workspace.open(tmp_path / "ws") as ws:
        ingest_file(ws, part, preset="online_retail")
        got = _state(ws)
    # before: 621 returns on the overlapping files (return_id was invoice + file row)
    assert got["returns"] == expected["returns"] == 540
    assert got["returned"] == pytest.approx(expected["returned"], abs=0.005)
    assert got["items"] == expected["items"]
    # every order's total is its lines' (before: the first file's part stayed)
    gross = expected["gross"].sort_index()
    assert list(got["gross"].sort_index().index) == list(gross.index)
    assert got["gross"].sort_index().to_numpy() == pytest.approx(gross.to_numpy(), abs=1e-6)
    assert got["item_sums"].sort_index().to_numpy() == pytest.approx(gross.to_numpy(),
                                                                     abs=1e-6)
    # the invoice cut in two has both parts in its total
    invoice = lines[cut].split(",")[0]
    assert got["gross"][invoice] == pytest.approx(gross[invoice], abs=1e-6)
