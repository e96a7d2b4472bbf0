"""The moderation dashboard in headless Chromium against a real `parlour serve`, on SQLite and on PostgreSQL.

Each test gets its own site and a moderator limited to it, so the queues it sees hold only its own comments.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from parlour.accounts.users import create_user
from parlour.db.engine import connect
from parlour.db.tables import Author, AuthorStatus, Comment, CommentStatus, StaffRole
from tests.browser.widget_support import AXE, ORIGIN, UNGUARDED, Reader, Server, story_url
from tests.conftest import SECRET, DatabaseUnderTest, backends, empty
from tests.e2e.server import PARLOUR, free_port, kill_group, wait_until_up

pytestmark = pytest.mark.slow

ADMIN_KEY = "admin-" + secrets.token_urlsafe(24)
PASSWORD = "correct horse " + secrets.token_urlsafe(12)
STEP_MS = 10_000  # the longest any one expectation may wait
# Records what must never happen on a dashboard page: CSP violations, whether reported to the console or not.
CSP_WATCH = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));"""


@dataclass
class Desk:
    """The running server, with helpers to make sites, moderators and comments through its public interfaces."""

    base_url: str
    db_url: str
    api: httpx.Client
    keys: dict[str, str] = field(default_factory=dict)
    numbers: Iterator[int] = field(default_factory=itertools.count)

    def new_site(self, mode: str, **settings: Any) -> str:
        slug = f"desk{next(self.numbers)}"
        response = self.api.post(
            "/api/v1/sites",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            json={
                "slug": slug,
                "name": f"Desk {slug}",
                "allowed_origins": [ORIGIN, self.base_url],
                "settings": {"moderation_mode": mode, **UNGUARDED, **settings},
            },
        )
        assert response.status_code == 201, response.text
        self.keys[slug] = response.json()["api_key"]
        return slug

    def new_moderator(self, site: str, name: str = "mod") -> str:
        email = f"{name}-{site}@newsroom.example"
        db = connect(self.db_url)
        try:
            with db.write() as session:
                create_user(
                    session=session,
                    email=email,
                    display_name=f"{name.title()} {site}",
                    password=PASSWORD,
                    role=StaffRole.MODERATOR,
                    site_slugs=[site],
                )
        finally:
            db.dispose()
        return email

    def post(
        self, site: str, story: str, body: str, name: str, *, email: str | None = None, parent: int | None = None
    ) -> httpx.Response:
        author: dict[str, Any] = {"name": name} | ({"email": email} if email else {})
        data: dict[str, Any] = {"site": site, "url": story_url(story), "body": body, "author": author}
        if parent is not None:
            data["parent_id"] = parent
        return self.api.post("/api/v1/comments", json=data)

    def comment(self, site: str, story: str, body: str, name: str, **kwargs: Any) -> int:
        response = self.post(site, story, body, name, **kwargs)
        assert response.status_code == 201, response.text
        comment_id: int = response.json()["id"]
        return comment_id

    def statuses(self, ids: list[int]) -> dict[int, str]:
        db = connect(self.db_url)
        try:
            with db.read() as session:
                rows = session.execute(select(Comment.id, Comment.status).where(Comment.id.in_(ids)))
                return {int(i): CommentStatus(s).value for i, s in rows}
        finally:
            db.dispose()

    def author_status(self, comment_id: int) -> str:
        db = connect(self.db_url)
        try:
            with db.read() as session:
                status = session.scalar(
                    select(Author.status).join(Comment, Comment.author_id == Author.id).where(Comment.id == comment_id)
                )
                return AuthorStatus(status).value
        finally:
            db.dispose()


@pytest.fixture(scope="module", params=backends())
def desk(request: pytest.FixtureRequest) -> Iterator[Desk]:
    """`parlour serve` with one worker (live updates go through the in-memory broker) on a free loopback port."""
    test_db: DatabaseUnderTest = request.getfixturevalue(f"{request.param}_database")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "PARLOUR_DATABASE_URL": test_db.url,
        "PARLOUR_SECRET_KEY": SECRET,
        "PARLOUR_ADMIN_API_KEY": ADMIN_KEY,
        "PARLOUR_PUBLIC_BASE_URL": base_url,
        "PARLOUR_LOG_LEVEL": "warning",
    }
    command = [PARLOUR, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        # Nothing else reads the server's output: drain it so a chatty log never blocks the server.
        assert process.stdout is not None
        threading.Thread(target=process.stdout.read, daemon=True).start()
        wait_until_up(base_url, process)
        with httpx.Client(base_url=base_url, timeout=15) as api:
            yield Desk(base_url, test_db.url, api)
    finally:
        kill_group(process, signal.SIGTERM)
        empty(test_db)


class Moderator:
    """One moderator's signed-in browser, recording script errors, console errors and CSP violations."""

    def __init__(self, context: BrowserContext, desk: Desk, email: str) -> None:
        self.context = context
        self.desk = desk
        self.errors: list[str] = []
        context.add_init_script(CSP_WATCH)
        self.page: Page = context.new_page()
        self.page.set_default_timeout(STEP_MS)
        self.watch(self.page)
        self.sign_in(email)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("dialog", lambda dialog: (self.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def sign_in(self, email: str) -> None:
        page = self.page
        page.goto(f"{self.desk.base_url}/admin")
        expect(page).to_have_url(re.compile(r"/admin/login\?next="))
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{self.desk.base_url}/admin/queues/pending")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Pending")

    def open(self, queue: str) -> Page:
        self.page.goto(f"{self.desk.base_url}/admin/queues/{queue}")
        self.wait_live()
        return self.page

    def wait_live(self) -> None:
        """admin.js has started: the first item is outlined, or the empty notice shows."""
        self.page.wait_for_function(
            "() => document.querySelector('.items > li.card[aria-current=true]')"
            " || !document.getElementById('queue-empty').hidden"
        )

    def card_ids(self) -> list[int]:
        ids: list[str] = self.page.locator("#items > li.card").evaluate_all("els => els.map(e => e.dataset.id)")
        return [int(i) for i in ids]

    def focused_card(self) -> int | None:
        """The item whose card body has the keyboard focus (None when the focus is elsewhere)."""
        found = self.page.evaluate(
            """() => { const el = document.activeElement;
                       return el && el.matches('.card-body') ? el.closest('li.card').dataset.id : null; }"""
        )
        return int(found) if found else None

    def wait_focus(self, comment_id: int) -> None:
        deadline = time.monotonic() + STEP_MS / 1000
        while self.focused_card() != comment_id and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.focused_card() == comment_id, (comment_id, self.focused_card(), self.card_ids())

    def count(self, queue: str) -> Any:
        return expect(self.page.locator(f'#queue-nav a[href^="/admin/queues/{queue}"] .count'))

    def assert_quiet(self, *provoked: int) -> None:
        """Nothing went wrong but the HTTP answers a test provoked on purpose."""
        expected = tuple(f"Failed to load resource: the server responded with a status of {n} " for n in provoked)
        self.errors = [e for e in self.errors if not e.startswith(expected)] if expected else self.errors
        violations: list[str] = []
        for page in self.context.pages:
            if not page.is_closed():
                violations += page.evaluate("() => window.__cspViolations || []")
        assert violations == [], violations
        assert self.errors == [], self.errors


@contextmanager
def moderator(browser: Browser, desk: Desk, email: str) -> Iterator[Moderator]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield Moderator(context, desk, email)
    finally:
        context.close()


def until(check: Callable[[], bool], seconds: float = STEP_MS / 1000) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sign_in_is_required_and_then_lands_on_the_pending_queue(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    with moderator(browser, desk, email) as mod:
        page = mod.page
        expect(page.locator(".topbar .who")).to_contain_text(f"Mod {site}")
        expect(page.locator("#queue-empty")).to_be_visible()
        # Signing out ends the session: the queue asks for a sign-in again.
        page.get_by_role("button", name="Sign out").click()
        page.goto(f"{desk.base_url}/admin/queues/pending")
        expect(page).to_have_url(f"{desk.base_url}/admin/login?next=%2Fadmin%2Fqueues%2Fpending")
        mod.assert_quiet()


def test_the_pending_queue_is_cleared_by_keyboard_alone(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    ids = [desk.comment(site, "keys", f"Held comment number {n}.", f"Reader {n}") for n in range(4)]
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        assert mod.card_ids() == ids  # work queues are cleared oldest first
        mod.count("pending").to_contain_text("4")
        page.set_viewport_size({"width": 1280, "height": 600})
        expect(page.locator(f"#item-{ids[3]} .card-body")).not_to_be_in_viewport()

        # j and k move the selection, with the focus, and stop at the ends.
        page.keyboard.press("j")
        mod.wait_focus(ids[1])
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("j")
        mod.wait_focus(ids[3])
        # The focused item is in view and visibly marked.
        expect(page.locator(f"#item-{ids[3]} .card-body")).to_be_in_viewport()
        ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert ring not in ("", "none"), ring
        for _ in range(4):
            page.keyboard.press("k")
        mod.wait_focus(ids[0])
        expect(page.locator(f"#item-{ids[0]}")).to_have_attribute("aria-current", "true")

        # a approves; the next item takes the focus.
        page.keyboard.press("a")
        expect(page.locator(f"#item-{ids[0]}")).to_have_count(0)
        mod.wait_focus(ids[1])
        mod.count("pending").to_contain_text("3")
        expect(page.locator("#queue-title .total")).to_have_text("3")

        # u takes it back within the undo window: the item returns, selected, and the count with it.
        expect(page.locator("#toasts .toast[data-undo]")).to_contain_text("Approved")
        page.keyboard.press("u")
        expect(page.locator(f"#item-{ids[0]}")).to_have_count(1)
        mod.wait_focus(ids[0])
        mod.count("pending").to_contain_text("4")
        assert desk.statuses([ids[0]]) == {ids[0]: "pending"}

        # r opens the reason with the cursor in its note; Enter rejects; Escape would have closed it.
        page.keyboard.press("r")
        note = page.locator(f"#item-{ids[0]} details[data-action=reject] input[name=reason]")
        expect(note).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator(f"#item-{ids[0]} details[data-action=reject]")).not_to_have_attribute("open", "")
        mod.wait_focus(ids[0])
        page.keyboard.press("r")
        expect(note).to_be_focused()
        page.keyboard.type("selling watches")
        page.keyboard.press("Enter")
        expect(page.locator(f"#item-{ids[0]}")).to_have_count(0)
        mod.wait_focus(ids[1])

        # r then Enter at once: the first listed reason is the default.
        page.keyboard.press("r")
        page.keyboard.press("Enter")
        expect(page.locator(f"#item-{ids[1]}")).to_have_count(0)
        mod.wait_focus(ids[2])

        page.keyboard.press("a")
        mod.wait_focus(ids[3])
        page.keyboard.press("a")
        expect(page.locator("#items > li.card")).to_have_count(0)
        expect(page.locator("#queue-empty")).to_be_visible()
        mod.count("pending").to_contain_text("0")
        expect(page.locator("#queue-title .total")).to_have_text("0")

        assert desk.statuses(ids) == {
            ids[0]: "rejected",
            ids[1]: "rejected",
            ids[2]: "approved",
            ids[3]: "approved",
        }
        thread = desk.api.get("/api/v1/threads", params={"site": site, "url": story_url("keys")}).json()
        assert sorted(c["id"] for c in thread["comments"]) == [ids[2], ids[3]]
        mod.assert_quiet()


def test_a_rejected_comment_leaves_a_tombstone_with_its_replies_on_the_article(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("post")
    email = desk.new_moderator(site)
    parent = desk.comment(site, "tomb", "A comment that breaks the rules.", "Rude")
    replies = [
        desk.comment(site, "tomb", "A calm answer to it.", "Calm", parent=parent),
        desk.comment(site, "tomb", "Another answer.", "Other", parent=parent),
    ]
    with moderator(browser, desk, email) as mod:
        page = mod.open("unmoderated")  # post-moderation: published, waiting to be seen
        assert mod.card_ids() == [parent, *replies]
        page.keyboard.press("j")
        page.keyboard.press("k")
        mod.wait_focus(parent)
        page.keyboard.press("r")
        expect(page.locator(f"#item-{parent} details[data-action=reject] input[name=reason]")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(f"#item-{parent}")).to_have_count(0)
        mod.wait_focus(replies[0])
        assert desk.statuses([parent]) == {parent: "removed"}
        # f features the reply: seen by a moderator now, it leaves this queue, and the next reply is up.
        page.keyboard.press("f")
        expect(page.locator(f"#item-{replies[0]}")).to_have_count(0)
        mod.wait_focus(replies[1])
        expect(page.locator("#toasts .toast")).to_contain_text("Featured")

        reader = Reader(mod.context, Server(desk.base_url, desk.api, desk.keys))
        mod.watch(reader.page)
        article = reader.open_story("tomb", site=site)
        widget = article.locator("#parlour-thread")
        expect(widget.locator(f"#comment-{parent} .c-tomb")).to_have_text("This comment was removed by a moderator.")
        # The replies stay where they were, under the tombstone.
        expect(widget.locator(f"#comment-{parent} #comment-{replies[0]} .c-body")).to_have_text("A calm answer to it.")
        expect(widget.locator(f"#comment-{parent} #comment-{replies[1]} .c-body")).to_have_text("Another answer.")
        expect(widget).not_to_contain_text("breaks the rules")
        expect(widget.locator(f"#comment-{replies[0]} .badge--featured")).to_have_count(1)
        mod.assert_quiet()


def test_a_banned_author_cannot_post_again(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    troll = {"name": "Troll", "email": "troll@mail.example"}
    first = desk.comment(site, "ban", "Buy my pills.", **troll)
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        page.keyboard.press("b")
        reason = page.locator(f"#item-{first} details[data-action=ban] input[name=reason]")
        expect(reason).to_be_focused()
        page.keyboard.type("Spam, again and again")
        page.keyboard.press("Enter")
        expect(page.locator("#toasts .toast")).to_contain_text("Author banned")
        # The item stays to be decided, now marked with its author's ban.
        expect(page.locator(f"#item-{first} .badge--restricted")).to_have_text("author banned")
        mod.wait_focus(first)
        assert desk.author_status(first) == "banned"

        refused = desk.post(site, "ban", "Buy my pills, again.", **troll)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"].startswith("You can no longer comment here.")
        assert "Spam, again and again" in refused.json()["detail"]
        # Someone else still can.
        assert desk.post(site, "ban", "An ordinary comment.", "Reader").status_code == 201
        mod.assert_quiet()


def test_a_new_held_comment_arrives_in_the_open_queue_live(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    waiting = desk.comment(site, "live", "Already waiting.", "Early")
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        mod.count("pending").to_contain_text("1")
        page.evaluate("window.__notReloaded = true")
        # The stream is open once the server has subscribed to the moderators' channel.
        expect(page.locator("body")).to_have_attribute("data-live", "connected")

        fresh = desk.comment(site, "live", "Posted while the moderator watches.", "Late")
        expect(page.locator("#items > li.card").first).to_have_attribute("data-id", str(fresh))
        assert mod.card_ids() == [fresh, waiting]
        expect(page.locator(f"#item-{fresh} .comment-html")).to_contain_text("Posted while the moderator watches.")
        mod.count("pending").to_contain_text("2")
        expect(page.locator("#queue-title .total")).to_have_text("2")
        assert page.evaluate("window.__notReloaded") is True
        # The selection stays where the moderator was; the new card works like any other.
        expect(page.locator(f"#item-{waiting}")).to_have_attribute("aria-current", "true")
        page.keyboard.press("k")
        mod.wait_focus(fresh)
        page.keyboard.press("a")
        expect(page.locator(f"#item-{fresh}")).to_have_count(0)
        mod.count("pending").to_contain_text("1")

        # A comment published at once (post-moderation) is not for this queue; only the counts move.
        desk.api.patch(
            f"/api/v1/sites/{site}",
            headers={"Authorization": f"Bearer {desk.keys[site]}"},
            json={"settings": {"moderation_mode": "post"}},
        ).raise_for_status()
        mod.count("unmoderated").to_contain_text("0")
        published = desk.comment(site, "live", "Published at once.", "Open")
        mod.count("unmoderated").to_contain_text("1")
        assert published not in mod.card_ids()
        mod.assert_quiet()


def test_the_help_dialog_opens_with_question_mark_and_is_accessible(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    held = desk.comment(site, "help", "Waiting while the moderator reads the help.", "Patient")
    with moderator(browser, desk, email) as mod:
        if AXE.exists():
            # An init script, as the page's CSP refuses injected script tags (as it should).
            mod.context.add_init_script(path=str(AXE))
        elif os.environ.get("CI") == "true":
            pytest.fail(f"{AXE} is missing: run `npm ci --prefix tests/browser`")
        page = mod.open("pending")
        page.keyboard.press("j")
        mod.wait_focus(held)
        page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(dialog).to_be_visible()
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
        expect(dialog.get_by_role("table")).to_contain_text("Approve")
        # The dialog is modal: the queue's keys do nothing behind it.
        page.keyboard.press("a")
        assert desk.statuses([held]) == {held: "pending"}
        if AXE.exists():
            found = page.evaluate(
                """async () => (await axe.run(document, {resultTypes: ['violations'],
                    runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']})).violations
                    .filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"""
            )
            assert found == []
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        mod.wait_focus(held)
        # The button in the top bar opens it too.
        page.get_by_role("button", name="Keys").click()
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        # Letters typed in a field are text, not shortcuts.
        page.get_by_text("Filters").click()
        search = page.get_by_role("searchbox", name="Text")
        search.fill("a")
        search.press("a")
        expect(search).to_have_value("aa")
        assert desk.statuses([held]) == {held: "pending"}
        mod.assert_quiet()


def test_bulk_selection_with_x_rejects_together(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    ids = [desk.comment(site, "bulk", f"Flood {n} of the same spam.", f"Bot {n}") for n in range(3)]
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        page.keyboard.press("x")
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("x")
        expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
        page.keyboard.press("Shift+R")
        expect(page.locator("#items > li.card")).to_have_count(1)
        assert mod.card_ids() == [ids[1]]
        mod.wait_focus(ids[1])
        expect(page.locator("#toasts .toast")).to_contain_text("Rejected 2")
        expect(page.locator("[data-selected-count]")).to_have_text("")
        until(lambda: desk.statuses(ids) == {ids[0]: "rejected", ids[1]: "pending", ids[2]: "rejected"})
        mod.assert_quiet()


def test_an_item_one_moderator_is_on_shows_as_claimed_to_another(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    first_email, second_email = desk.new_moderator(site, "anna"), desk.new_moderator(site, "bert")
    ids = [desk.comment(site, "claims", f"Comment {n} waiting.", f"Reader {n}") for n in range(2)]
    with moderator(browser, desk, first_email) as anna, moderator(browser, desk, second_email) as bert:
        anna.open("pending")
        anna.page.keyboard.press("j")
        anna.page.keyboard.press("k")
        anna.wait_focus(ids[0])
        # The claim is taken once the moderator stays on the item (not while passing over it with j/k).
        expect(anna.page.locator(f"#claim-{ids[0]} .visually-hidden")).to_have_text("You are working on this")

        page = bert.open("pending")
        expect(page.locator(f"#claim-{ids[0]}")).to_have_text(f"Anna {site} is working on this")
        # Bert starts on the first item nobody holds, and decides it; Anna sees it go without a reload.
        expect(page.locator(f"#item-{ids[1]}")).to_have_attribute("aria-current", "true")
        # Deciding on Anna's item is refused, with her name, and changes nothing.
        page.keyboard.press("k")
        bert.wait_focus(ids[0])
        page.keyboard.press("a")
        expect(page.locator("#toasts .toast--error")).to_contain_text(f"Anna {site} is working on comment {ids[0]}")
        expect(page.locator(f"#item-{ids[0]}")).to_have_count(1)
        assert desk.statuses([ids[0]]) == {ids[0]: "pending"}
        page.keyboard.press("j")
        bert.wait_focus(ids[1])
        page.keyboard.press("a")
        expect(page.locator("#items > li.card")).to_have_count(1)
        expect(anna.page.locator(f"#item-{ids[1]}")).to_have_count(0)
        anna.count("pending").to_contain_text("1")
        anna.wait_focus(ids[0])
        # o opens the item's own page, where the claim stays Anna's.
        anna.page.keyboard.press("o")
        expect(anna.page).to_have_url(f"{desk.base_url}/admin/comments/{ids[0]}")
        expect(anna.page.locator(f"#claim-{ids[0]} .visually-hidden")).to_have_text("You are working on this")
        anna.assert_quiet()
        bert.assert_quiet(409)


def test_live_updates_reconnect_and_catch_up_on_what_they_missed(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    with moderator(browser, desk, email) as mod:
        page = mod.page
        # The stream cannot connect at first (a proxy restarting, say): the page keeps trying.
        page.route("**/admin/events", lambda route: route.abort())
        mod.open("pending")
        expect(page.locator("body")).to_have_attribute("data-live", "reconnecting")
        missed = desk.comment(site, "reconnect", "Posted while the stream was down.", "Unheard")
        page.wait_for_timeout(500)
        assert mod.card_ids() == []

        page.unroute("**/admin/events")
        expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=15_000)
        expect(page.locator(f"#item-{missed}")).to_have_count(1)
        mod.count("pending").to_contain_text("1")
        expect(page.locator("#queue-empty")).to_be_hidden()
        # The refused attempts are the only errors the browser reports.
        mod.errors = [e for e in mod.errors if "net::ERR_FAILED" not in e]
        mod.assert_quiet()


def test_a_surge_shows_its_banner_live(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("post", suspect_words=["vermin"], surge_min_comments=2, surge_share=0.5)
    email = desk.new_moderator(site)
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        expect(page.locator("#surges .surge")).to_have_count(0)
        held = [desk.comment(site, "surge", f"They are vermin, all {n} of them.", f"Angry {n}") for n in range(2)]
        # Both held comments arrive, and the story's switch to pre-moderation is announced on the page.
        expect(page.locator("#surges .surge")).to_have_count(1)
        expect(page.locator("#surges .surge")).to_contain_text("switched")
        expect(page.locator("#items > li.card")).to_have_count(2)
        assert sorted(mod.card_ids()) == held
        mod.count("pending").to_contain_text("2")
        mod.assert_quiet()


def test_a_key_never_acts_on_an_item_scrolled_out_of_sight(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    ids = [desk.comment(site, "scrolled", f"Held comment {n}, waiting its turn.", f"Reader {n}") for n in range(14)]
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        page.set_viewport_size({"width": 1280, "height": 600})
        page.keyboard.press("j")
        mod.wait_focus(ids[1])
        # The moderator scrolls down with the wheel: the selected item leaves the screen, the focus stays on it.
        page.mouse.move(640, 300)
        while page.evaluate("innerHeight + scrollY < document.scrollingElement.scrollHeight - 2"):
            page.mouse.wheel(0, 600)
            page.wait_for_timeout(50)
        expect(page.locator(f"#item-{ids[1]} .card-body")).not_to_be_in_viewport()
        scrolled = page.evaluate("scrollY")
        page.keyboard.press("a")
        # Nothing is decided; the first card in view is selected and focused, and the page stays where it was.
        in_view = page.evaluate(
            """() => [...document.querySelectorAll('#items > li.card')].find(
                   (c) => { const r = c.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }
               ).dataset.id"""
        )
        mod.wait_focus(int(in_view))
        expect(page.locator(f"#item-{in_view}")).to_have_attribute("aria-current", "true")
        assert page.evaluate("scrollY") == scrolled
        page.wait_for_timeout(300)
        assert set(desk.statuses(ids).values()) == {"pending"}
        # The next key acts on what the moderator sees.
        page.keyboard.press("a")
        expect(page.locator(f"#item-{in_view}")).to_have_count(0)
        assert desk.statuses([int(in_view), ids[1]]) == {int(in_view): "approved", ids[1]: "pending"}
        mod.assert_quiet()


def test_closing_the_help_opened_on_arrival_puts_the_focus_on_the_selected_item(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    first = desk.comment(site, "help-focus", "Waiting while the help is read.", "Reader")
    with moderator(browser, desk, email) as mod:
        page = mod.open("pending")
        assert page.evaluate("document.activeElement === document.body")
        page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        mod.wait_focus(first)
        page.keyboard.press("a")
        expect(page.locator(f"#item-{first}")).to_have_count(0)
        mod.assert_quiet()


def test_long_names_and_addresses_never_make_a_phone_scroll_sideways(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    email = desk.new_moderator(site)
    name = "Bartholomew" + "X" * 53  # 64 characters without a break
    story = "an-untitled-story-whose-address-is-its-headline_" + "y" * 60
    held = desk.comment(site, story, "A comment on an untitled story.", name)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        mod = Moderator(context, desk, email)
        page = mod.open("pending")
        expect(page.locator(f"#item-{held} .card-title")).to_contain_text(story_url(story))
        page.get_by_text("Filters").click()
        width = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
        scroll_width, viewport = page.evaluate(width)
        assert scroll_width <= viewport, (scroll_width, viewport)
        # The filter form, the bulk reason menu and the buttons stay on screen.
        for control in (
            page.get_by_role("button", name="Apply"),
            page.locator("#bulk select[name=reason_choice]"),
            page.get_by_role("button", name="Reject selected"),
            page.locator(f"#item-{held} button[data-action=approve]"),
        ):
            box = control.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport, box
        for path in (
            f"/admin/comments/{held}",
            page.locator(f"#item-{held} .card-title a").first.get_attribute("href"),
        ):
            page.goto(f"{desk.base_url}{path}")
            scroll_width, viewport = page.evaluate(width)
            assert scroll_width <= viewport, (path, scroll_width, viewport)
        page.goto(f"{desk.base_url}/admin/queues/pending")
        page.locator(f"#item-{held} .card-title a").nth(1).click()
        expect(page.locator("h1")).to_contain_text(story_url(story))
        scroll_width, viewport = page.evaluate(width)
        assert scroll_width <= viewport, ("story page", scroll_width, viewport)
        mod.assert_quiet()
    finally:
        context.close()


def test_items_that_slide_onto_the_page_are_not_announced_as_new(browser: Browser, desk: Desk) -> None:
    site = desk.new_site("pre")
    first_email, second_email = desk.new_moderator(site, "anna"), desk.new_moderator(site, "bert")
    ids = [desk.comment(site, "slide", f"Comment {n} about the bridge.", f"Reader {n}") for n in range(28)]
    with moderator(browser, desk, first_email) as anna, moderator(browser, desk, second_email) as bert:
        page = anna.open("pending")
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        assert anna.card_ids() == ids[:25]
        expect(page.locator("#queue-title .total")).to_have_text("28")
        # What the screen reader hears (other words, such as a claim's, may follow in the same region).
        heard = """() => { window.__heard = []; const region = document.getElementById('announcer');
            new MutationObserver(() => window.__heard.push(region.textContent))
              .observe(region, {childList: true, characterData: true, subtree: true}); }"""
        page.evaluate(heard)
        news = "() => window.__heard.filter((text) => text.startsWith('New comment'))"
        # Bert approves the three oldest together; they leave Anna's page.
        other = bert.open("pending")
        for _ in range(3):
            other.keyboard.press("x")
            other.keyboard.press("j")
        expect(other.locator("[data-selected-count]")).to_have_text("3 selected")
        other.keyboard.press("Shift+A")
        expect(other.locator("#toasts .toast")).to_contain_text("Approved 3")
        expect(page.locator("#items > li.card")).to_have_count(22)
        expect(page.locator("#queue-title .total")).to_have_text("25")

        # One new comment arrives: it goes on top, marked new; the three that slid up from the next page are
        # added at the end, in order, and are not announced.
        fresh = desk.comment(site, "slide", "Something else entirely.", "Newcomer")
        expect(page.locator("#items > li.card")).to_have_count(26)
        assert anna.card_ids() == [fresh, *ids[3:]]
        assert page.locator("#items > li.card--new").evaluate_all("els => els.map(e => e.dataset.id)") == [str(fresh)]
        expect(page.locator("#queue-title .total")).to_have_text("26")
        until(lambda: page.evaluate(news) == ["New comment by Newcomer in this queue."])

        # With a text filter, only a new comment that matches arrives, even past the first page.
        page.goto(f"{desk.base_url}/admin/queues/pending?q=bridge")
        anna.wait_live()
        page.evaluate(heard)
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        expect(page.locator("#queue-title .total")).to_have_text("25")
        desk.comment(site, "slide", "Nothing to do with it.", "Stranger")
        anna.count("pending").to_contain_text("27")
        page.wait_for_timeout(500)
        assert anna.card_ids() == ids[3:]
        expect(page.locator("#queue-title .total")).to_have_text("25")
        matching = desk.comment(site, "slide", "Another word on the bridge.", "Engineer")
        expect(page.locator(f"#item-{matching}.card--new")).to_have_count(1)
        assert anna.card_ids() == [matching, *ids[3:]]
        expect(page.locator("#queue-title .total")).to_have_text("26")
        until(lambda: page.evaluate(news) == ["New comment by Engineer in this queue."])
        anna.assert_quiet()
        bert.assert_quiet()
