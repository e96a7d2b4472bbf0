"""Every action through the dashboard does what it says, shows on the public side, and leaves one audit row."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from starlette.testclient import TestClient

from parlour.clock import utcnow
from parlour.db.tables import ModerationAction, StaffUser
from tests.conftest import STORY, post, thread
from tests.dashboard.conftest import (
    BASE,
    HERALD_STORY,
    Browser,
    World,
    audit,
    audit_count,
    author_of,
    comment,
    held,
    published,
    snapshot,
)


def one_new_row(world: World, before: int, **expected: Any) -> ModerationAction:
    rows = audit(world.db)
    assert len(rows) == before + 1, [(r.action, r.comment_id) for r in rows]
    row = rows[-1]
    for name, value in expected.items():
        assert getattr(row, name) == value, (name, getattr(row, name), value)
    assert abs((utcnow() - row.created_at).total_seconds()) < 30
    return row


def staff_id(email: str, world: World) -> int:
    with world.db.read() as session:
        found = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        assert found is not None
        return found


def herald_thread(world: World) -> list[dict[str, Any]]:
    comments: list[dict[str, Any]] = thread(world.client, HERALD_STORY, site="herald")["comments"]
    return comments


def test_approving_a_held_comment_publishes_it(world: World, hal: Browser) -> None:
    target = held(world.client)
    assert herald_thread(world) == []
    before = audit_count(world.db)
    response = hal.act(f"/admin/comments/{target}/approve", {"queue": "pending", "next": "/admin/queues/pending"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/queues/pending"
    assert [c["id"] for c in herald_thread(world)] == [target]
    one_new_row(
        world,
        before,
        action="approve",
        comment_id=target,
        staff_user_id=staff_id("hal@herald.example", world),
        status_before="pending",
        status_after="approved",
    )


def test_rejecting_a_published_comment_leaves_a_tombstone_and_keeps_replies(world: World, ann: Browser) -> None:
    parent = published(world.client, "Orcs, all of them.")
    reply = published(world.client, "That is dehumanising.", parent_id=parent)
    before = audit_count(world.db)
    response = ann.act(
        f"/admin/comments/{parent}/reject", {"reason_choice": "Dehumanising language", "reason": "group slur"}
    )
    assert response.status_code == 303
    shown = thread(world.client)["comments"]
    assert [c["id"] for c in shown] == [parent]
    assert shown[0]["status"] == "removed" and shown[0]["html"] == "" and "Orcs" not in str(shown[0])
    assert [r["id"] for r in shown[0]["replies"]] == [reply]
    row = one_new_row(
        world, before, action="reject", comment_id=parent, status_before="approved", status_after="removed"
    )
    assert row.reason == "Dehumanising language: group slur"
    assert comment(world.db, parent).body == "Orcs, all of them."  # kept for moderators and the audit


def test_rejecting_a_held_comment_keeps_it_unseen(world: World, hal: Browser) -> None:
    target = held(world.client)
    before = audit_count(world.db)
    assert hal.act(f"/admin/comments/{target}/reject", {"reason": "spam link"}).status_code == 303
    assert herald_thread(world) == []
    one_new_row(world, before, action="reject", status_before="pending", status_after="rejected", reason="spam link")


def test_an_unknown_reject_reason_is_refused(world: World, ann: Browser) -> None:
    target = published(world.client)
    before = snapshot(world.db)
    assert ann.act(f"/admin/comments/{target}/reject", {"reason_choice": "Because"}).status_code == 422
    assert snapshot(world.db) == before


def test_feature_and_unfeature(world: World, ann: Browser) -> None:
    target = published(world.client, "Worth reading.")
    before = audit_count(world.db)
    assert ann.act(f"/admin/comments/{target}/feature", {"on": "1"}).status_code == 303
    assert comment(world.db, target).featured
    assert thread(world.client)["comments"][0]["featured"] is True
    row = one_new_row(world, before, action="feature", comment_id=target)
    assert row.details == {"featured_before": False, "featured_after": True}
    assert ann.act(f"/admin/comments/{target}/feature", {"on": "0"}).status_code == 303
    assert not comment(world.db, target).featured
    one_new_row(world, before + 1, action="unfeature", comment_id=target)


def test_a_held_comment_cannot_be_featured(world: World, hal: Browser) -> None:
    target = held(world.client)
    before = snapshot(world.db)
    assert hal.act(f"/admin/comments/{target}/feature", {"on": "1"}).status_code == 409
    assert snapshot(world.db) == before


def test_dismissing_reports_keeps_the_comment_and_empties_the_reported_queue(world: World, ann: Browser) -> None:
    target = published(world.client, "Unpopular but fair.")
    for reason in ("spam", "abuse"):
        world.client.post(f"/api/v1/comments/{target}/reports", json={"reason": reason})
    assert f'id="item-{target}"' in ann.get("/admin/queues/reported").text
    before = audit_count(world.db)
    response = ann.act(f"/admin/comments/{target}/dismiss-reports", {"queue": "reported"}, htmx=True)
    assert response.status_code == 200
    assert f'<li id="item-{target}" hx-swap-oob="delete">' in response.text
    assert f'id="item-{target}"' not in ann.get("/admin/queues/reported").text
    stored = comment(world.db, target)
    assert stored.status.value == "approved" and stored.open_reports == 0
    one_new_row(world, before, action="dismiss-reports", status_before="approved", status_after="approved")


def test_banning_an_author_on_one_site(world: World, ann: Browser) -> None:
    target = published(world.client, "Trolling.", name="Troll")
    author = author_of(world.db, target).id
    before = audit_count(world.db)
    response = ann.act(f"/admin/authors/{author}/ban", {"reason": "Repeated abuse"})
    assert response.status_code == 303 and response.headers["location"] == f"/admin/authors/{author}"
    assert author_of(world.db, target).status.value == "banned"
    refused = post(world.client, "Trying again.", name="Troll", expect=403)
    assert "Repeated abuse" in refused["detail"]
    row = one_new_row(world, before, action="ban", author_id=author, comment_id=None, reason="Repeated abuse")
    assert row.details["before"]["status"] == "active" and row.details["all_sites"] is False


def test_a_ban_can_reject_the_authors_comments_awaiting_review_and_undo_takes_both_back(
    world: World, hal: Browser
) -> None:
    first = held(world.client, "Spam one.", name="Spammer")
    second = held(world.client, "Spam two.", name="Spammer")
    other = held(world.client, "Someone else's.", name="Reader")
    author = author_of(world.db, first).id
    card = hal.get("/admin/queues/pending").text
    assert "Also reject their 2 comment(s) awaiting review" in card
    response = hal.act(
        f"/admin/authors/{author}/ban",
        {"reason": "Spam", "reject_pending": "on", "comment": str(first), "queue": "pending"},
        htmx=True,
    )
    assert response.status_code == 200, response.text
    assert "2 comment(s) awaiting review rejected" in response.text
    assert [comment(world.db, i).status.value for i in (first, second, other)] == ["rejected", "rejected", "pending"]
    rejections = audit(world.db, action="reject")
    assert sorted(r.comment_id for r in rejections) == [first, second]
    assert all(r.reason == "Author banned: Spam" for r in rejections)
    undo_ids = re.findall(r'name="action" value="(\d+)"', response.text)
    assert len(undo_ids) == 3
    assert hal.act("/admin/undo", {"action": undo_ids}, htmx=True).status_code == 200
    assert author_of(world.db, first).status.value == "active"
    assert [comment(world.db, i).status.value for i in (first, second)] == ["pending", "pending"]


def test_a_ban_rejecting_pending_leaves_a_claimed_comment_and_refuses_a_stale_page(world: World, hal: Browser) -> None:
    una = world.signed_in("una@example.org")
    mine, theirs = held(world.client, "One.", name="Spammer"), held(world.client, "Two.", name="Spammer")
    author = author_of(world.db, mine).id
    stale = re.search(rf'name="seen-{mine}" value="(\d+)"', una.get("/admin/queues/pending").text)
    assert stale
    assert hal.act(f"/admin/comments/{theirs}/claim", htmx=True).status_code == 200
    # Hal approves Una's card's comment and undoes it: pending again, but not the page Una saw.
    approved = hal.act(f"/admin/comments/{mine}/approve", htmx=True)
    undo_id = re.findall(r'name="action" value="(\d+)"', approved.text)
    assert hal.act("/admin/undo", {"action": undo_id}, htmx=True).status_code == 200
    form = {"reject_pending": "on", "comment": str(mine), "seen": stale.group(1), "queue": "pending"}
    refused = una.act(f"/admin/authors/{author}/ban", form, htmx=True)
    assert refused.status_code == 409
    assert f"Hal undid a decision on comment {mine}" in refused.json()["detail"]
    assert author_of(world.db, mine).status.value == "active"
    fresh = re.search(rf'name="seen-{mine}" value="(\d+)"', una.get("/admin/queues/pending").text)
    assert fresh
    done = una.act(f"/admin/authors/{author}/ban", form | {"seen": fresh.group(1)}, htmx=True)
    assert done.status_code == 200 and "1 comment(s) awaiting review rejected" in done.text
    assert [comment(world.db, i).status.value for i in (mine, theirs)] == ["rejected", "pending"]


def test_undoing_a_ban_on_all_sites_lifts_every_ban_and_rejection(world: World, admin: Browser) -> None:
    here = held(world.client, "Here.", name="Troll", email="troll@example.net")
    there = published(world.client, "There.", name="Troll", email="troll@example.net")
    author = author_of(world.db, here).id
    form = {"all_sites": "on", "reject_pending": "on", "comment": str(here), "queue": "pending"}
    banned = admin.act(f"/admin/authors/{author}/ban", form, htmx=True)
    assert banned.status_code == 200, banned.text
    assert {author_of(world.db, i).status.value for i in (here, there)} == {"banned"}
    undo_ids = re.findall(r'name="action" value="(\d+)"', banned.text)
    assert len(undo_ids) == 3  # two bans and one rejection
    assert admin.act("/admin/undo", {"action": undo_ids}, htmx=True).status_code == 200
    assert {author_of(world.db, i).status.value for i in (here, there)} == {"active"}
    assert comment(world.db, here).status.value == "pending"


def test_a_ban_leaves_comments_awaiting_review_unless_asked(world: World, hal: Browser) -> None:
    waiting = held(world.client, "Still waiting.", name="Spammer")
    author = author_of(world.db, waiting).id
    assert hal.act(f"/admin/authors/{author}/ban", {"reason": "Spam"}).status_code == 303
    assert comment(world.db, waiting).status.value == "pending"


def test_banning_on_all_sites_reaches_the_same_email_elsewhere(world: World, admin: Browser) -> None:
    here = published(world.client, "Here.", name="Troll", email="troll@example.net")
    there = held(world.client, "There.", name="Troll", email="troll@example.net")
    bystander = published(world.client, "Not me.", name="Reader", email="reader@example.net")
    author = author_of(world.db, here).id
    before = audit_count(world.db)
    assert 'name="all_sites"' in admin.get(f"/admin/authors/{author}").text
    assert admin.act(f"/admin/authors/{author}/ban", {"reason": "troll", "all_sites": "on"}).status_code == 303
    assert author_of(world.db, here).status.value == "banned"
    assert author_of(world.db, there).status.value == "banned"
    assert author_of(world.db, bystander).status.value == "active"
    rows = audit(world.db)[before:]
    # One row per author banned, each in its own site's log, so each site's moderators see it.
    assert sorted((r.action, r.author_id, r.details["all_sites"]) for r in rows) == sorted(
        [("ban", author, True), ("ban", author_of(world.db, there).id, True)]
    )


def test_suspending_for_some_days_with_a_message(world: World, ann: Browser) -> None:
    target = published(world.client, "Heated.", name="Hothead")
    author = author_of(world.db, target).id
    before = audit_count(world.db)
    response = ann.act(f"/admin/authors/{author}/suspend", {"days": "3", "message": "Take a breath."})
    assert response.status_code == 303
    stored = author_of(world.db, target)
    assert stored.status.value == "suspended" and stored.status_message == "Take a breath."
    assert stored.suspended_until is not None
    assert timedelta(days=3) - timedelta(minutes=1) < stored.suspended_until - utcnow() <= timedelta(days=3)
    refused = post(world.client, "Still heated.", name="Hothead", expect=403)
    assert "Take a breath." in refused["detail"]
    row = one_new_row(world, before, action="suspend", author_id=author, reason="Take a breath.")
    assert row.details["days"] == 3


def test_a_suspension_needs_a_sensible_number_of_days(world: World, ann: Browser) -> None:
    author = author_of(world.db, published(world.client)).id
    before = snapshot(world.db)
    for days in ("0", "366", "-1", "three", "", "1e3"):
        assert ann.act(f"/admin/authors/{author}/suspend", {"days": days}).status_code == 422, days
    assert snapshot(world.db) == before


def test_always_premoderating_an_author_holds_their_next_comments(world: World, ann: Browser) -> None:
    target = published(world.client, "First.", name="Edgy")
    author = author_of(world.db, target).id
    before = audit_count(world.db)
    assert ann.act(f"/admin/authors/{author}/premoderate", {"on": "1"}).status_code == 303
    assert author_of(world.db, target).always_premoderate
    later = post(world.client, "Second.", name="Edgy")
    assert later["status"] == "pending"
    one_new_row(world, before, action="premoderate", author_id=author)
    assert ann.act(f"/admin/authors/{author}/premoderate", {"on": "0"}).status_code == 303
    assert not author_of(world.db, target).always_premoderate
    one_new_row(world, before + 1, action="unpremoderate", author_id=author)


def test_reinstating_lifts_a_ban(world: World, ann: Browser) -> None:
    target = published(world.client, "Banned, then forgiven.", name="Forgiven")
    author = author_of(world.db, target).id
    ann.act(f"/admin/authors/{author}/ban", {"reason": "mistake"})
    before = audit_count(world.db)
    assert "Reinstate Forgiven" in ann.get(f"/admin/authors/{author}").text
    assert ann.act(f"/admin/authors/{author}/reinstate").status_code == 303
    assert author_of(world.db, target).status.value == "active"
    post(world.client, "Back again.", name="Forgiven")
    row = one_new_row(world, before, action="reinstate", author_id=author)
    assert row.details["before"]["status"] == "banned"


def test_story_settings_close_and_premoderate_a_story(world: World, ann: Browser) -> None:
    story = comment(world.db, published(world.client)).story_id
    before = audit_count(world.db)
    response = ann.act(f"/admin/stories/{story}/settings", {"comments": "open", "mode": "pre", "slow_mode_seconds": ""})
    assert response.status_code == 303
    assert post(world.client, "Now held.")["status"] == "pending"
    row = one_new_row(world, before, action="story-settings", story_id=story)
    assert row.details["before"]["mode"] is None and row.details["after"]["mode"] == "pre"
    assert ann.act(f"/admin/stories/{story}/settings", {"comments": "closed", "mode": "site"}).status_code == 303
    closed = world.client.post(
        "/api/v1/comments", json={"site": "courier", "url": STORY, "body": "Too late.", "author": {"name": "Late"}}
    )
    assert closed.status_code == 409
    one_new_row(world, before + 1, action="story-settings", story_id=story)
    page = ann.get(f"/admin/stories/{story}")
    assert 'value="closed" checked' in page.text


def test_story_settings_refuse_bad_values(world: World, ann: Browser) -> None:
    story = comment(world.db, published(world.client)).story_id
    before = snapshot(world.db)
    for data in ({"mode": "sometimes"}, {"slow_mode_seconds": "-5"}, {"slow_mode_seconds": "86401"}):
        assert ann.act(f"/admin/stories/{story}/settings", data).status_code == 422, data
    assert snapshot(world.db) == before


def test_bulk_approve_and_reject(world: World, hal: Browser) -> None:
    first, second, third = (held(world.client, f"Held {n}.") for n in range(3))
    before = audit_count(world.db)
    response = hal.act(
        "/admin/bulk", {"id": [str(first), str(second)], "action": "approve", "queue": "pending"}, htmx=True
    )
    assert response.status_code == 200
    assert "Approved 2" in response.text
    assert sorted(c["id"] for c in herald_thread(world)) == [first, second]
    rows = audit(world.db)[before:]
    assert sorted((r.action, r.comment_id) for r in rows) == [("approve", first), ("approve", second)]
    # The Undo in the toast takes back both rows at once.
    undo_ids = [part.split('"')[0] for part in response.text.split('name="action" value="')[1:]]
    assert sorted(int(i) for i in undo_ids) == sorted(r.id for r in rows)
    assert hal.act("/admin/bulk", {"id": str(third), "action": "reject", "reason_choice": "Spam"}).status_code == 303
    assert comment(world.db, third).status.value == "rejected"
    assert len(audit(world.db)) == before + 3


def test_bulk_refuses_bad_selections(world: World, hal: Browser) -> None:
    target = held(world.client)
    before = snapshot(world.db)
    for data in (
        {"action": "approve"},
        {"id": str(target), "action": "delete"},
        {"id": "abc", "action": "approve"},
        {"id": [str(i) for i in range(1, 102)], "action": "approve"},
        {"id": str(target), "action": "reject", "reason_choice": "Nope"},
    ):
        assert hal.act("/admin/bulk", data).status_code == 422, data
    assert snapshot(world.db) == before


def test_undo_within_the_window_restores_and_logs(world: World, ann: Browser) -> None:
    parent = published(world.client, "Rejected by mistake.")
    published(world.client, "A reply keeps the tombstone in the thread.", parent_id=parent)
    response = ann.act(f"/admin/comments/{parent}/reject", {"reason": "oops"}, htmx=True)
    action_id = int(response.text.split('name="action" value="')[1].split('"')[0])
    assert thread(world.client)["comments"][0]["status"] == "removed"
    before = audit_count(world.db)
    undone = ann.act("/admin/undo", {"action": str(action_id)}, htmx=True)
    assert undone.status_code == 200 and "Undone" in undone.text
    assert thread(world.client)["comments"][0]["status"] == "approved"
    row = one_new_row(world, before, action="undo", comment_id=parent, status_before="removed", status_after="approved")
    assert row.details == {"undoes": action_id}
    # Undone once is undone: a second undo changes nothing.
    again = snapshot(world.db)
    assert ann.act("/admin/undo", {"action": str(action_id)}).status_code == 409
    assert snapshot(world.db) == again


def test_undo_after_the_window_is_refused(world: World, ann: Browser) -> None:
    target = published(world.client, "Featured long ago.")
    response = ann.act(f"/admin/comments/{target}/feature", {"on": "1"}, htmx=True)
    action_id = int(response.text.split('name="action" value="')[1].split('"')[0])
    with world.db.write() as session:
        session.execute(
            update(ModerationAction)
            .where(ModerationAction.id == action_id)
            .values(created_at=utcnow() - timedelta(seconds=60))
        )
    before = snapshot(world.db)
    refused = ann.act("/admin/undo", {"action": str(action_id)})
    assert refused.status_code == 409 and "15 seconds" in refused.text
    assert snapshot(world.db) == before
    assert comment(world.db, target).featured


def test_undo_of_an_author_action_restores_the_author(world: World, ann: Browser) -> None:
    target = published(world.client, "Suspended by mistake.", name="Innocent")
    author = author_of(world.db, target).id
    ann.act(f"/admin/authors/{author}/suspend", {"days": "7", "message": "no"})
    action_id = audit(world.db)[-1].id
    assert ann.act("/admin/undo", {"action": str(action_id)}).status_code == 303
    restored = author_of(world.db, target)
    assert restored.status.value == "active" and restored.suspended_until is None
    assert audit(world.db)[-1].action == "undo"


def test_htmx_actions_answer_with_the_card_counts_and_an_undo_toast(world: World, ann: Browser) -> None:
    target = published(world.client, "Reported, then featured.")
    world.client.post(f"/api/v1/comments/{target}/reports", json={"reason": "spam"})
    response = ann.act(
        f"/admin/comments/{target}/feature", {"on": "1", "queue": "reported", "site": "courier"}, htmx=True
    )
    assert response.status_code == 200
    # Still reported, so the card stays, refreshed and featured; the counts and the toast come out of band.
    assert f'id="item-{target}" data-id="{target}"' in response.text and "card--featured" in response.text
    assert 'id="queue-nav"' in response.text and 'hx-swap-oob="true"' in response.text
    assert "Featured" in response.text and 'action="/admin/undo"' in response.text


def test_a_bad_queue_or_site_in_an_htmx_action_is_refused_before_anything_changes(world: World, ann: Browser) -> None:
    target = published(world.client, "Nothing should happen to me.")
    before = snapshot(world.db)
    assert ann.act(f"/admin/comments/{target}/approve", {"queue": "nonsense"}, htmx=True).status_code == 422
    assert ann.act(f"/admin/comments/{target}/approve", {"site": "herald"}, htmx=True).status_code == 404
    assert snapshot(world.db) == before


def test_undoing_a_dismissal_puts_the_reports_back(world: World, ann: Browser) -> None:
    target = published(world.client, "Reported by two readers, dismissed by mistake.")
    for n, reason in enumerate(("spam", "abuse")):
        reader = TestClient(world.app, base_url=BASE, client=(f"198.51.100.{n + 1}", 40000))
        world.clients.append(reader)
        assert reader.post(f"/api/v1/comments/{target}/reports", json={"reason": reason}).status_code == 201
    ann.act(f"/admin/comments/{target}/dismiss-reports")
    assert comment(world.db, target).open_reports == 0
    assert f'id="item-{target}"' not in ann.get("/admin/queues/reported").text
    action_id = audit(world.db)[-1].id
    assert ann.act("/admin/undo", {"action": str(action_id)}).status_code == 303
    assert comment(world.db, target).open_reports == 2
    queue = ann.get("/admin/queues/reported").text
    assert f'id="item-{target}"' in queue and "1 × abuse" in queue and "1 × spam" in queue


def test_undoing_a_rejection_of_a_reported_comment_reopens_its_reports(world: World, ann: Browser) -> None:
    target = published(world.client, "Reported, rejected, undone.")
    world.client.post(f"/api/v1/comments/{target}/reports", json={"reason": "abuse"})
    response = ann.act(f"/admin/comments/{target}/reject", {"reason": "abuse"}, htmx=True)
    action_id = response.text.split('name="action" value="')[1].split('"')[0]
    ann.act("/admin/undo", {"action": action_id})
    stored = comment(world.db, target)
    assert stored.status.value == "approved" and stored.open_reports == 1


def test_numbers_in_forms_are_plain_ascii_digits(world: World, ann: Browser) -> None:
    target = published(world.client)
    author = author_of(world.db, target).id
    before = snapshot(world.db)
    for value in ("²", "٣", "1_0", " ", "+1", "0", "99999999999999999999999"):
        assert ann.act("/admin/bulk", {"id": value, "action": "approve"}).status_code == 422, value
        assert ann.act(f"/admin/authors/{author}/suspend", {"days": value}).status_code == 422, value
        if value.strip():  # a blank comment field means the action came from the author page
            data = {"on": "1", "comment": value}
            assert ann.act(f"/admin/authors/{author}/premoderate", data).status_code == 422, value
        assert ann.act("/admin/undo", {"action": value}).status_code == 422, value
    assert snapshot(world.db) == before
