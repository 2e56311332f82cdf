"""Multi-touch attribution over aggregated journeys.

Input is one row per distinct path (the shape of ChannelAttribution's PathData): the channels
touched in order, the conversions and conversion value of the journeys that followed it, and
``nulls``, the journeys along it that did not convert. :class:`Journeys` flattens the paths
once into one row per touch (path id, position, channel code), and every model is array
arithmetic over those touches; no model loops over journeys in Python.

Each model returns one row per channel with ``conversions`` and ``value``, and each model's
columns sum to the total conversions and value of the paths (a path's credit is split, never
lost or created):

- rule models (first touch, last touch, last non-direct, linear, time decay, position-based)
  give each touch of a path a weight, the weights of a path summing to 1;
- :func:`markov` solves the absorbing Markov chain of order 1-3 exactly (sparse LU, no
  simulation) and splits by normalised removal effects;
- :func:`shapley` splits by Shapley values of the game "conversions of the paths whose
  channels all lie in the coalition": exact over all coalitions up to ``exact_limit``
  channels, estimated from sampled permutations beyond.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from math import factorial
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

RULES = ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
         "position_based")
MODELS = (*RULES, "markov", "shapley")


@dataclass(frozen=True, eq=False)
class Journeys:
    """Aggregated paths, flattened into touches.

    Per path ``p``: ``conversions[p]``, ``value[p]``, ``nulls[p]``, its touches at
    ``offsets[p]`` to ``offsets[p] + lengths[p]``. Per touch ``i``: ``path[i]``, ``pos[i]``
    (0 = first), ``code[i]`` (index into ``channels``, sorted names) and, when touch times
    are known, ``days[i]`` (days from the touch to the end of the journey).
    """

    channels: tuple[str, ...]
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    lengths: np.ndarray
    code: np.ndarray
    days: np.ndarray | None = None
    offsets: np.ndarray = field(init=False)
    path: np.ndarray = field(init=False)
    pos: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        path = np.repeat(np.arange(len(self.lengths)), self.lengths)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "pos", np.arange(len(self.code)) - offsets[path])

    @classmethod
    def from_paths(cls, paths: list | pd.Series, conversions, value=None, nulls=None,
                   days: list | pd.Series | None = None) -> Journeys:
        """Journeys from a sequence of paths (each a non-empty sequence of channel names)
        and their per-path counts (value and nulls default to 0)."""
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        flat_days = None if days is None else list(chain.from_iterable(days))
        return cls.from_touches(list(chain.from_iterable(paths)), lengths, conversions,
                                value, nulls, flat_days)

    @classmethod
    def from_touches(cls, touches, lengths, conversions, value=None, nulls=None,
                     days=None) -> Journeys:
        """Journeys from the channel names of all touches, path after path, and the number
        of touches of each path."""
        lengths = np.asarray(lengths, dtype=np.int64)
        n = len(lengths)
        if n == 0 or (lengths <= 0).any():
            raise ValueError("every path needs at least one channel")
        codes, names = pd.factorize(pd.Series(touches, dtype=object), sort=True)
        if len(codes) != lengths.sum():
            raise ValueError("the path lengths do not add up to the touches")
        conv = np.asarray(conversions, dtype=float)
        val = np.zeros(n) if value is None else np.asarray(value, dtype=float)
        nul = np.zeros(n) if nulls is None else np.asarray(nulls, dtype=float)
        touch_days = None
        if days is not None:
            touch_days = np.asarray(days, dtype=float)
            if len(touch_days) != len(codes):
                raise ValueError("touch times: one per touch of each path")
        return cls(tuple(str(c) for c in names), conv, val, nul, lengths,
                   codes.astype(np.int64), touch_days)

    @property
    def n_paths(self) -> int:
        return len(self.lengths)

    @property
    def rpos(self) -> np.ndarray:
        """Touches before the last one of the path (0 = last touch)."""
        return self.lengths[self.path] - 1 - self.pos

    def lookback(self, touches: int | None) -> Journeys:
        """Only the last ``touches`` touches of each path (None: all)."""
        if touches is None or touches >= self.lengths.max():
            return self
        keep = self.rpos < touches
        return Journeys(self.channels, self.conversions, self.value, self.nulls,
                        np.minimum(self.lengths, touches), self.code[keep],
                        None if self.days is None else self.days[keep])

    def frame(self, conv: np.ndarray, val: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"conversions": conv, "value": val},
                            index=pd.Index(self.channels, name="channel"))

    def allocate(self, weight: np.ndarray) -> pd.DataFrame:
        """Credit per channel when touch ``i`` takes ``weight[i]`` of its path's
        conversions and value (a path's weights sum to 1)."""
        k = len(self.channels)
        conv = np.bincount(self.code, weight * self.conversions[self.path], minlength=k)
        val = np.bincount(self.code, weight * self.value[self.path], minlength=k)
        return self.frame(conv, val)

    def per_path_sum(self, x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, self.offsets)


# -- rule models ---------------------------------------------------------------------------
def first_touch(j: Journeys) -> pd.DataFrame:
    return j.allocate((j.pos == 0).astype(float))


def last_touch(j: Journeys) -> pd.DataFrame:
    return j.allocate((j.rpos == 0).astype(float))


def last_non_direct(j: Journeys, direct: str = "direct") -> pd.DataFrame:
    """The last touch that is not ``direct``; a path of direct touches only credits its
    last touch (direct)."""
    idx = np.arange(len(j.code))
    if direct in j.channels:
        candidate = np.where(j.code != j.channels.index(direct), idx, -1)
    else:
        candidate = idx
    chosen = np.maximum.reduceat(candidate, j.offsets)
    chosen = np.where(chosen < 0, j.offsets + j.lengths - 1, chosen)
    weight = np.zeros(len(idx))
    weight[chosen] = 1.0
    return j.allocate(weight)


def linear(j: Journeys) -> pd.DataFrame:
    """1/n of the path to each of its n touches (a channel touched twice gets 2/n)."""
    return j.allocate(1.0 / j.lengths[j.path])


def time_decay(j: Journeys, half_life: float = 7.0,
               unit: Literal["touches", "days"] = "touches") -> pd.DataFrame:
    """Weight 2^(-d/half_life), d = touches before the last one, or days from the touch
    to the end of the journey (needs touch times), normalised within each path."""
    if half_life <= 0:
        raise ValueError(f"half-life must be positive, not {half_life:g}")
    if unit == "days":
        if j.days is None:
            raise ValueError("time decay in days needs touch times")
        distance = j.days
    else:
        distance = j.rpos.astype(float)
    raw = np.exp2(-distance / half_life)
    return j.allocate(raw / j.per_path_sum(raw)[j.path])


def position_based(j: Journeys, first: float = 0.4, last: float = 0.4) -> pd.DataFrame:
    """``first`` to the first touch, ``last`` to the last, the rest evenly over the touches
    between; a path of two touches splits first : last, a path of one gives it all."""
    if first < 0 or last < 0 or first + last > 1 + 1e-12 or first + last == 0:
        raise ValueError(f"position shares first={first:g}, last={last:g}: each >= 0, "
                         "their sum in (0, 1]")
    n = j.lengths[j.path]
    middle = (1.0 - first - last) / np.maximum(n - 2, 1)
    weight = np.where(j.pos == 0, first, np.where(j.rpos == 0, last, middle))
    two = n == 2
    weight[two] = np.where(j.pos[two] == 0, first, last) / (first + last)
    weight[n == 1] = 1.0
    return j.allocate(weight)


# -- Markov chain --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MarkovResult:
    """``frame``: per channel ``removal_effect`` (share of conversions lost when the
    channel's states lead to null instead), ``removal_effect_value`` (the same for expected
    value), ``conversions``, ``value``. ``p_conversion``: probability that a walk from the
    start converts; ``states``: transient states of the chain (start excluded)."""

    order: int
    frame: pd.DataFrame
    p_conversion: float
    states: int


def _states(j: Journeys, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The chain's state of each touch that ends a window: the last ``order`` channels
    (the whole path when shorter), repeats of the same state in a row merged. Returns the
    state key, its path and the kept touch index, in path order."""
    base = len(j.channels) + 1
    keep = (j.pos >= order - 1) | ((j.lengths[j.path] < order) & (j.rpos == 0))
    idx = np.flatnonzero(keep)
    key = np.zeros(len(idx), dtype=np.int64)
    for back in range(order):  # digits of the window, newest first
        src = idx - back
        ok = j.pos[idx] - back >= 0
        key += np.where(ok, j.code[np.where(ok, src, 0)] + 1, 0) * base ** back
    path = j.path[idx]
    first = np.r_[True, path[1:] != path[:-1]]
    new = first | np.r_[True, key[1:] != key[:-1]]
    return key[new], path[new], idx[new]


def _contains(keys: np.ndarray, channel: int, order: int, base: int) -> np.ndarray:
    hit = np.zeros(len(keys), dtype=bool)
    for back in range(order):
        hit |= (keys // base ** back) % base == channel + 1
    return hit


def markov(j: Journeys, order: int = 1) -> MarkovResult:
    """Removal-effect attribution from the absorbing Markov chain of ``order`` (1-3).

    States: start, the windows of the last ``order`` channels, conversion, null. Each path
    adds its journeys (conversions + nulls) to the counts of its transitions, its
    conversions to last state -> conversion and its nulls to last state -> null; rows are
    normalised. With Q the transient part and r the one-step conversion probabilities,
    P(conversion) = [(I - Q)^-1 r]_start, solved by sparse LU. Removing a channel sends every
    state that contains it to null; its removal effect is 1 - P_removed / P. The value
    version weights conversion from state s by the mean value per conversion of the paths
    ending in s, so it is the expected value lost. Conversions and value are split in
    proportion to the removal effects.
    """
    if order not in (1, 2, 3):
        raise ValueError(f"Markov order must be 1, 2 or 3, not {order}")
    base = len(j.channels) + 1
    if base ** order >= 2 ** 62:
        raise ValueError(f"too many channels ({base - 1}) for order {order}")
    journeys = j.conversions + j.nulls
    key, path, _ = _states(j, order)
    live = journeys[path] > 0
    key, path = key[live], path[live]
    uniq, state = np.unique(key, return_inverse=True)
    n = len(uniq)
    start = n
    first = np.r_[True, path[1:] != path[:-1]]
    last = np.r_[path[1:] != path[:-1], True]
    src = np.where(first, start, np.r_[0, state[:-1]])
    w = journeys[path]
    trans = sp.coo_matrix((w, (src, state)), shape=(n + 1, n + 1)).tocsr()
    conv = np.bincount(state[last], j.conversions[path[last]], minlength=n + 1)
    val = np.bincount(state[last], j.value[path[last]], minlength=n + 1)
    nul = np.bincount(state[last], j.nulls[path[last]], minlength=n + 1)
    total = np.asarray(trans.sum(axis=1)).ravel() + conv + nul
    inv = sp.diags(np.where(total > 0, 1.0 / np.where(total > 0, total, 1), 0.0))
    q = (inv @ trans).tocsc()
    rhs = np.column_stack([conv, val]) / np.where(total > 0, total, 1)[:, None]

    def solve(kept: np.ndarray) -> np.ndarray:
        sub = q[kept][:, kept]
        lu = splu((sp.identity(len(kept), format="csc") - sub).tocsc())
        return lu.solve(rhs[kept])[-1]  # start is the last kept state

    everything = solve(np.arange(n + 1))
    if everything[0] <= 0:
        raise ValueError("no path converts: nothing to attribute")
    removal = np.zeros((len(j.channels), 2))
    for c in range(len(j.channels)):  # one solve per channel, not per journey
        kept = np.r_[np.flatnonzero(~_contains(uniq, c, order, base)), start]
        removal[c] = 1.0 - solve(kept) / np.where(everything > 0, everything, 1)
    removal = np.clip(removal, 0.0, 1.0)  # rounding of a solve can leave -1e-16
    shares = removal / np.where(removal.sum(axis=0) > 0, removal.sum(axis=0), 1)
    frame = j.frame(shares[:, 0] * j.conversions.sum(), shares[:, 1] * j.value.sum())
    frame.insert(0, "removal_effect", removal[:, 0])
    frame.insert(1, "removal_effect_value", removal[:, 1])
    return MarkovResult(order, frame, float(everything[0]), n)


# -- Shapley -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ShapleyResult:
    """``frame``: per channel ``conversions``, ``value`` (and, when sampled, their standard
    errors ``conversions_se``, ``value_se``); ``method``: exact or sampled; ``samples``:
    permutations drawn (0 when exact)."""

    frame: pd.DataFrame
    method: Literal["exact", "sampled"]
    samples: int
    seed: int | None


def _channel_sets(j: Journeys) -> tuple[np.ndarray, np.ndarray]:
    """Each path's distinct channels as (path, channel) pairs, sorted by path."""
    pairs = np.unique(j.path * len(j.channels) + j.code)
    return pairs // len(j.channels), pairs % len(j.channels)


def shapley(j: Journeys, exact_limit: int = 15, samples: int = 2000,
            seed: int = 0) -> ShapleyResult:
    """Shapley values of the game v(S) = conversions (value) of the paths whose channels
    all lie in S.

    Up to ``exact_limit`` channels every coalition is enumerated: v over all 2^n subsets by
    a subset-sum transform, then phi_i = sum over S without i of |S|! (n-|S|-1)! / n! *
    (v(S + i) - v(S)). Beyond, ``samples`` random orders of the channels (seeded): a path's
    credit goes to whichever of its channels comes last in the order (that is when the
    coalition first covers it), averaged over the orders.
    """
    k = len(j.channels)
    pair_path, pair_ch = _channel_sets(j)
    if k <= exact_limit:
        masks = np.bitwise_or.reduceat(np.left_shift(1, pair_ch).astype(np.int64),
                                       np.flatnonzero(np.r_[True, np.diff(pair_path) != 0]))
        every = np.arange(1 << k)
        # |S| of every coalition (np.bitwise_count needs numpy 2; we allow 1.26)
        size = sum(((every >> b) & 1 for b in range(k)), np.zeros(1 << k, dtype=np.int64))
        fact = np.array([factorial(s) for s in range(k + 1)], dtype=float)
        out = np.zeros((k, 2))
        for col, amount in enumerate((j.conversions, j.value)):
            v = np.bincount(masks, amount, minlength=1 << k).astype(float)
            for bit in range(k):  # v(S) = sum of w(T) over T within S
                has = (every >> bit) & 1 == 1
                v[has] += v[~has]  # both in increasing order: S pairs with S minus bit
            for i in range(k):
                without = np.flatnonzero((every >> i) & 1 == 0)
                s = size[without]
                weight = fact[s] * fact[k - s - 1] / fact[k]
                out[i, col] = (weight * (v[without | (1 << i)] - v[without])).sum()
        return ShapleyResult(j.frame(out[:, 0], out[:, 1]), "exact", 0, None)
    if samples < 2:
        raise ValueError(f"sampled Shapley needs at least 2 permutations, not {samples}")
    rng = np.random.default_rng(seed)
    starts = np.flatnonzero(np.r_[True, np.diff(pair_path) != 0])
    counts = np.diff(np.r_[starts, len(pair_path)])
    incidence = sp.csr_matrix((np.ones(len(pair_ch)), (np.arange(len(pair_ch)), pair_ch)),
                              shape=(len(pair_ch), k))
    per_perm = []
    for begin in range(0, samples, 64):  # batches of orders bound the memory
        b = min(64, samples - begin)
        rank = np.argsort(rng.random((b, k)), axis=1).argsort(axis=1)
        r = rank[:, pair_ch]
        top = np.maximum.reduceat(r, starts, axis=1)
        winner = (r == np.repeat(top, counts, axis=1)).astype(float)
        conv = (winner * j.conversions[pair_path]) @ incidence
        val = (winner * j.value[pair_path]) @ incidence
        per_perm.append(np.stack([np.asarray(conv), np.asarray(val)], axis=2))
    draws = np.concatenate(per_perm)  # samples x channels x (conversions, value)
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(samples)
    frame = j.frame(mean[:, 0], mean[:, 1])
    frame["conversions_se"] = se[:, 0]
    frame["value_se"] = se[:, 1]
    return ShapleyResult(frame, "sampled", samples, seed)


# -- all models side by side ---------------------------------------------------------------
def compare(j: Journeys, models: tuple[str, ...] = MODELS, *, order: int = 1,
            direct: str = "direct", half_life: float = 7.0,
            decay_unit: Literal["touches", "days"] = "touches", first: float = 0.4,
            last: float = 0.4, exact_limit: int = 15, samples: int = 2000,
            seed: int = 0, done: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per channel and model: ``channel``, ``model``, ``conversions``, ``value``
    (Markov is named ``markov_<order>``). ``done``: frames of models already computed."""
    run = {
        "first_touch": lambda: first_touch(j),
        "last_touch": lambda: last_touch(j),
        "last_non_direct": lambda: last_non_direct(j, direct),
        "linear": lambda: linear(j),
        "time_decay": lambda: time_decay(j, half_life, decay_unit),
        "position_based": lambda: position_based(j, first, last),
        "markov": lambda: markov(j, order).frame,
        "shapley": lambda: shapley(j, exact_limit, samples, seed).frame,
    }
    parts = []
    for name in models:
        frame = (done or {}).get(name)
        frame = (run[name]() if frame is None else frame)[["conversions", "value"]]
        frame = frame.reset_index()
        frame.insert(1, "model", f"markov_{order}" if name == "markov" else name)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def wide(long: pd.DataFrame, measure: str = "conversions") -> pd.DataFrame:
    """Channels by models: the comparison as a table."""
    models = list(dict.fromkeys(long["model"]))
    return long.pivot(index="channel", columns="model", values=measure)[models]
