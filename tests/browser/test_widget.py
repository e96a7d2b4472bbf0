"""The embeddable comment widget in a real browser, against a real `parlour demo` server.

One server per test module (per xdist worker): the demo site and article, plus test sites made through the admin
API (`wtest` post-moderated, `wpre` pre-moderated, `wshort` with a three-second edit window). Pages that embed the
widget are served by Playwright under the strict CSP of widget_support.STRICT_CSP (Trusted Types included), so
every test also checks the widget needs nothing inline. Screenshots go to tests/browser/artifacts/.

The XSS test posts every distinct PayloadsAllTheThings XSS line (1,005 of the 1,277 lines; the rest are repeats and
blank lines), no sampling: about 8 s. Its page has no CSP, so an injected handler would run and be caught.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.browser.widget_support import (
    ARTIFACTS,
    AXE,
    Server,
    comment_ids,
    dump,
    reader,
    run_axe,
    story_url,
    widget_server,
    xss_payloads,
)
from tests.conftest import SHARED

pytestmark = pytest.mark.slow

W = "#parlour-thread"  # Playwright's CSS locators pierce the open shadow root
XSS_FOLDER = SHARED / "data" / "security" / "payloadsallthethings" / "xss"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with widget_server() as running:
        yield running


def comment(page: Page, comment_id: int) -> Locator:
    return page.locator(f"{W} #comment-{comment_id}")


# ---------------------------------------------------------------------------------------------------- reading


def test_renders_the_sample_discussion_under_the_article(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_demo()
        expect(page.locator(f"{W} .p-count")).to_have_text("33 comments")
        expect(page.locator(f"{W} .p-sort-btn[aria-pressed=true]")).to_have_text("Top")
        assert page.locator(f"{W} .p-list > .c").count() == 12
        assert page.locator(f"{W} .c .c").count() > 10  # replies nested inside their parents
        # A screen reader hears each comment as "Comment by <name>".
        first_name = page.locator(f"{W} .p-list > .c .c-author").first.inner_text()
        expect(page.get_by_role("article", name=f"Comment by {first_name}").first).to_be_visible()
        # Open every "more replies" branch: then the whole discussion is on screen.
        for _ in range(10):
            more = page.locator(f"{W} .c-more:not([disabled])")
            if more.count() == 0:
                break
            more.first.click()
            expect(page.locator(f"{W} .c-more[aria-busy]")).to_have_count(0)
        assert page.locator(f"{W} .c").count() == 33
        # Relative time shown, absolute time on hover, machine-readable time in datetime.
        first_time = page.locator(f"{W} .c time").first
        assert first_time.get_attribute("datetime")
        assert first_time.get_attribute("title")
        # The widget sits under the article, inside the comments section.
        article_bottom = page.evaluate("document.querySelector('.story-body').getBoundingClientRect().bottom")
        assert page.locator(W).bounding_box()["y"] >= article_bottom
        r.assert_quiet()


def test_first_comments_show_before_the_config_answers(browser: Browser, server: Server) -> None:
    """/config is held back: the thread renders with the defaults, then the compose box takes the site's values."""
    server.post("early", "Shown before the config came.", "Ada")
    with reader(browser, server) as r:
        held: list[Route] = []
        r.page.route("**/api/v1/config?*", lambda route: held.append(route))
        page = r.open_story("early", wait=False)
        expect(page.locator(f"{W} .c")).to_have_count(1)
        expect(page.locator(f"{W} .c-body")).to_have_text("Shown before the config came.")
        assert len(held) == 1, "the widget asked for /config"
        expect(page.locator(f"{W} .f-count")).to_have_text("0 / 5,000")  # the defaults
        expect(page.locator(f"{W} .parlour")).to_have_attribute("data-state", "loading")  # not complete yet
        answer = held[0].fetch()
        held[0].fulfill(response=answer, json={**answer.json(), "max_body_chars": 280, "prompt": "Your turn?"})
        r.wait_ready()
        expect(page.locator(f"{W} .f-count")).to_have_text("0 / 280")
        expect(page.get_by_label("Your turn?")).to_be_visible()
        r.assert_quiet()


def test_permalink_to_a_deep_reply_loads_its_branch(browser: Browser, server: Server) -> None:
    deepest = max(
        (server.api.get(f"/api/v1/comments/{i}").json() for i in range(1, 34)), key=lambda x: len(x["ancestors"])
    )
    target = deepest["comment"]["id"]
    assert len(deepest["ancestors"]) >= 4  # deeper than the thread page's first replies
    with reader(browser, server) as r:
        page = r.open_demo(hash=f"#comment-{target}")
        node = page.locator(f"{W} #comment-{target}")
        expect(node).to_be_visible()
        expect(node).to_have_class("c c--target")
        expect(node).to_be_in_viewport()
        r.wait_for_focus(f"comment-{target}")
        # Every ancestor is on screen, each nested in the one before.
        chain = " ".join(f"#comment-{a['id']}" for a in deepest["ancestors"])
        expect(page.locator(f"{W} {chain} #comment-{target}")).to_be_visible()
        # In-page navigation to another permalink moves the highlight.
        page.evaluate("location.hash = '#comment-1'")
        expect(page.locator(f"{W} #comment-1")).to_have_class("c c--target")
        r.assert_quiet()


def test_featured_tombstones_and_author_links(browser: Browser, server: Server) -> None:
    linked = server.api.post(
        "/api/v1/comments",
        json={
            "site": "wtest",
            "url": story_url("details"),
            "body": "Mine has a website.",
            "author": {"name": "Ada", "website": "https://ada.example"},
        },
    ).json()["id"]
    plain = server.post("details", "No website here.", "Bo")["id"]
    gone = server.post("details", "About to be removed.", "Cy")["id"]
    kept = server.post("details", "A reply that stays.", "Di", parent=gone)["id"]

    def doctored(route: Route) -> None:
        # The real path, a moderator featuring and removing in the dashboard, is in test_dashboard.py. Here the
        # page is shaped directly, with a website no server would store, to test the widget's own guards.
        page_data = route.fetch().json()
        for c in page_data["comments"]:
            if c["id"] == plain:
                c["featured"] = True
                c["author"]["website"] = "javascript:alert(1)"
            if c["id"] == gone:
                c.update(status="removed", author=None, html="")
        route.fulfill(json=page_data)

    with reader(browser, server) as r:
        r.page.route("**/api/v1/threads?*", doctored)
        page = r.open_story("details", sort="newest")
        assert comment_ids(page)[0] == plain  # pinned on top
        expect(comment(page, plain).locator(".badge--featured")).to_have_text("★ Featured")
        expect(comment(page, plain).locator(".c-author")).to_have_js_property("tagName", "SPAN")  # not a link
        author = comment(page, linked).locator(".c-author")
        expect(author).to_have_attribute("href", "https://ada.example/")
        expect(author).to_have_attribute("rel", "nofollow ugc noopener")
        expect(author).to_have_attribute("target", "_blank")
        expect(comment(page, gone).locator(":scope > .c-head")).to_have_text("This comment was removed by a moderator.")
        expect(comment(page, gone).locator(f"#comment-{kept} .c-body")).to_have_text("A reply that stays.")
        r.assert_quiet()


def test_identicons_come_from_the_authors_salted_hash(browser: Browser, server: Server) -> None:
    for body, name in (("First from Ada.", "Ada"), ("From Bo.", "Bo"), ("Again from Ada.", "Ada")):
        server.post("identicons", body, name)
    with reader(browser, server) as r:
        page = r.open_story("identicons", sort="oldest")
        expect(page.locator(f"{W} .c-identicon")).to_have_count(3)
        drawn = page.locator(f"{W} .c-avatar--identicon").evaluate_all("els => els.map(e => e.innerHTML)")
        assert drawn[0] == drawn[2] != drawn[1]  # the same author, the same picture; another author, another
        assert all("<rect" in svg and "<script" not in svg for svg in drawn)
        r.assert_quiet()


def test_share_copies_the_permalink(browser: Browser, server: Server) -> None:
    target = server.post("sharing", "Share me.")["id"]
    with reader(browser, server, permissions=["clipboard-read", "clipboard-write"]) as r:
        page = r.open_story("sharing")
        comment(page, target).get_by_role("button", name="Share").click()
        expect(comment(page, target).locator(".p-flash")).to_have_text("Link copied")
        assert page.evaluate("navigator.clipboard.readText()") == f"{story_url('sharing')}#comment-{target}"
        r.assert_quiet()


# ---------------------------------------------------------------------------------------------------- writing


def test_post_a_comment_and_a_reply_keeping_the_draft(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("posting")
        expect(page.locator(f"{W} .p-count")).to_have_text("0 comments")
        expect(page.locator(f"{W} .p-empty")).to_have_text("No comments yet. Start the conversation.")
        body = page.get_by_label("What is your opinion?")
        body.fill("Thank you for *this* report.\nSecond line.")
        page.wait_for_timeout(400)  # the draft is saved a moment after typing
        r.reload()
        expect(body).to_have_value("Thank you for *this* report.\nSecond line.")
        # The preview shows the text as it will be sent, as plain text.
        page.get_by_role("button", name="Preview").click()
        expect(page.locator(f"{W} .f-preview-text")).to_have_text("Thank you for *this* report.\nSecond line.")
        page.get_by_role("button", name="Preview").click()
        # Client-side check: a name is needed. Server-side check: a bad e-mail, shown next to its field.
        page.get_by_role("button", name="Post comment").click()
        expect(page.get_by_text("Please enter a name.")).to_be_visible()
        expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
        page.get_by_label("Name").fill("Ada")
        page.get_by_label("Email (optional, never shown)").fill("not-an-email")
        page.get_by_role("button", name="Post comment").click()
        # In the reader's words, once next to the field; the form's alert points at it.
        expect(page.locator(f"{W} .f-field .f-error:visible")).to_have_text(
            "Enter a valid e-mail address, or leave this field empty."
        )
        expect(page.get_by_label("Email (optional, never shown)")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"{W} .f-alert")).to_have_text("Please correct the marked field.")
        expect(body).to_have_value("Thank you for *this* report.\nSecond line.")  # never lose the draft
        page.get_by_label("Email (optional, never shown)").fill("")
        page.get_by_role("button", name="Post comment").click()
        posted = page.locator(f"{W} .p-list > .c").first
        expect(posted.locator(".c-body")).to_contain_text("Thank you for this report.")
        expect(posted.locator(".c-body em")).to_have_text("this")  # the server's Markdown rendering
        expect(posted.locator(".badge")).to_have_text("You")
        expect(page.locator(f"{W} .p-count")).to_have_text("1 comment")
        expect(body).to_have_value("")
        expect(page.locator(f"{W} [role=status]")).to_have_text("Your comment was posted.")
        # Reply inline: focus moves into the box; Escape cancels and gives focus back to the Reply button.
        posted.get_by_role("button", name="Reply").click()
        assert r.active()["name"] == "body" and r.active()["comment"] == posted.get_attribute("id")
        page.keyboard.press("Escape")
        expect(posted.locator(".f--reply")).to_have_count(0)
        assert r.active()["text"] == "Reply"
        posted.get_by_role("button", name="Reply").click()
        expect(posted.get_by_text("Posting as Ada")).to_be_visible()  # the name is remembered
        posted.get_by_label("Reply to Ada").fill("A reply, nested under its parent.")
        posted.get_by_role("button", name="Post reply").click()
        reply = posted.locator(".c-replies > .c")
        expect(reply.locator(".c-body")).to_have_text("A reply, nested under its parent.")
        expect(page.locator(f"{W} .p-count")).to_have_text("2 comments")
        r.reload()
        expect(page.locator(f"{W} .p-list > .c .c-replies > .c .c-body")).to_have_text(
            "A reply, nested under its parent."
        )
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('parlour:draft')).length") == 0
        r.assert_quiet(422)


def test_a_failed_post_keeps_the_draft_and_retries_with_the_same_key(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("retry")
        keys: list[str] = []

        def flaky(route: Route) -> None:
            keys.append(route.request.headers["idempotency-key"])
            if len(keys) == 1:
                route.abort("connectionreset")  # the network drops the first attempt
            else:
                route.continue_()

        page.route("**/api/v1/comments", flaky)
        page.get_by_label("What is your opinion?").fill("Posted once, whatever the network does.")
        page.get_by_label("Name").fill("Eve")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .f-alert")).to_contain_text("could not be reached")
        expect(page.locator(f"{W} .f-alert")).to_contain_text("your text is kept")
        expect(page.get_by_label("What is your opinion?")).to_have_value("Posted once, whatever the network does.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .c-body")).to_have_text("Posted once, whatever the network does.")
        assert len(keys) == 2 and keys[0] == keys[1]
        assert (
            server.api.get("/api/v1/threads", params={"site": "wtest", "url": story_url("retry")}).json()["total"] == 1
        )
        r.assert_quiet("net::ERR_CONNECTION_RESET")


def test_a_message_about_one_field_is_said_once_next_to_it(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_demo()  # the demo site refuses an author's repeated text, as new sites do
        text = "I said this already, on the demo."
        page.get_by_label("What is your opinion?").fill(text)
        page.get_by_label("Name").fill("Rep")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} [role=status]")).to_contain_text("posted")
        page.get_by_label("What is your opinion?").fill(text)
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .f-error:visible")).to_have_text("You have posted this comment already.")
        expect(page.locator(f"{W} .f-alert")).to_have_text("")
        r.assert_quiet(409)


def test_a_failed_first_load_says_why_in_the_readers_words(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        r.page.route("**/api/v1/threads?*", lambda route: route.abort("connectionrefused"))
        page = r.open_story("offline", wait=False, lang="de")
        alert = page.locator(f"{W} .p-error")
        expect(alert).to_contain_text("Der Kommentar-Server ist nicht erreichbar.")
        expect(page.locator(f"{W} .p-count")).to_have_text("Kommentare")  # not "0 Kommentare"
        r.assert_quiet("net::ERR_CONNECTION_REFUSED")


def test_the_nudge_shows_the_words_and_lets_the_writer_choose(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("nudged", site="wnudge")
        sent: list[dict[str, Any]] = []
        page.on(
            "request",
            lambda request: (
                sent.append(json.loads(request.post_data or "{}"))
                if request.method == "POST" and request.url.endswith("/api/v1/comments")
                else None
            ),
        )
        page.get_by_label("What is your opinion?").fill("The minister is a  scoundrel.")
        page.get_by_label("Name").fill("Nia")
        page.get_by_role("button", name="Post comment").click()
        nudge = page.locator(f"{W} .f-nudge")
        expect(nudge).to_be_visible()
        expect(nudge.locator("mark").filter(has_text="scoundrel")).to_have_count(1)  # list and model words
        assert sent == []  # nothing posted while the writer decides
        # Revise: the panel goes, the text stays for editing; the revised comment is published.
        page.get_by_role("button", name="Revise it").click()
        expect(nudge).to_have_count(0)
        expect(page.get_by_label("What is your opinion?")).to_have_value("The minister is a  scoundrel.")
        page.get_by_label("What is your opinion?").fill("The minister is mistaken.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .c-body")).to_have_text("The minister is mistaken.")
        # A new draft is checked again; posting it as it is sends it to review, marked as such.
        page.get_by_label("What is your opinion?").fill("Still a scoundrel.")
        page.get_by_role("button", name="Post comment").click()
        page.get_by_role("button", name="Post as it is").click()
        expect(page.locator(f"{W} .c-body").filter(has_text="Still a scoundrel.")).to_have_count(1)
        assert [(s["body"], s.get("nudge")) for s in sent] == [
            ("The minister is mistaken.", "revised"),
            ("Still a scoundrel.", "ignored"),
        ]
        r.assert_quiet()


def test_edit_and_delete_own_comments_within_the_window(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("editing")
        page.get_by_label("What is your opinion?").fill("Original **text**.")
        page.get_by_label("Name").fill("Bea")
        page.get_by_role("button", name="Post comment").click()
        parent = page.locator(f"{W} .p-list > .c").first
        expect(parent.locator(".c-body strong")).to_have_text("text")
        parent.get_by_role("button", name="Reply").click()
        parent.get_by_label("Reply to Bea").fill("My own reply.")
        parent.get_by_role("button", name="Post reply").click()
        reply = parent.locator(".c-replies > .c").first
        expect(reply.locator(".c-body")).to_have_text("My own reply.")
        # Edit: the Markdown source comes back into the box.
        reply.get_by_role("button", name="Edit").click()
        box = reply.get_by_label("Edit your comment")
        expect(box).to_have_value("My own reply.")
        box.fill("My own reply, *corrected*.")
        reply.get_by_role("button", name="Save changes").click()
        expect(reply.locator(".c-body")).to_have_text("My own reply, corrected.")
        expect(reply.locator(".c-edited")).to_have_text("edited")
        # Delete the parent: it has a reply, so it leaves a tombstone and the reply stays in place.
        parent.locator(":scope > .c-content > .c-actions").get_by_role("button", name="Delete").click()
        dialog = page.locator(f"{W} dialog[open]")
        expect(dialog.get_by_role("heading")).to_have_text("Delete your comment?")
        dialog.get_by_role("button", name="Delete comment").click()
        expect(parent.locator(":scope > .c-head")).to_have_text("This comment was deleted.")
        expect(reply.locator(".c-body")).to_have_text("My own reply, corrected.")
        expect(page.locator(f"{W} .p-count")).to_have_text("1 comment")
        reply.get_by_role("button", name="Delete").click()
        page.locator(f"{W} dialog[open]").get_by_role("button", name="Delete comment").click()
        expect(page.locator(f"{W} .c")).to_have_count(0)  # the tombstone went with its last reply
        r.reload()
        expect(page.locator(f"{W} .p-count")).to_have_text("0 comments")
        r.assert_quiet()


def test_edit_buttons_disappear_when_the_window_closes(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("short-window", site="wshort")
        page.get_by_label("What is your opinion?").fill("Quick, edit me.")
        page.get_by_label("Name").fill("Cy")
        page.get_by_role("button", name="Post comment").click()
        mine = page.locator(f"{W} .p-list > .c").first
        expect(mine.get_by_role("button", name="Edit")).to_be_visible()
        expect(mine.get_by_role("button", name="Edit")).to_have_count(0, timeout=8000)  # 3 s window
        expect(mine.get_by_role("button", name="Delete")).to_have_count(0)
        r.assert_quiet()


# ---------------------------------------------------------------------------------------------------- browsing


def test_sort_switch_orders_the_thread(browser: Browser, server: Server) -> None:
    ids = [server.post("sorting", f"Comment number {n}.", f"Reader {n}")["id"] for n in range(3)]
    assert server.api.put(f"/api/v1/comments/{ids[1]}/reaction").status_code == 200
    with reader(browser, server) as r:
        page = r.open_story("sorting", sort="oldest", prompt="Your view on the order?")
        expect(page.get_by_label("Your view on the order?")).to_be_visible()  # data-parlour-prompt
        expect(page.locator(f"{W} .p-sort-btn[aria-pressed=true]")).to_have_text("Oldest")
        assert comment_ids(page) == ids
        page.get_by_role("button", name="Newest").click()
        expect(page.get_by_role("button", name="Newest")).to_have_attribute("aria-pressed", "true")
        expect(page.locator(f"{W} .p-list > .c").first).to_have_attribute("data-id", str(ids[2]))
        assert comment_ids(page) == ids[::-1]
        page.get_by_role("button", name="Top").click()
        expect(page.locator(f"{W} .p-list > .c").first).to_have_attribute("data-id", str(ids[1]))
        # The reader's choice is remembered.
        r.reload()
        expect(page.locator(f"{W} .p-sort-btn[aria-pressed=true]")).to_have_text("Top")
        r.assert_quiet()


def test_load_more_comments_and_more_replies(browser: Browser, server: Server) -> None:
    first = server.post("busy", "Top-level comment 0.")["id"]
    for n in range(1, 25):
        server.post("busy", f"Top-level comment {n}.")
    replies = [server.post("busy", f"Reply {n}.", parent=first)["id"] for n in range(6)]
    with reader(browser, server) as r:
        page = r.open_story("busy", sort="oldest")
        expect(page.locator(f"{W} .p-count")).to_have_text("31 comments")
        assert page.locator(f"{W} .p-list > .c").count() == 20
        page.get_by_role("button", name="Load more comments").click()
        expect(page.locator(f"{W} .p-list > .c")).to_have_count(25)
        expect(page.get_by_role("button", name="Load more comments")).to_have_count(0)
        opening = comment(page, first)
        assert comment_ids(page, f"{W} #comment-{first} .c-replies > .c") == replies[:3]
        opening.get_by_role("button", name="Show 3 more replies").click()
        expect(opening.locator(".c-replies > .c")).to_have_count(6)
        assert comment_ids(page, f"{W} #comment-{first} .c-replies > .c") == replies
        # Collapse and expand the branch.
        toggle = opening.locator(":scope > .c-head .c-toggle")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(opening.locator(":scope > .c-content")).to_be_hidden()
        expect(opening.locator(":scope > .c-head .c-hidden-note")).to_have_text("6 replies hidden")
        toggle.click()
        expect(opening.locator(".c-replies > .c")).to_have_count(6)
        r.assert_quiet()


def test_report_dialog_traps_focus_and_sends_the_report(browser: Browser, server: Server) -> None:
    target = server.post("reporting", "Buy cheap watches at example.com!", "Spammer")["id"]
    with reader(browser, server) as r:
        page = r.open_story("reporting")
        report = comment(page, target).get_by_role("button", name="Report")
        report.click()
        dialog = page.locator(f"{W} dialog[open]")
        expect(dialog.get_by_role("heading")).to_have_text("Report this comment")
        assert r.active()["inDialog"]
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        assert r.active()["text"] == "Report"  # focus returned to the opener
        report.click()
        dialog.get_by_role("button", name="Send report").click()
        expect(dialog.get_by_role("alert")).to_have_text("Choose a reason.")
        # The choices carry the error, so a screen reader says it with them.
        expect(dialog.get_by_role("group", name="What is wrong with it?")).to_have_accessible_description(
            "Choose a reason."
        )
        for _ in range(12):  # Tab and Shift+Tab stay inside the modal
            page.keyboard.press("Tab")
            assert r.active()["inDialog"]
        for _ in range(6):
            page.keyboard.press("Shift+Tab")
            assert r.active()["inDialog"]
        dialog.get_by_label("Spam or advertising").check()
        dialog.get_by_label("Anything our moderators should know? (optional)").fill("Advertising.")
        dialog.get_by_role("button", name="Send report").click()
        expect(dialog).to_have_count(0)
        expect(comment(page, target).get_by_role("button", name="Reported")).to_be_disabled()
        expect(page.locator(f"{W} [role=status]")).to_have_text("Thank you. A moderator will look at this comment.")
        # The server remembers: a second report from the same reader is answered kindly.
        r.reload()
        comment(page, target).get_by_role("button", name="Report").click()
        page.locator(f"{W} dialog[open]").get_by_label("Off-topic").check()
        page.locator(f"{W} dialog[open]").get_by_role("button", name="Send report").click()
        expect(page.locator(f"{W} [role=status]")).to_have_text("You have already reported this comment.")
        r.assert_quiet(409)


def test_reactions_toggle_and_are_remembered(browser: Browser, server: Server) -> None:
    target = server.post("reacting", "Like me.")["id"]
    with reader(browser, server) as r:
        page = r.open_story("reacting")
        like = comment(page, target).locator(".act--react")
        expect(like).to_have_attribute("aria-pressed", "false")
        like.click()
        expect(like).to_have_attribute("aria-pressed", "true")
        expect(like).to_have_accessible_name("Like (1 like)")
        r.reload()
        expect(like).to_have_attribute("aria-pressed", "true")
        like.click()
        expect(like).to_have_attribute("aria-pressed", "false")
        expect(like).to_have_accessible_name("Like (0 likes)")
        r.assert_quiet()


def test_two_readers_see_each_others_comments_live(browser: Browser, server: Server) -> None:
    with reader(browser, server) as alice, reader(browser, server) as bob:
        a = alice.open_story("live")
        b = bob.open_story("live")
        a.wait_for_timeout(500)  # both streams subscribed
        a.get_by_label("What is your opinion?").fill("Hello from Alice.")
        a.get_by_label("Name").fill("Alice")
        a.get_by_role("button", name="Post comment").click()
        show = b.locator(f"{W} .p-new")
        expect(show).to_have_text("1 new comment — show", timeout=10000)
        expect(b.locator(f"{W} [role=status]")).to_contain_text("1 new comment.", timeout=5000)
        show.click()
        expect(b.locator(f"{W} .c-body")).to_have_text("Hello from Alice.")
        expect(b.locator(f"{W} .p-count")).to_have_text("1 comment")
        assert bob.active()["tag"] == "article"  # focus on the new comment
        # Bob replies; Alice sees it announced; her own comment was never announced to her.
        b.get_by_role("button", name="Reply").click()
        b.locator(f"{W} .f--reply").get_by_label("Name").fill("Bob")
        b.get_by_label("Reply to Alice").fill("Hi Alice, Bob here.")
        b.get_by_role("button", name="Post reply").click()
        expect(a.locator(f"{W} .p-new")).to_have_text("1 new comment — show", timeout=10000)
        a.locator(f"{W} .p-new").click()
        expect(a.locator(f"{W} .c .c-replies .c-body")).to_have_text("Hi Alice, Bob here.")
        expect(b.locator(f"{W} .p-new")).to_be_hidden()
        alice.assert_quiet()
        bob.assert_quiet()


def test_comments_held_for_review_show_to_their_author_only(browser: Browser, server: Server) -> None:
    with reader(browser, server) as author, reader(browser, server) as other:
        page = author.open_story("held", site="wpre")
        page.get_by_label("What is your opinion?").fill("Please check me first.")
        page.get_by_label("Name").fill("Dee")
        page.get_by_role("button", name="Post comment").click()
        mine = page.locator(f"{W} .c").first
        expect(mine.locator(".badge")).to_have_text("Awaiting review")
        expect(mine.locator(".act--react")).to_have_count(0)  # nothing to like before it is published
        expect(page.locator(f"{W} [role=status]")).to_contain_text("awaiting review")
        expect(page.locator(f"{W} .p-count")).to_have_text("0 comments")
        author.reload()  # fetched again with the edit token kept in localStorage
        expect(page.locator(f"{W} .c .badge")).to_have_text("Awaiting review")
        expect(page.locator(f"{W} .c-body")).to_have_text("Please check me first.")
        seen = other.open_story("held", site="wpre")
        expect(seen.locator(f"{W} .p-empty")).to_be_visible()
        assert seen.locator(f"{W} .c").count() == 0
        author.assert_quiet()
        other.assert_quiet()


def test_open_pages_follow_edits_and_takedowns_wherever_the_comment_is(browser: Browser, server: Server) -> None:
    posted = [server.post("takedown", f"Comment number {n}.") for n in range(25)]
    first, last = posted[0], posted[-1]  # in the default sort, "oldest": the first page and the second
    token = {"X-Parlour-Edit-Token": last["edit_token"]}
    with reader(browser, server) as r:
        page = r.open_story("takedown")
        page.get_by_role("button", name="Load more comments").click()
        expect(page.locator(f"{W} #comment-{last['id']}")).to_be_visible()
        page.wait_for_timeout(500)  # the stream subscribed
        edited = server.api.patch(f"/api/v1/comments/{last['id']}", json={"body": "Edited later."}, headers=token)
        assert edited.status_code == 200, edited.text
        expect(page.locator(f"{W} #comment-{last['id']} .c-body")).to_have_text("Edited later.", timeout=10000)
        for gone in (last, first):
            headers = {"X-Parlour-Edit-Token": gone["edit_token"]}
            assert server.api.delete(f"/api/v1/comments/{gone['id']}", headers=headers).status_code < 300
            expect(page.locator(f"{W} #comment-{gone['id']}")).to_have_count(0, timeout=10000)
        expect(page.locator(f"{W} .p-count")).to_have_text("23 comments", timeout=10000)
        r.assert_quiet(404)  # how the page learns that a comment is gone


def test_a_reload_just_after_posting_shows_the_new_comment(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        # The demo page is served by Parlour itself: no request interception, so the browser's HTTP cache is on,
        # and it keeps the thread for a few seconds.
        page = r.open_demo()
        before = int(page.locator(f"{W} .p-count").inner_text().split()[0])
        page.get_by_label("What is your opinion?").fill("My own fresh comment, then a reload.")
        page.get_by_label("Name").fill("Fresh")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .p-count")).to_have_text(f"{before + 1} comments")
        r.reload()
        expect(page.locator(f"{W} .p-count")).to_have_text(f"{before + 1} comments")
        r.assert_quiet()


def test_the_last_sort_chosen_wins_whatever_answers_first(browser: Browser, server: Server) -> None:
    for n in range(3):
        server.post("sort-race", f"Number {n}.")
    with reader(browser, server) as r:
        # The newest-first page answers late: chosen first, it must not overwrite the oldest-first one after it.
        r.page.add_init_script(
            """(() => { const fetch0 = window.fetch;
                window.fetch = (url, init) => String(url).includes("sort=newest")
                  ? new Promise((ok) => setTimeout(() => ok(fetch0(url, init)), 1500)) : fetch0(url, init); })()"""
        )
        page = r.open_story("sort-race")
        page.get_by_role("button", name="Newest").click()
        page.get_by_role("button", name="Oldest").click()
        page.wait_for_timeout(2500)
        expect(page.get_by_role("button", name="Oldest")).to_have_attribute("aria-pressed", "true")
        assert page.locator(f"{W} .c-body").all_inner_texts() == ["Number 0.", "Number 1.", "Number 2."]
        r.assert_quiet()


def test_a_name_typed_before_the_sites_config_arrives_is_kept(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        r.page.add_init_script(
            """(() => { const fetch0 = window.fetch;
                window.fetch = (url, init) => String(url).includes("/config?")
                  ? new Promise((ok) => setTimeout(() => ok(fetch0(url, init)), 1500)) : fetch0(url, init); })()"""
        )
        page = r.open_story("config-late", wait=False)
        page.get_by_label("What is your opinion?").fill("Typed at once.")
        page.get_by_label("Name").fill("Quick Typist")
        assert page.locator("#parlour-thread .parlour[data-state=ready]").count() == 0  # the config is not here yet
        r.wait_ready()  # "ready" waits for the config
        expect(page.get_by_label("Name")).to_have_value("Quick Typist")
        r.assert_quiet()


def test_try_again_after_a_failed_first_load_starts_live_updates(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        failures = {"left": 1}

        def fail_once(route: Route) -> None:
            if failures["left"]:
                failures["left"] -= 1
                route.fulfill(status=503, content_type="application/json", body='{"detail": "Try later."}')
            else:
                route.continue_()

        r.page.route("**/api/v1/threads?*", fail_once)
        page = r.open_story("retry-live", wait=False)
        page.get_by_role("button", name="Try again").click()
        r.wait_ready()
        page.wait_for_timeout(500)  # the stream subscribed
        server.post("retry-live", "Posted after the retry.")
        expect(page.locator(f"{W} .p-new")).to_have_text("1 new comment — show", timeout=10000)
        r.assert_quiet(503)


def test_closed_story_shows_a_notice_and_no_compose_box(browser: Browser, server: Server) -> None:
    server.post("closed", "Said before closing.")
    story = server.staff("GET", "/stories")["stories"]
    story_id = next(s["id"] for s in story if s["url"] == story_url("closed"))
    server.staff("POST", f"/stories/{story_id}/close")
    with reader(browser, server) as r:
        page = r.open_story("closed")
        expect(page.locator(f"{W} .p-notice")).to_have_text("Comments are closed for this article.")
        expect(page.locator(f"{W} textarea")).to_have_count(0)
        expect(page.locator(f"{W} .c-body")).to_have_text("Said before closing.")
        expect(page.get_by_role("button", name="Reply")).to_have_count(0)
        r.assert_quiet()


def test_render_again_replaces_the_thread_for_single_page_sites(browser: Browser, server: Server) -> None:
    server.post("spa-one", "On the first article.")
    server.post("spa-two", "On the second article.")
    server.post("spa-two", "Also on the second article.")
    with reader(browser, server) as r:
        page = r.open_story("spa-one")
        expect(page.locator(f"{W} .c-body")).to_have_text("On the first article.")
        page.evaluate(
            """url => Parlour.render(document.getElementById('parlour-thread'), {site: 'wtest', url, lang: 'de'})""",
            story_url("spa-two"),
        )
        expect(page.locator(f"{W} .p-count")).to_have_text("2 Kommentare")
        expect(page.locator(f"{W} .c")).to_have_count(2)
        expect(page.get_by_role("button", name="Neueste")).to_be_visible()
        expect(page.locator(f"{W} textarea")).to_have_count(1)
        r.assert_quiet()


def test_german_catalog_plural_forms_and_counts_on_listing_pages(browser: Browser, server: Server) -> None:
    server.post("counted-one", "Eins.")
    for n in range(3):
        server.post("counted-three", f"Nummer {n}.")
    with reader(browser, server) as r:
        page = r.open_story("counted-one", lang="de")
        expect(page.locator(f"{W} .p-count")).to_have_text("1 Kommentar")
        expect(page.get_by_role("button", name="Neueste")).to_be_visible()
        expect(page.get_by_label("Was ist Ihre Meinung?")).to_be_visible()  # the site kept the default question
        expect(page.locator(f"{W} time").first).to_have_text("gerade eben")
        # count.js: every element on a listing page filled from one request.
        links = "".join(
            f'<a href="/{name}" data-parlour-count-url="{story_url(name)}">…</a>'
            for name in ("counted-one", "counted-three", "counted-none", "counted-one")
        )
        html = (
            f'<!doctype html><html lang="de"><body>{links}<script src="/count.js" data-parlour-site="wtest"></script>'
        )
        page.route(f"{server.base_url}/listing", lambda route: route.fulfill(body=html, content_type="text/html"))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url) if "/api/v1/counts" in request.url else None)
        page.goto(f"{server.base_url}/listing")
        expect(page.locator("a").nth(1)).to_have_text("3 Kommentare")
        texts = page.locator("a").all_inner_texts()
        assert texts == ["1 Kommentar", "3 Kommentare", "0 Kommentare", "1 Kommentar"]
        assert page.locator("a").nth(1).get_attribute("data-parlour-count") == "3"
        assert len(requests) == 1
        r.assert_quiet()


# ---------------------------------------------------------------------------------------------------- safety


def test_every_xss_payload_renders_as_text(browser: Browser, server: Server) -> None:
    """Every PayloadsAllTheThings XSS line, posted as a comment body and (cut to 64 characters) as a name."""
    payloads = xss_payloads(XSS_FOLDER)
    assert len(payloads) > 1000
    per_story = 100
    expected: dict[str, list[dict[str, object]]] = {}
    for start in range(0, len(payloads), per_story):
        story = f"xss-{start // per_story}"
        for payload in payloads[start : start + per_story]:
            data = {"site": "wtest", "url": story_url(story), "body": payload, "author": {"name": payload[:64]}}
            response = server.api.post("/api/v1/comments", json=data)
            if response.status_code == 422:  # a name that is empty once cleaned: the body still goes in
                data["author"] = {"name": "x"}
                response = server.api.post("/api/v1/comments", json=data)
            if response.status_code == 422:  # a body that is empty once cleaned (control characters only)
                continue
            assert response.status_code == 201, response.text
            expected.setdefault(story, []).append(response.json()["comment"])
    posted = sum(len(v) for v in expected.values())
    assert posted > 0.95 * len(payloads)
    with reader(browser, server) as r:
        page = r.page
        # Anything that runs records itself: alert/confirm/prompt also open a dialog, which the reader records.
        # (Not eval: Playwright's own evaluate calls it. The other tests' CSP has no 'unsafe-eval' anyway.)
        page.add_init_script(
            """for (const name of ['alert', 'confirm', 'prompt', 'print']) {
                 const original = window[name];
                 window[name] = function (...args) { (window.__pwned = window.__pwned || []).push(name);
                                                     return original.apply(this, args); };
               }"""
        )
        r.open_story("xss-0", strict=False)  # no CSP on this page: an injected handler would run
        for story, comments in expected.items():
            page.evaluate(
                "url => Parlour.render(document.getElementById('parlour-thread'), {site: 'wtest', url, limit: 100})",
                story_url(story),
            )
            r.wait_ready()
            expect(page.locator(f"{W} .p-list > .c")).to_have_count(len(comments))
            shown = page.locator(f"{W} .p-list > .c").evaluate_all(
                """els => els.map(e => ({id: Number(e.dataset.id),
                                          name: e.querySelector('.c-author').textContent,
                                          html: e.querySelector('.c-body').innerHTML}))"""
            )
            by_id = {c["id"]: c for c in comments}
            for item in shown:
                source = by_id[item["id"]]
                assert item["name"] == source["author"]["name"], dump(item)  # the name, as text
                # Exactly the server's sanitised HTML; the widget only opens its links in a new tab.
                assert item["html"].replace(' target="_blank"', "") == source["html"], dump(item)
            dangerous = page.evaluate(
                """() => {
                  const root = document.getElementById('parlour-thread').shadowRoot;
                  const bad = [];
                  // The widget's own icons and identicons are SVG it builds itself; readers' content never is.
                  const own = 'svg.icon, svg.icon *, svg.c-identicon, svg.c-identicon *';
                  for (const el of root.querySelectorAll(`.c-body *, .c-head *:not(${own})`)) {
                    if (/^(script|iframe|object|embed|img|svg|math|style|link|meta|form|input|base)$/i.test(el.tagName))
                      bad.push(el.outerHTML);
                    for (const attr of el.attributes) {
                      const scheme = /^\\s*(javascript|data|vbscript):/i.test(attr.value);
                      if (/^on/i.test(attr.name) || scheme) bad.push(el.outerHTML);
                    }
                  }
                  return bad;
                }"""
            )
            assert dangerous == [], dump(dangerous[:5])
        page.wait_for_timeout(500)  # give any delayed payload (timers, failed loads) its chance
        assert page.evaluate("window.__pwned === undefined"), page.evaluate("JSON.stringify(window.__pwned)")
        assert page.evaluate("document.querySelectorAll('script').length") == 1  # only the embed
        r.assert_quiet()


# ---------------------------------------------------------------------------------------------------- access


def test_keyboard_only_posting(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("keyboard")
        page.locator("h1").click()  # start from the article, as a reader arriving from above

        def tab_to(predicate: str, limit: int = 25) -> None:
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate(
                    f"(() => {{ const el = document.getElementById('parlour-thread').shadowRoot.activeElement;"
                    f" return Boolean(el && ({predicate})); }})()"
                ):
                    return
            raise AssertionError(f"never reached {predicate} with Tab")

        tab_to("el.name === 'body'")
        page.keyboard.type("Typed without a mouse.")
        tab_to("el.name === 'name'", 3)
        page.keyboard.type("Keys")
        tab_to("el.type === 'submit'", 5)
        page.keyboard.press("Enter")
        expect(page.locator(f"{W} .c-body")).to_have_text("Typed without a mouse.")
        assert r.active()["tag"] == "article"  # focus moved to the new comment
        # Reply by keyboard too: Tab to Reply, Enter, type, Tab to Post reply, Enter.
        tab_to("el.textContent === 'Reply'")
        page.keyboard.press("Enter")
        assert r.active()["name"] == "body"
        page.keyboard.type("And a reply.")
        tab_to("el.type === 'submit'", 6)
        page.keyboard.press("Enter")
        expect(page.locator(f"{W} .c-replies .c-body")).to_have_text("And a reply.")
        r.assert_quiet()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser: Browser, server: Server, scheme: str) -> None:
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm ci --prefix tests/browser`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    target = server.post("axe", "A comment to *scan*, with a [link](https://example.org).", "Axe")["id"]
    server.post("axe", "A reply to it.", "Reply", parent=target)
    with reader(browser, server, color_scheme=scheme, bypass_csp=True) as r:
        # The demo article: the sample discussion in the widget's own theme.
        page = r.open_demo()
        assert run_axe(page) == [], (scheme, dump(run_axe(page)))
        # A thread with open forms and a dialog.
        page = r.open_story("axe", strict=False)
        page.get_by_label("What is your opinion?").fill("Draft")
        comment(page, target).get_by_role("button", name="Reply").first.click()
        page.get_by_role("button", name="Post comment").click()  # errors shown next to their fields
        assert run_axe(page) == [], (scheme, dump(run_axe(page)))
        comment(page, target).get_by_role("button", name="Report").first.click()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-dialog-{scheme}.png"))
        assert run_axe(page) == [], (scheme, dump(run_axe(page)))
        page.keyboard.press("Escape")
        # Forced themes, whatever the page's scheme.
        for theme in ("light", "dark"):
            page.evaluate(
                "([url, theme]) => Parlour.render(document.getElementById('parlour-thread'), "
                "{site: 'wtest', url, theme})",
                [story_url("axe"), theme],
            )
            r.wait_ready()
            assert run_axe(page) == [], (theme, dump(run_axe(page)))


def test_wide_content_scrolls_in_its_own_box_on_a_phone(browser: Browser, server: Server) -> None:
    code = "day        killed  injured  source          verified   " * 6
    bodies = [f"Figures:\n\n```\n{code}\n```", "https://example.org/" + "a" * 300, "A" * 400, "Short and plain."]
    for body in bodies:
        data = {"site": "wtest", "url": story_url("wide"), "body": body, "author": {"name": "W" * 64}}
        assert server.api.post("/api/v1/comments", json=data).status_code == 201
    with reader(browser, server, viewport={"width": 375, "height": 900}) as r:
        page = r.open_story("wide")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        widths = page.evaluate(
            """() => [...document.getElementById('parlour-thread').shadowRoot.querySelectorAll('.c')]
                     .map(c => c.getBoundingClientRect().right)"""
        )
        assert widths and max(widths) <= 375, widths
        pre = page.locator(f"{W} .c-body pre").first
        assert pre.evaluate("el => el.scrollWidth > el.clientWidth")  # the code scrolls inside its box
        r.assert_quiet()


def test_right_to_left_comments_run_right_to_left(browser: Browser, server: Server) -> None:
    server.post("rtl", "مرحبا بالجميع، هذا تعليق باللغة العربية.", name="سارة")
    server.post("rtl", "A comment in English.", name="Sam")
    with reader(browser, server) as r:
        page = r.open_story("rtl")
        shown = page.locator(f"{W} .c-body, {W} .c-author").evaluate_all(
            "els => Object.fromEntries(els.map(e => [e.textContent.trim(), getComputedStyle(e).direction]))"
        )
        assert shown == {
            "مرحبا بالجميع، هذا تعليق باللغة العربية.": "rtl",
            "سارة": "rtl",
            "A comment in English.": "ltr",
            "Sam": "ltr",
        }, shown
        r.assert_quiet()


@pytest.mark.parametrize(("width", "scheme"), [(375, "light"), (375, "dark"), (1280, "light"), (1280, "dark")])
def test_layout_on_phones_and_desktops(browser: Browser, server: Server, width: int, scheme: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with reader(browser, server, viewport={"width": width, "height": 900}, color_scheme=scheme) as r:
        page = r.open_demo()
        host = page.locator(W)
        # Nothing sticks out sideways, at any width.
        overflow = page.evaluate(
            """() => { const root = document.getElementById('parlour-thread').shadowRoot;
                       const frame = root.querySelector('.parlour');
                       return frame.scrollWidth - frame.clientWidth; }"""
        )
        assert overflow <= 0
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if width <= 480:
            # Three levels of indentation on a phone, then "continue this thread".
            expect(page.locator(f"{W} .c-continue").first).to_be_visible()
            page.locator(f"{W} .c-continue").first.click()
            expect(page.locator(f"{W} .c-replies--flat > .c").first).to_be_visible()
        page.get_by_label("What is your opinion?").click()
        host.screenshot(path=str(ARTIFACTS / f"widget-{width}-{scheme}.png"))
        page.set_viewport_size({"width": width, "height": 1100})
        host.evaluate("el => el.scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / f"widget-{width}-{scheme}-top.png"))
        r.assert_quiet()
