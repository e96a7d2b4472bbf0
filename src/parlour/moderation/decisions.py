"""A site's moderator decisions as the model learns from them: `parlour model decisions` and `model calibrate`.

A decision is a moderator's last approve or reject of a comment that still stands: an undone or overturned one
leaves the comment in another status and is skipped. The pipeline's own holds and rejections are not decisions:
learning from them would teach the model what it already says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select

from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, ModerationAction
from parlour.scoring.calibrate import Calibration, ScoredDecision, calibrate, chosen_thresholds
from parlour.scoring.protocol import Scorer
from parlour.scoring.sources import decision_line, reason_categories
from parlour.sites.schemas import SiteSettingsUpdate, SiteUpdate
from parlour.sites.service import get_site, site_settings, update_site

CHUNK = 1000


@dataclass(frozen=True)
class SiteDecision:
    comment_id: int
    text: str
    decision: Literal["approve", "reject"]
    reason: str
    decided_at: datetime

    def as_line(self) -> dict[str, Any]:
        return decision_line(
            text=self.text,
            decision=self.decision,
            reason=self.reason,
            time=self.decided_at.isoformat(),
            comment_id=self.comment_id,
        )


def count_decisions(*, db: Database, site_slug: str) -> int:
    with db.read() as session:
        site = get_site(session=session, slug=site_slug)
        return session.scalar(select(func.count()).select_from(_query(site.id).subquery())) or 0


def site_decisions(*, db: Database, site_slug: str) -> Iterator[SiteDecision]:
    """Every standing decision of the site, oldest first, read in short transactions."""
    with db.read() as session:
        site_id = get_site(session=session, slug=site_slug).id
    after = 0
    while True:
        with db.read() as session:
            rows = session.execute(_query(site_id).where(ModerationAction.id > after).limit(CHUNK)).all()
        for row in rows:
            yield SiteDecision(row.comment_id, row.body, row.action, row.reason, row.created_at)
        if len(rows) < CHUNK:
            return
        after = rows[-1].id


def _query(site_id: int) -> Any:
    decided = ModerationAction.action.in_(("approve", "reject"))
    latest = (
        select(func.max(ModerationAction.id))
        .where(ModerationAction.site_id == site_id, ModerationAction.staff_user_id.is_not(None), decided)
        .group_by(ModerationAction.comment_id)
    )
    stands = or_(
        and_(ModerationAction.action == "approve", Comment.status == CommentStatus.APPROVED),
        and_(
            ModerationAction.action == "reject",
            Comment.status.in_((CommentStatus.REJECTED, CommentStatus.REMOVED)),
        ),
    )
    return (
        select(
            ModerationAction.id,
            ModerationAction.comment_id,
            ModerationAction.action,
            ModerationAction.reason,
            ModerationAction.created_at,
            Comment.body,
        )
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .where(ModerationAction.id.in_(latest), stands, Comment.deleted_at.is_(None))
        .order_by(ModerationAction.id)
    )


@dataclass(frozen=True)
class SiteCalibration:
    site: str
    model: str
    decisions: int
    calibrations: list[Calibration]
    applied: dict[str, float]


def calibrate_site(
    *,
    db: Database,
    scorer: Scorer,
    site_slug: str,
    precision: float,
    min_decisions: int,
    min_rejects: int,
    apply: bool = False,
    on_scored: Callable[[int], None] = lambda _n: None,
) -> SiteCalibration:
    """Score the site's decisions with the current model, choose hold thresholds, and store them if asked."""
    with db.read() as session:
        current = site_settings(get_site(session=session, slug=site_slug)).thresholds
    scored = []
    for decision in site_decisions(db=db, site_slug=site_slug):
        categories = reason_categories(decision.reason) if decision.decision == "reject" else []
        scores = scorer.score(decision.text).categories
        scored.append(ScoredDecision(scores, decision.decision == "reject", frozenset(categories)))
        on_scored(1)
    calibrations = calibrate(
        scored, current=current, precision=precision, min_decisions=min_decisions, min_rejects=min_rejects
    )
    chosen = chosen_thresholds(calibrations) if apply else {}
    if chosen:
        with db.write() as session:
            site = get_site(session=session, slug=site_slug)
            thresholds = site_settings(site).thresholds | chosen
            update_site(session=session, site=site, data=SiteUpdate(settings=SiteSettingsUpdate(thresholds=thresholds)))
    return SiteCalibration(site_slug, scorer.name, len(scored), calibrations, chosen)
