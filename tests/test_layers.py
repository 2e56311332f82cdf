"""The layer rules of STYLE.md ("Layout sketch"), checked on the import graph (grimp, the
graph library behind import-linter).

- the platform (schema, ingest, store, synth) imports no area, no ui, no app or CLI;
- core imports no area and no ui; ui imports no area (it reaches areas through the registry);
- an area uses another area only through its facade (``shopscope.<area>``) or its service;
- adapters (``http*``, ``pages*``, ``commands*`` modules of an area) never import each other;
- only ``shopscope.store`` imports an engine (duckdb, pyspark).

Known violations are listed in ``KNOWN`` with the reason; the list is strict: when one is
fixed its entry must go, so the list only shrinks.
"""

from __future__ import annotations

import grimp
import pytest

from shopscope.core.registry import areas

AREAS = {a.name for a in areas()}
PLATFORM = {"schema", "ingest", "store", "synth"}
ADAPTERS = ("http", "pages", "commands")
ENGINES = {"duckdb", "pyspark"}

#: (rule, importer, imported): why it is still there.
KNOWN: dict[tuple[str, str, str], str] = {
    # adapters that still reach into other adapters (the service layer replaces them)
}


def _part(module: str, i: int) -> str:
    parts = module.split(".")
    return parts[i] if len(parts) > i else ""


def _is_adapter(module: str) -> bool:
    return _part(module, 1) in AREAS and _part(module, 2).startswith(ADAPTERS)


def violations() -> set[tuple[str, str, str]]:
    graph = grimp.build_graph("shopscope", include_external_packages=True)
    found: set[tuple[str, str, str]] = set()
    for module in graph.modules:
        if not module.startswith("shopscope."):
            continue
        src = _part(module, 1)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] in ENGINES and src != "store":
                found.add(("engine", module, imported))
            if not imported.startswith("shopscope."):
                continue
            dst = _part(imported, 1)
            if src in PLATFORM and dst in AREAS | {"ui", "core", "app", "cli"}:
                found.add(("platform-up", module, imported))
            if src == "core" and dst in AREAS | {"ui"}:
                found.add(("core-up", module, imported))
            if src == "ui" and dst in AREAS:
                found.add(("ui-area", module, imported))
            if (src in AREAS and dst in AREAS and src != dst
                    and imported not in (f"shopscope.{dst}", f"shopscope.{dst}.service")):
                found.add(("cross-area", module, imported))
            if _is_adapter(module) and _is_adapter(imported):
                found.add(("adapter-adapter", module, imported))
    return found


@pytest.fixture(scope="module")
def found() -> set[tuple[str, str, str]]:
    return violations()


def test_no_new_layer_violations(found: set[tuple[str, str, str]]) -> None:
    new = sorted(found - KNOWN.keys())
    assert not new, "imports that break the layer rules:\n" + "\n".join(map(str, new))


def test_known_violations_are_still_there(found: set[tuple[str, str, str]]) -> None:
    fixed = sorted(KNOWN.keys() - found)
    assert not fixed, "fixed, remove from KNOWN:\n" + "\n".join(map(str, fixed))


def test_rules_catch_a_violation() -> None:
    # The checker itself: an adapter importing another adapter is reported.
    assert _is_adapter("shopscope.behaviour.pages")
    assert _is_adapter("shopscope.customers.http_audiences")
    assert not _is_adapter("shopscope.behaviour.funnels")
    assert not _is_adapter("shopscope.ui.routes")


def test_every_area_is_a_package_with_its_adapters() -> None:
    import importlib

    for area in areas():
        assert area.package == f"shopscope.{area.name}"
        importlib.import_module(area.package)
        for ref in (*area.api, *area.pages, *(ref for _, ref in area.commands)):
            module = ref.partition(":")[0]
            assert module.startswith(area.package + "."), (area.name, ref)
