"""A problem drawn as a dashboard page, for a browser that navigated or posted a plain form (errors.wants_page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from parlour.accounts import sessions
from parlour.accounts.access import can_enter_dashboard
from parlour.dashboard.auth import HOME_PATH, safe_next, session_token
from parlour.dashboard.render import NO_STORE, render
from parlour.sites.urls import origin_of
from parlour.state import AppState

QUEUE_PATH = "/admin/queues/pending"


def problem_page(request: Request, problem: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    """The status, the problem's words and a way back, in the dashboard's layout, with the problem's status."""
    state: AppState = request.app.state.parlour
    who = _signed_in(request, state)
    context = {
        "title": problem.get("title") or "Error",
        "status": status,
        "problem": problem,
        "fields": [e for e in problem.get("errors") or () if e.get("message") != problem.get("detail")],
        "back": back_link(request, state),
        "section": "",
    }
    extra = {k: v for k, v in headers.items() if k.lower() not in {h.lower() for h in NO_STORE}}  # Retry-After…
    return render(request, state, who, "admin/error.html", context, status=status, headers=extra)


def back_link(request: Request, state: AppState) -> str:
    """The dashboard page the browser came from (same origin only), else the queue; never the failing URL again."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if not referer or f"{parts.scheme}://{parts.netloc}".lower() != origin_of(state.settings.public_base_url):
        return QUEUE_PATH
    target = safe_next(parts.path, parts.query)  # the dashboard's own pages only
    if target == HOME_PATH or (request.method == "GET" and target == safe_next(request.url.path, request.url.query)):
        return QUEUE_PATH
    return target


def _signed_in(request: Request, state: AppState) -> sessions.SignedIn | None:
    """Who is signed in, for the top bar; read only (the failed request may have had no session at all)."""
    try:
        with state.db.read() as session:
            who = sessions.signed_in(session=session, token=session_token(request, state.settings))
    except SQLAlchemyError:  # the error page must not fail too: the database may be what went wrong
        return None
    return who if who is not None and can_enter_dashboard(who.staff) else None
