"""The ingest side of assignment logs (the ``experiments`` table): a unit logged more than
once, or already assigned by an earlier load, is a key problem whose kept row is the unit's
earliest exposure; the repeated rows go to ``_rejects`` whole (the row as JSON) so the
experiments area can still see every arm a unit was logged in
(:mod:`shopscope.experiments.exposures` explains the analysis side)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

__all__ = ["REPEATED_REASON", "STORED_REASON", "has_table", "ingest_note",
           "repeated_assignment_check", "stored_assignments", "stored_repeat_check",
           "stored_repeat_note"]

#: The ``_rejects.reason`` of a repeated assignment row (its ``value`` is the row as JSON).
REPEATED_REASON = "unit assigned more than once (quarantine keeps its earliest exposure)"
#: The same for a unit an earlier load already assigned (another file of the same log).
STORED_REASON = ("unit already assigned by an earlier load (the analysis keeps its earliest "
                 "exposure)")
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


def stored_repeat_check(staged: ir.Table, store: Any) -> Any:
    """The loader's check for a unit that an earlier load already assigned: its rows in this
    load are flagged, with the whole row as the value, as a repeat within one file is, so
    that two loads of a log count exactly what one load of it would. (The loader's "key
    already stored" rule used to drop such a row without counting it.)"""
    from shopscope.ingest.validate import Check

    need = {"experiment_id", "unit_id", "variant"}
    if not need <= set(staged.columns) or not has_table(store, "experiments"):
        return None
    bad = _key(staged).isin(_key(stored_assignments(store)))
    return Check("experiment_id+unit_id", STORED_REASON, bad, _json_value(staged))


def stored_repeat_note(staged: ir.Table, check: Any, store: Any,
                       execute: Any) -> str | None:
    """One line for the ingest report: per experiment, the units of this load that an
    earlier load already assigned, and how many of them in another arm."""
    if check is None:
        return None
    again = staged.filter(check.bad.fill_null(False))
    other = ~_in_arm(again).isin(_in_arm(stored_assignments(store)))
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


def stored_assignments(store: Any) -> ir.Table:
    """The assignments as stored (unit ids, not people): what a load is checked against."""
    try:
        return store.table("experiments", raw=True)
    except TypeError:  # a plain TableSource has no people to resolve
        return store.table("experiments")


def has_table(store: Any, name: str) -> bool:
    if hasattr(store, "has_table"):
        return bool(store.has_table(name))
    try:
        store.table(name)
    except Exception:
        return False
    return True
