"""`parlour db upgrade` renders comments of an older markup version again from their Markdown source."""

from __future__ import annotations

from sqlalchemy import update
from starlette.testclient import TestClient
from typer.testing import CliRunner

from parlour.cli import app
from parlour.comments import markup
from parlour.db.engine import Database
from parlour.db.tables import Comment, Story
from tests.conftest import SECRET, DatabaseUnderTest, SiteInfo, post


def _upgrade(database: DatabaseUnderTest) -> str:
    result = CliRunner().invoke(
        app, ["db", "upgrade"], env={"PARLOUR_DATABASE_URL": database.url, "PARLOUR_SECRET_KEY": SECRET}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_html_from_an_older_renderer_is_rendered_again_and_threads_show_it(
    client: TestClient, db: Database, database: DatabaseUnderTest, site: SiteInfo
) -> None:
    old, current = post(client, "Read *this*: https://news.example/a"), post(client, "Already current.")
    # What an older allowlist may have let through, stored by an older version.
    with db.write() as session:
        session.execute(
            update(Comment)
            .where(Comment.id == old["id"])
            .values(html='<p>Read <em>this</em> <img src=x onerror="alert(1)"></p>', markup_version=0)
        )
    with db.read() as session:
        before = {c.id: c.html for c in session.query(Comment)}
        story_version = session.query(Story).one().version
    assert "Rendered 1 comment(s) again" in _upgrade(database)
    with db.read() as session:
        rows = {c.id: c for c in session.query(Comment)}
        assert session.query(Story).one().version > story_version  # cached thread pages are refreshed
    assert rows[old["id"]].html == markup.render("Read *this*: https://news.example/a")
    assert "onerror" not in rows[old["id"]].html
    assert rows[old["id"]].markup_version == markup.MARKUP_VERSION
    assert rows[current["id"]].html == before[current["id"]]
    assert "Rendered" not in _upgrade(database)  # nothing left to do


def test_a_comment_without_html_stays_without_it(
    client: TestClient, db: Database, database: DatabaseUnderTest, site: SiteInfo
) -> None:
    """An author's deleted comment keeps its text for moderators a while, but never shows again."""
    gone = post(client, "My secret regret.")
    with db.write() as session:
        session.execute(update(Comment).where(Comment.id == gone["id"]).values(html="", markup_version=0))
    _upgrade(database)
    with db.read() as session:
        row = session.get(Comment, gone["id"])
        assert row is not None and row.html == "" and row.markup_version == markup.MARKUP_VERSION
