"""Backups and their restore on both databases: round trip, refusals, errors that say what to do."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from parlour.cli import app
from parlour.db import migrate
from parlour.ops.backup import BackupError, backup_database, backup_kind, backup_path, restore_backup
from tests.backup_support import assert_consistent, comment_ids, empty_database
from tests.conftest import SECRET, DatabaseUnderTest, SiteInfo, post


@pytest.fixture
def populated(database: DatabaseUnderTest, client: TestClient, site: SiteInfo) -> DatabaseUnderTest:
    first = post(client, "The first comment.")
    post(client, "A reply.", parent_id=first["id"])
    post(client, "Another view.")
    return database


def test_a_backup_restores_into_an_empty_database(populated: DatabaseUnderTest, tmp_path: Path) -> None:
    backup = backup_database(populated.url, tmp_path / "backup")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds every commenter's e-mail address
    assert backup_kind(backup) == populated.backend
    with empty_database(populated.backend, tmp_path) as target:
        restore_backup(backup, target)
        assert comment_ids(target) == comment_ids(populated.url)
        assert len(comment_ids(target)) == 3
        assert_consistent(target)
        assert migrate.current(target) == migrate.current(populated.url)


def test_a_migrated_but_empty_database_is_no_obstacle(populated: DatabaseUnderTest, tmp_path: Path) -> None:
    backup = backup_database(populated.url, tmp_path / "backup")
    with empty_database(populated.backend, tmp_path) as target:
        migrate.upgrade(target)
        restore_backup(backup, target)
        assert len(comment_ids(target)) == 3


def test_a_database_holding_data_is_replaced_only_with_force(populated: DatabaseUnderTest, tmp_path: Path) -> None:
    backup = backup_database(populated.url, tmp_path / "backup")
    with empty_database(populated.backend, tmp_path) as target:
        restore_backup(backup, target)
        with pytest.raises(BackupError, match="already holds data; stop Parlour and pass --force"):
            restore_backup(backup, target)
        restore_backup(backup, target, force=True)
        assert len(comment_ids(target)) == 3
        assert_consistent(target)


def test_a_backup_never_overwrites_a_file(populated: DatabaseUnderTest, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("an older backup")
    with pytest.raises(BackupError, match="already exists"):
        backup_database(populated.url, tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "an older backup"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]  # no partial file left behind


def test_a_folder_gets_a_timestamped_file() -> None:
    now = datetime(2026, 11, 24, 3, 0, 5, tzinfo=UTC)
    assert backup_path(Path("/"), "sqlite:///p.db", now) == Path("/parlour-20261124T030005Z.db")
    assert backup_path(None, "postgresql+psycopg://u@h/db", now) == Path("parlour-20261124T030005Z.dump")
    assert backup_path(Path("/tmp/x.db"), "sqlite:///p.db", now) == Path("/tmp/x.db")


def test_a_backup_restores_only_into_its_own_kind_of_database(populated: DatabaseUnderTest, tmp_path: Path) -> None:
    backup = backup_database(populated.url, tmp_path / "backup")
    other = "postgresql+psycopg://nobody@127.0.0.1:1/none" if populated.backend == "sqlite" else "sqlite:///x.db"
    with pytest.raises(BackupError, match=f"is a {populated.backend} backup"):
        restore_backup(backup, other)
    (tmp_path / "export.jsonl").write_text('{"kind": "comment"}\n')
    assert backup_kind(tmp_path / "export.jsonl") is None
    with pytest.raises(BackupError, match="not a Parlour backup"):
        restore_backup(tmp_path / "export.jsonl", populated.url)
    with pytest.raises(BackupError, match="No backup file"):
        restore_backup(tmp_path / "missing", populated.url)


def test_a_corrupt_sqlite_backup_is_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    with pytest.raises(BackupError):
        restore_backup(corrupt, f"sqlite:///{tmp_path / 'target.db'}")


@pytest.mark.postgres
def test_missing_postgresql_tools_are_named_with_the_fix(
    postgres_database: DatabaseUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, no pg_restore
    with pytest.raises(BackupError, match=r"pg_dump was not found on PATH: install the PostgreSQL client tools"):
        backup_database(postgres_database.url, tmp_path / "backup")
    assert list(tmp_path.iterdir()) == []


def test_parlour_backup_writes_a_file_and_reports_it(populated: DatabaseUnderTest, tmp_path: Path) -> None:
    env = {"PARLOUR_DATABASE_URL": populated.url, "PARLOUR_SECRET_KEY": SECRET}
    result = CliRunner().invoke(app, ["backup", "--output", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.iterdir()
    assert written.name.startswith("parlour-")
    assert f"Backup written to {written}" in result.output.replace("\n", "")
    again = CliRunner().invoke(app, ["backup", "--output", str(written)], env=env)
    assert again.exit_code == 1
    assert "already exists" in again.output
    nowhere = CliRunner().invoke(app, ["backup", "--output", str(tmp_path / "missing" / "x.db")], env=env)
    assert nowhere.exit_code == 1 and "is not a folder" in nowhere.output
