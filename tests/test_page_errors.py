"""Errors on pages are HTML pages in the user's language with the API's status; the API
keeps JSON (issue 13: a far date in a page URL, a non-admin opening a PII customer id)."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from shopscope.schema import get_table

PASSWORDS = {"root": "root-pass-1234", "vera": "vera-pass-1234", "wang": "wang-pass-1234"}
JANE = "jane.doe@example.com"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from shopscope.auth import UserStore
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path_factory.mktemp("pages") / "ws")
    spec = get_table("orders")
    rows = [{"order_id": "o1", "customer_id": JANE, "ordered_at": dt.datetime(2024, 1, 5, 10),
             "channel": "web", "status": "completed", "gross_amount": 10.0,
             "discount_amount": 0.0, "shipping_amount": 0.0, "net_amount": 10.0,
             "currency": "GBP"}]
    ws.store.insert("orders", ibis.memtable([{c: r.get(c) for c in spec.names} for r in rows],
                                            schema=spec.ibis_schema().to_pyarrow()))
    users = UserStore(ws.path)
    users.add("root", PASSWORDS["root"], "admin")
    users.add("vera", PASSWORDS["vera"], "viewer")
    users.add("wang", PASSWORDS["wang"], "viewer", lang="zh")
    yield ws
    ws.close()


def _login(ws, user: str):
    from fastapi.testclient import TestClient

    from shopscope.app import create_app

    c = TestClient(create_app(ws), base_url="https://testserver")
    r = c.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    return c


def _is_html(r) -> bool:
    return r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/?start=9999-01-01", "/customers?as_of=0001-01-01",
                                  "/behaviour/trends?end=2500-01-01"])
def test_far_date_in_a_page_url_is_an_html_422(shop, path):
    r = _login(shop, "vera").get(path)
    assert r.status_code == 422 and _is_html(r), (r.status_code, r.text[:200])
    assert "1900-01-01 to 2199-12-31" in r.text
    assert r.headers["x-frame-options"] == "DENY"  # the pages' own headers
    zh = _login(shop, "wang").get(path)
    assert zh.status_code == 422 and _is_html(zh)
    assert "超出 shopscope 可处理的日期范围" in zh.text and 'lang="zh' in zh.text


def test_api_paths_keep_json_errors(shop):
    c = _login(shop, "vera")
    r = c.get("/api/kpis", params={"start": "9999-01-01"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    assert "start" in r.json()["error"]["message"]
    r = c.get(f"/api/customers/profile/{JANE}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "pii_id"


def test_pii_customer_page_is_an_html_403_for_non_admins(shop):
    r = _login(shop, "vera").get(f"/customers/{JANE}")
    assert r.status_code == 403 and _is_html(r), r.text[:200]
    assert "only admins may open it" in r.text
    zh = _login(shop, "wang").get(f"/customers/{JANE}")
    assert zh.status_code == 403 and "仅管理员可以打开" in zh.text
    assert _login(shop, "root").get(f"/customers/{JANE}").status_code == 200
