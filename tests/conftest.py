"""Shared fixtures: the engines every engine-parametrised test runs on, paths to the real
data sets, fresh workspaces.

Engines
-------
``engine`` (module-scoped) parametrises a test module over ``duckdb`` and ``pyspark``; the
Spark case carries the ``spark`` marker (``-m "not spark"`` leaves it out). Every Spark store
of the run shares one JVM (:func:`spark_session`, started once: it costs tens of seconds)
but gets a session of its own, so each module's temporary views stay its own.

Without pyspark or Java a user's machine skips the Spark cases; CI (env ``CI`` set) installs
the ``spark`` extra, so there a missing engine fails. The real data sets follow the same
rule (:func:`shared_file`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from shopscope.store import Store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPARK_URL = "pyspark://local[2]"
#: The engines of an engine-parametrised test, for ``pytest.mark.parametrize`` or fixtures.
ENGINES = ("duckdb", pytest.param("pyspark", marks=pytest.mark.spark))


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set and not empty), where nothing may skip for a
    missing engine or data set."""
    return bool(os.environ.get("CI"))


def unavailable(reason: str) -> None:
    """Skip for ``reason`` on a user's machine; fail in CI, which must have everything."""
    if in_ci():
        pytest.fail(f"{reason}, and CI must run this test (env CI is set)", pytrace=False)
    pytest.skip(reason)


def shared_file(*parts: str) -> Path:
    """A file from ../shared/data; skipped when it is missing, except in CI (fails there)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if not SHARED_DATA.is_dir():
            unavailable(f"real data not available: the folder {SHARED_DATA} is missing")
        unavailable(f"real data not available: {path} is missing")
    return path


# -- engines ------------------------------------------------------------------------------
def spark_missing() -> str | None:
    """Why Spark cannot run here (None when it can)."""
    if importlib.util.find_spec("pyspark") is None:
        return 'pyspark is not installed (pip install -e ".[spark]")'
    if shutil.which("java") is None:
        return "java is not on PATH (Spark needs Java 17)"
    return None


@functools.cache
def _root_spark():  # a pyspark.sql.SparkSession
    from pyspark.sql import SparkSession

    from shopscope.store import connect

    connect(SPARK_URL)  # the application's own session settings (UTC, partitions, warehouse)
    return SparkSession.builder.getOrCreate()


def shared_spark() -> object:
    """The test run's one Spark session (started on first use), or skip/fail without Spark."""
    reason = spark_missing()
    if reason:
        unavailable(reason)
    return _root_spark()


def open_store(engine: str) -> Store:
    """A new, empty store on ``engine``: DuckDB in memory, or a Spark session of its own on
    the run's one JVM (same settings, separate temporary views)."""
    import ibis

    from shopscope.store import Store, connect

    if engine == "duckdb":
        return connect("duckdb://")
    if engine == "pyspark":
        return Store(ibis.pyspark.connect(shared_spark().newSession()), SPARK_URL)
    raise ValueError(f"unknown test engine {engine!r}: use 'duckdb' or 'pyspark'")


@pytest.fixture(scope="session")
def spark_session():
    """The run's Spark session (skipped without Spark on a user's machine, failed in CI)."""
    return shared_spark()


@pytest.fixture(scope="module", params=ENGINES)
def engine(request) -> str:
    """Each engine in turn, for a module's store fixtures (``open_store(engine)``)."""
    if request.param == "pyspark":
        request.getfixturevalue("spark_session")
    return request.param


@pytest.fixture
def workspace(tmp_path):
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path / "ws")
    yield ws
    ws.close()


def api_client(app, user: str | None = None, password: str | None = None):
    """A TestClient over HTTPS (the session cookie is Secure), signed in as ``user`` when
    given, with the session's CSRF token set for requests that change something."""
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver")
    if user:
        r = c.post("/api/login", json={"username": user, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


#: Scripts that make reference data with other tools (e.g. ChannelAttribution, GPL, kept
#: out of the environment): run by hand, never imported by the doctest collection.
collect_ignore_glob = ["data/*"]
