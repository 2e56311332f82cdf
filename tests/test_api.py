"""REST API: auth, roles, PII, CSRF, rate limit, tokens, KPI values, pagination, errors."""

from __future__ import annotations

import gzip

import ibis
import pytest
from fastapi.testclient import TestClient

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.kpis import kpis, summary
from shopscope.schema import get_table
from shopscope.store import Workspace

PASSWORDS = {"ada": "admin-pass-123", "ann": "analyst-pass-123", "vic": "viewer-pass-123"}
PII_ROWS = [
    {"customer_id": "zz1", "email": "jane.doe@example.com", "phone": "+44 20 7946 0018",
     "name": "Jane Doe", "country": "United Kingdom"},
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(8_001)), encoding="utf-8")
    workspace = Workspace.create(root / "ws")
    ingest_file(workspace, head, preset="online_retail")
    rows = ibis.memtable(
        [{c: r.get(c) for c in get_table("customers").names} for r in PII_ROWS],
        schema=get_table("customers").ibis_schema().to_pyarrow(),
    )
    workspace.store.insert("customers", rows)
    users = UserStore(workspace.path)
    users.add("ada", PASSWORDS["ada"], "admin")
    users.add("ann", PASSWORDS["ann"], "analyst")
    users.add("vic", PASSWORDS["vic"], "viewer")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def app(ws):
    return create_app(ws)


def client(app, user: str | None = None) -> TestClient:
    c = TestClient(app, base_url="https://testserver")
    if user:
        r = c.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
        assert r.status_code == 200, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


PROTECTED = ["/api/kpis", "/api/kpis/summary", "/api/metrics", "/api/data/tables",
             "/api/data/rejects", "/api/data/loads", "/api/customers", "/api/customers/export",
             "/api/tokens", "/api/me"]


def test_health_is_open_and_everything_else_needs_login(app):
    c = client(app)
    assert c.get("/api/health").json()["status"] == "ok"
    for path in PROTECTED:
        r = c.get(path)
        assert r.status_code == 401, path
        body = r.json()["error"]
        assert body["code"] == "not_authenticated" and body["hint"]


def test_wrong_password_and_rate_limit(ws):
    app = create_app(ws)  # fresh app, same users
    users = UserStore(ws.path)
    users.add("eve", "eve-pass-12345", "viewer")
    c = client(app)
    for _ in range(5):
        r = c.post("/api/login", json={"username": "eve", "password": "nope-nope-nope"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "bad_credentials"
    r = c.post("/api/login", json={"username": "eve", "password": "eve-pass-12345"})
    assert r.status_code == 429  # even the right password is refused while limited
    assert r.json()["error"]["code"] == "rate_limited"


def test_session_cookie_is_httponly_secure_samesite(app):
    c = client(app)
    r = c.post("/api/login", json={"username": "vic", "password": PASSWORDS["vic"]})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_csrf_is_required_for_cookie_writes(app):
    c = client(app, "ann")
    token = c.headers.pop("x-csrf-token")
    r = c.post("/api/tokens", json={"name": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = c.post("/api/tokens", json={"name": "x"}, headers={"x-csrf-token": "forged"})
    assert r.status_code == 403
    r = c.post("/api/tokens", json={"name": "x"}, headers={"x-csrf-token": token})
    assert r.status_code == 201


def test_tokens_work_until_revoked(app):
    c = client(app, "ann")
    created = c.post("/api/tokens", json={"name": "ci"}).json()
    bot = client(app)
    auth = {"authorization": f"Bearer {created['token']}"}
    assert bot.get("/api/me", headers=auth).json()["username"] == "ann"
    assert any(t["id"] == created["id"] for t in c.get("/api/tokens").json())
    assert "token" not in c.get("/api/tokens").json()[0]  # secrets are shown once only
    assert c.delete(f"/api/tokens/{created['id']}").status_code == 204
    r = bot.get("/api/me", headers=auth)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_logout_ends_the_session(app):
    c = client(app, "vic")
    assert c.get("/api/me").status_code == 200
    assert c.post("/api/logout").status_code == 204
    assert c.get("/api/me").status_code == 401


def test_viewer_gets_no_pii_and_cannot_export(app):
    c = client(app, "vic")
    rows = c.get("/api/customers", params={"page_size": 1000}).json()["items"]
    jane = next(r for r in rows if r["customer_id"] == "zz1")
    assert jane["email"] == "j***@example.com"
    assert jane["phone"] == "***0018"
    assert jane["name"] == "J***"
    assert "Jane Doe" not in str(rows) and "jane.doe" not in str(rows)
    assert c.get("/api/customers/export").status_code == 403


def test_exports_mask_pii_unless_an_admin_asks(app):
    analyst = client(app, "ann")
    text = analyst.get("/api/customers/export").text
    assert "j***@example.com" in text and "jane.doe@example.com" not in text
    assert analyst.get("/api/customers/export", params={"pii": "raw"}).status_code == 403
    hashed = analyst.get("/api/customers/export", params={"pii": "hash"}).text
    assert "jane.doe" not in hashed and "h_" in hashed
    admin = client(app, "ada")
    assert "j***@example.com" in admin.get("/api/customers/export").text
    assert "jane.doe@example.com" in admin.get("/api/customers/export",
                                               params={"pii": "raw"}).text
    assert admin.get("/api/customers/export", params={"format": "parquet"}).content[:4] == b"PAR1"


def test_kpis_match_the_kpi_module_and_paginate(app, ws):
    c = client(app, "vic")
    expected = kpis(ws.store, grain="month").wide().set_index("period")
    r = c.get("/api/kpis", params={"grain": "month", "metrics": "gmv,orders,buyers"})
    body = r.json()
    assert body["total"] == 3 * len(expected)
    for item in body["items"]:
        value = expected.loc[item["period"], item["metric"]]
        assert item["value"] == pytest.approx(value)
    page2 = c.get("/api/kpis", params={"grain": "month", "metrics": "gmv", "page": 2,
                                       "page_size": 1}).json()
    assert page2["items"][0]["period"] == str(expected.index[1].date())
    total = c.get("/api/kpis/summary").json()
    assert total["gmv"] == pytest.approx(summary(ws.store)["gmv"])
    csv = c.get("/api/kpis", params={"format": "csv", "metrics": "gmv"}).text
    assert csv.splitlines()[0].startswith("period,metric,value")


def test_errors_have_code_message_hint(app):
    c = client(app, "vic")
    bad = c.get("/api/kpis", params={"grain": "decade"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]) == {"code", "message", "hint"}
    unknown = c.get("/api/kpis", params={"metrics": "gmv,nope"})
    assert unknown.status_code == 422 and "nope" in unknown.json()["error"]["message"]
    assert c.get("/api/nothing-here").json()["error"]["code"] == "not_found"


def test_cache_follows_ingestion(ws, tmp_path):
    app = create_app(ws)
    c = client(app, "ada")
    before = c.get("/api/kpis/summary").json()["orders"]
    extra = tmp_path / "more.csv"
    extra.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "999001,85123A,HEART,1,2011-12-01 10:00:00,2.5,99999,France\n", encoding="utf-8")
    ingest_file(ws, extra, preset="online_retail")
    app.state.shopscope._version = (0.0, "")  # skip the one-second version throttle
    assert c.get("/api/kpis/summary").json()["orders"] == before + 1


def test_rejected_pii_values_are_masked_for_viewers(ws):
    from datetime import datetime

    from shopscope.store.engine import REJECTS

    row = {"table_name": "customers", "source": "shopify.csv", "row": 3, "column": "E-Mail",
           "value": "jane.doe@example.com", "reason": "duplicate key",
           "loaded_at": datetime(2024, 1, 1)}
    ws.store.insert(REJECTS, ibis.memtable([row], schema=ws.store.table(REJECTS).schema()))
    app = create_app(ws)
    viewer = client(app, "vic").get("/api/data/rejects").json()["items"]
    assert [r["value"] for r in viewer if r["source"] == "shopify.csv"] == ["***"]
    admin = client(app, "ada").get("/api/data/rejects").json()["items"]
    assert "jane.doe@example.com" in [r["value"] for r in admin]
