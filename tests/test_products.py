"""Product performance and frequently-bought-together rules (issue 16, points 1 and 2).

Every number is worked out by hand from ``tests/kpi_shop.py`` (whose docstring lists the
orders, lines and credits) or from the five-basket toy below; the rules are also checked
against mlxtend's ``association_rules`` on a month of the real Online Retail data.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pyarrow as pa
import pytest

from shopscope.core.service import LocalContext
from shopscope.kpis import service as kpis
from shopscope.products import service as svc
from shopscope.products.baskets import rules as rule_expr
from shopscope.schema import get_table
from shopscope.store import connect
from tests import kpi_shop
from tests.conftest import shared_file
from tests.shops import BareContext

D = dt.date


_Ctx = BareContext


# events with products: a1 views, carts and buys P1; a2 views P1; a3 views P2 twice
PRODUCT_EVENTS = [
    {"event_at": dt.datetime(2024, 1, 5, 9), "anonymous_id": "a1", "event_type": "view",
     "product_id": "P1"},
    {"event_at": dt.datetime(2024, 1, 5, 9, 1), "anonymous_id": "a1",
     "event_type": "add_to_cart", "product_id": "P1"},
    {"event_at": dt.datetime(2024, 1, 5, 9, 2), "anonymous_id": "a1", "event_type": "purchase",
     "product_id": "P1"},
    {"event_at": dt.datetime(2024, 1, 6, 9), "anonymous_id": "a2", "event_type": "view",
     "product_id": "P1"},
    {"event_at": dt.datetime(2024, 1, 7, 9), "anonymous_id": "a3", "event_type": "view",
     "product_id": "P2"},
    {"event_at": dt.datetime(2024, 1, 7, 9, 5), "anonymous_id": "a3", "event_type": "view",
     "product_id": "P2"},
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    import pyarrow.parquet as pq

    store = connect("duckdb://")
    folder = tmp_path_factory.mktemp("shop")
    kpi_shop.load(store, folder)
    events = pa.Table.from_pylist(kpi_shop.EVENTS + PRODUCT_EVENTS,
                                  schema=get_table("events").ibis_schema().to_pyarrow())
    pq.write_table(events, folder / "product_events.parquet")
    store.backend.read_parquet(str(folder / "product_events.parquet"), table_name="events")
    return _Ctx(store)


def _row(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    return frame.set_index(key).loc[value]


# -- point 1: product and category performance -------------------------------------------
def test_sku_money_by_hand(shop):
    perf = svc.performance(shop, svc.PerfParams())
    p1, p2 = (_row(perf.frame, "product_id", p) for p in ("P1", "P2"))
    # P1: lines 80 + 30 + 40 + 80 + 120 + 90; discounts 10 + 5 + 8 + 20; cancelled o03 30;
    # returned r1 35 + refunded o07 80
    assert (p1.gmv, p1.discounts, p1.cancelled, p1.returned) == (440, 43, 30, 115)
    assert p1.net_sales == 440 - 43 - 30 - 115
    # P2: 20 + 50 + 25 + 60 + 25 + 45; cancelled o08 25 + cancellation credit r2 10
    assert (p2.gmv, p2.cancelled, p2.returned, p2.net_sales) == (225, 35, 0, 190)
    assert (p1.units, p1.orders, p2.units, p2.orders) == (11, 6, 8, 6)
    assert p1.avg_price == 40 and p2.avg_price == 225 / 8
    assert p1.discount_rate == pytest.approx(43 / 440)
    assert p1.return_rate == pytest.approx(115 / 440) and p2.return_rate == 0
    assert p1.returned_unit_rate == pytest.approx(1 / 11)


def test_buyers_and_repeat_share_by_hand(shop):
    frame = svc.performance(shop, svc.PerfParams()).frame
    p1, p2 = (_row(frame, "product_id", p) for p in ("P1", "P2"))
    # P1: c1 (o01, o12) and c3 (o07, o10) twice each; the guest o04 is no buyer
    assert (p1.buyers, p1.repeat_buyers, p1.repeat_share) == (2, 2, 1.0)
    # P2: c1 (o01, o06), c2 (o02, o05 pending), c4 once (o11; o08 was cancelled)
    assert (p2.buyers, p2.repeat_buyers) == (3, 2)
    assert p2.repeat_share == pytest.approx(2 / 3)


def test_views_and_conversion_by_hand(shop):
    frame = svc.performance(shop, svc.PerfParams()).frame
    p1, p2 = (_row(frame, "product_id", p) for p in ("P1", "P2"))
    assert (p1.views, p1.viewers, p1.carters, p1.purchasers) == (2, 2, 1, 1)
    assert p1.view_to_cart == 0.5 and p1.view_to_purchase == 0.5
    assert (p2.views, p2.viewers, p2.view_to_cart, p2.view_to_purchase) == (2, 1, 0, 0)


def test_shares_pareto_and_reasons(shop):
    perf = svc.performance(shop, svc.PerfParams())
    p1 = _row(perf.frame, "product_id", "P1")
    assert p1["rank"] == 1 and p1.share_of_category == 1.0  # the only toy
    assert p1.share == pytest.approx(440 / 665) and p1.top_reasons == ["broken"]
    over = svc.overview(shop, svc.RangeParams())
    assert over.pareto == pytest.approx([440 / 665, 1.0]) and over.skus_80 == 2


def test_totals_add_up_to_the_kpis(shop):
    # o09 has no lines: its 70 is the shop's but no SKU's
    for start, end in ((None, None), (D(2024, 1, 1), D(2024, 2, 29)), (D(2025, 1, 1), None)):
        perf = svc.performance(shop, svc.PerfParams(start=start, end=end))
        stop = None if end is None else end + dt.timedelta(days=1)
        shop_kpis = kpis.summary(shop, kpis.SummaryParams.of(start=start, end=stop))
        assert perf.totals["gmv"] == pytest.approx(shop_kpis.gmv)
        assert perf.totals["net_sales"] == pytest.approx(shop_kpis.net_sales)
        assert perf.totals["units"] == pytest.approx(shop_kpis.units)
        cats = svc.performance(shop, svc.PerfParams(start=start, end=end, level="category"))
        assert cats.totals == pytest.approx(perf.totals)
    assert svc.performance(shop, svc.PerfParams()).unattributed["gmv"] == 70


def test_rank_change_vs_previous_period(shop):
    # February 2024 (29 days) against 3..31 January: P1 150 > P2 95 then; P2 85 > P1 80 now
    frame = svc.performance(shop, svc.PerfParams(start=D(2024, 2, 1), end=D(2024, 2, 29))).frame
    assert _row(frame, "product_id", "P2").rank_change == 1
    assert _row(frame, "product_id", "P1").rank_change == -1
    # nothing sold in the 59 days before 2025: no earlier rank
    later = svc.performance(shop, svc.PerfParams(start=D(2025, 1, 1), end=D(2025, 2, 28)))
    assert later.frame["rank_change"].isna().all()


def test_new_skus_first_30_days_and_sell_through(shop):
    over = svc.overview(shop, svc.RangeParams(start=D(2024, 1, 1), end=D(2024, 1, 31)))
    new = over.new_products.set_index("product_id")
    # both first sold on 5 Jan 2024 (o01); their first 30 days run to 3 Feb (o06 included)
    assert new.loc["P1", "first_gmv"] == 80 + 30 + 40 and new.loc["P1", "first_units"] == 5
    assert new.loc["P2", "first_gmv"] == 20 + 50 + 25 + 60 and new.loc["P2", "first_units"] == 6
    feb = svc.overview(shop, svc.RangeParams(start=D(2025, 2, 1), end=D(2025, 2, 28)))
    assert feb.new_products.empty
    assert feb.sell_through == {"listed": 2, "sold": 1, "rate": 0.5, "by_inventory": False}


def test_table_sort_filter_search_and_sparklines(shop):
    table = svc.product_table(shop, svc.TableParams(sort="units", desc=False))
    assert list(table.rows["product_id"]) == ["P2", "P1"]
    assert list(svc.product_table(shop, svc.TableParams(search="robot")).rows["product_id"]) \
        == ["P1"]
    assert svc.product_table(shop, svc.TableParams(category="books")).matched == 1
    jan = svc.product_table(shop, svc.TableParams(start=D(2024, 1, 1), end=D(2024, 3, 31)))
    assert jan.grain == "week" and len(jan.periods) == 13  # Mon 1 Jan .. Mon 25 Mar
    assert sum(jan.sparklines["P1"]) == 150 + 80 and jan.sparklines["P1"][0] == 80


def test_detail_and_unknown_product(shop):
    d = svc.product_detail(shop, svc.DetailParams(product_id="P1"))
    assert d.funnel == {"viewers": 2, "carters": 1, "purchasers": 1, "buyers": 2}
    assert list(d.bought_with["item"]) == ["P2"]
    assert d.bought_with.loc[0, "confidence"] == pytest.approx(1 / 5)  # o01 of P1's 5
    assert list(d.reasons["reason"]) == ["broken"]
    with pytest.raises(svc.ProductNotFound):
        svc.product_detail(shop, svc.DetailParams(product_id="nope"))


# -- point 2: association rules ------------------------------------------------------------
TOY = {"b1": "ABC", "b2": "AB", "b3": "AC", "b4": "BC", "b5": "ABCD"}


@pytest.fixture(scope="module")
def toy():
    store = connect("duckdb://")
    when = dt.datetime(2024, 3, 1)
    orders = [{"order_id": o, "customer_id": None, "ordered_at": when, "channel": "web",
                   "status": "completed", "gross_amount": 10.0 * len(items), "discount_amount": 0.0,
                   "shipping_amount": 0.0, "net_amount": 10.0 * len(items), "currency": "EUR"}
              for o, items in TOY.items()]
    # a cancelled order holding D counts in no basket
    orders.append({**orders[0], "order_id": "x", "status": "cancelled"})
    lines = [{"order_id": o, "line_no": i + 1, "product_id": p, "quantity": 1, "unit_price": 10.0,
                  "discount_amount": 0.0}
             for o, items in {**TOY, "x": "DD"}.items() for i, p in enumerate(items)]
    products = [{"product_id": p, "category": "x" if p in "AB" else "y"} for p in "ABCD"]
    for name, rows in (("orders", orders), ("order_items", lines), ("products", products)):
        schema = get_table(name).ibis_schema().to_pyarrow()
        store.backend.create_table(name, pa.Table.from_pylist(rows, schema=schema))
    return store


def _by_rule(frame: pd.DataFrame) -> dict:
    return {(tuple(a), tuple(c)): r for a, c, r in zip(
        frame["antecedents"], frame["consequents"], frame.to_dict("records"), strict=True)}


def test_rules_on_the_five_basket_toy_by_hand(toy):
    got = _by_rule(rule_expr(toy, None, None, min_support=0.3, values=True).execute())
    assert len(got) == 12  # AB, AC, BC both ways; ABC six ways; D (1 of 5) is pruned
    ab = got[("A",), ("B",)]
    assert ab["support"] == pytest.approx(0.6) and ab["confidence"] == pytest.approx(0.75)
    assert ab["lift"] == pytest.approx(0.9375) and ab["leverage"] == pytest.approx(-0.04)
    assert ab["conviction"] == pytest.approx(0.8)
    abc = got[("A", "B"), ("C",)]  # 2 of the 3 AB baskets hold C
    assert abc["support"] == pytest.approx(0.4)
    assert abc["confidence"] == pytest.approx(2 / 3) and abc["lift"] == pytest.approx(5 / 6)
    assert abc["leverage"] == pytest.approx(-0.08) and abc["conviction"] == pytest.approx(0.6)
    c_ab = got[("C",), ("A", "B")]
    assert c_ab["confidence"] == 0.5 and c_ab["conviction"] == pytest.approx(0.8)
    assert abc["basket_value"] == 30 + 40  # b1 and b5


def test_rules_thresholds_and_certain_rules(toy):
    low = _by_rule(rule_expr(toy, None, None, min_support=0.2).execute())
    d_a = low[("D",), ("A",)]
    assert d_a["confidence"] == 1.0 and math.isinf(d_a["conviction"])
    lifted = rule_expr(toy, None, None, min_support=0.2, min_lift=1.2).execute()
    assert (lifted["lift"] >= 1.2).all() and len(lifted) > 0
    pairs = rule_expr(toy, None, None, min_support=0.3, max_len=2).execute()
    assert len(pairs) == 6


def test_category_rules_and_windows(toy):
    cats = _by_rule(rule_expr(toy, None, None, min_support=0.1, level="category").execute())
    # x = {A, B} is in every basket, y = {C, D} in b1, b3, b4, b5
    assert cats[("x",), ("y",)]["confidence"] == pytest.approx(0.8)
    assert cats[("y",), ("x",)]["confidence"] == 1.0
    empty = rule_expr(toy, dt.datetime(2024, 4, 1), None, min_support=0.1).execute()
    assert empty.empty


def test_bundles_by_hand(toy):
    from shopscope.products.baskets import bundles

    got = bundles(toy, None, None, min_support=0.3).execute()
    got = {tuple(i): r for i, r in zip(got["items"], got.to_dict("records"), strict=True)}
    ab = got[("A", "B")]
    # baskets with A or B: all 5; with both: 3; AOV of b1, b2, b5 = (30 + 20 + 40) / 3
    assert ab["co_rate"] == pytest.approx(3 / 5) and ab["aov"] == pytest.approx(30)
    # A without B: 1 basket × conf(A→B) 3/4 × price 10, and the same for B
    assert ab["added_value"] == pytest.approx(2 * 1 * 0.75 * 10)
    abc = got[("A", "B", "C")]
    assert abc["co_rate"] == pytest.approx(2 / 5)  # any of A, B, C: all five baskets
    assert abc["added_value"] == pytest.approx(3 * (4 - 2) * 0.5 * 20)


# -- the same rules as mlxtend on Online Retail ---------------------------------------------
@pytest.fixture(scope="module")
def retail_month(tmp_path_factory):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    raw = pd.read_csv(shared_file("online_retail", "online_retail.csv.gz"),
                      dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    root = tmp_path_factory.mktemp("retail")
    part = raw[raw["InvoiceDate"].str.startswith(("2011-10", "2011-11"))]
    part.to_csv(root / "retail.csv", index=False)
    ws = Workspace.create(root / "ws", currency="GBP", timezone="Europe/London")
    ingest_file(ws, root / "retail.csv", preset="online_retail")
    yield ws
    ws.close()


def test_rules_equal_mlxtend_on_online_retail(retail_month):
    from mlxtend.frequent_patterns import apriori, association_rules
    from mlxtend.preprocessing import TransactionEncoder

    store = retail_month.store
    start, stop = dt.datetime(2011, 11, 1), dt.datetime(2011, 12, 1)
    orders = store.table("orders")
    items = store.table("order_items")
    # the baskets, independently: product lines of the November orders not cancelled
    kept = orders.filter(orders.ordered_at >= start, orders.ordered_at < stop,
                         orders.status != "cancelled")
    lines = items.join(kept, "order_id").select("order_id", "product_id").execute()
    lines = lines.dropna()
    baskets = lines.groupby("order_id")["product_id"].agg(lambda s: sorted(set(s))).tolist()
    enc = TransactionEncoder()
    dense = pd.DataFrame(enc.fit(baskets).transform(baskets), columns=enc.columns_)
    frequent = apriori(dense, min_support=0.02, use_colnames=True, max_len=3)
    expected = association_rules(frequent, num_itemsets=len(dense), metric="support",
                                 min_threshold=0.0)
    assert (frequent["itemsets"].map(len) == 3).any()  # triples are in the comparison

    got = rule_expr(store, start, stop, min_support=0.02).execute()
    assert len(got) == len(expected) > 100
    mine = _by_rule(got)
    for r in expected.to_dict("records"):
        rule = mine[tuple(sorted(r["antecedents"])), tuple(sorted(r["consequents"]))]
        for ours, theirs in (("antecedent_support", "antecedent support"),
                             ("consequent_support", "consequent support"),
                             ("support", "support"), ("confidence", "confidence"),
                             ("lift", "lift"), ("leverage", "leverage"),
                             ("conviction", "conviction")):
            assert rule[ours] == pytest.approx(r[theirs], rel=1e-9), (rule, ours)


def test_service_ranks_and_names_rules(retail_month):
    ctx = LocalContext(retail_month)
    out = svc.rules(ctx, svc.RuleParams(start=D(2011, 11, 1), end=D(2011, 11, 30),
                                        min_support=0.02, min_lift=2, limit=5))
    assert len(out.top) == 5 and (out.rules["lift"] >= 2).all()
    assert list(out.rules["lift"]) == sorted(out.rules["lift"], reverse=True)
    first = out.top.iloc[0]
    assert all(i in out.names for i in (*first["antecedents"], *first["consequents"]))


def test_service_keeps_the_best_rules_when_there_are_too_many(toy, monkeypatch):
    monkeypatch.setattr(svc, "MAX_RULES", 3)
    out = svc.rules(_Ctx(toy), svc.RuleParams(min_support=0.3, min_lift=0, sort="confidence"))
    assert out.total == 12 and len(out.rules) == 3
    # the six pair rules have confidence 3/4, every triple rule less (2/3 or 1/2)
    assert list(out.rules["confidence"]) == pytest.approx([0.75] * 3)


def test_a_support_that_keeps_too_many_itemsets_is_refused(toy, monkeypatch):
    """At 30% the toy keeps 3 frequent pairs and 1 triple (12 rules, as above): a limit of
    3 itemsets lets it through, a limit of 2 refuses it by its pair count."""
    from shopscope.errors import OptionError
    from shopscope.products import baskets

    params = svc.RuleParams(min_support=0.3, min_lift=0)
    monkeypatch.setattr(baskets, "MAX_ITEMSETS", 3)
    assert svc.rules(_Ctx(toy), params).total == 12
    monkeypatch.setattr(baskets, "MAX_ITEMSETS", 2)
    with pytest.raises(OptionError, match="3 frequent pairs"):
        svc.rules(_Ctx(toy), params)
