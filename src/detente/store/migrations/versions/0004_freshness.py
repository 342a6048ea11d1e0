"""Freshness: when each peer last showed its log, consistent with the mirror.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freshness",
        sa.Column("party", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("confirmed_at", sa.String(40), nullable=False),
        sa.Column("cosignature", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("freshness")
