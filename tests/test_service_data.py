"""The data service (``shopscope.data.service``): with a LocalContext it gives the rows the
API and the data page give the same viewer; cache keys follow the parameters; the API's row
models match the tables and send whole numbers as integers."""

from __future__ import annotations

import datetime as dt
import gzip
import re

import ibis
import pytest
from fastapi.testclient import TestClient

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.core.service import LocalContext
from shopscope.data import service
from shopscope.data.http import CustomerRow, LoadRow, RejectRow
from shopscope.ingest import ingest_file
from shopscope.schema import TABLES
from shopscope.store import Workspace
from shopscope.store.engine import INGEST_LOG, REJECTS

PASSWORD = "data-service-pass-1"
# A rejected e-mail address (masked for viewers) and a reject without a row number.
REJECTS_ROWS = {
    "table_name": ["customers", "orders"],
    "source": ["crm.csv", "shop.csv"],
    "row": [7, None],
    "column": ["E-Mail", "Quantity"],
    "value": ["jane.doe@example.com", "two"],
    "reason": ["duplicate key (customer_id)", "cannot parse as a whole number"],
    "loaded_at": [dt.datetime(2024, 1, 2, 9, 30)] * 2,
}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("data-service")
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(2_001)), encoding="utf-8")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, head, preset="online_retail")
    ws.store.insert(REJECTS, ibis.memtable(REJECTS_ROWS, schema={
        "table_name": "string", "source": "string", "row": "int64", "column": "string",
        "value": "string", "reason": "string", "loaded_at": "timestamp"}))
    users = UserStore(ws.path)
    users.add("ada", PASSWORD, "admin")
    users.add("vic", PASSWORD, "viewer")
    yield LocalContext(ws)
    ws.close()


@pytest.fixture(scope="module")
def app(ctx):
    return create_app(ctx.workspace)


def login(app, user: str) -> TestClient:
    c = TestClient(app, base_url="https://testserver")
    assert c.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return c


def test_tables_are_what_the_api_lists(ctx, app):
    mine = [info.model_dump() for info in service.tables(ctx)]
    assert [t["name"] for t in mine] == list(TABLES)
    assert next(t for t in mine if t["name"] == "orders")["rows"] == \
        ctx.store.table("orders").count().execute()
    assert login(app, "vic").get("/api/data/tables").json() == mine


@pytest.mark.parametrize(("user", "masked"), [("ada", False), ("vic", True)])
def test_rejects_for_a_viewer_are_what_the_api_and_the_page_show(ctx, app, user, masked):
    rows = service.rejects(ctx, service.RejectsParams(page=1, page_size=10), masked=masked)
    assert rows.total == 2
    values = rows.frame.sort_values("source")["value"].tolist()
    assert values == (["***", "two"] if masked else ["jane.doe@example.com", "two"])
    c = login(app, user)
    body = c.get("/api/data/rejects", params={"page_size": 10}).json()
    assert body["total"] == rows.total
    assert sorted(i["value"] for i in body["items"]) == sorted(values)
    page = c.get("/data").text
    assert ("jane.doe@example.com" in page) is not masked
    # Whole numbers stay whole even when a missing row number makes the column float.
    assert [i["row"] for i in body["items"] if i["row"] is not None] == [7]
    assert all(isinstance(i["row"], int) for i in body["items"] if i["row"] is not None)


def test_loads_are_what_the_api_and_the_page_show(ctx, app):
    rows = service.loads(ctx, service.LoadsParams(page=1, page_size=100))
    log = ctx.store.table(INGEST_LOG).execute()
    assert rows.total == len(log) > 0
    assert rows.frame["loaded_at"].is_monotonic_decreasing
    body = login(app, "vic").get("/api/data/loads").json()
    assert [(i["table_name"], i["rows_added"]) for i in body["items"]] == \
        list(zip(rows.frame["table_name"], rows.frame["rows_added"], strict=True))


def test_customers_for_a_viewer_use_the_pseudonym_key(ctx, app):
    key = UserStore(ctx.workspace.path).secret("pseudonym").hex()
    viewer = service.customers(ctx, service.CustomersParams(page=1, page_size=5), key=key)
    admin = service.customers(ctx, service.CustomersParams(page=1, page_size=5, pii="raw"),
                              key=None)
    assert viewer.total == admin.total == ctx.store.table("customers").count().execute()
    body = login(app, "vic").get("/api/customers", params={"page_size": 5}).json()
    assert [i["customer_id"] for i in body["items"]] == viewer.frame["customer_id"].tolist()
    body = login(app, "ada").get("/api/customers", params={"page_size": 5}).json()
    assert [i["customer_id"] for i in body["items"]] == admin.frame["customer_id"].tolist()


def test_cache_keys_follow_the_parameters():
    base = service.RejectsParams(page=2, page_size=10)
    assert base.cache_key() == service.RejectsParams(page=2, page_size=10).cache_key()
    for other in (service.RejectsParams(page=3, page_size=10),
                  service.RejectsParams(page=2, page_size=11),
                  service.RejectsParams(page=2, page_size=10, newest_first=True),
                  service.LoadsParams(page=2, page_size=10)):
        assert other.cache_key() != base.cache_key()
    c = service.CustomersParams(pii="hash")
    assert c.cache_key() == service.CustomersParams(pii="hash").cache_key()
    assert c.cache_key() != service.CustomersParams(pii="mask").cache_key()


def test_the_viewer_is_part_of_the_cached_answer(ctx):
    keys = []

    class Recorder:
        store = ctx.store

        def cached(self, key, compute):
            keys.append(key)
            return compute()

    params = service.RejectsParams()
    service.rejects(Recorder(), params, masked=True)
    service.rejects(Recorder(), params, masked=False)
    service.rejects(Recorder(), params, masked=True)
    assert keys[0] == keys[2] != keys[1]


def test_row_models_have_the_tables_columns(ctx):
    assert list(RejectRow.model_fields) == list(ctx.store.table(REJECTS).columns)
    assert list(LoadRow.model_fields) == list(ctx.store.table(INGEST_LOG).columns)
    assert list(CustomerRow.model_fields) == list(TABLES["customers"].names)


def test_bad_page_parameters_are_refused_by_the_service():
    with pytest.raises(ValueError, match=re.compile("page_size", re.IGNORECASE)):
        service.LoadsParams(page_size=0)
