"""Offline evaluation of the recommenders on a temporal holdout.

The split: models are fitted on the interactions before ``cutoff`` (order lines and
events); the test is what customers bought in the ``test_days`` days from ``cutoff``. A
customer counts when they have training history (a row in the training matrix) and at
least one test purchase; their relevant items are the distinct products they bought in the
test window (items the training data never saw stay relevant, and cannot be hit). With
``filter_bought`` the lists leave out what each customer bought before the cutoff, so those
items are not relevant either and only customers who bought something new count.

Per customer with top-K list ``R`` and relevant set ``T`` (``hits`` = items of ``R`` in
``T``), averaged over the counted customers:

* Precision@K = hits / K; Recall@K = hits / |T|; hit rate = share with hits > 0;
* NDCG@K = DCG / IDCG, DCG = Σ over hit positions i (1-based) of 1 / log2(i + 1), IDCG the
  DCG of min(K, |T|) hits at the top;
* MAP@K: AP@K = Σ over hit positions i of Precision@i / min(K, |T|);

and over all lists: coverage = distinct recommended items / training catalogue; novelty =
mean of -log2(share of training customers who interacted with the item) over every
recommended item.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopscope.core.tables import TableSource
from shopscope.products.recommend import Data, Model, Weights, fit, interactions

METRICS = ("ndcg", "recall", "precision", "map", "hit_rate", "coverage", "novelty")


# -- metrics of one list -------------------------------------------------------------------
def precision_at_k(recs: Sequence[object], relevant: AbstractSet[object], k: int) -> float:
    return sum(1 for r in recs[:k] if r in relevant) / k


def recall_at_k(recs: Sequence[object], relevant: AbstractSet[object], k: int) -> float:
    if not relevant:
        return 0.0
    return sum(1 for r in recs[:k] if r in relevant) / len(relevant)


def ndcg_at_k(recs: Sequence[object], relevant: AbstractSet[object], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(recs[:k]) if r in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def average_precision_at_k(recs: Sequence[object], relevant: AbstractSet[object], k: int) -> float:
    hits, total = 0, 0.0
    for i, r in enumerate(recs[:k]):
        if r in relevant:
            hits += 1
            total += hits / (i + 1)
    n = min(k, len(relevant))
    return total / n if n else 0.0


def coverage(lists: Sequence[Sequence[object]], catalogue: int) -> float:
    """Distinct recommended items over the catalogue size."""
    seen = {r for recs in lists for r in recs}
    return len(seen) / catalogue if catalogue else 0.0


def novelty(lists: Sequence[Sequence[int]], share: np.ndarray) -> float:
    """Mean self-information -log2(share) of every recommended item (``share[i]``: the
    share of training customers who interacted with item ``i``)."""
    flat = [share[r] for recs in lists for r in recs]
    return float(np.mean(-np.log2(flat))) if flat else 0.0


# -- the split -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Split:
    """Training data before ``cutoff`` and each counted customer's test purchases
    (``rows``: their training rows; ``relevant``: product ids bought in the test window)."""

    cutoff: dt.date
    test_days: int
    train: Data
    rows: np.ndarray
    relevant: list[set[str]]
    test_customers: int  # customers buying in the test window, with or without history


def _at(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day)


def split(tables: TableSource, cutoff: dt.date, test_days: int,
          weights: Weights = Weights()) -> Split:
    """Train on everything before ``cutoff``, test on purchases of the next ``test_days``."""
    stop = cutoff + dt.timedelta(days=test_days)
    train = Data.load(tables, None, _at(cutoff), weights)
    test = interactions(tables, _at(cutoff), _at(stop), weights, events=False)
    test = test.filter(test.purchases > 0).select("customer_id", "product_id").execute()
    rows, relevant = [], []
    for cid, g in test.groupby("customer_id", sort=True):
        i = _find(train.users, str(cid))
        if i is not None:
            rows.append(i)
            relevant.append({str(p) for p in g["product_id"]})
    return Split(cutoff=cutoff, test_days=test_days, train=train,
                 rows=np.asarray(rows, dtype=np.int64), relevant=relevant,
                 test_customers=int(test["customer_id"].nunique()))


def _find(ids: np.ndarray, key: str) -> int | None:
    i = int(np.searchsorted(ids, key))
    return i if i < len(ids) and ids[i] == key else None


# -- scoring models ------------------------------------------------------------------------
def score(model: Model, s: Split, k: int, filter_bought: bool,
          batch: int = 2048) -> dict[str, float]:
    """The metrics of ``model`` (fitted on ``s.train``) on the split's customers."""
    items = model.data.items
    rows, relevant = s.rows, s.relevant
    if filter_bought:
        # items bought before the cutoff cannot be recommended, so they are not relevant
        # either: only customers buying something new count
        B = model.data.B
        new = [rel - {str(items[j]) for j in B.indices[B.indptr[r]:B.indptr[r + 1]]}
               for r, rel in zip(rows, relevant, strict=True)]
        keep = [i for i, rel in enumerate(new) if rel]
        rows, relevant = rows[keep], [new[i] for i in keep]
    lists: list[list[int]] = []
    for lo in range(0, len(rows), batch):
        top = model.recommend(rows[lo:lo + batch], k, filter_bought)
        lists.extend([int(x) for x in row if x >= 0] for row in top)
    out = {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0, "hit_rate": 0.0,
           "customers": float(len(rows))}
    for recs, rel in zip(lists, relevant, strict=True):
        ids = [str(items[i]) for i in recs]
        out["precision"] += precision_at_k(ids, rel, k)
        out["recall"] += recall_at_k(ids, rel, k)
        out["ndcg"] += ndcg_at_k(ids, rel, k)
        out["map"] += average_precision_at_k(ids, rel, k)
        out["hit_rate"] += any(i in rel for i in ids)
    n = max(len(lists), 1)
    out = {m: v if m == "customers" else v / n for m, v in out.items()}
    share = model.popularity / max(len(model.data.users), 1)
    out["coverage"] = coverage(lists, len(items))
    out["novelty"] = novelty(lists, share)
    return out


def evaluate(s: Split, kinds: Sequence[str], k: int = 10, filter_bought: bool = False,
             seed: int = 0) -> pd.DataFrame:
    """One row per model: the metrics at ``k``, the customers counted and the fit time;
    sorted best first by NDCG@K (then recall, then the model's name)."""
    rows = []
    for kind in kinds:
        t0 = time.perf_counter()
        model = fit(kind, s.train, seed=seed)
        fit_s = time.perf_counter() - t0
        rows.append({"model": kind, **score(model, s, k, filter_bought), "fit_seconds": fit_s})
    frame = pd.DataFrame(rows, columns=["model", *METRICS, "customers", "fit_seconds"])
    frame["customers"] = frame["customers"].astype(int)
    return frame.sort_values(["ndcg", "recall", "model"],
                             ascending=[False, False, True]).reset_index(drop=True)
