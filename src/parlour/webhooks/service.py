"""Webhook endpoints of a site, their secrets and their delivery log. Plain functions raising domain errors."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from parlour.errors import Conflict, Forbidden, NotFound
from parlour.sites.service import authenticate_site_key, get_site
from parlour.webhooks import payloads
from parlour.webhooks.addresses import Resolver, check_target, parse_target
from parlour.webhooks.queue import new_delivery
from parlour.webhooks.schemas import WebhookCreate, WebhookUpdate
from parlour.webhooks.signing import new_secret

PRIVATE_NETWORK_FORBIDDEN = "Only the admin API key can allow deliveries to private networks."


@dataclass(frozen=True)
class KeyHolder:
    """Who calls: the site's own API key, or the admin key acting on that site."""

    site_id: int
    slug: str
    admin: bool


def authenticate(*, session: Session, slug: str, api_key: str | None, admin_key: str | None) -> KeyHolder:
    """The site a staff API key may act on; the admin key may act on every site."""
    if admin_key and api_key is not None and hmac.compare_digest(admin_key.encode(), api_key.encode()):
        site = get_site(session=session, slug=slug)
        return KeyHolder(site.id, site.slug, admin=True)
    site = authenticate_site_key(session=session, slug=slug, api_key=api_key)
    return KeyHolder(site.id, site.slug, admin=False)


def list_endpoints(*, session: Session, caller: KeyHolder) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.site_id == caller.site_id).order_by(WebhookEndpoint.id)
    return list(session.scalars(query))


def get_endpoint(*, session: Session, caller: KeyHolder, webhook_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, webhook_id)
    # Another site's endpoint is as absent as a missing one.
    if endpoint is None or endpoint.site_id != caller.site_id:
        raise NotFound(f"No webhook {webhook_id} on this site.")
    return endpoint


def create_endpoint(
    *, db: Database, caller: KeyHolder, data: WebhookCreate, resolver: Resolver
) -> tuple[WebhookEndpoint, str]:
    """Check the URL against the SSRF rule (outside any transaction: DNS is slow), then store; returns the secret."""
    if data.allow_private_network and not caller.admin:
        raise Forbidden(PRIVATE_NETWORK_FORBIDDEN, field="allow_private_network")
    target = check_target(data.url, allow_private_network=data.allow_private_network, resolver=resolver)
    secret = new_secret()
    with db.write() as session:
        endpoint = WebhookEndpoint(
            site_id=caller.site_id,
            url=str(target.url),
            secret=secret,
            events=list(dict.fromkeys(e.value for e in data.events)),
            active=data.active,
            allow_private_network=data.allow_private_network,
            description=data.description,
            created_at=utcnow(),
        )
        session.add(endpoint)
        session.flush()
    return endpoint, secret


def update_endpoint(
    *, db: Database, caller: KeyHolder, webhook_id: int, data: WebhookUpdate, resolver: Resolver
) -> WebhookEndpoint:
    with db.read() as session:
        current = get_endpoint(session=session, caller=caller, webhook_id=webhook_id)
    url = current.url if data.url is None else str(parse_target(data.url).url)
    allow = current.allow_private_network
    if url != current.url and not caller.admin:
        # The admin allowed a private network for that URL, not for whatever a site key points it at next.
        allow = False
    if data.allow_private_network is not None:
        if data.allow_private_network and not allow and not caller.admin:
            raise Forbidden(PRIVATE_NETWORK_FORBIDDEN, field="allow_private_network")
        allow = data.allow_private_network
    if url != current.url or allow != current.allow_private_network:
        check_target(url, allow_private_network=allow, resolver=resolver)
    with db.write() as session:
        endpoint = get_endpoint(session=session, caller=caller, webhook_id=webhook_id)
        endpoint.url, endpoint.allow_private_network = url, allow
        if data.events is not None:
            endpoint.events = list(dict.fromkeys(e.value for e in data.events))
        if data.description is not None:
            endpoint.description = data.description
        if data.active is not None:
            endpoint.active = data.active
    return endpoint


def delete_endpoint(*, db: Database, caller: KeyHolder, webhook_id: int) -> None:
    """Delete the endpoint and its delivery log."""
    with db.write() as session:
        endpoint = get_endpoint(session=session, caller=caller, webhook_id=webhook_id)
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
        session.delete(endpoint)


def rotate_secret(*, db: Database, caller: KeyHolder, webhook_id: int) -> str:
    """A new signing secret, used from the next attempt on (retries included); the old one stops at once."""
    secret = new_secret()
    with db.write() as session:
        get_endpoint(session=session, caller=caller, webhook_id=webhook_id).secret = secret
    return secret


def queue_ping(*, db: Database, caller: KeyHolder, webhook_id: int) -> WebhookDelivery:
    """Queue a `ping` delivery to check the receiver and its signature check."""
    with db.write() as session:
        endpoint = _active(get_endpoint(session=session, caller=caller, webhook_id=webhook_id))
        delivery = new_delivery(
            endpoint_id=endpoint.id,
            event=payloads.PING,
            site=caller.slug,
            data=payloads.ping_data(endpoint.id),
            now=utcnow(),
        )
        session.add(delivery)
        session.flush()
    return delivery


def redeliver(*, db: Database, caller: KeyHolder, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again now, with the same event id and payload and a fresh round of retries."""
    with db.write() as session:
        endpoint = _active(get_endpoint(session=session, caller=caller, webhook_id=webhook_id))
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint.id:
            raise NotFound(f"No delivery {delivery_id} for webhook {webhook_id}.")
        delivery.status = DeliveryStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        delivery.delivered_at = None
    return delivery


def recent_deliveries(
    *, session: Session, site_id: int, limit: int, offset: int, webhook_id: int | None = None
) -> list[WebhookDelivery]:
    """The site's deliveries, newest first (of one endpoint when webhook_id is given): the delivery log."""
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookEndpoint.site_id == site_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if webhook_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == webhook_id)
    return list(session.scalars(query))


def _active(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    if not endpoint.active:
        raise Conflict("The webhook is inactive; activate it first.", field="active")
    return endpoint
