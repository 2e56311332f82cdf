"""Customers: RFM scores and segments, lifecycle stages and windows, tags, the CLV models'
summary inputs and the audience profile, on both engines."""

from __future__ import annotations

import pytest

from shopscope import customers as c
from tests.conformance.compare import agree

pytestmark = pytest.mark.spark

#: Per shop: a day to look from, and a calibration end and observation end for the CLV
#: summary (the synthetic shop runs 2023-01-01 .. 07-19; the Online Retail slice covers
#: 2010-12 .. 2011-12).
DATES = {
    "synth": {"as_of": "2023-07-01", "months": ("2023-03-01", "2023-07-01"),
              "calibration": "2023-05-01", "observation": "2023-07-19"},
    "retail": {"as_of": "2011-10-01", "months": ("2011-03-01", "2011-10-01"),
               "calibration": "2011-06-30", "observation": "2011-12-09"},
}
SHOPS = list(DATES)


def _rfm(s, as_of, frequency="orders"):
    return c.rfm_scores(c.rfm_table(s, as_of, frequency=frequency))


QUESTIONS = {
    "rfm-scores": lambda s, d: _rfm(s, d["as_of"]),
    "rfm-days-window": lambda s, d: c.rfm_table(s, d["as_of"], frequency="days",
                                                window_days=120),
    "rfm-classic": lambda s, d: c.segment_summary(c.classic_segment(_rfm(s, d["as_of"])),
                                                  "classic"),
    "rfm-eleven": lambda s, d: c.segment_summary(c.eleven_segment(_rfm(s, d["as_of"])),
                                                 "eleven"),
    "rfm-eleven-per-customer": lambda s, d: c.eleven_segment(_rfm(s, d["as_of"])),
    "lifecycle-windows": lambda s, d: c.derive_windows(s, d["as_of"]),
    "lifecycle-stages": lambda s, d: c.stages_as_of(s, d["as_of"]),
    "lifecycle-monthly": lambda s, d: c.monthly_stages(s, *d["months"]),
    "lifecycle-transitions": lambda s, d: c.transition_matrix(s, *d["months"]),
    "lifecycle-rates": lambda s, d: c.reactivation_and_churn_rates(s, *d["months"]),
    "tags": lambda s, d: c.customer_tags(s, d["as_of"]),
    "clv-summary-days": lambda s, d: c.customer_summary(s, d["calibration"],
                                                        d["observation"]),
    "clv-summary-weeks-gross": lambda s, d: c.customer_summary(
        s, d["calibration"], time_unit="W", monetary="gross"),
    "clv-summary-every-order": lambda s, d: c.customer_summary(
        s, d["calibration"], d["observation"], same_day_once=False),
    "audience-profile": lambda s, d: c.build_profile(s, d["as_of"]),
}


#: Known differences, found by this suite (strict: fixing one fails the run until the mark
#: goes).
GAPS = {
    ("synth", "clv-summary-every-order"): pytest.mark.xfail(
        strict=True, raises=AssertionError,
        reason="customer_summary(same_day_once=False) takes epoch_seconds(...).cast(int64): "
        "DuckDB rounds a timestamp's fraction of a second (EPOCH is a double), Spark's "
        "UNIX_TIMESTAMP truncates it, so recency and T differ by a second on sub-second "
        "order times"),
    ("retail", "clv-summary-every-order"): pytest.mark.xfail(
        strict=True, raises=AssertionError,
        reason="customer_summary(same_day_once=False) takes the first purchase's value with "
        "value.argmin(sec): with two orders in the same second (Online Retail invoices) the "
        "engines pick different ones, so monetary_value differs"),
}
CASES = [pytest.param(shop, q, id=f"{shop}-{q}", marks=GAPS.get((shop, q), ()))
         for shop in SHOPS for q in QUESTIONS]


@pytest.mark.parametrize(("shop", "question"), CASES)
def test_customers(request, shop, question):
    ask = QUESTIONS[question]
    agree(request.getfixturevalue(shop), lambda s: ask(s, DATES[shop]))
