"""The marketing area's service: attribution of aggregated journeys (more to come).

:func:`read_paths` turns an aggregated path file (the shape of ChannelAttribution's
PathData: path, conversions, value, journeys that did not convert) into
:class:`~shopscope.marketing.attribution.Journeys`, refusing bad rows with the file, row
and column; :func:`attribute` runs the asked models on it and returns the comparison. The
input is a file, not the workspace, so nothing is cached.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from shopscope.core.service import Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.errors import InputError, OptionError
from shopscope.marketing import attribution as at

Model = Literal["first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
                "position_based", "markov", "shapley"]

#: The most rows a path file may have (PathData has 10,000).
MAX_PATHS = 2_000_000
#: The most channels the Markov model takes: it solves the chain once per channel.
MAX_MARKOV_CHANNELS = 200
#: The largest count or value in a path file (sums stay exact in float64 far beyond).
MAX_NUMBER = 1e15


class PathColumns(Params):
    """Where the parts of a path file are: column names (``value`` and ``nulls`` may be
    empty: then zero) and the separator between the channels of a path."""

    path: str = "path"
    conversions: str = "total_conversions"
    value: str = "total_conversion_value"
    nulls: str = "total_null"
    days: str = ""  # per touch, days from the touch to the end of the journey, sep-separated
    sep: str = Field(">", min_length=1, max_length=10)


class AttributionParams(Params):
    """Which models, and their settings (defaults: 40/20/40, half-life 7 (days when the
    paths have touch times, else touches), Markov of order 1, Shapley exact up to 15
    channels, else 2,000 seeded permutations)."""

    models: tuple[Model, ...] = Field(at.MODELS, min_length=1)  # type: ignore[arg-type]
    order: int = Field(1, ge=1, le=3)
    lookback: int | None = Field(None, ge=1, description="Keep the last N touches of a path.")
    direct: str = "direct"
    half_life: float = Field(7.0, gt=0)
    decay_unit: Literal["auto", "touches", "days"] = "auto"  # auto: days when times given
    first: float = Field(0.4, ge=0, le=1)
    last: float = Field(0.4, ge=0, le=1)
    exact_limit: int = Field(15, ge=0, le=20)
    samples: int = Field(2000, ge=2, le=100_000)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> AttributionParams:
        if self.first + self.last > 1 + 1e-12 or self.first + self.last == 0:
            raise ValueError(f"first + last = {self.first + self.last:g}: must be in (0, 1]")
        if len(set(self.models)) != len(self.models):
            raise ValueError("a model is listed twice")
        return self


@dataclass(frozen=True, eq=False)
class AttributionResult:
    """``comparison``: one row per channel and model (``conversions``, ``value``);
    ``conversions``/``value``: the same as channel x model tables; ``totals`` of the paths;
    ``removal_effects`` (Markov, else None); ``notes``: how models were computed."""

    params: AttributionParams
    comparison: pd.DataFrame
    conversions: pd.DataFrame
    value: pd.DataFrame
    total_conversions: float
    total_value: float
    paths: int
    channels: int
    removal_effects: pd.DataFrame | None
    notes: tuple[str, ...]


def _bad(source: str, rows: pd.Series, column: str, what: str, hint: str) -> InputError:
    """An error naming the file, the column and the first rows (CSV line numbers)."""
    lines = [str(i + 2) for i in rows.index[:5]]  # +1 header, +1 from 0-based
    more = f" and {len(rows) - 5:,} more" if len(rows) > 5 else ""
    return InputError(f"{source}: column {column!r}, row {', '.join(lines)}{more}: {what}",
                      hint=hint)


def _number(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    raw = frame[column]
    num = pd.to_numeric(raw, errors="coerce")
    bad = raw[num.isna() | ~(num >= 0) | ~(num <= MAX_NUMBER)]
    if len(bad):
        raise _bad(source, bad, column, f"not a number from 0 to {MAX_NUMBER:g} "
                   f"({bad.iloc[0]!r})", "counts and values must be finite and not negative")
    return num.to_numpy(dtype=float)


def read_paths(source: Path | str | IO[str], columns: PathColumns | None = None,
               name: str | None = None) -> at.Journeys:
    """The journeys of an aggregated path file (CSV, optionally gzipped) or text buffer;
    errors call it ``name`` (default: the path)."""
    columns = columns or make(PathColumns)
    name = name or str(source)
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, nrows=MAX_PATHS + 1)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", hint="check the path") from None
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error, OSError) as exc:
        raise InputError(f"{name}: not a readable CSV file ({exc})",
                         hint="save it as UTF-8 CSV with a header row") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: the file is empty", hint="it needs a header and rows") from None
    if len(frame) > MAX_PATHS:
        raise InputError(f"{name}: more than {MAX_PATHS:,} paths",
                         hint="aggregate identical paths first")
    wanted = {"path": columns.path, "conversions": columns.conversions,
              "value": columns.value, "nulls": columns.nulls, "days": columns.days}
    for role, col in wanted.items():
        if col and col not in frame.columns:
            raise InputError(f"{name}: no column {col!r} (the {role} column); the file has "
                             f"{', '.join(map(repr, frame.columns))}",
                             hint=f"name the {role} column with --{role}-column")
    if frame.empty:
        raise InputError(f"{name}: no paths", hint="the file has a header but no rows")
    sep = columns.sep.strip()
    text = frame[columns.path].str.strip()
    parts = text.str.split(sep if sep else None, regex=False)
    tokens = parts.explode().str.strip()
    empty = tokens[tokens.eq("") | tokens.isna()]
    if len(empty):
        rows = frame.loc[empty.index.unique()]
        raise _bad(name, rows, columns.path, f"empty path or empty channel name between "
                   f"separators ({frame.loc[rows.index[0], columns.path]!r})",
                   f"channels are separated by {columns.sep!r} (--sep)")
    conv = _number(frame, columns.conversions, name)
    value = _number(frame, columns.value, name) if columns.value else None
    nulls = _number(frame, columns.nulls, name) if columns.nulls else None
    if conv.sum() <= 0:
        raise InputError(f"{name}: no path has conversions (column {columns.conversions!r})",
                         hint="attribution splits conversions: at least one must be > 0")
    lengths = parts.str.len()
    days = _days(frame, columns, lengths, name) if columns.days else None
    return at.Journeys.from_touches(tokens.to_numpy(), lengths.to_numpy(), conv, value, nulls,
                                    days)


def _days(frame: pd.DataFrame, columns: PathColumns, lengths: pd.Series,
          source: str) -> np.ndarray:
    """Touch times: as many numbers >= 0 per row as the path has touches."""
    sep = columns.sep.strip()
    parts = frame[columns.days].str.strip().str.split(sep if sep else None, regex=False)
    wrong = frame[parts.str.len() != lengths]
    if len(wrong):
        raise _bad(source, wrong, columns.days, "not one time per touch of the path",
                   f"give the days before the journey's end of each touch, separated by "
                   f"{columns.sep!r}")
    flat = parts.explode().str.strip()
    num = pd.to_numeric(flat, errors="coerce")
    bad = flat[num.isna() | ~(num >= 0) | ~(num <= MAX_NUMBER)]
    if len(bad):
        raise _bad(source, frame.loc[bad.index.unique()], columns.days,
                   f"not a number of days >= 0 ({bad.iloc[0]!r})",
                   "days from the touch to the end of the journey")
    return num.to_numpy(dtype=float)


def attribute(journeys: at.Journeys, params: AttributionParams) -> AttributionResult:
    """Every asked model over the journeys (after the lookback), side by side."""
    unit = params.decay_unit
    if unit == "auto":
        unit = "touches" if journeys.days is None else "days"
    if unit == "days" and "time_decay" in params.models and journeys.days is None:
        raise OptionError("time decay in days needs touch times",
                          hint="give the column of touch times, or decay by touches")
    if "markov" in params.models and len(journeys.channels) > MAX_MARKOV_CHANNELS:
        raise OptionError(f"the Markov model takes at most {MAX_MARKOV_CHANNELS} channels, "
                          f"the paths have {len(journeys.channels):,}",
                          hint="group channels into fewer, or leave markov out of the models")
    j = journeys.lookback(params.lookback)
    notes = []
    removal = None
    done = {}
    if "markov" in params.models:
        m = at.markov(j, params.order)
        done["markov"] = m.frame
        removal = m.frame[["removal_effect", "removal_effect_value"]].reset_index()
        notes.append(f"markov_{params.order}: exact absorbing chain, {m.states:,} states, "
                     f"P(conversion) = {m.p_conversion:.4f}")
    long = at.compare(j, params.models, order=params.order, direct=params.direct,
                      half_life=params.half_life, decay_unit=unit, first=params.first,
                      last=params.last, exact_limit=params.exact_limit,
                      samples=params.samples, seed=params.seed, done=done)
    if "time_decay" in params.models:
        notes.append(f"time_decay: half-life {params.half_life:g} {unit}")
    if "shapley" in params.models:
        if len(j.channels) <= params.exact_limit:
            notes.append(f"shapley: exact over {2 ** len(j.channels):,} coalitions")
        else:
            notes.append(f"shapley: sampled, {params.samples:,} permutations, "
                         f"seed {params.seed}")
    if params.lookback:
        notes.append(f"lookback: last {params.lookback} touches of each path")
    return AttributionResult(
        params=params, comparison=long, conversions=at.wide(long, "conversions"),
        value=at.wide(long, "value"), total_conversions=float(j.conversions.sum()),
        total_value=float(j.value.sum()), paths=j.n_paths, channels=len(j.channels),
        removal_effects=removal, notes=tuple(notes))


def top_paths(journeys: at.Journeys, channel: str | None = None,
              sep: str = " > ") -> pd.DataFrame:
    """The distinct paths that touch ``channel`` (None: all; rows of the file with the same
    path are added up), most conversions first (ties: more journeys, then the path):
    ``path`` (channels joined by ``sep``), ``touches``, ``conversions``, ``value``,
    ``journeys`` (conversions + nulls) and ``conversion_rate`` (conversions / journeys;
    NaN for a path without journeys)."""
    keep = np.arange(journeys.n_paths)
    if channel is not None:
        if channel not in journeys.channels:
            raise OptionError(f"channel {channel!r} is not in the paths",
                              hint=f"one of {', '.join(journeys.channels[:20])}")
        code = journeys.channels.index(channel)
        keep = np.unique(journeys.path[journeys.code == code])
    names = np.asarray(journeys.channels, dtype=object)[journeys.code]
    starts, lengths = journeys.offsets[keep], journeys.lengths[keep]
    conv = journeys.conversions[keep]
    frame = pd.DataFrame({
        "path": [sep.join(names[s:s + n]) for s, n in zip(starts, lengths, strict=True)],
        "touches": lengths, "conversions": conv, "value": journeys.value[keep],
        "journeys": conv + journeys.nulls[keep]})
    frame = frame.groupby(["path", "touches"], as_index=False, sort=False)[
        ["conversions", "value", "journeys"]].sum()
    runs = frame["journeys"]
    frame["conversion_rate"] = frame["conversions"] / runs.where(runs > 0)
    return frame.sort_values(["conversions", "journeys", "path"],
                             ascending=[False, False, True], kind="stable").reset_index(
                                 drop=True)
