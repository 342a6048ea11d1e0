"""Suspension: an index on entries by party and type, for the measure engines.

The writer reads its own ``suspension`` and ``resumption`` entries before
every append, and the obligations fold reads a few types of every log;
without the index each read scans the party's whole log.

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_party_type", "entries", ["party", "type"])


def downgrade() -> None:
    op.drop_index("ix_entries_party_type", table_name="entries")
