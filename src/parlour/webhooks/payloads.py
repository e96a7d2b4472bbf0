"""The JSON each webhook event carries, read from the database when it is queued; never an e-mail address."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlour.comments.schemas import Sort
from parlour.comments.threads import surrogate_key
from parlour.db.tables import Author, Comment, Site, Story
from parlour.events import AuthorBanned, CommentModerated, CommentPosted, StoryChanged

COMMENT_CREATED = "comment.created"
STORY_CHANGED = "story.changed"
EVENTS = (COMMENT_CREATED, "comment.approved", "comment.rejected", "comment.featured", "author.banned", STORY_CHANGED)
# The first page the widget asks for: what a CDN purging by URL must drop.
FIRST_PAGE_LIMIT = 20
PING = "ping"
_ACTIONS = {"approve": "comment.approved", "reject": "comment.rejected", "feature": "comment.featured"}


def event_type(event: object) -> str | None:
    """The webhook event a domain event becomes, if any."""
    if isinstance(event, CommentPosted):
        return COMMENT_CREATED
    if isinstance(event, CommentModerated):
        return _ACTIONS.get(event.action)
    if isinstance(event, AuthorBanned):
        return "author.banned"
    if isinstance(event, StoryChanged):
        return STORY_CHANGED
    return None


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the millisecond."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(*, event_id: str, event: str, site: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event, "created_at": iso(occurred_at), "site": site, "data": data}


def event_data(session: Session, event: object) -> dict[str, Any] | None:
    """The payload's `data` for a domain event, or None when what it describes is gone."""
    if isinstance(event, CommentPosted):
        return comment_data(session, event.comment_id)
    if isinstance(event, CommentModerated):
        data = comment_data(session, event.comment_id)
        if data is not None:
            data["moderation"] = {"action": event.action, "reason": event.reason}
        return data
    if isinstance(event, AuthorBanned):
        author = session.get(Author, event.author_id)
        if author is None:
            return None
        return {"author": _author(author) | {"status": author.status.value}, "reason": event.reason}
    if isinstance(event, StoryChanged):
        return story_changed_data(session, event.story_id)
    return None


def comment_data(session: Session, comment_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(Comment, Story, Author)
        .join(Story, Story.id == Comment.story_id)
        .join(Author, Author.id == Comment.author_id)
        .where(Comment.id == comment_id)
    ).first()
    if row is None:
        return None
    comment, story, author = row
    return {
        "comment": {
            "id": comment.id,
            "parent_id": comment.parent_id,
            "status": comment.status.value,
            "featured": comment.featured,
            "body": comment.body,
            "html": comment.html,
            "created_at": iso(comment.created_at),
            "edited_at": iso(comment.edited_at),
        },
        "story": {"id": story.id, "url": story.url, "title": story.title},
        "author": _author(author),
    }


def story_changed_data(session: Session, story_id: int) -> dict[str, Any] | None:
    """What a CDN purge needs: the story's surrogate key, and the first pages' paths for purging by URL."""
    row = session.execute(select(Story, Site.slug).join(Site, Site.id == Story.site_id).where(Story.id == story_id))
    found = row.first()
    if found is None:
        return None
    story, slug = found
    paths = [
        "/api/v1/threads?" + urlencode({"site": slug, "url": story.url, "sort": sort.value, "limit": FIRST_PAGE_LIMIT})
        for sort in Sort
    ]
    return {
        "story": {"id": story.id, "url": story.url, "title": story.title},
        "purge": {"surrogate_key": surrogate_key(story.id), "paths": paths},
    }


def ping_data(endpoint_id: int) -> dict[str, Any]:
    return {"webhook_id": endpoint_id, "message": "A test delivery from Parlour."}


def _author(author: Author) -> dict[str, Any]:
    # Named fields only: the author's e-mail address must never leave Parlour.
    return {"id": author.id, "display_name": author.display_name}
