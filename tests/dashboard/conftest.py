"""Dashboard fixtures: two sites, staff of every role, and browsers that sign in through the login form."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from parlour.accounts.passwords import hash_password
from parlour.accounts.users import create_user
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, ModerationAction, StaffRole, StaffSession, StaffUser, Story
from tests.conftest import SiteInfo, create_test_site, post

BASE = "https://comments.example"
PASSWORD = "correct horse battery staple"
SAME_ORIGIN = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}
HERALD_STORY = "https://herald.example/politics/2026/11/30/budget"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login_token(client: TestClient) -> str:
    """Open the sign-in form as a browser would: its token comes in the page and in a cookie."""
    page = client.get("/admin/login")
    assert page.status_code == 200
    match = _CSRF.search(page.text)
    assert match, "the sign-in form carries no token"
    return match.group(1)


def login_post(client: TestClient, data: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    """Fill in and send the sign-in form."""
    form = {"csrf_token": login_token(client)} | data
    return client.post("/admin/login", data=form, headers=headers or {}, follow_redirects=False)


@dataclass
class Browser:
    """One staff member's browser: its own cookie jar, signed in through the form, with the page's CSRF token."""

    client: TestClient
    email: str
    csrf: str = ""

    def sign_in(self, password: str = PASSWORD, **headers: str) -> Any:
        data = {"email": self.email, "password": password, "next": "/admin/queues/pending"}
        response = login_post(self.client, data, SAME_ORIGIN | headers)
        if response.status_code == 303:
            self.csrf = self.token()
        return response

    def token(self) -> str:
        page = self.client.get("/admin/queues/pending")
        assert page.status_code == 200, page.text
        match = _CSRF.search(page.text)
        assert match, "the page carries no CSRF token"
        return match.group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def act(self, path: str, data: dict[str, Any] | None = None, *, htmx: bool = False, **kwargs: Any) -> Any:
        """A same-origin form post with the session's CSRF token, as the dashboard's own forms send it."""
        headers = SAME_ORIGIN | ({"HX-Request": "true"} if htmx else {}) | kwargs.pop("headers", {})
        body = {"csrf_token": self.csrf} | (data or {})
        return self.client.post(path, data=body, headers=headers, follow_redirects=False, **kwargs)


@dataclass
class World:
    """Two sites (courier in post-moderation, herald in pre-moderation) and their staff."""

    app: FastAPI
    client: TestClient
    db: Database
    courier: SiteInfo
    herald: SiteInfo
    clients: list[TestClient]

    def browser(self, email: str) -> Browser:
        # Another TestClient on the same app: its own cookies; the app's lifespan runs once, in `client`.
        client = TestClient(self.app, base_url=BASE)
        self.clients.append(client)
        return Browser(client, email)

    def signed_in(self, email: str) -> Browser:
        browser = self.browser(email)
        response = browser.sign_in()
        assert response.status_code == 303, response.text
        return browser


def make_user(db: Database, email: str, role: StaffRole, sites: list[str] | None = None) -> int:
    """A staff user made as `parlour user create` makes one."""
    with db.write() as session:
        user = create_user(
            session=session,
            email=email,
            display_name=email.split("@")[0].title(),
            password=PASSWORD,
            role=role,
            site_slugs=sites or [],
        )
        return user.id


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def add_users(db: Database, users: list[tuple[str, StaffRole, list[str]]]) -> None:
    """Many staff users at once, sharing one argon2 hash of PASSWORD (each hash costs 19 MiB and tens of ms)."""
    with db.write() as session:
        session.add_all(
            StaffUser(
                email=email,
                display_name=email.split("@")[0].title(),
                password_hash=_password_hash(),
                role=role,
                site_slugs=sites,
                active=True,
                created_at=utcnow(),
            )
            for email, role, sites in users
        )


@pytest.fixture
def world(client: TestClient, db: Database) -> Iterator[World]:
    courier = create_test_site(db, "courier")
    herald = create_test_site(db, "herald", origins=["https://herald.example"], moderation_mode="pre")
    add_users(
        db,
        [
            ("admin@example.org", StaffRole.ADMIN, []),
            ("ann@courier.example", StaffRole.MODERATOR, ["courier"]),
            ("bob@courier.example", StaffRole.MODERATOR, ["courier"]),
            ("hal@herald.example", StaffRole.MODERATOR, ["herald"]),
            ("una@example.org", StaffRole.MODERATOR, []),
            ("sam@example.org", StaffRole.STAFF, []),
        ],
    )
    created = World(client.app, client, db, courier, herald, [])  # type: ignore[arg-type]
    yield created
    for extra in created.clients:
        extra.close()


@pytest.fixture
def admin(world: World) -> Browser:
    return world.signed_in("admin@example.org")


@pytest.fixture
def ann(world: World) -> Browser:
    """A moderator of courier only."""
    return world.signed_in("ann@courier.example")


@pytest.fixture
def hal(world: World) -> Browser:
    """A moderator of herald only."""
    return world.signed_in("hal@herald.example")


def held(client: TestClient, body: str = "Waiting for a moderator.", **kwargs: Any) -> int:
    """A comment herald's pre-moderation holds."""
    comment_id: int = post(client, body, site="herald", url=HERALD_STORY, **kwargs)["id"]
    return comment_id


def published(client: TestClient, body: str = "Published at once.", **kwargs: Any) -> int:
    """A comment courier's post-moderation publishes."""
    comment_id: int = post(client, body, **kwargs)["id"]
    return comment_id


def audit(db: Database, **where: Any) -> list[ModerationAction]:
    with db.read() as session:
        query = select(ModerationAction).filter_by(**where).order_by(ModerationAction.id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def audit_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ModerationAction)) or 0


def comment(db: Database, comment_id: int) -> Comment:
    with db.read() as session:
        found = session.get(Comment, comment_id)
        assert found is not None
        session.expunge(found)
        return found


def author_of(db: Database, comment_id: int) -> Author:
    with db.read() as session:
        found = session.get(Comment, comment_id)
        assert found is not None
        author = session.get(Author, found.author_id)
        assert author is not None
        session.expunge(author)
        return author


def session_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(StaffSession)) or 0


def snapshot(db: Database) -> dict[str, Any]:
    """Everything a dashboard write could change, to compare before and after a refused request."""
    with db.read() as session:
        comments = [
            (c.id, c.status.value, c.featured, c.open_reports, c.claimed_by, c.reviewed_at)
            for c in session.scalars(select(Comment).order_by(Comment.id))
        ]
        authors = [
            (a.id, a.status.value, a.suspended_until, a.always_premoderate)
            for a in session.scalars(select(Author).order_by(Author.id))
        ]
        actions = session.scalar(select(func.count()).select_from(ModerationAction))
        stories = [
            (s.id, s.closed, s.moderation_mode, s.slow_mode_seconds)
            for s in session.scalars(select(Story).order_by(Story.id))
        ]
        sessions = session.scalar(select(func.count()).select_from(StaffSession))
    return {"comments": comments, "authors": authors, "stories": stories, "actions": actions, "sessions": sessions}


class _GetForm(HTMLParser):
    """The named fields of the GET form whose action is `action`, with the values a browser would send."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.found = action, False, False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "get" and a.get("action") == self.action:
            self.inside = self.found = True
        elif self.inside and tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif self.inside and tag == "select":
            self._select, self._first_option = a.get("name"), None
        elif self.inside and tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
                self.fields[self._select] = value  # nothing selected: the first option is sent
            if "selected" in a:
                self.fields[self._select] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select":
            self._select = None


def submit_get_form(page: str, form_action: str, /, **values: str) -> str:
    """The URL a browser goes to when the page's GET form `form_action` is submitted with `values` filled in:
    every field of the form, empty ones included, as `<form method="get">` sends them."""
    form = _GetForm(form_action)
    form.feed(page)
    assert form.found, f"no GET form for {form_action} on the page"
    unknown = set(values) - set(form.fields)
    assert not unknown, f"the form has no field {unknown}"
    return form_action + "?" + urlencode(form.fields | values)
