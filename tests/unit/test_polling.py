"""The background loop shared by the mail sender and the webhook dispatcher."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from parlour.infra.polling import PollingLoop
from tests.conftest import run_async

LONG_POLL = 60.0  # never reached in these tests: only a wake or a full batch starts the next step


class Steps:
    """A step that takes what the test queues, in batches of at most `batch`."""

    def __init__(self, batch: int = 3) -> None:
        self.batch = batch
        self.waiting = 0
        self.calls = 0
        self.fail_next = False

    async def __call__(self) -> int:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database unavailable")
        taken = min(self.waiting, self.batch)
        self.waiting -= taken
        return taken


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def loop_for(steps: Steps) -> PollingLoop:
    return PollingLoop("test-loop", steps, batch=steps.batch, poll_seconds=LONG_POLL, stop_grace_seconds=1)


def test_a_full_batch_is_followed_at_once_and_a_short_one_waits_for_a_wake() -> None:
    async def scenario() -> None:
        steps = Steps()
        steps.waiting = 7  # 3 + 3 + 1
        polling = loop_for(steps)
        await polling.start()
        await settle()
        assert steps.waiting == 0 and steps.calls == 3
        steps.waiting = 2
        await settle()
        assert steps.calls == 3  # nothing looks until woken
        threading.Thread(target=polling.wake).start()  # from another thread, as request handlers do
        for _ in range(100):
            await asyncio.sleep(0.01)
            if steps.waiting == 0:
                break
        assert steps.waiting == 0 and steps.calls == 4
        await polling.stop()

    run_async(scenario)


def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        steps = Steps()
        steps.fail_next = True
        polling = loop_for(steps)
        await polling.start()
        await settle()
        steps.waiting = 1
        polling.wake()
        await settle()
        assert steps.waiting == 0
        await polling.stop()

    run_async(scenario)
    assert "test-loop failed" in caplog.text


def test_stop_lets_the_step_in_flight_finish_and_wake_after_stop_does_nothing() -> None:
    finished = []

    async def slow_step() -> int:
        await asyncio.sleep(0.05)
        finished.append(True)
        return 0

    async def scenario() -> None:
        polling = PollingLoop("slow", slow_step, batch=1, poll_seconds=LONG_POLL, stop_grace_seconds=1)
        await polling.start()
        await asyncio.sleep(0.01)
        await polling.stop()
        assert finished == [True]
        polling.wake()

    run_async(scenario)


def test_stop_cuts_a_hanging_step_short_after_the_grace() -> None:
    cancelled = []

    async def hanging_step() -> int:
        try:
            await asyncio.sleep(3600)  # a server that accepted and never answers
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return 0

    async def scenario() -> float:
        polling = PollingLoop("hung", hanging_step, batch=1, poll_seconds=LONG_POLL, stop_grace_seconds=0.2)
        await polling.start()
        await asyncio.sleep(0.01)
        started = time.monotonic()
        await polling.stop()
        return time.monotonic() - started

    took = run_async(scenario)
    assert cancelled == [True] and 0.2 <= took < 1.0
