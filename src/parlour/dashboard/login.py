"""Signing in to and out of the dashboard."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from parlour.accounts import sessions
from parlour.dashboard.auth import (
    LOGIN_PATH,
    CheckedForm,
    Moderator,
    SameOriginForm,
    clear_session_cookie,
    network_of,
    safe_next,
    session_token,
    set_session_cookie,
)
from parlour.dashboard.render import redirect, render
from parlour.errors import Forbidden, RateLimited, Unauthorized
from parlour.moderation import dashboard
from parlour.state import State

MAX_EMAIL = 320
MAX_PASSWORD = 1024


def login_page(request: Request, state: State, next: Annotated[str, Query(max_length=2000)] = "/admin") -> Response:
    """The sign-in form."""
    return render(request, state, None, "admin/login.html", {"next": safe_next(*next.split("?", 1)), "error": None})


def login(request: Request, state: State, form: SameOriginForm) -> Response:
    """Check the password (throttled per account and per network) and start a new session."""
    email, password = form.get("email")[:MAX_EMAIL], form.get("password")[:MAX_PASSWORD]
    target = safe_next(*form.get("next", "/admin").split("?", 1))
    try:
        with state.db.write() as session:
            new = dashboard.sign_in(
                session=session,
                email=email,
                password=password,
                network=network_of(request, state),
                limiter=state.limiter,
                old_token=session_token(request, state.settings),
            )
    except (Unauthorized, RateLimited, Forbidden) as exc:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if isinstance(exc, RateLimited) else {}
        context = {"next": target, "error": exc.detail, "email": email}
        return render(request, state, None, "admin/login.html", context, status=exc.status, headers=headers)
    response = redirect(target)
    set_session_cookie(response, state.settings, new.token)
    return response


def logout(request: Request, state: State, who: Moderator, form: CheckedForm) -> Response:
    """End this session on the server and in the browser."""
    token = session_token(request, state.settings)
    if token:
        with state.db.write() as session:
            sessions.log_out(session=session, token=token)
    response = redirect(LOGIN_PATH)
    clear_session_cookie(response, state.settings)
    return response
