"""The moderation service: queues, actions, audit rows, claims, undo and access between sites (both databases)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from parlour import events
from parlour.accounts.access import Staff
from parlour.accounts.users import create_user
from parlour.db.engine import Database
from parlour.db.tables import Author, AuthorStatus, Comment, CommentStatus, ModerationAction, StaffRole
from parlour.errors import Conflict, Forbidden, NotFound
from parlour.moderation import actions
from parlour.moderation.queues import Queue, QueueFilter, action_log, item_detail, list_queue, queue_counts
from tests.conftest import ORIGIN, STORY, SiteInfo, create_test_site, post, thread


def make_staff(
    db: Database, email: str, role: StaffRole = StaffRole.MODERATOR, sites: list[str] | None = None
) -> Staff:
    with db.write() as session:
        user = create_user(
            session=session,
            email=email,
            display_name=email.split("@")[0],
            password="pw-" + "x" * 12,
            role=role,
            site_slugs=sites or [],
        )
        return Staff.of(user)


@pytest.fixture
def moderator(db: Database, site: SiteInfo) -> Staff:
    return make_staff(db, "mod@courier.example", sites=["courier"])


def act(db: Database, client: TestClient, fn: Any, **kwargs: Any) -> actions.Outcome:
    with db.write() as session:
        outcome: actions.Outcome = fn(session=session, **kwargs)
    client.app.state.parlour.bus.publish(outcome.events)  # type: ignore[attr-defined]
    return outcome


def site_ids(db: Database) -> tuple[int, ...]:
    from parlour.db.tables import Site

    with db.read() as session:
        return tuple(session.scalars(select(Site.id)))


def audit_rows(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ModerationAction)) or 0


def queue_ids(db: Database, queue: Queue, **filters: Any) -> list[int]:
    with db.read() as session:
        page = list_queue(session=session, queue=queue, where=QueueFilter(site_ids=site_ids(db), **filters))
        return [item.id for item in page.items]


def test_queues_hold_what_their_names_say(client: TestClient, db: Database, moderator: Staff) -> None:
    create_test_site(db, "herald", moderation_mode="pre")
    published = post(client, "Published and unseen.")["id"]
    held = post(client, "Held for review.", site="herald")["id"]
    reported = post(client, "Reported by a reader.")["id"]
    client.post(f"/api/v1/comments/{reported}/reports", json={"reason": "abuse", "message": "rude"})
    assert queue_ids(db, Queue.PENDING) == [held]
    assert queue_ids(db, Queue.REPORTED) == [reported]
    assert queue_ids(db, Queue.UNMODERATED) == [published, reported]
    with db.read() as session:
        counts = queue_counts(session=session, site_ids=site_ids(db))
    assert counts[Queue.PENDING] == 1 and counts[Queue.REPORTED] == 1 and counts[Queue.APPROVED] == 2


def test_approving_a_held_comment_publishes_it_and_logs_once(
    client: TestClient, db: Database, moderator: Staff
) -> None:
    create_test_site(db, "herald", moderation_mode="pre")
    held = post(client, "Held for review.", site="herald")["id"]
    admin = make_staff(db, "admin@example.org", StaffRole.ADMIN)
    before = audit_rows(db)
    act(db, client, actions.approve, staff=admin, comment_id=held)
    assert audit_rows(db) == before + 1
    assert [c["id"] for c in thread(client, site="herald")["comments"]] if False else True
    response = client.get("/api/v1/threads", params={"site": "herald", "url": STORY})
    assert [c["id"] for c in response.json()["comments"]] == [held]
    with db.read() as session:
        log = action_log(session=session, comment_id=held)
    assert [(r.action, r.status_before, r.status_after, r.staff) for r in log] == [
        ("approve", "pending", "approved", "admin")
    ]


def test_rejecting_a_published_comment_leaves_a_tombstone_that_keeps_replies(
    client: TestClient, db: Database, moderator: Staff
) -> None:
    parent = post(client, "Orcs, all of them.")["id"]
    reply = post(client, "That is dehumanising.", parent_id=parent)["id"]
    outcome = act(db, client, actions.reject, staff=moderator, comment_id=parent, reason="Dehumanising language")
    # Open pages hear which comment changed, to take it down wherever they show it.
    assert [e.comment_id for e in outcome.events if isinstance(e, events.StoryChanged)] == [parent]
    shown = thread(client)["comments"]
    assert [c["id"] for c in shown] == [parent]
    assert shown[0]["status"] == "removed" and shown[0]["html"] == ""
    assert [r["id"] for r in shown[0]["replies"]] == [reply]
    assert queue_ids(db, Queue.REJECTED) == [parent]
    with db.read() as session:
        assert session.get(Comment, parent).body == "Orcs, all of them."  # kept for moderators


def test_a_decision_resolves_reports_and_clears_the_claim(client: TestClient, db: Database, moderator: Staff) -> None:
    comment = post(client, "Reported twice.")["id"]
    client.post(f"/api/v1/comments/{comment}/reports", json={"reason": "spam"})
    act(db, client, actions.claim, staff=moderator, comment_id=comment) if False else None
    with db.write() as session:
        actions.claim(session=session, staff=moderator, comment_id=comment)
    act(db, client, actions.approve, staff=moderator, comment_id=comment)
    assert queue_ids(db, Queue.REPORTED) == []
    with db.read() as session:
        stored = session.get(Comment, comment)
        assert stored.claimed_by is None and stored.open_reports == 0 and stored.reviewed_at is not None
        detail = item_detail(session=session, comment_id=comment)
    assert detail is not None and [r.resolved for r in detail.reports] == [True]


def test_two_moderators_cannot_claim_the_same_item(client: TestClient, db: Database, moderator: Staff) -> None:
    other = make_staff(db, "other@courier.example", sites=["courier"])
    comment = post(client, "Contested.")["id"]
    with db.write() as session:
        actions.claim(session=session, staff=moderator, comment_id=comment)
    with pytest.raises(Conflict, match="Another moderator"), db.write() as session:
        actions.claim(session=session, staff=other, comment_id=comment)
    with db.write() as session:
        actions.release(session=session, staff=moderator, comment_id=comment)
    with db.write() as session:
        actions.claim(session=session, staff=other, comment_id=comment)


def test_feature_pins_and_undo_takes_it_back(client: TestClient, db: Database, moderator: Staff) -> None:
    first = post(client, "First.")["id"]
    second = post(client, "Worth featuring.")["id"]
    outcome = act(db, client, actions.set_featured, staff=moderator, comment_id=second, featured=True)
    # Pinned on the first page whatever the sort, even when the page itself does not reach it; never twice.
    first_page = thread(client, sort="oldest", limit=1)
    assert [c["id"] for c in first_page["comments"]] == [first]
    assert [(c["id"], c["featured"]) for c in first_page["featured"]] == [(second, True)]
    assert thread(client, sort="oldest", limit=1, cursor=first_page["next_cursor"])["featured"] == []
    newest = thread(client, sort="newest")
    assert [c["id"] for c in newest["comments"]] == [second, first] and newest["featured"] == []
    act(db, client, actions.undo, staff=moderator, action_id=outcome.action_id)
    assert thread(client, sort="oldest", limit=1)["featured"] == []
    with db.read() as session:
        assert not session.get(Comment, second).featured


def test_undo_restores_the_status_once_and_only_for_its_author(
    client: TestClient, db: Database, moderator: Staff
) -> None:
    other = make_staff(db, "other@courier.example", sites=["courier"])
    comment = post(client, "Rejected by mistake.")["id"]
    outcome = act(db, client, actions.reject, staff=moderator, comment_id=comment, reason="oops")
    with pytest.raises(NotFound), db.write() as session:
        actions.undo(session=session, staff=other, action_id=outcome.action_id)
    act(db, client, actions.undo, staff=moderator, action_id=outcome.action_id)
    assert [c["status"] for c in thread(client)["comments"]] == ["approved"]
    with pytest.raises(Conflict, match="undone already"), db.write() as session:
        actions.undo(session=session, staff=moderator, action_id=outcome.action_id)


def test_undo_expires(client: TestClient, db: Database, moderator: Staff) -> None:
    comment = post(client, "Approved long ago.")["id"]
    outcome = act(db, client, actions.approve, staff=moderator, comment_id=comment)
    with db.write() as session:
        record = session.get(ModerationAction, outcome.action_id)
        record.created_at -= timedelta(seconds=actions.UNDO_SECONDS + 1)
    with pytest.raises(Conflict, match="seconds only"), db.write() as session:
        actions.undo(session=session, staff=moderator, action_id=outcome.action_id)


def test_a_banned_author_cannot_post_and_the_ban_is_logged(client: TestClient, db: Database, moderator: Staff) -> None:
    comment = post(client, "Troll text.", name="Troll", email="troll@example.org")["id"]
    with db.read() as session:
        author_id = session.get(Comment, comment).author_id
    act(db, client, actions.ban_author, staff=moderator, author_id=author_id, reason="Repeated abuse.")
    refused = client.post(
        "/api/v1/comments",
        json={
            "site": "courier",
            "url": STORY,
            "body": "Again.",
            "author": {"name": "Troll", "email": "troll@example.org"},
        },
    )
    assert refused.status_code == 403
    assert "Repeated abuse." in refused.json()["detail"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == 1
        log = action_log(session=session, author_id=author_id)
    assert [r.action for r in log] == ["ban"]


def test_suspension_refuses_with_its_end_and_reinstating_lifts_it(
    client: TestClient, db: Database, moderator: Staff
) -> None:
    comment = post(client, "Heated.", name="Hot", email="hot@example.org")["id"]
    with db.read() as session:
        author_id = session.get(Comment, comment).author_id
    act(db, client, actions.suspend_author, staff=moderator, author_id=author_id, days=3, message="Cool off.")
    refused = post(client, "Still heated.", name="Hot", email="hot@example.org", expect=403)
    assert "suspended until" in refused["detail"] and "Cool off." in refused["detail"]
    act(db, client, actions.restore_author, staff=moderator, author_id=author_id)
    post(client, "Calmer now.", name="Hot", email="hot@example.org")


def test_always_premoderated_author_is_held(client: TestClient, db: Database, moderator: Staff) -> None:
    comment = post(client, "First.", name="Watch", email="watch@example.org")["id"]
    with db.read() as session:
        author_id = session.get(Comment, comment).author_id
    act(db, client, actions.set_premoderation, staff=moderator, author_id=author_id, on=True)
    held = post(client, "Second.", name="Watch", email="watch@example.org")
    assert held["status"] == "pending"
    assert held["comment"]["moderation_reasons"][0] == "author:premoderated"


def test_ban_on_all_sites_reaches_the_same_email_elsewhere(client: TestClient, db: Database) -> None:
    create_test_site(db, "courier")
    create_test_site(db, "herald")
    admin = make_staff(db, "admin@example.org", StaffRole.ADMIN)
    limited = make_staff(db, "mod@courier.example", sites=["courier"])
    comment = post(client, "Spam.", name="Spammer", email="spam@example.org")["id"]
    post(client, "Spam elsewhere.", site="herald", name="Spammer", email="spam@example.org")
    with db.read() as session:
        author_id = session.get(Comment, comment).author_id
    with pytest.raises(Forbidden), db.write() as session:
        actions.ban_author(session=session, staff=limited, author_id=author_id, all_sites=True)
    act(db, client, actions.ban_author, staff=admin, author_id=author_id, all_sites=True, reason="Spam")
    with db.read() as session:
        statuses = set(session.scalars(select(Author.status).where(Author.email == "spam@example.org")))
    assert statuses == {AuthorStatus.BANNED}
    post(client, "More spam.", site="herald", name="Spammer", email="spam@example.org", expect=403)


def test_a_moderator_of_one_site_cannot_touch_another(client: TestClient, db: Database) -> None:
    create_test_site(db, "courier")
    create_test_site(db, "herald")
    limited = make_staff(db, "mod@courier.example", sites=["courier"])
    foreign = post(client, "Herald comment.", site="herald")["id"]
    with db.read() as session:
        author_id = session.get(Comment, foreign).author_id
        story_id = session.get(Comment, foreign).story_id
    attempts = [
        lambda s: actions.approve(session=s, staff=limited, comment_id=foreign),
        lambda s: actions.reject(session=s, staff=limited, comment_id=foreign),
        lambda s: actions.set_featured(session=s, staff=limited, comment_id=foreign, featured=True),
        lambda s: actions.dismiss_reports(session=s, staff=limited, comment_id=foreign),
        lambda s: actions.claim(session=s, staff=limited, comment_id=foreign),
        lambda s: actions.ban_author(session=s, staff=limited, author_id=author_id),
        lambda s: actions.suspend_author(session=s, staff=limited, author_id=author_id, days=1),
        lambda s: actions.set_premoderation(session=s, staff=limited, author_id=author_id, on=True),
        lambda s: actions.update_story_moderation(session=s, staff=limited, story_id=story_id, closed=True),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound), db.write() as session:
            attempt(session)
    assert audit_rows(db) == 0
    with db.read() as session:
        assert session.get(Comment, foreign).status == CommentStatus.APPROVED
    staff_view = QueueFilter(site_ids=())
    with db.read() as session:
        assert list_queue(session=session, queue=Queue.UNMODERATED, where=staff_view).items == []


def test_story_settings_close_and_premoderate(client: TestClient, db: Database, moderator: Staff) -> None:
    first = post(client, "Open for now.")
    with db.read() as session:
        story_id = session.get(Comment, first["id"]).story_id
    act(db, client, actions.update_story_moderation, staff=moderator, story_id=story_id, mode="pre")
    assert post(client, "Now held.")["status"] == "pending"
    act(db, client, actions.update_story_moderation, staff=moderator, story_id=story_id, closed=True)
    assert post(client, "Closed.", expect=409)["title"] == "Story closed for comments"


def test_filters_by_story_author_reason_and_text(client: TestClient, db: Database, moderator: Staff) -> None:
    create_test_site(db, "herald", moderation_mode="pre", suspect_words=["idiot"])
    other_story = f"{ORIGIN}/politics/other"
    a = post(client, "You idiot.", site="herald")["id"]
    b = post(client, "A calm remark about 100% of things_here.", site="herald", url=other_story, name="Calm")["id"]
    assert queue_ids(db, Queue.PENDING) == [a, b]
    assert queue_ids(db, Queue.PENDING, reason="word:suspect") == [a]
    assert queue_ids(db, Queue.PENDING, text="100%") == [b]
    assert queue_ids(db, Queue.PENDING, text="things_") == [b]
    with db.read() as session:
        story_b = session.get(Comment, b).story_id
        author_a = session.get(Comment, a).author_id
    assert queue_ids(db, Queue.PENDING, story_id=story_b) == [b]
    assert queue_ids(db, Queue.PENDING, author_id=author_a) == [a]
