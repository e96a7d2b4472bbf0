"""Imported HTML -> Parlour's Markdown subset: markdownify, narrowed to the tags the renderer keeps."""

from __future__ import annotations

import html as html_entities
import re
import unicodedata
import warnings
from typing import Any, cast

import nh3
from bs4 import MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.exceptions import ParserRejectedMarkup
from markdownify import BACKSLASH, MarkdownConverter

from parlour.comments import markup

LINK_SCHEMES = ("http://", "https://", "mailto:")
# Text of these elements is not prose: a reader never saw it, so it is dropped with the tag.
DROPPED = frozenset({"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math", "head"})
_BLANK_LINES = re.compile(r"\n{3,}")
# Most exported comments are paragraphs of plain text, some with bold or italic words: those skip the HTML
# parser (a tenth of the time), and give what markdownify gives (a property test checks). Runs of text are taken
# whole and never given back (possessive `++`, `*+`): each alternative starts with a character no other can,
# so nothing a backtrack could find is lost, and a run costs one step instead of one per character (about 40x
# faster on the bench's comments; and no backtracking to exploit with crafted input).
_SIMPLE_PARAGRAPHS = re.compile(r"(?:\s*+<p>(?:[^<>&]++|<(?:b|strong|i|em)>[^<>&]*+</(?:b|strong|i|em)>)*+</p>)++\s*+")
_PARAGRAPH_TEXT = re.compile(r"<p>((?:[^<>&]++|<(?:b|strong|i|em)>[^<>&]*+</(?:b|strong|i|em)>)*+)</p>")
_INLINE = re.compile(r"<(b|strong|i|em)>([^<>&]*)</(b|strong|i|em)>")
_INLINE_MARKS = {"b": "**", "strong": "**", "i": "*", "em": "*"}
_BLOCK_SPACE = " \t\r\n"  # what markdownify strips at the start of a paragraph
_OTHER_SPACE = re.compile(r"[^\S ]")
_NEWLINES = re.compile(r"[\t \r\n]*[\r\n][\t \r\n]*")
_SPACES = re.compile(r"[\t ]+")
# Unicode's Cc category, which markup.clean_text drops (all but newline and tab).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# What markdownify's escape() acts on (escape_misc, escape_asterisks, escape_underscores): these characters, and
# a digit before "." or ")". Text with neither, most prose, comes back unchanged without its six regex passes.
_ESCAPED = frozenset("]\\&<`[>~=+|*_-#")
_LIST_MARKER = re.compile(r"[0-9][.)]")


class _SubsetConverter(MarkdownConverter):
    """markdownify with what Parlour cannot show turned into plain text instead of dropped or mangled."""

    def escape(self, text: str, parent_tags: set[str]) -> str:
        if _ESCAPED.isdisjoint(text) and _LIST_MARKER.search(text) is None:
            return text
        # markdownify's type stub leaves out its escape(); it is public in the code and documented.
        return str(cast(Any, super()).escape(text, parent_tags))

    def convert_a(self, el: Any, text: str, parent_tags: set[str]) -> str:
        href = (el.get("href") or "").strip()
        if "_noformat" in parent_tags or not text.strip() or not href.lower().startswith(LINK_SCHEMES):
            return text
        if any(c in href for c in " <>()\n\t"):
            return text  # a URL Markdown cannot hold unescaped; the renderer would mangle it anyway
        return f"[{text}]({href})"

    def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return _escape(el.get("alt") or "", parent_tags)

    def convert_hr(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return "\n\n"

    def convert_hN(self, n: int, el: Any, text: str, parent_tags: set[str]) -> str:  # noqa: N802 - markdownify's name
        # Headings are off in the subset: a heading becomes a paragraph of strong text.
        text = text.strip()
        if not text or "_inline" in parent_tags:
            return text
        return f"\n\n**{text}**\n\n"

    def drop(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return ""


for _tag in DROPPED:
    setattr(_SubsetConverter, f"convert_{_tag}", _SubsetConverter.drop)


_converter = _SubsetConverter(
    escape_misc=True,
    escape_asterisks=True,
    escape_underscores=True,
    bullets="-",
    strong_em_symbol="*",
    newline_style=BACKSLASH,
    autolinks=False,
)


def _escape(text: str, parent_tags: set[str]) -> str:
    return _converter.escape(text, parent_tags)


def _collapse(text: str) -> str:
    # What markdownify does to the whitespace of a text node; a no-op (and skipped) without these characters.
    if "\n" in text or "\r" in text or "\t" in text or "  " in text:
        return _SPACES.sub(" ", _NEWLINES.sub("\n", text))
    return text


def clean_text(text: str) -> str:
    """markup.clean_text, with a shortcut for the usual text that holds no control character."""
    if "\r" in text or _CONTROLS.search(text):
        return markup.clean_text(text)
    return unicodedata.normalize("NFC", text)


def html_to_markdown(html: str) -> str:
    """Markdown source for untrusted HTML; safety comes from rendering it with markup.render afterwards."""
    # As markdownify does: collapse and escape first, normalise last (NFC makes "`" of U+1FEF, for one).
    if "<" not in html and "&" not in html:
        return clean_text(_escape(_collapse(html), set())).strip()
    if _SIMPLE_PARAGRAPHS.fullmatch(html):
        paragraphs = [_simple_paragraph(p) for p in _PARAGRAPH_TEXT.findall(html)]
        if all(p is not None for p in paragraphs):
            return "\n\n".join(clean_text(p) for p in paragraphs if p).strip()
    return _markdownify(html)


def _simple_paragraph(html: str) -> str | None:
    """The Markdown of a <p>'s inside, text with plain <b>/<i>/<strong>/<em>, before normalising; None: too hard."""
    if "<" not in html:
        # A lone text node: markdownify strips these characters before it, and any white space after it.
        return _escape(_collapse(html), set()).lstrip(_BLOCK_SPACE).rstrip()
    # markdownify collapses white space, escapes and strips per text node, each its own way: with plain spaces
    # alone and nothing to escape, the nodes can simply be joined.
    if "  " in html or _OTHER_SPACE.search(html):
        return None
    parts: list[str] = []
    end = 0
    for match in _INLINE.finditer(html):
        opening, inner, closing = match.groups()
        text = html[end : match.start()]
        if opening != closing or not inner or inner.strip() != inner or not _inert(text) or not _inert(inner):
            return None
        mark = _INLINE_MARKS[opening]
        parts += [text, mark, inner, mark]
        end = match.end()
    if not _inert(html[end:]):
        return None
    parts.append(html[end:])
    return "".join(parts).strip(" ")


def _inert(text: str) -> bool:
    """Text that markdownify's escaping leaves as it is."""
    return _ESCAPED.isdisjoint(text) and _LIST_MARKER.search(text) is None


def _markdownify(html: str) -> str:
    try:
        with warnings.catch_warnings():
            # A comment that starts like XML or a file name is still a comment: bs4's guesses do not apply.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            converted = str(_converter.convert(html))
    except ParserRejectedMarkup:
        # Python's HTML parser gives up on some broken markup (`<![` and the like): keep the text, not the tags.
        text = html_entities.unescape(nh3.clean(html, tags=set(), clean_content_tags=DROPPED))
        return _escape(_collapse(clean_text(text)), set()).strip()
    return _BLANK_LINES.sub("\n\n", clean_text(converted)).strip()
