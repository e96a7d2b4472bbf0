"""What stays of a comment its author deleted: a tombstone at once; the text for moderators, per site policy."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, Site
from parlour.sites.service import site_settings


def purge_deleted_text(*, db: Database, now: datetime) -> int:
    """Erase the text of author-deleted comments once the site's deleted_text_days have passed."""
    with db.read() as session:
        policies = [(site.id, site_settings(site).deleted_text_days) for site in session.scalars(select(Site))]
    erased = 0
    with db.write() as session:
        for site_id, days in policies:
            result = session.execute(
                update(Comment)
                .where(
                    Comment.site_id == site_id,
                    Comment.status == CommentStatus.DELETED,
                    Comment.deleted_at < now - timedelta(days=days),
                    Comment.body != "",
                )
                .values(body="")
                .execution_options(synchronize_session=False)
            )
            erased += getattr(result, "rowcount", 0)
    return erased
