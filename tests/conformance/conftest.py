"""The shops of the conformance suite, each loaded once per test run into DuckDB and Spark.

* ``synth``: a small synthetic shop (``shopscope.synth.generate``): customers, orders with
  lines and returns, tracked events with sessions, products, marketing, inventory.
* ``retail``: the bundled Online Retail slice (real orders: cancellations, guests, many
  countries), ingested with its preset on DuckDB.
* ``experiment``: a synthetic A/B test (``shopscope.synth.experiments``) with its orders.

Each shop is written to Parquet once and both engines read those same files, so any
difference in an answer comes from the query, not from the load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopscope.schema import TABLES, get_table
from shopscope.store import Store
from tests.conftest import open_store

#: Size of the synthetic shop: big enough that every breakdown, segment and funnel step has
#: rows, small enough that Spark answers each question in about a second.
SYNTH = {"customers": 250, "days": 200, "products": 40, "seed": 11, "start": "2023-01-01"}
SYNTH_EXPERIMENT = "synth-aa"
#: The synthetic experiment: window 2024-03-01 .. 03-21, 28 days of CUPED history.
EXPERIMENT = {"n_units": 600, "start": "2024-03-01", "days": 21, "pre_days": 28,
              "lift_rate": 0.15, "lift_spend": 0.05, "seed": 3, "experiment_id": "conform"}


@dataclass(frozen=True)
class Pair:
    """One shop on both engines."""

    duckdb: Store
    pyspark: Store


def _canonical(name: str, data: pa.Table) -> pa.Table:
    """``data`` with the canonical schema of table ``name`` (missing columns null)."""
    schema = get_table(name).ibis_schema().to_pyarrow()
    cols = [data[f.name].cast(f.type) if f.name in data.column_names
            else pa.nulls(len(data), f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _pair(folder: Path) -> Pair:
    """Both engines reading the canonical Parquet files in ``folder``."""
    stores = {}
    for engine in ("duckdb", "pyspark"):
        store = open_store(engine)
        for path in sorted(folder.glob("*.parquet")):
            store.backend.read_parquet(str(path), table_name=path.stem)
        stores[engine] = store
    return Pair(**stores)


@pytest.fixture(scope="session")
def synth(spark_session, tmp_path_factory) -> Pair:
    from shopscope.synth import generate

    raw = tmp_path_factory.mktemp("conform_synth_raw")
    generate(raw, **SYNTH)
    out = tmp_path_factory.mktemp("conform_synth")
    for name in TABLES:
        if (raw / f"{name}.parquet").exists():
            pq.write_table(_canonical(name, pq.read_table(raw / f"{name}.parquet")),
                           out / f"{name}.parquet")
    pq.write_table(_canonical("experiments", _synth_assignments(raw)),
                   out / "experiments.parquet")
    return _pair(out)


def _synth_assignments(raw: Path) -> pa.Table:
    """Experiment ``SYNTH_EXPERIMENT``: the synthetic shop's customers alternately in control
    and treatment, enrolled over the first two weeks of April 2023 (no effect: an A/A test
    whose analysis still has every metric, segment and daily row to compare)."""
    import datetime as dt

    ids = sorted(pq.read_table(raw / "customers.parquet", columns=["customer_id"])
                 .column("customer_id").to_pylist())
    first = dt.datetime(2023, 4, 1)
    return pa.table({
        "experiment_id": [SYNTH_EXPERIMENT] * len(ids),
        "unit_id": ids,
        "variant": ["control" if i % 2 == 0 else "treatment" for i in range(len(ids))],
        "assigned_at": [first + dt.timedelta(days=i % 14, hours=i % 24)
                        for i in range(len(ids))],
    })


@pytest.fixture(scope="session")
def retail(spark_session, tmp_path_factory) -> Pair:
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    sample = Path(__file__).resolve().parents[2] / "src" / "shopscope" / "samples"
    ws = Workspace.create(tmp_path_factory.mktemp("conform_retail_ws") / "ws")
    try:
        ingest_file(ws, sample / "online_retail_sample.csv.gz", preset="online_retail")
        out = tmp_path_factory.mktemp("conform_retail")
        for name in TABLES:
            if ws.store.has_table(name) and ws.store.row_count(name):
                pq.write_table(_canonical(name, ws.store.table(name).to_pyarrow()),
                               out / f"{name}.parquet")
    finally:
        ws.close()
    return _pair(out)


@pytest.fixture(scope="session")
def experiment(spark_session, tmp_path_factory):  # -> (Pair, SyntheticExperiment)
    from shopscope.synth.experiments import experiment_tables

    sim = experiment_tables(**EXPERIMENT)
    out = tmp_path_factory.mktemp("conform_experiment")
    for name in ("experiments", "orders", "customers"):
        frame = getattr(sim, name)
        pq.write_table(_canonical(name, pa.Table.from_pandas(frame, preserve_index=False)),
                       out / f"{name}.parquet")
    return _pair(out), sim
