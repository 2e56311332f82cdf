"""ruff over the whole checkout with the rule set in pyproject.toml (``[tool.ruff.lint]``):
a new violation, or a ``noqa`` that no longer suppresses anything (RUF100), fails CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: it is in the test extra (pip install -e '.[test]')")
    out = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise",
                          "src", "tests", "bench", "scripts"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
