"""Thread pages shared in Redis by every worker, and every worker told at once when a story changes.

Two apps on one database stand for two workers. Their story versions are trusted for a minute here, so only
the Redis broker can make one worker see the other's write in time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.db.engine import Database
from parlour.infra.cache import SharedPages
from parlour.moderation import actions
from parlour.settings import Settings
from tests.api.test_health import redis_url_or_skip
from tests.api.test_moderation_service import make_staff
from tests.conftest import STORY, SiteInfo, make_settings, post
from tests.e2e.server import free_port

PARAMS = {"site": "courier", "url": STORY, "sort": "oldest"}
TRUSTED_FOR_A_MINUTE = 60.0


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def shared_settings(settings: Settings, redis_url: str) -> Settings:
    return make_settings(settings.database_url, redis_url=redis_url, thread_version_seconds=TRUSTED_FOR_A_MINUTE)


@pytest.fixture
def workers(shared_settings: Settings, site: SiteInfo) -> Iterator[tuple[TestClient, TestClient]]:
    first, second = create_app(shared_settings), create_app(shared_settings)
    with (
        TestClient(first, base_url="https://comments.example") as one,
        TestClient(second, base_url="https://comments.example") as two,
    ):
        yield one, two


def _shared(client: TestClient) -> SharedPages:
    shared = client.app.state.parlour.threads.shared  # type: ignore[attr-defined]
    assert isinstance(shared, SharedPages)
    return shared


def _ids(client: TestClient) -> list[int]:
    page: dict[str, Any] = client.get("/api/v1/threads", params=PARAMS).json()
    return [comment["id"] for comment in page["comments"]]


def test_a_page_rendered_by_one_worker_serves_the_other(workers: tuple[TestClient, TestClient]) -> None:
    one, two = workers
    post(one, "Rendered once, read everywhere.")
    rendered = one.get("/api/v1/threads", params=PARAMS)
    assert _shared(one).hits == 0
    taken = two.get("/api/v1/threads", params=PARAMS)
    assert _shared(two).hits == 2  # the plain and the gzipped page, in one round trip
    assert taken.content == rendered.content and taken.headers["etag"] == rendered.headers["etag"]


def test_another_workers_write_shows_at_once(workers: tuple[TestClient, TestClient]) -> None:
    one, two = workers
    post(one, "Before.")
    assert len(_ids(one)) == len(_ids(two)) == 1  # both now trust this version for a minute
    created = post(two, "Written by the other worker.")
    deadline = time.monotonic() + 5
    while created["id"] not in _ids(one) and time.monotonic() < deadline:
        time.sleep(0.05)  # the broker's message crosses Redis on its own time
    assert created["id"] in _ids(one)


def test_pages_of_another_database_are_never_taken(redis_url: str) -> None:
    here = SharedPages(redis_url, namespace="sqlite:///here.db")
    there = SharedPages(redis_url, namespace="sqlite:///there.db")
    key = ("thread", 1, 0, 1, "top", 20, None)
    try:
        here.set_many({key: b"here's page"})
        assert there.get_many([key]) == [None]
        assert here.get_many([key]) == [b"here's page"]
    finally:
        here.close()
        there.close()


def test_reads_go_on_without_redis(settings: Settings, site: SiteInfo) -> None:
    gone = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(make_settings(settings.database_url, redis_url=gone))
    with TestClient(app, base_url="https://comments.example") as client:
        created = post(client, "Posted while Redis is away.")
        assert _ids(client) == [created["id"]]
        assert _shared(client).degraded
        second = post(client, "And another.")
        assert _ids(client) == [created["id"], second["id"]]


def test_a_dead_redis_costs_one_timeout_per_retry_period(redis_url: str) -> None:
    pages = SharedPages(f"redis://127.0.0.1:{free_port()}/0", namespace="x")
    started = time.monotonic()
    for _ in range(50):
        assert pages.get_many([("thread", 1)]) == [None]
    assert time.monotonic() - started < 1.0
    assert pages.degraded
    pages.close()


def test_redis_client_errors_are_not_the_readers_problem(redis_url: str) -> None:
    class Broken(redis.Redis):
        def mget(self, *_args: Any, **_kwargs: Any) -> Any:
            raise redis.ConnectionError("switched off by the test")

    pages = SharedPages(redis_url, namespace="x", client=Broken.from_url(redis_url))
    assert pages.get_many([("thread", 1), ("thread", 2)]) == [None, None]
    assert pages.degraded
    pages.close()


@pytest.mark.parametrize("with_redis", [False, True], ids=["alone", "redis"])
def test_a_comment_moderators_remove_leaves_every_worker_within_the_bound(
    settings: Settings, site: SiteInfo, db: Database, with_redis: bool
) -> None:
    """Issue 7: reads never show a removed comment for longer than the configured bound (thread_version_seconds).

    The reject happens in a worker the reader is not (here: straight in the database, then announced on the
    writer's bus, as the dashboard's worker would), so only the bound, or Redis, can tell the reader.
    """
    bound = 3.0 if with_redis else 0.5  # with Redis, long enough that beating it shows the broker at work
    redis_url = redis_url_or_skip() if with_redis else None
    reader = create_app(make_settings(settings.database_url, thread_version_seconds=bound, redis_url=redis_url))
    writer = create_app(make_settings(settings.database_url, redis_url=redis_url))
    moderator = make_staff(db, "mod@courier.example", sites=["courier"])
    with (
        TestClient(reader, base_url="https://comments.example") as reading,
        TestClient(writer, base_url="https://comments.example") as writing,
    ):
        abuse = post(writing, "Something the moderators will remove.")
        assert _ids(reading) == [abuse["id"]]
        with db.write() as session:
            outcome = actions.reject(session=session, staff=moderator, comment_id=abuse["id"], reason="abuse")
        writing.app.state.parlour.bus.publish(outcome.events)  # type: ignore[attr-defined]
        removed_at = time.monotonic()
        while abuse["id"] in _ids(reading):
            assert time.monotonic() - removed_at <= bound + 0.5, "still shown after the bound"
            time.sleep(0.02)
        if with_redis:  # told through Redis at once, not after the bound
            assert time.monotonic() - removed_at < bound
