"""The outbox: messages queued in a short write just after their cause commits, claimed under a lease, settled after
each attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.db.engine import Database
from parlour.db.tables import MailAddress, MailFrequency, MailMessage, MailStatus
from parlour.infra import leases

# Kinds a reader who chose the daily digest gets in it rather than one by one.
DIGESTIBLE = frozenset({"reply", "approved", "rejected", "featured"})
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class MailPolicy:
    """How the outbox is sent and retried; tests pass a fast one."""

    # Wait after the 1st, 2nd… failed attempt; the last repeats until max_attempts.
    delays: tuple[float, ...] = (60, 300, 1800, 7200, 21600)
    max_attempts: int = 10
    jitter: float = 0.1
    # A claimed message is not claimed again for this long: a worker that dies mid-send only delays it.
    lease_seconds: float = 120.0
    poll_seconds: float = 10.0
    batch: int = 20
    # Moderators may undo a decision for a few seconds: its e-mail waits, and is checked again before sending.
    moderation_delay_seconds: float = 60.0
    keep_days: int = 30  # sent and dropped rows are deleted after this


def enqueue(
    session: Session,
    *,
    address: MailAddress,
    kind: str,
    category: str,
    payload: dict[str, Any],
    dedupe_key: str,
    now: datetime,
    delay_seconds: float = 0.0,
) -> bool:
    """Queue one message unless its cause queued one already; a daily reader's waits for the digest."""
    if session.scalar(select(MailMessage.id).where(MailMessage.dedupe_key == dedupe_key)) is not None:
        return False
    held = address.frequency is MailFrequency.DAILY and kind in DIGESTIBLE
    try:
        with session.begin_nested():
            session.add(
                MailMessage(
                    address_id=address.id,
                    kind=kind,
                    category=category,
                    payload=payload,
                    dedupe_key=dedupe_key,
                    status=MailStatus.HELD if held else MailStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now + timedelta(seconds=delay_seconds),
                    last_error="",
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        return False  # another worker handled the same event first
    return True


def claim_due(*, db: Database, policy: MailPolicy, now: datetime) -> list[int]:
    """Take the lease on due messages; one another worker claimed first is skipped."""
    candidates = leases.due_ids(db=db, model=MailMessage, pending=MailStatus.PENDING, now=now, batch=policy.batch)
    if not candidates:
        return []
    lease_until = now + timedelta(seconds=policy.lease_seconds)
    with db.write() as session:
        return list(
            leases.lease(
                session, model=MailMessage, pending=MailStatus.PENDING, ids=candidates, now=now, lease_until=lease_until
            )
        )


def settle(
    *,
    db: Database,
    policy: MailPolicy,
    message_id: int,
    status: MailStatus,
    now: datetime,
    error: str = "",
    rand: float = 0.5,
) -> MailStatus:
    """Record an attempt: sent or dropped for good, or failed and due again after the backoff (or given up)."""
    with db.write() as session:
        message = session.get(MailMessage, message_id)
        if message is None:
            return MailStatus.DROPPED  # the address was deleted meanwhile, and its outbox with it
        message.last_error = error[:MAX_ERROR_CHARS]
        if status is MailStatus.SENT:
            message.status, message.sent_at = MailStatus.SENT, now
        elif status is MailStatus.PENDING:
            retry_at = next_attempt(policy, attempts=message.attempts, now=now, rand=rand)
            if retry_at is None:
                message.status = MailStatus.FAILED
            else:
                message.next_attempt_at = retry_at
        else:
            message.status = status
        return message.status


def next_attempt(policy: MailPolicy, *, attempts: int, now: datetime, rand: float) -> datetime | None:
    """When to try again after `attempts` failed attempts (rand in [0, 1)), or None to give up."""
    if attempts >= policy.max_attempts:
        return None
    delay = policy.delays[min(max(attempts, 1), len(policy.delays)) - 1] if policy.delays else 0.0
    return now + timedelta(seconds=max(0.0, delay * (1 + policy.jitter * (2 * rand - 1))))


def prune(*, db: Database, policy: MailPolicy, now: datetime) -> None:
    """Forget messages long settled; failed ones stay a while longer for the operator to see."""
    settled = [MailStatus.SENT, MailStatus.DROPPED, MailStatus.BUNDLED]
    with db.write() as session:
        session.execute(
            delete(MailMessage).where(
                MailMessage.status.in_(settled), MailMessage.created_at < now - timedelta(days=policy.keep_days)
            )
        )
        session.execute(
            delete(MailMessage).where(
                MailMessage.status == MailStatus.FAILED,
                MailMessage.created_at < now - timedelta(days=3 * policy.keep_days),
            )
        )
