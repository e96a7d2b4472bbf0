"""The widget with publisher sign-on, in headless Chromium against a real `parlour demo` server."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.widget_support import (
    ADMIN_KEY,
    ORIGIN,
    UNGUARDED,
    Server,
    comment_ids,
    reader,
    story_url,
    widget_server,
)
from tests.identity.tokens import HS_SECRET, mint

pytestmark = pytest.mark.slow

W = "#parlour-thread"
SSO = {"sso_algorithm": "HS256", "sso_secret": HS_SECRET, **UNGUARDED}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with widget_server() as running:
        for slug, extra in {"wsso": {}, "wssoreq": {"sign_in": "required"}}.items():
            response = running.api.post(
                "/api/v1/sites",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                json={
                    "slug": slug,
                    "name": slug,
                    "allowed_origins": [ORIGIN, running.base_url],
                    "settings": SSO | extra,
                },
            )
            assert response.status_code == 201, response.text
            running.keys[slug] = response.json()["api_key"]
        yield running


def thread_authors(server: Server, site: str, story: str) -> list[str]:
    page = server.api.get("/api/v1/threads", params={"site": site, "url": story_url(story)}).json()
    return [c["author"]["name"] for c in page["comments"] if c["author"]]


def test_signed_in_reader_posts_edits_and_deletes(browser: Browser, server: Server) -> None:
    token = mint(site="wsso", badges=["Subscriber"])
    with reader(browser, server) as r:
        page = r.open_story("sso-story", site="wsso", sso=token)
        compose = page.locator(f"{W} form.f--new")
        expect(compose.locator(".f-as")).to_contain_text("Posting as Ada Reader")
        expect(compose.get_by_label("Name")).to_have_count(0)
        page.get_by_label("What is your opinion?").fill("Signed in and **posting**.")
        page.get_by_role("button", name="Post comment").click()
        mine = page.locator(f"{W} .p-list > .c").first
        expect(mine.locator(".c-body strong")).to_have_text("posting")
        expect(mine.locator(".c-badges")).to_contain_text("Subscriber")
        assert thread_authors(server, "wsso", "sso-story") == ["Ada Reader"]
        mine.get_by_role("button", name="Edit").click()
        box = mine.get_by_label("Edit your comment")
        box.fill("Signed in and edited.")
        mine.get_by_role("button", name="Save changes").click()
        expect(mine.locator(".c-body")).to_have_text("Signed in and edited.")
        mine.get_by_role("button", name="Delete").click()
        page.locator(f"{W} dialog[open]").get_by_role("button", name="Delete comment").click()
        expect(page.locator(f"{W} .c")).to_have_count(0)
        assert thread_authors(server, "wsso", "sso-story") == []
        r.assert_quiet()


def test_sign_in_required_asks_the_host_page_then_posts(browser: Browser, server: Server) -> None:
    with reader(browser, server) as r:
        page = r.open_story("sso-required", site="wssoreq")
        compose = page.locator(f"{W} form.f--new")
        expect(compose.locator(".f-as")).to_contain_text("Sign in to comment.")
        page.evaluate("() => Parlour.onLoginRequest((where) => { document.body.dataset.asked = where.site; })")
        page.get_by_label("What is your opinion?").fill("Let me in.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator("body")).to_have_attribute("data-asked", "wssoreq")
        assert thread_authors(server, "wssoreq", "sso-required") == []
        # The host page signs the reader in with a token from its server; the draft is still there.
        name = page.evaluate("(token) => Parlour.login(token).then((reader) => reader.name)", mint(site="wssoreq"))
        assert name == "Ada Reader"
        expect(compose.locator(".f-as")).to_contain_text("Posting as Ada Reader")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .p-list > .c .c-body").first).to_have_text("Let me in.")
        assert thread_authors(server, "wssoreq", "sso-required") == ["Ada Reader"]
        # Signing out ends the session on the server and the widget asks to sign in again.
        page.evaluate("() => Parlour.logout()")
        expect(compose.locator(".f-as")).to_contain_text("Sign in to comment.")
        r.assert_quiet()


def test_after_sign_out_the_next_user_of_the_browser_cannot_edit_the_readers_comments(
    browser: Browser, server: Server
) -> None:
    with reader(browser, server) as r:
        page = r.open_story("sso-shared", site="wsso", sso=mint(site="wsso", sub="alice", name="Alice Shared"))
        page.get_by_label("What is your opinion?").fill("Posted while signed in.")
        page.get_by_role("button", name="Post comment").click()
        mine = page.locator(f"{W} .p-list > .c").first
        expect(mine.get_by_role("button", name="Edit")).to_be_visible()
        # Signed in, the session proves authorship: edits go through without an edit token in the browser.
        assert "edit" not in page.evaluate("() => JSON.stringify(localStorage)").lower().replace("editable", "")
        assert '"t":' not in page.evaluate("() => localStorage.getItem('parlour:own:wsso') || ''")
        mine.get_by_role("button", name="Edit").click()
        page.locator(f"{W} .f--edit textarea").fill("Edited while signed in.")
        page.locator(f"{W} .f--edit").get_by_role("button", name="Save").click()
        expect(mine.locator(".c-body")).to_have_text("Edited while signed in.")
        page.evaluate("() => Parlour.logout()")
        expect(mine.get_by_role("button", name="Edit")).to_have_count(0)
        expect(mine.get_by_role("button", name="Delete")).to_have_count(0)
        # The next person signs in on the same browser: still nothing to edit of Alice's.
        page.evaluate("(token) => Parlour.login(token)", mint(site="wsso", sub="bob", name="Bob Next"))
        expect(page.locator(f"{W} form.f--new .f-as")).to_contain_text("Bob Next")
        expect(mine.get_by_role("button", name="Edit")).to_have_count(0)
        assert page.evaluate("() => localStorage.getItem('parlour:own:wsso')") in (None, "{}")
        r.assert_quiet()


def test_a_signed_in_reader_owns_their_comments_on_another_device(browser: Browser, server: Server) -> None:
    with reader(browser, server) as phone:
        page = phone.open_story("sso-devices", site="wsso", sso=mint(site="wsso", sub="carol", name="Carol Two"))
        page.get_by_label("What is your opinion?").fill("Written on my phone.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .p-list > .c .c-body").first).to_have_text("Written on my phone.")
        phone.assert_quiet()
    server.post("sso-devices", "Someone else's comment.", "Dan")
    with reader(browser, server) as laptop:  # a new browser: nothing of Carol's in its storage
        page = laptop.open_story("sso-devices", site="wsso", sso=mint(site="wsso", sub="carol", name="Carol Two"))
        written = page.locator(f"{W} .c").filter(has_text="Written on my phone.")
        mine = page.locator(f"{W} #{written.get_attribute('id')}")
        expect(mine.get_by_role("button", name="Edit")).to_be_visible()
        expect(mine.get_by_role("button", name="Report")).to_have_count(0)
        other = page.locator(f"{W} .c").filter(has_text="Someone else's comment.")
        expect(other.get_by_role("button", name="Edit")).to_have_count(0)
        mine.get_by_role("button", name="Edit").click()
        page.locator(f"{W} .f--edit textarea").fill("Edited on my laptop.")
        page.locator(f"{W} .f--edit").get_by_role("button", name="Save").click()
        expect(mine.locator(".c-body")).to_have_text("Edited on my laptop.")
        laptop.assert_quiet()


def test_refused_token_leaves_the_reader_anonymous(browser: Browser, server: Server) -> None:
    forged = mint(site="wsso", key="not-the-site-secret-" + "x" * 20)
    with reader(browser, server) as r:
        page = r.open_story("sso-forged", site="wsso", sso=forged)
        expect(page.locator(f"{W} form.f--new").get_by_label("Name")).to_have_count(1)
        r.assert_quiet(401)


def test_profile_lists_my_comments_and_deletes_them(browser: Browser, server: Server) -> None:
    token = mint(site="wsso", sub="profile-reader", name="Pia Profile")
    with reader(browser, server) as r:
        page = r.open_story("sso-profile", site="wsso", sso=token)
        page.get_by_label("What is your opinion?").fill("Pia's words on this story.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .p-list > .c .c-body").first).to_have_text("Pia's words on this story.")
        [posted] = comment_ids(page)
        # The idle compose box shows who is posting once focused; the profile opens from there.
        page.get_by_label("What is your opinion?").focus()
        page.get_by_role("button", name="My comments and settings").click()
        dialog = page.locator(f"{W} dialog[open]")
        expect(dialog.get_by_role("heading", name="Your comments and settings")).to_be_visible()
        expect(dialog.locator(".d-mine a")).to_have_text(["Pia's words on this story."])
        expect(dialog.locator(".d-mine a")).to_have_attribute("href", story_url("sso-profile") + f"#comment-{posted}")
        with page.expect_download() as download:
            dialog.get_by_role("button", name="Download my data").click()
        saved = download.value.path()
        assert '"body": "Pia\'s words on this story."' in saved.read_text()
        delete = dialog.get_by_role("button", name="Delete all my comments")
        delete.click()
        expect(dialog.get_by_role("button", name="Click again to confirm")).to_be_visible()
        assert thread_authors(server, "wsso", "sso-profile") == ["Pia Profile"]
        dialog.get_by_role("button", name="Click again to confirm").click()
        r.wait_ready()
        expect(page.locator(f"{W} .c")).to_have_count(0)
        assert thread_authors(server, "wsso", "sso-profile") == []
        r.assert_quiet()


def test_profile_says_which_comments_readers_do_not_see(browser: Browser, server: Server) -> None:
    story = server.staff("POST", "/stories", site="wsso", json={"url": story_url("sso-held"), "title": "Held here"})
    server.staff("PATCH", f"/stories/{story['id']}", site="wsso", json={"moderation_mode": "pre"})
    with reader(browser, server) as r:
        page = r.open_story("sso-held", site="wsso", sso=mint(site="wsso", sub="erin", name="Erin Held"))
        page.get_by_label("What is your opinion?").fill("Waiting for a moderator.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(f"{W} .c .badge--pending")).to_have_text("Awaiting review")
        page.get_by_label("What is your opinion?").focus()
        page.get_by_role("button", name="My comments and settings").click()
        item = page.locator(f"{W} dialog[open] .d-mine li").filter(has_text="Waiting for a moderator.")
        expect(item.locator(".badge")).to_have_text("Awaiting review")
        r.assert_quiet()


# A 1×1 PNG, served for the publisher's picture URL.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_publisher_pictures_only_where_the_page_asks_for_them(browser: Browser, server: Server) -> None:
    picture = "https://cdn.news.example/avatars/42.png"
    server.post("pictures", "Before the reader signs in.", "Bo", site="wsso")
    with reader(browser, server) as r:
        r.page.route(picture, lambda route: route.fulfill(body=PIXEL, content_type="image/png"))
        page = r.open_story("pictures", site="wsso", strict=False, sso=mint(site="wsso"), avatars="pictures")
        page.get_by_label("What is your opinion?").fill("With my picture.")
        page.get_by_role("button", name="Post comment").click()
        mine = page.locator(f"{W} .c").filter(has_text="With my picture.")
        expect(mine.locator(".c-avatar--picture img")).to_have_attribute("src", picture)
        expect(mine.locator(".c-avatar--picture img")).to_have_js_property("naturalWidth", 1)
        # Anonymous readers keep their identicon.
        expect(page.locator(f"{W} .c").filter(has_text="Before the reader").locator(".c-identicon")).to_have_count(1)
        r.assert_quiet()
    with reader(browser, server) as r:
        # The same page without the attribute (the default) loads no picture: a strict img-src stays quiet.
        page = r.open_story("pictures", site="wsso", sso=mint(site="wsso"))
        expect(page.locator(f"{W} .c")).to_have_count(2)
        expect(page.locator(f"{W} .c-avatar--picture")).to_have_count(0)
        r.assert_quiet()
    with reader(browser, server) as r:
        # A picture that does not load gives way to the identicon.
        r.page.route(picture, lambda route: route.fulfill(status=404, body=b""))
        page = r.open_story("pictures", site="wsso", strict=False, avatars="pictures")
        mine = page.locator(f"{W} .c").filter(has_text="With my picture.")
        expect(mine.locator(".c-identicon, .c-avatar")).not_to_have_count(0)
        expect(mine.locator(".c-avatar--picture")).to_have_count(0)
        r.assert_quiet(404)
