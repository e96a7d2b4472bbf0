"""The pipeline end to end through the public API: rate limits, word rules, links, repeats, modes, surge guard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.clock import utcnow
from parlour.comments import markup
from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, ModerationAction, Story
from parlour.events import StoryPremoderated
from parlour.moderation import intake
from parlour.settings import Settings
from tests.conftest import ORIGIN, STORY, create_test_site, make_settings, post

API = "/api/v1"


def comment_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Comment)) or 0


def payload(body: str, name: str = "Reader", url: str = STORY, **author: Any) -> dict[str, Any]:
    return {"site": "courier", "url": url, "body": body, "author": {"name": name, **author}}


@pytest.fixture
def proxied(settings: Settings) -> Any:
    """A client behind a trusted proxy, so each test can post from the addresses it names."""
    app = create_app(make_settings(settings.database_url, trusted_proxies=["127.0.0.1/32"]))
    with TestClient(app, base_url="https://comments.example", client=("127.0.0.1", 5000)) as client:
        yield client


def post_from(client: TestClient, address: str, body: str, name: str = "Reader") -> Any:
    return client.post(f"{API}/comments", json=payload(body, name), headers={"X-Forwarded-For": address})


def test_rate_limit_per_network_refuses_with_retry_after(proxied: TestClient, db: Database) -> None:
    create_test_site(db, rate_per_network=3)
    for n in range(3):
        assert post_from(proxied, "203.0.113.7", f"Comment {n}", name=f"R{n}").status_code == 201
    refused = post_from(proxied, "203.0.113.7", "One too many", name="R9")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "from your network" in refused.json()["detail"]
    assert comment_count(db) == 3
    assert post_from(proxied, "203.0.113.8", "Another network").status_code == 201


def test_ipv6_addresses_in_one_64_share_a_limit(proxied: TestClient, db: Database) -> None:
    create_test_site(db, rate_per_network=2)
    assert post_from(proxied, "2001:db8:1:2::1", "One", name="A").status_code == 201
    assert post_from(proxied, "2001:db8:1:2:ffff::9", "Two", name="B").status_code == 201
    assert post_from(proxied, "2001:db8:1:2:aaaa::3", "Three", name="C").status_code == 429
    assert post_from(proxied, "2001:db8:1:3::1", "Other prefix", name="D").status_code == 201


def test_forwarded_addresses_from_untrusted_peers_are_ignored(client: TestClient, db: Database) -> None:
    create_test_site(db, rate_per_network=2)
    for n in range(2):
        sent = client.post(
            f"{API}/comments", json=payload(f"Spoof {n}", f"S{n}"), headers={"X-Forwarded-For": f"198.51.100.{n}"}
        )
        assert sent.status_code == 201
    spoofed = client.post(
        f"{API}/comments", json=payload("Spoof 3", "S3"), headers={"X-Forwarded-For": "198.51.100.77"}
    )
    assert spoofed.status_code == 429


def test_rate_limit_per_author(proxied: TestClient, db: Database) -> None:
    create_test_site(db, rate_per_author=2)
    for n, address in enumerate(["203.0.113.1", "203.0.113.2"]):
        sent = proxied.post(
            f"{API}/comments", json=payload(f"Mine {n}", email="me@example.org"), headers={"X-Forwarded-For": address}
        )
        assert sent.status_code == 201
    third = proxied.post(
        f"{API}/comments", json=payload("Mine 3", email="me@example.org"), headers={"X-Forwarded-For": "203.0.113.3"}
    )
    assert third.status_code == 429 and "by you" in third.json()["detail"]


def test_rate_limit_per_story(proxied: TestClient, db: Database) -> None:
    create_test_site(db, rate_per_story=2)
    assert post_from(proxied, "203.0.113.1", "a", name="A").status_code == 201
    assert post_from(proxied, "203.0.113.2", "b", name="B").status_code == 201
    refused = post_from(proxied, "203.0.113.3", "c", name="C")
    assert refused.status_code == 429 and "on this story" in refused.json()["detail"]


def edit_from(client: TestClient, address: str, created: dict[str, Any], body: str) -> Any:
    headers = {"X-Forwarded-For": address, "X-Parlour-Edit-Token": created["edit_token"]}
    return client.patch(f"{API}/comments/{created['id']}", json={"body": body}, headers=headers)


def test_edits_are_rate_limited_per_comment(proxied: TestClient, db: Database) -> None:
    create_test_site(db)
    created = post_from(proxied, "203.0.113.7", "First take").json()
    for n in range(intake.EDITS_PER_MINUTE_PER_COMMENT):
        assert edit_from(proxied, "203.0.113.7", created, f"Take {n}").status_code == 200
    # Another network gains nothing: the limit follows the comment.
    refused = edit_from(proxied, "198.51.100.1", created, "One too many")
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "of this comment" in refused.json()["detail"]
    with db.read() as session:
        assert session.scalar(select(Comment.body)) == f"Take {intake.EDITS_PER_MINUTE_PER_COMMENT - 1}"


def test_edits_are_rate_limited_per_network_across_comments(proxied: TestClient, db: Database) -> None:
    create_test_site(db, rate_per_network=0, rate_per_author=0)
    per_comment = intake.EDITS_PER_MINUTE_PER_COMMENT
    comments = [
        post_from(proxied, "203.0.113.7", f"Comment {n}", name=f"R{n}").json()
        for n in range(intake.EDITS_PER_MINUTE_PER_NETWORK // per_comment + 1)
    ]
    for n in range(intake.EDITS_PER_MINUTE_PER_NETWORK):
        edited = edit_from(proxied, "203.0.113.7", comments[n // per_comment], f"Edit {n}")
        assert edited.status_code == 200, edited.text
    refused = edit_from(proxied, "203.0.113.7", comments[-1], "One too many")
    assert refused.status_code == 429 and "from your network" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert edit_from(proxied, "198.51.100.1", comments[-1], "From elsewhere").status_code == 200


def test_an_edit_that_cannot_succeed_is_refused_before_its_text_is_rendered(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_test_site(db)
    created = post(client, "Soon to be rejected.")
    with db.write() as session:
        session.execute(update(Comment).values(status=CommentStatus.REJECTED))

    def costly(_body: str) -> str:
        raise AssertionError("rendered an edit that is refused anyway")

    monkeypatch.setattr(markup, "render", costly)
    headers = {"X-Parlour-Edit-Token": created["edit_token"]}
    refused = client.patch(f"{API}/comments/{created['id']}", json={"body": "x" * 5000}, headers=headers)
    assert refused.status_code == 409, refused.text
    with db.write() as session:
        session.execute(update(Comment).values(status=CommentStatus.APPROVED, created_at=utcnow() - timedelta(hours=1)))
    late = client.patch(f"{API}/comments/{created['id']}", json={"body": "x" * 5000}, headers=headers)
    assert late.status_code == 403, late.text


def test_banned_words_reject_and_suspect_words_hold(client: TestClient, db: Database) -> None:
    create_test_site(db, banned_words=["cockroaches"], suspect_words=["orcs", "round them up"])
    rejected = post(client, "They are COCKROACHES, every one.")
    assert rejected["status"] == "rejected"
    assert "word:banned:cockroaches" in rejected["comment"]["moderation_reasons"]
    held = post(client, "Round them   up, I say.", name="Other")
    assert held["status"] == "pending"
    assert "word:suspect:round them up" in held["comment"]["moderation_reasons"]
    fine = post(client, "Lord of the Rings has orcish armies? No: 'orcs' is the word.", name="Third")
    assert fine["status"] == "pending"  # the quoted word still holds: use and mention are the model's job
    assert post(client, "A word about forcs and scorcs.", name="Fourth")["status"] == "approved"


def test_links_over_the_limit_hold(client: TestClient, db: Database) -> None:
    create_test_site(db, max_links=1)
    assert post(client, "See https://example.org/a")["status"] == "approved"
    held = post(client, "See https://a.example/1 and https://b.example/2", name="Linker")
    assert held["status"] == "pending" and "links:2>1" in held["comment"]["moderation_reasons"]


def test_an_authors_repeated_text_is_refused_and_nothing_stored(client: TestClient, db: Database) -> None:
    create_test_site(db, duplicate_window_seconds=3600)
    post(client, "Buy cheap watches now", email="spam@example.org")
    repeated = post(client, "buy CHEAP watches now!!", email="spam@example.org", expect=409)
    assert "already" in repeated["detail"]
    assert comment_count(db) == 1


def test_the_same_text_from_many_authors_is_held_as_a_flood(client: TestClient, db: Database) -> None:
    create_test_site(db, flood_repeats=2)
    assert post(client, "Vote for X!", name="A")["status"] == "approved"
    assert post(client, "Vote for X!", name="B")["status"] == "approved"
    flood = post(client, "vote for x", name="C")
    assert flood["status"] == "pending" and "flood:2" in flood["comment"]["moderation_reasons"]


def test_slow_mode_refuses_a_second_comment_on_the_story(client: TestClient, db: Database) -> None:
    create_test_site(db, slow_mode_seconds=120)
    post(client, "One thought.")
    refused = client.post(f"{API}/comments", json=payload("Another thought."))
    assert refused.status_code == 429 and "Slow mode" in refused.json()["detail"]
    assert 100 <= int(refused.headers["retry-after"]) <= 120
    post(client, "On another story.", url=f"{ORIGIN}/other")


def test_auto_close_after_publication(client: TestClient, db: Database) -> None:
    create_test_site(db, auto_close_days=2)
    post(client, "Early.")
    with db.write() as session:
        story = session.scalar(select(Story))
        story.published_at = utcnow() - timedelta(days=3)
    closed = post(client, "Late.", name="Late", expect=409)
    assert "2 days after publication" in closed["detail"]


def test_first_comments_of_new_authors_are_held(client: TestClient, db: Database) -> None:
    create_test_site(db, premoderate_new_authors=1)
    first = post(client, "Hello, first time here.", email="new@example.org")
    assert first["status"] == "pending" and "author:new" in first["comment"]["moderation_reasons"]


def test_an_author_is_trusted_once_enough_comments_were_approved(client: TestClient, db: Database) -> None:
    create_test_site(db, premoderate_new_authors=2)
    author = {"name": "Regular", "email": "regular@example.org"}
    held = [post(client, f"Comment number {n}.", **author) for n in range(3)]
    assert {c["status"] for c in held} == {"pending"}
    with db.write() as session:  # a moderator approves the first one: one short of the two asked for
        session.execute(update(Comment).where(Comment.id == held[0]["id"]).values(status=CommentStatus.APPROVED))
    assert post(client, "Still new.", **author)["status"] == "pending"
    with db.write() as session:  # now every one of them: more than the count that matters
        session.execute(update(Comment).values(status=CommentStatus.APPROVED))
    assert post(client, "Trusted now.", **author)["status"] == "approved"


def test_the_surge_guard_switches_a_story_to_pre_moderation(client: TestClient, db: Database) -> None:
    create_test_site(db, suspect_words=["slaughter"], surge_share=0.5, surge_min_comments=4)
    seen: list[StoryPremoderated] = []
    client.app.state.parlour.bus.subscribe(StoryPremoderated, seen.append)  # type: ignore[attr-defined]
    post(client, "A sober comment.", name="A")
    post(client, "Continue the slaughter.", name="B")
    post(client, "Another sober one.", name="C")
    assert not seen
    post(client, "Slaughter them all.", name="D")
    assert len(seen) == 1 and seen[0].held_share == pytest.approx(0.5)
    calm = post(client, "A calm reply now waits.", name="E")
    assert calm["status"] == "pending" and "mode:pre-moderation" in calm["comment"]["moderation_reasons"]
    with db.read() as session:
        story = session.scalar(select(Story))
        assert story.moderation_mode == "pre" and story.surge_at is not None
        guard = session.scalars(select(ModerationAction)).all()
    assert [(a.action, a.staff_user_id) for a in guard] == [("surge-guard", None)]
    assert "2 of 4" in guard[0].reason


def test_an_edit_goes_through_the_content_phases_again(client: TestClient, db: Database) -> None:
    create_test_site(db, banned_words=["vermin"])
    created = post(client, "Harmless at first.")
    edited = client.patch(
        f"{API}/comments/{created['id']}",
        json={"body": "Now they are vermin."},
        headers={"X-Parlour-Edit-Token": created["edit_token"]},
    )
    assert edited.status_code == 200
    assert edited.json()["status"] == "rejected"
    assert "word:banned:vermin" in edited.json()["moderation_reasons"]
