"""Imported authors are told apart as live anonymous authors are: by e-mail address and name together."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, ImportedItem
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.importer import ALREADY, import_comments
from parlour.transfer.prepare import MAX_KEY, author_key
from tests.conftest import ORIGIN, SECRET, SiteInfo, post
from tests.transfer.checks import assert_consistent, table_counts
from tests.transfer.factories import Post, Thread, disqus_file

ARTICLE = f"{ORIGIN}/world/2020/01/01/shared-inbox"


def shared_address(path: Path) -> Path:
    posts = [
        Post("p1", "t1", "<p>Ann writes</p>", name="Ann", email="family@mail.example"),
        Post("p2", "t1", "<p>Bob writes</p>", name="Bob", email="family@mail.example"),
        Post("p3", "t1", "<p>Ann again</p>", name="Ann", email="FAMILY@mail.example"),
        Post("p4", "t1", "<p>Carl, new here</p>", name="Carl", email="carl@mail.example"),
    ]
    return disqus_file(path, [Thread("t1", ARTICLE)], posts)


def authors_by_comment(db: Database) -> dict[str, Author]:
    with db.read() as session:
        rows = session.execute(
            select(ImportedItem.source_id, Author)
            .join(Comment, Comment.id == ImportedItem.target_id)
            .join(Author, Author.id == Comment.author_id)
            .where(ImportedItem.kind == "comment")
        ).all()
    return dict(rows)


def test_people_sharing_an_address_stay_apart_and_keep_their_names(
    db: Database, site: SiteInfo, tmp_path: Path
) -> None:
    export = shared_address(tmp_path / "d.xml")
    report = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    authors = authors_by_comment(db)
    assert report.created["authors"] == 3
    assert authors["p1"].id == authors["p3"].id and authors["p1"].display_name == "Ann"
    assert authors["p2"].id != authors["p1"].id and authors["p2"].display_name == "Bob"
    assert authors["p2"].email == authors["p1"].email == "family@mail.example"
    before = table_counts(db)
    again = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    assert sum(again.created.values()) == 0 and again.skipped[ALREADY] == 4
    assert table_counts(db) == before
    assert_consistent(db)


def test_a_live_author_is_matched_only_under_the_same_name(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    live = post(client, "Posted live before the import.", url=ARTICLE, name="Bob", email="family@mail.example")
    with db.read() as session:
        bob = session.get(Comment, live["id"]).author_id  # type: ignore[union-attr]
    export = shared_address(tmp_path / "d.xml")
    dry = import_comments(db=db, reader=DisqusReader(export), site_slug="courier", dry_run=True)
    report = import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    authors = authors_by_comment(db)
    assert authors["p2"].id == bob
    assert authors["p1"].id != bob and authors["p3"].id != bob
    assert dry.created == report.created and report.created["authors"] == 2
    with db.read() as session:
        assert session.get(Author, bob).display_name == "Bob"  # type: ignore[union-attr]


def test_each_name_under_a_shared_address_continues_its_own_history(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    export = shared_address(tmp_path / "d.xml")
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier", secret_key=SECRET)
    imported = authors_by_comment(db)
    for name, source in (("Ann", "p1"), ("Bob", "p2")):
        live = post(client, f"{name} is back.", url=ARTICLE, name=name, email="family@mail.example")
        with db.read() as session:
            assert session.get(Comment, live["id"]).author_id == imported[source].id  # type: ignore[union-attr]


def test_author_keys_fit_the_imported_items_column() -> None:
    assert author_key("ann@mail.example", "Ann") == "Ann <ann@mail.example>"
    long = author_key("a" * 300 + "@mail.example", "Ann")
    assert len(long) <= MAX_KEY and long != author_key("a" * 300 + "@mail.example", "Bob")
