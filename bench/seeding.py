"""Seeding the same corpus into a server through its public HTTP API, a few connections at a time."""

from __future__ import annotations

import asyncio
import http.cookiejar
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from apis import Api, Request
from corpus import CorpusComment

ATTEMPTS = 5
# Statuses that mean "not done, try again later"; anything else non-2xx is a failure.
RETRY_STATUSES = {429, 503}


@dataclass(frozen=True)
class Thread:
    path: str
    comments: list[CorpusComment]


class SeedingError(RuntimeError):
    pass


class RefuseCookies(http.cookiejar.DefaultCookiePolicy):
    """Isso sets a cookie for every new comment; a client that kept them all would send thousands
    back and be refused with 431. One seeding client stands for many readers, so it keeps none."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False


async def send(client: httpx.AsyncClient, request: Request) -> httpx.Response:
    """Send with bounded retries. Only failures where the server created nothing are retried:
    refused connections and 429/503 (plus Parlour's Idempotency-Key makes its retries safe)."""
    delay = 0.2
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = await client.request(request.method, request.path, headers=request.headers, content=request.body)
        except httpx.ConnectError:
            if attempt == ATTEMPTS:
                raise
        else:
            if response.status_code not in RETRY_STATUSES or attempt == ATTEMPTS:
                return response
            delay = max(delay, float(response.headers.get("Retry-After", "0") or 0))
        await asyncio.sleep(min(delay, 10.0))
        delay *= 2
    raise AssertionError("unreachable")


async def post_comment(
    client: httpx.AsyncClient, api: Api, path: str, comment: CorpusComment, parent: int | None
) -> int:
    request = api.new_comment(path, body=comment.body, author=comment.author, parent=parent, retry_key=uuid.uuid4().hex)
    response = await send(client, request)
    if response.status_code not in (200, 201, 202):
        raise SeedingError(f"{api.name}: POST {request.path} -> {response.status_code}: {response.text[:300]}")
    return api.comment_id(response.json())


async def seed_thread(client: httpx.AsyncClient, api: Api, thread: Thread, advance: Callable[[], None]) -> list[int]:
    """Post every comment of `thread` in corpus order; a reply waits until its parent's id is known.
    Returns the server's id for each corpus index."""
    loop = asyncio.get_running_loop()
    ids: list[asyncio.Future[int]] = [loop.create_future() for _ in thread.comments]
    # The first comment goes alone: Isso under gunicorn creates a thread under a lock that is not
    # shared between workers, so concurrent first posts fail with "UNIQUE constraint failed".
    ids[0].set_result(await post_comment(client, api, thread.path, thread.comments[0], None))
    advance()
    queue = iter(thread.comments[1:])

    async def worker() -> None:
        # Workers take comments in order: a parent is earlier, so it is posted or being posted.
        for comment in queue:
            try:
                parent = None if comment.parent is None else await ids[comment.parent]
                ids[comment.index].set_result(await post_comment(client, api, thread.path, comment, parent))
            except Exception as exc:
                ids[comment.index].set_exception(exc)
                raise
            advance()

    workers = [asyncio.create_task(worker()) for _ in range(api.seed_connections)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        for future in ids:
            # Failures were raised already: mark them read, so asyncio does not log them again.
            if future.done() and not future.cancelled():
                future.exception()
            else:
                future.cancel()
    return [future.result() for future in ids]


async def seed(base_url: str, api: Api, threads: list[Thread], advance: Callable[[], None]) -> dict[str, list[int]]:
    limits = httpx.Limits(max_connections=api.seed_connections, max_keepalive_connections=api.seed_connections)
    cookies = http.cookiejar.CookieJar(policy=RefuseCookies())
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits, cookies=cookies) as client:
        return {t.path: await seed_thread(client, api, t, advance) for t in threads}
