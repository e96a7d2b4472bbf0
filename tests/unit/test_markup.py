from __future__ import annotations

import pytest

from parlour.comments.markup import MAX_LINKIFY_CANDIDATES, clean_text, render


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("Hello *world* and **you**", "<p>Hello <em>world</em> and <strong>you</strong></p>"),
        ("> quoted\n\nreply", "<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>reply</p>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("`x = 1`", "<p><code>x = 1</code></p>"),
        ("# Not a heading", "<p># Not a heading</p>"),
        ("<b>raw</b>", "<p>&lt;b&gt;raw&lt;/b&gt;</p>"),
    ],
)
def test_markdown_subset(source: str, html: str) -> None:
    assert render(source) == html


def test_links_get_rel_and_only_safe_schemes() -> None:
    assert render("[a](https://x.example)") == ('<p><a href="https://x.example" rel="nofollow ugc noopener">a</a></p>')
    assert "href" not in render("[a](javascript:alert(1))")
    assert "href" not in render("[a](JaVaScRiPt:alert(1))")
    assert "href" not in render("[a](data:text/html;base64,PHNjcmlwdD4=)")
    assert "href" not in render("[a](vbscript:msgbox)")
    assert render("mail [me](mailto:a@b.example)").count('href="mailto:a@b.example"') == 1


@pytest.mark.parametrize("target", ["/admin", "//evil.example/login", "page.html", "#comments", "?utm_source=x"])
def test_relative_link_targets_are_dropped_and_the_text_kept(target: str) -> None:
    html = render(f"[the council page]({target})")
    assert "href" not in html and "the council page" in html


def test_images_are_not_rendered() -> None:
    assert "<img" not in render('![x](https://x.example/a.png" onerror="alert(1))')


def test_bare_urls_are_linked() -> None:
    assert 'href="https://x.example/a"' in render("see https://x.example/a")


def test_clean_text_drops_controls_and_normalises() -> None:
    assert clean_text("a\r\nb\rc\x00d\x1be\tf") == "a\nb\ncde\tf"
    assert clean_text("e\u0301") == "\u00e9"


def test_adversarial_input_renders_in_linear_time() -> None:
    import time

    # CPU time, best of three: a busy CI machine stalls the wall clock for seconds, while a pathological
    # (quadratic) parse of these baits, cut to the largest body a site may allow (10,000 characters), costs
    # more CPU than the test plan's bound (item 7: under 200 ms each; the slowest here takes about 100 ms).
    baits = [
        "a" * 50_000 + "!",
        "*" * 20_000,
        "[" * 20_000,
        "> " * 5_000 + "x",
        "`" * 10_000,
        "http://a." * 2_000,  # linkify: 250-600 ms before bare-URL linking was bounded
        "://" * 5_000,  # linkify's inline rule, about 500 ms before
        "\na.co" * 2_000,  # linkify's core rule, one copy of the token list per linked line
        "*a" * 5_000,
        "[a](" * 2_500,
    ]
    for bait in baits:
        cpu_seconds = []
        for _ in range(3):
            start = time.process_time()
            render(bait[:10_000])
            cpu_seconds.append(time.process_time() - start)
        assert min(cpu_seconds) < 0.2, bait[:20]


def test_bare_urls_are_linked_up_to_a_bound_then_left_as_text() -> None:
    # Each of these URLs counts twice: its "//" and the dot before "example".
    links = MAX_LINKIFY_CANDIDATES // 2
    many = " ".join(f"https://x.example/{i}" for i in range(links))
    assert render(many).count("<a ") == links
    too_many = many + " https://x.example/last"
    assert "<a " not in render(too_many)
    # Written links do not depend on the bound.
    assert render(too_many + " [here](https://x.example/here)").count("<a ") == 1
