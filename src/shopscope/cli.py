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
