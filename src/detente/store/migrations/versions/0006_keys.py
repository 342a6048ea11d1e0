"""Keys: find a log's key entries (rotations, revocations) without scanning it.

The key history of a log is a fold over its own ``detente.key_*`` entries
(ADR 0005); the log stays the only truth, and this index makes reading
those few entries cheap on a log of any size.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_party_type", "entries", ["party", "type"])


def downgrade() -> None:
    op.drop_index("ix_entries_party_type", table_name="entries")
