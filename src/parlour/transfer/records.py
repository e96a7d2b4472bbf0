"""What every importer reads from its source: threads, comments and malformed records. Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from parlour.db.tables import CommentStatus

Source = Literal["disqus", "wordpress", "isso"]


@dataclass(frozen=True)
class SourceThread:
    """An article as the source knows it; becomes a story on the first comment that needs it."""

    source_id: str
    url: str
    title: str | None
    created_at: datetime | None
    closed: bool
    position: str


@dataclass(frozen=True)
class SourceAuthor:
    name: str
    email: str | None = None
    website: str | None = None
    # A stable account name in the source (Disqus username) when the author was signed in there.
    username: str | None = None


@dataclass(frozen=True)
class SourceComment:
    source_id: str
    thread_id: str
    parent_id: str | None
    text: str
    # html: untrusted HTML to convert; markdown: already Markdown source (Isso).
    text_format: Literal["html", "markdown"]
    created_at: datetime
    status: CommentStatus
    author: SourceAuthor
    position: str
    note: str = ""


@dataclass(frozen=True)
class Malformed:
    """A record that cannot be imported: where it is and why. The import goes on without it."""

    position: str
    reason: str
    source_id: str | None = None  # when known: a reply to it says its parent was skipped


@dataclass(frozen=True)
class Skipped:
    """A well-formed record that is not a comment Parlour imports (a pingback, a comment over the length limit)."""

    position: str
    reason: str
    source_id: str | None = None


Record = SourceThread | SourceComment | Malformed | Skipped


class Reader(Protocol):
    """A source: first proven readable as a whole (check), then streamed (records)."""

    source: Source

    def check(self) -> None:
        """Read the whole input; raise MalformedFile if it cannot be imported at all. Writes nothing."""

    def records(self) -> Iterator[Record]: ...

    def position(self) -> int:
        """How far records() has read, in the unit of size()."""

    def size(self) -> int: ...


class MalformedFile(Exception):
    """The input as a whole is not what the importer reads: nothing was imported."""


def parse_utc(value: str) -> datetime:
    """An ISO 8601 time; a time without offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
