"""Claims: the moderator who opened an item holds it for a while; a second one sees who and cannot decide it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from parlour.clock import utcnow
from parlour.db.tables import Comment
from tests.dashboard.conftest import Browser, World, audit_count, comment, held, snapshot


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
