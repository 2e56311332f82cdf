"""The ground truth of a synthetic shop, as written to ``ground_truth.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopscope.synth.params import BGNBDParams, GammaGammaParams

FORMAT_VERSION = 1


@dataclass(frozen=True)
class StepProbs:
    """Step conversion probabilities of the session funnel."""

    view_to_cart: float
    cart_to_checkout: float
    checkout_to_purchase: float

    @property
    def session_conversion(self) -> float:
        return self.view_to_cart * self.cart_to_checkout * self.checkout_to_purchase


@dataclass(frozen=True)
class FunnelTruth:
    """Per-channel funnels of web/app sessions and the traffic mix.

    A session "reaches" a step when it has at least one event of that type; the step
    probabilities are ratios of sessions reaching consecutive steps. ``overall`` is the
    traffic-weighted mix over channels.
    """

    steps: tuple[str, ...]
    traffic_share: dict[str, float]
    by_channel: dict[str, StepProbs]
    overall: StepProbs


@dataclass(frozen=True)
class ChannelTruth:
    """A marketing channel's true effect on acquisitions.

    ``expected new customers per day = base_acquisitions_per_day + spend *
    acquisitions_per_unit_spend`` (unpaid channels: ``base * season``). New customers
    include prospects; buyers are ``1 - prospect_share`` of them.
    """

    name: str
    acquisition_share: float
    acquisitions_per_unit_spend: float
    base_acquisitions_per_day: float
    cac: float | None
    total_spend: float
    expected_acquisitions: float


@dataclass(frozen=True)
class DemandTruth:
    """Croston truth of marketplace demand (``orders.channel == 'marketplace'``).

    Per product and day, demand occurs with ``occurrence_prob``; its size is
    ``1 + Poisson(size_mean - 1)`` units; one marketplace order per occurrence. Expected
    daily demand is ``occurrence_prob * size_mean``.
    """

    location: str
    product_id: tuple[str, ...]
    occurrence_prob: tuple[float, ...]
    size_mean: tuple[float, ...]


@dataclass(frozen=True)
class InventoryTruth:
    """Reorder policy that produced ``inventory`` (see :mod:`shopscope.synth.inventory`)."""

    locations: dict[str, str]
    lead_time_days: dict[str, int]
    service_z: float
    review_cover_days: float
    ewma_alpha: float
    negative_on_hand_means: str = "backorder"


@dataclass(frozen=True)
class GroundTruth:
    """Everything a model should recover from a synthetic shop.

    ``bgnbd`` and ``gamma_gamma`` describe every order of a known customer (any status,
    any sales channel): the first at ``customers.first_seen_at``, the value in
    ``orders.gross_amount``. Prospects (``prospect_share``) never order. Time unit: days.
    """

    seed: int
    start: str
    end: str
    days: int
    currency: str
    customers: int
    products: int
    anonymous_visitors: int
    tracking_fraction: float
    prospect_share: float
    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams
    funnel: FunnelTruth
    channels: tuple[ChannelTruth, ...]
    demand: DemandTruth
    inventory: InventoryTruth
    return_prob_by_category: dict[str, float]
    cancel_prob: float
    sales_channel_probs: dict[str, float]
    coupon_rates: dict[str, float]
    welcome_coupon_prob: float
    promo_coupon_prob: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["format_version"] = FORMAT_VERSION
        out["generator"] = "shopscope.synth"
        out["bgnbd"]["time_unit"] = "days"
        out["bgnbd"]["mean_rate_per_day"] = self.bgnbd.mean_rate_per_day
        out["bgnbd"]["mean_dropout"] = self.bgnbd.mean_dropout
        out["gamma_gamma"]["mean_order_value"] = self.gamma_gamma.mean_order_value
        for name, probs in self.funnel.by_channel.items():
            out["funnel"]["by_channel"][name]["session_conversion"] = probs.session_conversion
        out["funnel"]["overall"]["session_conversion"] = self.funnel.overall.session_conversion
        return out

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> GroundTruth:
        """Load ``ground_truth.json`` back into typed objects."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        bg = {k: raw["bgnbd"][k] for k in ("r", "alpha", "a", "b")}
        gg = {k: raw["gamma_gamma"][k] for k in ("p", "q", "gamma")}
        step_keys = ("view_to_cart", "cart_to_checkout", "checkout_to_purchase")
        fun = raw["funnel"]
        funnel = FunnelTruth(
            steps=tuple(fun["steps"]), traffic_share=fun["traffic_share"],
            by_channel={k: StepProbs(**{s: v[s] for s in step_keys})
                        for k, v in fun["by_channel"].items()},
            overall=StepProbs(**{s: fun["overall"][s] for s in step_keys}),
        )
        dem = raw["demand"]
        simple = {k: raw[k] for k in (
            "seed", "start", "end", "days", "currency", "customers", "products",
            "anonymous_visitors", "tracking_fraction", "prospect_share",
            "return_prob_by_category", "cancel_prob", "sales_channel_probs", "coupon_rates",
            "welcome_coupon_prob", "promo_coupon_prob")}
        return cls(
            **simple, bgnbd=BGNBDParams(**bg), gamma_gamma=GammaGammaParams(**gg), funnel=funnel,
            channels=tuple(ChannelTruth(**c) for c in raw["channels"]),
            demand=DemandTruth(location=dem["location"], product_id=tuple(dem["product_id"]),
                               occurrence_prob=tuple(dem["occurrence_prob"]),
                               size_mean=tuple(dem["size_mean"])),
            inventory=InventoryTruth(**raw["inventory"]),
        )
