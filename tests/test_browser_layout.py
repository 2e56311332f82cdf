"""Every dashboard page in headless Chromium, in English and Chinese, at a desktop width
(1366 px) and a phone width (390 px): no horizontal overflow, the nav folds behind a menu
button on phones, chart toolbars do not cover chart titles, nothing is loaded from another
host, and slow loads show a loading indicator. Screenshots of every page go to
``test-artifacts/layout/`` (``<page>-<lang>-<width>.png``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from urllib.parse import urlsplit

import pytest

from tests.test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, PASSWORD, serve

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

SHOTS = ARTIFACTS / "layout"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
USERS = {"en": "ada", "zh": "zoe"}
#: Paths the test server answers slowly (seconds), to see the loading indicator.
SLOW: dict[str, float] = {}


def _slow_down(app):
    """ASGI wrapper: requests to a path in SLOW wait that long first (a slow first load)."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["path"] in SLOW:
            await asyncio.sleep(SLOW[scope["path"]])
        await app(scope, receive, send)

    return wrapped


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A synthetic shop with events and a saved audience; plus a workspace with a saved
    experiment (its own synthetic orders)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.customers import AudienceDefinition, AudienceStore
    from shopscope.experiments.registry import ExperimentStore, parse_definition
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from shopscope.synth import generate
    from shopscope.synth.experiments import experiment_tables
    from tests.test_experiments_service import DEFINITION

    root = tmp_path_factory.mktemp("browser-layout")
    generate(root / "synth", customers=150, seed=5, start="2023-01-01", days=240, events=True)
    for name in ("inventory.parquet", "marketing_spend.parquet"):
        path = root / "synth" / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    ws = Workspace.create(root / "ws", currency="CNY", timezone="Asia/Shanghai", name="layout")
    ingest_file(ws, root / "synth", preset="canonical")
    AudienceStore(ws.path).save(AudienceDefinition(name="vip", filters=[
        {"field": "m_score", "op": "ge", "value": 4}]))

    e = experiment_tables(3000, lift_rate=0.3, seed=1, experiment_id="coupon_test")
    (root / "exp").mkdir()
    for name in ("experiments", "orders", "customers"):
        pq.write_table(pa.Table.from_pandas(getattr(e, name), preserve_index=False),
                       root / "exp" / f"{name}.parquet")
    exp_ws = Workspace.create(root / "exp-ws", currency="GBP", name="experiments")
    ingest_file(exp_ws, root / "exp", preset="canonical")
    ExperimentStore(exp_ws.path).save(parse_definition(DEFINITION))

    for w in (ws, exp_ws):
        users = UserStore(w.path)
        users.add("ada", PASSWORD, "admin", lang="en")
        users.add("zoe", PASSWORD, "admin", lang="zh")
    customer = str(ws.store.table("orders").customer_id.min().execute())
    sku = str(ws.store.table("order_items").product_id.min().execute())
    with serve(_slow_down(create_app(ws))) as url, serve(create_app(exp_ws)) as exp_url:
        pages = {
            "overview": url + "/",
            "customers": url + "/customers",
            "profile": url + f"/customers/{customer}",
            "trends": url + "/behaviour/trends",
            "funnel": url + "/behaviour/funnel",
            "retention": url + "/behaviour/retention",
            "paths": url + "/behaviour/paths",
            "audiences": url + "/audiences",
            "data": url + "/data",
            "demand": url + "/demand",
            "demand-sku": url + f"/demand/sku/{sku}",
            "demand-plan": url + "/demand/plan",
            "marketing": url + "/marketing",
            "marketing-cohorts": url + "/marketing/cohorts",
            "marketing-attribution": url + "/marketing/attribution",
            "experiments": exp_url + "/experiments",
            "experiment": exp_url + "/experiments/coupon_test",
            "plan": exp_url + "/experiments/plan",
        }
        yield {"url": url, "exp_url": exp_url, "pages": pages}
    ws.close()
    exp_ws.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


def _context(browser, viewport: dict):
    phone = viewport["width"] < 600
    return browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                               locale="en-GB")


def _sign_in(page, base: str, user: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def _overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling).
    Against the set viewport width too: a phone widens its layout viewport to fit content."""
    width = min(page.viewport_size["width"], page.evaluate("window.innerWidth"))
    return page.evaluate("document.scrollingElement.scrollWidth") - width


def _overflowing(page) -> list[str]:
    """The elements that stick out to the right of the window (for the failure message)."""
    return page.evaluate("""(width) => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > width + 0.5)
        .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + (e.className && typeof e.className === 'string' ? '.' + e.className : ''))""",
        page.viewport_size["width"])


COVERED = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(el => {
    const bar = el.querySelector('.modebar'), title = el.querySelector('.gtitle');
    if (!bar || !title) return false;
    const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
    return a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right
        && a.top < b.bottom && b.top < a.bottom;
}).map(el => el.id)"""


def _toolbar_covers_title(page) -> list[str]:
    """Charts whose toolbar (where it shows on hover or tap) overlaps their title; a chart
    may redraw once after a resize, so give it a moment first."""
    with contextlib.suppress(sync_api.TimeoutError):
        page.wait_for_function(f"({COVERED})().length === 0", timeout=3000)
    return page.evaluate(COVERED)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
def test_every_page_fits_and_is_captured(shop, browser, lang, viewport):
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]
    context = _context(browser, viewport)
    page = context.new_page()
    hosts: set[str] = set()
    errors: list[str] = []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(shop["url"] + "/login" + ("?lang=zh" if lang == "zh" else ""))
    assert _overflow(page) <= 0, ("login", _overflowing(page))
    page.screenshot(path=str(SHOTS / f"login-{lang}-{width}.png"), full_page=True)

    problems: dict[str, object] = {}
    signed_in = None
    for name, url in shop["pages"].items():
        # both servers are 127.0.0.1, and cookies ignore the port: one session at a time
        base = url[:url.index("/", len("http://"))]
        if base != signed_in:
            _sign_in(page, base, USERS[lang])
            signed_in = base
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, response)
        assert page.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en")
        if page.locator("script[src*='/assets/plotly-']").count():
            page.wait_for_selector("html[data-charts=ready]")
        page.wait_for_load_state("networkidle")
        if _overflow(page) > 0:
            problems[f"{name}: overflow {_overflow(page)} px"] = _overflowing(page)
        covered = _toolbar_covers_title(page)
        if covered:
            problems[f"{name}: toolbar over title"] = covered
        page.screenshot(path=str(SHOTS / f"{name}-{lang}-{width}.png"), full_page=True)

    page.goto(shop["url"] + "/docs")
    page.locator(".opblock").first.wait_for(timeout=20_000)
    if _overflow(page) > 0:
        problems[f"docs: overflow {_overflow(page)} px"] = _overflowing(page)
    page.screenshot(path=str(SHOTS / f"docs-{lang}-{width}.png"), full_page=False)

    assert not problems, problems
    assert hosts == {"127.0.0.1"}, hosts
    assert not errors, errors
    context.close()


def test_phone_menu_folds_and_works_with_the_keyboard(shop, browser):
    context = _context(browser, PHONE)
    page = context.new_page()
    _sign_in(page, shop["url"], "ada")
    toggle = page.locator("#menu-toggle")
    nav_link = page.locator("nav.main-nav a[href='/data']")
    assert toggle.is_visible() and not nav_link.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert toggle.inner_text().strip() == "Menu"

    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true" and nav_link.is_visible()
    page.keyboard.press("Tab")  # the first link of the opened menu comes next
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/"
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not nav_link.is_visible()
    assert page.evaluate("document.activeElement.id") == "menu-toggle"

    page.keyboard.press("Space")
    with page.expect_navigation():
        nav_link.click()
    assert urlsplit(page.url).path == "/data"
    context.close()

    # At desktop width the links are there at once and there is no menu button.
    context = _context(browser, DESKTOP)
    page = context.new_page()
    _sign_in(page, shop["url"], "ada")
    assert page.locator("nav.main-nav a[href='/data']").is_visible()
    assert not page.locator("#menu-toggle").is_visible()
    context.close()


#: Logs every change of the indicator into sessionStorage, so that a page that is left
#: behind by a navigation still tells what it showed (Playwright cannot read a page while
#: its navigation is pending).
BUSY_LOG = """(() => {
  new MutationObserver((changes) => {
    const busy = document.getElementById('busy');
    if (!busy || !changes.some(c => c.target === busy)) return;
    const main = document.querySelector('main'), box = busy.getBoundingClientRect();
    const rows = JSON.parse(sessionStorage.getItem('busy-log') || '[]');
    rows.push({path: location.pathname, on: busy.classList.contains('on'),
               visibility: getComputedStyle(busy).visibility, height: box.height,
               text: busy.innerText.trim(), ariaBusy: main && main.getAttribute('aria-busy')});
    sessionStorage.setItem('busy-log', JSON.stringify(rows));
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['class']});
})()"""


def _shown_on(page, path: str) -> list[dict]:
    """The indicator states logged by the page at ``path`` while it was visible."""
    rows = json.loads(page.evaluate("sessionStorage.getItem('busy-log') || '[]'"))
    return [r for r in rows if r["path"] == path and r["on"] and r["visibility"] == "visible"
            and r["height"] > 0]


@pytest.mark.parametrize(("user", "text"), [("ada", "Loading…"), ("zoe", "正在加载…")])
def test_slow_loads_show_the_loading_indicator(shop, browser, user, text):
    context = _context(browser, DESKTOP)
    context.add_init_script(BUSY_LOG)
    page = context.new_page()
    _sign_in(page, shop["url"], user)
    busy = page.locator("#busy")
    assert not busy.is_visible() and page.get_attribute("main", "aria-busy") is None
    assert busy.get_attribute("role") == "status"

    try:
        # A nav link to a page that takes 2 s: the old page shows the indicator meanwhile.
        SLOW["/customers"] = 2.0
        with page.expect_navigation(timeout=30_000):
            page.click("nav.main-nav a[href='/customers']")
        shown = _shown_on(page, "/")
        assert shown and shown[0]["text"] == text and shown[0]["ariaBusy"] == "true", shown
        page.wait_for_selector("html[data-charts=ready]")
        assert not busy.is_visible()  # the new page starts idle

        # A filter change reloads the page through app.js.
        with page.expect_navigation(timeout=30_000):
            page.evaluate("""() => { const f = document.getElementById('filters');
                const el = f.querySelector('select');
                el.dispatchEvent(new Event('change', {bubbles: true})); }""")
        assert _shown_on(page, "/customers"), "no indicator on a filter change"
    finally:
        SLOW.clear()

    # A fetch the page makes (the audience preview does): shown while it runs, then gone.
    page.goto(shop["url"] + "/audiences")
    SLOW["/api/audiences"] = 2.0
    try:
        # a function returning nothing: Playwright would await a returned promise
        page.evaluate("() => { window.probe = fetch('/api/audiences'); }")
        busy.wait_for(state="visible", timeout=1500)
        assert busy.inner_text().strip() == text
        assert page.get_attribute("main", "aria-busy") == "true"
        page.screenshot(path=str(ARTIFACTS / f"busy-{user}.png"))
        page.evaluate("window.probe.then(() => null)")
        busy.wait_for(state="hidden", timeout=5000)
    finally:
        SLOW.clear()
    assert page.get_attribute("main", "aria-busy") is None

    # A download link (an export under /api/) leaves the page in place: no indicator.
    with page.expect_download():
        page.locator("[data-testid=export-csv]").first.click()
    page.wait_for_timeout(600)
    assert not busy.is_visible()
    context.close()


def test_attribution_results_fit_and_are_captured(shop, browser, tmp_path):
    """The attribution page after an upload (the page list above shows only its form), in
    Chinese (the longer labels; the English table is checked in test_marketing_pages): the
    model chart draws, the page fits a desktop and a phone width, and the path filter posts
    the paths back. One language, one sign-in: signing in is the slow part."""
    lang = "zh"
    from tests.test_marketing_pages import PATHS

    paths = tmp_path / "paths.csv"
    paths.write_text(PATHS, encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = _context(browser, DESKTOP)
    page = context.new_page()
    _sign_in(page, shop["url"], USERS[lang])
    page.goto(shop["url"] + "/marketing/attribution")
    page.set_input_files("input[name=file]", str(paths))
    with page.expect_navigation():
        page.click("form[data-testid=upload] button[type=submit]")
    page.wait_for_selector("html[data-charts=ready]")
    assert page.locator("#chart-models .bars .point").count() > 0
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        assert _overflow(page) <= 0, (viewport, _overflowing(page))
        page.screenshot(path=str(SHOTS / f"marketing-attribution-result-{lang}-"
                                          f"{viewport['width']}.png"), full_page=True)
    page.select_option("form[data-testid=path-filter] select[name=channel]", "email")
    with page.expect_navigation():
        page.click("form[data-testid=path-filter] button[type=submit]")
    assert page.locator("table[data-testid=paths] tbody tr").count() == 1
    context.close()
