"""UCI Online Retail (and Online Retail II): one row per invoice line.

Quirks handled (see ``docs/ingest.md``):

* column names of both releases (InvoiceNo/Invoice, UnitPrice/Price, CustomerID/Customer ID);
* dates as ``2010-12-01 08:26:00`` (Spark re-export, Online Retail II CSV) or ``12/1/2010 8:26``
  (the UCI workbook saved as CSV); Excel cells arrive as real dates;
* CustomerID written as ``17850`` or ``17850.0``; empty means a guest order;
* invoices starting with ``C`` are cancellations → ``returns`` rows of kind cancellation;
* negative quantities on other invoices are returns (and stock write-offs) → ``returns``;
* non-merchandise stock codes are not products: postage (POST, DOT, C2) becomes the order's
  shipping, D its discount, and fees/adjustments (M, S, B, BANK CHARGES, AMAZONFEE, CRUK,
  gift vouchers …) are left out, counted in the notes;
* exact duplicate lines are kept (the source keeps them) and counted in the notes.
"""

from __future__ import annotations

from pathlib import Path

import ibis

from shopscope.ingest.load import Batch
from shopscope.ingest.parse import (
    parse_float,
    parse_id,
    parse_int,
    parse_timestamp,
    resolve_day_month,
)
from shopscope.ingest.presets import Built, Context, pick_column
from shopscope.ingest.readers import INTERNAL, ROW, read_text
from shopscope.ingest.reasons import reason
from shopscope.ingest.validate import (
    MAX_QUANTITY,
    Check,
    raw_name,
    value_checks,
    with_malformed,
)

SHIPPING_CODES = ("POST", "DOT", "C2")
DISCOUNT_CODES = ("D",)
FEE_CODES = (
    "M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "ADJUST", "ADJUST2", "TEST001",
    "TEST002",
)
NON_MERCH_PATTERN = r"^(?i:gift_\d+_\d+)$"
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
)
#: Lines of one invoice further apart than this (hours) are not one order.
MAX_INVOICE_SPAN_HOURS = 24
COLUMNS = {
    "invoice": ("InvoiceNo", "Invoice"),
    "stock_code": ("StockCode",),
    "description": ("Description",),
    "quantity": ("Quantity",),
    "invoice_date": ("InvoiceDate",),
    "unit_price": ("UnitPrice", "Price"),
    "customer_id": ("CustomerID", "Customer ID"),
    "country": ("Country",),
}


class OnlineRetail:
    name = "online_retail"
    description = "UCI Online Retail / Online Retail II invoice lines (CSV, gzip or xlsx)"

    def build(self, path: Path, ctx: Context) -> Built:
        text = read_text(path, ctx.read_options)
        src = {
            role: pick_column(text.columns, names, path=path, role=role,
                              required=role != "description")
            for role, names in COLUMNS.items()
        }
        for role, name in src.items():
            if name:
                text.check_unique(name, f"the online_retail preset ({role})")
        raw = ctx.store.from_arrow(text.data)
        execute = ctx.store.backend.execute
        formats, date_note = resolve_day_month(
            raw, raw[src["invoice_date"]].strip(), DATE_FORMATS, execute,
            chosen=ctx.read_options.date_order, where=f"{path.name}: column {src['invoice_date']}",
            hint="say which: --date-order dmy (day/month) or --date-order mdy (month/day)")
        code = raw[src["stock_code"]].strip()
        code_uc = code.upper()
        invoice = raw[src["invoice"]].strip().upper()
        lines = raw.select(
            raw[ROW],
            *[raw[c] for c in INTERNAL[1:] if c in raw.columns],
            invoice=invoice,
            stock_code=code,
            description=raw[src["description"]].strip() if src["description"] else ibis.null(
                "string"),
            quantity=parse_int(raw[src["quantity"]]),
            ordered_at=parse_timestamp(raw[src["invoice_date"]], formats),
            quantity_number=parse_float(raw[src["quantity"]]),
            unit_price=parse_float(raw[src["unit_price"]]),
            customer_id=parse_id(raw[src["customer_id"]]),
            country=raw[src["country"]].strip(),
            is_cancel=invoice.startswith("C"),
            kind=ibis.cases(
                (code_uc.isin(SHIPPING_CODES), "shipping"),
                (code_uc.isin(DISCOUNT_CODES), "discount"),
                (code_uc.isin(FEE_CODES) | code.re_search(NON_MERCH_PATTERN), "fee"),
                else_="merch",
            ),
            **{raw_name("quantity"): raw[src["quantity"]],
               raw_name("ordered_at"): raw[src["invoice_date"]],
               raw_name("unit_price"): raw[src["unit_price"]]},
        )
        # One invoice is one order of one customer, in one country, at one time: an invoice
        # whose good lines disagree is an export fault, and which line is right cannot be
        # told, so all its lines are refused. Found by one grouping pass (no join).
        ok = ~ibis.or_(*[c.bad.fill_null(False)
                         for c in self._line_checks(lines, text_rules=False)])
        good_lines = lines.filter(ok & lines.invoice.notnull())
        spans = good_lines.group_by("invoice").aggregate(
            customers=good_lines.customer_id.nunique(), countries=good_lines.country.nunique(),
            hours=(good_lines.ordered_at.max().epoch_seconds()
                   - good_lines.ordered_at.min().epoch_seconds()) / 3600)
        conflicts = {
            "customer_id": spans.filter(spans.customers > 1).invoice,
            "country": spans.filter(spans.countries > 1).invoice,
            "ordered_at": spans.filter(spans.hours > MAX_INVOICE_SPAN_HOURS).invoice,
        }
        # Every rule is evaluated once, into a flag column: the derived tables filter the
        # good lines several times, and the rules (regular expressions) are not cheap.
        rules = self._all_checks(lines, conflicts)
        lines = ctx.store.materialize(
            lines.mutate(**{f"__bad{i}": c.bad.fill_null(False) for i, c in enumerate(rules)}),
            "_stage_online_retail")
        line_checks = with_malformed(lines, [
            Check(c.column, c.reason, lines[f"__bad{i}"], c.value)
            for i, c in enumerate(self._all_checks(lines))], execute)
        # Lines breaking a rule never reach the derived tables; the line batch reports them.
        ok = ~ibis.or_(*[c.bad.fill_null(False) for c in line_checks])
        good = lines.filter(ok)
        if ctx.policy == "quarantine_orders":  # on request: a bad line drops its invoice
            bad = lines.filter(~ok & lines.invoice.notnull())
            dropped = lines.invoice.isin(bad.select(__bad=bad.invoice).distinct()["__bad"])
            line_checks.append(Check("InvoiceNo", reason("order_line_rejected"),
                                     ok & dropped.fill_null(False), lines.invoice))
            good = good.filter(~dropped.fill_null(False))
        elif ctx.policy == "quarantine":
            # Flag, on its first good line, an invoice that loads without some lines.
            bad = lines.filter(~ok & lines.invoice.notnull())
            partial = good.filter(good.invoice.isin(bad.select(__bad=bad.invoice)["__bad"]))
            flag_rows = partial.group_by("invoice").aggregate(__flag=partial[ROW].min())
            line_checks.append(Check("InvoiceNo", reason("order_partial"),
                                     ok & lines[ROW].isin(flag_rows["__flag"]), lines.invoice,
                                     note=True))
        merch = good.filter(good.kind == "merch")
        sales = merch.filter(~merch.is_cancel & (merch.quantity > 0))

        fees = good.filter(~good.is_cancel & good.kind.isin(("shipping", "discount")))
        fee_totals = fees.group_by("invoice").aggregate(
            shipping_amount=(fees.kind == "shipping").ifelse(
                fees.quantity * fees.unit_price, 0.0).sum(),
            discount_amount=(fees.kind == "discount").ifelse(
                (fees.quantity * fees.unit_price).abs(), 0.0).sum(),
        )
        order_rows = sales.group_by("invoice").aggregate(
            customer_id=sales.customer_id.max(),
            ordered_at=sales.ordered_at.min(),
            country=sales.country.max(),
            gross_amount=(sales.quantity * sales.unit_price).sum(),
        )
        order_rows = order_rows.left_join(fee_totals, "invoice")
        orders = order_rows.select(
            order_id=order_rows.invoice,
            customer_id=order_rows.customer_id,
            ordered_at=order_rows.ordered_at,
            channel=ibis.literal("online"),
            status=ibis.literal("completed"),
            gross_amount=order_rows.gross_amount,
            discount_amount=order_rows.discount_amount.fill_null(0.0),
            shipping_amount=order_rows.shipping_amount.fill_null(0.0).abs(),
            net_amount=order_rows.gross_amount - order_rows.discount_amount.fill_null(0.0),
            currency=ibis.literal(ctx.currency),
            country=order_rows.country,
        )
        items = sales.select(
            order_id=sales.invoice,
            line_no=ibis.row_number().over(group_by=sales.invoice, order_by=sales[ROW]) + 1,
            product_id=sales.stock_code,
            quantity=sales.quantity,
            unit_price=sales.unit_price,
            discount_amount=ibis.literal(0.0),
        )
        credits = merch.filter(merch.is_cancel | (merch.quantity < 0))
        returns = credits.select(
            # the line's content, not its place in the file: overlapping exports agree
            return_id=credits.invoice + "-" + credits.stock_code + "-"
            + credits.quantity.cast("string") + "x" + credits.unit_price.cast("string") + "-"
            + ibis.row_number().over(
                group_by=[credits.invoice, credits.stock_code, credits.quantity,
                          credits.unit_price], order_by=credits[ROW]).cast("string"),
            order_id=credits.invoice,
            customer_id=credits.customer_id,
            product_id=credits.stock_code,
            kind=credits.is_cancel.ifelse("cancellation", "return"),
            quantity=credits.quantity.abs(),
            amount=(credits.quantity * credits.unit_price).abs(),
            reason=credits.is_cancel.ifelse("cancelled invoice", credits.description),
            returned_at=credits.ordered_at,
            # A C… note matches no order: it keeps its own channel and country.
            channel=ibis.literal("online"),
            country=credits.country,
        )
        known = good.filter(good.customer_id.notnull() & (good.kind == "merch"))
        customers = known.group_by(customer_id=known.customer_id).aggregate(
            first_seen_at=known.ordered_at.min(),
            country=known.country.argmin(known.ordered_at),
        )
        desc = merch.filter(merch.description.notnull())
        name_counts = desc.group_by(["stock_code", "description"]).aggregate(n=desc.count())
        names = name_counts.group_by("stock_code").aggregate(
            name=name_counts.description.argmax(name_counts.n)
        )
        priced = merch.filter(merch.unit_price > 0)
        prices = priced.group_by("stock_code").aggregate(price=priced.unit_price.median())
        codes = merch.select("stock_code").distinct()
        products = (
            codes.left_join(names, "stock_code")
            .left_join(prices, "stock_code")
            .select(product_id="stock_code", name="name", price="price")
        )
        batches = [
            # The raw lines are checked; the items derived from the good ones are loaded.
            Batch("order_items", lines, extra_checks=line_checks, derived=True, rows=items,
                  positional_lines=True),
            Batch("customers", customers, derived=True),
            Batch("products", products, derived=True),
            Batch("orders", orders, derived=True, totals_from_items=True),
            Batch("returns", returns, derived=True),
        ]
        notes = [*text.notes, *([date_note] if date_note else [])]
        return Built(batches, notes + self._notes(good, lines, raw, ctx))

    @staticmethod
    def _line_checks(lines, text_rules: bool = True) -> list[Check]:
        """A line's own rules, named by the file's columns (``text_rules``: with the
        control-character rule on every text column, the costly one)."""
        qty_raw, price_raw = lines[raw_name("quantity")], lines[raw_name("unit_price")]
        date_raw = lines[raw_name("ordered_at")]
        number = lines.quantity_number
        finite = number.notnull() & ~number.isnan() & ~number.isinf()
        checks = [
            Check("InvoiceNo", reason("missing"), lines.invoice.isnull(), lines.invoice),
            Check("StockCode", reason("missing"), lines.stock_code.isnull(), lines.stock_code),
            Check("Quantity", reason("not_finite"), number.isnan() | number.isinf(), qty_raw),
            Check("Quantity", reason("too_large", max=f"{MAX_QUANTITY:g}"),
                  finite & (number.abs() > MAX_QUANTITY), qty_raw),
            Check("Quantity", reason("not_whole_number"),
                  qty_raw.notnull() & lines.quantity.isnull()
                  & ~(finite & (number.abs() > MAX_QUANTITY))
                  & ~(number.isnan() | number.isinf()).fill_null(False), qty_raw),
            Check("Quantity", reason("missing"), qty_raw.isnull(), qty_raw),
            Check("InvoiceDate", reason("not_date",
                                        formats="e.g. 2010-12-01 08:26:00 or 12/1/2010 8:26"),
                  date_raw.notnull() & lines.ordered_at.isnull(), date_raw),
            Check("InvoiceDate", reason("missing"), date_raw.isnull(), date_raw),
            Check("UnitPrice", reason("not_number"),
                  price_raw.notnull() & lines.unit_price.isnull(), price_raw),
            Check("UnitPrice", reason("missing"), price_raw.isnull(), price_raw),
            Check("UnitPrice", reason("negative_price"),
                  (lines.kind == "merch") & (lines.unit_price < 0), price_raw),
            Check("Quantity", reason("zero_quantity"), lines.quantity == 0, qty_raw),
            *value_checks(lines.ordered_at, date_raw, "InvoiceDate", "timestamp", "ordered_at"),
            *value_checks(lines.unit_price, price_raw, "UnitPrice", "float64", "unit_price"),
        ]
        for c, label in (("invoice", "InvoiceNo"), ("stock_code", "StockCode"),
                         ("description", "Description"), ("customer_id", "CustomerID"),
                         ("country", "Country")) if text_rules else ():
            checks += value_checks(lines[c], lines[c], label, "string", c)
        return checks

    @classmethod
    def _all_checks(cls, lines, conflicts=None) -> list[Check]:
        """A line's own rules, then whether its invoice's lines agree (``conflicts``: the
        invoices disagreeing on each column; None when only the values are wanted)."""
        checks = cls._line_checks(lines)
        for c, label, shown in (("customer_id", "CustomerID", lines.customer_id),
                                ("country", "Country", lines.country),
                                ("ordered_at", "InvoiceDate", lines[raw_name("ordered_at")])):
            bad = (lines.invoice.isin(conflicts[c]) if conflicts is not None
                   else ibis.literal(False))
            checks.append(Check(label, reason("order_conflict"), bad, shown))
        return checks

    @staticmethod
    def _notes(good, lines, raw, ctx: Context) -> list[str]:
        execute = ctx.store.backend.execute
        kinds = execute(good.group_by(["kind", "is_cancel"]).aggregate(n=good.count()))
        notes = []
        for rec in kinds.to_dict("records"):
            if rec["kind"] != "merch":
                where = "cancellation" if rec["is_cancel"] else "sales"
                notes.append(f"{rec['n']:,} {rec['kind']} line(s) on {where} invoices "
                             "are not products")
        n_cancel = int(execute(good.filter(good.is_cancel & (good.kind == "merch")).count()))
        n_return = int(execute(good.filter(~good.is_cancel & (good.kind == "merch")
                                           & (good.quantity < 0)).count()))
        guests = int(execute(good.filter(good.customer_id.isnull()).count()))
        cols = [c for c in raw.columns if c not in INTERNAL]
        dup = raw.group_by(cols).aggregate(n=raw.count())
        n_dup = execute(dup.filter(dup.n > 1).aggregate(extra=(dup.n - 1).sum()).extra)
        n_dup = int(n_dup.iloc[0] or 0) if hasattr(n_dup, "iloc") else int(n_dup or 0)
        notes += [
            f"{n_cancel:,} merchandise line(s) on C invoices loaded as cancellations",
            f"{n_return:,} negative-quantity line(s) loaded as returns",
            f"{guests:,} line(s) without a customer id loaded as guest orders",
            f"{n_dup:,} exact duplicate line(s) found and kept (as published)",
        ]
        return notes

