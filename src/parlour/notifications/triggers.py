"""What each event means for the outbox: read first (most comments queue nothing), then one short write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, MailAddress, ModerationAction, Site
from parlour.events import CommentModerated, CommentPosted, EventBus
from parlour.notifications import addresses
from parlour.notifications.addresses import FEATURED, MODERATION, REPLY
from parlour.notifications.outbox import MailPolicy, enqueue
from parlour.sites.service import site_settings

log = logging.getLogger(__name__)
CONFIRM_EVERY = timedelta(hours=24)  # at most one confirmation request per address and day


@dataclass(frozen=True)
class Planned:
    """A message to queue, decided in the read; the write re-checks nothing but the dedupe key."""

    site_id: int
    email: str
    kind: str
    category: str
    dedupe: str
    payload: dict[str, Any] = field(default_factory=dict)
    delay_seconds: float = 0.0


def connect(bus: EventBus, *, db: Database, policy: MailPolicy, wake: Callable[[], None]) -> None:
    """Subscribe the outbox to the events that mean e-mail; the background sender does the sending."""

    def handle(plan: Callable[[Session, Any, MailPolicy, datetime], list[Planned]], event: Any) -> None:
        if queue(db=db, event=event, plan=plan, policy=policy, now=utcnow()):
            wake()

    bus.subscribe(CommentPosted, lambda event: handle(plan_posted, event))
    bus.subscribe(CommentModerated, lambda event: handle(plan_moderated, event))


def queue(
    *,
    db: Database,
    event: Any,
    plan: Callable[[Session, Any, MailPolicy, datetime], list[Planned]],
    policy: MailPolicy,
    now: datetime,
) -> int:
    with db.read() as session:
        planned = plan(session, event, policy, now)
    if not planned:
        return 0
    queued = 0
    with db.write() as session:
        for item in planned:
            address = addresses.ensure_reader_address(session, item.site_id, item.email)
            if item.kind == "confirm":
                if not needs_confirmation(session, address, now):
                    continue  # another request asked meanwhile
                address.confirm_sent_at = now
            queued += enqueue(
                session,
                address=address,
                kind=item.kind,
                category=item.category,
                payload=item.payload,
                dedupe_key=item.dedupe.format(address=address.id),
                now=now,
                delay_seconds=item.delay_seconds,
            )
    return queued


def plan_posted(session: Session, event: CommentPosted, policy: MailPolicy, now: datetime) -> list[Planned]:
    """A new comment: ask its anonymous author to confirm their address; tell the parent's author of a reply."""
    facts = _facts(session, event.comment_id)
    if facts is None:
        return []
    comment, author, site = facts
    planned: list[Planned] = []
    if author.email and author.external_id is None:
        # Signed-in readers' addresses come from the publisher and are opted in from the profile instead.
        address = addresses.reader_address(session, site.id, author.email)
        if needs_confirmation(session, address, now):
            key = "confirm:{address}:" + now.date().isoformat()  # the address row may not exist yet
            planned.append(Planned(site.id, author.email, "confirm", addresses.ALL, key, {"comment_id": comment.id}))
    if comment.parent_id is not None and comment.status is CommentStatus.APPROVED:
        planned += _reply(session, comment, author, site.id, delay=0.0)
    return planned


def plan_moderated(session: Session, event: CommentModerated, policy: MailPolicy, now: datetime) -> list[Planned]:
    """A moderator's decision: the author hears of it; a held reply now published reaches the parent's author."""
    facts = _facts(session, event.comment_id)
    if facts is None:
        return []
    comment, author, site = facts
    delay = policy.moderation_delay_seconds
    planned: list[Planned] = []
    if event.action == "approve":
        if _was_held(session, comment.id):
            planned += _to_author(session, author, site.id, "approved", MODERATION, comment.id, delay)
        if comment.parent_id is not None:
            planned += _reply(session, comment, author, site.id, delay=delay)
    elif event.action == "reject":
        planned += _to_author(session, author, site.id, "rejected", MODERATION, comment.id, delay, event.reason)
    elif event.action == "feature":
        planned += _to_author(session, author, site.id, "featured", FEATURED, comment.id, delay)
    return planned


def needs_confirmation(session: Session, address: MailAddress | None, now: datetime) -> bool:
    if address is None:
        return True
    if address.confirmed_at is not None:
        return False
    if not addresses.subscriptions(session, address.id).get(addresses.ALL, True):
        return False  # they asked never to hear from us
    return address.confirm_sent_at is None or now - address.confirm_sent_at >= CONFIRM_EVERY


def _facts(session: Session, comment_id: int) -> tuple[Comment, Author, Site] | None:
    comment = session.get(Comment, comment_id)
    if comment is None:
        return None
    author = session.get(Author, comment.author_id)
    site = session.get(Site, comment.site_id)
    if author is None or site is None or not site_settings(site).notify_readers:
        return None
    return comment, author, site


def _reply(session: Session, reply: Comment, replier: Author, site_id: int, *, delay: float) -> list[Planned]:
    parent = session.get(Comment, reply.parent_id) if reply.parent_id else None
    if parent is None or parent.author_id == replier.id:
        return []  # nobody needs to hear that they answered themselves
    parent_author = session.get(Author, parent.author_id)
    address = addresses.author_address(session, site_id, parent_author, REPLY) if parent_author else None
    if address is None:
        return []
    key = f"reply:{reply.id}:{address.id}"
    return [Planned(site_id, address.email, "reply", REPLY, key, {"comment_id": reply.id}, delay)]


def _to_author(
    session: Session,
    author: Author,
    site_id: int,
    kind: str,
    category: str,
    comment_id: int,
    delay: float,
    reason: str = "",
) -> list[Planned]:
    address = addresses.author_address(session, site_id, author, category)
    if address is None:
        return []
    payload: dict[str, Any] = {"comment_id": comment_id}
    if reason:
        payload["reason"] = reason[:1000]
    return [Planned(site_id, address.email, kind, category, f"{kind}:{comment_id}", payload, delay)]


def _was_held(session: Session, comment_id: int) -> bool:
    """Approving a comment that was already published tells its author nothing new."""
    before = session.scalar(
        select(ModerationAction.status_before)
        .where(ModerationAction.comment_id == comment_id, ModerationAction.action == "approve")
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .limit(1)
    )
    return before == CommentStatus.PENDING.value
