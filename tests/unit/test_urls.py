from __future__ import annotations

import pytest

from parlour.errors import InvalidInput
from parlour.sites.urls import (
    normalise_origin,
    normalise_story_url,
    normalise_website,
    origin_allowed,
    remove_dot_segments,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://News.Example/World/Story/", "https://news.example/World/Story"),
        ("https://news.example/a?utm_source=x&utm_medium=y&id=3#comments", "https://news.example/a?id=3"),
        ("https://news.example/a?fbclid=1&gclid=2&page=2", "https://news.example/a?page=2"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("http://news.example:80/", "http://news.example/"),
        ("http://news.example:8080/a/", "http://news.example:8080/a"),
        ("https://news.example", "https://news.example/"),
        ("https://bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4"),
        # Dot segments go (RFC 3986 section 5.2.4), also when percent-encoded, and never climb above the root.
        ("https://news.example.com/%2e%2e/%2e%2e/x", "https://news.example.com/x"),
        ("https://news.example/a/./b/../c/", "https://news.example/a/c"),
        ("https://news.example/world/%2E%2e/story?id=3", "https://news.example/story?id=3"),
        ("https://news.example/a/b/..", "https://news.example/a"),
        ("https://news.example/./", "https://news.example/"),
        ("https://news.example/a/.../..b/c.", "https://news.example/a/.../..b/c."),
    ],
)
def test_story_urls_are_canonical(raw: str, canonical: str) -> None:
    assert normalise_story_url(raw) == canonical
    assert normalise_story_url(canonical) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "ftp://news.example/a",
        "//news.example/a",
        "https://user:pw@news.example/",
        "https://news.example/a b",
        "https://news.example/'onmouseover='x",
        "https://news.example:99999/",
        "",
        "https://" + "a" * 3000,
        "https://news.example/\x00",
    ],
)
def test_bad_urls_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_story_url(bad)


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("/a/b/c/./../../g", "/a/g"),  # the RFC's own examples
        ("mid/content=5/../6", "mid/6"),
        ("/../../x", "/x"),
        ("/a/b/..", "/a/"),
        ("/a//../b", "/a/b"),
        ("/.", "/"),
        ("", ""),
    ],
)
def test_dot_segments_are_removed_as_rfc_3986_says(path: str, resolved: str) -> None:
    assert remove_dot_segments(path) == resolved


def test_origin_matching_refuses_suffix_tricks() -> None:
    allowed = [normalise_origin("https://news.example"), normalise_origin("https://*.paper.example")]
    assert origin_allowed("https://news.example/a", allowed)
    assert origin_allowed("https://live.paper.example/a", allowed)
    assert not origin_allowed("http://news.example/a", allowed)
    assert not origin_allowed("https://news.example.evil/a", allowed)
    assert not origin_allowed("https://evilnews.example/a", allowed)
    assert not origin_allowed("https://evilpaper.example/a", allowed)
    assert not origin_allowed("https://paper.example.evil/a", allowed)
    assert not origin_allowed("https://news.example:8443/a", allowed)


BROAD_WILDCARDS = [
    *("https://*.com", "https://*", "https://*.co.uk", "https://*.com.au", "https://*.gov.uk", "http://*.co.jp"),
    *("https://*.com.br", "https://*.org.uk", "https://*.ac.uk", "https://*.github.io", "https://*.*.example"),
    *("https://news.*.example", "https://*.10.0.0.1", "https://*.com."),
]


@pytest.mark.parametrize("broad", BROAD_WILDCARDS)
def test_wildcard_origins_must_leave_a_registrable_domain(broad: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_origin(broad)


# Stored before broad wildcards were refused: such an entry admits no URL at all.
@pytest.mark.parametrize(
    ("stored", "url"),
    [
        ("https://*.com", "https://evil.com/a"),
        ("https://*.co.uk", "https://evil.co.uk/a"),
        ("https://*.github.io", "https://someone.github.io/a"),
        ("https://*.com:8443", "https://evil.com:8443/a"),
    ],
)
def test_broad_wildcards_stored_earlier_admit_nothing(stored: str, url: str) -> None:
    assert not origin_allowed(url, [stored])


def test_wildcard_origins_of_a_domain_admit_its_subdomains() -> None:
    assert origin_allowed("https://www.courier.co.uk:8443/a", ["https://*.courier.co.uk:8443"])
    assert origin_allowed("https://news.paper.example/a", ["https://*.paper.example"])


def test_wildcard_origins_of_a_domain_are_kept() -> None:
    assert normalise_origin("https://*.Paper.Example") == "https://*.paper.example"
    assert normalise_origin("https://*.courier.co.uk:8443") == "https://*.courier.co.uk:8443"
    assert normalise_origin("https://*.bücher.example") == "https://*.xn--bcher-kva.example"


def test_origins_have_no_path() -> None:
    with pytest.raises(InvalidInput):
        normalise_origin("https://news.example/path")


def test_website_is_reserialised_without_quotes() -> None:
    with pytest.raises(InvalidInput):
        normalise_website("http://x.com/?'onmouseover='alert(1)'x='")
    assert normalise_website("HTTPS://Ann.Example/blog?x=1") == "https://ann.example/blog?x=1"
    assert normalise_website("https://ann.example/a%20b") == "https://ann.example/a%20b"
