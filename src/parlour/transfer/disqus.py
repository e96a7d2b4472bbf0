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
from parlour.transfer.xmlstream import XmlStream, check_well_formed, child, child_text, line_of, root_tag

NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"
RECORDS = frozenset({NS + "thread", NS + "post"})


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
        depth = 0
        root: Element | None = None
        for event, element in self.stream.events():
            if event == "start":
                depth += 1
                root = element if root is None else root
                continue
            depth -= 1
            if depth != 1:
                continue
            if element.tag == NS + "thread":
                yield _thread(element)
            elif element.tag == NS + "post":
                yield _post(element)
            assert root is not None
            root.clear()  # drops every record read so far, so memory does not grow with the file

    def position(self) -> int:
        return self.stream.position()

    def size(self) -> int:
        return self.stream.size()


def _flag(element: Element, name: str) -> bool:
    return (child_text(element, name) or "").strip().lower() == "true"


def _thread(element: Element) -> Record:
    position = line_of(element)
    source_id = element.get(DSQ_ID)
    link = (child_text(element, "link") or "").strip()
    if not source_id:
        return Malformed(position, "a <thread> without dsq:id")
    created = child_text(element, "createdAt")
    try:
        created_at = parse_utc(created) if created else None
    except ValueError:
        created_at = None
    title = (child_text(element, "title") or "").strip() or None
    return SourceThread(source_id, link, title, created_at, _flag(element, "isClosed"), position)


def _post(element: Element) -> Record:
    position = line_of(element)
    source_id = element.get(DSQ_ID)
    if not source_id:
        return Malformed(position, "a <post> without dsq:id")
    position = f"{position} (post {source_id})"
    thread = child(element, "thread")
    thread_id = thread.get(DSQ_ID) if thread is not None else None
    if not thread_id:
        return Malformed(position, "the post names no thread")
    parent = child(element, "parent")
    parent_id = parent.get(DSQ_ID) if parent is not None else None
    try:
        created_at = parse_utc(child_text(element, "createdAt") or "")
    except ValueError:
        return Malformed(position, f"createdAt is not a time: {child_text(element, 'createdAt')!r}")
    author = child(element, "author")
    if author is None:
        return Malformed(position, "the post has no <author>")
    anonymous = _flag(author, "isAnonymous")
    return SourceComment(
        source_id=source_id,
        thread_id=thread_id,
        parent_id=parent_id or None,
        text=child_text(element, "message") or "",
        text_format="html",
        created_at=created_at,
        status=_status(element),
        author=SourceAuthor(
            name=(child_text(author, "name") or "").strip(),
            email=(child_text(author, "email") or "").strip() or None,
            website=(child_text(author, "link") or "").strip() or None,
            username=None if anonymous else ((child_text(author, "username") or "").strip() or None),
        ),
        position=position,
    )


def _status(element: Element) -> CommentStatus:
    if _flag(element, "isDeleted"):
        return CommentStatus.DELETED
    if _flag(element, "isSpam"):
        return CommentStatus.REJECTED
    if (child_text(element, "isApproved") or "true").strip().lower() == "false":
        return CommentStatus.PENDING
    return CommentStatus.APPROVED
