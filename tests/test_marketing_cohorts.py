"""Cohort LTV, CAC and payback (issue 18, point 3) on a hand-built shop; every expected
number is worked out below from the rows, none is copied from the code's output.

Customers (signup_channel): c1, c2, c5 paid_social; c3 none; c4 blank; c6 a prospect.

=====  ========  ================  =========  ===  ==========================================
order  customer  ordered_at        status     net  note
=====  ========  ================  =========  ===  ==========================================
o1     c1        2024-01-10 10:00  completed  100  first order of c1 (Jan cohort)
o2     c1        2024-01-20 10:00  completed   50  day 10
o3     c1        2024-03-01 10:00  completed   30  day 51
o4     c2        2024-01-25 12:00  completed   40  first order of c2 (Jan cohort)
o5     c2        2024-04-15 12:00  completed   25  day 81: last order, data end 2024-04-16
o6     c3        2024-02-05 10:00  completed   80  first order of c3 (Feb cohort)
o7     c3        2024-02-06 10:00  cancelled  999  counts nothing
o8     c4        2024-02-10 10:00  pending     60  first order of c4 (Feb), order channel app
o9     c4        2024-02-12 10:00  refunded   200  counts nothing
o10    c5        2024-02-15 10:00  completed   70  first order of c5 (Feb cohort)
o11    c5        2024-02-20 10:00  completed   10  day 5
o00    c3        2024-01-01 10:00  cancelled   15  a cancelled order does not acquire
=====  ========  ================  =========  ===  ==========================================

Credits: r1 20.00 on o1 at 2024-01-15 (day 5 of c1); r2 99.00 on o9 (refunded, counts
nothing).

Acquisition channel: c1, c2, c5 paid_social (signup). c3: no signup; sessions s2
(facebook, 2024-02-01) and s3 (anonymous landing from google at 09:00, c3 logs in at 09:05,
buys at 10:00) before the first order, s9 (bing) after it: the last session before is s3,
landing source google. c4: blank signup, no events: the first order's channel, app.

Data end: 2024-04-16. A Jan cohort has h days when 2024-02-01 + h <= 2024-04-16, i.e.
h <= 75: 7 and 30 yes, 90 no. Feb: 2024-03-01 + h <= 2024-04-16, h <= 46: 7, 30 yes.

paid_social 2024-01 (c1, c2): 7 days: c1 100 - 20 = 80, c2 40 -> LTV_7 = 60;
30 days: c1 80 + 50 = 130, c2 40 -> LTV_30 = 85; LTV_90 None (too young).
Curve: month 1 (30 d) 85; month 2 (60 d, 2024-02-01 + 60 = 04-01 <= 04-16): c1 160,
c2 40 -> 100; month 3 (90 d) too young.
Spend 2024-01: 100 + 20 -> CAC = 120 / 2 = 60; LTV/CAC_7 = 1, LTV/CAC_30 = 85/60.
Payback at margin 1: 60 >= 60 at 7 days, month 1 (85 >= 60). At margin 0.5: 30, 42.5
(horizons), 42.5, 50 (months) all < 60 -> None.
paid_social 2024-02 (c5): 7 days 70 + 10 = 80, 30 days 80; spend 100 -> CAC 100,
LTV/CAC_7 0.8, payback None. google 2024-02 (c3): 80 / 80, no spend: CAC None.
app 2024-02 (c4): 60 / 60 (the refunded order and its credit count nothing).
Spend 2024-03 paid_social 50: no new customer that month -> in a note, no cohort.
By campaign: c1, c2, c5 have no session: the first order's campaign_id (o1 PS-A,
o4 PS-B, o10 PS-A); c3 the session's campaign G-1; c4 none.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopscope.schema import get_table


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


_ORDERS = [
    ("o00", "c3", "2024-01-01 10:00", "cancelled", 15.0, None),
    ("o1", "c1", "2024-01-10 10:00", "completed", 100.0, "PS-A"),
    ("o2", "c1", "2024-01-20 10:00", "completed", 50.0, None),
    ("o3", "c1", "2024-03-01 10:00", "completed", 30.0, None),
    ("o4", "c2", "2024-01-25 12:00", "completed", 40.0, "PS-B"),
    ("o5", "c2", "2024-04-15 12:00", "completed", 25.0, None),
    ("o6", "c3", "2024-02-05 10:00", "completed", 80.0, None),
    ("o7", "c3", "2024-02-06 10:00", "cancelled", 999.0, None),
    ("o8", "c4", "2024-02-10 10:00", "pending", 60.0, None),
    ("o9", "c4", "2024-02-12 10:00", "refunded", 200.0, None),
    ("o10", "c5", "2024-02-15 10:00", "completed", 70.0, "PS-A"),
    ("o11", "c5", "2024-02-20 10:00", "completed", 10.0, None),
]
ROWS = {
    "customers": [
        {"customer_id": c, "signup_channel": s}
        for c, s in (("c1", "paid_social"), ("c2", "paid_social"), ("c3", None), ("c4", " "),
                     ("c5", "paid_social"), ("c6", "paid_social"))
    ],
    "orders": [
        {"order_id": o, "customer_id": c, "ordered_at": _t(at), "channel":
         "app" if c == "c4" else "web", "status": st, "gross_amount": net,
         "discount_amount": 0.0, "shipping_amount": 0.0, "net_amount": net, "currency": "GBP",
         "campaign_id": camp}
        for o, c, at, st, net, camp in _ORDERS
    ],
    "returns": [
        {"return_id": "r1", "order_id": "o1", "customer_id": "c1", "kind": "return",
         "quantity": 1, "amount": 20.0, "returned_at": _t("2024-01-15 10:00")},
        {"return_id": "r2", "order_id": "o9", "customer_id": "c4", "kind": "return",
         "quantity": 1, "amount": 99.0, "returned_at": _t("2024-02-13 10:00")},
    ],
    "events": [
        {"event_at": _t(at), "user_id": u, "anonymous_id": "a3", "session_id": s,
         "event_type": et, "source": src, "campaign": camp, "channel": "web"}
        for at, u, s, et, src, camp in (
            ("2024-02-01 09:00", "c3", "s2", "view", "facebook", "FB-1"),
            ("2024-02-05 09:00", None, "s3", "view", "google", "G-1"),
            ("2024-02-05 09:05", "c3", "s3", "login", None, None),
            ("2024-02-05 10:00", "c3", "s3", "purchase", None, None),
            ("2024-02-07 09:00", "c3", "s9", "view", "bing", "B-1"),
        )
    ],
    "marketing_spend": [
        {"date": dt.date(2024, 1, 3), "channel": "paid_social", "campaign_id": "PS-A",
         "spend": 100.0},
        {"date": dt.date(2024, 1, 20), "channel": "paid_social", "campaign_id": "PS-B",
         "spend": 20.0},
        {"date": dt.date(2024, 2, 2), "channel": "paid_social", "campaign_id": "PS-A",
         "spend": 100.0},
        {"date": dt.date(2024, 3, 2), "channel": "paid_social", "campaign_id": "PS-A",
         "spend": 50.0},
    ],
}
JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
_H = (7, 30, 90, 180, 365)
_WITHIN = ("coalesce(sum(r.amount) FILTER (WHERE r.at >= a.first_at AND "
           "r.at < a.first_at + INTERVAL {d} DAY), 0) AS {name}")
_OLD_ENOUGH = ("CASE WHEN g.cohort + INTERVAL 1 MONTH + INTERVAL {d} DAY <= dend.d "
               "THEN {name} / g.customers END AS {out}")
_SUMS = [(f"v{h}", h, f"ltv_{h}") for h in _H] + [(f"m{k}", 30 * k, f"curve_{k}")
                                                 for k in range(1, 13)]
#: The same rules written by hand in DuckDB SQL: an independent computation of the
#: realised LTV, curves and CAC by channel (docs/marketing.md).
HAND_SQL = f"""
WITH f AS (
  SELECT customer_id, ordered_at AS first_at, channel AS och FROM (
    SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) rn
    FROM orders WHERE customer_id IS NOT NULL AND status <> 'cancelled') WHERE rn = 1),
fc AS (SELECT f.*, nullif(trim(c.signup_channel), '') AS signup FROM f
       LEFT JOIN customers c USING (customer_id)),
last_s AS (
  SELECT customer_id, arg_max(e.session_id, e.event_at) AS sid FROM fc
  JOIN events e ON e.user_id = fc.customer_id AND e.event_at <= fc.first_at
  WHERE fc.signup IS NULL AND e.session_id IS NOT NULL GROUP BY customer_id),
land AS (
  SELECT l.customer_id, arg_min(coalesce(nullif(trim(e.source), ''),
                                         nullif(trim(e.channel), ''), ''), e.event_at) AS sch
  FROM last_s l JOIN events e ON e.session_id = l.sid GROUP BY l.customer_id),
acq AS (
  SELECT fc.customer_id, fc.first_at, date_trunc('month', fc.first_at)::DATE AS cohort,
         coalesce(fc.signup, nullif(land.sch, ''), nullif(trim(fc.och), ''), '(unknown)') AS key
  FROM fc LEFT JOIN land USING (customer_id)),
rev AS (
  SELECT customer_id, ordered_at AS at, net_amount AS amount FROM orders
  WHERE customer_id IS NOT NULL AND status IN ('completed', 'pending')
  UNION ALL
  SELECT coalesce(o.customer_id, r.customer_id), r.returned_at, -r.amount
  FROM returns r LEFT JOIN orders o USING (order_id)
  WHERE (o.order_id IS NULL OR o.status IN ('completed', 'pending'))
    AND coalesce(o.customer_id, r.customer_id) IS NOT NULL),
pc AS (
  SELECT a.key, a.cohort, a.customer_id,
         {", ".join(_WITHIN.format(d=d, name=n) for n, d, _ in _SUMS)}
  FROM acq a LEFT JOIN rev r USING (customer_id) GROUP BY ALL),
g AS (SELECT key, cohort, count(*) AS customers,
        {", ".join(f"sum({n}) AS {n}" for n, _, _ in _SUMS)} FROM pc GROUP BY ALL),
dend AS (SELECT date_trunc('day', max(ordered_at)) + INTERVAL 1 DAY AS d FROM orders),
sp AS (SELECT channel AS key, date_trunc('month', date)::DATE AS cohort, sum(spend) AS spend
       FROM marketing_spend GROUP BY ALL)
SELECT g.key, g.cohort, g.customers,
  {", ".join(_OLD_ENOUGH.format(d=d, name=n, out=o) for n, d, o in _SUMS)},
  coalesce(sp.spend, 0) AS spend, CASE WHEN sp.spend > 0 THEN sp.spend / g.customers END AS cac
FROM g CROSS JOIN dend LEFT JOIN sp USING (key, cohort) ORDER BY key, cohort
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    root = tmp_path_factory.mktemp("cohort_shop")
    folder = root / "data"
    folder.mkdir()
    for name, rows in ROWS.items():
        schema = get_table(name).ibis_schema().to_pyarrow()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / f"{name}.parquet")
    w = Workspace.create(root / "ws")
    ingest_file(w, folder, preset="canonical")
    yield w
    w.close()


def _run(ws, **kw):
    from shopscope.core.service import LocalContext
    from shopscope.marketing import service_cohorts as svc

    return svc.cohort_ltv(LocalContext(ws), svc.make(svc.CohortParams, **kw))


def _row(out, key, cohort):
    rows = out.cohorts[(out.cohorts.key == key) & (out.cohorts.cohort == cohort)]
    assert len(rows) == 1, out.cohorts
    return rows.iloc[0]


def test_ltv_cac_and_payback_by_hand(ws):
    out = _run(ws, projected=False)
    assert out.data_end == dt.date(2024, 4, 16)
    jan = _row(out, "paid_social", JAN)
    assert jan.customers == 2
    assert jan.ltv_7 == pytest.approx(60) and jan.ltv_30 == pytest.approx(85)
    assert jan.ltv_90 is None and jan.ltv_180 is None and jan.ltv_365 is None
    assert jan.spend == pytest.approx(120) and jan.cac == pytest.approx(60)
    assert jan.ltv_cac_7 == pytest.approx(1.0) and jan.ltv_cac_30 == pytest.approx(85 / 60)
    assert jan.ltv_cac_90 is None
    assert jan.payback_days == 7 and jan.payback_months == 1
    feb = _row(out, "paid_social", FEB)
    assert (feb.customers, feb.ltv_7, feb.ltv_30, feb.cac) == (1, 80, 80, 100)
    assert feb.ltv_cac_7 == pytest.approx(0.8)
    assert feb.payback_days is None and feb.payback_months is None
    google = _row(out, "google", FEB)
    assert (google.customers, google.ltv_7, google.ltv_30) == (1, 80, 80)
    assert google.cac is None and google.spend == 0 and google.payback_days is None
    app = _row(out, "app", FEB)
    assert (app.customers, app.ltv_7, app.ltv_30) == (1, 60, 60)
    curve = out.curves[(out.curves.key == "paid_social") & (out.curves.cohort == JAN)]
    assert curve.month.tolist() == [1, 2]
    assert curve.cum_revenue.tolist() == pytest.approx([85, 100])
    assert out.curves[(out.curves.cohort == FEB)].month.max() == 1
    assert any("50.00" in n for n in out.notes)  # March spend without new customers
    hand = ws.store.backend.con.sql(HAND_SQL).df()  # the rules in SQL agree too
    assert hand.key.tolist() == out.cohorts.key.tolist() == ["app", "google", "paid_social",
                                                             "paid_social"]
    assert hand.ltv_30.tolist() == pytest.approx(out.cohorts.ltv_30.astype(float).tolist())


def test_margin_delays_payback(ws):
    out = _run(ws, projected=False, margin=0.5)
    jan = _row(out, "paid_social", JAN)
    assert jan.payback_days is None and jan.payback_months is None
    assert jan.ltv_7 == pytest.approx(60)  # LTV itself is revenue, margin only for payback


def test_customers_by_channel_sum_to_all_buyers(ws):
    out = _run(ws, projected=False)
    assert out.cohorts.customers.sum() == 5  # c6 never bought
    by_key = out.by_key.set_index("key")
    assert by_key.loc["paid_social", "customers"] == 3
    assert by_key.loc["paid_social", "spend"] == pytest.approx(220)
    # 7-day LTV over both paid cohorts, customer-weighted: (60*2 + 80) / 3
    assert by_key.loc["paid_social", "ltv_7"] == pytest.approx(200 / 3)


def test_by_campaign_and_range(ws):
    out = _run(ws, projected=False, by="campaign")
    keys = {(r.key, r.cohort): r.customers for r in out.cohorts.itertuples()}
    assert keys == {("PS-A", JAN): 1, ("PS-B", JAN): 1, ("PS-A", FEB): 1, ("G-1", FEB): 1,
                    ("(none)", FEB): 1}
    assert _row(out, "PS-B", JAN).cac == pytest.approx(20)
    only_feb = _run(ws, projected=False, start="2024-02-01", end="2024-02-29")
    assert set(only_feb.cohorts.cohort) == {FEB}
    assert only_feb.cohorts.customers.sum() == 3


@pytest.mark.parametrize("bad", [{"margin": 0}, {"margin": 1.5}, {"by": "source"},
                                 {"horizons": (0,)}, {"end": "9999-12-31"},
                                 {"start": "2024-03-01",
                                                      "end": "2024-01-01"}])
def test_bad_params_are_option_errors(bad):
    from shopscope.errors import OptionError
    from shopscope.marketing import service_cohorts as svc

    with pytest.raises(OptionError):
        svc.make(svc.CohortParams, **bad)


def _cli(ws, *args):
    from typer.testing import CliRunner

    import shopscope.cli as cli

    if not any(g.name == "marketing" for g in cli.app.registered_groups):
        cli._register_subcommands()
    return CliRunner().invoke(cli.app, ["marketing", "cohorts", "--workspace", str(ws.path),
                                        *args])


def test_cli_and_api_equal_the_service(ws, tmp_path):
    svc_out = _run(ws, projected=False)
    r = _cli(ws, "--format", "json", "--no-projected")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    cli_jan = next(x for x in rows if x["key"] == "paid_social" and x["cohort"] == "2024-01-01")
    assert cli_jan["ltv_30"] == pytest.approx(85) and cli_jan["ltv_90"] is None
    assert len(rows) == len(svc_out.cohorts)
    for mine, theirs in zip(svc_out.cohorts.to_dict("records"), rows, strict=True):
        assert (mine["key"], mine["cohort"].isoformat()) == (theirs["key"], theirs["cohort"])
        for h in (7, 30, 90, 180, 365):
            assert theirs[f"ltv_{h}"] == (None if mine[f"ltv_{h}"] is None
                                          else pytest.approx(mine[f"ltv_{h}"]))
    table = _cli(ws, "--margin", "0.4", "--no-projected")
    assert table.exit_code == 0, table.output
    from shopscope.errors import OptionError

    for bad in (["--margin", "2"], ["--by", "source"], ["--format", "xml"],
                ["--horizons", "7,x"]):
        err = _cli(ws, *bad).exception  # main() turns it into exit code 2
        assert isinstance(err, OptionError) and err.exit_code == 2, bad

    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from tests.conftest import api_client

    UserStore(ws.path).add("ana", "correct horse battery staple", "analyst")
    c = api_client(create_app(ws.path), "ana", "correct horse battery staple")
    api = c.get("/api/marketing/cohorts", params={"projected": "false"})
    assert api.status_code == 200, api.text
    body = api.json()
    jan = next(x for x in body["cohorts"] if x["key"] == "paid_social"
               and x["cohort"] == "2024-01-01")
    assert jan["ltv"]["30"] == pytest.approx(85) and jan["cac"] == pytest.approx(60)
    assert jan["ltv"]["90"] is None and jan["payback_days"] == 7
    assert jan["ltv_cac"]["7"] == pytest.approx(1.0)
    assert len(body["cohorts"]) == len(svc_out.cohorts)
    for mine, theirs in zip(svc_out.cohorts.to_dict("records"), body["cohorts"], strict=True):
        assert theirs["cac"] == (None if mine["cac"] is None else pytest.approx(mine["cac"]))
        assert theirs["ltv"]["30"] == pytest.approx(mine["ltv_30"])
    # the default asks for the projection; whether or not the CLV model fits this tiny
    # shop, the realised numbers stay the same and a note says what the projection is
    full = c.get("/api/marketing/cohorts").json()
    assert [r["ltv"] for r in full["cohorts"]] == [r["ltv"] for r in body["cohorts"]]
    assert any(n.startswith("projected") for n in full["notes"])
    assert c.get("/api/marketing/cohorts", params={"margin": "0"}).status_code == 422
    assert c.get("/api/marketing/cohorts", params={"by": "x"}).status_code == 422
    assert c.get("/api/marketing/cohorts", params={"horizons": "7,x"}).status_code == 422
    csv = c.get("/api/marketing/cohorts", params={"format": "csv", "projected": "false"})
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("key,cohort")
    import io

    pq_resp = c.get("/api/marketing/cohorts", params={"format": "parquet", "projected": "false"})
    assert pq_resp.status_code == 200, pq_resp.text
    back = pd.read_parquet(io.BytesIO(pq_resp.content))
    assert back.ltv_30.tolist() == pytest.approx(svc_out.cohorts.ltv_30.astype(float).tolist())
    assert back.ltv_90.isna().all() and back.customers.sum() == 5


def test_an_empty_workspace_has_no_cohorts_and_says_so(workspace):
    out = _run(workspace)
    assert out.cohorts.empty and out.by_key.empty and out.data_end is None
    assert any(n.startswith("no cohorts") for n in out.notes)


def test_synthetic_cac_near_the_generators_truth(tmp_path):
    """Spend / new buyers per paid channel over the whole run. The generator acquires
    ``base + spend / cac`` customers per day (base_share of them without spend) and
    ``prospect_share`` of them never buy, so the expected spend per buying customer is
    ``cac * (1 - base_share) / (1 - prospect_share)``. Tolerance 15%: a few hundred buyers
    per channel (Poisson noise ~6-10%) and first orders cancelled in the generator."""
    from shopscope.core.service import LocalContext
    from shopscope.ingest import ingest_file
    from shopscope.marketing import service_cohorts as svc
    from shopscope.store import Workspace
    from shopscope.synth import generate
    from shopscope.synth.params import DEFAULT_CHANNELS, SynthConfig

    generate(tmp_path / "synth", customers=4000, seed=3, start="2023-01-01", days=365,
             products=30, events=False)
    w = Workspace.create(tmp_path / "ws")
    ingest_file(w, tmp_path / "synth", preset="canonical")
    out = svc.cohort_ltv(LocalContext(w), svc.make(svc.CohortParams))
    hand = w.store.backend.con.sql(HAND_SQL).df()
    w.close()
    assert len(hand) == len(out.cohorts) > 20
    assert hand.key.tolist() == out.cohorts.key.tolist()
    for col in [*(f"ltv_{h}" for h in _H), "cac", "spend", "customers"]:
        assert out.cohorts[col].astype(float).to_numpy() == pytest.approx(
            hand[col].astype(float).to_numpy(), nan_ok=True), col
    rows = list(zip(hand.key, pd.to_datetime(hand.cohort).dt.date, strict=True))
    curves = out.curves.pivot(index=["key", "cohort"], columns="month",
                              values="cum_revenue").reindex(rows)
    for k in range(1, 13):
        mine = curves[k].to_numpy() if k in curves else [math.nan] * len(hand)
        assert mine == pytest.approx(hand[f"curve_{k}"].astype(float).to_numpy(),
                                     nan_ok=True), k
    # the projection: the CLV model's expected 12-month value, positive for every cohort
    assert (out.cohorts.projected_ltv_12m.astype(float) > 0).all()
    prospect = SynthConfig().prospect_share
    by_key = out.by_key.set_index("key")
    checked = 0
    for ch in DEFAULT_CHANNELS:
        if ch.cac is None:
            continue
        truth = ch.cac * (1 - ch.base_share) / (1 - prospect)
        assert by_key.loc[ch.name, "cac"] == pytest.approx(truth, rel=0.15), ch.name
        checked += 1
    assert checked == 4
    assert math.isnan(by_key.loc["organic_search", "cac"] or math.nan)

