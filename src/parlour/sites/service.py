"""Sites and stories: creation, settings, API keys and story look-up by canonical URL. No HTTP here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.tables import Site, Story
from parlour.errors import Conflict, InvalidInput, NotFound, OriginNotAllowed, Unauthorized
from parlour.sites.schemas import FROM_STORAGE, STORED, SiteCreate, SiteSettings, SiteUpdate, StoryCreate, StoryUpdate
from parlour.sites.urls import normalise_origin, normalise_story_url, origin_allowed

API_KEY_PREFIX = "pk_"
# A key that may only score text at the Perspective-compatible endpoint, for tools such as Coral Talk.
ANALYZE_KEY_PREFIX = "pa_"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_site(*, session: Session, data: SiteCreate) -> tuple[Site, str]:
    """Create a site and return it with its API key, which is shown once and stored only as a hash."""
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    site = Site(
        slug=data.slug,
        name=data.name,
        allowed_origins=sorted({normalise_origin(o) for o in data.allowed_origins}),
        settings=data.settings.model_dump(mode="json", context=STORED),
        api_key_hash=hash_api_key(api_key),
        created_at=utcnow(),
    )
    session.add(site)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A site with slug {data.slug!r} exists already.", field="slug") from exc
    return site, api_key


def update_site(*, session: Session, site: Site, data: SiteUpdate) -> Site:
    if data.name is not None:
        site.name = data.name
    if data.allowed_origins is not None:
        site.allowed_origins = sorted({normalise_origin(o) for o in data.allowed_origins})
    if data.settings is not None:
        merged = site_settings(site).model_dump() | data.settings.model_dump(exclude_unset=True)
        try:
            checked = SiteSettings.model_validate(merged)
        except ValidationError as exc:
            # Settings that only fail together (sign_in "required" without a key) are the client's input too.
            error = exc.errors()[0]
            where = ".".join(str(part) for part in ("settings", *error["loc"]))
            raise InvalidInput(str(error["msg"]), field=where) from exc
        site.settings = checked.model_dump(mode="json", context=STORED)
    session.flush()
    return site


def rotate_api_key(*, session: Session, site: Site) -> str:
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    site.api_key_hash = hash_api_key(api_key)
    session.flush()
    return api_key


def site_settings(site: Site) -> SiteSettings:
    return SiteSettings.model_validate(site.settings, context=FROM_STORAGE)


# Statements every post runs, built once: SQLAlchemy caches the SQL of a statement, but building the statement
# and its cache key on each call cost more than SQLite running it.
_SITE_BY_SLUG = select(Site).where(Site.slug == bindparam("slug"))
_STORY_BY_URL = select(Story).where(Story.site_id == bindparam("site_id"), Story.url == bindparam("url"))


def get_site(*, session: Session, slug: str) -> Site:
    site = session.scalar(_SITE_BY_SLUG, {"slug": slug})
    if site is None:
        raise NotFound(f"No site with slug {slug!r}.", field="site")
    return site


def list_sites(*, session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.slug)))


def authenticate_site_key(*, session: Session, slug: str, api_key: str | None) -> Site:
    """The site whose API key this is; the same error whether the site or the key is wrong."""
    site = session.scalar(_SITE_BY_SLUG, {"slug": slug})
    expected = site.api_key_hash if site is not None else hash_api_key("")
    if api_key is None or not hmac.compare_digest(expected, hash_api_key(api_key)) or site is None:
        raise Unauthorized("A valid API key for this site is required (Authorization: Bearer KEY).")
    return site


def site_for_api_key(*, session: Session, api_key: str) -> Site | None:
    """The site a key belongs to, for clients that send only a key (Perspective's `?key=`)."""
    if not api_key.startswith(API_KEY_PREFIX):
        return None
    return session.scalar(select(Site).where(Site.api_key_hash == hash_api_key(api_key)))


def analyze_key(*, secret_key: str, site: Site) -> str:
    """The site's analyze-only key: derived from the server's secret and the site's staff key, nothing stored.

    Rotating the staff key (or changing the secret key) changes it; it cannot do anything the staff key can,
    because no route but the Perspective endpoint accepts it.
    """
    message = f"perspective-analyze:{site.slug}:{site.api_key_hash}".encode()
    mac = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return f"{ANALYZE_KEY_PREFIX}{site.slug}.{base64.urlsafe_b64encode(mac[:24]).decode()}"


def site_for_analyze_key(*, session: Session, secret_key: str, key: str) -> Site | None:
    """The site an analyze-only key belongs to, or None."""
    slug, dot, _mac = key.removeprefix(ANALYZE_KEY_PREFIX).partition(".")
    if not key.startswith(ANALYZE_KEY_PREFIX) or not dot:
        return None
    site = session.scalar(_SITE_BY_SLUG, {"slug": slug})
    # As bytes: compare_digest refuses str with non-ASCII characters, which a client may send.
    if site is None or not hmac.compare_digest(analyze_key(secret_key=secret_key, site=site).encode(), key.encode()):
        return None
    return site


def find_story(*, session: Session, site: Site, url: str) -> Story | None:
    return session.scalar(_STORY_BY_URL, {"site_id": site.id, "url": normalise_story_url(url)})


def allowed_story_url(*, site: Site, url: str) -> str:
    """The canonical form of a story URL, if it is on one of the site's origins."""
    canonical = normalise_story_url(url)
    if not origin_allowed(canonical, site.allowed_origins):
        raise OriginNotAllowed(f"{canonical} is not on an origin this site allows.", field="url")
    return canonical


def story_for_comment(*, session: Session, site: Site, url: str) -> Story:
    """The story a new comment belongs to, created on first use when its URL is on an allowed origin."""
    canonical = normalise_story_url(url)
    if not origin_allowed(canonical, site.allowed_origins):
        raise OriginNotAllowed(f"{canonical} is not on an origin this site allows.", field="url")
    story = session.scalar(_STORY_BY_URL, {"site_id": site.id, "url": canonical})
    if story is not None:
        return story
    # Two first comments may race to create the story; the unique constraint picks one.
    with session.begin_nested():
        try:
            story = Story(site_id=site.id, url=canonical, created_at=utcnow())
            session.add(story)
            session.flush()
            return story
        except IntegrityError:
            pass
    story = session.scalar(select(Story).where(Story.site_id == site.id, Story.url == canonical))
    assert story is not None
    return story


def create_story(*, session: Session, site: Site, data: StoryCreate) -> Story:
    canonical = normalise_story_url(data.url)
    if not origin_allowed(canonical, site.allowed_origins):
        raise OriginNotAllowed(f"{canonical} is not on an origin this site allows.", field="url")
    if find_story(session=session, site=site, url=canonical) is not None:
        raise Conflict(f"A story with URL {canonical} exists already.", field="url")
    story = Story(site_id=site.id, url=canonical, created_at=utcnow(), **data.model_dump(exclude={"url"}))
    session.add(story)
    session.flush()
    return story


def get_story(*, session: Session, site: Site, story_id: int) -> Story:
    story = session.get(Story, story_id)
    if story is None or story.site_id != site.id:
        raise NotFound(f"No story {story_id} on this site.", field="story_id")
    return story


def update_story(*, session: Session, story: Story, data: StoryUpdate) -> Story:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        setattr(story, name, value)
    story.version += 1
    session.flush()
    return story


def list_stories(*, session: Session, site: Site, limit: int, after_id: int | None) -> list[Story]:
    query = select(Story).where(Story.site_id == site.id).order_by(Story.id.desc()).limit(limit)
    if after_id is not None:
        query = query.where(Story.id < after_id)
    return list(session.scalars(query))
