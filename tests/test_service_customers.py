"""The customers service is the one entry point: called with a LocalContext it gives the
numbers the API, the pages and the CLI give for the same question; cache keys come from
the (resolved) parameters; adapters do not import each other.

Where a reference is needed beyond "the three adapters agree", it is computed here with
the query functions (RFM table, stages, transition matrix) on the same store.
"""

from __future__ import annotations

import ast
import datetime as dt
import gzip
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.core.service import LocalContext, Params
from shopscope.customers import service as svc
from shopscope.customers.audiences import parse_definition
from shopscope.customers.clv import DropoutCheck
from shopscope.customers.lifecycle import transition_matrix
from shopscope.customers.rfm import classic_segment, rfm_scores, rfm_table
from shopscope.customers.storage import AudienceStore
from shopscope.ingest import ingest_file
from shopscope.store import Workspace
from tests.conftest import api_client
from tests.test_cli import run

LINES = 20_000
PASSWORDS = {"vic": "viewer-pass-123", "ann": "analyst-pass-123"}
VIP = {"name": "vip", "filters": [{"field": "m_score", "op": "ge", "value": 4}],
       "columns": ["customer_id", "monetary"]}
AUDIENCE_DAY = "2011-01-15"
CALIBRATION_END = "2011-01-20"
PACKAGE = Path(svc.__file__).parent


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("svc-customers")
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(LINES + 1)), encoding="utf-8")
    workspace = Workspace.create(root / "ws", currency="GBP", name="svc")
    ingest_file(workspace, head, preset="online_retail")
    users = UserStore(workspace.path)
    users.add("vic", PASSWORDS["vic"], "viewer")
    users.add("ann", PASSWORDS["ann"], "analyst")
    AudienceStore(workspace.path).save(parse_definition(VIP))
    workspace.close()
    return root / "ws"


def _json_docs(text: str) -> list:
    """Every JSON document printed one after the other on stdout."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def cli(ws_path) -> dict:
    """The CLI's answers, taken before this process opens the workspace."""
    cwd, ws = ws_path.parent, str(ws_path)
    out: dict = {}

    def call(*args: str) -> str:
        proc = run(*args, "-w", ws, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out["rfm"] = json.loads(call("customers", "rfm", "--format", "json"))
    out["lifecycle"] = json.loads(call("customers", "lifecycle", "--format", "json"))
    out["audience"] = json.loads(call("audience", "run", "vip", "--as-of", AUDIENCE_DAY)
                                 .splitlines()[0])
    per_customer = cwd / "clv.csv"
    last = _last_day(ws_path)
    out["clv_docs"] = _json_docs(call("customers", "clv", "--calibration-end", CALIBRATION_END,
                                      "--holdout-end", last.isoformat(), "--format", "json",
                                      "--output", str(per_customer)))
    out["clv"] = pd.read_csv(per_customer, dtype={"customer_id": str})
    return out


def _last_day(path: Path) -> dt.date:
    ws = Workspace.open(path)
    try:
        return ws.store.table("orders").ordered_at.max().execute().date()
    finally:
        ws.close()


@pytest.fixture(scope="module")
def ws(ws_path, cli):  # cli first: the CLI needs the workspace to itself
    workspace = Workspace.open(ws_path)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def ctx(ws) -> LocalContext:
    return LocalContext(ws)


@pytest.fixture(scope="module")
def app(ws):
    from shopscope.app import create_app

    return create_app(ws)


def client(app, user: str = "vic"):
    return api_client(app, user, PASSWORDS[user])


def test_rfm_service_api_and_cli_agree(ctx, app, ws, cli):
    result = svc.rfm_segments(ctx, svc.RfmParams())
    as_of = _last_day(Path(ws.path)) + dt.timedelta(days=1)
    assert result.as_of == as_of
    # reference: the segments counted directly from the scored RFM table
    seg = classic_segment(rfm_scores(rfm_table(ws.store, as_of))).execute()
    expected = seg.segment.value_counts().to_dict()
    got = dict(zip(result.segments.segment, result.segments.customers.astype(int), strict=True))
    assert got == expected
    body = client(app).get("/api/customers/rfm").json()
    assert body["as_of"] == as_of.isoformat() and body["customers"] == result.customers
    assert {r["segment"]: r["customers"] for r in body["items"]} == expected
    assert {r["segment"]: r["customers"] for r in cli["rfm"]} == expected
    api_money = {r["segment"]: r["monetary"] for r in body["items"]}
    for row in cli["rfm"]:
        assert row["monetary"] == pytest.approx(api_money[row["segment"]], abs=0.01)


def test_lifecycle_service_api_and_cli_agree(ctx, app, cli):
    result = svc.lifecycle(ctx, svc.LifecycleParams())
    assert list(result.counts) == ["prospect", "new", "active", "dormant", "churned"]
    body = client(app).get("/api/customers/lifecycle").json()
    assert {s["stage"]: s["customers"] for s in body["stages"]} == result.counts
    w = result.windows.windows
    assert (body["windows"]["new_days"], body["windows"]["churn_days"]) == (w.new_days,
                                                                           w.churn_days)
    cli_counts = {r["stage"]: r["customers"] for r in cli["lifecycle"]}
    assert cli_counts == {k: n for k, n in result.counts.items() if n}
    assert sum(cli_counts.values()) == body["customers"]


def test_flows_are_on_the_api_and_the_page_shows_them(ctx, app, ws):
    result = svc.flows(ctx, svc.MovesParams())
    assert len(result.frame) > 0
    body = client(app).get("/api/customers/lifecycle/flows").json()
    assert (body["start"], body["end"]) == (result.start.isoformat(), result.end.isoformat())
    api = [(r["month"], r["from_stage"], r["to_stage"], r["customers"]) for r in body["items"]]
    assert api == [(m.isoformat(), f, t, int(n)) for m, f, t, n in
                   result.frame[["month", "from_stage", "to_stage", "customers"]]
                   .itertuples(index=False)]
    # independent reference: summed over the months, the flows are the transition matrix
    matrix = transition_matrix(ws.store, result.start, result.end)
    summed = result.frame.groupby(["from_stage", "to_stage"]).customers.sum().to_dict()
    expected = {(r["from_stage"], r["to_stage"]): int(r["customers"])
                for r in matrix.to_dict("records") if r["customers"]}
    assert summed == expected
    # the dashboard's flow chart draws exactly these links
    html = client(app).get("/customers").text
    charts = json.loads(re.search(r'id="charts-data">(.*?)</script>', html, re.S).group(1))
    sankey = next(c["figure"] for c in charts["charts"] if c["id"] == "chart-flow")
    assert sankey["data"][0]["link"]["value"] == [r[3] for r in api]


def test_clv_service_api_and_cli_agree(ctx, app, cli):
    params = svc.ClvParams(calibration_end=dt.date.fromisoformat(CALIBRATION_END))
    report = svc.clv_report(ctx, params)
    body = client(app).get("/api/customers/clv",
                           params={"calibration_end": CALIBRATION_END}).json()
    _close(body, json.loads(report.model_dump_json()))
    assert report.holdout is not None  # orders after the calibration end are held out
    per_customer = cli["clv"]
    assert len(per_customer) == report.totals["customers"]
    assert per_customer.clv.sum() == pytest.approx(body["totals"]["total_clv"], rel=1e-6)
    assert per_customer.probability_alive.sum() == pytest.approx(
        body["totals"]["expected_alive"], rel=1e-6)
    fitted = {r["parameter"]: r["value"] for r in cli["clv_docs"][0]
              if r["model"] == "BetaGeoModel"}
    assert fitted == pytest.approx(body["params"]["bgnbd"], rel=1e-6)
    holdout = cli["clv_docs"][1]  # predicted against actual, by calibration frequency
    api_rows = body["holdout"]["rows"]
    assert [(r["frequency"], r["customers"]) for r in holdout] == [
        (r["frequency"], r["customers"]) for r in api_rows]
    for mine, theirs in zip(holdout, api_rows, strict=True):
        for key in ("actual", "predicted"):
            assert (mine[key] is None) == (theirs[key] is None)
            if mine[key] is not None:
                assert mine[key] == pytest.approx(theirs[key], rel=1e-6)


def test_dropout_has_one_definition(app):
    schema = client(app).get("/openapi.json").json()["components"]["schemas"]
    dropout = schema["ClvReport"]["properties"]["dropout"]
    assert dropout == {"$ref": "#/components/schemas/DropoutCheck"}
    assert set(schema["DropoutCheck"]["properties"]) == set(DropoutCheck.__dataclass_fields__)
    assert "DropoutOut" not in schema


def _close(got: object, expected: object, where: str = "") -> None:
    """Equal all the way down, floats to 1e-9 (a fit and engine sums may differ in the last
    bits between two runs)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key in expected:
            _close(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _close(g, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), where
    else:
        assert got == expected, where


def _same(got: dict, expected: dict) -> None:
    """Equal, floats to 1e-9 (sums in the engine may add in another order)."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert got[key] == value, key


def test_audience_service_api_and_cli_agree(ctx, app, ws, cli):
    day = dt.date.fromisoformat(AUDIENCE_DAY)
    result = svc.audience(ctx, svc.AudienceParams(definition=parse_definition(VIP), as_of=day))
    # reference: customers with M score ≥ 4 among the buyers before that day
    scored = rfm_scores(rfm_table(ws.store, day)).execute()
    assert result.stats.size == int((scored.m_score >= 4).sum()) > 0
    api = client(app).get("/api/audiences/vip/stats", params={"as_of": AUDIENCE_DAY}).json()
    _same(api, result.as_dict())
    _same(cli["audience"], {k: v for k, v in api.items() if k != "as_of"})
    # the export holds the members the stats count, for the API and the service alike
    csv = client(app, "ann").get("/api/audiences/vip/export", params={"as_of": AUDIENCE_DAY})
    members = pd.read_csv(io.StringIO(csv.text), dtype=str)
    assert len(members) == result.stats.size


def test_profile_service_and_api_agree(ctx, app):
    buyer = svc.rfm_customers(ctx, svc.RfmParams()).segments.customer_id.iloc[0]
    p = svc.profile(ctx, svc.ProfileParams(customer_id=buyer), svc.Viewer(admin=False))
    body = client(app).get(f"/api/customers/profile/{buyer}").json()
    assert body["orders_total"] == p.orders_total > 0
    assert body["rfm"] == p.rfm and body["stage"] == p.stage
    assert body["segments"]["classic"]["key"] == p.segments["classic"]
    _same(body["clv"], p.clv)
    assert body["pii"] == "mask"


def test_bad_windows_and_ranges_are_refused_with_a_code(ctx, app):
    with pytest.raises(svc.CustomersError) as err:
        svc.lifecycle(ctx, svc.LifecycleParams(new_days=30))
    assert err.value.code == "invalid_windows" and err.value.status == 422
    r = client(app).get("/api/customers/lifecycle", params={"new_days": 30})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_windows"
    with pytest.raises(svc.CustomersError) as err:
        svc.transitions(ctx, svc.MovesParams(start=dt.date(2011, 3, 1), end=dt.date(2011, 1, 1)))
    assert err.value.code == "invalid_range"


def _variants() -> list[tuple[Params, Params]]:
    """Pairs of parameters that differ in exactly one field."""
    day, other = dt.date(2011, 1, 1), dt.date(2011, 2, 1)
    vip = parse_definition(VIP)
    base: list[tuple[type[Params], dict, dict]] = [
        (svc.RfmParams, {}, {"as_of": day, "scheme": "eleven", "frequency": "days"}),
        (svc.LifecycleParams, {}, {"as_of": day, "new_days": 3, "active_days": 9,
                                   "churn_days": 30}),
        (svc.MovesParams, {}, {"start": day, "end": other, "new_days": 3}),
        (svc.ClvParams, {}, {"calibration_end": day, "holdout_end": "none", "model": "pareto",
                             "spend": "gross", "horizon_months": 6, "margin": 0.5,
                             "discount_rate": 0.2}),
        (svc.ProfileParams, {"customer_id": "a"}, {"customer_id": "b", "as_of": day}),
        (svc.ExportParams, {"definition": vip}, {
            "as_of": day, "format": "parquet", "pii": "hash",
            "definition": parse_definition({**VIP, "name": "vip2"})}),
    ]
    pairs = []
    for cls, required, changes in base:
        for field, value in changes.items():
            pairs.append((cls(**required), cls(**{**required, field: value})))
    return pairs


@pytest.mark.parametrize(("a", "b"), _variants(),
                         ids=lambda p: type(p).__name__)
def test_cache_key_differs_with_any_parameter(a, b):
    assert a.cache_key() != b.cache_key()
    assert a.cache_key() == type(a)(**a.model_dump()).cache_key()
    assert hash(a.cache_key()) == hash(type(a)(**a.model_dump()).cache_key())


class _Counting(LocalContext):
    """A LocalContext that caches and counts what it computes."""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self.store_ = {}
        self.computed: list = []

    def cached(self, key, compute):
        if key not in self.store_:
            self.computed.append(key[0])
            self.store_[key] = compute()
        return self.store_[key]


def test_defaults_resolve_before_the_cache_key(ws):
    ctx = _Counting(ws)
    default = svc.rfm_segments(ctx, svc.RfmParams())
    explicit = svc.rfm_segments(ctx, svc.RfmParams(as_of=default.as_of))
    assert explicit.segments is default.segments  # one question asked two ways: one result
    assert ctx.computed.count("customers.rfm_segments") == 1
    svc.rfm_segments(ctx, svc.RfmParams(scheme="eleven"))
    assert ctx.computed.count("customers.rfm_segments") == 2


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize(("module", "forbidden"), [
    ("pages.py", ("customers.http",)),
    ("pages_audiences.py", ("customers.http",)),
    ("http.py", ("customers.pages", "customers.commands")),
    ("http_audiences.py", ("customers.pages", "customers.commands")),
    ("commands.py", ("customers.http", "customers.pages", "fastapi")),
    ("service.py", ("customers.http", "customers.pages", "customers.commands", "fastapi",
                    "shopscope.ui")),
    ("audiences.py", ("customers.storage", "customers.clv", "customers.models", "os")),
])
def test_layers(module, forbidden):
    names = _imports(PACKAGE / module)
    bad = sorted(n for n in names for f in forbidden
                 if n == f or n.startswith((f"shopscope.{f}", f"{f}.")))
    assert not bad, f"{module} imports {bad}"
