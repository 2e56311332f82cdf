"""Behaviour analytics through the API, the CLI and the dashboard pages, on a small
synthetic shop: wiring, roles, and numbers checked against direct counts on the events
table (the analytics themselves are tested in test_funnels/test_retention/test_paths/
test_trends)."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys

import ibis
import pandas as pd
import pytest

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.ingest import ingest_file
from shopscope.store import Workspace
from tests.conftest import api_client

PASSWORDS = {"ada": "admin-pass-123", "ann": "analyst-pass-123", "vic": "viewer-pass-123"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from shopscope.synth import generate

    root = tmp_path_factory.mktemp("behaviour")
    generate(root / "synth", customers=150, seed=5, start="2023-01-01", days=240, events=True)
    for name in ("inventory.parquet", "marketing_spend.parquet"):
        path = root / "synth" / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    workspace = Workspace.create(root / "ws", currency="CNY", timezone="Asia/Shanghai")
    ingest_file(workspace, root / "synth", preset="canonical")
    users = UserStore(workspace.path)
    users.add("ada", PASSWORDS["ada"], "admin")
    users.add("ann", PASSWORDS["ann"], "analyst")
    users.add("vic", PASSWORDS["vic"], "viewer", lang="zh")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def app(ws):
    return create_app(ws)


def client(app, user: str | None = None):
    return api_client(app, user, PASSWORDS.get(user or ""))


def visitors_with(ws, event_type: str | None = None) -> int:
    e = ws.store.table("events")
    if event_type:
        e = e.filter(e.event_type == event_type)
    return int(ibis.coalesce(e.user_id, e.anonymous_id).nunique().execute())


def test_login_required(app):
    for url in ("/api/behaviour/trends", "/api/behaviour/funnel?step=view&step=purchase",
                "/api/behaviour/retention", "/api/behaviour/cohorts", "/api/behaviour/paths"):
        assert client(app).get(url).status_code == 401, url


def test_funnel_api_counts_and_dropped_audience(app, ws):
    c = client(app, "ann")
    params = [("step", "view"), ("step", "add_to_cart"), ("step", "purchase"),
              ("window", "1d")]
    body = c.get("/api/behaviour/funnel", params=params).json()
    steps = {s["step"]: s for s in body["steps"]}
    assert steps[1]["count"] == visitors_with(ws, "view")
    assert steps[3]["count"] <= min(steps[2]["count"], visitors_with(ws, "purchase"))
    assert steps[2]["dropped"] == steps[1]["count"] - steps[2]["count"]
    csv = c.get("/api/behaviour/funnel/dropped", params=[*params, ("at_step", "2")])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    dropped = pd.read_csv(io.StringIO(csv.text), dtype=str)
    assert len(dropped) == steps[2]["dropped"] > 0
    assert client(app, "vic").get("/api/behaviour/funnel/dropped",
                                  params=[*params, ("at_step", "2")]).status_code == 403
    bad = c.get("/api/behaviour/funnel", params=[("step", "view"), ("step", "nope")])
    assert bad.status_code == 422 and "nope" in bad.json()["error"]["message"]
    assert c.get("/api/behaviour/funnel", params=[("step", "view")]).status_code == 422


def test_trends_retention_cohorts_paths_api(app, ws):
    c = client(app, "vic")
    trend = c.get("/api/behaviour/trends", params={"metric": ["pv", "uv"], "grain": "month"})
    rows = pd.DataFrame(trend.json()["rows"])
    assert rows[rows.metric == "pv"].value.sum() == ws.store.row_count("events")
    ret = c.get("/api/behaviour/retention", params={"grain": "week", "periods": 4}).json()
    m = pd.DataFrame(ret["matrix"])
    first = m[m.period_number == 0]
    assert (first.retained == first.cohort_size).all()
    assert first.cohort_size.sum() == visitors_with(ws)
    coh = pd.DataFrame(c.get("/api/behaviour/cohorts").json()["matrix"])
    assert (coh[coh.period_number == 0].rate_exact == 1).all()
    p = c.get("/api/behaviour/paths", params={"start": "view", "top": 5}).json()
    assert len(p["paths"]) <= 5
    assert sum(s["share"] for s in p["next_steps"]) == pytest.approx(1.0)


def test_pages_draw_their_charts(app):
    c = client(app, "ann")
    expected = {"trends": {"chart-traffic", "chart-actives"},
                "funnel": {"chart-funnel", "chart-funnel-trend"},
                "retention": {"chart-retention", "chart-curve", "chart-repurchase",
                              "chart-ltv"},
                "paths": {"chart-sankey"}}
    for tab, ids in expected.items():
        html = c.get(f"/behaviour/{tab}").text
        data = json.loads(re.search(r'id="charts-data">(.*?)</script>', html, re.S).group(1))
        assert ids <= {ch["id"] for ch in data["charts"]}, tab
    funnel = c.get("/behaviour/funnel").text
    assert "funnel/dropped?" in funnel  # analysts get the export link
    assert c.get("/behaviour", follow_redirects=False).headers["location"] == "/behaviour/funnel"
    assert c.get("/behaviour/nope").status_code == 404


def test_page_reports_bad_options_and_speaks_chinese(app):
    c = client(app, "vic")
    html = c.get("/behaviour/funnel", params={"steps": "view > nope", "grain": "year"}).text
    assert "nope" in html and 'role="alert"' in html
    assert "转化漏斗" in html and "funnel/dropped?" not in html  # viewer: no export


def test_cli_funnel_matches_the_api(app, ws, tmp_path):
    # DuckDB has one writer: the CLI works on a copy while this process holds the store
    ws.store.backend.con.execute("CHECKPOINT")
    copy = tmp_path / "ws"
    shutil.copytree(ws.path, copy)
    proc = subprocess.run(
        [sys.executable, "-m", "shopscope.cli", "behaviour", "funnel", "view", "add_to_cart",
         "purchase", "-w", str(copy), "--window", "1d", "--format", "csv"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cli = pd.read_csv(io.StringIO(proc.stdout))
    api = client(app, "vic").get("/api/behaviour/funnel", params=[
        ("step", "view"), ("step", "add_to_cart"), ("step", "purchase"),
        ("window", "1d")]).json()
    assert cli["count"].tolist() == [s["count"] for s in api["steps"]]
    bad = subprocess.run([sys.executable, "-m", "shopscope.cli", "behaviour", "funnel",
                          "view", "nope", "-w", str(copy)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown event type 'nope'" in bad.stderr


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    """An orders-only shop (the bundled Online Retail slice): no events at all."""
    from shopscope.cli import demo_data_path

    ws = Workspace.create(tmp_path_factory.mktemp("retail") / "ws", currency="GBP")
    ingest_file(ws, demo_data_path(), preset="online_retail")
    UserStore(ws.path).add("vic", PASSWORDS["vic"], "viewer")
    ws.store.backend.con.execute("CHECKPOINT")
    # DuckDB has one writer: the CLI works on a copy while this process holds the store
    copy = tmp_path_factory.mktemp("retail-cli") / "ws"
    shutil.copytree(ws.path, copy)
    yield ws, client(create_app(ws), "vic"), copy
    ws.close()


def cli(*args: str):
    """The CLI in this process (faster than a subprocess per command): exit code, stdout,
    stderr."""
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "behaviour" for g in app.registered_groups):
        _register_subcommands()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def page_charts(html: str) -> dict:
    data = json.loads(re.search(r'id="charts-data">(.*?)</script>', html, re.S).group(1))
    return {c["id"]: c["figure"] for c in data["charts"]}


def orders_frame(ws) -> pd.DataFrame:
    """Orders with their visitor as the behaviour analyses define it on orders: the
    customer, or the guest order itself."""
    o = ws.store.table("orders").select("order_id", "customer_id", "ordered_at").execute()
    o["visitor"] = o.customer_id.where(o.customer_id.notna(), "guest:" + o.order_id)
    return o


def test_orders_as_events_when_a_shop_has_no_tracking(retail):
    ws, c, _ = retail
    html = c.get("/behaviour/retention").text
    assert 'data-testid="orders-note"' in html and "chart-retention" in html
    body = c.get("/api/behaviour/retention", params={
        "source": "orders", "grain": "month", "periods": 3}).json()
    sizes = pd.DataFrame(body["matrix"]).query("period_number == 0").cohort_size.sum()
    o = ws.store.table("orders")
    known = int(o.customer_id.nunique().execute())
    guests = int(o.filter(o.customer_id.isnull()).count().execute())
    assert sizes == known + guests


def test_default_funnel_on_orders_is_the_repeat_purchase_funnel(retail):
    ws, c, copy = retail
    o = orders_frame(ws).sort_values(["visitor", "ordered_at"])
    window = pd.Timedelta(days=30)
    # independent: a visitor reaches purchase #k when some k of their orders lie within 30
    # days (the best over all first purchases: k consecutive orders, since they are sorted)
    reach = {1: 0, 2: 0, 3: 0}
    for _, times in o.groupby("visitor").ordered_at:
        t = times.tolist()
        for k in (1, 2, 3):
            if any(t[i + k - 1] - t[i] <= window for i in range(len(t) - k + 1)):
                reach[k] += 1
    want = [reach[1], reach[2], reach[3]]
    assert want[0] > want[1] > want[2] > 0

    api = c.get("/api/behaviour/funnel").json()
    assert api["source"]["kind"] == "orders" and api["empty_reason"] is None
    assert [s["name"] for s in api["steps"]] == ["purchase #1", "purchase #2", "purchase #3"]
    assert [s["count"] for s in api["steps"]] == want
    chart = page_charts(c.get("/behaviour/funnel").text)["chart-funnel"]["data"][0]
    # three distinct labels, so Plotly draws three bars (not one "purchase" bar)
    assert chart["y"] == ["purchase #1", "purchase #2", "purchase #3"] and chart["x"] == want
    code, out, err = cli("behaviour", "funnel", "-w", str(copy), "--format", "csv")
    assert code == 0, err
    assert pd.read_csv(io.StringIO(out))["count"].tolist() == want
    assert "source: orders" in err


def test_cli_api_and_page_agree_on_an_orders_only_shop(retail):
    ws, c, copy = retail
    o = orders_frame(ws)
    w = str(copy)
    # retention: CLI long table == API matrix
    code, out, err = cli("behaviour", "retention", "-w", w, "--grain", "week",
                         "--periods", "12", "--long", "--format", "csv")
    assert code == 0, err
    mine = pd.read_csv(io.StringIO(out), parse_dates=["cohort"])
    api = pd.DataFrame(c.get("/api/behaviour/retention", params={
        "grain": "week", "periods": 12}).json()["matrix"])
    api["cohort"] = pd.to_datetime(api.cohort)
    keys = ["cohort", "period_number"]
    both = mine.merge(api, on=keys, suffixes=("_cli", "_api"))
    assert len(both) == len(mine) == len(api) > 50
    assert (both.retained_cli == both.retained_api).all()
    assert both.cohort_size_cli.groupby(both.cohort).first().sum() == o.visitor.nunique()
    # the page's heatmap: the same rates for its 40 cohorts (the oldest and newest 20)
    heat = page_charts(c.get("/behaviour/retention", params={"grain": "week",
                                                              "periods": 12}).text)
    z = heat["chart-retention"]["data"][0]["z"]
    from shopscope.behaviour.pages import keep_cohorts

    wide = keep_cohorts(api.pivot(index="cohort", columns="period_number", values="rate"), 40)
    assert len(z) == len(wide) == 40
    for row, (_, want) in zip(z, wide.iterrows(), strict=True):
        assert row == pytest.approx([None if pd.isna(v) else v for v in want], abs=1e-12)
    # the README's command (grid form) no longer fails on a shop without events
    code, out, err = cli("behaviour", "retention", "-w", w, "--grain", "week",
                         "--periods", "12", "--format", "csv")
    assert code == 0, err
    grid = pd.read_csv(io.StringIO(out))
    assert grid["size"].sum() == o.visitor.nunique()
    # trends: monthly PV = orders per month, UV = visitors per month, in CLI and API
    code, out, err = cli("behaviour", "trends", "-w", w, "-m", "pv", "-m", "uv", "--grain",
                         "month", "--format", "csv")
    assert code == 0, err
    mine = pd.read_csv(io.StringIO(out))
    month = o.ordered_at.dt.to_period("M").dt.start_time.dt.date.astype(str)
    want_pv = o.groupby(month).size()
    want_uv = o.groupby(month).visitor.nunique()
    assert dict(zip(mine.period.str[:10], mine.pv, strict=True)) == want_pv.to_dict()
    assert dict(zip(mine.period.str[:10], mine.uv, strict=True)) == want_uv.to_dict()
    api = pd.DataFrame(c.get("/api/behaviour/trends", params={
        "grain": "month", "metric": ["pv", "uv"]}).json()["rows"])
    pv = api[api.metric == "pv"]
    assert dict(zip(pv.period.str[:10], pv.value, strict=True)) == want_pv.to_dict()
    bars = page_charts(c.get("/behaviour/trends", params={"grain": "month"}).text
                       )["chart-traffic"]["data"][0]
    assert dict(zip(bars["x"], bars["y"], strict=True)) == want_pv.to_dict()
    # paths: each order is its own session, so the one path is "purchase", once per order
    code, out, err = cli("behaviour", "paths", "-w", w, "--format", "csv")
    assert code == 0, err
    mine = pd.read_csv(io.StringIO(out))
    api = c.get("/api/behaviour/paths").json()
    assert mine.text.tolist() == [p["text"] for p in api["paths"]] == ["purchase"]
    assert mine.sessions.tolist() == [p["sessions"] for p in api["paths"]] == [len(o)]
    assert api["source"]["kind"] == "orders"


def test_empty_results_say_why(retail):
    _, c, copy = retail
    w = str(copy)
    # asked for events on a shop that has none: the CLI says so and which source to use
    code, _out, err = cli("behaviour", "retention", "-w", w, "--grain", "week",
                         "--source", "events")
    assert code == 0, err
    assert "no events in this workspace; use --source orders" in " ".join(err.split())
    body = c.get("/api/behaviour/retention", params={"source": "events"}).json()
    assert body["matrix"] == [] and body["empty_reason"] == {
        "code": "no_rows", "message": "no events in this workspace; use source=orders",
        "suggest": "orders"}
    html = c.get("/behaviour/paths", params={"source": "events"}).text
    panel = re.search(r'data-testid="no-result">(.*?)</p>', html, re.S).group(1)
    assert "No events in this workspace." in panel and "Orders as purchases" in panel
    # nothing in the range at all
    code, _, err = cli("behaviour", "trends", "-w", w, "--start", "2015-01-01")
    assert code == 0 and "no events or orders from 2015-01-01 on" in " ".join(err.split())
    body = c.get("/api/behaviour/trends", params={"start": "2015-01-01"}).json()
    assert body["empty_reason"]["code"] == "no_data"
    # rows in range, but none matches: a view step on orders
    body = c.get("/api/behaviour/funnel", params=[("step", "view"), ("step", "purchase")]
                 ).json()
    assert [s["count"] for s in body["steps"]] == [0, 0]
    assert body["empty_reason"]["code"] == "no_match"
    assert "orders give purchase events only" in body["empty_reason"]["message"]
    code, _, err = cli("behaviour", "funnel", "view", "purchase", "-w", w)
    assert code == 0 and "orders give purchase events only" in " ".join(err.split())
    # the default funnel with one product throughout: orders' purchases stand for their
    # products (this used to fail on the orders' NOT NULL times: a 500)
    r = c.get("/api/behaviour/funnel", params={"same_product": "true"})
    assert r.status_code == 200, r.text
    counts = [s["count"] for s in r.json()["steps"]]
    assert counts[0] > counts[1] >= counts[2] and counts[0] > 0
    # and a result with data has no reason
    assert c.get("/api/behaviour/paths").json()["empty_reason"] is None
