"""Line numbers of a mapping file's keys, so that an error can point at its line.

``tomllib`` keeps no positions; this scanner follows the few shapes a mapping file uses
(``[table]``, ``[[source]]``, ``[[source.join]]``, ``[source.values.status]``, ``key = value``
and inline tables ``columns = { a = "A", b = "B" }``) and names every key the way
:mod:`shopscope.ingest.mapping` names it in messages: ``source[2].columns.quantity``,
``source[1].join[1].on``.

>>> text = 'name = "x"\\n[[source]]\\nfile = "a.csv"\\ncolumns = { order_id = "Id" }\\n'
>>> lines = key_lines(text)
>>> lines["source[1].columns.order_id"], line_of(lines, "source[1].columns.status")
(4, 4)
>>> line_of(lines, "source[1].dates.ordered_at"), line_of(lines, "nowhere")
(2, None)
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_\-\u0080-\U0010ffff.]+)\s*=')
_INLINE_KEY = re.compile(r'[{,]\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_\-\u0080-\U0010ffff]+)'
                         r'\s*=')
# Arrays of tables and where each sits: "source" -> [[source]], "source.join" -> [[source.join]].
_ARRAYS = ("source", "source.join")


def _unquote(key: str) -> str:
    key = key.strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        return key[1:-1]
    return key


def key_lines(text: str) -> dict[str, int]:
    """Each key path of ``text`` with the (1-based) line where it is written."""
    lines: dict[str, int] = {}
    prefix = ""
    counts: dict[str, int] = {}
    current: dict[str, str] = {}  # array name -> its current indexed path
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        head = _HEADER.match(line)
        if head and not _KEY.match(line):
            double, name = head.group(1) == "[[", head.group(2)
            parts = [_unquote(p) for p in name.split(".")]
            if double:
                parent = ".".join(parts[:-1])
                base = current.get(parent, parent) if parent else ""
                key = f"{base}.{parts[-1]}" if base else parts[-1]
                counts[key] = counts.get(key, 0) + 1
                prefix = f"{key}[{counts[key]}]"
                current[".".join(parts)] = prefix
                # a new [[source]] starts its own [[source.join]] count
                for other in list(counts):
                    if other.startswith(prefix + "."):
                        del counts[other]
            else:
                head_parts = parts
                base = ""
                for i in range(len(head_parts), 0, -1):
                    joined = ".".join(head_parts[:i])
                    if joined in current:
                        base = ".".join([current[joined], *head_parts[i:]])
                        break
                prefix = base or ".".join(head_parts)
            lines.setdefault(prefix, n)
            continue
        found = _KEY.match(line)
        if not found:
            continue
        name = ".".join(_unquote(p) for p in re.split(r"\.(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)",
                                                       found.group(1)))
        full = f"{prefix}.{name}" if prefix else name
        lines.setdefault(full, n)
        rest = line[found.end():]
        if rest.lstrip().startswith("{"):
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault(f"{full}.{_unquote(inner.group(1))}", n)
    return lines


def line_of(lines: dict[str, int], key: str) -> int | None:
    """The line of ``key``, else of its nearest written parent (``source[1].columns`` for
    a column left unmapped), else None."""
    parts = key.split(".")
    while parts:
        found = lines.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None


class Origin:
    """Where a ``[[source]]`` was written: the mapping file's name and folder and the line
    of each key, so that errors found while loading can still name the line."""

    def __init__(self, label: str, base: Path, lines: dict[str, int]) -> None:
        self.label = label
        self.base = base
        self.lines = lines

    def line(self, key: str) -> int | None:
        return line_of(self.lines, key)

    def at(self, key: str) -> str:
        """``shop.toml source[1].compute.x, line 9`` (no line when it is not known)."""
        n = self.line(key)
        return " ".join(p for p in (self.label, key) if p) + (f", line {n}" if n else "")
