"""Touch journeys whose channels' true incremental effect on conversion is known.

The causal model, per user (one journey each):

1. Every *causal* channel ``c`` (``lift > 0``) reaches the user with probability
   ``exposure[c]``, independently; call the reached set ``S``.
2. The user converts with the noisy-OR probability

       P(convert | S) = 1 - (1 - base) * prod_{c in S} (1 - lift[c])

   (``base``: conversions that need no marketing at all).
3. *Hijacker* channels (``lift == 0``, e.g. brand search, direct) are then reached with a
   probability that depends on the outcome (``exposure`` for converters,
   ``exposure_null`` for the others): people who are going to buy anyway look the brand up
   or type the address. They change nothing, yet sit just before the conversion, so
   last-touch credits them with much of it.
4. A user reached by nothing arrives ``direct`` (the :attr:`JourneyConfig.arrival`
   channel, which must have lift 0): every user is one observed journey.
5. A reached channel touches the user ``1 + Poisson(extra_touches)`` times (at most
   ``max_touches``); a touch is placed at ``position + sd * N(0, 1)`` and the journey's
   touches are ordered by that key, so display/social come early, search/email late and
   hijackers last.

The truth. The expected incremental conversions of channel ``c`` are computed exactly from
the model, given the drawn exposures (no simulated outcome enters):

    inc[c] = sum over users with c in S of P(convert | S) - P(convert | S \\ {c})
           = sum over those users of (1 - base) * lift[c] * prod_{j in S, j != c} (1 - lift[j])

Hijackers get exactly 0. These removal effects do not add up to the conversions: the
``base`` conversions happen without any channel, and under noisy-OR the channels overlap
(a user reached by two channels who would have been converted by either one is lost only
when both are removed), so ``sum inc[c] <= P(S) - P(empty set)`` summed over users. For
comparison with attribution models, whose credit always sums to the total conversions, both
are normalised to shares: ``truth_share[c] = inc[c] / sum(inc)`` against ``credit[c] /
total conversions`` -- a model is right when it splits the conversions in proportion to
the channels' incremental effects.

Output: the aggregated path table in the shape of ChannelAttribution's PathData
(``path``, ``total_conversions``, ``total_conversion_value``, ``total_null``) and the
truth per channel. Deterministic given the seed; all numpy, no Python loop over users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class JourneyError(ValueError):
    """A journey configuration that cannot be simulated."""


@dataclass(frozen=True)
class JourneyChannel:
    """A channel of the journey model (see the module docstring).

    ``lift``: increase of the conversion probability by noisy-OR (0: a hijacker);
    ``exposure``: probability a user is reached (for a hijacker: a converting user);
    ``exposure_null``: for a hijacker, the probability for a user who does not convert;
    ``position``, ``sd``: where its touches fall in the journey (0 = start, 1 = end);
    ``extra_touches``: mean of the Poisson number of touches beyond the first.
    """

    name: str
    lift: float
    exposure: float
    position: float
    sd: float = 0.15
    exposure_null: float = 0.0
    extra_touches: float = 0.3


#: Display and social reach many people early and convert a few; search and email come late
#: and convert more each; brand search and direct change nothing but show up just before a
#: purchase.
DEFAULT_JOURNEY_CHANNELS = (
    JourneyChannel("display", lift=0.02, exposure=0.40, position=0.15, extra_touches=0.8),
    JourneyChannel("social", lift=0.03, exposure=0.30, position=0.30, extra_touches=0.5),
    JourneyChannel("video", lift=0.01, exposure=0.20, position=0.25),
    JourneyChannel("generic_search", lift=0.06, exposure=0.20, position=0.65),
    JourneyChannel("email", lift=0.04, exposure=0.25, position=0.70, extra_touches=0.4),
    JourneyChannel("brand_search", lift=0.0, exposure=0.50, exposure_null=0.04,
                   position=0.92, sd=0.05),
    JourneyChannel("direct", lift=0.0, exposure=0.35, exposure_null=0.04, position=0.97,
                   sd=0.04),
)


@dataclass(frozen=True)
class JourneyConfig:
    """The journey model: channels, the conversion rate without marketing (``base``),
    conversion values (lognormal: median ``value_median``, log-sd ``value_sigma``), the
    channel of users reached by nothing (``arrival``) and the cap on touches per channel."""

    channels: tuple[JourneyChannel, ...] = DEFAULT_JOURNEY_CHANNELS
    base: float = 0.02
    value_median: float = 60.0
    value_sigma: float = 0.6
    arrival: str = "direct"
    max_touches: int = 3

    def check(self) -> None:
        names = [c.name for c in self.channels]
        if not names or len(set(names)) != len(names):
            raise JourneyError(f"channels need distinct names, got {names}")
        if any(not n or ">" in n for n in names):
            raise JourneyError("a channel name is empty or contains '>', the path separator")
        if not 0 <= self.base < 1:
            raise JourneyError(f"base conversion {self.base:g}: must be in [0, 1)")
        for c in self.channels:
            for what, v in (("lift", c.lift), ("exposure", c.exposure),
                            ("exposure_null", c.exposure_null)):
                if not 0 <= v <= 1 or (what == "lift" and v == 1):
                    raise JourneyError(f"channel {c.name!r}: {what} {v:g} outside [0, 1)"
                                       if what == "lift" else
                                       f"channel {c.name!r}: {what} {v:g} outside [0, 1]")
            if c.sd < 0 or c.extra_touches < 0:
                raise JourneyError(f"channel {c.name!r}: sd and extra_touches must be >= 0")
        arrival = {c.name: c for c in self.channels}.get(self.arrival)
        if arrival is None or arrival.lift != 0:
            raise JourneyError(f"arrival channel {self.arrival!r} must be one of the channels, "
                               "with lift 0 (being assigned it depends on the outcome)")
        if self.max_touches < 1:
            raise JourneyError(f"max_touches {self.max_touches}: at least 1")
        if len(names) > 250:
            raise JourneyError(f"{len(names)} channels: at most 250")


@dataclass(frozen=True, eq=False)
class JourneyTruth:
    """Simulated journeys and their truth.

    ``paths``: PathData-shaped table, one row per distinct path. ``truth``: per channel
    ``lift``, ``exposed`` (users it touched), ``incremental`` (expected incremental
    conversions), ``share`` (of the sum of incremental conversions). ``expected_conversions``:
    sum of P(convert | S) over users; ``base_conversions``: the part that needs no channel
    (users x base); ``conversions``: the simulated ones."""

    config: JourneyConfig
    users: int
    seed: int
    paths: pd.DataFrame
    truth: pd.DataFrame
    expected_conversions: float
    base_conversions: float
    conversions: int


def simulate(users: int = 100_000, seed: int = 0,
             config: JourneyConfig | None = None) -> JourneyTruth:
    """Draw ``users`` journeys (one per user) from the model and compute the truth."""
    config = config or JourneyConfig()
    config.check()
    if users < 1:
        raise JourneyError(f"users {users}: at least 1")
    rng = np.random.default_rng(seed)
    ch = config.channels
    k = len(ch)
    lift = np.array([c.lift for c in ch])
    causal = lift > 0
    p_conv = np.array([c.exposure for c in ch])
    p_null = np.array([c.exposure_null for c in ch])

    # 1-2: causal exposures, then the outcome from the noisy-OR
    draw = rng.random((users, k))
    exposed = (draw < p_conv) & causal
    keep = np.where(exposed, 1.0 - lift, 1.0).prod(axis=1)  # prod over S of (1 - lift)
    p = 1.0 - (1.0 - config.base) * keep
    converted = rng.random(users) < p
    # 3: hijackers follow the outcome (a fresh draw, independent of step 1's)
    hij = rng.random((users, k)) < np.where(converted[:, None], p_conv, p_null)
    reached = exposed | (hij & ~causal)
    # 4: nobody is left without a touch
    arrival = [c.name for c in ch].index(config.arrival)
    reached[~reached.any(axis=1), arrival] = True

    # 5: touches, ordered within each user by their position key
    extra = np.minimum(rng.poisson([c.extra_touches for c in ch], (users, k)),
                       config.max_touches - 1)
    counts = np.where(reached, 1 + extra, 0).ravel()
    user = np.repeat(np.repeat(np.arange(users), k), counts)
    chan = np.repeat(np.tile(np.arange(k), users), counts)
    pos = np.array([c.position for c in ch])[chan]
    key = pos + np.array([c.sd for c in ch])[chan] * rng.standard_normal(len(chan))
    order = np.lexsort((key, user))  # user is already sorted; key orders within it
    chan = chan[order]
    length = np.bincount(user, minlength=users)
    start = np.r_[0, np.cumsum(length)[:-1]]
    rank = np.arange(len(chan)) - start[user]
    grid = np.zeros((users, length.max()), dtype=np.uint8)  # channel + 1, 0 past the end
    grid[user, rank] = chan + 1
    value = np.where(converted, config.value_median
                     * np.exp(config.value_sigma * rng.standard_normal(users)), 0.0)

    uniq, inverse = _unique_rows(grid, k + 1)
    conv = np.bincount(inverse, converted, minlength=len(uniq))
    paths = pd.DataFrame({
        "path": _decode(uniq, [c.name for c in ch]),
        "total_conversions": conv.astype(np.int64),
        "total_conversion_value": np.round(np.bincount(inverse, value, len(uniq)), 2),
        "total_null": (np.bincount(inverse, minlength=len(uniq)) - conv).astype(np.int64),
    }).sort_values(["total_conversions", "total_null", "path"], ascending=[False, False, True],
                   ignore_index=True)

    truth = journey_truth(reached, lift, config.base)  # hijackers (lift 0) add nothing
    truth.insert(0, "channel", [c.name for c in ch])
    return JourneyTruth(config, users, seed, paths, truth.set_index("channel"),
                        float(p.sum()), users * config.base, int(converted.sum()))


def journey_truth(exposed: np.ndarray, lift: np.ndarray, base: float) -> pd.DataFrame:
    """Exact expected incremental conversions per channel for users with exposure sets
    ``exposed`` (users x channels, bool) under the noisy-OR with ``lift`` and ``base``:
    ``lift``, ``exposed`` (users reached), ``incremental``, ``share``."""
    exposed = np.asarray(exposed, dtype=bool)
    lift = np.asarray(lift, dtype=float)
    keep = np.where(exposed, 1.0 - lift, 1.0)
    # P(S) - P(S \ c) = (1 - base) * lift_c * prod_{j in S, j != c} (1 - lift_j); the
    # product without c is the whole product divided by (1 - lift_c) (lift < 1)
    others = keep.prod(axis=1, keepdims=True) / keep
    inc = ((1.0 - base) * lift * others * exposed).sum(axis=0)
    total = inc.sum()
    return pd.DataFrame({"lift": lift, "exposed": exposed.sum(axis=0), "incremental": inc,
                         "share": inc / total if total > 0 else np.zeros_like(inc)})


def _unique_rows(grid: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``grid`` (values < ``base``) and each row's index among them.

    Rows are packed into int64 words of as many digits as fit, then sorted by the words:
    np.unique(axis=0) sorts byte strings and takes half a second on 100k journeys."""
    per_word = max(1, int(62 // np.log2(base)))
    words = []
    for lo in range(0, grid.shape[1], per_word):
        block = grid[:, lo:lo + per_word].astype(np.int64)
        words.append(block @ base ** np.arange(block.shape[1], dtype=np.int64))
    order = np.lexsort(words[::-1])
    packed = np.stack(words, axis=1)[order]
    new = np.r_[True, (packed[1:] != packed[:-1]).any(axis=1)]
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return grid[order[new]], inverse


def _decode(grid: np.ndarray, names: list[str]) -> list[str]:
    """Path strings ("a > b") of paths as rows of channel + 1 (0 past the end)."""
    table = np.array(["", *names], dtype=object)
    return [" > ".join(t for t in row if t) for row in table[grid]]
