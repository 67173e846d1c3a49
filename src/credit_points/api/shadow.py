"""The shadow challenger of a serving process: decides what the champion decided, after the answer, off the
request path, and keeps its decisions in the shadow table.

With ``CREDIT_POINTS_SHADOW_MODEL_URI`` set, each new audit row's applicant is handed to
:class:`ShadowRunner` once its row is committed: a bounded queue and one background thread, which loads
the shadow's decision service (the same factory as the champion's, pointed at the shadow URI) on first use
and stores what it decides with :class:`~credit_points.audit.shadow.ShadowStore`. Nothing here can change an
answer, an audit row, a latency figure or readiness: handing work over never blocks (a full queue drops it
and counts the drop), a shadow that cannot load or decide is counted and logged, and the request is long
answered by the time the shadow decides.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from credit_points.api.metrics import ApiMetrics
from credit_points.api.settings import ApiSettings
from credit_points.audit.store import AuditStore

log = logging.getLogger("credit_points.api.shadow")

#: items the thread decides in one call at most
_BATCH = 256
#: seconds between attempts to load a shadow that failed to load
_RETRY_S = 30.0


@dataclass
class ShadowRunner:
    """One process's shadow: a queue of (decision id, applicant) and the thread that decides them."""

    settings: ApiSettings
    store: AuditStore
    metrics: ApiMetrics
    capacity: int = 10_000
    _queue: queue.Queue[tuple[str, dict[str, Any]] | None] = field(init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _service: Any = field(default=None, init=False)
    _identity: dict[str, str] | None = field(default=None, init=False)
    _shadows: Any = field(default=None, init=False)  # audit.shadow.ShadowStore, once the model loaded
    _failed_at: float = field(default=0.0, init=False)
    state: str = field(default="starting", init=False)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(maxsize=self.capacity)

    @property
    def uri(self) -> str | None:
        return self.settings.shadow_model_uri

    def start(self) -> None:
        """Start the thread (once); the model is loaded by the thread, so start-up never waits for it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="shadow-challenger", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to finish what is queued and stop (a shadow never holds a shutdown for long)."""
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout_s)
            self._thread.join(timeout_s)

    def submit(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Hand over new decisions (never blocks: a full queue drops the rest and counts them)."""
        for item in items:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.metrics.shadow.labels("dropped").inc()

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/model`` shows of the shadow."""
        return {"uri": self.uri, "state": self.state, **(self._identity or {}), "queued": self._queue.qsize()}

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything handed over so far is decided and stored (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    # ---------------------------------------------------------------- the thread
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            stop = False
            while len(batch) < _BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                self._decide(batch)
            except Exception as exc:  # noqa: BLE001 - a shadow failure is counted and logged, never raised
                self.metrics.shadow.labels("failed").inc(len(batch))
                log.warning("shadow %s: %s decision(s) not recorded: %s: %s", self.uri, len(batch),
                            type(exc).__name__, exc)  # fmt: skip
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _load(self) -> Any:
        if self._service is not None:
            return self._service
        if self._failed_at and time.monotonic() - self._failed_at < _RETRY_S:
            raise RuntimeError(f"the shadow model could not be loaded ({self.state})")
        from credit_points.api.service import load_service

        settings = self.settings.model_copy(update={"model_uri": self.uri})
        service = load_service(settings, settings.service_factory)
        ok, reason = service.ready()
        if not ok:
            self._failed_at = time.monotonic()
            self.state = f"unavailable: {reason}"
            raise RuntimeError(self.state)
        card = service.model_card()
        self._identity = {
            "name": str(card.get("name", "")),
            "version": str(service.model_version()),
            "artifact_hash": str(card.get("artifact_hash", "")),
        }
        from credit_points.audit.shadow import ShadowStore

        self._shadows = ShadowStore(self.store)
        self._shadows.create_schema()
        self._service, self.state = service, "ready"
        return service

    def _decide(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        from credit_points.audit.shadow import record_parts

        service = self._load()
        ids = [did for did, _ in batch]
        applicants = [applicant for _, applicant in batch]
        rows: list[dict[str, Any]] = []
        try:
            records = service.decide(applicants)
            rows = [{"decision_id": did, **record_parts(r)} for did, r in zip(ids, records, strict=True)]
        except Exception:  # noqa: BLE001 - decide each alone: one applicant's error is its own row
            for did, applicant in batch:
                try:
                    rows.append({"decision_id": did, **record_parts(service.decide([applicant])[0])})
                except Exception as exc:  # noqa: BLE001
                    rows.append({"decision_id": did, "error": f"{type(exc).__name__}: {exc}"[:500]})
        assert self._identity is not None
        self._shadows.append(self._identity, rows)
        for row in rows:
            self.metrics.shadow.labels("failed" if row.get("error") else "decided").inc()
