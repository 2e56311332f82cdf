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

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
import sqlglot.expressions as sge
from sqlglot.tokens import TokenType

from shopscope.store.people import PERSON_MAP

__all__ = ["duckdb_sql", "execute", "hint_ctes", "inline_scans", "stored"]

#: Name prefix of the relations made by :func:`stored`.
STORED_PREFIX = "_stored_"

# Nodes that make a subquery worth computing once.
_WORK = (sge.Join, sge.AggFunc, sge.Window, sge.Distinct, sge.Group, sge.SetOperation,
         sge.Order, sge.Limit)


def _scan_only(body: sge.Expression) -> bool:
    if not isinstance(body, sge.Select):
        return False
    return all(_person_lookup(node) for node in body.find_all(*_WORK))


def _person_lookup(node: sge.Expr) -> bool:
    """A join that only reads ``_person_map`` (the customer id → person id lookup that
    :meth:`Store.table` adds when identities merge customers) is part of a scan: repeating
    a join with that small table is far cheaper than storing the large table it renames
    (the 100M-event funnel's CTE above). Anything else it holds is real work."""
    if not isinstance(node, sge.Join):
        return False
    other = node.this
    tables = {t.name for t in other.find_all(sge.Table)}
    return tables == {PERSON_MAP} and next(
        (n for n in other.find_all(*_WORK) if n is not other), None) is None


def stored(table: ir.Table, name: str) -> ir.Table:
    """``table`` as a named relation that :func:`execute` computes once when used twice.

    For a selective scan used more than once (e.g. 5M carts and purchases of 100M events):
    storing it is cheaper than scanning the table again. ``name`` must be unique within
    the expression.
    """
    return table.alias(f"{STORED_PREFIX}{name}")


def _choice(cte: sge.CTE) -> bool | None:
    """``True`` to materialize ``cte``, ``False`` to inline it, ``None`` to leave it."""
    if cte.args.get("materialized") is not None:
        return None  # the author's explicit choice
    if cte.alias.startswith(STORED_PREFIX):
        return True
    return False if _scan_only(cte.this) else None


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
    for cte in list(tree.find_all(sge.CTE)):
        choice = _choice(cte)
        if choice is not None:
            cte.set("materialized", choice)
    return tree


def hint_ctes(sql: str) -> str:
    """``sql`` (DuckDB) with the marks of :func:`inline_scans` written into its text.

    Only the hints are inserted, so the rest of the text stays exactly as Ibis wrote it (a
    round trip through sqlglot would rewrite some of it, e.g. ``x IS NOT NULL`` as ``NOT x IS
    NULL``). The parsed tree decides; the tokens say where each CTE's ``(`` is, so text in
    string literals is never touched.

    >>> print(hint_ctes("WITH a AS (SELECT x FROM t), b AS (SELECT count(*) AS n FROM a) "
    ...                 "SELECT ', a AS (' FROM a, b"))  # doctest: +NORMALIZE_WHITESPACE
    WITH a AS NOT MATERIALIZED (SELECT x FROM t), b AS (SELECT count(*) AS n FROM a)
    SELECT ', a AS (' FROM a, b
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    marks = {cte.alias: c for cte in tree.find_all(sge.CTE) if (c := _choice(cte)) is not None}
    if not marks:
        return sql
    tokens = sqlglot.tokenize(sql, read="duckdb")
    inserts: list[tuple[int, str]] = []
    for i in range(1, len(tokens) - 2):
        before, name, as_, paren = tokens[i - 1 : i + 3]
        if (before.token_type in (TokenType.WITH, TokenType.COMMA)
                and name.token_type in (TokenType.IDENTIFIER, TokenType.VAR)
                and as_.token_type == TokenType.ALIAS and paren.token_type == TokenType.L_PAREN
                and name.text in marks):
            inserts.append((paren.start, "MATERIALIZED " if marks.pop(name.text)
                            else "NOT MATERIALIZED "))
    for at, text in reversed(inserts):
        sql = sql[:at] + text + sql[at:]
    return sql


def duckdb_sql(expr: ir.Expr) -> str:
    """The DuckDB SQL :func:`execute` sends for ``expr``: Ibis' own SQL, scan-only CTEs
    ``NOT MATERIALIZED`` and :func:`stored` ones ``MATERIALIZED``.

    Compiled with public Ibis API only (``ibis.to_sql``), so an expression over unbound
    tables compiles too (the funnel SQL snapshots use that).
    """
    return hint_ctes(str(ibis.to_sql(expr.as_table(), dialect="duckdb", pretty=True)))


def _register_inputs(backend: Any, table: ir.Table) -> None:
    """Register the in-memory tables (``ibis.memtable``) that ``table`` reads with DuckDB.

    The one private Ibis call in shopscope, because Ibis has no public call that registers
    an expression's memtables without running it: ``execute``, ``to_pyarrow`` and
    ``create_table``/``create_view`` all call this hook first. Checked on ibis-framework
    12.0.0 (the newest release); tests/test_execute.py fails if it goes away
    (``test_same_result_as_ibis_execute`` joins a memtable).
    """
    backend._run_pre_execute_hooks(table)  # private: no public equivalent (see above)


def _fetch_arrow(backend: Any, sql: str) -> pa.Table:
    # DuckDB's own result API (to_arrow_table: DuckDB 1.4 and later; the older
    # fetch_arrow_table is deprecated).
    return backend.raw_sql(sql).to_arrow_table()


def _with_disabled(backend: Any, optimizer: str, run: Any) -> Any:
    """Run ``run()`` with one more DuckDB optimizer disabled, then restore the setting."""
    before = backend.raw_sql("SELECT current_setting('disabled_optimizers')").fetchone()[0]
    names = [n for n in (before or "").split(",") if n.strip()]
    # fetchall() finishes each SET's result: DuckDB 2 refuses new work until it is finished
    backend.raw_sql("SET disabled_optimizers = ?",
                    parameters=[",".join([*names, optimizer])]).fetchall()
    try:
        return run()
    finally:
        backend.raw_sql("SET disabled_optimizers = ?", parameters=[before or ""]).fetchall()


def _as_ibis_result(backend: Any, expr: ir.Expr, arrow: pa.Table) -> Any:
    """``arrow`` (the rows of ``expr``) as ``expr.execute()`` returns them: a DataFrame,
    Series or scalar with Ibis' pandas types for ``expr``'s schema.

    Ibis converts its own results, so the rows go back through it as a memtable (a zero-copy
    scan of the Arrow table); the registration is dropped afterwards, since Ibis keeps a
    memtable registered until the process exits.
    """
    table = expr.as_table()
    rows = ibis.memtable(arrow.rename_columns(table.columns), schema=table.schema())
    try:
        if isinstance(expr, ir.Column):
            return backend.execute(rows[expr.get_name()])
        df = backend.execute(rows)
    finally:
        backend.raw_sql(f'DROP VIEW IF EXISTS "{rows.get_name()}"').fetchall()
    return df.iat[0, 0] if isinstance(expr, ir.Scalar) else df


def execute(expr: ir.Expr, *, written_join_sides: bool = False) -> Any:
    """``expr.execute()``, with scan-only CTEs inlined on DuckDB (see the module docstring).

    ``written_join_sides=True`` builds every hash join's table from its right-hand side, as
    the expression is written, instead of the side DuckDB estimates smaller. For queries
    whose author knows the sizes better than the estimates: DuckDB cannot size a ``UNION``
    or tell that 4M carts are fewer than 90M views of the same table (both are "a filter of
    ``events``"), and building the hash table over the views made the 100M-event order-mode
    funnel spill and take 68-82 s instead of 53 s. Ignored on other engines.

    Only public Ibis API runs the query (``ibis.get_backend``, ``Backend.compile``,
    ``Backend.raw_sql``, ``ibis.memtable``), but for :func:`_register_inputs`.
    """
    backend = ibis.get_backend(expr)
    if backend.name != "duckdb":
        return expr.execute()
    table = expr.as_table()
    _register_inputs(backend, table)
    sql = hint_ctes(backend.compile(table))
    if written_join_sides:
        arrow = _with_disabled(backend, "build_side_probe_side",
                               lambda: _fetch_arrow(backend, sql))
    else:
        arrow = _fetch_arrow(backend, sql)
    return _as_ibis_result(backend, expr, arrow)
