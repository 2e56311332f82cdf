"""The same ingestion on DuckDB and on PySpark local gives the same tables and KPIs."""

from __future__ import annotations

import gzip

import pytest

from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.kpis import summary
from shopscope.store import Workspace

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def slice_file(tmp_path_factory):
    """The first 6,000 lines of the bundled Online Retail slice."""
    path = tmp_path_factory.mktemp("slice") / "retail_head.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        lines = [next(src) for _ in range(6_001)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_online_retail_ingest_agrees_on_duckdb_and_spark(tmp_path, slice_file, spark_session):
    duck = Workspace.create(tmp_path / "duck")
    spark = Workspace.create(tmp_path / "spark", engine_url="pyspark://local[2]")
    try:
        r_duck = ingest_file(duck, slice_file, preset="online_retail")
        r_spark = ingest_file(spark, slice_file, preset="online_retail")
        assert r_spark.rows_added == r_duck.rows_added
        assert r_duck.rows_added["customers"] > 10
        expected, actual = summary(duck.store), summary(spark.store)
        for name, value in expected.items():
            if value is None:
                assert actual[name] is None, name
            else:
                assert actual[name] == pytest.approx(value, rel=1e-9), name
        ids = sorted(spark.store.table("customers").customer_id.execute())
        assert ids == sorted(duck.store.table("customers").customer_id.execute())
        assert all("." not in i for i in ids)
    finally:
        duck.close()
        spark.close()
