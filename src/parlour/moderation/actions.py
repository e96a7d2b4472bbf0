"""What moderators do: decide on comments, restrict authors, set story modes, claim and undo.

Each action leaves one audit row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from parlour import events
from parlour.accounts.access import Staff, require_ban_on_all_sites, require_moderator_of
from parlour.clock import utcnow
from parlour.comments.status import bump_story, set_status, story_keys
from parlour.db.tables import (
    Author,
    AuthorStatus,
    Comment,
    CommentStatus,
    ModerationAction,
    Report,
    Site,
    Story,
)
from parlour.errors import Conflict, InvalidInput, NotFound
from parlour.sites.schemas import ModerationMode

UNDO_SECONDS = 15
CLAIM_SECONDS = 120
MAX_REASON = 1000


@dataclass
class Outcome:
    """The audit row an action wrote, and the events to publish once the transaction has committed."""

    action_id: int
    events: list[Any] = field(default_factory=list)
    also: list[int] = field(default_factory=list)  # further audit rows of the same action, undone with it


def approve(*, session: Session, staff: Staff, comment_id: int, reason: str = "") -> Outcome:
    comment, site = _comment_for(session, staff, comment_id)
    return _decide(session, staff, comment, site, "approve", CommentStatus.APPROVED, reason)


def reject(*, session: Session, staff: Staff, comment_id: int, reason: str = "") -> Outcome:
    """A published comment becomes a tombstone readers see as removed; a held one is simply rejected."""
    comment, site = _comment_for(session, staff, comment_id)
    target = CommentStatus.REMOVED if comment.status == CommentStatus.APPROVED else CommentStatus.REJECTED
    if comment.status in {CommentStatus.REMOVED, CommentStatus.REJECTED}:
        target = comment.status
    return _decide(session, staff, comment, site, "reject", target, reason)


def set_featured(*, session: Session, staff: Staff, comment_id: int, featured: bool) -> Outcome:
    comment, site = _comment_for(session, staff, comment_id)
    if featured and comment.status != CommentStatus.APPROVED:
        raise Conflict("Only a published comment can be featured.")
    before = comment.featured
    comment.featured = featured
    comment.reviewed_at = comment.reviewed_at or utcnow()
    bump_story(session, comment.story_id)
    action = "feature" if featured else "unfeature"
    record = _record(
        session, staff, site, action, comment=comment, details={"featured_before": before, "featured_after": featured}
    )
    return Outcome(record.id, _comment_events(session, comment, staff, action))


def dismiss_reports(*, session: Session, staff: Staff, comment_id: int, reason: str = "") -> Outcome:
    """The reports were unfounded: the comment stays published and leaves the Reported queue."""
    comment, site = _comment_for(session, staff, comment_id)
    resolved = _resolve_reports(session, comment)
    comment.reviewed_at = utcnow()
    details = {"reports": resolved}
    record = _record(session, staff, site, "dismiss-reports", comment=comment, reason=reason, details=details)
    return Outcome(record.id)


def ban_author(
    *,
    session: Session,
    staff: Staff,
    author_id: int,
    reason: str = "",
    all_sites: bool = False,
    reject_pending: bool = False,
) -> Outcome:
    """Ban an author from commenting; across all sites, every author with the same e-mail is banned too.

    `reject_pending`: their comments awaiting review are rejected with the ban, each with its own audit row.
    """
    author, site = _author_for(session, staff, author_id)
    targets = [author]
    if all_sites:
        require_ban_on_all_sites(staff)
        if author.email:
            targets += list(session.scalars(select(Author).where(Author.email == author.email, Author.id != author.id)))
    outcome_events: list[Any] = []
    also: list[int] = []  # the other sites' bans and the rejections: Undo takes them back with the first ban
    first: ModerationAction | None = None
    for target in targets:
        target_site = session.get(Site, target.site_id)
        assert target_site is not None
        before = _author_state(target)
        target.status = AuthorStatus.BANNED
        target.suspended_until = None
        target.status_message = _clean(reason)
        details = {"before": before, "all_sites": all_sites}
        record = _record(session, staff, target_site, "ban", author=target, reason=reason, details=details)
        if first is None:
            first = record
        else:
            also.append(record.id)
        outcome_events.append(events.AuthorBanned(target.site_id, target.id, staff.id, _clean(reason)))
        if reject_pending:
            for rejected in _reject_pending(session, staff, target, target_site, reason):
                also.append(rejected.action_id)
                outcome_events += rejected.events
    assert first is not None
    del site
    return Outcome(first.id, outcome_events, also)


def _reject_pending(session: Session, staff: Staff, author: Author, site: Site, reason: str) -> list[Outcome]:
    """The author's comments awaiting review, rejected; one another moderator has claimed is left to them."""
    now = utcnow()
    claimed_by_another = (
        (Comment.claimed_by.is_not(None)) & (Comment.claimed_by != staff.id) & (Comment.claimed_until > now)
    )
    pending = session.scalars(
        select(Comment).where(
            Comment.author_id == author.id, Comment.status == CommentStatus.PENDING, ~claimed_by_another
        )
    )
    because = f"Author banned: {reason}" if reason else "Author banned"
    return [_decide(session, staff, c, site, "reject", CommentStatus.REJECTED, because) for c in pending]


def suspend_author(*, session: Session, staff: Staff, author_id: int, days: int, message: str = "") -> Outcome:
    if not 1 <= days <= 365:
        raise InvalidInput("A suspension lasts 1 to 365 days.", field="days")
    author, site = _author_for(session, staff, author_id)
    before = _author_state(author)
    author.status = AuthorStatus.SUSPENDED
    author.suspended_until = utcnow() + timedelta(days=days)
    author.status_message = _clean(message)
    details = {"before": before, "days": days}
    record = _record(session, staff, site, "suspend", author=author, reason=message, details=details)
    return Outcome(record.id)


def restore_author(*, session: Session, staff: Staff, author_id: int, reason: str = "") -> Outcome:
    """Lift a ban or suspension."""
    author, site = _author_for(session, staff, author_id)
    before = _author_state(author)
    author.status = AuthorStatus.ACTIVE
    author.suspended_until = None
    author.status_message = ""
    record = _record(session, staff, site, "reinstate", author=author, reason=reason, details={"before": before})
    return Outcome(record.id)


def set_premoderation(*, session: Session, staff: Staff, author_id: int, on: bool) -> Outcome:
    author, site = _author_for(session, staff, author_id)
    before = _author_state(author)
    author.always_premoderate = on
    action = "premoderate" if on else "unpremoderate"
    record = _record(session, staff, site, action, author=author, details={"before": before})
    return Outcome(record.id)


def update_story_moderation(
    *,
    session: Session,
    staff: Staff,
    story_id: int,
    closed: bool | None = None,
    mode: ModerationMode | str | None = "unchanged",
    slow_mode_seconds: int | str | None = "unchanged",
) -> Outcome:
    """Close or reopen a story, set its moderation mode or slow mode.

    "unchanged" leaves a field as it is; None follows the site.
    """
    story = session.get(Story, story_id)
    site = session.get(Site, story.site_id) if story else None
    if story is None or site is None:
        raise NotFound(f"No story {story_id}.")
    require_moderator_of(staff, site.slug)
    before = {"closed": story.closed, "mode": story.moderation_mode, "slow_mode_seconds": story.slow_mode_seconds}
    if closed is not None:
        story.closed = closed
    if mode != "unchanged":
        story.moderation_mode = ModerationMode(mode).value if mode else None
        story.surge_at = None
    if slow_mode_seconds != "unchanged":
        if slow_mode_seconds is not None and not 0 <= int(slow_mode_seconds) <= 86400:
            raise InvalidInput("Slow mode is 0 to 86400 seconds.", field="slow_mode_seconds")
        story.slow_mode_seconds = int(slow_mode_seconds) if slow_mode_seconds is not None else None
    story.version += 1
    after = {"closed": story.closed, "mode": story.moderation_mode, "slow_mode_seconds": story.slow_mode_seconds}
    record = _record(session, staff, site, "story-settings", story=story, details={"before": before, "after": after})
    return Outcome(record.id, [events.StoryChanged(site.id, story.id, story.url)])


def claim(*, session: Session, staff: Staff, comment_id: int) -> None:
    """Mark an item as being decided by this moderator for a while; another moderator's live claim wins."""
    comment, _site = _comment_for(session, staff, comment_id)
    now = utcnow()
    taken = session.execute(
        update(Comment)
        .where(Comment.id == comment.id)
        .where((Comment.claimed_by.is_(None)) | (Comment.claimed_by == staff.id) | (Comment.claimed_until <= now))
        .values(claimed_by=staff.id, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) == 0:
        raise Conflict("Another moderator is working on this comment.")


def release(*, session: Session, staff: Staff, comment_id: int) -> None:
    comment, _site = _comment_for(session, staff, comment_id)
    if comment.claimed_by == staff.id:
        comment.claimed_by, comment.claimed_until = None, None


def undo(*, session: Session, staff: Staff, action_id: int) -> Outcome:
    """Take back one's own action within a few seconds, if nothing has changed the item since."""
    action = session.get(ModerationAction, action_id)
    if action is None or action.staff_user_id != staff.id or action.action == "undo":
        raise NotFound(f"No action {action_id} of yours to undo.")
    if utcnow() - action.created_at > timedelta(seconds=UNDO_SECONDS):
        raise Conflict(f"Actions can be undone for {UNDO_SECONDS} seconds only.")
    if session.scalar(select(ModerationAction.id).where(ModerationAction.details["undoes"].as_integer() == action.id)):
        raise Conflict("This action has been undone already.")
    site = session.get(Site, action.site_id)
    assert site is not None
    require_moderator_of(staff, site.slug)
    if action.comment_id is not None:
        return _undo_comment_action(session, staff, site, action)
    if action.author_id is not None:
        return _undo_author_action(session, staff, site, action)
    raise Conflict("This action cannot be undone; change the settings back instead.")


# --- internals -------------------------------------------------------------------------------------------


def _decide(
    session: Session, staff: Staff, comment: Comment, site: Site, action: str, target: CommentStatus, reason: str
) -> Outcome:
    if comment.status == CommentStatus.DELETED:
        raise Conflict("The author deleted this comment.")
    before = comment.status
    set_status(session, comment, target)
    if target != CommentStatus.APPROVED:
        comment.featured = False
    comment.reviewed_at = utcnow()
    comment.claimed_by, comment.claimed_until = None, None
    resolved = _resolve_reports(session, comment)
    bump_story(session, comment.story_id)
    details = {"reports": resolved} if resolved else None
    record = _record(session, staff, site, action, comment=comment, reason=reason, before=before.value, details=details)
    return Outcome(record.id, _comment_events(session, comment, staff, action, reason))


def _undo_comment_action(session: Session, staff: Staff, site: Site, action: ModerationAction) -> Outcome:
    comment = session.get(Comment, action.comment_id)
    if comment is None:
        raise NotFound("The comment is gone.")
    if action.status_after is not None and comment.status.value != action.status_after:
        raise Conflict("The comment has changed since; decide on it again instead.")
    undone_from = comment.status.value
    if action.status_before is not None:
        set_status(session, comment, CommentStatus(action.status_before))
    if "featured_before" in action.details:
        comment.featured = bool(action.details["featured_before"])
    _reopen_reports(session, comment, action.details.get("reports") or [])
    comment.reviewed_at = None if action.status_before == CommentStatus.PENDING else comment.reviewed_at
    bump_story(session, comment.story_id)
    details = {"undoes": action.id}
    record = _record(session, staff, site, "undo", comment=comment, before=undone_from, details=details)
    return Outcome(record.id, _comment_events(session, comment, staff, "undo"))


def _undo_author_action(session: Session, staff: Staff, site: Site, action: ModerationAction) -> Outcome:
    author = session.get(Author, action.author_id)
    before = action.details.get("before")
    if author is None or not isinstance(before, dict):
        raise Conflict("This action cannot be undone.")
    author.status = AuthorStatus(before["status"])
    author.suspended_until = _parse_time(before.get("suspended_until"))
    author.status_message = before.get("status_message", "")
    author.always_premoderate = bool(before.get("always_premoderate", False))
    record = _record(session, staff, site, "undo", author=author, details={"undoes": action.id})
    return Outcome(record.id)


def _comment_for(session: Session, staff: Staff, comment_id: int) -> tuple[Comment, Site]:
    comment = session.get(Comment, comment_id)
    site = session.get(Site, comment.site_id) if comment else None
    if comment is None or site is None:
        raise NotFound(f"No comment {comment_id}.")
    require_moderator_of(staff, site.slug)
    return comment, site


def _author_for(session: Session, staff: Staff, author_id: int) -> tuple[Author, Site]:
    author = session.get(Author, author_id)
    site = session.get(Site, author.site_id) if author else None
    if author is None or site is None:
        raise NotFound(f"No author {author_id}.")
    require_moderator_of(staff, site.slug)
    return author, site


def _resolve_reports(session: Session, comment: Comment) -> list[int]:
    """Mark the comment's open reports dealt with; their ids go in the audit row, so an undo can reopen them."""
    if not comment.open_reports:
        return []
    ids = list(session.scalars(select(Report.id).where(Report.comment_id == comment.id, Report.resolved_at.is_(None))))
    if ids:
        session.execute(
            update(Report)
            .where(Report.id.in_(ids))
            .values(resolved_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    comment.open_reports = 0
    return ids


def _reopen_reports(session: Session, comment: Comment, report_ids: list[int]) -> None:
    """Undo puts the reports the action resolved back in the Reported queue."""
    if not report_ids:
        return
    reopened = session.execute(
        update(Report)
        .where(Report.id.in_(report_ids), Report.comment_id == comment.id, Report.resolved_at.is_not(None))
        .values(resolved_at=None)
        .execution_options(synchronize_session=False)
    )
    comment.open_reports += int(getattr(reopened, "rowcount", 0) or 0)


def _record(
    session: Session,
    staff: Staff,
    site: Site,
    action: str,
    *,
    comment: Comment | None = None,
    author: Author | None = None,
    story: Story | None = None,
    reason: str = "",
    before: str | None = None,
    details: dict[str, Any] | None = None,
) -> ModerationAction:
    record = ModerationAction(
        site_id=site.id,
        staff_user_id=staff.id,
        comment_id=comment.id if comment else None,
        author_id=author.id if author else (comment.author_id if comment else None),
        story_id=story.id if story else (comment.story_id if comment else None),
        action=action,
        reason=_clean(reason),
        status_before=before if before is not None else (comment.status.value if comment else None),
        status_after=comment.status.value if comment else None,
        details=details or {},
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def _comment_events(session: Session, comment: Comment, staff: Staff, action: str, reason: str = "") -> list[Any]:
    site_id, story_id, story_url = story_keys(session, comment.story_id)
    moderated = events.CommentModerated(site_id, story_id, comment.id, action, comment.status.value, staff.id, reason)
    return [moderated, events.StoryChanged(site_id, story_id, story_url, comment.id)]


def _author_state(author: Author) -> dict[str, Any]:
    return {
        "status": author.status.value,
        "suspended_until": author.suspended_until.isoformat() if author.suspended_until else None,
        "status_message": author.status_message,
        "always_premoderate": author.always_premoderate,
    }


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _clean(text: str) -> str:
    return " ".join(text.split())[:MAX_REASON]
