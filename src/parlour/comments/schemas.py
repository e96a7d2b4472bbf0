"""Request and response models of the public comment API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter

from parlour.db.tables import MAX_ID, CommentStatus, ReportReason
from parlour.sites.schemas import SLUG_PATTERN, StoryPublic

MAX_BODY_CHARS = 10000  # the hard ceiling; each site sets its own lower limit
# A reader's e-mail address as the comment API takes it; addresses a restore brings back go through it too.
ReaderEmail = Annotated[EmailStr, Field(max_length=320)]
READER_EMAIL: TypeAdapter[str] = TypeAdapter(ReaderEmail)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Sort(StrEnum):
    TOP = "top"
    NEWEST = "newest"
    OLDEST = "oldest"


class AuthorIn(Strict):
    name: str = Field(min_length=1, max_length=200, description="Display name, shown as plain text.")
    email: ReaderEmail | None = Field(None, description="Never shown; for notifications only.")
    website: str | None = Field(None, max_length=2048, description="http or https only.")


class CommentCreate(Strict):
    site: str = Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)
    url: str = Field(min_length=1, max_length=2048)
    parent_id: int | None = Field(None, ge=1, le=MAX_ID)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS * 2)
    author: AuthorIn | None = Field(None, description="Required unless signed in (Authorization: Bearer).")
    nudge: Literal["revised", "ignored"] | None = Field(
        None,
        description="The widget's nudge was shown for this draft: the writer then revised it, or posted it as it was.",
    )


class DraftCheck(Strict):
    site: str = Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS * 2)


class DraftHighlight(BaseModel):
    start: int
    end: int
    reason: str = Field(description="A model category (e.g. INSULT), or banned / suspect for the site's word lists.")


class DraftChecked(BaseModel):
    decision: Literal["publish", "flag", "hold", "reject"] = Field(
        description="What the content rules would do: publish; publish but flag for review; hold; reject."
    )
    text: str = Field(description="The draft as it would be stored; highlight offsets refer to it.")
    categories: list[str] = Field(description="Model categories over the site's thresholds.")
    highlights: list[DraftHighlight]


class CommentUpdate(Strict):
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS * 2)


class ReportCreate(Strict):
    reason: ReportReason
    message: str = Field("", max_length=1000)


class AuthorPublic(BaseModel):
    name: str
    website: str | None
    avatar: str | None = Field(None, description="The signed-in reader's picture (https), from the publisher.")
    avatar_seed: str | None = Field(None, description="Draws the identicon of a reader without a picture.")
    badges: list[str] = Field(default_factory=list, description="Given by the publisher, e.g. Subscriber.")
    role: str | None = Field(None, description="Given by the publisher, e.g. staff.")


class MoreReplies(BaseModel):
    count: int = Field(description="Listed replies not included here.")
    cursor: str | None = Field(description="Pass to GET /comments/{id}/replies to continue this branch.")


class CommentPublic(BaseModel):
    id: int
    parent_id: int | None
    depth: int
    status: CommentStatus
    author: AuthorPublic | None = Field(description="None on tombstones.")
    html: str = Field(description="Sanitised HTML; empty on tombstones.")
    created_at: datetime
    edited_at: datetime | None
    reaction_count: int
    reply_count: int
    featured: bool
    replies: list[CommentPublic] = Field(default_factory=list)
    more_replies: MoreReplies | None = None


class CommentOwn(CommentPublic):
    """A comment as its author sees it: with the Markdown source and moderation reasons."""

    body: str
    editable_until: datetime
    moderation_reasons: list[str]


class CommentCreated(BaseModel):
    id: int
    status: CommentStatus
    edit_token: str = Field(description="Shown once: proves authorship for edits and deletion.")
    comment: CommentOwn


class ThreadPage(BaseModel):
    story: StoryPublic | None = Field(description="None until the story's first comment.")
    total: int = Field(description="Visible comments on the story.")
    sort: Sort
    comments: list[CommentPublic]
    next_cursor: str | None
    featured: list[CommentPublic] = Field(
        default_factory=list,
        description="First page only: featured top-level comments not in `comments`, to pin above the thread.",
    )


class RepliesPage(BaseModel):
    parent_id: int
    replies: list[CommentPublic]
    next_cursor: str | None


class CommentWithAncestors(BaseModel):
    comment: CommentPublic | CommentOwn
    ancestors: list[CommentPublic] = Field(description="From the top-level comment down to the parent.")
    story: StoryPublic


class ReactionState(BaseModel):
    comment_id: int
    reacted: bool
    reaction_count: int


class ReportCreated(BaseModel):
    comment_id: int
    reason: ReportReason


class StoryCount(BaseModel):
    url: str
    count: int


class Counts(BaseModel):
    counts: dict[str, int] = Field(description="Visible comments per URL, keyed by the URL as given.")
