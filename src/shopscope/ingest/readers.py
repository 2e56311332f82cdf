"""Readers: files in, Arrow tables of text out (or an engine scan for Parquet).

Text formats (CSV, gzip CSV, whitespace columns, Excel) are read with every column as
text plus ``_row``, the 1-based data row (the header is row 0), so that validation can say
exactly which value on which row failed to parse. Parquet keeps its types and is scanned by
the engine, never loaded into Python.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv

from shopscope.errors import InputError

Format = Literal["csv", "whitespace", "parquet", "excel"]
ROW = "_row"
_SNIFF_BYTES = 256 * 1024
_ENCODINGS = ("utf-8", "gb18030", "latin-1")
_ALIASES = {"utf8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030", "gb2312": "gb18030"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file; every field left as None is detected."""

    format: Format | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header: bool = True
    column_names: tuple[str, ...] | None = None
    skip_rows: int = 0
    sheet: str | int | None = None


@dataclass(frozen=True)
class TextTable:
    """A file read as text: an Arrow table of strings plus ``_row``."""

    path: Path
    data: pa.Table
    encoding: str
    delimiter: str | None

    @property
    def columns(self) -> list[str]:
        return [c for c in self.data.column_names if c != ROW]


def detect_format(path: Path) -> Format:
    name = path.name.lower()
    for suffix in (".gz", ".gzip"):
        name = name.removesuffix(suffix)
    if name.endswith((".parquet", ".pq")) or path.is_dir():
        return "parquet"
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return "excel"
    return "csv"


def _head_bytes(path: Path, n: int = _SNIFF_BYTES) -> bytes:
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})", hint="is the file complete?") from exc


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def detect_encoding(path: Path, given: str | None = None) -> str:
    """The file's text encoding: the given one, a BOM, or the first of utf-8, gb18030,
    latin-1 that decodes the first 256 KiB.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("城市,金额\\n上海,1\\n".encode("gbk"))
    >>> detect_encoding(p)
    'gb18030'
    """
    if given:
        name = _ALIASES.get(given.lower(), given.lower())
        try:
            codecs.lookup(name)
        except LookupError:
            raise InputError(
                f"{path}: unknown encoding {given!r}",
                hint="use utf-8, utf-8-sig, gbk, gb18030 or latin-1",
            ) from None
        return name
    head = _head_bytes(path)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    whole = len(head) < _SNIFF_BYTES
    for enc in _ENCODINGS:
        try:
            # A multi-byte character may be cut at the end of a sample, not of a whole file.
            codecs.getincrementaldecoder(enc)().decode(head, final=whole)
        except UnicodeDecodeError:
            continue
        return enc
    return "latin-1"  # pragma: no cover - latin-1 decodes every byte


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: comma, semicolon, tab or pipe."""
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


def _with_row_numbers(table: pa.Table) -> pa.Table:
    import numpy as np

    return table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


def _dedupe_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names):
        name = (raw or "").strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_csv(path: Path, options: ReadOptions) -> TextTable:
    encoding = detect_encoding(path, options.encoding)
    head = _head_bytes(path).decode(encoding, errors="ignore")
    delimiter = options.delimiter or sniff_delimiter(head)
    names = list(options.column_names) if options.column_names else None
    if names is None and options.header:
        lines = csv.reader(io.StringIO(head), delimiter=delimiter)
        for _ in range(options.skip_rows):  # title lines above the header
            next(lines, None)
        first = next(lines, None)
        if first is None:
            raise InputError(f"{path}: the file is empty", hint="check the export")
        if encoding == "utf-8-sig" and first:
            first[0] = first[0].lstrip("\ufeff")
        names = _dedupe_names(first)
    if names is None:
        first = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
        names = [f"column_{i + 1}" for i in range(len(first))]
    skip = options.skip_rows + (1 if options.header else 0)
    read_opts = pacsv.ReadOptions(
        column_names=names,
        skip_rows=skip,
        encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
        block_size=8 << 20,
    )
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(
            path, read_options=read_opts, parse_options=parse_opts, convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"{path}: not a valid {delimiter!r}-delimited file with {len(names)} columns: {exc}",
            hint="pass --delimiter / --encoding, or check that every row has the same columns",
        ) from exc
    return TextTable(path, _with_row_numbers(table), encoding, delimiter)


def read_whitespace(path: Path, options: ReadOptions) -> TextTable:
    """Columns separated by runs of blanks (fixed-width exports such as CDNOW)."""
    encoding = detect_encoding(path, options.encoding)
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding=encoding, newline="") as fh:
        rows = [line.split() for line in fh]
    rows = rows[options.skip_rows :]
    if options.header and rows:
        header, rows = rows[0], rows[1:]
    else:
        header = None
    rows = [r for r in rows if r]
    width = max((len(r) for r in rows), default=0)
    names = list(options.column_names or header or [f"column_{i + 1}" for i in range(width)])
    for i, r in enumerate(rows, start=1):
        if len(r) != len(names):
            raise InputError(
                f"{path}: row {i} has {len(r)} fields, expected {len(names)} ({' '.join(r)!r})",
                hint="check the file's columns or give column names that match",
            )
    columns = {n: pa.array([r[j] for r in rows], pa.string()) for j, n in enumerate(names)}
    return TextTable(path, _with_row_numbers(pa.table(columns)), encoding, None)


def read_excel(path: Path, options: ReadOptions) -> TextTable:
    """First (or the named) sheet of an .xlsx file; cells become their text."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError as exc:  # pragma: no cover - core dependency
        raise InputError("python-calamine is required to read Excel files") from exc
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet_name = options.sheet if options.sheet is not None else 0
        sheet = (
            book.get_sheet_by_index(sheet_name)
            if isinstance(sheet_name, int)
            else book.get_sheet_by_name(sheet_name)
        )
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:
        raise InputError(f"{path}: cannot read the workbook ({exc})", hint="is it .xlsx?") from exc
    rows = rows[options.skip_rows :]
    if options.header and rows:
        header: list[str] | None = [_cell_text(v) or "" for v in rows[0]]
        rows = rows[1:]
    else:
        header = None
    rows = [r for r in rows if any(v not in ("", None) for v in r)]
    width = max((len(r) for r in rows), default=len(header or []))
    names = _dedupe_names(list(options.column_names or header or [""] * width))
    columns = {
        n: pa.array([_cell_text(r[j]) if j < len(r) else None for r in rows], pa.string())
        for j, n in enumerate(names)
    }
    return TextTable(path, _with_row_numbers(pa.table(columns)), "xlsx", None)


def _cell_text(value: object) -> str | None:
    import datetime as dt

    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 2**53 else repr(value)
    return str(value)


def read_text(path: str | Path, options: ReadOptions | None = None) -> TextTable:
    """Read a CSV, gzip CSV, whitespace-column or Excel file as text with row numbers.

    Raises
    ------
    InputError
        The file is missing, unreadable, or not of the stated format.
    """
    options = options or ReadOptions()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file", hint="check the path")
    fmt = options.format or detect_format(p)
    if fmt == "parquet":
        raise InputError(f"{p}: Parquet is scanned by the engine, not read as text")
    reader = {"csv": read_csv, "whitespace": read_whitespace, "excel": read_excel}[fmt]
    return reader(p, options)


def fingerprint(path: str | Path) -> str:
    """A cheap content fingerprint: size plus the first and last MiB (sha256)."""
    import hashlib

    p = Path(path)
    files = sorted(p.rglob("*")) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        if not f.is_file():
            continue
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    return h.hexdigest()
