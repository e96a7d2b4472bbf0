"""Reader sessions: a publisher token is exchanged once for a short-lived Parlour token the widget sends back."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Author, ReaderSession, RevokedToken
from parlour.errors import Unauthorized
from parlour.identity.readers import Reader, upsert_reader
from parlour.identity.sso import verify_token
from parlour.sites.service import get_site, site_settings

TOKEN_PREFIX = "prs_"  # noqa: S105 - a marker, not a secret
MAX_SESSION_TOKEN_CHARS = 100


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_at: datetime
    reader: Reader
    site_slug: str


def start_session(*, db: Database, secret_key: str, site_slug: str, token: str) -> NewSession:
    """Verify the publisher's token (outside any transaction), then sign the reader in with one short write."""
    with db.read() as session:
        site = get_site(session=session, slug=site_slug)
        settings = site_settings(site)
    claims = verify_token(token=token, site_slug=site.slug, settings=settings)
    now = utcnow()
    with db.write() as session:
        if _revoked(session, site.id, claims.token_id):
            raise Unauthorized("This sign-in token was signed out; the publisher must issue a new one.")
        author = upsert_reader(session=session, secret_key=secret_key, site_id=site.id, claims=claims)
        session_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + timedelta(seconds=settings.sso_session_seconds)
        session.add(
            ReaderSession(
                token_hash=_hash(session_token),
                site_id=site.id,
                author_id=author.id,
                token_id=claims.token_id,
                token_expires_at=claims.expires_at,
                created_at=now,
                expires_at=expires_at,
            )
        )
        _forget_old_sessions(session, author.id, now)
        reader = Reader.of(author)
    return NewSession(session_token, expires_at, reader, site.slug)


def resolve(*, session: Session, token: str | None) -> Reader | None:
    """The reader a session token belongs to; None when there is no token. A stale or unknown one is a 401."""
    if token is None:
        return None
    row = None
    if token.startswith(TOKEN_PREFIX) and len(token) <= MAX_SESSION_TOKEN_CHARS:
        row = session.get(ReaderSession, _hash(token))
    if row is None or row.expires_at <= utcnow():
        raise Unauthorized("The reader session has expired; sign in again.", field="Authorization")
    author = session.get(Author, row.author_id)
    if author is None or author.deleted_at is not None or author.external_id is None:
        raise Unauthorized("The reader session has expired; sign in again.", field="Authorization")
    return Reader.of(author)


def end_session(*, db: Database, token: str) -> None:
    """Sign out: the session ends and the publisher token it came from can never sign in again."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_SESSION_TOKEN_CHARS:
        return
    with db.write() as session:
        row = session.get(ReaderSession, _hash(token))
        if row is None:
            return
        revoke(session, row.site_id, row.token_id, row.token_expires_at)
        session.delete(row)


def end_all_sessions(*, session: Session, author_id: int) -> None:
    """Every session of one reader ends, and every publisher token they came from is revoked."""
    for row in session.scalars(select(ReaderSession).where(ReaderSession.author_id == author_id)):
        revoke(session, row.site_id, row.token_id, row.token_expires_at)
        session.delete(row)


def revoke(session: Session, site_id: int, token_id: str, expires_at: datetime) -> None:
    if _revoked(session, site_id, token_id):
        return
    try:
        with session.begin_nested():
            session.add(RevokedToken(site_id=site_id, token_id=token_id, expires_at=expires_at, revoked_at=utcnow()))
    except IntegrityError:
        pass  # two sign-outs of the same token raced; one row is all it takes


def prune(*, db: Database, now: datetime) -> None:
    """Forget sessions and revocations that can no longer matter: both the session and its token have expired."""
    with db.write() as session:
        session.execute(
            delete(ReaderSession).where(ReaderSession.expires_at <= now, ReaderSession.token_expires_at <= now)
        )
        session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))


def _revoked(session: Session, site_id: int, token_id: str) -> bool:
    found = session.scalar(
        select(RevokedToken.id).where(RevokedToken.site_id == site_id, RevokedToken.token_id == token_id)
    )
    return found is not None


def _forget_old_sessions(session: Session, author_id: int, now: datetime) -> None:
    # Rows are kept past the session's end while the publisher token lives, so signing out can still revoke it.
    session.execute(
        delete(ReaderSession).where(
            ReaderSession.author_id == author_id,
            ReaderSession.expires_at <= now,
            ReaderSession.token_expires_at <= now,
        )
    )


def _hash(token: str) -> str:
    # 256 random bits: one SHA-256 pass is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()
