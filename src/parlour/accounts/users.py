"""Staff users: create and list. Login and sessions come with the moderation dashboard."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.accounts.passwords import hash_password
from parlour.clock import utcnow
from parlour.db.tables import Site, StaffRole, StaffUser
from parlour.errors import Conflict, InvalidInput


def create_user(
    *, session: Session, email: str, display_name: str, password: str, role: StaffRole, site_slugs: list[str]
) -> StaffUser:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidInput("A valid e-mail address is required.", field="email")
    known = set(session.scalars(select(Site.slug).where(Site.slug.in_(site_slugs))))
    unknown = sorted(set(site_slugs) - known)
    if unknown:
        raise InvalidInput(f"No such site: {', '.join(unknown)}", field="site")
    user = StaffUser(
        email=email,
        display_name=display_name.strip()[:64] or email,
        password_hash=hash_password(password),
        role=role,
        site_slugs=sorted(set(site_slugs)),
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A user with e-mail {email} exists already.", field="email") from exc
    return user


def list_users(*, session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))
