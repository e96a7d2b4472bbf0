"""What the signed links in e-mails do: confirm an address, unsubscribe, change the choices. No login needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from parlour.comments.threading import is_listed
from parlour.db.engine import Database
from parlour.db.tables import Comment, MailAddress, MailFrequency, Site, Story
from parlour.errors import NotFound
from parlour.notifications import addresses
from parlour.notifications.letters import CATEGORY_NAMES


@dataclass(frozen=True)
class LinkPage:
    """What a link's page shows: the address (its owner clicked), the site, and the current choices."""

    address_id: int
    email: str
    site_name: str
    category: str
    category_name: str
    confirmed: bool
    frequency: MailFrequency
    choices: dict[str, bool]
    staff: bool


def look(*, db: Database, secret_key: str, purpose: str, token: str, now: datetime) -> LinkPage:
    """The page behind a link, changing nothing: mail scanners open every link in a message."""
    with db.read() as session:
        address, category = addresses.address_for_link(
            session, secret_key=secret_key, purpose=purpose, token=token, now=now
        )
        return _page(session, address, category)


def confirm(*, db: Database, secret_key: str, token: str, now: datetime) -> LinkPage:
    """Double opt-in: the owner of the address clicked the link we sent to it."""
    with db.write() as session:
        address, category = addresses.address_for_link(
            session, secret_key=secret_key, purpose="confirm", token=token, now=now
        )
        addresses.confirm(session, address, now=now)
        return _page(session, address, category)


def unsubscribe(*, db: Database, secret_key: str, token: str, now: datetime) -> LinkPage:
    """One category off for one address (RFC 8058 one-click, or the page's button); repeating it is harmless."""
    with db.write() as session:
        address, category = addresses.address_for_link(
            session, secret_key=secret_key, purpose="unsubscribe", token=token, now=now
        )
        addresses.set_subscription(session, address.id, category, active=False)
        return _page(session, address, category)


def choose(
    *,
    db: Database,
    secret_key: str,
    token: str,
    now: datetime,
    frequency: MailFrequency | None,
    categories: dict[str, bool],
) -> LinkPage:
    """The choices made on the manage page; every reader category not ticked is turned off."""
    with db.write() as session:
        address, category = addresses.address_for_link(
            session, secret_key=secret_key, purpose="manage", token=token, now=now
        )
        if address.staff_user_id is not None:
            addresses.set_subscription(session, address.id, addresses.DIGEST, active=categories.get("digest", False))
            if categories.get("digest"):
                addresses.set_subscription(session, address.id, addresses.ALL, active=True)
        else:
            wanted = {c: categories.get(c, False) for c in addresses.READER_CATEGORIES}
            addresses.choose(session, address, frequency=frequency, categories=wanted)
        return _page(session, address, category)


def comment_location(*, db: Database, comment_id: int) -> str:
    """Where an e-mail's "read it" link leads: the comment on the article, if readers can see it there.

    Anyone can try any id here, so a comment readers cannot see (held, rejected, removed or deleted without
    replies) is not found exactly like an id that never existed: the answer must not tell that it exists, nor
    on which article.
    """
    with db.read() as session:
        comment = session.get(Comment, comment_id)
        shown = comment is not None and is_listed(comment.status, comment.reply_count)
        story = session.get(Story, comment.story_id) if comment is not None and shown else None
        if comment is None or story is None:
            raise NotFound("This comment does not exist.")
        return f"{story.url}#comment-{comment.id}"


def _page(session: Session, address: MailAddress, category: str) -> LinkPage:
    site = session.get(Site, address.site_id) if address.site_id else None
    chosen = addresses.subscriptions(session, address.id)
    everything = chosen.get(addresses.ALL, True)
    if address.staff_user_id is not None:
        choices = {addresses.DIGEST: everything and chosen.get(addresses.DIGEST, False)}
    else:
        choices = {c: everything and chosen.get(c, False) for c in addresses.READER_CATEGORIES}
    return LinkPage(
        address_id=address.id,
        email=address.email,
        site_name=site.name if site else "Parlour",
        category=category,
        category_name=CATEGORY_NAMES.get(category, category),
        confirmed=address.confirmed_at is not None,
        frequency=address.frequency,
        choices=choices,
        staff=address.staff_user_id is not None,
    )
