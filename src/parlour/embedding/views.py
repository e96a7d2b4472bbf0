"""Handlers for the widget's files."""

from __future__ import annotations

from starlette.responses import Response

from parlour.state import State


def embed_js(state: State) -> Response:
    """The widget; embed it with <script src=".../embed.js" data-parlour-site="SLUG" async>."""
    return state.widget.loader("embed.js")


def count_js(state: State) -> Response:
    """Fills [data-parlour-count-url] elements on listing pages with comment counts."""
    return state.widget.loader("count.js")


def widget_asset(state: State, version: str, path: str) -> Response:
    return state.widget.asset(version, path)
