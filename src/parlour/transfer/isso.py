"""Isso's SQLite database: threads and comments, read through a read-only cursor."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

from parlour.db.tables import CommentStatus
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
        return Malformed(position, "the comment belongs to no thread")
    status = MODES.get(mode) if isinstance(mode, int) else None
    if status is None:
        return Malformed(position, f"unknown mode {mode!r}")
    try:
        created_at = datetime.fromtimestamp(float(created), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return Malformed(position, f"created is not a time: {created!r}")
    return SourceComment(
        source_id=str(comment_id),
        thread_id=str(thread_id),
        parent_id=None if parent is None else str(parent),
        text=text if isinstance(text, str) else "",
        text_format="markdown",
        created_at=created_at,
        status=status,
        author=SourceAuthor(
            name=author.strip() if isinstance(author, str) else "",
            email=email.strip() or None if isinstance(email, str) else None,
            website=website.strip() or None if isinstance(website, str) else None,
        ),
        position=position,
    )
