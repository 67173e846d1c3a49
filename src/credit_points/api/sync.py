"""Every worker serves the same model: follow the newest published generation, report what is served.

A worker's sync thread wakes every ``model_sync_s`` seconds and

1. reads the newest generation (``audit.serving``); when it is newer than the worker's own and names
   another version, swaps that exact version in (``service.follow``: registry, or the verified local copy;
   the artifact hash must match what was published), so a reload made in one worker reaches all of them
   within about ``model_sync_s`` plus one model load;
2. writes its heartbeat (generation, version, state), which is also the worker's proof that the audit
   store takes writes: a refused heartbeat turns readiness 503 like a refused decision.

At its first round a worker either joins the newest generation (started under the same configured model
URI: a restarted worker serves what its siblings serve, not what the alias says now) or, when there is
none or the configured URI changed (a new deployment), publishes what it loaded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from credit_points.api.settings import ApiSettings
from credit_points.audit.serving import Generation, ServingStore
from credit_points.audit.store import AuditStore
from credit_points.exceptions import AuditError, ModelError

logger = logging.getLogger("credit_points.api")


def live_window(sync_s: float) -> float:
    """How recent a heartbeat must be for its worker to count as live (a model load may delay one)."""
    return max(5.0, 5 * sync_s)


class ModelSync:
    """One worker's sync thread (see the module docstring)."""

    def __init__(
        self, store: AuditStore, settings: ApiSettings, service: Any, on_store_failure: Callable[[], None]
    ) -> None:
        self.settings = settings
        self.service = service  # swaps happen inside it (``reload`` / ``follow``): one object for life
        self.on_store_failure = on_store_failure  # readiness turns 503 for a while
        self.serving = ServingStore(store)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = dt.datetime.now(dt.UTC).isoformat()
        self.generation = 0
        self.state = "serving"
        self.interval = settings.model_sync_s
        self._lock = threading.Lock()  # one round at a time (the thread's, or a reload's publish)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        """Create the tables, take the first round here (join the siblings' generation before the first
        decision), then keep following in a thread."""
        try:
            self.serving.create_schema()
        except AuditError as exc:
            logger.warning("model sync: %s", exc)
            self.on_store_failure()
        self.round()
        self._thread = threading.Thread(target=self._run, name="credit-points-model-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.round()

    def round(self) -> None:
        """Follow the newest generation if needed, then beat; store failures mark the store failing."""
        with self._lock:
            try:
                self._follow_latest()
            except AuditError as exc:
                logger.warning("model sync: %s", exc)
                self.on_store_failure()
            self._beat()

    def _follow_latest(self) -> None:
        latest = self.serving.latest()
        configured = self.settings.model_uri
        if self.generation == 0 and (latest is None or latest.configured_uri != configured):
            self._adopt(self._publish(requested_by="start-up"))
            return
        if latest is None or latest.generation <= self.generation:
            return
        target = latest.identity()
        if target != self.service.identity():
            self.state = f"loading generation {latest.generation}"
            self._beat()
            try:
                self.service.follow(target["name"], target["version"], target["artifact_hash"])
            except ModelError as exc:
                # keeps serving what it has; tried again next round, and the reload's answer shows it
                self.state = "follow_failed"
                logger.error(
                    "model sync: cannot serve generation %d (%s version %s): %s",
                    latest.generation,
                    target["name"],
                    target["version"],
                    exc,
                )
                return
            logger.info(
                "model sync: now serving %s version %s (generation %d)",
                target["name"],
                target["version"],
                latest.generation,
            )
        self._adopt(latest)

    def _adopt(self, generation: Generation) -> None:
        self.generation = generation.generation
        self.state = "serving"

    def _publish(self, *, requested_by: str) -> Generation:
        return self.serving.publish(
            self.service.identity(), configured_uri=self.settings.model_uri, requested_by=requested_by
        )

    def _beat(self) -> None:
        try:
            self.serving.beat(
                self.worker_id,
                generation=self.generation,
                identity=self.service.identity(),
                state=self.state,
                started_at=self.started_at,
            )
        except AuditError as exc:
            logger.warning("model sync: %s", exc)
            self.on_store_failure()

    # ------------------------------------------------------------------ reload
    def published(self, *, requested_by: str) -> Generation:
        """After this worker swapped a model in: publish it as the newest generation and beat at once.

        Raises:
            AuditError: the store refused; the caller swaps the old model back.
        """
        with self._lock:
            generation = self._publish(requested_by=requested_by)
            self._adopt(generation)
            self._beat()
        return generation

    def workers(self) -> list[dict[str, Any]]:
        """The live workers and what each serves (this one marked ``"self": true``)."""
        rows = self.serving.live_workers(live_window(self.interval))
        return [{**row, "self": row["worker_id"] == self.worker_id} for row in rows]

    async def converged(self, generation: int, timeout_s: float) -> tuple[bool, float, list[dict[str, Any]]]:
        """Wait until every live worker reports ``generation`` (or a newer one), at most ``timeout_s``.

        Returns (all swapped, seconds waited, the workers as last seen).
        """
        started = time.monotonic()
        while True:
            workers = await asyncio.to_thread(self.workers)
            done = all(w["generation"] >= generation for w in workers)
            waited = time.monotonic() - started
            if done or waited >= timeout_s:
                return done, waited, workers
            await asyncio.sleep(min(0.2, self.interval / 2))
