"""Readers: files in, Arrow tables of text out (or an engine scan for Parquet).

Text formats (CSV, gzip CSV, whitespace columns, Excel) are read with every column as
text plus ``_row``, the 1-based data row (the header is row 0), so that validation can say
exactly which value on which row failed to parse. Parquet keeps its types and is scanned by
the engine, never loaded into Python.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import gzip
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv

from shopscope.errors import InputError
from shopscope.ingest.reasons import reason

Format = Literal["csv", "whitespace", "parquet", "excel"]
ROW = "_row"
#: Rows the parser could not split into the header's columns keep their row number, with
#: null cells, the reason in ``_malformed`` and their text in ``_malformed_text``: they
#: become rejects with their row (validate.with_malformed), never a refused file.
MALFORMED = "_malformed"
MALFORMED_TEXT = "_malformed_text"
INTERNAL = (ROW, MALFORMED, MALFORMED_TEXT)
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
    #: "dmy" or "mdy": how to read dates such as 03/04/2024 when a preset accepts both
    date_order: Literal["dmy", "mdy"] | None = None


@dataclass(frozen=True)
class TextTable:
    """A file read as text: an Arrow table of strings plus ``_row`` (and, when some rows
    could not be split, ``_malformed``/``_malformed_text``)."""

    path: Path
    data: pa.Table
    encoding: str
    delimiter: str | None
    #: what the reader did that the report should say (empty rows skipped, sheets ignored)
    notes: tuple[str, ...] = ()
    #: header names given to more than one column -> their 1-based positions
    duplicates: dict[str, list[int]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [c for c in self.data.column_names if c not in INTERNAL]

    def check_unique(self, name: str, where: str) -> None:
        """Refuse a column used by a mapping or preset whose name the header repeats."""
        if name in self.duplicates:
            pos = self.duplicates[name]
            raise InputError(
                f"{self.path.name}: column {name!r} appears {len(pos)} times in the header "
                f"(columns {', '.join(map(str, pos))}); {where} cannot tell which one is meant",
                hint=f"rename the extra columns in the file (the reader calls them "
                f"{', '.join(f'{name}_{i}' for i in range(1, len(pos)))})",
            )


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
    gz = _is_gzip(path)
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        raise _read_error(path, exc, gz) from exc


def _is_gzip(path: Path) -> bool:
    """By the magic bytes, whatever the name: a gzip file named .csv is still gzip."""
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except IsADirectoryError:
        return False
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})",
                         hint="check the path and its permissions") from exc


def _read_error(path: Path, exc: BaseException, gz: bool) -> InputError:
    if gz:
        return InputError(f"{path}: the gzip data is corrupt or cut short ({exc})",
                          hint="the file was not copied or downloaded whole: fetch it again "
                          "(gzip -t FILE checks it)")
    return InputError(f"{path}: cannot read ({exc})", hint="is the file complete?")


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without a BOM: ASCII-heavy text has a zero in every other byte."""
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.4 * len(sample) / 2 and even == 0:
        return "utf-16-le"
    if even > 0.4 * len(sample) / 2 and odd == 0:
        return "utf-16-be"
    return None


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
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM and the byte order from it
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
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


def _with_row_numbers(table: pa.Table, skipped: Sequence[int] = ()) -> pa.Table:
    """``_row`` = the data row number, counting the ``skipped`` rows (malformed ones the
    parser left out) so that every later row keeps its own number."""
    import numpy as np

    total = table.num_rows + len(skipped)
    rows = np.arange(1, total + 1, dtype=np.int64)
    if len(skipped):
        rows = np.setdiff1d(rows, np.asarray(skipped, dtype=np.int64), assume_unique=True)
    return table.append_column(ROW, pa.array(rows))


def _dedupe_names(names: list[str]) -> tuple[list[str], dict[str, list[int]]]:
    """Unique column names (``name_1`` for a repeat, ``column_3`` for a blank) and the
    repeated names with their 1-based positions."""
    seen: dict[str, int] = {}
    where: dict[str, list[int]] = {}
    out = []
    for i, raw in enumerate(names):
        name = (raw or "").strip() or f"column_{i + 1}"
        where.setdefault(name, []).append(i + 1)
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out, {n: pos for n, pos in where.items() if len(pos) > 1}


def _duplicate_notes(duplicates: dict[str, list[int]]) -> list[str]:
    return [f"column {name!r} appears {len(pos)} times in the header (columns "
            f"{', '.join(map(str, pos))}); the later ones are read as "
            f"{', '.join(f'{name}_{i}' for i in range(1, len(pos)))}"
            for name, pos in duplicates.items()]


def _drop_empty_rows(table: pa.Table, columns: Sequence[str]) -> tuple[pa.Table, int]:
    """Rows with every cell empty (Excel saves trailing ``,,,,`` rows) are no data."""
    import pyarrow.compute as pc

    if not columns or table.num_rows == 0:
        return table, 0
    empty = pc.is_null(table[columns[0]])
    for c in columns[1:]:
        empty = pc.and_(empty, pc.is_null(table[c]))
    if MALFORMED in table.column_names:
        empty = pc.and_(empty, pc.is_null(table[MALFORMED]))
    n = pc.sum(empty).as_py() or 0
    return (table.filter(pc.invert(empty)) if n else table), n


def _empty_note(n: int) -> list[str]:
    return [f"{n:,} empty row(s) skipped (every cell empty)"] if n else []


def _malformed_rows(
    bad: list[tuple[int, int, int, str]], names: list[str], first_row: int
) -> tuple[pa.Table, list[int]]:
    """The rows the parser refused, as rows with null cells, the reason and their text."""
    rows, reasons, texts = [], [], []
    for number, expected, actual, text in bad:
        row = number - first_row
        lines = text.count("\n")
        if text.count('"') % 2:  # an odd number of quotes: one never closed
            why = reason("unclosed_quote", lines=lines)
            text = text.split("\n", 1)[0]
        else:
            why = reason("row_fields", found=actual, expected=expected)
        rows.append(row)
        reasons.append(why)
        texts.append(text[:500])
    cols = {n: pa.nulls(len(rows), pa.string()) for n in names}
    cols[ROW] = pa.array(rows, pa.int64())
    cols[MALFORMED] = pa.array(reasons, pa.string())
    cols[MALFORMED_TEXT] = pa.array(texts, pa.string())
    return pa.table(cols), rows


def read_csv(path: Path, options: ReadOptions) -> TextTable:
    encoding = detect_encoding(path, options.encoding)
    head = _head_bytes(path).decode(encoding, errors="ignore")
    # title lines above the header (skip_rows) would mislead the sniffer
    delimiter = options.delimiter or sniff_delimiter(
        "\n".join(head.splitlines()[options.skip_rows:]))
    # newline=None: CR-only files (old Mac exports) split into lines like any other.
    sample = io.StringIO(head, newline=None)
    names = list(options.column_names) if options.column_names else None
    duplicates: dict[str, list[int]] = {}
    try:
        first = next(csv.reader(sample, delimiter=delimiter), None)
    except csv.Error:
        first = head.splitlines()[0].split(delimiter) if head.strip() else None
    for _ in range(options.skip_rows if options.header and names is None else 0):
        first = next(csv.reader(sample, delimiter=delimiter), None)
    if names is None and options.header:
        if first is None:
            raise InputError(f"{path}: the file is empty", hint="check the export")
        if first:
            first[0] = first[0].lstrip("\ufeff")
        names, duplicates = _dedupe_names(first)
    if names is None:
        names = [f"column_{i + 1}" for i in range(len(first or []))]
    skip = options.skip_rows + (1 if options.header else 0)
    gz = _is_gzip(path)
    bad: list[tuple[int, int, int, str]] = []

    def refuse(row) -> str:
        bad.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    def read(threads: bool) -> pa.Table:
        read_opts = pacsv.ReadOptions(
            column_names=names, skip_rows=skip, use_threads=threads,
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
            block_size=8 << 20,
        )
        parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                        invalid_row_handler=refuse)
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        )
        # Compression by the magic bytes, never by the name.
        stream = pa.input_stream(str(path), compression="gzip" if gz else None)
        with stream:
            return pacsv.read_csv(stream, read_options=read_opts, parse_options=parse_opts,
                                  convert_options=convert)

    try:
        table = read(threads=True)
        if bad:
            # Only a single-threaded parse numbers the rows it refuses: read again, rarely.
            bad.clear()
            table = read(threads=False)
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"{path}: not a valid {delimiter!r}-delimited {encoding} file: {exc}",
            hint="pass --delimiter / --encoding (or delimiter / encoding in the mapping)",
        ) from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise _read_error(path, exc, gz) from exc
    notes = _duplicate_notes(duplicates)
    table = _with_row_numbers(table, [n - skip for n, *_ in bad])
    if bad:
        extra, _ = _malformed_rows(bad, names, skip)
        table = table.append_column(MALFORMED, pa.nulls(table.num_rows, pa.string()))
        table = table.append_column(MALFORMED_TEXT, pa.nulls(table.num_rows, pa.string()))
        table = pa.concat_tables([table, extra.select(table.column_names)])
    table, empty = _drop_empty_rows(table, names)
    notes += _empty_note(empty)
    return TextTable(path, table, encoding, delimiter, tuple(notes), duplicates)


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
    numbered = [(i, r) for i, r in enumerate(rows, start=1) if r]
    # The usual width, not the largest: one ragged row must not reshape the file.
    widths = Counter(len(r) for _, r in numbered)
    width = widths.most_common(1)[0][0] if widths else 0
    names = list(options.column_names or header or [f"column_{i + 1}" for i in range(width)])
    good = [(i, r) for i, r in numbered if len(r) == len(names)]
    bad = [(i, r) for i, r in numbered if len(r) != len(names)]
    columns = {n: pa.array([r[j] for _, r in good], pa.string()) for j, n in enumerate(names)}
    columns[ROW] = pa.array([i for i, _ in good], pa.int64())
    table = pa.table(columns)
    if bad:
        table = table.append_column(MALFORMED, pa.nulls(table.num_rows, pa.string()))
        table = table.append_column(MALFORMED_TEXT, pa.nulls(table.num_rows, pa.string()))
        extra = {n: pa.nulls(len(bad), pa.string()) for n in names}
        extra[ROW] = pa.array([i for i, _ in bad], pa.int64())
        extra[MALFORMED] = pa.array(
            [reason("row_fields", found=len(r), expected=len(names)) for _, r in bad])
        extra[MALFORMED_TEXT] = pa.array([" ".join(r)[:500] for _, r in bad])
        table = pa.concat_tables([table, pa.table(extra).select(table.column_names)])
    return TextTable(path, table, encoding, None)


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
    numbered = list(enumerate(rows, start=1))
    kept = [(i, r) for i, r in numbered if any(v not in ("", None) for v in r)]
    # Trailing empty rows are the sheet's formatting, not data: count only the inner ones.
    last = kept[-1][0] if kept else 0
    empty = sum(1 for i, _ in numbered if i <= last) - len(kept)
    width = max((len(r) for _, r in kept), default=len(header or []))
    names, duplicates = _dedupe_names(list(options.column_names or header or [""] * width))
    columns = {
        n: pa.array([_cell_text(r[j]) if j < len(r) else None for _, r in kept], pa.string())
        for j, n in enumerate(names)
    }
    columns[ROW] = pa.array([i for i, _ in kept], pa.int64())
    notes = [*_duplicate_notes(duplicates), *_empty_note(empty),
             *_other_sheets(book, sheet_name, path)]
    return TextTable(path, pa.table(columns), "xlsx", None, tuple(notes), duplicates)


def _other_sheets(book, read: str | int, path: Path) -> list[str]:
    """Sheets with data that were not read: said, so that no sheet is dropped unnoticed."""
    notes = []
    names = list(book.sheet_names)
    chosen = names[read] if isinstance(read, int) and read < len(names) else read
    for name in names:
        if name == chosen:
            continue
        try:
            sample = book.get_sheet_by_name(name).to_python(nrows=3)
        except Exception:  # noqa: S112 - a chart sheet or an odd one: nothing to read
            continue
        if sum(1 for r in sample if any(v not in ("", None) for v in r)) >= 2:
            notes.append(f"sheet {name!r} of {path.name} has data and was not read "
                         f"(only {chosen!r} was); load it with sheet = {name!r} in a mapping")
    return notes


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


_NO_SPACE = ("no space left on device", "disk is full", "not enough space")


@contextlib.contextmanager
def disk_errors(source: str, where: str | Path | None = None) -> Iterator[None]:
    """A full disk while loading ``source`` is an input problem with a hint, not a bug:
    the engine's IO error (or the OS's ENOSPC) becomes an :class:`InputError`."""
    try:
        yield
    except Exception as exc:
        errno_ = getattr(exc, "errno", None)
        text = str(exc).lower()
        if errno_ in (errno.ENOSPC, errno.EDQUOT) or any(t in text for t in _NO_SPACE):
            place = f" ({where})" if where else ""
            raise InputError(
                f"{source}: no space left on the disk while loading it; nothing was loaded",
                hint=f"free space where the workspace is{place}, then run the same command "
                "again",
            ) from exc
        raise
