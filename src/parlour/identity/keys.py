"""The keys a site pins for its publisher tokens: one algorithm, one key, checked when the site is configured."""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MIN_RSA_BITS = 2048
MIN_SECRET_CHARS = 32


@lru_cache(maxsize=64)
def public_key(algorithm: str, pem: str) -> RSAPublicKey | Ed25519PublicKey:
    """The PEM public key for RS256 or EdDSA, of the type the algorithm needs; ValueError otherwise."""
    try:
        key = load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("sso_public_key is not a PEM public key (-----BEGIN PUBLIC KEY-----…)") from exc
    if algorithm == "RS256":
        if not isinstance(key, RSAPublicKey):
            raise ValueError("RS256 needs an RSA public key")
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA keys need at least {MIN_RSA_BITS} bits")
        return key
    if algorithm == "EdDSA":
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("EdDSA needs an Ed25519 public key")
        return key
    raise ValueError(f"{algorithm} does not take a public key")


def check_site_keys(algorithm: str | None, secret: str | None, pem: str | None, *, required: bool) -> None:
    """A site's SSO configuration is complete and consistent; ValueError names what is missing."""
    if algorithm is None:
        if required:
            raise ValueError("sign_in 'required' needs SSO: set sso_algorithm and its key")
        return
    if algorithm == "HS256":
        if not secret or len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"HS256 needs sso_secret of at least {MIN_SECRET_CHARS} characters")
        if pem:
            raise ValueError("HS256 uses sso_secret only; remove sso_public_key")
        return
    if secret:
        # A secret left beside a public key is how HS/RS confusion starts: one key per site, of one kind.
        raise ValueError(f"{algorithm} uses sso_public_key only; set sso_secret to null")
    if not pem:
        raise ValueError(f"{algorithm} needs sso_public_key (PEM)")
    public_key(algorithm, pem)
