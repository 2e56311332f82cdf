"""The audiences page: saved audiences with the analytics module's numbers, the builder
only for analysts, labels in Chinese, login required."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from shopscope.customers import (
    AudienceDefinition,
    AudienceStore,
    audience_stats,
    build_profile,
    clv_columns,
)
from tests.test_api import app, client, ws  # noqa: F401 - fixtures

VIP = AudienceDefinition(name="vip", description="top spenders", filters=[
    {"field": "m_score", "op": "ge", "value": 4},
    {"field": "stage", "op": "in", "value": ["active", "new"]}])
BROKEN = AudienceDefinition(name="broken", filters=[{"field": "nope", "op": "eq", "value": 1}])


@pytest.fixture(scope="module")
def saved(ws):  # noqa: F811
    store = AudienceStore(ws.path)
    store.save(VIP)
    store.save(BROKEN)
    yield
    store.delete("vip")
    store.delete("broken")


def test_login_required(app):  # noqa: F811
    r = client(app).get("/audiences", follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]


def test_saved_audiences_show_the_module_numbers(app, ws, saved):  # noqa: F811
    html = client(app, "ann").get("/audiences").text
    last = ws.store.table("orders").ordered_at.max().execute().date()
    day = last + dt.timedelta(days=1)
    expected = audience_stats(VIP, build_profile(ws.store, day,
                                                 extra=clv_columns(ws.store, day)))
    row = re.search(r'<tr data-audience="vip">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'data-testid="size">([^<]*)<', row).group(1) == f"{expected.size:,}"
    assert "M score ≥ 4" in row and "is one of Active, New" in row
    # a definition that no longer runs shows its error instead of numbers
    broken = re.search(r'<tr data-audience="broken">(.*?)</tr>', html, re.S).group(1)
    assert 'role="alert"' in broken and "nope" in broken
    charts = json.loads(re.search(r'id="charts-data">(.*?)</script>', html, re.S).group(1))
    bars = charts["charts"][0]["figure"]["data"][0]
    assert bars["y"] == ["vip"] and bars["x"] == [expected.size]
    assert 'id="audience-builder"' in html and "export?format=csv" in html


def test_viewers_see_numbers_but_no_builder_or_export(app, saved):  # noqa: F811
    html = client(app, "vic").get("/audiences").text
    assert 'data-audience="vip"' in html
    assert 'id="audience-builder"' not in html and "export?format=csv" not in html


def test_builder_offers_the_profile_fields_with_labels(app, saved):  # noqa: F811
    html = client(app, "ann").get("/audiences").text
    spec = json.loads(re.search(r'id="builder-data">(.*?)</script>', html, re.S).group(1))
    fields = {f["name"]: f for f in spec["fields"]}
    assert {"stage", "m_score", "clv", "p_alive", "preferred_category"} <= set(fields)
    assert "email" not in fields and "customer_id" not in fields
    assert fields["p_alive"]["kind"] == "number"
    assert {v["value"] for v in fields["stage"]["values"]} == {
        "prospect", "new", "active", "dormant", "churned"}
    assert spec["csrf"]


def test_page_in_chinese(app, saved):  # noqa: F811
    c = client(app, "ann")
    c.post("/lang", data={"lang": "zh", "next": "/audiences",
                          "csrf": _csrf(c)}, follow_redirects=False)
    html = c.get("/audiences").text
    assert "人群圈选" in html and "已保存的人群" in html and "M 分 ≥ 4" in html


def _csrf(c) -> str:
    html = c.get("/audiences").text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
