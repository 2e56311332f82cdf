"""The experiments pages in headless Chromium: a synthetic experiment's results with its
charts, and the sample-size calculator, in Chinese; local assets only. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.test_browser import CHROMIUM, LAUNCH_ARGS, PASSWORD, serve, shot
from tests.test_experiments_service import DEFINITION

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.experiments.registry import ExperimentStore, parse_definition
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from shopscope.synth.experiments import experiment_tables

    root = tmp_path_factory.mktemp("browser-exp")
    e = experiment_tables(3000, lift_rate=0.3, seed=1, experiment_id="coupon_test")
    (root / "data").mkdir()
    for name in ("experiments", "orders", "customers"):
        pq.write_table(pa.Table.from_pandas(getattr(e, name), preserve_index=False),
                       root / "data" / f"{name}.parquet")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, root / "data", preset="canonical")
    ExperimentStore(ws.path).save(parse_definition(DEFINITION))
    UserStore(ws.path).add("li", PASSWORD, "analyst", lang="zh")
    with serve(create_app(ws)) as url:
        yield url
    ws.close()


def test_experiment_pages_in_chromium(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        hosts: set[str] = set()
        problems: list[str] = []
        page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server + "/experiments")
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("tr[data-experiment=coupon_test]").count() == 1
        shot(page, "40-experiments-zh.png")
        with page.expect_navigation():
            page.click("tr[data-experiment=coupon_test] a")
        page.wait_for_selector("html[data-charts=ready]")
        assert page.locator("[data-testid=srm-ok]").count() == 1
        assert page.evaluate("document.getElementById('chart-forest').data[0].x.length") == 3
        assert "探索性" in page.inner_text("[data-testid=exploratory]")
        shot(page, "41-experiment-zh.png")
        page.goto(server + "/experiments/plan?baseline=0.05&mde=10&daily_traffic=4000")
        page.wait_for_selector("html[data-charts=ready]")
        assert page.inner_text("[data-testid=n-per-variant]") == "31,231"
        shot(page, "42-plan-zh.png")
        assert hosts == {"127.0.0.1"}, hosts
        assert not problems, problems
        browser.close()
