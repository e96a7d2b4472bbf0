"""Caches of rendered responses: a per-worker LRU; a shared Redis twin comes with scale-out."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

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
    """Values trusted for a few seconds per worker; clear() forgets everything at once."""

    def __init__(self, seconds: float, max_entries: int = 10000) -> None:
        self._seconds = seconds
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def set(self, key: K, value: V) -> None:
        if self._seconds <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._seconds, value)

    def clear(self) -> None:
        self._entries.clear()
