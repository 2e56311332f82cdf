"""The replenishment plan (issue 17, point 4) on the hand-built shop of
``tests/demand_shop.py``, plus: SKU A costs 4.00, SKU E (toys) has 6 in stock at w1 on
03-17 and never sold, C's count on 03-17 gives a lead time of 4 days.

The plan is on 2024-03-17 (the data's last day) over the 90 days before it, cut to the data
(03-04 to 03-17, 14 days). By hand, A's daily demand on its 13 days in stock (03-14 is out):
2, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0 (03-06 is cancelled, 03-12's return nets to 0):
d = 5/13, σ² = 9/13 − (5/13)² = 92/169. B: 4 units on 03-05 less 1 cancelled, 03-08 refunded,
03-16 out (−1, counted as 0): d = 3/13. C: one sale (1 unit on 03-13) in 14 days.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import math

import pandas as pd
import pytest
from scipy.stats import norm

from shopscope.demand import plan as pl
from shopscope.demand import service as svc
from shopscope.errors import OptionError
from shopscope.store import connect
from tests import demand_shop
from tests.shops import BareContext

D = dt.date
AS_OF = D(2024, 3, 17)
Z95 = 1.6448536269514722  # Φ⁻¹(0.95)


def _rows() -> dict:
    rows = copy.deepcopy(demand_shop.ROWS)
    rows["products"][0]["cost"] = 4.0
    rows["products"].append({"product_id": "E", "name": "E", "category": "toys",
                             "price": 10.0})
    rows["inventory"].append({"date": AS_OF, "product_id": "E", "location": "w1",
                              "on_hand": 6, "on_order": 1})
    for r in rows["inventory"]:
        if r["product_id"] == "C" and r["date"] == AS_OF:
            r["lead_time_days"] = 4
    # F: sold 1 on 03-10, counted at 0 on every day: never in stock on a counted day
    rows["products"].append({"product_id": "F", "name": "F", "category": "toys"})
    rows["orders"].append({**rows["orders"][0], "order_id": "o7",
                           "ordered_at": dt.datetime(2024, 3, 10, 9)})
    rows["order_items"].append({"order_id": "o7", "line_no": 1, "product_id": "F",
                                "quantity": 1, "unit_price": 10.0, "discount_amount": 0.0})
    rows["inventory"] += [{"date": D(2024, 3, 4) + dt.timedelta(days=i), "product_id": "F",
                           "location": "w1", "on_hand": 0} for i in range(14)]
    return rows


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    store = connect("duckdb://")
    demand_shop.load(store, tmp_path_factory.mktemp("plan"), _rows())
    return BareContext(store)


def _g(z: float) -> float:
    """The normal loss function from its definition, φ(z) − z (1 − Φ(z))."""
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return phi - z * (1 - 0.5 * math.erfc(-z / math.sqrt(2)))


def _row(plan: svc.Plan, sku: str) -> pd.Series:
    return plan.frame.set_index("product_id").loc[sku]


def test_plan_by_hand_continuous_review(shop):
    p = svc.plan(shop, svc.PlanParams())
    assert (p.as_of, p.start, p.uncounted) == (AS_OF, D(2024, 3, 4), 0)
    a = _row(p, "A")
    d, var = 5 / 13, 92 / 169
    assert (a.on_hand, a.on_order, a.position, a.location) == (2, 0, 2, "all (2)")
    assert a["mean"] == pytest.approx(d) and a["std"] == pytest.approx(math.sqrt(var))
    assert (a.days, a.sold, a.stockout_days) == (13, 5, 1)
    assert a.days_of_cover == pytest.approx(2 / d) and a.sell_through == pytest.approx(5 / 7)
    # lead time: no count or file gives one, the default 7 days
    assert (a.lead_time_days, a.lead_time_source) == (7, "default")
    # undershoot E[U] = (σ² + d²) / 2d = (117/169) / (10/13) = 0.9; Var U = (d² + 3σ²)/3 −
    # 0.81 = 301/507 − 0.81 < 0, taken as 0: σ_L = σ √7
    sigma_l = math.sqrt(7 * var)
    assert a.safety_stock == pytest.approx(Z95 * sigma_l)
    assert a.reorder_point == pytest.approx(7 * d + 0.9 + Z95 * sigma_l)
    # EOQ: D = 365 d, S = 50, H = 0.25 × 4.00 = 1 → √(2 · 365 d · 50)
    q = math.sqrt(2 * 365 * d * 50)
    assert a.eoq == pytest.approx(q) and q == pytest.approx(118.49, abs=0.01)
    assert a.order_up_to == pytest.approx(a.reorder_point + q)
    assert a.fill_rate == pytest.approx(1 - sigma_l * _g(Z95) / q)
    # position 2 ≤ s: on the list today, order ⌈S − 2⌉ units, in after 7 days
    assert a.reorder and a.order_qty == math.ceil(a.order_up_to - 2)
    assert (a.order_by, a.arrives) == (AS_OF, D(2024, 3, 24))
    b = _row(p, "B")
    assert b.on_hand == 0 and "negative stock (-1) counted as 0" in b.note
    assert b["mean"] == pytest.approx(3 / 13)
    assert "1 sale day(s)" in b.note and b.safety_stock is None  # one sale day: no levels
    assert list(p.orders.product_id) == ["A"]


def test_bad_input_rows_state_their_fallback(shop):
    p = svc.plan(shop, svc.PlanParams(overstock_days=30))
    c, e = _row(p, "C"), _row(p, "E")
    # one sale: no levels, said so, never NaN passed off as a number
    assert "1 sale day(s)" in c.note and c.reorder_point is None and not c.reorder
    assert (c.lead_time_days, c.lead_time_source) == (4, "inventory")
    # E never sold: dead stock, cover without end, on order counted
    assert e.dead_stock and not e.overstock and e.days_of_cover is None
    assert (e.position, e["mean"]) == (7, 0) and "no sale in the window" in e.note
    assert "on order not counted: taken as 0" in c.note
    # C: 5 on hand at 1/14 a day is 70 days of cover, over 30: overstock
    assert c.overstock and c.days_of_cover == pytest.approx(70)
    f = _row(p, "F")
    assert f.days == 0 and f["mean"] == 0 and f.stockout_days == 14
    assert "out of stock on every day of the window" in f.note and f.reorder_point is None
    numeric = p.frame.select_dtypes("number")
    assert not numeric.isna().any().any()


def test_no_cost_takes_days_of_demand(shop):
    b = _row(svc.plan(shop, svc.PlanParams(min_sales=1, cover_days=20)), "B")
    assert b.eoq is None and "no unit cost or holding rate: Q = 20 days" in b.note
    assert b.order_up_to - b.reorder_point == pytest.approx(20 * 3 / 13)


def test_periodic_review_and_within(shop):
    p = svc.plan(shop, svc.PlanParams(review=7, min_sales=1, within=60))
    a = _row(p, "A")
    d, sd = 5 / 13, math.sqrt(92 / 169)
    ss = Z95 * sd * math.sqrt(14)  # over R + L = 7 + 7 days
    assert a.safety_stock == pytest.approx(ss)
    assert a.order_up_to == pytest.approx(14 * d + ss) == pytest.approx(a.reorder_point)
    assert a.fill_rate == pytest.approx(1 - sd * math.sqrt(14) * _g(Z95) / (7 * d))
    c = _row(p, "C")
    # C: position 5, S = 8/14 + z σ √8 (L = 4 from its count); due today, order ⌈S − 5⌉
    d_c = 1 / 14
    s_c = 11 * d_c + Z95 * math.sqrt(1 / 14 - d_c**2) * math.sqrt(11)
    assert c.order_up_to == pytest.approx(s_c)
    assert c.reorder == (s_c >= 5)


def test_policy_file_toml_and_csv_agree(shop, tmp_path):
    toml = tmp_path / "policy.toml"
    toml.write_text('[default]\norder_cost = 8\n[sku."A"]\nlead_time_days = 3\nmoq = 150\n'
                    'pack = 12\n[category."books"]\nlead_time_days = 10\nholding_rate = 0.5\n',
                    encoding="utf-8")
    csv = tmp_path / "policy.csv"
    csv.write_text("sku,category,lead_time_days,moq,pack,order_cost,holding_rate\n"
                   ",,,,,8,\nA,,3,150,12,,\n,books,10,,,,0.5\n", encoding="utf-8")
    plans = [svc.plan(shop, svc.PlanParams(policy=str(f))) for f in (toml, csv)]
    pd.testing.assert_frame_equal(plans[0].frame, plans[1].frame)
    a, b = _row(plans[0], "A"), _row(plans[0], "B")
    assert (a.lead_time_days, a.lead_time_source) == (3, "policy sku")
    assert (b.lead_time_days, b.lead_time_source) == (10, "policy category")
    assert a.eoq == pytest.approx(math.sqrt(2 * 365 * 5 / 13 * 8 / 1.0))
    # need S − 2 is below the MOQ of 150: 150 rounded up to packs of 12 = 156
    assert a.order_up_to - 2 < 150 and a.order_qty == 156


@pytest.mark.parametrize("text, suffix, where", [
    ("[sku.A]\nmoq = -1\n", ".toml", "[sku A]: moq = -1 is not a number ≥ 0"),
    ("[sku.A]\ncolour = 3\n", ".toml", "unknown field 'colour'"),
    ("[skus.A]\nmoq = 1\n", ".toml", "unknown table 'skus'"),
    ("sku,category,pack\nA,toys,2\n", ".csv", "line 2: both sku and category"),
    ("sku,pack\nA,0\n", ".csv", "pack = '0'"),
    ("x", ".yaml", "unknown kind"),
])
def test_bad_policy_file_is_refused(tmp_path, text, suffix, where):
    f = tmp_path / f"p{suffix}"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(OptionError) as exc:
        pl.load_policy(f)
    assert where in exc.value.message


def test_no_stock_count_is_a_clear_refusal(tmp_path):
    store = connect("duckdb://")
    rows = copy.deepcopy(demand_shop.ROWS)
    rows["inventory"] = []
    demand_shop.load(store, tmp_path, rows)
    with pytest.raises(svc.NoData, match="no stock count"):
        svc.plan(BareContext(store), svc.PlanParams())


# -- API and CLI: the same numbers as the service -------------------------------------------
@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from tests.test_demand import _intermittent_rows

    root = tmp_path_factory.mktemp("plan-web")
    rows = _intermittent_rows()
    last = D(2024, 3, 10)  # the 70th day
    rows["inventory"] = [{"date": last, "product_id": p, "location": "w1", "on_hand": n,
                          "on_order": o, "lead_time_days": lt}
                         for p, n, o, lt in (("A", 3, 0, 5), ("B", 40, 0, 3),
                                             ("C", 0, 2, None), ("D", 10, 0, 2))]
    w = demand_shop.workspace(root, rows)
    yield w
    w.close()


@pytest.fixture(scope="module")
def client(ws):
    from shopscope.app import create_app
    from tests.test_web import client_for, login

    c = client_for(create_app(ws))
    assert login(c, "ada").status_code == 303
    return c


def _same(api: dict, frame_row: pd.Series, rel: float = 1e-12) -> None:
    for k in ("on_hand", "position", "mean", "std", "safety_stock", "reorder_point",
              "order_up_to", "order_qty", "fill_rate"):
        assert api[k] == pytest.approx(frame_row[k], rel=rel), k


def test_plan_api_cli_and_service_agree(ws, client):
    from shopscope.core.service import LocalContext
    from tests.test_demand_web import cli

    params = {"csl": 0.9, "review": 0, "all": "true"}
    body = client.get("/api/demand/plan", params=params).json()
    ref = svc.plan(LocalContext(ws), svc.PlanParams(csl=0.9)).frame.set_index("product_id")
    assert body["as_of"] == "2024-03-10" and body["skus"] == 4
    assert [r["product_id"] for r in body["orders"]] == list("ABCD")
    for r in body["orders"]:
        _same(r, ref.loc[r["product_id"]])
    # C has nothing on hand and 2 on order; its lead time is the default, said so
    c = next(r for r in body["orders"] if r["product_id"] == "C")
    assert c["position"] == 2 and c["lead_time_source"] == "default"
    code, out, _ = cli("demand", "plan", "-w", str(ws.path), "--csl", "0.9", "--all",
                       "--format", "json")
    assert code == 0
    for r in json.loads(out):  # exports write 12 significant digits
        _same(r, ref.loc[r["product_id"]], rel=1e-10)
    # the export: the list as CSV, the same SKUs as the API's list
    listed = client.get("/api/demand/plan", params={"csl": 0.9}).json()["orders"]
    csv = client.get("/api/demand/plan/export", params={"csl": 0.9})
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(csv.text))
    assert list(frame.product_id) == [r["product_id"] for r in listed]
    assert frame.order_qty.tolist() == [r["order_qty"] for r in listed]


def test_plan_from_the_forecast(ws, client):
    body = client.get("/api/demand/plan", params={"source": "forecast", "h": 7,
                                                  "all": "true"}).json()
    fc = client.get("/api/demand/forecast", params={"h": 7, "end": "2024-03-10"}).json()
    for r in body["orders"]:
        pts = [p for p in fc["points"] if p["key"]["product_id"] == r["product_id"]]
        assert r["demand_source"].startswith("forecast (")
        assert r["mean"] == pytest.approx(sum(p["forecast"] for p in pts) / 7)
        # σ: the mean half-width of the 80% interval over z = Φ⁻¹(0.9)
        half = sum(p["hi"] - p["lo"] for p in pts) / 14
        assert r["std"] == pytest.approx(half / norm.ppf(0.9))


def test_simulate_api_cli_and_service_agree(ws, client):
    from shopscope.core.service import LocalContext
    from tests.test_demand_web import cli

    body = client.get("/api/demand/simulate", params={"cutoff": "2024-02-20",
                                                      "per_sku": "true"}).json()
    ref = svc.simulate(LocalContext(ws), svc.SimulateParams(cutoff=D(2024, 2, 20)))
    assert body["start"] == "2024-02-21" and body["end"] == "2024-03-10"
    for got, want in zip(body["totals"], ref.totals.to_dict("records"), strict=True):
        for k in ("demand", "sold", "fill_rate", "csl", "avg_inventory", "orders"):
            if want[k] is None or pd.isna(want[k]):  # no cycle in the replay: no CSL
                assert got[k] is None, k
            else:
                assert got[k] == pytest.approx(want[k]), k
    assert len(body["skus"]) == len(ref.frame)
    code, out, _ = cli("demand", "simulate", "-w", str(ws.path), "--cutoff", "2024-02-20",
                       "--format", "json")
    assert code == 0
    assert [r["fill_rate"] for r in json.loads(out)] == pytest.approx(
        list(ref.totals.fill_rate))


@pytest.mark.parametrize("path, params, where", [
    ("/api/demand/plan", {"csl": 1}, "csl"),
    ("/api/demand/plan", {"source": "magic"}, "source"),
    ("/api/demand/simulate", {"cutoff": "2024-03-01", "end": "2024-02-01"}, "not after"),
    ("/api/demand/simulate", {"cutoff": "2020-01-01"}, "cutoff"),
])
def test_bad_plan_input_is_a_422(client, path, params, where):
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert where in r.text
