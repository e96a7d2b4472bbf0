"""Live updates over Server-Sent Events: in one worker, across servers through Redis, and with Redis down."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import free_port, running_server

pytestmark = pytest.mark.slow
REDIS_URL = os.environ.get("PARLOUR_TEST_REDIS", "redis://127.0.0.1:6379/15")


def redis_url_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true but does not answer at {REDIS_URL}")
        pytest.skip("Redis is not running")
    return REDIS_URL


class Listener:
    """Reads a thread's event stream in a thread, for a bounded time, collecting the events."""

    def __init__(self, base_url: str, seconds: float = 8.0) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base_url, seconds), daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "the stream did not open"

    def _run(self, base_url: str, seconds: float) -> None:
        params = {"site": "courier", "url": STORY}
        deadline = time.monotonic() + seconds
        kind = ""
        try:
            with httpx.stream("GET", f"{base_url}/api/v1/stream", params=params, timeout=seconds) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line == ": connected":
                        self.connected.set()
                    elif line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        self.events.append((kind, json.loads(line.removeprefix("data: "))))
                    if time.monotonic() > deadline:
                        break
        except httpx.HTTPError:
            pass  # the server shut down or the time ran out: the events so far are what we have

    def wait_for_comment(self, comment_id: int, seconds: float = 6.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(kind == "comment" and data["id"] == comment_id for kind, data in self.events):
                return True
            time.sleep(0.05)
        return False


def post(base_url: str, body: str = "live comment") -> int:
    response = httpx.post(
        f"{base_url}/api/v1/comments",
        json={"site": "courier", "url": STORY, "body": body, "author": {"name": "Live"}},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    comment_id: int = response.json()["id"]
    return comment_id


@pytest.mark.parametrize("process_db", ["sqlite"], indirect=True)
def test_stream_announces_new_comments_in_one_worker(process_db: DatabaseUnderTest) -> None:
    with running_server(server_env(process_db), workers=1) as (base_url, _process):
        listener = Listener(base_url)
        comment_id = post(base_url)
        assert listener.wait_for_comment(comment_id)
        assert any(kind == "changed" for kind, _ in listener.events)


@pytest.mark.parametrize("process_db", ["sqlite"], indirect=True)
def test_stream_refuses_foreign_urls(process_db: DatabaseUnderTest) -> None:
    with running_server(server_env(process_db), workers=1) as (base_url, _process):
        foreign = httpx.get(f"{base_url}/api/v1/stream", params={"site": "courier", "url": "https://evil.example/"})
        missing = httpx.get(f"{base_url}/api/v1/stream", params={"site": "nope", "url": STORY})
    assert foreign.status_code == 403
    assert missing.status_code == 404


def test_stream_fans_out_across_servers_through_redis(process_db: DatabaseUnderTest) -> None:
    env = server_env(process_db) | {"PARLOUR_REDIS_URL": redis_url_or_skip()}
    with running_server(env, workers=1) as (reading_url, _a), running_server(env, workers=1) as (writing_url, _b):
        listener = Listener(reading_url)
        comment_id = post(writing_url)
        assert listener.wait_for_comment(comment_id)


@pytest.mark.parametrize("process_db", ["sqlite"], indirect=True)
def test_redis_down_degrades_to_this_worker(process_db: DatabaseUnderTest) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a closed port: Redis is "down"
    env = server_env(process_db) | {"PARLOUR_REDIS_URL": nobody}
    with running_server(env, workers=1) as (base_url, _process):
        listener = Listener(base_url)
        comment_id = post(base_url, "posted while Redis is down")
        assert listener.wait_for_comment(comment_id)
        page = httpx.get(f"{base_url}/api/v1/threads", params={"site": "courier", "url": STORY}).json()
    assert page["total"] == 1
