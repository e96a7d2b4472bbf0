"""WordPress's wpautop(), which shapes a stored comment into the HTML its readers saw, ported from formatting.php.

WordPress stores comments with bare line breaks and adds <p> and <br> only when it shows them. A naive "every
newline is a <br>" also breaks lines between block elements (<p>\\</p>, stray backslashes in lists) and inside
<pre>; wpautop does neither. The steps below are its own, in its order; what only matters for post content
(<option>, <object>, <source>, shortcodes) is left out, since a comment's HTML has none of it.
"""

from __future__ import annotations

import re

_ALLBLOCKS = (
    "(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|blockquote"
    "|address|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|footer|nav|figure|figcaption"
    "|details|menu|summary)"
)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_DOUBLE_BR = re.compile(r"<br\s*/?>\s*<br\s*/?>")
_BLOCK_OPEN = re.compile(rf"(<{_ALLBLOCKS}[\s/>])")
_BLOCK_CLOSE = re.compile(rf"(</{_ALLBLOCKS}>)")
_HR = re.compile(r"(<hr\s*?/?>)")
_TAG = re.compile(r"<[^>]*>")
_MANY_NEWLINES = re.compile(r"\n\n+")
_EMPTY_P = re.compile(r"<p>\s*</p>")
_OPEN_DIV = re.compile(r"<p>([^<]+)</(div|address|form)>")
_WRAPPED_BLOCK = re.compile(rf"<p>\s*(</?{_ALLBLOCKS}[^>]*>)\s*</p>")
_WRAPPED_LI = re.compile(r"<p>(<li.+?)</p>")
_P_BLOCKQUOTE = re.compile(r"<p><blockquote([^>]*)>", re.IGNORECASE)
_P_BEFORE_BLOCK = re.compile(rf"<p>\s*(</?{_ALLBLOCKS}[^>]*>)")
_P_AFTER_BLOCK = re.compile(rf"(</?{_ALLBLOCKS}[^>]*>)\s*</p>")
_RAW = re.compile(r"<(script|style|svg|math).*?</\1>", re.DOTALL)
_NEWLINE = re.compile(r"(?<!<br />)\s*\n")
_BR_AFTER_BLOCK = re.compile(rf"(</?{_ALLBLOCKS}[^/]*/?>)\s*<br />")
_BR_BEFORE_BLOCK = re.compile(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^>]*>)")
_LAST_NEWLINE = re.compile(r"\n</p>$")
_NL = "<!-- wpnl -->"  # a newline inside a tag, kept out of the way
_KEPT = "<WPPreserveNewline />"  # a newline inside <script> and the like


def autop(text: str) -> str:
    """The HTML wpautop($text) gives: paragraphs, and <br> for the line breaks left inside them."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    if "<" not in text:
        # Plain text, most comments: paragraphs and line breaks are all wpautop adds (a test checks both give the
        # same Markdown; white space at a paragraph's ends, which wpautop keeps in places, is dropped here).
        paragraphs = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
        return "".join(f"<p>{_NEWLINE.sub('<br />' + chr(10), p)}</p>\n" for p in paragraphs)
    return _wpautop(text)


def _wpautop(text: str) -> str:
    text, pres = _set_aside_pre(text + "\n")
    text = _DOUBLE_BR.sub("\n\n", text)
    text = _BLOCK_OPEN.sub("\n\n\\1", text)
    text = _BLOCK_CLOSE.sub("\\1\n\n", text)
    text = _HR.sub("\\1\n\n", text)
    text = _TAG.sub(lambda tag: tag.group().replace("\n", f" {_NL} "), text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    text = "".join(f"<p>{p.strip(chr(10))}</p>\n" for p in _PARAGRAPHS.split(text) if p)
    text = _EMPTY_P.sub("", text)
    text = _OPEN_DIV.sub("<p>\\1</p></\\2>", text)
    text = _WRAPPED_BLOCK.sub("\\1", text)
    text = _WRAPPED_LI.sub("\\1", text)
    text = _P_BLOCKQUOTE.sub("<blockquote\\1><p>", text).replace("</blockquote></p>", "</p></blockquote>")
    text = _P_BEFORE_BLOCK.sub("\\1", text)
    text = _P_AFTER_BLOCK.sub("\\1", text)
    text = _RAW.sub(lambda raw: raw.group().replace("\n", _KEPT), text)
    text = text.replace("<br>", "<br />").replace("<br/>", "<br />")
    text = _NEWLINE.sub("<br />\n", text).replace(_KEPT, "\n")
    text = _BR_AFTER_BLOCK.sub("\\1", text)
    text = _BR_BEFORE_BLOCK.sub("\\1", text)
    text = _LAST_NEWLINE.sub("</p>", text)
    for name, pre in pres.items():
        text = text.replace(name, pre)
    return text.replace(f" {_NL} ", "\n").replace(_NL, "\n")


def _set_aside_pre(text: str) -> tuple[str, dict[str, str]]:
    """<pre> elements replaced by placeholders, as wpautop does: nothing inside them is touched."""
    if "<pre" not in text:
        return text, {}
    *parts, last = text.split("</pre>")
    kept: list[str] = []
    pres: dict[str, str] = {}
    for part in parts:
        start = part.find("<pre")
        if start == -1:
            kept.append(part)  # a </pre> without its <pre>: dropped, as wpautop drops it
            continue
        name = f"<pre wp-pre-tag-{len(pres)}></pre>"
        pres[name] = part[start:] + "</pre>"
        kept.append(part[:start] + name)
    return "".join(kept) + last, pres
