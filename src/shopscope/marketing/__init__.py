"""Marketing: multi-touch attribution over aggregated customer paths (rule models, exact
Markov removal effects, Shapley values). The facade other areas may use.

Loaded lazily: registering the area (``area.py``) imports this package, and the CLI
should not pay for scipy.sparse on every command.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELS", "Journeys", "compare"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from shopscope.marketing import attribution

        return getattr(attribution, name)
    raise AttributeError(f"module 'shopscope.marketing' has no attribute {name!r}")
