"""Every KPI breakdown adds up to the whole shop, on real and synthetic shops.

Online Retail's cancellation notes carry their own ``C…`` invoice numbers, which match no
order: a breakdown that looked credits up only "through the order" put them all in
``(unknown)`` (United Kingdom's net sales came out above the whole shop's). The reference
for the credits is computed here from the raw file with pandas, independently of the preset.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.kpis import METRICS, kpis
from shopscope.kpis.queries import BREAKDOWNS, UNKNOWN
from shopscope.store import Workspace
from tests.conftest import shared_file

# How each metric of a breakdown relates to the whole shop's (per period).
ADDITIVE = {"gmv", "discounts", "cancelled_amount", "returned_amount", "net_sales", "units",
            "orders", "pv"}
#: Distinct people (a customer buying in two countries is a buyer in each): the whole is at
#: least the largest part and at most the sum of the parts.
DISTINCT = {"buyers", "new_buyers", "returning_buyers", "uv", "event_buyers"}
#: Ratios of additive parts: the whole's ratio is the ratio of the summed parts.
RATIOS = {"cancellation_rate": ("cancelled_amount", "gmv"),
          "return_rate": ("returned_amount", "gmv"), "aov": ("gmv", "orders")}
#: Units per order with lines: the whole lies between the parts (a mediant: its numerator
#: and denominator add up). Ratios over distinct people do not decompose at all (a visitor
#: seen on two channels is one visitor of the shop).
BETWEEN = {"units_per_order"}
PER_PERSON = {"repurchase_rate", "arpu", "conversion_rate"}
#: An order with lines in two categories counts once in each.
NOT_ADDITIVE_BY = {"category": {"orders", "aov", "units_per_order"}}


def test_every_metric_has_a_breakdown_rule():
    rules = ADDITIVE | DISTINCT | set(RATIOS) | BETWEEN | PER_PERSON
    assert rules == set(METRICS)


def _online_retail(path, root) -> Workspace:
    ws = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(ws, path, preset="online_retail")
    return ws


@pytest.fixture(scope="module")
def retail_slice(tmp_path_factory):
    ws = _online_retail(demo_data_path(), tmp_path_factory.mktemp("slice"))
    yield ws.store
    ws.close()


@pytest.fixture(scope="module")
def retail_full(tmp_path_factory):
    ws = _online_retail(shared_file("online_retail", "online_retail.csv.gz"),
                        tmp_path_factory.mktemp("full"))
    yield ws.store
    ws.close()


@pytest.fixture(scope="module")
def synth_shop(tmp_path_factory):
    from shopscope.synth import generate

    root = tmp_path_factory.mktemp("synth")
    generate(root / "synth", customers=1500, seed=5, start="2023-01-01", days=400,
             products=80, events=True)
    ws = Workspace.create(root / "ws", currency="CNY", timezone="Asia/Shanghai")
    ingest_file(ws, root / "synth", preset="canonical")
    yield ws.store
    ws.close()


def _assert_adds_up(store, by: str) -> None:
    whole = kpis(store, grain="month").wide().set_index("period")
    parts = kpis(store, grain="month", by=by).wide()
    assert not parts.empty
    assert set(parts["period"]) == set(whole.index)
    sums = parts.groupby("period").sum(numeric_only=True)
    skip = NOT_ADDITIVE_BY.get(by, set())

    def absent(metric: str) -> bool:  # event metrics: no events, or not by country/region
        return bool(whole[metric].isna().all() or parts[metric].isna().all())

    for metric in sorted(ADDITIVE - skip):
        if absent(metric):
            continue
        np.testing.assert_allclose(sums[metric], whole[metric], rtol=1e-9, atol=1e-6,
                                   err_msg=f"{metric} by {by}")
    if "orders" in skip:  # each order in at least one category
        assert (sums["orders"] >= whole["orders"]).all()
    for metric in sorted(DISTINCT):
        if absent(metric):
            continue
        largest = parts.groupby("period")[metric].max()
        assert (whole[metric] <= sums[metric]).all(), f"{metric} by {by}"
        assert (whole[metric] >= largest).all(), f"{metric} by {by}"
    for metric, (num, den) in RATIOS.items():
        if metric in skip:
            continue
        expected = sums[num] / sums[den].replace(0, np.nan)
        np.testing.assert_allclose(whole[metric].astype(float), expected, rtol=1e-9,
                                   err_msg=f"{metric} by {by}")
    for metric in sorted(BETWEEN - skip):
        if absent(metric):
            continue
        lo = parts.groupby("period")[metric].min()
        hi = parts.groupby("period")[metric].max()
        ok = whole[metric].isna() | ((whole[metric] >= lo - 1e-12) & (whole[metric] <= hi + 1e-12))
        assert ok.all(), f"{metric} by {by}"


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_breakdowns_add_up_on_the_online_retail_slice(retail_slice, by):
    _assert_adds_up(retail_slice, by)


@pytest.mark.realdata
@pytest.mark.parametrize("by", BREAKDOWNS)
def test_breakdowns_add_up_on_online_retail(retail_full, by):
    _assert_adds_up(retail_full, by)


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_breakdowns_add_up_on_the_synthetic_shop(synth_shop, by):
    _assert_adds_up(synth_shop, by)


def test_no_credit_is_left_without_a_country_or_channel(retail_slice):
    for by in ("country", "channel"):
        keys = set(kpis(retail_slice, grain="year", by=by).wide()[by])
        assert UNKNOWN not in keys, by
    whole = kpis(retail_slice, grain="year").wide().set_index("period")
    uk = kpis(retail_slice, grain="year", by="country").wide()
    uk = uk[uk["country"] == "United Kingdom"].set_index("period")
    assert (uk["net_sales"] < whole.loc[uk.index, "net_sales"]).all()
    assert (uk["cancellation_rate"] > 0).all()


def _raw_credits_by_country(path) -> pd.DataFrame:
    """Net sales and cancelled value per country and year, straight from the raw lines."""
    con = duckdb.connect()
    raw = con.execute(
        "SELECT * FROM read_csv(?, all_varchar=true, header=true)", [str(path)]
    ).df()
    raw.columns = [c.replace(" ", "") for c in raw.columns]
    qty = pd.to_numeric(raw["Quantity"])
    price = pd.to_numeric(raw["UnitPrice"])
    when = pd.to_datetime(raw["InvoiceDate"], format="mixed")
    code = raw["StockCode"].str.strip().str.upper()
    cancel = raw["InvoiceNo"].str.strip().str.upper().str.startswith("C")
    fee = code.isin(["M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "ADJUST", "ADJUST2",
                     "TEST001", "TEST002", "POST", "DOT", "C2"])
    fee |= code.str.match(r"(?i)^gift_\d+_\d+$")
    merch = ~fee & ~code.eq("D") & (qty != 0) & (price >= 0)
    value = qty * price
    frame = pd.DataFrame({"country": raw["Country"].str.strip(), "year": when.dt.year})
    sales = np.where(merch & ~cancel & (qty > 0), value, 0.0)
    discount = np.where(code.eq("D") & ~cancel, value.abs(), 0.0)
    cancelled = np.where(merch & cancel, value.abs(), 0.0)
    returned = np.where(merch & ~cancel & (qty < 0), value.abs(), 0.0)
    frame["net_sales"] = sales - discount - cancelled - returned
    frame["cancelled_amount"] = cancelled
    return frame.groupby(["year", "country"])[["net_sales", "cancelled_amount"]].sum()


@pytest.mark.realdata
def test_credits_by_country_equal_the_raw_file(retail_full):
    expected = _raw_credits_by_country(shared_file("online_retail", "online_retail.csv.gz"))
    got = kpis(retail_full, grain="year", by="country").wide()
    got = got.assign(year=pd.to_datetime(got["period"]).dt.year)
    got = got.set_index(["year", "country"])[["net_sales", "cancelled_amount"]]
    joined = expected.add_suffix("_raw").join(got, how="outer")
    assert not joined.isna().any().any(), joined[joined.isna().any(axis=1)]
    for col in ("net_sales", "cancelled_amount"):
        np.testing.assert_allclose(joined[col], joined[f"{col}_raw"], rtol=1e-9, atol=1e-6)
    uk = joined.loc[(2011, "United Kingdom")]
    assert uk["cancelled_amount"] > 0 and not math.isnan(uk["net_sales"])


def test_a_store_made_before_the_credit_columns_gains_them(tmp_path):
    ws = Workspace.create(tmp_path / "ws", currency="GBP", timezone="Europe/London")
    con = ws.store.backend.con
    for col in ("channel", "country", "region"):  # the returns table as older versions made it
        con.execute(f'ALTER TABLE returns DROP COLUMN "{col}"')
    ws.close()
    ws = Workspace.open(tmp_path / "ws")
    assert {"channel", "country", "region"} <= set(ws.store.table("returns").columns)
    ingest_file(ws, demo_data_path(), preset="online_retail")
    keys = set(kpis(ws.store, grain="year", by="country").wide()["country"])
    assert UNKNOWN not in keys
    ws.close()


def test_dashboard_breakdown_keeps_negative_values_and_adds_up(tmp_path):
    """More countries than the chart's top list, one with credits only: its negative bar is
    shown and the rest is one 'Other' bar, so the bars add up to the shop's net sales."""
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.kpis.service import TOP
    from tests.test_web import PASSWORD, charts, signed_in

    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    lines = [header]
    for i in range(TOP + 3):  # each country one sale of (i + 1) × 10
        lines.append(f"5{i:05d},P{i},THING,1,2011-03-0{1 + i % 9} 10:00:00,{(i + 1) * 10},"
                     f"{12000 + i},Land{i:02d}")
    lines.append("C599999,P0,THING,-2,2011-03-05 11:00:00,40,13000,Creditland")
    path = tmp_path / "few.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = Workspace.create(tmp_path / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(ws, path, preset="online_retail")
    UserStore(ws.path).add("ada", PASSWORD, "admin")
    try:
        page = signed_in(create_app(ws), "ada").get("/?by=country&grain=month").text
        bars = charts(page)["chart-breakdown"]["data"][0]
        expected_total = sum((i + 1) * 10 for i in range(TOP + 3)) - 80
        assert sum(bars["x"]) == pytest.approx(expected_total)
        assert bars["y"][:TOP] == [f"Land{i:02d}" for i in range(TOP + 2, 2, -1)]
        assert bars["y"][TOP] == "Creditland" and bars["x"][TOP] == pytest.approx(-80)
        assert bars["y"][TOP + 1] == "Other (3)" and bars["x"][TOP + 1] == pytest.approx(60)
    finally:
        ws.close()
