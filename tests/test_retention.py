"""Cohort retention and repurchase cohorts on hand-written shops, on DuckDB and Spark, and on
real data (Taobao events, Online Retail orders) against independent pandas computations.

Every expected number in the hand-written cases is worked out in the comments from the rows
below; none is copied from the code's output.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopscope.behaviour.retention import (
    cohort_expr,
    repurchase_cohorts,
    retention,
    retention_expr,
)
from shopscope.errors import OptionError
from tests.behaviour_shop import events_frame, make_store
from tests.conftest import shared_file

WEB, APP = {"channel": "web"}, {"channel": "app"}

# 2024-01-01 is a Monday. Visitors a, b, c, e, f have user ids; d is anonymous.
#   Jan 1: a view (web, toys, device ios); b view (app) 09:00, b signup 10:00
#   Jan 2: a view (app); c signup (web) 08:00, c view (web) 09:00; f view
#   Jan 3: b view; c view, c purchase; d view (anonymous)
#   Jan 4: a purchase
#   Jan 5: e view
#   Dec 31 2023: f view (only seen without start)
# February-April (week and month grain): w1 Feb 7, Feb 12, Mar 4; w2 Feb 11 (a Sunday),
# Feb 19; w3 Feb 14, Mar 31 (a Sunday); w4 Apr 1 (a Monday).
SHOP_EVENTS = [
    ("2024-01-01 09:00", "a", "view",
     {"channel": "web", "category": "toys", "properties": '{"device": "ios"}'}),
    ("2024-01-01 09:00", "b", "view", APP),
    ("2024-01-01 10:00", "b", "signup"),
    ("2024-01-02 10:00", "a", "view", APP),
    ("2024-01-02 08:00", "c", "signup", WEB),
    ("2024-01-02 09:00", "c", "view", WEB),
    ("2024-01-02 12:00", "f", "view"),
    ("2024-01-03 11:00", "b", "view"),
    ("2024-01-03 10:00", "c", "view"),
    ("2024-01-03 11:00", "c", "purchase"),
    {"event_at": "2024-01-03 12:00", "anonymous_id": "d", "event_type": "view"},
    ("2024-01-04 15:00", "a", "purchase"),
    ("2024-01-05 09:00", "e", "view"),
    ("2023-12-31 18:00", "f", "view"),
    ("2024-02-07 10:00", "w1", "view"),
    ("2024-02-12 10:00", "w1", "view"),
    ("2024-03-04 10:00", "w1", "view"),
    ("2024-02-11 23:30", "w2", "view"),
    ("2024-02-19 10:00", "w2", "view"),
    ("2024-02-14 10:00", "w3", "view"),
    ("2024-03-31 23:59", "w3", "view"),
    ("2024-04-01 00:00", "w4", "view"),
]
CUSTOMERS = pd.DataFrame({"customer_id": ["a", "b", "c"],
                          "member_tier": ["gold", "silver", "gold"]})


def _order(oid, cid, at, status, gross, disc=0.0):
    return dict(order_id=oid, customer_id=cid, ordered_at=pd.Timestamp(at), channel="web",
                status=status, gross_amount=gross, discount_amount=disc, shipping_amount=0.0,
                net_amount=gross - disc, currency="EUR")


ORDERS = pd.DataFrame([
    _order("o1", "A", "2023-12-10", "completed", 100.0, 10.0),
    _order("o2", "A", "2024-01-15", "completed", 50.0),
    _order("o3", "B", "2023-12-20", "cancelled", 40.0),
    _order("o4", "B", "2024-01-05", "completed", 30.0),
    _order("o5", "C", "2023-12-01", "completed", 20.0),
    _order("o6", "C", "2024-02-03", "refunded", 60.0, 5.0),
    _order("o7", None, "2024-01-01", "completed", 999.0),
    _order("o8", "A", "2024-03-01", "pending", 10.0),
    _order("o9", "D", "2024-03-10", "completed", 70.0),
])
RETURNS = pd.DataFrame([
    dict(return_id="r1", order_id="o1", customer_id="A", kind="return", quantity=1,
         amount=25.0, returned_at=pd.Timestamp("2024-01-20")),
    dict(return_id="r2", order_id="o4", customer_id=None, kind="cancellation", quantity=1,
         amount=5.0, returned_at=pd.Timestamp("2024-02-01")),
    dict(return_id="r3", order_id="zzz", customer_id=None, kind="return", quantity=1,
         amount=3.0, returned_at=pd.Timestamp("2024-02-01")),
    dict(return_id="r4", order_id="old", customer_id="A", kind="return", quantity=1,
         amount=7.0, returned_at=pd.Timestamp("2023-11-15")),
])


def _store(engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"retention_{engine}")
    return make_store(engine, folder, events=events_frame(SHOP_EVENTS),
                      customers=CUSTOMERS, orders=ORDERS, returns=RETURNS)


@pytest.fixture(scope="module")
def duckdb_shop(tmp_path_factory):
    return _store("duckdb", tmp_path_factory)


@pytest.fixture(scope="module")
def pyspark_shop(spark_session, tmp_path_factory):
    return _store("pyspark", tmp_path_factory)


@pytest.fixture(scope="module")
def shop(engine, request):
    """The shop on each engine (Spark is slow here: only the core cases use this)."""
    return request.getfixturevalue(f"{engine}_shop")


def grid(result, value="retained", by=None) -> dict[tuple, list]:
    """{cohort date (, by value): [value at N = 0, 1, …]} from a result's long matrix."""
    m = result.matrix
    keys = ["cohort"] + ([by] if by else [])
    out = {}
    for key, g in m.sort_values("period_number").groupby(keys):
        key = tuple(k.date() if isinstance(k, pd.Timestamp) else k for k in key)
        out[key if by else key[0]] = g[value].tolist()
    return out


D = dt.date
JAN = dict(start="2024-01-01", end="2024-01-05")


# -- day grain ------------------------------------------------------------------------------
def test_exact_day_retention_and_too_young_cohorts(shop):
    r = retention(shop, periods=3, **JAN)
    # First days in range: a, b Jan 1; c, f Jan 2; d Jan 3; e Jan 5; the horizon is Jan 5.
    # Jan 1 {a, b}: N1 Jan 2 a; N2 Jan 3 b; N3 Jan 4 a.
    # Jan 2 {c, f}: N1 Jan 3 c; N2 Jan 4 -; N3 Jan 5 -.
    # Jan 3 {d}: only N0..N2 observable; Jan 5 {e}: only N0.
    assert grid(r) == {D(2024, 1, 1): [2, 1, 1, 1], D(2024, 1, 2): [2, 1, 0, 0],
                       D(2024, 1, 3): [1, 0, 0], D(2024, 1, 5): [1]}
    assert grid(r, "cohort_size")[D(2024, 1, 2)] == [2, 2, 2, 2]
    assert grid(r, "rate")[D(2024, 1, 1)] == [1.0, 0.5, 0.5, 0.5]
    assert r.horizon == D(2024, 1, 5)
    curve = r.curve().set_index("period_number")
    # N1: cohorts Jan 1-3 (sizes 2+2+1), retained 1+1+0; N3: Jan 1, 2 (2+2), retained 1+0.
    assert curve["cohorts"].tolist() == [4, 3, 3, 2]
    assert curve["rate"].tolist() == pytest.approx([1.0, 2 / 5, 1 / 5, 1 / 4])
    wide = r.wide()
    assert np.isnan(wide.loc[pd.Timestamp("2024-01-03"), 3])  # too young, not 0
    assert wide.loc[pd.Timestamp("2024-01-02"), 3] == 0.0


def test_unbounded_day_retention(shop):
    r = retention(shop, periods=3, mode="unbounded", **JAN)
    # Last return: a N3, b N2 (Jan 1); c N1, f N0 (Jan 2); d N0.
    assert grid(r) == {D(2024, 1, 1): [2, 2, 2, 1], D(2024, 1, 2): [2, 1, 0, 0],
                       D(2024, 1, 3): [1, 0, 0], D(2024, 1, 5): [1]}


def test_unbounded_counts_returns_beyond_the_window(duckdb_shop):
    # periods=1: a's return at N3 still means "returned at N1 or later".
    r = retention(duckdb_shop, periods=1, mode="unbounded", **JAN)
    assert grid(r)[D(2024, 1, 1)] == [2, 2]


def test_without_start_a_visitor_seen_earlier_keeps_the_earlier_cohort(duckdb_shop):
    r = retention(duckdb_shop, periods=3, end="2024-01-05")
    # f's first event is Dec 31: cohort {f} returns on Jan 2 (N2); Jan 2 cohort is {c} only.
    g = grid(r)
    assert g[D(2023, 12, 31)] == [1, 0, 1, 0]
    assert g[D(2024, 1, 2)] == [1, 1, 0, 0]


def test_start_and_return_event_filters(shop):
    r = retention(shop, start_event="signup", return_event="purchase", periods=3, **JAN)
    # Signups: b Jan 1, c Jan 2. Purchases: c Jan 3, a Jan 4 (a has no signup).
    # Period 0 needs a purchase in the signup day: nobody. The horizon is the last event of
    # any type (Jan 5), so both cohorts see N3.
    assert grid(r) == {D(2024, 1, 1): [0, 0, 0, 0], D(2024, 1, 2): [0, 1, 0, 0]}
    assert r.start_event == "signup" and r.return_event == "purchase"


def test_same_start_and_return_event_keeps_the_horizon_of_all_events(duckdb_shop):
    for mode in ("exact", "unbounded"):
        r = retention(duckdb_shop, start_event="purchase", return_event="purchase", periods=3,
                      mode=mode, **JAN)
        # Purchases: c Jan 3, a Jan 4; nobody buys again. Jan 5 (e's view) is the horizon.
        assert grid(r) == {D(2024, 1, 3): [1, 0, 0], D(2024, 1, 4): [1, 0]}, mode


def test_step_with_property_filter(duckdb_shop):
    r = retention(duckdb_shop, start_event="view:channel=web", periods=3, **JAN)
    # Web views: a Jan 1, c Jan 2; any event returns. a: Jan 2, Jan 4; c: Jan 3.
    assert grid(r) == {D(2024, 1, 1): [1, 1, 0, 1], D(2024, 1, 2): [1, 1, 0, 0]}


def test_by_event_column_takes_the_first_start_event(shop):
    r = retention(shop, by="channel", periods=3, **JAN)
    # b's first event is the app view at 09:00 (signup at 10:00 has no channel); f, d, e
    # have no channel.
    assert grid(r, by="channel") == {
        (D(2024, 1, 1), "app"): [1, 0, 1, 0],
        (D(2024, 1, 1), "web"): [1, 1, 0, 1],
        (D(2024, 1, 2), "(unknown)"): [1, 0, 0, 0],
        (D(2024, 1, 2), "web"): [1, 1, 0, 0],
        (D(2024, 1, 3), "(unknown)"): [1, 0, 0],
        (D(2024, 1, 5), "(unknown)"): [1],
    }


def test_by_customer_column(shop):
    r = retention(shop, by="customer.member_tier", periods=1, **JAN)
    # a, c gold; b silver; f and e have no customer row, d is anonymous.
    assert grid(r, by="customer.member_tier") == {
        (D(2024, 1, 1), "gold"): [1, 1],
        (D(2024, 1, 1), "silver"): [1, 0],
        (D(2024, 1, 2), "(unknown)"): [1, 0],
        (D(2024, 1, 2), "gold"): [1, 1],
        (D(2024, 1, 3), "(unknown)"): [1, 0],
        (D(2024, 1, 5), "(unknown)"): [1],
    }
    curve = r.curve()
    gold = curve[curve["customer.member_tier"] == "gold"].set_index("period_number")
    assert gold["rate"].tolist() == [1.0, 1.0]


# -- week and month grain -------------------------------------------------------------------
def test_week_grain_counts_weeks_between_mondays(shop):
    r = retention(shop, grain="week", periods=4, start="2024-02-01", end="2024-04-30")
    # Weeks (Mondays): w1 Feb 5, Feb 12, Mar 4; w2 Feb 5 (Sunday Feb 11), Feb 19;
    # w3 Feb 12, Mar 25 (N6); w4 Apr 1 = the horizon (N8 from Feb 5).
    assert grid(r) == {D(2024, 2, 5): [2, 1, 1, 0, 1], D(2024, 2, 12): [1, 0, 0, 0, 0],
                       D(2024, 4, 1): [1]}
    u = retention(shop, grain="week", periods=4, mode="unbounded", start="2024-02-01",
                  end="2024-04-30")
    assert grid(u)[D(2024, 2, 5)] == [2, 2, 2, 1, 1]
    assert grid(u)[D(2024, 2, 12)] == [1, 1, 1, 1, 1]  # w3 returns in week N6


def test_month_grain(shop):
    r = retention(shop, grain="month", periods=2, start="2024-02-01", end="2024-04-30")
    # February {w1, w2, w3}; March: w1 (Mar 4) and w3 (Mar 31 23:59); April: w4 is new.
    assert grid(r) == {D(2024, 2, 1): [3, 2, 0], D(2024, 4, 1): [1]}


# -- repurchase cohorts ---------------------------------------------------------------------
def test_repurchase_cohorts_rates_and_ltv_by_hand(shop):
    c = repurchase_cohorts(shop, periods=3)
    m = c.matrix.set_index(["cohort", "period_number"])
    dec = m.loc[pd.Timestamp("2023-12-01")]
    # Dec 2023 {A (o1), C (o5)}; B's December order was cancelled, so B is a January
    # cohort. A buys in Jan (o2) and Mar (o8, pending); C in Feb (o6, refunded: still an
    # order, kpis counts it for buyers too).
    assert dec["cohort_size"].tolist() == [2, 2, 2, 2]
    assert dec["retained_exact"].tolist() == [2, 1, 1, 1]
    assert dec["retained_unbounded"].tolist() == [2, 2, 2, 1]
    # Revenue: Dec A 100-10 + C 20 = 110; Jan A 50 - r1 25 = 25; Feb o6 60-5-60 = -5;
    # Mar o8 10. r4 (Nov 2023, before A's first order) is not in any period.
    assert dec["revenue"].tolist() == pytest.approx([110.0, 25.0, -5.0, 10.0])
    assert dec["ltv"].tolist() == pytest.approx([55.0, 67.5, 65.0, 70.0])
    jan = m.loc[pd.Timestamp("2024-01-01")]
    # B: o4 30 in January; r2 (no customer on the credit, o4's customer is B) -5 in Feb.
    # The horizon is March (o9), so January sees N0..N2.
    assert jan["retained_exact"].tolist() == [1, 0, 0]
    assert jan["cumulative_revenue"].tolist() == pytest.approx([30.0, 25.0, 25.0])
    mar = m.loc[pd.Timestamp("2024-03-01")]
    assert mar["cohort_size"].tolist() == [1] and mar["revenue"].tolist() == [70.0]
    assert set(c.matrix["cohort"]) == {pd.Timestamp(x) for x in
                                       ("2023-12-01", "2024-01-01", "2024-03-01")}
    curve = c.curve().set_index("period_number")
    # N1: Dec (2) + Jan (1): retained 1 + 0; LTV (135 + 25) / 3.
    assert curve.loc[1, "rate_exact"] == pytest.approx(1 / 3)
    assert curve.loc[1, "ltv"] == pytest.approx(160 / 3)
    assert curve.loc[3, "cohorts"] == 1


def test_repurchase_cohorts_range(duckdb_shop):
    c = repurchase_cohorts(duckdb_shop, periods=2, start="2024-01-01", end="2024-02-29")
    m = c.matrix.set_index(["cohort", "period_number"])
    # Only Jan-Feb orders and credits: A (o2) and B (o4) start in January; C in February
    # (o6). A's January revenue: 50 - r1 25; B's -5 in February.
    assert m.loc[pd.Timestamp("2024-01-01"), "cohort_size"].tolist() == [2, 2]
    assert m.loc[pd.Timestamp("2024-01-01"), "revenue"].tolist() == pytest.approx([55.0, -5.0])
    assert m.loc[pd.Timestamp("2024-02-01"), "revenue"].tolist() == pytest.approx([-5.0])


# -- edges ----------------------------------------------------------------------------------
def test_empty_inputs_give_empty_results(tmp_path):
    from shopscope.store import connect

    store = connect("duckdb://")
    assert retention(store).matrix.empty
    assert retention(store).curve().empty
    assert repurchase_cohorts(store).matrix.empty
    assert retention(store, by="channel").wide().empty
    assert retention(store).to_dict()["matrix"] == []


def test_range_without_data_is_empty(duckdb_shop):
    assert retention(duckdb_shop, start="2030-01-01", end="2030-02-01").matrix.empty


@pytest.mark.parametrize("kwargs", [
    dict(grain="hour"), dict(mode="sometimes"), dict(periods=-1), dict(periods=True),
    dict(start="2024-02-01", end="2024-01-01"), dict(start="yesterday"),
    dict(start_event="click"), dict(by="customer.email"), dict(by="bad key!"),
])
def test_bad_options_raise_option_error(kwargs):
    from shopscope.store import connect

    with pytest.raises(OptionError):
        retention(connect("duckdb://"), **kwargs)


def test_to_dict_is_json_ready(duckdb_shop):
    import json

    out = retention(duckdb_shop, periods=1, **JAN).to_dict()
    text = json.dumps(out)
    assert '"cohort": "2024-01-01"' in text and out["horizon"] == "2024-01-05"
    assert json.dumps(repurchase_cohorts(duckdb_shop, periods=1).to_dict())


def test_day_retention_sql_reduces_to_distinct_visitor_days():
    import ibis

    from shopscope.store import connect

    sql = ibis.to_sql(retention_expr(connect("duckdb://"), periods=30), dialect="duckdb")
    # One DISTINCT over (visitor, day) feeds both the cohorts and the returns.
    assert sql.upper().count("DISTINCT") == 1
    assert "ORDER BY" not in sql.upper()
    assert cohort_expr(connect("duckdb://")).columns == ("kind", "c", "n", "k", "revenue")


# -- real data ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def taobao(tmp_path_factory):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("taobao_userbehavior", "UserBehavior_prefix.csv.gz")
    ws = Workspace.create(tmp_path_factory.mktemp("tb") / "ws", timezone="Asia/Shanghai")
    ingest_file(ws, path, preset="taobao")
    raw = pd.read_csv(path, header=None, names=["user", "item", "cat", "kind", "ts"])
    local = pd.to_datetime(raw["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    raw["day"] = local.dt.tz_localize(None).dt.normalize()
    yield ws, raw
    ws.close()


@pytest.mark.realdata
def test_taobao_day_retention_matrix_against_pandas(taobao):
    ws, raw = taobao
    r = retention(ws.store, periods=8, start="2017-11-25", end="2017-12-03")
    # Independent: distinct (user, day) in the official window, first day, day difference.
    days = raw[(raw["day"] >= "2017-11-25") & (raw["day"] <= "2017-12-03")][["user", "day"]]
    days = days.drop_duplicates()
    days["cohort"] = days.groupby("user")["day"].transform("min")
    days["n"] = (days["day"] - days["cohort"]).dt.days
    sizes = days.groupby("cohort")["user"].nunique()
    counts = days.groupby(["cohort", "n"]).size()
    horizon = days["day"].max()
    expected = {}
    for cohort, size in sizes.items():
        for n in range(min(8, (horizon - cohort).days) + 1):
            expected[(cohort, n)] = (int(size), int(counts.get((cohort, n), 0)))
    got = {(row.cohort, row.period_number): (row.cohort_size, row.retained)
           for row in r.matrix.itertuples()}
    assert got == expected
    assert len(expected) > 20 and sizes.sum() > 500


def _retail_expected(path) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Monthly repurchase cohorts from the raw Online Retail lines, in plain pandas.

    Exclusions as documented for the preset: non-merchandise stock codes (postage, fees,
    gift vouchers) are not sales; invoices starting with C are cancellations and other
    negative lines returns, both credited at their date to the line's customer; lines
    without a customer id are guests and left out. No order is cancelled as a whole, so
    every sales invoice is a valid order.
    """
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    inv = df.InvoiceNo.str.strip().str.upper()
    code = df.StockCode.str.strip().str.upper()
    qty, price = df.Quantity.astype(int), df.UnitPrice.astype(float)
    at = pd.to_datetime(df.InvoiceDate, format="mixed")
    cust = df.CustomerID.str.replace(r"\.0$", "", regex=True)
    fees = {"M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "ADJUST", "ADJUST2",
            "TEST001", "TEST002", "POST", "DOT", "C2", "D"}
    merch = ~code.isin(fees) & ~code.str.match(r"^GIFT_\d+_\d+$") & (qty != 0)
    cancel = inv.str.startswith("C")
    sales = merch & ~cancel & (qty > 0)
    lines = pd.DataFrame({"inv": inv, "cust": cust, "at": at, "amt": qty * price})
    orders = lines[sales].groupby("inv").agg(cust=("cust", "max"), at=("at", "min"),
                                            gross=("amt", "sum"))
    disc_lines = (code == "D") & ~cancel
    disc = lines[disc_lines].assign(amt=lambda x: x.amt.abs()).groupby("inv")["amt"].sum()
    orders["net"] = orders["gross"] - disc.reindex(orders.index).fillna(0.0)
    orders = orders[orders.cust != ""]
    credits = lines[merch & (cancel | (qty < 0)) & (cust != "")]
    credits = pd.DataFrame({"cust": credits["cust"], "at": credits["at"],
                            "net": -credits["amt"].abs()})
    month = lambda s: s.dt.year * 12 + s.dt.month - 1  # noqa: E731
    orders["m"], credits["m"] = month(orders["at"]), month(credits["at"])
    first = orders.groupby("cust")["m"].min().rename("c")
    o = orders.join(first, on="cust")
    o["n"] = o["m"] - o["c"]
    cr = credits.join(first, on="cust", how="inner")
    cr["n"] = cr["m"] - cr["c"]
    cr = cr[cr["n"] >= 0]
    horizon = int(month(lines.loc[sales, "at"]).max())
    rows = []
    active = o.groupby(["c", "n"])["cust"].nunique()
    last = o.groupby("cust")["n"].max()
    revenue = pd.concat([o[["c", "n", "net"]], cr[["c", "n", "net"]]]).groupby(["c", "n"])[
        "net"].sum()
    for c, members in first.groupby(first).groups.items():
        size, cum = len(members), 0.0
        for n in range(min(12, horizon - c) + 1):
            cum += revenue.get((c, n), 0.0)
            rows.append(dict(cohort=pd.Timestamp(c // 12, c % 12 + 1, 1), period_number=n,
                             cohort_size=size, retained_exact=int(active.get((c, n), 0)),
                             retained_unbounded=int((last.loc[members] >= n).sum()),
                             cumulative_revenue=cum))
    return pd.DataFrame(rows), pd.Timestamp(horizon // 12, horizon % 12 + 1, 1)


RETAIL_FILES = [
    pytest.param(lambda: Path(__file__).resolve().parents[1]
                 / "src/shopscope/samples/online_retail_sample.csv.gz", id="bundled-sample"),
    pytest.param(lambda: shared_file("online_retail", "online_retail.csv.gz"), id="full-file",
                 marks=pytest.mark.realdata),
]


@pytest.mark.parametrize("where", RETAIL_FILES)
def test_online_retail_monthly_repurchase_cohorts_against_pandas(where, tmp_path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = where()
    ws = Workspace.create(tmp_path / "ws")
    try:
        ingest_file(ws, path, preset="online_retail")
        got = repurchase_cohorts(ws.store, periods=12)
        expected, horizon = _retail_expected(path)
        assert got.horizon == horizon.date()
        cols = ["cohort", "period_number", "cohort_size", "retained_exact",
                "retained_unbounded"]
        pd.testing.assert_frame_equal(
            got.matrix[cols].reset_index(drop=True),
            expected[cols].astype(dict.fromkeys(cols[1:], "int64")), check_dtype=False)
        np.testing.assert_allclose(got.matrix["cumulative_revenue"],
                                   expected["cumulative_revenue"], rtol=1e-9, atol=1e-6)
    finally:
        ws.close()
