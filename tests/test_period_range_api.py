"""One date range on every endpoint: ``start`` and ``end`` are both included, so the same
range gives the same days on ``/api/kpis`` and ``/api/behaviour/trends``; the KPI endpoints,
whose ``end`` used to be exclusive, refuse an ``end`` that does not say which meaning it has
(issue 14, point 2), and keep the old answer with ``end_inclusive=false``.

The shop: on day d of January 2024 (d = 1..10) there are d page views, so every answer
below is a hand sum of day numbers.
"""

from __future__ import annotations

import datetime as dt
import json

import ibis
import pytest
from typer.testing import CliRunner

from shopscope.errors import OptionError
from shopscope.schema import get_table

PASSWORD = "range-pass-1234"
DAYS = range(1, 11)  # 1..10 January 2024, d views on day d


def _build(path):
    from shopscope.auth import UserStore
    from shopscope.store import Workspace

    ws = Workspace.create(path)
    rows = [{"event_at": dt.datetime(2024, 1, d, 9, i), "user_id": f"u{i}",
             "event_type": "view", "channel": "web"} for d in DAYS for i in range(d)]
    spec = get_table("events")
    ws.store.insert("events", ibis.memtable([{c: r.get(c) for c in spec.names} for r in rows],
                                            schema=spec.ibis_schema().to_pyarrow()))
    UserStore(ws.path).add("root", PASSWORD, "admin")
    return ws


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = _build(tmp_path_factory.mktemp("ranges") / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def client(shop):
    from fastapi.testclient import TestClient

    from shopscope.app import create_app

    c = TestClient(create_app(shop), base_url="https://testserver")
    assert c.post("/api/login", json={"username": "root", "password": PASSWORD}).status_code == 200
    return c


def _kpi_pv(client, **params) -> dict[str, float]:
    r = client.get("/api/kpis", params={"grain": "day", "metrics": "pv", **params})
    assert r.status_code == 200, r.text
    return {i["period"]: i["value"] for i in r.json()["items"]}


def _trend_pv(client, **params) -> dict[str, float]:
    r = client.get("/api/behaviour/trends", params={"grain": "day", "metric": "pv", **params})
    assert r.status_code == 200, r.text
    return {row["period"]: row["value"] for row in r.json()["rows"] if row["metric"] == "pv"}


def test_same_range_same_days_on_kpis_and_trends(client):
    expected = {"2024-01-03": 3.0, "2024-01-04": 4.0, "2024-01-05": 5.0}  # both ends in
    kpis = _kpi_pv(client, start="2024-01-03", end="2024-01-05", end_inclusive="true")
    trends = _trend_pv(client, start="2024-01-03", end="2024-01-05")
    assert kpis == trends == expected
    # one day: start = end
    assert _kpi_pv(client, start="2024-01-07", end="2024-01-07", end_inclusive="true") == \
        _trend_pv(client, start="2024-01-07", end="2024-01-07") == {"2024-01-07": 7.0}
    # a month: the same days and the same partial flag (the data end on 10 January)
    month = client.get("/api/behaviour/trends", params={
        "grain": "month", "metric": "pv", "start": "2024-01-01", "end": "2024-01-31"}).json()
    assert [(r["period"], r["value"], r["partial"]) for r in month["rows"]] == \
        [("2024-01-01", 55.0, True)]
    summary = client.get("/api/kpis/summary", params={
        "start": "2024-01-01", "end": "2024-01-31", "end_inclusive": "true"}).json()
    assert summary["pv"] == 55.0


def test_kpi_end_without_its_meaning_is_refused(client):
    for path in ("/api/kpis", "/api/kpis/summary"):
        r = client.get(path, params={"start": "2024-01-03", "end": "2024-01-06"})
        assert r.status_code == 422, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "end_changed"
        assert error["message"] == (
            "end=2024-01-06 is ambiguous: on /api/kpis end is now the last day included "
            "(it was the first day after the range, which meant up to 2024-01-05)")
        assert "end_inclusive=true" in error["hint"] and "end_inclusive=false" in error["hint"]


def test_kpi_old_meaning_is_kept_on_request(client):
    # The URL a client used before (end = the first day after) gives the old days, 3..5.
    old = _kpi_pv(client, start="2024-01-03", end="2024-01-06", end_inclusive="false")
    assert old == {"2024-01-03": 3.0, "2024-01-04": 4.0, "2024-01-05": 5.0}
    total = client.get("/api/kpis/summary", params={
        "start": "2024-01-03", "end": "2024-01-06", "end_inclusive": "false"}).json()
    assert total["pv"] == 3 + 4 + 5
    # Without end nothing changed: every day.
    assert _kpi_pv(client) == {f"2024-01-{d:02d}": float(d) for d in DAYS}
    # end_inclusive=false cannot make an empty range
    r = client.get("/api/kpis", params={"start": "2024-01-03", "end": "2024-01-03",
                                        "end_inclusive": "false"})
    assert r.status_code == 422 and "is after end" in r.json()["error"]["message"]


def test_api_dates_use_the_one_parser(client):
    # pydantic alone reads a Unix time as a date and refuses a timestamp with a time
    r = client.get("/api/behaviour/trends", params={"start": "1704240000"})
    assert r.status_code == 422 and "is not a date" in r.text
    assert _trend_pv(client, start="2024-01-09T08:00", end="2024-01-10") == \
        {"2024-01-09": 9.0, "2024-01-10": 10.0}


def test_cli_kpi_end_needs_its_meaning(tmp_path):
    from shopscope.cli import _register_subcommands, app

    ws = _build(tmp_path / "ws")  # its own workspace: the CLI opens and closes it
    ws.close()
    if not any(c.name == "kpi" for c in app.registered_commands):
        _register_subcommands()
    common = ["kpi", "-w", str(ws.path), "--grain", "day", "--metrics", "pv",
              "--format", "json", "--start", "2024-01-03"]
    refused = CliRunner().invoke(app, [*common, "--end", "2024-01-06"])
    error = refused.exception  # main() prints it and exits with its code
    assert isinstance(error, OptionError) and error.exit_code == 2
    assert error.message.startswith("--end=2024-01-06 is ambiguous: for shopscope kpi --end "
                                    "is now the last day included")
    assert "--end-inclusive" in error.hint and "--end-exclusive" in error.hint

    def days(*extra: str) -> dict[str, float]:
        result = CliRunner().invoke(app, [*common, *extra])
        assert result.exit_code == 0, result.output
        return {r["period"][:10]: r["pv"] for r in json.loads(result.stdout)}

    three = {"2024-01-03": 3, "2024-01-04": 4, "2024-01-05": 5}
    assert days("--end", "2024-01-05", "--end-inclusive") == three
    assert days("--end", "2024-01-06", "--end-exclusive") == three
