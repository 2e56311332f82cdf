"""What every analytics function takes: something that hands out canonical tables."""

from __future__ import annotations

from typing import Protocol

import ibis.expr.types as ir


class TableSource(Protocol):
    """Anything that hands out canonical tables by name (a :class:`~shopscope.store.Store`)."""

    def table(self, name: str) -> ir.Table: ...
