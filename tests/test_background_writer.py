"""BackgroundWriter: rows reach the sink in order, memory stays bounded, and a sink's error reaches the caller."""

from __future__ import annotations

import threading
import time

import pytest

from geo2map.raster.background_writer import BackgroundWriter


def test_calls_run_in_order_in_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    with BackgroundWriter(lambda i, s: seen.append((i, threading.current_thread().name))) as sink:
        for i in range(50):
            sink(i, "x")
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"geo2map-write"}


def test_the_queue_is_bounded() -> None:
    """A slow sink holds the caller back: at most ``depth`` calls wait besides the running one."""
    gate = threading.Event()
    done: list[int] = []

    def sink(i: int) -> None:
        gate.wait()
        done.append(i)

    writer = BackgroundWriter(sink, depth=2)
    queued = threading.Thread(target=lambda: [writer(i) for i in range(6)])
    queued.start()
    time.sleep(0.3)
    assert queued.is_alive() and not done  # blocked: 1 running + 2 queued, the 4th call waits
    gate.set()
    queued.join(5)
    writer.close()
    assert done == list(range(6))


def test_a_sink_error_is_raised_in_the_caller() -> None:
    def sink(i: int) -> None:
        if i == 3:
            raise OSError("disk full")

    writer = BackgroundWriter(sink)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):
            writer(i)
            time.sleep(0.01)
    with pytest.raises(OSError, match="disk full"):
        writer.close()


def test_an_error_in_the_caller_stops_the_thread() -> None:
    calls: list[int] = []
    with pytest.raises(ValueError, match="blend failed"):
        with BackgroundWriter(calls.append) as writer:
            writer(1)
            raise ValueError("blend failed")
    assert not writer._thread.is_alive()
