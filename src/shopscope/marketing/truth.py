"""Attribution models scored against a known truth.

Models credit conversions; the truth (from :mod:`shopscope.synth.journeys`, or any source
with the same meaning) is each channel's expected incremental conversions. Their totals
differ by construction (conversions that need no channel, and overlaps between channels,
are in the first and not in the second), so both are compared as shares: a model's share
of channel ``c`` is its credit over the total conversions, the true share is the channel's
incremental conversions over their sum. The error of a model is the total absolute share
error, sum over channels of |share - true share| (0 = perfect, 2 = all credit on channels
that deserve none).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopscope.marketing import attribution as at


@dataclass(frozen=True, eq=False)
class TruthScore:
    """``shares``: channel x (``truth`` and each model) shares; ``errors``: channel x model
    absolute share errors; ``total``: per model the sum of its column of ``errors``,
    smallest first."""

    shares: pd.DataFrame
    errors: pd.DataFrame
    total: pd.Series


def score(j: at.Journeys, truth_share: pd.Series, models: tuple[str, ...] = at.MODELS,
          **settings: object) -> TruthScore:
    """Each model's shares of ``j``'s conversions against ``truth_share`` (per channel name,
    summing to 1). A channel missing on either side counts as share 0 there.
    ``settings``: passed to :func:`~shopscope.marketing.attribution.compare`."""
    truth = pd.Series(truth_share, dtype=float)
    if truth.lt(0).any() or abs(truth.sum() - 1) > 1e-9:
        raise ValueError(f"true shares must be >= 0 and sum to 1, not {truth.sum():g}")
    credit = at.wide(at.compare(j, models, **settings))  # type: ignore[arg-type]
    shares = credit / float(j.conversions.sum())
    channels = shares.index.union(truth.index)
    shares = shares.reindex(channels, fill_value=0.0)
    shares.insert(0, "truth", truth.reindex(channels, fill_value=0.0))
    shares.columns.name = None
    errors = shares.drop(columns="truth").sub(shares["truth"], axis=0).abs()
    total = errors.sum().sort_values(kind="stable").rename("error")
    return TruthScore(shares, errors, total)
