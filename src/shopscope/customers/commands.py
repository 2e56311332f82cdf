"""``shopscope customers …`` and ``shopscope audience …``: parse the options, ask
:mod:`shopscope.customers.service` (in a :class:`~shopscope.core.service.LocalContext`),
print the answer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shopscope.cli import (
    DEFAULT_WS,
    FormatOpt,
    OutputOpt,
    WorkspaceOpt,
    _emit,
    _open_workspace,
    check_range,
    console,
)
from shopscope.core.periods import PeriodError, parse_date
from shopscope.core.service import LocalContext
from shopscope.errors import ShopscopeError
from shopscope.ui.clifmt import escape, plural

if TYPE_CHECKING:
    from shopscope.customers.audiences import AudienceDefinition
    from shopscope.customers.clv import DropoutCheck

customers_app = typer.Typer(help="Customer layering: RFM segments and lifecycle stages.",
                            no_args_is_help=True)
audience_app = typer.Typer(help="Audiences: filters over segments, stages, tags and CLV.",
                           no_args_is_help=True)

AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Day to look from (YYYY-MM-DD); default: the day after the last order.")]
Fmt = FormatOpt
Out = OutputOpt


def _day_option(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return parse_date(value, name)
    except PeriodError as exc:
        raise ShopscopeError(f"{name} {value!r} is not a date", hint=exc.hint) from None


@contextmanager
def _context(workspace: Path) -> Iterator[LocalContext]:
    ws = _open_workspace(workspace)
    try:
        yield LocalContext(ws)
    finally:
        ws.close()


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
    from shopscope.customers import service as svc

    if scheme not in svc.SCHEMES:
        raise ShopscopeError(f"unknown scheme {scheme!r}", hint="use classic or eleven")
    params = svc.make_params(svc.RfmParams, as_of=_day_option(as_of, "--as-of"),
                             scheme=scheme, frequency=frequency)
    with _context(workspace) as ctx:
        result = (svc.rfm_customers if customers else svc.rfm_segments)(ctx, params)
    frame = result.segments
    if not customers:
        labels = {key: f"{s.label_en} {s.label_zh}" for key, s in svc.SEGMENTS[scheme].items()}
        frame = frame.copy()
        frame.insert(1, "label", frame.segment.map(labels))
        if fmt == "table":  # the label says it all on a narrow terminal
            frame = frame.drop(columns="segment")
    _emit(frame, fmt, output, title=f"RFM segments as of {result.as_of}")


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
    import pandas as pd

    from shopscope.customers import service as svc
    from shopscope.customers.lifecycle import STAGES

    params = svc.make_params(svc.LifecycleParams, as_of=_day_option(as_of, "--as-of"),
                             new_days=new_days, active_days=active_days,
                             churn_days=churn_days)
    with _context(workspace) as ctx:
        try:
            result = svc.lifecycle(ctx, params)
        except svc.CustomersError as exc:
            if exc.code != "invalid_windows":
                raise
            # the service's rule, in the names of this command's options
            raise ShopscopeError("give all three windows or none",
                                 hint="--new-days, --active-days and --churn-days") from None
    windows = result.windows.windows
    how = "given" if result.windows.derived is None else \
        "derived from the shop's inter-purchase gaps"
    counts = pd.DataFrame(
        [{"stage": k, "label": f"{s.label_en} {s.label_zh}", "customers": result.counts[k]}
         for k, s in STAGES.items() if result.counts[k]])
    if fmt == "table":
        console.print(f"windows ({how}): new ≤ {plural(windows.new_days, 'day')}, active ≤ "
                      f"{plural(windows.active_days, 'day')}, churned ≥ "
                      f"{plural(windows.churn_days, 'day')}")
    _emit(counts, fmt, output, title=f"Lifecycle stages as of {result.as_of}")


def _definition(name_or_file: str, ctx: LocalContext) -> AudienceDefinition:
    from shopscope.customers import service as svc
    from shopscope.customers.audiences import parse_definition

    path = Path(name_or_file)
    if path.suffix == ".json" and path.exists():
        return parse_definition(path.read_text(encoding="utf-8"))
    return svc.load_audience(ctx, name_or_file)


@audience_app.command("save")
def audience_save(file: Path, workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Save an audience definition (JSON) in the workspace, to re-run on new data."""
    from shopscope.customers import service as svc
    from shopscope.customers.audiences import parse_definition

    if not file.exists():
        raise ShopscopeError(f"{file}: no such file", hint="write the definition as JSON")
    definition = parse_definition(file.read_text(encoding="utf-8"))
    with _context(workspace) as ctx:
        svc.save_audience(ctx, definition, svc.OPERATOR)
    console.print(f"saved audience {escape(repr(definition.name))}")


@audience_app.command("list")
def audience_list(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Saved audience definitions."""
    from shopscope.customers import service as svc

    with _context(workspace) as ctx:
        names = svc.list_audiences(ctx)
    for name in names:
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
    from shopscope.customers import service as svc

    if pii not in ("mask", "hash", "raw"):
        raise ShopscopeError(f"unknown pii mode {pii!r}", hint="use mask, hash or raw")
    day = _day_option(as_of, "--as-of")
    with _context(workspace) as ctx:
        definition = _definition(name, ctx)
        # CLV columns (clv, p_alive, expected_purchases) join the profile when the
        # history allows a fit
        result = svc.audience(ctx, svc.AudienceParams(definition=definition, as_of=day))
        typer.echo(json.dumps(dict(result.stats.__dict__), ensure_ascii=False, default=str))
        if export is not None:
            from shopscope.auth import UserStore

            params = svc.make_params(svc.ExportParams, definition=definition,
                                     as_of=result.as_of, pii=pii)
            # ids that are e-mails or phone numbers leave as pseudonyms, as from the API
            key = None if pii == "raw" else UserStore(ctx.workspace.path).secret(
                "pseudonym").hex()
            path = svc.export_members(ctx, params, export, svc.Viewer(admin=True,
                                                                      pseudonym_key=key))
            console.print(f"wrote {result.stats.size:,} members to {escape(path)} (PII: {pii})")


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

    from shopscope.cli import err_console
    from shopscope.customers import service as svc
    from shopscope.customers.clv import PURCHASE_MODELS, SPEND_MEASURES

    if model not in PURCHASE_MODELS:
        raise ShopscopeError(f"unknown model {model!r}", hint="use bgnbd or pareto")
    if spend not in SPEND_MEASURES:
        raise ShopscopeError(f"unknown spend measure {spend!r} (--spend)",
                             hint="use one of: " + ", ".join(
                                 f"{k} ({v})" for k, v in SPEND_MEASURES.items()))
    check_range(calibration_end, holdout_end, names=("--calibration-end", "--holdout-end"),
                after=True)
    params = svc.make_params(
        svc.ClvParams, calibration_end=_day_option(calibration_end, "--calibration-end"),
        holdout_end=_day_option(holdout_end, "--holdout-end") or "none", model=model,
        spend=spend, horizon_months=horizon, margin=margin, discount_rate=discount_rate)
    with _context(workspace) as ctx:
        a = svc.clv_analysis(ctx, params)
    fit, value, holdout, check = a.fit, a.value, a.holdout, a.check
    purchases, summary = fit.purchases, fit.summary
    # Notes go with the table on stdout, or to stderr so csv/json stay parseable.
    note = console.print if fmt == "table" else err_console.print
    params_frame = pd.DataFrame(
        [{"model": type(m).__name__, "parameter": k, "value": v,
          "std_error": m.standard_errors_.get(k) if hasattr(m.standard_errors_, "get") else None}
         for m in (purchases, fit.spend) for k, v in m.params_.items()])
    if fmt == "table":
        console.print(f"calibration ends {fit.calibration_end}: {len(summary):,} customers, "
                      f"{fit.repeat_customers:,} repeat buyers; "
                      f"log-likelihood {purchases.log_likelihood_:,.2f}")
    note(f"spend: {spend}; Gamma-Gamma fitted on {fit.repeat_customers - fit.spend_excluded:,} "
         f"repeat buyers, {fit.spend_excluded:,} excluded (mean repeat {spend} spend <= 0)")
    _emit(params_frame, fmt if fmt != "parquet" else "table", None, title="fitted parameters")
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
              title=f"holdout to {fit.observation_end}: actual {holdout.actual_total:,.0f}, "
                    f"predicted {holdout.predicted_total:,.0f} ({holdout.total_error_pct:+.1f}%)")
    if output is not None:
        _emit(data, "parquet" if output.suffix == ".parquet" else "csv", output)


def _dropout_warning(check: DropoutCheck) -> str:
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
