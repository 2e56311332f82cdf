"""Files already in the canonical schema: ``<table>.parquet`` (or ``<table>/`` of parts,
or ``<table>.csv``) in a folder, such as the synthetic shop writes."""

from __future__ import annotations

from pathlib import Path

from shopscope.errors import InputError
from shopscope.ingest.load import LOAD_ORDER, Batch
from shopscope.ingest.presets import Built, Context
from shopscope.ingest.readers import ROW


class Canonical:
    name = "canonical"
    description = "a folder of <table>.parquet files in the canonical schema (synth output)"

    def build(self, path: Path, ctx: Context) -> Built:
        if not path.is_dir():
            raise InputError(f"{path}: the canonical preset takes a folder",
                             hint="point it at the folder with orders.parquet, events/, …")
        batches = []
        for table in LOAD_ORDER:
            for candidate in (path / f"{table}.parquet", path / table):
                if candidate.exists():
                    target = str(candidate / "*.parquet") if candidate.is_dir() else str(candidate)
                    scan = ctx.store.read_parquet(target)
                    if ROW in scan.columns:
                        scan = scan.drop(ROW)
                    batches.append(Batch(table, scan))
                    break
        if not batches:
            raise InputError(f"{path}: no <table>.parquet files found",
                             hint=f"expected any of: {', '.join(LOAD_ORDER)}")
        return Built(batches)
