"""The outermost middleware: a request id for the logs and the response, and request metrics per route template."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlour.infra.clientip import Network, is_trusted
from parlour.infra.logs import accepted_request_id, request_id
from parlour.infra.metrics import Metrics

log = logging.getLogger("parlour.access")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot multiply the series


class Observe:
    """Sets the request id (a trusted proxy's, or new) for the request's log lines and answers with it; measures."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        paths: Sequence[str],
        trusted_proxies: Sequence[Network],
        access_log: bool,
    ) -> None:
        self.app = app
        self.metrics = metrics
        # For requests refused before routing; the router itself sets scope["route"] on every other one.
        self.patterns = [(compile_path(path)[0], path) for path in paths if "{" in path]
        self.fixed = {path for path in paths if "{" not in path}
        self.trusted_proxies = trusted_proxies
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = self._request_id(scope)
        token = request_id.set(rid)
        status = 500
        elapsed: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, elapsed
            if message["type"] == "http.response.start":
                # Latency ends at the headers: a live-update stream's body lasts minutes.
                elapsed = time.perf_counter() - start
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            raise
        finally:
            seconds = elapsed if elapsed is not None else time.perf_counter() - start
            self._record(scope, status, seconds)
            request_id.reset(token)

    def _request_id(self, scope: Scope) -> str:
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        if given is None:
            return accepted_request_id(None, from_trusted_proxy=False)
        client = scope.get("client")
        trusted = client is not None and is_trusted(client[0], self.trusted_proxies)
        return accepted_request_id(given.decode("latin-1"), from_trusted_proxy=trusted)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        route = self._template(scope)
        self.metrics.observe_request(method, route, status, seconds)
        if self.access_log:
            log.info(
                "%s %s %d %.1f ms",
                method,
                scope["path"],
                status,
                seconds * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)},
            )

    def _template(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        # Refused before routing (body too large, not JSON, a CORS preflight), or answered from a cache before
        # it: the route it was meant for.
        if scope["path"] in self.fixed:
            return str(scope["path"])
        return next((template for pattern, template in self.patterns if pattern.match(scope["path"])), UNMATCHED)
