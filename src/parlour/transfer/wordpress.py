"""WordPress WXR (RSS 2.0 with the wp: namespace): <item> posts holding <wp:comment> elements, read as a stream."""

from __future__ import annotations

import html
from collections.abc import Container, Iterator
from datetime import UTC, datetime
from pathlib import Path
from xml.etree.ElementTree import Element

from parlour.db.tables import CommentStatus
from parlour.transfer.records import (
    Malformed,
    MalformedFile,
    Record,
    Skipped,
    Source,
    SourceAuthor,
    SourceComment,
    SourceThread,
)
from parlour.transfer.wpautop import autop
from parlour.transfer.xmlstream import XmlStream, check_well_formed, child_text, line_of, local, root_tag

# WXR 1.0, 1.1 and 1.2 differ in the namespace's version only; elements are matched by local name.
WP_PREFIX = "{http://wordpress.org/export/"
STATUSES = {
    "1": CommentStatus.APPROVED,
    "approve": CommentStatus.APPROVED,
    "0": CommentStatus.PENDING,
    "hold": CommentStatus.PENDING,
    "spam": CommentStatus.REJECTED,
    "trash": CommentStatus.DELETED,
    "post-trashed": CommentStatus.DELETED,
}
NO_DATE = "0000-00-00 00:00:00"


def _is_wp(tag: str, name: str) -> bool:
    return tag.startswith(WP_PREFIX) and local(tag) == name


class WordPressReader:
    source: Source = "wordpress"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = XmlStream(path, _RecordTags())

    def check(self) -> None:
        check_well_formed(self.path)
        if root_tag(self.path) != "rss":
            raise MalformedFile(f"{self.path.name} is not a WordPress export (WXR): its root element is not <rss>")

    def records(self) -> Iterator[Record]:
        stack: list[Element] = []
        announced: str | None = None  # the post whose thread record was already given
        for event, element in self.stream.events():
            if event == "start":
                stack.append(element)
                continue
            stack.pop()
            if _is_wp(element.tag, "comment") and len(stack) >= 1 and stack[-1].tag == "item":
                item = stack[-1]
                post_id = (child_text(item, "post_id") or "").strip()
                if not post_id:
                    yield Malformed(line_of(element), "a comment in an <item> without <wp:post_id>")
                elif announced != post_id:
                    announced = post_id
                    yield _thread(item, post_id)
                if post_id:
                    yield _comment(element, post_id)
                item.remove(element)  # a post with many comments must not hold them all
            elif element.tag == "item" and stack:
                stack[-1].remove(element)

    def position(self) -> int:
        return self.stream.position()

    def size(self) -> int:
        return self.stream.size()


class _RecordTags(Container[str]):
    """Which elements get a line number: items and comments, in any WXR version's namespace."""

    def __contains__(self, tag: object) -> bool:
        return tag == "item" or (isinstance(tag, str) and _is_wp(tag, "comment"))


def _wp_time(value: str | None) -> datetime | None:
    if not value or value.strip() == NO_DATE:
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _unescaped(element: Element, name: str) -> str:
    """A field WordPress stores or exports HTML-escaped, as the plain text its readers saw."""
    # Titles go out through the_title_rss (esc_html, ent2ncr: "&#8220;"), links through esc_url ("&#038;");
    # commenters' names are saved through _wp_specialchars ("Tom &amp; Jerry") and their URLs through kses
    # ("?a=1&amp;b=2"). Each escapes once, without double-encoding, so one unescape gives the text back.
    return html.unescape((child_text(element, name) or "").strip()).strip()


def _thread(item: Element, post_id: str) -> SourceThread:
    return SourceThread(
        source_id=post_id,
        url=_unescaped(item, "link"),
        title=_unescaped(item, "title") or None,
        created_at=_wp_time(child_text(item, "post_date_gmt")),
        closed=(child_text(item, "comment_status") or "").strip() == "closed",
        position=line_of(item),
    )


def _comment(element: Element, post_id: str) -> Record:
    source_id = (child_text(element, "comment_id") or "").strip()
    position = line_of(element) + (f" (comment {source_id})" if source_id else "")
    if not source_id:
        return Malformed(position, "a <wp:comment> without <wp:comment_id>")
    kind = (child_text(element, "comment_type") or "").strip()
    if kind not in {"", "comment"}:
        return Skipped(position, f"a {kind}, not a comment", source_id)
    note = ""
    created_at = _wp_time(child_text(element, "comment_date_gmt"))
    if created_at is None:
        # Old exports leave the GMT time empty; the local time is the best there is.
        created_at = _wp_time(child_text(element, "comment_date"))
        note = "no GMT time in the export; its local time was taken as UTC"
    if created_at is None:
        return Malformed(position, "the comment has no valid date", source_id)
    approved = (child_text(element, "comment_approved") or "").strip()
    status = STATUSES.get(approved)
    if status is None:
        return Malformed(position, f"unknown comment_approved value {approved!r}", source_id)
    parent = (child_text(element, "comment_parent") or "0").strip()
    return SourceComment(
        source_id=source_id,
        thread_id=post_id,
        parent_id=None if parent in {"", "0"} else parent,
        text=autop(child_text(element, "comment_content") or ""),
        text_format="html",
        created_at=created_at,
        status=status,
        author=SourceAuthor(
            name=_unescaped(element, "comment_author"),
            email=(child_text(element, "comment_author_email") or "").strip() or None,
            website=_unescaped(element, "comment_author_url") or None,
        ),
        position=position,
        note=note,
    )
