"""The KPI service (``shopscope.kpis.service``): called with a LocalContext it gives the
numbers the API, the overview page, the report and the CLI give for the same question;
its cache keys follow the parameters; ``kpi``/``report`` are registered as top-level
commands through the area registry."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.cli import _register_subcommands, app, demo_data_path
from shopscope.core.service import LocalContext
from shopscope.ingest import ingest_file
from shopscope.kpis import METRICS, service
from shopscope.kpis.queries import KpiOptionError
from shopscope.store import Workspace

PASSWORD = "kpi-service-pass-1"
START, END = dt.date(2011, 1, 10), dt.date(2011, 3, 20)
NAMES = ("gmv", "orders", "aov", "repurchase_rate")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("kpi-service")
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(20_001)), encoding="utf-8")
    workspace = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(workspace, head, preset="online_retail")
    UserStore(workspace.path).add("ada", PASSWORD, "admin")
    workspace.close()
    return root / "ws"


def cli(*args: str) -> str:
    if not any(c.name == "kpi" for c in app.registered_commands):
        _register_subcommands()
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def cli_rows(ws):
    """The CLI's answers, taken before the app holds the workspace."""
    common = ["-w", str(ws), "--start", str(START), "--end", str(END), "--end-inclusive",
              "--format", "json"]
    return {
        "long": json.loads(cli("kpi", "--changes", "--by", "country", "--metrics",
                               ",".join(NAMES), *common)),
        "wide": json.loads(cli("kpi", "--grain", "week", "--metrics", ",".join(NAMES),
                               *common)),
    }


@pytest.fixture(scope="module")
def local(ws, cli_rows):
    workspace = Workspace.open(ws)
    yield LocalContext(workspace)
    workspace.close()


@pytest.fixture(scope="module")
def client(local):
    c = TestClient(create_app(local.workspace), base_url="https://testserver")
    r = c.post("/api/login", json={"username": "ada", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def num(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type]


def test_kpi_table_is_what_the_api_and_the_cli_answer(local, client, cli_rows):
    params = service.KpiParams.of(grain="month", by="country", start=START, end=END,
                                  metrics=NAMES)
    table = service.kpi_table(local, params)
    mine = {(r["period"].date().isoformat(), r["country"], r["metric"]): r
            for r in table.data.to_dict("records")}
    assert {m for _, _, m in mine} == set(NAMES) and len(mine) > 20
    body = client.get("/api/kpis", params={
        "grain": "month", "by": "country", "start": str(START), "end": str(END),
        "end_inclusive": "true", "metrics": ",".join(NAMES), "page_size": 10_000}).json()
    api = {(i["period"], i["breakdown"], i["metric"]): i for i in body["items"]}
    assert api.keys() == mine.keys() and body["total"] == len(mine)
    for key, row in mine.items():
        for col in ("value", "previous", "pop_change", "yoy_value", "yoy_change"):
            assert close(api[key][col], num(row[col])), (key, col)
    # The CLI exports money in whole pence and other numbers to 12 significant digits.
    cli_long = {(r["period"][:10], r["country"], r["metric"]): r for r in cli_rows["long"]}
    assert cli_long.keys() == mine.keys()
    for key, row in mine.items():
        assert close(num(cli_long[key]["value"]), num(row["value"]), 1e-6), key


def test_wide_cli_table_is_the_service_wide_table(local, cli_rows):
    table = service.kpi_table(local, service.KpiParams.of(
        grain="week", start=str(START), end=str(END), metrics=list(NAMES)))
    wide = table.wide()
    assert list(wide.columns) == ["period", *NAMES]
    assert [r["period"][:10] for r in cli_rows["wide"]] == [
        p.date().isoformat() for p in wide["period"]]
    for got, want in zip(cli_rows["wide"], wide.to_dict("records"), strict=True):
        for m in NAMES:
            assert close(num(got[m]), num(want[m]), 1e-6), (got["period"], m)


def test_summary_is_what_the_api_answers(local, client):
    whole = service.summary(local, service.SummaryParams.of(start=str(START), end=str(END)))
    assert list(whole.values()) == list(METRICS)
    body = client.get("/api/kpis/summary", params={"start": str(START), "end": str(END),
                                                   "end_inclusive": "true"}).json()
    assert list(body) == list(METRICS)
    for m in METRICS:
        assert close(body[m], whole.get(m)), m
    assert whole.get("orders") > 0


def test_overview_page_plots_the_service_numbers(local, client):
    html = client.get("/", params={"grain": "month", "start": str(START),
                                   "end": str(END)}).text
    charts = json.loads(re.search(r'id="charts-data">(.*?)</script>', html, re.DOTALL).group(1))
    sales = next(c["figure"] for c in charts["charts"] if c["id"] == "chart-sales")
    gmv_bars = sales["data"][0]
    numbers = service.overview(local, service.OverviewParams(grain="month", start=START,
                                                             end=END))
    assert gmv_bars["x"] == [p.isoformat() for p in numbers.periods]
    for got, want in zip(gmv_bars["y"], numbers.series["gmv"], strict=True):
        assert close(got, want)
    table = service.kpi_table(local, service.KpiParams(grain="month", start=START, end=END))
    # two runs of one sum of doubles may differ in the last bits (DuckDB adds in parallel)
    assert all(close(a, b) for a, b in zip(numbers.series["gmv"], table.wide()["gmv"],
                                           strict=True))


def test_report_totals_are_the_service_summary(local, tmp_path):
    from shopscope.kpis.report import format_value, write_kpi_report

    path = write_kpi_report(local, tmp_path / "r.html", currency="GBP", start=START, end=END)
    text = path.read_text(encoding="utf-8")
    whole = text.split("Whole range", 1)[1]
    total = service.summary(local, service.SummaryParams(start=START, end=END)).get("gmv")
    assert format_value(total, "currency", "GBP") in whole


@dataclass
class Recorder:
    """A context that computes every time and remembers the cache keys asked for."""

    inner: LocalContext
    keys: list[Hashable] = field(default_factory=list)

    @property
    def store(self):
        return self.inner.store

    def cached(self, key: Hashable, compute: Callable):
        self.keys.append(key)
        return compute()


def test_cache_keys_follow_the_parameters():
    base = {"grain": "month", "by": "country", "start": START, "end": END,
            "metrics": ("gmv",)}
    same = service.KpiParams(**base)
    assert service.KpiParams(**base).cache_key() == same.cache_key()
    for name, other in (("grain", "week"), ("by", "channel"), ("start", START.replace(day=1)),
                        ("end", END.replace(day=1)), ("metrics", ("aov",))):
        assert service.KpiParams(**{**base, name: other}).cache_key() != same.cache_key(), name
    s = service.SummaryParams(start=START, end=END)
    assert s.cache_key() == service.SummaryParams(start=START, end=END).cache_key()
    assert s.cache_key() != service.SummaryParams(start=START).cache_key()
    o = service.OverviewParams(grain="week", segment=("channel", "web"))
    assert o.cache_key() == service.OverviewParams(grain="week",
                                                   segment=("channel", "web")).cache_key()
    for change in ({"segment": ("channel", "app")}, {"by": "region"},
                   {"period": START}, {"grain": "day"}):
        assert service.OverviewParams(**{**o.model_dump(), **change}).cache_key() != \
            o.cache_key(), change
    # Parameters of another question never share a key, even with equal fields.
    assert service.SummaryParams().cache_key() != service.KpiParams().cache_key()


def test_one_kpi_computation_serves_every_metric_selection(local):
    ctx = Recorder(local)
    service.kpi_table(ctx, service.KpiParams(grain="year", metrics=("gmv",)))
    service.kpi_table(ctx, service.KpiParams(grain="year", metrics=("aov", "orders")))
    service.kpi_table(ctx, service.KpiParams(grain="quarter"))
    assert ctx.keys[0] == ctx.keys[1] != ctx.keys[2]


def test_bad_parameters_give_the_messages_users_know(client):
    with pytest.raises(service.UnknownMetricError, match="unknown metric"):
        service.KpiParams.of(metrics=["gmv", "bogus"])
    with pytest.raises(KpiOptionError, match="start 2011-05-01 is after end 2011-04-01"):
        service.KpiParams.of(start="2011-05-01", end="2011-04-01")
    with pytest.raises(KpiOptionError, match="unknown grain"):
        service.KpiParams.of(grain="fortnight")
    r = client.get("/api/kpis", params={"metrics": "gmv,bogus"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_metric"
    assert r.json()["error"]["message"] == "unknown metric(s): bogus"


def test_kpi_and_report_are_top_level_commands_listed_after_ingest():
    from shopscope.core.registry import areas

    kpis_area = next(a for a in areas() if a.name == "kpis")
    assert dict(kpis_area.top_commands) == {"kpi": "shopscope.kpis.commands:kpi",
                                            "report": "shopscope.kpis.commands:report"}
    _register_subcommands()
    _register_subcommands()  # twice (as tests do) still gives one command each
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert names.count("kpi") == 1 and names.count("report") == 1
    assert names[:4] == ["init", "ingest", "kpi", "report"]
