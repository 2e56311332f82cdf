"""Presets: how a known public or vendor format maps onto the canonical tables.

A preset reads its files (with the right reader options), turns the raw rows into
:class:`~shopscope.ingest.load.Batch` objects per canonical table, and adds notes on the
quirks it handled. ``docs/ingest.md`` describes every preset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import ibis.expr.types as ir

from shopscope.errors import SchemaError, ShopscopeError
from shopscope.ingest.load import Batch
from shopscope.ingest.readers import ReadOptions
from shopscope.store import Store


@dataclass(frozen=True)
class Context:
    """What a preset knows of the workspace it loads into."""

    store: Store
    timezone: str = "UTC"
    currency: str = "GBP"
    source: str = ""
    read_options: ReadOptions = field(default_factory=ReadOptions)
    #: the load's policy: a preset deriving orders from lines flags or drops partial orders
    policy: str = "reject"


@dataclass
class Built:
    batches: list[Batch]
    notes: list[str] = field(default_factory=list)


class Preset(Protocol):
    name: str
    description: str

    def build(self, path: Path, ctx: Context) -> Built: ...


def pick_column(columns: Sequence[str], candidates: Sequence[str], *, path: Path,
                role: str, required: bool = True) -> str | None:
    """The first of ``candidates`` present in ``columns`` (case and spacing ignored)."""
    norm = {c.lower().replace(" ", "").replace("_", ""): c for c in columns}
    for cand in candidates:
        hit = norm.get(cand.lower().replace(" ", "").replace("_", ""))
        if hit is not None:
            return hit
    if required:
        raise SchemaError(
            f"{path}: missing required column for {role} (looked for "
            f"{' / '.join(candidates)}; found {', '.join(columns)})",
            hint="check the header row, or use a mapping file for a custom export",
        )
    return None


def materialize(ctx: Context, expr: ir.Table, name: str) -> ir.Table:
    return ctx.store.materialize(expr, name)


def get_preset(name: str) -> Preset:
    from shopscope.ingest.presets import canonical, cdnow, online_retail, taobao

    presets: dict[str, Preset] = {
        "online_retail": online_retail.OnlineRetail(),
        "cdnow": cdnow.Cdnow(),
        "taobao": taobao.Taobao(),
        "canonical": canonical.Canonical(),
    }
    try:
        return presets[name]
    except KeyError:
        from shopscope.ingest.presets.exports import EXPORTS

        raise ShopscopeError(
            f"unknown preset {name!r}",
            hint=f"presets are: {', '.join(presets)}; shop and ad spend exports "
                 f"({', '.join(EXPORTS)}) load with ingest.presets.exports.ingest_export; "
                 "or use --mapping FILE.toml",
        ) from None


PRESETS = ("online_retail", "cdnow", "taobao", "canonical")
