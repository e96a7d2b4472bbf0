"""Who may be written to about what: addresses, double opt-in, and a choice per address and category."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.tables import Author, MailAddress, MailAddressAuthor, MailFrequency, MailSubscription, StaffUser
from parlour.errors import Forbidden, NotFound
from parlour.notifications import links

REPLY, MODERATION, FEATURED = "reply", "moderation", "featured"
READER_CATEGORIES = (REPLY, MODERATION, FEATURED)
DIGEST = "digest"  # the moderators' daily digest of queue sizes
ALL = "all"  # everything, the confirmation request included
CATEGORIES = (*READER_CATEGORIES, DIGEST, ALL)


@dataclass(frozen=True)
class Preferences:
    email: str | None
    confirmed: bool
    frequency: MailFrequency
    categories: dict[str, bool] = field(default_factory=dict)


def reader_address(session: Session, site_id: int, email: str) -> MailAddress | None:
    return session.scalar(select(MailAddress).where(MailAddress.site_id == site_id, MailAddress.email == email.lower()))


def ensure_reader_address(session: Session, site_id: int, email: str) -> MailAddress:
    found = reader_address(session, site_id, email)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            address = MailAddress(
                site_id=site_id, email=email.lower(), frequency=MailFrequency.IMMEDIATE, created_at=utcnow()
            )
            session.add(address)
            session.flush()
            return address
    except IntegrityError:
        pass  # the same address's first two notifications raced; one row is kept
    found = reader_address(session, site_id, email)
    assert found is not None
    return found


def ensure_staff_address(session: Session, staff: StaffUser) -> MailAddress:
    """Staff are not asked to confirm: an admin created the account with this address. The digest starts on."""
    address = session.scalar(select(MailAddress).where(MailAddress.staff_user_id == staff.id))
    if address is None:
        now = utcnow()
        address = MailAddress(
            staff_user_id=staff.id,
            email=staff.email.lower(),
            frequency=MailFrequency.DAILY,
            confirmed_at=now,
            created_at=now,
        )
        session.add(address)
        session.flush()
        set_subscription(session, address.id, DIGEST, active=True)
    elif address.email != staff.email.lower():
        address.email = staff.email.lower()
    return address


def subscriptions(session: Session, address_id: int) -> dict[str, bool]:
    rows = session.scalars(select(MailSubscription).where(MailSubscription.address_id == address_id))
    # Whole rows: a Result of (category, active) pairs is not a mapping dict() can take.
    return {row.category: row.active for row in rows}


def wants(session: Session, address: MailAddress, category: str) -> bool:
    """Confirmed, not unsubscribed from everything, and subscribed to this category (no row: not subscribed)."""
    if address.confirmed_at is None:
        return False
    chosen = subscriptions(session, address.id)
    if category == ALL:
        return chosen.get(ALL, True)
    return chosen.get(ALL, True) and chosen.get(category, False)


def set_subscription(session: Session, address_id: int, category: str, *, active: bool) -> None:
    row = session.scalar(
        select(MailSubscription).where(MailSubscription.address_id == address_id, MailSubscription.category == category)
    )
    if row is None:
        session.add(MailSubscription(address_id=address_id, category=category, active=active, updated_at=utcnow()))
    elif row.active != active:
        row.active, row.updated_at = active, utcnow()
    session.flush()


def preferences(session: Session, site_id: int, email: str | None) -> Preferences:
    address = reader_address(session, site_id, email) if email else None
    if address is None:
        return Preferences(email, False, MailFrequency.IMMEDIATE, dict.fromkeys(READER_CATEGORIES, False))
    chosen = subscriptions(session, address.id)
    on = chosen.get(ALL, True) and address.confirmed_at is not None
    return Preferences(
        email,
        address.confirmed_at is not None,
        address.frequency,
        {c: on and chosen.get(c, False) for c in READER_CATEGORIES},
    )


def choose(
    session: Session, address: MailAddress, *, frequency: MailFrequency | None, categories: dict[str, bool]
) -> None:
    """The reader's own choice (signed in, or through a signed link): it also lifts an unsubscribe from everything."""
    if frequency is not None:
        address.frequency = frequency
    for category, active in categories.items():
        if category in READER_CATEGORIES:
            set_subscription(session, address.id, category, active=active)
    if any(categories.values()):
        set_subscription(session, address.id, ALL, active=True)


def belongs(session: Session, address: MailAddress, author_id: int) -> bool:
    """Whether mail about this author's comments may go to this address (see MailAddressAuthor)."""
    link = select(MailAddressAuthor).where(
        MailAddressAuthor.address_id == address.id, MailAddressAuthor.author_id == author_id
    )
    return session.scalar(link) is not None


def author_address(session: Session, site_id: int, author: Author, category: str) -> MailAddress | None:
    """Where mail in `category` about this author's comments goes: their address, if it was confirmed for them
    (not merely typed by someone else) and wants that category; else nowhere."""
    if not author.email:
        return None
    address = reader_address(session, site_id, author.email)
    if address is None or not belongs(session, address, author.id) or not wants(session, address, category):
        return None
    return address


def link_author(session: Session, address: MailAddress, author_id: int) -> None:
    if not belongs(session, address, author_id):
        session.add(MailAddressAuthor(address_id=address.id, author_id=author_id))
        session.flush()


def confirm(session: Session, address: MailAddress, *, now: datetime) -> None:
    """Double opt-in done: the reader gets what they left their address for, unless they chose otherwise since.

    The address then belongs to the authors who used it until now; a name typed with it later by someone else
    brings its owner no mail about that stranger's comments.
    """
    if address.confirmed_at is None:
        address.confirmed_at = now
        users = select(Author.id).where(Author.site_id == address.site_id, func.lower(Author.email) == address.email)
        for author_id in session.scalars(users):
            link_author(session, address, author_id)
        chosen = subscriptions(session, address.id)
        for category in READER_CATEGORIES:
            if category not in chosen:
                set_subscription(session, address.id, category, active=True)
    set_subscription(session, address.id, ALL, active=True)


def forget(session: Session, site_id: int, email: str) -> None:
    """A deleted account: its address, choices and queued messages go (the outbox cascades)."""
    session.execute(delete(MailAddress).where(MailAddress.site_id == site_id, MailAddress.email == email.lower()))


def address_for_link(
    session: Session, *, secret_key: str, purpose: str, token: str, now: datetime
) -> tuple[MailAddress, str]:
    """The address and category a signed link is for; a forged, altered or expired link changes nothing."""
    claim = links.parse(token)
    address = session.get(MailAddress, claim.address_id) if claim else None
    if claim is None or address is None:
        raise NotFound("This link is not valid (any more).")
    if claim.category not in CATEGORIES or not links.verify(
        secret_key=secret_key, purpose=purpose, claim=claim, email=address.email, now=now
    ):
        raise Forbidden("This link is not valid: it may have been altered or have expired.")
    return address, claim.category
