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
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.core.tables import TableSource

__all__ = ["REPEATED_REASON", "STORED_REASON", "all_exposures", "ingest_note",
           "repeated_assignment_check", "stored_repeat_check", "stored_repeat_note"]

#: The ``_rejects.reason`` of a repeated assignment row (its ``value`` is the row as JSON).
REPEATED_REASON = "unit assigned more than once (quarantine keeps its earliest exposure)"
#: The same for a unit an earlier load already assigned (another file of the same log).
STORED_REASON = ("unit already assigned by an earlier load (the analysis keeps its earliest "
                 "exposure)")
_REJECTS = "_rejects"  # shopscope.store.engine.REJECTS, not imported to keep this light
_ROW = "_row"  # shopscope.ingest.readers.ROW: the file row number, when the reader adds it
_COLUMNS = ("experiment_id", "unit_id", "variant", "assigned_at")


def _json_value(staged: ir.Table) -> ir.StringValue:
    """The row as a JSON object (built in the engine: ids may hold any character)."""
    def quoted(col: str) -> ir.StringValue:
        text = staged[col].cast("string")
        text = text.replace("\\", "\\\\").replace('"', '\\"')
        return ibis.ifelse(staged[col].isnull(), ibis.literal("null"),
                           ibis.literal('"').concat(text, ibis.literal('"')))

    parts = [ibis.literal("{")]
    for i, col in enumerate(c for c in _COLUMNS if c in staged.columns):
        parts += [ibis.literal(f'{", " if i else ""}"{col}": '), quoted(col)]
    parts.append(ibis.literal("}"))
    return ibis.literal("").concat(*parts)


def repeated_assignment_check(staged: ir.Table) -> Any:
    """The loader's key check for ``experiments``: every row after a unit's earliest
    exposure (``assigned_at``, nulls last, then file order) is flagged, with the whole row
    as its value."""
    from shopscope.ingest.validate import Check

    if not {"experiment_id", "unit_id"} <= set(staged.columns):
        return None
    order = []
    if "assigned_at" in staged.columns:
        order += [staged.assigned_at.isnull(), staged.assigned_at]
    order.append(staged[_ROW] if _ROW in staged.columns else ibis.literal(0))
    if "variant" in staged.columns:
        order.append(staged.variant)
    rank = ibis.row_number().over(group_by=[staged.experiment_id, staged.unit_id],
                                  order_by=order)
    return Check("experiment_id+unit_id", REPEATED_REASON, rank > 0, _json_value(staged))


def _key(t: ir.Table) -> ir.StringValue:
    return t.experiment_id.cast("string") + "\x1f" + t.unit_id.cast("string")


def _in_arm(t: ir.Table) -> ir.StringValue:
    return _key(t) + "\x1f" + t.variant.cast("string").fill_null("")


def stored_repeat_check(staged: ir.Table, store: TableSource) -> Any:
    """The loader's check for a unit that an earlier load already assigned: its rows in this
    load are flagged, with the whole row as the value, as a repeat within one file is, so
    that two loads of a log count exactly what one load of it would. (The loader's "key
    already stored" rule used to drop such a row without counting it.)"""
    from shopscope.ingest.validate import Check

    need = {"experiment_id", "unit_id", "variant"}
    if not need <= set(staged.columns) or not _has_table(store, "experiments"):
        return None
    bad = _key(staged).isin(_key(_stored(store)))
    return Check("experiment_id+unit_id", STORED_REASON, bad, _json_value(staged))


def stored_repeat_note(staged: ir.Table, check: Any, store: TableSource,
                       execute: Any) -> str | None:
    """One line for the ingest report: per experiment, the units of this load that an
    earlier load already assigned, and how many of them in another arm."""
    if check is None:
        return None
    again = staged.filter(check.bad.fill_null(False))
    other = ~_in_arm(again).isin(_in_arm(_stored(store)))
    per_exp = again.group_by("experiment_id").aggregate(
        units=again.unit_id.nunique(), rows=again.count(),
        moved=again.unit_id.nunique(where=other))
    frame = execute(per_exp.order_by("experiment_id"))
    if frame.empty:
        return None
    parts = [f"{r.experiment_id!s}: {int(r.units):,} unit(s) in {int(r.rows):,} row(s), "
             f"{int(r.moved):,} of them in another arm" for r in frame.itertuples()]
    return ("experiments: units already assigned by an earlier load (" + "; ".join(parts)
            + "); their rows here go to _rejects under quarantine, and `experiment analyze` "
            "counts them with the repeated exposures (earliest exposure kept; units in more "
            "than one arm follow the multi_arm policy)")


def ingest_note(staged: ir.Table, execute: Any) -> str | None:
    """One line for the ingest report: units logged in more than one arm and repeated rows,
    per experiment (None when the log has neither)."""
    if not {"experiment_id", "unit_id", "variant"} <= set(staged.columns):
        return None
    per_unit = staged.group_by("experiment_id", "unit_id").aggregate(
        rows=staged.count(), arms=staged.variant.nunique())
    per_exp = per_unit.group_by("experiment_id").aggregate(
        repeated=(per_unit.rows - 1).sum(), multi=(per_unit.arms > 1).sum())
    frame = execute(per_exp.filter(per_exp.repeated > 0).order_by("experiment_id"))
    if frame.empty:
        return None
    parts = [f"{r.experiment_id!s}: {int(r.multi):,} unit(s) in more than one arm, "
             f"{int(r.repeated):,} repeated row(s)" for r in frame.itertuples()]
    return ("experiments: repeated assignments (" + "; ".join(parts) + "); the earliest "
            "exposure of each unit is kept, the other rows go to _rejects, and `experiment "
            "analyze` excludes units in more than one arm (multi_arm policy)")


def _stored(store: TableSource) -> ir.Table:
    """The assignments as stored (unit ids, not people): what a load is checked against."""
    try:
        return store.table("experiments", raw=True)  # type: ignore[call-arg]
    except TypeError:  # a plain TableSource has no people to resolve
        return store.table("experiments")


def _has_table(store: TableSource, name: str) -> bool:
    if hasattr(store, "has_table"):
        return bool(store.has_table(name))
    try:
        store.table(name)
    except Exception:
        return False
    return True


def set_aside(store: TableSource, experiment_id: str) -> pd.DataFrame:
    """The repeated assignment rows of one experiment that ingest set aside in ``_rejects``
    (``experiment_id, unit_id, variant, assigned_at``). They are the anomalies of a log,
    a small share of it, so they are parsed here rather than in the engine."""
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in _COLUMNS})
    if not _has_table(store, _REJECTS):
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
