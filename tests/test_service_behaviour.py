"""The behaviour service: one answer per question on every surface.

Each service function, called with a ``LocalContext`` on a small synthetic shop, gives the
numbers that the API endpoint and the CLI give for the same question, and those numbers
are checked against counts made here with pandas on the raw events. Cache keys come from
the parameters (equal for equal parameters, different when any one differs); bad values
raise the analyses' own messages; the dropped audience runs through the store's executor;
the adapters do not import each other.
"""

from __future__ import annotations

import ast
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.behaviour import service
from shopscope.core.service import LocalContext
from shopscope.errors import OptionError
from shopscope.ingest import ingest_file
from shopscope.store import Workspace
from tests.conftest import api_client

PASSWORD = "analyst-pass-123"
SRC = Path(__file__).resolve().parents[1] / "src" / "shopscope"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """(workspace, API client, copy of the workspace for the CLI, raw events frame)."""
    from shopscope.synth import generate

    root = tmp_path_factory.mktemp("beh-service")
    generate(root / "synth", customers=80, seed=11, start="2023-01-01", days=120,
             events=True)
    for name in ("inventory.parquet", "marketing_spend.parquet"):
        path = root / "synth" / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    ws = Workspace.create(root / "ws", currency="CNY")
    ingest_file(ws, root / "synth", preset="canonical")
    UserStore(ws.path).add("ann", PASSWORD, "analyst")
    ws.store.backend.con.execute("CHECKPOINT")
    copy = root / "cli-ws"  # DuckDB has one writer: the CLI works on a copy
    shutil.copytree(ws.path, copy)
    events = ws.store.table("events").select(
        "event_at", "event_type", "user_id", "anonymous_id").execute()
    events["visitor"] = events.user_id.where(events.user_id.notna(), events.anonymous_id)
    yield ws, api_client(create_app(ws), "ann", PASSWORD), copy, events
    ws.close()


def cli(copy: Path, *args: str) -> pd.DataFrame:
    """Run ``shopscope behaviour ARGS --format csv`` in this process; its table."""
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "behaviour" for g in app.registered_groups):
        _register_subcommands()
    result = CliRunner().invoke(app, ["behaviour", *args, "-w", str(copy),
                                      "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout))


def test_trends_agree_with_the_api_the_cli_and_a_hand_count(shop):
    ws, api, copy, events = shop
    answer = service.trends(LocalContext(ws), service.TrendParams(
        metrics=("pv", "uv"), grain="month"))
    mine = answer.result.wide()
    month = events.event_at.dt.to_period("M").dt.start_time.dt.date.astype(str)
    want_pv = events.groupby(month).size().to_dict()
    want_uv = events.groupby(month).visitor.nunique().to_dict()
    assert dict(zip(mine.period.astype(str).str[:10], mine.pv, strict=True)) == want_pv
    assert dict(zip(mine.period.astype(str).str[:10], mine.uv, strict=True)) == want_uv
    rows = pd.DataFrame(api.get("/api/behaviour/trends", params={
        "grain": "month", "metric": ["pv", "uv"]}).json()["rows"])
    pv = rows[rows.metric == "pv"]
    assert dict(zip(pv.period.str[:10], pv.value, strict=True)) == want_pv
    table = cli(copy, "trends", "-m", "pv", "-m", "uv", "--grain", "month")
    assert dict(zip(table.period.str[:10], table.uv, strict=True)) == want_uv
    assert answer.choice.kind == "events" and answer.empty_reason is None


FUNNEL = ("view", "add_to_cart", "purchase")


def test_funnel_its_trend_and_dropped_audience_agree_everywhere(shop):
    ws, api, copy, events = shop
    ctx = LocalContext(ws)
    params = service.FunnelParams(steps=FUNNEL, window="1d")
    answer = service.funnel(ctx, params)
    counts = answer.result.steps["count"].tolist()
    # independent: everyone with a view event starts the funnel
    assert counts[0] == events[events.event_type == "view"].visitor.nunique()
    assert counts[0] > counts[1] > counts[2] > 0
    query = [("step", s) for s in FUNNEL] + [("window", "1d")]
    body = api.get("/api/behaviour/funnel", params=query).json()
    assert [s["count"] for s in body["steps"]] == counts
    assert cli(copy, "funnel", *FUNNEL, "--window", "1d")["count"].tolist() == counts

    trend = service.funnel_trend(ctx, service.FunnelTrendParams(
        steps=FUNNEL, window="1d", grain="month")).result
    # each visitor is counted in the month of their first view, so months add up
    assert trend[trend.step == 1]["count"].sum() == counts[0]
    rows = pd.DataFrame(api.get("/api/behaviour/funnel/trend",
                                params=[*query, ("grain", "month")]).json()["rows"])
    assert rows["count"].tolist() == trend["count"].tolist()
    table = cli(copy, "funnel", *FUNNEL, "--window", "1d", "--trend", "month")
    assert table["count"].tolist() == trend["count"].tolist()

    dropped = service.funnel_dropped(ctx, service.DroppedParams(
        steps=FUNNEL, window="1d", at_step=2)).frame
    assert len(dropped) == counts[0] - counts[1] == dropped.visitor.nunique()
    csv = api.get("/api/behaviour/funnel/dropped", params=[*query, ("at_step", "2")])
    assert set(pd.read_csv(io.StringIO(csv.text), dtype=str).visitor) == set(dropped.visitor)
    table = cli(copy, "funnel", *FUNNEL, "--window", "1d", "--dropped-at", "2")
    assert set(table.visitor.astype(str)) == set(dropped.visitor)


def test_retention_and_cohorts_agree_everywhere(shop):
    ws, api, copy, events = shop
    ctx = LocalContext(ws)
    answer = service.retention(ctx, service.RetentionParams(grain="week", periods=4))
    matrix = answer.result.matrix
    first = matrix[matrix.period_number == 0]
    assert first.cohort_size.sum() == events.visitor.nunique()
    assert (first.retained == first.cohort_size).all()
    api_matrix = pd.DataFrame(api.get("/api/behaviour/retention", params={
        "grain": "week", "periods": 4}).json()["matrix"])
    assert api_matrix.retained.tolist() == matrix.retained.tolist()
    table = cli(copy, "retention", "--grain", "week", "--periods", "4", "--long")
    assert table.retained.tolist() == matrix.retained.tolist()

    cohorts = service.cohorts(ctx, service.CohortParams(grain="month", periods=3)).matrix
    orders = ws.store.table("orders").execute()
    buyers = orders[orders.status != "cancelled"].customer_id.nunique()
    assert cohorts[cohorts.period_number == 0].cohort_size.sum() == buyers
    api_cohorts = pd.DataFrame(api.get("/api/behaviour/cohorts", params={
        "grain": "month", "periods": 3}).json()["matrix"])
    assert api_cohorts.retained_exact.tolist() == cohorts.retained_exact.tolist()
    grid = cli(copy, "cohorts", "--grain", "month", "--periods", "3",
               "--value", "retained_exact")
    assert grid["size"].tolist() == cohorts.drop_duplicates("cohort").cohort_size.tolist()


def test_paths_agree_everywhere(shop):
    ws, api, copy, _ = shop
    answer = service.paths(LocalContext(ws), service.PathParams(start="view", top=5))
    top = answer.result.paths
    assert 0 < len(top) <= 5
    body = api.get("/api/behaviour/paths", params={"start": "view", "top": 5}).json()
    assert [p["text"] for p in body["paths"]] == top.text.tolist()
    assert [p["sessions"] for p in body["paths"]] == top.sessions.tolist()
    table = cli(copy, "paths", "--from", "view", "--top", "5")
    assert table.sessions.tolist() == top.sessions.tolist()
    assert sum(s["share"] for s in body["next_steps"]) == pytest.approx(1.0)


# -- cache keys -------------------------------------------------------------------------------
VARIANTS = {
    service.TrendParams: {"metrics": ("pv",), "grain": "week", "start": "2023-01-02",
                          "end": "2023-02-01", "event": "view", "by": "channel",
                          "source": "orders"},
    service.FunnelParams: {"steps": ("view", "purchase"), "window": "2h", "order": "any",
                           "same_product": True, "mode": "order", "start": "2023-01-02",
                           "end": "2023-02-01", "by": "channel", "source": "events"},
    service.RetentionParams: {"start_event": "view", "return_event": "purchase",
                              "grain": "week", "periods": 5, "mode": "unbounded",
                              "start": "2023-01-02", "end": "2023-02-01", "by": "channel",
                              "source": "orders"},
    service.CohortParams: {"grain": "week", "periods": 3, "start": "2023-01-02",
                           "end": "2023-02-01"},
    service.PathParams: {"start": "view", "end": "purchase", "length": 3, "top": 7,
                         "exclude": ("search",), "collapse_repeats": False, "gap": "1h",
                         "start_date": "2023-01-02", "end_date": "2023-02-01",
                         "source": "events"},
}


@pytest.mark.parametrize("cls", list(VARIANTS), ids=lambda c: c.__name__)
def test_cache_key_differs_with_every_parameter(cls):
    base = cls()
    assert cls().cache_key() == base.cache_key()
    for name, value in VARIANTS[cls].items():
        changed = cls(**{name: value})
        assert changed.cache_key() != base.cache_key(), name
        assert cls(**{name: value}).cache_key() == changed.cache_key(), name


class Recording:
    """A context that records the cache keys asked for (and computes every time)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws, self.keys = ws, []

    @property
    def store(self):
        return self.ws.store

    def cached(self, key, compute):
        self.keys.append(key)
        return compute()


def test_service_keys_follow_the_resolved_question(shop):
    ws = shop[0]

    def key_of(params: service.FunnelParams) -> object:
        ctx = Recording(ws)
        service.funnel(ctx, params)
        return next(k for k in ctx.keys if k[0] == "behaviour.funnel")

    default = key_of(service.FunnelParams())
    # auto resolves to events here, and no steps means the events' default funnel:
    # the same question, so the same cached answer
    assert key_of(service.FunnelParams(
        source="events", steps=("view", "add_to_cart", "checkout", "purchase"),
        window="1d")) == default
    assert key_of(service.FunnelParams(window="2d")) != default
    assert key_of(service.FunnelParams(by="channel")) != default
    assert key_of(service.FunnelParams(source="orders")) != default


# -- validation -------------------------------------------------------------------------------
def test_bad_values_raise_the_analyses_own_messages(shop):
    from shopscope.behaviour.retention import retention
    from shopscope.behaviour.trends import trends

    store = shop[0].store
    for make, direct in [
        (lambda: service.TrendParams(grain="year"), lambda: trends(store, grain="year")),
        (lambda: service.RetentionParams(mode="later"),
         lambda: retention(store, mode="later")),
    ]:
        with pytest.raises(OptionError) as ours:
            make()
        with pytest.raises(OptionError) as theirs:
            direct()
        assert (ours.value.message, ours.value.hint) == (theirs.value.message,
                                                         theirs.value.hint)
    with pytest.raises(OptionError, match="source 'tracker' is not one of auto"):
        service.PathParams(source="tracker")
    with pytest.raises(OptionError, match="^start='31/01/2024' is not a date"):
        service.FunnelParams(start="31/01/2024")
    with pytest.raises(OptionError, match="give both compare_start and compare_end"):
        service.TrendParams(compare_start="2023-01-01")


def test_dropped_audience_runs_through_the_store_executor(shop, monkeypatch):
    import shopscope.behaviour.service as module

    calls = []
    real = module.execute

    def spy(expr, **kwargs):
        calls.append(kwargs)
        return real(expr, **kwargs)

    monkeypatch.setattr(module, "execute", spy)
    frame = service.funnel_dropped(LocalContext(shop[0]), service.DroppedParams(
        steps=FUNNEL, at_step=3)).frame
    assert calls == [{"written_join_sides": True}] and len(frame) > 0
    assert frame.visitor.tolist() == sorted(frame.visitor)  # the same file every time


# -- layers -----------------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("adapter", ["pages.py", "commands.py", "http.py"])
def test_adapters_import_no_other_adapter(adapter):
    mine = adapter.removesuffix(".py")
    adapters = {"http", "pages", "commands"}
    for module in _imports(SRC / "behaviour" / adapter):
        parts = module.split(".")
        if parts[0] != "shopscope" or len(parts) < 3:
            continue
        name = parts[2].split("_")[0]
        assert not (name in adapters and name != mine), module
        if parts[1] != "behaviour":  # other areas: their facade or service only
            assert parts[1] in {"core", "ui", "errors", "schema", "store", "auth",
                                "cli"} or name in {"service"}, module


def test_every_endpoint_declares_its_response(shop):
    paths = shop[1].get("/openapi.json").json()["paths"]
    behaviour = {p: v for p, v in paths.items() if p.startswith("/api/behaviour/")}
    assert len(behaviour) == 7
    for path, item in behaviour.items():
        content = item["get"]["responses"]["200"]["content"]
        if path.endswith("/dropped"):
            assert {"text/csv", "application/vnd.apache.parquet"} <= set(content)
            continue
        schema = content["application/json"]["schema"]
        assert schema.get("$ref", "").startswith("#/components/schemas/"), path


# -- frames the pages draw --------------------------------------------------------------------
def test_compare_totals_and_conversion_by_from_hand_made_results():
    from shopscope.behaviour.funnels import FunnelResult
    from shopscope.behaviour.trends import TrendResult

    data = pd.DataFrame({"metric": ["pv", "uv", "pv", "uv", "dau"],
                         "value": [10.0, 4.0, 20.0, 6.0, 1.0],
                         "compare_value": [5.0, 0.0, 10.0, 0.0, 9.0]})
    trend = TrendResult(("pv", "uv", "dau"), "day", None, None, None, None, None, data)
    totals = service.compare_totals(trend).set_index("metric")
    assert totals.loc["pv"].tolist() == [30.0, 15.0, 1.0]  # 30 / 15 - 1
    assert totals.loc["uv", "other"] == 0 and pd.isna(totals.loc["uv", "change"])
    assert "dau" not in totals.index

    steps = pd.DataFrame({"by": ["a", "a", "b", "b", "c", "c"], "step": [1, 2] * 3,
                          "count": [5, 1, 9, 3, 2, 2],
                          "conversion_overall": [1.0, 0.2, 1.0, 1 / 3, 1.0, 1.0]})
    split = FunnelResult(steps, pd.DataFrame(), None)  # type: ignore[arg-type]
    table = service.conversion_by(split, top=2)
    assert table["by"].tolist() == ["b", "a"]  # most entrants first, top 2
    assert table["entered"].tolist() == [9, 5] and table["count"].tolist() == [3, 1]


def test_a_closed_range_without_events_gives_zero_actives_not_a_500(shop):
    api = shop[1]
    # no event in 2015; both ends given, so the range is known: every day is there, at 0
    body = api.get("/api/behaviour/trends", params={
        "start": "2015-01-01", "end": "2015-01-10", "metric": ["dau", "stickiness", "pv"]})
    assert body.status_code == 200, body.text
    rows = pd.DataFrame(body.json()["rows"])
    assert len(rows[rows.metric == "dau"]) == 10
    assert (rows[rows.metric.isin(["dau", "pv"])].value == 0).all()
    assert rows[rows.metric == "stickiness"].value.isna().all()  # 0 / 0 is no rate
    page = api.get("/behaviour/trends", params={"start": "2015-01-01", "end": "2015-01-10"})
    assert page.status_code == 200
