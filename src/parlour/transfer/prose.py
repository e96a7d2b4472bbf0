"""markup.render for imported comments, with a shortcut for plain prose, which most exported comments are.

markdown-it-py and nh3 take about 170 µs a comment, more than everything else an import does to it together.
Prose made only of letters, digits, spaces, some punctuation and simple *emphasis* renders to itself in <p>
elements: nothing in it can start a Markdown block, a link (no "/", "@", and a "." or ":" only before a space),
an entity or a tag. Anything else goes through markup.render; a property test checks both give the same HTML.
"""

from __future__ import annotations

import re

from parlour.comments import markup

_WORD = r"[^\W_]"  # a letter or digit, in any script
# Inner text of emphasis: words and single spaces, starting and ending with a word character.
_INNER = rf"{_WORD}(?:{_WORD}| (?! ))*(?<! )"
# Opened after a space or the line's start, closed before a space, the line's end or closing punctuation: both
# delimiters are then flanking on one side only, so CommonMark pairs them as written.
_EMPHASIS = rf"(?<![^ ])(?:\*\*{_INNER}\*\*|\*{_INNER}\*)(?=$| |[,;?!)]|[.:](?: |$))"
# Runs are taken whole, never given back (see htmlmd._SIMPLE_PARAGRAPHS): one step per run, not per character.
_PLAIN = rf"{_WORD}++|[ ,;?!'\"()%$-]++|[.:](?= |$)"
# A line starts with a letter or emphasis (never a list marker, quote, heading or indent) and has no trailing
# space (two would be a hard break).
_LINE = re.compile(rf"(?:[^\W\d_]|{_EMPHASIS})(?:{_PLAIN}|{_EMPHASIS})*+(?<! )")
# The same test for text without emphasis (most of it), as one pass of character classes: "_" is refused apart,
# and a "." or ":" must be followed by a space or the line's end (see _LOOSE_STOP).
_PLAIN_TEXT = re.compile(r"[^\W\d_][\w ,;?!'\"()%$.:-]*+(?:\n\n?[^\W\d_][\w ,;?!'\"()%$.:-]*+)*+")
_LOOSE_STOP = re.compile(r"[.:](?![ \n]|\Z)")
_STRONG = re.compile(rf"\*\*({_INNER})\*\*")
_EM = re.compile(rf"\*({_INNER})\*")


def render(body: str) -> str:
    """The HTML markup.render gives for a comment's Markdown source."""
    if "*" not in body:
        plain = (
            _PLAIN_TEXT.fullmatch(body) is not None
            and "_" not in body
            and " \n" not in body
            and not body.endswith(" ")
            and _LOOSE_STOP.search(body) is None
        )
        if plain:
            return "\n".join(f"<p>{paragraph}</p>" for paragraph in body.split("\n\n"))
        return markup.render(body)
    paragraphs = body.split("\n\n")
    if all(_LINE.fullmatch(line) for paragraph in paragraphs for line in paragraph.split("\n")):
        return "\n".join(f"<p>{_emphasis(paragraph)}</p>" for paragraph in paragraphs)
    return markup.render(body)


def _emphasis(text: str) -> str:
    if "*" not in text:
        return text
    # Functions, not templates such as r"<em>\1</em>": Python 3.11 expands a template in Python for every match,
    # which cost 27 µs a comment with emphasis, more than the rest of its rendering.
    return _EM.sub(_em, _STRONG.sub(_strong, text))


def _strong(match: re.Match[str]) -> str:
    return f"<strong>{match[1]}</strong>"


def _em(match: re.Match[str]) -> str:
    return f"<em>{match[1]}</em>"
