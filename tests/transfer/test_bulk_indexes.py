"""An import into an empty comments table builds its secondary indexes once, at the end; on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Index, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from parlour import cli
from parlour.cli import app
from parlour.db import bulk_indexes
from parlour.db.engine import Database
from parlour.db.tables import Comment
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.importer import import_comments
from tests.conftest import SECRET, DatabaseUnderTest, SiteInfo, post
from tests.transfer.checks import assert_consistent
from tests.transfer.test_disqus import Interrupted, StopsAfter, small_export

SECONDARY = 6  # the Index entries of Comment.__table_args__


def missing(db: Database) -> list[Index]:
    with db.read() as session:
        return bulk_indexes.missing(session.connection())


class WatchingIndexes:
    """A progress bar that notes, at every batch, how many indexes of comments are missing."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.missing_while_importing: list[int] = []
        self.stages: list[str] = []

    def update(self, *, done: int, total: int, counts: dict[str, int]) -> None:
        if not self.stages:
            self.missing_while_importing.append(len(missing(self.db)))

    def stage(self, description: str) -> None:
        self.stages.append(description)


def test_a_first_import_builds_the_indexes_after_the_comments(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    watching = WatchingIndexes(db)
    report = import_comments(
        db=db, reader=DisqusReader(small_export(tmp_path / "d.xml")), site_slug="courier", progress=watching
    )
    assert report.indexes_built_after == SECONDARY and watching.stages == ["Building indexes"]
    assert watching.missing_while_importing and set(watching.missing_while_importing) == {SECONDARY}
    assert missing(db) == []
    assert_consistent(db)


def test_an_import_into_a_site_with_comments_keeps_the_indexes_in_place(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    post(client, body="Already here")
    watching = WatchingIndexes(db)
    export = small_export(tmp_path / "d.xml")
    report = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", progress=watching)
    assert report.indexes_built_after == 0 and watching.stages == []
    assert set(watching.missing_while_importing) == {0}
    # Asked for, the indexes are set aside all the same (a big import into a quiet database).
    forced = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", defer_indexes=True)
    assert forced.indexes_built_after == SECONDARY and missing(db) == []


def test_a_first_import_can_keep_the_indexes_and_a_dry_run_never_touches_them(
    db: Database, site: SiteInfo, tmp_path: Path
) -> None:
    export = small_export(tmp_path / "d.xml")
    watching = WatchingIndexes(db)
    dry = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", dry_run=True, progress=watching)
    assert dry.indexes_built_after == 0 and set(watching.missing_while_importing) == {0}
    kept = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", defer_indexes=False)
    assert kept.indexes_built_after == 0 and kept.created["comments"] > 0 and missing(db) == []


def test_an_import_that_fails_midway_still_builds_the_indexes(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    export = small_export(tmp_path / "d.xml")
    with pytest.raises(Interrupted):
        import_comments(db=db, reader=StopsAfter(export, 6), site_slug="courier", batch_size=2)
    with db.read() as session:
        assert session.scalars(select(Comment.id)).all()  # some batches were written
    assert missing(db) == []
    assert_consistent(db)


def test_indexes_left_aside_by_a_killed_import_are_built_by_the_next_one_or_by_db_upgrade(
    db: Database, database: DatabaseUnderTest, site: SiteInfo, tmp_path: Path
) -> None:
    export = small_export(tmp_path / "d.xml")
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    # What a kill -9 in the middle of a first import leaves: comments, and no secondary indexes.
    with db.write() as session:
        bulk_indexes.set_aside(session.connection())
    assert len(missing(db)) == SECONDARY
    again = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    assert again.created["comments"] == 0 and again.indexes_built_after == SECONDARY and missing(db) == []

    with db.write() as session:
        bulk_indexes.set_aside(session.connection())
    result = CliRunner().invoke(
        app, ["db", "upgrade"], env={"PARLOUR_DATABASE_URL": database.url, "PARLOUR_SECRET_KEY": SECRET}
    )
    assert result.exit_code == 0, result.output
    assert "Rebuilt the indexes an interrupted import had set aside" in result.output
    assert "ix_comments_story_top_oldest" in result.output
    assert missing(db) == []
    quiet = CliRunner().invoke(
        app, ["db", "upgrade"], env={"PARLOUR_DATABASE_URL": database.url, "PARLOUR_SECRET_KEY": SECRET}
    )
    assert quiet.exit_code == 0 and "Rebuilt" not in quiet.output


def test_serve_warns_while_the_indexes_are_set_aside(
    db: Database, database: DatabaseUnderTest, site: SiteInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.warn_about_set_aside_indexes(database.url)
    assert "indexes" not in capsys.readouterr().err
    with db.write() as session:
        bulk_indexes.set_aside(session.connection())
    cli.warn_about_set_aside_indexes(database.url)
    warning = " ".join(capsys.readouterr().err.split())
    assert f"{SECONDARY} indexes of the comments table are missing" in warning and "parlour db upgrade" in warning
    cli.warn_about_set_aside_indexes("sqlite:////nonexistent/folder/parlour.db")  # no database yet: nothing to say
    assert capsys.readouterr().err == ""


def test_the_start_check_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    absent = tmp_path / "not-yet.db"
    cli.warn_about_set_aside_indexes(f"sqlite:///{absent}")
    assert not absent.exists()
