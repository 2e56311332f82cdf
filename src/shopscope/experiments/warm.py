"""The experiments area's warmer: the saved experiments' analyses, under the keys of the
list page and of each experiment's page without options (see ``shopscope.ui.warmup``)."""

from __future__ import annotations

from shopscope.experiments import service
from shopscope.experiments.service import WorkspaceContext


def experiments_page(ctx: WorkspaceContext) -> None:
    """``/experiments`` and ``/experiments/{id}``: each saved experiment analysed with its
    own multi-arm policy (one that cannot be analysed is skipped, as the list shows)."""
    service.overview(ctx)
