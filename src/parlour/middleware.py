"""ASGI middleware: body size limit, JSON-only writes, CORS for allowed origins, security headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlour.errors import GOOGLE_API_PREFIX, google_error, problem_response

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
CREDENTIAL_HEADERS = ("authorization", "x-parlour-edit-token")
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class RequestGuard:
    """Refuses oversized bodies before they are read in full, and writes that are not JSON (CSRF-safe)."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(headers, scope["path"])
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._call_limited(scope, receive, send)

    def _refusal(self, headers: Headers, path: str) -> Any:
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return problem_response(400, "Bad request", "Invalid Content-Length.", slug="bad-request")
            if int(length) > self.max_body:
                return _too_large(self.max_body, path)
        has_body = length not in (None, "0") or "transfer-encoding" in headers
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if path.startswith("/api/") and has_body and media_type != "application/json":
            return problem_response(
                415, "Unsupported media type", "Send the body as application/json.", slug="unsupported-media-type"
            )
        return None

    async def _call_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count a streamed body; past the limit, answer 413 at once and silence the app's own answer."""
        received = 0
        refused = False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body and not refused:
                    if not started:
                        await _too_large(self.max_body, scope["path"])(scope, receive, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited_receive, guarded_send)


def _too_large(limit: int, path: str) -> Any:
    if path.startswith(GOOGLE_API_PREFIX):  # as Google APIs word it
        return google_error(400, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {limit} bytes.")
    return problem_response(
        413,
        "Request body too large",
        f"The request body is limited to {limit} bytes.",
        slug="payload-too-large",
    )


class SecurityHeaders:
    """Headers on every response: nosniff, referrer policy, a CSP that fits API or page, and no-store by default
    for an answer to a request that carries credentials (an API key, a reader session, an edit token)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_headers = Headers(scope=scope)
        credentialed = any(name in request_headers for name in CREDENTIAL_HEADERS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.append(name.decode(), value.decode())
                if "content-security-policy" not in headers:
                    is_page = headers.get("content-type", "").startswith("text/html")
                    headers.append("Content-Security-Policy", (PAGE_CSP if is_page else API_CSP).decode())
                # What was answered for a credential is no one else's: a handler that knows its answer is
                # public (a thread page) says so with its own Cache-Control.
                if credentialed and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Cors:
    """CORS for the public API: an Origin is echoed only when some site allows it; never with credentials."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Callable[[], frozenset[str]]) -> None:
        self.app = app
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and self._is_allowed(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin if allowed else None, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers.append("Vary", "Origin")
                if allowed and origin:
                    response_headers["Access-Control-Allow-Origin"] = origin
                    response_headers["Access-Control-Expose-Headers"] = "ETag, Retry-After"
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _is_allowed(self, origin: str) -> bool:
        origin = origin.lower()
        if origin in self.allowed_origins():
            return True
        scheme, _, host = origin.partition("://")
        for allowed in self.allowed_origins():
            allowed_scheme, _, allowed_host = allowed.partition("://")
            if allowed_host.startswith("*.") and scheme == allowed_scheme and host.endswith(allowed_host[1:]):
                return True
        return False

    async def _preflight(self, origin: str | None, send: Send) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin is not None:
            headers += [
                (b"access-control-allow-origin", origin.encode()),
                (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE"),
                (
                    b"access-control-allow-headers",
                    b"Content-Type, Idempotency-Key, X-Parlour-Edit-Token, Authorization",
                ),
                (b"access-control-max-age", b"600"),
            ]
        await send({"type": "http.response.start", "status": 204 if origin else 403, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class OriginCache:
    """The union of every site's allowed origins, re-read at most every `ttl` seconds per worker."""

    def __init__(self, load: Callable[[], frozenset[str]], ttl: float = 30.0) -> None:
        self._load = load
        self._ttl = ttl
        self._value: frozenset[str] = frozenset()
        self._expires = 0.0

    def __call__(self) -> frozenset[str]:
        now = time.monotonic()
        if now >= self._expires:
            self._value = self._load()
            self._expires = now + self._ttl
        return self._value
