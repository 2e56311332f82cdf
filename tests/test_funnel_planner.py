"""The funnel planner (``funnels._choose``) and each strategy function on its own.

Every strategy runs here on a few hand-written rows; the expected numbers are worked out
in the comments next to the rows (times in minutes past 10:00 unless written out), never
copied from the code's output. The funnels as a whole are tested in test_funnels.py, and
the SQL each strategy generates in test_funnel_sql.py. The last part checks that every
bad funnel option raises :class:`FunnelOptionError`, with one exit code and one HTTP status.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import ibis
import pandas as pd
import pytest

from shopscope.behaviour import funnels as f
from shopscope.errors import FunnelOptionError, OptionError
from shopscope.store import connect
from tests.behaviour_shop import events_frame, make_store, to_arrow

VCP = ["view", "add_to_cart", "purchase"]
DAY = pd.Timestamp("2024-01-01")
_TYPES = {"view": 1, "add_to_cart": 2, "purchase": 3}


def at(minutes: float) -> pd.Timestamp:
    """``minutes`` past 10:00 on 2024-01-01."""
    return DAY + pd.Timedelta(hours=10, minutes=minutes)


def plan(steps=VCP, window="1d", order="sequential", same_product=False, mode="user",
         by=None):
    return f._plan(steps, window, order, same_product, mode, None, None, by)


def run(expr: ibis.Expr) -> pd.DataFrame:
    return ibis.duckdb.connect().to_pandas(expr)


def rows_of(events: list[tuple], n: int = 3, values: bool = False) -> f._Rows:
    """Hand rows as the window passes read them: (visitor, minute, event type[, value]),
    step k = the k-th of view, add_to_cart, purchase."""
    df = pd.DataFrame({
        "_v": [e[0] for e in events],
        "event_at": [at(e[1]) for e in events],
        **{f"_m{k}": [_TYPES[e[2]] == k for e in events] for k in range(1, n + 1)}})
    if values:
        df["_val"] = [float(e[3]) for e in events]
    t = f._keyed(ibis.memtable(df), n)
    keys = ["event_at", "_key", *(["_val"] if values else [])]
    return f._Rows(t, ["_v"], keys)


def sorted_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["_v", "event_at"]).reset_index(drop=True)


# -- the planner --------------------------------------------------------------------------
@pytest.mark.parametrize(("steps", "options", "expected"), [
    (VCP, {}, ("_rows_start_join", "_chain_sequential", "_add_start_levels")),
    (VCP, {"mode": "order"},
     ("_rows_start_join", "_chain_sequential", "_add_start_journeys")),
    (VCP, {"same_product": True},
     ("_rows_start_join", "_chain_sequential", "_add_start_levels", "_best_product")),
    # order mode counts journeys per product: no collapse to the visitor
    (VCP, {"same_product": True, "mode": "order"},
     ("_rows_start_join", "_chain_sequential", "_add_start_journeys")),
    # a breakdown needs each unit's first step-1 event: only sorted rows tell it
    (VCP, {"by": "channel"}, ("_rows_sorted", "_chain_sequential", "_text_ids")),
    (VCP, {"by": "customer.region"},
     ("_rows_sorted", "_chain_sequential", "_text_ids", "_customer_breakdown")),
    # step 1's event type comes again later: the start join would not be exact
    (["view", "view", "purchase"], {}, ("_rows_sorted", "_chain_sequential", "_text_ids")),
    (["view:category=toys", "add_to_cart", "view"], {},
     ("_rows_sorted", "_chain_sequential", "_text_ids")),
    (VCP, {"order": "any"}, ("_rows_sorted", "_chain_any", "_text_ids")),
    (VCP, {"order": "any", "mode": "order"}, ("_rows_sorted", "_chain_any", "_text_ids")),
    (VCP, {"order": "any", "same_product": True},
     ("_rows_sorted", "_chain_any", "_best_product", "_text_ids")),
])
def test_the_planner_picks_one_function_per_stage(steps, options, expected):
    assert f._choose(plan(steps, **options)).names() == expected


def test_the_planner_reads_the_options_and_nothing_else():
    # same options, other window and dates: same strategy
    a = f._choose(plan(VCP, window="30m"))
    b = f._choose(f._plan(VCP, "7d", "sequential", False, "user", "2024-01-01", None, None))
    assert a == b


# -- stage 2: the chains ------------------------------------------------------------------
def test_sequential_chain_takes_the_latest_start_within_the_window():
    # window 15 min.
    # a: view 0, cart 5, view 10, purchase 20. cart: start 0, 5 <= 15 -> level 2 (300 s);
    #    purchase: latest start of a chain view->cart is 0, 20 > 15 -> nothing (the view at
    #    10 has no cart after it before the purchase) -> a reaches 2
    # b: view 0, view 30, cart 40, purchase 44: cart's latest start is 30 (600 s), the
    #    purchase's too: 44 <= 45 -> level 3 (840 s)
    rows = rows_of([("a", 0, "view"), ("a", 5, "add_to_cart"), ("a", 10, "view"),
                    ("a", 20, "purchase"),
                    ("b", 0, "view"), ("b", 30, "view"), ("b", 40, "add_to_cart"),
                    ("b", 44, "purchase")])
    t, group = f._chain_sequential(rows, plan(window="15m"))
    assert group == ["_v"]
    out = sorted_rows(run(t))
    assert out["_lev"].tolist() == [1, 2, 1, 0, 1, 1, 2, 3]
    assert out["_d2"].tolist()[1] == 300 and out["_d2"].tolist()[6] == 600
    assert out["_d3"].tolist()[7] == 840
    # with a 20-minute window a's purchase completes the chain started at 0 (1200 s)
    out = sorted_rows(run(f._chain_sequential(rows, plan(window="20m"))[0]))
    assert out["_lev"].tolist()[3] == 3 and out["_d3"].tolist()[3] == 1200


def test_sequential_chain_cuts_journeys_at_last_step_events():
    # order mode, window 1 day: view 0, cart 1, purchase 2, cart 3, purchase 4.
    # journey 0 = rows up to the first purchase (level 3); journey 1 = cart 3, purchase 4,
    # whose only start (the view at 0) is at or before the boundary _b = 2: level 0
    rows = rows_of([("o", 0, "view", 1), ("o", 1, "add_to_cart", 2), ("o", 2, "purchase", 3),
                    ("o", 3, "add_to_cart", 4), ("o", 4, "purchase", 5)], values=True)
    t, group = f._chain_sequential(rows, plan(mode="order"))
    assert group == ["_v", "_seg"]
    out = sorted_rows(run(t))
    assert out["_seg"].tolist() == [0, 0, 0, 1, 1]
    assert out["_b"].isna().tolist() == [True, True, True, False, False]
    assert out["_lev"].tolist() == [1, 2, 3, 0, 0]
    assert out["_rv3"].tolist()[2] == 3.0  # the value travels with the row
    # in user mode the same rows reach 3 at both purchases (no journeys)
    user = sorted_rows(run(f._chain_sequential(
        f._Rows(rows.t, ["_v"], ["event_at", "_key"]), plan())[0]))
    assert user["_lev"].tolist() == [1, 2, 3, 2, 3]


def test_any_order_chain_needs_every_step_within_one_window():
    # p: purchase 0, view 5, cart 20. At the cart the latest times are view 5, cart 20,
    # purchase 0: window 30 min holds all three (from 0 to 20) -> level 3, 1200 s;
    # window 15 min: only view..cart (5..20) fit -> level 2, 900 s
    rows = rows_of([("p", 0, "purchase"), ("p", 5, "view"), ("p", 20, "add_to_cart")])
    out = sorted_rows(run(f._chain_any(rows, plan(window="30m", order="any"))[0]))
    assert out["_lev"].tolist() == [0, 1, 3]
    assert out["_d3"].tolist()[2] == 1200 and out["_d2"].tolist()[2] == 900
    out = sorted_rows(run(f._chain_any(rows, plan(window="15m", order="any"))[0]))
    assert out["_lev"].tolist() == [0, 1, 2]


def test_any_order_chain_partitions_journeys_in_order_mode():
    # view 0, purchase 1, cart 2, purchase 3. Journeys: {view, purchase} and {cart,
    # purchase}: the first has no cart (level 1), the second no view (level 0). As one
    # visitor (user mode) the cart already completes all three (view 0, purchase 1 and
    # cart 2 lie within the window, in any order): 3 at the cart and at the last purchase.
    events = [("q", 0, "view", 1), ("q", 1, "purchase", 2), ("q", 2, "add_to_cart", 3),
              ("q", 3, "purchase", 4)]
    t, group = f._chain_any(rows_of(events, values=True), plan(order="any", mode="order"))
    assert group == ["_v", "_seg"]
    out = sorted_rows(run(t))
    assert out["_seg"].tolist() == [0, 0, 1, 1]
    assert out["_lev"].tolist() == [1, 1, 0, 0]
    user = sorted_rows(run(f._chain_any(rows_of(events), plan(order="any"))[0]))
    assert user["_lev"].tolist() == [1, 1, 3, 3]


# -- stage 1: the rows --------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A tiny store: visitors a..e for the start join, o and s for order-mode journeys."""
    ev = [
        # window 1 h (buckets of one hour from the epoch: 10:00-10:59 is one bucket)
        # a: view 10:00, view 10:30, cart 11:00 (latest start 10:30), purchase 11:10
        (at(0), "a", "view"), (at(30), "a", "view"), (at(60), "a", "add_to_cart"),
        (at(70), "a", "purchase"),
        # b: cart 09:00 before its only view 09:10: no start
        (at(-60), "b", "add_to_cart"), (at(-50), "b", "view"),
        # c: view 09:45, cart 10:30: the previous bucket's start is found
        (at(-15), "c", "view"), (at(30), "c", "add_to_cart"),
        # d: view 08:00, cart 10:30: two buckets back, too early anyway: no start
        (at(-120), "d", "view"), (at(30), "d", "add_to_cart"),
        # e: a view only
        (at(5), "e", "view"),
        # o (order mode, day 2): view, cart, purchase, then two views: journeys 0 (level 3)
        # and 1 (level 1, first view 10:05)
        (at(1440), "o", "view"), (at(1441), "o", "add_to_cart"), (at(1442), "o", "purchase"),
        (at(1445), "o", "view"), (at(1446), "o", "view"),
        # s: one view, no purchase: journey 0 at level 1
        (at(1440), "s", "view"),
    ]
    frames = {"events": events_frame([(str(t), v, e) for t, v, e in ev]),
              "products": pd.DataFrame({"product_id": ["P"], "price": [1.0]}),
              "orders": pd.DataFrame([{
                  "order_id": "x", "ordered_at": at(0), "customer_id": None, "channel": "web",
                  "status": "completed", "gross_amount": 1.0, "discount_amount": 0.0,
                  "shipping_amount": 0.0, "net_amount": 1.0, "currency": "EUR"}]),
              "customers": pd.DataFrame({"customer_id": ["a", "c"],
                                         "region": ["north", "south"]})}
    store = make_store("duckdb", tmp_path_factory.mktemp("planner"), **frames)
    yield store
    store.close()


def only(store, *visitors: str):
    class Source:
        def table(self, name: str) -> ibis.Table:
            t = store.table(name)
            return t.filter(t.user_id.isin(visitors)) if name == "events" else t
    return Source()


def test_start_join_rows_hold_steps_two_to_n_with_the_latest_start(shop):
    p = plan(window="1h")
    rows = f._rows_start_join(only(shop, "a", "b", "c", "d", "e"), p, False)
    assert rows.unit == ["_v"] and rows.keys == ["event_at", "_key"] and rows.ids is None
    out = sorted_rows(shop.backend.to_pandas(rows.t))
    # no view among the rows: step-1 events stay out of the window passes
    assert not out["_m1"].any()
    got = [(v, e.strftime("%H:%M"), None if pd.isna(s) else s.strftime("%H:%M"))
           for v, e, s in zip(out["_v"], out["event_at"], out["_s2"], strict=True)]
    assert got == [("a", "11:00", "10:30"), ("a", "11:10", None), ("b", "09:00", None),
                   ("c", "10:30", "09:45"), ("d", "10:30", None)]
    starts = shop.backend.to_pandas(rows.starts).sort_values(["_v", "_t1"])
    assert starts["_v"].tolist() == ["a", "a", "b", "c", "d", "e"]


def test_sorted_rows_number_the_visitors_and_text_ids_maps_them_back(shop):
    p = plan(by="channel")
    rows = f._rows_sorted(only(shop, "a", "e"), p, False)
    assert rows.keys == ["event_at", "_key", "_by"] and rows.starts is None
    out = shop.backend.to_pandas(rows.t)
    assert len(out) == 5  # a: 4 events, e: 1 (views too: they are sorted)
    ids = shop.backend.to_pandas(rows.ids)
    # ibis' row_number counts from 0
    assert sorted(ids["_v"]) == ["a", "e"] and sorted(ids["_id"]) == [0, 1]
    assert sorted(out["_v"].unique()) == [0, 1]
    number = dict(zip(ids["_v"], ids["_id"], strict=True))
    # a reaches 3, e only views (levels made up here: only the ids are under test)
    units = ibis.memtable(pd.DataFrame({"_v": [number["a"], number["e"]], "_level": [3, 1]}))
    back = shop.backend.to_pandas(f._text_ids(units, f._Run(shop, p, rows, rows.t, False)))
    assert dict(zip(back["_v"], back["_level"], strict=True)) == {"a": 3, "e": 1}
    assert list(back.columns) == ["_v", "_level"]


# -- stage 3: units and the start-join completions ----------------------------------------
def test_start_levels_give_level_one_to_visitors_only_seen_in_starts():
    # the window pass saw a (level 3, first 10:30); the starts are a at 10:00 and 10:30
    # and e at 10:05, which the window pass never saw -> e at level 1; a keeps 3 and its
    # first start becomes 10:00
    units = ibis.memtable(pd.DataFrame({
        "_v": ["a"], "_level": [3], "_first": [at(30)], "_dur1": [0], "_dur2": [1800],
        "_dur3": [2400]}))
    starts = ibis.memtable(pd.DataFrame({"_v": ["a", "a", "e"],
                                         "_t1": [at(0), at(30), at(5)]}))
    run_ = f._Run(None, plan(), f._Rows(None, ["_v"], [], starts=starts), None, False)
    out = run(f._add_start_levels(units, run_)).sort_values("_v").reset_index(drop=True)
    assert out["_level"].tolist() == [3, 1]
    assert out["_first"].tolist() == [at(0), at(5)]
    assert out["_dur3"].tolist()[0] == 2400 and pd.isna(out["_dur2"][1])


def test_start_journeys_give_each_step_one_event_its_journey(shop):
    p = plan(mode="order")
    strategy = f._choose(p)
    source = only(shop, "o", "s")
    rows = strategy.rows(source, p, False)
    t, group = strategy.chain(rows, p)
    units = f._per_unit(t, group, p, False)
    out = shop.backend.to_pandas(f._add_start_journeys(units, f._Run(source, p, rows, t,
                                                                     False)))
    got = sorted((v, int(s), int(lvl), first.strftime("%H:%M"))
                 for v, s, lvl, first in zip(out["_v"], out["_seg"], out["_level"],
                                             out["_first"], strict=True))
    assert got == [("o", 0, 3, "10:00"), ("o", 1, 1, "10:05"), ("s", 0, 1, "10:00")]


def test_per_unit_takes_the_best_level_and_fastest_times():
    rows = rows_of([("a", 0, "view"), ("a", 5, "add_to_cart"), ("a", 10, "view"),
                    ("a", 12, "add_to_cart")], n=2)
    p = plan(steps=["view", "add_to_cart"], window="1h")
    t, group = f._chain_sequential(f._Rows(rows.t, ["_v"], rows.keys), p)
    out = run(f._per_unit(t, group, p, False))
    # carts at 5 (start 0: 300 s) and 12 (latest start 10: 120 s): fastest 120 s
    assert out[["_level", "_dur2"]].values.tolist() == [[2, 120]]
    assert out["_first"].tolist() == [at(0)]


# -- stage 4: finishing steps -------------------------------------------------------------
def test_best_product_keeps_the_visitors_best_chain_and_first_breakdown():
    # v: product X level 1 (first at 0, web), product Y level 2 (first at 1, app)
    units = ibis.memtable(pd.DataFrame({
        "_v": ["v", "v", "w"], "product_id": ["X", "Y", "X"], "_level": [1, 2, 3],
        "_first": [at(0), at(1), at(2)], "_dur1": [0, 0, 0], "_dur2": [None, 60.0, 30.0],
        "_byv": ["web", "app", "app"]}))
    p = plan(steps=["view", "add_to_cart"], same_product=True)
    out = run(f._best_product(units, f._Run(None, p, None, None, False)))
    out = out.sort_values("_v").reset_index(drop=True)
    assert out["_level"].tolist() == [2, 3]
    assert out["_byv"].tolist() == ["web", "app"]  # the chain that started first
    assert out["_first"].tolist() == [at(0), at(2)]


def test_customer_breakdown_labels_units_by_their_customers_column(shop):
    units = ibis.memtable(pd.DataFrame({"_v": ["a", "c", "z"], "_uid1": ["a", "c", None],
                                        "_level": [1, 2, 1]}))
    p = plan(by="customer.region")
    out = shop.backend.to_pandas(f._customer_breakdown(units, f._Run(shop, p, None, None,
                                                                     False)))
    got = dict(zip(out["_v"], out["_byv"], strict=True))
    assert got["a"] == "north" and got["c"] == "south" and pd.isna(got["z"])


def test_the_pipeline_gives_the_hand_levels_for_every_strategy(shop):
    # a, c, d, e through the whole planner in each strategy. Window 1 h, sequential:
    # a: view 10:30 -> cart 11:00 -> purchase 11:10 (40 min) = 3; c: cart 45 min after the
    # view = 2; d: view 2.5 h before its cart = 1; e = 1.  Counts 4, 2, 1.
    # any order, window 1 h: the same here (no out-of-order events in a, c, d, e)
    source = only(shop, "a", "c", "d", "e")
    for options in ({}, {"by": "channel"}, {"order": "any"}):
        units = f._units(source, plan(window="1h", **options))
        out = shop.backend.to_pandas(units)
        assert dict(zip(out["_v"], out["_level"], strict=True)) == {
            "a": 3, "c": 2, "d": 1, "e": 1}, options


# -- errors -------------------------------------------------------------------------------
BAD = [
    (lambda s: f.funnel(s, ["view"]), "at least 2 steps"),
    (lambda s: f.funnel(s, "view"), "list of steps"),
    (lambda s: f.funnel(s, ["view", "nope"]), "'nope'"),
    (lambda s: f.funnel(s, VCP, window="1 year"), "'1 year'"),
    (lambda s: f.funnel(s, VCP, order="random"), "'random'"),
    (lambda s: f.funnel(s, VCP, mode="session"), "'session'"),
    (lambda s: f.funnel(s, VCP, by="customer.shoe_size"), "customer.shoe_size"),
    (lambda s: f.funnel(s, VCP, by="bad key!"), "bad key!"),
    (lambda s: f.funnel(s, VCP, start="2024-13-01"), "'2024-13-01'"),
    (lambda s: f.funnel(s, VCP, end="soon"), "'soon'"),
    (lambda s: f.funnel_expr(s, ["view:category", "purchase"]), "name=value"),
    (lambda s: f.funnel_trend(s, VCP, grain="year"), "'year'"),
    (lambda s: f.funnel_trend(s, VCP, colour="red"), "colour"),
    (lambda s: f.funnel_dropped(s, VCP, 1), "from 2 to 3, not 1"),
    (lambda s: f.funnel_dropped(s, VCP, 2, speed=1), "speed"),
]


@pytest.mark.parametrize(("call", "match"), BAD)
def test_every_bad_funnel_option_is_one_error_class(call, match):
    with pytest.raises(FunnelOptionError, match=match) as info:
        call(connect("duckdb://"))
    # still an OptionError and a ValueError for callers that catch those
    assert isinstance(info.value, OptionError) and isinstance(info.value, ValueError)
    assert type(info.value) is FunnelOptionError
    assert info.value.exit_code == 2


def test_shared_parser_errors_keep_their_message_and_hint():
    with pytest.raises(FunnelOptionError) as info:
        f.funnel(connect("duckdb://"), VCP, window="1 year")
    assert info.value.hint == "a number and a unit: s, m, h, d or w"
    with pytest.raises(FunnelOptionError) as info:
        f.funnel(connect("duckdb://"), VCP, by="bad key!")
    assert info.value.__cause__ is not None  # raised by common.property_value
    assert info.value.message.startswith("not a property name")


def make_workspace(root):
    """A workspace with two events and an analyst (the options fail before any query)."""
    import pyarrow.parquet as pq

    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    (root / "in").mkdir()
    ev = events_frame([("2024-01-01 10:00", "a", "view"), ("2024-01-01 10:05", "a", "purchase")])
    pq.write_table(to_arrow(ev), root / "in" / "events.parquet")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, root / "in", preset="canonical")
    UserStore(ws.path).add("ann", "analyst-pass-123", "analyst")
    return ws


def test_bad_funnel_options_are_422_invalid_on_the_api(tmp_path):
    from shopscope.app import _status_of, create_app
    from tests.conftest import api_client

    assert _status_of(FunnelOptionError("x")) == (422, "invalid")
    workspace = make_workspace(tmp_path)
    c = api_client(create_app(workspace), "ann", "analyst-pass-123")
    for params in ([("step", "view"), ("step", "nope")],
                   [("step", "view"), ("step", "purchase"), ("window", "1 year")],
                   [("step", "view"), ("step", "purchase"), ("by", "bad key!")],
                   [("step", "view"), ("step", "purchase"), ("by", "customer.shoe_size")]):
        r = c.get("/api/behaviour/funnel", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "invalid", params
    workspace.close()


def test_bad_funnel_options_exit_with_code_two_on_the_cli(tmp_path):
    workspace = make_workspace(tmp_path)
    workspace.close()  # the CLI opens it in its own process
    ws = str(workspace.path)
    for args in (["view", "nope"], ["view", "purchase", "--window", "1 year"],
                 ["view", "purchase", "--dropped-at", "5"]):
        proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "behaviour", "funnel",
                               *args, "-w", ws], capture_output=True, text=True, timeout=300,
                              check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr, args


def test_window_with_microseconds_is_kept_exactly():
    # the window's interval carries the fraction of a second: 1.5 s
    p = plan(window=dt.timedelta(seconds=1, microseconds=500_000))
    rows = rows_of([("m", 0, "view"), ("m", 0.025, "add_to_cart")])  # 1.5 s after
    out = sorted_rows(run(f._chain_sequential(rows, p)[0]))
    assert out["_lev"].tolist() == [1, 2]
    rows = rows_of([("m", 0, "view"), ("m", 1.51 / 60, "add_to_cart")])  # 1.51 s after
    assert sorted_rows(run(f._chain_sequential(rows, p)[0]))["_lev"].tolist() == [1, 0]
