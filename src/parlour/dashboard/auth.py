"""Dashboard sign-in state: the session cookie, the signed-in staff dependency, and CSRF checks on every write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import URL
from starlette.responses import Response

from parlour.accounts import sessions
from parlour.accounts.access import require_dashboard
from parlour.errors import Forbidden, InvalidInput, Unauthorized
from parlour.infra.clientip import bucket, client_ip
from parlour.settings import Settings
from parlour.sites.urls import origin_of
from parlour.state import AppState, State

LOGIN_PATH = "/admin/login"
HOME_PATH = "/admin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 500
# How long a sign-in form stays valid: a form left open longer is refused and shown again with a fresh token.
LOGIN_FORM_SECONDS = 3600
# Loopback hosts count as secure contexts: browsers keep Secure cookies set over plain http there.
_LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}


@dataclass(frozen=True)
class CookiePolicy:
    name: str
    secure: bool


def cookie_policy(settings: Settings) -> CookiePolicy:
    """`__Host-` (Secure, host-only, Path=/) wherever browsers accept it; a plain cookie on other http hosts.

    A browser refuses a Secure cookie from a plain-http origin other than loopback, and refuses any `__Host-`
    cookie without Secure: such a deployment (a LAN demo, say) could not sign in at all, so it gets a plain
    HttpOnly, SameSite=Strict cookie instead. Serve the dashboard over https to get the `__Host-` cookie.
    """
    parts = urlsplit(settings.public_base_url)
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    if parts.scheme == "https" or host in _LOOPBACK:
        return CookiePolicy("__Host-parlour_session", secure=True)
    return CookiePolicy("parlour_session", secure=False)


def login_cookie_name(settings: Settings) -> str:
    """The sign-in form's own CSRF cookie, named like the session cookie (`__Host-` where browsers accept it)."""
    policy = cookie_policy(settings)
    return policy.name.replace("parlour_session", "parlour_login")


def session_token(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(cookie_policy(settings).name)


def set_login_cookie(response: Response, settings: Settings, token: str) -> None:
    """The sign-in form's token, echoed by the form: another site can neither read nor set it (login CSRF)."""
    response.set_cookie(
        login_cookie_name(settings),
        token,
        max_age=LOGIN_FORM_SECONDS,
        path="/",
        secure=cookie_policy(settings).secure,
        httponly=True,
        samesite="strict",
    )


def clear_login_cookie(response: Response, settings: Settings) -> None:
    secure = cookie_policy(settings).secure
    response.delete_cookie(login_cookie_name(settings), path="/", secure=secure, httponly=True, samesite="strict")


def login_form_matches(request: Request, settings: Settings, form: FormData) -> bool:
    """The form's token is the one this browser's login cookie holds."""
    expected = request.cookies.get(login_cookie_name(settings))
    return bool(expected) and sessions.csrf_matches(expected or "", form.get(CSRF_FIELD) or None)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    policy = cookie_policy(settings)
    response.set_cookie(
        policy.name,
        token,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=policy.secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    policy = cookie_policy(settings)
    response.delete_cookie(policy.name, path="/", secure=policy.secure, httponly=True, samesite="strict")


def network_of(request: Request, state: AppState) -> str:
    """The client's throttling bucket: its address as the trusted proxies report it, IPv6 by /64."""
    peer = request.client.host if request.client else None
    return bucket(client_ip(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies))


def wants_fragment(request: Request) -> bool:
    """htmx requests and event streams get status codes; full page loads get redirects."""
    return request.headers.get("hx-request") == "true" or "text/event-stream" in request.headers.get("accept", "")


def signed_in_staff(request: Request, state: State) -> sessions.SignedIn:
    """The signed-in moderator or admin; others are sent to the login page (401 for fragments, 403 for staff)."""
    token = session_token(request, state.settings)
    with state.db.read() as session:
        who = sessions.signed_in(session=session, token=token)
        # signed_in touches last_seen_at about once a minute; only then is a write transaction worth it.
        touched = bool(session.dirty)
    if who is not None and touched:
        with state.db.write() as session:
            sessions.signed_in(session=session, token=token)
    if who is None:
        if wants_fragment(request):
            raise Unauthorized("Sign in again: your session has ended.")
        target = URL(LOGIN_PATH).include_query_params(next=safe_next(request.url.path, request.url.query))
        # A page load without a session: Starlette's HTTPException carries the redirect through errors.install.
        raise HTTPException(status_code=303, detail="Sign in first.", headers={"Location": str(target)})
    require_dashboard(who.staff)
    return who


Moderator = Annotated[sessions.SignedIn, Depends(signed_in_staff)]


def safe_next(path: str, query: str = "") -> str:
    """A redirect target inside the dashboard only (no other host, no scheme-relative URL)."""
    if not path.startswith(HOME_PATH) or path.startswith("//") or "\\" in path or path.startswith(LOGIN_PATH):
        return HOME_PATH
    return f"{path}?{query}" if query else path


def check_same_origin(request: Request, settings: Settings) -> None:
    """Refuse a write another site's page could have sent: by Sec-Fetch-Site, by Origin, and by content type."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        raise Forbidden("Cross-site requests cannot change anything here.")
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != origin_of(settings.public_base_url):
        raise Forbidden("This request comes from another origin.")


class FormData:
    """A urlencoded form: the last value of each field, and every value of repeated ones."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        values = self.getlist(name)
        return values[-1] if values else default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)


async def read_form(request: Request) -> FormData:
    """The body as a urlencoded form; any other type of body (JSON, multipart, text) is refused as a CSRF risk."""
    body = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and media_type != FORM_TYPE:
        raise Forbidden(f"Dashboard writes are sent as {FORM_TYPE}.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("The form could not be read.") from exc
    return FormData(pairs)


async def same_origin_form(request: Request, state: State) -> FormData:
    """The form of a write that needs no session yet (signing in): same-origin checks only."""
    check_same_origin(request, state.settings)
    return await read_form(request)


async def checked_form(request: Request, state: State, who: Moderator) -> FormData:
    """The form of a signed-in write: same origin, and the session's CSRF token in the header or a field."""
    check_same_origin(request, state.settings)
    form = await read_form(request)
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD) or None
    if not sessions.csrf_matches(who.csrf_token, given):
        raise Forbidden("The form has expired or lacks its security token; reload the page and try again.")
    return form


SameOriginForm = Annotated[FormData, Depends(same_origin_form)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
