"""Recommendations (issue 16, points 3, 4 and the serving part of 5): metric code against
hand-computed cases, the models on hand-made matrices, the temporal split, the stored
model, and the same answer from the service, the API and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shopscope.core.service import LocalContext
from shopscope.customers.audiences import parse_definition
from shopscope.customers.storage import AudienceStore
from shopscope.products import evaluate as ev
from shopscope.products import recs_service as svc
from shopscope.products.recommend import Data, Model, fit, top_k
from shopscope.schema import get_table
from shopscope.store import connect


def _data(rows: list[tuple[str, str, float]]) -> Data:
    """A matrix from (customer, product, purchases); the score is the purchase count."""
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "purchases"])
    frame["score"] = frame["purchases"]
    return Data.from_frame(frame)


# -- metrics against hand arithmetic -----------------------------------------------------
RECS = ["a", "b", "c", "d", "e"]
REL = {"a", "c", "f"}


def test_metrics_by_hand_at_5():
    # hits at positions 1 and 3 of 5; |T| = 3
    assert ev.precision_at_k(RECS, REL, 5) == pytest.approx(2 / 5)
    assert ev.recall_at_k(RECS, REL, 5) == pytest.approx(2 / 3)
    # DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
    # IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.6309298 + 0.5 = 2.1309298
    assert ev.ndcg_at_k(RECS, REL, 5) == pytest.approx(1.5 / 2.1309298, abs=1e-6)
    # AP@5 = (P@1 + P@3) / min(5, 3) = (1 + 2/3) / 3 = 0.5555…
    assert ev.average_precision_at_k(RECS, REL, 5) == pytest.approx(5 / 9)


def test_metrics_by_hand_at_2_and_empty():
    # top 2 = a, b: one hit at position 1
    assert ev.precision_at_k(RECS, REL, 2) == 0.5
    assert ev.recall_at_k(RECS, REL, 2) == pytest.approx(1 / 3)
    # DCG = 1; IDCG = 1 + 1/log2(3) = 1.6309298
    assert ev.ndcg_at_k(RECS, REL, 2) == pytest.approx(1 / 1.6309298, abs=1e-6)
    # AP@2 = P@1 / min(2, 3) = 1 / 2
    assert ev.average_precision_at_k(RECS, REL, 2) == 0.5
    # no hit at all: every measure 0
    assert ev.ndcg_at_k(["x", "y"], REL, 2) == 0 == ev.average_precision_at_k(["x"], REL, 2)


def test_coverage_and_novelty_by_hand():
    # items 0, 1, 2 recommended out of 4
    assert ev.coverage([[0, 1], [1, 2]], 4) == 0.75
    # shares 0.5, 0.25, 0.25, 0.125 → -log2 = 1, 2, 2, 3 → mean 2
    share = np.array([0.5, 0.25, 0.125, 1.0])
    assert ev.novelty([[0, 1], [1, 2]], share) == pytest.approx(2.0)


def test_top_k_ties_and_padding():
    s = np.array([[1.0, 3.0, 3.0, -np.inf], [0.0, -np.inf, -np.inf, -np.inf]])
    # ties by lower index; fewer finite scores than k pad with -1
    assert top_k(s, 3).tolist() == [[1, 2, 0], [0, -1, -1]]


def test_filter_bought_evaluation_counts_only_new_items():
    # u0 bought A; u1 bought A and C. u0 then buys A again and C; u1 only A again.
    data = _data([("u0", "A", 1), ("u1", "A", 1), ("u1", "C", 1)])
    s = ev.Split(cutoff=dt.date(2024, 1, 1), test_days=30, train=data,
                 rows=np.array([0, 1]), relevant=[{"A", "C"}, {"A"}], test_customers=2)
    pop = fit("popularity", data)  # A (2 customers), then C (1)
    kept = ev.score(pop, s, 1, filter_bought=False)
    # top 1 = A for both: u0 hit (recall 1/2), u1 hit (recall 1/1)
    assert kept["customers"] == 2 and kept["precision"] == 1.0
    assert kept["recall"] == pytest.approx((1 / 2 + 1) / 2)
    left = ev.score(pop, s, 1, filter_bought=True)
    # A is left out of u0's list and of u0's relevant items: {C}, list [C] → a hit;
    # u1 bought nothing new and does not count
    assert left["customers"] == 1 and left["recall"] == 1.0 and left["ndcg"] == 1.0


# -- models on hand-made matrices ----------------------------------------------------------
KNN = [("u0", "A", 1), ("u0", "B", 1), ("u1", "A", 1), ("u1", "B", 1), ("u1", "C", 1),
       ("u2", "C", 1), ("u2", "D", 1)]


def test_item_knn_cosine_by_hand():
    m = fit("item_knn", _data(KNN))
    # columns A = (1,1,0), B = (1,1,0), C = (0,1,1), D = (0,0,1) over u0, u1, u2
    # cos(A,B) = 2/(√2·√2) = 1; cos(A,C) = cos(B,C) = 1/2; cos(C,D) = 1/√2; cos(A,D) = 0
    sim = m.sim.toarray()
    a, b, c, d = (m.item_index(x) for x in "ABCD")
    assert sim[a, b] == pytest.approx(1) and sim[a, c] == pytest.approx(0.5)
    assert sim[c, d] == pytest.approx(1 / math.sqrt(2)) and sim[a, d] == 0
    assert sim[a, a] == 0  # an item is not its own neighbour
    # u0 (A, B): C scores 0.5 + 0.5 = 1, D 0 → with bought items left out, C first
    top = m.recommend(np.array([m.user_index("u0")]), 2, filter_bought=True)[0]
    assert [str(m.data.items[i]) for i in top if i >= 0] == ["C", "D"]
    idx, s = m.similar(c, 3)
    # C's neighbours: D (0.7071), then A and B (0.5 each, A first by index)
    assert [str(m.data.items[i]) for i in idx] == ["D", "A", "B"]
    assert s.tolist() == pytest.approx([1 / math.sqrt(2), 0.5, 0.5])
    # the baselines' similar items are the same cosines, computed per asked item
    idx, s = fit("popularity", _data(KNN)).similar(c, 3)
    assert [str(m.data.items[i]) for i in idx] == ["D", "A", "B"]
    assert s.tolist() == pytest.approx([1 / math.sqrt(2), 0.5, 0.5])


def test_buy_again_and_filter_bought():
    data = _data([("u0", "A", 3), ("u0", "B", 1), ("u1", "C", 5), ("u2", "C", 1)])
    m = fit("buy_again", data)
    u0 = np.array([m.user_index("u0")])
    names = [str(x) for x in m.data.items]
    # u0's own counts first (A 3, B 1), then the most popular other item C (2 customers)
    assert [names[i] for i in m.recommend(u0, 3, False)[0]] == ["A", "B", "C"]
    # bought items left out: only C remains, the rest pads
    assert m.recommend(u0, 3, True)[0].tolist() == [names.index("C"), -1, -1]
    pop = fit("popularity", data)
    # popularity: C (2 customers) before A and B (1 each), the same for everyone
    assert [names[i] for i in pop.recommend(u0, 3, False)[0]] == ["C", "A", "B"]
    # also bought: of A's one buyer (u0), B was bought by 1
    idx, co, buyers = m.also_bought(names.index("A"), 5)
    assert ([names[i] for i in idx], co.tolist(), buyers) == (["B"], [1.0], 1)


def _groups(seed: int = 1) -> ev.Split:
    """Two taste groups: 60 customers buy 6 of items 0-9, 40 buy 6 of items 10-19; each is
    tested on one more item of their own group. Group 0's items are the most popular, so
    popularity offers group 1 nothing of theirs, while a taste model offers each customer
    the 4 unbought items of their group: every test item among them."""
    rng = np.random.default_rng(seed)
    rows, relevant = [], []
    for u in range(100):
        g = 0 if u < 60 else 10
        picks = rng.permutation(10)[:7] + g
        rows += [(f"u{u:03d}", f"i{p:02d}", 1.0) for p in picks[:6]]
        relevant.append({f"i{picks[6]:02d}"})
    data = _data(rows)
    return ev.Split(cutoff=dt.date(2024, 1, 1), test_days=30, train=data,
                    rows=np.arange(100), relevant=relevant, test_customers=100)


@pytest.mark.parametrize("kind", ["als", "bpr"])
def test_factor_models_beat_popularity_on_taste_groups(kind):
    pytest.importorskip("implicit")
    s = _groups()
    pop = ev.score(fit("popularity", s.train), s, 4, filter_bought=True)
    got = ev.score(fit(kind, s.train, seed=3), s, 4, filter_bought=True)
    # popularity: group 1 (40%) gets only group-0 items → hit rate at most 0.6
    assert pop["hit_rate"] <= 0.6
    assert got["hit_rate"] >= 0.9 and got["ndcg"] > pop["ndcg"] + 0.2


def test_item_knn_beats_popularity_on_taste_groups():
    s = _groups()
    table = ev.evaluate(s, ["popularity", "item_knn", "item_bm25"], k=4, filter_bought=True)
    best = table.set_index("model")
    # every 4 unbought items of a customer's own group are the kNN top 4
    assert best.loc["item_knn", "hit_rate"] == 1.0 and best.loc["item_bm25", "hit_rate"] == 1.0
    assert table["model"].iloc[-1] == "popularity"


def test_missing_implicit_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_implicit(name, *args, **kwargs):
        if name.startswith("implicit"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_implicit)
    with pytest.raises(svc.MissingExtra, match="implicit") as info:
        fit("als", _data(KNN))
    assert "shopscope[recs]" in info.value.hint


def test_model_saved_and_loaded_gives_the_same_top_n(tmp_path):
    s = _groups()
    for kind in ("item_bm25", "buy_again"):
        m = fit(kind, s.train)
        m.save(tmp_path / f"{kind}.npz")
        back = Model.load(tmp_path / f"{kind}.npz")
        assert back.kind == kind
        assert (back.recommend(s.rows, 5, True) == m.recommend(s.rows, 5, True)).all()
        assert (back.similar(0, 5)[0] == m.similar(0, 5)[0]).all()


# -- the temporal split on a hand-made store ---------------------------------------------
def _store(orders: list[tuple[str, str | None, dt.datetime, str, str]]):
    """A store of orders (id, customer, time, status, products as letters)."""
    store = connect("duckdb://")
    heads = [{"order_id": o, "customer_id": c, "ordered_at": t, "channel": "web",
              "status": st, "gross_amount": 1.0, "discount_amount": 0.0,
              "shipping_amount": 0.0, "net_amount": 1.0, "currency": "EUR"}
             for o, c, t, st, _ in orders]
    lines = [{"order_id": o, "line_no": i + 1, "product_id": p, "quantity": 1,
              "unit_price": 1.0, "discount_amount": 0.0}
             for o, _, _, _, items in orders for i, p in enumerate(items)]
    products = [{"product_id": p, "name": f"item {p}"} for p in "ABCDE"]
    for name, rows in (("orders", heads), ("order_items", lines), ("products", products)):
        schema = get_table(name).ibis_schema().to_pyarrow()
        store.backend.create_table(name, pa.Table.from_pylist(rows, schema=schema))
    return store


def test_temporal_split_keeps_test_lines_out_of_training():
    T = dt.datetime
    store = _store([
        ("o1", "c1", T(2024, 1, 10), "completed", "AB"),
        ("o2", "c1", T(2024, 2, 5), "completed", "CA"),   # test: c1 buys C and A again
        ("o3", "c2", T(2024, 1, 20), "completed", "A"),
        ("o4", "c3", T(2024, 2, 3), "completed", "D"),    # test, but no history
        ("o5", "c2", T(2024, 3, 5), "completed", "E"),    # after the 30 test days
        ("o6", "c2", T(2024, 1, 25), "cancelled", "B"),   # cancelled: no interaction
        ("o7", None, T(2024, 1, 5), "completed", "E"),    # a guest: no customer
    ])
    s = ev.split(store, dt.date(2024, 2, 1), 30)
    # training = o1, o3 only: the test-period C and D and the later E are unseen
    assert s.train.users.tolist() == ["c1", "c2"] and s.train.items.tolist() == ["A", "B"]
    assert s.train.B.toarray().tolist() == [[1, 1], [1, 0]]
    # counted: c1 (history and test purchases); c3 has no history, c2 no test purchase
    assert s.rows.tolist() == [0] and s.relevant == [{"A", "C"}] and s.test_customers == 2


def test_interaction_weights_add_events():
    T = dt.datetime
    store = _store([("o1", "c1", T(2024, 1, 10), "completed", "A")])
    ev_rows = [{"event_at": T(2024, 1, 9), "user_id": "c1", "event_type": "view",
                "product_id": "B"},
               {"event_at": T(2024, 1, 9), "user_id": "c1", "event_type": "view",
                "product_id": "B"},
               {"event_at": T(2024, 1, 9), "user_id": "c1", "event_type": "add_to_cart",
                "product_id": "A"},
               {"event_at": T(2024, 1, 9), "anonymous_id": "x", "event_type": "view",
                "product_id": "C"}]  # anonymous: no customer
    schema = get_table("events").ibis_schema().to_pyarrow()
    store.backend.create_table("events", pa.Table.from_pylist(ev_rows, schema=schema))
    d = Data.load(store, None, None, svc.Weights(purchase=1.0, cart=0.5, view=0.25))
    # A: 1 order · 1 + 1 cart · 0.5 = 1.5; B: 2 views · 0.25 = 0.5 (never bought)
    assert d.items.tolist() == ["A", "B"]
    assert d.X.toarray().tolist() == [[1.5, 0.5]] and d.B.toarray().tolist() == [[1, 0]]
    # a behaviour log without orders (Taobao): purchases are the purchase events
    buy = {"event_at": T(2024, 1, 9), "user_id": "c2", "event_type": "purchase",
           "product_id": "C"}
    store.backend.create_table("events", pa.Table.from_pylist([*ev_rows, buy, buy],
                                                              schema=schema), overwrite=True)
    d = Data.load(store, None, None, svc.Weights(1.0, 0.5, 0.25, purchases_from="events"))
    # c1: A 1 cart · 0.5 (the order o1 is not read), B 0.5; c2: C 2 purchase events
    assert d.users.tolist() == ["c1", "c2"] and d.items.tolist() == ["A", "B", "C"]
    assert d.X.toarray().tolist() == [[0.5, 0.5, 0], [0, 0, 2]]
    assert d.B.toarray().tolist() == [[0, 0, 0], [0, 0, 2]]


# -- the service, the API and the CLI -------------------------------------------------------
@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory):
    from tests.shops import synth_product_shop

    ws = synth_product_shop(tmp_path_factory.mktemp("recs-web"), {"ada": ("admin", None)})
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def trained(shop_ws):
    params = svc.TrainParams(models=("popularity", "buy_again", "item_knn"), test_days=60)
    return svc.train_recs(LocalContext(shop_ws), params)


@pytest.fixture(scope="module")
def client(shop_ws, trained):
    from shopscope.app import create_app
    from tests.test_web import client_for, login

    c = client_for(create_app(shop_ws))
    assert login(c, "ada").status_code == 303
    return c


def test_train_stores_model_data_version_and_evaluation(shop_ws, trained):
    info = json.loads((shop_ws.path / "models" / "recs" / "model.json").read_text())
    table = pd.DataFrame(info["evaluation"]["table"])
    # the stored model is the holdout's best by NDCG@K, and the table says so
    assert info["model"] == table.sort_values("ndcg", ascending=False)["model"].iloc[0]
    assert info["data_version"] == shop_ws.store.data_version()
    # reloaded in a new context: the same top 10 as the model fitted in memory
    ctx = LocalContext(shop_ws)
    m = trained.model
    for cid in [str(u) for u in m.data.users[:5]]:
        got = svc.recommend_for(ctx, svc.RecsForParams(customer_id=cid, k=10))
        want = m.recommend(np.array([m.user_index(cid)]), 10, info["filter_bought"])[0]
        assert got.items["product_id"].tolist() == [str(m.data.items[i]) for i in want
                                                    if i >= 0]


def test_service_equals_api_equals_cli(shop_ws, trained, client):
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "recommend" for g in app.registered_groups):
        _register_subcommands()
    cid = str(trained.model.data.users[3])
    want = svc.recommend_for(LocalContext(shop_ws),
                             svc.RecsForParams(customer_id=cid, k=5, filter_bought=True))
    api = client.get("/api/products/recommendations",
                     params={"customer_id": cid, "k": 5, "filter_bought": True}).json()
    r = CliRunner().invoke(app, ["recommend", "for", cid, "-w", str(shop_ws.path), "-k", "5",
                                 "--filter-bought", "--format", "json"])
    assert r.exit_code == 0, r.output
    cli = json.loads(r.output)
    ids = want.items["product_id"].tolist()
    assert len(ids) == 5 and [i["product_id"] for i in api["items"]] == ids
    assert [row["product_id"] for row in cli] == ids
    assert all(i["bought"] == 0 for i in api["items"])  # filter_bought left them out
    pid = ids[0]
    sim = svc.similar_items(LocalContext(shop_ws), svc.SimilarParams(product_id=pid, k=5))
    body = client.get("/api/products/similar", params={"product_id": pid, "k": 5}).json()
    assert [i["product_id"] for i in body["similar"]] == sim.similar["product_id"].tolist()
    assert [i["buyers"] for i in body["also_bought"]] == sim.also_bought["buyers"].tolist()
    r = CliRunner().invoke(app, ["recommend", "similar", pid, "-w", str(shop_ws.path)])
    assert r.exit_code == 0, r.output


LOYAL = {"name": "loyal", "filters": [{"field": "frequency", "op": "ge", "value": 2}]}


def test_audience_export_is_each_members_top_k(shop_ws, trained, client):
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app
    from shopscope.customers import audience_expr
    from shopscope.customers import service as customers

    if not any(g.name == "recommend" for g in app.registered_groups):
        _register_subcommands()
    AudienceStore(shop_ws.path).save(parse_definition(LOYAL))
    ctx = LocalContext(shop_ws)
    r = svc.audience_recs(ctx, svc.AudienceRecsParams(audience="loyal", k=4))
    # the members are the audience's, each with k rows ranked 1..k
    want = set(audience_expr(customers.load_audience(ctx, "loyal"), customers.audience_profile(
        ctx)).select("customer_id").execute()["customer_id"].astype(str))
    assert r.members == len(want) > 10 and set(r.frame["customer_id"]) == want
    assert r.frame.groupby("customer_id")["rank"].apply(lambda x: list(x) == [1, 2, 3, 4]).all()
    # each member's rows are what the one-customer answer gives (items and scores)
    for cid in sorted(want)[:5]:
        one = svc.recommend_for(ctx, svc.RecsForParams(customer_id=cid, k=4))
        rows = r.frame[r.frame["customer_id"] == cid].sort_values("rank")
        assert rows["product_id"].tolist() == one.items["product_id"].tolist()
        assert rows["score"].to_numpy() == pytest.approx(one.items["score"].to_numpy())
        assert bool(rows["fallback"].iloc[0]) == one.fallback
    # the API's CSV and the CLI's say the same
    got = client.get("/api/products/recommendations/audience/loyal", params={"k": 4})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    api = pd.read_csv(io.StringIO(got.text), dtype={"customer_id": str, "product_id": str})
    keys = ["customer_id", "rank", "product_id"]
    want_rows = r.frame[keys].sort_values(keys).reset_index(drop=True)
    assert api[keys].sort_values(keys).reset_index(drop=True).equals(
        want_rows.astype({"rank": api["rank"].dtype}))
    out = CliRunner().invoke(app, ["recommend", "audience", "loyal", "-w", str(shop_ws.path),
                                   "-k", "4", "--format", "csv"])
    assert out.exit_code == 0, out.output
    cli = pd.read_csv(io.StringIO(out.stdout), dtype={"customer_id": str, "product_id": str})
    assert len(cli) == len(r.frame) and set(cli["customer_id"]) == want
    # an unknown audience is a 404 naming it
    miss = client.get("/api/products/recommendations/audience/nobody")
    assert miss.status_code == 404 and "nobody" in miss.json()["error"]["message"]


def test_audience_export_needs_an_analyst_and_raw_ids_an_admin(shop_ws, trained, client):
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from tests.test_web import PASSWORD, client_for, login

    users = UserStore(shop_ws.path)
    for name, role in (("vic", "viewer"), ("ann", "analyst")):
        if name not in {u.username for u in users.list()}:
            users.add(name, PASSWORD, role)
    AudienceStore(shop_ws.path).save(parse_definition(LOYAL))
    url = "/api/products/recommendations/audience/loyal"
    for name, pii, code in (("vic", "mask", 403), ("ann", "raw", 403), ("ann", "mask", 200)):
        c = client_for(create_app(shop_ws))
        assert login(c, name).status_code == 303
        assert c.get(url, params={"pii": pii}).status_code == code, (name, pii)


def test_audience_export_masks_ids_that_are_personal_data(tmp_path, monkeypatch):
    import ibis

    from shopscope.customers.service import Viewer
    from shopscope.privacy import pseudonym

    T = dt.datetime
    store = _store([("o1", "jane@shop.cn", T(2024, 1, 10), "completed", "AB"),
                    ("o2", "17850", T(2024, 1, 11), "completed", "BC")])
    ctx = type("Ctx", (), {"store": store, "workspace": type("W", (), {"path": tmp_path})(),
                           "cached": lambda self, key, compute: compute()})()
    model = fit("popularity", Data.load(store, None, None))
    (tmp_path / "models" / "recs").mkdir(parents=True)
    model.save(tmp_path / "models" / "recs" / "model.npz")
    (tmp_path / "models" / "recs" / "model.json").write_text(json.dumps(
        {"model": "popularity", "data_version": "x", "filter_bought": False}))
    # the audience machinery is tested with the customers area: here, its members
    members = ibis.memtable({"customer_id": ["jane@shop.cn", "17850", "new@shop.cn"]})
    monkeypatch.setattr(svc.customers, "load_audience", lambda ctx, name: name)
    monkeypatch.setattr(svc.customers, "audience_profile", lambda ctx, as_of: members)
    monkeypatch.setattr(svc, "audience_expr", lambda definition, profile: profile)
    key = "k" * 64
    guest = Viewer(admin=False, pseudonym_key=key)
    r = svc.audience_recs(ctx, svc.AudienceRecsParams(audience="a", k=2), guest)
    # the engine's pseudonym for the e-mail ids (the same the API and pages show)
    alias = dict(zip(*store.backend.execute(members.select(
        "customer_id", alias=pseudonym(members.customer_id, key))).to_dict("list").values(),
        strict=True))
    assert set(r.frame["customer_id"]) == {alias["jane@shop.cn"], "17850", alias["new@shop.cn"]}
    # a member the model does not know (new@shop.cn) gets the popular items
    assert r.fallback == 1 and r.frame.loc[r.frame["fallback"], "rank"].tolist() == [1, 2]
    with pytest.raises(svc.PiiRefused):
        svc.audience_recs(ctx, svc.AudienceRecsParams(audience="a", pii="raw"), guest)
    raw = svc.audience_recs(ctx, svc.AudienceRecsParams(audience="a", k=2, pii="raw"),
                            Viewer(admin=True, pseudonym_key=key))
    assert "jane@shop.cn" in set(raw.frame["customer_id"])


def test_recommendations_page_shows_the_stored_evaluation_and_a_top_10(shop_ws, trained,
                                                                       client):
    from tests.test_web import charts, text_of

    info = trained.info
    r = client.get("/products/recommendations")
    assert r.status_code == 200
    assert text_of(r.text, "card-model") == info["model"]
    assert text_of(r.text, "card-items") == f"{len(trained.model.data.items):,}"
    # one row per evaluated model, in the holdout's order (best NDCG first)
    models = re.findall(r'<tr data-model="([^"]+)">', r.text)
    assert models == [row["model"] for row in info["evaluation"]["table"]]
    bars = charts(r.text)["chart-ndcg"]["data"][0]
    assert bars["y"] == pytest.approx([row["ndcg"] for row in info["evaluation"]["table"]])
    # a customer's top 10 is recommend_for's
    cid = str(trained.model.data.users[2])
    want = svc.recommend_for(LocalContext(shop_ws), svc.RecsForParams(customer_id=cid, k=10))
    page = client.get("/products/recommendations", params={"customer_id": cid})
    assert re.findall(r'<tr data-item="([^"]+)">', page.text) == want.items[
        "product_id"].tolist()
    missing = client.get("/products/recommendations", params={"customer_id": "nobody"})
    assert missing.status_code == 200 and "nobody" in text_of(missing.text, "lookup-error")
    # a product page lists the model's similar items
    pid = want.items["product_id"].iloc[0]
    sim = svc.similar_items(LocalContext(shop_ws), svc.SimilarParams(product_id=pid, k=8))
    prod = client.get(f"/products/{pid}")
    assert re.findall(r'<tr data-similar="([^"]+)">', prod.text) == sim.similar[
        "product_id"].tolist()


def test_product_page_splits_its_buyers_by_rfm_segment(shop_ws, client):
    from shopscope.customers import service as customers
    from shopscope.customers.service import SEGMENTS

    # the buyers, counted from the raw tables with pandas
    orders = shop_ws.store.table("orders").execute()
    items = shop_ws.store.table("order_items").execute()
    pid = items["product_id"].value_counts().index[0]
    held = set(items.loc[items["product_id"] == pid, "order_id"])
    mine = orders[orders["order_id"].isin(held) & (orders["status"] != "cancelled")
                  & orders["customer_id"].notna()]
    buyers = set(mine["customer_id"].astype(str))
    day = orders["ordered_at"].max().date() + dt.timedelta(days=1)
    seg = customers.rfm_customers(LocalContext(shop_ws), customers.RfmParams(as_of=day))
    want = seg.segments[seg.segments["customer_id"].isin(buyers)]["segment"].value_counts()
    r = client.get(f"/products/{pid}")
    assert r.status_code == 200
    rows = re.findall(r'<tr data-segment="([^"]+)"><td>[^<]*</td><td class="num" '
                      r'data-col="buyers">([^<]*)</td>', r.text)
    got = {k: int(v.replace(",", "")) for k, v in rows}
    assert sum(got.values()) == len(buyers) > 5
    assert got == {k: int(v) for k, v in want.items()} and set(got) <= set(SEGMENTS["classic"])


def test_api_unknown_ids_and_bad_input(client):
    r = client.get("/api/products/recommendations", params={"customer_id": "nobody"})
    assert r.status_code == 404 and "nobody" in r.json()["error"]["message"]
    r = client.get("/api/products/similar", params={"product_id": "NOPE"})
    assert r.status_code == 404 and "NOPE" in r.json()["error"]["message"]
    assert client.get("/api/products/recommendations",
                      params={"customer_id": "x", "k": 0}).status_code == 422
    assert client.get("/api/products/similar").status_code == 422


def test_no_model_is_a_clear_404(tmp_path):
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.store import Workspace
    from tests.test_web import PASSWORD, client_for, login

    ws = Workspace.create(tmp_path / "empty")
    UserStore(ws.path).add("ada", PASSWORD, "admin")
    c = client_for(create_app(ws))
    assert login(c, "ada").status_code == 303
    r = c.get("/api/products/recommendations", params={"customer_id": "c1"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_model"
    assert "recommend train" in r.json()["error"]["hint"]
    ws.close()


def test_pii_customer_ids_are_pseudonyms_for_non_admins(tmp_path):
    from shopscope.customers.service import Viewer

    T = dt.datetime
    store = _store([("o1", "jane@shop.cn", T(2024, 1, 10), "completed", "AB"),
                    ("o2", "17850", T(2024, 1, 11), "completed", "BC")])

    class Ctx:
        def __init__(self):
            self.store = store
            self.workspace = type("W", (), {"path": tmp_path})()

        def cached(self, key, compute):
            return compute()

    ctx = Ctx()
    model = fit("popularity", Data.load(store, None, None))
    (tmp_path / "models" / "recs").mkdir(parents=True)
    model.save(tmp_path / "models" / "recs" / "model.npz")
    (tmp_path / "models" / "recs" / "model.json").write_text(json.dumps(
        {"model": "popularity", "data_version": "x", "filter_bought": False}))
    guest = Viewer(admin=False, pseudonym_key="k" * 64)
    with pytest.raises(svc.PiiRefused):
        svc.recommend_for(ctx, svc.RecsForParams(customer_id="jane@shop.cn"), guest)
    alias = svc.shown_id("jane@shop.cn", guest)
    assert alias.startswith("c_") and len(alias) == 18
    got = svc.recommend_for(ctx, svc.RecsForParams(customer_id=alias), guest)
    assert got.customer_id == alias and not got.fallback
    admin = svc.recommend_for(ctx, svc.RecsForParams(customer_id="jane@shop.cn"),
                              Viewer(admin=True))
    assert admin.customer_id == "jane@shop.cn"
    # an id that is no personal data is shown as it is
    assert svc.recommend_for(ctx, svc.RecsForParams(customer_id="17850"),
                             guest).customer_id == "17850"


# -- Online Retail: a holdout on two months (train October, test November) ----------------
@pytest.mark.realdata
def test_holdout_on_online_retail_sample(tmp_path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from tests.conftest import shared_file

    raw = pd.read_csv(shared_file("online_retail", "online_retail.csv.gz"),
                      dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    part = raw[raw["InvoiceDate"].str.startswith(("2011-10", "2011-11"))]
    part.to_csv(tmp_path / "retail.csv", index=False)
    ws = Workspace.create(tmp_path / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(ws, tmp_path / "retail.csv", preset="online_retail")
    e = svc.recs_evaluation(LocalContext(ws), svc.RecsEvalParams(
        cutoff=dt.date(2011, 11, 1), test_days=30,
        models=("popularity", "buy_again", "item_knn")))
    ws.close()
    t = e.table.set_index("model")
    assert e.customers > 500 and set(t.index) == {"popularity", "buy_again", "item_knn"}
    for m in ("ndcg", "recall", "precision", "map", "hit_rate", "coverage"):
        assert t[m].between(0, 1).all()
    # personalised lists beat the one popular list for these wholesalers
    assert t.loc["buy_again", "ndcg"] > t.loc["popularity", "ndcg"]
    assert t.loc["item_knn", "ndcg"] > t.loc["popularity", "ndcg"]
    assert e.best == e.table["model"].iloc[0]


def test_customer_without_history_gets_popular_items(shop_ws, trained):
    c = shop_ws.store.table("customers").execute()
    fresh = sorted(set(c["customer_id"].astype(str)) - set(trained.model.data.users))
    assert fresh, "the synthetic shop has prospects who never bought"
    got = svc.recommend_for(LocalContext(shop_ws), svc.RecsForParams(customer_id=fresh[0],
                                                                      k=3))
    m = trained.model
    # the three items with the most customers (ties by id), the same as the baseline
    order = sorted(range(len(m.data.items)), key=lambda i: (-m.popularity[i], m.data.items[i]))
    assert got.fallback and got.items["product_id"].tolist() == [
        str(m.data.items[i]) for i in order[:3]]


def test_profile_page_shows_the_stored_models_top_5(shop_ws, trained, client):
    """The customer page lists the same top 5 as the API, each linking to its product."""
    import re

    cid = str(trained.model.data.users[2])
    api = client.get("/api/products/recommendations", params={"customer_id": cid, "k": 5})
    page = client.get(f"/customers/{cid}")
    assert page.status_code == 200
    table = page.text.split('data-testid="recommendations"', 1)[1].split("</table>", 1)[0]
    links = re.findall(r'<a href="/products/([^"]+)">([^<]+)</a>', table)
    assert [text for _, text in links] == [i["product_id"] for i in api.json()["items"]]
    assert all(href == text for href, text in links)
    assert len(links) == 5
