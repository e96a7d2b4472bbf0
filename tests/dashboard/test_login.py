"""Signing in and out of the dashboard: passwords, throttling, the session cookie, rotation and sign-out."""

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from parlour.accounts import passwords
from parlour.accounts.users import set_password, update_user
from parlour.app import create_app
from parlour.clock import utcnow
from parlour.dashboard.auth import cookie_policy
from parlour.db.tables import StaffRole, StaffSession, StaffUser
from parlour.errors import InvalidInput, NotFound
from parlour.settings import Settings
from parlour.transfer.restore import NO_PASSWORD
from tests.conftest import make_settings
from tests.dashboard.conftest import (
    BASE,
    PASSWORD,
    SAME_ORIGIN,
    Browser,
    World,
    login_post,
    login_token,
    make_user,
    session_count,
)


def set_cookie(response: object, name: str = "__Host-parlour_session") -> SimpleCookie:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]  # type: ignore[attr-defined]
    assert len(headers) == 1, headers
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(headers[0])
    return cookie


def test_the_right_password_signs_in_and_opens_the_queues(world: World) -> None:
    browser = world.browser("ann@courier.example")
    response = browser.sign_in()
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/queues/pending"
    page = browser.get("/admin/queues/pending")
    assert page.status_code == 200 and "Ann" in page.text and "Sign out" in page.text
    assert session_count(world.db) == 1


def test_the_email_is_matched_without_regard_to_case_or_spaces(world: World) -> None:
    browser = world.browser("  ANN@Courier.Example ")
    assert browser.sign_in().status_code == 303


def test_a_wrong_password_or_unknown_account_is_refused_alike(world: World) -> None:
    wrong = world.browser("ann@courier.example").sign_in("not the password at all")
    unknown = world.browser("nobody@courier.example").sign_in()
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "The e-mail address or password is wrong." in response.text
        assert "set-cookie" not in response.headers
    assert session_count(world.db) == 0


def test_the_cookie_is_host_only_secure_httponly_and_strict(world: World) -> None:
    response = world.browser("ann@courier.example").sign_in()
    morsel = set_cookie(response)["__Host-parlour_session"]
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "strict"
    assert morsel["path"] == "/" and not morsel["domain"]
    assert len(morsel.value) >= 40


def test_over_plain_http_on_another_host_the_cookie_cannot_be_host_prefixed(world: World) -> None:
    # Browsers refuse `__Host-` without Secure, and Secure cookies from http origins other than loopback.
    settings: Settings = world.app.state.parlour.settings
    app = create_app(make_settings(settings.database_url, public_base_url="http://lan-box:8000"))
    with TestClient(app, base_url="http://lan-box:8000") as client:
        origin = {"Origin": "http://lan-box:8000"}
        response = login_post(client, {"email": "ann@courier.example", "password": PASSWORD}, origin)
    assert response.status_code == 303
    morsel = set_cookie(response, "parlour_session")["parlour_session"]
    assert not morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "strict"


def test_signing_in_again_rotates_the_session(world: World) -> None:
    browser = world.browser("ann@courier.example")
    browser.sign_in()
    first = browser.client.cookies["__Host-parlour_session"]
    first_csrf = browser.csrf
    browser.sign_in()
    second = browser.client.cookies["__Host-parlour_session"]
    assert second != first and browser.csrf != first_csrf
    assert session_count(world.db) == 1  # the old session is gone on the server, not only replaced in the browser
    stale = TestClient(world.app, base_url=BASE, cookies={"__Host-parlour_session": first})
    world.clients.append(stale)
    assert stale.get("/admin/queues/pending", follow_redirects=False).status_code == 303


def test_signing_out_destroys_the_session_on_the_server(world: World, ann: Browser) -> None:
    token = ann.client.cookies["__Host-parlour_session"]
    response = ann.act("/admin/logout")
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    assert "__Host-parlour_session=" in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"] or "expires=" in response.headers["set-cookie"].lower()
    assert session_count(world.db) == 0
    # The old cookie, replayed by someone who copied it, no longer works.
    replay = TestClient(world.app, base_url=BASE, cookies={"__Host-parlour_session": token})
    world.clients.append(replay)
    page = replay.get("/admin/queues/pending", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")
    assert replay.get("/admin/counts", headers={"HX-Request": "true"}).status_code == 401


def test_signing_out_needs_the_csrf_token(world: World, ann: Browser) -> None:
    response = ann.client.post("/admin/logout", headers=SAME_ORIGIN, follow_redirects=False)
    assert response.status_code == 403
    assert session_count(world.db) == 1


def test_logout_by_get_is_not_a_route_and_changes_nothing(world: World, ann: Browser) -> None:
    assert ann.get("/admin/logout").status_code in {404, 405}
    assert session_count(world.db) == 1
    assert ann.get("/admin/queues/pending").status_code == 200


def test_pages_send_signed_out_visitors_to_the_login_page_and_back(world: World) -> None:
    browser = world.browser("ann@courier.example")
    page = browser.get("/admin/queues/reported?site=courier")
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login?next=%2Fadmin%2Fqueues%2Freported%3Fsite%3Dcourier"
    form = browser.get(page.headers["location"])
    assert 'name="next" value="/admin/queues/reported?site=courier"' in form.text
    data = {"email": browser.email, "password": PASSWORD, "next": "/admin/queues/reported?site=courier"}
    response = login_post(browser.client, data, SAME_ORIGIN)
    assert response.headers["location"] == "/admin/queues/reported?site=courier"


def test_the_return_address_never_leaves_the_dashboard(world: World) -> None:
    for target in ("https://evil.example/", "//evil.example/admin", "/api/v1/threads", "/admin\\..\\x", "/admin/login"):
        data = {"email": "ann@courier.example", "password": PASSWORD, "next": target}
        response = login_post(world.browser("ann@courier.example").client, data, SAME_ORIGIN)
        assert response.headers["location"] == "/admin", target


def test_failed_sign_ins_are_throttled_per_account(world: World) -> None:
    browser = world.browser("ann@courier.example")
    for _ in range(5):
        assert browser.sign_in("wrong password, again").status_code == 401
    throttled = browser.sign_in()  # even the right password waits now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in throttled.text and "<form" in throttled.text
    assert session_count(world.db) == 0
    # Another account from the same network is not locked out by ann's failures.
    assert world.browser("bob@courier.example").sign_in().status_code == 303


def test_every_worker_counts_the_same_failures_without_redis(world: World, settings: Settings) -> None:
    # A second app on the same database stands for a second worker process: without Redis, failures are
    # counted in the database, so two workers together still allow five.
    second = create_app(settings)
    with TestClient(second, base_url=BASE) as other_worker:
        for worker in (world.browser("ann@courier.example"), Browser(other_worker, "ann@courier.example")) * 2:
            assert worker.sign_in("wrong password, again").status_code == 401
        assert world.browser("ann@courier.example").sign_in("wrong password, again").status_code == 401
        assert Browser(other_worker, "ann@courier.example").sign_in().status_code == 429
        assert world.browser("ann@courier.example").sign_in().status_code == 429


def test_failed_sign_ins_are_throttled_per_network(world: World) -> None:
    for n in range(20):
        response = world.browser(f"guess{n}@example.org").sign_in("wrong password, again")
        assert response.status_code == 401
    assert world.browser("bob@courier.example").sign_in().status_code == 429
    # A reader from another network still signs in.
    other = TestClient(world.app, base_url=BASE, client=("198.51.100.7", 50000))
    world.clients.append(other)
    response = Browser(other, "bob@courier.example").sign_in()
    assert response.status_code == 303


def test_a_successful_sign_in_clears_the_accounts_failures(world: World) -> None:
    browser = world.browser("ann@courier.example")
    for _ in range(4):
        browser.sign_in("wrong password, again")
    assert browser.sign_in().status_code == 303
    for _ in range(4):
        assert browser.sign_in("wrong password, again").status_code == 401
    assert browser.sign_in().status_code == 303


def test_staff_with_a_badge_only_cannot_enter(world: World) -> None:
    response = world.browser("sam@example.org").sign_in()
    assert response.status_code == 403
    assert "Only moderators and admins" in response.text
    assert "set-cookie" not in response.headers
    assert session_count(world.db) == 0


def test_a_deactivated_account_is_signed_out_at_once(world: World, ann: Browser) -> None:
    with world.db.write() as session:
        session.execute(update(StaffUser).where(StaffUser.email == "ann@courier.example").values(active=False))
    assert ann.get("/admin/queues/pending").status_code == 303
    assert world.browser("ann@courier.example").sign_in().status_code == 401


def test_the_login_form_refuses_cross_site_posts(world: World) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        browser = world.browser("ann@courier.example")
        response = login_post(browser.client, {"email": browser.email, "password": PASSWORD}, headers)
        assert response.status_code == 403, headers
    assert session_count(world.db) == 0


def test_the_login_form_refuses_json(world: World) -> None:
    browser = world.browser("ann@courier.example")
    token = login_token(browser.client)
    body = {"email": browser.email, "password": PASSWORD, "csrf_token": token}
    response = browser.client.post("/admin/login", json=body, headers=SAME_ORIGIN)
    assert response.status_code == 403
    assert session_count(world.db) == 0


def test_the_login_page_is_not_cached_and_shows_no_session_data(world: World) -> None:
    page = world.browser("ann@courier.example").get("/admin/login")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'type="password"' in page.text and "Sign out" not in page.text


def test_a_user_created_after_start_signs_in(world: World) -> None:
    make_user(world.db, "new@courier.example", StaffRole.MODERATOR)
    assert world.browser("new@courier.example").sign_in().status_code == 303


def test_the_login_form_needs_its_own_token(world: World) -> None:
    # Login CSRF: another site must not sign a moderator's browser in to an account of its choosing.
    browser = world.browser("ann@courier.example")
    token = login_token(browser.client)
    form = {"email": browser.email, "password": PASSWORD}
    for name, data in (
        ("no token", form),
        ("empty token", form | {"csrf_token": ""}),
        ("another form's token", form | {"csrf_token": login_token(world.browser("x@example.org").client)}),
    ):
        response = browser.client.post("/admin/login", data=data, headers=SAME_ORIGIN, follow_redirects=False)
        assert response.status_code == 403, name
        assert "has been renewed" in response.text and "<form" in response.text
    assert session_count(world.db) == 0
    # A browser without the cookie (the forged post's case) is refused even with a token seen elsewhere.
    bare = world.browser("ann@courier.example")
    refused = bare.client.post(
        "/admin/login", data=form | {"csrf_token": token}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert refused.status_code == 403
    # Refused forms count no failure: ann is not locked out by forged posts.
    for _ in range(6):
        bare.client.cookies.clear()
        bare.client.post("/admin/login", data=form | {"password": "wrong"}, headers=SAME_ORIGIN)
    assert world.browser("ann@courier.example").sign_in().status_code == 303


def test_the_login_cookie_is_host_only_strict_and_cleared_at_sign_in(world: World) -> None:
    browser = world.browser("ann@courier.example")
    page = browser.get("/admin/login")
    morsel = set_cookie(page, "__Host-parlour_login")["__Host-parlour_login"]
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "strict" and morsel["path"] == "/"
    assert morsel.value in page.text
    signed_in = login_post(browser.client, {"email": browser.email, "password": PASSWORD}, SAME_ORIGIN)
    cleared = set_cookie(signed_in, "__Host-parlour_login")["__Host-parlour_login"]
    assert cleared.value == "" or cleared["max-age"] == "0"


def test_a_wrong_password_keeps_the_form_usable(world: World) -> None:
    browser = world.browser("ann@courier.example")
    failed = browser.sign_in("wrong password, again")
    assert failed.status_code == 401
    # The page shown with the error carries the same token as the cookie, so the second try from it works.
    token = re.search(r'name="csrf_token" value="([^"]+)"', failed.text)
    assert token and token.group(1) == browser.client.cookies["__Host-parlour_login"]
    response = browser.client.post(
        "/admin/login",
        data={"email": browser.email, "password": PASSWORD, "csrf_token": token.group(1)},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("base_url", "name", "secure"),
    [
        ("https://comments.example", "__Host-parlour_session", True),
        ("https://comments.example:8443/", "__Host-parlour_session", True),
        ("http://localhost:8000", "__Host-parlour_session", True),
        ("http://127.0.0.1:8000", "__Host-parlour_session", True),
        ("http://[::1]:8000", "__Host-parlour_session", True),
        ("http://lan-box:8000", "parlour_session", False),
    ],
)
def test_the_cookie_policy_follows_the_public_address(base_url: str, name: str, secure: bool) -> None:
    # Browsers keep Secure cookies from https and from loopback only; `__Host-` needs Secure.
    policy = cookie_policy(make_settings("sqlite://", public_base_url=base_url))
    assert (policy.name, policy.secure) == (name, secure)


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
def test_an_idle_or_expired_session_ends(world: World, ann: Browser, column: str) -> None:
    with world.db.write() as session:
        session.execute(update(StaffSession).values({column: utcnow() - timedelta(hours=3)}))
    assert ann.get("/admin/queues/pending").status_code == 303
    assert ann.act("/admin/logout").status_code == 303  # to the login page, as for anyone signed out


def test_a_new_password_signs_the_user_out_everywhere_and_the_old_one_stops_working(world: World, ann: Browser) -> None:
    with world.db.write() as session:
        set_password(session=session, email=" Ann@Courier.example ", password="an entirely new passphrase")
    assert ann.get("/admin/queues/pending").status_code == 303
    assert world.browser("ann@courier.example").sign_in().status_code == 401
    fresh = world.browser("ann@courier.example")
    response = login_post(fresh.client, {"email": fresh.email, "password": "an entirely new passphrase"}, SAME_ORIGIN)
    assert response.status_code == 303


def test_a_password_is_never_cut_and_an_over_long_one_is_refused_on_both_sides(world: World) -> None:
    longest = "p" * passwords.MAX_LENGTH
    with world.db.write() as session:
        set_password(session=session, email="ann@courier.example", password=longest)
    with world.db.write() as session, pytest.raises(InvalidInput, match="this one has 1025"):
        set_password(session=session, email="ann@courier.example", password=longest + "x")
    browser = world.browser("ann@courier.example")
    # Its first 1024 characters are Ann's password; the whole is not.
    refused = login_post(browser.client, {"email": browser.email, "password": longest + "x"}, SAME_ORIGIN)
    assert refused.status_code == 401 and "at most 1024 characters" in refused.text
    assert session_count(world.db) == 0
    signed_in = login_post(browser.client, {"email": browser.email, "password": longest}, SAME_ORIGIN)
    assert signed_in.status_code == 303


def test_a_restored_account_without_a_password_signs_in_once_given_one(world: World) -> None:
    with world.db.write() as session:
        session.execute(
            update(StaffUser).where(StaffUser.email == "ann@courier.example").values(password_hash=NO_PASSWORD)
        )
    assert world.browser("ann@courier.example").sign_in().status_code == 401
    with world.db.write() as session:
        set_password(session=session, email="ann@courier.example", password=PASSWORD)
    assert world.browser("ann@courier.example").sign_in().status_code == 303


def test_deactivating_through_update_user_ends_sessions_and_reactivating_lets_them_back(
    world: World, ann: Browser
) -> None:
    with world.db.write() as session:
        update_user(session=session, email="ann@courier.example", active=False)
    assert session_count(world.db) == 0
    assert world.browser("ann@courier.example").sign_in().status_code == 401
    with world.db.write() as session:
        update_user(session=session, email="ann@courier.example", active=True)
    assert world.browser("ann@courier.example").sign_in().status_code == 303


def test_changing_an_unknown_user_is_refused_and_changes_nothing(world: World) -> None:
    before = session_count(world.db)
    with pytest.raises(NotFound), world.db.write() as session:
        set_password(session=session, email="nobody@courier.example", password=PASSWORD)
    with pytest.raises(InvalidInput), world.db.write() as session:
        update_user(session=session, email="ann@courier.example", site_slugs=["nope"], active=False)
    assert session_count(world.db) == before
    assert world.browser("ann@courier.example").sign_in().status_code == 303
