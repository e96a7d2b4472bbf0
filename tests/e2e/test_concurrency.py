"""Several worker processes, concurrent writers, kill -9: no acknowledged comment is lost or mixed up."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from parlour.db.engine import connect
from parlour.db.tables import Comment
from tests.conftest import STORY, DatabaseUnderTest
from tests.e2e.conftest import server_env
from tests.e2e.server import kill_group, running_server

pytestmark = pytest.mark.slow
WRITERS = 8
SECONDS = 3.0
MAX_POSTS_PER_WRITER = 150


def writer(base_url: str, number: int, stop: threading.Event, acknowledged: list[dict[str, Any]]) -> list[str]:
    """Post until told to stop; record each acknowledged comment and every mix-up seen."""
    problems: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for sequence in range(MAX_POSTS_PER_WRITER):
            if stop.is_set():
                break
            body = f"writer {number} comment {sequence}"
            try:
                response = client.post(
                    "/api/v1/comments",
                    json={"site": "courier", "url": STORY, "body": body, "author": {"name": f"Writer {number}"}},
                )
            except httpx.TransportError:
                break  # the server was killed under us
            if response.status_code != 201:
                problems.append(f"{response.status_code}: {response.text[:200]}")
                continue
            created = response.json()
            if created["comment"]["body"] != body:
                problems.append(f"writer {number} got someone else's comment: {created['comment']['body']!r}")
            acknowledged.append({"id": created["id"], "body": body, "token": created["edit_token"]})
    return problems


def load(base_url: str, seconds: float, kill: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    stop = threading.Event()
    acknowledged: list[dict[str, Any]] = []
    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [pool.submit(writer, base_url, n, stop, acknowledged) for n in range(WRITERS)]
        time.sleep(seconds)
        if kill is not None:
            kill()
        stop.set()
        problems = [p for f in futures for p in f.result()]
    return acknowledged, problems


def stored(test_db: DatabaseUnderTest) -> dict[int, str]:
    db = connect(test_db.url)
    try:
        with db.read() as session:
            return {row.id: row.body for row in session.execute(select(Comment.id, Comment.body))}
    finally:
        db.dispose()


def test_concurrent_writers_on_two_workers(process_db: DatabaseUnderTest) -> None:
    with running_server(server_env(process_db), workers=2) as (base_url, _process):
        acknowledged, problems = load(base_url, SECONDS)
        assert problems == []
        assert len(acknowledged) > WRITERS
        # Every poster's token is their own: it edits their comment and nobody else's.
        with httpx.Client(base_url=base_url) as client:
            for item in acknowledged[:: max(1, len(acknowledged) // 20)]:
                own = client.get(f"/api/v1/comments/{item['id']}", headers={"X-Parlour-Edit-Token": item["token"]})
                assert own.json()["comment"]["body"] == item["body"]
            page = client.get("/api/v1/threads", params={"site": "courier", "url": STORY}).json()
    rows = stored(process_db)
    assert len(rows) == len(acknowledged) == page["total"]
    assert all(rows[item["id"]] == item["body"] for item in acknowledged)


def test_acknowledged_comments_survive_kill_9(process_db: DatabaseUnderTest) -> None:
    env = server_env(process_db)
    with running_server(env, workers=2) as (base_url, process):
        acknowledged, _problems = load(base_url, 1.5, kill=lambda: kill_group(process, signal.SIGKILL))
    assert acknowledged, "nothing was posted before the kill"
    rows = stored(process_db)
    missing = [item for item in acknowledged if rows.get(item["id"]) != item["body"]]
    assert missing == []
    if process_db.backend == "sqlite":
        path = process_db.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The server comes back and serves everything.
    with running_server(env, workers=1) as (base_url, _process):
        page = httpx.get(f"{base_url}/api/v1/threads", params={"site": "courier", "url": STORY}).json()
    assert page["total"] == len(rows)
    db = connect(process_db.url)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == len(rows)
    db.dispose()


def test_concurrent_retries_with_one_idempotency_key_create_one_comment(process_db: DatabaseUnderTest) -> None:
    payload = {"site": "courier", "url": STORY, "body": "posted once", "author": {"name": "Retrier"}}
    barrier = threading.Barrier(WRITERS)

    def retry(base_url: str) -> dict[str, Any]:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            barrier.wait(timeout=10)
            response = client.post("/api/v1/comments", json=payload, headers={"Idempotency-Key": "same-key"})
            assert response.status_code == 201, response.text
            result: dict[str, Any] = response.json()
            return result

    with running_server(server_env(process_db), workers=2) as (base_url, _process), ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda _n: retry(base_url), range(WRITERS)))
    assert len({r["id"] for r in results}) == 1
    assert len({r["edit_token"] for r in results}) == 1
    assert len(stored(process_db)) == 1
