"""Command line: ``shopscope init | ingest | kpi | synth | demo``.

Thin by design: parse arguments, call the same functions the API calls, print. User errors
(``ShopscopeError``) print one line of reason and one of hint and exit with the error's code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape as markup_escape

from shopscope.errors import ShopscopeError
from shopscope.ui.clifmt import escape

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="shopscope: e-commerce operations analytics on DuckDB (or Spark).",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="SHOPSCOPE_WORKSPACE",
        help="Workspace folder (default: ./shopscope-workspace or $SHOPSCOPE_WORKSPACE).",
    ),
]
DEFAULT_WS = Path("shopscope-workspace")
OutFormat = Literal["table", "csv", "json", "parquet"]


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder to create.")] = DEFAULT_WS,
    timezone: Annotated[str, typer.Option(help="Shop's local time zone (IANA).")] = "UTC",
    currency: Annotated[str, typer.Option(help="Reporting currency code.")] = "GBP",
    engine: Annotated[str, typer.Option(help="Engine URL; default: DuckDB file inside.")] = "",
) -> None:
    """Create a workspace folder with settings and an empty store."""
    from shopscope.store import Workspace

    ws = Workspace.create(path, timezone=timezone, currency=currency, engine_url=engine)
    console.print(f"workspace ready at [bold]{escape(ws.path)}[/] "
                  f"(engine: {escape(ws.engine_url)})")
    ws.close()


#: Options every area's commands share (output format and file, an inclusive date range).
FormatOpt = Annotated[str, typer.Option("--format", help="table | csv | json | parquet")]
OutputOpt = Annotated[Path | None, typer.Option(help="Write to this file.")]
StartOpt = Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD), inclusive.")]


def _open_workspace(path: Path):
    from shopscope.store import Workspace

    return Workspace.open(path)


def run_local(workspace: Path, fn: Any) -> tuple[Any, str]:
    """``fn`` called with a service context over the workspace (closed afterwards), and the
    workspace's currency: what an area's command does around its service call."""
    from shopscope.core.service import LocalContext

    ws = _open_workspace(workspace)
    try:
        return fn(LocalContext(ws)), ws.settings.currency
    finally:
        ws.close()


def check_format(fmt: str, allowed: tuple[str, ...] = ("table", "csv", "json", "parquet")) -> None:
    """Refuse an output format the command does not write, before any work is done."""
    from shopscope.errors import OptionError

    if fmt not in allowed:
        raise OptionError(f"unknown format {fmt!r}",
                          hint=f"use {', '.join(allowed[:-1])} or {allowed[-1]}")


class _Bar:
    """A Rich progress bar fed by the ``progress(description, done, total)`` callbacks."""

    def __init__(self, title: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True,
        )
        self.task = self.progress.add_task(title, total=None)

    def __call__(self, description: str, done: int, total: int) -> None:
        self.progress.update(self.task, description=description, completed=done, total=total)

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


def print_report(report, limit: int = 20) -> None:
    """Validation problems as a table: file, row, column, value, reason."""
    from rich.table import Table

    for line in report.summary_lines():
        err_console.print(f"  {escape(line)}", highlight=False)
    problems = report.problems[:limit]
    if problems:
        table = Table("file", "row", "column", "value", "reason", title="first problems")
        for p in problems:
            table.add_row(escape(p.source), "" if p.row is None else str(p.row), escape(p.column),
                          "(empty)" if p.value is None else escape(repr(p.value)),
                          escape(p.reason))
        err_console.print(table)


@app.command()
def ingest(
    preset: Annotated[str | None, typer.Argument(
        help="online_retail | cdnow | taobao | canonical, or an export: shopify | "
             "woocommerce | tmall | douyin | olist, or ad spend: google_ads | meta_ads | "
             "ocean_engine | qianchuan | ztc | tencent_ads | xiaohongshu (or use --mapping); "
             "with --mapping, a database URL (postgresql://… or mysql://…)")] = None,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files (or a folder for canonical).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WS,
    mapping: Annotated[Path | None, typer.Option(
        help="TOML mapping file for your own exports (see docs/ingest.md).")] = None,
    policy: Annotated[str, typer.Option(help="reject (load nothing if any row is bad), "
                                         "quarantine (bad lines to _rejects, their orders "
                                         "load flagged) or quarantine_orders (a bad line "
                                         "keeps its whole order out)")] = "reject",
    date_order: Annotated[str | None, typer.Option(
        help="dmy or mdy: how to read dates such as 03/04/2024 (refused when ambiguous)")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detect).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: detect).")] = None,
    force: Annotated[bool, typer.Option(help="Re-read files already loaded.")] = False,
    db_table: Annotated[str | None, typer.Option(
        help="With a database URL: the table to read (schema.table).")] = None,
    query: Annotated[str | None, typer.Option(
        help="With a database URL: a SELECT to read instead of a table.")] = None,
) -> None:
    """Load files into the workspace with a preset or a mapping file; validated, atomic and
    idempotent."""
    from shopscope.errors import ShopscopeError, ValidationFailed
    from shopscope.ingest import ingest_files
    from shopscope.ingest.database import DatabaseOverride
    from shopscope.ingest.load import total_added
    from shopscope.ingest.mapping import ingest_mapping
    from shopscope.ingest.presets.exports import EXPORTS, ingest_export
    from shopscope.ingest.readers import ReadOptions

    url = preset if preset and "://" in preset else None
    if url is not None:
        if mapping is None or paths:
            raise ShopscopeError("a database URL needs a mapping file and no file names",
                                 hint="shopscope ingest URL --mapping M.toml --db-table T")
        preset = None
    elif db_table or query:
        raise ShopscopeError("--db-table and --query need a database URL",
                             hint="shopscope ingest postgresql://user@host/db --mapping M.toml "
                                  "--db-table orders")
    if db_table and query:
        raise ShopscopeError("give --db-table or --query, not both")
    database = DatabaseOverride(url, db_table, query) if url else None
    if policy not in ("reject", "quarantine", "quarantine_orders"):
        raise ShopscopeError(f"unknown policy {policy!r}",
                             hint="use reject, quarantine or quarantine_orders")
    if date_order not in (None, "dmy", "mdy"):
        raise ShopscopeError(f"unknown date order {date_order!r}", hint="use dmy or mdy")
    if mapping is None and (preset is None or not paths):
        raise ShopscopeError("nothing to load",
                             hint="shopscope ingest PRESET FILE… or "
                                  "shopscope ingest --mapping M.toml")
    if mapping is not None and (preset or paths):
        raise ShopscopeError("give either a preset with files or --mapping, not both",
                             hint="a mapping file names its own files")
    ws = _open_workspace(workspace)
    options = ReadOptions(encoding=encoding, delimiter=delimiter,
                          date_order=date_order)  # type: ignore[arg-type]
    jobs = ([(mapping.name, lambda bar: ingest_mapping(ws, mapping, policy=policy,  # type: ignore[arg-type]
                                                        progress=bar, force=force,
                                                        database=database))]
            if mapping is not None else
            # export presets are shipped mappings; tmall and olist read several files at once
            [(preset, lambda bar: ingest_export(ws, paths or [], preset=preset,
                                                policy=policy,  # type: ignore[arg-type]
                                                progress=bar, force=force))]
            if preset in EXPORTS else
            # every file of one command is one load: all of them or none
            [(", ".join(p.name for p in paths or []),
              lambda bar: ingest_files(ws, paths or [], preset=preset,  # type: ignore[arg-type]
                                       policy=policy, read_options=options, progress=bar,
                                       force=force))])
    try:
        for name, job in jobs:
            with _Bar(f"loading {name}") as bar:
                try:
                    results = job(bar)
                except ValidationFailed as exc:
                    bar.__exit__(None, None, None)
                    err_console.print(f"[red]rejected:[/] {escape(exc.message)}", highlight=False)
                    print_report(exc.report)
                    raise
            for result in results:
                _print_load(result)
            if sum(not r.skipped and not r.empty for r in results) > 1:
                added = ", ".join(f"{t} +{n:,}" for t, n in total_added(results).items())
                console.print(f"committed as one load: {escape(added)}", highlight=False)
    finally:
        ws.close()


def _print_load(result) -> None:
    if result.skipped:
        console.print(f"{escape(result.source)}: already loaded, nothing added")
        return
    if result.empty:
        console.print(f"{escape(result.source)}: nothing to load (no data rows)")
        return
    added = ", ".join(f"{t} +{n:,}" for t, n in result.rows_added.items())
    console.print(f"[green]loaded[/] {escape(result.source)}: {escape(added)}", highlight=False)
    rejected = sum(result.rows_rejected.values())
    if rejected:
        console.print(f"[yellow]quarantined[/] {rejected:,} row(s) to _rejects")
        print_report(result.report)
    for note in sorted(result.report.notes):
        console.print(f"  note: {escape(note)}", highlight=False)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)



def _emit(frame, fmt: str, output: Path | None, title: str = "",
          grain: str = "day", *, kinds=None, currency: str | None = None,
          footnote: str = "") -> None:
    """Print or write a result frame in the asked format.

    Exports hold exact values without float noise (counts as integers, money in the
    currency's minor unit); tables format each column by its kind (:mod:`shopscope.ui.clifmt`).
    """
    from shopscope.errors import ShopscopeError
    from shopscope.ui.clifmt import export_frame, to_json_text

    if fmt == "parquet":
        if output is None:
            raise ShopscopeError("parquet output needs a file", hint="add --output FILE.parquet")
        export_frame(frame, kinds, currency).to_parquet(output, index=False)
        err_console.print(f"wrote {escape(output)}")
        return
    if fmt == "csv":
        from shopscope.safety import csv_text

        text = csv_text(export_frame(frame, kinds, currency))
    elif fmt == "json":
        text = to_json_text(export_frame(frame, kinds, currency))
    else:
        _print_table(frame, title, grain, kinds=kinds, currency=currency, footnote=footnote)
        return
    if output:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {escape(output)}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _print_table(frame, title: str, grain: str = "day", *, kinds=None,
                 currency: str | None = None, footnote: str = "") -> None:
    """A result frame as one or more tables that fit the terminal (nothing cut short); a
    partial period is labelled ``(partial)``."""
    from shopscope.kpis import METRICS
    from shopscope.ui.clifmt import (
        NUMERIC_KINDS,
        format_frame,
        kinds_for,
        minor_digits,
        print_table,
    )

    partial = frame["partial"].tolist() if "partial" in frame.columns else None
    shown = frame.drop(columns="partial") if partial is not None else frame
    kind = kinds_for(shown, kinds)
    cells = format_frame(shown, kind, minor_digits(currency),
                         period_label=lambda v: _period_label(v, grain))
    if partial is not None and "period" in cells.columns:
        cells["period"] = [f"{p} (partial)" if flag else p
                           for p, flag in zip(cells["period"], partial, strict=True)]
    headers = {c: METRICS[c].label_en for c in shown.columns if c in METRICS}
    if currency and any(k == "money" for k in kind.values()):
        footnote = "; ".join(x for x in (f"amounts in {currency}", footnote) if x)
    print_table(cells, console, title=title,
                numeric=[c for c, k in kind.items() if k in NUMERIC_KINDS],
                keys=[c for c, k in kind.items() if k not in NUMERIC_KINDS],
                headers=headers, footnote=footnote)


def _period_label(value, grain: str) -> str:
    """The language-neutral label of the period starting on ``value`` (core.periods)."""
    import pandas as pd

    from shopscope.core.periods import label

    return label(pd.Timestamp(value).date(), grain)


def check_range(start: str | None, end: str | None,
                names: tuple[str, str] = ("--start", "--end"), *, after: bool = False) -> None:
    """Refuse an unreadable date or a range that ends before it starts (both days are
    included, as everywhere), before any work is done. ``after``: the second date must
    come strictly after the first (two points in time, such as a holdout's end)."""
    from shopscope.core.periods import parse_date
    from shopscope.errors import OptionError

    lo, hi = (parse_date(value, name) for name, value in zip(names, (start, end), strict=True))
    if lo is not None and hi is not None and after and lo == hi:
        raise OptionError(f"{names[1]} {hi} is not after {names[0]} {lo}",
                          hint=f"give {names[1]} a later day than {names[0]}")
    if lo is not None and hi is not None and lo > hi:
        raise OptionError(
            f"the range {lo} to {hi} is empty: {names[0]} comes after {names[1]}",
            hint=f"give {names[0]} before {names[1]}, e.g. {names[0]} {hi} {names[1]} {lo} "
            "(both days are included)")


def _lang(lang: str) -> Literal["en", "zh"]:
    from shopscope.errors import ShopscopeError

    norm = lang.lower().replace("_", "-")
    if norm in ("en", "en-us", "en-gb"):
        return "en"
    if norm in ("zh", "zh-cn", "zh-hans"):
        return "zh"
    raise ShopscopeError(f"unknown language {lang!r}", hint="use en or zh")


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write Parquet files to.")] = Path("synth"),
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same shop).")] = 0,
    start: Annotated[str, typer.Option(help="First day of the shop.")] = "2023-01-01",
    days: Annotated[int, typer.Option(help="Days of history.")] = 730,
    events: Annotated[bool, typer.Option(help="Also generate behaviour events.")] = True,
    n_events: Annotated[int | None, typer.Option(
        "--n-events", help="Target number of events (default ~350 per customer).")] = None,
) -> None:
    """Generate a synthetic shop with known ground truth (Parquet + ground_truth.json)."""
    from shopscope.synth import generate

    with _Bar("generating") as bar:
        result = generate(out, customers=customers, seed=seed, start=start, days=days,
                          events=events, n_events=n_events, progress=bar)
    counts = ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
    console.print(f"[green]synthetic shop written to[/] {escape(out)}: {counts}", highlight=False)
    console.print(f"load it with: shopscope ingest canonical {escape(out)} -w WORKSPACE")


def demo_data_path() -> Path:
    from importlib.resources import files

    return Path(str(files("shopscope") / "samples" / "online_retail_sample.csv.gz"))


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Demo workspace folder.")]
    = Path("shopscope-demo"),
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    serve: Annotated[bool, typer.Option(help="End by serving the dashboard.")] = True,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8000,
) -> None:
    """Run the demo: ingest the bundled UCI Online Retail slice, print KPIs, write a report,
    then serve the dashboard on 127.0.0.1 with a demo login."""
    from shopscope.core.service import LocalContext
    from shopscope.kpis import METRICS
    from shopscope.kpis import service as kpi_service
    from shopscope.kpis.queries import mark_partial
    from shopscope.kpis.report import format_value, write_kpi_report
    from shopscope.store import Workspace

    language = _lang(lang)
    ws = Workspace.create(workspace, timezone="Europe/London", currency="GBP", name="demo")
    try:
        source = demo_data_path()
        console.print(f"[bold]shopscope demo[/]: workspace {escape(ws.path)}, data {source.name} "
                      "(UCI Online Retail, CC BY 4.0)")
        from shopscope.ingest import ingest_file

        with _Bar("loading") as bar:
            result = ingest_file(ws, source, preset="online_retail", progress=bar)
        if result.skipped:
            console.print("data already loaded")
        else:
            added = ", ".join(f"{t} +{n:,}" for t, n in result.rows_added.items())
            console.print(f"loaded: {added}", highlight=False)
        ctx = LocalContext(ws)
        totals = kpi_service.summary(ctx, kpi_service.SummaryParams())
        from rich.table import Table

        table = Table(title="KPI summary" if language == "en" else "经营指标汇总")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name in ("gmv", "net_sales", "orders", "buyers", "aov", "units_per_order",
                     "repurchase_rate", "cancellation_rate", "return_rate", "arpu"):
            meta = METRICS[name]
            table.add_row(meta.label_zh if language == "zh" else meta.label_en,
                          format_value(totals.get(name), meta.unit, ws.settings.currency))
        console.print(table)
        monthly = kpi_service.kpi_table(ctx, kpi_service.KpiParams(grain="month", metrics=(
            "gmv", "net_sales", "orders", "buyers", "aov", "repurchase_rate"))).wide()
        last = kpi_service.data_end(ctx)
        _print_table(mark_partial(monthly, "month", last),
                     "by month", "month", currency=ws.settings.currency,
                     footnote=f"(partial): the data end on {last:%Y-%m-%d}" if last else "")
        path = write_kpi_report(ctx, ws.path / "report.html", lang=language,
                                currency=ws.settings.currency, timezone=ws.settings.timezone)
        console.print(f"report: [bold]{escape(path.resolve())}[/] "
                      "(open it in a browser; works offline)")
    finally:
        ws.close()
    if serve:
        password = _demo_login(workspace)
        console.print(f"dashboard login: user [bold]demo[/], password [bold]{password}[/]",
                      highlight=False)
        _serve(workspace, "127.0.0.1", port, secure=True)


def _demo_login(workspace: Path) -> str:
    """A fresh random password for the demo admin, printed; never a default password."""
    import secrets

    from shopscope.auth import UserStore

    users = UserStore(workspace)
    password = secrets.token_urlsafe(12)
    if users.get("demo") is None:
        users.add("demo", password, "admin")
    else:
        users.set_password("demo", password)
    return password


user_app = typer.Typer(help="Manage dashboard/API users (stored in the workspace).",
                       no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def _users(workspace: Path):
    from shopscope.auth import UserStore

    _open_workspace(workspace).close()  # fails clearly when there is no workspace
    return UserStore(workspace)


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    if not sys.stdin.isatty():  # piped: first line of stdin
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


PasswordOpt = Annotated[str | None, typer.Option(
    help="Password (default: prompt, or the first line of stdin when piped).")]


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin | analyst | viewer")] = "viewer",
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    password: PasswordOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Add a user (the first admin must be created here: there is no default account)."""
    user = _users(workspace).add(username, _read_password(password), role,
                                 _lang(lang))
    console.print(f"added {escape(user.username)} ({user.role})")


@user_app.command("list")
def user_list(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """List users and roles."""
    for user in _users(workspace).list():
        typer.echo(f"{user.username}\t{user.role}\t{user.lang}")


@user_app.command("remove")
def user_remove(username: str, workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Remove a user, ending their sessions and revoking their tokens."""
    _users(workspace).remove(username)
    console.print(f"removed {escape(username)}")


@user_app.command("passwd")
def user_passwd(username: str, password: PasswordOpt = None,
                workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Set a user's password (ends their sessions)."""
    _users(workspace).set_password(username, _read_password(password))
    console.print(f"password changed for {escape(username)}")


@token_app.command("create")
def token_create(name: str, user: Annotated[str, typer.Option(help="Owner of the token.")],
                 workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Create an API token for a user; it is printed once."""
    from shopscope.errors import ShopscopeError

    store = _users(workspace)
    if store.get(user) is None:
        raise ShopscopeError(f"no user {user!r}", hint="see `shopscope user list`")
    token, info = store.create_token(user, name)
    console.print(f"token {info.id} for {escape(user)}: {escape(token)}", highlight=False,
                  soft_wrap=True)
    console.print("send it as: Authorization: Bearer <token>")


@token_app.command("list")
def token_list(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """List tokens (never their secrets)."""
    for t in _users(workspace).tokens():
        typer.echo(f"{t.id}\t{t.username}\t{t.name}\t{'revoked' if t.revoked else 'active'}")


@token_app.command("revoke")
def token_revoke(token_id: int, workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Revoke a token by id."""
    from shopscope.errors import ShopscopeError

    if not _users(workspace).revoke_token(token_id):
        raise ShopscopeError(f"no active token {token_id}", hint="see `shopscope token list`")
    console.print(f"revoked token {token_id}")


@app.command()
def serve(
    workspace: WorkspaceOpt = DEFAULT_WS,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    insecure_cookies: Annotated[bool, typer.Option(
        help="Send the session cookie over plain HTTP to other hosts (behind a TLS proxy).")]
    = False,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto "
             "are trusted (default: none; the login rate limit needs real addresses).")]
    = None,
) -> None:
    """Serve the REST API (/docs) and the dashboard for one workspace."""
    _serve(workspace, host, port, not insecure_cookies, forwarded_allow_ips)


def uvicorn_options(host: str, port: int, forwarded_allow_ips: str | None = None) -> dict:
    """uvicorn settings: forwarded headers are trusted only from the proxies named (uvicorn
    trusts them from 127.0.0.1 by default, which let any local client pick its address)."""
    proxies = (forwarded_allow_ips or "").strip()
    return {"host": host, "port": port, "log_level": "warning",
            "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


def _serve(workspace: Path, host: str, port: int, secure: bool,
           forwarded_allow_ips: str | None = None) -> None:
    import uvicorn

    from shopscope.app import create_app
    from shopscope.store.workspace import serve_marker

    app_ = create_app(workspace, cookie_secure=secure, serving=True)
    url = f"http://{host}:{port}/"
    console.print(f"serving [bold]{escape(url)}[/] (API docs at /docs); Ctrl-C stops")
    if not _open_workspace(workspace).is_spark:  # Spark: other commands run meanwhile
        console.print(f"the dashboard holds the workspace {escape(workspace)} while it serves: "
                      "other shopscope commands on it must wait until Ctrl-C here, or use "
                      "the API", highlight=False)
    with serve_marker(workspace, url):
        uvicorn.run(app_, **uvicorn_options(host, port, forwarded_allow_ips))


def merge_groups(parts: list[typer.Typer]) -> typer.Typer:
    """One command group from several Typer apps registered under one name: an area whose
    commands live in several modules (adapters never import each other) still shows one
    group, ``shopscope marketing channels|cohorts|attribution``. Its help is the first's."""
    if len(parts) == 1:
        return parts[0]
    merged = typer.Typer(help=parts[0].info.help, no_args_is_help=True)
    for part in parts:
        merged.registered_commands += part.registered_commands
        merged.registered_groups += part.registered_groups
    return merged


def _register_subcommands() -> None:
    from shopscope.core.registry import areas, resolve

    known = {info.name for info in app.registered_commands}
    added = []
    groups: dict[str, list[typer.Typer]] = {}
    for area in areas():
        for name, ref in area.top_commands:
            if name not in known:  # registering twice (tests) keeps one command
                app.command(name)(resolve(ref))
                added.append(app.registered_commands.pop())
        for name, ref in area.commands:
            groups.setdefault(name, []).append(resolve(ref))
    for name, parts in groups.items():
        app.add_typer(merge_groups(parts), name=name)
    # Areas' top-level commands follow `ingest` in --help: init, ingest, then the analyses.
    at = next((i + 1 for i, info in enumerate(app.registered_commands)
               if info.callback is ingest), len(app.registered_commands))
    app.registered_commands[at:at] = added


def _escape_help(command) -> None:
    """Help is printed as Rich markup: escape it so ``[metric]`` stays on the screen. It is
    our own text, so its line breaks stay line breaks (the data escape would show them as
    ``\\x0a``)."""
    for attr in ("help", "short_help"):
        if isinstance(getattr(command, attr, None), str):
            setattr(command, attr, markup_escape(getattr(command, attr)))
    for param in getattr(command, "params", ()):
        if isinstance(getattr(param, "help", None), str):
            param.help = markup_escape(param.help)
    for sub in getattr(command, "commands", {}).values():
        _escape_help(sub)


def main() -> None:
    """Entry point: run the app, turning project errors into a one-line message."""
    try:
        _register_subcommands()
        command = typer.main.get_command(app)
        _escape_help(command)
        command.main(prog_name="shopscope", standalone_mode=False)
    except ShopscopeError as exc:
        err_console.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing was changed")
        sys.exit(130)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except Exception as exc:  # click usage errors arrive here with standalone_mode=False
        # Typer 0.29 vendors its own click (typer._click), so test by behaviour, not class.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        if os.environ.get("SHOPSCOPE_DEBUG"):
            raise
        err_console.print(f"[red]internal error:[/] {type(exc).__name__}: {escape(exc)}",
                          highlight=False)
        err_console.print("[yellow]hint:[/] rerun with SHOPSCOPE_DEBUG=1 for a traceback")
        sys.exit(70)


if __name__ == "__main__":  # pragma: no cover
    main()
