"""What every import must leave true: the denormalised counts and depths exactly as the live service keeps them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from parlour.comments.threading import TOMBSTONES, attach_depth
from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, Site, Story
from parlour.sites.service import site_settings


def assert_consistent(db: Database) -> None:
    with db.read() as session:
        comments = {c.id: c for c in session.scalars(select(Comment))}
        stories = {s.id: s for s in session.scalars(select(Story))}
        max_depth = {s.id: site_settings(s).max_depth for s in session.scalars(select(Site))}
    children: dict[int, list[Comment]] = defaultdict(list)
    for comment in comments.values():
        if comment.parent_id is not None:
            children[comment.parent_id].append(comment)
    listed: dict[int, bool] = {}

    def is_listed(comment: Comment) -> bool:
        if comment.id not in listed:
            count = sum(is_listed(child) for child in children[comment.id])
            assert comment.reply_count == count, f"comment {comment.id}: reply_count {comment.reply_count} != {count}"
            listed[comment.id] = comment.status == CommentStatus.APPROVED or (
                comment.status in TOMBSTONES and count > 0
            )
        return listed[comment.id]

    for comment in comments.values():
        is_listed(comment)
        story = stories[comment.story_id]
        assert comment.site_id == story.site_id
        if comment.parent_id is not None:
            parent = comments[comment.parent_id]
            assert parent.story_id == comment.story_id
            assert comment.depth == attach_depth(parent.depth, max_depth[comment.site_id]), comment.id
        else:
            assert comment.depth == 0
    approved: dict[int, int] = defaultdict(int)
    for comment in comments.values():
        if comment.status == CommentStatus.APPROVED:
            approved[comment.story_id] += 1
    for story in stories.values():
        assert story.comment_count == approved[story.id], f"story {story.url}"


def table_counts(db: Database) -> dict[str, Any]:
    from parlour.db.tables import Base

    with db.read() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
