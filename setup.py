"""Build hook: compile the gettext catalogues (``.po`` -> ``.mo``) when the package is built.

Everything else about the package is in pyproject.toml. A wheel (``pip install .``) gets the
``.mo`` files in its build directory; an editable install (``pip install -e .``) gets them
next to the ``.po`` files in the source tree (git-ignored). Without them (a plain source
checkout on PYTHONPATH) shopscope.core.i18n compiles the ``.po`` in memory at first use.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE = Path("shopscope", "core", "i18n", "locale")


class BuildPyWithCatalogues(build_py):
    """build_py, then each ``.po`` compiled to its ``.mo``."""

    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        out = Path("src") if self.editable_mode else Path(self.build_lib)
        for po in sorted(Path("src", LOCALE).glob("*/LC_MESSAGES/*.po")):
            mo = out / po.relative_to("src").with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as src, mo.open("wb") as dst:
                catalog = read_po(src)
                if catalog.fuzzy:
                    raise SystemExit(f"{po}: the catalogue header is fuzzy; fix it first")
                write_mo(dst, catalog)
            self.announce(f"compiled {po} -> {mo}", level=2)


setup(cmdclass={"build_py": BuildPyWithCatalogues})
