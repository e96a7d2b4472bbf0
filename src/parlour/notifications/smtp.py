"""Sending one message over SMTP with aiosmtplib, with the TLS the settings ask for; failures are classified."""

from __future__ import annotations

import email.generator
import email.policy
import io
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib

from parlour.settings import Settings


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # the server refused this message for good (5xx): retrying would not help
    error: str = ""


# Folded only past RFC 5322's hard limit: an unstructured header longer than 78 characters with no space to fold
# at (List-Unsubscribe's one-click URL) would otherwise go out as encoded words, which RFC 8058 clients ignore.
_WIRE = email.policy.SMTP.clone(max_line_length=998)


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, headers folded only where they must be."""
    out = io.BytesIO()
    email.generator.BytesGenerator(out, policy=_WIRE).flatten(message)
    return out.getvalue()


def tls_context(settings: Settings) -> ssl.SSLContext:
    # Certificates are always verified; a private relay names its CA in smtp_ca_file instead.
    return ssl.create_default_context(cafile=settings.smtp_ca_file)


async def send(message: EmailMessage, settings: Settings) -> SendResult:
    assert settings.smtp_host is not None
    mode = settings.smtp_tls
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        use_tls=mode == "tls",
        # True, not None: a server that does not offer STARTTLS is an error, never a silent plain-text send.
        start_tls=mode == "starttls",
        tls_context=tls_context(settings) if mode != "none" else None,
        timeout=settings.smtp_timeout_seconds,
    )
    try:
        async with client:
            sender, recipients = parseaddr(str(message["From"]))[1], [parseaddr(str(message["To"]))[1]]
            await client.sendmail(sender, recipients, wire_bytes(message))
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        return SendResult(False, permanent=all(500 <= c < 600 for c in codes), error=f"recipient refused: {codes}")
    except aiosmtplib.SMTPResponseException as exc:
        # A 5xx to the message itself is final; authentication and other server trouble (4xx, 535…) is retried
        # until the operator fixes it, as nothing about the message is wrong.
        final = 550 <= exc.code <= 554 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError)
        return SendResult(False, permanent=final, error=f"SMTP {exc.code}: {exc.message}"[:500])
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return SendResult(False, error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        # A handshake that failed half-way leaves the connection open otherwise (one file descriptor per retry).
        client.close()
    return SendResult(True)
