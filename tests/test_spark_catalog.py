"""A Spark workspace's catalog (shopscope.store.catalog): tables outlive the process,
commits are all or nothing, one writer at a time, readers follow commits.

Two ``Workspace`` objects on one folder stand for two processes: each has its own Spark
session, so it sees only what the catalog file says (the CLI test, test_spark_cli.py,
runs real separate processes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import ibis
import pytest

from shopscope.errors import UnsupportedOnEngine
from shopscope.store import Workspace
from shopscope.store import catalog as catalog_mod
from shopscope.store.engine import StoreInUse

SPARK = "pyspark://local[2]"


def must_run_spark() -> bool:
    """CI installs the spark extra (.ci/run sets SHOPSCOPE_TEST_EXTRAS): there a missing
    pyspark or Java is a failure, not a skip."""
    return bool(os.environ.get("CI")) or "spark" in os.environ.get("SHOPSCOPE_TEST_EXTRAS", "")


@pytest.fixture
def spark_ws(tmp_path):
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        if must_run_spark():
            pytest.fail("CI installs the spark extra, but pyspark or java is missing")
        pytest.skip("pyspark or java not available")
    Workspace.create(tmp_path / "ws", engine_url=SPARK).close()
    opened: list[Workspace] = []

    def open_ws() -> Workspace:
        opened.append(Workspace.open(tmp_path / "ws"))
        return opened[-1]

    yield open_ws
    for ws in opened:
        ws.close()


def _customers(*ids: str) -> ibis.Table:
    return ibis.memtable({"customer_id": list(ids), "country": ["UK"] * len(ids)})


def _ids(ws: Workspace) -> list[str]:
    return sorted(ws.store.table("customers").customer_id.execute())


def _manifest(ws: Workspace) -> dict:
    return json.loads((ws.path / "tables" / "catalog.json").read_text(encoding="utf-8"))


def test_init_declares_the_tables_without_starting_spark(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_mod, "ParquetCatalog", None)  # connecting would fail
    ws = Workspace.create(tmp_path / "big", engine_url=SPARK)
    tables = json.loads((ws.path / "tables" / "catalog.json").read_text())["tables"]
    assert {"orders", "events", "experiments", "_ingest_log"} <= set(tables)
    assert all(t["parts"] == [] for t in tables.values())
    assert "`order_id` STRING" in tables["orders"]["schema"]


def test_init_without_pyspark_says_what_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(UnsupportedOnEngine, match="pyspark is not installed"):
        Workspace.create(tmp_path / "big", engine_url=SPARK)
    assert not (tmp_path / "big" / "shopscope.toml").exists()  # no half-made workspace


@pytest.mark.spark
def test_a_commit_is_seen_by_another_process_and_a_failed_one_by_none(spark_ws):
    writer, reader = spark_ws(), spark_ws()
    assert _ids(reader) == []
    writer.store.insert("customers", _customers("a", "b"))
    assert _ids(reader) == ["a", "b"]  # the reader follows the new catalog
    version = reader.store.data_version()

    before = _manifest(writer)
    with pytest.raises(KeyboardInterrupt), writer.store.transaction():
        writer.store.insert("customers", _customers("c"))
        assert _ids(writer) == ["a", "b", "c"]  # the writer sees its own load
        assert _ids(reader) == ["a", "b"]  # nobody else does yet
        raise KeyboardInterrupt
    assert _manifest(writer) == before
    assert _ids(writer) == ["a", "b"] and _ids(reader) == ["a", "b"]
    # the interrupted load's folder is gone
    assert len(list((writer.path / "tables" / "customers").iterdir())) == 1
    assert reader.store.data_version() == version


@pytest.mark.spark
def test_a_load_killed_before_its_commit_leaves_the_old_tables(spark_ws, monkeypatch):
    ws = spark_ws()
    ws.store.insert("customers", _customers("a"))

    def killed(*_a, **_k):
        raise SystemExit(137)  # the process dies between writing and naming the data

    monkeypatch.setattr(catalog_mod, "write_manifest", killed)
    with pytest.raises(SystemExit):
        ws.store.insert("customers", _customers("b"))
    monkeypatch.undo()
    later = spark_ws()
    assert _ids(later) == ["a"]
    # an orphan folder (a load killed with -9 leaves one) goes once it is old enough
    orphan = later.path / "tables" / "customers" / "20200101T000000-dead"
    orphan.mkdir()
    monkeypatch.setattr(catalog_mod, "GRACE_SECONDS", 0.0)
    later.store.insert("customers", _customers("c"))
    assert not orphan.exists()
    assert _ids(spark_ws()) == ["a", "c"]


@pytest.mark.spark
def test_one_writer_at_a_time(spark_ws):
    first, second = spark_ws(), spark_ws()
    with first.store.transaction():
        first.store.insert("customers", _customers("a"))
        with pytest.raises(StoreInUse, match=f"pid {os.getpid()}.*writing"):
            second.store.insert("customers", _customers("b"))
    second.store.insert("customers", _customers("b"))  # free again
    assert _ids(first) == ["a", "b"]


@pytest.mark.spark
def test_many_small_loads_are_folded_into_one_folder(spark_ws, monkeypatch):
    monkeypatch.setattr(catalog_mod, "MAX_PARTS", 2)
    ws = spark_ws()
    for i in range(4):
        ws.store.insert("customers", _customers(f"c{i}"))
    parts = _manifest(ws)["tables"]["customers"]["parts"]
    assert len(parts) <= 2
    assert _ids(ws) == ["c0", "c1", "c2", "c3"]
    assert _ids(spark_ws()) == ["c0", "c1", "c2", "c3"]
