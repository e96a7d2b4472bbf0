"""A real SMTP server (aiosmtpd) for each test, and an app whose mail worker sends to it quickly."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.notifications.outbox import MailPolicy
from parlour.settings import Settings
from tests.conftest import DatabaseUnderTest, make_settings

# Retries within a second, no moderation grace: tests see the outbox work in real time.
FAST = MailPolicy(
    delays=(0.3,), max_attempts=50, jitter=0.0, lease_seconds=5.0, poll_seconds=0.1, moderation_delay_seconds=0.0
)
SENDER = "comments@courier.example"
T = TypeVar("T")


@dataclass
class Mailbox:
    """What the SMTP server received; `refuse` makes it answer 451 (try later) to that many messages."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # as they came over the wire
    recipients: list[list[str]] = field(default_factory=list)
    refuse: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.raw.append(envelope.original_content)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def wait(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """Block until `count` messages arrived (the app's background worker sends them)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} e-mails, got {len(self.messages)}")
            time.sleep(0.05)
        return self.messages[:count]

    def stays(self, count: int, seconds: float = 1.0) -> None:
        """Nothing more arrives for a while."""
        time.sleep(seconds)
        assert len(self.messages) == count, [m["Subject"] for m in self.messages]


class SmtpServer:
    """aiosmtpd on a fixed port that can go down and come back, like a real relay."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp(mailbox: Mailbox) -> Iterator[SmtpServer]:
    server = SmtpServer(mailbox)
    server.start()
    yield server
    server.stop()


def mail_settings(database: DatabaseUnderTest, smtp: SmtpServer, **overrides: Any) -> Settings:
    return make_settings(
        database.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        mail_from=SENDER,
        # What the texts score is not under test here; a held comment would hide the e-mail under test.
        scorer="none",
        **overrides,
    )


@pytest.fixture
def settings(database: DatabaseUnderTest, smtp: SmtpServer) -> Settings:
    return mail_settings(database, smtp)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # The request's host differs from public_base_url: links in e-mails must still use the latter.
    with TestClient(create_app(settings, mail_policy=FAST), base_url="https://attacker.example") as test_client:
        yield test_client


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)
