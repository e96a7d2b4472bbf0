"""Staff users: create, list, change. Sign-in and sessions are in `accounts.sessions`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.accounts.passwords import hash_password
from parlour.accounts.sessions import log_out_everywhere, normal_email
from parlour.clock import utcnow
from parlour.db.tables import Site, StaffRole, StaffUser
from parlour.errors import Conflict, InvalidInput, NotFound


def create_user(
    *, session: Session, email: str, display_name: str, password: str, role: StaffRole, site_slugs: list[str]
) -> StaffUser:
    email = valid_staff_email(email)
    _check_sites(session, site_slugs)
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


def valid_staff_email(email: str) -> str:
    """A staff e-mail as stored, or InvalidInput: one rule for new accounts and for those a restore brings back."""
    email = normal_email(email)
    if "@" not in email or len(email) > 320:
        raise InvalidInput("A valid e-mail address is required.", field="email")
    return email


def list_users(*, session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def set_password(*, session: Session, email: str, password: str) -> StaffUser:
    """A new password, e.g. for staff restored from an export (who have none) or after a leak; signs them out."""
    user = find_user(session=session, email=email)
    user.password_hash = hash_password(password)
    log_out_everywhere(session=session, user_id=user.id)
    return user


def update_user(
    *,
    session: Session,
    email: str,
    role: StaffRole | None = None,
    display_name: str | None = None,
    site_slugs: list[str] | None = None,
    active: bool | None = None,
) -> StaffUser:
    """Change what is given and keep the rest."""
    user = find_user(session=session, email=email)
    if role is not None:
        user.role = role
    if display_name is not None:
        user.display_name = display_name.strip()[:64] or user.email
    if site_slugs is not None:
        _check_sites(session, site_slugs)
        user.site_slugs = sorted(set(site_slugs))
    if active is not None:
        user.active = active
    if active is False:
        # Sessions read the user row on every request, so role and site changes apply at once; a
        # deactivated user's sessions would be refused anyway, and are dropped rather than left to expire.
        log_out_everywhere(session=session, user_id=user.id)
    return user


def find_user(*, session: Session, email: str) -> StaffUser:
    email = normal_email(email)
    user = session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        raise NotFound(f"No staff user with e-mail {email}.")
    return user


def _check_sites(session: Session, site_slugs: list[str]) -> None:
    known = set(session.scalars(select(Site.slug).where(Site.slug.in_(site_slugs))))
    unknown = sorted(set(site_slugs) - known)
    if unknown:
        raise InvalidInput(f"No such site: {', '.join(unknown)}", field="site")
