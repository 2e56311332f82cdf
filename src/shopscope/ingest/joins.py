"""Joined files, computed columns and row filters of a ``[[source]]``.

A source is read as text (see :mod:`shopscope.ingest.readers`), then, before its columns
are mapped and parsed, shaped in the engine:

1. each ``[[source.join]]`` file is read with its own options, optionally totalled per key
   (``aggregate``), and left-joined on ``on``; its columns are named ``<name>.<column>``
   (``items.total``, ``customer.customer_unique_id``) and may be mapped like the file's own;
2. each ``[source.compute]`` entry adds a column from an expression
   (:mod:`shopscope.ingest.compute`); one named like a canonical column, and not mapped
   otherwise, feeds that column;
3. ``filter`` keeps the rows where every condition holds; the others are left out and
   counted in the report's notes.

Everything stays one engine expression per source (no pandas, nothing per row in Python).
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from shopscope.ingest.compute import ExpressionError, Names, check_syntax, compile_expression
from shopscope.ingest.load import content_fingerprint
from shopscope.ingest.parse import parse_id
from shopscope.ingest.readers import ROW, ReadOptions, detect_format, read_text
from shopscope.ingest.tomllines import Origin

if TYPE_CHECKING:  # the mapping module imports this one
    from shopscope.ingest.mapping import MappingError, Source

__all__ = ["Join", "check_source_shapes", "join_fingerprint", "prepare"]

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Join(BaseModel):
    """One ``[[source.join]]``: another file whose columns the source may map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    file: str = Field(min_length=1)
    on: StrictStr | list[StrictStr] | dict[str, StrictStr]
    how: Literal["left", "inner"] = "left"
    aggregate: dict[str, StrictStr] = Field(default_factory=dict)
    format: Literal["csv", "excel", "whitespace", "parquet"] | None = None
    encoding: str | None = None
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    sheet: str | int | None = None
    skip_rows: int = Field(0, ge=0)
    header: bool = True
    column_names: list[str] | None = None

    def keys(self) -> list[tuple[str, str]]:
        """(column of the source, column of this file) pairs."""
        if isinstance(self.on, str):
            return [(self.on, self.on)]
        if isinstance(self.on, list):
            return [(k, k) for k in self.on]
        return list(self.on.items())


def _error(message: str, hint: str | None = None) -> MappingError:
    from shopscope.ingest.mapping import MappingError

    return MappingError(message, hint=hint)


def _origin(src: Source) -> Origin:
    return src._origin


def filters(src: Source) -> list[str]:
    if src.filter is None:
        return []
    return [src.filter] if isinstance(src.filter, str) else list(src.filter)


# -- checks when the mapping file is loaded ----------------------------------------------------


def check_source_shapes(src: Source, i: int, label: str, vocab: dict[str, Any]) -> None:
    """Joins, computed columns and filters that are wrong before any file is read."""
    key = f"source[{i}]"
    origin = _origin(src)

    def fail(where: str, what: str, hint: str | None = None) -> None:
        n = origin.line(f"{key}.{where}")
        raise _error(f"{label}: {key}.{where}: {what}" + (f" (line {n})" if n else ""), hint)

    names: set[str] = set()
    for j, join in enumerate(src.join, start=1):
        if join.name in names:
            fail(f"join[{j}].name", f"two joins are named {join.name!r}", "name each one once")
        names.add(join.name)
        if not join.keys():
            fail(f"join[{j}].on", "no key to join on",
                 'e.g. on = "order_id" or on = { customer_id = "customer_id" }')
        for out, expr in join.aggregate.items():
            try:
                check_syntax(expr, aggregate=True)
            except ExpressionError as exc:
                fail(f"join[{j}].aggregate.{out}", str(exc),
                     "e.g. sum(price), sum(price * quantity), count(), max(shipped_at)")
    for name, expr in src.compute.items():
        if name in src.constants:
            fail(f"compute.{name}", f"{name!r} is both computed and constant", "keep one")
        if name in src.columns:
            fail(f"compute.{name}", f"{name!r} is both mapped and computed",
                 "remove it from [source.columns] (a computed canonical column feeds itself)")
        try:
            check_syntax(expr)
        except ExpressionError as exc:
            fail(f"compute.{name}", str(exc), "see docs/ingest.md, computed columns")
    for n, expr in enumerate(filters(src), start=1):
        where = "filter" if isinstance(src.filter, str) else f"filter[{n}]"
        try:
            check_syntax(expr)
        except ExpressionError as exc:
            fail(where, str(exc), "e.g. filter = \"page == arm\"")


def computed_canonical(src: Source, vocab: dict[str, Any]) -> dict[str, str]:
    """Computed columns named like canonical ones (and not mapped): they feed them."""
    return {c: c for c in src.compute if c in vocab and c not in src.columns}


# -- shaping the rows in the engine -----------------------------------------------------------


def _join_files(src: Source, join: Join) -> list[Path]:
    base = _origin(src).base
    return sorted(Path(p) for p in glob.glob(str(base / join.file)))


def join_fingerprint(src: Source) -> str:
    """The content of every joined file, so that a changed one loads the source again."""
    h = hashlib.sha256()
    for join in src.join:
        for f in _join_files(src, join):
            h.update(content_fingerprint(f).encode())
    return h.hexdigest()


def _read_join(plan: Any, j: int, join: Join) -> ir.Table:
    src = plan.src
    origin = _origin(src)
    files = _join_files(src, join)
    if not files:
        raise _error(
            f"{origin.label}: {plan.key}.join[{j}].file: no file matches {join.file!r} "
            f"(relative to {origin.base})"
            + (f" (line {n})" if (n := origin.line(f"{plan.key}.join[{j}].file")) else ""),
            hint="file paths and patterns are relative to the mapping file's folder",
        )
    parts: list[ir.Table] = []
    for f in files:
        fmt = join.format or detect_format(f)
        if fmt == "parquet":
            target = str(f / "*.parquet") if f.is_dir() else str(f)
            parts.append(plan.store.read_parquet(target))
            continue
        opts = ReadOptions(
            format=fmt, encoding=join.encoding, delimiter=join.delimiter, header=join.header,
            column_names=tuple(join.column_names) if join.column_names else None,
            skip_rows=join.skip_rows, sheet=join.sheet,
        )
        text = read_text(f, opts)
        data: pa.Table = text.data
        parts.append(plan.store.from_arrow(data).mutate(**{ROW: ibis.literal(0)}))
        plan.notes.append(f"joined {f.name} as {join.name!r}"
                          + (f" (read as {text.encoding})" if fmt == "csv" else ""))
    table = parts[0]
    for p in parts[1:]:
        table = table.union(p)
    return table.drop(ROW) if ROW in table.columns else table


def _key_text(value: ir.Value) -> ir.StringValue:
    """Keys as ids are read; ``="0123"`` (written so that Excel keeps the digits) is 0123."""
    text = value.cast("string").strip()
    guarded = text.re_extract(r'^="?([^"]*)"?$', 1).nullif("")
    return parse_id(text.startswith("=").ifelse(guarded, text))


def _join_one(plan: Any, table: ir.Table, j: int, join: Join) -> ir.Table:
    origin = _origin(plan.src)
    where = f"{plan.key}.join[{j}]"
    right = _read_join(plan, j, join)
    shown = join.file
    pairs = join.keys()
    for mine, theirs in pairs:
        if mine not in table.columns:
            raise _error(f"{plan.source}: column {mine!r} not found (joined on in "
                         f"{origin.at(where + '.on')})",
                         hint="the columns so far are: "
                              + ", ".join(c for c in table.columns if c != ROW))
        if theirs not in right.columns:
            raise _error(f"{shown}: column {theirs!r} not found (joined on in "
                         f"{origin.at(where + '.on')})",
                         hint=f"the file's columns are: {', '.join(right.columns)}")
    keys = {f"__jk{j}_{k}": _key_text(right[theirs]) for k, (_, theirs) in enumerate(pairs)}
    if join.aggregate:
        aggs: dict[str, ir.Value] = {}
        for out, expr in join.aggregate.items():
            try:
                aggs[f"{join.name}.{out}"] = compile_expression(
                    expr, Names(right), decimal=plan.decimal, aggregate=True)
            except ExpressionError as exc:
                raise _error(f"{shown}: {exc} (in {origin.at(f'{where}.aggregate.{out}')})",
                             hint="name the joined file's own columns here") from None
        right = right.group_by(**keys).aggregate(**aggs)
    else:
        right = right.select(**keys, **{f"{join.name}.{c}": right[c] for c in right.columns})
        repeated = right.group_by(list(keys)).aggregate(__n=right.count()).filter(
            lambda t: t["__n"] > 1)
        dup = plan.store.backend.execute(repeated.limit(1))
        if len(dup):
            example = ", ".join(str(dup.iloc[0][k]) for k in keys)
            raise _error(
                f"{shown}: key {example!r} is on {int(dup.iloc[0]['__n'])} rows, so a row of "
                f"{plan.source} would match several (joined in {origin.at(where)})",
                hint="add aggregate = { total = \"sum(price)\" } to total the joined file per "
                "key, or join on a key that is unique in it",
            )
    left_keys = {f"__lk{j}_{k}": _key_text(table[mine]) for k, (mine, _) in enumerate(pairs)}
    left = table.mutate(**left_keys)
    preds = [left[f"__lk{j}_{k}"] == right[f"__jk{j}_{k}"] for k in range(len(pairs))]
    joined = (left.inner_join if join.how == "inner" else left.left_join)(right, preds)
    drop = [c for c in joined.columns if c.startswith((f"__lk{j}_", f"__jk{j}_"))]
    return joined.drop(*drop)


def prepare(plan: Any, raw: ir.Table, types: dict[str, Any]) -> tuple[ir.Table, dict[str, Any]]:
    """The source's rows with its joins, computed columns and filters applied, and the
    type of every column (text, or what an aggregate or expression gives)."""
    src = plan.src
    if not (src.join or src.compute or src.filter):
        return raw, types
    origin = _origin(src)

    def count(t: ir.Table) -> int:
        return int(plan.store.backend.execute(t.count()))

    table = raw
    inner = any(j.how == "inner" for j in src.join)
    n_read = count(raw) if inner else None
    for j, join in enumerate(src.join, start=1):
        table = _join_one(plan, table, j, join)
    if n_read is not None and (lost := n_read - count(table)):
        plan.notes.append(f"{lost:,} row(s) without a match in an inner join left out")
    for name, expr in src.compute.items():
        if name in table.columns:
            # customer_id = "nullif(customer_id, '0')": the computed value replaces the cell
            plan.notes.append(f"computed {name} replaces the file's column {name}")
        try:
            value = compile_expression(expr, Names(table), decimal=plan.decimal)
        except ExpressionError as exc:
            raise _error(f"{plan.source}: {exc} (in {origin.at(f'{plan.key}.compute.{name}')})",
                         hint="names are the file's columns, joined ones as name.column, "
                         "and earlier computed ones") from None
        table = table.mutate(**{name: value})
    conditions = []
    for n, expr in enumerate(filters(src), start=1):
        key = f"{plan.key}.filter" if isinstance(src.filter, str) else f"{plan.key}.filter[{n}]"
        try:
            conditions.append(compile_expression(expr, Names(table), decimal=plan.decimal)
                              .cast("boolean").fill_null(False))
        except ExpressionError as exc:
            raise _error(f"{plan.source}: {exc} (in {origin.at(key)})") from None
    if conditions:
        before = count(table)
        table = table.filter(ibis.and_(*conditions))
        if lost := before - count(table):
            plan.notes.append(f"{lost:,} row(s) left out by the filter "
                              f"({'; '.join(filters(src))})")
    schema = table.schema()
    return table, {c: schema[c] for c in table.columns if c != ROW}
