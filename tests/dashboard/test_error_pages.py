"""A browser that navigates to a bad dashboard URL, or posts a plain form that is refused, gets a page, not JSON."""

from __future__ import annotations

import pytest

from parlour.middleware import PAGE_CSP
from tests.dashboard.conftest import BASE, Browser, World, author_of, comment, published, snapshot

# What a browser sends when it follows a link or submits a form (Chromium's navigation Accept header).
NAVIGATION = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def assert_error_page(response: object, status: int, *words: str) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-type"].startswith("text/html"), headers["content-type"]
    assert headers["content-security-policy"] == PAGE_CSP.decode()
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    text: str = response.text  # type: ignore[attr-defined]
    assert f"(error {status})" in text
    assert "Sign out" in text  # the dashboard's layout, with its top bar
    for word in words:
        assert word in text, (word, text)
    return text


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/admin/comments/999999", 404, ["No comment 999999."]),
        ("/admin/queues/bogus", 422, ["queue", "pending"]),
        ("/admin/queues/pending?story=abc", 422, ["story", "valid integer"]),
        ("/admin/queues/pending?q=" + "x" * 300, 422, ["at most 200 characters"]),
    ],
)
def test_a_bad_link_shows_an_error_page_with_a_way_back(ann: Browser, path: str, status: int, words: list[str]) -> None:
    came_from = f"{BASE}/admin/queues/reported?site=courier"
    response = ann.get(path, headers=NAVIGATION | {"Referer": came_from})
    text = assert_error_page(response, status, *words)
    assert 'href="/admin/queues/reported?site=courier" class="back"' in text
    # Without a referring dashboard page (typed, or from another site), the way back is the queue.
    for referer in ({}, {"Referer": "https://evil.example/admin/queues/approved"}):
        text = assert_error_page(ann.get(path, headers=NAVIGATION | referer), status)
        assert 'href="/admin/queues/pending" class="back"' in text


def test_a_refused_plain_form_post_shows_an_error_page(world: World, ann: Browser) -> None:
    story = comment(world.db, published(world.client)).story_id
    author = author_of(world.db, published(world.client)).id
    before = snapshot(world.db)
    page = f"{BASE}/admin/stories/{story}"
    response = ann.act(
        f"/admin/stories/{story}/settings", {"slow_mode_seconds": "100000"}, headers=NAVIGATION | {"Referer": page}
    )
    text = assert_error_page(response, 422, "Slow mode is a whole number from 0 to 86400.")
    assert f'href="/admin/stories/{story}" class="back"' in text
    response = ann.act(f"/admin/authors/{author}/suspend", {"days": "0"}, headers=NAVIGATION)
    assert_error_page(response, 422, "Days is a whole number from 1 to 365.")
    assert snapshot(world.db) == before


def test_htmx_and_api_clients_still_get_problem_json(ann: Browser) -> None:
    htmx = ann.get("/admin/comments/999999", headers=NAVIGATION | {"HX-Request": "true"})
    assert htmx.status_code == 404 and htmx.headers["content-type"] == "application/problem+json"
    plain = ann.get("/admin/comments/999999")  # no text/html in Accept: a script
    assert plain.status_code == 404 and plain.headers["content-type"] == "application/problem+json"
    api = ann.client.get("/api/v1/comments/999999", headers=NAVIGATION)
    assert api.headers["content-type"] == "application/problem+json"


def test_signed_out_browsers_are_still_sent_to_sign_in(world: World) -> None:
    browser = world.browser("ann@courier.example")
    response = browser.get("/admin/queues/bogus", headers=NAVIGATION)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=")
    fragment = browser.get("/admin/counts", headers=NAVIGATION | {"HX-Request": "true"})
    assert fragment.status_code == 401
