"""The surge guard: a story whose recent comments are mostly held or rejected switches itself to pre-moderation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parlour import events
from parlour.clock import utcnow
from parlour.db.tables import Comment, CommentStatus, ModerationAction, Story
from parlour.sites.schemas import ModerationMode, SiteSettings

SURGE_WINDOW = timedelta(minutes=10)
_HELD_OR_REJECTED = (CommentStatus.PENDING, CommentStatus.REJECTED)


def surge_guard(
    *, session: Session, story: Story, settings: SiteSettings, status: CommentStatus
) -> events.StoryPremoderated | None:
    """Called in the write that stores a comment; acts at most once per story until a moderator resets it."""
    # Only a held or rejected comment can raise the share, and a story in pre-moderation has nothing to guard.
    if status not in _HELD_OR_REJECTED or _premoderated(story, settings):
        return None
    since = utcnow() - SURGE_WINDOW
    rows = session.execute(
        select(Comment.status, func.count())
        .where(Comment.story_id == story.id, Comment.created_at >= since)
        .group_by(Comment.status)
    ).all()
    total = sum(count for _status, count in rows)
    held = sum(count for row_status, count in rows if CommentStatus(row_status) in _HELD_OR_REJECTED)
    if total < settings.surge_min_comments or held / total < settings.surge_share:
        return None
    story.moderation_mode = ModerationMode.PRE.value
    story.surge_at = utcnow()
    share = held / total
    session.add(
        ModerationAction(
            site_id=story.site_id,
            story_id=story.id,
            action="surge-guard",
            reason=f"{held} of {total} comments in 10 minutes held or rejected ({share:.0%})",
            details={"held": held, "total": total},
            created_at=utcnow(),
        )
    )
    session.flush()
    return events.StoryPremoderated(story.site_id, story.id, share)


def _premoderated(story: Story, settings: SiteSettings) -> bool:
    mode = story.moderation_mode or settings.moderation_mode
    return ModerationMode(mode) is ModerationMode.PRE
