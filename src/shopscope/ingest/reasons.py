"""Why a value was refused: one code per rule, with an English template and its arguments.

Ingest records a reason as its English text (built here from the code's template), because
``_rejects.reason`` is a text column that existing workspaces already hold. The dashboard
reads a stored text back into its code and arguments with :func:`decode` (the patterns are
derived from the same templates, so producer and reader cannot drift) and translates the
message ``reason.<code>`` of the gettext catalogue.

Examples
--------
>>> text = reason("below_min", op=">=", min="0")
>>> text, decode(text)
('must be >= 0', ('below_min', {'op': '>=', 'min': '0'}))
>>> decode("must be one of web, app"), decode("a reason nobody wrote") is None
(('not_allowed', {'allowed': 'web, app'}), True)
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

#: code -> English template. Order matters for :func:`decode`: a template that another one
#: also matches comes first (``not_allowed`` before ``below_min``, ``not_type`` last).
REASONS: dict[str, str] = {
    "missing": "missing value",
    "not_whole_number": "cannot parse as a whole number",
    "not_number": "cannot parse as a number",
    "not_datetime": "cannot parse as a date and time (expected {formats})",
    "not_date": "cannot parse as a date (expected {formats})",
    "not_type": "cannot parse as {dtype}",
    "not_allowed": "must be one of {allowed}",
    "too_large": "larger than {max}",
    "below_min": "must be {op} {min}",
    "duplicate_key": "duplicate key ({keys})",
    "date_range": "date out of range ({range})",
    "unknown_reference": "unknown {target}",
    "order_line_rejected": "another line of this order was rejected",
    "zero_quantity": "zero quantity",
    "negative_price": "negative price on a merchandise line",
    "pattern": "does not match the pattern {pattern}",
    "row_fields": "row has {found} field(s), expected {expected}",
    "unclosed_quote": "unclosed quote: the row runs on over {lines} more line(s)",
    "not_finite": "not a finite number",
    "control_chars": "contains control characters",
    "order_differs": "differs from the value on the order's first line",
    "order_conflict": "the order's lines disagree on this value",
    "order_missing": "missing on every line of the order",
    "order_partial": "order loaded without its rejected line(s)",
}


def reason(code: str, **args: object) -> str:
    """The English text of the reason ``code`` with its arguments."""
    return REASONS[code].format(**args)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for code, template in REASONS.items():
        parts = []
        for literal, field, _, _ in string.Formatter().parse(template):
            parts.append(re.escape(literal))
            if field is not None:
                parts.append(f"(?P<{field}>.+)")
        out.append((code, re.compile("".join(parts) + r"\Z", re.DOTALL)))
    return tuple(out)


def decode(text: str) -> tuple[str, dict[str, str]] | None:
    """The code and arguments of a stored reason text, or None for a text no template
    gives (a reason written by an older or newer shopscope, or by a preset's own rule)."""
    for code, pattern in _patterns():
        m = pattern.match(text)
        if m:
            return code, m.groupdict()
    return None
