"""The shadow's quiet gate: it holds the shadow back while the machine's CPUs are busier than the setting,
from ``/proc/stat`` readings (checked against the kernel's uptime), and never waits when set to 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from credit_points.api.shadow import QuietGate, cpu_times


class _Clock:
    """Scripted ``/proc/stat`` readings and a recorded sleep."""

    def __init__(self, readings: list[tuple[int, int] | None]) -> None:
        self.readings = list(readings)
        self.slept: list[float] = []

    def read(self) -> tuple[int, int] | None:
        return self.readings.pop(0)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_busy_is_the_share_of_ticks_not_idle_between_two_readings() -> None:
    clock = _Clock([(100, 1000), (150, 1100)])
    gate = QuietGate(0.5, read=clock.read, sleep=clock.sleep, sample_s=0.1)
    assert gate.busy() == pytest.approx(0.5)
    assert clock.slept == [0.1]


def test_the_gate_waits_while_busy_and_says_so_once() -> None:
    # given readings whose windows are 90%, 80%, then 30% busy
    clock = _Clock([(0, 0), (10, 100), (10, 100), (30, 200), (30, 200), (100, 300)])
    told: list[str] = []
    gate = QuietGate(0.5, read=clock.read, sleep=clock.sleep, sample_s=0.1, pause_s=0.25)
    # when the shadow waits for a quiet machine
    gate.wait(lambda: told.append("waiting"))
    # then it sampled three windows, paused after each busy one, and reported the wait once
    assert clock.readings == []
    assert clock.slept == [0.1, 0.25, 0.1, 0.25, 0.1]
    assert told == ["waiting"]


def test_a_gate_of_one_or_without_readings_never_waits() -> None:
    clock = _Clock([])
    QuietGate(1.0, read=clock.read, sleep=clock.sleep).wait()
    assert clock.slept == []
    clock = _Clock([None])
    QuietGate(0.5, read=clock.read, sleep=clock.sleep).wait()
    assert clock.slept == []


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat")
def test_cpu_times_count_the_machines_ticks_since_boot() -> None:
    # the ticks of all CPUs since boot are about uptime x CPUs x ticks per second (an independent clock)
    idle, total = cpu_times()  # type: ignore[misc]
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    expected = uptime * os.cpu_count() * os.sysconf("SC_CLK_TCK")  # type: ignore[operator]
    assert 0 <= idle <= total
    assert total == pytest.approx(expected, rel=0.1)
    later = cpu_times()
    assert later is not None and later[1] >= total and later[0] >= idle
