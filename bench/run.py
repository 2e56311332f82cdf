"""Benchmark harness: shopscope side by side with the tools a user would otherwise use.

    .venv/bin/python bench/run.py                      # everything, 3 runs, ~105M events
    .venv/bin/python bench/run.py --quick              # smoke test: 5M events, 1 run
    .venv/bin/python bench/run.py --only retail_ingest,retail_kpi --runs 5
    .venv/bin/python bench/run.py --events 20000000    # a smaller synthetic shop

Every run of every case is a fresh subprocess (``bench/cases.py``), so the peak memory
reported (the child's ``ru_maxrss`` from ``os.wait4``) is that case's own. Runs of the peers
of one benchmark are interleaved (A B C, A B C, …) so that a change of machine load hits
them alike; the medians and their ratios come from the same session. Before each run the
harness waits (up to ``--max-wait`` s) until other processes use less than
``--quiet-cores`` CPU cores, and it records how much CPU other processes used during the
run. Results go to ``bench/RESULTS.md`` (between ``<!-- bench:... -->`` markers, so text
outside them is kept) and raw numbers to ``bench/out/results-<time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
RETAIL_CSV = Path("/work/shared/data/online_retail/online_retail.csv.gz")
DEFAULT_CUSTOMERS = 300_000  # generate(customers=300_000, seed=0) gives ≈105M events
GiB = 2**30


@dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    cases: tuple[str, ...]
    subject: str  # the shopscope case the ratios are taken against
    labels: dict[str, str]
    extra: tuple[str, ...] = ()  # diagnostic cases, run only with --diagnose
    check: str | None = None  # how to compare the peers' outputs


BENCHMARKS = {
    b.key: b
    for b in (
        Benchmark(
            "retail_ingest",
            "1. Ingest of the raw Online Retail file (541,909 lines, gzip CSV)",
            ("retail_ingest_shopscope", "retail_ingest_duckdb", "retail_ingest_pandas"),
            "retail_ingest_shopscope",
            {
                "retail_ingest_shopscope":
                    "shopscope `ingest_file(fresh workspace, preset=\"online_retail\")`: "
                    "parse, validate, derive 5 tables, commit",
                "retail_ingest_duckdb":
                    "DuckDB alone: `CREATE TABLE t AS SELECT * FROM read_csv(path)` "
                    "(file DB, no cleaning)",
                "retail_ingest_pandas":
                    "pandas analyst script: read_csv, parse dates, coerce numbers, flag "
                    "cancellations/returns/non-merchandise, build 5 tables, write Parquet",
            },
            check="rows",
        ),
        Benchmark(
            "retail_kpi",
            "2. Monthly KPI table on Online Retail",
            ("retail_kpi_shopscope", "retail_kpi_pandas", "retail_kpi_pandas_tables"),
            "retail_kpi_shopscope",
            {
                "retail_kpi_shopscope":
                    "shopscope `kpis(store, grain=\"month\")` on the ingested workspace "
                    "(all 20 metrics + 环比/同比)",
                "retail_kpi_pandas":
                    "pandas from the raw lines in memory (flags, orders, credits, 8 metrics)",
                "retail_kpi_pandas_tables":
                    "pandas from orders + returns frames in memory (8 metrics)",
            },
            check="monthly",
        ),
        Benchmark(
            "retail_rules",
            "2b. Frequently bought together: pair rules on Online Retail (1% support)",
            ("retail_rules_shopscope", "retail_rules_mlxtend"),
            "retail_rules_shopscope",
            {
                "retail_rules_shopscope":
                    "shopscope `products.baskets.rules(max_len=2)`: Apriori counting as "
                    "engine self-joins on the workspace",
                "retail_rules_mlxtend":
                    "mlxtend TransactionEncoder + fpgrowth + association_rules on the same "
                    "baskets in memory",
            },
            check="same",
        ),
        Benchmark(
            "events_ingest",
            "3. Ingest of the synthetic event table from Parquet",
            ("events_ingest_shopscope", "events_ingest_duckdb"),
            "events_ingest_shopscope",
            {
                "events_ingest_shopscope":
                    "shopscope `ingest_file(fresh workspace, folder with events.parquet, "
                    "preset=\"canonical\")`: validate + load + commit",
                "events_ingest_duckdb":
                    "DuckDB alone: `CREATE TABLE events AS SELECT * FROM read_parquet(…)`",
            },
            check="rows",
        ),
        Benchmark(
            "events_daily",
            "4. Daily PV / UV / purchasing visitors over the stored events",
            ("events_daily_shopscope", "events_daily_duckdb", "events_daily_polars",
             "events_daily_polars_inmemory", "events_daily_pandas"),
            "events_daily_shopscope",
            {
                "events_daily_shopscope":
                    "shopscope `kpi_expr(store, grain=\"day\").execute()` on the workspace "
                    "of (3)",
                "events_daily_shopscope_events_only":
                    "(diagnosis) only the events part of `kpi_expr` (`_events_part`)",
                "events_daily_duckdb":
                    "hand-written DuckDB SQL on the same stored table",
                "events_daily_polars":
                    "Polars `scan_parquet(…).group_by(…).agg(…).collect()` (default engine "
                    "= streaming)",
                "events_daily_polars_inmemory":
                    "Polars lazy, `collect(engine=\"in-memory\")`",
                "events_daily_pandas":
                    "pandas `read_parquet(columns=[4])` + groupby (address space capped)",
            },
            extra=("events_daily_shopscope_events_only",),
            check="daily",
        ),
        # Behaviour analytics (issue 5); the cases are in bench/behaviour_cases.py, whose
        # docstring defines exactly what every peer computes.
        Benchmark(
            "funnel_user",
            "5. Funnel view → add_to_cart → purchase, 24 h window, user mode",
            ("funnel_user_shopscope", "funnel_user_duckdb", "funnel_user_polars",
             "funnel_user_pandas"),
            "funnel_user_shopscope",
            {
                "funnel_user_shopscope":
                    "shopscope `funnel(store, [view, add_to_cart, purchase], window=\"24h\", "
                    "mode=\"user\")`",
                "funnel_user_duckdb":
                    "hand-written DuckDB SQL: latest view ≤ 24 h before each cart by an "
                    "equi-join on (visitor, day), then ASOF join to the next purchase",
                "funnel_user_polars":
                    "Polars lazy: sort by visitor/time, backward fills `.over(visitor)` "
                    "(default engine)",
                "funnel_user_polars_inmemory": "the same, `collect(engine=\"in-memory\")`",
                "funnel_user_pandas":
                    "pandas: read_parquet (3 types), factorize visitors, sort, backward "
                    "fills, groupby max (address space capped)",
                "funnel_user_duckdb_window2":
                    "(alternative SQL) two window passes of running minima",
                "funnel_user_duckdb_window_join":
                    "(alternative SQL) one window pass + equi-join to the cart's next purchase",
                "funnel_user_duckdb_asof": "(alternative SQL) two ASOF joins",
                "funnel_user_duckdb_dp":
                    "(diagnosis) shopscope's algorithm hand-written: two running-max window "
                    "passes over all rows",
                "funnel_user_duckdb_dp_filtered":
                    "(diagnosis) the same, second pass over carts and purchases only",
            },
            extra=("funnel_user_polars_inmemory", "funnel_user_duckdb_window2",
                   "funnel_user_duckdb_window_join", "funnel_user_duckdb_asof",
                   "funnel_user_duckdb_dp", "funnel_user_duckdb_dp_filtered"),
            check="same",
        ),
        Benchmark(
            "funnel_order",
            "6. Funnel view → add_to_cart → purchase, 24 h window, order mode",
            ("funnel_order_shopscope", "funnel_order_duckdb", "funnel_order_polars",
             "funnel_order_pandas"),
            "funnel_order_shopscope",
            {
                "funnel_order_shopscope":
                    "shopscope `funnel(…, window=\"24h\", mode=\"order\")`",
                "funnel_order_duckdb":
                    "hand-written DuckDB SQL: as user mode, segment = closing purchase (ASOF), "
                    "segments with a view by a join of views to purchase intervals",
                "funnel_order_polars":
                    "Polars lazy: one sort, backward fills, unit = (visitor, next purchase)",
                "funnel_order_polars_inmemory": "the same, `collect(engine=\"in-memory\")`",
                "funnel_order_pandas": "pandas: as in user mode, unit = (visitor, next purchase)",
                "funnel_order_duckdb_window":
                    "(alternative SQL) one window pass, unit = (visitor, next purchase)",
            },
            extra=("funnel_order_polars_inmemory", "funnel_order_duckdb_window"),
            check="same",
        ),
        Benchmark(
            "retention",
            "7. 30-day retention matrix, day grain, exact",
            ("retention_shopscope", "retention_duckdb", "retention_polars",
             "retention_pandas"),
            "retention_shopscope",
            {
                "retention_shopscope":
                    "shopscope `retention(store, grain=\"day\", periods=30, mode=\"exact\")`",
                "retention_duckdb":
                    "hand-written DuckDB SQL: distinct (visitor, day), first day by GROUP BY, "
                    "join back, count per (cohort, N)",
                "retention_duckdb_window":
                    "(alternative SQL) first day by a window min over the distinct pairs",
                "retention_polars": "Polars lazy: unique pairs, group_by min, join, group_by",
                "retention_pandas":
                    "pandas: drop_duplicates, groupby transform min, groupby size",
            },
            extra=("retention_duckdb_window",),
            check="same",
        ),
        Benchmark(
            "paths",
            "8. Top-20 paths of 5 events from the first view of each session",
            ("paths_shopscope", "paths_duckdb", "paths_polars", "paths_pandas"),
            "paths_shopscope",
            {
                "paths_shopscope":
                    "shopscope `paths(store, start=\"view\", length=5, top=20, "
                    "collapse_repeats=False)`",
                "paths_duckdb":
                    "hand-written DuckDB SQL: lead() ×4 and a running view count over "
                    "(visitor, session_id) ordered by time, type, product, category",
                "paths_polars": "Polars lazy: sort, shift(-k).over(session), cum_sum",
                "paths_pandas": "pandas: sort, positional next rows, value_counts",
            },
            check="same",
        ),
        Benchmark(
            "paths_every",
            "9. (reference) Top-20 paths of 5 events from every view, sessions = session_id",
            ("paths_every_duckdb", "paths_every_polars"),
            "paths_every_duckdb",
            {
                "paths_every_duckdb": "hand-written DuckDB SQL: lead() ×4 over session_id",
                "paths_every_polars": "Polars lazy: sort, shift(-k).over(session_id)",
            },
            check="same",
        ),
        Benchmark(
            "funnel12",
            "10. 12-step funnel (view, add_to_cart, checkout, purchase ×3), 24 h, user mode",
            ("funnel12_shopscope",),
            "funnel12_shopscope",
            {"funnel12_shopscope": "shopscope `funnel(store, 12 steps, window=\"24h\")`"},
        ),
        Benchmark(
            "funnel_spark",
            "11. Funnel (as 5) with Spark local[2] — run on the 5M-event shop",
            ("funnel_user_shopscope", "funnel_user_duckdb", "funnel_user_polars",
             "funnel_user_pandas", "funnel_user_spark"),
            "funnel_user_shopscope",
            {
                "funnel_user_shopscope": "shopscope `funnel(…, mode=\"user\")`",
                "funnel_user_duckdb": "hand-written DuckDB SQL (as in 5)",
                "funnel_user_polars": "Polars lazy (as in 5)",
                "funnel_user_pandas": "pandas (as in 5)",
                "funnel_user_spark":
                    "Spark SQL over the Parquet file, local[2], 8 GB driver: two window "
                    "passes of running minima (the JVM is waited for, so its CPU and peak "
                    "RSS count as the case's own)",
            },
            check="same",
        ),
    )
}

#: Benchmarks over the synthetic event table (they need the shop and its workspace).
EVENT_BENCHMARKS = {"events_ingest", "events_daily", "funnel_user", "funnel_order",
                    "retention", "paths", "paths_every", "funnel12", "funnel_spark"}
#: Cases that read the prepared DuckDB workspace (the others read events.parquet).
_STORE_CASES = ("events_daily_shopscope", "events_daily_duckdb", "funnel_user_shopscope",
                "funnel_order_shopscope", "funnel12_shopscope", "retention_shopscope",
                "paths_shopscope", "funnel_user_duckdb", "funnel_order_duckdb",
                "retention_duckdb", "paths_duckdb", "paths_every_duckdb")


def _runs_of(case: str, args: argparse.Namespace) -> int:
    heavy = case.endswith(("_pandas", "_spark")) and not case.startswith(("retail", "events"))
    return min(args.runs, args.heavy_runs) if heavy and args.heavy_runs else args.runs


def _pandas_capped(case: str) -> bool:
    """The pandas peers over the event table run under an address-space cap."""
    return case.endswith("_pandas") and not case.startswith("retail")


# --------------------------------------------------------------------------------------
# Running one case
# --------------------------------------------------------------------------------------
@dataclass
class Run:
    case: str
    run: int
    ok: bool
    seconds: float | None
    peak_rss_mb: float
    returncode: int
    wall: float
    external_cores: float
    load_before: float
    waited: float
    data: dict = field(default_factory=dict)
    error: str = ""


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def wait_for_quiet(args: argparse.Namespace, log) -> float:
    """Wait until other processes use < ``--quiet-cores`` cores (we are idle meanwhile).

    First let the machine settle for up to ``--settle`` s (until < 0.1 cores): after a
    peer that used most of the RAM exits, the kernel spends a while reclaiming it.
    """
    start = time.monotonic()
    while time.monotonic() - start < args.settle:
        if psutil.cpu_percent(interval=1.0) / 100 * psutil.cpu_count() < 0.1:
            break
    while True:
        busy = psutil.cpu_percent(interval=2.0) / 100 * psutil.cpu_count()
        waited = time.monotonic() - start
        if busy < args.quiet_cores or waited >= args.max_wait:
            if waited >= args.max_wait and busy >= args.quiet_cores:
                log(f"    machine still busy ({busy:.2f} cores) after {waited:.0f}s; "
                    "running anyway")
            return waited
        log(f"    waiting: other processes use {busy:.2f} cores")
        time.sleep(5)


def inputs(case: str, params: dict) -> list[Path]:
    """The files a case reads, to be put in the page cache before it runs."""
    if case.startswith(("retail_kpi_shopscope", "retail_rules")):
        return [Path(params["retail_ws"]) / "shop.duckdb"]
    if case.startswith("retail"):
        return [Path(params["retail_csv"])]
    if case.startswith(_STORE_CASES):
        return [Path(params["events_ws"]) / "shop.duckdb"]
    return [Path(params["events_parquet"])]


def prewarm(paths: list[Path]) -> None:
    """Read files once so that every run starts with them in the OS page cache (a peer
    that used most of the RAM may have evicted them)."""
    for path in paths:
        if path.exists():
            with open(path, "rb", buffering=0) as fh:
                while fh.read(16 << 20):
                    pass


def run_case(case: str, run: int, params: dict, args: argparse.Namespace, log) -> Run:
    prewarm(inputs(case, params))
    waited = wait_for_quiet(args, log)
    load_before = os.getloadavg()[0]
    logdir = Path(args.out) / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    out_path = logdir / f"{case}-{run}.out"
    busy0, t0 = _busy_seconds(), time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            [PYTHON, str(HERE / "cases.py"), case, json.dumps(params)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
        deadline = time.monotonic() + args.timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    busy = _busy_seconds() - busy0
    child_cpu = usage.ru_utime + usage.ru_stime
    external = max(0.0, (busy - child_cpu) / wall) if wall > 0 else 0.0
    text = out_path.read_text(errors="replace")
    data: dict = {}
    for line in text.splitlines():
        if line.startswith("BENCH_RESULT "):
            data = json.loads(line.removeprefix("BENCH_RESULT "))
    ok = proc.returncode == 0 and "seconds" in data
    error = ""
    if not ok:
        tail = [ln for ln in text.strip().splitlines() if ln.strip()][-3:]
        error = (f"exit {proc.returncode}" + (" (timeout)" if wall >= args.timeout else "")
                 + (": " + " | ".join(tail) if tail else ""))
    return Run(case, run, ok, data.get("seconds"), usage.ru_maxrss / 1024, proc.returncode,
               wall, external, load_before, waited, data, error)


# --------------------------------------------------------------------------------------
# Data preparation (untimed)
# --------------------------------------------------------------------------------------
def synth_dir(args: argparse.Namespace) -> Path:
    tag = f"c{args.customers}-s0" + (f"-e{args.events}" if args.events else "")
    return Path(args.out) / "synth" / tag


def ensure_synth(args: argparse.Namespace, log) -> Path:
    folder = synth_dir(args)
    if (folder / "events.parquet").exists():
        log(f"reusing synthetic shop {folder}")
        return folder
    log(f"generating synthetic shop in {folder} (customers={args.customers}, "
        f"n_events={args.events}) …")
    code = (
        "import sys, time; from shopscope.synth import generate; t = time.perf_counter(); "
        f"r = generate({str(folder)!r}, customers={args.customers}, seed=0, "
        f"n_events={args.events!r}); "
        "print(f'{time.perf_counter() - t:.1f}s', dict(r.rows))"
    )
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"synth failed:\n{out.stderr}")
    log(f"  generated: {out.stdout.strip()}")
    return folder


def ingest_workspace(kind: str, dest: Path, source: Path, log) -> None:
    """Build a prepared workspace (untimed) for the query benchmarks."""
    log(f"preparing {dest} (untimed ingestion) …")
    if dest.exists():
        shutil.rmtree(dest)
    if kind == "retail":
        target, preset = str(source), "online_retail"
    else:
        src = dest.parent / (dest.name + "-src")
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        (src / "events.parquet").symlink_to(source.resolve())
        target, preset = str(src), "canonical"
    code = (
        "from shopscope.store import Workspace; from shopscope.ingest import ingest_file; "
        f"ws = Workspace.create({str(dest)!r}); "
        f"r = ingest_file(ws, {target!r}, preset={preset!r}); ws.close(); print(r.rows_added)"
    )
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"preparing {dest} failed:\n{out.stderr}")
    log(f"  loaded {out.stdout.strip()}")


# --------------------------------------------------------------------------------------
# Checks: do the peers compute the same thing?
# --------------------------------------------------------------------------------------
def _read_checks(paths: dict[str, Path]):
    import pandas as pd

    return {case: pd.read_parquet(p) for case, p in paths.items() if p.exists()}


def check_monthly(paths: dict[str, Path], subject: str) -> list[str]:
    import numpy as np

    frames = _read_checks(paths)
    if subject not in frames:
        return ["FAIL: shopscope wrote no monthly table"]
    ref = frames.pop(subject).set_index("period").sort_index()
    lines = []
    for case, other in frames.items():
        other = other.set_index("period").sort_index()
        problems = []
        if list(ref.index) != list(other.index):
            problems.append(f"months differ ({len(ref)} vs {len(other)})")
        else:
            for col in ref.columns:
                a, b = ref[col].to_numpy(float), other[col].to_numpy(float)
                exact = col in ("orders", "buyers", "new_buyers")
                same = np.array_equal(a, b) if exact else np.allclose(a, b, rtol=1e-9,
                                                                     atol=1e-9, equal_nan=True)
                if not same:
                    worst = int(np.nanargmax(np.abs(a - b)))
                    problems.append(f"{col} differs (e.g. {ref.index[worst]:%Y-%m}: "
                                    f"{a[worst]!r} vs {b[worst]!r})")
        verdict = "PASS" if not problems else "FAIL: " + "; ".join(problems)
        lines.append(f"{case} vs {subject}: {len(ref)} months, "
                     f"{', '.join(ref.columns)} — {verdict}")
    return lines


def check_daily(paths: dict[str, Path], subject: str) -> list[str]:
    frames = _read_checks(paths)
    if subject not in frames:
        return ["FAIL: shopscope wrote no daily table"]
    ref = frames.pop(subject)
    lines = []
    for case, other in frames.items():
        same = ref.equals(other)
        detail = ""
        if not same:
            if len(ref) != len(other):
                detail = f": {len(ref)} vs {len(other)} days"
            else:
                diff = (ref != other).any(axis=1)
                first = ref[diff].head(1).to_dict("records")
                detail = f": {int(diff.sum())} day(s) differ, e.g. {first} vs " \
                         f"{other[diff].head(1).to_dict('records')}"
        lines.append(f"{case} vs {subject}: {len(ref)} days × (pv, uv, event_buyers) — "
                     + ("PASS (identical)" if same else "FAIL" + detail))
    return lines


def check_same(paths: dict[str, Path], subject: str) -> list[str]:
    """Every peer's result frame equals shopscope's (exact: counts are integers)."""
    frames = _read_checks(paths)
    if subject not in frames:
        return [f"FAIL: {subject} wrote no result"]
    ref = frames.pop(subject)
    lines = []
    for case, other in frames.items():
        what = f"{len(ref)} rows × ({', '.join(ref.columns)})"
        if ref.equals(other):
            lines.append(f"{case} vs {subject}: {what} — PASS (identical)")
            continue
        detail = f"{len(ref)} vs {len(other)} rows"
        if len(ref) == len(other) and list(ref.columns) == list(other.columns):
            diff = (ref != other).any(axis=1)
            detail = (f"{int(diff.sum())} row(s) differ, e.g. "
                      f"{ref[diff].head(1).to_dict('records')} vs "
                      f"{other[diff].head(1).to_dict('records')}")
        lines.append(f"{case} vs {subject}: {what} — FAIL: {detail}")
    return lines


def check_rows(runs: dict[str, list[Run]], bench: Benchmark) -> list[str]:
    """Rows each peer loaded; every run of a case, and peers loading one table, must agree."""
    lines, counts = [], {}
    for case in bench.cases:
        seen = [r.data.get("rows") for r in runs.get(case, []) if r.ok]
        if not seen:
            continue
        counts[case] = seen[0]
        same = all(s == seen[0] for s in seen)
        lines.append(f"{case}: rows " + ", ".join(f"{k} {v:,}" for k, v in seen[0].items())
                     + ("" if same else " — FAIL: runs loaded different row counts"))
    shop = counts.get(bench.subject, {})
    for case, rows in counts.items():
        common = [t for t in rows if t in shop]
        if case != bench.subject and common:
            verdict = "PASS" if all(rows[t] == shop[t] for t in common) else "FAIL"
            lines.append(f"same row counts ({', '.join(common)}), {case} vs "
                         f"{bench.subject}: {verdict}")
    return lines


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def summarize(case: str, runs: list[Run]) -> dict:
    good = [r for r in runs if r.ok]
    return {
        "case": case,
        "n": len(runs),
        "ok": len(good),
        "median": _median([r.seconds for r in good]),
        "min": min((r.seconds for r in good), default=None),
        "max": max((r.seconds for r in good), default=None),
        "cold": _median([r.data["cold_seconds"] for r in good if "cold_seconds" in r.data]),
        "peak_mb": max((r.peak_rss_mb for r in runs), default=None),
        "ready_mb": _median([r.data["rss_ready_mb"] for r in good if "rss_ready_mb" in r.data]),
        "external": max((r.external_cores for r in runs), default=None),
        "load": max((r.load_before for r in runs), default=None),
        "errors": [r.error for r in runs if not r.ok],
    }


def render_table(bench: Benchmark, stats: dict[str, dict]) -> list[str]:
    subject = stats.get(bench.subject, {}).get("median")
    has_cold = any(s.get("cold") is not None for s in stats.values())
    head = ["case", "what", "median s", "min–max s"]
    if has_cold:
        head.append("first call s")
    head += ["time ÷ shopscope", "peak RSS MB", "RSS before timing MB", "runs ok",
             "other CPU (cores)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, s in stats.items():
        ratio = (f"{s['median'] / subject:.2f}×" if s["median"] and subject else "—")
        cells = [f"`{case}`", bench.labels.get(case, ""), _fmt_s(s["median"]),
                 f"{_fmt_s(s['min'])}–{_fmt_s(s['max'])}"]
        if has_cold:
            cells.append(_fmt_s(s["cold"]))
        cells += [ratio, f"{s['peak_mb']:,.0f}" if s["peak_mb"] else "—",
                  f"{s['ready_mb']:,.0f}" if s["ready_mb"] else "—",
                  f"{s['ok']}/{s['n']}",
                  f"{s['external']:.2f}" if s["external"] is not None else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    for case, s in stats.items():
        for err in s["errors"]:
            lines.append(f"\n`{case}` failed: {err[:500]}")
    return lines


def _faster(peer: str, s: float | None, other: float | None,
            other_stats: dict) -> tuple[str, str, bool | None]:
    """The target "shopscope faster than ``peer``"; a peer that failed (out of memory,
    past ``--timeout``) while shopscope finished is the slower one."""
    name = f"shopscope faster than {peer}"
    if other is None and other_stats.get("errors"):
        return name, f"{peer.split()[0]} failed", True if s else None
    measured = f"{s / other:.2f}×" if s and other else "—"
    return name, measured, None if not (s and other) else s < other


def targets(key: str, stats: dict[str, dict],
            checks: list[str]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, pass?) for one benchmark."""
    def med(case: str) -> float | None:
        return stats.get(case, {}).get("median")

    ok_checks = bool(checks) and all("FAIL" not in c for c in checks)
    out: list[tuple[str, str, bool | None]] = []
    if key == "retail_ingest":
        s = med("retail_ingest_shopscope")
        out.append(("shopscope ingest ≤ 5 s", _fmt_s(s) + " s", None if s is None else s <= 5))
    elif key == "retail_kpi":
        s, cold = med("retail_kpi_shopscope"), stats.get("retail_kpi_shopscope", {}).get("cold")
        out.append(("shopscope monthly KPIs ≤ 0.5 s (warm median)", _fmt_s(s) + " s",
                    None if s is None else s <= 0.5))
        out.append(("… and the first call in a fresh process ≤ 0.5 s", _fmt_s(cold) + " s",
                    None if cold is None else cold <= 0.5))
        out.append(("same GMV/orders/buyers (and the other 5 metrics) as pandas",
                    "see checks", ok_checks))
    elif key == "retail_rules":
        s, m = med("retail_rules_shopscope"), med("retail_rules_mlxtend")
        out.append(("shopscope pair rules ≥ 20× faster than mlxtend",
                    f"{m / s:.1f}×" if s and m else "—", None if not (s and m) else m >= 20 * s))
        out.append(("the same rules as mlxtend", "see checks", ok_checks))
    elif key == "events_ingest":
        s, d = med("events_ingest_shopscope"), med("events_ingest_duckdb")
        peak = stats.get("events_ingest_shopscope", {}).get("peak_mb")
        out.append(("shopscope ≤ 2× DuckDB CTAS", f"{s / d:.2f}×" if s and d else "—",
                    None if not (s and d) else s <= 2 * d))
        out.append(("shopscope peak memory ≤ 4 GiB", f"{peak:,.0f} MB" if peak else "—",
                    None if peak is None else peak <= 4096))
    elif key == "events_daily":
        s = med("events_daily_shopscope")
        d, pl_, pd_ = (med("events_daily_duckdb"), med("events_daily_polars"),
                       med("events_daily_pandas"))
        out.append(("shopscope ≤ 1.3× hand-written DuckDB SQL",
                    f"{s / d:.2f}×" if s and d else "—", None if not (s and d) else s <= 1.3 * d))
        out.append(("shopscope faster than Polars lazy (default engine)",
                    f"{s / pl_:.2f}×" if s and pl_ else "—",
                    None if not (s and pl_) else s < pl_))
        pl2 = med("events_daily_polars_inmemory")
        if pl2:
            out.append(("… and than Polars in-memory engine", f"{s / pl2:.2f}×" if s else "—",
                        None if not s else s < pl2))
        out.append(_faster("pandas", s, pd_, stats.get("events_daily_pandas", {})))
        out.append(("identical daily numbers across peers", "see checks", ok_checks))
    elif key in ("funnel_user", "funnel_order", "retention", "paths"):
        s = med(f"{key}_shopscope")
        d, pl_, pd_ = med(f"{key}_duckdb"), med(f"{key}_polars"), med(f"{key}_pandas")
        out.append(("shopscope ≤ 1.5× hand-written DuckDB SQL",
                    f"{s / d:.2f}×" if s and d else "—", None if not (s and d) else s <= 1.5 * d))
        out.append(_faster("Polars lazy", s, pl_, stats.get(f"{key}_polars", {})))
        out.append(_faster("pandas", s, pd_, stats.get(f"{key}_pandas", {})))
        peak = stats.get(f"{key}_shopscope", {}).get("peak_mb")
        out.append(("shopscope peak memory ≤ 8 GiB", f"{peak:,.0f} MB" if peak else "—",
                    None if peak is None else peak <= 8192))
        out.append(("identical results across peers", "see checks", ok_checks))
    elif key == "funnel12":
        s = med("funnel12_shopscope")
        out.append(("12-step funnel completes", _fmt_s(s) + " s", None if s is None else True))
    elif key == "funnel_spark":
        s, sp = med("funnel_user_shopscope"), med("funnel_user_spark")
        out.append(("shopscope faster than Spark local[2]", f"{s / sp:.2f}×" if s and sp else "—",
                    None if not (s and sp) else s < sp))
        out.append(("identical results across peers", "see checks", ok_checks))
    return out


def machine_section(args: argparse.Namespace, started: dict, ended: dict) -> str:
    import importlib.metadata as md

    def ver(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "—"

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    command = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    return "\n".join([
        "## How these numbers were made",
        "",
        f"- Command (latest invocation): `{command}`",
        f"- Date: {started['time']} → {ended['time']} (local time)",
        f"- shopscope: commit {commit}{' + uncommitted changes in src/' if dirty else ''}",
        (f"- Machine: {os.cpu_count()} cores ({cpu}), "
        f"{psutil.virtual_memory().total / GiB:.1f} GiB RAM, {platform.platform()}"),
        (f"- Python {platform.python_version()}; duckdb {ver('duckdb')}, ibis-framework "
        f"{ver('ibis-framework')}, polars {ver('polars')}, pandas {ver('pandas')}, "
        f"pyarrow {ver('pyarrow')}"),
        (f"- Machine load: load average {started['load']} at the start, {ended['load']} at the "
        "end. Before each run the harness waited until other processes used < "
        f"{args.quiet_cores} cores; the column *other CPU* is the most CPU (in cores) that "
        "other processes used during a kept run of the case (2 cores = the whole machine)."),
        ("- Each case runs in a fresh subprocess per run (the number of runs is in each "
        "section), interleaved across peers (in a seeded random order after the first run); "
        "the median "
        "is reported. A run during which "
        f"other processes used more than {args.busy_cores} cores is measured again (up to "
        f"{args.retries} times). The input files are read once before each run, so they are in "
        "the OS page cache "
        "(this VM reclaims idle page cache quickly, and the memory-hungry peers evict it)."),
        "",
    ])


def targets_from_summary(path: Path) -> dict:
    """The rows of the "Targets at a glance" table in ``path``, as the harness keeps them.

    The harness keeps its targets in ``out/`` (git-ignored); on a fresh checkout they come
    from the committed table, so a run of some benchmarks keeps the others' rows.
    """
    if not path.exists():
        return {}
    text = path.read_text()
    block = re.search(r"<!-- bench:summary -->(.*?)<!-- /bench:summary -->", text, re.S)
    if not block:
        return {}
    by_number = {b.title.split(". ", 1)[0]: b for b in BENCHMARKS.values()}
    out: dict = {}
    for line in block.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.match(r"\d+\. ", cells[0]):
            continue
        bench = by_number.get(cells[0].split(". ", 1)[0])
        if bench is None:
            continue
        passed = {"**PASS**": True, "**FAIL**": False}.get(cells[3])
        entry = out.setdefault(bench.key, {"title": bench.title, "measured_at": cells[4],
                                           "targets": []})
        entry["targets"].append([cells[1], cells[2], passed])
    return out


def summary_section(all_targets: dict) -> str:
    lines = ["## Targets at a glance", "",
             "| benchmark | target | measured | result | measured at |", "|---|---|---|---|---|"]
    for key in BENCHMARKS:
        entry = all_targets.get(key)
        if not entry:
            continue
        for name, measured, passed in entry["targets"]:
            verdict = "—" if passed is None else ("**PASS**" if passed else "**FAIL**")
            lines.append(f"| {entry['title'].split('. ', 1)[0]}. "
                         f"{entry['title'].split('. ', 1)[1].split(' (')[0]} | {name} | "
                         f"{measured} | {verdict} | {entry['measured_at']} |")
    return "\n".join(lines) + "\n"


def update_results(path: Path, sections: dict[str, str]) -> None:
    """Replace each ``<!-- bench:KEY -->`` … ``<!-- /bench:KEY -->`` block; append new ones
    before the first hand-written heading after the tables (or at the end)."""
    text = path.read_text() if path.exists() else (
        "# shopscope benchmarks\n\n"
        "Generated by `bench/run.py` between the `<!-- bench:… -->` markers; text outside "
        "the markers is written by hand and kept when the harness reruns.\n\n"
    )
    for key, body in sections.items():
        block = f"<!-- bench:{key} -->\n{body.rstrip()}\n<!-- /bench:{key} -->"
        pattern = re.compile(rf"<!-- bench:{re.escape(key)} -->.*?<!-- /bench:{re.escape(key)} -->",
                             re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=block: b, text)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=None, help="runs per case (default 3; 1 quick)")
    ap.add_argument("--only", default="", help=f"benchmarks or cases, comma-separated: "
                    f"{', '.join(BENCHMARKS)}")
    ap.add_argument("--events", type=int, default=None,
                    help="approximate events of the synthetic shop (default: what "
                         "customers=300000 gives, ≈105M)")
    ap.add_argument("--customers", type=int, default=None,
                    help="customers of the synthetic shop (default 300000; quick 20000)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 5M events, 1 run, results to bench/out/RESULTS-quick.md")
    ap.add_argument("--heavy-runs", type=int, default=None,
                    help="runs of the slow peers of the behaviour benchmarks (pandas, Spark; "
                         "default: --runs)")
    ap.add_argument("--warm", type=int, default=5, help="warm calls after the first (KPI cases)")
    ap.add_argument("--diagnose", action="store_true", help="also run diagnostic cases")
    ap.add_argument("--pandas-mem-gb", type=float, default=20.0,
                    help="address-space limit (RLIMIT_AS) of the pandas 100M-event case")
    ap.add_argument("--quiet-cores", type=float, default=0.5,
                    help="wait before each run until other processes use fewer cores")
    ap.add_argument("--max-wait", type=float, default=1800.0, help="longest wait for quiet, s")
    ap.add_argument("--settle", type=float, default=60.0,
                    help="before each run, wait up to this long for < 0.1 busy cores")
    ap.add_argument("--busy-cores", type=float, default=0.15,
                    help="a run during which other processes used more cores is repeated")
    ap.add_argument("--retries", type=int, default=2, help="repeats of a disturbed run")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per run, seconds")
    ap.add_argument("--out", default=str(HERE / "out"), help="scratch folder (git-ignored)")
    ap.add_argument("--results", default=None, help="Markdown file to update")
    args = ap.parse_args(argv)
    if args.quick:
        args.events = args.events or 5_000_000
        args.customers = args.customers or 20_000
        args.runs = args.runs or 1
        args.warm = min(args.warm, 2)
        args.results = args.results or str(Path(args.out) / "RESULTS-quick.md")
    args.customers = args.customers or DEFAULT_CUSTOMERS
    args.runs = args.runs or 3
    args.results = args.results or str(HERE / "RESULTS.md")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")

    def log(msg: str) -> None:
        print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)

    wanted = [w for w in args.only.split(",") if w]
    selected: dict[str, list[str]] = {}
    for key, bench in BENCHMARKS.items():
        cases = list(bench.cases) + (list(bench.extra) if args.diagnose else [])
        if not wanted or key in wanted:
            selected[key] = cases
        elif any(c in wanted for c in cases):
            selected[key] = [c for c in cases if c in wanted]
    if not selected:
        raise SystemExit(f"nothing matches --only {args.only!r}")

    started = {"time": f"{dt.datetime.now():%Y-%m-%d %H:%M}",
               "load": " / ".join(f"{x:.2f}" for x in os.getloadavg())}
    log(f"load average {started['load']}; {args.runs} run(s) per case")

    retail_ok = RETAIL_CSV.exists()
    params: dict = {"retail_csv": str(RETAIL_CSV), "warm": args.warm}
    needs_retail = {"retail_ingest", "retail_kpi", "retail_rules"} & set(selected)
    if needs_retail and not retail_ok:
        log(f"SKIP {', '.join(sorted(needs_retail))}: {RETAIL_CSV} is absent")
        for key in needs_retail:
            selected.pop(key)
    if {"retail_kpi", "retail_rules"} & set(selected):
        params["retail_ws"] = str(out / "retail_ws")
        ingest_workspace("retail", out / "retail_ws", RETAIL_CSV, log)
    if EVENT_BENCHMARKS & set(selected):
        folder = ensure_synth(args, log)
        params["events_parquet"] = str(folder / "events.parquet")
        params["events_ws"] = str(out / "events_ws" / synth_dir(args).name)

    all_runs: dict[str, list[Run]] = {}
    sections: dict[str, str] = {}
    summary_rows: list[tuple[str, str, str, bool | None]] = []
    targets_file = out / f"targets-{Path(args.results).stem}.json"
    all_targets = targets_from_summary(Path(args.results))  # other machines' rows
    if targets_file.exists():
        all_targets |= json.loads(targets_file.read_text())
    def flush() -> None:
        """Write the raw numbers and RESULTS.md so far (after every benchmark)."""
        ended = {"time": f"{dt.datetime.now():%Y-%m-%d %H:%M}",
                 "load": " / ".join(f"{x:.2f}" for x in os.getloadavg())}
        raw = {
            "args": vars(args), "started": started, "ended": ended,
            "runs": {c: [r.__dict__ for r in rs] for c, rs in all_runs.items()},
        }
        (out / f"results-{stamp}.json").write_text(json.dumps(raw, indent=1, default=str))
        targets_file.write_text(json.dumps(all_targets, indent=1))
        update_results(Path(args.results), {
            "machine": machine_section(args, started, ended),
            "summary": summary_section(all_targets), **sections})
        log(f"wrote {args.results} and {out / f'results-{stamp}.json'}")

    for key, cases in selected.items():
        bench = BENCHMARKS[key]
        log(f"== {bench.title}")
        if (key in EVENT_BENCHMARKS - {"events_ingest"}
                and not Path(params["events_ws"], "shop.duckdb").exists()):
            ingest_workspace("events", Path(params["events_ws"]), Path(params["events_parquet"]),
                             log)
        checks_dir = out / "checks" / stamp
        checks_dir.mkdir(parents=True, exist_ok=True)
        check_paths = {c: checks_dir / f"{c}.parquet" for c in cases}
        runs: dict[str, list[Run]] = {c: [] for c in cases}
        for i in range(args.runs):
            # Shuffle the order from run to run (seeded), so that no case always follows
            # the same (memory-hungry) peer.
            order = cases if i == 0 else random.Random(i).sample(cases, len(cases))
            for case in order:
                if i >= _runs_of(case, args):
                    continue
                scratch = out / "tmp" / f"{case}-{i}"
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir(parents=True)
                p = {**params, "scratch": str(scratch), "check": str(check_paths[case])}
                if _pandas_capped(case):
                    p["mem_limit_gb"] = args.pandas_mem_gb
                for attempt in range(1 + args.retries):
                    r = run_case(case, i, p, args, log)
                    if r.external_cores <= args.busy_cores or attempt == args.retries:
                        break
                    log(f"  {case} run {i + 1}: other processes used {r.external_cores:.2f} "
                        "cores meanwhile; measuring again")
                    shutil.rmtree(scratch, ignore_errors=True)
                    scratch.mkdir(parents=True)
                runs[case].append(r)
                status = (f"{r.seconds:.3f}s" if r.ok else f"FAILED ({r.error[:200]})")
                log(f"  {case} run {i + 1}/{args.runs}: {status}, peak RSS "
                    f"{r.peak_rss_mb:,.0f} MB, other CPU {r.external_cores:.2f} cores")
                if case == "events_ingest_shopscope" and r.ok and i == args.runs - 1:
                    # Keep the last loaded workspace for the daily-query benchmark.
                    dest = Path(params["events_ws"])
                    shutil.rmtree(dest, ignore_errors=True)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(scratch / "ws"), dest)
                shutil.rmtree(scratch, ignore_errors=True)
        all_runs.update(runs)
        stats = {c: summarize(c, rs) for c, rs in runs.items()}
        if bench.check == "monthly":
            checks = check_monthly(check_paths, bench.subject)
        elif bench.check == "daily":
            checks = check_daily(check_paths, bench.subject)
        elif bench.check == "same":
            checks = check_same(check_paths, bench.subject)
        elif bench.check == "rows":
            checks = check_rows(runs, bench)
        else:
            checks = []
        for line in checks:
            log(f"  check: {line}")
        tgt = targets(key, stats,
                      checks if bench.check in ("monthly", "daily", "same") else [])
        for name, measured, passed in tgt:
            verdict = "—" if passed is None else ("PASS" if passed else "FAIL")
            summary_rows.append((bench.title.split(" ", 1)[0], name, measured, passed))
            log(f"  target: {name}: {measured} {verdict}")
        command = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
        body = [f"## {bench.title}", "",
                f"Measured {dt.datetime.now():%Y-%m-%d %H:%M} by `{command}`, "
                f"{args.runs} run(s) per case"
                + (f", synthetic shop {Path(params['events_parquet']).parent.name} "
                   f"(events.parquet: {Path(params['events_parquet']).stat().st_size / 1e9:.2f} GB)"
                   if key in EVENT_BENCHMARKS else "") + ".", ""]
        body += render_table(bench, stats)
        body += ["", "Checks:", ""] + [f"- {c}" for c in checks] if checks else []
        body += ["", "Targets:", ""] + [
            f"- {name}: **{measured}** — "
            + ("not measured" if passed is None else ("PASS" if passed else "FAIL"))
            for name, measured, passed in tgt
        ]
        sections[key] = "\n".join(body) + "\n"
        all_targets[key] = {"title": bench.title,
                            "measured_at": f"{dt.datetime.now():%Y-%m-%d %H:%M}",
                            "targets": tgt}
        flush()

    flush()
    failed = [row for row in summary_rows if row[3] is False]
    for bench_no, name, measured, _ in failed:
        log(f"target missed: {bench_no} {name}: {measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
