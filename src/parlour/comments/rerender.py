"""Stored HTML rendered again from its Markdown source once the renderer or its allowlist has changed.

Each comment records the `markup.MARKUP_VERSION` it was rendered with; `parlour db upgrade` brings older ones up
to date, so a tightened allowlist reaches comments written before it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, Row, func, select, update
from sqlalchemy.orm import Session

from parlour.comments import markup
from parlour.comments.status import bump_story
from parlour.db.engine import Database
from parlour.db.tables import Comment

BATCH = 500


def _outdated() -> ColumnElement[bool]:
    return Comment.markup_version < markup.MARKUP_VERSION


def count_outdated(*, db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Comment).where(_outdated())) or 0


def rerender_outdated(*, db: Database, on_batch: Callable[[int], None] = lambda n: None) -> int:
    """Render every comment of an older markup version again, a batch per short write; returns how many."""
    done, after = 0, 0
    while True:
        with db.read() as session:
            rows = session.execute(
                select(Comment.id, Comment.story_id, Comment.body, (Comment.html != "").label("shown"))
                .where(_outdated(), Comment.id > after)
                .order_by(Comment.id)
                .limit(BATCH)
            ).all()
        if not rows:
            return done
        # A comment with no HTML shows nothing (its author deleted it; the text kept for moderators until the
        # retention purge): it stays without HTML.
        rendered = [(row, markup.render(row.body) if row.shown else "") for row in rows]  # outside the write lock
        with db.write() as session:
            done += _store(session, rendered)
        after = rows[-1].id
        on_batch(len(rows))


def _store(session: Session, rendered: list[tuple[Row[int, int, str, bool], str]]) -> int:
    stored, stories = 0, set()
    for row, html in rendered:
        # Only if the source is still what was rendered: an edit meanwhile rendered it itself.
        changed = session.execute(
            update(Comment)
            .where(Comment.id == row.id, Comment.body == row.body, _outdated())
            .values(html=html, markup_version=markup.MARKUP_VERSION)
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0):
            stored += 1
            stories.add(row.story_id)
    for story_id in stories:
        bump_story(session, story_id)  # cached pages of these threads are stale now
    return stored
