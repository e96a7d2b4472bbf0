"""How Redis clients of a worker live through an outage: fail once, work locally for a while, then try again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Outage:
    """Tracks whether a shared service answers.

    After a failure, callers skip it for `retry_seconds` (one timeout per outage period, never one per request),
    then try again; the first answer ends the outage. Each change is logged once.
    """

    def __init__(
        self, *, what: str, fallback: str, retry_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._what = what
        self._fallback = fallback
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._down_until: float | None = None  # None while the service answers
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        return self._down_until is not None

    def should_try(self) -> bool:
        down_until = self._down_until
        return down_until is None or self._clock() >= down_until

    def answered(self) -> None:
        if self._down_until is not None:
            with self._lock:
                if self._down_until is not None:
                    self._down_until = None
                    log.info("%s answers again", self._what)

    def failed(self, exc: Exception) -> None:
        with self._lock:
            if self._down_until is None:  # once per outage, not once per request
                log.warning("%s unavailable (%s: %s); %s", self._what, type(exc).__name__, exc, self._fallback)
            self._down_until = self._clock() + self._retry_seconds
