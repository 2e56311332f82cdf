"""Ingestion: readers → column mapping → validation → atomic, idempotent load.

>>> from shopscope.ingest import PRESETS
>>> "online_retail" in PRESETS
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shopscope.ingest.load import (
    LoadResult,
    Progress,
    already_loaded,
    content_fingerprint,
    load_batches,
    one_load,
)
from shopscope.ingest.presets import PRESETS, Context, get_preset
from shopscope.ingest.readers import ReadOptions, disk_errors
from shopscope.ingest.validate import Policy, ValidationReport
from shopscope.store import Workspace

__all__ = ["PRESETS", "LoadResult", "ReadOptions", "ValidationReport", "ingest_file",
           "ingest_files"]


def ingest_file(
    workspace: Workspace,
    path: str | Path,
    *,
    preset: str,
    policy: Policy = "reject",
    read_options: ReadOptions | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> LoadResult:
    """Load one file with a preset into the workspace.

    Parameters
    ----------
    workspace
        Where to load.
    path
        The file (CSV, gzip CSV, Excel, Parquet, or a folder for ``canonical``).
    preset
        One of :data:`PRESETS`.
    policy
        ``reject`` (default): any bad row and nothing is loaded. ``quarantine``: good rows
        load, bad rows go to the ``_rejects`` table with their reasons (an order loads with
        its good lines, flagged). ``quarantine_orders``: a bad line keeps its order out.
    force
        Re-read a file whose fingerprint is already in the ingest log (keyed rows are still
        never added twice).

    Raises
    ------
    ValidationFailed
        Bad rows under the ``reject`` policy; ``.report`` has every problem.
    InputError, SchemaError
        Unreadable file or missing columns.
    """
    p = Path(path)
    store = workspace.store
    fp = content_fingerprint(p) if p.exists() else ""
    if not force and fp and already_loaded(store, fp, preset):
        result = LoadResult(str(p), ValidationReport(str(p)), skipped=True)
        result.report.notes.append("already loaded (same content); nothing added")
        return result
    ctx = Context(
        store=store,
        timezone=workspace.settings.timezone,
        currency=workspace.settings.currency,
        source=p.name,
        read_options=read_options or ReadOptions(),
        policy=policy,
    )
    if progress:
        progress(f"reading {p.name}", 0, 1)
    with disk_errors(p.name, workspace.path):
        built = get_preset(preset).build(p, ctx)
        return load_batches(
            store,
            built.batches,
            source=p.name,
            fingerprint=fp,
            preset=preset,
            policy=policy,
            notes=built.notes,
            progress=progress,
            currency=workspace.settings.currency,
        )


def ingest_files(
    workspace: Workspace, paths: Sequence[str | Path], *, preset: str, **kwargs
) -> list[LoadResult]:
    """Load several files in order as one load: every file is validated and written in one
    transaction, so a refused file leaves none of them (see :func:`ingest_file`)."""
    with one_load(workspace.store, len(paths)):
        return [ingest_file(workspace, p, preset=preset, **kwargs) for p in paths]
