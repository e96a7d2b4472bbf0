"""Migrations: upgrade from empty, downgrade and upgrade again; the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from parlour.db import migrate
from parlour.db.tables import Base
from tests.conftest import DatabaseUnderTest


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
    assert migrate.current(database.url) == "0001"
    engine = create_engine(database.url)
    try:
        assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
