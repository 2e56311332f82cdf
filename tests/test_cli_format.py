"""Readable CLI output (issue 13, point 8): markup escaped, tables that fit 80 columns with
every number whole, units (%, pp, days), partial periods, exports without float noise,
refused inverted ranges, the serve lock message, the report's language and the license."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from rich.cells import cell_len

from shopscope.core.metrics import metric_change
from shopscope.core.periods import DateRange, is_partial
from shopscope.ui.clifmt import export_frame, fmt_days, fmt_duration, plural

ROOT = Path(__file__).resolve().parents[1]
DEMO_CSV = ROOT / "src/shopscope/samples/online_retail_sample.csv.gz"


def run(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(ROOT / "src")}
    env.pop("SHOPSCOPE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "shopscope.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("fmt")
    proc = run("demo", "-w", "ws", "--no-serve", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd


def _monthly_gmv() -> pd.Series:
    """GMV per month from the bundled file with pandas (merchandise sale lines)."""
    raw = pd.read_csv(DEMO_CSV, dtype=str)
    qty, price = raw.Quantity.astype(int), raw.UnitPrice.astype(float)
    code = raw.StockCode.str.upper()
    merch = ~code.isin(["POST", "DOT", "C2", "D", "M", "S", "B", "BANK CHARGES", "AMAZONFEE",
                        "CRUK"]) & ~code.str.match(r"(?i)^gift_\d+_\d+$")
    sales = merch & ~raw.InvoiceNo.str.startswith("C") & (qty > 0)
    month = pd.to_datetime(raw.InvoiceDate)[sales].dt.strftime("%Y-%m")
    return (qty * price)[sales].groupby(month).sum().round(2)


def _assert_fits(text: str, width: int = 80) -> None:
    assert "…" not in text, text
    for line in text.splitlines():
        assert cell_len(line) <= width, line


# -- markup ----------------------------------------------------------------------------
def test_hint_with_brackets_prints_them(tmp_path):
    assert run("init", "ws", cwd=tmp_path).returncode == 0
    (tmp_path / "o.csv").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "m.toml").write_text(
        '[[source]]\nfile = "o.csv"\ntable = "orders"\n[source.columns]\norder_id = "id"\n',
        encoding="utf-8")
    proc = run("ingest", "--mapping", "m.toml", "-w", "ws", cwd=tmp_path, columns=200)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "[source.columns]" in proc.stderr and "[source.constants]" in proc.stderr
    (tmp_path / "s.csv").write_text("variant,conversions\nA,1\n", encoding="utf-8")
    summary = run("experiment", "summary", "s.csv", cwd=tmp_path, columns=200)
    assert "columns: variant, [metric], n, conversions" in summary.stderr


def test_help_with_brackets_prints_them(tmp_path):
    proc = run("experiment", "summary", "--help", cwd=tmp_path, columns=200)
    assert proc.returncode == 0
    assert "CSV: variant, [metric], n, conversions" in proc.stdout


# -- tables at 80 columns ------------------------------------------------------------------
def test_kpi_table_fits_80_columns_with_every_amount_whole(demo):
    proc = run("kpi", "-w", "ws", cwd=demo)
    assert proc.returncode == 0, proc.stderr
    _assert_fits(proc.stdout)
    lines = proc.stdout.splitlines()
    for month, gmv in _monthly_gmv().items():
        rows = [line for line in lines if line.startswith(f"│ {month}")]
        assert rows, month
        cells = [c.strip() for r in rows for c in r.split("│")]
        # GMV parses back to the independent sum, to the penny.
        assert any(re.fullmatch(r"[\d,]+\.\d\d", c) and float(c.replace(",", "")) == gmv
                   for c in cells), (month, gmv, rows)
    # The data end on 2011-12-09: December is marked partial, November is not.
    assert any(line.startswith("│ 2011-12 (partial)") for line in lines)
    assert not any("2011-11 (partial)" in line for line in lines)
    assert "%" in proc.stdout and "0.32 " not in proc.stdout  # rates as percentages


@pytest.mark.parametrize("args", [
    ("kpi", "--grain", "year", "--by", "country"),
    ("kpi", "--grain", "quarter", "--changes"),
    ("customers", "rfm"),
    ("customers", "lifecycle"),
    ("behaviour", "retention", "--source", "orders", "--grain", "month", "--periods", "12"),
])
def test_tables_fit_80_columns(demo, args):
    proc = run(*args, "-w", "ws", cwd=demo)
    assert proc.returncode == 0, proc.stderr
    _assert_fits(proc.stdout)
    if "country" in args:
        assert any("United Kingdom" in line for line in proc.stdout.splitlines())
    if "lifecycle" in args:
        assert re.search(r"new ≤ \d+ days", proc.stdout.replace("\n", " "))
    if "retention" in args:  # shares of the cohort, as percentages; cohort 0 is everyone
        assert proc.stdout.count("100.0%") == 13


def test_kpi_changes_of_rates_in_points(demo):
    data = json.loads(run("kpi", "-w", "ws", "--grain", "quarter", "--changes", "--format",
                          "json", cwd=demo).stdout)
    row = next(r for r in data if r["metric"] == "cancellation_rate"
               and r["period"].startswith("2011-10"))
    points = (row["value"] - row["previous"]) * 100
    table = run("kpi", "-w", "ws", "--grain", "quarter", "--changes", cwd=demo, columns=160)
    line = next(x for x in table.stdout.splitlines()
                if x.startswith("│ 2011-Q4") and "Cancellation rate" in x)
    assert f"{'▲' if points > 0 else '▼'}{abs(points):.1f} pp" in line
    gmv = next(x for x in table.stdout.splitlines()
               if x.startswith("│ 2011-Q4") and "│ GMV" in x)
    assert re.search(r"▲\d+\.\d%", gmv) and "pp" not in gmv


# -- exports ------------------------------------------------------------------------------
def test_exports_write_counts_as_integers_without_float_noise(demo, tmp_path):
    text = run("kpi", "-w", "ws", "--format", "csv", cwd=demo).stdout
    frame = pd.read_csv(pd.io.common.StringIO(text), dtype=str)
    assert frame.columns[[0, -1]].tolist() == ["period", "partial"]
    assert frame.partial.tolist() == ["False"] * 12 + ["True"]
    assert all(re.fullmatch(r"\d+", v) for v in frame.orders)  # 297, not 297.0
    assert all(re.fullmatch(r"-?\d+(\.\d{1,2})?", v) for v in frame.net_sales)
    gmv = dict(zip(pd.to_datetime(frame.period).dt.strftime("%Y-%m"), frame.gmv.astype(float),
                   strict=True))
    assert gmv == _monthly_gmv().to_dict()
    rows = json.loads(run("kpi", "-w", "ws", "--grain", "year", "--format", "json",
                          cwd=demo).stdout)
    assert isinstance(rows[0]["orders"], int) and rows[1]["partial"] is True
    out = tmp_path / "k.parquet"
    assert run("kpi", "-w", "ws", "--format", "parquet", "--output", str(out),
               cwd=demo).returncode == 0
    parquet = pd.read_parquet(out)
    assert str(parquet.orders.dtype) == "Int64" and parquet.partial.dtype == bool


def test_export_frame_rounds_only_noise():
    frame = pd.DataFrame({"gmv": [782.8500000000001], "orders": [1622.0],
                          "aov": [2 / 3], "repurchase_rate": [0.1 + 0.2]})
    out = export_frame(frame, currency="JPY")
    assert out.to_csv(index=False).splitlines()[1] == "783.0,1622,0.666666666667,0.3"


# -- units, plurals, partial periods, changes -----------------------------------------------
def test_plurals_and_durations():
    assert [plural(1, "day"), plural(2, "day"), fmt_days(1.0), fmt_days(0.5)] == [
        "1 day", "2 days", "1 day", "0.5 days"]
    assert [fmt_duration(5 * 3600), fmt_duration(90), fmt_duration(3.2 * 86400)] == [
        "5 h", "1.5 min", "3.2 days"]


def test_partial_periods_on_the_demo_dates():
    last = dt.datetime(2011, 12, 9, 12, 50)
    assert is_partial(dt.date(2011, 12, 1), "month", last)
    assert not is_partial(dt.date(2011, 11, 1), "month", last)
    assert is_partial(dt.date(2011, 10, 1), "quarter", last)
    assert is_partial(dt.date(2011, 1, 1), "year", last)
    assert not is_partial(dt.date(2011, 12, 9), "day", last)
    assert is_partial(dt.date(2011, 12, 5), "week", last)  # Monday 5th to Sunday 11th
    # The range's exclusive end and its start cut periods too.
    june = dt.date(2011, 6, 1)
    assert is_partial(june, "month", last, DateRange(None, dt.date(2011, 6, 29)))
    assert not is_partial(june, "month", last, DateRange(None, dt.date(2011, 6, 30)))
    assert is_partial(june, "month", last, DateRange(dt.date(2011, 6, 2), None))


def test_one_rule_for_changes():
    assert metric_change("cancellation_rate", 0.0012, 0.0000119).unit == "pp"
    moved = metric_change("cancellation_rate", 0.032, 0.020)
    assert round(moved.value, 9) == 1.2 and moved.text() == "▲1.2 pp"
    assert metric_change("gmv", 90.0, 100.0).text() == "▼10.0%"
    assert metric_change("aov", 110.0, 100.0).unit == "relative"
    assert metric_change("orders", 3.0, 0.0) is None


def test_dashboard_cards_use_the_same_rule():
    from shopscope.kpis.pages import _change
    from shopscope.ui.i18n import Translator

    card = _change(Translator("en"), "cancellation_rate", 0.032, 0.020, "vs", "GBP")
    assert card["text"] == "1.2 pp" and card["arrow"] == "▲" and card["cls"] == "bad"
    card = _change(Translator("en"), "gmv", 110.0, 100.0, "vs", "GBP")
    assert card["text"] == "10.0%" and card["cls"] == "good"


# -- ranges -----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("kpi", "--start", "2011-06-01", "--end", "2011-01-01"),
    ("report", "--start", "2011-06-01", "--end", "2011-01-01"),
    ("behaviour", "retention", "--start", "2011-06-01", "--end", "2011-01-01"),
    ("behaviour", "paths", "--start-date", "2011-06-01", "--end-date", "2011-01-01"),
    ("customers", "clv", "--calibration-end", "2011-06-01", "--holdout-end", "2011-01-01"),
])
def test_inverted_range_is_refused(tmp_path, args):
    # No workspace is needed: the range is checked before anything is opened.
    proc = run(*args, "-w", "nowhere", cwd=tmp_path, columns=200)
    assert proc.returncode == 2, proc.stderr
    assert "comes after" in proc.stderr and "Traceback" not in proc.stderr
    assert "e.g." in proc.stderr and "2011-01-01" in proc.stderr


# -- the report -------------------------------------------------------------------------------
def test_report_in_chinese_and_changes_in_points(demo):
    assert run("report", "-w", "ws", "--lang", "zh", "--output", "zh.html",
               cwd=demo).returncode == 0
    page = (demo / "zh.html").read_text(encoding="utf-8")
    body = page.split("</script>", 1)[1]  # after the embedded plotly.js
    assert "最近完整月份：2011年11月" in body
    assert "2011年12月数据不完整：数据截至2011年12月9日" in body
    assert 'name: "zh-CN"' in page and '"locale": "zh-CN"' in page  # month ticks in Chinese
    assert re.search(r"[▲▼＝][\d.]* ?p?p? ?环比上月", body)
    rate_cards = re.findall(r'复购率</div><div class="val">[^<]*</div><div class="chg \w+">'
                            r"([^<]*)</div>", body)
    assert rate_cards and rate_cards[0].endswith("pp 环比上月")
    en = run("report", "-w", "ws", "--output", "en.html", cwd=demo)
    assert en.returncode == 0
    body = (demo / "en.html").read_text(encoding="utf-8").split("</script>", 1)[1]
    # A London shop: British dates.
    assert "Latest full month: November 2011" in body and "data end on 9 Dec 2011" in body


# -- the workspace held by serve -------------------------------------------------------------
HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


def test_workspace_held_by_another_process_or_serve(demo):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(demo / "ws" / "shop.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    marker = demo / "ws" / "serve.json"
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = run("kpi", "-w", "ws", cwd=demo, columns=200)
        assert proc.returncode == 75 and "Traceback" not in proc.stderr
        assert f"in use by another process (pid {holder.pid})" in proc.stderr
        marker.write_text(json.dumps({"pid": holder.pid, "url": "http://127.0.0.1:8765/"}),
                          encoding="utf-8")
        proc = run("kpi", "-w", "ws", cwd=demo, columns=200)
        assert proc.returncode == 75
        assert f"held by a running `shopscope serve` (pid {holder.pid})" in proc.stderr
        assert "Ctrl-C" in proc.stderr and "http://127.0.0.1:8765/api/kpis" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
        marker.unlink(missing_ok=True)


# -- packaging ------------------------------------------------------------------------------
def test_license_is_an_spdx_string():
    """setuptools deprecates ``license = {text = ...}`` (PEP 639); the string form needs
    setuptools >= 77. Checked by hand: ``pip wheel --no-deps -w /tmp/w .`` prints no
    deprecation (building here would need the network for the build dependencies)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    requires = project["build-system"]["requires"]
    bound = next(r for r in requires if r.startswith("setuptools"))
    assert tuple(int(x) for x in re.search(r">=([\d.]+)", bound).group(1).split(".")) >= (77,)


def test_print_table_splits_instead_of_cutting_numbers():
    from rich.console import Console

    from shopscope.ui.clifmt import print_table

    big = [f"{1234567.891 * (i + 1):,.2f}" for i in range(3)]
    cells = pd.DataFrame({"country": ["United Kingdom", "Channel Islands", "EIRE"],
                          **{f"amount {k}": big for k in range(8)}})
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    print_table(cells, console, title="t", numeric=[c for c in cells if c != "country"],
                keys=["country"])
    text = console.export_text()
    _assert_fits(text)
    assert text.count("United Kingdom") >= 2  # the label column is repeated in each part
    for value in big:  # every amount, whole, eight times
        assert len(re.findall(rf"(?<![\d,.]){re.escape(value)}(?![\d,.])", text)) == 8
