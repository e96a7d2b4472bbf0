"""Staff API for sites and stories, authenticated by the site's API key (or the admin key to create sites)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Header, Query

from parlour.db.tables import Site
from parlour.errors import Unauthorized
from parlour.events import SiteChanged, StoryChanged
from parlour.sites import service
from parlour.sites.schemas import (
    SiteCreate,
    SiteCreated,
    SitePublic,
    SiteUpdate,
    StoryCreate,
    StoryList,
    StoryPublic,
    StoryUpdate,
)
from parlour.state import State

AuthorizationHeader = Annotated[str | None, Header(alias="Authorization", max_length=300)]


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def create_site(state: State, data: SiteCreate, authorization: AuthorizationHeader = None) -> SiteCreated:
    """Create a site (admin key); the response carries the site's API key, once."""
    expected = state.settings.admin_api_key
    given = bearer(authorization)
    if not expected or given is None or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unauthorized("The admin API key is required (Authorization: Bearer KEY).")
    with state.db.write() as session:
        site, api_key = service.create_site(session=session, data=data)
        return SiteCreated(site=_site_public(site), api_key=api_key)


def get_site(state: State, slug: str, authorization: AuthorizationHeader = None) -> SitePublic:
    with state.db.read() as session:
        site = service.authenticate_site_key(session=session, slug=slug, api_key=bearer(authorization))
        return _site_public(site)


def update_site(state: State, slug: str, data: SiteUpdate, authorization: AuthorizationHeader = None) -> SitePublic:
    with state.db.write() as session:
        site = service.authenticate_site_key(session=session, slug=slug, api_key=bearer(authorization))
        updated = _site_public(service.update_site(session=session, site=site, data=data))
        site_id = site.id
    state.bus.publish([SiteChanged(site_id)])
    return updated


def list_stories(
    state: State,
    slug: str,
    authorization: AuthorizationHeader = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> StoryList:
    """The site's stories, newest first; pass next_cursor back as cursor for the next page."""
    with state.db.read() as session:
        site = service.authenticate_site_key(session=session, slug=slug, api_key=bearer(authorization))
        stories = service.list_stories(session=session, site=site, limit=limit + 1, after_id=cursor)
        page = stories[:limit]
        next_cursor = str(page[-1].id) if len(stories) > limit else None
        return StoryList(stories=[_story_public(s) for s in page], next_cursor=next_cursor)


def create_story(state: State, slug: str, data: StoryCreate, authorization: AuthorizationHeader = None) -> StoryPublic:
    with state.db.write() as session:
        site = service.authenticate_site_key(session=session, slug=slug, api_key=bearer(authorization))
        return _story_public(service.create_story(session=session, site=site, data=data))


def get_story(state: State, slug: str, story_id: int, authorization: AuthorizationHeader = None) -> StoryPublic:
    with state.db.read() as session:
        site = service.authenticate_site_key(session=session, slug=slug, api_key=bearer(authorization))
        return _story_public(service.get_story(session=session, site=site, story_id=story_id))


def update_story(
    state: State, slug: str, story_id: int, data: StoryUpdate, authorization: AuthorizationHeader = None
) -> StoryPublic:
    with state.db.write() as session:
        site = service.authenticate_site_key(session=session, slug=slug, api_key=bearer(authorization))
        story = service.get_story(session=session, site=site, story_id=story_id)
        updated = _story_public(service.update_story(session=session, story=story, data=data))
        site_id = site.id
    state.bus.publish([StoryChanged(site_id, story_id, updated.url)])
    return updated


def close_story(state: State, slug: str, story_id: int, authorization: AuthorizationHeader = None) -> StoryPublic:
    return update_story(state, slug, story_id, StoryUpdate(closed=True), authorization)


def open_story(state: State, slug: str, story_id: int, authorization: AuthorizationHeader = None) -> StoryPublic:
    return update_story(state, slug, story_id, StoryUpdate(closed=False), authorization)


def _site_public(site: Site) -> SitePublic:
    return SitePublic(
        slug=site.slug,
        name=site.name,
        allowed_origins=site.allowed_origins,
        settings=service.site_settings(site),
        created_at=site.created_at,
    )


def _story_public(story: object) -> StoryPublic:
    return StoryPublic.model_validate(story, from_attributes=True)
