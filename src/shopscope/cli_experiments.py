"""``shopscope experiment …``: plan, define, list, analyse experiments, and uplift targeting
(thin wrappers over :mod:`shopscope.experiments`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shopscope.cli import DEFAULT_WS, WorkspaceOpt, _emit, _open_workspace, console

experiment_app = typer.Typer(
    help="A/B tests: sample size, saved definitions, analysis (frequentist, CUPED, "
    "sequential, Bayesian), uplift.", no_args_is_help=True)

Fmt = Annotated[str, typer.Option("--format", help="table | csv | json | parquet")]
Out = Annotated[Path | None, typer.Option(help="Write to this file.")]


@experiment_app.command("plan")
def plan_command(  # noqa: PLR0913
    metric: Annotated[str, typer.Option(help="proportion (a rate) or mean")] = "proportion",
    baseline: Annotated[float | None, typer.Option(
        help="Control rate (proportion) or mean (mean, optional).")] = None,
    sd: Annotated[float | None, typer.Option(help="Per-unit standard deviation (mean).")
                  ] = None,
    mde: Annotated[float, typer.Option(help="Minimum detectable effect (0.1 = +10% when "
                                       "relative).")] = 0.1,
    absolute: Annotated[bool, typer.Option(help="The MDE is absolute, not relative.")
                        ] = False,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: Annotated[int, typer.Option(help="Arms, control included.")] = 2,
    one_sided: bool = False,
    daily_traffic: Annotated[float | None, typer.Option(
        help="Eligible units a day: gives the duration and the MDE per duration.")] = None,
    share: Annotated[float, typer.Option(help="Share of the traffic in the test.")] = 1.0,
    fmt: Fmt = "table",
) -> None:
    """Units per variant (and days) to detect an effect with the given power."""
    from shopscope.api.routers.experiments import make_plan

    result = make_plan(metric=metric, baseline=baseline, sd=sd, mde=mde,
                       relative=not absolute, alpha=alpha, power=power, variants=variants,
                       alternative="one-sided" if one_sided else "two-sided",
                       daily_traffic=daily_traffic, share=share)
    if fmt == "json":
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    p = result["plan"]
    console.print(f"[bold]{p['n_per_variant']:,}[/] units per variant, {p['total']:,} in all "
                  f"({p['variants']} arms, alpha {p['alpha']} → {p['alpha_per_comparison']:.4g} "
                  f"per comparison, power {p['power']:.0%}, {p['alternative']})")
    if result["days"] is not None:
        console.print(f"about [bold]{result['days']}[/] days at {daily_traffic:,.0f} units a "
                      f"day ({share:.0%} in the test)")
    if result["tradeoff"]:
        import pandas as pd

        frame = pd.DataFrame(result["tradeoff"])
        if fmt == "table":  # effects read better as percentages (points for rates)
            if metric == "proportion":
                frame["mde_abs"] = [f"{v * 100:.2f} pts" for v in frame.mde_abs]
            frame["mde_rel"] = [f"{v:+.1%}" if v == v and v is not None else "–"
                                for v in frame.mde_rel]
        _emit(frame, fmt, None, title="detectable effect by duration")
