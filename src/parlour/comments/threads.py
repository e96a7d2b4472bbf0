"""Thread pages for readers, cached per worker (and in Redis when configured): the page bytes by story version,
the version for a moment."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, select

from parlour.comments import reading
from parlour.comments.reading import PageShape
from parlour.comments.schemas import Counts, Sort, ThreadPage
from parlour.db.engine import Database
from parlour.db.tables import Site, Story
from parlour.errors import NotFound, OriginNotAllowed
from parlour.infra.cache import OneAtATime, ResponseCache, SharedPages, TtlCache
from parlour.sites.schemas import StoryPublic
from parlour.sites.service import get_site, site_settings
from parlour.sites.urls import normalise_story_url, origin_allowed

# Pages are compressed once per version, so a middle level costs nothing per request.
GZIP_LEVEL = 6
# Readers may reuse a page for a few seconds; a CDN may keep serving it while it revalidates.
THREAD_CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"


@dataclass(frozen=True)
class StoryRef:
    """Where a thread stands: its story and the version that keys its cached pages (None: no comments yet)."""

    site_id: int
    story_id: int | None
    version: int
    # When the story was created, in microseconds: with its id, it names the story even if an id is reused after
    # a deletion, so a page shared in Redis is never taken for another story's.
    born: int = 0


PageKey = tuple[object, ...]


def page_key(ref: StoryRef, *, sort: Sort, limit: int, cursor: str | None) -> PageKey:
    """What a page is cached under: the story's version is part of it, so a write makes old pages unreachable."""
    return ("thread", ref.story_id, ref.born, ref.version, sort.value, limit, cursor)


def weak_etag(key: tuple[object, ...]) -> str:
    """A weak ETag naming what a response was made from (a page key, or a body's own bytes)."""
    return 'W/"' + hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest() + '"'


def surrogate_key(story_id: int) -> str:
    """The tag a CDN files every cached page of a story under; the `story.changed` webhook names it for purging."""
    return f"parlour-story-{story_id}"


def page_headers(etag: str, *, story_id: int | None, gzipped: bool | None) -> dict[str, str]:
    """The headers of a thread page (gzipped None: the 304 answer, which has no body)."""
    headers = {"ETag": etag, "Cache-Control": THREAD_CACHE_CONTROL}
    if story_id is not None:
        headers["Surrogate-Key"] = surrogate_key(story_id)
    if gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers


def _micros(moment: datetime | None) -> int:
    if moment is None:
        return 0
    # SQLite hands back naive UTC times, PostgreSQL aware ones.
    return round((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1_000_000)


class ThreadReader:
    """Reads thread pages through two caches.

    A worker trusts a story's version for `ref_seconds` (writes in the same worker forget it at once, and with
    Redis every worker hears of them: see comments/live.py), so a cached page costs no query; another worker's
    write shows within that bound. The page cache is keyed by the version, so a page is never served for a version
    it was not rendered from. With Redis, a page one worker rendered serves the others.
    """

    def __init__(
        self,
        *,
        db: Database,
        pages: ResponseCache,
        ref_seconds: float,
        on_lookup: Callable[[bool], None] | None = None,
        shared: SharedPages | None = None,
    ) -> None:
        self.db = db
        self.pages = pages
        self.shared = shared
        # Told True (hit) or False (miss) for each page lookup: the metrics' cache hit rate.
        self.on_lookup = on_lookup or (lambda _hit: None)
        self.refs: TtlCache[tuple[str, str], StoryRef] = TtlCache(ref_seconds)
        # Comment counts for listing pages (site, the URLs asked) -> the response body, trusted as long as refs.
        # Few entries: one may hold 100 long URLs twice over.
        self.counts: TtlCache[tuple[str, tuple[str, ...]], bytes] = TtlCache(ref_seconds, max_entries=256)
        # A cold worker under load would otherwise render (and compile) one page many times at once.
        self._rendering: OneAtATime[PageKey, tuple[bytes, bytes]] = OneAtATime()
        self._counting: OneAtATime[tuple[int, str, tuple[str, ...]], bytes] = OneAtATime()

    def forget_versions(self) -> None:
        self.refs.clear()
        self.counts.clear()

    def story_ref(self, site_slug: str, canonical_url: str) -> StoryRef:
        """The thread's story and version; 404 for an unknown site, 403 for a URL off the site's origins."""
        cached = self.refs.get((site_slug, canonical_url))
        if cached is not None:
            return cached
        read_at = self.refs.clears  # a version read while a change arrives is used once, not kept
        with self.db.read() as session:
            row = session.execute(
                select(Site.id.label("site_id"), Site.allowed_origins, Story.id, Story.version, Story.created_at)
                .outerjoin(Story, and_(Story.site_id == Site.id, Story.url == canonical_url))
                .where(Site.slug == site_slug)
            ).first()
        if row is None:
            raise NotFound(f"No site with slug {site_slug!r}.", field="site")
        if not origin_allowed(canonical_url, row.allowed_origins):
            raise OriginNotAllowed(f"{canonical_url} is not on an origin this site allows.", field="url")
        ref = StoryRef(site_id=row.site_id, story_id=row.id, version=row.version or 0, born=_micros(row.created_at))
        self.refs.set((site_slug, canonical_url), ref, read_at=read_at)
        return ref

    def cached_page(self, key: PageKey, *, gzipped: bool, count_miss: bool = True) -> bytes | None:
        page = self.pages.get((*key, "gzip") if gzipped else key)
        if page is not None or count_miss:
            self.on_lookup(page is not None)
        return page

    async def rendered_page(
        self, ref: StoryRef, key: PageKey, *, sort: Sort, limit: int, cursor: str | None, gzipped: bool
    ) -> bytes:
        """A page not in this worker's cache, rendered in a worker thread once however many readers ask at once."""
        body, compressed = await self._rendering.run(
            key, lambda: self.render_page(ref, key, sort=sort, limit=limit, cursor=cursor)
        )
        return compressed if gzipped else body

    async def counts_body(self, site_slug: str, urls: tuple[str, ...]) -> bytes:
        """Visible comments per URL as a response body, kept while story versions are trusted; one query at once."""
        key = (site_slug, urls)
        body = self.counts.get(key)
        if body is None:
            # Readers arriving after a change start their own query rather than wait for one that began before it.
            read_at = self.counts.clears
            body = await self._counting.run((read_at, *key), lambda: self._count(key, read_at))
        return body

    def _count(self, key: tuple[str, tuple[str, ...]], read_at: int) -> bytes:
        site_slug, urls = key
        canonical = {given: normalise_story_url(given) for given in urls}
        with self.db.read() as session:
            get_site(session=session, slug=site_slug)
            counts = reading.story_counts(session=session, site_slug=site_slug, urls=set(canonical.values()))
        body = Counts(counts={given: counts.get(c, 0) for given, c in canonical.items()}).model_dump_json().encode()
        self.counts.set(key, body, read_at=read_at)
        return body

    def render_page(
        self, ref: StoryRef, key: PageKey, *, sort: Sort, limit: int, cursor: str | None
    ) -> tuple[bytes, bytes]:
        """Read and serialise one page, keep it (plain and gzipped) under its version's key, and return both.

        Another worker may have rendered it already: with Redis, that copy is taken instead of the database's.
        """
        if self.shared is not None and ref.story_id is not None:
            found = self._from_shared(self.shared, key)
            if found is not None:
                return found
        if ref.story_id is None:
            empty = ThreadPage(story=None, total=0, sort=sort, comments=[], next_cursor=None)
            body = empty.model_dump_json().encode()
            return body, gzip.compress(body, GZIP_LEVEL, mtime=0)
        with self.db.read() as session:
            row = session.execute(
                select(Story, Site).join(Site, Site.id == Story.site_id).where(Story.id == ref.story_id)
            ).first()
            if row is None:
                raise NotFound("The story no longer exists.", field="url")
            story, site = row
            settings = site_settings(site)
            shape = PageShape(limit, settings.replies_preview, settings.preview_depth)
            top = reading.read_top_level(session=session, story=story, sort=sort, cursor=cursor, shape=shape)
            page = ThreadPage(
                story=StoryPublic.model_validate(story, from_attributes=True),
                total=story.comment_count,
                sort=sort,
                comments=top.comments,
                next_cursor=top.next_cursor,
                featured=top.featured,
            )
        body = page.model_dump_json().encode()
        # Stored under the version read before rendering: if a write slipped in between, the page is newer than
        # its key, never older, and the next version's key misses anyway.
        compressed = gzip.compress(body, GZIP_LEVEL, mtime=0)
        self.pages.set(key, body)
        self.pages.set((*key, "gzip"), compressed)
        if self.shared is not None:
            self.shared.set_many({key: body, (*key, "gzip"): compressed})
        return body, compressed

    def _from_shared(self, shared: SharedPages, key: PageKey) -> tuple[bytes, bytes] | None:
        body, compressed = shared.get_many([key, (*key, "gzip")])
        if body is None or compressed is None:
            return None
        self.pages.set(key, body)
        self.pages.set((*key, "gzip"), compressed)
        return body, compressed
