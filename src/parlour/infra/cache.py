"""Caches of rendered responses: a per-worker LRU, and pages shared in Redis by every worker when configured."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from parlour.infra.outage import Outage

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ResponseCache(Protocol):
    def get(self, key: Hashable) -> bytes | None: ...

    def set(self, key: Hashable, value: bytes) -> None: ...


class MemoryCache:
    """A bounded LRU. Keys carry the story's version, so a write makes old entries unreachable at once."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def set(self, key: Hashable, value: bytes) -> None:
        if self._max == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class TtlCache(Generic[K, V]):
    """Values trusted for a few seconds per worker; clear() forgets everything at once.

    `clears` counts the clear() calls: a value read before a clear (take `clears` first, then read) is given to
    set() with `read_at`, and is not kept if a clear came in between.
    """

    def __init__(self, seconds: float, max_entries: int = 10000) -> None:
        self._seconds = seconds
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self.clears = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def set(self, key: K, value: V, *, read_at: int | None = None) -> None:
        if self._seconds <= 0 or (read_at is not None and read_at != self.clears):
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._seconds, value)

    def clear(self) -> None:
        self.clears += 1
        self._entries.clear()


PAGE_PREFIX = "parlour:page:"
# A page's key holds its story's version, so an entry is never wrong, only unused after the next write.
SHARED_PAGE_SECONDS = 600
SOCKET_TIMEOUT = 0.25


class OneAtATime(Generic[K, V]):
    """Blocking work run in a thread once per key at a time: callers arriving meanwhile await the same result.

    When a cached response expires under load, every reader would otherwise miss at the same moment and start the
    same query, and the last of them would wait for all the others on the worker's one core.
    """

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, work: Callable[[], V]) -> V:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(asyncio.to_thread(work))
            self._running[key] = running
            running.add_done_callback(lambda _done: self._running.pop(key, None))
        # Shielded: a reader who disconnects must not cancel the work the others are waiting for.
        return await asyncio.shield(running)


class SharedPages:
    """Rendered pages in Redis, so that one worker's rendering serves every worker.

    Asked only where the database would be asked otherwise (in a worker thread, on a miss of the worker's own
    cache): Redis never stands between a reader and a page the worker already holds. While Redis is away, each
    worker renders its own pages, as without Redis.
    """

    def __init__(
        self, url: str, *, namespace: str, seconds: int = SHARED_PAGE_SECONDS, client: redis.Redis | None = None
    ) -> None:
        # One Redis may serve several Parlour databases (staging and production, tests): pages of one are never
        # another's.
        self._prefix = f"{PAGE_PREFIX}{hashlib.blake2b(namespace.encode(), digest_size=8).hexdigest()}:"
        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        self._seconds = seconds
        self._outage = Outage(what="Redis page cache", fallback="each worker renders its own pages")
        self.hits = 0

    @property
    def degraded(self) -> bool:
        return self._outage.degraded

    def get_many(self, keys: list[Hashable]) -> list[bytes | None]:
        if not self._outage.should_try():
            return [None] * len(keys)
        try:
            found = cast("list[bytes | None]", self._redis.mget([self._redis_key(key) for key in keys]))
        except (redis.RedisError, OSError) as exc:
            self._outage.failed(exc)
            return [None] * len(keys)
        self._outage.answered()
        self.hits += sum(value is not None for value in found)
        return found

    def set_many(self, items: dict[Hashable, bytes]) -> None:
        if not self._outage.should_try():
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(self._redis_key(key), value, ex=self._seconds)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._outage.failed(exc)
            return
        self._outage.answered()

    def close(self) -> None:
        self._redis.close()

    def _redis_key(self, key: Hashable) -> str:
        return self._prefix + hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
