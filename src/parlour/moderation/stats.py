"""Moderation statistics for the dashboard: per day and per story, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, exists, false, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from parlour.clock import utcnow
from parlour.db.tables import Comment, CommentStatus, ModerationAction, Story

DAYS = 30
TOP_STORIES = 20
# What counts as deciding on a comment, for the time to decision.
DECISIONS = ("approve", "reject", "dismiss-reports")


class utc_day(FunctionElement[str]):  # noqa: N801 - named like the SQL functions it stands for
    """The UTC calendar day of a timestamp as 'YYYY-MM-DD' text, on either database."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite stores UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text (tables.UTCDateTime converts first).
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@dataclass(frozen=True)
class DayStats:
    day: date
    comments: int
    held: int
    rejected: int
    median_decision: timedelta | None


@dataclass(frozen=True)
class StoryStats:
    story_id: int
    title: str
    url: str
    comments: int
    held: int

    @property
    def share_held(self) -> float:
        return self.held / self.comments if self.comments else 0.0


@dataclass(frozen=True)
class NudgeStats:
    """Comments posted after the nudge warned their writer: revised first, or posted as they were.

    Drafts abandoned after the nudge are not counted: checking a draft stores nothing.
    """

    revised: int
    revised_held: int  # still held or rejected after the revision
    ignored: int
    ignored_held: int

    @property
    def nudged(self) -> int:
        return self.revised + self.ignored

    @property
    def share_revised(self) -> float:
        return self.revised / self.nudged if self.nudged else 0.0


@dataclass(frozen=True)
class Stats:
    days: list[DayStats]
    stories: list[StoryStats]
    median_decision: timedelta | None
    first_day: date
    last_day: date
    nudges: NudgeStats

    @property
    def comments(self) -> int:
        return sum(d.comments for d in self.days)

    @property
    def held(self) -> int:
        return sum(d.held for d in self.days)

    @property
    def rejected(self) -> int:
        return sum(d.rejected for d in self.days)


def was_held() -> ColumnElement[bool]:
    """Held for review when it arrived: still pending, or decided on by a moderator while pending."""
    decided_while_pending = exists().where(
        ModerationAction.comment_id == Comment.id, ModerationAction.status_before == CommentStatus.PENDING.value
    )
    return or_(Comment.status == CommentStatus.PENDING, decided_while_pending)


def moderation_stats(
    *, session: Session, site_ids: tuple[int, ...], today: date | None = None, days: int = DAYS
) -> Stats:
    """The last `days` UTC days up to today: comments, held, rejected and median time to decision per day."""
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=UTC)
    in_window = [
        Comment.site_id.in_(site_ids) if site_ids else false(),
        Comment.created_at >= since,
        Comment.created_at < datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
    ]
    day = utc_day(Comment.created_at)
    rejected = Comment.status.in_([CommentStatus.REJECTED, CommentStatus.REMOVED])
    counts = {
        row.day: row
        for row in session.execute(
            select(
                day.label("day"),
                func.count().label("comments"),
                func.count().filter(was_held()).label("held"),
                func.count().filter(rejected).label("rejected"),
            )
            .where(*in_window)
            .group_by(day)
        )
    }
    waits = _decision_waits(session, in_window)
    all_waits = [w for per_day in waits.values() for w in per_day]
    result = []
    for offset in range(days):
        current = first + timedelta(days=offset)
        key = current.isoformat()
        row = counts.get(key)
        result.append(
            DayStats(
                day=current,
                comments=int(row.comments) if row else 0,
                held=int(row.held) if row else 0,
                rejected=int(row.rejected) if row else 0,
                median_decision=_median(waits.get(key, [])),
            )
        )
    return Stats(
        days=result,
        stories=_stories(session, in_window),
        median_decision=_median(all_waits),
        first_day=first,
        last_day=last,
        nudges=_nudges(session, in_window),
    )


def _decision_waits(session: Session, in_window: list[ColumnElement[bool]]) -> dict[str, list[timedelta]]:
    """Per posting day, how long each decided comment waited for a moderator's first decision."""
    first_decision = func.min(ModerationAction.created_at)
    rows = session.execute(
        select(Comment.created_at, first_decision)
        .join(ModerationAction, ModerationAction.comment_id == Comment.id)
        .where(
            *in_window,
            ModerationAction.staff_user_id.is_not(None),
            ModerationAction.action.in_(DECISIONS),
            ModerationAction.created_at >= Comment.created_at,
        )
        .group_by(Comment.id, Comment.created_at)
    ).all()
    waits: dict[str, list[timedelta]] = defaultdict(list)
    for posted, decided in rows:
        # min() over a timestamp comes back as text on SQLite: parse it as the column type would.
        decided_at = decided if isinstance(decided, datetime) else datetime.fromisoformat(str(decided))
        decided_at = decided_at.replace(tzinfo=UTC) if decided_at.tzinfo is None else decided_at
        waits[posted.date().isoformat()].append(decided_at - posted)
    return waits


def _stories(session: Session, in_window: list[ColumnElement[bool]]) -> list[StoryStats]:
    volume = func.count().label("comments")
    rows = session.execute(
        select(Story.id, Story.title, Story.url, volume, func.count().filter(was_held()).label("held"))
        .join(Story, Story.id == Comment.story_id)
        .where(*in_window)
        .group_by(Story.id, Story.title, Story.url)
        .order_by(volume.desc(), Story.id)
        .limit(TOP_STORIES)
    ).all()
    return [StoryStats(r.id, r.title or r.url, r.url, int(r.comments), int(r.held)) for r in rows]


def _nudges(session: Session, in_window: list[ColumnElement[bool]]) -> NudgeStats:
    # The reasons are a JSON list; its text holds each reason quoted, the same on SQLite and PostgreSQL.
    reasons = cast(Comment.moderation_reasons, String)
    revised, ignored = reasons.like('%"nudge:revised"%'), reasons.like('%"nudge:ignored"%')
    stopped = or_(was_held(), Comment.status.in_([CommentStatus.REJECTED, CommentStatus.REMOVED]))
    row = session.execute(
        select(
            func.count().filter(revised).label("revised"),
            func.count().filter(and_(revised, stopped)).label("revised_held"),
            func.count().filter(ignored).label("ignored"),
            func.count().filter(and_(ignored, stopped)).label("ignored_held"),
        ).where(*in_window)
    ).one()
    return NudgeStats(int(row.revised), int(row.revised_held), int(row.ignored), int(row.ignored_held))


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))
