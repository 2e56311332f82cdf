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

from shopscope.api import create_app
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


def client(app, user: str | None = None):  # noqa: ANN001, ANN201
    return api_client(app, user, PASSWORDS.get(user or ""))


def visitors_with(ws, event_type: str | None = None) -> int:  # noqa: ANN001
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


def test_orders_as_events_when_a_shop_has_no_tracking(tmp_path):
    from shopscope.cli import demo_data_path

    retail = Workspace.create(tmp_path / "retail", currency="GBP")
    try:
        ingest_file(retail, demo_data_path(), preset="online_retail")
        UserStore(retail.path).add("vic", PASSWORDS["vic"], "viewer")
        c = client(create_app(retail), "vic")
        html = c.get("/behaviour/retention").text
        assert 'data-testid="orders-note"' in html and "chart-retention" in html
        body = c.get("/api/behaviour/retention", params={
            "source": "orders", "grain": "month", "periods": 3}).json()
        sizes = pd.DataFrame(body["matrix"]).query("period_number == 0").cohort_size.sum()
        o = retail.store.table("orders")
        known = int(o.customer_id.nunique().execute())
        guests = int(o.filter(o.customer_id.isnull()).count().execute())
        assert sizes == known + guests
        funnel_page = c.get("/behaviour/funnel").text  # repeat purchases within 30 days
        assert 'value="purchase &gt; purchase"' in funnel_page
    finally:
        retail.close()
