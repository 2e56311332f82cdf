"""Mapping files: load a shop's own exports, which no preset covers, from a TOML file.

A mapping file says which file feeds which canonical table, how its columns are named,
how its values, dates, numbers and time zone read, which constants fill the columns it
lacks, and which tables are derived from it: orders and order items from order lines
(one row per line item, order-level columns repeated), customers from orders, products
from lines. ``docs/ingest.md`` is the reference; ``examples/mappings/`` holds worked
examples.

The file is parsed once, at the edge, into pydantic models (:class:`Mapping`). Every
transform after that is an Ibis expression run by the engine, and the rows end in the
same :func:`~shopscope.ingest.load.load_batches` as a preset's: validated row by row,
atomic per file, idempotent.

The sections below (schema and its checks, reading, rules, derived tables, batches, entry
point) share one column vocabulary, hence one module past 800 lines; split it along the
``# --`` sections if it grows.
"""

from __future__ import annotations

import codecs
import difflib
import glob
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from shopscope.errors import SchemaError
from shopscope.ingest import joins
from shopscope.ingest.database import DatabaseOverride, read_database, resolve_databases
from shopscope.ingest.joins import Join
from shopscope.ingest.load import (
    Batch,
    LoadResult,
    Progress,
    already_loaded,
    content_fingerprint,
    load_batches,
    one_load,
)
from shopscope.ingest.parse import (
    UNIX_FORMATS,
    convert_timezone,
    parse_date,
    parse_float,
    parse_id,
    parse_timestamp,
    resolve_day_month,
    whole_number,
)
from shopscope.ingest.readers import INTERNAL, ROW, ReadOptions, detect_format, read_text
from shopscope.ingest.reasons import reason
from shopscope.ingest.tomllines import Origin, key_lines, line_of
from shopscope.ingest.validate import (
    MIN_DATE,
    Check,
    Policy,
    ValidationReport,
    date_window,
    duplicate_key_check,
    raw_name,
    reference_check,
    value_checks,
    with_malformed,
)
from shopscope.schema import TABLES, Column, get_table
from shopscope.store import Store, Workspace

__all__ = ["Derive", "Mapping", "MappingError", "Source", "ingest_mapping", "load_mapping",
           "vocabulary"]

ORDER_LINES = "order_lines"
TARGETS = (*TABLES, ORDER_LINES)
Target = Literal[TARGETS]  # type: ignore[valid-type]
Scalar = StrictStr | StrictInt | StrictFloat
DATE_CODES = ("%Y", "%y", "%m", "%d", "%H", "%I", "%M", "%S", "%f", "%p")
# A trailing UTC offset: +0100, -05:30 or Z.
_OFFSET_RX = r"^(.*?)\s*(?:([+-])(\d{2}):?(\d{2})|Z)$"

_EXTRA_COLUMNS = {
    c.name: c
    for c in (
        Column("paid_amount", "float64", min_value=0,
               description="what the buyer paid, shipping included; gives the discount "
               "when none is mapped"),
        Column("line_discount_amount", "float64", min_value=0,
               description="discount on the line (order_items.discount_amount)"),
        Column("sku", "string", description="product attribute, for derived products"),
        Column("product_name", "string", description="product attribute, for derived products"),
        Column("category", "string", description="product attribute, for derived products"),
        Column("brand", "string", description="product attribute, for derived products"),
        Column("email", "string", description="customer attribute, for derived customers"),
        Column("phone", "string", description="customer attribute, for derived customers"),
        Column("customer_name", "string",
               description="customer attribute, for derived customers"),
    )
}
_CUSTOMER_EXTRAS = ("email", "phone", "customer_name")
_PRODUCT_EXTRAS = ("sku", "product_name", "category", "brand")
_ZERO_FILLED = ("discount_amount", "shipping_amount", "line_discount_amount")
# Order-level values that must agree on every line of one order.
_ORDER_IDENTITY = ("customer_id", "ordered_at", "country", "currency")


class MappingError(SchemaError):
    """A mapping file is invalid, or does not fit the file it maps."""


# -- the TOML schema ------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(_Model):
    """One ``[[source]]``: a file (or glob pattern) feeding one table.

    ``table`` is a canonical table or ``order_lines`` (one row per order line with the
    order's columns repeated; orders and order items are built from it).
    """

    file: str | None = Field(None, min_length=1)
    table: Target
    # a database instead of a file (shopscope.ingest.database); the URL may come from the CLI
    url: str | None = Field(None, min_length=1)
    db_table: str | None = Field(None, min_length=1)
    query: str | None = Field(None, min_length=1)
    watermark: str | None = Field(None, min_length=1)
    format: Literal["csv", "excel", "whitespace", "parquet"] | None = None
    encoding: str | None = None
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    sheet: str | int | None = None
    skip_rows: int = Field(0, ge=0)
    header: bool = True
    column_names: list[str] | None = None
    decimal: Literal[".", ","] | None = None
    timezone: str | None = None
    currency: str | None = None
    columns: dict[str, StrictStr] = Field(default_factory=dict)
    dates: dict[str, StrictStr | list[StrictStr]] = Field(default_factory=dict)
    values: dict[str, dict[str, Scalar]] = Field(default_factory=dict)
    extract: dict[str, StrictStr] = Field(default_factory=dict)
    constants: dict[str, Scalar] = Field(default_factory=dict)
    # Joined files, computed columns and row filters: see shopscope.ingest.joins.
    join: list[Join] = Field(default_factory=list)
    compute: dict[str, StrictStr] = Field(default_factory=dict)
    filter: StrictStr | list[StrictStr] | None = None
    _origin: Origin = PrivateAttr(default_factory=lambda: Origin("", Path("."), {}))
    #: lines with quantity 0 are legitimate (free samples, placeholders): load them
    allow_zero_quantity: bool = False

    def formats(self, column: str) -> list[str]:
        given = self.dates.get(column, [])
        return [given] if isinstance(given, str) else list(given)


class Derive(_Model):
    """``[derive]``: build customers / products from other tables (default: when no
    source feeds them)."""

    customers: bool | None = None
    products: bool | None = None


class Mapping(_Model):
    """A validated mapping file (see ``docs/ingest.md``)."""

    version: Literal[1] = 1
    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    decimal: Literal[".", ","] = "."
    #: [first, last] plausible dates (TOML dates); default 1970-01-01 .. a year from today
    date_window: list[date] | None = Field(None, min_length=2, max_length=2)
    derive: Derive = Field(default_factory=Derive)
    sources: list[Source] = Field(alias="source", min_length=1)


_DICT_DEPTH = {"columns": 1, "dates": 1, "extract": 1, "constants": 1, "values": 2,
               "column_names": 1, "compute": 1}


def vocabulary(table: str) -> dict[str, Column]:
    """The columns a source feeding ``table`` may map: the canonical ones plus the
    attributes used to derive other tables.

    Examples
    --------
    >>> cols = vocabulary("order_lines")
    >>> "quantity" in cols and "status" in cols and "line_discount_amount" in cols
    True
    """
    extra = _EXTRA_COLUMNS
    if table == ORDER_LINES:
        items = get_table("order_items")
        cols = [
            *get_table("orders").columns, extra["paid_amount"],
            *(extra[c] for c in _CUSTOMER_EXTRAS),
            *(items.column(c) for c in ("line_no", "product_id", "quantity", "unit_price")),
            extra["line_discount_amount"], *(extra[c] for c in _PRODUCT_EXTRAS),
        ]
    else:
        cols = list(get_table(table).columns)
        if table == "orders":
            cols += [extra["paid_amount"], *(extra[c] for c in _CUSTOMER_EXTRAS)]
        elif table == "order_items":
            cols += [extra[c] for c in _PRODUCT_EXTRAS]
    return {c.name: c for c in cols}


def _order_level() -> tuple[str, ...]:
    names = [c.name for c in get_table("orders").columns if c.name != "order_id"]
    return (*names, "paid_amount", *_CUSTOMER_EXTRAS)


ORDER_LEVEL = _order_level()


# -- loading and checking a mapping file ----------------------------------------------------


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file.

    Parameters
    ----------
    path
        The ``.toml`` file. Source files are resolved relative to its folder when loaded.

    Returns
    -------
    Mapping
        The validated mapping.

    Raises
    ------
    MappingError
        Bad TOML, an unknown key or table, a column the table does not have, an
        unsupported date format, a required column left unmapped. The message names the
        mapping file and the key; the hint lists what is accepted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "shop.toml"
    >>> _ = p.write_text('''
    ... [[source]]
    ... file = "customers.csv"
    ... table = "customers"
    ... columns = { customer_id = "Customer", first_seen_at = "Since" }
    ... dates = { first_seen_at = "%d.%m.%Y" }
    ... ''')
    >>> load_mapping(p).sources[0].columns["customer_id"]
    'Customer'
    >>> _ = p.write_text('[[source]]\\nfile = "c.csv"\\ntable = "customer"\\n')
    >>> load_mapping(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopscope.ingest.mapping.MappingError: shop.toml: source[1].table: unknown table ... (line 3)
    """
    p = Path(path)
    label = p.name
    if not p.is_file():
        raise MappingError(f"{p}: no such mapping file", hint="check the path")
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{label}: not valid TOML: {exc}",
                           hint="see https://toml.io; quote keys with non-ASCII text") from exc
    except UnicodeDecodeError as exc:
        raise MappingError(f"{label}: not UTF-8 text", hint="save the mapping as UTF-8") from exc
    lines = key_lines(text)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        raise _with_line(_from_pydantic(label, exc), label, lines) from None
    try:
        mapping = _with_shapes(mapping, label, Origin(label, p.parent, lines))
        _check_mapping(mapping, label)
    except MappingError as exc:
        raise _with_line(exc, label, lines) from None
    return mapping


def _with_line(exc: MappingError, label: str, lines: dict[str, int]) -> MappingError:
    """The error with the line of its key appended: ``… (line 12)``."""
    found = re.match(rf"{re.escape(label)}: ([^\s:]+): ", exc.message)
    if not found or "(line " in exc.message:
        return exc
    n = line_of(lines, found.group(1))
    return MappingError(f"{exc.message} (line {n})", hint=exc.hint) if n else exc


def _with_shapes(mapping: Mapping, label: str, origin: Origin) -> Mapping:
    """Each source knows where it was written; joins, computed columns and filters are
    checked, and computed canonical columns count as mapped."""
    sources = []
    for i, src in enumerate(mapping.sources, start=1):
        src._origin = origin
        vocab = vocabulary(src.table)
        joins.check_source_shapes(src, i, label, vocab)
        fed = joins.computed_canonical(src, vocab)
        sources.append(src.model_copy(update={"columns": src.columns | fed}) if fed else src)
    return mapping.model_copy(update={"sources": sources})


def _key(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):
            parts[-1] += f"[{part + 1}]"
        else:
            parts.append(str(part))
            depth = _DICT_DEPTH.get(str(part)) if loc[0] == "source" else None
            if depth:
                parts.extend(str(p) for p in loc[i + 1 : i + 1 + depth])
                break
        i += 1
    return ".".join(parts)


def _fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _from_pydantic(label: str, exc: ValidationError) -> MappingError:
    seen: dict[str, Any] = {}  # pydantic ErrorDetails by location
    for err in exc.errors():
        seen.setdefault(_key(err["loc"]), err)
    (key, err), *rest = seen.items()
    loc = err["loc"]
    container = loc[:-1] if err["type"] == "extra_forbidden" else loc
    model: type[BaseModel] = Mapping
    if container[:1] == ("source",) and len(container) >= 2:
        model = Join if "join" in container[2:4] else Source
    elif container[:1] == ("derive",):
        model = Derive
    last = key.rsplit(".", 1)[-1]
    kind = err["type"]
    hint = None
    if kind == "extra_forbidden":
        what = f"unknown key {last!r}"
        hint = f"accepted keys here: {', '.join(_fields(model))}"
    elif kind == "missing":
        what = "required key missing"
        hint = ("a [[source]] needs table, and file (or url with db_table or query)"
                if model is Source else None)
    elif kind == "literal_error" and last == "table":
        what = f"unknown table {err['input']!r}"
        hint = f"tables are: {', '.join(TARGETS)}"
    elif kind in ("literal_error", "too_short", "too_long", "greater_than_equal"):
        what = f"{err['msg']} (got {err['input']!r})"
    else:
        allowed = {"constants": "a string or a number", "values": "a string or a number",
                   "dates": "a format string or a list of them"}
        section = next((s for s in allowed if f".{s}." in f".{key}."), None)
        what = (f"must be {allowed[section]} (got {err['input']!r})" if section
                else f"{err['msg']} (got {err['input']!r})")
    more = f" (and {len(rest)} more: {', '.join(k for k, _ in rest[:5])})" if rest else ""
    return MappingError(f"{label}: {key}: {what}{more}", hint=hint)


def _suggest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _check_zone(label: str, key: str, zone: str | None) -> None:
    if zone is None:
        return
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{label}: {key}: unknown time zone {zone!r}",
                           hint="use an IANA name such as UTC, Europe/Berlin or Asia/Shanghai"
                           ) from None


def check_date_format(fmt: str) -> str | None:
    """Why ``fmt`` is not a supported date format, or None when it is.

    Examples
    --------
    >>> check_date_format("%Y-%m-%d %H:%M:%S %z") is None
    True
    >>> check_date_format("%d %b %Y")
    "unknown code %b in '%d %b %Y'"
    """
    if fmt in UNIX_FORMATS or fmt == "iso":
        return None
    body = fmt.removesuffix("%z").rstrip() if fmt.endswith("%z") else fmt
    codes = re.findall(r"%.", body)
    bad = [c for c in codes if c not in DATE_CODES]
    if bad:
        return f"unknown code {bad[0]} in {fmt!r}"
    if not ({"%Y", "%y"} & set(codes) and "%m" in codes and "%d" in codes):
        return f"{fmt!r} needs a year, month and day"
    return None


def _coverage(src: Source) -> dict[str, str]:
    """How each covered column gets its value: column, constant, fill or computed."""
    kinds = dict.fromkeys(src.columns, "column") | dict.fromkeys(src.constants, "constant")
    vocab = vocabulary(src.table)
    for c in _ZERO_FILLED:
        if c in vocab:
            kinds.setdefault(c, "fill")
    if src.table in ("orders", ORDER_LINES):
        if "discount_amount" not in src.columns and "discount_amount" not in src.constants \
                and "paid_amount" in kinds:
            kinds["discount_amount"] = "computed"
        kinds.setdefault("currency", "fill")
        kinds.setdefault("net_amount", "computed")
        if src.table == ORDER_LINES:
            kinds.setdefault("gross_amount", "computed")
    if src.table in ("order_items", ORDER_LINES):
        kinds.setdefault("line_no", "computed")
    return kinds


def _defaults(src: Source, currency: str) -> dict[str, float | str]:
    """Columns whose empty (or absent) values take a default: amounts 0, the currency."""
    kinds = _coverage(src)
    out: dict[str, float | str] = {c: 0.0 for c in _ZERO_FILLED
                                   if kinds.get(c) in ("column", "fill")}
    if src.table in ("orders", ORDER_LINES) and kinds.get("currency") in ("column", "fill"):
        out["currency"] = currency
    return out


def _check_source(src: Source, i: int, label: str) -> None:
    key = f"source[{i}]"
    vocab = vocabulary(src.table)
    names = list(vocab)

    def fail(where: str, what: str, hint: str | None = None) -> NoReturn:
        raise MappingError(f"{label}: {key}.{where}: {what}", hint=hint)

    if src.file is not None and (src.url or src.db_table or src.query or src.watermark):
        fail("file", "a source reads a file or a database, not both",
             "keep file, or url with db_table / query")
    if src.db_table is not None and src.query is not None:
        fail("query", "db_table and query both given", "keep one of them")
    for c, col in src.columns.items():
        if c not in vocab:
            fail(f"columns.{c}", f"table {src.table} has no column {c!r}",
                 f"{_suggest(c, names)}columns of {src.table}: {', '.join(names)}")
        if not col.strip():
            fail(f"columns.{c}", "empty source column name", "name the file's column")
    for c, given in src.dates.items():
        if c not in vocab or vocab[c].dtype not in ("timestamp", "date"):
            dated = [n for n, col in vocab.items() if col.dtype in ("timestamp", "date")]
            fail(f"dates.{c}", f"{c!r} is not a date column of {src.table}",
                 f"date columns: {', '.join(dated) or '(none)'}")
        if c not in src.columns:
            fail(f"dates.{c}", f"{c!r} is not mapped under columns", "map it first")
        formats = [given] if isinstance(given, str) else given
        if not formats:
            fail(f"dates.{c}", "no format given", "e.g. \"%Y-%m-%d %H:%M:%S\"")
        for fmt in formats:
            why = check_date_format(fmt)
            if why:
                fail(f"dates.{c}", why,
                     f"codes: {' '.join(DATE_CODES)}, a trailing %z (UTC offset), or one of "
                     f"iso, {', '.join(UNIX_FORMATS)}")
    for section in ("values", "extract"):
        for c in getattr(src, section):
            if c not in src.columns:
                fail(f"{section}.{c}", f"{c!r} is not mapped under columns",
                     f"mapped columns: {', '.join(src.columns) or '(none)'}")
    for c, mapped in src.values.items():
        allowed = vocab[c].allowed
        for given, value in mapped.items():
            if allowed and value not in allowed:
                fail(f"values.{c}", f"{given!r} maps to {value!r}, which is not allowed",
                     f"one of: {', '.join(allowed)}")
    for c, rx in src.extract.items():
        try:
            groups = re.compile(rx).groups
        except re.error as exc:
            fail(f"extract.{c}", f"bad regular expression {rx!r}: {exc}")
        if groups < 1:
            fail(f"extract.{c}", f"the pattern {rx!r} has no group",
                 "put the part to keep in parentheses, e.g. '^(\\S+)'")
    for c, value in src.constants.items():
        if c not in vocab:
            fail(f"constants.{c}", f"table {src.table} has no column {c!r}",
                 f"{_suggest(c, names)}columns of {src.table}: {', '.join(names)}")
        if c in src.columns:
            fail(f"constants.{c}", f"{c!r} is both mapped and constant", "keep one of them")
        dtype = vocab[c].dtype
        if dtype in ("int64", "float64") and not isinstance(value, int | float):
            fail(f"constants.{c}", f"{c} is a number, got {value!r}", "write it without quotes")
        if dtype == "int64" and not isinstance(value, int):
            fail(f"constants.{c}", f"{c} is a whole number, got {value!r}")
        if dtype in ("timestamp", "date"):
            fail(f"constants.{c}", "dates cannot be constants", "map a column instead")
        allowed = vocab[c].allowed
        if allowed and value not in allowed:
            fail(f"constants.{c}", f"{value!r} is not allowed", f"one of: {', '.join(allowed)}")
    if src.encoding:
        try:
            codecs.lookup(src.encoding)
        except LookupError:
            fail("encoding", f"unknown encoding {src.encoding!r}",
                 "use utf-8, utf-8-sig, gbk, gb18030 or latin-1")
    _check_zone(label, f"{key}.timezone", src.timezone)
    if src.column_names is not None and not src.column_names:
        fail("column_names", "empty list", "name every column of the file, in order")
    covered = _coverage(src)
    for column, spec in vocab.items():
        if not spec.nullable and column not in covered:
            fail("columns", f"no value for required column {column!r} of {src.table}",
                 "map it under [source.columns] (canonical = \"file column\") or set it "
                 "under [source.constants]")


def _check_mapping(mapping: Mapping, label: str) -> None:
    _check_zone(label, "timezone", mapping.timezone)
    for i, src in enumerate(mapping.sources, start=1):
        _check_source(src, i, label)
    tables = {s.table for s in mapping.sources}
    if ORDER_LINES in tables and tables & {"orders", "order_items"}:
        other = next(i for i, s in enumerate(mapping.sources, 1)
                     if s.table in ("orders", "order_items"))
        raise MappingError(
            f"{label}: source[{other}].table: orders and order items already come from "
            "order_lines",
            hint="map one file as order_lines, or separate files as orders and order_items",
        )
    for table in ("customers", "products"):
        if getattr(mapping.derive, table) and table in tables:
            raise MappingError(
                f"{label}: derive.{table}: {table} come from a source file",
                hint=f"remove derive.{table}, or the [[source]] with table = \"{table}\"",
            )


# -- reading a source into a typed stage ------------------------------------------------------


@dataclass
class _Plan:
    """One source file being built: settings resolved, and what each column came from."""

    store: Store
    label: str
    key: str
    src: Source
    file: Path
    source: str
    workspace_tz: str
    source_tz: str
    currency: str
    decimal: str
    derive_customers: bool
    derive_products: bool
    policy: Policy
    temp: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    excel: bool = False
    utc_columns: set[str] = field(default_factory=set)
    data: Any = None  # rows already read (a database source), an Arrow table
    window: tuple[datetime, datetime] = field(default_factory=date_window)

    def label_of(self, column: str) -> str:
        """The name a problem is reported under: the file's column when mapped."""
        return self.src.columns.get(column, column)


def _clean(s: ir.StringValue) -> ir.StringValue:
    return s.strip().nullif("")


def _number(text: ir.StringValue, decimal: str, excel: bool) -> ir.FloatingValue:
    """Numbers with a trailing currency sign too; with decimal commas, blanks and
    apostrophes separate thousands."""
    text = text.re_replace(r"\s*[£$€¥￥]$", "")
    if decimal != ",":
        return parse_float(text)
    text = text.re_replace("[\\s'\u00a0\u202f]", "")
    if excel:  # number cells arrive as 12.5; only text cells carry the comma
        return text.contains(",").ifelse(parse_float(text, ","), parse_float(text))
    return parse_float(text, ",")


def _whole(number: ir.FloatingValue) -> ir.IntegerValue:
    return whole_number(number)


def _timestamp(text: ir.StringValue, formats: list[str]) -> tuple[ir.Value, ir.Value]:
    """Parsed naive timestamps and whether each is in UTC (unix or a %z offset) rather
    than in the source's zone."""
    parts: list[tuple[ir.Value, bool]] = []
    for fmt in formats:
        if fmt in UNIX_FORMATS:
            parts.append((parse_timestamp(text, [fmt]), True))
        elif fmt.endswith("%z"):
            base = fmt.removesuffix("%z").rstrip()
            head = text.re_extract(_OFFSET_RX, 1).nullif("")
            hours = text.re_extract(_OFFSET_RX, 3).nullif("").cast("int64").fill_null(0)
            minutes = text.re_extract(_OFFSET_RX, 4).nullif("").cast("int64").fill_null(0)
            sign = (text.re_extract(_OFFSET_RX, 2) == "-").ifelse(-1, 1)
            offset = (sign * (hours * 3600 + minutes * 60)).as_interval("s")
            parts.append((parse_timestamp(head, [base]) - offset, True))
        else:
            parts.append((parse_timestamp(text, [fmt]), False))
    ts = ibis.coalesce(*[p for p, _ in parts]) if len(parts) > 1 else parts[0][0]
    kinds = {u for _, u in parts}
    if len(kinds) == 1:
        return ts, ibis.literal(kinds.pop())
    return ts, ibis.cases(*[(p.notnull(), u) for p, u in parts], else_=False)


def _read(plan: _Plan) -> tuple[ir.Table, dict[str, Any]]:
    """The source as an engine table with ``_row``, and its column types (parquet)."""
    src, path = plan.src, plan.file
    if plan.data is not None:
        table = plan.store.from_arrow(plan.data)
        return table, {c: t for c, t in table.schema().items() if c != ROW}
    fmt = src.format or detect_format(path)
    if fmt == "parquet":
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        table = plan.store.read_parquet(target)
        table = table.mutate(**{ROW: ibis.row_number().cast("int64") + 1})
        return table, {c: t for c, t in table.schema().items() if c != ROW}
    opts = ReadOptions(
        format=fmt, encoding=src.encoding, delimiter=src.delimiter, header=src.header,
        column_names=tuple(src.column_names) if src.column_names else None,
        skip_rows=src.skip_rows, sheet=src.sheet,
    )
    text = read_text(path, opts)
    for c, name in src.columns.items():
        text.check_unique(name, f"{plan.label} {plan.key}.columns.{c}")
    plan.excel = fmt == "excel"
    if fmt == "csv":
        plan.notes.append(f"read as {text.encoding}, delimiter {text.delimiter!r}")
    plan.notes.extend(text.notes)
    return plan.store.from_arrow(text.data), dict.fromkeys(text.columns, ibis.dtype("string"))


def _check_columns(plan: _Plan, available: dict[str, Any]) -> None:
    for c, name in plan.src.columns.items():
        if name not in available:
            names = list(available)
            raise MappingError(
                f"{plan.source}: column {name!r} not found "
                f"(mapped in {plan.src._origin.at(f'{plan.key}.columns.{c}')})",
                hint=f"{_suggest(name, names)}the file's columns are: {', '.join(names)}",
            )


def _parsed(plan: _Plan, raw: ir.Table, types: dict[str, Any]) -> dict[str, ir.Value]:
    """Typed columns plus ``__raw_<column>`` text; timestamps as ``__ts_``/``__utc_`` pairs
    until they are put into the workspace's zone."""
    src, vocab = plan.src, vocabulary(plan.src.table)
    out: dict[str, ir.Value] = {ROW: raw[ROW].cast("int64")}
    out |= {c: raw[c] for c in INTERNAL[1:] if c in raw.columns}  # rows the reader refused
    for c, name in src.columns.items():
        col = vocab[c]
        source_type = types[name]
        cell = raw[name]
        if col.dtype in ("timestamp", "date") and source_type.is_temporal():
            out[raw_name(c)] = cell.cast("string")
            stamp = cell.cast("timestamp")
            if col.dtype == "date":
                out[c] = stamp.date()
            else:
                aware = getattr(source_type, "timezone", None) is not None
                out[f"__ts_{c}"] = stamp
                out[f"__utc_{c}"] = ibis.literal(aware)
                if aware:
                    plan.utc_columns.add(c)
            continue
        if source_type.is_numeric() and col.dtype in ("int64", "float64") \
                and c not in src.extract and c not in src.values:
            # joined totals, computed amounts, Parquet numbers: no text round trip
            out[raw_name(c)] = cell.cast("string")
            number = cell.cast("float64")
            out[c] = _whole(number) if col.dtype == "int64" else number
            continue
        original = _clean(cell.cast("string"))
        text = original
        if c in src.extract:
            text = text.re_extract(src.extract[c], 1).nullif("")
        if c in src.values:
            text = text.substitute({k: str(v) for k, v in src.values[c].items()}, else_=text)
        out[raw_name(c)] = original  # problems show the cell as it is in the file
        formats = src.formats(c)
        if col.dtype in ("timestamp", "date") and len(formats) > 1:
            formats, note = resolve_day_month(
                raw, text, formats, plan.store.backend.execute, chosen=None,
                where=f"{plan.source}: column {name!r}",
                hint=f"keep only the right one in {plan.label} {plan.key}.dates.{c}")
            if note:
                plan.notes.append(note)
        if col.dtype == "string":
            out[c] = parse_id(text) if c.endswith("_id") else text
        elif col.dtype == "int64":
            out[c] = _whole(_number(text, plan.decimal, plan.excel))
        elif col.dtype == "float64":
            out[c] = _number(text, plan.decimal, plan.excel)
        elif col.dtype == "date":
            if plan.excel and formats and "iso" not in formats:
                formats = [*formats, "iso"]  # real date cells arrive as ISO text
            out[c] = parse_date(text, formats)
        else:
            if not formats:
                formats = ["iso"]
            elif plan.excel and "iso" not in formats:
                formats = [*formats, "iso"]
            out[f"__ts_{c}"], out[f"__utc_{c}"] = _timestamp(text, formats)
            if any(f in UNIX_FORMATS or f.endswith("%z") for f in formats):
                plan.utc_columns.add(c)
    for c, value in src.constants.items():
        out[c] = ibis.literal(value).cast(vocab[c].dtype)
    return out


def _clamp_range(lo: Any, hi: Any) -> tuple[datetime, datetime]:
    floor = MIN_DATE - timedelta(days=2)
    ceiling = datetime.now() + timedelta(days=3)
    lo = floor if lo is None or pd.isna(lo) else min(max(pd.Timestamp(lo).to_pydatetime(),
                                                            floor), ceiling)
    hi = ceiling if hi is None or pd.isna(hi) else max(min(pd.Timestamp(hi).to_pydatetime(),
                                                              ceiling), lo)
    return lo, hi


def _to_workspace_zone(plan: _Plan, stage: ir.Table) -> ir.Table:
    """Timestamps into naive local times of the workspace's zone, daylight saving included."""
    stamps = [c.removeprefix("__ts_") for c in stage.columns if c.startswith("__ts_")]
    helpers = [c for c in stage.columns if c.startswith(("__ts_", "__utc_"))]
    target = plan.workspace_tz
    # no timestamps (a table of dates): nothing to convert, and nothing to take a range of
    if not stamps or (plan.source_tz == target and not plan.utc_columns):
        return stage.mutate(**{c: stage[f"__ts_{c}"] for c in stamps}).drop(*helpers)
    lo_hi = plan.store.backend.execute(stage.aggregate(
        **{f"lo{i}": stage[f"__ts_{c}"].min() for i, c in enumerate(stamps)},
        **{f"hi{i}": stage[f"__ts_{c}"].max() for i, c in enumerate(stamps)},
    )).iloc[0]
    los = [v for k, v in lo_hi.items() if k.startswith("lo") and not pd.isna(v)]
    his = [v for k, v in lo_hi.items() if k.startswith("hi") and not pd.isna(v)]
    start, end = _clamp_range(min(los) if los else None, max(his) if his else None)
    converted = {}
    for c in stamps:
        ts, utc = stage[f"__ts_{c}"], stage[f"__utc_{c}"]
        from_utc = convert_timezone(ts, "UTC", target, start, end)
        from_local = convert_timezone(ts, plan.source_tz, target, start, end)
        converted[c] = utc.ifelse(from_utc, from_local)
    if plan.source_tz != target:
        plan.notes.append(f"local times read as {plan.source_tz}, stored as {target} time")
    if plan.utc_columns:
        plan.notes.append(f"times with a UTC offset or unix times stored as {target} time "
                          f"({', '.join(sorted(plan.label_of(c) for c in plan.utc_columns))})")
    return stage.mutate(**converted).drop(*helpers)


def _materialize(plan: _Plan, expr: ir.Table, suffix: str) -> ir.Table:
    name = f"_stage_mapping_{len(plan.temp)}_{suffix}"
    plan.temp.append(name)
    return plan.store.materialize(expr, name)


# -- checks -----------------------------------------------------------------------------------


def _parse_reason(col: Column, formats: list[str]) -> str:
    if col.dtype == "int64":
        return reason("not_whole_number")
    if col.dtype == "float64":
        return reason("not_number")
    shown = ", ".join(formats) if formats else "ISO 8601, e.g. 2024-03-05 14:22:10"
    return reason("not_date" if col.dtype == "date" else "not_datetime", formats=shown)


def _column_checks(plan: _Plan, stage: ir.Table, relaxed: set[str]) -> list[Check]:
    """The canonical rules on every column a source gives, named by the file's column."""
    src, vocab = plan.src, vocabulary(plan.src.table)
    checks = []
    for c, col in vocab.items():
        if c not in stage.columns:
            continue
        value = stage[c]
        raw = stage[raw_name(c)] if raw_name(c) in stage.columns else None
        shown = raw if raw is not None else value
        label = plan.label_of(c)
        if raw is not None and col.dtype != "string":
            checks.append(Check(label, _parse_reason(col, src.formats(c)),
                                raw.notnull() & value.isnull(), raw))
        elif raw is not None and c in src.extract:
            checks.append(Check(label, reason("pattern", pattern=repr(src.extract[c])),
                                raw.notnull() & value.isnull(), raw))
        if not col.nullable and c not in relaxed:
            missing = value.isnull() if raw is None else raw.isnull() & value.isnull()
            checks.append(Check(label, reason("missing"), missing, shown))
        inclusive = col.min_inclusive or (c == "quantity" and src.allow_zero_quantity)
        if col.min_value is not None:
            bad = value < col.min_value if inclusive else value <= col.min_value
            op = ">=" if inclusive else ">"
            checks.append(Check(label, reason("below_min", op=op, min=f"{col.min_value:g}"),
                                bad, shown))
        if col.allowed is not None:
            checks.append(Check(label, reason("not_allowed", allowed=", ".join(col.allowed)),
                                value.notnull() & ~value.isin(col.allowed), shown))
        checks += value_checks(value, shown, label, col.dtype, c, plan.window)
    return with_malformed(stage, checks, plan.store.backend.execute)


def _reference_checks(plan: _Plan, stage: ir.Table, derived: set[str]) -> list[Check]:
    """Ids that must already be stored; tables derived in the same load hold by design,
    and other files of the mapping load before (parents first)."""
    checks = []
    for c, col in vocabulary(plan.src.table).items():
        if not col.references or c not in stage.columns:
            continue
        target, target_col = col.references.split(".")
        if target in derived:
            continue
        existing = plan.store.table(target, raw=True)
        known = existing.select(existing[target_col].cast(col.dtype).name(target_col))
        check = reference_check(stage, c, known, target_col, col.references)
        checks.append(Check(plan.label_of(c), check.reason, check.bad, check.value))
    return checks


def _any(checks: list[Check]) -> ir.BooleanValue:
    return ibis.or_(*[c.bad.fill_null(False) for c in checks]) if checks else ibis.literal(False)


# -- derived tables ---------------------------------------------------------------------------


def _customers_from(rows: ir.Table, id_col: str, time_col: str) -> ir.Table:
    """Customers first seen at their first order (or event), with that order's details."""
    known = rows.filter(rows[id_col].notnull())
    first = known[time_col]
    aggs: dict[str, ir.Value] = {"first_seen_at": first.min()}
    for target, column in (("signup_channel", "channel"), ("country", "country"),
                           ("region", "region")):
        if column in known.columns:
            aggs[target] = known[column].argmin(first)
    for target, column in (("email", "email"), ("phone", "phone"), ("name", "customer_name")):
        if column in known.columns:
            aggs[target] = known[column].argmin(first, where=known[column].notnull())
    return known.group_by(customer_id=known[id_col]).aggregate(**aggs)


def _products_from(rows: ir.Table, order_key: str) -> ir.Table:
    """Products as last sold: name, attributes and price of the latest line."""
    items = rows.filter(rows.product_id.notnull())
    latest = items[order_key]
    aggs: dict[str, ir.Value] = {}
    for target, column in (("sku", "sku"), ("name", "product_name"), ("category", "category"),
                           ("brand", "brand")):
        if column in items.columns:
            aggs[target] = items[column].argmax(latest, where=items[column].notnull())
    if "unit_price" in items.columns:
        aggs["price"] = items.unit_price.argmax(latest)
    if not aggs:
        return items.select("product_id").distinct()
    return items.group_by("product_id").aggregate(**aggs)


def _paid_discount(gross: ir.Value, shipping: ir.Value, paid: ir.Value) -> ir.Value:
    """gross + shipping − paid, kept within [0, gross]; nothing paid means no discount."""
    discount = ibis.greatest(ibis.least(gross + shipping - paid, gross), 0.0)
    return (paid.fill_null(0.0) > 0).ifelse(discount, 0.0)


# -- building the batches of one source -------------------------------------------------------


def _typed_stage(plan: _Plan) -> ir.Table:
    raw, types = joins.prepare(plan, *_read(plan))
    _check_columns(plan, types)
    stage = _materialize(plan, raw.select(**_parsed(plan, raw, types)), "parsed")
    return _to_workspace_zone(plan, stage)


def _build_direct(plan: _Plan, stage: ir.Table) -> list[Batch]:
    """A source that is one canonical table: fill defaults, compute amounts, check."""
    src, table = plan.src, plan.src.table
    kinds = _coverage(src)
    defaults = _defaults(src, plan.currency)
    stage = _fill(stage, defaults)
    if table == "orders":
        if kinds.get("discount_amount") == "computed":
            stage = stage.mutate(discount_amount=_paid_discount(
                stage.gross_amount, stage.shipping_amount, stage.paid_amount))
        if kinds["net_amount"] == "computed":
            stage = stage.mutate(net_amount=stage.gross_amount - stage.discount_amount)
    if table == "order_items" and "line_no" not in stage.columns:
        stage = stage.mutate(line_no=ibis.row_number().over(
            group_by=stage.order_id, order_by=stage[ROW]) + 1)
    stage = _materialize(plan, stage, "staged")
    relaxed = {c for c, k in kinds.items() if k == "computed"} | set(defaults)
    checks = _column_checks(plan, stage, relaxed)
    who = {"orders": ("customer_id", "ordered_at"), "events": ("user_id", "event_at")}
    by_customer = plan.derive_customers and table in who and who[table][0] in stage.columns
    by_product = (plan.derive_products and table in ("order_items", "events")
                  and "product_id" in stage.columns)
    derived = {"customers"} if by_customer else set()
    if by_product:
        derived.add("products")
    checks += _reference_checks(plan, stage, derived)
    keys = get_table(table).primary_key
    dup = duplicate_key_check(stage, keys) if keys else None
    good = stage.filter(~_any(checks + ([dup] if dup is not None else [])))
    # Key duplicates are the loader's to report; everything else is checked here.
    batches = [Batch(table, stage, extra_checks=checks, derived=True, reference_checks=False)]
    if by_customer:
        batches.append(Batch("customers", _customers_from(good, *who[table]), derived=True,
                             reference_checks=False))
        plan.notes.append(f"customers derived from {table} (first seen = first {table[:-1]})")
    if by_product:
        latest = ROW if table == "order_items" else "event_at"
        batches.append(Batch("products", _products_from(good, latest), derived=True,
                             reference_checks=False))
        plan.notes.append(f"products derived from {table} (attributes of the latest row)")
    return batches


def _fill(stage: ir.Table, defaults: dict[str, float | str]) -> ir.Table:
    """Defaults for absent columns and empty cells; text that does not parse stays null."""
    fills: dict[str, ir.Value] = {}
    for c, value in defaults.items():
        if raw_name(c) in stage.columns:
            fills[c] = stage[raw_name(c)].isnull().ifelse(ibis.literal(value), stage[c])
        elif c not in stage.columns:
            fills[c] = ibis.literal(value)
    return stage.mutate(**fills) if fills else stage


def _build_order_lines(plan: _Plan, stage: ir.Table) -> list[Batch]:
    """Order lines → orders (order-level columns from each order's first line that has
    them), order items, and derived products and customers."""
    kinds = _coverage(plan.src)
    defaults = _defaults(plan.src, plan.currency)
    if "line_no" not in stage.columns:
        stage = stage.mutate(line_no=ibis.row_number().over(
            group_by=stage.order_id, order_by=stage[ROW]) + 1)
    stage = _fill(stage, {"line_discount_amount": 0.0})  # order-level ones: per order below
    level = [c for c in ORDER_LEVEL if c in stage.columns]
    texts = [c for c in level if raw_name(c) in stage.columns]
    # A line's own faults first: an order takes its order-level values from good lines only,
    # so a refused line (a status not allowed, a customer cut short) never shapes its order.
    relaxed = {c for c, k in kinds.items() if k == "computed"} | set(defaults) | set(level)
    stage = _materialize(plan, stage.mutate(
        __line_ok=~_any(_column_checks(plan, stage, relaxed))), "checked")
    usable = stage["__line_ok"]
    firsts = stage.group_by(__order_key=stage.order_id).aggregate(
        __order_first_row=stage[ROW].min(),
        __order_has_ok=usable.any(),
        **{f"__order_{c}": stage[c].argmin(stage[ROW], where=stage[c].notnull() & usable)
           for c in level},
        **{f"__order_text_{c}": stage[raw_name(c)].max() for c in texts},
    )
    joined = stage.left_join(firsts, stage.order_id == firsts["__order_key"])
    joined = joined.drop("__order_key", "__line_ok")
    fills = {f"__order_{c}": joined[f"__order_{c}"].fill_null(value)
             for c, value in defaults.items() if c in level}
    lines = _materialize(plan, joined.mutate(**fills) if fills else joined, "lines")

    # A line may leave an order-level cell empty; the order must have it on some line.
    checks = _column_checks(plan, lines, relaxed)
    orders_spec = get_table("orders")
    unbuildable = []
    for c in level:
        col = orders_spec.column(c) if c in orders_spec.names else None
        if col is None or col.nullable or c in defaults or kinds.get(c) == "computed":
            continue
        # An order none of whose lines is good is not built: nothing is missing from it.
        missing = lines[f"__order_{c}"].isnull() & lines["__order_has_ok"]
        unbuildable.append(missing)
        # Text that does not parse is reported as such, on its own line.
        no_text = lines[f"__order_text_{c}"].isnull() if c in texts else ibis.literal(True)
        checks.append(Check(
            plan.label_of(c), reason("order_missing"),
            missing & no_text & lines.order_id.notnull()
            & (lines[ROW] == lines["__order_first_row"]), lines[c].cast("string")))
    for c in _ORDER_IDENTITY:
        if c in level:
            shown = lines[raw_name(c)] if raw_name(c) in lines.columns else lines[c]
            checks.append(Check(
                plan.label_of(c), reason("order_differs"),
                lines[c].notnull() & lines[f"__order_{c}"].notnull()
                & (lines[c] != lines[f"__order_{c}"]), shown))
    derived = {"orders"}
    if plan.derive_customers and "customer_id" in level:
        derived.add("customers")
    if plan.derive_products and "product_id" in lines.columns:
        derived.add("products")
    checks += _reference_checks(plan, lines, derived)
    dup = duplicate_key_check(lines, ("order_id", "line_no"))
    bad = _any([*checks, *([dup] if dup is not None else [])])
    shown_id = (lines[raw_name("order_id")] if raw_name("order_id") in lines.columns
                else lines.order_id)
    failed = lines.filter(bad & lines.order_id.notnull())
    bad_orders = failed.select(__bad_order=failed.order_id).distinct()
    in_bad_order = lines.order_id.isin(bad_orders["__bad_order"]).fill_null(False)
    if plan.policy == "quarantine_orders":
        # The old rule, on request: a bad line keeps its whole order out.
        dropped = in_bad_order
    else:
        # Per line: only an order that cannot be built (no status on any good line …)
        # stays out; any other order loads with its good lines and is flagged.
        dropped = (lines.order_id.notnull() & ibis.or_(*unbuildable)) if unbuildable \
            else ibis.literal(False)
        kept = lines.filter(~bad & in_bad_order & ~dropped)
        flag_rows = kept.group_by("order_id").aggregate(__flag_row=kept[ROW].min())
        if plan.policy == "quarantine":
            checks.append(Check(plan.label_of("order_id"), reason("order_partial"),
                                ~bad & lines[ROW].isin(flag_rows["__flag_row"]), shown_id,
                                note=True))
    if plan.policy in ("quarantine", "quarantine_orders"):
        checks.append(Check(plan.label_of("order_id"), reason("order_line_rejected"),
                            ~bad & dropped, shown_id))
    good = lines.filter(~bad & ~dropped)

    items = good.select(
        order_id=good.order_id, line_no=good.line_no,
        product_id=good.product_id if "product_id" in good.columns else ibis.null("string"),
        quantity=good.quantity, unit_price=good.unit_price,
        discount_amount=good.line_discount_amount,
    )
    aggs: dict[str, ir.Value] = {c: good[f"__order_{c}"].max() for c in level}
    if kinds["gross_amount"] == "computed":
        aggs["gross_amount"] = (good.quantity * good.unit_price).sum()
        plan.notes.append("gross_amount = Σ quantity × unit_price of each order's lines")
    orders = good.group_by("order_id").aggregate(**aggs)
    absent = {c: ibis.literal(0.0) for c in ("discount_amount", "shipping_amount")
              if c not in orders.columns}
    if "currency" not in orders.columns:
        absent["currency"] = ibis.literal(plan.currency)
    orders = orders.mutate(**absent) if absent else orders
    if kinds["discount_amount"] == "computed":
        orders = orders.mutate(discount_amount=_paid_discount(
            orders.gross_amount, orders.shipping_amount, orders.paid_amount))
        plan.notes.append("discount_amount = gross + shipping − paid (0 when nothing paid)")
    if kinds["net_amount"] == "computed":
        orders = orders.mutate(net_amount=orders.gross_amount - orders.discount_amount)
    plan.notes.append("orders built from order lines; order-level values from each order's "
                      "first line that has them")
    batches = [
        # The lines are checked, row by row; the items and orders of good orders load.
        Batch("order_items", lines, extra_checks=checks, derived=True, reference_checks=False,
              rows=items),
        Batch("orders", orders, derived=True, reference_checks=False),
    ]
    if "customers" in derived:
        batches.append(Batch("customers", _customers_from(orders, "customer_id", "ordered_at"),
                             derived=True, reference_checks=False))
        plan.notes.append("customers derived from orders (first seen = first order)")
    if "products" in derived:
        key = "__order_ordered_at" if "__order_ordered_at" in good.columns else ROW
        batches.append(Batch("products", _products_from(good, key), derived=True,
                             reference_checks=False))
        plan.notes.append("products derived from order lines (latest line's name and price)")
    return batches


# -- entry point ------------------------------------------------------------------------------


def _files(mapping_path: Path, src: Source, key: str) -> list[Path]:
    base = mapping_path.parent
    assert src.file is not None  # database sources have no files
    found = sorted(Path(p) for p in glob.glob(str(base / src.file)))
    if not found:
        raise MappingError(
            f"{mapping_path.name}: {key}.file: no file matches {src.file!r} "
            f"(relative to {base})",
            hint="file paths and patterns are relative to the mapping file's folder",
        )
    return found


def _fingerprint(path: Path, mapping: Mapping, src: Source) -> str:
    """The file's content and the parts of the mapping that shape its rows."""
    h = hashlib.sha256(content_fingerprint(path).encode())
    settings = mapping.model_dump_json(exclude={"sources"}) + src.model_dump_json()
    h.update(settings.encode())
    h.update(joins.join_fingerprint(src).encode())
    return h.hexdigest()


def ingest_mapping(
    workspace: Workspace,
    mapping_path: str | Path,
    *,
    policy: Policy = "reject",
    progress: Progress | None = None,
    force: bool = False,
    database: DatabaseOverride | None = None,
) -> list[LoadResult]:
    """Load the files a mapping file describes into the workspace.

    Every file is read, mapped and validated, in the order parents before children
    (customers, products, orders …), and all of them are written as one load: a refused
    file leaves none of them (docs/ingest.md, "How a load commits").

    Parameters
    ----------
    workspace
        Where to load.
    mapping_path
        The ``.toml`` mapping file; its ``file`` entries (paths or glob patterns) are
        relative to its folder.
    policy
        ``reject`` (default): any bad row and nothing of the mapping is loaded.
        ``quarantine``: good rows load, bad rows go to ``_rejects`` with their reasons (for
        order lines, an order loads with its good lines and is flagged in ``_rejects``).
        ``quarantine_orders``: as quarantine, but a bad line keeps its whole order out.
    progress
        Called as ``progress(description, done, total)``.
    force
        Re-read files already loaded with the same mapping (rows are still never added
        twice).
    database
        The URL (and table or query) of the sources that have no ``file``, from the
        command line (:mod:`shopscope.ingest.database`).

    Returns
    -------
    list of LoadResult
        One per file, in load order.

    Raises
    ------
    MappingError
        The mapping is invalid, or a mapped column is not in its file.
    ValidationFailed
        Bad rows under ``reject``; ``.report`` names file, row, column, value and reason.
    InputError
        A file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from shopscope.store import Workspace
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "orders.csv").write_text("Order,Day,Item,Qty,Price\\n"
    ...                                   "A1,2024-05-01,TEA,2,3.50\\nA1,2024-05-01,CUP,1,8\\n")
    >>> _ = (d / "shop.toml").write_text('''
    ... [[source]]
    ... file = "orders.csv"
    ... table = "order_lines"
    ... constants = { channel = "web", status = "completed" }
    ... [source.columns]
    ... order_id = "Order"
    ... ordered_at = "Day"
    ... product_id = "Item"
    ... quantity = "Qty"
    ... unit_price = "Price"
    ... ''')
    >>> ws = Workspace.create(d / "ws")
    >>> ingest_mapping(ws, d / "shop.toml")[0].rows_added
    {'products': 2, 'orders': 1, 'order_items': 2}
    >>> ws.store.table("orders").gross_amount.sum().execute()  # 2 × 3.50 + 8
    15.0
    >>> ws.close()
    """
    path = Path(mapping_path)
    mapping = load_mapping(path)
    settings = workspace.settings
    preset = f"mapping:{mapping.name or path.stem}"
    tables = {s.table for s in mapping.sources}
    derive_customers = (mapping.derive.customers is not False) and "customers" not in tables
    derive_products = (mapping.derive.products is not False) and "products" not in tables
    order = ("customers", "identities", "products", "orders", ORDER_LINES, "order_items",
             "returns", "events", "marketing_spend", "inventory", "experiments")
    plans = sorted(
        ((i, src) for i, src in enumerate(mapping.sources, start=1)),
        key=lambda pair: order.index(pair[1].table),
    )
    plans = resolve_databases(path.name, plans, database)
    todo = [(i, src, f) for i, src in plans
            for f in (_files(path, src, f"source[{i}]") if src.file else [None])]
    store = workspace.store
    results: list[LoadResult] = []
    with one_load(store, len(todo)):  # every source validated, then all committed at once
        for i, src, file in todo:
            read = None
            if file is None:  # a database: read first, the rows' watermark is the fingerprint
                settings_text = (mapping.model_dump_json(exclude={"sources"})
                                 + src.model_dump_json())
                read, fp, shown, why = read_database(store, src, settings_text, preset,
                                                     force=force, progress=progress)
                file = Path(shown)
            else:
                # Problems name the file as the mapping does: relative to the mapping's folder.
                shown = (file.relative_to(path.parent).as_posix()
                         if file.is_relative_to(path.parent) else file.name)
                fp = _fingerprint(file, mapping, src)
                why = None if force or not already_loaded(store, fp, preset) else \
                    "already loaded (same content); nothing added"
            if why:
                result = LoadResult(shown, ValidationReport(shown), skipped=True)
                result.report.notes.append(why)
                results.append(result)
                continue
            if progress:
                progress(f"reading {shown}", 0, 1)
            plan = _Plan(
                store=store, label=path.name, key=f"source[{i}]", src=src, file=file,
                source=shown, workspace_tz=settings.timezone,
                source_tz=src.timezone or mapping.timezone or settings.timezone,
                currency=src.currency or mapping.currency or settings.currency,
                decimal=src.decimal or mapping.decimal,
                derive_customers=derive_customers, derive_products=derive_products,
                policy=policy, data=None if read is None else read.data,
                window=date_window(*(mapping.date_window or ())),
            )
            if read is not None:
                plan.notes.extend(read.notes)
            try:
                stage = _typed_stage(plan)
                build = _build_order_lines if src.table == ORDER_LINES else _build_direct
                results.append(load_batches(
                    store, build(plan, stage), source=shown, fingerprint=fp, preset=preset,
                    policy=policy, notes=plan.notes, progress=progress,
                    currency=settings.currency,
                ))
            finally:
                for name in plan.temp:
                    store.drop(name)
    return results
