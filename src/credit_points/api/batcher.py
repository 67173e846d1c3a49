"""Micro-batching of concurrent single requests: one engine call and one audit commit for all that wait.

The decision engine is vectorised: deciding eight applicants together costs about what one costs (the
fixed cost of building frames, evaluating rules and writing records dominates a single row). Under load,
requests to ``POST /v1/decisions`` arrive while the worker is still busy with earlier ones; the
:class:`MicroBatcher` queues them and, as soon as the running batch is done, hands *everything that has
queued up* (at most ``max_batch``) to one call.

Before it takes the queue, a batch waits (at most ``max_wait_s``) for two kinds of request:

- those this process has already accepted and is still reading, authenticating and validating: the guard
  middleware announces each arriving decision request (:meth:`MicroBatcher.arrive`);
- as many as were in the service when the previous batch ended (that batch plus the queue): under
  steady load the callers answered by one batch send their next requests within a fraction of a
  millisecond, and deciding them with the queued ones halves the engine's cost per request. The
  expectation follows the load down at once (a batch that waited in vain sets it to what came), so a
  lone request on an idle service is decided at once.

One batch runs at a time per process, which is also what the engine wants (one LightGBM thread per worker
process).

The batch function returns one outcome per item, either a result or the exception for that item alone,
so one bad item never fails its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchFunction = Callable[[Sequence[T]], Awaitable[Sequence["R | BaseException"]]]


class MicroBatcher(Generic[T, R]):
    """Queue items; run them through ``function`` in batches of at most ``max_batch``, one batch at a time.

    Args:
        function: awaited with a batch of items; returns one outcome per item (the result, or an
            exception raised to that item's caller). If it raises, every item of the batch gets that
            exception. It runs on the event loop: it hands blocking work to threads itself.
        max_batch: the largest batch; 1 decides each request alone (batching off).
    """

    def __init__(self, function: BatchFunction[T, R], max_batch: int, max_wait_s: float = 0.002) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._function = function
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._arriving = 0
        self._expected = 1
        self._running = False
        self.batches = 0
        self.items = 0

    def arrive(self) -> Arrival:
        """Announce a request that will (probably) submit soon; close the arrival when it will not."""
        self._arriving += 1
        return Arrival(self)

    async def submit(self, item: T, arrival: Arrival | None = None) -> R:
        """The outcome of ``item`` once its batch has run (raises that item's exception)."""
        if arrival is not None:
            arrival.close()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _gather(self) -> None:
        """Let announced requests reach the queue (bounded by ``max_wait_s``) before a batch is taken."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        target = min(self._expected, self.max_batch)
        # always yield once: the answers of the batch that just ended go out before the next one takes the
        # interpreter, and requests the event loop has already read reach the queue
        await asyncio.sleep(0)
        spins = 0
        while len(self._queue) < self.max_batch and (self._arriving > 0 or len(self._queue) < target):
            if loop.time() >= deadline:
                break
            # a few bare yields let the event loop finish parsing what it has read; then short sleeps,
            # so that waiting on a request in a worker thread or on the network does not spin the CPU
            await asyncio.sleep(0 if spins < 8 else 0.0002)
            spins += 1
        self._expected = max(1, len(self._queue))

    async def _drain(self) -> None:
        try:
            while self._queue:
                if self.max_batch > 1:
                    await self._gather()
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                # a caller that went away (client disconnect) is still decided and recorded: the row is
                # the bank's record of a decision that was asked for, whether or not it was read
                await self._run([item for item, _ in batch], [future for _, future in batch])
        finally:
            self._running = False

    async def _run(self, items: list[T], futures: list[asyncio.Future[R]]) -> None:
        try:
            outcomes = await self._function(items)
            if len(outcomes) != len(items):
                raise RuntimeError(f"batch function returned {len(outcomes)} outcomes for {len(items)} items")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, never lost
            outcomes = [exc] * len(items)
            if not isinstance(exc, Exception):  # cancellation or exit: deliver, then let it propagate
                self._deliver(futures, outcomes)
                raise
        self._deliver(futures, outcomes)
        self.batches += 1
        self.items += len(items)
        # the answered callers may come straight back: expect them along with what queued meanwhile
        self._expected = len(items) + len(self._queue)

    @staticmethod
    def _deliver(futures: list[asyncio.Future[R]], outcomes: Sequence[R | BaseException]) -> None:
        for future, outcome in zip(futures, outcomes, strict=True):
            if future.done():  # the caller was cancelled
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


class Arrival:
    """A request announced to a :class:`MicroBatcher`; closed when it submits or ends (closing twice is fine)."""

    __slots__ = ("_batcher",)

    def __init__(self, batcher: MicroBatcher[Any, Any]) -> None:
        self._batcher: MicroBatcher[Any, Any] | None = batcher

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher._arriving -= 1
            self._batcher = None
