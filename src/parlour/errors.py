"""Domain errors, and the one place that turns them (and framework errors) into RFC 9457 problem+json."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from sqlite3 import SQLITE_FULL
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_TYPE = "https://parlour.dev/problems/"
# What FastAPI raises (HTTP 400) when a JSON body cannot be decoded for a reason other than its syntax.
FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"
log = logging.getLogger(__name__)


class ParlourError(Exception):
    """A request that cannot be served as asked; status and title describe it to the client."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class InvalidInput(ParlourError):
    status = 422
    title = "Invalid input"
    slug = "invalid-input"


class NotFound(ParlourError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Forbidden(ParlourError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class Unauthorized(ParlourError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class LoginRequired(Unauthorized):
    """The site lets only readers signed in through the publisher comment; the widget asks the page to sign in."""

    title = "Sign-in required"
    slug = "login-required"


class OriginNotAllowed(Forbidden):
    title = "URL not on this site"
    slug = "origin-not-allowed"


class StoryClosed(ParlourError):
    status = 409
    title = "Story closed for comments"
    slug = "story-closed"


class EditWindowClosed(Forbidden):
    title = "Edit window closed"
    slug = "edit-window-closed"


class Conflict(ParlourError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class RateLimited(ParlourError):
    """Too many requests; `retry_after` (seconds) becomes the Retry-After header."""

    status = 429
    title = "Too many requests"
    slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after: float, field: str | None = None) -> None:
        super().__init__(detail, field=field, retry_after=retry_after)
        self.retry_after = retry_after


class AuthorRestricted(Forbidden):
    """A banned or suspended author; the detail carries the moderators' message."""

    title = "Commenting restricted"
    slug = "author-restricted"


class PayloadTooLarge(ParlourError):
    status = 413
    title = "Request body too large"
    slug = "payload-too-large"


class UnsupportedMediaType(ParlourError):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class ServiceUnavailable(ParlourError):
    status = 503
    title = "Service unavailable"
    slug = "service-unavailable"


def problem_response(
    status: int, title: str, detail: str, *, slug: str, errors: list[dict[str, Any]] | None = None
) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + slug, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = "2"
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/problem+json")


# Paths that answer as a Google API (the Perspective-compatible endpoint): errors in Google's format there.
GOOGLE_API_PREFIX = "/v1alpha1/"


def google_error(code: int, status: str, message: str) -> Response:
    """An error as Google APIs report it: {"error": {"code", "message", "status"}}."""
    body = {"error": {"code": code, "message": message, "status": status}}
    return Response(orjson.dumps(body), code, headers={"Cache-Control": "no-store"}, media_type="application/json")


def problem_for(error: ParlourError) -> Response:
    errors = [{"field": error.field, "message": error.detail}] if error.field else None
    response = problem_response(error.status, error.title, error.detail, slug=error.slug, errors=errors)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if error.status == 401:  # RFC 9110: a 401 names the scheme; every credential here is a bearer token
        response.headers["WWW-Authenticate"] = 'Bearer realm="parlour"'
    return response


def _field_name(location: tuple[Any, ...]) -> str:
    # ("body", "author", "name") -> "author.name"; query and header parameters keep their name.
    parts = [str(p) for p in location[1:]] if location and location[0] in {"body", "query", "header"} else []
    return ".".join(parts) or (str(location[-1]) if location else "body")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        errors.append({"field": _field_name(tuple(error.get("loc", ()))), "message": message})
    return errors


def storage_full(error: BaseException | None) -> bool:
    """The database refused a write for want of space: SQLITE_FULL (disk, or max_page_count), or PostgreSQL 53100."""
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    return (isinstance(sqlite_code, int) and sqlite_code & 0xFF == SQLITE_FULL) or (
        getattr(error, "sqlstate", None) == "53100"
    )


# Draws a problem (its decoded problem+json body) as an HTML page in the dashboard's layout: dashboard/errorpage.py.
ProblemPage = Callable[[Request, dict[str, Any], int, dict[str, str]], Response]
DASHBOARD_PREFIX = "/admin"


def wants_page(request: Request) -> bool:
    """A browser's own navigation or plain form post in the dashboard: whatever it gets back becomes the page.

    htmx requests and live streams are answered with problem+json (admin.js puts the detail in a toast), and so are
    API clients, which do not ask for text/html.
    """
    path = request.url.path
    return (
        (path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/"))
        and request.headers.get("hx-request") != "true"
        and "text/html" in request.headers.get("accept", "")
    )


def _as_page(request: Request, response: Response, page: ProblemPage | None) -> Response:
    """The same problem, status and headers as an HTML page, for a browser navigating the dashboard."""
    if page is None or response.status_code < 400 or response.media_type != "application/problem+json":
        return response
    if not wants_page(request):
        return response
    headers = {k: v for k, v in response.headers.items() if k not in {"content-type", "content-length"}}
    return page(request, orjson.loads(response.body), response.status_code, headers)


Handler = Callable[[Request, Any], Awaitable[Response]]


def install(app: FastAPI, *, page: ProblemPage | None = None) -> None:
    """Map every error the app can raise to problem+json, so no client ever sees HTML or a bare 500.

    The one exception: a browser navigating the dashboard (see `wants_page`) gets the same problem drawn by `page`.
    """

    def handles(exc_class: type[Exception]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            async def answer(request: Request, exc: Any) -> Response:
                return _as_page(request, await handler(request, exc), page)

            app.add_exception_handler(exc_class, answer)
            return handler

        return register

    @handles(ParlourError)
    async def _domain(_request: Request, exc: ParlourError) -> Response:
        return problem_for(exc)

    @handles(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        malformed = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            position = malformed.get("loc", ("body", 0))[-1]
            reason = malformed.get("ctx", {}).get("error", "invalid JSON")
            detail = f"The body is not valid UTF-8 JSON: {reason} at byte {position}."
            errors = [{"field": "body", "message": detail}]
            return problem_response(400, "Malformed JSON", detail, slug="malformed-json", errors=errors)
        errors = _validation_errors(exc)
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            422, "Invalid input", f"Invalid value for: {fields}", slug="invalid-input", errors=errors
        )

    @handles(DataError)
    async def _data(_request: Request, exc: DataError) -> Response:
        # Input the database cannot store (a NUL byte on PostgreSQL, an out-of-range number) that slipped past
        # validation: still the client's input, never a 500.
        log.warning("database refused input: %s", type(exc.orig).__name__)
        return problem_response(
            422, "Invalid input", "The request holds a value that cannot be stored.", slug="invalid-input"
        )

    @handles(OverflowError)
    async def _overflow(_request: Request, _exc: OverflowError) -> Response:
        # SQLite's driver raises this, unwrapped, for an integer past 64 bits (an id in a path or a body); on
        # PostgreSQL the same input is a DataError above. The client's input either way, never a 500.
        return problem_response(422, "Invalid input", "A number in the request is out of range.", slug="invalid-input")

    @handles(OperationalError)
    async def _unavailable(_request: Request, exc: OperationalError) -> Response:
        if storage_full(exc.orig):
            # Not the client's fault and not over in a moment like a busy database: an operator must free space.
            log.error("database storage full: %s", exc.orig)
            return problem_response(
                507,
                "Insufficient storage",
                "The database has no room for this change; nothing was saved. Reading still works.",
                slug="insufficient-storage",
            )
        log.error("database unavailable: %s", exc.orig)
        return problem_response(
            503,
            "Service unavailable",
            "The database is busy or unavailable; retry shortly.",
            slug="service-unavailable",
        )

    @handles(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(GOOGLE_API_PREFIX):
            # A Perspective client reads error.message and error.status, whatever went wrong.
            status = {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}.get(exc.status_code, "INVALID_ARGUMENT")
            message = "Method not allowed: use POST." if exc.status_code == 405 else str(exc.detail)
            return google_error(exc.status_code, status, message)
        if exc.status_code == 400 and exc.detail == FASTAPI_UNPARSABLE_BODY:
            # FastAPI's answer when decoding the body fails other than as JSON syntax: bytes that are not UTF-8,
            # or nesting too deep for the parser. Said as the other malformed bodies are.
            detail = "The body is not valid UTF-8 JSON (undecodable bytes, or nested too deeply)."
            errors = [{"field": "body", "message": detail}]
            return problem_response(400, "Malformed JSON", detail, slug="malformed-json", errors=errors)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        response = problem_response(exc.status_code, title, str(exc.detail), slug=title.lower().replace(" ", "-"))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
