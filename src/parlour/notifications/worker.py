"""The background sender each worker process runs: due messages, daily digests, housekeeping. Never on a request."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import MailMessage, MailStatus
from parlour.identity import retention, sessions
from parlour.infra.polling import PollingLoop
from parlour.notifications import digests, letters, outbox
from parlour.notifications.outbox import MailPolicy
from parlour.notifications.smtp import SendResult, send
from parlour.settings import Settings

log = logging.getLogger(__name__)
HOUSEKEEPING_EVERY = timedelta(hours=1)
Transport = Callable[[EmailMessage, Settings], Awaitable[SendResult]]


class MailWorker:
    """Several processes share the outbox through leases in the database; each sends what it claimed."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        policy: MailPolicy | None = None,
        transport: Transport = send,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.settings = settings
        self.policy = policy or MailPolicy()
        self.transport = transport
        self._rand = rand
        self._polling = PollingLoop(
            "parlour-mail",
            self._step,
            batch=self.policy.batch,
            poll_seconds=self.policy.poll_seconds,
        )
        self._digest_day: date | None = None
        # The first housekeeping waits a while: a process that starts and stops at once never does it.
        self._housekeeping_at = utcnow() + timedelta(minutes=5)

    @property
    def sends_mail(self) -> bool:
        return bool(self.settings.smtp_host)  # PARLOUR_SMTP_HOST="" means no e-mail too

    async def start(self) -> None:
        await self._polling.start()

    async def stop(self) -> None:
        """Let a send in flight finish within the stop grace, else cut it short; its lease brings it back."""
        await self._polling.stop()

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll; callable from any thread."""
        self._polling.wake()

    async def run_once(self, now: datetime | None = None) -> int:
        """Digests if their hour has come, then send what is due; returns how many messages were claimed."""
        now = now or utcnow()
        if not self.sends_mail:
            return 0
        if self._digest_day != now.date() and digests.cutoff(now, self.settings.mail_digest_hour) is not None:
            hour = self.settings.mail_digest_hour
            await asyncio.to_thread(digests.bundle_reader_digests, db=self.db, now=now, hour=hour)
            await asyncio.to_thread(digests.queue_staff_digests, db=self.db, now=now, hour=hour)
            self._digest_day = now.date()
        claimed = await asyncio.to_thread(outbox.claim_due, db=self.db, policy=self.policy, now=now)
        for message_id in claimed:
            await self._deliver(message_id, now)
        return len(claimed)

    async def housekeeping(self, now: datetime) -> None:
        await asyncio.to_thread(sessions.prune, db=self.db, now=now)
        await asyncio.to_thread(retention.purge_deleted_text, db=self.db, now=now)
        await asyncio.to_thread(outbox.prune, db=self.db, policy=self.policy, now=now)

    async def _step(self) -> int:
        claimed = await self.run_once()
        if utcnow() >= self._housekeeping_at:
            self._housekeeping_at = utcnow() + HOUSEKEEPING_EVERY
            await self.housekeeping(utcnow())
        return claimed

    async def _deliver(self, message_id: int, now: datetime) -> None:
        try:
            email = await asyncio.to_thread(self._write, message_id, now)
        except Exception as exc:
            log.exception("mail %s could not be written", message_id)
            await self._settle(message_id, MailStatus.PENDING, now, f"Internal error: {type(exc).__name__}")
            return
        if email is None:
            await self._settle(message_id, MailStatus.DROPPED, now, "nothing left to send")
            return
        result = await self.transport(email, self.settings)
        status = MailStatus.SENT if result.ok else MailStatus.FAILED if result.permanent else MailStatus.PENDING
        settled = await self._settle(message_id, status, now, result.error)
        # Not the address: logs are read by more people than the outbox.
        log.info("mail %s: %s%s", message_id, settled.value, f" ({result.error})" if result.error else "")

    def _write(self, message_id: int, now: datetime) -> EmailMessage | None:
        with self.db.read() as session:
            row = session.get(MailMessage, message_id)
            if row is None:
                return None
            return letters.write(session=session, settings=self.settings, row=row, now=now)

    async def _settle(self, message_id: int, status: MailStatus, now: datetime, error: str) -> MailStatus:
        return await asyncio.to_thread(
            outbox.settle,
            db=self.db,
            policy=self.policy,
            message_id=message_id,
            status=status,
            now=now,
            error=error,
            rand=self._rand(),
        )
