from __future__ import annotations

import pytest

from shopscope.errors import SchemaError, WorkspaceError
from shopscope.schema import TABLES, get_table
from shopscope.store import Workspace, connect


def test_every_table_has_its_keys_among_its_columns():
    for spec in TABLES.values():
        assert set(spec.primary_key) <= set(spec.names), spec.name
        if spec.time_column:
            assert spec.time_column in spec.names


def test_unknown_table_error_lists_known_tables():
    with pytest.raises(SchemaError, match="unknown table 'order'") as info:
        get_table("order")
    assert "orders" in info.value.hint


def test_workspace_creates_empty_canonical_tables(tmp_path):
    ws = Workspace.create(tmp_path / "w", timezone="Europe/London")
    assert set(TABLES) <= set(ws.store.list_tables())
    assert ws.store.row_count("orders") == 0
    ws.close()
    again = Workspace.open(tmp_path / "w")
    assert again.settings.timezone == "Europe/London"
    again.close()


def test_opening_a_missing_workspace_says_how_to_create_one(tmp_path):
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(tmp_path / "nope")
    assert "shopscope init" in info.value.hint


def test_transaction_rolls_back_on_error():
    import ibis

    store = connect("duckdb://")
    store.ensure_tables(["products"])
    rows = ibis.memtable(
        {"product_id": ["a"], "sku": [None], "name": ["x"], "category": [None], "brand": [None],
         "price": [1.0], "cost": [None], "launched_at": [None]},
        schema=get_table("products").ibis_schema().to_pyarrow(),
    )
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("products", rows)
        assert store.row_count("products") == 1
        raise RuntimeError("boom")
    assert store.row_count("products") == 0


def test_duckdb_memory_limit_default_and_overrides(monkeypatch, tmp_path):
    """DuckDB gets 28% of the machine's memory unless the URL or the environment says
    otherwise (its own default, 80%, made a 100M-event funnel slower and 17 GB big)."""
    import os

    from shopscope.store import connect
    from shopscope.store.engine import DUCKDB_MEMORY_SHARE

    def limit(store) -> float:
        text = store.backend.con.execute(
            "SELECT current_setting('memory_limit')").fetchone()[0]
        value, unit = text.split()
        return float(value) * {"MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]

    monkeypatch.delenv("SHOPSCOPE_DUCKDB_MEMORY", raising=False)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert limit(connect("duckdb://")) == pytest.approx(
        max(2**30, DUCKDB_MEMORY_SHARE * total), rel=0.03)
    monkeypatch.setenv("SHOPSCOPE_DUCKDB_MEMORY", "2GB")
    assert limit(connect("duckdb://")) == pytest.approx(2e9, rel=0.06)  # shown to 0.1 GiB
    url = f"duckdb:///{tmp_path / 'x.duckdb'}?memory_limit=1GB"
    assert limit(connect(url)) == pytest.approx(1e9, rel=0.06)
