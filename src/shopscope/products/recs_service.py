"""Personalised recommendations, the products area's service for them: evaluate the
recommenders on a temporal holdout (:mod:`shopscope.products.evaluate`), train and store
the best (:mod:`shopscope.products.recommend`), and answer from the stored model: a
customer's top N, an audience's top N per member, a product's similar items.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import Field

from shopscope.core.periods import data_span
from shopscope.core.service import Context, Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.customers import audience_expr
from shopscope.customers import service as customers
from shopscope.customers.service import OPERATOR, Viewer
from shopscope.errors import OptionError, ShopscopeError
from shopscope.privacy import is_pseudonym, looks_like_pii
from shopscope.products import evaluate as ev
from shopscope.products.recommend import KINDS, Data, MissingExtra, Model, Weights, fit, top_k
from shopscope.products.service import ProductNotFound, order_span

if TYPE_CHECKING:
    from shopscope.store import Workspace

ModelKind = Literal["popularity", "buy_again", "item_knn", "item_bm25", "als", "bpr"]
#: Where a trained model lives in the workspace: arrays (npz) and what it is (json).
MODEL_DIR = Path("models") / "recs"


class NoModel(ShopscopeError, LookupError):
    """No recommendation model has been trained in this workspace."""


class CustomerNotFound(ShopscopeError, LookupError):
    """A customer id the model and the store do not know."""


class PiiRefused(ShopscopeError, PermissionError):
    """A non-admin asked for a customer by an id that is personal data."""


class RecsEvalParams(Params):
    """A temporal holdout: train before ``cutoff`` (None: ``test_days`` before the day
    after the last order), test on the purchases of the next ``test_days`` days; metrics at
    ``k``; interaction weights of an order, an add-to-cart and a view."""

    cutoff: dt.date | None = None
    test_days: int = Field(30, ge=1, le=366)
    k: int = Field(10, ge=1, le=100)
    filter_bought: bool = False
    models: tuple[ModelKind, ...] | None = None  # None: all (ALS, BPR when installed)
    purchase_weight: float = Field(1.0, ge=0, le=1000)
    cart_weight: float = Field(0.3, ge=0, le=1000)
    view_weight: float = Field(0.1, ge=0, le=1000)
    purchases_from: Literal["orders", "events"] = "orders"

    def weights(self) -> Weights:
        return Weights(self.purchase_weight, self.cart_weight, self.view_weight,
                       self.purchases_from)


@dataclass(frozen=True, eq=False)
class RecsEvaluation:
    """The holdout ``table`` (one row per model, best first by NDCG@K), the ``best``
    model, the split (``cutoff``, last test day ``test_end``) and the counts: training
    customers and items, customers counted (history and test purchases) and buying in
    the test window; ``skipped`` models (extra not installed)."""

    params: RecsEvalParams
    cutoff: dt.date
    test_end: dt.date
    table: pd.DataFrame
    best: str
    train_customers: int
    train_items: int
    customers: int
    test_customers: int
    skipped: tuple[str, ...] = ()


def _kinds(asked: tuple[str, ...] | None) -> tuple[list[str], tuple[str, ...]]:
    kinds = list(asked or KINDS)
    if importlib.util.find_spec("implicit") is None:
        if asked and {"als", "bpr"} & set(asked):
            raise MissingExtra("the als and bpr models need the package implicit, which is "
                               "not installed", hint="pip install 'shopscope[recs]'")
        return [k for k in kinds if k not in ("als", "bpr")], ("als", "bpr")
    return kinds, ()


def _recs_evaluation(ctx: Context, params: RecsEvalParams) -> RecsEvaluation:
    span = (order_span(ctx) if params.purchases_from == "orders" else
            data_span(ctx.store, [("events", "event_at")]))
    if span is None:
        raise NoModel(f"no {params.purchases_from} to evaluate recommendations on",
                      hint="load data first (shopscope ingest)")
    cutoff = params.cutoff or span[1] + dt.timedelta(days=1 - params.test_days)
    if cutoff <= span[0]:
        raise OptionError(f"cutoff {cutoff} leaves no training data (orders start "
                          f"{span[0]})", hint="choose a later --cutoff or fewer --test-days")
    kinds, skipped = _kinds(params.models)
    s = ev.split(ctx.store, cutoff, params.test_days, params.weights())
    if not len(s.rows):
        raise OptionError(f"no customer both bought before {cutoff} and in the "
                          f"{params.test_days} days after it",
                          hint="choose another --cutoff or more --test-days")
    table = ev.evaluate(s, kinds, k=params.k, filter_bought=params.filter_bought)
    return RecsEvaluation(
        params=params, cutoff=cutoff, test_end=cutoff + dt.timedelta(days=params.test_days - 1),
        table=table, best=str(table["model"].iloc[0]), train_customers=len(s.train.users),
        train_items=len(s.train.items), customers=len(s.rows),
        test_customers=s.test_customers, skipped=skipped)


def recs_evaluation(ctx: Context, params: RecsEvalParams) -> RecsEvaluation:
    """Every model and baseline on the temporal holdout (Recall, Precision, NDCG, MAP@K,
    hit rate, coverage, novelty); the best by NDCG@K is the default model."""
    return ctx.cached(("products.recs.evaluation", params.cache_key()),
                      lambda: _recs_evaluation(ctx, params))


class TrainParams(RecsEvalParams):
    """Evaluate on the holdout, then fit ``model`` (None: the holdout's best by NDCG@K) on
    all the data and store it in the workspace."""

    model: ModelKind | None = None


@dataclass(frozen=True, eq=False)
class StoredModel:
    """A trained model as stored: what it is (``info``, the json) and its arrays."""

    info: dict[str, Any]
    model: Model
    path: Path


class _WorkspaceContext(Context, Protocol):
    @property
    def workspace(self) -> Workspace: ...


def model_dir(ctx: Context) -> Path:
    """The workspace folder holding the trained recommendation model."""
    ws: _WorkspaceContext = ctx  # type: ignore[assignment]
    return Path(ws.workspace.path) / MODEL_DIR


def train_recs(ctx: Context, params: TrainParams) -> StoredModel:
    """Evaluate, fit the chosen model on every interaction and store it (``model.npz``
    and ``model.json``: kind, parameters, data version, evaluation) in ``models/recs/``."""
    evaluation = _recs_evaluation(ctx, params)
    kind = params.model or evaluation.best
    _kinds((kind,))
    data = Data.load(ctx.store, None, None, params.weights())
    model = fit(kind, data)
    folder = model_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.npz")
    info = {
        "model": kind, "chosen": "asked" if params.model else "best NDCG@K on the holdout",
        "params": model.params, "filter_bought": params.filter_bought, "k": params.k,
        "weights": {"purchase": params.purchase_weight, "cart": params.cart_weight,
                    "view": params.view_weight, "purchases_from": params.purchases_from},
        "data_version": ctx.store.data_version(),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "customers": len(data.users), "items": len(data.items),
        "evaluation": {"cutoff": evaluation.cutoff.isoformat(),
                       "test_end": evaluation.test_end.isoformat(),
                       "customers": evaluation.customers, "best": evaluation.best,
                       "table": [{k: (v if isinstance(v, str) else float(v)) for k, v in r.items()}
                                 for r in evaluation.table.to_dict("records")]},
    }
    tmp = folder / "model.json.tmp"
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, folder / "model.json")
    return StoredModel(info=info, model=model, path=folder)


def stored_model(ctx: Context) -> StoredModel:
    """The trained model of the workspace (loaded once per file version)."""
    folder = model_dir(ctx)
    meta, arrays = folder / "model.json", folder / "model.npz"
    if not meta.exists() or not arrays.exists():
        raise NoModel("no recommendation model has been trained in this workspace",
                      hint="run `shopscope recommend train`")
    stamp = (meta.stat().st_mtime_ns, arrays.stat().st_mtime_ns)

    def load() -> StoredModel:
        info = json.loads(meta.read_text())
        return StoredModel(info=info, model=Model.load(arrays, info.get("params")),
                           path=folder)

    return ctx.cached(("products.recs.model", str(folder), stamp), load)


def _pseudonym(customer_id: str, key: str) -> str:
    # the same digest as shopscope.privacy.pseudonym computes in the engine
    return "c_" + hashlib.sha256((key + customer_id).encode()).hexdigest()[:16]


def shown_id(customer_id: str, viewer: Viewer) -> str:
    """The customer id as ``viewer`` may see it (a pseudonym when it is personal data)."""
    if viewer.admin or not viewer.pseudonym_key or not looks_like_pii(customer_id):
        return customer_id
    return _pseudonym(customer_id, viewer.pseudonym_key)


def _real_id(ctx: Context, stored: StoredModel, customer_id: str, viewer: Viewer) -> str:
    key = viewer.pseudonym_key
    if is_pseudonym(customer_id) and key:
        def table() -> dict[str, str]:
            return {_pseudonym(u, key): u for u in map(str, stored.model.data.users)
                    if looks_like_pii(u)}

        found = ctx.cached(("products.recs.pseudonyms", str(stored.path), key), table)
        if customer_id in found:
            return found[customer_id]
    if not viewer.admin and looks_like_pii(customer_id):
        raise PiiRefused("this customer id is an e-mail address or a phone number; only "
                         "admins may look it up", hint="use the pseudonymous id (c_…)")
    return customer_id


class RecsForParams(Params):
    """The top ``k`` items for one customer; ``filter_bought`` None: as trained."""

    customer_id: str = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)
    filter_bought: bool | None = None


@dataclass(frozen=True, eq=False)
class Recommendations:
    """``items`` (product_id, name, category, score, bought: times the customer bought
    it) from the stored ``model``; ``fallback``: the customer has no history in the model
    (popular items); ``stale``: the data changed since training."""

    params: RecsForParams
    customer_id: str  # as the viewer may see it
    model: str
    filter_bought: bool
    items: pd.DataFrame
    fallback: bool
    stale: bool
    data_version: str


@dataclass(frozen=True, eq=False)
class _Serving:
    """What answering from a stored model needs besides its arrays, read once per model
    and data version: names and categories of its items, and whether it is stale."""

    names: np.ndarray
    categories: np.ndarray
    stale: bool


def _serving(ctx: Context, stored: StoredModel) -> _Serving:
    def build() -> _Serving:
        items = [str(i) for i in stored.model.data.items]
        p = ctx.store.table("products")
        got = p.select("product_id", "name", "category").execute().drop_duplicates(
            "product_id").set_index("product_id")
        got = got.reindex(items)
        return _Serving(names=got["name"].to_numpy(object),
                        categories=got["category"].to_numpy(object),
                        stale=stored.info.get("data_version") != ctx.store.data_version())

    return ctx.cached(("products.recs.serving", str(stored.path),
                       stored.info.get("trained_at")), build)


def _catalogue(serving: _Serving, idx: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"name": serving.names[idx], "category": serving.categories[idx]})


def _known_customer(ctx: Context, customer_id: str) -> bool:
    c = ctx.store.table("customers")
    return int(c.filter(c.customer_id == customer_id).count().execute()) > 0


def recommend_for(ctx: Context, params: RecsForParams,
                  viewer: Viewer = OPERATOR) -> Recommendations:
    """The stored model's top ``k`` for one customer."""
    stored = stored_model(ctx)
    real = _real_id(ctx, stored, params.customer_id, viewer)
    shown = shown_id(real, viewer)
    m = stored.model
    filter_bought = (bool(stored.info.get("filter_bought", False))
                     if params.filter_bought is None else params.filter_bought)

    def build() -> Recommendations:
        row = m.user_index(real)
        if row is None:
            if not _known_customer(ctx, real):
                raise CustomerNotFound(f"no customer {shown!r}",
                                       hint="customer ids are listed by GET /api/customers")
            pop = Model(kind="popularity", data=m.data, popularity=m.popularity)
            top, scores = pop.recommend(np.zeros(1, np.int64), params.k, False)[0], pop
        else:
            top = m.recommend(np.array([row]), params.k, filter_bought)[0]
            scores = m
        top = top[top >= 0]
        s = scores.scores(np.array([row or 0]))[0][top]
        bought = (np.asarray(m.data.B[row].todense()).ravel()[top] if row is not None
                  else np.zeros(len(top)))
        serving = _serving(ctx, stored)
        items = pd.concat([pd.DataFrame({"product_id": m.data.items[top].astype(str)}),
                           _catalogue(serving, top)], axis=1)
        items["score"] = s.astype(float)
        items["bought"] = bought.astype(int)
        return Recommendations(params=params, customer_id=shown, model=m.kind,
                               filter_bought=filter_bought, items=items,
                               fallback=row is None, stale=serving.stale,
                               data_version=str(stored.info.get("data_version")))

    return ctx.cached(("products.recs.for", str(stored.path), real, params.cache_key(),
                       stored.info.get("trained_at")), build)


class SimilarParams(Params):
    product_id: str = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)


@dataclass(frozen=True, eq=False)
class SimilarItems:
    """Items ``similar`` to one product by the stored model (product_id, name,
    category, similarity) and ``also_bought`` (customers who bought it also bought:
    product_id, name, category, buyers = its buyers who bought the item, share = buyers /
    ``buyers`` of the product)."""

    params: SimilarParams
    model: str
    name: str | None
    buyers: int
    similar: pd.DataFrame
    also_bought: pd.DataFrame


def similar_items(ctx: Context, params: SimilarParams) -> SimilarItems:
    """Similar items and "customers who bought this also bought" from the stored model."""
    stored = stored_model(ctx)
    m = stored.model

    def build() -> SimilarItems:
        i = m.item_index(params.product_id)
        if i is None:
            raise ProductNotFound(f"no product {params.product_id!r} in the trained model",
                                  hint="product ids are listed by `shopscope products "
                                  "table`; a product new since training needs a retrain")
        serving = _serving(ctx, stored)

        def frame(idx: np.ndarray) -> pd.DataFrame:
            return pd.concat([pd.DataFrame({"product_id": m.data.items[idx].astype(str)}),
                              _catalogue(serving, idx)], axis=1)

        idx, sim = m.similar(i, params.k)
        similar = frame(idx)
        similar["similarity"] = sim.astype(float)
        idx, co, buyers = m.also_bought(i, params.k)
        also = frame(idx)
        also["buyers"] = co.astype(int)
        also["share"] = co / buyers if buyers else co
        me = serving.names[i]
        return SimilarItems(params=params, model=m.kind,
                            name=None if pd.isna(me) else str(me), buyers=buyers,
                            similar=similar, also_bought=also)

    return ctx.cached(("products.recs.similar", str(stored.path), params.cache_key(),
                       stored.info.get("trained_at")), build)


class AudienceRecsParams(Params):
    """The top ``k`` for every member of the saved audience ``audience`` on ``as_of``
    (None: the data's last day); ``pii`` raw (admins only) keeps ids that are e-mails or
    phone numbers, mask (default) exports them as pseudonyms."""

    audience: str = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)
    as_of: dt.date | None = None
    filter_bought: bool | None = None
    pii: Literal["mask", "raw"] = "mask"


@dataclass(frozen=True, eq=False)
class AudienceRecs:
    """One row per member and rank (customer_id as exported, rank 1..k, product_id, name,
    category, score, fallback: the member has no history in the model, so popular items)."""

    params: AudienceRecsParams
    model: str
    members: int
    fallback: int
    stale: bool
    frame: pd.DataFrame


#: Customers scored at once: a dense customers × items block (2,000 × 4,000 items: 64 MB).
_CHUNK = 2_000


def _top(m: Model, rows: np.ndarray, k: int, filter_bought: bool,
         ) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` item indices (-1 pads) and their scores for the customers at ``rows``,
    as :func:`recommend_for` ranks them, a block of customers at a time."""
    tops, scores = [np.zeros((0, k), np.int64)], [np.zeros((0, k))]
    for lo in range(0, len(rows), _CHUNK):
        r = rows[lo:lo + _CHUNK]
        s = m.scores(r)
        if filter_bought:
            b = m.data.B[r].tocoo()
            s[b.row, b.col] = -np.inf
        top = top_k(s, k)
        tops.append(top)
        scores.append(np.take_along_axis(s, np.maximum(top, 0), axis=1))
    return np.concatenate(tops), np.concatenate(scores)


def audience_recs(ctx: Context, params: AudienceRecsParams,
                  viewer: Viewer = OPERATOR) -> AudienceRecs:
    """The stored model's top ``k`` for each member of a saved audience (the activation
    export: a list per customer for an e-mail or push campaign). Not cached: it is a
    file's worth of rows, asked for once."""
    if params.pii == "raw" and not viewer.admin:
        raise PiiRefused("raw ids in an export need the admin role", hint="use pii=mask")
    stored = stored_model(ctx)
    m = stored.model
    definition = customers.load_audience(ctx, params.audience)
    members = audience_expr(definition, customers.audience_profile(ctx, params.as_of))
    ids = members.select("customer_id").execute()["customer_id"].astype(str).to_numpy()
    filter_bought = (bool(stored.info.get("filter_bought", False))
                     if params.filter_bought is None else params.filter_bought)
    index = pd.Index(m.data.users.astype(str))
    pos = index.get_indexer(ids)
    known = pos >= 0
    k = params.k
    top = np.full((len(ids), k), -1, np.int64)
    score = np.full((len(ids), k), np.nan)
    if known.any():
        top[known], score[known] = _top(m, pos[known], k, filter_bought)
    if (~known).any():
        pop = Model(kind="popularity", data=m.data, popularity=m.popularity)
        t, s = _top(pop, np.zeros(1, np.int64), k, False)
        top[~known], score[~known] = t[0], s[0]
    serving = _serving(ctx, stored)
    member, rank = np.nonzero(top >= 0)
    item = top[member, rank]
    key = viewer.pseudonym_key if params.pii == "mask" else None
    shown = np.array([_pseudonym(c, key) if key and looks_like_pii(c) else c for c in ids],
                     dtype=object)
    frame = pd.concat([pd.DataFrame({
        "customer_id": shown[member], "rank": rank + 1,
        "product_id": m.data.items[item].astype(str)}), _catalogue(serving, item)], axis=1)
    frame["score"] = score[member, rank].astype(float)
    frame["fallback"] = ~known[member]
    return AudienceRecs(params=params, model=m.kind, members=len(ids),
                        fallback=int((~known).sum()), stale=serving.stale, frame=frame)
