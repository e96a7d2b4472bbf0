"""A site's denormalised counters set from its rows, as the live service keeps them (see comments/status.py).

Restore stores the counters a file carries; a file cut short, or edited, carries counters its rows do not bear
out (a story saying 12 comments over 2). This makes them agree, whatever the file said.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Update, and_, func, or_, select, update
from sqlalchemy.orm import Session

from parlour.comments.threading import TOMBSTONES
from parlour.db.tables import CommentStatus
from parlour.transfer.serialise import table


def recount(session: Session, site_id: int) -> int:
    """Set every counter of the site's stories and comments from the rows; returns how many were wrong."""
    stories, comments = table("stories"), table("comments")
    reactions, reports = table("reactions"), table("reports")
    approved = (
        select(func.count())
        .select_from(comments)
        .where(comments.c.story_id == stories.c.id, comments.c.status == CommentStatus.APPROVED.value)
        .scalar_subquery()
    )
    wrong = _fix(session, update(stories).where(stories.c.site_id == site_id), stories.c.comment_count, approved)
    in_site = update(comments).where(comments.c.site_id == site_id)
    reacted = select(func.count()).select_from(reactions).where(reactions.c.comment_id == comments.c.id)
    wrong += _fix(session, in_site, comments.c.reaction_count, reacted.scalar_subquery())
    reported = (
        select(func.count())
        .select_from(reports)
        .where(reports.c.comment_id == comments.c.id, reports.c.resolved_at.is_(None))
    )
    wrong += _fix(session, in_site, comments.c.open_reports, reported.scalar_subquery())
    # Listed replies (threading.is_listed): approved ones, and tombstones that hold listed replies themselves.
    # A tombstone's own count decides whether its parent counts it, so repeat until nothing changes: each pass
    # settles one more level, and the replies form a tree (each row's parent was inserted before it).
    child = comments.alias("child")
    listed = (
        select(func.count())
        .select_from(child)
        .where(
            child.c.parent_id == comments.c.id,
            or_(
                child.c.status == CommentStatus.APPROVED.value,
                and_(child.c.status.in_([s.value for s in TOMBSTONES]), child.c.reply_count > 0),
            ),
        )
        .scalar_subquery()
    )
    while changed := _fix(session, in_site, comments.c.reply_count, listed):
        wrong += changed
    return wrong


def _fix(session: Session, statement: Update, column: ColumnElement[Any], value: ColumnElement[Any]) -> int:
    result = session.execute(
        statement.where(column != value).values({column.key: value}).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
