"""The synthetic shop: determinism, canonical schema, consistency, and recovered truth.

The truth checks use simple, independent estimators (proportions, means, least squares)
and the closed forms of the published models, never a model fitted by shopscope:

* BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", eq. 7 and 9):
  the time to the first repeat purchase is Exp(lambda) with no dropout before it, so
  P(first repeat within t) = 1 - (alpha / (alpha + t))**r; and E[X(t)] in closed form.
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV", sec. 4 / Colombo & Jiang 1999):
  E[z] = p * gamma / (q - 1), Var[z] from E[z**2] = p (p + 1) gamma**2 / ((q - 1)(q - 2)).
"""

from __future__ import annotations

import dataclasses
import json
import math

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from shopscope.errors import ShopscopeError
from shopscope.schema import get_table
from shopscope.synth import (
    BLOCK_CUSTOMERS,
    GroundTruth,
    SynthConfig,
    SynthError,
    generate,
)

CANONICAL = ("customers", "products", "orders", "order_items", "events", "marketing_spend",
             "inventory", "returns")
Z = 4.0  # tolerance in standard errors for every truth check


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A small shop with events (about 0.8M events)."""
    out = tmp_path_factory.mktemp("shop")
    return generate(out, customers=3000, days=365, products=200, seed=7)


@pytest.fixture(scope="module")
def buyers(tmp_path_factory):
    """More customers, no events: power for the customer-level truth checks."""
    out = tmp_path_factory.mktemp("buyers")
    return generate(out, customers=30_000, days=730, products=200, seed=11, events=False)


def sql(result, query: str) -> dict[str, np.ndarray]:
    """Run ``query`` with ``{table}`` placeholders bound to the result's Parquet files."""
    files = {name: f"'{path}'" for name, path in result.paths.items()}
    return duckdb.sql(query.format(**files)).fetchnumpy()


def scalar(result, query: str):
    return next(iter(sql(result, query).values()))[0]


def z_prop(hits: float, n: float, p: float) -> float:
    return (hits / n - p) / math.sqrt(p * (1 - p) / n)


# --- determinism and sizes -------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path):
    kw = dict(customers=400, days=60, products=40)
    a = generate(tmp_path / "a", seed=3, **kw)
    b = generate(tmp_path / "b", seed=3, **kw)
    c = generate(tmp_path / "c", seed=4, **kw)
    for name in (*CANONICAL, "truth_customers"):
        assert pq.read_table(a.paths[name]).equals(pq.read_table(b.paths[name])), name
    assert a.truth == b.truth
    assert not pq.read_table(a.paths["orders"]).equals(pq.read_table(c.paths["orders"]))
    assert not pq.read_table(a.paths["events"]).equals(pq.read_table(c.paths["events"]))


def test_blocks_are_prefix_stable_so_chunking_does_not_change_data(tmp_path):
    """Customers are drawn in fixed blocks with their own streams: the first block of a big
    run is the whole of a one-block run (and orders do not depend on writing events)."""
    small = generate(tmp_path / "s", customers=BLOCK_CUSTOMERS, days=90, products=30, seed=5,
                     events=False)
    big = generate(tmp_path / "b", customers=BLOCK_CUSTOMERS + 300, days=90, products=30,
                   seed=5, row_group_size=1000)
    small_c = pq.read_table(small.paths["customers"])
    big_c = pq.read_table(big.paths["customers"])
    assert big_c.slice(0, BLOCK_CUSTOMERS).equals(small_c)
    small_o = pq.read_table(small.paths["orders"])
    assert pq.read_table(big.paths["orders"]).slice(0, small_o.num_rows).equals(small_o)
    assert big.rows["customers"] == BLOCK_CUSTOMERS + 300
    assert pq.ParquetFile(big.paths["orders"]).metadata.row_group(0).num_rows == 1000


def test_n_events_asks_for_roughly_that_many_events(tmp_path):
    fewer = generate(tmp_path / "f", customers=1500, days=180, products=60, seed=2,
                     n_events=100_000)
    assert abs(fewer.rows["events"] / 100_000 - 1) < 0.15
    assert fewer.truth.tracking_fraction < 1
    natural = generate(tmp_path / "n", customers=1500, days=180, products=60, seed=2,
                       events=False)
    # tracking only thins what is recorded: the orders are the same
    assert pq.read_table(fewer.paths["orders"]).equals(pq.read_table(natural.paths["orders"]))
    more = generate(tmp_path / "m", customers=300, days=180, products=60, seed=2,
                    n_events=400_000)
    assert abs(more.rows["events"] / 400_000 - 1) < 0.15
    assert more.truth.tracking_fraction == 1
    assert more.truth.anonymous_visitors > 300 * SynthConfig().anonymous_visitors_per_customer


def test_progress_reports_every_customer(tmp_path):
    calls = []
    generate(tmp_path, customers=250, days=30, products=20, events=False,
             progress=lambda task, done, total: calls.append((task, done, total)))
    assert ("customers", 250, 250) in calls
    assert calls[-1][0] == "inventory" and calls[-1][1] == calls[-1][2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(customers=0), "customers, days and products"),
        (dict(start="yesterday"), "not a date"),
        (dict(n_events=-5), "n_events"),
        (dict(compression="zip"), "unknown compression"),
    ],
)
def test_impossible_sizes_raise_a_project_value_error(tmp_path, kwargs, match):
    with pytest.raises(SynthError, match=match) as info:
        generate(tmp_path, **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ShopscopeError)
    assert info.value.hint


def test_impossible_parameters_are_rejected_with_a_hint():
    with pytest.raises(SynthError, match="gamma_gamma.q must be > 1") as info:
        dataclasses.replace(SynthConfig().gamma_gamma, q=0.5)
    assert info.value.hint
    with pytest.raises(SynthError, match="acquisition_share must sum to 1"):
        SynthConfig(channels=SynthConfig().channels[:2])


# --- schema and referential consistency ---------------------------------------------------


def test_every_file_has_exactly_the_canonical_schema(shop):
    for name in CANONICAL:
        expected = get_table(name).ibis_schema().to_pyarrow()
        assert pq.read_schema(shop.paths[name]).remove_metadata() == expected, name
        assert shop.rows[name] == pq.ParquetFile(shop.paths[name]).metadata.num_rows > 0


def test_required_columns_are_filled_and_values_allowed(shop):
    for name in CANONICAL:
        spec = get_table(name)
        tbl = pq.read_table(shop.paths[name])
        for col in spec.columns:
            if not col.nullable:
                assert tbl[col.name].null_count == 0, (name, col.name)
            if col.allowed:
                seen = set(tbl[col.name].drop_null().unique().to_pylist())
                assert seen <= set(col.allowed), (name, col.name, seen)


def test_primary_keys_are_unique(shop):
    for name in CANONICAL:
        key = get_table(name).primary_key
        if not key:
            continue
        cols = ", ".join(key)
        dupes = scalar(shop, f"select count(*) from (select {cols} from {{{name}}} "
                             f"group by all having count(*) > 1)")
        assert dupes == 0, name


@pytest.mark.parametrize(
    ("child", "column", "parent", "parent_column"),
    [
        ("order_items", "order_id", "orders", "order_id"),
        ("order_items", "product_id", "products", "product_id"),
        ("returns", "order_id", "orders", "order_id"),
        ("returns", "product_id", "products", "product_id"),
        ("returns", "customer_id", "customers", "customer_id"),
        ("orders", "customer_id", "customers", "customer_id"),
        ("events", "product_id", "products", "product_id"),
        ("events", "user_id", "customers", "customer_id"),
        ("inventory", "product_id", "products", "product_id"),
    ],
)
def test_references_point_at_existing_rows(shop, child, column, parent, parent_column):
    orphans = scalar(shop, f"select count(*) from {{{child}}} c where c.{column} is not null "
                           f"and c.{column} not in (select {parent_column} from {{{parent}}})")
    assert orphans == 0


def test_an_order_has_one_line_per_product(shop):
    assert scalar(shop, "select count(*) from (select order_id, product_id from {order_items} "
                        "group by all having count(*) > 1)") == 0


def test_order_amounts_add_up(shop):
    bad = sql(shop, """
        with lines as (select order_id, sum(quantity * unit_price) gross,
                              sum(discount_amount) discount from {order_items} group by 1)
        select count(*) filter (where abs(o.gross_amount - l.gross) > 0.005) gross,
               count(*) filter (where abs(o.discount_amount - l.discount) > 0.005) discount,
               count(*) filter (where abs(o.net_amount - (o.gross_amount - o.discount_amount))
                                > 0.005) net,
               count(*) filter (where l.order_id is null) no_lines
        from {orders} o left join lines l using (order_id)""")
    assert {k: int(v[0]) for k, v in bad.items()} == dict(gross=0, discount=0, net=0, no_lines=0)


def test_credits_match_their_orders(shop):
    got = sql(shop, """
        select count(*) filter (where r.kind = 'cancellation' and o.status <> 'cancelled') c1,
               count(*) filter (where r.kind = 'return' and o.status not in
                                ('completed', 'refunded')) c2,
               count(*) filter (where r.returned_at < o.ordered_at) early,
               count(*) filter (where r.amount > o.net_amount + 0.005) too_much
        from {returns} r join {orders} o using (order_id)""")
    assert all(int(v[0]) == 0 for v in got.values()), got
    assert scalar(shop, "select count(*) from {orders} where status = 'cancelled' and order_id "
                        "not in (select order_id from {returns})") == 0


def test_purchase_events_are_the_tracked_web_and_app_orders(shop):
    got = sql(shop, """
        with p as (select json_extract_string(properties, '$.order_id') order_id, user_id,
                          event_at from {events} where event_type = 'purchase')
        select count(*) n, count(o.order_id) as matched,
               count(*) filter (where o.customer_id is not distinct from p.user_id) as same_user,
               count(*) filter (where o.ordered_at = p.event_at) as same_time,
               count(*) filter (where o.channel not in ('web', 'app')) as wrong_channel
        from p left join {orders} o using (order_id)""")
    n = int(got["n"][0])
    assert n > 0
    assert got["matched"][0] == got["same_user"][0] == got["same_time"][0] == n
    assert got["wrong_channel"][0] == 0
    # every web/app order of a tracked customer (everyone here) and every guest order
    missing = scalar(shop, """
        select count(*) from {orders} where channel in ('web', 'app') and order_id not in
        (select json_extract_string(properties, '$.order_id') from {events}
         where event_type = 'purchase')""")
    assert missing == 0


def test_events_before_signup_are_anonymous(shop):
    early = scalar(shop, """select count(*) from {events} e join {customers} c
                            on e.user_id = c.customer_id where e.event_at < c.first_seen_at""")
    assert early == 0


def test_ground_truth_json_round_trips(shop):
    assert GroundTruth.read(shop.paths["ground_truth"]) == shop.truth
    raw = json.loads(shop.paths["ground_truth"].read_text())
    assert raw["bgnbd"]["time_unit"] == "days"
    assert raw["customers"] == 3000 and raw["seed"] == 7


def test_inventory_follows_demand(shop):
    """Receipts implied by the stock balance are never negative, and stock moves only by
    demand, returns and receipts."""
    inv = sql(shop, """
        with d as (select i.product_id, o.ordered_at::date as date,
                          case when o.channel = 'marketplace' then 'marketplace_fc'
                               else 'warehouse' end as location, sum(i.quantity) as demand
                   from {order_items} i join {orders} o using (order_id)
                   where o.status <> 'cancelled' group by all),
             r as (select product_id, returned_at::date as date, 'warehouse' as location,
                          sum(quantity) as back from {returns} where kind = 'return' group by all)
        select location, on_hand - lag(on_hand) over w + coalesce(demand, 0)
                         - coalesce(back, 0) as receipts
        from {inventory} left join d using (product_id, date, location)
        left join r using (product_id, date, location)
        window w as (partition by product_id, location order by date)
        qualify lag(on_hand) over w is not null""")
    assert inv["receipts"].min() >= 0
    assert (inv["receipts"] > 0).any()


# --- ground truth recovered -------------------------------------------------------------


def _customer_histories(result):
    return sql(result, f"""
        with o as (select customer_id, ordered_at,
                          row_number() over (partition by customer_id order by ordered_at) rn
                   from {{orders}} where customer_id is not null)
        select (epoch(timestamp '{result.truth.end}') - epoch(c.first_seen_at)) / 86400 t_obs,
               coalesce((epoch(min(ordered_at) filter (where rn = 2))
                         - epoch(c.first_seen_at)) / 86400, 1e9) first_gap,
               count(*) - 1 repeats,
               min(ordered_at) = c.first_seen_at as first_at_signup
        from {{customers}} c join o using (customer_id)
        group by c.customer_id, c.first_seen_at""")


def test_bgnbd_first_repeat_time_matches_gamma_mixture(buyers):
    """No dropout before the first repeat: P(gap <= t) = 1 - (alpha/(alpha+t))**r."""
    h = _customer_histories(buyers)
    assert h["first_at_signup"].all()
    bg = buyers.truth.bgnbd
    for t in (30, 120, 365):
        seen = h["t_obs"] >= t
        p0 = 1 - (bg.alpha / (bg.alpha + t)) ** bg.r
        assert abs(z_prop((h["first_gap"][seen] <= t).sum(), seen.sum(), p0)) < Z, t


def _hyp2f1(a, b, c, z):
    """Gauss series, enough for |z| < 1 (the test's own, not the package's)."""
    total = np.ones_like(z)
    term = np.ones_like(z)
    for k in range(20_000):
        term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        if np.abs(term).max() < 1e-12:
            break
    return total


def test_bgnbd_mean_repeats_match_closed_form(buyers):
    """E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]."""
    h = _customer_histories(buyers)
    bg = buyers.truth.bgnbd
    t = h["t_obs"]
    expected = (bg.a + bg.b - 1) / (bg.a - 1) * (
        1 - (bg.alpha / (bg.alpha + t)) ** bg.r
        * _hyp2f1(bg.r, bg.b, bg.a + bg.b - 1, t / (bg.alpha + t)))
    x = h["repeats"].astype(float)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - expected.mean()) < Z * se


def test_prospects_share_matches_truth(buyers):
    n = buyers.truth.customers
    never = scalar(buyers, "select count(*) from {customers} where customer_id not in "
                           "(select customer_id from {orders} where customer_id is not null)")
    assert abs(z_prop(never, n, buyers.truth.prospect_share)) < Z


def test_gamma_gamma_mean_order_value_matches_truth(buyers):
    """One order per customer (the first) keeps the values independent."""
    gg = buyers.truth.gamma_gamma
    first = sql(buyers, """select gross_amount from (select gross_amount, row_number() over
                           (partition by customer_id order by ordered_at) rn from {orders}
                           where customer_id is not null) where rn = 1""")["gross_amount"]
    mean = gg.p * gg.gamma / (gg.q - 1)
    var = gg.p * (gg.p + 1) * gg.gamma**2 / ((gg.q - 1) * (gg.q - 2)) - mean**2
    assert mean == pytest.approx(gg.mean_order_value)
    assert abs(first.mean() - mean) < Z * math.sqrt(var / first.size)


def test_funnel_step_rates_match_truth_per_channel(shop):
    got = sql(shop, """
        with s as (select session_id, any_value(source) src, any_value(medium) med,
                          max((event_type = 'add_to_cart')::int) cart,
                          max((event_type = 'checkout')::int) co,
                          max((event_type = 'purchase')::int) buy
                   from {events} group by 1)
        select src, med, count(*) n, sum(cart) cart, sum(co) co, sum(buy) buy
        from s group by all""")
    fun = shop.truth.funnel
    by_medium = {c.medium: c.name for c in SynthConfig().channels}
    totals = np.zeros(4)
    for i, med in enumerate(got["med"]):
        truth = fun.by_channel[by_medium[med]]
        n, cart, co, buy = (float(got[k][i]) for k in ("n", "cart", "co", "buy"))
        totals += (n, cart, co, buy)
        assert abs(z_prop(cart, n, truth.view_to_cart)) < Z, med
        assert abs(z_prop(co, cart, truth.cart_to_checkout)) < Z, med
        assert abs(z_prop(buy, co, truth.checkout_to_purchase)) < Z, med
    n, cart, co, buy = totals
    assert abs(z_prop(cart, n, fun.overall.view_to_cart)) < Z
    assert abs(z_prop(buy, n, fun.overall.session_conversion)) < Z
    assert abs(sum(fun.traffic_share.values()) - 1) < 1e-9


def test_channel_effects_recovered_by_least_squares(buyers):
    """Daily new customers on daily spend: the slope is acquisitions per unit spend."""
    truth = {c.name: c for c in buyers.truth.channels}
    days = sql(buyers, f"""
        with s as (select channel, date, sum(spend) spend from {{marketing_spend}} group by all),
             a as (select signup_channel channel, first_seen_at::date date, count(*) n
                   from {{customers}} group by all),
             d as (select unnest(range(date '{buyers.truth.start}', date '{buyers.truth.end}',
                                       interval 1 day))::date date)
        select s2.channel, d.date, coalesce(s.spend, 0) spend, coalesce(a.n, 0) n
        from (select distinct channel from s) s2 cross join d
        left join s using (channel, date) left join a using (channel, date)
    """)
    for name in np.unique(days["channel"]):
        m = days["channel"] == name
        x, y = days["spend"][m], days["n"][m].astype(float)
        design = np.c_[np.ones(x.size), x]
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        cov = resid @ resid / (y.size - 2) * np.linalg.inv(design.T @ design)
        se = math.sqrt(cov[1, 1])
        assert abs(coef[1] - truth[name].acquisitions_per_unit_spend) < Z * se + 1e-12, name
    paid = [c for c in buyers.truth.channels if c.cac]
    assert {c.name for c in paid} <= set(np.unique(days["channel"]))


def test_marketplace_demand_matches_croston_truth(buyers):
    d = buyers.truth.demand
    occ = np.array(d.occurrence_prob)
    size = np.array(d.size_mean)
    got = sql(buyers, """select count(*) n, sum(i.quantity) units from {orders} o
                         join {order_items} i using (order_id) where o.channel = 'marketplace'""")
    days = buyers.truth.days
    n_exp, n_var = days * occ.sum(), days * (occ * (1 - occ)).sum()
    assert abs(got["n"][0] - n_exp) < Z * math.sqrt(n_var)
    # size - 1 is Poisson(size_mean - 1): mean units per occurrence
    mean_size = (occ * size).sum() / occ.sum()
    # within product: Poisson variance size_mean - 1; between products: spread of the means
    w = occ / occ.sum()
    var_size = (w * (size - 1)).sum() + (w * (size - mean_size) ** 2).sum()
    assert abs(got["units"][0] / got["n"][0] - mean_size) < Z * math.sqrt(var_size / got["n"][0])


def test_return_rates_match_category_truth(buyers):
    got = sql(buyers, f"""
        select p.category, count(*) lines, count(r.order_id) returned
        from {{order_items}} i join {{orders}} o using (order_id)
        join {{products}} p using (product_id)
        left join (select distinct order_id, product_id from {{returns}} where kind = 'return') r
          using (order_id, product_id)
        where o.status in ('completed', 'refunded') and o.channel <> 'marketplace'
          and o.ordered_at < timestamp '{buyers.truth.end}' - interval 60 day
        group by 1""")
    for cat, lines, back in zip(got["category"], got["lines"], got["returned"], strict=True):
        p = buyers.truth.return_prob_by_category[cat]
        assert abs(z_prop(back, lines, p)) < Z, cat
