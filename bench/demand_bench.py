"""Demand benchmark (issue 17, point 8): the whole demand pipeline on Online Retail's SKUs
against what a user of statsforecast would otherwise run, AutoETS on every series.

    .venv/bin/python bench/demand_bench.py                    # ../shared Online Retail, all SKUs
    .venv/bin/python bench/demand_bench.py --workspace ws     # an already loaded workspace
    .venv/bin/python bench/demand_bench.py --skip-peer        # shopscope's pipeline only

Timed, in this process, on a loaded workspace (the load is not timed): the daily demand
series of every SKU (zero-filled, censored days marked), the ABC-XYZ and demand-pattern
classes, the model choice per pattern by rolling-origin cross-validation (2 windows of 28
days), 28-day forecasts with 80% intervals for every SKU, and the replenishment plan (no
inventory in this data: the plan's step runs on an empty stock table and is left out when
the workspace has none). The peer: statsforecast's ``AutoETS(season_length=7)`` fitted and
forecast (28 days, 80% interval) on every SKU's daily series, ``n_jobs`` = the machine's
cores (the parallelism statsforecast offers), on the same panel shopscope builds.

No timing is asserted anywhere; the numbers go to stdout (and to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.csv.gz"


def _load(path: Path, dest: Path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    ws = Workspace.create(dest, currency="GBP", timezone="Europe/London")
    ingest_file(ws, path, preset="online_retail")
    return ws


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, help="a loaded workspace (default: load "
                    "../shared Online Retail into a temporary one)")
    ap.add_argument("--h", type=int, default=28)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from shopscope.core.service import LocalContext
    from shopscope.demand import service as svc
    from shopscope.store import Workspace

    tmp = None
    if args.workspace:
        ws = Workspace.open(args.workspace)
    else:
        tmp = tempfile.TemporaryDirectory()
        print(f"loading {SHARED} (not timed) …", flush=True)
        ws = _load(SHARED, Path(tmp.name) / "ws")
    ctx = LocalContext(ws)
    times: dict[str, float] = {}

    def timed(name: str, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        print(f"{name:>10}: {times[name]:7.1f} s", flush=True)
        return out

    series = timed("series", lambda: svc.series(ctx, svc.SeriesParams()))
    classes = timed("classes", lambda: svc.classes(ctx, svc.ClassParams()))
    n = len(classes.frame)
    fc = timed("forecast", lambda: svc.forecast(ctx, svc.ForecastParams(
        h=args.h, windows=args.windows, interval=80, top=max(n, 1))))
    try:
        timed("plan", lambda: svc.plan(ctx, svc.PlanParams(source="history")))
    except svc.NoData as exc:
        print(f"      plan: skipped ({exc.message})")
    total = sum(times.values())
    report = {"skus": n, "days": int(series.frame["period"].nunique()), "h": args.h,
              "windows": args.windows, "chosen": fc.chosen, "seconds": times,
              "total": total, "cores": os.cpu_count()}
    print(f"     total: {total:7.1f} s for {n:,} SKUs × {report['days']} days; "
          f"chosen per pattern: {fc.chosen}")

    if not args.skip_peer:
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS

        f = series.frame
        panel = pd.DataFrame({"unique_id": f["product_id"].astype(str),
                              "ds": pd.to_datetime(f["period"]),
                              "y": f["demand"].astype("float64")})
        sf = StatsForecast(models=[AutoETS(season_length=7)], freq="D",
                           n_jobs=os.cpu_count() or 1)
        t = time.perf_counter()
        sf.forecast(df=panel, h=args.h, level=[80])
        peer = time.perf_counter() - t
        report["peer_autoets_seconds"] = peer
        report["ratio"] = peer / total if total else None
        print(f"statsforecast AutoETS on every series (n_jobs={sf.n_jobs}): {peer:.1f} s; "
              f"shopscope's whole pipeline is {peer / total:.1f}× faster")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    ws.close()
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
