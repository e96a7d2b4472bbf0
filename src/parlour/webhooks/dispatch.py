"""The background sender each worker runs, and the subscriptions that queue deliveries for domain events."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable

import httpx

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.engine import connect as connect_database
from parlour.events import AuthorBanned, CommentModerated, CommentPosted, EventBus, StoryChanged
from parlour.infra.polling import PollingLoop
from parlour.settings import Settings
from parlour.webhooks.addresses import Resolver, resolve
from parlour.webhooks.queue import Claimed, claim_due, enqueue, enqueue_in, record_attempt
from parlour.webhooks.retry import DeliveryPolicy
from parlour.webhooks.sender import Attempt, make_client, send

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends due deliveries in the background; several workers share the queue through leases in the database."""

    def __init__(
        self,
        *,
        db: Database,
        policy: DeliveryPolicy | None = None,
        resolver: Resolver = resolve,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.policy = policy or DeliveryPolicy()
        self.resolver = resolver
        self._rand = rand
        self._polling = PollingLoop(
            "parlour-webhooks",
            self.run_once,
            batch=self.policy.batch,
            poll_seconds=self.policy.poll_seconds,
        )
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = make_client(self.policy)
        await self._polling.start()

    async def stop(self) -> None:
        """Let an attempt in flight finish within the stop grace, else cut it short; its lease brings it back."""
        await self._polling.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.db.dispose()

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll; callable from any thread."""
        self._polling.wake()

    async def run_once(self) -> int:
        """Claim and send what is due now; returns how many were claimed."""
        claimed = await asyncio.to_thread(claim_due, db=self.db, policy=self.policy, now=utcnow())
        results = await asyncio.gather(*(self._deliver(c) for c in claimed), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("webhook delivery could not be recorded", exc_info=result)
        return len(claimed)

    async def _deliver(self, claimed: Claimed) -> None:
        assert self._client is not None  # started
        try:
            attempt = await send(
                self._client, claimed, resolver=self.resolver, policy=self.policy, timestamp=int(time.time())
            )
        except Exception as exc:
            log.exception("webhook delivery %s failed unexpectedly", claimed.event_id)
            attempt = Attempt(None, f"Internal error: {type(exc).__name__}")
        status = await asyncio.to_thread(
            record_attempt,
            db=self.db,
            policy=self.policy,
            delivery_id=claimed.delivery_id,
            response_status=attempt.response_status,
            error=attempt.error,
            now=utcnow(),
            rand=self._rand(),
        )
        # Not the URL: receivers put tokens in query strings.
        log.info(
            "webhook delivery %s (%s): %s %s",
            claimed.delivery_id,
            claimed.event,
            status,
            attempt.response_status or attempt.error,
        )


def make_dispatcher(settings: Settings, *, db: Database, policy: DeliveryPolicy | None = None) -> Dispatcher:
    """A sender with engines of its own: background work never waits for, or shows in, the request pools."""
    own = connect_database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    # SQLite writers of this process still queue on the one lock.
    return Dispatcher(db=dataclasses.replace(own, write_lock=db.write_lock), policy=policy)


def connect(bus: EventBus, *, db: Database, dispatcher: Dispatcher) -> None:
    """Queue a delivery for every event that has a webhook, then wake the sender.

    Inside the write that raised the events where it records them (a new comment, a moderator's decision), so the
    deliveries are stored with it; after its commit for the other writes.
    """
    bus.subscribe_durably(
        (CommentPosted, CommentModerated, AuthorBanned, StoryChanged),
        store=enqueue_in,
        store_alone=lambda events: enqueue(db=db, events=events),
        stored=dispatcher.wake,
    )
