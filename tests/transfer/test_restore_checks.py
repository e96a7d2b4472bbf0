"""`parlour restore` holds every line to the API's rules: what the API refuses refuses the restore, by line.

Each test edits an export the way someone who had the file on its way could, keeping the end line honest, and
checks that the restore names the line and what is wrong with it, and writes nothing; or, where the API cleans
rather than refuses, that the restored row is what the API would have stored.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.accounts.access import Staff
from parlour.accounts.users import create_user
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, MailAddress, Site, StaffRole, Story, WebhookEndpoint
from parlour.errors import InvalidInput
from parlour.moderation import actions
from parlour.notifications import addresses
from parlour.sites.schemas import SiteSettings
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.export import end_line
from parlour.transfer.importer import import_comments
from parlour.transfer.restore import restore_export
from parlour.transfer.restore_checks import LineChecks
from tests.api.test_security_payloads import BAD_WEBSITES, DATA, HOSTILE_NAMES, website_errors
from tests.conftest import ORIGIN, STORY, SiteInfo, post
from tests.transfer.checks import assert_consistent, table_counts
from tests.transfer.conftest import stub_resolve
from tests.transfer.test_disqus import small_export
from tests.transfer.test_export_restore import export_bytes

Record = dict[str, Any]


def records_of(db: Database) -> list[Record]:
    """The export's row lines (header and end line left out: `write` puts them back)."""
    return [orjson.loads(line) for line in export_bytes(db).splitlines()[1:-1]]


def write(path: Path, records: list[Record]) -> Path:
    """An export of these rows, with an end line that counts them, as an edit that kept the file honest would."""
    header = {"type": "header", "format": "parlour-export", "version": 2}
    counts = Counter(r["type"] for r in records)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [header, *records, end_line(counts)]))
    return path


def line_of(records: list[Record], record: Record) -> int:
    return next(i for i, r in enumerate(records) if r is record) + 2  # the header is line 1


def first(records: list[Record], kind: str, where: Callable[[Record], bool] = lambda _r: True) -> Record:
    return next(r for r in records if r["type"] == kind and where(r))


def assert_refused(target: Database, path: Path, match: str) -> None:
    before = table_counts(target)
    with pytest.raises(InvalidInput, match=match):
        restore_export(db=target, path=path)
    assert table_counts(target) == before


def add_webhook(db: Database, url: str = "https://hooks.example/parlour", **extra: Any) -> None:
    with db.write() as session:
        site = session.scalar(select(Site))
        assert site is not None
        session.add(
            WebhookEndpoint(
                site_id=site.id, url=url, secret="s" * 40, events=["comment.created"], created_at=utcnow(), **extra
            )
        )


# --- 1. webhook endpoints ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "a loopback address"),
        ("http://internal:8080/hook", "internal resolves to 10.0.0.5, a private address"),
        ("http://metadata.example/", "metadata.example resolves to 169.254.169.254, a link-local address"),
        ("https://hooks.example:22/", "port 22 is not a web port"),
        ("file:///etc/passwd", "must start with https:// or http://"),
        ("gopher://hooks.example/", "must start with https:// or http://"),
        ("javascript:alert(1)", "must start with https:// or http://"),
        ("https://user:pw@hooks.example/", "must not carry a user name or password"),
        ("https://nowhere.invalid/hook", "could not be resolved"),
    ],
)
def test_a_webhook_url_the_api_refuses_refuses_the_restore(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database, url: str, reason: str
) -> None:
    post(client, "A comment.")
    add_webhook(db)
    records = records_of(db)
    endpoint = first(records, "webhook_endpoint")
    endpoint["url"] = url

    path = write(tmp_path / "hook.jsonl", records)

    line = line_of(records, endpoint)
    assert_refused(empty_target, path, rf"line {line}: webhook_endpoint {endpoint['id']}'s url is refused: .*{reason}")


def test_a_webhook_allowed_private_networks_comes_back_inactive_and_without_it(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    post(client, "A comment.")
    add_webhook(db, url="http://10.0.0.7:8080/hook", allow_private_network=True)
    path = tmp_path / "private.jsonl"
    path.write_bytes(export_bytes(db))

    result = restore_export(db=empty_target, path=path)

    with empty_target.read() as session:
        endpoint = session.scalar(select(WebhookEndpoint))
        assert endpoint is not None
        assert endpoint.url == "http://10.0.0.7:8080/hook"
        assert not endpoint.allow_private_network and not endpoint.active
    (warning,) = [w for w in result.warnings if "allowed private networks" in w]
    assert f"PATCH /api/v1/sites/courier/webhooks/{endpoint.id}" in warning


def test_a_webhook_allowed_private_networks_still_needs_a_web_url(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    post(client, "A comment.")
    add_webhook(db, url="http://10.0.0.7:8080/hook", allow_private_network=True)
    records = records_of(db)
    endpoint = first(records, "webhook_endpoint")
    endpoint["url"] = "file:///etc/passwd"
    path = write(tmp_path / "private.jsonl", records)
    assert_refused(empty_target, path, rf"line {line_of(records, endpoint)}: .*must start with https:// or http://")


def test_every_open_redirect_and_ssrf_payload_as_a_webhook_url_is_refused_by_line() -> None:
    """Without DNS (the stub knows three names), only a public address written out may pass; refusals name the line."""
    lines = (DATA / "payloadsallthethings" / "open-redirect" / "Open-Redirect-payloads.txt").read_text().splitlines()
    ssrf = ["http://0.0.0.0/", "http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://10.0.0.1/"]
    failures = []
    for number, url in enumerate([*lines, *ssrf], start=1):
        checks = site_checks()
        try:
            checks.check("webhook_endpoint", {"id": 1, "site_id": 1, "url": url}, number)
        except InvalidInput as exc:
            if not exc.detail.startswith(f"line {number}: webhook_endpoint 1's url is refused: "):
                failures.append(f"{url!r}: {exc.detail}")
        else:
            if not is_public_address(urlsplit(url).hostname or ""):
                failures.append(f"{url!r} was taken")
    assert not failures, "\n".join(failures)


def is_public_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_global


def site_checks(**settings: Any) -> LineChecks:
    checks = LineChecks(resolver=stub_resolve, warnings=[])
    checks.restored_site(1, 1, "courier", SiteSettings.model_validate(settings), [ORIGIN])
    return checks


# --- 2. staff users ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        # Refused by name before this change too (the column's known values): kept as a guard.
        ({"role": "superuser"}, r"role 'superuser' is not one of admin, moderator, staff"),
        ({"email": "not-an-address"}, r"staff_user \d+'s email is refused: A valid e-mail address is required"),
        ({"email": None}, r"staff_user \d+'s email is refused"),
    ],
)
def test_a_staff_user_with_an_unknown_role_or_no_address_refuses_the_restore(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    change: Record,
    refusal: str,
) -> None:
    comment = post(client, "A comment.")
    with db.write() as session:
        user = create_user(
            session=session,
            email="mod@courier.example",
            display_name="Mod",
            password="correct horse battery staple",
            role=StaffRole.MODERATOR,
            site_slugs=["courier"],
        )
        actions.claim(session=session, staff=Staff.of(user), comment_id=comment["id"])
    records = records_of(db)
    staff = first(records, "staff_user")
    staff.update(change)
    path = write(tmp_path / "staff.jsonl", records)
    assert_refused(empty_target, path, rf"line {line_of(records, staff)}: {refusal}")


# --- 3. readers' e-mail addresses ----------------------------------------------------------------------------


def with_address(db: Database, client: TestClient) -> None:
    post(client, "A comment.", email="reader@mail.example")
    with db.write() as session:
        site_id = session.scalar(select(Site.id))
        assert site_id is not None
        address = addresses.ensure_reader_address(session, site_id, "reader@mail.example")
        addresses.confirm(session, address, now=utcnow())


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"email": "not-an-address"}, "mail_address 1's email is refused: value is not a valid email address"),
        ({"email": "javascript:alert(1)@x.com"}, "mail_address 1's email is refused"),
        ({"email": "a" * 320 + "@mail.example"}, "mail_address 1's email is refused"),
        ({"email": ["reader@mail.example"]}, "mail_address 1's email is refused"),
        ({"confirmed_at": "2026-01-01T00:00:00"}, "confirmed_at '2026-01-01T00:00:00' is a time without a timezone"),
        ({"confirmed_at": "yesterday"}, "Invalid isoformat string"),
        ({"site_id": None, "staff_user_id": 1}, "mail_address 1 belongs to site None"),
    ],
)
def test_a_mail_address_the_api_would_not_hold_refuses_the_restore(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    change: Record,
    refusal: str,
) -> None:
    with_address(db, client)
    records = records_of(db)
    address = first(records, "mail_address")
    assert address["id"] == 1
    address.update(change)
    path = write(tmp_path / "mail.jsonl", records)
    assert_refused(empty_target, path, rf"line {line_of(records, address)}: .*{refusal}")


def test_a_confirmed_address_stays_confirmed(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    with_address(db, client)
    path = tmp_path / "mail.jsonl"
    path.write_bytes(export_bytes(db))

    restore_export(db=empty_target, path=path)

    with db.read() as source, empty_target.read() as restored:
        assert restored.scalar(select(MailAddress.confirmed_at)) == source.scalar(select(MailAddress.confirmed_at))
        assert restored.scalar(select(MailAddress.confirmed_at)) is not None


# --- 4. comment bodies and authors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "refusal"),
    [
        ("display_name", "a" * 65, "display_name is refused: The display name is longer than 64 characters"),
        ("display_name", " \x00\n ", "display_name is refused: A display name is required"),
        ("display_name", 7, "display_name is refused: Input should be a valid string"),
        ("website", "javascript:alert(1)", "website is refused: Only http and https URLs are accepted"),
        ("website", "data:text/html,<script>alert(1)</script>", "website is refused"),
        ("website", "http://x.com/?'onmouseover='alert(1)'x='", "website is refused: The URL contains characters"),
    ],
)
def test_an_author_the_api_would_refuse_refuses_the_restore(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    column: str,
    value: Any,
    refusal: str,
) -> None:
    post(client, "A comment.", name="Reader")
    records = records_of(db)
    author = first(records, "author")
    author[column] = value
    path = write(tmp_path / "author.jsonl", records)
    assert_refused(empty_target, path, rf"line {line_of(records, author)}: author {author['id']}'s {refusal}")


def test_an_author_and_a_body_are_cleaned_as_the_api_cleans_them(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    post(client, "A comment.", name="Reader", website="https://reader.example/")
    records = records_of(db)
    author, comment = first(records, "author"), first(records, "comment")
    author["display_name"] = "Mal\x00lory\r\n   Smith"
    author["website"] = "HTTPS://Reader.Example/a%20b"
    comment["body"] = "  Text\x00 with a\r\nbreak.  "
    path = write(tmp_path / "clean.jsonl", records)

    restore_export(db=empty_target, path=path)

    with empty_target.read() as session:
        restored = session.scalar(select(Author))
        assert restored is not None
        assert (restored.display_name, restored.website) == ("Mallory Smith", "https://reader.example/a%20b")
        assert session.scalar(select(Comment.body)) == "Text with a\nbreak."


def test_an_imported_comment_may_be_longer_than_the_sites_limit(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    import_comments(db=db, reader=DisqusReader(small_export(tmp_path / "disqus.xml")), site_slug="courier")
    records = records_of(db)
    limit = first(records, "site")["settings"]["max_body_chars"]
    imported_ids = {r["target_id"] for r in records if r["type"] == "imported_item" and r["kind"] == "comment"}
    imported = first(records, "comment", lambda r: r["id"] in imported_ids and r["status"] == "approved")
    imported["body"] = "i" * (limit + 1000)  # `parlour import` takes these: a site's limit is for new comments
    path = write(tmp_path / "imported-long.jsonl", records)

    restore_export(db=empty_target, path=path)

    with empty_target.read() as session:
        assert session.scalar(select(Comment.body).where(Comment.id == imported["id"])) == imported["body"]
    assert_consistent(empty_target)


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        (None, "a comment's body must be text"),
        ("   \n\x00 ", "body is refused: The comment is empty"),
        ("w" * 100_001, "body is refused: The comment is 100001 characters long; the limit is 100000"),
    ],
)
def test_a_body_the_api_would_refuse_refuses_the_restore(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    body: Any,
    refusal: str,
) -> None:
    post(client, "A comment.")
    records = records_of(db)
    comment = first(records, "comment")
    comment["body"] = body
    path = write(tmp_path / "body.jsonl", records)
    assert_refused(empty_target, path, rf"line {line_of(records, comment)}: .*{refusal}")


def test_a_live_comment_over_the_sites_limit_refuses_the_restore(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    post(client, "A comment.")
    records = records_of(db)
    limit = first(records, "site")["settings"]["max_body_chars"]
    comment = first(records, "comment")
    comment["body"] = "x" * (limit + 1)
    path = write(tmp_path / "long.jsonl", records)
    assert_refused(
        empty_target,
        path,
        rf"line {line_of(records, comment)}: comment {comment['id']}'s body is {limit + 1:,} characters long; "
        rf"the site's limit is {limit:,}, and only imported comments may be longer",
    )


def test_hostile_names_and_websites_are_refused_by_line_or_stored_plain() -> None:
    """The API's payload lists through the author check: a refusal names the line; what passes is plain."""
    failures = []
    for number, (name, website) in enumerate(
        [*((n, None) for n in HOSTILE_NAMES), *(("Reader", w) for w in BAD_WEBSITES)], start=1
    ):
        values: Record = {"id": 1, "site_id": 1, "display_name": name, "website": website}
        try:
            site_checks().check("author", values, number)
        except InvalidInput as exc:
            if not exc.detail.startswith(f"line {number}: author 1's "):
                failures.append(f"{name!r} {website!r}: {exc.detail}")
            continue
        if len(values["display_name"]) > 64 or any(c in values["display_name"] for c in "\r\n\x00"):
            failures.append(f"name {values['display_name']!r} is not one line of 64 characters at most")
        if values["website"] is not None:
            failures += website_errors(values["website"])
    assert not failures, "\n".join(failures)


# --- 5. story URLs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("https://evil.example/world/a", "https://evil.example/world/a is not on an origin this site allows"),
        ("https://news.example.evil.example/a", "https://news.example.evil.example/a is not on an origin this site"),
        ("http://news.example/world/a", "http://news.example/world/a is not on an origin this site allows"),
        ("javascript:alert(1)", "Only http and https URLs are accepted"),
        ("//news.example/world/a", "Only http and https URLs are accepted"),
        (None, "A URL of 1 to 2048 characters is required"),
    ],
)
def test_a_story_off_the_sites_origins_refuses_the_restore(
    db: Database,
    site: SiteInfo,
    client: TestClient,
    tmp_path: Path,
    empty_target: Database,
    url: Any,
    refusal: str,
) -> None:
    post(client, "A comment.")
    records = records_of(db)
    story = first(records, "story")
    story["url"] = url
    path = write(tmp_path / "story.jsonl", records)
    assert_refused(
        empty_target, path, rf"line {line_of(records, story)}: story {story['id']}'s url is refused: {refusal}"
    )


def test_a_story_url_is_stored_in_its_canonical_form(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    post(client, "A comment.")
    records = records_of(db)
    first(records, "story")["url"] = STORY.upper().replace("HTTPS://NEWS.EXAMPLE", "https://NEWS.example") + (
        "/./?utm_source=newsletter"
    )
    path = write(tmp_path / "story.jsonl", records)

    restore_export(db=empty_target, path=path)

    with empty_target.read() as session:
        assert session.scalar(select(Story.url)) == f"{ORIGIN}{STORY.removeprefix(ORIGIN).upper()}"


# --- 6. comment depth and parents ----------------------------------------------------------------------------


def chain(client: TestClient, length: int) -> list[int]:
    ids = [post(client, "Top.")["id"]]
    for _ in range(length - 1):
        ids.append(post(client, "A reply.", parent_id=ids[-1])["id"])
    return ids


def restored_threads(target: Database) -> dict[int, tuple[int | None, int]]:
    with target.read() as session:
        return {c.id: (c.parent_id, c.depth) for c in session.scalars(select(Comment))}


def test_depth_comes_from_the_thread_not_the_file(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    ids = chain(client, 3)
    records = records_of(db)
    for record in records:
        if record["type"] == "comment":
            record["depth"] = 7
    path = write(tmp_path / "depth.jsonl", records)

    result = restore_export(db=empty_target, path=path)

    assert restored_threads(empty_target) == {ids[0]: (None, 0), ids[1]: (ids[0], 1), ids[2]: (ids[1], 2)}
    assert any("3 comment(s) had a parent or depth in the file" in w for w in result.warnings)
    assert_consistent(empty_target)


def test_replies_deeper_than_the_sites_max_depth_attach_at_the_cap(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    ids = chain(client, 4)  # depths 0, 1, 2, 3
    records = records_of(db)
    first(records, "site")["settings"]["max_depth"] = 1
    path = write(tmp_path / "cap.jsonl", records)

    restore_export(db=empty_target, path=path)

    # As the API places a reply to a comment at the cap: beside it, under the parent's parent.
    assert restored_threads(empty_target) == {
        ids[0]: (None, 0),
        ids[1]: (ids[0], 1),
        ids[2]: (ids[0], 1),
        ids[3]: (ids[0], 1),
    }
    assert_consistent(empty_target)


def test_a_parent_on_another_story_or_a_later_line_refuses_the_restore(
    db: Database, site: SiteInfo, client: TestClient, tmp_path: Path, empty_target: Database
) -> None:
    elsewhere = post(client, "On another story.", url=f"{ORIGIN}/world/other")
    top = post(client, "Top.")
    reply = post(client, "A reply.", parent_id=top["id"])
    records = records_of(db)
    line = first(records, "comment", lambda r: r["id"] == reply["id"])
    line["parent_id"] = elsewhere["id"]
    assert_refused(
        empty_target,
        write(tmp_path / "other-story.jsonl", records),
        rf"line {line_of(records, line)}: comment {reply['id']} replies to comment {elsewhere['id']}, which is on "
        "another story",
    )
    earlier = first(records, "comment", lambda r: r["id"] == top["id"])
    earlier["parent_id"] = reply["id"]
    line["parent_id"] = top["id"]
    assert_refused(
        empty_target,
        write(tmp_path / "later.jsonl", records),
        rf"line {line_of(records, earlier)}: comment {top['id']} replies to comment {reply['id']}, which no line "
        "before it holds",
    )
