"""``shopscope products …``: the product table, one product, frequently-bought-together rules
and bundle suggestions (thin wrappers over :mod:`shopscope.products.service`, the answers
the API and the dashboard give). Dates are days, ``--end`` included."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from shopscope.cli import (
    DEFAULT_WS,
    EndOpt,
    FormatOpt,
    OutputOpt,
    StartOpt,
    WorkspaceOpt,
    _emit,
    check_format,
    check_range,
    console,
    run_local,
)
from shopscope.core.periods import parse_date

products_app = typer.Typer(
    help="Product analytics: SKU and category performance, frequently bought together, "
    "bundles.", no_args_is_help=True)

Fmt = FormatOpt
Out = OutputOpt
Start = StartOpt
End = EndOpt
Level = Annotated[str, typer.Option(help="product (SKUs) | category")]

_TABLE_COLUMNS = ("rank", "rank_change", "gmv", "net_sales", "units", "orders", "buyers",
                  "repeat_share", "avg_price", "return_rate", "view_to_purchase")
_KINDS = {"gmv": "money", "net_sales": "money", "avg_price": "money", "aov": "money",
          "added_value": "money", "price": "money", "units": "count", "orders": "count",
          "buyers": "count", "count": "count", "rank": "count", "rank_change": "number",
          "repeat_share": "rate", "return_rate": "rate", "view_to_purchase": "rate",
          "support": "rate", "confidence": "rate", "co_rate": "rate", "lift": "number",
          "leverage": "number", "conviction": "number", "first_gmv": "money",
          "first_units": "count"}


def _range(start: str | None, end: str | None) -> dict:
    check_range(start, end)
    return {"start": parse_date(start, "--start"), "end": parse_date(end, "--end")}


def _kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {c: k for c, k in _KINDS.items() if c in frame.columns}


def _items(items: tuple[str, ...], names: dict[str, str], with_names: bool) -> str:
    return " + ".join(f"{i} {names[i]}" if with_names and i in names else i for i in items)


@products_app.command("table")
def table(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    level: Level = "product",
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in id, SKU or name.")] = None,
    sort: Annotated[str, typer.Option(help="Column to sort by (descending).")] = "gmv",
    asc: Annotated[bool, typer.Option("--asc", help="Sort ascending.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 30,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """SKUs (or categories) by GMV: net sales, units, buyers, 复购, return rate, rank change."""
    from shopscope.products import service as svc

    check_format(fmt)
    params = svc.make(svc.TableParams, **_range(start, end), level=level, category=category,
                      search=search, sort=sort, desc=not asc, limit=limit)
    result, currency = run_local(workspace, lambda ctx: svc.product_table(ctx, params))
    key = "product_id" if level == "product" else "category"
    if fmt != "table":
        frame = result.filtered.drop(columns=["top_reasons"])
        _emit(frame, fmt, output, kinds=_kinds(frame), currency=currency)
        return
    names = ["product_id", "name", "category"] if level == "product" else ["category"]
    frame = result.rows[[*names, *_TABLE_COLUMNS]]
    perf = result.performance
    span = f"{perf.range.start} to {perf.range.end}"
    _emit(frame, fmt, output, title=f"{key} performance, {span} ({result.matched} matched)",
          kinds=_kinds(frame), currency=currency,
          footnote=(f"shop total GMV {perf.totals['gmv']:,.2f}, of which on no product line "
                    f"{perf.unattributed['gmv']:,.2f}"))


@products_app.command("detail")
def detail(
    product_id: Annotated[str, typer.Argument(help="The product id.")],
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
) -> None:
    """One product: its numbers, trend, funnel, return reasons and what is bought with it."""
    from shopscope.products import service as svc

    params = svc.make(svc.DetailParams, product_id=product_id, **_range(start, end))
    d, currency = run_local(workspace, lambda ctx: svc.product_detail(ctx, params))
    name = d.info.get("name") or ""
    console.print(f"[bold]{product_id}[/] {name} · {d.info.get('category') or ''} · "
                  f"{d.range.start} to {d.range.end}", highlight=False)
    if d.row is None:
        console.print("no sales in this range")
    else:
        row = pd.DataFrame([{c: d.row[c] for c in _TABLE_COLUMNS}])
        _emit(row, "table", None, kinds=_kinds(row), currency=currency)
    f = d.funnel
    console.print(f"funnel: {f['viewers']} viewed → {f['carters']} carted → "
                  f"{f['purchasers']} purchased (events); {f['buyers']} buyers (orders)")
    if len(d.trend):
        _emit(d.trend[["period", "gmv", "units", "orders"]], "table", None,
              title=f"by {d.grain}", grain=d.grain, kinds=_kinds(d.trend), currency=currency)
    if len(d.reasons):
        _emit(d.reasons, "table", None, title="return reasons")
    if len(d.bought_with):
        _emit(d.bought_with[["item", "name", "count", "confidence", "lift"]], "table", None,
              title="bought with", kinds=_kinds(d.bought_with))


@products_app.command("rules")
def rules(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    level: Level = "product",
    min_support: Annotated[float, typer.Option(help="Share of baskets, 0..1.")] = 0.01,
    min_confidence: Annotated[float, typer.Option(help="0..1")] = 0.0,
    min_lift: Annotated[float, typer.Option()] = 1.0,
    max_len: Annotated[int, typer.Option(help="2: pairs only; 3: pairs and triples.")] = 3,
    sort: Annotated[str, typer.Option(help="lift | confidence | support | leverage | "
                                      "conviction")] = "lift",
    limit: Annotated[int, typer.Option(min=1)] = 30,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Frequently bought together: association rules A → C (support, confidence, lift,
    leverage, conviction) on the baskets of non-cancelled orders."""
    from shopscope.products import service as svc

    check_format(fmt)
    params = svc.make(svc.RuleParams, **_range(start, end), level=level,
                      min_support=min_support, min_confidence=min_confidence,
                      min_lift=min_lift, max_len=max_len, sort=sort, limit=limit)
    out, currency = run_local(workspace, lambda ctx: svc.rules(ctx, params))
    frame = out.rules.drop(columns=["basket_value"])
    table_ = fmt == "table"
    if table_:
        frame = out.top.drop(columns=["basket_value", "antecedent_support",
                                      "consequent_support"])
    for col in ("antecedents", "consequents"):
        frame[col] = [_items(v, out.names, table_) for v in frame[col]]
    _emit(frame, fmt, output, kinds=_kinds(frame), currency=currency,
          title=f"{out.total} rules over {out.baskets:,} baskets "
                f"({out.range.start} to {out.range.end})")


@products_app.command("bundles")
def bundles(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    min_support: Annotated[float, typer.Option(help="Share of baskets, 0..1.")] = 0.005,
    max_len: Annotated[int, typer.Option(help="2: pairs only; 3: pairs and triples.")] = 3,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Bundle suggestions: pairs and triples by expected added basket value, with their
    co-purchase rate and the AOV of the baskets holding them."""
    from shopscope.products import service as svc

    check_format(fmt)
    params = svc.make(svc.BundleParams, **_range(start, end), min_support=min_support,
                      max_len=max_len, limit=limit)
    out, currency = run_local(workspace, lambda ctx: svc.bundles(ctx, params))
    frame = out.bundles.copy()
    frame["items"] = [_items(v, out.names, fmt == "table") for v in frame["items"]]
    _emit(frame, fmt, output, kinds=_kinds(frame), currency=currency,
          title=f"bundles ({out.range.start} to {out.range.end})")
