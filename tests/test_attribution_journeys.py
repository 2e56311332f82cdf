"""Attribution of the workspace's own journeys (issue 18, points 1 and 4): sessions of known
customers cut at their orders, on a hand-built shop worked out by hand.

sessions (one event each; channel = medium, no campaigns, no spend)
    x1  2024-01-01 social, 01-03 email, 01-04 09:00 (none)   order 01-04 12:00, net 100
        2024-01-10 cpc                                        no later order: a null journey
    x2  2023-12-01 email (51 days before its order: outside a 30-day lookback)
        2024-01-20 social                                     order 01-21, net 50
        a cancelled order 01-15 ends nothing
    x3  no session                                            order 01-05, net 20: unattributed
    an anonymous session (no user id) is no journey

paths (30 days): social > email > direct (1 conversion, 100), social (1, 50), cpc (1 null);
unattributed 1 order worth 20. Credit by hand (conversions):
    first touch   social 2
    last touch    direct 1, social 1
    last non-direct  email 1, social 1
    linear        social 1/3 + 1 = 4/3, email 1/3, direct 1/3, cpc 0
with a 60-day lookback x2's path is email > social: first touch gives email 1, social 1.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopscope.marketing import service as svc
from shopscope.marketing import service_journeys as sj

T = dt.datetime


def _rows() -> dict[str, list[dict]]:
    ev = [("s1", "x1", T(2024, 1, 1, 9), "social"), ("s2", "x1", T(2024, 1, 3, 9), "email"),
          ("s3", "x1", T(2024, 1, 4, 9), None), ("s4", "x1", T(2024, 1, 10, 9), "cpc"),
          ("s5", "x2", T(2023, 12, 1, 9), "email"), ("s6", "x2", T(2024, 1, 20, 9), "social"),
          ("s7", None, T(2024, 1, 2, 9), "social")]
    orders = [("o1", "x1", T(2024, 1, 4, 12), "completed", 100.0),
              ("o2", "x2", T(2024, 1, 21, 9), "completed", 50.0),
              ("o3", "x2", T(2024, 1, 15, 9), "cancelled", 70.0),
              ("o4", "x3", T(2024, 1, 5, 9), "completed", 20.0)]
    return {
        "customers": [{"customer_id": c, "first_seen_at": T(2023, 1, 1)}
                      for c in ("x1", "x2", "x3")],
        "events": [{"session_id": s, "user_id": u, "anonymous_id": None if u else "anon",
                    "event_at": at, "event_type": "view", "source": "src" if med else None,
                    "medium": med, "campaign": None} for s, u, at, med in ev],
        "orders": [{"order_id": o, "customer_id": c, "ordered_at": at, "channel": "web",
                    "status": st, "gross_amount": v, "discount_amount": 0.0,
                    "shipping_amount": 0.0, "net_amount": v, "currency": "GBP",
                    "campaign_id": None} for o, c, at, st, v in orders],
    }


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.schema import get_table
    from shopscope.store import Workspace
    from tests.test_web import PASSWORD

    root = tmp_path_factory.mktemp("journeys")
    folder = root / "shop"
    folder.mkdir()
    for name, data in _rows().items():
        pq.write_table(pa.Table.from_pylist(data, schema=get_table(name).ibis_schema()
                                            .to_pyarrow()), folder / f"{name}.parquet")
    w = Workspace.create(root / "ws", currency="GBP")
    ingest_file(w, folder, preset="canonical")
    UserStore(w.path).add("ada", PASSWORD, "admin")
    UserStore(w.path).add("zoe", PASSWORD, "viewer", lang="zh")
    yield w
    w.close()


@pytest.fixture(scope="module")
def ctx(ws):
    from shopscope.core.service import LocalContext

    return LocalContext(ws)


MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "markov", "shapley")


def _run(ctx, **kw):
    return sj.attribute_workspace(ctx, sj.JourneyParams(**kw),
                                  svc.AttributionParams(models=MODELS))


def _credit(out, model: str) -> dict[str, float]:
    col = out.result.conversions[model]
    return {ch: round(float(v), 9) for ch, v in col.items() if abs(v) > 1e-12}


def test_paths_conversions_and_unattributed_orders(ctx) -> None:
    out = _run(ctx)
    assert out.result.paths == 3
    assert out.journeys == 3  # two conversions, one null
    assert out.result.total_conversions == 2
    assert out.result.total_value == pytest.approx(150.0)
    assert (out.unattributed, out.unattributed_value) == (1, pytest.approx(20.0))
    assert set(out.result.conversions.index) == {"social", "email", "direct", "cpc"}


def test_rule_models_by_hand(ctx) -> None:
    out = _run(ctx)
    assert _credit(out, "first_touch") == {"social": 2.0}
    assert _credit(out, "last_touch") == {"direct": 1.0, "social": 1.0}
    assert _credit(out, "last_non_direct") == {"email": 1.0, "social": 1.0}
    linear = _credit(out, "linear")
    assert linear == pytest.approx({"social": 4 / 3, "email": 1 / 3, "direct": 1 / 3})
    for model in out.result.conversions.columns:  # each sums to the totals
        assert out.result.conversions[model].sum() == pytest.approx(2.0)
        assert out.result.value[model].sum() == pytest.approx(150.0)


def test_lookback_and_range(ctx) -> None:
    wide = _run(ctx, lookback_days=60)
    assert _credit(wide, "first_touch") == {"social": 1.0, "email": 1.0}
    # 1 day: x1 keeps only 01-04 09:00 (direct); x2's social touch is exactly one day
    # before its order: the bound is included
    short = _run(ctx, lookback_days=1)
    assert _credit(short, "first_touch") == {"direct": 1.0, "social": 1.0}
    assert short.result.paths == 3  # direct, social, and the null journey cpc

    january_first_week = _run(ctx, start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 7))
    assert january_first_week.result.total_conversions == 1  # o1 (o2 ends 01-21)
    assert january_first_week.unattributed == 1  # o4


def test_cli_and_api_give_the_service_answer(ws, ctx, tmp_path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from shopscope import cli as cli_module
    from shopscope.app import create_app
    from tests.test_web import PASSWORD

    cli = cli_module.app
    if not any(g.name == "marketing" for g in cli.registered_groups):
        cli_module._register_subcommands()

    expected = _run(ctx).result.comparison
    want = {(r.channel, r.model): r.conversions for r in expected.itertuples()}
    res = CliRunner().invoke(cli, ["marketing", "attribution", "-w", str(ws.path), "--models",
                                   ",".join(MODELS), "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {(r["channel"], r["model"]): r["conversions"] for r in json.loads(res.output)}
    assert got == pytest.approx(want)
    with TestClient(create_app(ws, cookie_secure=False)) as client:
        assert client.post("/api/login", json={"username": "ada",
                                               "password": PASSWORD}).status_code == 200
        r = client.get("/api/attribution/journeys", params={"models": ",".join(MODELS)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["unattributed"], body["journeys"], body["paths"]) == (1, 3, 3)
        api = {(c["channel"], c["model"]): c["conversions"] for c in body["credit"]}
        assert api == pytest.approx(want)
        bad = client.get("/api/attribution/journeys", params={"by": "weather"})
        assert bad.status_code == 422


def test_no_events_is_a_clear_error(tmp_path) -> None:
    from shopscope.core.service import LocalContext
    from shopscope.store import Workspace

    w = Workspace.create(tmp_path / "empty", currency="GBP")
    try:
        with pytest.raises(sj.NoData, match="no journeys"):
            sj.attribute_workspace(LocalContext(w), sj.JourneyParams(),
                                   svc.AttributionParams())
    finally:
        w.close()


def test_the_attribution_page_shows_the_shops_journeys(ws, ctx) -> None:
    import re
    from html import unescape

    from fastapi.testclient import TestClient

    from shopscope.app import create_app
    from tests.test_web import PASSWORD

    want = _run(ctx).result.conversions
    with TestClient(create_app(ws, cookie_secure=False)) as client:
        assert client.post("/api/login", json={"username": "ada",
                                               "password": PASSWORD}).status_code == 200
        r = client.get("/marketing/attribution", params={"source": "workspace"})
        assert r.status_code == 200, r.text
        html = r.text
        for ch in ("social", "email", "direct"):
            row = re.search(rf'<tr data-key="{ch}">(.*?)</tr>', html, re.S)
            assert row, ch
            cell = re.search(r'data-col="linear">([^<]*)<', row.group(1))
            assert cell and float(unescape(cell.group(1))) == pytest.approx(
                want.loc[ch, "linear"], abs=0.05)
        summary = re.search(r'data-testid="ws-summary">([^<]*)<', html)
        assert summary and re.search(r"\b1 orders", unescape(summary.group(1)))
        paths = re.findall(r'<tr data-path="([^"]*)"', html)
        assert sorted(unescape(p) for p in paths) == ["cpc", "social",
                                                      "social > email > direct"]
        only = client.get("/marketing/attribution", params={
            "source": "workspace", "channel": "email"})
        assert [unescape(p) for p in re.findall(r'<tr data-path="([^"]*)"', only.text)] == [
            "social > email > direct"]
        bad = client.get("/marketing/attribution", params={"source": "workspace",
                                                           "lookback_days": "0"})
        assert bad.status_code == 422
        unknown = client.get("/marketing/attribution", params={"source": "workspace",
                                                               "channel": "tv"})
        assert unknown.status_code == 422 and "tv" in unknown.text
    with TestClient(create_app(ws, cookie_secure=False)) as client:
        assert client.post("/api/login", json={"username": "zoe",
                                               "password": PASSWORD}).status_code == 200
        zh = client.get("/marketing/attribution", params={"source": "workspace"})
        assert "归因本店自己的用户旅程" in zh.text and "不归因到任何渠道" in zh.text


def _frame(store, strategy: str, **kw):
    from shopscope.marketing import journeys as jr

    f = jr.journeys_expr(store, strategy=strategy, **kw).execute()
    return f.sort_values("path").reset_index(drop=True)


@pytest.mark.parametrize("kw", [{}, {"lookback_days": 1}, {"lookback_days": 60},
                                {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 1, 7)}])
def test_asof_and_window_strategies_agree_by_hand(ws, kw) -> None:
    import pandas.testing as pdt

    pdt.assert_frame_equal(_frame(ws.store, "asof", **kw), _frame(ws.store, "window", **kw),
                           check_dtype=False)


def test_asof_and_window_strategies_agree_on_a_random_shop(tmp_path) -> None:
    """Many customers, sessions and orders at random times (no two orders of a customer at
    the same instant, where the strategies may differ by design)."""
    import numpy as np
    import pandas.testing as pdt

    from shopscope.ingest import ingest_file
    from shopscope.schema import get_table
    from shopscope.store import Workspace

    rng = np.random.default_rng(5)
    n_cust, n_sess, n_ord = 200, 3000, 400
    t0 = T(2024, 1, 1)
    minutes = lambda n: [t0 + dt.timedelta(minutes=int(m))  # noqa: E731
                         for m in rng.choice(200 * 24 * 60, n, replace=False)]
    meds = ["cpc", "email", None, "social", "organic"]
    rows = {
        "customers": [{"customer_id": f"c{i}", "first_seen_at": T(2023, 1, 1)}
                      for i in range(n_cust)],
        "events": [{"session_id": f"s{i}", "user_id": f"c{c}", "event_at": at,
                    "event_type": "view", "medium": meds[m], "source": "x" if meds[m] else None}
                   for i, (c, at, m) in enumerate(zip(rng.integers(0, n_cust, n_sess),
                                                      minutes(n_sess),
                                                      rng.integers(0, 5, n_sess),
                                                      strict=True))],
        "orders": [{"order_id": f"o{i}", "customer_id": f"c{c}", "ordered_at": at,
                    "channel": "web", "status": "cancelled" if i % 17 == 0 else "completed",
                    "gross_amount": float(v), "discount_amount": 0.0, "shipping_amount": 0.0,
                    "net_amount": float(v), "currency": "GBP"}
                   for i, (c, at, v) in enumerate(zip(rng.integers(0, n_cust, n_ord),
                                                      minutes(n_ord),
                                                      rng.integers(5, 200, n_ord),
                                                      strict=True))],
    }
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, data in rows.items():
        pq.write_table(pa.Table.from_pylist(data, schema=get_table(name).ibis_schema()
                                            .to_pyarrow()), folder / f"{name}.parquet")
    w = Workspace.create(tmp_path / "ws", currency="GBP")
    try:
        ingest_file(w, folder, preset="canonical")
        for kw in ({}, {"lookback_days": 7}, {"start": dt.date(2024, 3, 1),
                                              "end": dt.date(2024, 5, 31)}):
            asof, window = _frame(w.store, "asof", **kw), _frame(w.store, "window", **kw)
            assert asof["conversions"].sum() > 50 and asof["nulls"].sum() > 0
            pdt.assert_frame_equal(asof, window, check_dtype=False)
    finally:
        w.close()
