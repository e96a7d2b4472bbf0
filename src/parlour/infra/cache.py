"""Caches of rendered responses: a per-worker LRU; a shared Redis twin comes with scale-out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Protocol


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
