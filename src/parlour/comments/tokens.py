"""Edit tokens: 128-bit secrets held by anonymous authors; the server keeps only their hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_edit_token() -> str:
    return secrets.token_urlsafe(16)


def idempotent_edit_token(*, secret_key: str, site_id: int, idempotency_key: str, comment_id: int) -> str:
    """The token of a comment posted with an Idempotency-Key, derived so that a retry can return it again."""
    message = f"edit-token\x00{site_id}\x00{idempotency_key}\x00{comment_id}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_edit_token(token: str) -> bytes:
    # The token carries 128 random bits, so one SHA-256 pass is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).digest()


def edit_token_matches(token: str | None, stored_hash: bytes) -> bool:
    if not token or len(token) > 100:
        return False
    return hmac.compare_digest(hash_edit_token(token), stored_hash)
