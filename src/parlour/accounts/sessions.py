"""Staff sign-in: throttled password checks, server-side sessions, CSRF tokens, sign-out."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from parlour.accounts.access import Staff
from parlour.accounts.passwords import hash_password, verify_password
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import StaffSession, StaffUser
from parlour.errors import RateLimited, Unauthorized
from parlour.infra.ratelimit import RateLimiter

# A shift is long; an unattended dashboard should not stay signed in for days.
SESSION_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=2)
# Failed sign-ins allowed per window, per account and per client network.
ACCOUNT_FAILURES = 5
NETWORK_FAILURES = 20
FAILURE_WINDOW_SECONDS = 15 * 60
# Verified against when the e-mail is unknown, so both answers take as long.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    token: str
    signed_in: SignedIn


def normal_email(email: str) -> str:
    """A staff e-mail as stored and looked up: sign-in and the staff commands must agree on it."""
    return email.strip().lower()


def log_in(
    *,
    db: Database,
    email: str,
    password: str,
    network: str,
    limiter: RateLimiter,
    old_token: str | None = None,
    admit: Callable[[Staff], None] = lambda _staff: None,
) -> NewSession:
    """Check the password under throttling; on success replace any old session with a new one.

    The failures are counted after the write transaction has rolled back, so that a limiter that itself writes
    to the database (DatabaseRateLimiter, shared by every worker without Redis) is never inside it. `admit`
    refuses staff who may not sign in here; the new session is then rolled back.
    """
    email = normal_email(email)
    account_key, network_key = f"login:account:{email}", f"login:network:{network}"
    for key, limit in ((account_key, ACCOUNT_FAILURES), (network_key, NETWORK_FAILURES)):
        decision = limiter.peek(key, limit=limit, window_seconds=FAILURE_WINDOW_SECONDS)
        if not decision.allowed:
            raise RateLimited("Too many failed sign-ins; try again later.", retry_after=decision.retry_after_seconds)
    try:
        with db.write() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.email == email))
            valid = verify_password(password, user.password_hash if user else _DUMMY_HASH)
            if user is None or not valid or not user.active:
                raise Unauthorized("The e-mail address or password is wrong.")
            if old_token:
                log_out(session=session, token=old_token)
            new = _start_session(session, user)
            admit(new.signed_in.staff)
    except Unauthorized:
        limiter.hit(account_key, limit=ACCOUNT_FAILURES, window_seconds=FAILURE_WINDOW_SECONDS)
        limiter.hit(network_key, limit=NETWORK_FAILURES, window_seconds=FAILURE_WINDOW_SECONDS)
        raise
    limiter.reset(account_key)
    return new


def signed_in(*, session: Session, token: str | None) -> SignedIn | None:
    """The staff member a session cookie belongs to, or None when it is unknown, expired or idle too long."""
    if not token:
        return None
    record = session.get(StaffSession, _hash(token))
    now = utcnow()
    if record is None or record.expires_at <= now or record.last_seen_at + IDLE_TIMEOUT <= now:
        return None
    user = session.get(StaffUser, record.user_id)
    if user is None or not user.active:
        return None
    # Touch at most once a minute: every dashboard request would otherwise be a write.
    if now - record.last_seen_at > timedelta(minutes=1):
        record.last_seen_at = now
    return SignedIn(Staff.of(user), record.csrf_token)


def log_out(*, session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _hash(token)))


def log_out_everywhere(*, session: Session, user_id: int) -> None:
    session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _start_session(session: Session, user: StaffUser) -> NewSession:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = StaffSession(
        token_hash=_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        last_seen_at=now,
    )
    session.add(record)
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id, StaffSession.expires_at <= now))
    return NewSession(token, SignedIn(Staff.of(user), record.csrf_token))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
