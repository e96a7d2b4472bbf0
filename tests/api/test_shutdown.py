"""Stopping is bounded: an SMTP server or a webhook receiver that accepts and never answers does not hold it up."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import DeliveryStatus, MailMessage, MailStatus, WebhookDelivery
from parlour.notifications.outbox import MailPolicy
from parlour.settings import Settings
from parlour.webhooks.retry import DeliveryPolicy
from tests.conftest import SiteInfo, make_settings, post

ADMIN = {"Authorization": "Bearer test-admin-key-0123456789"}
# Uvicorn's graceful 3 s come on top of this in production; systemd's TimeoutStopSec is 10 s.
STOP_BOUND_SECONDS = 3.0


class Silent:
    """A TCP server that accepts connections, reads what comes, and never answers: a hung SMTP relay or receiver."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _peer = self.server.accept()
            except OSError:
                return  # closed
            self.held.append(connection)
            self.accepted.set()

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def smtp_stub() -> Iterator[Silent]:
    stub = Silent()
    yield stub
    stub.close()


@pytest.fixture
def receiver_stub() -> Iterator[Silent]:
    stub = Silent()
    yield stub
    stub.close()


def test_shutdown_is_bounded_while_smtp_and_a_receiver_hang_and_their_work_comes_back(
    settings: Settings, db: Database, site: SiteInfo, smtp_stub: Silent, receiver_stub: Silent
) -> None:
    hanging = make_settings(
        settings.database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_stub.port,
        smtp_tls="none",
        mail_from="comments@courier.example",
        scorer="none",
        smtp_timeout_seconds=15,
    )
    webhook_policy = DeliveryPolicy(timeout=5, poll_seconds=0.05, lease_seconds=60)
    mail_policy = MailPolicy(poll_seconds=0.05, lease_seconds=120, moderation_delay_seconds=0)
    app = create_app(hanging, webhook_policy=webhook_policy, mail_policy=mail_policy)
    client = TestClient(app, base_url="https://comments.example")
    client.__enter__()
    try:
        url = f"http://127.0.0.1:{receiver_stub.port}/hook"
        response = client.post(
            "/api/v1/sites/courier/webhooks", json={"url": url, "allow_private_network": True}, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        post(client, "Mail waits, and so does the receiver.", email="ann.reader@mail.example")  # asks to confirm
        assert smtp_stub.accepted.wait(10) and receiver_stub.accepted.wait(10)
        time.sleep(0.2)  # both sends are now waiting for an answer that never comes
    finally:
        started = time.monotonic()
        client.__exit__(None, None, None)
        took = time.monotonic() - started
    assert took < STOP_BOUND_SECONDS, f"shutdown took {took:.1f} s"

    # Cut short, not lost: each row is still pending under the lease it was claimed with, due again when it ends.
    with db.read() as session:
        mail = session.scalars(select(MailMessage)).one()
        delivery = session.scalars(select(WebhookDelivery)).one()
    now = utcnow()
    assert (mail.status, mail.attempts, mail.sent_at) == (MailStatus.PENDING, 1, None)
    assert now < mail.next_attempt_at <= now + timedelta(seconds=mail_policy.lease_seconds)
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == (DeliveryStatus.PENDING, 1, None)
    assert now < delivery.next_attempt_at <= now + timedelta(seconds=webhook_policy.lease_seconds)
