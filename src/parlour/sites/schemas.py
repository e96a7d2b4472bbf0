"""Request and response models for sites and stories."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FieldSerializationInfo,
    ValidationInfo,
    field_serializer,
    model_validator,
)

from parlour.identity.keys import check_site_keys
from parlour.scoring.thresholds import CATEGORIES, HOLD

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
MAX_NAME_CHARS = 64  # authors.display_name holds 64: no site may allow more
# Secrets in site settings are masked whenever settings become JSON, unless the dump is for storage.
SECRET_MASK = "********"  # noqa: S105 - what is shown instead of a secret
STORED = {"store_secrets": True}
# Settings read back from the database, written perhaps before a check existed: validated leniently (see below).
FROM_STORAGE = {"from_storage": True}
# The widget's catalog has this question in every language it speaks.
DEFAULT_PROMPT = "What is your opinion?"


class ModerationMode(StrEnum):
    POST = "post"  # publish at once, review afterwards
    PRE = "pre"  # hold every comment until a moderator approves it


class SignIn(StrEnum):
    OPTIONAL = "optional"  # anyone may comment with a name; signed-in readers post as themselves
    REQUIRED = "required"  # only readers signed in through the publisher's SSO may comment


class SsoAlgorithm(StrEnum):
    HS256 = "HS256"  # a shared secret
    RS256 = "RS256"  # an RSA public key
    EDDSA = "EdDSA"  # an Ed25519 public key


def _category_thresholds(value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
    """Thresholds per model category: names in any case ("threat" is THREAT), scores from 0 to 1.

    A typo would otherwise be stored and never match a score, so the site would silently hold nothing. Settings
    stored before this check are read without the entries it refuses, which never had an effect anyway.
    """
    checked: dict[str, float] = {}
    for key, score in value.items():
        name = key.strip().upper()
        problem = (
            f"unknown category {key!r}; the categories are {', '.join(CATEGORIES)}"
            if name not in CATEGORIES
            else f"the threshold of {name} must be between 0 and 1, not {score:g}"
            if not 0.0 <= score <= 1.0
            else None
        )
        if problem is None:
            checked[name] = score
        elif not (info.context or {}).get("from_storage"):
            raise ValueError(problem)
    return checked


Thresholds = Annotated[dict[str, float], AfterValidator(_category_thresholds)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteSettings(Strict):
    """Per-site behaviour. Stored as JSON on the site; every field has a default."""

    moderation_mode: ModerationMode = ModerationMode.POST
    edit_window_seconds: int = Field(900, ge=0, le=7 * 86400)
    max_body_chars: int = Field(5000, ge=1, le=10000)
    max_name_chars: int = Field(MAX_NAME_CHARS, ge=1, le=MAX_NAME_CHARS)
    max_depth: int = Field(8, ge=0, le=32, description="Replies deeper than this attach at this depth.")
    replies_preview: int = Field(3, ge=0, le=20, description="Replies shown under each comment per level.")
    preview_depth: int = Field(3, ge=0, le=8, description="Levels of replies included in a thread page.")
    prompt: str = Field(DEFAULT_PROMPT, min_length=1, max_length=200)
    thresholds: Thresholds = Field(
        default_factory=dict, description="Model score per category at which a comment is held for review."
    )
    reject_thresholds: Thresholds = Field(
        default_factory=dict, description="Model score per category at which a comment is rejected outright."
    )
    flag_thresholds: Thresholds = Field(
        default_factory=lambda: dict(HOLD),
        description="Model score per category at which a published comment goes to the Flagged queue.",
    )
    # Word rules: whole words, case and diacritics folded, common obfuscations caught; `word*` matches prefixes.
    banned_words: list[str] = Field(default_factory=list, max_length=20000, description="Reject comments with these.")
    suspect_words: list[str] = Field(default_factory=list, max_length=20000, description="Hold comments with these.")
    max_links: int | None = Field(2, ge=0, le=100, description="Hold comments with more links; None: no limit.")
    auto_close_days: int | None = Field(None, ge=1, le=3650, description="Close stories N days after publication.")
    slow_mode_seconds: int = Field(0, ge=0, le=86400, description="One comment per author per N seconds per story.")
    premoderate_new_authors: int = Field(0, ge=0, le=100, description="Hold an author's first N comments.")
    # Per minute; 0 turns a limit off.
    rate_per_network: int = Field(10, ge=0, le=10000, description="Comments per minute from one IP (/64 for IPv6).")
    rate_per_author: int = Field(5, ge=0, le=10000, description="Comments per minute by one author.")
    rate_per_story: int = Field(300, ge=0, le=100000, description="Comments per minute on one story.")
    duplicate_window_seconds: int = Field(3600, ge=0, le=7 * 86400, description="Refuse an author's repeated text.")
    flood_repeats: int = Field(3, ge=0, le=1000, description="Hold text posted this often site-wide in 10 minutes.")
    surge_share: float = Field(
        0.5, ge=0, le=1, description="Switch a story to pre-moderation when this share of 10 minutes' comments is held."
    )
    surge_min_comments: int = Field(
        10, ge=1, le=10000, description="Comments in 10 minutes before the surge guard acts."
    )
    # Reader identity: publisher single sign-on (one pinned algorithm and key), e-mail, the reader's deletions.
    sign_in: SignIn = Field(SignIn.OPTIONAL, description="optional: anyone may comment; required: SSO readers only.")
    sso_algorithm: SsoAlgorithm | None = Field(None, description="The only algorithm publisher tokens may use.")
    sso_secret: str | None = Field(None, max_length=512, description="HS256 shared secret; never shown again.")
    sso_public_key: str | None = Field(None, max_length=10000, description="RS256 or EdDSA public key (PEM).")
    sso_key_id: str | None = Field(None, max_length=200, description="When set, tokens must carry this kid.")
    sso_session_seconds: int = Field(3600, ge=300, le=86400, description="Lifetime of a reader's Parlour session.")
    sso_max_token_seconds: int = Field(
        86400, ge=60, le=30 * 86400, description="Longest publisher token accepted (exp minus iat)."
    )
    notify_readers: bool = Field(True, description="E-mail readers about replies and moderation (when SMTP is set).")
    notify_moderators: bool = Field(True, description="Include this site in the moderators' daily digest.")
    deleted_text_days: int = Field(
        0, ge=0, le=365, description="Days moderators still see the text of a comment its author deleted."
    )

    @model_validator(mode="after")
    def _sso_keys_consistent(self) -> SiteSettings:
        algorithm = self.sso_algorithm.value if self.sso_algorithm else None
        check_site_keys(algorithm, self.sso_secret, self.sso_public_key, required=self.sign_in is SignIn.REQUIRED)
        return self

    @field_serializer("sso_secret", when_used="json")
    def _mask_secret(self, value: str | None, info: FieldSerializationInfo) -> str | None:
        if value is None or (info.context or {}).get("store_secrets"):
            return value
        return SECRET_MASK


class SiteSettingsUpdate(Strict):
    moderation_mode: ModerationMode | None = None
    edit_window_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    max_body_chars: int | None = Field(None, ge=1, le=10000)
    max_name_chars: int | None = Field(None, ge=1, le=MAX_NAME_CHARS)
    max_depth: int | None = Field(None, ge=0, le=32)
    replies_preview: int | None = Field(None, ge=0, le=20)
    preview_depth: int | None = Field(None, ge=0, le=8)
    prompt: str | None = Field(None, min_length=1, max_length=200)
    thresholds: Thresholds | None = None
    reject_thresholds: Thresholds | None = None
    flag_thresholds: Thresholds | None = None
    banned_words: list[str] | None = Field(None, max_length=20000)
    suspect_words: list[str] | None = Field(None, max_length=20000)
    max_links: int | None = Field(None, ge=0, le=100)
    auto_close_days: int | None = Field(None, ge=1, le=3650)
    slow_mode_seconds: int | None = Field(None, ge=0, le=86400)
    premoderate_new_authors: int | None = Field(None, ge=0, le=100)
    rate_per_network: int | None = Field(None, ge=0, le=10000)
    rate_per_author: int | None = Field(None, ge=0, le=10000)
    rate_per_story: int | None = Field(None, ge=0, le=100000)
    duplicate_window_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    flood_repeats: int | None = Field(None, ge=0, le=1000)
    surge_share: float | None = Field(None, ge=0, le=1)
    surge_min_comments: int | None = Field(None, ge=1, le=10000)
    sign_in: SignIn | None = None
    sso_algorithm: SsoAlgorithm | None = None
    sso_secret: str | None = Field(None, min_length=32, max_length=512)
    sso_public_key: str | None = Field(None, max_length=10000)
    sso_key_id: str | None = Field(None, max_length=200)
    sso_session_seconds: int | None = Field(None, ge=300, le=86400)
    sso_max_token_seconds: int | None = Field(None, ge=60, le=30 * 86400)
    notify_readers: bool | None = None
    notify_moderators: bool | None = None
    deleted_text_days: int | None = Field(None, ge=0, le=365)


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
    moderation_mode: ModerationMode | None = Field(None, description="Overrides the site's mode for this story.")
    slow_mode_seconds: int | None = Field(None, ge=0, le=86400, description="Overrides the site's slow mode.")
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
    moderation_mode: ModerationMode | None = None
    slow_mode_seconds: int | None = None
    comment_count: int
    created_at: datetime


class StoryList(BaseModel):
    stories: list[StoryPublic]
    next_cursor: str | None


class SiteConfigPublic(BaseModel):
    """What the widget needs to know about a site before the reader types."""

    site: str
    prompt: str | None = Field(
        description="The site's own question above the compose box; null when it kept the default, which the "
        "widget then shows in the reader's language."
    )
    max_body_chars: int
    max_name_chars: int
    edit_window_seconds: int
    max_depth: int
    moderation_mode: ModerationMode
    sso: bool = Field(False, description="Readers can sign in through the publisher (Parlour.login).")
    sign_in_required: bool = Field(False, description="Only signed-in readers may comment.")
    notifications: bool = Field(False, description="E-mail notifications are offered.")
