"""Writing comments: post, edit, delete, react, report. Plain functions that raise domain errors; no HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Row, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour import events
from parlour.clock import utcnow
from parlour.comments import markup
from parlour.comments.reading import ancestors_of, comment_row, to_public, written_row
from parlour.comments.schemas import (
    AuthorIn,
    CommentCreate,
    CommentCreated,
    CommentOwn,
    CommentPublic,
    CommentWithAncestors,
    DraftCheck,
    DraftChecked,
    DraftHighlight,
    ReactionState,
    ReportCreate,
)
from parlour.comments.status import bump_story, count_new_comment, set_status, story_keys
from parlour.comments.threading import TOMBSTONES, attach_depth, is_listed
from parlour.comments.tokens import (
    edit_token_matches,
    hash_edit_token,
    idempotent_edit_token,
    new_edit_token,
)
from parlour.db.engine import Database
from parlour.db.tables import (
    Author,
    Comment,
    CommentStatus,
    IdempotencyKey,
    Reaction,
    Report,
    Site,
    Story,
)
from parlour.errors import (
    Conflict,
    EditWindowClosed,
    Forbidden,
    InvalidInput,
    LoginRequired,
    NotFound,
    StoryClosed,
    Unauthorized,
)
from parlour.events import Recorded
from parlour.identity.readers import Reader
from parlour.infra.clientip import network_key, reader_key
from parlour.infra.ratelimit import RateLimiter
from parlour.moderation import intake, nudge
from parlour.moderation.pipeline import decide
from parlour.moderation.surge import surge_guard
from parlour.scoring.protocol import Scorer
from parlour.sites.schemas import SignIn, SiteSettings, StoryPublic
from parlour.sites.service import allowed_story_url, find_story, get_site, site_settings, story_for_comment
from parlour.sites.urls import normalise_website


@dataclass
class WriteResult:
    """What a write returns to its caller, and the events to publish once it has committed."""

    value: Any
    events: list[Any] = field(default_factory=list)
    # Set when the write handed its events to the bus's durable subscribers inside its own transaction.
    recorded: Recorded | None = None


RecordEvents = Callable[[Session, list[Any]], Recorded]


@dataclass(frozen=True)
class PostContext:
    secret_key: str
    limiter: RateLimiter
    # The reader's address as the trusted proxies report it; keyed and bucketed before use, never stored.
    client_address: str = "unknown"
    idempotency_key: str | None = None
    # Signed in through the publisher's SSO: the author is this reader, whatever the request's author says.
    reader: Reader | None = None


def post_comment(
    *, db: Database, scorer: Scorer, data: CommentCreate, context: PostContext, record: RecordEvents | None = None
) -> WriteResult:
    """Validate, gather, rate-limit and score outside any transaction, then store in one short write.

    record: the event bus's `record`, run inside the write with its events (webhook deliveries commit with the
    comment); without it, subscribers hear of the comment only when the caller publishes the events.
    """
    with db.read() as session:
        site = get_site(session=session, slug=data.site)
        settings = site_settings(site)
        request_hash = _request_hash(data)
        if context.idempotency_key:
            replay = _replay(session, site, context, request_hash)
            if replay is not None:
                return WriteResult(replay)
        canonical_url = allowed_story_url(site=site, url=data.url)
        body = valid_body(data.body, max_chars=settings.max_body_chars)
        author_in = _author_in(data, settings, site, context.reader)
        poster = _poster(context, site, author_in)
        intake.check_rate_limits(
            limiter=context.limiter, settings=settings, site=site, poster=poster, url=canonical_url
        )
        story = find_story(session=session, site=site, url=canonical_url)
        known_author = intake.find_author(session=session, site=site, identity=poster.identity_key)
        scores = scorer.score(body)
        submission = intake.gather(
            session=session,
            site=site,
            settings=settings,
            story=story,
            author=known_author,
            body=body,
            scores=scores,
            now=utcnow(),
        )
    decision = decide(submission)
    html = markup.render(body)  # before the write lock: writers queue behind each other on SQLite
    store = partial(
        _store_comment,
        draft=_Draft(
            site=site,
            settings=settings,
            data=data,
            body=body,
            html=html,
            known_author_id=known_author.id if known_author else None,
        ),
        author_in=author_in,
        poster=poster,
        context=context,
        decided={
            "status": decision.status,
            "flagged": decision.flagged,
            "moderation_reasons": decision.reasons + ([f"nudge:{data.nudge}"] if data.nudge else []),
            "moderation_scores": scores.as_json(),
            "reader_key": poster.reader_key,
            "body_hash": submission.body_hash,
        },
        request_hash=request_hash,
        record=record,
    )
    try:
        comment, author, token, raised, recorded = db.write_together(store)
    except IntegrityError:
        # Another request with the same Idempotency-Key won the race; answer as it did.
        if context.idempotency_key:
            with db.read() as session:
                replay = _replay(session, site, context, request_hash)
            if replay is not None:
                return WriteResult(replay)
        raise
    # Built from the rows as written, after the commit: no read back, and the next writer need not wait for it.
    own = _own_from(written_row(comment, author), comment, settings)
    created = CommentCreated(id=comment.id, status=comment.status, edit_token=token, comment=own)
    return WriteResult(created, raised, recorded)


def check_draft(*, db: Database, scorer: Scorer, data: DraftCheck, context: PostContext) -> DraftChecked:
    """The nudge: what the content rules would do with a draft, and the words to highlight. Stores nothing."""
    with db.read() as session:
        site = get_site(session=session, slug=data.site)
        settings = site_settings(site)
    body = valid_body(data.body, max_chars=settings.max_body_chars)
    network = network_key(secret_key=context.secret_key, address=context.client_address)
    intake.check_draft_rate(limiter=context.limiter, network_key=network)
    found = nudge.verdict(settings=settings, scores=scorer.score(body), matches=nudge.word_matches(settings, body))
    return DraftChecked(
        decision=found.decision,
        text=body,
        categories=found.categories,
        highlights=[DraftHighlight(start=h.start, end=h.end, reason=h.reason) for h in found.highlights],
    )


def edit_comment(
    *, db: Database, scorer: Scorer, comment_id: int, token: str | None, body: str, context: PostContext
) -> WriteResult:
    """The author's edit: the new text goes through the content phases of the pipeline again."""
    reader = context.reader
    with db.read() as session:
        comment, site = _owned_comment(session, comment_id, token, reader)
        settings = site_settings(site)
        # Everything that refuses the edit whatever its text comes before the text is scored and rendered.
        _check_editable(comment)
        _check_edit_window(comment, settings)
        clean = valid_body(body, max_chars=settings.max_body_chars)
        network = network_key(secret_key=context.secret_key, address=context.client_address)
        intake.check_edit_rate(limiter=context.limiter, network_key=network, comment_id=comment_id)
        scores = scorer.score(clean)
        submission = intake.gather(
            session=session,
            site=site,
            settings=settings,
            story=session.get(Story, comment.story_id),
            author=session.get(Author, comment.author_id),
            body=clean,
            scores=scores,
            now=utcnow(),
        )
    decision = decide(replace(submission, is_edit=True))
    html = markup.render(clean)
    with db.write() as session:
        comment, site = _owned_comment(session, comment_id, token, reader)
        _check_editable(comment)  # again: a moderator may have decided it meanwhile
        comment.body, comment.html = clean, html
        comment.markup_version = markup.MARKUP_VERSION
        comment.edited_at = utcnow()
        comment.moderation_reasons = decision.reasons
        comment.moderation_scores = scores.as_json()
        comment.flagged = decision.flagged
        comment.body_hash = submission.body_hash
        set_status(session, comment, decision.status)
        bump_story(session, comment.story_id)
        result = _own(session, comment, settings)
        story_id, story_url = story_keys(session, comment.story_id)[1:]
    return WriteResult(
        result,
        [
            events.CommentEdited(site.id, story_id, comment_id),
            events.StoryChanged(site.id, story_id, story_url, comment_id),
        ],
    )


def delete_comment(*, db: Database, comment_id: int, token: str | None, reader: Reader | None = None) -> WriteResult:
    """The author's delete: the text is erased, a tombstone keeps the replies in place."""
    with db.write() as session:
        comment, site = _owned_comment(session, comment_id, token, reader)
        settings = site_settings(site)
        _check_edit_window(comment, settings)
        if comment.status in TOMBSTONES:
            raise NotFound(f"No comment {comment_id}.")
        # Moderators may still read it for the site's deleted_text_days; then the housekeeping task erases it.
        comment.body, comment.html = (comment.body if settings.deleted_text_days else ""), ""
        comment.deleted_at = utcnow()
        set_status(session, comment, CommentStatus.DELETED)
        bump_story(session, comment.story_id)
        story_id, story_url = story_keys(session, comment.story_id)[1:]
    return WriteResult(
        None,
        [
            events.CommentDeleted(site.id, story_id, comment_id),
            events.StoryChanged(site.id, story_id, story_url, comment_id),
        ],
    )


def set_reaction(
    *, db: Database, comment_id: int, reader_key: str, on: bool, author_id: int | None = None
) -> WriteResult:
    """Add or withdraw one reader's reaction; repeating either is harmless (a unique constraint decides)."""

    def react(session: Session) -> tuple[int, bool, tuple[int, int, str]]:
        comment = _published_comment(session, comment_id)
        if on:
            changed = _insert_reaction(session, comment_id, reader_key, author_id)
        else:
            deleted = session.execute(
                delete(Reaction).where(Reaction.comment_id == comment_id, Reaction.reader_key == reader_key)
            )
            changed = getattr(deleted, "rowcount", 0) > 0
        count = comment.reaction_count
        if changed:
            count = session.execute(
                update(Comment)
                .where(Comment.id == comment_id)
                .values(reaction_count=Comment.reaction_count + (1 if on else -1))
                .returning(Comment.reaction_count)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            bump_story(session, comment.story_id)
        return count, changed, story_keys(session, comment.story_id)

    # Reactions come in bursts on a hot thread: they share commits like posts.
    count, changed, (site_id, story_id, story_url) = db.write_together(react)
    state = ReactionState(comment_id=comment_id, reacted=on, reaction_count=count)
    return WriteResult(state, [events.StoryChanged(site_id, story_id, story_url)] if changed else [])


def report_comment(
    *, db: Database, comment_id: int, reader_key: str, data: ReportCreate, author_id: int | None = None
) -> WriteResult:
    with db.write() as session:
        comment = _published_comment(session, comment_id)
        report = Report(
            comment_id=comment_id,
            reader_key=reader_key,
            author_id=author_id,
            reason=data.reason,
            message=markup.clean_text(data.message),
            created_at=utcnow(),
        )
        try:
            with session.begin_nested():
                session.add(report)
        except IntegrityError as exc:
            raise Conflict("You have reported this comment already.") from exc
        session.execute(
            update(Comment)
            .where(Comment.id == comment_id)
            .values(open_reports=Comment.open_reports + 1)
            .execution_options(synchronize_session=False)
        )
        site_id, story_id, _url = story_keys(session, comment.story_id)
    return WriteResult(report, [events.CommentReported(site_id, story_id, comment_id, data.reason.value)])


def permalink(
    *, session: Session, comment_id: int, token: str | None, reader: Reader | None = None
) -> CommentWithAncestors:
    """A comment with its ancestors; hidden comments only for their author, who also sees the source."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"No comment {comment_id}.")
    story = session.get(Story, comment.story_id)
    assert story is not None
    shown: CommentPublic
    if edit_token_matches(token, comment.edit_token_hash) or _written_by(comment, reader):
        site = session.get(Site, story.site_id)
        assert site is not None
        shown = _own(session, comment, site_settings(site))
    elif is_listed(comment.status, comment.reply_count):
        row = comment_row(session, comment_id)
        assert row is not None
        shown = to_public(row)
    else:
        raise NotFound(f"No comment {comment_id}.")
    return CommentWithAncestors(
        comment=shown,
        ancestors=ancestors_of(session, comment),
        story=StoryPublic.model_validate(story, from_attributes=True),
    )


def listed_comment(*, session: Session, comment_id: int) -> tuple[Comment, Site]:
    """A comment readers can see, with its site; anything else is not found."""
    comment = session.get(Comment, comment_id)
    if comment is None or not is_listed(comment.status, comment.reply_count):
        raise NotFound(f"No comment {comment_id}.")
    story = session.get(Story, comment.story_id)
    assert story is not None
    site = session.get(Site, story.site_id)
    assert site is not None
    return comment, site


def own_comment(*, session: Session, comment: Comment, settings: SiteSettings) -> CommentOwn:
    return _own(session, comment, settings)


def token_proves(comment: Comment, token: str | None) -> bool:
    return edit_token_matches(token, comment.edit_token_hash)


# --- internals -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    """A new comment as checked and rendered before the write."""

    site: Site
    settings: SiteSettings
    data: CommentCreate
    body: str
    html: str
    known_author_id: int | None  # the author the checks found for this identity, before the write


def _store_comment(
    session: Session,
    *,
    draft: _Draft,
    author_in: AuthorIn,
    poster: intake.Poster,
    context: PostContext,
    decided: dict[str, Any],
    request_hash: str,
    record: RecordEvents | None,
) -> tuple[Comment, Author, str, list[Any], Recorded | None]:
    """The write of a new comment: its author, the row, its token, the counts, the surge guard and its events."""
    author = _upsert_author(session, draft.site, author_in, poster, known_id=draft.known_author_id)
    # Without an Idempotency-Key the token is random, so its hash goes into the INSERT itself.
    token = new_edit_token() if context.idempotency_key is None else None
    decided = decided | {"edit_token_hash": hash_edit_token(token) if token else b""}
    comment, story = _insert_comment(session, draft=draft, author=author, decided=decided)
    token = token or _assign_idempotent_token(session, comment, draft.site, context, request_hash)
    count_new_comment(session, comment, became_listed=is_listed(comment.status, 0))
    surge = surge_guard(session=session, story=story, settings=draft.settings, status=decided["status"])
    site_id, status = draft.site.id, comment.status.value
    raised: list[Any] = [
        events.CommentPosted(site_id, story.id, story.url, comment.id, comment.parent_id, status),
        events.StoryChanged(site_id, story.id, story.url),
    ] + ([surge] if surge else [])
    # In the same savepoint as the comment: a delivery that cannot be queued fails the post, never goes missing.
    recorded = record(session, raised) if record is not None else None
    return comment, author, token, raised, recorded


def _insert_comment(
    session: Session, *, draft: _Draft, author: Author, decided: dict[str, Any]
) -> tuple[Comment, Story]:
    """Insert the comment with what the pipeline decided about it (status, reasons, scores, token hash…)."""
    story = story_for_comment(session=session, site=draft.site, url=draft.data.url)
    if story.closed:
        raise StoryClosed("This story is closed for comments.")
    parent = _parent_for_reply(session, story, draft.data.parent_id, draft.settings.max_depth)
    comment = Comment(
        site_id=draft.site.id,
        story_id=story.id,
        parent_id=parent.id if parent else None,
        depth=attach_depth(parent.depth if parent else None, draft.settings.max_depth),
        author_id=author.id,
        body=draft.body,
        html=draft.html,
        markup_version=markup.MARKUP_VERSION,
        created_at=utcnow(),
        reaction_count=0,
        reply_count=0,
        featured=False,
        **decided,
    )
    session.add(comment)
    session.flush()
    return comment, story


def _parent_for_reply(session: Session, story: Story, parent_id: int | None, max_depth: int) -> Comment | None:
    if parent_id is None:
        return None
    parent = session.get(Comment, parent_id)
    if parent is None or parent.story_id != story.id:
        raise InvalidInput(f"Comment {parent_id} is not on this story.", field="parent_id")
    if parent.status != CommentStatus.APPROVED:
        raise InvalidInput(f"Comment {parent_id} is not published and cannot be replied to.", field="parent_id")
    # At the depth cap the reply becomes the parent's sibling, keeping the conversation's place.
    while parent.depth >= max_depth and parent.parent_id is not None:
        grandparent = session.get(Comment, parent.parent_id)
        if grandparent is None:
            break
        parent = grandparent
    return parent


def _assign_idempotent_token(
    session: Session, comment: Comment, site: Site, context: PostContext, request_hash: str
) -> str:
    """A retry must get the same token back, so it is derived from the key and the new comment's id."""
    assert context.idempotency_key is not None
    token = idempotent_edit_token(
        secret_key=context.secret_key,
        site_id=site.id,
        idempotency_key=context.idempotency_key,
        comment_id=comment.id,
    )
    session.add(
        IdempotencyKey(
            site_id=site.id,
            key=context.idempotency_key,
            request_hash=request_hash,
            comment_id=comment.id,
            created_at=utcnow(),
        )
    )
    comment.edit_token_hash = hash_edit_token(token)
    session.flush()
    return token


def _replay(session: Session, site: Site, context: PostContext, request_hash: str) -> CommentCreated | None:
    assert context.idempotency_key is not None
    record = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.site_id == site.id, IdempotencyKey.key == context.idempotency_key)
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used for a different request.", field="Idempotency-Key")
    comment = session.get(Comment, record.comment_id)
    assert comment is not None
    token = idempotent_edit_token(
        secret_key=context.secret_key,
        site_id=site.id,
        idempotency_key=context.idempotency_key,
        comment_id=comment.id,
    )
    return _created(session, comment, token, site_settings(site))


def _created(session: Session, comment: Comment, token: str, settings: SiteSettings) -> CommentCreated:
    return CommentCreated(
        id=comment.id, status=comment.status, edit_token=token, comment=_own(session, comment, settings)
    )


def _own(session: Session, comment: Comment, settings: SiteSettings) -> CommentOwn:
    row = comment_row(session, comment.id)
    assert row is not None
    return _own_from(row, comment, settings)


def _own_from(row: Row[Any] | SimpleNamespace, comment: Comment, settings: SiteSettings) -> CommentOwn:
    public = to_public(row)
    return CommentOwn(
        **public.model_dump(exclude={"replies", "more_replies"}),
        body=comment.body,
        editable_until=comment.created_at + timedelta(seconds=settings.edit_window_seconds),
        moderation_reasons=list(comment.moderation_reasons),
    )


def _owned_comment(
    session: Session, comment_id: int, token: str | None, reader: Reader | None = None
) -> tuple[Comment, Site]:
    comment = session.get(Comment, comment_id)
    # The same answer for a missing comment and a wrong token would hide which ids exist, but ids are
    # not secret here; what matters is that nothing changes without the token.
    if comment is None or comment.status in TOMBSTONES:
        raise NotFound(f"No comment {comment_id}.")
    if not (edit_token_matches(token, comment.edit_token_hash) or _written_by(comment, reader)):
        raise Forbidden("The edit token does not match this comment (X-Parlour-Edit-Token).")
    story = session.get(Story, comment.story_id)
    assert story is not None
    site = session.get(Site, story.site_id)
    assert site is not None
    return comment, site


def _check_editable(comment: Comment) -> None:
    if comment.status not in {CommentStatus.APPROVED, CommentStatus.PENDING}:
        raise Conflict("Only a published or pending comment can be edited.")


def _check_edit_window(comment: Comment, settings: SiteSettings) -> None:
    if utcnow() > comment.created_at + timedelta(seconds=settings.edit_window_seconds):
        raise EditWindowClosed("The time to edit or delete this comment has passed.")


def _published_comment(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None or comment.status != CommentStatus.APPROVED:
        raise NotFound(f"No published comment {comment_id}.")
    return comment


def _insert_reaction(session: Session, comment_id: int, reader_key: str, author_id: int | None) -> bool:
    try:
        with session.begin_nested():
            session.add(
                Reaction(comment_id=comment_id, reader_key=reader_key, author_id=author_id, created_at=utcnow())
            )
    except IntegrityError:
        return False
    return True


def valid_body(raw: str, *, max_chars: int) -> str:
    """A comment's text as stored: cleaned, not empty, within the limit (the site's; a restore's may differ)."""
    body = markup.clean_text(raw).strip()
    if not body:
        raise InvalidInput("The comment is empty.", field="body")
    if len(body) > max_chars:
        raise InvalidInput(f"The comment is {len(body)} characters long; the limit is {max_chars}.", field="body")
    return body


def _written_by(comment: Comment, reader: Reader | None) -> bool:
    """A signed-in reader proves authorship by session, on any device, without the edit token."""
    return reader is not None and comment.author_id == reader.author_id


def _author_in(data: CommentCreate, settings: SiteSettings, site: Site, reader: Reader | None) -> AuthorIn:
    """Who the comment is by: the signed-in reader, or the name the request gives where the site allows it."""
    if reader is not None:
        if reader.site_id != site.id:
            raise Unauthorized("This reader session belongs to another site.", field="Authorization")
        return AuthorIn(name=reader.name, email=reader.email, website=reader.website)
    if settings.sign_in is SignIn.REQUIRED:
        raise LoginRequired("Sign in to comment on this site.")
    if data.author is None:
        raise InvalidInput("A display name is required.", field="author.name")
    return valid_author(data.author, max_name_chars=settings.max_name_chars)


def _poster(context: PostContext, site: Site, author: AuthorIn) -> intake.Poster:
    reader = reader_key(secret_key=context.secret_key, site_id=site.id, address=context.client_address)
    if context.reader is not None:
        return intake.Poster(reader, context.reader.identity_key)
    identity = intake.identity_key(
        secret_key=context.secret_key,
        site_id=site.id,
        reader_key=reader,
        name=author.name,
        email=str(author.email) if author.email else None,
    )
    return intake.Poster(reader, identity)


def _upsert_author(
    session: Session, site: Site, data: AuthorIn, poster: intake.Poster, *, known_id: int | None
) -> Author:
    """The author this identity already is, with the name and links they give now; or a new one.

    known_id: the author the checks before the write found (None: none yet). By primary key, then, or straight
    to the INSERT, whose unique constraint catches an author created in between.
    """
    email = str(data.email).lower() if data.email else None
    author = session.get(Author, known_id) if known_id is not None else None
    if author is not None and author.identity_key != poster.identity_key:
        author = intake.find_author(session=session, site=site, identity=poster.identity_key)  # erased meanwhile
    if author is None:
        try:
            with session.begin_nested():
                # Everything in the INSERT: a new author costs one statement, not an insert and an update.
                author = Author(
                    site_id=site.id,
                    identity_key=poster.identity_key,
                    display_name=data.name,
                    email=email,
                    website=data.website,
                    last_reader_key=poster.reader_key,
                    created_at=utcnow(),
                )
                session.add(author)
                session.flush()
            return author
        except IntegrityError:
            # The same author's two first comments raced; the unique constraint kept one row.
            author = intake.find_author(session=session, site=site, identity=poster.identity_key)
            assert author is not None
    author.display_name = data.name
    author.email = email or author.email
    author.website = data.website or author.website
    author.last_reader_key = poster.reader_key
    session.flush()
    return author


def valid_author(data: AuthorIn, *, max_name_chars: int) -> AuthorIn:
    """The name and website as stored: plain one-line text within the limit, and an http(s) URL re-serialised."""
    name = " ".join(markup.clean_text(data.name).split())
    if not name:
        raise InvalidInput("A display name is required.", field="author.name")
    if len(name) > max_name_chars:
        raise InvalidInput(f"The display name is longer than {max_name_chars} characters.", field="author.name")
    website = normalise_website(data.website) if data.website else None
    return data.model_copy(update={"name": name, "website": website})


def _request_hash(data: CommentCreate) -> str:
    return hashlib.sha256(orjson.dumps(data.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()
