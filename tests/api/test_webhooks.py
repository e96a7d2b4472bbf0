"""Webhooks end to end: a local HTTP server receives the deliveries and checks their signatures."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import queue
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.clock import utcnow
from parlour.db.engine import Database, connect
from parlour.db.tables import Author, Comment, DeliveryStatus, Site, WebhookDelivery, WebhookEndpoint
from parlour.events import AuthorBanned, CommentModerated
from parlour.settings import Settings
from parlour.webhooks import dispatch
from parlour.webhooks import queue as queue_module
from parlour.webhooks.addresses import IPAddress, resolve
from parlour.webhooks.queue import Claimed, claim_due, new_delivery
from parlour.webhooks.retry import DeliveryPolicy
from parlour.webhooks.sender import Attempt, make_client, send
from parlour.webhooks.signing import verify
from tests.api.test_comments_api import assert_problem
from tests.conftest import ADMIN_KEY, STORY, SiteInfo, create_test_site, post, run_async

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FAST = DeliveryPolicy(delays=(0.05,), max_attempts=3, jitter=0, timeout=5, lease_seconds=30, poll_seconds=0.05)
HOOKS = "/api/v1/sites/courier/webhooks"
PUBLIC_URL = "https://93.184.215.14/hook"  # a public address literal: no DNS needed, nothing is ever sent to it
EMAIL = "ann.reader@mail.example"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self.statuses: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.put(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                time.sleep(receiver.delay)
                with contextlib.suppress(ConnectionError):  # the sender gave up waiting
                    self.send_response(status)
                    self.send_header("Content-Length", "11")
                    self.end_headers()
                    self.wfile.write(b"receiver ok" if status < 300 else b"receiver no")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def take(self, count: int, timeout: float = 10) -> list[Received]:
        return [self.received.get(timeout=timeout) for _ in range(count)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.close()


@pytest.fixture
def hooks(settings: Settings) -> Iterator[TestClient]:
    """The app with a delivery schedule of milliseconds."""
    with TestClient(create_app(settings, webhook_policy=FAST), base_url="https://comments.example") as client:
        yield client


def create_hook(client: TestClient, url: str, *, headers: dict[str, str] = ADMIN, **fields: Any) -> dict[str, Any]:
    private = fields.pop("allow_private_network", headers is ADMIN)
    response = client.post(HOOKS, json={"url": url, "allow_private_network": private, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def log(client: TestClient, webhook_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"{HOOKS}/{webhook_id}/deliveries", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def settled(client: TestClient, webhook_id: int, count: int = 1) -> list[dict[str, Any]]:
    """The endpoint's deliveries once `count` of them are no longer pending."""
    deadline = time.monotonic() + 10
    while True:
        deliveries: list[dict[str, Any]] = log(client, webhook_id)["deliveries"]
        done = [d for d in deliveries if d["status"] != "pending"]
        if len(done) >= count or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.02)


def verified(received: Received, secret: str) -> dict[str, Any]:
    """Check a delivery as the README tells receivers to, and return its payload."""
    headers = received.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Parlour-Webhooks/1"
    assert abs(time.time() - int(headers["parlour-timestamp"])) < 60
    assert verify(
        secret=secret,
        body=received.body,
        timestamp=headers["parlour-timestamp"],
        signature=headers["parlour-signature"],
        now=time.time(),
    )
    payload = received.payload
    assert payload["id"] == headers["parlour-delivery"] and payload["type"] == headers["parlour-event"]
    assert "@" not in received.body.decode()  # never an e-mail address
    return payload


def test_comment_created_reaches_a_local_server_signed(hooks: TestClient, site: SiteInfo, receiver: Receiver) -> None:
    created = create_hook(hooks, receiver.url, description="CMS sync")
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["webhook"]["allow_private_network"] is True
    comment = post(hooks, "Thank you for *this* report.", name="Ann", email=EMAIL)

    (received,) = receiver.take(1)
    payload = verified(received, secret)
    assert received.headers["parlour-event"] == "comment.created"
    assert payload["site"] == "courier" and payload["created_at"].endswith("Z")
    data = payload["data"]
    assert data["comment"]["id"] == comment["id"] and data["comment"]["status"] == "approved"
    assert data["comment"]["body"] == "Thank you for *this* report."
    assert data["comment"]["created_at"].endswith("Z")
    assert data["story"]["url"] == STORY and set(data["story"]) == {"id", "url", "title"}
    assert data["author"]["display_name"] == "Ann" and set(data["author"]) == {"id", "display_name"}
    assert EMAIL not in received.body.decode()

    (delivery,) = settled(hooks, created["webhook"]["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1 and delivery["response_status"] == 200
    assert delivery["event_id"] == payload["id"] and delivery["payload"] == payload
    assert delivery["delivered_at"] and delivery["next_attempt_at"] is None


def test_failures_are_retried_with_the_same_event_id(hooks: TestClient, site: SiteInfo, receiver: Receiver) -> None:
    created = create_hook(hooks, receiver.url)
    receiver.statuses = [500, 503]
    post(hooks)
    attempts = receiver.take(3)
    assert len({a.headers["parlour-delivery"] for a in attempts}) == 1
    for attempt in attempts:
        verified(attempt, created["secret"])
    (delivery,) = settled(hooks, created["webhook"]["id"])
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("delivered", 3, 200)
    assert delivery["last_error"] == ""


def test_gives_up_after_max_attempts_and_redelivers_on_request(
    hooks: TestClient, site: SiteInfo, receiver: Receiver
) -> None:
    created = create_hook(hooks, receiver.url)
    webhook_id = created["webhook"]["id"]
    receiver.statuses = [500, 500, 500]
    post(hooks)
    first = receiver.take(3)
    (failed,) = settled(hooks, webhook_id)
    assert (failed["status"], failed["attempts"], failed["response_status"]) == ("failed", 3, 500)
    assert failed["last_error"] == "HTTP 500: receiver no"
    assert receiver.received.empty()

    response = hooks.post(f"{HOOKS}/{webhook_id}/deliveries/{failed['id']}/redeliver", headers=ADMIN)
    assert response.status_code == 202 and response.json()["status"] == "pending"
    (again,) = receiver.take(1)
    assert again.headers["parlour-delivery"] == first[0].headers["parlour-delivery"]
    (delivered,) = settled(hooks, webhook_id)
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 1)
    assert_problem(hooks.post(f"{HOOKS}/{webhook_id}/deliveries/999999/redeliver", headers=ADMIN), 404)


def test_moderation_and_ban_events(hooks: TestClient, db: Database, site: SiteInfo, receiver: Receiver) -> None:
    everything = create_hook(hooks, receiver.url)
    create_hook(hooks, receiver.url, events=["author.banned"], description="bans only")
    comment = post(hooks, name="Ann", email=EMAIL)
    assert verified(receiver.take(1)[0], everything["secret"])["type"] == "comment.created"
    with db.read() as session:
        author_id = session.scalars(select(Author.id)).one()
    site_id, story_id = _ids(db, comment["id"])
    bus = hooks.app.state.parlour.bus  # type: ignore[attr-defined]
    bus.publish(
        [
            CommentModerated(site_id, story_id, comment["id"], "approve", "approved", None, "fine"),
            CommentModerated(site_id, story_id, comment["id"], "unfeature", "approved", None),
            CommentModerated(site_id, story_id, comment["id"], "feature", "approved", None),
            CommentModerated(site_id, story_id, comment["id"], "reject", "rejected", None, "abuse"),
            AuthorBanned(site_id, author_id, None, "spam"),
        ]
    )
    received = receiver.take(5)
    types = sorted(r.headers["parlour-event"] for r in received)
    assert types == ["author.banned", "author.banned", "comment.approved", "comment.featured", "comment.rejected"]
    # unfeature has no webhook; the bans-only endpoint got the ban alone.
    assert len(log(hooks, everything["webhook"]["id"])["deliveries"]) == 5
    by_type = {r.headers["parlour-event"]: r.payload for r in received}
    assert by_type["comment.rejected"]["data"]["moderation"] == {"action": "reject", "reason": "abuse"}
    assert by_type["comment.approved"]["data"]["comment"]["id"] == comment["id"]
    banned = by_type["author.banned"]["data"]
    assert banned["author"] == {"id": author_id, "display_name": "Ann", "status": "active"}
    assert banned["reason"] == "spam"
    for item in received:
        assert "@" not in item.body.decode()


def test_ping_rotate_update_and_paging(hooks: TestClient, site: SiteInfo, receiver: Receiver) -> None:
    created = create_hook(hooks, receiver.url, events=["comment.created", "comment.created"])
    webhook = created["webhook"]
    assert webhook["events"] == ["comment.created"]
    path = f"{HOOKS}/{webhook['id']}"
    assert hooks.get(HOOKS, headers=site.auth).json()["webhooks"] == [webhook]
    assert hooks.get(path, headers=site.auth).json() == webhook
    assert "secret" not in hooks.get(path, headers=site.auth).json()

    rotated = hooks.post(f"{path}/rotate-secret", headers=site.auth)
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret != created["secret"]
    ping = hooks.post(f"{path}/ping", headers=site.auth)
    assert ping.status_code == 202 and ping.json()["event"] == "ping"
    (received,) = receiver.take(1)
    assert verified(received, secret)["data"]["webhook_id"] == webhook["id"]
    assert not verify(
        secret=created["secret"],
        body=received.body,
        timestamp=received.headers["parlour-timestamp"],
        signature=received.headers["parlour-signature"],
        now=time.time(),
    )

    for _ in range(2):
        assert hooks.post(f"{path}/ping", headers=site.auth).status_code == 202
    receiver.take(2)
    settled(hooks, webhook["id"], 3)
    first = log(hooks, webhook["id"], limit=2)
    assert len(first["deliveries"]) == 2 and first["next_offset"] == 2
    rest = log(hooks, webhook["id"], limit=2, offset=2)
    assert len(rest["deliveries"]) == 1 and rest["next_offset"] is None
    ids = [d["id"] for d in first["deliveries"] + rest["deliveries"]]
    assert ids == sorted(ids, reverse=True) and ids[-1] == ping.json()["id"]

    patched = hooks.patch(path, json={"active": False, "description": "paused"}, headers=site.auth)
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert patched.json()["allow_private_network"] is True  # untouched by a site key's unrelated change
    assert_problem(hooks.post(f"{path}/ping", headers=site.auth), 409)
    post(hooks)  # an inactive endpoint gets nothing
    assert len(log(hooks, webhook["id"])["deliveries"]) == 3
    assert_problem(hooks.patch(path, json={"events": []}, headers=site.auth), 422, "events")
    assert_problem(hooks.patch(path, json={"events": ["comment.deleted"]}, headers=site.auth), 422)
    assert_problem(hooks.patch(path, json={"secret": "mine"}, headers=site.auth), 422, "secret")

    assert hooks.delete(path, headers=site.auth).status_code == 204
    assert_problem(hooks.get(path, headers=site.auth), 404)
    assert_problem(hooks.get(f"{path}/deliveries", headers=site.auth), 404)
    assert hooks.get(HOOKS, headers=site.auth).json()["webhooks"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://localhost:8000/hook",
        "http://2130706433/hook",
    ],
)
def test_private_destinations_are_refused_without_the_admin(client: TestClient, site: SiteInfo, url: str) -> None:
    for headers in (site.auth, ADMIN):
        problem = assert_problem(client.post(HOOKS, json={"url": url}, headers=headers), 422, "url")
        assert "loopback, private or link-local" in problem["detail"]
    assert client.get(HOOKS, headers=ADMIN).json()["webhooks"] == []
    allowed = client.post(HOOKS, json={"url": url, "allow_private_network": True}, headers=ADMIN)
    assert allowed.status_code == 201, allowed.text


def test_only_the_admin_key_allows_private_networks(client: TestClient, site: SiteInfo) -> None:
    body = {"url": "http://10.0.0.8/hook", "allow_private_network": True}
    assert_problem(client.post(HOOKS, json=body, headers=site.auth), 403, "allow_private_network")
    public = create_hook(client, PUBLIC_URL, headers=site.auth)["webhook"]
    assert public["allow_private_network"] is False
    public_path = f"{HOOKS}/{public['id']}"
    assert_problem(client.patch(public_path, json={"allow_private_network": True}, headers=site.auth), 403)
    assert_problem(client.patch(public_path, json={"url": "http://10.0.0.9/"}, headers=site.auth), 422, "url")

    private = create_hook(client, "http://10.0.0.8/hook")["webhook"]
    private_path = f"{HOOKS}/{private['id']}"
    # A site key may not point the admin's exception somewhere else: moving it withdraws the permission.
    assert_problem(client.patch(private_path, json={"url": "http://169.254.169.254/"}, headers=site.auth), 422)
    moved = client.patch(private_path, json={"url": PUBLIC_URL}, headers=site.auth).json()
    assert moved["url"] == PUBLIC_URL and moved["allow_private_network"] is False
    admin_moved = client.patch(
        private_path, json={"url": "http://10.0.0.9/", "allow_private_network": True}, headers=ADMIN
    ).json()
    assert admin_moved["allow_private_network"] is True
    # Withdrawing the permission is allowed to anyone, and the URL must then pass on its own.
    assert_problem(client.patch(private_path, json={"allow_private_network": False}, headers=site.auth), 422)

    assert_problem(client.post(HOOKS, json={"url": "ftp://hooks.example/x"}, headers=site.auth), 422, "url")
    assert_problem(client.post(HOOKS, json={"url": PUBLIC_URL, "events": []}, headers=site.auth), 422, "events")
    assert_problem(client.post(HOOKS, json={"url": PUBLIC_URL}), 401)
    assert_problem(client.post(HOOKS, json={"url": PUBLIC_URL}, headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(client.get("/api/v1/sites/missing/webhooks", headers=ADMIN), 404)


def test_one_sites_key_cannot_reach_anothers_webhooks(client: TestClient, db: Database, site: SiteInfo) -> None:
    other = create_test_site(db, slug="gazette", origins=["https://g.example"])
    theirs = client.post(
        "/api/v1/sites/gazette/webhooks", json={"url": PUBLIC_URL, "description": "theirs"}, headers=other.auth
    ).json()["webhook"]
    assert_problem(client.get("/api/v1/sites/gazette/webhooks", headers=site.auth), 401)
    assert_problem(client.post("/api/v1/sites/gazette/webhooks", json={"url": PUBLIC_URL}, headers=site.auth), 401)
    path = f"{HOOKS}/{theirs['id']}"
    assert_problem(client.get(path, headers=site.auth), 404)
    assert_problem(client.patch(path, json={"description": "mine"}, headers=site.auth), 404)
    assert_problem(client.delete(path, headers=site.auth), 404)
    assert_problem(client.post(f"{path}/rotate-secret", headers=site.auth), 404)
    assert_problem(client.post(f"{path}/ping", headers=site.auth), 404)
    assert_problem(client.get(f"{path}/deliveries", headers=site.auth), 404)
    assert client.get(HOOKS, headers=site.auth).json()["webhooks"] == []
    kept = client.get(f"/api/v1/sites/gazette/webhooks/{theirs['id']}", headers=other.auth).json()
    assert kept == theirs


def test_send_time_check_defeats_dns_rebinding(hooks: TestClient, site: SiteInfo) -> None:
    answers = {"hooks.test": ["93.184.215.14"]}
    hooks.app.state.parlour.webhooks.resolver = _fake_resolver(answers)  # type: ignore[attr-defined]
    # Port 80, as a site key must use (the rule refuses before connecting, so nothing listens there).
    created = create_hook(hooks, "http://hooks.test/hook", headers=site.auth)
    answers["hooks.test"] = ["127.0.0.1"]  # the name now points at the machine itself
    post(hooks)
    deliveries = _until(lambda: [d for d in log(hooks, created["webhook"]["id"])["deliveries"] if d["last_error"]])
    assert deliveries[0]["status"] in {"pending", "failed"}
    assert deliveries[0]["last_error"] == "Not sent: hooks.test resolves to 127.0.0.1, a loopback address."


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8:22/",
        "https://93.184.215.14:8443/hook",
        "http://93.184.215.14:6379/",
        "https://[2001:4860:4860::8888]:25/",
    ],
)
def test_webhooks_go_to_web_ports_only(client: TestClient, site: SiteInfo, url: str) -> None:
    for headers in (site.auth, ADMIN):
        problem = assert_problem(client.post(HOOKS, json={"url": url}, headers=headers), 422, "url")
        assert "ports 80 and 443" in problem["detail"]
    assert client.get(HOOKS, headers=ADMIN).json()["webhooks"] == []
    # The admin's exception for an endpoint on a private network covers its port too.
    assert client.post(HOOKS, json={"url": url, "allow_private_network": True}, headers=ADMIN).status_code == 201


def test_web_ports_may_be_written_out(client: TestClient, site: SiteInfo) -> None:
    for url in ("http://93.184.215.14:80/hook", "https://93.184.215.14:443/hook"):
        create_hook(client, url, headers=site.auth)
    public = create_hook(client, PUBLIC_URL, headers=site.auth)["webhook"]
    moved = client.patch(f"{HOOKS}/{public['id']}", json={"url": "https://93.184.215.14:22/"}, headers=site.auth)
    assert_problem(moved, 422, "url")


def test_a_stored_endpoint_on_another_port_is_not_sent_to(hooks: TestClient, db: Database, site: SiteInfo) -> None:
    created = create_hook(hooks, PUBLIC_URL, headers=site.auth)["webhook"]
    with db.write() as session:
        session.execute(update(WebhookEndpoint).values(url="http://93.184.215.14:22/"))  # saved before the rule
    assert hooks.post(f"{HOOKS}/{created['id']}/ping", headers=site.auth).status_code == 202
    deliveries = _until(lambda: [d for d in log(hooks, created["id"])["deliveries"] if d["last_error"]])
    assert deliveries[0]["last_error"] == "Not sent: port 22 is not a web port (80 or 443)."


def test_sends_to_the_checked_address_with_the_host_name(hooks: TestClient, site: SiteInfo, receiver: Receiver) -> None:
    hooks.app.state.parlour.webhooks.resolver = _fake_resolver({"hooks.test": ["127.0.0.1"]})  # type: ignore[attr-defined]
    created = create_hook(hooks, f"http://hooks.test:{receiver.port}/hook")
    post(hooks)
    (received,) = receiver.take(1)
    assert received.headers["host"] == f"hooks.test:{receiver.port}"
    verified(received, created["secret"])


def test_the_sender_outlives_its_own_errors(
    hooks: TestClient, site: SiteInfo, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = ["claim", "resolve"]

    def failing_claim(**kwargs: Any) -> Any:
        if failures and failures[0] == "claim":
            failures.pop(0)
            raise RuntimeError("database away")
        return claim_due(**kwargs)

    def failing_resolver(host: str, port: int) -> list[IPAddress]:
        if failures and failures[0] == "resolve":
            failures.pop(0)
            raise RuntimeError("resolver bug")
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(dispatch, "claim_due", failing_claim)
    hooks.app.state.parlour.webhooks.resolver = failing_resolver  # type: ignore[attr-defined]
    created = create_hook(hooks, f"http://receiver.test:{receiver.port}/hook")
    post(hooks)
    verified(receiver.take(1)[0], created["secret"])
    (delivery,) = settled(hooks, created["webhook"]["id"])
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
    assert failures == []


def test_a_queued_delivery_survives_a_restart(settings: Settings, db: Database, receiver: Receiver) -> None:
    create_test_site(db)
    stopped = create_app(settings, webhook_policy=FAST)
    # Without its lifespan the app never starts the sender: like a worker killed right after the commit.
    client = TestClient(stopped, base_url="https://comments.example")
    secret = create_hook(client, receiver.url)["secret"]
    post(client)
    client.close()
    stopped.state.parlour.db.dispose()
    stopped.state.parlour.webhooks.db.dispose()
    with db.read() as session:
        assert session.scalars(select(WebhookDelivery.status)).all() == [DeliveryStatus.PENDING]
    assert receiver.received.empty()

    with TestClient(create_app(settings, webhook_policy=FAST), base_url="https://comments.example"):
        assert verified(receiver.take(1)[0], secret)["type"] == "comment.created"
        _until(lambda: _statuses(db) == [DeliveryStatus.DELIVERED])


def test_two_workers_never_claim_the_same_delivery(settings: Settings, db: Database, site: SiteInfo) -> None:
    with db.write() as session:
        site_id = session.scalars(select(Site.id)).one()
        endpoint = WebhookEndpoint(site_id=site_id, url=PUBLIC_URL, secret="whsec_x", events=[], created_at=utcnow())
        session.add(endpoint)
        session.flush()
        for _ in range(30):
            session.add(new_delivery(endpoint_id=endpoint.id, event="ping", site="courier", data={}, now=utcnow()))
    policy = DeliveryPolicy(batch=30)
    # Two connections, as two worker processes would have.
    workers = [db, connect(settings.database_url)]
    claimed: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def claim(slot: int) -> None:
        barrier.wait()
        claimed[slot] = [c.delivery_id for c in claim_due(db=workers[slot], policy=policy, now=utcnow())]

    threads = [threading.Thread(target=claim, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    workers[1].dispose()
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 30
    with db.read() as session:
        assert set(session.scalars(select(WebhookDelivery.attempts))) == {1}
    assert claim_due(db=db, policy=policy, now=utcnow()) == []  # leased


def test_each_failure_is_told_in_the_log(receiver: Receiver) -> None:
    quick = DeliveryPolicy(timeout=0.5)

    def attempt(url: str, *, private: bool = True) -> Attempt:
        async def go() -> Attempt:
            claimed = Claimed(1, "e-1", "ping", {"n": 1}, url, "whsec_x", private)
            async with make_client(quick) as client:
                return await send(client, claimed, resolver=resolve, policy=quick, timestamp=int(time.time()))

        return run_async(go)

    receiver.statuses = [302, 404]
    assert attempt(receiver.url) == Attempt(302, "HTTP 302 (redirects are not followed): receiver no")
    assert attempt(receiver.url) == Attempt(404, "HTTP 404: receiver no")
    assert attempt(receiver.url, private=False) == Attempt(None, "Not sent: 127.0.0.1 is a loopback address.")
    receiver.delay = 1.0
    assert attempt(receiver.url) == Attempt(None, "No answer within 0.5 s.")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = attempt(f"http://127.0.0.1:{port}/")
    assert refused.response_status is None and refused.error.startswith("ConnectError")


def _ids(db: Database, comment_id: int) -> tuple[int, int]:
    with db.read() as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        return comment.site_id, comment.story_id


def _statuses(db: Database) -> list[DeliveryStatus]:
    with db.read() as session:
        return list(session.scalars(select(WebhookDelivery.status)))


def _fake_resolver(answers: dict[str, list[str]]) -> Callable[[str, int], list[IPAddress]]:
    def lookup(host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in answers.get(host, [host])]

    return lookup


def _until(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


def test_story_changed_is_the_purge_hook_and_opt_in(hooks: TestClient, site: SiteInfo, receiver: Receiver) -> None:
    default = create_hook(hooks, receiver.url)
    assert "story.changed" not in default["webhook"]["events"]  # it fires for every comment and reaction
    purger = create_hook(hooks, receiver.url, events=["story.changed"], description="CDN purge")
    comment = post(hooks, "Purge me from the CDN.")
    received = {r.headers["parlour-event"]: r for r in receiver.take(2)}
    assert set(received) == {"comment.created", "story.changed"}
    changed = verified(received["story.changed"], purger["secret"])["data"]
    page = hooks.get("/api/v1/threads", params={"site": "courier", "url": STORY})
    assert changed["story"]["url"] == STORY
    assert changed["purge"]["surrogate_key"] == page.headers["surrogate-key"]
    # The paths are the widget's first pages, exactly as a CDN keyed by URL holds them.
    for path in changed["purge"]["paths"]:
        assert hooks.get(path).json()["story"]["id"] == changed["story"]["id"]
    hooks.put(f"/api/v1/comments/{comment['id']}/reaction")  # readers see the count change: purge again
    (again,) = receiver.take(1)
    assert again.headers["parlour-event"] == "story.changed"


def test_a_comment_looks_up_the_sites_endpoints_once(client: TestClient, site: SiteInfo) -> None:
    # A post raises comment.created and story.changed; a site with no webhooks pays one lookup for both.
    lookups: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM webhook_endpoints" in statement:
            lookups.append(statement)

    engines = client.app.state.parlour.db.engines  # type: ignore[attr-defined]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        post(client, "Nobody listens.")
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    assert len(lookups) == 1


def _delivered_events(db: Database) -> list[tuple[str, int]]:
    with db.read() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return [(row.event, row.payload["data"]["comment"]["id"]) for row in rows]


def test_a_comments_delivery_is_stored_with_it_before_anything_after_the_commit(
    settings: Settings, db: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kill -9 right after the comment's commit: nothing that runs after the commit ever runs. Without its lifespan
    # the app never starts the sender either, so what is in the table is what a restart would find.
    create_test_site(db)
    app = create_app(settings, webhook_policy=FAST)
    with contextlib.closing(TestClient(app, base_url="https://comments.example")) as client:
        create_hook(client, receiver.url)
        monkeypatch.setattr(app.state.parlour.bus, "publish", lambda *_args, **_kwargs: None)
        payload = {"site": "courier", "url": STORY, "body": "Stored with its webhook.", "author": {"name": "Ann"}}
        retried = [
            client.post("/api/v1/comments", json=payload, headers={"Idempotency-Key": "post-1"}) for _ in range(2)
        ]
    app.state.parlour.db.dispose()
    app.state.parlour.webhooks.db.dispose()
    assert [r.status_code for r in retried] == [201, 201]
    comment_id = retried[0].json()["id"]
    # The widget's retry is answered from the stored record and queues nothing twice.
    assert retried[1].json()["id"] == comment_id
    assert _delivered_events(db) == [("comment.created", comment_id)]


def test_a_post_whose_delivery_cannot_be_queued_is_not_acknowledged(
    hooks: TestClient, db: Database, site: SiteInfo, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_hook(hooks, receiver.url)

    def disk_full(**_fields: Any) -> WebhookDelivery:
        raise OperationalError("INSERT INTO webhook_deliveries", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(queue_module, "new_delivery", disk_full)
    post(hooks, "Nobody may miss this one.", expect=503)
    with db.read() as session:
        assert session.scalars(select(Comment.id)).all() == []
    assert _delivered_events(db) == []
