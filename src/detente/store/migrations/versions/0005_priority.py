"""Priority lanes: FLASH entries ahead of the backlog, large bodies in parts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "priority_lane",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("checkpoint_size", sa.BigInteger, nullable=True),
        sa.Column("cosignature", sa.Text, nullable=True),
        sa.Column("receipted_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "early_entries",
        sa.Column("party", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("leaf", sa.LargeBinary, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False),
        sa.Column("cosignature", sa.Text, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("mirrored", sa.SmallInteger, nullable=False),
    )
    op.create_table(
        "body_parts",
        sa.Column("party", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("start", sa.BigInteger, primary_key=True),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("body_parts")
    op.drop_table("early_entries")
    op.drop_table("priority_lane")
