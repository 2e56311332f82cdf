"""Compiled-SQL snapshots of the funnel queries, one per planner strategy.

The funnels' speed depends on the shape of their SQL (which events are sorted, which joins
build on which side, which CTEs are stored: docs/funnels.md, bench/RESULTS.md), so each
strategy's DuckDB SQL, exactly as :func:`shopscope.store.execute.execute` sends it, is kept
under ``tests/snapshots/funnels/`` and compared here. A change in shape then shows in review
as a diff of those files.

The tests only compare. To rewrite the snapshots after an intended change::

    SHOPSCOPE_UPDATE_SNAPSHOTS=1 pytest tests/test_funnel_sql.py

and review ``git diff tests/snapshots/funnels``.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import pytest

from shopscope.behaviour.funnels import funnel_dropped, funnel_expr
from shopscope.schema.tables import get_table
from shopscope.store.execute import duckdb_sql

SNAPSHOTS = Path(__file__).parent / "snapshots" / "funnels"
UPDATE = os.environ.get("SHOPSCOPE_UPDATE_SNAPSHOTS") == "1"
VCP = ["view", "add_to_cart", "purchase"]


class Unbound:
    """Tables by schema only: the SQL does not depend on any data."""

    def table(self, name: str) -> ibis.Table:
        return ibis.table(get_table(name).ibis_schema(), name=name)


def sql_of(expr: ibis.Expr) -> str:
    # as execute() compiles it on DuckDB: scan-only CTEs inlined, stored ones materialized
    return duckdb_sql(expr) + "\n"


# name -> (steps, options); the name says which strategy the planner picks
CASES: dict[str, tuple[list[str], dict]] = {
    "user_sequential_start_join": (VCP, {"window": "24h"}),
    "order_sequential_start_join": (VCP, {"window": "24h", "mode": "order"}),
    "user_sequential_sorted_by_property": (VCP, {"by": "channel"}),
    "order_sequential_sorted_by_property": (VCP, {"mode": "order", "by": "channel"}),
    "user_sequential_sorted_repeated_type": (["view", "view", "purchase"], {}),
    "user_sequential_step_filter": (["view:category=toys", "add_to_cart", "purchase"], {}),
    "user_any": (VCP, {"order": "any"}),
    "order_any": (VCP, {"order": "any", "mode": "order"}),
    "user_same_product": (VCP, {"same_product": True}),
    "order_same_product": (VCP, {"same_product": True, "mode": "order"}),
    "user_any_same_product": (VCP, {"order": "any", "same_product": True}),
    "user_sequential_by_customer": (VCP, {"by": "customer.region"}),
    "user_sequential_four_steps": (["view", "add_to_cart", "checkout", "purchase"], {}),
}


def check(name: str, sql: str) -> None:
    path = SNAPSHOTS / f"{name}.sql"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path}; create it with SHOPSCOPE_UPDATE_SNAPSHOTS=1")
    # compared as text: a failure shows the diff of the shapes
    assert sql == path.read_text(), (
        f"the SQL of {name} changed shape; if intended, rewrite with "
        "SHOPSCOPE_UPDATE_SNAPSHOTS=1 and review the diff")


@pytest.mark.parametrize("name", sorted(CASES))
def test_funnel_sql_keeps_its_shape(name):
    steps, options = CASES[name]
    check(name, sql_of(funnel_expr(Unbound(), steps, **options)))


@pytest.mark.parametrize(("name", "options"), [
    ("dropped_user_sequential_start_join", {}),
    ("dropped_order_sequential_start_join", {"mode": "order"}),
])
def test_dropped_audience_sql_keeps_its_shape(name, options):
    check(name, sql_of(funnel_dropped(Unbound(), VCP, 2, **options)))


def test_every_snapshot_belongs_to_a_case():
    # a renamed case must not leave its old snapshot behind, unreviewed
    names = set(CASES) | {"dropped_user_sequential_start_join",
                          "dropped_order_sequential_start_join"}
    stored = {p.stem for p in SNAPSHOTS.glob("*.sql")}
    assert stored <= names, f"stale snapshots: {sorted(stored - names)}"


def test_snapshots_tell_strategies_apart():
    # the cases are not all the same query: the snapshot set would then prove nothing
    texts = {(SNAPSHOTS / f"{n}.sql").read_text() for n in CASES}
    assert len(texts) == len(CASES)
