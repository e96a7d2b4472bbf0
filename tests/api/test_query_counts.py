"""A thread page costs a constant number of queries, whatever the thread's size (no N+1)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from parlour.app import create_app
from tests.conftest import ORIGIN, DatabaseUnderTest, SiteInfo, make_settings, post


@pytest.fixture
def uncached_client(database: DatabaseUnderTest) -> Iterator[TestClient]:
    app = create_app(make_settings(database.url, thread_cache_entries=0, thread_version_seconds=0))
    with TestClient(app, base_url="https://comments.example") as client:
        yield client


def statements_for(
    client: TestClient, url: str, path: str = "/api/v1/threads", **params: Any
) -> tuple[int, dict[str, Any]]:
    executed: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK")):
            executed.append(statement)

    engines = client.app.state.parlour.db.engines  # type: ignore[attr-defined]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(path, params={"site": "courier", "url": url, **params})
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len(executed), response.json()


def grow_thread(client: TestClient, url: str, size: int) -> None:
    rng = random.Random(size)
    ids: list[int] = []
    for n in range(size):
        parent = rng.choice(ids) if ids and rng.random() < 0.6 else None
        ids.append(post(client, f"comment {n}", url=url, parent_id=parent)["id"])


def test_thread_page_query_count_does_not_grow(uncached_client: TestClient, site: SiteInfo) -> None:
    small, large = f"{ORIGIN}/small", f"{ORIGIN}/large"
    grow_thread(uncached_client, small, 6)
    grow_thread(uncached_client, large, 160)
    for sort in ["top", "newest", "oldest"]:
        small_count, _small = statements_for(uncached_client, small, sort=sort)
        large_count, large_page = statements_for(uncached_client, large, sort=sort)
        assert large_page["total"] == 160
        assert len(large_page["comments"]) == 20
        # The story's version, the story with its site, the page, the featured comments (first page only),
        # and at most one query per preview level.
        assert large_count <= 4 + 3, large_count
        assert small_count <= large_count
        cursor_count, _ = statements_for(uncached_client, large, sort=sort, cursor=large_page["next_cursor"])
        assert cursor_count <= 3 + 3


def test_cached_read_asks_nothing_of_the_database(client: TestClient, site: SiteInfo) -> None:
    post(client)
    statements_for(client, f"{ORIGIN}/world/2026/11/24/river-town")
    count, _ = statements_for(client, f"{ORIGIN}/world/2026/11/24/river-town")
    assert count == 0


def test_cached_version_is_checked_again_after_its_bound(database: DatabaseUnderTest, site: SiteInfo) -> None:
    """Another worker's write (here: a second app on the same database) shows once the bound has passed."""
    import time

    url = f"{ORIGIN}/world/2026/11/24/river-town"
    reader = create_app(make_settings(database.url, thread_version_seconds=0.3))
    writer = create_app(make_settings(database.url))
    with (
        TestClient(reader, base_url="https://comments.example") as reading,
        TestClient(writer, base_url="https://comments.example") as writing,
    ):
        post(writing, "first")
        assert statements_for(reading, url)[1]["total"] == 1
        post(writing, "second")
        time.sleep(0.35)
        assert statements_for(reading, url)[1]["total"] == 2


def test_repeated_counts_ask_nothing_of_the_database_until_a_write(client: TestClient, site: SiteInfo) -> None:
    url = f"{ORIGIN}/world/2026/11/24/river-town"
    post(client, url=url)
    first, counted = statements_for(client, url, path="/api/v1/counts")
    assert first > 0 and counted["counts"] == {url: 1}
    again, counted = statements_for(client, url, path="/api/v1/counts")
    assert again == 0 and counted["counts"] == {url: 1}
    post(client, url=url)  # this worker's write forgets the cached counts at once
    _, counted = statements_for(client, url, path="/api/v1/counts")
    assert counted["counts"] == {url: 2}
