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

from shopscope.ingest.readers import ROW
from shopscope.ingest.reasons import reason
from shopscope.schema import TableSpec

Policy = Literal["reject", "quarantine"]
RAW_PREFIX = "__raw_"
MIN_DATE = datetime(1990, 1, 1)
MAX_EXAMPLES = 200


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


@dataclass
class TableReport:
    """What validation found in the rows bound for one canonical table."""

    table: str
    source: str
    rows: int = 0
    bad_rows: int = 0
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    examples: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.counts


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
        return sum(sum(t.counts.values()) for t in self.tables.values())

    def summary_lines(self) -> list[str]:
        lines = []
        for t in self.tables.values():
            for (column, why), n in sorted(t.counts.items(), key=lambda kv: -kv[1]):
                lines.append(f"{t.table}.{column}: {n:,} row(s): {why}")
        return lines


def schema_checks(staged: ir.Table, spec: TableSpec, today: date | None = None) -> list[Check]:
    """The canonical schema's rules as checks over a staged table."""
    checks: list[Check] = []
    cols = set(staged.columns)
    max_ts = datetime.combine(today or date.today(), datetime.min.time()) + timedelta(days=2)
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
        if col.dtype in ("timestamp", "date"):
            ts = value.cast("timestamp") if col.dtype == "date" else value
            checks.append(
                Check(col.name,
                      reason("date_range", range=f"{MIN_DATE:%Y-%m-%d} .. {max_ts:%Y-%m-%d}"),
                      (ts < MIN_DATE) | (ts > max_ts), shown)
            )
    return checks


def duplicate_key_check(staged: ir.Table, keys: Sequence[str]) -> Check | None:
    """Rows repeating an earlier row's key (the first occurrence is kept)."""
    if not keys or not set(keys) <= set(staged.columns):
        return None
    order = staged[ROW] if ROW in staged.columns else ibis.literal(0)
    rank = ibis.row_number().over(group_by=[staged[k] for k in keys], order_by=order)
    value = staged[keys[0]].cast("string")
    for k in keys[1:]:
        value = value.concat("|", staged[k].cast("string").fill_null(""))
    return Check("+".join(keys), reason("duplicate_key", keys=", ".join(keys)), rank > 0, value)


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
    report.bad_rows = int(execute(staged.filter(any_bad).count()))
    for i, c in failed:
        report.counts[(c.column, c.reason)] = int(row[f"c{i}"])
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
