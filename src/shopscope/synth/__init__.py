"""A synthetic shop with known ground truth, written as canonical Parquet tables.

``generate(out_dir, customers=..., seed=...)`` draws customers (BG/NBD purchases,
Gamma-Gamma order values), a product catalogue (Zipf popularity, Croston marketplace
demand), orders with lines, coupons, cancellations and returns, web/app sessions with a
known funnel, marketing spend with known effects on acquisition, and daily inventory under
a reorder policy. Everything is deterministic by seed and streamed to disk block by block,
so 100M events fit in a few GB of memory. See ``docs/synth.md``.
"""

from shopscope.synth.generate import BLOCK_CUSTOMERS, SynthResult, generate
from shopscope.synth.params import (
    DEFAULT_CATEGORIES,
    DEFAULT_CHANNELS,
    BGNBDParams,
    Campaign,
    CategorySpec,
    ChannelSpec,
    FunnelParams,
    GammaGammaParams,
    SynthConfig,
    SynthError,
)
from shopscope.synth.truth import (
    ChannelTruth,
    DemandTruth,
    FunnelTruth,
    GroundTruth,
    InventoryTruth,
    StepProbs,
)

__all__ = [
    "BLOCK_CUSTOMERS",
    "DEFAULT_CATEGORIES",
    "DEFAULT_CHANNELS",
    "BGNBDParams",
    "Campaign",
    "CategorySpec",
    "ChannelSpec",
    "ChannelTruth",
    "DemandTruth",
    "FunnelParams",
    "FunnelTruth",
    "GammaGammaParams",
    "GroundTruth",
    "InventoryTruth",
    "StepProbs",
    "SynthConfig",
    "SynthError",
    "SynthResult",
    "generate",
]
