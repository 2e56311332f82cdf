"""Fast numpy -> Arrow builders and an incremental Parquet sink.

Building millions of id strings with Python f-strings is the slowest part of a naive
generator. Ids here are fixed-width (``prefix`` + zero-padded digits), so their UTF-8 bytes
are computed arithmetically into one ``uint8`` matrix and handed to Arrow as buffers.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

US_PER_DAY = 86_400_000_000
US_PER_SECOND = 1_000_000


def id_bytes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """UTF-8 bytes of ``prefix + zero-padded numbers`` as an ``(n, len)`` uint8 matrix."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    n = len(numbers)
    out = np.empty((n, len(head) + width), dtype=np.uint8)
    out[:, : len(head)] = head
    v = np.asarray(numbers, dtype=np.int64)
    if n and (v.min() < 0 or v.max() >= 10**width):
        raise OverflowError(f"ids for {prefix!r} do not fit in {width} digits")
    # two digits per division, written as one uint16 from a lookup table
    n_pairs, odd = divmod(width, 2)
    pairs = np.empty((n, n_pairs), dtype=np.uint16)
    for k in range(n_pairs - 1, -1, -1):
        v, pair = np.divmod(v, 100)
        pairs[:, k] = _PAIRS[pair]
    out[:, len(head) + odd:] = pairs.view(np.uint8)
    if odd:
        out[:, len(head)] = 48 + v
    return out


_PAIRS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)],
                  dtype=np.uint8).view(np.uint16).ravel()


def strings_from_bytes(matrix: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An Arrow string array whose i-th value is row i of a fixed-width byte matrix."""
    n, width = matrix.shape
    if n * width >= 2**31:
        raise OverflowError("too many bytes for one Arrow string array; use smaller blocks")
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix)
    validity = None
    null_count = 0
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(
        pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], null_count
    )


def ids(prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """Fixed-width string ids; rows where ``valid`` is false are null."""
    return strings_from_bytes(id_bytes(prefix, numbers, width), valid)


def pick(
    values: pa.Array | list[str | None] | tuple[str | None, ...],
    index: np.ndarray,
    *,
    dense: bool = False,
) -> pa.Array:
    """``values[index]``; a negative index gives null.

    Returns a dictionary array (no string is copied) unless ``dense``. Sinks write it as a
    plain Parquet string column, so files still read back with the canonical types.
    """
    index = np.asarray(index)
    if not isinstance(values, pa.Array):
        unique = list(dict.fromkeys(values))
        if len(unique) < len(values):  # a dictionary must not repeat itself
            remap = np.array([unique.index(v) for v in values])
            index = np.where(index < 0, -1, remap[np.maximum(index, 0)])
        values = pa.array(unique, type=pa.string())
    mask = index < 0
    idx = pa.array(np.where(mask, 0, index).astype(np.int32), mask=mask if mask.any() else None)
    if dense:
        return values.take(idx)
    return pa.DictionaryArray.from_arrays(idx, values)


def timestamps(us: np.ndarray) -> pa.Array:
    """Naive microsecond timestamps from int64 microseconds since the epoch."""
    return pa.array(np.asarray(us, dtype=np.int64).view("datetime64[us]"), type=pa.timestamp("us"))


def dates(days: np.ndarray) -> pa.Array:
    """Arrow ``date32`` from int days since the epoch."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.int32()).view(pa.date32())


def table(schema: pa.Schema, columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    """A table with ``schema``'s columns in order; string columns may stay dictionary-encoded."""
    arrays, fields = [], []
    for f in schema:
        col = columns[f.name]
        arr = col if isinstance(col, pa.Array | pa.ChunkedArray) else pa.array(col)
        if pa.types.is_dictionary(arr.type) and arr.type.value_type == f.type:
            f = pa.field(f.name, arr.type, nullable=f.nullable)
        elif arr.type != f.type:
            arr = arr.cast(f.type)
        arrays.append(arr)
        fields.append(f)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def logical(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary columns replaced by their value type."""
    return pa.schema([
        pa.field(f.name, f.type.value_type, nullable=f.nullable)
        if pa.types.is_dictionary(f.type) else f
        for f in schema
    ])


class ParquetSink:
    """Append tables to one Parquet file in row groups of ``row_group_size`` rows.

    Writes run on ``executor`` (one worker thread shared by all sinks, so each file's
    writes stay in order) while the caller generates the next block; at most
    ``max_pending`` writes wait in the queue. The file is written as ``<name>.partial`` and
    renamed by :meth:`close`, so an interrupted run leaves no complete-looking file.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        executor: ThreadPoolExecutor,
        *,
        row_group_size: int = 1_000_000,
        compression: str = "zstd",
        max_pending: int = 2,
    ) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.schema = schema
        self.rows = 0
        self._compression = compression
        self._physical: pa.Schema | None = None
        self._executor = executor
        self._rgs = row_group_size
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._pending: deque[Future] = deque()
        self._max_pending = max_pending
        self._writer: pq.ParquetWriter | None = None

    def write(self, tbl: pa.Table) -> None:
        if logical(tbl.schema) != self.schema:
            raise TypeError(f"{self.path.name}: schema {tbl.schema} != {self.schema}")
        if self._physical is None:
            self._open(tbl.schema)
        elif tbl.schema != self._physical:
            tbl = tbl.cast(self._physical)
        if tbl.num_rows == 0:
            return
        self.rows += tbl.num_rows
        self._buffer.append(tbl)
        self._buffered += tbl.num_rows
        if self._buffered >= self._rgs:
            self._flush(final=False)

    def _open(self, physical: pa.Schema) -> None:
        # store_schema=False: readers see plain string columns, not Arrow dictionaries
        self._physical = physical
        self._writer = pq.ParquetWriter(self.partial, physical, compression=self._compression,
                                        store_schema=False)

    def _flush(self, *, final: bool) -> None:
        if not self._buffer:
            return
        whole = pa.concat_tables(self._buffer)
        cut = whole.num_rows if final else (whole.num_rows // self._rgs) * self._rgs
        for lo in range(0, cut, self._rgs):
            part = whole.slice(lo, min(self._rgs, cut - lo))
            self._submit(part)
        rest = whole.slice(cut)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows

    def _submit(self, part: pa.Table) -> None:
        assert self._writer is not None  # opened by the first flush
        while len(self._pending) >= self._max_pending:
            self._pending.popleft().result()
        self._pending.append(
            self._executor.submit(self._writer.write_table, part, row_group_size=self._rgs)
        )

    def close(self) -> int:
        """Write what is buffered, close the file and give it its final name."""
        if self._writer is None:
            self._open(self.schema)
        self._flush(final=True)
        while self._pending:
            self._pending.popleft().result()
        assert self._writer is not None
        self._executor.submit(self._writer.close).result()
        os.replace(self.partial, self.path)
        return self.rows

    def abort(self) -> None:
        """Stop writing and delete the partial file."""
        for fut in self._pending:
            fut.cancel()
        for fut in self._pending:
            if not fut.cancelled():
                with contextlib.suppress(Exception):
                    fut.result()
        try:
            if self._writer is not None:
                self._writer.close()
        except Exception:  # noqa: S110 - cleaning up after a failure; the original error is raised
            pass
        self.partial.unlink(missing_ok=True)
