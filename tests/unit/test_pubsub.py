"""The Redis broker while Redis does not answer: live updates stay local, at the cost of one try a second."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis

from parlour.infra.pubsub import RedisBroker
from tests.conftest import run_async


def test_a_dead_redis_is_tried_once_a_second_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0")
    tries: list[Any] = []

    def refuse(*args: Any) -> None:
        tries.append(args)
        raise redis.ConnectionError("refused")

    broker._publisher.publish = refuse  # type: ignore[method-assign]

    async def publish_and_receive() -> list[dict[str, Any]]:
        async with broker.subscribe("thread") as queue:
            for n in range(50):
                broker.publish("thread", {"n": n})
            return [await asyncio.wait_for(queue.get(), 5) for _ in range(50)]

    with caplog.at_level(logging.WARNING):
        received = run_async(publish_and_receive)  # a browser test's Playwright may hold this thread's loop
    assert [m["n"] for m in received] == list(range(50))  # this worker's readers hear everything
    assert len(tries) == 1  # one timeout per outage period, not one per publish
    assert len([r for r in caplog.records if "Redis pub/sub unavailable" in r.getMessage()]) == 1
