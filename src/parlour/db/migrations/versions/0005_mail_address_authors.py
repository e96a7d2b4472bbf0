"""mail address authors: a confirmed address hears only about the comments of the authors it was confirmed for

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_address_authors",
        sa.Column("address_id", BigId, nullable=False),
        sa.Column("author_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["mail_addresses.id"],
            name=op.f("fk_mail_address_authors_address_id_mail_addresses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["authors.id"], name=op.f("fk_mail_address_authors_author_id_authors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("address_id", "author_id", name=op.f("pk_mail_address_authors")),
    )
    with op.batch_alter_table("mail_address_authors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_address_authors_author_id"), ["author_id"], unique=False)
    # Addresses confirmed before: they belong to the authors that used them so far, as the mail followed them then.
    op.execute(
        "INSERT INTO mail_address_authors (address_id, author_id) "
        "SELECT mail_addresses.id, authors.id FROM mail_addresses JOIN authors "
        "ON authors.site_id = mail_addresses.site_id AND lower(authors.email) = mail_addresses.email "
        "WHERE mail_addresses.confirmed_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("mail_address_authors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_address_authors_author_id"))
    op.drop_table("mail_address_authors")
