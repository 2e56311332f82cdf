"""The budget view (issue 18, point 5) on a hand-built shop worked out by hand.

spend (campaign -> channel): search (campaign cs) 100, 200, 300, 400 in 2024-01..04;
social (campaign cso) 50 every month.
Each customer has one order on the 10th (completed, net = gross, no returns) after sessions
one or two days before (each session one event carrying the campaign):
    s1 search 01-09 -> 300 (Jan)     s2 search 02-09 -> 500 (Feb)
    s3 search 03-09 -> 650 (Mar)     s4 search 04-09 -> 900 (Apr)
    so1 social 01-09 -> 80 (Jan)
    mix search 03-08, social 03-09 -> 100 (Mar): last touch social, linear 50 / 50
last-touch net return: search 300, 500, 650, 900; social 80, 0, 100, 0
linear attributed:     search 300, 500, 700, 900; social 80, 0, 50, 0
ROAS: search Mar last touch 650/300, attributed 700/300; social Mar 100/50 = 2, 50/50 = 1.
Marginal ROAS over 4 months: search attributed = 100 + 2 * spend exactly: slope 2;
last touch: x = 100..400 (dx -150, -50, 50, 150; Sxx 50,000), y mean 587.5
(dy -287.5, -87.5, 62.5, 312.5), Sxy 97,500: slope 1.95; social spend constant: None.
Experiment social-holdout (channel social, binary conversion, Jan-Apr): holdout so1, n1,
n2, n3 (1 of 4 order) vs exposed mix, s1, s2, n4 (3 of 4): lift 0.75 - 0.25 = 0.5.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopscope.marketing import budget as bd
from shopscope.marketing import service_budget as sb

T = dt.datetime
MONTHS = [dt.date(2024, m, 1) for m in (1, 2, 3, 4)]


def _rows() -> dict[str, list[dict]]:
    sessions = [("e1", "s1", T(2024, 1, 9), "cs"), ("e2", "s2", T(2024, 2, 9), "cs"),
                ("e3", "s3", T(2024, 3, 9), "cs"), ("e4", "s4", T(2024, 4, 9), "cs"),
                ("e5", "so1", T(2024, 1, 9), "cso"), ("e6", "mix", T(2024, 3, 8), "cs"),
                ("e7", "mix", T(2024, 3, 9), "cso")]
    orders = [("o1", "s1", 1, 300.0), ("o2", "s2", 2, 500.0), ("o3", "s3", 3, 650.0),
              ("o4", "s4", 4, 900.0), ("o5", "so1", 1, 80.0), ("o6", "mix", 3, 100.0)]
    spend = [(d, ch, camp, v) for d, s in zip(MONTHS, (100.0, 200.0, 300.0, 400.0),
                                              strict=True)
             for ch, camp, v in (("search", "cs", s), ("social", "cso", 50.0))]
    units = [("so1", "holdout"), ("n1", "holdout"), ("n2", "holdout"), ("n3", "holdout"),
             ("mix", "exposed"), ("s1", "exposed"), ("s2", "exposed"), ("n4", "exposed")]
    people = ("s1", "s2", "s3", "s4", "so1", "mix", "n1", "n2", "n3", "n4")
    return {
        "customers": [{"customer_id": c, "first_seen_at": T(2023, 1, 1)} for c in people],
        "events": [{"session_id": s, "user_id": u, "anonymous_id": None, "event_at": at,
                    "event_type": "view", "source": "ads", "medium": "cpc", "campaign": c}
                   for s, u, at, c in sessions],
        "orders": [{"order_id": o, "customer_id": c, "ordered_at": T(2024, m, 10),
                    "channel": "web", "status": "completed", "gross_amount": v,
                    "discount_amount": 0.0, "shipping_amount": 0.0, "net_amount": v,
                    "currency": "GBP", "campaign_id": None} for o, c, m, v in orders],
        "marketing_spend": [{"date": d, "channel": ch, "campaign_id": camp, "spend": v,
                             "impressions": 0, "clicks": 0} for d, ch, camp, v in spend],
        "experiments": [{"experiment_id": "social-holdout", "unit_id": u, "variant": v,
                         "assigned_at": T(2024, 1, 1)} for u, v in units],
    }


HOLDOUT = {"experiment_id": "social-holdout", "channel": "Social",
           "variants": ["holdout", "exposed"], "metrics": [{"name": "conv", "kind": "binary"}],
           "start": "2024-01-01", "end": "2024-04-30"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from shopscope.auth import UserStore
    from shopscope.core.service import LocalContext
    from shopscope.experiments import service as ex
    from shopscope.ingest import ingest_file
    from shopscope.schema import get_table
    from shopscope.store import Workspace
    from tests.test_web import PASSWORD

    root = tmp_path_factory.mktemp("budget")
    folder = root / "shop"
    folder.mkdir()
    for name, data in _rows().items():
        pq.write_table(pa.Table.from_pylist(data, schema=get_table(name).ibis_schema()
                                            .to_pyarrow()), folder / f"{name}.parquet")
    w = Workspace.create(root / "ws", currency="GBP")
    ingest_file(w, folder, preset="canonical")
    UserStore(w.path).add("ada", PASSWORD, "admin")
    UserStore(w.path).add("zoe", PASSWORD, "viewer", lang="zh")
    ex.create(LocalContext(w), ex.CreateParams(definition=HOLDOUT))
    yield w
    w.close()


@pytest.fixture(scope="module")
def ctx(ws):
    from shopscope.core.service import LocalContext

    return LocalContext(ws)


@pytest.fixture(scope="module")
def linear(ctx):
    return sb.budget(ctx, sb.BudgetParams(model="linear", window=4))


@pytest.fixture(scope="module")
def markov(ctx):
    return sb.budget(ctx, sb.BudgetParams(window=4))


def _cell(frame, channel, column, period=None):
    f = frame[frame["channel"] == channel]
    if period is not None:
        f = f[f["period"] == period]
    assert len(f) == 1
    return f.iloc[0][column]


def test_spend_return_and_roas_per_channel_and_period(linear) -> None:
    rows = linear.rows
    assert (linear.start, linear.end) == (dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    want = {"search": ([100, 200, 300, 400], [300, 500, 650, 900], [300, 500, 700, 900]),
            "social": ([50] * 4, [80, 0, 100, 0], [80, 0, 50, 0])}
    for channel, (spend, last, att) in want.items():
        for i, month in enumerate(MONTHS):
            assert _cell(rows, channel, "spend", month) == pytest.approx(spend[i])
            assert _cell(rows, channel, "last_touch", month) == pytest.approx(last[i])
            assert _cell(rows, channel, "attributed", month) == pytest.approx(att[i])
    march = MONTHS[2]
    assert _cell(rows, "search", "roas_last_touch", march) == pytest.approx(650 / 300)
    assert _cell(rows, "search", "roas_attributed", march) == pytest.approx(700 / 300)
    assert _cell(rows, "social", "roas_last_touch", march) == pytest.approx(2.0)
    assert _cell(rows, "social", "roas_attributed", march) == pytest.approx(1.0)
    ch = linear.channels
    assert _cell(ch, "search", "spend") == pytest.approx(1000)
    assert _cell(ch, "search", "roas_attributed") == pytest.approx(2400 / 1000)
    assert _cell(ch, "social", "roas_last_touch") == pytest.approx(180 / 200)
    assert linear.model == "linear"


def test_marginal_roas_slope_and_constant_spend(linear) -> None:
    ch = linear.channels
    assert _cell(ch, "search", "marginal_roas") == pytest.approx(2.0)
    assert pd.isna(_cell(ch, "social", "marginal_roas"))
    assert _cell(ch, "social", "marginal_reason") == bd.CONSTANT
    # the same per-period rows fitted on last-touch return, and over the last 3 months
    # (x 200, 300, 400, y 500, 700, 900 -> slope 2)
    last = bd.channels(linear.rows, 4, "last_touch")
    assert _cell(last, "search", "marginal_roas") == pytest.approx(1.95)
    short = bd.channels(linear.rows, 3, "attributed")
    assert _cell(short, "search", "marginal_roas") == pytest.approx(2.0)


def test_marginal_roas_on_constructed_series() -> None:
    spend = [10.0, 40.0, 20.0, 30.0, 50.0]
    assert bd.marginal_roas(spend, [7 + 3.5 * x for x in spend]) == (pytest.approx(3.5), None)
    # y = 1.5x + e: dx = -20, 10, -10, 0, 20 (Sxx 1,000); e = 1 on the first point only:
    # slope 1.5 + (-20 * 1) / 1000 = 1.48
    noisy = [1.5 * x + e for x, e in zip(spend, [1.0, 0.0, 0.0, 0.0, 0.0], strict=True)]
    assert bd.marginal_roas(spend, noisy)[0] == pytest.approx(1.48)
    # noise orthogonal to spend (sum dx * e = 0) leaves the slope
    flat = [1.5 * x + e for x, e in zip(spend, [1.0, 1.0, -1.0, -1.0, 0.0], strict=True)]
    assert bd.marginal_roas(spend, flat)[0] == pytest.approx(1.5)
    assert bd.marginal_roas([25.0] * 4, [1.0, 2.0, 3.0, 4.0]) == (None, bd.CONSTANT)
    assert bd.marginal_roas([10.0, 20.0], [1.0, 2.0]) == (None, bd.TOO_FEW)
    assert bd.marginal_roas([0.0] * 5, [1.0] * 5) == (None, bd.NO_SPEND)


def test_recommendation_only_between_known_different_slopes() -> None:
    assert bd.recommend({"a": 2.0, "b": 0.5, "c": 1.0, "d": None}) == {
        "a": "increase", "b": "decrease", "c": None, "d": None}
    assert bd.recommend({"a": 2.0, "b": None}) == {"a": None, "b": None}
    assert bd.recommend({"a": 1.0, "b": 1.0}) == {"a": None, "b": None}


def test_experiment_lift_next_to_the_channel(linear) -> None:
    ch = linear.channels
    assert _cell(ch, "social", "experiment_id") == "social-holdout"
    lift = _cell(ch, "social", "lift")
    assert lift == pytest.approx(0.5)
    assert _cell(ch, "social", "lift_low") < 0.5 < _cell(ch, "social", "lift_high")
    assert _cell(ch, "social", "lift_rel") == pytest.approx(0.5 / 0.25)
    assert pd.isna(_cell(ch, "search", "experiment_id"))
    assert pd.isna(_cell(ch, "search", "lift"))


def test_markov_default_credits_each_period_its_journeys(markov) -> None:
    out = markov
    assert out.model == "markov_1"
    per = out.rows.groupby("period")["attributed"].sum()
    assert [per[m] for m in MONTHS] == pytest.approx([380, 500, 750, 900])


def test_cli_and_api_give_the_service_answer(ws, markov) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from shopscope import cli as cli_module
    from shopscope.app import create_app
    from tests.test_web import PASSWORD

    cli = cli_module.app
    if not any(g.name == "marketing" for g in cli.registered_groups):
        cli_module._register_subcommands()
    def want(out):
        return {(r.channel, m): getattr(r, m) for r in out.channels.itertuples()
                for m in ("spend", "attributed", "marginal_roas") if not pd.isna(getattr(r, m))}

    res = CliRunner().invoke(cli, ["marketing", "budget", "-w", str(ws.path), "--window", "4",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {(r["channel"], m): r[m] for r in json.loads(res.output)
           for m in ("spend", "attributed", "marginal_roas") if r[m] is not None}
    assert got == pytest.approx(want(markov), abs=0.005)  # exports round to pence
    bad = CliRunner().invoke(cli, ["marketing", "budget", "-w", str(ws.path), "--window", "1"])
    # the project's error (main() prints it and exits 2), naming the option
    assert getattr(bad.exception, "exit_code", None) == 2, bad.output
    assert "window" in str(bad.exception)
    with TestClient(create_app(ws, cookie_secure=False)) as client:
        assert client.post("/api/login", json={"username": "ada",
                                               "password": PASSWORD}).status_code == 200
        # the defaults (markov, 6 periods: all 4 here), which the page below reuses cached
        r = client.get("/api/marketing/budget")
        assert r.status_code == 200, r.text
        body = r.json()
        api = {(c["channel"], m): c[m] for c in body["channels"]
               for m in ("spend", "attributed", "marginal_roas") if c[m] is not None}
        assert api == pytest.approx(want(markov))
        social = next(c for c in body["channels"] if c["channel"] == "social")
        assert (social["marginal_reason"], social["experiment_id"]) == (
            bd.CONSTANT, "social-holdout")
        assert len(body["rows"]) == len(markov.rows)
        csv = client.get("/api/marketing/budget", params={"format": "csv"})
        assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("period,")
        assert len(csv.text.strip().splitlines()) == 1 + len(markov.rows)
        assert client.get("/api/marketing/budget", params={"window": 1}).status_code == 422
        # the /marketing page's budget section: the service's figures, formatted
        page = client.get("/marketing")
        assert page.status_code == 200
        html = page.text
        assert 'data-testid="budget-table"' in html
        search = html[html.index('<tr data-key="search">'):]
        search = search[:search.index("</tr>")]
        assert 'data-col="spend">£1,000.00<' in search
        slope = _cell(markov.channels, "search", "marginal_roas")  # default: markov, 4 months
        assert f'data-col="marginal_roas">{slope:,.2f}<' in search
        assert 'data-col="recommendation"><' in search  # one slope only: no suggestion
        social = html[html.index('<tr data-key="social">'):]
        social = social[:social.index("</tr>")]
        assert 'data-col="marginal_roas">spend did not vary<' in social
        assert 'data-col="lift">+0.50 [' in social and "(social-holdout)" in social
        assert client.get("/marketing", params={"grain": "day"}).text.count(
            'data-testid="budget-table"') == 0  # daily: no budget section
        assert client.post("/api/login", json={"username": "zoe",
                                               "password": PASSWORD}).status_code == 200
        zh = client.get("/marketing").text
        assert "预算：各渠道投放回报" in zh and 'data-col="marginal_roas">投放额未变化<' in zh


def test_no_orders_is_a_clear_error(tmp_path) -> None:
    from shopscope.core.service import LocalContext
    from shopscope.store import Workspace

    w = Workspace.create(tmp_path / "empty", currency="GBP")
    try:
        with pytest.raises(sb.NoData, match="no orders or marketing spend") as err:
            sb.budget(LocalContext(w), sb.BudgetParams())
        assert "load orders" in (err.value.hint or "")
    finally:
        w.close()
