"""Migrations: upgrade from empty, downgrade and upgrade again; the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from parlour.db import migrate
from parlour.db.tables import Base
from tests.conftest import DatabaseUnderTest

HEAD = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def test_models_match_migrations(database: DatabaseUnderTest) -> None:
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(database: DatabaseUnderTest) -> None:
    migrate.downgrade(database.url, "base")
    engine = create_engine(database.url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate.upgrade(database.url)
    assert migrate.current(database.url) == HEAD
    engine = create_engine(database.url)
    try:
        assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_moderation_migration_fills_site_of_existing_comments(database: DatabaseUnderTest) -> None:
    """0002 adds comments.site_id and fills it from each comment's story, so old data stays queryable."""
    migrate.downgrade(database.url, "0001")
    engine = create_engine(database.url)
    now = "2026-11-01 10:00:00+00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sites (id, slug, name, allowed_origins, settings, api_key_hash, created_at)"
                    " VALUES (7, 'old', 'Old', '[]', '{}', 'x', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO stories (id, site_id, url, closed, comment_count, version, created_at)"
                    " VALUES (3, 7, 'https://old.example/a', false, 1, 1, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text("INSERT INTO authors (id, site_id, display_name, created_at) VALUES (5, 7, 'Ann', :now)"),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO comments (id, story_id, depth, author_id, status, body, html, markup_version,"
                    " edit_token_hash, created_at, reaction_count, reply_count, featured, moderation_reasons,"
                    " moderation_scores) VALUES (11, 3, 0, 5, 'approved', 'hi', '<p>hi</p>', 1, :token, :now,"
                    " 0, 0, false, '[]', '{}')"
                ),
                {"now": now, "token": b"0" * 32},
            )
        migrate.upgrade(database.url)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT site_id, flagged, open_reports FROM comments WHERE id = 11")).one()
            author = conn.execute(text("SELECT status, always_premoderate FROM authors WHERE id = 5")).one()
        assert row.site_id == 7 and not row.flagged and row.open_reports == 0
        assert author.status == "active" and not author.always_premoderate
    finally:
        engine.dispose()
