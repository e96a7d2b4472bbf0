"""The latest published comments of a site or a story, as Atom feeds. No HTTP here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlour.comments import markup
from parlour.db.tables import Author, Comment, CommentStatus, Site, Story
from parlour.errors import NotFound
from parlour.feeds.atom import Entry, Feed, render
from parlour.sites.service import get_site

FEED_ENTRIES = 50


def _entries(session: Session, base_url: str, where: list[Any]) -> list[Entry]:
    rows = session.execute(
        select(
            Comment.id,
            Comment.html,
            Comment.created_at,
            Comment.edited_at,
            Author.display_name,
            Author.website,
            Story.url,
            Story.title,
        )
        .join(Author, Author.id == Comment.author_id)
        .join(Story, Story.id == Comment.story_id)
        # Only approved comments: nothing pending, rejected or deleted ever reaches a feed.
        .where(Comment.status == CommentStatus.APPROVED, *where)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(FEED_ENTRIES)
    ).all()
    return [
        Entry(
            id=f"{base_url}/api/v1/comments/{row.id}",
            title=f"{row.display_name} on {row.title or row.url}",
            author=row.display_name,
            author_uri=row.website,
            link=f"{row.url}#comment-{row.id}",
            published=row.created_at,
            updated=row.edited_at or row.created_at,
            # Stored HTML was sanitised when it was written; once more costs little and guards old rows.
            html=markup.sanitise(row.html),
        )
        for row in rows
    ]


def site_feed(*, session: Session, site_slug: str, base_url: str) -> bytes:
    site = get_site(session=session, slug=site_slug)
    entries = _entries(session, base_url, [Comment.site_id == site.id])
    path = f"{base_url}/feeds/{site.slug}/comments.atom"
    return render(
        Feed(
            id=path,
            title=f"Comments on {site.name}",
            author=site.name,
            self_link=path,
            alternate=None,
            updated=entries[0].published if entries else site.created_at,
            entries=entries,
        )
    )


def story_feed(*, session: Session, site_slug: str, story_id: int, base_url: str) -> bytes:
    site = get_site(session=session, slug=site_slug)
    story = _story(session, site, story_id)
    entries = _entries(session, base_url, [Comment.story_id == story.id])
    path = f"{base_url}/feeds/{site.slug}/stories/{story.id}.atom"
    return render(
        Feed(
            id=path,
            title=f"Comments on {story.title or story.url}",
            author=site.name,
            self_link=path,
            alternate=story.url,
            updated=entries[0].published if entries else story.created_at,
            entries=entries,
        )
    )


def _story(session: Session, site: Site, story_id: int) -> Story:
    story = session.get(Story, story_id)
    if story is None or story.site_id != site.id:
        raise NotFound(f"No story {story_id} on this site.", field="story_id")
    return story
