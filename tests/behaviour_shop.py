"""Load hand-written event rows into a store on either engine (for behaviour tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shopscope.schema.tables import get_table
from tests.conftest import open_store


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(event_at, visitor, event_type, **extra)``-style tuples → canonical events.

    Each row is ``(timestamp string, user_id, event_type)`` or a dict with any canonical
    events columns; missing columns are null.
    """
    recs = []
    for r in rows:
        if isinstance(r, dict):
            recs.append(r)
        else:
            at, user, etype, *rest = r
            rec = {"event_at": at, "user_id": user, "event_type": etype}
            if rest:
                rec.update(rest[0])
            recs.append(rec)
    df = pd.DataFrame(recs)
    df["event_at"] = pd.to_datetime(df["event_at"])
    return df


def to_arrow(df: pd.DataFrame, name: str = "events") -> pa.Table:
    schema = get_table(name).ibis_schema().to_pyarrow()
    cols = {}
    for f in schema:
        if f.name in df.columns:
            cols[f.name] = pa.array(df[f.name].astype(object).where(df[f.name].notna(), None)
                                    .tolist(), type=f.type)
        else:
            cols[f.name] = pa.nulls(len(df), type=f.type)
    return pa.table(cols, schema=schema)


def load_tables(store, folder: Path, **frames: pd.DataFrame) -> None:
    """Make ``events=…, orders=…`` visible in ``store`` under those names (via Parquet,
    which keeps nulls as nulls on Spark too)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        path = folder / f"{name}.parquet"
        pq.write_table(to_arrow(df, name), path)
        store.backend.read_parquet(str(path), table_name=name)


def make_store(engine: str, folder: Path, **frames: pd.DataFrame):
    """A new store on ``engine`` (see ``tests.conftest.open_store``) holding ``frames``."""
    store = open_store(engine)
    load_tables(store, folder, **frames)
    return store
