"""Assignment logs as they come from real tests: a unit logged more than once, sometimes in
more than one arm.

The canonical ``experiments`` table holds one row per ``(experiment_id, unit_id)``. A raw
exposure log does not: a unit that reloads the page is logged again, and a unit that a broken
bucketing (or a cleared cookie) sends to the other arm is logged in both. Two things follow.

* **At ingest** (:func:`repeated_assignment_check`, used by the loader for the
  ``experiments`` table): a repeated ``(experiment_id, unit_id)`` is a problem like any key
  duplicate (nothing loads under ``--policy reject``), but the row kept under ``quarantine``
  is the unit's *earliest exposure* (by ``assigned_at``, then file order), not the first row
  in file order, and each repeated row is set aside in ``_rejects`` whole (its value is the
  row as JSON), so the analysis can still see every arm the unit was logged in.
* **At analysis** (:func:`all_exposures`): the stored rows plus the repeated rows set aside
  at ingest; :func:`shopscope.experiments.analysis.assignments` then applies the
  definition's ``multi_arm`` policy and reports the counts.
"""

from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.core.tables import TableSource
from shopscope.ingest.exposures import (
    REPEATED_REASON,
    STORED_REASON,
    has_table,
    ingest_note,
    repeated_assignment_check,
    stored_repeat_check,
    stored_repeat_note,
)

__all__ = ["REPEATED_REASON", "STORED_REASON", "all_exposures", "ingest_note",
           "repeated_assignment_check", "stored_repeat_check", "stored_repeat_note"]

_REJECTS = "_rejects"  # shopscope.store.engine.REJECTS, not imported to keep this light
_COLUMNS = ("experiment_id", "unit_id", "variant", "assigned_at")


def set_aside(store: TableSource, experiment_id: str) -> pd.DataFrame:
    """The repeated assignment rows of one experiment that ingest set aside in ``_rejects``
    (``experiment_id, unit_id, variant, assigned_at``). They are the anomalies of a log,
    a small share of it, so they are parsed here rather than in the engine."""
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in _COLUMNS})
    if not has_table(store, _REJECTS):
        return empty
    r = store.table(_REJECTS)
    prefix = json.dumps({"experiment_id": experiment_id})[:-1]  # '{"experiment_id": "x"'
    r = r.filter((r.table_name == "experiments")
                 & r.reason.isin([REPEATED_REASON, STORED_REASON])
                 & r.value.startswith(prefix + ","))
    values = r.select("value").distinct().execute()["value"]
    rows = []
    for text in values:
        try:
            rec = json.loads(text, strict=False)  # ids may hold control characters
        except (TypeError, ValueError):
            continue
        if rec.get("experiment_id") == experiment_id and rec.get("unit_id") is not None:
            rows.append({c: rec.get(c) for c in _COLUMNS})
    return pd.DataFrame(rows, columns=list(_COLUMNS)) if rows else empty


def all_exposures(store: TableSource, experiment_id: str) -> tuple[ir.Table, int]:
    """Every logged assignment of one experiment: the stored rows plus those set aside at
    ingest as repeated, as ``unit_id, variant, assigned_at`` (strings, timestamp); and how
    many came from ``_rejects``."""
    e = store.table("experiments")
    e = e.filter(e.experiment_id == experiment_id)
    e = e.select(unit_id=e.unit_id.cast("string"), variant=e.variant.cast("string"),
                 assigned_at=e.assigned_at.cast("timestamp"))
    extra = set_aside(store, experiment_id)
    if extra.empty:
        return e, 0
    frame = pd.DataFrame({
        "unit_id": extra.unit_id.astype(str), "variant": extra.variant.astype("string"),
        "assigned_at": pd.to_datetime(extra.assigned_at, errors="coerce")})
    mem = ibis.memtable(frame, schema={"unit_id": "string", "variant": "string",
                                       "assigned_at": "timestamp"})
    return e.union(mem, distinct=False), len(frame)
