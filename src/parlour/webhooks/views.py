"""Staff API for a site's webhooks, authenticated by the site's API key (or the admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.responses import Response

from parlour.db.tables import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from parlour.sites.views import AuthorizationHeader, bearer
from parlour.state import AppState, State
from parlour.webhooks import service
from parlour.webhooks.schemas import (
    DeliveryList,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookPublic,
    WebhookSecret,
    WebhookUpdate,
)


def list_webhooks(state: State, slug: str, authorization: AuthorizationHeader = None) -> WebhookList:
    caller = _caller(state, slug, authorization)
    with state.db.read() as session:
        return WebhookList(webhooks=[_public(e) for e in service.list_endpoints(session=session, caller=caller)])


def create_webhook(
    state: State, slug: str, data: WebhookCreate, authorization: AuthorizationHeader = None
) -> WebhookCreated:
    """Register an endpoint; the response carries its signing secret, once."""
    caller = _caller(state, slug, authorization)
    endpoint, secret = service.create_endpoint(db=state.db, caller=caller, data=data, resolver=state.webhooks.resolver)
    return WebhookCreated(webhook=_public(endpoint), secret=secret)


def get_webhook(state: State, slug: str, webhook_id: int, authorization: AuthorizationHeader = None) -> WebhookPublic:
    caller = _caller(state, slug, authorization)
    with state.db.read() as session:
        return _public(service.get_endpoint(session=session, caller=caller, webhook_id=webhook_id))


def update_webhook(
    state: State, slug: str, webhook_id: int, data: WebhookUpdate, authorization: AuthorizationHeader = None
) -> WebhookPublic:
    caller = _caller(state, slug, authorization)
    endpoint = service.update_endpoint(
        db=state.db, caller=caller, webhook_id=webhook_id, data=data, resolver=state.webhooks.resolver
    )
    return _public(endpoint)


def delete_webhook(state: State, slug: str, webhook_id: int, authorization: AuthorizationHeader = None) -> Response:
    service.delete_endpoint(db=state.db, caller=_caller(state, slug, authorization), webhook_id=webhook_id)
    return Response(status_code=204)


def rotate_webhook_secret(
    state: State, slug: str, webhook_id: int, authorization: AuthorizationHeader = None
) -> WebhookSecret:
    caller = _caller(state, slug, authorization)
    return WebhookSecret(secret=service.rotate_secret(db=state.db, caller=caller, webhook_id=webhook_id))


def ping_webhook(state: State, slug: str, webhook_id: int, authorization: AuthorizationHeader = None) -> DeliveryPublic:
    """Queue a `ping` delivery; its outcome shows in the delivery log."""
    caller = _caller(state, slug, authorization)
    delivery = service.queue_ping(db=state.db, caller=caller, webhook_id=webhook_id)
    state.webhooks.wake()
    return _delivery(delivery)


def list_deliveries(
    state: State,
    slug: str,
    webhook_id: int,
    authorization: AuthorizationHeader = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> DeliveryList:
    """The endpoint's deliveries, newest first."""
    caller = _caller(state, slug, authorization)
    with state.db.read() as session:
        service.get_endpoint(session=session, caller=caller, webhook_id=webhook_id)
        found = service.recent_deliveries(
            session=session, site_id=caller.site_id, limit=limit + 1, offset=offset, webhook_id=webhook_id
        )
    next_offset = offset + limit if len(found) > limit else None
    return DeliveryList(deliveries=[_delivery(d) for d in found[:limit]], next_offset=next_offset)


def redeliver(
    state: State, slug: str, webhook_id: int, delivery_id: int, authorization: AuthorizationHeader = None
) -> DeliveryPublic:
    """Send a delivery again now (same event id), with a fresh round of retries."""
    caller = _caller(state, slug, authorization)
    delivery = service.redeliver(db=state.db, caller=caller, webhook_id=webhook_id, delivery_id=delivery_id)
    state.webhooks.wake()
    return _delivery(delivery)


def _caller(state: AppState, slug: str, authorization: str | None) -> service.KeyHolder:
    with state.db.read() as session:
        return service.authenticate(
            session=session, slug=slug, api_key=bearer(authorization), admin_key=state.settings.admin_api_key
        )


def _public(endpoint: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic.model_validate(endpoint, from_attributes=True)


def _delivery(delivery: WebhookDelivery) -> DeliveryPublic:
    pending = delivery.status is DeliveryStatus.PENDING
    return DeliveryPublic(
        id=delivery.id,
        webhook_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event=delivery.event,
        status=delivery.status.value,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        response_status=delivery.response_status,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        payload=delivery.payload,
    )
