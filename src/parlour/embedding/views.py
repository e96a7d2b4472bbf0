"""Handlers for the widget's files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from parlour.embedding.assets import Wants
from parlour.state import State


def embed_js(request: Request, state: State) -> Response:
    """The widget; embed it with <script src=".../embed.js" data-parlour-site="SLUG" async>."""
    return state.widget.loader("embed.js", _wants(request))


def count_js(request: Request, state: State) -> Response:
    """Fills [data-parlour-count-url] elements on listing pages with comment counts."""
    return state.widget.loader("count.js", _wants(request))


def widget_asset(request: Request, state: State, version: str, path: str) -> Response:
    return state.widget.asset(version, path, _wants(request))


def _wants(request: Request) -> Wants:
    return Wants.of(request.headers.get("accept-encoding"), request.headers.get("if-none-match"))
