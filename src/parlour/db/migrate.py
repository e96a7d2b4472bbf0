"""Alembic, driven from code so that `parlour db upgrade` needs no alembic.ini."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def set_aside_indexes(database_url: str) -> list[str]:
    """The comments indexes a bulk import has set aside: it is running, or it was killed before it built them."""
    from parlour.db import bulk_indexes

    if not _database_exists(database_url):
        return []  # opening it would create an empty file in its place
    with _engine(database_url) as engine:
        return [str(index.name) for index in bulk_indexes.missing(engine)]


def _database_exists(database_url: str) -> bool:
    """False only for a SQLite file that is not there; server databases are asked, not guessed."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return True
    return Path(url.database).exists()


def restore_set_aside_indexes(database_url: str) -> list[str]:
    """Build the comments indexes a bulk import set aside and could not build again (it was killed)."""
    from parlour.db import bulk_indexes

    with _engine(database_url) as engine:
        return bulk_indexes.restore(engine)


@contextmanager
def _engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with _engine(database_url) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
