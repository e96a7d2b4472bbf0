"""The moderation queues: which comments each holds, their counts, and one item with everything needed to decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from parlour.db.folded import folded
from parlour.db.tables import (
    Author,
    Comment,
    CommentStatus,
    ModerationAction,
    Report,
    Site,
    StaffUser,
    Story,
)
from parlour.moderation.folding import fold_for_search


class Queue(StrEnum):
    PENDING = "pending"  # held by the pipeline, waiting for a decision
    REPORTED = "reported"  # published, with readers' reports nobody has dealt with
    FLAGGED = "flagged"  # published, over a model flag threshold, not yet reviewed
    UNMODERATED = "unmoderated"  # published, not yet seen by a moderator
    APPROVED = "approved"
    REJECTED = "rejected"


QUEUE_TITLES = {
    Queue.PENDING: "Pending",
    Queue.REPORTED: "Reported",
    Queue.FLAGGED: "Flagged",
    Queue.UNMODERATED: "Unmoderated",
    Queue.APPROVED: "Approved",
    Queue.REJECTED: "Rejected",
}
# Work queues are cleared oldest first; the archives read newest first.
OLDEST_FIRST = {Queue.PENDING, Queue.REPORTED, Queue.FLAGGED, Queue.UNMODERATED}
PAGE_SIZE = 25


def queue_condition(queue: Queue) -> ColumnElement[bool]:
    approved = Comment.status == CommentStatus.APPROVED
    match queue:
        case Queue.PENDING:
            return Comment.status == CommentStatus.PENDING
        case Queue.REPORTED:
            return and_(approved, Comment.open_reports > 0)
        case Queue.FLAGGED:
            return and_(approved, Comment.flagged, Comment.reviewed_at.is_(None))
        case Queue.UNMODERATED:
            return and_(approved, Comment.reviewed_at.is_(None))
        case Queue.APPROVED:
            return approved
        case Queue.REJECTED:
            return Comment.status.in_([CommentStatus.REJECTED, CommentStatus.REMOVED])


@dataclass(frozen=True)
class QueueFilter:
    site_ids: tuple[int, ...]
    story_id: int | None = None
    author_id: int | None = None
    reason: str | None = None  # a prefix of a pipeline reason, e.g. "score:" or "word:banned"
    text: str | None = None


@dataclass(frozen=True)
class QueueItem:
    id: int
    site_slug: str
    story_id: int
    story_title: str
    story_url: str
    author_id: int
    author_name: str
    author_status: str
    status: str
    body: str
    html: str
    created_at: datetime
    edited_at: datetime | None
    reasons: list[str]
    scores: dict[str, Any]
    flagged: bool
    featured: bool
    open_reports: int
    reaction_count: int
    claimed_by: str | None
    claimed_until: datetime | None
    parent_id: int | None
    parent_excerpt: str | None


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


def list_queue(
    *, session: Session, queue: Queue, where: QueueFilter, offset: int = 0, limit: int = PAGE_SIZE
) -> QueuePage:
    query = _filtered(select(Comment.id), queue, where)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (
        (Comment.created_at, Comment.id) if queue in OLDEST_FIRST else (Comment.created_at.desc(), Comment.id.desc())
    )
    ids = list(session.scalars(query.order_by(*order).offset(offset).limit(limit)))
    return QueuePage(items=items_by_id(session, ids), total=total, offset=offset, limit=limit)


def in_filtered_queue(*, session: Session, comment_id: int, queue: Queue, where: QueueFilter) -> bool:
    """The comment is in the queue as a page with these filters shows it."""
    query = _filtered(select(Comment.id).where(Comment.id == comment_id), queue, where)
    return session.scalar(query) is not None


def queue_counts(*, session: Session, site_ids: tuple[int, ...]) -> dict[Queue, int]:
    """Every queue's size for the navigation, in one query."""
    in_sites = Comment.site_id.in_(site_ids) if site_ids else false()
    columns = [func.count().filter(queue_condition(q)).label(q.value) for q in Queue]
    row = session.execute(select(*columns).where(in_sites)).one()
    return {q: int(getattr(row, q.value) or 0) for q in Queue}


def items_by_id(session: Session, ids: list[int]) -> list[QueueItem]:
    """Queue items in the order of `ids`: one query with the story, author, site, claimant and parent."""
    if not ids:
        return []
    parent = aliased(Comment)
    claimant = aliased(StaffUser)
    rows = session.execute(
        select(Comment, Story, Author, Site.slug, claimant.display_name, parent.body, parent.status)
        .join(Story, Story.id == Comment.story_id)
        .join(Author, Author.id == Comment.author_id)
        .join(Site, Site.id == Comment.site_id)
        .outerjoin(claimant, claimant.id == Comment.claimed_by)
        .outerjoin(parent, parent.id == Comment.parent_id)
        .where(Comment.id.in_(ids))
    ).all()
    by_id = {row[0].id: _item(*row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _item(
    comment: Comment,
    story: Story,
    author: Author,
    site_slug: str,
    claimant: str | None,
    parent_body: str | None,
    parent_status: str | None,
) -> QueueItem:
    visible_parent = parent_body if parent_status == CommentStatus.APPROVED else None
    return QueueItem(
        id=comment.id,
        site_slug=site_slug,
        story_id=story.id,
        story_title=story.title or story.url,
        story_url=story.url,
        author_id=author.id,
        author_name=author.display_name,
        author_status=author.status.value,
        status=comment.status.value,
        body=comment.body,
        html=comment.html,
        created_at=comment.created_at,
        edited_at=comment.edited_at,
        reasons=list(comment.moderation_reasons),
        scores=dict(comment.moderation_scores),
        flagged=comment.flagged,
        featured=comment.featured,
        open_reports=comment.open_reports,
        reaction_count=comment.reaction_count,
        claimed_by=claimant,
        claimed_until=comment.claimed_until,
        parent_id=comment.parent_id,
        parent_excerpt=_excerpt(visible_parent) if visible_parent is not None else None,
    )


def _filtered(query: Select[Any], queue: Queue, where: QueueFilter) -> Select[Any]:
    in_sites = Comment.site_id.in_(where.site_ids) if where.site_ids else false()
    query = query.where(in_sites, queue_condition(queue))
    if where.story_id is not None:
        query = query.where(Comment.story_id == where.story_id)
    if where.author_id is not None:
        query = query.where(Comment.author_id == where.author_id)
    if where.text:
        # Case and accents folded on both sides, alike on SQLite and PostgreSQL: "NAIVE" finds "naïve".
        words = _escape_like(fold_for_search(where.text))
        query = query.where(folded(Comment.body).like(f"%{words}%", escape="\\"))
    if where.reason:
        # Reasons are a JSON list; matching its text form is portable across SQLite and PostgreSQL.
        reason = cast(Comment.moderation_reasons, Text)
        query = query.where(reason.ilike(f'%"{_escape_like(where.reason)}%', escape="\\"))
    return query


@dataclass(frozen=True)
class AuthorHistory:
    author_id: int
    display_name: str
    status: str
    suspended_until: datetime | None
    status_message: str
    always_premoderate: bool
    first_seen: datetime
    counts: dict[str, int] = field(default_factory=dict)
    actions: list[ActionRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ActionRecord:
    id: int
    created_at: datetime
    staff: str
    action: str
    reason: str
    status_before: str | None
    status_after: str | None
    comment_id: int | None
    author_id: int | None
    story_id: int | None


@dataclass(frozen=True)
class ReportSummary:
    reason: str
    message: str
    created_at: datetime
    resolved: bool


@dataclass(frozen=True)
class ItemDetail:
    item: QueueItem
    author: AuthorHistory
    reports: list[ReportSummary]
    actions: list[ActionRecord]


def item_detail(*, session: Session, comment_id: int) -> ItemDetail | None:
    items = items_by_id(session, [comment_id])
    if not items:
        return None
    item = items[0]
    reports = [
        ReportSummary(r.reason.value, r.message, r.created_at, r.resolved_at is not None)
        for r in session.scalars(select(Report).where(Report.comment_id == comment_id).order_by(Report.created_at))
    ]
    actions = action_log(session=session, comment_id=comment_id)
    return ItemDetail(item, author_history(session=session, author_id=item.author_id), reports, actions)


def author_history(*, session: Session, author_id: int) -> AuthorHistory:
    author = session.get(Author, author_id)
    assert author is not None
    counts = dict(
        session.execute(
            select(Comment.status, func.count()).where(Comment.author_id == author_id).group_by(Comment.status)
        ).all()
    )
    return AuthorHistory(
        author_id=author.id,
        display_name=author.display_name,
        status=author.status.value,
        suspended_until=author.suspended_until,
        status_message=author.status_message,
        always_premoderate=author.always_premoderate,
        first_seen=author.created_at,
        counts={CommentStatus(k).value: int(v) for k, v in counts.items()},
        actions=action_log(session=session, author_id=author_id, limit=20),
    )


def action_log(
    *,
    session: Session,
    site_ids: tuple[int, ...] | None = None,
    comment_id: int | None = None,
    author_id: int | None = None,
    limit: int | None = 200,
    offset: int = 0,
) -> list[ActionRecord]:
    """The audit log, newest first, filtered by site, comment or author."""
    query = select(ModerationAction, StaffUser.display_name).outerjoin(
        StaffUser, StaffUser.id == ModerationAction.staff_user_id
    )
    conditions: list[ColumnElement[bool]] = []
    if site_ids is not None:
        conditions.append(ModerationAction.site_id.in_(site_ids) if site_ids else false())
    if comment_id is not None:
        conditions.append(ModerationAction.comment_id == comment_id)
    if author_id is not None:
        conditions.append(
            or_(
                ModerationAction.author_id == author_id,
                ModerationAction.comment_id.in_(select(Comment.id).where(Comment.author_id == author_id)),
            )
        )
    query = query.where(*conditions).order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return [
        ActionRecord(
            id=a.id,
            created_at=a.created_at,
            staff=name or "system",
            action=a.action,
            reason=a.reason,
            status_before=a.status_before,
            status_after=a.status_after,
            comment_id=a.comment_id,
            author_id=a.author_id,
            story_id=a.story_id,
        )
        for a, name in session.execute(query).all()
    ]


def _excerpt(text: str, limit: int = 280) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
