"""The signed-in reader's own data: profile, comments across the site, e-mail choices, deletions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parlour import events
from parlour.clock import utcnow
from parlour.comments.status import bump_story, set_status, story_keys
from parlour.comments.threading import TOMBSTONES
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, Reaction, Report, Site, Story
from parlour.errors import InvalidInput
from parlour.identity import sessions
from parlour.identity.avatars import avatar_seed
from parlour.identity.readers import Reader
from parlour.identity.schemas import (
    MyComment,
    MyComments,
    NotificationSettings,
    NotificationUpdate,
    Profile,
    ReaderPublic,
)
from parlour.notifications import addresses
from parlour.sites.schemas import SiteSettings
from parlour.sites.service import site_settings
from parlour.transfer import serialise

EXCERPT_CHARS = 200


def reader_public(reader: Reader) -> ReaderPublic:
    return ReaderPublic(
        name=reader.name,
        email=reader.email,
        avatar=reader.avatar_url,
        avatar_seed=None if reader.avatar_url else avatar_seed(reader.identity_key),
        badges=list(reader.badges),
        role=reader.role,
    )


def profile(*, session: Session, reader: Reader, mail_available: bool) -> Profile:
    site = _site(session, reader)
    count = session.scalar(
        select(func.count()).where(Comment.author_id == reader.author_id, Comment.status != CommentStatus.DELETED)
    )
    return Profile(
        site=site.slug,
        reader=reader_public(reader),
        notifications=notification_settings(session=session, reader=reader, mail_available=mail_available),
        comment_count=count or 0,
    )


def notification_settings(*, session: Session, reader: Reader, mail_available: bool) -> NotificationSettings:
    site = _site(session, reader)
    prefs = addresses.preferences(session, reader.site_id, reader.email)
    return NotificationSettings(
        available=mail_available and site_settings(site).notify_readers and reader.email is not None,
        email=reader.email,
        confirmed=prefs.confirmed,
        frequency=prefs.frequency,
        **{category: prefs.categories[category] for category in addresses.READER_CATEGORIES},
    )


def set_notifications(*, session: Session, reader: Reader, data: NotificationUpdate) -> None:
    """The signed-in reader's choice. Their address comes from the publisher, who verified it: no second opt-in."""
    if reader.email is None:
        raise InvalidInput("Your sign-in carries no e-mail address to write to.", field="email")
    address = addresses.ensure_reader_address(session, reader.site_id, reader.email)
    if address.confirmed_at is None:
        address.confirmed_at = utcnow()
    addresses.link_author(session, address, reader.author_id)  # the publisher vouches for this reader only
    chosen = {c: v for c in addresses.READER_CATEGORIES if (v := getattr(data, c)) is not None}
    addresses.choose(session, address, frequency=data.frequency, categories=chosen)


def my_comments(*, session: Session, reader: Reader, url: str | None, cursor: int | None, limit: int) -> MyComments:
    """The reader's comments on every story of the site, newest first; or on one story (the widget's own marks)."""
    settings = site_settings(_site(session, reader))
    query = (
        select(Comment, Story)
        .join(Story, Story.id == Comment.story_id)
        .where(Comment.author_id == reader.author_id, Comment.status != CommentStatus.DELETED)
        .order_by(Comment.id.desc())
        .limit(limit + 1)
    )
    if url is not None:
        query = query.where(Story.url == url)
    if cursor is not None:
        query = query.where(Comment.id < cursor)
    rows = session.execute(query).all()
    page = rows[:limit]
    return MyComments(
        comments=[_mine(comment, story, settings) for comment, story in page],
        next_cursor=page[-1][0].id if len(rows) > limit else None,
    )


# Columns of the site export left out of a reader's own: network hashes that people behind one address share,
# the server-keyed hash that tells authors apart, the hash that checks an edit token, the duplicate detector's
# hash, which moderator is looking at a comment, and the moderators' tools: the model's scores (with the spans
# it weighed), the Flagged queue's mark and the count of other readers' open reports.
NOT_THE_READERS = frozenset(
    {
        "reader_key",
        "last_reader_key",
        "identity_key",
        "edit_token_hash",
        "body_hash",
        "claimed_by",
        "claimed_until",
        "moderation_scores",
        "flagged",
        "open_reports",
    }
)


def _readers_own(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in NOT_THE_READERS}


def my_data(*, session: Session, reader: Reader) -> dict[str, Any]:
    """Everything Parlour keeps about the reader on this site, as one JSON document (GDPR art. 15 and 20).

    Rows are written by the site export's serialisers (the same names, times in UTC, enums as values), less the
    internal columns of NOT_THE_READERS; the moderation reasons stay. Reactions and reports are the ones the
    reader made while signed in (their author_id): those made anonymously are stored by network only, which
    people behind one address share, so none can be told to be this reader's.
    """
    site = _site(session, reader)
    author = session.get(Author, reader.author_id)
    assert author is not None
    rows = session.execute(
        select(Comment, Story)
        .join(Story, Story.id == Comment.story_id)
        .where(Comment.author_id == reader.author_id)
        .order_by(Comment.id)
    ).all()
    prefs = addresses.preferences(session, reader.site_id, reader.email)
    reactions = session.scalars(select(Reaction).where(Reaction.author_id == reader.author_id).order_by(Reaction.id))
    reports = session.scalars(select(Report).where(Report.author_id == reader.author_id).order_by(Report.id))
    return {
        "site": site.slug,
        "exported_at": utcnow().isoformat(),
        "reader": _readers_own(serialise.author_dict(author)),
        "notifications": {
            "email": prefs.email,
            "confirmed": prefs.confirmed,
            "frequency": prefs.frequency.value,
            **prefs.categories,
        },
        "comments": [
            _readers_own(serialise.comment_dict(comment)) | {"story_url": story.url, "story_title": story.title}
            for comment, story in rows
        ],
        "reactions": [_readers_own(serialise.reaction_dict(reaction)) for reaction in reactions],
        "reports": [_readers_own(serialise.report_dict(report)) for report in reports],
    }


def delete_my_comments(*, db: Database, reader: Reader) -> tuple[int, list[Any]]:
    """Every comment of the reader becomes a tombstone (or goes, without replies); returns the count and events."""
    with db.write() as session:
        return _delete_comments(session, reader)


def delete_account(*, db: Database, reader: Reader) -> tuple[int, list[Any]]:
    """Comments deleted, personal data erased, sessions ended, e-mail forgotten. The row stays, nameless, so a
    ban by the moderators still holds when the same publisher account signs in again."""
    with db.write() as session:
        count, raised = _delete_comments(session, reader)
        author = session.get(Author, reader.author_id)
        assert author is not None
        if author.email:
            addresses.forget(session, author.site_id, author.email)
        sessions.end_all_sessions(session=session, author_id=author.id)
        author.display_name, author.email, author.website, author.external_id = "", None, None, None
        author.avatar_url, author.badges, author.role = None, [], None
        author.deleted_at = utcnow()
    return count, raised


def _delete_comments(session: Session, reader: Reader) -> tuple[int, list[Any]]:
    settings = site_settings(_site(session, reader))
    now = utcnow()
    stories: set[int] = set()
    raised: list[Any] = []
    comments = session.scalars(
        select(Comment).where(Comment.author_id == reader.author_id, Comment.status.not_in(list(TOMBSTONES)))
    ).all()
    for comment in comments:
        # Removed and rejected comments stay as the moderators left them: deleting is not undoing a decision.
        if comment.status not in {CommentStatus.APPROVED, CommentStatus.PENDING}:
            continue
        comment.html = ""
        comment.body = comment.body if settings.deleted_text_days else ""
        comment.deleted_at = now
        set_status(session, comment, CommentStatus.DELETED)
        stories.add(comment.story_id)
        raised.append(events.CommentDeleted(reader.site_id, comment.story_id, comment.id))
    for story_id in sorted(stories):
        bump_story(session, story_id)
        raised.append(events.StoryChanged(*story_keys(session, story_id)))
    return len(raised) - len(stories), raised


def _mine(comment: Comment, story: Story, settings: SiteSettings) -> MyComment:
    text = " ".join(comment.body.split())
    return MyComment(
        id=comment.id,
        story_url=story.url,
        story_title=story.title,
        parent_id=comment.parent_id,
        status=comment.status,
        excerpt=text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…",
        created_at=comment.created_at,
        edited_at=comment.edited_at,
        editable_until=comment.created_at + timedelta(seconds=settings.edit_window_seconds),
    )


def _site(session: Session, reader: Reader) -> Site:
    site = session.get(Site, reader.site_id)
    assert site is not None
    return site
