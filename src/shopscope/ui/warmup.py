"""Warm-up after a load: recompute every page's default view in the background.

A load changes the store's data version, which empties the served app's result cache (its
keys start with the version). Without help the first visitor of each page then waits for
every query of that page: 22 s for the overview and 60 s for paths at 35M events. The
:class:`Warmup` of an :class:`~shopscope.ui.deps.AppState` runs the areas' warmers
(:attr:`shopscope.core.registry.Area.warm`) in registry order on one background thread
whenever the version changes, so those views are cached before anyone asks.

- One thread at most. A newer version while it runs makes it start over once the current
  step is done; results of the steps already done are keyed by the old version anyway.
- Each step (one warmer) runs under the store lock and lets go of it before the next:
  visitors' queries wait for one step at most, and cache hits never wait.
- A failing warmer is logged and reported; the others still run.
- Loads by another process are noticed by polling ``data_version()`` (cheap: it skips
  while a query holds the store) every :data:`WATCH_SECONDS`, once :meth:`Warmup.enable`
  has been called (the app's lifespan does; apps without one never warm by themselves).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from shopscope.core.registry import resolve, warmers

if TYPE_CHECKING:
    from shopscope.ui.deps import AppState
    from shopscope.ui.i18n import Translator

log = logging.getLogger(__name__)

#: How often the served app looks for loads made by other processes (e.g. the CLI).
WATCH_SECONDS = 5.0

StepStatus = Literal["pending", "running", "done", "failed", "cancelled"]


class WarmupStep(BaseModel):
    """One warmer of one run."""

    model_config = ConfigDict(frozen=True)

    area: str
    warmer: str
    status: StepStatus = "pending"
    seconds: float | None = None
    error: str | None = None


class WarmupStatus(BaseModel):
    """Where the warm-up stands (``GET /api/data/warmup``).

    ``state``: ``idle`` (none has run), ``running``, ``done`` (every step ran; some may have
    failed, see ``errors``) or ``cancelled`` (stopped at shutdown). ``step`` is the 1-based
    number of the step running (None when not running); ``done`` counts finished steps,
    failed ones included.
    """

    model_config = ConfigDict(frozen=True)

    state: Literal["idle", "running", "done", "cancelled"] = "idle"
    data_version: str | None = None
    runs: int = 0
    area: str | None = None
    step: int | None = None
    total: int = 0
    done: int = 0
    errors: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    seconds: float | None = None
    steps: list[WarmupStep] = []


class Warmup:
    """The background warm-up of one served workspace (see the module's docstring)."""

    def __init__(self, state: AppState, freeze: bool = False) -> None:
        self._state = state
        self.freeze = freeze  # the server process: freeze_heap() after each run
        #: ``(area, "module:function")`` pairs to run; None: the registry's
        self.steps: tuple[tuple[str, str], ...] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._asked = 0  # requests so far; the thread runs until it has served the last
        self._status = WarmupStatus()
        self.enabled = False

    # -- control -----------------------------------------------------------------------
    def enable(self, watch: float | None = WATCH_SECONDS) -> None:
        """Warm now, again after every change of the data version, and poll for loads of
        other processes every ``watch`` seconds (None: do not poll)."""
        self.enabled = True
        self._stop.clear()
        self.start()
        if watch and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, args=(watch,),
                                             name="shopscope-warmup-watch", daemon=True)
            self._watcher.start()

    def data_changed(self) -> None:
        """Called by the app when it sees a new data version: warm, if enabled."""
        if self.enabled:
            self.start()

    def start(self) -> bool:
        """Ask for a warm-up of the current data. Starts the thread and returns True, or
        returns False when one is running: it starts over after its current step."""
        with self._lock:
            self._asked += 1
            if self._thread is not None:
                return False
            self._thread = threading.Thread(target=self._run, name="shopscope-warmup",
                                            daemon=True)
            self._thread.start()
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step (and stop polling); wait up to ``timeout`` s."""
        self.enabled = False
        self._stop.set()
        for thread in (self._thread, self._watcher):
            if thread is not None:
                thread.join(timeout)
        self._watcher = None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no warm-up runs; False on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._thread is None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def status(self) -> WarmupStatus:
        return self._status

    # -- the thread ----------------------------------------------------------------------
    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self._state.data_version()  # a new version calls data_changed()
            except Exception:  # a closed store at shutdown: keep polling until stopped
                log.debug("warm-up: version check failed", exc_info=True)

    def _run(self) -> None:
        served = 0
        while True:
            with self._lock:
                if self._asked == served or self._stop.is_set():
                    self._thread = None
                    return
                served = self._asked
            self._run_once(served)

    def _superseded(self, asked: int) -> bool:
        return self._asked != asked or self._stop.is_set()

    def _run_once(self, asked: int) -> None:
        plan = self.steps if self.steps is not None else warmers()
        steps = [WarmupStep(area=a, warmer=ref) for a, ref in plan]
        began = time.monotonic()
        status = WarmupStatus(state="running", runs=self._status.runs + 1, total=len(steps),
                              started_at=dt.datetime.now(dt.UTC), steps=steps)
        self._status = status
        try:
            version = self._state.data_version()
        except Exception as exc:  # reported; the next load tries again
            log.warning("warm-up: cannot read the data version: %s", exc, exc_info=True)
            version = None
        status = status.model_copy(update={"data_version": version})
        for i, (area, ref) in enumerate(plan):
            if self._superseded(asked):
                steps[i:] = [s.model_copy(update={"status": "cancelled"}) for s in steps[i:]]
                self._status = status.model_copy(update={
                    "state": "cancelled", "steps": list(steps), "area": None, "step": None,
                    "finished_at": dt.datetime.now(dt.UTC),
                    "seconds": time.monotonic() - began})
                return
            steps[i] = steps[i].model_copy(update={"status": "running"})
            status = status.model_copy(update={"area": area, "step": i + 1,
                                               "steps": list(steps)})
            self._status = status
            t0 = time.monotonic()
            try:
                # one step under the store lock: warmers, like pages, touch the store outside
                # ``cached`` too (source probes, expression building), and the engine's
                # connection is not safe across threads. Cache hits never wait for it.
                with self._state.lock:
                    resolve(ref)(self._state)
            except Exception as exc:  # one broken view must not stop the others
                log.warning("warm-up: %s failed", ref, exc_info=True)
                steps[i] = steps[i].model_copy(update={
                    "status": "failed", "seconds": time.monotonic() - t0,
                    "error": f"{type(exc).__name__}: {exc}"})
            else:
                steps[i] = steps[i].model_copy(update={"status": "done",
                                                       "seconds": time.monotonic() - t0})
            status = status.model_copy(update={
                "steps": list(steps), "done": i + 1,
                "errors": sum(s.status == "failed" for s in steps)})
            self._status = status
        if self.freeze:
            freeze_heap()
        self._status = status.model_copy(update={
            "state": "done", "area": None, "step": None,
            "finished_at": dt.datetime.now(dt.UTC), "seconds": time.monotonic() - began})


def freeze_heap() -> None:
    """Exempt what the server holds after a warm-up (modules, caches) from the cyclic
    garbage collector's full passes. Without this, a full pass walks ~300k objects and
    holds the GIL ~200 ms while it does; the uncached queries of one client trigger one
    every few requests, and every cached answer due meanwhile waits (p99 of a cached
    endpoint 200-450 ms at 400 rps beside a client running path queries). Unfreezing
    first lets this pass (one per load) free the cycles of the previous data version's
    caches."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def page_view(t: Translator, status: WarmupStatus) -> dict | None:
    """The data page's line about the warm-up (None before the first one)."""
    if status.state == "idle":
        return None
    failed = [f"{s.area}: {s.warmer} ({s.error})" for s in status.steps if s.status == "failed"]
    if status.state == "running":
        text = t.plural("warmup.running", status.total, done=t.count(status.done),
                        total=t.count(status.total))
    elif status.state == "cancelled":
        text = t("warmup.cancelled")
    else:
        text = t.plural("warmup.done", status.total, total=t.count(status.total),
                        time=t.duration(status.seconds))
    return {"state": status.state, "text": text, "failed": failed,
            "failed_label": t.plural("warmup.failed", len(failed), n=t.count(len(failed)))}
