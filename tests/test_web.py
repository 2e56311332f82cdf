"""The dashboard pages through FastAPI's TestClient: sign-in with CSRF, the overview's
numbers against the KPI module, languages, filters in the URL, the data page, PII masking.

Expected numbers are computed independently: ``kpis``/``summary`` on the same store, then
formatted with Babel directly (not through the dashboard's Translator).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import statistics
import time
from html import unescape

import ibis
import pandas as pd
import pytest
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent

pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.kpis import kpis, summary
from shopscope.store import Workspace
from shopscope.ui.charts import COLORS, HIGHLIGHT

PASSWORD = "correct horse battery staple"
EN, ZH = "en", "zh_Hans_CN"
BAD_RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "599001,85123A,WHITE HEART,two,2011-12-09 10:00:00,2.55,17850.0,United Kingdom\n"
    "599002,71053,WHITE LANTERN,6,2011-13-09 10:00:00,3.39,17850.0,United Kingdom\n"
)
# What a mapping-file load quarantines for a CRM export: the file's own column names.
PII_REJECTS = {
    "table_name": ["customers", "customers", "customers"],
    "source": ["crm.csv", "crm.csv", "crm.csv"],
    "row": [7, 8, 9],
    "column": ["E-Mail", "customer_id", "Mobile Phone"],
    "value": ["jane.doe@example.com", "wang.fang@example.cn", "+86 138 0013 8000"],
    "reason": ["duplicate key (customer_id)", "missing value", "missing value"],
    "loaded_at": [dt.datetime(2024, 1, 2, 9, 30)] * 3,
}
RAW_PII = ("jane.doe@example.com", "wang.fang@example.cn", "+86 138 0013 8000")


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    """The bundled UCI Online Retail slice, two rejected rows and three PII rejects."""
    root = tmp_path_factory.mktemp("web-demo")
    ws = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London", name="demo")
    ingest_file(ws, demo_data_path(), preset="online_retail")
    bad = root / "bad_retail.csv"
    bad.write_text(BAD_RETAIL, encoding="utf-8")
    ingest_file(ws, bad, preset="online_retail", policy="quarantine")
    ws.store.insert("_rejects", ibis.memtable(PII_REJECTS))
    users = UserStore(ws.path)
    for name, role in (("ada", "admin"), ("ann", "analyst"), ("vic", "viewer"),
                       ("zoe", "analyst"), ("lou", "viewer")):
        users.add(name, PASSWORD, role)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def app(demo_ws):
    return create_app(demo_ws)


def client_for(app) -> TestClient:
    return TestClient(app, base_url="https://testserver")


@pytest.fixture(scope="module")
def synth_ws(tmp_path_factory):
    """A small synthetic shop: four channels, eight categories, behaviour events."""
    from shopscope.synth import generate

    root = tmp_path_factory.mktemp("web-synth")
    generate(root / "synth", customers=200, seed=3, start="2023-01-01", days=400, events=True)
    for name in ("inventory.parquet", "marketing_spend.parquet"):  # not shown; slow to load
        path = root / "synth" / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    ws = Workspace.create(root / "ws", currency="CNY", timezone="Asia/Shanghai")
    ingest_file(ws, root / "synth", preset="canonical")
    UserStore(ws.path).add("ada", PASSWORD, "admin")
    yield ws
    ws.close()


# -- helpers -----------------------------------------------------------------------------------
def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


def login(client: TestClient, user: str, password: str = PASSWORD, next_url: str = "/",
          **extra: str):
    page = client.get("/login")
    data = {"username": user, "password": password, "csrf": field(page.text, "csrf"),
            "next": next_url, **extra}
    return client.post("/login", data=data, follow_redirects=False)


def signed_in(app, user: str) -> TestClient:
    client = client_for(app)
    assert login(client, user).status_code == 303
    return client


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, f"no element {testid}"
    return unescape(match.group(1)).strip()


def charts(html: str) -> dict[str, dict]:
    match = re.search(r'<script type="application/json" id="charts-data">(.*?)</script>', html,
                      re.S)
    assert match
    return {c["id"]: c["figure"] for c in json.loads(match.group(1))["charts"]}


def money(value: float, locale: str = EN, currency: str = "GBP") -> str:
    return format_currency(value, currency, locale=locale)


def pct(value: float, locale: str = EN) -> str:
    return format_percent(value, "#,##0.0%", locale=locale)


def count(value: float, locale: str = EN) -> str:
    return format_decimal(value, "#,##0", locale=locale)


def period_rows(store, grain: str, period: str, by: str | None = None,
                value: str | None = None, **kw) -> pd.DataFrame:
    data = kpis(store, grain=grain, by=by, **kw).data
    if by:
        data = data[data[by] == value]
    return data[data.period == pd.Timestamp(period)].set_index("metric")


# -- sign-in -----------------------------------------------------------------------------------
def test_signed_out_pages_redirect_to_login_and_back(app):
    client = client_for(app)
    response = client.get("/?grain=quarter", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F%3Fgrain%3Dquarter"
    assert client.get("/data", follow_redirects=False).headers["location"] == "/login?next=%2Fdata"
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and 'action="/login"' in page.text
    assert field(page.text, "next") == "/?grain=quarter"
    done = login(client, "ann", next_url="/?grain=quarter")
    assert done.status_code == 303 and done.headers["location"] == "/?grain=quarter"
    # Signed in, /login goes straight on; an off-site "next" is never followed.
    assert client.get("/login?next=/data", follow_redirects=False).headers["location"] == "/data"
    other = client_for(app)
    assert login(other, "ann", next_url="//evil.example/x").headers["location"] == "/"
    assert login(client_for(app), "ann",
                 next_url="https://evil.example/").headers["location"] == "/"


def test_login_form_needs_its_csrf_token(app):
    client = client_for(app)
    page = client.get("/login")
    token = field(page.text, "csrf")
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" in set_cookie
    form = {"username": "ann", "password": PASSWORD, "next": "/"}
    missing = client.post("/login", data=form, follow_redirects=False)
    assert missing.status_code == 403 and "ss_session" not in missing.cookies
    assert "The form expired" in missing.text
    forged = client.post("/login", data={**form, "csrf": "x" * 43}, follow_redirects=False)
    assert forged.status_code == 403
    # The right token but no cookie (a cross-site post cannot send it): refused too.
    bare = client_for(app)
    assert bare.post("/login", data={**form, "csrf": token},
                     follow_redirects=False).status_code == 403
    ok = client.post("/login", data={**form, "csrf": token}, follow_redirects=False)
    assert ok.status_code == 303
    session_cookie = [h for h in ok.headers.get_list("set-cookie") if h.startswith("ss_session=")]
    assert session_cookie and "httponly" in session_cookie[0].lower()
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_with_a_localised_message(app):
    client = client_for(app)
    response = login(client, "ann", "not the password at all")
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert "ss_session" not in response.cookies
    zh = login(client_for(app), "ann", "still not the password", lang="zh")
    assert zh.status_code == 401 and "用户名或密码错误" in zh.text
    assert '<html lang="zh-CN">' in zh.text


def test_login_page_language_from_browser_or_link(app):
    client = client_for(app)
    page = client.get("/login", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-CN">' in page.text and "用户名" in page.text
    assert "Sign in" in client.get("/login?lang=en").text


def test_too_many_failures_show_the_rate_limit_message(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    UserStore(ws.path).add("ann", PASSWORD, "analyst")
    client = client_for(create_app(ws))
    for _ in range(5):
        assert login(client, "ann", "wrong password!!").status_code == 401
    blocked = login(client, "ann")  # even the right password, for 15 minutes
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    zh = login(client, "ann", lang="zh")
    assert zh.status_code == 429 and "登录失败次数过多" in zh.text
    ws.close()


def test_an_empty_workspace_still_has_pages(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    UserStore(ws.path).add("vic", PASSWORD, "viewer")
    client = signed_in(create_app(ws), "vic")
    assert "No orders in this range." in client.get("/?grain=day&by=category").text
    data = client.get("/data?page=abc")
    assert data.status_code == 200 and "No rejected rows." in data.text
    ws.close()


# -- overview ----------------------------------------------------------------------------------
def test_overview_cards_and_totals_match_the_kpi_module(app, demo_ws):
    html = signed_in(app, "ann").get("/").text
    store = demo_ws.store
    # The data ends on 2011-12-09, so the latest full month is November 2011.
    assert "Key figures: Nov 2011" in html
    nov = period_rows(store, "month", "2011-11-01")
    for metric in ("gmv", "net_sales", "aov"):
        assert text_of(html, f"card-{metric}") == money(nov.loc[metric, "value"])
    for metric in ("orders", "buyers"):
        assert text_of(html, f"card-{metric}") == count(nov.loc[metric, "value"])
    for metric in ("repurchase_rate", "cancellation_rate", "return_rate"):
        assert text_of(html, f"card-{metric}") == pct(nov.loc[metric, "value"])
    assert 'data-testid="card-conversion_rate"' not in html  # no events in this shop
    # 环比 arrows: GMV rose against October (good, green); the cancellation rate fell (good).
    gmv_change = nov.loc["gmv", "pop_change"]
    assert gmv_change > 0
    card = html.split('data-metric="gmv"')[1].split('class="card"')[0]
    assert 'class="chg good"' in card and "▲" in card and pct(gmv_change) in card
    assert f"was {money(nov.loc['gmv', 'previous'])}" in card
    total = summary(store)
    for metric in ("gmv", "net_sales", "aov"):
        assert text_of(html, f"total-{metric}") == money(total[metric])
    assert text_of(html, "total-orders") == count(total["orders"]) == "3,596"
    assert text_of(html, "total-repurchase_rate") == pct(total["repurchase_rate"])
    figures = charts(html)
    assert set(figures) == {"chart-sales", "chart-orders", "chart-aov", "chart-rates",
                            "chart-breakdown"}
    monthly = kpis(store, grain="month").wide()
    sales = figures["chart-sales"]["data"]
    assert sales[0]["y"] == pytest.approx(monthly.gmv.tolist())
    assert sales[0]["x"][0] == "2010-12-01" and len(sales[0]["x"]) == 13
    for fig in figures.values():  # every chart has a title and axis titles with units
        layout = fig["layout"]
        assert layout["title"]["text"] and layout["xaxis"]["title"]["text"]
        assert layout["yaxis"]["title"]["text"]
    assert "GBP" in figures["chart-sales"]["layout"]["yaxis"]["title"]["text"]
    assert figures["chart-sales"]["layout"]["font"]["family"].startswith("Noto Sans CJK SC")
    assert "%" in figures["chart-rates"]["layout"]["yaxis"]["title"]["text"]
    breakdown = figures["chart-breakdown"]["data"][0]
    assert breakdown["y"][0] == "United Kingdom"  # the demo's largest market


def test_language_switch_to_chinese(app, demo_ws):
    client = signed_in(app, "zoe")
    page = client.get("/?grain=quarter").text
    # A POST without the session's CSRF token changes nothing.
    refused = client.post("/lang", data={"lang": "zh", "next": "/"}, follow_redirects=False)
    assert refused.status_code == 403
    assert UserStore(demo_ws.path).get("zoe").lang == "en"
    switched = client.post("/lang", data={"lang": "zh", "csrf": field(page, "csrf"),
                                          "next": "/?grain=quarter"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/?grain=quarter"
    assert UserStore(demo_ws.path).get("zoe").lang == "zh"
    html = client.get("/").text
    assert '<html lang="zh-CN">' in html
    for label in ("经营概览", "客单价", "复购率", "环比", "同比", "成交总额 (GMV)", "退出登录"):
        assert label in html
    assert "Key figures" not in html and "Sign out" not in html
    nov = period_rows(demo_ws.store, "month", "2011-11-01")
    assert "核心指标：2011年11月" in html
    assert text_of(html, "card-aov") == money(nov.loc["aov", "value"], ZH)
    assert text_of(html, "card-orders") == count(nov.loc["orders", "value"], ZH)
    first, last = dt.date(2010, 12, 1), dt.date(2011, 12, 9)
    assert (f"{format_date(first, 'medium', locale=ZH)} 至 {format_date(last, 'medium', locale=ZH)}"
            in html)
    assert "2010年12月1日" in html
    axis = charts(html)["chart-sales"]["layout"]["xaxis"]
    assert axis["title"]["text"] == "月份"
    assert axis["ticktext"][0] == format_skeleton("yMMM", first, locale=ZH) == "2010年12月"
    assert charts(html)["chart-sales"]["layout"]["yaxis"]["title"]["text"] == "金额（GBP）"
    # English users still get English: the language is per user.
    other = signed_in(app, "ann").get("/").text
    assert '<html lang="en">' in other and "Average order value" in other
    bad = client.post("/lang", data={"lang": "fr", "csrf": field(html, "csrf")},
                      follow_redirects=False)
    assert bad.status_code == 403


def test_filters_in_the_url_change_what_is_shown(app, demo_ws):
    client = signed_in(app, "ann")
    store = demo_ws.store
    quarterly = client.get("/?grain=quarter").text
    # Q4 2011 ends on 2011-12-09 in the data: the latest full quarter is Q3.
    assert "Key figures: Q3 2011" in quarterly
    q3 = period_rows(store, "quarter", "2011-07-01")
    assert text_of(quarterly, "card-gmv") == money(q3.loc["gmv", "value"])
    assert len(charts(quarterly)["chart-sales"]["data"][0]["x"]) == 5
    assert '<option value="quarter" selected>' in quarterly
    # A date range (end inclusive) and a chosen period.
    ranged = client.get("/?start=2011-03-01&end=2011-05-31&period=2011-04-01").text
    assert "Key figures: Apr 2011" in ranged
    assert len(charts(ranged)["chart-sales"]["data"][0]["x"]) == 3
    total = summary(store, start="2011-03-01", end="2011-06-01")
    assert text_of(ranged, "total-gmv") == money(total["gmv"])
    # the demo shop is in Europe/London: British English dates
    assert "1 Mar 2011 to 31 May 2011" in ranged
    april = period_rows(store, "month", "2011-04-01", start="2011-03-01", end="2011-06-01")
    assert text_of(ranged, "card-net_sales") == money(april.loc["net_sales", "value"])
    # Weekly grain with a channel breakdown.
    weekly = charts(client.get("/?grain=week&by=channel").text)
    assert weekly["chart-sales"]["layout"]["xaxis"]["title"]["text"] == "Week (starting Monday)"
    # Cancellation credits whose invoice is not among the orders keep their own channel.
    assert weekly["chart-breakdown"]["data"][0]["y"] == ["online"]
    # Bad values are dropped with a message; the page still answers.
    bad = client.get("/?grain=fortnight&start=2011-02-30&channel=tmall")
    assert bad.status_code == 200
    messages = re.findall(r'data-testid="filter-message">([^<]*)<', bad.text)
    assert len(messages) == 3 and any("fortnight" in unescape(m) for m in messages)
    backwards = client.get("/?start=2011-06-01&end=2011-03-01").text
    assert "must not be after" in unescape(backwards)
    empty = client.get("/?start=2011-12-09&end=2011-12-09&grain=day").text
    assert "Key figures: 9 Dec 2011" in empty
    nothing = client.get("/?start=2011-12-10")
    assert "No orders in this range." in nothing.text


def test_channel_and_category_filters_select_kpi_rows(synth_ws):
    client = signed_in(create_app(synth_ws), "ada")
    store = synth_ws.store
    html = client.get("/").text
    assert '<select name="channel">' in html and '<select name="category">' in html
    assert 'data-testid="card-conversion_rate"' in html  # the synthetic shop has events
    last = kpis(store, grain="month").data.period.max()
    data_end = store.table("orders").ordered_at.max().execute()
    assert pd.Timestamp(data_end) < last + pd.offsets.MonthEnd(0)  # so cards show the month before
    period = (last - pd.DateOffset(months=1)).date().isoformat()
    web = client.get("/?channel=web").text
    rows = period_rows(store, "month", period, by="channel", value="web")
    assert text_of(web, "card-gmv") == money(rows.loc["gmv", "value"], currency="CNY")
    assert text_of(web, "card-conversion_rate") == pct(rows.loc["conversion_rate", "value"])
    assert "Channel: web" in web and 'data-testid="total-gmv"' not in web
    books = client.get("/?category=books&by=category").text
    rows = period_rows(store, "month", period, by="category", value="books")
    assert text_of(books, "card-orders") == count(rows.loc["orders", "value"])
    bars = charts(books)["chart-breakdown"]["data"][0]
    colours = dict(zip(bars["y"], bars["marker"]["color"], strict=True))
    assert colours["books"] == HIGHLIGHT
    assert {c for y, c in colours.items() if y != "books"} == {COLORS[0]}
    both = client.get("/?channel=web&category=books").text
    assert "not both" in both and "Channel: web" in both


# -- sign-out ----------------------------------------------------------------------------------
def test_logout_needs_the_session_csrf_token(app):
    client = signed_in(app, "ann")
    html = client.get("/").text
    cookie = client.cookies.get("ss_session")
    refused = client.post("/logout", follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in
    done = client.post("/logout", data={"csrf": field(html, "csrf")}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login?bye=1&lang=en"
    assert client.get("/", follow_redirects=False).status_code == 303
    assert "You have signed out." in client.get("/login?bye=1").text
    replay = client_for(app)  # the old cookie no longer opens a session
    replay.cookies.set("ss_session", cookie, domain="testserver.local")
    assert replay.get("/", follow_redirects=False).status_code == 303


# -- data page ---------------------------------------------------------------------------------
def test_data_page_lists_tables_log_and_rejects(app, demo_ws):
    html = unescape(signed_in(app, "ada").get("/data").text)
    for table in ("orders", "order_items", "customers", "products", "returns", "events"):
        assert f'data-table="{table}"' in html
    orders_row = html.split('data-table="orders"')[1].split("</tr>")[0]
    assert count(demo_ws.store.row_count("orders")) in orders_row
    assert "1 Dec 2010, 08:26:00" in orders_row  # first order, localised (en_GB)
    assert "online_retail_sample.csv.gz" in html and "bad_retail.csv" in html
    assert "cannot parse as a whole number" in html and ">two<" in html
    for raw in RAW_PII:  # admins see the raw values
        assert raw in html
    assert "5 rejected values" in html


def test_viewer_sees_pii_masked_in_rejects(app):
    client = signed_in(app, "vic")
    html = unescape(client.get("/data").text)
    assert 'data-testid="masked-note"' in html
    for raw in RAW_PII:
        assert raw not in html
    assert html.count(">***<") == 3
    assert ">two<" in html  # values that are not personal data stay readable
    for page in ("/", "/?grain=week", "/data?page=1"):  # nowhere else either
        text = client.get(page).text
        assert not any(raw in text for raw in RAW_PII)


def test_data_page_in_chinese(app):
    client = signed_in(app, "lou")
    html = client.get("/data").text
    client.post("/lang", data={"lang": "zh", "csrf": field(html, "csrf"), "next": "/data"})
    html = client.get("/data").text
    for label in ("数据表", "导入日志", "被拒绝的行", "无法解析为整数", "订单明细", "个人信息"):
        assert label in html
    assert "2010年12月1日" in html


# -- assets, headers, speed --------------------------------------------------------------------
def test_plotly_is_served_locally_with_long_cache(app):
    from shopscope.ui.routes import PLOTLY_URL

    client = signed_in(app, "ann")
    html = client.get("/").text
    assert f'<script src="{PLOTLY_URL}"></script>' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another host
    js = client.get(PLOTLY_URL)
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "immutable" in js.headers["cache-control"] and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200
    page = client.get("/")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_pages_answer_within_300_ms_once_warm(app):
    client = signed_in(app, "ann")
    for path in ("/", "/?grain=week&by=channel", "/data"):
        client.get(path)  # first request computes; later ones come from the cache
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert client.get(path).status_code == 200
            times.append(time.perf_counter() - start)
        assert statistics.median(times) < 0.3, (path, times)
