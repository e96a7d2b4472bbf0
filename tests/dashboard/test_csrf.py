"""Every dashboard write refuses what another site's page could send: no token, a foreign or stale token,
a cross-site Origin or Sec-Fetch-Site, a body that is not a form. Each refusal is a 403 and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from parlour import routes
from tests.conftest import post
from tests.dashboard.conftest import SAME_ORIGIN, Browser, World, author_of, comment, snapshot

# Every signed-in dashboard write, as the route table spells it, with a form that would succeed.
WRITES: dict[str, tuple[str, dict[str, Any]]] = {
    "claim": ("/admin/comments/{comment_id}/claim", {}),
    "approve": ("/admin/comments/{comment_id}/approve", {}),
    "reject": ("/admin/comments/{comment_id}/reject", {"reason_choice": "Spam"}),
    "feature": ("/admin/comments/{comment_id}/feature", {"on": "1"}),
    "dismiss": ("/admin/comments/{comment_id}/dismiss-reports", {}),
    "bulk": ("/admin/bulk", {"id": "{comment_id}", "action": "reject", "reason_choice": "Spam"}),
    "undo": ("/admin/undo", {"action": "{action_id}"}),
    "ban": ("/admin/authors/{author_id}/ban", {"reason": "abuse"}),
    "suspend": ("/admin/authors/{author_id}/suspend", {"days": "3", "message": "cool off"}),
    "reinstate": ("/admin/authors/{author_id}/reinstate", {}),
    "premoderate": ("/admin/authors/{author_id}/premoderate", {"on": "1"}),
    "story": ("/admin/stories/{story_id}/settings", {"comments": "closed", "mode": "pre"}),
    "logout": ("/admin/logout", {}),
}


def test_every_dashboard_write_is_tested_here() -> None:
    # A new POST route under /admin fails this test until it is added to WRITES (the login form has its own tests).
    posts = {r.path for r in routes.ROUTES if r.method == "POST" and r.path.startswith(routes.ADMIN)}
    assert posts == {path for path, _data in WRITES.values()} | {"/admin/login"}
    assert not [r.path for r in routes.ROUTES if r.path.startswith(routes.ADMIN) and r.method not in {"GET", "POST"}]


def _target(world: World, ann: Browser, route: str) -> tuple[str, dict[str, Any]]:
    """The route's path and form, filled in with a reported comment, its author and story, and an action to undo."""
    parent = post(world.client, "A comment readers reported.")["id"]
    world.client.post(f"/api/v1/comments/{parent}/reports", json={"reason": "spam"})
    other = post(world.client, "Featured a moment ago.")["id"]
    feature = ann.act(f"/admin/comments/{other}/feature", {"on": "1"}, htmx=True)
    assert feature.status_code == 200, feature.text
    ids = {
        "comment_id": parent,
        "author_id": author_of(world.db, parent).id,
        "story_id": comment(world.db, parent).story_id,
        "action_id": feature.text.split('name="action" value="')[1].split('"')[0],
    }
    path, data = WRITES[route]
    return path.format(**ids), {k: v.format(**ids) for k, v in data.items()}


def _forged(ann: Browser, bob: Browser, stale: str) -> dict[str, Callable[[str, dict[str, Any]], Any]]:
    def form(headers: dict[str, str], token: str | None) -> Callable[[str, dict[str, Any]], Any]:
        extra = {} if token is None else {"csrf_token": token}
        return lambda path, data: ann.client.post(path, data=data | extra, headers=headers, follow_redirects=False)

    def raw(headers: dict[str, str]) -> Callable[[str, dict[str, Any]], Any]:
        def send(path: str, data: dict[str, Any]) -> Any:
            body = json.dumps(data | {"csrf_token": ann.csrf}).encode()
            return ann.client.post(path, content=body, headers=headers, follow_redirects=False)

        return send

    def multipart(path: str, data: dict[str, Any]) -> Any:
        fields = {k: (None, str(v)) for k, v in (data | {"csrf_token": ann.csrf}).items()}
        return ann.client.post(path, files=fields, headers=SAME_ORIGIN, follow_redirects=False)

    return {
        "no token": form(SAME_ORIGIN, None),
        "empty token": form(SAME_ORIGIN, ""),
        "another session's token": form(SAME_ORIGIN, bob.csrf),
        "stale token": form(SAME_ORIGIN, stale),
        "another session's token in the header": form(SAME_ORIGIN | {"X-CSRF-Token": bob.csrf}, None),
        "cross-site origin": form({"Origin": "https://evil.example"}, ann.csrf),
        "origin of a sibling subdomain": form({"Origin": "https://evil.comments.example"}, ann.csrf),
        "origin over http": form({"Origin": "http://comments.example"}, ann.csrf),
        "sec-fetch-site cross-site": form({"Sec-Fetch-Site": "cross-site"}, ann.csrf),
        "sec-fetch-site same-site": form({"Sec-Fetch-Site": "same-site"}, ann.csrf),
        "json body": raw(SAME_ORIGIN | {"Content-Type": "application/json"}),
        "json as text/plain": raw(SAME_ORIGIN | {"Content-Type": "text/plain"}),
        "json without content type": raw(SAME_ORIGIN),
        "multipart form": multipart,
    }


@pytest.mark.parametrize("route", list(WRITES))
def test_forged_writes_are_refused_and_change_nothing(world: World, route: str) -> None:
    ann = world.signed_in("ann@courier.example")
    stale = ann.csrf
    ann.sign_in()  # a new session: the first one's token is stale now
    assert ann.csrf != stale
    bob = world.signed_in("bob@courier.example")
    path, data = _target(world, ann, route)
    before = snapshot(world.db)
    for name, forge in _forged(ann, bob, stale).items():
        response = forge(path, data)
        assert response.status_code == 403, (name, response.status_code, response.text)
        assert snapshot(world.db) == before, name
    # The same request from the dashboard's own page goes through: the refusals above were about the forgery.
    response = ann.act(path, data)
    assert response.status_code in {200, 303}, response.text
    assert snapshot(world.db) != before


def test_the_token_may_come_in_the_header_as_htmx_sends_it(world: World, ann: Browser) -> None:
    target = post(world.client, "Approve me by htmx.")["id"]
    response = ann.client.post(
        f"/admin/comments/{target}/approve",
        headers=SAME_ORIGIN | {"X-CSRF-Token": ann.csrf, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert comment(world.db, target).reviewed_at is not None


def test_a_form_without_origin_headers_but_with_the_token_goes_through(world: World, ann: Browser) -> None:
    # Older browsers send neither header on same-origin posts; the token alone then protects the write.
    target = post(world.client, "Approve me from an old browser.")["id"]
    response = ann.client.post(
        f"/admin/comments/{target}/approve", data={"csrf_token": ann.csrf}, follow_redirects=False
    )
    assert response.status_code == 303


def test_a_signed_out_write_changes_nothing(world: World) -> None:
    target = post(world.client, "Nobody is signed in.")["id"]
    before = snapshot(world.db)
    anonymous = world.browser("nobody@example.org")
    response = anonymous.client.post(
        f"/admin/comments/{target}/reject", data={"reason": "x"}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    htmx = anonymous.client.post(
        f"/admin/comments/{target}/reject", data={"reason": "x"}, headers=SAME_ORIGIN | {"HX-Request": "true"}
    )
    assert htmx.status_code == 401
    assert snapshot(world.db) == before


def test_reading_pages_never_writes(world: World, ann: Browser) -> None:
    target = post(world.client, "Only looked at.")["id"]
    author = author_of(world.db, target).id
    story = comment(world.db, target).story_id
    before = snapshot(world.db)
    for path in (
        "/admin",
        "/admin/queues/pending",
        "/admin/queues/unmoderated?site=courier",
        f"/admin/comments/{target}",
        f"/admin/comments/{target}/card?queue=unmoderated",
        f"/admin/authors/{author}",
        f"/admin/stories/{story}",
        "/admin/audit",
        "/admin/audit.csv",
        "/admin/stats",
        "/admin/counts",
        "/admin/surges",
    ):
        assert ann.get(path).status_code in {200, 303}, path
    # The action URLs answer GET with 405: a link or an <img> cannot act.
    for action in ("approve", "reject", "feature", "dismiss-reports", "claim"):
        assert ann.get(f"/admin/comments/{target}/{action}").status_code == 405
    for action in ("ban", "suspend", "reinstate", "premoderate"):
        assert ann.get(f"/admin/authors/{author}/{action}").status_code == 405
    assert ann.get("/admin/bulk?id=1&action=approve").status_code == 405
    assert snapshot(world.db) == before
