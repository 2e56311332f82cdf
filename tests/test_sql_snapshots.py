"""Compiled-SQL snapshots of the retention and paths queries (see tests/sql_snapshots.py;
rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1), and the snapshot check itself."""

from __future__ import annotations

import pytest

from shopscope.behaviour.common import Step
from shopscope.behaviour.paths import PathOptions, parse_gap, path_counts, sessionize
from shopscope.behaviour.retention import cohort_expr, retention_expr
from tests.sql_snapshots import SNAPSHOTS, UPDATE_ENV, CanonicalTables, check_snapshot


@pytest.fixture(autouse=True)
def _no_data_span(monkeypatch):
    # The period bound asks the data for its first and last day, which unbound tables
    # cannot answer; it only checks (clamp=False) and does not shape the SQL.
    import sys

    module = sys.modules["shopscope.behaviour.retention"]  # the package exports a function
    monkeypatch.setattr(module, "data_span", lambda *a, **k: None)  # of the same name

T = CanonicalTables()


def _paths(**kw) -> PathOptions:
    base = {"start": None, "end": None, "length": 5, "top": 20, "exclude": (),
            "collapse_repeats": True, "gap_seconds": parse_gap("30m"), "start_date": None,
            "end_date": None}
    return PathOptions(**(base | kw))


RETENTION = {
    "day_exact": ("retention_expr(periods=30)", lambda: retention_expr(T, periods=30)),
    "week_unbounded_by_channel": (
        "retention_expr(grain='week', periods=8, mode='unbounded', by='channel')",
        lambda: retention_expr(T, grain="week", periods=8, mode="unbounded", by="channel")),
    "view_to_purchase_month_range": (
        ("retention_expr(start_event='view', return_event='purchase', grain='month', "
         "periods=6, start='2024-01-01', end='2024-06-30')"),
        lambda: retention_expr(T, start_event="view", return_event="purchase", grain="month",
                               periods=6, start="2024-01-01", end="2024-06-30")),
    "repurchase_cohorts_month": ("cohort_expr(grain='month', periods=12)",
                                 lambda: cohort_expr(T, grain="month", periods=12)),
}

PATHS = {
    "sessions": ("sessionize(gap='30m')", lambda: sessionize(T)),
    "from_view": ("path_counts(start='view', length=5)",
                  lambda: path_counts(T, _paths(start=Step.parse("view")))),
    "to_purchase_without_search": (
        "path_counts(end='purchase', length=3, exclude=('search',))",
        lambda: path_counts(T, _paths(end=Step.parse("purchase"), length=3,
                                      exclude=("search",)))),
    "between_cart_and_purchase": (
        "path_counts(start='add_to_cart', end='purchase', length=4)",
        lambda: path_counts(T, _paths(start=Step.parse("add_to_cart"),
                                      end=Step.parse("purchase"), length=4))),
}


@pytest.mark.parametrize("name", list(RETENTION))
def test_retention_sql(name):
    what, build = RETENTION[name]
    check_snapshot(SNAPSHOTS / "retention" / f"{name}.sql", build(), what)


@pytest.mark.parametrize("name", list(PATHS))
def test_paths_sql(name):
    what, build = PATHS[name]
    check_snapshot(SNAPSHOTS / "paths" / f"{name}.sql", build(), what)


# -- the check itself -----------------------------------------------------------------------
def test_a_changed_query_fails_with_a_diff_and_the_env_var_rewrites(tmp_path, monkeypatch):
    path = tmp_path / "retention" / "x.sql"
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match=f"no SQL snapshot .*{UPDATE_ENV}=1"):
        check_snapshot(path, retention_expr(T, periods=30), "day retention")

    monkeypatch.setenv(UPDATE_ENV, "1")
    check_snapshot(path, retention_expr(T, periods=30), "day retention")
    text = path.read_text()
    assert text.startswith("-- day retention\n-- compiled by ibis ")
    assert "FROM \"events\"" in text

    monkeypatch.delenv(UPDATE_ENV)
    check_snapshot(path, retention_expr(T, periods=30), "day retention")  # unchanged: passes
    with pytest.raises(pytest.fail.Exception) as info:
        check_snapshot(path, retention_expr(T, periods=7), "day retention")
    message = str(info.value)
    assert "x.sql (stored)" in message and "x.sql (compiled now)" in message
    # 30 periods keep n <= 30 and cap at 31; 7 keep n <= 7 and cap at 8
    assert "-    LEAST(\"t3\".\"i\" - \"t3\".\"c\", 31) AS \"n\"," in message
    assert "+    LEAST(\"t3\".\"i\" - \"t3\".\"c\", 8) AS \"n\"," in message
    assert f"rewrite with {UPDATE_ENV}=1" in message
