"""A generated 100,000-comment Disqus export, and the readers' memory staying flat as files grow.

Slow (the import took 18 to 27 s on a shared 2-core machine): marked `slow`. The figures of
bench/import_bench.py are in bench/README.md.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from parlour.db.engine import Database, connect
from parlour.db.tables import Comment, ImportedItem, Story
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.importer import BULK_BATCH, import_comments
from parlour.transfer.records import Reader, SourceComment
from parlour.transfer.wordpress import WordPressReader
from tests.conftest import ORIGIN, DatabaseUnderTest, create_test_site, empty
from tests.transfer.checks import assert_consistent
from tests.transfer.factories import WpComment, WpPost, generated_posts, write_disqus, wxr_file

pytestmark = pytest.mark.slow

BIG = 100_000


@pytest.fixture
def sqlite_db(sqlite_database: DatabaseUnderTest) -> Iterator[Database]:
    """SQLite only: the size is the point here, and both backends run the same code on the small files."""
    database = connect(sqlite_database.url)
    yield database
    database.dispose()
    empty(sqlite_database)


def disqus_export(path: Path, count: int) -> Path:
    threads, posts = generated_posts(count, threads=max(1, count // 100), origin=ORIGIN)
    with path.open("w", encoding="utf-8") as out:
        write_disqus(out, threads, posts)
    return path


def test_a_100k_comment_disqus_export(sqlite_db: Database, tmp_path: Path) -> None:
    create_test_site(sqlite_db)
    export = disqus_export(tmp_path / "big.xml", BIG)
    seen: list[int] = []

    class Counting:
        def update(self, *, done: int, total: int, counts: dict[str, int]) -> None:
            assert 0 <= done <= total
            seen.append(counts["comments"])

        def stage(self, description: str) -> None:
            assert description == "Building indexes"

    report = import_comments(db=sqlite_db, reader=DisqusReader(export), site_slug="courier", progress=Counting())

    assert report.created["comments"] == BIG and report.created["stories"] == BIG // 100 and not report.skipped
    # The bar moved batch by batch: into an empty database, batches of BULK_BATCH (then the indexes' stage).
    assert seen == sorted(seen) and seen[-1] == BIG and len(seen) >= BIG // BULK_BATCH
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == BIG
        assert session.scalar(select(func.count()).select_from(Story)) == BIG // 100
        replies = session.scalar(select(func.count()).select_from(Comment).where(Comment.parent_id.is_not(None)))
        items = session.scalar(select(func.count()).select_from(ImportedItem).where(ImportedItem.kind == "comment"))
    assert replies is not None and BIG * 0.3 < replies < BIG * 0.5 and items == BIG
    assert_consistent(sqlite_db)


def peak_while_reading(reader: Reader) -> tuple[int, int]:
    """Peak traced memory while streaming every record (nothing kept), and the number of comments."""
    reader.check()
    tracemalloc.start()
    try:
        comments = sum(isinstance(record, SourceComment) for record in reader.records())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, comments


def test_the_disqus_reader_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small_peak, small = peak_while_reading(DisqusReader(disqus_export(tmp_path / "small.xml", 2_000)))
    big_peak, big = peak_while_reading(DisqusReader(disqus_export(tmp_path / "big.xml", 20_000)))
    assert (small, big) == (2_000, 20_000)
    # Ten times the file; the peak is the parser's buffer and one record, whatever the size.
    assert big_peak < small_peak * 1.5 + 256 * 1024, (small_peak, big_peak)


def wxr_export(path: Path, count: int) -> Path:
    # One post holding every comment: the reader must drop each <wp:comment> once read, not keep the <item>.
    comments = [WpComment(str(i), f"Comment number {i}.", parent=str(i - 1) if i % 3 else "0") for i in range(count)]
    return wxr_file(path, [WpPost("1", f"{ORIGIN}/one", "One", comments)])


def test_the_wordpress_reader_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small_peak, small = peak_while_reading(WordPressReader(wxr_export(tmp_path / "small.xml", 1_000)))
    big_peak, big = peak_while_reading(WordPressReader(wxr_export(tmp_path / "big.xml", 10_000)))
    assert (small, big) == (1_000, 10_000)
    assert big_peak < small_peak * 1.5 + 256 * 1024, (small_peak, big_peak)
