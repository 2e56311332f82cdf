"""Lifecycle stages, monthly transitions and derived windows, worked out by hand on a tiny shop,
and a partition check on Online Retail."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from shopscope.customers.lifecycle import (
    DEFAULT_WINDOWS,
    STAGES,
    LifecycleError,
    LifecycleWindows,
    derive_windows,
    monthly_stages,
    reactivation_and_churn_rates,
    stages_as_of,
    transition_matrix,
)
from shopscope.schema import get_table
from shopscope.store import connect
from tests.conftest import shared_file

W = LifecycleWindows(new_days=30, active_days=60, churn_days=120)

# Customers table: p1 and k1 are prospects, p2 is first seen in the future, a1 buys.
# The other buyers (n1, d1, x1, b1, b2, b3) exist only in orders.
CUSTOMERS = [
    ("p1", "2024-03-10"),
    ("k1", "2024-06-19"),
    ("p2", "2024-08-01"),
    ("a1", "2023-12-01"),
]
# order, customer, ordered_at, status
ORDERS = [
    ("o01", "a1", "2024-01-10 09:00", "completed"),
    ("o02", "a1", "2024-05-20 10:00", "completed"),
    ("o03", "a1", "2024-05-20 18:00", "completed"),  # same day as o02: one purchase day
    ("o04", "n1", "2024-06-15 12:00", "completed"),
    ("o05", "d1", "2024-04-01 08:00", "pending"),
    ("o06", "x1", "2024-01-05 23:00", "refunded"),
    ("o07", "b1", "2024-02-01 10:00", "completed"),
    ("o08", "b1", "2024-05-02 10:00", "completed"),  # exactly 60 days before 2024-07-01
    ("o09", "b2", "2024-03-03 10:00", "completed"),  # exactly 120 days before 2024-07-01
    ("o10", "b3", "2024-06-01 10:00", "completed"),  # exactly 30 days before 2024-07-01
    ("o11", "k1", "2024-06-20 10:00", "cancelled"),  # does not make k1 a buyer
    ("o12", None, "2024-06-25 10:00", "completed"),  # guest
    ("o13", "a1", "2024-07-01 00:00", "completed"),  # on as_of: not before it
]


def _store(customers, orders):
    store = connect("duckdb://")
    cust = [{"customer_id": c, "first_seen_at": dt.datetime.fromisoformat(s)}
            for c, s in customers]
    rows = [
        {"order_id": o, "customer_id": c, "ordered_at": dt.datetime.fromisoformat(at),
         "channel": "web", "status": st, "gross_amount": 10.0, "discount_amount": 0.0,
         "shipping_amount": 0.0, "net_amount": 10.0, "currency": "EUR"}
        for o, c, at, st in orders
    ]
    for name, data in (("customers", cust), ("orders", rows)):
        schema = get_table(name).ibis_schema().to_pyarrow()
        store.backend.create_table(name, pa.Table.from_pylist(data, schema=schema))
    return store


@pytest.fixture(scope="module")
def shop():
    return _store(CUSTOMERS, ORDERS)


def test_stage_registry():
    assert list(STAGES) == ["prospect", "new", "active", "dormant", "churned"]
    assert [s.label_zh for s in STAGES.values()] == ["潜客", "新客", "活跃", "沉睡", "流失"]


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 10, 20), "new_days must be a whole number"),
     ((40, 30, 60), "must not exceed active_days"),
     ((10, 60, 60), "must be below churn_days"),
     ((10, 60.5, 90), "active_days must be a whole number")],
)
def test_windows_validation(args, match):
    with pytest.raises(LifecycleError, match=match):
        LifecycleWindows(*args)
    with pytest.raises(ValueError):  # also a built-in ValueError
        LifecycleWindows(*args)


def test_stages_as_of_by_hand(shop):
    got = stages_as_of(shop, "2024-07-01", W).order_by("customer_id").execute().set_index(
        "customer_id")
    # Days to 2024-07-01 (2024 is a leap year):
    # a1: first Jan 10, last May 20 (o02, o03; o13 is on as_of) -> 11 + 31 = 42 -> active
    # b1: first Feb 1, last May 2 -> 60 = active_days -> active
    # b2: only Mar 3 -> 120 = churn_days, first purchase 120 days ago -> churned
    # b3: only Jun 1 -> 30 = new_days -> new
    # d1: only Apr 1 (pending counts) -> 30 + 31 + 30 = 91 -> dormant
    # n1: only Jun 15 -> 16 -> new
    # x1: only Jan 5 (refunded counts) -> 178 -> churned
    # p1, k1: known, never bought (k1's only order is cancelled) -> prospect
    # p2 is first seen after as_of; the guest order has no customer.
    expected = {"a1": ("active", 42), "b1": ("active", 60), "b2": ("churned", 120),
                "b3": ("new", 30), "d1": ("dormant", 91), "k1": ("prospect", None),
                "n1": ("new", 16), "p1": ("prospect", None), "x1": ("churned", 178)}
    assert list(got.index) == sorted(expected)
    assert got.stage.to_dict() == {c: s for c, (s, _) in expected.items()}
    days = {c: (None if d != d else int(d)) for c, d in got.days_since.items()}
    assert days == {c: d for c, (_, d) in expected.items()}
    assert got.loc["a1", "last_order_at"] == dt.datetime(2024, 5, 20, 18)
    assert got.loc["a1", "first_order_at"] == dt.datetime(2024, 1, 10, 9)


def test_monthly_stages_and_transition_matrix_by_hand(shop):
    # Snapshots 2024-04-01, 05-01, 06-01 (purchases strictly before each day count).
    #           Apr 1                May 1                 Jun 1
    # p1        prospect             prospect              prospect
    # a1        dormant (82 d)       dormant (112)         active (12, May 20)
    # x1        dormant (87)         dormant (117)         churned (148)
    # b1        active (60, Feb 1)   dormant (90)          active (30, May 2)
    # b2        new (29, Mar 3)      active (59)           dormant (90)
    # d1        -                    new (30, Apr 1)       dormant (61)
    # k1 (seen Jun 19), n1, b3 (buy Jun 1 = not before Jun 1): not yet there.
    snaps = monthly_stages(shop, "2024-04-15", "2024-06-30", W).execute()
    table = snaps.pivot(index="customer_id", columns="month", values="stage")
    table.columns = [c.strftime("%b") for c in table.columns]
    expected = {
        "p1": ["prospect", "prospect", "prospect"],
        "a1": ["dormant", "dormant", "active"],
        "x1": ["dormant", "dormant", "churned"],
        "b1": ["active", "dormant", "active"],
        "b2": ["new", "active", "dormant"],
        "d1": [None, "new", "dormant"],
    }
    assert sorted(table.index) == sorted(expected)
    for cid, stages in expected.items():
        row = [None if v != v else v for v in table.loc[cid, ["Apr", "May", "Jun"]]]
        assert row == stages, cid

    m = transition_matrix(shop, "2024-04-01", "2024-06-01", W)
    assert len(m) == 25
    counts = {(f, t): n for f, t, n in m[["from_stage", "to_stage", "customers"]].itertuples(
        index=False) if n}
    # Apr -> May: p1 p->p, a1 d->d, x1 d->d, b1 a->d, b2 n->a   (d1 enters: not counted)
    # May -> Jun: p1 p->p, a1 d->a, x1 d->c, b1 d->a, b2 a->d, d1 n->d
    assert counts == {("prospect", "prospect"): 2, ("new", "active"): 1,
                      ("new", "dormant"): 1, ("active", "dormant"): 2,
                      ("dormant", "dormant"): 2, ("dormant", "active"): 2,
                      ("dormant", "churned"): 1}
    share = m.set_index(["from_stage", "to_stage"]).share
    assert share["dormant", "active"] == pytest.approx(0.4)
    assert share["dormant", "churned"] == pytest.approx(0.2)
    assert share["new", "dormant"] == pytest.approx(0.5)
    assert share["active", "dormant"] == pytest.approx(1.0)
    assert share["churned"].isna().all()  # nobody churned at a month start before June


def test_reactivation_and_churn_rates_by_hand(shop):
    rates = reactivation_and_churn_rates(shop, "2024-04-01", "2024-06-01", W)
    assert [d.strftime("%Y-%m-%d") for d in rates.month] == ["2024-04-01", "2024-05-01"]
    # Apr -> May: active b1 lapses (1/1); inactive a1, x1: none back (0/2).
    # May -> Jun: active b2 lapses (1/1); inactive a1, x1, b1: a1 and b1 back (2/3).
    assert rates.active.tolist() == [1, 1]
    assert rates.lapsed.tolist() == [1, 1]
    assert rates.churn_rate.tolist() == [1.0, 1.0]
    assert rates.inactive.tolist() == [2, 3]
    assert rates.reactivated.tolist() == [0, 2]
    assert rates.reactivation_rate.tolist() == pytest.approx([0.0, 2 / 3])


def _gap_shop():
    # g1 buys on days 0, 1, 3, 6, 10, 15, 21, 28, 36, 45, 55 from 2024-01-01: gaps 1..10.
    start = dt.datetime(2024, 1, 1, 12)
    offsets = [0, 1, 3, 6, 10, 15, 21, 28, 36, 45, 55]
    orders = [(f"g{i}", "g1", (start + dt.timedelta(days=d)).isoformat(" "), "completed")
              for i, d in enumerate(offsets)]
    orders += [
        ("h1", "h1", "2024-01-01 09:00", "completed"),
        ("h2", "h1", "2024-01-01 19:00", "completed"),  # same day: no gap
        ("h3", "h1", "2024-01-05 10:00", "cancelled"),  # cancelled: no purchase
        ("s1", "s1", "2024-02-01 10:00", "completed"),  # one-time buyer: no gap
        ("late", "g1", "2024-12-01 10:00", "completed"),  # after as_of below: ignored
    ]
    return _store([], orders)


def test_derived_windows_on_known_gaps():
    shop = _gap_shop()
    got = derive_windows(shop, "2024-06-01")
    # Gaps 1..10 (n = 10); linear interpolation at p·(n-1):
    # q(0.5) = 5.5 -> 6, q(0.8): position 7.2 -> 8.2 -> 9, q(0.95): 8.55 -> 9.55 -> 10.
    assert (got.gaps, got.repeat_buyers, got.code) == (10, 1, "ok")
    assert got.quantiles[0.5] == pytest.approx(5.5)
    assert got.quantiles[0.8] == pytest.approx(8.2)
    assert got.quantiles[0.95] == pytest.approx(9.55)
    assert got.windows == LifecycleWindows(6, 9, 10)
    assert derive_windows(shop, "2024-06-01", churn_multiple=2).windows == LifecycleWindows(
        6, 9, 18)
    # With the late order, g1 has an 11th gap of 2024-02-25 -> 2024-12-01 = 280 days.
    assert derive_windows(shop).gaps == 11
    approx = derive_windows(shop, "2024-06-01", method="approx").windows
    assert 1 <= approx.new_days <= approx.active_days < approx.churn_days
    with pytest.raises(LifecycleError, match="0 < new ≤ active < churn < 1"):
        derive_windows(shop, active_quantile=0.99)
    with pytest.raises(LifecycleError, match="unknown method"):
        derive_windows(shop, method="median")  # type: ignore[arg-type]


def test_derived_windows_without_repeat_buyers_fall_back():
    shop = _store([], [("o1", "c1", "2024-01-01 10:00", "completed")])
    got = derive_windows(shop)
    assert got.code == "no_repeat_buyers" and got.windows == DEFAULT_WINDOWS
    # Windows default to derived ones: here the fallback 30/90/180.
    assert stages_as_of(shop, "2024-02-01").execute().stage.tolist() == ["active"]


def test_bad_dates():
    shop = _store([], [])
    with pytest.raises(LifecycleError, match="not a date"):
        stages_as_of(shop, "July", W)
    with pytest.raises(LifecycleError, match="before start"):
        monthly_stages(shop, "2024-05-01", "2024-01-01", W)


@pytest.mark.realdata
def test_online_retail_stages_partition_buyers(tmp_path):
    from shopscope.customers.rfm import rfm_table
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("online_retail", "online_retail.csv.gz")
    with Workspace.create(tmp_path / "ws") as ws:
        ingest_file(ws, path, preset="online_retail")
        derived = derive_windows(ws.store, "2011-12-10")
        w = derived.windows
        assert derived.code == "ok" and derived.gaps > 1000
        assert 1 <= w.new_days <= w.active_days < w.churn_days
        stages = stages_as_of(ws.store, "2011-12-10", w)
        counts = stages.group_by("stage").aggregate(n=stages.count()).execute()
        counts = dict(zip(counts.stage, counts.n, strict=True))
        buyers = int(rfm_table(ws.store, "2011-12-10").count().execute())
        prospects = counts.pop("prospect", 0)
        assert set(counts) <= set(STAGES)
        assert sum(counts.values()) == buyers  # every buyer in exactly one stage
        assert int(stages.customer_id.nunique().execute()) == buyers + prospects  # no dupes
