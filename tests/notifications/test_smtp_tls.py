"""SMTP transport security against a real aiosmtpd: STARTTLS and TLS with a private CA, never a silent downgrade."""

from __future__ import annotations

import datetime
import gc
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from parlour.notifications.cli import sample_message
from parlour.notifications.smtp import send
from tests.conftest import make_settings, run_async
from tests.notifications.conftest import SENDER, Mailbox, SmtpServer

# aiosmtpd's controller leaves the socket of its start-up probe of a TLS server to the garbage collector (its
# thread, not Parlour's client, which closes its connections): that ResourceWarning is collected and ignored.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as a private relay would have."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def relay(certificate: tuple[Path, Path], mailbox: Mailbox) -> Iterator[SmtpServer]:
    """A relay that offers STARTTLS and refuses mail before it."""
    server = SmtpServer(mailbox)
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=server.port,
        tls_context=_server_context(certificate),
        require_starttls=True,
    )
    controller.start()
    yield server
    controller.stop()
    gc.collect()


def deliver(port: int, **overrides: Any) -> Any:
    settings = make_settings(
        "sqlite://", smtp_host="127.0.0.1", smtp_port=port, mail_from=SENDER, smtp_timeout_seconds=5, **overrides
    )
    return run_async(lambda: send(sample_message(settings, "ops@courier.example"), settings))


def test_starttls_with_the_private_ca(relay: SmtpServer, mailbox: Mailbox, certificate: tuple[Path, Path]) -> None:
    result = deliver(relay.port, smtp_tls="starttls", smtp_ca_file=str(certificate[0]))
    assert result.ok, result.error
    assert [m["Subject"] for m in mailbox.messages] == ["Parlour test e-mail"]


def test_unknown_certificate_is_refused_and_retried(relay: SmtpServer, mailbox: Mailbox) -> None:
    result = deliver(relay.port, smtp_tls="starttls")
    assert not result.ok and not result.permanent  # the operator fixes the CA; the message waits
    assert "certificate" in result.error.lower()
    assert mailbox.messages == []


def test_starttls_missing_is_an_error_not_a_plain_send(smtp: SmtpServer, mailbox: Mailbox) -> None:
    result = deliver(smtp.port, smtp_tls="starttls")
    assert not result.ok and not result.permanent
    assert mailbox.messages == []


def test_implicit_tls(certificate: tuple[Path, Path], mailbox: Mailbox) -> None:
    server = SmtpServer(mailbox)
    controller = Controller(mailbox, hostname="127.0.0.1", port=server.port, ssl_context=_server_context(certificate))
    controller.start()
    try:
        result = deliver(server.port, smtp_tls="tls", smtp_ca_file=str(certificate[0]))
    finally:
        controller.stop()
        gc.collect()  # aiosmtpd's start-up probe of a TLS server leaves its socket behind: collected here
    assert result.ok, result.error
    assert len(mailbox.messages) == 1
