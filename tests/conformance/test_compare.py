"""The comparison the conformance suite relies on: what counts as the same answer (runs
without Spark)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd
import pytest

from tests.conformance.compare import assert_same, differences, plain


@dataclass(frozen=True)
class Result:
    name: str
    data: pd.DataFrame


def test_engine_noise_and_representations_are_the_same_answer():
    a = pd.DataFrame({"d": [pd.Timestamp("2024-01-01")], "n": [3], "x": [0.1 + 0.2],
                      "m": [float("nan")]})
    b = pd.DataFrame({"d": [dt.date(2024, 1, 1)], "n": [3.0], "x": [0.3], "m": [None]})
    assert_same(Result("r", a), Result("r", b))
    assert_same({"when": pd.Timestamp("2024-01-01", tz="UTC")}, {"when": dt.datetime(2024, 1, 1)})


def test_a_different_value_is_named_by_row_and_column():
    a = pd.DataFrame({"k": ["a", "b"], "v": [1.0, 2.0]})
    b = pd.DataFrame({"k": ["a", "b"], "v": [1.0, 2.001]})
    assert differences(plain(a), plain(b)) == ["answer row 1 [v]: DuckDB 2.0, Spark 2.001"]
    with pytest.raises(AssertionError, match=r"row 1 \[v\]: DuckDB 2.0, Spark 2.001"):
        assert_same(Result("r", a), Result("r", b))
    # a missing value is not zero, and rows keep their order in a frame
    assert differences(plain({"x": None}), plain({"x": 0.0})) == [
        "answer.x: DuckDB None, Spark 0.0"]
    assert differences(plain(a), plain(a.iloc[::-1]))


def test_an_ibis_table_has_no_row_order_but_its_rows_count():
    t = ibis.memtable({"k": ["b", "a", None], "v": [2, 1, 3]})
    same = ibis.memtable({"k": [None, "a", "b"], "v": [3, 1, 2]})
    assert_same(t, same)
    fewer = ibis.memtable({"k": ["a", "b"], "v": [1, 2]})
    assert differences(plain(t), plain(fewer))[0] == "answer: 3 rows on DuckDB, 2 on Spark"
