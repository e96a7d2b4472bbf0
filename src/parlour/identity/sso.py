"""Publisher tokens: checked against the one algorithm and key the site pins; every refusal is a 401."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from email_validator import EmailNotValidError, validate_email

from parlour.comments import markup
from parlour.errors import InvalidInput, Unauthorized
from parlour.identity.keys import public_key
from parlour.sites.schemas import SiteSettings
from parlour.sites.urls import normalise_website

# Header parameters a publisher token may carry. jku, x5u, jwk, x5c and the rest would name or embed a key:
# the site pins its own, so a token that brings one is refused rather than ignored.
ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud"]
LEEWAY_SECONDS = 30  # clock skew between the publisher's servers and ours
MAX_TOKEN_CHARS = 8192
MAX_BADGES = 5
MAX_BADGE_CHARS = 32
MAX_ROLE_CHARS = 32
MAX_ID_CHARS = 200


@dataclass(frozen=True)
class PublisherClaims:
    """What a verified token says about the reader."""

    external_id: str
    name: str
    email: str | None
    avatar_url: str | None
    badges: tuple[str, ...]
    role: str | None
    # The token's jti, or its hash when it has none: what signing out revokes.
    token_id: str
    expires_at: datetime


def verify_token(*, token: str, site_slug: str, settings: SiteSettings) -> PublisherClaims:
    """The reader a publisher token names, if it is signed with the site's pinned algorithm and key."""
    algorithm = settings.sso_algorithm.value if settings.sso_algorithm else None
    if algorithm is None:
        raise Unauthorized("This site does not use single sign-on.")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("The sign-in token is too long.")
    _check_header(token, algorithm, settings.sso_key_id)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _verification_key(algorithm, settings),
            algorithms=[algorithm],
            audience=site_slug,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "verify_signature": True},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"The sign-in token was refused: {_reason(exc)}.") from exc
    if claims["exp"] - claims["iat"] > settings.sso_max_token_seconds:
        raise Unauthorized(f"The sign-in token lives longer than {settings.sso_max_token_seconds} seconds.")
    return _reader_claims(claims, token, settings)


def _check_header(token: str, algorithm: str, key_id: str | None) -> None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized("The sign-in token is not a JWT.") from exc
    extra = sorted(set(header) - ALLOWED_HEADER)
    if extra:
        raise Unauthorized(
            f"The sign-in token's header carries {', '.join(extra)}; only alg, typ and kid are accepted."
        )
    if header.get("alg") != algorithm:
        raise Unauthorized(f"This site accepts {algorithm} tokens only.")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise Unauthorized("The sign-in token's typ must be JWT.")
    kid = header.get("kid")
    if kid is not None and kid != key_id:
        raise Unauthorized("The sign-in token names a key (kid) this site does not have.")
    if key_id is not None and kid is None:
        raise Unauthorized("The sign-in token must name the site's key (kid).")


def _verification_key(algorithm: str, settings: SiteSettings) -> Any:
    if algorithm == "HS256":
        assert settings.sso_secret is not None  # SiteSettings checks the key matches the algorithm
        return settings.sso_secret.encode()
    assert settings.sso_public_key is not None
    return public_key(algorithm, settings.sso_public_key)


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "it has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "it is not valid yet"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "its audience (aud) is not this site"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"it lacks the {exc.claim} claim"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "its signature does not match the site's key"
    if isinstance(exc, jwt.exceptions.InvalidSubjectError):
        return "its sub (the reader's id) must be a string"
    return "it is malformed"


def _reader_claims(claims: dict[str, Any], token: str, settings: SiteSettings) -> PublisherClaims:
    external_id = claims["sub"]
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > MAX_ID_CHARS:
        raise Unauthorized(f"The sign-in token's sub must be a user id of 1 to {MAX_ID_CHARS} characters.")
    name = _text(claims.get("name"), settings.max_name_chars)
    if not name:
        raise Unauthorized("The sign-in token lacks the reader's display name (name).")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not 0 < len(jti) <= MAX_ID_CHARS):
        raise Unauthorized("The sign-in token's jti must be a string.")
    token_id = f"jti:{jti}" if jti else "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    badges = claims.get("badges") or []
    if not isinstance(badges, list) or not all(isinstance(b, str) for b in badges):
        raise Unauthorized("The sign-in token's badges must be a list of strings.")
    cleaned = tuple(dict.fromkeys(b for b in (_text(b, MAX_BADGE_CHARS) for b in badges) if b))[:MAX_BADGES]
    return PublisherClaims(
        external_id=external_id,
        name=name,
        email=_email(claims.get("email")),
        avatar_url=_avatar(claims.get("picture")),
        badges=cleaned,
        role=_text(claims.get("role"), MAX_ROLE_CHARS) or None,
        token_id=token_id,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def _text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unauthorized("A text claim of the sign-in token is not a string.")
    return " ".join(markup.clean_text(value).split())[:limit].strip()


def _email(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 320:
        raise Unauthorized("The sign-in token's email is not an e-mail address.")
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Unauthorized("The sign-in token's email is not an e-mail address.") from exc


def _avatar(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise Unauthorized("The sign-in token's picture must be an https URL.")
    try:
        url = normalise_website(value)
    except InvalidInput as exc:
        raise Unauthorized("The sign-in token's picture must be an https URL.") from exc
    if not url.startswith("https://"):
        # An http image on an https article is mixed content the browser blocks or warns about.
        raise Unauthorized("The sign-in token's picture must be an https URL.")
    return url
