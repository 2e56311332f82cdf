"""Making data text safe where it leaves shopscope: spreadsheet cells and terminals.

Shop data is written by customers and marketplace sellers (names, addresses, product
titles), so it may hold spreadsheet formulas or terminal escape sequences. These helpers
are the one place that decides what is neutralised; every CSV export and every CLI table
goes through them.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

#: A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice
#: and Google Sheets: ``=1+2``, ``+cmd``, ``-2+3``, ``@SUM(...)``, and tab/CR variants.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_RE = r"^[=+\-@\t\r]"

T = TypeVar("T")


def neutralise_cell(value: T) -> T | str:
    """``value`` with a leading ``'`` when it is text that a spreadsheet would run.

    Only text is touched: numbers (including negative ones) stay numbers.

    Examples
    --------
    >>> neutralise_cell("=1+2+cmd|' /C calc'!A0"), neutralise_cell("-12.5 EUR")
    ("'=1+2+cmd|' /C calc'!A0", "'-12.5 EUR")
    >>> neutralise_cell(-12.5), neutralise_cell("Jane"), neutralise_cell(None)
    (-12.5, 'Jane', None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise_formulas(table: Any) -> Any:
    """Neutralise formula-leading text cells of every text column of ``table``: a pandas
    DataFrame (in Python) or an Ibis table (in the engine, before it writes a file).
    Numeric, date and boolean columns are left as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"name": ["=HYPERLINK(1)", "Ann"], "net": [-3.5, 2.0]})
    >>> neutralise_formulas(f).to_dict("list")
    {'name': ["'=HYPERLINK(1)", 'Ann'], 'net': [-3.5, 2.0]}
    """
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        out = table.copy()
        for col in out.columns:
            series = out[col]
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(object)
            if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
                out[col] = series.map(neutralise_cell, na_action="ignore")
        return out
    replace = {}
    for name, dtype in table.schema().items():
        if dtype.is_string():
            col = table[name]
            replace[name] = col.re_search(_FORMULA_RE).ifelse("'" + col, col)
    return table.mutate(**replace) if replace else table


def csv_text(frame: Any) -> str:
    """A pandas frame as CSV text, formula cells neutralised."""
    return neutralise_formulas(frame).to_csv(index=False)


# C0 controls, DEL and C1 controls; newline and tab are kept only where a caller asks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_safe(value: object, keep: str = "") -> str:
    """``str(value)`` with control characters shown as escapes (``\\x1b``) so that data
    cannot move the cursor, recolour, retitle or clear the user's terminal.

    Examples
    --------
    >>> terminal_safe("\\x1b[31mred\\x1b[0m")
    '\\\\x1b[31mred\\\\x1b[0m'
    >>> terminal_safe("a\\tb\\u009bc"), terminal_safe("a\\nb", keep="\\n")
    ('a\\\\x09b\\\\x9bc', 'a\\nb')
    """
    text = str(value)
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else f"\\x{ord(m.group()):02x}",
                        text)
