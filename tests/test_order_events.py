"""Orders as purchase events: behaviour analyses on shops without tracking, checked on the
real Online Retail file against an independent pandas cohort computation."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from shopscope.behaviour.common import OrderEvents, orders_as_events
from shopscope.behaviour.retention import retention
from shopscope.behaviour.trends import trends
from shopscope.ingest import ingest_file
from shopscope.store import Workspace
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    path = shared_file("online_retail", "online_retail.csv.gz")
    ws = Workspace.create(tmp_path_factory.mktemp("oe") / "ws", currency="GBP")
    ingest_file(ws, path, preset="online_retail")
    yield ws, path
    ws.close()


def test_every_order_is_one_purchase_event(retail):
    ws, _ = retail
    events = orders_as_events(ws.store)
    assert int(events.count().execute()) == ws.store.row_count("orders")
    row = events.limit(1).execute().iloc[0]
    assert row.event_type == "purchase" and row.properties.startswith('{"order_id":"')


def test_monthly_customer_retention_matches_pandas(retail):
    ws, path = retail
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "CustomerID": str}, encoding="latin-1")
    # an order: an invoice (not a C credit note) of a known customer with at least one
    # merchandise line (stock codes start with a digit; postage, fees, bank charges and
    # vouchers do not make an order on their own)
    raw = raw[raw.CustomerID.notna() & ~raw.InvoiceNo.str.startswith("C")
              & (raw.Quantity > 0) & raw.StockCode.astype(str).str.match(r"\d")]
    raw["customer"] = raw.CustomerID.str.replace(r"\.0$", "", regex=True)
    raw["month"] = pd.to_datetime(raw.InvoiceDate, format="ISO8601").dt.to_period("M")
    active = raw[["customer", "month"]].drop_duplicates()
    first = active.groupby("customer").month.min().rename("cohort")
    active = active.join(first, on="customer")
    active["n"] = (active.month - active.cohort).apply(lambda d: d.n)
    expected = active.groupby(["cohort", "n"]).customer.nunique()

    class KnownCustomers:  # guest orders are visitors of their own; pandas drops them
        def table(self, name):
            t = ws.store.table(name)
            return t.filter(t.customer_id.notnull()) if name == "orders" else t

    result = retention(OrderEvents(KnownCustomers()), grain="month", periods=12)
    m = result.matrix[result.matrix.period_number <= 12]
    got = m.set_index([m.cohort.dt.to_period("M"), "period_number"]).retained
    # Dec 2010: the cohort everyone quotes (first invoice month of the data)
    dec = pd.Period("2010-12", "M")
    assert got[(dec, 0)] == expected[(dec, 0)]
    assert got[(dec, 1)] == expected[(dec, 1)]
    both = pd.concat([got.rename("got"), expected.rename("expected")], axis=1).dropna()
    assert len(both) > 60
    assert (both.got == both.expected).all(), both[both.got != both.expected].head()


def test_monthly_buyers_trend(retail):
    ws, _path = retail
    uv = trends(OrderEvents(ws.store), metrics=("uv",), grain="month").wide()
    orders = ws.store.table("orders").mutate(m=ibis._.ordered_at.truncate("M"))
    direct = (orders.filter(orders.customer_id.notnull())
              .group_by("m").aggregate(n=ibis._.customer_id.nunique()).execute())
    guests = (orders.filter(orders.customer_id.isnull())
              .group_by("m").aggregate(g=ibis._.count()).execute())
    both = direct.merge(guests, on="m", how="left").fillna({"g": 0})
    want = dict(zip(both.m.dt.date, both.n + both.g, strict=True))
    got = dict(zip(pd.to_datetime(uv.period).dt.date, uv.uv, strict=True))
    assert got == want
