"""What each queued message says, written at send time from what is true then: a comment deleted meanwhile is
not quoted, a decision undone meanwhile is not announced. Everything a reader wrote arrives as plain quoted text."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlour.db.tables import Author, Comment, CommentStatus, MailAddress, MailMessage, Site, Story
from parlour.notifications import addresses, links
from parlour.notifications.compose import Letter, Quote, Section, message_id, to_email
from parlour.notifications.plaintext import defang, plain_name, quoted_comment
from parlour.settings import Settings

CONFIRM_VALID = timedelta(days=7)
SUBJECTS = {
    "approved": "Your comment is published",
    "rejected": "Your comment was not published",
    "featured": "Your comment was featured",
}
CATEGORY_NAMES = {
    addresses.REPLY: "replies to your comments",
    addresses.MODERATION: "moderation decisions on your comments",
    addresses.FEATURED: "featured comments",
    addresses.DIGEST: "the moderators' daily digest",
    addresses.ALL: "any e-mail from us",
}


def write(*, session: Session, settings: Settings, row: MailMessage, now: datetime) -> EmailMessage | None:
    """The e-mail for one outbox row, or None when there is nothing (left) to say."""
    address = session.get(MailAddress, row.address_id)
    if address is None or not _may_send(session, address, row):
        return None
    letter = _letter(session, settings, row, address, now)
    if letter is None:
        return None
    site = session.get(Site, address.site_id) if address.site_id else None
    assert settings.mail_from is not None  # Settings refuses smtp_host without it
    return to_email(
        letter,
        sender_name=site.name if site else "Parlour",
        sender=settings.mail_from,
        to=address.email,
        message_id=message_id(row_id=row.id, sender=settings.mail_from),
        now=now,
    )


def _may_send(session: Session, address: MailAddress, row: MailMessage) -> bool:
    if row.kind == "confirm":
        return address.confirmed_at is None and addresses.subscriptions(session, address.id).get(addresses.ALL, True)
    return addresses.wants(session, address, row.category)


def _letter(
    session: Session, settings: Settings, row: MailMessage, address: MailAddress, now: datetime
) -> Letter | None:
    base = settings.public_base_url
    if row.kind == "staff-digest":
        return _staff_digest(settings, row, address)
    site = session.get(Site, address.site_id)
    assert site is not None
    why = f"You get this e-mail because you asked {site.name} to tell you about your comments."
    unsubscribe = _signed(settings, "unsubscribe", address, row.category, "/mail/unsubscribe")
    manage = ("E-mail settings", _signed(settings, "manage", address, addresses.ALL, "/mail/manage"))
    unsubscribe_label = f"Unsubscribe from {CATEGORY_NAMES.get(row.category, 'these e-mails')}"
    if row.kind == "confirm":
        expires = int((now + CONFIRM_VALID).timestamp())
        confirm = _signed(settings, "confirm", address, addresses.ALL, "/mail/confirm", expires)
        lead = (
            f"Someone, probably you, left this address with a comment on {site.name} and asked to hear about "
            "replies and moderators' decisions. Nothing is sent until you confirm."
        )
        return Letter(
            subject=f"Confirm e-mail notifications from {site.name}",
            greeting="Hello,",
            sections=[Section(lead, link=("Confirm your address", confirm))],
            why=f"If it was not you, ignore this e-mail: {site.name} will not write again unless asked.",
            unsubscribe=("Never e-mail this address again", unsubscribe),
        )
    if row.kind == "digest":
        items = [i for i in _bundled(session, row) if addresses.wants(session, address, i.category)]
        sections = [s for item in items if (s := _section(session, base, item.kind, item.payload))]
        subject = f"{len(sections)} update{'s' if len(sections) != 1 else ''} on your comments"
    else:
        section = _section(session, base, row.kind, row.payload)
        sections = [section] if section else []
        subject = _subject(session, row.kind, row.payload)
    if not sections:
        return None
    return Letter(subject, "Hello,", sections, why, (unsubscribe_label, unsubscribe), manage)


def _section(session: Session, base: str, kind: str, payload: dict[str, Any]) -> Section | None:
    comment = session.get(Comment, int(payload.get("comment_id", 0)))
    if comment is None:
        return None
    story = session.get(Story, comment.story_id)
    assert story is not None
    about = f"“{defang(story.title) if story.title else defang(story.url)}”"
    go = ("Read it on the article", f"{base}/go/{comment.id}")
    own = Quote("Your comment:", quoted_comment(comment.html))
    if kind == "reply":
        if comment.status is not CommentStatus.APPROVED:
            return None
        name = _name(session, comment.author_id)
        parent = session.get(Comment, comment.parent_id) if comment.parent_id else None
        quotes = [Quote("You wrote:", quoted_comment(parent.html, 300))] if parent and parent.html else []
        quotes.append(Quote(f"{name} replied:", quoted_comment(comment.html)))
        return Section(
            f"{name} replied to your comment on {about}.", tuple(quotes), ("Read the reply and answer", go[1])
        )
    if kind == "approved" and comment.status is CommentStatus.APPROVED:
        return Section(f"A moderator published your comment on {about}.", (own,), go)
    if kind == "featured" and comment.status is CommentStatus.APPROVED and comment.featured:
        return Section(f"The editors featured your comment on {about}.", (own,), go)
    if kind == "rejected" and comment.status in {CommentStatus.REJECTED, CommentStatus.REMOVED}:
        quotes = [own] if comment.html else []
        reason = str(payload.get("reason") or "").strip()
        if reason:
            quotes.append(Quote("The moderators' reason:", defang(" ".join(reason.split()))))
        done = "removed" if comment.status is CommentStatus.REMOVED else "did not publish"
        return Section(f"A moderator {done} your comment on {about}.", tuple(quotes))
    return None


def _subject(session: Session, kind: str, payload: dict[str, Any]) -> str:
    if kind == "rejected" and _was_published(session, payload):
        return "Your comment was removed"
    return SUBJECTS.get(kind, "") or _reply_subject(session, payload)


def _was_published(session: Session, payload: dict[str, Any]) -> bool:
    """Removed after it was published, rather than held and never published (rejected)."""
    comment = session.get(Comment, int(payload.get("comment_id", 0)))
    return comment is not None and comment.status is CommentStatus.REMOVED


def _reply_subject(session: Session, payload: dict[str, Any]) -> str:
    comment = session.get(Comment, int(payload.get("comment_id", 0)))
    name = _name(session, comment.author_id) if comment else "A reader"
    return f"{name} replied to your comment"


def _name(session: Session, author_id: int) -> str:
    author = session.get(Author, author_id)
    return plain_name(author.display_name) if author and author.display_name else "A reader"


def _bundled(session: Session, row: MailMessage) -> list[MailMessage]:
    ids = [int(i) for i in row.payload.get("items", [])]
    found = session.scalars(select(MailMessage).where(MailMessage.id.in_(ids)).order_by(MailMessage.id))
    return list(found)


def _staff_digest(settings: Settings, row: MailMessage, address: MailAddress) -> Letter | None:
    sites: list[dict[str, Any]] = row.payload.get("sites", [])
    if not sites:
        return None
    sections = []
    totals = {"pending": 0, "reported": 0}
    for site in sites:
        counts = {k: int(v) for k, v in site.get("counts", {}).items()}
        for key in totals:
            totals[key] += counts.get(key, 0)
        parts = ", ".join(f"{counts.get(q, 0)} {q}" for q in ("pending", "reported", "flagged", "unmoderated"))
        sections.append(Section(f"{site.get('name', site.get('slug', ''))}: {parts}."))
    sections.append(
        Section("They wait for you in the dashboard.", link=("Open it", f"{settings.public_base_url}/admin/"))
    )
    unsubscribe = _signed(settings, "unsubscribe", address, addresses.DIGEST, "/mail/unsubscribe")
    return Letter(
        subject=f"Moderation queues: {totals['pending']} pending, {totals['reported']} reported",
        greeting="Good morning,",
        sections=sections,
        why="You get this daily digest as a moderator on Parlour.",
        unsubscribe=(f"Unsubscribe from {CATEGORY_NAMES[addresses.DIGEST]}", unsubscribe),
    )


def _signed(settings: Settings, purpose: str, address: MailAddress, category: str, path: str, expires: int = 0) -> str:
    token = links.sign(
        secret_key=settings.secret_key,
        purpose=purpose,
        address_id=address.id,
        email=address.email,
        category=category,
        expires=expires,
    )
    return links.link(base_url=settings.public_base_url, path=path, token=token)
