"""The README is executable: every command of its Tour block runs, in order, on a fresh
folder, and so does its Python snippet.

The commands run from a temporary folder laid out like the top of the repository (the
files the tour names are linked in), with ``shopscope`` from this interpreter's
environment. A command fails the test on a non-zero exit, a traceback, an internal error
or a mixed-currency warning. CDNOW is not shipped (its licence is for research use): it is
copied from ../shared/data; without that folder the CDNOW commands are skipped, except in CI
(``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: What the tour reads from the repository, linked into the temporary folder.
SHIPPED = ("src/shopscope/samples/online_retail_sample.csv.gz", "examples")
CDNOW = SHARED_DATA / "cdnow" / "CDNOW_master.txt.gz"
BAD_OUTPUT = ("Traceback (most recent call last)", "internal error:",
              "warning: mixed currencies")


def tour_commands(text: str) -> list[str]:
    """The commands of the ```bash block under "## Tour", in order (comments, blank lines
    and the venv activation left out)."""
    section = text.split("\n## Tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no ```bash block under ## Tour"
    out = []
    for line in block.group(1).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ". ")):
            continue
        out.append(line)
    return out


def python_snippet(text: str) -> str:
    section = text.split("\n## Tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"From Python:\s*```python\n(.*?)```", section, re.S)
    assert block, "README: no ```python block after 'From Python:' in the Tour"
    return block.group(1)


def _layout(tmp: Path) -> Path:
    for rel in SHIPPED:
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(ROOT / rel)
    return tmp


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # the shopscope of this interpreter first; the checkout's sources importable
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT),
                                                      env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    env.pop("SHOPSCOPE_DEBUG", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Start the server on a free port, wait for /api/health, stop it."""
    port = _free_port()
    proc = subprocess.Popen([*shlex.split(command.split("#")[0]), "--port", str(port)],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"{command!r} exited early:\n{proc.stdout.read()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                            timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{command!r}: no /api/health in 120 s"
                time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cdnow_available(tmp: Path) -> bool:
    if CDNOW.exists():
        shutil.copy(CDNOW, tmp / CDNOW.name)
        return True
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the README's CDNOW commands, but {CDNOW} is missing")
    return False


def test_tour_block_is_found_and_needs_only_shipped_files():
    commands = tour_commands(README.read_text(encoding="utf-8"))
    assert commands[0].startswith("shopscope init shop ")
    assert any(c.startswith("shopscope serve") for c in commands)
    # every path the tour names exists in the repository (CDNOW aside) or is made before
    made: set[str] = set()
    for command in commands:
        words = shlex.split(command.split(" #")[0])
        for word in words:
            if word.startswith(("src/", "examples/")) or word.endswith(
                    (".csv", ".json", ".gz", ".toml")):
                if word.startswith(("CDNOW", "-")) or word in made:
                    continue
                if (ROOT / word).exists():
                    continue
                # outputs: --out, --output, --export name files the tour writes
                i = words.index(word)
                assert i and words[i - 1] in ("--out", "--output", "--export"), (
                    f"README tour names {word!r}, which the repository does not ship")
                made.add(word)


def test_readme_tour_runs_in_order(tmp_path):
    cwd = _layout(tmp_path)
    env = _env()
    has_cdnow = _cdnow_available(cwd)
    skipped, ran = [], 0
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    for command in tour_commands(README.read_text(encoding="utf-8")):
        if "cdnow" in command.lower() and not has_cdnow:
            skipped.append(command)
            continue
        if command.startswith("shopscope serve"):
            _serve(command, cwd, env)
            ran += 1
            continue
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, text=True,
                              capture_output=True, timeout=600,
                              # `user add` reads the password from piped stdin
                              input="tour-password-123\n")
        said = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{command!r} exited {proc.returncode}:\n{said[-3000:]}"
        for bad in BAD_OUTPUT:
            assert bad not in " ".join(said.split()), f"{command!r} printed {bad!r}:\n{said}"
        ran += 1
        print(f"{time.monotonic() - started:6.1f} s  {command}")
    assert ran >= 25
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # wall time depends on the machine's load; CPU time of the commands does not
    print(f"tour: {time.monotonic() - began:.0f} s wall, "
          f"{after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime:.0f} s CPU")
    if skipped:
        print(f"skipped without {CDNOW}: {skipped}")
    # what the tour says it makes is there
    assert (cwd / "shop" / "report.html").exists() or (cwd / "report.html").exists()
    assert (cwd / "vip.csv").stat().st_size > 0


def test_readme_python_snippet_runs(tmp_path):
    cwd = _layout(tmp_path)
    code = python_snippet(README.read_text(encoding="utf-8"))
    # the last expression's value is printed, as a notebook would show it
    lines = code.rstrip().splitlines()
    lines[-1] = f"print({lines[-1].split('  #')[0]})"
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rate = float(proc.stdout.strip().splitlines()[-1])
    assert 0 < rate < 1  # a share of buyers
