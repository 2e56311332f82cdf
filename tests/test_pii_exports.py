"""Exports follow the API's PII rule when the customer id is itself an e-mail address (a
Shopify mapping: customer_id = Email): the funnel's dropped visitors (API and CLI), the
CLI's audience export, and the customers' free-form ``attributes`` (issue 13, security)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys

import ibis
import pandas as pd
import pytest

from shopscope.schema import get_table

PASSWORDS = {"root": "root-pass-1234", "anna": "anna-pass-1234", "vera": "vera-pass-1234"}
JANE, BOB, CARL = "jane.doe@example.com", "bob@example.org", "c-1001"
SECRET_ATTRS = {"full_name": "Jane Doe", "mobile": "+44 7700 900123"}


def _insert(ws, table: str, rows: list[dict]) -> None:
    spec = get_table(table)
    ws.store.insert(table, ibis.memtable([{c: r.get(c) for c in spec.names} for r in rows],
                                         schema=spec.ibis_schema().to_pyarrow()))


def _order(oid: str, customer: str, when: dt.datetime, net: float) -> dict:
    return {"order_id": oid, "customer_id": customer, "ordered_at": when, "channel": "web",
            "status": "completed", "gross_amount": net, "discount_amount": 0.0,
            "shipping_amount": 0.0, "net_amount": net, "currency": "EUR", "country": "GB"}


def _build(path):
    from shopscope.auth import UserStore
    from shopscope.store import Workspace

    ws = Workspace.create(path)
    day = dt.datetime(2024, 3, 1, 10)
    _insert(ws, "orders", [_order("o1", JANE, day, 50.0), _order("o2", BOB, day, 70.0),
                           _order("o3", CARL, day, 20.0),
                           _order("o4", JANE, day + dt.timedelta(days=20), 30.0)])
    _insert(ws, "customers", [
        {"customer_id": JANE, "email": JANE, "country": "GB",
         "attributes": json.dumps(SECRET_ATTRS)},
        {"customer_id": BOB, "email": BOB, "country": "GB"},
        {"customer_id": CARL, "country": "GB"}])
    # Jane and Carl view but do not buy within a day; Bob does: the drop-outs at step 2
    # are Jane and Carl.
    _insert(ws, "events", [
        {"event_at": day, "user_id": JANE, "event_type": "view"},
        {"event_at": day, "user_id": CARL, "event_type": "view"},
        {"event_at": day, "user_id": BOB, "event_type": "view"},
        {"event_at": day + dt.timedelta(hours=1), "user_id": BOB, "event_type": "purchase"}])
    users = UserStore(ws.path)
    for name, role in (("root", "admin"), ("anna", "analyst"), ("vera", "viewer")):
        users.add(name, PASSWORDS[name], role)
    return ws


def _pseudonym(ws_path, customer_id: str) -> str:
    """Independently of the engine: SHA-256 of the workspace key and the id."""
    from shopscope.auth import UserStore

    key = UserStore(ws_path).secret("pseudonym").hex()
    return "c_" + hashlib.sha256((key + customer_id).encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = _build(tmp_path_factory.mktemp("pii") / "ws")
    yield ws
    ws.close()


def _login(ws, user: str):
    from fastapi.testclient import TestClient

    from shopscope.app import create_app

    c = TestClient(create_app(ws), base_url="https://testserver")
    r = c.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    return c


DROPPED = {"step": ["view", "purchase"], "at_step": 2, "source": "events"}


def test_api_dropped_visitors_are_pseudonyms_for_analysts(shop):
    r = _login(shop, "anna").get("/api/behaviour/funnel/dropped", params=DROPPED)
    assert r.status_code == 200, r.text
    frame = pd.read_csv(io.StringIO(r.text), dtype=str)
    assert set(frame.visitor) == {_pseudonym(shop.path, JANE), CARL}
    assert set(frame.user_id) == {_pseudonym(shop.path, JANE), CARL}
    assert JANE not in r.text
    refused = _login(shop, "anna").get("/api/behaviour/funnel/dropped",
                                       params={**DROPPED, "pii": "raw"})
    assert refused.status_code == 403
    raw = _login(shop, "root").get("/api/behaviour/funnel/dropped",
                                   params={**DROPPED, "pii": "raw"})
    assert set(pd.read_csv(io.StringIO(raw.text), dtype=str).visitor) == {JANE, CARL}


@pytest.mark.parametrize("pii", ["mask", "hash"])
def test_api_customer_exports_leave_attributes_out(shop, pii):
    r = _login(shop, "anna").get("/api/customers/export", params={"pii": pii})
    assert r.status_code == 200, r.text
    frame = pd.read_csv(io.StringIO(r.text), dtype=str)
    assert frame["attributes"].isna().all()
    assert "Jane Doe" not in r.text and "900123" not in r.text and JANE not in r.text
    listed = _login(shop, "vera").get("/api/customers").json()["items"]
    assert all(item["attributes"] is None for item in listed)
    raw = _login(shop, "root").get("/api/customers/export", params={"pii": "raw"})
    assert "Jane Doe" in raw.text  # an admin's raw export keeps them


@pytest.fixture
def closed_shop(tmp_path):
    ws = _build(tmp_path / "ws")
    ws.close()  # the CLI opens the store itself
    return ws.path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopscope.cli", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_dropped_visitors_are_pseudonyms(closed_shop, tmp_path):
    out = tmp_path / "dropped.csv"
    r = _cli("behaviour", "funnel", "view", "purchase", "--dropped-at", "2", "--source",
             "events", "-w", str(closed_shop), "--format", "csv", "--output", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    frame = pd.read_csv(out, dtype=str)
    assert set(frame.visitor) == {_pseudonym(closed_shop, JANE), CARL}
    assert JANE not in out.read_text() + r.stdout
    r = _cli("behaviour", "funnel", "view", "purchase", "--dropped-at", "2", "--source",
             "events", "-w", str(closed_shop), "--format", "csv", "--pii", "raw")
    assert r.returncode == 0 and JANE in r.stdout, r.stdout + r.stderr


def test_cli_audience_export_carries_pseudonyms(closed_shop, tmp_path):
    definition = tmp_path / "everyone.json"
    definition.write_text(json.dumps({"name": "everyone", "filters": [],
                                      "columns": ["customer_id", "email", "monetary"]}))
    out = tmp_path / "members.csv"
    r = _cli("audience", "run", str(definition), "-w", str(closed_shop), "--as-of",
             "2024-04-01", "--export", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    frame = pd.read_csv(out, dtype=str)
    assert set(frame.customer_id) == {_pseudonym(closed_shop, JANE),
                                      _pseudonym(closed_shop, BOB), CARL}
    assert JANE not in out.read_text() and BOB not in out.read_text()
