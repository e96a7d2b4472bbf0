"""The signed-in reader of a public API request: `Authorization: Bearer` with a reader session token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from parlour.db.engine import Database
from parlour.errors import Unauthorized
from parlour.identity import sessions
from parlour.identity.readers import Reader

ReaderAuthorization = Annotated[
    str | None, Header(alias="Authorization", max_length=300, description="Bearer READER_SESSION_TOKEN")
]


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def signed_in(db: Database, authorization: str | None) -> Reader | None:
    """The reader, or None for an anonymous request; a token that is no longer valid is a 401, not anonymity."""
    token = bearer_token(authorization)
    if token is None:
        return None
    with db.read() as session:
        return sessions.resolve(session=session, token=token)


def require_reader(db: Database, authorization: str | None) -> Reader:
    reader = signed_in(db, authorization)
    if reader is None:
        raise Unauthorized("Sign in first (Authorization: Bearer READER_SESSION_TOKEN).", field="Authorization")
    return reader
