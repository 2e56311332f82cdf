"""Personalised recommendations: interactions counted in the engine, models fitted on the
resulting sparse matrix of aggregates.

Interactions are ``(customer, product)`` aggregates over a window: the orders holding the
product (non-cancelled orders with a customer), the customer's add-to-cart events and
views (``events.user_id`` is the customer id). Their weighted sum is the interaction
strength the models learn from; the purchase count alone drives "buy again", the
already-bought filter and "customers who bought this also bought". Only the aggregates
leave the engine (one row per customer and product).

Models (``KINDS``), all scoring every catalogue item for a customer:

* ``popularity``: how many customers interacted with the item (the same list for all);
* ``buy_again``: the customer's own purchase counts, ties and the rest by popularity;
* ``item_knn``: item-item cosine similarity of the interaction columns, each item keeping
  its ``neighbours`` most similar; a customer's score is their row times the similarities;
* ``item_bm25``: the same on co-occurrence of BM25-weighted rows (customers as documents,
  items as terms: frequent items and heavy customers count less);
* ``als`` / ``bpr``: implicit-feedback matrix factorisation (alternating least squares,
  Bayesian personalised ranking) from the ``implicit`` package (``pip install
  'shopscope[recs]'``), on the CPU with one thread per core.

A fitted :class:`Model` is saved as one ``.npz`` of plain arrays (no pickled objects).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopscope.core.tables import TableSource
from shopscope.errors import OptionError, ShopscopeError
from shopscope.products.metrics import _window

KINDS = ("popularity", "buy_again", "item_knn", "item_bm25", "als", "bpr")
BASELINES = ("popularity", "buy_again")


class MissingExtra(ShopscopeError):
    """A model needs a package that is not installed."""

    exit_code = 2


@dataclass(frozen=True)
class Weights:
    """How much one purchase, one add-to-cart and one view of a product count, and where
    purchases come from: ``orders`` (the order lines) or ``events`` (purchase events, for
    sources without orders such as the Taobao behaviour log)."""

    purchase: float = 1.0
    cart: float = 0.3
    view: float = 0.1
    purchases_from: str = "orders"


# -- interactions, in the engine -----------------------------------------------------------
def interactions(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
                 weights: Weights = Weights(), *, events: bool = True) -> ir.Table:
    """One row per ``(customer_id, product_id)`` with ``purchases`` (orders holding it, or
    purchase events), ``carts``, ``views`` and the weighted ``score``, over ``start <= time
    < stop`` (``events=False``: purchases only)."""
    if weights.purchases_from not in ("orders", "events"):
        raise OptionError(f"purchases_from={weights.purchases_from!r}",
                          hint="purchases come from orders or events")
    kinds = []
    if weights.purchases_from == "events":
        kinds.append("purchase")
    if events:
        kinds += [k for k, w in (("add_to_cart", weights.cart), ("view", weights.view)) if w]
    parts = []
    if weights.purchases_from == "orders":
        orders = _window(tables.table("orders"), "ordered_at", start, stop)
        orders = orders.filter(orders.status != "cancelled", orders.customer_id.notnull())
        heads = orders.select(_oid=orders.order_id, customer_id=orders.customer_id)
        lines = tables.table("order_items")
        lines = lines.filter(lines.product_id.notnull())
        j = lines.join(heads, lines.order_id == heads._oid)
        parts.append(j.group_by(["customer_id", "product_id"]).aggregate(
            purchases=j.order_id.nunique().cast("float64"),
            carts=ibis.literal(0.0), views=ibis.literal(0.0)))
    if kinds and _has_events(tables):
        e = _window(tables.table("events"), "event_at", start, stop)
        e = e.filter(e.user_id.notnull(), e.product_id.notnull(), e.event_type.isin(kinds))
        parts.append(e.group_by([e.user_id.name("customer_id"), "product_id"]).aggregate(
            purchases=(e.event_type == "purchase").sum().cast("float64"),
            carts=(e.event_type == "add_to_cart").sum().cast("float64"),
            views=(e.event_type == "view").sum().cast("float64")))
    if not parts:
        raise OptionError("no purchases to learn from: the store has no events",
                          hint="use purchases from orders")
    u = ibis.union(*parts) if len(parts) > 1 else parts[0]
    g = u.group_by(["customer_id", "product_id"]).aggregate(
        purchases=u.purchases.sum(), carts=u.carts.sum(), views=u.views.sum())
    return g.mutate(score=g.purchases * weights.purchase + g.carts * weights.cart
                    + g.views * weights.view)


def _has_events(tables: TableSource) -> bool:
    try:
        tables.table("events")
    except Exception:  # a store without the events table (orders-only sources)
        return False
    return True


@dataclass(frozen=True, eq=False)
class Data:
    """The interaction matrix: ``X`` (customers × items, weighted score) and ``B``
    (purchase counts) over the ids ``users`` and ``items`` (sorted)."""

    users: np.ndarray
    items: np.ndarray
    X: sp.csr_matrix
    B: sp.csr_matrix

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Data:
        frame = frame[frame["score"] > 0]
        users, u = np.unique(frame["customer_id"].astype(str).to_numpy(), return_inverse=True)
        items, i = np.unique(frame["product_id"].astype(str).to_numpy(), return_inverse=True)
        shape = (len(users), len(items))
        X = sp.csr_matrix((frame["score"].to_numpy(np.float64), (u, i)), shape=shape)
        B = sp.csr_matrix((frame["purchases"].to_numpy(np.float64), (u, i)), shape=shape)
        B.eliminate_zeros()
        return cls(users=users, items=items, X=X, B=B)

    @classmethod
    def load(cls, tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
             weights: Weights = Weights()) -> Data:
        return cls.from_frame(interactions(tables, start, stop, weights).execute())


# -- models --------------------------------------------------------------------------------
@dataclass(eq=False)
class Model:
    """A fitted recommender over ``data``: ``kind``, its ``params`` and its arrays
    (``sim``: item × item similarities; ``user_factors``/``item_factors``)."""

    kind: str
    data: Data
    params: dict[str, Any] = field(default_factory=dict)
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sim: sp.csr_matrix | None = None
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def _once(self, name: str, compute: Any) -> Any:
        """A derived array computed on first use (serving asks for it on every call)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    # -- lookup
    def user_index(self, customer_id: str) -> int | None:
        return _index(self.data.users, customer_id)

    def item_index(self, product_id: str) -> int | None:
        return _index(self.data.items, product_id)

    # -- scores
    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores of every item for the customers at ``rows`` (a dense array)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self.data.items)
        pop = self.popularity / max(float(self.popularity.max(initial=0.0)), 1.0)
        if self.kind == "popularity":
            return np.broadcast_to(pop, (len(rows), n)).copy()
        if self.kind == "buy_again":
            # purchase counts are whole numbers: popularity (< 1) only breaks ties
            return self.data.B[rows].toarray() + 0.5 * pop
        if self.kind in ("item_knn", "item_bm25"):
            assert self.sim is not None
            return np.asarray((self.data.X[rows] @ self.sim).todense()) + 1e-9 * pop
        if self.kind in ("als", "bpr"):
            assert self.user_factors is not None and self.item_factors is not None
            return self.user_factors[rows] @ self.item_factors.T
        raise OptionError(f"unknown model {self.kind!r}", hint=f"use one of {', '.join(KINDS)}")

    def recommend(self, rows: np.ndarray, k: int, filter_bought: bool) -> np.ndarray:
        """The ``k`` best item indices per customer row (-1 pads when fewer qualify),
        leaving out the items each customer bought when ``filter_bought``."""
        s = self.scores(rows)
        if filter_bought:
            b = self.data.B[np.asarray(rows, dtype=np.int64)].tocoo()
            s[b.row, b.col] = -np.inf
        return top_k(s, k)

    def similar(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to ``item`` and their similarity (itself left out):
        the model's own similarities (kNN), cosine of item factors (ALS, BPR) or cosine of
        the interaction columns (baselines)."""
        if self.sim is not None:
            col = np.asarray(self.sim[:, item].todense()).ravel()
        elif self.item_factors is not None:
            v = self.item_factors
            norms = self._once("factor_norms", lambda: _nonzero(np.linalg.norm(v, axis=1)))
            col = (v @ v[item]) / (norms * norms[item])
        else:
            X = self.data.X
            Xc = self._once("X_csc", lambda: sp.csc_matrix(X))
            norms = self._once("column_norms", lambda: _nonzero(
                np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())))
            lo, hi = Xc.indptr[item], Xc.indptr[item + 1]  # the item's customers only
            dots = X[Xc.indices[lo:hi]].T @ Xc.data[lo:hi]
            col = np.asarray(dots).ravel() / (norms * norms[item])
        col = col.astype(np.float64)
        col[item] = -np.inf
        col[col <= 0] = -np.inf
        idx = top_k(col[None, :], k)[0]
        idx = idx[idx >= 0]
        return idx, col[idx]

    def also_bought(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Customers who bought ``item`` also bought: the ``k`` items bought by most of its
        buyers, their count of such buyers and the item's buyer count."""
        b = self._once("bought", lambda: sp.csr_matrix((self.data.B > 0), dtype=np.float64))
        bc = self._once("bought_csc", lambda: sp.csc_matrix(b))
        buyers = bc.indices[bc.indptr[item]:bc.indptr[item + 1]]
        if len(buyers) == 0:
            return np.zeros(0, np.int64), np.zeros(0), 0
        co = np.asarray(b[buyers].sum(axis=0)).ravel()
        co[item] = 0
        s = np.where(co > 0, co, -np.inf)
        idx = top_k(s[None, :], k)[0]
        idx = idx[idx >= 0]
        return idx, co[idx], len(buyers)

    # -- storage
    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "kind": np.array(self.kind), "users": self.data.users.astype(str),
            "items": self.data.items.astype(str), "popularity": self.popularity}
        for name, m in (("X", self.data.X), ("B", self.data.B), ("sim", self.sim)):
            if m is not None:
                m = sp.csr_matrix(m)
                arrays |= {f"{name}_data": m.data, f"{name}_indices": m.indices,
                           f"{name}_indptr": m.indptr, f"{name}_shape": np.array(m.shape)}
        if self.user_factors is not None and self.item_factors is not None:
            arrays |= {"user_factors": self.user_factors, "item_factors": self.item_factors}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, params: dict[str, Any] | None = None) -> Model:
        with np.load(path, allow_pickle=False) as z:
            def csr(name: str) -> sp.csr_matrix | None:
                if f"{name}_data" not in z:
                    return None
                return sp.csr_matrix((z[f"{name}_data"], z[f"{name}_indices"],
                                      z[f"{name}_indptr"]), shape=tuple(z[f"{name}_shape"]))

            X, B = csr("X"), csr("B")
            assert X is not None and B is not None
            data = Data(users=z["users"], items=z["items"], X=X, B=B)
            return cls(kind=str(z["kind"]), data=data, params=params or {},
                       popularity=z["popularity"], sim=csr("sim"),
                       user_factors=z.get("user_factors"), item_factors=z.get("item_factors"))


def _nonzero(norms: np.ndarray) -> np.ndarray:
    """Norms with zeros replaced by 1 (a column without interactions divides by 1)."""
    return np.where(norms == 0, 1.0, norms)


def _index(ids: np.ndarray, key: str) -> int | None:
    i = int(np.searchsorted(ids, key))
    return i if i < len(ids) and ids[i] == key else None


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the ``k`` highest finite scores, best first, ties by lower
    index; -1 pads rows with fewer than ``k`` finite scores."""
    n_rows, n = scores.shape
    k_eff = min(k, n)
    out = np.full((n_rows, k), -1, dtype=np.int64)
    if k_eff == 0:
        return out
    if k_eff < n:
        # a candidate set holding every item tied with the k-th best, then an exact order
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        for r in range(n_rows):
            cand = np.flatnonzero(scores[r] >= kth[r])
            order = cand[np.lexsort((cand, -scores[r, cand]))][:k_eff]
            out[r, :len(order)] = order
    else:
        out[:, :n] = np.lexsort((np.broadcast_to(np.arange(n), scores.shape), -scores),
                                axis=1)
    taken = np.take_along_axis(scores, np.maximum(out, 0), axis=1)
    out[~np.isfinite(taken) | (out < 0)] = -1
    return out


def _keep_top(sim: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest entries of each column (an item's neighbours)."""
    sim = sp.csc_matrix(sim)
    sim.setdiag(0)
    sim.eliminate_zeros()
    data, rows, cols = [], [], []
    for j in range(sim.shape[1]):
        lo, hi = sim.indptr[j], sim.indptr[j + 1]
        d, r = sim.data[lo:hi], sim.indices[lo:hi]
        if len(d) > n:
            keep = np.lexsort((r, -d))[:n]
            d, r = d[keep], r[keep]
        data.append(d)
        rows.append(r)
        cols.append(np.full(len(d), j))
    if not data:
        return sp.csr_matrix(sim.shape)
    return sp.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                         shape=sim.shape)


def cosine(X: sp.csr_matrix, neighbours: int = 100) -> sp.csr_matrix:
    """Item × item cosine similarity of the columns of ``X``, top ``neighbours`` per item."""
    X = sp.csr_matrix(X, dtype=np.float64)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
    inv = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
    Xn = X @ inv
    return _keep_top(sp.csr_matrix(Xn.T @ Xn), neighbours)


def bm25(X: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weights of ``X`` with customers as documents and items as terms."""
    X = sp.coo_matrix(X, dtype=np.float64)
    n_users = X.shape[0]
    df = np.bincount(X.col, minlength=X.shape[1])
    idf = np.log(n_users / np.maximum(df, 1))  # an item everyone has weighs 0
    length = np.bincount(X.row, weights=X.data, minlength=n_users)
    avg = length.mean() if n_users else 1.0
    denom = X.data + k1 * (1 - b + b * length[X.row] / (avg or 1.0))
    w = X.data * (k1 + 1) / denom * idf[X.col]
    return sp.csr_matrix((w, (X.row, X.col)), shape=X.shape)


def cooccurrence(X: sp.csr_matrix, neighbours: int = 100) -> sp.csr_matrix:
    """Item × item co-occurrence of BM25-weighted rows, top ``neighbours`` per item."""
    W = bm25(X)
    return _keep_top(sp.csr_matrix(W.T @ W), neighbours)


def threads() -> int:
    """Worker threads for the factorisation models: the machine's cores."""
    return max(1, os.cpu_count() or 1)


def _implicit(kind: str) -> Any:
    try:
        if kind == "als":
            from implicit.cpu.als import AlternatingLeastSquares
            return AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        return BayesianPersonalizedRanking
    except ImportError:
        raise MissingExtra(f"the {kind} model needs the package implicit, which is not "
                           "installed", hint="pip install 'shopscope[recs]'") from None


#: Default hyper-parameters per model.
DEFAULTS: dict[str, dict[str, Any]] = {
    "popularity": {}, "buy_again": {}, "item_knn": {"neighbours": 100},
    "item_bm25": {"neighbours": 100},
    "als": {"factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
    "bpr": {"factors": 64, "learning_rate": 0.05, "regularization": 0.01, "iterations": 100},
}


def fit(kind: str, data: Data, seed: int = 0, **params: Any) -> Model:
    """Fit the model ``kind`` on ``data`` (hyper-parameters over :data:`DEFAULTS`)."""
    if kind not in KINDS:
        raise OptionError(f"unknown model {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    p = {**DEFAULTS[kind], **params}
    popularity = np.asarray((data.X > 0).sum(axis=0), dtype=np.float64).ravel()
    model = Model(kind=kind, data=data, params=p, popularity=popularity)
    if kind == "item_knn":
        model.sim = cosine(data.X, p["neighbours"])
    elif kind == "item_bm25":
        model.sim = cooccurrence(data.X, p["neighbours"])
    elif kind in ("als", "bpr"):
        cls = _implicit(kind)
        from threadpoolctl import threadpool_limits

        user_items = sp.csr_matrix(data.X, dtype=np.float32)
        if kind == "als":  # confidence grows with the log of the interaction strength
            user_items.data = np.log1p(user_items.data)
        with threadpool_limits(1, "blas"):  # implicit's own threads, not BLAS's
            algo = cls(**p, num_threads=threads(), random_state=seed)
            algo.fit(user_items, show_progress=False)
        model.user_factors = np.asarray(algo.user_factors, dtype=np.float32)
        model.item_factors = np.asarray(algo.item_factors, dtype=np.float32)
    return model
