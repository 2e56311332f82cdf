"""Behaviour: funnels, paths, retention and trends on the synthetic shop's events (and on
the Online Retail orders seen as purchase events), on both engines."""

from __future__ import annotations

import pytest

from shopscope import behaviour as b
from tests.conformance.compare import agree

pytestmark = pytest.mark.spark

FOUR = ["view", "add_to_cart", "checkout", "purchase"]
THREE = ["view", "add_to_cart", "purchase"]


def _session_sizes(s):
    t = b.sessionize(s)
    return t.group_by("session").agg(n=t.count()).n.value_counts()


QUESTIONS = {
    # funnels
    "funnel-sequential": lambda s: b.funnel(s, FOUR),
    "funnel-any-order": lambda s: b.funnel(s, THREE, order="any", window="2h"),
    "funnel-by-channel": lambda s: b.funnel(s, THREE, window="30m", by="channel"),
    "funnel-by-customer-region": lambda s: b.funnel(s, THREE, by="customer.region",
                                                   start="2023-02-01", end="2023-05-31"),
    "funnel-orders-same-product": lambda s: b.funnel(s, THREE, mode="order",
                                                    same_product=True, by="category"),
    "funnel-trend-week": lambda s: b.funnel_trend(s, THREE, grain="week"),
    "funnel-dropped": lambda s: b.funnel_dropped(s, THREE, 2),
    # paths
    "paths-from-view": lambda s: b.paths(s, start="view", length=4),
    "paths-to-purchase": lambda s: b.paths(s, end="purchase", length=3, exclude=["search"]),
    "paths-raw-short-gap": lambda s: b.paths(s, collapse_repeats=False, gap="10m",
                                             start_date="2023-03-01", end_date="2023-04-30"),
    "sessions": _session_sizes,
    # retention
    "retention-day": lambda s: b.retention(s, periods=14),
    "retention-week-unbounded": lambda s: b.retention(s, grain="week", periods=8,
                                                      mode="unbounded"),
    "retention-view-to-purchase-by-channel": lambda s: b.retention(
        s, start_event="view", return_event="purchase", grain="month", periods=4,
        by="channel"),
    "repurchase-cohorts": lambda s: b.repurchase_cohorts(s, periods=6),
    "repurchase-cohorts-week-range": lambda s: b.repurchase_cohorts(
        s, grain="week", periods=6, start="2023-02-01", end="2023-04-30"),
    # trends
    "trends-every-metric": lambda s: b.trends(s, metrics=list(b.TREND_METRICS)),
    "trends-week-by-channel": lambda s: b.trends(s, grain="week", by="channel"),
    "trends-month-purchases-by-customer-country": lambda s: b.trends(
        s, grain="month", event="purchase", by="customer.country"),
    "trends-compare": lambda s: b.trends(s, start="2023-03-01", end="2023-03-14",
                                         compare=("2023-02-01", "2023-02-14")),
}

#: On orders (no tracking): what the dashboard shows for Online Retail.
ORDER_QUESTIONS = {
    "funnel-purchase-purchase": lambda s: b.funnel(s, ["purchase", "purchase"], window="90d"),
    "retention-month": lambda s: b.retention(s, grain="month", periods=6),
    "trends-week": lambda s: b.trends(s, grain="week", metrics=["pv", "uv", "wau"]),
    "paths": lambda s: b.paths(s, length=3),
}


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_synthetic_events(synth, question):
    agree(synth, QUESTIONS[question])


@pytest.mark.parametrize("question", list(ORDER_QUESTIONS))
def test_online_retail_orders_as_events(retail, question):
    agree(retail, lambda s: ORDER_QUESTIONS[question](b.OrderEvents(s)))
