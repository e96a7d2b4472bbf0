"""Readers' words in e-mail: plain text only. No reader HTML, no links, nothing a mail client would turn into one."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from parlour.comments import markup

MAX_QUOTE_CHARS = 600
BLOCKS = frozenset({"p", "li", "blockquote", "pre", "br", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})
# What mail clients turn into links on their own: schemes, www., bare domains, e-mail addresses.
LINKISH = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]{1,20}:/*\S+)"
    r"|(?:\bwww\.\S+)"
    r"|(?:\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?:\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,24}\b(?:/\S*)?)"
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def defang(text: str) -> str:
    """Make link-like text inert: example.com becomes example[.]com, https:// becomes https[:]//."""
    return LINKISH.sub(lambda m: m.group(0).replace("://", "[:]//").replace(".", "[.]").replace("@", "[at]"), text)


def quoted_comment(html: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """A comment's text from its sanitised HTML: link targets dropped, link-like text defanged, shortened."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return defang(markup.clean_text(text))


def plain_name(name: str, limit: int = 64) -> str:
    """A display name in a subject or a sentence: one line, no control characters, no links."""
    return defang(" ".join(markup.clean_text(name).split())[:limit]) or "A reader"
