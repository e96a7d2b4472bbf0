"""Identicons for readers without a picture: the widget draws one from a seed; no request leaves the page."""

from __future__ import annotations

import hashlib

SEED_CHARS = 12


def avatar_seed(identity_key: str | None) -> str | None:
    """A short hash of the author's identity key, itself keyed by the server secret: the same reader, the same
    picture, and nothing about them (not even the e-mail's hash) can be recovered from it."""
    if not identity_key:
        return None
    return hashlib.sha256(b"avatar\x00" + identity_key.encode()).hexdigest()[:SEED_CHARS]
