"""The delivery queue in the database: rows queued with the write that raised the event, leased, then settled."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
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


def enqueue_in(session: Session, events: list[object]) -> int:
    """Queue the deliveries inside the caller's write, which raised the events: they commit, or not, with it.

    One lookup of the site's endpoints for all of a write's events (a new comment raises CommentPosted and
    StoryChanged): most sites have no webhooks, and then that one indexed read is all a comment costs.
    """
    now = utcnow()
    queued = 0
    for site_id, named in _by_site(events).items():
        found = _payloads(session, site_id, named)
        if found is not None:
            endpoints, slug, ready = found
            queued += _add(session, endpoints, slug, ready, now)
    return queued


def enqueue(*, db: Database, events: list[object]) -> int:
    """Queue, after the commit of the write that raised them, the deliveries of events no write recorded.

    A read first, with no write lock: most sites have no webhooks. A crash between that write's commit and this
    one loses the deliveries, which is why writes that can record their events in their own transaction do.
    """
    return sum(_enqueue_for_site(db, site_id, named) for site_id, named in _by_site(events).items())


def _by_site(events: list[object]) -> dict[int, list[tuple[str, object]]]:
    by_site: dict[int, list[tuple[str, object]]] = {}
    for event in events:
        name, site_id = payloads.event_type(event), getattr(event, "site_id", None)
        if name is not None and site_id is not None:
            by_site.setdefault(site_id, []).append((name, event))
    return by_site


Ready = list[tuple[str, dict[str, Any]]]  # (event name, payload data) per event some endpoint wants
Endpoints = list[tuple[int, list[str]]]  # (endpoint id, the events it wants) per active endpoint


def _payloads(session: Session, site_id: int, named: list[tuple[str, object]]) -> tuple[Endpoints, str, Ready] | None:
    """The site's active endpoints, its slug and the wanted events' payload data; None when there is nothing to send."""
    endpoints = _active_endpoints(session, site_id)
    wanted = [(name, event) for name, event in named if _wanting(endpoints, name)]
    if not wanted:
        return None
    slug = session.scalar(select(Site.slug).where(Site.id == site_id))
    ready: Ready = []
    for name, event in wanted:
        data = payloads.event_data(session, event)
        if data is None or slug is None:
            log.info("webhook event %s: %r is gone, nothing queued", name, event)
        else:
            ready.append((name, data))
    return (endpoints, slug, ready) if ready and slug is not None else None


def _add(session: Session, endpoints: Endpoints, slug: str, ready: Ready, now: datetime) -> int:
    queued = 0
    for name, data in ready:
        for endpoint_id in _wanting(endpoints, name):
            session.add(new_delivery(endpoint_id=endpoint_id, event=name, site=slug, data=data, now=now))
            queued += 1
    return queued


def _enqueue_for_site(db: Database, site_id: int, named: list[tuple[str, object]]) -> int:
    with db.read() as session:
        found = _payloads(session, site_id, named)
    if found is None:
        return 0
    _, slug, ready = found
    with db.write() as session:
        endpoints = _active_endpoints(session, site_id)  # again: one may have been turned off meanwhile
        return _add(session, endpoints, slug, ready, utcnow())


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


def _active_endpoints(session: Session, site_id: int) -> Endpoints:
    """Each active endpoint of the site, with the events it wants."""
    return [(endpoint_id, events) for endpoint_id, events in session.execute(_ACTIVE_ENDPOINTS, {"site_id": site_id})]


# Run for every comment posted: built once (see sites/service.py).
_ACTIVE_ENDPOINTS = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
    WebhookEndpoint.site_id == bindparam("site_id"), WebhookEndpoint.active.is_(True)
)


def _wanting(endpoints: Endpoints, event: str) -> list[int]:
    return [endpoint_id for endpoint_id, events in endpoints if event in events]


def _refusal(delivery: WebhookDelivery, endpoint: WebhookEndpoint, policy: DeliveryPolicy) -> str:
    if not endpoint.active:
        return "Not sent: the endpoint is inactive."
    if delivery.attempts > policy.max_attempts:
        # Only reached when workers died while sending it; stop rather than loop forever.
        return f"Gave up after {policy.max_attempts} attempts."
    return ""
