"""The warm-up after a load (issue 14, point 9; ``shopscope.ui.warmup``).

After the server starts and after every change of the data version, every area's warmers
compute the default views of its pages in the background, so the first visit of each page
computes nothing: every ``state.cached`` call it makes is a hit. That is checked with a spy
on ``state.cached`` that records the keys whose computation runs (not with timings). A
control app without the warm-up shows the spy does see misses on a first visit.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Hashable, Iterator
from html import unescape
from typing import Any

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.core.registry import warmers
from shopscope.store import Workspace
from shopscope.ui.deps import AppState
from shopscope.ui.warmup import WarmupStatus

PASSWORD = "warm-up-pass-123"
DEFINITION = {
    "experiment_id": "coupon_test", "name": "Coupon", "variants": ["control", "treatment"],
    "start": "2024-03-01", "end": "2024-03-14",
    "metrics": [{"name": "purchase", "kind": "binary"},
                {"name": "revenue", "kind": "mean", "value": "revenue"}]}
#: Every page whose default view the built-in warmers prepare.
PAGES = ("/", "/customers", "/audiences", "/products", "/behaviour/funnel", "/behaviour/trends",
         "/behaviour/retention", "/behaviour/paths", "/experiments", "/experiments/coupon_test")


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Iterator[tuple[Workspace, Any]]:
    """A tiny synthetic shop with events (four months), and the folder of a second load:
    an A/B test's assignments with its own customers and orders."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shopscope.ingest import ingest_file
    from shopscope.synth import generate
    from shopscope.synth.experiments import experiment_tables

    root = tmp_path_factory.mktemp("warmup")
    generate(root / "synth", customers=150, seed=1, start="2023-11-01", days=120,
             events=True, products=50)
    for name in ("inventory.parquet", "marketing_spend.parquet"):  # not on any page
        shutil.rmtree(root / "synth" / name, ignore_errors=True)
        (root / "synth" / name).unlink(missing_ok=True)
    e = experiment_tables(300, lift_rate=0.3, seed=3, experiment_id="coupon_test")
    (root / "exp").mkdir()
    for name in ("experiments", "orders", "customers"):
        pq.write_table(pa.Table.from_pandas(getattr(e, name), preserve_index=False),
                       root / "exp" / f"{name}.parquet")
    ws = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(ws, root / "synth", preset="canonical")
    UserStore(ws.path).add("ada", PASSWORD, "admin")
    yield ws, root / "exp"
    ws.close()


def signed_in(client: TestClient) -> TestClient:
    r = client.post("/api/login", json={"username": "ada", "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def spy_misses(monkeypatch: pytest.MonkeyPatch, state: AppState) -> list[Hashable]:
    """The keys ``state.cached`` computes from now on (misses), in order."""
    misses: list[Hashable] = []
    real = state.cached

    def cached(key: Hashable, compute: Callable[[], Any]) -> Any:
        def counted() -> Any:
            misses.append(key)
            return compute()
        return real(key, counted)

    monkeypatch.setattr(state, "cached", cached)
    return misses


def warmup_line(html: str) -> str:
    match = re.search(r'data-testid="warmup"[^>]*>([^<]*)<', html)
    assert match, "no warm-up line on the data page"
    return " ".join(unescape(match.group(1)).split())


# -- the built-in warmers ----------------------------------------------------------------------
def test_every_area_registers_its_warmers() -> None:
    names = [area for area, _ in warmers()]
    assert names == ["kpis", "customers", "customers", "products", "behaviour", "behaviour",
                     "behaviour", "behaviour", "experiments"]


def test_first_visit_after_a_load_is_served_from_the_cache(
        shop: tuple[Workspace, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from shopscope.experiments import service
    from shopscope.ingest import ingest_file

    ws, second_load = shop
    app = create_app(ws)
    state: AppState = app.state.shopscope
    with TestClient(app, base_url="https://testserver") as client:  # runs the lifespan
        signed_in(client)
        # warmed at start-up
        assert state.warmup.wait(120)
        started = WarmupStatus.model_validate(client.get("/api/data/warmup").json())
        assert (started.state, started.total, started.done, started.errors) == ("done", 9, 9, 0)
        assert [s.status for s in started.steps] == ["done"] * 9
        r = client.post("/api/audiences", json={
            "name": "active", "filters": [{"field": "stage", "op": "eq", "value": "active"}]})
        assert r.status_code == 201, r.text
        service.create(state, service.CreateParams(definition=DEFINITION))
        version = state.data_version()

        # a load (as `shopscope ingest` or an upload would) changes the data version
        with state.lock:
            ingest_file(ws, second_load, preset="canonical")
        assert state.refresh_version() != version
        assert state.warmup.wait(120)
        after = WarmupStatus.model_validate(client.get("/api/data/warmup").json())
        assert after.runs == 2 and after.data_version == state.data_version()
        assert (after.state, after.done, after.errors) == ("done", 9, 0), after.steps

        misses = spy_misses(monkeypatch, state)
        for page in PAGES:
            r = client.get(page)
            assert r.status_code == 200, (page, r.status_code)
            assert misses == [], f"{page} computed {misses}"
        # the warmed experiment was really analysed (its page shows the analysis)
        assert "coupon_test" in client.get("/api/experiments/coupon_test/results").text
        assert misses == []
        assert warmup_line(client.get("/data").text).startswith(
            "Dashboards ready: 9 views prepared in")
    assert not state.warmup.running


def test_without_the_warm_up_a_first_visit_computes(
        shop: tuple[Workspace, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # the control of the test above: no lifespan, no warm-up, and the spy sees the misses
    ws, _ = shop
    app = create_app(ws)
    state: AppState = app.state.shopscope
    client = signed_in(TestClient(app, base_url="https://testserver"))
    misses = spy_misses(monkeypatch, state)
    assert client.get("/").status_code == 200
    assert ("kpis.shop_options",) in misses and len(misses) >= 3
    assert client.get("/api/data/warmup").json()["state"] == "idle"
    assert 'data-testid="warmup"' not in client.get("/data").text


# -- failures and concurrency, with warmers of this module -------------------------------------
CALLS: list[str] = []
GATE = threading.Event()
RUNNING: list[int] = []  # warm-up threads alive, seen from inside each warmer


def _seen(name: str) -> None:
    CALLS.append(name)
    RUNNING.append(sum(t.name == "shopscope-warmup" for t in threading.enumerate()))


def first(ctx: Any) -> None:
    _seen("first")


def broken(ctx: Any) -> None:
    _seen("broken")
    raise RuntimeError("this warmer is broken on purpose")


def last(ctx: Any) -> None:
    _seen("last")


def gated(ctx: Any) -> None:
    _seen("gated")
    assert GATE.wait(30)


def _state(ws: Workspace, *steps: str) -> AppState:
    state = AppState(workspace=ws, users=UserStore(ws.path))
    state.warmup.steps = tuple(("tests", f"tests.test_warmup:{name}") for name in steps)
    CALLS.clear()
    RUNNING.clear()
    GATE.clear()
    return state


def test_a_failing_warmer_is_reported_and_the_others_still_run(workspace: Workspace) -> None:
    state = _state(workspace, "first", "broken", "last")
    assert state.warmup.start()
    assert state.warmup.wait(30)
    assert CALLS == ["first", "broken", "last"]
    status = state.warmup.status()
    assert (status.state, status.done, status.total, status.errors) == ("done", 3, 3, 1)
    assert [s.status for s in status.steps] == ["done", "failed", "done"]
    assert status.steps[1].error == "RuntimeError: this warmer is broken on purpose"
    assert status.seconds is not None and status.finished_at >= status.started_at


def test_the_data_page_and_the_api_report_a_failed_warmer(workspace: Workspace) -> None:
    UserStore(workspace.path).add("ada", PASSWORD, "admin")
    app = create_app(workspace)
    state = app.state.shopscope
    state.warmup.steps = (("tests", "tests.test_warmup:first"),
                          ("tests", "tests.test_warmup:broken"))
    with TestClient(app, base_url="https://testserver") as client:
        signed_in(client)
        assert state.warmup.wait(30)
        body = client.get("/api/data/warmup").json()
        assert (body["state"], body["errors"], body["steps"][1]["status"]) == ("done", 1,
                                                                               "failed")
        html = client.get("/data").text
        assert warmup_line(html).startswith("Dashboards ready: 2 views prepared in")
        assert "1 view could not be prepared: tests: tests.test_warmup:broken" in unescape(html)


def test_never_two_warm_ups_at_once_and_a_newer_load_starts_over(
        workspace: Workspace) -> None:
    state = _state(workspace, "gated", "last")
    assert state.warmup.start()  # a load: the thread starts and waits in "gated"
    for _ in range(50):
        if CALLS:
            break
        threading.Event().wait(0.05)
    assert CALLS == ["gated"]
    assert state.warmup.status().step == 1
    # two more loads while it runs: no second thread; the run starts over after this step
    assert not state.warmup.start()
    assert not state.warmup.start()
    GATE.set()
    assert state.warmup.wait(30)
    assert CALLS == ["gated", "gated", "last"]  # step 2 of the superseded run never ran
    assert max(RUNNING) == 1
    status = state.warmup.status()
    assert (status.runs, status.state, status.done) == (2, "done", 2)


RETAIL = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
          "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n")


def test_a_new_data_version_starts_the_warm_up_only_once_enabled(
        workspace: Workspace, tmp_path) -> None:
    from shopscope.ingest import ingest_file

    retail = tmp_path / "retail.csv"
    retail.write_text(RETAIL, encoding="utf-8")
    state = _state(workspace, "first")
    before = state.data_version()
    ingest_file(workspace, retail, preset="online_retail")
    assert state.refresh_version() != before
    assert not state.warmup.running and CALLS == []  # not enabled: apps without a lifespan
    state.warmup.enable(watch=None)  # the lifespan: warm now ...
    assert state.warmup.wait(30) and CALLS == ["first"]
    retail.write_text(RETAIL.replace("536365", "536366"), encoding="utf-8")
    ingest_file(workspace, retail, preset="online_retail")
    assert state.refresh_version() != before  # ... and after every load
    assert state.warmup.wait(30) and CALLS == ["first", "first"]
    state.warmup.stop()
