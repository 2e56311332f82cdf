"""The engine libraries installed here lie inside the ranges pyproject.toml declares.

The ranges are what CI proves (docs/engines.md, "Versions"): the lower bound is the version
the project was built on, the upper bound excludes the first release seen failing. A test
run on versions outside them would prove nothing about the declared ranges, so it fails
here, and the versions tested are printed (``pytest -s`` or ``-rA`` shows them).
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# the libraries whose behaviour the store relies on (SQL shape, result types)
ENGINE_LIBS = ("ibis-framework", "sqlglot", "duckdb", "pyspark")


def _declared() -> dict[str, list[Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    found: dict[str, list[Requirement]] = {}
    for line in lines:
        req = Requirement(line)
        if req.name in ENGINE_LIBS:
            found.setdefault(req.name, []).append(req)
    return found


def test_engine_libraries_are_ranges_with_an_upper_bound() -> None:
    declared = _declared()
    assert {"ibis-framework", "sqlglot", "duckdb"} <= set(declared)
    for name, reqs in declared.items():
        for req in reqs:
            ops = {spec.operator for spec in req.specifier}
            assert "==" not in ops, f"{name} is pinned ({req}); declare the range CI proves"
            assert ">=" in ops and "<" in ops, f"{name}: {req} needs a lower and upper bound"


@pytest.mark.parametrize("name", ENGINE_LIBS)
def test_installed_version_is_inside_the_declared_range(name: str) -> None:
    try:
        installed = version(name)
    except PackageNotFoundError:
        if name == "pyspark":
            pytest.skip("pyspark (extra [spark]) is not installed")
        raise
    print(f"{name} {installed}")
    for req in _declared()[name]:
        assert req.specifier.contains(installed, prereleases=True), (
            f"{name} {installed} is outside {req}: the tests here do not prove that range; "
            f"install a version inside it (pip install '{req}')")
