"""Marketing: multi-touch attribution over aggregated customer paths (rule models, exact
Markov removal effects, Shapley values). The facade other areas may use."""

from shopscope.marketing.attribution import MODELS, Journeys, compare

__all__ = ["MODELS", "Journeys", "compare"]
