"""CLV benchmark: shopscope's BG/NBD + Gamma-Gamma against ``lifetimes`` on 1M customers.

    .venv/bin/python bench/clv_bench.py                       # 1,000,000 customers, 3 runs
    .venv/bin/python bench/clv_bench.py --customers 200000 --runs 1
    .venv/bin/python bench/clv_bench.py --lifetimes-python /tmp/ltvenv/bin/python

The summaries are drawn from known parameters (the synthetic shop's defaults, per day:
BG/NBD r=0.75, alpha=60, a=0.8, b=3; Gamma-Gamma p=6.25, q=3.74, gamma=15.44) with
``shopscope.models.simulate_bgnbd`` / ``simulate_spend``. By default they are
day-granular, as ``customer_summary`` gives them: a customer's first purchase is at a
random time of day ``d0 + u``, the calibration ends at the end of day ``E``, and the
summary keeps whole days (``T = E - d0``, ``recency = floor(u + t_x)``), so that identical
summaries repeat and are grouped. ``--continuous`` keeps the exact times (every row
distinct: the worst case for the grouping).

Timed, per run, in this process: the BG/NBD fit (grouping identical rows included), the
Gamma-Gamma fit, P(alive) and expected purchases in the next 90 days for every customer,
and a 12-month CLV (10% a year, margin 1 as ``lifetimes`` has no margin). ``lifetimes``
(which needs its own environment: ``pip install lifetimes``) runs the same steps on the
same summaries in a subprocess, if an interpreter that can import it is given or this one
can; otherwise the report says so. No timing is asserted anywhere; the numbers go to
stdout (and to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from shopscope.models import (
    BetaGeoModel,
    GammaGammaModel,
    clv,
    simulate_bgnbd,
    simulate_spend,
)

TRUTH_BG = {"r": 0.75, "alpha": 60.0, "a": 0.8, "b": 3.0}
TRUTH_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
HORIZON_DAYS = 90.0
CLV_MONTHS, ANNUAL_RATE, MARGIN = 12, 0.10, 1.0  # margin 1: revenue, as lifetimes
MONTHLY_RATE = (1 + ANNUAL_RATE) ** (1 / 12) - 1

LIFETIMES_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
data = np.load(sys.argv[1])
steps = sys.argv[2]
f, r, T, m = (pd.Series(data[k]) for k in ("frequency", "recency", "T", "monetary_value"))
out = {"timings": {}}
t0 = time.perf_counter(); c0 = time.process_time()
bg = BetaGeoFitter().fit(f, r, T)
t1 = time.perf_counter()
rep = f > 0
gg = GammaGammaFitter().fit(f[rep], m[rep])
t2 = time.perf_counter()
out["timings"]["bgnbd_fit"] = t1 - t0
out["timings"]["gamma_gamma_fit"] = t2 - t1
out["params"] = {k: float(v) for k, v in bg.params_.items()}
out["params"].update({("gamma" if k == "v" else k): float(v) for k, v in gg.params_.items()})
if steps == "all":
    pa = bg.conditional_probability_alive(f, r, T)
    t3 = time.perf_counter()
    ep = bg.conditional_expected_number_of_purchases_up_to_time(float(sys.argv[3]), f, r, T)
    t4 = time.perf_counter()
    value = gg.customer_lifetime_value(bg, f, r, T, m, time=int(sys.argv[4]),
                                       discount_rate=float(sys.argv[5]), freq="D")
    t5 = time.perf_counter()
    out["timings"].update(probability_alive=t3 - t2, expected_purchases=t4 - t3, clv=t5 - t4)
    out["clv_total"] = float(np.sum(value))
    out["palive_mean"] = float(np.mean(pa))
    out["expected_total"] = float(np.sum(ep))
out["timings"]["total"] = time.perf_counter() - t0
out["cpu"] = time.process_time() - c0
print(json.dumps(out))
"""


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def draw(n: int, seed: int, *, continuous: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 730, n).astype(float)  # T in whole days
    frac = rng.random(n)  # time of day of the first purchase
    t_exact = days + 1.0 - frac  # to the end of the last calibration day
    s = simulate_bgnbd(n, **TRUTH_BG, T=t_exact, seed=seed + 1)
    if not continuous:
        s["recency"] = np.floor(frac + s["recency"].to_numpy())
        s["T"] = days
    s["monetary_value"] = simulate_spend(s["frequency"], **TRUTH_GG, seed=seed + 2)
    return s[["frequency", "recency", "T", "monetary_value"]]


def run_shopscope(s: pd.DataFrame) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    bg = BetaGeoModel().fit(s)
    t1 = time.perf_counter()
    gg = GammaGammaModel().fit(s)
    t2 = time.perf_counter()
    pa = bg.probability_alive(s["frequency"], s["recency"], s["T"])
    t3 = time.perf_counter()
    ep = bg.expected_purchases(HORIZON_DAYS, s["frequency"], s["recency"], s["T"])
    t4 = time.perf_counter()
    value = clv(bg, gg, s, horizon=CLV_MONTHS, margin=MARGIN, discount_rate=ANNUAL_RATE,
                time_unit="D")
    t5 = time.perf_counter()
    return {
        "timings": {"bgnbd_fit": t1 - t0, "gamma_gamma_fit": t2 - t1,
                    "probability_alive": t3 - t2, "expected_purchases": t4 - t3,
                    "clv": t5 - t4, "total": t5 - t0},
        "cpu": time.process_time() - c0,
        "params": {**bg.params_, **gg.params_},
        "standard_errors": {**bg.standard_errors_, **gg.standard_errors_},
        "distinct_rows": bg.n_distinct_,
        "clv_total": value.total,
        "palive_mean": float(np.mean(pa)),
        "expected_total": float(np.sum(ep)),
        "bg": bg, "gg": gg,
    }


def find_lifetimes(explicit: str | None) -> str | None:
    candidates = [explicit] if explicit else [sys.executable, "/tmp/ltvenv/bin/python"]
    for python in candidates:
        if python and Path(python).exists():
            ok = subprocess.run([python, "-c", "import lifetimes"], capture_output=True)
            if ok.returncode == 0:
                return python
    return None


def run_lifetimes(python: str, s: pd.DataFrame, steps: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.npz"
        np.savez(path, **{c: s[c].to_numpy() for c in s.columns})
        script = Path(tmp) / "lt.py"
        script.write_text(LIFETIMES_SCRIPT)
        done = subprocess.run(
            [python, str(script), str(path), steps, str(HORIZON_DAYS), str(CLV_MONTHS),
             str(MONTHLY_RATE)],
            capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lifetimes-python", default=None,
                        help="an interpreter that can `import lifetimes` (default: this one, "
                        "then /tmp/ltvenv/bin/python)")
    parser.add_argument("--lifetimes-steps", choices=("fit", "all"), default="all")
    parser.add_argument("--lifetimes-runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--continuous", action="store_true",
                        help="exact (not whole-day) recency and T: every row distinct")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    print(f"before: {load_note()}")
    s = draw(args.customers, args.seed, continuous=args.continuous)
    print(f"{len(s):,} customers, {int((s.frequency > 0).sum()):,} with repeat purchases")
    runs = [run_shopscope(s) for _ in range(args.runs)]
    keys = list(runs[0]["timings"])
    med = {k: statistics.median(r["timings"][k] for r in runs) for k in keys}
    cpu = statistics.median(r["cpu"] for r in runs)
    last = runs[-1]
    print(f"after shopscope: {load_note()}")
    print(f"\nshopscope ({args.runs} runs, median wall s; distinct rows {last['distinct_rows']:,})")
    for k in keys:
        print(f"  {k:20s} {med[k]:8.3f}   runs: "
              + ", ".join(f"{r['timings'][k]:.3f}" for r in runs))
    print(f"  {'cpu (user+sys)':20s} {cpu:8.3f}")

    print("\nparameters: shopscope (s.e.) vs truth")
    for name, true in {**TRUTH_BG, **TRUTH_GG}.items():
        est, se = last["params"][name], last["standard_errors"][name]
        print(f"  {name:6s} {est:10.4f} ({se:.4f})  truth {true:8.3f}  "
              f"z {(est - true) / se:+.2f}")

    report = {"customers": args.customers, "load_before_after": load_note(),
              "shopscope": {"median": med, "cpu": cpu,
                            "params": last["params"], "standard_errors": last["standard_errors"],
                            "clv_total": last["clv_total"]}}
    python = find_lifetimes(args.lifetimes_python)
    if python is None:
        print("\nlifetimes: not importable here or in /tmp/ltvenv (pip install lifetimes in a "
              "separate venv and pass --lifetimes-python); no comparison")
    else:
        lt_runs = []
        for _ in range(args.lifetimes_runs):
            print(f"\nlifetimes ({python}, steps={args.lifetimes_steps}) ... {load_note()}",
                  flush=True)
            lt_runs.append(run_lifetimes(python, s, args.lifetimes_steps, args.timeout))
        lt = lt_runs[-1]
        if "error" in lt:
            print(f"lifetimes failed: {lt['error']}")
        else:
            lmed = {k: statistics.median(r["timings"][k] for r in lt_runs)
                    for k in lt["timings"]}
            print(f"after lifetimes: {load_note()}")
            print("\nlifetimes vs shopscope (median wall s, ratio = lifetimes / shopscope)")
            for k, v in lmed.items():
                print(f"  {k:20s} {v:8.3f} vs {med[k]:7.3f}   x{v / med[k]:.1f}")
            print("\nparameter differences (shopscope - lifetimes) / lifetimes")
            for name, value in lt["params"].items():
                ours = last["params"][name]
                diff = 100 * (ours / value - 1)
                print(f"  {name:6s} {ours:10.5f} vs {value:10.5f}  {diff:+.4f}%")
            if "clv_total" in lt:
                # lifetimes' month is 30 days (ours 365.25/12), so the totals differ slightly
                diff = 100 * (last["clv_total"] / lt["clv_total"] - 1)
                print(f"  CLV total: shopscope {last['clv_total']:,.0f} vs lifetimes "
                      f"{lt['clv_total']:,.0f} ({diff:+.2f}%)")
                print(f"  expected purchases in {HORIZON_DAYS:g} days: "
                      f"{last['expected_total']:,.1f} vs {lt['expected_total']:,.1f}")
            report["lifetimes"] = {"median": lmed, "params": lt["params"],
                                   "clv_total": lt.get("clv_total")}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
