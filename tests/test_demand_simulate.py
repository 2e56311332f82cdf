"""The policy replay (issue 17, point 5): two 10-day replays worked by hand, the achieved
cycle service level on generated demand of known distribution, and the report on the
Online Retail slice's last quarter checked against a plain loop written here."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy.stats import norm

from shopscope.demand import plan as pl
from shopscope.demand import service as svc
from shopscope.demand import simulate as sim


def test_continuous_review_by_hand():
    """(s, Q) with s = 5, Q = 8 (order up to 13), L = 2, 10 units on hand at the start.
    Each day: demand, then the review (position ≤ 5 orders 13 − position, due in 2 days),
    then receipts.

    ===  ======  ====  ======  ========  ==========  =======  ===
    day  demand  sold  on hand position  order       receipt  end
    ===  ======  ====  ======  ========  ==========  =======  ===
    0    3       3     7       7         -           -        7
    1    2       2     5       5         8 (day 3)   -        5
    2    4       4     1       9         -           -        1
    3    0       0     1       9         -           8 (1st)  9
    4    5       5     4       4         9 (day 6)   -        4
    5    4       4     0       9         -           -        0
    6    1       0     0       9         -           9        9   (1 lost: a short cycle)
    7    2       2     7       7         -           -        7
    8    4       4     3       3         10 (d. 10)  -        3
    9    3       3     0       10        -           -        0
    ===  ======  ====  ======  ========  ==========  =======  ===

    Demand 28, sold 27, lost 1: fill 27/28; one cycle (day 3 to day 6), short: CSL 0;
    1 stock-out day; 3 orders; average stock 45/10 = 4.5; turns 27/4.5 × 365/10 = 219.
    """
    r = sim.replay(np.array([[3, 2, 4, 0, 5, 4, 1, 2, 4, 3]]), reorder=5, target=13, lead=2,
                   start=10)
    row = sim.per_sku(r).iloc[0]
    assert (row.demand, row.sold, row.lost) == (28, 27, 1)
    assert row.fill_rate == pytest.approx(27 / 28)
    assert (row.cycles, row.csl, row.stockout_days, row.orders) == (1, 0.0, 1, 3)
    assert row.avg_inventory == pytest.approx(4.5)
    assert row.turns == pytest.approx(219.0)


def test_periodic_review_with_packs_by_hand():
    """(R, S) with R = 3 (reviews on days 0, 3, 6, 9), S = 10, L = 1, packs of 4, 6 on
    hand, 2 a day. Day 0: 4 left, order ⌈6/4⌉·4 = 8, in on day 1 (10). Day 3: 6 left,
    order 4 (day 4: 8). Day 6: 4 left, order 8 (day 7: 10). Day 9: 6 left, order 4 (due
    after the end). Ends of day 4, 10, 8, 6, 8, 6, 4, 10, 8, 6: average 7. Sold 20 of 20;
    receipts on days 1, 4, 7: two cycles, neither short; 4 orders; turns 20/7 × 36.5."""
    r = sim.replay(np.full((1, 10), 2), reorder=10, target=10, lead=1, start=6, review=3,
                   pack=4)
    row = sim.per_sku(r).iloc[0]
    assert (row.sold, row.lost, row.fill_rate) == (20, 0, 1.0)
    assert (row.cycles, row.csl, row.orders, row.stockout_days) == (2, 1.0, 4, 0)
    assert row.avg_inventory == pytest.approx(7.0)
    assert row.turns == pytest.approx(20 / 7 * 36.5)


def test_replay_is_vectorised_per_sku():
    # two SKUs in one replay give each one's own answer
    d = np.array([[3, 2, 4, 0, 5, 4, 1, 2, 4, 3], [2] * 10])
    both = sim.per_sku(sim.replay(d, reorder=[5, 6], target=[13, 12], lead=[2, 1],
                                  start=[10, 6]))
    for i in range(2):
        one = sim.per_sku(sim.replay(d[i:i + 1], reorder=[5, 6][i], target=[13, 12][i],
                                     lead=[2, 1][i], start=[10, 6][i]))
        assert both.iloc[i].to_dict() == one.iloc[0].to_dict()


def test_bad_replay_input_is_refused():
    with pytest.raises(ValueError, match="demand"):
        sim.replay(np.array([[1, -1]]), reorder=1, target=2, lead=1, start=1)
    with pytest.raises(ValueError, match="lead"):
        sim.replay(np.array([[1, 1]]), reorder=1, target=2, lead=np.nan, start=1)
    # no demand, no cycle: the rates are missing, not NaN
    row = sim.per_sku(sim.replay(np.zeros((1, 5)), reorder=0, target=0, lead=1,
                                 start=0)).iloc[0]
    assert row.fill_rate is None and row.csl is None


def generated(csl: float, review: int) -> tuple[dict, float]:
    """300 SKUs × 730 days of normal daily demand (mean 5 to 30, CV 0.2 to 0.5, rounded,
    at least 0), lead times 2 to 9 days, levels from the true mean and σ (Q = 14 days of
    demand): the replay's totals and the demand-weighted implied fill rate."""
    rng = np.random.default_rng(2026)
    n, days = 300, 730
    mu = rng.uniform(5, 30, n)
    sd = mu * rng.uniform(0.2, 0.5, n)
    demand = np.maximum(np.round(rng.normal(mu[:, None], sd[:, None], (n, days))), 0)
    lead = rng.integers(2, 10, n)
    z = norm.ppf(csl)
    lv = [pl.levels(m, s, float(lt), z, review, 14 * m)
          for m, s, lt in zip(mu, sd, lead, strict=True)]
    s_ = np.array([x["reorder_point"] for x in lv])
    big_s = np.array([x["order_up_to"] for x in lv])
    r = sim.replay(demand, reorder=s_, target=big_s, lead=lead, start=big_s, review=review)
    return sim.total(r), float(np.average([x["fill_rate"] for x in lv], weights=mu))


@pytest.mark.parametrize("review", [0, 7])
@pytest.mark.parametrize("csl", [0.95, 0.90])
def test_achieved_service_level_on_known_demand(csl, review):
    """Where the model is right (:func:`generated`), the achieved cycle service level is
    within 3 points of the target, the achieved fill rate within half a point of the
    implied one (1 − σ_L G(z) / Q)."""
    got, implied = generated(csl, review)
    assert got["cycles"] > 10_000
    assert abs(got["csl"] - csl) <= 0.03, got
    assert abs(got["fill_rate"] - implied) <= 0.005, (got, implied)


# -- the bundled Online Retail slice: the last quarter -------------------------------------------
@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    from shopscope.cli import demo_data_path
    from shopscope.core.service import LocalContext
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path_factory.mktemp("retail") / "ws")
    ingest_file(ws, demo_data_path(), preset="online_retail")
    yield LocalContext(ws)
    ws.close()


def _loop(demand, s, target, lead, start):
    """The replay of one SKU as a plain loop (the module's rules, written again)."""
    on_hand, pipeline, lost_days, sold, ends = start, {}, 0, 0.0, []
    for t, d in enumerate(demand):
        got = min(on_hand, d)
        sold += got
        on_hand -= got
        lost_days += d > got
        position = on_hand + sum(pipeline.values())
        if position <= s and position < target:
            pipeline[t + lead] = pipeline.get(t + lead, 0) + target - position
        on_hand += pipeline.pop(t, 0)
        ends.append(on_hand)
    return sold, lost_days, sum(ends) / len(ends)


def test_online_retail_last_quarter(retail):
    cutoff = dt.date(2011, 9, 9)  # the slice ends on 2011-12-09: a quarter replayed
    out = svc.simulate(retail, svc.SimulateParams(cutoff=cutoff))
    assert out.start == dt.date(2011, 9, 10) and out.end == dt.date(2011, 12, 9)
    assert out.train_start == dt.date(2011, 6, 12)
    t = out.totals.set_index("policy")
    ours = t.iloc[0]
    assert ours["target_csl"] == 0.95 and 0 <= ours["csl"] <= 1 and 0 < ours["fill_rate"] <= 1
    assert len(out.frame) > 500 and out.skipped > 0
    # the held-out demand of the replayed SKUs, summed by pandas on the series
    held = svc.series(retail, svc.SeriesParams(start=out.start, end=out.end)).frame
    held = held[held.product_id.isin(set(out.frame.product_id))]
    assert ours["demand"] == held.demand.sum() == t.iloc[1]["demand"]
    # three SKUs replayed again by the loop above (lead time: the default 7 days)
    for sku in sorted(set(held.product_id))[:3]:
        row = out.frame.set_index("product_id").loc[sku]
        d = held[held.product_id == sku].sort_values("period").demand.tolist()
        sold, lost_days, avg = _loop(d, row.reorder_point, row.order_up_to, 7,
                                     row.order_up_to)
        assert row.policy_sold == pytest.approx(sold)
        assert row.policy_stockout_days == lost_days
        assert row.policy_avg_inventory == pytest.approx(avg)


if __name__ == "__main__":  # the table in docs/demand.md: python -m tests.test_demand_simulate
    print("| review | target CSL | achieved CSL | implied fill | achieved fill | stock-out days "
          "| avg inventory | turns | orders |")
    for rev in (0, 7):
        for target in (0.95, 0.90):
            t, fill = generated(target, rev)
            print(f"| {rev} | {target:.0%} | {t['csl']:.1%} | {fill:.2%} | {t['fill_rate']:.2%} "
                  f"| {t['stockout_days']:,} | {t['avg_inventory']:,.0f} | {t['turns']:.1f} "
                  f"| {t['orders']:,} |")
