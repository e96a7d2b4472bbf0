"""Request and response models for sites and stories."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class ModerationMode(StrEnum):
    POST = "post"  # publish at once, review afterwards
    PRE = "pre"  # hold every comment until a moderator approves it


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteSettings(Strict):
    """Per-site behaviour. Stored as JSON on the site; every field has a default."""

    moderation_mode: ModerationMode = ModerationMode.POST
    edit_window_seconds: int = Field(900, ge=0, le=7 * 86400)
    max_body_chars: int = Field(5000, ge=1, le=10000)
    max_name_chars: int = Field(64, ge=1, le=64)
    max_depth: int = Field(8, ge=0, le=32, description="Replies deeper than this attach at this depth.")
    replies_preview: int = Field(3, ge=0, le=20, description="Replies shown under each comment per level.")
    preview_depth: int = Field(3, ge=0, le=8, description="Levels of replies included in a thread page.")
    prompt: str = Field("What is your opinion?", min_length=1, max_length=200)
    thresholds: dict[str, float] = Field(default_factory=dict)


class SiteSettingsUpdate(Strict):
    moderation_mode: ModerationMode | None = None
    edit_window_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    max_body_chars: int | None = Field(None, ge=1, le=10000)
    max_name_chars: int | None = Field(None, ge=1, le=64)
    max_depth: int | None = Field(None, ge=0, le=32)
    replies_preview: int | None = Field(None, ge=0, le=20)
    preview_depth: int | None = Field(None, ge=0, le=8)
    prompt: str | None = Field(None, min_length=1, max_length=200)
    thresholds: dict[str, float] | None = None


class SiteCreate(Strict):
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = Field(min_length=1, max_length=50)
    settings: SiteSettings = Field(default_factory=SiteSettings)


class SiteUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(None, min_length=1, max_length=50)
    settings: SiteSettingsUpdate | None = None


class SitePublic(BaseModel):
    slug: str
    name: str
    allowed_origins: list[str]
    settings: SiteSettings
    created_at: datetime


class SiteCreated(BaseModel):
    site: SitePublic
    api_key: str = Field(description="Shown once: keep it; only its hash is stored.")


class StoryCreate(Strict):
    url: str = Field(min_length=1, max_length=2048)
    publisher_id: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=500)
    section: str | None = Field(None, max_length=200)
    author: str | None = Field(None, max_length=200)
    published_at: datetime | None = None
    closed: bool = False


class StoryUpdate(Strict):
    publisher_id: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=500)
    section: str | None = Field(None, max_length=200)
    author: str | None = Field(None, max_length=200)
    published_at: datetime | None = None
    closed: bool | None = None


class StoryPublic(BaseModel):
    id: int
    url: str
    publisher_id: str | None
    title: str | None
    section: str | None
    author: str | None
    published_at: datetime | None
    closed: bool
    comment_count: int
    created_at: datetime


class StoryList(BaseModel):
    stories: list[StoryPublic]
    next_cursor: str | None


class SiteConfigPublic(BaseModel):
    """What the widget needs to know about a site before the reader types."""

    site: str
    prompt: str
    max_body_chars: int
    max_name_chars: int
    edit_window_seconds: int
    max_depth: int
    moderation_mode: ModerationMode
