"""Isso's SQLite database: threads and comments, read through a read-only cursor."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin

import nh3
from markdown_it import MarkdownIt

from parlour.db.tables import CommentStatus
from parlour.transfer.htmlmd import DROPPED
from parlour.transfer.records import (
    Malformed,
    MalformedFile,
    Record,
    Source,
    SourceAuthor,
    SourceComment,
    SourceThread,
)

# Isso's comment modes: 1 published, 2 waiting for moderation, 4 deleted (kept while it has replies).
MODES = {1: CommentStatus.APPROVED, 2: CommentStatus.PENDING, 4: CommentStatus.DELETED}
REQUIRED = {
    "threads": {"id", "uri", "title"},
    "comments": {"tid", "id", "parent", "created", "mode", "text", "author", "email", "website"},
}
# What Isso's sanitiser keeps of a rendered comment (isso/html/__init__.py, 0.14); anything else loses its tags.
ISSO_TAGS = frozenset(
    {"a", "p", "hr", "br", "ol", "ul", "li", "pre", "code", "blockquote", "del", "ins", "strong", "em"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "sub", "sup", "table", "thead", "tbody", "th", "td"}
)
# Something that looks like an HTML tag; without one, Isso's Markdown is taken as it is.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


class IssoReader:
    source: Source = "isso"

    def __init__(self, path: Path, *, origin: str) -> None:
        self.path = path
        # Isso stores thread URIs as paths on the site it served; they are joined to this origin.
        self.origin = origin.rstrip("/") + "/"
        self.read = 0

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise MalformedFile(f"{self.path} does not exist")
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)

    def check(self) -> None:
        try:
            with self._connect() as connection:
                for table, columns in REQUIRED.items():
                    found = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                    if not columns <= found:
                        missing = ", ".join(sorted(columns - found))
                        raise MalformedFile(f"{self.path.name} is not an Isso database: {table} lacks {missing}")
                connection.execute("SELECT COUNT(*) FROM comments").fetchone()
        except sqlite3.DatabaseError as exc:
            raise MalformedFile(f"{self.path.name} is not a readable SQLite database: {exc}") from exc

    def records(self) -> Iterator[Record]:
        self.read = 0
        connection = self._connect()
        try:
            for thread_id, uri, title in connection.execute("SELECT id, uri, title FROM threads ORDER BY id"):
                yield SourceThread(str(thread_id), self._url(uri), title or None, None, False, f"thread {thread_id}")
            query = "SELECT id, tid, parent, created, mode, text, author, email, website FROM comments ORDER BY id"
            for row in connection.execute(query):
                self.read += 1
                yield _comment(*row)
        finally:
            connection.close()

    def _url(self, uri: object) -> str:
        return urljoin(self.origin, str(uri or ""))

    def position(self) -> int:
        return self.read

    def size(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM comments").fetchone()[0])


def _comment(
    comment_id: int,
    thread_id: int | None,
    parent: int | None,
    created: object,
    mode: object,
    text: object,
    author: object,
    email: object,
    website: object,
) -> Record:
    position = f"comment id {comment_id}"
    if thread_id is None:
        return Malformed(position, "the comment belongs to no thread", str(comment_id))
    status = MODES.get(mode) if isinstance(mode, int) else None
    if status is None:
        return Malformed(position, f"unknown mode {mode!r}", str(comment_id))
    try:
        created_at = datetime.fromtimestamp(float(created), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return Malformed(position, f"created is not a time: {created!r}", str(comment_id))
    body, text_format = _text(text if isinstance(text, str) else "")
    return SourceComment(
        source_id=str(comment_id),
        thread_id=str(thread_id),
        parent_id=None if parent is None else str(parent),
        text=body,
        text_format=text_format,
        created_at=created_at,
        status=status,
        author=SourceAuthor(
            name=author.strip() if isinstance(author, str) else "",
            email=email.strip() or None if isinstance(email, str) else None,
            website=website.strip() or None if isinstance(website, str) else None,
        ),
        position=position,
    )


def _text(text: str) -> tuple[str, Literal["html", "markdown"]]:
    """The comment's text and its format: Markdown, or HTML when it holds tags, rendered as Isso rendered it.

    Isso's Markdown may hold inline HTML, which Isso's misaka renderer passed through and its sanitiser cut to
    ISSO_TAGS: rendered here the same way, it goes on to the HTML conversion every import uses, instead of
    showing its tags as text. Scripts and the like go with their content, as in every import.
    """
    if _TAG.search(text) is None:
        return text, "markdown"
    return isso_html(text), "html"


def isso_html(text: str) -> str:
    """The HTML Isso's misaka renderer showed for a comment, sanitised to ISSO_TAGS and without scripts' text."""
    html = _markdown().render(text)
    return nh3.clean(html, tags=set(ISSO_TAGS), attributes={"a": {"href"}}, clean_content_tags=set(DROPPED))


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML on, and bare URLs made links as Isso's autolink did.
    return MarkdownIt("commonmark", {"html": True, "linkify": True}).enable("linkify")
