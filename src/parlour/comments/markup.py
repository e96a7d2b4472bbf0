"""Markdown subset -> safe HTML: markdown-it-py renders, nh3 sanitises with an allowlist."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# Bump when rendering or the allowlist changes, so stored HTML can be re-rendered from its source.
MARKUP_VERSION = 1

ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
# "*" empty: without it ammonia keeps its default title and lang on every tag.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"*": set(), "a": {"href"}, "ol": {"start"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    # CommonMark with raw HTML off, and only the block and inline rules of our subset.
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.disable(["image", "heading", "lheading", "hr", "html_block", "html_inline", "reference"])
    md.enable("linkify")
    return md


def clean_text(text: str) -> str:
    """Drop control characters except newline and tab (no CR/LF smuggling, no NUL), then NFC-normalise."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    # Controls go first: one left between a letter and its combining mark would keep the text from being NFC.
    kept = "".join(c for c in unified if c in "\n\t" or unicodedata.category(c) != "Cc")
    return unicodedata.normalize("NFC", kept)


def render(source: str) -> str:
    """Render a comment's Markdown source to HTML that is safe to insert into any page."""
    html = _renderer().render(source)
    return sanitise(html)


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()
