"""Behaviour trends mark the partial last period in the API, the CLI and the page, for a
plain trend and a breakdown alike (issue 13: breakdowns were not marked)."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys

import ibis
import pandas as pd
import pytest

from shopscope.schema import get_table
from tests.test_web import charts

PASSWORD = "root-pass-1234"
DEC, JAN = "2023-12-01", "2024-01-01"


def _build(path):
    """Events from 1 December 2023 to 10 January 2024: January is partial, December not."""
    from shopscope.auth import UserStore
    from shopscope.store import Workspace

    ws = Workspace.create(path)
    rows = []
    for day in pd.date_range("2023-12-01", "2024-01-10", freq="D"):
        for i, channel in enumerate(("web", "app")):
            rows.append({"event_at": day.to_pydatetime() + dt.timedelta(hours=9 + i),
                         "user_id": f"u{day.day % 3}{channel}", "event_type": "view",
                         "channel": channel})
    spec = get_table("events")
    ws.store.insert("events", ibis.memtable([{c: r.get(c) for c in spec.names} for r in rows],
                                            schema=spec.ibis_schema().to_pyarrow()))
    UserStore(ws.path).add("root", PASSWORD, "admin")
    return ws


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = _build(tmp_path_factory.mktemp("partial") / "ws")
    yield ws
    ws.close()


def _client(ws):
    from fastapi.testclient import TestClient

    from shopscope.app import create_app

    c = TestClient(create_app(ws), base_url="https://testserver")
    assert c.post("/api/login", json={"username": "root", "password": PASSWORD}).status_code == 200
    return c


@pytest.mark.parametrize("by", [None, "channel"])
def test_api_rows_say_which_period_is_partial(shop, by):
    params = {"grain": "month", **({"by": by} if by else {})}
    rows = _client(shop).get("/api/behaviour/trends", params=params).json()["rows"]
    flags = {(r["period"], r["partial"]) for r in rows}
    assert flags == {(DEC, False), (JAN, True)}
    # a range that ends on 31 December leaves December whole
    rows = _client(shop).get("/api/behaviour/trends",
                             params={**params, "end": "2023-12-31"}).json()["rows"]
    assert {r["partial"] for r in rows} == {False}


def test_page_breakdown_marks_the_partial_month(shop):
    html = _client(shop).get("/behaviour/trends?grain=month&by=channel").text
    figure = charts(html)["chart-trend-by"]
    assert [(n["x"], n["text"]) for n in figure["layout"]["annotations"]] == [(JAN, "partial")]
    dashed = [tr for tr in figure["data"] if tr.get("line", {}).get("dash") == "dot"]
    solid = [tr for tr in figure["data"] if tr.get("line", {}).get("dash") != "dot"]
    assert len(dashed) == len(solid) == 2  # app and web
    assert all(tr["y"][-1] is None and tr["y"][0] is not None for tr in solid)
    assert all(tr["y"][-1] is not None for tr in dashed)
    assert any("(partial)" in h or "partial" in h for tr in solid for h in tr["customdata"])


def test_cli_marks_the_partial_month(tmp_path):
    ws = _build(tmp_path / "ws")
    ws.close()
    for by in ([], ["--by", "channel"]):
        r = subprocess.run([sys.executable, "-m", "shopscope.cli", "behaviour", "trends",
                            "-w", str(ws.path), "--grain", "month", "--format", "csv", *by],
                           capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        frame = pd.read_csv(io.StringIO(r.stdout))
        marked = dict(zip(frame["period"].str[:10], frame["partial"], strict=False))
        assert marked == {DEC: False, JAN: True}
