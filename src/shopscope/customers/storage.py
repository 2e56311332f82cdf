"""Files of the customers area: saved audience definitions (JSON in the workspace) and
audience exports (CSV or Parquet written by the engine, PII masked unless asked).

The queries behind them are in :mod:`shopscope.customers.audiences`; the adapters use
these through :mod:`shopscope.customers.service`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Literal

import ibis.expr.types as ir

from shopscope.customers.audiences import (
    AudienceDefinition,
    AudienceError,
    AudienceNotFound,
    parse_definition,
)
from shopscope.privacy import Mode, protect
from shopscope.safety import neutralise_formulas
from shopscope.store.definitions import DefinitionStore

__all__ = ["AudienceStore", "ExportFormat", "export_audience"]

ExportFormat = Literal["csv", "parquet"]


def export_audience(
    expr: ir.Table,
    path: str | Path,
    format: ExportFormat | None = None,
    pii: Mode = "mask",
    key: str | None = None,
) -> Path:
    """Write an audience to CSV or Parquet, PII masked unless ``pii="raw"``.

    Parameters
    ----------
    expr
        The audience (:func:`audience_expr`), or any table of customers.
    path
        The file to write; replaced atomically (a failed export leaves no partial file).
    format
        ``"csv"`` or ``"parquet"``; from the file's suffix when None (``.parquet`` →
        Parquet, anything else CSV).
    pii
        ``"mask"`` (default: ``j***@shop.cn``, ``***8000``, ``J***``), ``"hash"`` (stable
        pseudonyms) or ``"raw"`` (only when explicitly asked), applied by
        :func:`~shopscope.privacy.protect` to the ``email``, ``phone`` and ``name``
        columns in the engine.
    key
        The workspace's pseudonym secret: with it, ``mask`` and ``hash`` also replace
        customer ids that look like e-mail addresses or phone numbers by pseudonyms.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    AudienceError
        Unknown format or PII mode, or a folder that does not exist.
    """
    target = Path(path)
    fmt = format or ("parquet" if target.suffix.lower() == ".parquet" else "csv")
    if fmt not in ("csv", "parquet"):
        raise AudienceError(f"unknown export format {fmt!r}", hint="use csv or parquet")
    if pii not in ("mask", "hash", "raw"):
        raise AudienceError(f"unknown PII mode {pii!r}", hint="use mask, hash or raw")
    if not target.parent.is_dir():
        raise AudienceError(f"folder {target.parent} does not exist",
                            hint="create it first or choose another path")
    safe = protect(expr, pii, None if pii == "raw" else key)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        if fmt == "csv":
            neutralise_formulas(safe).to_csv(tmp)
        else:
            safe.to_parquet(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


class AudienceStore(DefinitionStore[AudienceDefinition]):
    """Saved audience definitions, one JSON file each in ``<workspace>/audiences/``
    (:class:`~shopscope.store.definitions.DefinitionStore`).

    Examples
    --------
    >>> import tempfile
    >>> from shopscope.customers.audiences import Filter
    >>> store = AudienceStore(tempfile.mkdtemp())
    >>> _ = store.save(AudienceDefinition(name="vip", filters=[
    ...     Filter(field="m_score", op="eq", value=5)]))
    >>> store.list(), store.load("vip").filters[0].value
    (['vip'], 5)
    >>> store.delete("vip"); store.list()
    []
    """

    folder_name = "audiences"
    kind = "audience"
    id_label = "name"
    id_field = "name"
    error = AudienceError
    not_found = AudienceNotFound
    parse = staticmethod(parse_definition)
