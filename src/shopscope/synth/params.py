"""Parameters of the synthetic shop: the ground truth the generator draws from.

Every number here ends up in ``ground_truth.json``; nothing else steers the draws. The
defaults describe a mid-sized European online shop; change them by building a new
:class:`SynthConfig` with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shopscope.errors import ShopscopeError


class SynthError(ShopscopeError, ValueError):
    """An impossible generator parameter (a negative rate, probabilities that do not sum to 1)."""

    exit_code = 2


def _check(ok: bool, message: str, hint: str) -> None:
    if not ok:
        raise SynthError(message, hint=hint)


def _check_prob(name: str, value: float, *, open_low: bool = False) -> None:
    low_ok = value > 0 if open_low else value >= 0
    _check(low_ok and value <= 1, f"{name} must be a probability, got {value!r}",
           "use a number in [0, 1]" if not open_low else "use a number in (0, 1]")


@dataclass(frozen=True)
class BGNBDParams:
    """Purchase and dropout process of known customers (Fader, Hardie & Lee 2005a).

    Each customer buys at rate ``lambda ~ Gamma(shape=r, rate=alpha)`` per day while alive
    and drops out after each *repeat* purchase with probability ``p ~ Beta(a, b)``.
    """

    r: float = 0.75
    alpha: float = 60.0
    a: float = 0.8
    b: float = 3.0

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            _check(value > 0 and math.isfinite(value), f"bgnbd.{name} must be > 0, got {value!r}",
                   "BG/NBD parameters are positive shape/rate numbers")

    @property
    def mean_rate_per_day(self) -> float:
        """E[lambda] = r / alpha."""
        return self.r / self.alpha

    @property
    def mean_dropout(self) -> float:
        """E[p] = a / (a + b)."""
        return self.a / (self.a + self.b)


@dataclass(frozen=True)
class GammaGammaParams:
    """Order value of known customers (Fader, Hardie & Lee 2005b).

    Each customer has ``nu ~ Gamma(shape=q, rate=gamma)``; each of their orders is worth
    ``z ~ Gamma(shape=p, rate=nu)``, so ``E[z] = p * gamma / (q - 1)``.
    """

    p: float = 6.25
    q: float = 3.74
    gamma: float = 15.44

    def __post_init__(self) -> None:
        _check(self.p > 0 and self.gamma > 0, "gamma_gamma.p and gamma must be > 0",
               f"got p={self.p!r}, gamma={self.gamma!r}")
        _check(self.q > 1, f"gamma_gamma.q must be > 1 for a finite mean, got {self.q!r}",
               "typical fitted values are 2-5")

    @property
    def mean_order_value(self) -> float:
        """E[z] = p * gamma / (q - 1)."""
        return self.p * self.gamma / (self.q - 1)


@dataclass(frozen=True)
class Campaign:
    """A campaign of a paid channel and its share of that channel's spend and traffic."""

    campaign_id: str
    weight: float = 1.0


@dataclass(frozen=True)
class ChannelSpec:
    """A marketing/traffic channel.

    Parameters
    ----------
    name
        Channel name; used for ``customers.signup_channel`` and ``marketing_spend.channel``.
    acquisition_share
        Expected share of all new customers acquired through this channel.
    cac
        For paid channels: currency spent per *spend-driven* acquisition, i.e. the true
        effect is ``1 / cac`` new customers per unit of spend. ``None`` for unpaid channels.
    base_share
        Share of a paid channel's acquisitions that arrive regardless of spend (the
        intercept of acquisitions on spend).
    budget_per_customer
        Spend with no acquisition effect (e.g. e-mail tools), as a total per customer of the
        shop; only used when ``cac`` is ``None``.
    traffic_share, view_to_cart
        Share of web/app sessions arriving through the channel and its probability that a
        session goes from viewing to adding to the cart.
    source, medium, campaigns
        What the events and orders carry for sessions from this channel.
    cpm, ctr
        Cost per thousand impressions and click-through rate, for impressions and clicks.
    flighted
        Whether spend comes in on/off flights of four weeks rather than every day.
    """

    name: str
    acquisition_share: float
    cac: float | None = None
    base_share: float = 0.15
    budget_per_customer: float = 0.0
    traffic_share: float = 0.0
    view_to_cart: float = 0.08
    source: str = ""
    medium: str = ""
    campaigns: tuple[Campaign, ...] = ()
    cpm: float = 5.0
    ctr: float = 0.01
    flighted: bool = False

    def __post_init__(self) -> None:
        _check_prob(f"{self.name}.acquisition_share", self.acquisition_share)
        _check_prob(f"{self.name}.traffic_share", self.traffic_share)
        _check_prob(f"{self.name}.view_to_cart", self.view_to_cart)
        _check_prob(f"{self.name}.base_share", self.base_share)
        _check(self.cac is None or self.cac > 0, f"{self.name}.cac must be > 0 or None",
               "cac is the cost of one spend-driven acquisition")
        _check(self.budget_per_customer >= 0, f"{self.name}.budget_per_customer must be >= 0",
               "use 0 for a channel with no spend")
        _check(self.cpm > 0 and 0 < self.ctr <= 1, f"{self.name}: cpm must be > 0, ctr in (0, 1]",
               f"got cpm={self.cpm!r}, ctr={self.ctr!r}")

    @property
    def paid(self) -> bool:
        return self.cac is not None or self.budget_per_customer > 0

    @property
    def acquisitions_per_unit_spend(self) -> float:
        """The true channel effect: new customers per unit of spend."""
        return 0.0 if self.cac is None else 1.0 / self.cac


def _campaigns(*pairs: tuple[str, float]) -> tuple[Campaign, ...]:
    return tuple(Campaign(c, w) for c, w in pairs)


DEFAULT_CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("organic_search", 0.20, traffic_share=0.28, view_to_cart=0.09,
                source="google", medium="organic"),
    ChannelSpec("direct", 0.14, traffic_share=0.18, view_to_cart=0.11,
                source="(direct)", medium="(none)"),
    ChannelSpec("referral", 0.06, traffic_share=0.05, view_to_cart=0.08,
                source="partner-blog", medium="referral"),
    ChannelSpec("paid_search", 0.24, cac=25.0, traffic_share=0.17, view_to_cart=0.10,
                source="google", medium="cpc",
                campaigns=_campaigns(("PS-BRAND", 0.3), ("PS-GENERIC", 0.7)), cpm=9.0, ctr=0.04),
    ChannelSpec("paid_social", 0.16, cac=40.0, traffic_share=0.12, view_to_cart=0.05,
                source="facebook", medium="paid_social",
                campaigns=_campaigns(("SOC-PROSPECTING", 1.0)), cpm=6.0, ctr=0.01,
                flighted=True),
    ChannelSpec("display", 0.08, cac=70.0, traffic_share=0.06, view_to_cart=0.04,
                source="dsp", medium="display",
                campaigns=_campaigns(("DSP-AWARENESS", 1.0)), cpm=2.5, ctr=0.003, flighted=True),
    ChannelSpec("affiliate", 0.12, cac=30.0, traffic_share=0.06, view_to_cart=0.08,
                source="cashback-site", medium="affiliate",
                campaigns=_campaigns(("AFF-CASHBACK", 1.0)), cpm=1.5, ctr=0.006),
    ChannelSpec("email", 0.0, budget_per_customer=0.5, traffic_share=0.08, view_to_cart=0.14,
                source="newsletter", medium="email",
                campaigns=_campaigns(("EMAIL-NEWSLETTER", 1.0)), cpm=0.8, ctr=0.03),
)


@dataclass(frozen=True)
class CategorySpec:
    """A product category: price level, how often its lines are returned, catalogue weight."""

    name: str
    price_median: float
    price_sigma: float
    return_prob: float
    weight: float

    def __post_init__(self) -> None:
        _check(self.price_median > 0 and self.price_sigma >= 0 and self.weight > 0,
               f"category {self.name!r}: price_median and weight must be > 0",
               "price_sigma is the log-normal sigma of list prices")
        _check_prob(f"{self.name}.return_prob", self.return_prob)


DEFAULT_CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("apparel", 35.0, 0.5, 0.12, 0.25),
    CategorySpec("shoes", 60.0, 0.4, 0.10, 0.10),
    CategorySpec("electronics", 80.0, 0.9, 0.05, 0.10),
    CategorySpec("home", 30.0, 0.7, 0.04, 0.15),
    CategorySpec("beauty", 18.0, 0.5, 0.03, 0.15),
    CategorySpec("sports", 40.0, 0.6, 0.05, 0.10),
    CategorySpec("toys", 22.0, 0.6, 0.04, 0.08),
    CategorySpec("books", 12.0, 0.4, 0.02, 0.07),
)

DEFAULT_REGIONS: tuple[tuple[str, str, float], ...] = (
    # (country, region, share of customers)
    ("GB", "England", 0.42), ("GB", "Scotland", 0.04), ("GB", "Wales", 0.025),
    ("GB", "Northern Ireland", 0.015),
    ("DE", "Bavaria", 0.045), ("DE", "Berlin", 0.04), ("DE", "Hesse", 0.03),
    ("DE", "Hamburg", 0.035),
    ("FR", "Ile-de-France", 0.05), ("FR", "Auvergne-Rhone-Alpes", 0.035),
    ("FR", "Occitanie", 0.035),
    ("NL", "North Holland", 0.04), ("NL", "South Holland", 0.04),
    ("IE", "Leinster", 0.03), ("IE", "Munster", 0.02),
    ("US", "California", 0.035), ("US", "New York", 0.035), ("US", "Texas", 0.03),
)


@dataclass(frozen=True)
class FunnelParams:
    """Steps of a web/app session after the per-channel view-to-cart step.

    A session reaches ``add_to_cart`` with its channel's ``view_to_cart`` probability, then
    ``checkout`` with ``cart_to_checkout`` and ``purchase`` with ``checkout_to_purchase``.
    """

    cart_to_checkout: float = 0.45
    checkout_to_purchase: float = 0.65
    extra_views_mean: float = 2.0
    search_prob: float = 0.3
    extra_carts_mean: float = 0.3
    remove_prob: float = 0.2
    seconds_between_events: float = 45.0

    def __post_init__(self) -> None:
        _check_prob("funnel.cart_to_checkout", self.cart_to_checkout, open_low=True)
        _check_prob("funnel.checkout_to_purchase", self.checkout_to_purchase, open_low=True)
        _check_prob("funnel.search_prob", self.search_prob)
        _check_prob("funnel.remove_prob", self.remove_prob)
        _check(min(self.extra_views_mean, self.extra_carts_mean) >= 0
               and self.seconds_between_events > 0,
               "funnel: event counts and gaps must be >= 0", "check the funnel parameters")


@dataclass(frozen=True)
class SynthConfig:
    """Everything the generator draws from, apart from sizes and the seed.

    Parameters
    ----------
    bgnbd, gamma_gamma
        Purchase process and order value of known customers.
    prospect_share
        Share of acquired customers who sign up but never buy.
    channels, funnel
        Marketing/traffic channels and the session funnel.
    categories, regions
        Catalogue categories and where customers live.
    sales_channels
        ``(orders.channel, probability)`` for known customers' orders; ``web`` and ``app``
        orders come from a tracked web/app session, ``store`` orders from a shop.
    stores
        Store ids for ``store`` orders.
    anonymous_visitors_per_customer
        Visitors who never sign up, per customer; their sessions can end in guest orders.
    anonymous_sessions_mean, anonymous_revisit_days
        Extra sessions per anonymous visitor (Poisson mean) and mean days between them.
    app_share
        Share of web/app sessions on the app.
    welcome_coupon_prob, promo_coupon_prob, coupons
        Coupon use on first orders (``WELCOME10``), later orders, and the promo codes with
        their discount rates.
    cancel_prob, pending_days, pending_prob
        Order cancellation probability; orders in the last ``pending_days`` are still
        pending with ``pending_prob``.
    free_shipping_over, shipping_fee
        Web/app shipping rule.
    zipf_exponent
        Product popularity ``~ 1 / rank**s``.
    marketplace_occurrence_beta, marketplace_size_gamma
        Croston truth of the marketplace channel: per product and day, demand occurs with
        probability ``pi ~ Beta(*beta)``; its size is ``1 + Poisson(m)`` with
        ``m ~ Gamma(shape, scale)``.
    lead_times, service_z, review_cover_days
        Reorder policy: lead-time choices per product, safety factor and cover.
    currency
        Currency of every amount.
    """

    bgnbd: BGNBDParams = field(default_factory=BGNBDParams)
    gamma_gamma: GammaGammaParams = field(default_factory=GammaGammaParams)
    prospect_share: float = 0.25
    channels: tuple[ChannelSpec, ...] = DEFAULT_CHANNELS
    funnel: FunnelParams = field(default_factory=FunnelParams)
    categories: tuple[CategorySpec, ...] = DEFAULT_CATEGORIES
    regions: tuple[tuple[str, str, float], ...] = DEFAULT_REGIONS
    sales_channels: tuple[tuple[str, float], ...] = (("web", 0.55), ("app", 0.30),
                                                     ("store", 0.15))
    stores: tuple[str, ...] = ("S01", "S02", "S03", "S04")
    anonymous_visitors_per_customer: float = 10.0
    anonymous_sessions_mean: float = 0.6
    anonymous_revisit_days: float = 10.0
    app_share: float = 0.35
    welcome_coupon_prob: float = 0.3
    promo_coupon_prob: float = 0.12
    coupons: tuple[tuple[str, float], ...] = (("SPRING15", 0.15), ("SUMMER20", 0.20),
                                              ("VIP10", 0.10))
    cancel_prob: float = 0.03
    pending_days: float = 2.0
    pending_prob: float = 0.5
    free_shipping_over: float = 50.0
    shipping_fee: float = 3.95
    zipf_exponent: float = 1.0
    marketplace_occurrence_beta: tuple[float, float] = (0.5, 15.0)
    marketplace_size_gamma: tuple[float, float] = (1.5, 0.7)
    lead_times: tuple[int, ...] = (3, 5, 7, 10, 14)
    service_z: float = 1.65
    review_cover_days: float = 14.0
    currency: str = "GBP"

    def __post_init__(self) -> None:
        _check_prob("prospect_share", self.prospect_share)
        _check(self.prospect_share < 1, "prospect_share must be < 1", "someone has to buy")
        names = [c.name for c in self.channels]
        _check(len(set(names)) == len(names), f"duplicate channel names: {names}",
               "give every channel a distinct name")
        for what, total in (
            ("acquisition_share", sum(c.acquisition_share for c in self.channels)),
            ("traffic_share", sum(c.traffic_share for c in self.channels)),
            ("sales_channels", sum(p for _, p in self.sales_channels)),
            ("regions", sum(w for *_, w in self.regions)),
        ):
            _check(abs(total - 1) < 1e-6, f"{what} must sum to 1, got {total:.6f}",
                   "rescale the shares so they add up to 1")
        _check(sum(c.traffic_share * c.view_to_cart for c in self.channels) > 0,
               "no session can convert: every channel with traffic has view_to_cart 0",
               "give at least one channel with traffic a positive view_to_cart")
        for name, _ in self.sales_channels:
            _check(name in ("web", "app", "store"), f"unknown sales channel {name!r}",
                   "known customers' orders are 'web', 'app' or 'store'")
        _check(bool(self.stores), "stores must not be empty", "give at least one store id")
        for name in ("anonymous_visitors_per_customer", "anonymous_sessions_mean",
                     "anonymous_revisit_days", "free_shipping_over", "shipping_fee",
                     "review_cover_days", "service_z"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0", "use a non-negative number")
        for name in ("app_share", "welcome_coupon_prob", "promo_coupon_prob", "cancel_prob",
                     "pending_prob"):
            _check_prob(name, getattr(self, name))
        for code, rate in self.coupons:
            _check_prob(f"coupon {code} rate", rate)
        _check(bool(self.coupons), "coupons must not be empty", "give at least one promo code")
        _check(all(lt >= 1 for lt in self.lead_times) and bool(self.lead_times),
               "lead_times must be >= 1 day", "use whole days")
        _check(min(self.marketplace_occurrence_beta + self.marketplace_size_gamma) > 0,
               "marketplace Beta/Gamma parameters must be > 0", "use positive numbers")

    def channel(self, name: str) -> ChannelSpec:
        for spec in self.channels:
            if spec.name == name:
                return spec
        raise SynthError(f"unknown channel {name!r}",
                         hint=f"channels are: {', '.join(c.name for c in self.channels)}")
