"""The public comment API: every endpoint's success and error cases, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from parlour.clock import utcnow
from parlour.comments import service
from parlour.comments.schemas import AuthorIn
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, IdempotencyKey, Site, Story
from parlour.moderation import intake
from tests.conftest import ORIGIN, STORY, SiteInfo, create_test_site, post, thread


def count_rows(db: Database, table: type) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def assert_problem(response, status: int, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


class TestPosting:
    def test_creates_story_on_first_use_with_canonical_url(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client, url=f"{ORIGIN.upper()}/world/2026/11/24/river-town/?utm_source=tw#c")
        assert created["status"] == "approved"
        assert len(created["edit_token"]) >= 22  # 128 bits, base64
        page = thread(client)
        assert page["story"]["url"] == STORY
        assert [c["id"] for c in page["comments"]] == [created["id"]]

    def test_response_carries_own_source_and_window(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client, "Some **bold** words", name="  Ann   Reader ", website="https://ann.example")
        comment = created["comment"]
        assert comment["body"] == "Some **bold** words"
        assert comment["html"] == "<p>Some <strong>bold</strong> words</p>"
        assert (comment["author"]["name"], comment["author"]["website"]) == ("Ann Reader", "https://ann.example")
        assert comment["author"]["avatar"] is None and comment["author"]["avatar_seed"]
        assert comment["editable_until"] > comment["created_at"]

    def test_email_is_never_shown(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client, email="secret@reader.example")
        assert "secret@reader.example" not in client.get(f"/api/v1/comments/{created['id']}").text
        assert "secret@reader.example" not in str(thread(client))

    def test_someone_elses_email_does_not_rename_their_comments(self, client: TestClient, site: SiteInfo) -> None:
        # An e-mail address proves nothing: typing Ann's under another name must not touch Ann's comments.
        ann = post(client, "Ann's view.", name="Ann", email="ann@reader.example")
        post(client, "Not Ann at all.", name="Mallory", email="ann@reader.example")
        again = post(client, "Ann again.", name="Ann", email="ANN@reader.example")
        names = {c["id"]: c["author"]["name"] for c in thread(client, sort="oldest")["comments"]}
        assert names[ann["id"]] == "Ann" and names[again["id"]] == "Ann"
        assert sorted(names.values()) == ["Ann", "Ann", "Mallory"]

    def test_url_outside_origins_is_refused_and_nothing_stored(
        self, client: TestClient, site: SiteInfo, db: Database
    ) -> None:
        for url in ["https://evil.example/a", "http://news.example/a", "https://news.example.evil/a"]:
            assert_problem(
                client.post(
                    "/api/v1/comments", json={"site": "courier", "url": url, "body": "x", "author": {"name": "A"}}
                ),
                403,
                "url",
            )
        assert count_rows(db, Story) == 0
        assert count_rows(db, Comment) == 0

    @pytest.mark.parametrize(
        ("patch", "field", "status"),
        [
            ({"body": ""}, "body", 422),
            ({"body": "   \n\t "}, "body", 422),
            ({"body": "x" * 5001}, "body", 422),
            ({"author": {"name": ""}}, "author.name", 422),
            ({"author": {"name": "n" * 65}}, "author.name", 422),
            ({"author": {"name": "A", "email": "not-an-email"}}, "author.email", 422),
            ({"author": {"name": "A", "website": "javascript:alert(1)"}}, "author.website", 422),
            ({"author": {"name": "A", "website": "ftp://x.example"}}, "author.website", 422),
            ({"author": {"name": "A", "unknown": 1}}, "author.unknown", 422),
            ({"extra": True}, "extra", 422),
            ({"parent_id": 999999}, "parent_id", 422),
            ({"parent_id": 0}, "parent_id", 422),
            ({"parent_id": 10**23}, "parent_id", 422),
            ({"parent_id": "one"}, "parent_id", 422),
            ({"url": "not a url"}, "url", 422),
            ({"site": "nope"}, "site", 404),
        ],
    )
    def test_bad_input_is_refused_and_changes_nothing(
        self, client: TestClient, site: SiteInfo, db: Database, patch: dict, field: str, status: int
    ) -> None:
        payload = {"site": "courier", "url": STORY, "body": "ok", "author": {"name": "A"}} | patch
        assert_problem(client.post("/api/v1/comments", json=payload), status, field)
        assert count_rows(db, Comment) == 0

    def test_body_limit_follows_site_setting(self, client: TestClient, db: Database) -> None:
        create_test_site(db, max_body_chars=10)
        post(client, "0123456789")
        assert_problem(
            client.post(
                "/api/v1/comments",
                json={"site": "courier", "url": STORY, "body": "01234567890", "author": {"name": "A"}},
            ),
            422,
            "body",
        )

    def test_not_json_is_refused(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        for headers, content in [
            ({"content-type": "text/plain"}, b'{"a":1}'),
            ({"content-type": "application/x-www-form-urlencoded"}, b"site=courier"),
            ({}, b'{"site":"courier"}'),
        ]:
            response = client.post("/api/v1/comments", content=content, headers=headers)
            assert_problem(response, 415)
        assert_problem(
            client.post("/api/v1/comments", content=b"{not json", headers={"content-type": "application/json"}),
            400,
            "body",
        )
        assert count_rows(db, Comment) == 0

    def test_oversized_body_is_refused(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        big = {"site": "courier", "url": STORY, "body": "x" * 70_000, "author": {"name": "A"}}
        assert_problem(client.post("/api/v1/comments", json=big), 413)
        assert count_rows(db, Comment) == 0

    def test_closed_story_refuses_comments(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        post(client)
        with db.write() as session:
            session.execute(update(Story).values(closed=True))
        assert_problem(
            client.post(
                "/api/v1/comments", json={"site": "courier", "url": STORY, "body": "x", "author": {"name": "A"}}
            ),
            409,
        )
        assert count_rows(db, Comment) == 1

    def test_pre_moderation_holds_comment(self, client: TestClient, db: Database) -> None:
        create_test_site(db, moderation_mode="pre")
        created = post(client)
        assert created["status"] == "pending"
        assert created["comment"]["moderation_reasons"] == ["mode:pre-moderation"]
        assert thread(client)["total"] == 0
        assert thread(client)["comments"] == []
        assert client.get(f"/api/v1/comments/{created['id']}").status_code == 404
        own = client.get(f"/api/v1/comments/{created['id']}", headers={"X-Parlour-Edit-Token": created["edit_token"]})
        assert own.json()["comment"]["status"] == "pending"

    @pytest.mark.parametrize("mode", ["post", "pre"])
    def test_answer_is_what_reading_the_comment_back_gives(self, client: TestClient, db: Database, mode: str) -> None:
        # The answer is built from the rows as written, not read back: it must not differ from a read.
        create_test_site(db, moderation_mode=mode, max_depth=1)

        def posted_and_read_back(*args: Any, **kwargs: Any) -> dict[str, Any]:
            created = post(client, *args, **kwargs)
            headers = {"X-Parlour-Edit-Token": created["edit_token"]}
            read = client.get(f"/api/v1/comments/{created['id']}", headers=headers)
            assert read.status_code == 200, read.text
            assert created["comment"] == read.json()["comment"]
            return created

        posted_and_read_back("Hello *there*", name="Ann", email="ann@reader.example", website="https://ann.example")
        again = posted_and_read_back("Again.", name="Ann", email="ann@reader.example")
        assert again["comment"]["author"]["website"] == "https://ann.example"  # kept from the author's first comment
        if mode == "post":
            top = posted_and_read_back("Top comment.", name="Bob")
            reply = posted_and_read_back("A reply.", name="Cy", parent_id=top["id"])
            deeper = posted_and_read_back("Deeper.", name="Di", parent_id=reply["id"])
            assert (reply["comment"]["depth"], deeper["comment"]["parent_id"]) == (1, top["id"])

    @pytest.mark.parametrize("stale", ["none found", "found, then erased"])
    def test_the_author_is_found_again_when_the_checks_were_stale(
        self, client: TestClient, db: Database, site: SiteInfo, stale: str
    ) -> None:
        # The write trusts what the checks before it found; another request may have changed it in between.
        first = post(client, "First.", name="Ann", email="ann@reader.example")
        with db.read() as session:
            ann = session.scalar(select(Author).join(Comment).where(Comment.id == first["id"]))
            assert ann is not None
            the_site = session.get(Site, ann.site_id)
        assert the_site is not None
        identity = ann.identity_key or ""
        if stale == "none found":  # the checks saw no author, and the author's first comment was stored meanwhile
            known_id, expected = None, ann.id
        else:  # the checks found an author whose identity was erased meanwhile: a new author is made
            with db.write() as session:
                session.execute(update(Author).where(Author.id == ann.id).values(identity_key=None))
            known_id, expected = ann.id, None
        with db.write() as session:
            author = service._upsert_author(
                session,
                the_site,
                AuthorIn(name="Ann B"),
                intake.Poster("reader", identity),
                known_id=known_id,
            )
            assert (author.id == expected) if expected else (author.id != ann.id and author.identity_key == identity)
            assert author.display_name == "Ann B"
        assert count_rows(db, Author) == (1 if expected else 2)

    def test_reply_to_pending_comment_is_refused(self, client: TestClient, db: Database) -> None:
        create_test_site(db, moderation_mode="pre")
        pending = post(client)
        body = {"site": "courier", "url": STORY, "parent_id": pending["id"], "body": "x", "author": {"name": "A"}}
        assert_problem(client.post("/api/v1/comments", json=body), 422, "parent_id")

    def test_reply_on_other_story_is_refused(self, client: TestClient, site: SiteInfo) -> None:
        other = post(client, url=f"{ORIGIN}/other")
        body = {"site": "courier", "url": STORY, "parent_id": other["id"], "body": "x", "author": {"name": "A"}}
        assert_problem(client.post("/api/v1/comments", json=body), 422, "parent_id")

    def test_deep_replies_attach_at_the_cap(self, client: TestClient, db: Database) -> None:
        create_test_site(db, max_depth=2)
        top = post(client)
        one = post(client, parent_id=top["id"])
        two = post(client, parent_id=one["id"])
        three = post(client, parent_id=two["id"])
        assert two["comment"]["depth"] == 2
        assert three["comment"]["depth"] == 2
        assert three["comment"]["parent_id"] == one["id"]

    def test_idempotency_key_returns_first_result(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        payload = {"site": "courier", "url": STORY, "body": "once", "author": {"name": "A"}}
        headers = {"Idempotency-Key": "retry-1"}
        first = client.post("/api/v1/comments", json=payload, headers=headers)
        second = client.post("/api/v1/comments", json=payload, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        assert first.json()["edit_token"] == second.json()["edit_token"]
        assert count_rows(db, Comment) == 1
        assert count_rows(db, IdempotencyKey) == 1
        # The retried token works.
        token = second.json()["edit_token"]
        edited = client.patch(
            f"/api/v1/comments/{first.json()['id']}", json={"body": "edited"}, headers={"X-Parlour-Edit-Token": token}
        )
        assert edited.status_code == 200

    def test_idempotency_key_reused_for_other_request(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        headers = {"Idempotency-Key": "retry-2"}
        payload = {"site": "courier", "url": STORY, "body": "one", "author": {"name": "A"}}
        assert client.post("/api/v1/comments", json=payload, headers=headers).status_code == 201
        assert_problem(
            client.post("/api/v1/comments", json=payload | {"body": "two"}, headers=headers), 409, "Idempotency-Key"
        )
        assert count_rows(db, Comment) == 1


class TestEditingAndDeleting:
    def test_author_edits_within_window(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client, "first")
        response = client.patch(
            f"/api/v1/comments/{created['id']}",
            json={"body": "second *take*"},
            headers={"X-Parlour-Edit-Token": created["edit_token"]},
        )
        assert response.status_code == 200, response.text
        assert response.json()["html"] == "<p>second <em>take</em></p>"
        assert response.json()["edited_at"] is not None
        assert thread(client)["comments"][0]["html"] == "<p>second <em>take</em></p>"

    def test_wrong_or_missing_token_changes_nothing(self, client: TestClient, site: SiteInfo) -> None:
        mine, other = post(client, "mine"), post(client, "other")
        for headers in [{}, {"X-Parlour-Edit-Token": other["edit_token"]}, {"X-Parlour-Edit-Token": "x" * 22}]:
            assert_problem(
                client.patch(f"/api/v1/comments/{mine['id']}", json={"body": "hacked"}, headers=headers), 403
            )
            assert_problem(client.delete(f"/api/v1/comments/{mine['id']}", headers=headers), 403)
        assert thread(client, sort="oldest")["comments"][0]["html"] == "<p>mine</p>"
        assert_problem(
            client.patch("/api/v1/comments/999999", json={"body": "x"}, headers={"X-Parlour-Edit-Token": "x"}), 404
        )

    def test_edit_window_closes(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        created = post(client, "first")
        with db.write() as session:
            session.execute(update(Comment).values(created_at=utcnow() - timedelta(hours=1)))
        headers = {"X-Parlour-Edit-Token": created["edit_token"]}
        assert_problem(client.patch(f"/api/v1/comments/{created['id']}", json={"body": "late"}, headers=headers), 403)
        assert_problem(client.delete(f"/api/v1/comments/{created['id']}", headers=headers), 403)

    def test_bad_edit_body(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client)
        headers = {"X-Parlour-Edit-Token": created["edit_token"]}
        assert_problem(client.patch(f"/api/v1/comments/{created['id']}", json={"body": ""}, headers=headers), 422)
        assert_problem(
            client.patch(
                f"/api/v1/comments/{created['id']}", json={"body": "x", "status": "approved"}, headers=headers
            ),
            422,
            "status",
        )

    def test_delete_leaves_tombstone_holding_replies(self, client: TestClient, site: SiteInfo) -> None:
        parent = post(client, "parent")
        child = post(client, "child", parent_id=parent["id"])
        response = client.delete(
            f"/api/v1/comments/{parent['id']}", headers={"X-Parlour-Edit-Token": parent["edit_token"]}
        )
        assert response.status_code == 204
        page = thread(client)
        assert page["total"] == 1
        tombstone = page["comments"][0]
        assert tombstone["status"] == "deleted"
        assert tombstone["author"] is None and tombstone["html"] == ""
        assert [r["id"] for r in tombstone["replies"]] == [child["id"]]
        # Deleting the last reply hides the tombstone too.
        client.delete(f"/api/v1/comments/{child['id']}", headers={"X-Parlour-Edit-Token": child["edit_token"]})
        page = thread(client)
        assert page["comments"] == [] and page["total"] == 0

    def test_deleted_leaf_disappears_and_counts_follow(self, client: TestClient, site: SiteInfo) -> None:
        parent = post(client, "parent")
        child = post(client, "child", parent_id=parent["id"])
        assert thread(client)["comments"][0]["reply_count"] == 1
        client.delete(f"/api/v1/comments/{child['id']}", headers={"X-Parlour-Edit-Token": child["edit_token"]})
        page = thread(client)
        assert page["total"] == 1
        assert page["comments"][0]["reply_count"] == 0
        assert page["comments"][0]["replies"] == []
        assert client.get(f"/api/v1/comments/{child['id']}").status_code == 404

    def test_raw_source_only_with_token(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client, "secret *source*")
        public = client.get(f"/api/v1/comments/{created['id']}").json()["comment"]
        assert "body" not in public
        own = client.get(
            f"/api/v1/comments/{created['id']}", headers={"X-Parlour-Edit-Token": created["edit_token"]}
        ).json()["comment"]
        assert own["body"] == "secret *source*"


class TestReading:
    def test_unknown_story_is_an_empty_thread(self, client: TestClient, site: SiteInfo) -> None:
        page = thread(client)
        assert page == {"story": None, "total": 0, "sort": "top", "comments": [], "next_cursor": None, "featured": []}

    def test_thread_errors(self, client: TestClient, site: SiteInfo) -> None:
        assert_problem(client.get("/api/v1/threads", params={"site": "nope", "url": STORY}), 404, "site")
        assert_problem(client.get("/api/v1/threads", params={"site": "courier", "url": "https://evil.example/"}), 403)
        assert_problem(client.get("/api/v1/threads", params={"site": "courier"}), 422, "url")
        assert_problem(client.get("/api/v1/threads", params={"site": "courier", "url": STORY, "sort": "best"}), 422)
        assert_problem(client.get("/api/v1/threads", params={"site": "courier", "url": STORY, "limit": 0}), 422)
        assert_problem(client.get("/api/v1/threads", params={"site": "courier", "url": STORY, "limit": 101}), 422)
        post(client)
        assert_problem(
            client.get("/api/v1/threads", params={"site": "courier", "url": STORY, "cursor": "garbage"}), 422, "cursor"
        )

    def test_sorts_and_pages(self, client: TestClient, site: SiteInfo) -> None:
        ids = [post(client, f"comment {i}")["id"] for i in range(5)]
        client.put(f"/api/v1/comments/{ids[2]}/reaction")
        post(client, "reply", parent_id=ids[3])
        assert [c["id"] for c in thread(client, sort="oldest")["comments"]] == ids
        assert [c["id"] for c in thread(client, sort="newest")["comments"]] == ids[::-1]
        top = [c["id"] for c in thread(client, sort="top")["comments"]]
        assert top[:2] == [ids[2], ids[3]]
        seen, cursor = [], None
        while True:
            params = {"sort": "oldest", "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = thread(client, **params)
            seen += [c["id"] for c in page["comments"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids

    def test_replies_preview_and_continuation(self, client: TestClient, db: Database) -> None:
        create_test_site(db, replies_preview=2, preview_depth=2)
        top = post(client, "top")
        replies = [post(client, f"r{i}", parent_id=top["id"])["id"] for i in range(5)]
        deep = post(client, "deep", parent_id=replies[0])
        deeper = post(client, "deeper", parent_id=deep["id"])
        comment = thread(client)["comments"][0]
        assert [r["id"] for r in comment["replies"]] == replies[:2]
        assert comment["more_replies"]["count"] == 3
        first_reply = comment["replies"][0]
        assert first_reply["replies"][0]["id"] == deep["id"]
        assert first_reply["replies"][0]["more_replies"] == {"count": 1, "cursor": None}
        rest = client.get(
            f"/api/v1/comments/{top['id']}/replies", params={"cursor": comment["more_replies"]["cursor"]}
        ).json()
        assert [r["id"] for r in rest["replies"]] == replies[2:]
        branch = client.get(f"/api/v1/comments/{deep['id']}/replies").json()
        assert [r["id"] for r in branch["replies"]] == [deeper["id"]]
        assert_problem(client.get("/api/v1/comments/999999/replies"), 404)

    def test_permalink_has_ancestors(self, client: TestClient, site: SiteInfo) -> None:
        a = post(client, "a")
        b = post(client, "b", parent_id=a["id"])
        c = post(client, "c", parent_id=b["id"])
        response = client.get(f"/api/v1/comments/{c['id']}").json()
        assert [x["id"] for x in response["ancestors"]] == [a["id"], b["id"]]
        assert response["story"]["url"] == STORY
        assert_problem(client.get("/api/v1/comments/999999"), 404)
        assert_problem(client.get("/api/v1/comments/abc"), 422)

    def test_etag_and_not_modified(self, client: TestClient, site: SiteInfo) -> None:
        post(client)
        first = client.get("/api/v1/threads", params={"site": "courier", "url": STORY})
        etag = first.headers["etag"]
        assert "public" in first.headers["cache-control"]
        again = client.get("/api/v1/threads", params={"site": "courier", "url": STORY}, headers={"If-None-Match": etag})
        assert again.status_code == 304
        post(client, "new")
        changed = client.get(
            "/api/v1/threads", params={"site": "courier", "url": STORY}, headers={"If-None-Match": etag}
        )
        assert changed.status_code == 200 and changed.json()["total"] == 2

    def test_gzip_when_accepted(self, client: TestClient, site: SiteInfo) -> None:
        post(client, "compress me " * 50)
        params = {"site": "courier", "url": STORY}
        plain = client.get("/api/v1/threads", params=params, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        for _ in range(2):  # rendered, then cached
            packed = client.get("/api/v1/threads", params=params, headers={"Accept-Encoding": "gzip, br"})
            assert packed.headers["content-encoding"] == "gzip"
            assert "Accept-Encoding" in packed.headers["vary"]
            assert packed.json() == plain.json()  # the client decodes gzip transparently
            assert int(packed.headers["content-length"]) < len(plain.content)

    def test_cache_never_serves_stale_after_write(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client, "before")
        assert thread(client)["comments"][0]["html"] == "<p>before</p>"
        client.patch(
            f"/api/v1/comments/{created['id']}",
            json={"body": "after"},
            headers={"X-Parlour-Edit-Token": created["edit_token"]},
        )
        assert thread(client)["comments"][0]["html"] == "<p>after</p>"
        client.put(f"/api/v1/comments/{created['id']}/reaction")
        assert thread(client)["comments"][0]["reaction_count"] == 1


class TestReactionsAndReports:
    def test_one_reaction_per_reader(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client)
        url = f"/api/v1/comments/{created['id']}/reaction"
        for _ in range(3):
            assert client.put(url).json() == {"comment_id": created["id"], "reacted": True, "reaction_count": 1}
        # A forged X-Forwarded-For from an untrusted peer gains nothing.
        assert client.put(url, headers={"X-Forwarded-For": "6.6.6.6"}).json()["reaction_count"] == 1
        assert client.delete(url).json() == {"comment_id": created["id"], "reacted": False, "reaction_count": 0}
        assert client.delete(url).json()["reaction_count"] == 0
        assert_problem(client.put("/api/v1/comments/999999/reaction"), 404)

    def test_reports(self, client: TestClient, site: SiteInfo) -> None:
        created = post(client)
        url = f"/api/v1/comments/{created['id']}/reports"
        response = client.post(url, json={"reason": "abuse", "message": "slur"})
        assert response.status_code == 201
        assert response.json() == {"comment_id": created["id"], "reason": "abuse"}
        assert_problem(client.post(url, json={"reason": "spam"}), 409)
        assert_problem(client.post(url, json={"reason": "boring"}), 422, "reason")
        assert_problem(client.post(url, json={"reason": "other", "message": "m" * 1001}), 422, "message")
        assert_problem(client.post("/api/v1/comments/999999/reports", json={"reason": "spam"}), 404)


class TestCounts:
    def test_counts_per_url(self, client: TestClient, site: SiteInfo) -> None:
        post(client)
        post(client)
        other = f"{ORIGIN}/other"
        post(client, url=other)
        response = client.get(
            "/api/v1/counts", params=[("site", "courier"), ("url", STORY + "/"), ("url", other), ("url", f"{ORIGIN}/x")]
        )
        assert response.status_code == 200
        assert response.json()["counts"] == {STORY + "/": 2, other: 1, f"{ORIGIN}/x": 0}
        assert response.headers["etag"]
        assert client.get(
            "/api/v1/counts",
            params=[("site", "courier"), ("url", other)],
            headers={"If-None-Match": response.headers["etag"]},
        ).status_code in {200, 304}

    def test_count_limits(self, client: TestClient, site: SiteInfo) -> None:
        too_many = [("site", "courier")] + [("url", f"{ORIGIN}/{i}") for i in range(101)]
        assert_problem(client.get("/api/v1/counts", params=too_many), 422, "url")
        assert_problem(client.get("/api/v1/counts", params={"site": "courier"}), 422, "url")
        assert_problem(client.get("/api/v1/counts", params={"site": "nope", "url": STORY}), 404)


class TestHeaders:
    def test_security_headers_and_cors(self, client: TestClient, site: SiteInfo) -> None:
        response = client.get("/api/v1/threads", params={"site": "courier", "url": STORY}, headers={"Origin": ORIGIN})
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "access-control-allow-credentials" not in response.headers
        for origin in ["https://evil.example", "null", "https://news.example.evil", "https://evilnews.example"]:
            foreign = client.get(
                "/api/v1/threads", params={"site": "courier", "url": STORY}, headers={"Origin": origin}
            )
            assert "access-control-allow-origin" not in foreign.headers

    def test_answers_for_an_edit_token_are_never_cached(self, client: TestClient, site: SiteInfo, db: Database) -> None:
        created = client.post(
            "/api/v1/comments", json={"site": "courier", "url": STORY, "body": "Mine", "author": {"name": "Ann"}}
        )
        assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
        comment_id, token = created.json()["id"], {"X-Parlour-Edit-Token": created.json()["edit_token"]}
        edited = client.patch(f"/api/v1/comments/{comment_id}", json={"body": "Mine, edited"}, headers=token)
        assert edited.status_code == 200 and edited.headers["cache-control"] == "no-store"
        with db.write() as session:
            session.execute(update(Comment).values(status="pending"))
        own = client.get(f"/api/v1/comments/{comment_id}", headers=token)
        assert own.status_code == 200 and own.json()["comment"]["body"] == "Mine, edited"
        assert own.headers["cache-control"] == "no-store"
        vary = {v.strip().lower() for v in own.headers["vary"].split(",")}
        assert {"x-parlour-edit-token", "authorization"} <= vary
        deleted = client.delete(f"/api/v1/comments/{comment_id}", headers=token)
        assert deleted.status_code == 204 and deleted.headers["cache-control"] == "no-store"
        # The public permalink may be cached as before, but never for the author's request or the other way round.
        public = post(client, "Public")
        anonymous = client.get(f"/api/v1/comments/{public['id']}")
        assert anonymous.status_code == 200 and "cache-control" not in anonymous.headers
        assert "x-parlour-edit-token" in anonymous.headers["vary"].lower()
        # Public thread reads stay cacheable.
        page = client.get("/api/v1/threads", params={"site": "courier", "url": STORY})
        assert page.headers["cache-control"].startswith("public")

    def test_answers_to_a_staff_key_are_not_cached(self, client: TestClient, site: SiteInfo) -> None:
        assert client.get("/api/v1/sites/courier", headers=site.auth).headers["cache-control"] == "no-store"

    def test_preflight(self, client: TestClient, site: SiteInfo) -> None:
        ok = client.options("/api/v1/comments", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert ok.status_code == 204
        assert "X-Parlour-Edit-Token" in ok.headers["access-control-allow-headers"]
        refused = client.options(
            "/api/v1/comments", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in refused.headers

    def test_unknown_route_and_method_are_problems(self, client: TestClient) -> None:
        assert_problem(client.get("/api/v1/nothing"), 404)
        assert_problem(client.post("/api/v1/threads", json={}), 405)

    def test_openapi_lists_the_api(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()
        for path in ["/api/v1/threads", "/api/v1/comments", "/api/v1/comments/{comment_id}", "/api/v1/counts"]:
            assert path in schema["paths"]
        assert "CommentCreate" in schema["components"]["schemas"]
