"""How the CLI writes values: tables that fit the terminal, exports without float noise.

One place decides how a value of each *kind* is shown:

- ``money``: the currency's minor unit (two decimals for GBP, none for JPY), grouped;
- ``rate``: a percentage with one decimal (``12.3%``);
- ``count``: a whole number (``1,622``), also in CSV/JSON (``1622``, not ``1622.0``);
- ``days`` / ``seconds``: a duration with its unit and the right plural (``1 day``,
  ``3.2 days``, ``5 h``);
- ``number``: two decimals; ``period``: a period label; ``text``: as is (escaped for Rich).

Tables never cut a number: numeric columns get the width of their widest cell, text columns
fold, and when the columns do not fit the console they are split over several tables that
repeat the label columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Literal

import pandas as pd
from rich.console import Console
from rich.markup import escape as _escape
from rich.table import Table

from shopscope.safety import terminal_safe

Kind = Literal["money", "rate", "count", "number", "days", "seconds", "period", "text"]
NUMERIC_KINDS = ("money", "rate", "count", "number", "days", "seconds")
# Exported ratios and quotients keep this many significant digits: all a float64 means,
# without the binary noise of its last bits (0.30000000000000004).
SIGNIFICANT = 12


def escape(value: object) -> str:
    """Text safe to hand to Rich: brackets print as brackets, not as markup, and control
    characters from data print as escapes (:func:`shopscope.safety.terminal_safe`).

    >>> escape("set it in [source.columns]")
    'set it in \\\\[source.columns]'
    """
    return _escape(terminal_safe(value))


def missing(value: object) -> bool:
    """None, NaN, NaT or pandas NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def plural(n: float, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` in the right number: exactly one is singular.

    >>> plural(1, "day"), plural(2, "day"), plural(1.5, "day"), plural(0, "customer")
    ('1 day', '2 days', '1.5 days', '0 customers')
    """
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    text = f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"
    return f"{text} {word if n == 1 else (many or word + 's')}"


def fmt_days(days: float) -> str:
    """A number of days, one decimal when it has one.

    >>> fmt_days(1), fmt_days(3.24), fmt_days(28.0)
    ('1 day', '3.2 days', '28 days')
    """
    rounded = round(float(days), 1)
    return plural(int(rounded) if rounded.is_integer() else rounded, "day")


def fmt_duration(seconds: float) -> str:
    """A duration in the unit that reads best: s, min, h or days.

    >>> fmt_duration(42), fmt_duration(300), fmt_duration(5 * 3600), fmt_duration(2.75 * 86400)
    ('42 s', '5 min', '5 h', '2.8 days')
    """
    s = float(seconds)
    if abs(s) < 60:
        return f"{s:.0f} s"
    if abs(s) < 3600:
        return f"{_trim(s / 60)} min"
    if abs(s) < 86400:
        return f"{_trim(s / 3600)} h"
    return fmt_days(s / 86400)


def _trim(x: float) -> str:
    """One decimal, without a trailing .0."""
    return f"{x:,.1f}".removesuffix(".0")


def minor_digits(currency: str | None) -> int:
    """Decimals of the currency's minor unit (2 when unknown).

    >>> minor_digits("GBP"), minor_digits("JPY"), minor_digits("")
    (2, 0, 2)
    """
    if not currency:
        return 2
    try:
        from babel.numbers import get_currency_precision

        return int(get_currency_precision(currency.upper()))
    except Exception:
        return 2


def fmt_value(value: object, kind: Kind, digits: int = 2) -> str:
    """One cell. ``digits`` is the money's minor unit.

    >>> fmt_value(782.8500000000001, "money"), fmt_value(0.1234, "rate")
    ('782.85', '12.3%')
    >>> fmt_value(1622.0, "count"), fmt_value(float("nan"), "money")
    ('1,622', '–')
    """
    if missing(value):
        return "–"
    if kind == "money":
        return f"{float(value):,.{digits}f}"  # type: ignore[arg-type]
    if kind == "rate":
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if kind == "count":
        return f"{round(float(value)):,}"  # type: ignore[arg-type]
    if kind == "number":
        return f"{float(value):,.2f}"  # type: ignore[arg-type]
    if kind == "days":
        return fmt_days(float(value))  # type: ignore[arg-type]
    if kind == "seconds":
        return fmt_duration(float(value))  # type: ignore[arg-type]
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}" if value == value.normalize() else str(value)
    return str(value)


_MONEY_WORDS = ("monetary", "revenue", "amount", "value_lost", "sales", "gmv", "clv", "spend",
                "ltv", "aov", "arpu", "discount")


def column_kind(name: str, series: pd.Series | None = None) -> Kind:
    """The kind of a result column, from the metric registry or its name and dtype.

    >>> column_kind("gmv"), column_kind("repurchase_rate"), column_kind("customers")
    ('money', 'rate', 'count')
    >>> column_kind("median_seconds"), column_kind("recency_days"), column_kind("revenue_share")
    ('seconds', 'days', 'rate')
    >>> column_kind("p_value", pd.Series([0.04324492804302163])), column_kind("value_lost")
    ('number', 'money')
    """
    from shopscope.core.metrics import METRICS

    if name in METRICS:
        return {"currency": "money", "ratio": "rate", "count": "count",
                "number": "number"}[METRICS[name].unit]  # type: ignore[return-value]
    low = name.lower()
    if low in ("period", "cohort"):
        return "period"
    if ("share" in low or low.endswith("rate") or low.startswith("conv") or "probability" in low
            or low == "stickiness"):
        return "rate"
    if low.endswith(("seconds", "_s")):
        return "seconds"
    if low.endswith("days"):
        return "days"
    if any(w in low for w in _MONEY_WORDS):
        return "money"
    if low in ("customers", "count", "size", "orders", "buyers", "units", "sessions",
               "visitors", "dropped", "members", "n") or low.startswith("n_"):
        return "count"
    if series is not None:
        kind = series.dtype.kind
        if kind in "iu" or str(series.dtype) in ("Int64", "Int32", "UInt64"):
            return "count"
        if kind == "f":
            return "number"
        if kind == "b":
            return "text"
    return "text"


def kinds_for(frame: pd.DataFrame, kinds: Mapping[str, Kind] | None = None) -> dict[str, Kind]:
    """Every column's kind: the ones given, the others guessed by :func:`column_kind`."""
    given = dict(kinds or {})
    return {c: given.get(c) or column_kind(str(c), frame[c]) for c in frame.columns}


# --------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------
def _significant(x: float, digits: int = SIGNIFICANT) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def exact(value: float, kind: Kind, digits: int = 2, quotient: bool = False) -> float:
    """One exported number: money in whole minor units (unless it is a quotient such as
    AOV), anything else to twelve significant digits.

    >>> exact(782.8500000000001, "money"), exact(0.30000000000000004, "rate")
    (782.85, 0.3)
    """
    if missing(value):
        return value
    if kind == "money" and not quotient:
        return round(float(value), digits)
    return _significant(float(value))


def export_frame(frame: pd.DataFrame, kinds: Mapping[str, Kind] | None = None,
                 currency: str | None = None) -> pd.DataFrame:
    """The frame as CSV/JSON/Parquet should hold it: counts as integers (nullable), money
    rounded to the currency's minor unit, other floats to twelve significant digits.

    >>> out = export_frame(pd.DataFrame({"orders": [1622.0, None], "gmv": [782.8500000000001,
    ...                                  1.0], "repurchase_rate": [0.30000000000000004, 0.5]}))
    >>> out.to_csv(index=False).splitlines()
    ['orders,gmv,repurchase_rate', '1622,782.85,0.3', ',1.0,0.5']
    """
    from shopscope.core.metrics import METRICS

    out = frame.copy()
    digits = minor_digits(currency)
    for col, kind in kinds_for(frame, kinds).items():
        s = out[col]
        if s.dtype.kind not in "fiu" and str(s.dtype) not in ("Int64", "Float64"):
            continue
        if kind == "count":
            values = pd.to_numeric(s, errors="coerce")
            whole = values.dropna()
            if (whole == whole.round()).all():
                out[col] = values.round().astype("Int64")
                continue
        if s.dtype.kind != "f":
            continue
        # A quotient in money (AOV) keeps its precision; sums of money are whole cents.
        quotient = col in METRICS and METRICS[col].ratio
        out[col] = s.map(lambda x, k=kind, q=quotient: exact(x, k, digits, q))
    return out


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------
def _cell_width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def _word_width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


def print_table(cells: pd.DataFrame, console: Console, *, title: str = "",
                numeric: Iterable[str] = (), keys: Iterable[str] = (),
                headers: Mapping[str, str] | None = None, footnote: str = "") -> None:
    """Print a frame of strings; columns that do not fit ``console.width`` go to more tables.

    ``keys`` (label columns such as the period) are repeated in every table; numeric columns
    are right-aligned and never narrower than their widest cell, so no number is cut.
    """
    numeric = set(numeric)
    headers = dict(headers or {})
    cols = [str(c) for c in cells.columns]
    keys = [c for c in keys if c in cols]
    head = {c: headers.get(c, c.replace("_", " ")) for c in cols}

    def need(c: str) -> int:
        body = max((_cell_width(v) for v in cells[c]), default=0)
        if c in numeric:
            return max(body, _word_width(head[c]))
        # Text folds: ask for up to 22 cells, but no less than its longest header word.
        return max(min(max(body, _cell_width(head[c])), 22), _word_width(head[c]), 4)

    widths = {c: need(c) for c in cols}
    budget = console.width
    groups: list[list[str]] = []
    base = sum(widths[k] + 3 for k in keys) + 1
    current: list[str] = []
    used = base
    for c in cols:
        if c in keys:
            continue
        if current and used + widths[c] + 3 > budget:
            groups.append(current)
            current, used = [], base
        current.append(c)
        used += widths[c] + 3
    if current or not groups:
        groups.append(current)
    for i, group in enumerate(groups):
        shown = [*keys, *group]
        part = f" ({i + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title=escape(title) + part if title else None, show_lines=False)
        for c in shown:
            if c in numeric:
                # A fixed width is never collapsed by Rich: the number is never cut.
                table.add_column(escape(head[c]), justify="right", width=widths[c],
                                 overflow="fold")
            else:
                table.add_column(escape(head[c]), justify="left", overflow="fold")
        for row in cells[shown].itertuples(index=False):
            table.add_row(*(escape(v) for v in row))
        console.print(table)
    if footnote:
        console.print(escape(footnote), highlight=False)


def format_frame(frame: pd.DataFrame, kinds: Mapping[str, Kind], digits: int = 2,
                 period_label=None) -> pd.DataFrame:
    """Every cell as the string a table shows."""
    out = pd.DataFrame(index=range(len(frame)))
    for col in frame.columns:
        kind = kinds[col]
        values = frame[col].tolist()
        if kind == "period" and period_label is not None:
            out[col] = [("–" if missing(v) else period_label(v)) for v in values]
        else:  # data text may carry terminal control sequences
            out[col] = [terminal_safe(fmt_value(v, kind, digits)) for v in values]
    return out


def _json_value(value: object) -> object:
    import datetime as dt

    import numpy as np

    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_value(v) for v in value]
    if missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value if isinstance(value, (str, dict)) else str(value)


def to_json_text(frame: pd.DataFrame) -> str:
    """Records as JSON with each float written in its shortest exact form (pandas' writer
    prints 1662127.17 as 1662127.1699999999).

    >>> print(to_json_text(pd.DataFrame({"a": [1662127.17], "n": pd.array([3], "Int64")})))
    [
     {
      "a": 1662127.17,
      "n": 3
     }
    ]
    """
    import json

    records = [{str(k): _json_value(v) for k, v in zip(frame.columns, row, strict=True)}
               for row in frame.itertuples(index=False, name=None)]
    return json.dumps(records, ensure_ascii=False, indent=1)
