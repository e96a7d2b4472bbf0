"""GET /metrics: requests per route template, comments by decision, scoring, cache hits, queues, backlog."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.db.engine import Database
from parlour.db.tables import DeliveryStatus, Site, WebhookDelivery, WebhookEndpoint
from parlour.settings import Settings
from tests.conftest import STORY, SiteInfo, create_test_site, post, thread

HELD_ORIGIN = "https://held.example"


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_requests_are_counted_per_route_template_not_per_path(client: TestClient, site: SiteInfo) -> None:
    first = post(client)["id"]
    second = post(client, "Another one.")["id"]
    for comment_id in (first, second, 999999):
        client.get(f"/api/v1/comments/{comment_id}")
    client.get("/wp-login.php")
    client.get("/wp-admin/")
    client.post("/api/v1/comments", content=b"x" * 70000, headers={"content-type": "application/json"})
    samples = scrape(client)
    route = "/api/v1/comments/{comment_id}"
    assert value(samples, "parlour_http_requests_total", method="GET", route=route, status="200") == 2
    assert value(samples, "parlour_http_requests_total", method="GET", route=route, status="404") == 1
    assert value(samples, "parlour_http_request_duration_seconds_count", method="GET", route=route) == 3
    assert value(samples, "parlour_http_requests_total", method="GET", route="unmatched", status="404") == 2
    # Refused by the body limit before routing, and still counted under the route it was meant for.
    assert value(samples, "parlour_http_requests_total", method="POST", route="/api/v1/comments", status="413") == 1
    assert not any(re.search(r"/\d", dict(labels).get("route", "")) for _name, labels in samples)


def test_comments_are_counted_by_decision_with_model_latency(client: TestClient, db: Database) -> None:
    create_test_site(db)
    create_test_site(db, "held", origins=[HELD_ORIGIN], moderation_mode="pre")
    post(client)
    post(client, "A second view.")
    assert post(client, site="held", url=f"{HELD_ORIGIN}/story")["status"] == "pending"
    samples = scrape(client)
    assert value(samples, "parlour_comments_posted_total", decision="published") == 2
    assert value(samples, "parlour_comments_posted_total", decision="held") == 1
    assert value(samples, "parlour_scoring_duration_seconds_count", model="lexical-v1") == 3
    assert value(samples, "parlour_scoring_duration_seconds_sum", model="lexical-v1") > 0  # type: ignore[operator]
    assert value(samples, "parlour_moderation_queue_size", site="held", queue="pending") == 1
    assert value(samples, "parlour_moderation_queue_size", site="courier", queue="pending") == 0


def test_thread_cache_hits_and_misses(client: TestClient, site: SiteInfo) -> None:
    post(client)
    thread(client)  # rendered: a miss
    thread(client)  # served from the cache
    thread(client)
    samples = scrape(client)
    assert value(samples, "parlour_thread_cache_lookups_total", result="miss") == 1
    assert value(samples, "parlour_thread_cache_lookups_total", result="hit") == 2


def test_webhook_backlog_counts_pending_deliveries(client: TestClient, db: Database, site: SiteInfo) -> None:
    now = datetime.now(UTC)
    with db.write() as session:
        site_id = session.query(Site.id).filter(Site.slug == site.slug).scalar()
        endpoint = WebhookEndpoint(site_id=site_id, url="https://hooks.example/in", secret="s", created_at=now)
        session.add(endpoint)
        session.flush()
        for number, status in enumerate([DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.DELIVERED]):
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    event_id=f"00000000-0000-0000-0000-00000000000{number}",
                    event="comment.posted",
                    payload={},
                    status=status,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    samples = scrape(client)
    assert value(samples, "parlour_task_backlog", queue="webhooks") == 2
    assert value(samples, "parlour_database_up") == 1


def test_process_metrics_come_with_a_single_process(client: TestClient) -> None:
    assert value(scrape(client), "process_open_fds") is not None


@pytest.mark.parametrize("token", ["metrics-token-0123456789"])
def test_a_metrics_token_guards_the_endpoint(settings: Settings, token: str) -> None:
    with TestClient(create_app(settings.model_copy(update={"metrics_token": token}))) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Bearer realm="parlour"'
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        assert scrape(client, Authorization=f"Bearer {token}")
        assert scrape(client, Authorization=f"bearer {token}")


def test_metrics_stay_out_of_the_api_description(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_thread_read_is_unaffected_by_scrapes(client: TestClient, site: SiteInfo) -> None:
    post(client)
    before = thread(client, url=STORY)
    scrape(client)
    assert thread(client, url=STORY) == before
