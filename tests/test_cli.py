"""The CLI end to end: exit codes, one-line errors, machine formats, the demo and report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shopscope.schema import TABLES
from tests.pagecheck import assert_local_only

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopscope.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    proc = run("demo", "-w", "demo-ws", "--no-serve", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc


def test_demo_loads_prints_summary_and_writes_offline_report(demo_ws):
    cwd, proc = demo_ws
    assert "KPI summary" in proc.stdout and "GMV" in proc.stdout
    report = (cwd / "demo-ws" / "report.html").read_text(encoding="utf-8")
    assert "Plotly" in report
    assert_local_only(report)  # plotly.js inline, nothing from a CDN
    # The data end on 2011-12-09, so December is partial and November is the latest full month.
    assert "Latest full month: November 2011" in report
    # The demo slice's order count, computed independently with pandas from the bundled file.
    raw = pd.read_csv(ROOT / "src/shopscope/samples/online_retail_sample.csv.gz", dtype=str)
    qty = raw.Quantity.astype(int)
    code = raw.StockCode.str.upper()
    merch = ~code.isin(["POST", "DOT", "C2", "D", "M", "S", "B", "BANK CHARGES", "AMAZONFEE",
                        "CRUK"]) & ~code.str.match(r"(?i)^gift_\d+_\d+$")
    sales = merch & ~raw.InvoiceNo.str.startswith("C") & (qty > 0)
    n_orders = raw.loc[sales, "InvoiceNo"].nunique()
    assert f"orders +{n_orders:,}" in proc.stdout.replace("\n", " ")


def test_kpi_machine_formats(demo_ws, tmp_path):
    cwd, _ = demo_ws
    proc = run("kpi", "-w", "demo-ws", "--grain", "year", "--format", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["period"][:4] for r in rows] == ["2010", "2011"]
    csv_proc = run("kpi", "-w", "demo-ws", "--grain", "year", "--format", "csv", cwd=cwd)
    assert csv_proc.stdout.splitlines()[0].startswith("period,gmv,net_sales,orders")
    out = tmp_path / "k.parquet"
    pq = run("kpi", "-w", "demo-ws", "--grain", "month", "--format", "parquet", "--output",
             str(out), cwd=cwd)
    assert pq.returncode == 0, pq.stderr
    assert len(pd.read_parquet(out)) == 13  # Dec 2010 .. Dec 2011


def test_user_errors_are_one_line_with_hint_and_exit_codes(tmp_path):
    proc = run("kpi", "-w", "nowhere", cwd=tmp_path)
    assert proc.returncode == 5
    assert "Traceback" not in proc.stderr
    assert "no workspace at nowhere" in proc.stderr and "hint: create one" in proc.stderr
    assert run("init", "ws", cwd=tmp_path).returncode == 0
    bad = run("ingest", "nosuchpreset", "x.csv", "-w", "ws", cwd=tmp_path)
    assert bad.returncode == 1 and "unknown preset 'nosuchpreset'" in bad.stderr
    usage = run("ingest", "x.csv", "--preset", "online_retail", "-w", "ws", cwd=tmp_path)
    assert usage.returncode == 2 and "No such option: --preset" in usage.stderr
    assert "internal error" not in usage.stderr
    missing = run("ingest", "online_retail", "missing.csv", "-w", "ws", cwd=tmp_path)
    assert missing.returncode == 2 and "missing.csv: no such file" in missing.stderr
    (tmp_path / "bad.csv").write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A,x,zz,2011-01-01 10:00:00,1.0,5,UK\n", encoding="utf-8")
    rejected = run("ingest", "online_retail", "bad.csv", "-w", "ws", cwd=tmp_path)
    assert rejected.returncode == 4
    assert "bad.csv" in rejected.stderr and "'zz'" in rejected.stderr
    assert "Traceback" not in rejected.stderr


def test_data_model_doc_is_current():
    doc = (ROOT / "docs/data-model.md").read_text(encoding="utf-8")
    for spec in TABLES.values():
        assert f"### `{spec.name}`" in doc
        for col in spec.columns:
            assert f"| `{col.name}` | {col.dtype} |" in doc, (spec.name, col.name)


def test_ingest_with_a_mapping_file(tmp_path):
    assert run("init", "ws", cwd=tmp_path).returncode == 0
    mapping = ROOT / "tests/data/mapping/tmall.toml"
    proc = run("ingest", "--mapping", str(mapping), "-w", "ws", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "tmall_orders.csv" in proc.stdout and "orders +" in proc.stdout
    both = run("ingest", "online_retail", "x.csv", "--mapping", str(mapping), "-w", "ws",
               cwd=tmp_path)
    assert both.returncode == 1 and "not both" in both.stderr


def test_user_and_token_commands(tmp_path):
    assert run("init", "ws", cwd=tmp_path).returncode == 0
    proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "user", "add", "boss",
                           "--role", "admin", "-w", "ws"], input="a-long-password\n",
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    short = run("user", "add", "bob", "--password", "short", "-w", "ws", cwd=tmp_path)
    assert short.returncode == 7 and "too short" in short.stderr
    assert "boss\tadmin" in run("user", "list", "-w", "ws", cwd=tmp_path).stdout
    created = run("token", "create", "ci", "--user", "boss", "-w", "ws", cwd=tmp_path)
    assert "ssk_" in created.stdout
    assert run("token", "revoke", "1", "-w", "ws", cwd=tmp_path).returncode == 0
    assert run("token", "revoke", "1", "-w", "ws", cwd=tmp_path).returncode == 1
    from shopscope.auth import UserStore

    assert UserStore(tmp_path / "ws").authenticate("boss", "a-long-password").role == "admin"


CDNOW_ROWS = (" customer_id  date number_of_cds  dollar_value\r\n"
              " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n"
              " 00002 19970212  2   24.00\r\n")


def test_a_load_in_another_currency_warns_and_says_how_to_keep_them_apart(tmp_path):
    cdnow = tmp_path / "cdnow.txt"
    cdnow.write_text(CDNOW_ROWS, encoding="ascii")
    assert run("init", "gbp", "--currency", "GBP", cwd=tmp_path).returncode == 0
    proc = run("ingest", "cdnow", str(cdnow), "-w", "gbp", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # loaded, but not silently
    said = " ".join(proc.stderr.split())
    assert "warning: mixed currencies: cdnow.txt has orders in USD" in said
    assert "the workspace's currency is GBP" in said
    assert "shopscope init shop-usd --currency USD" in said
    # CDNOW in a USD workspace of its own: no warning
    assert run("init", "cdnow", "--currency", "USD", cwd=tmp_path).returncode == 0
    proc = run("ingest", "cdnow", str(cdnow), "-w", "cdnow", cwd=tmp_path)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_currency_warning_names_the_stored_orders_currency(tmp_path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    cdnow = tmp_path / "cdnow.txt"
    cdnow.write_text(CDNOW_ROWS, encoding="ascii")
    # Online Retail's orders in GBP first, then CDNOW's in USD
    ws = Workspace.create(tmp_path / "ws", currency="GBP")
    try:
        first = ingest_file(ws, ROOT / "src/shopscope/samples/online_retail_sample.csv.gz",
                            preset="online_retail")
        assert first.warnings == []
        result = ingest_file(ws, cdnow, preset="cdnow")
        assert len(result.warnings) == 1
        assert "in USD" in result.warnings[0] and "its orders are in GBP" in result.warnings[0]
        assert ws.store.row_count("orders") > 3  # the load itself went through
    finally:
        ws.close()


def test_quarantine_of_the_shipped_bad_file_reports_every_bad_line(tmp_path):
    # examples/bad_online_retail.csv (the README tour's): 6 lines, of which one has a
    # quantity "six", one the date 2011-12-32 and one no unit price; a missing price used
    # to reach the store and stop the load with a NOT NULL constraint error (exit 70)
    assert run("init", "ws", cwd=tmp_path).returncode == 0
    proc = run("ingest", "online_retail", str(ROOT / "examples/bad_online_retail.csv"),
               "-w", "ws", "--policy", "quarantine", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "quarantined 3 row(s) to _rejects" in said
    assert "order_items.UnitPrice: 1 row(s): missing value" in said
    assert "order_items +3" in said  # the three good lines


def test_help_keeps_line_breaks_and_shows_brackets():
    """Command help goes through Rich markup: brackets are escaped, line breaks stay."""
    import typer

    from shopscope.cli import _escape_help, _register_subcommands, app

    _register_subcommands()
    command = typer.main.get_command(app)
    _escape_help(command)
    rules = command.commands["products"].commands["rules"]
    assert "\n" in rules.help and "\\x0a" not in rules.help
    sub = typer.Typer()

    @sub.command()
    def one(metric: str = typer.Option("gmv", help="a [metric] name")) -> None:
        """Line one
        line two."""

    cmd = typer.main.get_command(sub)
    _escape_help(cmd)
    assert cmd.params[0].help == "a \\[metric] name"
    assert cmd.help.splitlines()[0] == "Line one"


def test_groups_of_one_name_merge_into_one_group():
    # an area's commands in two modules (adapters never import each other) show as one group
    import typer
    from typer.testing import CliRunner

    from shopscope.cli import merge_groups

    a, b = typer.Typer(help="first"), typer.Typer(help="second")
    a.command("one")(lambda: typer.echo("1"))
    b.command("two")(lambda: typer.echo("2"))
    root = typer.Typer()
    root.command("noop")(lambda: None)
    root.add_typer(merge_groups([a, b]), name="g")
    runner = CliRunner()
    assert runner.invoke(root, ["g", "one"]).output.strip() == "1"
    assert runner.invoke(root, ["g", "two"]).output.strip() == "2"
    assert merge_groups([a]) is a
