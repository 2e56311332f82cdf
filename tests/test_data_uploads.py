"""Uploads while serving (shopscope.data.uploads): analysts and admins load a file through
the running app's API and data page; viewers are refused; size, type and content checks;
the rejects shown and downloadable; the served app sees the new data; an audit log."""

from __future__ import annotations

import gzip
import hashlib
import io
import time

import pytest
from fastapi.testclient import TestClient

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.store import Workspace

PASSWORD = "upload-tests-pass-1"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
FIRST = HEADER + (
    "500001,TEA1,Tea,2,2011-05-01 10:00:00,3.50,99001,United Kingdom\n"
    "500001,CUP1,Cup,1,2011-05-01 10:00:00,8.00,99001,United Kingdom\n"
    "500002,TEA1,Tea,3,2011-05-02 11:00:00,3.25,99002,France\n"
)
# two new invoices, a third with a quantity that is no number (row 3 of the file's data)
NEW = HEADER + (
    "600001,TEA1,Tea,4,2011-06-01 10:00:00,3.50,99003,Germany\n"
    "600002,CUP1,Cup,2,2011-06-02 10:00:00,8.00,99001,United Kingdom\n"
    "600003,CUP1,Cup,two,2011-06-03 10:00:00,8.00,99004,France\n"
)


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "first.csv").write_text(FIRST, encoding="utf-8")
    w = Workspace.create(tmp_path / "ws", currency="GBP", timezone="Europe/London")
    from shopscope.ingest import ingest_file

    ingest_file(w, tmp_path / "first.csv", preset="online_retail")
    users = UserStore(w.path)
    users.add("ada", PASSWORD, "admin")
    users.add("ann", PASSWORD, "analyst")
    users.add("vic", PASSWORD, "viewer")
    yield w
    w.close()


def login(app, user: str) -> TestClient:
    c = TestClient(app, base_url="https://testserver")
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


def upload(c: TestClient, name: str, content: bytes, **fields: str):
    files = {"file": (name, io.BytesIO(content), "application/octet-stream")}
    if "mapping" in fields:
        files["mapping"] = ("shop.toml", io.BytesIO(fields.pop("mapping").encode()), "text/plain")
    return c.post("/api/data/uploads", files=files, data=fields)


def wait(c: TestClient, upload_id: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = c.get(f"/api/data/uploads/{upload_id}").json()
        if status["state"] in ("done", "rejected", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"upload {upload_id} did not finish: {status}")


def orders(c: TestClient) -> int:
    return next(t["rows"] for t in c.get("/api/data/tables").json() if t["name"] == "orders")


def test_analyst_upload_loads_through_the_served_app(ws):
    with TestClient(create_app(ws), base_url="https://testserver") as boot:
        app = boot.app
        c = login(app, "ann")
        assert orders(c) == 2  # cached by the served app at this data version
        body = NEW.replace("two", "5").encode()
        r = upload(c, "june.csv", body, preset="online_retail")
        assert r.status_code == 202, r.text
        started = r.json()
        assert started["state"] in ("queued", "loading", "done")
        assert started["sha256"] == hashlib.sha256(body).hexdigest()
        done = wait(c, started["id"])
        assert done["state"] == "done", done
        assert done["rows_added"]["orders"] == 3 and done["rows_added"]["order_items"] == 3
        assert orders(c) == 5  # the served app sees the new data version at once
        state = app.state.shopscope
        assert state.warmup.wait(120)  # the warm-up ran for the new version
        assert state.warmup.status().data_version == ws.store.data_version()
        assert not list((ws.path / "uploads" / "tmp").iterdir())  # the upload is removed
        again = wait(c, upload(c, "june.csv", body, preset="online_retail").json()["id"])
        assert again["state"] == "done" and sum(again["rows_added"].values()) == 0


def test_viewer_is_refused_and_admin_sees_the_audit_log(ws):
    app = create_app(ws)
    vic = login(app, "vic")
    r = upload(vic, "june.csv", NEW.encode(), preset="online_retail")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert vic.get("/data").text.count('data-testid="upload-form"') == 0
    ada = login(app, "ada")
    body = NEW.replace("two", "1").encode()
    done = wait(ada, upload(ada, "june.csv", body, preset="online_retail").json()["id"])
    assert done["state"] == "done"
    assert upload(ada, "run.exe", b"MZ\x90\x00", preset="online_retail").status_code == 415
    log = ada.get("/api/data/audit").json()
    assert [(e["user"], e["role"], e["file"], e["result"]) for e in log] == [
        ("ada", "admin", "run.exe", "refused"), ("ada", "admin", "june.csv", "done")]
    assert log[1]["sha256"] == hashlib.sha256(body).hexdigest()
    assert log[1]["rows_added"] == done["rows_added"]["orders"] + sum(
        n for t, n in done["rows_added"].items() if t != "orders")
    assert log[0]["sha256"] == hashlib.sha256(b"MZ\x90\x00").hexdigest()
    assert login(app, "ann").get("/api/data/audit").status_code == 403
    page = ada.get("/data").text
    assert 'data-testid="audit"' in page and "run.exe" in page
    # someone else's upload is not shown to an analyst
    assert login(app, "ann").get(f"/api/data/uploads/{done['id']}").status_code == 404


def test_bad_rows_are_shown_and_downloadable_and_nothing_loads(ws):
    app = create_app(ws)
    c = login(app, "ann")
    done = wait(c, upload(c, "june.csv", NEW.encode(), preset="online_retail").json()["id"])
    assert done["state"] == "rejected"
    assert done["problems_total"] == 1
    (p,) = done["problems"]
    assert (p["row"], p["column"], p["value"]) == (3, "Quantity", "two")
    csv = c.get(f"/api/data/uploads/{done['id']}/rejects.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "table,row,column,value,reason" and lines[1].startswith(
        "order_items,3,Quantity,two,")
    assert orders(c) == 2  # all or nothing
    page = c.get(f"/data?upload={done['id']}").text
    assert 'data-testid="upload-problems"' in page and "Quantity" in page
    # quarantine: the two good invoices load, the bad line is set aside
    q = wait(c, upload(c, "june.csv", NEW.encode(), preset="online_retail",
                       policy="quarantine").json()["id"])
    assert q["state"] == "done" and q["rows_added"]["orders"] == 2 and q["rows_rejected"] == 1
    assert orders(c) == 4


def test_too_large_is_413_with_a_clear_message(ws):
    app = create_app(ws, max_upload=2_000)
    c = login(app, "ann")
    big = (HEADER + "600001,TEA1,Tea,4,2011-06-01 10:00:00,3.50,99003,Germany\n" * 60).encode()
    assert len(big) > 2_000
    r = upload(c, "big.csv", big, preset="online_retail")
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "upload_too_large"
    assert error["message"] == "the file is larger than the upload limit of 2,000 bytes"
    assert "shopscope ingest" in error["hint"]
    # other requests keep the API's own bound, uploads theirs
    assert upload(c, "small.csv", NEW.replace("two", "1").encode(),
                  preset="online_retail").status_code == 202


@pytest.mark.parametrize(("name", "content", "code"), [
    ("orders.txt", HEADER.encode(), "upload_type"),
    ("orders.csv", gzip.compress(HEADER.encode()), "upload_content"),
    ("orders.csv", HEADER.encode("utf-16"), "upload_content"),
    ("orders.xlsx", HEADER.encode(), "upload_content"),
    ("orders.parquet", b"PK\x03\x04....", "upload_content"),
    ("orders.csv", b"", "upload_empty"),
])
def test_wrong_type_or_content_is_refused_before_loading(ws, name, content, code):
    app = create_app(ws)
    c = login(app, "ann")
    r = upload(c, name, content, preset="online_retail")
    assert r.status_code in (415, 422), r.text
    assert r.json()["error"]["code"] == code
    assert not list((ws.path / "uploads" / "tmp").iterdir())
    (entry,) = login(app, "ada").get("/api/data/audit").json()
    assert (entry["file"], entry["result"]) == (name, "refused")


def test_gzip_csv_and_a_mapping_file_load(ws):
    app = create_app(ws)
    c = login(app, "ann")
    done = wait(c, upload(c, "june.csv.gz", gzip.compress(NEW.replace("two", "1").encode()),
                          preset="online_retail").json()["id"])
    assert done["state"] == "done" and done["rows_added"]["orders"] == 3
    mapping = """
[[source]]
file = "shop.csv"
table = "order_lines"
constants = { channel = "web", status = "completed" }
[source.columns]
order_id = "Order"
ordered_at = "Day"
product_id = "Item"
quantity = "Qty"
unit_price = "Price"
"""
    shop = "Order,Day,Item,Qty,Price\nS1,2011-07-01,TEA1,2,3.50\nS1,2011-07-01,CUP1,1,8\n"
    done = wait(c, upload(c, "shop.csv", shop.encode(), mapping=mapping).json()["id"])
    assert done["state"] == "done", done
    assert done["rows_added"]["orders"] == 1 and done["rows_added"]["order_items"] == 2
    outside = mapping.replace('file = "shop.csv"', 'file = "/etc/passwd"')
    r = upload(c, "shop.csv", shop.encode(), mapping=outside)
    assert r.status_code == 422 and r.json()["error"]["code"] == "upload_mapping"
    assert "points outside the upload" in r.json()["error"]["message"]
    db = mapping.replace('file = "shop.csv"', 'url = "postgresql://h/db"\ndb_table = "t"')
    r = upload(c, "shop.csv", shop.encode(), mapping=db)
    assert r.status_code == 422 and "reads a database" in r.json()["error"]["message"]


def test_page_form_needs_the_csrf_token_and_the_role(ws):
    app = create_app(ws)
    c = login(app, "ann")
    del c.headers["x-csrf-token"]
    files = {"file": ("june.csv", io.BytesIO(NEW.encode()), "text/csv")}
    r = c.post("/data/upload", files=files, data={"preset": "online_retail", "csrf": "wrong"})
    assert r.status_code == 403 and "The form has expired" in r.text
    page = c.get("/data").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/data/upload", files=files, data={"preset": "online_retail", "csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/data?upload=")
    vic = login(app, "vic")
    r = vic.post("/data/upload", files=files, data={"preset": "online_retail", "csrf": csrf})
    assert r.status_code == 403


def test_page_shows_loading_while_the_store_is_busy_and_stays_responsive(ws):
    app = create_app(ws)
    c = login(app, "ann")
    assert c.get("/data").status_code == 200  # the page's tables are now cached
    state = app.state.shopscope
    with state.lock:  # a long query or load holds the store: the upload waits for it
        started = upload(c, "june.csv", NEW.replace("two", "1").encode(),
                         preset="online_retail").json()
        deadline = time.monotonic() + 30
        while c.get(f"/api/data/uploads/{started['id']}").json()["state"] != "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        page = c.get(f"/data?upload={started['id']}").text  # served from the cache
        assert 'data-finished="false"' in page and "loading…" in page
        assert 'src="/static/data.js' in page  # the script that polls and reloads
    assert wait(c, started["id"])["state"] == "done"
    page = c.get(f"/data?upload={started['id']}").text
    # 3 orders + 3 lines + 2 new customers (99003, 99004); the products were known
    assert 'data-finished="true"' in page and "loaded, 8 rows added" in page
