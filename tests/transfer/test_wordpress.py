"""Importing a WordPress WXR export: statuses, parents, pingbacks, line breaks, authors' websites."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, ImportedItem, Story
from parlour.transfer.importer import import_comments
from parlour.transfer.records import MalformedFile
from parlour.transfer.wordpress import WordPressReader
from tests.conftest import ORIGIN, SiteInfo
from tests.transfer.checks import assert_consistent, table_counts
from tests.transfer.factories import WpComment, WpPost, wxr_file


def export(path: Path) -> Path:
    return wxr_file(
        path,
        [
            WpPost(
                "10",
                f"{ORIGIN}/2020/01/river/",
                "River",
                [
                    WpComment(
                        "1",
                        "First line\nsecond line\n\nNew <strong>paragraph</strong>",
                        author="Ann",
                        email="ann@mail.example",
                        url="https://ann.example/blog",
                    ),
                    WpComment("2", "A reply", parent="1", author="Bo", url="javascript:alert(1)"),
                    WpComment("3", "Held for review", approved="0"),
                    WpComment("4", "Cheap pills", approved="spam"),
                    WpComment("5", "Binned", approved="trash"),
                    WpComment("6", "Linked to you", kind="pingback"),
                    WpComment("7", "Old export", date_gmt="0000-00-00 00:00:00"),
                ],
            ),
            WpPost("11", f"{ORIGIN}/about/", "A page without comments"),
            WpPost("12", f"{ORIGIN}/2020/02/closed", "Closed", [WpComment("8", "Late")], comment_status="closed"),
        ],
    )


def test_wordpress_import(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    report = import_comments(db=db, reader=WordPressReader(export(tmp_path / "wp.xml")), site_slug="courier")
    assert report.created["comments"] == 6 and report.created["stories"] == 2
    assert report.skipped == {"a pingback, not a comment": 1, "malformed: the comment has no valid date": 1}
    with db.read() as session:
        rows = session.execute(
            select(ImportedItem.source_id, Comment)
            .join(Comment, Comment.id == ImportedItem.target_id)
            .where(ImportedItem.kind == "comment")
        ).all()
        comments = dict(rows)
        ann = session.get(Author, comments["1"].author_id)
        bo = session.get(Author, comments["2"].author_id)
        stories = {s.url: s for s in session.scalars(select(Story))}
    assert comments["1"].html == "<p>First line<br>\nsecond line</p>\n<p>New <strong>paragraph</strong></p>"
    assert comments["2"].parent_id == comments["1"].id
    assert [comments[k].status for k in "345"] == [
        CommentStatus.PENDING,
        CommentStatus.REJECTED,
        CommentStatus.DELETED,
    ]
    assert ann is not None and ann.website == "https://ann.example/blog" and ann.email == "ann@mail.example"
    assert bo is not None and bo.website is None
    assert set(stories) == {f"{ORIGIN}/2020/01/river", f"{ORIGIN}/2020/02/closed"}
    assert stories[f"{ORIGIN}/2020/02/closed"].closed
    assert_consistent(db)


def test_wordpress_malformed_file_changes_nothing(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    text = export(tmp_path / "wp.xml").read_text()
    broken = tmp_path / "broken.xml"
    broken.write_text(text.replace("</wp:comment_author_IP>", "</wp:comment_author_ip>", 3))
    before = table_counts(db)
    with pytest.raises(MalformedFile, match="not well-formed"):
        import_comments(db=db, reader=WordPressReader(broken), site_slug="courier")
    assert table_counts(db) == before


def test_wordpress_dry_run_matches_the_import_and_writes_nothing(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    path = export(tmp_path / "wp.xml")
    before = table_counts(db)
    dry = import_comments(db=db, reader=WordPressReader(path), site_slug="courier", dry_run=True)
    assert table_counts(db) == before
    real = import_comments(db=db, reader=WordPressReader(path), site_slug="courier")
    assert (dry.created, dry.skipped, dry.notes) == (real.created, real.skipped, real.notes)
    again = import_comments(db=db, reader=WordPressReader(path), site_slug="courier")
    assert sum(again.created.values()) == 0 and again.skipped["already imported"] == 6


def test_wordpress_block_html_converts_cleanly(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    stored = "<p>Two points:</p>\n<ul>\n<li>one\n</li>\n<li>two</li>\n</ul>\n<pre>line1\nline2</pre>\n<p>Done</p>"
    path = wxr_file(tmp_path / "wp.xml", [WpPost("10", f"{ORIGIN}/2020/01/river/", "River", [WpComment("1", stored)])])
    import_comments(db=db, reader=WordPressReader(path), site_slug="courier")
    with db.read() as session:
        comment = session.scalars(select(Comment)).one()
    assert comment.html == (
        "<p>Two points:</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<pre><code>line1\nline2\n</code></pre>\n"
        "<p>Done</p>"
    )


def test_wordpress_escaped_titles_names_and_links_are_unescaped(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    # As WordPress writes them: the title through esc_html/ent2ncr, the permalink through esc_url, the
    # commenter's name and URL as saved (_wp_specialchars, kses).
    post = WpPost(
        "10",
        f"{ORIGIN}/2020/01/river/?lang=en&#038;page=1",
        "Council approves &#8220;new&#8221; bridge &amp; road",
        [WpComment("1", "Hi", author="Tom &amp; Jerry", url="https://tj.example/?a=1&amp;b=2")],
    )
    import_comments(db=db, reader=WordPressReader(wxr_file(tmp_path / "wp.xml", [post])), site_slug="courier")
    with db.read() as session:
        story = session.scalars(select(Story)).one()
        author = session.scalars(select(Author)).one()
    assert story.title == "Council approves \u201cnew\u201d bridge & road"
    assert "&#038;" not in story.url and "lang=en&page=1" in story.url
    assert (author.display_name, author.website) == ("Tom & Jerry", "https://tj.example/?a=1&b=2")
