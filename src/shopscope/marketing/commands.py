"""``shopscope marketing attribution``: multi-touch attribution of an aggregated path file (a thin
wrapper over :mod:`shopscope.marketing.service`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

attribution_app = typer.Typer(
    help="Marketing: channel and campaign reports, cohort LTV and payback, attribution.",
    no_args_is_help=True)

_MODELS = ("first_touch, last_touch, last_non_direct, linear, time_decay, position_based, "
           "markov, shapley")


@attribution_app.command("attribution")
def run(
    paths: Annotated[Path | None, typer.Argument(
        help="CSV of aggregated paths (may be gzipped); none: the workspace's journeys.")]
    = None,
    workspace: WorkspaceOpt = DEFAULT_WS, start: StartOpt = None, end: EndOpt = None,
    by: Annotated[str, typer.Option(
        help="Workspace journeys: touch label (channel, source, medium, campaign).")]
    = "channel",
    lookback_days: Annotated[int, typer.Option(
        help="Workspace journeys: touches at most this many days before the order.")] = 30,
    models: Annotated[str, typer.Option(help=f"Comma-separated: {_MODELS}.")] = "all",
    order: Annotated[int, typer.Option(help="Markov order, 1..3.")] = 1,
    lookback: Annotated[int | None, typer.Option(
        help="Keep only the last N touches of each path.")] = None,
    sep: Annotated[str, typer.Option(help="Separator between channels in a path.")] = ">",
    direct: Annotated[str, typer.Option(help="Channel name skipped by last_non_direct.")]
    = "direct",
    half_life: Annotated[float, typer.Option(
        help="Time decay half-life: days with --days-column, else touches.")] = 7.0,
    first: Annotated[float, typer.Option(help="Position-based share of the first touch.")]
    = 0.4,
    last: Annotated[float, typer.Option(help="Position-based share of the last touch.")]
    = 0.4,
    samples: Annotated[int, typer.Option(
        help="Shapley permutations when there are more channels than --exact-limit.")] = 2000,
    exact_limit: Annotated[int, typer.Option(
        help="Exact Shapley up to this many channels.")] = 15,
    seed: Annotated[int, typer.Option(help="Seed of the Shapley sampling.")] = 0,
    path_column: Annotated[str, typer.Option(help="Column of the paths.")] = "path",
    conversions_column: Annotated[str, typer.Option(help="Column of conversions.")]
    = "total_conversions",
    value_column: Annotated[str, typer.Option(
        help="Column of conversion value ('' for none).")] = "total_conversion_value",
    nulls_column: Annotated[str, typer.Option(
        help="Column of journeys without conversion ('' for none).")] = "total_null",
    days_column: Annotated[str, typer.Option(
        help="Column of touch times: days from each touch to the journey's end, separated "
             "like the path (optional).")] = "",
    fmt: FormatOpt = "table", output: OutputOpt = None,
) -> None:
    """Credit per channel by each model, side by side: conversions and value (each model's
    column sums to the totals of the paths). From a path file, or, without one, from the
    workspace: each customer's sessions up to each order (docs/marketing.md)."""
    from shopscope.marketing import service as svc

    check_format(fmt, ("table", "csv", "json"))
    chosen = [m.strip() for m in models.split(",") if m.strip()]
    params = svc.make(svc.AttributionParams,
                      **({} if chosen == ["all"] else {"models": tuple(chosen)}),
                      order=order, lookback=lookback, direct=direct, half_life=half_life,
                      first=first, last=last, samples=samples, exact_limit=exact_limit,
                      seed=seed)
    head = ""
    if paths is None:
        from shopscope.marketing import service_journeys as sj

        check_range(start, end)
        first_day, last_day = parse_date(start, "--start"), parse_date(end, "--end")
        jp = sj.make(sj.JourneyParams, by=by, lookback_days=lookback_days, start=first_day,
                     end=last_day)
        ws_out, _ = run_local(workspace, lambda ctx: sj.attribute_workspace(ctx, jp, params))
        out = ws_out.result
        head = (f"{ws_out.journeys:,} journeys, lookback {lookback_days} days; "
                f"{ws_out.unattributed:,} orders had no touch: not credited; ")
    else:
        cols = svc.make(svc.PathColumns, path=path_column, conversions=conversions_column,
                        value=value_column, nulls=nulls_column, days=days_column, sep=sep)
        out = svc.attribute(svc.read_paths(paths, cols), params)
    if fmt != "table":
        _emit(out.comparison, fmt, output,
              kinds={"conversions": "number", "value": "number"})
        return
    models_shown = list(out.conversions.columns)
    kinds = dict.fromkeys(models_shown, "number")
    head += f"{out.paths:,} paths, {out.channels} channels"
    _emit(out.conversions.reset_index(), fmt, None, kinds=kinds,
          title=f"conversions by model ({head}; total {out.total_conversions:,.2f})")
    _emit(out.value.reset_index(), fmt, None, kinds=kinds,
          title=f"value by model (total {out.total_value:,.2f})")
    for note in out.notes:
        console.print(f"  note: {note}", highlight=False, markup=False)


@attribution_app.command("attribution-truth")
def truth(
    journeys: Annotated[int, typer.Option(help="Journeys (users) to simulate.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
    models: Annotated[str, typer.Option(help=f"Comma-separated: {_MODELS}.")] = "all",
    fmt: FormatOpt = "table", output: OutputOpt = None,
) -> None:
    """Every model against ground truth: journeys from the synthetic shop's journey model,
    where each channel's incremental conversions are known; the error of a model is the
    sum over channels of |credited share - true share| (see docs/marketing.md)."""
    from shopscope.marketing import service_truth as svc

    check_format(fmt, ("table", "csv", "json"))
    chosen = [m.strip() for m in models.split(",") if m.strip()]
    params = svc.make(svc.TruthParams, journeys=journeys, seed=seed,
                      **({} if chosen == ["all"] else {"models": tuple(chosen)}))
    out = svc.attribution_truth(params)
    if fmt != "table":
        long = out.shares.drop(columns="truth").rename_axis("channel").reset_index().melt(
            id_vars="channel", var_name="model", value_name="share")
        long["true_share"] = long["channel"].map(out.shares["truth"])
        long["error"] = (long["share"] - long["true_share"]).abs()
        _emit(long, fmt, output, kinds={"share": "number", "true_share": "number",
                                        "error": "number"})
        return
    sim = out.sim
    console.print(f"{params.journeys:,} journeys (seed {params.seed}), {out.paths:,} paths",
                  highlight=False, markup=False)
    _emit(out.total.rename_axis("model").reset_index(), fmt, None,
          kinds={"error": "number"}, title="sum of |share - true share|")
    shares = out.shares.rename_axis("channel").reset_index()
    _emit(shares, fmt, None, kinds=dict.fromkeys(out.shares.columns, "rate"),
          title="share of conversions: truth and models")
    console.print(f"  note: {sim.conversions:,} conversions simulated "
                  f"(expected {sim.expected_conversions:,.1f}, of which "
                  f"{sim.base_conversions:,.1f} need no channel); true incremental "
                  f"conversions sum to {out.truth['incremental'].sum():,.1f}",
                  highlight=False, markup=False)
