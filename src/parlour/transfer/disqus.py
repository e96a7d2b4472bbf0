"""Disqus XML export: <thread> and <post> elements under <disqus>, read as a stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

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
from parlour.transfer.xmlstream import XmlStream, check_well_formed, children_by_name, line_of, root_tag, text_of

NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"
THREAD = NS + "thread"
POST = NS + "post"
RECORDS = frozenset({THREAD, POST})


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
        for element in self.stream.children():
            if element.tag == POST:
                yield _post(element)
            elif element.tag == THREAD:
                yield _thread(element)

    def position(self) -> int:
        return self.stream.position()

    def size(self) -> int:
        return self.stream.size()


def _flag(fields: dict[str, Element], name: str) -> bool:
    return (text_of(fields, name) or "").strip().lower() == "true"


def _thread(element: Element) -> Record:
    position = line_of(element)
    source_id = element.get(DSQ_ID)
    fields = children_by_name(element)
    link = (text_of(fields, "link") or "").strip()
    if not source_id:
        return Malformed(position, "a <thread> without dsq:id")
    created = text_of(fields, "createdAt")
    try:
        created_at = parse_utc(created) if created else None
    except ValueError:
        created_at = None
    title = (text_of(fields, "title") or "").strip() or None
    return SourceThread(source_id, link, title, created_at, _flag(fields, "isClosed"), position)


def _post(element: Element) -> Record:
    position = line_of(element)
    source_id = element.get(DSQ_ID)
    if not source_id:
        return Malformed(position, "a <post> without dsq:id")
    position = f"{position} (post {source_id})"
    fields = children_by_name(element)
    thread = fields.get("thread")
    thread_id = thread.get(DSQ_ID) if thread is not None else None
    if not thread_id:
        return Malformed(position, "the post names no thread")
    parent = fields.get("parent")
    parent_id = parent.get(DSQ_ID) if parent is not None else None
    try:
        created_at = parse_utc(text_of(fields, "createdAt") or "")
    except ValueError:
        return Malformed(position, f"createdAt is not a time: {text_of(fields, 'createdAt')!r}")
    author = fields.get("author")
    if author is None:
        return Malformed(position, "the post has no <author>")
    about = children_by_name(author)
    anonymous = _flag(about, "isAnonymous")
    return SourceComment(
        source_id=source_id,
        thread_id=thread_id,
        parent_id=parent_id or None,
        text=text_of(fields, "message") or "",
        text_format="html",
        created_at=created_at,
        status=_status(fields),
        author=SourceAuthor(
            name=(text_of(about, "name") or "").strip(),
            email=(text_of(about, "email") or "").strip() or None,
            website=(text_of(about, "link") or "").strip() or None,
            username=None if anonymous else ((text_of(about, "username") or "").strip() or None),
        ),
        position=position,
    )


def _status(fields: dict[str, Element]) -> CommentStatus:
    if _flag(fields, "isDeleted"):
        return CommentStatus.DELETED
    if _flag(fields, "isSpam"):
        return CommentStatus.REJECTED
    if (text_of(fields, "isApproved") or "true").strip().lower() == "false":
        return CommentStatus.PENDING
    return CommentStatus.APPROVED
