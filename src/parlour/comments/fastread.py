"""Cached thread pages answered before routing.

`GET /api/v1/threads` is most of a comment server's traffic, and a page that is already cached costs almost
nothing to find. FastAPI's parameter parsing and dependency solving cost more than the rest of such a request
(two thirds of its CPU time when measured). This middleware answers a request only when every parameter is
plainly valid and both the story's version and the page are in this worker's caches; everything else (misses,
unknown stories, anything that needs an error message) goes on to the route in comments/views.py, which stays
the one definition of the endpoint and its OpenAPI entry. Both use the same key, ETag and headers from
comments/threads.py, so a page cannot differ by the path that served it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from parlour.comments.schemas import Sort
from parlour.comments.threads import ThreadReader, page_headers, page_key, weak_etag
from parlour.errors import InvalidInput
from parlour.infra.etags import none_match
from parlour.sites.schemas import SLUG_PATTERN
from parlour.sites.urls import MAX_URL_LENGTH, normalise_story_url

THREADS_PATH = "/api/v1/threads"
# The same bounds as get_thread's parameters; anything outside them is left to the route to refuse.
MAX_SLUG = 64
MAX_CURSOR = 500
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
LIMIT = re.compile(r"[0-9]{1,3}")
SLUG = re.compile(SLUG_PATTERN)
SORTS = {sort.value: sort for sort in Sort}


class CachedThreadReads:
    def __init__(self, app: ASGIApp, *, threads: ThreadReader) -> None:
        self.app = app
        self.threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == THREADS_PATH:
            answer = self._cached_answer(scope)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _cached_answer(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        query = _thread_query(scope["query_string"])
        if query is None:
            return None
        site, canonical, sort, limit, cursor = query
        ref = self.threads.refs.get((site, canonical))
        if ref is None:
            return None
        key = page_key(ref, sort=sort, limit=limit, cursor=cursor)
        etag = weak_etag(key)
        if_none_match, accept_encoding = _request_headers(scope["headers"])
        if none_match(if_none_match, etag, exists=False):
            return 304, _encode(page_headers(etag, story_id=ref.story_id, gzipped=None)), b""
        gzipped = b"gzip" in accept_encoding
        body = self.threads.cached_page(key, gzipped=gzipped, count_miss=False)
        if body is None:
            return None
        if none_match(if_none_match, etag):  # `*`: a cached page is one that rendered
            return 304, _encode(page_headers(etag, story_id=ref.story_id, gzipped=None)), b""
        headers = _encode(page_headers(etag, story_id=ref.story_id, gzipped=gzipped))
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        return 200, headers, body


@lru_cache(maxsize=2048)
def _thread_query(raw: bytes) -> tuple[str, str, Sort, int, str | None] | None:
    """The parameters when each is given at most once and plainly valid; None sends the request to the route.

    Kept per query string: readers of one story send the same one, and parsing and normalising it cost more than
    the rest of a cache hit.
    """
    # Decoded as Starlette decodes them, so both paths see the same values.
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= {"site", "url", "sort", "limit", "cursor"}:
        return None
    site, url = params.get("site", ""), params.get("url", "")
    sort = SORTS.get(params.get("sort", Sort.TOP.value))
    limit_text = params.get("limit", str(DEFAULT_LIMIT))
    cursor = params.get("cursor")
    plainly_valid = (
        0 < len(site) <= MAX_SLUG
        and SLUG.match(site) is not None
        and 0 < len(url) <= MAX_URL_LENGTH
        and sort is not None
        and LIMIT.fullmatch(limit_text) is not None
        and 1 <= int(limit_text) <= MAX_LIMIT
        and (cursor is None or len(cursor) <= MAX_CURSOR)
    )
    canonical = _canonical(url) if plainly_valid else None
    if canonical is None or sort is None:
        return None
    return site, canonical, sort, int(limit_text), cursor


def _canonical(url: str) -> str | None:
    try:
        return normalise_story_url(url)
    except InvalidInput:
        return None


def _request_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bytes]:
    if_none_match: str | None = None
    accept_encoding = b""
    seen_encoding = False
    for name, value in headers:  # the first of each, as Starlette's Headers.get takes
        if name == b"if-none-match" and if_none_match is None:
            if_none_match = value.decode("latin-1")
        elif name == b"accept-encoding" and not seen_encoding:
            accept_encoding, seen_encoding = value, True
    return if_none_match, accept_encoding


def _encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
