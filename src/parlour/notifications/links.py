"""Signed links in e-mails: confirm, unsubscribe, manage. Each is bound to one address, its e-mail and a category."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

MAC_CHARS = 32  # 192 bits of the HMAC: unguessable, and short enough for a link


@dataclass(frozen=True)
class LinkClaim:
    """What a link's token says, before its MAC is checked against the address row it names."""

    address_id: int
    category: str
    expires: int  # Unix time; 0 never expires
    mac: str


def sign(*, secret_key: str, purpose: str, address_id: int, email: str, category: str, expires: int = 0) -> str:
    """A token for one purpose, address and category; the e-mail is bound by the MAC but not written in the link."""
    mac = _mac(secret_key, purpose, address_id, email, category, expires)
    return f"{address_id}.{category}.{expires}.{mac}"


def link(*, base_url: str, path: str, token: str) -> str:
    """Always on the configured public base URL, never on a request's Host."""
    return f"{base_url}{path}?{urlencode({'t': token})}"


def parse(token: str) -> LinkClaim | None:
    parts = token.split(".")
    if len(parts) != 4 or len(token) > 200:
        return None
    address_id, category, expires, mac = parts
    if not (address_id.isdigit() and expires.isdigit() and category.replace("-", "").isalpha()):
        return None
    return LinkClaim(int(address_id), category, int(expires), mac)


def verify(*, secret_key: str, purpose: str, claim: LinkClaim, email: str, now: datetime) -> bool:
    """The token was signed by us for this purpose, address, e-mail and category, and has not expired."""
    expected = _mac(secret_key, purpose, claim.address_id, email, claim.category, claim.expires)
    if not hmac.compare_digest(expected.encode(), claim.mac.encode()):
        return False
    return claim.expires == 0 or now.timestamp() <= claim.expires


def _mac(secret_key: str, purpose: str, address_id: int, email: str, category: str, expires: int) -> str:
    # A key of its own, so a link's MAC can never be replayed as any other signature Parlour makes.
    key = hmac.new(secret_key.encode(), b"parlour mail links v1", hashlib.sha256).digest()
    message = f"{purpose}\x00{address_id}\x00{email.lower()}\x00{category}\x00{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:MAC_CHARS]
