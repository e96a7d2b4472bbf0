"""Who sees and does what: a moderator of one site learns nothing of another; admins reach everything."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from parlour.db.tables import StaffRole, StaffUser
from tests.conftest import post
from tests.dashboard.conftest import Browser, World, author_of, comment, held, snapshot


@pytest.fixture
def herald_items(world: World, admin: Browser) -> dict[str, int]:
    """A held herald comment with a reply, its author and story, and one audit row on herald."""
    target = held(world.client, "Herald's secret budget leak.")
    approved = held(world.client, "Herald's approved one.")
    assert admin.act(f"/admin/comments/{approved}/approve").status_code == 303
    return {
        "comment": target,
        "approved": approved,
        "author": author_of(world.db, target).id,
        "story": comment(world.db, target).story_id,
    }


def test_a_moderator_of_one_site_cannot_see_another_sites_pages(
    world: World, ann: Browser, herald_items: dict[str, int]
) -> None:
    c, author, story = herald_items["comment"], herald_items["author"], herald_items["story"]
    for path in (
        f"/admin/comments/{c}",
        f"/admin/comments/{c}/card",
        f"/admin/comments/{c}/card?queue=pending",
        f"/admin/authors/{author}",
        f"/admin/stories/{story}",
        "/admin/queues/pending?site=herald",
        "/admin/counts?site=herald",
        "/admin/surges?site=herald",
        "/admin/audit?site=herald",
        "/admin/audit.csv?site=herald",
        "/admin/stats?site=herald",
    ):
        response = ann.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "secret budget" not in response.text


def test_a_moderators_lists_hold_only_their_sites(world: World, ann: Browser, herald_items: dict[str, int]) -> None:
    mine = post(world.client, "Courier's own comment.")["id"]
    for queue in ("pending", "approved", "unmoderated", "rejected"):
        page = ann.get(f"/admin/queues/{queue}")
        assert page.status_code == 200
        assert "Herald's" not in page.text, queue
    assert f'id="item-{mine}"' in ann.get("/admin/queues/unmoderated").text
    nav = ann.get("/admin/counts").text
    assert '<option value="herald"' not in ann.get("/admin/queues/pending").text
    assert "herald" not in nav
    audit = ann.get("/admin/audit")
    assert f"comment {herald_items['approved']}" not in audit.text
    by_id = ann.get(f"/admin/audit?comment={herald_items['approved']}")
    assert by_id.status_code == 200 and "No actions yet." in by_id.text
    by_author = ann.get(f"/admin/audit.csv?author={herald_items['author']}")
    assert by_author.text.count("\r\n") == 1  # the header only
    csv = ann.get("/admin/audit.csv").text
    assert "herald" not in csv
    stats = ann.get("/admin/stats")
    assert stats.status_code == 200 and "Herald" not in stats.text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/comments/{comment}/approve", {}),
        ("/admin/comments/{comment}/reject", {"reason": "x"}),
        ("/admin/comments/{approved}/feature", {"on": "1"}),
        ("/admin/comments/{approved}/dismiss-reports", {}),
        ("/admin/comments/{comment}/claim", {}),
        ("/admin/bulk", {"id": "{comment}", "action": "approve"}),
        ("/admin/authors/{author}/ban", {"reason": "x"}),
        ("/admin/authors/{author}/ban", {"reason": "x", "all_sites": "on"}),
        ("/admin/authors/{author}/suspend", {"days": "3"}),
        ("/admin/authors/{author}/reinstate", {}),
        ("/admin/authors/{author}/premoderate", {"on": "1"}),
        ("/admin/stories/{story}/settings", {"comments": "closed", "mode": "post"}),
    ],
)
def test_a_moderator_of_one_site_cannot_act_on_another(
    world: World, ann: Browser, herald_items: dict[str, int], path: str, data: dict[str, str]
) -> None:
    before = snapshot(world.db)
    target = path.format(**herald_items)
    body = {k: v.format(**herald_items) for k, v in data.items()}
    for htmx in (False, True):
        response = ann.act(target, body, htmx=htmx)
        assert response.status_code in {403, 404}, (target, response.status_code, response.text)
        assert "secret budget" not in response.text
    assert snapshot(world.db) == before


def test_a_bulk_action_reaching_into_another_site_does_nothing_at_all(
    world: World, ann: Browser, herald_items: dict[str, int]
) -> None:
    mine = post(world.client, "Courier's comment in the same bulk.")["id"]
    before = snapshot(world.db)
    response = ann.act("/admin/bulk", {"id": [str(mine), str(herald_items["comment"])], "action": "reject"})
    assert response.status_code == 404
    assert snapshot(world.db) == before


def test_a_moderator_cannot_undo_someone_elses_action(world: World, ann: Browser) -> None:
    bob = world.signed_in("bob@courier.example")
    target = post(world.client, "Bob features this.")["id"]
    response = bob.act(f"/admin/comments/{target}/feature", {"on": "1"}, htmx=True)
    action_id = response.text.split('name="action" value="')[1].split('"')[0]
    before = snapshot(world.db)
    assert ann.act("/admin/undo", {"action": action_id}).status_code == 404
    assert snapshot(world.db) == before


def test_unknown_items_are_not_found(world: World, ann: Browser) -> None:
    for path in ("/admin/comments/999999", "/admin/authors/999999", "/admin/stories/999999"):
        assert ann.get(path).status_code == 404
    assert ann.act("/admin/comments/999999/approve").status_code == 404
    assert ann.get("/admin/queues/nonsense").status_code == 422
    assert ann.get("/admin/queues/pending?site=nowhere").status_code == 404
    huge = "9" * 25
    for path in (f"/admin/comments/{huge}", f"/admin/authors/{huge}", f"/admin/stories/{huge}"):
        assert ann.get(path).status_code in {404, 422}, path
    assert ann.act(f"/admin/comments/{huge}/approve").status_code in {404, 422}


def test_staff_with_a_badge_only_cannot_use_a_session_either(world: World) -> None:
    # Even holding a session (say, one made before the role changed), a badge-only member gets nowhere.
    una = world.signed_in("una@example.org")
    with world.db.write() as session:
        session.execute(update(StaffUser).where(StaffUser.email == "una@example.org").values(role=StaffRole.STAFF))
    target = post(world.client, "Una was demoted.")["id"]
    before = snapshot(world.db)
    assert una.get("/admin/queues/pending").status_code == 403
    assert una.get(f"/admin/comments/{target}").status_code == 403
    assert una.act(f"/admin/comments/{target}/approve").status_code == 403
    assert snapshot(world.db) == before


def test_an_admin_reaches_every_site(world: World, admin: Browser, herald_items: dict[str, int]) -> None:
    mine = post(world.client, "Courier's comment for the admin.")["id"]
    pending = admin.get("/admin/queues/pending").text
    assert f'id="item-{herald_items["comment"]}"' in pending
    assert f'id="item-{mine}"' in admin.get("/admin/queues/unmoderated").text
    for path in (
        f"/admin/comments/{herald_items['comment']}",
        f"/admin/authors/{herald_items['author']}",
        f"/admin/stories/{herald_items['story']}",
        "/admin/stats?site=herald",
        "/admin/audit?site=herald",
        "/admin/webhooks?site=herald",
    ):
        assert admin.get(path).status_code == 200, path
    assert admin.act(f"/admin/comments/{herald_items['comment']}/reject", {"reason": "leak"}).status_code == 303
    assert comment(world.db, herald_items["comment"]).status.value == "rejected"


def test_a_moderator_of_every_site_reaches_both(world: World, herald_items: dict[str, int]) -> None:
    una = world.signed_in("una@example.org")
    assert f'id="item-{herald_items["comment"]}"' in una.get("/admin/queues/pending").text
    assert una.act(f"/admin/comments/{herald_items['comment']}/approve").status_code == 303


def test_only_admins_see_webhook_deliveries(world: World, admin: Browser, ann: Browser) -> None:
    una = world.signed_in("una@example.org")
    assert 'href="/admin/webhooks"' in admin.get("/admin/queues/pending").text
    for moderator in (ann, una):
        assert 'href="/admin/webhooks"' not in moderator.get("/admin/queues/pending").text
        assert moderator.get("/admin/webhooks").status_code == 403
    page = admin.get("/admin/webhooks?site=courier")
    assert page.status_code == 200 and "Deliveries of Courier" in page.text


def test_a_limited_moderator_cannot_ban_across_sites(world: World, ann: Browser) -> None:
    target = post(world.client, "Ban me everywhere.", email="troll@example.net")["id"]
    author = author_of(world.db, target).id
    assert 'name="all_sites"' not in ann.get(f"/admin/authors/{author}").text
    before = snapshot(world.db)
    assert ann.act(f"/admin/authors/{author}/ban", {"all_sites": "on", "reason": "troll"}).status_code == 403
    assert snapshot(world.db) == before
