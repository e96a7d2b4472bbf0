"""Staff endpoints for sites and stories, authenticated by API keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Site
from tests.api.test_comments_api import assert_problem
from tests.conftest import ADMIN_KEY, ORIGIN, STORY, SiteInfo, create_test_site, post, thread

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_admin_creates_site_and_key_works(client: TestClient) -> None:
    response = client.post(
        "/api/v1/sites",
        json={"slug": "gazette", "name": "The Gazette", "allowed_origins": ["https://Gazette.example/"]},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["site"]["allowed_origins"] == ["https://gazette.example"]
    assert created["api_key"].startswith("pk_")
    key = {"Authorization": f"Bearer {created['api_key']}"}
    assert client.get("/api/v1/sites/gazette", headers=key).json()["name"] == "The Gazette"


def test_site_creation_errors(client: TestClient, site: SiteInfo) -> None:
    body = {"slug": "gazette", "name": "G", "allowed_origins": ["https://g.example"]}
    assert_problem(client.post("/api/v1/sites", json=body), 401)
    assert_problem(client.post("/api/v1/sites", json=body, headers={"Authorization": "Bearer wrong"}), 401)
    assert_problem(client.post("/api/v1/sites", json=body | {"slug": "courier"}, headers=ADMIN), 409, "slug")
    assert_problem(client.post("/api/v1/sites", json=body | {"slug": "Bad Slug"}, headers=ADMIN), 422, "slug")
    assert_problem(client.post("/api/v1/sites", json=body | {"allowed_origins": []}, headers=ADMIN), 422)
    assert_problem(client.post("/api/v1/sites", json=body | {"allowed_origins": ["javascript:x"]}, headers=ADMIN), 422)
    assert_problem(
        client.post("/api/v1/sites", json=body | {"allowed_origins": ["https://g.example/path"]}, headers=ADMIN), 422
    )


def test_site_update(client: TestClient, site: SiteInfo) -> None:
    response = client.patch(
        "/api/v1/sites/courier",
        json={"settings": {"prompt": "Your view?", "moderation_mode": "pre"}},
        headers=site.auth,
    )
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]
    assert settings["prompt"] == "Your view?" and settings["moderation_mode"] == "pre"
    assert settings["edit_window_seconds"] == 900  # untouched settings keep their value
    assert post(client)["status"] == "pending"
    assert_problem(
        client.patch("/api/v1/sites/courier", json={"settings": {"max_body_chars": 0}}, headers=site.auth), 422
    )
    assert_problem(client.patch("/api/v1/sites/courier", json={"settings": {"nope": 1}}, headers=site.auth), 422)


def test_wildcard_origins_must_leave_a_registrable_domain(client: TestClient, db: Database, site: SiteInfo) -> None:
    def origins(*values: str) -> Any:
        return client.patch("/api/v1/sites/courier", json={"allowed_origins": list(values)}, headers=site.auth)

    for broad in ("https://*.com", "https://*", "https://*.co.uk", "https://*.github.io", "https://a.*.example"):
        refused = origins(ORIGIN, broad)
        assert_problem(refused, 422, "allowed_origins")
    assert client.get("/api/v1/sites/courier", headers=site.auth).json()["allowed_origins"] == [ORIGIN]
    accepted = origins("https://*.news.example", "https://*.courier.co.uk")
    assert accepted.status_code == 200, accepted.text
    # A broad wildcard stored before the check still loads; the site's other settings can still be changed.
    with db.write() as session:
        session.execute(update(Site).values(allowed_origins=[ORIGIN, "https://*.com"]))
    assert client.get("/api/v1/sites/courier", headers=site.auth).json()["allowed_origins"] == [ORIGIN, "https://*.com"]
    renamed = client.patch("/api/v1/sites/courier", json={"name": "The Courier"}, headers=site.auth)
    assert renamed.status_code == 200, renamed.text
    assert post(client)["status"] == "approved"


def test_thresholds_name_model_categories_in_any_case(client: TestClient, db: Database, site: SiteInfo) -> None:
    def thresholds(**settings: object) -> object:
        return client.patch("/api/v1/sites/courier", json={"settings": settings}, headers=site.auth)

    answer = thresholds(thresholds={"threat": 0.4}, reject_thresholds={" Identity_Attack ": 0.99})
    assert answer.status_code == 200, answer.text
    stored = answer.json()["settings"]
    assert stored["thresholds"] == {"THREAT": 0.4} and stored["reject_thresholds"] == {"IDENTITY_ATTACK": 0.99}
    held = post(client, body="I will kill you and your family.")
    assert held["status"] == "pending", held
    # A category no model scores, or a score no model gives, would never match: refused, and nothing changes.
    for bad in ({"thresholds": {"NOPE": 0.5}}, {"flag_thresholds": {"TOXICITY": 5}}, {"thresholds": {"INSULT": -1}}):
        refused = thresholds(**bad)
        assert_problem(refused, 422)
        assert "categor" in refused.text or "between 0 and 1" in refused.text, refused.text
    assert client.get("/api/v1/sites/courier", headers=site.auth).json()["settings"]["thresholds"] == {"THREAT": 0.4}


def test_thresholds_stored_before_the_check_are_read_without_what_it_refuses(
    client: TestClient, db: Database, site: SiteInfo
) -> None:
    with db.write() as session:
        row = session.scalar(select(Site).where(Site.slug == "courier"))
        assert row is not None
        row.settings = row.settings | {"thresholds": {"NOPE": 0.5, "threat": 0.4, "INSULT": 7}}
    assert client.get("/api/v1/sites/courier", headers=site.auth).json()["settings"]["thresholds"] == {"THREAT": 0.4}
    assert post(client, body="I will kill you and your family.")["status"] == "pending"


def test_site_key_is_per_site(client: TestClient, db: Database, site: SiteInfo) -> None:
    other = create_test_site(db, slug="gazette", origins=["https://g.example"])
    assert_problem(client.get("/api/v1/sites/courier", headers=other.auth), 401)
    assert_problem(client.get("/api/v1/sites/missing", headers=other.auth), 401)
    assert_problem(client.patch("/api/v1/sites/courier", json={"name": "Hijacked"}, headers=other.auth), 401)
    assert client.get("/api/v1/sites/courier", headers=site.auth).json()["name"] == "Courier"


def test_stories_create_list_close_open(client: TestClient, site: SiteInfo, db: Database) -> None:
    response = client.post(
        "/api/v1/sites/courier/stories",
        json={"url": STORY + "?utm_campaign=x", "title": "River town", "publisher_id": "A-17", "section": "World"},
        headers=site.auth,
    )
    assert response.status_code == 201, response.text
    story = response.json()
    assert story["url"] == STORY and story["title"] == "River town"
    assert_problem(client.post("/api/v1/sites/courier/stories", json={"url": STORY}, headers=site.auth), 409)
    assert_problem(
        client.post("/api/v1/sites/courier/stories", json={"url": "https://evil.example/a"}, headers=site.auth), 403
    )
    listed = client.get("/api/v1/sites/courier/stories", headers=site.auth).json()
    assert [s["id"] for s in listed["stories"]] == [story["id"]]
    closed = client.post(f"/api/v1/sites/courier/stories/{story['id']}/close", headers=site.auth)
    assert closed.json()["closed"] is True
    assert_problem(
        client.post("/api/v1/comments", json={"site": "courier", "url": STORY, "body": "x", "author": {"name": "A"}}),
        409,
    )
    assert thread(client)["story"]["closed"] is True
    client.post(f"/api/v1/sites/courier/stories/{story['id']}/open", headers=site.auth)
    post(client)
    patched = client.patch(
        f"/api/v1/sites/courier/stories/{story['id']}", json={"title": "New title"}, headers=site.auth
    )
    assert patched.json()["title"] == "New title"
    assert client.get(f"/api/v1/sites/courier/stories/{story['id']}", headers=site.auth).json()["comment_count"] == 1


def test_story_pagination_and_isolation(client: TestClient, site: SiteInfo, db: Database) -> None:
    for i in range(5):
        client.post("/api/v1/sites/courier/stories", json={"url": f"{ORIGIN}/s/{i}"}, headers=site.auth)
    first = client.get("/api/v1/sites/courier/stories", params={"limit": 3}, headers=site.auth).json()
    second = client.get(
        "/api/v1/sites/courier/stories", params={"limit": 3, "cursor": first["next_cursor"]}, headers=site.auth
    ).json()
    assert len(first["stories"]) == 3 and len(second["stories"]) == 2 and second["next_cursor"] is None
    other = create_test_site(db, slug="gazette", origins=["https://g.example"])
    story_id = first["stories"][0]["id"]
    assert_problem(client.get(f"/api/v1/sites/gazette/stories/{story_id}", headers=other.auth), 404)
    assert_problem(
        client.patch(f"/api/v1/sites/gazette/stories/{story_id}", json={"closed": True}, headers=other.auth), 404
    )
