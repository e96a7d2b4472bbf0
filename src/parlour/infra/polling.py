"""A background task on a worker's event loop that works through an outbox: at once while there is more, else
after a poll interval or when woken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
# How long a stopping loop lets the step in flight finish before cancelling it (an SMTP server or a webhook
# receiver that accepts and never answers): uvicorn's 3 s for open requests, this, and the rest of the shutdown
# stay well inside systemd's TimeoutStopSec, so the port is never held unanswered while systemd waits to kill.
STOP_GRACE_SECONDS = 1.5
# After the cancel: a step that ignores it is left behind rather than waited for.
CANCEL_WAIT_SECONDS = 0.5


class PollingLoop:
    """Runs `step` until stopped. `step` returns how many items it took; a full batch means more may be waiting."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[int]],
        *,
        batch: int,
        poll_seconds: float,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
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
        """Let the step in flight finish within the grace time, then cancel it; leases cover anything cut short.

        A cancelled send was never recorded: its row keeps the lease it was claimed under (attempts counted, due
        again when the lease runs out), so another worker, or this one after a restart, sends it again.
        """
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        if task is not None:
            _done, pending = await asyncio.wait([task], timeout=self._stop_grace_seconds)
            if pending:
                log.warning("%s: the step in flight is cut short after %s s", self.name, self._stop_grace_seconds)
                task.cancel()
                await asyncio.wait([task], timeout=CANCEL_WAIT_SECONDS)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("%s ended with an error", self.name, exc_info=task.exception())
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
