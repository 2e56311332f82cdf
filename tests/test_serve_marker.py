"""``serve`` leaves no ``serve.json`` behind when it is stopped with SIGTERM (a service
manager's stop, ``kill``), and readers ignore a marker whose process is gone (issue 13)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from shopscope.store.workspace import SERVE_FILE, serving


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_sigterm_removes_the_marker(workspace):
    path = workspace.path
    workspace.close()  # the server opens the store itself
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shopscope.cli", "serve", "-w", str(path),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    marker = path / SERVE_FILE
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                            timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "no /api/health in 120 s"
                time.sleep(0.5)
        assert json.loads(marker.read_text())["pid"] == proc.pid
        assert serving(path) == {"pid": proc.pid, "url": f"http://127.0.0.1:{port}/"}
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not marker.exists(), proc.stdout.read()
    assert proc.returncode == 128 + signal.SIGTERM  # still says it ended by SIGTERM


def test_a_marker_of_a_dead_process_is_ignored(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)  # exited and reaped: no process has this pid now (or soon)
    (tmp_path / SERVE_FILE).write_text(json.dumps({"pid": dead, "url": "http://x/"}))
    try:
        os.kill(dead, 0)
    except ProcessLookupError:
        assert serving(tmp_path) is None
    else:  # pragma: no cover - the pid was reused in between
        pytest.skip("the pid was reused")
    (tmp_path / SERVE_FILE).write_text(json.dumps({"pid": os.getpid(), "url": "http://x/"}))
    assert serving(tmp_path) == {"pid": os.getpid(), "url": "http://x/"}
