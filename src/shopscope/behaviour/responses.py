"""The JSON the behaviour API returns, as response models (the OpenAPI schema).

Field names and order are those of the results' ``to_dict``; tables whose columns depend
on the options (a ``by`` column named after the breakdown, compare columns, order-mode
values) are lists of :data:`Row`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

#: One row of a result table: column name → value (dates as ISO text, missing as null).
Row = dict[str, Any]


class SourceOut(BaseModel):
    """The source read: ``kind`` events or orders, what was ``requested``, and why."""

    kind: str
    requested: str
    note: str


class EmptyReasonOut(BaseModel):
    """Why an answer is empty: ``no_data``, ``no_rows`` or ``no_match``; ``suggest`` names
    the other source when it has rows."""

    code: str
    message: str
    suggest: str | None


class TrendsOut(BaseModel):
    metrics: list[str]
    grain: str
    by: str | None
    event: str | None
    start: str | None
    end: str | None
    compare: list[str] | None
    rows: list[Row]
    source: SourceOut
    empty_reason: EmptyReasonOut | None


class FunnelOptionsOut(BaseModel):
    steps: list[str]
    window_seconds: float
    order: str
    same_product: bool
    mode: str
    start: str | None
    end: str | None
    by: str | None


class HistogramBin(BaseModel):
    lower_seconds: float
    upper_seconds: float
    count: int
    share: float | None


class FunnelOut(BaseModel):
    options: FunnelOptionsOut
    #: per step (and ``by`` value): step, name, count, conversions, dropped, time quantiles,
    #: and in order mode value and value_lost
    steps: list[Row]
    time_to_convert: list[HistogramBin]
    source: SourceOut
    empty_reason: EmptyReasonOut | None


class FunnelTrendOut(BaseModel):
    grain: str
    rows: list[Row]
    source: SourceOut
    empty_reason: EmptyReasonOut | None


class RetentionOut(BaseModel):
    start_event: str | None
    return_event: str | None
    grain: str
    periods: int
    mode: str
    by: str | None
    start: str | None
    end: str | None
    horizon: str | None
    matrix: list[Row]
    curve: list[Row]
    source: SourceOut
    empty_reason: EmptyReasonOut | None


class CohortsOut(BaseModel):
    grain: str
    periods: int
    start: str | None
    end: str | None
    horizon: str | None
    matrix: list[Row]
    curve: list[Row]


class PathOptionsOut(BaseModel):
    start: str | None
    end: str | None
    mode: str
    length: int
    top: int
    exclude: list[str]
    collapse_repeats: bool
    gap_seconds: int
    start_date: str | None
    end_date: str | None


class PathOut(BaseModel):
    path: list[str]
    text: str
    steps: int
    sessions: int
    share: float


class StepShare(BaseModel):
    step: str
    sessions: int
    share: float


class SankeyNode(BaseModel):
    id: str
    position: int
    name: str
    sessions: int


class SankeyLink(BaseModel):
    source_position: int
    source: str
    target_position: int
    target: str
    sessions: int
    source_id: str
    target_id: str


class SankeyOut(BaseModel):
    nodes: list[SankeyNode]
    links: list[SankeyLink]


class PathsOut(BaseModel):
    options: PathOptionsOut
    sessions: int
    distinct_paths: int
    error: str | None
    paths: list[PathOut]
    next_steps: list[StepShare]
    previous_steps: list[StepShare]
    sankey: SankeyOut
    source: SourceOut
    empty_reason: EmptyReasonOut | None
