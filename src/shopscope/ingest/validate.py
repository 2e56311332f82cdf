"""Row-level validation in the engine, with a report that names file, row, column, value
and reason.

A staged table carries the parsed canonical columns, ``_row`` (the source row) and, for
every column parsed from text, the original text in ``__raw_<column>``. The rules come from
the canonical schema (required, type, minimum, allowed values, date range, key, reference)
plus any extra checks a preset adds. Counting every rule is one aggregate pass; examples
are fetched only for the rules that failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir

from shopscope.ingest.readers import MALFORMED, MALFORMED_TEXT, ROW
from shopscope.ingest.reasons import reason
from shopscope.schema import TableSpec

#: ``quarantine``: a bad line goes to ``_rejects`` and its order loads with its other lines;
#: ``quarantine_orders``: a bad line keeps its whole order out (the behaviour before 0.x).
Policy = Literal["reject", "quarantine", "quarantine_orders"]
POLICIES = ("reject", "quarantine", "quarantine_orders")
RAW_PREFIX = "__raw_"
#: The default window of plausible dates: from 1970 to a year from today.
MIN_DATE = datetime(1970, 1, 1)
FUTURE = timedelta(days=366)
#: Derived tables are checked against a wider window only (their lines were checked
#: against the configured one): it catches year 0001 and 9999, never a legitimate date.
SAFE_WINDOW = (datetime(1900, 1, 1), datetime(2200, 1, 1))
#: The largest plausible value of a number: quantities of one line, then anything else
#: (money, counts). 1e308 prices and 9.2e18 quantities are export bugs, not sales.
MAX_QUANTITY = 1e7
MAX_NUMBER = 1e12
# C0 controls but tab, newline and carriage return (which quoted text may hold), and DEL.
CONTROL_RX = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
MAX_EXAMPLES = 200
MALFORMED_COLUMN = "(whole row)"


def date_window(lo: date | datetime | None = None, hi: date | datetime | None = None,
                today: date | None = None) -> tuple[datetime, datetime]:
    """The window dates must fall in: the bounds given, else 1970-01-01 .. today + 1 year.

    Examples
    --------
    >>> date_window(today=date(2024, 5, 1))
    (datetime.datetime(1970, 1, 1, 0, 0), datetime.datetime(2025, 5, 2, 0, 0))
    """
    def at(d: date | datetime) -> datetime:
        return d if isinstance(d, datetime) else datetime.combine(d, datetime.min.time())

    start = at(lo) if lo is not None else MIN_DATE
    end = at(hi) if hi is not None else at(today or date.today()) + FUTURE
    return start, end


def raw_name(column: str) -> str:
    return RAW_PREFIX + column


@dataclass(frozen=True)
class Problem:
    """One bad value: where it is and why it was refused."""

    table: str
    source: str
    row: int | None
    column: str
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}, row {self.row}" if self.row is not None else self.source
        shown = "(empty)" if self.value is None else repr(self.value)
        return f"{where}, column {self.column}: {shown}: {self.reason}"


@dataclass(frozen=True)
class Check:
    """A rule over a staged table: rows where ``bad`` is true break it."""

    column: str
    reason: str
    bad: ir.BooleanValue
    value: ir.Value
    #: a flag, not a fault: written to ``_rejects`` but the row still loads and is not
    #: counted as rejected (an order that loaded without some of its lines)
    note: bool = False


@dataclass
class TableReport:
    """What validation found in the rows bound for one canonical table."""

    table: str
    source: str
    rows: int = 0
    bad_rows: int = 0
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    examples: list[Problem] = field(default_factory=list)

    #: (column, reason) of the counts that are flags, not faults (Check.note)
    flags: set[tuple[str, str]] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not (set(self.counts) - self.flags)


@dataclass
class ValidationReport:
    """Everything an ingestion found: per-table reports and notes on quirks handled."""

    source: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables.values())

    @property
    def problems(self) -> list[Problem]:
        return [p for t in self.tables.values() for p in t.examples]

    @property
    def n_problems(self) -> int:
        return sum(n for t in self.tables.values() for k, n in t.counts.items()
                   if k not in t.flags)

    def summary_lines(self) -> list[str]:
        lines = []
        for t in self.tables.values():
            for (column, why), n in sorted(t.counts.items(), key=lambda kv: -kv[1]):
                lines.append(f"{t.table}.{column}: {n:,} row(s): {why}")
        return lines


def value_checks(value: ir.Value, shown: ir.Value, label: str, dtype: str, name: str,
                 window: tuple[datetime, datetime] | None = None) -> list[Check]:
    """Plausibility of one parsed column: dates in the window, finite and not absurd
    numbers, no control characters in text."""
    checks = []
    if dtype in ("timestamp", "date"):
        lo, hi = window or date_window()
        ts = value.cast("timestamp") if dtype == "date" else value
        checks.append(Check(label, reason("date_range", range=f"{lo:%Y-%m-%d} .. {hi:%Y-%m-%d}"),
                            (ts < lo) | (ts > hi), shown))
    elif dtype in ("float64", "int64"):
        top = MAX_QUANTITY if name == "quantity" else MAX_NUMBER
        if dtype == "float64":
            checks.append(Check(label, reason("not_finite"), value.isnan() | value.isinf(),
                                shown))
            big = ~value.isnan() & ~value.isinf() & (value.abs() > top)
        else:
            big = value.abs() > top
        checks.append(Check(label, reason("too_large", max=f"{top:g}"), big, shown))
    elif dtype == "string":
        checks.append(Check(label, reason("control_chars"), value.re_search(CONTROL_RX), shown))
    return checks


def schema_checks(staged: ir.Table, spec: TableSpec, today: date | None = None,
                  window: tuple[datetime, datetime] | None = None) -> list[Check]:
    """The canonical schema's rules as checks over a staged table."""
    checks: list[Check] = []
    cols = set(staged.columns)
    window = window or date_window(today=today)
    for col in spec.columns:
        if col.name not in cols:
            continue
        value = staged[col.name]
        raw = staged[raw_name(col.name)] if raw_name(col.name) in cols else None
        shown = raw if raw is not None else value
        if raw is not None:
            checks.append(
                Check(col.name, reason("not_type", dtype=col.dtype),
                      raw.notnull() & value.isnull(), shown)
            )
            missing = raw.isnull()
        else:
            missing = value.isnull()
        if not col.nullable:
            checks.append(Check(col.name, reason("missing"), missing, shown))
        if col.min_value is not None:
            bad = value < col.min_value if col.min_inclusive else value <= col.min_value
            op = ">=" if col.min_inclusive else ">"
            checks.append(Check(col.name, reason("below_min", op=op, min=f"{col.min_value:g}"),
                                bad, shown))
        if col.allowed is not None:
            checks.append(
                Check(col.name, reason("not_allowed", allowed=", ".join(col.allowed)),
                      value.notnull() & ~value.isin(col.allowed), shown)
            )
        checks += value_checks(value, shown, col.name, col.dtype, col.name, window)
    return checks


def sanity_checks(staged: ir.Table, spec: TableSpec, already: Sequence[Check]) -> list[Check]:
    """The plausibility rules on a derived table (built from checked rows), for the rows no
    other rule of the batch refused: dates within :data:`SAFE_WINDOW`, finite and not
    absurd numbers, text without control characters."""
    flagged = ibis.or_(*[c.bad.fill_null(False) for c in already]) if already else None
    checks = []
    for col in spec.columns:
        if col.name not in staged.columns:
            continue
        value = staged[col.name].cast(col.dtype)  # an all-null column has no type yet
        for c in value_checks(value, value, col.name, col.dtype, col.name, SAFE_WINDOW):
            bad = c.bad if flagged is None else c.bad & ~flagged
            checks.append(Check(c.column, c.reason, bad, c.value))
    return checks


def with_malformed(staged: ir.Table, checks: Sequence[Check], execute) -> list[Check]:
    """Rows the reader could not split (``_malformed``) become one problem each, with their
    reason and text; every other rule skips them (their cells are all empty)."""
    if MALFORMED not in staged.columns or any(c.column == MALFORMED_COLUMN for c in checks):
        return list(checks)
    why = staged[MALFORMED]
    reasons = [r for r in execute(staged.select(why).distinct())[MALFORMED] if isinstance(r, str)]
    ok = why.isnull()
    out = [Check(c.column, c.reason, c.bad & ok, c.value, c.note) for c in checks]
    out += [Check(MALFORMED_COLUMN, r, why == r, staged[MALFORMED_TEXT]) for r in sorted(reasons)]
    return out


def duplicate_key_check(staged: ir.Table, keys: Sequence[str]) -> Check | None:
    """Rows repeating an earlier row's key (the first occurrence is kept)."""
    if not keys or not set(keys) <= set(staged.columns):
        return None
    order = staged[ROW] if ROW in staged.columns else ibis.literal(0)
    rank = ibis.row_number().over(group_by=[staged[k] for k in keys], order_by=order)
    value = staged[keys[0]].cast("string")
    for k in keys[1:]:
        value = value.concat("|", staged[k].cast("string").fill_null(""))
    # A row without its key is reported as missing it, not once more as a duplicate.
    has_key = staged[keys[0]].notnull()
    return Check("+".join(keys), reason("duplicate_key", keys=", ".join(keys)),
                 has_key & (rank > 0), value)


def reference_check(
    staged: ir.Table, column: str, target: ir.Table, target_column: str, label: str
) -> Check:
    """Non-null values of ``column`` that are not in ``target[target_column]``."""
    known = target.select(target[target_column].name("__ref")).distinct()
    value = staged[column]
    return Check(column, reason("unknown_reference", target=label),
                 value.notnull() & ~value.isin(known.__ref), value)


def run_checks(
    staged: ir.Table,
    checks: Sequence[Check],
    *,
    table: str,
    source: str,
    execute,
) -> tuple[TableReport, ir.BooleanValue | None]:
    """Count every check in one pass; fetch examples for the failed ones.

    Returns the report and the row predicate "breaks any rule" (None when all passed).
    """
    report = TableReport(table, source)
    checks = with_malformed(staged, checks, execute)
    if not checks:
        report.rows = int(execute(staged.count()))
        return report, None
    # Flags first, then sums: some rules are window functions, which may not nest in sums.
    flags = staged.select(**{f"c{i}": c.bad.fill_null(False).cast("int64")
                             for i, c in enumerate(checks)})
    aggs = {f"c{i}": flags[f"c{i}"].sum() for i in range(len(checks))}
    aggs["n"] = flags.count()
    row = execute(flags.aggregate(**aggs)).iloc[0]
    report.rows = int(row["n"])
    failed = [(i, c) for i, c in enumerate(checks) if row[f"c{i}"] and int(row[f"c{i}"]) > 0]
    if not failed:
        return report, None
    any_bad = ibis.or_(*[c.bad.fill_null(False) for _, c in failed])
    faults = [c.bad.fill_null(False) for _, c in failed if not c.note]
    report.bad_rows = int(execute(staged.filter(ibis.or_(*faults)).count())) if faults else 0
    for i, c in failed:
        report.counts[(c.column, c.reason)] = int(row[f"c{i}"])
        if c.note:
            report.flags.add((c.column, c.reason))
    report.examples = fetch_problems(staged, [c for _, c in failed], table, source, MAX_EXAMPLES,
                                     execute)
    return report, any_bad


def problems_expr(staged: ir.Table, checks: Sequence[Check], table: str, source: str) -> ir.Table:
    """All problems as a table (table_name, source, row, column, value, reason)."""
    row = staged[ROW] if ROW in staged.columns else ibis.null("int64")
    parts = [
        staged.filter(c.bad.fill_null(False)).select(
            table_name=ibis.literal(table),
            source=ibis.literal(source),
            row=row.cast("int64"),
            column=ibis.literal(c.column),
            value=c.value.cast("string"),
            reason=ibis.literal(c.reason),
        )
        for c in checks
    ]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def fetch_problems(
    staged: ir.Table, checks: Sequence[Check], table: str, source: str, limit: int, execute
) -> list[Problem]:
    out: list[Problem] = []
    for c in checks:  # a few from every failed rule, so no rule hides behind another
        expr = problems_expr(staged, [c], table, source).order_by("row").limit(
            max(5, limit // len(checks))
        )
        for rec in execute(expr).to_dict("records"):
            value = rec["value"]
            out.append(
                Problem(
                    table, source,
                    None if rec["row"] is None or rec["row"] != rec["row"] else int(rec["row"]),
                    rec["column"], None if value is None or value != value else str(value),
                    rec["reason"],
                )
            )
    out.sort(key=lambda p: (p.row if p.row is not None else -1, p.column))
    return out


def missing_columns(available: Sequence[str], required: Mapping[str, str]) -> list[str]:
    """Required canonical columns (name -> where it should come from) that are absent."""
    return [name for name, src in required.items() if src not in available]
