"""The demand area (issue 17): series, classes, policy formulas, model choice.

Series and classes are worked out by hand from ``tests/demand_shop.py`` (its docstring lists
the rows); the formulas from textbook arithmetic written next to each assert; the model
choice is checked against statsforecast called directly with an independent MASE.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from shopscope.demand import abcxyz as cl
from shopscope.demand import policy
from shopscope.demand import service as svc
from shopscope.demand.series import series_stats
from shopscope.errors import OptionError
from shopscope.store import connect
from tests import demand_shop, kpi_shop
from tests.shops import BareContext

D = dt.date


_Ctx = BareContext


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    store = connect("duckdb://")
    demand_shop.load(store, tmp_path_factory.mktemp("demand"))
    return _Ctx(store)


def _at(frame: pd.DataFrame, **where) -> pd.Series:
    rows = frame
    for k, v in where.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, where
    return rows.iloc[0]


# -- point 1: demand series ------------------------------------------------------------------
def test_daily_series_netted_and_zero_filled(shop):
    s = svc.series(shop, svc.SeriesParams(start=D(2024, 3, 4), end=D(2024, 3, 17)))
    f = s.frame
    assert len(f) == 3 * 14  # A, B, C × 14 days, zero-filled
    a = f[f.product_id == "A"].set_index("period")
    # 03-06: 3 units on the cancelled o3, cancelled 3 → net 0, net sales 30 - 30
    assert tuple(a.loc[D(2024, 3, 6), ["units", "cancelled_units", "net_units"]]) == (3, 3, 0)
    # 03-12: the return r1 of 1 unit, no sale: net -1, demand 0, net sales -10
    r = a.loc[D(2024, 3, 12)]
    assert (r.returned_units, r.net_units, r.demand, r.net_sales) == (1, -1, 0, -10.0)
    # 03-11: o5 2 × 10 less a discount of 2
    assert (a.loc[D(2024, 3, 11)].demand, a.loc[D(2024, 3, 11)].net_sales) == (2, 18.0)
    assert list(a.demand) == [2, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    # stock: A out on 03-14 (0 at both places), in on 03-15 (2 at w2)
    assert list(a.index[a.censored]) == [D(2024, 3, 14)]
    b = f[f.product_id == "B"].set_index("period")
    # 03-05: 4 sold, 1 cancelled by the credit r2: net 3, net sales 20 - 5
    assert (b.loc[D(2024, 3, 5)].net_units, b.loc[D(2024, 3, 5)].net_sales) == (3, 15.0)
    # 03-08: o4 refunded: its 2 units come back the same day
    assert (b.loc[D(2024, 3, 8)].returned_units, b.loc[D(2024, 3, 8)].net_units) == (2, 0)
    assert list(b.index[b.censored]) == [D(2024, 3, 16)]  # negative stock is none


def test_weekly_series_and_category_and_channel(shop):
    p = dict(start=D(2024, 3, 4), end=D(2024, 3, 17), grain="week")
    f = svc.series(shop, svc.SeriesParams(**p)).frame
    w1, w2 = D(2024, 3, 4), D(2024, 3, 11)
    # A week 1: 2 + 1 + 3 units, 3 cancelled → 3; net sales 20 + 10 + 30 - 30 = 30
    a1 = _at(f, product_id="A", period=w1)
    assert (a1.units, a1.cancelled_units, a1.net_units, a1.net_sales) == (6, 3, 3, 30.0)
    # A week 2: 2 sold, 1 returned → 1; 18 - 10 = 8; one day out of stock
    a2 = _at(f, product_id="A", period=w2)
    assert (a2.net_units, a2.net_sales, a2.stockout_days, a2.censored) == (1, 8.0, 1, True)
    # B week 1: 6 units, 1 cancelled (credit), 2 returned (refunded o4) → 3; 15
    b1 = _at(f, product_id="B", period=w1)
    assert (b1.units, b1.cancelled_units, b1.returned_units, b1.net_units) == (6, 1, 2, 3)
    cats = svc.series(shop, svc.SeriesParams(**p, level="category")).frame
    # toys week 2 = A (2 sold, 1 back) + C (1): net 2, net sales 8 + 100, 1 SKU-day out
    t2 = _at(cats, category="toys", period=w2)
    assert (t2.units, t2.net_units, t2.net_sales, t2.stockout_days) == (3, 2, 108.0, 1)
    ch = svc.series(shop, svc.SeriesParams(**p, by_channel=True)).frame
    # A on the web, week 1: o1 2 + cancelled o3 (3 - 3); on the app: o2 1
    assert _at(ch, product_id="A", channel="web", period=w1).net_units == 2
    assert _at(ch, product_id="A", channel="app", period=w1).net_units == 1
    # the return r1 of o1 goes to o1's channel (web), week 2
    assert _at(ch, product_id="A", channel="web", period=w2).returned_units == 1
    with pytest.raises(OptionError, match="level=sku"):
        svc.make(svc.SeriesParams, level="category", skus=("A",))


def test_sku_net_sales_add_up_to_the_products_area(tmp_path):
    # the same netting rules: on the KPI shop, demand revenue per SKU = products' net sales
    from shopscope.products import service as products

    store = connect("duckdb://")
    kpi_shop.load(store, tmp_path)
    ctx = _Ctx(store)
    got = svc.classes(ctx, svc.ClassParams()).frame.set_index("product_id")["revenue"]
    perf = products.performance(ctx, products.PerfParams()).frame.set_index("product_id")
    assert got.to_dict() == pytest.approx(perf["net_sales"].to_dict())
    # P1 by hand (tests/test_products.py): 440 - 43 - 30 - 115
    assert got["P1"] == pytest.approx(252.0)


# -- point 2: classes ---------------------------------------------------------------------------
def test_classes_by_hand(shop):
    c = svc.classes(shop, svc.ClassParams(start=D(2024, 3, 4), end=D(2024, 3, 17)))
    f = c.frame.set_index("product_id")
    # A: the censored 03-14 is left out → 13 days, demands 2, 1, 2 on three of them:
    # ADI = 13 / 3; sizes mean 5/3, pop. variance (1/9 + 4/9 + 1/9) / 3 = 2/9,
    # CV² = (2/9) / (25/9) = 0.08 → intermittent
    a = f.loc["A"]
    assert (a.periods, a.nonzero, a.total) == (13, 3, 5)
    assert a.adi == pytest.approx(13 / 3) and a.cv2 == pytest.approx(0.08)
    # CV of daily demand: mean 5/13, E[d²] = 9/13, variance 9/13 - 25/169 = 92/169,
    # CV = (√92 / 13) / (5 / 13) = √92 / 5 ≈ 1.918 → Z
    assert a.cv == pytest.approx(math.sqrt(92) / 5) and a.xyz == "Z"
    assert a.pattern == "intermittent" and f.loc["B"].adi == 13  # B: 03-16 censored
    # revenue: C 100, A 20 + 10 + 0 + 18 - 10 = 38, B 15 + 0 = 15; total 153
    # ABC 80/15/5: C (before 0) A; A (before 100/153 = .654) A; B (before 138/153 = .902) B
    assert f.revenue.to_dict() == {"C": 100.0, "A": 38.0, "B": 15.0}
    assert f.abc.to_dict() == {"C": "A", "A": "A", "B": "B"}
    m = c.matrix.set_index(["abc", "xyz"])
    assert (m.loc[("A", "Z"), "series"], m.loc[("A", "Z"), "revenue"]) == (2, 138.0)
    assert (m.loc[("B", "Z"), "series"], m.loc[("B", "Z"), "revenue"]) == (1, 15.0)
    assert len(m) == 9 and m.revenue.sum() == c.total_revenue == 153.0
    assert m.series.sum() == 3 and c.patterns.revenue.sum() == 153.0
    # thresholds 50/15: C (before 0) A; A (before .654 ≥ .65) C; B C
    c2 = svc.classes(shop, svc.ClassParams(start=D(2024, 3, 4), end=D(2024, 3, 17),
                                           a=0.5, b=0.15))
    assert c2.frame.set_index("product_id").abc.to_dict() == {"C": "A", "A": "C", "B": "C"}
    with pytest.raises(OptionError, match="exceeds 1"):
        svc.make(svc.ClassParams, a=0.9, b=0.2)


def test_syntetos_boylan_quadrants_by_hand():
    # four weekly series, stats computed in the engine:
    # s smooth 4 6 5 5: ADI 4/4 = 1; sizes mean 5, var (1 + 1 + 0 + 0)/4 = .5, CV² .02
    # e erratic 1 9 1 9: ADI 1; var 16, CV² 16/25 = .64
    # i intermittent 0 5 0 5: ADI 4/2 = 2; sizes 5 5, CV² 0
    # l lumpy 0 1 0 9: ADI 2; sizes 1 9, var 16, CV² .64
    demand = {"s": [4, 6, 5, 5], "e": [1, 9, 1, 9], "i": [0, 5, 0, 5], "l": [0, 1, 0, 9],
              "z": [0, 0, 0, 0]}
    rows = [{"product_id": k, "period": i, "demand": v, "censored": False, "net_sales": 1.0}
            for k, vs in demand.items() for i, v in enumerate(vs)]
    stats = series_stats(ibis.memtable(pd.DataFrame(rows)), ["product_id"])
    got = cl.classify(connect("duckdb://").backend.execute(stats)).set_index("product_id")
    assert got.pattern.to_dict() == {"s": "smooth", "e": "erratic", "i": "intermittent",
                                     "l": "lumpy", "z": "no_demand"}
    assert got.loc["s"].cv2 == pytest.approx(0.02) and got.loc["l"].cv2 == pytest.approx(0.64)
    # XYZ by CV over all periods: s σ = √.5 / 5 = .141 → X; i mean 2.5, σ 2.5 → CV 1 → Y
    assert got.xyz.to_dict() == {"s": "X", "e": "Y", "i": "Y", "l": "Z", "z": "Z"}
    # e: mean 5, σ 4 → CV .8 → Y;  l: mean 2.5, E[d²] = 82/4, σ² = 20.5 - 6.25 → CV 1.51
    # the cut-offs themselves: ADI 1.32 and CV² 0.49 belong to the upper side
    edge = cl.pattern(pd.Series([1.32, 1.3199]), pd.Series([0.49, 0.4899]))
    assert list(edge) == ["lumpy", "smooth"]


# -- point 4: policy formulas ---------------------------------------------------------------------
def test_policy_formulas_by_hand():
    assert policy.safety_factor(0.95) == pytest.approx(1.644854, abs=1e-6)  # table value
    assert policy.safety_factor(0.5) == 0.0
    # z σ √L = 1.645 × 10 × √4 = 32.9
    assert policy.safety_stock(1.645, 10, 4) == pytest.approx(32.9)
    # z √(L σ_d² + d² σ_L²) = 2 × √(4 × 9 + 100 × 1) = 2 × √136 = 23.3238
    assert policy.safety_stock(2, 3, 4, sigma_lead_time=1, mean_demand=10) == pytest.approx(
        2 * math.sqrt(136))
    assert policy.reorder_point(10, 4, 32.9) == pytest.approx(72.9)  # d L + SS = 40 + 32.9
    assert policy.eoq(1200, 50, 3) == pytest.approx(200)  # √(2 × 1200 × 50 / 3) = √40000
    assert policy.order_up_to(10, 7, 3, 20) == 120  # 10 × (7 + 3) + 20
    # MOQ 50, packs of 12: 37 → 50 → 5 packs = 60; 61 → 6 packs = 72; 24 = 2 packs
    assert policy.order_quantity(37, moq=50, pack=12) == 60
    assert policy.order_quantity(61, pack=12) == 72 and policy.order_quantity(24, pack=12) == 24
    assert policy.order_quantity(-5, moq=50) == 0 and policy.order_quantity(0.2) == 1
    assert policy.days_of_cover(30, 4) == 7.5 and policy.days_of_cover(-3, 2) == 0
    assert policy.days_of_cover(5, 0) == math.inf and policy.days_of_cover(0, 0) == 0
    for bad in (lambda: policy.safety_factor(1.0), lambda: policy.eoq(10, 5, 0),
                lambda: policy.safety_stock(1.6, -1, 4), lambda: policy.order_quantity(5, pack=0)):
        with pytest.raises(ValueError, match="need"):
            bad()


# -- point 3: model choice against statsforecast called directly -----------------------------------
def _intermittent_rows(days: int = 70) -> dict[str, list[dict]]:
    rng = np.random.default_rng(17)
    start = dt.datetime(2024, 1, 1, 12)
    orders, items = [], []
    for sku, p_sale, size in (("A", 0.5, 3), ("B", 0.3, 6), ("C", 0.15, 2), ("D", 0.9, 8)):
        for day in range(days):
            if rng.random() < p_sale:
                q = int(rng.integers(1, size + 1))
                oid = f"{sku}{day}"
                orders.append({"order_id": oid, "ordered_at": start + dt.timedelta(days=day),
                               "channel": "web", "status": "completed",
                               "gross_amount": 10.0 * q, "discount_amount": 0.0,
                               "shipping_amount": 0.0, "net_amount": 10.0 * q,
                               "currency": "GBP"})
                items.append({"order_id": oid, "line_no": 1, "product_id": sku, "quantity": q,
                              "unit_price": 10.0, "discount_amount": 0.0})
    products = [{"product_id": p, "category": "x"} for p in "ABCD"]
    return {"products": products, "orders": orders, "order_items": items}


def test_model_choice_matches_statsforecast_directly(tmp_path):
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, IMAPA, TSB, AutoETS, CrostonOptimized, SeasonalNaive

    store = connect("duckdb://")
    demand_shop.load(store, tmp_path, _intermittent_rows())
    ctx = _Ctx(store)
    p = svc.ForecastParams(h=7, windows=3, interval=80)
    out = svc.forecast(ctx, p)
    classes = svc.classes(ctx, svc.ClassParams()).frame.set_index("product_id").pattern
    series = svc.series(ctx, svc.SeriesParams()).frame
    panel = pd.DataFrame({"unique_id": series.product_id, "ds": pd.to_datetime(series.period),
                          "y": series.demand.astype(float)})
    models = {"smooth": [AutoETS(season_length=7), SeasonalNaive(7)],
              "erratic": [AutoETS(season_length=7), SeasonalNaive(7)],
              "intermittent": [CrostonOptimized(), TSB(alpha_d=0.1, alpha_p=0.1), ADIDA(),
                               IMAPA(), SeasonalNaive(7)]}
    models["lumpy"] = models["intermittent"]
    assert set(out.chosen) == set(classes) and len(out.chosen) >= 2
    for pattern, chosen in out.chosen.items():
        ids = list(classes[classes == pattern].index)
        part = panel[panel.unique_id.isin(ids)]
        cv = StatsForecast(models=models[pattern], freq="D").cross_validation(
            df=part, h=7, n_windows=3, step_size=7)
        names = [str(m) for m in models[pattern]]
        mase = {}
        for name in names:
            per_series = []
            for uid, g in cv.groupby("unique_id"):
                hist = part[(part.unique_id == uid) & (part.ds <= g.cutoff.min())].y.to_numpy()
                scale = np.abs(hist[7:] - hist[:-7]).mean()  # in-sample seasonal naive MAE
                per_series.append(np.abs(g[name].clip(lower=0) - g.y).mean() / scale)
            mase[name] = float(np.mean(per_series))
        assert chosen == min(names, key=lambda n: mase[n]), (pattern, mase)
        bt = out.backtest[out.backtest.pattern == pattern].set_index("model")
        assert bt.mase.to_dict() == pytest.approx(mase)
        assert bt.loc["SeasonalNaive", "mase_vs_naive"] == 1.0
    f = out.forecast
    assert len(f) == 4 * 7 and (f.lo <= f.forecast + 1e-9).all()
    assert (f.forecast <= f.hi + 1e-9).all() and (f.lo >= 0).all()
    assert f.period.min() == D(2024, 3, 11)  # the day after the last of 70 days
    with pytest.raises(OptionError, match="need at least"):
        svc.forecast(ctx, svc.ForecastParams(h=28, windows=3))


def test_no_orders_is_a_clear_refusal(tmp_path):
    store = connect("duckdb://")
    demand_shop.load(store, tmp_path, {})
    with pytest.raises(svc.NoData, match="no orders"):
        svc.classes(_Ctx(store), svc.ClassParams())


# -- the bundled Online Retail slice -------------------------------------------------------------
@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    import gzip

    from shopscope.cli import demo_data_path
    from shopscope.core.service import LocalContext
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    root = tmp_path_factory.mktemp("retail")
    head = root / "retail.csv"  # the slice's first 20,000 lines (December 2010): fast
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(20_001)), encoding="utf-8")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, head, preset="online_retail")
    yield LocalContext(ws)
    ws.close()


def test_online_retail_slice_units_and_revenue_independently(retail):
    c = svc.classes(retail, svc.ClassParams())
    f = c.frame.set_index("product_id")
    # net units per SKU by pandas on the raw canonical rows: lines of orders that are not
    # cancelled or refunded, less every credited unit
    t = retail.store
    items = t.table("order_items").execute()
    orders = t.table("orders").select("order_id", "status").execute()
    lines = items.merge(orders, on="order_id")
    kept = lines[~lines.status.isin(["cancelled", "refunded"])]
    credits = t.table("returns").execute()
    units = kept.groupby("product_id").quantity.sum().sub(
        credits.groupby("product_id").quantity.sum(), fill_value=0)
    # the sum of a SKU's daily net units is its net units (the clip at 0 is per day)
    s = svc.series(retail, svc.SeriesParams(skus=tuple(f.index[:20])))
    net = s.frame.groupby("product_id").net_units.sum()
    assert net.to_dict() == units.loc[net.index].astype("int64").to_dict()
    from shopscope.products import service as products

    perf = products.performance(retail, products.PerfParams()).frame
    assert c.total_revenue == pytest.approx(perf.net_sales.sum())
    assert c.matrix.revenue.sum() == pytest.approx(c.total_revenue)
    assert c.matrix.series.sum() == len(f) == c.patterns.series.sum()
    # ABC 80/15/5: the A series hold at least 80% of the positive revenue, and without the
    # smallest of them less than 80%
    pos = f.revenue.clip(lower=0)
    a = f[f.abc == "A"].revenue
    assert a.sum() >= 0.8 * pos.sum() > a.sum() - a.min()



def test_weekly_forecasts_use_whole_weeks_only():
    # Wednesday 2010-12-01 to Friday 2011-12-09: the first whole week starts Monday 12-06,
    # the last whole one starts Monday 2011-11-28 (ends Sunday 12-04)
    weeks = pd.DataFrame({"period": [D(2010, 11, 29), D(2010, 12, 6), D(2011, 11, 28),
                                     D(2011, 12, 5)]})
    kept = svc._whole_weeks(weeks, D(2010, 12, 1), D(2011, 12, 9))
    assert list(kept.period) == [D(2010, 12, 6), D(2011, 11, 28)]
    # a range from a Monday to a Sunday keeps every week
    assert len(svc._whole_weeks(weeks, D(2010, 11, 29), D(2011, 12, 11))) == 4


def test_ranges_are_bounded(shop, tmp_path):
    # days outside the data (orders, credits, stock counts) are not observed: the range
    # is cut to the data's span, here the first order to the last stock count
    s = svc.series(shop, svc.SeriesParams(start=D(1900, 1, 1), end=D(2199, 12, 31)))
    assert (s.start, s.end, len(s.frame)) == (D(2024, 3, 4), D(2024, 3, 17), 3 * 14)
    with pytest.raises(OptionError, match="holds no orders"):
        svc.forecast(shop, svc.ForecastParams(start=D(2020, 1, 1), end=D(2020, 12, 31)))
    # at most ten years of days (core.periods.MAX_PERIODS): two orders eleven years apart
    rows = _intermittent_rows(2)
    rows["orders"][1]["ordered_at"] = dt.datetime(2035, 1, 1)
    store = connect("duckdb://")
    demand_shop.load(store, tmp_path, rows)
    with pytest.raises(OptionError, match="limit"):
        svc.series(_Ctx(store), svc.SeriesParams())
    assert len(svc.series(_Ctx(store), svc.SeriesParams(grain="week")).frame) > 0
