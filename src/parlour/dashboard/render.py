"""Rendering dashboard pages and fragments, with what every template needs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from parlour.accounts.access import can_ban_on_all_sites, can_manage_webhooks
from parlour.accounts.sessions import SignedIn
from parlour.clock import utcnow
from parlour.dashboard import present
from parlour.dashboard.auth import CSRF_FIELD
from parlour.dashboard.forms import REJECT_REASONS
from parlour.moderation.actions import UNDO_SECONDS
from parlour.moderation.queues import OLDEST_FIRST, QUEUE_TITLES, Queue
from parlour.state import AppState

# Moderation data is private to the signed-in moderator: never stored by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie"}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    state: AppState,
    who: SignedIn | None,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    base = {
        "who": who,
        "staff": who.staff if who else None,
        "csrf_token": who.csrf_token if who else "",
        "csrf_field": CSRF_FIELD,
        "now": utcnow(),
        "fmt": present,
        "queues": list(Queue),
        "queue_titles": QUEUE_TITLES,
        "work_queues": OLDEST_FIRST,
        "reject_reasons": REJECT_REASONS,
        "undo_seconds": UNDO_SECONDS,
        "show_webhooks": bool(who and can_manage_webhooks(who.staff)),
        "can_ban_everywhere": bool(who and can_ban_on_all_sites(who.staff)),
    }
    response = state.templates.TemplateResponse(
        request, template, base | context, status_code=status, headers=NO_STORE | (headers or {})
    )
    return response


def redirect(url: str) -> Response:
    """After a plain form post: see the result with a GET (303), so a reload never posts again."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)
