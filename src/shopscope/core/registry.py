"""The one registry of playbook areas: the app, the CLI and the navigation are built from it.

An area is a package (``shopscope.<area>``) with an ``area.py`` holding ``AREA = Area(...)``.
References to routers and commands are ``"module:attribute"`` strings, resolved only by the
adapter that needs them, so the CLI does not import FastAPI and the app does not import Typer.
Built-in areas are listed in :data:`BUILTIN_AREAS`; other packages can add areas through the
``shopscope.areas`` entry-point group (each entry point names a module with an ``AREA``),
the way Ibis finds its backends.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

#: The built-in areas, one line each, in navigation order of their first page.
BUILTIN_AREAS: tuple[str, ...] = (
    "shopscope.kpis.area",
    "shopscope.customers.area",
    "shopscope.products.area",
    "shopscope.demand.area",
    "shopscope.behaviour.area",
    "shopscope.experiments.area",
    "shopscope.data.area",
    "shopscope.marketing.area",
)
ENTRY_POINT_GROUP = "shopscope.areas"


@dataclass(frozen=True)
class NavItem:
    """One link of the top navigation.

    ``label`` is a translation key; the link is marked current when the page path equals
    ``href`` (``exact``) or starts with ``match`` (default: ``href``). Items of all areas are
    sorted by ``order``.
    """

    href: str
    label: str
    order: int
    match: str | None = None
    exact: bool = False

    def current(self, path: str) -> bool:
        if self.exact:
            return path == self.href
        return path.startswith(self.match or self.href)


@dataclass(frozen=True)
class Area:
    """A playbook area as the adapters see it.

    ``api`` and ``pages`` are FastAPI routers, ``commands`` maps a CLI group name to a Typer
    app (``shopscope <group> …``), ``top_commands`` a top-level command name to a function
    (``shopscope <name>``, registered with ``app.command(name)`` and listed in ``--help``
    after ``ingest``), each as a ``"module:attribute"`` reference. ``package`` is the area's
    package; its ``templates/`` directory (if any) joins the page templates. ``warm`` names
    functions ``f(ctx) -> None`` that compute the default views of the area's pages through
    its service, so that after a load the served app has them cached before the first visit
    (``shopscope.ui.warmup``).
    """

    name: str
    package: str
    api: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    commands: tuple[tuple[str, str], ...] = ()
    top_commands: tuple[tuple[str, str], ...] = ()
    nav: tuple[NavItem, ...] = field(default=())
    warm: tuple[str, ...] = ()

    @property
    def templates(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations))) / "templates"
        return folder if folder.is_dir() else None


def resolve(ref: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def areas() -> tuple[Area, ...]:
    """Every registered area: the built-in ones, then those of installed plug-ins."""
    modules = list(BUILTIN_AREAS)
    modules += [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)
                if ep.value not in modules]
    found: list[Area] = []
    for name in modules:
        area = importlib.import_module(name).AREA
        if not isinstance(area, Area):
            raise TypeError(f"{name}.AREA is {type(area).__name__}, expected core.registry.Area")
        if any(a.name == area.name for a in found):
            raise ValueError(f"two areas are named {area.name!r} ({name})")
        found.append(area)
    return tuple(found)


def warmers() -> tuple[tuple[str, str], ...]:
    """Every area's warmers as ``(area name, "module:function")``, in registry order."""
    return tuple((area.name, ref) for area in areas() for ref in area.warm)


def nav_items() -> list[NavItem]:
    """The navigation links of every area, in order."""
    return sorted((item for area in areas() for item in area.nav), key=lambda i: i.order)
