"""Reader API handlers: sign in with the publisher's token, sign out, and the signed-in reader's own data."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Query
from starlette.responses import Response

from parlour.identity import profile, sessions
from parlour.identity.auth import ReaderAuthorization, bearer_token, require_reader
from parlour.identity.schemas import (
    Deleted,
    MyComments,
    NotificationSettings,
    NotificationUpdate,
    Profile,
    SessionCreated,
    SessionStart,
)
from parlour.sites.urls import normalise_story_url
from parlour.state import State

PRIVATE = {"Cache-Control": "no-store"}


def start_session(state: State, response: Response, data: SessionStart) -> SessionCreated:
    """Exchange the publisher's token for a short-lived Parlour session token (sent back as a Bearer token)."""
    response.headers.update(PRIVATE)
    new = sessions.start_session(
        db=state.db, secret_key=state.settings.secret_key, site_slug=data.site, token=data.token
    )
    return SessionCreated(session_token=new.token, expires_at=new.expires_at, reader=profile.reader_public(new.reader))


def end_session(state: State, authorization: ReaderAuthorization = None) -> Response:
    """Sign out: the session ends and the publisher token it came from is refused from now on."""
    require_reader(state.db, authorization)
    token = bearer_token(authorization)
    assert token is not None  # require_reader refused a request without one
    sessions.end_session(db=state.db, token=token)
    return Response(status_code=204)


def get_profile(state: State, response: Response, authorization: ReaderAuthorization = None) -> Profile:
    reader = require_reader(state.db, authorization)
    response.headers.update(PRIVATE)
    with state.db.read() as session:
        return profile.profile(session=session, reader=reader, mail_available=_mail_available(state))


def get_my_comments(
    state: State,
    response: Response,
    authorization: ReaderAuthorization = None,
    url: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    cursor: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MyComments:
    """The reader's comments on every story of the site, newest first (or on the story at `url`)."""
    reader = require_reader(state.db, authorization)
    response.headers.update(PRIVATE)
    canonical = normalise_story_url(url) if url is not None else None
    with state.db.read() as session:
        return profile.my_comments(session=session, reader=reader, url=canonical, cursor=cursor, limit=limit)


def update_notifications(
    state: State, data: NotificationUpdate, authorization: ReaderAuthorization = None
) -> NotificationSettings:
    reader = require_reader(state.db, authorization)
    with state.db.write() as session:
        profile.set_notifications(session=session, reader=reader, data=data)
    with state.db.read() as session:
        return profile.notification_settings(session=session, reader=reader, mail_available=_mail_available(state))


def download_my_data(state: State, authorization: ReaderAuthorization = None) -> Response:
    """Everything kept about the reader on this site, as a JSON file to save."""
    reader = require_reader(state.db, authorization)
    with state.db.read() as session:
        data = profile.my_data(session=session, reader=reader)
    headers = PRIVATE | {"Content-Disposition": f'attachment; filename="parlour-{data["site"]}-my-data.json"'}
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json", headers=headers)


def delete_my_comments(state: State, authorization: ReaderAuthorization = None) -> Deleted:
    reader = require_reader(state.db, authorization)
    count, raised = profile.delete_my_comments(db=state.db, reader=reader)
    state.bus.publish(raised)
    return Deleted(deleted=count)


def delete_my_account(state: State, authorization: ReaderAuthorization = None) -> Deleted:
    """Comments deleted, personal data erased, every session ended; signing in again starts afresh."""
    reader = require_reader(state.db, authorization)
    count, raised = profile.delete_account(db=state.db, reader=reader)
    state.bus.publish(raised)
    return Deleted(deleted=count)


def _mail_available(state: State) -> bool:
    return bool(state.settings.smtp_host)
