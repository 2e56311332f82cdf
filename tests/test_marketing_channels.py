"""The channel and campaign report on a hand-built shop, worked out by hand.

The shop (all 2024 unless said; customers c1, c2, c3, c9; a1 is an anonymous visitor):

customers  c3 first seen 02-10, signed up via paid_search; the others first seen 2023-01-01
           without a signup channel

spend   2023-02-03 paid_search PS-1  50 (500 impressions, 10 clicks)
        2024-01-10 paid_search PS-1 100 (1000, 50)
        2024-02-05 paid_search PS-1  60 (600, 30)
        2024-02-07 social     SOC-1  40 (2000, 20)   no order or session carries SOC-1
sessions (first event's source / medium / campaign; channel = spend channel of the
campaign, else the medium)
        s6 c9 2023-02-03 08:00 google / cpc / PS-1     -> paid_search
        s1 c1 01-10 09:00 google / cpc / PS-1 (a second event 09:05 without source)
                                                       -> paid_search
        s2 a1 01-12 google / organic                   -> organic
        s3 c2 01-20 newsletter / email                 -> email
        s4 c1 02-06 11:00 google / cpc / PS-1          -> paid_search
        s5 c3 02-10 google / organic                   -> organic
orders  o7 c9 2023-02-03 09:00 completed gross 10         last session s6: paid_search, new
        o1 c1 01-10 10:00 completed gross 50, discount 5  s1: paid_search, new
        o2 c2 01-21 completed 30                          s3: email, new
        o3 guest 01-25 completed 20                       (not set)
        o4 c1 02-06 12:00 completed 80, campaign PS-1     own campaign = s4's: paid_search,
                                                          google / cpc; returning; 20 returned
        o5 c3 02-11 cancelled 40                          s5: organic; not an order, GMV 40
        o6 c3 02-12 completed 60, campaign PS-1           own campaign (spend channel
                                                          paid_search), s5 differs: source and
                                                          medium (not set); new (o5 cancelled)

By month and channel:
  2024-01 paid_search: sessions 1, orders 1, new 1, GMV 50, net 45, spend 100, clicks 50,
          impressions 1000; CPC 2, CPA 100, CAC 100, ROAS 0.5, net ROAS 0.45, conversion 1
  2024-01 email: sessions 1, orders 1, new 1, GMV 30, net 30 (no spend: ROAS undefined,
          CAC 0 / 1 = 0)
  2024-01 organic: sessions 1; (not set): orders 1, GMV 20
  2024-02 paid_search: sessions 1, orders 2 (o4, o6), new 1, returning 1, GMV 140,
          net 60 + 60 = 120, spend 60, clicks 30; CPC 2, CPA 30, CAC 60, ROAS 7/3,
          net ROAS 2, conversion 2; acquired 1 (c3), CAC by acquisition 60 / 1 = 60
  2024-02 organic: sessions 1, orders 0, GMV 40, net 0
  2024-02 social: spend 40, clicks 20, impressions 2000, nothing else (kept, CPC 2)
  totals: 2024-01 sessions 3, orders 3, new 2, GMV 100, net 95, spend 100;
          2024-02 sessions 2, orders 2, new 1, returning 1, GMV 180, net 120, spend 100
环比 (previous) 2024-02 vs 2024-01 paid_search: spend 60/100 - 1 = -0.4, orders 2/1 - 1 = 1,
    GMV 140/50 - 1 = 1.8, CAC 60/100 - 1 = -0.4.
同比 (year) 2024-02 vs 2023-02 paid_search: sessions 1/1 - 1 = 0, orders 0 -> 1, GMV
    140/10 - 1 = 13, spend 60/50 - 1 = 0.2, CAC 60/50 - 1 = 0.2.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopscope.marketing import service_channels as svc

D = dt.date
T = dt.datetime


def _rows() -> dict[str, list[dict]]:
    spend = [(D(2023, 2, 3), "paid_search", "PS-1", 50.0, 500, 10),
             (D(2024, 1, 10), "paid_search", "PS-1", 100.0, 1000, 50),
             (D(2024, 2, 5), "paid_search", "PS-1", 60.0, 600, 30),
             (D(2024, 2, 7), "social", "SOC-1", 40.0, 2000, 20)]
    ev = [("s6", "c9", None, T(2023, 2, 3, 8), "google", "cpc", "PS-1"),
          ("s1", "c1", None, T(2024, 1, 10, 9), "google", "cpc", "PS-1"),
          ("s1", "c1", None, T(2024, 1, 10, 9, 5), None, None, None),
          ("s2", None, "a1", T(2024, 1, 12, 9), "google", "organic", None),
          ("s3", "c2", None, T(2024, 1, 20, 9), "newsletter", "email", None),
          ("s4", "c1", None, T(2024, 2, 6, 11), "google", "cpc", "PS-1"),
          ("s5", "c3", None, T(2024, 2, 10, 9), "google", "organic", None)]
    orders = [("o7", "c9", T(2023, 2, 3, 9), "completed", 10.0, 0.0, None),
              ("o1", "c1", T(2024, 1, 10, 10), "completed", 50.0, 5.0, None),
              ("o2", "c2", T(2024, 1, 21, 10), "completed", 30.0, 0.0, None),
              ("o3", None, T(2024, 1, 25, 10), "completed", 20.0, 0.0, None),
              ("o4", "c1", T(2024, 2, 6, 12), "completed", 80.0, 0.0, "PS-1"),
              ("o5", "c3", T(2024, 2, 11, 10), "cancelled", 40.0, 0.0, None),
              ("o6", "c3", T(2024, 2, 12, 10), "completed", 60.0, 0.0, "PS-1")]
    return {
        "customers": [{"customer_id": c, "first_seen_at": at, "signup_channel": sc}
                      for c, at, sc in (("c1", T(2023, 1, 1), None), ("c2", T(2023, 1, 1), None),
                                        ("c3", T(2024, 2, 10), "paid_search"),
                                        ("c9", T(2023, 1, 1), None))],
        "marketing_spend": [dict(zip(("date", "channel", "campaign_id", "spend", "impressions",
                                      "clicks"), r, strict=True)) for r in spend],
        "events": [{"session_id": s, "user_id": u, "anonymous_id": a, "event_at": at,
                    "event_type": "view", "source": src, "medium": med, "campaign": camp}
                   for s, u, a, at, src, med, camp in ev],
        "orders": [{"order_id": o, "customer_id": c, "ordered_at": at, "channel": "web",
                    "status": st, "gross_amount": g, "discount_amount": d,
                    "shipping_amount": 0.0, "net_amount": g - d, "currency": "GBP",
                    "campaign_id": camp} for o, c, at, st, g, d, camp in orders],
        "returns": [{"return_id": "r1", "order_id": "o4", "customer_id": "c1", "kind": "return",
                     "quantity": 1, "amount": 20.0, "returned_at": T(2024, 2, 20)}],
    }


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.schema import get_table
    from shopscope.store import Workspace
    from tests.test_web import PASSWORD

    root = tmp_path_factory.mktemp("channels")
    folder = root / "shop"
    folder.mkdir()
    for name, data in _rows().items():
        pq.write_table(pa.Table.from_pylist(data, schema=get_table(name).ibis_schema()
                                            .to_pyarrow()), folder / f"{name}.parquet")
    w = Workspace.create(root / "ws", currency="GBP")
    ingest_file(w, folder, preset="canonical")
    UserStore(w.path).add("ada", PASSWORD, "admin")
    yield w
    w.close()


@pytest.fixture(scope="module")
def ctx(ws):
    from shopscope.core.service import LocalContext

    return LocalContext(ws)


def _row(frame, period, **key):
    rows = frame[frame["period"] == period]
    for k, v in key.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, (period, key)
    return rows.iloc[0]


def _report(ctx, **kw):
    kw.setdefault("start", D(2024, 1, 1))
    kw.setdefault("end", D(2024, 2, 29))
    return svc.channel_report(ctx, svc.ChannelParams(**kw))


@pytest.fixture(scope="module")
def monthly(ctx):
    return _report(ctx)


def test_measures_by_month_and_channel(monthly):
    f = monthly.frame
    assert sorted(set(f["period"])) == [D(2024, 1, 1), D(2024, 2, 1)]
    ps = _row(f, D(2024, 1, 1), channel="paid_search")
    assert (ps.sessions, ps.orders, ps.new_customers, ps.returning_customers) == (1, 1, 1, 0)
    assert (ps.gmv, ps.net_sales, ps.spend, ps.clicks, ps.impressions) == (50, 45, 100, 50, 1000)
    assert (ps.cpc, ps.cpa, ps.cac, ps.roas, ps.roas_net, ps.conversion) == pytest.approx(
        (2, 100, 100, 0.5, 0.45, 1))
    em = _row(f, D(2024, 1, 1), channel="email")
    assert (em.sessions, em.orders, em.new_customers, em.gmv, em.spend) == (1, 1, 1, 30, 0)
    assert math.isnan(em.roas) and em.cac == 0  # no spend: ROAS undefined, CAC 0
    ns = _row(f, D(2024, 1, 1), channel="(not set)")
    assert (ns.orders, ns.gmv, ns.new_customers, ns.sessions) == (1, 20, 0, 0)
    assert _row(f, D(2024, 1, 1), channel="organic").sessions == 1
    ps = _row(f, D(2024, 2, 1), channel="paid_search")
    assert (ps.sessions, ps.orders, ps.new_customers, ps.returning_customers) == (1, 2, 1, 1)
    assert (ps.gmv, ps.net_sales, ps.spend, ps.clicks) == (140, 120, 60, 30)
    assert (ps.cpc, ps.cpa, ps.cac, ps.roas, ps.roas_net, ps.conversion) == pytest.approx(
        (2, 30, 60, 140 / 60, 2, 2))
    assert (ps.acquired, ps.cac_acquired) == (1, 60)
    assert _row(f, D(2024, 1, 1), channel="paid_search").acquired == 0
    org = _row(f, D(2024, 2, 1), channel="organic")
    assert (org.sessions, org.orders, org.gmv, org.net_sales) == (1, 0, 40, 0)
    soc = _row(f, D(2024, 2, 1), channel="social")  # spend nothing else carries: kept
    assert (soc.spend, soc.clicks, soc.impressions, soc.orders, soc.cpc) == (40, 20, 2000, 0, 2)


def test_totals(monthly):
    t = monthly.totals.set_index("period")
    assert t.loc[D(2024, 1, 1), ["sessions", "orders", "new_customers", "gmv", "net_sales",
                                 "spend"]].tolist() == [3, 3, 2, 100, 95, 100]
    assert t.loc[D(2024, 2, 1), ["sessions", "orders", "new_customers", "returning_customers",
                                 "gmv", "net_sales", "spend"]].tolist() == [2, 2, 1, 1, 180,
                                                                            120, 100]


def test_source_medium_of_an_order_with_its_own_campaign(ctx):
    f = _report(ctx, by=("channel", "medium")).frame
    # o4 takes s4's medium (same campaign), o6 does not (s5 is organic): (not set)
    assert _row(f, D(2024, 2, 1), channel="paid_search", medium="cpc").orders == 1
    assert _row(f, D(2024, 2, 1), channel="paid_search", medium="(not set)").orders == 1


@pytest.mark.parametrize("by, grain", [(("channel",), "day"), (("source", "medium"), "month"),
                                       (("channel", "source", "medium", "campaign"), "week")])
def test_breakdowns_sum_to_totals(ctx, by, grain):
    out = _report(ctx, by=by, grain=grain)
    sums = out.frame.groupby("period")[["orders", "gmv", "spend", "new_customers",
                                        "sessions"]].sum()
    tot = out.totals.set_index("period")[sums.columns]
    assert sorted(sums.index) == sorted(tot.index)
    assert sums.loc[tot.index].to_numpy().ravel() == pytest.approx(tot.to_numpy().ravel())
    assert out.totals["spend"].sum() == 200  # Jan + Feb 2024 spend, whatever the grain


def test_previous_period(ctx):
    f = _report(ctx, compare="previous").frame
    ps = _row(f, D(2024, 2, 1), channel="paid_search")
    assert (ps.spend_ref, ps.orders_ref, ps.gmv_ref, ps.cac_ref) == (100, 1, 50, 100)
    assert (ps.spend_change, ps.orders_change, ps.gmv_change, ps.cac_change) == pytest.approx(
        (-0.4, 1, 1.8, -0.4))
    jan = _row(f, D(2024, 1, 1), channel="paid_search")  # December 2023 had nothing
    assert jan.spend_ref == 0 and math.isnan(jan.spend_change)


def test_same_period_a_year_before(ctx):
    f = _report(ctx, compare="year").frame
    ps = _row(f, D(2024, 2, 1), channel="paid_search")
    assert (ps.sessions_ref, ps.orders_ref, ps.gmv_ref, ps.spend_ref, ps.cac_ref) == (
        1, 1, 10, 50, 50)
    assert (ps.sessions_change, ps.orders_change, ps.gmv_change, ps.spend_change,
            ps.cac_change) == pytest.approx((0, 1, 13, 0.2, 0.2))


@pytest.mark.parametrize("compare", ["year", "previous"])
def test_a_range_without_data_is_empty(ctx, compare):
    out = _report(ctx, start=D(2000, 1, 1), end=D(2000, 1, 1), grain="day", compare=compare)
    assert out.frame.empty and out.totals.empty
    assert "spend_change" in out.frame.columns


@pytest.fixture(scope="module")
def client(ws):
    from shopscope.app import create_app
    from tests.test_web import client_for, login

    c = client_for(create_app(ws))
    assert login(c, "ada").status_code == 303
    return c


def _cli(ws, *args):
    from typer.testing import CliRunner

    from shopscope import cli

    if not any(g.name == "marketing" for g in cli.app.registered_groups):
        cli._register_subcommands()
    res = CliRunner().invoke(cli.app, ["marketing", "channels", "--workspace", str(ws.path),
                                       *args])
    # main() turns a project error into its exit code; in process it stays the exception
    err = res.stderr + (str(res.exception) if res.exception else "")
    return getattr(res.exception, "exit_code", res.exit_code), res.stdout, err


def test_service_api_and_cli_agree(ctx, ws, client):
    out = _report(ctx, by=("channel", "campaign"), compare="year")
    r = client.get("/api/marketing/channels", params={
        "start": "2024-01-01", "end": "2024-02-29", "by": "channel,campaign", "compare": "year"})
    assert r.status_code == 200, r.text
    api = r.json()
    assert len(api["rows"]) == len(out.frame)
    for row, (_, ref) in zip(api["rows"], out.frame.iterrows(), strict=True):
        assert row["key"] == {"channel": ref.channel, "campaign": ref.campaign}
        for m in ("orders", "gmv", "spend", "cac", "new_customers"):
            want = ref[m]
            assert (row["values"][m] is None) if math.isnan(want) else (
                row["values"][m] == pytest.approx(want)), m
        want = ref["spend_change"]
        got = row["change"]["spend"]
        assert got is None if math.isnan(want) else got == pytest.approx(want)
    code, text, err = _cli(ws, "--start", "2024-01-01", "--end", "2024-02-29", "--by",
                           "channel,campaign", "--compare", "year", "--format", "json")
    assert code == 0, err
    cli_rows = json.loads(text)
    assert len(cli_rows) == len(out.frame)
    for row, (_, ref) in zip(cli_rows, out.frame.iterrows(), strict=True):
        assert (row["channel"], row["campaign"]) == (ref.channel, ref.campaign)
        assert row["gmv"] == pytest.approx(ref.gmv) and row["spend"] == pytest.approx(ref.spend)
    csv = client.get("/api/marketing/channels", params={"format": "csv", "by": ""})
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("period,sessions")


@pytest.mark.parametrize("query, name", [({"grain": "year"}, "grain"),
                                         ({"by": "channel,country"}, "by"),
                                         ({"compare": "week"}, "compare"),
                                         ({"start": "2024-03-01", "end": "2024-01-01"}, "start")])
def test_bad_options_are_refused(ws, client, query, name):
    r = client.get("/api/marketing/channels", params=query)
    assert r.status_code == 422 and name in r.text, r.text
    args = [x for k, v in query.items() for x in (f"--{k}", v)]
    code, _, err = _cli(ws, *args)
    assert code == 2 and name in err, err


def test_cac_by_acquisition_recovers_the_synthetic_shops_cac(tmp_path_factory):
    """The generator (synth/marketing.py) acquires ``base + spend / cac`` customers a day
    on a paid channel, ``base`` being 15% of the channel's expected acquisitions (its
    ``base_share``). So spend / (0.85 x acquisitions) estimates ``cac``. Acquisitions per
    channel are multinomial draws: display, the smallest paid channel, gets about 8% of
    4,000 customers = 320 (relative sd 1/sqrt(320) = 5.6%); 20% is about 3.5 sd. The seed
    is fixed, so the test is deterministic.

    (CAC by the first order's touch does not recover it on this shop: the generator draws
    the source of a purchase session independently of the acquisition channel.)"""
    from shopscope.core.service import LocalContext
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from shopscope.synth.generate import generate
    from shopscope.synth.params import SynthConfig

    root = tmp_path_factory.mktemp("synth-cac")
    generate(root / "synth", customers=4000, seed=3, start="2023-01-01", days=365,
             events=False)
    w = Workspace.create(root / "ws")
    try:
        ingest_file(w, root / "synth", preset="canonical")
        out = svc.channel_report(LocalContext(w), svc.ChannelParams(grain="month"))
    finally:
        w.close()
    f = out.frame.groupby("channel")[["spend", "acquired"]].sum()
    assert out.frame["spend"].sum() == pytest.approx(out.totals["spend"].sum())
    paid = [c for c in SynthConfig().channels if c.cac is not None]
    assert len(paid) == 4
    for c in paid:
        estimate = f.loc[c.name, "spend"] / ((1 - c.base_share) * f.loc[c.name, "acquired"])
        assert estimate == pytest.approx(c.cac, rel=0.20), c.name


def test_an_empty_workspace_is_a_clear_refusal(tmp_path):
    from shopscope.core.service import LocalContext
    from shopscope.store import Workspace

    w = Workspace.create(tmp_path / "ws")
    try:
        with pytest.raises(svc.NoData, match="no orders or marketing spend"):
            svc.channel_report(LocalContext(w), svc.ChannelParams())
        code, _, err = _cli(w, "--format", "json")
        assert code == 1 and "no orders" in err
    finally:
        w.close()


def test_weeks_compare_with_52_weeks_before(ctx):
    """Week of Monday 2024-02-05: 52 weeks before is the week of 2023-02-06, which has
    nothing; the 2023 spend (Friday 2023-02-03) is in the week of 2023-01-30, where a
    calendar year back (2023-02-05, a Sunday) would have put the reference."""
    f = _report(ctx, grain="week", compare="year").frame
    ps = _row(f, D(2024, 2, 5), channel="paid_search")
    assert (ps.spend, ps.spend_ref, ps.orders_ref) == (60, 0, 0)
    assert math.isnan(ps.spend_change)
