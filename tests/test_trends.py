"""Trends (PV, UV, DAU/WAU/MAU, stickiness, events per visitor) on the hand-written shop of
``test_retention.py``, on DuckDB and Spark, and daily UV on the Taobao sample against pandas.

Expected values are worked out by hand in the comments from ``SHOP_EVENTS``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shopscope.behaviour.trends import TREND_METRICS, trends
from shopscope.errors import OptionError
from tests.behaviour_shop import events_frame, make_store
from tests.conftest import shared_file
from tests.test_retention import CUSTOMERS, SHOP_EVENTS

JAN = dict(start="2024-01-01", end="2024-01-05")
NAN = float("nan")


def _store(engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"trends_{engine}")
    return make_store(engine, folder, events=events_frame(SHOP_EVENTS),
                      customers=CUSTOMERS)


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


def table(result, *keys: str) -> dict:
    """{(period date, *key values): {metric: value}} from the wide form."""
    wide = result.wide()
    out = {}
    for rec in wide.to_dict("records"):
        key = (rec.pop("period").date().isoformat(), *[rec.pop(k) for k in keys])
        out[key if keys else key[0]] = rec
    return out


def close(got: dict, want: dict) -> None:
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, w in want.items():
        for metric, value in w.items():
            g = got[k][metric]
            if isinstance(value, float) and np.isnan(value):
                assert np.isnan(g), (k, metric, g)
            else:
                assert g == pytest.approx(value), (k, metric, g, value)


# -- day grain ------------------------------------------------------------------------------
def test_every_metric_by_day(shop):
    r = trends(shop, metrics=TREND_METRICS, **JAN)
    # Jan 1: a view, b view, b signup -> pv 3, uv {a, b}; Jan 2: a, c (2), f -> 4 / 3;
    # Jan 3: b, c (2), d -> 4 / 3; Jan 4: a -> 1 / 1; Jan 5: e -> 1 / 1.
    # The ISO week of Jan 1-5 and January (in range) both hold {a, b, c, d, e, f}: 6.
    close(table(r), {
        "2024-01-01": dict(pv=3, uv=2, dau=2, wau=6, mau=6, stickiness=2 / 6,
                           events_per_visitor=1.5),
        "2024-01-02": dict(pv=4, uv=3, dau=3, wau=6, mau=6, stickiness=0.5,
                           events_per_visitor=4 / 3),
        "2024-01-03": dict(pv=4, uv=3, dau=3, wau=6, mau=6, stickiness=0.5,
                           events_per_visitor=4 / 3),
        "2024-01-04": dict(pv=1, uv=1, dau=1, wau=6, mau=6, stickiness=1 / 6,
                           events_per_visitor=1.0),
        "2024-01-05": dict(pv=1, uv=1, dau=1, wau=6, mau=6, stickiness=1 / 6,
                           events_per_visitor=1.0),
    })
    assert r.start.isoformat() == "2024-01-01" and r.end.isoformat() == "2024-01-05"
    assert list(r.data.columns) == ["period", "offset", "metric", "value"]


def test_quiet_days_are_zero_and_ratios_null(duckdb_shop):
    r = trends(duckdb_shop, metrics=["pv", "uv", "events_per_visitor"], start="2024-01-04",
               end="2024-01-07")
    close(table(r), {
        "2024-01-04": dict(pv=1, uv=1, events_per_visitor=1.0),
        "2024-01-05": dict(pv=1, uv=1, events_per_visitor=1.0),
        "2024-01-06": dict(pv=0, uv=0, events_per_visitor=NAN),
        "2024-01-07": dict(pv=0, uv=0, events_per_visitor=NAN),
    })


def test_event_filter(shop):
    purchases = trends(shop, event="purchase", **JAN)
    # c buys on Jan 3, a on Jan 4.
    assert [v["pv"] for v in table(purchases).values()] == [0, 0, 1, 1, 0]
    web = trends(shop, event="view:channel=web", metrics=["pv", "uv"], **JAN)
    # Web views: a Jan 1, c Jan 2.
    assert [v["uv"] for v in table(web).values()] == [1, 1, 0, 0, 0]
    assert web.event == "view [channel=web]"


def test_by_event_type(shop):
    r = trends(shop, metrics=["pv", "uv"], by="event_type", start="2024-01-01",
               end="2024-01-03")
    # Every (day, type) pair of the types seen in range appears, zeros included.
    close(table(r, "event_type"), {
        ("2024-01-01", "view"): dict(pv=2, uv=2),
        ("2024-01-01", "signup"): dict(pv=1, uv=1),
        ("2024-01-01", "purchase"): dict(pv=0, uv=0),
        ("2024-01-02", "view"): dict(pv=3, uv=3),
        ("2024-01-02", "signup"): dict(pv=1, uv=1),
        ("2024-01-02", "purchase"): dict(pv=0, uv=0),
        ("2024-01-03", "view"): dict(pv=3, uv=3),
        ("2024-01-03", "signup"): dict(pv=0, uv=0),
        ("2024-01-03", "purchase"): dict(pv=1, uv=1),
    })


def test_by_property_and_customer_column(shop):
    r = trends(shop, by="device", start="2024-01-01", end="2024-01-01")
    # Only a's Jan 1 view carries {"device": "ios"}; b's two events have none.
    close(table(r, "device"), {("2024-01-01", "ios"): dict(pv=1, uv=1),
                               ("2024-01-01", "(unknown)"): dict(pv=2, uv=1)})
    c = trends(shop, by="customer.member_tier", metrics=["pv", "uv", "dau"],
               start="2024-01-02", end="2024-01-02")
    # Jan 2: a (gold) view, c (gold) signup + view, f (no customer row) view.
    close(table(c, "customer.member_tier"), {
        ("2024-01-02", "gold"): dict(pv=3, uv=2, dau=2),
        ("2024-01-02", "(unknown)"): dict(pv=1, uv=1, dau=1),
    })


# -- week and month grain -------------------------------------------------------------------
def test_week_grain_averages_over_days_in_range(shop):
    r = trends(shop, metrics=TREND_METRICS, grain="week", **JAN)
    # One week (Monday Jan 1), five days in range: daily actives 2, 3, 3, 1, 1.
    close(table(r), {"2024-01-01": dict(pv=13, uv=6, dau=2.0, wau=6, mau=6,
                                        stickiness=2 / 6, events_per_visitor=13 / 6)})


def test_week_grain_without_start_starts_at_the_first_day_with_data(duckdb_shop):
    r = trends(duckdb_shop, metrics=["uv", "dau", "wau", "mau"], grain="week", end="2024-01-05")
    # f's Dec 31 view (a Sunday) opens the range: week of Mon Dec 25 has that one day in
    # range, December holds only f.
    close(table(r), {
        "2023-12-25": dict(uv=1, dau=1.0, wau=1.0, mau=1.0),
        "2024-01-01": dict(uv=6, dau=2.0, wau=6.0, mau=6.0),
    })
    assert r.start.isoformat() == "2023-12-31"


def test_month_grain(shop):
    r = trends(shop, metrics=["pv", "uv", "dau", "wau", "mau", "stickiness"], grain="month",
               start="2024-02-01", end="2024-04-30")
    # Feb: w1 x2, w2 x2, w3 -> pv 5, uv 3; one visitor on each of 5 days out of 29.
    # Weekly actives of Feb days: week Jan 29 (Feb 1-4) 0; Feb 5-11 {w1, w2} 2;
    # Feb 12-18 {w1, w3} 2; Feb 19-25 {w2} 1; Feb 26-29 (week to Mar 3) 0
    #   -> (4·0 + 7·2 + 7·2 + 7·1 + 4·0) / 29 = 35 / 29.
    # Mar: w1 Mar 4, w3 Mar 31 -> pv 2, uv 2, dau 2/31; weeks: Mar 4-10 {w1} 1,
    # Mar 25-31 {w3} 1 -> 14 / 31. Apr (30 days): w4 on Apr 1, week Apr 1-7 -> 7 / 30.
    close(table(r), {
        "2024-02-01": dict(pv=5, uv=3, dau=5 / 29, wau=35 / 29, mau=3,
                           stickiness=5 / 29 / 3),
        "2024-03-01": dict(pv=2, uv=2, dau=2 / 31, wau=14 / 31, mau=2,
                           stickiness=1 / 31),
        "2024-04-01": dict(pv=1, uv=1, dau=1 / 30, wau=7 / 30, mau=1, stickiness=1 / 30),
    })


# -- compare --------------------------------------------------------------------------------
def test_compare_aligns_by_offset(shop):
    r = trends(shop, metrics=["uv"], start="2024-01-01", end="2024-01-02",
               compare=("2024-01-03", "2024-01-04"))
    d = r.data.set_index("offset")
    # Jan 1 (2) vs Jan 3 (3); Jan 2 (3) vs Jan 4 (1).
    assert d["compare_period"].dt.strftime("%m-%d").tolist() == ["01-03", "01-04"]
    assert d["compare_value"].tolist() == [3.0, 1.0]
    assert d["delta"].tolist() == [-1.0, 2.0]
    assert d["delta_pct"].tolist() == pytest.approx([-1 / 3, 2.0])
    short = trends(shop, metrics=["uv"], start="2024-01-01", end="2024-01-02",
                   compare=("2024-01-05", "2024-01-05"))
    # The second range has one day: offset 1 has nothing to compare with.
    assert short.data["compare_value"].isna().tolist() == [False, True]


def test_compare_with_breakdown_fills_missing_keys_with_zero(duckdb_shop):
    r = trends(duckdb_shop, metrics=["pv"], by="event_type", start="2024-01-03", end="2024-01-03",
               compare=("2024-01-01", "2024-01-01"))
    d = r.data.set_index("event_type")
    # Jan 3: view 3, purchase 1; Jan 1: view 2, no purchase (0, not missing).
    assert d.loc["purchase", "compare_value"] == 0.0
    assert np.isnan(d.loc["purchase", "delta_pct"])
    assert d.loc["view", "delta"] == 1.0


def test_compare_with_breakdown_against_an_empty_range(duckdb_shop):
    # found by the API fuzzer: no event in the compared range left its key column without
    # the text type, and lining the two ranges up failed
    r = trends(duckdb_shop, metrics=["pv"], by="event_type", start="2024-01-03", end="2024-01-03",
               compare=("2000-01-01", "2000-01-01"))
    d = r.data.set_index("event_type")
    # Jan 3: view 3, purchase 1; nothing in 2000: every key compares with zero
    assert d.loc["view", "value"] == 3.0 and d.loc["purchase", "value"] == 1.0
    assert d["compare_value"].tolist() == [0.0, 0.0]


# -- edges ----------------------------------------------------------------------------------
def test_empty_store_and_empty_range():
    from shopscope.store import connect

    store = connect("duckdb://")
    assert trends(store, metrics=TREND_METRICS).data.empty
    assert trends(store, by="channel").wide().empty
    zero = trends(store, start="2024-01-01", end="2024-01-02")
    assert zero.wide()[["pv", "uv"]].to_numpy().tolist() == [[0, 0], [0, 0]]


@pytest.mark.parametrize("kwargs", [
    dict(metrics=["visits"]), dict(metrics=[]), dict(grain="hour"),
    dict(start="2024-02-01", end="2024-01-01"), dict(event="click"),
    dict(by="customer.email"), dict(by="customer.nope"), dict(by="bad key!"),
    dict(compare=("2024-01-01",)), dict(compare=("2024-01-02", "2024-01-01")),
])
def test_bad_options_raise_option_error(kwargs):
    from shopscope.store import connect

    with pytest.raises(OptionError):
        trends(connect("duckdb://"), **kwargs)


def test_to_dict_is_json_ready(duckdb_shop):
    out = trends(duckdb_shop, metrics=["uv", "events_per_visitor"], start="2024-01-06",
                 end="2024-01-06", compare=("2024-01-05", "2024-01-05")).to_dict()
    text = json.dumps(out)
    assert out["rows"][0]["period"] == "2024-01-06"
    assert out["rows"][1]["value"] is None  # 0 events / 0 visitors
    assert '"compare": ["2024-01-05", "2024-01-05"]' in text
    short = trends(duckdb_shop, metrics=["uv"], start="2024-01-01", end="2024-01-02",
                   compare=("2024-01-05", "2024-01-05")).to_dict()
    assert [r["compare_period"] for r in short["rows"]] == ["2024-01-05", None]
    assert json.dumps(short)


# -- real data ------------------------------------------------------------------------------
@pytest.mark.realdata
def test_taobao_daily_uv_and_pv_against_pandas(tmp_path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("taobao_userbehavior", "UserBehavior_prefix.csv.gz")
    ws = Workspace.create(tmp_path / "ws", timezone="Asia/Shanghai")
    try:
        ingest_file(ws, path, preset="taobao")
        got = trends(ws.store, metrics=["pv", "uv", "mau"], start="2017-11-25",
                     end="2017-12-03", event="view")
        raw = pd.read_csv(path, header=None, names=["user", "item", "cat", "kind", "ts"])
        local = pd.to_datetime(raw["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
        raw["day"] = local.dt.tz_localize(None).dt.normalize()
        views = raw[(raw["kind"] == "pv") & raw["day"].between("2017-11-25", "2017-12-03")]
        daily = views.groupby("day").agg(pv=("user", "size"), uv=("user", "nunique"))
        wide = got.wide().set_index("period")
        assert wide["uv"].tolist() == daily["uv"].tolist()
        assert wide["pv"].tolist() == daily["pv"].tolist()
        # Monthly actives: Nov 25-30 and Dec 1-3 separately.
        nov = views[views["day"] < "2017-12-01"]["user"].nunique()
        assert wide.loc["2017-11-28", "mau"] == nov
        assert len(daily) == 9
    finally:
        ws.close()
