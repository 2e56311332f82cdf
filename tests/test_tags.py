"""Customer tags worked out by hand on the KPI shop (tests/kpi_shop.py) and on a few rows built
here for coupons and ties."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from shopscope.customers.tags import TAGS, TagOptionError, customer_tags
from shopscope.schema import get_table
from shopscope.store import connect
from tests.kpi_shop import load


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    store = connect("duckdb://")
    load(store, tmp_path_factory.mktemp("tags_shop"))
    return store


def test_tags_by_hand_on_the_kpi_shop(shop):
    got = customer_tags(shop, "2025-03-01").execute().set_index("customer_id").sort_index()
    assert list(got.columns) == list(TAGS)
    assert list(got.index) == ["c1", "c2", "c3", "c4"]
    # Purchases before 2025-03-01 (o03, o08 cancelled; o04 is a guest):
    # c1 o01 web disc 10, o06 web, o12 web | c2 o02 app, o05 web, o09 app
    # c3 o07 web disc 8, o10 web disc 20    | c4 o11 app
    assert got.discount_share.tolist() == pytest.approx([1 / 3, 0.0, 1.0, 0.0])
    assert got.discount_sensitivity.tolist() == ["medium", "low", "high", "low"]
    assert got.main_channel.tolist() == ["web", "app", "web", "app"]
    # Net line values: c1 toys 70 (o01) + 90 (o12) = 160, books 20 + 60 = 80;
    # c2 books 50 + 25 (o09 has no lines); c3 toys 72 + 100; c4 books 45.
    assert got.preferred_category.tolist() == ["toys", "books", "toys", "books"]
    assert got.category_share.tolist() == pytest.approx([2 / 3, 1.0, 1.0, 1.0])
    # Average unit price: c1 (80 + 20 + 60 + 90) / 8 = 31.25; c2 75 / 2; c3 200 / 4; c4 45.
    assert got.avg_unit_price.tolist() == pytest.approx([31.25, 37.5, 50.0, 45.0])
    # Shop line prices: 20 20 25 40 40 45 45 50 80 -> q(1/3) at 2.67 = 25 + 2/3·15 = 35,
    # q(2/3) at 5.33 = 45. 31.25 < 35 low; 37.5 mid; 50 > 45 high; 45 is not above 45: mid.
    assert got.price_band.tolist() == ["low", "mid", "high", "mid"]
    # Purchase days: c1 2024-01-05, 02-03, 2025-02-10: gaps 29, 373 -> median 201;
    # c2 2024-01-10, 01-28, 04-02: gaps 18, 65 -> 41.5 (next purchase after 42 days);
    # c3 2024-02-14, 2025-01-15: gap 336; c4 one purchase day: no interval.
    assert got.typical_interval_days.tolist()[:3] == [201.0, 41.5, 336.0]
    assert got.typical_interval_days.isna().tolist() == [False, False, False, True]
    expected = [dt.date(2025, 8, 30), dt.date(2024, 5, 14), dt.date(2025, 12, 17)]
    assert [d.date() for d in got.expected_next_purchase[:3]] == expected
    assert got.days_to_next_purchase.tolist()[:3] == [182, -291, 291]
    assert got.expected_next_purchase.isna().tolist()[3]
    assert [d.date() for d in got.last_purchase_date] == [
        dt.date(2025, 2, 10), dt.date(2024, 4, 2), dt.date(2025, 1, 15), dt.date(2025, 1, 20)]


def test_as_of_cuts_history(shop):
    got = customer_tags(shop, "2024-02-01").execute().set_index("customer_id").sort_index()
    # Before Feb 2024: c1 o01 only, c2 o02 and o05 (Jan 10, Jan 28).
    assert list(got.index) == ["c1", "c2"]
    assert got.typical_interval_days.isna().tolist() == [True, False]
    assert got.loc["c2", "typical_interval_days"] == 18.0


def _rows(name, rows):
    schema = get_table(name).ibis_schema().to_pyarrow()
    return pa.Table.from_pylist(rows, schema=schema)


def test_coupons_and_ties():
    store = connect("duckdb://")
    at = dt.datetime(2024, 3, 1, 12)
    orders = [
        # t1: a coupon without a discount counts; a blank coupon does not -> 1/2 -> high.
        ("a", "t1", "app", 0.0, "SPRING"),
        ("b", "t1", "web", 0.0, "  "),
        # t2: one order in each of two channels -> tie -> "app" (alphabetical).
        ("c", "t2", "web", 0.0, None),
        ("d", "t2", "app", 0.0, None),
    ]
    store.backend.create_table("orders", _rows("orders", [
        {"order_id": o, "customer_id": c, "ordered_at": at, "channel": ch,
         "status": "completed", "gross_amount": 10.0, "discount_amount": d,
         "shipping_amount": 0.0, "net_amount": 10.0 - d, "currency": "EUR", "coupon_code": cc}
        for o, c, ch, d, cc in orders]))
    store.backend.create_table("products", _rows("products", [
        {"product_id": "K", "category": "kitchen"}, {"product_id": "B", "category": "bath"},
        {"product_id": "U", "category": None}]))
    store.backend.create_table("order_items", _rows("order_items", [
        # t1: 10 of kitchen and 10 of bath -> tie -> "bath"; the uncategorised line is
        # ignored for the preference but counts in the average price.
        {"order_id": "a", "line_no": 1, "product_id": "K", "quantity": 1, "unit_price": 10.0,
         "discount_amount": 0.0},
        {"order_id": "b", "line_no": 1, "product_id": "B", "quantity": 2, "unit_price": 6.0,
         "discount_amount": 2.0},
        {"order_id": "b", "line_no": 2, "product_id": "U", "quantity": 1, "unit_price": 100.0,
         "discount_amount": 0.0},
        # t2: only an unknown product -> no preferred category.
        {"order_id": "c", "line_no": 1, "product_id": None, "quantity": 1, "unit_price": 4.0,
         "discount_amount": 0.0},
    ]))
    got = customer_tags(store, "2024-04-01").execute().set_index("customer_id").sort_index()
    assert got.discount_share.tolist() == [0.5, 0.0]
    assert got.discount_sensitivity.tolist() == ["high", "low"]
    assert got.main_channel.tolist() == ["app", "app"]
    assert got.loc["t1", "preferred_category"] == "bath"
    assert got.loc["t1", "category_share"] == pytest.approx(0.5)
    assert got.preferred_category.isna().tolist() == [False, True]
    # t1: (10 + 12 + 100) / 4 = 30.5; t2: 4 (its one line, in order c).
    assert got.avg_unit_price.tolist() == pytest.approx([30.5, 4.0])
    # Same day twice: one purchase day, no interval.
    assert got.typical_interval_days.isna().all()


def test_bad_options(shop):
    with pytest.raises(TagOptionError, match="price_quantiles"):
        customer_tags(shop, "2025-01-01", price_quantiles=(0.7, 0.3))
    with pytest.raises(ValueError, match="discount_thresholds"):
        customer_tags(shop, "2025-01-01", discount_thresholds=(0.5, 1.5))
