"""Close-approach screening: alerts and their events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("a", sa.String(64), nullable=False),
        sa.Column("b", sa.String(64), nullable=False),
        sa.Column("party_a", sa.String(64), nullable=False),
        sa.Column("party_b", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("cleared_at", sa.String(40), nullable=True),
        sa.Column("clear_reason", sa.String(32), nullable=True),
        sa.Column("tcpa_s", sa.Float, nullable=False),
        sa.Column("dcpa_m", sa.Float, nullable=False),
        sa.Column("dalt_m", sa.Float, nullable=True),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("tracks", sa.Text, nullable=False),
        sa.Column("draft_state", sa.String(16), nullable=False),
        sa.Column("draft_ref", sa.String(96), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_track_alerts_state", "track_alerts", ["state"])
    op.create_table(
        "track_alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("tcpa_s", sa.Float, nullable=True),
        sa.Column("dcpa_m", sa.Float, nullable=True),
        sa.Column("dalt_m", sa.Float, nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("tracks", sa.Text, nullable=False),
    )
    op.create_index("ix_track_alert_events_alert_id", "track_alert_events", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_track_alert_events_alert_id", table_name="track_alert_events")
    op.drop_table("track_alert_events")
    op.drop_index("ix_track_alerts_state", table_name="track_alerts")
    op.drop_table("track_alerts")
