"""``shopscope experiment …``: plan, define, list, analyse experiments, and uplift targeting
(thin wrappers: options become the parameters of :mod:`shopscope.experiments.service`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shopscope.cli import (
    DEFAULT_WS,
    FormatOpt,
    OutputOpt,
    WorkspaceOpt,
    _emit,
    _open_workspace,
    console,
)
from shopscope.core.service import LocalContext
from shopscope.experiments import service
from shopscope.ui.clifmt import escape, plural

experiment_app = typer.Typer(
    help="A/B tests: sample size, saved definitions, analysis (frequentist, CUPED, "
    "sequential, Bayesian), uplift.", no_args_is_help=True)

Fmt = FormatOpt
Out = OutputOpt

_MINUS = "\u2212"  # a true minus: "−0.31%" reads apart from a dash


def _signed(v: float | None, digits: int = 2, unit: str = "") -> str:
    if v is None or v != v:
        return "–"
    text = f"{abs(v):,.{digits}f}{unit}"
    if not text.strip("0.,%p "):  # rounds to zero: no sign to read into it
        return text
    return (_MINUS if v < 0 else "+") + text


def _plain(v: float | None, rate: bool) -> str:
    if v is None or v != v:
        return "–"
    if rate:
        return f"{v:.2%}"
    return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"


def _p(v: float | None) -> str:
    if v is None or v != v:
        return "–"
    return "<0.0001" if v < 1e-4 else f"{v:.4f}"


def readable(frame, rates: list[bool]):
    """A comparison frame for a terminal: rates as percentages, their differences in
    percentage points (+1.05 pp), relative lifts as signed percentages (−0.31%), lift and
    interval in one column. ``rates[i]``: row ``i`` compares rates. CSV and JSON keep the
    full-precision numbers; only the table is rounded."""
    import pandas as pd

    def lift(i: int, r) -> str:
        if rates[i]:  # differences of rates: points
            return (f"{_signed(r.abs_lift * 100, 2, ' pp')} [{_signed(r.abs_low * 100)}, "
                    f"{_signed(r.abs_high * 100)}]")
        digits = 2 if max(abs(r.abs_low), abs(r.abs_high)) >= 1 else 3
        return (f"{_signed(r.abs_lift, digits)} [{_signed(r.abs_low, digits)}, "
                f"{_signed(r.abs_high, digits)}]")

    rows = list(frame.itertuples(index=False))
    out = pd.DataFrame({
        "metric: variant": [f"{r.metric}: {r.variant}" for r in rows],
        "control": [_plain(r.control, rates[i]) for i, r in enumerate(rows)],
        "variant": [_plain(r.value, rates[i]) for i, r in enumerate(rows)],
        # the interval under the lift: one narrow column instead of two
        "lift [95% CI]": [lift(i, r).replace(" [", "\n[") if r.abs_lift == r.abs_lift else "–"
                          for i, r in enumerate(rows)],
        "relative": [_signed(None if v is None else v * 100, 2, "%") for v in frame.rel_lift],
        "p (adj.)": [_p(a if a is not None and a == a else p)
                     for a, p in zip(frame.adjusted_p, frame.p_value, strict=True)],
        "P(win)": [_plain(v, True) if v is not None and v == v else "–"
                   for v in frame.chance_to_win],
    })
    if "variance_reduction" in frame and frame.variance_reduction.notna().any():
        out["CUPED var. cut"] = [_plain(v, True) for v in frame.variance_reduction]
    if "error" in frame and frame["error"].notna().any():
        out["error"] = frame["error"].fillna("")
    return out


def print_comparisons(frame, title: str) -> None:
    """The :func:`readable` frame as a compact table that fits 80 columns: no vertical
    rules, numbers right-aligned and never wrapped (labels wrap instead)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title) if title else None, box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for col in frame.columns:
        label = col in ("metric: variant", "error")
        table.add_column(col, justify="left" if label else "right", no_wrap=not label,
                         min_width=min(12, int(frame[col].str.len().max() or 1)) if label
                         else None, overflow="fold")
    for rec in frame.itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in rec))
    console.print(table)


def _option(field: str) -> str:
    """A parameter as its command-line option is spelled: ``--daily-traffic``."""
    return "--" + {"unit": "id"}.get(field, field).replace("_", "-")


@experiment_app.command("plan")
def plan_command(
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
    params = service.parse_params(
        service.PlanParams, _option, metric=metric, baseline=baseline, sd=sd, mde=mde,
        relative=not absolute, alpha=alpha, power=power, variants=variants,
        alternative="one-sided" if one_sided else "two-sided", daily_traffic=daily_traffic,
        share=share)
    result = service.plan(None, params).to_dict()  # a plan needs no workspace
    if fmt == "json":
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    p = result["plan"]
    console.print(f"[bold]{p['n_per_variant']:,}[/] units per variant, {p['total']:,} in all "
                  f"({p['variants']} arms, alpha {p['alpha']} → {p['alpha_per_comparison']:.4g} "
                  f"per comparison, power {p['power']:.0%}, {p['alternative']})")
    if result["days"] is not None:
        console.print(f"about [bold]{plural(result['days'], 'day')}[/] at "
                      f"{daily_traffic:,.0f} units a "
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


@experiment_app.command("save")
def save_command(
    definition: Annotated[Path, typer.Argument(help="A JSON definition "
                                               "(docs/experiments/analysis.md).")],
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Save (or replace) an experiment definition in the workspace."""
    from shopscope.errors import InputError

    if not definition.exists():
        raise InputError(f"{definition}: no such file")
    params = service.CreateParams(definition=definition.read_text(encoding="utf-8"))
    ws = _open_workspace(workspace)
    try:
        parsed = service.create(LocalContext(ws), params)
    finally:
        ws.close()
    console.print(f"saved experiment {escape(repr(parsed.experiment_id))}")


@experiment_app.command("list")
def list_command(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Saved experiments."""
    ws = _open_workspace(workspace)  # only reads the definitions: the store stays closed
    for experiment_id in service.saved_ids(LocalContext(ws)):
        typer.echo(experiment_id)


@experiment_app.command("delete")
def delete_command(experiment_id: str, workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Delete a saved experiment definition (the data stays)."""
    ws = _open_workspace(workspace)  # only removes the file: the store stays closed
    service.delete(LocalContext(ws), service.ExperimentRef(experiment_id=experiment_id))
    console.print(f"deleted experiment {escape(repr(experiment_id))}")


@experiment_app.command("analyze")
def analyze_command(
    experiment_id: Annotated[str, typer.Argument(help="Saved experiment id.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    multi_arm: Annotated[str | None, typer.Option(
        help="Units logged in more than one arm: exclude | first (keep the arm of their "
        "earliest exposure). Default: the definition's multi_arm (exclude).")] = None,
    fmt: Fmt = "table",
    output: Out = None,
) -> None:
    """SRM check, lift with intervals and adjusted p-values, CUPED, chance to win,
    sequential results and segments (exploratory). Repeated assignments count once (the
    earliest exposure); units in more than one arm are reported and, by default, left out."""
    params = service.parse_params(service.AnalyzeParams, _option,
                                  experiment_id=experiment_id, multi_arm=multi_arm)
    ws = _open_workspace(workspace)
    try:
        result = service.analyze(LocalContext(ws), params)
    finally:
        ws.close()
    if fmt == "json":
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str)
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            typer.echo(text)
        return
    frame = service.comparison_frame(result)
    # the split check and the warnings (repeated or multi-arm units, …) always reach the
    # reader: on stderr when stdout carries CSV

    from shopscope.cli import err_console

    out = console if fmt == "table" else err_console
    style = "bold red" if result.srm.mismatch else "green"
    out.print(f"[{style}]{escape(result.srm.message)}[/]", highlight=False)
    for w in result.warnings[1 if result.srm.mismatch else 0:]:
        out.print(f"[yellow]note:[/] {escape(w)}", highlight=False)
    title = (f"{experiment_id}: {', '.join(result.definition.variants)} "
             f"({sum(result.counts.values()):,} units)")
    if fmt == "table":
        kinds = {m.name: m.kind for m in result.definition.metrics}
        print_comparisons(readable(frame, [kinds[c.metric] == "binary"
                                           for c in result.comparisons]), title)
        return
    _emit(frame, fmt, output, title=title)


@experiment_app.command("uplift")
def uplift_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet: one row per unit with its "
                                         "arm, outcome and features.")],
    treatment: Annotated[str, typer.Option(help="Column with each unit's arm.")],
    treated: Annotated[str, typer.Option(help="Value of the treated arm.")],
    control: Annotated[str, typer.Option(help="Value of the control arm.")],
    outcome: Annotated[str, typer.Option(help="Outcome column (0/1 or amount).")],
    features: Annotated[str, typer.Option(help="Comma-separated feature columns.")],
    unit: Annotated[str | None, typer.Option("--id", help="Id column (default: row "
                                             "number).")] = None,
    learner: Annotated[str, typer.Option(help="two_model | x | transformed")] = "two_model",
    base: Annotated[str, typer.Option(help="gbm (gradient boosting) | linear")] = "gbm",
    holdout: Annotated[float, typer.Option(help="Share held out to evaluate.")] = 0.3,
    top_share: Annotated[float, typer.Option(help="Share of units in the audience.")] = 0.3,
    seed: int = 0,
    output: Out = None,
) -> None:
    """Train an uplift model, check on a held-out split that it beats random targeting
    (Qini against shuffled labels), and write the audience worth targeting."""
    params = service.parse_params(
        service.UpliftParams, _option, data=data, treatment=treatment, treated=treated,
        control=control, outcome=outcome,
        features=tuple(c.strip() for c in features.split(",") if c.strip()), unit=unit,
        learner=learner, base=base, holdout=holdout, top_share=top_share, seed=seed)
    found = service.uplift(None, params)  # a file outside any workspace
    verdict = "[green]beats random targeting[/]" if found.beats_random else \
        "[yellow]not distinguishable from random targeting[/]"
    console.print(f"held-out Qini coefficient {found.qini:.5f} (95th percentile with shuffled "
                  f"arms {found.random_bar:.5f}): {verdict}")
    audience = found.audience
    console.print(f"audience: top {top_share:.0%} = {len(audience):,} of {found.units:,} "
                  f"units, mean predicted uplift {audience.uplift.mean():.4g}")
    _emit(audience, "parquet" if output and output.suffix == ".parquet" else "csv", output)


@experiment_app.command("summary")
def summary_command(
    table: Annotated[Path, typer.Argument(help="CSV: variant, [metric], n, conversions | "
                                          "sum, sum_sq (one row per variant and metric).")],
    control: Annotated[str | None, typer.Option(help="Control variant (default: the "
                                                "first row's).")] = None,
    correction: Annotated[str, typer.Option(help="holm | bh")] = "holm",
    alpha: float = 0.05,
    fmt: Fmt = "table",
    output: Out = None,
) -> None:
    """Analyse a test run elsewhere from its summary table (SRM, lift, p, chance to win)."""
    params = service.parse_params(service.SummaryParams, _option, table=table,
                                  control=control, correction=correction, alpha=alpha)
    found = service.summary(None, params)  # a file outside any workspace
    srm, frame = found.srm, found.frame
    if fmt == "table":
        console.print(f"[{'bold red' if srm.mismatch else 'green'}]{escape(srm.message)}[/]")
        print_comparisons(readable(frame.rename(columns={"control_value": "control",
                                                         "variant_value": "value"}),
                                   [k == "rate" for k in frame["kind"]]), found.title)
        return
    _emit(frame, fmt, output, title=found.title)
