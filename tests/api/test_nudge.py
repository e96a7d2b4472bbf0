"""POST /api/v1/comments:check (the nudge) and what a posted comment records about it."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Comment
from tests.api.test_comments_api import assert_problem
from tests.conftest import STORY, SiteInfo, create_test_site

API = "/api/v1"
CHECK = f"{API}/comments:check"


def test_a_hostile_draft_comes_back_with_its_words_highlighted(
    client: TestClient, db: Database, site: SiteInfo
) -> None:
    create_test_site(db, "words", banned_words=["vermin"], thresholds={"INSULT": 0.5})
    calm = client.post(CHECK, json={"site": "words", "body": "Thank you for this careful report."})
    assert calm.status_code == 200 and calm.json()["decision"] == "publish" and calm.json()["highlights"] == []
    hostile = client.post(CHECK, json={"site": "words", "body": "  You stupid idiot, your people are vermin.  "}).json()
    assert hostile["decision"] == "reject" and hostile["text"] == "You stupid idiot, your people are vermin."
    marked = {(hostile["text"][h["start"] : h["end"]].lower(), h["reason"]) for h in hostile["highlights"]}
    assert ("vermin", "banned") in marked
    assert "INSULT" in hostile["categories"] and any(reason == "INSULT" for _, reason in marked)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == 0  # a check stores nothing


def test_bad_drafts_are_refused_clearly(client: TestClient, site: SiteInfo) -> None:
    assert_problem(client.post(CHECK, json={"site": "nope", "body": "x"}), 404)
    assert_problem(client.post(CHECK, json={"site": "courier", "body": "   "}), 422)
    assert_problem(client.post(CHECK, json={"site": "courier", "body": "x", "extra": 1}), 422)
    assert_problem(client.post(CHECK, json={"site": "courier", "body": "x" * 5001}), 422)


def test_draft_checks_are_rate_limited_per_network(client: TestClient, site: SiteInfo) -> None:
    answers = [client.post(CHECK, json={"site": "courier", "body": f"Draft {n}"}).status_code for n in range(31)]
    assert answers[:30] == [200] * 30
    limited = client.post(CHECK, json={"site": "courier", "body": "One more"})
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1


def test_the_draft_check_limit_is_per_network_whatever_the_site(
    client: TestClient, db: Database, site: SiteInfo
) -> None:
    for slug in ("herald", "gazette"):
        create_test_site(db, slug)
    answers = [
        client.post(CHECK, json={"site": ("courier", "herald", "gazette")[n % 3], "body": f"Draft {n}"}).status_code
        for n in range(30)
    ]
    assert answers == [200] * 30
    for slug in ("courier", "herald", "gazette"):
        assert_problem(client.post(CHECK, json={"site": slug, "body": "One more"}), 429)


def test_a_posted_comment_records_what_the_nudge_did(client: TestClient, db: Database, site: SiteInfo) -> None:
    for nudge in ("revised", "ignored", None):
        data = {"site": "courier", "url": STORY, "body": f"After the nudge: {nudge}", "author": {"name": "Ann"}}
        if nudge:
            data["nudge"] = nudge
        assert client.post(f"{API}/comments", json=data).status_code == 201
    assert_problem(
        client.post(
            f"{API}/comments",
            json={"site": "courier", "url": STORY, "body": "x", "author": {"name": "A"}, "nudge": "maybe"},
        ),
        422,
    )
    with db.read() as session:
        reasons = {c.body: c.moderation_reasons for c in session.scalars(select(Comment))}
    assert "nudge:revised" in reasons["After the nudge: revised"]
    assert "nudge:ignored" in reasons["After the nudge: ignored"]
    assert not any(r.startswith("nudge:") for r in reasons["After the nudge: None"])
