"""The products pages in headless Chromium, in English and Chinese: the treemap, Pareto
curve, trend and funnel draw, nothing loads from another host, and screenshots go to
``test-artifacts/`` (copied to ``docs/img/`` for the docs)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.shops import synth_product_shop
from tests.test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, PASSWORD, serve, shot

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from shopscope.app import create_app
    from shopscope.core.service import LocalContext
    from shopscope.products import recs_service

    ws = synth_product_shop(tmp_path_factory.mktemp("browser-products"),
                            {"li": ("analyst", "zh"), "ann": ("analyst", "en")})
    stored = recs_service.train_recs(LocalContext(ws), recs_service.TrainParams(
        models=("popularity", "buy_again", "item_knn"), test_days=60))
    customer = str(stored.model.data.users[0])
    with serve(create_app(ws)) as url:
        yield url, customer
    ws.close()


def _visit(server: str, customer: str, user: str, lang: str) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        hosts: set[str] = set()
        problems: list[str] = []
        page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server + "/products")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector("html[data-charts=ready]")
        assert page.evaluate("document.getElementById('chart-treemap').data[0].type") \
            == "treemap"
        pareto = page.evaluate("document.getElementById('chart-pareto').data[0].y")
        assert pareto == sorted(pareto) and pareto[-1] == pytest.approx(1.0)
        rows = page.locator("[data-testid=product-table] tbody tr")
        assert rows.count() == 50 and page.locator("svg.spark").count() > 0
        shot(page, f"40-products-{lang}.png")

        first = rows.first.locator("a").first
        with page.expect_navigation():
            first.click()
        page.wait_for_selector("html[data-charts=ready]")
        assert page.locator("#chart-trend").count() == 1
        assert page.locator("#chart-funnel").count() == 1
        shot(page, f"41-product-{lang}.png")

        page.goto(server + "/products/bundles?min_support=0.002")
        assert page.locator("[data-testid=rules] tbody tr").count() > 0
        shot(page, f"42-bundles-{lang}.png")

        page.goto(server + f"/products/recommendations?customer_id={customer}")
        page.wait_for_selector("html[data-charts=ready]")
        assert page.evaluate("document.getElementById('chart-ndcg').data[0].type") == "bar"
        assert page.locator("[data-testid=top] tbody tr").count() == 10
        shot(page, f"43-recs-{lang}.png")
        browser.close()
    assert hosts == {"127.0.0.1"}, hosts
    assert not problems, problems


@pytest.mark.parametrize(("user", "lang"), [("ann", "en"), ("li", "zh")])
def test_products_pages_in_chromium(server, user, lang):
    _visit(*server, user, lang)
    for name in (f"40-products-{lang}.png", f"41-product-{lang}.png",
                 f"42-bundles-{lang}.png", f"43-recs-{lang}.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
