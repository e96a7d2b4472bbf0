"""Perspective clients pointed at Parlour: request shapes from Perspective's public documentation, and its errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from parlour.cli import app
from parlour.db.engine import Database
from parlour.db.tables import Comment, Story
from parlour.sites.service import get_site, rotate_api_key
from tests.conftest import SECRET, DatabaseUnderTest, SiteInfo

ANALYZE = "/v1alpha1/comments:analyze"
CATEGORIES = {"TOXICITY", "SEVERE_TOXICITY", "INSULT", "PROFANITY", "IDENTITY_ATTACK", "THREAT"}


def analyze(client: TestClient, body: Any, key: str | None, **kwargs: Any) -> httpx.Response:
    params = {"key": key} if key is not None else {}
    return client.post(ANALYZE, params=params, json=body, **kwargs)


def test_the_documented_request_gets_the_documented_answer(client: TestClient, site: SiteInfo) -> None:
    # The quickstart's request (developers.perspectiveapi.com, "Sample request").
    body = {
        "comment": {"text": "friendly greetings from python"},
        "languages": ["en"],
        "requestedAttributes": {"TOXICITY": {}},
    }
    response = analyze(client, body, site.api_key)
    assert response.status_code == 200, response.text
    answer = response.json()
    summary = answer["attributeScores"]["TOXICITY"]["summaryScore"]
    assert summary["type"] == "PROBABILITY" and 0 <= summary["value"] < 0.5
    assert answer["languages"] == ["en"]
    assert "spanScores" not in answer["attributeScores"]["TOXICITY"]


def test_every_attribute_with_spans_and_thresholds(client: TestClient, site: SiteInfo) -> None:
    text = "Shut up, you stupid idiot. People like you are vermin and should be shot."
    body = {
        "comment": {"text": text, "type": "PLAIN_TEXT"},
        "requestedAttributes": {name: {"scoreType": "PROBABILITY", "scoreThreshold": 0} for name in CATEGORIES},
        "spanAnnotations": True,
        "doNotStore": True,
        "clientToken": "coral-42",
        "sessionId": "ignored-but-accepted",
        "communityId": "courier",
    }
    answer = analyze(client, body, site.api_key).json()
    assert set(answer["attributeScores"]) == CATEGORIES and answer["clientToken"] == "coral-42"
    insult = answer["attributeScores"]["INSULT"]
    assert insult["summaryScore"]["value"] >= 0.5
    words = {text[span["begin"] : span["end"]].lower() for span in insult["spanScores"]}
    assert any("idiot" in word or "stupid" in word for word in words), words
    for span in insult["spanScores"]:
        assert 0 <= span["begin"] < span["end"] <= len(text)
        assert span["score"] == insult["summaryScore"]
    # scoreThreshold leaves out attributes that score under it, as Perspective does.
    body["requestedAttributes"] = {"INSULT": {"scoreThreshold": 0.01}, "SEVERE_TOXICITY": {"scoreThreshold": 1.0}}
    assert set(analyze(client, body, site.api_key).json()["attributeScores"]) == {"INSULT"}


def test_the_key_may_come_as_google_api_key_header(client: TestClient, site: SiteInfo) -> None:
    body = {"comment": {"text": "Thanks for the report."}, "requestedAttributes": {"TOXICITY": {}}}
    response = analyze(client, body, None, headers={"X-Goog-Api-Key": site.api_key})
    assert response.status_code == 200, response.text


def test_null_fields_mean_their_defaults_and_escaped_text_is_measured_decoded(
    client: TestClient, site: SiteInfo
) -> None:
    # Google's JSON mapping reads an explicit null as the default; clients write it for unset optional fields.
    body = {
        "comment": {"text": "Thanks for the report.", "type": None},
        "requestedAttributes": {"TOXICITY": None, "INSULT": {"scoreThreshold": None}},
        "languages": None,
        "spanAnnotations": None,
        "clientToken": None,
    }
    response = analyze(client, body, site.api_key)
    assert response.status_code == 200, response.text
    assert set(response.json()["attributeScores"]) == {"TOXICITY", "INSULT"}
    # 20,000 bytes of text, which json.dumps escapes to 60,000 bytes of body: the limit is on the text.
    long = {"comment": {"text": "é" * 10_000}, "requestedAttributes": {"TOXICITY": {}}}
    escaped = client.post(ANALYZE, params={"key": site.api_key}, content=json.dumps(long).encode())
    assert escaped.status_code == 200, escaped.text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"FLIRTATION": {}}},
            "INVALID_ARGUMENT",
            "Unknown attribute",
        ),
        (
            {"comment": {"text": "Hallo"}, "languages": ["de"], "requestedAttributes": {"TOXICITY": {}}},
            "INVALID_ARGUMENT",
            "does not support request languages: de",
        ),
        ({"comment": {"text": "   "}, "requestedAttributes": {"TOXICITY": {}}}, "INVALID_ARGUMENT", "non-empty"),
        ({"comment": {"text": "x"}, "requestedAttributes": {}}, "INVALID_ARGUMENT", "requested attributes"),
        ({"requestedAttributes": {"TOXICITY": {}}}, "INVALID_ARGUMENT", "comment"),
        (
            {"comment": {"text": "<b>x</b>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}},
            "INVALID_ARGUMENT",
            "type",
        ),
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}},
            "INVALID_ARGUMENT",
            "scoreType",
        ),
        ({"comment": {"text": "x" * 20_481}, "requestedAttributes": {"TOXICITY": {}}}, "INVALID_ARGUMENT", "too long"),
    ],
)
def test_bad_requests_get_googles_error_format(
    client: TestClient, db: Database, site: SiteInfo, body: Any, status: str, needle: str
) -> None:
    response = analyze(client, body, site.api_key)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, status)
    assert needle in error["message"], error["message"]


def test_errors_outside_the_handler_are_in_googles_format_too(client: TestClient, site: SiteInfo) -> None:
    wrong_method = client.get(ANALYZE, params={"key": site.api_key})
    assert wrong_method.status_code == 405
    assert (
        wrong_method.json()["error"]["status"] == "UNIMPLEMENTED" and "POST" in wrong_method.json()["error"]["message"]
    )
    huge = {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "context": {"entries": ["y" * 70_000]}}
    too_large = client.post(ANALYZE, params={"key": site.api_key}, content=json.dumps(huge).encode())
    assert too_large.status_code == 400, too_large.text
    assert too_large.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "payload size exceeds the limit" in too_large.json()["error"]["message"]
    # Elsewhere the same errors stay problem documents.
    assert client.get("/api/v1/comments").headers["content-type"].startswith("application/problem+json")


def test_keys_are_checked_and_nothing_is_stored(client: TestClient, db: Database, site: SiteInfo) -> None:
    body = {"comment": {"text": "You are an idiot."}, "requestedAttributes": {"TOXICITY": {}}}
    missing = analyze(client, body, None)
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"
    for wrong in ("pk_" + "x" * 43, "not-a-key", ""):
        refused = analyze(client, body, wrong)
        assert refused.status_code in (400, 403), wrong
        assert "API key" in refused.json()["error"]["message"]
    broken = client.post(
        ANALYZE, params={"key": site.api_key}, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert analyze(client, body, site.api_key).status_code == 200
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == 0
        assert session.scalar(select(func.count()).select_from(Story)) == 0


def test_the_analyze_only_key_scores_and_can_do_nothing_else(
    client: TestClient, db: Database, site: SiteInfo, database: DatabaseUnderTest
) -> None:
    env = {"PARLOUR_DATABASE_URL": database.url, "PARLOUR_SECRET_KEY": SECRET}
    printed = CliRunner().invoke(app, ["site", "analyze-key", site.slug], env=env)
    assert printed.exit_code == 0, printed.output
    key = printed.stdout.strip().splitlines()[0]
    assert key.startswith("pa_" + site.slug + ".")
    body = {"comment": {"text": "You are an idiot."}, "requestedAttributes": {"INSULT": {}}}
    assert analyze(client, body, key).status_code == 200
    # Nothing but the Perspective endpoint takes it: not the staff API, not as a bearer token.
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.patch(f"/api/v1/sites/{site.slug}", json={"name": "Taken"}, headers=bearer).status_code == 401
    assert client.get(f"/api/v1/sites/{site.slug}", headers=bearer).status_code == 401
    # A key for another site's name, or with its MAC altered, is refused.
    forgeries = (key.replace(site.slug, "herald", 1), key[:-2] + ("AA" if not key.endswith("AA") else "BB"), key + "é")
    for forged in forgeries:
        refused = analyze(client, body, forged)
        assert refused.status_code == 400 and "API key" in refused.json()["error"]["message"], forged
    # Rotating the site's staff key retires the analyze key with it.
    with db.write() as session:
        rotate_api_key(session=session, site=get_site(session=session, slug=site.slug))
    assert analyze(client, body, key).status_code == 400
