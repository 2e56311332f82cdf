"""``shopscope kpi`` and ``shopscope report``: the KPI table and the HTML report.

Top-level commands (registered through ``Area.top_commands``): parse the options, call
:mod:`shopscope.kpis.service` on a :class:`~shopscope.core.service.LocalContext`, print.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from shopscope.cli import (
    DEFAULT_WS,
    WorkspaceOpt,
    _emit,
    _lang,
    _open_workspace,
    _period_label,
    check_range,
    console,
)
from shopscope.core.service import LocalContext
from shopscope.errors import ShopscopeError
from shopscope.kpis import service
from shopscope.kpis.queries import METRICS, mark_partial, metric_change
from shopscope.ui.clifmt import Kind, escape, exact, fmt_value, minor_digits, print_table

#: The columns of the wide table when ``--metrics`` is not given (the table fits 80 columns).
DEFAULT_KPIS = ("gmv", "net_sales", "orders", "buyers", "new_buyers", "aov", "units_per_order",
                "repurchase_rate", "cancellation_rate", "return_rate")
_CHANGE_COLUMNS = {"value": "value", "previous": "previous", "pop_change": "vs previous",
                   "yoy_value": "year ago", "yoy_change": "vs year ago"}
_UNIT_KIND: dict[str, Kind] = {"currency": "money", "ratio": "rate", "count": "count",
                               "number": "number"}


End = Annotated[str | None, typer.Option(help=(
    "Last day (YYYY-MM-DD), included; say --end-inclusive with it (it used to be exclusive)."))]
EndInclusive = Annotated[bool | None, typer.Option(
    "--end-inclusive/--end-exclusive",
    help="Required with --end while its meaning changes: --end-inclusive includes that day "
         "(the convention everywhere); --end-exclusive keeps the old meaning.")]


def _last_day(end: str | None, end_inclusive: bool | None, command: str) -> dt.date | None:
    return service.last_day(end, end_inclusive, where=f"for shopscope {command}",
                            names=("--end", "--end-inclusive", "--end-exclusive"))


def kpi(
    workspace: WorkspaceOpt = DEFAULT_WS,
    grain: Annotated[str, typer.Option(help="day | week | month | quarter | year")] = "month",
    by: Annotated[str | None, typer.Option(help="channel | country | region | category")] = None,
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD), inclusive.")] = None,
    end: End = None,
    end_inclusive: EndInclusive = None,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metric names.")] = None,
    changes: Annotated[bool, typer.Option(help="Long form with 环比/同比 changes.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json | parquet")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """KPIs per period (GMV, net sales, orders, buyers, AOV 客单价, 复购率 …)."""
    if fmt not in ("table", "csv", "json", "parquet"):
        raise ShopscopeError(f"unknown format {fmt!r}", hint="use table, csv, json or parquet")
    names = [m.strip() for m in metrics.split(",")] if metrics else list(DEFAULT_KPIS)
    service.check_metrics(names)  # before the range, as always
    check_range(start, end)
    last_day = _last_day(end, end_inclusive, "kpi")
    params = service.KpiParams.of(grain=grain, by=by, start=start, end=last_day, metrics=names)
    ws = _open_workspace(workspace)
    try:
        currency = ws.settings.currency
        ctx = LocalContext(ws)
        table = service.kpi_table(ctx, params)
        last = service.data_end(ctx)
    finally:
        ws.close()
    title = f"KPIs by {grain}" + (f" and {by}" if by else "")
    shown = table.data.reset_index(drop=True) if changes else table.wide()
    frame = mark_partial(shown, grain, last, params.dates)
    footnote = (f"(partial): the data end on {last:%Y-%m-%d}, before the period does"
                if last is not None and frame["partial"].any() else "")
    if changes:
        _emit_changes(frame, fmt, output, title, grain, by, currency, footnote)
    else:
        _emit(frame, fmt, output, title=title, grain=grain, currency=currency, footnote=footnote)


def _emit_changes(frame: pd.DataFrame, fmt: str, output: Path | None, title: str, grain: str,
                  by: str | None, currency: str, footnote: str) -> None:
    """The long KPI table with 环比/同比: each value in its metric's unit, changes of rates
    in percentage points and of amounts and counts in percent (see ``metric_change``)."""
    kinds = dict.fromkeys(_CHANGE_COLUMNS, "number")
    digits = minor_digits(currency)
    if fmt != "table":
        out = frame
        if fmt in ("csv", "json"):  # counts written whole, in a column that mixes units
            out = frame.copy()
            for col in ("value", "previous", "yoy_value"):
                out[col] = pd.Series(
                    [round(v) if METRICS[m].unit == "count" and not pd.isna(v) else
                     exact(v, _UNIT_KIND[METRICS[m].unit], digits, METRICS[m].ratio)
                     for v, m in zip(frame[col], frame["metric"], strict=True)], dtype=object)
            kinds.update(dict.fromkeys(("value", "previous", "yoy_value"), "text"))
        _emit(out, fmt, output, kinds=kinds, currency=currency)
        return
    rows = []
    for r in frame.itertuples(index=False):
        kind = _UNIT_KIND[METRICS[r.metric].unit]
        row = {"period": _period_label(r.period, grain) + (" (partial)" if r.partial else "")}
        if by:
            row[by] = str(getattr(r, by))
        row["metric"] = METRICS[r.metric].label_en
        row["value"] = fmt_value(r.value, kind, digits)
        for earlier, change in (("previous", "pop_change"), ("yoy_value", "yoy_change")):
            row[earlier] = fmt_value(getattr(r, earlier), kind, digits)
            moved = metric_change(r.metric, r.value, getattr(r, earlier))
            row[change] = "–" if moved is None else moved.text()
        rows.append(row)
    cells = pd.DataFrame(rows, columns=["period", *([by] if by else []), "metric",
                                        *_CHANGE_COLUMNS])
    note = "changes of rates in percentage points (pp), of amounts and counts in percent"
    print_table(cells, console, title=title, numeric=list(_CHANGE_COLUMNS),
                keys=["period", *([by] if by else []), "metric"], headers=_CHANGE_COLUMNS,
                footnote="; ".join(x for x in (f"amounts in {currency}", note, footnote) if x))


def report(
    workspace: WorkspaceOpt = DEFAULT_WS,
    output: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD), inclusive.")] = None,
    end: End = None,
    end_inclusive: EndInclusive = None,
) -> None:
    """Write the HTML KPI report (charts work offline)."""
    from shopscope.kpis.report import write_kpi_report

    language = _lang(lang)
    check_range(start, end)
    last_day = _last_day(end, end_inclusive, "report")
    ws = _open_workspace(workspace)
    try:
        path = write_kpi_report(LocalContext(ws), output, lang=language,
                                currency=ws.settings.currency, start=start, end=last_day,
                                timezone=ws.settings.timezone)
    finally:
        ws.close()
    console.print(f"report written to [bold]{escape(path)}[/]")
