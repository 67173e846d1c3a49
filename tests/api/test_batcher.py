"""The micro-batcher: concurrent requests share one call, each gets its own outcome, nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from credit_points.api.batcher import MicroBatcher


class Recorder:
    """A batch function that squares numbers, refuses negatives, and remembers every batch it saw."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay_s = delay_s

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        await asyncio.sleep(self.delay_s)
        return [ValueError(f"negative: {i}") if i < 0 else i * i for i in items]


def submit_while_busy(batcher: MicroBatcher, first: int, rest: Sequence[int]) -> list[object]:
    """Submit ``first``, then ``rest`` while its batch runs; every outcome (results or exceptions), in order."""

    async def main() -> list[object]:
        head = asyncio.ensure_future(batcher.submit(first))
        await asyncio.sleep(0.005)  # the first batch is running now
        tail = [asyncio.ensure_future(batcher.submit(i)) for i in rest]
        return await asyncio.gather(head, *tail, return_exceptions=True)

    return asyncio.run(main())


def test_a_lone_request_is_answered_at_once_in_a_batch_of_one() -> None:
    # a batcher that would wait an hour for company: an idle service must not wait at all
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch=32, max_wait_s=3600.0)

    async def one() -> int:
        submitted = asyncio.ensure_future(batcher.submit(7))
        for _ in range(20):  # a few turns of the event loop, no clock
            await asyncio.sleep(0)
        assert recorder.batches == [[7]], "the lone request waited for company"
        return await submitted

    assert asyncio.run(one()) == 49


def test_requests_that_queue_while_a_batch_runs_share_the_next_call() -> None:
    recorder = Recorder(delay_s=0.05)
    batcher = MicroBatcher(recorder, max_batch=32, max_wait_s=0.0)
    assert submit_while_busy(batcher, 1, range(2, 12)) == [i * i for i in range(1, 12)]
    assert recorder.batches == [[1], list(range(2, 12))]
    assert batcher.batches == 2 and batcher.items == 11


def test_batches_never_exceed_max_batch_and_keep_arrival_order() -> None:
    recorder = Recorder(delay_s=0.02)
    batcher = MicroBatcher(recorder, max_batch=4, max_wait_s=0.0)
    assert submit_while_busy(batcher, 0, range(1, 11)) == [i * i for i in range(11)]
    assert recorder.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_one_bad_item_fails_alone() -> None:
    recorder = Recorder(delay_s=0.02)
    batcher = MicroBatcher(recorder, max_batch=8, max_wait_s=0.0)
    results = submit_while_busy(batcher, 1, (2, -3, 4))
    assert results[:2] == [1, 4] and results[3] == 16
    assert isinstance(results[2], ValueError) and "negative: -3" in str(results[2])


def test_a_failing_batch_function_fails_every_item_of_that_batch_only() -> None:
    calls: list[list[int]] = []

    async def flaky(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        await asyncio.sleep(0.02)
        if len(calls) == 2:
            raise RuntimeError("engine broke")
        return list(items)

    batcher = MicroBatcher(flaky, max_batch=8, max_wait_s=0.0)

    first, two, three = submit_while_busy(batcher, 1, (2, 3))
    four = asyncio.run(batcher.submit(4))  # the batcher keeps working afterwards
    assert first == 1 and four == 4
    assert all(isinstance(r, RuntimeError) and "engine broke" in str(r) for r in (two, three))


def test_a_wrong_number_of_outcomes_is_an_error_for_every_item() -> None:
    async def nothing(items: Sequence[int]) -> list[int | BaseException]:
        return []

    batcher = MicroBatcher(nothing, max_batch=8)
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        asyncio.run(batcher.submit(1))


def test_a_batch_waits_for_announced_arrivals_but_not_past_max_wait() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch=8, max_wait_s=3600.0)

    async def main() -> list[int]:
        # two requests are announced (being read and validated); one submits now, one a few turns later
        early, late = batcher.arrive(), batcher.arrive()
        first = asyncio.ensure_future(batcher.submit(1, early))
        for _ in range(20):
            await asyncio.sleep(0)
        assert recorder.batches == []  # the batch waits for the announced request ...
        second = asyncio.ensure_future(batcher.submit(2, late))
        results = await asyncio.wait_for(asyncio.gather(first, second), 60)  # a guard against a hang
        return list(results)

    # ... and starts as soon as it is queued, not after max_wait_s (an hour here)
    assert asyncio.run(main()) == [1, 4] and recorder.batches == [[1, 2]]

    # an announced request that never submits (refused at the door) holds a batch for max_wait_s only
    recorder2 = Recorder()
    patient = MicroBatcher(recorder2, max_batch=8, max_wait_s=0.1)

    async def abandoned() -> int:
        patient.arrive()  # never closed, never submitted
        submitted = asyncio.ensure_future(patient.submit(3))
        for _ in range(20):
            await asyncio.sleep(0)
        assert recorder2.batches == []  # still waiting for the announced one
        return await submitted

    assert asyncio.run(abandoned()) == 9 and recorder2.batches == [[3]]


def test_closing_an_arrival_twice_counts_once() -> None:
    batcher = MicroBatcher(Recorder(), max_batch=8)
    arrival = batcher.arrive()
    arrival.close()
    arrival.close()
    assert batcher._arriving == 0
