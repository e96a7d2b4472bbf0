"""Cached thread pages answered before routing (comments/fastread.py) are the route's pages, header for header."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from parlour.comments import fastread, reading
from parlour.comments.fastread import CachedThreadReads
from parlour.comments.schemas import Sort
from parlour.comments.threads import PageKey, StoryRef, ThreadReader, page_key
from parlour.db.engine import Database
from parlour.errors import NotFound
from parlour.infra.cache import MemoryCache
from tests.conftest import ORIGIN, STORY, SiteInfo, post, run_async

PARAMS = {"site": "courier", "url": STORY, "sort": "oldest", "limit": "20"}
# Headers that name the request, not the page.
PER_REQUEST = {"x-request-id", "date"}


def _page_headers(response: Any) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in PER_REQUEST}


@pytest.fixture
def story(client: TestClient, site: SiteInfo) -> None:
    first = post(client, "The first comment.")
    post(client, "A reply.", parent_id=first["id"])


@pytest.mark.usefixtures("story")
class TestSameAnswerEitherWay:
    @pytest.mark.parametrize("encoding", ["identity", "gzip"])
    def test_the_cached_answer_equals_the_routed_one(self, client: TestClient, encoding: str) -> None:
        headers = {"Origin": ORIGIN, "Accept-Encoding": encoding}
        routed = client.get("/api/v1/threads", params=PARAMS, headers=headers)  # a miss: rendered by the route
        cached = client.get("/api/v1/threads", params=PARAMS, headers=headers)
        assert routed.status_code == cached.status_code == 200
        assert cached.content == routed.content
        assert _page_headers(cached) == _page_headers(routed)
        assert cached.headers["access-control-allow-origin"] == ORIGIN
        assert cached.headers["x-request-id"] != routed.headers["x-request-id"]
        assert cached.headers.get("content-encoding") == ("gzip" if encoding == "gzip" else None)
        assert cached.headers["surrogate-key"] == f"parlour-story-{cached.json()['story']['id']}"

    def test_not_modified_on_either_path(self, client: TestClient) -> None:
        etag = client.get("/api/v1/threads", params=PARAMS).headers["etag"]
        again = client.get("/api/v1/threads", params=PARAMS, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag

    @pytest.mark.parametrize("shape", ["strong", "in a list", "any"])
    def test_not_modified_compares_weakly_and_takes_a_list_or_any(self, client: TestClient, shape: str) -> None:
        etag = client.get("/api/v1/threads", params=PARAMS).headers["etag"]
        sent = {"strong": etag.removeprefix("W/"), "in a list": f'"other", {etag}', "any": "*"}[shape]
        for _path in ("routed or cached", "cached"):
            again = client.get("/api/v1/threads", params=PARAMS, headers={"If-None-Match": sent})
            assert again.status_code == 304, (shape, again.status_code)
        counts = client.get("/api/v1/counts", params={"site": "courier", "url": PARAMS["url"]})
        counted = {"strong": counts.headers["etag"].removeprefix("W/"), "in a list": f'"x", {counts.headers["etag"]}'}
        revalidated = client.get(
            "/api/v1/counts",
            params={"site": "courier", "url": PARAMS["url"]},
            headers={"If-None-Match": counted.get(shape, "*")},
        )
        assert revalidated.status_code == 304
        other = client.get("/api/v1/threads", params=PARAMS, headers={"If-None-Match": '"not-this-page"'})
        assert other.status_code == 200
        # `*` is "any current representation": a request that would be refused has none.
        for _path in ("routed", "again"):
            refused = client.get(
                "/api/v1/threads", params=PARAMS | {"cursor": "not-a-cursor"}, headers={"If-None-Match": "*"}
            )
            assert refused.status_code == 422

    def test_a_new_comment_shows_on_the_next_read(self, client: TestClient) -> None:
        before = client.get("/api/v1/threads", params=PARAMS).json()
        client.get("/api/v1/threads", params=PARAMS)  # now cached
        created = post(client, "Posted after the page was cached.")
        after = client.get("/api/v1/threads", params=PARAMS).json()
        assert after["total"] == before["total"] + 1
        assert created["id"] in [comment["id"] for comment in after["comments"]]

    def test_hits_count_in_the_metrics(self, client: TestClient) -> None:
        for _ in range(3):
            client.get("/api/v1/threads", params=PARAMS)
        metrics = client.get("/metrics").text
        hits = [line for line in metrics.splitlines() if line.startswith("parlour_thread_cache_lookups_total")]
        assert any('result="hit"' in line and float(line.split()[-1]) >= 2 for line in hits), hits


@pytest.mark.usefixtures("story")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**PARAMS, "limit": "0"}, "limit"),
        ({**PARAMS, "limit": "101"}, "limit"),
        ({**PARAMS, "sort": "best"}, "sort"),
        ({**PARAMS, "site": "Not A Slug"}, "site"),
        ({**PARAMS, "cursor": "c" * 501}, "cursor"),
        ({**PARAMS, "colour": "blue"}, None),
    ],
)
def test_bad_parameters_still_get_the_routes_errors(
    client: TestClient, params: dict[str, str], field: str | None
) -> None:
    client.get("/api/v1/threads", params=PARAMS)
    client.get("/api/v1/threads", params=PARAMS)  # the page is cached: only the parameters can refuse it
    response = client.get("/api/v1/threads", params=params)
    if field is None:  # unknown query parameters are ignored, as by the route
        assert response.status_code == 200
        return
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


class TestWhatItLeavesToTheRoute:
    """The middleware alone, around an app that records what reached it."""

    def _run(self, middleware: CachedThreadReads, query: bytes, headers: list[tuple[bytes, bytes]]) -> list[Message]:
        scope: Scope = {"type": "http", "method": "GET", "path": "/api/v1/threads", "query_string": query}
        scope["headers"] = headers
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        run_async(lambda: middleware(scope, receive, send))
        return sent

    @pytest.fixture
    def reader(self) -> ThreadReader:
        reader = ThreadReader(db=None, pages=MemoryCache(16), ref_seconds=60)  # type: ignore[arg-type]
        ref = StoryRef(site_id=1, story_id=7, version=3)
        reader.refs.set(("courier", STORY), ref)
        key = page_key(ref, sort=Sort.OLDEST, limit=20, cursor=None)
        reader.pages.set(key, b'{"page": "plain"}')
        reader.pages.set((*key, "gzip"), b"gzipped bytes")
        return reader

    @pytest.fixture
    def routed(self) -> list[Scope]:
        return []

    @pytest.fixture
    def middleware(self, reader: ThreadReader, routed: list[Scope]) -> CachedThreadReads:
        async def route(scope: Scope, _receive: Receive, send: Send) -> None:
            routed.append(scope)
            await send({"type": "http.response.start", "status": 299, "headers": []})

        fastread._thread_query.cache_clear()
        return CachedThreadReads(route, threads=reader)

    def test_a_hit_never_reaches_the_route(self, middleware: CachedThreadReads, routed: list[Scope]) -> None:
        query = f"site=courier&url={STORY}&sort=oldest".encode()
        sent = self._run(middleware, query, [(b"accept-encoding", b"gzip, br")])
        assert routed == []
        assert sent[0]["status"] == 200 and sent[1]["body"] == b"gzipped bytes"
        assert (b"content-encoding", b"gzip") in sent[0]["headers"]
        assert (b"content-length", b"13") in sent[0]["headers"]

    @pytest.mark.parametrize(
        "query",
        [
            f"site=courier&url={STORY}&sort=newest",  # another page, not cached
            f"site=courier&url={STORY}&sort=oldest&limit=21",
            f"site=courier&url={STORY}&sort=oldest&sort=oldest",  # given twice: the route decides
            f"site=courier&url={STORY}&sort=oldest&limit=+20",
            f"site=other&url={STORY}&sort=oldest",  # no version known for it
            "site=courier&url=ftp://news.example/t&sort=oldest",
            f"site=courier&url={STORY}&sort=oldest&extra=1",
        ],
    )
    def test_everything_else_goes_to_the_route(
        self, middleware: CachedThreadReads, routed: list[Scope], query: str
    ) -> None:
        sent = self._run(middleware, query.encode(), [])
        assert len(routed) == 1 and sent[0]["status"] == 299


def test_readers_arriving_during_a_render_wait_for_it() -> None:
    """A cold worker under load renders a page once, not once per waiting reader."""
    reader = ThreadReader(db=None, pages=MemoryCache(16), ref_seconds=60)  # type: ignore[arg-type]
    ref = StoryRef(site_id=1, story_id=7, version=3)
    key = page_key(ref, sort=Sort.TOP, limit=20, cursor=None)
    renders: list[PageKey] = []

    def render(_ref: StoryRef, page: PageKey, **_shape: Any) -> tuple[bytes, bytes]:
        renders.append(page)
        time.sleep(0.05)  # long enough for every reader to arrive while it runs
        return b"plain", b"gzipped"

    reader.render_page = render  # type: ignore[method-assign]

    async def many_readers() -> list[bytes]:
        return await asyncio.gather(
            *(
                reader.rendered_page(ref, key, sort=Sort.TOP, limit=20, cursor=None, gzipped=n % 2 == 0)
                for n in range(16)
            )
        )

    bodies = run_async(many_readers)
    assert renders == [key]
    assert bodies.count(b"gzipped") == bodies.count(b"plain") == 8
    run_async(many_readers)  # the render is over: a later miss renders again
    assert len(renders) == 2


def test_listing_counts_missed_at_once_are_read_once(
    db: Database, site: SiteInfo, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the cached counts expire under load, the readers missing together share one query, not one each."""
    post(client, "First.", site=site.slug)
    reader = ThreadReader(db=db, pages=MemoryCache(16), ref_seconds=60)
    queries: list[set[str]] = []
    story_counts = reading.story_counts

    def slow_counts(**kwargs: Any) -> dict[str, int]:
        queries.append(kwargs["urls"])
        time.sleep(0.05)  # long enough for every reader to arrive while it runs
        return story_counts(**kwargs)

    monkeypatch.setattr(reading, "story_counts", slow_counts)

    async def many_readers(slug: str) -> list[bytes | BaseException]:
        asked = [reader.counts_body(slug, (STORY, f"{ORIGIN}/other")) for _ in range(16)]
        return await asyncio.gather(*asked, return_exceptions=True)

    bodies = run_async(lambda: many_readers(site.slug))
    assert len(queries) == 1 and len(set(bodies)) == 1
    assert json.loads(bodies[0])["counts"] == {STORY: 1, f"{ORIGIN}/other": 0}  # type: ignore[arg-type]
    run_async(lambda: many_readers(site.slug))  # kept: no query at all
    assert len(queries) == 1
    failures = run_async(lambda: many_readers("no-such-site"))  # one failed read answers everyone, and is not kept
    assert all(isinstance(f, NotFound) for f in failures) and len(queries) == 1
    run_async(lambda: many_readers("no-such-site"))
    assert len(queries) == 1  # an unknown site fails before the counts query


def test_counts_read_before_a_change_are_not_kept_after_it(
    db: Database, site: SiteInfo, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comment posted while a counts query runs: that answer goes to its readers, but is not kept, and readers
    arriving after the change do not wait for it."""
    post(client, "First.", site=site.slug)
    reader = ThreadReader(db=db, pages=MemoryCache(16), ref_seconds=60)
    started, release = threading.Event(), threading.Event()
    queries: list[int] = []
    story_counts = reading.story_counts

    def held_counts(**kwargs: Any) -> dict[str, int]:
        queries.append(len(queries))
        found = story_counts(**kwargs)
        if len(queries) == 1:  # the first query has read; it finishes only after the change
            started.set()
            release.wait(5)
        return found

    monkeypatch.setattr(reading, "story_counts", held_counts)

    async def change_during_the_first_query() -> tuple[bytes, bytes]:
        first = asyncio.ensure_future(reader.counts_body(site.slug, (STORY,)))
        await asyncio.to_thread(started.wait, 5)
        post(client, "Second.", site=site.slug)
        reader.forget_versions()  # what the app does when it hears of the new comment
        after = await reader.counts_body(site.slug, (STORY,))  # does not join the first query
        release.set()
        return await first, after

    before, after = run_async(change_during_the_first_query)
    assert json.loads(before)["counts"] == {STORY: 1} and json.loads(after)["counts"] == {STORY: 2}
    assert len(queries) == 2
    kept = run_async(lambda: reader.counts_body(site.slug, (STORY,)))
    assert json.loads(kept)["counts"] == {STORY: 2} and len(queries) == 2  # the later answer is the one kept


def test_a_story_version_read_before_a_change_is_not_kept(db: Database, site: SiteInfo, client: TestClient) -> None:
    post(client, "First.", site=site.slug)
    changing, quiet = (ThreadReader(db=db, pages=MemoryCache(16), ref_seconds=60) for _ in range(2))

    @contextmanager
    def read_then_change() -> Iterator[Session]:
        with db.read() as session:
            yield session
        changing.forget_versions()  # a comment arrived while the version was being read

    changing.db = SimpleNamespace(read=read_then_change)  # type: ignore[assignment]
    assert changing.story_ref(site.slug, STORY).version == quiet.story_ref(site.slug, STORY).version
    assert changing.refs.get((site.slug, STORY)) is None
    assert quiet.refs.get((site.slug, STORY)) is not None
