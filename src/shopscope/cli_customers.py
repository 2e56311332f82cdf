"""``shopscope customers …`` and ``shopscope audience …``: thin wrappers over
:mod:`shopscope.analytics.customers`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from shopscope.cli import (
    DEFAULT_WS,
    WorkspaceOpt,
    _emit,
    _open_workspace,
    check_range,
    console,
)
from shopscope.clifmt import escape, plural
from shopscope.errors import ShopscopeError

customers_app = typer.Typer(help="Customer layering: RFM segments and lifecycle stages.",
                            no_args_is_help=True)
audience_app = typer.Typer(help="Audiences: filters over segments, stages, tags and CLV.",
                           no_args_is_help=True)

AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Day to look from (YYYY-MM-DD); default: the day after the last order.")]
Fmt = Annotated[str, typer.Option("--format", help="table | csv | json | parquet")]
Out = Annotated[Path | None, typer.Option(help="Write to this file.")]


def _as_of(ws, as_of: str | None) -> dt.date:  # noqa: ANN001
    if as_of:
        try:
            return dt.date.fromisoformat(as_of)
        except ValueError:
            raise ShopscopeError(f"--as-of {as_of!r} is not a date", hint="use YYYY-MM-DD") from None
    last = ws.store.table("orders").ordered_at.max().execute()
    if last is None or last != last:
        raise ShopscopeError("no orders loaded", hint="ingest orders first")
    return last.date() + dt.timedelta(days=1)


@customers_app.command("rfm")
def rfm(
    workspace: WorkspaceOpt = DEFAULT_WS,
    as_of: AsOf = None,
    scheme: Annotated[str, typer.Option(help="classic (8 segments) or eleven")] = "classic",
    frequency: Annotated[str, typer.Option(help="orders or days")] = "orders",
    customers: Annotated[bool, typer.Option(help="One row per customer instead of "
                                            "segment totals.")] = False,
    fmt: Fmt = "table",
    output: Out = None,
) -> None:
    """RFM segments: size, share and net sales per segment (or per customer)."""
    from shopscope.analytics.customers.rfm import (
        CLASSIC_SEGMENTS,
        ELEVEN,
        classic_segment,
        eleven_segment,
        rfm_scores,
        rfm_table,
        segment_summary,
    )

    if scheme not in ("classic", "eleven"):
        raise ShopscopeError(f"unknown scheme {scheme!r}", hint="use classic or eleven")
    ws = _open_workspace(workspace)
    try:
        day = _as_of(ws, as_of)
        scored = rfm_scores(rfm_table(ws.store, day, frequency=frequency))  # type: ignore[arg-type]
        seg = classic_segment(scored) if scheme == "classic" else eleven_segment(scored)
        if customers:
            frame = seg.order_by("customer_id").execute()
        else:
            frame = segment_summary(seg, scheme).data  # type: ignore[arg-type]
            labels = {s.key: f"{s.label_en} {s.label_zh}"
                      for s in (*CLASSIC_SEGMENTS.values(), *ELEVEN.values())}
            frame.insert(1, "label", frame.segment.map(labels))
            if fmt == "table":  # the label says it all on a narrow terminal
                frame = frame.drop(columns="segment")
    finally:
        ws.close()
    _emit(frame, fmt, output, title=f"RFM segments as of {day}")


@customers_app.command("lifecycle")
def lifecycle(
    workspace: WorkspaceOpt = DEFAULT_WS,
    as_of: AsOf = None,
    new_days: Annotated[int | None, typer.Option(help="Window for new customers.")] = None,
    active_days: Annotated[int | None, typer.Option(help="Window for active.")] = None,
    churn_days: Annotated[int | None, typer.Option(help="Days without a purchase = churned.")]
    = None,
    fmt: Fmt = "table",
    output: Out = None,
) -> None:
    """Customers per lifecycle stage (windows given, or derived from purchase gaps)."""
    from shopscope.analytics.customers.lifecycle import (
        STAGES,
        LifecycleWindows,
        derive_windows,
        stages_as_of,
    )

    ws = _open_workspace(workspace)
    try:
        day = _as_of(ws, as_of)
        given = (new_days, active_days, churn_days)
        if all(v is not None for v in given):
            windows = LifecycleWindows(*given)  # type: ignore[arg-type]
            how = "given"
        elif any(v is not None for v in given):
            raise ShopscopeError("give all three windows or none",
                                 hint="--new-days, --active-days and --churn-days")
        else:
            windows = derive_windows(ws.store, day).windows
            how = "derived from the shop's inter-purchase gaps"
        stages = stages_as_of(ws.store, day, windows)
        counts = stages.group_by("stage").aggregate(customers=stages.count()).execute()
    finally:
        ws.close()
    counts["label"] = counts.stage.map({k: f"{s.label_en} {s.label_zh}"
                                        for k, s in STAGES.items()})
    order = {k: i for i, k in enumerate(STAGES)}
    counts = counts.sort_values("stage", key=lambda s: s.map(order))[
        ["stage", "label", "customers"]]
    if fmt == "table":
        console.print(f"windows ({how}): new ≤ {plural(windows.new_days, 'day')}, active ≤ "
                      f"{plural(windows.active_days, 'day')}, churned ≥ "
                      f"{plural(windows.churn_days, 'day')}")
    _emit(counts, fmt, output, title=f"Lifecycle stages as of {day}")


def _definition(name_or_file: str, ws):  # noqa: ANN001, ANN202
    from shopscope.analytics.customers.audiences import AudienceStore, parse_definition

    path = Path(name_or_file)
    if path.suffix == ".json" and path.exists():
        return parse_definition(path.read_text(encoding="utf-8"))
    return AudienceStore(ws.path).load(name_or_file)


@audience_app.command("save")
def audience_save(file: Path, workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Save an audience definition (JSON) in the workspace, to re-run on new data."""
    from shopscope.analytics.customers.audiences import AudienceStore, parse_definition

    if not file.exists():
        raise ShopscopeError(f"{file}: no such file", hint="write the definition as JSON")
    definition = parse_definition(file.read_text(encoding="utf-8"))
    ws = _open_workspace(workspace)
    try:
        AudienceStore(ws.path).save(definition)
    finally:
        ws.close()
    console.print(f"saved audience {escape(repr(definition.name))}")


@audience_app.command("list")
def audience_list(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Saved audience definitions."""
    from shopscope.analytics.customers.audiences import AudienceStore

    for name in AudienceStore(workspace).list():
        typer.echo(name)


@audience_app.command("run")
def audience_run(
    name: Annotated[str, typer.Argument(help="Saved audience name, or a .json definition.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    as_of: AsOf = None,
    export: Annotated[Path | None, typer.Option(help="Write members to CSV/Parquet.")] = None,
    pii: Annotated[str, typer.Option(help="mask (default), hash or raw")] = "mask",
) -> None:
    """Size and value of an audience; with --export, its members (PII masked)."""
    from shopscope.analytics.customers.audiences import (
        audience_expr,
        audience_stats,
        build_profile,
        clv_columns,
        export_audience,
    )

    if pii not in ("mask", "hash", "raw"):
        raise ShopscopeError(f"unknown pii mode {pii!r}", hint="use mask, hash or raw")
    ws = _open_workspace(workspace)
    try:
        definition = _definition(name, ws)
        day = _as_of(ws, as_of)
        # CLV columns (clv, p_alive, expected_purchases) when the history allows a fit
        profile = build_profile(ws.store, day, extra=clv_columns(ws.store, day))
        stats = audience_stats(definition, profile)
        typer.echo(json.dumps({k: v for k, v in stats.__dict__.items()}, ensure_ascii=False,
                              default=str))
        if export is not None:
            from shopscope.auth import UserStore

            # ids that are e-mails or phone numbers leave as pseudonyms, as from the API
            key = None if pii == "raw" else UserStore(ws.path).secret("pseudonym").hex()
            path = export_audience(audience_expr(definition, profile), export, pii=pii,  # type: ignore[arg-type]
                                   key=key)
            console.print(f"wrote {stats.size:,} members to {escape(path)} (PII: {pii})")
    finally:
        ws.close()


_SPEND_HELP = ("Spend measure the CLV uses: net (net_amount, after discounts) or gross "
               "(gross_amount, before discounts).")


@customers_app.command("clv")
def clv_command(
    workspace: WorkspaceOpt = DEFAULT_WS,
    calibration_end: Annotated[str | None, typer.Option(
        help="Fit on purchases up to this day (default: the last order day).")] = None,
    holdout_end: Annotated[str | None, typer.Option(
        help="Compare predictions with purchases after calibration, up to this day.")] = None,
    model: Annotated[str, typer.Option(help="bgnbd or pareto")] = "bgnbd",
    spend: Annotated[str, typer.Option("--spend", "--monetary", help=_SPEND_HELP)] = "net",
    horizon: Annotated[int, typer.Option(help="CLV horizon in months.")] = 12,
    margin: Annotated[float, typer.Option(help="Profit margin on sales (0-1).")] = 1.0,
    discount_rate: Annotated[float, typer.Option(help="Annual discount rate.")] = 0.10,
    fmt: Fmt = "table",
    output: Annotated[Path | None, typer.Option(
        help="Write per-customer CLV, P(alive) and expected purchases here.")] = None,
) -> None:
    """Fit BG/NBD (or Pareto/NBD) + Gamma-Gamma; print parameters, CLV totals and, with
    --holdout-end, predicted vs actual repeat purchases. Repeat buyers whose mean repeat
    spend is 0 or less are left out of the spend fit and counted; a model that finds almost
    no dropout while many buyers have churned gets a warning with its holdout error."""
    import pandas as pd

    from shopscope.analytics.customers.clv import (
        PURCHASE_MODELS,
        SPEND_MEASURES,
        dropout_check,
        fit_clv,
    )
    from shopscope.cli import err_console
    from shopscope.models import clv

    if model not in PURCHASE_MODELS:
        raise ShopscopeError(f"unknown model {model!r}", hint="use bgnbd or pareto")
    if spend not in SPEND_MEASURES:
        raise ShopscopeError(f"unknown spend measure {spend!r} (--spend)",
                             hint="use one of: " + ", ".join(
                                 f"{k} ({v})" for k, v in SPEND_MEASURES.items()))
    check_range(calibration_end, holdout_end, names=("--calibration-end", "--holdout-end"))
    ws = _open_workspace(workspace)
    try:
        end = _day_option(calibration_end, "--calibration-end") if calibration_end \
            else _as_of(ws, None) - dt.timedelta(days=1)
        hold = _day_option(holdout_end, "--holdout-end") if holdout_end else None
        fit = fit_clv(ws.store, end, hold, model=model, spend=spend)  # type: ignore[arg-type]
        value = clv(fit.purchases, fit.spend, fit.summary, horizon=horizon, margin=margin,
                    discount_rate=discount_rate, time_unit="D")
        holdout = fit.holdout()
        check = dropout_check(ws.store, fit, value, holdout)
    finally:
        ws.close()
    purchases, summary = fit.purchases, fit.summary
    # Notes go with the table on stdout, or to stderr so csv/json stay parseable.
    note = console.print if fmt == "table" else err_console.print
    params = pd.DataFrame(
        [{"model": type(m).__name__, "parameter": k, "value": v,
          "std_error": m.standard_errors_.get(k) if hasattr(m.standard_errors_, "get") else None}
         for m in (purchases, fit.spend) for k, v in m.params_.items()])
    if fmt == "table":
        console.print(f"calibration ends {end}: {len(summary):,} customers, "
                      f"{fit.repeat_customers:,} repeat buyers; "
                      f"log-likelihood {purchases.log_likelihood_:,.2f}")
    note(f"spend: {spend}; Gamma-Gamma fitted on {fit.repeat_customers - fit.spend_excluded:,} "
         f"repeat buyers, {fit.spend_excluded:,} excluded (mean repeat {spend} spend <= 0)")
    _emit(params, fmt if fmt != "parquet" else "table", None, title="fitted parameters")
    data = value.data
    if fmt == "table":
        console.print(f"CLV over {horizon} months (margin {margin:.0%}, discount "
                      f"{discount_rate:.0%}/yr): total {value.total:,.2f}, mean "
                      f"{data.clv.mean():,.2f}, median {data.clv.median():,.2f}; expected "
                      f"alive {data.probability_alive.sum():,.0f}")
    if check.too_little_dropout:
        note(_dropout_warning(check))
    if holdout is not None:
        _emit(holdout.table, fmt if fmt != "parquet" else "table", None,
              title=f"holdout to {hold}: actual {holdout.actual_total:,.0f}, "
                    f"predicted {holdout.predicted_total:,.0f} ({holdout.total_error_pct:+.1f}%)")
    if output is not None:
        _emit(data, "parquet" if output.suffix == ".parquet" else "csv", output)


def _day_option(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ShopscopeError(f"{name} {value!r} is not a date", hint="use YYYY-MM-DD") from None


def _dropout_warning(check) -> str:  # noqa: ANN001
    """The too-little-dropout warning, with the holdout error or how to get one."""
    text = (f"warning: the model found too little dropout to judge who has left: mean "
            f"P(alive) {check.mean_probability_alive:.1%} ({check.expected_alive:,.0f} of "
            f"{check.customers:,} expected alive) while {check.lifecycle_churned:,} of "
            f"{check.lifecycle_buyers:,} buyers ({check.lifecycle_churned_share:.0%}) have not "
            f"bought for {check.churn_days} days or more (lifecycle 'churned'); the CLV "
            f"assumes nearly everyone keeps buying.")
    if check.holdout_error_pct is not None:
        text += (f" Holdout error {check.holdout_error_pct:+.1f}% (fitted to "
                 f"{check.holdout_calibration_end}, predicting to "
                 f"{check.holdout_observation_end}).")
    else:
        text += (" No holdout error: the history is too short to hold part of it out "
                 "(--calibration-end and --holdout-end set one).")
    return text
