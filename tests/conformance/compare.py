"""Turn any area's answer into plain values and compare two engines' answers.

An answer may be an Ibis table (executed here), a pandas frame or series, a frozen result
object (a dataclass), a dict, a list or a scalar. Frames keep their row order when the
area's function promises one (result objects); an Ibis table promises none, so its rows are
sorted first. Floats agree within a relative 1e-9 (engines add in different orders); a
missing value (None, NaN, NaT) equals any other missing value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

REL = 1e-9


def plain(value: Any) -> Any:
    """``value`` as nested dicts, lists and scalars (dates as ``datetime.datetime``)."""
    import ibis.expr.types as ir

    if isinstance(value, ir.Table):
        frame = value.execute()
        return _rows(frame.sort_values(list(frame.columns), key=_sort_key, ignore_index=True))
    if isinstance(value, ir.Scalar | ir.Column):
        return plain(value.execute())
    if isinstance(value, pd.DataFrame):
        return _rows(value)
    if isinstance(value, pd.Series):
        return {"name": value.name, "index": plain(list(value.index)),
                "values": plain(value.tolist())}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__} | {
            f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return _scalar(value)


def _sort_key(col: pd.Series) -> pd.Series:
    # Mixed types and nulls do not sort; their text does, the same way on both engines.
    return col.map(lambda v: "" if _missing(v) else repr(_scalar(v)))


def _rows(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": [str(c) for c in frame.columns],
            "rows": [[_scalar(v) for v in row] for row in frame.itertuples(index=False)]}


def _missing(v: Any) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    return isinstance(v, float | np.floating) and math.isnan(v)


def _scalar(v: Any) -> Any:
    if _missing(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        v = dt.datetime.combine(v, dt.time())
    if isinstance(v, dt.datetime) and v.tzinfo is not None:  # both engines return UTC
        v = v.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(v, np.ndarray):
        return [_scalar(x) for x in v.tolist()]
    if isinstance(v, list | tuple):
        return [_scalar(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _scalar(x) for k, x in v.items()}
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bool):
        return v
    if isinstance(v, int):  # 3 and 3.0 are the same count (one engine says BIGINT, one DOUBLE)
        return float(v)
    return v


def differences(expected: Any, actual: Any, where: str = "", limit: int = 10) -> list[str]:
    """Where two plain values differ (at most ``limit`` places), as readable lines."""
    out: list[str] = []
    _diff(expected, actual, where or "answer", out, limit)
    return out


def _diff(a: Any, b: Any, where: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{where}: keys differ: only DuckDB {sorted(set(a) - set(b))}, "
                       f"only Spark {sorted(set(b) - set(a))}")
            return
        if "columns" in a and "rows" in a:  # a frame: name the row and the column
            if a["columns"] != b["columns"]:
                out.append(f"{where}: columns {a['columns']} on DuckDB, {b['columns']} on Spark")
                return
            if len(a["rows"]) != len(b["rows"]):
                out.append(f"{where}: {len(a['rows'])} rows on DuckDB, {len(b['rows'])} on "
                           "Spark")
            for i, (ra, rb) in enumerate(zip(a["rows"], b["rows"], strict=False)):
                for col, va, vb in zip(a["columns"], ra, rb, strict=True):
                    _diff(va, vb, f"{where} row {i} [{col}]", out, limit)
            return
        for k in a:
            _diff(a[k], b[k], f"{where}.{k}", out, limit)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items on DuckDB, {len(b)} on Spark")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{where}[{i}]", out, limit)
        return
    if isinstance(a, float) and isinstance(b, float):
        if a == b or math.isclose(a, b, rel_tol=REL, abs_tol=1e-12):
            return
    elif a == b:
        return
    out.append(f"{where}: DuckDB {a!r}, Spark {b!r}")


def assert_same(expected: Any, actual: Any, what: str = "") -> None:
    """Fail with the first differences when two engines' answers are not the same."""
    found = differences(plain(expected), plain(actual), what)
    assert not found, "DuckDB and Spark disagree:\n  " + "\n  ".join(found)


def agree(pair, ask) -> None:
    """Ask both engines of ``pair`` the same question; their answers must be the same."""
    assert_same(ask(pair.duckdb), ask(pair.pyspark))
