"""Importing a database written by a real Isso 0.14.0 server."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, ImportedItem, Story
from parlour.transfer.importer import ALREADY, import_comments
from parlour.transfer.isso import IssoReader
from parlour.transfer.records import MalformedFile
from tests.conftest import ORIGIN, SiteInfo
from tests.transfer.checks import assert_consistent, table_counts
from tests.transfer.conftest import IssoData


def imported(db: Database) -> dict[int, Comment]:
    with db.read() as session:
        rows = session.execute(
            select(ImportedItem.source_id, Comment)
            .join(Comment, Comment.id == ImportedItem.target_id)
            .where(ImportedItem.kind == "comment")
        ).all()
    return {int(source): comment for source, comment in rows}


def test_isso_import(db: Database, site: SiteInfo, isso_database: IssoData) -> None:
    ids = isso_database.ids
    report = import_comments(db=db, reader=IssoReader(isso_database.path, origin=ORIGIN), site_slug="courier")
    assert report.created["comments"] == 7 and report.created["stories"] == 2 and not report.skipped
    comments = imported(db)
    # Isso attached the reply to a reply to the top-level comment; the import keeps what Isso has.
    assert comments[ids["deeper"]].parent_id == comments[ids["ann"]].id
    assert comments[ids["reply"]].parent_id == comments[ids["ann"]].id
    assert comments[ids["ann"]].html == "<p>First, with <em>emphasis</em>.</p>"
    assert comments[ids["regret"]].status == CommentStatus.DELETED and comments[ids["regret"]].reply_count == 1
    script = comments[ids["script"]]
    assert "<script" not in script.html and 'href="javascript:' not in script.html
    with sqlite3.connect(isso_database.path) as isso:
        created = isso.execute("SELECT created FROM comments WHERE id = ?", (ids["ann"],)).fetchone()[0]
    assert comments[ids["ann"]].created_at == datetime.fromtimestamp(created, UTC)
    with db.read() as session:
        ann = session.get(Author, comments[ids["ann"]].author_id)
        urls = set(session.scalars(select(Story.url)))
    assert ann is not None and (ann.email, ann.website) == ("ann@mail.example", "https://ann.example")
    assert urls == {f"{ORIGIN}/world/a", f"{ORIGIN}/world/b"}
    assert_consistent(db)
    again = import_comments(db=db, reader=IssoReader(isso_database.path, origin=ORIGIN), site_slug="courier")
    assert sum(again.created.values()) == 0 and again.skipped[ALREADY] == 7


def test_isso_pending_comments_stay_pending(
    db: Database, site: SiteInfo, isso_database: IssoData, tmp_path: Path
) -> None:
    copy = shutil.copy(isso_database.path, tmp_path / "held.db")
    with sqlite3.connect(copy) as isso:
        # What Isso's own moderation queue holds: mode 2.
        isso.execute("UPDATE comments SET mode = 2 WHERE id = ?", (isso_database.ids["other"],))
    import_comments(db=db, reader=IssoReader(Path(copy), origin=ORIGIN), site_slug="courier")
    held = imported(db)[isso_database.ids["other"]]
    assert held.status == CommentStatus.PENDING and held.reviewed_at is None
    assert_consistent(db)


def test_not_an_isso_database(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    before = table_counts(db)
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, but long enough to look like a file header" * 10)
    with pytest.raises(MalformedFile, match="not a readable SQLite database"):
        import_comments(db=db, reader=IssoReader(text, origin=ORIGIN), site_slug="courier")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE threads (id INTEGER PRIMARY KEY)")
    with pytest.raises(MalformedFile, match="not an Isso database"):
        import_comments(db=db, reader=IssoReader(other, origin=ORIGIN), site_slug="courier")
    assert table_counts(db) == before


def test_isso_dry_run_matches_the_import_and_writes_nothing(
    db: Database, site: SiteInfo, isso_database: IssoData
) -> None:
    before = table_counts(db)
    dry = import_comments(
        db=db, reader=IssoReader(isso_database.path, origin=ORIGIN), site_slug="courier", dry_run=True
    )
    assert table_counts(db) == before
    real = import_comments(db=db, reader=IssoReader(isso_database.path, origin=ORIGIN), site_slug="courier")
    assert (dry.created, dry.skipped) == (real.created, real.skipped) and dry.created["comments"] == 7


def test_isso_inline_html_is_converted_as_isso_showed_it(
    db: Database, site: SiteInfo, isso_database: IssoData, tmp_path: Path
) -> None:
    copy = shutil.copy(isso_database.path, tmp_path / "html.db")
    text = (
        "With <b>html</b>, <strong>strong</strong> and <em>em</em>, *Markdown* too.\n\n"
        "<blockquote>Quoted</blockquote>\n\n<script>alert('x')</script><style>p {}</style>Done"
    )
    with sqlite3.connect(copy) as isso:
        # Isso's misaka renderer let inline HTML through, then its sanitiser kept a few tags (not <b>).
        isso.execute("UPDATE comments SET text = ? WHERE id = ?", (text, isso_database.ids["other"]))
    import_comments(db=db, reader=IssoReader(Path(copy), origin=ORIGIN), site_slug="courier")
    comments = imported(db)
    assert comments[isso_database.ids["other"]].html == (
        "<p>With html, <strong>strong</strong> and <em>em</em>, <em>Markdown</em> too.</p>\n"
        "<blockquote>\n<p>Quoted</p>\n</blockquote>\n<p>Done</p>"
    )
    # A script goes with what it holds, as in every import (Isso's sanitiser kept its text); the javascript:
    # link was never a link.
    assert comments[isso_database.ids["script"]].html == "<p>[x](javascript:alert(1))</p>"
