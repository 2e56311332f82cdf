"""The marketing pages (issue 18, point 6) on the hand-built shop of
``test_marketing_channels`` (its docstring works out every number used here): the report
table shows the service's figures, the exports hold the rows of the tables, the attribution
upload credits hand-built paths as worked out below, bad uploads are explained on the page,
both languages render and an empty workspace says how to load marketing data.

Paths uploaded (``PATHS``), conversions / value / journeys without conversion:

    search > social   2 / 20 / 2
    social            1 / 10 / 3
    email > search    1 /  5 / 0

first touch: search 2, social 1, email 1; last touch: social 3, search 1, email 0;
linear: search 1 + 0.5 = 1.5, social 1 + 1 = 2, email 0.5.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape

import pandas as pd
import pytest
from babel.dates import format_date
from babel.numbers import format_decimal

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.core.service import LocalContext
from shopscope.marketing import service as attr_svc
from shopscope.marketing import service_channels as ch_svc
from shopscope.marketing import service_cohorts as co_svc
from shopscope.store import Workspace
from tests import demand_shop
from tests.pagecheck import assert_local_only, elements
from tests.test_marketing_channels import _rows
from tests.test_web import (
    EN,
    PASSWORD,
    charts,
    client_for,
    count,
    field,
    login,
    money,
    pct,
    text_of,
)

D = dt.date
PATHS = ("path,total_conversions,total_conversion_value,total_null\n"
         "search > social,2,20,2\nsocial,1,10,3\nemail > search,1,5,0\n")
RANGE = {"start": "2024-01-01", "end": "2024-02-29"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = demand_shop.workspace(tmp_path_factory.mktemp("mkt-pages"), _rows())
    UserStore(w.path).add("zoe", PASSWORD, "viewer", lang="zh")
    yield w
    w.close()


@pytest.fixture(scope="module")
def app(ws):
    return create_app(ws)  # one app: the pages share its cache of service results


@pytest.fixture(scope="module")
def client(app):
    c = client_for(app)
    assert login(c, "ada").status_code == 303
    return c


@pytest.fixture(scope="module")
def zh(app):
    c = client_for(app)
    assert login(c, "zoe").status_code == 303
    return c


def table(html: str, testid: str) -> dict[str, dict[str, str]]:
    """Row key -> column -> cell text of the table ``testid``."""
    body = re.search(rf'data-testid="{testid}">(.*?)</table>', html, re.S)
    assert body, f"no table {testid}"
    return {unescape(k): {c: unescape(v).strip() for c, v in
                          re.findall(r'data-col="([\w]+)">([^<]*)<', row)}
            for k, row in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', body.group(1), re.S)}


def table_paths(html: str) -> dict[str, dict[str, str]]:
    """The path explorer: path -> column -> cell text, in the page's order."""
    return {unescape(k): dict(re.findall(r'data-col="(\w+)">([^<]*)<', row))
            for k, row in re.findall(r'<tr data-path="([^"]+)">(.*?)</tr>', html, re.S)}


def num(v: float, digits: int = 2) -> str:
    return format_decimal(v, "#,##0." + "0" * digits, locale="en_GB")


def test_report_shows_the_service_figures(client, ws):
    r = client.get("/marketing", params={**RANGE, "compare": "previous"})
    assert r.status_code == 200
    assert_local_only(r.text)
    rows = table(r.text, "channels")
    out = ch_svc.channel_report(LocalContext(ws), ch_svc.ChannelParams(
        start=D(2024, 1, 1), end=D(2024, 2, 29), compare="previous"))
    assert len(rows) == len(out.frame) == 7
    for f in out.frame.to_dict("records"):
        got = rows[f"{f['period'].isoformat()}|{f['channel']}"]
        assert got["orders"] == count(f["orders"]) and got["sessions"] == count(f["sessions"])
        assert got["gmv"] == money(f["gmv"]) and got["spend"] == money(f["spend"])
        assert got["net_sales"] == money(f["net_sales"])
    # by hand (test_marketing_channels): February, paid search
    ps = rows["2024-02-01|paid_search"]
    assert (ps["gmv"], ps["net_sales"], ps["spend"]) == ("£140.00", "£120.00", "£60.00")
    assert (ps["cpc"], ps["cpa"], ps["cac"]) == ("£2.00", "£30.00", "£60.00")
    assert ps["roas"] == num(140 / 60) and ps["conversion"] == pct(2.0)
    assert (ps["new_customers"], ps["returning_customers"]) == ("1", "1")
    # 环比 against January: GMV 140 / 50 - 1, spend 60 / 100 - 1, CAC 60 / 100 - 1
    assert ps["gmv_change"] == "+" + pct(1.8)
    assert ps["spend_change"] == pct(-0.4) and ps["cac_change"] == pct(-0.4)
    # email had no spend: ROAS undefined, shown as a dash, not 0
    assert rows["2024-01-01|email"]["roas"] == "–"
    # cards: two months, spend 100 + 100, GMV 100 + 180, new customers 2 + 1
    assert text_of(r.text, "card-spend") == "£200.00"
    assert text_of(r.text, "card-gmv") == "£280.00"
    assert text_of(r.text, "card-roas") == num(280 / 200)
    assert text_of(r.text, "card-cac") == money(200 / 3)
    fig = charts(r.text)["chart-channels"]
    traces = {t["name"]: t for t in fig["data"]}
    assert traces["paid_search · GMV"]["y"] == [50.0, 140.0]
    assert traces["paid_search · Spend"]["y"] == [100.0, 60.0]
    roas = charts(r.text)["chart-roas"]["data"][0]
    assert dict(zip(roas["x"], roas["y"], strict=True))["paid_search"] == pytest.approx(190 / 160)
    # the tabs and the nav entry
    assert elements(r.text, "a", href="/marketing", **{"aria-current": "page"})
    assert elements(r.text, "a", href="/marketing/attribution")


def test_report_export_rows_equal_the_table(client):
    r = client.get("/marketing", params={**RANGE, "compare": "previous"})
    assert r.status_code == 200
    rows = table(r.text, "channels")
    link = elements(r.text, "a", data_testid="export-csv")[0]["href"]
    csv = client.get(link)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.StringIO(csv.text))
    assert len(got) == len(rows) > 0
    for f in got.to_dict("records"):
        row = rows[f"{f['period']}|{f['channel']}"]
        assert row["gmv"] == money(f["gmv"]) and row["orders"] == count(f["orders"])
        assert row["spend"] == money(f["spend"])
        assert row["gmv_change"] == ("–" if pd.isna(f["gmv_change"]) else
                                     ("+" if f["gmv_change"] > 0 else "") + pct(f["gmv_change"]))


def test_cohorts_page_shows_the_service_figures(client, ws):
    r = client.get("/marketing/cohorts")
    assert r.status_code == 200
    out = co_svc.cohort_ltv(LocalContext(ws), co_svc.CohortParams())
    rows = table(r.text, "cohorts")
    assert set(rows) == {f"{k}|{c.isoformat()}" for k, c in zip(out.cohorts.key,
                                                                 out.cohorts.cohort, strict=True)}
    for f in out.cohorts.to_dict("records"):
        got = rows[f"{f['key']}|{f['cohort'].isoformat()}"]
        assert got["customers"] == count(f["customers"])
        assert got["ltv_7"] == (money(f["ltv_7"]) if f["ltv_7"] is not None else "–")
    # the last order is o6 on 12 February 2024 (the service's data end is the day after)
    assert text_of(r.text, "scope").endswith(format_date(D(2024, 2, 12), "medium", locale=EN))
    # c3 came through paid search with o6: CAC = 60 spend / 1 customer, and 7 days are not
    # over at the data end: nothing realised yet, no payback
    ps = rows["paid_search|2024-02-01"]
    assert (ps["cac"], ps["ltv_7"], ps["payback_days"]) == ("£60.00", "–", "not yet")
    # the 2023 google cohort (c9, one order of 10): LTV 10 at 7 to 180 days
    assert rows["google|2023-02-01"]["ltv_180"] == "£10.00"
    assert rows["google|2023-02-01"]["payback_days"] == "–"  # no spend: nothing to pay back
    fig = charts(r.text)["chart-payback"]
    traces = {t["name"]: t for t in fig["data"]}
    assert traces["paid_search CAC"]["y"] == [60.0, 60.0]
    # google: only the 2023 cohort (c9, 10) has whole 30-day months before the data end
    assert traces["google"]["y"] == [0.0] + [10.0] * 11
    csv = client.get(elements(r.text, "a", data_testid="export-csv")[0]["href"])
    got = pd.read_csv(io.StringIO(csv.text))
    assert sorted(f"{k}|{c}" for k, c in zip(got.key, got.cohort, strict=True)) == sorted(rows)
    assert got.set_index("key")["customers"].sum() == sum(
        int(v["customers"]) for v in rows.values())


def test_channel_curves_weigh_cohorts_by_customers():
    from shopscope.marketing.pages import channel_curves

    # cohort A (1 customer) has months 1-2, cohort B (3 customers) month 1 only
    cohorts = pd.DataFrame({"key": ["x", "x"], "cohort": [D(2024, 1, 1), D(2024, 2, 1)],
                            "customers": [1, 3]})
    curves = pd.DataFrame({"key": ["x", "x", "x"], "cohort": [D(2024, 1, 1), D(2024, 1, 1),
                                                              D(2024, 2, 1)],
                           "month": [1, 2, 1], "cum_revenue": [10.0, 12.0, 30.0]})
    out = co_svc.CohortLtv(params=co_svc.CohortParams(margin=0.5), cohorts=cohorts,
                           curves=curves, by_key=pd.DataFrame(), data_end=None, notes=())
    # month 1: (10 x 1 + 30 x 3) / 4 = 25, x margin 0.5; month 2: cohort A alone, 12 x 0.5
    assert channel_curves(out) == {"x": [(0, 0.0), (1, 12.5), (2, 6.0)]}


def test_cohort_rows_show_ltv_cac_and_payback():
    from shopscope.marketing.pages import build_cohorts
    from shopscope.ui.i18n import Translator

    # one cohort: CAC 50; LTV 40 at 7 days, 60 at 30, unknown at 90 (too young); paid back
    # by day 30 and in month 2
    cohorts = pd.DataFrame([{
        "key": "ads", "cohort": D(2024, 1, 1), "customers": 4, "spend": 200.0, "cac": 50.0,
        "ltv_7": 40.0, "ltv_30": 60.0, "ltv_90": None, "ltv_cac_7": 0.8, "ltv_cac_30": 1.2,
        "ltv_cac_90": None, "payback_days": 30, "payback_months": 2,
        "projected_ltv_12m": None}]).astype(object)
    by_key = pd.DataFrame([{"key": "ads", "customers": 4, "spend": 200.0, "cac": 50.0,
                            "ltv_7": 40.0, "ltv_30": 60.0, "ltv_90": None}])
    out = co_svc.CohortLtv(params=co_svc.CohortParams(horizons=(7, 30, 90)), cohorts=cohorts,
                           curves=pd.DataFrame(columns=["key", "cohort", "month",
                                                        "cum_revenue"]),
                           by_key=by_key, data_end=D(2024, 2, 15), notes=())
    view = build_cohorts(Translator("en"), out, "GBP")
    cells = {c["col"]: c["text"] for c in view["rows"][0]["cells"]}
    assert cells["ltv_cac"] == "1.20 (30d)"  # the longest horizon with a value
    assert (cells["payback_days"], cells["payback_months"]) == ("by day 30", "month 2")
    assert (cells["cac"], cells["ltv_90"]) == (money(50), "–")
    assert view["cac"] == money(50)  # 200 spend / 4 customers
    # no curve yet, but the CAC line is drawn
    traces = {t["name"]: t for t in view["charts"][0]["figure"]["data"]}
    assert traces["ads CAC"]["y"] == [50.0, 50.0]


def _post(client, content: bytes | None, name: str = "paths.csv", **data: str):
    page = client.get("/marketing/attribution")
    files = {"file": (name, content, "text/csv")} if content is not None else None
    return client.post("/marketing/attribution", files=files,
                       data={"csrf": field(page.text, "csrf"), **data})


def test_attribution_upload_compares_the_models(client):
    r = _post(client, PATHS.encode())
    assert r.status_code == 200
    rows = table(r.text, "models")
    assert set(rows) == {"email", "search", "social"}
    first = {k: v["first_touch"] for k, v in rows.items()}
    last = {k: v["last_touch"] for k, v in rows.items()}
    linear = {k: v["linear"] for k, v in rows.items()}
    assert first == {"search": "2.0", "social": "1.0", "email": "1.0"}
    assert last == {"search": "1.0", "social": "3.0", "email": "0.0"}
    assert linear == {"search": "1.5", "social": "2.0", "email": "0.5"}
    # Markov and Shapley as the service computes them on the same paths
    out = attr_svc.attribute(attr_svc.read_paths(io.StringIO(PATHS)),
                             attr_svc.make(attr_svc.AttributionParams))
    for ch in rows:
        assert rows[ch]["markov_1"] == num(out.conversions.loc[ch, "markov_1"], 1)
        assert rows[ch]["shapley"] == num(out.conversions.loc[ch, "shapley"], 1)
    bars = charts(r.text)["chart-models"]["data"]
    assert len(bars) == 8 and all(sum(b["y"]) == pytest.approx(4) for b in bars)
    # path explorer: most conversions first (ties: more journeys); rate = conversions /
    # journeys, journeys = conversions + nulls
    paths = table_paths(r.text)
    assert list(paths) == ["search > social", "social", "email > search"]
    assert paths["social"] == {"journeys": "4", "conversions": "1", "rate": pct(0.25),
                               "value": "10.00"}
    assert paths["search > social"]["rate"] == pct(0.5)
    assert text_of(r.text, "card-conversions") == "4"
    # filtered to the paths through email (the paths come back in the filter form)
    again = client.post("/marketing/attribution", data={
        "csrf": field(r.text, "csrf"), "paths": unescape(re.search(
            r'<textarea name="paths" hidden>(.*?)</textarea>', r.text, re.S).group(1)),
        "channel": "email"}, files={"file": ("", b"", "application/octet-stream")})
    assert again.status_code == 200
    assert list(table_paths(again.text)) == ["email > search"]
    assert table(again.text, "models") == rows  # the models still see every path


@pytest.mark.parametrize("content, status, says", [
    (b"path,conversions\na,1\n", 422, "no column 'total_conversions'"),
    (PATHS.replace("1,10,3", "x,10,3").encode(), 422, "column 'total_conversions', row 3"),
    (b"path\n\xff\xfebad", 422, "not UTF-8 text"),
    (PATHS.replace("email > search", "email >  > search").encode(), 422,
     "column 'path', row 4: empty path or empty channel name"),
    (None, 422, "No path file was sent"),
])
def test_a_bad_upload_is_explained_on_the_page(client, content, status, says):
    r = _post(client, content)
    assert r.status_code == status
    assert says in unescape(r.text)
    assert elements(r.text, "div", data_testid="upload-error")


def test_upload_bounds_and_csrf(client, monkeypatch):
    from shopscope.marketing import pages

    monkeypatch.setattr(pages, "MAX_UPLOAD", 100)
    r = _post(client, PATHS.encode() * 3)
    assert r.status_code == 413 and "larger than" in r.text
    # a broken multipart body is a message on the page, not a 500
    r = client.post("/marketing/attribution",
                    content=b"--x\r\nContent-Type: text/plain\r\n\r\nabc\r\n--x--\r\n",
                    headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 422 and elements(r.text, "div", data_testid="upload-error")
    r = client.post("/marketing/attribution", data={"csrf": "wrong"},
                    files={"file": ("p.csv", PATHS.encode(), "text/csv")})
    assert r.status_code == 403 and elements(r.text, "div", data_testid="upload-error")


def test_pages_in_chinese(zh):
    r = zh.get("/marketing", params={**RANGE, "compare": "previous"})
    assert r.status_code == 200
    assert "<h1>营销：渠道、获客队列与归因</h1>" in r.text
    assert ">获客成本 CAC</th>" in r.text and ">成交额 GMV环比</th>" in r.text
    assert "（未设置）" in r.text  # the guest order's touch
    assert elements(r.text, "a", href="/marketing")  # nav entry
    assert ">营销</a>" in r.text
    c = zh.get("/marketing/cohorts")
    assert c.status_code == 200 and ">回本月份</th>" in c.text
    a = _post(zh, PATHS.encode())
    assert a.status_code == 200 and ">马尔可夫（1 阶）</th>" in a.text
    names = {t["name"] for t in charts(a.text)["chart-models"]["data"]}
    assert {"首次触点", "Shapley 值"} <= names


def test_bad_query_is_an_error_page(client):
    assert client.get("/marketing", params={"grain": "year"}).status_code == 422
    assert client.get("/marketing", params={"by": "region"}).status_code == 422
    assert client.get("/marketing/cohorts", params={"margin": "2"}).status_code == 422


def test_an_empty_workspace_says_how_to_load_marketing_data(tmp_path):
    w = Workspace.create(tmp_path / "ws", currency="GBP")
    UserStore(w.path).add("ada", PASSWORD, "admin")
    try:
        c = client_for(create_app(w))
        assert login(c, "ada").status_code == 303
        for url in ("/marketing", "/marketing/cohorts"):
            r = c.get(url)
            assert r.status_code == 200
            assert elements(r.text, "div", data_testid="no-data"), url
            assert "shopscope ingest canonical" in r.text
    finally:
        w.close()
