"""`parlour import disqus|wordpress|isso`: the dry run's report, the import's report, refusals with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from parlour.cli import app
from parlour.db.engine import Database
from parlour.transfer import cli as transfer_cli
from tests.conftest import ORIGIN, SECRET, DatabaseUnderTest, SiteInfo, create_test_site
from tests.transfer.checks import table_counts
from tests.transfer.conftest import IssoData
from tests.transfer.factories import WpComment, WpPost, wxr_file
from tests.transfer.test_disqus import small_export

runner = CliRunner()


@pytest.fixture
def env(database: DatabaseUnderTest) -> dict[str, str]:
    return {"PARLOUR_DATABASE_URL": database.url, "PARLOUR_SECRET_KEY": SECRET, "COLUMNS": "200"}


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rich sizes tables to the terminal it finds; under xdist that can be 80 columns, which wraps the reasons
    # inside their table cells. The checks are about what the report says, so give it room.
    monkeypatch.setattr(transfer_cli, "console", Console(width=240))
    monkeypatch.setattr(transfer_cli, "errors", Console(width=240, stderr=True))


def flat(output: str) -> str:
    return " ".join(output.split())


def test_dry_run_says_what_would_be_created_and_skipped_and_writes_nothing(
    db: Database, site: SiteInfo, env: dict[str, str], tmp_path: Path
) -> None:
    export = small_export(tmp_path / "disqus.xml")
    before = table_counts(db)
    result = runner.invoke(app, ["import", "disqus", str(export), "--site", "courier", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    assert "Dry run: importing from disqus into courier would create 10 comments, 2 stories," in output
    assert "malformed: createdAt is not a time: 'yesterday'" in output and "(post p9)" in output
    assert "the article's URL is outside the site's allowed origins" in output
    assert "https://elsewhere.example/b" in output  # listed under the articles outside the site's origins
    assert "its parent gone is not in the file; imported as a top-level comment" in output
    assert "Reading disqus" in output and "100%" in output  # the progress bar, with its counts
    assert table_counts(db) == before


def test_import_then_again_creates_nothing(db: Database, site: SiteInfo, env: dict[str, str], tmp_path: Path) -> None:
    export = small_export(tmp_path / "disqus.xml")
    first = runner.invoke(app, ["import", "disqus", str(export), "--site", "courier"], env=env)
    assert first.exit_code == 0, first.output
    assert "Imported from disqus into courier: 10 comments, 2 stories" in flat(first.output)
    again = runner.invoke(app, ["import", "disqus", str(export), "--site", "courier"], env=env)
    assert again.exit_code == 0, again.output
    assert "0 comments, 0 stories, 0 authors" in flat(again.output)
    assert "already imported" in flat(again.output)


def test_wordpress_from_the_command(db: Database, site: SiteInfo, env: dict[str, str], tmp_path: Path) -> None:
    export = wxr_file(tmp_path / "wp.xml", [WpPost("1", f"{ORIGIN}/a", "A", [WpComment("1", "Hello")])])
    result = runner.invoke(app, ["import", "wordpress", str(export), "--site", "courier"], env=env)
    assert result.exit_code == 0, result.output
    assert "Imported from wordpress into courier: 1 comments, 1 stories, 1 authors" in flat(result.output)


def test_isso_needs_an_origin_when_the_site_has_several(
    db: Database, env: dict[str, str], isso_database: IssoData
) -> None:
    create_test_site(db, origins=[ORIGIN, "https://other.example"])
    arguments = ["import", "isso", str(isso_database.path), "--site", "courier"]
    refused = runner.invoke(app, arguments, env=env)
    assert refused.exit_code == 2 and "name their origin with --origin" in flat(refused.output)
    result = runner.invoke(app, [*arguments, "--origin", ORIGIN], env=env)
    assert result.exit_code == 0, result.output
    assert "Imported from isso into courier: 7 comments, 2 stories" in flat(result.output)


def test_a_malformed_file_or_unknown_site_fails_with_a_message(
    db: Database, site: SiteInfo, env: dict[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text(small_export(tmp_path / "d.xml").read_text()[:2000])
    before = table_counts(db)
    result = runner.invoke(app, ["import", "disqus", str(broken), "--site", "courier"], env=env)
    assert result.exit_code == 1
    assert "Nothing imported: broken.xml is not well-formed XML at line" in flat(result.output)
    unknown = runner.invoke(app, ["import", "disqus", str(tmp_path / "d.xml"), "--site", "nowhere"], env=env)
    assert unknown.exit_code == 1 and "No site with slug 'nowhere'" in flat(unknown.output)
    missing = runner.invoke(app, ["import", "disqus", str(tmp_path / "missing.xml"), "--site", "courier"], env=env)
    assert missing.exit_code == 2
    assert table_counts(db) == before


def test_restore_takes_backups_too(tmp_path: Path) -> None:
    # `parlour restore` tells a backup from an export by the export's header line.
    env = {"PARLOUR_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "PARLOUR_SECRET_KEY": SECRET, "COLUMNS": "200"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    made = runner.invoke(app, ["site", "create", "--slug", "courier", "--name", "C", "--origin", ORIGIN], env=env)
    assert made.exit_code == 0, made.output
    backup = tmp_path / "live.backup"
    assert runner.invoke(app, ["backup", "--output", str(backup)], env=env).exit_code == 0
    refused = runner.invoke(app, ["restore", str(backup)], env=env)
    assert refused.exit_code == 1 and "Restore failed" in flat(refused.output)
    restored = runner.invoke(app, ["restore", str(backup), "--force"], env=env)
    assert restored.exit_code == 0 and "Restored the database from the backup" in flat(restored.output)
    export = tmp_path / "courier.jsonl"
    assert runner.invoke(app, ["export", "--site", "courier", "--output", str(export)], env=env).exit_code == 0
    wrong_flag = runner.invoke(app, ["restore", str(export), "--force"], env=env)
    assert wrong_flag.exit_code == 2 and "--force is for backups" in flat(wrong_flag.output)


def test_restore_of_another_systems_file_names_what_it_takes(tmp_path: Path) -> None:
    env = {"PARLOUR_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "PARLOUR_SECRET_KEY": SECRET, "COLUMNS": "200"}
    disqus = small_export(tmp_path / "disqus.xml")
    result = runner.invoke(app, ["restore", str(disqus)], env=env)
    assert result.exit_code == 1
    said = flat(result.output)
    assert "is neither a Parlour export (JSON Lines from `parlour export`" in said
    assert "nor a `parlour backup` file (an SQLite database or a pg_dump archive)" in said
    assert "`parlour import disqus|wordpress|isso`" in said
