"""Disqus XML export: <thread> and <post> elements under <disqus>, read as a stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from parlour.db.tables import CommentStatus
from parlour.transfer.records import (
    Malformed,
    MalformedFile,
    Record,
    Source,
    SourceAuthor,
    SourceComment,
    SourceThread,
    parse_utc,
)
from parlour.transfer.xmlstream import FlatRecord, XmlStream, check_well_formed, root_tag

NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"
THREAD = NS + "thread"
POST = NS + "post"
RECORDS = frozenset({THREAD, POST})
# Fields of a post that name another record by its dsq:id attribute.
THREAD_ID = "thread@" + DSQ_ID
PARENT_ID = "parent@" + DSQ_ID


class DisqusReader:
    source: Source = "disqus"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = XmlStream(path, RECORDS)

    def check(self) -> None:
        check_well_formed(self.path)
        if root_tag(self.path) != NS + "disqus":
            raise MalformedFile(f"{self.path.name} is not a Disqus export: its root element is not <disqus>")

    def records(self) -> Iterator[Record]:
        for record in self.stream.records():
            if record.tag == POST:
                yield _post(record)
            elif record.tag == THREAD:
                yield _thread(record)

    def position(self) -> int:
        return self.stream.position()

    def size(self) -> int:
        return self.stream.size()


def _flag(fields: dict[str, str], name: str) -> bool:
    return fields.get(name, "").strip().lower() == "true"


def _thread(record: FlatRecord) -> Record:
    position = f"line {record.line}"
    source_id = record.attributes.get(DSQ_ID)
    fields = record.fields
    link = fields.get("link", "").strip()
    if not source_id:
        return Malformed(position, "a <thread> without dsq:id")
    created = fields.get("createdAt")
    try:
        created_at = parse_utc(created) if created else None
    except ValueError:
        created_at = None
    title = fields.get("title", "").strip() or None
    return SourceThread(source_id, link, title, created_at, _flag(fields, "isClosed"), position)


def _post(record: FlatRecord) -> Record:
    source_id = record.attributes.get(DSQ_ID)
    if not source_id:
        return Malformed(f"line {record.line}", "a <post> without dsq:id")
    position = f"line {record.line} (post {source_id})"
    fields = record.fields
    thread_id = fields.get(THREAD_ID)
    if not thread_id:
        return Malformed(position, "the post names no thread", source_id)
    try:
        created_at = parse_utc(fields.get("createdAt", ""))
    except ValueError:
        return Malformed(position, f"createdAt is not a time: {fields.get('createdAt')!r}", source_id)
    if "author" not in fields:
        return Malformed(position, "the post has no <author>", source_id)
    anonymous = _flag(fields, "author/isAnonymous")
    return SourceComment(
        source_id=source_id,
        thread_id=thread_id,
        parent_id=fields.get(PARENT_ID) or None,
        text=fields.get("message", ""),
        text_format="html",
        created_at=created_at,
        status=_status(fields),
        author=SourceAuthor(
            name=fields.get("author/name", "").strip(),
            email=fields.get("author/email", "").strip() or None,
            website=fields.get("author/link", "").strip() or None,
            username=None if anonymous else (fields.get("author/username", "").strip() or None),
        ),
        position=position,
    )


def _status(fields: dict[str, str]) -> CommentStatus:
    if _flag(fields, "isDeleted"):
        return CommentStatus.DELETED
    if _flag(fields, "isSpam"):
        return CommentStatus.REJECTED
    if fields.get("isApproved", "true").strip().lower() == "false":
        return CommentStatus.PENDING
    return CommentStatus.APPROVED
