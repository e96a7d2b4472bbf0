"""Request and response models for webhook endpoints and their delivery log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WebhookEvent(StrEnum):
    COMMENT_CREATED = "comment.created"
    COMMENT_APPROVED = "comment.approved"
    COMMENT_REJECTED = "comment.rejected"
    COMMENT_FEATURED = "comment.featured"
    AUTHOR_BANNED = "author.banned"
    # Every change readers of a story can see: the purge hook for a CDN in front of the API. Opt-in, as it fires
    # for every comment and reaction.
    STORY_CHANGED = "story.changed"


DEFAULT_EVENTS: list[WebhookEvent] = [event for event in WebhookEvent if event is not WebhookEvent.STORY_CHANGED]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookCreate(Strict):
    url: str = Field(min_length=1, max_length=2048, description="https:// (or http://) URL receiving the POSTs.")
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(DEFAULT_EVENTS), min_length=1, description="Default: all but story.changed."
    )
    description: str = Field("", max_length=200)
    active: bool = True
    allow_private_network: bool = Field(
        False, description="Deliver to loopback, private or link-local addresses; only the admin API key may set it."
    )


class WebhookUpdate(Strict):
    url: str | None = Field(None, min_length=1, max_length=2048)
    events: list[WebhookEvent] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=200)
    active: bool | None = None
    allow_private_network: bool | None = None


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    allow_private_network: bool
    created_at: datetime


class WebhookList(BaseModel):
    webhooks: list[WebhookPublic]


class WebhookCreated(BaseModel):
    webhook: WebhookPublic
    secret: str = Field(description="Shown once: the key of every delivery's HMAC-SHA256 signature.")


class WebhookSecret(BaseModel):
    secret: str = Field(description="The new signing secret, shown once; the old one stops working at once.")


class DeliveryPublic(BaseModel):
    id: int
    webhook_id: int
    event_id: str = Field(description="Stable across retries: receivers drop duplicates by it.")
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    response_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryPublic]
    next_offset: int | None = Field(description="Pass back as offset for the next page; null on the last.")
