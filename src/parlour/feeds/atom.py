"""Atom 1.0 (RFC 4287) documents built with xml.etree: every text is escaped by the serialiser, never by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring

ATOM = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry at all, escaped or not: dropped rather than producing a broken feed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    author: str
    author_uri: str | None
    link: str
    published: datetime
    updated: datetime
    html: str


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    author: str
    self_link: str
    alternate: str | None
    updated: datetime
    entries: list[Entry]


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = SubElement(parent, tag, {k: _text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = _text(text)
    return element


def render(feed: Feed) -> bytes:
    root = Element("feed", {"xmlns": ATOM})
    _add(root, "id", feed.id)
    _add(root, "title", feed.title)
    _add(root, "updated", feed.updated.isoformat())
    _add(root, "generator", "Parlour")
    _add(_add(root, "author"), "name", feed.author)
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.self_link)
    if feed.alternate:
        _add(root, "link", rel="alternate", type="text/html", href=feed.alternate)
    for entry in feed.entries:
        item = _add(root, "entry")
        _add(item, "id", entry.id)
        _add(item, "title", entry.title)
        author = _add(item, "author")
        _add(author, "name", entry.author)
        if entry.author_uri:
            _add(author, "uri", entry.author_uri)
        _add(item, "link", rel="alternate", type="text/html", href=entry.link)
        _add(item, "published", entry.published.isoformat())
        _add(item, "updated", entry.updated.isoformat())
        _add(item, "content", entry.html, type="html")
    document: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return document
