"""Signed-in readers: their author row per site, kept in step with what the publisher's token says."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.tables import Author, Comment, Story
from parlour.identity.sso import PublisherClaims


@dataclass(frozen=True)
class Reader:
    """A reader signed in through the publisher, as the comment and profile services see them."""

    site_id: int
    author_id: int
    identity_key: str
    external_id: str
    name: str
    email: str | None
    website: str | None
    avatar_url: str | None
    badges: tuple[str, ...]
    role: str | None

    @classmethod
    def of(cls, author: Author) -> Reader:
        assert author.identity_key is not None
        assert author.external_id is not None
        return cls(
            site_id=author.site_id,
            author_id=author.id,
            identity_key=author.identity_key,
            external_id=author.external_id,
            name=author.display_name,
            email=author.email,
            website=author.website,
            avatar_url=author.avatar_url,
            badges=tuple(author.badges or ()),
            role=author.role,
        )


def sso_identity_key(*, secret_key: str, site_id: int, external_id: str) -> str:
    """The author a publisher's user id is on one site: a keyed hash, like every identity_key."""
    message = f"author\x00{site_id}\x00sso\x00{external_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def upsert_reader(*, session: Session, secret_key: str, site_id: int, claims: PublisherClaims) -> Author:
    """The reader's author row, created on first sign-in; name, e-mail, avatar and badges follow the token."""
    identity = sso_identity_key(secret_key=secret_key, site_id=site_id, external_id=claims.external_id)
    author = _find(session, site_id, identity)
    if author is None:
        try:
            with session.begin_nested():
                author = Author(
                    site_id=site_id, identity_key=identity, display_name=claims.name, badges=[], created_at=utcnow()
                )
                session.add(author)
                session.flush()
        except IntegrityError:
            # The reader's first two sign-ins raced (two tabs); the unique constraint kept one row.
            author = _find(session, site_id, identity)
            assert author is not None
    shown_before = (author.display_name, author.avatar_url, list(author.badges or []), author.role)
    author.external_id = claims.external_id
    author.display_name = claims.name
    author.email = claims.email
    author.avatar_url = claims.avatar_url
    author.badges = list(claims.badges)
    author.role = claims.role
    # Signing in again after deleting the account starts afresh, on the same row: a ban outlives the deletion.
    author.deleted_at = None
    session.flush()
    if shown_before != (author.display_name, author.avatar_url, list(author.badges), author.role):
        _refresh_threads(session, author.id)
    return author


def _find(session: Session, site_id: int, identity: str) -> Author | None:
    return session.scalar(select(Author).where(Author.site_id == site_id, Author.identity_key == identity))


def _refresh_threads(session: Session, author_id: int) -> None:
    # Cached thread pages are keyed by story version: the new name or avatar shows once the version moves.
    stories = select(Comment.story_id).where(Comment.author_id == author_id).distinct()
    session.execute(
        update(Story)
        .where(Story.id.in_(stories))
        .values(version=Story.version + 1)
        .execution_options(synchronize_session=False)
    )
