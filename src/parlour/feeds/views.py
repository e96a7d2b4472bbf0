"""Feed handlers: parse, call one service function, answer with ETag and Cache-Control (304 when unchanged).

GET and HEAD share the handlers: a HEAD gets the same status and headers (Content-Length included), no body.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Path, Request
from starlette.responses import Response

from parlour.db.tables import MAX_ID
from parlour.feeds import service
from parlour.infra.etags import none_match
from parlour.sites.schemas import SLUG_PATTERN
from parlour.state import State

ATOM_TYPE = "application/atom+xml; charset=utf-8"
FEED_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
SiteSlug = Annotated[str, Path(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
StoryId = Annotated[int, Path(ge=1, le=MAX_ID)]


def site_comments(request: Request, state: State, site: SiteSlug) -> Response:
    """The latest published comments of a site, as Atom."""
    with state.db.read() as session:
        body = service.site_feed(session=session, site_slug=site, base_url=state.settings.public_base_url)
    return _cached(request, body)


def story_comments(request: Request, state: State, site: SiteSlug, story_id: StoryId) -> Response:
    """The latest published comments of one story, as Atom."""
    with state.db.read() as session:
        body = service.story_feed(
            session=session, site_slug=site, story_id=story_id, base_url=state.settings.public_base_url
        )
    return _cached(request, body)


def _cached(request: Request, body: bytes) -> Response:
    # The ETag is the content's hash: right whatever changed (a comment, a name, a moderation decision).
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": FEED_CACHE_CONTROL}
    # Only reached for a feed that exists (an unknown site or story raised NotFound), so `*` matches here.
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(media_type=ATOM_TYPE, headers=headers | {"Content-Length": str(len(body))})
    return Response(body, media_type=ATOM_TYPE, headers=headers)
