"""Webhook signatures and the retry schedule: pure."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from parlour.events import AuthorBanned, CommentModerated, CommentPosted, SiteChanged, StoryChanged
from parlour.webhooks.payloads import event_type, iso
from parlour.webhooks.retry import DeliveryPolicy, next_attempt, succeeded
from parlour.webhooks.signing import delivery_headers, new_secret, sign, verify

BODY = b'{"type":"comment.created"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40 and new_secret() != secret
    expected = hmac.new(secret.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(secret, 1700000000, BODY) == expected
    headers = delivery_headers(secret=secret, event="comment.created", event_id="e-1", timestamp=1700000000, body=BODY)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "Parlour-Webhooks/1",
        "Parlour-Event": "comment.created",
        "Parlour-Delivery": "e-1",
        "Parlour-Timestamp": "1700000000",
        "Parlour-Signature": f"v1={expected}",
    }


def test_verify_checks_secret_body_and_freshness() -> None:
    secret = new_secret()
    header = f"v1={sign(secret, 1700000000, BODY)}"
    assert verify(secret=secret, body=BODY, timestamp="1700000000", signature=header, now=1700000100)
    assert verify(secret=secret, body=BODY, timestamp="1700000000", signature=f"v1=00, {header}", now=1700000000)
    assert not verify(secret="whsec_other", body=BODY, timestamp="1700000000", signature=header, now=1700000000)
    assert not verify(secret=secret, body=BODY + b" ", timestamp="1700000000", signature=header, now=1700000000)
    assert not verify(secret=secret, body=BODY, timestamp="1700000001", signature=header, now=1700000000)
    assert not verify(secret=secret, body=BODY, timestamp="1700000000", signature=header, now=1700000301)
    assert not verify(secret=secret, body=BODY, timestamp="-1", signature=header, now=1700000000)
    assert not verify(
        secret=secret, body=BODY, timestamp="1700000000", signature=header.replace("v1", "v0"), now=1700000000
    )


def test_backoff_grows_with_jitter_then_gives_up() -> None:
    policy = DeliveryPolicy()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    waits = [next_attempt(policy, attempts=n, now=now, rand=0.5) for n in range(1, 8)]
    assert [w - now for w in waits if w] == [timedelta(seconds=s) for s in (30, 120, 600, 3600, 21600, 21600, 21600)]
    assert next_attempt(policy, attempts=8, now=now, rand=0.5) is None
    low, high = (next_attempt(policy, attempts=1, now=now, rand=r) for r in (0.0, 0.999999))
    assert low == now + timedelta(seconds=27)
    assert high is not None and now + timedelta(seconds=32.9) < high <= now + timedelta(seconds=33)


def test_only_2xx_counts_as_delivered() -> None:
    assert succeeded(200) and succeeded(204) and succeeded(299)
    assert not any(succeeded(s) for s in (None, 101, 301, 304, 400, 410, 500, 503))


def test_domain_events_map_to_webhook_events() -> None:
    def moderated(action: str) -> CommentModerated:
        return CommentModerated(1, 2, 3, action, "approved", None)

    assert event_type(CommentPosted(1, 2, "u", 3, None, "approved")) == "comment.created"
    assert event_type(moderated("approve")) == "comment.approved"
    assert event_type(moderated("reject")) == "comment.rejected"
    assert event_type(moderated("feature")) == "comment.featured"
    assert event_type(moderated("unfeature")) is None
    assert event_type(AuthorBanned(1, 4, None)) == "author.banned"
    assert event_type(StoryChanged(1, 2, "u")) == "story.changed"  # the CDN purge hook
    assert event_type(SiteChanged(1)) is None


def test_timestamps_are_iso_utc_with_z() -> None:
    assert iso(datetime(2026, 11, 24, 9, 30, 5, 123456, tzinfo=UTC)) == "2026-11-24T09:30:05.123Z"
    assert iso(None) is None


def test_the_readme_recipe_verifies_real_signatures() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**Verifying a delivery**") :]
    recipe = section[section.index("```python") + len("```python") : section.index("```\n", section.index("```python"))]
    namespace: dict[str, Any] = {}
    exec(recipe, namespace)  # noqa: S102 - the README's own example, run to keep it true
    secret, timestamp = new_secret(), int(time.time())
    header = delivery_headers(secret=secret, event="ping", event_id="e", timestamp=timestamp, body=BODY)
    readme_verify = namespace["verify"]
    assert readme_verify(secret, BODY, header["Parlour-Timestamp"], header["Parlour-Signature"])
    assert not readme_verify(secret, BODY + b"x", header["Parlour-Timestamp"], header["Parlour-Signature"])
    assert not readme_verify("whsec_wrong", BODY, header["Parlour-Timestamp"], header["Parlour-Signature"])
    stale = str(timestamp - 301)
    assert not readme_verify(secret, BODY, stale, f"v1={sign(secret, int(stale), BODY)}")
