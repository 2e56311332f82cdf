"""The CLV holdout chart names its bins with plurals from the catalogue, in both languages:
"1 repeat purchase", "2 repeat purchases", "3 or more repeat purchases" (issue 13)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from shopscope.customers.pages import holdout_chart
from shopscope.ui.i18n import Translator


def _report() -> SimpleNamespace:
    rows = [SimpleNamespace(frequency=k, label=label, customers=10, actual=0.5, predicted=0.4)
            for k, label in ((0, "0"), (1, "1"), (2, "2"), (3, "3+"))]
    holdout = SimpleNamespace(rows=rows, observation_end=dt.date(2024, 6, 30))
    return SimpleNamespace(holdout=holdout, calibration_end=dt.date(2024, 3, 31))


def _bins(lang: str) -> list[str]:
    figure = holdout_chart(Translator(lang, "GB"), _report()).figure
    return [h.split("</b>")[0].removeprefix("<b>") for h in figure["data"][0]["customdata"]]


@pytest.mark.parametrize("lang, expected", [
    ("en", ["0 repeat purchases", "1 repeat purchase", "2 repeat purchases",
            "3 or more repeat purchases"]),
    ("zh", ["复购 0 次", "复购 1 次", "复购 2 次", "复购 3 次及以上"]),
])
def test_holdout_bins_read_right(lang, expected):
    assert _bins(lang) == expected
