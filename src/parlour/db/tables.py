"""The relational schema: every table Parlour stores, as SQLAlchemy 2 ORM classes."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Integer ids autoincrement on SQLite only when declared INTEGER; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# The largest id a row can have (ids are 64-bit integers): larger input is refused before it reaches a driver.
MAX_ID = 2**63 - 1
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class CommentStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"
    REMOVED = "removed"


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    ABUSE = "abuse"
    OFF_TOPIC = "off-topic"
    OTHER = "other"


class AuthorStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # until Author.suspended_until
    BANNED = "banned"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last retry


class MailStatus(enum.StrEnum):
    PENDING = "pending"  # to be sent at next_attempt_at
    HELD = "held"  # waits for the reader's daily digest
    SENT = "sent"
    BUNDLED = "bundled"  # went out inside a digest
    DROPPED = "dropped"  # nothing left to send: unsubscribed meanwhile, or the comment is gone
    FAILED = "failed"  # refused for good, or gave up after the last retry


class MailFrequency(enum.StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    STAFF = "staff"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # Stored as portable VARCHAR + CHECK, by value, so SQLite and PostgreSQL hold the same strings.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    api_key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Story(Base):
    __tablename__ = "stories"
    __table_args__ = (
        UniqueConstraint("site_id", "url", name="uq_stories_site_url"),
        Index("ix_stories_site_publisher_id", "site_id", "publisher_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    publisher_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    section: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None]
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-story overrides of the site's settings; None follows the site.
    moderation_mode: Mapped[str | None] = mapped_column(String(16))
    slow_mode_seconds: Mapped[int | None] = mapped_column(Integer)
    # Set when the surge guard switched the story to pre-moderation.
    surge_at: Mapped[datetime | None]
    # Visible (approved) comments; maintained in the same transaction as every status change.
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every write that changes what readers see; keys the rendered-thread cache.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class Author(Base):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("site_id", "identity_key", name="uq_authors_site_identity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    website: Mapped[str | None] = mapped_column(String(2048))
    # Set for signed-in readers (SSO, staff); None for anonymous authors.
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Who this author is across posts: a keyed hash of the e-mail, the external id, or the reader and name.
    identity_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[AuthorStatus] = mapped_column(_enum(AuthorStatus, "author_status"), default=AuthorStatus.ACTIVE)
    suspended_until: Mapped[datetime | None]
    # Shown to the author when a suspension or ban refuses a comment.
    status_message: Mapped[str] = mapped_column(String(500), default="")
    always_premoderate: Mapped[bool] = mapped_column(Boolean, default=False)
    last_reader_key: Mapped[str | None] = mapped_column(String(64))
    # From the publisher's sign-in token, refreshed at each sign-in; anonymous authors get an identicon.
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    badges: Mapped[list[str]] = mapped_column(JSON, default=list)
    role: Mapped[str | None] = mapped_column(String(32))
    # The reader deleted their account: personal data is gone; the row stays so a ban outlives it.
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        # Thread pages: top-level comments of a story in each sort order.
        Index("ix_comments_story_top_oldest", "story_id", "parent_id", "created_at", "id"),
        Index(
            "ix_comments_story_top_popular",
            "story_id",
            "parent_id",
            "reaction_count",
            "reply_count",
            "created_at",
            "id",
        ),
        # Replies of one parent, oldest first.
        Index("ix_comments_parent_created", "parent_id", "created_at", "id"),
        # Moderation queues of a site, newest or oldest first.
        Index("ix_comments_site_status_created", "site_id", "status", "created_at", "id"),
        # Duplicate and flood checks.
        Index("ix_comments_site_body_hash", "site_id", "body_hash", "created_at"),
        Index("ix_comments_author_created", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    status: Mapped[CommentStatus] = mapped_column(_enum(CommentStatus, "comment_status"))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    markup_version: Mapped[int] = mapped_column(Integer, default=1)
    edit_token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    reaction_count: Mapped[int] = mapped_column(Integer, default=0)
    # Listed direct replies (see comments.threading.is_listed).
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    moderation_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    moderation_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Published but over a flag threshold of the model: the Flagged queue.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # Readers' reports not yet dealt with by a moderator: the Reported queue.
    open_reports: Mapped[int] = mapped_column(Integer, default=0)
    # When a moderator last decided on it; None for published comments nobody has looked at (Unmoderated).
    reviewed_at: Mapped[datetime | None]
    # The reader (keyed IP bucket) who wrote it, for per-reader limits; never shown.
    reader_key: Mapped[str | None] = mapped_column(String(64))
    # Folded text's hash: the duplicate and flood checks compare these.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    # A moderator working on it, so two do not decide the same item.
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    claimed_until: Mapped[datetime | None]
    # When its author deleted it; the site's deleted_text_days decide how long moderators still see the text.
    deleted_at: Mapped[datetime | None]


class Reaction(Base):
    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("comment_id", "reader_key", name="uq_reactions_comment_reader"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    reader_key: Mapped[str] = mapped_column(String(64))
    # The signed-in reader who reacted, for their own data download; None for anonymous readers (and before 0006).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("comment_id", "reader_key", name="uq_reports_comment_reader"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    reader_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[ReportReason] = mapped_column(_enum(ReportReason, "report_reason"))
    message: Mapped[str] = mapped_column(String(1000), default="")
    # The signed-in reader who reported, for their own data download; None for anonymous readers (and before 0006).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]
    # Set when a moderator decides on the reported comment.
    resolved_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A POST retried with the same Idempotency-Key returns the first result and creates nothing."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("site_id", "key", name="uq_idempotency_keys_site_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    # Moderators limited to these site slugs; empty means every site.
    site_slugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class StaffSession(Base):
    """A signed-in staff member; the cookie holds a random token, the table only its hash."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class RateCount(Base):
    """A rate limit shared by every worker through the database, for counts too rare to need Redis (failed
    sign-ins): the key's theoretical arrival time of GCRA, in microseconds of the wall clock."""

    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[int] = mapped_column(BigInteger, index=True)


class ModerationAction(Base):
    """The audit log: one row per action by a moderator or by the system, with the status before and after."""

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_site_created", "site_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # None for the system (the surge guard, the pipeline).
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="SET NULL"), index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    status_before: Mapped[str | None] = mapped_column(String(16))
    status_after: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    # Signs every delivery (HMAC-SHA256); shown once when the endpoint is created.
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # An admin's explicit permission to deliver to loopback, private or link-local addresses.
    allow_private_network: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    # Stable across retries so receivers can drop duplicates.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class ImportedItem(Base):
    """What an import created, by source id: importing again skips it; an interrupted import resumes."""

    __tablename__ = "imported_items"
    __table_args__ = (UniqueConstraint("site_id", "source", "kind", "source_id", name="uq_imported_items_source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # disqus, wordpress, isso
    kind: Mapped[str] = mapped_column(String(16))  # story, author, comment
    source_id: Mapped[str] = mapped_column(String(200))
    target_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class ReaderSession(Base):
    """A signed-in reader, after exchanging the publisher's token; the widget holds the token, the table its hash."""

    __tablename__ = "reader_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    # The publisher token's jti (or its hash): revoked at sign-out, so the same token cannot sign in again.
    token_id: Mapped[str] = mapped_column(String(200))
    token_expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RevokedToken(Base):
    """Publisher tokens signed out before they expired; kept until they would have expired anyway."""

    __tablename__ = "revoked_sso_tokens"
    __table_args__ = (UniqueConstraint("site_id", "token_id", name="uq_revoked_sso_tokens_site_token"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    token_id: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime]


class MailAddress(Base):
    """One e-mail address Parlour may write to: a reader's on a site, or a staff member's for the digest."""

    __tablename__ = "mail_addresses"
    __table_args__ = (UniqueConstraint("site_id", "email", name="uq_mail_addresses_site_email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # A reader's address belongs to a site; a staff member's (site_id None) to the staff user.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    # Double opt-in: nothing but the confirmation request is sent before this is set.
    confirmed_at: Mapped[datetime | None]
    confirm_sent_at: Mapped[datetime | None]
    frequency: Mapped[MailFrequency] = mapped_column(
        _enum(MailFrequency, "mail_frequency"), default=MailFrequency.IMMEDIATE
    )
    created_at: Mapped[datetime]


class MailAddressAuthor(Base):
    """The authors an address belongs to. A confirmed address hears only about their comments: anyone can type an
    address into the comment form, and mail about a stranger's comments must not follow it there."""

    __tablename__ = "mail_address_authors"

    address_id: Mapped[int] = mapped_column(ForeignKey("mail_addresses.id", ondelete="CASCADE"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True, index=True)


class MailSubscription(Base):
    """A choice per address and category (reply, moderation, featured, digest, all); no row means the default."""

    __tablename__ = "mail_subscriptions"
    __table_args__ = (UniqueConstraint("address_id", "category", name="uq_mail_subscriptions_address_category"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("mail_addresses.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class MailMessage(Base):
    """The outbox: one e-mail to send, durable until sent; a background task sends it with retries."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_due", "status", "next_attempt_at"),
        Index("ix_mail_outbox_address_status", "address_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("mail_addresses.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # reply, approved, rejected, featured, confirm, digest…
    category: Mapped[str] = mapped_column(String(32))  # what its unsubscribe link turns off
    # Facts, not text: the message is written when sent, so a comment deleted meanwhile is not quoted.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # One message per cause ("reply:42:7"): an event handled twice queues nothing twice.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[MailStatus] = mapped_column(_enum(MailStatus, "mail_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
