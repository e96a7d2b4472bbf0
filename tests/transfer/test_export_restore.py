"""`parlour export` and `parlour restore` on both databases: the format, no secrets, refusals, the round trip."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient
from typer.testing import CliRunner

from parlour.accounts.access import Staff
from parlour.accounts.users import create_user
from parlour.app import create_app
from parlour.cli import app
from parlour.clock import utcnow
from parlour.comments import markup
from parlour.db import migrate
from parlour.db.engine import Database, connect
from parlour.db.tables import Author, Comment, MailAddress, Site, StaffRole, StaffUser, WebhookEndpoint
from parlour.errors import Conflict, InvalidInput
from parlour.moderation import actions
from parlour.notifications import addresses
from parlour.sites.service import hash_api_key
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.export import FORMAT, SECTIONS, VERSION, end_line, export_site, snapshot
from parlour.transfer.importer import import_comments
from parlour.transfer.restore import NO_PASSWORD, restore_export
from tests.backup_support import empty_database
from tests.conftest import SECRET, STORY, DatabaseUnderTest, SiteInfo, make_settings, post
from tests.transfer.checks import assert_consistent, table_counts
from tests.transfer.test_disqus import small_export

SSO_SECRET = "sso-shared-secret-" + "s" * 32
WEBHOOK_SECRET = "whsec-" + "w" * 40
PASSWORD = "correct horse battery staple"


def populate(db: Database, client: TestClient, tmp_path: Path) -> None:
    """A site with every kind of row the export carries: imported and live comments, reactions, reports, audit."""
    import_comments(db=db, reader=DisqusReader(small_export(tmp_path / "disqus.xml")), site_slug="courier")
    first = post(client, "Live comment with a [link](https://example.org).", name="Live", email="live@mail.example")
    reply = post(client, "A reply.", parent_id=first["id"], name="Other")
    assert client.put(f"/api/v1/comments/{first['id']}/reaction").status_code == 200
    report = client.post(f"/api/v1/comments/{reply['id']}/reports", json={"reason": "spam", "message": "ads"})
    assert report.status_code == 201, report.text
    with db.write() as session:
        site = session.scalar(select(Site).where(Site.slug == "courier"))
        assert site is not None
        site.settings = {**site.settings, "sso_algorithm": "HS256", "sso_secret": SSO_SECRET}
        user = create_user(
            session=session,
            email="mod@courier.example",
            display_name="Mod",
            password=PASSWORD,
            role=StaffRole.MODERATOR,
            site_slugs=["courier"],
        )
        session.add(
            WebhookEndpoint(
                site_id=site.id,
                url="https://hooks.example/parlour",
                secret=WEBHOOK_SECRET,
                events=["comment.posted"],
                created_at=site.created_at,
            )
        )
        staff = Staff.of(user)
    with db.write() as session:
        actions.reject(session=session, staff=staff, comment_id=reply["id"], reason="Advertising.")
        actions.claim(session=session, staff=staff, comment_id=first["id"])
        # Readers' e-mail: one address confirmed (it hears about replies), one that unsubscribed from everything,
        # and a staff member's own digest address, which belongs to no site and stays behind.
        site_id = session.scalar(select(Site.id).where(Site.slug == "courier"))
        assert site_id is not None
        confirmed = addresses.ensure_reader_address(session, site_id, "live@mail.example")
        addresses.confirm(session, confirmed, now=utcnow())
        gone = addresses.ensure_reader_address(session, site_id, "gone@mail.example")
        addresses.confirm(session, gone, now=utcnow())
        addresses.set_subscription(session, gone.id, addresses.ALL, active=False)
        addresses.ensure_staff_address(session, user)


def export_bytes(db: Database) -> bytes:
    out = io.BytesIO()
    export_site(db=db, site_slug="courier", out=out)
    return out.getvalue()


def lines(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def test_export_is_versioned_json_lines_without_secrets(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    populate(db, client, tmp_path)
    data = export_bytes(db)
    records = lines(data)
    assert records[0] == {"type": "header", "format": FORMAT, "version": VERSION}
    rows = records[1:-1]
    assert records[-1] == {
        "type": "end",
        "lines": len(rows),
        "counts": {s.type: sum(1 for r in rows if r["type"] == s.type) for s in SECTIONS},
    }
    kinds = {r["type"] for r in rows}
    assert kinds == {
        "site",
        "staff_user",
        "story",
        "author",
        "mail_address",
        "mail_address_author",
        "mail_subscription",
        "comment",
        "reaction",
        "report",
        "moderation_action",
        "webhook_endpoint",
        "imported_item",
    }
    (site_line,) = [r for r in records if r["type"] == "site"]
    assert "api_key_hash" not in site_line and "sso_secret" not in site_line["settings"]
    assert site_line["settings"]["sso_algorithm"] == "HS256"  # the configuration travels, its key does not
    assert all("password_hash" not in r for r in records if r["type"] == "staff_user")
    assert all("secret" not in r for r in records if r["type"] == "webhook_endpoint")
    with db.read() as session:
        hashes = [session.scalar(select(Site.api_key_hash)), session.scalar(select(StaffUser.password_hash))]
    for secret in [SSO_SECRET, WEBHOOK_SECRET, PASSWORD, site.api_key, *hashes]:
        assert secret and secret.encode() not in data
    comments = [r for r in records if r["type"] == "comment"]
    assert {c["status"] for c in comments} == {"approved", "rejected", "deleted", "removed"}
    sources = {r["source_id"] for r in records if r["type"] == "imported_item" and r["kind"] == "comment"}
    assert "p1" in sources  # where each imported comment came from


def test_export_restore_export_is_identical(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    populate(db, client, tmp_path)
    first = export_bytes(db)
    path = tmp_path / "courier.jsonl"
    path.write_bytes(first)

    result = restore_export(db=empty_target, path=path)

    assert export_bytes(empty_target) == first
    # Every row of the site's tables came back (the staff member's digest address and its one subscription are
    # not the site's, and stay behind).
    exported_tables = {section.table for section in SECTIONS}
    restored_counts, source_counts = table_counts(empty_target), table_counts(db)
    source_counts["mail_addresses"] -= 1
    source_counts["mail_subscriptions"] -= 1
    assert {t: restored_counts[t] for t in exported_tables} == {t: source_counts[t] for t in exported_tables}
    assert result.site_slug == "courier" and result.webhooks_rekeyed == 1 and result.sso_secret_reset
    assert result.staff_without_password == ["mod@courier.example"]
    assert result.counts["comment"] == sum(1 for r in lines(first) if r["type"] == "comment")
    with empty_target.read() as session:
        restored = session.scalar(select(Site))
        assert restored is not None and restored.api_key_hash == hash_api_key(result.api_key)
        assert restored.settings["sso_secret"] not in {None, SSO_SECRET}  # fails closed until it is set again
        assert session.scalar(select(StaffUser.password_hash)) == NO_PASSWORD
        assert session.scalar(select(WebhookEndpoint.secret)) != WEBHOOK_SECRET
    assert_consistent(empty_target)
    with empty_target.read() as session:
        site_id = session.scalar(select(Site.id))
        assert site_id is not None
        live = addresses.preferences(session, site_id, "live@mail.example")
        assert live.confirmed and live.categories["reply"]
        author = session.scalar(select(Author).where(Author.email == "live@mail.example"))
        assert author is not None
        assert addresses.author_address(session, site_id, author, "reply") is not None
        gone = addresses.reader_address(session, site_id, "gone@mail.example")
        assert gone is not None and not addresses.wants(session, gone, addresses.ALL)
        # The staff member's digest address did not travel: the staff row came back, not their mail settings.
        assert session.scalar(select(func.count()).select_from(MailAddress)) == 2
    # New rows after a restore get new ids (PostgreSQL's sequences were moved past the restored ones).
    with empty_target.write() as session:
        top = session.scalar(select(Comment.id).order_by(Comment.id.desc()).limit(1))
        clone = session.scalar(select(Comment).where(Comment.id == top))
        assert clone is not None
        session.expunge(clone)
        values = {c.key: getattr(clone, c.key) for c in Comment.__table__.columns if c.key != "id"}
        fresh = Comment(**values)
        session.add(fresh)
        session.flush()
        assert fresh.id > (top or 0)


def test_restore_refuses_a_database_that_holds_data(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    populate(db, client, tmp_path)
    path = tmp_path / "courier.jsonl"
    path.write_bytes(export_bytes(db))
    before = table_counts(db)
    with pytest.raises(Conflict, match=r"The database is not empty \(it holds 1 sites, \d+ stories"):
        restore_export(db=db, path=path)
    assert table_counts(db) == before


def whole(header: bytes, rows: list[bytes]) -> list[bytes]:
    """An export of these row lines, with an end line that counts them (as an edit that kept it honest would)."""
    counts = Counter(orjson.loads(row)["type"] for row in rows)
    return [header, *rows, orjson.dumps(end_line(counts))]


def test_a_bad_export_is_refused_and_restores_nothing(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    populate(db, client, tmp_path)
    header, *good, _end = export_bytes(db).splitlines()
    before = table_counts(empty_target)

    def refused(name: str, content: list[bytes], match: str) -> None:
        path = tmp_path / name
        path.write_bytes(b"\n".join(content) + b"\n")
        with pytest.raises(InvalidInput, match=match):
            restore_export(db=empty_target, path=path)
        assert table_counts(empty_target) == before

    refused("no-header.jsonl", whole(header, good)[1:], "not a Parlour export")
    newer = orjson.dumps({"type": "header", "format": FORMAT, "version": VERSION + 1})
    refused("newer.jsonl", whole(newer, good), f"version {VERSION + 1}; this Parlour reads 1 to {VERSION}")
    # A line broken near the end: everything before it was inserted in the same transaction, and is undone.
    broken = [header, *good[:-1], b'{"type": "comment", "id": ', _end]
    refused("broken.jsonl", broken, r"line \d+ is not JSON")
    refused("unknown.jsonl", [header, *good, b'{"type": "wallet", "id": 1}', _end], "unknown type 'wallet'")
    bad_field = orjson.dumps({**orjson.loads(good[-1]), "password": "x"})
    refused("field.jsonl", whole(header, [*good, bad_field]), "unknown field")
    dangling = [line for line in good if b'"type":"reaction"' not in line]
    dangling.insert(len(dangling) - 1, orjson.dumps({"type": "reaction", "id": 999, "comment_id": 123456}))
    refused(
        "dangling.jsonl",
        whole(header, dangling),
        rf"does not hold together: line {len(dangling)}: reaction 999 refers to comment 123456, which no line "
        r"before it holds\. Nothing was restored\.$",
    )
    # Authors taken out: the first line that names one says which line it is and which author it misses.
    no_authors = [line for line in good if b'"type":"author"' not in line]
    first = next(i for i, line in enumerate(no_authors) if orjson.loads(line).get("author_id"))
    record = orjson.loads(no_authors[first])
    refused(
        "no-authors.jsonl",
        whole(header, no_authors),
        rf"line {first + 2}: {record['type']}( \d+)? refers to author {record['author_id']}, which no line before",
    )
    comment = orjson.loads(next(line for line in good if b'"type":"comment"' in line))
    refused("repeat.jsonl", whole(header, [*good, orjson.dumps(comment)]), rf"comment {comment['id']} repeats the id")
    own_parent = {**comment, "id": 777, "parent_id": 777}
    refused("own.jsonl", whole(header, [*good, orjson.dumps(own_parent)]), "comment 777 is its own parent")


def test_a_file_cut_short_or_without_its_end_line_is_refused(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    populate(db, client, tmp_path)
    data = export_bytes(db)
    header, *rows, end = data.splitlines()
    before = table_counts(empty_target)

    def refused(content: bytes, match: str) -> None:
        path = tmp_path / "courier.jsonl"
        path.write_bytes(content)
        with pytest.raises(InvalidInput, match=match):
            restore_export(db=empty_target, path=path)
        assert table_counts(empty_target) == before

    # Cut at any point: in a line, or between lines (the end line is missing either way).
    refused(data[: len(data) // 3], "does not end with the export's end line: it is incomplete")
    refused(b"\n".join([header, *rows[:5]]) + b"\n", "does not end with the export's end line")
    # Comment lines lost in the middle, though the end line survived: it names what is missing.
    comments = [r for r in rows if b'"type":"comment"' in r]
    kept = [r for r in rows if r not in comments[3:]]
    lost = len(comments) - 3
    refused(
        b"\n".join([header, *kept, end]) + b"\n",
        rf"the end line counts {len(comments)} comment line\(s\) but the file holds 3; {len(rows)} lines in all but "
        rf"the file holds {len(rows) - lost}\. The file is incomplete",
    )
    refused(b"\n".join([header, *rows, end, rows[-1], end]) + b"\n", r"line \d+ comes after the end line")


def test_restore_sets_the_counters_from_the_rows(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    populate(db, client, tmp_path)
    first = post(client, "Top.")
    for _ in range(3):
        post(client, "A reply.", parent_id=first["id"])
    assert client.put(f"/api/v1/comments/{first['id']}/reaction").status_code == 200
    header, *rows, _end = export_bytes(db).splitlines()
    records = [orjson.loads(r) for r in rows]
    replies = [r for r in records if r["type"] == "comment" and r["parent_id"] == first["id"]]
    # Two replies and the reaction lost, and an end line that agrees with what is left (an edited file).
    lost = {id(replies[0]), id(replies[1])} | {id(r) for r in records if r["type"] == "reaction"}
    kept = [orjson.dumps(r) for r in records if id(r) not in lost]
    path = tmp_path / "edited.jsonl"
    path.write_bytes(b"\n".join(whole(header, kept)) + b"\n")

    result = restore_export(db=empty_target, path=path)

    assert_consistent(empty_target)
    with empty_target.read() as session:
        top = session.get(Comment, first["id"])
        assert top is not None and top.reply_count == 1 and top.reaction_count == 0
        assert all(c.reaction_count == 0 for c in session.scalars(select(Comment)))
    assert any("did not agree with its rows and were computed again" in w for w in result.warnings)


def test_a_version_1_export_restores_with_a_warning_and_counters_recomputed(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    populate(db, client, tmp_path)
    _header, *rows, _end = export_bytes(db).splitlines()
    old_header = orjson.dumps({"type": "header", "format": FORMAT, "version": 1})
    kept = [r for r in rows if b'"type":"mail_' not in r]  # version 1 had no mail lines
    cut = kept[: next(i for i, r in enumerate(kept) if b'"type":"comment"' in r) + 2]  # and was cut short
    path = tmp_path / "old.jsonl"
    path.write_bytes(b"\n".join([old_header, *cut]) + b"\n")

    result = restore_export(db=empty_target, path=path)

    assert result.counts["comment"] == 2
    assert any("version 1 export, which has no end line" in w for w in result.warnings)
    assert_consistent(empty_target)


def test_the_commands_export_and_restore(
    database: DatabaseUnderTest, db: Database, site: SiteInfo, client: TestClient, tmp_path: Path
) -> None:
    populate(db, client, tmp_path)
    runner = CliRunner()
    out = tmp_path / "courier.jsonl"
    env = {"PARLOUR_DATABASE_URL": database.url, "PARLOUR_SECRET_KEY": SECRET}
    exported = runner.invoke(app, ["export", "--site", "courier", "--output", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert lines(out.read_bytes())[0]["version"] == VERSION
    refused = runner.invoke(app, ["restore", str(out)], env=env)
    assert refused.exit_code == 1 and "The database is not empty" in refused.output
    with empty_database(database.backend, tmp_path) as url:
        migrate.upgrade(url)
        restored = runner.invoke(app, ["restore", str(out)], env=env | {"PARLOUR_DATABASE_URL": url})
        assert restored.exit_code == 0, restored.output
        assert "Restored site courier" in restored.output and "New API key (shown once): pk_" in restored.output
        assert " stories" in restored.output and "storys" not in restored.output
        assert "set it (`parlour site update" in restored.output
        target = connect(url)
        try:
            assert export_bytes(target) == out.read_bytes()
        finally:
            target.dispose()


XSS = '<img src=x onerror="alert(document.cookie)">'


def tampered(data: bytes, change: Any) -> bytes:
    """The export with `change(record)` applied to every row line (it edits the dict in place)."""
    out = []
    for line in data.splitlines():
        record = orjson.loads(line)
        change(record)
        out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"


def test_restore_renders_html_again_and_ignores_the_files_html(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    empty_target_url: str,
) -> None:
    populate(db, client, tmp_path)
    planted = post(client, "Plain words, and <b>a tag</b> typed as text.", name="Plain")

    def plant(record: dict[str, Any]) -> None:
        if record["type"] == "comment" and record["status"] != "deleted":
            record["html"] = XSS  # the column the widget inserts as HTML
            record["markup_version"] = 0

    path = tmp_path / "tampered.jsonl"
    path.write_bytes(tampered(export_bytes(db), plant))

    restore_export(db=empty_target, path=path)

    with empty_target.read() as session:
        restored = session.scalars(select(Comment)).all()
    assert restored and all(c.markup_version == markup.MARKUP_VERSION for c in restored)
    for comment in restored:
        assert comment.html == ("" if comment.status == "deleted" else markup.render(comment.body)), comment.id
    with TestClient(create_app(make_settings(empty_target_url)), base_url="https://comments.example") as served:
        page = served.get("/api/v1/threads", params={"site": "courier", "url": STORY})
        assert page.status_code == 200, page.text
        assert "onerror" not in page.text
        shown = {c["id"]: c["html"] for c in page.json()["comments"]}
        assert shown[planted["id"]] == "<p>Plain words, and &lt;b&gt;a tag&lt;/b&gt; typed as text.</p>"
    # A file nobody touched comes back the same: the HTML it carried was what the renderer gives.
    assert export_bytes(empty_target) == export_bytes(db)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"settings": {"max_depth": 1000}}, r"line 2: the site's settings\.max_depth is refused: .*less than or equal"),
        ({"settings": {"script_url": "https://evil.example/x.js"}}, r"settings\.script_url is refused: Extra"),
        ({"settings": {"sign_in": "required"}}, r"line 2: the site's settings is refused: .*sign_in"),
        ({"slug": "../other"}, r"line 2: the site's slug is refused"),
        ({"allowed_origins": ["javascript:alert(1)"]}, r"line 2: the site's allowed_origins are refused"),
    ],
)
def test_restore_checks_the_site_as_the_api_does(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    change: dict[str, Any],
    refusal: str,
) -> None:
    post(client, "A comment.")

    def edit(record: dict[str, Any]) -> None:
        if record["type"] == "site":
            record.update(change)

    path = tmp_path / "tampered.jsonl"
    path.write_bytes(tampered(export_bytes(db), edit))
    before = table_counts(empty_target)
    with pytest.raises(InvalidInput, match=refusal):
        restore_export(db=empty_target, path=path)
    assert table_counts(empty_target) == before


def test_restore_refuses_an_unknown_status_by_line(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    post(client, "A comment.")

    def edit(record: dict[str, Any]) -> None:
        if record["type"] == "comment":
            record["status"] = "featured"

    path = tmp_path / "tampered.jsonl"
    path.write_bytes(tampered(export_bytes(db), edit))
    with pytest.raises(InvalidInput, match=r"line \d+: status 'featured' is not one of pending, approved"):
        restore_export(db=empty_target, path=path)


def test_an_export_reads_one_snapshot_on_either_database(db: Database, site: SiteInfo) -> None:
    """What another writer commits while an export reads is in none of its sections (PostgreSQL: REPEATABLE READ)."""
    with db.read() as session:
        snapshot(session)
        names = session.scalars(select(Site.name)).all()
        with db.write() as other:
            other.execute(text("UPDATE sites SET name = name || '!'"))
        assert session.scalars(select(Site.name)).all() == names
    with db.read() as session:
        assert session.scalars(select(Site.name)).all() != names
