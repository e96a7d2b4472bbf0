"""Webhook secrets and signatures: HMAC-SHA256 over "{timestamp}.{body}", sent as `Parlour-Signature: v1=<hex>`."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix naming the kind of secret, not a secret
SCHEME = "v1"
USER_AGENT = "Parlour-Webhooks/1"
# How old a timestamp receivers should accept; the README's recipe uses the same.
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the whole secret (prefix included)."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def delivery_headers(*, secret: str, event: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Parlour-Event": event,
        "Parlour-Delivery": event_id,
        "Parlour-Timestamp": str(timestamp),
        "Parlour-Signature": f"{SCHEME}={sign(secret, timestamp, body)}",
    }


def verify(
    *, secret: str, body: bytes, timestamp: str, signature: str, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: a fresh timestamp and one matching v1 signature (several may be listed)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, int(timestamp), body)
    candidates = [part.strip() for part in signature.split(",")]
    return any(
        scheme == SCHEME and hmac.compare_digest(value, expected)
        for scheme, _, value in (candidate.partition("=") for candidate in candidates)
    )
