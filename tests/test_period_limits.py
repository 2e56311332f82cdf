"""A grain over a user range is clamped to the data and capped at MAX_PERIODS periods, the
same rule for the analytics, the API, the pages and the CLI (issue 13, security)."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from shopscope.core.periods import MAX_PERIODS, bound, count_periods
from shopscope.errors import OptionError
from shopscope.schema import get_table

PASSWORD = "root-pass-1234"


def _insert(workspace, table: str, rows: list[dict]) -> None:
    spec = get_table(table)
    workspace.store.insert(table, ibis.memtable(
        [{c: r.get(c) for c in spec.names} for r in rows],
        schema=spec.ibis_schema().to_pyarrow()))


def _order(oid: str, when: dt.datetime) -> dict:
    return {"order_id": oid, "customer_id": f"c{oid}", "ordered_at": when, "channel": "web",
            "status": "completed", "gross_amount": 10.0, "discount_amount": 0.0,
            "shipping_amount": 0.0, "net_amount": 10.0, "currency": "GBP"}


def _event(user: str, when: dt.datetime) -> dict:
    return {"event_at": when, "user_id": user, "event_type": "view"}


def _shop(tmp_path, name: str, days: list[dt.datetime]):
    from shopscope.auth import UserStore
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path / name)
    _insert(ws, "events", [_event(f"u{i}", d) for i, d in enumerate(days)])
    _insert(ws, "orders", [_order(str(i), d) for i, d in enumerate(days)])
    UserStore(ws.path).add("root", PASSWORD, "admin")
    return ws


@pytest.fixture(scope="module")
def january(tmp_path_factory):
    """Data on 2024-01-03 and 2024-01-30 only."""
    ws = _shop(tmp_path_factory.mktemp("jan"), "ws",
               [dt.datetime(2024, 1, 3, 9), dt.datetime(2024, 1, 30, 18)])
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def decades(tmp_path_factory):
    """Data on 2000-01-01 and 2019-12-31: 7,305 days, more days than the limit."""
    ws = _shop(tmp_path_factory.mktemp("dec"), "ws",
               [dt.datetime(2000, 1, 1, 9), dt.datetime(2019, 12, 31, 9)])
    yield ws
    ws.close()


def _client(ws):
    from fastapi.testclient import TestClient

    from shopscope.app import create_app

    c = TestClient(create_app(ws), base_url="https://testserver")
    r = c.post("/api/login", json={"username": "root", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def test_count_periods_by_hand():
    # 2024-01-01 is a Monday: 1..31 January touches weeks of 1, 8, 15, 22 and 29 January
    assert count_periods(dt.date(2024, 1, 1), dt.date(2024, 1, 31), "week") == 5
    assert count_periods(dt.date(2024, 1, 7), dt.date(2024, 1, 8), "week") == 2
    assert count_periods(dt.date(2023, 12, 31), dt.date(2024, 1, 1), "month") == 2
    assert count_periods(dt.date(2023, 12, 31), dt.date(2024, 1, 1), "quarter") == 2
    assert count_periods(dt.date(2024, 1, 1), dt.date(2024, 12, 31), "year") == 1
    # 300 years of 365 days plus 73 leap days (75 multiples of 4, less 1900 and 2100)
    assert count_periods(dt.date(1900, 1, 1), dt.date(2199, 12, 31), "day") == 109_573


def test_bound_clamps_to_the_data_and_then_counts():
    span = (dt.date(2024, 1, 3), dt.date(2024, 1, 30))
    assert bound("day", dt.date(1900, 1, 1), dt.date(2199, 12, 31), span) == span
    # an exclusive end stays exclusive
    assert bound("day", None, dt.date(2199, 12, 31), span, end_exclusive=True) == (
        None, dt.date(2024, 1, 31))
    with pytest.raises(OptionError) as err:
        bound("day", dt.date(1900, 1, 1), dt.date(2199, 12, 31), None)
    assert "grain=day" in err.value.message and "109,573" in err.value.message
    assert f"{MAX_PERIODS:,}" in err.value.message
    assert "week or month" in err.value.hint


def test_far_range_is_clamped_in_trends(january):
    from shopscope.behaviour import trends

    result = trends(january.store, grain="day", start="1900-01-01", end="2199-12-31")
    assert (result.start, result.end) == (dt.date(2024, 1, 3), dt.date(2024, 1, 30))
    assert result.wide()["period"].nunique() == 28  # 3..30 January


def test_api_far_range_is_small_and_fast(january):
    import time

    c = _client(january)
    begun = time.perf_counter()
    r = c.get("/api/behaviour/trends", params={"start": "1900-01-01", "end": "2199-12-31",
                                               "grain": "day"})
    assert r.status_code == 200, r.text[:300]
    assert time.perf_counter() - begun < 10  # 17 s and 14 MB before the clamp
    periods = {row["period"] for row in r.json()["rows"]}
    assert len(periods) == 28 and min(periods) == "2024-01-03"


@pytest.mark.parametrize("path, params", [
    ("/api/behaviour/trends", {"grain": "day"}),
    ("/api/behaviour/trends", {"grain": "day", "start": "1900-01-01", "end": "2199-12-31"}),
    ("/api/kpis", {"grain": "day"}),
    ("/api/behaviour/retention", {"grain": "day"}),
    ("/api/behaviour/cohorts", {"grain": "day"}),
])
def test_too_many_periods_is_a_422_naming_grain_count_and_limit(decades, path, params):
    r = _client(decades).get(path, params=params)
    assert r.status_code == 422, (path, r.text[:300])
    message = r.json()["error"]["message"]
    assert "grain=day" in message and "7,305" in message and "3,660" in message
    assert r.json()["error"]["hint"]


def test_coarser_grain_is_allowed(decades):
    r = _client(decades).get("/api/behaviour/trends", params={"grain": "month"})
    assert r.status_code == 200
    assert len({row["period"] for row in r.json()["rows"]}) == 240  # 20 years of months


def test_cli_refuses_with_the_same_message(tmp_path):
    import subprocess
    import sys

    ws = _shop(tmp_path, "cli", [dt.datetime(2000, 1, 1, 9), dt.datetime(2019, 12, 31, 9)])
    ws.close()  # the CLI opens the store itself
    for args in (["behaviour", "trends", "--grain", "day"], ["kpi", "--grain", "day"]):
        r = subprocess.run([sys.executable, "-m", "shopscope.cli", *args, "-w", str(ws.path)],
                           capture_output=True, text=True, timeout=300, check=False)
        out = r.stdout + r.stderr
        assert r.returncode == 2, out
        assert "grain=day" in out and "7,305" in out and "3,660" in out, out
        assert "Traceback" not in out


def test_lifecycle_months_are_clamped_to_the_orders(january):
    from shopscope.customers import reactivation_and_churn_rates

    rates = reactivation_and_churn_rates(january.store, "1900-01-01", "2199-12-31")
    assert len(rates) == 0  # one month of data: January 2024, no following snapshot
