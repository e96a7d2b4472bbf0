"""HTML to Markdown for imports, without a database: conversions, and the shortcuts equal to markdownify's work."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdownify import MarkdownConverter

from parlour.comments import markup
from parlour.transfer import htmlmd
from parlour.transfer.htmlmd import html_to_markdown

# Characters that matter to escaping and white space, and some that do not.
TRICKY = st.text(alphabet=st.sampled_from(list("]\\&<`[>~=+|*_-#.)0123456789 \t\r\nabcXYZ!?,'\u00e9\u2014")))
REFERENCE = MarkdownConverter(escape_misc=True, escape_asterisks=True, escape_underscores=True)


@settings(max_examples=500, deadline=None)
@given(TRICKY)
def test_the_escape_shortcut_gives_what_markdownify_gives(text: str) -> None:
    expected = REFERENCE.escape(text, set()) if text else ""  # type: ignore[attr-defined]
    assert htmlmd._escape(text, set()) == expected


@settings(max_examples=500, deadline=None)
@given(TRICKY)
def test_the_whitespace_shortcut_gives_what_the_regexes_give(text: str) -> None:
    assert htmlmd._collapse(text) == htmlmd._SPACES.sub(" ", htmlmd._NEWLINES.sub("\n", text))


@pytest.mark.parametrize(
    ("html", "markdown"),
    [
        ("plain words", "plain words"),
        ("<p>One.</p>\n<p>Two.</p>", "One.\n\nTwo."),
        ("<p>1. not a list</p>", "1\\. not a list"),
        ("<p><b>Bold</b> and <i>it</i> and <code>x_y</code></p>", "**Bold** and *it* and `x_y`"),
        ('<a href="https://example.org/a?b=1">a link</a>', "[a link](https://example.org/a?b=1)"),
        ('<a href="javascript:alert(1)">text stays</a>', "text stays"),
        ("<h2>Heading</h2><p>after</p>", "**Heading**\n\nafter"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<blockquote>quoted</blockquote>", "> quoted"),
        ("<script>alert(1)</script>kept", "kept"),
        ('<img src="x" alt="a *picture*">', "a \\*picture\\*"),
        ("<![><img src=x onerror=alert(1)//>text", "text"),
        ("a &amp; b &lt;c&gt;", "a \\& b \\<c\\>"),
    ],
)
def test_html_to_markdown(html: str, markdown: str) -> None:
    assert html_to_markdown(html) == markdown


def test_what_a_reader_saw_survives_the_round_trip() -> None:
    html = "<p>Rates rose 2.5% &mdash; <em>again</em>. See <a href='https://bank.example/r'>the notice</a>.</p>"
    rendered = markup.render(html_to_markdown(html))
    assert rendered == (
        '<p>Rates rose 2.5% — <em>again</em>. See <a href="https://bank.example/r" rel="nofollow ugc noopener">'
        "the notice</a>.</p>"
    )


# Paragraphs of text with bold and italic words: what most exported comments hold, and the shortcut takes.
TEXT = st.text(alphabet=st.sampled_from(list("ab1. ,:()'*_\u00e9\u0301\u00a0\u2000\u1fef-\n")), max_size=12)
INLINE = st.tuples(st.sampled_from(["b", "strong", "i", "em"]), st.sampled_from(["b", "strong", "i", "em"]), TEXT)
PARAGRAPH = st.lists(st.one_of(TEXT, INLINE.map(lambda t: f"<{t[0]}>{t[2]}</{t[0] if t[2] else t[1]}>")), max_size=5)
SIMPLE_HTML = st.lists(PARAGRAPH.map(lambda parts: "<p>" + "".join(parts) + "</p>"), min_size=1, max_size=3).map(
    "\n".join
)


@settings(max_examples=1500, deadline=None)
@given(SIMPLE_HTML)
def test_the_paragraph_shortcut_gives_what_markdownify_gives(html: str) -> None:
    assert html_to_markdown(html) == htmlmd._markdownify(html)


def test_the_paragraph_shortcut_takes_bold_and_italic_words() -> None:
    html = "<p>Plain words</p>\n<p><b>Yes</b> and <i>no</i>.</p>"
    assert htmlmd._SIMPLE_PARAGRAPHS.fullmatch(html)
    assert [htmlmd._simple_paragraph(p) for p in htmlmd._PARAGRAPH_TEXT.findall(html)] == [
        "Plain words",
        "**Yes** and *no*.",
    ]
