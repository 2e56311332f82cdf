"""``shopscope behaviour …``: trends, funnels, retention, repurchase cohorts and paths over
the workspace's events (thin wrappers over :mod:`shopscope.behaviour.service`, the answers
the API and the dashboard give).

Steps are written ``view`` or ``add_to_cart:category=toys,channel=web|app``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shopscope.cli import (
    DEFAULT_WS,
    EndOpt,
    FormatOpt,
    OutputOpt,
    StartOpt,
    WorkspaceOpt,
    _emit,
    _open_workspace,
    check_range,
    console,
    err_console,
)
from shopscope.errors import OptionError

behaviour_app = typer.Typer(
    help="Behaviour analytics on events: trends, funnels, retention, cohorts, paths.",
    no_args_is_help=True)

Fmt = FormatOpt
Out = OutputOpt
Start = StartOpt
End = EndOpt
Grain = Annotated[str, typer.Option(help="day | week | month")]
By = Annotated[str | None, typer.Option(
    help="Breakdown: an events column, a properties key, or customer.<column>.")]
Source = Annotated[str, typer.Option(
    help="auto (events when there are events in the range, else orders), events, or "
    "orders: every placed order as a purchase event (no tracking data).")]


def _context(ws, source: str, start=None, end=None):
    """The workspace as a service context; the source it reads (the same choice as the
    dashboard's) is said on stderr before the analysis runs."""
    from shopscope.behaviour.service import choose
    from shopscope.core.service import LocalContext

    ctx = LocalContext(ws)
    err_console.print(choose(ctx, source, start, end).note, highlight=False, markup=False)
    return ctx


def _say_empty(answer) -> None:
    """An empty answer says why on stderr (the exit code stays 0: nothing went wrong)."""
    reason = answer.empty_reason
    if reason is not None:
        err_console.print(f"nothing to show: {reason.text()}", style="yellow",
                          highlight=False, markup=False)


def _grid(wide, matrix):
    """A cohort × period grid with the cohort (as a date) and its size as first columns."""
    if matrix.empty:  # no cohorts: no grid, and no dates to convert
        return wide.reset_index()
    grid = wide.reset_index()
    grid.columns = [str(c) for c in grid.columns]
    sizes = matrix.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
    grid.insert(1, "size", grid["cohort"].map(sizes).astype("Int64"))
    grid["cohort"] = grid["cohort"].dt.date
    return grid


@behaviour_app.command("trends")
def trends_command(
    workspace: WorkspaceOpt = DEFAULT_WS,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", "-m", help="pv, uv, dau, wau, mau, stickiness, events_per_visitor "
        "(repeat the option).")] = None,
    grain: Grain = "day", start: Start = None, end: End = None,
    event: Annotated[str | None, typer.Option(help="Only this step, e.g. view.")] = None,
    by: By = None,
    compare: Annotated[str | None, typer.Option(
        help="A second range START..END compared period by period.")] = None,
    source: Source = "auto",
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """PV, UV, active visitors and stickiness per period."""
    from shopscope.behaviour.service import TrendParams, trends
    from shopscope.errors import OptionError

    other = None
    if compare:
        first, sep, last = compare.partition("..")
        if not sep:
            raise OptionError(f"--compare {compare!r} is not START..END",
                              hint="e.g. --compare 2024-01-01..2024-01-31")
        other = (first, last)
    check_range(start, end)
    if other:
        check_range(*other, names=("--compare start", "--compare end"))
    params = TrendParams.model_validate(dict(
        metrics=tuple(metric or ("pv", "uv")), grain=grain, start=start, end=end, event=event,
        by=by, compare_start=other[0] if other else None,
        compare_end=other[1] if other else None, source=source))
    ws = _open_workspace(workspace)
    try:
        answer = trends(_context(ws, source, params.start, params.end), params)
    finally:
        ws.close()
    _say_empty(answer)
    result = answer.result
    # partial periods are labelled in tables and a column in exports, as for `kpi`
    frame = result.mark_partial(result.data if compare else result.wide())
    _emit(frame, fmt, output, title=f"trends by {grain}", grain=grain)


@behaviour_app.command("funnel")
def funnel_command(
    steps: Annotated[list[str] | None, typer.Argument(
        help="Two or more steps, in order (default: view add_to_cart checkout purchase on "
        "events; purchase purchase purchase, the repeat-purchase funnel, on orders).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WS,
    window: Annotated[str | None, typer.Option(
        help="Conversion window: 30m, 24h, 7d (default: 1d on events, 30d on orders).")
    ] = None,
    order: Annotated[str, typer.Option(help="sequential | any")] = "sequential",
    same_product: Annotated[bool, typer.Option(help="One product through all steps.")] = False,
    mode: Annotated[str, typer.Option(help="user (visitors) | order (every journey, with "
                                      "values)")] = "user",
    start: Start = None, end: End = None, by: By = None,
    trend: Annotated[str | None, typer.Option(
        help="Instead: conversion per day | week | month of the first step.")] = None,
    dropped_at: Annotated[int | None, typer.Option(
        help="Instead: the visitors who reached the step before this one but not it.")] = None,
    pii: Annotated[str, typer.Option(
        help="With --dropped-at: mask (default: ids that are e-mails or phone numbers become "
        "pseudonyms c_…) or raw.")] = "mask",
    source: Source = "auto",
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Conversion through ordered steps within a window: per-step counts, conversion,
    drop-off and time to convert."""
    from shopscope.behaviour import service

    check_range(start, end)
    question: dict[str, Any] = {
        "steps": tuple(steps) if steps else None, "window": window, "order": order,
        "same_product": same_product, "mode": mode, "start": start, "end": end, "by": by,
        "source": source}
    params = (service.DroppedParams(**question, at_step=dropped_at)
              if dropped_at is not None
              else service.FunnelTrendParams.model_validate(dict(**question, grain=trend)) if trend
              else service.FunnelParams(**question))
    if pii not in ("mask", "raw"):
        raise OptionError(f"unknown --pii {pii!r}", hint="use mask or raw")
    ws = _open_workspace(workspace)
    try:
        ctx = _context(ws, source, params.start, params.end)
        if isinstance(params, service.DroppedParams):
            from shopscope.auth import UserStore

            # The API's rule for exports: ids that are personal data leave as pseudonyms.
            key = UserStore(ws.path).secret("pseudonym").hex()
            frame = service.funnel_dropped(ctx, params, pii=pii,  # type: ignore[arg-type]
                                           pseudonym_key=key).frame
            title = f"dropped before step {dropped_at}"
        elif isinstance(params, service.FunnelTrendParams):
            trended = service.funnel_trend(ctx, params)
            _say_empty(trended)
            frame = trended.result
            title = f"funnel by {trend}"
        else:
            answer = service.funnel(ctx, params)
            _say_empty(answer)
            frame = answer.result.steps
            title = f"funnel ({mode} mode, window {answer.window})"
            if fmt == "table":  # the quartiles are in csv/json; a terminal is narrow
                keep = [c for c in ("by", "step", "name", "count", "conversion_from_previous",
                                    "conversion_overall", "dropped", "median_seconds",
                                    "value", "value_lost") if c in frame.columns]
                frame = frame[keep].rename(columns={
                    "conversion_from_previous": "conv. from prev.",
                    "conversion_overall": "conv. overall", "median_seconds": "median time"})
    finally:
        ws.close()
    _emit(frame, fmt, output, title=title,
          kinds={"median time": "seconds", "value": "money", "value_lost": "money"})
    if dropped_at is not None and fmt == "table":
        console.print(f"{len(frame):,} visitors")


@behaviour_app.command("retention")
def retention_command(
    workspace: WorkspaceOpt = DEFAULT_WS,
    start_event: Annotated[str | None, typer.Option(
        help="Cohort by the first of these events (default: any event).")] = None,
    return_event: Annotated[str | None, typer.Option(
        help="What counts as coming back (default: any event).")] = None,
    grain: Grain = "day",
    periods: Annotated[int, typer.Option(
        help="How many periods after the cohort's first period.")] = 30,
    mode: Annotated[str, typer.Option(help="exact (in period N) | unbounded (N or later)")
                    ] = "exact",
    start: Start = None, end: End = None, by: By = None,
    long: Annotated[bool, typer.Option(help="Long table instead of the cohort grid.")] = False,
    source: Source = "auto",
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Cohort retention: share of each cohort back in period N."""
    from shopscope.behaviour.service import RetentionParams, retention

    check_range(start, end)
    params = RetentionParams.model_validate(dict(
        start_event=start_event, return_event=return_event, grain=grain, periods=periods,
        mode=mode, start=start, end=end, by=by, source=source))
    ws = _open_workspace(workspace)
    try:
        answer = retention(_context(ws, source, params.start, params.end), params)
    finally:
        ws.close()
    _say_empty(answer)
    result = answer.result
    frame = result.matrix if long or by else _grid(result.wide(), result.matrix)
    _emit(frame, fmt, output, title=f"{grain} retention ({mode})", grain=grain,
          kinds={c: "rate" for c in frame.columns if str(c).isdigit()})


@behaviour_app.command("cohorts")
def cohorts_command(
    workspace: WorkspaceOpt = DEFAULT_WS,
    grain: Grain = "month",
    periods: Annotated[int, typer.Option(help="Periods after the first order.")] = 12,
    value: Annotated[str, typer.Option(
        help="rate_exact | rate_unbounded | ltv | revenue | retained_exact")] = "rate_exact",
    start: Start = None, end: End = None,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Repurchase cohorts on orders: share buying again N periods after the first order,
    or cumulative revenue per customer (--value ltv)."""
    from shopscope.behaviour.service import CohortParams, cohorts
    from shopscope.core.service import LocalContext

    check_range(start, end)
    params = CohortParams.model_validate(dict(grain=grain, periods=periods, start=start, end=end))
    ws = _open_workspace(workspace)
    try:
        result = cohorts(LocalContext(ws), params)
    finally:
        ws.close()
    frame = _grid(result.wide(value), result.matrix)
    kind = "money" if value in ("ltv", "revenue") else "count" if value.startswith(
        "retained") else "rate"
    _emit(frame, fmt, output, title=f"repurchase cohorts: {value}", grain=grain,
          kinds={c: kind for c in frame.columns if str(c).isdigit()})


@behaviour_app.command("paths")
def paths_command(
    workspace: WorkspaceOpt = DEFAULT_WS,
    start: Annotated[str | None, typer.Option("--from", help="Paths starting at this step.")
                     ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Paths ending at this step.")] = None,
    length: Annotated[int, typer.Option(help="Longest path, in steps.")] = 5,
    top: Annotated[int, typer.Option(help="How many paths.")] = 20,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Event types left out (repeat the option).")] = None,
    collapse_repeats: Annotated[bool, typer.Option(
        help="view view view → view.")] = True,
    gap: Annotated[str, typer.Option(help="Session gap when events have no session id.")
                   ] = "30m",
    start_date: Start = None, end_date: End = None,
    source: Source = "auto",
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """The most common paths through sessions, with the next (or previous) step."""
    from shopscope.behaviour.service import PathParams, paths

    check_range(start_date, end_date, names=("--start-date", "--end-date"))
    params = PathParams.model_validate(dict(start=start, end=end, length=length, top=top,
                        exclude=tuple(exclude or ()), collapse_repeats=collapse_repeats,
                        gap=gap, start_date=start_date, end_date=end_date, source=source))
    ws = _open_workspace(workspace)
    try:
        answer = paths(_context(ws, source, params.start_date, params.end_date), params)
    finally:
        ws.close()
    _say_empty(answer)
    result = answer.result
    frame = result.paths.drop(columns=["path"])
    _emit(frame, fmt, output, title=f"top paths of {result.sessions:,} sessions")
    if fmt == "table":
        nxt = result.next_steps if len(result.next_steps) else result.previous_steps
        if len(nxt):
            _emit(nxt, "table", None, title="next step" if len(result.next_steps)
                  else "previous step")
