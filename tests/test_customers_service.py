"""Customers API and pages: numbers against the analytics functions, CLV fit and holdout,
profiles with PII by role, localized pages with their charts, login required.

Expected numbers are computed independently here with the analytics functions on the
same store (not through the API's helpers).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re

import ibis
import pytest

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.customers import (
    classic_segment,
    derive_windows,
    eleven_segment,
    rfm_scores,
    rfm_table,
    stages_as_of,
    transition_matrix,
)
from shopscope.ingest import ingest_file
from shopscope.schema import get_table
from shopscope.store import Workspace
from tests.conftest import api_client
from tests.pagecheck import assert_local_only, page_urls

PASSWORDS = {"ada": "admin-pass-123", "vic": "viewer-pass-123", "zed": "viewer-pass-456"}
PII = {"customer_id": "zz1", "email": "jane.doe@example.com", "phone": "+44 20 7946 0018",
       "name": "Jane Doe", "country": "United Kingdom"}
LINES = 20_000


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("customers")
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(LINES + 1)), encoding="utf-8")
    workspace = Workspace.create(root / "ws", currency="GBP", name="cust")
    ingest_file(workspace, head, preset="online_retail")
    schema = get_table("customers").ibis_schema().to_pyarrow()
    # "rfm" and "export" are also names of customer endpoints: the profile must not collide
    rows = [PII, {"customer_id": "rfm", "name": "Route Name"},
            {"customer_id": "export", "name": "Route Name"}]
    workspace.store.insert("customers", ibis.memtable(
        [{c: r.get(c) for c in get_table("customers").names} for r in rows], schema=schema))
    users = UserStore(workspace.path)
    users.add("ada", PASSWORDS["ada"], "admin")
    users.add("vic", PASSWORDS["vic"], "viewer")
    users.add("zed", PASSWORDS["zed"], "viewer", lang="zh")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def app(ws):
    return create_app(ws)


def client(app, user: str | None = None):
    return api_client(app, user, PASSWORDS.get(user or ""))


@pytest.fixture(scope="module")
def as_of(ws) -> dt.date:
    last = ws.store.table("orders").ordered_at.max().execute()
    return last.date() + dt.timedelta(days=1)


def test_login_required(app):
    c = client(app)
    for path in ("/api/customers/rfm", "/api/customers/lifecycle",
                 "/api/customers/lifecycle/transitions", "/api/customers/clv",
                 "/api/customers/profile/17850"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "not_authenticated"
    r = c.get("/customers", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert c.get("/customers/17850", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("scheme", ["classic", "eleven"])
def test_rfm_segments_match_analytics(app, ws, as_of, scheme):
    scored = rfm_scores(rfm_table(ws.store, as_of))
    seg = classic_segment(scored) if scheme == "classic" else eleven_segment(scored)
    expected = seg.group_by("segment").aggregate(n=seg.count(), m=seg.monetary.sum()).execute()
    expected = {r["segment"]: (int(r["n"]), r["m"]) for r in expected.to_dict("records")}
    body = client(app, "vic").get(f"/api/customers/rfm?scheme={scheme}").json()
    assert body["as_of"] == as_of.isoformat() and body["scheme"] == scheme
    got = {r["segment"]: (r["customers"], r["monetary"]) for r in body["items"]}
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in expected.items()}
    for k, (_, m) in expected.items():
        assert got[k][1] == pytest.approx(m)
    assert sum(r["share"] for r in body["items"]) == pytest.approx(1.0)
    assert sum(r["revenue_share"] for r in body["items"]) == pytest.approx(1.0)


def test_rfm_labels_follow_language_and_as_of(app, ws):
    c = client(app, "zed")  # a Chinese-speaking viewer
    items = c.get("/api/customers/rfm").json()["items"]
    assert any(r["label"] == "重要价值客户" for r in items)
    items = c.get("/api/customers/rfm?lang=en").json()["items"]
    assert any(r["label"] == "Important value" for r in items)
    early = c.get("/api/customers/rfm?as_of=2011-01-01").json()
    n = int(rfm_table(ws.store, "2011-01-01").count().execute())
    assert early["customers"] == n
    assert c.get("/api/customers/rfm?scheme=nope").status_code == 422


def test_lifecycle_counts_match_analytics(app, ws, as_of):
    derived = derive_windows(ws.store, as_of)
    st = stages_as_of(ws.store, as_of, derived.windows).execute()
    expected = st.stage.value_counts().to_dict()
    body = client(app, "vic").get("/api/customers/lifecycle").json()
    w = body["windows"]
    assert (w["new_days"], w["active_days"], w["churn_days"]) == (
        derived.windows.new_days, derived.windows.active_days, derived.windows.churn_days)
    assert w["derived"] is True
    got = {s["stage"]: s["customers"] for s in body["stages"]}
    assert [s["stage"] for s in body["stages"]] == ["prospect", "new", "active", "dormant",
                                                   "churned"]
    assert {k: v for k, v in got.items() if v} == expected
    assert body["customers"] == len(st)
    # user windows are used as given
    body = client(app, "vic").get(
        "/api/customers/lifecycle?new_days=30&active_days=90&churn_days=180").json()
    assert body["windows"]["derived"] is False and body["windows"]["churn_days"] == 180
    bad = client(app, "vic").get("/api/customers/lifecycle?new_days=30")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_windows"


def test_transitions_match_analytics(app, ws):
    start, end = dt.date(2010, 12, 1), dt.date(2011, 3, 1)
    expected = transition_matrix(ws.store, start, end)
    body = client(app, "vic").get(
        f"/api/customers/lifecycle/transitions?start={start}&end={end}").json()
    assert len(body["items"]) == 25
    got = {(r["from_stage"], r["to_stage"]): r["customers"] for r in body["items"]}
    assert got == {(r["from_stage"], r["to_stage"]): int(r["customers"])
                   for r in expected.to_dict("records")}


def test_clv_params_histogram_and_holdout(app, ws):
    c = client(app, "vic")
    full = c.get("/api/customers/clv")
    assert full.status_code == 200, full.text
    body = full.json()
    assert set(body["params"]["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(body["params"]["gamma_gamma"]) == {"p", "q", "gamma"}
    assert body["holdout"] is None  # calibration to the last order day: nothing held out
    assert sum(b["customers"] for b in body["histogram"]) == body["totals"]["customers"]
    assert body["log_likelihood"]["bgnbd"] < 0
    split = c.get("/api/customers/clv?calibration_end=2011-02-01&horizon_months=6").json()
    assert split["horizon_months"] == 6
    rows = split["holdout"]["rows"]
    assert [r["label"] for r in rows][-1] == "7+"
    assert sum(r["customers"] for r in rows) == split["totals"]["customers"]
    assert all(r["predicted"] is None or r["predicted"] >= 0 for r in rows)
    # too early to fit: 422 with the model's hint
    r = c.get("/api/customers/clv?calibration_end=2010-12-01")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"].startswith("clv_") and err["hint"]
    for day in ("9999-12-31", "0001-01-01"):  # a 422 with a reason, not a 500
        r = c.get(f"/api/customers/clv?calibration_end={day}")
        # refused at the edge (dates outside 1900-2199) before the CLV's own range check
        err = r.json()["error"]
        assert r.status_code == 422 and err["code"] == "invalid_request"
        assert "calibration_end" in err["message"]
        page = c.get(f"/customers?calibration_end={day}")
        # a page answers with an HTML error page naming the parameter (issue 13)
        assert page.status_code == 422 and "text/html" in page.headers["content-type"]
        assert f"calibration_end: {day}" in page.text


def _dropout_block(html: str) -> str | None:
    m = re.search(r'<div[^>]*data-testid="clv-dropout".*?</div>', html, re.S)
    return m.group(0) if m else None


def _total(html: str, key: str) -> str:
    m = re.search(rf'data-total="{key}"><dt>[^<]*</dt><dd>([^<]*)</dd>', html)
    assert m, key
    return m.group(1)


def test_clv_too_little_dropout_in_api_and_page(app, ws):
    """This Online Retail slice fits a ~ 0 (everyone alive) while lifecycle has many
    churned: the API says so in ``dropout``, the page warns in both languages and shows
    the holdout error beside the warning."""
    from shopscope.ui.i18n import Translator

    c = client(app, "vic")
    body = c.get("/api/customers/clv").json()  # whole history: no holdout of its own
    d = body["dropout"]
    assert d["too_little_dropout"] is True and body["holdout"] is None
    assert d["mean_probability_alive"] >= 0.99 and d["lifecycle_churned_share"] >= 0.10
    orders = ws.store.table("orders")
    first = orders.ordered_at.min().execute().date()
    last = orders.ordered_at.max().execute().date()
    split = last - dt.timedelta(days=round((last - first).days / 3))  # last third held out
    assert d["holdout_calibration_end"] == split.isoformat()
    assert d["holdout_observation_end"] == last.isoformat()
    assert d["holdout_error_pct"] is not None
    # the page fits to the same default split, so its holdout is the one in the warning
    page = c.get("/api/customers/clv", params={"calibration_end": split.isoformat()}).json()
    error = page["holdout"]["total_error_pct"]
    assert page["dropout"]["holdout_error_pct"] == pytest.approx(error)
    for user, lang, title in (("vic", "en", "too little dropout to judge"),
                              ("zed", "zh", "模型识别出的流失太少")):
        html = client(app, user).get("/customers").text
        block = _dropout_block(html)
        assert block is not None and title in block, lang
        assert float(re.search(r'data-holdout-error="([^"]+)"', block).group(1)) == \
            pytest.approx(error)
        assert Translator(lang).percent(error / 100) in block
        assert _total(html, "spend_excluded") == "0"
        assert ("Repeat buyers left out of the spend model" if lang == "en"
                else "未纳入消费金额模型的复购客户") in html


@pytest.fixture(scope="module")
def cdnow_app(tmp_path_factory):
    from tests.conftest import shared_file

    path = shared_file("cdnow", "CDNOW_master.txt.gz")
    workspace = Workspace.create(tmp_path_factory.mktemp("cdnow") / "ws", currency="USD")
    ingest_file(workspace, path, preset="cdnow")
    users = UserStore(workspace.path)
    users.add("vic", PASSWORDS["vic"], "viewer")
    users.add("zed", PASSWORDS["zed"], "viewer", lang="zh")
    yield path, create_app(workspace)
    workspace.close()


def test_clv_on_cdnow_master_counts_excluded_buyers_and_does_not_warn(cdnow_app):
    from tests.test_clv import raw_cdnow_nonpositive_repeat_spenders

    path, cd_app = cdnow_app
    expected = len(raw_cdnow_nonpositive_repeat_spenders(path))  # 1: free repeat CDs
    c = client(cd_app, "vic")
    body = c.get("/api/customers/clv").json()
    assert body["spend"] == "net" and body["spend_excluded"] == expected
    assert body["dropout"]["too_little_dropout"] is False
    assert c.get("/api/customers/clv?spend=gross").json()["spend"] == "gross"
    bad = c.get("/api/customers/clv?spend=list")
    assert bad.status_code == 422 and "'net' or 'gross'" in bad.json()["error"]["message"]
    for user in ("vic", "zed"):
        html = client(cd_app, user).get("/customers?calibration_end=1998-06-30").text
        assert _total(html, "spend_excluded") == str(expected)
        assert _dropout_block(html) is None and 'data-testid="clv-error"' not in html


def test_profile_404_and_pii_by_role(app, ws):
    r = client(app, "vic").get("/api/customers/profile/no-such-customer")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    masked = client(app, "vic").get("/api/customers/profile/zz1").json()
    assert masked["pii"] == "mask"
    assert masked["customer"]["email"] == "j***@example.com"
    assert masked["customer"]["name"] == "J***"
    assert "Jane Doe" not in json.dumps(masked)
    raw = client(app, "ada").get("/api/customers/profile/zz1").json()
    assert raw["customer"]["email"] == PII["email"] and raw["stage"] == "prospect"


@pytest.mark.parametrize("customer_id", ["rfm", "export", "lifecycle"])
def test_customer_ids_that_are_route_names(app, customer_id):
    r = client(app, "ada").get(f"/api/customers/profile/{customer_id}")
    if customer_id == "lifecycle":  # no such customer: a 404, not the lifecycle endpoint
        assert r.status_code == 404
        return
    assert r.status_code == 200 and r.json()["customer"]["name"] == "Route Name"


def test_profile_of_a_buyer(app, ws, as_of):
    body = client(app, "vic").get("/api/customers/profile/17850").json()
    rfm = rfm_table(ws.store, as_of)
    row = rfm.filter(rfm.customer_id == "17850").execute().iloc[0]
    assert body["rfm"]["frequency"] == row["frequency"]
    assert body["rfm"]["monetary"] == pytest.approx(row["monetary"])
    orders = ws.store.table("orders")
    n = int(orders.filter(orders.customer_id == "17850").count().execute())
    assert body["orders_total"] == n and len(body["orders"]) == min(n, 50)
    assert body["segments"]["classic"]["label"] and body["stage"] in {
        "new", "active", "dormant", "churned"}
    assert body["clv"] is not None and 0 <= body["clv"]["probability_alive"] <= 1


def _charts(html: str) -> list[dict]:
    m = re.search(r'id="charts-data">(.*?)</script>', html, re.S)
    assert m, "no chart data"
    return json.loads(m.group(1))["charts"]


def test_customers_page_en_and_zh(app):
    c = client(app, "vic")
    r = c.get("/customers")
    assert r.status_code == 200
    assert "RFM segments" in r.text and "Important value" in r.text
    charts = {ch["id"]: ch["figure"] for ch in _charts(r.text)}
    assert set(charts) == {"chart-segments", "chart-flow", "chart-clv", "chart-holdout"}
    assert charts["chart-segments"]["data"][0]["type"] == "treemap"
    assert charts["chart-flow"]["data"][0]["type"] == "sankey"
    assert "GBP" in charts["chart-clv"]["layout"]["xaxis"]["title"]["text"]
    assert charts["chart-holdout"]["layout"]["yaxis"]["title"]["text"]
    assert_local_only(r.text)
    assert any(u.startswith("/assets/plotly-") for u in page_urls(r.text))
    zh = client(app, "zed").get("/customers?scheme=eleven")
    assert "RFM 客户分群" in zh.text and "冠军客户" in zh.text and 'lang="zh-CN"' in zh.text
    titles = [ch["figure"]["layout"]["title"]["text"] for ch in _charts(zh.text)]
    assert any("生命周期" in t for t in titles)
    bad = c.get("/customers?as_of=nope")
    assert bad.status_code == 200 and "is not a date" in bad.text


def test_profile_page_by_role(app):
    r = client(app, "vic").get("/customers/zz1")
    assert r.status_code == 200 and "j***@example.com" in r.text
    assert "jane.doe@example.com" not in r.text and "Jane Doe" not in r.text
    assert "jane.doe@example.com" in client(app, "ada").get("/customers/zz1").text
    zh = client(app, "zed").get("/customers/17850")
    assert "订单历史" in zh.text and "生命周期阶段" in zh.text
    assert client(app, "vic").get("/customers/nope").status_code == 404
