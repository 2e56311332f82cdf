"""Experiment definitions: what was tested, on whom, for how long, and how it is judged.

A definition is written *before* the data comes in (hypothesis, unit, variants and their
planned split, metrics, window), and saved as JSON in ``<workspace>/experiments/`` by
:class:`ExperimentStore`, so the analysis can be re-run on the stored data and give the same
numbers (:func:`shopscope.experiments.analysis.analyze` records the data version next to
the definition it ran).

Metrics
-------
Every metric is a per-unit quantity over the unit's rows in the experiment window, after
the unit's assignment:

* ``source="orders"`` (unit = customer, ``orders.customer_id``): non-cancelled orders;
  ``filters`` name ``orders`` columns (``channel``, ``coupon_code``, ``campaign_id``, …).
  Measures: ``revenue`` (Σ ``net_amount``), ``gross`` (Σ ``gross_amount``), ``orders``
  (count).
* ``source="events"`` (unit = visitor, the customer id else the anonymous id): events of
  ``event_type`` matching ``filters`` (event columns or ``properties`` keys, as in the
  behaviour reports). Measures: ``count`` or ``property:<name>`` (Σ of a numeric JSON
  property, e.g. ``property:revenue``).

``kind="binary"``: the unit has at least one matching row (conversion); ``kind="mean"``:
the mean over units of ``value`` (revenue per unit, zero for units without rows);
``kind="ratio"``: Σ ``numerator`` / Σ ``denominator`` over units (AOV = revenue / orders),
analysed with the delta method. ``cap_quantile`` caps the per-unit values (numerator and
denominator each, for ratios) at that quantile of *all* units of the experiment pooled, so
the cap does not depend on the arm and cannot flip the sign of an effect.

Examples
--------
>>> d = ExperimentDefinition(
...     experiment_id="checkout-copy", name="New checkout copy",
...     hypothesis="Clearer copy raises conversion", unit="customer",
...     variants=["control", "new_copy"], start="2024-03-01", end="2024-03-14",
...     metrics=[MetricDef(name="conversion", kind="binary"),
...              MetricDef(name="revenue", kind="mean", value="revenue", cap_quantile=0.99),
...              MetricDef(name="aov", kind="ratio", numerator="revenue",
...                        denominator="orders")])
>>> d.split
{'control': 0.5, 'new_copy': 0.5}
>>> try:
...     MetricDef(name="aov", kind="ratio", numerator="revenue")
... except ValueError as exc:
...     print(exc.errors()[0]["msg"][:71])
Value error, metric 'aov': a ratio needs both numerator and denominator
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shopscope.errors import ShopscopeError
from shopscope.schema.tables import EVENT_TYPES
from shopscope.store.definitions import DefinitionStore

__all__ = [
    "ORDER_MEASURES",
    "SEGMENTS",
    "ExperimentDefinition",
    "ExperimentError",
    "ExperimentNotFound",
    "ExperimentStore",
    "MetricDef",
    "parse_definition",
]

_NAME = r"^\w[\w.-]{0,99}$"
ORDER_MEASURES = ("revenue", "gross", "orders")
#: Segment dimensions: acquisition channel, new vs returning, RFM segment at the start.
SEGMENTS = ("channel", "new_vs_returning", "rfm_segment")
Segment = Literal["channel", "new_vs_returning", "rfm_segment"]
_PROPERTY = re.compile(r"^property:[A-Za-z_][A-Za-z0-9_.-]*$")


class ExperimentError(ShopscopeError, ValueError):
    """A definition that cannot be used: a bad field, name or file."""


class ExperimentNotFound(ShopscopeError, LookupError):
    """No saved experiment with that id."""


def _measures(source: str) -> str:
    return ("revenue, gross, orders" if source == "orders"
            else "count, property:<name> (e.g. property:revenue)")


def _valid_measure(source: str, measure: str) -> bool:
    if source == "orders":
        return measure in ORDER_MEASURES
    return measure == "count" or bool(_PROPERTY.match(measure))


class MetricDef(BaseModel):
    """One metric of an experiment (see the module docstring for the semantics).

    ``value`` is the measure of a ``mean`` metric (default ``revenue`` for orders, ``count``
    for events); ``numerator`` and ``denominator`` those of a ``ratio``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    kind: Literal["binary", "mean", "ratio"]
    source: Literal["orders", "events"] = "orders"
    event_type: str | None = None
    filters: dict[str, str | list[str]] = Field(default_factory=dict)
    value: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    cap_quantile: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> MetricDef:
        where = f"metric {self.name!r}"
        if self.source == "events":
            if self.event_type is None:
                raise ValueError(f"{where}: an events metric needs event_type "
                                 f"(one of {', '.join(EVENT_TYPES)})")
            if self.event_type not in EVENT_TYPES:
                raise ValueError(f"{where}: unknown event_type {self.event_type!r}; "
                                 f"known: {', '.join(EVENT_TYPES)}")
        elif self.event_type is not None:
            raise ValueError(f"{where}: event_type is for source='events' only")
        if self.kind == "ratio":
            if self.numerator is None or self.denominator is None:
                raise ValueError(f"{where}: a ratio needs both numerator and denominator "
                                 "(e.g. numerator='revenue', denominator='orders')")
            if self.value is not None:
                raise ValueError(f"{where}: a ratio takes numerator/denominator, not value")
        elif self.numerator is not None or self.denominator is not None:
            raise ValueError(f"{where}: numerator/denominator are for kind='ratio' only")
        if self.kind == "binary" and self.value is not None:
            raise ValueError(f"{where}: a binary metric takes no value (it is 'has a row')")
        if self.kind == "binary" and self.cap_quantile is not None:
            raise ValueError(f"{where}: cap_quantile does not apply to a binary metric")
        for label in ("value", "numerator", "denominator"):
            measure = getattr(self, label)
            if measure is not None and not _valid_measure(self.source, measure):
                raise ValueError(f"{where}: {label} {measure!r} is not a measure of "
                                 f"{self.source}; accepted: {_measures(self.source)}")
        for key, val in self.filters.items():
            if isinstance(val, list) and not val:
                raise ValueError(f"{where}: filter on {key!r} lists no values")
        return self

    @property
    def measure(self) -> str:
        """The measure of a mean metric (with its default filled in)."""
        if self.value is not None:
            return self.value
        return "revenue" if self.source == "orders" else "count"


#: Names the API and dashboard use for other pages under /experiments/.
RESERVED_IDS = frozenset({"plan"})


class ExperimentDefinition(BaseModel):
    """An experiment: unit, variants (the first is the control), planned split, metrics,
    window (``start`` and ``end`` dates both included) and analysis options.

    ``split`` defaults to equal shares. ``covariate_days`` turns CUPED on, with the same
    metric over that many days before ``start`` as the covariate. ``sequential`` adds
    always-valid (mSPRT) p-values and confidence sequences with mixing variance
    ``sequential_tau2`` (None: the statistics module's default). ``prior`` is the
    Beta prior of binary metrics' Bayesian comparison. ``correction`` adjusts p-values across
    the variants of each metric (Holm or Benjamini-Hochberg). ``srm_threshold`` is the
    chi-square p-value below which the split is called broken. ``multi_arm`` says what
    happens to units the assignment log shows in more than one arm (see
    :mod:`~shopscope.experiments.exposures`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str = Field(pattern=_NAME)
    name: str = ""
    hypothesis: str = ""
    description: str = ""
    #: the marketing channel the experiment measures (a holdout or geo test of its spend):
    #: the budget view shows its lift next to the channel's attributed return
    channel: str | None = Field(default=None, min_length=1, max_length=200)
    unit: Literal["customer", "visitor"] = "customer"
    variants: list[str] = Field(min_length=2)
    split: dict[str, float] = Field(default_factory=dict)
    metrics: list[MetricDef] = Field(min_length=1)
    start: dt.date
    end: dt.date
    segments: list[Segment] = Field(default_factory=list)
    covariate_days: int | None = Field(default=None, gt=0)
    sequential: bool = False
    sequential_tau2: float | None = Field(default=None, gt=0)
    #: planned units per arm: adds a group-sequential test (alpha spending over the daily
    #: looks, so peeking daily keeps the false positive rate at alpha)
    planned_units_per_arm: int | None = Field(default=None, gt=1)
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming"
    prior: tuple[float, float] = (1.0, 1.0)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["holm", "bh"] = "holm"
    srm_threshold: float = Field(default=0.001, gt=0, lt=1)
    #: units logged in more than one arm: left out (``exclude``) or kept in the arm of
    #: their earliest exposure (``first``); repeated exposures always count once
    multi_arm: Literal["exclude", "first"] = "exclude"

    @model_validator(mode="before")
    @classmethod
    def _default_split(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("split") and data.get("variants"):
            variants = list(data["variants"])
            data = {**data, "split": {v: 1 / len(variants) for v in variants}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentDefinition:
        if self.experiment_id in RESERVED_IDS:  # /experiments/plan is the calculator
            raise ValueError(f"experiment_id {self.experiment_id!r} is reserved "
                             f"({', '.join(sorted(RESERVED_IDS))}); choose another")
        if len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must be distinct, got {self.variants}")
        if set(self.split) != set(self.variants):
            raise ValueError("split must give a share for each variant "
                             f"({', '.join(self.variants)}), "
                             f"got {', '.join(self.split) or 'none'}")
        if any(s <= 0 for s in self.split.values()):
            raise ValueError(f"split shares must be > 0, got {self.split}")
        total = sum(self.split.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"split shares must sum to 1, got {total:.6g}")
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"metric names must be distinct, got {names}")
        if len(set(self.segments)) != len(self.segments):
            raise ValueError(f"segments must be distinct, got {self.segments}")
        if min(self.prior) <= 0:
            raise ValueError(f"prior must be two positive Beta parameters, got {self.prior}")
        return self

    @property
    def control(self) -> str:
        return self.variants[0]


def _messages(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_definition(data: Mapping[str, Any] | str | bytes) -> ExperimentDefinition:
    """A definition from a dict or JSON text, with a project error naming the bad field.

    Raises
    ------
    ExperimentError
        Invalid JSON, unknown keys, values of the wrong type or shape.

    Examples
    --------
    >>> parse_definition({"experiment_id": "x", "variants": ["a", "b"], "start": "2024-01-01",
    ...                   "end": "2024-01-31", "metrics": [{"name": "cr", "kind": "binary"}],
    ...                   "split": {"a": 0.5, "b": 0.6}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopscope.experiments.registry.ExperimentError: invalid experiment definition: split ... 1.1
    """
    try:
        if isinstance(data, str | bytes):
            return ExperimentDefinition.model_validate_json(data)
        return ExperimentDefinition.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError(f"invalid experiment definition: {_messages(exc)}",
                              hint="see docs/experiments/analysis.md for the format") from None


class ExperimentStore(DefinitionStore[ExperimentDefinition]):
    """Saved experiment definitions, one JSON file each in ``<workspace>/experiments/``
    (:class:`~shopscope.store.definitions.DefinitionStore`: atomic writes, validated reads
    that name the file and the field).

    Examples
    --------
    >>> import tempfile
    >>> store = ExperimentStore(tempfile.mkdtemp())
    >>> d = ExperimentDefinition(experiment_id="exp1", variants=["a", "b"],
    ...     start="2024-01-01", end="2024-01-14",
    ...     metrics=[MetricDef(name="cr", kind="binary")])
    >>> _ = store.save(d)
    >>> store.list(), store.load("exp1") == d
    (['exp1'], True)
    >>> store.delete("exp1"); store.list()
    []
    """

    folder_name = "experiments"
    kind = "experiment"
    id_label = "id"
    id_field = "experiment_id"
    error = ExperimentError
    not_found = ExperimentNotFound
    parse = staticmethod(parse_definition)
