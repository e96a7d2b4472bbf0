"""Public comment API handlers: parse, call one service function, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from parlour.comments import live, reading, service
from parlour.comments.reading import PageShape
from parlour.comments.schemas import (
    CommentCreate,
    CommentCreated,
    CommentUpdate,
    CommentWithAncestors,
    DraftCheck,
    DraftChecked,
    ReactionState,
    RepliesPage,
    ReportCreate,
    ReportCreated,
    Sort,
)
from parlour.comments.threads import THREAD_CACHE_CONTROL, page_headers, page_key, weak_etag
from parlour.errors import InvalidInput
from parlour.identity.auth import ReaderAuthorization, signed_in
from parlour.infra.clientip import client_ip, reader_key
from parlour.infra.etags import none_match
from parlour.sites.schemas import DEFAULT_PROMPT, SLUG_PATTERN, SignIn, SiteConfigPublic
from parlour.sites.service import get_site, site_settings
from parlour.sites.urls import normalise_story_url
from parlour.state import AppState, State

EditToken = Annotated[str | None, Header(alias="X-Parlour-Edit-Token", max_length=200)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
MAX_COUNT_URLS = 100
# For answers that carry an edit token or a comment's source, or depend on who asks: no cache may keep them.
PRIVATE = {"Cache-Control": "no-store"}
# A permalink answers its author (proven by either header) differently from everyone else.
VARY_ON_PROOF = "X-Parlour-Edit-Token, Authorization"


async def get_thread(
    request: Request,
    state: State,
    site: Annotated[str, Query(min_length=1, max_length=64, pattern=SLUG_PATTERN)],
    url: Annotated[str, Query(min_length=1, max_length=2048)],
    sort: Sort = Sort.TOP,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """One page of a story's top-level comments, each with its first replies."""
    # A cached page is usually answered before routing (comments/fastread.py); this handles the rest: misses,
    # unknown stories and bad parameters. Cached parts are still served on the event loop; only the database
    # goes to a thread.
    canonical = normalise_story_url(url)
    threads = state.threads
    ref = threads.refs.get((site, canonical))
    if ref is None:
        ref = await run_in_threadpool(threads.story_ref, site, canonical)
    key = page_key(ref, sort=sort, limit=limit, cursor=cursor)
    etag = weak_etag(key)
    condition = request.headers.get("if-none-match")
    # A tag the client holds names a page that was served; `*` waits until this page renders (a bad cursor: 422).
    if none_match(condition, etag, exists=False):
        return Response(status_code=304, headers=page_headers(etag, story_id=ref.story_id, gzipped=None))
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    body = threads.cached_page(key, gzipped=gzipped)
    if body is None:
        body = await threads.rendered_page(ref, key, sort=sort, limit=limit, cursor=cursor, gzipped=gzipped)
    if none_match(condition, etag):
        return Response(status_code=304, headers=page_headers(etag, story_id=ref.story_id, gzipped=None))
    return Response(
        body, media_type="application/json", headers=page_headers(etag, story_id=ref.story_id, gzipped=gzipped)
    )


async def get_stream(
    state: State,
    site: Annotated[str, Query(min_length=1, max_length=64, pattern=SLUG_PATTERN)],
    url: Annotated[str, Query(min_length=1, max_length=2048)],
) -> StreamingResponse:
    """Server-Sent Events for one thread: `comment` for each newly published comment, `changed` for the rest."""
    canonical = normalise_story_url(url)
    ref = await run_in_threadpool(state.threads.story_ref, site, canonical)
    stream = live.event_stream(state.broker, live.channel_for(ref.site_id, canonical))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def get_config(
    state: State, site: Annotated[str, Query(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
) -> Response:
    """The site's public settings for the widget: prompt and limits."""
    with state.db.read() as session:
        found = get_site(session=session, slug=site)
        settings = site_settings(found)
    config = SiteConfigPublic(
        site=found.slug,
        prompt=None if settings.prompt == DEFAULT_PROMPT else settings.prompt,
        max_body_chars=settings.max_body_chars,
        max_name_chars=settings.max_name_chars,
        edit_window_seconds=settings.edit_window_seconds,
        max_depth=settings.max_depth,
        moderation_mode=settings.moderation_mode,
        sso=settings.sso_algorithm is not None,
        sign_in_required=settings.sign_in is SignIn.REQUIRED,
        notifications=settings.notify_readers and state.settings.smtp_host is not None,
    )
    return Response(
        config.model_dump_json(), media_type="application/json", headers={"Cache-Control": "public, max-age=60"}
    )


def get_replies(
    state: State,
    comment_id: int,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> RepliesPage:
    """Continue any branch: the listed replies of one comment, oldest first."""
    with state.db.read() as session:
        parent, site = service.listed_comment(session=session, comment_id=comment_id)
        settings = site_settings(site)
        shape = PageShape(limit, settings.replies_preview, settings.preview_depth)
        replies, next_cursor = reading.read_replies(session=session, parent=parent, cursor=cursor, shape=shape)
    return RepliesPage(parent_id=comment_id, replies=replies, next_cursor=next_cursor)


def get_comment(
    state: State,
    response: Response,
    comment_id: int,
    token: EditToken = None,
    authorization: ReaderAuthorization = None,
) -> CommentWithAncestors:
    """One comment with its ancestors (permalinks). Its author, proven by the token, also sees the source."""
    response.headers["Vary"] = VARY_ON_PROOF
    if token is not None or authorization is not None:
        response.headers.update(PRIVATE)
    reader = signed_in(state.db, authorization)
    with state.db.read() as session:
        return service.permalink(session=session, comment_id=comment_id, token=token, reader=reader)


def post_comment(
    request: Request,
    response: Response,
    state: State,
    data: CommentCreate,
    idempotency_key: IdempotencyKeyHeader = None,
    authorization: ReaderAuthorization = None,
) -> CommentCreated:
    """Post a comment or a reply; the response carries the edit token, once."""
    response.headers.update(PRIVATE)
    context = service.PostContext(
        secret_key=state.settings.secret_key,
        limiter=state.limiter,
        client_address=_client_address(request, state),
        idempotency_key=idempotency_key,
        reader=signed_in(state.db, authorization),
    )
    result = service.post_comment(db=state.db, scorer=state.scorer, data=data, context=context, record=state.bus.record)
    state.bus.publish(result.events, recorded=result.recorded)
    created: CommentCreated = result.value
    return created


def check_draft(request: Request, state: State, data: DraftCheck) -> DraftChecked:
    """The nudge: would this draft be held, and which words would hold it? Nothing is stored."""
    context = service.PostContext(
        secret_key=state.settings.secret_key, limiter=state.limiter, client_address=_client_address(request, state)
    )
    return service.check_draft(db=state.db, scorer=state.scorer, data=data, context=context)


def edit_comment(
    request: Request,
    response: Response,
    state: State,
    comment_id: int,
    data: CommentUpdate,
    token: EditToken = None,
    authorization: ReaderAuthorization = None,
) -> object:
    response.headers.update(PRIVATE)  # the source and the moderation reasons, for the author only
    context = service.PostContext(
        secret_key=state.settings.secret_key,
        limiter=state.limiter,
        client_address=_client_address(request, state),
        reader=signed_in(state.db, authorization),
    )
    result = service.edit_comment(
        db=state.db, scorer=state.scorer, comment_id=comment_id, token=token, body=data.body, context=context
    )
    state.bus.publish(result.events)
    return result.value


def delete_comment(
    state: State, comment_id: int, token: EditToken = None, authorization: ReaderAuthorization = None
) -> Response:
    reader = signed_in(state.db, authorization)
    result = service.delete_comment(db=state.db, comment_id=comment_id, token=token, reader=reader)
    state.bus.publish(result.events)
    return Response(status_code=204, headers=PRIVATE)


def put_reaction(
    request: Request, state: State, comment_id: int, authorization: ReaderAuthorization = None
) -> ReactionState:
    return _react(request, state, comment_id, authorization, on=True)


def delete_reaction(
    request: Request, state: State, comment_id: int, authorization: ReaderAuthorization = None
) -> ReactionState:
    return _react(request, state, comment_id, authorization, on=False)


def post_report(
    request: Request, state: State, comment_id: int, data: ReportCreate, authorization: ReaderAuthorization = None
) -> ReportCreated:
    key, author_id = _reader_key(request, state, comment_id, authorization)
    result = service.report_comment(db=state.db, comment_id=comment_id, reader_key=key, author_id=author_id, data=data)
    state.bus.publish(result.events)
    return ReportCreated(comment_id=comment_id, reason=data.reason)


async def get_counts(
    request: Request,
    state: State,
    site: Annotated[str, Query(min_length=1, max_length=64, pattern=SLUG_PATTERN)],
    url: Annotated[list[str], Query(min_length=1)],
) -> Response:
    """Visible comments per story URL, for listing pages; cacheable."""
    if len(url) > MAX_COUNT_URLS:
        raise InvalidInput(f"At most {MAX_COUNT_URLS} URLs per request.", field="url")
    # Listing pages ask for the same URLs again and again: kept for as long as story versions are trusted.
    body = await state.threads.counts_body(site, tuple(url))
    etag = weak_etag(("counts", body))
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": THREAD_CACHE_CONTROL})
    return _json(body, etag=etag)


def _react(request: Request, state: State, comment_id: int, authorization: str | None, *, on: bool) -> ReactionState:
    key, author_id = _reader_key(request, state, comment_id, authorization)
    result = service.set_reaction(db=state.db, comment_id=comment_id, reader_key=key, author_id=author_id, on=on)
    state.bus.publish(result.events)
    value: ReactionState = result.value
    return value


def _reader_key(request: Request, state: State, comment_id: int, authorization: str | None) -> tuple[str, int | None]:
    """The network key that limits a reaction or report to one per reader, and the signed-in reader's author id
    (kept only for their own data download; None when anonymous or signed in to another site)."""
    reader = signed_in(state.db, authorization)
    with state.db.read() as session:
        _comment, site = service.listed_comment(session=session, comment_id=comment_id)
        site_id = site.id
    key = reader_key(secret_key=state.settings.secret_key, site_id=site_id, address=_client_address(request, state))
    return key, reader.author_id if reader is not None and reader.site_id == site_id else None


def _client_address(request: Request, state: AppState) -> str:
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies)


def _json(body: bytes, *, etag: str | None) -> Response:
    headers = {"Cache-Control": THREAD_CACHE_CONTROL}
    if etag:
        headers["ETag"] = etag
    return Response(body, media_type="application/json", headers=headers)
