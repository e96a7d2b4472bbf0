"""Status changes and the counters that follow them: story comment counts, reply counts, cache versions."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parlour.comments.threading import TOMBSTONES, is_listed
from parlour.db.tables import Comment, CommentStatus, Story


def set_status(session: Session, comment: Comment, status: CommentStatus) -> None:
    """Change a comment's status and keep the story's count and the parents' reply counts true."""
    was_listed = is_listed(comment.status, comment.reply_count)
    was_approved = comment.status == CommentStatus.APPROVED
    comment.status = status
    session.flush()
    now_approved = status == CommentStatus.APPROVED
    if was_approved != now_approved:
        session.execute(
            update(Story)
            .where(Story.id == comment.story_id)
            .values(comment_count=Story.comment_count + (1 if now_approved else -1))
            .execution_options(synchronize_session=False)
        )
    now_listed = is_listed(status, comment.reply_count)
    if was_listed != now_listed:
        _propagate_listed(session, comment.parent_id, 1 if now_listed else -1)


def count_new_comment(session: Session, comment: Comment, *, became_listed: bool) -> None:
    """A new comment: count it on its story and its parent chain when readers can see it."""
    if comment.status == CommentStatus.APPROVED:
        session.execute(
            update(Story)
            .where(Story.id == comment.story_id)
            .values(comment_count=Story.comment_count + 1, version=Story.version + 1)
            .execution_options(synchronize_session=False)
        )
    if became_listed:
        _propagate_listed(session, comment.parent_id, 1)


def _propagate_listed(session: Session, parent_id: int | None, delta: int) -> None:
    # A tombstone is listed only while it holds listed replies, so a change can climb the chain.
    while parent_id is not None:
        count, status, grandparent = session.execute(
            update(Comment)
            .where(Comment.id == parent_id)
            .values(reply_count=Comment.reply_count + delta)
            .returning(Comment.reply_count, Comment.status, Comment.parent_id)
            .execution_options(synchronize_session=False)
        ).one()
        tombstone_flipped = CommentStatus(status) in TOMBSTONES and count == (1 if delta > 0 else 0)
        if not tombstone_flipped:
            return
        parent_id = grandparent


def bump_story(session: Session, story_id: int) -> None:
    session.execute(
        update(Story)
        .where(Story.id == story_id)
        .values(version=Story.version + 1)
        .execution_options(synchronize_session=False)
    )


def story_keys(session: Session, story_id: int) -> tuple[int, int, str]:
    """(site id, story id, story URL): what events name a story by."""
    row = session.execute(select(Story.site_id, Story.id, Story.url).where(Story.id == story_id)).one()
    return row.site_id, row.id, row.url
