"""The experiments service (:mod:`shopscope.experiments.service`): the API, the CLI and the
service itself give the same numbers for the same question; cache keys follow the
parameters; the adapters reach the area only through the service."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from scipy.stats import norm

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.core.service import LocalContext
from shopscope.errors import OptionError
from shopscope.experiments import service
from shopscope.experiments.registry import ExperimentNotFound
from shopscope.store import Workspace
from tests.conftest import api_client

PASSWORD = "analyst-pass-123"
DEFINITION = {
    "experiment_id": "coupon_test", "name": "Coupon", "variants": ["control", "treatment"],
    "start": "2024-03-01", "end": "2024-03-14",
    "metrics": [{"name": "purchase", "kind": "binary"},
                {"name": "revenue", "kind": "mean", "value": "revenue"}],
    "sequential": True}


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    """A workspace holding a synthetic experiment of 800 customers (and its tables)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shopscope.ingest import ingest_file
    from shopscope.synth.experiments import experiment_tables

    root = tmp_path_factory.mktemp("exp-service")
    e = experiment_tables(800, lift_rate=0.3, seed=3, experiment_id="coupon_test")
    (root / "data").mkdir()
    for name in ("experiments", "orders", "customers"):
        pq.write_table(pa.Table.from_pandas(getattr(e, name), preserve_index=False),
                       root / "data" / f"{name}.parquet")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, root / "data", preset="canonical")
    UserStore(ws.path).add("ann", PASSWORD, "analyst")
    service.create(LocalContext(ws), service.CreateParams(definition=DEFINITION))
    yield ws, api_client(create_app(ws), "ann", PASSWORD), e
    ws.close()


def cli(*args: str) -> tuple[int, str, BaseException | None]:
    """The CLI in this process: exit code, stdout, the exception it stopped on."""
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "experiment" for g in app.registered_groups):
        _register_subcommands()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.exception


class Recording:
    """A context that computes every time and remembers the cache keys it was given."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.keys: list = []

    @property
    def store(self):
        return self.workspace.store

    def cached(self, key, compute):
        self.keys.append(key)
        return compute()


def unpooled_n(p1: float, p2: float, alpha: float) -> int:
    """Per-arm n of a two-sided two-proportion z-test, unpooled variance (by hand)."""
    z = norm.ppf(1 - alpha / 2) + norm.ppf(0.8)
    return math.ceil(z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2)


# -- the same answer everywhere ----------------------------------------------------------------
def test_plan_is_the_same_from_the_service_the_api_and_the_cli(exp):
    ws, api, _ = exp
    params = service.PlanParams(baseline=0.1, mde=0.1, variants=3, daily_traffic=3000)
    mine = service.plan(LocalContext(ws), params).to_dict()
    # three arms: Bonferroni halves alpha for each of the two comparisons
    assert mine["plan"]["n_per_variant"] == unpooled_n(0.10, 0.11, alpha=0.025)
    assert mine["days"] == math.ceil(mine["plan"]["n_per_variant"] * 3 / 3000)
    assert [p["days"] for p in mine["tradeoff"]] == [7 * w for w in range(1, 9)]
    assert mine["tradeoff"][0]["n_per_variant"] == 7000  # 3,000 a day × 7 / 3 arms
    body = api.get("/api/experiments/plan", params={
        "baseline": 0.1, "mde": 0.1, "variants": 3, "daily_traffic": 3000}).json()
    code, out, _ = cli("experiment", "plan", "--baseline", "0.1", "--mde", "0.1",
                       "--variants", "3", "--daily-traffic", "3000", "--format", "json")
    assert code == 0
    assert body == mine == json.loads(out)


def test_analysis_is_the_same_from_the_service_the_api_and_the_cli(exp):
    ws, api, e = exp
    result = service.analyze(LocalContext(ws), service.AnalyzeParams(experiment_id="coupon_test"))
    # units per arm by hand from the synthetic assignment log (one row per unit)
    assert dict(result.counts) == e.experiments.variant.value_counts().to_dict()
    mine = result.to_dict()
    body = api.get("/api/experiments/coupon_test/results").json()
    ws.close()  # the CLI opens the workspace itself
    code, out, _ = cli("experiment", "analyze", "coupon_test", "-w", str(ws.path),
                       "--format", "json")
    assert code == 0
    for other in (body, json.loads(out)):
        assert other["counts"] == mine["counts"]
        assert other["srm"]["p_value"] == pytest.approx(mine["srm"]["p_value"], rel=1e-12)
        for a, b in zip(other["comparisons"], mine["comparisons"], strict=True):
            assert (a["metric"], a["variant"]) == (b["metric"], b["variant"])
            # sums over the engine's threads may differ in the last bits from run to run
            assert a["abs_lift"] == pytest.approx(b["abs_lift"], rel=1e-9)
            assert a["p_value"] == pytest.approx(b["p_value"], rel=1e-9)
        assert [s["p_value"] for s in other["sequential"]] == pytest.approx(
            [s["p_value"] for s in mine["sequential"]], rel=1e-9)


def test_definitions_are_the_same_from_the_service_the_api_and_the_cli(exp):
    ws, api, _ = exp
    ctx = LocalContext(ws)
    other = {**DEFINITION, "experiment_id": "second", "name": "Second"}
    assert api.post("/api/experiments", json=other).status_code == 201
    ids = [d.experiment_id for d in service.list_definitions(ctx)]
    assert ids == list(service.saved_ids(ctx)) == ["coupon_test", "second"]
    assert [x["experiment_id"] for x in api.get("/api/experiments").json()] == ids
    assert cli("experiment", "list", "-w", str(ws.path))[1].split() == ids
    shown = service.show(ctx, service.ExperimentRef(experiment_id="second"))
    assert api.get("/api/experiments/second").json() == shown.model_dump(mode="json")
    assert shown.name == "Second"
    service.delete(ctx, service.ExperimentRef(experiment_id="second"))
    assert api.get("/api/experiments/second").status_code == 404
    with pytest.raises(ExperimentNotFound):
        service.delete(ctx, service.ExperimentRef(experiment_id="second"))


def test_the_listing_page_shows_the_services_overview(exp):
    ws, api, _ = exp
    listed = service.overview(LocalContext(ws))
    assert [x.definition.experiment_id for x in listed] == ["coupon_test"]
    units = sum(listed[0].result.counts.values())
    assert units == 800 and listed[0].error is None
    page = api.get("/experiments").text
    assert 'data-experiment="coupon_test"' in page and "800" in page


def test_summary_is_the_same_from_the_service_and_the_cli(tmp_path):
    """10.0% vs 12.0% of 2,000 each: z = 0.02 / sqrt(0.11 · 0.89 · 2/2000) by hand."""
    csv = tmp_path / "summary.csv"
    csv.write_text("variant,n,conversions\nA,2000,200\nB,2000,240\n")
    found = service.summary(None, service.SummaryParams(table=csv))
    z = 0.02 / math.sqrt(0.11 * 0.89 * 2 / 2000)
    assert found.frame.p_value.iloc[0] == pytest.approx(2 * norm.sf(z), rel=1e-9)
    assert found.title == "summary.csv: against the first variant"
    code, out, _ = cli("experiment", "summary", str(csv), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["p_value"] == pytest.approx(found.frame.p_value.iloc[0], rel=1e-12)
    assert rows[0]["abs_lift"] == pytest.approx(0.02, rel=1e-12)


def test_uplift_is_the_same_from_the_service_and_the_cli(tmp_path):
    """Treatment lifts conversion by 15 points where x1 > 0 and nowhere else: the model
    beats shuffled arms; the audience is ceil(0.3 · n) units ranked 1..k."""
    import numpy as np
    import pandas as pd

    pytest.importorskip("sklearn")
    rng = np.random.default_rng(5)
    n = 2000
    x1, treated = rng.normal(size=n), rng.random(n) < 0.5
    rate = 0.1 + 0.15 * (treated & (x1 > 0))
    data = tmp_path / "units.csv"
    pd.DataFrame({"uid": [f"u{i}" for i in range(n)], "arm": np.where(treated, "T", "C"),
                  "y": (rng.random(n) < rate).astype(int), "x1": x1}).to_csv(data, index=False)
    params = service.UpliftParams(data=data, treatment="arm", treated="T", control="C",
                                  outcome="y", features=("x1",), unit="uid", base="linear")
    found = service.uplift(None, params)
    assert found.beats_random and found.units == n
    assert len(found.audience) == math.ceil(0.3 * n)
    assert found.audience["rank"].tolist() == list(range(1, len(found.audience) + 1))
    out = tmp_path / "audience.csv"
    code, text, _ = cli("experiment", "uplift", str(data), "--treatment", "arm", "--treated",
                        "T", "--control", "C", "--outcome", "y", "--features", "x1", "--id",
                        "uid", "--base", "linear", "--output", str(out))
    assert code == 0
    assert f"held-out Qini coefficient {found.qini:.5f}" in " ".join(text.split())
    written = pd.read_csv(out)
    assert written.uid.tolist() == found.audience.uid.tolist()
    # the CSV keeps 12 decimals
    assert written.uplift.tolist() == pytest.approx(found.audience.uplift.tolist(), abs=1e-11)


# -- cache keys ----------------------------------------------------------------------------------
PLAN_CHANGES = {"metric": "mean", "baseline": 0.2, "sd": 3.0, "mde": 0.2, "relative": False,
                "alpha": 0.1, "power": 0.9, "variants": 3, "alternative": "one-sided",
                "daily_traffic": 500.0, "share": 0.5}


def test_cache_keys_follow_every_parameter():
    base = service.PlanParams(baseline=0.1, sd=1.0, daily_traffic=100.0)
    assert set(PLAN_CHANGES) == set(service.PlanParams.model_fields)  # none left out
    assert base.cache_key() == service.PlanParams(baseline=0.1, sd=1.0,
                                                  daily_traffic=100.0).cache_key()
    keys = {base.cache_key()}
    for name, value in PLAN_CHANGES.items():
        changed = base.model_copy(update={name: value})
        assert getattr(changed, name) != getattr(base, name)
        keys.add(changed.cache_key())
    assert len(keys) == 1 + len(PLAN_CHANGES)
    a = service.AnalyzeParams(experiment_id="x")
    assert a.cache_key() == service.AnalyzeParams(experiment_id="x").cache_key()
    assert len({a.cache_key(), service.AnalyzeParams(experiment_id="y").cache_key(),
                service.AnalyzeParams(experiment_id="x", multi_arm="first").cache_key()}) == 3


def test_the_analysis_key_follows_the_policy_and_the_saved_definition(exp):
    ws, _, _ = exp
    ctx = Recording(ws)
    ref = service.AnalyzeParams(experiment_id="coupon_test")
    service.analyze(ctx, ref)
    service.analyze(ctx, ref)
    service.analyze(ctx, service.AnalyzeParams(experiment_id="coupon_test", multi_arm="first"))
    assert ctx.keys[0] == ctx.keys[1] and ctx.keys[2] != ctx.keys[0]
    assert all(k[0] == "experiments.analyze" for k in ctx.keys)
    # a definition replaced under the same id is a new question, on the same data
    service.create(ctx, service.CreateParams(definition={**DEFINITION, "alpha": 0.1}))
    try:
        service.analyze(ctx, ref)
        assert ctx.keys[3] != ctx.keys[0]
    finally:
        service.create(ctx, service.CreateParams(definition=DEFINITION))
    plan_keys = Recording(ws)
    service.plan(plan_keys, service.PlanParams(baseline=0.1))
    service.plan(plan_keys, service.PlanParams(baseline=0.2))
    assert plan_keys.keys[0][0] == "experiments.plan" and plan_keys.keys[0] != plan_keys.keys[1]


# -- input errors ---------------------------------------------------------------------------------
def test_bad_cli_options_name_the_option():
    with pytest.raises(OptionError, match=r"^unknown --multi-arm 'both'$") as caught:
        service.parse_params(service.AnalyzeParams, lambda f: "--" + f.replace("_", "-"),
                             experiment_id="x", multi_arm="both")
    assert caught.value.hint == "exclude or first"
    code, _, exc = cli("experiment", "plan", "--baseline", "0.1", "--variants", "1")
    assert code != 0 and isinstance(exc, OptionError)
    assert exc.message == "--variants: Input should be greater than or equal to 2 (got 1)"
    # before, an unknown metric was planned as a mean
    code, _, exc = cli("experiment", "plan", "--baseline", "0.1", "--metric", "rate")
    assert isinstance(exc, OptionError) and exc.message == "unknown --metric 'rate'"
    assert exc.hint == "proportion or mean"


def test_plan_extremes_keep_their_422(exp):
    _, api, _ = exp
    r = api.get("/api/experiments/plan", params={"baseline": "1"})
    assert r.status_code == 422
    assert "baseline must be a rate in (0, 1)" in r.json()["error"]["message"]
    r = api.get("/api/experiments/plan", params={"alpha": "0", "baseline": "0.1"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "query.alpha: Input should be greater than 0"


# -- layers ------------------------------------------------------------------------------------
ADAPTERS = ("http", "pages", "commands")


def imported_modules(module: str) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    path = Path(__file__).resolve().parents[1] / "src" / "shopscope" / "experiments" / (
        module + ".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_do_not_import_each_other_or_other_areas_adapters(adapter):
    for name in imported_modules(adapter):
        parts = name.split(".")
        assert not (len(parts) >= 3 and parts[0] == "shopscope" and parts[2] in ADAPTERS), (
            f"experiments/{adapter}.py imports the adapter {name}")


# -- typed responses ---------------------------------------------------------------------------
def test_responses_match_their_declared_schema(exp):
    """Every experiments endpoint declares its response; real answers (a sequential
    experiment's results, both policies, plans with a trade-off) conform to it."""
    import schemathesis
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    ws, api, _ = exp
    token, _ = UserStore(ws.path).create_token("ann", "schema-check")
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    spec = api.get("/openapi.json").json()["paths"]
    for path, methods in spec.items():
        if path.startswith("/api/experiments"):
            for method, op in methods.items():
                ok = op["responses"].get("200") or op["responses"].get("201")
                assert ok or "204" in op["responses"], (method, path)
                if ok:  # a named model (or a list of one), not a free-form object
                    body = ok["content"]["application/json"]["schema"]
                    assert "$ref" in body or "$ref" in body.get("items", {}), (method, path)
    ref = {"experiment_id": "coupon_test"}
    cases = [("/api/experiments/{experiment_id}/results", {"path_parameters": ref}),
             ("/api/experiments/{experiment_id}/results",
              {"path_parameters": ref, "query": {"multi_arm": "first"}}),
             ("/api/experiments/{experiment_id}", {"path_parameters": ref}),
             ("/api/experiments", {}),
             ("/api/experiments/plan", {"query": {"baseline": 0.1, "daily_traffic": 2000}}),
             ("/api/experiments/plan", {"query": {"metric": "mean", "sd": 2, "mde": 1,
                                                  "relative": "false", "daily_traffic": 300}})]
    for path, kwargs in cases:
        case = schema[path]["GET"].Case(**kwargs)
        response = case.call(headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 200, (path, response.text)
        case.validate_response(response, checks=[not_a_server_error,
                                                 response_schema_conformance])
