"""Helpers for backup tests: an empty target database of each backend, and a consistency check of a restore."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from parlour.db.engine import connect
from parlour.db.tables import Comment, CommentStatus, Story
from tests.conftest import PG_ADMIN_URL


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a database that does not exist yet (SQLite) or has no tables (PostgreSQL), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'restored-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"parlour_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def comment_ids(url: str) -> set[int]:
    db = connect(url)
    try:
        with db.read() as session:
            return set(session.scalars(select(Comment.id)))
    finally:
        db.dispose()


def assert_consistent(url: str) -> None:
    """SQLite's integrity check passes and every story's comment count matches its published comments."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    db = connect(url)
    try:
        with db.read() as session:
            published = (
                select(func.count())
                .where(Comment.story_id == Story.id, Comment.status == CommentStatus.APPROVED)
                .correlate(Story)
                .scalar_subquery()
            )
            for story_id, count, actual in session.execute(select(Story.id, Story.comment_count, published)):
                assert count == actual, f"story {story_id} counts {count} comments but has {actual}"
    finally:
        db.dispose()
