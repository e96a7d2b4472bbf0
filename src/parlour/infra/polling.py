"""A background task on a worker's event loop that works through an outbox: at once while there is more, else
after a poll interval or when woken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PollingLoop:
    """Runs `step` until stopped. `step` returns how many items it took; a full batch means more may be waiting."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[int]],
        *,
        batch: int,
        poll_seconds: float,
        stop_grace_seconds: float,
    ) -> None:
        self.name = name
        self._step = step
        self._batch = batch
        self._poll_seconds = poll_seconds
        self._stop_grace_seconds = stop_grace_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the step in flight finish within the grace time; leases cover anything cut short."""
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, self._stop_grace_seconds)
        self._loop = None

    def wake(self) -> None:
        """Take the next step now instead of at the next poll; callable from any thread."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            taken = 0
            try:
                taken = await self._step()
            except Exception:
                # The loop must outlive a database outage; the next poll tries again.
                log.exception("%s failed; trying again in %s s", self.name, self._poll_seconds)
            if taken >= self._batch or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
