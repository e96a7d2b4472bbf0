"""Request and response models of sign-in and the reader's profile."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from parlour.db.tables import CommentStatus, MailFrequency
from parlour.sites.schemas import SLUG_PATTERN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionStart(Strict):
    site: str = Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)
    token: str = Field(min_length=1, max_length=8192, description="The JWT the publisher signed for its reader.")


class ReaderPublic(BaseModel):
    """The signed-in reader as they see themselves; the e-mail is theirs, shown to nobody else."""

    name: str
    email: str | None
    avatar: str | None
    avatar_seed: str | None
    badges: list[str]
    role: str | None


class SessionCreated(BaseModel):
    session_token: str = Field(description="Send as Authorization: Bearer TOKEN; short-lived.")
    expires_at: datetime
    reader: ReaderPublic


class NotificationSettings(BaseModel):
    available: bool = Field(description="The site sends e-mail (the server has SMTP and the site allows it).")
    email: str | None
    confirmed: bool
    frequency: MailFrequency
    reply: bool
    moderation: bool
    featured: bool


class NotificationUpdate(Strict):
    frequency: MailFrequency | None = None
    reply: bool | None = None
    moderation: bool | None = None
    featured: bool | None = None


class Profile(BaseModel):
    site: str
    reader: ReaderPublic
    notifications: NotificationSettings
    comment_count: int


class MyComment(BaseModel):
    id: int
    story_url: str
    story_title: str | None
    parent_id: int | None
    status: CommentStatus
    excerpt: str = Field(description="The start of the Markdown source, as plain text.")
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime


class MyComments(BaseModel):
    comments: list[MyComment]
    next_cursor: int | None


class Deleted(BaseModel):
    deleted: int = Field(description="Comments deleted; they stay as tombstones where they have replies.")
