"""The demand API and CLI on a small loaded workspace (issue 17, point 5): the same numbers
as the service, the matrix adding up, and bad input answered with 422 (exit 2), never a
500."""

from __future__ import annotations

import datetime as dt
import io
import json

import pandas as pd
import pytest

from shopscope.app import create_app
from tests import demand_shop
from tests.test_demand import _intermittent_rows
from tests.test_web import client_for, login

#: SKU A out of stock (0 at its one place) on these days of the 70.
OUT = (dt.date(2024, 1, 10), dt.date(2024, 1, 11))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("demand-web")
    rows = _intermittent_rows()
    rows["inventory"] = [{"date": d, "product_id": "A", "location": "w1", "on_hand": 0}
                         for d in OUT] + [{"date": dt.date(2024, 1, 12), "product_id": "A",
                                           "location": "w1", "on_hand": 4}]
    w = demand_shop.workspace(root, rows)
    yield w
    w.close()


@pytest.fixture(scope="module")
def client(ws):
    c = client_for(create_app(ws))
    assert login(c, "ada").status_code == 303
    return c


def cli(*args: str):
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "demand" for g in app.registered_groups):
        _register_subcommands()
    result = CliRunner().invoke(app, list(args))
    # main() turns a project error into its exit code; in process it stays the exception
    err = result.stderr + (str(result.exception) if result.exception else "")
    return getattr(result.exception, "exit_code", result.exit_code), result.stdout, err


def test_series_and_classes_api(client):
    body = client.get("/api/demand/series", params={"sku": ["A"]}).json()
    assert len(body["points"]) == 70 and body["keys"] == ["product_id"]
    out = [p["period"] for p in body["points"] if p["censored"]]
    assert out == [d.isoformat() for d in OUT]
    classes = client.get("/api/demand/classes").json()
    assert len(classes["series"]) == 4 and len(classes["matrix"]) == 9
    # every series lands in one cell: the cells add up to the total, which is the series'
    total = sum(s["revenue"] for s in classes["series"])
    assert sum(c["revenue"] for c in classes["matrix"]) == pytest.approx(total)
    assert classes["total_revenue"] == pytest.approx(total)
    assert sum(c["series"] for c in classes["matrix"]) == 4
    # A's two censored days are left out of its statistics
    a = next(s for s in classes["series"] if s["key"] == {"product_id": "A"})
    assert a["periods"] == 68
    weekly = client.get("/api/demand/series", params={"grain": "week", "sku": ["A"]}).json()
    # 70 days from Monday 2024-01-01: ten weeks, zero-filled
    assert len(weekly["points"]) == 10 and weekly["points"][1]["stockout_days"] == 2


def test_forecast_and_backtest_api(client):
    body = client.get("/api/demand/forecast", params={"h": 7, "windows": 3}).json()
    assert len(body["points"]) == 4 * 7 and body["season"] == 7
    assert all(p["lo"] <= p["forecast"] <= p["hi"] for p in body["points"])
    assert {p["model"] for p in body["points"]} == set(body["chosen"].values())
    bt = client.get("/api/demand/backtest", params={"h": 7, "windows": 3}).json()
    chosen = {r["pattern"]: r["model"] for r in bt["rows"] if r["chosen"]}
    assert chosen == body["chosen"]
    for pattern in chosen:
        rows = [r for r in bt["rows"] if r["pattern"] == pattern]
        best = min(rows, key=lambda r: r["mase"])
        assert best["model"] == chosen[pattern]  # the choice is the lowest MASE


@pytest.mark.parametrize("params, where", [
    ({"grain": "month"}, "grain"), ({"a": 0.9, "b": 0.2}, "exceeds 1"),
    ({"level": "category", "sku": "A"}, "level=sku"), ({"h": 28}, "need at least"),
    ({"start": "2024-02-01", "end": "2024-01-01"}, "start"), ({"interval": 100}, "interval"),
])
def test_bad_input_is_a_422(client, params, where):
    path = "/api/demand/forecast" if "h" in params or "interval" in params \
        else "/api/demand/classes"
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert where in r.json()["error"]["message"]


def test_cli_classes_and_forecast(ws):
    code, out, _ = cli("demand", "classes", "-w", str(ws.path), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 4 and {r["pattern"] for r in rows} <= {"intermittent", "lumpy",
                                                               "smooth", "erratic"}
    code, out, _ = cli("demand", "forecast", "-w", str(ws.path), "--h", "7", "--format", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert len(frame) == 28 and set(frame.columns) >= {"product_id", "period", "forecast"}
    code, _, err = cli("demand", "classes", "-w", str(ws.path), "--a", "0.9", "--b", "0.2")
    assert code == 2 and "exceeds 1" in err
