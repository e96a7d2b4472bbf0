"""identity: reader sessions and revoked SSO tokens, mail addresses, subscriptions and outbox, author profile

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from parlour.db.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reader_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("site_id", BigId, nullable=False),
        sa.Column("author_id", BigId, nullable=False),
        sa.Column("token_id", sa.String(length=200), nullable=False),
        sa.Column("token_expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["authors.id"], name=op.f("fk_reader_sessions_author_id_authors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_reader_sessions_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_reader_sessions")),
    )
    with op.batch_alter_table("reader_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reader_sessions_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reader_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "revoked_sso_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", BigId, nullable=False),
        sa.Column("token_id", sa.String(length=200), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_revoked_sso_tokens_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revoked_sso_tokens")),
        sa.UniqueConstraint("site_id", "token_id", name="uq_revoked_sso_tokens_site_token"),
    )
    with op.batch_alter_table("revoked_sso_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_sso_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "mail_addresses",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", BigId, nullable=True),
        sa.Column("staff_user_id", BigId, nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirm_sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "frequency",
            sa.Enum("immediate", "daily", name="mail_frequency", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_mail_addresses_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_mail_addresses_staff_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_addresses")),
        sa.UniqueConstraint("site_id", "email", name="uq_mail_addresses_site_email"),
        sa.UniqueConstraint("staff_user_id", name=op.f("uq_mail_addresses_staff_user_id")),
    )

    op.create_table(
        "mail_subscriptions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("address_id", BigId, nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["mail_addresses.id"],
            name=op.f("fk_mail_subscriptions_address_id_mail_addresses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_subscriptions")),
        sa.UniqueConstraint("address_id", "category", name="uq_mail_subscriptions_address_category"),
    )

    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, nullable=False),
        sa.Column("address_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "held",
                "sent",
                "bundled",
                "dropped",
                "failed",
                name="mail_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["mail_addresses.id"],
            name=op.f("fk_mail_outbox_address_id_mail_addresses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_mail_outbox_dedupe_key")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_mail_outbox_address_status", ["address_id", "status"], unique=False)
        batch_op.create_index("ix_mail_outbox_due", ["status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avatar_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("badges", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("role", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("role")
        batch_op.drop_column("badges")
        batch_op.drop_column("avatar_url")

    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_due")
        batch_op.drop_index("ix_mail_outbox_address_status")
    op.drop_table("mail_outbox")
    op.drop_table("mail_subscriptions")
    op.drop_table("mail_addresses")

    with op.batch_alter_table("revoked_sso_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_sso_tokens_expires_at"))
    op.drop_table("revoked_sso_tokens")

    with op.batch_alter_table("reader_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reader_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_reader_sessions_author_id"))
    op.drop_table("reader_sessions")
