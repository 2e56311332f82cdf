"""Security findings of issue 13: body and cache bounds, PII pseudonyms, login rate limits
and CSRF, CSV formula injection, token revocation, headers, 4xx instead of 500, terminal
escapes."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from shopscope.app import create_app
from shopscope.ui.deps import AppState, size_of
from tests.test_api import PASSWORDS, app, client, ws  # noqa: F401 - fixtures

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "cache-control",
                    "content-security-policy", "referrer-policy")


# -- bounded bodies, definitions and caches -------------------------------------------------
def test_large_bodies_get_413_with_a_reason(app):  # noqa: F811
    viewer = client(app, "vic")
    big = b'{"name": "x", "description": "' + b"a" * (2 << 20) + b'"}'
    r = viewer.post("/api/audiences/preview", content=big,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"
    assert "1,048,576" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the bound counts streamed bytes
        for _ in range(40):
            yield b"a" * 65536

    r = viewer.post("/api/audiences/preview", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    # a declared length over the bound is refused before any byte is read
    r = viewer.post("/api/login", content=b"{}", headers={
        "content-type": "application/json", "content-length": str(200 << 20)})
    assert r.status_code == 413


def test_body_bound_is_configurable(ws, monkeypatch):  # noqa: F811
    small = create_app(ws, max_body=100)
    r = client(small).post("/api/login", json={"username": "vic", "password": "x" * 200})
    assert r.status_code == 413
    monkeypatch.setenv("SHOPSCOPE_MAX_BODY_BYTES", "5000000")
    roomy = create_app(ws)
    r = client(roomy).post("/api/login", content=b"{" + b" " * (2 << 20) + b"}",
                           headers={"content-type": "application/json"})
    assert r.status_code == 422  # read and parsed: the bound let 2 MiB through


@pytest.mark.parametrize("definition, where", [
    ({"name": "x", "filters": [{"field": "frequency", "op": "ge", "value": 1}] * 51},
     "filters"),
    ({"name": "x", "filters": [{"field": "country", "op": "in",
                                "value": [f"c{i}" for i in range(1001)]}]}, "1,001 values"),
    ({"name": "x", "filters": [{"field": "country", "op": "eq", "value": "a" * 501}]},
     "longer than 500"),
    ({"name": "x", "columns": ["customer_id"] * 201}, "columns"),
    ({"name": "x", "filters": [{"field": "country", "op": "in", "value": [["nested"]]}]},
     "filters.0"),
])
def test_definitions_are_bounded(app, definition, where):  # noqa: F811
    r = client(app, "vic").post("/api/audiences/preview", json=definition)
    assert r.status_code == 422, r.text
    assert where in r.json()["error"]["message"]


def test_cache_keys_are_hashes_and_the_cache_is_bounded_by_bytes(ws):  # noqa: F811
    state = AppState(workspace=ws, users=None, cache_bytes=3_000_000)  # type: ignore[arg-type]
    def frame(n):
        return pd.DataFrame({"x": np.arange(n, dtype="int64")})
    huge_key = ("audience", "x" * 1_000_000)
    assert len(state.cached(huge_key, lambda: frame(10))) == 10
    assert all(isinstance(k, str) and len(k) == 64 for k in state.cache)
    for i in range(10):  # 10 × 800 kB into a 3 MB budget
        state.cached(("big", i), lambda: frame(100_000))
        assert state.cache_used <= 3_000_000
    assert len(state.cache) == 3  # 3 × ~800 kB; the oldest went first
    assert state.cache_used == sum(size_of(v) for v in state.cache.values())
    calls = []
    state.cached(("big", 9), lambda: calls.append(1))
    assert calls == []  # the newest is still there
    state.cached(("huge",), lambda: frame(1_000_000))  # 8 MB > budget: not kept
    assert state.cache_used <= 3_000_000 and len(state.cache) == 3


def test_size_of_counts_frames_by_their_buffers():
    frame = pd.DataFrame({"x": np.zeros(1000)})
    assert 8000 <= size_of(frame) <= 9000
    assert size_of({"a": frame, "b": [frame]}) < 2 * 8000 + 2000  # counted once


# -- security headers on every response -----------------------------------------------------
def test_api_responses_carry_security_headers(app):  # noqa: F811
    viewer = client(app, "vic")
    for r in (viewer.get("/api/me"), viewer.get("/api/nope"), client(app).get("/api/kpis"),
              viewer.get("/api/kpis", params={"grain": "decade"}),
              viewer.get("/api/health")):
        for h in SECURITY_HEADERS:
            assert h in r.headers, (r.request.url, h)
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
    page = client(app, "vic").get("/")
    # pages keep their own (stricter for HTML) policy
    assert "script-src 'self'" in page.headers["content-security-policy"]


# -- a crafted shop: hostile text in data, customer ids that are e-mail addresses ----------
FORMULA = "=1+2+cmd|' /C calc'!A0"
ESC_RED = "\x1b[31mRed"
CRAFTED_PASSWORDS = {"root": "root-pass-1234", "anna": "anna-pass-1234",
                     "vera": "vera-pass-1234"}


def _order(oid: str, customer: str, when: str, net: float, country: str) -> dict:
    return {"order_id": oid, "customer_id": customer,
            "ordered_at": dt.datetime.fromisoformat(when), "channel": "web",
            "status": "completed", "gross_amount": net, "discount_amount": 0.0,
            "shipping_amount": 0.0, "net_amount": net, "currency": "GBP",
            "country": country, "region": None}


CRAFTED_ORDERS = [
    _order("o1", "jane.doe@example.com", "2024-01-05 10:00", 100.0, "GB"),
    _order("o2", "jane.doe@example.com", "2024-02-05 10:00", 40.0, "GB"),
    _order("o3", "+44 20 7946 0018", "2024-01-10 10:00", 80.0, FORMULA),
    _order("o4", "+44 20 7946 0018", "2024-02-10 10:00", 20.0, FORMULA),
    _order("o5", "c-1001", "2024-01-15 10:00", 60.0, ESC_RED),
    _order("o6", "c-1001", "2024-03-15 10:00", 30.0, ESC_RED),
    _order("o7", "bob@example.org", "2024-03-20 10:00", 50.0, "FR"),
]
CRAFTED_CUSTOMERS = [
    {"customer_id": "jane.doe@example.com", "email": "jane.doe@example.com",
     "name": "Jane Doe", "country": "GB"},
    {"customer_id": "+44 20 7946 0018", "phone": "+44 20 7946 0018", "name": FORMULA,
     "country": FORMULA},
    {"customer_id": "c-1001", "name": "Carl", "country": ESC_RED},
    {"customer_id": "bob@example.org", "email": "bob@example.org", "name": "Bob",
     "country": "FR"},
]


def _insert(workspace, table: str, rows: list[dict]) -> None:
    import ibis

    from shopscope.schema import get_table

    spec = get_table(table)
    workspace.store.insert(table, ibis.memtable(
        [{c: r.get(c) for c in spec.names} for r in rows],
        schema=spec.ibis_schema().to_pyarrow()))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from shopscope.auth import UserStore
    from shopscope.store import Workspace

    workspace = Workspace.create(tmp_path_factory.mktemp("crafted") / "ws")
    _insert(workspace, "orders", CRAFTED_ORDERS)
    _insert(workspace, "customers", CRAFTED_CUSTOMERS)
    users = UserStore(workspace.path)
    for name, role in (("root", "admin"), ("anna", "analyst"), ("vera", "viewer")):
        users.add(name, CRAFTED_PASSWORDS[name], role)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def shop_app(shop):
    return create_app(shop)


def login(app_, user: str):
    from fastapi.testclient import TestClient

    c = TestClient(app_, base_url="https://testserver")
    r = c.post("/api/login", json={"username": user, "password": CRAFTED_PASSWORDS[user]})
    assert r.status_code == 200, r.text
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


# -- CSV formula injection -----------------------------------------------------------------
def test_kpi_csv_neutralises_formulas_and_keeps_negative_numbers(shop_app):
    r = login(shop_app, "vera").get("/api/kpis", params={
        "format": "csv", "by": "country", "metrics": "net_sales"})
    assert r.status_code == 200
    frame = pd.read_csv(io.StringIO(r.text), keep_default_na=False)
    assert "'" + FORMULA in set(frame.breakdown)
    assert not any(str(v).startswith(("=", "+", "@")) for v in frame.breakdown)
    # 环比 of the formula country: 80 → 20 is −75 %, and stays a number
    row = frame[(frame.breakdown == "'" + FORMULA) & (frame.period == "2024-02-01")]
    assert float(row.pop_change.iloc[0]) == pytest.approx(-0.75)
    assert frame.value.dtype.kind == "f"


def test_customer_and_audience_exports_neutralise_formulas(shop_app):
    analyst = login(shop_app, "anna")
    for pii in ("mask", "hash"):
        r = analyst.get("/api/customers/export", params={"pii": pii})
        assert r.status_code == 200
        frame = pd.read_csv(io.StringIO(r.text), dtype=str, keep_default_na=False)
        for col in frame.columns:
            assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r"))
                           for v in frame[col]), (pii, col)
        assert "'" + FORMULA in set(frame.country)
    admin = login(shop_app, "root")
    raw = pd.read_csv(io.StringIO(admin.get("/api/customers/export",
                                            params={"pii": "raw"}).text), dtype=str)
    assert "'" + FORMULA in set(raw.name)  # raw PII, still not a formula
    assert analyst.post("/api/audiences", json={
        "name": "all", "columns": ["customer_id", "name", "country", "monetary"]}
    ).status_code == 201
    out = analyst.get("/api/audiences/all/export", params={"as_of": "2024-04-01"})
    frame = pd.read_csv(io.StringIO(out.text), keep_default_na=False)
    assert "'" + FORMULA in set(frame.country)
    assert frame.monetary.dtype.kind == "f" and frame.monetary.sum() == pytest.approx(380.0)


def test_cli_kpi_csv_is_neutralised_and_its_table_escapes_control_chars(shop, tmp_path):
    import subprocess
    import sys

    args = [sys.executable, "-m", "shopscope.cli", "kpi", "-w", str(shop.path), "--by",
            "country", "--metrics", "net_sales,orders"]
    shop.close()  # the CLI opens the workspace itself
    try:
        table = subprocess.run(args, capture_output=True, text=True, timeout=300)
        csv = subprocess.run([*args, "--format", "csv"], capture_output=True, text=True,
                             timeout=300)
    finally:
        shop.store  # noqa: B018 - reopen for the other tests
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\\x1b[31m" in table.stdout
    frame = pd.read_csv(io.StringIO(csv.stdout), keep_default_na=False)
    assert "'" + FORMULA in set(frame.country)


def test_terminal_safe_escapes_c0_and_c1_controls():
    from shopscope.safety import terminal_safe

    assert terminal_safe("\x1b[31mRed\x1b[0m") == "\\x1b[31mRed\\x1b[0m"
    assert terminal_safe("a\x07b\x9bc\x00") == "a\\x07b\\x9bc\\x00"
    assert terminal_safe("张三 Ünïcode") == "张三 Ünïcode"
    assert terminal_safe(12.5) == "12.5"


# -- tokens, login CSRF, rate limits, forwarded headers -------------------------------------
def test_password_change_revokes_api_tokens(shop):
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from shopscope.auth import UserStore

    users = UserStore(shop.path)
    users.add("tom", "tom-pass-12345", "viewer")
    token, _ = users.create_token("tom", "laptop")
    app_ = create_app(shop)
    bearer = TestClient(app_, base_url="https://testserver",
                        headers={"authorization": f"Bearer {token}"})
    assert bearer.get("/api/me").status_code == 200
    proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "user", "passwd", "tom",
                           "--password", "tom-new-pass-123", "-w", str(shop.path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = bearer.get("/api/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    assert all(t.revoked for t in users.tokens("tom"))


def _login_page(c):
    import re

    page = c.get("/login")
    return re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)


def test_login_form_refuses_an_attacker_chosen_equal_pair(shop_app):
    from fastapi.testclient import TestClient

    form = {"username": "vera", "password": CRAFTED_PASSWORDS["vera"], "next": "/"}
    attacker = "A" * 43  # a planted cookie and the same value in the form
    c = TestClient(shop_app, base_url="https://testserver")
    c.cookies.set("ss_login_csrf", attacker, domain="testserver", path="/login")
    r = c.post("/login", data={**form, "csrf": attacker}, follow_redirects=False)
    assert r.status_code == 403 and "ss_session" not in r.cookies
    # the planted nonce with a field the attacker cannot compute does not help either
    honest = TestClient(shop_app, base_url="https://testserver")
    field = _login_page(honest)
    nonce = honest.cookies.get("ss_login_csrf")
    assert field != nonce  # the field is derived, not a copy
    ok = honest.post("/login", data={**form, "csrf": field}, follow_redirects=False)
    assert ok.status_code == 303


def test_rate_limit_rule(shop, monkeypatch):
    """Pair limit after 5 failures; address and user limits refuse only pairs that never
    signed in (docs/api.md, 'Sign-in limits')."""
    from argon2 import PasswordHasher

    from shopscope import auth
    from shopscope.auth import AuthError, UserStore

    # ~80 sign-ins: a cheap argon2 for this test's users (the rule is what is tested)
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64,
                                                        parallelism=1))
    users = UserStore(shop.path)
    users.add("ivy", "ivy-pass-12345", "viewer")
    users.add("joe", "joe-pass-12345", "admin")
    users.authenticate("joe", "joe-pass-12345", "10.0.0.7")  # joe's usual address

    def fail(user: str, client: str, n: int) -> None:
        for _ in range(n):
            with pytest.raises(AuthError):
                users.authenticate(user, "wrong-password-x", client)

    # 1. five failures for (ivy, 10.0.0.9): that pair is refused, even with the password
    fail("ivy", "10.0.0.9", 5)
    with pytest.raises(AuthError, match="too many"):
        users.authenticate("ivy", "ivy-pass-12345", "10.0.0.9")
    assert users.authenticate("ivy", "ivy-pass-12345", "10.0.0.8").username == "ivy"
    # 2. spraying from 10.0.0.7 (joe's address): 50 failures over many names
    for i in range(50):
        fail(f"nobody{i}", "10.0.0.7", 1)
    assert users.limit_reason("fresh-name", "10.0.0.7") == "address"
    # ... but joe, who signed in from there before, still gets in with his password
    assert users.authenticate("joe", "joe-pass-12345", "10.0.0.7").role == "admin"
    # 3. a distributed attack on joe from 20 addresses does not lock him out at home
    for i in range(20):
        fail("joe", f"192.0.2.{i}", 1)
    assert users.limit_reason("joe", "198.51.100.1") == "user"  # a new address: refused
    assert users.authenticate("joe", "joe-pass-12345", "10.0.0.7").username == "joe"


def test_serve_trusts_forwarded_headers_only_from_configured_proxies():
    from shopscope.cli import uvicorn_options

    plain = uvicorn_options("127.0.0.1", 8000)
    assert plain["proxy_headers"] is False
    proxied = uvicorn_options("0.0.0.0", 8000, "10.0.0.2")
    assert proxied["proxy_headers"] is True and proxied["forwarded_allow_ips"] == "10.0.0.2"


def test_rotating_x_forwarded_for_does_not_bypass_the_limit(shop):
    """Through a real uvicorn with serve's settings: the limit counts the socket address."""
    import threading
    import time

    import httpx
    import uvicorn

    from shopscope.auth import UserStore
    from shopscope.cli import uvicorn_options
    from tests.test_browser import _free_port

    UserStore(shop.path).add("kim", "kim-pass-12345", "viewer")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(shop, cookie_secure=False), lifespan="off",
                                        **uvicorn_options("127.0.0.1", port)))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    try:
        codes = []
        for i in range(7):
            r = httpx.post(f"http://127.0.0.1:{port}/api/login",
                           json={"username": "kim", "password": "wrong-password"},
                           headers={"x-forwarded-for": f"203.0.113.{i}"}, timeout=30)
            codes.append(r.status_code)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
    assert codes == [401] * 5 + [429] * 2


# -- never a 500 ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def far_future(tmp_path_factory):
    """The API test shop plus one order dated 9999-12-31 (as if it had slipped past
    ingestion), and the KPI summary and RFM table computed before that row was added."""
    import gzip

    from shopscope.auth import UserStore
    from shopscope.cli import demo_data_path
    from shopscope.customers import rfm_table
    from shopscope.ingest import ingest_file
    from shopscope.kpis import summary
    from shopscope.store import Workspace

    root = tmp_path_factory.mktemp("far")
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(8_001)), encoding="utf-8")
    workspace = Workspace.create(root / "ws")
    ingest_file(workspace, head, preset="online_retail")
    store = workspace.store
    before = {"summary": summary(store),
              "rfm": rfm_table(store, dt.date(2011, 1, 1)).execute()
              .sort_values("customer_id").reset_index(drop=True)}
    some = store.table("orders").customer_id.max().execute()
    _insert(workspace, "orders", [_order("X9999", some, "9999-12-31 10:00", 10.0, "GB")])
    UserStore(workspace.path).add("root", CRAFTED_PASSWORDS["root"], "admin")
    yield workspace, before
    workspace.close()


def test_a_row_dated_9999_leaves_pages_and_numbers_intact(far_future):
    from fastapi.testclient import TestClient

    from shopscope.customers import rfm_table
    from shopscope.kpis import summary

    workspace, before = far_future
    assert workspace.store.out_of_range("orders") == 1
    assert summary(workspace.store) == pytest.approx(before["summary"], nan_ok=True)
    rfm = rfm_table(workspace.store, dt.date(2011, 1, 1)).execute()
    pd.testing.assert_frame_equal(
        rfm.sort_values("customer_id").reset_index(drop=True), before["rfm"])
    c = TestClient(create_app(workspace), base_url="https://testserver")
    c.post("/api/login", json={"username": "root", "password": CRAFTED_PASSWORDS["root"]})
    for path in ("/", "/customers", "/api/kpis", "/api/kpis/summary", "/api/customers/rfm",
                 "/api/customers/lifecycle", "/api/customers/lifecycle/transitions",
                 "/api/customers/clv", "/data", "/api/data/tables"):
        r = c.get(path)
        assert r.status_code in (200, 422), (path, r.text[:300])
        if r.status_code == 422:  # only the model's own "cannot fit" answers
            assert r.json()["error"]["code"].startswith("clv_"), (path, r.text)
    tables = {t["name"]: t for t in c.get("/api/data/tables").json()}
    assert tables["orders"]["out_of_range"] == 1 and tables["orders"]["last"] < "2012"
    periods = [row["period"] for row in c.get("/api/kpis").json()["items"]]
    assert max(periods) < "2012-01-01"
    assert c.get("/api/customers/rfm").json()["as_of"] < "2012-01-01"


@pytest.mark.parametrize("path, where", [
    ("/api/customers/lifecycle/transitions?end=0001-01-01", "end: 0001-01-01"),
    ("/api/customers/lifecycle/transitions?start=0001-01-01&end=2024-01-01", "start"),
    ("/api/kpis?start=0001-01-01&grain=day", "start"),
    ("/api/customers/rfm?as_of=9999-12-31", "as_of"),
    ("/api/customers/profile/%00", "control character"),
    ("/api/customers/profile/a%00b", "control character"),
    ("/api/kpis?metrics=gmv%00", "NUL"),
])
def test_fuzzer_findings_get_4xx_with_a_reason(shop_app, path, where):
    r = login(shop_app, "root").get(path)
    assert r.status_code == 422, (path, r.text)
    assert where in r.json()["error"]["message"]
    assert r.json()["error"]["hint"]


def test_nul_in_a_json_body_is_refused(shop_app):
    definition = {"name": "x", "filters": [{"field": "country", "op": "eq", "value": "G\0B"}]}
    r = login(shop_app, "anna").post("/api/audiences/preview", json=definition)
    assert r.status_code == 422 and "NUL" in r.json()["error"]["message"]


# -- customer ids that are PII --------------------------------------------------------------
def _expected_pseudonym(shop, customer_id: str) -> str:
    """Independently of the engine: SHA-256 of the workspace key and the id, in Python."""
    import hashlib

    from shopscope.auth import UserStore

    key = UserStore(shop.path).secret("pseudonym").hex()
    return "c_" + hashlib.sha256((key + customer_id).encode()).hexdigest()[:16]


PII_IDS = ("jane.doe@example.com", "+44 20 7946 0018", "bob@example.org")


def test_viewers_see_pseudonyms_for_ids_that_are_pii(shop, shop_app):
    viewer = login(shop_app, "vera")
    items = viewer.get("/api/customers", params={"page_size": 100}).json()["items"]
    ids = {i["customer_id"] for i in items}
    expected = {_expected_pseudonym(shop, c) for c in PII_IDS}
    assert ids == expected | {"c-1001"}  # an id that is not PII stays as it is
    shown = {str(v) for i in items for v in i.values() if v}
    assert not shown & {*PII_IDS, "Jane Doe", "Bob"}
    assert "j***@example.com" in shown  # the e-mail column itself is masked as before
    admin_ids = {i["customer_id"] for i in login(shop_app, "root").get(
        "/api/customers").json()["items"]}
    assert set(PII_IDS) <= admin_ids


def test_profiles_by_pseudonym_and_never_by_pii_for_non_admins(shop, shop_app):
    viewer, admin = login(shop_app, "vera"), login(shop_app, "root")
    alias = _expected_pseudonym(shop, "jane.doe@example.com")
    r = viewer.get(f"/api/customers/profile/{alias}", params={"as_of": "2024-04-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["customer_id"] == alias and body["rfm"]["monetary"] == pytest.approx(140.0)
    assert "jane.doe@example.com" not in r.text
    for probe in PII_IDS:  # testing whether someone is a customer: refused
        r = viewer.get(f"/api/customers/profile/{probe}")
        assert r.status_code == 403 and r.json()["error"]["code"] == "pii_id"
    r = viewer.get("/api/customers/profile/nobody@example.net")
    assert r.status_code == 403  # the same answer for a non-customer
    assert viewer.get("/api/customers/profile/c_0123456789abcdef").status_code == 404
    # admins see the real id, by pseudonym or directly
    assert admin.get(f"/api/customers/profile/{alias}").json()["customer_id"] == \
        "jane.doe@example.com"
    assert admin.get("/api/customers/profile/jane.doe@example.com").status_code == 200
    page = viewer.get(f"/customers/{alias}")
    assert page.status_code == 200 and "jane.doe@example.com" not in page.text


@pytest.mark.parametrize("pii", ["mask", "hash"])
def test_analyst_exports_carry_pseudonyms(shop, shop_app, pii):
    analyst = login(shop_app, "anna")
    frame = pd.read_csv(io.StringIO(analyst.get("/api/customers/export",
                                                params={"pii": pii}).text), dtype=str)
    assert set(frame.customer_id) == {_expected_pseudonym(shop, c) for c in PII_IDS} | {"c-1001"}
    cells = set(frame.stack())
    assert not cells & {*PII_IDS, "Jane Doe"}
    analyst.post("/api/audiences", json={"name": "ids", "columns": ["customer_id", "email"]})
    out = analyst.get("/api/audiences/ids/export", params={"pii": pii, "as_of": "2024-04-01"})
    members = pd.read_csv(io.StringIO(out.text), dtype=str)
    assert "jane.doe@example.com" not in out.text and "7946 0018" not in out.text
    assert _expected_pseudonym(shop, "jane.doe@example.com") in set(members.customer_id)


@pytest.mark.parametrize("flt", [
    {"field": "email", "op": "eq", "value": "jane.doe@example.com"},
    {"field": "phone", "op": "in", "value": ["+44 20 7946 0018"]},
    {"field": "name", "op": "eq", "value": "Jane Doe"},
    {"field": "customer_id", "op": "eq", "value": "jane.doe@example.com"},
    {"field": "customer_id", "op": "in", "value": ["c-1001", "13800138000"]},
])
def test_pii_filters_are_refused_for_non_admins(shop_app, flt):
    definition = {"name": "probe", "filters": [flt]}
    for user in ("vera", "anna"):
        c = login(shop_app, user)
        r = c.post("/api/audiences/preview", json=definition)
        assert r.status_code == 403 and r.json()["error"]["code"] == "pii_filter", r.text
        assert flt["field"] in r.json()["error"]["message"]
    anna = login(shop_app, "anna")
    assert anna.post("/api/audiences", json=definition).status_code == 403
    r = login(shop_app, "root").post("/api/audiences/preview", json=definition,
                                     params={"as_of": "2024-04-01"})
    assert r.status_code == 200, r.text


def test_presence_filters_on_pii_stay_allowed(shop_app):
    r = login(shop_app, "vera").post("/api/audiences/preview", params={"as_of": "2024-04-01"},
                                     json={"name": "has_mail", "filters": [
                                         {"field": "email", "op": "not_null"}]})
    assert r.status_code == 200 and r.json()["size"] == 2


def test_rejects_are_masked_by_column_role():
    import ibis

    from shopscope.privacy import mask_rejects

    t = ibis.memtable({
        "table_name": ["orders", "customers", "events", "products", "orders"],
        "column": ["customer_id", "name", "user_id", "name", "quantity"],
        "value": ["Zhang San", "Jane Doe", "li.si", "Robot", "two"]})
    assert mask_rejects(t).execute()["value"].tolist() == ["***", "***", "***", "Robot", "two"]


def test_cached_reads_do_not_wait_for_a_running_query(tmp_path):
    # A cache hit must be served while another request holds the store (a slow query).
    import threading
    import time

    from shopscope.auth import UserStore
    from shopscope.store import Workspace
    from shopscope.ui.deps import AppState

    workspace = Workspace.create(tmp_path / "workspace")
    state = AppState(workspace=workspace, users=UserStore(workspace.path))
    assert state.cached("k", lambda: 41) == 41
    state._version = (0.5, state._version[1])  # due for a version check
    release = threading.Event()
    holding = threading.Event()

    def slow() -> int:
        holding.set()
        release.wait(10)
        return 1

    t = threading.Thread(target=lambda: state.cached("other", slow))
    t.start()
    assert holding.wait(10)
    began = time.monotonic()
    assert state.cached("k", lambda: 0) == 41  # the hit, not recomputed
    waited = time.monotonic() - began
    release.set()
    t.join(10)
    workspace.close()
    assert waited < 1.0
    assert state.cached("other", lambda: 2) == 1
