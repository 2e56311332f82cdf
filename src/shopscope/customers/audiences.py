"""Audiences: saved, re-runnable customer filters over a joined customer profile.

An audience is a typed :class:`AudienceDefinition` (a name, a description, filters that must
*all* hold, and the columns to export). It runs against a *profile* built in the engine by
:func:`build_profile`: one row per known customer with their lifecycle stage, RFM values,
scores and segments, tags, customer attributes, and the columns of any extra tables the
caller passes (a CLV table from :func:`~shopscope.customers.clv.clv_columns`, a churn
score, …). This module holds the queries only: the members (:func:`audience_expr`) and
their statistics (:func:`audience_stats`) are engine expressions and nothing row-level
reaches Python. Saving definitions as JSON and writing exports are in
:mod:`shopscope.customers.storage`; adapters reach all of it through
:mod:`shopscope.customers.service`.

Filter semantics
----------------
``eq``, ``gt``, ``ge``, ``lt``, ``le``, ``in``, ``between`` (both ends included) never match
a missing value; ``ne`` and ``not_in`` do match it (a customer without a preferred category
*is* "not in toys"); ``is_null`` / ``not_null`` test for it. Prospects have no RFM values
or tags, so ``monetary lt 50`` leaves them out; add ``stage eq prospect`` in another
audience to reach them. Dates may be written as ``"YYYY-MM-DD"`` strings.

Examples
--------
>>> d = AudienceDefinition(
...     name="sleeping_vips", description="Big spenders who stopped buying",
...     filters=[Filter(field="stage", op="in", value=["dormant", "churned"]),
...              Filter(field="monetary", op="ge", value=500)],
...     columns=["customer_id", "email", "monetary"])
>>> d.filters[1]
Filter(field='monetary', op='ge', value=500)
>>> try:
...     Filter(field="stage", op="like", value="d%")
... except ValueError as exc:  # pydantic's ValidationError is a ValueError
...     print(exc.errors()[0]["msg"][:50])
Value error, filter on 'stage': unknown op 'like';
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shopscope.core.tables import TableSource
from shopscope.customers.lifecycle import LifecycleWindows, stages_as_of
from shopscope.customers.rfm import (
    classic_segment,
    eleven_segment,
    rfm_scores,
    rfm_table,
)
from shopscope.customers.tags import customer_tags
from shopscope.errors import ShopscopeError

__all__ = [
    "OPS",
    "AudienceDefinition",
    "AudienceError",
    "AudienceNotFound",
    "AudienceStats",
    "Filter",
    "FilterOp",
    "audience_expr",
    "audience_stats",
    "build_profile",
    "parse_definition",
]

FilterOp = Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "between",
                   "is_null", "not_null"]
OPS: tuple[str, ...] = get_args(FilterOp)
_ORDERING = ("gt", "ge", "lt", "le", "between")
_NAME = re.compile(r"\w[\w.-]{0,99}")
#: Names Windows keeps for devices: a file ``CON.json`` cannot be created there.
_DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                           *(f"lpt{i}" for i in range(1, 10))})

Scalar = bool | int | float | str | dt.datetime | dt.date
# Bounds on a definition (it arrives from the network): a real audience is a handful of
# filters; a list of 1,000 ids is the most an ``in`` filter is meant for.
MAX_FILTERS = 50
MAX_COLUMNS = 200
MAX_VALUES = 1000
MAX_TEXT = 500


class AudienceError(ShopscopeError, ValueError):
    """A definition that cannot run: unknown field or op, bad value, bad name or file."""


class AudienceNotFound(ShopscopeError, LookupError):
    """No saved audience of that name."""


# --------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------
class Filter(BaseModel):
    """One condition on a profile column.

    ``value`` is a scalar for ``eq ne gt ge lt le``, a non-empty list for ``in`` and
    ``not_in``, ``[low, high]`` for ``between`` and absent for ``is_null`` / ``not_null``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(min_length=1, max_length=MAX_TEXT)
    op: FilterOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_op(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "op" in data and data["op"] not in OPS:
            raise ValueError(f"filter on {data.get('field')!r}: unknown op {data['op']!r}; "
                             f"accepted ops: {', '.join(OPS)}")
        return data

    @model_validator(mode="after")
    def _value_shape(self) -> Filter:
        where = f"filter on {self.field!r} ({self.op})"
        v = self.value
        values = v if isinstance(v, list) else [v]
        if len(values) > MAX_VALUES:
            raise ValueError(f"{where} has {len(values):,} values; at most {MAX_VALUES:,}")
        if any(isinstance(x, str) and len(x) > MAX_TEXT for x in values):
            raise ValueError(f"{where} has a value longer than {MAX_TEXT} characters")
        if self.op in ("is_null", "not_null"):
            if v is not None:
                raise ValueError(f"{where} takes no value, got {v!r}")
        elif self.op in ("in", "not_in"):
            if not isinstance(v, list) or not v:
                raise ValueError(f"{where} needs a non-empty list of values, got {v!r}")
        elif self.op == "between":
            if not isinstance(v, list) or len(v) != 2:
                raise ValueError(f"{where} needs [low, high], got {v!r}")
        elif v is None or isinstance(v, list):
            raise ValueError(f"{where} needs one value, got {v!r}")
        return self


class AudienceDefinition(BaseModel):
    """A named audience: customers meeting *all* ``filters``, exported with ``columns``.

    ``name`` is also the file name of the saved definition: letters, digits, ``_``, ``.``
    and ``-`` (any script), starting with a letter or digit, at most 100 characters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = Field("", max_length=2000)
    filters: list[Filter] = Field(default_factory=list, max_length=MAX_FILTERS)
    columns: list[Annotated[str, Field(max_length=MAX_TEXT)]] = Field(
        default_factory=lambda: ["customer_id"], min_length=1, max_length=MAX_COLUMNS)

    @field_validator("name")
    @classmethod
    def _file_safe_name(cls, value: str) -> str:
        # One spelling per name (NFC), so "é" typed two ways is one file; checked with
        # Python's \w, as the definitions store checks file names.
        name = unicodedata.normalize("NFC", value.strip())
        if not _NAME.fullmatch(name) or name.lower() in _DEVICE_NAMES:
            raise ValueError(
                f"{value!r} cannot be an audience name: use letters of any script, digits, "
                "_ . and - (no spaces), starting with a letter or digit, at most 100 long, "
                "e.g. 高价值客户 or win_back_vips")
        return name


def _messages(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_definition(data: Mapping[str, Any] | str | bytes) -> AudienceDefinition:
    """A definition from a dict or JSON text, with a project error on bad input.

    Raises
    ------
    AudienceError
        Invalid JSON, unknown keys or ops, values of the wrong shape.

    Examples
    --------
    >>> parse_definition('{"name": "vip", "filters": [{"field": "m_score", "op": "ge", '
    ...                  '"value": 5}]}').filters[0].op
    'ge'
    >>> parse_definition({"name": "vip", "filters": [{"field": "x", "op": "gte"}]})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopscope.customers.audiences.AudienceError: invalid audience definition: filters.0: ...
    """
    try:
        if isinstance(data, str | bytes):
            return AudienceDefinition.model_validate_json(data)
        return AudienceDefinition.model_validate(data)
    except ValidationError as exc:
        raise AudienceError(f"invalid audience definition: {_messages(exc)}",
                            hint="see docs/customers.md for the format") from None


# --------------------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------------------
#: Customer attributes copied into the profile (``attributes`` JSON is left out: it may
#: hold PII that :func:`~shopscope.privacy.protect` does not know about).
CUSTOMER_COLUMNS = ("first_seen_at", "signup_channel", "region", "country", "member_tier",
                    "email", "phone", "name")


def _attach(base: ir.Table, other: ir.Table) -> ir.Table:
    """Left join on customer_id, keeping base's key and other's non-key columns."""
    joined = base.left_join(other, base.customer_id == other.customer_id)
    return joined.select(*base.columns, *[c for c in other.columns if c != "customer_id"])


def build_profile(
    tables: TableSource,
    as_of: dt.date | str,
    *,
    windows: LifecycleWindows | None = None,
    extra: ir.Table | pd.DataFrame | Sequence[ir.Table | pd.DataFrame] | None = None,
) -> ir.Table:
    """One row per known customer with everything audiences can filter on.

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` (a Store).
    as_of
        Orders before the start of this day count (for stages, RFM and tags alike).
    windows
        Lifecycle windows (derived from the shop's gaps when None).
    extra
        Tables (Ibis, or pandas frames) with a ``customer_id`` column and one row per
        customer, left-joined as they are, e.g. CLV predictions with ``clv`` and
        ``p_alive``. Their other column names must be new to the profile.

    Returns
    -------
    ibis.Table
        ``customer_id, stage, days_since, first_order_at, last_order_at`` (lifecycle),
        ``recency_days, frequency, monetary, r_score, f_score, m_score, fm_score,
        classic_segment, eleven_segment`` (RFM, null for prospects), the tags of
        :func:`~shopscope.customers.tags.customer_tags` (except
        ``last_purchase_date``), the :data:`CUSTOMER_COLUMNS` (null for buyers who are not
        in ``customers``), then the extra columns.

    Raises
    ------
    AudienceError
        An extra table without ``customer_id`` or with a column the profile already has.
    """
    profile = stages_as_of(tables, as_of, windows).select(
        "customer_id", "stage", "days_since", "first_order_at", "last_order_at")
    scored = rfm_scores(rfm_table(tables, as_of))
    scored = classic_segment(scored).rename(classic_segment="segment")
    scored = eleven_segment(scored).rename(eleven_segment="segment")
    profile = _attach(profile, scored.drop("first_order_at", "last_order_at"))
    profile = _attach(profile, customer_tags(tables, as_of).drop("last_purchase_date"))
    customers = tables.table("customers")
    profile = _attach(profile, customers.select("customer_id", *CUSTOMER_COLUMNS))
    if extra is None:
        return profile
    others = [extra] if isinstance(extra, ir.Table | pd.DataFrame) else list(extra)
    for i, other in enumerate(others):
        t = ibis.memtable(other) if isinstance(other, pd.DataFrame) else other
        if "customer_id" not in t.columns:
            raise AudienceError(f"extra table {i} has no customer_id column",
                                hint=f"its columns are: {', '.join(t.columns)}")
        clash = sorted(set(t.columns) & set(profile.columns) - {"customer_id"})
        if clash:
            raise AudienceError(
                f"extra table {i} repeats profile columns: {', '.join(clash)}",
                hint="rename or drop them before passing the table")
        if not t.customer_id.type().is_string():
            t = t.mutate(customer_id=t.customer_id.cast("string"))
        profile = _attach(profile, t)
    return profile


# --------------------------------------------------------------------------------------
# Running a definition
# --------------------------------------------------------------------------------------
def _unknown(kind: str, name: str, known: Sequence[str], where: str,
             args: dict[str, object] | None = None) -> AudienceError:
    """``args`` (the audience and the filter's number) give the error its code."""
    close = difflib.get_close_matches(name, known, n=1)
    maybe = f" (did you mean {close[0]!r}?)" if close else ""
    hint = f"accepted {kind}s: {', '.join(known)}"
    if args is not None:
        return AudienceError(code=f"audience_{kind}_unknown", hint=hint,
                             args={**args, "field": repr(name), "maybe": maybe})
    return AudienceError(f"{where}: unknown {kind} {name!r}{maybe}", hint=hint)


def _coerce(value: Any, dtype: Any, where: str) -> Any:
    """A JSON value as a literal of the column's type, or a clear error."""
    if dtype.is_temporal():
        if isinstance(value, bool) or not isinstance(value, str | dt.date):
            raise AudienceError(f"{where}: {value!r} is not a date",
                                hint="write dates as YYYY-MM-DD")
        try:
            ts = pd.Timestamp(value)
        except ValueError:
            raise AudienceError(f"{where}: {value!r} is not a date",
                                hint="write dates as YYYY-MM-DD") from None
        return ts.date() if dtype.is_date() else ts.to_pydatetime()
    if dtype.is_numeric():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AudienceError(f"{where}: {value!r} is not a number",
                                hint="numeric fields take numbers, e.g. 100 or 0.5")
        return value
    if dtype.is_boolean():
        if not isinstance(value, bool):
            raise AudienceError(f"{where}: {value!r} is not true or false")
        return value
    if not isinstance(value, str):
        raise AudienceError(f"{where}: {value!r} is not text",
                            hint="text fields take quoted values, e.g. \"toys\"")
    return value


def _predicate(f: Filter, profile: ir.Table, where: str) -> ir.BooleanValue:
    col = profile[f.field]
    dtype = col.type()
    if f.op in _ORDERING and not (dtype.is_numeric() or dtype.is_temporal()):
        raise AudienceError(
            f"{where}: op {f.op!r} needs a numeric or date field, {f.field!r} is {dtype}",
            hint="use eq, ne, in, not_in, is_null or not_null")
    if f.op == "is_null":
        return col.isnull()
    if f.op == "not_null":
        return col.notnull()
    if f.op in ("in", "not_in"):
        values = [_coerce(v, dtype, where) for v in f.value]  # type: ignore[union-attr]
        return col.isin(values) if f.op == "in" else col.isnull() | ~col.isin(values)
    if f.op == "between":
        lo, hi = (_coerce(v, dtype, where) for v in f.value)  # type: ignore[union-attr]
        if lo > hi:
            raise AudienceError(f"{where}: low {lo!r} is above high {hi!r}",
                                hint="write [low, high]")
        return col.between(lo, hi)
    v = _coerce(f.value, dtype, where)
    return {
        "eq": lambda: col == v,
        "ne": lambda: col.isnull() | (col != v),
        "gt": lambda: col > v,
        "ge": lambda: col >= v,
        "lt": lambda: col < v,
        "le": lambda: col <= v,
    }[f.op]()


def _condition(definition: AudienceDefinition, profile: ir.Table) -> ir.BooleanValue:
    known = list(profile.columns)
    cond = ibis.literal(True)
    for i, f in enumerate(definition.filters):
        where = f"audience {definition.name!r}, filter {i + 1}"
        if f.field not in profile.columns:
            raise _unknown("field", f.field, known, where,
                           {"audience": repr(definition.name), "n": i + 1})
        cond &= _predicate(f, profile, where)
    return cond


def audience_expr(definition: AudienceDefinition, profile: ir.Table) -> ir.Table:
    """The audience's members (``definition.columns``) as an engine expression.

    Raises
    ------
    AudienceError
        A filter or column naming a field the profile does not have (the message lists
        the profile's columns), an ordering op on a text field, a value of the wrong type.

    Examples
    --------
    >>> profile = ibis.memtable({"customer_id": ["a", "b", "c"],
    ...                          "stage": ["active", "dormant", "churned"],
    ...                          "monetary": [120.0, 800.0, 40.0]})
    >>> d = AudienceDefinition(name="winback", filters=[
    ...     Filter(field="stage", op="ne", value="active"),
    ...     Filter(field="monetary", op="gt", value=100)])
    >>> audience_expr(d, profile).execute()
      customer_id
    0           b
    """
    cond = _condition(definition, profile)
    for col in definition.columns:
        if col not in profile.columns:
            raise _unknown("field", col, list(profile.columns),
                           f"audience {definition.name!r}, columns")
    return profile.filter(cond).select(*definition.columns)


@dataclass(frozen=True)
class AudienceStats:
    """Size and value of an audience, computed before exporting it.

    ``share`` is ``size / customers`` (customers in the profile); ``buyers`` are members
    with RFM values; ``monetary_sum`` and ``monetary_mean`` are over those buyers (net
    sales, see :func:`~shopscope.customers.rfm.rfm_table`); ``clv_sum`` is the
    sum of the profile's ``clv`` column over members, None when the profile has none.
    ``code`` is ``"empty"`` when nobody matches (means are then None).
    """

    name: str
    size: int
    customers: int
    share: float | None
    buyers: int
    monetary_sum: float
    monetary_mean: float | None
    clv_sum: float | None
    code: Literal["ok", "empty"] = "ok"


def audience_stats(definition: AudienceDefinition, profile: ir.Table) -> AudienceStats:
    """Size and value of an audience in one aggregate query (see :class:`AudienceStats`).

    Examples
    --------
    >>> profile = ibis.memtable({"customer_id": ["a", "b", "c"],
    ...                          "stage": ["active", "dormant", "prospect"],
    ...                          "monetary": [120.0, 800.0, None]})
    >>> d = AudienceDefinition(name="all_but_active",
    ...                        filters=[Filter(field="stage", op="ne", value="active")])
    >>> s = audience_stats(d, profile)
    >>> s.size, s.buyers, s.monetary_sum, s.monetary_mean, s.clv_sum
    (2, 1, 800.0, 800.0, None)
    """
    cond = _condition(definition, profile)
    has_m = "monetary" in profile.columns
    has_clv = "clv" in profile.columns
    aggs: dict[str, ir.Scalar] = {
        "customers": profile.count(),
        "size": profile.count(where=cond),
    }
    if has_m:
        aggs["buyers"] = profile.monetary.count(where=cond)
        aggs["monetary_sum"] = profile.monetary.sum(where=cond)
        aggs["monetary_mean"] = profile.monetary.mean(where=cond)
    if has_clv:
        aggs["clv_sum"] = profile.clv.sum(where=cond)
    row = profile.aggregate(**aggs).execute().iloc[0]

    def num(key: str) -> float | None:
        value = row.get(key)
        return None if value is None or pd.isna(value) else float(value)

    size, total = int(row["size"]), int(row["customers"])
    return AudienceStats(
        name=definition.name,
        size=size,
        customers=total,
        share=size / total if total else None,
        buyers=int(row["buyers"]) if has_m else 0,
        monetary_sum=num("monetary_sum") or 0.0,
        monetary_mean=num("monetary_mean"),
        clv_sum=(num("clv_sum") or 0.0) if has_clv else None,
        code="ok" if size else "empty",
    )
