"""Command line: ``shopscope init | ingest | kpi | synth | demo``.

Thin by design: parse arguments, call the same functions the API calls, print. User errors
(``ShopscopeError``) print one line of reason and one of hint and exit with the error's code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from shopscope.errors import ShopscopeError

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
    console.print(f"workspace ready at [bold]{ws.path}[/] (engine: {ws.engine_url})")
    ws.close()


def _open_workspace(path: Path):  # noqa: ANN202
    from shopscope.store import Workspace

    return Workspace.open(path)


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

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


def print_report(report, limit: int = 20) -> None:  # noqa: ANN001
    """Validation problems as a table: file, row, column, value, reason."""
    from rich.table import Table

    for line in report.summary_lines():
        err_console.print(f"  {line}", highlight=False)
    problems = report.problems[:limit]
    if problems:
        table = Table("file", "row", "column", "value", "reason", title="first problems")
        for p in problems:
            table.add_row(p.source, "" if p.row is None else str(p.row), p.column,
                          "(empty)" if p.value is None else repr(p.value), p.reason)
        err_console.print(table)


@app.command()
def ingest(
    preset: Annotated[str, typer.Argument(help="online_retail | cdnow | taobao | canonical")],
    paths: Annotated[list[Path], typer.Argument(help="Files (or a folder for canonical).")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    policy: Annotated[str, typer.Option(help="reject (load nothing if any row is bad) or "
                                         "quarantine (bad rows to _rejects)")] = "reject",
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detect).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: detect).")] = None,
    force: Annotated[bool, typer.Option(help="Re-read files already loaded.")] = False,
) -> None:
    """Load files into the workspace with a preset; validated, atomic and idempotent."""
    from shopscope.errors import ShopscopeError, ValidationFailed
    from shopscope.ingest import ingest_file
    from shopscope.ingest.readers import ReadOptions

    if policy not in ("reject", "quarantine"):
        raise ShopscopeError(f"unknown policy {policy!r}", hint="use reject or quarantine")
    ws = _open_workspace(workspace)
    options = ReadOptions(encoding=encoding, delimiter=delimiter)
    try:
        for path in paths:
            with _Bar(f"loading {path.name}") as bar:
                try:
                    result = ingest_file(ws, path, preset=preset, policy=policy,  # type: ignore[arg-type]
                                         read_options=options, progress=bar, force=force)
                except ValidationFailed as exc:
                    bar.__exit__(None, None, None)
                    err_console.print(f"[red]rejected:[/] {exc.message}", highlight=False)
                    print_report(exc.report)
                    raise
            if result.skipped:
                console.print(f"{path.name}: already loaded, nothing added")
                continue
            added = ", ".join(f"{t} +{n:,}" for t, n in result.rows_added.items())
            console.print(f"[green]loaded[/] {path.name}: {added}", highlight=False)
            rejected = sum(result.rows_rejected.values())
            if rejected:
                console.print(f"[yellow]quarantined[/] {rejected:,} row(s) to _rejects")
                print_report(result.report)
            for note in result.report.notes:
                console.print(f"  note: {note}", highlight=False)
    finally:
        ws.close()


def main() -> None:
    """Entry point: run the app, turning project errors into a one-line message."""
    try:
        app(standalone_mode=False)
    except ShopscopeError as exc:
        err_console.print(f"[red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing was changed")
        sys.exit(130)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except Exception as exc:  # click usage errors arrive here with standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("SHOPSCOPE_DEBUG"):
            raise
        err_console.print(f"[red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
        err_console.print("[yellow]hint:[/] rerun with SHOPSCOPE_DEBUG=1 for a traceback")
        sys.exit(70)


if __name__ == "__main__":  # pragma: no cover
    main()
