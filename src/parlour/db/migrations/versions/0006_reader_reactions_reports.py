"""reactions and reports by signed-in readers name their author, so the reader's data download can hold them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Rows from before stay without an author: they were stored by network only, which people share.
    for name in ("reactions", "reports"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("author_id", BigId, nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{name}_author_id"), ["author_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{name}_author_id_authors"), "authors", ["author_id"], ["id"], ondelete="SET NULL"
            )


def downgrade() -> None:
    for name in ("reports", "reactions"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{name}_author_id_authors"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{name}_author_id"))
            batch_op.drop_column("author_id")
