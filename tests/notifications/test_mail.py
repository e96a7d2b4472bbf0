"""E-mail notifications end to end: events queue, the background worker sends to a real SMTP server, links work."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update
from starlette.testclient import TestClient

from parlour.accounts.access import Staff
from parlour.accounts.users import create_user
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Comment, CommentStatus, MailAddress, MailMessage, MailStatus, StaffRole
from parlour.moderation import actions
from parlour.notifications import digests
from parlour.notifications.worker import MailWorker
from parlour.settings import Settings
from tests.conftest import STORY, create_test_site, post, run_async
from tests.identity.tokens import SITE_KEYS, sign_in
from tests.notifications.conftest import FAST, Mailbox, SmtpServer, eventually

BASE = "https://comments.example"
URL = re.compile(r"""https?://[^\s"'<>]+""")
ANN = "ann@reader.example"
EVIL = (
    "**bold** <script>alert(1)</script> <b>tag</b> [click](https://evil.example/x) ![i](https://evil.example/i.png)"
    " or visit www.evil.example/win"
)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    return text.get_content(), markup.get_content()


def links(message: EmailMessage) -> list[str]:
    text, markup = parts(message)
    found = URL.findall(text) + [m.replace("&amp;", "&") for m in re.findall(r'href="([^"]+)"', markup)]
    assert found and all(link.startswith(BASE + "/") for link in found), found
    return found


def link(message: EmailMessage, path: str) -> str:
    return next(u for u in links(message) if urlsplit(u).path == path)


def local(url: str) -> str:
    """The path and query of one of our links, for the test client."""
    parts_ = urlsplit(url)
    return f"{parts_.path}?{parts_.query}"


def confirmed_reader(client: TestClient, mailbox: Mailbox, email: str = ANN, name: str = "Ann", **kw: Any) -> int:
    """Ann posts with her address, gets the confirmation e-mail, and confirms; returns her comment's id."""
    before = len(mailbox.messages)
    comment_id: int = post(client, "Ann's first comment.", name=name, email=email, **kw)["id"]
    confirm = mailbox.wait(before + 1)[-1]
    assert client.post(local(link(confirm, "/mail/confirm"))).status_code == 200
    return comment_id


def address(db: Database, email: str = ANN) -> MailAddress:
    with db.read() as session:
        found = session.scalars(select(MailAddress).where(MailAddress.email == email)).one()
        session.expunge(found)
        return found


def outbox(db: Database) -> list[MailMessage]:
    with db.read() as session:
        rows = list(session.scalars(select(MailMessage).order_by(MailMessage.id)))
        for row in rows:
            session.expunge(row)
        return rows


def moderate(client: TestClient, db: Database, fn: Any, **kwargs: Any) -> None:
    with db.write() as session:
        outcome = fn(session=session, **kwargs)
    client.app.state.parlour.bus.publish(outcome.events)  # type: ignore[attr-defined]


def make_moderator(db: Database, email: str = "mod@courier.example") -> Staff:
    with db.write() as session:
        user = create_user(
            session=session,
            email=email,
            display_name="Mod",
            password="pw-" + "x" * 12,
            role=StaffRole.MODERATOR,
            site_slugs=["courier"],
        )
        return Staff.of(user)


class TestDoubleOptIn:
    def test_confirmation_request_contents_and_headers(
        self, client: TestClient, db: Database, mailbox: Mailbox
    ) -> None:
        create_test_site(db)
        post(client, name="Ann", email=ANN)
        [message] = mailbox.wait(1)
        assert mailbox.recipients == [[ANN]]
        assert message["To"] == ANN and message["From"] == "Courier <comments@courier.example>"
        assert message["Subject"] == "Confirm e-mail notifications from Courier"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith(f"<{BASE}/mail/unsubscribe?t=") and unsubscribe.endswith(">")
        # On the wire the header is the literal <URL> (RFC 8058), not encoded words that clients would ignore.
        assert f"\r\nList-Unsubscribe: {unsubscribe}\r\n".encode() in mailbox.raw[0], mailbox.raw[0][:600]
        assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
        text, markup = parts(message)
        assert "Nothing is sent until you confirm" in text and "Nothing is sent until you confirm" in markup
        # Links only to the public base URL, even though the request came to another host.
        assert {urlsplit(u).path for u in links(message)} == {"/mail/confirm", "/mail/unsubscribe"}
        assert "attacker.example" not in message.as_string()
        # The same address posting again the same day is not asked twice; no address, no e-mail.
        post(client, "Second.", name="Ann", email=ANN)
        post(client, "No address.", name="Bo")
        mailbox.stays(1)

    def test_get_only_shows_post_confirms(self, client: TestClient, db: Database, mailbox: Mailbox) -> None:
        create_test_site(db)
        post(client, name="Ann", email=ANN)
        confirm = link(mailbox.wait(1)[0], "/mail/confirm")
        page = client.get(local(confirm))
        assert page.status_code == 200 and "Confirm my address" in page.text and ANN in page.text
        assert page.headers["cache-control"] == "no-store"
        assert address(db).confirmed_at is None  # a mail scanner opening the link confirms nothing
        done = client.post(local(confirm))
        assert done.status_code == 200 and "is confirmed" in done.text
        assert address(db).confirmed_at is not None
        assert client.post(local(confirm)).status_code == 200  # clicking twice is fine

    def test_links_cannot_be_forged_or_moved_to_another_address(
        self, client: TestClient, db: Database, mailbox: Mailbox
    ) -> None:
        create_test_site(db)
        post(client, name="Ann", email=ANN)
        post(client, name="Bo", email="bo@reader.example")
        ann_mail, _bo_mail = sorted(mailbox.wait(2), key=lambda m: str(m["To"]))
        ann_token = parse_qs(urlsplit(link(ann_mail, "/mail/confirm")).query)["t"][0]
        bo_id = address(db, "bo@reader.example").id
        ann_id, category, expires, mac = ann_token.split(".")
        unsubscribe_token = parse_qs(urlsplit(link(ann_mail, "/mail/unsubscribe")).query)["t"][0]
        forged = [
            f"{bo_id}.{category}.{expires}.{mac}",  # Ann's signature on Bo's address
            f"{ann_id}.{category}.{int(expires) + 86400}.{mac}",  # a later expiry
            f"{ann_id}.reply.{expires}.{mac}",  # another category
            f"{ann_id}.{category}.{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
            f"{ann_id}.{category}.{expires}",
            "999999.all.0." + "A" * 32,
            "not-a-token",
            unsubscribe_token,  # signed, but for another purpose
        ]
        for token in forged:
            response = client.post("/mail/confirm", params={"t": token})
            assert response.status_code in (403, 404), (token, response.status_code)
            assert "does not work" in response.text
        assert client.post("/mail/confirm").status_code == 422
        assert (address(db).confirmed_at, address(db, "bo@reader.example").confirmed_at) == (None, None)

    def test_expired_confirmation_link(self, client: TestClient, db: Database, mailbox: Mailbox) -> None:
        create_test_site(db)
        post(client, name="Ann", email=ANN)
        confirm = link(mailbox.wait(1)[0], "/mail/confirm")
        with db.write() as session:
            # Re-sign the same link as if it had been sent eight days ago.
            from parlour.notifications import links as signing

            row = session.scalars(select(MailAddress)).one()
            old = int((utcnow() - timedelta(days=1)).timestamp())
            token = signing.sign(
                secret_key=client.app.state.parlour.settings.secret_key,  # type: ignore[attr-defined]
                purpose="confirm",
                address_id=row.id,
                email=row.email,
                category="all",
                expires=old,
            )
        assert confirm != token
        assert client.post("/mail/confirm", params={"t": token}).status_code == 403
        assert address(db).confirmed_at is None


class TestNotifications:
    def test_reply_quotes_plain_text_only(self, client: TestClient, db: Database, mailbox: Mailbox) -> None:
        create_test_site(db)
        parent = confirmed_reader(client, mailbox)
        post(client, "Ann answers herself.", name="Ann", email=ANN, parent_id=parent)
        reply = post(client, EVIL, name="Bo <b>Evil</b>", parent_id=parent)["id"]
        message = mailbox.wait(2)[1]
        assert message["To"] == ANN
        assert message["Subject"] == "Bo <b>Evil</b> replied to your comment"
        text, markup = parts(message)
        assert "> Ann's first comment." in text or "> Ann’s first comment." in text
        assert "bold" in text and "alert(1)" in text  # the words, as plain text
        # In the text part the reader's words are only text; in the HTML part they are escaped; links are gone.
        assert "> bold <script>alert(1)</script> <b>tag</b> click !i or visit www[.]evil[.]example/win" in text
        for body in (text, markup):
            assert "evil.example" not in body and "<img" not in body
        assert "<script" not in markup and "&lt;script&gt;" in markup
        # The HTML part has only our own markup: every tag from a short allowlist, every link to our base URL.
        assert set(re.findall(r"<([a-z]+)", markup)) <= {"html", "body", "p", "blockquote", "br", "a"}
        assert "&lt;b&gt;Evil&lt;/b&gt;" in markup
        go = link(message, f"/go/{reply}")
        redirect = client.get(local(go), follow_redirects=False)
        assert redirect.status_code == 303 and redirect.headers["location"] == f"{STORY}#comment-{reply}"
        mailbox.stays(2)  # Ann's reply to herself told nobody

    def test_a_stranger_typing_a_confirmed_address_gets_its_owner_no_mail(
        self, client: TestClient, db: Database, mailbox: Mailbox
    ) -> None:
        create_test_site(db)
        anns = confirmed_reader(client, mailbox)  # message 1: the confirmation request
        # Mallory types Ann's address under another name: another author, whom Ann never confirmed.
        mallorys = post(client, "Something Ann never said.", name="Mallory", email=ANN)["id"]
        post(client, "A reply to Mallory.", name="Dan", parent_id=mallorys)
        moderator = make_moderator(db)
        moderate(client, db, actions.set_featured, staff=moderator, comment_id=mallorys, featured=True)
        mailbox.stays(1)
        # Ann's own comments still reach her.
        post(client, "A reply to Ann.", name="Dan", parent_id=anns)
        assert mailbox.wait(2)[1]["Subject"] == "Dan replied to your comment"
        mailbox.stays(2)

    def test_one_click_unsubscribe(self, client: TestClient, db: Database, mailbox: Mailbox) -> None:
        create_test_site(db)
        parent = confirmed_reader(client, mailbox)
        post(client, "First reply.", name="Bo", parent_id=parent)
        message = mailbox.wait(2)[1]
        target = message["List-Unsubscribe"].strip("<>")
        assert parse_qs(urlsplit(target).query)["t"][0].split(".")[1] == "reply"
        # Opening the link only asks (a mail scanner may open it); the button or the one-click POST acts.
        asked = client.get(local(target))
        assert asked.status_code == 200 and "Stop sending" in asked.text and '<form method="post">' in asked.text
        post(client, "A reply while only asked.", name="Bo", parent_id=parent)
        mailbox.wait(3)
        # RFC 8058: the mail provider POSTs this form body, without cookies or any login.
        response = client.post(
            local(target),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200 and "will no longer receive replies" in response.text
        post(client, "Second reply.", name="Bo", parent_id=parent)
        mailbox.stays(3)
        # Other categories are still on: the moderators' decisions reach Ann.
        moderator = make_moderator(db)
        moderate(client, db, actions.set_featured, staff=moderator, comment_id=parent, featured=True)
        assert mailbox.wait(4)[3]["Subject"] == "Your comment was featured"

    def test_moderation_decisions_with_reason(self, client: TestClient, db: Database, mailbox: Mailbox) -> None:
        create_test_site(db, moderation_mode="pre")
        held = confirmed_reader(client, mailbox)
        second = post(client, "Second, held too.", name="Ann", email=ANN)["id"]
        moderator = make_moderator(db)
        moderate(client, db, actions.approve, staff=moderator, comment_id=held)
        approved = mailbox.wait(2)[1]
        assert approved["Subject"] == "Your comment is published"
        assert "> Ann's first comment." in parts(approved)[0] or "Ann’s first comment" in parts(approved)[0]
        reason = "Off topic <i>sorry</i>, see https://rules.example/faq"
        moderate(client, db, actions.reject, staff=moderator, comment_id=second, reason=reason)
        rejected = mailbox.wait(3)[2]
        assert rejected["Subject"] == "Your comment was not published"
        text, markup = parts(rejected)
        assert "Off topic <i>sorry</i>, see https[:]//rules[.]example/faq" in text
        assert "<i>" not in markup and "rules.example" not in markup
        links(rejected)
        # Taken down after it was published: said as a removal, not as "not published".
        moderate(client, db, actions.reject, staff=moderator, comment_id=held, reason="Personal attack")
        removed = mailbox.wait(4)[3]
        assert removed["Subject"] == "Your comment was removed"
        assert "A moderator removed your comment" in parts(removed)[0]

    def test_signed_in_reader_opts_in_from_the_profile(
        self, client: TestClient, db: Database, mailbox: Mailbox
    ) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        ada = sign_in(client)
        payload = {"site": "courier", "url": STORY, "body": "Ada's comment."}
        parent = client.post("/api/v1/comments", json=payload, headers=ada).json()["id"]
        post(client, "A reply before Ada opted in.", name="Bo", parent_id=parent)
        mailbox.stays(0)  # no confirmation request either: the publisher vouches for the address
        assert client.patch("/api/v1/reader/notifications", json={"reply": True}, headers=ada).status_code == 200
        post(client, "A reply after.", name="Bo", parent_id=parent)
        [message] = mailbox.wait(1)
        assert message["To"] == "ada@reader.example" and message["Subject"] == "Bo replied to your comment"
        # Deleting the account forgets the address, its choices and its outbox.
        assert client.delete("/api/v1/reader", headers=ada).status_code == 200
        with db.read() as session:
            assert session.scalars(select(MailAddress)).all() == []
        assert outbox(db) == []

    def test_manage_page_switches_to_a_daily_digest(
        self, client: TestClient, db: Database, mailbox: Mailbox, settings: Settings
    ) -> None:
        create_test_site(db)
        parent = confirmed_reader(client, mailbox)
        post(client, "Reply one.", name="Bo", parent_id=parent)
        manage = link(mailbox.wait(2)[1], "/mail/manage")
        page = client.get(local(manage))
        assert page.status_code == 200 and 'value="reply" checked' in page.text
        form = "category=reply&category=moderation&frequency=daily"
        saved = client.post(
            local(manage), content=form.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert saved.status_code == 200 and "Your choices are saved" in saved.text
        assert 'value="featured" checked' not in saved.text
        post(client, "Reply two.", name="Cy", parent_id=parent)
        post(client, "Reply three.", name="Di", parent_id=parent)
        eventually(lambda: sum(r.status is MailStatus.HELD for r in outbox(db)) == 2)
        mailbox.stays(2, seconds=0.5)
        # Tomorrow, after the digest hour, the worker bundles both into one message.
        tomorrow = utcnow() + timedelta(days=1)
        worker = MailWorker(db=db, settings=settings, policy=FAST)
        run_async(lambda: worker.run_once(tomorrow.replace(hour=settings.mail_digest_hour, minute=1)))
        digest = mailbox.wait(3)[2]
        assert digest["Subject"] == "2 updates on your comments"
        text, _ = parts(digest)
        assert "Cy replied" in text and "Di replied" in text
        assert {r.status for r in outbox(db)} == {MailStatus.SENT, MailStatus.BUNDLED}

    def test_moderator_digest_of_queue_sizes(
        self, client: TestClient, db: Database, mailbox: Mailbox, settings: Settings
    ) -> None:
        create_test_site(db, moderation_mode="pre")
        make_moderator(db)
        post(client, "Held one.", name="Bo")
        post(client, "Held two.", name="Cy")
        assert digests.queue_staff_digests(db=db, now=utcnow(), hour=0) == 1
        assert digests.queue_staff_digests(db=db, now=utcnow(), hour=0) == 0  # once a day
        client.app.state.parlour  # noqa: B018 - the app's worker polls the outbox on its own
        [message] = mailbox.wait(1)
        assert message["To"] == "mod@courier.example"
        assert message["Subject"] == "Moderation queues: 2 pending, 0 reported"
        assert "Courier: 2 pending" in parts(message)[0]
        assert f"{BASE}/admin/" in links(message)
        target = message["List-Unsubscribe"].strip("<>")
        assert client.post(local(target), content=b"List-Unsubscribe=One-Click").status_code == 200
        tomorrow = utcnow() + timedelta(days=1)
        assert digests.queue_staff_digests(db=db, now=tomorrow, hour=0) == 0


class TestDelivery:
    def test_smtp_outage_retries_and_delivers_once(
        self, client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpServer
    ) -> None:
        create_test_site(db)
        smtp.stop()
        created = client.post(
            "/api/v1/comments",
            json={
                "site": "courier",
                "url": STORY,
                "body": "While SMTP is down.",
                "author": {"name": "A", "email": ANN},
            },
        )
        assert created.status_code == 201  # the request never waits for SMTP
        eventually(lambda: (rows := outbox(db)) != [] and rows[0].attempts >= 3)
        [row] = outbox(db)
        assert row.status is MailStatus.PENDING and "Connect" in row.last_error
        smtp.start()
        mailbox.wait(1)
        eventually(lambda: outbox(db)[0].status is MailStatus.SENT)
        mailbox.stays(1)
        assert len({m["Message-ID"] for m in mailbox.messages}) == 1

    def test_temporary_refusal_is_retried(self, client: TestClient, db: Database, mailbox: Mailbox) -> None:
        create_test_site(db)
        mailbox.refuse = 2
        post(client, name="Ann", email=ANN)
        mailbox.wait(1)
        eventually(lambda: outbox(db)[0].status is MailStatus.SENT)
        [row] = outbox(db)
        assert row.attempts == 3
        mailbox.stays(1)

    def test_no_smtp_no_outbox(self, db: Database, settings: Settings) -> None:
        from parlour.app import create_app
        from tests.conftest import make_settings

        plain = make_settings(settings.database_url)
        with TestClient(create_app(plain)) as no_mail:
            create_test_site(db)
            post(no_mail, name="Ann", email=ANN)
        assert outbox(db) == []


def test_the_read_it_link_leads_only_to_comments_readers_can_see(client: TestClient, db: Database) -> None:
    create_test_site(db)
    shown = post(client, "Published.")["id"]
    held, rejected, removed, deleted = (post(client, f"Not shown {n}.")["id"] for n in range(4))
    tombstone = post(client, "Removed, but its reply holds it in place.")["id"]
    post(client, "A reply.", parent_id=tombstone)
    with db.write() as session:
        for comment_id, status in (
            (held, CommentStatus.PENDING),
            (rejected, CommentStatus.REJECTED),
            (removed, CommentStatus.REMOVED),
            (deleted, CommentStatus.DELETED),
            (tombstone, CommentStatus.REMOVED),
        ):
            session.execute(update(Comment).where(Comment.id == comment_id).values(status=status))
    for listed in (shown, tombstone):
        redirect = client.get(f"/go/{listed}", follow_redirects=False)
        assert redirect.status_code == 303 and redirect.headers["location"] == f"{STORY}#comment-{listed}"
    unknown = client.get("/go/999999", follow_redirects=False)
    assert unknown.status_code == 404
    for hidden in (held, rejected, removed, deleted):
        answer = client.get(f"/go/{hidden}", follow_redirects=False)
        assert (answer.status_code, answer.text, "location" in answer.headers) == (404, unknown.text, False)
