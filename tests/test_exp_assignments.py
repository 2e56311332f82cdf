"""Assignment logs as real tests produce them: units logged more than once, some in both arms
(issue 13, point 7), on the path a user takes (a CSV ingested with a mapping file, then
``experiment analyze``) and on a store whose ``experiments`` table holds the raw log.

The log below is written by hand. Expected numbers are worked out in the comments:

unit  rows in file order (arm, assigned_at)          orders in the window (net)
a1    control 03-01                                    03-02 10
a2    control 03-01                                    —
a3    control 03-04, control 03-02  (repeat, same arm) 03-03 20: counts only from the
                                                       earliest exposure 03-02, not from
                                                       the first row in the file
b1    treatment 03-01                                  03-05 30
b2    treatment 03-01, treatment 03-01 (repeat)        —
b3    treatment 03-01                                  03-06 40
m1    control 03-01, treatment 03-03  (both arms)      03-02 100
m2    control 03-02, treatment 03-01  (both arms)      03-04 50
m3    treatment 03-02 12:00, control 03-02 (both arms) —

k = 3 units in both arms (m1, m2, m3); m = 2 repeats in one arm (a3, b2); 14 rows, 9 units,
so 14 - 9 = 5 = k + m rows beyond each unit's earliest exposure.

multi_arm = exclude (default): control a1 a2 a3 -> conversion 2/3, revenue 10, 0, 20;
treatment b1 b2 b3 -> conversion 2/3, revenue 30, 0, 40.
multi_arm = first: m1 -> control (03-01), m2 -> treatment (03-01), m3 -> control (03-02
00:00 before 12:00): control a1 a2 a3 m1 m3 -> 3/5, revenue 10 0 20 100 0;
treatment b1 b2 b3 m2 -> 3/4, revenue 30 0 40 50.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps

from shopscope.experiments.analysis import EmptyExperiment, analyze, assignment_report
from shopscope.experiments.registry import ExperimentStore, parse_definition

LOG = [  # user_id, timestamp, group: file order matters
    ("a1", "2024-03-01 00:00:00", "control"),
    ("a2", "2024-03-01 00:00:00", "control"),
    ("a3", "2024-03-04 00:00:00", "control"),
    ("b1", "2024-03-01 00:00:00", "treatment"),
    ("b2", "2024-03-01 00:00:00", "treatment"),
    ("m1", "2024-03-01 00:00:00", "control"),
    ("b3", "2024-03-01 00:00:00", "treatment"),
    ("m1", "2024-03-03 00:00:00", "treatment"),
    ("m2", "2024-03-02 00:00:00", "control"),
    ("a3", "2024-03-02 00:00:00", "control"),
    ("m2", "2024-03-01 00:00:00", "treatment"),
    ("b2", "2024-03-01 00:00:00", "treatment"),
    ("m3", "2024-03-02 12:00:00", "treatment"),
    ("m3", "2024-03-02 00:00:00", "control"),
]
ORDERS = [("o1", "a1", "2024-03-02 10:00:00", 10.0), ("o2", "a3", "2024-03-03 10:00:00", 20.0),
          ("o3", "b1", "2024-03-05 10:00:00", 30.0), ("o4", "b3", "2024-03-06 10:00:00", 40.0),
          ("o5", "m1", "2024-03-02 10:00:00", 100.0), ("o6", "m2", "2024-03-04 10:00:00", 50.0)]
DEFINITION = {"experiment_id": "landing", "variants": ["control", "treatment"],
              "start": "2024-03-01", "end": "2024-03-07",
              "metrics": [{"name": "conversion", "kind": "binary"},
                          {"name": "revenue", "kind": "mean"}]}
K_MULTI, M_REPEATS = 3, 2
HAND = {  # (conversion control, treatment), (revenue values control, treatment)
    "exclude": ((2, 3), (2, 3), [10, 0, 20], [30, 0, 40]),
    "first": ((3, 5), (3, 4), [10, 0, 20, 100, 0], [30, 0, 40, 50]),
}
MAPPING = """version = 1
name = "abtest"
currency = "EUR"

[[source]]
file = "orders.csv"
table = "orders"
[source.columns]
order_id = "order_id"
customer_id = "customer"
ordered_at = "created"
net_amount = "total"
gross_amount = "total"
[source.constants]
status = "completed"
channel = "web"

[[source]]
file = "log.csv"
table = "experiments"
[source.columns]
unit_id = "user_id"
variant = "group"
assigned_at = "timestamp"
[source.constants]
experiment_id = "landing"
"""


def _write_sources(folder: Path) -> Path:
    pd.DataFrame(LOG, columns=["user_id", "timestamp", "group"]).to_csv(
        folder / "log.csv", index=False)
    pd.DataFrame(ORDERS, columns=["order_id", "customer", "created", "total"]).to_csv(
        folder / "orders.csv", index=False)
    (folder / "shop.toml").write_text(MAPPING, encoding="utf-8")
    (folder / "landing.json").write_text(json.dumps(DEFINITION), encoding="utf-8")
    return folder / "shop.toml"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """A workspace filled the way a user fills it: the mapping, with quarantine (the
    default policy refuses the log, see the test below)."""
    from shopscope.ingest.mapping import ingest_mapping
    from shopscope.store import Workspace

    root = tmp_path_factory.mktemp("abtest")
    mapping = _write_sources(root)
    ws = Workspace.create(root / "ws")
    results = ingest_mapping(ws, mapping, policy="quarantine")
    ExperimentStore(ws.path).save(parse_definition(DEFINITION))
    yield ws, results, root
    ws.close()


@pytest.fixture(scope="module")
def raw_store(tmp_path_factory):
    """A store whose experiments table is the raw log itself (an attached warehouse, or a
    table written by hand): the duplicates reach the analysis directly."""
    from shopscope.store import connect

    store = connect(f"duckdb://{tmp_path_factory.mktemp('raw') / 'shop.duckdb'}")
    store.backend.create_table("experiments", pd.DataFrame({
        "experiment_id": "landing", "unit_id": [r[0] for r in LOG],
        "variant": [r[2] for r in LOG], "assigned_at": pd.to_datetime([r[1] for r in LOG])}))
    store.backend.create_table("orders", pd.DataFrame({
        "order_id": [o[0] for o in ORDERS], "customer_id": [o[1] for o in ORDERS],
        "ordered_at": pd.to_datetime([o[2] for o in ORDERS]), "status": "completed",
        "net_amount": [o[3] for o in ORDERS], "gross_amount": [o[3] for o in ORDERS],
        "channel": "web"}))
    yield store
    store.close()


def _check_against_hand(result, policy: str) -> None:
    (xc, nc), (xt, nt), rev_c, rev_t = HAND[policy]
    assert result.counts == {"control": nc, "treatment": nt}
    conv = result.comparison("conversion")
    assert conv.control_value == pytest.approx(xc / nc)
    assert conv.variant_value == pytest.approx(xt / nt)
    rev = result.comparison("revenue")
    assert rev.control_value == pytest.approx(sum(rev_c) / len(rev_c))
    assert rev.variant_value == pytest.approx(sum(rev_t) / len(rev_t))
    welch = sps.ttest_ind(rev_t, rev_c, equal_var=False)  # independent of the code's sums
    assert rev.p_value == pytest.approx(welch.pvalue, rel=1e-9)


@pytest.mark.parametrize("policy", ["exclude", "first"])
def test_a_raw_log_with_repeats_and_units_in_both_arms(raw_store, policy):
    d = parse_definition({**DEFINITION, "multi_arm": policy})
    rep = assignment_report(raw_store, d)
    assert rep["rows"] == len(LOG) == 14 and rep["units"] == 9
    assert rep["multi_arm_units"] == K_MULTI
    assert rep["repeated_rows"] == K_MULTI + M_REPEATS  # one extra row per unit here
    assert rep["excluded_units"] == (K_MULTI if policy == "exclude" else 0)
    assert rep["set_aside_at_ingest"] == 0
    result = analyze(raw_store, d)
    _check_against_hand(result, policy)
    assert result.assignment == rep
    assert any(w.startswith("3 units were logged in more than one arm") for w in result.warnings)
    assert any(w.startswith("5 repeated exposure rows dropped (of 14 logged)")
               for w in result.warnings)


def test_the_default_policy_excludes_units_in_both_arms(raw_store):
    assert parse_definition(DEFINITION).multi_arm == "exclude"
    with pytest.raises(ValueError, match="multi_arm"):
        parse_definition({**DEFINITION, "multi_arm": "last"})


def test_ingest_refuses_the_log_by_default_and_names_the_repeats(tmp_path):
    from shopscope.errors import ValidationFailed
    from shopscope.ingest.mapping import ingest_mapping
    from shopscope.store import Workspace

    mapping = _write_sources(tmp_path)
    ws = Workspace.create(tmp_path / "ws")
    try:
        with pytest.raises(ValidationFailed) as err:
            ingest_mapping(ws, mapping)
        lines = err.value.report.summary_lines()
        assert any("5 row(s): unit assigned more than once" in line for line in lines), lines
        # the rows named are those after each unit's earliest exposure, by time: a3's first
        # row in the file (03-04, file row 3) is the later one
        rows = sorted(p.row for p in err.value.report.problems)
        assert rows == [3, 8, 9, 12, 13]
    finally:
        ws.close()


def test_ingest_keeps_the_earliest_exposure_and_reports_the_counts(ingested):
    ws, results, _ = ingested
    log = next(r for r in results if "log.csv" in r.source)
    assert log.rows_added["experiments"] == 9 and log.rows_rejected["experiments"] == 5
    assert any("landing: 3 unit(s) in more than one arm, 5 repeated row(s)" in n
               for n in log.report.notes), log.report.notes
    stored = ws.store.table("experiments").execute().set_index("unit_id")
    assert str(stored.loc["a3", "assigned_at"]) == "2024-03-02 00:00:00"  # not file order


@pytest.mark.parametrize("policy", ["exclude", "first"])
def test_analyze_after_ingest_sees_every_arm(ingested, policy):
    ws, _, _ = ingested
    d = parse_definition({**DEFINITION, "multi_arm": policy})
    result = analyze(ws.store, d)
    _check_against_hand(result, policy)
    rep = result.assignment
    assert (rep["multi_arm_units"], rep["repeated_rows"], rep["set_aside_at_ingest"]) == (3, 5, 5)
    assert any("5 of them set aside at ingest in _rejects" in w for w in result.warnings)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopscope.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env={"COLUMNS": "80",
                                                                 **_env()})


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}


@pytest.fixture(scope="module")
def cli_ws(tmp_path_factory):
    """The user's path, command by command: init, ingest the log with the mapping (the
    default policy refuses it and says why; quarantine loads it), save the definition."""
    root = tmp_path_factory.mktemp("abtest-cli")
    _write_sources(root)
    assert _cli("init", "ws", cwd=root).returncode == 0
    refused = _cli("ingest", "-w", "ws", "--mapping", "shop.toml", cwd=root)
    assert refused.returncode == 4
    assert "unit assigned more than once" in " ".join(refused.stderr.split())
    loaded = _cli("ingest", "-w", "ws", "--mapping", "shop.toml", "--policy", "quarantine",
                  cwd=root)
    assert loaded.returncode == 0, loaded.stderr
    assert "landing: 3 unit(s) in more than one arm, 5 repeated row(s)" in " ".join(
        loaded.stdout.split())
    assert _cli("experiment", "save", "landing.json", "-w", "ws", cwd=root).returncode == 0
    return root


def test_cli_analyze_warns_and_takes_the_policy(cli_ws):
    proc = _cli("experiment", "analyze", "landing", "-w", "ws", cwd=cli_ws)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "3 units were logged in more than one arm: excluded" in text
    assert "5 repeated exposure rows dropped (of 14 logged, 5 of them set aside at ingest" in text
    assert "66.67%" in text and "+13.33" in text  # conversion 2/3; revenue 70/3 - 10
    csv = _cli("experiment", "analyze", "landing", "-w", "ws", "--multi-arm", "first",
               "--format", "csv", cwd=cli_ws)
    assert csv.returncode == 0, csv.stderr
    rows = pd.read_csv(io.StringIO(csv.stdout)).set_index("metric")
    assert rows.loc["conversion", "control"] == pytest.approx(0.6)  # full precision kept
    assert rows.loc["revenue", "value"] == pytest.approx(30.0)
    assert "kept in the arm of their earliest exposure" in " ".join(csv.stderr.split())
    bad = _cli("experiment", "analyze", "landing", "-w", "ws", "--multi-arm", "last",
               cwd=cli_ws)
    assert bad.returncode == 2 and "exclude or first" in bad.stderr


def test_cli_analyze_of_an_experiment_without_units_fails(cli_ws):
    (cli_ws / "empty.json").write_text(json.dumps({**DEFINITION, "experiment_id": "checkout"}),
                                       encoding="utf-8")
    assert _cli("experiment", "save", "empty.json", "-w", "ws", cwd=cli_ws).returncode == 0
    proc = _cli("experiment", "analyze", "checkout", "-w", "ws", cwd=cli_ws)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = " ".join(proc.stderr.split())
    assert "experiment 'checkout' has no units to analyse" in err
    assert "stored experiment ids: landing" in err
    assert "P(win)" not in proc.stdout


def test_api_and_page(ingested):
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from tests.conftest import api_client

    ws, _, _ = ingested
    users = UserStore(ws.path)
    if "vic" not in {u.username for u in users.list()}:
        users.add("vic", "viewer-pass-123", "viewer", lang="zh")
        users.add("val", "viewer-pass-123", "viewer")
    app = create_app(ws)
    c = api_client(app, "val", "viewer-pass-123")
    body = c.get("/api/experiments/landing/results").json()
    assert body["assignment"]["multi_arm_units"] == 3
    assert body["assignment"]["repeated_rows"] == 5
    assert body["counts"] == {"control": 3, "treatment": 3}
    first = c.get("/api/experiments/landing/results", params={"multi_arm": "first"}).json()
    assert first["counts"] == {"control": 5, "treatment": 4}
    assert any("kept in the arm of their earliest exposure" in w for w in first["warnings"])
    assert c.get("/api/experiments/landing/results",
                 params={"multi_arm": "last"}).status_code == 422
    # an experiment without units: a 4xx with the reason, and the page says it
    ExperimentStore(ws.path).save(parse_definition({**DEFINITION, "experiment_id": "nobody",
                                                    "variants": ["A", "B"]}))
    r = c.get("/api/experiments/nobody/results")
    assert r.status_code == 422
    assert "no units to analyse" in r.json()["error"]["message"]
    assert "stored experiment ids: landing" in r.json()["error"]["message"]
    page = c.get("/experiments/nobody")
    assert page.status_code == 422 and "Nothing to analyse for experiment nobody" in page.text
    html = c.get("/experiments/landing").text
    assert 'data-testid="assignment-multi-arm"' in html
    assert "3 units were logged in more than one arm and are left out" in html
    assert 'href="?multi_arm=first"' in html
    assert ">66.67%<" in html and ">23.3333<" in html  # a rate as a percentage; a mean
    zh = api_client(app, "vic", "viewer-pass-123").get("/experiments/landing?multi_arm=first")
    assert "3 个样本单位被记录在多个实验组中，按最早一次曝光所在的组计入" in zh.text


def test_empty_error_class():
    from shopscope.errors import OptionError

    assert issubclass(EmptyExperiment, OptionError) and EmptyExperiment.exit_code == 2
