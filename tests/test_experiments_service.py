"""Experiments through the API, the CLI and the dashboard: the sample-size calculator
(hand-computed reference), and saved experiments analysed end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from scipy.stats import norm

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.store import Workspace
from tests.conftest import api_client
from tests.pagecheck import elements

PASSWORDS = {"ann": "analyst-pass-123", "vic": "viewer-pass-123"}


def unpooled_n(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Per-arm n for a two-sided two-proportion z-test, unpooled variance (by hand)."""
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return math.ceil(z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace = Workspace.create(tmp_path_factory.mktemp("exp") / "ws")
    users = UserStore(workspace.path)
    users.add("ann", PASSWORDS["ann"], "analyst")
    users.add("vic", PASSWORDS["vic"], "viewer", lang="zh")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def app(ws):
    return create_app(ws)


def client(app, user: str | None = None):
    return api_client(app, user, PASSWORDS.get(user or ""))


def test_plan_api_matches_the_textbook_formula(app):
    assert client(app).get("/api/experiments/plan").status_code == 401
    c = client(app, "vic")
    body = c.get("/api/experiments/plan", params={
        "baseline": 0.10, "mde": 0.10, "daily_traffic": 2000}).json()
    assert unpooled_n(0.10, 0.11) == 14749
    assert body["plan"]["n_per_variant"] == 14749
    assert body["days"] == math.ceil(14749 * 2 / 2000)
    week = body["tradeoff"][0]  # 7 days: 7,000 per arm
    assert week["days"] == 7 and week["n_per_variant"] == 7000
    assert unpooled_n(0.10, 0.10 + week["mde_abs"]) == pytest.approx(7000, abs=1)
    three = c.get("/api/experiments/plan", params={
        "baseline": 0.10, "mde": 0.10, "variants": 3}).json()
    assert three["plan"]["n_per_variant"] == unpooled_n(0.10, 0.11, alpha=0.025)
    bad = c.get("/api/experiments/plan", params={"metric": "mean", "mde": 5})
    assert bad.status_code == 422 and "standard deviation" in bad.json()["error"]["message"]


def test_plan_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "experiment", "plan",
                           "--baseline", "0.1", "--mde", "0.1", "--format", "json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plan"]["n_per_variant"] == 14749


def test_plan_page(app):
    import re

    c = client(app, "vic")  # Chinese
    html = c.get("/experiments/plan", params={"baseline": "0.10", "mde": "10",
                                              "daily_traffic": "2000"}).text
    assert "样本量计算" in html
    assert re.search(r'data-testid="n-per-variant">14,749<', html)
    assert 'id="chart-tradeoff"' in html
    bad = c.get("/experiments/plan", params={"baseline": "abc"}).text
    assert 'role="alert"' in bad and "abc" in bad


# -- saved experiments, on a synthetic experiment with a known effect --------------------------
DEFINITION = {
    "experiment_id": "coupon_test", "name": "Coupon", "hypothesis": "A coupon lifts purchases",
    "variants": ["control", "treatment"], "start": "2024-03-01", "end": "2024-03-14",
    "metrics": [{"name": "purchase", "kind": "binary"},
                {"name": "revenue", "kind": "mean", "value": "revenue", "cap_quantile": 0.99},
                {"name": "aov", "kind": "ratio", "numerator": "revenue",
                 "denominator": "orders"}],
    "covariate_days": 28, "sequential": True, "segments": ["new_vs_returning"],
    "planned_units_per_arm": 1500}


@pytest.fixture(scope="module")
def exp_app(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shopscope.ingest import ingest_file
    from shopscope.synth.experiments import experiment_tables

    root = tmp_path_factory.mktemp("exp-synth")
    e = experiment_tables(3000, lift_rate=0.3, seed=1, experiment_id="coupon_test")
    (root / "data").mkdir()
    for name in ("experiments", "orders", "customers"):
        pq.write_table(pa.Table.from_pandas(getattr(e, name), preserve_index=False),
                       root / "data" / f"{name}.parquet")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, root / "data", preset="canonical")
    users = UserStore(ws.path)
    users.add("ann", PASSWORDS["ann"], "analyst")
    users.add("vic", PASSWORDS["vic"], "viewer")
    yield create_app(ws), ws, e
    ws.close()


def test_experiment_lifecycle_over_the_api(exp_app):
    import pandas as pd

    from shopscope.experiments.stats import ProportionStats, compare_proportions

    app, _ws, e = exp_app
    viewer, analyst = client(app, "vic"), client(app, "ann")
    assert viewer.post("/api/experiments", json=DEFINITION).status_code == 403
    assert analyst.post("/api/experiments", json=DEFINITION).status_code == 201
    reserved = analyst.post("/api/experiments", json={**DEFINITION, "experiment_id": "plan"})
    assert reserved.status_code == 422 and "reserved" in reserved.json()["error"]["message"]
    assert [x["experiment_id"] for x in viewer.get("/api/experiments").json()] == [
        "coupon_test"]
    body = viewer.get("/api/experiments/coupon_test/results").json()
    assert body["srm"]["mismatch"] is False
    # purchase conversion by hand from the synthetic tables: units with an order in window
    units = e.experiments.set_index("unit_id").variant
    o = e.orders[(e.orders.ordered_at >= "2024-03-01") & (e.orders.ordered_at < "2024-03-15")
                 & (e.orders.status != "cancelled")]
    assigned = e.experiments.set_index("unit_id").assigned_at
    o = o[o.ordered_at >= o.customer_id.map(assigned).fillna(pd.Timestamp("2024-03-01"))]
    buyers = set(o.customer_id)
    stats = {v: ProportionStats(int((units == v).sum()),
                                int(sum(1 for u in units[units == v].index if u in buyers)))
             for v in ("control", "treatment")}
    expected = compare_proportions(stats["control"], stats["treatment"])
    got = next(c for c in body["comparisons"] if c["metric"] == "purchase")
    assert got["abs_lift"] == pytest.approx(expected.abs_lift, abs=1e-12)
    assert got["p_value"] == pytest.approx(expected.p_value, rel=1e-9)
    assert any(s["exploratory"] for s in body["segments"])
    assert viewer.get("/api/experiments/nope/results").status_code == 404
    assert analyst.delete("/api/experiments/nope").status_code == 404


def test_experiment_pages(exp_app):
    import re

    app, _ws, _e = exp_app
    c = client(app, "ann")
    c.post("/api/experiments", json=DEFINITION)
    listing = c.get("/experiments").text
    assert 'data-experiment="coupon_test"' in listing
    assert not elements(listing, data_testid="srm-bad")
    page = c.get("/experiments/coupon_test").text
    assert 'data-testid="srm-ok"' in page and 'data-testid="exploratory"' in page
    charts = re.search(r'id="charts-data">(.*?)</script>', page, re.S).group(1)
    for chart in ("chart-forest", "chart-cumulative-purchase", "chart-sequential-purchase",
                  "chart-boundary-purchase"):
        assert chart in charts
    assert c.get("/experiments/nope").status_code == 404


def test_a_broken_split_is_flagged_loudly(exp_app):
    app, _ws, _e = exp_app
    c = client(app, "ann")
    # the same assignments judged against a plan of 80/20: the 50/50 split is a mismatch
    lopsided = {**DEFINITION, "split": {"control": 0.8, "treatment": 0.2}}
    assert c.post("/api/experiments", json=lopsided).status_code == 201
    try:
        body = c.get("/api/experiments/coupon_test/results").json()
        assert body["srm"]["mismatch"] is True and body["srm"]["p_value"] < 1e-6
        assert body["warnings"][0].startswith("SAMPLE RATIO MISMATCH")
        assert 'data-testid="srm-alert"' in c.get("/experiments/coupon_test").text
        assert 'data-testid="srm-bad"' in c.get("/experiments").text
    finally:
        c.post("/api/experiments", json=DEFINITION)


def test_uplift_cli_on_hillstrom(tmp_path):
    import pandas as pd

    from tests.conftest import shared_file

    path = shared_file("hillstrom",
                       "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_"
                       "2008.03.20.csv.gz")
    out = tmp_path / "audience.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "shopscope.cli", "experiment", "uplift", str(path),
         "--treatment", "segment", "--treated", "Womens E-Mail", "--control", "No E-Mail",
         "--outcome", "visit", "--features", ("recency,history,mens,womens,zip_code,newbie,"
         "channel"), "--base", "linear", "--output", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "beats random targeting" in proc.stdout.replace("\n", " ")
    raw = pd.read_csv(path)
    n = int(raw.segment.isin(["Womens E-Mail", "No E-Mail"]).sum())
    audience = pd.read_csv(out)
    assert len(audience) == math.ceil(0.3 * n)
    assert audience["rank"].tolist() == list(range(1, len(audience) + 1))
    assert audience.uplift.is_monotonic_decreasing


def test_summary_table_by_hand(tmp_path):
    """A test run elsewhere: 10.0% vs 12.0% of 2,000 each. z by hand with the pooled rate
    0.11: (0.12 - 0.10) / sqrt(0.11 * 0.89 * (2/2000)) = 2.0211...; three arms: Holm."""
    csv = tmp_path / "summary.csv"
    csv.write_text("variant,n,conversions\nA,2000,200\nB,2000,240\nC,2000,210\n")
    proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "experiment", "summary",
                           str(csv), "--format", "json"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["variant"]: r for r in json.loads(proc.stdout)}
    z = 0.02 / math.sqrt(0.11 * 0.89 * 2 / 2000)
    p_b = 2 * norm.sf(z)
    assert rows["B"]["p_value"] == pytest.approx(p_b, rel=1e-9)
    p_c = 2 * norm.sf(0.005 / math.sqrt(0.1025 * 0.8975 * 2 / 2000))
    assert rows["C"]["p_value"] == pytest.approx(p_c, rel=1e-9)
    assert rows["B"]["adjusted_p"] == pytest.approx(min(1, 2 * p_b), rel=1e-9)  # Holm
    assert rows["C"]["adjusted_p"] == pytest.approx(max(min(1, 2 * p_b), p_c), rel=1e-9)
    assert rows["B"]["abs_lift"] == pytest.approx(0.02)
    lopsided = tmp_path / "lopsided.csv"
    lopsided.write_text("variant,n,conversions\nA,2000,200\nB,1700,170\n")
    out = subprocess.run([sys.executable, "-m", "shopscope.cli", "experiment", "summary",
                          str(lopsided)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "SAMPLE RATIO MISMATCH" in out.stdout.replace("\n", " ")


def test_group_sequential_in_the_results(exp_app):
    """Daily looks with O'Brien-Fleming spending: the last look's z is the unpooled
    two-proportion z of the final counts (by hand), boundaries fall as information grows."""
    app, _ws, _e = exp_app
    c = client(app, "ann")
    c.post("/api/experiments", json=DEFINITION)
    body = c.get("/api/experiments/coupon_test/results").json()
    gs = next(g for g in body["group_sequential"] if g["metric"] == "purchase")
    final = next(x for x in body["comparisons"] if x["metric"] == "purchase")
    counts = body["counts"]
    p0, p1 = final["control_value"], final["variant_value"]
    n0, n1 = counts["control"], counts["treatment"]
    z = (p1 - p0) / math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    assert gs["z"][-1] == pytest.approx(z, rel=1e-9)
    finite = [b for b in gs["boundaries"] if b is not None]
    assert finite == sorted(finite, reverse=True) and finite[-1] > 1.9


def test_the_example_definition_is_valid():
    from pathlib import Path

    from shopscope.experiments.registry import parse_definition

    path = Path(__file__).resolve().parents[1] / "examples" / "experiments" / "coupon_test.json"
    d = parse_definition(path.read_text(encoding="utf-8"))
    assert d.control == "control" and [m.kind for m in d.metrics] == ["binary", "mean", "ratio"]
    assert d.planned_units_per_arm == 1500 and d.sequential


def test_plan_inputs_that_blew_up_the_computation_are_refused(app):
    """The fuzzer's request answered 500 (a subnormal daily traffic made the duration
    infinite); it and its neighbours now answer 422 with a reason, or a finite plan."""
    c = client(app, "vic")
    r = c.get("/api/experiments/plan", params={"daily_traffic": "5e-324",
                                               "baseline": "5e-324", "relative": "false"})
    assert r.status_code == 422, r.text
    assert "daily_traffic" in r.json()["error"]["hint"]
    assert "more than 36,500 days" in r.json()["error"]["message"]
    extremes = ["5e-324", "1e-300", "0", "1", "1e300", "-1"]
    for metric in ("proportion", "mean"):
        for baseline in extremes:
            for mde in extremes:
                for traffic in ("5e-324", "1e300", None):
                    params = {"metric": metric, "baseline": baseline, "mde": mde,
                              "relative": "false" if mde == "1e300" else "true"}
                    if metric == "mean":
                        params["sd"] = "1"
                    if traffic:
                        params["daily_traffic"] = traffic
                    r = c.get("/api/experiments/plan", params=params)
                    assert r.status_code in (200, 422), (params, r.status_code, r.text)
                    if r.status_code == 422:
                        assert r.json()["error"]["message"], params
    # a rate of 0 or 1 cannot be planned for; a huge traffic still gives at least a day
    for baseline in ("0", "1"):
        r = c.get("/api/experiments/plan", params={"baseline": baseline})
        assert r.status_code == 422 and "baseline must be a rate in (0, 1)" in r.text
    huge = c.get("/api/experiments/plan", params={"baseline": "0.1", "daily_traffic": "1e300"})
    assert huge.status_code == 200 and huge.json()["days"] == 1
    page = c.get("/experiments/plan", params={"daily_traffic": "5e-324", "baseline": "5e-324",
                                              "mde_kind": "absolute"})
    assert page.status_code == 200 and "36,500 days" in page.text


def test_summary_table_reads_as_percentages(tmp_path):
    """10.00% vs 12.00% of 2,000 each: +2.00 pp, +20.00% relative; C 9.95%: −0.05 pp,
    −0.50% (a true minus). The CSV keeps the full numbers."""
    csv = tmp_path / "summary.csv"
    csv.write_text("variant,n,conversions\nA,2000,200\nB,2000,240\nC,2000,199\n")
    env = {**__import__("os").environ, "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "experiment", "summary",
                           str(csv)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    b = next(line for line in lines if "metric: B" in line).split()
    assert b[2:7] == ["10.00%", "12.00%", "+2.00", "pp", "+20.00%"]
    c = next(line for line in lines if "metric: C" in line).split()
    assert c[2:7] == ["10.00%", "9.95%", "\u22120.05", "pp", "\u22120.50%"]
    out = subprocess.run([sys.executable, "-m", "shopscope.cli", "experiment", "summary",
                          str(csv), "--format", "csv"], capture_output=True, text=True,
                         timeout=120)
    import io

    import pandas as pd

    rows = pd.read_csv(io.StringIO(out.stdout)).set_index("variant")
    assert rows.loc["C", "variant_value"] == pytest.approx(0.0995, abs=1e-15)
    assert rows.loc["C", "abs_lift"] == pytest.approx(-0.0005, abs=1e-15)
    assert rows.loc["B", "kind"] == "rate"
