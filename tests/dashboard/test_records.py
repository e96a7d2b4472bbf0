"""The audit log page and its CSV export, the statistics page, and the live event stream."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import update

from parlour.accounts.users import create_user
from parlour.clock import utcnow
from parlour.dashboard.csvexport import safe_cell
from parlour.db.tables import Comment, ModerationAction, StaffRole
from tests.dashboard.conftest import PASSWORD, Browser, World, audit, held, published, submit_get_form

FORMULAS = ['=HYPERLINK("https://evil.example")', "+1+1", "-2+3", "@SUM(A1:A9)"]


def comment_site(world: World, comment_id: int) -> int:
    with world.db.read() as session:
        found = session.get(Comment, comment_id)
        assert found is not None
        return found.site_id


def rows_of(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_audit_page_lists_rows_newest_first_with_filters(world: World, ann: Browser) -> None:
    first, second = published(world.client, "One."), published(world.client, "Two.")
    ann.act(f"/admin/comments/{first}/approve")
    ann.act(f"/admin/comments/{second}/reject", {"reason": "spam"})
    page = ann.get("/admin/audit").text
    assert page.index(f"comment {second}") < page.index(f"comment {first}")
    assert "approved → removed" in page and "spam" in page and "Ann" in page
    only = ann.get("/admin/audit?action=approve").text
    assert f"comment {first}" in only and f"comment {second}" not in only
    by_comment = ann.get(f"/admin/audit?comment={second}").text
    assert f"comment {second}" in by_comment and f"comment {first}" not in by_comment
    assert ann.get("/admin/audit?action=" + "x" * 40).status_code == 422


def test_the_record_pages_filter_forms_work_as_a_browser_sends_them(world: World, admin: Browser) -> None:
    # Every field of a GET form is sent, the empty ones as `name=`: an empty field is no filter.
    first, second = published(world.client, "One."), published(world.client, "Two.")
    admin.act(f"/admin/comments/{first}/approve")
    admin.act(f"/admin/comments/{second}/reject", {"reason": "spam"})
    page = admin.get("/admin/audit").text
    blank = admin.get(submit_get_form(page, "/admin/audit"))
    assert blank.status_code == 200, blank.text
    assert f"comment {first}" in blank.text and f"comment {second}" in blank.text
    chosen = admin.get(submit_get_form(page, "/admin/audit", action="approve"))
    assert chosen.status_code == 200, chosen.text
    assert f"comment {first}" in chosen.text and f"comment {second}" not in chosen.text
    csv = re.search(r'href="(/admin/audit\.csv[^"]*)"', chosen.text)
    assert csv, "the audit page links its CSV"
    export = admin.get(csv.group(1).replace("&amp;", "&"))
    assert export.status_code == 200 and export.text.count("\n") == 2, export.text  # header and one row
    for action in ("/admin/stats", "/admin/webhooks"):
        shown = admin.get(submit_get_form(admin.get(action).text, action))
        assert shown.status_code == 200, (action, shown.text)


def test_the_audit_page_pages(world: World, ann: Browser) -> None:
    target = published(world.client)
    for n in range(51):
        ann.act(f"/admin/comments/{target}/feature", {"on": "1" if n % 2 == 0 else "0"})
    first = ann.get("/admin/audit")
    assert first.text.count('<td><a href="/admin/comments/') == 50 and 'rel="next"' in first.text
    second = ann.get("/admin/audit?offset=50")
    assert second.text.count('<td><a href="/admin/comments/') == 1 and 'rel="prev"' in second.text


def test_the_csv_export_escapes_formulas_and_is_a_download(world: World) -> None:
    with world.db.write() as session:
        create_user(
            session=session,
            email="eve@courier.example",
            display_name="@eve",
            password=PASSWORD,
            role=StaffRole.MODERATOR,
            site_slugs=["courier"],
        )
    eve = world.signed_in("eve@courier.example")
    targets = [published(world.client, f"Comment {n}.") for n in range(len(FORMULAS))]
    for target, reason in zip(targets, FORMULAS, strict=True):
        assert eve.act(f"/admin/comments/{target}/reject", {"reason": reason}).status_code == 303
    response = eve.get("/admin/audit.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="parlour-audit-\d{8}-\d{4}\.csv"', disposition), disposition
    assert response.headers["cache-control"] == "no-store"
    rows = rows_of(response)
    assert list(rows[0]) == [
        "id",
        "time_utc",
        "site",
        "moderator",
        "action",
        "reason",
        "status_before",
        "status_after",
        "comment_id",
        "author_id",
        "story_id",
    ]
    assert sorted(r["reason"] for r in rows) == sorted("'" + f for f in FORMULAS)
    assert {r["moderator"] for r in rows} == {"'@eve"}
    assert all(r["action"] == "reject" and r["status_after"] == "removed" for r in rows)
    # Newest first, like the page.
    assert [int(r["comment_id"]) for r in rows] == list(reversed(targets))


@pytest.mark.parametrize("text", ["=1", "+1", "-1", "@x", "\tx", "\rx", "=", "-"])
def test_a_spreadsheet_never_reads_a_cell_as_a_formula(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(("value", "cell"), [("plain", "plain"), (12, "12"), (None, ""), ("a=b", "a=b"), ("", "")])
def test_ordinary_cells_are_left_alone(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_the_csv_holds_only_rows_the_moderator_may_see_and_follows_filters(
    world: World, ann: Browser, admin: Browser
) -> None:
    mine = published(world.client, "Courier's.")
    theirs = held(world.client, "Herald's.")
    admin.act(f"/admin/comments/{theirs}/approve")
    ann.act(f"/admin/comments/{mine}/reject", {"reason": "no"})
    ann.act(f"/admin/comments/{mine}/feature", {"on": "0"})
    assert {r["site"] for r in rows_of(admin.get("/admin/audit.csv"))} == {"courier", "herald"}
    rows = rows_of(ann.get("/admin/audit.csv"))
    assert {r["site"] for r in rows} == {"courier"} and len(rows) == 2
    assert [r["action"] for r in rows_of(ann.get("/admin/audit.csv?action=reject"))] == ["reject"]
    assert ann.get("/admin/audit.csv?site=herald").status_code == 404
    page = ann.get("/admin/audit?action=reject").text
    assert 'href="/admin/audit.csv?action=reject"' in page


def test_the_csv_export_streams_a_large_log(world: World, ann: Browser) -> None:
    target = published(world.client)
    site_id = comment_site(world, target)
    with world.db.write() as session:
        session.add_all(
            ModerationAction(
                site_id=site_id,
                staff_user_id=None,
                comment_id=target,
                author_id=None,
                story_id=None,
                action="feature",
                reason=f"bulk {n}",
                status_before="approved",
                status_after="approved",
                details={},
                created_at=utcnow(),
            )
            for n in range(2100)
        )
    rows = rows_of(ann.get("/admin/audit.csv"))
    assert len(rows) == 2100 and len({r["id"] for r in rows}) == 2100
    assert rows[0]["moderator"] == "system"


def test_the_stats_page_draws_charts_beside_a_table_of_the_same_numbers(world: World, admin: Browser) -> None:
    kept, dropped = held(world.client, "Held, approved."), held(world.client, "Held, rejected.")
    published(world.client, "Published.")
    admin.act(f"/admin/comments/{kept}/approve")
    admin.act(f"/admin/comments/{dropped}/reject", {"reason": "no"})
    with world.db.write() as session:
        # A comment yesterday, for a second day with numbers.
        session.execute(update(Comment).where(Comment.id == kept).values(created_at=utcnow() - timedelta(days=1)))
    page = admin.get("/admin/stats")
    assert page.status_code == 200
    text = page.text
    assert text.count('<svg viewBox="0 0 720') == 2 and 'role="img"' in text
    today, yesterday = utcnow().date(), utcnow().date() - timedelta(days=1)
    # The table: today 2 comments (1 held, 1 rejected), yesterday 1 (held).
    assert re.search(rf"{today.isoformat()}</time></th><td>2</td><td>1</td><td>1</td>", text)
    # Yesterday's comment waited a day for its decision; today's, seconds.
    assert re.search(rf"{yesterday.isoformat()}</time></th><td>1</td><td>1</td><td>0</td><td>24.0 h</td>", text)
    assert re.search(rf"{today.isoformat()}</time></th><td>2</td><td>1</td><td>1</td><td>\d+ s</td>", text)
    # The chart: one titled bar per series and day, with the same numbers.
    label = f"{today:%d %b}"
    for series, value in (("comments", 2), ("held", 1), ("rejected", 1)):
        assert re.search(rf'<rect class="series-{series}"[^>]*><title>{label}: {value}</title>', text), series
    assert "<strong>3</strong> comments, <strong>2</strong> held for review, <strong>1</strong> rejected" in text
    # Per story: volume and share held (both held comments were on herald's story).
    assert re.search(
        r"<td>2</td>\s*<td>2</td>\s*<td>\s*<svg[^<]*<rect[^<]*</rect>\s*<rect[^>]*>[^<]*</rect>\s*</svg>\s*100%", text
    )
    assert re.search(r"<td>1</td>\s*<td>0</td>\s*<td>\s*<svg.*?</svg>\s*0%", text, re.S)


def test_the_stats_page_of_a_limited_moderator_counts_only_their_sites(world: World, ann: Browser) -> None:
    held(world.client)
    published(world.client)
    text = ann.get("/admin/stats").text
    assert "<strong>1</strong> comments, <strong>0</strong> held for review" in text


def test_the_event_stream_needs_a_session(world: World) -> None:
    anonymous = world.browser("nobody@example.org")
    response = anonymous.get("/admin/events", headers={"Accept": "text/event-stream"})
    assert response.status_code == 401


def read_events(world: World, browser: Browser, post_while_open: Any, stop_at: bytes) -> bytes:
    """Open /admin/events as the browser, run `post_while_open` once it is connected, read until `stop_at`.

    The TestClient buffers whole responses, so this drives the ASGI app directly on the client's event loop and
    disconnects once the expected event has arrived (or fails after 10 seconds).
    """
    cookie = browser.client.cookies["__Host-parlour_session"]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/admin/events",
        "raw_path": b"/admin/events",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"comments.example"),
            (b"accept", b"text/event-stream"),
            (b"cookie", f"__Host-parlour_session={cookie}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("comments.example", 443),
        "state": {},
    }

    async def run() -> bytes:
        received = bytearray()
        start: dict[str, Any] = {}
        done = anyio.Event()
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            received.extend(message.get("body", b""))
            if b": connected" in received and not posted.is_set():
                posted.set()
            if stop_at in received:
                done.set()

        posted = anyio.Event()

        async def trigger() -> None:
            await posted.wait()
            await anyio.to_thread.run_sync(post_while_open)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(trigger)
                await world.app(scope, receive, send)
        assert start["status"] == 200
        assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
        return bytes(received)

    assert world.client.portal is not None
    result: bytes = world.client.portal.call(run)
    return result


def test_a_newly_held_comment_is_announced_on_the_stream(world: World, hal: Browser) -> None:
    ids: dict[str, int] = {}

    def post_both() -> None:
        ids["courier"] = published(world.client, "Not hal's site.")
        ids["herald"] = held(world.client, "Announced to hal.")

    body = read_events(world, hal, post_both, b'"status":"pending"')
    assert body.startswith(b"retry: ")
    assert f'event: item\ndata: {{"id":{ids["herald"]},"status":"pending"}}'.encode() in body
    assert f'"id":{ids["courier"]}'.encode() not in body  # another site's news stays there


def test_decisions_by_another_moderator_are_announced(world: World, hal: Browser) -> None:
    target = held(world.client, "Decided by una.")
    una = world.signed_in("una@example.org")
    body = read_events(world, hal, lambda: una.act(f"/admin/comments/{target}/approve"), b"event: decided")
    assert re.search(rf'event: decided\ndata: {{"id":{target},"by":\d+,"action":"approve"}}'.encode(), body)


def test_audit_rows_record_who_and_when(world: World, ann: Browser) -> None:
    target = published(world.client)
    ann.act(f"/admin/comments/{target}/approve")
    (row,) = audit(world.db, comment_id=target)
    assert row.staff_user_id is not None and abs((utcnow() - row.created_at).total_seconds()) < 30
