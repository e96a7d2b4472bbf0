"""Decide what happens to a new or edited comment: an ordered list of pure phases over what the service gathered.

The service runs the limits and the rate limits (they need counters), gathers the facts below, and calls
`decide`. Phases either refuse the comment (a domain error: nothing is stored) or add reasons and raise the
outcome; the strictest outcome wins, and every reason is kept for the moderators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from parlour.db.tables import AuthorStatus, CommentStatus
from parlour.errors import AuthorRestricted, Conflict, RateLimited, StoryClosed
from parlour.scoring.protocol import Scores
from parlour.sites.schemas import ModerationMode, SiteSettings

PUBLISH, HOLD, REJECT = 0, 1, 2
_STATUS = {PUBLISH: CommentStatus.APPROVED, HOLD: CommentStatus.PENDING, REJECT: CommentStatus.REJECTED}


@dataclass(frozen=True)
class StoryFacts:
    closed: bool = False
    published_at: datetime | None = None
    created_at: datetime | None = None
    # The story's own overrides; None follows the site.
    moderation_mode: ModerationMode | None = None
    slow_mode_seconds: int | None = None


@dataclass(frozen=True)
class AuthorFacts:
    status: AuthorStatus = AuthorStatus.ACTIVE
    suspended_until: datetime | None = None
    message: str = ""
    always_premoderate: bool = False
    approved_comments: int = 0  # counted no further than the site's premoderate_new_authors
    # This author's latest comment on this story, for slow mode.
    last_comment_on_story: datetime | None = None


@dataclass(frozen=True)
class Submission:
    """Everything the phases look at; gathered by the service before any write."""

    settings: SiteSettings
    now: datetime
    story: StoryFacts = field(default_factory=StoryFacts)
    author: AuthorFacts = field(default_factory=AuthorFacts)
    banned_words: tuple[str, ...] = ()
    suspect_words: tuple[str, ...] = ()
    link_count: int = 0
    # The same text (folded) by this author within the duplicate window, and site-wide within ten minutes.
    author_repeats: int = 0
    site_repeats: int = 0
    scores: Scores = field(default_factory=Scores)
    # The folded text's fingerprint, stored with the comment for later duplicate checks (computed once).
    body_hash: str = ""
    # Edits skip the phases that guard the act of posting (slow mode, duplicates) but not the content checks.
    is_edit: bool = False


@dataclass(frozen=True)
class Decision:
    status: CommentStatus
    reasons: list[str] = field(default_factory=list)
    # Published but over a flag threshold: the Flagged queue.
    flagged: bool = False


@dataclass
class _Outcome:
    level: int = PUBLISH
    reasons: list[str] = field(default_factory=list)
    flagged: bool = False

    def raise_to(self, level: int, reason: str) -> None:
        self.level = max(self.level, level)
        self.reasons.append(reason)


Phase = Callable[[Submission, _Outcome], None]


def story_open(sub: Submission, out: _Outcome) -> None:
    if sub.story.closed:
        raise StoryClosed("This story is closed for comments.")
    days = sub.settings.auto_close_days
    opened = sub.story.published_at or sub.story.created_at
    if days is not None and opened is not None and sub.now >= opened + timedelta(days=days):
        raise StoryClosed(f"Comments on this story closed {days} days after publication.")


def slow_mode(sub: Submission, out: _Outcome) -> None:
    seconds = sub.story.slow_mode_seconds if sub.story.slow_mode_seconds is not None else sub.settings.slow_mode_seconds
    last = sub.author.last_comment_on_story
    if sub.is_edit or not seconds or last is None:
        return
    wait = (last + timedelta(seconds=seconds) - sub.now).total_seconds()
    if wait > 0:
        raise RateLimited(f"Slow mode: one comment every {seconds} seconds on this story.", retry_after=wait)


def author_status(sub: Submission, out: _Outcome) -> None:
    author = sub.author
    if author.status is AuthorStatus.BANNED:
        raise AuthorRestricted(_with_message("You can no longer comment here.", author.message))
    suspended = author.status is AuthorStatus.SUSPENDED and (
        author.suspended_until is None or author.suspended_until > sub.now
    )
    if suspended:
        until = f" until {author.suspended_until:%Y-%m-%d %H:%M} UTC" if author.suspended_until else ""
        raise AuthorRestricted(_with_message(f"Your commenting is suspended{until}.", author.message))
    if author.always_premoderate:
        out.raise_to(HOLD, "author:premoderated")
    elif author.approved_comments < sub.settings.premoderate_new_authors:
        out.raise_to(HOLD, "author:new")


def word_rules(sub: Submission, out: _Outcome) -> None:
    for word in sub.banned_words:
        out.raise_to(REJECT, f"word:banned:{word}")
    for word in sub.suspect_words:
        out.raise_to(HOLD, f"word:suspect:{word}")


def links(sub: Submission, out: _Outcome) -> None:
    limit = sub.settings.max_links
    if limit is not None and sub.link_count > limit:
        out.raise_to(HOLD, f"links:{sub.link_count}>{limit}")


def duplicates(sub: Submission, out: _Outcome) -> None:
    if sub.is_edit:
        return
    if sub.settings.duplicate_window_seconds and sub.author_repeats > 0:
        raise Conflict("You have posted this comment already.", field="body")
    if sub.settings.flood_repeats and sub.site_repeats >= sub.settings.flood_repeats:
        out.raise_to(HOLD, f"flood:{sub.site_repeats}")


def scorer(sub: Submission, out: _Outcome) -> None:
    scores = sub.scores.categories
    rejected = _over(scores, sub.settings.reject_thresholds)
    held = _over(scores, sub.settings.thresholds)
    for name, threshold in rejected:
        out.raise_to(REJECT, f"score:{name}>={threshold:g}")
    for name, threshold in held:
        if (name, threshold) not in rejected:
            out.raise_to(HOLD, f"score:{name}>={threshold:g}")
    flags = flag_reasons(scores, sub.settings.flag_thresholds)
    out.flagged = bool(flags)
    out.reasons.extend(flags)


def flag_reasons(scores: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """The categories that put a published comment in the Flagged queue, as stored reasons."""
    return [f"flag:{name}>={threshold:g}" for name, threshold in _over(scores, thresholds)]


def moderation_mode(sub: Submission, out: _Outcome) -> None:
    mode = sub.story.moderation_mode or sub.settings.moderation_mode
    if mode is ModerationMode.PRE:
        out.raise_to(HOLD, "mode:pre-moderation")


# The order of the issue: limits and rate limits run in the service, then these.
PHASES: tuple[Phase, ...] = (
    story_open,
    slow_mode,
    author_status,
    word_rules,
    links,
    duplicates,
    scorer,
    moderation_mode,
)


def decide(sub: Submission) -> Decision:
    """Publish, hold or reject, with every reason; refusals raise and store nothing."""
    out = _Outcome()
    for phase in PHASES:
        phase(sub, out)
    # A held or rejected comment is already in front of moderators; the flag matters only for published ones.
    published = out.level == PUBLISH
    reasons = out.reasons if published else [r for r in out.reasons if not r.startswith("flag:")]
    return Decision(_STATUS[out.level], reasons, flagged=out.flagged and published)


def _over(scores: dict[str, float], thresholds: dict[str, float]) -> list[tuple[str, float]]:
    return [(name, t) for name, t in sorted(thresholds.items()) if scores.get(name, 0.0) >= t]


def _with_message(text: str, message: str) -> str:
    return f"{text} {message}".strip() if message else text
