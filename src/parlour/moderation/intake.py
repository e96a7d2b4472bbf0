"""What the pipeline needs to know about a new comment, gathered in reads before any write, and the rate limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from parlour.db.tables import Author, Comment, CommentStatus, Site, Story
from parlour.errors import RateLimited
from parlour.infra.ratelimit import RateLimiter
from parlour.moderation import wordrules
from parlour.moderation.pipeline import AuthorFacts, StoryFacts, Submission
from parlour.scoring.protocol import Scores
from parlour.sites.schemas import ModerationMode, SiteSettings

FLOOD_WINDOW = timedelta(minutes=10)
RATE_WINDOW_SECONDS = 60.0
DRAFT_CHECKS_PER_MINUTE = 30
# An edit is scored and rendered again like a post: bounded so that a few editors cannot take the CPU.
EDITS_PER_MINUTE_PER_COMMENT = 5
EDITS_PER_MINUTE_PER_NETWORK = 20


@dataclass(frozen=True)
class Poster:
    """Who is posting, as far as an anonymous reader can be told apart."""

    reader_key: str
    identity_key: str


def identity_key(*, secret_key: str, site_id: int, reader_key: str, name: str, email: str | None) -> str:
    """One author across posts: by e-mail and display name when an e-mail is given, else by reader (network) and name.

    The name is part of it because an e-mail address proves nothing here: keyed by the address alone, anyone typing
    someone else's address would rename all of that person's comments. The name is kept as written: an author's
    row carries one display name, and "Ann" and "ANN" are shown as typed.
    """
    who = f"email\x00{email.lower()}\x00{name}" if email else f"reader\x00{reader_key}\x00{name}"
    message = f"author\x00{site_id}\x00{who}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def check_rate_limits(*, limiter: RateLimiter, settings: SiteSettings, site: Site, poster: Poster, url: str) -> None:
    """Per network, per author and per story; each counter is atomic in the limiter."""
    story_key = hashlib.sha256(url.encode()).hexdigest()[:32]
    limits = (
        (f"post:net:{site.id}:{poster.reader_key}", settings.rate_per_network, "from your network"),
        (f"post:author:{site.id}:{poster.identity_key}", settings.rate_per_author, "by you"),
        (f"post:story:{site.id}:{story_key}", settings.rate_per_story, "on this story"),
    )
    for key, limit, whose in limits:
        if not limit:
            continue
        decision = limiter.hit(key, limit=limit, window_seconds=RATE_WINDOW_SECONDS)
        if not decision.allowed:
            raise RateLimited(
                f"Too many comments {whose}: at most {limit} a minute. Try again shortly.",
                retry_after=decision.retry_after_seconds,
            )


def check_draft_rate(*, limiter: RateLimiter, network_key: str) -> None:
    """Drafts are scored for the nudge: generous for a writer, a wall for a script probing the word lists.

    Per network, whatever the site: scoring costs the same CPU on any site, and a limit per site would grow
    with the number of sites a script can name.
    """
    decision = limiter.hit(f"draft:net:{network_key}", limit=DRAFT_CHECKS_PER_MINUTE, window_seconds=60.0)
    if not decision.allowed:
        raise RateLimited(
            "Too many draft checks from your network. Try again shortly.", retry_after=decision.retry_after_seconds
        )


def check_edit_rate(*, limiter: RateLimiter, network_key: str, comment_id: int) -> None:
    """Per comment and per network (whatever the site), before the new text is scored or rendered."""
    limits = (
        (f"edit:comment:{comment_id}", EDITS_PER_MINUTE_PER_COMMENT, "of this comment"),
        (f"edit:net:{network_key}", EDITS_PER_MINUTE_PER_NETWORK, "from your network"),
    )
    for key, limit, whose in limits:
        decision = limiter.hit(key, limit=limit, window_seconds=RATE_WINDOW_SECONDS)
        if not decision.allowed:
            raise RateLimited(
                f"Too many edits {whose}: at most {limit} a minute. Try again shortly.",
                retry_after=decision.retry_after_seconds,
            )


def find_author(*, session: Session, site: Site, identity: str) -> Author | None:
    return session.scalar(_AUTHOR_BY_IDENTITY, {"site_id": site.id, "identity": identity})


def gather(
    *,
    session: Session,
    site: Site,
    settings: SiteSettings,
    story: Story | None,
    author: Author | None,
    body: str,
    scores: Scores,
    now: datetime,
) -> Submission:
    """The facts every phase reads; a handful of indexed queries."""
    rules = wordrules.compiled_rules(tuple(settings.banned_words), tuple(settings.suspect_words))
    matches = rules.find(body)
    fingerprint = wordrules.fingerprint(body)
    return Submission(
        settings=settings,
        now=now,
        story=_story_facts(story),
        author=_author_facts(session, author, story, settings),
        banned_words=tuple(sorted({m.rule for m in matches if m.kind == "banned"})),
        suspect_words=tuple(sorted({m.rule for m in matches if m.kind == "suspect"})),
        link_count=wordrules.count_links(body),
        author_repeats=_author_repeats(
            session, author, fingerprint, now - timedelta(seconds=settings.duplicate_window_seconds)
        ),
        site_repeats=_site_repeats(session, site, fingerprint, now - FLOOD_WINDOW),
        scores=scores,
        body_hash=fingerprint,
    )


def _story_facts(story: Story | None) -> StoryFacts:
    if story is None:
        return StoryFacts()
    return StoryFacts(
        closed=story.closed,
        published_at=story.published_at,
        created_at=story.created_at,
        moderation_mode=ModerationMode(story.moderation_mode) if story.moderation_mode else None,
        slow_mode_seconds=story.slow_mode_seconds,
    )


def _author_facts(session: Session, author: Author | None, story: Story | None, settings: SiteSettings) -> AuthorFacts:
    if author is None:
        return AuthorFacts()
    return AuthorFacts(
        status=author.status,
        suspended_until=author.suspended_until,
        message=author.status_message,
        always_premoderate=author.always_premoderate,
        approved_comments=_approved_up_to(session, author, settings.premoderate_new_authors),
        last_comment_on_story=_last_on_story(session, author, story),
    )


def _approved_up_to(session: Session, author: Author, cap: int) -> int:
    """The author's approved comments, counted no further than the pipeline asks (its first-N hold).

    Counting them all cost a row per comment the author ever wrote, on every post: a regular's thousands.
    """
    if cap == 0:
        return 0
    return session.scalar(_APPROVED_UP_TO, {"author_id": author.id, "cap": cap}) or 0


def _last_on_story(session: Session, author: Author, story: Story | None) -> datetime | None:
    if story is None:
        return None
    return session.scalar(_LAST_ON_STORY, {"author_id": author.id, "story_id": story.id})


def _author_repeats(session: Session, author: Author | None, fingerprint: str, since: datetime) -> int:
    if author is None:
        return 0
    return session.scalar(_AUTHOR_REPEATS, {"author_id": author.id, "hash": fingerprint, "since": since}) or 0


def _site_repeats(session: Session, site: Site, fingerprint: str, since: datetime) -> int:
    return session.scalar(_SITE_REPEATS, {"site_id": site.id, "hash": fingerprint, "since": since}) or 0


# Statements every post runs, built once: building a statement and its cache key on each call cost more than
# SQLite running it. Each bound value takes the type of the column it is compared with.
_AUTHOR_BY_IDENTITY = select(Author).where(
    Author.site_id == bindparam("site_id"), Author.identity_key == bindparam("identity")
)
_AUTHOR_REPEATS = select(func.count()).where(
    Comment.author_id == bindparam("author_id"),
    Comment.body_hash == bindparam("hash"),
    Comment.created_at >= bindparam("since"),
    # Deleting a comment and posting it again (to fix a typo) is not a repeat.
    Comment.status != CommentStatus.DELETED,
)
_APPROVED_UP_TO = select(func.count()).select_from(
    select(Comment.id)
    .where(Comment.author_id == bindparam("author_id"), Comment.status == CommentStatus.APPROVED)
    .limit(bindparam("cap"))
    .subquery()
)
# Newest first along (author, created_at): stops at the author's latest comment on this story, usually recent.
_LAST_ON_STORY = (
    select(Comment.created_at)
    .where(Comment.author_id == bindparam("author_id"), Comment.story_id == bindparam("story_id"))
    .order_by(Comment.created_at.desc())
    .limit(1)
)
_SITE_REPEATS = select(func.count()).where(
    Comment.site_id == bindparam("site_id"),
    Comment.body_hash == bindparam("hash"),
    Comment.created_at >= bindparam("since"),
)
