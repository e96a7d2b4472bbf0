"""Re-score a site's stored comments after a model change: new scores and spans, and the Flagged queue redone.

Statuses stay as moderators and the pipeline left them: a model change must not silently hide or publish
comments. A published comment over the site's flag thresholds goes to the Flagged queue for a human to look at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update

from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, Site
from parlour.moderation.pipeline import flag_reasons
from parlour.scoring.protocol import Scorer
from parlour.sites.service import get_site, site_settings

BATCH = 200
# Authors' deletions and moderators' removals keep no text worth scoring.
SKIPPED = (CommentStatus.DELETED, CommentStatus.REMOVED)


@dataclass
class RescoreReport:
    scored: int = 0
    newly_flagged: int = 0
    no_longer_flagged: int = 0
    model: str = ""


def count_to_rescore(*, db: Database, site_slug: str) -> int:
    with db.read() as session:
        site = get_site(session=session, slug=site_slug)
        return session.scalar(select(func.count()).where(*_of_site(site))) or 0


def rescore_site(
    *, db: Database, scorer: Scorer, site_slug: str, on_batch: Callable[[int], None] = lambda _n: None
) -> RescoreReport:
    """Score every comment of the site again, a batch at a time: scoring outside transactions, short writes."""
    report = RescoreReport(model=scorer.name)
    after = 0
    while True:
        with db.read() as session:
            site = get_site(session=session, slug=site_slug)
            settings = site_settings(site)
            rows = session.execute(
                select(Comment.id, Comment.body, Comment.status, Comment.flagged, Comment.moderation_reasons)
                .where(*_of_site(site), Comment.id > after)
                .order_by(Comment.id)
                .limit(BATCH)
            ).all()
        if not rows:
            return report
        scored = [(row, scorer.score(row.body)) for row in rows]
        with db.write() as session:
            for row, scores in scored:
                flags = flag_reasons(scores.categories, settings.flag_thresholds)
                flagged = bool(flags) and row.status is CommentStatus.APPROVED
                kept = [reason for reason in row.moderation_reasons or [] if not reason.startswith("flag:")]
                session.execute(
                    update(Comment)
                    .where(Comment.id == row.id)
                    .values(moderation_scores=scores.as_json(), flagged=flagged, moderation_reasons=kept + flags)
                )
                report.newly_flagged += flagged and not row.flagged
                report.no_longer_flagged += row.flagged and not flagged
        report.scored += len(rows)
        after = rows[-1].id
        on_batch(len(rows))


def _of_site(site: Site) -> tuple[ColumnElement[bool], ...]:
    return (Comment.site_id == site.id, Comment.status.not_in(SKIPPED))
