"""What the import's report says about skipped comments and the replies to them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from parlour.db.engine import Database
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.importer import ALREADY, DUPLICATE, import_comments
from parlour.transfer.prepare import MAX_IMPORTED_CHARS
from parlour.transfer.records import MalformedFile
from tests.conftest import ORIGIN, SiteInfo
from tests.transfer.factories import Post, Thread, disqus_file, disqus_post

T0 = datetime(2020, 1, 2, 12, 0, tzinfo=UTC)
LONG = "<p>" + "x" * MAX_IMPORTED_CHARS + "</p>"  # 100,007 characters


def skipped_parents(path: Path) -> Path:
    posts = [
        Post("p1", "t1", LONG, T0),
        Post("p2", "t1", "<p>Reply to the long one</p>", T0, parent="p1"),
        Post("p3", "t1", "<p>Bad time</p>", T0),
        Post("p4", "t1", "<p>Reply to the one with a bad time</p>", T0, parent="p3"),
        Post("p5", "t1", "<p>Reply to one not in the file</p>", T0, parent="gone"),
    ]
    path = disqus_file(path, [Thread("t1", f"{ORIGIN}/news/1")], posts)
    text = path.read_text()
    path.write_text(text.replace(disqus_post(posts[2]), disqus_post(posts[2]).replace("2020-01-02T12:00:00Z", "soon")))
    return path


def test_a_long_comment_is_reported_as_too_long_not_malformed(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    report = import_comments(db=db, reader=DisqusReader(skipped_parents(tmp_path / "d.xml")), site_slug="courier")
    too_long = "too long: 100,007 characters, over the import limit of 100,000"
    assert report.skipped == {too_long: 1, "malformed: createdAt is not a time: 'soon'": 1}
    assert report.examples[too_long][0].endswith("(post p1)")


def test_a_reply_to_a_skipped_comment_says_its_parent_was_skipped(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    path = skipped_parents(tmp_path / "d.xml")
    dry = import_comments(db=db, reader=DisqusReader(path), site_slug="courier", dry_run=True)
    report = import_comments(db=db, reader=DisqusReader(path), site_slug="courier")
    assert report.created["comments"] == 3 and dry.notes == report.notes
    notes = " | ".join(report.notes)
    assert (
        "its parent p1 was skipped (too long: 100,007 characters, over the import limit of 100,000); "
        "imported as a top-level comment" in notes
    )
    assert (
        "its parent p3 was skipped (malformed: createdAt is not a time: 'soon'); imported as a top-level comment"
        in notes
    )
    assert "its parent gone is not in the file; imported as a top-level comment" in notes
    assert "p1 is not in the file" not in notes and "p3 is not in the file" not in notes


def test_a_malformed_file_is_named_with_one_position_counted_from_1(tmp_path: Path) -> None:
    export = tmp_path / "d.xml"
    export.write_text('<disqus xmlns="http://disqus.com">\n<thread></disqus>\n')
    with pytest.raises(MalformedFile) as refused:
        DisqusReader(export).check()
    # Where expat stops: the name in "</disqus>", the 11th character of line 2.
    assert str(refused.value) == "d.xml is not well-formed XML at line 2, column 11: mismatched tag"


def test_a_post_twice_in_the_file_is_a_duplicate_on_every_run(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    posts = [Post("p1", "t1", "<p>Once</p>", T0), Post("p1", "t1", "<p>Once</p>", T0)]
    path = disqus_file(tmp_path / "d.xml", [Thread("t1", f"{ORIGIN}/news/1")], posts)
    first = import_comments(db=db, reader=DisqusReader(path), site_slug="courier")
    again = import_comments(db=db, reader=DisqusReader(path), site_slug="courier")
    assert first.skipped == {DUPLICATE: 1}
    assert again.skipped == {ALREADY: 1, DUPLICATE: 1}


class LastCounts:
    """A progress bar that remembers the counts it last showed."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def update(self, *, done: int, total: int, counts: dict[str, int]) -> None:
        self.counts = counts

    def stage(self, description: str) -> None:
        return None


def test_the_progress_bar_ends_on_the_reports_counts(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    # Replies read before their parent are placed after the end of the file: the bar must count them too.
    posts = [Post("p2", "t1", "<p>Reply first</p>", T0, parent="p1"), Post("p1", "t1", "<p>Parent</p>", T0)]
    path = disqus_file(tmp_path / "d.xml", [Thread("t1", f"{ORIGIN}/news/1")], posts)
    bar = LastCounts()
    report = import_comments(db=db, reader=DisqusReader(path), site_slug="courier", progress=bar, defer_indexes=False)
    assert bar.counts == report.counts() and bar.counts["comments"] == 2
