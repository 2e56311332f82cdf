"""Compiled-SQL snapshots: the DuckDB SQL of queries whose speed depends on their shape.

A snapshot is a file under ``tests/snapshots/<area>/<name>.sql``: a header of ``--`` lines
(what was compiled, with which Ibis and sqlglot) and the SQL that
``ibis.to_sql(expr, dialect="duckdb")`` gives. A test compares the SQL of today's code
with the file and fails with a unified diff when they differ, so a change of plan shape
(one more scan, a lost DISTINCT, a join instead of a window) is seen in review.

When a change is meant, rewrite the files and commit them with the change::

    SHOPSCOPE_UPDATE_SNAPSHOTS=1 pytest tests/test_sql_snapshots.py

Expressions are built over unbound tables with the canonical schemas
(:class:`CanonicalTables`), so no engine or data is needed and table names are stable.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest
import sqlglot

from shopscope.schema import get_table

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE_ENV = "SHOPSCOPE_UPDATE_SNAPSHOTS"


class CanonicalTables:
    """A table source of unbound tables named and typed like the canonical ones."""

    def table(self, name: str) -> ir.Table:
        return ibis.table(get_table(name).ibis_schema(), name=name)


def compiled(expr: ir.Expr) -> str:
    """The DuckDB SQL of ``expr``, ending with one newline."""
    return ibis.to_sql(expr, dialect="duckdb").strip() + "\n"


def _header(what: str) -> str:
    return (f"-- {what}\n-- compiled by ibis {ibis.__version__}, sqlglot {sqlglot.__version__}"
            f"; rewrite with {UPDATE_ENV}=1\n")


def _body(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("-- "):
        lines.pop(0)
    return "".join(lines)


def _same_shape(sql: str) -> str:
    """``sql`` with the names inside ``EXCLUDE (...)`` sorted: their order is not part of
    the query's shape (sqlglot versions list them in different orders)."""
    return re.sub(r"EXCLUDE \(([^)]*)\)",
                  lambda m: "EXCLUDE (" + ", ".join(sorted(m.group(1).split(", "))) + ")", sql)


def check_snapshot(path: Path, expr: ir.Expr, what: str) -> None:
    """Compare ``expr``'s SQL with the snapshot at ``path`` (``what`` says what it is);
    with ``SHOPSCOPE_UPDATE_SNAPSHOTS=1`` write it instead."""
    sql = compiled(expr)
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_header(what) + sql, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no SQL snapshot {path}: write it with {UPDATE_ENV}=1 and commit it",
                    pytrace=False)
    stored = path.read_text(encoding="utf-8")
    expected = _body(stored)
    if _same_shape(expected) == _same_shape(sql):
        return
    diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                        sql.splitlines(keepends=True),
                                        fromfile=f"{path.name} (stored)",
                                        tofile=f"{path.name} (compiled now)"))
    made_by = stored.splitlines()[1] if stored.count("\n") > 1 else ""
    pytest.fail(f"the compiled SQL of {what} changed ({path}):\n{diff}\n"
                f"stored snapshot {made_by.removeprefix('-- ')}; now ibis {ibis.__version__}, "
                f"sqlglot {sqlglot.__version__}.\nIf the new shape is meant, rewrite with "
                f"{UPDATE_ENV}=1 and commit the files.", pytrace=False)
