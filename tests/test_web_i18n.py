"""Readable everywhere (issue 13, point 8) on the dashboard: rate changes in percentage
points, partial periods marked, whole axis titles, plurals, refused inverted ranges, the
oldest LTV cohorts kept, the lifecycle Sankey in month columns, Chinese audience names,
and Chinese pages with no English UI text left.

Expected values are worked out by hand (CLDR's Chinese country names, percentage points
from two rates) or from the KPI module directly, not from the page code.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from babel.dates import format_skeleton

pytest.importorskip("httpx")

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.behaviour.pages import keep_cohorts
from shopscope.core.i18n import entries
from shopscope.core.periods import DateRange, partial_periods
from shopscope.customers.pages import sankey_positions
from shopscope.kpis import kpis
from shopscope.ui.i18n import Translator, country_name, format_change
from tests.test_web import PASSWORD, charts, client_for, demo_ws, login, synth_ws  # noqa: F401

EN, ZH = Translator("en"), Translator("zh")
CATALOGUE = entries()  # every message of the gettext catalogues, by key


# -- pure functions ----------------------------------------------------------------------------
def test_rate_changes_are_percentage_points_and_amounts_relative():
    # a cancellation rate from 0.67% to 67.89%: +67.2 points (relative: +10,027.6%)
    text, delta = format_change(EN, "ratio", 0.6789, 0.006706)
    assert text == "67.2 pp" and delta == pytest.approx(67.2194)
    assert format_change(ZH, "ratio", 0.6789, 0.006706)[0] == "67.2个百分点"
    text, delta = format_change(EN, "ratio", 0.22, 0.25)
    assert text == "3.0 pp" and delta == pytest.approx(-3.0)
    assert format_change(EN, "ratio", 0.3, None) is None
    assert format_change(EN, "currency", 90.0, 80.0) == ("12.5%", 0.125)
    assert format_change(EN, "count", 1.0, 2.0) == ("50.0%", -0.5)
    assert format_change(EN, "count", 1.0, 0.0) is None


def test_partial_periods_end_after_the_data_or_the_range():
    weeks = [dt.date(2011, 11, 28), dt.date(2011, 12, 5)]
    # data to Friday 9 Dec: the week of 5 Dec (to Sunday 11 Dec) is partial
    assert partial_periods(weeks, "week", dt.date(2011, 12, 9)) == {dt.date(2011, 12, 5)}
    assert partial_periods(weeks, "week", dt.date(2011, 12, 11)) == set()
    # a range ending on 30 Nov (included) cuts the week of 28 Nov
    assert partial_periods(weeks, "week", dt.date(2011, 12, 11),
                           DateRange(None, dt.date(2011, 11, 30))) == set(weeks)
    years = [dt.date(2011, 1, 1)]
    assert partial_periods(years, "year", dt.date(2011, 12, 31)) == set()
    assert partial_periods(years, "year", dt.date(2011, 12, 30)) == set(years)
    assert partial_periods(years, "year", None, DateRange(dt.date(2011, 1, 2))) == set(years)


@pytest.mark.parametrize(("raw", "zh", "en"), [
    ("Germany", "德国", "Germany"),
    ("United Kingdom", "英国", "United Kingdom"),
    ("France", "法国", "France"),
    ("EIRE", "爱尔兰", "EIRE"),
    ("RSA", "南非", "RSA"),
    ("USA", "美国", "USA"),
    ("European Community", "欧盟", "European Community"),
    ("Channel Islands", "海峡群岛", "Channel Islands"),
    ("Unspecified", "未指定", "Unspecified"),
    ("GB", "英国", "United Kingdom"),
    ("DE", "德国", "Germany"),
    ("Atlantis", "Atlantis", "Atlantis"),
])
def test_country_names_in_each_language(raw, zh, en):
    assert country_name(raw, "zh") == zh
    assert country_name(raw, "en") == en


def test_plurals_follow_the_number():
    assert EN.plural("cust.days", 1, n="1") == "1 day"
    assert EN.plural("cust.days", 2, n="2") == "2 days"
    assert EN.plural("cust.days", 0, n="0") == "0 days"
    assert EN.plural("exp.n_days", 1, n="1") == "1 day"
    assert EN.plural("cust.orders_shown", 1, shown="1", total="1") == "Latest 1 of 1 order."
    assert ZH.plural("cust.days", 1, n="1") == "1 天"
    assert EN.plural("data.rejects_total", 1, n="1") == "1 rejected value"
    assert EN.plural("data.rejects_total", 5, n="5") == "5 rejected values"


def test_cohort_axis_titles_are_whole_sentences():
    for grain, word in (("day", "Days"), ("week", "Weeks"), ("month", "Months")):
        title = EN(f"beh.since.{grain}")
        assert title.startswith(word) and not title.endswith("'s")
        assert "{" not in title and ZH(f"beh.since.{grain}") != title
    assert not any("{grain}s" in e["en"] for e in CATALOGUE.values())


def test_keep_cohorts_never_drops_the_oldest():
    frame = pd.DataFrame({"v": range(13)}, index=pd.date_range("2010-12-01", periods=13,
                                                                 freq="MS"))
    assert keep_cohorts(frame, 12).index[0] == pd.Timestamp("2010-12-01")
    assert keep_cohorts(frame, 12).index[-1] == pd.Timestamp("2011-12-01")
    assert len(keep_cohorts(frame, 12)) == 12 and len(keep_cohorts(frame, 20)) == 13


def test_sankey_nodes_stay_in_their_month_column():
    jan, feb, mar = dt.date(2011, 1, 1), dt.date(2011, 2, 1), dt.date(2011, 3, 1)
    # "new" appears only in February, with no link into it: Plotly alone would draw it in
    # the first column
    flows = pd.DataFrame({"month": [jan, feb, feb], "from_stage": ["active", "active", "new"],
                          "to_stage": ["active", "dormant", "active"],
                          "customers": [5, 5, 2]})
    months, pos = sankey_positions(flows)
    assert months == [jan, feb, mar]
    assert pos[(feb, "new")][0] == pytest.approx(0.5)
    assert {round(pos[k][0], 3) for k in pos if k[0] == mar} == {0.999}
    assert all(0 < x < 1 and 0 < y < 1 for x, y in pos.values())


# -- pages -------------------------------------------------------------------------------------
def signed_in_as(app, ws, user: str, lang: str):
    users = UserStore(ws.path)
    if users.get(user) is None:
        users.add(user, PASSWORD, "analyst")
    users.set_lang(user, lang)
    client = client_for(app)
    assert login(client, user).status_code == 303
    return client


@pytest.fixture(scope="module")
def demo_app(demo_ws):  # noqa: F811
    return create_app(demo_ws)


@pytest.fixture(scope="module")
def en_client(demo_app, demo_ws):  # noqa: F811
    return signed_in_as(demo_app, demo_ws, "ed", "en")


@pytest.fixture(scope="module")
def zh_client(demo_app, demo_ws):  # noqa: F811
    return signed_in_as(demo_app, demo_ws, "zhang", "zh")


def card_changes(html: str, metric: str) -> list[str]:
    card = html.split(f'data-metric="{metric}"')[1].split('class="card"')[0]
    return [unescape(a + b) for a, b in
            re.findall(r'class="arrow"[^>]*>([^<]*)</span><span class="pct">([^<]*)<', card)]


def test_overview_rate_cards_change_in_points(en_client, zh_client, demo_ws):  # noqa: F811
    data = kpis(demo_ws.store, grain="month").data
    nov = data[data.period == pd.Timestamp("2011-11-01")].set_index("metric")
    now, before = nov.loc["cancellation_rate", ["value", "previous"]]
    points = abs(now - before) * 100
    arrow = "▲" if now > before else "▼"
    html = en_client.get("/").text
    assert card_changes(html, "cancellation_rate")[0] == f"{arrow}{points:.1f} pp"
    # amounts keep their relative change
    gmv = nov.loc["gmv"]
    assert card_changes(html, "gmv")[0] == f"▲{gmv['pop_change'] * 100:.1f}%"
    zh = zh_client.get("/").text
    assert card_changes(zh, "cancellation_rate")[0] == f"{arrow}{points:.1f}个百分点"
    assert all("%" not in c for c in card_changes(zh, "return_rate") if c != "–")


def test_overview_marks_the_partial_last_month(en_client, zh_client):
    for client, word in ((en_client, "partial"), (zh_client, "不完整")):
        figures = charts(client.get("/").text)
        # the demo's data end on 9 December 2011
        sales = figures["chart-sales"]
        bars = sales["data"][0]
        assert bars["x"][-1] == "2011-12-01"
        assert bars["marker"]["opacity"][-1] < 1 and set(bars["marker"]["opacity"][:-1]) == {1}
        solid, dashed = sales["data"][1], sales["data"][2]
        assert solid["y"][-1] is None and solid["y"][-2] is not None
        assert dashed["line"]["dash"] == "dot" and dashed["y"][-1] is not None
        assert dashed["showlegend"] is False
        notes = sales["layout"]["annotations"]
        assert [(n["x"], n["text"]) for n in notes] == [("2011-12-01", word)]
    # a range ending on a month's last day has no partial month
    full = charts(en_client.get("/?start=2011-01-01&end=2011-06-30").text)
    assert "annotations" not in full["chart-sales"]["layout"]


def test_behaviour_inverted_range_is_refused_with_a_message(en_client, zh_client):
    for tab in ("trends", "funnel", "retention", "paths"):
        page = en_client.get(f"/behaviour/{tab}?start=2011-06-01&end=2011-03-01")
        assert page.status_code == 200
        messages = [unescape(m) for m in
                    re.findall(r'data-testid="filter-message">([^<]*)<', page.text)]
        assert "“From” must not be after “To (inclusive)”; the dates were ignored." in messages
    zh = zh_client.get("/behaviour/trends?compare_start=2011-06-01&compare_end=2011-03-01")
    assert "“对比开始”不能晚于“对比结束”" in unescape(zh.text)


def test_retention_axes_and_ltv_keep_the_oldest_cohort(en_client, zh_client):
    figures = charts(en_client.get("/behaviour/retention?grain=week").text)
    assert figures["chart-retention"]["layout"]["xaxis"]["title"]["text"] == \
        "Weeks since the cohort's first week"
    ltv = figures["chart-ltv"]
    assert ltv["layout"]["xaxis"]["title"]["text"] == "Months since the cohort's first month"
    names = [tr["name"] for tr in ltv["data"]]
    # 13 monthly cohorts, Dec 2010 to Dec 2011: the first one (the longest history) stays
    assert names[0] == "Dec 2010" and names[-1] == "Dec 2011" and len(names) == 12
    zh = charts(zh_client.get("/behaviour/retention").text)
    assert zh["chart-ltv"]["data"][0]["name"] == "2010年12月"
    assert zh["chart-ltv"]["layout"]["xaxis"]["title"]["text"] == "距同期群首月的月数"


def test_lifecycle_sankey_columns_are_labelled_months(en_client, zh_client):
    flow = charts(en_client.get("/customers").text)["chart-flow"]
    node = flow["data"][0]["node"]
    assert len(node["x"]) == len(node["label"]) == len(node["y"])
    notes = [n["text"] for n in flow["layout"]["annotations"]]
    columns = sorted(set(node["x"]))
    assert len(columns) == len(notes)
    # consecutive months to the data's last (December 2011), one a column, in British
    # English (the demo shop is in London: "Sept 2011")
    months = [(pd.Timestamp("2011-12-01") - pd.DateOffset(months=len(notes) - 1 - i)).date()
              for i in range(len(notes))]
    assert notes == [format_skeleton("yMMM", m, locale="en_GB") for m in months]
    zh = charts(zh_client.get("/customers").text)["chart-flow"]
    assert all(re.fullmatch(r"\d{4}年\d{1,2}月", n["text"]) for n in zh["layout"]["annotations"])


def test_charts_use_the_chinese_plotly_locale(zh_client, en_client):
    for path in ("/", "/customers", "/audiences", "/behaviour/retention"):
        html = zh_client.get(path).text
        spec = json.loads(re.search(r'id="charts-data">(.*?)</script>', html, re.DOTALL).group(1))
        assert spec["config"]["locale"] == "zh-CN", path
        assert "plotly-locale-zh-cn.js" in html, path
        assert "plotly-locale-zh-cn.js" not in en_client.get(path).text, path
    locale = (Path(__file__).parents[1] / "src/shopscope/ui/static/plotly-locale-zh-cn.js")
    assert 'name: "zh-CN"' in locale.read_text(encoding="utf-8")


# -- audiences -----------------------------------------------------------------------------
def test_chinese_audience_names_are_saved_and_listed(demo_app, zh_client):
    page = zh_client.get("/audiences").text
    csrf = json.loads(re.search(r'id="builder-data">(.*?)</script>', page, re.DOTALL)
                      .group(1))["csrf"]
    body = {"name": "高价值客户", "filters": [{"field": "m_score", "op": "ge", "value": 4}]}
    saved = zh_client.post("/api/audiences", json=body, headers={"X-CSRF-Token": csrf})
    assert saved.status_code in (200, 201), saved.text
    html = zh_client.get("/audiences").text
    assert 'data-audience="高价值客户"' in html
    spaced = zh_client.post("/api/audiences", json={**body, "name": "高价值 客户"},
                            headers={"X-CSRF-Token": csrf})
    assert spaced.status_code in (400, 422) and "no spaces" in spaced.text
    deleted = zh_client.delete("/api/audiences/高价值客户", headers={"X-CSRF-Token": csrf})
    assert deleted.status_code in (200, 204)


def test_builder_name_pattern_accepts_chinese_in_a_browser(en_client):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no Chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    html = en_client.get("/audiences").text
    pattern = unescape(re.search(r'<input name="name"[^>]*pattern="([^"]*)"', html).group(1))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page()
        valid = {}
        for name in ("高价值客户", "win_back_vips", "vip-2024.q1", "高价值 客户", ".hidden"):
            page.set_content("<input id=n>")
            page.eval_on_selector("#n", "(e, p) => e.setAttribute('pattern', p)", pattern)
            page.fill("#n", name)
            valid[name] = page.eval_on_selector("#n", "e => e.validity.valid")
        browser.close()
    assert valid == {"高价值客户": True, "win_back_vips": True, "vip-2024.q1": True,
                     "高价值 客户": False, ".hidden": False}


# -- every page in Chinese -------------------------------------------------------------------
#: Raw catalogue keys ("beh.tab.funnel") in a page mean a missing or misspelt message.
RAW_KEY = re.compile(r"\b(?:app|nav|role|login|error|filters|grain|axis|by|overview|cards|"
                     r"totals|chart|data|pager|exp|beh|aud|cust|table|event|change|partial)"
                     r"\.[a-z_]+(?:\.[a-z_]+)*\b")
EVENT_CODES = {"view", "search", "add_to_cart", "remove_from_cart", "favorite", "checkout",
               "purchase", "signup", "login"}
#: Chart keys whose strings are data or configuration, not text for a reader.
_NOT_TEXT = {"x", "y", "z", "tickvals", "type", "mode", "hovertemplate", "texttemplate",
             "xref", "yref", "xanchor", "yanchor", "orientation", "arrangement", "valueformat",
             "tickformat", "hovermode", "textinfo", "textposition", "rangemode", "autorange",
             "side", "overlaying", "yaxis", "dash", "symbol", "separators", "visible", "range",
             "family", "color", "colors", "colorscale", "paper_bgcolor", "plot_bgcolor",
             "gridcolor", "locale", "id"}


@functools.lru_cache(maxsize=1)
def english_fragments() -> frozenset[str]:
    """English UI text: each catalogue message's English words between its placeholders,
    for the messages whose Chinese differs."""
    out = set()
    for entry in CATALOGUE.values():
        if entry.get("zh") in (None, entry["en"]):
            continue
        for part in re.split(r"\{[^}]*\}", entry["en"]):
            part = part.strip(" .,:;()–—-“”")
            if len(part) >= 4 and re.search(r"[A-Za-z]{3}", part) and part not in entry["zh"]:
                out.add(part)  # (names such as "shopscope" or "CUPED" are the same in both)
    return frozenset(out)


def _chart_texts(value: object, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in _NOT_TEXT for s in _chart_texts(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _chart_texts(v, key)]
    return [re.sub(r"<[^>]+>", " ", value)] if isinstance(value, str) else []


def visible_texts(html: str) -> list[str]:
    """What a reader sees: text between tags (not scripts, not <code> syntax), titles,
    labels and placeholders, and the charts' titles, labels, ticks and hover texts."""
    texts = []
    for spec in re.findall(r'<script type="application/json" id="charts-data">(.*?)</script>',
                           html, re.DOTALL):
        texts += _chart_texts(json.loads(spec)["charts"])
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<code>.*?</code>", " ", html,
                  flags=re.DOTALL)
    texts += re.findall(r'\s(?:title|aria-label|placeholder|alt)="([^"]*)"', body)
    texts += re.split(r'<(?:[^>"]|"[^"]*")*>', body)
    return [unescape(t).strip() for t in texts if t.strip()]


@functools.lru_cache(maxsize=1)
def _fragments_pattern() -> re.Pattern[str]:
    """Every English fragment in one pattern (longest first), compiled once: one search per
    text instead of one per fragment, whose count outgrew the re module's pattern cache."""
    alternatives = "|".join(re.escape(f) for f in sorted(english_fragments(), key=len,
                                                         reverse=True))
    # inside an identifier (remove_from_cart) a word is not UI text
    return re.compile(rf"(?<![A-Za-z_])(?:{alternatives})(?![A-Za-z_])")


def english_left(html: str) -> set[str]:
    found = set()
    pattern = _fragments_pattern()
    for text in visible_texts(html):
        found |= {f"key {k}" for k in RAW_KEY.findall(text)}
        found |= {f"event {w} in {text[:60]!r}" for w in re.findall(r"[a-z_]+", text)
                  if w in EVENT_CODES}
        found |= {f"text {m.group()!r} in {text[:60]!r}" for m in pattern.finditer(text)}
    return found


def test_the_scan_finds_english_and_raw_keys():
    html = ('<p>Key figures: Nov 2011</p><p>beh.tab.funnel</p><p>加购</p>'
            '<code>add_to_cart</code><p>purchase</p>'
            '<script type="application/json" id="charts-data">{"charts": [{"figure": '
            '{"layout": {"title": {"text": "Retention by cohort"}}}}]}</script>')
    found = english_left(html)
    assert "key beh.tab.funnel" in found and "event purchase in 'purchase'" in found
    assert any("Key figures" in f for f in found)
    assert any("Retention by cohort" in f for f in found)
    assert not any(f.startswith("event add_to_cart") for f in found)


@pytest.fixture(scope="module")
def synth_zh(synth_ws):  # noqa: F811
    app = create_app(synth_ws)
    client = signed_in_as(app, synth_ws, "wang", "zh")
    customer = synth_ws.store.table("orders").customer_id.notnull()
    first = synth_ws.store.table("orders").filter(customer).customer_id.min().execute()
    return client, first


SYNTH_PAGES = ("/", "/?by=country", "/?by=channel&grain=week", "/data", "/customers",
               "/audiences", "/behaviour/trends", "/behaviour/trends?by=customer.country",
               "/behaviour/funnel", "/behaviour/funnel?by=channel&mode=order",
               "/behaviour/retention", "/behaviour/retention?start_event=view&grain=week",
               "/behaviour/paths", "/behaviour/paths?from=&to=purchase", "/experiments",
               "/experiments/plan", "/?start=2023-06-01&end=2023-01-01",
               "/behaviour/funnel?steps=viw>purchase", "/behaviour/funnel?steps=view",
               "/behaviour/funnel?window=soon", "/behaviour/trends?grain=fortnight")


@pytest.mark.parametrize("path", SYNTH_PAGES)
def test_every_page_in_chinese_has_no_english_ui_text(synth_zh, path):
    client, _ = synth_zh
    page = client.get(path)
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    # event codes are allowed in a message listing the codes a user may type
    left = {f for f in english_left(page.text)
            if not ("steps=" in path and "可用的有" in f
                    and (f.startswith("event ") or f.split("'")[1] in {*EVENT_CODES, "other"}))}
    assert not left, left


def test_customer_profile_and_demo_pages_in_chinese(synth_zh, zh_client):
    client, customer = synth_zh
    page = client.get(f"/customers/{customer}")
    assert page.status_code == 200 and not english_left(page.text)
    # (not the demo's data page: its rejected rows name the file's columns, "Mobile Phone")
    for path in ("/", "/?by=country", "/customers", "/behaviour/retention", "/behaviour/paths"):
        html = zh_client.get(path).text
        assert not english_left(html), path
    countries = charts(zh_client.get("/?by=country").text)["chart-breakdown"]["data"][0]["y"]
    assert countries[0] == "英国" and "United Kingdom" not in countries


def test_chinese_funnel_names_events_and_breakdowns(synth_zh):
    client, _ = synth_zh
    html = client.get("/behaviour/funnel?by=customer.country").text
    funnel = charts(html)["chart-funnel"]["data"][0]
    assert funnel["y"] == ["浏览", "加购", "结算", "购买"]
    assert "<th>客户国家</th>" in html
    by_country = charts(html)["chart-funnel-by"]["data"][0]["x"]
    # the synthetic shop's countries are codes: GB, DE, FR, NL, IE, US
    assert set(by_country) <= {"英国", "德国", "法国", "荷兰", "爱尔兰", "美国", "（未知）"}
    assert '<option value="customer.country" selected>客户国家</option>' in html
    error = client.get("/behaviour/funnel?steps=viw>purchase").text
    assert "未知的事件类型 'viw'" in unescape(error)


def test_english_dates_follow_the_shops_region():
    from shopscope.ui.i18n import region_of_timezone

    day = dt.date(2011, 3, 1)
    assert Translator("en", region_of_timezone("Europe/London")).date(day) == "1 Mar 2011"
    assert Translator("en", region_of_timezone("America/New_York")).date(day) == "Mar 1, 2011"
    assert Translator("en", region_of_timezone("UTC")).date(day) == "Mar 1, 2011"
    assert Translator("zh", "GB").date(day) == "2011年3月1日"


def test_pages_use_the_shops_regional_english(en_client):
    # the demo shop's time zone is Europe/London
    html = en_client.get("/?start=2011-03-01&end=2011-05-31").text
    assert "1 Mar 2011 to 31 May 2011" in html


def test_behaviour_trends_mark_the_partial_last_month(synth_zh, synth_ws):  # noqa: F811
    client, _ = synth_zh
    events = synth_ws.store.table("events")
    last = pd.Timestamp(events.event_at.max().execute()).date()
    assert last.day < 28  # the synthetic shop stops inside a month
    html = client.get("/behaviour/trends?grain=month").text
    traffic = charts(html)["chart-traffic"]
    month = last.replace(day=1).isoformat()
    assert traffic["data"][0]["x"][-1] == month
    assert traffic["data"][0]["marker"]["opacity"][-1] < 1
    assert [(n["x"], n["text"]) for n in traffic["layout"]["annotations"]] == [(month, "不完整")]
    table = re.search(r'data-testid="trend-table">(.*?)</table>', html, re.DOTALL).group(1)
    assert f"{last.year}年{last.month}月（不完整）" in table
    # a range ending on a month's last day leaves every month whole
    whole = charts(client.get("/behaviour/trends?grain=month&end=2023-06-30").text)
    assert "annotations" not in whole["chart-traffic"]["layout"]
