"""Signing in to and out of the dashboard."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from parlour.accounts import passwords, sessions
from parlour.dashboard.auth import (
    CSRF_FIELD,
    LOGIN_PATH,
    CheckedForm,
    Moderator,
    SameOriginForm,
    clear_login_cookie,
    clear_session_cookie,
    login_cookie_name,
    login_form_matches,
    network_of,
    safe_next,
    session_token,
    set_login_cookie,
    set_session_cookie,
)
from parlour.dashboard.render import redirect, render
from parlour.errors import Forbidden, RateLimited, Unauthorized
from parlour.moderation import dashboard
from parlour.state import AppState, State

MAX_EMAIL = 320
EXPIRED = "The sign-in form had expired or was sent from elsewhere; it has been renewed: sign in again."


def login_page(request: Request, state: State, next: Annotated[str, Query(max_length=2000)] = "/admin") -> Response:
    """The sign-in form, with a fresh token in the form and in a cookie (the form's CSRF protection)."""
    return _form(request, state, target=safe_next(*next.split("?", 1)))


def login(request: Request, state: State, form: SameOriginForm) -> Response:
    """Check the password (throttled per account and per network) and start a new session."""
    # The password is never cut: a cut one would let the first 1024 characters of a longer entry sign in.
    email, password = form.get("email")[:MAX_EMAIL], form.get("password")
    target = safe_next(*form.get("next", "/admin").split("?", 1))
    if not login_form_matches(request, state.settings, form):
        # Nothing is checked or counted: the form was not ours (login CSRF) or is older than its cookie.
        return _form(request, state, target=target, error=EXPIRED, email=email, status=Forbidden.status)
    try:
        if len(password) > passwords.MAX_LENGTH:
            # No account can have it (hash_password refuses it): refused before any lookup, hash or count.
            raise Unauthorized(f"A password has at most {passwords.MAX_LENGTH} characters.")
        new = dashboard.sign_in(
            db=state.db,
            email=email,
            password=password,
            network=network_of(request, state),
            limiter=state.signin_limiter,
            old_token=session_token(request, state.settings),
        )
    except (Unauthorized, RateLimited, Forbidden) as exc:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if isinstance(exc, RateLimited) else {}
        token = request.cookies.get(login_cookie_name(state.settings), "")
        return _form(
            request,
            state,
            target=target,
            error=exc.detail,
            email=email,
            status=exc.status,
            headers=headers,
            token=token,
        )
    response = redirect(target)
    set_session_cookie(response, state.settings, new.token)
    clear_login_cookie(response, state.settings)
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


def _form(
    request: Request,
    state: AppState,
    *,
    target: str,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
    token: str = "",
) -> Response:
    """The sign-in page; a new form token unless the browser's current one is passed on."""
    fresh = not token
    token = token or secrets.token_urlsafe(32)
    context = {"next": target, "error": error, "email": email, "login_token": token, "login_field": CSRF_FIELD}
    response = render(request, state, None, "admin/login.html", context, status=status, headers=headers)
    if fresh:
        set_login_cookie(response, state.settings, token)
    return response
