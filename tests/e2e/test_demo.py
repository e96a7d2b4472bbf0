"""`parlour demo`, as a new user runs it: a seeded site, the article page, the discussion in the API."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import httpx
import pytest

from tests.e2e.server import running_server

pytestmark = pytest.mark.slow


def test_demo_serves_article_and_discussion() -> None:
    content = json.loads(resources.files("parlour.demo").joinpath("content.json").read_text())
    article = content["article"]
    with running_server({}, "demo", workers=1) as (base_url, _process):
        page = httpx.get(f"{base_url}/demo")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        html = page.text
        assert article["headline"] in html
        assert article["photo"]["credit"] in html
        assert 'src="/embed.js" data-parlour-site="demo"' in html
        # The server's copy of the discussion is kept for readers without JavaScript.
        assert "<noscript>" in html
        assert content["comments"][0]["name"] in html
        thread = httpx.get(
            f"{base_url}/api/v1/threads", params={"site": "demo", "url": article["url"], "sort": "oldest"}
        ).json()
        assert thread["total"] == len(content["comments"])
        assert thread["story"]["title"] == article["headline"]
        # One reader is one author: the same picture on each of their comments.
        seeds: dict[str, set[str]] = {}
        for shown in _all_comments(thread["comments"]):
            seeds.setdefault(shown["author"]["name"], set()).add(shown["author"]["avatar_seed"])
        assert seeds and all(len(s) == 1 for s in seeds.values()), seeds
        # The demo holds hate and threats, so the widget warns before such a draft is posted.
        draft = {"site": "demo", "body": "Serranes are vermin. Round them up and shoot them."}
        checked = httpx.post(f"{base_url}/api/v1/comments:check", json=draft).json()
        assert checked["decision"] == "hold" and checked["highlights"], checked
        mild = {"site": "demo", "body": "I disagree with the minister, but the report is fair."}
        assert httpx.post(f"{base_url}/api/v1/comments:check", json=mild).json()["decision"] == "publish"
        posted = httpx.post(
            f"{base_url}/api/v1/comments",
            json={"site": "demo", "url": article["url"], "body": "Trying the demo.", "author": {"name": "Tester"}},
        )
        assert posted.status_code == 201
        assert "Trying the demo." in httpx.get(f"{base_url}/demo").text
        assert httpx.get(f"{base_url}/").status_code == 200


def _all_comments(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for comment in comments for c in [comment, *_all_comments(comment.get("replies", []))]]


def test_demo_page_is_not_served_outside_demo_mode(tmp_path: object) -> None:
    from starlette.testclient import TestClient

    from parlour.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(f"sqlite:///{tmp_path}/x.db"))
    with TestClient(app) as client:
        response = client.get("/demo")
    assert response.status_code == 404


def test_pages_take_no_links_from_the_host_header(tmp_path: object) -> None:
    from starlette.testclient import TestClient

    from parlour.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(f"sqlite:///{tmp_path}/x.db"))
    with TestClient(app) as client:
        page = client.get("/", headers={"Host": "evil.example"})
        # No redirect is built from the Host header either (Starlette's trailing-slash redirect did).
        slashed = [
            client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
            for path in ("/api/v1/threads/?site=x", "/metrics/", "/admin/", "/demo/")
        ]
    assert page.status_code == 200
    assert "evil.example" not in page.text
    for answer in slashed:
        assert "evil.example" not in answer.headers.get("location", ""), (answer.url, answer.headers)
    assert slashed[2].status_code == 303 and slashed[2].headers["location"] == "/admin/queues/pending"
