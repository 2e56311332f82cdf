"""KPI engine on the hand-built shop of ``kpi_shop.py``, on DuckDB and (when present) Spark.

Every expected number is worked out by hand in the comments from the rows listed in
``kpi_shop.py``; none is copied from the code's output.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from shopscope.kpis import METRICS, KpiResult, kpi_expr, kpis, summary
from shopscope.kpis.queries import BREAKDOWNS, GRAINS, UNKNOWN, KpiOptionError
from tests.conftest import open_store
from tests.kpi_shop import load

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
NAN = float("nan")
JAN, FEB, MAR, APR = (pd.Timestamp(f"2024-{m:02d}-01") for m in (1, 2, 3, 4))
JAN25, FEB25 = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")


# -- stores -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def duckdb_shop(tmp_path_factory):
    store = open_store("duckdb")
    load(store, tmp_path_factory.mktemp("kpi_shop_duckdb"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def pyspark_shop(spark_session, tmp_path_factory):
    store = open_store("pyspark")
    load(store, tmp_path_factory.mktemp("kpi_shop_spark"))
    return store


@pytest.fixture(scope="module")
def shop(engine, request):
    return request.getfixturevalue(f"{engine}_shop")


@functools.cache
def _kpis(store, grain="month", by=None, start=None, end=None) -> KpiResult:
    # Results are small and immutable: compute each query once per engine.
    return kpis(store, grain=grain, by=by, start=start, end=end)


def row(result: KpiResult, period: pd.Timestamp, by_value: str | None = None) -> pd.DataFrame:
    """The metric rows of one period (and breakdown value), indexed by metric."""
    data = result.data
    mask = data["period"] == period
    if by_value is not None:
        mask &= data[result.by] == by_value
    out = data[mask].set_index("metric")
    assert list(out.index) == list(METRICS), f"no single row for {period} {by_value}"
    return out


def check(actual: pd.Series, expected: dict[str, float]) -> None:
    """Each expected metric equals its value; NaN means 'null'."""
    for metric, want in expected.items():
        got = actual[metric]
        if isinstance(want, float) and math.isnan(want):
            assert pd.isna(got), f"{metric}: expected null, got {got}"
        else:
            assert got == pytest.approx(want), f"{metric}: expected {want}, got {got}"


# -- whole shop, by month ------------------------------------------------------------------
def test_january_2024_every_metric_by_hand(shop):
    jan = row(_kpis(shop), JAN)["value"]
    check(
        jan,
        {
            # orders o01..o05: 100 + 50 + 30 + 40 + 25
            "gmv": 245.0,
            # o01 10 + o04 5
            "discounts": 15.0,
            # o03 cancelled 30 + r2 cancellation credit 10 (by returned_at 2024-01-30)
            "cancelled_amount": 40.0,
            # r1 return 35 (2024-01-28); no refunded order in January
            "returned_amount": 35.0,
            # 245 - 15 - 40 - 35
            "net_sales": 155.0,
            # all statuses, the cancelled o03 included
            "orders": 5,
            # lines: o01 2+1, o02 1, o03 1, o04 2, o05 1
            "units": 8,
            # c1 (o01) and c2 (o02, o05); the guest o04 is not a buyer
            "buyers": 2,
            # both first bought in January
            "new_buyers": 2,
            "returning_buyers": 0,
            # 245 / 5
            "aov": 49.0,
            # 8 units / 5 orders with lines
            "units_per_order": 1.6,
            # c2 has two non-cancelled orders (o02, o05); c1's o03 was cancelled: 1 / 2
            "repurchase_rate": 0.5,
            "cancellation_rate": 40 / 245,
            "return_rate": 35 / 245,
            # net sales per buyer: 155 / 2
            "arpu": 77.5,
            # views: c1 twice on the 5th, a2, c2, a4
            "pv": 5,
            # visitors c1 (user id beats anonymous a1), a2, c2, a4, a5
            "uv": 5,
            # purchases by c1, c2 and the anonymous a5
            "event_buyers": 3,
            # 3 / 5
            "conversion_rate": 0.6,
        },
    )


def test_february_2024_refunds_and_returning_buyers(shop):
    feb = row(_kpis(shop), FEB)["value"]
    check(
        feb,
        {
            "gmv": 165.0,  # o06 60 + o07 80 + o08 25
            "discounts": 8.0,  # o07
            "cancelled_amount": 25.0,  # o08 cancelled, no credits in February
            "returned_amount": 80.0,  # o07 refunded, no return rows in February
            "net_sales": 52.0,  # 165 - 8 - 25 - 80
            "orders": 3,
            "units": 5,  # 3 + 1 + 1
            "buyers": 2,  # c1 (o06), c3 (o07: refunded still counts); c4 only cancelled
            "new_buyers": 1,  # c3; c1 first bought in January
            "returning_buyers": 1,
            "aov": 55.0,  # 165 / 3
            "units_per_order": 5 / 3,
            "repurchase_rate": 0.0,
            "arpu": 26.0,  # 52 / 2
            "pv": 2,  # c1, a6
            "uv": 2,
            "event_buyers": 1,  # c1
            "conversion_rate": 0.5,
        },
    )


def test_a_gap_month_has_no_row_and_is_not_skipped_over(shop):
    result = _kpis(shop)
    periods = sorted(result.data["period"].unique())
    assert periods == [JAN, FEB, APR, JAN25, FEB25]  # no March 2024
    apr = row(result, APR)
    # previous of April is March (no data): null, not February's 165 as a lag would give
    check(apr["previous"], {"gmv": NAN, "orders": NAN, "buyers": NAN})
    check(apr["pop_change"], {"gmv": NAN})
    check(apr["yoy_value"], {"gmv": NAN})  # April 2023
    check(
        apr["value"],
        {
            "gmv": 70.0,
            "net_sales": 70.0,
            "orders": 1,
            "buyers": 1,
            "new_buyers": 0,  # c2 first bought in January 2024
            "returning_buyers": 1,
            "units": 0,
            "units_per_order": NAN,  # o09 has no lines: zero denominator
            "pv": 0,
            "uv": 0,
            "conversion_rate": NAN,  # no events: zero denominator
        },
    )


def test_period_over_period_and_year_over_year(shop):
    result = _kpis(shop)
    feb = row(result, FEB)
    assert feb.loc["gmv", "previous"] == pytest.approx(245.0)
    assert feb.loc["gmv", "pop_change"] == pytest.approx((165 - 245) / 245)
    assert feb.loc["net_sales", "previous"] == pytest.approx(155.0)
    # returning buyers went 0 -> 1: a change relative to zero is null
    assert feb.loc["returning_buyers", "previous"] == 0
    assert pd.isna(feb.loc["returning_buyers", "pop_change"])

    jan25 = row(result, JAN25)
    # January 2025: o10 120 + o11 45; December 2024 has no row
    assert jan25.loc["gmv", "value"] == pytest.approx(165.0)
    assert pd.isna(jan25.loc["gmv", "previous"])
    assert jan25.loc["gmv", "yoy_value"] == pytest.approx(245.0)
    assert jan25.loc["gmv", "yoy_change"] == pytest.approx((165 - 245) / 245)
    # c4's only earlier order (o08) was cancelled, so c4 is new in January 2025; c3 is not
    assert jan25.loc["new_buyers", "value"] == 1
    assert jan25.loc["new_buyers", "yoy_value"] == 2

    feb25 = row(result, FEB25)
    assert feb25.loc["gmv", "value"] == pytest.approx(90.0)
    assert feb25.loc["gmv", "previous"] == pytest.approx(165.0)  # January 2025
    assert feb25.loc["gmv", "yoy_value"] == pytest.approx(165.0)  # February 2024
    assert feb25.loc["gmv", "yoy_change"] == pytest.approx((90 - 165) / 165)


# -- other grains --------------------------------------------------------------------------
def test_weeks_start_on_monday_and_compare_with_52_weeks_earlier(shop):
    result = _kpis(shop, grain="week")
    # o04 (Thu 25 Jan) and o05 (Sun 28 Jan) share the week of Monday 22 Jan 2024
    w22 = row(result, pd.Timestamp("2024-01-22"))
    assert w22.loc["gmv", "value"] == pytest.approx(65.0)
    assert w22.loc["returned_amount", "value"] == pytest.approx(35.0)  # r1, Sun 28 Jan
    # previous week (15 Jan) holds only the cancelled o03
    assert w22.loc["gmv", "previous"] == pytest.approx(30.0)
    # the week of Mon 29 Jan runs to Sun 4 Feb: o06 (Sat 3 Feb) and r2's credit (Tue 30 Jan)
    w29 = row(result, pd.Timestamp("2024-01-29"))
    check(w29["value"], {"gmv": 60.0, "cancelled_amount": 10.0, "orders": 1,
                         "cancellation_rate": 10 / 60})
    # o11 on Mon 20 Jan 2025; 364 days earlier is Mon 22 Jan 2024
    w = row(result, pd.Timestamp("2025-01-20"))
    assert w.loc["gmv", "value"] == pytest.approx(45.0)
    assert w.loc["gmv", "yoy_value"] == pytest.approx(65.0)
    # o10 on Wed 15 Jan 2025 -> week of 13 Jan; a year earlier: week of 15 Jan 2024 (o03)
    assert row(result, pd.Timestamp("2025-01-13")).loc["gmv", "yoy_value"] == pytest.approx(30.0)


def test_day_quarter_and_year(shop):
    day = row(_kpis(shop, grain="day"), pd.Timestamp("2024-01-05"))
    # o01, and c1's two views and a purchase that morning
    check(day["value"], {"gmv": 100.0, "orders": 1, "pv": 2, "uv": 1, "conversion_rate": 1.0})
    assert pd.isna(day.loc["gmv", "previous"])  # nothing on 4 Jan

    quarter = _kpis(shop, grain="quarter")
    q2 = row(quarter, pd.Timestamp("2024-04-01"))
    assert row(quarter, JAN).loc["gmv", "value"] == pytest.approx(410.0)  # 245 + 165
    assert q2.loc["gmv", "value"] == pytest.approx(70.0)
    assert q2.loc["gmv", "previous"] == pytest.approx(410.0)
    q1_25 = row(quarter, JAN25)
    assert q1_25.loc["gmv", "value"] == pytest.approx(255.0)  # 165 + 90
    assert q1_25.loc["gmv", "yoy_value"] == pytest.approx(410.0)
    assert pd.isna(q1_25.loc["gmv", "previous"])  # Q4 2024 is empty

    year = _kpis(shop, grain="year")
    y25 = row(year, JAN25)
    assert row(year, JAN).loc["gmv", "value"] == pytest.approx(480.0)  # 410 + 70
    assert y25.loc["gmv", "value"] == pytest.approx(255.0)
    assert y25.loc["gmv", "previous"] == pytest.approx(480.0)
    assert y25.loc["gmv", "yoy_value"] == pytest.approx(480.0)
    # distinct over the year: 2024 buyers c1, c2, c3; 2025 buyers c3, c4, c1 (c4 new)
    assert row(year, JAN).loc["buyers", "value"] == 3
    check(y25["value"], {"buyers": 3, "new_buyers": 1, "returning_buyers": 2})


# -- breakdowns ----------------------------------------------------------------------------
def test_by_channel(shop):
    result = _kpis(shop, by="channel")
    assert sorted(result.data.loc[result.data["period"] == JAN, "channel"].unique()) == [
        "app",
        "web",
    ]
    web = row(result, JAN, "web")["value"]
    check(
        web,
        {
            "gmv": 155.0,  # o01 100 + o03 30 + o05 25
            "discounts": 10.0,
            "cancelled_amount": 30.0,  # o03; r2 belongs to o02 (app)
            "returned_amount": 35.0,  # r1 on o01 (web)
            "net_sales": 80.0,  # 155 - 10 - 30 - 35
            "orders": 3,
            "units": 5,
            "buyers": 2,  # c1, c2
            "new_buyers": 2,
            "repurchase_rate": 0.0,  # each has one non-cancelled web order
            "aov": 155 / 3,
            "pv": 3,  # events.channel web: c1 view x2, a4 view
            "uv": 2,  # c1, a4
            "event_buyers": 1,
            "conversion_rate": 0.5,
        },
    )
    app = row(result, JAN, "app")["value"]
    check(
        app,
        {
            "gmv": 90.0,  # o02 50 + o04 40
            "discounts": 5.0,
            "cancelled_amount": 10.0,  # r2 on o02
            "returned_amount": 0.0,
            "net_sales": 75.0,
            "orders": 2,
            "buyers": 1,  # c2; the guest o04 does not count
            "arpu": 75.0,
            "pv": 2,  # a2, c2
            "uv": 3,  # a2, c2, a5
            "event_buyers": 2,  # c2, a5
            "conversion_rate": 2 / 3,
        },
    )


def test_by_country_has_no_event_metrics(shop):
    result = _kpis(shop, by="country")
    gb = row(result, JAN, "GB")["value"]
    # o01 100 + o03 30 + o04 40; returned r1 (o01); cancelled o03
    check(gb, {"gmv": 170.0, "discounts": 15.0, "cancelled_amount": 30.0,
               "returned_amount": 35.0, "net_sales": 90.0, "orders": 3, "buyers": 1,
               "pv": NAN, "uv": NAN, "event_buyers": NAN, "conversion_rate": NAN})
    fr = row(result, JAN, "FR")["value"]
    # o02 50 + o05 25, both c2; r2 credit on o02
    check(fr, {"gmv": 75.0, "cancelled_amount": 10.0, "net_sales": 65.0, "orders": 2,
               "buyers": 1, "repurchase_rate": 1.0})


def test_by_region_labels_missing_values(shop):
    result = _kpis(shop, by="region")
    check(row(result, JAN, "London")["value"], {"gmv": 130.0, "orders": 2})  # o01, o03
    check(row(result, JAN, "Paris")["value"], {"gmv": 75.0, "orders": 2})  # o02, o05
    # o04 has no region; it is a guest order, so no buyers: per-buyer ratios are null
    unknown = row(result, JAN, UNKNOWN)["value"]
    check(unknown, {"gmv": 40.0, "orders": 1, "buyers": 0, "repurchase_rate": NAN,
                    "arpu": NAN})


def test_by_category_at_line_level(shop):
    result = _kpis(shop, by="category")
    toys = row(result, JAN, "toys")["value"]
    check(
        toys,
        {
            "gmv": 150.0,  # lines o01 2x40, o03 1x30, o04 2x20
            "discounts": 15.0,  # 10 + 5
            "cancelled_amount": 30.0,  # o03's line; r2 is a P2 (books) credit
            "returned_amount": 35.0,  # r1 is a P1 (toys) return
            "net_sales": 70.0,  # 150 - 15 - 30 - 35
            "orders": 3,  # o01, o03, o04
            "units": 5,  # 2 + 1 + 2
            "units_per_order": 5 / 3,
            "buyers": 1,  # c1 (o01); o04 is a guest
            "pv": 2,  # events.category toys: c1 view, a2 view
            "uv": 3,  # c1, a2, a5
            "event_buyers": 2,  # c1, a5
        },
    )
    books = row(result, JAN, "books")["value"]
    check(
        books,
        {
            "gmv": 95.0,  # o01 1x20, o02 1x50, o05 1x25
            "cancelled_amount": 10.0,  # r2
            "returned_amount": 0.0,
            "net_sales": 85.0,
            "orders": 3,  # o01 counts in both categories
            "units": 3,
            "buyers": 2,  # c1, c2
            "repurchase_rate": 0.5,  # c2: o02 and o05
            "pv": 2,
            "uv": 2,
            "event_buyers": 1,
        },
    )
    # a4's view has no category; the row has events but no sales
    unknown = row(result, JAN, UNKNOWN)["value"]
    check(unknown, {"gmv": 0.0, "orders": 0, "aov": NAN, "cancellation_rate": NAN,
                    "units_per_order": NAN, "pv": 1, "uv": 1, "conversion_rate": 0.0})
    # February: o07 was refunded, so its toys line counts as returned
    check(row(result, FEB, "toys")["value"], {"gmv": 80.0, "returned_amount": 80.0,
                                               "buyers": 1, "new_buyers": 1})
    check(row(result, FEB, "books")["value"], {"gmv": 85.0, "cancelled_amount": 25.0,
                                                "buyers": 1, "new_buyers": 0})


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_additive_metrics_of_a_breakdown_add_up_to_the_total(shop, by):
    total = _kpis(shop).wide().set_index("period")
    parts = _kpis(shop, by=by).wide().groupby("period").sum(numeric_only=True)
    additive = ["gmv", "discounts", "cancelled_amount", "returned_amount", "net_sales", "units"]
    if by != "category":  # an order with lines in two categories counts in both
        additive.append("orders")
    pd.testing.assert_frame_equal(
        parts[additive], total.loc[parts.index, additive], check_dtype=False
    )


# -- ranges --------------------------------------------------------------------------------
def test_start_and_end_filter_on_each_tables_own_time(shop):
    out = kpi_expr(shop, grain="month", start="2024-01-10", end=dt.date(2024, 2, 1)).execute()
    assert len(out) == 1
    jan = out.iloc[0]
    # o02 50 + o03 30 + o04 40 + o05 25 (o01 on the 5th is out)
    assert jan["gmv"] == pytest.approx(145.0)
    assert jan["cancelled_amount"] == pytest.approx(40.0)  # o03 + r2 (30 Jan)
    assert jan["buyers"] == 1  # c2; c1's only order in range (o03) was cancelled
    assert jan["new_buyers"] == 1
    assert jan["pv"] == 2  # c2 (10 Jan 11:50), a4 (22 Jan)
    assert jan["uv"] == 3  # c2, a4, a5


def test_comparisons_read_the_periods_before_start(shop):
    result = _kpis(shop, start="2024-02-01", end="2024-05-01")
    assert sorted(result.data["period"].unique()) == [FEB, APR]
    feb = row(result, FEB)
    assert feb.loc["gmv", "previous"] == pytest.approx(245.0)  # January, before start
    assert pd.isna(row(result, APR).loc["gmv", "previous"])


def test_a_start_inside_a_period_cuts_that_period_only(shop):
    result = _kpis(shop, start="2025-01-16")
    jan25 = row(result, JAN25)
    assert jan25.loc["gmv", "value"] == pytest.approx(45.0)  # o11 only (o10 is on the 15th)
    assert jan25.loc["gmv", "yoy_value"] == pytest.approx(245.0)  # January 2024 in full
    assert row(result, FEB25).loc["gmv", "previous"] == pytest.approx(45.0)


def test_summary_counts_distinct_people_over_the_range(shop):
    s = summary(shop, start="2024-01-01", end="2024-03-01")
    check(
        pd.Series(s),
        {
            "gmv": 410.0,  # 245 + 165
            "discounts": 23.0,
            "cancelled_amount": 65.0,  # 40 + 25
            "returned_amount": 115.0,  # 35 + 80
            "net_sales": 207.0,  # 410 - 23 - 65 - 115
            "orders": 8,
            "units": 13,
            "buyers": 3,  # c1, c2, c3 (c1 bought in both months: once)
            "new_buyers": 3,
            "aov": 51.25,  # 410 / 8
            "repurchase_rate": 2 / 3,  # c1 (o01, o06) and c2 (o02, o05)
            "arpu": 69.0,  # 207 / 3
            "pv": 7,
            "uv": 6,  # c1, a2, c2, a4, a5, a6
            "event_buyers": 3,  # c1, c2, a5
            "conversion_rate": 0.5,
        },
    )
    # from 2025: c3, c4, c1 buy; only c4 had not bought (non-cancelled) before
    s25 = summary(shop, start=dt.date(2025, 1, 1))
    assert (s25["buyers"], s25["new_buyers"], s25["returning_buyers"]) == (3, 1, 2)
    everything = summary(shop)
    assert everything["gmv"] == pytest.approx(735.0)  # 480 + 255
    assert (everything["orders"], everything["buyers"], everything["new_buyers"]) == (12, 4, 4)


def test_summary_of_an_empty_range_is_zero_with_null_ratios(shop):
    s = summary(shop, start="2024-03-01", end="2024-04-01")  # the gap month
    assert s["gmv"] == 0 and s["orders"] == 0 and s["pv"] == 0
    assert s["aov"] is None and s["conversion_rate"] is None and s["arpu"] is None


# -- results and registry ------------------------------------------------------------------
def test_result_shapes(shop):
    result = _kpis(shop, by="channel")
    assert list(result.data.columns) == [
        "period", "channel", "metric", "value", "previous", "pop_change", "yoy_value",
        "yoy_change",
    ]
    wide = result.wide()
    assert list(wide.columns) == ["period", "channel", *METRICS]
    # web and app in Jan 2024, Feb 2024 (o08 and Feb events are app/web) and Jan 2025;
    # only app in Apr 2024 (o09), only web in Feb 2025 (o12): 2 + 2 + 1 + 2 + 1
    assert len(wide) == 8
    assert wide.loc[(wide["period"] == JAN) & (wide["channel"] == "web"), "gmv"].item() == 155


def test_expression_columns_and_types(duckdb_shop):
    expr = kpi_expr(duckdb_shop, grain="quarter", by="region")
    assert expr.columns == ("period", "region", *METRICS)
    assert expr.schema()["period"].is_date()
    assert expr.schema()["orders"].is_integer()
    assert expr.schema()["aov"].is_floating()


def test_empty_store_gives_empty_results():
    store = open_store("duckdb")
    result = kpis(store, grain="week", by="category")
    assert result.data.empty
    assert list(result.wide().columns) == ["period", "category", *METRICS]
    assert kpi_expr(store).count().execute() == 0
    s = summary(store)
    assert s["gmv"] == 0 and s["buyers"] == 0 and s["aov"] is None


def test_unknown_options_fail_with_a_hint(duckdb_shop):
    with pytest.raises(KpiOptionError, match="unknown grain 'fortnight'") as info:
        kpis(duckdb_shop, grain="fortnight")
    assert isinstance(info.value, ValueError)
    assert "week" in info.value.hint
    with pytest.raises(ValueError, match="unknown breakdown 'sku'") as info:
        kpi_expr(duckdb_shop, by="sku")
    assert "category" in info.value.hint
    with pytest.raises(KpiOptionError, match="not before end"):
        summary(duckdb_shop, start="2024-02-01", end="2024-01-01")
    with pytest.raises(KpiOptionError, match="not a date"):
        summary(duckdb_shop, start="last tuesday")


def test_metric_registry_is_complete_and_documented():
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(\w+)`", text, flags=re.MULTILINE))
    assert documented == set(METRICS)
    for name, metric in METRICS.items():
        assert metric.name == name
        assert metric.unit in ("currency", "count", "number", "ratio")
        assert metric.label_en and metric.label_zh and metric.formula and metric.doc
    assert METRICS["aov"].label_zh == "客单价"
    assert METRICS["repurchase_rate"].label_zh == "复购率"
    with pytest.raises(TypeError):
        METRICS["gmv"] = METRICS["orders"]  # type: ignore[index]


# -- engines agree -------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.parametrize(
    ("grain", "by"),
    [(g, None) for g in GRAINS] + [("month", b) for b in BREAKDOWNS],
)
def test_spark_and_duckdb_agree(duckdb_shop, pyspark_shop, grain, by):
    expected = _kpis(duckdb_shop, grain=grain, by=by).data
    actual = _kpis(pyspark_shop, grain=grain, by=by).data
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_dates_out_of_range_are_option_errors(duckdb_shop):
    # Found by schemathesis: start=0001-01-01 made the year-ago arithmetic overflow.
    with pytest.raises(KpiOptionError, match="out of range"):
        kpis(duckdb_shop, start="0001-01-01")
    with pytest.raises(KpiOptionError, match="out of range"):
        summary(duckdb_shop, end="9999-12-31")
