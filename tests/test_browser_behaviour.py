"""The behaviour pages in headless Chromium on a small synthetic shop with events: the
funnel, retention heatmap and path Sankey draw, in Chinese, with nothing loaded from
another host. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

from tests.test_browser import CHROMIUM, LAUNCH_ARGS, PASSWORD, serve, shot

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from shopscope.synth import generate

    root = tmp_path_factory.mktemp("browser-behaviour")
    generate(root / "synth", customers=150, seed=5, start="2023-01-01", days=240, events=True)
    for name in ("inventory.parquet", "marketing_spend.parquet"):
        path = root / "synth" / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    ws = Workspace.create(root / "ws", currency="CNY", timezone="Asia/Shanghai")
    ingest_file(ws, root / "synth", preset="canonical")
    UserStore(ws.path).add("li", PASSWORD, "analyst", lang="zh")
    with serve(create_app(ws)) as url:
        yield url
    ws.close()


def test_behaviour_pages_in_chromium(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        hosts: set[str] = set()
        problems: list[str] = []
        page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server + "/behaviour/funnel")
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector("html[data-charts=ready]")
        assert "转化漏斗" in page.inner_text("main")
        funnel = page.evaluate("document.getElementById('chart-funnel').data[0].x")
        counts = [int(c.replace(",", "")) for c in page.locator(
            "[data-testid=funnel-steps] [data-testid=count]").all_inner_texts()]
        assert funnel == counts and len(counts) == 4 and counts[0] >= counts[-1] > 0
        shot(page, "30-funnel-zh.png")

        with page.expect_navigation():  # a breakdown: the page reloads with it in the URL
            page.select_option("select[name=by]", "channel")
        page.wait_for_selector("html[data-charts=ready]")
        assert "by=channel" in page.url
        assert page.locator("#chart-funnel-by").count() == 1
        shot(page, "31-funnel-by-channel-zh.png")

        page.goto(server + "/behaviour/retention?grain=week&periods=8")
        page.wait_for_selector("html[data-charts=ready]")
        z = page.evaluate("document.getElementById('chart-retention').data[0].z[0][0]")
        assert z == 1.0  # period 0 of a cohort is the whole cohort
        shot(page, "32-retention-zh.png")

        page.goto(server + "/behaviour/paths")
        page.wait_for_selector("html[data-charts=ready]")
        assert page.evaluate("document.getElementById('chart-sankey').data[0].type") == "sankey"
        shot(page, "33-paths-zh.png")

        page.goto(server + "/behaviour/trends?grain=week")
        page.wait_for_selector("html[data-charts=ready]")
        shot(page, "34-trends-zh.png")
        assert hosts == {"127.0.0.1"}, hosts
        assert not problems, problems
        browser.close()
