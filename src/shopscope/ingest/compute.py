"""Computed columns and row filters of a mapping file, compiled to engine expressions.

An expression is written in a small, safe subset of Python syntax and compiled once into
an Ibis expression over the source's columns (text as read, joined columns, earlier
computed ones); nothing runs in Python per row.

* **names**: a column of the file (``Qty``, ``宝贝数量``), a joined one (``items.total``),
  an earlier computed one; ``col("Lineitem price")`` for a name with spaces or symbols;
* **constants**: ``'text'``, ``12``, ``0.5``, ``True``, ``None``;
* **arithmetic** ``+ - * / // %`` on numbers (text is read as a number, with the mapping's
  decimal mark and currency signs, as mapped number columns are);
* **comparisons** ``== != < <= > >=``, ``x in ('a', 'b')``, ``not in``, ``and or not``;
  a comparison with a number constant reads the text as a number;
* ``a if condition else b``;
* functions: ``concat(a, b, …)`` (empty parts count as ''), ``number(x)``, ``text(x)``,
  ``date(x, 'format', …)`` (formats as under ``[source.dates]``; ISO without one),
  ``year month day hour minute weekday(x)``, ``strftime(x, '%Y%m%d')``,
  ``map(x, {'from': 'to', …}, default)``, ``coalesce(a, b, …)``, ``nullif(x, '-')``,
  ``empty(x)`` (null or blank), ``upper lower trim length(x)``, ``left(x, n)``,
  ``replace(x, 'old', 'new')``,
  ``regex(x, 'pattern with (group)')``, ``contains startswith endswith(x, 'text')``,
  ``round(x, n)``, ``abs(x)``, ``least greatest(a, b, …)``;
* aggregates, in a join's ``aggregate`` only: ``sum(x)``, ``count()``, ``count(x)``,
  ``min max mean first(x)``.

>>> import ibis
>>> t = ibis.memtable({"Qty": ["2", "3"], "Price": ["4.50", "1,000.00"],
...                    "Day": ["2024-05-01", "x"]})
>>> e = compile_expression("Qty * Price", Names(t), decimal=".")
>>> t.select(v=e).to_pyarrow().column("v").to_pylist()
[9.0, 3000.0]
>>> e = compile_expression("concat(strftime(date(Day, '%Y-%m-%d'), '%Y%m%d'), '-', Qty)",
...                        Names(t), decimal=".")
>>> t.select(v=e).to_pyarrow().column("v").to_pylist()
['20240501-2', '-3']
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from shopscope.ingest.parse import parse_float, parse_timestamp

_SCALAR_FUNCTIONS = frozenset({
    "col", "concat", "number", "text", "date", "year", "month", "day", "hour", "minute",
    "weekday", "strftime", "map", "coalesce", "nullif", "upper", "lower", "trim", "length",
    "left", "replace", "regex", "contains", "startswith", "endswith", "round", "abs",
    "least", "greatest", "empty",
})
AGGREGATES = frozenset({"sum", "count", "min", "max", "mean", "first"})
_DATE_PARTS = {"year": "year", "month": "month", "day": "day", "hour": "hour",
               "minute": "minute", "weekday": "day_of_week"}


class ExpressionError(ValueError):
    """An expression that cannot be compiled: ``str()`` says what and where in it."""


@dataclass
class Names:
    """The columns an expression may name: the table's, plus ones computed before."""

    table: ir.Table
    extra: dict[str, ir.Value] = field(default_factory=dict)

    def get(self, name: str) -> ir.Value:
        if name in self.extra:
            return self.extra[name]
        if name in self.table.columns:
            return self.table[name]
        known = [*self.table.columns, *self.extra]
        known = [c for c in known if not c.startswith("_")]
        close = difflib.get_close_matches(name, known, n=1)
        maybe = f"; did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(known[:40]) + (f", … ({len(known)} in all)" if len(known) > 40 else "")
        raise ExpressionError(f"no column {name!r}{maybe} (columns: {shown})")


def check_syntax(expr: str, *, aggregate: bool = False) -> None:
    """Raise :class:`ExpressionError` when ``expr`` is not an expression this module
    compiles (unknown function, statement, attribute call …), without any table."""
    tree = _parse(expr)
    allowed = _SCALAR_FUNCTIONS | (AGGREGATES if aggregate else frozenset())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ExpressionError("only plain function calls such as concat(a, b)")
            if node.func.id not in allowed:
                if node.func.id in AGGREGATES:
                    raise ExpressionError(
                        f"{node.func.id}() sums rows: use it in a join's aggregate")
                close = difflib.get_close_matches(node.func.id, sorted(allowed), n=1)
                maybe = f"; did you mean {close[0]}()?" if close else ""
                raise ExpressionError(f"unknown function {node.func.id}(){maybe}")
            if node.keywords:
                raise ExpressionError(f"{node.func.id}() takes no keyword arguments")
        elif isinstance(node, ast.Attribute) and not _dotted(node):
            raise ExpressionError("a dotted name is a joined column such as items.price")
        elif not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def _parse(expr: str) -> ast.Expression:
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not an expression: {exc.msg} at column {exc.offset}") from None


_ALLOWED_NODES = (
    ast.Expression, ast.Name, ast.Load, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.Attribute, ast.Tuple, ast.List, ast.Dict,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd, ast.Not,
    ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
)


def _dotted(node: ast.AST) -> str | None:
    """``items.total`` → "items.total" (a joined column), else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def to_number(value: ir.Value, decimal: str = ".") -> ir.Value:
    """Numbers as they are; text read as a number the way mapped number columns are."""
    if value.type().is_numeric():
        return value.cast("float64")
    if value.type().is_boolean():
        return value.cast("int64").cast("float64")
    text = value.cast("string").strip().re_replace(r"^[£$€¥￥]\s*|\s*[£$€¥￥]$", "")
    if decimal == ",":
        text = text.re_replace("[\\s'\u00a0\u202f]", "")
    return parse_float(text.nullif(""), decimal)


def to_timestamp(value: ir.Value, formats: list[str] | None = None) -> ir.Value:
    if value.type().is_timestamp():
        return value
    if value.type().is_date():
        return value.cast("timestamp")
    return parse_timestamp(value.cast("string").strip().nullif(""), formats or ["iso"])


def _text(value: ir.Value) -> ir.StringValue:
    return value if value.type().is_string() else value.cast("string")


def compile_expression(expr: str, names: Names, *, decimal: str = ".",
                       aggregate: bool = False) -> ir.Value:
    """``expr`` as an Ibis expression over ``names`` (see the module's docstring).

    Raises
    ------
    ExpressionError
        A syntax error, an unknown function or column, a wrong number of arguments.
    """
    check_syntax(expr, aggregate=aggregate)
    return _Compiler(names, decimal).visit(_parse(expr).body)


class _Compiler:
    def __init__(self, names: Names, decimal: str) -> None:
        self.names = names
        self.decimal = decimal

    def num(self, v: ir.Value) -> ir.Value:
        return to_number(v, self.decimal)

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return ibis.null()
            return ibis.literal(node.value)
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            return self.names.get(_dotted(node) or "")
        if isinstance(node, ast.BinOp):
            left, right = self.num(self.visit(node.left)), self.num(self.visit(node.right))
            ops: dict[type, Callable[[Any, Any], Any]] = {
                ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                ast.Mult: lambda a, b: a * b,
                ast.Div: lambda a, b: (b == 0).ifelse(ibis.null("float64"), a / b),
                ast.FloorDiv: lambda a, b: (b == 0).ifelse(ibis.null("float64"),
                                                           (a / b).floor().cast("float64")),
                ast.Mod: lambda a, b: (b == 0).ifelse(ibis.null("float64"), a % b),
            }
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            value = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return ~value.cast("boolean")
            return -self.num(value) if isinstance(node.op, ast.USub) else self.num(value)
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v).cast("boolean") for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            return ibis.cases((self.visit(node.test).cast("boolean").fill_null(False),
                               self.visit(node.body)), else_=self.visit(node.orelse))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise ExpressionError(f"{type(node).__name__} cannot be used here")

    def compare(self, node: ast.Compare) -> ir.BooleanValue:
        out = None
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            left = self.visit(left_node)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right_node, ast.Tuple | ast.List):
                    raise ExpressionError("'in' needs a list of constants: x in ('a', 'b')")
                options = [self.literal(v) for v in right_node.elts]
                numeric = all(isinstance(o, int | float) for o in options)
                value = self.num(left) if numeric else _text(left).strip()
                test = value.isin(options)
                result = ~test if isinstance(op, ast.NotIn) else test
            else:
                right = self.visit(right_node)
                number_side = any(isinstance(n, ast.Constant) and isinstance(n.value, int | float)
                                  and not isinstance(n.value, bool)
                                  for n in (left_node, right_node))
                if number_side or (left.type().is_numeric() and right.type().is_numeric()):
                    left, right = self.num(left), self.num(right)
                elif left.type().is_temporal() or right.type().is_temporal():
                    left, right = to_timestamp(left), to_timestamp(right)
                else:
                    left, right = _text(left).strip(), _text(right).strip()
                cmp = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                       ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
                       ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}
                result = cmp[type(op)](left, right)
            out = result if out is None else out & result
            left_node = right_node
        assert out is not None
        return out

    @staticmethod
    def literal(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, int | float):
            return -node.operand.value
        raise ExpressionError("expected a constant such as 'text' or 12")

    def call(self, node: ast.Call) -> ir.Value:
        name = node.func.id  # type: ignore[attr-defined]
        args = node.args

        def need(lo: int, hi: int | None = None) -> None:
            hi = lo if hi is None else hi
            if not lo <= len(args) <= (math.inf if hi < 0 else hi):
                want = f"{lo}" if lo == hi else f"{lo} or more" if hi < 0 else f"{lo} to {hi}"
                raise ExpressionError(f"{name}() takes {want} argument(s), got {len(args)}")

        def const(i: int) -> Any:
            return self.literal(args[i])

        if name == "col":
            need(1)
            return self.names.get(str(const(0)))
        if name == "count" and not args:
            return self.names.table.count()
        values = None
        if name not in ("map", "date", "strftime", "left", "replace", "regex", "contains",
                        "startswith", "endswith", "round", "nullif"):
            values = [self.visit(a) for a in args]
        if name == "concat":
            need(1, -1)
            parts = [_text(v).fill_null("") for v in values or []]
            out = parts[0]
            for p in parts[1:]:
                out = out.concat(p)
            return out
        if name == "number":
            need(1)
            return self.num(values[0])  # type: ignore[index]
        if name == "text":
            need(1)
            return _text(values[0]).strip().nullif("")  # type: ignore[index]
        if name == "date":
            need(1, -1)
            formats = [str(const(i)) for i in range(1, len(args))]
            return to_timestamp(self.visit(args[0]), formats)
        if name in _DATE_PARTS:
            need(1)
            ts = to_timestamp(values[0])  # type: ignore[index]
            part = getattr(ts, _DATE_PARTS[name])()
            return (part.index() + 1 if name == "weekday" else part).cast("int64")
        if name == "strftime":
            need(2)
            return to_timestamp(self.visit(args[0])).strftime(str(const(1)))
        if name == "map":
            need(2, 3)
            if not isinstance(args[1], ast.Dict) or None in args[1].keys:  # None: a **spread
                raise ExpressionError("map() needs a table such as {'paid': 'completed'}")
            pairs = {str(self.literal(k)): self.literal(v)
                     for k, v in zip(args[1].keys, args[1].values, strict=True)
                     if k is not None}
            value = _text(self.visit(args[0])).strip()
            default = self.visit(args[2]) if len(args) == 3 else ibis.null()
            return ibis.cases(*[(value == k, ibis.literal(v)) for k, v in pairs.items()],
                              else_=default)
        if name == "coalesce":
            need(1, -1)
            return ibis.coalesce(*values)  # type: ignore[misc]
        if name == "nullif":
            need(2)
            value = self.visit(args[0])
            return (_text(value).strip() == str(const(1))).ifelse(ibis.null(), value)
        if name == "empty":
            need(1)
            return _text(values[0]).strip().nullif("").isnull()  # type: ignore[index]
        if name in ("upper", "lower", "trim", "length"):
            need(1)
            text = _text(values[0])  # type: ignore[index]
            return {"upper": text.upper, "lower": text.lower, "trim": text.strip,
                    "length": text.length}[name]()
        if name == "left":
            need(2)
            return _text(self.visit(args[0])).left(int(const(1)))
        if name == "replace":
            need(3)
            return _text(self.visit(args[0])).replace(str(const(1)), str(const(2)))
        if name == "regex":
            need(2)
            return _text(self.visit(args[0])).re_extract(str(const(1)), 1).nullif("")
        if name in ("contains", "startswith", "endswith"):
            need(2)
            text = _text(self.visit(args[0]))
            return getattr(text, name)(str(const(1)))
        if name == "round":
            need(1, 2)
            return self.num(self.visit(args[0])).round(int(const(1)) if len(args) == 2 else 0)
        if name == "abs":
            need(1)
            return self.num(values[0]).abs()  # type: ignore[index]
        if name in ("least", "greatest"):
            need(2, -1)
            return getattr(ibis, name)(*[self.num(v) for v in values or []])
        # aggregates (check_syntax lets them through only in a join's aggregate)
        need(1)
        value = values[0]  # type: ignore[index]
        if name == "sum":
            return self.num(value).sum()
        if name == "mean":
            return self.num(value).mean()
        if name == "count":
            return value.count()
        if name == "first":
            return value.first()
        return getattr(value, name)()
