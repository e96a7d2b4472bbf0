"""Atom feeds of the latest published comments, per site and per story: content, safety, caching, errors."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree as SafeTree
from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Story
from parlour.feeds.service import FEED_ENTRIES
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.importer import import_comments
from tests.api.test_security_payloads import html_violations
from tests.conftest import ORIGIN, STORY, SiteInfo, create_test_site, post
from tests.transfer.factories import Post, Thread, disqus_file

ATOM = "{http://www.w3.org/2005/Atom}"
OTHER_STORY = f"{ORIGIN}/sport/2026/11/24/cup-final"


def parse(body: bytes) -> Element:
    root = SafeTree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    return root


def entries(root: Element) -> list[Element]:
    return root.findall(f"{ATOM}entry")


def contents(root: Element) -> list[str]:
    return [e.findtext(f"{ATOM}content") or "" for e in entries(root)]


def story_id(db: Database, url: str) -> int:
    with db.read() as session:
        found = session.scalar(select(Story.id).where(Story.url == url))
    assert found is not None
    return int(found)


def test_site_feed_holds_only_published_comments_newest_first(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    posts = [
        Post("1", "t", "<p>Held for review</p>", extra={"isApproved": "false"}),
        Post("2", "t", "<p>Buy pills</p>", spam=True),
        Post("3", "t", "<p>Regretted</p>", deleted=True),
        Post("4", "t", "<p>Imported and published</p>", name="Ann"),
    ]
    import_comments(
        db=db, reader=DisqusReader(disqus_file(tmp_path / "d.xml", [Thread("t", STORY)], posts)), site_slug="courier"
    )
    first = post(client, "Live and published.", name="Bo", website="https://bo.example")
    post(client, "On the other story.", url=OTHER_STORY, name="Cy")

    response = client.get("/feeds/courier/comments.atom")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = parse(response.content)
    assert root.findtext(f"{ATOM}title") == "Comments on Courier"
    assert contents(root) == [
        "<p>On the other story.</p>",
        "<p>Live and published.</p>",
        "<p>Imported and published</p>",
    ]
    bo = entries(root)[1]
    assert bo.findtext(f"{ATOM}author/{ATOM}name") == "Bo"
    assert bo.findtext(f"{ATOM}author/{ATOM}uri") == "https://bo.example"
    assert bo.find(f"{ATOM}link").get("href") == f"{STORY}#comment-{first['id']}"  # type: ignore[union-attr]
    assert bo.findtext(f"{ATOM}id") == f"https://comments.example/api/v1/comments/{first['id']}"
    assert bo.findtext(f"{ATOM}published", "").endswith("+00:00")
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == "https://comments.example/feeds/courier/comments.atom"


def test_story_feed_holds_that_story_only(db: Database, site: SiteInfo, client: TestClient) -> None:
    post(client, "Here.")
    post(client, "Elsewhere.", url=OTHER_STORY)
    response = client.get(f"/feeds/courier/stories/{story_id(db, STORY)}.atom")
    assert response.status_code == 200
    root = parse(response.content)
    assert contents(root) == ["<p>Here.</p>"]
    alternate = root.find(f"{ATOM}link[@rel='alternate']")
    assert alternate is not None and alternate.get("href") == STORY


def test_feed_keeps_the_latest_entries_only(db: Database, site: SiteInfo, client: TestClient) -> None:
    for number in range(FEED_ENTRIES + 3):
        post(client, f"Comment {number}.")
    root = parse(client.get("/feeds/courier/comments.atom").content)
    assert len(entries(root)) == FEED_ENTRIES
    assert contents(root)[0] == f"<p>Comment {FEED_ENTRIES + 2}.</p>"


def test_feed_content_is_sanitised_and_names_are_escaped(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    hostile = '<p>x<script>alert(1)</script><a href="javascript:alert(1)" onclick="x()">y</a><img src=x onerror=1></p>'
    export = disqus_file(
        tmp_path / "d.xml",
        [Thread("t", STORY, title="</title><script>alert(1)</script>")],
        [Post("1", "t", hostile, name="<b>Mal</b>]]>&amp;\x0b")],
    )
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    post(client, "[link](javascript:alert(1)) <svg onload=alert(1)> **bold**", name="<script>x</script>")
    for path in ("/feeds/courier/comments.atom", f"/feeds/courier/stories/{story_id(db, STORY)}.atom"):
        root = parse(client.get(path).content)  # well-formed XML whatever the names and titles hold
        html = contents(root)
        assert len(html) == 2
        for fragment in html:
            assert html_violations(fragment) == [], fragment
        names = [e.findtext(f"{ATOM}author/{ATOM}name") for e in entries(root)]
        assert names == ["<script>x</script>", "<b>Mal</b>]]>&amp;"]  # text, escaped by the serialiser
        # Atom text constructs: a reader shows these as text, so they travel as the exact characters, escaped.
        assert entries(root)[1].findtext(f"{ATOM}title") == "<b>Mal</b>]]>&amp; on </title><script>alert(1)</script>"


def test_feeds_are_cacheable_and_revalidate(db: Database, site: SiteInfo, client: TestClient) -> None:
    post(client, "First.")
    first = client.get("/feeds/courier/comments.atom")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    unchanged = client.get("/feeds/courier/comments.atom", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    post(client, "Second.")
    changed = client.get("/feeds/courier/comments.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert contents(parse(changed.content))[0] == "<p>Second.</p>"


def test_feeds_compare_etags_weakly_and_match_any(db: Database, site: SiteInfo, client: TestClient) -> None:
    post(client, "First.")
    etag = client.get("/feeds/courier/comments.atom").headers["etag"]
    # A cache in between may weaken the tag (W/"…"); If-None-Match compares weakly (RFC 9110, 13.1.2).
    for header in [f"W/{etag}", f'"other", W/{etag}', "*"]:
        response = client.get("/feeds/courier/comments.atom", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.headers["etag"] == etag
    assert client.get("/feeds/courier/comments.atom", headers={"If-None-Match": 'W/"other"'}).status_code == 200
    # `*` matches only a feed that exists.
    assert client.get("/feeds/nowhere/comments.atom", headers={"If-None-Match": "*"}).status_code == 404


def test_head_answers_like_get_without_a_body(db: Database, site: SiteInfo, client: TestClient) -> None:
    post(client, "First.")
    story = story_id(db, STORY)
    for path in ["/feeds/courier/comments.atom", f"/feeds/courier/stories/{story}.atom"]:
        got, head = client.get(path), client.head(path)
        assert head.status_code == 200 and head.content == b""
        for name in ["etag", "cache-control", "content-type"]:
            assert head.headers[name] == got.headers[name], name
        assert head.headers["content-length"] == str(len(got.content))
        assert client.head(path, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    assert client.head("/feeds/nowhere/comments.atom").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/feeds/nowhere/comments.atom", "/feeds/nowhere/stories/1.atom", "/feeds/courier/stories/999999.atom"],
)
def test_unknown_site_or_story_is_404(db: Database, site: SiteInfo, client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_story_of_another_site_is_404(db: Database, site: SiteInfo, client: TestClient) -> None:
    create_test_site(db, slug="gazette", origins=["https://gazette.example"])
    post(client, "On the courier.")
    response = client.get(f"/feeds/gazette/stories/{story_id(db, STORY)}.atom")
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/feeds/Bad%20Slug/comments.atom", "/feeds/courier/stories/0.atom"])
def test_malformed_feed_paths_are_refused(db: Database, site: SiteInfo, client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_empty_site_has_a_valid_empty_feed(db: Database, site: SiteInfo, client: TestClient) -> None:
    root = parse(client.get("/feeds/courier/comments.atom").content)
    assert entries(root) == [] and root.findtext(f"{ATOM}updated")
