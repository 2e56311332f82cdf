"""Uploading on the data page in headless Chromium: an analyst picks a file, the page shows
the load's progress, then the problems of a refused file (with its download link), and after
a good file the tables count the new orders, all without restarting the server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.test_browser import CHROMIUM, LAUNCH_ARGS, PASSWORD, serve, shot

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
FIRST = HEADER + "500001,TEA1,Tea,2,2011-05-01 10:00:00,3.50,99001,United Kingdom\n"
# row 2 of the data has a quantity that is no number
BAD = HEADER + ("600001,TEA1,Tea,4,2011-06-01 10:00:00,3.50,99003,Germany\n"
                "600002,CUP1,Cup,lots,2011-06-02 10:00:00,8.00,99001,United Kingdom\n")
GOOD = BAD.replace("lots", "2")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    root = tmp_path_factory.mktemp("browser-upload")
    (root / "first.csv").write_text(FIRST, encoding="utf-8")
    ws = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(ws, root / "first.csv", preset="online_retail")
    UserStore(ws.path).add("ann", PASSWORD, "analyst")
    with serve(create_app(ws)) as url:
        yield url, root
    ws.close()


def test_upload_on_the_data_page_in_chromium(served):
    url, root = served
    (root / "bad.csv").write_text(BAD, encoding="utf-8")
    (root / "good.csv").write_text(GOOD, encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        hosts: set[str] = set()
        problems: list[str] = []
        page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url + "/data")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        orders = page.locator("[data-testid=tables] tr[data-table=orders] td.num")
        assert orders.inner_text() == "1"

        # a file with a bad row: refused, the problem named by row and column
        page.set_input_files("[data-testid=upload-file]", str(root / "bad.csv"))
        page.click("[data-testid=upload-submit]")
        page.wait_for_selector("[data-testid=upload-status][data-finished=true]", timeout=120_000)
        assert page.get_attribute("[data-testid=upload-status]", "data-state") == "rejected"
        cells = page.locator("[data-testid=upload-problems] tbody tr td").all_inner_texts()
        assert cells[1:4] == ["2", "Quantity", "lots"]
        link = page.get_attribute("[data-testid=upload-rejects-download]", "href")
        assert link.endswith("/rejects.csv")
        assert orders.inner_text() == "1"
        shot(page, "40-upload-rejected.png")

        # a type the page refuses before sending anything
        (root / "notes.txt").write_text("hello", encoding="utf-8")
        page.set_input_files("[data-testid=upload-file]", str(root / "notes.txt"))
        page.click("[data-testid=upload-submit]")
        page.wait_for_selector("[data-testid=upload-error]:not([hidden])")
        assert "This type of file cannot be loaded" in page.inner_text(
            "[data-testid=upload-error]")

        # the good file: loading…, then done, and the tables count the new orders
        before = page.get_attribute("[data-testid=upload-status]", "data-upload-id")
        page.set_input_files("[data-testid=upload-file]", str(root / "good.csv"))
        page.click("[data-testid=upload-submit]")
        page.wait_for_function(
            """old => { const e = document.querySelector('[data-testid=upload-status]');
                        return e && e.dataset.uploadId !== old
                                 && e.dataset.finished === 'true'; }""",
            arg=before, timeout=120_000)
        assert page.get_attribute("[data-testid=upload-status]", "data-state") == "done"
        assert "+2" in page.inner_text("[data-testid=upload-added]")
        assert orders.inner_text() == "3"
        shot(page, "41-upload-done.png")
        browser.close()
    assert hosts == {"127.0.0.1"}, hosts
    assert not problems, problems
