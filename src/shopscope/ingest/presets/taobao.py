"""Taobao UserBehavior (Alibaba Tianchi): behaviour events.

* no header; columns user_id, item_id, category_id, behavior_type, timestamp;
* behaviour codes pv / cart / fav / buy become view / add_to_cart / favorite / purchase;
* timestamps are unix seconds (UTC), converted to the workspace's time zone (the original
  analysis window 2017-11-25..12-03 is in China time: create the workspace with
  ``--timezone Asia/Shanghai``); rows outside that window are kept (known noise) and counted;
* items become products with their category; users become customers first seen at their
  first event.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis

from shopscope.ingest.load import Batch
from shopscope.ingest.parse import convert_timezone, parse_id, parse_timestamp
from shopscope.ingest.presets import Built, Context
from shopscope.ingest.readers import INTERNAL, ROW, ReadOptions, read_text
from shopscope.ingest.validate import raw_name

BEHAVIOURS = {"pv": "view", "cart": "add_to_cart", "fav": "favorite", "buy": "purchase"}
NAMES = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")


class Taobao:
    name = "taobao"
    description = "Taobao UserBehavior.csv (no header, unix timestamps, pv/cart/fav/buy)"

    def build(self, path: Path, ctx: Context) -> Built:
        opts = ReadOptions(header=False, column_names=NAMES, delimiter=",")
        text = read_text(path, opts)
        raw = ctx.store.from_arrow(text.data)
        utc = parse_timestamp(raw.timestamp, ["unix"])
        kind = raw.behavior_type.strip().lower()
        mapped = ibis.cases(*[(kind == k, v) for k, v in BEHAVIOURS.items()], else_=kind)
        staged = raw.select(
            raw[ROW],
            *[raw[c] for c in INTERNAL[1:] if c in raw.columns],  # rows the reader refused
            user_id=parse_id(raw.user_id),
            product_id=parse_id(raw.item_id),
            category=parse_id(raw.category_id),
            event_type=mapped,
            event_at_utc=utc,
            **{raw_name("event_at"): raw.timestamp, raw_name("event_type"): raw.behavior_type},
        )
        staged = ctx.store.materialize(staged, "_stage_taobao")
        lo, hi = ctx.store.backend.execute(
            staged.aggregate(lo=staged.event_at_utc.min(), hi=staged.event_at_utc.max())
        ).iloc[0]
        if lo is None or lo != lo:
            lo = hi = datetime(2017, 1, 1)
        events = staged.mutate(
            event_at=convert_timezone(staged.event_at_utc, "UTC", ctx.timezone,
                                      lo.to_pydatetime(), hi.to_pydatetime()),
            channel=ibis.literal("taobao"),
        ).drop("event_at_utc")
        good = events.filter(events.event_at.notnull() & events.user_id.notnull())
        customers = good.group_by(customer_id=good.user_id).aggregate(
            first_seen_at=good.event_at.min())
        items = good.filter(good.product_id.notnull())
        products = items.group_by(product_id=items.product_id).aggregate(
            category=items.category.argmax(items.event_at))
        window = good.filter((good.event_at < datetime(2017, 11, 25))
                             | (good.event_at >= datetime(2017, 12, 4)))
        n_out = int(ctx.store.backend.execute(window.count()))
        notes = [f"{n_out:,} event(s) outside the official 2017-11-25..12-03 window kept",
                 f"timestamps converted from UTC to {ctx.timezone}"]
        return Built(
            [Batch("customers", customers, derived=True),
             Batch("products", products, derived=True),
             Batch("events", events)],
            notes,
        )
