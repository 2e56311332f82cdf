"""The peer for the Online Retail cases: the pandas script an analyst would write.

It follows the ``online_retail`` preset's rules (see its module docstring) so that the
timings compare the same work, and the harness checks that the monthly numbers agree with
shopscope's:

* invoices starting with ``C`` are cancellations; merchandise lines on them are
  cancellation credits, negative quantities elsewhere are returns;
* stock codes POST/DOT/C2 are shipping, D is a discount, M/S/B/BANK CHARGES/AMAZONFEE/…
  and ``gift_0001_10`` vouchers are fees: none of them is a product;
* an order is an invoice with at least one merchandise line sold (quantity > 0); its GMV is
  Σ quantity × unit price over those lines.

What it does not do, unlike shopscope: report or quarantine bad rows (unparseable cells are
coerced to NaN and dropped), keep row numbers for error messages, or load atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHIPPING_CODES = ["POST", "DOT", "C2"]
DISCOUNT_CODES = ["D"]
FEE_CODES = ["M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "ADJUST", "ADJUST2",
             "TEST001", "TEST002"]
GIFT_VOUCHER = r"(?i)^gift_\d+_\d+$"

#: The monthly metrics compared with shopscope's ``kpis(store, grain="month")``.
MONTHLY_COLUMNS = ["gmv", "net_sales", "orders", "buyers", "new_buyers", "aov",
                   "repurchase_rate", "cancellation_rate"]


def read_lines(path: str | Path) -> pd.DataFrame:
    """Read the export, parse the dates and coerce the numbers (bad cells become NaN)."""
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S",
                                       errors="coerce")
    df["Quantity"] = pd.to_numeric(df["Quantity"], errors="coerce")
    df["UnitPrice"] = pd.to_numeric(df["UnitPrice"], errors="coerce")
    # 17850.0 -> 17850 (the export wrote the id column as floats)
    df["CustomerID"] = df["CustomerID"].str.replace(r"\.0+$", "", regex=True)
    return df


def flag_lines(df: pd.DataFrame) -> pd.DataFrame:
    """Add invoice, stock code, line kind, cancellation flag and amount; drop unusable rows."""
    df = df.dropna(subset=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"])
    invoice = df["InvoiceNo"].str.strip().str.upper()
    code = df["StockCode"].str.strip()
    code_uc = code.str.upper()
    kind = np.select(
        [code_uc.isin(SHIPPING_CODES), code_uc.isin(DISCOUNT_CODES),
         code_uc.isin(FEE_CODES) | code.str.match(GIFT_VOUCHER)],
        ["shipping", "discount", "fee"],
        default="merch",
    )
    return df.assign(
        invoice=invoice,
        stock_code=code,
        kind=kind,
        is_cancel=invoice.str.startswith("C"),
        amount=df["Quantity"] * df["UnitPrice"],
    )


def build_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per invoice with merchandise sold; shipping and discount lines as amounts."""
    merch = lines["kind"] == "merch"
    sales = lines[merch & ~lines["is_cancel"] & (lines["Quantity"] > 0)]
    orders = sales.groupby("invoice").agg(
        customer_id=("CustomerID", "max"),
        ordered_at=("InvoiceDate", "min"),
        country=("Country", "max"),
        gross_amount=("amount", "sum"),
    )
    fees = lines[~lines["is_cancel"] & lines["kind"].isin(["shipping", "discount"])]
    fee_totals = (
        fees.assign(
            shipping_amount=fees["amount"].where(fees["kind"] == "shipping", 0.0),
            discount_amount=fees["amount"].abs().where(fees["kind"] == "discount", 0.0),
        )
        .groupby("invoice")[["shipping_amount", "discount_amount"]]
        .sum()
    )
    orders = orders.join(fee_totals, how="left").fillna(
        {"shipping_amount": 0.0, "discount_amount": 0.0}
    )
    orders["shipping_amount"] = orders["shipping_amount"].abs()
    orders["net_amount"] = orders["gross_amount"] - orders["discount_amount"]
    orders["channel"] = "online"
    orders["status"] = "completed"
    return orders.rename_axis("order_id").reset_index()


def build_returns(lines: pd.DataFrame) -> pd.DataFrame:
    """Merchandise lines of cancellation invoices and negative quantities elsewhere."""
    credits = lines[(lines["kind"] == "merch")
                    & (lines["is_cancel"] | (lines["Quantity"] < 0))]
    return pd.DataFrame({
        "order_id": credits["invoice"],
        "customer_id": credits["CustomerID"],
        "product_id": credits["stock_code"],
        "kind": np.where(credits["is_cancel"], "cancellation", "return"),
        "quantity": credits["Quantity"].abs(),
        "amount": credits["amount"].abs(),
        "reason": credits["Description"].where(~credits["is_cancel"], "cancelled invoice"),
        "returned_at": credits["InvoiceDate"],
    })


def build_items(lines: pd.DataFrame) -> pd.DataFrame:
    sales = lines[(lines["kind"] == "merch") & ~lines["is_cancel"] & (lines["Quantity"] > 0)]
    return pd.DataFrame({
        "order_id": sales["invoice"],
        "line_no": sales.groupby("invoice").cumcount() + 1,
        "product_id": sales["stock_code"],
        "quantity": sales["Quantity"],
        "unit_price": sales["UnitPrice"],
        "discount_amount": 0.0,
    })


def build_customers(lines: pd.DataFrame) -> pd.DataFrame:
    known = lines[lines["CustomerID"].notna() & (lines["kind"] == "merch")]
    first = known.loc[known.groupby("CustomerID")["InvoiceDate"].idxmin()]
    return pd.DataFrame({
        "customer_id": first["CustomerID"].to_numpy(),
        "first_seen_at": first["InvoiceDate"].to_numpy(),
        "country": first["Country"].to_numpy(),
    })


def build_products(lines: pd.DataFrame) -> pd.DataFrame:
    merch = lines[lines["kind"] == "merch"]
    name_counts = merch.groupby(["stock_code", "Description"]).size()
    names = (name_counts.reset_index(name="n")
             .sort_values("n", ascending=False, kind="stable")
             .drop_duplicates("stock_code")
             .set_index("stock_code")["Description"])
    prices = merch[merch["UnitPrice"] > 0].groupby("stock_code")["UnitPrice"].median()
    codes = pd.Index(merch["stock_code"].unique(), name="product_id")
    return pd.DataFrame({"name": names.reindex(codes), "price": prices.reindex(codes)},
                        index=codes).reset_index()


def ingest(path: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Read, clean and split the export into orders/items/returns/customers/products,
    saved as Parquet (the analyst's persisted equivalent of a loaded workspace)."""
    lines = flag_lines(read_lines(path))
    tables = {
        "customers": build_customers(lines),
        "products": build_products(lines),
        "orders": build_orders(lines),
        "order_items": build_items(lines),
        "returns": build_returns(lines),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    return {name: len(frame) for name, frame in tables.items()}


def monthly_kpis(orders: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """GMV, net sales, orders, buyers, new buyers, AOV, repurchase and cancellation rate
    per calendar month, with shopscope's definitions (docs/metrics.md)."""
    o = orders.assign(
        month=orders["ordered_at"].dt.to_period("M"),
        cancelled_gross=orders["gross_amount"].where(orders["status"] == "cancelled", 0.0),
        refunded_gross=orders["gross_amount"].where(orders["status"] == "refunded", 0.0),
    )
    sales = o.groupby("month").agg(
        gmv=("gross_amount", "sum"),
        discounts=("discount_amount", "sum"),
        cancelled_gross=("cancelled_gross", "sum"),
        refunded_gross=("refunded_gross", "sum"),
        orders=("order_id", "size"),
    )
    # Buyers: identified customers with a non-cancelled order in the month.
    valid = o[(o["status"] != "cancelled") & o["customer_id"].notna()]
    first_month = valid.groupby("customer_id")["ordered_at"].min().dt.to_period("M")
    per_buyer = valid.groupby(["month", "customer_id"]).size().rename("n").reset_index()
    per_buyer["new"] = per_buyer["month"] == per_buyer["customer_id"].map(first_month)
    per_buyer["repeat"] = per_buyer["n"] >= 2
    buyers = per_buyer.groupby("month").agg(
        buyers=("customer_id", "size"), new_buyers=("new", "sum"),
        repeat_buyers=("repeat", "sum"),
    )
    credits = (
        returns.assign(month=returns["returned_at"].dt.to_period("M"))
        .pivot_table(index="month", columns="kind", values="amount", aggfunc="sum",
                     fill_value=0.0)
        .reindex(columns=["cancellation", "return"], fill_value=0.0)
    )
    m = sales.join(buyers, how="outer").join(credits, how="outer").fillna(0.0)
    cancelled = m["cancelled_gross"] + m["cancellation"]
    returned = m["refunded_gross"] + m["return"]
    out = pd.DataFrame({
        "gmv": m["gmv"],
        "net_sales": m["gmv"] - m["discounts"] - cancelled - returned,
        "orders": m["orders"],
        "buyers": m["buyers"],
        "new_buyers": m["new_buyers"],
        "aov": m["gmv"] / m["orders"].replace(0, np.nan),
        "repurchase_rate": m["repeat_buyers"] / m["buyers"].replace(0, np.nan),
        "cancellation_rate": cancelled / m["gmv"].replace(0, np.nan),
    })
    out.index = out.index.to_timestamp()
    return out.rename_axis("period").reset_index()


def monthly_from_lines(df: pd.DataFrame) -> pd.DataFrame:
    """The whole analysis from the raw lines already in memory."""
    lines = flag_lines(df)
    return monthly_kpis(build_orders(lines), build_returns(lines))
