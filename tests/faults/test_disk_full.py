"""The database runs out of room: writes get 507 problem+json and change nothing, reads go on, writes resume."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from parlour import errors
from parlour.app import create_app
from parlour.db import migrate
from parlour.db.engine import connect
from tests.conftest import STORY, create_test_site, make_settings

MAX_POSTS = 400  # a bound: with no new pages allowed, the pages' free room runs out long before this
NO_LIMIT = 4294967294  # SQLite's largest max_page_count


def post(client: TestClient, body: str, **headers: str) -> Any:
    payload = {"site": "courier", "url": STORY, "body": body, "author": {"name": "Filler"}}
    return client.post("/api/v1/comments", json=payload, headers=headers)


def test_sqlite_full_refuses_writes_with_507_and_recovers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'small.db'}"
    migrate.upgrade(url)
    db = connect(url)
    create_test_site(db)
    db.dispose()
    app = create_app(make_settings(url))
    max_pages = [NO_LIMIT]

    # SQLite answers SQLITE_FULL when the file may not grow: exactly what a full disk does to it, without root.
    @event.listens_for(app.state.parlour.db.engines[1], "checkout")  # the write engine
    def _cap(dbapi_connection: sqlite3.Connection, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {max_pages[0]}")

    with TestClient(app, base_url="https://comments.example") as client:
        first = post(client, "written while there is room")
        assert first.status_code == 201, first.text
        with sqlite3.connect(tmp_path / "small.db") as probe:
            max_pages[0] = probe.execute("PRAGMA page_count").fetchone()[0]  # not one page more

        acknowledged = 1
        for number in range(MAX_POSTS):
            response = post(client, f"filling the last pages, comment {number}")
            if response.status_code != 201:
                break
            acknowledged += 1
        else:
            pytest.fail("the database never filled up")
        assert response.status_code == 507, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/insufficient-storage")

        # Still full: every write is refused the same way and leaves nothing behind; reads are served.
        assert post(client, "refused", **{"Idempotency-Key": "while-full"}).status_code == 507
        page = client.get("/api/v1/threads", params={"site": "courier", "url": STORY})
        assert page.status_code == 200
        assert page.json()["total"] == acknowledged
        assert client.get(f"/api/v1/comments/{first.json()['id']}").status_code == 200
        assert client.get("/healthz").status_code == 200

        max_pages[0] = NO_LIMIT  # space comes back
        again = post(client, "refused", **{"Idempotency-Key": "while-full"})
        assert again.status_code == 201, again.text  # the refused request left no key behind: the retry goes in
        total = client.get("/api/v1/threads", params={"site": "courier", "url": STORY}).json()["total"]
    assert total == acknowledged + 1
    with sqlite3.connect(tmp_path / "small.db") as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_postgresql_disk_full_is_507_too() -> None:
    # PostgreSQL cannot be filled up here (a shared server), so its error is raised where the driver would raise it.
    app = FastAPI()
    errors.install(app)

    @app.get("/write")
    def _write() -> None:
        raise OperationalError("INSERT ...", {}, psycopg.errors.DiskFull("could not extend file: No space left"))

    @app.get("/busy")
    def _busy() -> None:
        raise OperationalError("INSERT ...", {}, psycopg.errors.AdminShutdown("terminating connection"))

    with TestClient(app) as client:
        full = client.get("/write")
        busy = client.get("/busy")
    assert (full.status_code, full.json()["title"]) == (507, "Insufficient storage")
    assert (busy.status_code, busy.headers["Retry-After"]) == (503, "2")
