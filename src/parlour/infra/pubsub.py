"""Fan-out of live-update messages to the readers' streams: in-process, or across workers through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import orjson
import redis
import redis.asyncio as aioredis

from parlour.infra.outage import Outage

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "parlour:live:"
QUEUE_SIZE = 100


class Broker(Protocol):
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send a message to every subscriber of the channel; callable from any thread, never raises."""

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
        """A queue that receives the channel's messages while the context is open."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MemoryBroker:
    """Subscribers in this process only: enough for one worker."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]]] = (
            defaultdict(set)
        )
        self._lock = threading.Lock()

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(channel, ()))
        for loop, queue in subscribers:
            with contextlib.suppress(RuntimeError):  # the loop closed while we were publishing
                loop.call_soon_threadsafe(_offer, queue, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers[channel].add(entry)
        try:
            yield queue
        finally:
            with self._lock:
                self._subscribers[channel].discard(entry)
                if not self._subscribers[channel]:
                    del self._subscribers[channel]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisBroker:
    """Publishes through Redis; one listener per worker hands messages to its local subscribers.

    When Redis is down, messages still reach this worker's readers (other workers' readers miss them until it is
    back), and the listener reconnects with backoff: live updates degrade, posting never fails.
    """

    def __init__(self, url: str) -> None:
        self._publisher = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._url = url
        # Logged once per outage, and Redis skipped for a second after a failure: a dead Redis costs one timeout
        # a second, not one (and a warning) per publish.
        self._outage = Outage(what="Redis pub/sub", fallback="live updates reach this worker's readers only")
        self._local = MemoryBroker()
        self._listener: asyncio.Task[None] | None = None

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        if not self._outage.should_try():
            self._local.publish(channel, message)
            return
        try:
            self._publisher.publish(CHANNEL_PREFIX + channel, orjson.dumps(message))
        except redis.RedisError as exc:
            self._outage.failed(exc)
            self._local.publish(channel, message)
        else:
            self._outage.answered()

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
        return self._local.subscribe(channel)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self._publisher.close()

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            started = time.monotonic()
            try:
                await self._listen()
            except (redis.RedisError, OSError) as exc:
                if time.monotonic() - started > 10:
                    delay = 0.5  # it had been working: start the backoff afresh
                log.warning("redis listener lost (%s); retrying in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(self._url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                async for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    channel = item["channel"].decode().removeprefix(CHANNEL_PREFIX)
                    self._local.publish(channel, orjson.loads(item["data"]))
        finally:
            await client.aclose()


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    # A reader too slow to drain 100 messages misses some; the next "changed" tells it to reload.
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(message)


def make_broker(redis_url: str | None) -> Broker:
    return RedisBroker(redis_url) if redis_url else MemoryBroker()
