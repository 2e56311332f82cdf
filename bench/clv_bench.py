"""CLV benchmark: shopscope's BG/NBD + Gamma-Gamma against ``lifetimes`` and PyMC-Marketing.

    .venv/bin/python bench/clv_bench.py                       # 1,000,000 customers, 3 runs
    .venv/bin/python bench/clv_bench.py --customers 200000 --runs 1
    .venv/bin/python bench/clv_bench.py --lifetimes-python /tmp/ltvenv/bin/python
    .venv/bin/python bench/clv_bench.py --cdnow               # CDNOW sample vs FHL (2005)

The summaries are drawn from known parameters (the synthetic shop's defaults, per day:
BG/NBD r=0.75, alpha=60, a=0.8, b=3; Gamma-Gamma p=6.25, q=3.74, gamma=15.44) with
``shopscope.customers.models.simulate_bgnbd`` / ``simulate_spend``. By default they are
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
can; otherwise the report says so.

PyMC-Marketing (``pymc_marketing.clv.BetaGeoModel`` / ``GammaGammaModel``, 1.3; it needs
Python >= 3.12, so it lives in its own venv, ``bench/out/pymc-venv``, see bench/README.md)
runs in a subprocess too: ``fit(data, method="map")`` (``pymc.find_MAP``, L-BFGS-B on the
posterior mode) with the library's default priors (``--pymc-priors default,flat`` adds a
second fit with ``HalfFlat`` priors on r, alpha, a, b and p, q, v, whose mode is the maximum
likelihood). Its timings are of ``fit`` as a user calls it (building the PyMC model,
compiling it with PyTensor, optimising) in a fresh process, and of a second fit of a new
model object in the same process (``bgnbd_fit_again``: PyTensor's compiled code is then
cached); then ``expected_probability_alive`` and ``expected_purchases`` at the MAP point.
PyMC-Marketing's CLV is not timed (it discounts over a different time grid). For every
peer the report gives its parameters relative to shopscope's and the log-likelihood at
its parameters under shopscope's likelihood (the same function for all, evaluated on the
same summary), so that a difference in parameters can be read as a worse optimum, the
pull of a prior, or a flat likelihood.

``--cdnow`` replaces the synthetic draw by the CDNOW sample (2,357 customers, weeks,
calibration to 1997-09-30, made by ``customer_summary`` as in tests/test_clv.py) and
compares every peer's estimates with the published ones (Fader, Hardie & Lee 2005a
for BG/NBD, Fader & Hardie 2013 for Gamma-Gamma).

No timing is asserted anywhere; the numbers go to stdout (and to ``--json``).
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

from shopscope.customers.models import (
    BetaGeoModel,
    GammaGammaModel,
    clv,
    clv_bgnbd,
    clv_gammagamma,
    simulate_bgnbd,
    simulate_spend,
)

HERE = Path(__file__).resolve().parent

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
out["bgnbd_fit_cpu"] = time.process_time() - c0
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

# Published CDNOW estimates (weeks): FHL (2005a) for BG/NBD, Fader & Hardie (2013) for
# Gamma-Gamma; the same values as in tests/test_clv.py.
FHL_BGNBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7930, "b": 2.4262}
FHL_BGNBD_LL = -9582.43
FHL_GAMMA_GAMMA = {"p": 6.2496, "q": 3.7442, "gamma": 15.443}
CDNOW_CAL_END, CDNOW_OBS_END = "1997-09-30", "1998-06-30"

PYMC_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
t_import = time.perf_counter()
from pymc_extras.prior import Prior
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
import pymc_marketing
t_import = time.perf_counter() - t_import
data = np.load(sys.argv[1])
steps, horizon, priors = sys.argv[2], float(sys.argv[3]), sys.argv[4]
df = pd.DataFrame({k: data[k] for k in ("frequency", "recency", "T", "monetary_value")})
df.insert(0, "customer_id", np.arange(len(df)))
rfm = df[["customer_id", "frequency", "recency", "T"]]
rep = df.loc[df.frequency > 0, ["customer_id", "frequency", "monetary_value"]]
if priors == "flat":
    bg_config = {k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")}
    gg_config = {k: Prior("HalfFlat") for k in ("p", "q", "v")}
else:
    bg_config = gg_config = None
out = {"version": pymc_marketing.__version__, "priors": priors, "timings": {},
       "import_s": t_import}
def point(model, names):
    post = model.idata.posterior
    return {n: float(post[n].values.reshape(-1)[0]) for n in names}
c0 = time.process_time()
t0 = time.perf_counter()
bg = BetaGeoModel(model_config=bg_config)
bg.fit(rfm, method="map", progressbar=False)
t1 = time.perf_counter()
out["bgnbd_fit_cpu"] = time.process_time() - c0
out["timings"]["bgnbd_fit"] = t1 - t0
out["params"] = point(bg, ("r", "alpha", "a", "b"))
if steps == "all":
    t1 = time.perf_counter()
    again = BetaGeoModel(model_config=bg_config)
    again.fit(rfm, method="map", progressbar=False)
    out["timings"]["bgnbd_fit_again"] = time.perf_counter() - t1
t1 = time.perf_counter()
gg = GammaGammaModel(model_config=gg_config)
gg.fit(rep, method="map", progressbar=False)
t2 = time.perf_counter()
out["timings"]["gamma_gamma_fit"] = t2 - t1
gp = point(gg, ("p", "q", "v"))
out["params"].update(p=gp["p"], q=gp["q"], gamma=gp["v"])
if steps == "all":
    pa = bg.expected_probability_alive(rfm)
    t3 = time.perf_counter()
    ep = bg.expected_purchases(rfm, future_t=horizon)
    t4 = time.perf_counter()
    out["timings"].update(probability_alive=t3 - t2, expected_purchases=t4 - t3)
    out["palive_mean"] = float(np.asarray(pa).mean())
    out["expected_total"] = float(np.asarray(ep).sum())
out["cpu"] = time.process_time() - c0
print("PYMC-RESULT " + json.dumps(out))
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
    t1, c1 = time.perf_counter(), time.process_time()
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
        "bgnbd_fit_cpu": c1 - c0,
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
            ok = subprocess.run([python, "-c", "import lifetimes"], capture_output=True,
                                check=False)
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
            capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def log_likelihoods(s: pd.DataFrame, params: dict) -> dict:
    """BG/NBD and Gamma-Gamma log-likelihoods of the summary at ``params``, by shopscope's
    likelihood functions (the same for every peer's parameters, so the values compare)."""
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ones = np.ones_like(x)
    bg = clv_bgnbd._prepare(x, tx, T, ones)
    out = {"bgnbd": clv_bgnbd._loglik(np.array([params[k] for k in ("r", "alpha", "a", "b")]),
                                      bg)[0]}
    rep = x > 0
    if "p" in params:
        m = s["monetary_value"].to_numpy(float)[rep]
        gg = clv_gammagamma._prepare(x[rep], m, ones[rep])
        out["gamma_gamma"] = clv_gammagamma._loglik(
            np.array([params[k] for k in ("p", "q", "gamma")]), gg)[0]
    return out


def find_pymc(explicit: str | None) -> str | None:
    candidates = [explicit] if explicit else [str(HERE / "out" / "pymc-venv" / "bin" / "python")]
    for python in candidates:
        if python and Path(python).exists():
            ok = subprocess.run([python, "-c", "import pymc_marketing.clv"],
                                capture_output=True, check=False)
            if ok.returncode == 0:
                return python
    return None


def run_pymc(python: str, s: pd.DataFrame, steps: str, priors: str, horizon: float,
             timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.npz"
        np.savez(path, **{c: s[c].to_numpy(float)
                          for c in ("frequency", "recency", "T", "monetary_value")})
        script = Path(tmp) / "pm.py"
        script.write_text(PYMC_SCRIPT)
        try:
            done = subprocess.run([python, str(script), str(path), steps, str(horizon), priors],
                                  capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:g} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PYMC-RESULT ")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else "failed"}
    return json.loads(lines[-1][len("PYMC-RESULT "):])


def print_params(rows: dict[str, dict], reference: str, names: list[str],
                 lls: dict[str, dict]) -> None:
    """One line per parameter: each peer's value and its difference from ``reference``; then
    the log-likelihoods at each peer's parameters (and their difference from the reference's)."""
    peers = list(rows)
    print(f"  {'':14s} " + "  ".join(f"{p:>25s}" for p in peers))
    for name in names:
        ref = rows[reference][name]
        cells = []
        for p in peers:
            v = rows[p][name]
            rel = f"({100 * (v / ref - 1):+.4f}%)" if p != reference else ""
            cells.append(f"{v:12.5f} {rel:>12s}")
        print(f"  {name:14s} " + "  ".join(cells))
    for model in ("bgnbd", "gamma_gamma"):
        if all(model in lls[p] for p in peers):
            ref = lls[reference][model]
            cells = [f"{lls[p][model]:12.2f} " + (f"({lls[p][model] - ref:+.2f})" if p != reference
                                                  else "").rjust(12) for p in peers]
            print(f"  {'LL ' + model:14s} " + "  ".join(cells))


def cdnow_summary(path: Path) -> pd.DataFrame:
    """The CDNOW sample's calibration summary in weeks, made by the engine (as the tests)."""
    from shopscope.customers import customer_summary
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.create(Path(tmp) / "ws")
        try:
            ingest_file(ws, path, preset="cdnow")
            summary = customer_summary(ws.store, CDNOW_CAL_END, CDNOW_OBS_END,
                                       time_unit="W").execute()
        finally:
            ws.close()
    return summary[["frequency", "recency", "T", "monetary_value"]].astype(float)


def main_cdnow(args: argparse.Namespace) -> None:
    """Every peer's estimates on the CDNOW sample against the published ones."""
    print(f"before: {load_note()}")
    s = cdnow_summary(args.cdnow)
    print(f"CDNOW sample: {len(s):,} customers, {int((s.frequency > 0).sum()):,} repeat buyers")
    fits = []
    for _ in range(5):  # small: the median of 5 fits, so that the first call's costs wash out
        t0 = time.perf_counter()
        bg = BetaGeoModel().fit(s)
        gg = GammaGammaModel().fit(s)
        fits.append(time.perf_counter() - t0)
    rows = {"shopscope": {**bg.params_, **gg.params_}}
    times = {"shopscope": statistics.median(fits)}
    python = find_lifetimes(args.lifetimes_python)
    if python:
        lt = run_lifetimes(python, s, "fit", args.timeout)
        if "error" in lt:
            print(f"lifetimes failed: {lt['error']}")
        else:
            rows["lifetimes"] = lt["params"]
            times["lifetimes"] = lt["timings"]["total"]
    pm_python = None if args.no_pymc else find_pymc(args.pymc_python)
    if pm_python is None and not args.no_pymc:
        print("PyMC-Marketing: not found (see bench/README.md for its venv)")
    for priors in args.pymc_priors.split(",") if pm_python else []:
        pm = run_pymc(pm_python, s, "fit", priors, 39.0, args.timeout)
        if "error" in pm:
            print(f"PyMC-Marketing ({priors} priors) failed: {pm['error']}")
            continue
        rows[f"pymc-marketing {priors}"] = pm["params"]
        times[f"pymc-marketing {priors}"] = (pm["timings"]["bgnbd_fit"]
                                             + pm["timings"]["gamma_gamma_fit"])
    lls = {p: log_likelihoods(s, v) for p, v in rows.items()}
    published = {**FHL_BGNBD, **FHL_GAMMA_GAMMA}
    rows["FHL 2005"] = published
    lls["FHL 2005"] = log_likelihoods(s, published)
    print(f"\nparameters (weeks); % = relative to FHL 2005; LL at each peer's parameters "
          f"under shopscope's likelihood (FHL report {FHL_BGNBD_LL})")
    print_params(rows, "FHL 2005", list(published), lls)
    print("\nfit wall time (BG/NBD + Gamma-Gamma, s): "
          + ", ".join(f"{p} {v:.3f}" for p, v in times.items()))
    print(f"after: {load_note()}")
    if args.json:
        report = {"data": "cdnow", "params": rows, "log_likelihood": lls, "fit_s": times,
                  "load": load_note()}
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")


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
    parser.add_argument("--pymc-python", default=None,
                        help="an interpreter that can `import pymc_marketing` (default: "
                        "bench/out/pymc-venv/bin/python)")
    parser.add_argument("--pymc-steps", choices=("fit", "all"), default="all")
    parser.add_argument("--pymc-priors", default="default",
                        help="comma-separated: default (the library's priors), flat "
                        "(HalfFlat priors: MAP = maximum likelihood)")
    parser.add_argument("--no-pymc", action="store_true", help="skip PyMC-Marketing")
    parser.add_argument("--cdnow", type=Path, nargs="?", default=None,
                        const=Path("/work/shared/data/cdnow/CDNOW_sample.txt.gz"),
                        help="compare estimates on the CDNOW sample with FHL (2005) instead "
                        "(default path: /work/shared/data/cdnow/CDNOW_sample.txt.gz)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    for priors in args.pymc_priors.split(","):
        if priors not in ("default", "flat"):
            parser.error(f"--pymc-priors: unknown {priors!r} (default, flat)")
    if args.cdnow is not None:
        main_cdnow(args)
        return

    print(f"before: {load_note()}")
    s = draw(args.customers, args.seed, continuous=args.continuous)
    print(f"{len(s):,} customers, {int((s.frequency > 0).sum()):,} with repeat purchases")
    runs = [run_shopscope(s) for _ in range(args.runs)]
    keys = list(runs[0]["timings"])
    med = {k: statistics.median(r["timings"][k] for r in runs) for k in keys}
    cpu = statistics.median(r["cpu"] for r in runs)
    fit_cpu = statistics.median(r["bgnbd_fit_cpu"] for r in runs)
    last = runs[-1]
    print(f"after shopscope: {load_note()}")
    print(f"\nshopscope ({args.runs} runs, median wall s; distinct rows {last['distinct_rows']:,})")
    for k in keys:
        print(f"  {k:20s} {med[k]:8.3f}   runs: "
              + ", ".join(f"{r['timings'][k]:.3f}" for r in runs))
    print(f"  {'cpu (user+sys)':20s} {cpu:8.3f}   of which BG/NBD fit {fit_cpu:.3f}")

    print("\nparameters: shopscope (s.e.) vs truth")
    for name, true in {**TRUTH_BG, **TRUTH_GG}.items():
        est, se = last["params"][name], last["standard_errors"][name]
        print(f"  {name:6s} {est:10.4f} ({se:.4f})  truth {true:8.3f}  "
              f"z {(est - true) / se:+.2f}")

    report = {"customers": args.customers, "load_before_after": load_note(),
              "shopscope": {"median": med, "cpu": cpu, "bgnbd_fit_cpu": fit_cpu,
                            "params": last["params"], "standard_errors": last["standard_errors"],
                            "clv_total": last["clv_total"]}}
    rows = {"shopscope": dict(last["params"])}
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
            lcpu = statistics.median(r["cpu"] for r in lt_runs)
            print(f"  {'cpu (user+sys)':20s} {lcpu:8.3f} vs {cpu:7.3f}   x{lcpu / cpu:.1f}")
            lfit = lt_runs[-1]["bgnbd_fit_cpu"]
            print(f"  {'bgnbd_fit cpu':20s} {lfit:8.3f} vs {fit_cpu:7.3f}   x{lfit / fit_cpu:.1f}")
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
            report["lifetimes"] = {"median": lmed, "cpu": lcpu, "bgnbd_fit_cpu": lfit,
                                   "params": lt["params"],
                                   "clv_total": lt.get("clv_total")}
            rows["lifetimes"] = lt["params"]

    pm_python = None if args.no_pymc else find_pymc(args.pymc_python)
    if pm_python is None and not args.no_pymc:
        print("\nPyMC-Marketing: not importable by bench/out/pymc-venv/bin/python or "
              "--pymc-python (see bench/README.md); no comparison")
    for priors in args.pymc_priors.split(",") if pm_python else []:
        print(f"\nPyMC-Marketing MAP, {priors} priors ({pm_python}) ... {load_note()}",
              flush=True)
        pm = run_pymc(pm_python, s, args.pymc_steps, priors, HORIZON_DAYS, args.timeout)
        if "error" in pm:
            print(f"PyMC-Marketing failed: {pm['error']}")
            continue
        print(f"after PyMC-Marketing {pm['version']}: {load_note()}")
        print("PyMC-Marketing vs shopscope (wall s, ratio = PyMC-Marketing / shopscope)")
        for k, v in pm["timings"].items():
            ours = med["bgnbd_fit" if k == "bgnbd_fit_again" else k]
            print(f"  {k:20s} {v:8.3f} vs {ours:7.3f}   x{v / ours:.1f}")
        print(f"  {'cpu (user+sys)':20s} {pm['cpu']:8.3f}   (all the steps above, both fits; "
              f"import {pm['import_s']:.1f} s not counted)")
        print(f"  {'bgnbd_fit cpu':20s} {pm['bgnbd_fit_cpu']:8.3f} vs {fit_cpu:7.3f}   "
              f"x{pm['bgnbd_fit_cpu'] / fit_cpu:.1f}")
        if "expected_total" in pm:
            print(f"  expected purchases in {HORIZON_DAYS:g} days: "
                  f"{last['expected_total']:,.1f} vs {pm['expected_total']:,.1f}; mean "
                  f"P(alive) {last['palive_mean']:.6f} vs {pm['palive_mean']:.6f}")
        rows[f"pymc-marketing {priors}"] = pm["params"]
        report[f"pymc_marketing_{priors}"] = dict(pm.items())

    if len(rows) > 1:
        lls = {p: log_likelihoods(s, v) for p, v in rows.items()}
        print("\nparameters; % = relative to shopscope; LL = log-likelihood at each peer's "
              "parameters under shopscope's likelihood (difference to shopscope's)")
        print_params(rows, "shopscope", list(TRUTH_BG) + list(TRUTH_GG), lls)
        report["log_likelihood"] = lls
        report["params"] = rows
    report["load_end"] = load_note()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
