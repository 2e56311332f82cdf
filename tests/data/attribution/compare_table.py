"""Print the PathData comparison of docs/marketing.md: conversions per channel by each of
shopscope's models next to ChannelAttribution 2.2.5 (pathdata_reference.csv), then the time
of each model (best of 5 runs). Run from the repository root:

    PYTHONPATH=src python tests/data/attribution/compare_table.py \
        /work/shared/data/attribution/PathData.csv.gz
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from shopscope.marketing import attribution as at
from shopscope.marketing import service as svc

HERE = Path(__file__).parent


def best(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(source: str) -> None:
    t = time.perf_counter()
    j = svc.read_paths(source)
    read = time.perf_counter() - t
    ref = pd.read_csv(HERE / "pathdata_reference.csv")
    ca = ref.pivot(index="channel", columns="model", values="conversions")
    ours = at.wide(pd.concat([at.compare(j, order=o) for o in (1, 2, 3)])
                   .drop_duplicates(["channel", "model"]))
    cols = {"first_touch": "first", "last_touch": "last", "linear": "linear"}
    table = pd.DataFrame(index=ours.index)
    for model, short in cols.items():
        table[f"{short}"] = ours[model]
        table[f"{short} CA"] = ca[model]
    for model in ("last_non_direct", "time_decay", "position_based"):
        table[model.replace("_", " ")] = ours[model]
    for order in (1, 2, 3):
        table[f"markov {order}"] = ours[f"markov_{order}"]
        table[f"markov {order} CA"] = ca[f"markov_{order}"]
    table["shapley"] = ours["shapley"]
    table.loc["total"] = table.sum()
    print("| channel | " + " | ".join(table.columns) + " |")
    print("|---|" + "---:|" * len(table.columns))
    for channel, row in table.iterrows():
        print(f"| {channel} | " + " | ".join(f"{x:,.1f}" for x in row) + " |")
    print()
    runs = {name: (lambda n=name: getattr(at, n)(j)) for name in at.RULES}
    for order in (1, 2, 3):
        runs[f"markov_{order}"] = lambda o=order: at.markov(j, o)
    runs["shapley (exact, 4,096 coalitions)"] = lambda: at.shapley(j)
    runs["shapley (sampled, 2,000 permutations)"] = lambda: at.shapley(j, exact_limit=0)
    print("| step | seconds |\n|---|---:|")
    print(f"| read and parse the file | {read:.3f} |")
    for name, fn in runs.items():
        print(f"| {name} | {best(fn):.3f} |")


if __name__ == "__main__":
    main(sys.argv[1])
