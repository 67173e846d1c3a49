"""The shadow challenger of a serving process: decides what the champion decided, after the answer, off the
request path and off the champion's CPU, and keeps its decisions in the shadow table.

With ``CREDIT_POINTS_SHADOW_MODEL_URI`` set, each new audit row's applicant is handed to
:class:`ShadowRunner` once its row is committed. The runner owns one child process per serving worker,
started with the ``spawn`` method, which loads the shadow's decision service (the same factory as the
champion's, pointed at the shadow URI) and decides the applicants in batches at the operating system's
idle priority (``SCHED_IDLE``, or ``nice 19`` where that is not available): it runs only on CPU the
workers leave free, so a shadow cannot slow an answer. The child never touches the audit database: it sends
its decisions back, and a thread of the worker stores them with :class:`~credit_points.audit.shadow.ShadowStore`
at the worker's priority (a starved idle-priority process holding a database lock would stall the
champion's own audit writes).

Nothing here can change an answer, an audit row, a latency figure or readiness: handing work over never
blocks (a full queue drops the item and counts it as ``dropped``, which is what happens when the service
runs saturated for long: the shadow then samples the traffic rather than competing with it), a shadow that
cannot load or decide is counted and logged, and the request is long answered by the time the shadow
decides.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from credit_points.api.metrics import ApiMetrics
from credit_points.api.settings import ApiSettings
from credit_points.audit.store import AuditStore

log = logging.getLogger("credit_points.api.shadow")

#: items the child decides in one call at most (short bursts, between quiet checks)
_BATCH = 128
#: seconds between attempts to load a shadow that failed to load
_RETRY_S = 30.0
#: the storing thread writes what the shadow decided once this many rows or seconds have gathered: one
#: write transaction a second at most, however many requests, so the shadow adds next to nothing to the
#: audit database's write lock
_FLUSH_ROWS = 1_000
_FLUSH_S = 1.0
#: seconds the child waits for work before checking that its worker is still alive
_POLL_S = 1.0

_SPAWN = multiprocessing.get_context("spawn")


@dataclass
class ShadowRunner:
    """One worker's shadow: a bounded queue into an idle-priority child process that decides, and the
    thread that stores what it decided."""

    settings: ApiSettings
    store: AuditStore
    metrics: ApiMetrics
    capacity: int = 10_000
    _inbox: Any = field(default=None, init=False)  # multiprocessing queue of (decision id, applicant) | None
    _outbox: Any = field(default=None, init=False)  # multiprocessing queue of the child's messages
    _process: Any = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _identity: dict[str, str] | None = field(default=None, init=False)
    _shadows: Any = field(default=None, init=False)  # audit.shadow.ShadowStore, once rows arrive
    _handed: int = field(default=0, init=False)
    _settled: int = field(default=0, init=False)
    state: str = field(default="starting", init=False)

    @property
    def uri(self) -> str | None:
        return self.settings.shadow_model_uri

    def start(self) -> None:
        """Start the child and the storing thread (once); start-up never waits for the shadow's model."""
        if self._process is not None:
            return
        self._inbox = _SPAWN.Queue(maxsize=self.capacity)
        self._outbox = _SPAWN.Queue()
        self._process = _SPAWN.Process(
            target=_child_main,
            args=(self.settings, self._inbox, self._outbox, os.getpid()),
            name="credit-points-shadow",
            daemon=True,
        )
        self._process.start()
        self._thread = threading.Thread(target=self._collect, name="shadow-store", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the child to finish what is queued and stop; a shadow never holds a shutdown for long."""
        if self._process is None:
            return
        with contextlib.suppress(queue.Full, ValueError, OSError):
            self._inbox.put(None, timeout=timeout_s)
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(1.0)
        if self._thread is not None:
            self._thread.join(timeout_s)
        for q in (self._inbox, self._outbox):
            q.cancel_join_thread()
            q.close()

    def submit(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Hand over new decisions (never blocks: a full queue drops the rest and counts them)."""
        for item in items:
            try:
                self._inbox.put_nowait(item)
                self._handed += 1
            except (queue.Full, ValueError, OSError):  # full, or closed at shutdown
                self.metrics.shadow.labels("dropped").inc()

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/model`` shows of the shadow."""
        queued = max(self._handed - self._settled, 0)
        return {"uri": self.uri, "state": self.state, **(self._identity or {}), "queued": queued}

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything handed over so far is decided and stored (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._settled >= self._handed:
                return True
            time.sleep(0.02)
        return False

    # ---------------------------------------------------------------- the storing thread
    def _collect(self) -> None:
        pending: list[dict[str, Any]] = []
        due = 0.0
        while True:
            wait = _POLL_S if not pending else max(due - time.monotonic(), 0.0)
            try:
                message = self._outbox.get(timeout=wait)
            except queue.Empty:
                if pending:
                    self._store(pending)
                    pending = []
                elif self._process is not None and not self._process.is_alive():
                    self.state = f"stopped (exit code {self._process.exitcode})"
                    return
                continue
            except (EOFError, OSError, ValueError):
                self._store(pending)
                return
            kind = message[0]
            if kind == "state":
                self.state, identity = message[1], message[2]
                if identity is not None:
                    self._identity = identity
            elif kind == "rows":
                if not pending:
                    due = time.monotonic() + _FLUSH_S
                pending.extend(message[1])
                if len(pending) >= _FLUSH_ROWS:
                    self._store(pending)
                    pending = []
            elif kind == "exit":
                self._store(pending)
                return

    def _store(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # rows without a decision id are a batch the shadow could not load for: counted, not stored
        storable = [r for r in rows if "decision_id" in r]
        try:
            if storable:
                if self._shadows is None:
                    from credit_points.audit.shadow import ShadowStore

                    shadows = ShadowStore(self.store)
                    shadows.create_schema()
                    self._shadows = shadows
                if self._identity is None:
                    raise RuntimeError("the shadow sent decisions before its identity")
                self._shadows.append(self._identity, storable)
        except Exception as exc:  # noqa: BLE001 - a shadow failure is counted and logged, never raised
            self.metrics.shadow.labels("failed").inc(len(storable))
            log.warning("shadow %s: %s decision(s) not stored: %s: %s", self.uri, len(storable),
                        type(exc).__name__, exc)  # fmt: skip
        else:
            for row in storable:
                self.metrics.shadow.labels("failed" if row.get("error") else "decided").inc()
        finally:
            if len(rows) > len(storable):
                self.metrics.shadow.labels("failed").inc(len(rows) - len(storable))
            self._settled += len(rows)


# -------------------------------------------------------------------- the child process
def _yield_cpu(idle: bool) -> str:
    """Lower this process's CPU priority: ``SCHED_IDLE`` (runs only on CPU nobody else wants) where the OS
    has it and ``idle`` is asked for, else nice 19 (a small share beside normal processes)."""
    if idle:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "SCHED_IDLE"
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19 - os.nice(0))
        return "nice 19"
    return "normal"


def cpu_times() -> tuple[int, int] | None:
    """``(idle, total)`` clock ticks of all the machine's CPUs since boot (``/proc/stat``; idle includes
    I/O wait), or ``None`` where the OS has no such file."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu" or len(fields) < 5:
        return None
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal (guest is in user)
    return ticks[3] + ticks[4], sum(ticks)


@dataclass
class QuietGate:
    """Holds the shadow back while the machine is busy: :meth:`wait` returns once the share of the
    machine's CPU time spent busy over ``sample_s`` is at most ``max_busy`` (``1`` never waits).

    A process that is runnable, even at idle priority, still slows the workers on virtual machines (the
    answers' throughput fell by a quarter with a shadow starved of CPU but ready to run, on 2 vCPUs); a
    process that sleeps costs nothing. So the shadow sleeps while the workers keep the CPUs busy and
    decides in the gaps; under a load that never lets up it decides nothing, its queue fills and the
    excess is counted as dropped (``audit shadow`` decides it later from the audit log).
    """

    max_busy: float
    sample_s: float = 0.1
    pause_s: float = 0.25
    read: Callable[[], tuple[int, int] | None] = cpu_times
    sleep: Callable[[float], None] = time.sleep

    def busy(self) -> float | None:
        """The machine's busy share over the next ``sample_s`` (``None`` when it cannot be read)."""
        first = self.read()
        if first is None:
            return None
        self.sleep(self.sample_s)
        second = self.read()
        if second is None:
            return None
        total = second[1] - first[1]
        return 0.0 if total <= 0 else 1.0 - (second[0] - first[0]) / total

    def wait(self, on_wait: Callable[[], None] | None = None) -> None:
        """Return when the machine is quiet enough (at once with ``max_busy`` 1 or no ``/proc/stat``)."""
        if self.max_busy >= 1.0:
            return
        waited = False
        while True:
            busy = self.busy()
            if busy is None or busy <= self.max_busy:
                return
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            self.sleep(self.pause_s)


def _child_main(settings: ApiSettings, inbox: Any, outbox: Any, parent_pid: int) -> None:
    """Load the shadow (at normal priority, once the machine is quiet), then decide what the worker hands
    over, in batches, at idle priority and only while the machine is quiet, until told to stop or the
    worker is gone."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gate = QuietGate(settings.shadow_max_cpu_busy)
    decider = _Decider(settings, outbox)

    def waiting() -> None:
        outbox.put(("state", "waiting for spare CPU", None))

    gate.wait(waiting)
    with contextlib.suppress(Exception):
        decider.load()  # at normal priority: a few seconds of one core, once
    # behind the quiet gate the shadow only fills gaps: idle priority. Without it (1) it must keep up with
    # the traffic on a busy machine, where an idle-priority process may not run for minutes: nice 19
    priority = _yield_cpu(idle=settings.shadow_max_cpu_busy < 1.0)
    log.info("shadow %s: deciding at %s priority", settings.shadow_model_uri, priority)
    while True:
        try:
            first = inbox.get(timeout=_POLL_S)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return
            continue
        if first is None:
            break
        gate.wait()
        batch, stop = [first], False
        while len(batch) < _BATCH:
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
        outbox.put(("rows", decider.decide(batch)))
        if stop:
            break
    outbox.put(("exit",))
    outbox.close()
    outbox.join_thread()


@dataclass
class _Decider:
    """The child's decision service, loaded once (retried after a failure) and used batch by batch."""

    settings: ApiSettings
    outbox: Any
    _service: Any = None
    _failed_at: float = 0.0
    _failure: str = ""

    def load(self) -> Any:
        if self._service is not None:
            return self._service
        if self._failed_at and time.monotonic() - self._failed_at < _RETRY_S:
            raise RuntimeError(f"the shadow model could not be loaded ({self._failure})")
        from credit_points.api.service import load_service

        self.outbox.put(("state", "loading", None))
        settings = self.settings.model_copy(update={"model_uri": self.settings.shadow_model_uri})
        try:
            service = load_service(settings, settings.service_factory)
            ok, reason = service.ready()
        except Exception as exc:  # noqa: BLE001 - reported as the shadow's state
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            self._failed_at, self._failure = time.monotonic(), reason
            self.outbox.put(("state", f"unavailable: {reason}", None))
            raise RuntimeError(reason)
        card = service.model_card()
        identity = {
            "name": str(card.get("name", "")),
            "version": str(service.model_version()),
            "artifact_hash": str(card.get("artifact_hash", "")),
        }
        self._warm_up(service)
        self.outbox.put(("state", "ready", identity))
        self._service = service
        return service

    @staticmethod
    def _warm_up(service: Any) -> None:
        """Decide one example applicant while still at normal priority: the first call's imports and
        caches are paid now, not by a first batch at idle priority on a busy machine."""
        cheap = getattr(service, "shadow_parts", None)
        if not callable(cheap):
            return
        from credit_points.datasets.record import example_applicant

        with contextlib.suppress(Exception):  # an example from a zone this model does not know still warms
            cheap([example_applicant()])

    def decide(self, batch: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """One row per item: the shadow's parts, or its error (a batch that cannot load is all errors)."""
        from credit_points.audit.shadow import record_parts

        try:
            service = self.load()
        except Exception as exc:  # noqa: BLE001 - counted as failed by the worker, never raised
            log.warning("shadow %s: %s decision(s) not recorded: %s: %s", self.settings.shadow_model_uri,
                        len(batch), type(exc).__name__, exc)  # fmt: skip
            return [{"error": f"{type(exc).__name__}: {exc}"[:500]} for _ in batch]
        # a service that can decide the shadow's parts alone (the engine's, without explanations) is asked
        # for them; any other decision service gives its full records, and the parts are read from them
        cheap = getattr(service, "shadow_parts", None)

        def parts(applicants: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if callable(cheap):
                return list(cheap(applicants))
            return [record_parts(r) for r in service.decide(applicants)]

        try:
            decided = parts([applicant for _, applicant in batch])
            return [{"decision_id": did, **p} for (did, _), p in zip(batch, decided, strict=True)]
        except Exception:  # noqa: BLE001 - decide each alone: one applicant's error is its own row
            rows = []
            for did, applicant in batch:
                try:
                    rows.append({"decision_id": did, **parts([applicant])[0]})
                except Exception as exc:  # noqa: BLE001
                    rows.append({"decision_id": did, "error": f"{type(exc).__name__}: {exc}"[:500]})
            return rows
