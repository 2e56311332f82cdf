"""The dashboard in a real browser: headless Chromium (Debian's) driven by Playwright against
a uvicorn server on 127.0.0.1.

Sign in, read the overview numbers and check them against the KPI module, switch to
Chinese, change the grain and see the chart's points change, open the data page, sign out.
Every request must stay on 127.0.0.1 (no CDN). Screenshots go to ``test-artifacts/``.
Skipped when Chromium or Playwright is not installed.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from babel.numbers import format_currency, format_decimal

from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.kpis import kpis, summary
from shopscope.store import Workspace
from tests.pagecheck import assert_local_only

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PASSWORD = "correct horse battery staple"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    ws = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London", name="demo")
    ingest_file(ws, demo_data_path(), preset="online_retail")
    UserStore(ws.path).add("ada", PASSWORD, "admin")
    return ws


@contextlib.contextmanager
def serve(app):
    """Serve ``app`` with uvicorn on a free local port (Secure cookie, as in production);
    yields its base URL."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    # The tests query the workspace's store from this thread, outside the app's store lock;
    # let the start-up warm-up (shopscope.ui.warmup) finish first, as it uses the same
    # connection.
    state = getattr(getattr(app, "state", None), "shopscope", None)
    if state is not None:
        state.warmup.wait(120)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(workspace):
    from shopscope.app import create_app

    app = create_app(workspace)
    SERVED[:] = [app]
    with serve(app) as url:
        yield url


#: The app the ``server`` fixture serves. The test reads the same store as the server (one
#: DuckDB connection, not safe across threads): it does so under the app's store lock, so
#: that the warm-up and the data-version check in the server's threads wait meanwhile.
SERVED: list = []


def store_lock():
    return SERVED[-1].state.shopscope.lock


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        except sync_api.Error as exc:  # pragma: no cover - broken browser install
            pytest.skip(f"Chromium does not start: {exc}")
        yield b
        b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def x_points(page, chart: str = "chart-sales") -> int:
    return page.evaluate(f"document.getElementById('{chart}').data[0].x.length")


def test_dashboard_in_chromium(server, browser, workspace):
    context = browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    hosts: set[str] = set()
    problems: list[str] = []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
            else None)

    # Signed out: the overview sends us to the login page.
    page.goto(server + "/?grain=month")
    assert urlsplit(page.url).path == "/login"
    shot(page, "01-login.png")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("html[data-charts=ready]")
    assert urlsplit(page.url).path == "/"
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["ss_session"]["secure"] and cookies["ss_session"]["httpOnly"]
    shot(page, "02-overview-en.png")

    # The numbers on the page are the KPI module's, formatted in English.
    store = workspace.store
    with store_lock():
        nov = kpis(store, grain="month").data
        net_sales = summary(store)["net_sales"]
        first_gmv = kpis(store, grain="month").wide().gmv.iloc[0]
    nov = nov[nov.period == pd.Timestamp("2011-11-01")].set_index("metric")
    assert page.inner_text("[data-testid=card-gmv]") == format_currency(
        nov.loc["gmv", "value"], "GBP", locale="en")
    assert page.inner_text("[data-testid=card-orders]") == format_decimal(
        nov.loc["orders", "value"], "#,##0", locale="en")
    assert page.inner_text("[data-testid=total-net_sales]") == format_currency(
        net_sales, "GBP", locale="en")
    assert x_points(page) == 13
    assert page.evaluate("document.getElementById('chart-sales').data[0].y[0]") == \
        pytest.approx(first_gmv)

    # Switch to Chinese: labels, dates and the chart's axis follow.
    with page.expect_navigation():
        page.click("[data-testid=lang-zh]")
    page.wait_for_selector("html[data-charts=ready]")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.locator(".card .lbl", has_text="客单价").count() == 1
    assert "2011年11月" in page.inner_text("#cards-h")
    assert page.evaluate("document.getElementById('chart-sales').layout.xaxis.title.text") \
        == "月份"
    shot(page, "03-overview-zh.png")

    # Change the grain: the page reloads with it in the URL and the chart has 5 quarters.
    with page.expect_navigation():
        page.select_option("select[name=grain]", "quarter")
    page.wait_for_selector("html[data-charts=ready]")
    assert "grain=quarter" in page.url
    assert x_points(page) == 5
    assert "2011年第3季度" in page.inner_text("#cards-h")
    shot(page, "04-quarter-zh.png")

    # A date range, typed into the date inputs.
    with page.expect_navigation():
        page.fill("input[name=start]", "2011-03-01")
    page.wait_for_selector("html[data-charts=ready]")
    assert "start=2011-03-01" in page.url and "grain=quarter" in page.url
    assert x_points(page) == 4  # Q1 (from March) to Q4 2011
    shot(page, "05-range-zh.png")

    # The data page, then sign out.
    with page.expect_navigation():
        page.click("nav.main-nav a[href='/data']")
    assert page.locator("[data-table=orders]").count() == 1
    assert "导入日志" in page.inner_text("main")
    shot(page, "06-data-zh.png")
    with page.expect_navigation():
        page.click("[data-testid=logout]")
    assert urlsplit(page.url).path == "/login"
    assert "您已退出登录" in page.inner_text("main")
    shot(page, "07-signed-out.png")
    page.goto(server + "/data")
    assert urlsplit(page.url).path == "/login"

    assert hosts == {"127.0.0.1"}, hosts
    assert not problems, problems
    context.close()


def test_audience_builder_in_chromium(server, browser, workspace):
    """Build an audience in the page: preview its size, save it, see it in the table and
    chart; the numbers are the analytics module's."""
    import datetime as dt

    from shopscope.customers import (
        AudienceDefinition,
        audience_stats,
        build_profile,
        clv_columns,
    )

    context = browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(server + "/audiences")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=no-audiences]")

    with store_lock():
        last = workspace.store.table("orders").ordered_at.max().execute().date()
        day = last + dt.timedelta(days=1)
        profile = build_profile(workspace.store, day, extra=clv_columns(workspace.store, day))
    expected = audience_stats(AudienceDefinition(name="vip", filters=[
        {"field": "m_score", "op": "ge", "value": 4},
        {"field": "stage", "op": "in", "value": ["active", "new"]}]), profile)
    assert expected.size > 0

    row = page.locator(".filter-row").first
    row.locator("select[name=field]").select_option("m_score")
    row.locator("select[name=op]").select_option("ge")
    row.locator(".value").fill("4")
    page.click("#add-filter")
    row2 = page.locator(".filter-row").nth(1)
    row2.locator("select[name=field]").select_option("stage")
    row2.locator("select[name=op]").select_option("in")
    row2.locator("select.value").select_option(["active", "new"])
    page.fill("input[name=name]", "vip")
    page.click("#preview")
    page.wait_for_selector("#builder-result:not(:empty)")
    # the first test left ada's language on Chinese: check the number, not the words
    result = page.inner_text("#builder-result")
    assert re.search(rf"(^|\D){expected.size:,}(\D|$)", result), result
    shot(page, "20-audience-builder.png")
    with page.expect_navigation():
        page.click("#audience-builder button[type=submit]")
    page.wait_for_selector("html[data-charts=ready]")
    assert page.inner_text("tr[data-audience=vip] [data-testid=size]") == f"{expected.size:,}"
    assert page.evaluate("document.getElementById('audience-sizes').data[0].x[0]") == \
        expected.size
    shot(page, "21-audiences.png")
    assert not problems, problems
    context.close()


def _offline(context) -> list[str]:
    """Refuse every request that leaves 127.0.0.1, as on a machine with no network; returns
    the refused URLs."""
    refused: list[str] = []

    def route(r) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return refused


def test_api_docs_render_offline(server, browser):
    """/docs (Swagger UI) renders from local assets with the network cut off; /redoc (whose
    sidebar would load a logo from a CDN) leads there."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 900})
    refused = _offline(context)
    page = context.new_page()
    hosts: set[str] = set()
    problems: list[str] = []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(server + "/docs")
    assert_local_only(page.content())
    # an operation block per endpoint, rendered from /openapi.json
    kpis = page.locator(".opblock-summary-path[data-path='/api/kpis']")
    kpis.first.wait_for(timeout=20_000)
    assert page.locator(".opblock").count() >= 20
    assert page.locator(".info .title").first.inner_text().startswith("shopscope")
    kpis.first.click()  # expand: the parameters table renders too
    page.locator(".opblock.is-open .parameters").first.wait_for()
    shot(page, "40-api-docs.png")

    page.goto(server + "/redoc")
    assert urlsplit(page.url).path == "/docs"
    page.locator(".opblock").first.wait_for(timeout=20_000)

    assert hosts == {"127.0.0.1"} and not refused, (hosts, refused)
    assert not problems, problems
    context.close()
