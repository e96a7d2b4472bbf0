"""The signed-in reader's own data: my comments, my e-mail choices, download my data, delete my comments or account."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, Reaction, Report
from parlour.transfer import serialise
from tests.api.test_comments_api import assert_problem
from tests.conftest import ORIGIN, STORY, create_test_site, post, thread
from tests.identity.tokens import SITE_KEYS, bearer, exchange, mint, sign_in

OTHER_STORY = f"{ORIGIN}/politics/2026/11/25/budget"


def post_as(
    client: TestClient, headers: dict[str, str], body: str, *, url: str = STORY, parent_id: int | None = None
) -> int:
    payload = {"site": "courier", "url": url, "body": body, "parent_id": parent_id}
    response = client.post("/api/v1/comments", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    comment_id: int = response.json()["id"]
    return comment_id


def mine(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/reader/comments", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


class TestMyComments:
    def test_across_the_site_newest_first_paged_and_per_story(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        first = post_as(client, ada, "On the river town.")
        second = post_as(client, ada, "On the budget, with **bold** words.", url=OTHER_STORY)
        third = post_as(client, ada, "Again on the river town.")
        post(client, "Someone else's comment.", name="Bo")
        page = mine(client, ada, limit=2)
        assert [c["id"] for c in page["comments"]] == [third, second]
        assert page["comments"][1]["story_url"] == OTHER_STORY
        assert page["comments"][1]["excerpt"] == "On the budget, with **bold** words."
        rest = mine(client, ada, limit=2, cursor=page["next_cursor"])
        assert [c["id"] for c in rest["comments"]] == [first] and rest["next_cursor"] is None
        on_story = mine(client, ada, url=STORY + "?utm_source=x")
        assert [c["id"] for c in on_story["comments"]] == [third, first]

    def test_bad_parameters_and_no_session(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        for params in [{"limit": 0}, {"limit": 101}, {"cursor": 0}, {"cursor": "x"}]:
            assert_problem(client.get("/api/v1/reader/comments", headers=ada, params=params), 422)
        assert_problem(client.get("/api/v1/reader/comments"), 401)


class TestNotificationSettings:
    def test_reader_chooses_and_profile_shows_it(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        before = client.get("/api/v1/reader", headers=ada).json()["notifications"]
        assert before | {"available": None} == {
            "available": None,
            "email": "ada@reader.example",
            "confirmed": False,
            "frequency": "immediate",
            "reply": False,
            "moderation": False,
            "featured": False,
        }
        assert before["available"] is False  # this server has no SMTP
        response = client.patch("/api/v1/reader/notifications", json={"reply": True, "frequency": "daily"}, headers=ada)
        assert response.status_code == 200, response.text
        chosen = response.json()
        assert (chosen["confirmed"], chosen["reply"], chosen["moderation"], chosen["frequency"]) == (
            True,
            True,
            False,
            "daily",
        )
        assert client.get("/api/v1/reader", headers=ada).json()["notifications"]["reply"] is True

    def test_refused_without_address_or_with_bad_input(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        for payload in [{"frequency": "weekly"}, {"reply": "maybe"}, {"unknown": True}]:
            assert_problem(client.patch("/api/v1/reader/notifications", json=payload, headers=ada), 422)
        no_mail = sign_in(client, sub="user-9", email=None)
        assert_problem(
            client.patch("/api/v1/reader/notifications", json={"reply": True}, headers=no_mail), 422, "email"
        )
        assert_problem(client.patch("/api/v1/reader/notifications", json={"reply": True}), 401)


class TestDownloadMyData:
    def test_everything_of_mine_and_nothing_of_others(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        kept = post_as(client, ada, "My words.")
        bos = post(client, "Not Ada's words.", name="Bo", email="bo@reader.example")["id"]
        # Ada, signed in, likes and reports Bo's comment; Bo, anonymous, reports Ada's, which is not Ada's data.
        assert client.put(f"/api/v1/comments/{bos}/reaction", headers=ada).status_code == 200
        report = {"reason": "off-topic", "message": "About another story."}
        assert client.post(f"/api/v1/comments/{bos}/reports", json=report, headers=ada).status_code == 201
        assert client.post(f"/api/v1/comments/{kept}/reports", json={"reason": "spam"}).status_code == 201
        response = client.get("/api/v1/reader/data", headers=ada)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["content-disposition"] == 'attachment; filename="parlour-courier-my-data.json"'
        assert response.headers["cache-control"] == "no-store"
        data = json.loads(response.content)
        assert data["reader"]["external_id"] == "user-42" and data["reader"]["email"] == "ada@reader.example"
        assert [(c["id"], c["body"], c["story_url"]) for c in data["comments"]] == [(kept, "My words.", STORY)]
        assert "Bo" not in response.text and "bo@reader.example" not in response.text
        # The rows are the site export's: the same serialisers, so the same fields.
        with db.read() as session:
            author = session.get(Author, data["reader"]["id"])
            comment = session.get(Comment, kept)
            assert author is not None and comment is not None
            internal = {
                *("reader_key", "last_reader_key", "identity_key", "edit_token_hash", "body_hash"),
                *("claimed_by", "claimed_until", "moderation_scores", "flagged", "open_reports"),
            }
            exported_author, exported_comment = serialise.author_dict(author), serialise.comment_dict(comment)
            assert internal <= set(exported_author) | set(exported_comment)  # the operator's export has them
            assert data["reader"] == {k: v for k, v in exported_author.items() if k not in internal}
            shown = data["comments"][0]
            assert shown.pop("story_url") == STORY and "story_title" in shown
            del shown["story_title"]
            assert shown == {k: v for k, v in exported_comment.items() if k not in internal}
            assert "moderation_reasons" in shown and comment.open_reports == 1  # Bo's report stays the moderators'
            reaction = session.scalar(select(Reaction).where(Reaction.comment_id == bos))
            reported = session.scalar(select(Report).where(Report.comment_id == bos))
            assert reaction is not None and reported is not None
            assert data["reactions"] == [
                {k: v for k, v in serialise.reaction_dict(reaction).items() if k != "reader_key"}
            ]
            assert data["reports"] == [{k: v for k, v in serialise.report_dict(reported).items() if k != "reader_key"}]
        assert [(r["comment_id"], r["reason"], r["message"]) for r in data["reports"]] == [
            (bos, "off-topic", "About another story.")
        ]
        assert [r["comment_id"] for r in data["reactions"]] == [bos]
        assert '"spam"' not in response.text  # Bo's report of Ada's comment
        assert_problem(client.get("/api/v1/reader/data"), 401)


class TestDeletion:
    def test_delete_my_comments_leaves_tombstones_where_replied(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        replied = post_as(client, ada, "Answered by Bo.")
        post(client, "Bo's reply.", name="Bo", parent_id=replied)
        lonely = post_as(client, ada, "Nobody answered.", url=OTHER_STORY)
        response = client.delete("/api/v1/reader/comments", headers=ada)
        assert response.status_code == 200 and response.json() == {"deleted": 2}
        shown = thread(client)["comments"]
        assert [c["id"] for c in shown] == [replied]
        assert shown[0]["author"] is None and shown[0]["html"] == ""
        assert shown[0]["replies"][0]["html"] == "<p>Bo's reply.</p>"
        assert thread(client, OTHER_STORY)["comments"] == []
        with db.read() as session:
            rows = session.scalars(select(Comment).where(Comment.id.in_([replied, lonely]))).all()
        assert {(c.status, c.body) for c in rows} == {(CommentStatus.DELETED, "")}
        assert mine(client, ada)["comments"] == []
        # Repeating it is harmless.
        assert client.delete("/api/v1/reader/comments", headers=ada).json() == {"deleted": 0}

    def test_site_policy_keeps_text_for_moderators(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"], deleted_text_days=14)
        ada = sign_in(client)
        kept = post_as(client, ada, "Kept for moderators.")
        client.delete("/api/v1/reader/comments", headers=ada)
        assert thread(client)["comments"] == []
        with db.read() as session:
            comment = session.get(Comment, kept)
            assert comment is not None
            assert (comment.status, comment.body, comment.html) == (CommentStatus.DELETED, "Kept for moderators.", "")

    def test_delete_account_erases_the_reader_and_ends_sessions(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        token = mint()
        ada = bearer(exchange(client, token)["session_token"])
        other_device = sign_in(client)
        post_as(client, ada, "Goodbye.")
        response = client.delete("/api/v1/reader", headers=ada)
        assert response.status_code == 200 and response.json() == {"deleted": 1}
        for headers in (ada, other_device):
            assert_problem(client.get("/api/v1/reader", headers=headers), 401)
        with db.read() as session:
            author = session.scalars(select(Author)).one()
            assert (author.display_name, author.email, author.external_id, author.avatar_url, author.badges) == (
                "",
                None,
                None,
                None,
                [],
            )
            assert author.deleted_at is not None
            author_id = author.id
        assert thread(client)["comments"] == []
        # The token that signed in before cannot bring the account back; a new sign-in starts afresh, same row.
        exchange(client, token, expect=401)
        fresh = sign_in(client)
        assert client.get("/api/v1/reader/comments", headers=fresh).json()["comments"] == []
        with db.read() as session:
            assert [a.id for a in session.scalars(select(Author))] == [author_id]

    def test_moderators_decisions_are_not_undone(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        rejected = post_as(client, ada, "Rejected by a moderator.")
        with db.write() as session:
            comment = session.get(Comment, rejected)
            assert comment is not None
            comment.status = CommentStatus.REJECTED
        assert client.delete("/api/v1/reader/comments", headers=ada).json() == {"deleted": 0}
        with db.read() as session:
            assert session.get(Comment, rejected).status is CommentStatus.REJECTED  # type: ignore[union-attr]
