"""The audit log as moderators browse and export it: filters, pages, and every row for a CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session

from parlour.db.engine import Database
from parlour.db.tables import Comment, ModerationAction, Site, StaffUser

PAGE_SIZE = 50
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class AuditFilter:
    site_ids: tuple[int, ...]
    action: str | None = None
    staff_user_id: int | None = None
    comment_id: int | None = None
    author_id: int | None = None
    story_id: int | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    created_at: datetime
    site_slug: str
    staff: str
    action: str
    reason: str
    status_before: str | None
    status_after: str | None
    comment_id: int | None
    author_id: int | None
    story_id: int | None
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    offset: int
    has_more: bool


def audit_page(*, session: Session, where: AuditFilter, offset: int = 0, limit: int = PAGE_SIZE) -> AuditPage:
    """One page of the log, newest first; one row more than asked tells whether another page follows."""
    query = _query(where).order_by(ModerationAction.id.desc()).offset(offset).limit(limit + 1)
    rows = [_row(*r) for r in session.execute(query).all()]
    return AuditPage(rows=rows[:limit], offset=offset, has_more=len(rows) > limit)


def audit_rows(*, db: Database, where: AuditFilter) -> Iterator[AuditRow]:
    """Every matching row, newest first, read in short transactions so an export never holds one open."""
    before: int | None = None
    while True:
        query = _query(where)
        if before is not None:
            query = query.where(ModerationAction.id < before)
        with db.read() as session:
            chunk = [_row(*r) for r in session.execute(query.order_by(ModerationAction.id.desc()).limit(EXPORT_CHUNK))]
        yield from chunk
        if len(chunk) < EXPORT_CHUNK:
            return
        before = chunk[-1].id


def action_names(*, session: Session, site_ids: tuple[int, ...]) -> list[str]:
    """The actions that occur in these sites' logs, for the filter menu."""
    in_sites = ModerationAction.site_id.in_(site_ids) if site_ids else false()
    return list(session.scalars(select(ModerationAction.action).where(in_sites).distinct().order_by("action")))


def _query(where: AuditFilter) -> Select[ModerationAction, str, str]:
    conditions: list[ColumnElement[bool]] = [
        ModerationAction.site_id.in_(where.site_ids) if where.site_ids else false()
    ]
    if where.action:
        conditions.append(ModerationAction.action == where.action)
    if where.staff_user_id is not None:
        conditions.append(ModerationAction.staff_user_id == where.staff_user_id)
    if where.comment_id is not None:
        conditions.append(ModerationAction.comment_id == where.comment_id)
    if where.story_id is not None:
        conditions.append(ModerationAction.story_id == where.story_id)
    if where.author_id is not None:
        # An author's rows: actions on them, and on their comments.
        of_author = select(Comment.id).where(Comment.author_id == where.author_id)
        conditions.append(
            or_(ModerationAction.author_id == where.author_id, ModerationAction.comment_id.in_(of_author))
        )
    return (
        select(ModerationAction, Site.slug, StaffUser.display_name)
        .join(Site, Site.id == ModerationAction.site_id)
        .outerjoin(StaffUser, StaffUser.id == ModerationAction.staff_user_id)
        .where(*conditions)
    )


def _row(action: ModerationAction, site_slug: str, staff: str | None) -> AuditRow:
    return AuditRow(
        id=action.id,
        created_at=action.created_at,
        site_slug=site_slug,
        staff=staff or "system",
        action=action.action,
        reason=action.reason,
        status_before=action.status_before,
        status_after=action.status_after,
        comment_id=action.comment_id,
        author_id=action.author_id,
        story_id=action.story_id,
        details=dict(action.details or {}),
    )
