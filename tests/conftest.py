"""Fixtures: one suite, two databases. SQLite always; PostgreSQL when it answers (required under CI=true)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import text
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.db import migrate
from parlour.db.engine import Database, connect
from parlour.db.tables import Base
from parlour.settings import Settings
from parlour.sites import service as sites
from parlour.sites.schemas import SiteCreate

T = TypeVar("T")

PG_ADMIN_URL = os.environ.get("PARLOUR_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
SECRET = "test-secret-" + "x" * 32
ADMIN_KEY = "test-admin-key-0123456789"
ORIGIN = "https://news.example"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def backends() -> list[Any]:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class DatabaseUnderTest:
    backend: str
    url: str


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> DatabaseUnderTest:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'parlour.db'}"
    migrate.upgrade(url)
    return DatabaseUnderTest("sqlite", url)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[DatabaseUnderTest]:
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but does not answer at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not running")
    name = f"parlour_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    migrate.upgrade(url)
    yield DatabaseUnderTest("postgres", url)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=backends())
def database(request: pytest.FixtureRequest) -> Iterator[DatabaseUnderTest]:
    """A migrated database of each backend, emptied after every test."""
    test_db: DatabaseUnderTest = request.getfixturevalue(f"{request.param}_database")
    yield test_db
    empty(test_db)


def empty(test_db: DatabaseUnderTest) -> None:
    db = connect(test_db.url)
    try:
        with db.write() as session:
            tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
            if test_db.backend == "postgres":
                session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - table names from metadata
    finally:
        db.dispose()


def make_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "secret_key": SECRET,
        "admin_api_key": ADMIN_KEY,
        "public_base_url": "https://comments.example",
    }
    return Settings(**(values | overrides))


@pytest.fixture
def settings(database: DatabaseUnderTest) -> Settings:
    return make_settings(database.url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, base_url="https://comments.example") as test_client:
        yield test_client


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = connect(settings.database_url)
    yield database
    database.dispose()


@dataclass
class SiteInfo:
    slug: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


# Most tests post the same text many times a second from one address: the posting guards would refuse them.
# Tests of those guards turn them back on by passing the settings.
UNGUARDED = {
    "rate_per_network": 0,
    "rate_per_author": 0,
    "rate_per_story": 0,
    "duplicate_window_seconds": 0,
    "flood_repeats": 0,
}


def create_test_site(
    db: Database, slug: str = "courier", origins: list[str] | None = None, **settings: Any
) -> SiteInfo:
    settings = UNGUARDED | settings
    with db.write() as session:
        data = SiteCreate.model_validate(
            {"slug": slug, "name": slug.title(), "allowed_origins": origins or [ORIGIN], "settings": settings}
        )
        site, key = sites.create_site(session=session, data=data)
        return SiteInfo(site.slug, key)


@pytest.fixture
def site(db: Database) -> SiteInfo:
    return create_test_site(db)


STORY = f"{ORIGIN}/world/2026/11/24/river-town"


def post(
    client: TestClient,
    body: str = "A thoughtful comment.",
    *,
    url: str = STORY,
    parent_id: int | None = None,
    name: str = "Reader",
    site: str = "courier",
    expect: int = 201,
    **author: Any,
) -> dict[str, Any]:
    payload = {"site": site, "url": url, "parent_id": parent_id, "body": body, "author": {"name": name, **author}}
    response = client.post("/api/v1/comments", json=payload)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def thread(client: TestClient, url: str = STORY, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/threads", params={"site": "courier", "url": url, **params})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# Browser tests: Debian's chromium driven by Playwright (its own browser download is not used). One browser per
# test process, shared by every folder that drives it: two sync Playwright instances cannot live in one process.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def in_thread(call: Callable[[], T]) -> T:
    """Run `call` in a thread of its own: a browser test's Playwright may hold this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run, safe when this thread already has a running loop; the coroutine is made in the new thread."""

    async def main() -> T:
        return await make()

    return in_thread(lambda: asyncio.run(main()))
