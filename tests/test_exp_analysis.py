"""Experiment analysis (``shopscope.experiments.analysis``) and the registry, on DuckDB and Spark.

The small experiment below is written out row by row; every expected number is worked out
by hand in the comments (or, for the daily series and the caps, recomputed with plain
pandas/numpy from the same rows), never copied from the code's output. The CUPED check
uses a synthetic experiment (``shopscope.synth.experiments``) with a correlated pre-period
and recomputes the per-unit values with pandas.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from shopscope.errors import OptionError, WorkspaceError
from shopscope.experiments.analysis import (
    SampleRatioMismatchWarning,
    analyze,
    daily_stats,
    experiment_stats,
)
from shopscope.experiments.registry import (
    ExperimentDefinition,
    ExperimentError,
    ExperimentNotFound,
    ExperimentStore,
    MetricDef,
    parse_definition,
)
from shopscope.synth.experiments import experiment_tables
from tests.behaviour_shop import events_frame, make_store

T = pd.Timestamp


# -- the hand-written experiment ----------------------------------------------------------
# Window 2024-03-01 .. 2024-03-07 (both included); CUPED pre-period: the 14 days before.
#
# unit  variant    assigned_at        in-window orders (net)            per unit: conv rev n
# c1    control    03-01 00:00        03-02 10, 03-02 30                 1   40   2
# c2    control    03-01 00:00        (03-05 20 cancelled) pre: 02-20 50 0    0   0
# c3    control    03-01 00:00        —                                  0    0   0
# c4    control    03-03 12:00        03-02 100 is before assignment; 03-04 60   1 60 1
# t1    treatment  03-01 00:00        03-01 10:00 25, 03-06 35           1   60   2
# t2    treatment  03-01 00:00        03-08 80 is after the window       0    0   0
# t3    treatment  03-01 00:00        03-03 15; pre: 02-25 5             1   15   1
# t4    treatment  null (= start)     03-07 23:00 45 (last day counts)   1   45   1
# x9    treatment  03-09 (after the window: left out)
# z1    C          03-01 (a variant the definition does not name: left out, warned)
# c1 is also in another experiment, which must not leak in.
def _frames() -> dict[str, pd.DataFrame]:
    exp = pd.DataFrame([
        ("e1", "c1", "control", T("2024-03-01")),
        ("e1", "c2", "control", T("2024-03-01")),
        ("e1", "c3", "control", T("2024-03-01")),
        ("e1", "c4", "control", T("2024-03-03 12:00")),
        ("e1", "t1", "treatment", T("2024-03-01")),
        ("e1", "t2", "treatment", T("2024-03-01")),
        ("e1", "t3", "treatment", T("2024-03-01")),
        ("e1", "t4", "treatment", pd.NaT),
        ("e1", "x9", "treatment", T("2024-03-09")),
        ("e1", "z1", "C", T("2024-03-01")),
        ("other", "c1", "treatment", T("2024-03-01")),
    ], columns=["experiment_id", "unit_id", "variant", "assigned_at"])
    rows = [
        ("o1", "c1", "2024-03-02 09:00", 10.0, "completed"),
        ("o2", "c1", "2024-03-02 18:00", 30.0, "completed"),
        ("o3", "c2", "2024-02-20 12:00", 50.0, "completed"),
        ("o4", "c2", "2024-03-05 12:00", 20.0, "cancelled"),
        ("o5", "c4", "2024-03-02 12:00", 100.0, "completed"),
        ("o6", "c4", "2024-03-04 12:00", 60.0, "completed"),
        ("o7", "t1", "2024-03-01 10:00", 25.0, "completed"),
        ("o8", "t1", "2024-03-06 10:00", 35.0, "completed"),
        ("o9", "t2", "2024-03-08 10:00", 80.0, "completed"),
        ("o10", "t3", "2024-03-03 10:00", 15.0, "completed"),
        ("o11", "t3", "2024-02-25 10:00", 5.0, "completed"),
        ("o12", "t4", "2024-03-07 23:00", 45.0, "completed"),
        ("o13", "x9", "2024-03-09 10:00", 70.0, "completed"),
    ]
    orders = pd.DataFrame([{
        "order_id": oid, "customer_id": cid, "ordered_at": T(at), "channel": "web",
        "status": status, "gross_amount": net, "discount_amount": 0.0,
        "shipping_amount": 0.0, "net_amount": net, "currency": "EUR"}
        for oid, cid, at, net, status in rows])
    customers = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", "t1", "t2", "t3", "t4"],
        "signup_channel": ["email", "email", "search", "search"] * 2,
    })
    # visitors for an events metric: v1 (control) adds toys to the cart, v2 (treatment)
    # views twice and adds books; a3 (treatment, anonymous) adds toys twice
    events = events_frame([
        ("2024-03-02 10:00", "v1", "add_to_cart", {"category": "toys"}),
        ("2024-03-02 10:01", "v1", "view", {"category": "toys"}),
        ("2024-03-03 10:00", "v2", "view", {"category": "books"}),
        ("2024-03-03 10:05", "v2", "view", {"category": "books"}),
        ("2024-03-03 10:06", "v2", "add_to_cart", {"category": "books"}),
        {"event_at": "2024-03-04 09:00", "anonymous_id": "a3", "event_type": "add_to_cart",
         "category": "toys", "properties": '{"qty": "2"}'},
        {"event_at": "2024-03-04 09:10", "anonymous_id": "a3", "event_type": "add_to_cart",
         "category": "toys", "properties": '{"qty": "3"}'},
        ("2024-03-09 09:00", "v1", "add_to_cart", {"category": "toys"}),  # after the window
    ])
    events["event_at"] = pd.to_datetime(events["event_at"])
    exp_v = pd.DataFrame([
        ("ev", "v1", "control", T("2024-03-01")),
        ("ev", "v0", "control", T("2024-03-01")),
        ("ev", "v2", "treatment", T("2024-03-01")),
        ("ev", "a3", "treatment", T("2024-03-01")),
    ], columns=exp.columns)
    return dict(experiments=pd.concat([exp, exp_v], ignore_index=True), orders=orders,
                customers=customers, events=events)


def _definition(**kw) -> ExperimentDefinition:
    base = dict(
        experiment_id="e1", name="Hand-made", hypothesis="The treatment sells more",
        unit="customer", variants=["control", "treatment"], start="2024-03-01",
        end="2024-03-07",
        metrics=[MetricDef(name="conversion", kind="binary"),
                 MetricDef(name="revenue", kind="mean"),
                 MetricDef(name="aov", kind="ratio", numerator="revenue", denominator="orders")],
        covariate_days=14, segments=["channel", "new_vs_returning", "rfm_segment"],
        sequential=True)
    return ExperimentDefinition(**(base | kw))


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    store = make_store("duckdb", tmp_path_factory.mktemp("exp_duckdb"), **_frames())
    yield store
    store.close()


@pytest.fixture(scope="module")
def spark(spark_session, tmp_path_factory):
    return make_store("pyspark", tmp_path_factory.mktemp("exp_spark"), **_frames())


@pytest.fixture(scope="module")
def shop(engine, request):
    """(store, analyze result of the full definition), one analysis per engine."""
    store = request.getfixturevalue("duck" if engine == "duckdb" else "spark")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SampleRatioMismatchWarning)  # 4 vs 4: no SRM
        return store, analyze(store, _definition())


def _row(stats, metric, variant, segment="all", value="all"):
    sel = stats[(stats.metric == metric) & (stats.variant == variant)
                & (stats.segment == segment) & (stats.segment_value == value)]
    assert len(sel) == 1, (metric, variant, segment, value)
    return sel.iloc[0]


# -- sufficient statistics ------------------------------------------------------------------
def test_sufficient_statistics_by_hand(shop):
    _, res = shop
    s = res.stats
    assert dict(res.counts) == {"control": 4, "treatment": 4}
    c, t = _row(s, "conversion", "control"), _row(s, "conversion", "treatment")
    assert (c.n, c.x, t.n, t.x) == (4, 2, 4, 3)
    # covariate (orders 02-16 .. 02-29): c2 and t3 bought; t3 also converted later
    assert (c.cov_sum, c.cov_cross, t.cov_sum, t.cov_cross) == (1, 0, 1, 1)
    c, t = _row(s, "revenue", "control"), _row(s, "revenue", "treatment")
    assert (c["sum"], c.sum_sq) == (100.0, 40**2 + 60**2)
    assert (t["sum"], t.sum_sq) == (120.0, 60**2 + 15**2 + 45**2)
    assert (c.cov_sum, c.cov_sum_sq, c.cov_cross) == (50.0, 2500.0, 0.0)  # c2: 50 before, 0 after
    assert (t.cov_sum, t.cov_sum_sq, t.cov_cross) == (5.0, 25.0, 75.0)  # t3: 5 before, 15 after
    c, t = _row(s, "aov", "control"), _row(s, "aov", "treatment")
    assert (c["sum"], c.sum_y, c.sum_yy, c.sum_xy) == (100.0, 3.0, 2**2 + 1, 40 * 2 + 60 * 1)
    assert (t["sum"], t.sum_y, t.sum_yy, t.sum_xy) == (120.0, 4.0, 2**2 + 1 + 1, 60 * 2 + 15 + 45)


def test_comparisons_match_scipy_on_the_hand_counts(shop):
    """The comparisons are the statistics module's on the hand counts; the Welch p-value of
    revenue per unit equals scipy's on the per-unit values written out."""
    _, res = shop
    conv = res.comparison("conversion")
    assert (conv.control_value, conv.variant_value) == (0.5, 0.75)
    rev = res.comparison("revenue")
    assert rev.abs_lift == pytest.approx(30.0 - 25.0)
    welch = sps.ttest_ind([60, 0, 15, 45], [40, 0, 0, 60], equal_var=False)
    assert rev.p_value == pytest.approx(welch.pvalue, abs=1e-12)
    aov = res.comparison("aov")
    assert aov.control_value == pytest.approx(100 / 3) and aov.variant_value == 30.0
    # one treatment: Holm over one comparison leaves the p-value as it is
    assert all(c.adjusted_p_value == pytest.approx(c.p_value) for c in res.comparisons)
    assert [b.metric for b in res.bayes] == ["conversion", "revenue"]
    assert 0.5 < res.bayes[0].result.chance_to_win < 1


def test_cuped_and_sequential_are_reported(shop):
    _, res = shop
    assert [c.metric for c in res.cuped] == ["conversion", "revenue"]
    assert all("variance_reduction" in c.extra for c in res.cuped)
    seq = {s.metric: s for s in res.sequential}
    assert set(seq) == {"conversion", "revenue"}
    assert len(seq["conversion"].path.p_values) == 7
    assert any("ratio metrics" in w for w in res.warnings)


def test_units_outside_the_window_or_variants_are_left_out_and_warned(shop):
    _, res = shop
    assert sum(res.counts.values()) == 8  # x9 (after the window) and z1 (variant C) left out
    assert any("variants the definition does not name (C)" in w for w in res.warnings)
    assert not res.srm.mismatch


def test_daily_cumulative_statistics_match_pandas(shop):
    """Every day's cumulative n, conversions and revenue sums, recomputed with pandas from
    the raw rows: units assigned by the end of the day, orders from t0 to the end of day."""
    store, res = shop
    frames = _frames()
    exp = frames["experiments"]
    exp = exp[(exp.experiment_id == "e1") & exp.variant.isin(["control", "treatment"])].copy()
    start = T("2024-03-01")
    exp["t0"] = exp.assigned_at.fillna(start).clip(lower=start)
    exp = exp[exp.t0 < T("2024-03-08")]
    o = frames["orders"]
    o = o[o.status != "cancelled"]
    got = daily_stats(store, _definition())
    for day in pd.date_range("2024-03-01", "2024-03-07"):
        stop = day + pd.Timedelta(days=1)
        units = exp[exp.t0 < stop]
        j = units.merge(o, left_on="unit_id", right_on="customer_id", how="left")
        j = j[(j.ordered_at >= j.t0) & (j.ordered_at < stop)]
        per = units.set_index("unit_id").assign(
            rev=j.groupby("unit_id").net_amount.sum(),
            orders=j.groupby("unit_id").size()).fillna({"rev": 0.0, "orders": 0})
        for variant, g in per.groupby("variant"):
            conv = _daily(got, day, "conversion", variant)
            assert (conv.n, conv.x) == (len(g), int((g.orders > 0).sum())), day
            rev = _daily(got, day, "revenue", variant)
            assert rev["sum"] == pytest.approx(g.rev.sum())
            assert rev.sum_sq == pytest.approx((g.rev**2).sum())
            aov = _daily(got, day, "aov", variant)
            assert aov.sum_xy == pytest.approx((g.rev * g.orders).sum())
            assert aov.sum_yy == pytest.approx((g.orders**2).sum())
    # spot checks by hand: on 03-01 only t1 had bought (25); c4 joins on 03-03
    first = _daily(got, T("2024-03-01"), "revenue", "treatment")
    assert (first.n, first["sum"], first.sum_sq) == (4, 25.0, 625.0)
    assert _daily(got, T("2024-03-02"), "conversion", "control").n == 3
    assert _daily(got, T("2024-03-03"), "conversion", "control").n == 4
    # the last day equals the whole-window statistics
    lift = res.daily
    last = lift[(lift.metric == "revenue") & (lift.day == lift.day.max())].iloc[0]
    assert last.abs_lift == pytest.approx(5.0)
    assert "always_valid_p" in lift.columns


def _daily(frame, day, metric, variant):
    sel = frame[(frame.metric == metric) & (frame.variant == variant)
                & (pd.to_datetime(frame.day) == day)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_segments_are_exploratory_and_add_up(shop):
    _, res = shop
    s = res.stats
    # new vs returning: returning = an order before the unit's t0 (c2 02-20, c4 03-02 before
    # its 03-03 assignment, t3 02-25)
    assert (_row(s, "conversion", "control", "new_vs_returning", "returning").n,
            _row(s, "conversion", "control", "new_vs_returning", "returning").x) == (2, 1)
    assert (_row(s, "conversion", "treatment", "new_vs_returning", "new").n,
            _row(s, "conversion", "treatment", "new_vs_returning", "new").x) == (3, 2)
    assert _row(s, "conversion", "treatment", "new_vs_returning", "returning").x == 1
    # channel = signup channel: email c1 c2 t1 t2, search c3 c4 t3 t4
    assert _row(s, "revenue", "control", "channel", "email")["sum"] == 40.0
    assert _row(s, "revenue", "treatment", "channel", "search")["sum"] == 60.0
    # RFM at the start: units without an order before 03-01 have no segment
    rfm = s[(s.segment == "rfm_segment") & (s.metric == "conversion")]
    assert rfm.groupby("variant").n.sum().to_dict() == {"control": 4, "treatment": 4}
    no_buy = rfm[rfm.segment_value == "no_purchases"].set_index("variant").n.to_dict()
    assert no_buy == {"control": 3, "treatment": 3}  # all but c2 and t3
    assert res.segments and all(seg.exploratory for seg in res.segments)
    assert any("exploratory" in w for w in res.warnings)
    one = [x for x in res.segments if x.segment == "channel" and x.segment_value == "email"
           and x.comparison.metric == "revenue"]
    assert one[0].comparison.control_value == 20.0  # (40 + 0) / 2


def test_to_dict_is_json_and_reproducible(shop):
    _, res = shop
    out = res.to_dict()
    text = json.dumps(out)
    assert out["definition"]["experiment_id"] == "e1"
    assert out["data_version"] is not None
    assert parse_definition(out["definition"]) == _definition()
    assert "NaN" not in text


def test_capping_at_a_pooled_quantile(shop):
    """Revenue capped at the pooled 75th percentile of the 8 per-unit values (numpy's
    linear interpolation = the engine's exact quantile)."""
    store, _ = shop
    d = _definition(metrics=[MetricDef(name="rev", kind="mean", cap_quantile=0.75),
                             MetricDef(name="aov", kind="ratio", numerator="revenue",
                                       denominator="orders", cap_quantile=0.75)],
                    covariate_days=None, segments=[], sequential=False)
    s = experiment_stats(store, d)
    control, treatment = np.array([40, 0, 0, 60.0]), np.array([60, 0, 15, 45.0])
    cap = np.quantile(np.concatenate([control, treatment]), 0.75)
    assert cap == 48.75  # 45 + 0.25 · (60 − 45)
    c, t = _row(s, "rev", "control"), _row(s, "rev", "treatment")
    assert c.cap == pytest.approx(cap)
    assert (c["sum"], c.sum_sq) == pytest.approx((np.minimum(control, cap).sum(),
                                               (np.minimum(control, cap) ** 2).sum()))
    assert (t["sum"], t.sum_sq) == pytest.approx((np.minimum(treatment, cap).sum(),
                                               (np.minimum(treatment, cap) ** 2).sum()))
    # ratio: numerator and denominator capped at their own pooled quantile, same units
    orders_c, orders_t = np.array([2, 0, 0, 1.0]), np.array([2, 0, 1, 1.0])
    cap_y = np.quantile(np.concatenate([orders_c, orders_t]), 0.75)
    a = _row(s, "aov", "treatment")
    assert a.cap_y == pytest.approx(cap_y)
    capped = np.minimum(treatment, cap) * np.minimum(orders_t, cap_y)
    assert a.sum_xy == pytest.approx(capped.sum())
    # the daily series is capped at the same pooled caps: its last day is the window's
    daily = daily_stats(store, d, stats=s)
    pd.testing.assert_frame_equal(daily, daily_stats(store, d))  # caps computed afresh
    last = daily[(daily.day == daily.day.max()) & (daily.metric == "rev")
                 & (daily.variant == "treatment")].iloc[0]
    assert (last["sum"], last.sum_sq) == pytest.approx((t["sum"], t.sum_sq))
    last = daily[(daily.day == daily.day.max()) & (daily.metric == "aov")
                 & (daily.variant == "treatment")].iloc[0]
    assert (last.sum_xy, last.sum_yy) == pytest.approx((a.sum_xy, a.sum_yy))


def test_events_metrics_for_visitors(shop):
    """Visitors: v1 (control) adds toys; v0 (control) does nothing; v2 (treatment) adds
    books only; a3 (anonymous, treatment) adds toys twice with qty 2 and 3."""
    store, _ = shop
    d = ExperimentDefinition(
        experiment_id="ev", unit="visitor", variants=["control", "treatment"],
        start="2024-03-01", end="2024-03-07", segments=["channel", "new_vs_returning"],
        metrics=[MetricDef(name="toy_cart", kind="binary", source="events",
                           event_type="add_to_cart", filters={"category": "toys"}),
                 MetricDef(name="views", kind="mean", source="events", event_type="view"),
                 MetricDef(name="qty", kind="mean", source="events", event_type="add_to_cart",
                           value="property:qty")])
    s = experiment_stats(store, d)
    assert (_row(s, "toy_cart", "control").x, _row(s, "toy_cart", "treatment").x) == (1, 1)
    assert (_row(s, "views", "control")["sum"], _row(s, "views", "treatment")["sum"]) == (1.0, 2.0)
    assert _row(s, "views", "treatment").sum_sq == 4.0  # v2 viewed twice, a3 never
    assert (_row(s, "qty", "treatment")["sum"], _row(s, "qty", "treatment").sum_sq) == (5.0, 25.0)
    assert _row(s, "views", "control", "new_vs_returning", "new").n == 2


# -- SRM ------------------------------------------------------------------------------------
def test_sample_ratio_mismatch_warns_loudly(tmp_path):
    """520 vs 380 units under a planned 50/50 split: chi-square 21.8, p ≈ 3e-6 (scipy)."""
    units = [("srm", f"u{i}", "control" if i < 520 else "treatment", T("2024-03-01"))
             for i in range(900)]
    exp = pd.DataFrame(units, columns=["experiment_id", "unit_id", "variant", "assigned_at"])
    store = make_store("duckdb", tmp_path, experiments=exp, orders=_frames()["orders"])
    d = _definition(experiment_id="srm", covariate_days=None, segments=[], sequential=False)
    with pytest.warns(SampleRatioMismatchWarning):
        res = analyze(store, d)
    expected = sps.chisquare([520, 380], [450, 450])
    assert res.srm.mismatch
    assert res.srm.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert res.warnings[0].startswith("SAMPLE RATIO MISMATCH")
    # a planned 58/42 split makes the same counts fine: expected 522 / 378, chi-square
    # 2²/522 + 2²/378 ≈ 0.018
    ok = analyze(store, _definition(experiment_id="srm", covariate_days=None, segments=[],
                                    split={"control": 0.58, "treatment": 0.42}))
    assert not ok.srm.mismatch


# -- CUPED on synthetic data ------------------------------------------------------------------
def test_cuped_reduces_variance_on_a_correlated_pre_period(tmp_path):
    """4,000 synthetic customers, a 120-day pre-period: the customer's purchase rate and
    order value drive both periods, so the pre-period revenue predicts the in-window
    revenue. CUPED's estimate equals the treatment coefficient of the OLS regression
    y ~ 1 + treatment + x on the per-unit values (recomputed here with pandas), and its
    interval is narrower."""
    sim = experiment_tables(4_000, start="2024-03-01", days=28, pre_days=120, lift_rate=0.2,
                            seed=7)
    store = make_store("duckdb", tmp_path, experiments=sim.experiments, orders=sim.orders,
                       customers=sim.customers)
    d = ExperimentDefinition(experiment_id=sim.experiment_id, variants=["control", "treatment"],
                             start=sim.start, end=sim.end, covariate_days=120,
                             metrics=[MetricDef(name="revenue", kind="mean")])
    res = analyze(store, d)
    plain, adj = res.comparison("revenue"), res.comparison("revenue", cuped=True)
    assert adj.extra["variance_reduction"] > 0.1
    assert adj.abs_ci[1] - adj.abs_ci[0] < plain.abs_ci[1] - plain.abs_ci[0]
    # the generator's true effect (+20% purchase rate) is inside the 95% interval
    truth = sim.truth.abs_effect("revenue_per_unit")
    assert adj.abs_ci[0] <= truth <= adj.abs_ci[1]

    exp, o = sim.experiments, sim.orders
    start = T("2024-03-01")
    j = exp.merge(o, left_on="unit_id", right_on="customer_id", how="left")
    post = j[(j.ordered_at >= j.assigned_at) & (j.ordered_at < start + pd.Timedelta(days=28))]
    pre = j[(j.ordered_at >= start - pd.Timedelta(days=120)) & (j.ordered_at < start)]
    units = exp.set_index("unit_id").assign(
        y=post.groupby("unit_id").net_amount.sum(), x=pre.groupby("unit_id").net_amount.sum()
    ).fillna({"y": 0.0, "x": 0.0})
    treat = (units.variant == "treatment").astype(float)
    design = np.column_stack([np.ones(len(units)), treat, units.x - units.x.mean()])
    coef, *_ = np.linalg.lstsq(design, units.y.to_numpy(), rcond=None)
    assert adj.abs_lift == pytest.approx(coef[1], rel=1e-9)
    assert plain.abs_lift == pytest.approx(
        units.y[treat == 1].mean() - units.y[treat == 0].mean(), rel=1e-9)


# -- registry -------------------------------------------------------------------------------
def test_registry_round_trip(tmp_path):
    store = ExperimentStore(tmp_path)
    assert store.list() == []
    d = _definition()
    path = store.save(d)
    assert path == tmp_path / "experiments" / "e1.json"
    assert store.list() == ["e1"]
    assert store.load("e1") == d
    assert not list((tmp_path / "experiments").glob(".*.tmp"))
    with pytest.raises(ExperimentError, match="already exists"):
        store.save(d, overwrite=False)
    store.delete("e1")
    assert store.list() == []
    with pytest.raises(ExperimentNotFound, match="no saved experiment 'e1'"):
        store.load("e1")
    with pytest.raises(WorkspaceError):
        ExperimentStore(tmp_path / "missing").save(d)


def test_registry_load_names_the_bad_field(tmp_path):
    store = ExperimentStore(tmp_path)
    store.save(_definition())
    path = tmp_path / "experiments" / "e1.json"
    data = json.loads(path.read_text())
    data["metrics"][2]["denominator"] = "basket"
    path.write_text(json.dumps(data))
    with pytest.raises(ExperimentError, match=r"metrics\.2.*denominator 'basket'.*revenue, "
                                              r"gross, orders"):
        store.load("e1")
    data["metrics"][2]["denominator"] = "orders"
    data["experiment_id"] = "other"
    path.write_text(json.dumps(data))
    with pytest.raises(ExperimentError, match="holds experiment 'other'"):
        store.load("e1")
    with pytest.raises(ExperimentError, match="not a valid experiment id"):
        store.load("../etc")


@pytest.mark.parametrize(("change", "message"), [
    ({"split": {"control": 0.5, "treatment": 0.6}}, "sum to 1"),
    ({"split": {"control": 1.0}}, "a share for each variant"),
    ({"variants": ["a", "a"]}, "distinct"),
    ({"end": "2024-02-01"}, "before start"),
    ({"segments": ["weather"]}, "segments.0"),
    ({"unit": "session"}, "unit"),
    ({"metrics": [{"name": "x", "kind": "binary", "source": "events"}]}, "needs event_type"),
    ({"metrics": [{"name": "x", "kind": "ratio", "numerator": "revenue"}]},
     "numerator and denominator"),
    ({"metrics": [{"name": "x", "kind": "binary", "cap_quantile": 0.9}]}, "binary"),
    ({"metrics": [{"name": "x", "kind": "mean", "cap_quantile": 1.5}]}, "cap_quantile"),
    ({"metrics": [{"name": "x", "kind": "mean", "source": "events", "event_type": "view",
                   "value": "revenue"}]}, "property:<name>"),
    ({"metrics": [{"name": "x", "kind": "binary"}, {"name": "x", "kind": "mean"}]},
     "distinct"),
    ({"colour": "red"}, "colour"),
])
def test_definition_errors_name_the_field(change, message):
    data = _definition().model_dump(mode="json") | change
    with pytest.raises(ExperimentError, match=message):
        parse_definition(data)


def test_unknown_order_filter_column_is_an_option_error(duck):
    d = _definition(metrics=[MetricDef(name="x", kind="binary", filters={"colour": "red"})],
                    covariate_days=None, segments=[], sequential=False)
    with pytest.raises(OptionError, match="orders have no column 'colour'"):
        experiment_stats(duck, d)


def test_rerun_gives_the_same_result(duck):
    """Item 4: the stored definition on the same data version reproduces the result."""
    first = analyze(duck, _definition()).to_dict()
    again = analyze(duck, parse_definition(json.dumps(first["definition"]))).to_dict()
    assert again == first


def test_an_experiment_without_units_is_an_error_that_says_why(duck):
    """No units is not a result (it used to be a table of NaN with P(win) 50%): the error
    names the experiment and what to check."""
    from shopscope.experiments.analysis import EmptyExperiment

    d = _definition(experiment_id="nothing", covariate_days=None, segments=[], sequential=False)
    with pytest.raises(EmptyExperiment) as err:
        analyze(duck, d)
    assert isinstance(err.value, OptionError)
    assert "'nothing'" in err.value.message and "e1, ev, other" in err.value.message
    # units logged, but none usable: variants not in the definition, or after the window
    renamed = _definition(variants=["A", "B"], covariate_days=None, segments=[],
                          sequential=False)
    with pytest.raises(EmptyExperiment, match=r"10 in variants the definition does not name"
                       r" \(C, control, treatment; it names A, B\)"):
        analyze(duck, renamed)
    early = _definition(experiment_id="ev", start="2024-01-01", end="2024-01-31",
                        covariate_days=None, segments=[], sequential=False)
    with pytest.raises(EmptyExperiment, match=r"of its 4 logged units, 4 assigned after the "
                       r"window 2024-01-01 – 2024-01-31"):
        analyze(duck, early)
