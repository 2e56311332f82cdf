"""Canonical tables of a shop (see ``docs/data-model.md``).

Every table declares its columns once: name, type, nullability, key, value rules and
references to other tables. Ingestion maps sources onto these names; analytics read only
these names. Types are Ibis type strings so that the same schema builds DuckDB, Spark or
ClickHouse tables.

Timestamps are naive and in the workspace's time zone (see ``docs/ingest.md``); money is
``float64`` in the order's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.schema as sch

from shopscope.errors import SchemaError


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name, dtype
        Column name and Ibis type string (``"string"``, ``"int64"``, ``"float64"``,
        ``"timestamp"``, ``"date"``, ``"json"``).
    nullable
        Whether a missing value is allowed.
    min_value, min_inclusive
        Lower bound for numbers, inclusive unless ``min_inclusive`` is false.
    allowed
        The closed set of values for a categorical column.
    references
        ``"table.column"`` that a non-null value must exist in (an orphan check).
    description
        What the column means, for docs and error messages.
    """

    name: str
    dtype: str
    nullable: bool = True
    min_value: float | None = None
    min_inclusive: bool = True
    allowed: tuple[str, ...] | None = None
    references: str | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: ordered columns, primary key and the time column it grows by."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    time_column: str | None = None
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns that may not be null (and so must be supplied)."""
        return tuple(c.name for c in self.columns if not c.nullable)

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(
                f"table {self.name!r} has no column {name!r}",
                hint=f"columns are: {', '.join(self.names)}",
            ) from None

    def ibis_schema(self) -> sch.Schema:
        """The Ibis schema, with non-null markers for required columns."""
        return ibis.schema(
            {c.name: ibis.dtype(c.dtype).copy(nullable=c.nullable) for c in self.columns}
        )


ORDER_STATUSES = ("completed", "pending", "cancelled", "refunded")
RETURN_KINDS = ("return", "cancellation")
EVENT_TYPES = (
    "view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "favorite",
    "checkout",
    "purchase",
    "signup",
    "login",
    "other",
)

_TABLES = (
    TableSpec(
        "customers",
        (
            Column("customer_id", "string", nullable=False, description="shop-wide customer id"),
            Column("first_seen_at", "timestamp", description="first known contact"),
            Column("signup_channel", "string"),
            Column("region", "string"),
            Column("country", "string"),
            Column("member_tier", "string"),
            Column("email", "string", description="PII"),
            Column("phone", "string", description="PII"),
            Column("name", "string", description="PII"),
            Column("attributes", "string", description="JSON object of extra attributes"),
        ),
        primary_key=("customer_id",),
        time_column="first_seen_at",
        description="One row per known customer (buyer or prospect).",
    ),
    TableSpec(
        "identities",
        (
            Column("customer_id", "string", nullable=False, references="customers.customer_id"),
            Column("channel", "string", nullable=False,
                   description="identifier kind: email (address or SHA-256), phone, member, "
                   "customer (another customer id), or a channel's buyer id (tmall, jd, …)"),
            Column("external_id", "string", nullable=False),
        ),
        # Several customer ids may hold one identifier: that is how they become one person
        # (docs/identity.md).
        primary_key=("customer_id", "channel", "external_id"),
        description="Identifiers of customers across channels; customer ids sharing one are "
        "one person (docs/identity.md).",
    ),
    TableSpec(
        "products",
        (
            Column("product_id", "string", nullable=False),
            Column("sku", "string"),
            Column("name", "string"),
            Column("category", "string"),
            Column("brand", "string"),
            Column("price", "float64", min_value=0),
            Column("cost", "float64", min_value=0),
            Column("launched_at", "timestamp"),
        ),
        primary_key=("product_id",),
        description="Merchandise only: fees, postage and adjustments are not products.",
    ),
    TableSpec(
        "orders",
        (
            Column("order_id", "string", nullable=False),
            Column(
                "customer_id",
                "string",
                references="customers.customer_id",
                description="null for a guest order",
            ),
            Column("ordered_at", "timestamp", nullable=False),
            Column("channel", "string", nullable=False),
            Column("store_id", "string"),
            Column("status", "string", nullable=False, allowed=ORDER_STATUSES),
            Column("gross_amount", "float64", nullable=False, min_value=0,
                   description="merchandise value before discounts"),
            Column("discount_amount", "float64", nullable=False, min_value=0),
            Column("shipping_amount", "float64", nullable=False, min_value=0),
            Column("net_amount", "float64", nullable=False,
                   description="gross_amount - discount_amount (shipping excluded)"),
            Column("currency", "string", nullable=False),
            Column("coupon_code", "string"),
            Column("campaign_id", "string"),
            Column("country", "string", description="ship-to country"),
            Column("region", "string", description="ship-to region or province"),
        ),
        primary_key=("order_id",),
        time_column="ordered_at",
        description="One row per order placed, including orders later cancelled.",
    ),
    TableSpec(
        "order_items",
        (
            Column("order_id", "string", nullable=False, references="orders.order_id"),
            Column("line_no", "int64", nullable=False, min_value=1),
            Column("product_id", "string", references="products.product_id"),
            Column("quantity", "int64", nullable=False, min_value=0, min_inclusive=False),
            Column("unit_price", "float64", nullable=False, min_value=0),
            Column("discount_amount", "float64", nullable=False, min_value=0),
        ),
        primary_key=("order_id", "line_no"),
        description="Lines of an order; product_id is null when the source has no products.",
    ),
    TableSpec(
        "events",
        (
            Column("event_at", "timestamp", nullable=False),
            Column("user_id", "string", description="customer id when known"),
            Column("anonymous_id", "string", description="device or cookie id"),
            Column("session_id", "string"),
            Column("event_type", "string", nullable=False, allowed=EVENT_TYPES),
            Column("product_id", "string"),
            Column("category", "string"),
            Column("channel", "string"),
            Column("source", "string"),
            Column("medium", "string"),
            Column("campaign", "string"),
            Column("properties", "string", description="JSON object"),
        ),
        time_column="event_at",
        description="Behaviour events; either user_id or anonymous_id identifies the visitor.",
    ),
    TableSpec(
        "marketing_spend",
        (
            Column("date", "date", nullable=False),
            Column("channel", "string", nullable=False),
            Column("campaign_id", "string"),
            Column("spend", "float64", nullable=False, min_value=0),
            Column("impressions", "int64", min_value=0),
            Column("clicks", "int64", min_value=0),
        ),
        primary_key=("date", "channel", "campaign_id"),
        time_column="date",
    ),
    TableSpec(
        "inventory",
        (
            Column("date", "date", nullable=False),
            Column("product_id", "string", nullable=False, references="products.product_id"),
            Column("location", "string", nullable=False),
            Column("on_hand", "int64", nullable=False),
            Column("on_order", "int64", min_value=0),
            Column("lead_time_days", "int64", min_value=0),
        ),
        primary_key=("date", "product_id", "location"),
        time_column="date",
    ),
    TableSpec(
        "returns",
        (
            Column("return_id", "string", nullable=False),
            Column("order_id", "string", nullable=False),
            Column("customer_id", "string", references="customers.customer_id"),
            Column("product_id", "string", references="products.product_id"),
            Column("kind", "string", nullable=False, allowed=RETURN_KINDS,
                   description="return (goods back) or cancellation (credited before or "
                   "instead of delivery)"),
            Column("quantity", "int64", nullable=False, min_value=0),
            Column("amount", "float64", nullable=False, min_value=0,
                   description="value credited, positive"),
            Column("reason", "string"),
            Column("returned_at", "timestamp", nullable=False),
            # Where the credit was issued. KPI breakdowns attribute a credit through its order
            # first; these serve credits whose order_id matches no order (Online Retail's
            # cancellation notes carry their own C… invoice number).
            Column("channel", "string", description="channel of the credit (when its order is "
                   "not in the data)"),
            Column("country", "string", description="country of the credit (when its order is "
                   "not in the data)"),
            Column("region", "string", description="region of the credit (when its order is "
                   "not in the data)"),
        ),
        primary_key=("return_id",),
        time_column="returned_at",
        description="Credits against sales: returns and cancellation notes.",
    ),
    TableSpec(
        "experiments",
        (
            Column("experiment_id", "string", nullable=False),
            Column("unit_id", "string", nullable=False),
            Column("variant", "string", nullable=False),
            Column("assigned_at", "timestamp"),
        ),
        primary_key=("experiment_id", "unit_id"),
        time_column="assigned_at",
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in _TABLES}


def get_table(name: str) -> TableSpec:
    """Look up a canonical table by name.

    Examples
    --------
    >>> get_table("orders").primary_key
    ('order_id',)
    """
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(
            f"unknown table {name!r}", hint=f"canonical tables are: {', '.join(TABLES)}"
        ) from None
