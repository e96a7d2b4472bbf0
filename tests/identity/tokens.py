"""Publisher tokens for tests: minted with PyJWT as a publisher would, or forged by hand as an attacker would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from starlette.testclient import TestClient

HS_SECRET = "publisher-shared-secret-" + "s" * 24
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
OTHER_ED_KEY = ed25519.Ed25519PrivateKey.generate()


def public_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


RSA_PEM = public_pem(RSA_KEY)
ED_PEM = public_pem(ED_KEY)
SITE_KEYS: dict[str, dict[str, Any]] = {
    "HS256": {"sso_algorithm": "HS256", "sso_secret": HS_SECRET},
    "RS256": {"sso_algorithm": "RS256", "sso_public_key": RSA_PEM},
    "EdDSA": {"sso_algorithm": "EdDSA", "sso_public_key": ED_PEM},
}
SIGNING_KEYS: dict[str, Any] = {"HS256": HS_SECRET, "RS256": RSA_KEY, "EdDSA": ED_KEY}


def claims(site: str = "courier", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "user-42",
        "name": "Ada Reader",
        "email": "ada@reader.example",
        "picture": "https://cdn.news.example/avatars/42.png",
        "badges": ["Subscriber"],
        "aud": site,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    values |= overrides
    return {k: v for k, v in values.items() if v is not None}


def mint(algorithm: str = "HS256", *, key: Any = None, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    """A token signed the way the README tells publishers to sign one."""
    signing_key = key if key is not None else SIGNING_KEYS[algorithm]
    return jwt.encode(claims(**overrides), signing_key, algorithm=algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(header: dict[str, Any], payload: dict[str, Any], *, hmac_key: bytes | None = None) -> str:
    """A token built by hand: any header, and an HMAC over it with any key (or no signature at all)."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = b"" if hmac_key is None else hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def exchange(client: TestClient, token: str, *, site: str = "courier", expect: int = 201) -> dict[str, Any]:
    response = client.post("/api/v1/reader/session", json={"site": site, "token": token})
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(session_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token}"}


def sign_in(client: TestClient, algorithm: str = "HS256", *, site: str = "courier", **overrides: Any) -> dict[str, str]:
    """Authorization headers for a fresh reader session."""
    body = exchange(client, mint(algorithm, site=site, **overrides), site=site)
    return bearer(body["session_token"])
