"""CDNOW (Fader & Hardie): the master file and the 1/10 sample.

* whitespace-separated fixed-width columns; the master copy from ``lifetimes`` has a
  one-line header, the original and the sample have none (detected from the first line);
* master: customer id, date, number of CDs, dollar value; sample: customer id, sample id,
  date, number of CDs, dollar value (the sample id is kept as an identity);
* ids are zero-padded text and stay text; dates are ``YYYYMMDD``;
* several rows per customer per day are separate orders, numbered in file order;
* there are no products: each order gets one line with the CD count and a null product.
"""

from __future__ import annotations

from pathlib import Path

import ibis

from shopscope.errors import InputError
from shopscope.ingest.load import Batch
from shopscope.ingest.parse import parse_float, parse_int, parse_timestamp
from shopscope.ingest.presets import Built, Context
from shopscope.ingest.readers import INTERNAL, ROW, ReadOptions, read_text
from shopscope.ingest.validate import raw_name


class Cdnow:
    name = "cdnow"
    description = "CDNOW_master.txt / CDNOW_sample.txt (whitespace columns, YYYYMMDD dates)"

    def build(self, path: Path, ctx: Context) -> Built:
        probe = read_text(path, ReadOptions(format="whitespace", header=False))
        first = [probe.data[c][0].as_py() for c in probe.columns] if probe.data.num_rows else []
        has_header = bool(first) and not first[0].isdigit()
        width = len(probe.columns)
        names: tuple[str, ...]
        if width == 4:
            names = ("customer_id", "date", "cds", "value")
        elif width == 5:
            names = ("customer_id", "sample_id", "date", "cds", "value")
        else:
            raise InputError(f"{path}: expected 4 (master) or 5 (sample) columns, got {width}",
                             hint="is this a CDNOW file?")
        text = read_text(path, ReadOptions(format="whitespace", header=False, column_names=names,
                                           skip_rows=1 if has_header else 0))
        raw = ctx.store.from_arrow(text.data)
        lines = raw.select(
            raw[ROW],
            *[raw[c] for c in INTERNAL[1:] if c in raw.columns],  # rows the reader refused
            customer_id=raw.customer_id.strip(),
            sample_id=raw.sample_id if width == 5 else ibis.null("string"),
            ordered_at=parse_timestamp(raw.date, ["%Y%m%d"]),
            quantity=parse_int(raw.cds),
            gross_amount=parse_float(raw.value),
            **{raw_name("ordered_at"): raw.date, raw_name("quantity"): raw.cds,
               raw_name("gross_amount"): raw.value},
        )
        seq = ibis.row_number().over(group_by=[lines.customer_id, lines.ordered_at],
                                     order_by=lines[ROW]) + 1
        lines = lines.mutate(
            order_id=lines.customer_id + "-" + lines.ordered_at.strftime("%Y%m%d") + "-"
            + seq.cast("string")
        )
        lines = ctx.store.materialize(lines, "_stage_cdnow")
        orders = lines.mutate(
            channel=ibis.literal("online"),
            status=ibis.literal("completed"),
            discount_amount=ibis.literal(0.0),
            shipping_amount=ibis.literal(0.0),
            net_amount=lines.gross_amount,
            currency=ibis.literal("USD"),
        )
        good = lines.filter(lines.ordered_at.notnull() & lines.quantity.notnull()
                            & lines.gross_amount.notnull())
        items = good.select(
            order_id=good.order_id,
            line_no=ibis.literal(1, "int64"),
            product_id=ibis.null("string"),
            quantity=good.quantity,
            unit_price=(good.quantity > 0).ifelse(good.gross_amount / good.quantity, 0.0),
            discount_amount=ibis.literal(0.0),
        )
        items = items.filter(good.quantity > 0)
        customers = good.group_by("customer_id").aggregate(first_seen_at=good.ordered_at.min())
        batches = [
            Batch("customers", customers, derived=True),
            Batch("orders", orders),
            Batch("order_items", items, derived=True),
        ]
        if width == 5:
            ident = good.select(
                customer_id=good.customer_id,
                channel=ibis.literal("cdnow_sample"),
                external_id=good.sample_id,
            ).distinct()
            batches.append(Batch("identities", ident, derived=True))
        notes = ["header line skipped" if has_header else "no header line"]
        return Built(batches, notes)
