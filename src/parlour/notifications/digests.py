"""Daily digests at the configured hour: a reader's held notifications in one e-mail; moderators' queue sizes."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlour.accounts.access import Staff, moderated_slugs
from parlour.db.engine import Database
from parlour.db.tables import MailAddress, MailMessage, MailStatus, Site, StaffRole, StaffUser
from parlour.moderation.queues import queue_counts
from parlour.notifications import addresses
from parlour.notifications.outbox import enqueue
from parlour.sites.service import site_settings


def cutoff(now: datetime, hour: int) -> datetime | None:
    """Today's digest time once it has passed; None before it."""
    today = datetime.combine(now.date(), time(hour), tzinfo=now.tzinfo)
    return today if now >= today else None


def bundle_reader_digests(*, db: Database, now: datetime, hour: int) -> int:
    """Fold each daily reader's held notifications from before today's digest time into one message."""
    until = cutoff(now, hour)
    if until is None:
        return 0
    held = select(MailMessage.address_id).where(MailMessage.status == MailStatus.HELD, MailMessage.created_at < until)
    with db.read() as session:
        address_ids = sorted(set(session.scalars(held)))
    made = 0
    for address_id in address_ids:
        with db.write() as session:
            items = list(
                session.scalars(
                    select(MailMessage.id).where(
                        MailMessage.address_id == address_id,
                        MailMessage.status == MailStatus.HELD,
                        MailMessage.created_at < until,
                    )
                )
            )
            address = session.get(MailAddress, address_id)
            if not items or address is None:
                continue
            key = f"digest:{address_id}:{until.date().isoformat()}"
            if enqueue(
                session,
                address=address,
                kind="digest",
                category=addresses.ALL,
                payload={"items": sorted(items)},
                dedupe_key=key,
                now=now,
            ):
                for row in session.scalars(select(MailMessage).where(MailMessage.id.in_(items))):
                    row.status = MailStatus.BUNDLED
                made += 1
    return made


def queue_staff_digests(*, db: Database, now: datetime, hour: int) -> int:
    """One digest a day per moderator with work waiting on the sites they moderate."""
    until = cutoff(now, hour)
    if until is None:
        return 0
    day = until.date().isoformat()
    with db.read() as session:
        planned = _staff_plan(session, day)
    queued = 0
    for user_id, payload in planned:
        with db.write() as session:
            user = session.get(StaffUser, user_id)
            if user is None:
                continue
            address = addresses.ensure_staff_address(session, user)
            if addresses.wants(session, address, addresses.DIGEST):
                queued += enqueue(
                    session,
                    address=address,
                    kind="staff-digest",
                    category=addresses.DIGEST,
                    payload=payload,
                    dedupe_key=f"staff-digest:{user_id}:{day}",
                    now=now,
                )
    return queued


def _staff_plan(session: Session, day: str) -> list[tuple[int, dict[str, Any]]]:
    sites = [s for s in session.scalars(select(Site).order_by(Site.slug)) if site_settings(s).notify_moderators]
    counts: dict[str, dict[str, int]] = {}
    for site in sites:
        by_queue = queue_counts(session=session, site_ids=(site.id,))
        counts[site.slug] = {queue.value: n for queue, n in by_queue.items()}
    users = session.scalars(
        select(StaffUser).where(StaffUser.active, StaffUser.role.in_([StaffRole.ADMIN, StaffRole.MODERATOR]))
    )
    planned = []
    for user in users:
        key = f"staff-digest:{user.id}:{day}"
        if session.scalar(select(MailMessage.id).where(MailMessage.dedupe_key == key)) is not None:
            continue
        slugs = moderated_slugs(Staff.of(user), [s.slug for s in sites])
        busy = [
            {"slug": s.slug, "name": s.name, "counts": counts[s.slug]}
            for s in sites
            if s.slug in slugs and any(counts[s.slug].get(q, 0) for q in ("pending", "reported", "flagged"))
        ]
        if busy:
            planned.append((user.id, {"date": day, "sites": busy}))
    return planned
