"""Publisher single sign-on over HTTP: the token exchange, posting as the reader, and every attack refused."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, ReaderSession, RevokedToken
from tests.api.test_comments_api import assert_problem
from tests.conftest import STORY, create_test_site, post, thread
from tests.identity.tokens import (
    HS_SECRET,
    OTHER_ED_KEY,
    OTHER_RSA_KEY,
    RSA_KEY,
    RSA_PEM,
    SITE_KEYS,
    bearer,
    claims,
    exchange,
    forge,
    mint,
    sign_in,
)


def count(db: Database, table: type) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def post_as(client: TestClient, headers: dict[str, str], body: str = "Signed in.", **fields: Any) -> Any:
    payload = {"site": "courier", "url": STORY, "body": body, **fields}
    return client.post("/api/v1/comments", json=payload, headers=headers)


class TestExchange:
    @pytest.mark.parametrize("algorithm", ["HS256", "RS256", "EdDSA"])
    def test_publisher_token_becomes_a_short_session(self, client: TestClient, db: Database, algorithm: str) -> None:
        create_test_site(db, **SITE_KEYS[algorithm], sso_session_seconds=900)
        started = client.post("/api/v1/reader/session", json={"site": "courier", "token": mint(algorithm)})
        assert started.headers["cache-control"] == "no-store"
        body = started.json()
        assert body["session_token"].startswith("prs_") and len(body["session_token"]) > 40
        assert body["reader"] == {
            "name": "Ada Reader",
            "email": "ada@reader.example",
            "avatar": "https://cdn.news.example/avatars/42.png",
            "avatar_seed": None,
            "badges": ["Subscriber"],
            "role": None,
        }
        lifetime = (datetime.fromisoformat(body["expires_at"]) - utcnow()).total_seconds()
        assert 890 < lifetime <= 900
        profile = client.get("/api/v1/reader", headers=bearer(body["session_token"]))
        assert profile.status_code == 200 and profile.json()["reader"]["name"] == "Ada Reader"
        assert profile.headers["cache-control"] == "no-store"

    def test_session_token_is_not_stored_in_clear(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        token = exchange(client, mint())["session_token"]
        with db.read() as session:
            hashes = list(session.scalars(select(ReaderSession.token_hash)))
        assert len(hashes) == 1 and token not in hashes[0]

    def test_unknown_site_and_site_without_sso(self, client: TestClient, db: Database) -> None:
        create_test_site(db)
        assert_problem(client.post("/api/v1/reader/session", json={"site": "nope", "token": mint()}), 404)
        assert_problem(client.post("/api/v1/reader/session", json={"site": "courier", "token": mint()}), 401)
        assert count(db, Author) == 0

    def test_body_is_checked(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        for payload in [{}, {"site": "courier"}, {"site": "courier", "token": ""}, {"site": "c", "token": "x", "x": 1}]:
            assert_problem(client.post("/api/v1/reader/session", json=payload), 422)
        assert_problem(client.post("/api/v1/reader/session", json={"site": "courier", "token": "x" * 9000}), 422)


class TestPostingAsReader:
    def test_post_edit_delete_without_edit_token(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["RS256"])
        headers = sign_in(client, "RS256")
        # The author the request names is ignored: a signed-in reader posts as themselves.
        created = post_as(client, headers, author={"name": "Someone Else"})
        assert created.status_code == 201, created.text
        author = created.json()["comment"]["author"]
        assert (author["name"], author["avatar"], author["badges"]) == (
            "Ada Reader",
            "https://cdn.news.example/avatars/42.png",
            ["Subscriber"],
        )
        comment_id = created.json()["id"]
        edited = client.patch(f"/api/v1/comments/{comment_id}", json={"body": "Edited, signed in."}, headers=headers)
        assert edited.status_code == 200, edited.text
        assert edited.json()["body"] == "Edited, signed in."
        own = client.get(f"/api/v1/comments/{comment_id}", headers=headers)
        assert own.json()["comment"]["body"] == "Edited, signed in."
        assert (created.headers["cache-control"], own.headers["cache-control"]) == ("no-store", "no-store")
        # Another reader of the same site may not touch it.
        other = sign_in(client, "RS256", sub="user-7", name="Bo")
        assert client.patch(f"/api/v1/comments/{comment_id}", json={"body": "Hijack"}, headers=other).status_code == 403
        assert client.delete(f"/api/v1/comments/{comment_id}", headers=other).status_code == 403
        assert client.delete(f"/api/v1/comments/{comment_id}", headers=headers).status_code == 204
        assert thread(client)["comments"] == []

    def test_reader_is_upserted_and_kept_in_sync(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        create_test_site(db, "gazette", **SITE_KEYS["HS256"])
        first = post_as(client, sign_in(client)).json()["id"]
        headers = sign_in(client, name="Ada Lovelace", picture=None, badges=["Subscriber", "Expert"], role="staff")
        assert count(db, Author) == 1
        shown = thread(client)["comments"][0]["author"]
        assert shown["name"] == "Ada Lovelace" and shown["avatar"] is None and shown["avatar_seed"]
        assert (shown["badges"], shown["role"]) == (["Subscriber", "Expert"], "staff")
        second = post_as(client, headers).json()
        with db.read() as session:
            authors = {session.get(Comment, i).author_id for i in (first, second["id"])}  # type: ignore[union-attr]
        assert len(authors) == 1
        # The same publisher user on another site is another author there.
        sign_in(client, site="gazette")
        assert count(db, Author) == 2

    def test_session_of_one_site_cannot_post_on_another(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        create_test_site(db, "gazette", **SITE_KEYS["HS256"])
        headers = sign_in(client, site="gazette")
        assert_problem(post_as(client, headers), 401)
        assert count(db, Comment) == 0

    def test_sign_in_required_refuses_anonymous_posts(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["EdDSA"], sign_in="required")
        problem = assert_problem(post_as(client, {}, author={"name": "Anon"}), 401)
        assert problem["type"].endswith("login-required")
        assert count(db, Comment) == 0
        config = client.get("/api/v1/config", params={"site": "courier"}).json()
        assert config["sso"] is True and config["sign_in_required"] is True
        assert post_as(client, sign_in(client, "EdDSA")).status_code == 201

    def test_sign_in_required_needs_a_key(self, client: TestClient, db: Database) -> None:
        site = create_test_site(db)
        response = client.patch("/api/v1/sites/courier", json={"settings": {"sign_in": "required"}}, headers=site.auth)
        assert_problem(response, 422)

    def test_stale_or_unknown_session_is_401_not_anonymous(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        headers = sign_in(client)
        with db.write() as session:
            session.execute(update(ReaderSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        for given in [headers, bearer("prs_unknown"), bearer("garbage"), {"Authorization": "Bearer "}]:
            if given["Authorization"].strip() == "Bearer":
                assert post_as(client, given, author={"name": "Anon"}).status_code == 201  # no token: anonymous
                continue
            assert_problem(post_as(client, given, author={"name": "Anon"}), 401)
            assert_problem(client.get("/api/v1/reader", headers=given), 401)
        assert_problem(client.get("/api/v1/reader"), 401)

    def test_anonymous_posting_still_works_with_sso_optional(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        assert post(client, name="Anon")["comment"]["author"]["name"] == "Anon"


class TestSignOut:
    def test_logout_ends_session_and_revokes_the_jti(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        token = mint()
        headers = bearer(exchange(client, token)["session_token"])
        assert client.delete("/api/v1/reader/session", headers=headers).status_code == 204
        assert_problem(client.get("/api/v1/reader", headers=headers), 401)
        assert_problem(post_as(client, headers), 401)
        # Replaying the same publisher token after sign-out is refused; a fresh one (new jti) works.
        sessions_before = count(db, ReaderSession)
        assert_problem(client.post("/api/v1/reader/session", json={"site": "courier", "token": token}), 401)
        assert count(db, ReaderSession) == sessions_before
        assert count(db, RevokedToken) == 1
        exchange(client, mint())

    def test_token_without_jti_is_revoked_by_its_hash(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        token = mint(jti=None)
        headers = bearer(exchange(client, token)["session_token"])
        assert client.delete("/api/v1/reader/session", headers=headers).status_code == 204
        exchange(client, token, expect=401)

    def test_logout_needs_a_session(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        assert_problem(client.delete("/api/v1/reader/session"), 401)
        assert_problem(client.delete("/api/v1/reader/session", headers=bearer("prs_nothing")), 401)


def _attacks() -> list[Any]:
    # Times are read when a case runs, not when pytest collects it: a long suite would age them.

    def now() -> int:
        return int(time.time())

    unsigned = {"alg": "none", "typ": "JWT"}
    attacker_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(OTHER_RSA_KEY.public_key(), as_dict=True)
    cases: dict[str, tuple[str, Any]] = {
        # alg none, in every spelling, with and without a signature
        "alg-none": ("RS256", lambda: forge(unsigned, claims())),
        "alg-None": ("HS256", lambda: forge({"alg": "None"}, claims())),
        "alg-NONE-signed": ("HS256", lambda: forge({"alg": "NONE"}, claims(), hmac_key=HS_SECRET.encode())),
        # HS/RS confusion: an HMAC keyed with the site's public key, which anyone can read
        "hs-with-rsa-public-pem": (
            "RS256",
            lambda: forge({"alg": "HS256", "typ": "JWT"}, claims(), hmac_key=RSA_PEM.encode()),
        ),
        "hs-with-rsa-pem-stripped": (
            "RS256",
            lambda: forge({"alg": "HS256"}, claims(), hmac_key=RSA_PEM.strip().encode()),
        ),
        "rs-token-at-hs-site": ("HS256", lambda: mint("RS256")),
        "eddsa-token-at-rs-site": ("RS256", lambda: mint("EdDSA")),
        "rs-token-at-eddsa-site": ("EdDSA", lambda: mint("RS256")),
        "ps256-at-rs-site": ("RS256", lambda: jwt.encode(claims(), RSA_KEY, algorithm="PS256")),
        # keys the attacker holds
        "hs-wrong-secret": ("HS256", lambda: mint("HS256", key="x" * 40)),
        "rs-wrong-key": ("RS256", lambda: mint("RS256", key=OTHER_RSA_KEY)),
        "eddsa-wrong-key": ("EdDSA", lambda: mint("EdDSA", key=OTHER_ED_KEY)),
        "tampered-payload": ("RS256", lambda: _tamper(mint("RS256"), sub="admin")),
        # time
        "expired": ("HS256", lambda: mint(iat=now() - 3600, exp=now() - 600)),
        "not-yet-valid-nbf": ("HS256", lambda: mint(nbf=now() + 600)),
        "issued-in-the-future": ("HS256", lambda: mint(iat=now() + 600, exp=now() + 900)),
        "lives-too-long": ("HS256", lambda: mint(exp=now() + 90 * 86400)),
        # audience and required claims
        "wrong-aud": ("HS256", lambda: mint(aud="gazette")),
        "aud-list-without-site": ("HS256", lambda: mint(aud=["gazette", "other"])),
        "missing-aud": ("HS256", lambda: jwt.encode({k: v for k, v in claims().items() if k != "aud"}, HS_SECRET)),
        "missing-exp": ("HS256", lambda: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, HS_SECRET)),
        "missing-iat": ("HS256", lambda: jwt.encode({k: v for k, v in claims().items() if k != "iat"}, HS_SECRET)),
        "missing-sub": ("HS256", lambda: jwt.encode({k: v for k, v in claims().items() if k != "sub"}, HS_SECRET)),
        "missing-name": ("HS256", lambda: mint(name=None)),
        "sub-not-a-string": ("HS256", lambda: mint(sub=42)),
        "http-picture": ("HS256", lambda: mint(picture="http://cdn.news.example/a.png")),
        "javascript-picture": ("HS256", lambda: mint(picture="javascript:alert(1)")),
        "bad-email": ("HS256", lambda: mint(email="not an address")),
        "badges-not-a-list": ("HS256", lambda: mint(badges="Admin")),
        # header tricks: keys named or embedded by the token itself
        "unknown-kid": ("RS256", lambda: mint("RS256", headers={"kid": "attacker"})),
        "jku": ("RS256", lambda: mint("RS256", key=OTHER_RSA_KEY, headers={"jku": "https://evil.example/jwks.json"})),
        "x5u": ("RS256", lambda: mint("RS256", key=OTHER_RSA_KEY, headers={"x5u": "https://evil.example/cert.pem"})),
        "embedded-jwk": ("RS256", lambda: mint("RS256", key=OTHER_RSA_KEY, headers={"jwk": attacker_jwk})),
        "x5c": ("RS256", lambda: mint("RS256", headers={"x5c": ["MIIB"]})),
        "crit": ("HS256", lambda: mint(headers={"crit": ["b64"], "b64": False})),
        "typ-not-jwt": ("HS256", lambda: mint(headers={"typ": "JWE"})),
        # garbage
        "empty-parts": ("HS256", lambda: ".."),
        "one-part": ("HS256", lambda: "abc"),
        "not-base64": ("HS256", lambda: "%%%.%%%.%%%"),
        "json-not-object": ("HS256", lambda: forge({"alg": "HS256"}, [1, 2], hmac_key=HS_SECRET.encode())),  # type: ignore[arg-type]
        "session-token-as-publisher-token": ("HS256", lambda: "prs_" + "a" * 43),
    }
    return [pytest.param(algorithm, make, id=name) for name, (algorithm, make) in cases.items()]


def _tamper(token: str, **changes: Any) -> str:
    header, _payload, signature = token.split(".")
    body = claims() | changes
    forged = forge({"alg": "RS256"}, body).split(".")[1]
    return f"{header}.{forged}.{signature}"


class TestAttacks:
    @pytest.mark.parametrize(("algorithm", "make"), _attacks())
    def test_refused_with_401_and_nothing_created(
        self, client: TestClient, db: Database, algorithm: str, make: Any
    ) -> None:
        create_test_site(db, **SITE_KEYS[algorithm])
        create_test_site(db, "gazette", **SITE_KEYS[algorithm])
        response = client.post("/api/v1/reader/session", json={"site": "courier", "token": make()})
        problem = assert_problem(response, 401)
        assert "session_token" not in problem
        assert (count(db, Author), count(db, ReaderSession)) == (0, 0)

    def test_a_numeric_sub_is_named_as_the_problem(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        response = client.post("/api/v1/reader/session", json={"site": "courier", "token": mint(sub=42)})
        problem = assert_problem(response, 401)
        assert "sub (the reader's id) must be a string" in problem["detail"], problem

    def test_site_pinning_a_kid_requires_it(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["RS256"], sso_key_id="2026-11")
        exchange(client, mint("RS256"), expect=401)
        exchange(client, mint("RS256", headers={"kid": "2025-01"}), expect=401)
        exchange(client, mint("RS256", headers={"kid": "2026-11"}))

    def test_clock_skew_within_leeway_is_accepted(self, client: TestClient, db: Database) -> None:
        create_test_site(db, **SITE_KEYS["HS256"])
        now = int(time.time())
        exchange(client, mint(iat=now + 10, exp=now + 300))
        exchange(client, mint(iat=now - 300, exp=now - 10))
