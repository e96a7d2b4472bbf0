"""WordPress's wpautop as the WordPress importer applies it: what readers saw, and clean Markdown from it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour.transfer import prose, wpautop
from parlour.transfer.htmlmd import html_to_markdown
from parlour.transfer.wpautop import autop


def shown(stored: str) -> str:
    """The HTML Parlour shows for a comment WordPress stored."""
    return prose.render(html_to_markdown(autop(stored)))


def test_line_breaks_become_paragraphs_and_breaks() -> None:
    assert autop("one\ntwo\r\n\r\nthree") == "<p>one<br />\ntwo</p>\n<p>three</p>\n"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("<p>One</p>\n<p>Two</p>", "<p>One</p>\n<p>Two</p>"),
        ("<ul>\n<li>one\n</li>\n<li>two</li>\n</ul>", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("<ol>\n  <li>a</li>\n  <li>b</li>\n</ol>", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>"),
        (
            "Intro\n<blockquote>quoted</blockquote>\nafter",
            "<p>Intro</p>\n<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>after</p>",
        ),
        (
            "Look:\n<pre>line1\nline2\n\nline4</pre>\nend",
            "<p>Look:</p>\n<pre><code>line1\nline2\n\nline4\n</code></pre>\n<p>end</p>",
        ),
        ("<p>\nA paragraph</p>", "<p>A paragraph</p>"),
    ],
)
def test_block_elements_on_their_own_lines_get_no_breaks(stored: str, expected: str) -> None:
    # Every newline made a <br> once: "<p>\</p>", "<li>one\n\</li>", and "line1\" inside code blocks.
    html = shown(stored)
    assert html == expected
    assert "\\" not in html and "<br>" not in html


def test_line_breaks_inside_a_paragraph_stay() -> None:
    assert shown("<p>First line\nsecond line</p>") == "<p>First line<br>\nsecond line</p>"


PLAIN = st.text(alphabet=st.sampled_from(list("ab .\n\r\t ")), max_size=30)


@settings(max_examples=500, deadline=None)
@given(PLAIN)
def test_the_plain_text_shortcut_gives_the_markdown_wpautop_gives(text: str) -> None:
    # White space at a paragraph's ends may differ; it is gone in the Markdown either way.
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    assert html_to_markdown(autop(text)) == html_to_markdown(wpautop._wpautop(unified) if unified.strip() else "")
