"""Claims and stale pages: the moderator who opened an item holds it for a while, a second one sees who and cannot
decide it; a decision made from a page drawn before someone else's decision is refused and names it."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from parlour.clock import utcnow
from parlour.db.tables import Comment
from tests.dashboard.conftest import Browser, World, audit, audit_count, comment, held, snapshot


def seen_on(page: str, comment_id: int) -> str:
    """The state of a comment a page's card was drawn with, as its forms send it back."""
    match = re.search(rf'name="seen-{comment_id}" value="(\d+)"', page)
    assert match, f"no card for comment {comment_id} on the page"
    return match.group(1)


def test_a_claimed_item_shows_who_holds_it_and_cannot_be_decided_by_another(world: World, hal: Browser) -> None:
    una = world.signed_in("una@example.org")
    target = held(world.client, "Contested.")
    before = audit_count(world.db)
    mine = hal.act(f"/admin/comments/{target}/claim", htmx=True)
    assert mine.status_code == 200 and "You are working on this" in mine.text
    assert audit_count(world.db) == before  # a claim is not a decision: it leaves no audit row
    # The second moderator sees the claim in the queue, on the card and when trying to claim it.
    assert "Hal is working on this" in una.get("/admin/queues/pending").text
    assert "Hal is working on this" in una.get(f"/admin/comments/{target}").text
    theirs = una.act(f"/admin/comments/{target}/claim", htmx=True)
    assert theirs.status_code == 200 and "Hal is working on this" in theirs.text
    snap = snapshot(world.db)
    for path, data in (
        (f"/admin/comments/{target}/approve", {}),
        (f"/admin/comments/{target}/reject", {"reason": "no"}),
        ("/admin/bulk", {"id": str(target), "action": "approve"}),
    ):
        refused = una.act(path, data, htmx=True)
        assert refused.status_code == 409, (path, refused.text)
        assert "Hal is working on comment" in refused.json()["detail"]
    assert snapshot(world.db) == snap
    # The holder decides; the claim ends with the decision.
    assert hal.act(f"/admin/comments/{target}/approve").status_code == 303
    stored = comment(world.db, target)
    assert stored.status.value == "approved" and stored.claimed_by is None


def test_a_claim_lapses(world: World, hal: Browser) -> None:
    una = world.signed_in("una@example.org")
    target = held(world.client, "Left open by a moderator who went home.")
    hal.act(f"/admin/comments/{target}/claim", htmx=True)
    with world.db.write() as session:
        session.execute(
            update(Comment).where(Comment.id == target).values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert "Hal is working on this" not in una.get("/admin/queues/pending").text
    assert una.act(f"/admin/comments/{target}/approve").status_code == 303


def test_a_bulk_action_touching_a_claimed_item_does_nothing(world: World, hal: Browser) -> None:
    una = world.signed_in("una@example.org")
    free, taken = held(world.client, "Free."), held(world.client, "Taken.")
    hal.act(f"/admin/comments/{taken}/claim", htmx=True)
    before = snapshot(world.db)
    assert una.act("/admin/bulk", {"id": [str(free), str(taken)], "action": "reject"}).status_code == 409
    assert snapshot(world.db) == before


def test_claiming_another_sites_item_is_not_found(world: World, ann: Browser) -> None:
    target = held(world.client, "Herald's.")
    before = snapshot(world.db)
    assert ann.act(f"/admin/comments/{target}/claim", htmx=True).status_code == 404
    assert snapshot(world.db) == before


def test_a_decision_from_a_page_drawn_before_anothers_decision_is_refused(world: World, hal: Browser) -> None:
    una = world.signed_in("una@example.org")
    target = held(world.client, "Two moderators look at this at once.")
    hal_saw = seen_on(hal.get("/admin/queues/pending").text, target)
    una_saw = seen_on(una.get("/admin/queues/pending").text, target)
    assert una.act(f"/admin/comments/{target}/approve", {"seen": una_saw}, htmx=True).status_code == 200
    snap = snapshot(world.db)
    for path, data in (
        (f"/admin/comments/{target}/reject", {"seen": hal_saw, "reason": "Abuse"}),
        (f"/admin/comments/{target}/approve", {"seen": hal_saw}),
        (f"/admin/comments/{target}/feature", {"seen": hal_saw, "on": "1"}),
        ("/admin/bulk", {"id": str(target), f"seen-{target}": hal_saw, "action": "reject"}),
    ):
        refused = hal.act(path, data, htmx=True)
        assert refused.status_code == 409, (path, refused.text)
        assert f"Una approved comment {target}" in refused.json()["detail"], refused.text
    assert snapshot(world.db) == snap
    # Once the page shows the comment as it is, the moderator may still overrule it, knowingly.
    page = hal.get(f"/admin/comments/{target}").text
    now_seen = re.search(r'name="seen" value="(\d+)"', page)
    assert now_seen and now_seen.group(1) != hal_saw
    overrule = {"seen": now_seen.group(1), "reason": "Abuse"}
    assert hal.act(f"/admin/comments/{target}/reject", overrule).status_code == 303
    assert comment(world.db, target).status.value == "removed"


def test_a_repeated_submit_decides_once(world: World, hal: Browser) -> None:
    target = held(world.client, "Approve me twice.")
    saw = seen_on(hal.get("/admin/queues/pending").text, target)
    assert hal.act(f"/admin/comments/{target}/approve", {"seen": saw}).status_code == 303
    again = hal.act(f"/admin/comments/{target}/approve", {"seen": saw})
    assert again.status_code == 409
    assert "Hal approved comment" in again.json()["detail"]
    assert len(audit(world.db, comment_id=target)) == 1


def test_a_bulk_decision_with_one_stale_item_decides_none(world: World, hal: Browser) -> None:
    una = world.signed_in("una@example.org")
    fresh, decided = held(world.client, "Fresh."), held(world.client, "Decided meanwhile.")
    page = hal.get("/admin/queues/pending").text
    seen = {f"seen-{i}": seen_on(page, i) for i in (fresh, decided)}
    assert una.act(f"/admin/comments/{decided}/reject", {"reason": "Spam"}).status_code == 303
    before = snapshot(world.db)
    form = {"id": [str(fresh), str(decided)], "action": "approve"} | seen
    assert hal.act("/admin/bulk", form).status_code == 409
    assert snapshot(world.db) == before
