"""The rendering shortcut for plain prose gives exactly the HTML the live renderer gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour.comments import markup
from parlour.transfer import prose

# Words, spaces and punctuation that matter to Markdown, links and emphasis, and some that do not.
PROSE = st.lists(
    st.sampled_from([*"ab1Z\u00e9\u4e2d .:,;!?()'\"%$-*_@/#>&<\n\u00a0\u0301", "example.com", "www", "http"]),
    max_size=30,
).map("".join)


# Mostly what the shortcut takes, so that its edges are where the examples are.
NEARLY_PROSE = st.lists(
    st.sampled_from([*"abZ1\u00e9 .:,;!?()'\"%$-*\n", "\n\n", "**", "example.com"]), max_size=30
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(PROSE | NEARLY_PROSE)
def test_the_shortcut_renders_what_markup_renders(text: str) -> None:
    source = markup.clean_text(text).strip()
    assert prose.render(source) == markup.render(source)


@pytest.mark.parametrize(
    "text",
    [
        "Plain words, and more words; (some) 'quoted' \"too\": 50% done!",
        "Two paragraphs.\n\nThe second\nwith a soft break.",
        "**Yes** and *no*.\n\nA second paragraph\nwith a soft break.",
        "\u00e9t\u00e9 *\u4e2d\u6587* ok?",
    ],
)
def test_prose_takes_the_shortcut(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = markup.render(text)
    monkeypatch.setattr(prose.markup, "render", lambda _text: pytest.fail("the renderer was called"))
    assert prose.render(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "see example.com",
        "x:y",
        "a@b.example",
        "1. a list",
        "- a list",
        "> quoted",
        "a *b*c",
        "a  \nb",
        "<b>x</b>",
        "a_b",
    ],
)
def test_what_markdown_acts_on_takes_the_renderer(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = markup.render(text)
    calls: list[str] = []
    monkeypatch.setattr(prose.markup, "render", lambda source: calls.append(source) or expected)
    assert prose.render(text) == expected
    assert calls == [text]
