"""The pages behind the links in e-mails. A GET only shows (mail scanners open links); a POST acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from parlour.clock import utcnow
from parlour.dashboard.auth import read_form
from parlour.db.tables import MailFrequency
from parlour.errors import Forbidden, InvalidInput, NotFound, ParlourError
from parlour.notifications import addresses, links, service
from parlour.notifications.letters import CATEGORY_NAMES
from parlour.notifications.service import LinkPage
from parlour.state import AppState, State

Token = Annotated[str, Query(alias="t", min_length=1, max_length=200, description="The signed token of the link.")]
TITLES = {
    "ask-confirm": "Confirm your e-mail address",
    "confirmed": "Address confirmed",
    "ask-unsubscribe": "Unsubscribe",
    "unsubscribed": "Unsubscribed",
    "manage": "Your e-mail settings",
    "saved": "Your e-mail settings",
}
# Pages about one reader's address: never cached, never indexed (the page itself sends no Referer).
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def confirm_page(request: Request, state: State, token: Token) -> Response:
    return _act(request, state, "ask-confirm", lambda: _look(state, "confirm", token))


def confirm(request: Request, state: State, token: Token) -> Response:
    secret = state.settings.secret_key
    return _act(
        request, state, "confirmed", lambda: service.confirm(db=state.db, secret_key=secret, token=token, now=utcnow())
    )


def unsubscribe_page(request: Request, state: State, token: Token) -> Response:
    return _act(request, state, "ask-unsubscribe", lambda: _look(state, "unsubscribe", token))


def unsubscribe(request: Request, state: State, token: Token) -> Response:
    """The page's button, and RFC 8058 one-click: a mail client POSTs `List-Unsubscribe=One-Click` here."""
    secret = state.settings.secret_key
    return _act(
        request,
        state,
        "unsubscribed",
        lambda: service.unsubscribe(db=state.db, secret_key=secret, token=token, now=utcnow()),
    )


def manage_page(request: Request, state: State, token: Token) -> Response:
    return _act(request, state, "manage", lambda: _look(state, "manage", token))


async def manage(request: Request, state: State, token: Token) -> Response:
    form = await read_form(request)
    chosen = set(form.getlist("category"))
    frequency = form.get("frequency") or None
    if frequency is not None and frequency not in {f.value for f in MailFrequency}:
        return _render(request, state, "manage", None, InvalidInput("Choose immediate or daily."))
    secret = state.settings.secret_key
    return await run_in_threadpool(
        _act,
        request,
        state,
        "saved",
        lambda: service.choose(
            db=state.db,
            secret_key=secret,
            token=token,
            now=utcnow(),
            frequency=MailFrequency(frequency) if frequency else None,
            categories={c: c in chosen for c in (*addresses.READER_CATEGORIES, addresses.DIGEST)},
        ),
    )


def go_to_comment(state: State, comment_id: int) -> Response:
    """The "read it on the article" link of an e-mail: on our domain, so it can't be a link to anywhere else."""
    return RedirectResponse(service.comment_location(db=state.db, comment_id=comment_id), status_code=303)


def _look(state: AppState, purpose: str, token: str) -> LinkPage:
    return service.look(db=state.db, secret_key=state.settings.secret_key, purpose=purpose, token=token, now=utcnow())


def _act(request: Request, state: AppState, mode: str, action: Callable[[], LinkPage]) -> Response:
    try:
        page = action()
    except (NotFound, Forbidden) as exc:
        return _render(request, state, mode, None, exc)
    return _render(request, state, mode, page, None)


def _render(
    request: Request, state: AppState, mode: str, page: LinkPage | None, error: ParlourError | None
) -> Response:
    context: dict[str, Any] = {
        "title": "This link does not work" if error else TITLES[mode],
        "mode": mode,
        "page": page,
        "error": error.detail if error else None,
        "saved": mode == "saved",
        "category_names": CATEGORY_NAMES,
        "manage_url": _manage_url(state, page) if page else None,
    }
    status = error.status if error else 200
    return state.templates.TemplateResponse(request, "mail/page.html", context, status_code=status, headers=PRIVATE)


def _manage_url(state: AppState, page: LinkPage) -> str:
    # Whoever holds one of the address's links may change its choices; the page hands them the manage link.
    token = links.sign(
        secret_key=state.settings.secret_key,
        purpose="manage",
        address_id=page.address_id,
        email=page.email,
        category=addresses.ALL,
    )
    return links.link(base_url=state.settings.public_base_url, path="/mail/manage", token=token)
