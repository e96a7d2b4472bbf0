"""Importing a Disqus export, on both databases: threading, statuses, authors, stories, reports, safety nets."""

from __future__ import annotations

import gzip
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, ImportedItem, Site, Story
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.importer import ALREADY, OUTSIDE, import_comments
from parlour.transfer.records import Malformed, MalformedFile, Record, SourceAuthor, SourceComment
from tests.conftest import ORIGIN, SECRET, SiteInfo, create_test_site, post
from tests.transfer.checks import assert_consistent, table_counts
from tests.transfer.factories import DISQUS_HEAD, Post, Thread, disqus_file, disqus_post

ARTICLE = f"{ORIGIN}/world/2020/01/01/river-town"
T0 = datetime(2020, 1, 2, 12, 0, tzinfo=UTC)


def small_export(path: Path) -> Path:
    threads = [
        Thread("t1", ARTICLE + "/?utm_source=newsletter", "River town floods"),
        Thread("t2", "https://elsewhere.example/b", "Not ours"),
        Thread("t3", f"{ORIGIN}/closed", "Closed one", closed=True),
    ]
    posts = [
        Post("p1", "t1", "<p>First! <b>Bold</b> claim.</p>", T0, name="Ann", email="Ann@Mail.example"),
        Post("p2", "t1", "<p>Reply to Ann</p>", T0.replace(hour=13), parent="p1", name="Guest"),
        Post("p3", "t1", "<p>Buy pills</p>", T0, name="Spammer", spam=True),
        Post("p4", "t1", "<p>I regret this</p>", T0, name="Carl", deleted=True),
        Post("p5", "t1", "<p>Answer to a deleted one</p>", T0.replace(hour=14), parent="p4", name="Dana"),
        Post("p6", "t2", "<p>Off site</p>", T0, name="Eve"),
        Post("p7", "t3", "<p>Reply before its parent</p>", T0.replace(hour=15), parent="p8", name="Finn"),
        Post("p8", "t3", "<p>The parent, later in the file</p>", T0, name="Gus"),
        Post("p9", "t1", "<p>Bad time</p>", T0, name="Hal"),
        Post("p10", "t1", "<p>Orphan</p>", T0, parent="gone", name="Ida"),
        Post("p11", "t1", "<p>Signed in</p>", T0, name="Bob", username="bob"),
        Post("p12", "t3", "<p>Signed in again</p>", T0, name="Bob", username="bob"),
    ]
    path = disqus_file(path, threads, posts)
    # A record with a broken time, as a real export can hold: reported and skipped, not fatal.
    text = path.read_text().replace(
        disqus_post(posts[8]), disqus_post(posts[8]).replace("2020-01-02T12:00:00Z", "yesterday")
    )
    path.write_text(text)
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return small_export(tmp_path / "disqus.xml")


def by_source(db: Database) -> dict[str, Comment]:
    with db.read() as session:
        rows = session.execute(
            select(ImportedItem.source_id, Comment)
            .join(Comment, Comment.id == ImportedItem.target_id)
            .where(ImportedItem.kind == "comment")
        ).all()
        return dict(rows)


def test_import_keeps_threads_statuses_times_and_reports_the_rest(db: Database, site: SiteInfo, export: Path) -> None:
    report = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")

    assert report.created["comments"] == 10 and report.created["stories"] == 2
    assert report.skipped[OUTSIDE] == 1 and report.outside == {"https://elsewhere.example/b": 1}
    malformed = [r for r in report.skipped if r.startswith("malformed")]
    assert malformed == ["malformed: createdAt is not a time: 'yesterday'"]
    assert report.examples[malformed[0]][0].endswith("(post p9)") and report.examples[malformed[0]][0].startswith(
        "line "
    )
    assert any("gone" in note and "top-level" in note for note in report.notes)
    comments = by_source(db)
    assert comments["p2"].parent_id == comments["p1"].id and comments["p2"].depth == 1
    assert comments["p7"].parent_id == comments["p8"].id
    assert comments["p10"].parent_id is None
    assert comments["p3"].status == CommentStatus.REJECTED and "pills" in comments["p3"].body
    assert comments["p4"].status == CommentStatus.DELETED and comments["p4"].body == comments["p4"].html == ""
    assert comments["p1"].created_at == T0 and comments["p1"].created_at.tzinfo is not None
    assert comments["p1"].body == "First! **Bold** claim."
    assert comments["p1"].html == "<p>First! <strong>Bold</strong> claim.</p>"
    assert comments["p11"].author_id == comments["p12"].author_id
    assert len(comments["p1"].edit_token_hash) == 32
    with db.read() as session:
        stories = {s.url: s for s in session.scalars(select(Story))}
        ann = session.get(Author, comments["p1"].author_id)
    assert set(stories) == {ARTICLE, f"{ORIGIN}/closed"}
    assert stories[ARTICLE].title == "River town floods" and stories[f"{ORIGIN}/closed"].closed
    assert stories[ARTICLE].version > 0
    assert ann is not None and ann.email == "ann@mail.example" and ann.display_name == "Ann"
    assert_consistent(db)


def test_imported_thread_reads_like_a_live_one(db: Database, site: SiteInfo, client: TestClient, export: Path) -> None:
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    page = client.get("/api/v1/threads", params={"site": "courier", "url": ARTICLE, "sort": "oldest"}).json()
    texts = [c["html"] for c in page["comments"]]
    assert "<p>Buy pills</p>" not in texts  # spam is never published
    tombstone = next(c for c in page["comments"] if c["status"] == "deleted")
    assert [r["html"] for r in tombstone["replies"]] == ["<p>Answer to a deleted one</p>"]
    assert page["total"] == 5  # p1, p2, p5, p10, p11: approved on this article


def test_authors_are_matched_by_email_when_allowed(
    db: Database, site: SiteInfo, client: TestClient, export: Path
) -> None:
    live = post(client, "Posted live before the import.", name="Ann", email="ann@mail.example")
    with db.read() as session:
        live_author = session.get(Comment, live["id"]).author_id  # type: ignore[union-attr]
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    assert by_source(db)["p1"].author_id == live_author


def test_authors_are_not_matched_when_not_allowed(
    db: Database, site: SiteInfo, client: TestClient, export: Path
) -> None:
    live = post(client, "Posted live before the import.", name="Ann", email="ann@mail.example")
    with db.read() as session:
        live_author = session.get(Comment, live["id"]).author_id  # type: ignore[union-attr]
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier", match_authors=False)
    assert by_source(db)["p1"].author_id != live_author


def test_a_reader_who_comments_again_continues_their_imported_history(
    db: Database, site: SiteInfo, client: TestClient, export: Path
) -> None:
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier", secret_key=SECRET)
    imported_author = by_source(db)["p1"].author_id
    live = post(client, "Back after the move.", name="Ann", email="ANN@mail.example")
    with db.read() as session:
        assert session.get(Comment, live["id"]).author_id == imported_author  # type: ignore[union-attr]
    # And the other way: importing again into a site where she has posted since changes nothing.
    again = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", secret_key=SECRET)
    assert sum(again.created.values()) == 0


def test_importing_twice_creates_nothing_new(db: Database, site: SiteInfo, export: Path) -> None:
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    before = table_counts(db)
    again = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    assert sum(again.created.values()) == 0 and again.skipped[ALREADY] == 10
    assert table_counts(db) == before
    assert_consistent(db)


def test_dry_run_changes_nothing_and_says_what_it_would_do(db: Database, site: SiteInfo, export: Path) -> None:
    before = table_counts(db)
    dry = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", dry_run=True)
    assert table_counts(db) == before
    real = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    assert dry.created == real.created and dry.skipped == real.skipped and dry.outside == real.outside


def test_the_reader_reports_malformed_posts_by_line_and_reads_fields_from_the_first_element(tmp_path: Path) -> None:
    post_at = "\n".join(
        [
            '  <post><thread dsq:id="t" /><message>No id</message></post>',
            '  <post dsq:id="a"><message>No thread</message><createdAt>2020-01-02T12:00:00Z</createdAt></post>',
            '  <post dsq:id="b"><thread dsq:id="t" /><createdAt>2020-01-02T12:00:00Z</createdAt></post>',
            '  <post dsq:id="c">\n    <thread dsq:id="t" /><parent dsq:id="a" /><createdAt>2020-01-02T12:00:00Z'
            "</createdAt>\n    <message><![CDATA[<p>Hi & bye</p>]]></message><message>Second</message>\n"
            "    <author><name> Cy </name><email>cy@mail.example</email><isAnonymous>false</isAnonymous>"
            "<username>cy</username></author><author><name>Other</name></author>\n  </post>",
        ]
    )
    export = tmp_path / "d.xml"
    export.write_text(DISQUS_HEAD + post_at + "\n</disqus>\n")
    first = DISQUS_HEAD.count("\n") + 1
    records = list(DisqusReader(export).records())
    assert records[:3] == [
        Malformed(f"line {first}", "a <post> without dsq:id"),
        Malformed(f"line {first + 1} (post a)", "the post names no thread", "a"),
        Malformed(f"line {first + 2} (post b)", "the post has no <author>", "b"),
    ]
    comment = records[3]
    assert isinstance(comment, SourceComment)
    assert (comment.source_id, comment.thread_id, comment.parent_id) == ("c", "t", "a")
    assert comment.text == "<p>Hi & bye</p>" and comment.position == f"line {first + 3} (post c)"
    assert comment.author == SourceAuthor(name="Cy", email="cy@mail.example", website=None, username="cy")


# jobs=2: the reading process starts before the file is checked; a file that fails the check stops it.
@pytest.mark.parametrize("jobs", [1, 2])
def test_malformed_file_fails_clearly_and_changes_nothing(
    db: Database, site: SiteInfo, tmp_path: Path, jobs: int
) -> None:
    full = small_export(tmp_path / "full.xml").read_text()
    truncated = tmp_path / "truncated.xml"
    truncated.write_text(full[: int(len(full) * 0.8)])  # cut off mid-file: the first records are fine
    before = table_counts(db)
    with pytest.raises(MalformedFile, match=r"not well-formed XML at line \d+"):
        import_comments(db=db, reader=DisqusReader(truncated), site_slug="courier", jobs=jobs)
    assert table_counts(db) == before
    assert not multiprocessing.active_children()
    wrong = tmp_path / "wrong.xml"
    wrong.write_text("<?xml version='1.0'?><rss><channel/></rss>")
    with pytest.raises(MalformedFile, match="not a Disqus export"):
        import_comments(db=db, reader=DisqusReader(wrong), site_slug="courier", jobs=jobs)
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><disqus xmlns="http://disqus.com">&a;</disqus>'
    )
    with pytest.raises(MalformedFile, match=r"declares the XML entity 'a' at line 1, column \d+: entities are refused"):
        import_comments(db=db, reader=DisqusReader(bomb), site_slug="courier", jobs=jobs)
    assert table_counts(db) == before
    assert not multiprocessing.active_children()


class Interrupted(Exception):
    pass


class StopsAfter(DisqusReader):
    """A reader whose process dies after some records, like a Ctrl-C in the middle of a big import."""

    def __init__(self, path: Path, records: int) -> None:
        super().__init__(path)
        self.limit = records

    def records(self) -> Iterator[Record]:
        for index, record in enumerate(super().records()):
            if index == self.limit:
                raise Interrupted
            yield record


def test_an_interrupted_import_resumes(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    threads = [Thread(str(t), f"{ORIGIN}/news/{t}") for t in range(3)]
    posts = [
        Post(str(i), str(i % 3), f"<p>comment {i}</p>", parent=str(i - 3) if i >= 3 and i % 2 else None)
        for i in range(60)
    ]
    export = disqus_file(tmp_path / "d.xml", threads, posts)
    with pytest.raises(Interrupted):
        import_comments(db=db, reader=StopsAfter(export, 40), site_slug="courier", batch_size=10)
    with db.read() as session:
        partial = len(session.scalars(select(Comment.id)).all())
    assert 0 < partial < 60
    assert_consistent(db)
    resumed = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", batch_size=10)
    assert resumed.skipped[ALREADY] == partial and resumed.created["comments"] == 60 - partial
    assert len(by_source(db)) == 60
    assert_consistent(db)


def test_an_interrupted_import_with_a_reading_process_resumes(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    # More records than the reading process sends at a time (pipeline.CHUNK), so some batches are written
    # before its exception reaches this process.
    threads = [Thread(str(t), f"{ORIGIN}/news/{t}") for t in range(10)]
    posts = [
        Post(str(i), str(i % 10), f"<p>comment {i}</p>", parent=str(i - 10) if i >= 10 and i % 2 else None)
        for i in range(2500)
    ]
    export = disqus_file(tmp_path / "d.xml", threads, posts)
    with pytest.raises(Interrupted):
        import_comments(db=db, reader=StopsAfter(export, 2200), site_slug="courier", batch_size=500, jobs=2)
    with db.read() as session:
        partial = len(session.scalars(select(Comment.id)).all())
    assert 0 < partial < 2500
    assert_consistent(db)
    resumed = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", batch_size=500, jobs=2)
    assert resumed.skipped[ALREADY] == partial and resumed.created["comments"] == 2500 - partial
    assert len(by_source(db)) == 2500
    assert_consistent(db)


def test_replies_keep_the_site_depth_cap(db: Database, tmp_path: Path) -> None:
    from tests.conftest import create_test_site

    create_test_site(db, max_depth=2)
    chain = [Post(str(i), "t", f"<p>level {i}</p>", parent=str(i - 1) if i else None) for i in range(6)]
    export = disqus_file(tmp_path / "chain.xml", [Thread("t", ARTICLE)], chain)
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    comments = by_source(db)
    assert [comments[str(i)].depth for i in range(6)] == [0, 1, 2, 2, 2, 2]
    assert comments["3"].parent_id == comments["1"].id  # attached at the cap, as a live reply would be
    assert_consistent(db)


def test_tombstones_come_alive_through_later_batches(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    # A deleted parent and a deleted grandparent in one batch; the living reply arrives in a later one.
    posts = [
        Post("a", "t", "<p>x</p>", deleted=True),
        Post("b", "t", "<p>x</p>", parent="a", deleted=True),
        *[Post(f"f{i}", "t", "<p>filler</p>") for i in range(5)],
        Post("c", "t", "<p>alive</p>", parent="b"),
    ]
    export = disqus_file(tmp_path / "t.xml", [Thread("t", ARTICLE)], posts)
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier", batch_size=3)
    comments = by_source(db)
    assert comments["a"].reply_count == 1 and comments["b"].reply_count == 1
    assert_consistent(db)


def test_a_gzipped_export_is_read_as_it_is_sent(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    plain = small_export(tmp_path / "disqus.xml")
    packed = tmp_path / "disqus.xml.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    seen: list[tuple[int, int]] = []
    stages: list[tuple[str, int]] = []

    class Recording:
        def update(self, *, done: int, total: int, counts: dict[str, int]) -> None:
            seen.append((done, total))

        def stage(self, description: str) -> None:
            stages.append((description, len(seen)))

    report = import_comments(db=db, reader=DisqusReader(packed), site_slug="courier", progress=Recording())
    assert report.created["comments"] == 10
    # The import's stage counts the file's own bytes; then the indexes set aside for a first import are built.
    assert stages == [("Building indexes", stages[0][1])]
    reading, building = seen[: stages[0][1]], seen[stages[0][1] :]
    assert reading[-1] == (packed.stat().st_size, packed.stat().st_size)
    assert building == [(n, len(building)) for n in range(1, len(building) + 1)] and len(building) == 6
    damaged = tmp_path / "damaged.xml.gz"
    damaged.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    before = table_counts(db)
    with pytest.raises(MalformedFile, match=r"damaged\.xml\.gz is a damaged gzip file"):
        import_comments(db=db, reader=DisqusReader(damaged), site_slug="courier")
    assert table_counts(db) == before


def test_replies_to_spam_or_held_comments_stay_visible(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    posts = [
        Post("a", "t", "<p>Visible</p>"),
        Post("s", "t", "<p>Spam</p>", parent="a", spam=True),
        Post("r", "t", "<p>Answer to the spam</p>", parent="s"),
        Post("h", "t", "<p>Held</p>", extra={"isApproved": "false"}),
        Post("q", "t", "<p>Answer to the held one</p>", parent="h"),
    ]
    export = disqus_file(tmp_path / "d.xml", [Thread("t", ARTICLE)], posts)
    report = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    comments = by_source(db)
    assert comments["r"].parent_id == comments["a"].id and comments["r"].depth == 1
    assert comments["q"].parent_id is None and comments["q"].depth == 0
    assert sum("spam or awaiting moderation" in note for note in report.notes) == 2
    page = client.get("/api/v1/threads", params={"site": "courier", "url": ARTICLE, "sort": "oldest"}).json()
    shown = [c["html"] for c in page["comments"]] + [r["html"] for c in page["comments"] for r in c["replies"]]
    assert sorted(shown) == ["<p>Answer to the held one</p>", "<p>Answer to the spam</p>", "<p>Visible</p>"]
    assert page["total"] == 3
    assert_consistent(db)


def test_worker_processes_give_the_same_import(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    serial_site = create_test_site(db, slug="serial")
    assert serial_site.slug == "serial"
    export = small_export(tmp_path / "disqus.xml")
    one = import_comments(db=db, reader=DisqusReader(export), site_slug="serial")
    two = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", jobs=2, batch_size=3)
    assert (one.created, one.skipped, one.notes) == (two.created, two.skipped, two.notes)

    def shape(slug: str) -> dict[str, tuple[object, ...]]:
        with db.read() as session:
            rows = session.execute(
                select(ImportedItem.source_id, Comment.body, Comment.html, Comment.status, Comment.depth)
                .join(Comment, Comment.id == ImportedItem.target_id)
                .join(Site, Site.id == Comment.site_id)
                .where(ImportedItem.kind == "comment", Site.slug == slug)
            ).all()
        return {row[0]: tuple(row[1:]) for row in rows}

    assert shape("courier") == shape("serial") and len(shape("courier")) == 10
    assert_consistent(db)
