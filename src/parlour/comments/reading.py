"""Reading threads: a constant number of indexed queries per page, whatever the thread's size."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, literal, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from parlour.comments.schemas import AuthorPublic, CommentPublic, MoreReplies, Sort
from parlour.comments.threading import TOMBSTONES, decode_cursor, encode_cursor, sort_key
from parlour.db.tables import Author, Comment, CommentStatus, Site, Story
from parlour.identity.avatars import avatar_seed

AnySelect = Select[*tuple[Any, ...]]
MAX_FEATURED = 10
# SQLite allows 500 terms in one compound SELECT; stay well below it.
MAX_UNION_TERMS = 200
# A level's parents are padded up to one of these counts (with an id no comment has), so a few statements
# serve every page.
UNION_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, MAX_UNION_TERMS)
NO_PARENT = 0

COLUMNS = (
    Comment.id,
    Comment.parent_id,
    Comment.depth,
    Comment.status,
    Comment.html,
    Comment.created_at,
    Comment.edited_at,
    Comment.reaction_count,
    Comment.reply_count,
    Comment.featured,
    Author.display_name,
    Author.website,
    Author.avatar_url,
    Author.badges,
    Author.role,
    Author.identity_key,
)


@dataclass(frozen=True)
class PageShape:
    limit: int
    replies_preview: int
    preview_depth: int


def listed_condition() -> Any:
    return or_(
        Comment.status == CommentStatus.APPROVED,
        and_(Comment.status.in_(list(TOMBSTONES)), Comment.reply_count > 0),
    )


def find_site_and_story(*, session: Session, site_slug: str, url: str) -> tuple[Site | None, Story | None]:
    """The site and the story at a canonical URL, in one query."""
    row = session.execute(
        select(Site, Story)
        .outerjoin(Story, and_(Story.site_id == Site.id, Story.url == url))
        .where(Site.slug == site_slug)
    ).first()
    if row is None:
        return None, None
    return row[0], row[1]


@dataclass(frozen=True)
class TopLevel:
    comments: list[CommentPublic]
    next_cursor: str | None
    # Featured top-level comments that are not on this page, for the first page only: pinned above the thread
    # whatever the sort, so a moderator's pick is never buried on page five.
    featured: list[CommentPublic]


def read_top_level(*, session: Session, story: Story, sort: Sort, cursor: str | None, shape: PageShape) -> TopLevel:
    top = (Comment.story_id == story.id, Comment.parent_id.is_(None), listed_condition())
    query = _order_and_seek(_base_query().where(*top), sort, cursor).limit(shape.limit + 1)
    rows = session.execute(query).all()
    page, has_more = rows[: shape.limit], len(rows) > shape.limit
    comments = [to_public(row) for row in page]
    featured: list[CommentPublic] = []
    if cursor is None:
        on_page = {c.id for c in comments}
        picked = _base_query().where(*top, Comment.featured.is_(True))
        picked = picked.order_by(Comment.created_at.desc(), Comment.id.desc()).limit(MAX_FEATURED)
        featured = [to_public(row) for row in session.execute(picked) if row.id not in on_page]
    fill_replies(session=session, parents=featured + comments, shape=shape)
    next_cursor = _cursor_after(sort, page[-1]) if has_more and page else None
    return TopLevel(comments, next_cursor, featured)


def read_replies(
    *, session: Session, parent: Comment, cursor: str | None, shape: PageShape
) -> tuple[list[CommentPublic], str | None]:
    query = _base_query().where(Comment.parent_id == parent.id, listed_condition())
    query = _order_and_seek(query, Sort.OLDEST, cursor).limit(shape.limit + 1)
    rows = session.execute(query).all()
    page, has_more = rows[: shape.limit], len(rows) > shape.limit
    replies = [to_public(row) for row in page]
    fill_replies(session=session, parents=replies, shape=shape)
    return replies, (_cursor_after(Sort.OLDEST, page[-1]) if has_more and page else None)


def fill_replies(*, session: Session, parents: list[CommentPublic], shape: PageShape) -> None:
    """Attach each comment's first replies, level by level: one query per level, not per comment."""
    level = [p for p in parents if p.reply_count > 0]
    for _ in range(shape.preview_depth):
        if not level or shape.replies_preview == 0:
            break
        by_parent: dict[int, list[Row[Any]]] = {}
        for row in _first_replies(session, [p.id for p in level], shape.replies_preview + 1):
            by_parent.setdefault(row.parent_id, []).append(row)
        next_level: list[CommentPublic] = []
        for parent in level:
            rows = by_parent.get(parent.id, [])
            shown = rows[: shape.replies_preview]
            parent.replies = [to_public(row) for row in shown]
            _mark_more(parent, len(shown), has_more=len(rows) > len(shown), last=shown[-1] if shown else None)
            next_level.extend(r for r in parent.replies if r.reply_count > 0)
        level = next_level
    for parent in level:
        # Deeper than the preview reaches: the client continues from the first reply.
        _mark_more(parent, 0, has_more=True, last=None)


def _mark_more(parent: CommentPublic, shown: int, *, has_more: bool, last: Row[Any] | None) -> None:
    if has_more or parent.reply_count > shown:
        cursor = _cursor_after(Sort.OLDEST, last) if last is not None else None
        parent.more_replies = MoreReplies(count=max(parent.reply_count - shown, 1), cursor=cursor)


def _first_replies(session: Session, parent_ids: Sequence[int], per_parent: int) -> Iterable[Row[Any]]:
    # One LIMITed index range per parent, glued with UNION ALL: cost follows the page, not the thread.
    for start in range(0, len(parent_ids), MAX_UNION_TERMS):
        chunk = list(parent_ids[start : start + MAX_UNION_TERMS])
        terms = next(size for size in UNION_SIZES if size >= len(chunk))
        padded = chunk + [NO_PARENT] * (terms - len(chunk))
        params: dict[str, int] = {f"p{i}": parent_id for i, parent_id in enumerate(padded)}
        yield from session.execute(_first_replies_statement(terms), params | {"per_parent": per_parent}).all()


@functools.cache
def _first_replies_statement(terms: int) -> AnySelect:
    """The first replies of `terms` parents, bound as p0, p1, … with `per_parent` each.

    Built once per size and reused with new parameters: constructing a union of this many subqueries was most of
    the time of an uncached thread page (SQLAlchemy's column proxies, not the database), and a reused statement
    also hits SQLAlchemy's compiled cache.
    """
    selects = [
        _base_query()
        .where(Comment.parent_id == bindparam(f"p{i}"), listed_condition())
        .order_by(Comment.created_at, Comment.id)
        .limit(bindparam("per_parent"))
        for i in range(terms)
    ]
    if terms == 1:
        return selects[0]
    subqueries = [s.subquery() for s in selects]
    union = union_all(*[select(*sq.c) for sq in subqueries]).subquery()
    return select(*union.c)


def _base_query() -> AnySelect:
    return select(*COLUMNS).join(Author, Author.id == Comment.author_id)


def _order_and_seek(query: AnySelect, sort: Sort, cursor: str | None) -> AnySelect:
    if sort is Sort.TOP:
        columns: tuple[Any, ...] = (
            Comment.reaction_count,
            Comment.reply_count,
            Comment.created_at,
            Comment.id,
        )
        descending = True
    else:
        columns = (Comment.created_at, Comment.id)
        descending = sort is Sort.NEWEST
    query = query.order_by(*[c.desc() if descending else c.asc() for c in columns])
    if cursor is None:
        return query
    # Typed literals, so a datetime binds exactly as the column stores it on every backend.
    position = tuple_(*[literal(v, type_=c.type) for v, c in zip(decode_cursor(cursor, sort), columns, strict=True)])
    return query.where(tuple_(*columns) < position if descending else tuple_(*columns) > position)


def _cursor_after(sort: Sort, row: Row[Any]) -> str:
    return encode_cursor(
        sort,
        sort_key(
            sort,
            reaction_count=row.reaction_count,
            reply_count=row.reply_count,
            created_at=row.created_at,
            id=row.id,
        ),
    )


def to_public(row: Row[Any] | SimpleNamespace) -> CommentPublic:
    tombstone = row.status in TOMBSTONES
    return CommentPublic(
        id=row.id,
        parent_id=row.parent_id,
        depth=row.depth,
        status=row.status,
        author=None if tombstone else _author(row),
        html="" if tombstone else row.html,
        created_at=row.created_at,
        edited_at=row.edited_at,
        reaction_count=row.reaction_count,
        reply_count=row.reply_count,
        featured=row.featured,
    )


def _author(row: Row[Any] | SimpleNamespace) -> AuthorPublic:
    return AuthorPublic(
        name=row.display_name,
        website=row.website,
        avatar=row.avatar_url,
        avatar_seed=None if row.avatar_url else avatar_seed(row.identity_key),
        badges=list(row.badges or ()),
        role=row.role,
    )


def comment_row(session: Session, comment_id: int) -> Row[Any] | None:
    return session.execute(_base_query().where(Comment.id == comment_id)).first()


def written_row(comment: Comment, author: Author) -> SimpleNamespace:
    """What `comment_row` reads, from a comment and its author as they were just written: no read back."""
    return SimpleNamespace(**{c.key: getattr(comment if c.class_ is Comment else author, c.key) for c in COLUMNS})


def ancestors_of(session: Session, comment: Comment) -> list[CommentPublic]:
    """The chain from the top-level comment down to the parent; iterative, bounded by the depth cap."""
    chain: list[CommentPublic] = []
    parent_id = comment.parent_id
    seen: set[int] = {comment.id}
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        row = comment_row(session, parent_id)
        if row is None:
            break
        chain.append(to_public(row))
        parent_id = row.parent_id
    chain.reverse()
    return chain


def story_counts(*, session: Session, site_slug: str, urls: set[str]) -> dict[str, int]:
    rows = session.execute(
        select(Story.url, Story.comment_count)
        .join(Site, Site.id == Story.site_id)
        .where(Site.slug == site_slug, Story.url.in_(urls))
    )
    return {row.url: row.comment_count for row in rows}
