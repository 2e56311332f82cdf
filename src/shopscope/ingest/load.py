"""Validate batches and write them to the store: all or nothing, and never twice.

* Atomic: every table of an ingestion is written in one load (:meth:`Store.load`): an
  error, Ctrl-C or kill -9 leaves none of it; several files joined into one load (a
  mapping, ``ingest_files``) commit together.
* Idempotent: rows whose key is already stored are skipped (keyed tables), events already
  stored are skipped by their natural key, and a file whose fingerprint is in the ingest
  log is not read again.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

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
    sanity_checks,
    schema_checks,
    with_malformed,
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
    #: order_items whose ``line_no`` is a position in the file, not the shop's: a line is
    #: then known by its content (order, product, quantity, price, n-th such line), so
    #: overlapping or re-cut exports add each line once, numbered after the stored ones
    positional_lines: bool = False
    #: orders whose totals are their items' sum: an order that a later file adds lines to
    #: gets its ``gross_amount`` (and ``net_amount``) summed again from all its lines
    totals_from_items: bool = False


@dataclass
class LoadResult:
    """What one ingestion did, per table."""

    source: str
    report: ValidationReport
    rows_added: dict[str, int] = field(default_factory=dict)
    rows_rejected: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    #: the file had no data rows (a header only): nothing written, nothing logged
    empty: bool = False
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
        # Derived tables were built from checked rows; the plausibility rules still apply.
        checks = (sanity_checks(batch.staged, spec, batch.extra_checks) if batch.derived
                  else schema_checks(batch.staged, spec))
        checks += batch.extra_checks
        if batch.table == "experiments":  # exposure logs repeat units: keep the earliest
            from shopscope.ingest.exposures import (
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
        checks = with_malformed(batch.staged, checks, execute)  # rows the reader could not split
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


def _new_lines(store: Store, rows: ir.Table) -> ir.Table:
    """Order lines not stored yet, told apart by content (see ``Batch.positional_lines``),
    numbered after their order's stored lines."""
    if store.row_count("order_items") == 0:
        return rows
    stored = store.table("order_items")
    stored = stored.filter(stored.order_id.isin(rows.select("order_id").distinct().order_id))
    keys = ("order_id", "product_id", "quantity", "unit_price")

    def nth(t: ir.Table) -> ir.Table:  # the n-th line with this content (repeats are kept)
        return t.mutate(_nth=ibis.row_number().over(group_by=[t[k] for k in keys],
                                                    order_by=t.line_no))

    new, old = nth(rows), nth(stored)
    new = new.anti_join(old, [*(new[k].identical_to(old[k]) for k in keys),
                              new._nth == old._nth])
    last = stored.group_by("order_id").aggregate(_last=stored.line_no.max())
    new = new.left_join(last, new.order_id == last.order_id).select(new, last._last)
    numbered = new.mutate(line_no=new._last.fill_null(0) + 1 + ibis.row_number().over(
        group_by=new.order_id, order_by=new.line_no))
    return numbered.select(*rows.columns)


def _sum_again(store: Store, rows: ir.Table) -> None:
    """Totals of the orders in ``rows`` (order lines) summed again from all their stored
    lines, where they differ: an order split across files ends with its items' total."""
    if store.engine != "duckdb":  # an in-place update; Spark's Parquet tables have none
        return
    ids = store.backend.compile(rows.select("order_id").distinct())
    # ids is SQL compiled by Ibis from the batch: no user text reaches the statement
    store.backend.raw_sql(f"""
        UPDATE orders SET gross_amount = s.gross,
                          net_amount = s.gross - orders.discount_amount
        FROM (SELECT order_id, sum(quantity * unit_price) AS gross FROM order_items
              WHERE order_id IN (SELECT order_id FROM ({ids})) GROUP BY order_id) AS s
        WHERE orders.order_id = s.order_id AND abs(orders.gross_amount - s.gross) > 1e-6
    """).fetchall()  # noqa: S608


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
    if all(report.tables[b.table].rows == 0 for b in batches):
        # a header-only file: no "+0" log rows (and no fingerprint remembered)
        result.empty = True
        report.notes.append("nothing to load: the file has no data rows")
        return result
    store.ensure_tables()
    warning = currency_warning(store, batches, source, currency)
    if warning:
        result.warnings.append(warning)
    with store.load() as load:
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
            rows = canonical_select(rows, batch.table)
            store.insert(batch.table, _new_lines(store, rows) if batch.positional_lines
                         else _new_rows(store, batch.table, rows))
            if before and batch.table == "order_items" and any(
                    b.table == "orders" and b.totals_from_items for b in batches):
                _sum_again(store, rows)
            added = store.row_count(batch.table) - before
            t_report: TableReport = report.tables[batch.table]
            result.rows_added[batch.table] = added
            result.rows_rejected[batch.table] = t_report.bad_rows
            # written by the load at its end, as its commit record (Store.load)
            load.log.append({
                "fingerprint": fingerprint, "source": source, "preset": preset,
                "table_name": batch.table, "rows_read": t_report.rows, "rows_added": added,
                "rows_rejected": t_report.bad_rows, "loaded_at": now,
            })
        if progress:
            progress("committing", len(batches), len(batches))
    return result


def content_fingerprint(path: str | Path) -> str:
    """SHA-256 of the whole content (a folder: every file's relative name and content).

    Every byte counts: a file changed in its middle but not in size is another file. The
    file is streamed in 1 MiB chunks: 0.03 s for Online Retail's 7.6 MB gzip file."""
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        if p.is_dir():
            h.update(f"{f.relative_to(p).as_posix()}\0".encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def one_load(store: Store, n_files: int) -> contextlib.AbstractContextManager:
    """Several files as one load (:meth:`Store.load`): a refused file leaves none of them,
    and its error says so."""

    @contextlib.contextmanager
    def run() -> Iterator[None]:
        try:
            with store.load():
                yield
        except ValidationFailed as exc:
            if n_files > 1:
                exc.message = (f"{exc.message} (nor anything of the other {n_files - 1} "
                               "file(s) of this load: a load is all or nothing)")
            if store.catalog is not None:  # Spark: say what is kept
                exc.message += "; the tables are as the last committed load left them"
            exc.args = (exc.message,)
            raise

    return run()


def total_added(results: Sequence[LoadResult]) -> dict[str, int]:
    """Rows added per table by a load of several files."""
    out: dict[str, int] = {}
    for r in results:
        for table, n in r.rows_added.items():
            out[table] = out.get(table, 0) + n
    return out


def already_loaded(store: Store, fingerprint: str, preset: str) -> bool:
    if not store.has_table(INGEST_LOG):
        return False
    log = store.table(INGEST_LOG)
    hits = log.filter((log.fingerprint == fingerprint) & (log.preset == preset)).count()
    return int(store.backend.execute(hits)) > 0
