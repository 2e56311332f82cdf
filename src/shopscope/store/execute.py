"""Run an Ibis expression, recomputing cheap shared subqueries on DuckDB instead of storing them.

Ibis names every relation an expression uses more than once as a common table expression
(``WITH tN AS (...)``), and DuckDB materializes a CTE that is referenced more than once:
the whole intermediate result is written to memory (spilling under the store's memory cap)
and read back at every reference. For a plain filter and projection of a large table that
costs far more than scanning the table again: the funnel's events CTE holds 94M rows at
100M events, and storing it made the query take 51 s instead of 32 s (bench/RESULTS.md).

So :func:`execute` marks the CTEs that only scan, filter and project (no join, aggregate,
window, ``DISTINCT`` or set operation) ``NOT MATERIALIZED``; DuckDB then inlines them and
pushes each reference's own filters into the scan. CTEs doing real work stay materialized.
A scan that keeps few rows of a large table is better stored once: name it with
:func:`stored` and it is always materialized. Other engines run the expression as Ibis
compiles it.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import sqlglot.expressions as sge

__all__ = ["execute", "inline_scans", "stored"]

#: Name prefix of the relations made by :func:`stored`.
STORED_PREFIX = "_stored_"

# Nodes that make a subquery worth computing once.
_WORK = (sge.Join, sge.AggFunc, sge.Window, sge.Distinct, sge.Group, sge.SetOperation,
         sge.Order, sge.Limit)


def _scan_only(body: sge.Expression) -> bool:
    if not isinstance(body, sge.Select):
        return False
    return next(body.find_all(*_WORK), None) is None


def stored(table: ir.Table, name: str) -> ir.Table:
    """``table`` as a named relation that :func:`execute` computes once when used twice.

    For a selective scan used more than once (e.g. 5M carts and purchases of 100M events):
    storing it is cheaper than scanning the table again. ``name`` must be unique within
    the expression.
    """
    return table.alias(f"{STORED_PREFIX}{name}")


def inline_scans(tree: sge.Expression) -> sge.Expression:
    """Mark the scan-only CTEs of ``tree`` (a sqlglot expression) ``NOT MATERIALIZED``,
    and those made by :func:`stored` ``MATERIALIZED``.

    Examples
    --------
    >>> import sqlglot
    >>> q = sqlglot.parse_one(
    ...     "WITH a AS (SELECT x FROM t WHERE y > 0), b AS (SELECT x, count(*) AS n FROM a "
    ...     "GROUP BY x) SELECT * FROM a JOIN b USING (x) JOIN b AS c USING (x)", read="duckdb")
    >>> print(inline_scans(q).sql("duckdb", pretty=True))  # doctest: +NORMALIZE_WHITESPACE
    WITH a AS NOT MATERIALIZED (
      SELECT x FROM t WHERE y > 0
    ), b AS (
      SELECT x, COUNT(*) AS n FROM a GROUP BY x
    )
    SELECT * FROM a JOIN b USING (x) JOIN b AS c USING (x)
    """
    for cte in tree.find_all(sge.CTE):
        if cte.args.get("materialized") is not None:
            continue
        if cte.alias.startswith(STORED_PREFIX):
            cte.set("materialized", True)
        elif _scan_only(cte.this):
            cte.set("materialized", False)
    return tree


def _with_disabled(con: Any, optimizer: str, run: Any) -> Any:  # noqa: ANN401
    """Run ``run()`` with one more DuckDB optimizer disabled, then restore the setting."""
    before = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0]
    names = [n for n in (before or "").split(",") if n.strip()]
    con.execute("SET disabled_optimizers = ?", [",".join([*names, optimizer])])
    try:
        return run()
    finally:
        con.execute("SET disabled_optimizers = ?", [before or ""])


def execute(expr: ir.Expr, *, written_join_sides: bool = False) -> Any:  # noqa: ANN401
    """``expr.execute()``, with scan-only CTEs inlined on DuckDB (see the module docstring).

    ``written_join_sides=True`` builds every hash join's table from its right-hand side, as
    the expression is written, instead of the side DuckDB estimates smaller. For queries
    whose author knows the sizes better than the estimates: DuckDB cannot size a ``UNION``
    or tell that 4M carts are fewer than 90M views of the same table (both are "a filter of
    ``events``"), and building the hash table over the views made the 100M-event order-mode
    funnel spill and take 68-82 s instead of 53 s. Ignored on other engines.
    """
    backend = expr._find_backend(use_default=True)  # noqa: SLF001 - as expr.execute() does
    if backend.name != "duckdb":
        return expr.execute()
    import pandas as pd
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    table = expr.as_table()
    backend._run_pre_execute_hooks(table)  # noqa: SLF001 - registers in-memory tables
    tree = inline_scans(backend.compiler.to_sqlglot(table))
    sql = tree.sql(dialect=backend.dialect)
    if written_join_sides:
        arrow = _with_disabled(backend.con, "build_side_probe_side",
                               lambda: backend.con.sql(sql).to_arrow_table())
    else:
        arrow = backend.con.sql(sql).to_arrow_table()
    df = pd.DataFrame({
        # as Ibis converts DuckDB's results: Python objects for nested types and nulls
        name: col.to_pylist() if (pat.is_nested(col.type) or pat.is_dictionary(col.type)
                                  or col.null_count) else col.to_pandas()
        for name, col in zip(arrow.column_names, arrow.columns, strict=True)})
    df = DuckDBPandasData.convert_table(df, table.schema())
    return expr.__pandas_result__(df)
