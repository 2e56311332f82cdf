"""Reference attribution of PathData by ChannelAttribution 2.2.5 (the test oracle).

ChannelAttribution is GPL-3: it is never imported by shopscope or its tests. This script
runs it once, in its own virtual environment, and writes the small CSV the tests read:

    python3 -m venv /tmp/ca-venv
    /tmp/ca-venv/bin/pip install numpy pandas matplotlib channelattribution==2.2.5
    /tmp/ca-venv/bin/python tests/data/attribution/make_reference.py \
        /work/shared/data/attribution/PathData.csv.gz tests/data/attribution/pathdata_reference.csv

Rows: ``model`` (first_touch, last_touch, linear: ``heuristic_models``; markov_1..3:
``markov_model`` of that order), ``channel``, ``conversions``, ``value`` and, for Markov,
``removal_effect`` and ``removal_effect_value`` (``out_more=True``), ``nsim_per_fold`` and
``complete_share`` (the share of simulated walks that ended before the step limit).

Simulation settings (ChannelAttribution simulates the chain; shopscope solves it exactly):
``nsim_start=NSIM`` walks in ``nfold=10`` folds of NSIM/10 each, ``seed=0``, ``ncore=1``,
``conv_par=0.05``, ``rate_step_sim=1.5``, ``max_step=None`` (the longest observed path).
It reports the fold closest to the median of the folds, so its removal effect of a channel
is the share of that fold's simulated conversions that visited the channel: a binomial
proportion over about ``P(conversion) * NSIM / 10`` walks.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys

import pandas as pd
from ChannelAttribution import heuristic_models, markov_model

NSIM = 10_000_000
NFOLD = 10


def main(source: str, target: str) -> None:
    data = pd.read_csv(source)
    cols = dict(var_path="path", var_conv="total_conversions",
                var_value="total_conversion_value")
    rows = []
    h = heuristic_models(data, sep=">", flg_pro=False, **cols)
    for model, name in (("first_touch", "first_touch"), ("last_touch", "last_touch"),
                        ("linear", "linear_touch")):
        rows.append(pd.DataFrame({"model": model, "channel": h["channel_name"],
                                  "conversions": h[f"{name}_conversions"],
                                  "value": h[f"{name}_value"]}))
    for order in (1, 2, 3):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            m = markov_model(data, var_null="total_null", order=order, nsim_start=NSIM,
                             nfold=NFOLD, seed=0, ncore=1, out_more=True, sep=">",
                             verbose=True, flg_pro=False, **cols)
        log = out.getvalue()
        sys.stderr.write(f"order {order}:\n{log}")
        sims = [int(x) for x in re.findall(r"Number of simulations: (\d+)", log)]
        done = re.findall(r"successfully end before .*?: ([0-9.]+)%", log)
        res = m["result"].merge(m["removal_effects"], on="channel_name")
        rows.append(pd.DataFrame({
            "model": f"markov_{order}", "channel": res["channel_name"],
            "conversions": res["total_conversions"], "value": res["total_conversion_value"],
            "removal_effect": res["removal_effects_conversion"],
            "removal_effect_value": res["removal_effects_conversion_value"],
            "nsim_per_fold": sims[-1] // NFOLD if sims else None,
            "complete_share": float(done[-1]) / 100 if done else None}))
    frame = pd.concat(rows, ignore_index=True).sort_values(["model", "channel"])
    frame.to_csv(target, index=False, float_format="%.17g")


if __name__ == "__main__":
    main(*sys.argv[1:3])
