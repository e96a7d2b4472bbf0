"""Markdown subset -> safe HTML: markdown-it-py renders, nh3 sanitises with an allowlist."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# Bump when rendering or the allowlist changes: `parlour db upgrade` renders older comments again from their source.
# 2: relative and protocol-relative link targets are dropped (only absolute http, https and mailto remain).
MARKUP_VERSION = 2

ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
# "*" empty: without it ammonia keeps its default title and lang on every tag.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"*": set(), "a": {"href"}, "ol": {"start"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"

# Bare URLs are linked only in a text with at most this many spots where one could start. markdown-it's
# linkify costs time quadratic in the number of such spots (its inline rule searches all the text before each
# "://", its core rule copies a paragraph's token list for each line with a link): 10,000 characters of
# "http://a." took 250-600 ms. No real comment holds more than a few dozen links; a text over the bound is
# rendered without linking bare URLs ([text](url) links still work), in time linear in its length.
MAX_LINKIFY_CANDIDATES = 50
# Where linkify-it could find a link: a scheme's "//" (also in "://"), an e-mail's "@", a domain's dot before
# a letter (a top-level domain starts with one). Counted with one linear scan; code and links count too.
_LINK_CANDIDATE = re.compile(r"//|@|\.[^\W\d_]")


@lru_cache(maxsize=2)
def _renderer(*, linkify: bool) -> MarkdownIt:
    # CommonMark with raw HTML off, and only the block and inline rules of our subset.
    md = MarkdownIt("commonmark", {"html": False, "linkify": linkify, "typographer": False})
    md.disable(["image", "heading", "lheading", "hr", "html_block", "html_inline", "reference"])
    if linkify:
        md.enable("linkify")
    return md


def _links_bare_urls(source: str) -> bool:
    # Stops counting at the first candidate over the bound.
    over_bound = itertools.islice(_LINK_CANDIDATE.finditer(source), MAX_LINKIFY_CANDIDATES, None)
    return next(over_bound, None) is None


def clean_text(text: str) -> str:
    """Drop control characters except newline and tab (no CR/LF smuggling, no NUL), then NFC-normalise."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    # Controls go first: one left between a letter and its combining mark would keep the text from being NFC.
    kept = "".join(c for c in unified if c in "\n\t" or unicodedata.category(c) != "Cc")
    return unicodedata.normalize("NFC", kept)


def render(source: str) -> str:
    """Render a comment's Markdown source to HTML that is safe to insert into any page."""
    html = _renderer(linkify=_links_bare_urls(source)).render(source)
    return sanitise(html)


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel=LINK_REL,
        # "/admin" would point into the news site's own pages and "//host" anywhere without a scheme to check.
        url_relative="deny",
        strip_comments=True,
    ).strip()
