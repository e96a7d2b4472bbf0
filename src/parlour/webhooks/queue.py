"""The delivery queue in the database: rows are queued in short write transactions, claimed under a lease, settled."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import DeliveryStatus, Site, WebhookDelivery, WebhookEndpoint
from parlour.infra import leases
from parlour.webhooks import payloads
from parlour.webhooks.retry import DeliveryPolicy, next_attempt, succeeded

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease on, with what sending it needs."""

    delivery_id: int
    event_id: str
    event: str
    payload: dict[str, Any]
    url: str
    secret: str
    allow_private_network: bool


def enqueue(*, db: Database, event: object) -> int:
    """Queue one delivery per active endpoint of the event's site that wants it; returns how many."""
    name = payloads.event_type(event)
    site_id = getattr(event, "site_id", None)
    if name is None or site_id is None:
        return 0
    with db.read() as session:
        # Most sites have no webhooks: one read, and no write lock, is all a comment costs them.
        if not _wanting(session, site_id, name):
            return 0
        data = payloads.event_data(session, event)
        slug = session.scalar(select(Site.slug).where(Site.id == site_id))
    if data is None or slug is None:
        log.info("webhook event %s: %r is gone, nothing queued", name, event)
        return 0
    now = utcnow()
    with db.write() as session:
        endpoint_ids = _wanting(session, site_id, name)
        for endpoint_id in endpoint_ids:
            session.add(new_delivery(endpoint_id=endpoint_id, event=name, site=slug, data=data, now=now))
    return len(endpoint_ids)


def new_delivery(*, endpoint_id: int, event: str, site: str, data: dict[str, Any], now: datetime) -> WebhookDelivery:
    event_id = str(uuid.uuid4())
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        event_id=event_id,
        event=event,
        payload=payloads.envelope(event_id=event_id, event=event, site=site, occurred_at=now, data=data),
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
    )


def claim_due(*, db: Database, policy: DeliveryPolicy, now: datetime) -> list[Claimed]:
    """Take the lease on due deliveries; a delivery another worker claimed first is skipped."""
    pending = DeliveryStatus.PENDING
    candidates = leases.due_ids(db=db, model=WebhookDelivery, pending=pending, now=now, batch=policy.batch)
    if not candidates:
        return []
    lease_until = now + timedelta(seconds=policy.lease_seconds)
    claimed: list[Claimed] = []
    with db.write() as session:
        taken = leases.lease(
            session, model=WebhookDelivery, pending=pending, ids=candidates, now=now, lease_until=lease_until
        )
        for delivery_id in list(taken):
            delivery, endpoint = session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            ).one()
            refusal = _refusal(delivery, endpoint, policy)
            if refusal:
                delivery.status, delivery.last_error = DeliveryStatus.FAILED, refusal
                continue
            claimed.append(
                Claimed(
                    delivery_id=delivery.id,
                    event_id=delivery.event_id,
                    event=delivery.event,
                    payload=delivery.payload,
                    url=endpoint.url,
                    secret=endpoint.secret,
                    allow_private_network=endpoint.allow_private_network,
                )
            )
    return claimed


def record_attempt(
    *,
    db: Database,
    policy: DeliveryPolicy,
    delivery_id: int,
    response_status: int | None,
    error: str,
    now: datetime,
    rand: float,
) -> DeliveryStatus | None:
    """Settle a claimed attempt: delivered on 2xx, else retried later or failed for good."""
    with db.write() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return None  # the endpoint was deleted meanwhile
        delivery.response_status = response_status
        if succeeded(response_status):
            delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, now, ""
            return delivery.status
        delivery.last_error = error[:MAX_ERROR_CHARS]
        retry_at = next_attempt(policy, attempts=delivery.attempts, now=now, rand=rand)
        if retry_at is None:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = retry_at
        return delivery.status


def _wanting(session: Session, site_id: int, event: str) -> list[int]:
    rows = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(
            WebhookEndpoint.site_id == site_id, WebhookEndpoint.active.is_(True)
        )
    )
    return [endpoint_id for endpoint_id, events in rows if event in events]


def _refusal(delivery: WebhookDelivery, endpoint: WebhookEndpoint, policy: DeliveryPolicy) -> str:
    if not endpoint.active:
        return "Not sent: the endpoint is inactive."
    if delivery.attempts > policy.max_attempts:
        # Only reached when workers died while sending it; stop rather than loop forever.
        return f"Gave up after {policy.max_attempts} attempts."
    return ""
