"""Validate batches and write them to the store: all or nothing, and never twice.

* Atomic: every table of an ingestion is written in one transaction; an error or Ctrl-C
  rolls all of it back.
* Idempotent: rows whose key is already stored are skipped (keyed tables), events already
  stored are skipped by their natural key, and a file whose fingerprint is in the ingest
  log is not read again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import ibis.expr.types as ir

from shopscope.errors import ValidationFailed
from shopscope.ingest.validate import (
    Check,
    Policy,
    TableReport,
    ValidationReport,
    duplicate_key_check,
    problems_expr,
    reference_check,
    run_checks,
    schema_checks,
)
from shopscope.schema import get_table
from shopscope.store import Store
from shopscope.store.engine import INGEST_LOG, REJECTS

Progress = Callable[[str, int, int], None]
# Parents first, so that references can be checked against what this load adds.
LOAD_ORDER = (
    "customers", "identities", "products", "orders", "order_items", "returns", "events",
    "marketing_spend", "inventory", "experiments",
)
# Events have no key; these columns identify one (null-safe) when deduplicating reloads.
EVENT_IDENTITY = ("event_at", "user_id", "anonymous_id", "session_id", "event_type", "product_id")


@dataclass
class Batch:
    """Rows bound for one canonical table, with the checks they must pass.

    ``staged`` has the canonical columns (missing ones are filled with nulls), optionally
    ``_row`` and ``__raw_<column>`` text for error reports. ``derived`` marks tables whose
    values are consistent by construction; only key, reference and extra rules run on them.
    ``rows``, when given, is what is loaded instead of the good staged rows: a table derived
    from source rows that were checked as ``staged``.
    """

    table: str
    staged: ir.Table
    extra_checks: list[Check] = field(default_factory=list)
    derived: bool = False
    reference_checks: bool = True
    rows: ir.Table | None = None


@dataclass
class LoadResult:
    """What one ingestion did, per table."""

    source: str
    report: ValidationReport
    rows_added: dict[str, int] = field(default_factory=dict)
    rows_rejected: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    #: things the user should act on although the load succeeded (mixed currencies)
    warnings: list[str] = field(default_factory=list)


def canonical_select(staged: ir.Table, table: str) -> ir.Table:
    """The canonical columns, in order and type; absent ones become nulls."""
    spec = get_table(table)
    cols = {}
    for col in spec.columns:
        if col.name in staged.columns:
            cols[col.name] = staged[col.name].cast(col.dtype)
        else:
            cols[col.name] = ibis.null(col.dtype)
    return staged.select(**cols)


def _refs(batch: Batch, batches: dict[str, Batch], store: Store) -> list[Check]:
    checks = []
    spec = get_table(batch.table)
    for col in spec.columns:
        if not col.references or col.name not in batch.staged.columns:
            continue
        ref_table, ref_col = col.references.split(".")
        dtype = get_table(ref_table).column(ref_col).dtype
        existing = store.table(ref_table, raw=True)
        known = existing.select(existing[ref_col].cast(dtype).name(ref_col))
        if ref_table in batches:
            adding = batches[ref_table].staged
            adding = adding.select(adding[ref_col].cast(dtype).name(ref_col))
            known = ibis.union(known, adding, distinct=True)
        checks.append(reference_check(batch.staged, col.name, known, ref_col, col.references))
    return checks


def validate_batches(
    store: Store, batches: Sequence[Batch], source: str, progress: Progress | None = None
) -> tuple[ValidationReport, dict[str, ir.BooleanValue | None]]:
    report = ValidationReport(source)
    bad: dict[str, ir.BooleanValue | None] = {}
    by_table = {b.table: b for b in batches}
    execute = store.backend.execute
    for i, batch in enumerate(batches):
        if progress:
            progress(f"validating {batch.table}", i, len(batches))
        spec = get_table(batch.table)
        checks = [] if batch.derived else schema_checks(batch.staged, spec)
        checks += batch.extra_checks
        if batch.table == "experiments":  # exposure logs repeat units: keep the earliest
            from shopscope.experiments.exposures import (
                ingest_note,
                repeated_assignment_check,
                stored_repeat_check,
                stored_repeat_note,
            )

            dup = repeated_assignment_check(batch.staged)
            note = ingest_note(batch.staged, execute)
            if note:
                report.notes.append(note)
            # a unit an earlier load assigned: flagged and counted, not silently skipped
            again = stored_repeat_check(batch.staged, store)
            note = stored_repeat_note(batch.staged, again, store, execute)
            if note:
                report.notes.append(note)
                checks.append(again)
        else:
            dup = duplicate_key_check(batch.staged, spec.primary_key)
        if dup is not None:
            checks.append(dup)
        if batch.reference_checks:
            checks += _refs(batch, by_table, store)
        table_report, any_bad = run_checks(
            batch.staged, checks, table=batch.table, source=source, execute=execute
        )
        report.tables[batch.table] = table_report
        bad[batch.table] = any_bad
        batch.extra_checks = checks  # kept for the rejects table
    return report, bad


def _new_rows(store: Store, table: str, rows: ir.Table) -> ir.Table:
    spec = get_table(table)
    if store.row_count(table) == 0:
        return rows
    existing = store.table(table, raw=True)
    if spec.primary_key:
        # A nullable key part (marketing_spend.campaign_id) must match null to null.
        preds = [rows[k].identical_to(existing[k]) if spec.column(k).nullable
                 else rows[k] == existing[k] for k in spec.primary_key]
        return rows.anti_join(existing, preds)
    # No key (events): compare identity columns null-safely, only where times overlap.
    start = rows[spec.time_column].min()
    recent = existing.filter(existing[spec.time_column] >= start)
    preds = [
        rows[c].cast("string").fill_null("") == recent[c].cast("string").fill_null("")
        for c in EVENT_IDENTITY
        if c in rows.columns
    ]
    return rows.anti_join(recent, preds)


def currency_warning(store: Store, batches: Sequence[Batch], source: str,
                     currency: str | None) -> str | None:
    """A warning when the orders being loaded are in another currency than the workspace's
    or its orders': amounts are summed as they are, so GBP and USD would add up to
    nonsense. None when everything is in one currency."""
    orders = next((b for b in batches if b.table == "orders"), None)
    if orders is None:
        return None
    rows = orders.staged if orders.rows is None else orders.rows
    if "currency" not in rows.columns:
        return None
    new = {c for c in rows.select("currency").distinct().execute()["currency"] if c}
    stored = store.table("orders")
    existing = {c for c in stored.select("currency").distinct().execute()["currency"] if c}
    here = existing | ({currency} if currency else set())
    if not new or (len(new) == 1 and new <= here) or (not here and len(new) == 1):
        return None
    what = (f"the workspace's currency is {currency}" if currency else "the workspace")
    if existing:
        what += f" and its orders are in {', '.join(sorted(existing))}"
    other = sorted(new - here) or sorted(new)
    return (f"mixed currencies: {source} has orders in {', '.join(sorted(new))}, but {what}; "
            "totals add amounts without converting them. Keep each currency in its own "
            f"workspace: shopscope init shop-{other[0].lower()} --currency {other[0]}, then "
            f"load the file there with -w shop-{other[0].lower()}")


def load_batches(
    store: Store,
    batches: Sequence[Batch],
    *,
    source: str,
    fingerprint: str,
    preset: str,
    policy: Policy = "reject",
    notes: Sequence[str] = (),
    progress: Progress | None = None,
    currency: str | None = None,
) -> LoadResult:
    """Validate, then write every batch in one transaction. ``currency`` is the workspace's:
    orders in another one (or in another than the stored orders') load with a warning.

    Raises
    ------
    ValidationFailed
        Under the ``reject`` policy when any rule fails; nothing is written.
    """
    batches = sorted(batches, key=lambda b: LOAD_ORDER.index(b.table))
    report, bad = validate_batches(store, batches, source, progress)
    report.notes.extend(notes)
    result = LoadResult(source, report)
    if not report.ok and policy == "reject":
        raise ValidationFailed(
            f"{source}: {report.n_problems:,} problem(s); nothing was loaded",
            report,
            hint="fix the file, or load the good rows with --policy quarantine",
        )
    now = datetime.now().replace(microsecond=0)
    store.ensure_tables()
    warning = currency_warning(store, batches, source, currency)
    if warning:
        result.warnings.append(warning)
    with store.transaction():
        for i, batch in enumerate(batches):
            if progress:
                progress(f"loading {batch.table}", i, len(batches))
            rows = batch.staged if batch.rows is None else batch.rows
            flagged = bad[batch.table]
            if flagged is not None:
                if batch.rows is None:
                    rows = rows.filter(~flagged)
                failed = [c for c in batch.extra_checks
                          if (c.column, c.reason) in report.tables[batch.table].counts]
                store.insert(
                    REJECTS,
                    problems_expr(batch.staged, failed, batch.table, source).mutate(
                        loaded_at=ibis.literal(now)
                    ),
                )
            before = store.row_count(batch.table)
            store.insert(batch.table, _new_rows(store, batch.table, canonical_select(rows, batch.table)))
            added = store.row_count(batch.table) - before
            t_report: TableReport = report.tables[batch.table]
            result.rows_added[batch.table] = added
            result.rows_rejected[batch.table] = t_report.bad_rows
            store.insert(
                INGEST_LOG,
                ibis.memtable(
                    {
                        "fingerprint": [fingerprint], "source": [source], "preset": [preset],
                        "table_name": [batch.table], "rows_read": [t_report.rows],
                        "rows_added": [added], "rows_rejected": [t_report.bad_rows],
                        "loaded_at": [now],
                    },
                    schema=store.table(INGEST_LOG).schema(),
                ),
            )
        if progress:
            progress("committing", len(batches), len(batches))
    return result


def already_loaded(store: Store, fingerprint: str, preset: str) -> bool:
    if not store.has_table(INGEST_LOG):
        return False
    log = store.table(INGEST_LOG)
    hits = log.filter((log.fingerprint == fingerprint) & (log.preset == preset)).count()
    return int(store.backend.execute(hits)) > 0
